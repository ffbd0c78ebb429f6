//! The seed 004 scenario (`examples/privatelink-hands-on.toml`) through the pipeline in
//! memory: the article's two failures, then the working path both ways, and the other ways an
//! interface-endpoint flow stops.

mod common;

use std::net::IpAddr;

use dataplane::conntrack::FlowTable;
use dataplane::fabric::Fabric;
use dataplane::health::HealthState;
use dataplane::pipeline::{process, Ctx, DropReason, NoObserver, Recorder, Verdict};
use dataplane::wire::build::{packet, Transport};
use dataplane::wire::{self, tcp_flags};

const EC2_A: &str = "eni-0a00000000000000a";
const EC2_B: &str = "eni-0b00000000000000b";

/// The example with `edits` (from, to) applied to its text.
fn fabric(edits: &[(&str, &str)]) -> Fabric {
    common::example_fabric("privatelink-hands-on.toml", edits)
}

const NO_ENFORCE: (&str, &str) = (
    "enforce_security_group_inbound_rules_on_private_link_traffic = true",
    "enforce_security_group_inbound_rules_on_private_link_traffic = false",
);
const CROSS_ZONE: (&str, &str) = ("cross_zone = false", "cross_zone = true");

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp(src: &str, sport: u16, dst: &str, dport: u16, flags: u8) -> Vec<u8> {
    packet(
        ip(src),
        ip(dst),
        Transport::Tcp {
            src_port: sport,
            dst_port: dport,
            flags,
            payload: b"GET / HTTP/1.1\r\n\r\n",
        },
    )
    .unwrap()
}

struct Lab {
    f: Fabric,
    flows: FlowTable,
}

impl Lab {
    fn new(edits: &[(&str, &str)]) -> Lab {
        Lab {
            f: fabric(edits),
            flows: FlowTable::new(1024),
        }
    }
    fn send(&self, from: &str, pkt: &mut [u8]) -> Verdict {
        let cx = Ctx {
            lane: 0,
            now: 0,
            flows: &self.flows,
            offload: dataplane::pipeline::Offload::NONE,
        };
        let a = self.f.attachment(from).unwrap();
        process(&self.f, &cx, a, pkt, &mut NoObserver)
    }
    fn att(&self, id: &str) -> u32 {
        self.f.attachment(id).unwrap()
    }
}

#[test]
fn the_articles_two_failures_then_the_path_both_ways() {
    // As first built: the NLB's group (no inbound rules) is enforced on PrivateLink traffic.
    let lab = Lab::new(&[]);
    let mut syn = tcp("10.0.128.10", 40000, "10.0.128.100", 80, tcp_flags::SYN);
    assert_eq!(
        lab.send(EC2_A, &mut syn),
        Verdict::Drop(DropReason::LoadBalancerSecurityGroup)
    );
    let denied = lab.f.registry.report().security_groups["sg-0b000000000000001"];
    assert_eq!(denied.ingress_denied, 1);

    // Enforcement off: the NLB node in 1a has no target in its zone, cross-zone is off.
    let lab = Lab::new(&[NO_ENFORCE]);
    let mut syn = tcp("10.0.128.10", 40000, "10.0.128.100", 80, tcp_flags::SYN);
    assert_eq!(
        lab.send(EC2_A, &mut syn),
        Verdict::Drop(DropReason::NoHealthyTargetInZone)
    );

    // Cross-zone on: through.
    let lab = Lab::new(&[NO_ENFORCE, CROSS_ZONE]);
    let mut syn = tcp("10.0.128.10", 40000, "10.0.128.100", 80, tcp_flags::SYN);
    let v = lab.send(EC2_A, &mut syn);
    assert_eq!(
        v,
        Verdict::Forward {
            egress: lab.att(EC2_B),
            len: syn.len()
        }
    );
    let p = wire::parse(&syn).expect("valid after translation, checksums included");
    // The provider sees the NLB node of the endpoint's zone (1a), never the consumer.
    assert_eq!(p.src, ip("10.1.128.50"));
    assert_eq!((p.dst, p.dst_port), (ip("10.1.144.10"), 80));
    let nat_port = p.src_port;
    assert!(dataplane::pipeline::NAT_PORTS.contains(&nat_port));

    // EC2-B answers the NLB; the consumer gets it from the endpoint's address.
    let mut synack = tcp(
        "10.1.144.10",
        80,
        "10.1.128.50",
        nat_port,
        tcp_flags::SYN | tcp_flags::ACK,
    );
    assert_eq!(
        lab.send(EC2_B, &mut synack),
        Verdict::Forward {
            egress: lab.att(EC2_A),
            len: synack.len()
        }
    );
    let r = wire::parse(&synack).unwrap();
    assert_eq!((r.src, r.src_port), (ip("10.0.128.100"), 80));
    assert_eq!((r.dst, r.dst_port), (ip("10.0.128.10"), 40000));

    // The rest of the connection takes the same translation.
    let mut data = tcp("10.0.128.10", 40000, "10.0.128.100", 80, tcp_flags::ACK);
    lab.send(EC2_A, &mut data);
    let d = wire::parse(&data).unwrap();
    assert_eq!((d.src, d.src_port), (ip("10.1.128.50"), nat_port));
    // A second connection gets its own source port.
    let mut syn2 = tcp("10.0.128.10", 40001, "10.0.128.100", 80, tcp_flags::SYN);
    lab.send(EC2_A, &mut syn2);
    assert_ne!(wire::parse(&syn2).unwrap().src_port, nat_port);
}

#[test]
fn acceptance_endpoint_groups_health_and_strays() {
    let pending = (
        "connections = [{ endpoint = \"vpce-0a000000000000001\", state = \"available\" }]",
        "",
    );
    let lab = Lab::new(&[NO_ENFORCE, CROSS_ZONE, pending]);
    let mut syn = tcp("10.0.128.10", 40000, "10.0.128.100", 80, tcp_flags::SYN);
    assert_eq!(
        lab.send(EC2_A, &mut syn),
        Verdict::Drop(DropReason::EndpointConnectionNotAccepted)
    );
    let rejected = ("state = \"available\" }]", "state = \"rejected\" }]");
    let lab = Lab::new(&[NO_ENFORCE, CROSS_ZONE, rejected]);
    let mut syn = tcp("10.0.128.10", 40000, "10.0.128.100", 80, tcp_flags::SYN);
    assert_eq!(
        lab.send(EC2_A, &mut syn),
        Verdict::Drop(DropReason::EndpointConnectionRejected)
    );

    let lab = Lab::new(&[NO_ENFORCE, CROSS_ZONE]);
    // The endpoint's group allows TCP 80 only.
    let mut other = tcp("10.0.128.10", 40000, "10.0.128.100", 8080, tcp_flags::SYN);
    assert_eq!(
        lab.send(EC2_A, &mut other),
        Verdict::Drop(DropReason::SecurityGroupIngress)
    );
    // A packet to the NLB that belongs to no flow.
    let mut stray = tcp("10.1.144.10", 80, "10.1.128.50", 5555, tcp_flags::ACK);
    assert_eq!(
        lab.send(EC2_B, &mut stray),
        Verdict::Drop(DropReason::NoFlow)
    );
    // The only target unhealthy: every target of the group is, so the NLB fails open (AWS)
    // and the flow still goes to it.
    for tg in &lab.f.target_groups {
        for t in &tg.targets {
            t.health.set(HealthState::Unhealthy);
        }
    }
    let mut syn = tcp("10.0.128.10", 40002, "10.0.128.100", 80, tcp_flags::SYN);
    assert!(matches!(lab.send(EC2_A, &mut syn), Verdict::Forward { .. }));
}

#[test]
fn the_observer_sees_the_whole_path() {
    let lab = Lab::new(&[NO_ENFORCE, CROSS_ZONE]);
    let cx = Ctx {
        lane: 0,
        now: 0,
        flows: &lab.flows,
        offload: dataplane::pipeline::Offload::NONE,
    };
    let mut rec = Recorder::default();
    let mut syn = tcp("10.0.128.10", 40000, "10.0.128.100", 80, tcp_flags::SYN);
    process(&lab.f, &cx, lab.att(EC2_A), &mut syn, &mut rec);
    let steps = rec.transcript();
    for want in [
        "SecurityGroup",
        "InterfaceEndpoint",
        "Listener",
        "Target",
        "Nat",
        "RouteLookup",
        "Verdict(Forward",
    ] {
        assert!(steps.contains(want), "{want} missing:\n{steps}");
    }
}

/// Idle flows expire; an expired translation is gone and a late reply is a stray.
#[test]
fn translations_expire() {
    let lab = Lab::new(&[NO_ENFORCE, CROSS_ZONE]);
    let mut syn = tcp("10.0.128.10", 40000, "10.0.128.100", 80, tcp_flags::SYN);
    lab.send(EC2_A, &mut syn);
    let nat_port = wire::parse(&syn).unwrap().src_port;
    let later = Ctx {
        lane: 0,
        now: dataplane::conntrack::TCP_IDLE + 1,
        flows: &lab.flows,
        offload: dataplane::pipeline::Offload::NONE,
    };
    let mut synack = tcp(
        "10.1.144.10",
        80,
        "10.1.128.50",
        nat_port,
        tcp_flags::SYN | tcp_flags::ACK,
    );
    assert_eq!(
        process(&lab.f, &later, lab.att(EC2_B), &mut synack, &mut NoObserver),
        Verdict::Drop(DropReason::NoFlow)
    );
}

/// PROXY protocol v2 on the target group: the header (consumer address and port, endpoint
/// address and port, the `0xEA` TLV with the endpoint id) precedes the first data byte; the
/// consumer's later sequence numbers and the target's acknowledgments are translated by its
/// length both ways.
#[test]
fn proxy_protocol_v2_header_and_sequence_translation() {
    use dataplane::pipeline::process_in;
    use dataplane::wire::tcp_edit;
    let lab = Lab::new(&[
        NO_ENFORCE,
        CROSS_ZONE,
        (
            "port = 80\ntargets",
            "port = 80\nproxy_protocol_v2 = true\ntargets",
        ),
    ]);
    let cx = Ctx {
        lane: 0,
        now: 0,
        flows: &lab.flows,
        offload: dataplane::pipeline::Offload::NONE,
    };
    let seg = |src: &str, sport, dst: &str, dport, seq, ack, flags, payload: &[u8]| {
        let mut v = packet(
            ip(src),
            ip(dst),
            Transport::TcpSegment {
                src_port: sport,
                dst_port: dport,
                seq,
                ack,
                flags,
                payload,
            },
        )
        .unwrap();
        let n = v.len();
        v.resize(n + 256, 0); // room to grow
        (v, n)
    };
    let send = |from: &str, (mut v, n): (Vec<u8>, usize)| {
        let verdict = process_in(&lab.f, &cx, lab.att(from), &mut v, n, &mut NoObserver);
        let Verdict::Forward { len, .. } = verdict else {
            panic!("{verdict:?}");
        };
        v.truncate(len);
        v
    };
    let syn = send(
        EC2_A,
        seg(
            "10.0.128.10",
            40000,
            "10.0.128.100",
            80,
            1000,
            0,
            tcp_flags::SYN,
            b"",
        ),
    );
    let nat_port = wire::parse(&syn).unwrap().src_port;
    let _synack = send(
        EC2_B,
        seg(
            "10.1.144.10",
            80,
            "10.1.128.50",
            nat_port,
            5000,
            1001,
            0x12,
            b"",
        ),
    );
    // The first data segment carries the header in front of the request.
    let req = b"GET / HTTP/1.1\r\n\r\n";
    let data = send(
        EC2_A,
        seg(
            "10.0.128.10",
            40000,
            "10.0.128.100",
            80,
            1001,
            5001,
            0x18,
            req,
        ),
    );
    let p = wire::parse(&data).expect("valid, checksums recomputed");
    let l4 = &data[p.l4_offset.unwrap()..p.len];
    assert_eq!(tcp_edit::seq(l4), 1001);
    let payload = &l4[tcp_edit::header_len(l4)..];
    assert_eq!(&payload[..12], b"\r\n\r\n\0\r\nQUIT\n");
    assert_eq!(payload[12], 0x21);
    assert_eq!(payload[13], 0x11);
    let hlen = 16 + usize::from(u16::from_be_bytes([payload[14], payload[15]]));
    assert_eq!(
        &payload[16..20],
        &[10, 0, 128, 10],
        "the consumer's address"
    );
    assert_eq!(
        &payload[20..24],
        &[10, 0, 128, 100],
        "the endpoint's address"
    );
    assert_eq!(u16::from_be_bytes([payload[24], payload[25]]), 40000);
    assert_eq!(payload[28], 0xEA);
    assert_eq!(payload[31], 0x01);
    assert_eq!(&payload[32..hlen], b"vpce-0a000000000000001");
    assert_eq!(&payload[hlen..], req);
    // The transport checksum verifies from scratch.
    let pseudo = wire::checksum::pseudo_v4([10, 1, 128, 50], [10, 1, 144, 10], 6, l4.len() as u16);
    assert_eq!(
        wire::checksum::fold(wire::checksum::sum(l4) + pseudo),
        0xffff
    );
    // The target acknowledges header and request; the consumer sees only its request.
    let h = hlen as u32;
    let n = req.len() as u32;
    let ack = send(
        EC2_B,
        seg(
            "10.1.144.10",
            80,
            "10.1.128.50",
            nat_port,
            5001,
            1001 + h + n,
            0x10,
            b"",
        ),
    );
    let a = wire::parse(&ack).unwrap();
    assert_eq!(tcp_edit::ack(&ack[a.l4_offset.unwrap()..a.len]), 1001 + n);
    assert!(wire::parse(&ack).is_ok());
    // The consumer's next segment moves by the header's length.
    let more = send(
        EC2_A,
        seg(
            "10.0.128.10",
            40000,
            "10.0.128.100",
            80,
            1001 + n,
            5001,
            0x10,
            b"x",
        ),
    );
    let m = wire::parse(&more).unwrap();
    assert_eq!(
        tcp_edit::seq(&more[m.l4_offset.unwrap()..m.len]),
        1001 + n + h
    );
    // A retransmission of the first segment gets the header again.
    let again = send(
        EC2_A,
        seg(
            "10.0.128.10",
            40000,
            "10.0.128.100",
            80,
            1001,
            5001,
            0x18,
            req,
        ),
    );
    assert_eq!(again.len(), data.len());
}

/// A target turning unhealthy (issue 23): AWS sends a TCP RST for packets of the client
/// connections to it — unless the group fails open — or, with connection termination off and
/// a draining interval, keeps them that long (`unhealthy.draining`) and resets them after.
#[test]
fn connections_to_a_target_that_turned_unhealthy_are_reset_or_drained() {
    use dataplane::pipeline::Ctx;
    let two_targets = (
        "targets = [{ instance = \"i-0b00000000000000b\" }]",
        "targets = [{ instance = \"i-0b00000000000000b\" }, { ip = \"10.1.144.11\" }]",
    );
    let drain = (
        "targets = [{ instance",
        "unhealthy_connection_termination = false\nunhealthy_draining_interval = 30\ntargets = [{ instance",
    );
    for draining in [false, true] {
        let mut edits = vec![NO_ENFORCE, CROSS_ZONE, two_targets];
        if draining {
            edits.push(drain);
        }
        let lab = Lab::new(&edits);
        let at = |now| Ctx {
            now,
            ..common::ctx(&lab.flows)
        };
        let send = |now: u32, pkt: &mut Vec<u8>| {
            let a = lab.att(EC2_A);
            process(&lab.f, &at(now), a, pkt, &mut NoObserver)
        };
        // Connections until one goes to EC2-B.
        let mut port = 41000;
        loop {
            let mut syn = tcp("10.0.128.10", port, "10.0.128.100", 80, tcp_flags::SYN);
            send(0, &mut syn);
            if wire::parse(&syn).unwrap().dst == ip("10.1.144.10") {
                break;
            }
            port += 1;
        }
        let tg = &lab.f.target_groups[0];
        let b = tg
            .targets
            .iter()
            .find(|t| t.ip == ip("10.1.144.10"))
            .unwrap();
        b.health.set_at(HealthState::Unhealthy, 100);
        let resets = || {
            let r = lab.f.registry.report();
            r.drops.get("unhealthy_target_reset").copied().unwrap_or(0)
        };
        let before = resets();
        let mut data = tcp("10.0.128.10", port, "10.0.128.100", 80, tcp_flags::ACK);
        let v = send(110, &mut data);
        let r = wire::parse(
            &data[..match v {
                Verdict::Forward { len, .. } => len,
                other => panic!("{other:?}"),
            }],
        )
        .unwrap();
        if draining {
            // Within the interval: the connection goes on, reported as draining.
            assert_eq!(r.dst, ip("10.1.144.10"));
            assert_eq!(tg.reported_state(b, 110), HealthState::UnhealthyDraining);
            assert_eq!(tg.reported_state(b, 130), HealthState::Unhealthy);
            let mut late = tcp("10.0.128.10", port, "10.0.128.100", 80, tcp_flags::ACK);
            send(131, &mut late);
            let r = wire::parse(&late).unwrap();
            assert_eq!(r.tcp_flags, tcp_flags::RST, "reset once drained");
            continue;
        }
        // The client gets a RST from the endpoint's address; the packet is counted.
        assert_eq!((r.src, r.src_port), (ip("10.0.128.100"), 80));
        assert_eq!((r.dst, r.dst_port), (ip("10.0.128.10"), port));
        assert_eq!(r.tcp_flags, tcp_flags::RST);
        assert!(matches!(v, Verdict::Forward { egress, .. } if egress == lab.att(EC2_A)));
        assert_eq!(resets(), before + 1);
        // Every target unhealthy: the group fails open, connections are not reset.
        for t in &tg.targets {
            t.health.set_at(HealthState::Unhealthy, 100);
        }
        let mut next = tcp(
            "10.0.128.10",
            port + 1000,
            "10.0.128.100",
            80,
            tcp_flags::SYN,
        );
        send(120, &mut next);
        let mut data = tcp(
            "10.0.128.10",
            port + 1000,
            "10.0.128.100",
            80,
            tcp_flags::ACK,
        );
        send(121, &mut data);
        assert_ne!(wire::parse(&data).unwrap().tcp_flags, tcp_flags::RST);
    }
}

/// A zone down (a region's zone-failure drill, `trace --zone-down`): nothing in it takes or
/// sends traffic. The fixed build's only target, EC2-B, is in 1c: with 1c down the path ends
/// there — its health checks fail, the group fails open to it and the packet meets the zone
/// (AWS would have nowhere else to send it either); with 1a down, EC2-A sends nothing. The
/// reply of a flow already open dies at 1c as well; with the zone back, the path is whole.
#[test]
fn a_zone_down_takes_and_sends_nothing() {
    let mut lab = Lab::new(&[NO_ENFORCE, CROSS_ZONE]);
    assert!(lab.f.set_zones_down(&["ap-northeast-1c".into()]).is_empty());
    lab.f.down_zones_fail_health_checks();
    let mut syn = tcp("10.0.128.10", 40000, "10.0.128.100", 80, tcp_flags::SYN);
    assert_eq!(
        lab.send(EC2_A, &mut syn),
        Verdict::Drop(DropReason::ZoneDown)
    );
    let mut reply = tcp("10.1.144.10", 80, "10.1.128.50", 1024, tcp_flags::ACK);
    assert_eq!(
        lab.send(EC2_B, &mut reply),
        Verdict::Drop(DropReason::ZoneDown)
    );
    assert_eq!(lab.f.registry.report().drops["zone_down"], 2);

    let mut lab = Lab::new(&[NO_ENFORCE, CROSS_ZONE]);
    lab.f.set_zones_down(&["ap-northeast-1a".into()]);
    let mut syn = tcp("10.0.128.10", 40000, "10.0.128.100", 80, tcp_flags::SYN);
    assert_eq!(
        lab.send(EC2_A, &mut syn),
        Verdict::Drop(DropReason::ZoneDown)
    );

    let mut lab = Lab::new(&[NO_ENFORCE, CROSS_ZONE]);
    assert_eq!(
        lab.f.set_zones_down(&["ap-northeast-1z".into()]),
        ["ap-northeast-1z"],
        "a zone the configuration does not have is named back"
    );
    assert!(lab.f.zones_down.is_empty());
    let mut syn = tcp("10.0.128.10", 40000, "10.0.128.100", 80, tcp_flags::SYN);
    assert!(matches!(lab.send(EC2_A, &mut syn), Verdict::Forward { .. }));
}
