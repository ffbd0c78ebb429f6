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
//!
//! # Rooms
//!
//! This module holds the table (the cells readers share, their layout, a handle on one
//! version); `lookup` reads it (one key, or a batch in lock step), `build` makes one from a
//! binary trie, `writer` changes one in place under running readers.

mod build;
mod lookup;
#[cfg(test)]
mod tests;
mod writer;

use std::sync::atomic::{
    AtomicU16, AtomicU32, AtomicU64,
    Ordering::{Acquire, Relaxed},
};
use std::sync::Arc;

use super::{Family, Lpm, LpmBuildError, Prefix};
use build::BinaryTrie;
pub use writer::{PoptrieWriter, RouteUpdate};

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
