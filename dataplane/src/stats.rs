//! Counters: per entity (attachment, route table, endpoint, internet gateway) and per drop
//! reason.
//!
//! Counters live in a [`Registry`] that outlives every fabric: a fabric holds `Arc`s to the
//! counters of the entities it names, found by id when it is built, so a reload neither resets
//! nor loses a count. Every counter is sharded by [`Lane`] (worker): one writer per shard, so
//! counting is a plain load and store on a cache line no other core writes; a reader sums the
//! shards whenever it likes (the counts are statistics, not synchronization).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::reasons::DropReason;

/// Most workers a daemon runs; each counts into its own shard.
pub const MAX_LANES: usize = 64;

/// Which shard a caller counts into: a worker's index (below [`MAX_LANES`]). Each lane has
/// exactly one writer, so an increment is a plain load and store — no locked instruction, no
/// cache line bouncing between cores. Readers sum the shards.
pub type Lane = usize;

/// Set in a lane while a worker decides the segments of a superpacket it had to split
/// (`Verdict::Split`): what the whole superpacket was counted for before the split point is
/// not counted again per segment. Counters of such a lane count nothing; the pipeline clears
/// the bit at the split point ([`counted`]), from where each segment counts.
pub const SEGMENT: Lane = 1 << 20;

/// `lane` without [`SEGMENT`]: counting again.
#[inline]
pub fn counted(lane: Lane) -> Lane {
    lane & !SEGMENT
}

#[repr(align(64))]
#[derive(Debug, Default)]
struct Shard {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
}

/// Adds to a single-writer counter.
#[inline(always)]
fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

/// Traffic of one entity. `rx` is traffic entering the fabric through it (an attachment's
/// device, a route table's lookups, an endpoint's returning traffic, an internet gateway's
/// inbound traffic); `tx` is traffic leaving through it.
#[derive(Debug)]
pub struct EntityCounters {
    shards: Box<[Shard]>,
}

impl Default for EntityCounters {
    fn default() -> Self {
        EntityCounters {
            shards: (0..MAX_LANES).map(|_| Shard::default()).collect(),
        }
    }
}

impl EntityCounters {
    #[inline]
    pub fn rx(&self, lane: Lane, bytes: usize) {
        let Some(s) = self.shards.get(lane) else {
            return; // a segment's lane (SEGMENT)
        };
        bump(&s.rx_packets, 1);
        bump(&s.rx_bytes, bytes as u64);
    }
    #[inline]
    pub fn tx(&self, lane: Lane, bytes: usize) {
        let Some(s) = self.shards.get(lane) else {
            return;
        };
        bump(&s.tx_packets, 1);
        bump(&s.tx_bytes, bytes as u64);
    }
    /// Takes back `packets` and `bytes` counted as sent on `lane` (a write queued, counted,
    /// and then failed).
    pub fn untx(&self, lane: Lane, packets: usize, bytes: usize) {
        let Some(s) = self.shards.get(lane) else {
            return;
        };
        s.tx_packets.store(
            s.tx_packets.load(Relaxed).wrapping_sub(packets as u64),
            Relaxed,
        );
        s.tx_bytes
            .store(s.tx_bytes.load(Relaxed).wrapping_sub(bytes as u64), Relaxed);
    }

    /// Adds the packets each lane received to `into[lane]`.
    pub fn rx_by_lane(&self, into: &mut [u64]) {
        for (n, s) in into.iter_mut().zip(self.shards.iter()) {
            *n += s.rx_packets.load(Relaxed);
        }
    }

    pub fn read(&self) -> CounterValues {
        let mut v = CounterValues::default();
        for s in self.shards.iter() {
            v.rx_packets += s.rx_packets.load(Relaxed);
            v.rx_bytes += s.rx_bytes.load(Relaxed);
            v.tx_packets += s.tx_packets.load(Relaxed);
            v.tx_bytes += s.tx_bytes.load(Relaxed);
        }
        v
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CounterValues {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
}

/// Packets a security group denied (no rule of the ENI's groups allowed them), by direction.
#[derive(Debug)]
pub struct DenialCounters {
    /// `[lane][0 = ingress, 1 = egress]`.
    shards: Box<[[AtomicU64; 2]]>,
}

impl Default for DenialCounters {
    fn default() -> Self {
        DenialCounters {
            shards: (0..MAX_LANES)
                .map(|_| [AtomicU64::new(0), AtomicU64::new(0)])
                .collect(),
        }
    }
}

impl DenialCounters {
    #[inline]
    pub fn deny(&self, lane: Lane, egress: bool) {
        if let Some(s) = self.shards.get(lane) {
            bump(&s[usize::from(egress)], 1);
        }
    }

    pub fn read(&self) -> Denials {
        let mut d = Denials::default();
        for s in self.shards.iter() {
            d.ingress_denied += s[0].load(Relaxed);
            d.egress_denied += s[1].load(Relaxed);
        }
        d
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Denials {
    pub ingress_denied: u64,
    pub egress_denied: u64,
}

/// Packets each rule of a network ACL decided, per direction; the last slot of a direction is
/// the `*` rule (no rule matched: denied).
#[derive(Debug)]
pub struct AclCounters {
    /// The rule numbers of each direction, in the configuration's order: `[ingress, egress]`.
    numbers: [Vec<u16>; 2],
    /// `[lane][ingress rules, ingress *, egress rules, egress *]`.
    shards: Box<[Box<[AtomicU64]>]>,
}

impl AclCounters {
    /// Counters for rules numbered `ingress` and `egress` (in the configuration's order);
    /// each direction gets one more, its `*`.
    pub fn new(ingress: Vec<u16>, egress: Vec<u16>) -> AclCounters {
        let slots = ingress.len() + egress.len() + 2;
        AclCounters {
            numbers: [ingress, egress],
            shards: (0..MAX_LANES)
                .map(|_| (0..slots).map(|_| AtomicU64::new(0)).collect())
                .collect(),
        }
    }

    /// Counts a packet rule `rule` (its index in the direction's list) of direction `egress`
    /// decided; `None`: the `*` rule.
    #[inline]
    pub fn hit(&self, lane: Lane, egress: bool, rule: Option<u16>) {
        let Some(s) = self.shards.get(lane) else {
            return;
        };
        let n = self.numbers[usize::from(egress)].len();
        let slot = rule.map_or(n, |r| usize::from(r).min(n));
        let base = if egress { self.numbers[0].len() + 1 } else { 0 };
        bump(&s[base + slot], 1);
    }

    /// Packets per rule, by rule number (`*` last), `(ingress, egress)`.
    pub fn read(&self) -> (RuleCounts, RuleCounts) {
        let mut all = vec![0u64; self.numbers[0].len() + self.numbers[1].len() + 2];
        for s in self.shards.iter() {
            for (a, c) in all.iter_mut().zip(s.iter()) {
                *a += c.load(Relaxed);
            }
        }
        let label = |numbers: &[u16], counts: &[u64]| {
            numbers
                .iter()
                .map(|n| n.to_string())
                .chain(std::iter::once("*".to_string()))
                .zip(counts.iter().copied())
                .collect::<Vec<_>>()
        };
        let egress = all.split_off(self.numbers[0].len() + 1);
        (
            label(&self.numbers[0], &all),
            label(&self.numbers[1], &egress),
        )
    }
}

/// Packets per rule number (`*` last), in the configuration's order.
pub type RuleCounts = Vec<(String, u64)>;

/// What the rules of one network ACL decided: packets per rule number (`*` for the final
/// deny), per direction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AclStats {
    pub ingress: BTreeMap<String, u64>,
    pub egress: BTreeMap<String, u64>,
}

/// All counters of a daemon, and the other runtime state that outlives a configuration:
/// target health.
#[derive(Debug)]
pub struct Registry {
    entities: Mutex<BTreeMap<(&'static str, String), Arc<EntityCounters>>>,
    denials: Mutex<BTreeMap<String, Arc<DenialCounters>>>,
    acls: Mutex<BTreeMap<String, Arc<AclCounters>>>,
    /// `drops[lane][reason]`.
    drops: Box<[[AtomicU64; DropReason::COUNT]]>,
    pub health: crate::health::HealthBook,
    pub dns: DnsCounters,
    /// Flows security groups denied, for REJECT flow-log records.
    pub rejects: crate::rejects::RejectLog,
}

/// Answers the VPC resolvers sent, by response code (the header's four bits).
#[derive(Debug, Default)]
pub struct DnsCounters {
    by_rcode: [AtomicU64; 16],
    from_cache: AtomicU64,
}

impl DnsCounters {
    pub fn answered(&self, rcode: u8) {
        bump(&self.by_rcode[usize::from(rcode & 0x0f)], 1);
    }

    /// An answer a worker sent from the answer cache (counted by rcode as well).
    pub fn answered_from_cache(&self, rcode: u8) {
        self.answered(rcode);
        bump(&self.from_cache, 1);
    }

    /// Answers sent from the workers' answer cache.
    pub fn from_cache(&self) -> u64 {
        self.from_cache.load(Relaxed)
    }

    /// (rcode, answers) for every code seen.
    pub fn read(&self) -> Vec<(u8, u64)> {
        (0..16u8)
            .map(|r| (r, self.by_rcode[usize::from(r)].load(Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// The name of a DNS response code (RFC 6895), as dig prints it.
pub fn rcode_name(rcode: u8) -> &'static str {
    match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => "RESERVED",
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            entities: Mutex::new(BTreeMap::new()),
            denials: Mutex::new(BTreeMap::new()),
            acls: Mutex::new(BTreeMap::new()),
            drops: (0..MAX_LANES)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
            health: Default::default(),
            dns: Default::default(),
            rejects: Default::default(),
        }
    }
}

impl Registry {
    /// The counters of `kind`/`id`, created on first use.
    pub fn entity(&self, kind: &'static str, id: &str) -> Arc<EntityCounters> {
        let mut m = self.entities.lock().unwrap_or_else(|p| p.into_inner());
        m.entry((kind, id.to_string())).or_default().clone()
    }

    /// The denial counters of a security group, created on first use.
    pub fn denials(&self, group: &str) -> Arc<DenialCounters> {
        let mut m = self.denials.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(group.to_string()).or_default().clone()
    }

    /// The rule counters of network ACL `id` with `ingress` and `egress` rules, created on
    /// first use; an ACL whose number of rules changed starts again from zero (its old
    /// counters would name other rules). `ingress` and `egress` are the rule numbers in the
    /// configuration's order.
    pub fn acl(&self, id: &str, ingress: Vec<u16>, egress: Vec<u16>) -> Arc<AclCounters> {
        let mut m = self.acls.lock().unwrap_or_else(|p| p.into_inner());
        match m.get(id) {
            Some(c) if c.numbers == [ingress.as_slice(), egress.as_slice()] => c.clone(),
            _ => {
                let c = Arc::new(AclCounters::new(ingress, egress));
                m.insert(id.to_string(), c.clone());
                c
            }
        }
    }

    #[inline]
    pub fn drop_packet(&self, lane: Lane, reason: DropReason) {
        if let Some(d) = self.drops.get(lane) {
            bump(&d[reason.index()], 1);
        }
    }

    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops
            .iter()
            .map(|l| l[reason.index()].load(Relaxed))
            .sum()
    }

    /// Every counter, for `vpcectl stats`.
    pub fn report(&self) -> StatsReport {
        let m = self.entities.lock().unwrap_or_else(|p| p.into_inner());
        let mut entities: BTreeMap<String, BTreeMap<String, CounterValues>> = BTreeMap::new();
        let mut workers = vec![0u64; MAX_LANES];
        for ((kind, id), c) in m.iter() {
            if *kind == "attachment" {
                c.rx_by_lane(&mut workers);
            }
            entities
                .entry(kind.to_string())
                .or_default()
                .insert(id.clone(), c.read());
        }
        let drops = DropReason::ALL
            .iter()
            .map(|r| (r.as_str().to_string(), self.drops(*r)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let security_groups = self
            .denials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(g, c)| (g.clone(), c.read()))
            .collect();
        let network_acls = self
            .acls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(id, c)| {
                let (ingress, egress) = c.read();
                let stats = AclStats {
                    ingress: ingress.into_iter().collect(),
                    egress: egress.into_iter().collect(),
                };
                (id.clone(), stats)
            })
            .collect();
        let dns = DnsStats {
            responses: self
                .dns
                .read()
                .into_iter()
                .map(|(r, n)| (rcode_name(r).to_string(), n))
                .collect(),
            from_cache: self.dns.from_cache(),
        };
        StatsReport {
            entities,
            drops,
            security_groups,
            network_acls,
            dns,
            workers,
            flows: None,
            control: None,
        }
    }
}

/// The VPC resolvers' responses: by response code, and how many of them a worker sent from
/// the answer cache.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct DnsStats {
    pub responses: BTreeMap<String, u64>,
    pub from_cache: u64,
}

/// A reading of every counter.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct StatsReport {
    /// kind (`attachment`, `route_table`, `endpoint`, `internet_gateway`) -> id -> values.
    pub entities: BTreeMap<String, BTreeMap<String, CounterValues>>,
    /// Drop reason -> packets (reasons with no drops are left out).
    pub drops: BTreeMap<String, u64>,
    /// Security group -> packets it denied, by direction.
    #[serde(default)]
    pub security_groups: BTreeMap<String, Denials>,
    /// Network ACL -> packets each of its rules decided.
    #[serde(default)]
    pub network_acls: BTreeMap<String, AclStats>,
    /// The VPC resolvers' responses.
    #[serde(default)]
    pub dns: DnsStats,
    /// Packets each worker read from the attachments, by worker index (every lane until the
    /// daemon cuts it to the workers it runs): how evenly flows are spread.
    #[serde(default)]
    pub workers: Vec<u64>,
    /// Flow table occupancy (filled by the daemon).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flows: Option<FlowStats>,
    /// The control socket (filled by the daemon).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<ControlStats>,
}

/// The control socket's counters: requests served and connections refused, by why.
#[derive(Debug, Default)]
pub struct ControlCounters {
    pub requests: AtomicU64,
    /// Peers other than root (or vpced's own user).
    pub refused_not_root: AtomicU64,
    /// Over the limit of connections served at once.
    pub refused_busy: AtomicU64,
    /// Connections that sent no request line in time.
    pub timed_out: AtomicU64,
    /// Devices made anew after a worker found them gone.
    pub devices_recreated: AtomicU64,
}

impl ControlCounters {
    pub fn values(&self) -> ControlStats {
        let r = |c: &AtomicU64| c.load(Relaxed);
        ControlStats {
            requests: r(&self.requests),
            refused_not_root: r(&self.refused_not_root),
            refused_busy: r(&self.refused_busy),
            timed_out: r(&self.timed_out),
            devices_lost: 0,
            devices_recreated: r(&self.devices_recreated),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize)]
pub struct ControlStats {
    pub requests: u64,
    pub refused_not_root: u64,
    pub refused_busy: u64,
    pub timed_out: u64,
    /// Devices found gone (deleted from outside) by a worker, and made anew.
    #[serde(default)]
    pub devices_lost: u64,
    #[serde(default)]
    pub devices_recreated: u64,
}

/// Flow table occupancy.
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize)]
pub struct FlowStats {
    pub entries: usize,
    pub capacity: usize,
    pub memory_bytes: usize,
    /// Flows one ENI (zone) may hold (`--max-flows-per-eni`).
    #[serde(default)]
    pub per_eni_limit: usize,
    /// Fragmented datagrams tracked, and those evicted before their last fragment.
    #[serde(default)]
    pub fragments: usize,
    #[serde(default)]
    pub fragments_evicted: u64,
}
