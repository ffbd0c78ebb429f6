#!/usr/bin/env bash
# Sets up a fresh Debian machine for vpce: the system packages the demo and the tests use, a
# Rust toolchain if there is none, and a release build of the binaries. Idempotent: what is
# already there is left alone. Run as root (or with sudo) for the packages.
set -euo pipefail
cd "$(dirname "$0")/.."

# Packages: tools the end-to-end tests and the demo drive (ping, curl, dig, iperf3, tshark),
# iproute2 for namespaces and TUN devices, xz for the shared data sets.
packages=(iproute2 iputils-ping curl dnsutils iperf3 tshark python3 xz-utils ca-certificates valgrind dnsmasq-base haproxy)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: installing ${missing[*]} needs root; re-run with sudo" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# moto_server and the AWS CLI, from PyPI, for the import test against an EC2 API
# (tests/import_aws.rs). Debian's own Python refuses system-wide pip installs (PEP 668):
# those go to a virtual environment of the project's, put on PATH by scripts/test.sh.
if ! command -v moto_server >/dev/null 2>&1 || ! command -v aws >/dev/null 2>&1; then
  if [ ! -x .venv/bin/moto_server ] || [ ! -x .venv/bin/aws ]; then
    echo "setup: installing moto and awscli (PyPI) into .venv"
    if ! python3 -m venv .venv >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
      python3 -m venv .venv
    fi
    .venv/bin/pip install -q 'moto[server]' awscli
  fi
fi
# The Prometheus project's Python client: its strict OpenMetrics parser checks what vpced's
# /metrics serves (tests/e2e/observability.rs). Same virtual environment.
py=python3
[ -x .venv/bin/python3 ] && py=.venv/bin/python3
if ! "$py" -c 'import prometheus_client' >/dev/null 2>&1; then
  echo "setup: installing prometheus-client (PyPI) into .venv"
  if [ ! -x .venv/bin/pip ]; then
    python3 -m venv .venv >/dev/null 2>&1 || {
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
      python3 -m venv .venv
    }
  fi
  .venv/bin/pip install -q prometheus-client
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: installing the Rust toolchain with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

# The binaries, for the demo and for users. scripts/test.sh skips this (VPCE_SETUP_NO_BUILD=1):
# `cargo test` builds the binaries its tests run.
if [ -z "${VPCE_SETUP_NO_BUILD:-}" ]; then
  cargo build --release --bins
  echo "setup: built $(ls target/release/vpcectl) $(ls target/release/vpced 2>/dev/null || true)"
fi
