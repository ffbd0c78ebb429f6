//! The pipeline in memory, no TUN: packets from the seed 000 deployment take the
//! internet-gateway and gateway-endpoint paths, both families, and every drop is counted with
//! its reason.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use dataplane::conntrack::FlowTable;
use dataplane::fabric::{AttachmentIdx, AttachmentKind, Fabric};
use dataplane::pipeline::{process, Ctx, DropReason, NoObserver, Recorder, Verdict};

fn ctx(flows: &FlowTable) -> Ctx<'_> {
    Ctx {
        lane: 0,
        now: 0,
        flows,
        offload: dataplane::pipeline::Offload::NONE,
    }
}
use dataplane::stats::Registry;
use dataplane::wire::build::{packet, Transport};
use dataplane::wire::{self, Ipv4Packet, WireError};

fn fabric() -> Fabric {
    common::example_fabric("s3-endpoints.toml", &[])
}

fn att(f: &Fabric, id: &str) -> AttachmentIdx {
    f.attachment(id)
        .unwrap_or_else(|| panic!("no attachment {id}"))
}

const INSTANCE_ENI: &str = "eni-08c0b194dec370347";
const IGW: &str = "igw-0d00d00000000001";
const S3: &str = "com.amazonaws.us-east-1.s3";
const ENDPOINT: &str = "vpce-0abcdef0123456789";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn echo(src: &str, dst: &str) -> Vec<u8> {
    packet(
        ip(src),
        ip(dst),
        Transport::EchoRequest {
            ident: 1,
            seq: 1,
            payload: b"vpce",
        },
    )
    .unwrap()
}

fn run(f: &Fabric, from: &str, pkt: &mut [u8]) -> Verdict {
    // One flow table per test thread: a test's packets see the flows its earlier packets
    // opened (replies pass the security groups).
    thread_local! {
        static FLOWS: FlowTable = FlowTable::new(1024);
    }
    FLOWS.with(|flows| process(f, &ctx(flows), att(f, from), pkt, &mut NoObserver))
}

#[test]
fn attachments_of_the_seed_deployment() {
    let f = fabric();
    let kinds: Vec<(&str, AttachmentKind)> = f
        .attachments
        .iter()
        .map(|a| (a.id.as_str(), a.kind))
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    let eni = &f.attachments[att(&f, INSTANCE_ENI) as usize];
    assert_eq!(eni.namespace.as_deref(), Some("s3-instance"));
    assert!(eni
        .link
        .addresses
        .iter()
        .any(|a| a.to_string() == "10.0.0.176/24"));
    assert!(eni
        .link
        .addresses
        .iter()
        .any(|a| a.to_string() == "2600:1f18:1234:5600::b0/64"));
    let s3 = &f.attachments[att(&f, S3) as usize];
    assert!(s3.link.loopback.contains(&ip("52.216.39.26")));
}

#[test]
fn s3_address_goes_through_the_gateway_endpoint_unchanged() {
    let f = fabric();
    let mut pkt = echo("10.0.0.176", "52.216.39.26");
    let before = pkt.clone();
    let v = run(&f, INSTANCE_ENI, &mut pkt);
    assert_eq!(
        v,
        Verdict::Forward {
            egress: att(&f, S3),
            len: pkt.len()
        }
    );
    assert_eq!(pkt, before, "a gateway endpoint translates nothing");
    let ep = &f.gateway_endpoints[0];
    assert_eq!(ep.id, ENDPOINT);
    assert_eq!(ep.counters.read().tx_packets, 1);
    // The reply from S3's network comes back to the instance.
    let mut reply = echo("52.216.39.26", "10.0.0.176");
    assert_eq!(
        run(&f, S3, &mut reply),
        Verdict::Forward {
            egress: att(&f, INSTANCE_ENI),
            len: reply.len()
        }
    );
    assert_eq!(ep.counters.read().rx_packets, 1);
}

#[test]
fn public_address_goes_through_the_internet_gateway_with_its_public_ip() {
    let f = fabric();
    let mut pkt = packet(ip("10.0.0.176"), ip("8.8.8.8"), Transport::syn(40000, 80)).unwrap();
    let v = run(&f, INSTANCE_ENI, &mut pkt);
    assert_eq!(
        v,
        Verdict::Forward {
            egress: att(&f, IGW),
            len: pkt.len()
        }
    );
    let p = wire::parse(&pkt).expect("still a valid packet, checksums included");
    assert_eq!(p.src, ip("203.0.113.176"));
    // The reply: public destination translated back to the private address.
    let mut reply = packet(
        ip("8.8.8.8"),
        ip("203.0.113.176"),
        Transport::Tcp {
            src_port: 80,
            dst_port: 40000,
            flags: 0x12,
            payload: &[],
        },
    )
    .unwrap();
    let v = run(&f, IGW, &mut reply);
    assert_eq!(
        v,
        Verdict::Forward {
            egress: att(&f, INSTANCE_ENI),
            len: reply.len()
        }
    );
    assert_eq!(wire::parse(&reply).unwrap().dst, ip("10.0.0.176"));
    assert_eq!(f.igws[0].counters.read().tx_packets, 1);
    assert_eq!(f.igws[0].counters.read().rx_packets, 1);
}

#[test]
fn ipv6_takes_the_same_paths_without_translation() {
    let f = fabric();
    let me = "2600:1f18:1234:5600::b0";
    let mut pkt = echo(me, "2600:1fa0:8000::1a");
    assert_eq!(
        run(&f, INSTANCE_ENI, &mut pkt),
        Verdict::Forward {
            egress: att(&f, S3),
            len: pkt.len()
        }
    );
    let mut pkt = echo(me, "2001:4860:4860::8888");
    assert_eq!(
        run(&f, INSTANCE_ENI, &mut pkt),
        Verdict::Forward {
            egress: att(&f, IGW),
            len: pkt.len()
        }
    );
    assert_eq!(wire::parse(&pkt).unwrap().src, ip(me));
    let mut reply = echo("2001:4860:4860::8888", me);
    assert_eq!(
        run(&f, IGW, &mut reply),
        Verdict::Forward {
            egress: att(&f, INSTANCE_ENI),
            len: reply.len()
        }
    );
    let mut reply = echo("2600:1fa0:8000::1a", me);
    assert_eq!(
        run(&f, S3, &mut reply),
        Verdict::Forward {
            egress: att(&f, INSTANCE_ENI),
            len: reply.len()
        }
    );
}

#[test]
fn drops_have_reasons_and_counters() {
    let f = fabric();
    let cases: Vec<(&str, Vec<u8>, DropReason)> = vec![
        (
            INSTANCE_ENI,
            echo("10.0.0.99", "8.8.8.8"),
            DropReason::SourceDestCheck,
        ),
        (
            INSTANCE_ENI,
            echo("10.0.0.176", "192.0.2.10"),
            DropReason::BlackholeRoute,
        ),
        (
            INSTANCE_ENI,
            echo("10.0.0.176", "10.0.0.99"),
            DropReason::NoSuchAddress,
        ),
        (
            INSTANCE_ENI,
            echo("10.0.0.176", "10.0.1.125"),
            // An interface endpoint's ENI carries TCP and UDP only; it does not answer ping.
            DropReason::EndpointProtocol,
        ),
        (
            IGW,
            echo("8.8.8.8", "203.0.113.99"),
            DropReason::UnknownPublicAddress,
        ),
        (
            S3,
            echo("52.216.39.26", "172.16.0.1"),
            DropReason::NoReturnPath,
        ),
        (
            INSTANCE_ENI,
            vec![0x45, 0, 0],
            DropReason::Malformed(WireError::Truncated),
        ),
        (
            INSTANCE_ENI,
            vec![0x75; 60],
            DropReason::Malformed(WireError::BadVersion),
        ),
    ];
    for (from, mut pkt, reason) in cases {
        assert_eq!(run(&f, from, &mut pkt), Verdict::Drop(reason), "{reason:?}");
        assert!(f.registry.drops(reason) >= 1, "{reason:?}");
    }
    let report = f.registry.report();
    assert_eq!(report.drops["blackhole_route"], 1);
    assert_eq!(report.drops["source_dest_check"], 1);
}

#[test]
fn main_table_subnet_has_no_route_to_the_internet() {
    // An ENI in the private subnet (main table: local only) reaches nothing outside the VPC.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/s3-endpoints.toml");
    let text = std::fs::read_to_string(&path).unwrap()
        + "\n[[network_interfaces]]\nid = \"eni-0private00000001\"\nsubnet = \"subnet-0a0000000000000b1\"\nprivate_ip = \"10.0.1.50\"\n";
    let loaded = control::load_str(&path, text, path.parent().unwrap()).unwrap();
    let f = Fabric::build(
        control::compile(&loaded).unwrap().snapshot,
        Arc::new(Registry::default()),
    )
    .unwrap();
    let mut pkt = echo("10.0.1.50", "8.8.8.8");
    assert_eq!(
        run(&f, "eni-0private00000001", &mut pkt),
        Verdict::Drop(DropReason::NoRoute)
    );
    let mut pkt = echo("10.0.1.50", "10.0.0.176");
    assert_eq!(
        run(&f, "eni-0private00000001", &mut pkt),
        Verdict::Forward {
            egress: att(&f, INSTANCE_ENI),
            len: pkt.len()
        }
    );
}

#[test]
fn trailing_bytes_are_not_forwarded() {
    let f = fabric();
    let mut pkt = echo("10.0.0.176", "52.216.39.26");
    let len = pkt.len();
    pkt.extend_from_slice(&[0xaa; 7]);
    assert_eq!(
        run(&f, INSTANCE_ENI, &mut pkt),
        Verdict::Forward {
            egress: att(&f, S3),
            len
        }
    );
}

#[test]
fn observer_sees_every_step() {
    let f = fabric();
    let mut pkt = echo("10.0.0.176", "8.8.8.8");
    let mut rec = Recorder::default();
    let flows = FlowTable::new(1024);
    let v = process(&f, &ctx(&flows), att(&f, INSTANCE_ENI), &mut pkt, &mut rec);
    assert!(matches!(v, Verdict::Forward { .. }));
    let steps = rec.transcript();
    for s in [
        "Ingress",
        "Parsed",
        "SourceDestCheck",
        "RouteLookup",
        "Translated",
        "Verdict",
    ] {
        assert!(steps.contains(s), "{s} missing from\n{steps}");
    }
}

#[test]
fn malformed_bursts_never_panic() {
    let f = fabric();
    let good = echo("10.0.0.176", "8.8.8.8");
    let mut seed = 0x243f_6a88_85a3_08d3u64;
    let mut rnd = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for from in [INSTANCE_ENI, IGW, S3] {
        for _ in 0..5000 {
            let mut p = good.clone();
            let cut = (rnd() as usize) % (p.len() + 1);
            p.truncate(cut);
            for _ in 0..(rnd() % 4) {
                if !p.is_empty() {
                    let i = (rnd() as usize) % p.len();
                    p[i] = rnd() as u8;
                }
            }
            let _ = run(&f, from, &mut p);
        }
    }
    // Options: a valid header with IHL 6 is forwarded, not dropped.
    let mut p = good[..20].to_vec();
    p[0] = 0x46;
    p.extend_from_slice(&[1, 1, 1, 0]);
    p.extend_from_slice(&good[20..]);
    let n = p.len() as u16;
    p[2..4].copy_from_slice(&n.to_be_bytes());
    Ipv4Packet::new_unchecked(&mut p[..]).fill_checksum();
    assert!(matches!(
        run(&f, INSTANCE_ENI, &mut p),
        Verdict::Forward { .. }
    ));
    assert_eq!(
        wire::parse(&p).unwrap().src,
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, 176))
    );
}

/// Peering, an ENI as a route target (a middlebox), and ingress routing through an IGW's edge
/// route table to that middlebox — on a small two-VPC deployment written here.
#[test]
fn peering_middlebox_and_ingress_routing() {
    let text = r#"
region = "us-east-1"
[[vpcs]]
id = "vpc-a"
cidr_blocks = ["10.0.0.0/16"]
[[vpcs]]
id = "vpc-b"
cidr_blocks = ["10.1.0.0/16"]
[[subnets]]
id = "subnet-a1"
vpc = "vpc-a"
availability_zone = "us-east-1a"
cidr = "10.0.1.0/24"
[[subnets]]
id = "subnet-a2"
vpc = "vpc-a"
availability_zone = "us-east-1a"
cidr = "10.0.2.0/24"
[[subnets]]
id = "subnet-b1"
vpc = "vpc-b"
availability_zone = "us-east-1a"
cidr = "10.1.1.0/24"
[[internet_gateways]]
id = "igw-a"
vpc = "vpc-a"
[[peering_connections]]
id = "pcx-ab"
requester_vpc = "vpc-a"
accepter_vpc = "vpc-b"
[[route_tables]]
id = "rtb-a1"
vpc = "vpc-a"
main = true
subnets = ["subnet-a1"]
routes = [
  { destination = "10.1.0.0/16", target = "pcx-ab" },
  { destination = "0.0.0.0/0", target = "eni-fw" },
]
[[route_tables]]
id = "rtb-a2"
vpc = "vpc-a"
subnets = ["subnet-a2"]
routes = [{ destination = "0.0.0.0/0", target = "igw-a" }]
[[route_tables]]
id = "rtb-edge"
vpc = "vpc-a"
gateways = ["igw-a"]
routes = [{ destination = "10.0.1.0/24", target = "eni-fw" }]
[[route_tables]]
id = "rtb-b"
vpc = "vpc-b"
main = true
routes = [{ destination = "10.0.0.0/16", target = "pcx-ab" }]
[[instances]]
id = "i-a"
subnet = "subnet-a1"
private_ip = "10.0.1.10"
public_ip = "203.0.113.10"
[[instances]]
id = "i-b"
subnet = "subnet-b1"
private_ip = "10.1.1.10"
[[network_interfaces]]
id = "eni-fw"
subnet = "subnet-a2"
private_ip = "10.0.2.10"
source_dest_check = false
"#;
    let loaded = control::load_str("t.toml", text.to_string(), Path::new(".")).unwrap();
    let f = Fabric::build(
        control::compile(&loaded).unwrap().snapshot,
        Arc::new(Registry::default()),
    )
    .unwrap();
    let a = att(&f, "eni-a");
    let b = att(&f, "eni-b");
    let fw = att(&f, "eni-fw");
    let igw = att(&f, "igw-a");
    // Peering both ways.
    let mut p = echo("10.0.1.10", "10.1.1.10");
    assert_eq!(
        run(&f, "eni-a", &mut p),
        Verdict::Forward {
            egress: b,
            len: p.len()
        }
    );
    let mut p = echo("10.1.1.10", "10.0.1.10");
    assert_eq!(
        run(&f, "eni-b", &mut p),
        Verdict::Forward {
            egress: a,
            len: p.len()
        }
    );
    // Peering only reaches the peer's own addresses.
    let mut p = echo("10.0.1.10", "10.1.9.9");
    assert_eq!(
        run(&f, "eni-a", &mut p),
        Verdict::Drop(DropReason::NoSuchAddress)
    );
    // Default route to the middlebox, destination unchanged.
    let mut p = echo("10.0.1.10", "8.8.8.8");
    assert_eq!(
        run(&f, "eni-a", &mut p),
        Verdict::Forward {
            egress: fw,
            len: p.len()
        }
    );
    assert_eq!(wire::parse(&p).unwrap().dst, ip("8.8.8.8"));
    // The middlebox (source/dest check off) forwards it on through its own subnet's IGW route;
    // the IGW translates the instance's address.
    assert_eq!(
        run(&f, "eni-fw", &mut p),
        Verdict::Forward {
            egress: igw,
            len: p.len()
        }
    );
    assert_eq!(wire::parse(&p).unwrap().src, ip("203.0.113.10"));
    // Inbound: the edge route table sends the instance's subnet to the middlebox first.
    let mut p = echo("8.8.8.8", "203.0.113.10");
    assert_eq!(
        run(&f, "igw-a", &mut p),
        Verdict::Forward {
            egress: fw,
            len: p.len()
        }
    );
    assert_eq!(wire::parse(&p).unwrap().dst, ip("10.0.1.10"));
    // From the middlebox to the instance: local.
    assert_eq!(
        run(&f, "eni-fw", &mut p),
        Verdict::Forward {
            egress: a,
            len: p.len()
        }
    );
}
