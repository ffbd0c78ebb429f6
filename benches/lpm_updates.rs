//! Route changes while lookups run: a day of BGP updates from the RIS peer (1,393,421 `A`/`W`
//! lines, IPv4) replayed through `PoptrieWriter` in batches, each batch written in place
//! (one atomic store per rebuilt direct slot) and its version published with an `Arc` swap, while a reader thread on the other core looks up table-drawn keys
//! without ever locking. Reports updates/s, the time from a batch's first update to its
//! publication (visibility), and the reader's throughput against a run without updates.
//!
//!     cargo bench --bench lpm_updates            # the whole day
//!     cargo test --release --bench lpm_updates   # the first 20,000 updates (CI smoke run)

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use control::lpm::{table, Lpm, Poptrie, PoptrieWriter, Prefix, RouteUpdate, V4};

const RIB: &str = "benches/data/ris-20260511-initial-state-AS3333-ipv4.txt.xz";
const UPDATES: &str = "../shared/data/ris-20260511-updates-AS3333-ipv4.txt.xz";

fn xz(path: &Path) -> Option<String> {
    let raw = std::fs::read(path).ok()?;
    let mut out = Vec::new();
    lzma_rs::xz_decompress(&mut raw.as_slice(), &mut out).ok()?;
    String::from_utf8(out).ok()
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (Some(rib), Some(updates)) = (xz(&root.join(RIB)), xz(&root.join(UPDATES))) else {
        eprintln!("lpm_updates: {RIB} or {UPDATES} not found; nothing measured");
        return;
    };
    let rib = table::parse(&rib, 256).expect("RIB parses");
    let routes: Vec<(Prefix<V4>, u32)> = rib
        .v4
        .iter()
        .map(|(n, v)| (Prefix::new(n.network(), n.prefix_len()), *v))
        .collect();
    let mut stream: Vec<RouteUpdate<V4>> = Vec::new();
    for line in updates.lines() {
        let Some((op, prefix)) = line.split_once(' ') else {
            continue;
        };
        let Ok(net) = prefix.trim().parse::<ipnet::Ipv4Net>() else {
            continue;
        };
        let p = Prefix::new(net.network(), net.prefix_len());
        stream.push(match op {
            "A" => RouteUpdate::Announce(p, table::synthetic(&ipnet::IpNet::V4(net.trunc()), 256)),
            _ => RouteUpdate::Withdraw(p),
        });
    }
    assert!(!stream.is_empty(), "no updates parsed from {UPDATES}");
    if !full {
        stream.truncate(20_000);
    }
    let published = Arc::new(ArcSwap::new(
        PoptrieWriter::<V4>::new(&routes)
            .expect("RIB builds")
            .table(),
    ));

    // Reader: table-drawn keys, one lookup at a time, loading the current table per 256 keys.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let keys: Arc<Vec<Ipv4Addr>> = Arc::new(
        (0..1 << 16)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let (n, _) = rib.v4[(seed as usize) % rib.v4.len()];
                Ipv4Addr::from(
                    u32::from(n.network()) | ((seed >> 32) as u32 & !u32::from(n.netmask())),
                )
            })
            .collect(),
    );
    let reader = |published: Arc<ArcSwap<Poptrie<V4>>>,
                  keys: Arc<Vec<Ipv4Addr>>,
                  stop: Arc<AtomicBool>,
                  done: Arc<AtomicU64>| {
        std::thread::spawn(move || {
            let mut n = 0u64;
            let mut acc = 0u32;
            while !stop.load(Ordering::Relaxed) {
                for chunk in keys.chunks(256) {
                    let t = published.load();
                    for a in chunk {
                        acc = acc.wrapping_add(t.lookup(*a).unwrap_or(0));
                    }
                    n += chunk.len() as u64;
                }
            }
            done.store(n, Ordering::Relaxed);
            std::hint::black_box(acc);
        })
    };
    let measure_reader = |secs: f64, work: &mut dyn FnMut() -> bool| -> f64 {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let h = reader(published.clone(), keys.clone(), stop.clone(), done.clone());
        let t = Instant::now();
        while t.elapsed().as_secs_f64() < secs {
            if !work() {
                break;
            }
        }
        let elapsed = t.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        h.join().unwrap();
        done.load(Ordering::Relaxed) as f64 / elapsed
    };

    // Baseline: the reader alone.
    let quiet = measure_reader(if full { 3.0 } else { 0.5 }, &mut || {
        std::thread::sleep(Duration::from_millis(10));
        true
    });

    // Two replays: as fast as the writer goes, then paced at 500,000 updates/s (a batch of
    // 5,000 every 10 ms), the rate the target is stated at.
    let mut report = Vec::new();
    for paced in [false, true] {
        let mut w = PoptrieWriter::<V4>::new(&routes).expect("RIB builds");
        published.store(w.table());
        let mut latencies: Vec<Duration> = Vec::new();
        let mut pos = 0usize;
        let start = Instant::now();
        let busy = measure_reader(f64::MAX, &mut || {
            if pos >= stream.len() {
                return false;
            }
            if paced {
                let due = Duration::from_micros((pos as u64) * 2); // 500k/s = 2 µs per update
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            let batch_start = Instant::now();
            let end = (pos + 5_000).min(stream.len());
            let t = w.apply(&stream[pos..end]).expect("updates apply");
            published.store(t);
            latencies.push(batch_start.elapsed());
            pos = end;
            true
        });
        let total = start.elapsed();
        latencies.sort();
        let q = |x: f64| latencies[((latencies.len() - 1) as f64 * x) as usize];
        report.push(format!(
            "{}: {pos} updates in {:.2} s = {:.0} updates/s; batch of 5,000 applied and published in p50 {:?} p99 {:?} max {:?}; reader {:.1} M lookups/s ({:+.1} % against {:.1} M/s alone); {} fresh builds for lack of room",
            if paced { "paced at 500k/s" } else { "as fast as possible" },
            total.as_secs_f64(),
            pos as f64 / total.as_secs_f64(),
            q(0.5),
            q(0.99),
            latencies.last().unwrap(),
            busy / 1e6,
            (busy / quiet - 1.0) * 100.0,
            quiet / 1e6,
            w.rebuilds(),
        ));
    }
    // Check the final table against a fresh build of the final routes.
    let final_table = published.load_full();
    let fresh = {
        let mut model: std::collections::BTreeMap<Prefix<V4>, u32> =
            routes.iter().copied().collect();
        for u in &stream {
            match u {
                RouteUpdate::Announce(p, v) => {
                    model.insert(*p, *v);
                }
                RouteUpdate::Withdraw(p) => {
                    model.remove(p);
                }
            }
        }
        Poptrie::<V4>::build(&model.into_iter().collect::<Vec<_>>()).unwrap()
    };
    let mismatches = keys
        .iter()
        .filter(|a| final_table.lookup(**a) != fresh.lookup(**a))
        .count();
    for line in &report {
        println!("lpm_updates {line}");
    }
    println!(
        "lpm_updates: {mismatches} of {} keys differ from a fresh build of the final routes",
        keys.len()
    );
    assert_eq!(
        mismatches, 0,
        "the updated table answers like a fresh build"
    );
}
