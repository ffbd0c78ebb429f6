//! `vpcectl bench lpm`: the user's own table through vpce's LPM, measured.
//!
//! Loads a table (plain, `.xz` or `.gz`; one prefix per line, or `prefix nexthop`), builds the
//! Poptrie of one family, and reports build time, size, and lookups per second — one key at a
//! time and in batches — on uniform random keys, keys drawn from the table's prefixes, or keys
//! drawn Zipf-distributed (s = 1) over them. `--verify` checks every answer against the
//! reference LPM. `--write-table` / `--write-keys` save the exact table (with its next hops) and
//! keys in a binary form for `scripts/bench-lpm-dpdk.sh`, so DPDK is fed the same data:
//!
//! ```text
//! table, IPv4: 12-byte records  u32 address (little-endian, host order), u8 length, 3 pad, u32 next hop (LE)
//! table, IPv6: 24-byte records  16-byte address (network order), u8 length, 3 pad, u32 next hop (LE)
//! keys,  IPv4: u32 (LE, host order) each;   IPv6: 16 bytes (network order) each
//! ```
//!
//! The checksum printed is the sum of the next hops found over all keys, a missing route
//! counting as 65,535: the DPDK harness prints the same sum, so equal sums mean equal answers.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use control::lpm::{table, Family, Lpm, Poptrie, Prefix, ReferenceLpm, V4, V6};
use serde_json::json;

use super::cli::{Family as FamilyArg, KeysArg, LpmBench};
use super::{Failure, Output};

/// Value counted for a key with no route (DPDK's `default_nh` in the harness).
const MISS: u64 = 65_535;

fn bad(message: impl Into<String>) -> Failure {
    Failure::bad_input(message)
}

/// Reads and decompresses a file, with a progress bar on a terminal.
fn read_text(path: &Path, quiet: bool) -> Result<String, Failure> {
    let file = std::fs::File::open(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(len)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("loading {msg} {bar:30} {bytes}/{total_bytes}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(path.display().to_string());
    let mut raw = Vec::with_capacity(len as usize);
    bar.wrap_read(file)
        .read_to_end(&mut raw)
        .map_err(|e| bad(format!("{}: {e}", path.display())))?;
    bar.finish_and_clear();
    let bytes = if raw.starts_with(&[0xFD, b'7', b'z', b'X', b'Z', 0]) {
        let mut out = Vec::new();
        lzma_rs::xz_decompress(&mut raw.as_slice(), &mut out)
            .map_err(|e| bad(format!("{}: not a valid xz stream: {e}", path.display())))?;
        out
    } else if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| bad(format!("{}: not a valid gzip stream: {e}", path.display())))?;
        out
    } else {
        raw
    };
    String::from_utf8(bytes).map_err(|_| bad(format!("{}: not UTF-8 text", path.display())))
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

/// Family-specific parts of the benchmark.
trait BenchFamily: Family {
    fn random(rng: &mut Rng) -> Self::Bits;
    /// A host address inside the prefix.
    fn inside(p: &Prefix<Self>, rng: &mut Rng) -> Self::Bits;
    fn key_bytes(a: Self::Addr, out: &mut Vec<u8>);
    fn table_record(p: &Prefix<Self>, nh: u32, out: &mut Vec<u8>);
}

impl BenchFamily for V4 {
    fn random(rng: &mut Rng) -> u32 {
        rng.next() as u32
    }
    fn inside(p: &Prefix<V4>, rng: &mut Rng) -> u32 {
        let host = u32::MAX.checked_shr(u32::from(p.len())).unwrap_or(0);
        p.bits() | (rng.next() as u32 & host)
    }
    fn key_bytes(a: Ipv4Addr, out: &mut Vec<u8>) {
        out.extend_from_slice(&u32::from(a).to_le_bytes());
    }
    fn table_record(p: &Prefix<V4>, nh: u32, out: &mut Vec<u8>) {
        out.extend_from_slice(&p.bits().to_le_bytes());
        out.extend_from_slice(&[p.len(), 0, 0, 0]);
        out.extend_from_slice(&nh.to_le_bytes());
    }
}

impl BenchFamily for V6 {
    fn random(rng: &mut Rng) -> u128 {
        (u128::from(rng.next()) << 64) | u128::from(rng.next())
    }
    fn inside(p: &Prefix<V6>, rng: &mut Rng) -> u128 {
        let host = u128::MAX.checked_shr(u32::from(p.len())).unwrap_or(0);
        p.bits() | (((u128::from(rng.next()) << 64) | u128::from(rng.next())) & host)
    }
    fn key_bytes(a: Ipv6Addr, out: &mut Vec<u8>) {
        out.extend_from_slice(&a.octets());
    }
    fn table_record(p: &Prefix<V6>, nh: u32, out: &mut Vec<u8>) {
        out.extend_from_slice(&p.addr().octets());
        out.extend_from_slice(&[p.len(), 0, 0, 0]);
        out.extend_from_slice(&nh.to_le_bytes());
    }
}

fn keys<F: BenchFamily>(routes: &[(Prefix<F>, u32)], kind: KeysArg, count: usize) -> Vec<F::Addr> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    match kind {
        KeysArg::Uniform => (0..count)
            .map(|_| F::from_bits(F::random(&mut rng)))
            .collect(),
        KeysArg::Table if !routes.is_empty() => (0..count)
            .map(|_| {
                F::from_bits(F::inside(
                    &routes[(rng.next() as usize) % routes.len()].0,
                    &mut rng,
                ))
            })
            .collect(),
        KeysArg::Zipf if !routes.is_empty() => {
            // Rank r (1-based) has weight 1/r; ranks are a random permutation of the prefixes.
            let n = routes.len();
            let mut order: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                order.swap(i, (rng.next() as usize) % (i + 1));
            }
            let mut cdf = Vec::with_capacity(n);
            let mut acc = 0.0f64;
            for r in 1..=n {
                acc += 1.0 / r as f64;
                cdf.push(acc);
            }
            (0..count)
                .map(|_| {
                    let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * acc;
                    let rank = cdf.partition_point(|&c| c < u).min(n - 1);
                    F::from_bits(F::inside(&routes[order[rank]].0, &mut rng))
                })
                .collect()
        }
        _ => (0..count)
            .map(|_| F::from_bits(F::random(&mut rng)))
            .collect(),
    }
}

/// Lookups per second: best of repeated passes over `keys` within `budget`.
fn rate(keys: usize, budget: Duration, mut pass: impl FnMut() -> u64) -> (f64, u64) {
    let start = Instant::now();
    let mut best = f64::MAX;
    let mut sum = 0;
    let mut rounds = 0;
    while rounds < 3 || start.elapsed() < budget {
        let t = Instant::now();
        sum = pass();
        best = best.min(t.elapsed().as_secs_f64());
        rounds += 1;
        if rounds >= 1000 {
            break;
        }
    }
    (keys as f64 / best, sum)
}

fn run<F: BenchFamily>(
    args: &LpmBench,
    routes: Vec<(Prefix<F>, u32)>,
    loaded: Duration,
    out: &mut impl Write,
) -> Result<(), Failure>
where
    F::Addr: Send + Sync,
{
    let t = Instant::now();
    let pop = Poptrie::<F>::build(&routes).map_err(|e| bad(e.to_string()))?;
    let build = t.elapsed();
    let keys = keys::<F>(&routes, args.keys, args.count.max(1));
    let budget = Duration::from_secs_f64(args.seconds.max(0.1));
    let (single, sum_single) = rate(keys.len(), budget, || {
        keys.iter()
            .map(|a| pop.lookup(*a).map_or(MISS, u64::from))
            .sum()
    });
    // Bulks of 64 into one small buffer, summed as they come: what DPDK's harness does.
    let (batched, sum_batch) = rate(keys.len(), budget, || {
        let mut res = [None; 64];
        keys.chunks(64)
            .map(|bulk| {
                pop.lookup_batch(bulk, &mut res);
                res[..bulk.len()]
                    .iter()
                    .map(|v| v.map_or(MISS, u64::from))
                    .sum::<u64>()
            })
            .sum()
    });
    if sum_single != sum_batch {
        return Err(Failure {
            code: 1,
            message: format!(
                "internal: single and batched lookups disagree ({sum_single} vs {sum_batch})"
            ),
            json: None,
        });
    }
    let mismatches = if args.verify {
        let reference = ReferenceLpm::<F>::build(&routes).map_err(|e| bad(e.to_string()))?;
        Some(
            keys.iter()
                .filter(|a| reference.lookup(**a) != pop.lookup(**a))
                .count(),
        )
    } else {
        None
    };
    if let Some(path) = &args.write_table {
        let mut b = Vec::with_capacity(routes.len() * 24);
        for (p, nh) in &routes {
            F::table_record(p, *nh, &mut b);
        }
        std::fs::write(path, b).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    }
    if let Some(path) = &args.write_keys {
        let mut b = Vec::with_capacity(keys.len() * 16);
        for a in &keys {
            F::key_bytes(*a, &mut b);
        }
        std::fs::write(path, b).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    }
    let (nodes, leaves) = pop.shape();
    let doc = json!({
        "table": args.table,
        "family": format!("{:?}", args.family).to_lowercase(),
        "prefixes": routes.len(),
        "load_seconds": loaded.as_secs_f64(),
        "build_seconds": build.as_secs_f64(),
        "bytes": pop.memory_bytes(),
        "nodes": nodes,
        "leaves": leaves,
        "keys": format!("{:?}", args.keys).to_lowercase(),
        "key_count": keys.len(),
        "lookups_per_second": single,
        "batched_lookups_per_second": batched,
        "checksum": sum_single,
        "mismatches": mismatches,
    });
    match args.output {
        Output::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        )?,
        Output::Table => {
            writeln!(
                out,
                "table       {} ({} {} prefixes, loaded in {:.2} s)",
                args.table.display(),
                routes.len(),
                if std::mem::size_of::<F::Bits>() == 4 {
                    "IPv4"
                } else {
                    "IPv6"
                },
                loaded.as_secs_f64()
            )?;
            writeln!(out, "build       {:.3} s", build.as_secs_f64())?;
            writeln!(
                out,
                "size        {} bytes ({:.2} MiB; {nodes} nodes, {leaves} leaves)",
                pop.memory_bytes(),
                pop.memory_bytes() as f64 / 1048576.0
            )?;
            writeln!(out, "keys        {} {:?}", keys.len(), args.keys)?;
            writeln!(out, "single      {:.1} M lookups/s", single / 1e6)?;
            writeln!(out, "batched     {:.1} M lookups/s", batched / 1e6)?;
            writeln!(out, "checksum    {sum_single}")?;
            if let Some(m) = mismatches {
                writeln!(out, "mismatches  {m} (against the reference LPM)")?;
            }
        }
    }
    match mismatches {
        Some(m) if m > 0 => Err(Failure {
            code: 1,
            message: format!("{m} lookups differ from the reference LPM"),
            json: None,
        }),
        _ => Ok(()),
    }
}

pub fn lpm(args: &LpmBench, out: &mut impl Write) -> Result<(), Failure> {
    let t = Instant::now();
    let text = read_text(&args.table, args.output == Output::Json)?;
    let parsed = table::parse(&text, args.next_hops)
        .map_err(|e| bad(format!("{}: {e}", args.table.display())))?;
    let loaded = t.elapsed();
    match args.family {
        FamilyArg::V4 => {
            let routes: Vec<(Prefix<V4>, u32)> = parsed
                .v4
                .iter()
                .map(|(n, h)| (Prefix::new(n.network(), n.prefix_len()), *h))
                .collect();
            if routes.is_empty() {
                return Err(bad(format!(
                    "{}: no IPv4 prefixes (try --family v6)",
                    args.table.display()
                )));
            }
            run::<V4>(args, routes, loaded, out)
        }
        FamilyArg::V6 => {
            let routes: Vec<(Prefix<V6>, u32)> = parsed
                .v6
                .iter()
                .map(|(n, h)| (Prefix::new(n.network(), n.prefix_len()), *h))
                .collect();
            if routes.is_empty() {
                return Err(bad(format!(
                    "{}: no IPv6 prefixes (try --family v4)",
                    args.table.display()
                )));
            }
            run::<V6>(args, routes, loaded, out)
        }
    }
}
