//! vpce control plane.
//!
//! This crate owns everything that happens *before* a packet arrives: the deployment's
//! configuration ([`model`]), reading it ([`load`]), checking it against the rules of a VPC
//! ([`mod@validate`]), compiling it into immutable lookup tables ([`mod@compile`], [`lpm`]). It knows nothing
//! about packets or devices, nor how its tables reach the workers (the dataplane builds a
//! fabric from a [`Snapshot`] and publishes that); the `dataplane` crate depends on it, never
//! the reverse.
//!
//! The flow of a configuration:
//!
//! ```text
//! file.toml --load--> LoadedConfig --validate--> Report
//!                          \--compile (validate + build)--> Snapshot
//!                                         (then, in the dataplane: Fabric::build -> Plan -> SnapshotCell)
//! ```
#![deny(unsafe_code)] // one fenced exception: the prefetch hint in lpm::poptrie
#![warn(missing_debug_implementations)]

pub mod arn;
pub mod compile;
/// Transit gateway route tables, compiled (part of [`mod@compile`]).
pub use compile::transit;
pub mod diag;
pub mod dns;
pub mod error;
pub mod files;
pub mod hash;
pub mod import;
pub mod ip_ranges;
pub mod load;
pub mod lpm;
pub mod model;
pub mod nacl;
pub mod net;
pub mod policy;
pub mod secgroups;
pub mod validate;

pub use compile::{compile, Compiled, Snapshot};
pub use error::ConfigError;
pub use load::{load_file, load_str, LoadedConfig};
pub use validate::{validate, Report};
