//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! Rewrites in the dataplane change a few header words (an address, a port) and must not
//! re-sum the whole packet: [`adjust`] folds the difference of the changed bytes into the
//! existing checksum with RFC 1624's equation 3, `HC' = ~(~HC + ~m + m')`, which (unlike
//! RFC 1141's equation) never produces the wrong zero.

/// One's-complement sum of `data` as big-endian 16-bit words, not yet folded.
pub fn sum(data: &[u8]) -> u32 {
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(u16::from_be_bytes([*last, 0]));
    }
    fold64(acc)
}

fn fold64(mut acc: u64) -> u32 {
    while acc > 0xffff_ffff {
        acc = (acc & 0xffff_ffff) + (acc >> 32);
    }
    acc as u32
}

/// Folds a 32-bit one's-complement sum into 16 bits.
pub fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum of `data` (the complement of its folded sum).
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data))
}

/// One's-complement sum of the IPv4 pseudo-header.
pub fn pseudo_v4(src: [u8; 4], dst: [u8; 4], protocol: u8, length: u16) -> u32 {
    sum(&src) + sum(&dst) + u32::from(protocol) + u32::from(length)
}

/// One's-complement sum of the IPv6 pseudo-header.
pub fn pseudo_v6(src: [u8; 16], dst: [u8; 16], next_header: u8, length: u32) -> u32 {
    fold64(u64::from(sum(&src)) + u64::from(sum(&dst)) + u64::from(next_header) + u64::from(length))
}

/// `checksum` updated for `old` bytes (even length, word aligned in the summed data) being
/// replaced by `new` bytes — of the same length, or another even one where summed data
/// changes shape (a pseudo-header changing family: 4-byte addresses for 16-byte ones).
pub fn adjust(checksum: u16, old: &[u8], new: &[u8]) -> u16 {
    debug_assert_eq!(old.len() % 2, 0);
    debug_assert_eq!(new.len() % 2, 0);
    // ~HC + ~m + m', where ~m summed word by word is the complement of the sum of m.
    let mut acc = u32::from(!checksum);
    acc += u32::from(!fold(sum(old)));
    acc += sum(new);
    !fold(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_lengths_pad_with_zero() {
        assert_eq!(sum(&[0xab]), 0xab00);
        assert_eq!(checksum(&[0xab, 0xcd, 0xef]), !fold(0xabcd + 0xef00));
    }

    #[test]
    fn adjust_equals_recompute() {
        let mut data: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37)).collect();
        let before = checksum(&data);
        let old = data[12..16].to_vec();
        let new = [203, 0, 113, 176];
        data[12..16].copy_from_slice(&new);
        assert_eq!(adjust(before, &old, &new), checksum(&data));
    }

    #[test]
    fn adjust_never_yields_negative_zero_wrongly() {
        // RFC 1624 section 3's example: a header whose checksum becomes 0x0000 vs 0xffff.
        let old = [0x55, 0x55];
        let new = [0x00, 0x00];
        let hc = 0xdd2f;
        let expected = !fold(u32::from(!hc) + u32::from(!0x5555u16));
        assert_eq!(adjust(hc, &old, &new), expected);
    }
}
