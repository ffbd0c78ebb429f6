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
//! leaves: u8 when every value is below 256 (0xFF = no route; the value 255 shares one
//!         byte with a rare value, told apart by a bit of `is255`: see `Leaves`),
//!         else u16 (0xFFFF = no route)
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
//! the last level costs one more read in `leaves` (and one in `is255` for the one byte value
//! shared with 255). IPv4: prefixes up to /18 resolve in the
//! direct array alone, /19–/24 after 1 node, /25–/30 after 2, /31–/32 after 3. IPv6: /20 in the
//! direct array, /32 after 2 nodes, /48 after 5. [`Poptrie::lookup_batch`] runs several keys in
//! lock step so that their memory reads overlap.
//!
//! # Capacity
//!
//! Values are `u16` below `0xFFFF` (a route table indexes at most 65,535 routes; AWS allows
//! 1,000). At most 2^31 nodes and 2^32 leaves. Memory: `4 × 2^S` bytes of direct array
//! (1 MiB for IPv4, 4 MiB for IPv6 at full size) plus 24 bytes per node, and per leaf one
//! byte and a bit while every value is below 256, two bytes otherwise (the full IPv4 table
//! at K = 256 next hops: 3.82 MiB, against 4.78 with two-byte leaves); a table kept by a
//! [`PoptrieWriter`] has room for half as many nodes and leaves again.
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
    AtomicU16, AtomicU32, AtomicU64, AtomicU8,
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
    leaves: Leaves,
}

/// The leaf cells: one byte each when every value of the table is below 256 (a table of
/// K = 256 next hops, an AWS route table), two otherwise.
///
/// Narrow: 257 meanings (256 values and "no route") in a byte and, for one byte value only, a
/// bit. 0xFF is "no route"; a byte `b` below 0xFF is the value `b`, except the byte `shared`,
/// which is the value `shared` or — with the leaf's bit in `is255` set — the value 255.
/// `shared` is the value fewest leaves hold when the table is built (one no leaf holds, if
/// there is one), so the bit is read for few lookups and never for "no route". A writer's
/// update with a value above 255 makes the next table a wide one (a fresh build: the
/// writer's "out of room" path).
#[derive(Debug)]
enum Leaves {
    Narrow {
        bytes: Box<[AtomicU8]>,
        shared: u8,
        is255: Box<[AtomicU64]>,
    },
    Wide(Box<[AtomicU16]>),
}

impl Leaves {
    /// Cells holding `values`, then `spare` more with no route; narrow when every value allows.
    fn new(values: Vec<u16>, spare: usize) -> Leaves {
        let n = values.len() + spare;
        if !values.iter().all(|&v| v <= 255 || v == NONE) {
            let all = values.into_iter().chain(std::iter::repeat_n(NONE, spare));
            return Leaves::Wide(all.map(AtomicU16::new).collect());
        }
        let mut count = [0usize; 255];
        for &v in &values {
            if let Some(c) = count.get_mut(usize::from(v)) {
                *c += 1;
            }
        }
        let shared = (0..255u8)
            .rev()
            .min_by_key(|&b| count[usize::from(b)])
            .unwrap_or(0);
        let leaves = Leaves::Narrow {
            bytes: (0..n).map(|_| AtomicU8::new(0xFF)).collect(),
            shared,
            is255: (0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
        };
        for (i, v) in values.into_iter().enumerate() {
            leaves.set(i, v);
        }
        leaves
    }

    /// Whether value `v` can be stored.
    fn fits(&self, v: u16) -> bool {
        matches!(self, Leaves::Wide(_)) || v <= 255 || v == NONE
    }

    /// Stores `v` in cell `i` (which no reader can reach yet); `v` must [`Leaves::fits`].
    fn set(&self, i: usize, v: u16) {
        match self {
            Leaves::Wide(w) => w[i].store(v, Relaxed),
            &Leaves::Narrow {
                ref bytes,
                shared,
                ref is255,
            } => {
                debug_assert!(self.fits(v));
                let b = match v {
                    NONE => 0xFF,
                    255 => shared,
                    v => v as u8,
                };
                bytes[i].store(b, Relaxed);
                if b == shared {
                    // Other bits of the word belong to cells readers may be in: change ours.
                    let bit = 1u64 << (i % 64);
                    if v == 255 {
                        is255[i / 64].fetch_or(bit, Relaxed);
                    } else {
                        is255[i / 64].fetch_and(!bit, Relaxed);
                    }
                }
            }
        }
    }

    #[inline(always)]
    fn get(&self, i: usize) -> u16 {
        match self {
            Leaves::Wide(w) => w[i].load(Relaxed),
            &Leaves::Narrow {
                ref bytes,
                shared,
                ref is255,
            } => {
                let b = bytes[i].load(Relaxed);
                if b == 0xFF {
                    NONE
                } else if b != shared || is255[i / 64].load(Relaxed) & (1 << (i % 64)) == 0 {
                    u16::from(b)
                } else {
                    255
                }
            }
        }
    }

    /// The cell's address, for a prefetch.
    #[inline(always)]
    fn cell(&self, i: usize) -> *const u8 {
        match self {
            Leaves::Wide(w) => (&w[i] as *const AtomicU16).cast(),
            Leaves::Narrow { bytes, .. } => (&bytes[i] as *const AtomicU8).cast(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Leaves::Wide(w) => w.len(),
            Leaves::Narrow { bytes, .. } => bytes.len(),
        }
    }

    fn memory_bytes(&self) -> usize {
        match self {
            Leaves::Wide(w) => w.len() * 2,
            Leaves::Narrow { bytes, is255, .. } => bytes.len() + is255.len() * 8,
        }
    }
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
            leaves: Leaves::new(self.leaves, spare_leaves),
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
            leaves: (0..s.leaves.len()).map(|i| s.leaves.get(i)).collect(),
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
            + self.store.leaves.memory_bytes()
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
