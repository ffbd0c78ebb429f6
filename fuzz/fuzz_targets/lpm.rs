//! The Poptrie — the module with most of the unsafe code — against the reference LPM, under
//! AddressSanitizer: tables built from any prefixes (IPv4 and IPv6) answer every probe like the
//! reference, single and batched; then any announcements and withdrawals applied in place by a
//! `PoptrieWriter` (free-range reuse, fresh builds) leave a table that still answers like a
//! reference built from the same routes. Differential, like the property tests that
//! `scripts/sanitize.sh` runs under ASan by hand.
#![no_main]
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use control::lpm::{
    Family, Lpm, Poptrie, PoptrieWriter, Prefix, ReferenceLpm, RouteUpdate, V4, V6,
};
use libfuzzer_sys::fuzz_target;

fn v4(c: &[u8]) -> (Prefix<V4>, u32) {
    let a = Ipv4Addr::new(c[0], c[1], c[2], c[3]);
    (Prefix::new(a, c[4] % 33), u32::from(c[5]))
}

fn v6(c: &[u8]) -> (Prefix<V6>, u32) {
    let mut b = [0u8; 16];
    // Addresses from few bits, so that prefixes nest and share nodes.
    b[..6].copy_from_slice(&c[..6]);
    (Prefix::new(Ipv6Addr::from(b), c[6] % 129), u32::from(c[7]))
}

fn dedup<F: Family>(v: Vec<(Prefix<F>, u32)>) -> Vec<(Prefix<F>, u32)> {
    let m: BTreeMap<_, _> = v.into_iter().collect();
    m.into_iter().collect()
}

/// Builds both tables from `routes` and probes the addresses of the prefixes and `more`, single
/// and batched; returns the probes.
fn build_and_probe<F: Family>(
    routes: &[(Prefix<F>, u32)],
    more: impl Iterator<Item = F::Addr>,
) -> Vec<F::Addr> {
    let t = Poptrie::<F>::build(routes).unwrap();
    let r = ReferenceLpm::<F>::build(routes).unwrap();
    let probes: Vec<F::Addr> = routes.iter().map(|(p, _)| p.addr()).chain(more).collect();
    let mut out = vec![None; probes.len()];
    t.lookup_batch(&probes, &mut out);
    for (a, got) in probes.iter().zip(&out) {
        assert_eq!(t.lookup(*a), r.lookup(*a), "{a}");
        assert_eq!(*got, r.lookup(*a), "batched {a}");
    }
    probes
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let cut = (usize::from(split) * 6).min(rest.len());
    let (build, updates) = rest.split_at(cut);

    // IPv4: build, probe single and batched.
    let routes = dedup(build.chunks_exact(6).map(v4).collect());
    let probes = build_and_probe(
        &routes,
        data.chunks_exact(4)
            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3])),
    );

    // In place: announcements and withdrawals in batches.
    let mut w = PoptrieWriter::<V4>::new(&routes).unwrap();
    let mut model: BTreeMap<Prefix<V4>, u32> = routes.into_iter().collect();
    for batch in updates.chunks(6 * 8) {
        let mut us = Vec::new();
        for c in batch.chunks_exact(6) {
            let (p, v) = v4(c);
            if v % 4 == 0 {
                model.remove(&p);
                us.push(RouteUpdate::Withdraw(p));
            } else {
                model.insert(p, v);
                us.push(RouteUpdate::Announce(p, v));
            }
        }
        w.apply(&us).unwrap();
    }
    let t = w.table();
    let r = ReferenceLpm::<V4>::build(&model.into_iter().collect::<Vec<_>>()).unwrap();
    for a in &probes {
        assert_eq!(t.lookup(*a), r.lookup(*a), "after updates {a}");
    }

    // IPv6: build and probe.
    let routes = dedup(build.chunks_exact(8).map(v6).collect());
    build_and_probe(
        &routes,
        data.chunks_exact(6).map(|c| {
            let mut b = [0u8; 16];
            b[..6].copy_from_slice(c);
            Ipv6Addr::from(b)
        }),
    );
});
