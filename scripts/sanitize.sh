#!/usr/bin/env bash
# The tests of the modules with unsafe code under AddressSanitizer: the poptrie's differential
# property tests against a linear scan and its unit tests (control::lpm), and the flow table's
# (dataplane::conntrack). Miri would be the finer tool, but this machine's toolchain has no
# miri component and none can be fetched; ASan on the same tests catches out-of-bounds and
# use-after-free in them. RUSTC_BOOTSTRAP=1 lets the stable toolchain take -Zsanitizer.
# (io::packet's unsafe is syscalls on live sockets: tests/e2e/uplink.rs runs it for real.)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/cargo.sh
need_cargo
triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=address" RUSTDOCFLAGS="-Zsanitizer=address"
export CARGO_TARGET_DIR=target/asan ASAN_OPTIONS=detect_leaks=0
# Fewer cases than the default run: ASan is slow, and the default run has the full count.
export PROPTEST_CASES=${PROPTEST_CASES:-64}
cargo test -q --release --target "$triple" -p vpce-control --lib lpm
cargo test -q --release --target "$triple" -p vpce-dataplane --lib conntrack
echo "sanitize.sh: the unsafe modules' tests pass under AddressSanitizer"
