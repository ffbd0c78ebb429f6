//! A region of nodes: one vpced per availability zone, tied together by etcd.
//!
//! etcd holds what the nodes share; each node follows it ([`node`]) and `vpcectl region`
//! drives it through [`Region`]. Keys (values are JSON unless said):
//!
//! ```text
//! /vpce/config             RegionConfig: the configuration's text, the file it came from,
//!                          the directory its data files are read from, its generation.
//!                          Written only with a compare-and-swap on the previous one's
//!                          revision, after vpcectl validated and compiled it.
//! /vpce/nodes/<zone>       NodeRecord, on the node's lease: the zone, the generation it runs,
//!                          its last apply error. A node whose lease lapses (killed, cut off
//!                          from etcd for longer than the TTL) is gone from the region.
//! /vpce/zones/<zone>/down  present while the zone is down (`vpcectl region fail-zone`):
//!                          that zone's node forwards nothing (`DropReason::ZoneDown`).
//! /vpce/connections/<endpoint>  state_dir::Decision: the provider accepted or rejected the
//!                          interface endpoint's connection (`vpcectl region
//!                          endpoint-connections`); every node runs with every decision.
//! ```
//!
//! A node that loses etcd keeps forwarding under the generation it runs and registers again
//! (a new lease) when etcd answers.
//!
//! What is not here yet: a node serves every attachment of the configuration (its own lab,
//! `--netns-prefix`), not only those of its zone, and there is no inter-node link for
//! cross-zone traffic.

pub mod etcd;
pub mod node;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use etcd::{Etcd, EtcdError};

/// The key of the region's configuration.
pub const CONFIG_KEY: &str = "/vpce/config";
/// The prefix of the endpoint-connection decisions' keys.
pub const CONNECTIONS_PREFIX: &str = "/vpce/connections/";
/// The prefix of the nodes' keys.
pub const NODES_PREFIX: &str = "/vpce/nodes/";
/// etcd's default request limit (`--max-request-bytes`, 1.5 MiB), less room for the JSON
/// and base64 around the configuration.
pub const MAX_CONFIG_BYTES: usize = 1_000_000;

/// The key of a node's record.
pub fn node_key(zone: &str) -> String {
    format!("{NODES_PREFIX}{zone}")
}

/// The key present while `zone` is down.
pub fn zone_down_key(zone: &str) -> String {
    format!("/vpce/zones/{zone}/down")
}

/// The region's configuration as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionConfig {
    /// 1 for the first apply, +1 for each.
    pub generation: u64,
    /// The file it was applied from (for messages: diagnostics name it).
    pub file: PathBuf,
    /// Where the data files it names (`from_ip_ranges`) are read, on every node.
    pub base_dir: PathBuf,
    pub text: String,
}

/// What a node reports of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub zone: String,
    pub pid: u32,
    /// The region generation it runs (0: none yet).
    pub generation: u64,
    /// Why a generation it was asked to run did not build there.
    pub error: Option<NodeError>,
    /// It runs its zone as down.
    pub zone_down: bool,
    /// Its lease's time to live, in seconds.
    pub lease_ttl: u64,
    /// The endpoint-connection decisions it runs with.
    #[serde(default)]
    pub decisions: Vec<crate::state_dir::Decision>,
    /// Its control socket (on its machine).
    #[serde(default)]
    pub control_socket: Option<PathBuf>,
}

/// A generation a node could not run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeError {
    pub generation: u64,
    pub message: String,
}

/// A node as `vpcectl region status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    #[serde(flatten)]
    pub record: NodeRecord,
    /// Seconds its lease has left (it renews at a third of its TTL).
    pub lease_left: Option<i64>,
}

/// Errors of region operations: etcd's, or the region's state.
#[derive(Debug, thiserror::Error)]
pub enum RegionError {
    #[error(transparent)]
    Etcd(#[from] EtcdError),
    #[error("{key}: {message} (the region's store holds something vpce did not write)")]
    Corrupt { key: String, message: String },
    #[error("another apply changed the region's configuration first (now generation {now}); run it again")]
    Conflict { now: u64 },
    #[error("{file}: {bytes} bytes; a region's configuration is at most {MAX_CONFIG_BYTES} bytes (etcd's request limit)", file = file.display())]
    TooLarge { file: PathBuf, bytes: usize },
}

/// Where an apply stands on the nodes once the wait is over.
#[derive(Debug, Clone, Serialize)]
pub struct Rollout {
    pub generation: u64,
    /// Zones whose node runs the generation.
    pub running: Vec<String>,
    /// Zones whose node does not (yet): the generation it runs and why not, if it said.
    pub behind: Vec<NodeRecord>,
    /// Seconds waited.
    pub waited: f64,
}

impl Rollout {
    /// Every live node runs the generation (none may be live at all).
    pub fn complete(&self) -> bool {
        self.behind.is_empty()
    }
}

/// The region as vpcectl sees it: operations over etcd.
#[derive(Debug, Clone)]
pub struct Region {
    etcd: Etcd,
}

impl Region {
    pub fn new(etcd: Etcd) -> Region {
        Region { etcd }
    }

    pub fn etcd(&self) -> &Etcd {
        &self.etcd
    }

    /// The configuration and the revision that wrote it, if one was applied.
    pub fn config(&self) -> Result<Option<(RegionConfig, i64)>, RegionError> {
        let Some(e) = self.etcd.get(CONFIG_KEY)? else {
            return Ok(None);
        };
        let c = serde_json::from_slice(&e.value).map_err(|err| RegionError::Corrupt {
            key: CONFIG_KEY.into(),
            message: err.to_string(),
        })?;
        Ok(Some((c, e.mod_revision)))
    }

    /// Writes `text` as the next generation, with a compare-and-swap on the revision of the
    /// generation it read (another apply in between: [`RegionError::Conflict`]); the caller
    /// has validated it. Returns the new generation.
    pub fn publish(
        &self,
        file: PathBuf,
        base_dir: PathBuf,
        text: String,
    ) -> Result<u64, RegionError> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(RegionError::TooLarge {
                file,
                bytes: text.len(),
            });
        }
        let (generation, revision) = match self.config()? {
            Some((c, rev)) => (c.generation + 1, rev),
            None => (1, 0),
        };
        let next = RegionConfig {
            generation,
            file,
            base_dir,
            text,
        };
        let value = serde_json::to_vec(&next).expect("plain data");
        if self
            .etcd
            .put_if(CONFIG_KEY, revision, &[(CONFIG_KEY, &value)])?
        {
            return Ok(generation);
        }
        let now = self.config()?.map_or(0, |(c, _)| c.generation);
        Err(RegionError::Conflict { now })
    }

    /// Every live node (lease held), by zone.
    pub fn nodes(&self) -> Result<Vec<NodeView>, RegionError> {
        self.etcd
            .prefix(NODES_PREFIX)?
            .into_iter()
            .map(|e| {
                let record =
                    serde_json::from_slice(&e.value).map_err(|err| RegionError::Corrupt {
                        key: e.key.clone(),
                        message: err.to_string(),
                    })?;
                let lease_left = match e.lease {
                    0 => None,
                    id => self.etcd.time_to_live(id)?,
                };
                Ok(NodeView { record, lease_left })
            })
            .collect()
    }

    /// Waits until every live node runs `generation`, or `timeout` passes.
    pub fn wait_for(&self, generation: u64, timeout: Duration) -> Result<Rollout, RegionError> {
        let start = Instant::now();
        loop {
            let nodes = self.nodes()?;
            let (running, behind): (Vec<_>, Vec<_>) = nodes
                .into_iter()
                .map(|n| n.record)
                .partition(|r| r.generation >= generation);
            let rollout = Rollout {
                generation,
                running: running.into_iter().map(|r| r.zone).collect(),
                waited: start.elapsed().as_secs_f64(),
                behind,
            };
            // A node that reported an error for this generation will not run it.
            let stuck = rollout
                .behind
                .iter()
                .all(|r| r.error.as_ref().is_some_and(|e| e.generation == generation));
            if rollout.complete() || stuck || start.elapsed() >= timeout {
                return Ok(rollout);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until every live node runs with decision `d`, or `timeout` passes; the zones of
    /// the nodes that do not.
    pub fn wait_for_decision(
        &self,
        d: &crate::state_dir::Decision,
        timeout: Duration,
    ) -> Result<Vec<String>, RegionError> {
        let start = Instant::now();
        loop {
            let behind: Vec<String> = self
                .nodes()?
                .into_iter()
                .filter(|n| !n.record.decisions.contains(d))
                .map(|n| n.record.zone)
                .collect();
            if behind.is_empty() || start.elapsed() >= timeout {
                return Ok(behind);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Marks `zone` down (`true`) or up again; whether it changed anything.
    pub fn set_zone_down(&self, zone: &str, down: bool) -> Result<bool, RegionError> {
        let key = zone_down_key(zone);
        if down {
            let was = self.etcd.get(&key)?.is_some();
            self.etcd.put(&key, b"down", 0)?;
            Ok(!was)
        } else {
            Ok(self.etcd.delete(&key)?)
        }
    }

    /// Records the provider's decision on an endpoint's connection (the caller resolved it
    /// against the region's configuration).
    pub fn decide(&self, d: &crate::state_dir::Decision) -> Result<(), RegionError> {
        let value = serde_json::to_vec(d).expect("plain data");
        let key = format!("{CONNECTIONS_PREFIX}{}", d.endpoint);
        Ok(self.etcd.put(&key, &value, 0)?)
    }

    /// Every endpoint-connection decision, by endpoint.
    pub fn decisions(&self) -> Result<Vec<crate::state_dir::Decision>, RegionError> {
        self.etcd
            .prefix(CONNECTIONS_PREFIX)?
            .into_iter()
            .map(|e| {
                serde_json::from_slice(&e.value).map_err(|err| RegionError::Corrupt {
                    key: e.key.clone(),
                    message: err.to_string(),
                })
            })
            .collect()
    }

    /// Zones marked down.
    pub fn zones_down(&self) -> Result<Vec<String>, RegionError> {
        Ok(self
            .etcd
            .prefix("/vpce/zones/")?
            .into_iter()
            .filter_map(|e| {
                let rest = e.key.strip_prefix("/vpce/zones/")?;
                rest.strip_suffix("/down").map(str::to_string)
            })
            .collect())
    }
}
