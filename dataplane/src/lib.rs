//! vpce dataplane.
//!
//! This crate owns everything that touches packets: [`wire`] (borrowed views over packet
//! bytes), and the decision code and devices built on them. Parsing and decisions are pure
//! functions of bytes, tables and time; every syscall lives in the I/O layer.
#![deny(unsafe_code)]

pub mod wire;
