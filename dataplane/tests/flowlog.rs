//! Flow-log records of packets that went through the pipeline in memory: the flow table's
//! counters drained into AWS's format, with `traffic-path` from the running configuration and
//! a GWLB endpoint logged as an intermediate interface.

mod common;

use dataplane::conntrack::FlowTable;
use dataplane::fabric::Fabric;
use dataplane::flowlog::{self, TrafficPath};
use dataplane::pipeline::{process, Ctx, NoObserver, Verdict};
use dataplane::wire::build::{packet, Transport};

fn fabric(example: &str) -> Fabric {
    common::example_fabric(example, &[])
}

use common::ip;
fn udp(src: &str, sport: u16, dst: &str, dport: u16) -> Vec<u8> {
    packet(
        ip(src),
        ip(dst),
        Transport::Udp {
            src_port: sport,
            dst_port: dport,
            payload: b"vpce flow log",
        },
    )
    .unwrap()
}

fn send(f: &Fabric, flows: &FlowTable, from: &str, pkt: &mut [u8]) -> Verdict {
    let cx = Ctx {
        lane: 0,
        now: 5,
        flows,
        offload: dataplane::pipeline::Offload::NONE,
    };
    let a = f.attachment(from).unwrap();
    process(f, &cx, a, pkt, &mut NoObserver)
}

/// The records of everything in `flows`, as the daemon's flow-log thread writes them.
fn records(f: &Fabric, flows: &FlowTable) -> Vec<String> {
    let ifaces = flowlog::interfaces(f);
    let mut out = String::new();
    flows.drain(|r| {
        let i = &ifaces[&r.zone];
        flowlog::write_records(&mut out, r, i, 1_700_000_000, 0, |dst| {
            flowlog::traffic_path(f, i, dst)
        });
    });
    out.lines().map(str::to_owned).collect()
}

const INSTANCE_ENI: &str = "eni-08c0b194dec370347";
const S3: &str = "com.amazonaws.us-east-1.s3";
const IGW: &str = "igw-0d00d00000000001";

#[test]
fn egress_records_name_the_path_their_route_takes() {
    let f = fabric("s3-endpoints.toml");
    let flows = FlowTable::new(1024);
    // To S3 through the gateway endpoint and back; to the internet and back.
    for (peer, port, from) in [("52.216.39.26", 443, S3), ("198.51.100.7", 53, IGW)] {
        let mut out = udp("10.0.0.176", 40000, peer, port);
        assert!(matches!(
            send(&f, &flows, INSTANCE_ENI, &mut out),
            Verdict::Forward { .. }
        ));
        let reply_to = if from == IGW {
            "203.0.113.176"
        } else {
            "10.0.0.176"
        };
        let mut back = udp(peer, port, reply_to, 40000);
        let v = send(&f, &flows, from, &mut back);
        assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
    }
    let mut got = records(&f, &flows);
    got.sort();
    let want = [
        "5 - eni-08c0b194dec370347 10.0.0.176 198.51.100.7 40000 53 17 1 41 1700000005 1700000005 ACCEPT OK 10.0.0.176 198.51.100.7 egress 8",
        "5 - eni-08c0b194dec370347 10.0.0.176 52.216.39.26 40000 443 17 1 41 1700000005 1700000005 ACCEPT OK 10.0.0.176 52.216.39.26 egress 7",
        "5 - eni-08c0b194dec370347 198.51.100.7 10.0.0.176 53 40000 17 1 41 1700000005 1700000005 ACCEPT OK 198.51.100.7 10.0.0.176 ingress -",
        "5 - eni-08c0b194dec370347 52.216.39.26 10.0.0.176 443 40000 17 1 41 1700000005 1700000005 ACCEPT OK 52.216.39.26 10.0.0.176 ingress -",
    ];
    assert_eq!(got, want);
    // Within the VPC: the local route.
    let ifaces = flowlog::interfaces(&f);
    let eni = ifaces.values().find(|i| i.id == INSTANCE_ENI).unwrap();
    assert_eq!(
        flowlog::traffic_path(&f, eni, ip("10.0.1.9")),
        Some(TrafficPath::SameVpc)
    );
    // A blackhole route has no path.
    assert_eq!(flowlog::traffic_path(&f, eni, ip("192.0.2.1")), None);
}

#[test]
fn a_gwlb_endpoint_is_an_intermediate_interface_and_its_route_a_path_in_the_vpc() {
    let f = fabric("gwlb-inspection.toml");
    let ifaces = flowlog::interfaces(&f);
    let gwlbe = ifaces
        .values()
        .find(|i| i.id == f.gwlb_endpoints[0].eni)
        .unwrap();
    assert!(gwlbe.intermediate);
    // The endpoint's subnet sends inspected traffic on to the internet gateway.
    assert_eq!(
        flowlog::traffic_path(&f, gwlbe, ip("198.51.100.7")),
        Some(TrafficPath::InternetGateway)
    );
    // The application's subnet sends everything out through the GWLB endpoint: a resource
    // in the VPC.
    let web = ifaces
        .values()
        .find(|i| i.id == "eni-0c00000000000000c")
        .unwrap();
    assert!(!web.intermediate);
    assert_eq!(
        flowlog::traffic_path(&f, web, ip("198.51.100.7")),
        Some(TrafficPath::SameVpc)
    );
}
