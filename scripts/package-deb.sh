#!/usr/bin/env bash
# Builds the Debian package (cargo-deb) with everything a service install needs, and checks
# it: the three binaries, the systemd unit (packaging/vpced.service), man pages generated from
# the CLI definitions (`vpcectl man`), bash/zsh/fish completions (`vpcectl completions`), the
# examples. Also checks that `cargo install` installs both programs. Prints the .deb's path.
#
#   scripts/package-deb.sh            (installs cargo-deb from crates.io when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/cargo.sh
need_cargo
if ! cargo deb --version >/dev/null 2>&1; then
  echo "package-deb: installing cargo-deb (crates.io)" >&2
  cargo install -q cargo-deb --locked
fi
cargo build -q --release --bins
assets=target/packaging
rm -rf "$assets"
mkdir -p "$assets/completions"
target/release/vpcectl man "$assets/man" >/dev/null
target/release/vpcectl completions bash >"$assets/completions/vpcectl.bash"
target/release/vpcectl completions zsh >"$assets/completions/_vpcectl"
target/release/vpcectl completions fish >"$assets/completions/vpcectl.fish"
deb=$(cargo deb --no-build --no-strip -q 2>/dev/null || cargo deb --no-build --no-strip)
deb=$(ls -t target/debian/vpce_*.deb | head -1)

# What is in it.
contents=$(dpkg-deb --contents "$deb")
for f in ./usr/bin/vpcectl ./usr/bin/vpced ./usr/bin/vpce-appliance \
         ./lib/systemd/system/vpced.service ./usr/share/man/man8/vpced.8 \
         ./usr/share/man/man1/vpcectl.1 ./usr/share/man/man1/vpcectl-trace.1 \
         ./usr/share/bash-completion/completions/vpcectl ./usr/share/zsh/vendor-completions/_vpcectl \
         ./usr/share/fish/vendor_completions.d/vpcectl.fish ./usr/share/doc/vpce/examples/s3-endpoints.toml \
         ./etc/vpce/vpce.toml ./usr/share/vpce/grafana/vpce.json ./usr/share/vpce/prometheus/vpce.rules.yml; do
  grep -q "$f\(\.gz\)\?\$" <<<"$contents" || { echo "package-deb: $f missing from $deb" >&2; exit 1; }
done
# vpced configures its devices over netlink (issue 20): iproute2 is a test tool, not a runtime
# dependency.
! dpkg-deb --field "$deb" Depends | grep -q iproute2 || { echo "package-deb: Depends names iproute2" >&2; exit 1; }
# The sample configuration is a conffile, listed once (an upgrade keeps the user's edits).
n=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles 2>/dev/null | grep -cx /etc/vpce/vpce.toml || true)
[ "$n" = 1 ] || { echo "package-deb: /etc/vpce/vpce.toml is listed $n times in conffiles" >&2; exit 1; }
# Unpacked, its programs run.
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
"$root/usr/bin/vpcectl" --version >/dev/null
"$root/usr/bin/vpced" --version >/dev/null
# The sample configuration and every example it ships validate where they are installed (with
# the data files they name).
for ex in "$root"/etc/vpce/vpce.toml "$root"/usr/share/doc/vpce/examples/*.toml; do
  "$root/usr/bin/vpcectl" validate "$ex" >/dev/null || { echo "package-deb: $ex does not validate" >&2; exit 1; }
done
# cargo install puts both programs in place (reusing this build).
cargo install -q --path . --root "$root/cargo" --target-dir target --locked --bins
"$root/cargo/bin/vpcectl" --version >/dev/null
"$root/cargo/bin/vpced" --version >/dev/null
echo "$deb"
