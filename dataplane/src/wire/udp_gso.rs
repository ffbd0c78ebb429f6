//! UDP GSO superpackets (IPv4): which datagrams may leave together as one superpacket, and
//! the headers the superpacket carries. The worker's UDP train (`io::worker`) decides when;
//! the bytes are touched here.
//!
//! A superpacket is the first datagram's IPv4 and UDP headers followed by every datagram's
//! payload; the kernel segments it again at `gso_size` bytes of payload (Linux
//! `udp_gso_segment`), copying the headers and fixing lengths and checksums per segment.

use super::{checksum, proto};

/// IPv4 (no options) and UDP headers.
pub const HEADERS: usize = 28;

/// The payload length of `pkt` if it may ride in a superpacket: IPv4 without options, UDP,
/// not a fragment, lengths that agree with the buffer, a payload of at least one byte.
pub fn eligible(pkt: &[u8]) -> Option<usize> {
    let ok = pkt.len() > HEADERS
        && pkt[0] == 0x45
        && pkt[9] == proto::UDP
        && u16::from_be_bytes([pkt[6], pkt[7]]) & 0x3fff == 0
        && usize::from(u16::from_be_bytes([pkt[2], pkt[3]])) == pkt.len()
        && usize::from(u16::from_be_bytes([pkt[24], pkt[25]])) == pkt.len() - 20;
    ok.then_some(pkt.len() - HEADERS)
}

/// Whether eligible datagrams `a` and `b` may share a superpacket's headers: same TOS, TTL,
/// flags, protocol, addresses and ports (the kernel gives every segment the first one's).
pub fn same_headers(a: &[u8], b: &[u8]) -> bool {
    a[1] == b[1] && a[6..9] == b[6..9] && a[12..24] == b[12..24]
}

/// The payload of an eligible datagram.
pub fn payload(pkt: &[u8]) -> &[u8] {
    &pkt[HEADERS..]
}

/// Makes the headers at the start of `ip` (the first datagram's) those of a superpacket of
/// `len` bytes: total and UDP lengths, the IPv4 header checksum, and the UDP checksum field
/// holding the pseudo-header sum, as a partial checksum the kernel completes per segment.
pub fn finish(ip: &mut [u8], len: usize) {
    ip[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    ip[10..12].copy_from_slice(&[0, 0]);
    let c = checksum::checksum(&ip[..20]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip[24..26].copy_from_slice(&((len - 20) as u16).to_be_bytes());
    let pseudo = checksum::pseudo_v4(
        ip[12..16].try_into().expect("4"),
        ip[16..20].try_into().expect("4"),
        proto::UDP,
        (len - 20) as u16,
    );
    ip[26..28].copy_from_slice(&checksum::fold(pseudo).to_be_bytes());
}
