//! TUN devices of attachments, and their set-up in network namespaces.
//!
//! Each attachment gets one multi-queue TUN device (`IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE`)
//! with the offloads on (`IFF_VNET_HDR`, `TUNSETOFFLOAD` with checksum, TSO4/6 and USO: every
//! frame starts with a `virtio_net_hdr`, and the kernel hands over — and takes — TCP and UDP
//! superpackets of up to 64 KiB with partial checksums) and one queue per worker, created in
//! vpced's own namespace, then moved into the attachment's namespace and configured there over
//! rtnetlink ([`super::netlink`]; namespaces by [`super::netns`]): loopback up, no IPv6
//! autoconfiguration (no link-local chatter into the fabric), the attachment's addresses,
//! default routes through the device, service addresses on loopback. The device disappears when
//! its last queue is closed, which is how removal and shutdown delete it.
//!
//! A reload keeps a device whose attachment still exists and only reconfigures it if its
//! addresses or namespace changed; its queues, and the packets in them, are untouched.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;

use tun_rs::{DeviceBuilder, SyncDevice};

use crate::io::netlink::{Netlink, NetlinkError};
use crate::io::netns::{self, NetnsError};
use crate::io::packet::{Link, Uplink};

use crate::fabric::{Fabric, LinkConfig};

use crate::fabric::MTU;

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("cannot create TUN device {name} for {id}: {source} (vpced needs root, or CAP_NET_ADMIN, and /dev/net/tun)")]
    Create {
        name: String,
        id: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    #[error(transparent)]
    Netns(#[from] NetnsError),
}

/// One attachment's device: its queues (one per worker, non-blocking) and where it lives.
pub struct Device {
    pub id: String,
    pub name: String,
    /// The namespace the device was moved into (prefix applied), if any.
    pub namespace: Option<String>,
    pub queues: Vec<Queue>,
    /// A worker found the device gone; the next sync makes it anew.
    lost: std::sync::atomic::AtomicBool,
}

/// One worker's queue of a device: a TUN queue, or a packet socket on an uplink.
pub enum Queue {
    Tun(SyncDevice),
    Uplink(Uplink),
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Queue::Tun(_) => f.write_str("Tun"),
            Queue::Uplink(u) => write!(f, "Uplink({})", u.link.interface),
        }
    }
}

impl Device {
    /// Marks the device gone; `true` the first time (so that one worker logs it).
    pub fn mark_lost(&self) -> bool {
        !self.lost.swap(true, std::sync::atomic::Ordering::Relaxed)
    }

    pub fn is_lost(&self) -> bool {
        self.lost.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the device is still there: a TUN device deleted from outside (`ip link del`)
    /// leaves its queues detached, and asking a detached queue its name fails (`EBADFD`).
    pub fn alive(&self) -> bool {
        match self.queues.first() {
            Some(Queue::Tun(q)) => q.name().is_ok() && !self.is_lost(),
            _ => !self.is_lost(),
        }
    }
}

impl Queue {
    /// Reads one frame: virtio header and IP packet (TUN), or virtio header and Ethernet frame
    /// (uplink; see [`crate::io::packet::to_ip_frame`]).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Queue::Tun(t) => t.recv(buf),
            Queue::Uplink(u) => u.recv(buf),
        }
    }

    /// Sends a frame: virtio header and IP packet.
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        match self {
            Queue::Tun(t) => t.send(frame),
            Queue::Uplink(u) => u.send(frame),
        }
    }
}

impl std::os::fd::AsFd for Queue {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Queue::Tun(t) => t.as_fd(),
            Queue::Uplink(u) => u.as_fd(),
        }
    }
}

impl Device {
    /// Sends a complete packet (no offload: checksums done, one segment) out of queue
    /// `queue`, behind an empty virtio-net header. For vpced's own packets (health probes,
    /// DNS answers); workers write their frames directly.
    pub fn send_plain(&self, queue: usize, packet: &[u8]) -> io::Result<usize> {
        const EMPTY: [u8; crate::io::HDR] = [0; crate::io::HDR];
        match &self.queues[queue] {
            Queue::Tun(t) => t.send_vectored(&[io::IoSlice::new(&EMPTY), io::IoSlice::new(packet)]),
            Queue::Uplink(u) => u.send_split(&EMPTY, packet),
        }
    }
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("queues", &self.queues.len())
            .finish()
    }
}

pub fn netns_exists(name: &str) -> bool {
    netns::exists(name)
}

/// Makes room for device `name` in namespace `ns`: a vpced killed a moment ago (SIGKILL, a
/// crash) leaves its devices there until the kernel has closed the dead process's queues,
/// and a device of the same name stops this one from moving in ("An interface with the same
/// name exists in the target netns"; issue 19). Waits up to two seconds for it to go with its
/// process, then deletes it: names are vpced's own (prefix and attachment), so whatever holds
/// this one is a predecessor.
fn take_over(ns: &str, name: &str) -> Result<(), DeviceError> {
    let mut there = Netlink::open(Some(ns))?;
    for _ in 0..20 {
        if there.index(name)?.is_none() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    tracing::warn!(
        device = name,
        namespace = ns,
        "a device of this name is still there (left by a previous vpced?); replacing it"
    );
    Ok(there.delete_link(name)?)
}

/// Creates, keeps and removes the devices of attachments across reloads.
#[derive(Debug)]
pub struct DeviceManager {
    workers: usize,
    netns_prefix: String,
    devices: BTreeMap<String, (Arc<Device>, LinkConfig)>,
    /// Attachments on existing interfaces.
    uplinks: BTreeMap<String, (Arc<Device>, crate::fabric::Uplink)>,
    /// Namespaces this manager created (deleted on shutdown).
    created_namespaces: Vec<String>,
    /// Uplink sockets read through receive rings ([`crate::io::rxring`]).
    uplink_rings: bool,
}

impl DeviceManager {
    pub fn new(workers: usize, netns_prefix: impl Into<String>) -> DeviceManager {
        DeviceManager {
            workers: workers.max(1),
            netns_prefix: netns_prefix.into(),
            devices: BTreeMap::new(),
            uplinks: BTreeMap::new(),
            created_namespaces: Vec::new(),
            uplink_rings: true,
        }
    }

    /// Whether uplink sockets made from now on read through receive rings (the default; the
    /// io_uring workers read with `read(2)` and need them without).
    pub fn with_uplink_rings(mut self, rings: bool) -> DeviceManager {
        self.uplink_rings = rings;
        self
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The namespace name vpced uses for a configured namespace.
    pub fn namespace_name(&self, configured: &str) -> String {
        format!("{}{configured}", self.netns_prefix)
    }

    /// Makes the devices match `fabric`'s attachments and returns them by attachment index.
    /// On error, devices created by this call are removed again and existing ones are kept.
    pub fn sync(&mut self, fabric: &Fabric) -> Result<Vec<Arc<Device>>, DeviceError> {
        let mut out = Vec::with_capacity(fabric.attachments.len());
        let mut created: Vec<String> = Vec::new();
        let result = (|| {
            for a in &fabric.attachments {
                if let Some(u) = &a.uplink {
                    let dev = match self.uplinks.get(&a.id) {
                        Some((d, same)) if same == u && d.alive() => d.clone(),
                        _ => {
                            let d = Arc::new(self.open_uplink(&a.id, u)?);
                            self.uplinks.insert(a.id.clone(), (d.clone(), u.clone()));
                            d
                        }
                    };
                    out.push(dev);
                    continue;
                }
                let ns = a.namespace.as_deref().map(|n| self.namespace_name(n));
                let existing = self.devices.get(&a.id).map(|(d, l)| (d.clone(), l.clone()));
                let dev = match existing {
                    Some((d, link)) if d.namespace == ns && link == a.link && d.alive() => d,
                    Some((d, _)) if d.namespace == ns && d.alive() => {
                        // Same place, new addresses: reconfigure in place.
                        self.configure(&d, &a.link, true)?;
                        self.devices
                            .insert(a.id.clone(), (d.clone(), a.link.clone()));
                        d
                    }
                    _ => {
                        // New attachment, moved to another namespace, or deleted from
                        // outside: a fresh device. The old one (same name) must go first.
                        self.devices.remove(&a.id);
                        let d = Arc::new(self.create(&a.id, &a.device, ns)?);
                        created.push(a.id.clone());
                        self.configure(&d, &a.link, false)?;
                        self.devices
                            .insert(a.id.clone(), (d.clone(), a.link.clone()));
                        d
                    }
                };
                out.push(dev);
            }
            Ok(())
        })();
        if let Err(e) = result {
            for id in created {
                self.devices.remove(&id);
            }
            return Err(e);
        }
        // Forget attachments that are gone; their devices close once no plan holds them.
        let keep: std::collections::BTreeSet<&str> =
            fabric.attachments.iter().map(|a| a.id.as_str()).collect();
        self.devices.retain(|id, _| keep.contains(id.as_str()));
        self.uplinks.retain(|id, _| keep.contains(id.as_str()));
        Ok(out)
    }

    /// Packet sockets on an existing interface, one per worker in one fanout group, sharing
    /// what they know of the link.
    fn open_uplink(&mut self, id: &str, u: &crate::fabric::Uplink) -> Result<Device, DeviceError> {
        let err = |source| DeviceError::Create {
            name: u.interface.clone(),
            id: id.to_string(),
            source,
        };
        // A fanout group per interface.
        let group = (crate::hash::fnv1a(u.interface.as_bytes()) & 0xffff) as u16;
        let (first, mac) = Uplink::open(&u.interface, group, self.uplink_rings).map_err(err)?;
        let link = Arc::new(Link::new(&u.interface, mac, u.next_hop, u.answers.clone()));
        let mut queues = vec![Queue::Uplink(first.with_link(link.clone()))];
        for _ in 1..self.workers {
            let (q, _) = Uplink::open(&u.interface, group, self.uplink_rings).map_err(err)?;
            queues.push(Queue::Uplink(q.with_link(link.clone())));
        }
        Netlink::open(None)?.set_up(&u.interface, None)?;
        tracing::info!(
            interface = %u.interface,
            sockets = queues.len(),
            read = if self.uplink_rings { "receive rings" } else { "read(2)" },
            "uplink opened"
        );
        // Ask for the next hop at once, so that the first packet out finds it known.
        if let Some(Queue::Uplink(q)) = queues.first() {
            let _ = q.send_ethernet(&crate::io::packet::arp_request(&link));
        }
        Ok(Device {
            id: id.to_string(),
            name: u.interface.clone(),
            namespace: None,
            queues,
            lost: Default::default(),
        })
    }

    fn create(&mut self, id: &str, name: &str, ns: Option<String>) -> Result<Device, DeviceError> {
        let err = |source| DeviceError::Create {
            name: name.to_string(),
            id: id.to_string(),
            source,
        };
        if let Some(ns) = ns.as_deref().filter(|ns| netns_exists(ns)) {
            take_over(ns, name)?;
        }
        let first = DeviceBuilder::new()
            .name(name)
            .multi_queue(true)
            .offload(true)
            .mtu(MTU)
            .build_sync()
            .map_err(err)?;
        let mut queues = Vec::with_capacity(self.workers);
        for _ in 1..self.workers {
            queues.push(first.try_clone().map_err(err)?);
        }
        queues.insert(0, first);
        for q in &queues {
            q.set_nonblocking(true).map_err(err)?;
        }
        let queues = queues.into_iter().map(Queue::Tun).collect();
        // No IPv6 autoconfiguration: no link-local address, no router solicitations.
        let mut here = Netlink::open(None)?;
        here.no_ipv6_autoconf(name)?;
        match &ns {
            Some(ns) => {
                if !netns::exists(ns) {
                    netns::add(ns)?;
                    self.created_namespaces.push(ns.clone());
                }
                here.move_to(name, netns::open(ns)?.as_fd())?;
                let mut there = Netlink::open(Some(ns))?;
                // The move resets the setting to the namespace's default.
                there.no_ipv6_autoconf(name)?;
                there.set_up("lo", None)?;
                there.set_alias(name, id)?;
            }
            None => here.set_alias(name, id)?,
        }
        Ok(Device {
            id: id.to_string(),
            name: name.to_string(),
            namespace: ns,
            queues,
            lost: Default::default(),
        })
    }

    /// Addresses, link state and routes. Devices without a namespace are only brought up:
    /// their addresses would otherwise land in vpced's own namespace.
    fn configure(
        &self,
        d: &Device,
        link: &LinkConfig,
        reconfigure: bool,
    ) -> Result<(), DeviceError> {
        let ns = d.namespace.as_deref();
        let name = d.name.as_str();
        let mut nl = Netlink::open(ns)?;
        nl.set_up(name, Some(u32::from(link.mtu)))?;
        if ns.is_none() {
            return Ok(());
        }
        if reconfigure {
            nl.flush_addresses(name)?;
        }
        for a in &link.addresses {
            nl.replace_address(name, a.addr(), a.prefix_len())?;
        }
        for &a in &link.loopback {
            let host = if a.is_ipv4() { 32 } else { 128 };
            nl.replace_address("lo", a, host)?;
        }
        if link.default_v4 {
            nl.replace_default_route(name, false)?;
        }
        if link.default_v6 {
            nl.replace_default_route(name, true)?;
        }
        Ok(())
    }

    /// Drops every device and deletes the namespaces this manager created.
    pub fn shutdown(&mut self) {
        self.devices.clear();
        for ns in self.created_namespaces.drain(..) {
            if let Err(e) = netns::delete(&ns) {
                tracing::warn!(namespace = %ns, error = %e, "cannot delete namespace");
            }
        }
    }

    pub fn created_namespaces(&self) -> &[String] {
        &self.created_namespaces
    }
}

/// Moves the calling thread — and every thread and process it starts afterwards — into the
/// network namespace `name`, creating it if it does not exist. Returns whether it was created.
/// Call it before any other thread starts: `setns` affects only the caller.
pub fn enter_netns(name: &str) -> Result<bool, DeviceError> {
    let created = !netns::exists(name);
    if created {
        netns::add(name)?;
    }
    netns::enter(name)?;
    // Loopback up: what listens on 127.0.0.1 in the namespace (metrics) is reachable there.
    Netlink::open(None)?.set_up("lo", None)?;
    Ok(created)
}
