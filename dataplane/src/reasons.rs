//! The decision vocabulary: why a packet is dropped, declared once.
//!
//! Every [`DropReason`] is one row of the table below — its counter index (the position of its
//! counter in `stats`), its counter name (`vpcectl stats`, the Prometheus label) and its
//! Reachability-Analyzer-style code (`vpcectl trace`). The pipeline returns these, the
//! counters count them, trace explains them: all from this one table, so the three cannot
//! drift apart (trace's own copy of the codes once disagreed with the counters). The
//! [`Verdict`] a packet ends in, and the [`LocalService`] a local packet is for, are declared
//! here too: the pipeline returns them, the I/O layer and trace read them. A leaf module: it
//! knows only the wire layer's malformations.

use crate::wire::WireError;

/// Index of an attachment in `Fabric::attachments` (the fabric re-exports it).
pub type AttachmentIdx = u32;

/// What becomes of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send the first `len` bytes of the (possibly rewritten) buffer out of `egress`.
    Forward {
        egress: AttachmentIdx,
        len: usize,
    },
    /// Addressed to vpced itself: the first `len` bytes go to the health checker (a probe's
    /// reply) or the resolver (a query).
    Local {
        len: usize,
        service: LocalService,
    },
    Drop(DropReason),
    /// A superpacket (TUN segmentation offload) that this path cannot carry whole (GENEVE
    /// encapsulation; a PROXY header with no room left): the I/O layer splits it into
    /// segments with complete checksums and runs each through the pipeline again. Nothing of
    /// the path that asked for it has been done.
    Split,
}

/// Which part of vpced a local packet is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalService {
    HealthChecker,
    /// The resolver of `vpcs[i]`.
    Resolver(u32),
    /// An answer from the resolvers' upstream DNS server.
    ResolverUpstream,
}

/// Why a packet was dropped. Each is a counter (`vpcectl stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    Malformed(WireError),
    /// Multicast, broadcast, link-local, loopback or unspecified addresses: a VPC carries none
    /// of them (the stacks behind the attachments still try, e.g. IPv6 MLD reports).
    NotRoutable,
    /// An ENI with source/destination check on sent from an address not its own.
    SourceDestCheck,
    /// No route in the route table covers the destination.
    NoRoute,
    /// The route's target is `blackhole`.
    BlackholeRoute,
    /// `local` (or peering) route, but nothing in the VPC owns the destination address.
    NoSuchAddress,
    /// To the internet from an address with no public IPv4 address.
    NoPublicAddress,
    /// From the internet to an address that maps to no instance.
    UnknownPublicAddress,
    /// The gateway endpoint's policy does not allow the destination.
    EndpointPolicy,
    /// A service network sent to an address no gateway endpoint of the service covers.
    NoReturnPath,
    /// A path this build does not forward yet.
    Unsupported(Unsupported),
    /// The send to the egress device failed (queue full, device gone); counted by the I/O
    /// layer.
    EgressError,
    /// No inbound rule of the destination ENI's security groups allows a new flow.
    SecurityGroupIngress,
    /// No outbound rule of the source ENI's security groups allows a new flow.
    SecurityGroupEgress,
    /// The network ACL of the subnet the packet enters denies it (a deny rule, or no rule).
    NetworkAclIngress,
    /// The network ACL of the subnet the packet leaves denies it.
    NetworkAclEgress,
    /// The transit gateway attachment the packet enters by has no subnet in the source's
    /// availability zone (AWS: such resources cannot reach the transit gateway).
    TgwNotInZone,
    /// The attachment the packet enters by is associated with no transit gateway route table.
    TgwNotAssociated,
    /// No route of the transit gateway route table covers the destination.
    TgwNoRoute,
    /// The transit gateway route is a blackhole.
    TgwBlackhole,
    /// The packet would cross a transit gateway again (a routing loop), or peered transit
    /// gateways send it round.
    TgwRouteLoop,
    /// A data centre with Direct Connect and no VPN connection sends to a destination no
    /// allowed prefix of its Direct Connect gateway's associations covers (AWS advertises it
    /// no route there).
    DirectConnectNotAdvertised,
    /// The load balancer's security groups, enforced on PrivateLink traffic, allow no
    /// inbound flow from the consumer's address.
    LoadBalancerSecurityGroup,
    /// The endpoint's connection is `pendingAcceptance` (or `pending`): the service has not
    /// accepted it.
    EndpointConnectionNotAccepted,
    /// The endpoint's connection is rejected, expired, failed or deleted.
    EndpointConnectionRejected,
    /// The endpoint names a service this configuration does not have.
    EndpointServiceNotFound,
    /// Interface endpoints carry TCP and UDP, unfragmented.
    EndpointProtocol,
    /// No listener of the service's load balancers takes this protocol and port.
    NoListener,
    /// The load balancer has no node in the endpoint ENI's availability zone.
    LoadBalancerNotInZone,
    /// Cross-zone load balancing is off and the endpoint's zone has no healthy target (other
    /// zones have): AWS Reachability Analyzer's `ELB_NOT_CROSSZONE`.
    NoHealthyTargetInZone,
    /// No target of the target group is healthy.
    NoHealthyTarget,
    /// Every source port tried on the load balancer node is taken.
    NatPortsExhausted,
    /// The flow table is full: the new flow is not admitted (established flows go on).
    FlowTableFull,
    /// The zone (ENI, endpoint ENI, load-balancer node, GWLB endpoint) tracks as many flows
    /// as `--max-flows-per-eni` lets one zone hold, as an ENI's connection-tracking
    /// allowance does in AWS (`conntrack_allowance_exceeded`).
    FlowQuotaExceeded,
    /// A fragment overlapping a part of its datagram already seen (RFC 5722, RFC 1858): the
    /// datagram is discarded.
    FragmentOverlap,
    /// A later fragment whose datagram's first fragment is not tracked
    /// ([`crate::fragments`]).
    FragmentOutOfOrder,
    /// A packet to a load balancer node that belongs to no flow it carries.
    NoFlow,
    /// The resolver answers DNS on port 53 (UDP and TCP) only.
    ResolverProtocol,
    /// No room in the packet buffer to insert the PROXY protocol header.
    ProxyProtocolNoRoom,
    /// A packet a dual-stack load balancer cannot carry between its client's family and its
    /// target's: no node address of the target's family, or no room for IPv6's longer
    /// header; or an endpoint to an AWS service with no address of the packet's family.
    AddressFamily,
    /// A client of a load balancer sent to itself as the target with client IP preservation
    /// on: AWS does not support NAT loopback (hairpinning) then.
    LoadBalancerHairpin,
    /// A client's packet on a connection to a target that turned unhealthy: answered with a
    /// TCP RST (AWS's unhealthy connection termination), not forwarded.
    UnhealthyTargetReset,
    /// The availability zone this node serves is down (`vpcectl region fail-zone`, a drill of
    /// an AZ outage): it forwards nothing, answers nothing.
    ZoneDown,
    /// A packet bigger than a Gateway Load Balancer carries (8500 bytes inside GENEVE).
    GwlbMtuExceeded,
    /// A fragment from an appliance (GWLB drops them).
    GeneveFragment,
    /// A packet to a GWLB node that is not well-formed GENEVE as the GWLB speaks it (bad
    /// header, an unknown critical option, OAM, or not UDP 6081).
    GeneveMalformed,
    /// An appliance sent a packet of a flow the GWLB never sent it, or with the wrong cookie:
    /// appliances cannot start flows.
    GwlbUnknownFlow,
    /// A packet returned by an appliance is routed to a GWLB endpoint again.
    GwlbRouteLoop,
    /// The queue to the resolver or the health checker is full (a query flood): the packet is
    /// dropped, as a busy server's socket would drop it.
    LocalServiceBusy,
}

/// A path this build does not forward yet (a route target, or an address's owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unsupported {
    NatGateway,
    VpnGateway,
    /// An address owned by something vpced terminates itself (interface endpoint ENI, load
    /// balancer node, NAT gateway).
    VirtualInterface,
    /// A network interface that has no attachment.
    DetachedInterface,
    /// A load balancer's own client to a target that would keep the client's address but
    /// whose address no ENI of the configuration holds (its replies could not be caught).
    ClientIpPreservation,
}

/// The table: `index (reason) => "counter name", "TRACE_CODE";`, rows in index order.
macro_rules! vocabulary {
    ($($index:literal ($($reason:tt)+) => $name:literal, $code:literal;)+) => {
        impl DropReason {
            /// Every reason, in counter order.
            pub const ALL: [DropReason; REASONS] = [$($($reason)+),+];
            pub const COUNT: usize = REASONS;

            /// The reason's counter index.
            #[inline]
            pub fn index(self) -> usize {
                match self {
                    $($($reason)+ => $index,)+
                }
            }

            /// The counter's name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($($reason)+ => $name,)+
                }
            }

            /// The Reachability-Analyzer-style code `vpcectl trace` prints (trace refines two
            /// for Gateway Load Balancer appliances: `GWLB_NO_HEALTHY_APPLIANCE[_IN_ZONE]`).
            pub fn code(self) -> &'static str {
                match self {
                    $($($reason)+ => $code,)+
                }
            }
        }
    };
}

vocabulary! {
     0 (DropReason::Malformed(WireError::Truncated)) => "malformed_truncated", "INTERNAL";
     1 (DropReason::Malformed(WireError::BadVersion)) => "malformed_bad_ip_version", "INTERNAL";
     2 (DropReason::Malformed(WireError::BadHeaderLength)) => "malformed_bad_header_length", "INTERNAL";
     3 (DropReason::Malformed(WireError::BadTotalLength)) => "malformed_bad_total_length", "INTERNAL";
     4 (DropReason::Malformed(WireError::BadChecksum)) => "malformed_bad_header_checksum", "INTERNAL";
     5 (DropReason::Malformed(WireError::BadTransportHeader)) => "malformed_bad_transport_header", "INTERNAL";
     6 (DropReason::SourceDestCheck) => "source_dest_check", "SOURCE_DEST_CHECK";
     7 (DropReason::NoRoute) => "no_route", "NO_ROUTE_TO_DESTINATION";
     8 (DropReason::BlackholeRoute) => "blackhole_route", "BLACKHOLE_ROUTE";
     9 (DropReason::NoSuchAddress) => "no_such_address", "CANNOT_ROUTE";
    10 (DropReason::NoPublicAddress) => "no_public_address", "NO_PUBLIC_ADDRESS";
    11 (DropReason::UnknownPublicAddress) => "unknown_public_address", "NO_ROUTE_TO_DESTINATION";
    12 (DropReason::EndpointPolicy) => "endpoint_policy", "VPC_ENDPOINT_POLICY_DENIED";
    13 (DropReason::NoReturnPath) => "no_return_path", "NO_RETURN_PATH";
    14 (DropReason::Unsupported(Unsupported::NatGateway)) => "unsupported_nat_gateway", "NAT_GATEWAY_NOT_SUPPORTED";
    15 (DropReason::GwlbMtuExceeded) => "gwlb_mtu_exceeded", "GWLB_MTU_EXCEEDED";
    16 (DropReason::Unsupported(Unsupported::VpnGateway)) => "unsupported_vpn_gateway", "VPN_GATEWAY_NOT_SUPPORTED";
    17 (DropReason::Unsupported(Unsupported::VirtualInterface)) => "unsupported_virtual_interface", "VIRTUAL_INTERFACE_NOT_SUPPORTED";
    18 (DropReason::Unsupported(Unsupported::DetachedInterface)) => "unsupported_detached_interface", "DETACHED_INTERFACE";
    19 (DropReason::EgressError) => "egress_error", "INTERNAL";
    20 (DropReason::NotRoutable) => "not_routable", "NOT_ROUTABLE";
    21 (DropReason::SecurityGroupIngress) => "security_group_ingress", "SECURITY_GROUP_INGRESS_DENIED";
    22 (DropReason::SecurityGroupEgress) => "security_group_egress", "SECURITY_GROUP_EGRESS_DENIED";
    23 (DropReason::LoadBalancerSecurityGroup) => "load_balancer_security_group", "LOAD_BALANCER_SECURITY_GROUP_INGRESS_DENIED";
    24 (DropReason::EndpointConnectionNotAccepted) => "endpoint_connection_not_accepted", "ENDPOINT_CONNECTION_NOT_ACCEPTED";
    25 (DropReason::EndpointConnectionRejected) => "endpoint_connection_rejected", "ENDPOINT_CONNECTION_REJECTED";
    26 (DropReason::EndpointServiceNotFound) => "endpoint_service_not_found", "ENDPOINT_SERVICE_NOT_FOUND";
    27 (DropReason::EndpointProtocol) => "endpoint_protocol", "ENDPOINT_PROTOCOL_NOT_SUPPORTED";
    28 (DropReason::NoListener) => "no_listener", "ELB_NO_LISTENER";
    29 (DropReason::LoadBalancerNotInZone) => "load_balancer_not_in_zone", "ELB_NOT_IN_ZONE";
    30 (DropReason::NoHealthyTargetInZone) => "no_healthy_target_in_zone", "ELB_NOT_CROSSZONE";
    31 (DropReason::NoHealthyTarget) => "no_healthy_target", "TARGET_UNHEALTHY";
    32 (DropReason::NatPortsExhausted) => "nat_ports_exhausted", "NAT_PORTS_EXHAUSTED";
    33 (DropReason::FlowTableFull) => "flow_table_full", "FLOW_TABLE_FULL";
    34 (DropReason::NoFlow) => "no_flow", "NO_FLOW";
    35 (DropReason::ResolverProtocol) => "resolver_protocol", "RESOLVER_PROTOCOL";
    36 (DropReason::ProxyProtocolNoRoom) => "proxy_protocol_no_room", "PROXY_PROTOCOL_NO_ROOM";
    37 (DropReason::GeneveFragment) => "geneve_fragment", "GENEVE_FRAGMENT";
    38 (DropReason::GeneveMalformed) => "geneve_malformed", "GENEVE_MALFORMED";
    39 (DropReason::GwlbUnknownFlow) => "gwlb_unknown_flow", "GWLB_UNKNOWN_FLOW";
    40 (DropReason::GwlbRouteLoop) => "gwlb_route_loop", "GWLB_ROUTE_LOOP";
    41 (DropReason::LocalServiceBusy) => "local_service_busy", "LOCAL_SERVICE_BUSY";
    42 (DropReason::Malformed(WireError::TinyFragment)) => "fragment_tiny", "FRAGMENT_TINY";
    43 (DropReason::FragmentOverlap) => "fragment_overlap", "FRAGMENT_OVERLAP";
    44 (DropReason::FragmentOutOfOrder) => "fragment_out_of_order", "FRAGMENT_OUT_OF_ORDER";
    45 (DropReason::FlowQuotaExceeded) => "flow_quota_exceeded", "FLOW_QUOTA_EXCEEDED";
    46 (DropReason::NetworkAclIngress) => "network_acl_ingress", "NETWORK_ACL_INGRESS_DENIED";
    47 (DropReason::NetworkAclEgress) => "network_acl_egress", "NETWORK_ACL_EGRESS_DENIED";
    48 (DropReason::TgwNotInZone) => "tgw_attachment_not_in_zone", "TRANSIT_GATEWAY_ATTACHMENT_NOT_IN_ZONE";
    49 (DropReason::TgwNotAssociated) => "tgw_attachment_not_associated", "TRANSIT_GATEWAY_ATTACHMENT_NOT_ASSOCIATED";
    50 (DropReason::TgwNoRoute) => "tgw_no_route", "TRANSIT_GATEWAY_NO_ROUTE";
    51 (DropReason::TgwBlackhole) => "tgw_blackhole_route", "TRANSIT_GATEWAY_BLACKHOLE_ROUTE";
    52 (DropReason::TgwRouteLoop) => "tgw_route_loop", "TRANSIT_GATEWAY_ROUTE_LOOP";
    53 (DropReason::DirectConnectNotAdvertised) => "direct_connect_not_advertised", "DIRECT_CONNECT_PREFIX_NOT_ALLOWED";
    54 (DropReason::Unsupported(Unsupported::ClientIpPreservation)) => "unsupported_client_ip_preservation", "CLIENT_IP_PRESERVATION_NOT_SUPPORTED";
    55 (DropReason::AddressFamily) => "address_family", "ADDRESS_FAMILY_NOT_SUPPORTED";
    56 (DropReason::LoadBalancerHairpin) => "load_balancer_hairpin", "ELB_HAIRPIN_WITH_CLIENT_IP_PRESERVATION";
    57 (DropReason::UnhealthyTargetReset) => "unhealthy_target_reset", "ELB_TARGET_UNHEALTHY_RESET";
    58 (DropReason::ZoneDown) => "zone_down", "AVAILABILITY_ZONE_DOWN";
}

const REASONS: usize = 59;

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows are in index order, names and codes are well-formed, names unique.
    #[test]
    fn the_table_is_consistent() {
        let mut names = std::collections::HashSet::new();
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i, "{r:?}");
            assert!(names.insert(r.as_str()), "{} twice", r.as_str());
            assert!(r
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
            assert!(r
                .code()
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_'));
        }
    }
}
