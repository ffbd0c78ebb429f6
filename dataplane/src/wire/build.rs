//! Packet builders: well-formed packets with correct checksums, as a host's stack would send
//! them. Used to synthesize the packet `vpcectl trace` explains, and by tests and benchmarks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{checksum, proto, tcp_flags, Ipv4Packet};

/// Transport part of a packet to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    /// ICMP (IPv4) or ICMPv6 echo request.
    EchoRequest {
        ident: u16,
        seq: u16,
        payload: &'a [u8],
    },
    /// ICMP (IPv4) or ICMPv6 echo reply.
    EchoReply {
        ident: u16,
        seq: u16,
        payload: &'a [u8],
    },
    /// A TCP segment with the given flags.
    Tcp {
        src_port: u16,
        dst_port: u16,
        flags: u8,
        payload: &'a [u8],
    },
    Udp {
        src_port: u16,
        dst_port: u16,
        payload: &'a [u8],
    },
    /// A TCP segment with sequence and acknowledgment numbers of the caller's choosing.
    TcpSegment {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &'a [u8],
    },
}

impl Transport<'_> {
    /// A TCP SYN, the first packet of a connection.
    pub fn syn(src_port: u16, dst_port: u16) -> Transport<'static> {
        Transport::Tcp {
            src_port,
            dst_port,
            flags: tcp_flags::SYN,
            payload: &[],
        }
    }
}

/// Builds an IP packet from `src` to `dst` (same family) carrying `t`. Returns `None` if the
/// families differ.
pub fn packet(src: IpAddr, dst: IpAddr, t: Transport<'_>) -> Option<Vec<u8>> {
    let is_v6 = match (src, dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) => false,
        (IpAddr::V6(_), IpAddr::V6(_)) => true,
        _ => return None,
    };
    let (protocol, mut l4) = match t {
        Transport::EchoRequest {
            ident,
            seq,
            payload,
        }
        | Transport::EchoReply {
            ident,
            seq,
            payload,
        } => {
            let request = matches!(t, Transport::EchoRequest { .. });
            let msg_type = match (is_v6, request) {
                (false, true) => super::icmp::ECHO_REQUEST,
                (false, false) => super::icmp::ECHO_REPLY,
                (true, true) => super::icmp::V6_ECHO_REQUEST,
                (true, false) => super::icmp::V6_ECHO_REPLY,
            };
            let mut v = vec![msg_type, 0, 0, 0];
            v.extend_from_slice(&ident.to_be_bytes());
            v.extend_from_slice(&seq.to_be_bytes());
            v.extend_from_slice(payload);
            (if is_v6 { proto::ICMPV6 } else { proto::ICMP }, v)
        }
        Transport::Tcp {
            src_port,
            dst_port,
            flags,
            payload,
        } => tcp(src_port, dst_port, 1, 0, flags, payload),
        Transport::TcpSegment {
            src_port,
            dst_port,
            seq,
            ack,
            flags,
            payload,
        } => tcp(src_port, dst_port, seq, ack, flags, payload),
        Transport::Udp {
            src_port,
            dst_port,
            payload,
        } => {
            let mut v = vec![0u8; 8];
            v[0..2].copy_from_slice(&src_port.to_be_bytes());
            v[2..4].copy_from_slice(&dst_port.to_be_bytes());
            v[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            v.extend_from_slice(payload);
            (proto::UDP, v)
        }
    };
    Some(match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4(s, d, protocol, &mut l4),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6(s, d, protocol, &mut l4),
        _ => unreachable!("families checked above"),
    })
}

fn tcp(
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> (u8, Vec<u8>) {
    let mut v = vec![0u8; 20];
    v[0..2].copy_from_slice(&src_port.to_be_bytes());
    v[2..4].copy_from_slice(&dst_port.to_be_bytes());
    v[4..8].copy_from_slice(&seq.to_be_bytes());
    v[8..12].copy_from_slice(&ack.to_be_bytes());
    v[12] = 5 << 4;
    v[13] = flags;
    v[14..16].copy_from_slice(&64240u16.to_be_bytes());
    v.extend_from_slice(payload);
    (proto::TCP, v)
}

fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, l4: &mut [u8]) -> Vec<u8> {
    let total = 20 + l4.len();
    let pseudo = checksum::pseudo_v4(src.octets(), dst.octets(), protocol, l4.len() as u16);
    fill_l4_checksum(l4, protocol, pseudo, false);
    let mut v = vec![0x45, 0, 0, 0, 0x4a, 0x11, 0x40, 0, 64, protocol, 0, 0];
    v[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    v.extend_from_slice(&src.octets());
    v.extend_from_slice(&dst.octets());
    v.extend_from_slice(l4);
    Ipv4Packet::new_unchecked(&mut v[..]).fill_checksum();
    v
}

fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, protocol: u8, l4: &mut [u8]) -> Vec<u8> {
    let pseudo = checksum::pseudo_v6(src.octets(), dst.octets(), protocol, l4.len() as u32);
    fill_l4_checksum(l4, protocol, pseudo, true);
    let mut v = vec![0x60, 0, 0, 0, 0, 0, protocol, 64];
    v[4..6].copy_from_slice(&(l4.len() as u16).to_be_bytes());
    v.extend_from_slice(&src.octets());
    v.extend_from_slice(&dst.octets());
    v.extend_from_slice(l4);
    v
}

/// Fills the transport checksum of `l4` given the pseudo-header sum.
pub(crate) fn fill_l4_checksum(l4: &mut [u8], protocol: u8, pseudo: u32, ipv6: bool) {
    let at = match protocol {
        proto::TCP => 16,
        proto::UDP => 6,
        proto::ICMP | proto::ICMPV6 => 2,
        _ => return,
    };
    l4[at..at + 2].copy_from_slice(&[0, 0]);
    let with_pseudo = protocol != proto::ICMP || ipv6;
    let s = checksum::sum(l4) + if with_pseudo { pseudo } else { 0 };
    let mut c = !checksum::fold(s);
    if protocol == proto::UDP && c == 0 {
        c = 0xffff;
    }
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

/// Fragment `[offset, offset + len)` of the payload of the IPv4 packet `pkt` (offset a
/// multiple of 8), as a router fragmenting it would send it: the header copied with the
/// datagram's identification `id`, MF set unless the fragment reaches the end. For tests,
/// fuzz seeds and traces of fragmented traffic.
pub fn fragment_v4(pkt: &[u8], id: u16, offset: usize, len: usize) -> Vec<u8> {
    let hl = usize::from(pkt[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
    let end = (hl + offset + len).min(total);
    let mut v = pkt[..hl].to_vec();
    v.extend_from_slice(&pkt[hl + offset..end]);
    let more = end < total;
    let len = v.len() as u16;
    v[2..4].copy_from_slice(&len.to_be_bytes());
    v[4..6].copy_from_slice(&id.to_be_bytes());
    let word = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
    v[6..8].copy_from_slice(&word.to_be_bytes());
    Ipv4Packet::new_unchecked(&mut v[..]).fill_checksum();
    v
}

/// Where the payload of `buf[..len]` starts, when it is a UDP datagram in one plain IP
/// packet: IPv4 without options and not a fragment, or IPv6 without extension headers, its
/// IP and UDP lengths agreeing with `len`. `None` for anything else.
pub fn plain_udp_payload(buf: &[u8], len: usize) -> Option<usize> {
    let buf = buf.get(..len)?;
    let ip = match buf.first()? >> 4 {
        4 if buf[0] == 0x45 && len >= 28 && buf[9] == proto::UDP => 20,
        6 if len >= 48 && buf[6] == proto::UDP => 40,
        _ => return None,
    };
    if ip == 20 && u16::from_be_bytes([buf[6], buf[7]]) & 0x3fff != 0 {
        return None; // a fragment
    }
    let ip_len = match ip {
        20 => usize::from(u16::from_be_bytes([buf[2], buf[3]])),
        _ => 40 + usize::from(u16::from_be_bytes([buf[4], buf[5]])),
    };
    if ip_len != len || usize::from(u16::from_be_bytes([buf[ip + 4], buf[ip + 5]])) != len - ip {
        return None;
    }
    Some(ip + 8)
}

/// Turns the plain UDP packet in `buf` (as [`plain_udp_payload`] accepted it; its payload,
/// `payload_len` bytes at `udp`, already replaced) into the reply: addresses and ports
/// swapped, the IP header written as [`packet`] writes one, lengths and checksums filled.
/// Returns the reply's length.
pub fn udp_reply_in_place(buf: &mut [u8], udp: usize, payload_len: usize) -> usize {
    let ip = udp - 8;
    let total = udp + payload_len;
    let l4 = (8 + payload_len) as u16;
    let (sport, dport) = ([buf[ip], buf[ip + 1]], [buf[ip + 2], buf[ip + 3]]);
    buf[ip..ip + 2].copy_from_slice(&dport);
    buf[ip + 2..ip + 4].copy_from_slice(&sport);
    buf[ip + 4..ip + 6].copy_from_slice(&l4.to_be_bytes());
    buf[ip + 6..ip + 8].copy_from_slice(&[0, 0]);
    let pseudo = if ip == 20 {
        let (src, dst): ([u8; 4], [u8; 4]) = (
            buf[12..16].try_into().expect("4"),
            buf[16..20].try_into().expect("4"),
        );
        buf[..12].copy_from_slice(&[0x45, 0, 0, 0, 0x4a, 0x11, 0x40, 0, 64, proto::UDP, 0, 0]);
        buf[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        buf[12..16].copy_from_slice(&dst);
        buf[16..20].copy_from_slice(&src);
        let c = checksum::checksum(&buf[..20]);
        buf[10..12].copy_from_slice(&c.to_be_bytes());
        checksum::pseudo_v4(dst, src, proto::UDP, l4)
    } else {
        let (src, dst): ([u8; 16], [u8; 16]) = (
            buf[8..24].try_into().expect("16"),
            buf[24..40].try_into().expect("16"),
        );
        buf[..8].copy_from_slice(&[0x60, 0, 0, 0, 0, 0, proto::UDP, 64]);
        buf[4..6].copy_from_slice(&l4.to_be_bytes());
        buf[8..24].copy_from_slice(&dst);
        buf[24..40].copy_from_slice(&src);
        checksum::pseudo_v6(dst, src, proto::UDP, u32::from(l4))
    };
    let mut c = checksum::fold(checksum::sum(&buf[ip..total]) + pseudo);
    c = !c;
    if c == 0 {
        c = 0xffff;
    }
    buf[ip + 6..ip + 8].copy_from_slice(&c.to_be_bytes());
    total
}

/// Turns the TCP segment in `buf` (parsed as `p`) into the RST that answers it, in place, as
/// RFC 9293 3.10.7.1 has a closed connection answer: from its destination to its source, with
/// sequence number the segment's acknowledgment if it carried one (no ACK flag), else 0 and
/// an acknowledgment of everything the segment occupied. No options, no payload; checksums
/// whole. Returns the RST's length, `None` for a packet that is not a TCP segment with its
/// header (or is itself a RST: never answered).
pub fn tcp_reset_in_place(buf: &mut [u8], p: &crate::wire::Parsed) -> Option<usize> {
    use crate::wire::{tcp_edit, Parsed};
    let off = p
        .l4_offset
        .filter(|_| p.protocol == proto::TCP && !p.is_fragment())?;
    if p.tcp_flags & tcp_flags::RST != 0 || p.len < off + 20 {
        return None;
    }
    let l4 = &buf[off..p.len];
    let data = (p.len - off - tcp_edit::header_len(l4)) as u32;
    let (seq, ack) = (tcp_edit::seq(l4), tcp_edit::ack(l4));
    let syn_fin =
        u32::from(p.tcp_flags & tcp_flags::SYN != 0) + u32::from(p.tcp_flags & tcp_flags::FIN != 0);
    let (rst_seq, rst_ack, flags) = if p.tcp_flags & tcp_flags::ACK != 0 {
        (ack, 0, tcp_flags::RST)
    } else {
        (
            0,
            seq.wrapping_add(data + syn_fin),
            tcp_flags::RST | tcp_flags::ACK,
        )
    };
    let hl = if p.is_ipv4() { 20 } else { 40 };
    let len = hl + 20;
    if buf.len() < len {
        return None;
    }
    let mut t = [0u8; 20];
    t[0..2].copy_from_slice(&p.dst_port.to_be_bytes());
    t[2..4].copy_from_slice(&p.src_port.to_be_bytes());
    t[4..8].copy_from_slice(&rst_seq.to_be_bytes());
    t[8..12].copy_from_slice(&rst_ack.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    match (p.dst, p.src) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let h = [0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, proto::TCP, 0, 0];
            buf[..12].copy_from_slice(&h);
            buf[12..16].copy_from_slice(&s.octets());
            buf[16..20].copy_from_slice(&d.octets());
            crate::wire::Ipv4Packet::new_unchecked(&mut buf[..20]).fill_checksum();
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            buf[..8].copy_from_slice(&[0x60, 0, 0, 0, 0, 20, proto::TCP, 64]);
            buf[8..24].copy_from_slice(&s.octets());
            buf[24..40].copy_from_slice(&d.octets());
        }
        _ => return None,
    }
    buf[hl..len].copy_from_slice(&t);
    let q = Parsed {
        src: p.dst,
        dst: p.src,
        src_port: p.dst_port,
        dst_port: p.src_port,
        len,
        l4_offset: Some(hl),
        tcp_flags: flags,
        fragment: None,
        quoted: None,
        ..*p
    };
    crate::wire::complete_checksum(buf, &q);
    Some(len)
}
