#!/usr/bin/env bash
# Runs every test: unit, property, CLI and (as root) the end-to-end tests over network
# namespaces and TUN devices. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# moto_server and aws, when setup put them in the project's virtual environment.
[ -d .venv/bin ] && export PATH="$PWD/.venv/bin:$PATH"
cargo fmt --all -- --check
cargo test --workspace --release --no-fail-fast
# Every benchmark once, in test mode, so that none of them rots.
cargo test --release --benches
# Instructions per LPM lookup may not grow more than 10 % over the committed baseline.
scripts/check-lookup-cost.sh
# Reliability (RELIABILITY.md): the unsafe audit, the unsafe modules' tests under
# AddressSanitizer, and every fuzz target for a bounded time.
scripts/check-unsafe.sh
scripts/sanitize.sh
scripts/fuzz.sh --time "${FUZZ_SECONDS:-10}"
# A short soak: all four paths under applies, nothing lost, memory flat.
scripts/soak.sh "${SOAK_SECONDS:-30}"
