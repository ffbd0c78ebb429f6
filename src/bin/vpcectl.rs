//! `vpcectl`: validate, inspect and query vpce deployments. See `vpce::vpcectl`.
fn main() -> std::process::ExitCode {
    vpce::vpcectl::main()
}
