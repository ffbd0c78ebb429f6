#!/usr/bin/env bash
# Sets up a fresh Debian machine for vpce. Idempotent: what is already there is left alone.
# Run as root (or with sudo) for the packages.
#
#   scripts/setup.sh          what the demos need: a C toolchain to link, iproute2, ping, curl,
#                             dig, tshark, python3; a Rust toolchain if there is none; a
#                             release build of the binaries
#   scripts/setup.sh --test   and what the tests drive besides: iperf3, HAProxy, dnsmasq, tmux,
#                             valgrind, g++ (libFuzzer), xz, promtool (Debian's prometheus, its
#                             service not started), Graphviz, Node.js; moto, awscli and
#                             prometheus-client from PyPI (in .venv); Mermaid's parser from npm
#                             (in scripts/mermaid); rustfmt and clippy
#
# VPCE_SETUP_NO_BUILD=1 skips the build (scripts/test.sh: `cargo test` builds what it runs).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/cargo.sh
tests=
case "${1:-}" in
  --test) tests=1 ;;
  "") ;;
  *) echo "usage: scripts/setup.sh [--test]" >&2; exit 2 ;;
esac

# gcc and libc6-dev: rustc links with `cc`. The rest are the programs the demos run.
packages=(gcc libc6-dev iproute2 iputils-ping curl dnsutils tshark python3 ca-certificates)
# The programs the tests run: every one a test starts is here (a test that finds one missing
# names its package and fails).
[ -n "$tests" ] && packages+=(g++ iperf3 haproxy dnsmasq-base tmux valgrind xz-utils python3-venv procps prometheus graphviz nodejs etcd-server)
# Debian's npm, unless npm is there already (NodeSource's nodejs carries its own, and
# conflicts with Debian's).
[ -n "$tests" ] && ! command -v npm >/dev/null 2>&1 && packages+=(npm)
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
  # prometheus comes for its promtool (tests/packaging.rs): its service must not start here.
  # policy-rc.d's 101 tells the packages' scripts not to start services during the install.
  guard=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && guard=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$guard" ] || rm -f /usr/sbin/policy-rc.d
fi

if [ -n "$tests" ]; then
  # moto_server and the AWS CLI for the import test against an EC2 API (tests/import_aws.rs),
  # and the Prometheus project's Python client, whose strict OpenMetrics parser checks what
  # vpced's /metrics serves (tests/e2e/observability.rs). Debian's Python refuses system-wide
  # pip installs (PEP 668): they go to the project's virtual environment, which
  # scripts/test.sh puts on PATH.
  [ -x .venv/bin/pip ] || python3 -m venv .venv
  if [ ! -x .venv/bin/moto_server ] || [ ! -x .venv/bin/aws ]; then
    echo "setup: installing moto and awscli (PyPI) into .venv"
    .venv/bin/pip install -q 'moto[server]' awscli
  fi
  if ! .venv/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1; then
    echo "setup: installing prometheus-client (PyPI) into .venv"
    .venv/bin/pip install -q prometheus-client
  fi
  # Mermaid's own parser, which checks vpcectl's Mermaid pictures (tests/vpcectl.rs), at the
  # versions scripts/mermaid/package-lock.json pins. Node trusts its own CA list only; the
  # system's (with any local CA a network needs) is added to it.
  if [ ! -d scripts/mermaid/node_modules/mermaid ]; then
    echo "setup: installing Mermaid's parser (npm) into scripts/mermaid"
    ca=/etc/ssl/certs/ca-certificates.crt
    (cd scripts/mermaid && NODE_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS:-$ca} \
      npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi

if ! find_cargo; then
  echo "setup: installing the Rust toolchain with rustup"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
    sh -s -- -y --profile minimal --component rustfmt,clippy
  find_cargo
fi
# The tests check formatting and lints; a minimal rustup profile has neither.
if [ -n "$tests" ] && command -v rustup >/dev/null 2>&1; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
  done
fi

# The binaries, for the demo and for users.
if [ -z "${VPCE_SETUP_NO_BUILD:-}" ]; then
  cargo build --release --bins
  echo "setup: built target/release/vpcectl, vpced and vpce-appliance"
fi
