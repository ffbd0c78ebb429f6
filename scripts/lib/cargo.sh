# Sourced by every script that runs cargo: puts the Rust toolchain on PATH where `sudo` left it
# off. sudo's secure_path drops ~/.cargo/bin, so `sudo scripts/test.sh` would not find the cargo
# rustup installed: it is looked for in $CARGO_HOME, then the home of the user who ran sudo
# ($SUDO_USER), then this user's home, then root's.
find_cargo() {
  command -v cargo >/dev/null 2>&1 && return 0
  local user_home=
  [ -n "${SUDO_USER:-}" ] && user_home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
  local d
  for d in "${CARGO_HOME:-}" ${user_home:+"$user_home/.cargo"} "${HOME:-/root}/.cargo" /root/.cargo; do
    [ -n "$d" ] && [ -x "$d/bin/cargo" ] || continue
    export PATH="$d/bin:$PATH"
    # rustup's cargo finds its toolchains in RUSTUP_HOME, by default beside it in that home.
    if [ -z "${RUSTUP_HOME:-}" ] && [ -d "$(dirname "$d")/.rustup" ]; then
      export RUSTUP_HOME="$(dirname "$d")/.rustup"
    fi
    return 0
  done
  return 1
}

# need_cargo: find_cargo, or stop saying how to get one.
need_cargo() {
  find_cargo && return 0
  echo "$(basename "$0"): no cargo found (looked in \$CARGO_HOME, ~${SUDO_USER:-}/.cargo, ~/.cargo, /root/.cargo); run scripts/setup.sh, or install Rust with rustup" >&2
  exit 1
}
