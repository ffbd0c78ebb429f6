//! Counters: per entity (attachment, route table, endpoint, internet gateway) and per drop
//! reason.
//!
//! Counters live in a [`Registry`] that outlives every fabric: a fabric holds `Arc`s to the
//! counters of the entities it names, found by id when it is built, so a reload neither resets
//! nor loses a count. Workers add with relaxed atomics (the counts are statistics, not
//! synchronization); a reader sums them whenever it likes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::pipeline::DropReason;

/// Traffic of one entity. `rx` is traffic entering the fabric through it (an attachment's
/// device, a route table's lookups, an endpoint's returning traffic, an internet gateway's
/// inbound traffic); `tx` is traffic leaving through it.
#[derive(Debug, Default)]
pub struct EntityCounters {
    pub rx_packets: AtomicU64,
    pub rx_bytes: AtomicU64,
    pub tx_packets: AtomicU64,
    pub tx_bytes: AtomicU64,
}

impl EntityCounters {
    #[inline]
    pub fn rx(&self, bytes: usize) {
        self.rx_packets.fetch_add(1, Relaxed);
        self.rx_bytes.fetch_add(bytes as u64, Relaxed);
    }
    #[inline]
    pub fn tx(&self, bytes: usize) {
        self.tx_packets.fetch_add(1, Relaxed);
        self.tx_bytes.fetch_add(bytes as u64, Relaxed);
    }
    pub fn read(&self) -> CounterValues {
        CounterValues {
            rx_packets: self.rx_packets.load(Relaxed),
            rx_bytes: self.rx_bytes.load(Relaxed),
            tx_packets: self.tx_packets.load(Relaxed),
            tx_bytes: self.tx_bytes.load(Relaxed),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CounterValues {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
}

/// All counters of a daemon.
#[derive(Debug)]
pub struct Registry {
    entities: Mutex<BTreeMap<(&'static str, String), Arc<EntityCounters>>>,
    drops: [AtomicU64; DropReason::COUNT],
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            entities: Mutex::new(BTreeMap::new()),
            drops: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Registry {
    /// The counters of `kind`/`id`, created on first use.
    pub fn entity(&self, kind: &'static str, id: &str) -> Arc<EntityCounters> {
        let mut m = self.entities.lock().unwrap_or_else(|p| p.into_inner());
        m.entry((kind, id.to_string())).or_default().clone()
    }

    #[inline]
    pub fn drop_packet(&self, reason: DropReason) {
        self.drops[reason.index()].fetch_add(1, Relaxed);
    }

    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()].load(Relaxed)
    }

    /// Every counter, for `vpcectl stats`.
    pub fn report(&self) -> StatsReport {
        let m = self.entities.lock().unwrap_or_else(|p| p.into_inner());
        let mut entities: BTreeMap<String, BTreeMap<String, CounterValues>> = BTreeMap::new();
        for ((kind, id), c) in m.iter() {
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
        StatsReport { entities, drops }
    }
}

/// A reading of every counter.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct StatsReport {
    /// kind (`attachment`, `route_table`, `endpoint`, `internet_gateway`) -> id -> values.
    pub entities: BTreeMap<String, BTreeMap<String, CounterValues>>,
    /// Drop reason -> packets (reasons with no drops are left out).
    pub drops: BTreeMap<String, u64>,
}
