//! Runtime state that must survive a restart: endpoint connections accepted or rejected with
//! `vpcectl endpoint-connections accept|reject` (`STATE_DIR/connections.json`), and the last
//! known health of every target (`STATE_DIR/health.json`, so that a restarted vpced does not
//! send traffic to a target it knew was down while the first checks run).
//!
//! Files are written atomically (a temporary file in the same directory, `fsync`, `rename`),
//! so a crash leaves either the old file or the new one. A file that cannot be read or parsed
//! stops vpced with an error naming it: state a user relies on is never silently reset. A
//! decision overrides the configuration's `connections` entry for the same endpoint until
//! another decision replaces it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use control::model::{Config, ConnectionState, EndpointConnection, EndpointType};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state file {} is damaged ({message}); fix or remove it (it holds endpoint connections accepted or rejected at run time)", path.display())]
    Damaged { path: PathBuf, message: String },
}

/// The decision to accept (or reject) interface endpoint `endpoint`'s connection, as the
/// provider of its endpoint service in `config` takes it; an error names what is missing.
pub fn decision_for(config: &Config, endpoint: &str, accept: bool) -> Result<Decision, String> {
    let Some(e) = config
        .endpoints
        .iter()
        .find(|e| e.id == endpoint && e.endpoint_type == control::model::EndpointType::Interface)
    else {
        return Err(format!(
            "no interface endpoint {endpoint} in the running configuration"
        ));
    };
    let Some(svc) = config
        .endpoint_services
        .iter()
        .find(|s| s.service_name(&config.region) == e.service)
    else {
        return Err(format!(
            "endpoint {endpoint} uses {}, which is not an endpoint service of this configuration",
            e.service
        ));
    };
    Ok(Decision {
        service: svc.id.clone(),
        endpoint: endpoint.to_string(),
        state: if accept {
            ConnectionState::Available
        } else {
            ConnectionState::Rejected
        },
    })
}

/// One decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub service: String,
    pub endpoint: String,
    pub state: ConnectionState,
}

#[derive(Debug, Serialize, Deserialize)]
struct File {
    version: u32,
    connections: Vec<Decision>,
}

/// The decisions, by endpoint id, and where they are kept.
#[derive(Debug, Default, Clone)]
pub struct Connections {
    path: Option<PathBuf>,
    decisions: BTreeMap<String, Decision>,
}

impl Connections {
    /// Reads `dir/connections.json` (absent: no decisions); `None`: keep nothing on disk.
    pub fn open(dir: Option<&Path>) -> Result<Connections, StateError> {
        let Some(dir) = dir else {
            return Ok(Connections::default());
        };
        let path = dir.join("connections.json");
        let decisions = match std::fs::read(&path) {
            Ok(bytes) => {
                let f: File = serde_json::from_slice(&bytes).map_err(|e| StateError::Damaged {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                if f.version != 1 {
                    return Err(StateError::Damaged {
                        path,
                        message: format!("version {} (this vpced reads version 1)", f.version),
                    });
                }
                f.connections
                    .into_iter()
                    .map(|d| (d.endpoint.clone(), d))
                    .collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(StateError::Io { path, source }),
        };
        Ok(Connections {
            path: Some(path),
            decisions,
        })
    }

    pub fn decisions(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.values()
    }

    pub fn get(&self, endpoint: &str) -> Option<&Decision> {
        self.decisions.get(endpoint)
    }

    /// Records a decision and writes the file; on a write error nothing changes.
    pub fn set(&mut self, d: Decision) -> Result<(), StateError> {
        let old = self.decisions.insert(d.endpoint.clone(), d.clone());
        if let Err(e) = self.save() {
            match old {
                Some(o) => self.decisions.insert(d.endpoint.clone(), o),
                None => self.decisions.remove(&d.endpoint),
            };
            return Err(e);
        }
        Ok(())
    }

    fn save(&self) -> Result<(), StateError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let body = serde_json::to_vec_pretty(&File {
            version: 1,
            connections: self.decisions.values().cloned().collect(),
        })
        .expect("decisions serialize");
        write_atomically(path, &body)
    }

    /// Writes the decisions into `config`'s endpoint services (overriding their
    /// `connections` entries for the same endpoints).
    pub fn apply_to(&self, config: &mut Config) {
        for d in self.decisions.values() {
            if let Some(s) = config
                .endpoint_services
                .iter_mut()
                .find(|s| s.id == d.service)
            {
                s.connections.retain(|c| c.endpoint != d.endpoint);
                s.connections.push(EndpointConnection {
                    endpoint: d.endpoint.clone(),
                    state: d.state,
                });
            }
        }
    }
}

/// Writes `body` to `path` so that a crash leaves the old file or the new one, never a mix.
fn write_atomically(path: &Path, body: &[u8]) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(body).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

#[derive(Debug, Serialize, Deserialize)]
struct HealthFile {
    version: u32,
    targets: Vec<HealthEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct HealthEntry {
    target_group: String,
    target: std::net::IpAddr,
    port: u16,
    state: dataplane::health::HealthState,
}

/// Loads `dir/health.json` into `book` (absent: nothing known yet).
pub fn load_health(dir: &Path, book: &dataplane::health::HealthBook) -> Result<(), StateError> {
    let path = dir.join("health.json");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(StateError::Io { path, source }),
    };
    let f: HealthFile = serde_json::from_slice(&bytes).map_err(|e| StateError::Damaged {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if f.version != 1 {
        return Err(StateError::Damaged {
            path,
            message: format!("version {} (this vpced reads version 1)", f.version),
        });
    }
    for t in f.targets {
        book.cell(&t.target_group, t.target, t.port).set(t.state);
    }
    Ok(())
}

/// Writes every target's health to `dir/health.json`.
pub fn save_health(dir: &Path, book: &dataplane::health::HealthBook) -> Result<(), StateError> {
    let targets = book
        .states()
        .into_iter()
        .map(|((tg, ip, port), state)| HealthEntry {
            target_group: tg,
            target: ip,
            port,
            state,
        })
        .collect();
    let body = serde_json::to_vec_pretty(&HealthFile {
        version: 1,
        targets,
    })
    .expect("health serializes");
    write_atomically(&dir.join("health.json"), &body)
}

/// Where a connection's state comes from, for `vpcectl endpoint-connections list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A decision made with vpcectl at run time.
    Decision,
    /// The configuration's `connections` list.
    Config,
    /// Nothing said: `pendingAcceptance` if the service requires acceptance, else
    /// `available`.
    Default,
}

/// A row of `vpcectl endpoint-connections list`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectionRow {
    pub service: String,
    pub endpoint: String,
    pub vpc: String,
    pub state: ConnectionState,
    pub origin: Origin,
}

/// Every interface endpoint of `config` that names a service of `config`, with its state.
/// `config` must already have the decisions applied.
pub fn rows(config: &Config, decisions: &Connections) -> Vec<ConnectionRow> {
    let mut out = Vec::new();
    for e in config
        .endpoints
        .iter()
        .filter(|e| e.endpoint_type == EndpointType::Interface)
    {
        let Some(s) = config
            .endpoint_services
            .iter()
            .find(|s| s.service_name(&config.region) == e.service)
        else {
            continue;
        };
        let origin = if decisions.get(&e.id).is_some() {
            Origin::Decision
        } else if s.connections.iter().any(|c| c.endpoint == e.id) {
            Origin::Config
        } else {
            Origin::Default
        };
        out.push(ConnectionRow {
            service: s.id.clone(),
            endpoint: e.id.clone(),
            vpc: e.vpc.clone(),
            state: config.connection_state(e),
            origin,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_survive_a_reopen_and_damage_is_an_error() {
        let dir = std::env::temp_dir().join(format!("vpce-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut c = Connections::open(Some(&dir)).unwrap();
        assert_eq!(c.decisions().count(), 0);
        c.set(Decision {
            service: "vpce-svc-1".into(),
            endpoint: "vpce-1".into(),
            state: ConnectionState::Available,
        })
        .unwrap();
        let again = Connections::open(Some(&dir)).unwrap();
        assert_eq!(
            again.get("vpce-1").map(|d| d.state),
            Some(ConnectionState::Available)
        );
        // Health round-trips too.
        let book = dataplane::health::HealthBook::default();
        book.cell("tg", "10.1.144.10".parse().unwrap(), 80)
            .set(dataplane::health::HealthState::Unhealthy);
        save_health(&dir, &book).unwrap();
        let again = dataplane::health::HealthBook::default();
        load_health(&dir, &again).unwrap();
        assert_eq!(
            again.cell("tg", "10.1.144.10".parse().unwrap(), 80).state(),
            dataplane::health::HealthState::Unhealthy
        );
        std::fs::write(dir.join("health.json"), b"[]").unwrap();
        assert!(load_health(&dir, &again).is_err());
        std::fs::write(dir.join("connections.json"), b"{\"version\": 1, \"conn").unwrap();
        let err = Connections::open(Some(&dir)).unwrap_err();
        assert!(err.to_string().contains("connections.json"), "{err}");
        assert!(err.to_string().contains("damaged"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
