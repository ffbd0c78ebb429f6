//! Dual-stack PrivateLink (`examples/privatelink-dual-stack.toml`) through the pipeline in
//! memory: an IPv6 consumer reaches the IPv4 target group (translated both ways, checksums
//! right), an IPv4 consumer the IPv6 target group with PROXY v2, an IPv6 consumer the IPv6
//! group (rewritten in its own family) — and an IPv4-only endpoint has no IPv6 address.

mod common;

use std::net::IpAddr;

use dataplane::conntrack::FlowTable;
use dataplane::fabric::Fabric;
use dataplane::pipeline::{process_in, DropReason, NoObserver, Verdict};
use dataplane::wire::build::{packet, Transport};
use dataplane::wire::{self, tcp_edit, tcp_flags, Parsed};

const EC2_A: &str = "eni-0a00000000000000a";
const EC2_B: &str = "eni-0b00000000000000b";
const A4: &str = "10.0.128.10";
const A6: &str = "2600:1f18:a:a80::10";
const VPCE4: &str = "10.0.128.100";
const VPCE6: &str = "2600:1f18:a:a80::100";
const B4: &str = "10.1.144.10";
const B6: &str = "2600:1f18:b:b90::10";
const NODE4: &str = "10.1.128.50";
const NODE6: &str = "2600:1f18:b:b80::50";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

struct Lab {
    f: Fabric,
    flows: FlowTable,
}

impl Lab {
    fn new() -> Lab {
        Lab {
            f: common::example_fabric("privatelink-dual-stack.toml", &[]),
            flows: FlowTable::new(1024),
        }
    }

    /// A TCP segment from `from`'s device through the pipeline: the verdict, and the packet as
    /// it left, parsed (its checksums verified by parsing and `checksums_ok`).
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        from: &str,
        (src, sport): (&str, u16),
        (dst, dport): (&str, u16),
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) -> (Verdict, Vec<u8>) {
        let t = Transport::TcpSegment {
            src_port: sport,
            dst_port: dport,
            seq,
            ack,
            flags,
            payload,
        };
        let mut v = packet(ip(src), ip(dst), t).unwrap();
        if flags == tcp_flags::SYN {
            v = with_mss(v, 1460);
        }
        let n = v.len();
        v.resize(n + 256, 0);
        let a = self.f.attachment(from).unwrap();
        let verdict = process_in(
            &self.f,
            &common::ctx(&self.flows),
            a,
            &mut v,
            n,
            &mut NoObserver,
        );
        if let Verdict::Forward { len, .. } = verdict {
            v.truncate(len);
        }
        (verdict, v)
    }
}

/// The transport checksum of `v` summed whole equals what it carries.
fn checksums_ok(v: &[u8]) -> Parsed {
    let p = wire::parse(v).expect("a valid packet");
    let mut again = v.to_vec();
    wire::complete_checksum(&mut again, &p);
    assert_eq!(again, v, "transport checksum right");
    p
}

/// A SYN (no payload) given an MSS option, as every stack sends one.
fn with_mss(mut v: Vec<u8>, mss: u16) -> Vec<u8> {
    let p = wire::parse(&v).unwrap();
    let off = p.l4_offset.unwrap();
    v.extend_from_slice(&[2, 4]);
    v.extend_from_slice(&mss.to_be_bytes());
    v[off + 12] = 6 << 4;
    let n = v.len();
    if p.is_ipv4() {
        v[2..4].copy_from_slice(&(n as u16).to_be_bytes());
        wire::Ipv4Packet::new_unchecked(&mut v[..]).fill_checksum();
    } else {
        v[4..6].copy_from_slice(&((n - 40) as u16).to_be_bytes());
    }
    let q = wire::parse(&v).unwrap();
    wire::complete_checksum(&mut v, &q);
    v
}

/// The MSS option of a SYN.
fn mss(v: &[u8]) -> u16 {
    let p = wire::parse(v).unwrap();
    let l4 = &v[p.l4_offset.unwrap()..p.len];
    let i = l4[20..].iter().position(|&b| b == 2).unwrap() + 20;
    u16::from_be_bytes([l4[i + 2], l4[i + 3]])
}

#[test]
fn an_ipv6_consumer_reaches_the_ipv4_target_group() {
    let lab = Lab::new();
    let fwd = |v: &Verdict, to: &str| {
        assert!(
            matches!(v, Verdict::Forward { egress, .. } if *egress == lab.f.attachment(to).unwrap()),
            "{v:?}"
        );
    };
    let (v, syn) = lab.send(
        EC2_A,
        (A6, 40000),
        (VPCE6, 80),
        1000,
        0,
        tcp_flags::SYN,
        b"",
    );
    fwd(&v, EC2_B);
    let p = checksums_ok(&syn);
    // AWS: the NLB speaks to targets in the target group's family, from the node's address.
    assert_eq!((p.src, p.dst, p.dst_port), (ip(NODE4), ip(B4), 80));
    assert!(p.is_ipv4());
    // IPv4's header is 20 bytes shorter: the MSS stays the client's.
    assert_eq!(p.len, 20 + 24);
    assert_eq!(mss(&syn), 1460);
    let port = p.src_port;
    let (v, synack) = lab.send(EC2_B, (B4, 80), (NODE4, port), 5000, 1001, 0x12, b"");
    fwd(&v, EC2_A);
    let r = checksums_ok(&synack);
    assert_eq!(
        (r.src, r.src_port, r.dst, r.dst_port),
        (ip(VPCE6), 80, ip(A6), 40000)
    );
    // Data both ways keeps the translation; the payload arrives whole.
    let req = b"GET / HTTP/1.1\r\n\r\n";
    let (_, data) = lab.send(EC2_A, (A6, 40000), (VPCE6, 80), 1001, 5001, 0x18, req);
    let d = checksums_ok(&data);
    assert_eq!((d.src, d.src_port), (ip(NODE4), port));
    assert!(data.ends_with(req));
    let (_, resp) = lab.send(
        EC2_B,
        (B4, 80),
        (NODE4, port),
        5001,
        1001 + req.len() as u32,
        0x18,
        b"Hello!\n",
    );
    assert!(checksums_ok(&resp).dst == ip(A6) && resp.ends_with(b"Hello!\n"));
}

#[test]
fn an_ipv4_consumer_reaches_the_ipv6_target_group_with_proxy_v2() {
    let lab = Lab::new();
    let (v, syn) = lab.send(
        EC2_A,
        (A4, 41000),
        (VPCE4, 8080),
        1000,
        0,
        tcp_flags::SYN,
        b"",
    );
    assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
    let p = checksums_ok(&syn);
    assert_eq!((p.src, p.dst, p.dst_port), (ip(NODE6), ip(B6), 8080));
    // Room for IPv6's 20 more header bytes and the PROXY header (28 + TLV of the endpoint id)
    // in the target's segments: the client's MSS (1460 from the builder) lowered by both.
    let proxy_len = 16 + 12 + 3 + 1 + "vpce-0a000000000000001".len();
    assert_eq!(usize::from(mss(&syn)), 1460 - 20 - proxy_len);
    let port = p.src_port;
    lab.send(EC2_B, (B6, 8080), (NODE6, port), 5000, 1001, 0x12, b"");
    let req = b"GET / HTTP/1.1\r\n\r\n";
    let (_, data) = lab.send(EC2_A, (A4, 41000), (VPCE4, 8080), 1001, 5001, 0x18, req);
    let d = checksums_ok(&data);
    let payload = &data[d.l4_offset.unwrap() + 20..];
    // The header speaks the client's family: TCP over IPv4, the consumer and the endpoint.
    assert_eq!(&payload[12..14], &[0x21, 0x11]);
    assert_eq!(&payload[16..20], &[10, 0, 128, 10]);
    assert_eq!(&payload[20..24], &[10, 0, 128, 100]);
    assert!(payload.ends_with(req));
    // The target acknowledges header and request; the consumer sees its own bytes acked.
    let acked = 1001 + (proxy_len + req.len()) as u32;
    let (_, ack) = lab.send(
        EC2_B,
        (B6, 8080),
        (NODE6, port),
        5001,
        acked,
        tcp_flags::ACK,
        b"",
    );
    let a = checksums_ok(&ack);
    assert!(a.is_ipv4());
    let l4 = &ack[a.l4_offset.unwrap()..];
    assert_eq!(tcp_edit::ack(l4), 1001 + req.len() as u32);
}

#[test]
fn an_ipv6_consumer_reaches_the_ipv6_target_group_in_its_family() {
    let lab = Lab::new();
    let (_, syn) = lab.send(
        EC2_A,
        (A6, 42000),
        (VPCE6, 8080),
        1000,
        0,
        tcp_flags::SYN,
        b"",
    );
    let p = checksums_ok(&syn);
    assert_eq!((p.src, p.dst), (ip(NODE6), ip(B6)));
    let port = p.src_port;
    lab.send(EC2_B, (B6, 8080), (NODE6, port), 5000, 1001, 0x12, b"");
    let (_, data) = lab.send(EC2_A, (A6, 42000), (VPCE6, 8080), 1001, 5001, 0x18, b"x");
    let d = checksums_ok(&data);
    let payload = &data[d.l4_offset.unwrap() + 20..];
    assert_eq!(&payload[12..14], &[0x21, 0x21], "PROXY v2, TCP over IPv6");
    assert_eq!(
        &payload[16..32],
        &ip(A6)
            .to_string()
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets()
    );
    assert_eq!(u16::from_be_bytes([payload[48], payload[49]]), 42000);
}

/// The hands-on example is IPv4 only: its endpoint has no IPv6 address, and the consumer's
/// IPv6 packet to the address it would have goes nowhere.
#[test]
fn an_ipv4_endpoint_has_no_ipv6_address() {
    let lab = Lab {
        f: common::example_fabric(
            "privatelink-hands-on.toml",
            &[(
                "cidr_blocks = [\"10.0.0.0/16\"]",
                "cidr_blocks = [\"10.0.0.0/16\"]\nipv6_cidr_blocks = [\"2600:1f18:a:a00::/56\"]",
            )],
        ),
        flows: FlowTable::new(64),
    };
    let (v, _) = lab.send(EC2_A, (A6, 40000), (VPCE6, 80), 1, 0, tcp_flags::SYN, b"");
    assert!(
        matches!(
            v,
            Verdict::Drop(DropReason::SourceDestCheck | DropReason::NoSuchAddress)
        ),
        "{v:?}"
    );
}

/// A dual-stack interface endpoint to an AWS service (seed 000's S3 endpoint made dual-stack):
/// an IPv6 request goes to the service's IPv6 address, source kept, and the answer comes back
/// from the endpoint's IPv6 address; IPv4 requests still take an IPv4 service address.
#[test]
fn a_dual_stack_endpoint_to_an_aws_service_keeps_each_family() {
    let f = common::example_fabric(
        "s3-endpoints.toml",
        &[
            (
                "{ subnet = \"subnet-0a0000000000000b1\", private_ip = \"10.0.1.125\" },\n]",
                "{ subnet = \"subnet-0a0000000000000b1\", private_ip = \"10.0.1.125\", ipv6_address = \"2600:1f18:1234:5601::7d\" },\n]\nip_address_type = \"dualstack\"",
            ),
            (
                "description = \"HTTP from the VPC (the lab's S3 answers plain HTTP)\" },",
                "description = \"HTTP from the VPC (the lab's S3 answers plain HTTP)\" },\n  { protocol = \"tcp\", ports = 80, cidr = \"2600:1f18:1234:5600::/56\" },",
            ),
        ],
    );
    let lab = Lab {
        f,
        flows: FlowTable::new(64),
    };
    let me = "eni-08c0b194dec370347";
    let s3 = "com.amazonaws.us-east-1.s3";
    let (v, syn) = lab.send(
        me,
        ("2600:1f18:1234:5600::b0", 40000),
        ("2600:1f18:1234:5601::7d", 80),
        1,
        0,
        tcp_flags::SYN,
        b"",
    );
    assert!(
        matches!(v, Verdict::Forward { egress, .. } if egress == lab.f.attachment(s3).unwrap()),
        "{v:?}"
    );
    let p = checksums_ok(&syn);
    assert_eq!(
        (p.src, p.dst),
        (ip("2600:1f18:1234:5600::b0"), ip("2600:1fa0:8000::1a"))
    );
    let (v, synack) = lab.send(
        s3,
        ("2600:1fa0:8000::1a", 80),
        ("2600:1f18:1234:5600::b0", 40000),
        5,
        2,
        0x12,
        b"",
    );
    assert!(
        matches!(v, Verdict::Forward { egress, .. } if egress == lab.f.attachment(me).unwrap()),
        "{v:?}"
    );
    assert_eq!(checksums_ok(&synack).src, ip("2600:1f18:1234:5601::7d"));
    let (v, syn4) = lab.send(
        me,
        ("10.0.0.176", 40001),
        ("10.0.1.125", 80),
        1,
        0,
        tcp_flags::SYN,
        b"",
    );
    assert!(
        matches!(v, Verdict::Forward { egress, .. } if egress == lab.f.attachment(s3).unwrap()),
        "{v:?}"
    );
    let q = checksums_ok(&syn4);
    assert_eq!(q.src, ip("10.0.0.176"));
    assert!(
        q.dst.is_ipv4() && q.dst != ip("10.0.1.125"),
        "an IPv4 service address: {q:?}"
    );
}
