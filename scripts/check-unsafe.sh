#!/usr/bin/env bash
# The unsafe audit, as a check: every `unsafe` block, fn and impl in the project's crates has a
# `// SAFETY:` comment on it or in the four lines above, and unsafe code is allowed only in the
# modules listed here (each crate denies it by default).
set -euo pipefail
cd "$(dirname "$0")/.."
allowed="control/src/lpm/poptrie/lookup.rs dataplane/src/conntrack.rs dataplane/src/io/memory.rs dataplane/src/io/netns.rs dataplane/src/io/packet.rs dataplane/src/io/rxring.rs dataplane/src/io/uring.rs dataplane/tests/no_alloc.rs"
bad=0
files=$(grep -rlE '\bunsafe\b' --include='*.rs' control/src dataplane/src dataplane/tests daemon/src src tests || true)
for f in $files; do
  missing=$(awk '
    { line[NR] = $0 }
    /^[[:space:]]*\/\// { next }
    /unsafe[[:space:]]*\{|unsafe[[:space:]]+(impl|fn)/ {
      ok = ($0 ~ /SAFETY/)
      for (i = NR - 4; i < NR; i++) if (i > 0 && line[i] ~ /SAFETY/) ok = 1
      if (!ok) print FILENAME ":" NR ": " $0
    }' "$f")
  [ -z "$missing" ] || { echo "no SAFETY comment:"; echo "$missing"; bad=1; }
  if grep -qE 'unsafe[[:space:]]*\{|unsafe[[:space:]]+(impl|fn)' "$f" && ! grep -qw "$f" <<<"$allowed"; then
    echo "$f: unsafe code outside the allowed modules ($allowed)"; bad=1
  fi
done
n=$(cat $files /dev/null | grep -cE 'unsafe[[:space:]]*\{|unsafe[[:space:]]+(impl|fn)' || true)
[ $bad = 0 ] && echo "check-unsafe: $n unsafe sites, each with its SAFETY comment, in the allowed modules"
exit $bad
