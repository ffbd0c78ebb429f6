//! What vpced keeps of root's powers: four capabilities, for as long as it runs.
//!
//! vpced starts as root and, before it starts any thread, narrows itself (and so every thread
//! it starts later) to:
//!
//! * `CAP_NET_ADMIN` — TUN devices, addresses, routes, links (start-up and every apply);
//! * `CAP_SYS_ADMIN` — network namespaces: creating one (`unshare` and a bind mount, as
//!   `ip netns add` does; `io::netns`) and `setns` into
//!   them, for the devices of an apply and for health checks and DNS in the VPCs' namespaces.
//!   This is the big one, and the reason vpced cannot drop to CAP_NET_ADMIN alone: an apply
//!   may bring a namespace that did not exist at start-up, and no narrower capability lets a
//!   process create or enter one;
//! * `CAP_NET_RAW` — packet sockets on an internet gateway's interface (`io::packet`);
//! * `CAP_NET_BIND_SERVICE` — the VPC resolver's port 53 in the namespaces.
//!
//! Everything else leaves the effective, permitted, inheritable and bounding sets (so a
//! child, root though it is, gets no more either). Where the process lacks `CAP_SETPCAP` (a
//! container that already narrowed it), what can be dropped is dropped and the rest said in
//! the log; this never stops vpced.

use rustix::thread::{self, CapabilitySet, CapabilitySets};

/// The capabilities vpced keeps (see the module doc for why each).
pub const KEPT: CapabilitySet = CapabilitySet::NET_ADMIN
    .union(CapabilitySet::SYS_ADMIN)
    .union(CapabilitySet::NET_RAW)
    .union(CapabilitySet::NET_BIND_SERVICE);

/// Narrows the calling thread (call it before any other thread exists) to [`KEPT`]; returns
/// what is left in the effective set.
pub fn restrict() -> std::io::Result<CapabilitySet> {
    let now = thread::capabilities(None)?;
    // The bounding set first: removing from it needs CAP_SETPCAP, which goes last.
    for bit in 0..64 {
        let cap = CapabilitySet::from_bits_retain(1 << bit);
        if KEPT.contains(cap) || cap.bits() & CapabilitySet::all().bits() == 0 {
            continue;
        }
        if let Ok(true) = thread::capability_is_in_bounding_set(cap) {
            if let Err(e) = thread::remove_capability_from_bounding_set(cap) {
                tracing::warn!(capability = ?cap, error = %e, "cannot drop from the bounding set");
            }
        }
    }
    let keep = now.permitted & KEPT;
    thread::set_capabilities(
        None,
        CapabilitySets {
            effective: keep,
            permitted: keep,
            inheritable: CapabilitySet::empty(),
        },
    )?;
    Ok(keep)
}
