//! What the in-memory tests of the dataplane share: a fabric from an example deployment (with
//! edits to its text), a worker's context, addresses.

#![allow(dead_code)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dataplane::conntrack::FlowTable;
use dataplane::fabric::Fabric;
use dataplane::pipeline::{Ctx, Offload};
use dataplane::stats::Registry;

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The fabric of `examples/NAME`, each `(from, to)` of `edits` replaced in its text first (an
/// edit that matches nothing fails the test: the example changed under it).
pub fn example_fabric(name: &str, edits: &[(&str, &str)]) -> Fabric {
    let dir = root().join("examples");
    let mut text = std::fs::read_to_string(dir.join(name)).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{name}: no `{from}` to edit");
        text = text.replace(from, to);
    }
    let loaded = control::load_str(name, text, &dir).unwrap();
    let snapshot = control::compile(&loaded).unwrap().snapshot;
    Fabric::build(snapshot, Arc::new(Registry::default())).unwrap()
}

/// A worker's context on `flows`: lane 0, time 0, plain packets.
pub fn ctx(flows: &FlowTable) -> Ctx<'_> {
    Ctx {
        lane: 0,
        now: 0,
        flows,
        offload: Offload::NONE,
    }
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
