//! IP fragments: how a datagram's later fragments follow its first.
//!
//! Only the first fragment of a datagram carries the transport header, so only it says which
//! flow the datagram belongs to. Without help, every later fragment would look like a flow of
//! its own with ports 0 — and a security group would either deny legitimate fragmented
//! traffic to an allowed port or, once some `(proto, a, b, 0, 0)` flow was tracked, pass any
//! later fragment between those addresses (issue 19). Stateful firewalls solve this as Linux's
//! conntrack and pf do: **the first fragment decides** and later fragments follow it.
//!
//! [`FragmentTable::follow`] runs on every fragment before any decision. A first fragment
//! (which `wire::parse` has checked holds its whole transport header) opens an entry keyed by
//! `(ingress attachment, protocol, source, destination, identification)` holding its ports and
//! ICMP type; a later fragment finds that entry and takes the ports from it, so the pipeline
//! judges every fragment of a datagram as its first: same flow, same security-group outcome,
//! same route. The entry notes which byte ranges of the datagram have passed; it ends when the
//! datagram is complete or [`TIMEOUT`] seconds after its first fragment.
//!
//! What is dropped (each a counter, [`Refusal`]):
//!
//! * a later fragment with no first fragment tracked (`fragment_out_of_order`): it came
//!   before its first fragment, after the timeout, after its datagram was dropped for an
//!   overlap, or its datagram had more than [`RANGES`] gaps at once. vpced does not hold
//!   fragments back to wait for the first: senders emit fragments in order, and a buffer of
//!   held packets is memory a flood would fill;
//! * a fragment overlapping a part of its datagram already seen, including a second first
//!   fragment (`fragment_overlap`): the datagram is discarded from then on (RFC 5722; the
//!   TCP overlap attacks of RFC 1858 rewrite the ports this way).
//!
//! Tiny first fragments (`fragment_tiny`) are refused by `wire::parse`.
//!
//! # Table
//!
//! ```text
//! Entry (112 bytes): source, destination u128; identification, ingress u32; protocol u8,
//!                    family u8; ports 2×u16, ICMP type and code; born u32 (seconds);
//!                    datagram length u32 (0 until the last fragment); ranges 6×(u32, u32)
//! buckets of 4 entries, each behind a spin lock; bucket = keyed hash of the key (crate::keyed)
//! reads per fragment: one bucket (4 entries, 448 bytes), no probing
//! capacity: FlowTable capacity / 16, 256..=65,536 entries (16,384 for 262,144 flows: 1.8 MiB)
//! ```
//!
//! A bucket with no free or expired entry gives its **oldest** entry to the new datagram (and
//! counts an eviction) rather than refusing it: a table that refused new datagrams when full
//! would let one sender, at a few hundred first fragments a second, stop everyone's
//! fragmented traffic for the timeout; eviction bounds what such a sender can do to shortening
//! the time others' fragments have to arrive (at a million first fragments a second into
//! 16,384 entries, about 16 ms — ample for fragments sent back to back). Nothing allocates
//! after [`FragmentTable::new`].

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use spin::mutex::SpinMutex as Mutex;

use crate::hash;
use crate::wire::Parsed;

/// Seconds from a datagram's first fragment after which its later fragments are refused (the
/// reassembly time limit: Linux's `ipfrag_time` is 30 s).
pub const TIMEOUT: u32 = 30;
/// Disjoint byte ranges a datagram may have at once (one while fragments come in order).
pub const RANGES: usize = 6;
const WAYS: usize = 4;

/// Why a fragment is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A later fragment whose datagram's first fragment is not tracked.
    OutOfOrder,
    /// Overlaps a part of its datagram already seen; the datagram is discarded.
    Overlap,
}

impl From<Refusal> for crate::reasons::DropReason {
    fn from(r: Refusal) -> crate::reasons::DropReason {
        match r {
            Refusal::Overlap => crate::reasons::DropReason::FragmentOverlap,
            Refusal::OutOfOrder => crate::reasons::DropReason::FragmentOutOfOrder,
        }
    }
}

fn bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Key {
    src: u128,
    dst: u128,
    id: u32,
    ingress: u32,
    proto: u8,
    v6: bool,
}

impl Key {
    fn of(ingress: u32, p: &Parsed, id: u32) -> Key {
        Key {
            src: bits(p.src),
            dst: bits(p.dst),
            id,
            ingress,
            proto: p.protocol,
            v6: !p.is_ipv4(),
        }
    }

    fn words(&self) -> [u64; 5] {
        [
            self.src as u64,
            (self.src >> 64) as u64,
            self.dst as u64,
            (self.dst >> 64) as u64,
            u64::from(self.id) << 32 | u64::from(self.ingress) ^ u64::from(self.proto) << 24,
        ]
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    key: Key,
    used: bool,
    src_port: u16,
    dst_port: u16,
    icmp_type: u8,
    icmp_code: u8,
    born: u32,
    /// The datagram's payload length, once its last fragment came (0 before).
    total: u32,
    n: u8,
    /// Byte ranges `[start, end)` seen, sorted and coalesced.
    ranges: [(u32, u32); RANGES],
}

impl Entry {
    fn live(&self, now: u32) -> bool {
        self.used && now.wrapping_sub(self.born) < TIMEOUT
    }

    /// Adds `[start, end)` (`last`: it ends the datagram). `Err` on an overlap, an end that
    /// disagrees with the datagram's, or too many gaps.
    fn add(&mut self, start: u32, end: u32, last: bool) -> Result<(), Refusal> {
        let ranges = &self.ranges[..usize::from(self.n)];
        if ranges.iter().any(|&(s, e)| start < e && s < end) {
            return Err(Refusal::Overlap);
        }
        let past_end = |total: u32| total != 0 && end > total;
        if past_end(self.total) || (last && (self.total != 0 || ranges.iter().any(|r| r.1 > end))) {
            return Err(Refusal::Overlap);
        }
        if last {
            self.total = end;
        }
        let n = usize::from(self.n);
        let at = ranges.partition_point(|r| r.0 < start);
        let joins_prev = at > 0 && self.ranges[at - 1].1 == start;
        let joins_next = at < n && self.ranges[at].0 == end;
        match (joins_prev, joins_next) {
            (true, true) => {
                self.ranges[at - 1].1 = self.ranges[at].1;
                self.ranges.copy_within(at + 1..n, at);
                self.n -= 1;
            }
            (true, false) => self.ranges[at - 1].1 = end,
            (false, true) => self.ranges[at].0 = start,
            (false, false) => {
                if n == RANGES {
                    return Err(Refusal::OutOfOrder);
                }
                self.ranges.copy_within(at..n, at + 1);
                self.ranges[at] = (start, end);
                self.n += 1;
            }
        }
        Ok(())
    }

    fn complete(&self) -> bool {
        self.total != 0 && self.n == 1 && self.ranges[0] == (0, self.total)
    }
}

#[derive(Debug, Default)]
struct Bucket {
    ways: [Entry; WAYS],
}

/// Datagrams being fragmented through vpced: fixed capacity, shared by the workers.
#[derive(Debug)]
pub struct FragmentTable {
    buckets: Box<[Mutex<Bucket>]>,
    key: hash::Key,
    evicted: AtomicU64,
}

impl FragmentTable {
    /// A table for about `entries` datagrams in flight (rounded to whole buckets, at least one).
    pub fn new(entries: usize) -> FragmentTable {
        FragmentTable::with_key(entries, hash::Key::random())
    }

    /// [`FragmentTable::new`] with a given hash key (tests).
    pub fn with_key(entries: usize, key: hash::Key) -> FragmentTable {
        let n = entries.div_ceil(WAYS).max(1);
        FragmentTable {
            buckets: (0..n).map(|_| Mutex::new(Bucket::default())).collect(),
            key,
            evicted: AtomicU64::new(0),
        }
    }

    /// Datagrams the table holds at most.
    pub fn capacity(&self) -> usize {
        self.buckets.len() * WAYS
    }

    /// Datagrams whose entry was given to a newer one before they completed.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Relaxed)
    }

    /// Datagrams tracked now (expired ones not yet reused included).
    pub fn len(&self) -> usize {
        self.buckets
            .iter()
            .map(|b| b.lock().ways.iter().filter(|e| e.used).count())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes fragment `p` (which arrived on `ingress`) follow its datagram's first fragment:
    /// a first fragment is recorded; a later one gets its ports and ICMP type. Packets that
    /// are not fragments pass untouched.
    pub fn follow(&self, ingress: u32, p: &mut Parsed, now: u32) -> Result<(), Refusal> {
        let Some(frag) = p.fragment else {
            return Ok(());
        };
        let key = Key::of(ingress, p, frag.id);
        let h = self.key.hash5(key.words());
        let i = (((h >> 32) * self.buckets.len() as u64) >> 32) as usize;
        let mut bucket = self.buckets[i].lock();
        let found = bucket.ways.iter().position(|e| e.key == key && e.live(now));
        let (start, end) = (frag.offset, frag.offset.saturating_add(frag.len));
        if frag.is_first() && !frag.more {
            // An IPv6 atomic fragment: a whole datagram, handled in isolation (RFC 6946).
            return Ok(());
        }
        if frag.is_first() {
            if let Some(w) = found {
                // A second first fragment: the datagram is ambiguous; discard it.
                bucket.ways[w].used = false;
                return Err(Refusal::Overlap);
            }
            let w = self.way_for_new(&bucket, now);
            let e = &mut bucket.ways[w];
            *e = Entry {
                key,
                used: true,
                src_port: p.src_port,
                dst_port: p.dst_port,
                icmp_type: p.icmp_type,
                icmp_code: p.icmp_code,
                born: now,
                ..Entry::default()
            };
            e.add(start, end, !frag.more)
                .expect("the first range of an empty entry");
            return Ok(());
        }
        let Some(w) = found else {
            return Err(Refusal::OutOfOrder);
        };
        let e = &mut bucket.ways[w];
        if let Err(r) = e.add(start, end, !frag.more) {
            e.used = false;
            return Err(r);
        }
        p.src_port = e.src_port;
        p.dst_port = e.dst_port;
        p.icmp_type = e.icmp_type;
        p.icmp_code = e.icmp_code;
        if e.complete() {
            e.used = false;
        }
        Ok(())
    }

    /// A free or expired way of `bucket`, else its oldest (counted as an eviction).
    fn way_for_new(&self, bucket: &Bucket, now: u32) -> usize {
        if let Some(w) = bucket.ways.iter().position(|e| !e.live(now)) {
            return w;
        }
        self.evicted.fetch_add(1, Relaxed);
        (0..WAYS)
            .max_by_key(|&w| now.wrapping_sub(bucket.ways[w].born))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Fragment;

    fn frag(id: u32, offset: u32, len: u32, more: bool, ports: (u16, u16)) -> Parsed {
        Parsed {
            src: "10.0.0.1".parse().unwrap(),
            dst: "8.8.8.8".parse().unwrap(),
            protocol: 17,
            len: 20 + len as usize,
            l4_offset: (offset == 0).then_some(20),
            src_port: ports.0,
            dst_port: ports.1,
            tcp_flags: 0,
            icmp_type: 0,
            icmp_code: 0,
            fragment: Some(Fragment {
                id,
                offset,
                len,
                more,
            }),
            quoted: None,
        }
    }

    #[test]
    fn later_fragments_take_the_first_ones_ports_until_complete() {
        let t = FragmentTable::new(64);
        let mut first = frag(7, 0, 1480, true, (5000, 53));
        t.follow(1, &mut first, 0).unwrap();
        let mut mid = frag(7, 1480, 1480, true, (0, 0));
        t.follow(1, &mut mid, 0).unwrap();
        assert_eq!((mid.src_port, mid.dst_port), (5000, 53));
        let mut last = frag(7, 2960, 100, false, (0, 0));
        t.follow(1, &mut last, 1).unwrap();
        assert_eq!((last.src_port, last.dst_port), (5000, 53));
        // Complete: the entry is gone, a straggler finds nothing.
        assert!(t.is_empty());
        let mut again = frag(7, 1480, 1480, true, (0, 0));
        assert_eq!(t.follow(1, &mut again, 1), Err(Refusal::OutOfOrder));
    }

    #[test]
    fn a_later_fragment_without_its_first_is_refused() {
        let t = FragmentTable::new(64);
        let mut first = frag(7, 0, 1480, true, (5000, 53));
        t.follow(1, &mut first, 0).unwrap();
        // Another datagram id, another ingress, or past the timeout: no first fragment.
        for (id, ingress, now) in [(8, 1, 0), (7, 2, 0), (7, 1, TIMEOUT)] {
            let mut later = frag(id, 1480, 8, false, (0, 0));
            assert_eq!(t.follow(ingress, &mut later, now), Err(Refusal::OutOfOrder));
            assert_eq!((later.src_port, later.dst_port), (0, 0));
        }
    }

    #[test]
    fn overlaps_discard_the_datagram() {
        let t = FragmentTable::new(64);
        // RFC 1858: a fragment at offset 8 rewriting a TCP header's second half.
        let mut first = frag(9, 0, 1480, true, (40000, 22));
        t.follow(1, &mut first, 0).unwrap();
        let mut evil = frag(9, 8, 1472, true, (0, 0));
        assert_eq!(t.follow(1, &mut evil, 0), Err(Refusal::Overlap));
        // The datagram is gone: even a well-placed fragment is refused now.
        let mut next = frag(9, 1480, 8, false, (0, 0));
        assert_eq!(t.follow(1, &mut next, 0), Err(Refusal::OutOfOrder));
        // A second first fragment.
        let mut a = frag(10, 0, 16, true, (1, 2));
        t.follow(1, &mut a, 0).unwrap();
        let mut b = frag(10, 0, 16, true, (3, 4));
        assert_eq!(t.follow(1, &mut b, 0), Err(Refusal::Overlap));
        // Two different ends.
        let mut a = frag(11, 0, 16, true, (1, 2));
        t.follow(1, &mut a, 0).unwrap();
        t.follow(1, &mut frag(11, 32, 8, false, (0, 0)), 0).unwrap();
        assert_eq!(
            t.follow(1, &mut frag(11, 48, 8, false, (0, 0)), 0),
            Err(Refusal::Overlap)
        );
    }

    #[test]
    fn later_fragments_may_come_in_any_order_within_the_gaps_kept() {
        let t = FragmentTable::new(64);
        t.follow(1, &mut frag(3, 0, 8, true, (1, 2)), 0).unwrap();
        // Odd pieces first (disjoint ranges), then the even ones close every gap.
        for k in (1..=RANGES as u32 - 1).map(|k| 2 * k) {
            t.follow(1, &mut frag(3, k * 8, 8, true, (0, 0)), 0)
                .unwrap();
        }
        // One more gap than the entry keeps: refused, datagram dropped.
        let t2 = FragmentTable::new(64);
        t2.follow(1, &mut frag(4, 0, 8, true, (1, 2)), 0).unwrap();
        for k in 1..RANGES as u32 {
            t2.follow(1, &mut frag(4, 2 * k * 8, 8, true, (0, 0)), 0)
                .unwrap();
        }
        assert_eq!(
            t2.follow(1, &mut frag(4, 2 * RANGES as u32 * 8, 8, true, (0, 0)), 0),
            Err(Refusal::OutOfOrder)
        );
        for k in (1..RANGES as u32).map(|k| 2 * k - 1) {
            t.follow(1, &mut frag(3, k * 8, 8, true, (0, 0)), 0)
                .unwrap();
        }
        let end = (2 * RANGES as u32 - 1) * 8;
        t.follow(1, &mut frag(3, end, 8, false, (0, 0)), 0).unwrap();
        assert!(t.is_empty(), "complete after the gaps closed");
    }

    /// A flood of first fragments evicts the oldest datagrams; a datagram whose fragments
    /// come back to back still gets through, and nothing is refused for lack of room.
    #[test]
    fn a_flood_of_first_fragments_evicts_and_never_blocks() {
        let t = FragmentTable::new(256);
        for id in 0..100_000 {
            let mut f = frag(id, 0, 8, true, (1, 2));
            f.src = "10.9.9.9".parse().unwrap();
            t.follow(1, &mut f, 0).unwrap();
        }
        assert!(t.evicted() > 90_000);
        assert_eq!(t.len(), t.capacity());
        t.follow(2, &mut frag(1, 0, 1480, true, (5000, 53)), 0)
            .unwrap();
        let mut last = frag(1, 1480, 20, false, (0, 0));
        t.follow(2, &mut last, 0).unwrap();
        assert_eq!(last.dst_port, 53);
    }

    #[test]
    fn not_fragments_pass_untouched() {
        let t = FragmentTable::new(64);
        let mut p = frag(1, 0, 8, false, (5, 6));
        p.fragment = None;
        let before = p;
        t.follow(1, &mut p, 0).unwrap();
        assert_eq!(p, before);
        assert!(t.is_empty());
    }
}
