//! Byte-fixture and differential tests of the wire layer: our parse against pnet's (an
//! independent decoder), and every incremental checksum update against pnet's full
//! recomputation.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pnet_packet::Packet as _;
use proptest::prelude::*;

use super::*;

/// Builds an IPv4 packet with valid checksums, as Linux would send it.
pub(crate) fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, l4: &[u8]) -> Vec<u8> {
    let total = 20 + l4.len();
    let mut v = vec![0x45, 0, 0, 0, 0x4a, 0x11, 0x40, 0, 64, protocol, 0, 0];
    v[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    v.extend_from_slice(&src.octets());
    v.extend_from_slice(&dst.octets());
    v.extend_from_slice(l4);
    Ipv4Packet::new_unchecked(&mut v[..]).fill_checksum();
    let pseudo = checksum::pseudo_v4(src.octets(), dst.octets(), protocol, l4.len() as u16);
    build::fill_l4_checksum(&mut v[20..], protocol, pseudo, false);
    v
}

pub(crate) fn ipv6_packet(src: Ipv6Addr, dst: Ipv6Addr, protocol: u8, l4: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0, 0, 0, protocol, 64];
    v[4..6].copy_from_slice(&(l4.len() as u16).to_be_bytes());
    v.extend_from_slice(&src.octets());
    v.extend_from_slice(&dst.octets());
    v.extend_from_slice(l4);
    let pseudo = checksum::pseudo_v6(src.octets(), dst.octets(), protocol, l4.len() as u32);
    build::fill_l4_checksum(&mut v[40..], protocol, pseudo, true);
    v
}

#[test]
fn builder_packets_are_valid_by_pnet() {
    let src = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 176));
    let dst = IpAddr::V4(Ipv4Addr::new(52, 216, 39, 26));
    let v = build::packet(src, dst, build::Transport::syn(40000, 443)).unwrap();
    assert!(pnet_tcp_v4_ok(&v));
    let v = build::packet(
        src,
        dst,
        build::Transport::Udp {
            src_port: 1,
            dst_port: 53,
            payload: b"x",
        },
    )
    .unwrap();
    assert!(pnet_udp_v4_ok(&v));
    let v = build::packet(
        src,
        dst,
        build::Transport::EchoRequest {
            ident: 7,
            seq: 1,
            payload: b"ping",
        },
    )
    .unwrap();
    let ip = pnet_packet::ipv4::Ipv4Packet::new(&v).unwrap();
    let icmp = pnet_packet::icmp::IcmpPacket::new(ip.payload()).unwrap();
    assert_eq!(pnet_packet::icmp::checksum(&icmp), icmp.get_checksum());
    let s6: Ipv6Addr = "2600:1f18::b0".parse().unwrap();
    let d6: Ipv6Addr = "2600:1fa0:8000::1a".parse().unwrap();
    let v = build::packet(
        IpAddr::V6(s6),
        IpAddr::V6(d6),
        build::Transport::EchoRequest {
            ident: 7,
            seq: 1,
            payload: b"ping",
        },
    )
    .unwrap();
    let ip = pnet_packet::ipv6::Ipv6Packet::new(&v).unwrap();
    let icmp = pnet_packet::icmpv6::Icmpv6Packet::new(ip.payload()).unwrap();
    assert_eq!(
        pnet_packet::icmpv6::checksum(&icmp, &s6, &d6),
        icmp.get_checksum()
    );
    assert!(build::packet(src, IpAddr::V6(d6), build::Transport::syn(1, 2)).is_none());
}

/// A TCP SYN with an MSS option, 10.0.0.176:46472 -> 52.216.39.26:443.
pub(crate) fn tcp_syn() -> Vec<u8> {
    let mut tcp = vec![0u8; 24];
    tcp[0..2].copy_from_slice(&46472u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&443u16.to_be_bytes());
    tcp[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    tcp[12] = 6 << 4;
    tcp[13] = tcp_flags::SYN;
    tcp[14..16].copy_from_slice(&64240u16.to_be_bytes());
    tcp[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]);
    ipv4_packet(
        Ipv4Addr::new(10, 0, 0, 176),
        Ipv4Addr::new(52, 216, 39, 26),
        proto::TCP,
        &tcp,
    )
}

fn udp_dns_query() -> Vec<u8> {
    let payload = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x02s3\x00\x00\x01\x00\x01";
    let mut udp = vec![0u8; 8];
    udp[0..2].copy_from_slice(&46472u16.to_be_bytes());
    udp[2..4].copy_from_slice(&53u16.to_be_bytes());
    udp[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    udp.extend_from_slice(payload);
    ipv4_packet(
        Ipv4Addr::new(10, 0, 0, 176),
        Ipv4Addr::new(10, 0, 0, 2),
        proto::UDP,
        &udp,
    )
}

fn pnet_tcp_v4_ok(v: &[u8]) -> bool {
    let ip = pnet_packet::ipv4::Ipv4Packet::new(v).unwrap();
    let tcp = pnet_packet::tcp::TcpPacket::new(ip.payload()).unwrap();
    pnet_packet::ipv4::checksum(&ip) == ip.get_checksum()
        && pnet_packet::tcp::ipv4_checksum(&tcp, &ip.get_source(), &ip.get_destination())
            == tcp.get_checksum()
}

fn pnet_udp_v4_ok(v: &[u8]) -> bool {
    let ip = pnet_packet::ipv4::Ipv4Packet::new(v).unwrap();
    let udp = pnet_packet::udp::UdpPacket::new(ip.payload()).unwrap();
    // A computed UDP checksum of 0 is sent as 0xFFFF (0 means "none", RFC 768); pnet's
    // function returns the computed value (the case proptest found, 1 in 65,536).
    let want = pnet_packet::udp::ipv4_checksum(&udp, &ip.get_source(), &ip.get_destination());
    let sent = udp.get_checksum();
    pnet_packet::ipv4::checksum(&ip) == ip.get_checksum()
        && (want == sent || (want == 0 && sent == 0xffff))
}

#[test]
fn parse_agrees_with_pnet_on_a_tcp_syn() {
    let v = tcp_syn();
    assert!(pnet_tcp_v4_ok(&v), "fixture checksums are right by pnet");
    let p = parse(&v).unwrap();
    let ip = pnet_packet::ipv4::Ipv4Packet::new(&v).unwrap();
    let tcp = pnet_packet::tcp::TcpPacket::new(ip.payload()).unwrap();
    assert_eq!(p.src, IpAddr::V4(ip.get_source()));
    assert_eq!(p.dst, IpAddr::V4(ip.get_destination()));
    assert_eq!(p.protocol, ip.get_next_level_protocol().0);
    assert_eq!(p.src_port, tcp.get_source());
    assert_eq!(p.dst_port, tcp.get_destination());
    assert_eq!(p.tcp_flags, tcp.get_flags());
    assert_eq!(p.len, usize::from(ip.get_total_length()));
    assert_eq!(p.l4_offset, Some(20));
}

#[test]
fn source_nat_of_a_tcp_syn_keeps_both_checksums_right() {
    let mut v = tcp_syn();
    Ipv4Packet::new_checked(&mut v[..])
        .unwrap()
        .set_src_addr(Ipv4Addr::new(203, 0, 113, 176));
    assert!(pnet_tcp_v4_ok(&v));
    let mut t = TcpPacket::new_checked(&mut v[20..]).unwrap();
    t.set_src_port(61000);
    assert!(pnet_tcp_v4_ok(&v));
    assert_eq!(parse(&v).unwrap().src_port, 61000);
}

#[test]
fn destination_nat_of_udp_keeps_checksums_right() {
    let mut v = udp_dns_query();
    assert!(pnet_udp_v4_ok(&v));
    Ipv4Packet::new_checked(&mut v[..])
        .unwrap()
        .set_dst_addr(Ipv4Addr::new(10, 1, 144, 10));
    UdpPacket::new_checked(&mut v[20..])
        .unwrap()
        .set_dst_port(5353, false);
    assert!(pnet_udp_v4_ok(&v));
}

#[test]
fn ipv6_rewrites_keep_transport_checksums_right() {
    let src: Ipv6Addr = "2600:1f18::b0".parse().unwrap();
    let dst: Ipv6Addr = "2600:1fa0::1a".parse().unwrap();
    // ICMPv6 echo request.
    let icmp = [128u8, 0, 0, 0, 0x12, 0x34, 0, 1, b'v', b'p', b'c', b'e'];
    let mut v = ipv6_packet(src, dst, proto::ICMPV6, &icmp);
    let new: Ipv6Addr = "2001:db8::1".parse().unwrap();
    Ipv6Packet::new_checked(&mut v[..])
        .unwrap()
        .set_src_addr(new)
        .unwrap();
    let ip = pnet_packet::ipv6::Ipv6Packet::new(&v).unwrap();
    let i = pnet_packet::icmpv6::Icmpv6Packet::new(ip.payload()).unwrap();
    assert_eq!(
        pnet_packet::icmpv6::checksum(&i, &new, &dst),
        i.get_checksum()
    );
    // TCP over IPv6.
    let mut tcp = tcp_syn()[20..].to_vec();
    tcp[16..18].copy_from_slice(&[0, 0]);
    let mut v = ipv6_packet(src, dst, proto::TCP, &tcp);
    Ipv6Packet::new_checked(&mut v[..])
        .unwrap()
        .set_dst_addr(new)
        .unwrap();
    let ip = pnet_packet::ipv6::Ipv6Packet::new(&v).unwrap();
    let t = pnet_packet::tcp::TcpPacket::new(ip.payload()).unwrap();
    assert_eq!(
        pnet_packet::tcp::ipv6_checksum(&t, &src, &new),
        t.get_checksum()
    );
    let p = parse(&v).unwrap();
    assert_eq!((p.src_port, p.dst_port), (46472, 443));
}

#[test]
fn parse_rejects_what_the_views_reject() {
    let v = tcp_syn();
    assert_eq!(parse(&[]), Err(WireError::Truncated));
    assert_eq!(parse(&v[..10]), Err(WireError::Truncated));
    assert_eq!(parse(&[0x25; 40]), Err(WireError::BadVersion));
    let mut bad = v.clone();
    bad[8] = 1; // TTL changed without the checksum
    assert_eq!(parse(&bad), Err(WireError::BadChecksum));
    // TCP data offset pointing past the packet.
    let mut bad = v.clone();
    bad[20 + 12] = 15 << 4;
    Ipv4Packet::new_unchecked(&mut bad[..]).fill_checksum();
    assert_eq!(parse(&bad), Err(WireError::BadTransportHeader));
    // A packet too short for its TCP header.
    let mut short = v[..30].to_vec();
    short[2..4].copy_from_slice(&30u16.to_be_bytes());
    Ipv4Packet::new_unchecked(&mut short[..]).fill_checksum();
    assert_eq!(parse(&short), Err(WireError::Truncated));
}

#[test]
fn options_and_fragments() {
    // A header with 4 bytes of options (IHL 6): the transport header moves.
    let syn = tcp_syn();
    let mut v = syn[..20].to_vec();
    v[0] = 0x46;
    v.extend_from_slice(&[1, 1, 1, 0]); // NOP NOP NOP EOL
    v.extend_from_slice(&syn[20..]);
    let total = v.len() as u16;
    v[2..4].copy_from_slice(&total.to_be_bytes());
    Ipv4Packet::new_unchecked(&mut v[..]).fill_checksum();
    let p = parse(&v).unwrap();
    assert_eq!(p.l4_offset, Some(24));
    assert_eq!(p.dst_port, 443);
    // A later fragment has no transport header.
    let mut f = syn.clone();
    f[6..8].copy_from_slice(&185u16.to_be_bytes());
    Ipv4Packet::new_unchecked(&mut f[..]).fill_checksum();
    let p = parse(&f).unwrap();
    assert_eq!(
        p.fragment,
        Some(Fragment {
            id: 0x4a11,
            offset: 185 * 8,
            len: syn.len() as u32 - 20,
            more: false
        })
    );
    assert_eq!(p.l4_offset, None);
    assert_eq!(p.dst_port, 0);
}

/// Sets an IPv4 packet's MF flag and offset (bytes) and truncates it to `len` bytes.
fn fragment_v4(mut v: Vec<u8>, offset: usize, more: bool, len: usize) -> Vec<u8> {
    v.truncate(len);
    let word = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
    v[6..8].copy_from_slice(&word.to_be_bytes());
    v[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    Ipv4Packet::new_unchecked(&mut v[..]).fill_checksum();
    v
}

/// A first fragment carries its ports (its UDP length speaks of the whole datagram); one too
/// short for its transport header is refused (RFC 1858).
#[test]
fn first_fragments_have_ports_and_must_hold_the_header() {
    let udp = ipv4_packet(
        Ipv4Addr::new(8, 8, 8, 8),
        Ipv4Addr::new(10, 0, 0, 5),
        proto::UDP,
        &[
            0x13, 0x88, 0x00, 0x35, 0x05, 0xdc, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
        ],
    );
    let first = fragment_v4(udp.clone(), 0, true, 36);
    let p = parse(&first).unwrap();
    assert_eq!((p.src_port, p.dst_port, p.l4_offset), (5000, 53, Some(20)));
    assert!(p.fragment.unwrap().is_first());
    assert_eq!(
        parse(&fragment_v4(udp, 0, true, 24)),
        Err(WireError::TinyFragment)
    );
    let syn = build::packet(
        "10.0.0.1".parse().unwrap(),
        "10.0.0.2".parse().unwrap(),
        build::Transport::syn(40000, 22),
    )
    .unwrap();
    // 16 bytes of TCP: ports and flags are there, but not the whole header.
    assert_eq!(
        parse(&fragment_v4(syn, 0, true, 36)),
        Err(WireError::TinyFragment)
    );
}

/// IPv6: the Fragment header's identification, offset and M flag; a later fragment's bytes
/// after it are data, never walked as headers.
#[test]
fn ipv6_fragments() {
    let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let dst: Ipv6Addr = "2001:db8::2".parse().unwrap();
    let frag = |offset: u16, more: bool, next: u8, data: &[u8]| {
        let mut l4 = vec![next, 0];
        l4.extend_from_slice(&(offset | u16::from(more)).to_be_bytes());
        l4.extend_from_slice(&0xdead_beefu32.to_be_bytes());
        l4.extend_from_slice(data);
        let mut v = ipv6_packet(src, dst, 44, &l4);
        v[6] = 44;
        v
    };
    let udp = [0x13, 0x88, 0x00, 0x35, 0, 100, 0, 0];
    let p = parse(&frag(0, true, proto::UDP, &udp)).unwrap();
    assert_eq!((p.protocol, p.src_port, p.dst_port), (proto::UDP, 5000, 53));
    assert_eq!(
        p.fragment,
        Some(Fragment {
            id: 0xdead_beef,
            offset: 0,
            len: 8,
            more: true
        })
    );
    // A later fragment whose data would read as a destination-options header running past
    // the packet: still parsed, as data.
    let p = parse(&frag(8, false, 60, &[17, 200, 0, 0, 0, 0, 0, 0])).unwrap();
    assert_eq!((p.protocol, p.l4_offset, p.src_port), (60, None, 0));
    assert_eq!(p.fragment.unwrap().offset, 8);
    assert_eq!(
        parse(&frag(0, true, proto::UDP, &udp[..4])),
        Err(WireError::TinyFragment)
    );
}

/// Echo messages are flows by identifier; errors carry the flow they quote; other ICMP
/// messages carry neither.
#[test]
fn icmp_echo_errors_and_the_rest() {
    let a = Ipv4Addr::new(10, 0, 0, 5);
    let b = Ipv4Addr::new(8, 8, 8, 8);
    let echo = ipv4_packet(b, a, proto::ICMP, &[0, 0, 0, 0, 0x10, 0x92, 0, 1]);
    let p = parse(&echo).unwrap();
    assert!(p.is_icmp_echo());
    assert_eq!((p.src_port, p.quoted), (4242, None));
    // Timestamp request with "identifier" 4242: not an echo.
    let ts = ipv4_packet(b, a, proto::ICMP, &[13, 0, 0, 0, 0x10, 0x92, 0, 1]);
    let p = parse(&ts).unwrap();
    assert!(!p.is_icmp_echo());
    assert_eq!((p.src_port, p.quoted), (0, None));
    // Port unreachable quoting a UDP datagram a -> b, 5000 -> 53.
    let quoted_udp = ipv4_packet(a, b, proto::UDP, &[0x13, 0x88, 0x00, 0x35, 0, 8, 0, 0]);
    let mut err = vec![3, 3, 0, 0, 0, 0, 0, 0];
    err.extend_from_slice(&quoted_udp);
    let unreachable = ipv4_packet(b, a, proto::ICMP, &err);
    let p = parse(&unreachable).unwrap();
    assert_eq!(p.src_port, 0);
    assert_eq!(
        p.quoted,
        Some(Quoted {
            protocol: proto::UDP,
            src: IpAddr::V4(a),
            dst: IpAddr::V4(b),
            src_port: 5000,
            dst_port: 53
        })
    );
    // Cut short before the ports: no flow.
    let mut short = vec![3, 3, 0, 0, 0, 0, 0, 0];
    short.extend_from_slice(&quoted_udp[..22]);
    assert_eq!(
        parse(&ipv4_packet(b, a, proto::ICMP, &short))
            .unwrap()
            .quoted,
        None
    );
}

/// Translating the address an ICMP error quotes keeps both the quoted header's checksum and
/// the ICMP checksum right (against a full recomputation).
#[test]
fn quoted_address_rewrite_keeps_checksums_right() {
    let a = Ipv4Addr::new(54, 1, 2, 3);
    let b = Ipv4Addr::new(8, 8, 8, 8);
    let private = Ipv4Addr::new(10, 0, 0, 5);
    let quoted_tcp = ipv4_packet(a, b, proto::UDP, &[0x9c, 0x40, 0, 80, 0, 8, 0, 0]);
    let mut err = vec![3, 4, 0, 0, 0, 0, 0x05, 0xa0];
    err.extend_from_slice(&quoted_tcp);
    let mut v = ipv4_packet(b, a, proto::ICMP, &err);
    let p = parse(&v).unwrap();
    rewrite_quoted_v4(&mut v, &p, true, private);
    let q = parse(&v).unwrap().quoted.unwrap();
    assert_eq!(q.src, IpAddr::V4(private));
    let inner = Ipv4Packet::new_unchecked(&v[28..48]);
    assert!(inner.verify_checksum());
    let mut whole = v[20..].to_vec();
    let sent = u16::from_be_bytes([whole[2], whole[3]]);
    whole[2..4].copy_from_slice(&[0, 0]);
    assert_eq!(!checksum::fold(checksum::sum(&whole)), sent);
}

proptest! {
    /// Any valid TCP or UDP packet, any source and destination rewrite: pnet's full
    /// recomputation agrees with our incremental checksums.
    #[test]
    fn incremental_checksums_match_pnet(
        tcp in any::<bool>(),
        payload in prop::collection::vec(any::<u8>(), 0..200),
        ports in any::<(u16, u16, u16, u16)>(),
        addrs in any::<(u32, u32, u32, u32)>(),
    ) {
        let (src, dst) = (Ipv4Addr::from(addrs.0), Ipv4Addr::from(addrs.1));
        let v = if tcp {
            let mut t = vec![0u8; 20];
            t[0..2].copy_from_slice(&ports.0.to_be_bytes());
            t[2..4].copy_from_slice(&ports.1.to_be_bytes());
            t[12] = 5 << 4;
            t[13] = tcp_flags::ACK;
            t.extend_from_slice(&payload);
            ipv4_packet(src, dst, proto::TCP, &t)
        } else {
            let mut u = vec![0u8; 8];
            u[0..2].copy_from_slice(&ports.0.to_be_bytes());
            u[2..4].copy_from_slice(&ports.1.to_be_bytes());
            u[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            u.extend_from_slice(&payload);
            ipv4_packet(src, dst, proto::UDP, &u)
        };
        let mut v = v;
        {
            let mut ip = Ipv4Packet::new_checked(&mut v[..]).unwrap();
            ip.set_src_addr(Ipv4Addr::from(addrs.2));
            ip.set_dst_addr(Ipv4Addr::from(addrs.3));
        }
        if tcp {
            let mut t = TcpPacket::new_checked(&mut v[20..]).unwrap();
            t.set_src_port(ports.2);
            t.set_dst_port(ports.3);
            prop_assert!(pnet_tcp_v4_ok(&v));
        } else {
            let mut u = UdpPacket::new_checked(&mut v[20..]).unwrap();
            u.set_src_port(ports.2, false);
            u.set_dst_port(ports.3, false);
            prop_assert!(pnet_udp_v4_ok(&v));
        }
        let p = parse(&v).unwrap();
        prop_assert_eq!(p.src, IpAddr::V4(Ipv4Addr::from(addrs.2)));
        prop_assert_eq!((p.src_port, p.dst_port), (ports.2, ports.3));
    }

    /// Parsing arbitrary bytes never panics, and whatever it accepts lies inside the buffer.
    #[test]
    fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..120), first in 0u8..=255) {
        let mut b = bytes;
        if let Some(x) = b.first_mut() { *x = first; }
        if let Ok(p) = parse(&b) {
            prop_assert!(p.len <= b.len());
            if let Some(off) = p.l4_offset { prop_assert!(off <= p.len); }
        }
    }
}

/// The one-pass flow rewrite gives the bytes of a field-by-field rewrite, and a packet whose
/// checksums verify from scratch.
#[test]
fn flow_rewrite_matches_field_by_field() {
    use crate::wire::build::{packet, Transport};
    use std::net::Ipv4Addr;
    let payloads: [&[u8]; 3] = [b"", b"odd", b"GET / HTTP/1.1\r\n\r\n"];
    for payload in payloads {
        for udp in [false, true] {
            let t = if udp {
                Transport::Udp {
                    src_port: 40000,
                    dst_port: 53,
                    payload,
                }
            } else {
                Transport::Tcp {
                    src_port: 40000,
                    dst_port: 80,
                    flags: 0x18,
                    payload,
                }
            };
            let orig = packet(
                "10.0.128.10".parse().unwrap(),
                "10.0.128.100".parse().unwrap(),
                t,
            )
            .unwrap();
            let p = crate::wire::parse(&orig).unwrap();
            let (s, d) = (Ipv4Addr::new(10, 1, 128, 50), Ipv4Addr::new(10, 1, 144, 10));
            let mut a = orig.clone();
            crate::wire::rewrite_v4_flow(&mut a, p.l4_offset, p.protocol, (s, 1024), (d, 8080));
            let mut b = orig.clone();
            {
                let mut ip = crate::wire::Ipv4Packet::new_unchecked(&mut b[..]);
                ip.set_src_addr(s);
                ip.set_dst_addr(d);
            }
            let l4 = &mut b[20..];
            if udp {
                let mut u = crate::wire::UdpPacket::new_unchecked(l4);
                u.set_src_port(1024, false);
                u.set_dst_port(8080, false);
            } else {
                let mut t = crate::wire::TcpPacket::new_unchecked(l4);
                t.set_src_port(1024);
                t.set_dst_port(8080);
            }
            assert_eq!(a, b);
            let q = crate::wire::parse(&a).unwrap();
            assert_eq!(
                (q.src, q.src_port, q.dst, q.dst_port),
                (s.into(), 1024, d.into(), 8080)
            );
            // The transport checksum verifies from scratch.
            let pseudo = crate::wire::checksum::pseudo_v4(
                s.octets(),
                d.octets(),
                p.protocol,
                (a.len() - 20) as u16,
            );
            let sum = crate::wire::checksum::sum(&a[20..]) + pseudo;
            assert_eq!(crate::wire::checksum::fold(sum), 0xffff);
        }
    }
}

#[test]
fn partial_checksums_complete_to_the_real_ones() {
    for (src, dst) in [("10.0.0.1", "52.216.39.26"), ("2001:db8::1", "2001:db8::2")] {
        for t in [
            super::build::Transport::syn(40000, 443),
            super::build::Transport::Udp {
                src_port: 5353,
                dst_port: 53,
                payload: b"odd-length payload",
            },
        ] {
            let original =
                super::build::packet(src.parse().unwrap(), dst.parse().unwrap(), t).unwrap();
            let p = super::parse(&original).unwrap();
            let mut b = original.clone();
            let (start, field) = super::partial_checksum(&mut b, &p).unwrap();
            assert_eq!(usize::from(start), p.l4_offset.unwrap());
            assert_ne!(b, original, "the field now holds the pseudo-header sum");
            super::complete_checksum(&mut b, &p);
            assert_eq!(b, original, "{src} proto {} field {field}", p.protocol);
        }
    }
}

#[test]
fn swapped_addresses_keep_both_checksums_valid() {
    let mut v = udp_dns_query();
    Ipv4Packet::new_unchecked(&mut v[..]).swap_addrs();
    let p = parse(&v).unwrap();
    assert_eq!(p.src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
    assert_eq!(p.dst, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 176)));
    assert!(pnet_udp_v4_ok(&v));
}

#[test]
fn a_udp_reply_built_in_place_is_valid_by_pnet() {
    let mut v = udp_dns_query();
    let len = v.len();
    let udp = build::plain_udp_payload(&v, len).unwrap();
    assert_eq!(udp, 28);
    // A longer payload written over the query, as the answer cache does.
    let answer = b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00answer-bytes";
    v.resize(udp + answer.len(), 0);
    v[udp..].copy_from_slice(answer);
    let total = build::udp_reply_in_place(&mut v, udp, answer.len());
    assert_eq!(total, v.len());
    let p = parse(&v).unwrap();
    assert_eq!(
        (p.src, p.dst, p.src_port, p.dst_port),
        (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 176)),
            53,
            46472
        )
    );
    assert!(pnet_udp_v4_ok(&v));
}

#[test]
fn only_plain_udp_is_answered_in_place() {
    let q = udp_dns_query();
    // A fragment, a TCP segment, a packet whose UDP length disagrees, a cut packet.
    let mut frag = q.clone();
    frag[6] |= 0x20;
    assert_eq!(build::plain_udp_payload(&frag, frag.len()), None);
    let tcp = tcp_syn();
    assert_eq!(build::plain_udp_payload(&tcp, tcp.len()), None);
    let mut bad = q.clone();
    bad[25] ^= 1;
    assert_eq!(build::plain_udp_payload(&bad, bad.len()), None);
    assert_eq!(build::plain_udp_payload(&q[..27], 27), None);
    assert_eq!(build::plain_udp_payload(&q, q.len() + 1), None);
}

#[test]
fn the_destination_of_a_cut_packet_is_read_from_its_first_bytes() {
    let q = udp_dns_query();
    let want = Some((IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 53));
    assert_eq!(flow_destination(&q), want);
    assert_eq!(flow_destination(&q[..24]), want);
    assert_eq!(flow_destination(&q[..23]), None);
    let mut icmp = q.clone();
    icmp[9] = proto::ICMP;
    assert_eq!(flow_destination(&icmp), None);
    let v6 = build::packet(
        "2600:1f18::10".parse().unwrap(),
        "2600:1f18::64".parse().unwrap(),
        build::Transport::syn(61000, 80),
    )
    .unwrap();
    let want = Some(("2600:1f18::64".parse().unwrap(), 80));
    assert_eq!(flow_destination(&v6[..44]), want);
    assert_eq!(flow_destination(&v6[..43]), None);
}

/// The PROXY v2 header: with an endpoint id, AWS's `0xEA` TLV (subtype `0x01`) after the
/// addresses; without one (a load balancer's own client), the addresses alone.
#[test]
fn proxy_v2_header_with_and_without_the_endpoint_tlv() {
    let src = "10.0.128.10:40000".parse().unwrap();
    let dst = "10.0.128.100:80".parse().unwrap();
    let mut h = [0u8; 128];
    let n = proxy_v2_header(src, dst, "vpce-0a000000000000001", &mut h).unwrap();
    assert_eq!(&h[12..14], &[0x21, 0x11]);
    assert_eq!(usize::from(u16::from_be_bytes([h[14], h[15]])), n - 16);
    assert_eq!(&h[16..20], &[10, 0, 128, 10]);
    assert_eq!((h[28], h[31]), (0xEA, 0x01));
    assert_eq!(&h[32..n], b"vpce-0a000000000000001");
    let n = proxy_v2_header(src, dst, "", &mut h).unwrap();
    assert_eq!(n, 28);
    assert_eq!(u16::from_be_bytes([h[14], h[15]]), 12);
    assert_eq!(&h[24..28], &[0x9c, 0x40, 0, 80]);
    // TCP over IPv6: 36 bytes of addresses and ports, then the TLV.
    let src6 = "[2600:1f18::10]:40000".parse().unwrap();
    let dst6 = "[2600:1f18::100]:80".parse().unwrap();
    let n = proxy_v2_header(src6, dst6, "vpce-0a000000000000001", &mut h).unwrap();
    assert_eq!(&h[12..14], &[0x21, 0x21]);
    assert_eq!(usize::from(u16::from_be_bytes([h[14], h[15]])), n - 16);
    assert_eq!(&h[48..52], &[0x9c, 0x40, 0, 80]);
    assert_eq!((h[52], h[55]), (0xEA, 0x01));
    assert_eq!(&h[56..n], b"vpce-0a000000000000001");
    assert_eq!(proxy_v2_header(src, dst6, "", &mut h), None);
}

/// TCP or UDP checksums of an IPv6 packet (no extension headers) are right by pnet.
fn pnet_l4_v6_ok(v: &[u8]) -> bool {
    let ip = pnet_packet::ipv6::Ipv6Packet::new(v).unwrap();
    let (s, d) = (ip.get_source(), ip.get_destination());
    match ip.get_next_header().0 {
        proto::TCP => {
            let t = pnet_packet::tcp::TcpPacket::new(ip.payload()).unwrap();
            pnet_packet::tcp::ipv6_checksum(&t, &s, &d) == t.get_checksum()
        }
        proto::UDP => {
            let u = pnet_packet::udp::UdpPacket::new(ip.payload()).unwrap();
            let want = pnet_packet::udp::ipv6_checksum(&u, &s, &d);
            want == u.get_checksum() || (want == 0 && u.get_checksum() == 0xffff)
        }
        _ => false,
    }
}

/// A TCP header (no options) or a UDP header with `payload`, checksum left zero.
fn l4(tcp: bool, ports: (u16, u16), payload: &[u8]) -> Vec<u8> {
    let mut t = vec![0u8; if tcp { 20 } else { 8 }];
    t[0..2].copy_from_slice(&ports.0.to_be_bytes());
    t[2..4].copy_from_slice(&ports.1.to_be_bytes());
    if tcp {
        t[12] = 5 << 4;
        t[13] = tcp_flags::ACK;
    } else {
        t[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    }
    t.extend_from_slice(payload);
    t
}

proptest! {
    /// IPv6 flows rewritten in one step keep their transport checksums right by pnet.
    #[test]
    fn v6_flow_rewrites_match_pnet(
        tcp in any::<bool>(),
        payload in prop::collection::vec(any::<u8>(), 0..200),
        ports in any::<(u16, u16, u16, u16)>(),
        addrs in any::<(u128, u128, u128, u128)>(),
    ) {
        let protocol = if tcp { proto::TCP } else { proto::UDP };
        let t = l4(tcp, (ports.0, ports.1), &payload);
        let mut v = ipv6_packet(addrs.0.into(), addrs.1.into(), protocol, &t);
        let p = parse(&v).unwrap();
        family::rewrite_v6_flow(&mut v, &p, (addrs.2.into(), ports.2), (addrs.3.into(), ports.3));
        prop_assert!(pnet_l4_v6_ok(&v));
        let q = parse(&v).unwrap();
        prop_assert_eq!((q.src, q.dst), (IpAddr::V6(addrs.2.into()), IpAddr::V6(addrs.3.into())));
        prop_assert_eq!((q.src_port, q.dst_port), (ports.2, ports.3));
    }

    /// IPv4 → IPv6 → IPv4 (a dual-stack load balancer's two directions): each packet is valid
    /// by pnet, TOS/traffic class and TTL/hop limit carry over, the transport header and
    /// payload arrive unchanged but for ports and checksum, and the way back restores the
    /// original transport bytes exactly.
    #[test]
    fn family_translation_round_trips(
        tcp in any::<bool>(),
        payload in prop::collection::vec(any::<u8>(), 0..300),
        ports in any::<(u16, u16, u16, u16)>(),
        v4 in any::<(u32, u32)>(),
        v6 in any::<(u128, u128)>(),
        tos in any::<u8>(),
        ttl in 1u8..,
    ) {
        let protocol = if tcp { proto::TCP } else { proto::UDP };
        let t = l4(tcp, (ports.0, ports.1), &payload);
        let mut orig = ipv4_packet(v4.0.into(), v4.1.into(), protocol, &t);
        orig[1] = tos;
        orig[8] = ttl;
        Ipv4Packet::new_unchecked(&mut orig[..]).fill_checksum();
        let mut buf = orig.clone();
        buf.resize(orig.len() + 64, 0);
        let p = parse(&buf).unwrap();
        let s6 = (IpAddr::V6(v6.0.into()), ports.2);
        let d6 = (IpAddr::V6(v6.1.into()), ports.3);
        let q = family::translate_flow(&mut buf, &p, s6, d6).unwrap();
        prop_assert_eq!(q.len, orig.len() + 20);
        prop_assert!(pnet_l4_v6_ok(&buf[..q.len]));
        prop_assert_eq!(parse(&buf[..q.len]).unwrap(), q);
        prop_assert_eq!((buf[0] << 4) | (buf[1] >> 4), tos);
        prop_assert_eq!(buf[7], ttl);
        let th = if tcp { 20 } else { 8 };
        prop_assert_eq!(&buf[40 + th..q.len], &orig[20 + th..], "payload carried");
        // And back, to the original addresses and ports.
        let s4 = (p.src, p.src_port);
        let d4 = (p.dst, p.dst_port);
        let r = family::translate_flow(&mut buf, &q, s4, d4).unwrap();
        prop_assert_eq!(r.len, orig.len());
        if tcp {
            prop_assert!(pnet_tcp_v4_ok(&buf[..r.len]));
        } else {
            prop_assert!(pnet_udp_v4_ok(&buf[..r.len]));
        }
        prop_assert_eq!(&buf[20..r.len], &orig[20..], "transport bytes restored");
        prop_assert_eq!((buf[1], buf[8]), (tos, ttl));
        prop_assert_eq!(parse(&buf[..r.len]).unwrap().src, p.src);
    }
}

/// What cannot be translated is refused, not mangled: mixed families, no room for IPv6's
/// longer header, a fragment. An IPv4 UDP datagram without a checksum gets one in IPv6.
#[test]
fn family_translation_refuses_what_it_cannot_carry() {
    let t = l4(false, (5353, 53), b"query");
    let mut v = ipv4_packet(
        "10.0.0.1".parse().unwrap(),
        "10.0.0.2".parse().unwrap(),
        proto::UDP,
        &t,
    );
    v[26..28].copy_from_slice(&[0, 0]); // no UDP checksum
    let p = parse(&v).unwrap();
    let s6: IpAddr = "2600::1".parse().unwrap();
    let d4: IpAddr = "10.0.0.9".parse().unwrap();
    let mut tight = v.clone();
    assert_eq!(
        family::translate_flow(&mut tight, &p, (s6, 1), (s6, 2)),
        None,
        "no room"
    );
    assert_eq!(
        family::translate_flow(&mut v.clone(), &p, (s6, 1), (d4, 2)),
        None,
        "mixed"
    );
    let mut roomy = v.clone();
    roomy.resize(v.len() + 20, 0);
    let q = family::translate_flow(&mut roomy, &p, (s6, 1), (s6, 2)).unwrap();
    assert_ne!(&roomy[46..48], &[0, 0]);
    assert!(pnet_l4_v6_ok(&roomy[..q.len]));
    let mut frag = roomy.clone();
    let fp = Parsed {
        fragment: Some(Fragment {
            id: 1,
            offset: 0,
            len: 8,
            more: true,
        }),
        ..q
    };
    assert_eq!(
        family::translate_flow(&mut frag, &fp, (d4, 1), (d4, 2)),
        None,
        "fragment"
    );
}

/// PROXY v2 header inserted into an IPv6 segment: lengths and checksum right by pnet.
#[test]
fn a_proxy_header_goes_into_an_ipv6_segment() {
    let mut t = l4(true, (40000, 80), b"GET / HTTP/1.1\r\n");
    t[13] = tcp_flags::ACK | tcp_flags::PSH;
    let mut v = ipv6_packet(
        "2600::10".parse().unwrap(),
        "2600::20".parse().unwrap(),
        proto::TCP,
        &t,
    );
    let p = parse(&v).unwrap();
    let mut h = [0u8; 128];
    let n = proxy_v2_header(
        "[2600::1]:4000".parse().unwrap(),
        "[2600::2]:80".parse().unwrap(),
        "vpce-1",
        &mut h,
    )
    .unwrap();
    v.resize(v.len() + n, 0);
    let len = insert_tcp_payload(&mut v, &p, &h[..n]).unwrap();
    assert_eq!(len, p.len + n);
    assert!(pnet_l4_v6_ok(&v[..len]));
    assert_eq!(&v[60..60 + n], &h[..n]);
    assert!(v[60 + n..len].starts_with(b"GET /"));
}

/// The RST answering a segment (RFC 9293 3.10.7.1): with an ACK, sequence = its ack and no
/// ACK flag; without, sequence 0 and an ack of everything it occupied; IPv4 and IPv6, valid
/// by pnet; a RST is never answered.
#[test]
fn a_reset_answers_a_segment_in_place() {
    let seg = |src: &str, dst: &str, flags: u8, payload: &[u8]| {
        build::packet(
            src.parse().unwrap(),
            dst.parse().unwrap(),
            build::Transport::TcpSegment {
                src_port: 40000,
                dst_port: 80,
                seq: 1000,
                ack: 7000,
                flags,
                payload,
            },
        )
        .unwrap()
    };
    let mut v = seg(
        "10.0.0.1",
        "10.0.0.2",
        tcp_flags::ACK | tcp_flags::PSH,
        b"hello",
    );
    let p = parse(&v).unwrap();
    let n = build::tcp_reset_in_place(&mut v, &p).unwrap();
    assert!(pnet_tcp_v4_ok(&v[..n]));
    let r = parse(&v[..n]).unwrap();
    assert_eq!(
        (r.src, r.src_port, r.dst, r.dst_port),
        (p.dst, 80, p.src, 40000)
    );
    assert_eq!(r.tcp_flags, tcp_flags::RST);
    assert_eq!(tcp_edit::seq(&v[20..n]), 7000);
    let mut v = seg("2600::1", "2600::2", tcp_flags::SYN, b"");
    let p = parse(&v).unwrap();
    let n = build::tcp_reset_in_place(&mut v, &p).unwrap();
    assert!(pnet_l4_v6_ok(&v[..n]));
    let r = parse(&v[..n]).unwrap();
    assert_eq!(r.tcp_flags, tcp_flags::RST | tcp_flags::ACK);
    assert_eq!(
        (tcp_edit::seq(&v[40..n]), tcp_edit::ack(&v[40..n])),
        (0, 1001)
    );
    let mut v = seg("10.0.0.1", "10.0.0.2", tcp_flags::RST, b"");
    let p = parse(&v).unwrap();
    assert_eq!(build::tcp_reset_in_place(&mut v, &p), None);
}

#[test]
fn a_flow_is_keyed_the_same_both_ways_and_its_fragments_share_a_key() {
    let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.1.0.9".parse().unwrap());
    let udp = |s, sp, d, dp| {
        let t = build::Transport::Udp {
            src_port: sp,
            dst_port: dp,
            payload: &[7u8; 64],
        };
        build::packet(s, d, t).unwrap()
    };
    let out = udp(a, 4000, b, 53);
    let key = symmetric_flow(&out).unwrap();
    assert_eq!(symmetric_flow(&udp(b, 53, a, 4000)), Some(key));
    assert_ne!(symmetric_flow(&udp(a, 4001, b, 53)), Some(key));
    assert_ne!(symmetric_flow(&udp(a, 53, b, 4000)), Some(key));
    // First and later fragment: one key, from the addresses and protocol.
    let first = build::fragment_v4(&out, 9, 0, 32);
    let later = build::fragment_v4(&out, 9, 32, 40);
    assert_eq!(symmetric_flow(&first), symmetric_flow(&later));
    assert_ne!(symmetric_flow(&first), Some(key));
    // IPv6, both ways; not IP or cut short: none.
    let (c, d): (IpAddr, IpAddr) = (
        "2600:1f18::10".parse().unwrap(),
        "2600:1f18::64".parse().unwrap(),
    );
    let v6 = build::packet(c, d, build::Transport::syn(61000, 80)).unwrap();
    let back = build::packet(d, c, build::Transport::syn(80, 61000)).unwrap();
    assert_eq!(symmetric_flow(&v6), symmetric_flow(&back));
    assert_ne!(symmetric_flow(&v6), None);
    assert_eq!(symmetric_flow(&[0x45; 19]), None);
    assert_eq!(symmetric_flow(&[0x00; 60]), None);
}
