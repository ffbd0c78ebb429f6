//! The packet loop of one worker on io_uring: reads kept in flight on every queue, small
//! writes submitted in batches.
//!
//! The epoll loop ([`super::worker::run`]) pays one `read` per packet plus one that finds
//! nothing per ready queue, an `epoll_wait` per wakeup, and one `write` per packet that leaves
//! (UDP trains aside). Here each of the worker's queues has [`DEPTH`] reads in flight, each
//! into a read slot of its own (a frame buffer of [`FRAME`](super::worker::FRAME) bytes: its pages are committed only
//! as far as packets fill them), and one `io_uring_enter` per wakeup both submits everything
//! the previous batch queued and waits for the next completions:
//!
//! 1. a completed read is decided in place in its slot by the same code as the epoll loop
//!    ([`super::worker::handle_in`]);
//! 2. a frame that leaves through a TUN queue and fits a write slot ([`SMALL`] bytes: every
//!    packet that is not a superpacket) is copied there and its write queued; anything else
//!    (superpackets, UDP trains, uplink frames) is written at once with a plain syscall, after
//!    the writes queued before it have been submitted, so that no flow's order changes;
//! 3. the read slot is lent to the kernel again.
//!
//! # Order
//!
//! The reads of one queue complete in the order the kernel ran them — the order of that
//! queue's packets — and completions are handled in ring order; queued writes are submitted
//! in the order they were queued, and a TUN write completes inline, during the submission.
//!
//! # Buffer ownership (the contract io_uring's `unsafe` asks for)
//!
//! The kernel writes a read slot's buffer (and reads a write slot's) after the call that
//! submitted it has returned, until its completion is reaped. Each slot's `lent` flag is set
//! when its entry is pushed and cleared when its completion is reaped; nothing touches a
//! lent buffer, and the buffers are boxed slices that never move or shrink while the ring
//! exists. The wake-up counter (8 bytes, boxed, read from the worker's eventfd so that a
//! published plan is loaded at once: [`super::running`]) follows the same rule under its
//! `wake_lent` flag. The file descriptor an entry names belongs to a device of the plan the
//! worker holds, or is the eventfd, which `Shared` owns and which outlives the ring; before
//! the worker lets go of a plan (a new generation) or of the ring (stop), every read is
//! cancelled and every completion awaited (`Uring::drain`). If that wait fails, the buffers
//! are leaked rather than freed under the kernel.
//!
//! A ring that cannot be made (a kernel without io_uring, `kernel.io_uring_disabled`, a
//! seccomp filter) makes [`run`] return an error; vpced then runs the epoll loop.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use io_uring::{opcode, squeue, types, IoUring};

use super::device::Queue;
use super::worker::{self, Frame, Queues, Work, READ};
use super::{packet, Plan, Shared, HDR};
use crate::pipeline::{Ctx, DropReason, Offload};
use crate::publish::SnapshotCell;
use crate::wire::udp_gso;

/// Reads in flight per queue.
pub const DEPTH: usize = 16;
/// Write slots per worker.
pub const WRITES: usize = 256;
/// Bytes of a write slot: a frame up to this size is copied and batched; a larger one is
/// written at once.
pub const SMALL: usize = 2048;

/// User data: bit 63 set for a write slot, otherwise a read slot; `CANCEL` for the cancel,
/// `WAKE` for the read of the worker's wake-up eventfd ([`super::running`]).
const WRITE_TAG: u64 = 1 << 63;
const CANCEL: u64 = u64::MAX;
const WAKE: u64 = u64::MAX - 1;
/// Errno values (Linux ABI).
const EAGAIN: i32 = 11;
const EINTR: i32 = 4;
const ECANCELED: i32 = 125;

/// A read slot: one frame buffer and the queue it reads.
struct ReadSlot {
    buf: Frame,
    attachment: u32,
    fd: RawFd,
    /// Lent to the kernel: a read is in flight.
    lent: bool,
}

/// What a queued frame was counted as when it was handed over: attachment, packets (the
/// datagrams of a UDP GSO train, else one) and their bytes — taken back, and counted as
/// egress errors, if the write fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sent {
    attachment: u32,
    packets: u32,
    bytes: u32,
}

impl Sent {
    /// What the worker counts for `frame` (virtio-net header, packet) leaving by
    /// `attachment`: a UDP GSO train's datagrams each with its headers, anything else whole.
    fn of(attachment: u32, frame: &[u8]) -> Sent {
        let len = frame.len().saturating_sub(HDR);
        let h = tun_rs::VirtioNetHdr::decode(&frame[..HDR.min(frame.len())]).ok();
        let gso = h.filter(|h| h.gso_type == worker::VIRTIO_NET_HDR_GSO_UDP_L4 && h.gso_size > 0);
        let (packets, bytes) = match gso {
            Some(h) => {
                let payload = len.saturating_sub(udp_gso::HEADERS);
                let n = payload.div_ceil(usize::from(h.gso_size)).max(1);
                (n, payload + n * udp_gso::HEADERS)
            }
            None => (1, len),
        };
        Sent {
            attachment,
            packets: packets as u32,
            bytes: bytes as u32,
        }
    }
}

/// The submission side: the ring and the write slots. What a worker's `Queues` write
/// through.
pub struct Submit {
    ring: IoUring,
    writes: Vec<Box<[u8]>>,
    /// Per write slot: what its frame was counted as when queued ([`Sent`]).
    sent: Vec<Sent>,
    /// Queued writes that failed, reaped and not yet taken back from the counters.
    failed: Vec<Sent>,
    free: Vec<u16>,
    /// Entries pushed and not yet submitted.
    queued: usize,
    /// Reads and writes lent to the kernel (pushed, completion not yet reaped).
    lent: usize,
    lane: usize,
}

impl Submit {
    /// Pushes `entry`, submitting what is queued first if the submission queue is full.
    fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        loop {
            #[allow(unsafe_code)]
            // SAFETY: every entry names a buffer whose `lent` flag (`wake_lent`) the caller
            // has just set (or none: a cancel), and a descriptor of the plan the worker holds
            // (or its eventfd); both stay valid until the entry's completion is reaped (module
            // documentation, "Buffer ownership").
            let pushed = unsafe { self.ring.submission().push(entry) };
            if pushed.is_ok() {
                self.queued += 1;
                return Ok(());
            }
            self.submit()?;
        }
    }

    /// Submits what is queued, without waiting.
    pub fn submit(&mut self) -> io::Result<()> {
        if self.queued > 0 {
            self.ring.submit()?;
            self.queued = 0;
        }
        Ok(())
    }

    /// Takes the writes that failed back from their attachments' transmit counters and
    /// counts them as egress errors, on `lane`.
    fn take_back_failed(&mut self, fabric: &crate::fabric::Fabric, lane: usize) {
        for f in self.failed.drain(..) {
            if let Some(a) = fabric.attachments.get(f.attachment as usize) {
                a.counters.untx(lane, f.packets as usize, f.bytes as usize);
            }
            for _ in 0..f.packets {
                fabric.registry.drop_packet(lane, DropReason::EgressError);
            }
        }
    }

    /// Sends `frame` out of `queue` of attachment `egress`: copied into a write slot and
    /// queued when it is small and the queue a TUN queue, otherwise written now (after the
    /// writes queued before it).
    pub fn send(&mut self, queue: &Queue, egress: u32, frame: &[u8]) -> io::Result<usize> {
        if let Queue::Tun(t) = queue {
            if frame.len() <= SMALL {
                if let Some(w) = self.free.pop() {
                    let slot = usize::from(w);
                    self.writes[slot][..frame.len()].copy_from_slice(frame);
                    self.sent[slot] = Sent::of(egress, frame);
                    let entry = opcode::Write::new(
                        types::Fd(t.as_raw_fd()),
                        self.writes[slot].as_ptr(),
                        frame.len() as u32,
                    )
                    .build()
                    .user_data(WRITE_TAG | slot as u64);
                    self.lent += 1;
                    self.push(&entry)?;
                    return Ok(frame.len());
                }
            }
        }
        self.submit()?;
        queue.send(frame)
    }
}

/// One worker's ring, its read slots and its write slots.
pub struct Uring {
    pub submit: Submit,
    reads: Vec<ReadSlot>,
    /// The wake-up eventfd's counter, read into while `wake_lent`.
    wake: Box<[u8; 8]>,
    wake_lent: bool,
    /// Completions of one wakeup (user data, result), reaped before any is handled.
    done: Vec<(u64, i32)>,
}

impl Uring {
    /// A ring for worker `lane` with room for `queues` queues.
    pub fn new(lane: usize, queues: usize) -> io::Result<Uring> {
        let entries = (queues * DEPTH + WRITES + 8).next_power_of_two().min(32768) as u32;
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_cqsize(entries * 2)
            .build(entries)?;
        let mut u = Uring {
            submit: Submit {
                ring,
                writes: (0..WRITES)
                    .map(|_| vec![0u8; SMALL].into_boxed_slice())
                    .collect(),
                sent: vec![Sent::default(); WRITES],
                failed: Vec::with_capacity(WRITES),
                free: (0..WRITES as u16).collect(),
                queued: 0,
                lent: 0,
                lane,
            },
            reads: Vec::new(),
            wake: Box::new([0; 8]),
            wake_lent: false,
            done: Vec::with_capacity(entries as usize * 2),
        };
        u.reserve(queues);
        Ok(u)
    }

    /// Read slots for `queues` queues (allocated on a plan change, never per packet).
    fn reserve(&mut self, queues: usize) {
        while self.reads.len() < queues * DEPTH {
            self.reads.push(ReadSlot {
                buf: Frame::default(),
                attachment: 0,
                fd: -1,
                lent: false,
            });
        }
    }

    /// Lends [`DEPTH`] read slots to worker `index`'s queue of every live device of `plan`,
    /// and reads the wake-up eventfd `wake`. The ring must be drained (no slot lent).
    fn arm(&mut self, plan: &Plan, index: usize, wake: Option<RawFd>) -> io::Result<()> {
        debug_assert_eq!(self.submit.lent, 0);
        if plan.devices.len() * DEPTH > self.reads.len() {
            let grown = Uring::new(self.submit.lane, plan.devices.len())?;
            // Nothing is lent: the old ring and slots may go.
            *self = grown;
        }
        let mut slot = 0;
        for (a, dev) in plan.devices.iter().enumerate() {
            if dev.is_lost() {
                continue;
            }
            let fd = std::os::fd::AsFd::as_fd(&dev.queues[index]).as_raw_fd();
            for _ in 0..DEPTH {
                self.reads[slot].attachment = a as u32;
                self.reads[slot].fd = fd;
                self.read(slot)?;
                slot += 1;
            }
        }
        self.read_wake(wake)
    }

    /// Lends the wake-up counter to the kernel for a read of `wake`, unless it is lent.
    fn read_wake(&mut self, wake: Option<RawFd>) -> io::Result<()> {
        let Some(fd) = wake.filter(|_| !self.wake_lent) else {
            return Ok(());
        };
        let entry = opcode::Read::new(types::Fd(fd), self.wake.as_mut_ptr(), 8)
            .build()
            .user_data(WAKE);
        self.wake_lent = true;
        self.submit.lent += 1;
        self.submit.push(&entry)
    }

    /// Lends read slot `slot` to the kernel for a read of its queue.
    fn read(&mut self, slot: usize) -> io::Result<()> {
        let r = &mut self.reads[slot];
        debug_assert!(!r.lent);
        let entry = opcode::Read::new(types::Fd(r.fd), r.buf.as_mut_ptr(), READ as u32)
            .build()
            .user_data(slot as u64);
        r.lent = true;
        self.submit.lent += 1;
        self.submit.push(&entry)
    }

    /// Submits what is queued and waits (at most [`worker::WAKEUP`]) for completions; reaps
    /// every completion there is into `done`, returning lent slots.
    fn wait(&mut self, want: usize) -> io::Result<()> {
        let ts = types::Timespec::from(worker::WAKEUP);
        let args = types::SubmitArgs::new().timespec(&ts);
        match self.submit.ring.submitter().submit_with_args(want, &args) {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ) => {}
            Err(e) => return Err(e),
        }
        self.submit.queued = 0;
        self.done.clear();
        for e in self.submit.ring.completion() {
            self.done.push((e.user_data(), e.result()));
        }
        for &(ud, res) in &self.done {
            if ud == CANCEL {
                continue;
            }
            self.submit.lent -= 1;
            if ud == WAKE {
                self.wake_lent = false;
            } else if ud & WRITE_TAG != 0 {
                let slot = (ud & !WRITE_TAG) as usize;
                if res < 0 {
                    // Counted as sent when queued: taken back by `take_back_failed`.
                    let sent = self.submit.sent[slot];
                    self.submit.failed.push(sent);
                }
                self.submit.free.push(slot as u16);
            } else {
                self.reads[ud as usize].lent = false;
            }
        }
        Ok(())
    }

    /// Cancels every read in flight and waits for every completion, handing the reads that
    /// completed with a packet to `packet` (slot, length).
    fn drain(&mut self, mut packet: impl FnMut(&mut Uring, usize, usize)) -> io::Result<()> {
        if self.submit.lent == 0 {
            return Ok(());
        }
        let cancel = opcode::AsyncCancel2::new(types::CancelBuilder::any())
            .build()
            .user_data(CANCEL);
        self.submit.push(&cancel)?;
        while self.submit.lent > 0 {
            self.wait(1)?;
            for k in 0..self.done.len() {
                let (ud, res) = self.done[k];
                if ud != CANCEL && ud & WRITE_TAG == 0 && res > 0 {
                    packet(self, ud as usize, res as usize);
                }
            }
        }
        self.submit.submit()
    }
}

impl Drop for Uring {
    fn drop(&mut self) {
        if self.drain(|_, _, _| {}).is_err() || self.submit.lent > 0 {
            // The kernel may still write them: never free them.
            std::mem::forget(std::mem::take(&mut self.reads));
            std::mem::forget(std::mem::take(&mut self.submit.writes));
            std::mem::forget(std::mem::replace(&mut self.wake, Box::new([0; 8])));
        }
    }
}

/// Whether this kernel lets vpced make its rings (io_uring with the flags [`Uring::new`]
/// asks for); the error says why not.
pub fn available() -> io::Result<()> {
    Uring::new(0, 1).map(drop)
}

/// Runs worker `index` on io_uring until `stop` is set. An error before the first packet
/// (the ring cannot be made) leaves the caller free to run the epoll loop instead.
pub fn run(
    index: usize,
    plans: Arc<SnapshotCell<Plan>>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    let mut plan = plans.load_full();
    let mut u = Uring::new(index, plan.devices.len())?;
    let mut work = Work::default();
    let mut swept = std::time::Instant::now();
    let wake = shared.running.wake_fd(index).map(|fd| fd.as_raw_fd());
    u.arm(&plan, index, wake)?;
    shared.running.report(index, plan.fabric.generation);
    while !stop.load(Ordering::Relaxed) {
        if plans.generation() != plan.fabric.generation {
            let old = plan;
            u.drain(|u, slot, n| {
                let cx = context(index, &shared);
                deliver(u, &old, index, &shared, &cx, &mut work, slot, n);
            })?;
            u.submit.take_back_failed(&old.fabric, index);
            plan = plans.load_full();
            u.arm(&plan, index, wake)?;
            shared.running.report(index, plan.fabric.generation);
        }
        u.wait(1)?;
        u.submit.take_back_failed(&plan.fabric, index);
        let cx = context(index, &shared);
        if swept.elapsed() >= worker::SWEEP_EVERY {
            shared.flows.sweep(cx.now, worker::SWEEP);
            swept = std::time::Instant::now();
        }
        for k in 0..u.done.len() {
            let (ud, res) = u.done[k];
            if ud == CANCEL || ud == WAKE {
                continue; // the wake-up: read again below, the plan loaded on the next turn
            }
            if ud & WRITE_TAG != 0 {
                continue; // reaped in `wait`, a failure kept for `take_back_failed`
            }
            let slot = ud as usize;
            match res {
                n if n >= 0 => deliver(
                    &mut u, &plan, index, &shared, &cx, &mut work, slot, n as usize,
                ),
                e if e == -EAGAIN || e == -EINTR => {}
                e if e == -ECANCELED => continue,
                e => {
                    lost(&plan, &u.reads[slot], &shared, e);
                    continue;
                }
            }
            u.read(slot)?;
        }
        let mut out = Queues::new(&plan, index, &shared, Some(&mut u.submit));
        worker::flush(&plan.fabric, &cx, &mut work, &mut out);
        u.read_wake(wake)?;
    }
    Ok(())
}

fn context<'a>(index: usize, shared: &'a Shared) -> Ctx<'a> {
    Ctx {
        lane: index,
        now: shared.now(),
        flows: &shared.flows,
        offload: Offload::NONE,
    }
}

/// Decides the frame of `n` bytes that read slot `slot` received, under `plan`.
#[allow(clippy::too_many_arguments)]
fn deliver(
    u: &mut Uring,
    plan: &Arc<Plan>,
    index: usize,
    shared: &Shared,
    cx: &Ctx<'_>,
    work: &mut Work,
    slot: usize,
    n: usize,
) {
    let Uring { submit, reads, .. } = u;
    let r = &mut reads[slot];
    let Some(dev) = plan.devices.get(r.attachment as usize) else {
        return;
    };
    let n = match &dev.queues[index] {
        Queue::Tun(_) => n,
        Queue::Uplink(up) => match packet::to_ip_frame(&mut r.buf, n) {
            packet::Received::Ip { len } => len,
            packet::Received::Arp => {
                up.handle_arp(&r.buf, n);
                return;
            }
            packet::Received::Other => return,
        },
    };
    let mut out = Queues::new(plan, index, shared, Some(submit));
    worker::handle_in(
        &plan.fabric,
        cx,
        r.attachment,
        &mut r.buf,
        work,
        n,
        &mut out,
    );
}

/// A read failed for good: the device is gone (deleted from outside); have the device
/// manager make it anew, as the epoll loop does.
fn lost(plan: &Plan, r: &ReadSlot, shared: &Shared, errno: i32) {
    if let Some(dev) = plan.devices.get(r.attachment as usize) {
        if dev.mark_lost() {
            tracing::warn!(device = %dev.name, error = %io::Error::from_raw_os_error(-errno), "device gone; making it anew");
            shared.devices_lost.fetch_add(1, Ordering::Relaxed);
        }
    }
    shared.repair.store(true, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(gso_type: u8, gso_size: u16, packet: usize) -> Vec<u8> {
        let h = tun_rs::VirtioNetHdr {
            gso_type,
            gso_size,
            ..Default::default()
        };
        let mut f = vec![0u8; HDR + packet];
        h.encode(&mut f[..HDR]).unwrap();
        f
    }

    /// A failed write is taken back as the worker counted it: a UDP GSO train per datagram
    /// (each with its IPv4 and UDP headers), anything else as one packet.
    #[test]
    fn a_failed_write_is_taken_back_as_it_was_counted() {
        // 40 datagrams of 18 bytes, the last one 5.
        let train = frame(worker::VIRTIO_NET_HDR_GSO_UDP_L4, 18, 28 + 39 * 18 + 5);
        let s = Sent::of(3, &train);
        assert_eq!((s.attachment, s.packets, s.bytes), (3, 40, 39 * 46 + 33));
        let one = frame(0, 0, 1400);
        assert_eq!(
            Sent::of(1, &one),
            Sent {
                attachment: 1,
                packets: 1,
                bytes: 1400
            }
        );
        let tcp = frame(1, 1400, 40 + 2800);
        assert_eq!(Sent::of(1, &tcp).packets, 1);
    }
}
