//! `vpce-appliance`: a lab security appliance behind a Gateway Load Balancer. See
//! `vpce::appliance`.
fn main() -> std::process::ExitCode {
    vpce::appliance::main()
}
