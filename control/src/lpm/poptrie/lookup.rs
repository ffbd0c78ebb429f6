//! Lookups: one key ([`Poptrie::lookup_bits`], behind `Lpm::lookup`) or many in lock step
//! ([`Poptrie::lookup_batch`]). Reads only: `Acquire` on the direct entry (it publishes the
//! subtree below it), `Relaxed` below (see the parent module's update order).

use std::sync::atomic::Ordering::{Acquire, Relaxed};

use super::{Family, Poptrie, NODE, NONE, STRIDE};

/// Bits `0..=i` of a 64-bit vector.
#[inline(always)]
fn upto(i: usize) -> u64 {
    u64::MAX >> (63 - i)
}

impl<F: Family> Poptrie<F> {
    #[inline(always)]
    pub(super) fn lookup_bits(&self, bits: F::Bits) -> u16 {
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
                return s.leaves.get(base0 + rank - 1);
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
                        prefetch(s.leaves.cell(at[k]));
                        in_leaf |= 1 << k;
                    }
                }
                pos += STRIDE;
            }
            while in_leaf != 0 {
                let k = in_leaf.trailing_zeros() as usize;
                in_leaf &= in_leaf - 1;
                res[k] = value(s.leaves.get(at[k]));
            }
        }
    }
}

/// Asks the CPU to start loading the cache line of `r`.
#[inline(always)]
fn prefetch<T>(r: *const T) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: a prefetch is a hint that never faults and never changes memory or program
    // state, whatever the address; `r` points into the table anyway. Lookups with and
    // without it are compared against the reference LPM by the differential tests
    // (`poptrie/tests.rs`, the `lpm` fuzz target).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(r.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}
