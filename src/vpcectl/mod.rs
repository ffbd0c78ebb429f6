//! `vpcectl`: the control CLI.
//!
//! Nouns and verbs read like `ip route` and the AWS CLI: `vpcectl validate FILE`,
//! `vpcectl show route-tables FILE`, `vpcectl lookup FILE --route-table rtb-… ADDRESS`,
//! `vpcectl prefix-list from-ip-ranges …`, `vpcectl completions bash`.

mod bench;
mod render;
mod top;

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use control::diag::Severity;
use control::ip_ranges::IpRanges;
use control::model::AddressFamily;
use control::{compile, load_file, Compiled, ConfigError};
use daemon::protocol::{self, Request, Response};
use serde_json::json;

/// vpcectl — validate, inspect and query vpce deployments.
#[derive(Debug, Parser)]
#[command(name = "vpcectl", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns for people.
    #[default]
    Table,
    /// One JSON document on stdout, for scripts.
    Json,
}

#[derive(Debug, Args)]
struct OutputArg {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a configuration: every reference, CIDR and route-table rule. Exit 0 when valid
    /// (warnings on stderr), 2 when not.
    Validate {
        /// The deployment's configuration (TOML).
        file: PathBuf,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Show the entities of a configuration, compiled as the dataplane sees them
    /// (`target-health` asks the running vpced instead).
    Show {
        /// What to show.
        #[arg(value_enum)]
        what: Noun,
        /// The deployment's configuration (TOML); not for `target-health`.
        file: Option<PathBuf>,
        /// Only the entity with this id.
        #[arg(long)]
        id: Option<String>,
        /// vpced's control socket (`target-health`).
        #[arg(long, env = "VPCE_SOCKET")]
        socket: Option<PathBuf>,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Explain a path: what the dataplane does with a packet from SOURCE to DESTINATION, hop
    /// by hop, and the way back — from a configuration file, or from the running vpced
    /// (`--daemon`). Exit 0 when reachable, 3 when blocked (the blocking component, a code and
    /// what to change are printed), 2 on bad input.
    Trace(TraceArgs),
    /// Connections of interface endpoints to endpoint services in the running vpced: list
    /// them, accept or reject one (like the provider's "Endpoint connections" tab).
    #[command(name = "endpoint-connections", subcommand)]
    EndpointConnections(ConnectionsCommand),
    /// Which route a route table uses for an address, and why it wins.
    Lookup {
        /// The deployment's configuration (TOML).
        file: PathBuf,
        /// The route table to look in.
        #[arg(long, required_unless_present = "subnet", conflicts_with = "subnet")]
        route_table: Option<String>,
        /// Look in the route table this subnet uses (explicit association or main table).
        #[arg(long)]
        subnet: Option<String>,
        /// Destination address (IPv4 or IPv6).
        address: IpAddr,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Apply a configuration to the running vpced: it is validated and compiled in the daemon
    /// and swapped in atomically. Exit 2 if it is rejected; the running one then stays.
    Apply {
        /// The deployment's configuration (TOML).
        file: PathBuf,
        #[command(flatten)]
        socket: SocketArg,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Counters of the running vpced: per attachment, route table, endpoint, internet
    /// gateway, and drops by reason.
    Stats {
        #[command(flatten)]
        socket: SocketArg,
        #[command(flatten)]
        out: OutputArg,
    },
    /// A live view of the running vpced: the busiest flows, endpoints and the rest of the
    /// fabric, drop reasons — rates, refreshed every interval (q quits).
    Top {
        /// Seconds between refreshes.
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
        /// Print one frame as text (two samples an interval apart) and exit.
        #[arg(long)]
        once: bool,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Capture an attachment's packets in the running vpced, as pcap that tcpdump and tshark
    /// read: what it sends before rewrite (`in`), the same after rewrite (`rewritten`), what
    /// vpced delivers to it (`out`). Ctrl-C or --count ends it.
    Capture(CaptureArgs),
    /// What the running vpced is doing: configuration, generation, workers, attachments.
    Status {
        #[command(flatten)]
        socket: SocketArg,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Measure vpce's engines on your own data.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Managed prefix lists.
    #[command(name = "prefix-list", subcommand)]
    PrefixList(PrefixListCommand),
    /// Bring an existing deployment in: `import aws DIR` reads what scripts/export-aws.sh
    /// saved (the AWS CLI's JSON) and writes a native configuration that validates.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages of vpcectl (one per command), vpced and vpce-appliance into DIR,
    /// generated from the same definitions as --help (the Debian package ships them).
    #[command(hide = true)]
    Man { dir: PathBuf },
}

#[derive(Debug, Args)]
struct TraceArgs {
    /// The deployment's configuration (TOML); not with --daemon.
    #[arg(required_unless_present = "daemon")]
    file: Option<PathBuf>,
    /// The source: an instance (`i-…`), a network interface (`eni-…`), an address, or
    /// `internet`.
    #[arg(long, required_unless_present = "all_pairs")]
    from: Option<String>,
    /// The destination: an instance, a network interface, an endpoint (`vpce-…`), an address
    /// or a DNS name (resolved with the private DNS the source's VPC sees).
    #[arg(long, required_unless_present = "all_pairs")]
    to: Option<String>,
    #[arg(long, value_enum, default_value_t = TraceProtocol::Tcp)]
    protocol: TraceProtocol,
    /// Destination port (TCP, UDP).
    #[arg(long, default_value_t = 443)]
    port: u16,
    /// Every instance to every endpoint, as a matrix.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    all_pairs: bool,
    /// Send the request as two IPv4 fragments: the trace shows the later fragment's way (it
    /// follows the first fragment, which carries the ports).
    #[arg(long, conflicts_with = "all_pairs")]
    fragmented: bool,
    /// Ask the running vpced (its configuration, decisions and targets' health).
    #[arg(long)]
    daemon: bool,
    /// vpced's control socket (with --daemon).
    #[arg(long, env = "VPCE_SOCKET", default_value = daemon::protocol::DEFAULT_SOCKET)]
    socket: PathBuf,
    #[command(flatten)]
    out: OutputArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TraceProtocol {
    Tcp,
    Udp,
    Icmp,
}

#[derive(Debug, Subcommand)]
enum ConnectionsCommand {
    /// Every interface endpoint's connection, its state and who decided it.
    List {
        #[command(flatten)]
        socket: SocketArg,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Accept an endpoint's connection: it becomes `available` and carries traffic.
    Accept {
        /// The endpoint (`vpce-…`).
        endpoint: String,
        #[command(flatten)]
        socket: SocketArg,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Reject an endpoint's connection: it becomes `rejected` and carries nothing.
    Reject {
        /// The endpoint (`vpce-…`).
        endpoint: String,
        #[command(flatten)]
        socket: SocketArg,
        #[command(flatten)]
        out: OutputArg,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Longest-prefix match: build time, size and lookups/s of a table of yours.
    Lpm(bench::LpmBench),
}

#[derive(Debug, Args)]
struct CaptureArgs {
    /// The attachment: an ENI (`eni-…`), or another id `vpcectl status` lists.
    attachment: String,
    /// Write pcap here (`-` for standard output, e.g. `| tshark -r -`).
    #[arg(short = 'w', long = "write", value_name = "FILE.pcap")]
    write: Option<PathBuf>,
    /// Stop after this many packets.
    #[arg(short = 'c', long)]
    count: Option<u64>,
    /// Where to look (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "in,out")]
    point: Vec<CapturePoint>,
    #[command(flatten)]
    socket: SocketArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CapturePoint {
    /// What the attachment sends, before any rewrite.
    In,
    /// What it sends, after the pipeline rewrote it.
    Rewritten,
    /// What vpced delivers to it.
    Out,
}

#[derive(Debug, Args)]
struct SocketArg {
    /// vpced's control socket.
    #[arg(long, env = "VPCE_SOCKET", default_value = daemon::protocol::DEFAULT_SOCKET)]
    socket: PathBuf,
}

#[derive(Debug, Subcommand)]
enum PrefixListCommand {
    /// Build a prefix list from an AWS ip-ranges.json file (plain or .xz), filtered by
    /// service and region: a `[[prefix_lists]]` table to paste into a configuration, or the
    /// filtered ip-ranges.json to keep beside it.
    FromIpRanges {
        /// Path to ip-ranges.json (https://ip-ranges.amazonaws.com/ip-ranges.json).
        ip_ranges: PathBuf,
        /// The `service` field to keep: S3, DYNAMODB, EC2, …
        #[arg(long)]
        service: String,
        /// The `region` field to keep, e.g. us-east-1.
        #[arg(long)]
        region: String,
        /// Address family of the list.
        #[arg(long, value_enum, default_value_t = Family::Ipv4)]
        family: Family,
        /// Prefix list id for the TOML output.
        #[arg(long, default_value = "pl-00000000")]
        id: String,
        /// Prefix list name; defaults to com.amazonaws.<region>.<service>.
        #[arg(long)]
        name: Option<String>,
        /// `toml`: a [[prefix_lists]] table; `json`: ip-ranges.json holding only the
        /// selected entries (both families).
        #[arg(long, value_enum, default_value_t = ListFormat::Toml)]
        format: ListFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Family {
    Ipv4,
    Ipv6,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ListFormat {
    Toml,
    Json,
}

/// The entity kinds `show` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Noun {
    /// The TUN devices vpced makes: one per ENI, internet gateway and service network.
    Attachments,
    Vpcs,
    Subnets,
    RouteTables,
    PrefixLists,
    InternetGateways,
    NatGateways,
    SecurityGroups,
    Instances,
    NetworkInterfaces,
    Endpoints,
    EndpointServices,
    LoadBalancers,
    TargetGroups,
    HostedZones,
    /// Health of every target, from the running vpced (`--socket`, or VPCE_SOCKET, or the
    /// default socket).
    TargetHealth,
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// From an AWS export: VPCs, subnets, route tables, internet gateways, prefix lists,
    /// security groups, instances, NAT gateways, load balancers, target groups, endpoint services
    /// and endpoints. What cannot be mapped is listed on stderr, resource by resource.
    Aws {
        /// The directory scripts/export-aws.sh wrote.
        dir: PathBuf,
        /// Where to write the configuration (default: standard output).
        #[arg(long, short = 'O', visible_alias = "output")]
        output_file: Option<PathBuf>,
        /// The region, when the export does not tell (its subnets' zones do).
        #[arg(long)]
        region: Option<String>,
    },
}

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
            | Command::Show { out, .. }
            | Command::Lookup { out, .. }
            | Command::Apply { out, .. }
            | Command::Stats { out, .. }
            | Command::Status { out, .. }
            | Command::Trace(TraceArgs { out, .. })
            | Command::EndpointConnections(
                ConnectionsCommand::List { out, .. }
                    | ConnectionsCommand::Accept { out, .. }
                    | ConnectionsCommand::Reject { out, .. }
            )
            if out.output == Output::Json
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
            what: Noun::TargetHealth,
            socket,
            out: o,
            ..
        } => {
            let socket = socket.unwrap_or_else(|| daemon::protocol::DEFAULT_SOCKET.into());
            let r = daemon_call(&socket, &Request::TargetHealth)?;
            render::daemon_response(&mut out, &r, o.output)
        }
        Command::Show { file: None, .. } => Err(Failure::bad_input(
            "give the configuration file to show (only `show target-health` asks the daemon)",
        )),
        Command::Show {
            what: Noun::Attachments,
            file: Some(file),
            id,
            out: o,
            ..
        } => {
            let compiled = load_and_compile(&file)?;
            let atts = dataplane::fabric::attachments_of(compiled.snapshot)
                .map_err(|e| Failure::bad_input(e.to_string()))?;
            render::attachments(&mut out, &atts, id.as_deref(), o.output)
        }
        Command::Show {
            what,
            file: Some(file),
            id,
            out: o,
            ..
        } => {
            let compiled = load_and_compile(&file)?;
            render::show(&mut out, &compiled, what, id.as_deref(), o.output)
        }
        Command::Trace(args) => cmd_trace(&mut out, args),
        Command::EndpointConnections(c) => {
            let (req, socket, o) = match c {
                ConnectionsCommand::List { socket, out } => {
                    (Request::EndpointConnections, socket, out)
                }
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
            render::daemon_response(&mut out, &r, o.output)
        }
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
        Command::PrefixList(PrefixListCommand::FromIpRanges {
            ip_ranges,
            service,
            region,
            family,
            id,
            name,
            format,
        }) => cmd_from_ip_ranges(
            &mut out, &ip_ranges, &service, &region, family, &id, name, format,
        ),
        Command::Bench(BenchCommand::Lpm(args)) => bench::lpm(&args, &mut out),
        Command::Import(ImportCommand::Aws {
            dir,
            output_file,
            region,
        }) => cmd_import_aws(&mut out, &dir, output_file.as_deref(), region.as_deref()),
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
        } => {
            if !(0.1..=3600.0).contains(&interval) {
                return Err(Failure::bad_input(format!(
                    "--interval {interval}: from 0.1 to 3600 seconds"
                )));
            }
            top::run(
                &mut out,
                &socket.socket,
                std::time::Duration::from_secs_f64(interval),
                once,
            )
        }
    }
}

/// Streams a capture from the daemon into a file or standard output, record by record (so that
/// an interrupted capture leaves whole records), counting them on standard error.
fn cmd_capture(out: &mut impl Write, args: CaptureArgs) -> Result<(), Failure> {
    use dataplane::io::capture::Point;
    use std::io::{IsTerminal, Read};
    let to_stdout = match &args.write {
        None if std::io::stdout().is_terminal() => {
            return Err(Failure::bad_input(
                "pcap is binary: give -w FILE.pcap, or -w - and pipe it (`| tshark -r -`)",
            ))
        }
        None => true,
        Some(p) => p.as_os_str() == "-",
    };
    let mut file = match (&args.write, to_stdout) {
        (Some(p), false) => Some(std::fs::File::create(p).map_err(|e| Failure {
            code: 1,
            message: format!("{}: {e}", p.display()),
            json: None,
        })?),
        _ => None,
    };
    let points = args
        .point
        .iter()
        .map(|p| match p {
            CapturePoint::In => Point::In,
            CapturePoint::Rewritten => Point::Rewritten,
            CapturePoint::Out => Point::Out,
        })
        .collect();
    let req = Request::Capture {
        attachment: args.attachment.clone(),
        points,
        count: args.count,
    };
    let fail = |message: String| Failure {
        code: 1,
        message,
        json: None,
    };
    let (mut stream, _) =
        match protocol::capture(&args.socket.socket, &req).map_err(|e| fail(e.to_string()))? {
            Ok(s) => s,
            Err(Response::Rejected { error, .. }) if error.starts_with("no attachment") => {
                return Err(Failure::bad_input(error))
            }
            Err(Response::Rejected { error, .. }) => return Err(fail(error)),
            Err(other) => return Err(fail(format!("unexpected answer: {other:?}"))),
        };
    eprintln!(
        "vpcectl: capturing {} ({}); Ctrl-C to stop",
        args.attachment,
        args.point
            .iter()
            .map(|p| format!("{p:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut sink = |bytes: &[u8]| -> Result<(), Failure> {
        match file.as_mut() {
            Some(f) => f.write_all(bytes),
            None => out.write_all(bytes).and_then(|_| out.flush()),
        }
        .map_err(|e| fail(format!("writing the capture: {e}")))
    };
    let io = |e: std::io::Error| fail(format!("reading the capture: {e}"));
    let mut header = [0u8; 24];
    stream.read_exact(&mut header).map_err(io)?;
    sink(&header)?;
    let mut packets = 0u64;
    let mut record = vec![0u8; 16 + 65_536];
    loop {
        match stream.read_exact(&mut record[..16]) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(io(e)),
        }
        let incl = u32::from_le_bytes(record[8..12].try_into().expect("4")) as usize;
        if incl > record.len() - 16 {
            return Err(fail(format!("a record of {incl} bytes: not pcap")));
        }
        stream.read_exact(&mut record[16..16 + incl]).map_err(io)?;
        sink(&record[..16 + incl])?;
        packets += 1;
    }
    eprintln!("vpcectl: {packets} packets captured");
    Ok(())
}

/// Man pages: `vpcectl.1` and `vpcectl-NOUN[-VERB].1` for every command, `vpced.8` (a
/// daemon: section 8), `vpce-appliance.1`.
fn cmd_man(out: &mut impl Write, dir: &Path) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure {
        code: 1,
        message: format!("{}: {e}", dir.display()),
        json: None,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut written = Vec::new();
    fn pages(
        cmd: &clap::Command,
        name: String,
        section: &str,
        acc: &mut Vec<(String, clap::Command, String)>,
    ) {
        let page = cmd.clone().name(name.clone()).display_name(name.clone());
        acc.push((name.clone(), page, section.to_string()));
        for sub in cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            pages(sub, format!("{name}-{}", sub.get_name()), section, acc);
        }
    }
    let mut all = Vec::new();
    let mut vpcectl = Cli::command();
    vpcectl.build();
    pages(&vpcectl, "vpcectl".into(), "1", &mut all);
    all.push(("vpced".into(), crate::vpced::command(), "8".into()));
    all.push((
        "vpce-appliance".into(),
        crate::appliance::command(),
        "1".into(),
    ));
    for (name, cmd, section) in all {
        let path = dir.join(format!("{name}.{section}"));
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd)
            .section(section.clone())
            .render(&mut buf)
            .map_err(fail)?;
        std::fs::write(&path, buf).map_err(fail)?;
        written.push(path);
    }
    writeln!(out, "{} man pages in {}", written.len(), dir.display())?;
    Ok(())
}

fn cmd_trace(out: &mut impl Write, args: TraceArgs) -> Result<(), Failure> {
    use dataplane::trace::{self, Protocol};
    let protocol = match args.protocol {
        TraceProtocol::Tcp => Protocol::Tcp,
        TraceProtocol::Udp => Protocol::Udp,
        TraceProtocol::Icmp => Protocol::Icmp,
    };
    let output = args.out.output;
    let not_reachable = || Failure {
        code: 3,
        message: String::new(),
        json: None,
    };
    if args.daemon {
        let req = if args.all_pairs {
            Request::TraceAllPairs
        } else {
            Request::Trace {
                from: args.from.clone().unwrap_or_default(),
                to: args.to.clone().unwrap_or_default(),
                protocol,
                port: args.port,
                fragmented: args.fragmented,
            }
        };
        let r = daemon_call(&args.socket, &req)?;
        return match r {
            Response::Trace { resolved, trace } => {
                render::trace(out, &trace, resolved.as_deref(), output)?;
                if trace.reachable {
                    Ok(())
                } else {
                    Err(not_reachable())
                }
            }
            Response::TraceAllPairs { pairs } => render::all_pairs(out, &pairs, output),
            Response::Rejected { error, .. } => Err(Failure::bad_input(error)),
            other => Err(Failure {
                code: 1,
                message: format!("unexpected answer from vpced: {other:?}"),
                json: None,
            }),
        };
    }
    let file = args.file.expect("clap requires FILE without --daemon");
    let compiled = load_and_compile(&file)?;
    let f = dataplane::fabric::Fabric::build(
        compiled.snapshot,
        std::sync::Arc::new(dataplane::stats::Registry::default()),
    )
    .map_err(|e| Failure::bad_input(format!("{}: {e}", file.display())))?;
    if args.all_pairs {
        return render::all_pairs(out, &trace::all_pairs(&f), output);
    }
    let (mut q, resolved) = trace::resolve(
        &f,
        args.from.as_deref().unwrap_or_default(),
        args.to.as_deref().unwrap_or_default(),
        protocol,
        args.port,
    )
    .map_err(|e| Failure::bad_input(format!("{}: {e}", file.display())))?;
    q.fragmented = args.fragmented;
    let t = trace::trace(&f, &q);
    render::trace(out, &t, resolved.as_deref(), output)?;
    if t.reachable {
        Ok(())
    } else {
        Err(not_reachable())
    }
}

fn daemon_call(socket: &Path, req: &Request) -> Result<Response, Failure> {
    protocol::call(socket, req, std::time::Duration::from_secs(120)).map_err(|e| Failure {
        code: 1,
        message: e.to_string(),
        json: None,
    })
}

fn cmd_apply(
    out: &mut impl Write,
    file: &Path,
    socket: &Path,
    output: Output,
) -> Result<(), Failure> {
    let path = std::path::absolute(file)
        .map_err(|e| Failure::bad_input(format!("{}: {e}", file.display())))?;
    if !path.exists() {
        return Err(Failure::bad_input(format!(
            "{}: no such file",
            file.display()
        )));
    }
    let r = daemon_call(socket, &Request::Apply { path })?;
    match &r {
        Response::Rejected { error, diagnostics } => {
            let json = serde_json::to_value(&r).ok();
            let message = if diagnostics.is_empty() {
                format!(
                    "vpced rejected {}: {error}; the running configuration stays",
                    file.display()
                )
            } else {
                let lines: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
                format!(
                    "vpced rejected {}; the running configuration stays:\n{}",
                    file.display(),
                    lines.join("\n")
                )
            };
            Err(Failure {
                code: 2,
                message,
                json,
            })
        }
        Response::Applied {
            generation,
            warnings,
        } => {
            match output {
                Output::Json => writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&r).unwrap_or_default()
                )?,
                Output::Table => {
                    for w in warnings {
                        eprintln!("{w}");
                    }
                    writeln!(out, "applied {}: generation {generation}", file.display())?;
                }
            }
            Ok(())
        }
        other => Err(Failure {
            code: 1,
            message: format!("unexpected answer from vpced: {other:?}"),
            json: None,
        }),
    }
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

fn config_error_json(e: &ConfigError) -> serde_json::Value {
    match e {
        ConfigError::Invalid { diagnostics } => {
            let (errors, warnings): (Vec<_>, Vec<_>) = diagnostics
                .iter()
                .partition(|d| d.severity == Severity::Error);
            json!({ "valid": false, "errors": errors, "warnings": warnings })
        }
        ConfigError::Parse {
            location,
            entity,
            message,
        } => json!({
            "valid": false,
            "errors": [{
                "severity": "error",
                "location": location,
                "entity": entity,
                "field": "",
                "message": message,
            }],
            "warnings": [],
        }),
        ConfigError::Read { path, source } => json!({
            "valid": false,
            "errors": [{
                "severity": "error",
                "location": { "file": path, "line": 0, "column": 0 },
                "message": format!("cannot read the configuration: {source}"),
            }],
            "warnings": [],
        }),
        ConfigError::TooLarge { path, .. } => json!({
            "valid": false,
            "errors": [{
                "severity": "error",
                "location": { "file": path, "line": 0, "column": 0 },
                "message": e.to_string(),
            }],
            "warnings": [],
        }),
    }
}

fn cmd_validate(out: &mut impl Write, file: &Path, output: Output) -> Result<(), Failure> {
    let loaded = load_file(file).map_err(config_failure)?;
    // Compiling validates first (any error rejects the whole), and a configuration is valid
    // only if it also builds; validating on its own as well doubled the time on large tables.
    let compiled = compile(&loaded).map_err(config_failure)?;
    let report = control::validate::Report {
        diagnostics: compiled.warnings.clone(),
    };
    let c = &loaded.config;
    match output {
        Output::Json => {
            let warnings: Vec<_> = report.warnings().collect();
            let doc = json!({
                "valid": true,
                "file": file,
                "errors": [],
                "warnings": warnings,
                "counts": {
                    "vpcs": c.vpcs.len(),
                    "subnets": c.subnets.len(),
                    "route_tables": c.route_tables.len(),
                    "routes": compiled.snapshot.route_tables.iter().map(|t| t.routes.len()).sum::<usize>(),
                    "prefix_lists": c.prefix_lists.len(),
                    "endpoints": c.endpoints.len(),
                },
            });
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            )?;
        }
        Output::Table => {
            for w in report.warnings() {
                eprintln!("{w}");
            }
            let routes: usize = compiled
                .snapshot
                .route_tables
                .iter()
                .map(|t| t.routes.len())
                .sum();
            writeln!(
                out,
                "{}: valid — {} VPC{}, {} subnet{}, {} route table{} ({} effective routes), {} prefix list{}, {} endpoint{}{}",
                file.display(),
                c.vpcs.len(),
                plural(c.vpcs.len()),
                c.subnets.len(),
                plural(c.subnets.len()),
                c.route_tables.len(),
                plural(c.route_tables.len()),
                routes,
                c.prefix_lists.len(),
                plural(c.prefix_lists.len()),
                c.endpoints.len(),
                plural(c.endpoints.len()),
                match report.warnings().count() {
                    0 => String::new(),
                    n => format!("; {n} warning{}", plural(n)),
                }
            )?;
        }
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn cmd_lookup(
    out: &mut impl Write,
    file: &Path,
    compiled: &Compiled,
    route_table: Option<String>,
    subnet: Option<String>,
    address: IpAddr,
    output: Output,
) -> Result<(), Failure> {
    let snap = &compiled.snapshot;
    let table = match (&route_table, &subnet) {
        (Some(id), _) => snap.route_table(id).ok_or_else(|| {
            let ids: Vec<&str> = snap.route_tables.iter().map(|t| t.id.as_str()).collect();
            Failure::bad_input(format!(
                "{}: no route table `{id}`; known: {}",
                file.display(),
                if ids.is_empty() {
                    "none".to_string()
                } else {
                    ids.join(", ")
                }
            ))
        })?,
        (None, Some(s)) => snap.subnet_route_table(s).ok_or_else(|| {
            Failure::bad_input(format!(
                "{}: no subnet `{s}` with a route table",
                file.display()
            ))
        })?,
        (None, None) => return Err(Failure::bad_input("give --route-table or --subnet")),
    };
    let ex = table.explain(&snap.config, address);
    render::lookup(out, table, &ex, output)
}

#[allow(clippy::too_many_arguments)]
fn cmd_from_ip_ranges(
    out: &mut impl Write,
    path: &Path,
    service: &str,
    region: &str,
    family: Family,
    id: &str,
    name: Option<String>,
    format: ListFormat,
) -> Result<(), Failure> {
    let ranges = IpRanges::read(path).map_err(|e| Failure::bad_input(e.to_string()))?;
    match format {
        ListFormat::Json => {
            let filtered = ranges.filtered(service, region);
            if filtered.prefixes.is_empty() && filtered.ipv6_prefixes.is_empty() {
                return Err(Failure::bad_input(format!(
                    "{}: no entries for service `{service}` in region `{region}`",
                    path.display()
                )));
            }
            let text = serde_json::to_string_pretty(&filtered).map_err(|e| Failure {
                code: 1,
                message: e.to_string(),
                json: None,
            })?;
            writeln!(out, "{text}")?;
        }
        ListFormat::Toml => {
            let fam = match family {
                Family::Ipv4 => AddressFamily::IPv4,
                Family::Ipv6 => AddressFamily::IPv6,
            };
            let cidrs = ranges
                .select(path, service, region, fam)
                .map_err(|e| Failure::bad_input(e.to_string()))?;
            if cidrs.is_empty() {
                return Err(Failure::bad_input(format!(
                    "{}: no {fam:?} entries for service `{service}` in region `{region}`",
                    path.display()
                )));
            }
            let name = name.unwrap_or_else(|| {
                format!("com.amazonaws.{region}.{}", service.to_ascii_lowercase())
            });
            writeln!(
                out,
                "# {} entries of service {service} in {region} from ip-ranges.json (syncToken {}, createDate {})",
                cidrs.len(),
                ranges.sync_token,
                ranges.create_date
            )?;
            writeln!(out, "[[prefix_lists]]")?;
            writeln!(out, "id = {}", toml_string(id))?;
            writeln!(out, "name = {}", toml_string(&name))?;
            writeln!(out, "address_family = \"{fam:?}\"")?;
            writeln!(out, "entries = [")?;
            for c in cidrs {
                writeln!(out, "  \"{c}\",")?;
            }
            writeln!(out, "]")?;
        }
    }
    Ok(())
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn cmd_import_aws(
    out: &mut impl std::io::Write,
    dir: &std::path::Path,
    file: Option<&std::path::Path>,
    region: Option<&str>,
) -> Result<(), Failure> {
    let imported =
        control::import::aws::import(dir, region).map_err(|e| Failure::bad_input(e.to_string()))?;
    // What it wrote must be a configuration that loads and validates.
    let loaded =
        control::load_str("imported.toml", imported.toml.clone(), dir).map_err(|e| Failure {
            code: 1,
            message: format!("the import produced a configuration that does not load (a bug): {e}"),
            json: None,
        })?;
    let report = control::validate(&loaded);
    if report.has_errors() {
        return Err(Failure {
            code: 1,
            message: format!(
                "the imported configuration does not validate:\n{}",
                report
                    .diagnostics
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            json: None,
        });
    }
    for w in &imported.warnings {
        eprintln!("vpcectl import aws: warning: {w}");
    }
    match file {
        Some(f) => std::fs::write(f, &imported.toml).map_err(|e| Failure {
            code: 1,
            message: format!("{}: cannot write: {e}", f.display()),
            json: None,
        })?,
        None => out.write_all(imported.toml.as_bytes())?,
    }
    Ok(())
}
