//! `vpced`: the dataplane daemon's command line. See `dataplane::daemon` for what it does.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dataplane::daemon::{self, protocol::DEFAULT_SOCKET, DaemonError, Options};

/// vpced — forward a VPC's traffic between TUN devices, per its configuration.
#[derive(Debug, Parser)]
#[command(name = "vpced", version, about, long_about = None)]
pub struct Cli {
    /// The deployment's configuration (TOML).
    #[arg(short, long)]
    config: PathBuf,
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
    /// Log filter (tracing's env-filter syntax), e.g. `info`, `dataplane=debug`.
    #[arg(long, default_value = "info", env = "VPCED_LOG")]
    log: String,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let workers = cli.workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if workers == 0 || workers > dataplane::stats::MAX_LANES {
        eprintln!("vpced: --workers must be between 1 and 64");
        return ExitCode::from(2);
    }
    let opts = Options {
        config: cli.config,
        control_socket: cli.control_socket,
        workers,
        netns_prefix: cli.netns_prefix,
        netns: cli.netns,
    };
    match daemon::run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ DaemonError::Config(_)) => {
            eprintln!("vpced: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("vpced: {e}");
            ExitCode::from(1)
        }
    }
}
