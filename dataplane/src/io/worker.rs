//! The packet loop of one worker.
//!
//! Per wakeup: load the current plan (one atomic load; re-register the queues with epoll only
//! when the generation changed), wait for readable queues, and from each ready queue read at
//! most [`BATCH`] packets into the worker's own buffer, run the pipeline on each and write it to
//! this worker's queue of the egress device. Bounded work per wakeup keeps one busy attachment
//! from starving the others; nothing is allocated per packet and nothing is locked.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use control::SnapshotCell;
use rustix::event::epoll;
use rustix::event::Timespec;

use super::{LocalPacket, Plan, Shared};
use crate::pipeline::{process_in, Ctx, DropReason, LocalService, NoObserver, Verdict};

/// Packets read from one queue per wakeup.
pub const BATCH: usize = 64;

/// How long a wait may block, so that a stop request or a new plan is seen promptly even when
/// no packet arrives.
pub const WAKEUP: Duration = Duration::from_millis(50);

/// Largest packet a worker reads (TUN without offloads delivers at most the MTU, but a
/// reconfigured MTU must not truncate).
const BUFFER: usize = 65536;

/// Flow-table slots a worker sweeps for expired flows per wakeup.
const SWEEP: usize = 512;

/// Runs worker `index` until `stop` is set.
pub fn run(
    index: usize,
    plans: Arc<SnapshotCell<Plan>>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    let mut buf = vec![0u8; BUFFER];
    let mut events: Vec<epoll::Event> = Vec::with_capacity(256);
    let mut plan = plans.load_full();
    let mut epfd = register(index, &plan)?;
    let timeout = Timespec {
        tv_sec: 0,
        tv_nsec: WAKEUP.as_nanos() as _,
    };
    while !stop.load(Ordering::Relaxed) {
        if plans.generation() != plan.fabric.generation {
            plan = plans.load_full();
            epfd = register(index, &plan)?;
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
        let cx = Ctx {
            lane: index,
            now: shared.now(),
            flows: &shared.flows,
        };
        shared.flows.sweep(cx.now, SWEEP);
        for ev in events.iter() {
            let ingress = ev.data.u64() as usize;
            let Some(dev) = plan.devices.get(ingress) else {
                continue;
            };
            let queue = &dev.queues[index];
            for _ in 0..BATCH {
                let n = match queue.recv(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        tracing::warn!(device = %dev.name, error = %e, "read failed");
                        break;
                    }
                };
                let verdict = process_in(
                    &plan.fabric,
                    &cx,
                    ingress as u32,
                    &mut buf,
                    n,
                    &mut NoObserver,
                );
                match verdict {
                    Verdict::Forward { egress, len } => {
                        let out = &plan.devices[egress as usize];
                        match out.queues[index].send(&buf[..len]) {
                            Ok(_) => plan.fabric.attachments[egress as usize]
                                .counters
                                .tx(index, len),
                            Err(_) => plan
                                .fabric
                                .registry
                                .drop_packet(index, DropReason::EgressError),
                        }
                    }
                    Verdict::Local { len, service } => {
                        // A copy of bounded size into the channel's preallocated slot.
                        let mut lp = LocalPacket::new(&buf[..len]);
                        lp.ingress = ingress as u32;
                        lp.generation = plan.fabric.generation;
                        lp.service = service;
                        lp.plan = Some(plan.clone());
                        let _ = match service {
                            LocalService::HealthChecker => shared.local.try_send(lp),
                            LocalService::Resolver(_) | LocalService::ResolverUpstream => {
                                shared.resolver.try_send(lp)
                            }
                        };
                    }
                    Verdict::Drop(_) => {}
                }
            }
        }
    }
    Ok(())
}

/// A fresh epoll instance watching this worker's queue of every device; the event data is
/// the attachment index.
fn register(index: usize, plan: &Plan) -> io::Result<std::os::fd::OwnedFd> {
    let epfd = epoll::create(epoll::CreateFlags::CLOEXEC)?;
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
