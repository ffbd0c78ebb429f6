//! Connection tracking: what makes security groups stateful and address translation
//! reversible.
//!
//! # What is tracked
//!
//! As in AWS, state is kept **per ENI crossing**: a flow that leaves instance A and enters
//! instance B has one entry in A's zone and one in B's (zone = a stable 32-bit id of the ENI,
//! endpoint or load-balancer node; see [`zone_of`]). An entry is keyed by the flow's
//! *canonical* tuple (the lower address/port pair first), so both directions of the flow find
//! it; a packet that finds its entry is a packet of a flow its security groups already allowed,
//! and passes without rule evaluation. Interface-endpoint flows also carry a translation
//! ([`Nat`]): the entry in the endpoint ENI's zone holds the provider-side tuple, the entry in
//! the load-balancer node's zone holds the consumer-side one, and each names the other's zone
//! (its *peer*).
//!
//! # Table
//!
//! Fixed capacity, chosen at start: `shards` open-addressing tables (linear probing,
//! backward-shift deletion: no tombstones, probe sequences stay short), each behind its own
//! spin lock; a flow's shard comes from its hash, so two workers rarely meet on one lock and
//! never hold two at once. A critical section is a probe of a few slots — far shorter than a
//! futex round trip — and releasing a spin lock is a plain store, where a futex mutex needs a
//! second locked instruction (measured: the lock pair was half the cost of a lookup). An
//! insertion into a full table (or a shard at 7/8 of its slots) returns [`Full`]: the caller drops the new flow and counts it; established flows are untouched.
//! Nothing allocates after [`FlowTable::new`].
//!
//! ```text
//! Entry (128 bytes, aligned on 128: two cache lines, one prefetch pair)
//!   line 0: key (addresses 2×u128, zone u32, ports 2×u16, proto u8, family u8), last_seen
//!           u32 (seconds), flags u8, flow-log TCP flags u8 (4 bits each way), translated
//!           ports 2×u16, PROXY header length u16, peer zone u32 — all a passing probe reads
//!   line 1: translated addresses 2×u128 (or, steered: appliance, target index, cookie, TCP
//!           idle timeout u16), PROXY first data seq u32, first_seen u32, counters: packets
//!           u32 and bytes u64 each way — read and written on a hit only
//! shards of 2^k slots, k = log2(capacity / 32) within 6..=15, as many as make the load 0.6
//! at capacity; the table holds `capacity` entries (a count shared by the shards), no shard
//! more than 7/8 of its slots
//! memory = 128 B × slots ≈ 213 B per flow of capacity (1,048,576 flows: 54 × 32,768 slots,
//!          216 MiB)
//! ```
//!
//! # Counters
//!
//! Each entry counts the packets and bytes of its flow in each direction since they were last
//! drained ([`FlowTable::drain`], what flow logs do every aggregation interval; until then they
//! count from the flow's start, which is what `vpcectl top` ranks). An entry removed with
//! undrained counts (a closed TCP flow expires 10 s after its last packet) leaves a
//! [`FlowRecord`] in its shard's bounded `retired` list for the next drain; a full list drops
//! the record and counts it ([`FlowTable::records_lost`]).
//!
//! # Timeouts (AWS)
//!
//! Idle TCP flows end after 350 s, other flows after 120 s; a TCP flow that has seen a FIN
//! from both sides, or a RST, ends 10 s after its last packet (time for the last ACK).
//! Expired entries are removed when met by a lookup or an insertion, and by [`FlowTable::sweep`],
//! which the workers call with a bounded budget.

use spin::mutex::SpinMutex as Mutex;
use std::net::IpAddr;

use crate::fragments::FragmentTable;
use crate::hash;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

/// Idle timeouts, seconds.
pub const TCP_IDLE: u32 = 350;
pub const OTHER_IDLE: u32 = 120;
pub const TCP_CLOSED: u32 = 10;

/// The stable zone id of an ENI, endpoint ENI or load-balancer node: FNV-1a of its id, so
/// that a reload that reorders the configuration keeps every flow.
pub fn zone_of(id: &str) -> u32 {
    hash::fnv1a(id.as_bytes())
}

fn bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn addr(bits: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(bits.into())
    } else {
        IpAddr::V4((bits as u32).into())
    }
}

/// A packet's flow, as seen in one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tuple {
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Ports (TCP, UDP) or the ICMP echo identifier in both; 0 otherwise.
    pub sport: u16,
    pub dport: u16,
}

impl Tuple {
    pub fn reversed(&self) -> Tuple {
        Tuple {
            proto: self.proto,
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
        }
    }
}

/// The canonical key of a tuple in a zone, and whether the tuple runs low → high.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(C, align(16))]
pub struct FlowKey {
    lo: u128,
    hi: u128,
    zone: u32,
    lo_port: u16,
    hi_port: u16,
    proto: u8,
    v6: bool,
}

impl FlowKey {
    /// The key, and `true` when `t` goes from the low end to the high end.
    pub fn of(zone: u32, t: &Tuple) -> (FlowKey, bool) {
        let (s, d) = (bits(t.src), bits(t.dst));
        let forward = (s, t.sport) <= (d, t.dport);
        let (lo, lo_port, hi, hi_port) = if forward {
            (s, t.sport, d, t.dport)
        } else {
            (d, t.dport, s, t.sport)
        };
        (
            FlowKey {
                lo,
                hi,
                zone,
                lo_port,
                hi_port,
                proto: t.proto,
                v6: t.src.is_ipv6(),
            },
            forward,
        )
    }

    /// The key as five words, for the table's keyed hash ([`crate::keyed`]).
    #[inline]
    fn words(&self) -> [u64; 5] {
        [
            self.lo as u64,
            (self.lo >> 64) as u64,
            self.hi as u64,
            (self.hi >> 64) as u64,
            (u64::from(self.zone) << 32)
                ^ (u64::from(self.lo_port) << 16)
                ^ u64::from(self.hi_port)
                ^ (u64::from(self.proto) << 56)
                ^ (u64::from(self.v6) << 48),
        ]
    }

    /// The slot and shard hash: keyed with the table's secret, so nobody outside vpced can
    /// choose tuples that collide.
    #[inline]
    fn hash(&self, key: &hash::Key) -> u64 {
        if self.v6 {
            key.hash5(self.words())
        } else {
            let w = self.words();
            key.hash3([w[0], w[2], w[4]])
        }
    }

    /// An unkeyed hash, the same in every run: for choices that must not change when vpced
    /// restarts (a GWLB flow's appliance), never for a table's slots.
    fn fixed_hash(&self) -> u64 {
        let a = (self.lo as u64) ^ ((self.lo >> 64) as u64).rotate_left(17);
        let b = (self.hi as u64) ^ ((self.hi >> 64) as u64).rotate_left(41);
        let c = (u64::from(self.zone) << 32)
            ^ (u64::from(self.lo_port) << 16)
            ^ u64::from(self.hi_port)
            ^ (u64::from(self.proto) << 56);
        let h = (a ^ b.rotate_left(32)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ c.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        h ^ (h >> 31)
    }
}

/// An address translation carried by a flow: how to rewrite packets of the flow that go
/// *forward* (in the direction of the packet that created the entry), and the zone of the
/// entry on the other side of the translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nat {
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    pub peer_zone: u32,
    /// A PROXY protocol v2 header inserted before the consumer's first data byte.
    pub proxy: Option<Proxy>,
}

/// Where a PROXY protocol header goes into a flow, and how long it is: the consumer's bytes
/// from `seq` on are `len` further on the target's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proxy {
    /// The consumer's first data sequence number (its ISN + 1).
    pub seq: u32,
    pub len: u16,
}

/// A flow steered through a Gateway Load Balancer: the appliance chosen for it (both
/// directions) and the flow cookie the GENEVE header carries. Kept in the GWLB endpoint's
/// zone, keyed by the target group's stickiness tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steer {
    pub appliance: IpAddr,
    /// The appliance's index in its target group when the flow was steered (a hint: a reload
    /// may move it; the address decides).
    pub target: u16,
    pub cookie: u32,
    /// Idle timeout of the flow if TCP, in seconds (the target group's `tcp_idle_timeout`,
    /// 60–6000); 0: [`TCP_IDLE`]. Kept where a translation's destination port would be.
    pub tcp_idle: u16,
}

/// What tracking takes from a packet: its TCP flags (FIN, RST) and its length (counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpSignal {
    pub fin: bool,
    pub rst: bool,
    /// The packet's length (IP header on), for the flow's byte counters.
    pub bytes: u32,
    /// Refresh the flow and note FIN/RST, count nothing: a segment of a split superpacket
    /// the flow already counted whole.
    pub uncounted: bool,
    /// The flags flow logs report ([`TcpSignal::log_flags`]), OR-ed into the flow's direction
    /// until the next drain.
    pub logged: u8,
}

impl TcpSignal {
    /// The TCP flags a flow-log record reports, as one direction's 4 bits of a slot: FIN 1,
    /// SYN 2, RST 4, and 8 for an ACK that comes with a SYN. AWS: "FIN – 1, SYN – 2, RST – 4,
    /// SYN-ACK – 18 … ACK is reported only when it's accompanied with SYN" ("Flow log records",
    /// Available fields, `tcp-flags`); [`aws_tcp_flags`] turns the bits into that value.
    pub fn log_flags(flags: u8) -> u8 {
        use crate::wire::tcp_flags::{ACK, FIN, RST, SYN};
        let syn = flags & SYN != 0;
        u8::from(flags & FIN != 0)
            | u8::from(syn) << 1
            | u8::from(flags & RST != 0) << 2
            | u8::from(syn && flags & ACK != 0) << 3
    }
}

/// AWS's `tcp-flags` value of one direction's 4 bits ([`TcpSignal::log_flags`]): 1, 2, 4 as
/// they are, the SYN-with-ACK bit as ACK's 16 (so a SYN-ACK is 18, and a short connection's
/// SYN-ACK and FIN 19).
pub fn aws_tcp_flags(bits: u8) -> u8 {
    (bits & 7) | (bits & 8) << 1
}

const FIN_INITIATOR: u8 = 1;
const FIN_RESPONDER: u8 = 2;
const RST: u8 = 4;
/// The initiator is the low end of the key.
const INITIATOR_LO: u8 = 8;
const HAS_NAT: u8 = 16;
const HAS_STEER: u8 = 32;
/// The translation's addresses are IPv6 (they need not be of the key's family: a dual-stack
/// load balancer's flow between an IPv6 client and an IPv4 target).
const NAT_V6: u8 = 64;
const USED: u8 = 128;

/// One entry, two cache lines, aligned on a pair of them (the spatial prefetcher's unit on
/// x86): the first holds what a probe reads of every slot it passes — the key, `flags`
/// (used?) and `last_seen` (expired?) — so that passing a slot costs one line; the second
/// what only a hit reads or writes (the translation, the counters).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(128))]
struct Slot {
    // Line 0.
    key: FlowKey,
    last_seen: u32,
    flags: u8,
    /// Flow-log TCP flags since the last drain: low nibble low → high, high nibble the other
    /// way ([`TcpSignal::log_flags`]).
    logged: u8,
    nat_sport: u16,
    nat_dport: u16,
    proxy_len: u16,
    peer_zone: u32,
    // Line 1.
    nat_src: u128,
    nat_dst: u128,
    lo_bytes: u64,
    hi_bytes: u64,
    proxy_seq: u32,
    first_seen: u32,
    lo_packets: u32,
    hi_packets: u32,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 128);
const _: () = assert!(std::mem::offset_of!(Slot, peer_zone) + 4 == 64);

impl Slot {
    fn used(&self) -> bool {
        self.flags & USED != 0
    }

    fn timeout(&self) -> u32 {
        if self.key.proto != 6 {
            OTHER_IDLE
        } else if self.flags & RST != 0
            || self.flags & (FIN_INITIATOR | FIN_RESPONDER) == FIN_INITIATOR | FIN_RESPONDER
        {
            TCP_CLOSED
        } else if self.flags & HAS_STEER != 0 && self.nat_dport != 0 {
            u32::from(self.nat_dport)
        } else {
            TCP_IDLE
        }
    }

    fn expired(&self, now: u32) -> bool {
        now.saturating_sub(self.last_seen) >= self.timeout()
    }

    fn nat(&self) -> Option<Nat> {
        (self.flags & HAS_NAT != 0).then(|| Nat {
            src: addr(self.nat_src, self.flags & NAT_V6 != 0),
            sport: self.nat_sport,
            dst: addr(self.nat_dst, self.flags & NAT_V6 != 0),
            dport: self.nat_dport,
            peer_zone: self.peer_zone,
            proxy: (self.proxy_len > 0).then_some(Proxy {
                seq: self.proxy_seq,
                len: self.proxy_len,
            }),
        })
    }

    fn steer(&self) -> Option<Steer> {
        (self.flags & HAS_STEER != 0).then(|| Steer {
            appliance: addr(self.nat_dst, self.nat_src != 0),
            target: self.nat_sport,
            cookie: self.peer_zone,
            tcp_idle: self.nat_dport,
        })
    }

    /// Records a packet going low → high (`forward`) with `tcp` flags at `now`.
    fn touch(&mut self, forward: bool, tcp: TcpSignal, now: u32) {
        self.last_seen = now;
        if tcp.uncounted {
        } else if forward {
            self.lo_packets = self.lo_packets.wrapping_add(1);
            self.lo_bytes += u64::from(tcp.bytes);
        } else {
            self.hi_packets = self.hi_packets.wrapping_add(1);
            self.hi_bytes += u64::from(tcp.bytes);
        }
        let from_initiator = forward == (self.flags & INITIATOR_LO != 0);
        if tcp.fin {
            self.flags |= if from_initiator {
                FIN_INITIATOR
            } else {
                FIN_RESPONDER
            };
        }
        if tcp.rst {
            self.flags |= RST;
        }
        self.logged |= if forward { tcp.logged } else { tcp.logged << 4 };
    }
}

/// A flow's counts, as drained: the entry's key in its zone (low end → high end), who started
/// it, and packets and bytes each way since the previous drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRecord {
    pub zone: u32,
    pub proto: u8,
    /// The low and high ends of the canonical key (address, port).
    pub lo: (IpAddr, u16),
    pub hi: (IpAddr, u16),
    /// The low end started the flow.
    pub initiator_lo: bool,
    pub lo_to_hi: (u64, u64),
    pub hi_to_lo: (u64, u64),
    /// AWS `tcp-flags` each way since the previous drain ([`aws_tcp_flags`]).
    pub lo_to_hi_flags: u8,
    pub hi_to_lo_flags: u8,
    pub first_seen: u32,
    pub last_seen: u32,
    /// The entry is gone (expired) — the flow's last record.
    pub ended: bool,
}

impl FlowRecord {
    fn of(s: &Slot, ended: bool) -> FlowRecord {
        FlowRecord {
            zone: s.key.zone,
            proto: s.key.proto,
            lo: (addr(s.key.lo, s.key.v6), s.key.lo_port),
            hi: (addr(s.key.hi, s.key.v6), s.key.hi_port),
            initiator_lo: s.flags & INITIATOR_LO != 0,
            lo_to_hi: (u64::from(s.lo_packets), s.lo_bytes),
            hi_to_lo: (u64::from(s.hi_packets), s.hi_bytes),
            lo_to_hi_flags: aws_tcp_flags(s.logged & 15),
            hi_to_lo_flags: aws_tcp_flags(s.logged >> 4),
            first_seen: s.first_seen,
            last_seen: s.last_seen,
            ended,
        }
    }

    /// Bytes both ways.
    pub fn bytes(&self) -> u64 {
        self.lo_to_hi.1 + self.hi_to_lo.1
    }
}

/// Retired records a shard keeps between drains.
const RETIRED_PER_SHARD: usize = 256;

/// What a lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Whether the packet runs in the direction of the packet that created the entry.
    pub from_initiator: bool,
    pub nat: Option<Nat>,
    pub steer: Option<Steer>,
}

/// What an entry carries besides its state.
#[derive(Debug, Clone, Copy)]
enum Payload {
    None,
    Nat(Nat),
    Steer(Steer),
}

/// The hash of the flow of `t` in `zone` under `key` (both directions alike), for other
/// tables indexed by packet fields (the flow logs' denied flows).
pub fn keyed_hash(key: &hash::Key, zone: u32, t: &Tuple) -> u64 {
    FlowKey::of(zone, t).0.hash(key)
}

/// A hash of a flow that is the same for both of its directions (the canonical key's), for
/// choices both directions must agree on: the appliance of a GWLB flow.
pub fn symmetric_hash(t: &Tuple) -> u64 {
    // The table's hash is made for its low bits (slot index); a choice among a few targets
    // wants every bit mixed: finish with MurmurHash3's fmix64.
    let mut h = FlowKey::of(0, t).0.fixed_hash();
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Why a new flow is not tracked (and its packet is dropped). Established flows are never
/// touched by a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Full {
    /// The table holds its capacity (`--max-flows`), or the flow's shard its 7/8.
    #[error("flow table full")]
    Table,
    /// The flow's probe run would pass [`MAX_PROBE`] slots: its neighbourhood is crowded.
    #[error("flow table full: probe limit")]
    Probe,
    /// The flow's zone (an ENI, endpoint ENI, load-balancer node, GWLB endpoint) holds its
    /// quota (`--max-flows-per-eni`).
    #[error("flow quota of the zone reached")]
    ZoneQuota,
}

impl From<Full> for crate::reasons::DropReason {
    fn from(e: Full) -> crate::reasons::DropReason {
        match e {
            Full::ZoneQuota => crate::reasons::DropReason::FlowQuotaExceeded,
            Full::Table | Full::Probe => crate::reasons::DropReason::FlowTableFull,
        }
    }
}

/// Slots an insertion probes at most from a key's home slot; since no entry then lies
/// further from home, a lookup stops there too. At the load a shard runs at (0.6, 7/8 at
/// most) runs are far shorter; the bound is what a crafted or unlucky cluster costs at worst:
/// 256 × 128 bytes read under the shard's lock, about a microsecond.
pub const MAX_PROBE: usize = 256;

/// How many flows each zone holds: counters indexed by a keyed hash of the zone (zones whose
/// hashes meet share one, which only ever makes the quota stricter for them).
#[derive(Debug)]
struct ZoneQuota {
    counts: Box<[std::sync::atomic::AtomicU32]>,
    limit: u32,
    key: hash::Key,
}

impl ZoneQuota {
    const COUNTERS: usize = 1 << 16;

    fn counter(&self, zone: u32) -> &std::sync::atomic::AtomicU32 {
        let h = self.key.hash1(u64::from(zone));
        &self.counts[(h as usize) & (Self::COUNTERS - 1)]
    }

    fn take(&self, zone: u32) -> Result<(), Full> {
        let c = self.counter(zone);
        if c.fetch_add(1, Relaxed) >= self.limit {
            c.fetch_sub(1, Relaxed);
            return Err(Full::ZoneQuota);
        }
        Ok(())
    }

    fn give_back(&self, zone: u32) {
        self.counter(zone).fetch_sub(1, Relaxed);
    }
}

#[derive(Debug)]
struct Shard {
    slots: Box<[Slot]>,
    len: usize,
    /// Entries this shard's slots take at most (7/8 of them).
    limit: usize,
    /// The table's count of entries, shared by its shards.
    entries: Arc<AtomicUsize>,
    /// Records of entries removed with undrained counts (capacity fixed at creation).
    retired: Vec<FlowRecord>,
    lost: u64,
    /// The table's hash key.
    key: hash::Key,
    /// Per-zone counts, when the table has a quota.
    quota: Option<Arc<ZoneQuota>>,
}

impl Shard {
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Index of `key`, removing it if expired. At most [`MAX_PROBE`] slots from its home:
    /// no insertion puts an entry further.
    fn find(&mut self, key: &FlowKey, h: u64, now: u32) -> Option<usize> {
        let mut i = (h as usize) & self.mask();
        for _ in 0..MAX_PROBE.min(self.slots.len()) {
            let s = &self.slots[i];
            if !s.used() {
                return None;
            }
            if s.key == *key {
                if s.expired(now) {
                    self.remove(i);
                    return None;
                }
                return Some(i);
            }
            i = (i + 1) & self.mask();
        }
        None
    }

    /// Backward-shift deletion: later entries of the probe run move up so that no lookup
    /// meets a hole before its key.
    fn remove(&mut self, mut hole: usize) {
        let gone = self.slots[hole];
        if gone.lo_packets | gone.hi_packets != 0 {
            if self.retired.len() < RETIRED_PER_SHARD {
                self.retired.push(FlowRecord::of(&gone, true));
            } else {
                self.lost += 1;
            }
        }
        let mask = self.mask();
        let mut i = (hole + 1) & mask;
        loop {
            let s = self.slots[i];
            // No entry lies MAX_PROBE or more past its home (insertion refuses it), so none
            // that far past the hole can move into it: the shift ends there even inside a
            // long run, and a removal reads at most a run's worth of slots under the lock.
            if !s.used() || (i.wrapping_sub(hole) & mask) >= MAX_PROBE {
                break;
            }
            let home = (s.key.hash(&self.key) as usize) & mask;
            // Move `s` into the hole if its home is not in (hole, i] cyclically.
            let dist_home = i.wrapping_sub(home) & mask;
            let dist_hole = i.wrapping_sub(hole) & mask;
            if dist_home >= dist_hole {
                self.slots[hole] = s;
                hole = i;
            }
            i = (i + 1) & mask;
        }
        self.slots[hole] = Slot::default();
        self.len -= 1;
        self.entries.fetch_sub(1, Relaxed);
        if let Some(q) = &self.quota {
            q.give_back(gone.key.zone);
        }
    }
}

/// `n` empty slots from zeroed memory: the kernel maps zero pages lazily, so a table sized for
/// millions of flows costs memory only as it fills.
#[allow(unsafe_code)]
fn zeroed_slots(n: usize) -> Box<[Slot]> {
    let b = Box::<[Slot]>::new_zeroed_slice(n);
    // SAFETY: every field of `Slot` is an integer or a `bool`, for which all-zero bytes are a
    // valid value (`false`, 0), and an all-zero slot is exactly `Slot::default()` (an unused
    // slot) — checked by `zeroed_slots_are_empty` below.
    unsafe { b.assume_init() }
}

/// The flow table: fixed capacity, sharded, shared by every worker.
#[derive(Debug)]
pub struct FlowTable {
    shards: Box<[Mutex<Shard>]>,
    capacity: usize,
    /// Entries in all shards (each shard adds and removes its own).
    entries: Arc<AtomicUsize>,
    /// Where the next sweep starts: shard and slot, packed.
    cursor: AtomicUsize,
    key: hash::Key,
    /// Flows one zone may hold (the capacity when there is no quota).
    per_zone: usize,
    /// Datagrams being fragmented: their later fragments follow the first's flow.
    fragments: FragmentTable,
}

impl FlowTable {
    /// A table for `capacity` flows (entries; at least 64), no zone holding more than
    /// `per_zone` of them, hashed with a random key.
    pub fn with_zone_limit(capacity: usize, per_zone: usize) -> FlowTable {
        FlowTable::build(capacity, Some(per_zone), hash::Key::random())
    }

    /// A table for `capacity` flows (entries; at least 64), any zone may take them all;
    /// hashed with a random key.
    pub fn new(capacity: usize) -> FlowTable {
        FlowTable::build(capacity, None, hash::Key::random())
    }

    /// A table with a given hash key (tests and benchmarks that must be reproducible).
    pub fn with_key(capacity: usize, per_zone: Option<usize>, key: hash::Key) -> FlowTable {
        FlowTable::build(capacity, per_zone, key)
    }

    fn build(capacity: usize, per_zone: Option<usize>, key: hash::Key) -> FlowTable {
        let capacity = capacity.max(64);
        let quota = per_zone.filter(|&z| z < capacity).map(|z| {
            Arc::new(ZoneQuota {
                counts: (0..ZoneQuota::COUNTERS)
                    .map(|_| std::sync::atomic::AtomicU32::new(0))
                    .collect(),
                limit: z.min(u32::MAX as usize) as u32,
                key: hash::Key::random(),
            })
        });
        // Shards of 2^k slots, k from the capacity (32 shards' worth, 64 to 32,768 slots); as
        // many shards as hold the capacity at a load of 0.6 (linear probing stays short: a
        // miss probes about 3.6 slots at that load, 2.5 at half).
        let k = (capacity / 32).clamp(64, 1 << 15).ilog2();
        let slots = 1usize << k;
        let shards = (capacity * 5).div_ceil(slots * 3).max(1);
        // Flows spread over the shards by hash, not evenly: a shard may take 7/8 of its slots
        // (far above its 0.6 share), so that the table's own limit — what was asked for:
        // `--max-flows` is a promise to the operator — is what refuses a flow, not a shard.
        let limit = slots / 8 * 7;
        let entries = Arc::new(AtomicUsize::new(0));
        FlowTable {
            shards: (0..shards)
                .map(|_| {
                    Mutex::new(Shard {
                        slots: zeroed_slots(slots),
                        len: 0,
                        limit,
                        entries: entries.clone(),
                        retired: Vec::with_capacity(RETIRED_PER_SHARD),
                        lost: 0,
                        key,
                        quota: quota.clone(),
                    })
                })
                .collect(),
            capacity,
            per_zone: quota.as_ref().map_or(capacity, |q| q.limit as usize),
            entries,
            cursor: AtomicUsize::new(0),
            key,
            fragments: FragmentTable::new((capacity / 16).clamp(256, 65_536)),
        }
    }

    fn shard_index(&self, h: u64) -> usize {
        // The high half of the hash, scaled to the shard count (the low bits pick the slot).
        (((h >> 32) * self.shards.len() as u64) >> 32) as usize
    }

    fn shard(&self, h: u64) -> spin::mutex::SpinMutexGuard<'_, Shard> {
        self.shards[self.shard_index(h)].lock()
    }

    /// Where the flow of `t` in `zone` would live: its shard and home slot. What an attacker
    /// who knew the hash key could compute; for tests of exactly that.
    pub fn home_of(&self, zone: u32, t: &Tuple) -> (usize, usize) {
        let h = FlowKey::of(zone, t).0.hash(&self.key);
        let slots = self.shards[0].lock().slots.len();
        (self.shard_index(h), (h as usize) & (slots - 1))
    }

    /// Flows the table holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Flows one zone may hold at most (`--max-flows-per-eni`).
    pub fn per_zone_limit(&self) -> usize {
        self.per_zone
    }

    /// The fragment table that goes with the flows.
    pub fn fragments(&self) -> &FragmentTable {
        &self.fragments
    }

    /// Bytes of the table.
    pub fn memory_bytes(&self) -> usize {
        self.shards.len() * self.shards[0].lock().slots.len() * std::mem::size_of::<Slot>()
    }

    /// Entries in the table (expired ones not yet removed included).
    pub fn len(&self) -> usize {
        self.entries.load(Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The flow of `t` in `zone`, refreshed with this packet; `None` if untracked or expired.
    pub fn lookup(&self, zone: u32, t: &Tuple, tcp: TcpSignal, now: u32) -> Option<Flow> {
        self.refreshed(zone, t, tcp, now, |s, from_initiator| Flow {
            from_initiator,
            nat: s.nat(),
            steer: s.steer(),
        })
    }

    /// Finds `t`'s entry in `zone`, refreshes it with this packet and reads `read` from it
    /// (the slot, and whether the packet runs from the initiator).
    #[inline(always)]
    fn refreshed<R>(
        &self,
        zone: u32,
        t: &Tuple,
        tcp: TcpSignal,
        now: u32,
        read: impl FnOnce(&Slot, bool) -> R,
    ) -> Option<R> {
        let (key, forward) = FlowKey::of(zone, t);
        let h = key.hash(&self.key);
        let mut shard = self.shard(h);
        let i = shard.find(&key, h, now)?;
        let s = &mut shard.slots[i];
        s.touch(forward, tcp, now);
        Some(read(s, forward == (s.flags & INITIATOR_LO != 0)))
    }

    /// [`FlowTable::lookup`] for a caller that only asks whether the packet answers a
    /// translated flow: `Some(true)` for a packet from the responder on an entry that carries
    /// a translation (the rest of the entry is not decoded; [`FlowTable::peek_nat`] reads it).
    pub fn lookup_reply(&self, zone: u32, t: &Tuple, tcp: TcpSignal, now: u32) -> Option<bool> {
        self.refreshed(zone, t, tcp, now, |s, from_initiator| {
            !from_initiator && s.flags & HAS_NAT != 0
        })
    }

    /// The translation of `t`'s entry in `zone`, read without refreshing it.
    pub fn peek_nat(&self, zone: u32, t: &Tuple, now: u32) -> Option<Nat> {
        let (key, _) = FlowKey::of(zone, t);
        let h = key.hash(&self.key);
        let mut shard = self.shard(h);
        let i = shard.find(&key, h, now)?;
        shard.slots[i].nat()
    }

    /// Starts tracking `t` (its source is the initiator) in `zone`. An entry already there is
    /// replaced.
    pub fn insert(
        &self,
        zone: u32,
        t: &Tuple,
        nat: Option<Nat>,
        tcp: TcpSignal,
        now: u32,
    ) -> Result<(), Full> {
        self.put(
            zone,
            t,
            nat.map_or(Payload::None, Payload::Nat),
            tcp,
            now,
            true,
        )
        .map(|_| ())
    }

    /// Starts tracking (or re-steers) `t` in `zone` as a flow through a Gateway Load
    /// Balancer, with its appliance and cookie.
    pub fn insert_steered(
        &self,
        zone: u32,
        t: &Tuple,
        steer: Steer,
        tcp: TcpSignal,
        now: u32,
    ) -> Result<(), Full> {
        self.put(zone, t, Payload::Steer(steer), tcp, now, true)
            .map(|_| ())
    }

    /// Stops tracking `t` in `zone`, leaving no flow record: for an entry made for a flow whose
    /// other direction could not be tracked (the table or the zone full), which would
    /// otherwise hold its slot, its zone's quota and a translation's port until it expired.
    pub fn forget(&self, zone: u32, t: &Tuple, now: u32) {
        let (key, _) = FlowKey::of(zone, t);
        let h = key.hash(&self.key);
        let mut shard = self.shard(h);
        if let Some(i) = shard.find(&key, h, now) {
            let s = &mut shard.slots[i];
            (s.lo_packets, s.hi_packets) = (0, 0);
            shard.remove(i);
        }
    }

    /// Like [`FlowTable::insert`], but leaves a live entry alone: `Ok(false)` if `zone`
    /// already tracks the flow (how a translation finds a free source port).
    pub fn insert_new(
        &self,
        zone: u32,
        t: &Tuple,
        nat: Option<Nat>,
        tcp: TcpSignal,
        now: u32,
    ) -> Result<bool, Full> {
        self.put(
            zone,
            t,
            nat.map_or(Payload::None, Payload::Nat),
            tcp,
            now,
            false,
        )
    }

    fn put(
        &self,
        zone: u32,
        t: &Tuple,
        payload: Payload,
        tcp: TcpSignal,
        now: u32,
        replace: bool,
    ) -> Result<bool, Full> {
        let (key, forward) = FlowKey::of(zone, t);
        let h = key.hash(&self.key);
        let mut shard = self.shard(h);
        let mut slot = Slot {
            key,
            last_seen: now,
            flags: USED | if forward { INITIATOR_LO } else { 0 },
            ..Slot::default()
        };
        if let Payload::Steer(st) = payload {
            // The appliance's address goes where a translation's destination would;
            // `nat_src` says its family (1: IPv6).
            slot.flags |= HAS_STEER;
            slot.nat_dst = bits(st.appliance);
            slot.nat_src = u128::from(st.appliance.is_ipv6());
            slot.nat_sport = st.target;
            slot.nat_dport = st.tcp_idle;
            slot.peer_zone = st.cookie;
        }
        if let Payload::Nat(n) = payload {
            slot.flags |= HAS_NAT | if n.src.is_ipv6() { NAT_V6 } else { 0 };
            slot.nat_src = bits(n.src);
            slot.nat_dst = bits(n.dst);
            slot.nat_sport = n.sport;
            slot.nat_dport = n.dport;
            slot.peer_zone = n.peer_zone;
            if let Some(p) = n.proxy {
                slot.proxy_seq = p.seq;
                slot.proxy_len = p.len;
            }
        }
        slot.first_seen = now;
        slot.touch(forward, tcp, now);
        if let Some(i) = shard.find(&key, h, now) {
            if !replace {
                return Ok(false);
            }
            // A new payload for a live flow: its counts go on.
            let old = shard.slots[i];
            slot.first_seen = old.first_seen;
            slot.lo_packets = slot.lo_packets.wrapping_add(old.lo_packets);
            slot.hi_packets = slot.hi_packets.wrapping_add(old.hi_packets);
            slot.lo_bytes += old.lo_bytes;
            slot.hi_bytes += old.hi_bytes;
            slot.logged |= old.logged;
            shard.slots[i] = slot;
            return Ok(true);
        }
        if shard.len >= shard.limit {
            return Err(Full::Table);
        }
        let mask = shard.mask();
        let home = (h as usize) & mask;
        let Some(i) = (0..MAX_PROBE.min(mask + 1))
            .map(|d| (home + d) & mask)
            .find(|&i| !shard.slots[i].used())
        else {
            return Err(Full::Probe);
        };
        if self.entries.fetch_add(1, Relaxed) >= self.capacity {
            self.entries.fetch_sub(1, Relaxed);
            return Err(Full::Table);
        }
        if let Some(q) = &shard.quota {
            if let Err(e) = q.take(zone) {
                self.entries.fetch_sub(1, Relaxed);
                return Err(e);
            }
        }
        shard.slots[i] = slot;
        shard.len += 1;
        Ok(true)
    }

    /// Marks the flow of `t` in `zone` with a packet's TCP signal (and refreshes it), without
    /// creating it: how a translated flow tells its peer entry about a FIN or RST.
    pub fn signal(&self, zone: u32, t: &Tuple, tcp: TcpSignal, now: u32) -> bool {
        self.lookup(zone, t, tcp, now).is_some()
    }

    /// Whether `zone` tracks a flow of `t` (no refresh).
    pub fn contains(&self, zone: u32, t: &Tuple, now: u32) -> bool {
        let (key, _) = FlowKey::of(zone, t);
        let h = key.hash(&self.key);
        self.shard(h).find(&key, h, now).is_some()
    }

    /// Hands every flow with counts since the last drain to `f` (live entries, whose counts
    /// restart at zero, then the retired records of removed ones), one shard locked at a time.
    pub fn drain(&self, mut f: impl FnMut(&FlowRecord)) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            for s in shard.slots.iter_mut() {
                if s.used() && s.lo_packets | s.hi_packets != 0 {
                    f(&FlowRecord::of(s, false));
                    s.lo_packets = 0;
                    s.hi_packets = 0;
                    s.lo_bytes = 0;
                    s.hi_bytes = 0;
                    s.logged = 0;
                }
            }
            for r in shard.retired.drain(..) {
                f(&r);
            }
        }
    }

    /// The `n` flows with the most bytes counted (since their start, or since the last drain),
    /// busiest first; the counters are left as they are.
    pub fn top(&self, n: usize) -> Vec<FlowRecord> {
        let mut best: Vec<FlowRecord> = Vec::with_capacity(n + 1);
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for s in shard.slots.iter().filter(|s| s.used()) {
                let bytes = s.lo_bytes + s.hi_bytes;
                if best.len() == n && best.last().is_some_and(|b| b.bytes() >= bytes) {
                    continue;
                }
                let r = FlowRecord::of(s, false);
                let at = best.partition_point(|b| b.bytes() >= bytes);
                best.insert(at, r);
                best.truncate(n);
            }
        }
        best
    }

    /// Records of removed flows dropped because a shard's retired list was full.
    pub fn records_lost(&self) -> u64 {
        self.shards.iter().map(|s| s.lock().lost).sum()
    }

    /// Removes expired entries, looking at most at `budget` slots from where the last sweep
    /// stopped; returns how many it removed.
    pub fn sweep(&self, now: u32, budget: usize) -> usize {
        let per_shard = self.shards[0].lock().slots.len();
        let total = per_shard * self.shards.len();
        let start = self.cursor.fetch_add(budget, Relaxed) % total;
        let mut removed = 0;
        let mut pos = start;
        let mut left = budget.min(total);
        while left > 0 {
            let shard_i = pos / per_shard;
            let mut shard = self.shards[shard_i].lock();
            let mut i = pos % per_shard;
            while i < per_shard && left > 0 {
                if shard.slots[i].used() && shard.slots[i].expired(now) {
                    shard.remove(i);
                    removed += 1;
                    // The shift may have moved another entry into `i`: look again.
                } else {
                    i += 1;
                }
                left -= 1;
            }
            pos = (shard_i + 1) % self.shards.len() * per_shard;
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(src: &str, sport: u16, dst: &str, dport: u16) -> Tuple {
        Tuple {
            proto: 6,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport,
            dport,
        }
    }

    const NONE: TcpSignal = TcpSignal {
        fin: false,
        rst: false,
        bytes: 100,
        uncounted: false,
        logged: 0,
    };

    #[test]
    fn a_forgotten_flow_is_gone_gives_its_quota_back_and_leaves_no_record() {
        let t = FlowTable::with_zone_limit(1024, 1);
        let a = tcp("10.0.0.1", 1000, "10.0.0.2", 80);
        let b = tcp("10.0.0.1", 1001, "10.0.0.2", 80);
        t.insert(3, &a, None, NONE, 0).unwrap();
        assert!(
            t.insert(3, &b, None, NONE, 0).is_err(),
            "zone 3 holds one flow"
        );
        t.forget(3, &a, 0);
        assert_eq!(t.len(), 0);
        assert!(t.lookup(3, &a, NONE, 0).is_none());
        t.insert(3, &b, None, NONE, 0).unwrap();
        t.forget(3, &a, 0); // not tracked: nothing changes
        t.forget(4, &b, 0); // another zone's: nothing changes
        assert_eq!(t.len(), 1);
        let mut records = 0;
        t.drain(|_| records += 1);
        assert_eq!(records, 1, "b's first packet only; a left no record");
    }

    /// An uncounted signal (a segment of a superpacket the flow counted whole) refreshes the
    /// flow and notes its FIN, and counts nothing.
    #[test]
    fn uncounted_signals_refresh_without_counting() {
        let t = FlowTable::new(64);
        let f = tcp("10.0.0.1", 40000, "10.0.0.2", 80);
        t.insert(1, &f, None, NONE, 0).unwrap();
        let quiet = TcpSignal {
            uncounted: true,
            bytes: 9000,
            ..NONE
        };
        t.lookup(1, &f, quiet, 300).unwrap();
        t.lookup(1, &f.reversed(), TcpSignal { fin: true, ..quiet }, 300)
            .unwrap();
        // Refreshed at 300: alive at 300 + TCP_IDLE - 1.
        assert!(t.contains(1, &f, 300 + TCP_IDLE - 1));
        let mut got = Vec::new();
        t.drain(|r| got.push(*r));
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].lo_to_hi, got[0].hi_to_lo), ((1, 100), (0, 0)));
        // The FIN was noted: the initiator's FIN closes it.
        t.lookup(1, &f, TcpSignal { fin: true, ..NONE }, 301)
            .unwrap();
        assert!(!t.contains(1, &f, 301 + TCP_CLOSED));
    }

    /// A zone's quota refuses its next flow with a type of its own, leaves other zones alone,
    /// and is given back as its flows expire.
    #[test]
    fn zone_quota_is_typed_per_zone_and_given_back() {
        let t = FlowTable::with_zone_limit(10_000, 50);
        assert_eq!(t.per_zone_limit(), 50);
        let f = |i: u16| tcp("10.0.0.1", 1000 + i, "10.0.0.2", 80);
        for i in 0..50 {
            t.insert(1, &f(i), None, NONE, 0).unwrap();
        }
        assert_eq!(t.insert(1, &f(50), None, NONE, 0), Err(Full::ZoneQuota));
        // A refresh of a tracked flow is no new flow.
        t.insert(1, &f(0), None, NONE, 0).unwrap();
        t.insert(2, &f(50), None, NONE, 0).unwrap();
        while t.sweep(TCP_IDLE + 1, 1 << 20) > 0 {}
        assert!(t.is_empty());
        t.insert(1, &f(50), None, NONE, TCP_IDLE + 1).unwrap();
        // No quota asked: one zone may fill the table.
        assert_eq!(FlowTable::new(10_000).per_zone_limit(), 10_000);
    }

    #[test]
    fn zeroed_slots_are_empty() {
        let z = zeroed_slots(4);
        for s in z.iter() {
            assert!(!s.used());
            assert_eq!(s.key, FlowKey::default());
            assert_eq!(s.flags, 0);
        }
    }

    #[test]
    fn both_directions_find_the_flow_in_its_zone_only() {
        let t = FlowTable::new(1000);
        let f = tcp("10.0.0.1", 40000, "10.0.0.2", 80);
        t.insert(7, &f, None, NONE, 0).unwrap();
        let fwd = t.lookup(7, &f, NONE, 1).unwrap();
        assert!(fwd.from_initiator);
        let back = t.lookup(7, &f.reversed(), NONE, 1).unwrap();
        assert!(!back.from_initiator);
        assert!(t.lookup(8, &f, NONE, 1).is_none());
        assert!(t
            .lookup(7, &tcp("10.0.0.1", 40001, "10.0.0.2", 80), NONE, 1)
            .is_none());
    }

    #[test]
    fn idle_and_close_timeouts() {
        let t = FlowTable::new(1000);
        let f = tcp("10.0.0.1", 40000, "10.0.0.2", 80);
        t.insert(1, &f, None, NONE, 0).unwrap();
        assert!(t.lookup(1, &f, NONE, TCP_IDLE - 1).is_some());
        assert!(t.lookup(1, &f, NONE, 2 * TCP_IDLE - 2).is_some());
        assert!(t.lookup(1, &f, NONE, 3 * TCP_IDLE).is_none());
        // FIN from both sides: 10 s.
        t.insert(1, &f, None, NONE, 0).unwrap();
        let fin = TcpSignal { fin: true, ..NONE };
        t.lookup(1, &f, fin, 5).unwrap();
        assert!(
            t.lookup(1, &f, NONE, 100).is_some(),
            "one FIN is not a close"
        );
        t.lookup(1, &f.reversed(), fin, 100).unwrap();
        assert!(t.lookup(1, &f, NONE, 100 + TCP_CLOSED + 1).is_none());
        // RST: 10 s. UDP: 120 s.
        t.insert(1, &f, None, NONE, 0).unwrap();
        t.lookup(1, &f, TcpSignal { rst: true, ..NONE }, 1).unwrap();
        assert!(t.lookup(1, &f, NONE, 1 + TCP_CLOSED).is_none());
        let u = Tuple { proto: 17, ..f };
        t.insert(1, &u, None, NONE, 0).unwrap();
        assert!(t.lookup(1, &u, NONE, OTHER_IDLE - 1).is_some());
        assert!(t.lookup(1, &u, NONE, 2 * OTHER_IDLE).is_none());
    }

    #[test]
    fn full_is_typed_and_established_flows_stay() {
        let t = FlowTable::new(64);
        let mut inserted = Vec::new();
        let mut full = 0;
        for i in 0..200u16 {
            let f = tcp("10.0.0.1", 1000 + i, "10.0.0.2", 80);
            match t.insert(1, &f, None, NONE, 0) {
                Ok(()) => inserted.push(f),
                Err(_) => full += 1,
            }
        }
        assert!(full > 0);
        assert!(inserted.len() <= t.capacity());
        for f in &inserted {
            assert!(t.lookup(1, f, NONE, 1).is_some());
        }
        // Once they expire, the sweep makes room again.
        let removed: usize = (0..100).map(|_| t.sweep(TCP_IDLE + 10, 64)).sum();
        assert_eq!(removed, inserted.len());
        assert!(t.is_empty());
        t.insert(1, &inserted[0], None, NONE, TCP_IDLE + 10)
            .unwrap();
    }

    #[test]
    fn nat_is_returned_with_the_flow() {
        let t = FlowTable::new(100);
        let f = tcp("10.0.128.10", 40000, "10.0.128.100", 80);
        let nat = Nat {
            src: "10.1.128.50".parse().unwrap(),
            sport: 1024,
            dst: "10.1.144.10".parse().unwrap(),
            dport: 80,
            peer_zone: 99,
            proxy: None,
        };
        t.insert(5, &f, Some(nat), NONE, 0).unwrap();
        assert_eq!(t.lookup(5, &f, NONE, 0).unwrap().nat, Some(nat));
        // A translation of the other family than the key's (a dual-stack load balancer): an
        // IPv6 client's flow to an IPv4 target and the way back.
        let f6 = tcp("2600:1f18:a:a80::10", 40000, "2600:1f18:a:a80::100", 80);
        t.insert(5, &f6, Some(nat), NONE, 0).unwrap();
        assert_eq!(t.lookup(5, &f6, NONE, 0).unwrap().nat, Some(nat));
        let back = Nat {
            src: "2600:1f18:a:a80::100".parse().unwrap(),
            dst: "2600:1f18:a:a80::10".parse().unwrap(),
            ..nat
        };
        let w = tcp("10.1.144.10", 80, "10.1.128.50", 1024);
        t.insert(6, &w, Some(back), NONE, 0).unwrap();
        assert_eq!(t.lookup(6, &w, NONE, 0).unwrap().nat, Some(back));
    }

    /// The table holds what was asked for, not what its power-of-two slots could: up to the
    /// shard count's multiple, and 64 at least.
    #[test]
    fn capacity_is_what_was_asked_for() {
        for (asked, holds) in [
            (262_144, 262_144),
            (1_000_000, 1_000_000),
            (100_000, 100_000),
            (1000, 1000),
            (1001, 1001),
            (10, 64),
        ] {
            assert_eq!(FlowTable::new(asked).capacity(), holds, "{asked}");
        }
        // And refuses the next flow once full.
        let t = FlowTable::new(1000);
        let mut admitted = 0;
        for port in 0..5000u16 {
            let f = Tuple {
                proto: 17,
                src: "10.0.0.1".parse().unwrap(),
                dst: "10.0.0.2".parse().unwrap(),
                sport: port,
                dport: 53,
            };
            if t.insert(1, &f, None, NONE, 0).is_ok() {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 1000);
        assert_eq!(t.len(), admitted);
        // A table of many shards fills to exactly its capacity: no shard, however the hash
        // spreads the flows, runs out first.
        let t = FlowTable::new(100_000);
        let mut admitted = 0;
        'fill: for host in 0..=255u32 {
            for port in 0..1000u16 {
                let f = Tuple {
                    proto: 6,
                    src: IpAddr::V4((0x0a00_0000 | host << 8 | u32::from(port % 7)).into()),
                    dst: "52.216.39.26".parse().unwrap(),
                    sport: 1024 + port,
                    dport: 443,
                };
                if t.insert(1, &f, None, NONE, 0).is_err() {
                    break 'fill;
                }
                admitted += 1;
            }
        }
        assert_eq!(admitted, t.capacity());
        assert_eq!(t.len(), t.capacity());
    }

    /// A realistic key set (one host to many, sequential ports) fills a table to its limit
    /// without long probe runs.
    #[test]
    fn probe_runs_stay_short() {
        let t = FlowTable::new(100_000);
        let mut n = 0;
        'fill: for host in 0..64u32 {
            for port in 1024..u16::MAX {
                let f = Tuple {
                    proto: 6,
                    src: IpAddr::V4((0x0a00_0000 | host).into()),
                    dst: "52.216.39.26".parse().unwrap(),
                    sport: port,
                    dport: 443,
                };
                if t.insert(1, &f, None, NONE, 0).is_err() {
                    break 'fill;
                }
                n += 1;
            }
        }
        assert!(n >= t.capacity() * 9 / 10, "{n} of {}", t.capacity());
        let mut longest = 0;
        for sh in t.shards.iter() {
            let sh = sh.lock();
            let mut run = 0;
            for s in sh.slots.iter() {
                run = if s.used() { run + 1 } else { 0 };
                longest = longest.max(run);
            }
        }
        assert!(longest < 400, "longest probe run {longest}");
    }

    /// Random inserts and removals against a `HashMap` model: the backward shift never loses
    /// or duplicates an entry.
    #[test]
    fn matches_a_model_under_churn() {
        let t = FlowTable::new(2000);
        let mut model = std::collections::HashMap::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for step in 0..50_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = tcp("10.0.0.1", (x % 3000) as u16, "10.0.0.2", 80);
            let now = step / 100;
            if x.is_multiple_of(3) {
                if t.insert(1, &f, None, NONE, now).is_ok() {
                    model.insert(f, now);
                }
            } else {
                let got = t.lookup(1, &f, NONE, now).is_some();
                let want = model.get(&f).is_some_and(|&seen| now - seen < TCP_IDLE);
                assert_eq!(got, want, "step {step}");
                if want {
                    model.insert(f, now);
                } else {
                    model.remove(&f);
                }
            }
        }
    }

    #[test]
    fn counters_drain_per_direction_and_survive_removal() {
        let t = FlowTable::new(64);
        let f = tcp("10.0.0.1", 40000, "10.0.0.2", 80);
        let sig = |bytes| TcpSignal {
            bytes,
            ..TcpSignal::default()
        };
        t.insert(1, &f, None, sig(60), 0).unwrap();
        t.lookup(1, &f, sig(100), 1).unwrap();
        t.lookup(1, &f.reversed(), sig(1000), 2).unwrap();
        let other = tcp("10.0.0.1", 40001, "10.0.0.2", 80);
        t.insert(1, &other, None, sig(10), 2).unwrap();
        // Top: the busiest first, counters untouched.
        let top = t.top(1);
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].bytes(), 1160);
        assert_eq!(t.top(5).len(), 2);
        let mut got = Vec::new();
        t.drain(|r| got.push(*r));
        got.sort_by_key(|r| std::cmp::Reverse(r.bytes()));
        let r = got[0];
        assert!(r.initiator_lo && !r.ended);
        assert_eq!((r.lo_to_hi, r.hi_to_lo), ((2, 160), (1, 1000)));
        assert_eq!((r.first_seen, r.last_seen), (0, 2));
        // Drained: nothing more until new packets.
        let mut again = 0;
        t.drain(|_| again += 1);
        assert_eq!(again, 0);
        // A flow that ends between drains leaves its last record.
        t.lookup(
            1,
            &f,
            TcpSignal {
                rst: true,
                ..sig(40)
            },
            3,
        )
        .unwrap();
        assert!(t.lookup(1, &f, sig(0), 3 + TCP_CLOSED).is_none());
        let mut last = Vec::new();
        t.drain(|r| last.push(*r));
        assert_eq!(last.len(), 1);
        assert!(last[0].ended);
        assert_eq!(last[0].lo_to_hi, (1, 40));
        assert_eq!(t.records_lost(), 0);
    }

    /// Flow logs' `tcp-flags`: each direction's flags OR-ed over the interval (SYN 2, then
    /// FIN 1: 3; SYN-ACK 18, then FIN: 19), a bare ACK not reported, and a new interval after
    /// a drain.
    #[test]
    fn tcp_flags_are_ored_per_direction_and_interval() {
        use crate::wire::tcp_flags::{ACK, FIN, PSH, RST, SYN};
        let t = FlowTable::new(64);
        let f = tcp("10.0.0.1", 40000, "10.0.0.2", 80);
        let sig = |flags| TcpSignal {
            bytes: 40,
            logged: TcpSignal::log_flags(flags),
            ..TcpSignal::default()
        };
        t.insert(1, &f, None, sig(SYN), 0).unwrap();
        t.lookup(1, &f.reversed(), sig(SYN | ACK), 0).unwrap();
        t.lookup(1, &f, sig(ACK | PSH), 0).unwrap();
        t.lookup(1, &f, sig(FIN | ACK), 1).unwrap();
        t.lookup(1, &f.reversed(), sig(FIN | ACK), 1).unwrap();
        let mut got = Vec::new();
        t.drain(|r| got.push(*r));
        assert_eq!((got[0].lo_to_hi_flags, got[0].hi_to_lo_flags), (3, 19));
        t.lookup(1, &f, sig(ACK), 2).unwrap();
        t.lookup(1, &f.reversed(), sig(RST), 2).unwrap();
        got.clear();
        t.drain(|r| got.push(*r));
        assert_eq!((got[0].lo_to_hi_flags, got[0].hi_to_lo_flags), (0, 4));
    }
}
