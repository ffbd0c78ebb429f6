//! VPC Flow Logs: the flow table's counters as AWS's flow-log records.
//!
//! Every aggregation interval the daemon drains the flow table
//! ([`crate::conntrack::FlowTable::drain`]) and writes one record per network interface, flow and direction that carried packets in the
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
//! addresses, `egress` when the source is. A GWLB endpoint is an *intermediate* interface:
//! traffic passes through it between two other addresses, and it is logged as AWS logs a NAT
//! gateway's interface — `ingress`, `dstaddr` the interface's own address and `pkt-dstaddr`
//! the packet's destination (`pkt-srcaddr`, `pkt-dstaddr` are always the packet's addresses).
//! `traffic-path` (egress records only) is the path the interface's subnet route table sends
//! the destination along, looked up in the running configuration when the record is written:
//! `1` another resource in the VPC (local route, an ENI, a GWLB endpoint), `4` a peering
//! connection, `7` a gateway endpoint, `8` an internet gateway; `-` otherwise. REJECT records
//! come from the [`RejectLog`]: a packet its security groups deny makes no flow entry, so the
//! pipeline notes it there (bounded: 4,096 denied flows per interval, more are counted as
//! lost). `account-id` is `-` (the model has no accounts).
//!
//! This module formats; the daemon's flow-log thread does the I/O.

use std::fmt::Write as _;
use std::net::IpAddr;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::conntrack::FlowRecord;
use crate::fabric::{Action, Fabric};

/// The header line (AWS's field names, in the order written).
pub const HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status pkt-srcaddr pkt-dstaddr flow-direction traffic-path";

/// A network interface flows are logged for: its id and addresses.
#[derive(Debug, Clone)]
pub struct Interface {
    pub id: String,
    pub addrs: SmallVec<[IpAddr; 2]>,
    /// The route table of the interface's subnet (`snapshot.route_tables[i]`), for
    /// `traffic-path`; `None` for an interface endpoint's ENI, which only answers its VPC.
    pub route_table: Option<u32>,
    /// Traffic passes through the interface between other addresses (a GWLB endpoint).
    pub intermediate: bool,
}

/// AWS's `traffic-path` values this dataplane has paths for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TrafficPath {
    /// Through another resource in the same VPC (the local route, an ENI, an endpoint).
    SameVpc = 1,
    /// Through an intra-region VPC peering connection.
    Peering = 4,
    /// Through a gateway VPC endpoint.
    GatewayEndpoint = 7,
    /// Through an internet gateway.
    InternetGateway = 8,
}

/// The path egress traffic from `iface` to `dst` takes: its subnet route table's route for
/// `dst` in `f`. `None` (logged `-`) for no route, a blackhole, or a target without a path.
pub fn traffic_path(f: &Fabric, iface: &Interface, dst: IpAddr) -> Option<TrafficPath> {
    let Some(table) = iface.route_table else {
        return Some(TrafficPath::SameVpc);
    };
    let route = f
        .snapshot
        .route_tables
        .get(table as usize)?
        .lookup_index(dst)?;
    match f.actions.get(table as usize)?.get(route)? {
        Action::Local | Action::GwlbEndpoint(_) | Action::NetworkInterface(_) => {
            Some(TrafficPath::SameVpc)
        }
        Action::Peering(_) => Some(TrafficPath::Peering),
        Action::GatewayEndpoint(_) => Some(TrafficPath::GatewayEndpoint),
        Action::InternetGateway(_) => Some(TrafficPath::InternetGateway),
        Action::Blackhole | Action::Unsupported(_) => None,
    }
}

/// One direction of a flow as a flow-log record sees it on `iface`: `(direction, srcaddr,
/// dstaddr)`, the packet's own addresses going to `pkt-srcaddr`, `pkt-dstaddr`.
fn as_seen_by(iface: &Interface, src: IpAddr, dst: IpAddr) -> (&'static str, IpAddr, IpAddr) {
    if iface.addrs.contains(&dst) {
        ("ingress", src, dst)
    } else if iface.addrs.contains(&src) || !iface.intermediate {
        ("egress", src, dst)
    } else {
        ("ingress", src, iface.addrs.first().copied().unwrap_or(dst))
    }
}

/// `traffic-path` as written: the number, or `-`.
struct PathField(Option<TrafficPath>);

impl std::fmt::Display for PathField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(p) => write!(f, "{}", p as u8),
            None => f.write_str("-"),
        }
    }
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
                route_table: Some(e.route_table),
                intermediate: false,
            },
        );
    }
    for e in &f.endpoint_enis {
        m.insert(
            e.zone,
            Interface {
                id: e.id.clone(),
                addrs: SmallVec::from_slice(&[IpAddr::V4(e.ip)]),
                route_table: None,
                intermediate: false,
            },
        );
    }
    for n in &f.lb_nodes {
        m.insert(
            n.zone,
            Interface {
                id: format!("{}@{}", f.load_balancers[n.lb as usize].id, n.ip),
                addrs: SmallVec::from_slice(&[IpAddr::V4(n.ip)]),
                route_table: Some(n.route_table),
                intermediate: false,
            },
        );
    }
    for g in &f.gwlb_endpoints {
        m.insert(
            g.zone,
            Interface {
                id: g.eni.clone(),
                addrs: SmallVec::from_slice(&[IpAddr::V4(g.ip)]),
                route_table: Some(g.route_table),
                intermediate: true,
            },
        );
    }
    m
}

/// Appends the records of `r` (one per direction that carried packets) to `out`. `epoch` is
/// the Unix time of the flow table's second 0; `since` the start of the interval, in the
/// table's seconds (a flow older than the interval starts its record there); `path` the
/// [`traffic_path`] of an egress record's destination.
pub fn write_records(
    out: &mut String,
    r: &FlowRecord,
    iface: &Interface,
    epoch: u64,
    since: u32,
    path: impl Fn(IpAddr) -> Option<TrafficPath>,
) {
    let start = epoch + u64::from(r.first_seen.max(since));
    let end = epoch + u64::from(r.last_seen);
    for ((pkt_src, sport), (pkt_dst, dport), (packets, bytes)) in
        [(r.lo, r.hi, r.lo_to_hi), (r.hi, r.lo, r.hi_to_lo)]
    {
        if packets == 0 {
            continue;
        }
        let (direction, src, dst) = as_seen_by(iface, pkt_src, pkt_dst);
        let traffic_path = PathField((direction == "egress").then(|| path(pkt_dst)).flatten());
        let _ = writeln!(
            out,
            "5 - {} {src} {dst} {sport} {dport} {} {packets} {bytes} {start} {end} ACCEPT OK {pkt_src} {pkt_dst} {direction} {traffic_path}",
            iface.id, r.proto
        );
    }
}

pub use crate::rejects::{RejectLog, Rejected};

/// Appends AWS's SKIPDATA record for an interval (`start`..`end`, Unix time) whose records were
/// lost, in part or whole: the fields no record has are `-`, `log-status` is `SKIPDATA`.
pub fn write_skipdata(out: &mut String, start: u64, end: u64) {
    let _ = writeln!(out, "5 - - - - - - - - - {start} {end} - SKIPDATA - - - -");
}

/// Appends the REJECT record of a denied flow; `path` as for [`write_records`].
pub fn write_reject(
    out: &mut String,
    r: &Rejected,
    iface: &Interface,
    epoch: u64,
    path: impl Fn(IpAddr) -> Option<TrafficPath>,
) {
    let t = &r.tuple;
    let (direction, src, dst) = as_seen_by(iface, t.src, t.dst);
    let traffic_path = PathField((direction == "egress").then(|| path(t.dst)).flatten());
    let _ = writeln!(
        out,
        "5 - {} {src} {dst} {} {} {} {} {} {} {} REJECT OK {} {} {direction} {traffic_path}",
        iface.id,
        t.sport,
        t.dport,
        t.proto,
        r.packets,
        r.bytes,
        epoch + u64::from(r.first),
        epoch + u64::from(r.last),
        t.src,
        t.dst
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conntrack::Tuple;

    /// AWS's SKIPDATA record: the interval, `log-status` SKIPDATA, every other field `-`,
    /// as many fields as the header names.
    #[test]
    fn a_skipdata_record_has_every_field() {
        let mut out = String::new();
        write_skipdata(&mut out, 1_700_000_000, 1_700_000_060);
        let f: Vec<&str> = out.trim_end().split(' ').collect();
        let names: Vec<&str> = HEADER.split(' ').collect();
        assert_eq!(f.len(), names.len());
        let field = |n: &str| f[names.iter().position(|x| *x == n).unwrap()];
        assert_eq!(field("log-status"), "SKIPDATA");
        assert_eq!((field("start"), field("end")), ("1700000000", "1700000060"));
        assert_eq!(field("interface-id"), "-");
    }

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
            route_table: Some(0),
            intermediate: false,
        };
        let mut out = String::new();
        write_records(&mut out, &r, &iface, 1_700_000_000, 0, |_| {
            Some(TrafficPath::GatewayEndpoint)
        });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            "5 - eni-08c0b194dec370347 10.0.0.176 52.216.39.26 40312 80 6 6 473 1700000010 1700000012 ACCEPT OK 10.0.0.176 52.216.39.26 egress 7"
        );
        assert!(lines[1]
            .starts_with("5 - eni-08c0b194dec370347 52.216.39.26 10.0.0.176 80 40312 6 4 1200 "));
        assert!(lines[1].ends_with(" ingress -"));
        assert_eq!(lines[0].split(' ').count(), HEADER.split(' ').count());
        // An older flow starts its record at the interval.
        let mut out = String::new();
        write_records(&mut out, &r, &iface, 1_700_000_000, 11, |_| None);
        assert!(out.contains(" 1700000011 1700000012 "));
    }

    #[test]
    fn an_intermediate_interface_logs_traffic_through_it_as_ingress_to_itself() {
        let r = FlowRecord {
            zone: 9,
            proto: 6,
            lo: ("10.0.0.12".parse().unwrap(), 40312),
            hi: ("203.0.113.5".parse().unwrap(), 443),
            initiator_lo: true,
            lo_to_hi: (3, 180),
            hi_to_lo: (2, 120),
            first_seen: 10,
            last_seen: 12,
            ended: false,
        };
        let gwlbe = Interface {
            id: "eni-0gwlbe".into(),
            addrs: SmallVec::from_slice(&["10.0.9.20".parse().unwrap()]),
            route_table: Some(0),
            intermediate: true,
        };
        let mut out = String::new();
        write_records(&mut out, &r, &gwlbe, 1_700_000_000, 0, |_| {
            unreachable!("an ingress record has no traffic path")
        });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                "5 - eni-0gwlbe 10.0.0.12 10.0.9.20 40312 443 6 3 180 1700000010 1700000012 ACCEPT OK 10.0.0.12 203.0.113.5 ingress -",
                "5 - eni-0gwlbe 203.0.113.5 10.0.9.20 443 40312 6 2 120 1700000010 1700000012 ACCEPT OK 203.0.113.5 10.0.0.12 ingress -",
            ]
        );
    }

    #[test]
    fn denied_flows_aggregate_per_interval_and_are_bounded() {
        let log = RejectLog::default();
        let t = Tuple {
            proto: 6,
            src: "198.51.100.7".parse().unwrap(),
            dst: "10.0.0.176".parse().unwrap(),
            sport: 40000,
            dport: 22,
        };
        for now in 5..8 {
            log.record(7, &t, 60, now);
        }
        let mut got = Vec::new();
        log.drain(|r| got.push(*r));
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].packets, got[0].bytes, got[0].first, got[0].last),
            (3, 180, 5, 7)
        );
        let iface = Interface {
            id: "eni-08c0b194dec370347".into(),
            addrs: SmallVec::from_slice(&["10.0.0.176".parse().unwrap()]),
            route_table: Some(0),
            intermediate: false,
        };
        let mut out = String::new();
        write_reject(&mut out, &got[0], &iface, 1_700_000_000, |_| {
            unreachable!("an ingress record has no traffic path")
        });
        assert_eq!(
            out.trim_end(),
            "5 - eni-08c0b194dec370347 198.51.100.7 10.0.0.176 40000 22 6 3 180 1700000005 1700000007 REJECT OK 198.51.100.7 10.0.0.176 ingress -"
        );
        // A new interval; then more denied flows than the log holds: the rest are lost.
        let mut n = 0;
        log.drain(|_| n += 1);
        assert_eq!(n, 0);
        for port in 0..10_000u16 {
            log.record(7, &Tuple { sport: port, ..t }, 60, 9);
        }
        let mut kept = 0u64;
        log.drain(|_| kept += 1);
        assert!(kept <= crate::rejects::CAPACITY as u64);
        assert_eq!(kept + log.lost(), 10_000);
    }
}
