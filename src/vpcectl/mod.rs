//! `vpcectl`: the control CLI.
//!
//! Nouns and verbs read like `ip route` and the AWS CLI: `vpcectl validate FILE`,
//! `vpcectl show route-tables FILE`, `vpcectl lookup FILE --route-table rtb-… ADDRESS`,
//! `vpcectl prefix-list from-ip-ranges …`, `vpcectl completions bash`.

mod apply;
mod bench;
mod capture;
mod cli;
mod import;
mod lookup;
mod man;
mod policy;
mod prefix_list;
mod region;
mod render;
mod top;
mod trace;
mod validate;

pub use cli::*;
use {
    apply::cmd_apply,
    capture::cmd_capture,
    import::cmd_import_aws,
    lookup::cmd_lookup,
    man::cmd_man,
    policy::cmd_policy,
    prefix_list::cmd_from_ip_ranges,
    trace::cmd_trace,
    validate::{cmd_validate, config_error_json},
};

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use control::diag::Severity;
use control::ip_ranges::IpRanges;
use control::model::AddressFamily;
use control::{compile, load_file, Compiled, ConfigError};
use daemon::protocol::{self, Request, Response};
use serde_json::json;
/// A failure of a command: what to print and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
    /// The same failure as JSON, printed on stdout in `--output json` mode.
    pub json: Option<serde_json::Value>,
}

impl Failure {
    fn bad_input(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
            json: None,
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        // A reader that stopped early (`vpcectl show … | head`) is not an error.
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Failure {
                code: 0,
                message: String::new(),
                json: None,
            };
        }
        Failure {
            code: 1,
            message: format!("cannot write output: {e}"),
            json: None,
        }
    }
}

/// Runs `vpcectl` with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let json_mode = matches!(
        &cli.command,
        Command::Validate { out, .. }
            | Command::Lookup { out, .. }
            | Command::Policy(PolicyCommand::Check { out, .. })
            | Command::Apply { out, .. }
            | Command::Stats { out, .. }
            | Command::Status { out, .. }
            | Command::EndpointConnections(
                ConnectionsCommand::List { out, .. }
                    | ConnectionsCommand::Accept { out, .. }
                    | ConnectionsCommand::Reject { out, .. }
            )
            | Command::Import(ImportCommand::Aws { out, .. })
            | Command::Top { out, .. }
            | Command::Region(RegionArgs {
                command: RegionCommand::Apply { out, .. }
                    | RegionCommand::Status { out }
                    | RegionCommand::FailZone { out, .. }
                    | RegionCommand::RestoreZone { out, .. }
                    | RegionCommand::Stats { out }
                    | RegionCommand::EndpointConnections(
                        RegionConnectionsCommand::Accept { out, .. }
                            | RegionConnectionsCommand::Reject { out, .. }
                    ),
                ..
            })
            | Command::Capture(CaptureArgs { out, .. })
            | Command::PrefixList(PrefixListCommand::FromIpRanges(FromIpRangesArgs { out, .. }))
            if out.output == Output::Json
    ) || matches!(
        &cli.command,
        Command::Trace(TraceArgs {
            output: PictureOutput::Json,
            ..
        }) | Command::Region(RegionArgs {
            command: RegionCommand::Trace {
                output: PictureOutput::Json,
                ..
            },
            ..
        }) | Command::Show {
            output: PictureOutput::Json,
            ..
        }
    );
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if json_mode {
                if let Some(j) = &f.json {
                    println!("{}", serde_json::to_string_pretty(j).unwrap_or_default());
                }
            }
            // Broken pipe on stdout is not worth a message.
            if !f.message.is_empty() {
                eprintln!("vpcectl: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Validate { file, out: o } => cmd_validate(&mut out, &file, o.output),
        Command::Show {
            what,
            file,
            id,
            daemon,
            socket,
            output,
        } => {
            let socket = socket.unwrap_or_else(|| daemon::protocol::DEFAULT_SOCKET.into());
            let from = match (daemon || what == Noun::TargetHealth, file) {
                (true, _) => Source::Daemon(socket),
                (false, Some(f)) => Source::File(f),
                (false, None) => Source::File(default_config()?),
            };
            cmd_show(&mut out, what, from, id.as_deref(), output)
        }
        Command::Trace(args) => cmd_trace(&mut out, args),
        Command::Region(args) => region::cmd_region(&mut out, args),
        Command::EndpointConnections(c) => cmd_endpoint_connections(&mut out, c),
        Command::Apply {
            file,
            socket,
            out: o,
        } => cmd_apply(&mut out, &file, &socket.socket, o.output),
        Command::Stats { socket, out: o } => {
            let r = daemon_call(&socket.socket, &Request::Stats)?;
            render::daemon_response(&mut out, &r, o.output)
        }
        Command::Status { socket, out: o } => {
            let r = daemon_call(&socket.socket, &Request::Status)?;
            render::daemon_response(&mut out, &r, o.output)
        }
        Command::Lookup {
            file,
            route_table,
            subnet,
            address,
            out: o,
        } => {
            let compiled = load_and_compile(&file)?;
            cmd_lookup(
                &mut out,
                &file,
                &compiled,
                route_table,
                subnet,
                address,
                o.output,
            )
        }
        Command::Policy(c) => cmd_policy(&mut out, c),
        Command::PrefixList(PrefixListCommand::FromIpRanges(a)) => cmd_from_ip_ranges(&mut out, &a),
        Command::Bench(BenchCommand::Lpm(args)) => bench::lpm(&args, &mut out),
        Command::Import(ImportCommand::Aws {
            dir,
            output_file,
            region,
            out: o,
        }) => cmd_import_aws(
            &mut out,
            &dir,
            output_file.as_deref(),
            region.as_deref(),
            o.output,
        ),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "vpcectl", &mut out);
            Ok(())
        }
        Command::Man { dir } => cmd_man(&mut out, &dir),
        Command::Capture(args) => cmd_capture(&mut out, args),
        Command::Top {
            interval,
            once,
            socket,
            out: o,
        } => cmd_top(&mut out, interval, once, &socket.socket, o.output),
    }
}

/// Where `show` reads the configuration.
enum Source {
    File(PathBuf),
    /// The running vpced, at this control socket.
    Daemon(PathBuf),
}

/// The configuration file of a service install, when no file is given.
const DEFAULT_CONFIG: &str = "/etc/vpce/vpce.toml";

fn default_config() -> Result<PathBuf, Failure> {
    let p = PathBuf::from(DEFAULT_CONFIG);
    if p.exists() {
        Ok(p)
    } else {
        Err(Failure::bad_input(format!(
            "give the configuration file to show ({DEFAULT_CONFIG} does not exist), or --daemon for what vpced runs"
        )))
    }
}

/// `vpcectl show`: a configuration's tables (from a file or the running vpced), or (target
/// health) the daemon's.
fn cmd_show(
    out: &mut impl Write,
    what: Noun,
    from: Source,
    id: Option<&str>,
    output: PictureOutput,
) -> Result<(), Failure> {
    let picture = matches!(output, PictureOutput::Dot | PictureOutput::Mermaid);
    if picture != (what == Noun::Topology) {
        return Err(Failure::bad_input(if picture {
            "only `show topology` draws a picture; -o table or -o json here"
        } else {
            "`show topology` draws a picture: -o dot or -o mermaid"
        }));
    }
    let pictured = output;
    let output = match output {
        PictureOutput::Json => Output::Json,
        _ => Output::Table,
    };
    if let (Noun::TargetHealth, Source::Daemon(socket)) = (what, &from) {
        let r = daemon_call(socket, &Request::TargetHealth)?;
        return render::daemon_response(out, &r, output);
    }
    let compiled = match from {
        Source::File(file) => load_and_compile(&file)?,
        Source::Daemon(socket) => running_configuration(&socket)?,
    };
    if what == Noun::Topology {
        if id.is_some() {
            return Err(Failure::bad_input(
                "`show topology` draws all of it: no --id",
            ));
        }
        let c = &compiled.snapshot.config;
        let text = match pictured {
            PictureOutput::Dot => render::topology_dot(c),
            _ => render::topology_mermaid(c),
        };
        out.write_all(text.as_bytes())?;
        return Ok(());
    }
    if what == Noun::Attachments {
        let atts = dataplane::fabric::attachments_of(compiled.snapshot)
            .map_err(|e| Failure::bad_input(e.to_string()))?;
        return render::attachments(out, &atts, id, output);
    }
    render::show(out, &compiled, what, id, output)
}

/// The configuration the running vpced runs, compiled here as it was there.
fn running_configuration(socket: &Path) -> Result<Compiled, Failure> {
    match daemon_call(socket, &Request::Configuration)? {
        daemon::protocol::Response::Configuration { path, config, .. } => {
            let source = control::diag::SourceMap::new(path, String::new());
            let loaded = control::load::LoadedConfig {
                config: *config,
                source,
            };
            compile(&loaded).map_err(config_failure)
        }
        other => Err(Failure {
            code: 1,
            message: format!("unexpected answer from vpced: {other:?}"),
            json: None,
        }),
    }
}

/// `vpcectl endpoint-connections list|accept|reject`, against the daemon.
fn cmd_endpoint_connections(out: &mut impl Write, c: ConnectionsCommand) -> Result<(), Failure> {
    let (req, socket, o) = match c {
        ConnectionsCommand::List { socket, out } => (Request::EndpointConnections, socket, out),
        ConnectionsCommand::Accept {
            endpoint,
            socket,
            out,
        } => (
            Request::DecideConnection {
                endpoint,
                accept: true,
            },
            socket,
            out,
        ),
        ConnectionsCommand::Reject {
            endpoint,
            socket,
            out,
        } => (
            Request::DecideConnection {
                endpoint,
                accept: false,
            },
            socket,
            out,
        ),
    };
    let r = daemon_call(&socket.socket, &req)?;
    if let Response::Rejected { error, .. } = &r {
        return Err(Failure {
            code: 2,
            message: format!("vpced refused: {error}"),
            json: serde_json::to_value(&r).ok(),
        });
    }
    render::daemon_response(out, &r, o.output)
}

/// `vpcectl top`: the daemon's counters, refreshed every `interval` seconds.
fn cmd_top(
    out: &mut impl Write,
    interval: f64,
    once: bool,
    socket: &Path,
    output: Output,
) -> Result<(), Failure> {
    if !(0.1..=3600.0).contains(&interval) {
        return Err(Failure::bad_input(format!(
            "--interval {interval}: from 0.1 to 3600 seconds"
        )));
    }
    if output == Output::Json && !once {
        return Err(Failure::bad_input(
            "-o json prints one frame: give --once (the live view is for a terminal)",
        ));
    }
    top::run(
        out,
        socket,
        std::time::Duration::from_secs_f64(interval),
        once,
        output,
    )
}

fn daemon_call(socket: &Path, req: &Request) -> Result<Response, Failure> {
    protocol::call(socket, req, std::time::Duration::from_secs(120)).map_err(|e| Failure {
        code: 1,
        message: e.to_string(),
        json: None,
    })
}

/// Loads, validates and compiles; warnings go to stderr.
fn load_and_compile(file: &Path) -> Result<Compiled, Failure> {
    let loaded = load_file(file).map_err(config_failure)?;
    let compiled = compile(&loaded).map_err(config_failure)?;
    for w in &compiled.warnings {
        eprintln!("{w}");
    }
    Ok(compiled)
}

/// A configuration error as a failure with exit code 2 and a JSON form.
fn config_failure(e: ConfigError) -> Failure {
    Failure {
        code: 2,
        message: e.to_string(),
        json: Some(config_error_json(&e)),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
