//! Network ACLs in the pipeline: stateless, numbered, evaluated where a packet leaves or
//! enters a subnet (seed 000's deployment with an ACL on the instance's subnet): replies need
//! their own rule, the lowest-numbered match decides, traffic to the resolver and within a
//! subnet is not filtered, and each decision is counted on its rule.

mod common;

use common::{ctx, example_fabric, ip};
use dataplane::conntrack::FlowTable;
use dataplane::fabric::Fabric;
use dataplane::pipeline::{process, DropReason, NoObserver, Verdict};
use dataplane::wire::build::{packet, Transport};

const INSTANCE_ENI: &str = "eni-08c0b194dec370347";
const S3: &str = "com.amazonaws.us-east-1.s3";
const ACL: &str = "acl-0a000000000000001";
const FIRST_SG: &str = "[[security_groups]]\nid = \"sg-0a00000000000ec21\"";

/// The example with an ACL on the instance's subnet: `ingress` and `egress` rule lines.
fn with_acl(ingress: &str, egress: &str) -> Fabric {
    let acl = format!(
        "[[network_acls]]\nid = \"{ACL}\"\nvpc = \"vpc-09efc2534d3f29483\"\nsubnets = [\"subnet-0a0000000000000a1\"]\ningress = [\n{ingress}]\negress = [\n{egress}]\n\n{FIRST_SG}"
    );
    // Inserted before the first security group (a table of its own).
    example_fabric("s3-endpoints.toml", &[(FIRST_SG, &acl)])
}

fn tcp(src: &str, dst: &str, sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    packet(
        ip(src),
        ip(dst),
        Transport::Tcp {
            src_port: sport,
            dst_port: dport,
            flags,
            payload: b"",
        },
    )
    .unwrap()
}

fn run(f: &Fabric, flows: &FlowTable, from: &str, mut pkt: Vec<u8>) -> Verdict {
    let a = f.attachment(from).unwrap();
    process(f, &ctx(flows), a, &mut pkt, &mut NoObserver)
}

fn counts(c: &[(&str, u64)]) -> std::collections::BTreeMap<String, u64> {
    c.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

const SYN: u8 = 0x02;
const SYN_ACK: u8 = 0x12;
const ALLOW_ALL_OUT: &str =
    "  { rule = 100, action = \"allow\", protocol = \"all\", cidr = \"0.0.0.0/0\" },\n";

#[test]
fn a_reply_needs_its_own_inbound_rule() {
    let flows = FlowTable::new(1024);
    // Only port 80 in: S3's reply to an ephemeral port is denied by the `*` rule.
    let f = with_acl(
        "  { rule = 100, action = \"allow\", protocol = \"tcp\", ports = 80, cidr = \"0.0.0.0/0\" },\n",
        ALLOW_ALL_OUT,
    );
    let out = run(
        &f,
        &flows,
        INSTANCE_ENI,
        tcp("10.0.0.176", "52.216.39.26", 40000, 80, SYN),
    );
    assert!(matches!(out, Verdict::Forward { .. }), "{out:?}");
    let back = run(
        &f,
        &flows,
        S3,
        tcp("52.216.39.26", "10.0.0.176", 80, 40000, SYN_ACK),
    );
    assert_eq!(back, Verdict::Drop(DropReason::NetworkAclIngress));
    let report = f.registry.report();
    let acl = &report.network_acls[ACL];
    assert_eq!(acl.ingress, counts(&[("100", 0), ("*", 1)]), "{acl:?}");
    assert_eq!(acl.egress, counts(&[("100", 1), ("*", 0)]), "{acl:?}");
    assert_eq!(f.registry.drops(DropReason::NetworkAclIngress), 1);

    // The ephemeral ports allowed: the reply gets through.
    let f = with_acl(
        "  { rule = 100, action = \"allow\", protocol = \"tcp\", ports = \"1024-65535\", cidr = \"0.0.0.0/0\" },\n",
        ALLOW_ALL_OUT,
    );
    let flows = FlowTable::new(1024);
    run(
        &f,
        &flows,
        INSTANCE_ENI,
        tcp("10.0.0.176", "52.216.39.26", 40001, 80, SYN),
    );
    let back = run(
        &f,
        &flows,
        S3,
        tcp("52.216.39.26", "10.0.0.176", 80, 40001, SYN_ACK),
    );
    assert!(matches!(back, Verdict::Forward { .. }), "{back:?}");
}

#[test]
fn the_lowest_numbered_match_decides_and_egress_is_checked() {
    let flows = FlowTable::new(1024);
    let f = with_acl(
        "",
        "  { rule = 200, action = \"allow\", protocol = \"all\", cidr = \"0.0.0.0/0\" },\n  { rule = 90, action = \"deny\", protocol = \"tcp\", ports = 80, cidr = \"52.216.0.0/15\" },\n",
    );
    let out = run(
        &f,
        &flows,
        INSTANCE_ENI,
        tcp("10.0.0.176", "52.216.39.26", 40000, 80, SYN),
    );
    assert_eq!(out, Verdict::Drop(DropReason::NetworkAclEgress));
    let out = run(
        &f,
        &flows,
        INSTANCE_ENI,
        tcp("10.0.0.176", "52.216.39.26", 40000, 443, SYN),
    );
    assert!(matches!(out, Verdict::Forward { .. }), "{out:?}");
    let acl = &f.registry.report().network_acls[ACL];
    assert_eq!(acl.egress, counts(&[("90", 1), ("200", 1), ("*", 0)]));
}

#[test]
fn the_resolver_and_the_subnet_itself_are_not_filtered() {
    let flows = FlowTable::new(1024);
    // Nothing allowed at all.
    let f = with_acl("", "");
    let dns = packet(
        ip("10.0.0.176"),
        ip("10.0.0.2"),
        Transport::Udp {
            src_port: 40000,
            dst_port: 53,
            payload: b"\0\0\x01\0\0\x01\0\0\0\0\0\0\0\0\x01\0\x01",
        },
    )
    .unwrap();
    let v = run(&f, &flows, INSTANCE_ENI, dns);
    assert!(matches!(v, Verdict::Local { .. }), "{v:?}");
    // Out of the subnet: denied leaving it.
    let v = run(
        &f,
        &flows,
        INSTANCE_ENI,
        tcp("10.0.0.176", "10.0.1.125", 40000, 443, SYN),
    );
    assert_eq!(v, Verdict::Drop(DropReason::NetworkAclEgress));
    let acl = &f.registry.report().network_acls[ACL];
    assert_eq!(acl.egress, counts(&[("*", 1)]));
}
