//! The root package of vpce: the command-line programs.
//!
//! The binaries in `src/bin` are thin (`vpce-appliance` is the lab's GWLB appliance, for tests
//! and the demo): each calls one `main` here. This crate turns arguments
//! into calls on the `control` (configuration, tables) and `dataplane` (packets) libraries and
//! turns their answers into output for people (tables in the style of `ip route` and the AWS
//! console) or for scripts (`--output json`). It decides nothing a library could decide.
//!
//! Exit codes, for every command: `0` success, `2` bad input (arguments, an unreadable,
//! malformed or invalid configuration, an unknown id), `1` anything else (such as a failed
//! write to stdout).
#![deny(unsafe_code)]

pub mod appliance;
pub mod vpcectl;
pub mod vpced;
