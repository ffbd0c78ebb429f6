//! IPv4 header view (RFC 791).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |Version|  IHL  |Type of Service|          Total Length         |  0
//! |         Identification        |Flags|      Fragment Offset    |  4
//! |  Time to Live |    Protocol   |         Header Checksum       |  8
//! |                       Source Address                          | 12
//! |                    Destination Address                        | 16
//! |                    Options (IHL > 5)                          | 20
//! ```

use std::net::Ipv4Addr;

use super::checksum;
use super::WireError;

mod field {
    pub const VER_IHL: usize = 0;
    pub const TOTAL_LEN: std::ops::Range<usize> = 2..4;
    pub const IDENT: std::ops::Range<usize> = 4..6;
    pub const FLAGS_FRAG: std::ops::Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: std::ops::Range<usize> = 10..12;
    pub const SRC: std::ops::Range<usize> = 12..16;
    pub const DST: std::ops::Range<usize> = 16..20;
}

/// Minimum header length.
pub const HEADER_LEN: usize = 20;

/// A view of an IPv4 packet in `buffer`. Once [`Ipv4Packet::new_checked`] accepted the buffer,
/// every accessor is infallible: the header, its options and the total length all fit.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps `buffer` without checks; accessors may panic if it is malformed.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps `buffer` after checking version, header length and total length. The buffer may
    /// be longer than the packet (trailing bytes are ignored).
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b[field::VER_IHL] >> 4 != 4 {
            return Err(WireError::BadVersion);
        }
        let ihl = usize::from(b[field::VER_IHL] & 0x0f) * 4;
        if ihl < HEADER_LEN || ihl > b.len() {
            return Err(WireError::BadHeaderLength);
        }
        let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if total < ihl || total > b.len() {
            return Err(WireError::BadTotalLength);
        }
        Ok(Ipv4Packet { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn header_len(&self) -> usize {
        usize::from(self.b()[field::VER_IHL] & 0x0f) * 4
    }

    pub fn total_len(&self) -> usize {
        let t = &self.b()[field::TOTAL_LEN];
        usize::from(u16::from_be_bytes([t[0], t[1]]))
    }

    /// The datagram's identification (what its fragments share).
    pub fn ident(&self) -> u16 {
        let f = &self.b()[field::IDENT];
        u16::from_be_bytes([f[0], f[1]])
    }

    pub fn dont_fragment(&self) -> bool {
        self.b()[field::FLAGS_FRAG.start] & 0x40 != 0
    }

    pub fn more_fragments(&self) -> bool {
        self.b()[field::FLAGS_FRAG.start] & 0x20 != 0
    }

    /// Fragment offset in bytes.
    pub fn fragment_offset(&self) -> usize {
        let f = &self.b()[field::FLAGS_FRAG];
        usize::from(u16::from_be_bytes([f[0], f[1]]) & 0x1fff) * 8
    }

    /// Part of a fragmented datagram (first or later fragment).
    pub fn is_fragment(&self) -> bool {
        self.more_fragments() || self.fragment_offset() != 0
    }

    pub fn ttl(&self) -> u8 {
        self.b()[field::TTL]
    }

    pub fn protocol(&self) -> u8 {
        self.b()[field::PROTOCOL]
    }

    pub fn checksum(&self) -> u16 {
        let c = &self.b()[field::CHECKSUM];
        u16::from_be_bytes([c[0], c[1]])
    }

    pub fn src_addr(&self) -> Ipv4Addr {
        let s = &self.b()[field::SRC];
        Ipv4Addr::new(s[0], s[1], s[2], s[3])
    }

    pub fn dst_addr(&self) -> Ipv4Addr {
        let d = &self.b()[field::DST];
        Ipv4Addr::new(d[0], d[1], d[2], d[3])
    }

    /// Whether the header checksum is right.
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::sum(&self.b()[..self.header_len()])) == 0xffff
    }

    /// The payload: from the end of the header to the total length.
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..self.total_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    pub fn set_ttl(&mut self, ttl: u8) {
        let old = [self.b()[field::TTL], self.b()[field::PROTOCOL]];
        self.bm()[field::TTL] = ttl;
        let new = [ttl, old[1]];
        self.adjust_header_checksum(&old, &new);
    }

    /// Recomputes the header checksum from scratch.
    pub fn fill_checksum(&mut self) {
        let hl = self.header_len();
        self.bm()[field::CHECKSUM].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&self.b()[..hl]);
        self.bm()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    fn adjust_header_checksum(&mut self, old: &[u8], new: &[u8]) {
        let c = checksum::adjust(self.checksum(), old, new);
        self.bm()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    /// Replaces the source address, updating the header checksum and the transport checksum
    /// (TCP, UDP) incrementally.
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.rewrite_addr(field::SRC, addr);
    }

    /// Replaces the destination address, updating checksums incrementally.
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.rewrite_addr(field::DST, addr);
    }

    /// Swaps the source and destination addresses. No checksum changes: the header's and the
    /// transport's pseudo-header sum both words alike.
    pub fn swap_addrs(&mut self) {
        let b = self.bm();
        let mut src = [0u8; 4];
        src.copy_from_slice(&b[field::SRC]);
        b.copy_within(field::DST, field::SRC.start);
        b[field::DST].copy_from_slice(&src);
    }

    fn rewrite_addr(&mut self, at: std::ops::Range<usize>, addr: Ipv4Addr) {
        let mut old = [0u8; 4];
        old.copy_from_slice(&self.b()[at.clone()]);
        let new = addr.octets();
        if old == new {
            return;
        }
        self.bm()[at].copy_from_slice(&new);
        self.adjust_header_checksum(&old, &new);
        // The pseudo-header of TCP and UDP covers the addresses; only the first fragment
        // carries the transport header.
        if self.fragment_offset() == 0 {
            let hl = self.header_len();
            let total = self.total_len();
            let proto = self.protocol();
            super::adjust_l4_checksum(&mut self.bm()[hl..total], proto, false, &old, &new);
        }
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (hl, total) = (self.header_len(), self.total_len());
        &mut self.bm()[hl..total]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ICMP echo request 10.0.0.176 -> 52.216.39.26 as Linux's ping sends it (TTL 64, DF),
    /// with 8 bytes of payload. Checksums verified with pnet in the crate's wire tests.
    pub(crate) const ECHO: [u8; 36] = [
        0x45, 0x00, 0x00, 0x24, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00, 10, 0, 0, 176, 52,
        216, 39, 26, // IPv4 header (checksum filled in by the test)
        0x08, 0x00, 0x00, 0x00, 0x12, 0x34, 0x00, 0x01, // ICMP echo request id 0x1234 seq 1
        b'v', b'p', b'c', b'e', b'p', b'i', b'n', b'g',
    ];

    fn echo() -> Vec<u8> {
        let mut v = ECHO.to_vec();
        let mut p = Ipv4Packet::new_unchecked(&mut v[..]);
        p.fill_checksum();
        let c = checksum::checksum(&v[20..]);
        v[22..24].copy_from_slice(&c.to_be_bytes());
        v
    }

    #[test]
    fn parses_fields() {
        let v = echo();
        let p = Ipv4Packet::new_checked(&v[..]).unwrap();
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 36);
        assert!(p.dont_fragment() && !p.is_fragment());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), 1);
        assert_eq!(p.src_addr(), Ipv4Addr::new(10, 0, 0, 176));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(52, 216, 39, 26));
        assert!(p.verify_checksum());
        assert_eq!(p.payload().len(), 16);
    }

    #[test]
    fn rejects_malformed_headers() {
        let v = echo();
        assert_eq!(
            Ipv4Packet::new_checked(&v[..19]).unwrap_err(),
            WireError::Truncated
        );
        let mut bad = v.clone();
        bad[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            WireError::BadVersion
        );
        bad[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            WireError::BadHeaderLength
        );
        bad[0] = 0x4f; // 60-byte header in a 36-byte packet
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            WireError::BadHeaderLength
        );
        let mut bad = v.clone();
        bad[2..4].copy_from_slice(&100u16.to_be_bytes());
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            WireError::BadTotalLength
        );
        bad[2..4].copy_from_slice(&10u16.to_be_bytes());
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            WireError::BadTotalLength
        );
    }

    #[test]
    fn trailing_bytes_are_not_payload() {
        let mut v = echo();
        v.extend_from_slice(&[0xee; 10]);
        let p = Ipv4Packet::new_checked(&v[..]).unwrap();
        assert_eq!(p.payload().len(), 16);
    }

    #[test]
    fn address_rewrite_keeps_the_header_checksum_right() {
        let mut v = echo();
        let mut p = Ipv4Packet::new_checked(&mut v[..]).unwrap();
        p.set_src_addr(Ipv4Addr::new(203, 0, 113, 176));
        p.set_ttl(63);
        assert!(p.verify_checksum());
        assert_eq!(p.src_addr(), Ipv4Addr::new(203, 0, 113, 176));
        // ICMPv4 has no pseudo-header: its checksum is unchanged and still right.
        assert_eq!(checksum::fold(checksum::sum(&v[20..])), 0xffff);
    }
}
