#!/usr/bin/env bash
# Runs every test: unit, property, CLI and (as root) the end-to-end tests over network
# namespaces and TUN devices. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
# What the tests drive (system packages, PyPI tools, a toolchain with rustfmt and clippy).
VPCE_SETUP_NO_BUILD=1 scripts/setup.sh --test
. scripts/lib/cargo.sh
need_cargo
# moto_server and aws, when setup put them in the project's virtual environment.
[ -d .venv/bin ] && export PATH="$PWD/.venv/bin:$PATH"
cargo fmt --all -- --check
# Lints: the workspace's [lints] table, clippy's default groups as errors, every target.
cargo clippy --workspace --all-targets --release -- -D warnings
# End-to-end tests that cannot create namespaces fail here instead of passing vacuously.
export VPCE_REQUIRE_E2E=1
cargo test --workspace --release --no-fail-fast
# Every benchmark once, in test mode, so that none of them rots.
cargo test --release --benches
# Instructions per LPM lookup may not grow more than 10 % over the committed baseline.
scripts/check-lookup-cost.sh
# Reliability (RELIABILITY.md): the unsafe audit, and every fuzz target for a bounded time
# under AddressSanitizer — among them the differential targets of the modules with unsafe code
# (lpm, conntrack). scripts/sanitize.sh, their unit tests under ASan, runs by hand: its own
# build would take a fifth of CI's 20 minutes.
scripts/check-unsafe.sh
# No import cycles between the modules of control and dataplane.
scripts/check-cycles.py control/src dataplane/src daemon/src
# No function over 150 lines in the product without a `// long:` reason next to it.
scripts/check-fn-length.py
scripts/fuzz.sh --time "${FUZZ_SECONDS:-10}"
# A short soak: all four paths under applies, nothing lost, memory flat.
scripts/soak.sh "${SOAK_SECONDS:-30}"
