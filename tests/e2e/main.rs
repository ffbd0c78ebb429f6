//! The end-to-end tests, one binary with a module per area (one link step instead of ten):
//! vpced in a namespace of its own, the configuration's namespaces, real traffic with real
//! tools (ping, curl, dig, iperf3, tshark, HAProxy). Each test builds its lab through
//! [`common::Lab`], which checks isolation before traffic and removes everything it made.
//!
//! Run one area with `cargo test --release --test e2e faults::`. Without the rights to make
//! namespaces a test skips — and fails under `CI=true` or `VPCE_REQUIRE_E2E=1`.

#[path = "../common/mod.rs"]
mod common;

mod daemon;
mod dns;
mod faults;
mod gateway;
mod gwlb;
mod gwlb_connections;
mod hardening;
mod observability;
mod privatelink;
mod region;
mod transit;
mod uplink;
