//! Longest-prefix match: the interface every route-table lookup goes through, the fast
//! engine, and the reference it is checked against.
//!
//! A table maps prefixes to a value (in a compiled route table, the index of the winning
//! route entry) and answers, for an address, the value of the longest prefix containing it.
//! Tables are **built once and immutable**: the compiler builds a new table for every new
//! configuration and publishes it whole (see `crate::publish`); a BGP-style stream of changes
//! goes through [`PoptrieWriter`], which rewrites the touched parts of one table in place while
//! readers go on (publication order in the `poptrie` module).
//!
//! * [`Poptrie`] is the engine of the data path: a direct-pointing array plus 6-bit nodes with
//!   popcount-compressed children and leaves (layout, reads per lookup and limits in its
//!   module documentation), with single and batched lookups.
//! * [`ReferenceLpm`] is deliberately naive: one hash map per prefix length, probed from the
//!   longest length present down to the shortest. Its correctness is evident from reading it —
//!   that is its job. It is the model the fast engine is differentially tested against (and
//!   `vpcectl bench lpm --verify` checks against), and it can also say which prefix matched
//!   (`lookup_prefix`), which a compressed structure does not keep.
//! * [`table`] reads prefix tables in text (BGP dumps) for benchmarks and `vpcectl bench lpm`.
//!
//! | property of `ReferenceLpm` | value |
//! |---|---|
//! | memory reads per lookup | up to one hash probe per distinct prefix length present (≤ 33 for IPv4, ≤ 129 for IPv6) |
//! | build | O(n) inserts |
//! | capacity | `u32::MAX` prefixes; values are any `u32` |
//! | memory | about 16 (IPv4) or 32 (IPv6) bytes per prefix plus hash-map overhead |

mod poptrie;
pub mod table;

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::net::{Ipv4Addr, Ipv6Addr};

/// An address family: its address type and the integer its bits are computed in.
pub trait Family: Copy + fmt::Debug + Eq + Hash + Send + Sync + 'static {
    type Addr: Copy + fmt::Debug + fmt::Display + Eq + Send + Sync;
    type Bits: Copy + fmt::Debug + Eq + Hash + Ord + Send + Sync;
    /// Address length in bits (32 or 128).
    const BITS: u8;
    fn to_bits(addr: Self::Addr) -> Self::Bits;
    fn from_bits(bits: Self::Bits) -> Self::Addr;
    /// `bits` with everything after the first `len` bits cleared.
    fn mask(bits: Self::Bits, len: u8) -> Self::Bits;
    /// The `width` bits (at most 32) starting at bit `pos` (0 = most significant), as an
    /// integer; bits past the end of the address read as zero.
    fn chunk(bits: Self::Bits, pos: u32, width: u32) -> usize;
    /// Address bits resolved by the direct-pointing array of [`Poptrie`].
    const DIRECT_BITS: u32;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct V4;
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct V6;

impl Family for V4 {
    type Addr = Ipv4Addr;
    type Bits = u32;
    const BITS: u8 = 32;
    fn to_bits(addr: Ipv4Addr) -> u32 {
        u32::from(addr)
    }
    fn from_bits(bits: u32) -> Ipv4Addr {
        Ipv4Addr::from(bits)
    }
    fn mask(bits: u32, len: u8) -> u32 {
        match len {
            0 => 0,
            32.. => bits,
            _ => bits & (u32::MAX << (32 - len)),
        }
    }
    #[inline(always)]
    fn chunk(bits: u32, pos: u32, width: u32) -> usize {
        // Widen so that a chunk running past bit 31 reads zeros.
        (((u64::from(bits) << 32) << pos) >> (64 - width)) as usize
    }
    const DIRECT_BITS: u32 = 18;
}

impl Family for V6 {
    type Addr = Ipv6Addr;
    type Bits = u128;
    const BITS: u8 = 128;
    fn to_bits(addr: Ipv6Addr) -> u128 {
        u128::from(addr)
    }
    fn from_bits(bits: u128) -> Ipv6Addr {
        Ipv6Addr::from(bits)
    }
    fn mask(bits: u128, len: u8) -> u128 {
        match len {
            0 => 0,
            128.. => bits,
            _ => bits & (u128::MAX << (128 - len)),
        }
    }
    #[inline(always)]
    fn chunk(bits: u128, pos: u32, width: u32) -> usize {
        if pos >= 128 {
            return 0;
        }
        ((bits << pos) >> (128 - width)) as usize
    }
    const DIRECT_BITS: u32 = 20;
}

/// A prefix of family `F`: canonical (no bits set after `len`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prefix<F: Family> {
    bits: F::Bits,
    len: u8,
}

impl<F: Family> Prefix<F> {
    /// The prefix of `addr` of length `len`; host bits are cleared, `len` is capped at the
    /// family's width.
    pub fn new(addr: F::Addr, len: u8) -> Self {
        let len = len.min(F::BITS);
        Prefix {
            bits: F::mask(F::to_bits(addr), len),
            len,
        }
    }
    pub fn addr(&self) -> F::Addr {
        F::from_bits(self.bits)
    }
    pub fn bits(&self) -> F::Bits {
        self.bits
    }
    pub fn len(&self) -> u8 {
        self.len
    }
    /// Whether `len` is zero (the default route).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn contains(&self, addr: F::Addr) -> bool {
        F::mask(F::to_bits(addr), self.len) == self.bits
    }
}

impl<F: Family> fmt::Debug for Prefix<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.len)
    }
}

impl<F: Family> fmt::Display for Prefix<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.len)
    }
}

impl<F: Family> PartialOrd for Prefix<F> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Address order, then shorter first: the order of a sorted prefix list.
impl<F: Family> Ord for Prefix<F> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.bits, self.len).cmp(&(other.bits, other.len))
    }
}

pub use poptrie::{Poptrie, PoptrieWriter, RouteUpdate};

/// Why a table could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LpmBuildError {
    #[error("prefix {0} appears twice")]
    Duplicate(String),
    #[error("{count} prefixes exceed the capacity of {capacity}")]
    TooMany { count: usize, capacity: usize },
    #[error("value {value} of prefix {prefix} is too large; this table holds values up to {max}")]
    ValueTooLarge {
        prefix: String,
        value: u32,
        max: u32,
    },
}

/// An immutable longest-prefix-match table of family `F`.
pub trait Lpm<F: Family>: Sized + Send + Sync {
    /// Builds the table from `(prefix, value)` pairs in any order; a prefix may appear once.
    fn build(routes: &[(Prefix<F>, u32)]) -> Result<Self, LpmBuildError>;
    /// The value of the longest prefix containing `addr`.
    fn lookup(&self, addr: F::Addr) -> Option<u32>;
    /// Number of prefixes in the table.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Approximate heap bytes used.
    fn memory_bytes(&self) -> usize;
}

/// The reference LPM: a hash map per prefix length, probed longest first.
#[derive(Debug)]
pub struct ReferenceLpm<F: Family> {
    /// `(len, map)` for every length that has prefixes, longest first.
    by_len: Vec<(u8, HashMap<F::Bits, u32>)>,
    count: usize,
}

impl<F: Family> ReferenceLpm<F> {
    /// The longest prefix containing `addr`, with its value (what explanations show).
    pub fn lookup_prefix(&self, addr: F::Addr) -> Option<(Prefix<F>, u32)> {
        let bits = F::to_bits(addr);
        self.by_len.iter().find_map(|(len, map)| {
            let key = F::mask(bits, *len);
            map.get(&key).map(|v| {
                (
                    Prefix {
                        bits: key,
                        len: *len,
                    },
                    *v,
                )
            })
        })
    }
}

impl<F: Family> Lpm<F> for ReferenceLpm<F> {
    fn build(routes: &[(Prefix<F>, u32)]) -> Result<Self, LpmBuildError> {
        let mut maps: Vec<HashMap<F::Bits, u32>> = (0..=F::BITS).map(|_| HashMap::new()).collect();
        for (p, v) in routes {
            if maps[p.len as usize].insert(p.bits, *v).is_some() {
                return Err(LpmBuildError::Duplicate(p.to_string()));
            }
        }
        let by_len = maps
            .into_iter()
            .enumerate()
            .rev()
            .filter(|(_, m)| !m.is_empty())
            .map(|(len, m)| (len as u8, m))
            .collect();
        Ok(ReferenceLpm {
            by_len,
            count: routes.len(),
        })
    }

    fn lookup(&self, addr: F::Addr) -> Option<u32> {
        self.lookup_prefix(addr).map(|(_, v)| v)
    }

    fn len(&self) -> usize {
        self.count
    }

    fn memory_bytes(&self) -> usize {
        self.by_len
            .iter()
            .map(|(_, m)| m.capacity() * (std::mem::size_of::<(F::Bits, u32)>() + 1))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p4(s: &str) -> Prefix<V4> {
        let (a, l) = s.split_once('/').unwrap();
        Prefix::new(a.parse().unwrap(), l.parse().unwrap())
    }

    #[test]
    fn longest_prefix_wins() {
        let t = ReferenceLpm::<V4>::build(&[
            (p4("0.0.0.0/0"), 0),
            (p4("10.0.0.0/16"), 1),
            (p4("10.0.1.0/24"), 2),
            (p4("52.216.0.0/15"), 3),
        ])
        .unwrap();
        let l = |s: &str| t.lookup(s.parse().unwrap());
        assert_eq!(l("10.0.1.125"), Some(2));
        assert_eq!(l("10.0.2.1"), Some(1));
        assert_eq!(l("52.216.39.26"), Some(3));
        assert_eq!(l("52.218.0.1"), Some(0));
        assert_eq!(
            t.lookup_prefix("52.217.1.1".parse().unwrap()).unwrap().0,
            p4("52.216.0.0/15")
        );
    }

    #[test]
    fn empty_table_and_no_default_route() {
        let t = ReferenceLpm::<V4>::build(&[]).unwrap();
        assert_eq!(t.lookup(Ipv4Addr::new(1, 2, 3, 4)), None);
        let t = ReferenceLpm::<V4>::build(&[(p4("10.0.0.0/8"), 7)]).unwrap();
        assert_eq!(t.lookup(Ipv4Addr::new(11, 0, 0, 0)), None);
        assert_eq!(t.lookup(Ipv4Addr::new(10, 255, 255, 255)), Some(7));
    }

    #[test]
    fn duplicates_are_rejected() {
        let e = ReferenceLpm::<V4>::build(&[(p4("10.0.0.0/8"), 1), (p4("10.1.0.0/8"), 2)]);
        assert!(matches!(e, Err(LpmBuildError::Duplicate(_))));
    }

    #[test]
    fn host_routes_and_ipv6() {
        let t = ReferenceLpm::<V6>::build(&[
            (Prefix::new("::".parse().unwrap(), 0), 0),
            (Prefix::new("2600:1fa0::".parse().unwrap(), 40), 1),
            (Prefix::new("2600:1fa0::1".parse().unwrap(), 128), 2),
        ])
        .unwrap();
        assert_eq!(t.lookup("2600:1fa0::1".parse().unwrap()), Some(2));
        assert_eq!(t.lookup("2600:1fa0::2".parse().unwrap()), Some(1));
        assert_eq!(t.lookup("2001:db8::".parse().unwrap()), Some(0));
    }

    /// The naive model: scan every prefix, keep the longest match.
    fn linear<F: Family>(routes: &[(Prefix<F>, u32)], addr: F::Addr) -> Option<u32> {
        routes
            .iter()
            .filter(|(p, _)| p.contains(addr))
            .max_by_key(|(p, _)| p.len())
            .map(|(_, v)| *v)
    }

    fn dedup<F: Family>(mut v: Vec<(Prefix<F>, u32)>) -> Vec<(Prefix<F>, u32)> {
        let mut seen = std::collections::HashSet::new();
        v.retain(|(p, _)| seen.insert(*p));
        v
    }

    proptest! {
        #[test]
        fn matches_a_linear_scan_v4(
            raw in prop::collection::vec((any::<u32>(), 0u8..=32, any::<u32>()), 0..200),
            probes in prop::collection::vec(any::<u32>(), 1..100),
        ) {
            let routes = dedup(raw.into_iter().map(|(a, l, v)| (Prefix::<V4>::new(Ipv4Addr::from(a), l), v)).collect());
            let t = ReferenceLpm::build(&routes).unwrap();
            // Probe random addresses and addresses inside every prefix.
            let inside = routes.iter().map(|(p, _)| u32::from(p.addr()) | 1);
            for a in probes.into_iter().chain(inside) {
                let addr = Ipv4Addr::from(a);
                prop_assert_eq!(t.lookup(addr), linear(&routes, addr));
            }
        }

        #[test]
        fn matches_a_linear_scan_v6(
            raw in prop::collection::vec((any::<u128>(), 0u8..=128, any::<u32>()), 0..100),
            probes in prop::collection::vec(any::<u128>(), 1..50),
        ) {
            let routes = dedup(raw.into_iter().map(|(a, l, v)| (Prefix::<V6>::new(Ipv6Addr::from(a), l), v)).collect());
            let t = ReferenceLpm::build(&routes).unwrap();
            let inside = routes.iter().map(|(p, _)| u128::from(p.addr()));
            for a in probes.into_iter().chain(inside) {
                let addr = Ipv6Addr::from(a);
                prop_assert_eq!(t.lookup(addr), linear(&routes, addr));
            }
        }
    }
}
