//! Differential tests of build and lookup against the reference LPM, every level of both
//! families.

use super::*;
use crate::lpm::Lpm;
use crate::lpm::{ReferenceLpm, V4, V6};
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn p4(s: &str, v: u32) -> (Prefix<V4>, u32) {
    let (a, l) = s.split_once('/').unwrap();
    (Prefix::new(a.parse().unwrap(), l.parse().unwrap()), v)
}

#[test]
fn every_level_of_ipv4() {
    let routes = [
        p4("0.0.0.0/0", 1),
        p4("10.0.0.0/8", 2),
        p4("10.1.0.0/18", 3),
        p4("10.1.0.0/19", 4),
        p4("10.1.0.0/24", 5),
        p4("10.1.0.128/25", 6),
        p4("10.1.0.192/30", 7),
        p4("10.1.0.193/32", 8),
        p4("10.1.0.194/31", 9),
        p4("255.255.255.255/32", 10),
    ];
    let t = Poptrie::<V4>::build(&routes).unwrap();
    let r = ReferenceLpm::<V4>::build(&routes).unwrap();
    for a in [
        "1.2.3.4",
        "10.2.0.0",
        "10.1.63.255",
        "10.1.31.0",
        "10.1.0.1",
        "10.1.0.130",
        "10.1.0.192",
        "10.1.0.193",
        "10.1.0.194",
        "10.1.0.195",
        "10.1.0.196",
        "255.255.255.255",
        "255.255.255.254",
    ] {
        let a: Ipv4Addr = a.parse().unwrap();
        assert_eq!(t.lookup(a), r.lookup(a), "{a}");
    }
}

#[test]
fn empty_and_no_default() {
    let t = Poptrie::<V4>::build(&[]).unwrap();
    assert_eq!(t.lookup(Ipv4Addr::new(1, 2, 3, 4)), None);
    let t = Poptrie::<V6>::build(&[]).unwrap();
    assert_eq!(t.lookup(Ipv6Addr::LOCALHOST), None);
}

#[test]
fn values_and_duplicates_are_checked() {
    assert!(matches!(
        Poptrie::<V4>::build(&[p4("10.0.0.0/8", 0xFFFF)]),
        Err(LpmBuildError::ValueTooLarge { .. })
    ));
    assert!(matches!(
        Poptrie::<V4>::build(&[p4("10.0.0.0/8", 1), p4("10.0.0.0/8", 2)]),
        Err(LpmBuildError::Duplicate(_))
    ));
}

fn dedup<F: Family>(v: Vec<(Prefix<F>, u32)>) -> Vec<(Prefix<F>, u32)> {
    let mut seen = std::collections::HashSet::new();
    v.into_iter().filter(|(p, _)| seen.insert(*p)).collect()
}

/// Prefixes clustered under a few roots so nesting and adjacency are common.
fn v4_routes() -> impl Strategy<Value = Vec<(Prefix<V4>, u32)>> {
    prop::collection::vec((0u32..4, any::<u32>(), 0u8..=32, 0u32..300), 0..300).prop_map(|v| {
        dedup(
            v.into_iter()
                .map(|(root, low, len, val)| {
                    let a = (root << 30) | (0x0a01_0000 & 0x3fff_ffff) | (low & 0xffff);
                    (Prefix::new(Ipv4Addr::from(a), len), val)
                })
                .collect(),
        )
    })
}

/// One-byte leaves: 0xFF is "no route" or, with its bit, the value 255 — both beside each other.
#[test]
fn one_byte_leaves_tell_255_from_no_route() {
    let routes = [
        p4("10.1.0.0/24", 255),
        p4("10.1.1.0/24", 254),
        p4("10.1.3.0/24", 255),
        p4("10.1.3.128/25", 0),
    ];
    let t = Poptrie::<V4>::build(&routes).unwrap();
    assert!(matches!(t.store.leaves, Leaves::Narrow { .. }));
    for (a, want) in [
        ("10.1.0.9", Some(255)),
        ("10.1.1.9", Some(254)),
        ("10.1.2.9", None),
        ("10.1.3.9", Some(255)),
        ("10.1.3.129", Some(0)),
        ("10.1.4.0", None),
    ] {
        assert_eq!(t.lookup(a.parse().unwrap()), want, "{a}");
    }
    // Every value 0–255 among the leaves, so the byte 255 shares is a value leaves hold too;
    // every third /24 without a route.
    let routes: Vec<_> = (0..1536u32)
        .filter(|i| i % 3 != 2)
        .map(|i| {
            (
                Prefix::new(Ipv4Addr::from(0x0a00_0000 | i << 8), 24),
                i % 256,
            )
        })
        .collect();
    let t = Poptrie::<V4>::build(&routes).unwrap();
    let Leaves::Narrow { shared, .. } = t.store.leaves else {
        panic!("one-byte leaves expected");
    };
    assert!(routes.iter().any(|(_, v)| *v == u32::from(shared)));
    let r = ReferenceLpm::<V4>::build(&routes).unwrap();
    for i in 0..1600u32 {
        let a = Ipv4Addr::from(0x0a00_0000 | i << 8 | 7);
        assert_eq!(t.lookup(a), r.lookup(a), "{a}");
    }
    let wide = Poptrie::<V4>::build(&[p4("10.1.0.0/24", 256), p4("10.1.1.0/24", 1)]).unwrap();
    assert!(matches!(wide.store.leaves, Leaves::Wide(_)));
    assert_eq!(wide.lookup("10.1.0.1".parse().unwrap()), Some(256));
}

proptest! {
    /// Values 250–255 only: one-byte leaves, 255 and "no route" in every mix.
    #[test]
    fn one_byte_leaves_match_the_reference(routes in v4_routes(), probes in prop::collection::vec(any::<u32>(), 1..64)) {
        let routes: Vec<_> = routes.into_iter().map(|(p, v)| (p, 250 + v % 6)).collect();
        let t = Poptrie::<V4>::build(&routes).unwrap();
        let narrow = matches!(t.store.leaves, Leaves::Narrow { .. });
        prop_assert!(narrow);
        let r = ReferenceLpm::<V4>::build(&routes).unwrap();
        let inside = routes.iter().flat_map(|(p, _)| {
            let a = u32::from(p.addr());
            let span = u32::MAX.checked_shr(u32::from(p.len())).unwrap_or(0);
            [a, a | span, a.wrapping_sub(1), a | (span / 2), (a | span).wrapping_add(1)]
        });
        let keys: Vec<Ipv4Addr> = probes.into_iter().chain(inside).map(Ipv4Addr::from).collect();
        let mut out = vec![None; keys.len()];
        t.lookup_batch(&keys, &mut out);
        for (a, o) in keys.iter().zip(&out) {
            prop_assert_eq!(t.lookup(*a), r.lookup(*a), "{}", a);
            prop_assert_eq!(*o, r.lookup(*a));
        }
    }

    #[test]
    fn matches_the_reference_v4(routes in v4_routes(), probes in prop::collection::vec(any::<u32>(), 1..64)) {
        let t = Poptrie::<V4>::build(&routes).unwrap();
        let r = ReferenceLpm::<V4>::build(&routes).unwrap();
        let inside = routes.iter().flat_map(|(p, _)| {
            let a = u32::from(p.addr());
            let span = u32::MAX.checked_shr(u32::from(p.len())).unwrap_or(0);
            [a, a | span, a.wrapping_sub(1), a | (span / 2)]
        });
        let keys: Vec<Ipv4Addr> = probes.into_iter().chain(inside).map(Ipv4Addr::from).collect();
        for a in &keys {
            prop_assert_eq!(t.lookup(*a), r.lookup(*a), "{}", a);
        }
        let mut out = vec![None; keys.len()];
        t.lookup_batch(&keys, &mut out);
        for (a, o) in keys.iter().zip(&out) {
            prop_assert_eq!(*o, r.lookup(*a));
        }
    }

    #[test]
    fn matches_the_reference_v6(
        raw in prop::collection::vec((0u128..4, any::<u64>(), 0u8..=128, 0u32..300), 0..200),
        probes in prop::collection::vec(any::<u128>(), 1..32),
    ) {
        let routes = dedup(raw.into_iter().map(|(root, low, len, v)| {
            let a = (root << 126) | (0x2600_1f18u128 << 96) | u128::from(low);
            (Prefix::<V6>::new(Ipv6Addr::from(a), len), v)
        }).collect());
        let t = Poptrie::<V6>::build(&routes).unwrap();
        let r = ReferenceLpm::<V6>::build(&routes).unwrap();
        let inside = routes.iter().flat_map(|(p, _)| {
            let a = u128::from(p.addr());
            let span = u128::MAX.checked_shr(u32::from(p.len())).unwrap_or(0);
            [a, a | span, a.wrapping_sub(1)]
        });
        let keys: Vec<Ipv6Addr> = probes.into_iter().chain(inside).map(Ipv6Addr::from).collect();
        for a in &keys {
            prop_assert_eq!(t.lookup(*a), r.lookup(*a), "{}", a);
        }
        let mut out = vec![None; keys.len()];
        t.lookup_batch(&keys, &mut out);
        for (a, o) in keys.iter().zip(&out) {
            prop_assert_eq!(*o, r.lookup(*a));
        }
    }
}
