//! Denied flows: what security groups dropped in the current flow-log interval, by interface
//! and flow, for the flow logs' REJECT records. Written by the workers on every denial (a
//! keyed hash: the denied packets' fields are the sender's to choose), drained by the flow-log
//! thread. A leaf, so that `stats` can hold it without importing the flow logs (and through
//! them the fabric).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use spin::mutex::SpinMutex;

use crate::conntrack::Tuple;

/// Denied flows of the current interval: the packets security groups dropped, by interface
/// (zone) and direction-specific 5-tuple. Fixed capacity (shards of open-addressing slots,
/// allocated once); a full shard counts the packet's flow as lost. Nothing allocates after
/// [`RejectLog::default`].
#[derive(Debug)]
pub struct RejectLog {
    shards: Box<[SpinMutex<RejectShard>]>,
    lost: AtomicU64,
    /// Slots come from a keyed hash: the denied packets' fields are the sender's to choose.
    key: crate::hash::Key,
}

const REJECT_SHARDS: usize = 8;
const REJECT_SLOTS: usize = 512;

#[derive(Debug)]
struct RejectShard {
    slots: Box<[Option<Rejected>]>,
    len: usize,
}

/// A denied flow: its interface's zone, the tuple of its packets, their count and bytes, the
/// first and last time (the flow table's seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    pub zone: u32,
    pub tuple: Tuple,
    pub packets: u64,
    pub bytes: u64,
    pub first: u32,
    pub last: u32,
    /// AWS `tcp-flags` of the denied packets, OR-ed ([`crate::conntrack::aws_tcp_flags`]).
    pub tcp_flags: u8,
}

impl Default for RejectLog {
    fn default() -> Self {
        RejectLog {
            shards: (0..REJECT_SHARDS)
                .map(|_| {
                    SpinMutex::new(RejectShard {
                        slots: vec![None; REJECT_SLOTS].into_boxed_slice(),
                        len: 0,
                    })
                })
                .collect(),
            lost: AtomicU64::new(0),
            key: crate::hash::Key::random(),
        }
    }
}

impl RejectLog {
    /// Notes a denied packet of `bytes` with flow-log TCP flag bits `logged`
    /// ([`crate::conntrack::TcpSignal::log_flags`]) on the interface of `zone` at `now`.
    pub fn record(&self, zone: u32, t: &Tuple, bytes: usize, logged: u8, now: u32) {
        let flags = crate::conntrack::aws_tcp_flags(logged);
        let h = crate::conntrack::keyed_hash(&self.key, zone, t);
        let mut shard = self.shards[(h >> 61) as usize % REJECT_SHARDS].lock();
        let mask = REJECT_SLOTS - 1;
        let mut i = h as usize & mask;
        loop {
            match &mut shard.slots[i] {
                Some(r) if r.zone == zone && r.tuple == *t => {
                    r.packets += 1;
                    r.bytes += bytes as u64;
                    r.last = now;
                    r.tcp_flags |= flags;
                    return;
                }
                Some(_) => i = (i + 1) & mask,
                None => break,
            }
        }
        if shard.len >= REJECT_SLOTS / 8 * 7 {
            self.lost.fetch_add(1, Relaxed);
            return;
        }
        shard.slots[i] = Some(Rejected {
            zone,
            tuple: *t,
            packets: 1,
            bytes: bytes as u64,
            first: now,
            last: now,
            tcp_flags: flags,
        });
        shard.len += 1;
    }

    /// Hands every denied flow of the interval to `f` and starts a new interval.
    pub fn drain(&self, mut f: impl FnMut(&Rejected)) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            for s in shard.slots.iter_mut() {
                if let Some(r) = s.take() {
                    f(&r);
                }
            }
            shard.len = 0;
        }
    }

    /// Denied flows not noted because a shard was full.
    pub fn lost(&self) -> u64 {
        self.lost.load(Relaxed)
    }
}

/// Denied flows one interval holds at most.
pub const CAPACITY: usize = REJECT_SHARDS * REJECT_SLOTS;
