//! Flow steering: which worker's queues carry a flow, both ways.
//!
//! Every attachment is a multi-queue TUN device with one queue per worker. Which queue a packet
//! leaving the kernel towards vpced lands on is the kernel's choice (`tun_automq_select_queue`
//! in `drivers/net/tun.c`, when no steering program is attached): the device keeps a small
//! flow table, keyed by the packet's *symmetric* flow hash (`__skb_get_hash_symmetric`), that
//! `tun_get_user` fills on every write — a flow is sent to the queue its last packet was
//! *written* through (entries age out after 3 s without a write). A flow the device has no
//! entry for goes to `hash × queues >> 32`: two flows share a queue half the time with two
//! queues, and one worker carries both while the other idles.
//!
//! [`Steering`] uses that table. Each new flow gets an owner, round-robin over the workers (one
//! counter for all of them: per-reader counters would hand two flows read by different workers the
//! same owner as often as the kernel's hash does), and every packet of the flow, whichever worker
//! read it, is written through the owner's queue of its egress device. Both devices learn the flow
//! from those writes, so from its first round trip a flow is read, both ways, by its owner alone:
//! flows spread evenly, and a flow's two directions share one core's caches. Owners are remembered
//! under both the flow as read and the flow as written (a translated flow — an endpoint's NAT —
//! differs between the two): the reply, read as the written flow's reverse, finds the same owner.
//!
//! The table is lossy and fixed: [`SLOTS`] 32-bit entries (256 KiB) in buckets of two, each entry a
//! 24-bit tag and the owner, indexed by a keyed hash ([`crate::hash::Key`]) of
//! [`crate::wire::symmetric_flow`]; no lock, no allocation, Relaxed atomics (an entry is one word,
//! and a stale or overwritten one costs locality, never correctness: flow state lives in the shared
//! flow table). A lookup is two hashes and two bucket reads; a slot is written only when its entry
//! changes.
//!
//! What it cannot steer: a flow that never writes back through the device it arrives on (a
//! one-way UDP stream) is read where the kernel's hash puts it; beyond the device's own table
//! (4096 flows per device) the kernel hashes again.

use std::sync::atomic::{AtomicU32, Ordering};

use crossbeam_utils::CachePadded;

use crate::hash::Key;

/// Entries of the table.
pub const SLOTS: usize = 1 << 16;

/// Workers one table can name (an owner is one byte of its entry).
pub const MAX_WORKERS: usize = 256;

/// How flows are spread over the workers (`vpced --steer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Each flow written through its owner's queues ([`Steering`]): both ways on one worker.
    #[default]
    Flows,
    /// Each worker writes through its own queues; the kernel's hash alone spreads flows.
    Kernel,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "flows" => Ok(Mode::Flows),
            "kernel" => Ok(Mode::Kernel),
            other => Err(format!("unknown steering {other:?} (flows, kernel)")),
        }
    }
}

/// Which worker owns which flow (see the module's doc).
#[derive(Debug)]
pub struct Steering {
    key: Key,
    slots: Box<[AtomicU32]>,
    /// The next owner a new flow gets (written once per new flow, on a line of its own).
    next: CachePadded<AtomicU32>,
    workers: u32,
}

impl Steering {
    /// A table for `workers` workers; `None` when there is nothing to steer (one worker) or
    /// more workers than an entry can name.
    pub fn new(workers: usize) -> Option<Steering> {
        Steering::with_key(workers, Key::random())
    }

    /// [`Steering::new`] with a hash key of the caller's (tests: reproducible slots).
    pub fn with_key(workers: usize, key: Key) -> Option<Steering> {
        if !(2..=MAX_WORKERS).contains(&workers) {
            return None;
        }
        Some(Steering {
            key,
            slots: (0..SLOTS).map(|_| AtomicU32::new(0)).collect(),
            next: CachePadded::new(AtomicU32::new(0)),
            workers: workers as u32,
        })
    }

    /// The flow of `packet` (IP, as read or as it leaves), for [`Steering::owner`].
    #[inline]
    pub fn flow(&self, packet: &[u8]) -> Option<u64> {
        crate::wire::symmetric_flow(packet).map(|w| self.key.hash5(w))
    }

    /// The worker whose queues carry the flow that was `read` (its [`Steering::flow`] before
    /// it was decided) and leaves as `written`; a flow seen for the first time gets the next
    /// in turn. `None` for what is not IP.
    pub fn owner(&self, read: Option<u64>, written: &[u8]) -> Option<usize> {
        let written = self.flow(written);
        let found = read
            .and_then(|h| self.get(h))
            .or_else(|| written.and_then(|h| self.get(h)));
        let owner = match found {
            Some(o) => o,
            None => {
                read.or(written)?;
                self.next.fetch_add(1, Ordering::Relaxed) % self.workers
            }
        };
        for h in [read, written].into_iter().flatten() {
            self.put(h, owner);
        }
        Some(owner as usize)
    }

    /// The flow's bucket (two slots side by side, one cache line) and its tag.
    #[inline]
    fn bucket(&self, h: u64) -> (&[AtomicU32], u32) {
        // The index from the low bits, the tag from the high ones (never 0: 0 is empty).
        let tag = ((h >> 40) as u32) | 1;
        let i = h as usize & (SLOTS - 2);
        (&self.slots[i..i + 2], tag << 8)
    }

    #[inline]
    fn get(&self, h: u64) -> Option<u32> {
        let (bucket, tag) = self.bucket(h);
        bucket
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .find(|e| e & !0xff == tag)
            .map(|e| e & 0xff)
    }

    /// Records `owner` in the flow's slot of its bucket, else in an empty one, else over the
    /// slot a bit of the hash picks: two flows sharing a bucket keep their owners, a third
    /// moves one of them.
    #[inline]
    fn put(&self, h: u64, owner: u32) {
        let (bucket, tag) = self.bucket(h);
        let e = tag | owner;
        let now = [
            bucket[0].load(Ordering::Relaxed),
            bucket[1].load(Ordering::Relaxed),
        ];
        let k = (0..2)
            .find(|&k| now[k] & !0xff == tag)
            .or_else(|| (0..2).find(|&k| now[k] == 0))
            .unwrap_or((h >> 39) as usize & 1);
        if now[k] != e {
            bucket[k].store(e, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::build;
    use std::net::Ipv4Addr;

    fn udp(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16) -> Vec<u8> {
        let t = build::Transport::Udp {
            src_port: sp,
            dst_port: dp,
            payload: b"x",
        };
        build::packet(Ipv4Addr::from(src).into(), Ipv4Addr::from(dst).into(), t).unwrap()
    }

    #[test]
    fn a_flow_keeps_its_owner_both_ways() {
        let s = Steering::with_key(4, Key::fixed(1)).unwrap();
        let out = udp([10, 0, 0, 1], 4000, [10, 1, 0, 9], 53);
        let back = udp([10, 1, 0, 9], 53, [10, 0, 0, 1], 4000);
        let o = s.owner(s.flow(&out), &out).unwrap();
        for _ in 0..4 {
            assert_eq!(s.owner(s.flow(&back), &back), Some(o));
            assert_eq!(s.owner(s.flow(&out), &out), Some(o));
        }
    }

    #[test]
    fn a_translated_flow_finds_its_owner_from_the_reply() {
        // Read as client → endpoint ENI, written as load balancer → target (NAT): the
        // target's reply, read as the written flow's reverse, finds the same owner.
        let s = Steering::with_key(2, Key::fixed(2)).unwrap();
        let read = udp([10, 0, 0, 1], 4000, [10, 0, 5, 5], 80);
        let written = udp([10, 9, 0, 7], 61000, [10, 9, 1, 1], 8080);
        let reply = udp([10, 9, 1, 1], 8080, [10, 9, 0, 7], 61000);
        let reply_out = udp([10, 0, 5, 5], 80, [10, 0, 0, 1], 4000);
        let o = s.owner(s.flow(&read), &written).unwrap();
        assert_eq!(s.owner(s.flow(&reply), &reply_out), Some(o));
    }

    #[test]
    fn new_flows_spread_evenly() {
        let s = Steering::with_key(4, Key::fixed(1)).unwrap();
        let mut per = [0u32; 4];
        for port in 0..400u16 {
            let p = udp([10, 0, 0, 1], 1024 + port, [10, 1, 0, 9], 443);
            per[s.owner(s.flow(&p), &p).unwrap()] += 1;
        }
        assert_eq!(per, [100; 4]);
    }

    #[test]
    fn two_flows_sharing_a_bucket_keep_their_owners() {
        let s = Steering::with_key(4, Key::fixed(3)).unwrap();
        let p = |port| udp([10, 0, 0, 1], port, [10, 1, 0, 9], 443);
        let bucket = |port| s.flow(&p(port)).unwrap() as usize & (SLOTS - 2);
        let first = bucket(1024);
        let other = (1025..u16::MAX)
            .find(|&port| bucket(port) == first)
            .unwrap();
        let a = s.owner(s.flow(&p(1024)), &p(1024)).unwrap();
        let b = s.owner(s.flow(&p(other)), &p(other)).unwrap();
        assert_ne!(a, b);
        for _ in 0..3 {
            assert_eq!(s.owner(s.flow(&p(1024)), &p(1024)), Some(a));
            assert_eq!(s.owner(s.flow(&p(other)), &p(other)), Some(b));
        }
    }

    #[test]
    fn one_worker_or_too_many_steer_nothing_and_non_ip_has_no_owner() {
        assert!(Steering::new(1).is_none());
        assert!(Steering::new(MAX_WORKERS + 1).is_none());
        let s = Steering::with_key(2, Key::fixed(2)).unwrap();
        assert_eq!(s.owner(None, &[0u8; 40]), None);
        assert_eq!(s.owner(s.flow(&[0x45]), &[]), None);
    }
}
