//! The command line's grammar: clap types for every command and its arguments. What each
//! command does lives in its own module.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// vpcectl — validate, inspect and query vpce deployments.
#[derive(Debug, Parser)]
#[command(name = "vpcectl", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns for people.
    #[default]
    Table,
    /// One JSON document on stdout, for scripts.
    Json,
}

/// `trace`'s and `show`'s outputs: the two of every command, and pictures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum PictureOutput {
    /// Aligned columns for people.
    #[default]
    Table,
    /// One JSON document on stdout, for scripts.
    Json,
    /// Graphviz (`| dot -Tsvg > trace.svg`): the path and the way back, the blocking
    /// component in red.
    Dot,
    /// A Mermaid flowchart (GitHub and GitLab render it in Markdown).
    Mermaid,
}

#[derive(Debug, Args)]
pub struct OutputArg {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a configuration: every reference, CIDR and route-table rule. Exit 0 when valid
    /// (warnings on stderr), 2 when not.
    Validate {
        /// The deployment's configuration (TOML).
        file: PathBuf,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Show the entities of a configuration, compiled as the dataplane sees them: from FILE
    /// (default /etc/vpce/vpce.toml), or what the running vpced runs now (`--daemon`: its
    /// applied configuration with the connection decisions taken since). `target-health`
    /// always asks the running vpced.
    Show {
        /// What to show.
        #[arg(value_enum)]
        what: Noun,
        /// The deployment's configuration (TOML); not with --daemon.
        #[arg(conflicts_with = "daemon")]
        file: Option<PathBuf>,
        /// Only the entity with this id.
        #[arg(long)]
        id: Option<String>,
        /// Show what the running vpced runs.
        #[arg(long)]
        daemon: bool,
        /// vpced's control socket (with --daemon, and for `target-health`).
        #[arg(long, env = "VPCE_SOCKET")]
        socket: Option<PathBuf>,
        /// Output format: a table, JSON, or (for `topology`) a picture: dot, mermaid.
        #[arg(short, long, value_enum, default_value_t = PictureOutput::Table)]
        output: PictureOutput,
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
    /// IAM policies: whether a request through a VPC endpoint is allowed by the endpoint's
    /// policy and the bucket's, and which statement decided.
    #[command(subcommand)]
    Policy(PolicyCommand),
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
    /// A region of nodes (one vpced per availability zone, `vpced --region … --zone …`, the
    /// configuration in etcd): apply to every node, show them, drill a zone's failure.
    Region(RegionArgs),
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
        /// Print one frame (two samples an interval apart) and exit: as text, or with
        /// `-o json` as numbers.
        #[arg(long)]
        once: bool,
        #[command(flatten)]
        socket: SocketArg,
        #[command(flatten)]
        out: OutputArg,
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
pub struct TraceArgs {
    /// The deployment's configuration (TOML); not with --daemon.
    #[arg(required_unless_present = "daemon")]
    pub file: Option<PathBuf>,
    /// The source: an instance (`i-…`), a network interface (`eni-…`), an address, or
    /// `internet`.
    #[arg(long, required_unless_present = "all_pairs")]
    pub from: Option<String>,
    /// The destination: an instance, a network interface, an endpoint (`vpce-…`), an address
    /// or a DNS name (resolved with the private DNS the source's VPC sees).
    #[arg(long, required_unless_present = "all_pairs")]
    pub to: Option<String>,
    #[arg(long, value_enum, default_value_t = TraceProtocol::Tcp)]
    pub protocol: TraceProtocol,
    /// Destination port (TCP, UDP).
    #[arg(long, default_value_t = 443)]
    pub port: u16,
    /// Every instance to every endpoint, as a matrix.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub all_pairs: bool,
    /// Send the request as two IPv4 fragments: the trace shows the later fragment's way (it
    /// follows the first fragment, which carries the ports).
    #[arg(long, conflicts_with = "all_pairs")]
    pub fragmented: bool,
    /// Ask the running vpced (its configuration, decisions and targets' health).
    #[arg(long)]
    pub daemon: bool,
    /// With --resource: the API request the connection carries (`s3:GetObject`); the
    /// endpoint hop then judges it by the endpoint policy and the bucket policy.
    #[arg(long, requires = "resource", conflicts_with_all = ["daemon", "all_pairs"])]
    pub action: Option<String>,
    /// The resource of --action's request (`arn:aws:s3:::bucket/key`).
    #[arg(long, requires = "action")]
    pub resource: Option<String>,
    /// The caller of --action's request (an IAM ARN or account id); without it, only
    /// statements for any principal (`"Principal": "*"`) can allow.
    #[arg(long, requires = "action", default_value = "anonymous")]
    pub principal: String,
    /// vpced's control socket (with --daemon).
    #[arg(long, env = "VPCE_SOCKET", default_value = daemon::protocol::DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Trace as if this availability zone were down (repeatable): nothing in it takes or sends
    /// traffic, its targets have failed their health checks, DNS leaves its addresses out —
    /// what happens to the path in an AZ outage. Not with --daemon (a region's nodes know
    /// which zones are down: `vpcectl region fail-zone`).
    #[arg(long, value_name = "ZONE", conflicts_with = "daemon")]
    pub zone_down: Vec<String>,
    /// Output format: a table, JSON, or a picture (dot, mermaid; not for --all-pairs).
    #[arg(short, long, value_enum, default_value_t = PictureOutput::Table)]
    pub output: PictureOutput,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Judge one request through an endpoint: the endpoint policy, then the bucket policy of
    /// an S3 resource the configuration lists. Exit 0 when allowed, 3 when denied or
    /// undecided, 2 on bad input.
    Check {
        /// The deployment's configuration (TOML).
        file: PathBuf,
        #[command(flatten)]
        ask: PolicyAsk,
        #[command(flatten)]
        out: OutputArg,
    },
}

/// A request to judge: through which endpoint, by whom, what, on what.
#[derive(Debug, Args, Clone)]
pub struct PolicyAsk {
    /// The endpoint the request goes through (`vpce-…`).
    #[arg(long)]
    pub endpoint: String,
    /// The caller: an IAM ARN (`arn:aws:iam::123456789012:role/app`) or an account id.
    #[arg(long)]
    pub principal: String,
    /// The API action, e.g. `s3:GetObject`.
    #[arg(long)]
    pub action: String,
    /// The resource's ARN, e.g. `arn:aws:s3:::bucket/key`.
    #[arg(long)]
    pub resource: String,
    /// The caller's private address (`aws:VpcSourceIp`).
    #[arg(long)]
    pub source_ip: Option<IpAddr>,
    /// The caller's AWS Organizations id (`aws:PrincipalOrgID`).
    #[arg(long)]
    pub org_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TraceProtocol {
    Tcp,
    Udp,
    Icmp,
}

#[derive(Debug, Args)]
pub struct RegionArgs {
    /// etcd's client endpoint: unix://PATH (a socket listener) or http://HOST:PORT.
    #[arg(long, env = "VPCE_ETCD", value_name = "ENDPOINT")]
    pub etcd: String,
    #[command(subcommand)]
    pub command: RegionCommand,
}

#[derive(Debug, Subcommand)]
pub enum RegionCommand {
    /// Validate and compile FILE here, write it to etcd as the region's next generation (if
    /// no other apply came first), and wait until every live node runs it. Exit 2 if it is
    /// invalid (nothing is written), 3 if some node did not run it within --timeout (a
    /// partial apply: the nodes and why are printed).
    Apply {
        /// The deployment's configuration (TOML). Data files it names are read by every
        /// node from the same directory.
        file: PathBuf,
        /// Seconds to wait for the nodes.
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Every live node (its zone, the generation it runs, its lease, its last error), the
    /// region's generation and the zones down.
    Status {
        #[command(flatten)]
        out: OutputArg,
    },
    /// Take a zone down, as an AZ outage: its node forwards nothing and answers nothing
    /// (counted as `zone_down`) until `restore-zone`.
    FailZone {
        zone: String,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Bring a zone taken down by `fail-zone` back.
    RestoreZone {
        zone: String,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Accept or reject an interface endpoint's connection to its endpoint service, for the
    /// whole region (kept in etcd; a node that joins later runs with it too). Waits until
    /// every live node runs with it; exit 3 if some did not within 10 s.
    #[command(name = "endpoint-connections", subcommand)]
    EndpointConnections(RegionConnectionsCommand),
    /// Every live node's counters (`vpcectl stats` of each, by zone).
    Stats {
        #[command(flatten)]
        out: OutputArg,
    },
    /// Trace a path on the node of the source's zone (`vpcectl trace --daemon` there): its
    /// configuration, decisions, targets' health and the zones down as that node runs them.
    /// Exit 3 when blocked.
    Trace {
        /// The source: an instance (`i-…` or its name) or a network interface of the region's
        /// configuration.
        #[arg(long)]
        from: String,
        /// The destination, as `vpcectl trace` takes it.
        #[arg(long)]
        to: String,
        #[arg(long, value_enum, default_value_t = TraceProtocol::Tcp)]
        protocol: TraceProtocol,
        #[arg(long, default_value_t = 443)]
        port: u16,
        /// Output format: a table, JSON, or a picture (dot, mermaid).
        #[arg(short, long, value_enum, default_value_t = PictureOutput::Table)]
        output: PictureOutput,
    },
}

#[derive(Debug, Subcommand)]
pub enum RegionConnectionsCommand {
    /// Accept the endpoint's connection (pendingAcceptance or rejected → available).
    Accept {
        endpoint: String,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Reject it (its traffic is dropped as `endpoint_connection_not_accepted`).
    Reject {
        endpoint: String,
        #[command(flatten)]
        out: OutputArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
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
pub enum BenchCommand {
    /// Longest-prefix match: build time, size and lookups/s of a table of yours.
    Lpm(LpmBench),
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// The attachment: an ENI (`eni-…`), or another id `vpcectl status` lists.
    pub attachment: String,
    /// Write pcap here (`-` for standard output, e.g. `| tshark -r -`).
    #[arg(short = 'w', long = "write", value_name = "FILE.pcap")]
    pub write: Option<PathBuf>,
    /// Stop after this many packets.
    #[arg(short = 'c', long)]
    pub count: Option<u64>,
    /// Where to look (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "in,out")]
    pub point: Vec<CapturePoint>,
    #[command(flatten)]
    pub socket: SocketArg,
    /// The summary at the end (packets captured): a line on stderr, or with `-o json` one
    /// JSON document — on stdout when the pcap goes to a file, else on stderr.
    #[command(flatten)]
    pub out: OutputArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CapturePoint {
    /// What the attachment sends, before any rewrite.
    In,
    /// What it sends, after the pipeline rewrote it.
    Rewritten,
    /// What vpced delivers to it.
    Out,
}

#[derive(Debug, Args)]
pub struct SocketArg {
    /// vpced's control socket.
    #[arg(long, env = "VPCE_SOCKET", default_value = daemon::protocol::DEFAULT_SOCKET)]
    pub socket: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum PrefixListCommand {
    /// Build a prefix list from an AWS ip-ranges.json file (plain or .xz), filtered by
    /// service and region: a `[[prefix_lists]]` table to paste into a configuration, or the
    /// filtered ip-ranges.json to keep beside it.
    FromIpRanges(FromIpRangesArgs),
}

/// An address family, spelled one way everywhere (`--family v4|v6`; `ipv4|ipv6` accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Family {
    #[value(alias = "ipv4")]
    V4,
    #[value(alias = "ipv6")]
    V6,
}

/// `vpcectl prefix-list from-ip-ranges`.
#[derive(Debug, Args)]
pub struct FromIpRangesArgs {
    /// Path to ip-ranges.json (<https://ip-ranges.amazonaws.com/ip-ranges.json>).
    pub ip_ranges: PathBuf,
    /// The `service` field to keep: S3, DYNAMODB, EC2, …
    #[arg(long)]
    pub service: String,
    /// The `region` field to keep, e.g. us-east-1.
    #[arg(long)]
    pub region: String,
    /// Address family of the list.
    #[arg(long, value_enum, default_value_t = Family::V4)]
    pub family: Family,
    /// Prefix list id for the TOML output.
    #[arg(long, default_value = "pl-00000000")]
    pub id: String,
    /// Prefix list name; defaults to com.amazonaws.REGION.SERVICE.
    #[arg(long)]
    pub name: Option<String>,
    /// `toml`: a `[[prefix_lists]]` table (with `-o json`, the same list as JSON); `json`:
    /// ip-ranges.json holding only the selected entries (both families).
    #[arg(long, value_enum, default_value_t = ListFormat::Toml)]
    pub format: ListFormat,
    #[command(flatten)]
    pub out: OutputArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Toml,
    Json,
}

/// The entity kinds `show` knows (singular or plural: `show vpc`, `show vpcs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Noun {
    /// The TUN devices vpced makes: one per ENI, internet gateway and service network.
    #[value(alias = "attachment")]
    Attachments,
    #[value(alias = "vpc")]
    Vpcs,
    #[value(alias = "subnet")]
    Subnets,
    #[value(alias = "route-table")]
    RouteTables,
    #[value(alias = "prefix-list")]
    PrefixLists,
    #[value(alias = "internet-gateway")]
    InternetGateways,
    #[value(alias = "nat-gateway")]
    NatGateways,
    #[value(alias = "security-group")]
    SecurityGroups,
    /// Transit gateways with their attachments and route tables.
    #[value(alias = "transit-gateway")]
    TransitGateways,
    /// Transit gateway attachments: what each connects, its association and propagations.
    #[value(alias = "transit-gateway-attachment")]
    TransitGatewayAttachments,
    /// Transit gateway route tables: associations, propagations and every effective route.
    #[value(alias = "transit-gateway-route-table")]
    TransitGatewayRouteTables,
    /// On-premises networks and the VPN connections and Direct Connect gateways that reach them.
    OnPremises,
    /// Direct Connect gateways: their data centres and associations with allowed prefixes.
    #[value(alias = "direct-connect-gateway")]
    DirectConnectGateways,
    /// Route 53 Resolver endpoints (inbound and outbound).
    #[value(alias = "resolver-endpoint")]
    ResolverEndpoints,
    /// Route 53 Resolver rules and the VPCs they are associated with.
    #[value(alias = "resolver-rule")]
    ResolverRules,
    /// Network ACLs: their subnets (a subnet no ACL lists has its VPC's default) and rules.
    #[value(alias = "network-acl")]
    NetworkAcls,
    #[value(alias = "instance")]
    Instances,
    #[value(alias = "network-interface")]
    NetworkInterfaces,
    #[value(alias = "endpoint")]
    Endpoints,
    #[value(alias = "endpoint-service")]
    EndpointServices,
    #[value(alias = "load-balancer")]
    LoadBalancers,
    #[value(alias = "target-group")]
    TargetGroups,
    #[value(alias = "hosted-zone")]
    HostedZones,
    /// Health of every target, from the running vpced (`--socket`, or VPCE_SOCKET, or the
    /// default socket).
    TargetHealth,
    /// The deployment as a picture (`-o dot|mermaid`): VPCs with their subnets, route
    /// tables, gateways, instances, endpoints and load balancers, and how they connect.
    Topology,
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// From an AWS export: VPCs, subnets, route tables, internet gateways, prefix lists,
    /// security groups, network ACLs, instances, NAT gateways, load balancers, target groups, endpoint services
    /// and endpoints. What cannot be mapped is listed on stderr, resource by resource.
    Aws {
        /// The directory scripts/export-aws.sh wrote.
        dir: PathBuf,
        /// Where to write the configuration (default: standard output).
        #[arg(long, short = 'O')]
        output_file: Option<PathBuf>,
        /// The region, when the export does not tell (its subnets' zones do).
        #[arg(long)]
        region: Option<String>,
        /// `table`: the configuration (TOML) on standard output unless -O is given, what was
        /// left out on stderr; `json`: one document with the configuration (as JSON, unless
        /// written to -O) and what was left out.
        #[command(flatten)]
        out: OutputArg,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeysArg {
    /// Uniform random addresses.
    Uniform,
    /// A random host address inside a prefix picked uniformly from the table.
    Table,
    /// Like `table`, with prefixes picked Zipf-distributed (s = 1): a few hot destinations.
    Zipf,
}

/// `vpcectl bench lpm`: the table, the keys, how long.
#[derive(Debug, Args)]
pub struct LpmBench {
    /// The table: one prefix per line, or `prefix nexthop`; `.xz` and `.gz` are read directly.
    #[arg(long)]
    pub table: PathBuf,
    #[arg(long, value_enum, default_value_t = Family::V4)]
    pub family: Family,
    #[arg(long, value_enum, default_value_t = KeysArg::Uniform)]
    pub keys: KeysArg,
    /// Number of keys.
    #[arg(long, default_value_t = 1 << 20)]
    pub count: usize,
    /// Synthetic next hops (hash of the prefix modulo K) when the table has none.
    #[arg(long, default_value_t = 256)]
    pub next_hops: u32,
    /// Check every lookup against the reference LPM and print the number of mismatches.
    #[arg(long)]
    pub verify: bool,
    /// Seconds of measurement per mode.
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
    /// Save the table (with its next hops) for the DPDK harness.
    #[arg(long)]
    pub write_table: Option<PathBuf>,
    /// Save the keys for the DPDK harness.
    #[arg(long)]
    pub write_keys: Option<PathBuf>,
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}
