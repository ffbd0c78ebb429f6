//! Exhaustion in memory, on seed 004's PrivateLink path: the flow table and the load balancer
//! node's source ports are bounded; running out of either is a typed drop with its counter,
//! never a panic, a wrong translation or harm to the flows already established.

mod common;

use std::net::IpAddr;

use dataplane::conntrack::FlowTable;
use dataplane::fabric::Fabric;
use dataplane::pipeline::{process, Ctx, DropReason, NoObserver, Verdict};
use dataplane::wire::build::{packet, Transport};
use dataplane::wire::tcp_flags;

const EC2_A: &str = "eni-0a00000000000000a";
const A: &str = "10.0.128.10";
const ENDPOINT: &str = "10.0.128.100";

fn fabric() -> Fabric {
    common::example_fabric(
        "privatelink-hands-on.toml",
        &[
            (
                "enforce_security_group_inbound_rules_on_private_link_traffic = true",
                "enforce_security_group_inbound_rules_on_private_link_traffic = false",
            ),
            ("cross_zone = false", "cross_zone = true"),
        ],
    )
}

fn syn(sport: u16, flags: u8) -> Vec<u8> {
    packet(
        A.parse::<IpAddr>().unwrap(),
        ENDPOINT.parse::<IpAddr>().unwrap(),
        Transport::Tcp {
            src_port: sport,
            dst_port: 80,
            flags,
            payload: b"",
        },
    )
    .unwrap()
}

fn send(f: &Fabric, flows: &FlowTable, pkt: &mut [u8]) -> Verdict {
    let cx = Ctx {
        lane: 0,
        now: 0,
        flows,
        offload: dataplane::pipeline::Offload::NONE,
    };
    process(f, &cx, f.attachment(EC2_A).unwrap(), pkt, &mut NoObserver)
}

fn dropped(f: &Fabric, reason: &str) -> u64 {
    f.registry.report().drops.get(reason).copied().unwrap_or(0)
}

#[test]
fn a_full_flow_table_refuses_new_flows_and_keeps_established_ones() {
    let f = fabric();
    let flows = FlowTable::new(64);
    assert!(matches!(
        send(&f, &flows, &mut syn(40000, tcp_flags::SYN)),
        Verdict::Forward { .. }
    ));
    // Entries one connection holds: both ways of the translation, the security groups' own.
    let per_flow = flows.len();
    assert!(per_flow >= 2, "{per_flow}");
    let (mut admitted, mut full) = (1usize, 0u64);
    for sport in 40001..41000 {
        match send(&f, &flows, &mut syn(sport, tcp_flags::SYN)) {
            Verdict::Forward { .. } => admitted += 1,
            Verdict::Drop(DropReason::FlowTableFull) => full += 1,
            other => panic!("{sport}: {other:?}"),
        }
    }
    assert!(full > 0, "never full");
    // Each admitted connection holds its two directions' entries, within the capacity, and a
    // refused one holds nothing (not the way back it took a port with).
    assert!(
        per_flow * admitted <= flows.capacity(),
        "{admitted} admitted"
    );
    assert_eq!(dropped(&f, "flow_table_full"), full);
    // The first connection goes on.
    assert!(matches!(
        send(&f, &flows, &mut syn(40000, tcp_flags::ACK)),
        Verdict::Forward { .. }
    ));
}

#[test]
fn the_nodes_source_ports_run_out_with_a_typed_drop() {
    // One consumer address to one target through one node: at most one flow per source port
    // of the node (1024..=60999). Every source port of the consumer's is tried.
    let f = fabric();
    let flows = FlowTable::new(1 << 18);
    assert!(matches!(
        send(&f, &flows, &mut syn(1, tcp_flags::SYN)),
        Verdict::Forward { .. }
    ));
    let per_flow = flows.len();
    let (mut admitted, mut exhausted) = (1usize, 0u64);
    for sport in 2..=u16::MAX {
        match send(&f, &flows, &mut syn(sport, tcp_flags::SYN)) {
            Verdict::Forward { .. } => admitted += 1,
            Verdict::Drop(DropReason::NatPortsExhausted) => exhausted += 1,
            other => panic!("{sport}: {other:?}"),
        }
    }
    let ports =
        usize::from(dataplane::pipeline::NAT_PORTS.end() - dataplane::pipeline::NAT_PORTS.start())
            + 1;
    assert!(
        exhausted > 0 && admitted <= ports,
        "{admitted} admitted, {exhausted} refused"
    );
    // Most of the range is used before the bounded search gives up.
    assert!(admitted > ports * 9 / 10, "{admitted} of {ports}");
    assert_eq!(dropped(&f, "nat_ports_exhausted"), exhausted);
    // A refused flow holds one entry: the consumer's security group tracked the connection
    // its instance opened, as AWS's does whatever the endpoint then does with it (it expires
    // unanswered). Neither the node's port nor any translation is held for it.
    assert_eq!(
        flows.len(),
        per_flow * admitted + exhausted as usize,
        "{admitted} admitted, {exhausted} refused"
    );
    // Established flows are untouched.
    assert!(matches!(
        send(&f, &flows, &mut syn(1, tcp_flags::ACK)),
        Verdict::Forward { .. }
    ));
}

#[test]
fn a_zone_at_its_quota_refuses_new_flows_and_holds_nothing_for_them() {
    // Every zone may hold 8 flows: the consumer's fills first (its security group tracks the
    // connection before anything else), and what it refuses holds no entry anywhere.
    let f = fabric();
    let flows = FlowTable::with_zone_limit(1 << 12, 8);
    assert!(matches!(
        send(&f, &flows, &mut syn(39999, tcp_flags::SYN)),
        Verdict::Forward { .. }
    ));
    let per_flow = flows.len();
    let (mut admitted, mut refused) = (1usize, 0u64);
    for sport in 40000..40100 {
        match send(&f, &flows, &mut syn(sport, tcp_flags::SYN)) {
            Verdict::Forward { .. } => admitted += 1,
            Verdict::Drop(DropReason::FlowQuotaExceeded) => refused += 1,
            other => panic!("{sport}: {other:?}"),
        }
    }
    assert!(
        admitted > 0 && refused > 0,
        "{admitted} admitted, {refused} refused"
    );
    assert_eq!(
        flows.len(),
        per_flow * admitted,
        "{admitted} admitted, {refused} refused"
    );
    // The admitted flows go on.
    assert!(matches!(
        send(&f, &flows, &mut syn(40000, tcp_flags::ACK)),
        Verdict::Forward { .. }
    ));
}
