//! Output of `show` and `lookup`: aligned tables for people, JSON for scripts.

use std::io::Write;

use comfy_table::{presets, ContentArrangement, Table};
use control::compile::{
    CompiledRouteTable, RouteExplanation, RouteOrigin, RouteState, RouteTarget,
};
use control::model::{Config, EndpointType};
use control::Compiled;
use serde::Serialize;
use serde_json::{json, Value};

use super::{Failure, Noun, Output};

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().map(|h| h.to_uppercase()).collect::<Vec<_>>());
    t
}

fn print_table(out: &mut impl Write, t: &Table) -> std::io::Result<()> {
    for line in t.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn print_json(out: &mut impl Write, v: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(v).map_err(|e| Failure {
        code: 1,
        message: e.to_string(),
        json: None,
    })?;
    writeln!(out, "{text}")?;
    Ok(())
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".into())
}

/// Items of a collection, filtered by `--id`; an unknown id is bad input.
fn pick<'a, T>(
    items: &'a [T],
    id_of: impl Fn(&T) -> &str,
    id: Option<&str>,
    what: &str,
) -> Result<Vec<&'a T>, Failure> {
    match id {
        None => Ok(items.iter().collect()),
        Some(want) => {
            let found: Vec<&T> = items.iter().filter(|x| id_of(x) == want).collect();
            if found.is_empty() {
                let known: Vec<&str> = items.iter().map(&id_of).collect();
                Err(Failure::bad_input(format!(
                    "no {what} `{want}` in the configuration; known: {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )))
            } else {
                Ok(found)
            }
        }
    }
}

pub fn show(
    out: &mut impl Write,
    compiled: &Compiled,
    what: Noun,
    id: Option<&str>,
    output: Output,
) -> Result<(), Failure> {
    let snap = &compiled.snapshot;
    let c: &Config = &snap.config;
    macro_rules! simple {
        ($items:expr, $what:literal, $header:expr, $row:expr) => {{
            let items = pick(&$items, |x| x.id.as_str(), id, $what)?;
            match output {
                Output::Json => print_json(out, &items)?,
                Output::Table => {
                    let mut t = table(&$header);
                    for x in items {
                        t.add_row($row(x));
                    }
                    print_table(out, &t)?;
                }
            }
        }};
    }
    match what {
        // Routed elsewhere by the caller: they need the dataplane's view or the daemon.
        Noun::Attachments | Noun::TargetHealth => {
            return Err(Failure {
                code: 1,
                message: "internal: attachments are rendered by `attachments`".into(),
                json: None,
            });
        }
        Noun::Vpcs => simple!(
            c.vpcs,
            "VPC",
            [
                "id",
                "name",
                "ipv4 cidrs",
                "ipv6 cidrs",
                "dns support",
                "dns hostnames"
            ],
            |v: &control::model::Vpc| vec![
                v.id.clone(),
                opt(&v.name),
                v.cidr_blocks
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                v.ipv6_cidr_blocks
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                v.enable_dns_support.to_string(),
                v.enable_dns_hostnames.to_string(),
            ]
        ),
        Noun::Subnets => simple!(
            c.subnets,
            "subnet",
            ["id", "name", "vpc", "az", "cidr", "route table"],
            |s: &control::model::Subnet| vec![
                s.id.clone(),
                opt(&s.name),
                s.vpc.clone(),
                s.availability_zone.clone(),
                s.cidr.to_string(),
                snap.subnet_route_table(&s.id)
                    .map(|t| t.id.clone())
                    .unwrap_or_else(|| "-".into()),
            ]
        ),
        Noun::PrefixLists => simple!(
            c.prefix_lists,
            "prefix list",
            ["id", "name", "family", "max entries", "entries"],
            |p: &control::model::PrefixList| vec![
                p.id.clone(),
                p.name.clone(),
                format!("{:?}", p.address_family),
                p.max_entries
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| "-".into()),
                {
                    let all: Vec<String> = p.entries.iter().map(|e| e.cidr().to_string()).collect();
                    if all.len() > 4 {
                        format!("{} … ({} in all)", all[..4].join(" "), all.len())
                    } else {
                        all.join(" ")
                    }
                },
            ]
        ),
        Noun::InternetGateways => simple!(
            c.internet_gateways,
            "internet gateway",
            ["id", "vpc", "edge route table"],
            |g: &control::model::InternetGateway| vec![
                g.id.clone(),
                g.vpc.clone(),
                snap.gateway_route_table(&g.id)
                    .map(|t| t.id.clone())
                    .unwrap_or_else(|| "-".into()),
            ]
        ),
        Noun::NatGateways => simple!(
            c.nat_gateways,
            "NAT gateway",
            ["id", "subnet", "private ip", "public ip"],
            |n: &control::model::NatGateway| vec![
                n.id.clone(),
                n.subnet.clone(),
                n.private_ip.to_string(),
                n.public_ip
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "-".into()),
            ]
        ),
        Noun::SecurityGroups => simple!(
            c.security_groups,
            "security group",
            ["id", "name", "vpc", "ingress rules", "egress rules"],
            |g: &control::model::SecurityGroup| vec![
                g.id.clone(),
                opt(&g.name),
                g.vpc.clone(),
                g.ingress.len().to_string(),
                g.egress
                    .as_ref()
                    .map(|e| e.len().to_string())
                    .unwrap_or_else(|| "all (default)".into()),
            ]
        ),
        Noun::Instances => simple!(
            c.instances,
            "instance",
            [
                "id",
                "name",
                "subnet",
                "private ip",
                "eni",
                "security groups"
            ],
            |i: &control::model::Instance| vec![
                i.id.clone(),
                opt(&i.name),
                i.subnet.clone(),
                i.private_ip.to_string(),
                i.eni_id(),
                i.security_groups.join(","),
            ]
        ),
        Noun::NetworkInterfaces => simple!(
            c.network_interfaces,
            "network interface",
            [
                "id",
                "subnet",
                "private ip",
                "source/dest check",
                "security groups"
            ],
            |n: &control::model::NetworkInterface| vec![
                n.id.clone(),
                n.subnet.clone(),
                n.private_ip.to_string(),
                n.source_dest_check.to_string(),
                n.security_groups.join(","),
            ]
        ),
        Noun::Endpoints => {
            let items = pick(&c.endpoints, |x| x.id.as_str(), id, "endpoint")?;
            let state_of = |e: &control::model::Endpoint| c.connection_state(e).to_string();
            match output {
                Output::Json => {
                    let v: Vec<Value> = items
                        .iter()
                        .map(|e| {
                            let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
                            v["state"] = json!(state_of(e));
                            v["network_interface_ids"] = json!((0..e.network_interfaces.len())
                                .map(|k| e.eni_id(k))
                                .collect::<Vec<_>>());
                            v
                        })
                        .collect();
                    print_json(out, &v)?;
                }
                Output::Table => {
                    let mut t = table(&["id", "type", "vpc", "service", "state", "attached to"]);
                    for e in items {
                        let attached = match e.endpoint_type {
                            EndpointType::Gateway => e.route_tables.join(","),
                            _ => e
                                .network_interfaces
                                .iter()
                                .enumerate()
                                .map(|(k, n)| {
                                    format!("{} {} ({})", e.eni_id(k), n.private_ip, n.subnet)
                                })
                                .collect::<Vec<_>>()
                                .join(", "),
                        };
                        t.add_row(vec![
                            e.id.clone(),
                            e.endpoint_type.to_string(),
                            e.vpc.clone(),
                            e.service.clone(),
                            state_of(e),
                            attached,
                        ]);
                    }
                    print_table(out, &t)?;
                }
            }
        }
        Noun::EndpointServices => simple!(
            c.endpoint_services,
            "endpoint service",
            [
                "id",
                "name",
                "load balancers",
                "acceptance required",
                "connections"
            ],
            |s: &control::model::EndpointService| vec![
                s.id.clone(),
                s.service_name(&c.region),
                s.load_balancers.join(","),
                s.acceptance_required.to_string(),
                s.connections
                    .iter()
                    .map(|k| format!("{}={}", k.endpoint, k.state))
                    .collect::<Vec<_>>()
                    .join(","),
            ]
        ),
        Noun::LoadBalancers => simple!(
            c.load_balancers,
            "load balancer",
            [
                "id",
                "type",
                "vpc",
                "nodes",
                "cross-zone",
                "security groups",
                "enforce sg on privatelink",
                "listeners"
            ],
            |l: &control::model::LoadBalancer| vec![
                l.id.clone(),
                format!("{:?}", l.lb_type).to_lowercase(),
                l.vpc.clone(),
                l.subnet_mappings
                    .iter()
                    .map(|m| format!("{}({})", m.private_ip, m.subnet))
                    .collect::<Vec<_>>()
                    .join(","),
                if l.cross_zone {
                    "on".into()
                } else {
                    "off".into()
                },
                if l.security_groups.is_empty() {
                    "-".into()
                } else {
                    l.security_groups.join(",")
                },
                l.enforce_security_group_inbound_rules_on_private_link_traffic
                    .to_string(),
                l.listeners
                    .iter()
                    .map(|x| match (x.protocol, x.port) {
                        (Some(p), Some(port)) => format!("{p}:{port}->{}", x.target_group),
                        _ => format!("all->{}", x.target_group),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            ]
        ),
        Noun::TargetGroups => simple!(
            c.target_groups,
            "target group",
            [
                "id",
                "protocol",
                "port",
                "targets",
                "health check",
                "cross-zone"
            ],
            |g: &control::model::TargetGroup| vec![
                g.id.clone(),
                g.protocol.to_string(),
                g.port.to_string(),
                g.targets
                    .iter()
                    .map(|t| match (&t.instance, t.ip) {
                        (Some(i), _) => i.clone(),
                        (_, Some(ip)) => ip.to_string(),
                        _ => "?".into(),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                format!(
                    "{:?} {}",
                    g.health_check.protocol,
                    g.health_check.path.clone().unwrap_or_default()
                )
                .trim()
                .to_string(),
                match g.cross_zone {
                    None => "inherit".into(),
                    Some(true) => "on".into(),
                    Some(false) => "off".into(),
                },
            ]
        ),
        Noun::HostedZones => simple!(
            c.hosted_zones,
            "hosted zone",
            ["id", "name", "vpcs", "records"],
            |z: &control::model::HostedZone| vec![
                z.id.clone(),
                z.name.clone(),
                z.vpcs.join(","),
                z.records.len().to_string(),
            ]
        ),
        Noun::RouteTables => {
            let tables = pick(&snap.route_tables, |t| t.id.as_str(), id, "route table")?;
            match output {
                Output::Json => {
                    let v: Vec<Value> = tables
                        .iter()
                        .map(|t| route_table_json(compiled, t))
                        .collect();
                    print_json(out, &v)?;
                }
                Output::Table => {
                    for (n, t) in tables.iter().enumerate() {
                        if n > 0 {
                            writeln!(out)?;
                        }
                        route_table_text(out, compiled, t)?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn origin_text(o: &RouteOrigin) -> String {
    match o {
        RouteOrigin::Local => "local".into(),
        RouteOrigin::Static { index } => format!("static routes[{index}]"),
        RouteOrigin::PrefixList {
            list,
            entry,
            index,
            endpoint,
        } => match (index, endpoint) {
            (_, Some(e)) => format!("{list}[{entry}] via endpoint {e}"),
            (Some(i), _) => format!("{list}[{entry}] routes[{i}]"),
            _ => format!("{list}[{entry}]"),
        },
        RouteOrigin::Propagated { index } => format!("propagated routes[{index}]"),
    }
}

fn state_text(t: &CompiledRouteTable, s: &RouteState) -> String {
    match s {
        RouteState::Active => "active".into(),
        RouteState::Shadowed { by } => format!("shadowed by {}", t.routes[*by].target),
        RouteState::Ignored { reason } => format!("ignored: {reason}"),
    }
}

fn target_kind(t: &RouteTarget) -> &'static str {
    match t {
        RouteTarget::Local => "local",
        RouteTarget::Blackhole => "blackhole",
        RouteTarget::InternetGateway(_) => "internet gateway",
        RouteTarget::NatGateway(_) => "NAT gateway",
        RouteTarget::GatewayEndpoint(_) => "gateway endpoint",
        RouteTarget::GatewayLoadBalancerEndpoint(_) => "Gateway Load Balancer endpoint",
        RouteTarget::NetworkInterface(_) => "network interface",
        RouteTarget::PeeringConnection(_) => "peering connection",
        RouteTarget::VpnGateway(_) => "virtual private gateway",
    }
}

fn route_table_text(
    out: &mut impl Write,
    compiled: &Compiled,
    t: &CompiledRouteTable,
) -> std::io::Result<()> {
    let c = &compiled.snapshot.config;
    let rt = c.route_tables.iter().find(|r| r.id == t.id);
    let mut assoc = Vec::new();
    if rt.is_some_and(|r| r.main) {
        assoc.push("main".to_string());
    }
    let subnets = compiled.snapshot.subnets_using(&t.id);
    if !subnets.is_empty() {
        assoc.push(format!("subnets {}", subnets.join(",")));
    }
    if let Some(r) = rt {
        if !r.gateways.is_empty() {
            assoc.push(format!("edge {}", r.gateways.join(",")));
        }
    }
    writeln!(
        out,
        "{} ({}){}",
        t.id,
        t.vpc,
        if assoc.is_empty() {
            String::new()
        } else {
            format!(": {}", assoc.join("; "))
        }
    )?;
    let mut tab = table(&["destination", "target", "status", "origin", "state"]);
    for r in &t.routes {
        tab.add_row(vec![
            r.destination_label(),
            r.target.to_string(),
            r.status().to_string(),
            origin_text(&r.origin),
            state_text(t, &r.state),
        ]);
    }
    print_table(out, &tab)
}

fn route_table_json(compiled: &Compiled, t: &CompiledRouteTable) -> Value {
    let c = &compiled.snapshot.config;
    let rt = c.route_tables.iter().find(|r| r.id == t.id);
    json!({
        "id": t.id,
        "vpc": t.vpc,
        "main": rt.map(|r| r.main).unwrap_or(false),
        "subnets": compiled.snapshot.subnets_using(&t.id),
        "gateways": rt.map(|r| r.gateways.clone()).unwrap_or_default(),
        "routes": t.routes.iter().map(|r| json!({
            "destination": r.destination,
            "destination_prefix_list": match &r.origin { RouteOrigin::PrefixList { list, .. } => Some(list), _ => None },
            "target": r.target.to_string(),
            "target_kind": r.target,
            "status": r.status(),
            "origin": r.origin,
            "state": r.state,
        })).collect::<Vec<_>>(),
    })
}

pub fn lookup(
    out: &mut impl Write,
    t: &CompiledRouteTable,
    ex: &RouteExplanation,
    output: Output,
) -> Result<(), Failure> {
    match output {
        Output::Json => {
            let winner = ex.winner.map(|w| &t.routes[w]);
            let doc = json!({
                "route_table": ex.route_table,
                "address": ex.address,
                "destination": winner.map(|r| r.destination.to_string()),
                "destination_prefix_list": winner.and_then(|r| match &r.origin { RouteOrigin::PrefixList { list, .. } => Some(list.clone()), _ => None }),
                "target": winner.map(|r| r.target.to_string()),
                "target_kind": winner.map(|r| &r.target),
                "status": winner.map(|r| r.status()),
                "origin": winner.map(|r| &r.origin),
                "reason": ex.reason,
                "candidates": ex.candidates.iter().map(|&i| {
                    let r = &t.routes[i];
                    json!({
                        "destination": r.destination.to_string(),
                        "target": r.target.to_string(),
                        "origin": r.origin,
                        "state": r.state,
                        "won": Some(i) == ex.winner,
                    })
                }).collect::<Vec<_>>(),
            });
            print_json(out, &doc)?;
        }
        Output::Table => match ex.winner {
            None => {
                writeln!(out, "{} unreachable: no route in {}", ex.address, t.id)?;
                writeln!(out, "  reason    {}", ex.reason)?;
            }
            Some(w) => {
                let r = &t.routes[w];
                let verb = match r.target {
                    RouteTarget::Local => "dev local".to_string(),
                    RouteTarget::Blackhole => "blackhole".to_string(),
                    _ => format!("via {} ({})", r.target, target_kind(&r.target)),
                };
                writeln!(out, "{} {verb}", ex.address)?;
                writeln!(out, "  table     {}", t.id)?;
                writeln!(
                    out,
                    "  route     {} -> {} [{}]",
                    r.destination_label(),
                    r.target,
                    origin_text(&r.origin)
                )?;
                writeln!(out, "  reason    {}", ex.reason)?;
                let others: Vec<&usize> = ex.candidates.iter().filter(|&&i| i != w).collect();
                if !others.is_empty() {
                    writeln!(out, "  also matched")?;
                    for &i in others {
                        let o = &t.routes[i];
                        writeln!(
                            out,
                            "            {} -> {} [{}] {}",
                            o.destination_label(),
                            o.target,
                            origin_text(&o.origin),
                            state_text(t, &o.state)
                        )?;
                    }
                }
            }
        },
    }
    Ok(())
}

pub fn attachments(
    out: &mut impl Write,
    atts: &[dataplane::fabric::Attachment],
    id: Option<&str>,
    output: Output,
) -> Result<(), Failure> {
    let items = pick(atts, |a| a.id.as_str(), id, "attachment")?;
    let kind = |a: &dataplane::fabric::Attachment| a.kind.as_str();
    match output {
        Output::Json => {
            let v: Vec<Value> = items
                .iter()
                .map(|a| {
                    json!({
                        "id": a.id,
                        "kind": kind(a),
                        "device": a.device,
                        "namespace": a.namespace,
                        "addresses": a.link.addresses.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
                        "loopback": a.link.loopback,
                        "default_route_v4": a.link.default_v4,
                        "default_route_v6": a.link.default_v6,
                    })
                })
                .collect();
            print_json(out, &v)?;
        }
        Output::Table => {
            let mut t = table(&["device", "attachment", "kind", "namespace", "addresses"]);
            for a in items {
                let mut addrs: Vec<String> =
                    a.link.addresses.iter().map(|n| n.to_string()).collect();
                addrs.extend(a.link.loopback.iter().map(|l| format!("{l} (lo)")));
                t.add_row(vec![
                    a.device.clone(),
                    a.id.clone(),
                    kind(a).to_string(),
                    a.namespace.clone().unwrap_or_else(|| "-".into()),
                    if addrs.is_empty() {
                        "-".into()
                    } else {
                        addrs.join(" ")
                    },
                ]);
            }
            print_table(out, &t)?;
        }
    }
    Ok(())
}

/// `stats` and `status` answers.
pub fn daemon_response(
    out: &mut impl Write,
    r: &daemon::protocol::Response,
    output: Output,
) -> Result<(), Failure> {
    use daemon::protocol::Response;
    if output == Output::Json {
        return print_json(out, r);
    }
    match r {
        Response::Stats { generation, report } => {
            writeln!(out, "generation {generation}")?;
            for (kind, entities) in &report.entities {
                writeln!(out)?;
                let mut t = table(&[
                    kind.as_str(),
                    "rx packets",
                    "rx bytes",
                    "tx packets",
                    "tx bytes",
                ]);
                for (id, c) in entities {
                    t.add_row(vec![
                        id.clone(),
                        c.rx_packets.to_string(),
                        c.rx_bytes.to_string(),
                        c.tx_packets.to_string(),
                        c.tx_bytes.to_string(),
                    ]);
                }
                print_table(out, &t)?;
            }
            writeln!(out)?;
            if report.drops.is_empty() {
                writeln!(out, "no drops")?;
            } else {
                let mut t = table(&["drop reason", "packets"]);
                for (reason, n) in &report.drops {
                    t.add_row(vec![reason.clone(), n.to_string()]);
                }
                print_table(out, &t)?;
            }
            let denials: Vec<_> = report
                .security_groups
                .iter()
                .filter(|(_, d)| d.ingress_denied + d.egress_denied > 0)
                .collect();
            if !denials.is_empty() {
                writeln!(out)?;
                let mut t = table(&["security group", "ingress denied", "egress denied"]);
                for (g, d) in denials {
                    t.add_row(vec![
                        g.clone(),
                        d.ingress_denied.to_string(),
                        d.egress_denied.to_string(),
                    ]);
                }
                print_table(out, &t)?;
            }
            if !report.dns.responses.is_empty() {
                writeln!(out)?;
                let mut t = table(&["dns rcode", "responses"]);
                for (rcode, n) in &report.dns.responses {
                    t.add_row(vec![rcode.clone(), n.to_string()]);
                }
                print_table(out, &t)?;
                writeln!(
                    out,
                    "{} of them answered by the workers from the answer cache",
                    report.dns.from_cache
                )?;
            }
            if let Some(f) = &report.flows {
                writeln!(out)?;
                writeln!(
                    out,
                    "flows: {} of {} ({:.1} MiB table)",
                    f.entries,
                    f.capacity,
                    f.memory_bytes as f64 / (1 << 20) as f64
                )?;
            }
        }
        Response::EndpointConnections { connections } => {
            let mut t = table(&["endpoint", "service", "vpc", "state", "decided by"]);
            for c in connections {
                t.add_row(vec![
                    c.endpoint.clone(),
                    c.service.clone(),
                    c.vpc.clone(),
                    c.state.to_string(),
                    match c.origin {
                        daemon::state_dir::Origin::Decision => "vpcectl",
                        daemon::state_dir::Origin::Config => "configuration",
                        daemon::state_dir::Origin::Default => "default",
                    }
                    .to_string(),
                ]);
            }
            print_table(out, &t)?;
        }
        Response::ConnectionDecided {
            service,
            endpoint,
            state,
            generation,
        } => {
            writeln!(
                out,
                "{endpoint} -> {service}: {state} (generation {generation})"
            )?;
        }
        Response::TargetHealth { targets } => {
            let mut t = table(&["target group", "target", "port", "zone", "health"]);
            for r in targets {
                t.add_row(vec![
                    r.target_group.clone(),
                    r.target.to_string(),
                    r.port.to_string(),
                    r.availability_zone.clone(),
                    if r.checked {
                        r.state.as_str().to_string()
                    } else {
                        "unused".to_string()
                    },
                ]);
            }
            print_table(out, &t)?;
        }
        Response::Status(s) => {
            writeln!(
                out,
                "vpced pid {} — generation {}, {} worker{}, up {} s",
                s.pid,
                s.generation,
                s.workers,
                if s.workers == 1 { "" } else { "s" },
                s.uptime_seconds
            )?;
            writeln!(out, "configuration {}", s.config.display())?;
            let mut t = table(&[
                "device",
                "attachment",
                "kind",
                "namespace",
                "rx packets",
                "tx packets",
            ]);
            for a in &s.attachments {
                t.add_row(vec![
                    a.device.clone(),
                    a.id.clone(),
                    a.kind.clone(),
                    a.namespace.clone().unwrap_or_else(|| "-".into()),
                    a.counters.rx_packets.to_string(),
                    a.counters.tx_packets.to_string(),
                ]);
            }
            print_table(out, &t)?;
        }
        other => {
            return Err(Failure {
                code: 1,
                message: format!("unexpected answer from vpced: {other:?}"),
                json: None,
            })
        }
    }
    Ok(())
}

/// `vpcectl trace`: the hops of each direction, then the verdict.
pub fn trace(
    out: &mut impl Write,
    t: &dataplane::trace::Trace,
    resolved: Option<&str>,
    output: Output,
) -> Result<(), Failure> {
    if output == Output::Json {
        return print_json(
            out,
            &serde_json::json!({ "resolved": resolved, "trace": t }),
        );
    }
    if let Some(r) = resolved {
        writeln!(out, "{r}")?;
    }
    let leg =
        |out: &mut dyn Write, title: &str, l: &dataplane::trace::Leg| -> std::io::Result<()> {
            writeln!(out, "{title}")?;
            let mut tb = table(&["#", "component", "id", "what happens"]);
            for (i, h) in l.hops.iter().enumerate() {
                tb.add_row(vec![
                    (i + 1).to_string(),
                    h.component.clone(),
                    h.id.clone(),
                    h.detail.clone(),
                ]);
            }
            writeln!(out, "{tb}")?;
            if let Some(b) = &l.blocked {
                writeln!(out, "BLOCKED {} (drop counter {})", b.code, b.drop_reason)?;
                writeln!(out, "  {}", b.explanation)?;
            }
            Ok(())
        };
    leg(out, "The way there:", &t.forward)?;
    if let Some(r) = &t.reply {
        writeln!(out)?;
        leg(out, "The way back (the reply):", r)?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        if t.reachable {
            "reachable"
        } else {
            "not reachable"
        }
    )?;
    Ok(())
}

/// `vpcectl trace --all-pairs`: instances as rows, endpoints as columns.
pub fn all_pairs(
    out: &mut impl Write,
    pairs: &[dataplane::trace::Pair],
    output: Output,
) -> Result<(), Failure> {
    if output == Output::Json {
        return print_json(out, &serde_json::json!({ "pairs": pairs }));
    }
    let mut froms: Vec<&str> = Vec::new();
    let mut tos: Vec<String> = Vec::new();
    for p in pairs {
        if !froms.contains(&p.from.as_str()) {
            froms.push(&p.from);
        }
        let col = format!("{} (tcp/{})", p.to, p.port);
        if !tos.contains(&col) {
            tos.push(col);
        }
    }
    let mut header: Vec<&str> = vec!["from \\ to"];
    header.extend(tos.iter().map(String::as_str));
    let mut t = table(&header);
    for f in &froms {
        let mut row = vec![f.to_string()];
        for p in pairs.iter().filter(|p| p.from == *f) {
            row.push(if p.reachable {
                "reachable".to_string()
            } else {
                p.code.clone().unwrap_or_else(|| "blocked".into())
            });
        }
        t.add_row(row);
    }
    print_table(out, &t)?;
    Ok(())
}
