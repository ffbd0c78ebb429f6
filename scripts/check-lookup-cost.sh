#!/usr/bin/env bash
# Instruction counts per LPM lookup (callgrind), against the committed baseline: fails when a
# lookup path costs more than 10 % more instructions than benches/lookup_cost.baseline.
#
#   scripts/check-lookup-cost.sh            # check
#   scripts/check-lookup-cost.sh --update   # rewrite the baseline with today's counts
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/cargo.sh
need_cargo
command -v valgrind >/dev/null || { echo "check-lookup-cost: valgrind is not installed (scripts/setup.sh --test installs it)" >&2; exit 1; }
cargo build --release --bench lookup_cost -q
bin=$(ls -t "${CARGO_TARGET_DIR:-target}"/release/deps/lookup_cost-* | grep -v '\.d$' | head -n1)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
declare -A now
for f in measure_v4_single measure_v4_batch measure_v6_single; do
  valgrind --tool=callgrind --callgrind-out-file="$out" --collect-atstart=no --toggle-collect="*$f*" "$bin" >/dev/null 2>&1
  total=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out")
  now[$f]=$(python3 -c "print(round($total / 100000, 2))")
done
base=benches/lookup_cost.baseline
if [ "${1:-}" = "--update" ]; then
  { echo "# instructions per lookup (callgrind Ir), scripts/check-lookup-cost.sh --update"
    for f in measure_v4_single measure_v4_batch measure_v6_single; do echo "$f ${now[$f]}"; done; } >"$base"
  cat "$base"
  exit 0
fi
fail=0
while read -r name value; do
  case "$name" in ''|\#*) continue ;; esac
  cur=${now[$name]:-}
  verdict=$(python3 -c "print('ok' if $cur <= $value * 1.10 else 'FAIL')")
  printf '%-20s baseline %8s  now %8s  %s\n' "$name" "$value" "$cur" "$verdict"
  [ "$verdict" = ok ] || fail=1
done <"$base"
exit $fail
