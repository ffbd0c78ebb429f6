//! The configuration a user writes: one TOML file per deployment.
//!
//! This module owns the *shape* of a deployment and nothing else: serde types that mirror the
//! AWS resources of the project's starting spec (`../shared/SPEC.md`) closely enough that an AWS user recognises every field (and that
//! `vpcectl import aws` can map the AWS CLI's JSON onto them), with AWS ids kept verbatim.
//! Meaning — references that resolve, addresses inside their subnet, the route-table rules —
//! is checked by [`mod@crate::validate`]; turning it into lookup tables is [`mod@crate::compile`].
//!
//! Shape choices, and why:
//!
//! * **Flat, top-level collections** (`[[vpcs]]`, `[[subnets]]`, `[[route_tables]]`, …) that refer
//!   to each other by id, like the AWS APIs. A nested layout (subnets inside VPCs) reads well for
//!   one VPC but cannot express a route table that names a peering connection to another VPC or
//!   an endpoint service consumed from a second VPC, which PrivateLink is all about.
//! * **Ids and references are strings**, addresses and CIDRs are typed. A mistyped address fails
//!   at parse time with line and column; a reference that does not resolve fails in validation,
//!   which can also name the entity and say which ids *would* have been accepted.
//! * **Associations live where AWS keeps them**: a route table lists its subnets and its edge
//!   (gateway) associations (`describe-route-tables` → `Associations`), a gateway endpoint lists
//!   its route tables, an endpoint service lists its endpoint connections and their state.
//! * **Defaults are AWS's defaults**: cross-zone load balancing off for NLB and GWLB, security
//!   groups of an NLB enforced on PrivateLink traffic, acceptance required on endpoint services,
//!   GWLB stickiness by 5-tuple with `no_rebalance` failover, a security group's egress allowing
//!   everything when no egress rule is written.
//! * **Unknown fields are errors** (`deny_unknown_fields`): a typo such as `cross_zon = true`
//!   would otherwise silently leave AWS's default in place, which is exactly the class of mistake
//!   seed 004 paid for.
//!
//! Later issues add behaviour to these shapes (namespaces of attachments, health-check state,
//! DNS records); the fields for them exist now so configurations written today keep working.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::net::{Cidr, Cidr4, Cidr6};

fn default_true() -> bool {
    true
}

/// One deployment: everything `vpced` runs and `vpcectl` explains.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// AWS region, e.g. `us-east-1`. Availability zone names must start with it.
    pub region: String,
    /// Availability zones of the region that this deployment uses, e.g. `["us-east-1a"]`.
    #[serde(default)]
    pub availability_zones: Vec<String>,
    /// AWS's zone ids by zone name (`us-east-1a = "use1-az6"`): the account's mapping of
    /// names to the physical zones (the same name is a different zone in another account),
    /// written to flow logs' `az-id`. Optional; `import aws` fills it from the subnets'
    /// `AvailabilityZoneId`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub availability_zone_ids: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub vpcs: Vec<Vpc>,
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    #[serde(default)]
    pub route_tables: Vec<RouteTable>,
    #[serde(default)]
    pub prefix_lists: Vec<PrefixList>,
    #[serde(default)]
    pub internet_gateways: Vec<InternetGateway>,
    #[serde(default)]
    pub nat_gateways: Vec<NatGateway>,
    #[serde(default)]
    pub peering_connections: Vec<PeeringConnection>,
    #[serde(default)]
    pub vpn_gateways: Vec<VpnGateway>,
    #[serde(default)]
    pub transit_gateways: Vec<TransitGateway>,
    #[serde(default)]
    pub transit_gateway_attachments: Vec<TransitGatewayAttachment>,
    #[serde(default)]
    pub transit_gateway_route_tables: Vec<TransitGatewayRouteTable>,
    #[serde(default)]
    pub on_premises: Vec<OnPremises>,
    #[serde(default)]
    pub vpn_connections: Vec<VpnConnection>,
    #[serde(default)]
    pub direct_connect_gateways: Vec<DirectConnectGateway>,
    #[serde(default)]
    pub security_groups: Vec<SecurityGroup>,
    #[serde(default)]
    pub network_acls: Vec<NetworkAcl>,
    #[serde(default)]
    pub instances: Vec<Instance>,
    #[serde(default)]
    pub network_interfaces: Vec<NetworkInterface>,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    #[serde(default)]
    pub endpoint_services: Vec<EndpointService>,
    #[serde(default)]
    pub aws_services: Vec<AwsService>,
    #[serde(default)]
    pub s3_buckets: Vec<S3Bucket>,
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancer>,
    #[serde(default)]
    pub target_groups: Vec<TargetGroup>,
    #[serde(default)]
    pub hosted_zones: Vec<HostedZone>,
    #[serde(default)]
    pub resolver_endpoints: Vec<ResolverEndpoint>,
    #[serde(default)]
    pub resolver_rules: Vec<ResolverRule>,
    /// Where the VPC resolvers forward names they do not answer privately; absent: such names
    /// get REFUSED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<ResolverSettings>,
}

/// Forwarding of the resolvers (base + 2) for names outside the private records — Route 53
/// Resolver's recursion to public DNS. In the lab the upstream is a DNS server on the internet
/// side of an internet gateway.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ResolverSettings {
    /// The upstream DNS server's address.
    pub upstream: Ipv4Addr,
    /// The internet gateway whose internet side reaches the upstream.
    pub internet_gateway: String,
    /// The address forwarded queries come from on the internet side (answers return to it).
    #[serde(default = "ResolverSettings::default_source")]
    pub source: Ipv4Addr,
}

impl ResolverSettings {
    fn default_source() -> Ipv4Addr {
        Ipv4Addr::new(100, 64, 0, 53)
    }
}

/// A VPC. Its IPv4 CIDRs get the implicit `local` route in every one of its route tables.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Vpc {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Primary CIDR first, then secondary CIDRs (AWS allows /16 to /28).
    pub cidr_blocks: Vec<Cidr4>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv6_cidr_blocks: Vec<Cidr6>,
    /// `enableDnsSupport`: the resolver at base + 2 answers (AWS default: on).
    #[serde(default = "default_true")]
    pub enable_dns_support: bool,
    /// `enableDnsHostnames` (AWS default for a non-default VPC: off). Private DNS of interface
    /// endpoints needs both this and `enable_dns_support`.
    #[serde(default)]
    pub enable_dns_hostnames: bool,
}

impl Vpc {
    /// The VPC's CIDRs, IPv4 then IPv6: what its `local` route covers.
    pub fn networks(&self) -> Vec<ipnet::IpNet> {
        self.cidr_blocks
            .iter()
            .map(|c| ipnet::IpNet::V4(c.0))
            .chain(self.ipv6_cidr_blocks.iter().map(|c| ipnet::IpNet::V6(c.0)))
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub vpc: String,
    pub availability_zone: String,
    pub cidr: Cidr4,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_cidr: Option<Cidr6>,
}

/// A route table with its routes and associations.
///
/// The `local` routes for the VPC's CIDRs are implicit, as in AWS; writing one explicitly is
/// allowed (and must then name a VPC CIDR). Routes to gateway endpoints are never written here:
/// they come from the endpoint's `route_tables` association, as in AWS.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteTable {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub vpc: String,
    /// The VPC's main route table: used by every subnet with no explicit association.
    #[serde(default)]
    pub main: bool,
    /// Explicit subnet associations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
    /// Edge associations (`igw-…`, `vgw-…`): this is an ingress (gateway) route table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Route propagation: virtual private gateways whose VPN connections' on-premises prefixes
    /// appear in this table as propagated routes (AWS: "Enable route propagation").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub propagating_gateways: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// A CIDR (`0.0.0.0/0`, `2001:db8::/32`) or a managed prefix list id (`pl-…`).
    pub destination: String,
    /// `local`, `blackhole`, `igw-…`, `nat-…`, `vpce-…` (Gateway Load Balancer endpoint),
    /// `eni-…`, `pcx-…`, or `vgw-…` for propagated routes.
    pub target: String,
    /// Learned by route propagation from a virtual private gateway: loses to static and
    /// prefix-list routes of the same length and never overrides `local`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub propagated: bool,
}

/// A managed prefix list: a named set of CIDRs of one family that routes and security-group
/// rules can reference as a whole.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrefixList {
    pub id: String,
    /// For AWS-managed lists, the service name (`com.amazonaws.us-east-1.s3`).
    pub name: String,
    pub address_family: AddressFamily,
    /// Customer-managed lists have a maximum; an AWS-managed list has none (leave it out).
    /// A route to the list counts as this many routes against the route table's quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<u32>,
    #[serde(default)]
    pub entries: Vec<PrefixListEntry>,
    /// Fill the list from an AWS `ip-ranges.json` file, filtered by service and region; the
    /// entries are added to `entries` when the configuration is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_ip_ranges: Option<IpRangesSource>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum AddressFamily {
    IPv4,
    IPv6,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum PrefixListEntry {
    Cidr(Cidr),
    Described { cidr: Cidr, description: String },
}

impl PrefixListEntry {
    pub fn cidr(&self) -> Cidr {
        match self {
            PrefixListEntry::Cidr(c) | PrefixListEntry::Described { cidr: c, .. } => *c,
        }
    }
}

/// Where to fill a prefix list from: an `ip-ranges.json` file (plain or `.xz`), path relative
/// to the configuration file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IpRangesSource {
    pub file: String,
    /// `service` field of ip-ranges.json, e.g. `S3`, `DYNAMODB`.
    pub service: String,
    /// `region` field of ip-ranges.json; defaults to the deployment's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// An internet gateway attached to a VPC. In the lab its far side is the "internet" attachment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InternetGateway {
    pub id: String,
    pub vpc: String,
    /// Network namespace that stands for the internet behind this gateway (lab topology).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The internet side on an existing interface (a NIC or a veth, in vpced's own network
    /// namespace) instead of a TUN device: vpced reads and writes its Ethernet frames through
    /// packet sockets, answers ARP for the public addresses behind the gateway, and sends to
    /// `next_hop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// The router on `interface` that traffic to the internet goes to (IPv4; its Ethernet
    /// address is resolved with ARP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NatGateway {
    pub id: String,
    pub subnet: String,
    pub private_ip: Ipv4Addr,
    /// Elastic IP of a public NAT gateway; absent for a private NAT gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PeeringConnection {
    pub id: String,
    pub requester_vpc: String,
    pub accepter_vpc: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VpnGateway {
    pub id: String,
    pub vpc: String,
}

/// A transit gateway: a regional router between its attachments (VPCs, VPN connections, other
/// transit gateways), each associated with one of its route tables.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TransitGateway {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// What a transit gateway attachment connects.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum TgwAttachmentType {
    /// A VPC, through an ENI in one subnet per availability zone.
    Vpc,
    /// A Site-to-Site VPN connection (`vpn_connection`).
    Vpn,
    /// Another transit gateway (`peer_transit_gateway`).
    Peering,
    /// A Direct Connect gateway (`direct_connect_gateway`) with transit virtual interfaces.
    DirectConnectGateway,
}

impl TgwAttachmentType {
    /// The type as written in the configuration (`direct_connect_gateway`).
    pub fn as_str(self) -> &'static str {
        match self {
            TgwAttachmentType::Vpc => "vpc",
            TgwAttachmentType::Vpn => "vpn",
            TgwAttachmentType::Peering => "peering",
            TgwAttachmentType::DirectConnectGateway => "direct_connect_gateway",
        }
    }
}

/// An attachment of a transit gateway (AWS: "Transit gateway attachments").
///
/// Traffic from the attachment is routed by the route table it is associated with
/// (`association`); the attachment's routes — a VPC's CIDRs, the prefixes a VPN connection
/// carries — are propagated into the tables it lists in `propagations`. A peering attachment
/// propagates nothing (AWS: static routes only) and is associated on both sides
/// (`association` on `transit_gateway`, `peer_association` on `peer_transit_gateway`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TransitGatewayAttachment {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub transit_gateway: String,
    #[serde(rename = "type")]
    pub attachment_type: TgwAttachmentType,
    /// VPC attachments: the VPC and one subnet per availability zone the attachment serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
    /// VPC attachments: appliance mode, which keeps both directions of a flow on one zone's
    /// attachment ENI (for stateful appliances in the VPC).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub appliance_mode: bool,
    /// VPN attachments: the VPN connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpn_connection: Option<String>,
    /// Peering attachments: the other transit gateway, and the route table there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_transit_gateway: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_association: Option<String>,
    /// Direct Connect gateway attachments: the gateway (`[[direct_connect_gateways]]`, which
    /// lists this transit gateway among its associations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_connect_gateway: Option<String>,
    /// The transit gateway route table traffic from this attachment is routed by; without
    /// one, the transit gateway drops it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub association: Option<String>,
    /// Route tables this attachment's routes propagate to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub propagations: Vec<String>,
}

/// A transit gateway route table: static routes (to an attachment or `blackhole`; a CIDR or a
/// prefix list) and the routes its propagating attachments bring.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TransitGatewayRouteTable {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub transit_gateway: String,
    #[serde(default)]
    pub routes: Vec<TgwRoute>,
}

/// A static route of a transit gateway route table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TgwRoute {
    /// A CIDR or a managed prefix list id (`pl-…`).
    pub destination: String,
    /// `tgw-attach-…` or `blackhole`.
    pub target: String,
}

/// An on-premises network (a data centre) reached over a Site-to-Site VPN connection or a
/// Direct Connect gateway's virtual interface. In the lab a namespace stands for it: its `hosts`
/// live there, and everything it sends to AWS goes over Direct Connect when a Direct Connect
/// gateway advertises the destination to it (customers prefer it, VPN being the backup), else
/// through its VPN connection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OnPremises {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The data centre's networks: what its customer gateway advertises (propagated into the
    /// route tables its VPN connections propagate to).
    pub cidrs: Vec<Cidr>,
    /// Addresses of machines there (servers, a DNS server), inside `cidrs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<IpAddr>,
    /// The customer gateway: its id (`cgw-…`) and public address.
    pub customer_gateway: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_gateway_ip: Option<Ipv4Addr>,
    /// Network namespace standing for the data centre (lab topology).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A Site-to-Site VPN connection between an on-premises network's customer gateway and a
/// transit gateway (through a `vpn` attachment) or a virtual private gateway. BGP is not run:
/// the on-premises network's `cidrs` stand for what it would advertise.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VpnConnection {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The `[[on_premises]]` network on the customer gateway's side.
    pub on_premises: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit_gateway: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpn_gateway: Option<String>,
}

/// A Direct Connect gateway: the on-premises networks with a virtual interface to it, and the
/// gateways on the AWS side it is associated with (AWS Direct Connect User Guide, "Direct
/// Connect gateways").
///
/// Associated with virtual private gateways (private virtual interfaces), its data centres reach
/// those gateways' VPCs; associated with transit gateways (transit virtual interfaces, and a
/// `direct_connect_gateway` attachment on each transit gateway), they reach whatever those
/// transit gateways route to. Never both: AWS, "You cannot attach a Direct Connect gateway to a
/// transit gateway when the Direct Connect gateway is already associated with a virtual private
/// gateway". BGP is not run: each data centre's `cidrs` stand for what it advertises (propagated
/// to the VPC route tables that propagate from an associated virtual private gateway, and to the
/// transit gateway route tables the attachment propagates to), and each association's
/// `allowed_prefixes` for what AWS advertises back — a data centre sends a destination over
/// Direct Connect only when an allowed prefix covers it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DirectConnectGateway {
    /// AWS's id (a UUID).
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The `[[on_premises]]` networks with a virtual interface to this gateway.
    pub on_premises: Vec<String>,
    #[serde(default)]
    pub associations: Vec<DirectConnectAssociation>,
}

/// A Direct Connect gateway's association with a virtual private gateway or a transit gateway.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DirectConnectAssociation {
    /// `vgw-…` or `tgw-…`.
    pub gateway: String,
    /// What AWS advertises to the data centres over this association. A transit gateway
    /// association needs them (AWS: "required when you create an association to a transit
    /// gateway") and they are advertised as written; for a virtual private gateway they filter
    /// the VPC's CIDRs — a CIDR is advertised only when an allowed prefix is the same or wider —
    /// and, left out, the VPC's CIDRs are advertised.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_prefixes: Vec<Cidr>,
}

/// An S3 bucket and its bucket policy (an IAM policy document, JSON): what `vpcectl policy
/// check` and `trace --action … --resource arn:aws:s3:::bucket/…` evaluate after the endpoint
/// policy, with the request's `aws:SourceVpce` and `aws:SourceVpc` set by the endpoint it came
/// through (AWS: "Controlling access from VPC endpoints with bucket policies").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct S3Bucket {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// A network ACL: stateless, numbered rules evaluated in order on traffic entering and leaving
/// its subnets (AWS: "Control subnet traffic with network access control lists").
///
/// Rules are checked from the lowest number up; the first whose protocol, ports and CIDR match
/// decides (allow or deny); a packet no rule matches is denied (AWS's `*` rule). Stateless: a
/// reply is judged by the rules of its own direction, so a subnet whose clients open
/// connections needs an inbound rule for the ephemeral ports the replies come back to. Each
/// subnet is associated with exactly one ACL: the one that lists it, else the VPC's default
/// ACL (`default = true`); a VPC with no ACL in the configuration has AWS's default ACL, which
/// allows everything in both directions. Traffic within one subnet is not evaluated, nor is
/// traffic to and from the VPC's resolver (AWS: network ACLs do not filter it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkAcl {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub vpc: String,
    /// The VPC's default ACL: subnets no other ACL lists are associated with it.
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    pub subnets: Vec<String>,
    #[serde(default)]
    pub ingress: Vec<NetworkAclRule>,
    #[serde(default)]
    pub egress: Vec<NetworkAclRule>,
}

/// One numbered rule of a network ACL.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkAclRule {
    /// The rule number, 1 to 32766: lower numbers are evaluated first.
    pub rule: u16,
    pub action: AclAction,
    /// `tcp`, `udp`, `icmp`, `icmpv6`, `all` (AWS `-1`), or an IP protocol number.
    pub protocol: String,
    /// The destination port or range (`80`, `"1024-65535"`); TCP and UDP only, required there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortRange>,
    /// ICMP type and code (ICMP/ICMPv6 only; absent = all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    /// The remote network: the source of inbound traffic, the destination of outbound.
    pub cidr: Cidr,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum AclAction {
    Allow,
    Deny,
}

/// A security group: stateful allow rules (a reply to an allowed flow is allowed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub vpc: String,
    #[serde(default)]
    pub ingress: Vec<SecurityGroupRule>,
    /// `None` (field left out) means AWS's default egress rule: all traffic to anywhere.
    /// An empty list means no egress at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Vec<SecurityGroupRule>>,
}

/// One rule: protocol, ports, and exactly one peer (`cidr`, `prefix_list` or `security_group`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupRule {
    /// `tcp`, `udp`, `icmp`, `icmpv6`, `all` (AWS `-1`), or an IP protocol number.
    pub protocol: String,
    /// A port (`80`) or an inclusive range (`"1024-65535"`); TCP and UDP only, required there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortRange>,
    /// ICMP type and code (ICMP/ICMPv6 only; absent = all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<Cidr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_list: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// An inclusive port range, written `80` or `"1024-65535"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

impl Serialize for PortRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = PortRange;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a port 0-65535 (80) or an inclusive range (\"1024-65535\")")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PortRange, E> {
                let p = u16::try_from(v).map_err(|_| {
                    E::custom(format!("port {v} is out of range; allowed: 0 to 65535"))
                })?;
                Ok(PortRange { from: p, to: p })
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PortRange, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PortRange, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl std::str::FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a port range; write a port (80) or an inclusive range (1024-65535)"
            )
        };
        let (a, b) = match s.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (s.trim(), s.trim()),
        };
        let from: u16 = a.parse().map_err(|_| bad())?;
        let to: u16 = b.parse().map_err(|_| bad())?;
        if from > to {
            return Err(format!("port range `{s}` starts after it ends"));
        }
        Ok(PortRange { from, to })
    }
}

/// An EC2 instance with its primary network interface.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub subnet: String,
    pub private_ip: Ipv4Addr,
    /// Public IPv4 address (or Elastic IP) that the internet gateway maps 1:1 to
    /// `private_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<Ipv6Addr>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// Id of the primary ENI; derived from the instance id (`i-0ab…` → `eni-0ab…`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface: Option<String>,
    /// Source/destination check (AWS default on): the ENI only sends from its own addresses.
    /// Turn it off for NAT instances and appliances that forward others' packets.
    #[serde(default = "default_true")]
    pub source_dest_check: bool,
    /// Network namespace in which this instance's programs run (lab topology).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A network interface that is not an instance's primary one (an appliance's, a route target).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkInterface {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub subnet: String,
    pub private_ip: Ipv4Addr,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary_private_ips: Vec<Ipv4Addr>,
    /// Public IPv4 address (or Elastic IP) mapped 1:1 to `private_ip` by the internet gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<Ipv6Addr>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    #[serde(default = "default_true")]
    pub source_dest_check: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// The three kinds of VPC endpoint.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum EndpointType {
    /// S3/DynamoDB style: routes via a prefix list, no ENI, no DNS change.
    Gateway,
    /// PrivateLink proper: one ENI per subnet, security groups, private DNS.
    Interface,
    /// Gateway Load Balancer endpoint: a route target that hands packets to appliances.
    GatewayLoadBalancer,
}

impl std::fmt::Display for EndpointType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EndpointType::Gateway => "Gateway",
            EndpointType::Interface => "Interface",
            EndpointType::GatewayLoadBalancer => "GatewayLoadBalancer",
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub endpoint_type: EndpointType,
    pub vpc: String,
    /// Service name: an `[[aws_services]]` name (`com.amazonaws.us-east-1.s3`) or an
    /// `[[endpoint_services]]` name (`com.amazonaws.vpce.<region>.vpce-svc-…`).
    pub service: String,
    /// Gateway endpoints: the route tables that get the `pl-… -> vpce-…` route.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_tables: Vec<String>,
    /// Interface and GWLB endpoints: one ENI per subnet (at most one subnet per AZ; a GWLB
    /// endpoint has exactly one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_interfaces: Vec<EndpointNetworkInterface>,
    /// Interface endpoints: the security groups of its ENIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// Interface endpoints with private DNS: answer the private DNS names with the endpoint
    /// only to queries arriving through an inbound Resolver endpoint; the VPC's own clients
    /// keep the service's public names (AWS: for S3, whose gateway endpoint the VPC uses).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private_dns_only_for_inbound_resolver_endpoint: bool,
    /// Interface endpoints: the service's private DNS name resolves to the ENIs in this VPC.
    #[serde(default)]
    pub private_dns_enabled: bool,
    /// Gateway endpoints: the endpoint policy reduced to destination CIDRs it allows (absent =
    /// full access, AWS's default policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_destinations: Option<Vec<Cidr>>,
    /// The endpoint policy: an IAM policy document (JSON), evaluated by `vpcectl policy check`
    /// and `trace --action`; absent = AWS's default, full access. (What it lets packets reach
    /// is `allowed_destinations`.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The principal that requested the endpoint (an ARN or an account id): checked against
    /// the endpoint service's `allowed_principals`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Interface endpoints: the addresses its ENIs get (AWS `IpAddressType`; default `ipv4`).
    /// `dualstack` gives every ENI an `ipv6_address` as well and needs subnets with IPv6 CIDRs
    /// and a service that accepts IPv6 requests.
    #[serde(default, skip_serializing_if = "IpAddressType::is_ipv4")]
    pub ip_address_type: IpAddressType,
    /// Interface endpoints: which DNS records its names get (AWS `DnsOptions.DnsRecordIpType`);
    /// absent: the endpoint's address type (`ipv4` → A, `dualstack` → A and AAAA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_record_ip_type: Option<DnsRecordIpType>,
}

/// The address families of an endpoint, a load balancer or a target group (AWS
/// `IpAddressType`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum IpAddressType {
    #[default]
    Ipv4,
    Dualstack,
    Ipv6,
}

impl IpAddressType {
    pub fn is_ipv4(&self) -> bool {
        *self == IpAddressType::Ipv4
    }

    /// Whether addresses of this type include IPv4 / IPv6 ones.
    pub fn has_v4(&self) -> bool {
        *self != IpAddressType::Ipv6
    }

    pub fn has_v6(&self) -> bool {
        *self != IpAddressType::Ipv4
    }
}

impl std::fmt::Display for IpAddressType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IpAddressType::Ipv4 => "ipv4",
            IpAddressType::Dualstack => "dualstack",
            IpAddressType::Ipv6 => "ipv6",
        })
    }
}

/// Which records an interface endpoint's DNS names get (AWS `DnsRecordIpType`, as the EC2 API
/// documents it): `ipv4` A records, `ipv6` AAAA records, `dualstack` both, for the private,
/// regional and zonal names; `service-defined` A records for all three and AAAA records for
/// the regional and zonal names only.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum DnsRecordIpType {
    Ipv4,
    Dualstack,
    Ipv6,
    ServiceDefined,
}

impl DnsRecordIpType {
    /// Whether a name gets A / AAAA records (`private`: the private DNS name, not the regional
    /// or a zonal one).
    pub fn a(&self) -> bool {
        *self != DnsRecordIpType::Ipv6
    }

    pub fn aaaa(&self, private: bool) -> bool {
        match self {
            DnsRecordIpType::Ipv4 => false,
            DnsRecordIpType::Dualstack | DnsRecordIpType::Ipv6 => true,
            DnsRecordIpType::ServiceDefined => !private,
        }
    }
}

impl std::fmt::Display for DnsRecordIpType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DnsRecordIpType::Ipv4 => "ipv4",
            DnsRecordIpType::Dualstack => "dualstack",
            DnsRecordIpType::Ipv6 => "ipv6",
            DnsRecordIpType::ServiceDefined => "service-defined",
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EndpointNetworkInterface {
    pub subnet: String,
    pub private_ip: Ipv4Addr,
    /// A dual-stack endpoint's IPv6 address in the subnet's IPv6 CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<Ipv6Addr>,
    /// ENI id; derived from the endpoint id and the position when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// An endpoint service of our own (PrivateLink provider side), backed by NLBs or GWLBs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EndpointService {
    pub id: String,
    /// Defaults to `com.amazonaws.vpce.<region>.<id>`, as AWS names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Load balancer ids; all network or all gateway.
    pub load_balancers: Vec<String>,
    /// AWS default: on. Connections wait in `pendingAcceptance` until accepted.
    #[serde(default = "default_true")]
    pub acceptance_required: bool,
    /// Principals allowed to create endpoints (ARNs, or `*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_principals: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_name: Option<String>,
    /// Whether the private DNS name's domain is verified (AWS: a TXT record the provider
    /// publishes). Until it is `verified`, consumers' endpoints cannot use the name: AWS keeps it
    /// `pendingVerification` (or `failed`) and creates no private record for it. Default
    /// `verified`: a configuration describes a running service.
    #[serde(default, skip_serializing_if = "PrivateDnsNameState::is_verified")]
    pub private_dns_name_state: PrivateDnsNameState,
    /// Endpoint connections and their state, as `describe-vpc-endpoint-connections` shows them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<EndpointConnection>,
    /// The request families the service accepts (AWS `SupportedIpAddressTypes`: `ipv4`,
    /// `ipv6`); default `["ipv4"]`. IPv6 needs dual-stack load balancers.
    #[serde(default = "default_ipv4_only", skip_serializing_if = "is_ipv4_only")]
    pub supported_ip_address_types: Vec<IpAddressType>,
}

fn default_ipv4_only() -> Vec<IpAddressType> {
    vec![IpAddressType::Ipv4]
}

fn is_ipv4_only(v: &[IpAddressType]) -> bool {
    v == [IpAddressType::Ipv4]
}

/// The verification state of an endpoint service's private DNS name (AWS's
/// `PrivateDnsNameConfiguration.State`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum PrivateDnsNameState {
    #[default]
    Verified,
    PendingVerification,
    Failed,
}

impl PrivateDnsNameState {
    pub fn is_verified(&self) -> bool {
        *self == PrivateDnsNameState::Verified
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EndpointConnection {
    pub endpoint: String,
    pub state: ConnectionState,
}

/// States of an endpoint connection (AWS `VpcEndpointState`, in its camelCase spelling).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum ConnectionState {
    PendingAcceptance,
    Pending,
    Available,
    Rejected,
    Expired,
    Failed,
    Deleting,
    Deleted,
}

impl std::fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConnectionState::PendingAcceptance => "pendingAcceptance",
            ConnectionState::Pending => "pending",
            ConnectionState::Available => "available",
            ConnectionState::Rejected => "rejected",
            ConnectionState::Expired => "expired",
            ConnectionState::Failed => "failed",
            ConnectionState::Deleting => "deleting",
            ConnectionState::Deleted => "deleted",
        })
    }
}

/// An AWS-provided service (S3, DynamoDB, …) as the lab simulates it: the prefix list its
/// gateway endpoints route to, the names its interface endpoints answer for, and the addresses
/// it serves on (in the lab, inside the namespace that stands for the service's network).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AwsService {
    /// `com.amazonaws.<region>.<service>`.
    pub name: String,
    /// Which endpoint types the service offers.
    pub endpoint_types: Vec<EndpointType>,
    /// Gateway endpoints: the AWS-managed prefix list (`pl-…`) of the service's public IPv4
    /// ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_list: Option<String>,
    /// Gateway endpoints of a dual-stack service: the list of its IPv6 ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_prefix_list: Option<String>,
    /// Interface endpoints with private DNS: names that resolve to the endpoint's ENIs,
    /// wildcards allowed in the leftmost label (`*.s3.us-east-1.amazonaws.com`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub private_dns_names: Vec<String>,
    /// Addresses the service answers on (the public IPs DNS gives without an endpoint).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_addresses: Vec<IpAddr>,
    /// Network namespace standing for the service's network (lab topology).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum LoadBalancerType {
    Network,
    Gateway,
}

/// A Network or Gateway Load Balancer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    /// Free-form id (the AWS ARN or the load balancer's name).
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub lb_type: LoadBalancerType,
    pub vpc: String,
    /// `internal` (default) or `internet-facing` (NLB only).
    #[serde(default)]
    pub scheme: Scheme,
    /// One node per subnet (one subnet per AZ) with its private address: the source address
    /// the provider sees for PrivateLink traffic through that AZ.
    pub subnet_mappings: Vec<SubnetMapping>,
    /// Cross-zone load balancing (AWS default: off for NLB and GWLB).
    #[serde(default)]
    pub cross_zone: bool,
    /// NLB only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// NLB only: "Enforce inbound rules on PrivateLink traffic" (AWS default: on).
    #[serde(default = "default_true")]
    pub enforce_security_group_inbound_rules_on_private_link_traffic: bool,
    pub listeners: Vec<Listener>,
    /// The NLB's DNS name (AWS's `DNSName`); absent: `<name>-<16 hex digits>.elb.<region>.
    /// amazonaws.com`, derived from the id as AWS draws it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    /// `ipv4` (default) or `dualstack` (NLB): clients reach its nodes over IPv4 and IPv6;
    /// every subnet mapping then has an `ipv6_address`.
    #[serde(default, skip_serializing_if = "IpAddressType::is_ipv4")]
    pub ip_address_type: IpAddressType,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    #[default]
    Internal,
    InternetFacing,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SubnetMapping {
    pub subnet: String,
    pub private_ip: Ipv4Addr,
    /// An internet-facing load balancer's public address in this zone (AWS: the Elastic IP
    /// of the subnet mapping): the internet gateway translates it to the node's `private_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<Ipv4Addr>,
    /// A dual-stack load balancer's node address in the subnet's IPv6 CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<Ipv6Addr>,
}

/// NLB listeners have a protocol and port; a GWLB's single listener has neither.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub target_group: String,
}

/// Load-balancer protocols (listeners and target groups).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Tcp,
    Udp,
    #[serde(rename = "TCP_UDP")]
    TcpUdp,
    Tls,
    Geneve,
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::TcpUdp => "TCP_UDP",
            Protocol::Tls => "TLS",
            Protocol::Geneve => "GENEVE",
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub vpc: String,
    /// TCP/UDP/TCP_UDP/TLS for NLB, GENEVE (port 6081) for GWLB.
    pub protocol: Protocol,
    pub port: u16,
    #[serde(default)]
    pub targets: Vec<Target>,
    #[serde(default)]
    pub health_check: HealthCheck,
    /// Cross-zone setting of the target group; absent = use the load balancer's setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_zone: Option<bool>,
    /// TCP target groups of an NLB: send the PROXY protocol v2 header with the PrivateLink TLV.
    #[serde(default)]
    pub proxy_protocol_v2: bool,
    /// GENEVE target groups: flow stickiness.
    #[serde(default)]
    pub stickiness: Stickiness,
    /// GENEVE target groups: what happens to existing flows when an appliance fails.
    #[serde(default)]
    pub failover: Failover,
    /// Idle timeout of TCP flows in seconds (AWS: 350; GWLB allows 60 to 6000).
    #[serde(default = "default_tcp_idle")]
    pub tcp_idle_timeout: u32,
    /// Client IP preservation (AWS attribute `preserve_client_ip.enabled`) for the load
    /// balancer's own clients: absent = AWS's default — on for instance targets and for UDP
    /// groups, off for IP targets of TCP and TLS groups. PrivateLink traffic never has it
    /// (AWS: the source is the load balancer's address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_client_ip: Option<bool>,
    /// Target group health requirements (AWS: `target_group_health.unhealthy_state_routing`):
    /// the routing failover thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_requirements: Option<HealthRequirements>,
    /// `ipv4` (default) or `ipv6`: the family of its targets' addresses, and so the family the
    /// load balancer speaks to them in, whatever the client's (AWS: "The Network Load Balancer
    /// communicates with targets based on the IP address type of the target group"). IPv6
    /// groups take IP targets only, behind TCP or TLS listeners of dual-stack NLBs.
    #[serde(default, skip_serializing_if = "IpAddressType::is_ipv4")]
    pub ip_address_type: IpAddressType,
    /// `target_health_state.unhealthy.connection_termination.enabled` (AWS default: on): when
    /// a target turns unhealthy, the load balancer answers packets of its clients' existing
    /// TCP connections with a RST — unless the group fails open.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub unhealthy_connection_termination: bool,
    /// `target_health_state.unhealthy.draining_interval_seconds` (0–360000; only with
    /// termination off): the target is `unhealthy.draining` that long — no new flows, its
    /// connections kept — and its connections are terminated after.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unhealthy_draining_interval: u32,
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// When a load balancer stops trusting health checks and sends to every target (AWS, "Target
/// group health": "routing failover"). The thresholds apply per Availability Zone when
/// cross-zone load balancing is off, to the whole group when it is on; when the healthy targets
/// there fall below either, the load balancer routes to all the targets there, healthy or not.
/// Without requirements, AWS's default: only a group with no healthy target anywhere fails
/// open.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HealthRequirements {
    /// `unhealthy_state_routing.minimum_healthy_targets.count` (1 or more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_healthy_targets: Option<u32>,
    /// `unhealthy_state_routing.minimum_healthy_targets.percentage` (1–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_healthy_percentage: Option<u8>,
}

impl HealthRequirements {
    /// How many of `total` targets must be healthy: the higher of the two thresholds (a
    /// percentage rounds up).
    pub fn minimum(&self, total: u32) -> u32 {
        let by_pct = self
            .minimum_healthy_percentage
            .map_or(0, |p| (u32::from(p) * total).div_ceil(100));
        self.minimum_healthy_targets.unwrap_or(0).max(by_pct)
    }
}

fn default_tcp_idle() -> u32 {
    350
}

/// A registered target: an instance (by id) or an IP address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Target {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Defaults to the target group's port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    #[serde(default = "HealthCheck::default_protocol")]
    pub protocol: HealthCheckProtocol,
    /// Port to probe; absent = the traffic port (for GENEVE target groups AWS uses 80).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// HTTP/HTTPS only, e.g. `/index.html`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default = "HealthCheck::default_threshold")]
    pub healthy_threshold: u8,
    #[serde(default = "HealthCheck::default_threshold")]
    pub unhealthy_threshold: u8,
    #[serde(default = "HealthCheck::default_interval")]
    pub interval_seconds: u16,
    #[serde(default = "HealthCheck::default_timeout")]
    pub timeout_seconds: u16,
}

impl HealthCheck {
    fn default_protocol() -> HealthCheckProtocol {
        HealthCheckProtocol::Tcp
    }
    fn default_threshold() -> u8 {
        3
    }
    fn default_interval() -> u16 {
        30
    }
    fn default_timeout() -> u16 {
        10
    }
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            protocol: Self::default_protocol(),
            port: None,
            path: None,
            healthy_threshold: Self::default_threshold(),
            unhealthy_threshold: Self::default_threshold(),
            interval_seconds: Self::default_interval(),
            timeout_seconds: Self::default_timeout(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum HealthCheckProtocol {
    Tcp,
    Http,
    Https,
}

/// GWLB flow stickiness.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum Stickiness {
    /// Source and destination address and port, protocol (default).
    #[default]
    #[serde(rename = "5-tuple")]
    FiveTuple,
    /// Source and destination address, protocol.
    #[serde(rename = "3-tuple")]
    ThreeTuple,
    /// Source and destination address.
    #[serde(rename = "2-tuple")]
    TwoTuple,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Failover {
    #[serde(default)]
    pub on_unhealthy: FailoverAction,
    #[serde(default)]
    pub on_deregistration: FailoverAction,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FailoverAction {
    /// Existing flows stay on their appliance (AWS default).
    #[default]
    NoRebalance,
    /// Existing flows move to a healthy appliance.
    Rebalance,
}

/// A private hosted zone associated with VPCs.
///
/// Both private-DNS styles are plain records here: AWS's wildcard (`*` in zone
/// `s3.us-east-1.amazonaws.com`, aliased to an interface endpoint) and Azure's
/// `privatelink.` zone that the public per-resource CNAME points into.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HostedZone {
    pub id: String,
    /// Zone apex, e.g. `privatelink.blob.core.windows.net`.
    pub name: String,
    pub vpcs: Vec<String>,
    #[serde(default)]
    pub records: Vec<DnsRecord>,
}

/// A Route 53 Resolver endpoint: ENIs in a VPC through which the VPC's resolver is reached
/// from outside (`inbound`: on-premises queries get the VPC's private view) or reaches out
/// (`outbound`: forwarding rules send queries from these addresses).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ResolverEndpoint {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub direction: ResolverDirection,
    pub vpc: String,
    /// One address per ENI (AWS asks for two or more, in different zones, for availability).
    pub ip_addresses: Vec<ResolverAddress>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ResolverDirection {
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ResolverAddress {
    pub subnet: String,
    pub ip: Ipv4Addr,
}

/// A Resolver rule, associated with VPCs: `forward` sends queries for `domain` (and its
/// subdomains) to `target_ips` through an outbound endpoint; `system` answers them as the
/// resolver otherwise would (it overrides a forward rule of a parent domain).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ResolverRule {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub domain: String,
    pub rule_type: ResolverRuleType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver_endpoint: Option<String>,
    /// DNS servers (port 53) the queries go to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_ips: Vec<IpAddr>,
    /// VPCs the rule is associated with (shared rules associated in other accounts' VPCs too).
    pub vpcs: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ResolverRuleType {
    Forward,
    System,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DnsRecord {
    /// Relative to the zone (`zennprivatelink`, `*`, `@` for the apex) or absolute (ending `.`).
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: RecordType,
    /// A/AAAA: addresses; CNAME: one name. Empty for an alias record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Alias to an interface endpoint (`vpce-…`): answers its ENI addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias_endpoint: Option<String>,
    #[serde(default = "default_ttl")]
    pub ttl: u32,
}

fn default_ttl() -> u32 {
    60
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum RecordType {
    A,
    AAAA,
    CNAME,
}

impl Instance {
    /// The id of the instance's primary ENI.
    pub fn eni_id(&self) -> String {
        match &self.network_interface {
            Some(id) => id.clone(),
            None => format!("eni-{}", self.id.strip_prefix("i-").unwrap_or(&self.id)),
        }
    }
}

impl Endpoint {
    /// The records its DNS names get: `dns_record_ip_type`, else the endpoint's address type.
    pub fn dns_records(&self) -> DnsRecordIpType {
        self.dns_record_ip_type
            .unwrap_or(match self.ip_address_type {
                IpAddressType::Ipv4 => DnsRecordIpType::Ipv4,
                IpAddressType::Dualstack => DnsRecordIpType::Dualstack,
                IpAddressType::Ipv6 => DnsRecordIpType::Ipv6,
            })
    }

    /// The id of the endpoint's `index`-th ENI.
    pub fn eni_id(&self, index: usize) -> String {
        match self
            .network_interfaces
            .get(index)
            .and_then(|n| n.id.clone())
        {
            Some(id) => id,
            None => format!(
                "eni-{}-{index}",
                self.id.strip_prefix("vpce-").unwrap_or(&self.id)
            ),
        }
    }
}

impl AwsService {
    /// The prefix lists a gateway endpoint to this service routes (IPv4, then IPv6).
    pub fn gateway_prefix_lists(&self) -> impl Iterator<Item = &str> {
        self.prefix_list
            .iter()
            .chain(self.ipv6_prefix_list.iter())
            .map(String::as_str)
    }
}

impl Config {
    /// The ids of the entities of `collection` in file order (AWS services: their names).
    pub fn ids(&self, collection: Collection) -> Box<dyn Iterator<Item = &str> + '_> {
        fn of<T>(v: &[T], id: fn(&T) -> &str) -> Box<dyn Iterator<Item = &str> + '_> {
            Box::new(v.iter().map(id))
        }
        match collection {
            Collection::Vpcs => of(&self.vpcs, |x| &x.id),
            Collection::Subnets => of(&self.subnets, |x| &x.id),
            Collection::RouteTables => of(&self.route_tables, |x| &x.id),
            Collection::PrefixLists => of(&self.prefix_lists, |x| &x.id),
            Collection::InternetGateways => of(&self.internet_gateways, |x| &x.id),
            Collection::NatGateways => of(&self.nat_gateways, |x| &x.id),
            Collection::PeeringConnections => of(&self.peering_connections, |x| &x.id),
            Collection::VpnGateways => of(&self.vpn_gateways, |x| &x.id),
            Collection::TransitGateways => of(&self.transit_gateways, |x| &x.id),
            Collection::TransitGatewayAttachments => {
                of(&self.transit_gateway_attachments, |x| &x.id)
            }
            Collection::TransitGatewayRouteTables => {
                of(&self.transit_gateway_route_tables, |x| &x.id)
            }
            Collection::OnPremises => of(&self.on_premises, |x| &x.id),
            Collection::VpnConnections => of(&self.vpn_connections, |x| &x.id),
            Collection::DirectConnectGateways => of(&self.direct_connect_gateways, |x| &x.id),
            Collection::SecurityGroups => of(&self.security_groups, |x| &x.id),
            Collection::NetworkAcls => of(&self.network_acls, |x| &x.id),
            Collection::Instances => of(&self.instances, |x| &x.id),
            Collection::NetworkInterfaces => of(&self.network_interfaces, |x| &x.id),
            Collection::Endpoints => of(&self.endpoints, |x| &x.id),
            Collection::EndpointServices => of(&self.endpoint_services, |x| &x.id),
            Collection::LoadBalancers => of(&self.load_balancers, |x| &x.id),
            Collection::TargetGroups => of(&self.target_groups, |x| &x.id),
            Collection::HostedZones => of(&self.hosted_zones, |x| &x.id),
            Collection::ResolverRules => of(&self.resolver_rules, |x| &x.id),
            Collection::ResolverEndpoints => of(&self.resolver_endpoints, |x| &x.id),
            Collection::AwsServices => of(&self.aws_services, |x| &x.name),
            Collection::S3Buckets => of(&self.s3_buckets, |x| &x.name),
        }
    }

    /// The state of an endpoint's connection to its service, as AWS reports it: the state
    /// recorded on the endpoint service if there is one; otherwise `pendingAcceptance` when the
    /// service requires acceptance, else `available` (gateway endpoints and AWS services are
    /// always `available`).
    pub fn connection_state(&self, e: &Endpoint) -> ConnectionState {
        if e.endpoint_type == EndpointType::Gateway {
            return ConnectionState::Available;
        }
        match self
            .endpoint_services
            .iter()
            .find(|s| s.service_name(&self.region) == e.service)
        {
            Some(s) if s.refuses(e).is_some() => ConnectionState::Rejected,
            Some(s) => match s.connections.iter().find(|k| k.endpoint == e.id) {
                Some(conn) => conn.state,
                None if s.acceptance_required => ConnectionState::PendingAcceptance,
                None => ConnectionState::Available,
            },
            None => ConnectionState::Available,
        }
    }

    /// Why endpoint `e`'s connection request is refused by its service's allowed principals,
    /// if it is.
    pub fn connection_refusal(&self, e: &Endpoint) -> Option<String> {
        self.endpoint_services
            .iter()
            .find(|s| s.service_name(&self.region) == e.service)?
            .refuses(e)
    }
}

impl EndpointService {
    /// Why the service refuses endpoint `e`'s connection request: an endpoint that names its
    /// `principal` may connect only when `allowed_principals` has `*`, that principal's ARN
    /// (patterns allowed) or its account (id or root ARN) — AWS: consumers must be allowed
    /// principals to find and connect to the service. Endpoints naming no principal are not
    /// checked.
    pub fn refuses(&self, e: &Endpoint) -> Option<String> {
        let p = e.principal.as_deref()?;
        if crate::arn::principal_allowed(&self.allowed_principals, p) {
            return None;
        }
        Some(if self.allowed_principals.is_empty() {
            format!("{} allows no principals, so {p}'s request from {} is rejected; add it to allowed_principals", self.id, e.id)
        } else {
            format!("{p} (of {}) is not among {}'s allowed principals ({}); add it, its account's root ARN, or *", e.id, self.id, self.allowed_principals.join(", "))
        })
    }

    /// The service name consumers put in an endpoint's `service`.
    pub fn service_name(&self, region: &str) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => format!("com.amazonaws.vpce.{region}.{}", self.id),
        }
    }
}

/// Where a route sends traffic, as parsed from [`Route::target`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetRef<'a> {
    Local,
    Blackhole,
    InternetGateway(&'a str),
    NatGateway(&'a str),
    /// A VPC endpoint; in a route table only Gateway Load Balancer endpoints are valid, and
    /// gateway endpoints appear through their route-table association.
    Endpoint(&'a str),
    NetworkInterface(&'a str),
    PeeringConnection(&'a str),
    VpnGateway(&'a str),
    TransitGateway(&'a str),
}

/// The target forms, for messages.
pub const TARGET_FORMS: &str =
    "local, blackhole, igw-…, nat-…, vpce-… (Gateway Load Balancer endpoint), eni-…, pcx-…, vgw-…, tgw-…";

impl<'a> TargetRef<'a> {
    pub fn parse(s: &'a str) -> Result<TargetRef<'a>, String> {
        let t = match s {
            "local" => TargetRef::Local,
            "blackhole" => TargetRef::Blackhole,
            _ if s.starts_with("igw-") => TargetRef::InternetGateway(s),
            _ if s.starts_with("nat-") => TargetRef::NatGateway(s),
            _ if s.starts_with("vpce-svc-") => {
                return Err(format!(
                "`{s}` is an endpoint service; a route targets an endpoint (vpce-…) in its own VPC"
            ))
            }
            _ if s.starts_with("vpce-") => TargetRef::Endpoint(s),
            _ if s.starts_with("eni-") => TargetRef::NetworkInterface(s),
            _ if s.starts_with("pcx-") => TargetRef::PeeringConnection(s),
            _ if s.starts_with("vgw-") => TargetRef::VpnGateway(s),
            _ if s.starts_with("tgw-attach-") || s.starts_with("tgw-rtb-") => {
                return Err(format!(
                    "`{s}` is part of a transit gateway; a VPC route targets the transit gateway itself (tgw-…)"
                ))
            }
            _ if s.starts_with("tgw-") => TargetRef::TransitGateway(s),
            _ => return Err(format!("`{s}` is not a route target")),
        };
        Ok(t)
    }

    /// The id of the target resource, if it has one.
    pub fn id(&self) -> Option<&'a str> {
        match *self {
            TargetRef::Local | TargetRef::Blackhole => None,
            TargetRef::InternetGateway(s)
            | TargetRef::NatGateway(s)
            | TargetRef::Endpoint(s)
            | TargetRef::NetworkInterface(s)
            | TargetRef::PeeringConnection(s)
            | TargetRef::VpnGateway(s)
            | TargetRef::TransitGateway(s) => Some(s),
        }
    }
}

/// A route destination, as parsed from [`Route::destination`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DestinationRef<'a> {
    Cidr(Cidr),
    PrefixList(&'a str),
}

impl<'a> DestinationRef<'a> {
    pub fn parse(s: &'a str) -> Result<DestinationRef<'a>, String> {
        if s.starts_with("pl-") {
            Ok(DestinationRef::PrefixList(s))
        } else {
            s.parse::<Cidr>().map(DestinationRef::Cidr).map_err(|e| {
                format!("{e}; a destination is a CIDR (0.0.0.0/0, 2001:db8::/32) or a prefix list (pl-…)")
            })
        }
    }
}

/// Declares [`Collection`] from one table: variant, TOML key, singular name, id prefix.
macro_rules! collections {
    ($($variant:ident $key:literal $name:literal $prefix:literal;)*) => {
        /// A top-level collection of the configuration (`[[vpcs]]`, `[[route_tables]]`…): what
        /// diagnostics name and validation indexes ids by.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Collection {
            $($variant,)*
        }

        impl Collection {
            /// Every collection, in the order ids are indexed.
            pub const ALL: &'static [Collection] = &[$(Collection::$variant,)*];

            /// The collection's key in the TOML file (`route_tables`).
            pub const fn key(self) -> &'static str {
                match self {
                    $(Collection::$variant => $key,)*
                }
            }

            /// Singular human name (`route table`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Collection::$variant => $name,)*
                }
            }

            /// The AWS prefix of the collection's ids (`rtb-`); empty: any id (names, ARNs).
            pub const fn id_prefix(self) -> &'static str {
                match self {
                    $(Collection::$variant => $prefix,)*
                }
            }

            /// The collection with TOML key `key`.
            pub fn from_key(key: &str) -> Option<Collection> {
                match key {
                    $($key => Some(Collection::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

collections! {
    Vpcs "vpcs" "vpc" "vpc-";
    Subnets "subnets" "subnet" "subnet-";
    RouteTables "route_tables" "route table" "rtb-";
    PrefixLists "prefix_lists" "prefix list" "pl-";
    InternetGateways "internet_gateways" "internet gateway" "igw-";
    NatGateways "nat_gateways" "NAT gateway" "nat-";
    PeeringConnections "peering_connections" "peering connection" "pcx-";
    VpnGateways "vpn_gateways" "virtual private gateway" "vgw-";
    TransitGatewayRouteTables "transit_gateway_route_tables" "transit gateway route table" "tgw-rtb-";
    TransitGatewayAttachments "transit_gateway_attachments" "transit gateway attachment" "tgw-attach-";
    TransitGateways "transit_gateways" "transit gateway" "tgw-";
    OnPremises "on_premises" "on-premises network" "";
    VpnConnections "vpn_connections" "VPN connection" "vpn-";
    DirectConnectGateways "direct_connect_gateways" "Direct Connect gateway" "";
    SecurityGroups "security_groups" "security group" "sg-";
    NetworkAcls "network_acls" "network ACL" "acl-";
    Instances "instances" "instance" "i-";
    NetworkInterfaces "network_interfaces" "network interface" "eni-";
    Endpoints "endpoints" "endpoint" "vpce-";
    EndpointServices "endpoint_services" "endpoint service" "vpce-svc-";
    LoadBalancers "load_balancers" "load balancer" "";
    TargetGroups "target_groups" "target group" "";
    HostedZones "hosted_zones" "hosted zone" "";
    ResolverRules "resolver_rules" "Resolver rule" "rslvr-rr-";
    ResolverEndpoints "resolver_endpoints" "Resolver endpoint" "rslvr-";
    AwsServices "aws_services" "AWS service" "";
    S3Buckets "s3_buckets" "S3 bucket" "";
}

/// Singular human name of a top-level collection by its TOML key (`route_tables` → `route
/// table`); `entry` for any other key.
pub fn kind_name(collection: &str) -> &'static str {
    Collection::from_key(collection).map_or("entry", Collection::name)
}
