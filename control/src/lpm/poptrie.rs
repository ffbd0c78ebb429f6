//! Poptrie: the fast LPM of the data path (Asai & Ohara, "Poptrie: A Compressed Trie with
//! Population Count for Fast and Scalable Software IP Routing Table Lookup", SIGCOMM 2015),
//! built here from scratch for both families, with in-place updates under running readers.
//!
//! # Structure
//!
//! A lookup first indexes a **direct-pointing array** with the top `S` bits of the address
//! (`S` = 18 for IPv4, 20 for IPv6 on large tables; `S` = log2(prefixes) + 2, at least 8, on
//! small ones, so that a route table of a few dozen routes costs a kilobyte), then descends
//! **6 bits per node** through a multibit trie whose nodes keep their children and leaves in
//! compressed arrays indexed with a population count:
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
//! direct array, /32 after 2 nodes, /48 after 5. [`Poptrie::lookup_batch`] runs several keys in
//! lock step so that their memory reads overlap.
//!
//! # Capacity
//!
//! Values are `u16` below `0xFFFF` (a route table indexes at most 65,535 routes; AWS allows
//! 1,000). At most 2^31 nodes and 2^32 leaves. Memory: `4 × 2^S` bytes of direct array
//! (1 MiB for IPv4, 4 MiB for IPv6 at full size) plus 24 bytes per node and 2 per leaf; a table
//! kept by a [`PoptrieWriter`] has room for half as many nodes and leaves again.
//!
//! # Build
//!
//! From any list of prefixes: a binary trie is built first (each prefix written once), then
//! expanded top-down — the direct array by one expansion of the top `S` levels, each node by an
//! expansion of the 6 levels below it — breadth first, so that the children of a node are
//! allocated contiguously.
//!
//! # Updates while readers run
//!
//! Every direct slot's subtree occupies one contiguous range of `nodes` and one of `leaves`.
//! [`PoptrieWriter`] changes a table in place, slot by slot, in an order that lets readers go on
//! without a lock, a retry or a torn read (all cells are atomics; on x86-64 every load and store
//! below is a plain `mov`):
//!
//! 1. build the slot's new subtree aside, in scratch vectors;
//! 2. take a free node range and a free leaf range of its size, write the nodes and leaves
//!    there (relaxed stores: no reader can reach those cells);
//! 3. store the slot's direct entry with `Release` — readers load it with `Acquire`, so a
//!    reader that sees the new entry sees the whole new subtree;
//! 4. the old ranges go to a *limbo* list tagged with the batch's version number; they return
//!    to the free lists only when every handle ([`Poptrie`]) of an earlier version has been
//!    dropped — a reader that could still be inside the old subtree holds such a handle.
//!
//! A reader therefore sees each slot before or after a batch, never half-built; a batch as a
//! whole is not atomic across slots (like DPDK's `rte_fib`, unlike a whole-table swap). When the
//! free space runs out, the writer builds a fresh table with more room and publishes it as a
//! new storage; readers holding the old one keep it alive until they let go.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{
    AtomicU16, AtomicU32, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::Arc;

use super::{Family, Lpm, LpmBuildError, Prefix};

/// Bits per node.
const STRIDE: u32 = 6;
/// Leaf value meaning "no route".
const NONE: u16 = 0xFFFF;
/// Direct-array flag for a node index.
const NODE: u32 = 1 << 31;

/// A node as the builder computes it.
#[derive(Debug, Clone, Copy, Default)]
struct NodeBits {
    vector: u64,
    leafvec: u64,
    base0: u32,
    base1: u32,
}

/// A node as stored, shared with readers (layout in the module documentation).
#[repr(C)]
#[derive(Debug, Default)]
struct Node {
    vector: AtomicU64,
    leafvec: AtomicU64,
    base0: AtomicU32,
    base1: AtomicU32,
}

const _: () = assert!(std::mem::size_of::<Node>() == 24);

impl Node {
    fn from_bits(b: NodeBits) -> Node {
        let n = Node::default();
        n.store(b);
        n
    }

    /// Writes the node; only ever done while no reader can reach it.
    fn store(&self, b: NodeBits) {
        self.vector.store(b.vector, Relaxed);
        self.leafvec.store(b.leafvec, Relaxed);
        self.base0.store(b.base0, Relaxed);
        self.base1.store(b.base1, Relaxed);
    }

    fn bits(&self) -> NodeBits {
        NodeBits {
            vector: self.vector.load(Relaxed),
            leafvec: self.leafvec.load(Relaxed),
            base0: self.base0.load(Relaxed),
            base1: self.base1.load(Relaxed),
        }
    }
}

/// The cells readers look up in: shared by every version a writer publishes.
#[derive(Debug)]
struct Storage {
    direct: Box<[AtomicU32]>,
    nodes: Box<[Node]>,
    leaves: Box<[AtomicU16]>,
}

/// A table as built, before it is shared.
#[derive(Debug, Default)]
struct Plain {
    direct: Vec<u32>,
    nodes: Vec<NodeBits>,
    leaves: Vec<u16>,
}

impl Plain {
    /// Moves into shared cells, with room for `spare_nodes` and `spare_leaves` more.
    fn into_storage(self, spare_nodes: usize, spare_leaves: usize) -> Storage {
        Storage {
            direct: self.direct.into_iter().map(AtomicU32::new).collect(),
            nodes: self
                .nodes
                .into_iter()
                .map(Node::from_bits)
                .chain(std::iter::repeat_with(Node::default).take(spare_nodes))
                .collect(),
            leaves: self
                .leaves
                .into_iter()
                .chain(std::iter::repeat_n(NONE, spare_leaves))
                .map(AtomicU16::new)
                .collect(),
        }
    }
}

/// The Poptrie LPM of family `F`: a handle on one version of the table.
///
/// A table from [`Lpm::build`] never changes. A table from a [`PoptrieWriter`] shares its
/// cells with the writer's later versions; holding the handle is what keeps the cells this
/// version can reach from being reused (see the module documentation).
#[derive(Debug)]
pub struct Poptrie<F: Family> {
    /// Bits resolved by `direct`: `F::DIRECT_BITS` for large tables, fewer for small ones.
    direct_bits: u32,
    store: Arc<Storage>,
    count: usize,
    /// Nodes and leaves in use when this version was published.
    used: (usize, usize),
    _f: std::marker::PhantomData<F>,
}

impl<F: Family> Clone for Poptrie<F> {
    /// A deep copy: the clone never changes, whatever the writer of `self` does next.
    fn clone(&self) -> Self {
        let s = &self.store;
        let plain = Plain {
            direct: s.direct.iter().map(|d| d.load(Acquire)).collect(),
            nodes: s.nodes.iter().map(Node::bits).collect(),
            leaves: s.leaves.iter().map(|l| l.load(Relaxed)).collect(),
        };
        Poptrie {
            direct_bits: self.direct_bits,
            store: Arc::new(plain.into_storage(0, 0)),
            count: self.count,
            used: self.used,
            _f: std::marker::PhantomData,
        }
    }
}

/// Bits `0..=i` of a 64-bit vector.
#[inline(always)]
fn upto(i: usize) -> u64 {
    u64::MAX >> (63 - i)
}

impl<F: Family> Poptrie<F> {
    fn from_plain(plain: Plain, direct_bits: u32, count: usize, spare: (usize, usize)) -> Self {
        let used = (plain.nodes.len(), plain.leaves.len());
        Poptrie {
            direct_bits,
            store: Arc::new(plain.into_storage(spare.0, spare.1)),
            count,
            used,
            _f: std::marker::PhantomData,
        }
    }

    /// Number of nodes and leaves in use (for reports).
    pub fn shape(&self) -> (usize, usize) {
        self.used
    }

    #[inline(always)]
    fn lookup_bits(&self, bits: F::Bits) -> u16 {
        let s = &*self.store;
        let d = s.direct[F::chunk(bits, 0, self.direct_bits)].load(Acquire);
        if d & NODE == 0 {
            return d as u16;
        }
        let mut n = (d & !NODE) as usize;
        let mut pos = self.direct_bits;
        loop {
            let node = &s.nodes[n];
            let i = F::chunk(bits, pos, STRIDE);
            let vector = node.vector.load(Relaxed);
            if vector & (1u64 << i) != 0 {
                let base1 = node.base1.load(Relaxed) as usize;
                n = base1 + (vector & upto(i)).count_ones() as usize - 1;
                pos += STRIDE;
            } else {
                let base0 = node.base0.load(Relaxed) as usize;
                let rank = (node.leafvec.load(Relaxed) & upto(i)).count_ones() as usize;
                return s.leaves[base0 + rank - 1].load(Relaxed);
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
        let s = &*self.store;
        for (keys, res) in addrs.chunks(LANES).zip(out.chunks_mut(LANES)) {
            let n = keys.len();
            let mut bits = [F::to_bits(keys[0]); LANES];
            let mut at = [0usize; LANES];
            let value = |v: u16| (v != NONE).then_some(u32::from(v));
            for k in 0..n {
                bits[k] = F::to_bits(keys[k]);
                at[k] = F::chunk(bits[k], 0, self.direct_bits);
                prefetch(&s.direct[at[k]]);
            }
            // Lanes whose `at` is a node index, and lanes whose `at` is a leaf index.
            let mut in_node: u32 = 0;
            let mut in_leaf: u32 = 0;
            for k in 0..n {
                let d = s.direct[at[k]].load(Acquire);
                if d & NODE == 0 {
                    res[k] = value(d as u16);
                } else {
                    at[k] = (d & !NODE) as usize;
                    prefetch(&s.nodes[at[k]]);
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
                    let node = &s.nodes[at[k]];
                    let i = F::chunk(bits[k], pos, STRIDE);
                    let vector = node.vector.load(Relaxed);
                    if vector & (1u64 << i) != 0 {
                        let base1 = node.base1.load(Relaxed) as usize;
                        at[k] = base1 + (vector & upto(i)).count_ones() as usize - 1;
                        prefetch(&s.nodes[at[k]]);
                        in_node |= 1 << k;
                    } else {
                        let base0 = node.base0.load(Relaxed) as usize;
                        let rank = (node.leafvec.load(Relaxed) & upto(i)).count_ones() as usize;
                        at[k] = base0 + rank - 1;
                        prefetch(&s.leaves[at[k]]);
                        in_leaf |= 1 << k;
                    }
                }
                pos += STRIDE;
            }
            while in_leaf != 0 {
                let k = in_leaf.trailing_zeros() as usize;
                in_leaf &= in_leaf - 1;
                res[k] = value(s.leaves[at[k]].load(Relaxed));
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
            check_value(p, *v)?;
            if !trie.insert::<F>(p, *v as u16) {
                return Err(LpmBuildError::Duplicate(p.to_string()));
            }
        }
        // A direct array sized to the table: a route table of a few dozen routes gets 1 KiB,
        // a full BGP table the whole `F::DIRECT_BITS`.
        let want = usize::BITS - routes.len().leading_zeros() + 2;
        let direct_bits = want.clamp(8, F::DIRECT_BITS);
        let plain = trie.compile(direct_bits);
        Ok(Poptrie::from_plain(
            plain,
            direct_bits,
            routes.len(),
            (0, 0),
        ))
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
        self.store.direct.len() * 4
            + self.store.nodes.len() * std::mem::size_of::<Node>()
            + self.store.leaves.len() * 2
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

/// Nodes to fill, breadth first: (index in the node vector, binary node, inherited value).
type Queue = VecDeque<(usize, u32, u16)>;

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

    /// The whole table, level by level: every first-level node, then every second-level node…
    fn compile(self, direct_bits: u32) -> Plain {
        let mut t = Plain::default();
        let s = direct_bits;
        let mut top = vec![Slot::Leaf(NONE); 1 << s];
        if !self.child.is_empty() {
            self.expand(0, NONE, s, &mut top);
        }
        let mut queue = Queue::new();
        t.direct = top
            .iter()
            .map(|slot| match *slot {
                Slot::Leaf(v) => u32::from(v),
                Slot::Node(n, inh) => {
                    t.nodes.push(NodeBits::default());
                    let idx = t.nodes.len() - 1;
                    queue.push_back((idx, n, inh));
                    NODE | idx as u32
                }
            })
            .collect();
        self.fill_nodes(&mut t.nodes, &mut t.leaves, &mut queue);
        t.nodes.shrink_to_fit();
        t.leaves.shrink_to_fit();
        t
    }

    /// Builds the nodes in `queue` and, breadth first, everything below them, appending to
    /// `nodes` and `leaves` (indices in the nodes are positions in those vectors).
    fn fill_nodes(&self, nodes: &mut Vec<NodeBits>, leaves: &mut Vec<u16>, queue: &mut Queue) {
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
            let mut node = NodeBits {
                base0: leaves.len() as u32,
                base1: nodes.len() as u32,
                ..NodeBits::default()
            };
            let mut last_leaf: Option<u16> = None;
            for (i, slot) in slots.iter().enumerate() {
                match *slot {
                    Slot::Node(m, v) => {
                        node.vector |= 1 << i;
                        nodes.push(NodeBits::default());
                        queue.push_back((nodes.len() - 1, m, v));
                    }
                    Slot::Leaf(v) => {
                        if last_leaf != Some(v) {
                            node.leafvec |= 1 << i;
                            leaves.push(v);
                            last_leaf = Some(v);
                        }
                    }
                }
            }
            if node.leafvec == 0 {
                node.base0 = 0;
            }
            if node.vector == 0 {
                node.base1 = 0;
            }
            nodes[idx] = node;
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
    /// Fresh builds because free space ran out (for reports and tests).
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

    /// How many times free space ran out and the table was built afresh with more room.
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
                // Out of room: a fresh table from the trie (which has every update), published
                // as a new storage; readers of the old one keep it until they let go.
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
    /// the free space runs out (the slots written so far are consistent, the rest are not
    /// yet updated: the caller builds afresh).
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
                    let (nl, ll) = (nodes.len() as u32, leaves.len() as u32);
                    let na = self.nodes_free.alloc(nl)?;
                    let Some(la) = self.leaves_free.alloc(ll) else {
                        self.nodes_free.release(na, nl);
                        return None;
                    };
                    for (k, v) in leaves.iter().enumerate() {
                        store.leaves[la as usize + k].store(*v, Relaxed);
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
    use super::super::{ReferenceLpm, V4};
    use super::*;
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
                while !stop.load(Relaxed) {
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
        stop.store(true, Relaxed);
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
            initial in prop::collection::vec((any::<u16>(), 0u8..=32, 0u32..50), 0..100),
            batches in prop::collection::vec(prop::collection::vec((any::<bool>(), any::<u16>(), 0u8..=32, 0u32..50), 1..40), 1..6),
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
