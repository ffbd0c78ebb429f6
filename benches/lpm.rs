//! LPM lookup and build on a real full table: the RIPE RIS IPv4 table of one peer (1,042,325
//! prefixes, benches/data), next hops synthesized as a hash of the prefix modulo K = 256. The
//! reference LPM of `control::lpm` is measured against the `prefix-trie` crate in the same run.
//! Keys: uniform random addresses, and addresses drawn from the table's prefixes.
//!
//!     cargo bench --bench lpm
//!
//! Without the data file the benchmark says so and measures nothing.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use control::lpm::{Lpm, Poptrie, Prefix, ReferenceLpm, V4};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ipnet::Ipv4Net;

const RIS_V4: &str = "benches/data/ris-20260511-initial-state-AS3333-ipv4.txt.xz";
const KEYS: usize = 1 << 16;

fn load() -> Option<Vec<(Ipv4Net, u32)>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(RIS_V4);
    let raw = std::fs::read(&path).ok()?;
    let mut text = Vec::new();
    lzma_rs::xz_decompress(&mut raw.as_slice(), &mut text).ok()?;
    let text = String::from_utf8(text).ok()?;
    let mut v: Vec<(Ipv4Net, u32)> = text
        .lines()
        .filter_map(|l| l.trim().parse::<Ipv4Net>().ok())
        .map(|n| {
            let n = n.trunc();
            (n, control::lpm::table::synthetic(&ipnet::IpNet::V4(n), 256))
        })
        .collect();
    v.sort();
    v.dedup_by_key(|(n, _)| *n);
    Some(v)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn bench(c: &mut Criterion) {
    let Some(table) = load() else {
        eprintln!("lpm bench: {RIS_V4} not found beside the checkout; nothing measured");
        return;
    };
    eprintln!(
        "lpm bench: {} IPv4 prefixes, K = 256 next hops",
        table.len()
    );
    let routes: Vec<(Prefix<V4>, u32)> = table
        .iter()
        .map(|(n, v)| (Prefix::new(n.network(), n.prefix_len()), *v))
        .collect();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let uniform: Vec<Ipv4Addr> = (0..KEYS)
        .map(|_| Ipv4Addr::from(rng.next() as u32))
        .collect();
    let drawn: Vec<Ipv4Addr> = (0..KEYS)
        .map(|_| {
            let (n, _) = table[(rng.next() as usize) % table.len()];
            let host = (rng.next() as u32) & !u32::from(n.netmask());
            Ipv4Addr::from(u32::from(n.network()) | host)
        })
        .collect();

    let reference = ReferenceLpm::<V4>::build(&routes).unwrap();
    let t0 = std::time::Instant::now();
    let pop = Poptrie::<V4>::build(&routes).unwrap();
    eprintln!(
        "poptrie: built in {:?}, {} bytes ({:.2} MiB), nodes+leaves {:?}",
        t0.elapsed(),
        pop.memory_bytes(),
        pop.memory_bytes() as f64 / 1048576.0,
        pop.shape()
    );
    let mut trie = prefix_trie::PrefixMap::<Ipv4Net, u32>::new();
    for (n, v) in &table {
        trie.insert(*n, *v);
    }
    // Both answer the same.
    for a in uniform.iter().chain(drawn.iter()).take(20_000) {
        let r = reference.lookup(*a);
        assert_eq!(pop.lookup(*a), r, "{a}");
        let t = trie.get_lpm(&Ipv4Net::from(*a)).map(|(_, v)| *v);
        assert_eq!(r, t, "{a}");
    }

    let mut g = c.benchmark_group("lpm_v4_ris_lookup");
    g.throughput(Throughput::Elements(KEYS as u64));
    g.measurement_time(Duration::from_secs(5));
    let mut out = vec![None; KEYS];
    for (name, keys) in [("uniform", &uniform), ("drawn", &drawn)] {
        g.bench_function(format!("poptrie/{name}"), |b| {
            b.iter(|| {
                let mut acc = 0u32;
                for a in keys.iter() {
                    acc = acc.wrapping_add(pop.lookup(*a).unwrap_or(0));
                }
                black_box(acc)
            })
        });
        g.bench_function(format!("poptrie-batch/{name}"), |b| {
            b.iter(|| {
                pop.lookup_batch(keys, &mut out);
                black_box(out[KEYS - 1])
            })
        });
        g.bench_function(format!("reference/{name}"), |b| {
            b.iter(|| {
                let mut acc = 0u32;
                for a in keys.iter() {
                    acc = acc.wrapping_add(reference.lookup(*a).unwrap_or(0));
                }
                black_box(acc)
            })
        });
        g.bench_function(format!("prefix-trie/{name}"), |b| {
            b.iter(|| {
                let mut acc = 0u32;
                for a in keys.iter() {
                    acc = acc.wrapping_add(
                        trie.get_lpm(&Ipv4Net::from(*a))
                            .map(|(_, v)| *v)
                            .unwrap_or(0),
                    );
                }
                black_box(acc)
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("lpm_v4_ris_build");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("poptrie", |b| {
        b.iter(|| black_box(Poptrie::<V4>::build(&routes).unwrap()))
    });
    g.bench_function("reference", |b| {
        b.iter_batched(
            || routes.clone(),
            |r| black_box(ReferenceLpm::<V4>::build(&r).unwrap()),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("prefix-trie", |b| {
        b.iter(|| {
            let mut t = prefix_trie::PrefixMap::<Ipv4Net, u32>::new();
            for (n, v) in &table {
                t.insert(*n, *v);
            }
            black_box(t)
        })
    });
    g.finish();
}

const RIS_V6: &str = "benches/data/ris-20260511-initial-state-AS3333-ipv6.txt.xz";

/// The RIS IPv6 table, keys drawn from its prefixes: Poptrie (single, batched) against
/// prefix-trie.
fn bench_v6(c: &mut Criterion) {
    use control::lpm::V6;
    use ipnet::Ipv6Net;
    use std::net::Ipv6Addr;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(RIS_V6);
    let Some(text) = std::fs::read(&path).ok().and_then(|raw| {
        let mut out = Vec::new();
        lzma_rs::xz_decompress(&mut raw.as_slice(), &mut out).ok()?;
        String::from_utf8(out).ok()
    }) else {
        eprintln!("lpm bench: {RIS_V6} not found; nothing measured");
        return;
    };
    let table = control::lpm::table::parse(&text, 256).expect("the RIS table parses");
    let routes: Vec<(Prefix<V6>, u32)> = table
        .v6
        .iter()
        .map(|(n, v)| (Prefix::new(n.network(), n.prefix_len()), *v))
        .collect();
    let pop = Poptrie::<V6>::build(&routes).unwrap();
    let mut trie = prefix_trie::PrefixMap::<Ipv6Net, u32>::new();
    for (n, v) in &table.v6 {
        trie.insert(*n, *v);
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let keys: Vec<Ipv6Addr> = (0..KEYS)
        .map(|_| {
            let (n, _) = table.v6[(rng.next() as usize) % table.v6.len()];
            let host = u128::MAX
                .checked_shr(u32::from(n.prefix_len()))
                .unwrap_or(0);
            let r = (u128::from(rng.next()) << 64) | u128::from(rng.next());
            Ipv6Addr::from(u128::from(n.network()) | (r & host))
        })
        .collect();
    for a in keys.iter().take(20_000) {
        assert_eq!(
            pop.lookup(*a),
            trie.get_lpm(&Ipv6Net::from(*a)).map(|(_, v)| *v),
            "{a}"
        );
    }
    let mut g = c.benchmark_group("lpm_v6_ris_lookup");
    g.throughput(Throughput::Elements(KEYS as u64));
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("poptrie/drawn", |b| {
        b.iter(|| {
            keys.iter()
                .fold(0u32, |acc, a| acc.wrapping_add(pop.lookup(*a).unwrap_or(0)))
        })
    });
    let mut out = vec![None; KEYS];
    g.bench_function("poptrie-batch/drawn", |b| {
        b.iter(|| {
            pop.lookup_batch(&keys, &mut out);
            black_box(out[KEYS - 1])
        })
    });
    g.bench_function("prefix-trie/drawn", |b| {
        b.iter(|| {
            keys.iter().fold(0u32, |acc, a| {
                acc.wrapping_add(
                    trie.get_lpm(&Ipv6Net::from(*a))
                        .map(|(_, v)| *v)
                        .unwrap_or(0),
                )
            })
        })
    });
    g.finish();
}

/// Against the `poptrie` crate, whose one-insert-at-a-time build is too slow for the full table
/// (about 1,100 s per the data set's README): the first 100,000 prefixes of the RIS IPv4 table
/// in address order, table-drawn keys.
fn bench_subset(c: &mut Criterion) {
    let Some(mut table) = load() else { return };
    table.truncate(100_000);
    let routes: Vec<(Prefix<V4>, u32)> = table
        .iter()
        .map(|(n, v)| (Prefix::new(n.network(), n.prefix_len()), *v))
        .collect();
    let pop = Poptrie::<V4>::build(&routes).unwrap();
    let t0 = std::time::Instant::now();
    let mut crate_pop = poptrie::Poptrie::<(u32, u8), u32>::new();
    for (n, v) in &table {
        crate_pop.insert((u32::from(n.network()), n.prefix_len()), *v);
    }
    eprintln!(
        "lpm bench: poptrie crate built 100,000 prefixes in {:?}",
        t0.elapsed()
    );
    let mut rng = Rng(0x5851_f42d_4c95_7f2d);
    let keys: Vec<Ipv4Addr> = (0..KEYS)
        .map(|_| {
            let (n, _) = table[(rng.next() as usize) % table.len()];
            Ipv4Addr::from(u32::from(n.network()) | ((rng.next() as u32) & !u32::from(n.netmask())))
        })
        .collect();
    for a in keys.iter().take(20_000) {
        assert_eq!(
            pop.lookup(*a),
            crate_pop.lookup(u32::from(*a)).copied(),
            "{a}"
        );
    }
    let mut g = c.benchmark_group("lpm_v4_ris100k_lookup");
    g.throughput(Throughput::Elements(KEYS as u64));
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("poptrie/drawn", |b| {
        b.iter(|| {
            keys.iter()
                .fold(0u32, |acc, a| acc.wrapping_add(pop.lookup(*a).unwrap_or(0)))
        })
    });
    g.bench_function("poptrie-crate/drawn", |b| {
        b.iter(|| {
            keys.iter().fold(0u32, |acc, a| {
                acc.wrapping_add(crate_pop.lookup(u32::from(*a)).copied().unwrap_or(0))
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench, bench_v6, bench_subset);
criterion_main!(benches);
