//! The daemon: configuration in, workers running, control socket answering — vpced's runtime,
//! a crate of its own so that the hot-path crate (`dataplane`) has no tokio, HTTP server,
//! metrics registry or state directory in it: `control ← dataplane ← daemon ← vpce`.
//!
//! Start-up loads and compiles the configuration, builds the fabric, creates the attachment
//! devices and publishes the first [`Plan`]; a configuration that does not validate stops
//! start-up with its diagnostics. Then one thread per worker runs the packet loop while a
//! small single-threaded tokio runtime serves the control socket and waits for SIGINT or
//! SIGTERM.
//!
//! `apply` runs the same load → compile → build sequence off to the side with no lock held
//! (one apply at a time: a second is told `busy`), then syncs the devices; only when every step
//! succeeded is the new plan published, in one atomic swap. A rejected configuration leaves the running plan untouched and goes back
//! to the client with its diagnostics.
//!
//! Shutdown stops the workers, drops every plan (closing the TUN queues deletes the devices),
//! deletes the namespaces vpced created and removes the socket.

pub mod checker;
pub mod dns;
mod metrics;
pub mod notify;
pub mod protocol;
pub mod region;
pub mod state_dir;

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use control::{compile, load_file, ConfigError, LoadedConfig};
use dataplane::publish::SnapshotCell;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use dataplane::conntrack::FlowTable;
use dataplane::fabric::{Fabric, FabricError};
use dataplane::io::{worker, DeviceError, DeviceManager, Plan, Shared};
use dataplane::stats::Registry;
use protocol::{AttachmentStatus, Request, Response, Status, MAX_LINE};

#[derive(Debug, Clone)]
pub struct Options {
    pub config: PathBuf,
    pub control_socket: PathBuf,
    pub workers: usize,
    /// Prepended to every namespace name of the configuration (tests run several labs).
    pub netns_prefix: String,
    /// Run in this network namespace (created if missing, then deleted at exit): the
    /// fabric's own namespace, with no uplink. Entered before any thread starts.
    pub netns: Option<String>,
    /// Flows the connection tracker holds at most.
    pub max_flows: usize,
    /// Flows one ENI (any zone) may hold.
    pub max_flows_per_eni: usize,
    /// Where runtime decisions survive restarts (`None`: nowhere).
    pub state_dir: Option<PathBuf>,
    /// Where Route 53 Resolver style query logs go (`-`: standard output).
    pub query_log: Option<PathBuf>,
    /// Pin worker `i` to CPU `i` (modulo the CPUs there are).
    pub pin_workers: bool,
    /// How workers read and write their queues.
    pub io: dataplane::io::IoMode,
    /// How flows are spread over the workers.
    pub steer: dataplane::io::steer::Mode,
    /// Uplink sockets read through receive rings (epoll workers only).
    pub uplink_rings: bool,
    /// Serve Prometheus metrics at `http://ADDR/metrics` (in vpced's namespace).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Write VPC Flow Logs records here (`-`: standard output).
    pub flow_log: Option<PathBuf>,
    /// The flow logs' aggregation interval.
    pub flow_log_interval: std::time::Duration,
    /// The flow logs' fields (AWS's custom format).
    pub flow_log_format: dataplane::flowlog::Format,
    /// Follow a region's configuration in etcd as its node for a zone (`config` is unused).
    pub region: Option<region::node::NodeOptions>,
}

/// Where the running configuration comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A file, read again by each apply of that path.
    File(PathBuf),
    /// A generation of a region's configuration (etcd holds its text).
    Region(Arc<region::RegionConfig>),
}

impl Source {
    /// The file it was written in (diagnostics and `status` name it).
    pub fn path(&self) -> &Path {
        match self {
            Source::File(p) => p,
            Source::Region(c) => &c.file,
        }
    }

    fn load(&self) -> Result<LoadedConfig, ConfigError> {
        match self {
            Source::File(p) => load_file(p),
            Source::Region(c) => control::load::load_str(&c.file, c.text.clone(), &c.base_dir),
        }
    }
}

/// How a node runs a configuration: the zone it serves (a region's node) and the region's
/// zones down (its own among them, or not).
#[derive(Debug, Clone, Copy, Default)]
struct Serving<'a> {
    zone: Option<&'a str>,
    /// The region's zones down.
    zones_down: &'a [String],
}

impl Serving<'_> {
    /// A node's zone must be one of its configuration's availability zones.
    fn check(&self, fabric: &Fabric) -> Result<(), DaemonError> {
        let Some(zone) = self.zone else {
            return Ok(());
        };
        let zones = &fabric.snapshot.config.availability_zones;
        if zones.iter().any(|z| z == zone) {
            return Ok(());
        }
        Err(DaemonError::ZoneUnknown {
            zone: zone.to_string(),
            zones: zones.join(", "),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("region: {0}")]
    Region(#[from] region::RegionError),
    #[error("--zone {zone} is not one of the configuration's availability_zones ({zones})")]
    ZoneUnknown { zone: String, zones: String },
    #[error("the region at {0} has no configuration yet: run `vpcectl region apply FILE` first")]
    NoRegionConfig(region::etcd::Endpoint),
    #[error(transparent)]
    Fabric(#[from] FabricError),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("control socket {}: {source}", path.display())]
    Socket {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    State(#[from] state_dir::StateError),
    #[error("--metrics-listen {addr}: {source}")]
    Metrics {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the configuration took {took:.1?} to build, over the {APPLY_TIME_LIMIT:?} an apply may take; the running one stays")]
    TooSlow { took: std::time::Duration },
}

/// Shared by the control handlers.
struct State {
    plans: Arc<SnapshotCell<Plan>>,
    devices: Mutex<DeviceManager>,
    registry: Arc<Registry>,
    config: Mutex<Source>,
    /// The region's zones down (a drill), which every plan this node publishes runs as down;
    /// its own among them: the plan drops everything. Empty outside a region.
    zones_down: Mutex<Vec<String>>,
    /// The region followed, if any: a local apply is refused then.
    region: Option<region::node::NodeOptions>,
    /// Held by the one apply or connection decision in progress (taken with `try_lock`: a
    /// second is refused at once, never queued behind a slow one).
    applying: Mutex<()>,
    /// Runtime decisions on endpoint connections (held only to read or change them).
    connections: Mutex<state_dir::Connections>,
    shared: Arc<Shared>,
    started: Instant,
    workers: usize,
    control: dataplane::stats::ControlCounters,
    applies: metrics::ApplyMetrics,
    flow_log: Arc<FlowLogControl>,
}

impl State {
    fn serving<'a>(&'a self, zones_down: &'a [String]) -> Serving<'a> {
        Serving {
            zone: self.region.as_ref().map(|r| r.zone.as_str()),
            zones_down,
        }
    }
}

/// How long an apply may take from its request to its publication; past it the new
/// configuration is rejected (the running one stays).
const APPLY_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// A new configuration's fabric, built from `path` with the endpoint-connection decisions
/// `connections`: no lock of the daemon is held here, so reading and compiling a large or slow
/// configuration keeps no other request waiting.
fn build(
    source: &Source,
    registry: &Arc<Registry>,
    connections: &state_dir::Connections,
) -> Result<(Fabric, Vec<control::diag::Diagnostic>), DaemonError> {
    let mut loaded = source.load()?;
    connections.apply_to(&mut loaded.config);
    let compiled = compile(&loaded)?;
    let fabric = Fabric::build(compiled.snapshot, registry.clone())?;
    Ok((fabric, compiled.warnings))
}

/// Everything of a new configuration, built but not yet published: the fabric, then its
/// devices (the one step that takes the device lock).
fn prepare(
    source: &Source,
    registry: &Arc<Registry>,
    devices: &Mutex<DeviceManager>,
    connections: &state_dir::Connections,
    started: Instant,
    serving: Serving,
) -> Result<(Plan, Vec<control::diag::Diagnostic>), DaemonError> {
    let (mut fabric, warnings) = build(source, registry, connections)?;
    serving.check(&fabric)?;
    fabric.zone_down = serving
        .zone
        .is_some_and(|z| serving.zones_down.iter().any(|d| d == z));
    fabric.set_zones_down(serving.zones_down);
    if started.elapsed() > APPLY_TIME_LIMIT {
        return Err(DaemonError::TooSlow {
            took: started.elapsed(),
        });
    }
    let devs = devices
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .sync(&fabric)?;
    Ok((
        Plan {
            fabric,
            devices: devs,
        },
        warnings,
    ))
}

/// Runs the daemon until SIGINT or SIGTERM.
pub fn run(opts: Options) -> Result<(), DaemonError> {
    // Before any thread exists, so that every thread inherits the narrowed sets.
    match dataplane::io::privilege::restrict() {
        Ok(kept) => tracing::info!(capabilities = ?kept, "capabilities narrowed"),
        Err(e) => {
            tracing::warn!(error = %e, "cannot narrow capabilities; running with what it has")
        }
    }
    let own_netns = match &opts.netns {
        Some(ns) => {
            let created = dataplane::io::device::enter_netns(ns)?;
            tracing::info!(namespace = %ns, created, "running in network namespace");
            created.then(|| ns.clone())
        }
        None => None,
    };
    let result = run_in_netns(opts);
    if let Some(ns) = own_netns {
        if let Err(e) = dataplane::io::netns::delete(&ns) {
            tracing::warn!(namespace = %ns, error = %e, "cannot delete namespace");
        }
    }
    result
}

fn run_in_netns(opts: Options) -> Result<(), DaemonError> {
    let registry = Arc::new(Registry::default());
    let mut connections = state_dir::Connections::open(opts.state_dir.as_deref())?;
    if let Some(dir) = &opts.state_dir {
        state_dir::load_health(dir, &registry.health)?;
    }
    let devices = Mutex::new(
        DeviceManager::new(opts.workers, opts.netns_prefix.clone())
            .with_uplink_rings(opts.uplink_rings && opts.io == dataplane::io::IoMode::Epoll),
    );
    let (config, running) = first_source(&opts, &mut connections)?;
    let zones_down = running.1.clone();
    let started = Instant::now();
    let prepared = prepare(
        &config,
        &registry,
        &devices,
        &connections,
        started,
        Serving {
            zone: opts.region.as_ref().map(|r| r.zone.as_str()),
            zones_down: &zones_down,
        },
    );
    let (plan, warnings) = match prepared {
        Ok(p) => p,
        Err(e) => {
            devices
                .into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .shutdown();
            return Err(e);
        }
    };
    dataplane::io::memory::trim();
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let plans = Arc::new(SnapshotCell::new(plan));
    tracing::info!(
        config = %config.path().display(),
        attachments = plans.load().devices.len(),
        workers = devices.lock().unwrap_or_else(|p| p.into_inner()).workers(),
        "configuration generation 1 running"
    );
    let (local_tx, local_rx) = crossbeam_channel::bounded(1024);
    let (dns_tx, dns_rx) = crossbeam_channel::bounded(4096);
    let shared = Arc::new(Shared {
        flows: FlowTable::with_zone_limit(opts.max_flows, opts.max_flows_per_eni),
        started: Instant::now(),
        local: local_tx,
        resolver: dns_tx,
        capture: Default::default(),
        answers: opts.query_log.is_none().then(Default::default),
        devices_lost: Default::default(),
        repair: Default::default(),
        steer: match opts.steer {
            dataplane::io::steer::Mode::Flows => dataplane::io::steer::Steering::new(opts.workers),
            dataplane::io::steer::Mode::Kernel => None,
        },
        running: dataplane::io::running::Running::new(opts.workers.max(1))?,
    });
    let query_log = open_query_log(opts.query_log.as_deref())?;
    let state = Arc::new(State {
        plans: plans.clone(),
        devices,
        registry,
        config: Mutex::new(config),
        zones_down: Mutex::new(zones_down),
        region: opts.region.clone(),
        applying: Mutex::new(()),
        connections: Mutex::new(connections),
        shared: shared.clone(),
        started: Instant::now(),
        workers: opts.workers.max(1),
        control: Default::default(),
        applies: Default::default(),
        flow_log: Default::default(),
    });

    let stop = Arc::new(AtomicBool::new(false));
    let threads = spawn_threads(&opts, &state, (local_rx, dns_rx), query_log, running, &stop)?;
    let served = serve(&opts.control_socket, opts.metrics_listen, state.clone());
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let _ = std::fs::remove_file(&opts.control_socket);
    release(plans, state);
    tracing::info!("stopped; devices removed");
    served
}

/// The configuration vpced starts with: `--config`, or the region's current generation (and
/// whether the node's zone is down) with `--region`.
fn first_source(
    opts: &Options,
    connections: &mut state_dir::Connections,
) -> Result<(Source, region::node::RunKey), DaemonError> {
    let Some(r) = &opts.region else {
        let config = std::path::absolute(&opts.config).unwrap_or(opts.config.clone());
        return Ok((Source::File(config), Default::default()));
    };
    let region = region::Region::new(region::etcd::Etcd::new(r.endpoint.clone()));
    let Some(w) = region::node::wanted(&region)? else {
        return Err(DaemonError::NoRegionConfig(r.endpoint.clone()));
    };
    take_decisions(connections, &w.decisions)?;
    let key = w.key();
    Ok((Source::Region(Arc::new(w.config)), key))
}

/// Makes the region's endpoint-connection decisions this node's (kept in its state directory
/// too).
fn take_decisions(
    connections: &mut state_dir::Connections,
    decisions: &[state_dir::Decision],
) -> Result<(), state_dir::StateError> {
    for d in decisions {
        if connections.get(&d.endpoint) != Some(d) {
            connections.set(d.clone())?;
        }
    }
    Ok(())
}

/// Runs what the region wants of this node (the follower's callback).
fn run_region(state: &State, w: &region::node::Wanted) -> Result<(), region::node::RunError> {
    use region::node::RunError;
    let mut connections = state.connections.lock().unwrap_or_else(|p| p.into_inner());
    take_decisions(&mut connections, &w.decisions).map_err(|e| RunError::Failed(e.to_string()))?;
    drop(connections);
    match apply_source(
        state,
        Source::Region(Arc::new(w.config.clone())),
        w.zones_down.clone(),
    ) {
        Response::Applied { .. } => Ok(()),
        Response::Rejected { error, .. } if error == BUSY => Err(RunError::Busy),
        Response::Rejected { error, diagnostics } => {
            let first = diagnostics
                .first()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            Err(RunError::Failed(format!("{error}{first}")))
        }
        other => Err(RunError::Failed(format!("unexpected answer {other:?}"))),
    }
}

/// The query log's sink: `-` for standard output, else a file appended to.
fn open_query_log(
    path: Option<&std::path::Path>,
) -> Result<Option<dns::QueryLogSink>, DaemonError> {
    Ok(match path {
        None => None,
        // Buffered: the resolver flushes when no query is waiting (a write per query cost
        // nine tenths of its throughput under load).
        Some(p) if p.as_os_str() == "-" => Some(Arc::new(Mutex::new(Box::new(
            std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()),
        )))),
        Some(p) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|source| DaemonError::Socket {
                    path: p.to_path_buf(),
                    source,
                })?;
            Some(Arc::new(Mutex::new(Box::new(
                std::io::BufWriter::with_capacity(1 << 16, f),
            ))))
        }
    })
}

/// The receiving ends of the workers' channels: local packets (health probes) and DNS queries.
type LocalReceivers = (
    crossbeam_channel::Receiver<dataplane::io::LocalPacket>,
    crossbeam_channel::Receiver<dataplane::io::LocalPacket>,
);

/// Starts the workers (pinned with `--pin-workers`), the health checker, the resolver, with
/// `--flow-log` the flow-log writer and with `--region` the region's follower (`running`: what
/// the node started with).
fn spawn_threads(
    opts: &Options,
    state: &Arc<State>,
    (local_rx, dns_rx): LocalReceivers,
    query_log: Option<dns::QueryLogSink>,
    running: region::node::RunKey,
    stop: &Arc<AtomicBool>,
) -> Result<Vec<std::thread::JoinHandle<()>>, DaemonError> {
    let (plans, shared) = (&state.plans, &state.shared);
    let mut threads = Vec::new();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut io = opts.io;
    if io == dataplane::io::IoMode::Uring {
        if let Err(e) = dataplane::io::uring::available() {
            tracing::warn!(error = %e, "io_uring unavailable; workers use epoll");
            io = dataplane::io::IoMode::Epoll;
        }
    }
    for w in 0..state.workers {
        let (plans, stop, shared) = (plans.clone(), stop.clone(), shared.clone());
        let pin = opts.pin_workers.then_some(w % cpus);
        threads.push(
            std::thread::Builder::new()
                .name(format!("vpced-worker-{w}"))
                .spawn(move || {
                    if let Some(cpu) = pin {
                        let mut set = rustix::thread::CpuSet::new();
                        set.set(cpu);
                        if let Err(e) = rustix::thread::sched_setaffinity(None, &set) {
                            tracing::warn!(worker = w, cpu, error = %e, "cannot pin the worker");
                        }
                    }
                    let run = match io {
                        dataplane::io::IoMode::Epoll => worker::run,
                        dataplane::io::IoMode::Uring => dataplane::io::uring::run,
                    };
                    if let Err(e) = run(w, plans, shared.clone(), stop) {
                        tracing::error!(worker = w, error = %e, "worker stopped");
                    }
                    shared.running.gone(w);
                })?,
        );
    }
    {
        let (plans, stop, shared) = (plans.clone(), stop.clone(), shared.clone());
        let lane = state.workers;
        let dir = opts.state_dir.clone();
        threads.push(
            std::thread::Builder::new()
                .name("vpced-health".into())
                .spawn(move || checker::run(plans, shared, local_rx, lane, dir, stop))?,
        );
    }
    {
        let (plans, stop, shared) = (state.plans.clone(), stop.clone(), shared.clone());
        threads.push(
            std::thread::Builder::new()
                .name("vpced-resolver".into())
                .spawn(move || dns::run(plans, shared, dns_rx, query_log, stop))?,
        );
    }

    if let Some(node) = &opts.region {
        let (node, stop, state) = (node.clone(), stop.clone(), state.clone());
        threads.push(
            std::thread::Builder::new()
                .name("vpced-region".into())
                .spawn(move || {
                    region::node::follow(node, running, &stop, |w| run_region(&state, w))
                })?,
        );
    }
    if let Some(path) = &opts.flow_log {
        let file = (path.as_os_str() != "-").then(|| path.clone());
        // Opened here, so that a path vpced cannot write stops start-up.
        let header = opts.flow_log_format.header();
        let sink = open_flow_log(file.as_deref(), &header)?;
        let log = FlowLog {
            format: opts.flow_log_format.clone(),
            plans: state.plans.clone(),
            shared: shared.clone(),
            control: state.flow_log.clone(),
            file,
            every: opts.flow_log_interval,
        };
        let stop = stop.clone();
        threads.push(
            std::thread::Builder::new()
                .name("vpced-flowlog".into())
                .spawn(move || log.run(sink, stop))?,
        );
    }

    Ok(threads)
}

/// Releases every plan and device, then the namespaces.
fn release(plans: Arc<SnapshotCell<Plan>>, state: Arc<State>) {
    drop(plans);
    match Arc::try_unwrap(state) {
        Ok(s) => {
            drop(s.plans);
            let mut d = s.devices.into_inner().unwrap_or_else(|p| p.into_inner());
            d.shutdown();
        }
        Err(s) => s
            .devices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .shutdown(),
    }
}

/// The flow log's sink: a file appended to (its header written when it is new), or standard
/// output (`None`).
fn open_flow_log(
    file: Option<&Path>,
    header: &str,
) -> std::io::Result<Box<dyn std::io::Write + Send>> {
    let Some(path) = file else {
        let mut out = std::io::stdout();
        writeln!(out, "{header}")?;
        return Ok(Box::new(out));
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if f.metadata()?.len() == 0 {
        writeln!(f, "{header}")?;
    }
    Ok(Box::new(f))
}

/// What the control loop tells the flow-log writer, and what it counts.
#[derive(Debug, Default)]
pub struct FlowLogControl {
    /// Reopen the file before the next write (SIGHUP, an apply): logrotate moves the file
    /// away, vpced goes on in a new one — no copytruncate needed.
    pub reopen: AtomicBool,
    /// Records lost: not written (the file could not take them) or never made (the REJECT
    /// log of an interval was full). Each loss is also a SKIPDATA record, as AWS writes.
    pub skipped: std::sync::atomic::AtomicU64,
}

/// The flow-log writer thread's state.
struct FlowLog {
    format: dataplane::flowlog::Format,
    plans: Arc<SnapshotCell<Plan>>,
    shared: Arc<Shared>,
    control: Arc<FlowLogControl>,
    /// `None`: standard output.
    file: Option<PathBuf>,
    every: std::time::Duration,
}

impl FlowLog {
    /// Writes flow-log records every `every` (and once more at shutdown): what
    /// [`FlowTable::drain`] hands over and the REJECT log, formatted by [`dataplane::flowlog`],
    /// a SKIPDATA record for an interval whose records were lost.
    fn run(self, mut sink: Box<dyn std::io::Write + Send>, stop: Arc<AtomicBool>) {
        let epoch = metrics::unix_now().saturating_sub(u64::from(self.shared.now()));
        let _ = sink.flush();
        let mut since = self.shared.now();
        let mut next = Instant::now() + self.every;
        let mut out = String::new();
        // Records not written since the last successful write, and rejects lost so far.
        let (mut unwritten, mut rejects_lost) = (0u64, 0u64);
        loop {
            let stopping = stop.load(Ordering::Relaxed);
            if !stopping && Instant::now() < next {
                std::thread::sleep(std::time::Duration::from_millis(100));
                continue;
            }
            next += self.every;
            if self.control.reopen.swap(false, Ordering::AcqRel) && self.file.is_some() {
                match open_flow_log(self.file.as_deref(), &self.format.header()) {
                    Ok(s) => sink = s,
                    Err(e) => tracing::warn!(error = %e, "cannot reopen the flow log"),
                }
            }
            let plan = self.plans.load_full();
            let writer = dataplane::flowlog::Writer::new(self.format.clone(), &plan.fabric);
            let lost_now = plan.fabric.registry.rejects.lost();
            let new_rejects_lost = lost_now.saturating_sub(rejects_lost);
            rejects_lost = lost_now;
            self.control
                .skipped
                .fetch_add(new_rejects_lost, Ordering::Relaxed);
            let lost = unwritten + new_rejects_lost;
            out.clear();
            if lost > 0 {
                writer.skipdata(
                    &mut out,
                    epoch + u64::from(since),
                    epoch + u64::from(self.shared.now()),
                );
            }
            let records = self.records(&writer, &plan, &mut out, epoch, since);
            since = self.shared.now();
            if sink
                .write_all(out.as_bytes())
                .and_then(|_| sink.flush())
                .is_err()
            {
                tracing::warn!("cannot write flow logs");
                unwritten += records;
                self.control.skipped.fetch_add(records, Ordering::Relaxed);
            } else {
                unwritten = 0;
            }
            if stopping {
                return;
            }
        }
    }

    /// Appends the interval's ACCEPT and REJECT records; returns how many.
    fn records(
        &self,
        writer: &dataplane::flowlog::Writer,
        plan: &Plan,
        out: &mut String,
        epoch: u64,
        since: u32,
    ) -> u64 {
        let ifaces = dataplane::flowlog::interfaces(&plan.fabric);
        let mut written = 0;
        self.shared.flows.drain(|r| {
            if let Some(i) = ifaces.get(&r.zone) {
                written += writer.records(out, r, i, epoch, since, |dst| {
                    dataplane::flowlog::traffic_path(&plan.fabric, i, dst)
                });
            }
        });
        plan.fabric.registry.rejects.drain(|r| {
            if let Some(i) = ifaces.get(&r.zone) {
                writer.reject(out, r, i, epoch, |dst| {
                    dataplane::flowlog::traffic_path(&plan.fabric, i, dst)
                });
                written += 1;
            }
        });
        written
    }
}

/// Serves the control socket until a shutdown signal.
fn serve(
    path: &Path,
    metrics_listen: Option<std::net::SocketAddr>,
    state: Arc<State>,
) -> Result<(), DaemonError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let sock_err = |source| DaemonError::Socket {
            path: path.to_path_buf(),
            source,
        };
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(sock_err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    "another vpced is listening",
                )));
            }
            std::fs::remove_file(path).map_err(sock_err)?;
        }
        let listener = UnixListener::bind(path).map_err(sock_err)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(sock_err)?;
        tracing::info!(socket = %path.display(), "control socket ready");
        if let Some(addr) = metrics_listen {
            let listener = metrics::bind(addr)
                .await
                .map_err(|source| DaemonError::Metrics { addr, source })?;
            tracing::info!(%addr, "metrics at /metrics");
            tokio::spawn(metrics::serve(listener, state.clone()));
        }
        // Who may talk to the daemon: root, or the user vpced runs as (the socket's owner).
        // The socket is 0600 already; the peer's credentials are checked as well, so that a
        // socket made reachable by a chmod or a bind mount still answers no one else.
        let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(path).map_err(sock_err)?);
        let limit = Arc::new(tokio::sync::Semaphore::new(CONTROL_CONNECTIONS));
        let refusals = Arc::new(tokio::sync::Semaphore::new(REFUSALS));
        let mut refusal_log = RateLimitedLog::default();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        // Devices a worker found gone are made anew on the next tick.
        let mut repairs = tokio::time::interval(std::time::Duration::from_millis(200));
        repairs.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Workers run and the control socket listens: ready (systemd Type=notify).
        let systemd = notify::Notifier::from_env();
        systemd.send("READY=1");
        let mut watchdog = systemd.watchdog_every().map(tokio::time::interval);
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = hangup.recv() => {
                    tracing::info!("SIGHUP: the flow log is reopened before its next write");
                    state.flow_log.reopen.store(true, Ordering::Release);
                }
                _ = async { watchdog.as_mut()?.tick().await; Some(()) }, if watchdog.is_some() => {
                    systemd.send("WATCHDOG=1");
                }
                _ = repairs.tick() => {
                    if state.shared.repair.swap(false, Ordering::Acquire) {
                        let state = state.clone();
                        tokio::task::spawn_blocking(move || repair(&state));
                    }
                }
                conn = listener.accept() => {
                    let Ok((stream, _)) = conn else { continue };
                    let uid = stream.peer_cred().map(|c| c.uid()).ok();
                    if !uid.is_some_and(|u| u == 0 || u == owner) {
                        state.control.refused_not_root.fetch_add(1, Ordering::Relaxed);
                        refusal_log.warn(&format!(
                            "control connection from uid {} refused (root only)",
                            uid.map_or_else(|| "unknown".to_string(), |u| u.to_string())
                        ));
                        refuse(&refusals, stream, format!(
                            "permission denied: vpced's control socket answers root only (you are uid {})",
                            uid.map_or_else(|| "unknown".to_string(), |u| u.to_string())
                        ));
                        continue;
                    }
                    let Ok(permit) = limit.clone().try_acquire_owned() else {
                        state.control.refused_busy.fetch_add(1, Ordering::Relaxed);
                        refusal_log.warn("too many control connections; refusing one");
                        refuse(&refusals, stream, format!(
                            "busy: {CONTROL_CONNECTIONS} control connections are open; try again"
                        ));
                        continue;
                    };
                    let state = state.clone();
                    tokio::spawn(async move {
                        if let Err(e) = handle(stream, &state).await {
                            tracing::debug!(error = %e, "control connection");
                        }
                        drop(permit);
                    });
                }
            }
        }
        systemd.send("STOPPING=1");
        tracing::info!("shutting down");
        Ok(())
    })
}

/// Control connections served at once; more are answered `busy` and closed.
const CONTROL_CONNECTIONS: usize = 16;
/// How long a client has to send its request line (a connection that says nothing would
/// otherwise hold one of the [`CONTROL_CONNECTIONS`] forever).
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Refused connections being answered at once; past it a refused connection is closed
/// without a word (a flood of them costs a counter each, no task, no buffer).
const REFUSALS: usize = 16;

/// Answers a connection that is not served with one `Rejected` line, then closes it, in a
/// task of its own while fewer than [`REFUSALS`] are; otherwise closes it at once. What the
/// client sent is drained (at most 4 KiB, briefly: never a whole request line, which may be a
/// megabyte), so that its write does not meet a closed socket before it can read why.
fn refuse(slots: &Arc<tokio::sync::Semaphore>, stream: UnixStream, error: String) {
    let Ok(permit) = slots.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let (mut r, mut w) = stream.into_split();
        let mut sink = [0u8; 4096];
        let _ = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            tokio::io::AsyncReadExt::read(&mut r, &mut sink),
        )
        .await;
        let mut out = serde_json::to_string(&Response::Rejected {
            error,
            diagnostics: Vec::new(),
        })
        .unwrap_or_else(|_| "{}".into());
        out.push('\n');
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            w.write_all(out.as_bytes()),
        )
        .await;
        drop(permit);
    });
}

/// A warning logged at most once a second, with how many were left out since.
#[derive(Default)]
struct RateLimitedLog {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimitedLog {
    fn warn(&mut self, what: &str) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < std::time::Duration::from_secs(1))
        {
            self.suppressed += 1;
            return;
        }
        if self.suppressed > 0 {
            tracing::warn!(suppressed = self.suppressed, "{what} (and more like it)");
        } else {
            tracing::warn!("{what}");
        }
        self.last = Some(now);
        self.suppressed = 0;
    }
}

async fn handle(stream: UnixStream, state: &Arc<State>) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(r, MAX_LINE as u64));
    let mut line = String::new();
    if tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line))
        .await
        .is_err()
    {
        state.control.timed_out.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    state.control.requests.fetch_add(1, Ordering::Relaxed);
    if let Ok(Request::Capture {
        attachment,
        points,
        count,
    }) = serde_json::from_str::<Request>(&line)
    {
        // A streaming request: the connection becomes the capture's, served off the runtime.
        let r = reader.into_inner().into_inner();
        let stream = r.reunite(w).map_err(std::io::Error::other)?.into_std()?;
        stream.set_nonblocking(false)?;
        let state = state.clone();
        return tokio::task::spawn_blocking(move || {
            capture(stream, &state, &attachment, points, count)
        })
        .await
        .map_err(std::io::Error::other)?;
    }
    let response = match serde_json::from_str::<Request>(&line) {
        Err(e) => Response::Rejected {
            error: format!("not a request: {e}"),
            diagnostics: Vec::new(),
        },
        Ok(req) => {
            let state = state.clone();
            tokio::task::spawn_blocking(move || answer(req, &state))
                .await
                .unwrap_or_else(|e| Response::Rejected {
                    error: format!("internal error: {e}"),
                    diagnostics: Vec::new(),
                })
        }
    };
    let mut out = serde_json::to_string(&response).unwrap_or_else(|_| "{}".into());
    out.push('\n');
    w.write_all(out.as_bytes()).await
}

/// Serves a capture on `stream` (blocking): the `capturing` line, then pcap until `count`
/// packets or until the client goes away; the tap is off again when it returns.
fn capture(
    mut stream: std::os::unix::net::UnixStream,
    state: &State,
    attachment: &str,
    points: Vec<dataplane::io::capture::Point>,
    count: Option<u64>,
) -> std::io::Result<()> {
    use dataplane::io::capture::{pcap_header, pcap_record, Point, SNAPLEN};
    use std::io::{Read, Write};
    let line = |r: &Response| {
        let mut out = serde_json::to_string(r).unwrap_or_else(|_| "{}".into());
        out.push('\n');
        out
    };
    let reject = |stream: &mut std::os::unix::net::UnixStream, error: String| {
        stream.write_all(
            line(&Response::Rejected {
                error,
                diagnostics: Vec::new(),
            })
            .as_bytes(),
        )
    };
    let plan = state.plans.load();
    if !plan.fabric.attachments.iter().any(|a| a.id == attachment) {
        let ids: Vec<&str> = plan
            .fabric
            .attachments
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        return reject(
            &mut stream,
            format!(
                "no attachment {attachment}; attachments: {}",
                ids.join(", ")
            ),
        );
    }
    drop(plan);
    let points = if points.is_empty() {
        vec![Point::In, Point::Out]
    } else {
        points
    };
    let Some(rx) = state.shared.capture.start(attachment, &points) else {
        return reject(
            &mut stream,
            "a capture is already running; one at a time".into(),
        );
    };
    struct Off<'a>(&'a dataplane::io::capture::Capture);
    impl Drop for Off<'_> {
        fn drop(&mut self) {
            self.0.stop();
        }
    }
    let _off = Off(&state.shared.capture);
    tracing::info!(attachment, ?points, ?count, "capture started");
    stream.write_all(
        line(&Response::Capturing {
            attachment: attachment.to_string(),
            points,
        })
        .as_bytes(),
    )?;
    stream.write_all(&pcap_header())?;
    let mut record = Vec::with_capacity(SNAPLEN + 64);
    let mut sent = 0u64;
    while count.is_none_or(|n| sent < n) {
        match rx.recv_timeout(std::time::Duration::from_millis(200)) {
            Ok(c) => {
                record.clear();
                pcap_record(&c, &mut record);
                if stream.write_all(&record).is_err() {
                    break;
                }
                sent += 1;
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                // Nothing to send: is the client still there?
                stream.set_nonblocking(true)?;
                let gone = !matches!(
                    stream.read(&mut [0u8; 1]),
                    Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock
                );
                stream.set_nonblocking(false)?;
                if gone {
                    break;
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = stream.flush();
    tracing::info!(attachment, packets = sent, "capture ended");
    Ok(())
}

/// `vpcectl top`'s sample: the busiest flows and every counter.
fn top(state: &State, flows: usize) -> Response {
    let plan = state.plans.load_full();
    let ifaces = dataplane::flowlog::interfaces(&plan.fabric);
    let flows = state
        .shared
        .flows
        .top(flows.min(1000))
        .into_iter()
        .map(|r| {
            let ((src, sport), (dst, dport)) = if r.initiator_lo {
                (r.lo, r.hi)
            } else {
                (r.hi, r.lo)
            };
            protocol::TopFlow {
                interface: ifaces
                    .get(&r.zone)
                    .map_or_else(|| format!("zone {:08x}", r.zone), |i| i.id.clone()),
                protocol: r.proto,
                src,
                sport,
                dst,
                dport,
                packets: r.lo_to_hi.0 + r.hi_to_lo.0,
                bytes: r.bytes(),
            }
        })
        .collect();
    let mut report = state.registry.report();
    report.workers.truncate(state.workers);
    report.flows = Some(flow_stats(&state.shared.flows));
    Response::Top {
        generation: state.plans.generation(),
        busiest: flows,
        report,
    }
}

/// `vpcectl trace --daemon`: the path on the running configuration, targets' health included.
fn trace(
    state: &State,
    from: &str,
    to: &str,
    protocol: dataplane::trace::Protocol,
    port: u16,
    fragmented: bool,
) -> Response {
    let plan = state.plans.load_full();
    match dataplane::trace::detached(&plan.fabric) {
        Ok(f) => match dataplane::trace::resolve(&f, from, to, protocol, port) {
            Ok((q, resolved)) => Response::Trace {
                resolved,
                trace: dataplane::trace::trace(&f, &dataplane::trace::Question { fragmented, ..q }),
            },
            Err(error) => Response::Rejected {
                error,
                diagnostics: Vec::new(),
            },
        },
        Err(e) => Response::Rejected {
            error: e.to_string(),
            diagnostics: Vec::new(),
        },
    }
}

fn answer(req: Request, state: &State) -> Response {
    match req {
        Request::Capture { .. } => Response::Rejected {
            error: "capture streams on its own connection".into(),
            diagnostics: Vec::new(),
        },
        Request::Apply { path } => apply(state, &path),
        Request::Top { flows } => top(state, flows),
        Request::Stats => {
            let mut report = state.registry.report();
            report.workers.truncate(state.workers);
            report.flows = Some(flow_stats(&state.shared.flows));
            report.control = Some(dataplane::stats::ControlStats {
                devices_lost: state.shared.devices_lost.load(Ordering::Relaxed),
                ..state.control.values()
            });
            Response::Stats {
                generation: state.plans.generation(),
                report,
            }
        }
        Request::EndpointConnections => {
            let connections = state.connections.lock().unwrap_or_else(|p| p.into_inner());
            let plan = state.plans.load_full();
            Response::EndpointConnections {
                connections: state_dir::rows(&plan.fabric.snapshot.config, &connections),
            }
        }
        Request::DecideConnection { endpoint, accept } => decide(state, &endpoint, accept),
        Request::Trace {
            from,
            to,
            protocol,
            port,
            fragmented,
        } => trace(state, &from, &to, protocol, port, fragmented),
        Request::TraceAllPairs => {
            let plan = state.plans.load_full();
            match dataplane::trace::detached(&plan.fabric) {
                Ok(f) => Response::TraceAllPairs {
                    pairs: dataplane::trace::all_pairs(&f),
                },
                Err(e) => Response::Rejected {
                    error: e.to_string(),
                    diagnostics: Vec::new(),
                },
            }
        }
        Request::TargetHealth => {
            let plan = state.plans.load_full();
            let mut rows = Vec::new();
            for tg in &plan.fabric.target_groups {
                for t in &tg.targets {
                    rows.push(protocol::TargetHealthRow {
                        target_group: tg.id.clone(),
                        target: t.ip,
                        port: t.port,
                        availability_zone: t.az.clone(),
                        state: tg.reported_state(t, state.shared.now()),
                        checked: !tg.probe_nodes.is_empty(),
                    });
                }
            }
            Response::TargetHealth { targets: rows }
        }
        Request::Configuration => {
            let plan = state.plans.load_full();
            Response::Configuration {
                generation: plan.fabric.generation,
                path: state
                    .config
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .path()
                    .to_path_buf(),
                config: Box::new((*plan.fabric.snapshot.config).clone()),
            }
        }
        Request::Status => {
            let plan = state.plans.load_full();
            // Before the configuration's lock below, held to the end of the statement.
            let region = region_status(state);
            Response::Status(Status {
                pid: std::process::id(),
                generation: plan.fabric.generation,
                config: state
                    .config
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .path()
                    .to_path_buf(),
                uptime_seconds: state.started.elapsed().as_secs(),
                workers: state.workers,
                region,
                worker_generations: (0..state.workers)
                    .map(|w| state.shared.running.of(w))
                    .map(|g| (g != dataplane::io::running::GONE).then_some(g))
                    .collect(),
                attachments: plan
                    .fabric
                    .attachments
                    .iter()
                    .zip(plan.devices.iter())
                    .map(|(a, d)| AttachmentStatus {
                        id: a.id.clone(),
                        kind: a.kind.as_str().to_string(),
                        device: a.device.clone(),
                        namespace: d.namespace.clone(),
                        counters: a.counters.read(),
                    })
                    .collect(),
            })
        }
    }
}

/// A node's place in its region, for `status`.
fn region_status(state: &State) -> Option<protocol::RegionStatus> {
    let r = state.region.as_ref()?;
    let generation = match &*state.config.lock().unwrap_or_else(|p| p.into_inner()) {
        Source::Region(c) => c.generation,
        Source::File(_) => 0,
    };
    Some(protocol::RegionStatus {
        etcd: r.endpoint.to_string(),
        zone: r.zone.clone(),
        generation,
        zone_down: state
            .zones_down
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&r.zone),
    })
}

/// Makes anew the devices a worker found gone, for the running configuration (not the file
/// on disk: nothing but the devices changes), and publishes them. Waits for its turn behind
/// an apply by asking again on the next tick.
fn repair(state: &State) {
    let Ok(_applying) = state.applying.try_lock() else {
        state.shared.repair.store(true, Ordering::Release);
        return;
    };
    let current = state.plans.load_full();
    let lost: Vec<String> = current
        .devices
        .iter()
        .filter(|d| d.is_lost())
        .map(|d| d.name.clone())
        .collect();
    let result = Fabric::build(current.fabric.snapshot.clone(), state.registry.clone())
        .map_err(DaemonError::from)
        .and_then(|mut fabric| {
            fabric.zones_as(&current.fabric);
            let devices = state
                .devices
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .sync(&fabric)?;
            Ok(Plan { fabric, devices })
        });
    match result {
        Ok(plan) => {
            let generation = publish(state, plan);
            state
                .control
                .devices_recreated
                .fetch_add(lost.len() as u64, Ordering::Relaxed);
            tracing::info!(devices = ?lost, generation, "devices made anew");
        }
        Err(e) => {
            tracing::error!(devices = ?lost, error = %e, "cannot make the devices anew; apply the configuration again")
        }
    }
}

/// How long a publisher waits for every worker to run what it published.
const GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Publishes `plan` and returns its generation once every worker runs it
/// ([`dataplane::io::running`]): from then on no packet is decided under an older one. A
/// worker still behind after [`GRACE`] is named in the log; the plan stays published.
fn publish(state: &State, plan: Plan) -> u64 {
    let generation = state.plans.publish(plan);
    if let Err(behind) = state.shared.running.wait(generation, GRACE) {
        tracing::warn!(generation, workers = ?behind, "workers still on an older generation");
    }
    generation
}

/// Answers an apply already in progress.
fn busy_applying() -> Response {
    Response::Rejected {
        error: BUSY.into(),
        diagnostics: Vec::new(),
    }
}

/// What a request that finds an apply in progress is told.
const BUSY: &str = "busy: another apply or endpoint-connection decision is in progress; try again";

/// Applies the configuration at `path`: read, validated and compiled with no lock held, its
/// devices synchronized, then published; at most one at a time.
fn apply(state: &State, path: &Path) -> Response {
    if let Some(r) = &state.region {
        return Response::Rejected {
            error: format!(
                "this vpced is the {} node of the region at {}: apply to the region (`vpcectl region --etcd {} apply {}`), which every node follows",
                r.zone,
                r.endpoint,
                r.endpoint,
                path.display()
            ),
            diagnostics: Vec::new(),
        };
    }
    apply_source(state, Source::File(path.to_path_buf()), Vec::new())
}

/// Runs `source` (its devices synchronized, then published), with the region's `zones_down`;
/// at most one at a time.
fn apply_source(state: &State, source: Source, zones_down: Vec<String>) -> Response {
    let path = source.path().to_path_buf();
    let path = &path;
    let Ok(_applying) = state.applying.try_lock() else {
        return busy_applying();
    };
    let started = Instant::now();
    let connections = state
        .connections
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let result = prepare(
        &source,
        &state.registry,
        &state.devices,
        &connections,
        started,
        state.serving(&zones_down),
    );
    let response = match result {
        Ok((plan, warnings)) => {
            let generation = publish(state, plan);
            state
                .applies
                .duration
                .observe(started.elapsed().as_secs_f64());
            state.applies.applied.fetch_add(1, Ordering::Relaxed);
            state
                .applies
                .last_applied
                .store(metrics::unix_now(), Ordering::Relaxed);
            state.flow_log.reopen.store(true, Ordering::Release);
            *state.config.lock().unwrap_or_else(|p| p.into_inner()) = source;
            *state.zones_down.lock().unwrap_or_else(|p| p.into_inner()) = zones_down;
            tracing::info!(config = %path.display(), generation, "configuration applied");
            Response::Applied {
                generation,
                warnings,
            }
        }
        Err(e) => {
            state.applies.rejected.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(config = %path.display(), "configuration rejected; the running one stays");
            let diagnostics = match &e {
                DaemonError::Config(ConfigError::Invalid { diagnostics }) => diagnostics.clone(),
                _ => Vec::new(),
            };
            Response::Rejected {
                error: e.to_string(),
                diagnostics,
            }
        }
    };
    // What the configuration's parse left behind goes back to the system.
    dataplane::io::memory::trim();
    response
}

/// Accepts or rejects an endpoint's connection at run time: recorded in the state directory,
/// then a plan with the new state is built from the running configuration and published.
fn decide(state: &State, endpoint: &str, accept: bool) -> Response {
    let rejected = |error: String| Response::Rejected {
        error,
        diagnostics: Vec::new(),
    };
    if let Some(r) = &state.region {
        let verb = if accept { "accept" } else { "reject" };
        return rejected(format!(
            "this vpced is the {} node of the region at {}: decide in the region (`vpcectl region --etcd {} endpoint-connections {verb} {endpoint}`), which every node follows",
            r.zone, r.endpoint, r.endpoint
        ));
    }
    let Ok(_applying) = state.applying.try_lock() else {
        return busy_applying();
    };
    let mut connections = state.connections.lock().unwrap_or_else(|p| p.into_inner());
    let plan = state.plans.load_full();
    let config = &plan.fabric.snapshot.config;
    let decision = match state_dir::decision_for(config, endpoint, accept) {
        Ok(d) => d,
        Err(e) => return rejected(e),
    };
    let Some(e) = config.endpoints.iter().find(|e| e.id == endpoint) else {
        return rejected(format!("no endpoint {endpoint}"));
    };
    let previous = connections.get(endpoint).cloned();
    if let Err(e) = connections.set(decision.clone()) {
        return rejected(e.to_string());
    }
    let source = state
        .config
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let path = source.path();
    let zones_down = state
        .zones_down
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    match prepare(
        &source,
        &state.registry,
        &state.devices,
        &connections,
        Instant::now(),
        state.serving(&zones_down),
    ) {
        Ok((plan, _)) => {
            let generation = publish(state, plan);
            tracing::info!(endpoint, service = %decision.service, state = %decision.state, generation, "endpoint connection decided");
            Response::ConnectionDecided {
                service: decision.service,
                endpoint: decision.endpoint,
                state: decision.state,
                generation,
            }
        }
        Err(err) => {
            // Put the previous decision back: nothing changes.
            let _ = match previous {
                Some(p) => connections.set(p),
                None => connections.set(state_dir::Decision {
                    state: config.connection_state(e),
                    ..decision
                }),
            };
            rejected(format!(
                "the configuration on disk ({}) no longer builds: {err}",
                path.display()
            ))
        }
    }
}

/// The flow table's occupancy, for `stats` and `top`.
fn flow_stats(t: &FlowTable) -> dataplane::stats::FlowStats {
    dataplane::stats::FlowStats {
        entries: t.len(),
        capacity: t.capacity(),
        memory_bytes: t.memory_bytes(),
        per_eni_limit: t.per_zone_limit(),
        fragments: t.fragments().len(),
        fragments_evicted: t.fragments().evicted(),
    }
}
