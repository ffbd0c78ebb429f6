#!/usr/bin/env bash
# The soak (tests/soak.rs): mixed traffic on all four paths with an apply every three seconds
# to each of two vpceds, for SECONDS (default 600), then the verdict — no panic, nothing lost
# to applies, memory flat — and one line of figures (RELIABILITY.md keeps them). Run as root;
# everything happens in network namespaces the test makes and removes.
#
#   sudo scripts/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/cargo.sh
need_cargo
[ "$(id -u)" = 0 ] || { echo "soak.sh: run as root (network namespaces, TUN devices)" >&2; exit 2; }
secs=${1:-600}
case "$secs" in ''|*[!0-9]*) echo "soak.sh: SECONDS must be a number" >&2; exit 2 ;; esac
SOAK_SECONDS=$secs cargo test --release --test soak -- --ignored --nocapture 2>&1 \
  | grep -E '^soak|panicked|^test |test result|assert|failed:|lost:|grew:'
