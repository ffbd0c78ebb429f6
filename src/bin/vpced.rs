//! `vpced`: the vpce dataplane daemon. See `vpce::vpced`.
fn main() -> std::process::ExitCode {
    vpce::vpced::main()
}
