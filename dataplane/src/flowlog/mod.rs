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
//! Those are the default fields; `vpced --flow-log-format` takes AWS's custom format string
//! instead ([`mod@format`]: every field of versions 2 to 5 vpced can fill — `vpc-id`,
//! `subnet-id`, `instance-id`, `type`, `region` among them). An interval whose records were
//! lost gets a SKIPDATA record ([`Writer::skipdata`]).
//!
//! This module formats; the daemon's flow-log thread does the I/O.

use std::net::IpAddr;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::conntrack::FlowRecord;
use crate::fabric::{Action, Fabric};

pub mod format;
pub use format::{Format, FormatError, Record};

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
    /// Where it is (`vpc-id`, `subnet-id`) and whose it is (`instance-id`), when known.
    pub vpc: Option<String>,
    pub subnet: Option<String>,
    pub instance: Option<String>,
    /// AWS's id of the subnet's zone (`az-id`), from the deployment's
    /// `availability_zone_ids`.
    pub az_id: Option<String>,
}

/// AWS's `traffic-path` values this dataplane has paths for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TrafficPath {
    /// Through another resource in the same VPC (the local route, an ENI, an endpoint).
    SameVpc = 1,
    /// Through a virtual private gateway.
    VirtualPrivateGateway = 3,
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
        Action::VpnGateway(_) => Some(TrafficPath::VirtualPrivateGateway),
        // AWS has no traffic-path value for a transit gateway.
        Action::TransitGateway(_) | Action::Blackhole | Action::Unsupported(_) => None,
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

/// The interfaces of a fabric by connection-tracking zone.
pub fn interfaces(f: &Fabric) -> FxHashMap<u32, Interface> {
    let c = &f.snapshot.config;
    let subnet_of = |subnet: &Option<String>| {
        let s = subnet.as_deref()?;
        c.subnets.iter().find(|x| x.id == s)
    };
    let iface = |id: String, addrs: SmallVec<[IpAddr; 2]>, route_table, subnet: Option<String>| {
        let instance = c
            .instances
            .iter()
            .find(|i| i.eni_id() == id)
            .map(|i| i.id.clone());
        let sn = subnet_of(&subnet);
        Interface {
            vpc: sn.map(|s| s.vpc.clone()),
            az_id: sn.and_then(|s| c.availability_zone_ids.get(&s.availability_zone).cloned()),
            subnet,
            instance,
            id,
            addrs,
            route_table,
            intermediate: false,
        }
    };
    let mut m = FxHashMap::default();
    for e in &f.enis {
        let mut addrs: SmallVec<[IpAddr; 2]> = e.ipv4.iter().map(|a| IpAddr::V4(*a)).collect();
        addrs.extend(e.ipv6.map(IpAddr::V6));
        let subnet = c
            .instances
            .iter()
            .find(|i| i.eni_id() == e.id)
            .map(|i| i.subnet.clone())
            .or_else(|| {
                let n = c.network_interfaces.iter().find(|n| n.id == e.id)?;
                Some(n.subnet.clone())
            });
        m.insert(
            e.zone,
            iface(e.id.clone(), addrs, Some(e.route_table), subnet),
        );
    }
    for e in &f.endpoint_enis {
        let subnet = c.endpoints.iter().find_map(|ep| {
            (0..ep.network_interfaces.len())
                .find(|&k| ep.eni_id(k) == e.id)
                .map(|k| ep.network_interfaces[k].subnet.clone())
        });
        let mut addrs = SmallVec::from_slice(&[IpAddr::V4(e.ip)]);
        addrs.extend(e.ip6.map(IpAddr::V6));
        m.insert(e.zone, iface(e.id.clone(), addrs, None, subnet));
    }
    for n in &f.lb_nodes {
        let lb = &f.load_balancers[n.lb as usize];
        let subnet = c
            .load_balancers
            .iter()
            .find(|l| l.id == lb.id)
            .and_then(|l| l.subnet_mappings.iter().find(|m| m.private_ip == n.ip))
            .map(|m| m.subnet.clone());
        let mut addrs = SmallVec::from_slice(&[IpAddr::V4(n.ip)]);
        addrs.extend(n.ip6.map(IpAddr::V6));
        let id = format!("{}@{}", lb.id, n.ip);
        m.insert(n.zone, iface(id, addrs, Some(n.route_table), subnet));
    }
    for g in &f.gwlb_endpoints {
        let subnet = c
            .endpoints
            .iter()
            .find(|e| e.id == g.id)
            .and_then(|e| e.network_interfaces.first())
            .map(|n| n.subnet.clone());
        let addrs = SmallVec::from_slice(&[IpAddr::V4(g.ip)]);
        let mut i = iface(g.eni.clone(), addrs, Some(g.route_table), subnet);
        i.intermediate = true;
        m.insert(g.zone, i);
    }
    m
}

/// AWS services' address ranges, for `pkt-src-aws-service` and `pkt-dst-aws-service`: AWS
/// writes "the name of the subset of IP address ranges" (ip-ranges.json's `service`: `S3`,
/// `DYNAMODB`, …) when the packet's address belongs to an AWS service. vpced knows the ranges
/// the configuration names: prefix lists filled `from_ip_ranges` (that file's service), and
/// every `[[aws_services]]` entry's prefix lists and `service_addresses` (the service of its
/// lists' ranges, or the last label of its name upper-cased: `com.amazonaws.us-east-1.s3` is
/// `S3`). The most specific range wins. Looked up off the hot path, when records are written.
#[derive(Debug, Clone, Default)]
pub struct Services {
    /// Longest prefix first.
    ranges: Vec<(ipnet::IpNet, String)>,
}

impl Services {
    pub fn of(c: &control::model::Config) -> Services {
        let mut ranges = Vec::new();
        let list = |id: &str| c.prefix_lists.iter().find(|p| p.id == id);
        for p in &c.prefix_lists {
            if let Some(src) = &p.from_ip_ranges {
                ranges.extend(p.entries.iter().map(|e| (e.cidr().0, src.service.clone())));
            }
        }
        for svc in &c.aws_services {
            let lists: Vec<_> = [&svc.prefix_list, &svc.ipv6_prefix_list]
                .into_iter()
                .flatten()
                .filter_map(|id| list(id))
                .collect();
            let name = lists
                .iter()
                .find_map(|p| p.from_ip_ranges.as_ref().map(|s| s.service.clone()))
                .unwrap_or_else(|| svc.name.rsplit('.').next().unwrap_or("").to_uppercase());
            for p in lists.iter().filter(|p| p.from_ip_ranges.is_none()) {
                ranges.extend(p.entries.iter().map(|e| (e.cidr().0, name.clone())));
            }
            ranges.extend(
                svc.service_addresses
                    .iter()
                    .map(|a| (ipnet::IpNet::from(*a), name.clone())),
            );
        }
        ranges.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
        Services { ranges }
    }

    /// The service whose range holds `a`, if any.
    pub fn of_addr(&self, a: IpAddr) -> Option<&str> {
        self.ranges
            .iter()
            .find(|(net, _)| net.contains(&a))
            .map(|(_, s)| s.as_str())
    }
}

/// How records are written: the format, the region (`${region}`) and the AWS services'
/// ranges ([`Services`]).
#[derive(Debug, Clone)]
pub struct Writer {
    pub format: Format,
    pub region: String,
    pub services: Services,
}

impl Default for Writer {
    /// The default format ([`HEADER`]); no region, no services.
    fn default() -> Writer {
        Writer {
            format: Format::default_v5(),
            region: String::new(),
            services: Services::default(),
        }
    }
}

impl Writer {
    /// Records in `format` for the deployment `f` runs (its region and services).
    pub fn new(format: Format, f: &Fabric) -> Writer {
        let c = &f.snapshot.config;
        Writer {
            format,
            region: c.region.clone(),
            services: Services::of(c),
        }
    }

    fn base<'a>(&'a self, iface: &'a Interface) -> Record<'a> {
        Record {
            interface_id: Some(&iface.id),
            vpc_id: iface.vpc.as_deref(),
            subnet_id: iface.subnet.as_deref(),
            instance_id: iface.instance.as_deref(),
            az_id: iface.az_id.as_deref(),
            region: (!self.region.is_empty()).then_some(self.region.as_str()),
            log_status: "OK",
            ..Record::default()
        }
    }

    /// Appends the records of `r` (one per direction that carried packets) to `out`. `epoch`
    /// is the Unix time of the flow table's second 0; `since` the start of the interval, in
    /// the table's seconds (a flow older than the interval starts its record there); `path`
    /// the [`traffic_path`] of an egress record's destination. Returns how many it wrote.
    pub fn records(
        &self,
        out: &mut String,
        r: &FlowRecord,
        iface: &Interface,
        epoch: u64,
        since: u32,
        path: impl Fn(IpAddr) -> Option<TrafficPath>,
    ) -> u64 {
        let mut written = 0;
        let start = epoch + u64::from(r.first_seen.max(since));
        let end = epoch + u64::from(r.last_seen);
        for ((pkt_src, sport), (pkt_dst, dport), (packets, bytes), flags) in [
            (r.lo, r.hi, r.lo_to_hi, r.lo_to_hi_flags),
            (r.hi, r.lo, r.hi_to_lo, r.hi_to_lo_flags),
        ] {
            if packets == 0 {
                continue;
            }
            let (direction, src, dst) = as_seen_by(iface, pkt_src, pkt_dst);
            let traffic_path = (direction == "egress").then(|| path(pkt_dst)).flatten();
            let rec = Record {
                srcaddr: Some(src),
                dstaddr: Some(dst),
                srcport: Some(sport),
                dstport: Some(dport),
                protocol: Some(r.proto),
                packets: Some(packets),
                bytes: Some(bytes),
                tcp_flags: Some(flags),
                start,
                end,
                action: Some("ACCEPT"),
                pkt_srcaddr: Some(pkt_src),
                pkt_dstaddr: Some(pkt_dst),
                pkt_src_aws_service: self.services.of_addr(pkt_src),
                pkt_dst_aws_service: self.services.of_addr(pkt_dst),
                flow_direction: Some(direction),
                traffic_path: traffic_path.map(|p| p as u8),
                ..self.base(iface)
            };
            self.format.write(out, &rec);
            written += 1;
        }
        written
    }

    /// Appends the REJECT record of a denied flow; `path` as for [`Writer::records`].
    pub fn reject(
        &self,
        out: &mut String,
        r: &Rejected,
        iface: &Interface,
        epoch: u64,
        path: impl Fn(IpAddr) -> Option<TrafficPath>,
    ) {
        let t = &r.tuple;
        let (direction, src, dst) = as_seen_by(iface, t.src, t.dst);
        let traffic_path = (direction == "egress").then(|| path(t.dst)).flatten();
        let rec = Record {
            srcaddr: Some(src),
            dstaddr: Some(dst),
            srcport: Some(t.sport),
            dstport: Some(t.dport),
            protocol: Some(t.proto),
            packets: Some(r.packets),
            bytes: Some(r.bytes),
            tcp_flags: Some(r.tcp_flags),
            start: epoch + u64::from(r.first),
            end: epoch + u64::from(r.last),
            action: Some("REJECT"),
            pkt_srcaddr: Some(t.src),
            pkt_dstaddr: Some(t.dst),
            pkt_src_aws_service: self.services.of_addr(t.src),
            pkt_dst_aws_service: self.services.of_addr(t.dst),
            flow_direction: Some(direction),
            traffic_path: traffic_path.map(|p| p as u8),
            ..self.base(iface)
        };
        self.format.write(out, &rec);
    }

    /// Appends AWS's SKIPDATA record for an interval (`start`..`end`, Unix time) whose
    /// records were lost, in part or whole: `log-status` SKIPDATA, the fields no record has
    /// `-`.
    pub fn skipdata(&self, out: &mut String, start: u64, end: u64) {
        let rec = Record {
            start,
            end,
            log_status: "SKIPDATA",
            region: (!self.region.is_empty()).then_some(self.region.as_str()),
            ..Record::default()
        };
        self.format.write(out, &rec);
    }
}

/// [`Writer::records`] in the default format.
pub fn write_records(
    out: &mut String,
    r: &FlowRecord,
    iface: &Interface,
    epoch: u64,
    since: u32,
    path: impl Fn(IpAddr) -> Option<TrafficPath>,
) {
    Writer::default().records(out, r, iface, epoch, since, path);
}

pub use crate::rejects::{RejectLog, Rejected};

/// [`Writer::reject`] in the default format.
pub fn write_reject(
    out: &mut String,
    r: &Rejected,
    iface: &Interface,
    epoch: u64,
    path: impl Fn(IpAddr) -> Option<TrafficPath>,
) {
    Writer::default().reject(out, r, iface, epoch, path);
}

/// [`Writer::skipdata`] in the default format.
pub fn write_skipdata(out: &mut String, start: u64, end: u64) {
    Writer::default().skipdata(out, start, end);
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
            lo_to_hi_flags: 3,
            hi_to_lo_flags: 19,
            first_seen: 10,
            last_seen: 12,
            ended: true,
        };
        let iface = Interface {
            id: "eni-08c0b194dec370347".into(),
            addrs: SmallVec::from_slice(&["10.0.0.176".parse().unwrap()]),
            route_table: Some(0),
            intermediate: false,
            vpc: None,
            subnet: None,
            instance: None,
            az_id: None,
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
            lo_to_hi_flags: 0,
            hi_to_lo_flags: 0,
            first_seen: 10,
            last_seen: 12,
            ended: false,
        };
        let gwlbe = Interface {
            id: "eni-0gwlbe".into(),
            addrs: SmallVec::from_slice(&["10.0.9.20".parse().unwrap()]),
            route_table: Some(0),
            intermediate: true,
            vpc: None,
            subnet: None,
            instance: None,
            az_id: None,
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
            log.record(7, &t, 60, 2, now);
        }
        let mut got = Vec::new();
        log.drain(|r| got.push(*r));
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].packets, got[0].bytes, got[0].first, got[0].last),
            (3, 180, 5, 7)
        );
        assert_eq!(got[0].tcp_flags, 2, "three SYNs");
        let iface = Interface {
            id: "eni-08c0b194dec370347".into(),
            addrs: SmallVec::from_slice(&["10.0.0.176".parse().unwrap()]),
            route_table: Some(0),
            intermediate: false,
            vpc: None,
            subnet: None,
            instance: None,
            az_id: None,
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
            log.record(7, &Tuple { sport: port, ..t }, 60, 0, 9);
        }
        let mut kept = 0u64;
        log.drain(|_| kept += 1);
        assert!(kept <= crate::rejects::CAPACITY as u64);
        assert_eq!(kept + log.lost(), 10_000);
    }

    /// A custom format with the fields the default leaves out: the flags each way (OR-ed,
    /// SYN-ACK as 18, SYN-ACK with FIN 19), the zone id, the AWS service of each end.
    #[test]
    fn a_custom_format_writes_flags_zone_ids_and_services() {
        let c = control::load_str(
            "flow-log.toml",
            r#"
region = "us-east-1"
[[prefix_lists]]
id = "pl-63a5400a"
name = "com.amazonaws.us-east-1.s3"
address_family = "IPv4"
entries = ["52.216.0.0/15"]
[[aws_services]]
name = "com.amazonaws.us-east-1.s3"
endpoint_types = ["gateway"]
prefix_list = "pl-63a5400a"
[[aws_services]]
name = "com.amazonaws.us-east-1.dynamodb"
endpoint_types = ["gateway"]
service_addresses = ["3.218.182.10"]
"#
            .to_string(),
            std::path::Path::new("."),
        )
        .unwrap()
        .config;
        let services = Services::of(&c);
        assert_eq!(
            services.of_addr("52.216.39.26".parse().unwrap()),
            Some("S3")
        );
        assert_eq!(
            services.of_addr("3.218.182.10".parse().unwrap()),
            Some("DYNAMODB")
        );
        assert_eq!(services.of_addr("10.0.0.176".parse().unwrap()), None);
        let w = Writer {
            format: Format::parse(
                "${srcaddr} ${tcp-flags} ${az-id} ${pkt-src-aws-service} ${pkt-dst-aws-service} ${account-id}",
            )
            .unwrap(),
            region: "us-east-1".into(),
            services,
        };
        let r = FlowRecord {
            zone: 7,
            proto: 6,
            lo: ("10.0.0.176".parse().unwrap(), 40312),
            hi: ("52.216.39.26".parse().unwrap(), 80),
            initiator_lo: true,
            lo_to_hi: (6, 473),
            hi_to_lo: (4, 1200),
            lo_to_hi_flags: 3,
            hi_to_lo_flags: 19,
            first_seen: 10,
            last_seen: 12,
            ended: true,
        };
        let iface = Interface {
            id: "eni-08c0b194dec370347".into(),
            addrs: SmallVec::from_slice(&["10.0.0.176".parse().unwrap()]),
            route_table: Some(0),
            intermediate: false,
            vpc: None,
            subnet: None,
            instance: None,
            az_id: Some("use1-az6".into()),
        };
        let mut out = String::new();
        assert_eq!(w.records(&mut out, &r, &iface, 0, 0, |_| None), 2);
        assert_eq!(
            out,
            "10.0.0.176 3 use1-az6 - S3 -\n52.216.39.26 19 use1-az6 S3 - -\n"
        );
    }
}
