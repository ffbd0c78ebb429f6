//! The hops a traced packet's steps show, one function per path family: what every path
//! crosses (checks, security groups, routes, delivery), the internet gateway, gateway
//! endpoints, PrivateLink, Gateway Load Balancers.

use super::*;

/// The hops one step of the pipeline shows: dispatched by path family.
pub(super) fn describe(f: &Fabric, s: &Step, q: &Question) -> Vec<Hop> {
    match *s {
        Step::SourceDestCheck { .. }
        | Step::SecurityGroup { .. }
        | Step::NetworkAcl { .. }
        | Step::RouteLookup { .. }
        | Step::Deliver { .. } => vpc_hops(f, s),
        Step::Translated { .. } => internet_hops(f, s),
        Step::GatewayEndpoint { .. } => gateway_endpoint_hops(f, s),
        Step::InterfaceEndpoint { .. }
        | Step::Listener { .. }
        | Step::LoadBalancerSecurityGroup { .. }
        | Step::Target { .. }
        | Step::Nat { .. } => privatelink_hops(f, s, q),
        Step::GwlbEndpoint { .. }
        | Step::Appliance { .. }
        | Step::Encapsulated { .. }
        | Step::Decapsulated { .. } => gwlb_hops(f, s),
        Step::TgwAttachment { .. } | Step::TgwRouteLookup { .. } | Step::OnPremises { .. } => {
            transit_hops(f, s)
        }
        // Where the packet came in, its headers and the verdict are the leg's own fields.
        Step::Ingress { .. } | Step::Parsed(_) | Step::Verdict(_) => Vec::new(),
    }
}

/// What every path crosses: the source/destination check, security groups, route lookups, delivery.
fn vpc_hops(f: &Fabric, s: &Step) -> Vec<Hop> {
    let snap = &f.snapshot;
    match *s {
        Step::SourceDestCheck { eni, passed } => {
            if passed && f.enis[eni as usize].source_dest_check {
                vec![]
            } else {
                vec![Hop {
                    component: "network_interface".into(),
                    id: f.enis[eni as usize].id.clone(),
                    detail: if passed {
                        "source/destination check off".into()
                    } else {
                        "source/destination check: the source is not this ENI's address".into()
                    },
                }]
            }
        }
        Step::SecurityGroup {
            set,
            direction: dir,
            outcome,
            ..
        } => vec![Hop {
            component: "security_group".into(),
            id: groups_of(f, set),
            detail: match outcome {
                SgOutcome::Tracked => format!(
                    "{}: part of a tracked flow (a reply, or a flow already allowed)",
                    dir.as_str()
                ),
                SgOutcome::Related => format!(
                    "{}: an ICMP error about a packet of a tracked flow",
                    dir.as_str()
                ),
                SgOutcome::Allowed(r) => format!("allowed by {}", rule_label(f, r, dir)),
                SgOutcome::Denied => format!("{}: no rule allows it", dir.as_str()),
            },
        }],
        Step::NetworkAcl {
            subnet,
            acl,
            direction: dir,
            remote,
            verdict,
            ..
        } => vec![Hop {
            component: "network_acl".into(),
            id: f.snapshot.nacls.acls[acl as usize].id.clone(),
            detail: format!(
                "{} {} {}: {}",
                if dir == Direction::Ingress {
                    "entering"
                } else {
                    "leaving"
                },
                f.subnets[subnet as usize].id,
                if dir == Direction::Ingress {
                    format!("from {remote}")
                } else {
                    format!("to {remote}")
                },
                match verdict.rule {
                    Some(_) => format!(
                        "{} by {}",
                        if verdict.allow { "allowed" } else { "denied" },
                        acl_rule_label(f, acl, dir, verdict.rule)
                    ),
                    None => "no rule matches: denied by the final * rule".into(),
                }
            ),
        }],
        Step::RouteLookup {
            table,
            route,
            destination: dst,
        } => {
            let t = &snap.route_tables[table as usize];
            vec![route_hop("route_table", t, &snap.config, dst, route)]
        }
        Step::Deliver {
            vpc,
            address,
            owner,
        } => vec![Hop {
            component: "vpc".into(),
            id: f.vpcs[vpc as usize].id.clone(),
            detail: match owner {
                Some(Owner::Attachment(a)) => {
                    format!("{address} belongs to {}", f.attachments[a as usize].id)
                }
                Some(Owner::EndpointEni(x)) => format!(
                    "{address} is interface endpoint ENI {}",
                    f.endpoint_enis[x as usize].id
                ),
                Some(Owner::LoadBalancerNode(n)) => format!(
                    "{address} is a node of {}",
                    f.load_balancers[f.lb_nodes[n as usize].lb as usize].id
                ),
                Some(Owner::Virtual) => format!("{address} belongs to a NAT gateway"),
                Some(Owner::Resolver(_)) => format!("{address} is the VPC's resolver"),
                Some(Owner::ResolverEndpoint(x)) => {
                    let e = &f.resolver_enis[x as usize];
                    let dir = if e.outbound { "outbound" } else { "inbound" };
                    format!(
                        "{address} is an ENI of {dir} Resolver endpoint {}",
                        e.endpoint
                    )
                }
                None => format!("nothing in the VPC has {address}"),
            },
        }],
        _ => Vec::new(),
    }
}

/// A route table's decision for `dst` (a VPC's or a transit gateway's): the winning route and
/// why it won, or why none did.
fn route_hop(
    component: &str,
    t: &control::compile::CompiledRouteTable,
    config: &control::model::Config,
    dst: IpAddr,
    route: Option<usize>,
) -> Hop {
    let ex = t.explain(config, dst);
    Hop {
        component: component.into(),
        id: t.id.clone(),
        detail: match route {
            Some(i) => {
                let r = &t.routes[i];
                format!(
                    "{} -> {} ({} route): {}",
                    r.destination_label(),
                    r.target,
                    r.origin.class_name(),
                    ex.reason
                )
            }
            None => ex.reason,
        },
    }
}

/// Transit gateways (attachments in and out, route tables) and the VPN to on-premises.
fn transit_hops(f: &Fabric, s: &Step) -> Vec<Hop> {
    let snap = &f.snapshot;
    let c = &snap.config;
    let zone =
        |az: Option<u16>| az.map_or_else(String::new, |z| format!(" in {}", f.zones[z as usize]));
    match *s {
        Step::TgwAttachment {
            attachment,
            az,
            entering,
        } => {
            let a = &f.tgw_attachments[attachment as usize];
            let tgw = &c.transit_gateways[a.tgw as usize].id;
            let detail = match (&a.link, entering) {
                (_, true) => format!("enters {tgw}{}", zone(az)),
                (crate::fabric::TgwLink::Vpc { vpc, zones, .. }, false) => {
                    let subnet = zones
                        .iter()
                        .find(|z| Some(z.az) == az)
                        .map(|z| f.subnets[z.subnet as usize].id.as_str())
                        .unwrap_or("?");
                    format!(
                        "leaves {tgw} into {} through {subnet}{}",
                        f.vpcs[*vpc as usize].id,
                        zone(az)
                    )
                }
                (crate::fabric::TgwLink::Vpn { on_prem }, false) => format!(
                    "leaves {tgw} into the VPN connection to {}",
                    f.on_prem[*on_prem as usize].id
                ),
                (crate::fabric::TgwLink::DirectConnect { gateway, .. }, false) => format!(
                    "leaves {tgw} for Direct Connect gateway {}",
                    dx_label(c, *gateway)
                ),
                (crate::fabric::TgwLink::Peering { peer }, false) => {
                    format!("leaves {tgw} for {}", c.transit_gateways[*peer as usize].id)
                }
            };
            vec![Hop {
                component: "transit_gateway_attachment".into(),
                id: a.id.clone(),
                detail,
            }]
        }
        Step::TgwRouteLookup {
            table,
            destination,
            route,
        } => {
            let t = &snap.transit.tables[table as usize];
            vec![route_hop(
                "transit_gateway_route_table",
                t,
                c,
                destination,
                route,
            )]
        }
        Step::OnPremises {
            network,
            inbound,
            direct_connect,
        } => {
            let o = &c.on_premises[network as usize];
            let link = match direct_connect {
                Some(d) => format!(
                    "a virtual interface to Direct Connect gateway {}",
                    dx_label(c, d)
                ),
                None => c
                    .vpn_connections
                    .iter()
                    .find(|v| v.on_premises == o.id)
                    .map_or("no VPN connection".into(), |v| v.id.clone()),
            };
            let verb = if inbound { "sends it" } else { "receives it" };
            vec![Hop {
                component: "on_premises".into(),
                id: o.id.clone(),
                detail: format!(
                    "{verb} through {link} (customer gateway {})",
                    o.customer_gateway
                ),
            }]
        }
        _ => Vec::new(),
    }
}

/// A Direct Connect gateway as people know it: its name and id, or its id.
pub(super) fn dx_label(c: &control::model::Config, d: u32) -> String {
    let g = &c.direct_connect_gateways[d as usize];
    match &g.name {
        Some(n) => format!("{n} ({})", g.id),
        None => g.id.clone(),
    }
}

/// What a hop adds when its load balancer failed open.
const FAIL_OPEN: &str = "; failing open: every target of the group is unhealthy (or, with health requirements, too few in scope are healthy), so the load balancer sends to all of them, whatever their health (AWS)";

/// The internet gateway's address translation.
fn internet_hops(f: &Fabric, s: &Step) -> Vec<Hop> {
    match *s {
        Step::Translated {
            igw,
            from,
            to,
            source,
        } => vec![Hop {
            component: "internet_gateway".into(),
            id: f.igws[igw as usize].id.clone(),
            detail: format!(
                "{} {from} translated to {to}",
                if source { "source" } else { "destination" }
            ),
        }],
        _ => Vec::new(),
    }
}

/// A gateway endpoint's policy.
fn gateway_endpoint_hops(f: &Fabric, s: &Step) -> Vec<Hop> {
    match *s {
        Step::GatewayEndpoint {
            endpoint: ge,
            allowed,
        } => vec![Hop {
            component: "vpc_endpoint".into(),
            id: f.gateway_endpoints[ge as usize].id.clone(),
            detail: if allowed {
                "gateway endpoint: into the service's network, addresses unchanged".into()
            } else {
                "gateway endpoint: its policy does not allow this destination".into()
            },
        }],
        _ => Vec::new(),
    }
}

/// An interface endpoint and its load balancer: the endpoint, listener, security groups, target, translation.
fn privatelink_hops(f: &Fabric, s: &Step, q: &Question) -> Vec<Hop> {
    match *s {
        Step::InterfaceEndpoint {
            eni: x, tracked, ..
        } => {
            let eni = &f.endpoint_enis[x as usize];
            let ep = &f.endpoints[eni.endpoint as usize];
            vec![Hop {
                component: "vpc_endpoint".into(),
                id: ep.id.clone(),
                detail: format!(
                    "interface endpoint ENI {} ({}{}, {}); connection {}{}",
                    eni.id,
                    eni.ip,
                    eni.ip6.map_or(String::new(), |a| format!(" and {a}")),
                    eni.az,
                    ep.state,
                    if tracked {
                        "; flow already translated"
                    } else {
                        ""
                    }
                ),
            }]
        }
        Step::Listener {
            load_balancer: lb,
            port,
            target_group: tg,
        } => vec![Hop {
            component: "load_balancer_listener".into(),
            id: f.load_balancers[lb as usize].id.clone(),
            detail: format!(
                "listener on port {port} forwards to target group {}",
                f.target_groups[tg as usize].id
            ),
        }],
        Step::LoadBalancerSecurityGroup {
            load_balancer: lb,
            set,
            outcome,
            privatelink,
        } => vec![Hop {
            component: "security_group".into(),
            id: groups_of(f, set),
            detail: format!(
                "{}'s groups, {} {}: {}",
                f.load_balancers[lb as usize].id,
                if privatelink {
                    "enforced on PrivateLink traffic (source: the consumer's address"
                } else {
                    "on its client's traffic (source:"
                },
                format_args!("{})", q.src),
                match outcome {
                    SgOutcome::Allowed(r) =>
                        format!("allowed by {}", rule_label(f, r, Direction::Ingress)),
                    _ => "no inbound rule allows it".into(),
                }
            ),
        }],
        Step::Target {
            target_group: tg,
            node,
            target,
            cross_zone,
            eligible,
            fail_open,
        } => {
            let g = &f.target_groups[tg as usize];
            let n = &f.lb_nodes[node as usize];
            vec![Hop {
                component: "load_balancer_target".into(),
                id: match target {
                    Some(t) => {
                        let t = &g.targets[t as usize];
                        format!("{}:{}", t.ip, t.port)
                    }
                    None => g.id.clone(),
                },
                detail: match target {
                    Some(t) => {
                        let t = &g.targets[t as usize];
                        format!(
                            "node {} ({}) picks target {} in {} ({}) of {eligible} eligible; cross-zone {}{}",
                            n.address_for(t.ip).unwrap_or(IpAddr::V4(n.ip)),
                            n.az,
                            t.ip,
                            t.az,
                            t.health.state().as_str(),
                            if cross_zone { "on" } else { "off" },
                            if fail_open { FAIL_OPEN } else { "" }
                        )
                    }
                    None => format!(
                        "node {} ({}) finds no eligible target; cross-zone {}; targets: {}",
                        n.ip,
                        n.az,
                        if cross_zone { "on" } else { "off" },
                        g.targets
                            .iter()
                            .map(|t| format!("{} in {} {}", t.ip, t.az, t.health.state().as_str()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
            }]
        }
        Step::Nat { from, to } => vec![Hop {
            component: "nat".into(),
            id: format!("{}:{}", to.0, to.1),
            detail: format!(
                "{}:{} -> {}:{} becomes {}:{} -> {}:{}",
                from.0, from.1, from.2, from.3, to.0, to.1, to.2, to.3
            ),
        }],
        _ => Vec::new(),
    }
}

/// A Gateway Load Balancer endpoint's appliance: steering, encapsulation, return.
fn gwlb_hops(f: &Fabric, s: &Step) -> Vec<Hop> {
    match *s {
        Step::GwlbEndpoint { endpoint: g, state } => {
            let ge = &f.gwlb_endpoints[g as usize];
            vec![Hop {
                component: "vpc_endpoint".into(),
                id: ge.id.clone(),
                detail: format!(
                    "Gateway Load Balancer endpoint ENI {} ({}, {}); connection {state}",
                    ge.eni, ge.ip, ge.az
                ),
            }]
        }
        Step::Appliance {
            endpoint,
            target_group,
            node,
            target,
            cross_zone,
            eligible,
            fail_open,
            flow,
        } => {
            let ge = &f.gwlb_endpoints[endpoint as usize];
            let g = &f.target_groups[target_group as usize];
            let n = &f.lb_nodes[node as usize];
            let lb = &f.load_balancers[n.lb as usize];
            let sticky = match g.stickiness {
                control::model::Stickiness::FiveTuple => "5-tuple",
                control::model::Stickiness::ThreeTuple => "3-tuple",
                control::model::Stickiness::TwoTuple => "2-tuple",
            };
            vec![Hop {
                component: "gateway_load_balancer".into(),
                id: lb.id.clone(),
                detail: match target.map(|t| &g.targets[t as usize]) {
                    Some(t) => format!(
                        "node {} ({}) {} appliance {} in {} ({}){}; {sticky} stickiness, cross-zone {}{}",
                        n.ip,
                        n.az,
                        match flow {
                            ApplianceFlow::New => "picks",
                            ApplianceFlow::Tracked => "keeps the flow on",
                            ApplianceFlow::Rebalanced => "moves the flow (its appliance failed; rebalance) to",
                        },
                        t.ip,
                        t.az,
                        t.health.state().as_str(),
                        if flow == ApplianceFlow::New {
                            format!(" of {eligible} eligible")
                        } else {
                            String::new()
                        },
                        if cross_zone { "on" } else { "off" },
                        if fail_open { FAIL_OPEN } else { "" }
                    ),
                    None => format!(
                        "node {} ({}) finds no healthy appliance for {}'s zone {}; cross-zone {}; appliances of {}: {}",
                        n.ip,
                        n.az,
                        ge.id,
                        ge.az,
                        if cross_zone { "on" } else { "off" },
                        g.id,
                        g.targets
                            .iter()
                            .map(|t| format!("{} in {} {}", t.ip, t.az, t.health.state().as_str()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
            }]
        }
        Step::Encapsulated { node, appliance, cookie, .. } => {
            let n = &f.lb_nodes[node as usize];
            vec![Hop {
                component: "geneve".into(),
                id: format!("{} -> {appliance}", n.ip),
                detail: format!(
                    "encapsulated: outer {} -> {appliance} udp/6081, AWS options (endpoint, attachment, flow cookie {cookie:#010x})",
                    n.ip
                ),
            }]
        }
        Step::Decapsulated { endpoint: g, appliance, cookie, .. } => vec![Hop {
            component: "geneve".into(),
            id: format!("{appliance} -> {}", f.gwlb_endpoints[g as usize].id),
            detail: format!(
                "returned by appliance {appliance} with cookie {cookie:#010x} (a flow the GWLB sent it); decapsulated and routed on from {}'s subnet",
                f.gwlb_endpoints[g as usize].id
            ),
        }],
        _ => Vec::new(),
    }
}

/// A network ACL rule as AWS's console lists it: `rule 100 (allow tcp 1024-65535 from
/// 0.0.0.0/0)`; `rule *` for the final deny.
pub(super) fn acl_rule_label(f: &Fabric, acl: u32, dir: Direction, rule: Option<u16>) -> String {
    let a = &f.snapshot.config.network_acls[acl as usize];
    let rules = match dir {
        Direction::Ingress => &a.ingress,
        Direction::Egress => &a.egress,
    };
    let Some(r) = rule.and_then(|i| rules.get(usize::from(i))) else {
        return "rule * (deny all)".into();
    };
    let action = match r.action {
        control::model::AclAction::Allow => "allow",
        control::model::AclAction::Deny => "deny",
    };
    let ports = r.ports.map(|p| format!(" {p}")).unwrap_or_default();
    let icmp = match (r.icmp_type, r.icmp_code) {
        (Some(t), Some(c)) => format!(" type {t} code {c}"),
        (Some(t), None) => format!(" type {t}"),
        _ => String::new(),
    };
    let side = if dir == Direction::Ingress {
        "from"
    } else {
        "to"
    };
    format!(
        "rule {} ({action} {}{ports}{icmp} {side} {})",
        r.rule, r.protocol, r.cidr
    )
}
