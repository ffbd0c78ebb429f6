//! Poptrie: the fast LPM of the data path (Asai & Ohara, "Poptrie: A Compressed Trie with
//! Population Count for Fast and Scalable Software IP Routing Table Lookup", SIGCOMM 2015),
//! built here from scratch for both families.
//!
//! # Structure
//!
//! A lookup first indexes a **direct-pointing array** with the top `S` bits of the address
//! (`S` = 18 for IPv4, 20 for IPv6 on large tables; `S` = log2(prefixes) + 2, at least 8, on
//! small ones, so that a route table of a few dozen routes costs a kilobyte), then descends **6 bits per node** through a multibit trie
//! whose nodes keep their children and leaves in compressed arrays indexed with a population
//! count:
//!
//! ```text
//! direct[2^S]: u32    bit 31 = 1: bits 0..31 index `nodes`; bit 31 = 0: bits 0..16 are the leaf
//!
//! Node (24 bytes, repr(C)):
//!   vector : u64   bit i set: slot i (the next 6 address bits = i) is an internal node
//!   leafvec: u64   bit i set: slot i starts a run of leaf slots with a new value
//!   base0  : u32   index in `leaves` of this node's first leaf
//!   base1  : u32   index in `nodes` of this node's first child; children are contiguous
//!
//! leaves: u16      the value; 0xFFFF = no route
//! ```
//!
//! Slot `i` of a node is its child `nodes[base1 + popcnt(vector & mask(i)) - 1]` when bit `i`
//! of `vector` is set, otherwise the leaf `leaves[base0 + popcnt(leafvec & mask(i)) - 1]`, with
//! `mask(i)` the bits `0..=i`. Leaf compression: consecutive leaf slots with the same value
//! share one entry (runs are counted over leaf slots only; a child node between two slots of
//! the same value does not break the run, which is what keeps the popcount arithmetic right).
//!
//! # Reads per lookup
//!
//! One read of `direct`, then per level one node (24 bytes, one cache line at most) — a leaf at
//! the last level costs one more read in `leaves`. IPv4: prefixes up to /18 resolve in the
//! direct array alone, /19–/24 after 1 node, /25–/30 after 2, /31–/32 after 3. IPv6: /20 in the
//! direct array, /32 after 2 nodes, /48 after 5. [`Poptrie::lookup_batch`] runs several keys in lock step so
//! that their memory reads overlap.
//!
//! # Capacity
//!
//! Values are `u16` below `0xFFFF` (a route table indexes at most 65,535 routes; AWS allows
//! 1,000). At most 2^31 nodes and 2^32 leaves. Memory: `4 × 2^S` bytes of direct array
//! (1 MiB for IPv4, 4 MiB for IPv6 at full size) plus 24 bytes per node and 2 per leaf.
//!
//! # Build
//!
//! From any list of prefixes: a binary trie is built first (each prefix written once), then
//! expanded top-down — the direct array by one expansion of the top `S` levels, each node by an
//! expansion of the 6 levels below it — breadth first, so that the children of a node are
//! allocated contiguously. The structure is immutable once built; changes are published as a
//! new structure (see [`crate::publish`]).

use super::{Family, Lpm, LpmBuildError, Prefix};

/// Bits per node.
const STRIDE: u32 = 6;
/// Leaf value meaning "no route".
const NONE: u16 = 0xFFFF;
/// Direct-array flag for a node index.
const NODE: u32 = 1 << 31;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct Node {
    vector: u64,
    leafvec: u64,
    base0: u32,
    base1: u32,
}

const _: () = assert!(std::mem::size_of::<Node>() == 24);

/// The Poptrie LPM of family `F`.
#[derive(Debug)]
pub struct Poptrie<F: Family> {
    /// Bits resolved by `direct`: `F::DIRECT_BITS` for large tables, fewer for small ones.
    direct_bits: u32,
    direct: Vec<u32>,
    nodes: Vec<Node>,
    leaves: Vec<u16>,
    count: usize,
    _f: std::marker::PhantomData<F>,
}

impl<F: Family> Clone for Poptrie<F> {
    fn clone(&self) -> Self {
        Poptrie {
            direct_bits: self.direct_bits,
            direct: self.direct.clone(),
            nodes: self.nodes.clone(),
            leaves: self.leaves.clone(),
            count: self.count,
            _f: std::marker::PhantomData,
        }
    }

    /// Copies into the existing allocations (what [`PoptrieWriter`] relies on to recycle).
    fn clone_from(&mut self, source: &Self) {
        self.direct_bits = source.direct_bits;
        self.direct.clone_from(&source.direct);
        self.nodes.clone_from(&source.nodes);
        self.leaves.clone_from(&source.leaves);
        self.count = source.count;
    }
}

/// Bits `0..=i` of a 64-bit vector.
#[inline(always)]
fn upto(i: usize) -> u64 {
    u64::MAX >> (63 - i)
}

impl<F: Family> Poptrie<F> {
    /// Number of nodes and leaves (for reports).
    pub fn shape(&self) -> (usize, usize) {
        (self.nodes.len(), self.leaves.len())
    }

    /// One step below a node: `Ok(next node)` or `Err(leaf value)`.
    #[inline(always)]
    fn step(&self, node: &Node, bits: F::Bits, pos: u32) -> Result<usize, u16> {
        let i = F::chunk(bits, pos, STRIDE);
        let bit = 1u64 << i;
        if node.vector & bit != 0 {
            Ok(node.base1 as usize + (node.vector & upto(i)).count_ones() as usize - 1)
        } else {
            Err(self.leaves
                [node.base0 as usize + (node.leafvec & upto(i)).count_ones() as usize - 1])
        }
    }

    #[inline(always)]
    fn lookup_bits(&self, bits: F::Bits) -> u16 {
        let d = self.direct[F::chunk(bits, 0, self.direct_bits)];
        if d & NODE == 0 {
            return d as u16;
        }
        let mut n = (d & !NODE) as usize;
        let mut pos = self.direct_bits;
        loop {
            match self.step(&self.nodes[n], bits, pos) {
                Ok(next) => {
                    n = next;
                    pos += STRIDE;
                }
                Err(leaf) => return leaf,
            }
        }
    }

    /// Looks up `addrs` in lock step, 32 at a time, writing each value (or `None`) to `out`
    /// (which must be at least as long). Each stage issues the next memory read of every key
    /// of the group as a prefetch before using any of them — direct entries, then each level's
    /// nodes, then leaves — so that up to 32 reads are in flight instead of one.
    pub fn lookup_batch(&self, addrs: &[F::Addr], out: &mut [Option<u32>]) {
        const LANES: usize = 32;
        assert!(out.len() >= addrs.len(), "output shorter than input");
        for (keys, res) in addrs.chunks(LANES).zip(out.chunks_mut(LANES)) {
            let n = keys.len();
            let mut bits = [F::to_bits(keys[0]); LANES];
            let mut at = [0usize; LANES];
            let value = |v: u16| (v != NONE).then_some(u32::from(v));
            for k in 0..n {
                bits[k] = F::to_bits(keys[k]);
                at[k] = F::chunk(bits[k], 0, self.direct_bits);
                prefetch(&self.direct[at[k]]);
            }
            // Lanes whose `at` is a node index, and lanes whose `at` is a leaf index.
            let mut in_node: u32 = 0;
            let mut in_leaf: u32 = 0;
            for k in 0..n {
                let d = self.direct[at[k]];
                if d & NODE == 0 {
                    res[k] = value(d as u16);
                } else {
                    at[k] = (d & !NODE) as usize;
                    prefetch(&self.nodes[at[k]]);
                    in_node |= 1 << k;
                }
            }
            let mut pos = self.direct_bits;
            while in_node != 0 {
                let mut lanes = in_node;
                in_node = 0;
                while lanes != 0 {
                    let k = lanes.trailing_zeros() as usize;
                    lanes &= lanes - 1;
                    let node = &self.nodes[at[k]];
                    let i = F::chunk(bits[k], pos, STRIDE);
                    if node.vector & (1u64 << i) != 0 {
                        at[k] =
                            node.base1 as usize + (node.vector & upto(i)).count_ones() as usize - 1;
                        prefetch(&self.nodes[at[k]]);
                        in_node |= 1 << k;
                    } else {
                        at[k] = node.base0 as usize
                            + (node.leafvec & upto(i)).count_ones() as usize
                            - 1;
                        prefetch(&self.leaves[at[k]]);
                        in_leaf |= 1 << k;
                    }
                }
                pos += STRIDE;
            }
            while in_leaf != 0 {
                let k = in_leaf.trailing_zeros() as usize;
                in_leaf &= in_leaf - 1;
                res[k] = value(self.leaves[at[k]]);
            }
        }
    }
}

/// Asks the CPU to start loading the cache line of `r`.
#[inline(always)]
fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: a prefetch is a hint that never faults and never changes memory or program
    // state; `r` is a valid reference anyway. Lookups with and without it are compared against
    // the reference LPM by the differential tests below.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (r as *const T).cast(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

impl<F: Family> Lpm<F> for Poptrie<F> {
    fn build(routes: &[(Prefix<F>, u32)]) -> Result<Self, LpmBuildError> {
        let mut trie = BinaryTrie::default();
        for (p, v) in routes {
            if *v >= u32::from(NONE) {
                return Err(LpmBuildError::ValueTooLarge {
                    prefix: p.to_string(),
                    value: *v,
                    max: u32::from(NONE) - 1,
                });
            }
            if !trie.insert::<F>(p, *v as u16) {
                return Err(LpmBuildError::Duplicate(p.to_string()));
            }
        }
        // A direct array sized to the table: a route table of a few dozen routes gets 1 KiB,
        // a full BGP table the whole `F::DIRECT_BITS`.
        let want = usize::BITS - routes.len().leading_zeros() + 2;
        let direct_bits = want.clamp(8, F::DIRECT_BITS);
        Ok(trie.compile::<F>(routes.len(), direct_bits))
    }

    #[inline]
    fn lookup(&self, addr: F::Addr) -> Option<u32> {
        let v = self.lookup_bits(F::to_bits(addr));
        (v != NONE).then_some(u32::from(v))
    }

    fn len(&self) -> usize {
        self.count
    }

    fn memory_bytes(&self) -> usize {
        self.direct.len() * 4
            + self.nodes.len() * std::mem::size_of::<Node>()
            + self.leaves.len() * 2
    }
}

/// The build's intermediate binary trie: node 0 is the root.
#[derive(Default, Clone)]
struct BinaryTrie {
    child: Vec<[u32; 2]>,
    value: Vec<u16>,
}

const NIL: u32 = 0;

/// What one slot of an expansion holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Leaf(u16),
    /// The binary node at the slot's depth (which has children) and the value inherited there.
    Node(u32, u16),
}

impl BinaryTrie {
    fn node(&mut self) -> u32 {
        self.child.push([NIL, NIL]);
        self.value.push(NONE);
        (self.child.len() - 1) as u32
    }

    /// Inserts; false if the prefix was already there.
    fn insert<F: Family>(&mut self, p: &Prefix<F>, v: u16) -> bool {
        if self.child.is_empty() {
            self.node();
        }
        let mut n = 0u32;
        for depth in 0..u32::from(p.len()) {
            let b = F::chunk(p.bits(), depth, 1);
            let c = self.child[n as usize][b];
            n = if c == NIL {
                let m = self.node();
                self.child[n as usize][b] = m;
                m
            } else {
                c
            };
        }
        if self.value[n as usize] != NONE {
            return false;
        }
        self.value[n as usize] = v;
        true
    }

    fn has_children(&self, n: u32) -> bool {
        let c = self.child[n as usize];
        c[0] != NIL || c[1] != NIL
    }

    /// Fills `out` (2^levels slots) with the expansion of `n` over `levels` levels, `n` having
    /// `inherited` as the best value above it.
    fn expand(&self, n: u32, inherited: u16, levels: u32, out: &mut [Slot]) {
        let here = match self.value[n as usize] {
            NONE => inherited,
            v => v,
        };
        if levels == 0 {
            out[0] = if self.has_children(n) {
                Slot::Node(n, here)
            } else {
                Slot::Leaf(here)
            };
            return;
        }
        let half = out.len() / 2;
        let (lo, hi) = out.split_at_mut(half);
        for (c, part) in [(0usize, lo), (1, hi)] {
            match self.child[n as usize][c] {
                NIL => part.fill(Slot::Leaf(here)),
                m => self.expand(m, here, levels - 1, part),
            }
        }
    }

    fn compile<F: Family>(self, count: usize, direct_bits: u32) -> Poptrie<F> {
        let mut t = Poptrie {
            direct_bits,
            direct: Vec::new(),
            nodes: Vec::new(),
            leaves: Vec::new(),
            count,
            _f: std::marker::PhantomData,
        };
        let s = direct_bits;
        let mut top = vec![Slot::Leaf(NONE); 1 << s];
        if !self.child.is_empty() {
            self.expand(0, NONE, s, &mut top);
        }
        // Nodes to fill, breadth first: (index in `nodes`, binary node, inherited value).
        let mut queue: std::collections::VecDeque<(usize, u32, u16)> =
            std::collections::VecDeque::new();
        t.direct = top
            .iter()
            .map(|slot| match *slot {
                Slot::Leaf(v) => u32::from(v),
                Slot::Node(n, inh) => {
                    t.nodes.push(Node::default());
                    let idx = t.nodes.len() - 1;
                    queue.push_back((idx, n, inh));
                    NODE | idx as u32
                }
            })
            .collect();
        self.fill_nodes(&mut t, &mut queue);
        t.nodes.shrink_to_fit();
        t.leaves.shrink_to_fit();
        t
    }

    /// Builds the nodes in `queue` (index in `t.nodes`, binary node, inherited value) and,
    /// breadth first, everything below them, appending to `t.nodes` and `t.leaves`.
    fn fill_nodes<F: Family>(
        &self,
        t: &mut Poptrie<F>,
        queue: &mut std::collections::VecDeque<(usize, u32, u16)>,
    ) {
        let mut slots = [Slot::Leaf(NONE); 64];
        while let Some((idx, n, inh)) = queue.pop_front() {
            // The 6 levels below binary node `n` (its own value is already in `inh`).
            let here = match self.value[n as usize] {
                NONE => inh,
                v => v,
            };
            let half = 32;
            for (c, range) in [(0usize, 0..half), (1, half..64)] {
                match self.child[n as usize][c] {
                    NIL => slots[range].fill(Slot::Leaf(here)),
                    m => self.expand(m, here, STRIDE - 1, &mut slots[range]),
                }
            }
            let mut node = Node {
                base0: t.leaves.len() as u32,
                base1: t.nodes.len() as u32,
                ..Node::default()
            };
            let mut last_leaf: Option<u16> = None;
            for (i, slot) in slots.iter().enumerate() {
                match *slot {
                    Slot::Node(m, v) => {
                        node.vector |= 1 << i;
                        t.nodes.push(Node::default());
                        queue.push_back((t.nodes.len() - 1, m, v));
                    }
                    Slot::Leaf(v) => {
                        if last_leaf != Some(v) {
                            node.leafvec |= 1 << i;
                            t.leaves.push(v);
                            last_leaf = Some(v);
                        }
                    }
                }
            }
            if node.leafvec == 0 {
                node.base0 = 0;
            }
            t.nodes[idx] = node;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ReferenceLpm, V4, V6};
    use super::*;
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

    proptest! {
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
}

/// A background compaction: the thread building the new table, and the direct slots changed
/// since it started (to be rebuilt on its result).
type Compaction<F> = (std::thread::JoinHandle<Poptrie<F>>, Vec<(usize, usize)>);

/// A route change for [`PoptrieWriter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteUpdate<F: Family> {
    /// Add the prefix, or change its value.
    Announce(Prefix<F>, u32),
    /// Remove the prefix (a no-op if absent).
    Withdraw(Prefix<F>),
}

/// Applies route changes and produces new immutable tables, for readers that never wait.
///
/// The writer keeps the binary trie the table was built from. A batch of updates changes the
/// trie, then copies the current table (a `memcpy` of a few MiB) and rebuilds only the
/// direct-array slots the updated prefixes cover — one slot for a prefix longer than `S` bits,
/// `2^(S - len)` for a shorter one — appending their new nodes and leaves; the old ones become
/// unreachable. When unreachable nodes outnumber live ones, a background thread rebuilds the
/// table from a copy of the trie (compaction) while batches go on; the batch that finds it done
/// replays onto it the slots changed meanwhile and publishes it. Every result is published
/// whole (an `Arc` swap), so a reader sees the table before or after a batch, never a mix.
#[derive(Debug)]
pub struct PoptrieWriter<F: Family> {
    trie: BinaryTrie,
    current: std::sync::Arc<Poptrie<F>>,
    /// Nodes reachable after the last full build, to decide when to compact.
    live_nodes: usize,
    /// Published tables that readers may still hold; once only this list holds one, its
    /// memory is reused for a later batch (no fresh mapping, no page faults, no unmapping —
    /// which would interrupt the readers' cores with TLB shootdowns).
    retired: Vec<std::sync::Arc<Poptrie<F>>>,
    /// A compaction running in the background, and the slots changed since it started.
    compaction: Option<Compaction<F>>,
    /// Unreachable nodes tolerated beyond the live ones before compacting.
    compaction_slack: usize,
}

impl std::fmt::Debug for BinaryTrie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BinaryTrie({} nodes)", self.child.len())
    }
}

impl<F: Family> PoptrieWriter<F> {
    /// Builds the first table from `routes`, with the full `F::DIRECT_BITS` direct array.
    pub fn new(routes: &[(Prefix<F>, u32)]) -> Result<Self, LpmBuildError> {
        let mut trie = BinaryTrie::default();
        trie.node();
        for (p, v) in routes {
            check_value(p, *v)?;
            if !trie.insert::<F>(p, *v as u16) {
                return Err(LpmBuildError::Duplicate(p.to_string()));
            }
        }
        let table = trie.compile_ref::<F>(routes.len(), F::DIRECT_BITS);
        Ok(PoptrieWriter {
            live_nodes: table.nodes.len(),
            current: std::sync::Arc::new(table),
            trie,
            retired: Vec::new(),
            compaction: None,
            compaction_slack: 4096,
        })
    }

    /// Waits for a running compaction to finish (the next batch then publishes it). For
    /// tests and orderly shutdown.
    pub fn settle(&self) {
        while self
            .compaction
            .as_ref()
            .is_some_and(|(h, _)| !h.is_finished())
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Whether a compaction is running.
    pub fn compacting(&self) -> bool {
        self.compaction.is_some()
    }

    /// The table as of the last batch.
    pub fn table(&self) -> std::sync::Arc<Poptrie<F>> {
        self.current.clone()
    }

    /// Applies `updates` in order and returns the new table (also kept as current).
    pub fn apply(
        &mut self,
        updates: &[RouteUpdate<F>],
    ) -> Result<std::sync::Arc<Poptrie<F>>, LpmBuildError> {
        let s = F::DIRECT_BITS;
        let mut count = self.current.count;
        let mut slots: Vec<(usize, usize)> = Vec::with_capacity(updates.len());
        for u in updates {
            let p = match u {
                RouteUpdate::Announce(p, v) => {
                    check_value(p, *v)?;
                    if self.trie.set::<F>(p, *v as u16) {
                        count += 1;
                    }
                    p
                }
                RouteUpdate::Withdraw(p) => {
                    if self.trie.set::<F>(p, NONE) {
                        count -= 1;
                    }
                    p
                }
            };
            let first = F::chunk(p.bits(), 0, s);
            let n = if u32::from(p.len()) >= s {
                1
            } else {
                1usize << (s - u32::from(p.len()))
            };
            slots.push((first, n));
        }
        // Reuse the memory of a retired table no reader holds any more, if there is one.
        let spare = self
            .retired
            .iter()
            .position(|t| std::sync::Arc::strong_count(t) == 1)
            .and_then(|i| std::sync::Arc::try_unwrap(self.retired.swap_remove(i)).ok());
        let mut next: Poptrie<F> = match spare {
            Some(mut t) => {
                t.clone_from(&self.current);
                t
            }
            None => (*self.current).clone(),
        };
        next.count = count;
        slots.sort_unstable();
        if let Some((_, touched)) = &mut self.compaction {
            touched.extend_from_slice(&slots);
        }
        let finished = self
            .compaction
            .as_ref()
            .is_some_and(|(h, _)| h.is_finished());
        if finished {
            // The compacted table was built from the trie as it was when the compaction
            // started; rebuild on it the slots changed since, from the trie as it is now.
            let (handle, mut touched) = self.compaction.take().expect("checked above");
            if let Ok(mut compacted) = handle.join() {
                self.live_nodes = compacted.nodes.len();
                touched.sort_unstable();
                self.trie.rebuild_slots(&mut compacted, &touched, s);
                compacted.count = count;
                next = compacted;
            } else {
                self.trie.rebuild_slots(&mut next, &slots, s);
            }
        } else {
            self.trie.rebuild_slots(&mut next, &slots, s);
            if self.compaction.is_none()
                && next.nodes.len() > 2 * self.live_nodes + self.compaction_slack
            {
                // Unreachable nodes outnumber live ones: rebuild from scratch, off this thread,
                // from a copy of the trie; batches go on meanwhile.
                let trie = self.trie.clone();
                let handle = std::thread::spawn(move || trie.compile_ref::<F>(count, s));
                self.compaction = Some((handle, Vec::new()));
            }
        }
        let next = std::sync::Arc::new(next);
        let old = std::mem::replace(&mut self.current, next.clone());
        self.retired.push(old);
        // Readers that never let go must not make the list grow without bound.
        if self.retired.len() > 8 {
            self.retired.remove(0);
        }
        Ok(next)
    }
}

fn check_value<F: Family>(p: &Prefix<F>, v: u32) -> Result<(), LpmBuildError> {
    if v >= u32::from(NONE) {
        return Err(LpmBuildError::ValueTooLarge {
            prefix: p.to_string(),
            value: v,
            max: u32::from(NONE) - 1,
        });
    }
    Ok(())
}

impl BinaryTrie {
    /// Sets (or clears, with `NONE`) the value of a prefix, creating its path; returns whether
    /// the prefix's presence changed (added or removed).
    fn set<F: Family>(&mut self, p: &Prefix<F>, v: u16) -> bool {
        let mut n = 0u32;
        for depth in 0..u32::from(p.len()) {
            let b = F::chunk(p.bits(), depth, 1);
            let c = self.child[n as usize][b];
            n = if c == NIL {
                if v == NONE {
                    return false;
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
        was != (v != NONE)
    }

    /// Rebuilds the direct slots covered by `slots` ((first, count), sorted) in `t`.
    fn rebuild_slots<F: Family>(&self, t: &mut Poptrie<F>, slots: &[(usize, usize)], s: u32) {
        let mut done_upto = 0usize;
        let mut queue = std::collections::VecDeque::new();
        for &(first, n) in slots {
            for slot in first.max(done_upto)..first + n {
                t.direct[slot] = self.rebuild_slot(t, slot, s, &mut queue);
            }
            done_upto = done_upto.max(first + n);
        }
    }

    /// `compile` without consuming the trie.
    fn compile_ref<F: Family>(&self, count: usize, direct_bits: u32) -> Poptrie<F> {
        let mut t = Poptrie {
            direct_bits,
            direct: vec![u32::from(NONE); 1 << direct_bits],
            nodes: Vec::new(),
            leaves: Vec::new(),
            count,
            _f: std::marker::PhantomData,
        };
        let mut queue = std::collections::VecDeque::new();
        for slot in 0..t.direct.len() {
            t.direct[slot] = self.rebuild_slot(&mut t, slot, direct_bits, &mut queue);
        }
        t
    }

    /// The direct entry for `slot`: walks the trie along the slot's bits, then returns the
    /// leaf value or builds the slot's subtree (appending to `t`) and returns its node index.
    fn rebuild_slot<F: Family>(
        &self,
        t: &mut Poptrie<F>,
        slot: usize,
        s: u32,
        queue: &mut std::collections::VecDeque<(usize, u32, u16)>,
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
        t.nodes.push(Node::default());
        let idx = t.nodes.len() - 1;
        queue.push_back((idx, n, here));
        self.fill_nodes(t, queue);
        NODE | idx as u32
    }
}

#[cfg(test)]
mod writer_tests {
    use super::super::{ReferenceLpm, V4};
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    #[test]
    fn background_compaction_is_published_with_the_changes_made_meanwhile() {
        let p = |i: u32, len: u8| Prefix::<V4>::new(Ipv4Addr::from(0x0a00_0000 | (i << 8)), len);
        let mut model: std::collections::BTreeMap<Prefix<V4>, u32> =
            (0..2000).map(|i| (p(i, 24), i % 100)).collect();
        let routes: Vec<_> = model.iter().map(|(p, v)| (*p, *v)).collect();
        let mut w = PoptrieWriter::<V4>::new(&routes).unwrap();
        w.compaction_slack = 0;
        let mut saw_compaction = false;
        for round in 0..40u32 {
            let updates: Vec<_> = (0..200)
                .map(|k| {
                    let q = p((round * 37 + k * 11) % 2500, 24);
                    if k % 3 == 0 {
                        model.remove(&q);
                        RouteUpdate::Withdraw(q)
                    } else {
                        model.insert(q, (round + k) % 100);
                        RouteUpdate::Announce(q, (round + k) % 100)
                    }
                })
                .collect();
            let t = w.apply(&updates).unwrap();
            saw_compaction |= w.compacting();
            let r =
                ReferenceLpm::<V4>::build(&model.iter().map(|(p, v)| (*p, *v)).collect::<Vec<_>>())
                    .unwrap();
            for i in 0..2600u32 {
                let a = Ipv4Addr::from(0x0a00_0000 | (i << 8) | 7);
                assert_eq!(t.lookup(a), r.lookup(a), "round {round} {a}");
            }
            if round % 5 == 4 {
                w.settle();
            }
        }
        assert!(saw_compaction, "the test must exercise compaction");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        /// After every batch the writer's table answers like a reference built from scratch.
        #[test]
        fn updates_match_a_rebuild(
            initial in prop::collection::vec((any::<u16>(), 0u8..=32, 0u32..50), 0..100),
            batches in prop::collection::vec(prop::collection::vec((any::<bool>(), any::<u16>(), 0u8..=32, 0u32..50), 1..40), 1..6),
            probes in prop::collection::vec(any::<u32>(), 32),
        ) {
            let addr = |x: u16| Ipv4Addr::from(0x0a00_0000u32 | (u32::from(x) << 12));
            let mut model: std::collections::BTreeMap<Prefix<V4>, u32> = std::collections::BTreeMap::new();
            for (x, len, v) in initial {
                model.entry(Prefix::new(addr(x), len)).or_insert(v);
            }
            let routes: Vec<_> = model.iter().map(|(p, v)| (*p, *v)).collect();
            let mut w = PoptrieWriter::<V4>::new(&routes).unwrap();
            // Compact at the slightest garbage, so that background compactions (and the
            // replay of the slots changed meanwhile) are exercised too.
            w.compaction_slack = 0;
            for (round, batch) in batches.into_iter().enumerate() {
                if round % 2 == 1 {
                    w.settle();
                }
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
