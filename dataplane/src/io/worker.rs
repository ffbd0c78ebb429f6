//! The packet loop of one worker.
//!
//! Per wakeup: load the current plan (one atomic load; re-register the queues with epoll and
//! report the generation run ([`super::running`]) only when it changed), wait for readable
//! queues or the wake-up a publisher sends, load the plan again if one was published
//! meanwhile, and from each ready queue read at
//! most [`BATCH`] packets into the worker's own buffer, run the pipeline on each and write it to
//! the egress device's queue of the flow's owner ([`super::steer`]; this worker's own queue
//! when flows are not steered). Bounded work per wakeup keeps one busy attachment
//! from starving the others; nothing is allocated per packet and nothing is locked.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::publish::SnapshotCell;
use rustix::event::epoll;
use rustix::event::Timespec;

use super::device::Queue;
use super::{packet, LocalPacket, Plan, Shared};
use tun_rs::VirtioNetHdr;

use crate::fabric::Fabric;
use crate::io::capture::Point;
use crate::pipeline::{process_in, Ctx, DropReason, LocalService, NoObserver, Offload, Verdict};
use crate::wire::udp_gso;

/// Packets read from one queue per wakeup.
pub const BATCH: usize = 64;

/// How long a wait may block, so that a stop request or a new plan is seen promptly even when
/// no packet arrives.
pub const WAKEUP: Duration = Duration::from_millis(50);

/// Largest packet a worker reads: a superpacket of the TUN offloads (64 KiB).
const BUFFER: usize = 65536;
/// Room after a packet for what the pipeline may add (GENEVE 68 bytes, a PROXY header).
const ROOM: usize = 256;
pub use super::HDR;
/// Headers of a superpacket kept aside, to undo a path's rewrites before splitting it.
const HEAD: usize = 256;
/// Segments one superpacket may split into (64 KiB at TCP's smallest MSS, 536).
const MAX_SEGMENTS: usize = 128;
/// Largest segment: the jumbo MTU of appliance devices, with room.
const SEGMENT: usize = 9216 + ROOM;

/// Flow-table slots a worker sweeps for expired flows per [`SWEEP_EVERY`] (51 k slots a
/// second per worker: a million-flow table in about 20 s; lookups remove the expired entries
/// they meet in between). Per wakeup, it cost 5 % of a busy worker (profile in BENCHMARKS.md).
pub(super) const SWEEP: usize = 512;
pub(super) const SWEEP_EVERY: Duration = Duration::from_millis(10);

// virtio-net header values (linux/virtio_net.h, an ABI).
const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;
const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;

/// A worker's buffers, allocated once at start: nothing is allocated per packet.
#[derive(Default)]
pub struct Buffers {
    /// virtio-net header, packet (or superpacket), room to grow: [`FRAME`] bytes.
    pub frame: Frame,
    pub work: Work,
}

/// Bytes of a frame buffer: virtio-net header, the largest packet read, room to grow.
pub const FRAME: usize = HDR + BUFFER + ROOM;
/// Bytes a read may fill (the room stays free for what the pipeline adds).
pub const READ: usize = HDR + BUFFER;

/// One frame buffer of [`FRAME`] bytes.
pub struct Frame(pub Box<[u8]>);

impl Default for Frame {
    fn default() -> Self {
        Frame(vec![0u8; FRAME].into_boxed_slice())
    }
}

impl std::ops::Deref for Frame {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::DerefMut for Frame {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

/// What deciding a frame needs besides the frame: a superpacket's headers kept aside, the
/// segments it may split into, the UDP train.
pub struct Work {
    head: [u8; HEAD],
    segments: Vec<Vec<u8>>,
    sizes: Vec<usize>,
    train: Train,
}

impl Default for Work {
    fn default() -> Self {
        Work {
            head: [0u8; HEAD],
            segments: vec![vec![0u8; HDR + SEGMENT]; MAX_SEGMENTS],
            sizes: vec![0; MAX_SEGMENTS],
            train: Train {
                frame: vec![0u8; HDR + BUFFER],
                egress: 0,
                queue: None,
                len: 0,
                seg: 0,
                count: 0,
                closed: false,
                first: VirtioNetHdr::default(),
            },
        }
    }
}

/// Datagrams of one UDP flow (IPv4) for one egress, gathered from one batch of reads to leave
/// as a single UDP GSO superpacket: one write instead of up to [`TRAIN_MAX`], segmented again
/// on the far side — the write half of the offloads (what GRO does in the kernel). Only
/// packets that follow each other are gathered, so no flow's order changes.
struct Train {
    /// virtio-net header, then the first datagram's IPv4 and UDP headers and every payload.
    frame: Vec<u8>,
    egress: u32,
    /// The worker whose queue it leaves through (`None`: this worker's).
    queue: Option<usize>,
    /// IP length so far.
    len: usize,
    /// Payload bytes per datagram (the GSO size).
    seg: usize,
    count: usize,
    /// A shorter datagram ended it (it can only be the last segment).
    closed: bool,
    /// The virtio header the first datagram would have left with alone.
    first: VirtioNetHdr,
}

/// Datagrams in one train (the kernel takes more UDP GSO segments than this).
const TRAIN_MAX: usize = 64;
/// virtio-net's UDP segmentation type (linux/virtio_net.h).
pub(super) const VIRTIO_NET_HDR_GSO_UDP_L4: u8 = 5;

impl Train {
    /// The payload length of `pkt` if it may ride in a train: IPv4 without options, UDP, not a
    /// fragment, one segment.
    fn eligible(pkt: &[u8], h: &VirtioNetHdr) -> Option<usize> {
        if h.gso_type != VIRTIO_NET_HDR_GSO_NONE {
            return None;
        }
        udp_gso::eligible(pkt)
    }

    /// Whether `pkt` (payload `seg` bytes) continues this train: same egress, addresses,
    /// ports, TOS, TTL and flags; not longer than the train's datagrams.
    fn continues(&self, egress: u32, pkt: &[u8], seg: usize) -> bool {
        let t = &self.frame[HDR..];
        self.count > 0
            && !self.closed
            && self.egress == egress
            && self.count < TRAIN_MAX
            && seg <= self.seg
            && self.len + seg <= usize::from(u16::MAX)
            && udp_gso::same_headers(pkt, t)
    }

    /// Sends what the train holds: alone as it came, or as one UDP GSO superpacket.
    fn flush<O: Output>(&mut self, fabric: &Fabric, cx: &Ctx<'_>, out: &mut O) {
        if self.count == 0 {
            return;
        }
        let (count, seg, len) = (self.count, self.seg, self.len);
        self.count = 0;
        let h = if count == 1 {
            self.first
        } else {
            udp_gso::finish(&mut self.frame[HDR..HDR + len], len);
            VirtioNetHdr {
                flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
                gso_type: VIRTIO_NET_HDR_GSO_UDP_L4,
                hdr_len: udp_gso::HEADERS as u16,
                gso_size: seg as u16,
                csum_start: 20, // the UDP header, after IPv4's 20 bytes
                csum_offset: 6,
            }
        };
        let _ = h.encode(&mut self.frame[..HDR]);
        let counters = &fabric.attachments[self.egress as usize].counters;
        match out.send(self.egress, self.queue, &self.frame[..HDR + len]) {
            Ok(_) => {
                // Per datagram, as they were read.
                for k in 0..count {
                    let last = len - 20 - 8 - (count - 1) * seg;
                    counters.tx(
                        cx.lane,
                        udp_gso::HEADERS + if k + 1 < count { seg } else { last },
                    );
                }
            }
            Err(_) => {
                for _ in 0..count {
                    fabric
                        .registry
                        .drop_packet(cx.lane, DropReason::EgressError);
                }
            }
        }
    }
}

/// Sends what the worker's UDP train holds (at the end of each batch of reads).
pub fn flush<O: Output>(fabric: &Fabric, cx: &Ctx<'_>, work: &mut Work, out: &mut O) {
    work.train.flush(fabric, cx, out);
}

/// Where a worker's decided packets go: the devices' queues, or in tests a recorder.
pub trait Output {
    /// Sends `frame` (virtio-net header and packet) out of attachment `egress`, through worker
    /// `queue`'s queue of it (`None`: this worker's own).
    fn send(&mut self, egress: u32, queue: Option<usize>, frame: &[u8]) -> io::Result<usize>;
    /// The flow of `packet` as read, before it is decided, when this output steers flows to
    /// workers ([`super::steer`]); `None` otherwise.
    fn read_flow(&self, _packet: &[u8]) -> Option<u64> {
        None
    }
    /// The worker whose queue carries `packet` (as it leaves) of the flow read as `read`.
    fn queue_for(&self, _read: Option<u64>, _packet: &[u8]) -> Option<usize> {
        None
    }
    /// Hands a packet addressed to vpced itself to the service that takes it.
    fn local(&mut self, packet: &[u8], ingress: u32, service: LocalService);
    /// The resolver's answers a worker may send itself, if any.
    fn answers(&self) -> Option<&crate::resolver::cache::AnswerCache> {
        None
    }
    /// Shows a packet at `point` of `attachment` to a running capture (`io::capture`).
    fn tap(&mut self, _attachment: u32, _point: Point, _packet: &[u8]) {}
}

/// Decides the frame of `n` bytes in `bufs.frame` (virtio-net header, then the packet) that
/// arrived on `ingress`, and sends what leaves through `out`.
///
/// The virtio header says how the kernel handed the packet over ([`Offload`]): a partial
/// checksum is recomputed from the packet that leaves (it depends on the pseudo-header only),
/// and a superpacket is decided once and leaves whole, with its segmentation asked of the
/// egress device's kernel side — unless the path cannot carry it whole ([`Verdict::Split`]):
/// then its headers are restored, it is split into segments with complete checksums, and
/// each is decided on its own.
pub fn handle_frame<O: Output>(
    fabric: &Fabric,
    cx: &Ctx<'_>,
    ingress: u32,
    bufs: &mut Buffers,
    n: usize,
    out: &mut O,
) {
    handle_in(fabric, cx, ingress, &mut bufs.frame, &mut bufs.work, n, out)
}

/// [`handle_frame`] on any frame buffer (at least [`FRAME`] bytes: a ring's read slot).
pub fn handle_in<O: Output>(
    fabric: &Fabric,
    cx: &Ctx<'_>,
    ingress: u32,
    frame: &mut [u8],
    bufs: &mut Work,
    n: usize,
    out: &mut O,
) {
    if n <= HDR {
        fabric.registry.drop_packet(
            cx.lane,
            DropReason::Malformed(crate::wire::WireError::Truncated),
        );
        return;
    }
    let Ok(hdr) = VirtioNetHdr::decode(&frame[..HDR]) else {
        return;
    };
    let offload = Offload {
        partial_checksum: hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0,
        superpacket: hdr.gso_type & !VIRTIO_NET_HDR_GSO_ECN != VIRTIO_NET_HDR_GSO_NONE,
    };
    let len = n - HDR;
    let kept = if offload.superpacket {
        let k = usize::from(hdr.hdr_len).clamp(40, HEAD).min(len);
        bufs.head[..k].copy_from_slice(&frame[HDR..HDR + k]);
        k
    } else {
        0
    };
    out.tap(ingress, Point::In, &frame[HDR..n]);
    let read = out.read_flow(&frame[HDR..n]);
    let pcx = Ctx { offload, ..*cx };
    let v = process_in(
        fabric,
        &pcx,
        ingress,
        &mut frame[HDR..],
        len,
        &mut NoObserver,
    );
    match v {
        Verdict::Forward { egress, len } => {
            let h = leaving(&mut frame[HDR..HDR + len], hdr, offload);
            out.tap(ingress, Point::Rewritten, &frame[HDR..HDR + len]);
            out.tap(egress, Point::Out, &frame[HDR..HDR + len]);
            let queue = out.queue_for(read, &frame[HDR..HDR + len]);
            emit(
                fabric,
                cx,
                out,
                &mut bufs.train,
                (egress, queue),
                &mut frame[..HDR + len],
                h,
            );
        }
        Verdict::Local {
            len,
            service: LocalService::Resolver(vpc),
        } if !offload.superpacket => {
            let hit = out.answers().and_then(|cache| {
                crate::resolver::cache::answer_in_place(
                    cache,
                    fabric.generation,
                    vpc,
                    &mut frame[HDR..],
                    len,
                )
            });
            match hit {
                Some((n, rcode)) => {
                    fabric.registry.dns.answered_from_cache(rcode);
                    out.tap(ingress, Point::Out, &frame[HDR..HDR + n]);
                    emit(
                        fabric,
                        cx,
                        out,
                        &mut bufs.train,
                        (ingress, None),
                        &mut frame[..HDR + n],
                        VirtioNetHdr::default(),
                    );
                }
                None => out.local(&frame[HDR..HDR + len], ingress, LocalService::Resolver(vpc)),
            }
        }
        Verdict::Local { len, service } => out.local(&frame[HDR..HDR + len], ingress, service),
        Verdict::Split => {
            frame[HDR..HDR + kept].copy_from_slice(&bufs.head[..kept]);
            let v6 = frame[HDR] >> 4 == 6;
            let Ok(count) = tun_rs::gso_split(
                &mut frame[HDR..HDR + len],
                hdr,
                &mut bufs.segments,
                &mut bufs.sizes,
                HDR,
                v6,
            ) else {
                fabric.registry.drop_packet(
                    cx.lane,
                    DropReason::Malformed(crate::wire::WireError::BadTransportHeader),
                );
                return;
            };
            // The superpacket was counted whole up to where it had to be split: its segments
            // count only from there (`stats::SEGMENT`).
            let scx = Ctx {
                lane: cx.lane | crate::stats::SEGMENT,
                ..*cx
            };
            // The segments are one flow: its queue is asked once, for the first that leaves.
            let mut queue: Option<Option<usize>> = None;
            for i in 0..count {
                let seg = &mut bufs.segments[i];
                let size = bufs.sizes[i];
                match process_in(
                    fabric,
                    &scx,
                    ingress,
                    &mut seg[HDR..],
                    size,
                    &mut NoObserver,
                ) {
                    Verdict::Forward { egress, len } => {
                        out.tap(ingress, Point::Rewritten, &seg[HDR..HDR + len]);
                        out.tap(egress, Point::Out, &seg[HDR..HDR + len]);
                        let queue =
                            *queue.get_or_insert_with(|| out.queue_for(read, &seg[HDR..HDR + len]));
                        emit(
                            fabric,
                            cx,
                            out,
                            &mut bufs.train,
                            (egress, queue),
                            &mut seg[..HDR + len],
                            VirtioNetHdr::default(),
                        );
                    }
                    Verdict::Local { len, service } => {
                        out.local(&seg[HDR..HDR + len], ingress, service)
                    }
                    Verdict::Split | Verdict::Drop(_) => {}
                }
            }
        }
        Verdict::Drop(_) => {}
    }
}

/// The virtio-net header of a packet that leaves, from the one it arrived with: a partial
/// checksum rewritten for the packet as it now is, a superpacket's segmentation kept.
fn leaving(pkt: &mut [u8], arrived: VirtioNetHdr, offload: Offload) -> VirtioNetHdr {
    let mut h = VirtioNetHdr::default();
    if !(offload.partial_checksum || offload.superpacket) {
        return h;
    }
    let Ok(p) = crate::wire::parse(pkt) else {
        return h;
    };
    if let Some((start, field)) = crate::wire::partial_checksum(pkt, &p) {
        h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h.csum_start = start;
        h.csum_offset = field;
        if offload.superpacket {
            let l4 = usize::from(start);
            let th = if p.protocol == crate::wire::proto::TCP {
                crate::wire::tcp_edit::header_len(&pkt[l4..])
            } else {
                8
            };
            h.gso_type = gso_type_of(arrived.gso_type, p.is_ipv4());
            h.gso_size = arrived.gso_size;
            h.hdr_len = (l4 + th) as u16;
        }
    }
    h
}

/// The segmentation type of a TCP superpacket that may have changed family on the way (a
/// dual-stack load balancer translating between its client's and its target's): TCPv4 or
/// TCPv6 as the packet now is, the ECN flag kept. Other types are family-neutral.
fn gso_type_of(arrived: u8, v4: bool) -> u8 {
    match arrived & !VIRTIO_NET_HDR_GSO_ECN {
        VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_TCPV6 => {
            let t = if v4 {
                VIRTIO_NET_HDR_GSO_TCPV4
            } else {
                VIRTIO_NET_HDR_GSO_TCPV6
            };
            t | (arrived & VIRTIO_NET_HDR_GSO_ECN)
        }
        _ => arrived,
    }
}

/// Sends a decided frame out of attachment `to.0` through worker `to.1`'s queue, or gathers
/// it into the worker's UDP train.
fn emit<O: Output>(
    fabric: &Fabric,
    cx: &Ctx<'_>,
    out: &mut O,
    train: &mut Train,
    to: (u32, Option<usize>),
    frame: &mut [u8],
    h: VirtioNetHdr,
) {
    let (egress, queue) = to;
    let pkt = &frame[HDR..];
    let Some(seg) = Train::eligible(pkt, &h) else {
        train.flush(fabric, cx, out);
        return send(fabric, cx, out, to, frame, h);
    };
    if train.continues(egress, pkt, seg) && train.queue == queue {
        let at = HDR + train.len;
        train.frame[at..at + seg].copy_from_slice(udp_gso::payload(pkt));
        train.len += seg;
        train.count += 1;
        train.closed = seg < train.seg;
        return;
    }
    train.flush(fabric, cx, out);
    train.frame[HDR..HDR + pkt.len()].copy_from_slice(pkt);
    train.egress = egress;
    train.queue = queue;
    train.len = pkt.len();
    train.seg = seg;
    train.count = 1;
    train.closed = false;
    train.first = h;
}

fn send<O: Output>(
    fabric: &Fabric,
    cx: &Ctx<'_>,
    out: &mut O,
    (egress, queue): (u32, Option<usize>),
    frame: &mut [u8],
    h: VirtioNetHdr,
) {
    let _ = h.encode(&mut frame[..HDR]);
    match out.send(egress, queue, frame) {
        Ok(_) => fabric.attachments[egress as usize]
            .counters
            .tx(cx.lane, frame.len() - HDR),
        Err(_) => fabric
            .registry
            .drop_packet(cx.lane, DropReason::EgressError),
    }
}

/// The devices of a plan, from worker `index`'s queues: written directly, or through the
/// worker's io_uring ([`super::uring`]).
pub(super) struct Queues<'a> {
    plan: &'a Arc<Plan>,
    index: usize,
    shared: &'a Shared,
    ring: Option<&'a mut super::uring::Submit>,
}

impl<'a> Queues<'a> {
    pub(super) fn new(
        plan: &'a Arc<Plan>,
        index: usize,
        shared: &'a Shared,
        ring: Option<&'a mut super::uring::Submit>,
    ) -> Queues<'a> {
        Queues {
            plan,
            index,
            shared,
            ring,
        }
    }
}

impl Output for Queues<'_> {
    fn send(&mut self, egress: u32, queue: Option<usize>, frame: &[u8]) -> io::Result<usize> {
        let queues = &self.plan.devices[egress as usize].queues;
        let queue = queue
            .and_then(|q| queues.get(q))
            .unwrap_or(&queues[self.index]);
        match self.ring.as_deref_mut() {
            Some(ring) => ring.send(queue, egress, frame),
            None => queue.send(frame),
        }
    }

    #[inline]
    fn read_flow(&self, packet: &[u8]) -> Option<u64> {
        self.shared.steer.as_ref()?.flow(packet)
    }

    #[inline]
    fn queue_for(&self, read: Option<u64>, packet: &[u8]) -> Option<usize> {
        self.shared.steer.as_ref()?.owner(read, packet)
    }

    #[inline]
    fn tap(&mut self, attachment: u32, point: Point, packet: &[u8]) {
        if let Some(a) = self.plan.fabric.attachments.get(attachment as usize) {
            self.shared.capture.offer(&a.id, point, packet);
        }
    }

    fn answers(&self) -> Option<&crate::resolver::cache::AnswerCache> {
        self.shared.answers.as_ref()
    }

    fn local(&mut self, packet: &[u8], ingress: u32, service: LocalService) {
        // A copy of bounded size into the channel's preallocated slot.
        let mut lp = LocalPacket::new(packet);
        lp.ingress = ingress;
        lp.generation = self.plan.fabric.generation;
        lp.service = service;
        lp.plan = Some(self.plan.clone());
        let sent = match service {
            LocalService::HealthChecker => self.shared.local.try_send(lp),
            LocalService::Resolver(_) | LocalService::ResolverUpstream => {
                self.shared.resolver.try_send(lp)
            }
        };
        if sent.is_err() {
            self.plan
                .fabric
                .registry
                .drop_packet(self.index, DropReason::LocalServiceBusy);
        }
    }
}

/// Runs worker `index` until `stop` is set.
pub fn run(
    index: usize,
    plans: Arc<SnapshotCell<Plan>>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    let mut bufs = Buffers::default();
    let mut events: Vec<epoll::Event> = Vec::with_capacity(256);
    let mut plan = plans.load_full();
    let mut epfd = register(index, &plan, &shared)?;
    shared.running.report(index, plan.fabric.generation);
    let mut swept = std::time::Instant::now();
    let timeout = Timespec {
        tv_sec: 0,
        tv_nsec: WAKEUP.as_nanos() as _,
    };
    while !stop.load(Ordering::Relaxed) {
        if plans.generation() != plan.fabric.generation {
            plan = plans.load_full();
            epfd = register(index, &plan, &shared)?;
            shared.running.report(index, plan.fabric.generation);
        }
        events.clear();
        match epoll::wait(
            &epfd,
            rustix::buffer::spare_capacity(&mut events),
            Some(&timeout),
        ) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        if events.iter().any(|ev| ev.data.u64() == WAKE) {
            shared.running.clear(index);
        }
        if plans.generation() != plan.fabric.generation {
            // Published while this worker slept: what it read now is decided under the new
            // plan (the queues stay readable: epoll reports them again).
            continue;
        }
        let cx = Ctx {
            lane: index,
            now: shared.now(),
            flows: &shared.flows,
            offload: Offload::NONE,
        };
        if swept.elapsed() >= SWEEP_EVERY {
            shared.flows.sweep(cx.now, SWEEP);
            swept = std::time::Instant::now();
        }
        let mut out = Queues::new(&plan, index, &shared, None);
        for ev in events.iter().filter(|ev| ev.data.u64() != WAKE) {
            let ingress = ev.data.u64() as usize;
            let Some(dev) = plan.devices.get(ingress) else {
                continue;
            };
            let queue = &dev.queues[index];
            for _ in 0..BATCH {
                let n = match queue.recv(&mut bufs.frame[..READ]) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        // The device is gone (deleted from outside, a detached queue reads
                        // EBADFD for ever): stop watching it at once, and have the device
                        // manager make it anew.
                        let _ = epoll::delete(&epfd, queue);
                        if dev.mark_lost() {
                            tracing::warn!(device = %dev.name, error = %e, "device gone; making it anew");
                            shared.devices_lost.fetch_add(1, Ordering::Relaxed);
                        }
                        shared.repair.store(true, Ordering::Release);
                        break;
                    }
                };
                let n = match queue {
                    Queue::Tun(_) => n,
                    Queue::Uplink(u) => match packet::to_ip_frame(&mut bufs.frame, n) {
                        packet::Received::Ip { len } => len,
                        packet::Received::Arp => {
                            u.handle_arp(&bufs.frame, n);
                            continue;
                        }
                        packet::Received::Other => continue,
                    },
                };
                handle_frame(&plan.fabric, &cx, ingress as u32, &mut bufs, n, &mut out);
            }
            flush(&plan.fabric, &cx, &mut bufs.work, &mut out);
        }
    }
    Ok(())
}

/// The event data of the worker's wake-up eventfd ([`super::running`]).
const WAKE: u64 = u64::MAX;

/// A fresh epoll instance watching this worker's queue of every device (the event data is
/// the attachment index) and its wake-up eventfd ([`WAKE`]).
fn register(index: usize, plan: &Plan, shared: &Shared) -> io::Result<std::os::fd::OwnedFd> {
    let epfd = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    if let Some(wake) = shared.running.wake_fd(index) {
        epoll::add(
            &epfd,
            wake,
            epoll::EventData::new_u64(WAKE),
            epoll::EventFlags::IN,
        )?;
    }
    for (i, dev) in plan.devices.iter().enumerate() {
        epoll::add(
            &epfd,
            &dev.queues[index],
            epoll::EventData::new_u64(i as u64),
            epoll::EventFlags::IN,
        )?;
    }
    Ok(epfd)
}
