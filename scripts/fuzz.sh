#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ (or those named) for a bounded time each, starting from the
# committed seeds (fuzz/seeds/TARGET: real captures, the examples, the AWS fixture) and the
# local corpus (fuzz/corpus/TARGET, kept between runs), and prints one line per target:
# executions, edges covered, corpus size. A crash stops the run with the input saved in
# fuzz/artifacts/TARGET/ and exit code 1: make it a regression test, fix, rerun.
#
#   scripts/fuzz.sh [--time SECONDS] [TARGET...]      (default 10 s each; CI uses the default)
#
# Built like `cargo fuzz build -O` (libFuzzer, AddressSanitizer, sancov), plus debug
# assertions and overflow checks, without needing cargo-fuzz: the flags are passed directly,
# and RUSTC_BOOTSTRAP=1 lets the stable toolchain take the sanitizer flag.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
. ../scripts/lib/cargo.sh
need_cargo
# The fuzz targets build in fuzz/target whatever CARGO_TARGET_DIR says (other flags, other
# target triple directory).
unset CARGO_TARGET_DIR
time=10
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time) time=${2:?--time needs seconds}; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=$(sed -n 's/^name = "\(.*\)"/\1/p' Cargo.toml | grep -v '^vpce-fuzz$')
[ ${#targets[@]} -gt 0 ] || mapfile -t targets <<<"$all"
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$all" || { echo "fuzz.sh: no target $t (have: $(echo $all))" >&2; exit 2; }
done

triple=$(rustc -vV | sed -n 's/^host: //p')
flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table"
flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth"
flags+=" --cfg fuzzing -Zsanitizer=address -Cdebug-assertions -Coverflow-checks -Ccodegen-units=1"
echo "fuzz.sh: building the targets (release, ASan, coverage)…" >&2
RUSTC_BOOTSTRAP=1 RUSTFLAGS="$flags" cargo build -q --release --target "$triple" --bins

printf '%-12s %12s %8s %8s  %s\n' target executions edges corpus result
failed=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  seeds=()
  [ -d "seeds/$t" ] && seeds+=("seeds/$t")
  log=$(mktemp)
  if "target/$triple/release/$t" "corpus/$t" "${seeds[@]}" -max_total_time="$time" \
       -artifact_prefix="artifacts/$t/" -print_final_stats=1 -close_fd_mask=3 >"$log" 2>&1; then
    result=ok
  else
    result="CRASH: $(ls -t "artifacts/$t" | head -1)"
    failed=1
    grep -E "panicked|ERROR: AddressSanitizer|SUMMARY" "$log" | head -5 >&2 || true
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  printf '%-12s %12s %8s %8s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "$(ls "corpus/$t" | wc -l)" "$result"
  rm -f "$log"
done
exit $failed
