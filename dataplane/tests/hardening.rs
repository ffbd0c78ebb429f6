//! What an adversarial tenant tried (issue 19), in memory on seed 000: fragments and ICMP
//! messages that slipped past a security group, and flows crafted to crowd the flow table.
//! Each test failed before its fix.

mod common;

use std::net::IpAddr;

use dataplane::conntrack::{FlowTable, TcpSignal, Tuple, MAX_PROBE};
use dataplane::fabric::Fabric;
use dataplane::pipeline::{process, DropReason, NoObserver, Verdict};
use dataplane::wire::build::{fragment_v4, packet, Transport};
use dataplane::wire::{self, Ipv4Packet};

const INSTANCE_ENI: &str = "eni-08c0b194dec370347";
const IGW: &str = "igw-0d00d00000000001";
const PRIVATE: &str = "10.0.0.176";
const PUBLIC: &str = "203.0.113.176";
const REMOTE: &str = "8.8.8.8";

fn fabric() -> Fabric {
    common::example_fabric("s3-endpoints.toml", &[])
}

use common::ip;

fn send(f: &Fabric, flows: &FlowTable, from: &str, pkt: &mut [u8]) -> Verdict {
    let cx = common::ctx(flows);
    process(f, &cx, f.attachment(from).unwrap(), pkt, &mut NoObserver)
}

fn forwarded(v: Verdict) -> bool {
    matches!(v, Verdict::Forward { .. })
}

fn udp(src: &str, dst: &str, sport: u16, dport: u16, len: usize) -> Vec<u8> {
    let payload = vec![0x5a; len];
    packet(
        ip(src),
        ip(dst),
        Transport::Udp {
            src_port: sport,
            dst_port: dport,
            payload: &payload,
        },
    )
    .unwrap()
}

/// A datagram in two fragments: the first 1,480 bytes of its payload, then the rest.
fn halves(pkt: &[u8], id: u16) -> (Vec<u8>, Vec<u8>) {
    (
        fragment_v4(pkt, id, 0, 1480),
        fragment_v4(pkt, id, 1480, usize::MAX / 2),
    )
}

/// Finding 1: after the instance sends one fragmented datagram to 8.8.8.8, a fragmented
/// datagram from 8.8.8.8 to a port no rule opens is denied — first fragment and later
/// fragment alike; the reply to the instance's own datagram passes, fragmented too.
#[test]
fn fragments_follow_their_first_fragment_through_security_groups() {
    let f = fabric();
    let flows = FlowTable::new(4096);
    let (a, b) = halves(&udp(PRIVATE, REMOTE, 5000, 53, 3000), 1);
    assert!(forwarded(send(&f, &flows, INSTANCE_ENI, &mut a.clone())));
    assert!(forwarded(send(&f, &flows, INSTANCE_ENI, &mut b.clone())));
    // The attack: any port of the instance, fragmented.
    let (a, b) = halves(&udp(REMOTE, PUBLIC, 53, 9999, 3000), 2);
    assert_eq!(
        send(&f, &flows, IGW, &mut a.clone()),
        Verdict::Drop(DropReason::SecurityGroupIngress)
    );
    assert_eq!(
        send(&f, &flows, IGW, &mut b.clone()),
        Verdict::Drop(DropReason::SecurityGroupIngress)
    );
    // The reply, fragmented: both parts pass.
    let (a, b) = halves(&udp(REMOTE, PUBLIC, 53, 5000, 3000), 3);
    assert!(forwarded(send(&f, &flows, IGW, &mut a.clone())));
    assert!(forwarded(send(&f, &flows, IGW, &mut b.clone())));
}

/// The other way round: fragmented traffic to a port a rule allows (HTTP, TCP 80) passes
/// whole — before, its later fragments were judged as port 0 and denied.
#[test]
fn fragmented_traffic_to_an_allowed_port_passes() {
    let f = fabric();
    let flows = FlowTable::new(4096);
    let payload = vec![7u8; 3000];
    let seg = packet(
        ip(REMOTE),
        ip(PUBLIC),
        Transport::Tcp {
            src_port: 40000,
            dst_port: 80,
            flags: wire::tcp_flags::SYN,
            payload: &payload,
        },
    )
    .unwrap();
    let pieces: Vec<Vec<u8>> = [0, 1480, 2960]
        .iter()
        .map(|&o| fragment_v4(&seg, 9, o, 1480))
        .collect();
    for (i, p) in pieces.iter().enumerate() {
        assert!(
            forwarded(send(&f, &flows, IGW, &mut p.clone())),
            "fragment {i}"
        );
    }
    assert!(flows.fragments().is_empty(), "complete: entry gone");
}

/// Out of order, overlapping and tiny: each dropped with its own reason.
#[test]
fn stray_overlapping_and_tiny_fragments_are_dropped_and_counted() {
    let f = fabric();
    let flows = FlowTable::new(4096);
    let dgram = udp(PRIVATE, REMOTE, 5001, 53, 3000);
    let (a, b) = halves(&dgram, 4);
    assert_eq!(
        send(&f, &flows, INSTANCE_ENI, &mut b.clone()),
        Verdict::Drop(DropReason::FragmentOutOfOrder)
    );
    assert!(forwarded(send(&f, &flows, INSTANCE_ENI, &mut a.clone())));
    // RFC 1858: a fragment at offset 8 over the first one's transport header.
    let evil = fragment_v4(&dgram, 4, 8, 64);
    assert_eq!(
        send(&f, &flows, INSTANCE_ENI, &mut evil.clone()),
        Verdict::Drop(DropReason::FragmentOverlap)
    );
    // The datagram is discarded: its proper second half finds nothing now.
    assert_eq!(
        send(&f, &flows, INSTANCE_ENI, &mut b.clone()),
        Verdict::Drop(DropReason::FragmentOutOfOrder)
    );
    // A first fragment of 4 bytes of UDP: its ports would be split.
    let mut tiny = fragment_v4(&dgram, 5, 0, 8);
    tiny.truncate(24);
    tiny[2..4].copy_from_slice(&24u16.to_be_bytes());
    Ipv4Packet::new_unchecked(&mut tiny[..]).fill_checksum();
    assert_eq!(
        send(&f, &flows, INSTANCE_ENI, &mut tiny),
        Verdict::Drop(DropReason::Malformed(wire::WireError::TinyFragment))
    );
    let report = f.registry.report();
    for reason in ["fragment_out_of_order", "fragment_overlap", "fragment_tiny"] {
        assert!(
            report.drops.get(reason).copied().unwrap_or(0) > 0,
            "{reason}"
        );
    }
}

fn icmp(src: &str, dst: &str, body: &[u8]) -> Vec<u8> {
    // An echo request, retyped: the builder makes the checksum; rewrite type and body.
    let mut v = packet(
        ip(src),
        ip(dst),
        Transport::EchoRequest {
            ident: 0,
            seq: 0,
            payload: &body[8..],
        },
    )
    .unwrap();
    v[20..28].copy_from_slice(&body[..8]);
    v[22..24].copy_from_slice(&[0, 0]);
    let c = !wire::checksum::fold(wire::checksum::sum(&v[20..]));
    v[22..24].copy_from_slice(&c.to_be_bytes());
    v
}

/// Finding 2: after the instance pings 8.8.8.8 with identifier 4242, 8.8.8.8 cannot send it
/// timestamp requests, redirects or address-mask requests carrying 4242; an unreachable about
/// nothing the instance sent is denied. The echo reply, and an error about a flow the
/// instance opened, pass.
#[test]
fn icmp_identifier_matches_echo_only_and_errors_follow_the_quoted_flow() {
    let f = fabric();
    let flows = FlowTable::new(4096);
    let mut ping = packet(
        ip(PRIVATE),
        ip(REMOTE),
        Transport::EchoRequest {
            ident: 4242,
            seq: 1,
            payload: b"x",
        },
    )
    .unwrap();
    assert!(forwarded(send(&f, &flows, INSTANCE_ENI, &mut ping)));
    for t in [13u8, 5, 17, 15] {
        let mut m = icmp(REMOTE, PUBLIC, &[t, 0, 0, 0, 0x10, 0x92, 0, 1, 1, 2, 3, 4]);
        assert_eq!(
            send(&f, &flows, IGW, &mut m),
            Verdict::Drop(DropReason::SecurityGroupIngress),
            "type {t}"
        );
    }
    let mut reply = icmp(REMOTE, PUBLIC, &[0, 0, 0, 0, 0x10, 0x92, 0, 1, b'x']);
    assert!(forwarded(send(&f, &flows, IGW, &mut reply)));
    // The instance opens a UDP flow; an unreachable quoting it (with the public source the
    // gateway gave it) passes, translated; one quoting another port does not.
    let mut out = udp(PRIVATE, REMOTE, 5002, 53, 10);
    assert!(forwarded(send(&f, &flows, INSTANCE_ENI, &mut out)));
    let unreachable = |sport: u16| {
        let quoted = udp(PUBLIC, REMOTE, sport, 53, 10);
        let mut body = vec![3, 3, 0, 0, 0, 0, 0, 0];
        body.extend_from_slice(&quoted[..28]);
        icmp(REMOTE, PUBLIC, &body)
    };
    let mut err = unreachable(5002);
    assert!(forwarded(send(&f, &flows, IGW, &mut err)));
    let p = wire::parse(&err).unwrap();
    assert_eq!(
        p.quoted.unwrap().src,
        ip(PRIVATE),
        "the quote is translated"
    );
    assert!(Ipv4Packet::new_unchecked(&err[28..48]).verify_checksum());
    assert_eq!(
        send(&f, &flows, IGW, &mut unreachable(5003)),
        Verdict::Drop(DropReason::SecurityGroupIngress)
    );
    // Neither the error nor the other messages opened a flow.
    assert_eq!(flows.len(), 2, "the ping and the UDP flow");
}

/// Finding 3: tuples an attacker solved to collide under one hash key (all in one shard, one
/// probe run) spread out under the table's own secret key — and a zone's quota holds the
/// attacker to its share whatever the tuples.
#[test]
fn crafted_collisions_do_not_crowd_other_flows() {
    let known = dataplane::hash::Key::fixed(1);
    let crafted = craft_collisions(known, 600);
    // Against the key they were made for: one long run, refused past the probe limit.
    let weak = FlowTable::with_key(100_000, None, known);
    let refused = crafted
        .iter()
        .filter(|t| weak.insert(1, t, None, TcpSignal::default(), 0).is_err())
        .count();
    assert!(refused > 0, "the crafted tuples collide under their key");
    // Under a random key they are ordinary flows: all admitted.
    let table = FlowTable::new(100_000);
    for t in &crafted {
        table.insert(1, t, None, TcpSignal::default(), 0).unwrap();
    }
    // Quota: one zone cannot take more than its share; another zone is untouched.
    let quota = FlowTable::with_zone_limit(100_000, 100);
    let admitted = crafted
        .iter()
        .filter(|t| quota.insert(1, t, None, TcpSignal::default(), 0).is_ok())
        .count();
    assert_eq!(admitted, 100);
    for t in crafted.iter().take(100) {
        quota
            .insert(2, &t.reversed(), None, TcpSignal::default(), 0)
            .unwrap();
    }
}

/// UDP tuples from one instance whose hash under `key` falls in one shard within 64 slots,
/// found by search over destination ports and addresses — what an attacker who knew the hash
/// did.
fn craft_collisions(key: dataplane::hash::Key, n: usize) -> Vec<Tuple> {
    let probe = FlowTable::with_key(100_000, None, key);
    let near = |t: &Tuple| {
        let (shard, slot) = probe.home_of(1, t);
        (shard, slot / 64)
    };
    let target = near(&tuple(0));
    let mut out = Vec::with_capacity(n);
    let mut i = 0u32;
    while out.len() < n {
        let t = tuple(i);
        if near(&t) == target {
            out.push(t);
        }
        i += 1;
    }
    assert!(out.len() > MAX_PROBE);
    out
}

fn tuple(i: u32) -> Tuple {
    Tuple {
        proto: 17,
        src: ip(PRIVATE),
        dst: IpAddr::V4((0x0808_0000 | (i >> 16)).into()),
        sport: 5000,
        dport: i as u16,
    }
}

/// IPv6 likewise: a datagram in two fragments (Fragment extension header), the first holding
/// the UDP header. `split` cuts after the first 16 bytes of the UDP datagram.
fn fragments_v6(pkt: &[u8], id: u32) -> (Vec<u8>, Vec<u8>) {
    let (header, l4) = pkt.split_at(40);
    let proto = header[6];
    let piece = |data: &[u8], offset: usize, more: bool| {
        let mut v = header.to_vec();
        v[6] = 44;
        let len = (8 + data.len()) as u16;
        v[4..6].copy_from_slice(&len.to_be_bytes());
        v.extend_from_slice(&[proto, 0]);
        v.extend_from_slice(&((offset as u16) | u16::from(more)).to_be_bytes());
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(data);
        v
    };
    (piece(&l4[..16], 0, true), piece(&l4[16..], 16, false))
}

#[test]
fn ipv6_fragments_follow_their_first_fragment_too() {
    let f = fabric();
    let flows = FlowTable::new(4096);
    let me = "2600:1f18:1234:5600::b0";
    let google = "2001:4860:4860::8888";
    let (a, b) = fragments_v6(&udp(me, google, 5000, 53, 100), 7);
    assert!(forwarded(send(&f, &flows, INSTANCE_ENI, &mut a.clone())));
    assert!(forwarded(send(&f, &flows, INSTANCE_ENI, &mut b.clone())));
    // To a port no rule opens: both fragments denied.
    let (a, b) = fragments_v6(&udp(google, me, 53, 9999, 100), 8);
    for mut frag in [a, b] {
        assert_eq!(
            send(&f, &flows, IGW, &mut frag),
            Verdict::Drop(DropReason::SecurityGroupIngress)
        );
    }
    // The reply: both pass.
    let (a, b) = fragments_v6(&udp(google, me, 53, 5000, 100), 9);
    assert!(forwarded(send(&f, &flows, IGW, &mut a.clone())));
    assert!(forwarded(send(&f, &flows, IGW, &mut b.clone())));
}
