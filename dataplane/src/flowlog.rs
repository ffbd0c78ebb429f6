//! VPC Flow Logs: the flow table's counters as AWS's flow-log records.
//!
//! Every aggregation interval the daemon drains the flow table ([`FlowTable::drain`]) and
//! writes one record per network interface, flow and direction that carried packets in the
//! interval, in AWS's format: the version 2 default fields, then the version 5 fields that
//! make sense here, space-separated, `-` where a field has no value, one header line first:
//!
//! ```text
//! version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status pkt-srcaddr pkt-dstaddr flow-direction traffic-path
//! 5 - eni-08c0b194dec370347 10.0.0.176 52.216.39.26 40312 80 6 6 473 1700000000 1700000002 ACCEPT OK 10.0.0.176 52.216.39.26 egress -
//! ```
//!
//! An interface is what AWS logs: an instance's ENI, an interface endpoint's ENI, a load
//! balancer node (named `LB@ADDRESS`, the model having no ids for node ENIs), a GWLB endpoint's
//! ENI. `flow-direction` is `ingress` when the destination is one of the interface's
//! addresses. What is not here yet: REJECT records (a denied packet makes no flow entry; the
//! security groups' denials are counted per group in `vpcectl stats`), `pkt-srcaddr`/
//! `pkt-dstaddr` that differ from the record's addresses on translated flows, and
//! `traffic-path` (`-`). `account-id` is `-` (the model has no accounts).
//!
//! This module formats; the daemon's flow-log thread does the I/O.

use std::fmt::Write as _;
use std::net::IpAddr;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::conntrack::FlowRecord;
use crate::fabric::Fabric;

/// The header line (AWS's field names, in the order written).
pub const HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status pkt-srcaddr pkt-dstaddr flow-direction traffic-path";

/// A network interface flows are logged for: its id and addresses.
#[derive(Debug, Clone)]
pub struct Interface {
    pub id: String,
    pub addrs: SmallVec<[IpAddr; 2]>,
}

/// The interfaces of a fabric by connection-tracking zone.
pub fn interfaces(f: &Fabric) -> FxHashMap<u32, Interface> {
    let mut m = FxHashMap::default();
    for e in &f.enis {
        let mut addrs: SmallVec<[IpAddr; 2]> = e.ipv4.iter().map(|a| IpAddr::V4(*a)).collect();
        addrs.extend(e.ipv6.map(IpAddr::V6));
        m.insert(
            e.zone,
            Interface {
                id: e.id.clone(),
                addrs,
            },
        );
    }
    for e in &f.endpoint_enis {
        m.insert(
            e.zone,
            Interface {
                id: e.id.clone(),
                addrs: SmallVec::from_slice(&[IpAddr::V4(e.ip)]),
            },
        );
    }
    for n in &f.lb_nodes {
        m.insert(
            n.zone,
            Interface {
                id: format!("{}@{}", f.load_balancers[n.lb as usize].id, n.ip),
                addrs: SmallVec::from_slice(&[IpAddr::V4(n.ip)]),
            },
        );
    }
    for g in &f.gwlb_endpoints {
        m.insert(
            g.zone,
            Interface {
                id: g.eni.clone(),
                addrs: SmallVec::from_slice(&[IpAddr::V4(g.ip)]),
            },
        );
    }
    m
}

/// Appends the records of `r` (one per direction that carried packets) to `out`. `epoch` is
/// the Unix time of the flow table's second 0; `since` the start of the interval, in the
/// table's seconds (a flow older than the interval starts its record there).
pub fn write_records(out: &mut String, r: &FlowRecord, iface: &Interface, epoch: u64, since: u32) {
    let start = epoch + u64::from(r.first_seen.max(since));
    let end = epoch + u64::from(r.last_seen);
    for ((src, sport), (dst, dport), (packets, bytes)) in
        [(r.lo, r.hi, r.lo_to_hi), (r.hi, r.lo, r.hi_to_lo)]
    {
        if packets == 0 {
            continue;
        }
        let direction = if iface.addrs.contains(&dst) {
            "ingress"
        } else {
            "egress"
        };
        let _ = writeln!(
            out,
            "5 - {} {src} {dst} {sport} {dport} {} {packets} {bytes} {start} {end} ACCEPT OK {src} {dst} {direction} -",
            iface.id, r.proto
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_makes_one_record_per_direction_with_packets() {
        let r = FlowRecord {
            zone: 7,
            proto: 6,
            lo: ("10.0.0.176".parse().unwrap(), 40312),
            hi: ("52.216.39.26".parse().unwrap(), 80),
            initiator_lo: true,
            lo_to_hi: (6, 473),
            hi_to_lo: (4, 1200),
            first_seen: 10,
            last_seen: 12,
            ended: true,
        };
        let iface = Interface {
            id: "eni-08c0b194dec370347".into(),
            addrs: SmallVec::from_slice(&["10.0.0.176".parse().unwrap()]),
        };
        let mut out = String::new();
        write_records(&mut out, &r, &iface, 1_700_000_000, 0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            "5 - eni-08c0b194dec370347 10.0.0.176 52.216.39.26 40312 80 6 6 473 1700000010 1700000012 ACCEPT OK 10.0.0.176 52.216.39.26 egress -"
        );
        assert!(lines[1]
            .starts_with("5 - eni-08c0b194dec370347 52.216.39.26 10.0.0.176 80 40312 6 4 1200 "));
        assert!(lines[1].ends_with(" ingress -"));
        assert_eq!(lines[0].split(' ').count(), HEADER.split(' ').count());
        // An older flow starts its record at the interval.
        let mut out = String::new();
        write_records(&mut out, &r, &iface, 1_700_000_000, 11);
        assert!(out.contains(" 1700000011 1700000012 "));
    }
}
