//! Instructions per LPM lookup, counted by callgrind: a guard that is exact on a noisy machine.
//!
//! `scripts/check-lookup-cost.sh` runs this binary under `valgrind --tool=callgrind`, counting
//! only inside the `measure_*` functions, divides by the number of lookups, and fails if a
//! figure exceeds the committed `benches/lookup_cost.baseline` by more than 10 %. The table is
//! synthetic but deterministic (200,000 IPv4 prefixes /8–/32 and 100,000 IPv6 prefixes
//! /16–/64 from a fixed seed, K = 256 next hops), so the counts only move when the code does.
//! Run natively (`cargo test --benches`) it just checks that it still works.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

use control::lpm::{Lpm, Poptrie, Prefix, V4, V6};

pub const LOOKUPS: usize = 100_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[inline(never)]
fn measure_v4_single(t: &Poptrie<V4>, keys: &[Ipv4Addr]) -> u32 {
    keys.iter().fold(0u32, |acc, a| {
        acc.wrapping_add(t.lookup(black_box(*a)).unwrap_or(0))
    })
}

#[inline(never)]
fn measure_v4_batch(t: &Poptrie<V4>, keys: &[Ipv4Addr], out: &mut [Option<u32>]) {
    t.lookup_batch(black_box(keys), out);
}

#[inline(never)]
fn measure_v6_single(t: &Poptrie<V6>, keys: &[Ipv6Addr]) -> u32 {
    keys.iter().fold(0u32, |acc, a| {
        acc.wrapping_add(t.lookup(black_box(*a)).unwrap_or(0))
    })
}

fn main() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut v4 = std::collections::BTreeMap::new();
    while v4.len() < 200_000 {
        let len = 8 + (rng.next() % 25) as u8;
        v4.insert(
            Prefix::<V4>::new(Ipv4Addr::from(rng.next() as u32), len),
            (rng.next() % 256) as u32,
        );
    }
    let v4: Vec<_> = v4.into_iter().collect();
    let mut v6 = std::collections::BTreeMap::new();
    while v6.len() < 100_000 {
        let len = 16 + (rng.next() % 49) as u8;
        let a = (0x2000u128 << 112) | (u128::from(rng.next()) << 48);
        v6.insert(
            Prefix::<V6>::new(Ipv6Addr::from(a), len),
            (rng.next() % 256) as u32,
        );
    }
    let v6: Vec<_> = v6.into_iter().collect();
    let t4 = Poptrie::<V4>::build(&v4).unwrap();
    let t6 = Poptrie::<V6>::build(&v6).unwrap();
    let k4: Vec<Ipv4Addr> = (0..LOOKUPS)
        .map(|_| {
            let (p, _) = v4[(rng.next() as usize) % v4.len()];
            Ipv4Addr::from(
                u32::from(p.addr())
                    | (rng.next() as u32 & u32::MAX.checked_shr(u32::from(p.len())).unwrap_or(0)),
            )
        })
        .collect();
    let k6: Vec<Ipv6Addr> = (0..LOOKUPS)
        .map(|_| {
            let (p, _) = v6[(rng.next() as usize) % v6.len()];
            Ipv6Addr::from(
                u128::from(p.addr())
                    | (u128::from(rng.next())
                        & u128::MAX.checked_shr(u32::from(p.len())).unwrap_or(0)),
            )
        })
        .collect();
    let mut out = vec![None; LOOKUPS];
    let a = measure_v4_single(&t4, &k4);
    measure_v4_batch(&t4, &k4, &mut out);
    let b = measure_v6_single(&t6, &k6);
    let batch_sum = out
        .iter()
        .fold(0u32, |acc, v| acc.wrapping_add(v.unwrap_or(0)));
    assert_eq!(a, batch_sum, "single and batched lookups agree");
    println!("lookup_cost: {LOOKUPS} lookups per measure (checksums {a} {b})");
}
