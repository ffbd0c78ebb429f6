//! Changing a table in place while readers run (the order is in the parent module's
//! documentation): [`PoptrieWriter`] rebuilds the direct slots a batch of [`RouteUpdate`]s
//! touches, each into free ranges, publishes each slot with one `Release` store, and frees old
//! ranges only when no handle of an earlier version is left.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::Ordering::Release;
use std::sync::Arc;

use super::build::{BinaryTrie, Queue, NIL};
use super::{check_value, Family, LpmBuildError, NodeBits, Plain, Poptrie, Prefix, NODE, NONE};

/// A route change for [`PoptrieWriter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteUpdate<F: Family> {
    /// Add the prefix, or change its value.
    Announce(Prefix<F>, u32),
    /// Remove the prefix (a no-op if absent).
    Withdraw(Prefix<F>),
}

/// Where one direct slot's subtree lives: `(first, count)` in `nodes` and in `leaves`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Extent {
    nodes: (u32, u32),
    leaves: (u32, u32),
}

/// Free ranges of one array of a [`Storage`]: best fit, split, never moved; bump allocation
/// above `top`.
#[derive(Debug, Default)]
struct FreeRanges {
    /// Free ranges by length: their first indices.
    by_len: BTreeMap<u32, Vec<u32>>,
    /// Everything from `top` to `cap` is free too.
    top: u32,
    cap: u32,
    /// Cells in `by_len`.
    free: usize,
}

impl FreeRanges {
    fn new(top: usize, cap: usize) -> FreeRanges {
        FreeRanges {
            by_len: BTreeMap::new(),
            top: top as u32,
            cap: cap as u32,
            free: 0,
        }
    }

    fn alloc(&mut self, len: u32) -> Option<u32> {
        if len == 0 {
            return Some(0);
        }
        if let Some((&have, starts)) = self.by_len.range_mut(len..).next() {
            let start = starts.pop().expect("no empty lists are kept");
            if starts.is_empty() {
                self.by_len.remove(&have);
            }
            self.free -= have as usize;
            self.release(start + len, have - len);
            return Some(start);
        }
        if self.cap - self.top >= len {
            self.top += len;
            return Some(self.top - len);
        }
        None
    }

    fn release(&mut self, start: u32, len: u32) {
        if len > 0 {
            self.by_len.entry(len).or_default().push(start);
            self.free += len as usize;
        }
    }

    fn used(&self) -> usize {
        self.top as usize - self.free
    }
}

/// Applies route changes to a table in place while readers look up in it, never making them
/// wait (the order of the writes is in the module documentation).
///
/// The writer keeps the binary trie the table was built from. A batch of updates changes the
/// trie, then rebuilds only the direct slots the updated prefixes cover — one slot for a prefix
/// longer than `S` bits, `2^(S - len)` for a shorter one — into free ranges of the shared
/// cells, and publishes each slot with one atomic store. Each batch returns a new handle
/// (version); the cells a batch replaced are reused once no handle of an earlier version is
/// held by anyone but the writer.
#[derive(Debug)]
pub struct PoptrieWriter<F: Family> {
    trie: BinaryTrie,
    current: Arc<Poptrie<F>>,
    /// Version number of `current`.
    version: u64,
    /// Where each slot with a subtree keeps it.
    extents: HashMap<u32, Extent>,
    nodes_free: FreeRanges,
    leaves_free: FreeRanges,
    /// Ranges replaced by the batch that made version `v`: reusable once no handle older than
    /// `v` is held.
    limbo: VecDeque<(u64, Extent)>,
    /// Earlier versions on the current storage, oldest first, as long as someone may hold them.
    retired: VecDeque<(u64, Arc<Poptrie<F>>)>,
    /// Room added on every fresh build, as a fraction of the cells in use (1/`spare_div`).
    spare_div: usize,
    /// Fresh builds because free space ran out or a value outgrew one-byte leaves (for reports
    /// and tests).
    rebuilds: u64,
}

impl std::fmt::Debug for BinaryTrie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BinaryTrie({} nodes)", self.child.len())
    }
}

impl<F: Family> PoptrieWriter<F> {
    /// Builds the first table from `routes`, with the full `F::DIRECT_BITS` direct array and
    /// room for half as many nodes and leaves again.
    pub fn new(routes: &[(Prefix<F>, u32)]) -> Result<Self, LpmBuildError> {
        Self::with_spare(routes, 2)
    }

    fn with_spare(routes: &[(Prefix<F>, u32)], spare_div: usize) -> Result<Self, LpmBuildError> {
        let mut trie = BinaryTrie::default();
        trie.node();
        for (p, v) in routes {
            check_value(p, *v)?;
            if !trie.insert::<F>(p, *v as u16) {
                return Err(LpmBuildError::Duplicate(p.to_string()));
            }
        }
        let mut w = PoptrieWriter {
            trie,
            current: Arc::new(Poptrie::from_plain(Plain::default(), 0, 0, (0, 0))),
            version: 0,
            extents: HashMap::new(),
            nodes_free: FreeRanges::default(),
            leaves_free: FreeRanges::default(),
            limbo: VecDeque::new(),
            retired: VecDeque::new(),
            spare_div,
            rebuilds: 0,
        };
        w.current = Arc::new(w.fresh(routes.len()));
        Ok(w)
    }

    /// The table as of the last batch.
    pub fn table(&self) -> Arc<Poptrie<F>> {
        self.current.clone()
    }

    /// How many times the table was built afresh: free space ran out, or a value outgrew
    /// one-byte leaves.
    pub fn rebuilds(&self) -> u64 {
        self.rebuilds
    }

    /// A whole new table (new storage) from the trie, with spare room; resets the bookkeeping.
    fn fresh(&mut self, count: usize) -> Poptrie<F> {
        let s = F::DIRECT_BITS;
        let mut plain = Plain {
            direct: vec![u32::from(NONE); 1 << s],
            ..Plain::default()
        };
        let mut queue = Queue::new();
        self.extents.clear();
        for slot in 0..plain.direct.len() {
            let (n0, l0) = (plain.nodes.len(), plain.leaves.len());
            plain.direct[slot] =
                self.trie
                    .slot_entry(slot, s, &mut plain.nodes, &mut plain.leaves, &mut queue);
            if plain.direct[slot] & NODE != 0 {
                let extent = Extent {
                    nodes: (n0 as u32, (plain.nodes.len() - n0) as u32),
                    leaves: (l0 as u32, (plain.leaves.len() - l0) as u32),
                };
                self.extents.insert(slot as u32, extent);
            }
        }
        let (n, l) = (plain.nodes.len(), plain.leaves.len());
        let spare = (n / self.spare_div + 64, l / self.spare_div + 4096);
        self.nodes_free = FreeRanges::new(n, n + spare.0);
        self.leaves_free = FreeRanges::new(l, l + spare.1);
        self.limbo.clear();
        self.retired.clear();
        Poptrie::from_plain(plain, s, count, spare)
    }

    /// Applies `updates` in order and returns the new version (also kept as current). A value
    /// out of range rejects the whole batch before anything changes.
    pub fn apply(&mut self, updates: &[RouteUpdate<F>]) -> Result<Arc<Poptrie<F>>, LpmBuildError> {
        for u in updates {
            if let RouteUpdate::Announce(p, v) = u {
                check_value(p, *v)?;
            }
        }
        let s = F::DIRECT_BITS;
        let mut count = self.current.count;
        let mut slots: Vec<(usize, usize)> = Vec::with_capacity(updates.len());
        for u in updates {
            let (p, v) = match u {
                RouteUpdate::Announce(p, v) => (p, *v as u16),
                RouteUpdate::Withdraw(p) => (p, NONE),
            };
            match self.trie.set::<F>(p, v) {
                Presence::Added => count += 1,
                Presence::Removed => count -= 1,
                Presence::Same => {}
            }
            let first = F::chunk(p.bits(), 0, s);
            let n = if u32::from(p.len()) >= s {
                1
            } else {
                1usize << (s - u32::from(p.len()))
            };
            slots.push((first, n));
        }
        slots.sort_unstable();
        self.reclaim();
        let version = self.version + 1;
        let next = match self.rewrite_slots(&slots, version) {
            Some(()) => {
                let store = self.current.store.clone();
                Poptrie {
                    direct_bits: s,
                    store,
                    count,
                    used: (self.nodes_free.used(), self.leaves_free.used()),
                    _f: std::marker::PhantomData,
                }
            }
            None => {
                // Out of room, or a value too wide for the leaf cells: a fresh table from the
                // trie (which has every update), published as a new storage; readers of the
                // old one keep it until they let go.
                self.rebuilds += 1;
                self.fresh(count)
            }
        };
        let next = Arc::new(next);
        let old = std::mem::replace(&mut self.current, next.clone());
        if Arc::ptr_eq(&old.store, &next.store) {
            self.retired.push_back((self.version, old));
        }
        self.version = version;
        Ok(next)
    }

    /// Returns to the free lists the ranges no reader can be in any more.
    fn reclaim(&mut self) {
        while self
            .retired
            .front()
            .is_some_and(|(_, t)| Arc::strong_count(t) == 1)
        {
            self.retired.pop_front();
        }
        let oldest_held = self.retired.front().map_or(self.version, |(v, _)| *v);
        while let Some(&(v, extent)) = self.limbo.front() {
            if v > oldest_held {
                break;
            }
            self.limbo.pop_front();
            self.nodes_free.release(extent.nodes.0, extent.nodes.1);
            self.leaves_free.release(extent.leaves.0, extent.leaves.1);
        }
    }

    /// Rebuilds the slots covered by `slots` ((first, count), sorted) in place; `None` when
    /// the free space runs out or a leaf value does not fit the cells (the slots written so
    /// far are consistent, the rest are not yet updated: the caller builds afresh).
    fn rewrite_slots(&mut self, slots: &[(usize, usize)], version: u64) -> Option<()> {
        let s = F::DIRECT_BITS;
        let store = self.current.store.clone();
        let mut queue = Queue::new();
        let mut nodes: Vec<NodeBits> = Vec::new();
        let mut leaves: Vec<u16> = Vec::new();
        let mut done_upto = 0usize;
        for &(first, n) in slots {
            for slot in first.max(done_upto)..first + n {
                nodes.clear();
                leaves.clear();
                let mut entry = self
                    .trie
                    .slot_entry(slot, s, &mut nodes, &mut leaves, &mut queue);
                let mut extent = None;
                if entry & NODE != 0 {
                    // A value the leaf cells cannot hold (above 255 in one-byte leaves): the
                    // caller builds afresh, with two-byte leaves.
                    if !leaves.iter().all(|v| store.leaves.fits(*v)) {
                        return None;
                    }
                    let (nl, ll) = (nodes.len() as u32, leaves.len() as u32);
                    let na = self.nodes_free.alloc(nl)?;
                    let Some(la) = self.leaves_free.alloc(ll) else {
                        self.nodes_free.release(na, nl);
                        return None;
                    };
                    for (k, v) in leaves.iter().enumerate() {
                        store.leaves.set(la as usize + k, *v);
                    }
                    for (k, b) in nodes.iter().enumerate() {
                        let mut b = *b;
                        if b.vector != 0 {
                            b.base1 += na;
                        }
                        if b.leafvec != 0 {
                            b.base0 += la;
                        }
                        store.nodes[na as usize + k].store(b);
                    }
                    entry = NODE | ((entry & !NODE) + na);
                    extent = Some(Extent {
                        nodes: (na, nl),
                        leaves: (la, ll),
                    });
                }
                // The subtree is complete: make it reachable.
                store.direct[slot].store(entry, Release);
                let old = match extent {
                    Some(e) => self.extents.insert(slot as u32, e),
                    None => self.extents.remove(&(slot as u32)),
                };
                if let Some(old) = old {
                    self.limbo.push_back((version, old));
                }
            }
            done_upto = done_upto.max(first + n);
        }
        Some(())
    }
}

/// What setting a prefix's value did to the set of prefixes.
enum Presence {
    Added,
    Removed,
    Same,
}

impl BinaryTrie {
    /// Sets (or clears, with `NONE`) the value of a prefix, creating its path.
    fn set<F: Family>(&mut self, p: &Prefix<F>, v: u16) -> Presence {
        let mut n = 0u32;
        for depth in 0..u32::from(p.len()) {
            let b = F::chunk(p.bits(), depth, 1);
            let c = self.child[n as usize][b];
            n = if c == NIL {
                if v == NONE {
                    return Presence::Same;
                }
                let m = self.node();
                self.child[n as usize][b] = m;
                m
            } else {
                c
            };
        }
        let was = self.value[n as usize] != NONE;
        self.value[n as usize] = v;
        match (was, v != NONE) {
            (false, true) => Presence::Added,
            (true, false) => Presence::Removed,
            _ => Presence::Same,
        }
    }

    /// The direct entry for `slot`: walks the trie along the slot's bits, then returns the
    /// leaf value or builds the slot's subtree (appending to `nodes` and `leaves`, its root
    /// first) and returns `NODE |` the root's index.
    fn slot_entry(
        &self,
        slot: usize,
        s: u32,
        nodes: &mut Vec<NodeBits>,
        leaves: &mut Vec<u16>,
        queue: &mut Queue,
    ) -> u32 {
        let mut n = 0u32;
        let mut inh = NONE;
        for depth in 0..s {
            if self.value[n as usize] != NONE {
                inh = self.value[n as usize];
            }
            let b = (slot >> (s - 1 - depth)) & 1;
            match self.child[n as usize][b] {
                NIL => return u32::from(inh),
                c => n = c,
            }
        }
        let here = match self.value[n as usize] {
            NONE => inh,
            v => v,
        };
        if !self.has_children(n) {
            return u32::from(here);
        }
        nodes.push(NodeBits::default());
        let idx = nodes.len() - 1;
        queue.push_back((idx, n, here));
        self.fill_nodes(nodes, leaves, queue);
        NODE | idx as u32
    }
}

#[cfg(test)]
mod writer_tests {
    use super::*;
    use crate::lpm::{Lpm, ReferenceLpm, V4};
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    fn p24(i: u32) -> Prefix<V4> {
        Prefix::new(Ipv4Addr::from(0x0a00_0000 | (i << 8)), 24)
    }

    /// Prefix `i` only ever has values in `16 i .. 16 i + 16`: a lookup that read a cell of
    /// another subtree, or a reused one, would answer outside that range.
    fn value(i: u32, round: u32) -> u32 {
        16 * i + round % 16
    }

    #[test]
    fn readers_on_another_thread_only_ever_see_values_a_key_had() {
        const N: u32 = 3000;
        let routes: Vec<_> = (0..N).map(|i| (p24(i), value(i, 0))).collect();
        // Little room, so that both reuse from the free lists and fresh builds happen.
        let mut w = PoptrieWriter::<V4>::with_spare(&routes, 64).unwrap();
        let published = Arc::new(arc_swap::ArcSwap::new(w.table()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (published, stop) = (published.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut checked = 0u64;
                let mut out = vec![None; 64];
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let t = published.load();
                    for i in (0..N).step_by(7) {
                        let a = Ipv4Addr::from(0x0a00_0000 | (i << 8) | 9);
                        let keys = [a; 64];
                        t.lookup_batch(&keys[..1 + (i as usize % 64)], &mut out);
                        for got in [t.lookup(a), out[i as usize % 64]] {
                            if let Some(v) = got {
                                assert_eq!(v / 16, i, "{a} answered {v}");
                            }
                            checked += 1;
                        }
                    }
                }
                checked
            })
        };
        let mut model: std::collections::BTreeMap<Prefix<V4>, u32> =
            routes.iter().copied().collect();
        for round in 1..400u32 {
            let updates: Vec<_> = (0..60)
                .map(|k| {
                    let i = (round * 97 + k * 31) % N;
                    if k % 5 == 0 {
                        model.remove(&p24(i));
                        RouteUpdate::Withdraw(p24(i))
                    } else {
                        model.insert(p24(i), value(i, round));
                        RouteUpdate::Announce(p24(i), value(i, round))
                    }
                })
                .collect();
            published.store(w.apply(&updates).unwrap());
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let checked = reader.join().expect("the reader saw only valid values");
        assert!(checked > 0);
        assert!(w.rebuilds() > 0, "the test must exercise fresh builds");
        let t = w.table();
        let r = ReferenceLpm::<V4>::build(&model.into_iter().collect::<Vec<_>>()).unwrap();
        for i in 0..N + 10 {
            let a = Ipv4Addr::from(0x0a00_0000 | (i << 8) | 7);
            assert_eq!(t.lookup(a), r.lookup(a), "{a}");
        }
    }

    #[test]
    fn held_versions_keep_their_cells_from_reuse() {
        // Enough routes that /24s share a direct slot (S = 18: 64 /24s per slot).
        let routes: Vec<_> = (0..100).map(|i| (p24(i), value(i, 0))).collect();
        let mut w = PoptrieWriter::<V4>::new(&routes).unwrap();
        let slot = V4::chunk(p24(5).bits(), 0, V4::DIRECT_BITS) as u32;
        let first = w.extents[&slot];
        let overlaps = |a: (u32, u32), b: (u32, u32)| a.0 < b.0 + b.1 && b.0 < a.0 + a.1;
        let held = w.table();
        for round in 1..20 {
            w.apply(&[RouteUpdate::Announce(p24(5), value(5, round))])
                .unwrap();
            // `held` (version 0) may still be inside the first subtree: its cells stay as
            // they are, and the free space does not grow.
            let now = w.extents[&slot];
            assert!(!overlaps(now.nodes, first.nodes), "round {round}");
            assert!(!overlaps(now.leaves, first.leaves), "round {round}");
        }
        assert_eq!(w.limbo.len(), 19);
        drop(held);
        w.apply(&[]).unwrap();
        assert_eq!(w.limbo.len(), 0);
        let reused = w.apply(&[RouteUpdate::Announce(p24(5), 1)]).is_ok()
            && w.apply(&[RouteUpdate::Announce(p24(5), 2)]).is_ok();
        assert!(reused);
        assert!(w.nodes_free.top as usize <= w.table().store.nodes.len());
    }

    #[test]
    fn a_bad_value_rejects_the_whole_batch() {
        let mut w = PoptrieWriter::<V4>::new(&[(p24(1), 1)]).unwrap();
        let err = w.apply(&[
            RouteUpdate::Announce(p24(2), 2),
            RouteUpdate::Announce(p24(3), 0xFFFF),
        ]);
        assert!(matches!(err, Err(LpmBuildError::ValueTooLarge { .. })));
        assert_eq!(w.table().lookup(Ipv4Addr::new(10, 0, 2, 1)), None);
        assert_eq!(w.table().len(), 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        /// After every batch the writer's table answers like a reference built from scratch.
        #[test]
        fn updates_match_a_rebuild(
            // Values around 255: one-byte leaves with 255 among them at first, then (as a
            // batch announces a value above 255) the fresh build to two-byte leaves.
            initial in prop::collection::vec((any::<u16>(), 0u8..=32, 240u32..256), 0..100),
            batches in prop::collection::vec(prop::collection::vec((any::<bool>(), any::<u16>(), 0u8..=32, 240u32..262), 1..40), 1..6),
            probes in prop::collection::vec(any::<u32>(), 32),
            spare_div in 1usize..64,
        ) {
            let addr = |x: u16| Ipv4Addr::from(0x0a00_0000u32 | (u32::from(x) << 12));
            let mut model: std::collections::BTreeMap<Prefix<V4>, u32> = std::collections::BTreeMap::new();
            for (x, len, v) in initial {
                model.entry(Prefix::new(addr(x), len)).or_insert(v);
            }
            let routes: Vec<_> = model.iter().map(|(p, v)| (*p, *v)).collect();
            let mut w = PoptrieWriter::<V4>::with_spare(&routes, spare_div).unwrap();
            // Every other version stays held, so limbo and reuse are both exercised.
            let mut held = Vec::new();
            for (round, batch) in batches.into_iter().enumerate() {
                let mut updates = Vec::new();
                for (announce, x, len, v) in batch {
                    let p = Prefix::new(addr(x), len);
                    if announce {
                        model.insert(p, v);
                        updates.push(RouteUpdate::Announce(p, v));
                    } else {
                        model.remove(&p);
                        updates.push(RouteUpdate::Withdraw(p));
                    }
                }
                let t = w.apply(&updates).unwrap();
                if round % 2 == 0 {
                    held.push(t.clone());
                } else {
                    held.clear();
                }
                let routes: Vec<_> = model.iter().map(|(p, v)| (*p, *v)).collect();
                let r = ReferenceLpm::<V4>::build(&routes).unwrap();
                prop_assert_eq!(t.len(), routes.len());
                let inside = routes.iter().map(|(p, _)| u32::from(p.addr()) | 1);
                for a in probes.iter().copied().chain(inside).map(Ipv4Addr::from) {
                    prop_assert_eq!(t.lookup(a), r.lookup(a), "{}", a);
                }
            }
        }
    }
}
