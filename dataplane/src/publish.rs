//! Publication: the current plan (a fabric built from one compiled configuration, with its
//! devices), readable by every worker without locks. The daemon publishes
//! [`crate::io::Plan`]s; a capture's tap is published the same way.
//!
//! A [`SnapshotCell`] holds an `Arc<T>` in an [`arc_swap::ArcSwap`]. Readers call
//! [`SnapshotCell::load`] once per batch of packets: a wait-free pointer load that pins the
//! value for as long as the guard lives; they never block and never see a half-built table.
//!
//! The order of an update, which is what makes that true:
//!
//! 1. the new snapshot is compiled completely, off to the side (a rejected configuration
//!    stops here and the running snapshot is untouched);
//! 2. it is given the next generation number — the only write to it, made before anyone else
//!    can see it;
//! 3. the `Arc` is swapped in with one atomic store; a reader's next `load` sees the new
//!    snapshot, a reader mid-batch finishes on the old one;
//! 4. the old snapshot is freed when the last reader's guard drops, never under a reader.
//!
//! Writers (the daemon's reload path) are serialized by a mutex; readers never touch it.

use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, Guard};

/// What a cell publishes: anything that carries its generation number.
pub trait Versioned: Send + Sync + 'static {
    fn generation(&self) -> u64;
    fn set_generation(&mut self, generation: u64);
}

#[derive(Debug)]
pub struct SnapshotCell<T: Versioned> {
    current: ArcSwap<T>,
    writer: Mutex<u64>,
}

impl<T: Versioned> SnapshotCell<T> {
    /// A cell holding `initial` as generation 1.
    pub fn new(mut initial: T) -> SnapshotCell<T> {
        initial.set_generation(1);
        SnapshotCell {
            current: ArcSwap::from_pointee(initial),
            writer: Mutex::new(1),
        }
    }

    /// The current snapshot, pinned while the guard lives. Wait-free; for the hot path.
    pub fn load(&self) -> Guard<Arc<T>> {
        self.current.load()
    }

    /// The current snapshot as an owned `Arc` (for long-lived holders such as a CLI request).
    pub fn load_full(&self) -> Arc<T> {
        self.current.load_full()
    }

    /// The generation readers currently see.
    pub fn generation(&self) -> u64 {
        self.current.load().generation()
    }

    /// Publishes `next` as the new current snapshot and returns its generation.
    pub fn publish(&self, mut next: T) -> u64 {
        // A poisoned lock only means a previous writer panicked after publishing or before;
        // the counter is still consistent, so carry on with it.
        let mut gen = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        *gen += 1;
        next.set_generation(*gen);
        self.current.store(Arc::new(next));
        *gen
    }
}
