//! The control socket's protocol: one JSON request per line, one JSON response per line.
//!
//! Shared by `vpced` (server) and `vpcectl` (client) so the two cannot drift apart.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use dataplane::stats::StatsReport;

/// Where vpced listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/vpced.sock";

/// Longest request or response line accepted.
pub const MAX_LINE: usize = 1 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    /// Load, validate and compile the configuration at `path` (as the daemon sees it), then
    /// swap it in atomically.
    Apply {
        path: PathBuf,
    },
    Stats,
    Status,
    /// The configuration the workers run now (decisions taken at run time folded in), for
    /// `vpcectl show --daemon`.
    Configuration,
    /// Every interface endpoint's connection to its service.
    EndpointConnections,
    /// Accept (`true`) or reject an endpoint's connection.
    DecideConnection {
        endpoint: String,
        accept: bool,
    },
    TargetHealth,
    /// Explain a path on the running configuration (with the targets' real health).
    Trace {
        from: String,
        to: String,
        protocol: dataplane::trace::Protocol,
        port: u16,
        /// As two IPv4 fragments (`vpcectl trace --fragmented`).
        #[serde(default)]
        fragmented: bool,
    },
    /// Every instance to every endpoint, on the running configuration.
    TraceAllPairs,
    /// The busiest flows (by bytes counted since their start or the last flow-log drain) and
    /// every counter, for `vpcectl top`.
    Top {
        flows: usize,
    },
    /// Capture an attachment's packets: after the `capturing` line, the connection carries
    /// pcap (`io::capture`) until `count` packets (if given) or until the client closes it.
    Capture {
        attachment: String,
        points: Vec<dataplane::io::capture::Point>,
        count: Option<u64>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    Top {
        generation: u64,
        busiest: Vec<TopFlow>,
        #[serde(flatten)]
        report: StatsReport,
    },
    /// A capture runs; pcap follows on the connection.
    Capturing {
        attachment: String,
        points: Vec<dataplane::io::capture::Point>,
    },
    Applied {
        generation: u64,
        warnings: Vec<control::diag::Diagnostic>,
    },
    /// The request could not be carried out; nothing changed. `diagnostics` holds the
    /// configuration's errors when that was the reason.
    Rejected {
        error: String,
        #[serde(default)]
        diagnostics: Vec<control::diag::Diagnostic>,
    },
    Stats {
        generation: u64,
        #[serde(flatten)]
        report: StatsReport,
    },
    Status(Status),
    Configuration {
        generation: u64,
        /// The file it was loaded from.
        path: PathBuf,
        config: Box<control::model::Config>,
    },
    EndpointConnections {
        connections: Vec<crate::state_dir::ConnectionRow>,
    },
    ConnectionDecided {
        service: String,
        endpoint: String,
        state: control::model::ConnectionState,
        generation: u64,
    },
    TargetHealth {
        targets: Vec<TargetHealthRow>,
    },
    Trace {
        /// How a DNS name was resolved, if the destination was one.
        resolved: Option<String>,
        trace: dataplane::trace::Trace,
    },
    TraceAllPairs {
        pairs: Vec<dataplane::trace::Pair>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetHealthRow {
    pub target_group: String,
    pub target: std::net::IpAddr,
    pub port: u16,
    pub availability_zone: String,
    pub state: dataplane::health::HealthState,
    /// Whether a load balancer uses the group (AWS: `unused` otherwise; not checked).
    pub checked: bool,
}

/// A flow as `vpcectl top` shows it: oriented from its initiator, with what its interface
/// counted both ways.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopFlow {
    pub interface: String,
    pub protocol: u8,
    pub src: std::net::IpAddr,
    pub sport: u16,
    pub dst: std::net::IpAddr,
    pub dport: u16,
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub pid: u32,
    pub generation: u64,
    pub config: PathBuf,
    pub uptime_seconds: u64,
    pub workers: usize,
    /// The generation each worker decides packets under (`None`: the worker has stopped);
    /// all equal to `generation` once an apply has returned.
    #[serde(default)]
    pub worker_generations: Vec<Option<u64>>,
    /// The region this vpced is a node of (`--region`), if any.
    #[serde(default)]
    pub region: Option<RegionStatus>,
    pub attachments: Vec<AttachmentStatus>,
}

/// A node's place in its region.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegionStatus {
    /// etcd's endpoint.
    pub etcd: String,
    pub zone: String,
    /// The region generation it runs.
    pub generation: u64,
    /// It runs its zone as down (`vpcectl region fail-zone`).
    pub zone_down: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttachmentStatus {
    pub id: String,
    pub kind: String,
    pub device: String,
    pub namespace: Option<String>,
    pub counters: dataplane::stats::CounterValues,
}

/// Why the client could not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to vpced at {}: {source} (is vpced running? is this the right --socket? root only)", path.display())]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("talking to vpced at {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("vpced at {} answered something that is not a response: {message}", path.display())]
    Protocol { path: PathBuf, message: String },
}

/// Sends one request and waits for its response.
pub fn call(socket: &Path, request: &Request, timeout: Duration) -> Result<Response, ClientError> {
    let io = |source| ClientError::Io {
        path: socket.to_path_buf(),
        source,
    };
    let mut stream = UnixStream::connect(socket).map_err(|source| ClientError::Connect {
        path: socket.to_path_buf(),
        source,
    })?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    let mut line = serde_json::to_string(request).expect("requests serialize");
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(io)?;
    let mut reader = BufReader::new(stream.take_limit());
    let mut answer = String::new();
    reader.read_line(&mut answer).map_err(io)?;
    serde_json::from_str(&answer).map_err(|e| ClientError::Protocol {
        path: socket.to_path_buf(),
        message: e.to_string(),
    })
}

/// Starts a capture: sends the request, reads the `capturing` line, and hands back the
/// connection, from which pcap follows (or the daemon's refusal).
pub fn capture(
    socket: &Path,
    request: &Request,
) -> Result<Result<(UnixStream, Response), Response>, ClientError> {
    let io = |source| ClientError::Io {
        path: socket.to_path_buf(),
        source,
    };
    let mut stream = UnixStream::connect(socket).map_err(|source| ClientError::Connect {
        path: socket.to_path_buf(),
        source,
    })?;
    let mut line = serde_json::to_string(request).expect("requests serialize");
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(io)?;
    // The answer line, byte by byte: what follows it is pcap, not to be buffered away.
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let n = std::io::Read::read(&mut stream, &mut byte).map_err(io)?;
        if n == 0 || byte[0] == b'\n' || answer.len() > MAX_LINE {
            break;
        }
        answer.push(byte[0]);
    }
    let response: Response =
        serde_json::from_slice(&answer).map_err(|e| ClientError::Protocol {
            path: socket.to_path_buf(),
            message: e.to_string(),
        })?;
    Ok(match response {
        r @ Response::Capturing { .. } => Ok((stream, r)),
        other => Err(other),
    })
}

trait TakeLimit {
    fn take_limit(self) -> std::io::Take<UnixStream>;
}

impl TakeLimit for UnixStream {
    fn take_limit(self) -> std::io::Take<UnixStream> {
        std::io::Read::take(self, MAX_LINE as u64)
    }
}
