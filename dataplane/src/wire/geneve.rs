//! GENEVE (RFC 8926) as a Gateway Load Balancer speaks it: the header view, AWS's options,
//! and encapsulation in place.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |  0
//! |        Virtual Network Identifier (VNI)       |    Reserved   |  4
//! |                    Variable-Length Options                    |  8
//!
//! An option:
//! |          Option Class         |      Type     |R|R|R| Length  |
//! |                 Variable-Length Option Data                   |
//! ```
//!
//! Opt Len and an option's Length count 4-byte words. The GWLB's packets always carry the
//! three AWS options of class `0x0108` (AWS's Gateway Load Balancer documentation): type 1, the GWLB endpoint ENI id (be64);
//! type 2, the attachment id (be64); type 3, the flow cookie (be32) — Opt Len 8, 40 bytes of
//! GENEVE header, 68 bytes with the outer IPv4 (20) and UDP (8) headers, which are IPv4 even
//! when the inner packet is IPv6. There is no inner Ethernet header: the protocol type is the
//! inner packet's EtherType (`0x0800`, `0x86DD`).
//!
//! [`GenevePacket::new_checked`] validates the header and walks the options once; after it,
//! no accessor can fail. Options of other classes are skipped; an unknown option with the
//! critical bit (the type's high bit) makes [`GenevePacket::unknown_critical`] true, and RFC
//! 8926 says such a packet must be dropped.

use std::net::Ipv4Addr;

use super::{checksum, proto, WireError};

/// UDP port of GENEVE.
pub const PORT: u16 = 6081;
/// AWS's option class.
pub const AWS_CLASS: u16 = 0x0108;
pub const OPT_ENDPOINT: u8 = 1;
pub const OPT_ATTACHMENT: u8 = 2;
pub const OPT_COOKIE: u8 = 3;
/// The GENEVE header with AWS's three options.
pub const AWS_HEADER_LEN: usize = 8 + AWS_OPTIONS_LEN;
pub const AWS_OPTIONS_LEN: usize = (4 + 8) + (4 + 8) + (4 + 4);
/// Everything the GWLB puts in front of the inner packet: outer IPv4, UDP, GENEVE.
pub const OVERHEAD: usize = 20 + 8 + AWS_HEADER_LEN;
const _: () = assert!(AWS_OPTIONS_LEN == 32 && AWS_HEADER_LEN == 40 && OVERHEAD == 68);

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86DD;

/// AWS's options as carried in a packet (each may be missing in a packet someone else made).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AwsOptions {
    pub endpoint: Option<u64>,
    pub attachment: Option<u64>,
    pub cookie: Option<u32>,
}

/// A view of a GENEVE header and its payload (the UDP payload of a GENEVE packet).
#[derive(Debug, Clone, Copy)]
pub struct GenevePacket<T: AsRef<[u8]>> {
    buffer: T,
    aws: AwsOptions,
    unknown_critical: bool,
}

impl<T: AsRef<[u8]>> GenevePacket<T> {
    /// Checks version 0, that the options fit and are well formed, and reads AWS's.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < 8 {
            return Err(WireError::Truncated);
        }
        if b[0] >> 6 != 0 {
            return Err(WireError::BadVersion);
        }
        let end = 8 + usize::from(b[0] & 0x3f) * 4;
        if end > b.len() {
            return Err(WireError::BadHeaderLength);
        }
        let mut aws = AwsOptions::default();
        let mut unknown_critical = false;
        let mut i = 8;
        while i < end {
            if i + 4 > end {
                return Err(WireError::BadHeaderLength);
            }
            let class = u16::from_be_bytes([b[i], b[i + 1]]);
            let kind = b[i + 2];
            let len = usize::from(b[i + 3] & 0x1f) * 4;
            let data = &b[i + 4..(i + 4 + len).min(end)];
            if i + 4 + len > end {
                return Err(WireError::BadHeaderLength);
            }
            match (class, kind & 0x7f, len) {
                (AWS_CLASS, OPT_ENDPOINT, 8) => {
                    aws.endpoint = Some(u64::from_be_bytes(data.try_into().expect("8")))
                }
                (AWS_CLASS, OPT_ATTACHMENT, 8) => {
                    aws.attachment = Some(u64::from_be_bytes(data.try_into().expect("8")))
                }
                (AWS_CLASS, OPT_COOKIE, 4) => {
                    aws.cookie = Some(u32::from_be_bytes(data.try_into().expect("4")))
                }
                _ => unknown_critical |= kind & 0x80 != 0,
            }
            i += 4 + len;
        }
        Ok(GenevePacket {
            buffer,
            aws,
            unknown_critical,
        })
    }

    /// Length of the GENEVE header, options included.
    pub fn header_len(&self) -> usize {
        8 + usize::from(self.buffer.as_ref()[0] & 0x3f) * 4
    }

    /// The OAM bit: a control packet, not data.
    pub fn oam(&self) -> bool {
        self.buffer.as_ref()[1] & 0x80 != 0
    }

    /// The inner packet's EtherType.
    pub fn protocol(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }

    pub fn vni(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([0, b[4], b[5], b[6]])
    }

    pub fn aws_options(&self) -> AwsOptions {
        self.aws
    }

    /// An option this implementation does not know carries the critical bit.
    pub fn unknown_critical(&self) -> bool {
        self.unknown_critical
    }

    /// The inner packet.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

/// The outer headers of a GWLB packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outer {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
}

/// Encapsulates the `inner_len`-byte IP packet at the start of `buf` in place: moves it
/// [`OVERHEAD`] bytes on and writes outer IPv4 (TTL 64, DF), UDP (no checksum, allowed over
/// IPv4) and the GENEVE header with AWS's three options in front. Returns the new length, or
/// `None` when `buf` has no room or the result would exceed an IPv4 packet.
pub fn encapsulate(
    buf: &mut [u8],
    inner_len: usize,
    outer: Outer,
    options: (u64, u64, u32),
) -> Option<usize> {
    let total = inner_len + OVERHEAD;
    if buf.len() < total || total > usize::from(u16::MAX) || inner_len == 0 {
        return None;
    }
    let ethertype = match buf[0] >> 4 {
        4 => ETHERTYPE_IPV4,
        6 => ETHERTYPE_IPV6,
        _ => return None,
    };
    buf.copy_within(0..inner_len, OVERHEAD);
    let h = &mut buf[..OVERHEAD];
    write_outer_headers(h, total, outer);
    // GENEVE.
    write_aws_header(&mut h[28..], ethertype, options);
    Some(total)
}

/// Writes the outer IPv4 (TTL 64, DF) and UDP (no checksum, allowed over IPv4) headers of a
/// `total`-byte GENEVE packet into `h[..28]`.
#[inline]
pub fn write_outer_headers(h: &mut [u8], total: usize, outer: Outer) {
    // IPv4.
    h[0] = 0x45;
    h[1] = 0;
    h[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    h[4..6].copy_from_slice(&[0, 0]);
    h[6..8].copy_from_slice(&[0x40, 0]); // DF
    h[8] = 64;
    h[9] = proto::UDP;
    h[10..12].copy_from_slice(&[0, 0]);
    h[12..16].copy_from_slice(&outer.src.octets());
    h[16..20].copy_from_slice(&outer.dst.octets());
    let c = checksum::checksum(&h[..20]);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    // UDP.
    h[20..22].copy_from_slice(&outer.src_port.to_be_bytes());
    h[22..24].copy_from_slice(&outer.dst_port.to_be_bytes());
    h[24..26].copy_from_slice(&((total - 20) as u16).to_be_bytes());
    h[26..28].copy_from_slice(&[0, 0]);
}

/// Writes the 40-byte GENEVE header with AWS's options into `out[..40]`.
pub fn write_aws_header(
    out: &mut [u8],
    ethertype: u16,
    (endpoint, attachment, cookie): (u64, u64, u32),
) {
    let g = &mut out[..AWS_HEADER_LEN];
    g[0] = (AWS_OPTIONS_LEN / 4) as u8; // version 0
    g[1] = 0;
    g[2..4].copy_from_slice(&ethertype.to_be_bytes());
    g[4..8].copy_from_slice(&[0, 0, 0, 0]); // VNI 0
    let mut at = 8;
    for (kind, value) in [
        (OPT_ENDPOINT, &endpoint.to_be_bytes()[..]),
        (OPT_ATTACHMENT, &attachment.to_be_bytes()[..]),
        (OPT_COOKIE, &cookie.to_be_bytes()[..]),
    ] {
        g[at..at + 2].copy_from_slice(&AWS_CLASS.to_be_bytes());
        g[at + 2] = kind;
        g[at + 3] = (value.len() / 4) as u8;
        g[at + 4..at + 4 + value.len()].copy_from_slice(value);
        at += 4 + value.len();
    }
}

/// The 64-bit value AWS puts in an id option: the hexadecimal part of an id such as
/// `vpce-0c000000000000001` or `eni-0c00000000000e001` (17 digits, the first always 0 in
/// practice, so the low 64 bits keep all of it); an id that is not hexadecimal gets its
/// FNV-1a hash.
pub fn id_value(id: &str) -> u64 {
    let hex = id.rsplit('-').next().unwrap_or(id);
    match u128::from_str_radix(hex, 16) {
        Ok(v) if !hex.is_empty() => v as u64,
        _ => crate::hash::fnv1a_64(id.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, build};

    fn inner() -> Vec<u8> {
        build::packet(
            "198.51.100.7".parse().unwrap(),
            "10.0.1.10".parse().unwrap(),
            build::Transport::syn(40000, 80),
        )
        .unwrap()
    }

    /// The bytes of a GWLB packet as AWS documents them, written out by hand.
    #[test]
    fn encapsulation_matches_a_hand_written_fixture() {
        let p = inner();
        let n = p.len();
        let mut buf = p.clone();
        buf.resize(n + OVERHEAD, 0);
        let outer = Outer {
            src: Ipv4Addr::new(10, 100, 0, 50),
            dst: Ipv4Addr::new(10, 100, 0, 11),
            src_port: 51234,
            dst_port: PORT,
        };
        let len = encapsulate(
            &mut buf,
            n,
            outer,
            (0x0c00000000000e001, 0x0c000000000000001, 0xdeadbeef),
        )
        .unwrap();
        assert_eq!(len, n + 68);
        #[rustfmt::skip]
        let geneve: [u8; 40] = [
            0x08, 0x00, 0x08, 0x00,  0, 0, 0, 0,
            0x01, 0x08, 0x01, 0x02,  0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x01,
            0x01, 0x08, 0x02, 0x02,  0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
            0x01, 0x08, 0x03, 0x01,  0xde, 0xad, 0xbe, 0xef,
        ];
        assert_eq!(&buf[28..68], &geneve);
        assert_eq!(&buf[68..len], &p[..]);
        // Outer headers parse and validate (checksum, lengths) like any packet.
        let o = wire::parse(&buf[..len]).unwrap();
        assert_eq!(o.protocol, proto::UDP);
        assert_eq!((o.src_port, o.dst_port), (51234, 6081));
        assert_eq!(o.len, len);
        assert_eq!(u16::from_be_bytes([buf[24], buf[25]]) as usize, len - 20);
        // And the view reads back what was written.
        let g = GenevePacket::new_checked(&buf[28..len]).unwrap();
        assert_eq!(g.header_len(), 40);
        assert_eq!(g.protocol(), ETHERTYPE_IPV4);
        assert_eq!(g.vni(), 0);
        assert!(!g.oam() && !g.unknown_critical());
        assert_eq!(
            g.aws_options(),
            AwsOptions {
                endpoint: Some(0x0c00000000000e001),
                attachment: Some(0x0c000000000000001),
                cookie: Some(0xdeadbeef)
            }
        );
        assert_eq!(g.payload(), &p[..]);
    }

    #[test]
    fn ipv6_inner_packets_ride_in_ipv4() {
        let p = build::packet(
            "2001:db8::1".parse().unwrap(),
            "2001:db8:1::10".parse().unwrap(),
            build::Transport::syn(1, 2),
        )
        .unwrap();
        let mut buf = p.clone();
        buf.resize(p.len() + OVERHEAD, 0);
        let outer = Outer {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            src_port: 1,
            dst_port: PORT,
        };
        let len = encapsulate(&mut buf, p.len(), outer, (1, 2, 3)).unwrap();
        assert_eq!(buf[0] >> 4, 4);
        let g = GenevePacket::new_checked(&buf[28..len]).unwrap();
        assert_eq!(g.protocol(), ETHERTYPE_IPV6);
        assert_eq!(g.payload(), &p[..]);
    }

    #[test]
    fn no_room_is_refused_without_touching_the_packet() {
        let p = inner();
        let mut buf = p.clone();
        let outer = Outer {
            src: Ipv4Addr::LOCALHOST,
            dst: Ipv4Addr::LOCALHOST,
            src_port: 1,
            dst_port: PORT,
        };
        assert_eq!(encapsulate(&mut buf, p.len(), outer, (1, 2, 3)), None);
        assert_eq!(buf, p);
    }

    #[test]
    fn unknown_options_are_skipped_and_critical_ones_flagged() {
        let mut h = vec![0u8; 8];
        // An unknown class (0x0200) type 5 with 4 bytes, then AWS's cookie.
        h.extend_from_slice(&[0x02, 0x00, 0x05, 0x01, 1, 2, 3, 4]);
        h.extend_from_slice(&[0x01, 0x08, 0x03, 0x01, 0, 0, 0, 9]);
        h[0] = 4;
        h[2..4].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let g = GenevePacket::new_checked(&h[..]).unwrap();
        assert_eq!(g.aws_options().cookie, Some(9));
        assert!(!g.unknown_critical());
        h[10] = 0x85; // critical
        assert!(GenevePacket::new_checked(&h[..])
            .unwrap()
            .unknown_critical());
    }

    #[test]
    fn malformed_headers_are_refused() {
        assert_eq!(
            GenevePacket::new_checked(&[0u8; 7][..]).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(
            GenevePacket::new_checked(&[0x40u8, 0, 8, 0, 0, 0, 0, 0][..]).err(),
            Some(WireError::BadVersion)
        );
        // Opt Len past the buffer.
        assert_eq!(
            GenevePacket::new_checked(&[0x02u8, 0, 8, 0, 0, 0, 0, 0][..]).err(),
            Some(WireError::BadHeaderLength)
        );
        // An option whose length runs past Opt Len.
        let h = [1u8, 0, 8, 0, 0, 0, 0, 0, 0x01, 0x08, 0x01, 0x02];
        assert_eq!(
            GenevePacket::new_checked(&h[..]).err(),
            Some(WireError::BadHeaderLength)
        );
    }

    #[test]
    fn id_values_keep_the_hex_digits() {
        assert_eq!(id_value("vpce-0c000000000000001"), 0xc000000000000001);
        assert_eq!(id_value("eni-0123456789abcdef0"), 0x123456789abcdef0);
        assert_ne!(id_value("gwlbe-x"), id_value("gwlbe-y"));
    }
}
