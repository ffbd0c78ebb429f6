//! `vpced`: the dataplane daemon's command line. See `daemon` for what it does.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use daemon::{self, protocol::DEFAULT_SOCKET, DaemonError, Options};

/// vpced — forward a VPC's traffic between TUN devices, per its configuration.
#[derive(Debug, Parser)]
#[command(
    name = "vpced",
    version,
    about = "the vpce dataplane daemon: forwards a VPC's traffic between TUN devices as AWS PrivateLink and VPC endpoints do",
    long_about = None
)]
pub struct Cli {
    /// The deployment's configuration (TOML); not with --region, whose configuration is in
    /// etcd.
    #[arg(
        short,
        long,
        required_unless_present = "region",
        conflicts_with = "region"
    )]
    config: Option<PathBuf>,
    /// Run as one node of a region: follow the configuration in etcd at ENDPOINT
    /// (`unix://PATH` or `http://HOST:PORT`), as the node of --zone; `vpcectl region` drives
    /// it.
    #[arg(long, value_name = "ENDPOINT", requires = "zone", value_parser = parse_endpoint)]
    region: Option<daemon::region::etcd::Endpoint>,
    /// The availability zone this node serves (with --region), e.g. us-east-1b.
    #[arg(long, requires = "region")]
    zone: Option<String>,
    /// Seconds the node's lease in etcd lives without renewal (renewed at a third of it): a
    /// node gone this long has left the region.
    #[arg(long, value_name = "SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(2..=3600))]
    lease_ttl: u64,
    /// Control socket for vpcectl (created 0600: root only).
    #[arg(long, default_value = DEFAULT_SOCKET, env = "VPCE_SOCKET")]
    control_socket: PathBuf,
    /// Worker threads (one queue of every device each). Default: the number of cores.
    #[arg(long)]
    workers: Option<usize>,
    /// Prefix for every network namespace name in the configuration (to run several labs
    /// side by side).
    #[arg(long, default_value = "")]
    netns_prefix: String,
    /// Run inside this network namespace (created if missing and then deleted at exit), so
    /// that the fabric has no uplink: nothing it forwards can reach the machine's network.
    #[arg(long)]
    netns: Option<String>,
    /// Pin worker i to CPU i (the flows the kernel steers to a queue then stay on one core).
    #[arg(long)]
    pin_workers: bool,
    /// How workers read and write their queues: `epoll` (a read or write per packet) or
    /// `uring` (io_uring: reads kept in flight on every queue, writes submitted in batches;
    /// epoll is used, with a warning, where the kernel refuses io_uring).
    #[arg(long, value_name = "MODE", default_value = "epoll")]
    io: dataplane::io::IoMode,
    /// How flows are spread over the workers: `flows` (each new flow gets a worker,
    /// round-robin, and both its directions are read by that worker from their first round
    /// trip: vpced writes a flow's packets through that worker's queues, from which the
    /// kernel's TUN devices learn where to send the flow) or `kernel` (each worker writes
    /// through its own queues; the kernel's flow hash alone decides).
    #[arg(long, value_name = "MODE", default_value = "flows")]
    steer: dataplane::io::steer::Mode,
    /// Read uplinks' packet sockets with `read(2)`, one frame per call, instead of through
    /// receive rings shared with the kernel (`PACKET_RX_RING`; with `--io uring` uplinks are
    /// always read this way).
    #[arg(long)]
    no_uplink_ring: bool,
    /// Serve Prometheus metrics at http://ADDR/metrics (in vpced's network namespace; off
    /// unless given), e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Write VPC Flow Logs records (AWS's format, version 5 fields) to FILE (appended; `-`:
    /// standard output).
    #[arg(long, value_name = "FILE")]
    flow_log: Option<PathBuf>,
    /// The flow logs' fields, as AWS's custom format: `${field}` tokens separated by spaces,
    /// any of versions 2 to 5 (`${version} ${vpc-id} ${subnet-id} ${instance-id} ${srcaddr}
    /// … ${flow-direction} ${traffic-path}`). Default: the version 2 fields, then
    /// pkt-srcaddr, pkt-dstaddr, flow-direction, traffic-path.
    #[arg(long, value_name = "FORMAT", value_parser = parse_flow_log_format)]
    flow_log_format: Option<dataplane::flowlog::Format>,
    /// The flow logs' aggregation interval in seconds (AWS offers 60 and 600).
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=600))]
    flow_log_interval: u64,
    /// Flows the connection tracker holds at most (security-group state and endpoint
    /// translations; a new flow beyond it is dropped and counted as `flow_table_full`).
    /// Memory: 128-byte slots at a load of 0.6 when full, about 213 bytes per flow (54 MiB
    /// for the default), touched as flows arrive.
    #[arg(long, default_value_t = 262_144)]
    max_flows: usize,
    /// Flows one ENI may hold at most — each interface's connection-tracking allowance, as
    /// in AWS (any zone: instance ENI, endpoint ENI, load-balancer node, GWLB endpoint); a
    /// new flow beyond it is dropped and counted as `flow_quota_exceeded`, so that one
    /// tenant cannot take the whole table. Default: a quarter of --max-flows.
    #[arg(long, value_name = "FLOWS")]
    max_flows_per_eni: Option<usize>,
    /// Where decisions made at run time (endpoint connections accepted or rejected) are kept
    /// across restarts.
    #[arg(long, default_value = "/var/lib/vpced")]
    state_dir: PathBuf,
    /// Keep no state on disk (decisions last until vpced stops).
    #[arg(long, conflicts_with = "state_dir")]
    no_state: bool,
    /// Write a Route 53 Resolver style query log line (JSON) per DNS query to this file, or
    /// `-` for standard output.
    #[arg(long)]
    query_log: Option<PathBuf>,
    /// Log filter (tracing's env-filter syntax), e.g. `info`, `dataplane=debug`.
    #[arg(long, default_value = "info", env = "VPCED_LOG")]
    log: String,
    /// Log lines as text for people, or as one JSON object per line (journald, Loki, jq).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn parse_endpoint(s: &str) -> Result<daemon::region::etcd::Endpoint, String> {
    s.parse()
}

fn parse_flow_log_format(s: &str) -> Result<dataplane::flowlog::Format, String> {
    dataplane::flowlog::Format::parse(s).map_err(|e| e.to_string())
}

/// The command-line definition (for man pages and completions).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // netlink-packet-route warns, for every link it parses, about attributes a newer kernel
    // sends than it knows (IFLA_INET6_CONF grows); nothing vpced reads. Its errors still show.
    let quiet = "netlink_packet_route=error";
    let filter = match tracing_subscriber::EnvFilter::try_new(format!("{quiet},{}", cli.log)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("vpced: --log `{}`: {e}", cli.log);
            return ExitCode::from(2);
        }
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let workers = cli.workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    // One counter lane per worker, plus one for the health checker and one for traces.
    if workers == 0 || workers > dataplane::stats::MAX_LANES - 2 {
        eprintln!(
            "vpced: --workers must be between 1 and {}",
            dataplane::stats::MAX_LANES - 2
        );
        return ExitCode::from(2);
    }
    if cli.max_flows == 0 {
        eprintln!("vpced: --max-flows must be at least 1");
        return ExitCode::from(2);
    }
    if cli.max_flows_per_eni == Some(0) {
        eprintln!("vpced: --max-flows-per-eni must be at least 1");
        return ExitCode::from(2);
    }
    let region = cli
        .region
        .map(|endpoint| daemon::region::node::NodeOptions {
            endpoint,
            zone: cli.zone.unwrap_or_default(),
            lease_ttl: cli.lease_ttl,
            control_socket: cli.control_socket.clone(),
        });
    let opts = Options {
        config: cli.config.unwrap_or_default(),
        region,
        control_socket: cli.control_socket,
        workers,
        netns_prefix: cli.netns_prefix,
        netns: cli.netns,
        max_flows: cli.max_flows,
        max_flows_per_eni: cli.max_flows_per_eni.unwrap_or((cli.max_flows / 4).max(1)),
        state_dir: (!cli.no_state).then_some(cli.state_dir),
        query_log: cli.query_log,
        pin_workers: cli.pin_workers,
        io: cli.io,
        steer: cli.steer,
        uplink_rings: !cli.no_uplink_ring,
        metrics_listen: cli.metrics_listen,
        flow_log: cli.flow_log,
        flow_log_interval: std::time::Duration::from_secs(cli.flow_log_interval),
        flow_log_format: cli
            .flow_log_format
            .unwrap_or_else(dataplane::flowlog::Format::default_v5),
    };
    match daemon::run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(
            e @ (DaemonError::Config(_)
            | DaemonError::NoRegionConfig(_)
            | DaemonError::ZoneUnknown { .. }),
        ) => {
            eprintln!("vpced: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("vpced: {e}");
            ExitCode::from(1)
        }
    }
}
