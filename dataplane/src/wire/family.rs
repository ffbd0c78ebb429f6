//! Address and port rewriting of TCP and UDP flows over IPv6, and translation of a flow's
//! packets between IPv4 and IPv6 — what a dual-stack Network Load Balancer does when a
//! client's family differs from its target group's (AWS: "The Network Load Balancer
//! communicates with targets based on the IP address type of the target group").
//!
//! Translation follows RFC 7915 for the header fields that carry over — traffic class and
//! TOS, hop limit and TTL, the transport protocol — and drops what has no counterpart (IPv4
//! options, IPv6 extension headers and flow label). An IPv4 packet made from an IPv6 one has
//! DF set and identification 0 (RFC 6864: an atomic datagram). Fragments are not translated
//! (the load balancer's paths refuse them before).
//!
//! The transport checksum is updated incrementally: the pseudo-headers of both families sum
//! the length and protocol alike, so only the addresses (4 or 16 bytes each) and the ports
//! change — except an IPv4 UDP datagram without a checksum, which IPv6 requires one for: it
//! is summed whole (RFC 6145's choice for stateful translators).
//!
//! ```text
//! IPv4 (20 bytes)        IPv6 (40 bytes)
//! ver/IHL, TOS     <->   ver, traffic class, flow label 0
//! total length     <->   payload length (+/- the header)
//! TTL              <->   hop limit
//! protocol         <->   next header
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{adjust_l4_checksum, checksum, complete_checksum, ipv4, ipv6, proto, Parsed};

/// Rewrites an IPv6 packet's addresses and (TCP, UDP) ports at once, with one incremental
/// update of the transport checksum. `buf` holds a packet [`super::parse`] accepted, parsed
/// as `p`.
pub fn rewrite_v6_flow(buf: &mut [u8], p: &Parsed, src: (Ipv6Addr, u16), dst: (Ipv6Addr, u16)) {
    let mut old = [0u8; 36];
    let mut new = [0u8; 36];
    old[..32].copy_from_slice(&buf[8..40]);
    new[..16].copy_from_slice(&src.0.octets());
    new[16..32].copy_from_slice(&dst.0.octets());
    buf[8..40].copy_from_slice(&new[..32]);
    let Some(off) = p.l4_offset else { return };
    let l4 = &mut buf[off..p.len];
    let n = if matches!(p.protocol, proto::TCP | proto::UDP) && l4.len() >= 4 {
        old[32..36].copy_from_slice(&l4[..4]);
        new[32..34].copy_from_slice(&src.1.to_be_bytes());
        new[34..36].copy_from_slice(&dst.1.to_be_bytes());
        l4[..4].copy_from_slice(&new[32..36]);
        36
    } else {
        32
    };
    adjust_l4_checksum(l4, p.protocol, true, &old[..n], &new[..n]);
}

/// Translates a TCP or UDP packet (parsed as `p`) to the other family, with `src` and `dst`
/// (both of the new family) as its addresses and ports: the transport header and payload
/// move behind the new IP header, in place. `None` for what cannot be translated — a
/// fragment, another protocol, addresses of mixed families, or no room in `buf` for the
/// longer IPv6 header. Returns the packet as now parsed.
pub fn translate_flow(
    buf: &mut [u8],
    p: &Parsed,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
) -> Option<Parsed> {
    let off = p.l4_offset.filter(|_| p.fragment.is_none())?;
    if !matches!(p.protocol, proto::TCP | proto::UDP) || p.len < off + 8 {
        return None;
    }
    let l4_len = p.len - off;
    // Old pseudo-header addresses and ports, for the checksum.
    let mut old = [0u8; 36];
    let n_old = if p.is_ipv4() { 8 } else { 32 };
    old[..n_old].copy_from_slice(&buf[if p.is_ipv4() { 12 } else { 8 }..][..n_old]);
    old[n_old..n_old + 4].copy_from_slice(&buf[off..off + 4]);
    let mut new = [0u8; 36];
    let (new_off, n_new) = match (src.0, dst.0) {
        (IpAddr::V6(s), IpAddr::V6(d)) if p.is_ipv4() => {
            if buf.len() < ipv6::HEADER_LEN + l4_len || l4_len > usize::from(u16::MAX) {
                return None;
            }
            let (tos, ttl) = (buf[1], buf[8]);
            buf.copy_within(off..p.len, ipv6::HEADER_LEN);
            v6_header(
                &mut buf[..ipv6::HEADER_LEN],
                tos,
                ttl,
                p.protocol,
                l4_len,
                s,
                d,
            );
            new[..16].copy_from_slice(&s.octets());
            new[16..32].copy_from_slice(&d.octets());
            (ipv6::HEADER_LEN, 32)
        }
        (IpAddr::V4(s), IpAddr::V4(d)) if !p.is_ipv4() => {
            let tclass = (buf[0] << 4) | (buf[1] >> 4);
            let hops = buf[7];
            buf.copy_within(off..p.len, ipv4::HEADER_LEN);
            v4_header(
                &mut buf[..ipv4::HEADER_LEN],
                tclass,
                hops,
                p.protocol,
                l4_len,
                s,
                d,
            );
            new[..4].copy_from_slice(&s.octets());
            new[4..8].copy_from_slice(&d.octets());
            (ipv4::HEADER_LEN, 8)
        }
        _ => return None,
    };
    let len = new_off + l4_len;
    let l4 = &mut buf[new_off..len];
    l4[..2].copy_from_slice(&src.1.to_be_bytes());
    l4[2..4].copy_from_slice(&dst.1.to_be_bytes());
    new[n_new..n_new + 2].copy_from_slice(&src.1.to_be_bytes());
    new[n_new + 2..n_new + 4].copy_from_slice(&dst.1.to_be_bytes());
    let q = Parsed {
        src: src.0,
        dst: dst.0,
        src_port: src.1,
        dst_port: dst.1,
        len,
        l4_offset: Some(new_off),
        ..*p
    };
    let no_udp_sum = p.protocol == proto::UDP && l4[6..8] == [0, 0];
    if no_udp_sum {
        complete_checksum(buf, &q);
    } else {
        adjust_l4_checksum(
            l4,
            p.protocol,
            !q.is_ipv4(),
            &old[..n_old + 4],
            &new[..n_new + 4],
        );
    }
    Some(q)
}

/// Writes the IPv6 header of a translated IPv4 packet.
fn v6_header(
    h: &mut [u8],
    tos: u8,
    ttl: u8,
    protocol: u8,
    payload: usize,
    s: Ipv6Addr,
    d: Ipv6Addr,
) {
    h[0] = 0x60 | (tos >> 4);
    h[1] = tos << 4;
    h[2] = 0;
    h[3] = 0;
    h[4..6].copy_from_slice(&(payload as u16).to_be_bytes());
    h[6] = protocol;
    h[7] = ttl;
    h[8..24].copy_from_slice(&s.octets());
    h[24..40].copy_from_slice(&d.octets());
}

/// Writes the IPv4 header of a translated IPv6 packet: no options, DF, identification 0.
fn v4_header(
    h: &mut [u8],
    tos: u8,
    ttl: u8,
    protocol: u8,
    payload: usize,
    s: Ipv4Addr,
    d: Ipv4Addr,
) {
    h[0] = 0x45;
    h[1] = tos;
    h[2..4].copy_from_slice(&((ipv4::HEADER_LEN + payload) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&[0, 0]);
    h[6..8].copy_from_slice(&[0x40, 0]);
    h[8] = ttl;
    h[9] = protocol;
    h[10..12].copy_from_slice(&[0, 0]);
    h[12..16].copy_from_slice(&s.octets());
    h[16..20].copy_from_slice(&d.octets());
    let c = checksum::checksum(h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
}
