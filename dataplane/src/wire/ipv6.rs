//! IPv6 header view (RFC 8200).
//!
//! ```text
//! |Version| Traffic Class |           Flow Label                  |  0
//! |         Payload Length        |  Next Header  |   Hop Limit   |  4
//! |                         Source Address (16)                   |  8
//! |                      Destination Address (16)                 | 24
//! ```
//!
//! Extension headers are walked by [`Ipv6Packet::upper_layer`] (hop-by-hop, routing,
//! destination options, fragment) to find the transport header; ESP/AH and unknown headers end
//! the walk.

use std::net::Ipv6Addr;

use super::WireError;

pub const HEADER_LEN: usize = 40;

/// Extension-header numbers walked over.
const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const DEST_OPTS: u8 = 60;

/// The transport protocol and where its header starts, after extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpperLayer {
    pub protocol: u8,
    /// Offset of the transport header from the start of the IPv6 header.
    pub offset: usize,
    /// A non-first fragment: no transport header here.
    pub later_fragment: bool,
    /// Part of a fragmented datagram: its Fragment header.
    pub fragment: Option<FragmentHeader>,
}

/// An IPv6 Fragment extension header (RFC 8200 4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentHeader {
    pub ident: u32,
    /// Offset of this fragment's data in the fragmentable part, bytes.
    pub offset: usize,
    /// The M flag: more fragments follow.
    pub more: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Checks version and that the payload length fits the buffer (jumbograms, payload length
    /// zero with a hop-by-hop jumbo option, are not accepted).
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b[0] >> 4 != 6 {
            return Err(WireError::BadVersion);
        }
        let payload = usize::from(u16::from_be_bytes([b[4], b[5]]));
        if HEADER_LEN + payload > b.len() {
            return Err(WireError::BadTotalLength);
        }
        Ok(Ipv6Packet { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn payload_len(&self) -> usize {
        usize::from(u16::from_be_bytes([self.b()[4], self.b()[5]]))
    }

    pub fn total_len(&self) -> usize {
        HEADER_LEN + self.payload_len()
    }

    pub fn next_header(&self) -> u8 {
        self.b()[6]
    }

    pub fn hop_limit(&self) -> u8 {
        self.b()[7]
    }

    pub fn src_addr(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.b()[8..24]);
        Ipv6Addr::from(a)
    }

    pub fn dst_addr(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.b()[24..40]);
        Ipv6Addr::from(a)
    }

    pub fn payload(&self) -> &[u8] {
        &self.b()[HEADER_LEN..self.total_len()]
    }

    /// Walks the extension headers to the transport header; `Err` if an extension header
    /// runs past the packet.
    pub fn upper_layer(&self) -> Result<UpperLayer, WireError> {
        let b = &self.b()[..self.total_len()];
        let mut next = self.next_header();
        let mut off = HEADER_LEN;
        let mut fragment = None;
        let mut later_fragment = false;
        // Bounded: each step advances at least 8 bytes through a packet of at most 64 KiB.
        loop {
            match next {
                HOP_BY_HOP | ROUTING | DEST_OPTS => {
                    if off + 2 > b.len() {
                        return Err(WireError::Truncated);
                    }
                    let len = (usize::from(b[off + 1]) + 1) * 8;
                    next = b[off];
                    off += len;
                    if off > b.len() {
                        return Err(WireError::Truncated);
                    }
                }
                FRAGMENT => {
                    if off + 8 > b.len() {
                        return Err(WireError::Truncated);
                    }
                    let word = u16::from_be_bytes([b[off + 2], b[off + 3]]);
                    let frag = FragmentHeader {
                        ident: u32::from_be_bytes([b[off + 4], b[off + 5], b[off + 6], b[off + 7]]),
                        offset: usize::from(word & 0xfff8),
                        more: word & 1 != 0,
                    };
                    fragment = Some(frag);
                    later_fragment = frag.offset != 0;
                    next = b[off];
                    off += 8;
                    if later_fragment {
                        // What follows is data, not headers: `next` names the first header of
                        // the fragmentable part, which only the first fragment carries.
                        return Ok(UpperLayer {
                            protocol: next,
                            offset: off,
                            later_fragment,
                            fragment,
                        });
                    }
                }
                protocol => {
                    return Ok(UpperLayer {
                        protocol,
                        offset: off,
                        later_fragment,
                        fragment,
                    })
                }
            }
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    pub fn set_hop_limit(&mut self, hops: u8) {
        self.buffer.as_mut()[7] = hops;
    }

    /// Replaces the source address; the transport checksum (TCP, UDP, ICMPv6) is updated
    /// incrementally, since IPv6 has no header checksum.
    pub fn set_src_addr(&mut self, addr: Ipv6Addr) -> Result<(), WireError> {
        self.rewrite_addr(8, addr)
    }

    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) -> Result<(), WireError> {
        self.rewrite_addr(24, addr)
    }

    fn rewrite_addr(&mut self, at: usize, addr: Ipv6Addr) -> Result<(), WireError> {
        let upper = self.upper_layer()?;
        let mut old = [0u8; 16];
        old.copy_from_slice(&self.b()[at..at + 16]);
        let new = addr.octets();
        let total = self.total_len();
        let b = self.buffer.as_mut();
        b[at..at + 16].copy_from_slice(&new);
        if !upper.later_fragment {
            super::adjust_l4_checksum(
                &mut b[upper.offset..total],
                upper.protocol,
                true,
                &old,
                &new,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp6() -> Vec<u8> {
        let mut v = vec![0x60, 0, 0, 0, 0, 12, 17, 64];
        v.extend_from_slice(&"2600:1f18::10".parse::<Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(&"2600:1fa0::1".parse::<Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(&[
            0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0, 0, b'p', b'i', b'n', b'g',
        ]);
        v
    }

    #[test]
    fn parses_and_finds_the_transport_header() {
        let v = udp6();
        let p = Ipv6Packet::new_checked(&v[..]).unwrap();
        assert_eq!(p.payload_len(), 12);
        assert_eq!(p.next_header(), 17);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.src_addr(), "2600:1f18::10".parse::<Ipv6Addr>().unwrap());
        let u = p.upper_layer().unwrap();
        assert_eq!((u.protocol, u.offset, u.fragment), (17, 40, None));
    }

    #[test]
    fn walks_extension_headers() {
        let mut v = udp6();
        // Insert an 8-byte destination-options header before UDP.
        v[6] = 60;
        let ext = [17u8, 0, 1, 4, 0, 0, 0, 0];
        v.splice(40..40, ext);
        v[4..6].copy_from_slice(&20u16.to_be_bytes());
        let p = Ipv6Packet::new_checked(&v[..]).unwrap();
        assert_eq!(p.upper_layer().unwrap().offset, 48);
        // An extension header claiming to run past the packet.
        v[41] = 9;
        let p = Ipv6Packet::new_checked(&v[..]).unwrap();
        assert_eq!(p.upper_layer().unwrap_err(), WireError::Truncated);
    }

    #[test]
    fn rejects_malformed_headers() {
        let v = udp6();
        assert_eq!(
            Ipv6Packet::new_checked(&v[..39]).unwrap_err(),
            WireError::Truncated
        );
        let mut bad = v.clone();
        bad[0] = 0x40;
        assert_eq!(
            Ipv6Packet::new_checked(&bad[..]).unwrap_err(),
            WireError::BadVersion
        );
        let mut bad = v.clone();
        bad[4..6].copy_from_slice(&13u16.to_be_bytes());
        assert_eq!(
            Ipv6Packet::new_checked(&bad[..]).unwrap_err(),
            WireError::BadTotalLength
        );
    }
}
