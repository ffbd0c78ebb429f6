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
//! [`crate::publish::SnapshotCell`]; counters live outside it ([`crate::stats`]) so they survive
//! reloads.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::publish::Versioned;
use control::model::ConnectionState;
use control::Snapshot;
use ipnet::IpNet;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::health::TargetHealth;
use crate::stats::{DenialCounters, EntityCounters, Registry};

mod build;

pub use crate::reasons::AttachmentIdx;

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
    /// Into a transit gateway through the table's VPC's attachment to it,
    /// `tgw_attachments[i]`.
    TransitGateway(u32),
    /// Out through virtual private gateway `vgws[i]` to the on-premises network behind one of
    /// its VPN connections.
    VpnGateway(u32),
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
    /// An ENI of a Route 53 Resolver endpoint: `resolver_enis[i]`.
    ResolverEndpoint(u32),
    /// Something vpced does not terminate yet (a NAT gateway).
    Virtual,
}

#[derive(Debug)]
pub struct Vpc {
    pub id: String,
    pub cidrs: SmallVec<[IpNet; 2]>,
    pub owners: FxHashMap<IpAddr, Owner>,
    /// The VPC's resolver address (base + 2), when DNS support is on: network ACLs do not
    /// filter traffic to and from it.
    pub resolver: Option<IpAddr>,
    /// Its subnets, `subnets[i]` (which zone a source address is in).
    pub subnets: SmallVec<[u32; 8]>,
}

/// A subnet: its blocks (traffic between two of its addresses crosses no network ACL) and its
/// network ACL.
#[derive(Debug)]
pub struct Subnet {
    pub id: String,
    pub v4: ipnet::Ipv4Net,
    pub v6: Option<ipnet::Ipv6Net>,
    /// `snapshot.nacls.acls[i]` (and `acl_counters[i]`); `None`: AWS's default ACL, which
    /// allows everything, so nothing is checked.
    pub acl: Option<u32>,
    /// Its VPC's resolver address, which no network ACL filters.
    pub resolver: Option<IpAddr>,
    /// Its availability zone, `zones[i]`.
    pub az: u16,
}

impl Subnet {
    /// Whether `a` is one of the subnet's addresses.
    #[inline]
    pub fn contains(&self, a: IpAddr) -> bool {
        match a {
            IpAddr::V4(a) => self.v4.contains(&a),
            IpAddr::V6(a) => self.v6.is_some_and(|n| n.contains(&a)),
        }
    }
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
    /// Its subnet, `subnets[i]`.
    pub subnet: u32,
    /// A target of a group that preserves client addresses: its replies to a load balancer's
    /// clients are found in its zone and go back through the node.
    pub client_ip_target: bool,
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
    /// Both families: a flow goes to one of its own family.
    pub service_addresses: Vec<IpAddr>,
    pub counters: Arc<EntityCounters>,
}

/// One ENI of an interface endpoint.
#[derive(Debug)]
pub struct EndpointEni {
    pub id: String,
    pub endpoint: u32,
    pub ip: Ipv4Addr,
    /// A dual-stack endpoint's IPv6 address.
    pub ip6: Option<Ipv6Addr>,
    pub az: String,
    pub zone: u32,
    /// The route table of the ENI's subnet (`snapshot.route_tables[i]`): the endpoint's
    /// replies are routed from there like any packet from the subnet, so that consumers in a
    /// peered VPC (or behind a transit gateway) get them. `None`: a subnet with no table
    /// (validation refuses that), replies delivered in the VPC only.
    pub route_table: Option<u32>,
    /// Its subnet, `subnets[i]`; `None` if the configuration names none known.
    pub subnet: Option<u32>,
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
    /// A dual-stack load balancer's IPv6 address of this node.
    pub ip6: Option<Ipv6Addr>,
    /// An internet-facing load balancer's public address of this node.
    pub public_ip: Option<Ipv4Addr>,
    pub az: String,
    /// Route table of the node's subnet.
    pub route_table: u32,
    /// Flow zone of the node: its translations' ways back (targets' replies).
    pub zone: u32,
    /// Flow zone of the load balancer's own clients' flows to this node (direct use, not
    /// through an endpoint).
    pub client_zone: u32,
    /// The node's subnet, `subnets[i]`.
    pub subnet: u32,
}

impl LbNode {
    /// The node's address of `peer`'s family: what it sends to a target from (`None`: an IPv6
    /// peer and a load balancer that is not dual-stack).
    pub fn address_for(&self, peer: IpAddr) -> Option<IpAddr> {
        match peer {
            IpAddr::V4(_) => Some(IpAddr::V4(self.ip)),
            IpAddr::V6(_) => self.ip6.map(IpAddr::V6),
        }
    }
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
    /// Routing failover thresholds, if the group has health requirements.
    pub health_requirements: Option<control::model::HealthRequirements>,
    /// AWS's unhealthy connection termination: existing TCP connections to a target that
    /// turned unhealthy get a RST (immediately, or after `draining_interval` seconds when
    /// termination is off and an interval is set; never when off without one).
    pub terminate_unhealthy: bool,
    pub draining_interval: u32,
    pub counters: Arc<EntityCounters>,
}

/// DNS failover (AWS, "Target group health"): a node's addresses leave its load balancer's
/// DNS name while, in any group its listeners use, the healthy targets the node may send to
/// (its zone's; every zone's with cross-zone on) are fewer than the group's requirement (its
/// `health_requirements`; without any, one).
impl crate::resolver::DnsHealth for Fabric {
    fn in_zone_down(&self, addr: IpAddr) -> bool {
        self.address_in_zone_down(addr)
    }

    fn answers(&self, lb: &str, addr: IpAddr) -> bool {
        let Some(l) = self.load_balancers.iter().find(|l| l.id == lb) else {
            return true;
        };
        let owns = |n: &LbNode| {
            IpAddr::V4(n.ip) == addr
                || n.ip6.map(IpAddr::V6) == Some(addr)
                || n.public_ip.map(IpAddr::V4) == Some(addr)
        };
        let Some(node) = l
            .nodes
            .iter()
            .map(|&n| &self.lb_nodes[n as usize])
            .find(|n| owns(n))
        else {
            return true;
        };
        l.listeners.iter().all(|k| {
            let tg = &self.target_groups[k.target_group as usize];
            let cross_zone = tg.cross_zone.unwrap_or(l.cross_zone);
            let scope = tg.targets.iter().filter(|t| cross_zone || t.az == node.az);
            let total = scope.clone().count() as u32;
            let healthy = scope.filter(|t| t.health.eligible()).count() as u32;
            let need = tg
                .health_requirements
                .map_or(1, |r| r.minimum(total).max(1));
            healthy >= need
        })
    }
}

impl TargetGroup {
    /// Whether existing connections to `t` are to be reset at clock `now`: it is unhealthy
    /// and the group terminates such connections now, or has drained them long enough.
    #[inline]
    pub fn resets(&self, t: &Target, now: u32) -> bool {
        match t.health.unhealthy_for(now) {
            None => false,
            Some(_) if self.terminate_unhealthy => true,
            Some(d) => self.draining_interval > 0 && d >= self.draining_interval,
        }
    }

    /// The state AWS would report for target `t` at clock `now`: `unhealthy.draining` while
    /// an unhealthy target's connections drain.
    pub fn reported_state(&self, t: &Target, now: u32) -> crate::health::HealthState {
        use crate::health::HealthState;
        match t.health.unhealthy_for(now) {
            Some(d) if !self.terminate_unhealthy && d < self.draining_interval => {
                HealthState::UnhealthyDraining
            }
            _ => t.health.state(),
        }
    }
}

#[derive(Debug)]
pub struct Target {
    pub ip: IpAddr,
    pub port: u16,
    pub az: String,
    /// The load balancer's own clients keep their address to this target (the group's
    /// `preserve_client_ip`, or AWS's default for the target's type and the protocol).
    pub preserve_client_ip: bool,
    /// The flow zone of the ENI holding the target's address (`None`: no ENI of this
    /// configuration holds it), where a preserved client's flow is tracked with the way back.
    pub eni_zone: Option<u32>,
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
    /// Its subnet, `subnets[i]`.
    pub subnet: u32,
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
    /// The far side of a VPN connection: on-premises network `on_prem[i]`.
    OnPremises(u32),
}

/// A transit gateway attachment, resolved.
#[derive(Debug)]
pub struct TgwAttachment {
    pub id: String,
    /// `transit_gateways[i]` (the configuration's order).
    pub tgw: u32,
    pub link: TgwLink,
    /// The transit gateway route table it is associated with (`snapshot.transit.tables[i]`).
    pub table: Option<u32>,
    /// A peering attachment: the table on the peer transit gateway's side.
    pub peer_table: Option<u32>,
    /// A VPC attachment with a subnet in every zone the VPC has subnets in: no source can be
    /// in a zone it does not serve.
    pub all_zones: bool,
    /// A VPC attachment one of whose subnets has a network ACL: entering needs the zone.
    pub any_acl: bool,
    pub counters: Arc<EntityCounters>,
}

/// What a transit gateway attachment leads to.
#[derive(Debug)]
pub enum TgwLink {
    /// A VPC, through one subnet per zone; appliance mode keeps a flow on one zone.
    Vpc {
        vpc: u32,
        zones: Vec<TgwZone>,
        appliance_mode: bool,
    },
    /// A VPN connection to on-premises network `on_prem[i]`.
    Vpn { on_prem: u32 },
    /// A Direct Connect gateway (`direct_connect_gateways[gateway]` of the configuration) and
    /// the on-premises networks with a virtual interface to it (the one holding the
    /// destination receives the packet).
    DirectConnect {
        gateway: u32,
        on_prem: SmallVec<[u32; 2]>,
    },
    /// Another transit gateway, `transit_gateways[i]`.
    Peering { peer: u32 },
}

/// A VPC attachment's subnet in one zone: where traffic enters and leaves the VPC there.
#[derive(Debug, Clone)]
pub struct TgwZone {
    pub az: u16,
    pub subnet: u32,
    /// The subnet's network ACL (`None`: AWS's default, which allows everything). AWS
    /// evaluates its inbound rules on what enters the transit gateway here and its outbound
    /// rules on what leaves the transit gateway here for another subnet.
    pub acl: Option<u32>,
    /// The subnet's route table: traffic from the transit gateway into the VPC is routed by it.
    pub route_table: u32,
    /// When every address of the VPC is routed `local` by that table (no more specific route
    /// sends part of it elsewhere — the common case): each VPC network with its local route's
    /// index, so a packet for the VPC is delivered without the lookup, whose answer is known.
    /// Empty otherwise.
    pub local: SmallVec<[(IpNet, u32); 2]>,
}

/// What a transit gateway route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TgwAction {
    Attachment(u32),
    Blackhole,
}

/// An on-premises network behind a VPN connection or a Direct Connect gateway.
#[derive(Debug)]
pub struct OnPrem {
    pub id: String,
    pub attachment: AttachmentIdx,
    pub cidrs: SmallVec<[IpNet; 2]>,
    /// Its VPN connection's way in.
    pub via: OnPremVia,
    /// What Direct Connect gateways advertise to it, each prefix with where it leads: a
    /// destination one of them covers (the longest) goes over Direct Connect, any other over
    /// the VPN connection (`via`).
    pub dx: SmallVec<[DxRoute; 2]>,
    /// It has a virtual interface to a Direct Connect gateway (whether or not that advertises
    /// anything).
    pub has_dx: bool,
}

/// A prefix a Direct Connect gateway advertises to a data centre, and where it leads.
#[derive(Debug, Clone, Copy)]
pub struct DxRoute {
    pub prefix: IpNet,
    /// `direct_connect_gateways[i]` of the configuration.
    pub gateway: u32,
    pub via: OnPremVia,
}

/// Where an on-premises network's traffic enters AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnPremVia {
    /// A transit gateway, through attachment `tgw_attachments[i]`.
    TransitGateway(u32),
    /// A virtual private gateway of VPC `vpcs[i]`, `vgws[gateway]`.
    VpnGateway { vpc: u32, gateway: u32 },
    /// No VPN connection names it.
    Nowhere,
}

/// An ENI of a Route 53 Resolver endpoint.
#[derive(Debug)]
pub struct ResolverEni {
    /// The endpoint's id (`rslvr-…`).
    pub endpoint: String,
    /// `vpcs[i]`, whose resolver it reaches (inbound) or speaks for (outbound).
    pub vpc: u32,
    pub ip: Ipv4Addr,
    pub subnet: u32,
    /// Its subnet's route table (where forwarded queries leave by).
    pub route_table: u32,
    /// Its security groups (`snapshot.security.sets[i]`): unlike the VPC's resolver (at
    /// base + 2), an endpoint's ENIs are filtered by them.
    pub sg: Option<u32>,
    pub outbound: bool,
}

/// A virtual private gateway with the on-premises networks of its VPN connections.
#[derive(Debug)]
pub struct Vgw {
    pub id: String,
    pub vpc: u32,
    /// The on-premises networks it reaches, each with the Direct Connect gateway it reaches
    /// them through (AWS prefers Direct Connect to a VPN connection to the same network), or
    /// none for a VPN connection.
    pub on_prem: SmallVec<[(u32, Option<u32>); 2]>,
    /// Its edge route table (ingress routing), if one is associated with it.
    pub edge_route_table: Option<u32>,
}

impl AttachmentKind {
    /// The kind's name in `vpcectl` output and the control protocol.
    pub fn as_str(&self) -> &'static str {
        match self {
            AttachmentKind::Eni(_) => "network_interface",
            AttachmentKind::Internet(_) => "internet",
            AttachmentKind::ServiceNetwork(_) => "service_network",
            AttachmentKind::OnPremises(_) => "on_premises",
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
    /// The configuration generation: 0 when built, set by [`crate::publish::SnapshotCell`]
    /// when the plan carrying it is published (1 at start, +1 per apply).
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
    /// Load-balancer node by its client zone (the way back of a preserved client's flow).
    pub lb_node_by_client_zone: FxHashMap<u32, u32>,
    /// Where the resolvers forward names they do not answer.
    pub upstream: Option<Upstream>,
    pub subnets: Vec<Subnet>,
    /// Availability zone names (`Subnet::az`, `TgwZone::az` index them).
    pub zones: Vec<String>,
    pub tgw_attachments: Vec<TgwAttachment>,
    /// `tgw_actions[table][route]` (`snapshot.transit.tables`).
    pub tgw_actions: Vec<Vec<TgwAction>>,
    /// The attachment of VPC `vpcs[v]` to transit gateway `t`: `(v, t) -> tgw_attachments[i]`.
    pub tgw_by_vpc: FxHashMap<(u32, u32), u32>,
    pub on_prem: Vec<OnPrem>,
    pub vgws: Vec<Vgw>,
    pub resolver_enis: Vec<ResolverEni>,
    /// Rule counters of each network ACL (`snapshot.nacls.acls` order).
    pub acl_counters: Vec<Arc<crate::stats::AclCounters>>,
    /// Denial counters of the groups of each compiled security-group set.
    pub sg_denials: Vec<SmallVec<[Arc<DenialCounters>; 2]>>,
    /// `actions[route_table][route]`.
    pub actions: Vec<Vec<Action>>,
    /// Per route table (snapshot order).
    pub route_table_counters: Vec<Arc<EntityCounters>>,
    pub registry: Arc<Registry>,
    /// The availability zone this node serves is down (a region's zone-failure drill): every
    /// packet is dropped with [`DropReason::ZoneDown`](crate::reasons::DropReason::ZoneDown).
    /// Set by the daemon before the plan is published; false when built.
    pub zone_down: bool,
    /// Availability zones down in the region (`zones[i]` down when `zones_down[i]`; empty when
    /// none is): their ENIs, endpoint ENIs and load-balancer nodes take and send nothing
    /// ([`DropReason::ZoneDown`](crate::reasons::DropReason::ZoneDown)), so that health checks
    /// to their targets fail, and DNS answers leave their addresses out. Set by the daemon (a
    /// region's zone-failure drill) or `vpcectl trace --zone-down`; empty when built.
    pub zones_down: Vec<bool>,
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
    /// Marks the zones named in `down` down; names the configuration does not have are
    /// returned (nothing is marked for them).
    pub fn set_zones_down<'a>(&mut self, down: &'a [String]) -> Vec<&'a str> {
        self.zones_down = self.zones.iter().map(|z| down.contains(z)).collect();
        if !self.zones_down.contains(&true) {
            self.zones_down.clear();
        }
        down.iter()
            .filter(|d| !self.zones.contains(d))
            .map(String::as_str)
            .collect()
    }

    /// Marks the targets in zones that are down unhealthy: where their health checks would
    /// have taken them by now (for a trace of a configuration, which runs no health checks).
    pub fn down_zones_fail_health_checks(&self) {
        for t in self.target_groups.iter().flat_map(|g| &g.targets) {
            if let Some(az) = self.zones.iter().position(|z| *z == t.az) {
                if self.zone_is_down(az as u16) {
                    t.health.set(crate::health::HealthState::Unhealthy);
                }
            }
        }
    }

    /// Runs the zones as `other` runs them (this node's zone down, the region's zones down):
    /// a fabric built again from `other`'s snapshot.
    pub fn zones_as(&mut self, other: &Fabric) {
        self.zone_down = other.zone_down;
        self.zones_down.clone_from(&other.zones_down);
    }

    /// Whether zone `az` (`zones[az]`) is down.
    #[inline]
    pub fn zone_is_down(&self, az: u16) -> bool {
        self.zones_down.get(az as usize).copied().unwrap_or(false)
    }

    /// The zone of the address owner `o`, when it has one (instances' ENIs, endpoint ENIs,
    /// load-balancer nodes, Resolver endpoints' ENIs).
    pub fn owner_zone(&self, o: Owner) -> Option<u16> {
        let subnet = match o {
            Owner::Attachment(a) => match self.attachments.get(a as usize)?.kind {
                AttachmentKind::Eni(e) => Some(self.enis[e as usize].subnet),
                _ => None,
            },
            Owner::EndpointEni(x) => self.endpoint_enis[x as usize].subnet,
            Owner::LoadBalancerNode(n) => Some(self.lb_nodes[n as usize].subnet),
            Owner::ResolverEndpoint(x) => Some(self.resolver_enis[x as usize].subnet),
            Owner::Resolver(_) | Owner::Virtual => None,
        }?;
        Some(self.subnets[subnet as usize].az)
    }

    /// Whether address `addr`'s owner, in any VPC, is in a zone that is down.
    pub fn address_in_zone_down(&self, addr: IpAddr) -> bool {
        !self.zones_down.is_empty()
            && self.vpcs.iter().any(|v| {
                v.owners
                    .get(&addr)
                    .and_then(|&o| self.owner_zone(o))
                    .is_some_and(|az| self.zone_is_down(az))
            })
    }

    /// Builds the tables for `snapshot`. Counters are taken from (and registered in)
    /// `registry`, so an entity keeps its counters across reloads. The work is
    /// `build::FabricBuilder`'s (private), one method per kind of entity.
    pub fn build(
        snapshot: impl Into<Arc<Snapshot>>,
        registry: Arc<Registry>,
    ) -> Result<Fabric, FabricError> {
        build::build(snapshot.into(), registry)
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
