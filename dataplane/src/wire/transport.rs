//! TCP (RFC 9293), UDP (RFC 768) and ICMP/ICMPv6 (RFC 792, RFC 4443) header views.
//!
//! Each view checks its length once in `new_checked`; accessors then cannot fail. Port
//! setters keep the transport checksum right incrementally.

use super::checksum;
use super::WireError;

/// TCP header flags.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

#[derive(Debug, Clone, Copy)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    pub const HEADER_LEN: usize = 20;

    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Checks that the fixed header and the options (data offset) fit.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let off = usize::from(b[12] >> 4) * 4;
        if off < Self::HEADER_LEN || off > b.len() {
            return Err(WireError::BadTransportHeader);
        }
        Ok(TcpPacket { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.b()[0], self.b()[1]])
    }
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.b()[2], self.b()[3]])
    }
    pub fn seq_number(&self) -> u32 {
        u32::from_be_bytes([self.b()[4], self.b()[5], self.b()[6], self.b()[7]])
    }
    pub fn ack_number(&self) -> u32 {
        u32::from_be_bytes([self.b()[8], self.b()[9], self.b()[10], self.b()[11]])
    }
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[12] >> 4) * 4
    }
    pub fn flags(&self) -> u8 {
        self.b()[13]
    }
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.b()[16], self.b()[17]])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    pub fn set_src_port(&mut self, port: u16) {
        set_port(self.buffer.as_mut(), 0, 16, port, false);
    }
    pub fn set_dst_port(&mut self, port: u16) {
        set_port(self.buffer.as_mut(), 2, 16, port, false);
    }
}

#[derive(Debug, Clone, Copy)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    pub const HEADER_LEN: usize = 8;

    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Checks the header fits and the length field lies between 8 and the buffer's length.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = usize::from(u16::from_be_bytes([b[4], b[5]]));
        if len < Self::HEADER_LEN || len > b.len() {
            return Err(WireError::BadTransportHeader);
        }
        Ok(UdpPacket { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.b()[0], self.b()[1]])
    }
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.b()[2], self.b()[3]])
    }
    pub fn len(&self) -> usize {
        usize::from(u16::from_be_bytes([self.b()[4], self.b()[5]]))
    }
    pub fn is_empty(&self) -> bool {
        self.len() == Self::HEADER_LEN
    }
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.b()[6], self.b()[7]])
    }
    pub fn payload(&self) -> &[u8] {
        &self.b()[Self::HEADER_LEN..self.len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    /// `ipv6`: an IPv6 datagram, whose zero checksum is not "no checksum".
    pub fn set_src_port(&mut self, port: u16, ipv6: bool) {
        set_port(self.buffer.as_mut(), 0, 6, port, !ipv6);
    }
    pub fn set_dst_port(&mut self, port: u16, ipv6: bool) {
        set_port(self.buffer.as_mut(), 2, 6, port, !ipv6);
    }
}

/// ICMP and ICMPv6 share the first four bytes: type, code, checksum; echo messages add an
/// identifier and a sequence number.
#[derive(Debug, Clone, Copy)]
pub struct IcmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    pub const HEADER_LEN: usize = 8;

    pub const fn new_unchecked(buffer: T) -> Self {
        IcmpPacket { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(IcmpPacket { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn msg_type(&self) -> u8 {
        self.b()[0]
    }
    pub fn code(&self) -> u8 {
        self.b()[1]
    }
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.b()[2], self.b()[3]])
    }
    /// Identifier of an echo request/reply.
    pub fn echo_ident(&self) -> u16 {
        u16::from_be_bytes([self.b()[4], self.b()[5]])
    }
    pub fn echo_seq(&self) -> u16 {
        u16::from_be_bytes([self.b()[6], self.b()[7]])
    }
}

/// Writes a 16-bit port at `at` and folds the change into the checksum at `csum`.
/// `zero_means_none`: a zero checksum is left zero (UDP over IPv4).
fn set_port(b: &mut [u8], at: usize, csum: usize, port: u16, zero_means_none: bool) {
    let old = [b[at], b[at + 1]];
    let new = port.to_be_bytes();
    b[at..at + 2].copy_from_slice(&new);
    let c = u16::from_be_bytes([b[csum], b[csum + 1]]);
    if zero_means_none && c == 0 {
        return;
    }
    let mut n = checksum::adjust(c, &old, &new);
    if zero_means_none && n == 0 {
        n = 0xffff;
    }
    b[csum..csum + 2].copy_from_slice(&n.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_header_and_options_must_fit() {
        let mut syn = [0u8; 24];
        syn[12] = 6 << 4; // 24-byte header with one option word
        syn[13] = tcp_flags::SYN;
        assert!(TcpPacket::new_checked(&syn[..]).is_ok());
        assert_eq!(
            TcpPacket::new_checked(&syn[..20]).unwrap_err(),
            WireError::BadTransportHeader
        );
        assert_eq!(
            TcpPacket::new_checked(&syn[..19]).unwrap_err(),
            WireError::Truncated
        );
        syn[12] = 4 << 4;
        assert_eq!(
            TcpPacket::new_checked(&syn[..]).unwrap_err(),
            WireError::BadTransportHeader
        );
    }

    #[test]
    fn udp_length_must_fit() {
        let mut d = [0u8; 12];
        d[4..6].copy_from_slice(&12u16.to_be_bytes());
        let u = UdpPacket::new_checked(&d[..]).unwrap();
        assert_eq!(u.payload().len(), 4);
        d[4..6].copy_from_slice(&13u16.to_be_bytes());
        assert_eq!(
            UdpPacket::new_checked(&d[..]).unwrap_err(),
            WireError::BadTransportHeader
        );
        d[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(
            UdpPacket::new_checked(&d[..]).unwrap_err(),
            WireError::BadTransportHeader
        );
    }

    #[test]
    fn udp_over_ipv4_without_checksum_stays_without() {
        let mut d = [0u8; 8];
        d[4..6].copy_from_slice(&8u16.to_be_bytes());
        let mut u = UdpPacket::new_checked(&mut d[..]).unwrap();
        u.set_src_port(4242, false);
        assert_eq!(u.checksum(), 0);
        assert_eq!(u.src_port(), 4242);
    }
}
