//! Packet views: borrowed, zero-copy, checked once.
//!
//! Each header type is a view over a byte buffer in the style of smoltcp's `wire` module:
//! `new_checked` validates every length the accessors rely on, so after it returns `Ok` no
//! accessor can fail or read out of bounds; setters rewrite fields in place and keep
//! checksums right incrementally (RFC 1624) rather than re-summing the packet.
//!
//! [`parse`] is the pipeline's entry point: one pass over the network and transport headers
//! producing a small `Copy` summary ([`Parsed`]) that the decision code works from; rewrites go
//! back through the views.

pub mod build;
pub mod checksum;
pub mod family;
pub mod geneve;
pub mod ipv4;
pub mod ipv6;
pub mod transport;
pub mod udp_gso;

use std::net::IpAddr;

pub use ipv4::Ipv4Packet;
pub use ipv6::Ipv6Packet;
pub use transport::{tcp_flags, IcmpPacket, TcpPacket, UdpPacket};

/// IP protocol numbers used here.
pub mod proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
}

/// Why a buffer is not a packet we can forward. Each is a drop reason of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireError {
    /// Shorter than the header it must hold.
    Truncated,
    /// Neither IPv4 nor IPv6.
    BadVersion,
    /// IPv4 IHL below 5 or past the buffer.
    BadHeaderLength,
    /// Total (IPv4) or payload (IPv6) length disagrees with the buffer.
    BadTotalLength,
    /// IPv4 header checksum wrong.
    BadChecksum,
    /// TCP data offset or UDP length wrong.
    BadTransportHeader,
    /// A first fragment too short to hold its whole transport header (RFC 1858): its ports
    /// could hide in a later fragment.
    TinyFragment,
}

impl WireError {
    pub fn as_str(&self) -> &'static str {
        match self {
            WireError::Truncated => "truncated",
            WireError::BadVersion => "bad_ip_version",
            WireError::BadHeaderLength => "bad_header_length",
            WireError::BadTotalLength => "bad_total_length",
            WireError::BadChecksum => "bad_header_checksum",
            WireError::BadTransportHeader => "bad_transport_header",
            WireError::TinyFragment => "fragment_tiny",
        }
    }
}

/// Where a fragment lies in its datagram (IPv4 flags and offset, or the IPv6 Fragment header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    /// The datagram's identification, which all its fragments share (IPv4: 16 bits).
    pub id: u32,
    /// Offset of this fragment's data in the datagram's payload (the fragmentable part), bytes.
    pub offset: u32,
    /// Bytes of that payload this fragment carries.
    pub len: u32,
    /// More fragments follow (MF, M).
    pub more: bool,
}

impl Fragment {
    /// The first fragment: the only one with the transport header.
    pub fn is_first(&self) -> bool {
        self.offset == 0
    }
}

/// The flow of the packet an ICMP error quotes, as that packet went (its source first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    pub protocol: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TCP/UDP ports, or an echo's identifier in both.
    pub src_port: u16,
    pub dst_port: u16,
}

/// What the pipeline needs to know of a packet, from one pass over its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Transport protocol (after IPv6 extension headers).
    pub protocol: u8,
    /// Length of the IP packet (the buffer may be longer).
    pub len: usize,
    /// Offset of the transport header, if this packet carries one (not a later fragment).
    pub l4_offset: Option<usize>,
    /// TCP/UDP ports, or an ICMP echo request's or reply's identifier in `src_port` (0
    /// otherwise). A later fragment carries none: the pipeline fills them in from its first
    /// fragment (`crate::fragments`).
    pub src_port: u16,
    pub dst_port: u16,
    /// TCP flags (0 for other protocols).
    pub tcp_flags: u8,
    /// ICMP/ICMPv6 type and code (0 for other protocols).
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// Part of a fragmented datagram.
    pub fragment: Option<Fragment>,
    /// An ICMP error (destination unreachable, time exceeded, parameter problem, packet too
    /// big): the flow of the packet it quotes, when the quote is readable.
    pub quoted: Option<Quoted>,
}

impl Parsed {
    pub fn is_ipv4(&self) -> bool {
        self.src.is_ipv4()
    }

    pub fn is_fragment(&self) -> bool {
        self.fragment.is_some()
    }

    /// An ICMP echo request or reply (v4 or v6): a flow by its identifier.
    pub fn is_icmp_echo(&self) -> bool {
        match self.protocol {
            proto::ICMP => matches!(self.icmp_type, icmp::ECHO_REPLY | icmp::ECHO_REQUEST),
            proto::ICMPV6 => matches!(self.icmp_type, icmp::V6_ECHO_REQUEST | icmp::V6_ECHO_REPLY),
            _ => false,
        }
    }
}

/// ICMP and ICMPv6 message types that decide how a message is tracked.
pub mod icmp {
    pub const ECHO_REPLY: u8 = 0;
    pub const DEST_UNREACHABLE: u8 = 3;
    pub const SOURCE_QUENCH: u8 = 4;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
    pub const PARAMETER_PROBLEM: u8 = 12;
    pub const V6_DEST_UNREACHABLE: u8 = 1;
    pub const V6_PACKET_TOO_BIG: u8 = 2;
    pub const V6_TIME_EXCEEDED: u8 = 3;
    pub const V6_PARAMETER_PROBLEM: u8 = 4;
    pub const V6_ECHO_REQUEST: u8 = 128;
    pub const V6_ECHO_REPLY: u8 = 129;

    /// An error message, which quotes the packet it is about (RFC 792, RFC 4443).
    pub fn is_error(v6: bool, msg_type: u8) -> bool {
        if v6 {
            matches!(
                msg_type,
                V6_DEST_UNREACHABLE | V6_PACKET_TOO_BIG | V6_TIME_EXCEEDED | V6_PARAMETER_PROBLEM
            )
        } else {
            matches!(
                msg_type,
                DEST_UNREACHABLE | SOURCE_QUENCH | TIME_EXCEEDED | PARAMETER_PROBLEM
            )
        }
    }
}

/// Parses and validates the IP header, its checksum (IPv4), and the transport header when
/// present. A first fragment must hold its whole transport header (RFC 1858, RFC 7112):
/// one that does not is [`WireError::TinyFragment`].
pub fn parse(buf: &[u8]) -> Result<Parsed, WireError> {
    match buf.first().map(|b| b >> 4) {
        Some(4) => {
            let p = Ipv4Packet::new_checked(buf)?;
            if !p.verify_checksum() {
                return Err(WireError::BadChecksum);
            }
            let hl = p.header_len();
            let fragment = p.is_fragment().then(|| Fragment {
                id: u32::from(p.ident()),
                offset: p.fragment_offset() as u32,
                len: (p.total_len() - hl) as u32,
                more: p.more_fragments(),
            });
            let later = fragment.is_some_and(|f| !f.is_first());
            let mut out = Parsed {
                src: IpAddr::V4(p.src_addr()),
                dst: IpAddr::V4(p.dst_addr()),
                protocol: p.protocol(),
                len: p.total_len(),
                l4_offset: (!later).then_some(hl),
                src_port: 0,
                dst_port: 0,
                tcp_flags: 0,
                icmp_type: 0,
                icmp_code: 0,
                fragment,
                quoted: None,
            };
            if !later {
                transport_fields(&mut out, p.payload())?;
            }
            Ok(out)
        }
        Some(6) => {
            let p = Ipv6Packet::new_checked(buf)?;
            let upper = p.upper_layer()?;
            let fragment = upper.fragment.map(|h| Fragment {
                id: h.ident,
                offset: h.offset as u32,
                len: (p.total_len() - upper.offset) as u32,
                more: h.more,
            });
            let mut out = Parsed {
                src: IpAddr::V6(p.src_addr()),
                dst: IpAddr::V6(p.dst_addr()),
                protocol: upper.protocol,
                len: p.total_len(),
                l4_offset: (!upper.later_fragment).then_some(upper.offset),
                src_port: 0,
                dst_port: 0,
                tcp_flags: 0,
                icmp_type: 0,
                icmp_code: 0,
                fragment,
                quoted: None,
            };
            if !upper.later_fragment {
                transport_fields(&mut out, &buf[upper.offset..p.total_len()])?;
            }
            Ok(out)
        }
        Some(_) => Err(WireError::BadVersion),
        None => Err(WireError::Truncated),
    }
}

/// The IP header fields of a packet read from its first bytes alone (a copy kept short still
/// answers): IPv4, or IPv6 without extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    /// Where the transport header starts.
    pub l4: usize,
    /// The packet's whole length, as its header says.
    pub total_len: usize,
}

/// Reads [`Head`] from the start of `bytes`; `None` if too short or not IP.
pub fn head(bytes: &[u8]) -> Option<Head> {
    match bytes.first()? >> 4 {
        4 if bytes.len() >= ipv4::HEADER_LEN => {
            let ip = Ipv4Packet::new_unchecked(bytes);
            Some(Head {
                src: IpAddr::V4(ip.src_addr()),
                dst: IpAddr::V4(ip.dst_addr()),
                protocol: ip.protocol(),
                l4: ip.header_len(),
                total_len: ip.total_len(),
            })
        }
        6 if bytes.len() >= ipv6::HEADER_LEN => {
            let ip = Ipv6Packet::new_unchecked(bytes);
            Some(Head {
                src: IpAddr::V6(ip.src_addr()),
                dst: IpAddr::V6(ip.dst_addr()),
                protocol: ip.next_header(),
                l4: ipv6::HEADER_LEN,
                total_len: ip.total_len(),
            })
        }
        _ => None,
    }
}

/// The destination address and port of a TCP or UDP packet read from its first bytes alone:
/// a packet cut after its ports (a copy kept short) still answers. `None` for anything else.
pub fn flow_destination(bytes: &[u8]) -> Option<(IpAddr, u16)> {
    let h = head(bytes).filter(|h| matches!(h.protocol, proto::TCP | proto::UDP))?;
    let p = bytes.get(h.l4 + 2..h.l4 + 4)?;
    Some((h.dst, u16::from_be_bytes([p[0], p[1]])))
}

/// The flow of a packet as five words that are the same for both of its directions — the
/// lower (address, port) end first — for steering a flow to one worker both ways
/// (`io::steer`). Read from the first bytes alone, checking nothing but the lengths it reads:
/// TCP and UDP carry their ports; fragments, ICMP, IPv6 behind extension headers and other
/// protocols are keyed by their addresses and protocol only (so a datagram's fragments share
/// one key). `None` for what is not IP.
pub fn symmetric_flow(bytes: &[u8]) -> Option<[u64; 5]> {
    let h = head(bytes)?;
    let fragment = match h.src {
        IpAddr::V4(_) => Ipv4Packet::new_unchecked(bytes).is_fragment(),
        IpAddr::V6(_) => false, // a Fragment header is a next header other than TCP or UDP
    };
    let ports = match h.protocol {
        proto::TCP | proto::UDP if !fragment => bytes.get(h.l4..h.l4 + 4).map(|p| {
            (
                u16::from_be_bytes([p[0], p[1]]),
                u16::from_be_bytes([p[2], p[3]]),
            )
        }),
        _ => None,
    };
    let (sp, dp) = ports.unwrap_or((0, 0));
    let end = |a: IpAddr, p: u16| match a {
        IpAddr::V4(a) => (u128::from(u32::from(a)), p),
        IpAddr::V6(a) => (u128::from(a), p),
    };
    let (lo, hi) = {
        let (a, b) = (end(h.src, sp), end(h.dst, dp));
        if a <= b {
            (a, b)
        } else {
            (b, a)
        }
    };
    let rest = u64::from(h.protocol) << 32 | u64::from(lo.1) << 16 | u64::from(hi.1);
    Some([
        (lo.0 >> 64) as u64,
        lo.0 as u64,
        (hi.0 >> 64) as u64,
        hi.0 as u64,
        rest | u64::from(bytes[0] >> 4) << 40,
    ])
}

/// Reads the transport header at the start of `l4` into `out`. In a first fragment `l4` is
/// only part of the datagram's payload: the header must be whole, its lengths are not
/// checked against the part.
fn transport_fields(out: &mut Parsed, l4: &[u8]) -> Result<(), WireError> {
    let first = out.fragment.is_some();
    let tiny = |need: usize| {
        if first && l4.len() < need {
            Err(WireError::TinyFragment)
        } else {
            Ok(())
        }
    };
    match out.protocol {
        proto::TCP => {
            tiny(TcpPacket::<&[u8]>::HEADER_LEN)?;
            let t = TcpPacket::new_checked(l4).map_err(|e| {
                if first {
                    WireError::TinyFragment
                } else {
                    e
                }
            })?;
            out.src_port = t.src_port();
            out.dst_port = t.dst_port();
            out.tcp_flags = t.flags();
        }
        proto::UDP => {
            tiny(UdpPacket::<&[u8]>::HEADER_LEN)?;
            let u = if first {
                UdpPacket::new_unchecked(l4)
            } else {
                UdpPacket::new_checked(l4)?
            };
            out.src_port = u.src_port();
            out.dst_port = u.dst_port();
        }
        proto::ICMP | proto::ICMPV6 => {
            tiny(IcmpPacket::<&[u8]>::HEADER_LEN)?;
            let i = IcmpPacket::new_checked(l4)?;
            out.icmp_type = i.msg_type();
            out.icmp_code = i.code();
            if out.is_icmp_echo() {
                out.src_port = i.echo_ident();
            } else if icmp::is_error(!out.is_ipv4(), out.icmp_type) {
                out.quoted = quoted(&l4[IcmpPacket::<&[u8]>::HEADER_LEN..], out.is_ipv4());
            }
        }
        _ => {}
    }
    Ok(())
}

/// The flow of the packet an ICMP error quotes: its IP header and at least the first 8 bytes
/// of its transport header (RFC 792; RFC 4443 quotes as much as fits). `None` if the quote is
/// cut short or of another family. Not validated further: only used to find a flow.
fn quoted(q: &[u8], v4: bool) -> Option<Quoted> {
    let (protocol, src, dst, l4) = if v4 {
        if q.len() < 20 || q[0] >> 4 != 4 {
            return None;
        }
        let ihl = usize::from(q[0] & 0x0f) * 4;
        let frag_off = u16::from_be_bytes([q[6], q[7]]) & 0x1fff;
        if ihl < 20 || frag_off != 0 {
            return None;
        }
        let a = |at: usize| {
            IpAddr::V4(std::net::Ipv4Addr::new(
                q[at],
                q[at + 1],
                q[at + 2],
                q[at + 3],
            ))
        };
        (q[9], a(12), a(16), q.get(ihl..)?)
    } else {
        if q.len() < 40 || q[0] >> 4 != 6 {
            return None;
        }
        let a = |at: usize| {
            let b: [u8; 16] = q[at..at + 16].try_into().expect("16 bytes");
            IpAddr::V6(b.into())
        };
        (q[6], a(8), a(24), &q[40..])
    };
    let (src_port, dst_port) = match protocol {
        proto::TCP | proto::UDP if l4.len() >= 4 => (
            u16::from_be_bytes([l4[0], l4[1]]),
            u16::from_be_bytes([l4[2], l4[3]]),
        ),
        proto::ICMP | proto::ICMPV6 if l4.len() >= 8 => {
            let echo = matches!(
                (protocol, l4[0]),
                (proto::ICMP, icmp::ECHO_REQUEST | icmp::ECHO_REPLY)
                    | (proto::ICMPV6, icmp::V6_ECHO_REQUEST | icmp::V6_ECHO_REPLY)
            );
            if !echo {
                return None;
            }
            let id = u16::from_be_bytes([l4[4], l4[5]]);
            (id, id)
        }
        _ => return None,
    };
    Some(Quoted {
        protocol,
        src,
        dst,
        src_port,
        dst_port,
    })
}

/// Folds an address change into the transport checksum of `l4` (a transport header and its
/// payload), for the protocols whose checksum covers a pseudo-header. Headers too short to
/// hold their checksum are left alone (the packet was validated by [`parse`] before any
/// rewrite, so that only happens to fragments).
/// Rewrites an IPv4 packet's addresses and (TCP, UDP) ports at once, as a load balancer's
/// address translation does: one incremental update of the header checksum (the two
/// addresses are adjacent) and one of the transport checksum (pseudo-header addresses and
/// ports together) — three fewer than rewriting field by field. `buf` must hold a packet
/// [`parse`] accepted, `l4_offset` and `protocol` as it returned them.
pub fn rewrite_v4_flow(
    buf: &mut [u8],
    l4_offset: Option<usize>,
    protocol: u8,
    src: (std::net::Ipv4Addr, u16),
    dst: (std::net::Ipv4Addr, u16),
) {
    let mut old = [0u8; 12];
    let mut new = [0u8; 12];
    old[..8].copy_from_slice(&buf[12..20]);
    new[..4].copy_from_slice(&src.0.octets());
    new[4..8].copy_from_slice(&dst.0.octets());
    buf[12..20].copy_from_slice(&new[..8]);
    let c = u16::from_be_bytes([buf[10], buf[11]]);
    buf[10..12].copy_from_slice(&checksum::adjust(c, &old[..8], &new[..8]).to_be_bytes());
    let Some(off) = l4_offset else { return };
    let total = Ipv4Packet::new_unchecked(&*buf).total_len();
    let l4 = &mut buf[off..total];
    let ports = matches!(protocol, proto::TCP | proto::UDP) && l4.len() >= 4;
    let n = if ports {
        old[8..12].copy_from_slice(&l4[..4]);
        new[8..10].copy_from_slice(&src.1.to_be_bytes());
        new[10..12].copy_from_slice(&dst.1.to_be_bytes());
        l4[..4].copy_from_slice(&new[8..12]);
        12
    } else {
        8
    };
    adjust_l4_checksum(l4, protocol, false, &old[..n], &new[..n]);
}

/// Rewrites an address of the IPv4 header an ICMP error quotes — its source if `source`,
/// else its destination — as an address translator must (RFC 5508 4.2): the quoted header's
/// checksum and the ICMP checksum follow, incrementally. `buf` holds an IPv4 packet [`parse`]
/// accepted with `p.quoted` set (the quote's header is within the packet).
pub fn rewrite_quoted_v4(buf: &mut [u8], p: &Parsed, source: bool, to: std::net::Ipv4Addr) {
    let Some(off) = p.l4_offset.filter(|_| p.quoted.is_some() && p.is_ipv4()) else {
        return;
    };
    let q = off + IcmpPacket::<&[u8]>::HEADER_LEN;
    if p.len < q + ipv4::HEADER_LEN {
        return;
    }
    let at = q + if source { 12 } else { 16 };
    let mut old = [0u8; 6];
    old[..4].copy_from_slice(&buf[at..at + 4]);
    old[4..].copy_from_slice(&buf[q + 10..q + 12]);
    let mut new = [0u8; 6];
    new[..4].copy_from_slice(&to.octets());
    let c = u16::from_be_bytes([old[4], old[5]]);
    let sum = checksum::adjust(c, &old[..4], &to.octets());
    new[4..].copy_from_slice(&sum.to_be_bytes());
    buf[at..at + 4].copy_from_slice(&new[..4]);
    buf[q + 10..q + 12].copy_from_slice(&new[4..]);
    // Both changes sit at even offsets of the ICMP message: one adjustment covers them.
    let c = u16::from_be_bytes([buf[off + 2], buf[off + 3]]);
    buf[off + 2..off + 4].copy_from_slice(&checksum::adjust(c, &old, &new).to_be_bytes());
}

pub(crate) fn adjust_l4_checksum(l4: &mut [u8], protocol: u8, ipv6: bool, old: &[u8], new: &[u8]) {
    let at = match (protocol, checksum_field(protocol)) {
        (_, Some(at)) => at,
        (proto::ICMPV6, None) if ipv6 => 2,
        _ => return,
    };
    if l4.len() < at + 2 {
        return;
    }
    let c = u16::from_be_bytes([l4[at], l4[at + 1]]);
    if protocol == proto::UDP && !ipv6 && c == 0 {
        return; // no checksum
    }
    let mut n = checksum::adjust(c, old, new);
    if protocol == proto::UDP && n == 0 {
        n = 0xffff;
    }
    l4[at..at + 2].copy_from_slice(&n.to_be_bytes());
}

#[cfg(test)]
mod tests;

/// TCP fields and edits the PROXY protocol insertion needs, on a packet [`parse`] accepted
/// (`l4` is its transport header onwards, up to the IP total length).
pub mod tcp_edit {
    use super::checksum;

    pub fn seq(l4: &[u8]) -> u32 {
        u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]])
    }

    pub fn ack(l4: &[u8]) -> u32 {
        u32::from_be_bytes([l4[8], l4[9], l4[10], l4[11]])
    }

    pub fn header_len(l4: &[u8]) -> usize {
        usize::from(l4[12] >> 4) * 4
    }

    fn set_word(l4: &mut [u8], at: usize, v: u32) {
        let old: [u8; 4] = l4[at..at + 4].try_into().expect("4 bytes");
        let new = v.to_be_bytes();
        l4[at..at + 4].copy_from_slice(&new);
        let c = u16::from_be_bytes([l4[16], l4[17]]);
        l4[16..18].copy_from_slice(&checksum::adjust(c, &old, &new).to_be_bytes());
    }

    pub fn set_seq(l4: &mut [u8], v: u32) {
        set_word(l4, 4, v);
    }

    pub fn set_ack(l4: &mut [u8], v: u32) {
        set_word(l4, 8, v);
    }

    /// Applies `f` to every SACK block edge in the options (checksum kept right).
    pub fn map_sack(l4: &mut [u8], f: impl Fn(u32) -> u32) {
        let end = header_len(l4).min(l4.len());
        let mut i = 20;
        while i < end {
            match l4[i] {
                0 => break,
                1 => i += 1,
                kind => {
                    let Some(&len) = l4.get(i + 1) else { break };
                    let len = usize::from(len);
                    if len < 2 || i + len > end {
                        break;
                    }
                    if kind == 5 {
                        let mut at = i + 2;
                        while at + 8 <= i + len {
                            for edge in [at, at + 4] {
                                let v =
                                    u32::from_be_bytes(l4[edge..edge + 4].try_into().expect("4"));
                                // Edges sit at even offsets (options start at 20): adjustable.
                                set_word(l4, edge, f(v));
                            }
                            at += 8;
                        }
                    }
                    i += len;
                }
            }
        }
    }

    /// Lowers the MSS option of a SYN by `by` bytes (room for what will be inserted).
    pub fn clamp_mss(l4: &mut [u8], by: u16) {
        let end = header_len(l4).min(l4.len());
        let mut i = 20;
        while i + 4 <= end {
            match l4[i] {
                0 => break,
                1 => i += 1,
                2 if l4[i + 1] == 4 => {
                    let old = [l4[i + 2], l4[i + 3]];
                    let mss = u16::from_be_bytes(old).saturating_sub(by).max(536);
                    let new = mss.to_be_bytes();
                    l4[i + 2..i + 4].copy_from_slice(&new);
                    // The option may start at an odd offset: adjust over the aligned word.
                    let w = i & !1;
                    let mut o = [0u8; 4];
                    let mut n = [0u8; 4];
                    o.copy_from_slice(&l4[w..w + 4]);
                    n.copy_from_slice(&l4[w..w + 4]);
                    let off = i + 2 - w;
                    o[off..off + 2].copy_from_slice(&old);
                    let c = u16::from_be_bytes([l4[16], l4[17]]);
                    l4[16..18].copy_from_slice(&checksum::adjust(c, &o, &n).to_be_bytes());
                    return;
                }
                _ => {
                    let len = usize::from(l4[i + 1]);
                    if len < 2 {
                        break;
                    }
                    i += len;
                }
            }
        }
    }
}

/// The PROXY protocol v2 header AWS PrivateLink sends (TCP over IPv4 or IPv6 — the family of
/// the client's connection, whatever the target's — with the `0xEA` TLV of subtype `0x01`
/// carrying the endpoint id; none for an empty id, as a load balancer's own clients get it),
/// written into `out`; returns its length. `None` for addresses of mixed families.
pub fn proxy_v2_header(
    src: std::net::SocketAddr,
    dst: std::net::SocketAddr,
    vpce_id: &str,
    out: &mut [u8; 128],
) -> Option<usize> {
    use std::net::SocketAddr::{V4, V6};
    const SIGNATURE: [u8; 12] = [
        0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
    ];
    out[..12].copy_from_slice(&SIGNATURE);
    out[12] = 0x21; // version 2, PROXY
    let addrs = match (src, dst) {
        (V4(s), V4(d)) => {
            out[13] = 0x11; // TCP over IPv4
            out[16..20].copy_from_slice(&s.ip().octets());
            out[20..24].copy_from_slice(&d.ip().octets());
            8
        }
        (V6(s), V6(d)) => {
            out[13] = 0x21; // TCP over IPv6
            out[16..32].copy_from_slice(&s.ip().octets());
            out[32..48].copy_from_slice(&d.ip().octets());
            32
        }
        _ => return None,
    };
    let at = 16 + addrs;
    out[at..at + 2].copy_from_slice(&src.port().to_be_bytes());
    out[at + 2..at + 4].copy_from_slice(&dst.port().to_be_bytes());
    let tlv = at + 4;
    let id = &vpce_id.as_bytes()[..vpce_id.len().min(128 - tlv - 4)];
    if !id.is_empty() {
        out[tlv] = 0xEA;
        out[tlv + 1..tlv + 3].copy_from_slice(&(1 + id.len() as u16).to_be_bytes());
        out[tlv + 3] = 0x01;
        out[tlv + 4..tlv + 4 + id.len()].copy_from_slice(id);
    }
    let end = if id.is_empty() {
        tlv
    } else {
        tlv + 4 + id.len()
    };
    out[14..16].copy_from_slice(&((end - 16) as u16).to_be_bytes());
    Some(end)
}

/// Inserts `prefix` at the start of a TCP segment's payload (IPv4 or IPv6), in place (`buf`
/// must have room for it past the packet), and fixes lengths and checksums (recomputed: this
/// happens once per connection). Returns the new packet length, or `None` without room.
pub fn insert_tcp_payload(buf: &mut [u8], p: &Parsed, prefix: &[u8]) -> Option<usize> {
    let off = p.l4_offset?;
    let new_len = p.len + prefix.len();
    let limit = usize::from(u16::MAX) + if p.is_ipv4() { 0 } else { ipv6::HEADER_LEN };
    if buf.len() < new_len || new_len > limit {
        return None;
    }
    let data = off + tcp_edit::header_len(&buf[off..p.len]);
    buf.copy_within(data..p.len, data + prefix.len());
    buf[data..data + prefix.len()].copy_from_slice(prefix);
    if p.is_ipv4() {
        buf[2..4].copy_from_slice(&(new_len as u16).to_be_bytes());
        Ipv4Packet::new_unchecked(&mut buf[..new_len]).fill_checksum();
    } else {
        buf[4..6].copy_from_slice(&((new_len - ipv6::HEADER_LEN) as u16).to_be_bytes());
    }
    complete_checksum(buf, &Parsed { len: new_len, ..*p });
    Some(new_len)
}

/// Where the transport checksum of `protocol` sits in its header (TCP, UDP), for checksum
/// offload.
pub fn checksum_field(protocol: u8) -> Option<usize> {
    match protocol {
        proto::TCP => Some(16),
        proto::UDP => Some(6),
        _ => None,
    }
}

/// The sum of the pseudo-header of the packet in `buf` (parsed as `p`): IPv4 or IPv6
/// addresses, protocol, transport length.
fn pseudo_sum(buf: &[u8], p: &Parsed, l4_len: usize) -> u32 {
    if p.is_ipv4() {
        checksum::pseudo_v4(
            buf[12..16].try_into().expect("4"),
            buf[16..20].try_into().expect("4"),
            p.protocol,
            l4_len as u16,
        )
    } else {
        checksum::pseudo_v6(
            buf[8..24].try_into().expect("16"),
            buf[24..40].try_into().expect("16"),
            p.protocol,
            l4_len as u32,
        )
    }
}

/// Writes the *partial* transport checksum of a TCP or UDP packet (`VIRTIO_NET_HDR_F_NEEDS_CSUM`):
/// the folded pseudo-header sum, which whoever sends the packet on completes over the header
/// and payload. Returns `(csum_start, csum_offset)` for the virtio header, or `None` for a
/// packet without one (another protocol, a fragment).
pub fn partial_checksum(buf: &mut [u8], p: &Parsed) -> Option<(u16, u16)> {
    let field = checksum_field(p.protocol)?;
    let off = p.l4_offset.filter(|_| !p.is_fragment())?;
    if p.len < off + field + 2 {
        return None;
    }
    let s = checksum::fold(pseudo_sum(buf, p, p.len - off));
    buf[off + field..off + field + 2].copy_from_slice(&s.to_be_bytes());
    Some((off as u16, field as u16))
}

/// Completes the transport checksum of a TCP or UDP packet whose checksum is partial (or
/// wrong): summed over the pseudo-header, the transport header and the payload.
pub fn complete_checksum(buf: &mut [u8], p: &Parsed) {
    let (Some(field), Some(off)) = (checksum_field(p.protocol), p.l4_offset) else {
        return;
    };
    if p.is_fragment() || p.len < off + field + 2 {
        return;
    }
    let pseudo = pseudo_sum(buf, p, p.len - off);
    let l4 = &mut buf[off..p.len];
    l4[field..field + 2].copy_from_slice(&[0, 0]);
    let mut c = !checksum::fold(checksum::sum(l4) + pseudo);
    if c == 0 && p.protocol == proto::UDP {
        c = 0xffff;
    }
    l4[field..field + 2].copy_from_slice(&c.to_be_bytes());
}
