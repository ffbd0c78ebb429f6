//! Why a traced packet was dropped: a Reachability-Analyzer-style code (`DropReason::code`,
//! refined for GWLB appliances) and a sentence naming what to change, from the steps the
//! pipeline recorded. One function per path family.

use super::*;
use crate::fabric::{GwlbEndpoint, InterfaceEndpoint, LoadBalancer, TargetGroup};

/// What the recorded steps say about the drop: the last route lookup and denying security
/// group, and the endpoint, load balancer and appliances the packet reached.
struct Context<'f> {
    f: &'f Fabric,
    q: &'f Question,
    last_route: Option<(u32, Option<usize>, IpAddr)>,
    last_sg: Option<(u32, Direction)>,
    /// The last transit gateway attachment entered (attachment, zone) and route table asked
    /// (table, destination, route).
    last_tgw: Option<(u32, Option<u16>)>,
    last_tgw_route: Option<(u32, IpAddr, Option<usize>)>,
    /// The last network ACL that denied: (subnet, acl, direction, remote, rule, what).
    last_acl: Option<(u32, u32, Direction, IpAddr, Option<u16>, String)>,
    endpoint: Option<&'f InterfaceEndpoint>,
    lb: Option<(&'f LoadBalancer, u32)>,
    gwlb: Option<&'f GwlbEndpoint>,
    appliances: Option<(&'f LoadBalancer, &'f TargetGroup)>,
    endpoint_id: Option<&'f str>,
    what: String,
}

impl Context<'_> {
    /// Transit gateway drops: the zone without an attachment subnet, the attachment without an
    /// association, the route table without a route (and, when an attachment owns the
    /// destination but does not propagate to the table, that it is not propagated), the
    /// blackhole, the loop.
    fn transit(&self, r: DropReason) -> (&'static str, String) {
        let f = self.f;
        let c = &f.snapshot.config;
        let att = self.last_tgw.map(|(a, _)| &f.tgw_attachments[a as usize]);
        let att_id = att.map_or("?", |a| a.id.as_str());
        let table = self
            .last_tgw_route
            .map(|(t, _, _)| f.snapshot.transit.tables[t as usize].id.clone())
            .unwrap_or_default();
        match r {
            DropReason::TgwNotInZone => {
                let az = self
                    .last_tgw
                    .and_then(|(_, z)| z)
                    .map_or("?", |z| f.zones[z as usize].as_str());
                (r.code(), format!("{att_id} has no subnet in {az}, where the source is: AWS lets no resource in a zone without an attachment subnet reach the transit gateway; add a subnet in {az} to the attachment"))
            }
            DropReason::TgwNotAssociated => (r.code(), format!("{att_id} is associated with no transit gateway route table, so the transit gateway drops what enters through it; set its association")),
            DropReason::TgwNoRoute => {
                let dst = self.last_tgw_route.map_or(self.q.dst, |(_, d, _)| d);
                // An attachment that holds the destination but does not propagate here.
                let owner = c.transit_gateway_attachments.iter().find(|a| {
                    control::transit::propagated(c, a).iter().any(|n| n.contains(&dst))
                        && !a.propagations.contains(&table)
                });
                match owner {
                    Some(a) => ("TRANSIT_GATEWAY_ROUTE_NOT_PROPAGATED", format!("{table} has no route to {dst}: {} holds it but does not propagate to {table}; add {table} to its propagations, or a static route", a.id)),
                    None => (r.code(), format!("{table} has no route covering {dst}; add a static route or a propagation")),
                }
            }
            DropReason::TgwBlackhole => (r.code(), format!("the route in {table} for {} is a blackhole", self.last_tgw_route.map_or(self.q.dst, |(_, d, _)| d))),
            _ => (r.code(), format!("the packet would cross a transit gateway again (after leaving through a VPC whose route sends it back, or round peered transit gateways: at most {} in a row); fix the routes", crate::pipeline::MAX_TGW_HOPS)),
        }
    }

    /// A data centre's destination that no Direct Connect gateway advertises to it.
    fn direct_connect(&self, r: DropReason) -> (&'static str, String) {
        let f = self.f;
        let c = &f.snapshot.config;
        let Some(o) = f
            .on_prem
            .iter()
            .find(|o| o.cidrs.iter().any(|n| n.contains(&self.q.src)))
        else {
            return (
                r.code(),
                "no Direct Connect gateway advertises the destination".into(),
            );
        };
        let mut allowed: Vec<String> = o.dx.iter().map(|d| d.prefix.to_string()).collect();
        allowed.dedup();
        let gateways: Vec<String> = c
            .direct_connect_gateways
            .iter()
            .enumerate()
            .filter(|(_, g)| g.on_premises.contains(&o.id))
            .map(|(i, _)| super::describe::dx_label(c, i as u32))
            .collect();
        (r.code(), format!("{} reaches AWS only over Direct Connect ({}), whose associations advertise {} and not {}: the data centre has no route there; add it to the association's allowed prefixes", o.id, gateways.join(", "), allowed.join(", "), self.q.dst))
    }

    /// A network ACL's deny: which ACL, subnet, direction and rule, and what to change.
    /// Stateless, so a denied reply is the usual cause: say so.
    fn network_acl(&self, r: DropReason) -> (&'static str, String) {
        let Some((subnet, acl, dir, remote, rule, what)) = &self.last_acl else {
            return (r.code(), "a network ACL denies the packet".into());
        };
        let f = self.f;
        let (edge, side) = match *dir {
            Direction::Ingress => ("entering", "from"),
            Direction::Egress => ("leaving", "to"),
        };
        let which = format!(
            "network ACL {} of {} denies {} {edge} the subnet {side} {remote}",
            f.snapshot.nacls.acls[*acl as usize].id, f.subnets[*subnet as usize].id, what,
        );
        let fix = match rule {
            Some(_) => format!(
                "{} matches first; allow it with a lower-numbered rule, or narrow the deny",
                super::describe::acl_rule_label(f, *acl, *dir, *rule)
            ),
            None => format!(
                "no rule matches, so the final * rule denies; add an {} allow rule (network ACLs are stateless: replies need their own rule, e.g. tcp 1024-65535 for the ephemeral ports clients use)",
                if *dir == Direction::Ingress { "inbound" } else { "outbound" }
            ),
        };
        (r.code(), format!("{which}: {fix}"))
    }

    fn table(&self, t: u32) -> String {
        self.f.snapshot.route_tables[t as usize].id.clone()
    }
}

/// The code and the sentence for a drop.
pub(super) fn explain(f: &Fabric, r: DropReason, rec: &Recorder, q: &Question) -> Blocked {
    let cx = context(f, &rec.steps, q);
    let (code, explanation) = match r {
        DropReason::SourceDestCheck => cx.vpc(r),
        DropReason::NoRoute => cx.vpc(r),
        DropReason::BlackholeRoute => cx.vpc(r),
        DropReason::NoSuchAddress => cx.vpc(r),
        DropReason::NoPublicAddress => cx.internet(r),
        DropReason::UnknownPublicAddress => cx.internet(r),
        DropReason::EndpointPolicy => cx.gateway_endpoint(r),
        DropReason::NoReturnPath => cx.gateway_endpoint(r),
        DropReason::SecurityGroupIngress | DropReason::SecurityGroupEgress => cx.vpc(r),
        DropReason::NetworkAclIngress | DropReason::NetworkAclEgress => cx.network_acl(r),
        DropReason::TgwNotInZone
        | DropReason::TgwNotAssociated
        | DropReason::TgwNoRoute
        | DropReason::TgwBlackhole
        | DropReason::TgwRouteLoop => cx.transit(r),
        DropReason::DirectConnectNotAdvertised => cx.direct_connect(r),
        DropReason::LoadBalancerSecurityGroup => cx.privatelink(r),
        DropReason::EndpointConnectionNotAccepted => cx.privatelink(r),
        DropReason::EndpointConnectionRejected => cx.privatelink(r),
        DropReason::EndpointServiceNotFound => cx.privatelink(r),
        DropReason::EndpointProtocol => cx.privatelink(r),
        DropReason::NoListener => cx.privatelink(r),
        DropReason::LoadBalancerNotInZone => cx.privatelink(r),
        DropReason::NoHealthyTargetInZone if cx.appliances.is_some() => cx.gwlb(r),
        DropReason::NoHealthyTarget if cx.appliances.is_some() => cx.gwlb(r),
        DropReason::NoHealthyTargetInZone => cx.privatelink(r),
        DropReason::NoHealthyTarget => cx.privatelink(r),
        DropReason::NatPortsExhausted => cx.privatelink(r),
        DropReason::FlowTableFull => cx.flows(r),
        DropReason::FlowQuotaExceeded => cx.flows(r),
        DropReason::FragmentOverlap => cx.flows(r),
        DropReason::FragmentOutOfOrder => cx.flows(r),
        DropReason::Malformed(crate::wire::WireError::TinyFragment) => cx.flows(r),
        DropReason::NoFlow => cx.privatelink(r),
        DropReason::ProxyProtocolNoRoom | DropReason::AddressFamily => cx.privatelink(r),
        DropReason::UnhealthyTargetReset => (
            r.code(),
            "the connection's target turned unhealthy: the load balancer answers the client's packets with a TCP RST (AWS: unhealthy target connection termination, unless the group fails open); set unhealthy_connection_termination = false and an unhealthy_draining_interval on the target group to let connections drain".into(),
        ),
        DropReason::ZoneDown => (
            r.code(),
            "the availability zone of this hop is down (a zone-failure drill: `vpcectl region fail-zone`, or `trace --zone-down`): nothing in the zone — instances' ENIs, endpoint ENIs, load-balancer nodes, the node serving it — takes or sends traffic, as in an AZ outage; health checks to its targets fail and DNS leaves its addresses out, so that clients that resolve names go to the surviving zones (AWS: an endpoint's regional DNS name answers its healthy ENIs only); `vpcectl region restore-zone` brings it back".into(),
        ),
        DropReason::LoadBalancerHairpin => (
            r.code(),
            "the load balancer chose the client itself as the target, and with client IP preservation on the target would see its own address as the source; AWS: \"NAT loopback, also known as hairpinning, is not supported when client IP preservation is enabled\" — turn preserve_client_ip off on the target group, or connect from another host".into(),
        ),
        DropReason::ResolverProtocol => cx.vpc(r),
        DropReason::GwlbMtuExceeded => cx.gwlb(r),
        DropReason::GeneveFragment => cx.gwlb(r),
        DropReason::GeneveMalformed => cx.gwlb(r),
        DropReason::GwlbUnknownFlow => cx.gwlb(r),
        DropReason::GwlbRouteLoop => cx.gwlb(r),
        DropReason::LocalServiceBusy => cx.vpc(r),
        DropReason::NotRoutable => cx.vpc(r),
        DropReason::Unsupported(_) => cx.vpc(r),
        DropReason::Malformed(_) | DropReason::EgressError => cx.vpc(r),
    };
    Blocked {
        code: code.into(),
        drop_reason: r.as_str().into(),
        explanation,
    }
}

/// What the steps recorded before the drop say.
fn context<'f>(f: &'f Fabric, steps: &[Step], q: &'f Question) -> Context<'f> {
    let last_route = steps.iter().rev().find_map(|s| match *s {
        Step::RouteLookup {
            table: t,
            route,
            destination: dst,
        } => Some((t, route, dst)),
        _ => None,
    });
    let last_sg = steps.iter().rev().find_map(|s| match *s {
        Step::SecurityGroup {
            set,
            direction: dir,
            outcome: SgOutcome::Denied,
            ..
        } => Some((set, dir)),
        Step::LoadBalancerSecurityGroup {
            set,
            outcome: SgOutcome::Denied,
            ..
        } => Some((set, Direction::Ingress)),
        _ => None,
    });
    let last_tgw = steps.iter().rev().find_map(|s| match *s {
        Step::TgwAttachment {
            attachment,
            az,
            entering: true,
        } => Some((attachment, az)),
        _ => None,
    });
    let last_tgw_route = steps.iter().rev().find_map(|s| match *s {
        Step::TgwRouteLookup {
            table,
            destination,
            route,
        } => Some((table, destination, route)),
        _ => None,
    });
    let last_acl = steps.iter().rev().find_map(|s| match *s {
        Step::NetworkAcl {
            subnet,
            acl,
            direction,
            remote,
            protocol,
            port,
            verdict,
        } if !verdict.allow => {
            let what = match protocol {
                6 => format!("tcp to port {port}"),
                17 => format!("udp to port {port}"),
                1 | 58 => "icmp".into(),
                n => format!("protocol {n}"),
            };
            Some((subnet, acl, direction, remote, verdict.rule, what))
        }
        _ => None,
    });
    let endpoint = steps.iter().rev().find_map(|s| match *s {
        Step::InterfaceEndpoint { eni: x, .. } => {
            Some(&f.endpoints[f.endpoint_enis[x as usize].endpoint as usize])
        }
        _ => None,
    });
    let lb = steps.iter().rev().find_map(|s| match *s {
        Step::Listener {
            load_balancer: lb,
            target_group: tg,
            ..
        } => Some((&f.load_balancers[lb as usize], tg)),
        _ => None,
    });
    let gwlb = steps.iter().rev().find_map(|s| match *s {
        Step::GwlbEndpoint { endpoint: g, .. } => Some(&f.gwlb_endpoints[g as usize]),
        _ => None,
    });
    let appliances = steps.iter().rev().find_map(|s| match *s {
        Step::Appliance {
            target_group, node, ..
        } => Some((
            &f.load_balancers[f.lb_nodes[node as usize].lb as usize],
            &f.target_groups[target_group as usize],
        )),
        _ => None,
    });
    let endpoint_id = endpoint
        .map(|e| e.id.as_str())
        .or(gwlb.map(|g| g.id.as_str()));
    let what = protocol_label(q.protocol, q.port);
    Context {
        f,
        q,
        last_route,
        last_sg,
        last_tgw,
        last_tgw_route,
        last_acl,
        endpoint,
        lb,
        gwlb,
        appliances,
        endpoint_id,
        what,
    }
}

impl Context<'_> {
    /// Drops on the way every path takes: checks, security groups, routes, delivery, what is not forwarded.
    fn vpc(&self, r: DropReason) -> (&'static str, String) {
        let f = self.f;
        let q = self.q;
        let last_route = self.last_route;
        let last_sg = self.last_sg;
        let what = &self.what;
        match r {
            DropReason::SourceDestCheck => (
                r.code(),
                "the ENI only sends from its own addresses; send from one of them or turn its source/destination check off".to_string(),
            ),
            DropReason::NoRoute => (
                r.code(),
                match last_route {
                    Some((t, _, dst)) => format!("route table {} has no route covering {dst}; add one (to an internet gateway, an endpoint, a peering…)", self.table(t)),
                    None => "no route covers the destination".into(),
                },
            ),
            DropReason::BlackholeRoute => (
                r.code(),
                match last_route {
                    Some((t, Some(i), _)) => {
                        let rt = &f.snapshot.route_tables[t as usize];
                        format!("route {} in {} is a blackhole (its target is gone or it was written so); replace it", rt.routes[i].destination_label(), rt.id)
                    }
                    _ => "the route is a blackhole".into(),
                },
            ),
            DropReason::NoSuchAddress => (
                r.code(),
                // The address last routed: after a load balancer's rewrite, the target's.
                format!(
                    "nothing in the VPC owns {}; check the address",
                    last_route.map_or(q.dst, |(_, _, dst)| dst)
                ),
            ),
            DropReason::SecurityGroupIngress | DropReason::SecurityGroupEgress => {
                let dir = if r == DropReason::SecurityGroupIngress { "inbound" } else { "outbound" };
                let groups = last_sg.map(|(s, _)| groups_of(f, s)).unwrap_or_default();
                (
                    r.code(),
                    format!("no {dir} rule of {groups} allows {what} {} {}; add one", if dir == "inbound" { "from" } else { "to" }, if dir == "inbound" { q.src } else { q.dst }),
                )
            }
            DropReason::ResolverProtocol => (
                r.code(),
                "the resolver answers DNS on port 53, UDP or TCP".into(),
            ),
            DropReason::LocalServiceBusy => (
                r.code(),
                "the resolver (or health checker) is flooded and its queue is full; a configuration alone never gets here".into(),
            ),
            DropReason::NotRoutable => (
                r.code(),
                "multicast, broadcast, link-local and loopback addresses do not cross a VPC".into(),
            ),
            DropReason::Unsupported(crate::reasons::Unsupported::ClientIpPreservation) => (
                r.code(),
                "the chosen target would see the client's own address (client IP preservation: AWS's default for instance targets and UDP), but no network interface of this configuration holds the target's address, so its replies could not be brought back through the load balancer; set preserve_client_ip = false on the target group, or give the address to an interface".into(),
            ),
            DropReason::Unsupported(_) => (
                r.code(),
                "this build of vpced does not forward along this target yet".into(),
            ),
            DropReason::Malformed(_) | DropReason::EgressError => (
                r.code(),
                "the synthesized packet was refused; this is a bug".into(),
            ),
            _ => self.unexplained(r),
        }
    }

    /// The internet gateway.
    fn internet(&self, r: DropReason) -> (&'static str, String) {
        let q = self.q;
        match r {
            DropReason::NoPublicAddress => (
                r.code(),
                format!("{} has no public IPv4 address to leave through the internet gateway with; give the instance one, or route through a NAT gateway", q.src),
            ),
            DropReason::UnknownPublicAddress => (
                r.code(),
                format!("{} is not the public address of anything behind the internet gateway", q.dst),
            ),
            _ => self.unexplained(r),
        }
    }

    /// Gateway endpoints.
    fn gateway_endpoint(&self, r: DropReason) -> (&'static str, String) {
        let q = self.q;
        match r {
            DropReason::EndpointPolicy => (
                r.code(),
                format!(
                    "the gateway endpoint's policy does not allow {}; widen allowed_destinations",
                    q.dst
                ),
            ),
            DropReason::NoReturnPath => (
                r.code(),
                "the service network sent to an address no gateway endpoint of the service covers"
                    .into(),
            ),
            _ => self.unexplained(r),
        }
    }

    /// Interface endpoints and network load balancers.
    fn privatelink(&self, r: DropReason) -> (&'static str, String) {
        let f = self.f;
        let q = self.q;
        let last_sg = self.last_sg;
        let endpoint = self.endpoint;
        let lb = self.lb;
        let gwlb = self.gwlb;
        let endpoint_id = self.endpoint_id;
        let what = &self.what;
        match r {
            DropReason::LoadBalancerSecurityGroup => {
                let groups = last_sg.map(|(s, _)| groups_of(f, s)).unwrap_or_default();
                let name = lb.map(|(l, _)| l.id.clone()).unwrap_or_default();
                let why = if endpoint_id.is_none() {
                    format!("no inbound rule of {name}'s security groups ({groups}) allows {what} from its client {}: add one", q.src)
                } else {
                    format!("{name} enforces its security groups ({groups}) on PrivateLink traffic and no inbound rule allows {what} from the consumer's address {}: add one, or turn enforce_security_group_inbound_rules_on_private_link_traffic off (the endpoint's own groups then control access)", q.src)
                };
                (r.code(), why)
            }
            DropReason::EndpointConnectionNotAccepted => (
                r.code(),
                format!("the endpoint service has not accepted {}'s connection; accept it: vpcectl endpoint-connections accept {}", endpoint_id.unwrap_or("the endpoint"), endpoint_id.unwrap_or("vpce-…")),
            ),
            DropReason::EndpointConnectionRejected => {
                let c = &f.snapshot.config;
                let refusal = endpoint_id
                    .and_then(|id| c.endpoints.iter().find(|e| e.id == id))
                    .and_then(|e| c.connection_refusal(e));
                match refusal {
                    Some(why) => ("ENDPOINT_PRINCIPAL_NOT_ALLOWED", format!("the connection request was rejected: {why}")),
                    None => (
                        r.code(),
                        format!("{}'s connection is {}; the service must accept it again", endpoint_id.unwrap_or("the endpoint"), endpoint.map(|e| e.state).or(gwlb.map(|g| g.state)).map_or("rejected".to_string(), |s| s.to_string())),
                    ),
                }
            }
            DropReason::EndpointServiceNotFound => (
                r.code(),
                "the endpoint's service is not in this configuration".into(),
            ),
            DropReason::EndpointProtocol => (
                r.code(),
                "interface endpoints carry TCP and UDP only (they do not answer ping)".into(),
            ),
            DropReason::NoListener => (
                r.code(),
                format!("no listener of the service's load balancers takes {what}; add one or use a listener's port"),
            ),
            DropReason::LoadBalancerNotInZone => (
                r.code(),
                "the load balancer has no node in the endpoint ENI's availability zone; add a subnet mapping in that zone".into(),
            ),
            DropReason::NoHealthyTargetInZone => {
                let name = lb.map(|(l, _)| l.id.clone()).unwrap_or_default();
                let tg = lb.map(|(_, t)| f.target_groups[t as usize].id.clone()).unwrap_or_default();
                // The endpoint ENI's zone, or — for a client of the load balancer itself — the
                // zone of the node it addressed.
                let az = endpoint
                    .and_then(|e| f.endpoint_enis.iter().find(|x| f.endpoints[x.endpoint as usize].id == e.id))
                    .map(|x| x.az.clone())
                    .or_else(|| f.lb_nodes.iter().find(|n| IpAddr::V4(n.ip) == q.dst || n.ip6.map(IpAddr::V6) == Some(q.dst)).map(|n| n.az.clone()))
                    .unwrap_or_default();
                (
                    r.code(),
                    format!("{name}'s node in {az} has no healthy target of {tg} in its zone and cross-zone load balancing is off: turn cross_zone on (on the load balancer or the target group), or register a target in {az}"),
                )
            }
            DropReason::NoHealthyTarget => (
                r.code(),
                format!("no target of {} is healthy; check the targets and their health checks (vpcectl show target-health)", lb.map(|(_, t)| f.target_groups[t as usize].id.clone()).unwrap_or_default()),
            ),
            DropReason::NatPortsExhausted => (
                r.code(),
                "every source port tried on the load balancer node is taken".into(),
            ),
            DropReason::NoFlow => (
                r.code(),
                "the load balancer node only accepts packets of flows it translated".into(),
            ),
            DropReason::ProxyProtocolNoRoom => (
                r.code(),
                "no room to insert the PROXY protocol header into the segment".into(),
            ),
            DropReason::AddressFamily => (
                r.code(),
                "the load balancer cannot carry this packet between the client's address family and the target's: a target group of IPv6 targets needs a dualstack load balancer (and an endpoint to an AWS service needs a service address of the packet's family)".into(),
            ),
            _ => self.unexplained(r),
        }
    }

    /// Gateway Load Balancers and their appliances.
    fn gwlb(&self, r: DropReason) -> (&'static str, String) {
        let last_route = self.last_route;
        let gwlb = self.gwlb;
        let appliances = self.appliances;
        match r {
            DropReason::NoHealthyTargetInZone if appliances.is_some() => {
                let (lb, tg) = appliances.expect("checked");
                let az = gwlb.map(|g| g.az.clone()).unwrap_or_default();
                (
                    "GWLB_NO_HEALTHY_APPLIANCE_IN_ZONE",
                    format!("{}'s node in {az} has no healthy appliance of {} in its zone and cross-zone load balancing is off, so the zone's traffic is dropped: bring an appliance in {az} back (vpcectl show target-health), register one there, or turn cross_zone on", lb.id, tg.id),
                )
            }
            DropReason::NoHealthyTarget if appliances.is_some() => {
                let (lb, tg) = appliances.expect("checked");
                (
                    "GWLB_NO_HEALTHY_APPLIANCE",
                    format!("no appliance of {} behind {} is healthy; check the appliances and their health checks (vpcectl show target-health)", tg.id, lb.id),
                )
            }
            DropReason::GwlbMtuExceeded => (
                r.code(),
                format!("a Gateway Load Balancer carries packets of at most {} bytes inside GENEVE", crate::pipeline::GWLB_MTU),
            ),
            DropReason::GeneveFragment => (
                r.code(),
                "the appliance fragmented the GENEVE packet; the GWLB drops fragments (raise the appliance's MTU to 8500 + 68)".into(),
            ),
            DropReason::GeneveMalformed => (
                r.code(),
                "the GWLB node takes GENEVE on udp/6081 with AWS's options echoed, and health-check replies".into(),
            ),
            DropReason::GwlbUnknownFlow => (
                r.code(),
                "an appliance sent a flow the Gateway Load Balancer never sent it (appliances cannot start flows), or changed the flow cookie".into(),
            ),
            DropReason::GwlbRouteLoop => (
                r.code(),
                format!("the packet returned by the appliance is routed to a Gateway Load Balancer endpoint again by {}; the endpoint's subnet needs a route onward (local, an internet gateway…), not back to an endpoint", last_route.map(|(t, _, _)| self.table(t)).unwrap_or_default()),
            ),
            _ => self.unexplained(r),
        }
    }

    /// The flow and fragment tables.
    fn flows(&self, r: DropReason) -> (&'static str, String) {
        match r {
            DropReason::FlowTableFull => (
                r.code(),
                "the flow table is full; raise --max-flows".into(),
            ),
            DropReason::FlowQuotaExceeded => (
                r.code(),
                "this interface already tracks as many flows as one interface may (its connection-tracking allowance); raise --max-flows-per-eni or let idle flows expire".into(),
            ),
            DropReason::FragmentOverlap => (
                r.code(),
                "a fragment overlapped a part of its datagram already forwarded; the whole datagram is discarded (RFC 5722)".into(),
            ),
            DropReason::FragmentOutOfOrder => (
                r.code(),
                format!("a later fragment came before its datagram's first fragment, or more than {} s after it; only the first fragment carries the ports a security group judges, so later fragments follow it", crate::fragments::TIMEOUT),
            ),
            DropReason::Malformed(crate::wire::WireError::TinyFragment) => (
                r.code(),
                "a first fragment must hold the whole transport header (RFC 1858)".into(),
            ),
            _ => self.unexplained(r),
        }
    }

    /// A reason dispatched to a family that has no sentence for it (a bug in the dispatch).
    fn unexplained(&self, r: DropReason) -> (&'static str, String) {
        (r.code(), format!("dropped: {}", r.as_str()))
    }
}
