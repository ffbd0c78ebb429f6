//! A node's side of the region: vpced with `--region` holds a lease, reports itself under it,
//! and runs every generation of the region's configuration (and its zone's down mark) as
//! they appear.
//!
//! One thread, ticking every [`TICK`]: renew the lease at a third of its TTL (a lapsed one,
//! or a lost etcd, means registering anew once etcd answers), read the configuration and the
//! zone's mark, have the daemon run what changed, write the node's record when it changed.
//! While etcd is away the node keeps forwarding under what it runs; nothing here is on the
//! packets' path.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::etcd::{Endpoint, Etcd, EtcdError};
use super::{node_key, NodeError, NodeRecord, Region, RegionConfig, RegionError};
use crate::state_dir::Decision;

/// How often the node looks at etcd: an apply reaches every node within about this.
pub const TICK: Duration = Duration::from_millis(100);

/// A node's place in the region.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    pub endpoint: Endpoint,
    pub zone: String,
    /// Seconds a lease lives without renewal: a node gone this long is out of the region.
    pub lease_ttl: u64,
    /// Its control socket, reported so that `vpcectl region` can ask the node itself.
    pub control_socket: std::path::PathBuf,
}

/// What the daemon is asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub config: RegionConfig,
    /// The region's zones that are down (this node's own among them, or not).
    pub zones_down: Vec<String>,
    /// The provider's decisions on endpoint connections.
    pub decisions: Vec<Decision>,
}

impl Wanted {
    /// What tells one run from another: the generation, the zones down, the decisions.
    pub fn key(&self) -> RunKey {
        (
            self.config.generation,
            self.zones_down.clone(),
            self.decisions.clone(),
        )
    }
}

/// See [`Wanted::key`].
pub type RunKey = (u64, Vec<String>, Vec<Decision>);

/// Why the daemon did not run what it was asked.
#[derive(Debug, Clone)]
pub enum RunError {
    /// Something else is being applied: ask again on the next tick.
    Busy,
    /// The configuration does not build here: reported, not asked again.
    Failed(String),
}

/// Reads what the region wants of this node now: `None` before the first apply.
pub fn wanted(region: &Region) -> Result<Option<Wanted>, RegionError> {
    let Some((config, _)) = region.config()? else {
        return Ok(None);
    };
    let zones_down = region.zones_down()?;
    let decisions = region.decisions()?;
    Ok(Some(Wanted {
        config,
        zones_down,
        decisions,
    }))
}

/// The node's state between ticks.
struct Follower {
    opts: NodeOptions,
    region: Region,
    lease: Option<i64>,
    renewed: Instant,
    /// What runs now, and what was last tried and failed.
    running: RunKey,
    failed: Option<(RunKey, String)>,
    /// The record in etcd is out of date.
    dirty: bool,
    /// etcd was unreachable at the last tick (to log transitions only).
    lost: bool,
}

/// Follows the region until `stop`: `run` makes the daemon run a generation. `running` is the
/// generation and mark the daemon started with.
pub fn follow(
    opts: NodeOptions,
    running: RunKey,
    stop: &AtomicBool,
    mut run: impl FnMut(&Wanted) -> Result<(), RunError>,
) {
    let region = Region::new(Etcd::new(opts.endpoint.clone()));
    let mut f = Follower {
        opts,
        region,
        lease: None,
        renewed: Instant::now(),
        running,
        failed: None,
        dirty: true,
        lost: false,
    };
    while !stop.load(Ordering::Relaxed) {
        match f.tick(&mut run) {
            Ok(()) if f.lost => {
                f.lost = false;
                tracing::info!(etcd = %f.opts.endpoint, "region store reachable again");
            }
            Ok(()) => {}
            Err(e) if !f.lost => {
                f.lost = true;
                tracing::warn!(error = %e, "region store unreachable; forwarding goes on under generation {}", f.running.0);
            }
            Err(_) => {}
        }
        std::thread::sleep(TICK);
    }
    if let Some(lease) = f.lease {
        // Leave at once rather than when the lease lapses.
        let _ = f.region.etcd().revoke(lease);
    }
}

impl Follower {
    fn tick(
        &mut self,
        run: &mut impl FnMut(&Wanted) -> Result<(), RunError>,
    ) -> Result<(), RegionError> {
        self.hold_lease()?;
        if let Some(w) = wanted(&self.region)? {
            let want = w.key();
            let tried = self.failed.as_ref().is_some_and(|(t, _)| *t == want);
            if want != self.running && !tried {
                match run(&w) {
                    Ok(()) => {
                        tracing::info!(
                            generation = want.0,
                            zones_down = ?want.1,
                            decisions = want.2.len(),
                            "region generation running"
                        );
                        self.running = want;
                        self.failed = None;
                        self.dirty = true;
                    }
                    Err(RunError::Busy) => {}
                    Err(RunError::Failed(message)) => {
                        tracing::warn!(generation = want.0, error = %message, "region generation does not build here; the running one stays");
                        self.failed = Some((want, message));
                        self.dirty = true;
                    }
                }
            }
        }
        if self.dirty {
            self.report()?;
        }
        Ok(())
    }

    /// Registers (a new lease) when there is none, renews at a third of the TTL.
    fn hold_lease(&mut self) -> Result<(), EtcdError> {
        let etcd = self.region.etcd();
        if let Some(lease) = self.lease {
            if self.renewed.elapsed() < Duration::from_secs(self.opts.lease_ttl) / 3 {
                return Ok(());
            }
            if etcd.keep_alive(lease)? {
                self.renewed = Instant::now();
                return Ok(());
            }
            tracing::warn!(lease, "region lease lapsed; registering again");
            self.lease = None;
        }
        let lease = etcd.grant(self.opts.lease_ttl)?;
        self.lease = Some(lease);
        self.renewed = Instant::now();
        self.dirty = true;
        tracing::info!(zone = %self.opts.zone, lease, ttl = self.opts.lease_ttl, "joined the region");
        Ok(())
    }

    fn report(&mut self) -> Result<(), EtcdError> {
        let record = NodeRecord {
            zone: self.opts.zone.clone(),
            pid: std::process::id(),
            generation: self.running.0,
            error: self.failed.as_ref().map(|((g, ..), m)| NodeError {
                generation: *g,
                message: m.clone(),
            }),
            zone_down: self.running.1.contains(&self.opts.zone),
            lease_ttl: self.opts.lease_ttl,
            decisions: self.running.2.clone(),
            control_socket: Some(self.opts.control_socket.clone()),
        };
        let value = serde_json::to_vec(&record).expect("plain data");
        let lease = self.lease.unwrap_or(0);
        self.region
            .etcd()
            .put(&node_key(&self.opts.zone), &value, lease)?;
        self.dirty = false;
        Ok(())
    }
}
