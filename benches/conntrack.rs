//! The connection tracker at a million flows: memory (resident set of the process, measured
//! before and after filling), insertions and lookups per second on one core, and what the
//! table does when it is full (typed refusal; established flows still found).
//!
//! Then the crafted-collision flood of issue 19: tuples one tenant solved to land in one shard
//! and one probe run under a hash it knew, inserted into a table hashed with that key (what
//! the old fixed hash was to everyone) and into one with the random key vpced draws; how much
//! a colliding lookup costs, and how many of 10,000 other tenants' new flows are refused.
//!
//!     cargo bench --bench conntrack            # 1,048,576 flows
//!     cargo test --release --bench conntrack   # 65,536 flows (CI smoke run)

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use dataplane::conntrack::{FlowTable, TcpSignal, Tuple};
use dataplane::hash::Key;

/// Resident memory of this process, bytes (/proc/self/statm, second field, in pages).
fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = s
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn flow(i: u32) -> Tuple {
    // Many sources, many ports, a few destinations: what a SYN flood or a busy VPC looks like.
    Tuple {
        proto: 6,
        src: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i >> 12))),
        dst: IpAddr::V4(Ipv4Addr::new(52, 216, 39, (i % 7) as u8)),
        sport: 1024 + (i & 0xfff) as u16,
        dport: 443,
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n: u32 = if full { 1 << 20 } else { 1 << 16 };
    let before = rss();
    let table = FlowTable::new(n as usize);
    let t = Instant::now();
    for i in 0..n {
        table
            .insert(7, &flow(i), None, TcpSignal::default(), 0)
            .expect("capacity was asked for");
    }
    let insert = t.elapsed();
    let after = rss();
    let t = Instant::now();
    let mut found = 0u32;
    for i in 0..n {
        found += u32::from(
            table
                .lookup(7, &flow(i).reversed(), TcpSignal::default(), 1)
                .is_some(),
        );
    }
    let lookup = t.elapsed();
    assert_eq!(found, n, "every flow found, from the reply side too");
    // Full: new flows are refused with a type, established ones stay.
    let mut refused = 0u32;
    let mut i = n;
    while refused == 0 {
        if table
            .insert(7, &flow(i), None, TcpSignal::default(), 1)
            .is_err()
        {
            refused += 1;
        }
        i += 1;
    }
    assert!(table.lookup(7, &flow(0), TcpSignal::default(), 1).is_some());
    let mib = |b: usize| b as f64 / (1 << 20) as f64;
    println!(
        "conntrack: {n} flows; table {:.1} MiB allocated (capacity {} flows), resident growth {:.1} MiB = {:.0} B/flow; {:.1} M inserts/s, {:.1} M lookups/s; full after {} flows: typed refusal, established flows still found",
        mib(table.memory_bytes()),
        table.capacity(),
        mib(after.saturating_sub(before)),
        after.saturating_sub(before) as f64 / f64::from(n),
        f64::from(n) / insert.as_secs_f64() / 1e6,
        f64::from(n) / lookup.as_secs_f64() / 1e6,
        table.len(),
    );
    if full {
        assert!(
            after.saturating_sub(before) <= 256 << 20,
            "a million flows must fit in 256 MiB"
        );
    }
    collision_flood(full);
}

/// UDP tuples from one instance whose home under `key` is in one shard (of 54): the attack
/// of issue 19, which filled that shard at 2.7 % table load.
fn crafted(key: Key, n: usize) -> Vec<Tuple> {
    let probe = FlowTable::with_key(262_144, None, key);
    let near = |t: &Tuple| probe.home_of(1, t).0;
    let attack = |i: u32| Tuple {
        proto: 17,
        src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 176)),
        dst: IpAddr::V4(Ipv4Addr::from(0x0808_0000 | (i >> 16))),
        sport: 5000,
        dport: i as u16,
    };
    let target = near(&attack(0));
    (0..u32::MAX)
        .map(attack)
        .filter(|t| near(t) == target)
        .take(n)
        .collect()
}

fn collision_flood(full: bool) {
    let known = Key::fixed(0x5eed);
    let n = if full { 7_300 } else { 2_000 };
    let tuples = crafted(known, n);
    for (label, table) in [
        (
            "hash known to the attacker",
            FlowTable::with_key(262_144, None, known),
        ),
        ("vpced's random key", FlowTable::new(262_144)),
    ] {
        let sig = TcpSignal::default();
        let admitted = tuples
            .iter()
            .filter(|t| table.insert(1, t, None, sig, 0).is_ok())
            .count();
        let t = Instant::now();
        let rounds = 20;
        for _ in 0..rounds {
            for f in &tuples {
                std::hint::black_box(table.lookup(1, &f.reversed(), sig, 0));
            }
        }
        let per = t.elapsed().as_nanos() as f64 / (rounds * tuples.len()) as f64;
        let refused = (0..10_000u32)
            .filter(|&i| {
                let other = Tuple {
                    proto: 6,
                    src: IpAddr::V4(Ipv4Addr::from(0x0a01_0000 | (i >> 8))),
                    dst: IpAddr::V4(Ipv4Addr::new(52, 216, 39, 26)),
                    sport: 20_000 + i as u16,
                    dport: 443,
                };
                table.insert(2, &other, None, sig, 0).is_err()
            })
            .count();
        println!(
            "collision flood, {label}: {admitted} of {} crafted tuples admitted; {per:.0} ns per colliding lookup; {refused} of 10,000 other tenants' new flows refused",
            tuples.len()
        );
        if label.starts_with("vpced") {
            assert_eq!(admitted, tuples.len(), "crafted tuples are ordinary flows");
            assert_eq!(refused, 0, "other tenants untouched");
        }
    }
}
