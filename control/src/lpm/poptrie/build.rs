//! Building a table from a list of prefixes: a binary trie (each prefix written once),
//! expanded top-down — the direct array by one expansion of its top levels, each node by an
//! expansion of the 6 levels below it — breadth first, so that a node's children are
//! contiguous. The writer builds one direct slot's subtree the same way (`fill_nodes`).

use std::collections::VecDeque;

use super::{Family, NodeBits, Plain, Prefix, NODE, NONE, STRIDE};

/// The build's intermediate binary trie: node 0 is the root.
#[derive(Default, Clone)]
pub(super) struct BinaryTrie {
    pub(super) child: Vec<[u32; 2]>,
    pub(super) value: Vec<u16>,
}

pub(super) const NIL: u32 = 0;

/// What one slot of an expansion holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Leaf(u16),
    /// The binary node at the slot's depth (which has children) and the value inherited there.
    Node(u32, u16),
}

/// Nodes to fill, breadth first: (index in the node vector, binary node, inherited value).
pub(super) type Queue = VecDeque<(usize, u32, u16)>;

impl BinaryTrie {
    pub(super) fn node(&mut self) -> u32 {
        self.child.push([NIL, NIL]);
        self.value.push(NONE);
        (self.child.len() - 1) as u32
    }

    /// Inserts; false if the prefix was already there.
    pub(super) fn insert<F: Family>(&mut self, p: &Prefix<F>, v: u16) -> bool {
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

    pub(super) fn has_children(&self, n: u32) -> bool {
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
    pub(super) fn compile(self, direct_bits: u32) -> Plain {
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
    pub(super) fn fill_nodes(
        &self,
        nodes: &mut Vec<NodeBits>,
        leaves: &mut Vec<u16>,
        queue: &mut Queue,
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
