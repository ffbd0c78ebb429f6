//! Which configuration generation each worker runs, and how a publisher waits until every
//! worker runs the one it published.
//!
//! A worker loads the current [`super::Plan`] once per wakeup and decides every packet of that
//! wakeup under it. Publishing a plan is one atomic store, so right after it a worker may
//! still be in the middle of a wakeup begun under the old one — or asleep in `epoll_wait`
//! with the old one in hand, about to decide the next packet it reads under it. Until every
//! worker has moved on, a packet may still meet the old configuration: a reply to a flow the
//! new configuration opened is dropped as unknown, a route just removed still carries
//! traffic. So an apply is not done when it is published, only when it runs
//! everywhere: [`Running::wait`] is the publisher's side of that (a grace period, as RCU calls
//! it).
//!
//! Each worker has a slot with the generation it runs (stored, Release, when it loads a plan)
//! and a wake-up `eventfd` that its loop watches beside its queues; [`Running::wake`] writes
//! every eventfd so that a sleeping worker loads the new plan at once instead of after its
//! wakeup timeout. A worker that has stopped marks its slot [`GONE`] and is not waited for.
//!
//! Nothing here is on the per-packet path: one Release store per plan change, one read of the
//! eventfd when it fired.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use rustix::event::{eventfd, EventfdFlags};

/// What a stopped worker's slot holds: it runs every generation as far as waiting goes.
pub const GONE: u64 = u64::MAX;

/// How often [`Running::wait`] looks at the slots.
const POLL: Duration = Duration::from_micros(200);

/// Per worker: the generation it runs and its wake-up eventfd.
#[derive(Debug)]
pub struct Running {
    generations: Box<[CachePadded<AtomicU64>]>,
    wake: Box<[OwnedFd]>,
}

impl Running {
    /// Slots for `workers` workers, each running no generation yet (0).
    pub fn new(workers: usize) -> io::Result<Running> {
        let wake = (0..workers)
            .map(|_| eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Running {
            generations: (0..workers).map(|_| Default::default()).collect(),
            wake: wake.into_boxed_slice(),
        })
    }

    /// Workers counted.
    pub fn workers(&self) -> usize {
        self.generations.len()
    }

    /// Worker `worker` now decides packets under `generation`.
    pub fn report(&self, worker: usize, generation: u64) {
        if let Some(g) = self.generations.get(worker) {
            g.store(generation, Ordering::Release);
        }
    }

    /// Worker `worker` has stopped: no longer waited for.
    pub fn gone(&self, worker: usize) {
        self.report(worker, GONE);
    }

    /// The generation worker `worker` runs (0 before its first, [`GONE`] once stopped).
    pub fn of(&self, worker: usize) -> u64 {
        self.generations
            .get(worker)
            .map_or(GONE, |g| g.load(Ordering::Acquire))
    }

    /// Worker `worker`'s wake-up eventfd, to watch beside its queues.
    pub fn wake_fd(&self, worker: usize) -> Option<BorrowedFd<'_>> {
        self.wake.get(worker).map(|fd| fd.as_fd())
    }

    /// Clears worker `worker`'s wake-up eventfd (after it fired).
    pub fn clear(&self, worker: usize) {
        if let Some(fd) = self.wake.get(worker) {
            let mut count = [0u8; 8];
            let _ = rustix::io::read(fd, &mut count);
        }
    }

    /// Wakes every worker (they then load the current plan).
    pub fn wake(&self) {
        for fd in self.wake.iter() {
            // EAGAIN only when the counter is about to overflow: the worker is awake anyway.
            let _ = rustix::io::write(fd, &1u64.to_ne_bytes());
        }
    }

    /// Wakes every worker and waits, at most `timeout`, until each runs `generation` or a
    /// later one (or has stopped). `Err` lists the workers still behind.
    pub fn wait(&self, generation: u64, timeout: Duration) -> Result<(), Vec<usize>> {
        self.wake();
        let deadline = Instant::now() + timeout;
        loop {
            let behind: Vec<usize> = (0..self.workers())
                .filter(|&w| self.of(w) < generation)
                .collect();
            if behind.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(behind);
            }
            std::thread::sleep(POLL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_returns_once_every_worker_runs_the_generation_or_is_gone() {
        let r = std::sync::Arc::new(Running::new(3).unwrap());
        r.report(0, 4);
        r.gone(2);
        assert_eq!(r.wait(4, Duration::from_millis(5)), Err(vec![1]));
        let r2 = r.clone();
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            r2.report(1, 5);
        });
        assert_eq!(r.wait(4, Duration::from_secs(10)), Ok(()));
        late.join().unwrap();
        assert_eq!(r.wait(6, Duration::ZERO), Err(vec![0, 1]));
    }

    #[test]
    fn wake_makes_the_eventfd_readable_and_clear_empties_it() {
        let r = Running::new(2).unwrap();
        let readable = |w: usize| {
            let fd = r.wake_fd(w).unwrap();
            let mut fds = [rustix::event::PollFd::new(
                &fd,
                rustix::event::PollFlags::IN,
            )];
            rustix::event::poll(&mut fds, Some(&rustix::event::Timespec::default())).unwrap() == 1
        };
        assert!(!readable(0) && !readable(1));
        r.wake();
        r.wake();
        assert!(readable(0) && readable(1));
        r.clear(0);
        assert!(!readable(0) && readable(1));
        assert_eq!(r.of(7), GONE);
        assert!(r.wake_fd(7).is_none());
    }
}
