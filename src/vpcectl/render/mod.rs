//! Output of `show` and `lookup`: aligned tables for people, JSON for scripts.

use std::io::Write;

use comfy_table::{presets, ContentArrangement, Table};
use control::compile::{
    CompiledRouteTable, RouteExplanation, RouteOrigin, RouteState, RouteTarget,
};
use control::Compiled;
use serde::Serialize;
use serde_json::{json, Value};

use super::{Failure, Output};

mod graph;
mod show;
pub use graph::{topology_dot, topology_mermaid, trace_dot, trace_mermaid};
pub use show::show;

/// A table whose column names are upper-cased (`ID`, `RX PACKETS`), as iproute2's and the AWS
/// CLI's tables are.
pub(super) fn table(header: &[&str]) -> Table {
    let names: Vec<String> = header.iter().map(|h| h.to_uppercase()).collect();
    table_as_is(&names)
}

/// A table whose header cells are printed as given: ids (the `--all-pairs` matrix's columns)
/// keep their case.
fn table_as_is(header: &[String]) -> Table {
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    t
}

fn print_table(out: &mut impl Write, t: &Table) -> std::io::Result<()> {
    for line in t.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `vpcectl policy check`'s answer: each policy's decision and statement, then the outcome.
pub(super) fn policy_access(
    out: &mut impl Write,
    a: &control::policy::access::Access,
    output: Output,
) -> Result<(), Failure> {
    if output == Output::Json {
        return print_json(out, a);
    }
    let mut t = table(&["policy", "id", "decision", "why"]);
    for j in &a.policies {
        t.add_row(vec![
            j.policy.replace('_', " "),
            j.id.clone(),
            j.decision.replace('_', " "),
            j.explanation.clone(),
        ]);
    }
    print_table(out, &t)?;
    writeln!(out, "\n{}", a.outcome)?;
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
        RouteOrigin::PropagatedFrom { source, .. } => format!("propagated from {source}"),
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
        RouteTarget::TransitGateway(_) => "transit gateway",
        RouteTarget::TransitGatewayAttachment(_) => "transit gateway attachment",
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
    routes_text(out, t)
}

/// A compiled table's effective routes, one row each.
fn routes_text(out: &mut impl Write, t: &CompiledRouteTable) -> std::io::Result<()> {
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

/// A transit gateway route table: its associations and propagations, then its routes.
pub(crate) fn tgw_route_table_text(
    out: &mut impl Write,
    compiled: &Compiled,
    t: &CompiledRouteTable,
) -> std::io::Result<()> {
    let (assoc, prop) = tgw_links(compiled, &t.id);
    writeln!(
        out,
        "{} ({}): associated with {}; propagations from {}",
        t.id,
        t.vpc,
        if assoc.is_empty() {
            "nothing".into()
        } else {
            assoc.join(",")
        },
        if prop.is_empty() {
            "nothing".into()
        } else {
            prop.join(",")
        },
    )?;
    routes_text(out, t)
}

/// The attachments associated with, and propagating to, transit gateway route table `id`.
fn tgw_links(compiled: &Compiled, id: &str) -> (Vec<String>, Vec<String>) {
    let c = &compiled.snapshot.config;
    let assoc = c
        .transit_gateway_attachments
        .iter()
        .filter(|a| {
            a.association.as_deref() == Some(id) || a.peer_association.as_deref() == Some(id)
        })
        .map(|a| a.id.clone())
        .collect();
    let prop = c
        .transit_gateway_attachments
        .iter()
        .filter(|a| a.propagations.iter().any(|p| p == id))
        .map(|a| a.id.clone())
        .collect();
    (assoc, prop)
}

pub(crate) fn tgw_route_table_json(compiled: &Compiled, t: &CompiledRouteTable) -> Value {
    let (assoc, prop) = tgw_links(compiled, &t.id);
    json!({
        "id": t.id,
        "transit_gateway": t.vpc,
        "associations": assoc,
        "propagations": prop,
        "routes": routes_json(t),
    })
}

fn routes_json(t: &CompiledRouteTable) -> Vec<Value> {
    t.routes.iter().map(|r| with_state(json!({
        "destination": r.destination,
        "destination_prefix_list": match &r.origin { RouteOrigin::PrefixList { list, .. } => Some(list), _ => None },
        "target": r.target.to_string(),
        "target_kind": r.target,
        "status": r.status(),
        "origin": r.origin,
    }), &r.state)).collect()
}

/// A route's JSON with its state's fields beside the others: `"state": "shadowed", "by": 3`
/// (not an object nested under `state` holding `state` again).
fn with_state(mut route: Value, state: &RouteState) -> Value {
    if let (Value::Object(r), Ok(Value::Object(s))) = (&mut route, serde_json::to_value(state)) {
        r.extend(s);
    }
    route
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
        "propagating_gateways": rt.map(|r| r.propagating_gateways.clone()).unwrap_or_default(),
        "routes": routes_json(t),
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
                    with_state(json!({
                        "destination": r.destination.to_string(),
                        "target": r.target.to_string(),
                        "origin": r.origin,
                        "won": Some(i) == ex.winner,
                    }), &r.state)
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
            stats_text(out, report)?;
        }
        Response::EndpointConnections { connections } => {
            endpoint_connections_text(out, connections)?;
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
        Response::TargetHealth { targets } => target_health_text(out, targets)?,
        Response::Status(s) => status_text(out, s)?,
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

/// Counters per entity, then drops by reason, security-group denials, DNS answers and the
/// flow table; sections with nothing to say are left out.
fn stats_text(out: &mut impl Write, report: &dataplane::stats::StatsReport) -> std::io::Result<()> {
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
    denials_text(out, report)?;
    network_acls_text(out, report)?;
    dns_text(out, report)?;
    workers_text(out, &report.workers)?;
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
    Ok(())
}

fn denials_text(
    out: &mut impl Write,
    report: &dataplane::stats::StatsReport,
) -> std::io::Result<()> {
    let denials: Vec<_> = report
        .security_groups
        .iter()
        .filter(|(_, d)| d.ingress_denied + d.egress_denied > 0)
        .collect();
    if denials.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    let mut t = table(&["security group", "ingress denied", "egress denied"]);
    for (g, d) in denials {
        t.add_row(vec![
            g.clone(),
            d.ingress_denied.to_string(),
            d.egress_denied.to_string(),
        ]);
    }
    print_table(out, &t)
}

/// Per network ACL rule that decided something: ACL, direction, rule number, packets.
fn network_acls_text(
    out: &mut impl Write,
    report: &dataplane::stats::StatsReport,
) -> std::io::Result<()> {
    let mut t = table(&["network acl", "direction", "rule", "packets"]);
    let mut any = false;
    for (acl, s) in &report.network_acls {
        for (dir, rules) in [("ingress", &s.ingress), ("egress", &s.egress)] {
            let mut rules: Vec<_> = rules.iter().filter(|(_, n)| **n > 0).collect();
            // In evaluation order: by number, `*` last.
            rules.sort_by_key(|(r, _)| r.parse::<u32>().unwrap_or(u32::MAX));
            for (rule, n) in rules {
                any = true;
                t.add_row(vec![acl.clone(), dir.into(), rule.clone(), n.to_string()]);
            }
        }
    }
    if !any {
        return Ok(());
    }
    writeln!(out)?;
    print_table(out, &t)
}

/// Packets each worker read, and its share: how evenly flows are spread over the workers.
fn workers_text(out: &mut impl Write, workers: &[u64]) -> std::io::Result<()> {
    let total: u64 = workers.iter().sum();
    if workers.len() < 2 || total == 0 {
        return Ok(());
    }
    writeln!(out)?;
    let mut t = table(&["worker", "packets read", "share"]);
    for (w, n) in workers.iter().enumerate() {
        let share = 100.0 * *n as f64 / total as f64;
        t.add_row(vec![w.to_string(), n.to_string(), format!("{share:.1} %")]);
    }
    print_table(out, &t)
}

fn dns_text(out: &mut impl Write, report: &dataplane::stats::StatsReport) -> std::io::Result<()> {
    if report.dns.responses.is_empty() {
        return Ok(());
    }
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
    )
}

fn endpoint_connections_text(
    out: &mut impl Write,
    connections: &[daemon::state_dir::ConnectionRow],
) -> std::io::Result<()> {
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
    print_table(out, &t)
}

fn target_health_text(
    out: &mut impl Write,
    targets: &[daemon::protocol::TargetHealthRow],
) -> std::io::Result<()> {
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
    print_table(out, &t)
}

fn status_text(out: &mut impl Write, s: &daemon::protocol::Status) -> std::io::Result<()> {
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
    if let Some(r) = &s.region {
        let down = if r.zone_down { ", zone down" } else { "" };
        writeln!(
            out,
            "region node of {} at {}: region generation {}{down}",
            r.zone, r.etcd, r.generation
        )?;
    }
    for (w, g) in s.worker_generations.iter().enumerate() {
        match g {
            Some(g) if *g == s.generation => {}
            Some(g) => writeln!(out, "worker {w} still on generation {g}")?,
            None => writeln!(out, "worker {w} stopped (see vpced's log)")?,
        }
    }
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
    print_table(out, &t)
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
    let mut header: Vec<String> = vec!["FROM \\ TO".to_string()];
    header.extend(tos);
    let mut t = table_as_is(&header);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_the_workers_behind_or_stopped() {
        let s = daemon::protocol::Status {
            pid: 1,
            generation: 7,
            config: "/etc/vpce/config.toml".into(),
            uptime_seconds: 3,
            workers: 3,
            worker_generations: vec![Some(7), Some(6), None],
            region: None,
            attachments: Vec::new(),
        };
        let mut out = Vec::new();
        status_text(&mut out, &s).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("generation 7, 3 workers"), "{text}");
        assert!(text.contains("worker 1 still on generation 6"), "{text}");
        assert!(text.contains("worker 2 stopped"), "{text}");
        assert!(!text.contains("worker 0"), "{text}");
    }
}
