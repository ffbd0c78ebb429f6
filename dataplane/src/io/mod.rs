//! I/O: the only module of the dataplane that makes syscalls.
//!
//! * [`device`]: TUN devices, one multi-queue device per attachment with one queue per worker,
//!   and their set-up inside network namespaces (on the control path only), through
//!   [`netlink`] (links, addresses, routes over rtnetlink) and [`netns`] (named namespaces).
//! * [`uring`]: the same loop on io_uring (`vpced --io uring`): reads kept in flight on every
//!   queue, writes submitted in batches.
//! * [`worker`]: the packet loop. One thread per worker; each owns one queue of every device,
//!   waits on them with epoll, reads a bounded batch per ready queue into its own buffer, runs
//!   the pipeline, and writes the result to the egress device's queue of the flow's owner
//!   ([`steer`]). No lock, no allocation per packet; the published [`Plan`] is loaded once per
//!   wakeup.
//! * [`steer`]: which worker owns a flow — new flows round-robin, both directions read by the
//!   owner from the flow's first round trip.
//! * [`packet`]: uplinks, `AF_PACKET` sockets on an existing interface, read through
//!   [`rxring`]s (`PACKET_RX_RING`) by default.
//! * [`running`]: which generation each worker runs; a publisher wakes the workers and waits
//!   until all of them run what it published.
//!
//! A [`Plan`] is what workers read: the fabric of one configuration generation plus the devices
//! of its attachments. It is published whole through a [`crate::publish::SnapshotCell`] (the
//! snapshot it contains is never published on its own); devices are shared (`Arc`) between consecutive plans so that a reload
//! keeps every unchanged device — and the packets queued in it.

pub mod capture;
pub mod device;
pub mod memory;
pub mod netlink;
pub mod netns;
pub mod packet;
pub mod privilege;
pub mod running;
pub mod rxring;
pub mod steer;
pub mod uring;
pub mod worker;

use std::sync::Arc;

use crate::publish::Versioned;

use crate::conntrack::FlowTable;
use crate::fabric::Fabric;

pub use device::{Device, DeviceError, DeviceManager};

/// How workers do their I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoMode {
    /// epoll, then one `read`/`write` per packet ([`worker::run`]).
    #[default]
    Epoll,
    /// io_uring: reads in flight on every queue, writes submitted in batches ([`uring::run`]).
    Uring,
}

impl std::str::FromStr for IoMode {
    type Err = String;
    fn from_str(s: &str) -> Result<IoMode, String> {
        match s {
            "epoll" => Ok(IoMode::Epoll),
            "uring" | "io_uring" => Ok(IoMode::Uring),
            other => Err(format!("unknown I/O mode {other:?} (epoll, uring)")),
        }
    }
}

/// The virtio-net header in front of every frame on an offloading TUN device.
pub const HDR: usize = tun_rs::VIRTIO_NET_HDR_LEN;

/// What the workers run: a fabric and, by attachment index, the device of each attachment.
#[derive(Debug)]
pub struct Plan {
    pub fabric: Fabric,
    pub devices: Vec<Arc<Device>>,
}

impl Versioned for Plan {
    fn generation(&self) -> u64 {
        self.fabric.generation
    }
    fn set_generation(&mut self, generation: u64) {
        self.fabric.generation = generation;
    }
}

/// What every worker shares besides the plan: the flow table, the clock its timeouts run on,
/// and the way to hand packets addressed to vpced itself to the health checker.
#[derive(Debug)]
pub struct Shared {
    pub flows: FlowTable,
    pub started: std::time::Instant,
    pub local: crossbeam_channel::Sender<LocalPacket>,
    /// Queries for the resolver.
    pub resolver: crossbeam_channel::Sender<LocalPacket>,
    /// The packet capture tap (`vpcectl capture`).
    pub capture: capture::Capture,
    /// The resolver's answers the workers send themselves; `None` while a query log is
    /// written (every query must then reach the resolver thread).
    pub answers: Option<crate::resolver::cache::AnswerCache>,
    /// Devices a worker found gone (a read error other than "no packet"): counted, and the
    /// device manager asked to make them anew (`repair`).
    pub devices_lost: std::sync::atomic::AtomicU64,
    pub repair: std::sync::atomic::AtomicBool,
    /// Which worker's queues carry which flow ([`steer`]); `None`: each worker writes through
    /// its own queues and the kernel's hash alone spreads flows.
    pub steer: Option<steer::Steering>,
    /// The generation each worker runs, and their wake-ups ([`running`]).
    pub running: running::Running,
}

impl Shared {
    /// Seconds since start, the clock of flow timeouts.
    #[inline]
    pub fn now(&self) -> u32 {
        self.started.elapsed().as_secs() as u32
    }

    /// Sends a packet of vpced's own (a DNS answer, a forwarded query, a health probe) out
    /// of `attachment` of `plan`: counted as the attachment's transmit on `lane` and offered
    /// to the capture tap as leaving it, like a forwarded packet. Whether it was sent.
    pub fn send_own(
        &self,
        plan: &Plan,
        attachment: u32,
        packet: &[u8],
        lane: crate::stats::Lane,
    ) -> bool {
        let (Some(dev), Some(a)) = (
            plan.devices.get(attachment as usize),
            plan.fabric.attachments.get(attachment as usize),
        ) else {
            return false;
        };
        if dev.send_plain(0, packet).is_err() {
            return false;
        }
        a.counters.tx(lane, packet.len());
        self.capture.offer(&a.id, capture::Point::Out, packet);
        true
    }
}

/// Bytes of a local packet kept: headers and the start of the payload (enough for a health
/// check's status line).
pub const LOCAL_BYTES: usize = 512;

/// A packet for vpced itself, copied into a fixed-size buffer (no allocation; the plan it
/// arrived under travels as one more reference).
#[derive(Debug, Clone)]
pub struct LocalPacket {
    /// Length of the packet; `bytes` holds at most [`LOCAL_BYTES`] of it.
    pub len: usize,
    pub bytes: [u8; LOCAL_BYTES],
    /// The attachment it came in on, in the plan of `generation`.
    pub ingress: u32,
    pub generation: u64,
    pub service: crate::pipeline::LocalService,
    /// The plan the packet arrived under (its attachment indexes are that plan's).
    pub plan: Option<Arc<Plan>>,
}

impl LocalPacket {
    pub fn new(packet: &[u8]) -> LocalPacket {
        let mut bytes = [0u8; LOCAL_BYTES];
        let n = packet.len().min(LOCAL_BYTES);
        bytes[..n].copy_from_slice(&packet[..n]);
        LocalPacket {
            len: packet.len(),
            bytes,
            ingress: 0,
            generation: 0,
            service: crate::pipeline::LocalService::HealthChecker,
            plan: None,
        }
    }

    /// The bytes kept.
    pub fn kept(&self) -> &[u8] {
        &self.bytes[..self.len.min(LOCAL_BYTES)]
    }
}
