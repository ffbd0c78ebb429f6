//! The fabric: the dataplane's tables, compiled from a control [`Snapshot`].
//!
//! The control plane's snapshot speaks in ids (`igw-…`, `vpce-…`) because people and the CLI
//! do. The pipeline must not look up a string per packet, so [`Fabric::build`] resolves every
//! id once into dense indexes:
//!
//! * **attachments**: every place packets enter or leave the fabric — an instance's or a
//!   standalone ENI (one TUN each), the internet side of each internet gateway, the network of
//!   each AWS service (the "S3 network" behind gateway endpoints). Each has a deterministic
//!   device name ([`tun_name`]) and the link configuration to apply in its namespace.
//! * **owners**: per VPC, which attachment owns each private address (local delivery).
//! * **actions**: per route table, per effective route, what to do — the route's target
//!   resolved to an index (`Action`).
//! * **internet gateways**: the 1:1 public/private address maps of the instances behind each.
//!
//! A fabric is immutable and published whole, with the snapshot it was built from, through a
//! [`control::SnapshotCell`]; counters live outside it ([`crate::stats`]) so they survive
//! reloads.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use control::compile::RouteTarget;
use control::model::{Config, ConnectionState, EndpointType, LoadBalancerType, Protocol};
use control::publish::Versioned;
use control::Snapshot;
use ipnet::IpNet;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::conntrack::zone_of;
use crate::health::TargetHealth;
use crate::stats::{DenialCounters, EntityCounters, Registry};

/// Index of an attachment in [`Fabric::attachments`].
pub type AttachmentIdx = u32;

/// What a route does, resolved to indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Deliver to the owner of the destination in the table's VPC.
    Local,
    Blackhole,
    /// Out through internet gateway `igws[i]`.
    InternetGateway(u32),
    /// Into the service network of gateway endpoint `gateway_endpoints[i]`.
    GatewayEndpoint(u32),
    /// To Gateway Load Balancer endpoint `gwlb_endpoints[i]`: GENEVE to an appliance.
    GwlbEndpoint(u32),
    /// To the attachment of an ENI (middlebox routing), destination unchanged.
    NetworkInterface(AttachmentIdx),
    /// Deliver to the owner of the destination in VPC `vpcs[i]` (a peering connection).
    Peering(u32),
    /// A target this build does not forward to yet.
    Unsupported(Unsupported),
}

pub use crate::reasons::Unsupported;

/// Who owns an address inside a VPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Attachment(AttachmentIdx),
    /// An interface endpoint's ENI: `endpoint_enis[i]`.
    EndpointEni(u32),
    /// A load balancer's node: `lb_nodes[i]`.
    LoadBalancerNode(u32),
    /// The VPC's resolver (base + 2): `vpcs[i]`.
    Resolver(u32),
    /// Something vpced does not terminate yet (a NAT gateway).
    Virtual,
}

#[derive(Debug)]
pub struct Vpc {
    pub id: String,
    pub cidrs: SmallVec<[IpNet; 2]>,
    pub owners: FxHashMap<IpAddr, Owner>,
}

/// The resolvers' upstream DNS server, reached through an internet gateway's internet side.
#[derive(Debug, Clone, Copy)]
pub struct Upstream {
    pub server: Ipv4Addr,
    /// The address forwarded queries come from (answers come back to it).
    pub source: Ipv4Addr,
    /// The internet attachment it is reached through.
    pub attachment: AttachmentIdx,
}

/// An ENI that is an attachment.
#[derive(Debug)]
pub struct Eni {
    pub id: String,
    pub vpc: u32,
    /// Index into the snapshot's route tables: the subnet's table.
    pub route_table: u32,
    pub ipv4: SmallVec<[Ipv4Addr; 2]>,
    pub ipv6: Option<Ipv6Addr>,
    pub public_ipv4: Option<Ipv4Addr>,
    pub source_dest_check: bool,
    /// Connection-tracking zone ([`crate::conntrack::zone_of`] of the id).
    pub zone: u32,
    /// Compiled security groups (`snapshot.security.sets[i]`); `None`: the ENI has no group
    /// and nothing is filtered.
    pub sg: Option<u32>,
}

impl Eni {
    /// Whether `addr` is one of this ENI's own addresses.
    #[inline]
    pub fn owns(&self, addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => self.ipv4.contains(&a),
            IpAddr::V6(a) => self.ipv6 == Some(a),
        }
    }
}

#[derive(Debug)]
pub struct InternetGateway {
    pub id: String,
    pub vpc: u32,
    pub attachment: AttachmentIdx,
    /// The gateway's edge route table (ingress routing), if any.
    pub edge_route_table: Option<u32>,
    /// Public → private, for traffic arriving from the internet.
    pub inbound: FxHashMap<Ipv4Addr, Ipv4Addr>,
    /// Private → public, for traffic leaving to the internet.
    pub outbound: FxHashMap<Ipv4Addr, Ipv4Addr>,
    pub counters: Arc<EntityCounters>,
}

#[derive(Debug)]
pub struct GatewayEndpoint {
    pub id: String,
    pub vpc: u32,
    /// The service network attachment packets leave by.
    pub attachment: AttachmentIdx,
    /// The endpoint policy as destination CIDRs; `None` allows everything.
    pub allowed: Option<Vec<IpNet>>,
    pub counters: Arc<EntityCounters>,
}

#[derive(Debug)]
pub struct ServiceNetwork {
    pub name: String,
    /// The network's attachment.
    pub attachment: AttachmentIdx,
    /// Connection-tracking zone of translated flows into the network.
    pub zone: u32,
    /// Gateway endpoints of this service (indexes into `gateway_endpoints`): the VPCs replies
    /// may return to.
    pub endpoints: Vec<u32>,
}

/// An interface endpoint (PrivateLink consumer side).
#[derive(Debug)]
pub struct InterfaceEndpoint {
    pub id: String,
    pub vpc: u32,
    /// Connection state with the endpoint service, runtime decisions included.
    pub state: ConnectionState,
    pub sg: Option<u32>,
    /// `endpoint_services[i]`; `None` when the service is not in this configuration.
    pub service: Option<u32>,
    /// For an endpoint to an AWS service (S3, DynamoDB…): `services[i]`, the service's
    /// network, where the flow goes with its destination set to one of `service_addresses`.
    pub aws_service: Option<u32>,
    pub service_addresses: Vec<Ipv4Addr>,
    pub counters: Arc<EntityCounters>,
}

/// One ENI of an interface endpoint.
#[derive(Debug)]
pub struct EndpointEni {
    pub id: String,
    pub endpoint: u32,
    pub ip: Ipv4Addr,
    pub az: String,
    pub zone: u32,
}

/// An endpoint service (PrivateLink provider side).
#[derive(Debug)]
pub struct EndpointService {
    pub id: String,
    /// `load_balancers[i]`.
    pub load_balancers: Vec<u32>,
}

#[derive(Debug)]
pub struct LoadBalancer {
    pub id: String,
    pub vpc: u32,
    /// A Gateway Load Balancer: its one listener's target group (`target_groups[i]`) holds
    /// the appliances.
    pub appliances: Option<u32>,
    /// `lb_nodes[i]`, one per subnet mapping.
    pub nodes: Vec<u32>,
    pub sg: Option<u32>,
    pub enforce_sg_on_private_link: bool,
    pub cross_zone: bool,
    pub listeners: Vec<Listener>,
    pub counters: Arc<EntityCounters>,
}

#[derive(Debug)]
pub struct Listener {
    /// IP protocols the listener takes (TCP, UDP or both).
    pub tcp: bool,
    pub udp: bool,
    pub port: u16,
    /// `target_groups[i]`.
    pub target_group: u32,
}

/// A load balancer's node in one availability zone: the address targets see as the source.
#[derive(Debug)]
pub struct LbNode {
    pub lb: u32,
    pub ip: Ipv4Addr,
    pub az: String,
    /// Route table of the node's subnet.
    pub route_table: u32,
    pub zone: u32,
}

#[derive(Debug)]
pub struct TargetGroup {
    pub id: String,
    /// The target group's own cross-zone setting; `None`: the load balancer's.
    pub cross_zone: Option<bool>,
    pub targets: Vec<Target>,
    pub health_check: control::model::HealthCheck,
    /// Send the PROXY protocol v2 header (with the PrivateLink TLV) on TCP connections.
    pub proxy_protocol_v2: bool,
    /// Nodes of the load balancers whose listeners use this group: where health checks
    /// start from.
    pub probe_nodes: Vec<u32>,
    /// A GENEVE group (appliances behind a Gateway Load Balancer): health checks default to
    /// port 80, not the traffic port.
    pub geneve: bool,
    pub stickiness: control::model::Stickiness,
    pub failover: control::model::Failover,
    /// GENEVE groups: idle timeout of a TCP flow's appliance choice, seconds (60–6000).
    pub tcp_idle_timeout: u16,
    pub counters: Arc<EntityCounters>,
}

#[derive(Debug)]
pub struct Target {
    pub ip: IpAddr,
    pub port: u16,
    pub az: String,
    pub health: Arc<TargetHealth>,
    /// `target` (NLB) or `appliance` (GWLB) counters, id `TARGET_GROUP/IP:PORT`: what the
    /// load balancer sends it (tx) and, for appliances, what comes back (rx).
    pub counters: Arc<EntityCounters>,
}

/// How a target is named in counters and metrics: `TARGET_GROUP/IP:PORT`.
pub fn target_label(target_group: &str, ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{target_group}/{a}:{port}"),
        IpAddr::V6(a) => format!("{target_group}/[{a}]:{port}"),
    }
}

/// A Gateway Load Balancer endpoint: the route target that hands packets to appliances.
///
/// Its one ENI is in `az`; flows through it are tracked in `zone` (keyed by the target
/// group's stickiness tuple) with the appliance chosen for them and the flow cookie. What
/// comes back from the appliance is routed on by `route_table`, the ENI's subnet's table.
#[derive(Debug)]
pub struct GwlbEndpoint {
    pub id: String,
    pub eni: String,
    pub ip: Ipv4Addr,
    pub vpc: u32,
    pub az: String,
    pub zone: u32,
    pub route_table: u32,
    /// Connection state with the endpoint service (acceptance applies to GWLB endpoints too).
    pub state: ConnectionState,
    /// `load_balancers[i]`, the service's gateway load balancer; `None`: the service is not
    /// in this configuration.
    pub load_balancer: Option<u32>,
    /// The values of AWS's GENEVE options 1 (endpoint ENI) and 2 (attachment).
    pub option_endpoint: u64,
    pub option_attachment: u64,
    pub counters: Arc<EntityCounters>,
}

/// How an attachment's device is set up in its namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkConfig {
    /// Addresses on the device, with prefix length.
    pub addresses: Vec<IpNet>,
    /// Addresses on the namespace's loopback (service addresses).
    pub loopback: Vec<IpAddr>,
    /// Default routes through the device, per family.
    pub default_v4: bool,
    pub default_v6: bool,
    /// The device's MTU: [`MTU`], or [`JUMBO_MTU`] for appliances behind a Gateway Load
    /// Balancer (GENEVE adds 68 bytes to every packet they receive and return).
    pub mtu: u16,
}

/// MTU of attachment devices (the internet's, and what instances use by default here).
pub const MTU: u16 = 1500;
/// MTU of an appliance's device: AWS's jumbo frames inside a VPC.
pub const JUMBO_MTU: u16 = 9001;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentKind {
    Eni(u32),
    Internet(u32),
    ServiceNetwork(u32),
}

impl AttachmentKind {
    /// The kind's name in `vpcectl` output and the control protocol.
    pub fn as_str(&self) -> &'static str {
        match self {
            AttachmentKind::Eni(_) => "network_interface",
            AttachmentKind::Internet(_) => "internet",
            AttachmentKind::ServiceNetwork(_) => "service_network",
        }
    }
}

#[derive(Debug)]
pub struct Attachment {
    /// The id the attachment stands for: `eni-…`, `igw-…`, or the service name.
    pub id: String,
    pub kind: AttachmentKind,
    /// Device name, derived from the id ([`tun_name`]).
    pub device: String,
    /// Network namespace from the configuration (before any prefix the daemon adds).
    pub namespace: Option<String>,
    pub link: LinkConfig,
    /// An existing interface carries this attachment instead of a TUN device (the internet
    /// side of a gateway on a real uplink).
    pub uplink: Option<Uplink>,
    pub counters: Arc<EntityCounters>,
}

/// An attachment on an existing Ethernet interface, through packet sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uplink {
    pub interface: String,
    /// The router frames to the outside go to.
    pub next_hop: Ipv4Addr,
    /// Addresses vpced answers ARP for on the link: the public addresses behind the gateway
    /// (and the resolvers' upstream source).
    pub answers: Vec<Ipv4Addr>,
}

/// The dataplane's immutable tables for one configuration generation.
#[derive(Debug)]
pub struct Fabric {
    pub generation: u64,
    pub snapshot: Arc<Snapshot>,
    pub attachments: Vec<Attachment>,
    pub vpcs: Vec<Vpc>,
    pub enis: Vec<Eni>,
    pub igws: Vec<InternetGateway>,
    pub gateway_endpoints: Vec<GatewayEndpoint>,
    pub services: Vec<ServiceNetwork>,
    pub endpoints: Vec<InterfaceEndpoint>,
    pub endpoint_enis: Vec<EndpointEni>,
    pub endpoint_services: Vec<EndpointService>,
    pub load_balancers: Vec<LoadBalancer>,
    pub lb_nodes: Vec<LbNode>,
    pub target_groups: Vec<TargetGroup>,
    pub gwlb_endpoints: Vec<GwlbEndpoint>,
    /// GWLB endpoint by the value of GENEVE option 1 (what an appliance echoes back).
    pub gwlb_endpoint_by_option: FxHashMap<u64, u32>,
    /// Endpoint ENI by conntrack zone (the way back of a translated flow).
    pub endpoint_eni_by_zone: FxHashMap<u32, u32>,
    /// Service network by conntrack zone (interface endpoints to AWS services).
    pub service_by_zone: FxHashMap<u32, u32>,
    /// Load-balancer node by conntrack zone (the way to a target of a translated flow).
    pub lb_node_by_zone: FxHashMap<u32, u32>,
    /// Where the resolvers forward names they do not answer.
    pub upstream: Option<Upstream>,
    /// Denial counters of the groups of each compiled security-group set.
    pub sg_denials: Vec<SmallVec<[Arc<DenialCounters>; 2]>>,
    /// `actions[route_table][route]`.
    pub actions: Vec<Vec<Action>>,
    /// Per route table (snapshot order).
    pub route_table_counters: Vec<Arc<EntityCounters>>,
    pub registry: Arc<Registry>,
}

impl Versioned for Fabric {
    fn generation(&self) -> u64 {
        self.generation
    }
    fn set_generation(&mut self, generation: u64) {
        self.generation = generation;
    }
}

/// Device name of an attachment: `vp` + kind letter + `-` + 8 hex digits of the FNV-1a hash
/// of the id (12 bytes; Linux allows 15). Deterministic across runs and machines, so scripts
/// and `vpcectl show attachments` agree with the daemon; the id itself is set as the link's
/// alias so `ip link` shows both.
pub fn tun_name(kind: char, id: &str) -> String {
    format!("vp{kind}-{:08x}", crate::hash::fnv1a(id.as_bytes()))
}

/// Why a fabric could not be built from an accepted snapshot.
#[derive(Debug, thiserror::Error)]
pub enum FabricError {
    #[error("attachments {0} and {1} would get the same device name {2}; rename one of them")]
    NameCollision(String, String, String),
    #[error("{0}")]
    Inconsistent(String),
}

impl Fabric {
    /// Builds the tables for `snapshot`. Counters are taken from (and registered in)
    /// `registry`, so an entity keeps its counters across reloads.
    pub fn build(
        snapshot: impl Into<Arc<Snapshot>>,
        registry: Arc<Registry>,
    ) -> Result<Fabric, FabricError> {
        let snapshot: Arc<Snapshot> = snapshot.into();
        let c: &Config = &snapshot.config;
        let bad = |m: String| FabricError::Inconsistent(m);

        let vpc_index: FxHashMap<&str, u32> = c
            .vpcs
            .iter()
            .enumerate()
            .map(|(i, v)| (v.id.as_str(), i as u32))
            .collect();
        let mut vpcs: Vec<Vpc> = c
            .vpcs
            .iter()
            .map(|v| Vpc {
                id: v.id.clone(),
                cidrs: v
                    .cidr_blocks
                    .iter()
                    .map(|c| IpNet::V4(c.0))
                    .chain(v.ipv6_cidr_blocks.iter().map(|c| IpNet::V6(c.0)))
                    .collect(),
                owners: FxHashMap::default(),
            })
            .collect();
        let rt_index: FxHashMap<&str, u32> = snapshot
            .route_tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.as_str(), i as u32))
            .collect();
        let subnet = |id: &str| c.subnets.iter().find(|s| s.id == id);
        let sg_of = |groups: &[String]| {
            if groups.is_empty() {
                None
            } else {
                snapshot.security.set_for(groups)
            }
        };

        let mut attachments: Vec<Attachment> = Vec::new();
        let mut enis: Vec<Eni> = Vec::new();

        // ENIs of instances and standalone ENIs: one attachment each.
        struct EniSrc<'a> {
            id: String,
            subnet: &'a str,
            ipv4: SmallVec<[Ipv4Addr; 2]>,
            ipv6: Option<Ipv6Addr>,
            public: Option<Ipv4Addr>,
            sdc: bool,
            ns: Option<String>,
            groups: &'a [String],
        }
        let mut sources: Vec<EniSrc> = Vec::new();
        for i in &c.instances {
            sources.push(EniSrc {
                id: i.eni_id(),
                subnet: &i.subnet,
                ipv4: SmallVec::from_slice(&[i.private_ip]),
                ipv6: i.ipv6_address,
                public: i.public_ip,
                sdc: i.source_dest_check,
                ns: i.namespace.clone(),
                groups: &i.security_groups,
            });
        }
        for n in &c.network_interfaces {
            let mut v4: SmallVec<[Ipv4Addr; 2]> = SmallVec::from_slice(&[n.private_ip]);
            v4.extend(n.secondary_private_ips.iter().copied());
            sources.push(EniSrc {
                id: n.id.clone(),
                subnet: &n.subnet,
                ipv4: v4,
                ipv6: n.ipv6_address,
                public: n.public_ip,
                sdc: n.source_dest_check,
                ns: n.namespace.clone(),
                groups: &n.security_groups,
            });
        }
        // Addresses of GENEVE targets (appliances): their devices take jumbo frames.
        let appliance_ips: Vec<IpAddr> = c
            .target_groups
            .iter()
            .filter(|t| t.protocol == Protocol::Geneve)
            .flat_map(|t| &t.targets)
            .filter_map(|t| match (&t.instance, t.ip) {
                (Some(id), _) => c
                    .instances
                    .iter()
                    .find(|i| &i.id == id)
                    .map(|i| IpAddr::V4(i.private_ip)),
                (None, ip) => ip,
            })
            .collect();
        for s in sources {
            let sn = subnet(s.subnet).ok_or_else(|| bad(format!("no subnet {}", s.subnet)))?;
            let vpc = *vpc_index
                .get(sn.vpc.as_str())
                .ok_or_else(|| bad(format!("no VPC {}", sn.vpc)))?;
            let rt = snapshot
                .subnet_route_table(&sn.id)
                .and_then(|t| rt_index.get(t.id.as_str()).copied())
                .ok_or_else(|| bad(format!("subnet {} has no route table", sn.id)))?;
            let att = attachments.len() as AttachmentIdx;
            let eni = enis.len() as u32;
            let mut addresses: Vec<IpNet> = s
                .ipv4
                .iter()
                .enumerate()
                .map(|(k, a)| {
                    IpNet::new(
                        IpAddr::V4(*a),
                        if k == 0 { sn.cidr.0.prefix_len() } else { 32 },
                    )
                    .expect("valid prefix")
                })
                .collect();
            if let (Some(a), Some(net)) = (s.ipv6, sn.ipv6_cidr) {
                addresses
                    .push(IpNet::new(IpAddr::V6(a), net.0.prefix_len()).expect("valid prefix"));
            }
            for a in &s.ipv4 {
                vpcs[vpc as usize]
                    .owners
                    .insert(IpAddr::V4(*a), Owner::Attachment(att));
            }
            if let Some(a) = s.ipv6 {
                vpcs[vpc as usize]
                    .owners
                    .insert(IpAddr::V6(a), Owner::Attachment(att));
            }
            attachments.push(Attachment {
                device: tun_name('e', &s.id),
                counters: registry.entity("attachment", &s.id),
                id: s.id.clone(),
                kind: AttachmentKind::Eni(eni),
                namespace: s.ns,
                uplink: None,
                link: LinkConfig {
                    mtu: if s
                        .ipv4
                        .iter()
                        .any(|a| appliance_ips.contains(&IpAddr::V4(*a)))
                    {
                        JUMBO_MTU
                    } else {
                        MTU
                    },
                    addresses,
                    loopback: Vec::new(),
                    default_v4: true,
                    default_v6: s.ipv6.is_some(),
                },
            });
            enis.push(Eni {
                zone: zone_of(&s.id),
                sg: sg_of(s.groups),
                id: s.id,
                vpc,
                route_table: rt,
                ipv4: s.ipv4,
                ipv6: s.ipv6,
                public_ipv4: s.public,
                source_dest_check: s.sdc,
            });
        }

        // Interface endpoints, endpoint services, load balancers and target groups: addresses
        // vpced terminates itself, without a device.
        let mut endpoints = Vec::new();
        let mut endpoint_enis = Vec::new();
        let mut endpoint_eni_by_zone = FxHashMap::default();
        let mut endpoint_services = Vec::new();
        let mut load_balancers = Vec::new();
        let mut lb_nodes = Vec::new();
        let mut target_groups: Vec<TargetGroup> = Vec::new();
        let tg_index: FxHashMap<&str, u32> = c
            .target_groups
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.as_str(), i as u32))
            .collect();
        for tg in &c.target_groups {
            let tvpc = vpc_index.get(tg.vpc.as_str()).copied();
            let mut targets = Vec::new();
            for t in &tg.targets {
                let (ip, az) = match (&t.instance, t.ip) {
                    (Some(id), _) => {
                        let Some(i) = c.instances.iter().find(|i| &i.id == id) else {
                            continue;
                        };
                        let az = subnet(&i.subnet).map(|s| s.availability_zone.clone());
                        (IpAddr::V4(i.private_ip), az.unwrap_or_default())
                    }
                    (None, Some(ip)) => {
                        let az = c
                            .subnets
                            .iter()
                            .filter(|s| Some(&s.vpc) == tvpc.map(|v| &c.vpcs[v as usize].id))
                            .find(|s| match ip {
                                IpAddr::V4(a) => s.cidr.0.contains(&a),
                                IpAddr::V6(a) => s.ipv6_cidr.is_some_and(|n| n.0.contains(&a)),
                            })
                            .map(|s| s.availability_zone.clone());
                        (ip, az.unwrap_or_default())
                    }
                    (None, None) => continue,
                };
                let port = t.port.unwrap_or(tg.port);
                let kind = if tg.protocol == Protocol::Geneve {
                    "appliance"
                } else {
                    "target"
                };
                targets.push(Target {
                    ip,
                    port,
                    az,
                    health: registry.health.cell(&tg.id, ip, port),
                    counters: registry.entity(kind, &target_label(&tg.id, ip, port)),
                });
            }
            target_groups.push(TargetGroup {
                id: tg.id.clone(),
                cross_zone: tg.cross_zone,
                targets,
                health_check: tg.health_check.clone(),
                proxy_protocol_v2: tg.proxy_protocol_v2,
                probe_nodes: Vec::new(),
                geneve: tg.protocol == Protocol::Geneve,
                stickiness: tg.stickiness,
                failover: tg.failover,
                // Validation keeps it within 60–6000.
                tcp_idle_timeout: u16::try_from(tg.tcp_idle_timeout).unwrap_or(u16::MAX),
                counters: registry.entity("target_group", &tg.id),
            });
        }
        for lb in &c.load_balancers {
            let Some(&vpc) = vpc_index.get(lb.vpc.as_str()) else {
                continue;
            };
            let li = load_balancers.len() as u32;
            let mut nodes = Vec::new();
            for m in &lb.subnet_mappings {
                let Some(sn) = subnet(&m.subnet) else {
                    continue;
                };
                let Some(rt) = snapshot
                    .subnet_route_table(&sn.id)
                    .and_then(|t| rt_index.get(t.id.as_str()).copied())
                else {
                    continue;
                };
                let n = lb_nodes.len() as u32;
                vpcs[vpc as usize]
                    .owners
                    .insert(IpAddr::V4(m.private_ip), Owner::LoadBalancerNode(n));
                nodes.push(n);
                lb_nodes.push(LbNode {
                    lb: li,
                    ip: m.private_ip,
                    az: sn.availability_zone.clone(),
                    route_table: rt,
                    zone: zone_of(&format!("{}@{}", lb.id, m.private_ip)),
                });
            }
            let listeners = lb
                .listeners
                .iter()
                .filter_map(|l| {
                    let tg = *tg_index.get(l.target_group.as_str())?;
                    let (tcp, udp) = match l.protocol {
                        Some(Protocol::Udp) => (false, true),
                        Some(Protocol::TcpUdp) => (true, true),
                        _ => (true, false),
                    };
                    Some(Listener {
                        tcp,
                        udp,
                        port: l.port?,
                        target_group: tg,
                    })
                })
                .collect();
            let appliances = (lb.lb_type == LoadBalancerType::Gateway)
                .then(|| {
                    lb.listeners
                        .first()
                        .and_then(|l| tg_index.get(l.target_group.as_str()).copied())
                })
                .flatten();
            load_balancers.push(LoadBalancer {
                id: lb.id.clone(),
                vpc,
                appliances,
                nodes,
                sg: sg_of(&lb.security_groups),
                enforce_sg_on_private_link: lb
                    .enforce_security_group_inbound_rules_on_private_link_traffic,
                cross_zone: lb.cross_zone,
                listeners,
                counters: registry.entity("load_balancer", &lb.id),
            });
        }
        for lb in &load_balancers {
            for tg in lb
                .listeners
                .iter()
                .map(|l| l.target_group)
                .chain(lb.appliances)
            {
                let tg = &mut target_groups[tg as usize];
                for &n in &lb.nodes {
                    if !tg.probe_nodes.contains(&n) {
                        tg.probe_nodes.push(n);
                    }
                }
            }
        }
        for svc in &c.endpoint_services {
            endpoint_services.push(EndpointService {
                id: svc.id.clone(),
                load_balancers: svc
                    .load_balancers
                    .iter()
                    .filter_map(|l| load_balancers.iter().position(|x| &x.id == l))
                    .map(|i| i as u32)
                    .collect(),
            });
        }
        for e in c
            .endpoints
            .iter()
            .filter(|e| e.endpoint_type == EndpointType::Interface)
        {
            let Some(&vpc) = vpc_index.get(e.vpc.as_str()) else {
                continue;
            };
            let ei = endpoints.len() as u32;
            for (k, n) in e.network_interfaces.iter().enumerate() {
                let id = e.eni_id(k);
                let x = endpoint_enis.len() as u32;
                let zone = zone_of(&id);
                vpcs[vpc as usize]
                    .owners
                    .insert(IpAddr::V4(n.private_ip), Owner::EndpointEni(x));
                endpoint_eni_by_zone.insert(zone, x);
                endpoint_enis.push(EndpointEni {
                    id,
                    endpoint: ei,
                    ip: n.private_ip,
                    az: subnet(&n.subnet)
                        .map(|s| s.availability_zone.clone())
                        .unwrap_or_default(),
                    zone,
                });
            }
            endpoints.push(InterfaceEndpoint {
                id: e.id.clone(),
                vpc,
                state: c.connection_state(e),
                sg: sg_of(&e.security_groups),
                service: c
                    .endpoint_services
                    .iter()
                    .position(|s| s.service_name(&c.region) == e.service)
                    .map(|i| i as u32),
                aws_service: None,
                service_addresses: Vec::new(),
                counters: registry.entity("endpoint", &e.id),
            });
        }
        // Gateway Load Balancer endpoints.
        let mut gwlb_endpoints = Vec::new();
        let mut gwlb_endpoint_by_option = FxHashMap::default();
        for e in c
            .endpoints
            .iter()
            .filter(|e| e.endpoint_type == EndpointType::GatewayLoadBalancer)
        {
            let (Some(&vpc), Some(n)) =
                (vpc_index.get(e.vpc.as_str()), e.network_interfaces.first())
            else {
                continue;
            };
            let Some(sn) = subnet(&n.subnet) else {
                continue;
            };
            let Some(rt) = snapshot
                .subnet_route_table(&sn.id)
                .and_then(|t| rt_index.get(t.id.as_str()).copied())
            else {
                continue;
            };
            let eni = e.eni_id(0);
            // Option 1 carries the ENI's id when it has a real one, else the endpoint's.
            let option_endpoint =
                crate::wire::geneve::id_value(if n.id.is_some() { &eni } else { &e.id });
            let load_balancer = c
                .endpoint_services
                .iter()
                .find(|s| s.service_name(&c.region) == e.service)
                .and_then(|s| s.load_balancers.first())
                .and_then(|l| {
                    load_balancers
                        .iter()
                        .position(|x: &LoadBalancer| &x.id == l)
                })
                .map(|i| i as u32);
            gwlb_endpoint_by_option.insert(option_endpoint, gwlb_endpoints.len() as u32);
            gwlb_endpoints.push(GwlbEndpoint {
                zone: zone_of(&eni),
                eni,
                id: e.id.clone(),
                ip: n.private_ip,
                vpc,
                az: sn.availability_zone.clone(),
                route_table: rt,
                state: c.connection_state(e),
                load_balancer,
                option_endpoint,
                option_attachment: crate::wire::geneve::id_value(&e.id),
                counters: registry.entity("endpoint", &e.id),
            });
        }
        for n in &c.nat_gateways {
            if let Some(sn) = subnet(&n.subnet) {
                if let Some(&v) = vpc_index.get(sn.vpc.as_str()) {
                    vpcs[v as usize]
                        .owners
                        .entry(IpAddr::V4(n.private_ip))
                        .or_insert(Owner::Virtual);
                }
            }
        }
        // The resolver at base + 2 of each VPC whose DNS support is on.
        for (i, v) in c.vpcs.iter().enumerate() {
            if let (true, Some(cidr)) = (v.enable_dns_support, v.cidr_blocks.first()) {
                vpcs[i].owners.insert(
                    crate::resolver::resolver_address(cidr.0),
                    Owner::Resolver(i as u32),
                );
            }
        }
        let lb_node_by_zone = lb_nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.zone, i as u32))
            .collect();
        let sg_denials = snapshot
            .security
            .sets
            .iter()
            .map(|set| {
                set.groups
                    .iter()
                    .map(|&g| registry.denials(&c.security_groups[g as usize].id))
                    .collect()
            })
            .collect();

        // Internet gateways: the internet side is an attachment.
        let mut igws = Vec::new();
        for g in &c.internet_gateways {
            let vpc = *vpc_index
                .get(g.vpc.as_str())
                .ok_or_else(|| bad(format!("no VPC {}", g.vpc)))?;
            let att = attachments.len() as AttachmentIdx;
            let mut inbound = FxHashMap::default();
            let mut outbound = FxHashMap::default();
            for e in enis.iter().filter(|e| e.vpc == vpc) {
                if let (Some(public), Some(private)) = (e.public_ipv4, e.ipv4.first()) {
                    inbound.insert(public, *private);
                    outbound.insert(*private, public);
                }
            }
            attachments.push(Attachment {
                // An uplink's device is the interface it is on.
                device: g
                    .interface
                    .clone()
                    .filter(|_| g.next_hop.is_some())
                    .unwrap_or_else(|| tun_name('i', &g.id)),
                counters: registry.entity("attachment", &g.id),
                id: g.id.clone(),
                kind: AttachmentKind::Internet(igws.len() as u32),
                namespace: g.namespace.clone(),
                uplink: match (&g.interface, g.next_hop) {
                    (Some(interface), Some(next_hop)) => Some(Uplink {
                        interface: interface.clone(),
                        next_hop,
                        answers: {
                            let mut v: Vec<Ipv4Addr> = inbound.keys().copied().collect();
                            if let Some(r) =
                                c.resolver.as_ref().filter(|r| r.internet_gateway == g.id)
                            {
                                v.push(r.source);
                            }
                            v.sort();
                            v
                        },
                    }),
                    _ => None,
                },
                link: LinkConfig {
                    addresses: Vec::new(),
                    loopback: Vec::new(),
                    default_v4: true,
                    default_v6: true,
                    mtu: MTU,
                },
            });
            igws.push(InternetGateway {
                id: g.id.clone(),
                vpc,
                attachment: att,
                edge_route_table: snapshot
                    .gateway_route_table(&g.id)
                    .and_then(|t| rt_index.get(t.id.as_str()).copied()),
                inbound,
                outbound,
                counters: registry.entity("internet_gateway", &g.id),
            });
        }

        // Service networks of AWS services that gateway endpoints or interface endpoints use.
        let mut services: Vec<ServiceNetwork> = Vec::new();
        let mut service_network =
            |svc: &control::model::AwsService, attachments: &mut Vec<Attachment>| -> u32 {
                if let Some(i) = services.iter().position(|s| s.name == svc.name) {
                    return i as u32;
                }
                let si = services.len() as u32;
                let att = attachments.len() as AttachmentIdx;
                attachments.push(Attachment {
                    device: tun_name('s', &svc.name),
                    counters: registry.entity("attachment", &svc.name),
                    id: svc.name.clone(),
                    kind: AttachmentKind::ServiceNetwork(si),
                    namespace: svc.namespace.clone(),
                    uplink: None,
                    link: LinkConfig {
                        addresses: Vec::new(),
                        loopback: svc.service_addresses.clone(),
                        default_v4: true,
                        default_v6: true,
                        mtu: MTU,
                    },
                });
                services.push(ServiceNetwork {
                    name: svc.name.clone(),
                    attachment: att,
                    zone: zone_of(&svc.name),
                    endpoints: Vec::new(),
                });
                si
            };
        let mut gateway_endpoints = Vec::new();
        for e in c
            .endpoints
            .iter()
            .filter(|e| e.endpoint_type == EndpointType::Gateway)
        {
            let svc = c
                .aws_services
                .iter()
                .find(|s| s.name == e.service)
                .ok_or_else(|| bad(format!("no service {}", e.service)))?;
            let si = service_network(svc, &mut attachments);
            gateway_endpoints.push(GatewayEndpoint {
                id: e.id.clone(),
                vpc: *vpc_index
                    .get(e.vpc.as_str())
                    .ok_or_else(|| bad(format!("no VPC {}", e.vpc)))?,
                attachment: 0, // set below, once the service list is final
                allowed: e
                    .allowed_destinations
                    .as_ref()
                    .map(|v| v.iter().map(|c| c.0).collect()),
                counters: registry.entity("endpoint", &e.id),
            });
            let _ = si;
        }
        // Interface endpoints to AWS services get the service's network too.
        let mut aws_service_of: FxHashMap<String, u32> = FxHashMap::default();
        for e in c
            .endpoints
            .iter()
            .filter(|e| e.endpoint_type == EndpointType::Interface)
        {
            if let Some(svc) = c.aws_services.iter().find(|s| s.name == e.service) {
                let si = service_network(svc, &mut attachments);
                aws_service_of.insert(e.id.clone(), si);
            }
        }
        for (gi, e) in c
            .endpoints
            .iter()
            .filter(|e| e.endpoint_type == EndpointType::Gateway)
            .enumerate()
        {
            let si = services
                .iter()
                .position(|s| s.name == e.service)
                .expect("made above");
            services[si].endpoints.push(gi as u32);
            gateway_endpoints[gi].attachment = services[si].attachment;
        }
        let service_by_zone: FxHashMap<u32, u32> = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.zone, i as u32))
            .collect();
        for ep in &mut endpoints {
            if let Some(&si) = aws_service_of.get(&ep.id) {
                ep.aws_service = Some(si);
                let svc = c
                    .aws_services
                    .iter()
                    .find(|s| s.name == services[si as usize].name)
                    .expect("made from it");
                ep.service_addresses = svc
                    .service_addresses
                    .iter()
                    .filter_map(|a| match a {
                        IpAddr::V4(a) => Some(*a),
                        IpAddr::V6(_) => None,
                    })
                    .collect();
            }
        }

        // Device names must be unique.
        let mut names: FxHashMap<&str, &str> = FxHashMap::default();
        for a in &attachments {
            if let Some(other) = names.insert(a.device.as_str(), a.id.as_str()) {
                return Err(FabricError::NameCollision(
                    other.to_string(),
                    a.id.clone(),
                    a.device.clone(),
                ));
            }
        }

        // Route actions.
        let att_of_eni: FxHashMap<&str, AttachmentIdx> = attachments
            .iter()
            .enumerate()
            .filter(|(_, a)| matches!(a.kind, AttachmentKind::Eni(_)))
            .map(|(i, a)| (a.id.as_str(), i as AttachmentIdx))
            .collect();
        let mut actions = Vec::with_capacity(snapshot.route_tables.len());
        let mut route_table_counters = Vec::with_capacity(snapshot.route_tables.len());
        for t in &snapshot.route_tables {
            let table_vpc = vpc_index.get(t.vpc.as_str()).copied();
            let mut v = Vec::with_capacity(t.routes.len());
            for r in &t.routes {
                let a = match &r.target {
                    RouteTarget::Local => Action::Local,
                    RouteTarget::Blackhole => Action::Blackhole,
                    RouteTarget::InternetGateway(id) => match igws.iter().position(|g| &g.id == id)
                    {
                        Some(i) => Action::InternetGateway(i as u32),
                        None => Action::Blackhole,
                    },
                    RouteTarget::GatewayEndpoint(id) => {
                        match gateway_endpoints.iter().position(|g| &g.id == id) {
                            Some(i) => Action::GatewayEndpoint(i as u32),
                            None => Action::Blackhole,
                        }
                    }
                    RouteTarget::NetworkInterface(id) => match att_of_eni.get(id.as_str()) {
                        Some(&a) => Action::NetworkInterface(a),
                        None => Action::Unsupported(Unsupported::DetachedInterface),
                    },
                    RouteTarget::PeeringConnection(id) => {
                        let peer =
                            c.peering_connections
                                .iter()
                                .find(|p| &p.id == id)
                                .and_then(|p| {
                                    let other =
                                        if Some(vpc_index.get(p.requester_vpc.as_str()).copied())
                                            == Some(table_vpc)
                                        {
                                            &p.accepter_vpc
                                        } else {
                                            &p.requester_vpc
                                        };
                                    vpc_index.get(other.as_str()).copied()
                                });
                        match peer {
                            Some(v) => Action::Peering(v),
                            None => Action::Blackhole,
                        }
                    }
                    RouteTarget::NatGateway(_) => Action::Unsupported(Unsupported::NatGateway),
                    RouteTarget::GatewayLoadBalancerEndpoint(id) => {
                        match gwlb_endpoints
                            .iter()
                            .position(|g: &GwlbEndpoint| &g.id == id)
                        {
                            Some(i) => Action::GwlbEndpoint(i as u32),
                            None => Action::Blackhole,
                        }
                    }
                    RouteTarget::VpnGateway(_) => Action::Unsupported(Unsupported::VpnGateway),
                };
                v.push(a);
            }
            actions.push(v);
            route_table_counters.push(registry.entity("route_table", &t.id));
        }

        let upstream = c.resolver.as_ref().and_then(|r| {
            let g = igws.iter().find(|g| g.id == r.internet_gateway)?;
            Some(Upstream {
                server: r.upstream,
                source: r.source,
                attachment: g.attachment,
            })
        });
        Ok(Fabric {
            generation: snapshot.generation,
            snapshot,
            attachments,
            vpcs,
            enis,
            igws,
            gateway_endpoints,
            services,
            endpoints,
            endpoint_enis,
            endpoint_services,
            load_balancers,
            lb_nodes,
            target_groups,
            gwlb_endpoints,
            gwlb_endpoint_by_option,
            endpoint_eni_by_zone,
            service_by_zone,
            lb_node_by_zone,
            upstream,
            sg_denials,
            actions,
            route_table_counters,
            registry,
        })
    }

    /// The attachment with this id.
    pub fn attachment(&self, id: &str) -> Option<AttachmentIdx> {
        self.attachments
            .iter()
            .position(|a| a.id == id)
            .map(|i| i as AttachmentIdx)
    }
}

/// The attachments a configuration defines, without building a full fabric: for
/// `vpcectl show attachments`.
pub fn attachments_of(snapshot: Snapshot) -> Result<Vec<Attachment>, FabricError> {
    Ok(Fabric::build(snapshot, Arc::new(Registry::default()))?.attachments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_are_deterministic_and_short() {
        let n = tun_name('e', "eni-08c0b194dec370347");
        assert_eq!(n, tun_name('e', "eni-08c0b194dec370347"));
        assert!(n.len() <= 15);
        assert!(n.starts_with("vpe-"));
        assert_ne!(
            tun_name('i', "igw-0a000000000000001"),
            tun_name('i', "igw-0b000000000000001")
        );
        // FNV-1a test vector: "a" -> 0xe40c292c.
        assert_eq!(crate::hash::fnv1a(b"a"), 0xe40c292c);
    }
}
