//! vpce dataplane.
//!
//! This crate owns everything that touches packets: [`wire`] (borrowed views over packet
//! bytes), [`fabric`] (the tables the pipeline reads, compiled from a control snapshot),
//! [`pipeline`] (the pure per-packet decision), [`conntrack`] (flows) and [`fragments`] (how
//! later fragments follow their first), both hashed with [`hash`]'s keyed secrets, [`stats`]
//! (counters). Parsing and decisions are pure functions of bytes, tables and a timestamp;
//! every syscall lives in the I/O layer.
#![deny(unsafe_code)]

pub mod conntrack;
pub mod fabric;
pub mod flowlog;
pub mod fragments;
pub mod hash;
pub mod health;
pub mod io;
pub mod pipeline;
pub mod publish;
pub mod reasons;
pub mod rejects;
pub mod resolver;
pub mod stats;
pub mod trace;
pub mod wire;
