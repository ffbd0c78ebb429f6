//! The crate's hashes: [`fnv1a`], fixed, for names and ids that must hash the same in every
//! run (device names, zones, fanout groups); and [`Key`], a keyed hash for every table indexed
//! by packet fields (flows, fragments, per-zone quotas, denied flows, the resolver's answer
//! cache, the resolver's TCP initial sequence numbers).
//!
//! A table whose slot a sender can compute from the fields it chooses can be flooded: with a
//! fixed hash, a tenant solved offline for tuples that all land in one shard and one probe
//! run, and every lookup in that shard slowed to a crawl (issue 19). Each table here hashes
//! with a [`Key`] drawn from the operating system's random source when the table is made, so
//! the mapping of fields to slots is secret and differs between tables and between runs.
//!
//! The mixing is folded multiplication — the full 128-bit product of two 64-bit words, high
//! half XOR low half — as in aHash's fallback and wyhash: two or three `mul`s for a flow key,
//! about what the fixed multiply-xor it replaces cost (BENCHMARKS.md, conntrack). It is not a
//! cryptographic PRF; it needs only that someone who cannot read the key cannot predict
//! collisions, which is what SipHash's 10–20 ns would buy at several times the cost.

use std::hash::{BuildHasher, Hasher};

/// FNV-1a (32 and 64 bits), fixed and fast, for what must hash the same in every run and on
/// every machine; never for a table a sender fills (see [`Key`]). One implementation, in
/// `control::hash`, which control uses too.
pub use control::hash::{fnv1a, fnv1a_64};

/// The secret of one table's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key([u64; 4]);

#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

impl Key {
    /// A fresh random key. The words come from std's `RandomState`, whose SipHash keys the
    /// standard library draws from the OS random source (getrandom) once per thread and
    /// perturbs per call: unpredictable to anyone outside the process.
    pub fn random() -> Key {
        let s = std::collections::hash_map::RandomState::new();
        let mut w = [0u64; 4];
        for (i, x) in w.iter_mut().enumerate() {
            let mut h = s.build_hasher();
            h.write_usize(i);
            // Odd: a zero word would let one input word cancel the multiply.
            *x = h.finish() | 1;
        }
        Key(w)
    }

    /// A fixed key, for tests and benchmarks that must be reproducible.
    pub const fn fixed(seed: u64) -> Key {
        Key([
            seed ^ 0x243f_6a88_85a3_08d3 | 1,
            seed.rotate_left(17) ^ 0x1319_8a2e_0370_7344 | 1,
            seed.rotate_left(31) ^ 0xa409_3822_299f_31d0 | 1,
            seed.rotate_left(47) ^ 0x082e_fa98_ec4e_6c89 | 1,
        ])
    }

    /// Hash of five words (a flow key: two 128-bit addresses and one word of the rest).
    #[inline]
    pub fn hash5(&self, w: [u64; 5]) -> u64 {
        // Three independent products (they run in parallel), each mixing two words with the
        // secret before any two words meet.
        let k = &self.0;
        let a = fold(w[0] ^ k[0], w[1] ^ k[1]);
        let b = fold(w[2] ^ k[2], w[3] ^ k[3]);
        let c = fold(w[4] ^ k[1], k[2] ^ k[3]);
        // A last product mixes every bit into the low ones the slot index takes (without it,
        // some keys left slots unused for inputs that differ in one word; test below).
        fold(a ^ b ^ c, k[0])
    }

    /// Hash of three words (an IPv4 flow key: two addresses of 32 bits and one word of the
    /// rest): two independent products, then a mixing one.
    #[inline]
    pub fn hash3(&self, w: [u64; 3]) -> u64 {
        let k = &self.0;
        fold(
            fold(w[0] ^ k[0], w[1] ^ k[1]) ^ fold(w[2] ^ k[2], k[3]),
            k[1],
        )
    }

    /// Hash of one word.
    #[inline]
    pub fn hash1(&self, w: u64) -> u64 {
        fold(fold(w ^ self.0[0], self.0[1]), self.0[3])
    }

    /// Hash of a byte string (not on the per-packet path of flows: the resolver's cache).
    pub fn hash_bytes(&self, bytes: &[u8]) -> u64 {
        let mut h = self.0[2] ^ bytes.len() as u64;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            h = fold(h ^ w, self.0[1]);
        }
        let mut last = [0u8; 8];
        last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        fold(h ^ u64::from_le_bytes(last) ^ self.0[0], self.0[3])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_values() {
        assert_eq!(fnv1a(b""), 0x811c_9dc5);
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn random_keys_differ_and_change_the_mapping() {
        let (a, b) = (Key::random(), Key::random());
        assert_ne!(a, b);
        let w = [1, 2, 3, 4, 5];
        assert_ne!(a.hash5(w), b.hash5(w));
        assert_eq!(a.hash5(w), a.hash5(w));
    }

    /// Inputs that differ in one field spread over the low bits (slot) and the high bits
    /// (shard) alike: sequential ports from one host fill 256 buckets evenly.
    #[test]
    fn sequential_inputs_spread() {
        for k in (0..50).map(|_| Key::random()) {
            for shift in [0, 32, 56] {
                let mut buckets = [0u32; 256];
                for port in 0..25_600u64 {
                    let h = k.hash5([0x0a00_0001, 0, 0x3434_2727, 0, port << 16 | 443]);
                    buckets[((h >> shift) & 0xff) as usize] += 1;
                }
                let (lo, hi) = (buckets.iter().min().unwrap(), buckets.iter().max().unwrap());
                assert!(*lo > 50 && *hi < 160, "shift {shift}: {lo}..{hi}");
            }
        }
    }

    #[test]
    fn bytes_hash_depends_on_every_byte_and_the_length() {
        let k = Key::fixed(7);
        let base = k.hash_bytes(b"example.internal.");
        assert_ne!(base, k.hash_bytes(b"example.internal"));
        assert_ne!(base, k.hash_bytes(b"exbmple.internal."));
        assert_ne!(k.hash_bytes(b""), k.hash_bytes(&[0]));
    }
}
