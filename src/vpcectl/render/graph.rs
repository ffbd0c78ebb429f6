//! Pictures of a trace (`vpcectl trace -o dot|mermaid`): the way there and the way back as a
//! chain of the components a packet crosses, left to right, each with what happened there;
//! where the path stops, the blocking component in red with its code. Graphviz renders the
//! `dot` (`| dot -Tsvg > trace.svg`); GitHub and GitLab render the Mermaid in Markdown.

use std::fmt::Write as _;

use control::model::{Config, EndpointType};
use dataplane::trace::{Leg, Trace};

/// A node: its id, its label's lines, whether it is where the path stops.
type Node = (String, Vec<String>, bool);

/// One picture's nodes and edges, before it is written in either language.
#[derive(Default)]
struct Picture {
    title: String,
    nodes: Vec<Node>,
    /// (from, to, label)
    edges: Vec<(String, String, String)>,
    /// (cluster id, label, its nodes' ids): a VPC and what lies in it.
    clusters: Vec<(String, String, Vec<String>)>,
}

impl Picture {
    fn node(&mut self, id: &str, lines: Vec<String>) {
        if !self.nodes.iter().any(|n| n.0 == id) {
            self.nodes.push((id.to_string(), lines, false));
        }
    }
    fn edge(&mut self, from: &str, to: &str, label: impl Into<String>) {
        self.edges
            .push((from.to_string(), to.to_string(), label.into()));
    }
    /// The nodes as both languages lay them out: each cluster (id, label) with its nodes,
    /// then the nodes in no cluster.
    #[allow(clippy::type_complexity)]
    fn grouped(&self) -> (Vec<(&str, &str, Vec<&Node>)>, Vec<&Node>) {
        let clusters = self
            .clusters
            .iter()
            .map(|(id, label, members)| {
                let nodes = self
                    .nodes
                    .iter()
                    .filter(|n| members.contains(&n.0))
                    .collect();
                (id.as_str(), label.as_str(), nodes)
            })
            .collect();
        let free = self
            .nodes
            .iter()
            .filter(|n| !self.clusters.iter().any(|c| c.2.contains(&n.0)))
            .collect();
        (clusters, free)
    }

    fn place(&mut self, cluster: &str, node: &str) {
        if let Some(c) = self.clusters.iter_mut().find(|c| c.0 == cluster) {
            c.2.push(node.to_string());
        }
    }
}

fn picture(t: &Trace, resolved: Option<&str>) -> Picture {
    let mut p = Picture {
        title: resolved.map_or_else(String::new, str::to_string),
        ..Picture::default()
    };
    leg(&mut p, "f", "there", &t.forward);
    if let Some(r) = &t.reply {
        leg(&mut p, "r", "back", r);
    }
    p
}

fn leg(p: &mut Picture, prefix: &str, name: &str, l: &Leg) {
    let mut prev: Option<String> = None;
    for (i, h) in l.hops.iter().enumerate() {
        let id = format!("{prefix}{i}");
        let blocked = l.blocked.is_some() && i + 1 == l.hops.len();
        p.nodes.push((
            id.clone(),
            vec![
                h.component.replace('_', " "),
                h.id.clone(),
                h.detail.clone(),
            ],
            blocked,
        ));
        if let Some(from) = prev.replace(id.clone()) {
            p.edges.push((from, id, String::new()));
        }
    }
    let end = format!("{prefix}end");
    let (label, blocked) = match (&l.blocked, &l.delivered_to) {
        (Some(b), _) => (
            vec![format!("blocked: {}", b.code), b.explanation.clone()],
            true,
        ),
        (None, Some(to)) => (vec![format!("delivered ({name})"), to.clone()], false),
        (None, None) => (vec![format!("{name}: no further hop")], false),
    };
    p.nodes.push((end.clone(), label, blocked));
    if let Some(from) = prev {
        p.edges.push((from, end, String::new()));
    }
}

/// A DOT string literal's contents.
fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The trace in Graphviz's DOT language.
pub fn trace_dot(t: &Trace, resolved: Option<&str>) -> String {
    dot(&picture(t, resolved), "trace")
}

/// A node id both languages take: letters, digits and `_` only.
fn node_id(id: &str) -> String {
    let mut s: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    s.insert_str(0, "n_");
    s
}

fn dot(p: &Picture, name: &str) -> String {
    let mut s = format!("digraph {name} {{\n  rankdir=LR;\n");
    s.push_str("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f5f5f5\", fontname=\"sans-serif\", fontsize=10];\n");
    if !p.title.is_empty() {
        let _ = writeln!(s, "  label=\"{}\"; labelloc=t;", dot_escape(&p.title));
    }
    let node = |s: &mut String, (id, lines, blocked): &Node, indent: &str| {
        let label: Vec<String> = lines.iter().map(|l| dot_escape(l)).collect();
        let style = if *blocked {
            ", color=\"#c00000\", fillcolor=\"#ffe0e0\", penwidth=2"
        } else {
            ""
        };
        let _ = writeln!(s, "{indent}{id} [label=\"{}\"{style}];", label.join("\\n"));
    };
    let (clusters, free) = p.grouped();
    for (i, (_, label, members)) in clusters.into_iter().enumerate() {
        let _ = writeln!(
            s,
            "  subgraph cluster_{i} {{\n    label=\"{}\"; style=rounded;",
            dot_escape(label)
        );
        for n in members {
            node(&mut s, n, "    ");
        }
        s.push_str("  }\n");
    }
    for n in free {
        node(&mut s, n, "  ");
    }
    for (from, to, label) in &p.edges {
        match label.is_empty() {
            true => {
                let _ = writeln!(s, "  {from} -> {to};");
            }
            false => {
                let _ = writeln!(
                    s,
                    "  {from} -> {to} [label=\"{}\", fontsize=9];",
                    dot_escape(label)
                );
            }
        }
    }
    s.push_str("}\n");
    s
}

/// A Mermaid label's contents: quotes and markup characters as entity codes.
fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// The trace as a Mermaid flowchart.
pub fn trace_mermaid(t: &Trace, resolved: Option<&str>) -> String {
    mermaid(&picture(t, resolved))
}

fn mermaid(p: &Picture) -> String {
    let mut s = String::new();
    if !p.title.is_empty() {
        // YAML front matter: a double-quoted scalar, so no double quote or backslash inside.
        let title = p.title.replace(['"', '\\'], "'");
        let _ = writeln!(s, "---\ntitle: \"{title}\"\n---");
    }
    s.push_str("flowchart LR\n");
    let node = |s: &mut String, (id, lines, _): &Node, indent: &str| {
        let label: Vec<String> = lines.iter().map(|l| mermaid_escape(l)).collect();
        let _ = writeln!(s, "{indent}{id}[\"{}\"]", label.join("<br/>"));
    };
    let (clusters, free) = p.grouped();
    for (id, label, members) in clusters {
        let _ = writeln!(s, "  subgraph {id}[\"{}\"]", mermaid_escape(label));
        for n in members {
            node(&mut s, n, "    ");
        }
        s.push_str("  end\n");
    }
    for n in free {
        node(&mut s, n, "  ");
    }
    for (from, to, label) in &p.edges {
        match label.is_empty() {
            true => {
                let _ = writeln!(s, "  {from} --> {to}");
            }
            false => {
                let _ = writeln!(s, "  {from} -->|\"{}\"| {to}", mermaid_escape(label));
            }
        }
    }
    s.push_str("  classDef blocked fill:#ffe0e0,stroke:#c00000,stroke-width:2px\n");
    let blocked: Vec<&str> = p
        .nodes
        .iter()
        .filter(|n| n.2)
        .map(|n| n.0.as_str())
        .collect();
    if !blocked.is_empty() {
        let _ = writeln!(s, "  class {} blocked", blocked.join(","));
    }
    s
}

/// A deployment's picture: each VPC a box holding its subnets, route tables, gateways,
/// instances, endpoints and load balancers; subnets to their route tables, routes to their
/// targets (labelled with the destination), endpoints to their services, services to their
/// load balancers, load balancers to their targets.
fn topology(c: &Config) -> Picture {
    let mut p = Picture::default();
    for v in &c.vpcs {
        let cidrs: Vec<String> = v.cidr_blocks.iter().map(|x| x.to_string()).collect();
        let label = match &v.name {
            Some(n) => format!("{} ({n}) {}", v.id, cidrs.join(" ")),
            None => format!("{} {}", v.id, cidrs.join(" ")),
        };
        p.clusters.push((node_id(&v.id), label, Vec::new()));
    }
    for s in &c.subnets {
        let id = node_id(&s.id);
        p.node(
            &id,
            vec![
                "subnet".into(),
                s.id.clone(),
                format!("{} {}", s.cidr, s.availability_zone),
            ],
        );
        p.place(&node_id(&s.vpc), &id);
    }
    for g in &c.internet_gateways {
        let id = node_id(&g.id);
        p.node(&id, vec!["internet gateway".into(), g.id.clone()]);
        p.place(&node_id(&g.vpc), &id);
        p.node("internet", vec!["internet".into()]);
        p.edge(&id, "internet", "");
    }
    machines(&mut p, c);
    endpoints(&mut p, c);
    load_balancers(&mut p, c);
    transit(&mut p, c);
    route_tables(&mut p, c);
    // Nodes an edge names but nothing declared (a target of another kind): declare them.
    let named: Vec<String> = p
        .edges
        .iter()
        .flat_map(|e| [e.0.clone(), e.1.clone()])
        .collect();
    for n in named {
        if !p.nodes.iter().any(|x| x.0 == n) {
            let label = n.trim_start_matches("n_").to_string();
            p.node(&n, vec![label]);
        }
    }
    p
}

/// The VPC (a box) of the subnet `s`, as a node id.
fn vpc_of_subnet(c: &Config, s: &str) -> Option<String> {
    c.subnets
        .iter()
        .find(|x| x.id == s)
        .map(|x| node_id(&x.vpc))
}

/// NAT gateways and instances, in their subnets.
fn machines(p: &mut Picture, c: &Config) {
    for n in &c.nat_gateways {
        let id = node_id(&n.id);
        p.node(
            &id,
            vec!["NAT gateway".into(), n.id.clone(), n.private_ip.to_string()],
        );
        if let Some(v) = vpc_of_subnet(c, &n.subnet) {
            p.place(&v, &id);
        }
        p.edge(&id, &node_id(&n.subnet), "");
    }
    for i in &c.instances {
        let id = node_id(&i.id);
        p.node(
            &id,
            vec!["instance".into(), i.id.clone(), i.private_ip.to_string()],
        );
        if let Some(v) = vpc_of_subnet(c, &i.subnet) {
            p.place(&v, &id);
        }
        p.edge(&id, &node_id(&i.subnet), "");
    }
}

/// Endpoints in their subnets (or route tables) and to their services; endpoint services to
/// their load balancers.
fn endpoints(p: &mut Picture, c: &Config) {
    for e in &c.endpoints {
        let id = node_id(&e.id);
        p.node(
            &id,
            vec![
                format!("{} endpoint", e.endpoint_type).to_lowercase(),
                e.id.clone(),
            ],
        );
        p.place(&node_id(&e.vpc), &id);
        for n in &e.network_interfaces {
            p.edge(&id, &node_id(&n.subnet), n.private_ip.to_string());
        }
        let svc = node_id(&e.service);
        p.node(&svc, vec!["service".into(), e.service.clone()]);
        p.edge(&id, &svc, c.connection_state(e).to_string());
    }
    for s in &c.endpoint_services {
        let svc = node_id(&s.service_name(&c.region));
        p.node(&svc, vec!["service".into(), s.service_name(&c.region)]);
        for lb in &s.load_balancers {
            p.edge(&svc, &node_id(lb), "");
        }
    }
}

/// Load balancers to their targets, labelled with the target group.
fn load_balancers(p: &mut Picture, c: &Config) {
    for lb in &c.load_balancers {
        let id = node_id(&lb.id);
        p.node(
            &id,
            vec![
                format!("{:?} load balancer", lb.lb_type).to_lowercase(),
                lb.id.clone(),
            ],
        );
        p.place(&node_id(&lb.vpc), &id);
        for l in &lb.listeners {
            if let Some(tg) = c.target_groups.iter().find(|t| t.id == l.target_group) {
                for t in &tg.targets {
                    let to = t
                        .instance
                        .clone()
                        .or(t.ip.map(|a| a.to_string()))
                        .unwrap_or_default();
                    let tid = node_id(&to);
                    p.node(&tid, vec!["target".into(), to.clone()]);
                    p.edge(&id, &tid, tg.id.clone());
                }
            }
        }
    }
}

/// Subnets to their route tables (explicit, or the main one), gateways to their edge
/// tables, routes to their targets labelled with the destination.
/// Transit gateways (with their route tables) joined to their VPC attachments' subnets,
/// on-premises networks at the end of their VPN connections, Resolver endpoints in their
/// subnets.
fn transit(p: &mut Picture, c: &Config) {
    for t in &c.transit_gateways {
        let mut lines = vec!["transit gateway".to_string(), t.id.clone()];
        lines.extend(
            c.transit_gateway_route_tables
                .iter()
                .filter(|r| r.transit_gateway == t.id)
                .map(|r| format!("table {}", r.id)),
        );
        p.node(&node_id(&t.id), lines);
    }
    for a in &c.transit_gateway_attachments {
        let tgw = node_id(&a.transit_gateway);
        for s in &a.subnets {
            p.edge(&tgw, &node_id(s), a.id.clone());
        }
        if let Some(peer) = &a.peer_transit_gateway {
            p.edge(&tgw, &node_id(peer), format!("{} (peering)", a.id));
        }
    }
    for o in &c.on_premises {
        let id = node_id(&o.id);
        let cidrs: Vec<String> = o.cidrs.iter().map(|x| x.to_string()).collect();
        p.node(
            &id,
            vec!["on-premises".into(), o.id.clone(), cidrs.join(" ")],
        );
        for v in c.vpn_connections.iter().filter(|v| v.on_premises == o.id) {
            if let Some(to) = v.transit_gateway.as_ref().or(v.vpn_gateway.as_ref()) {
                p.edge(&id, &node_id(to), format!("{} (VPN)", v.id));
            }
        }
    }
    for d in &c.direct_connect_gateways {
        let id = node_id(&d.id);
        let mut lines = vec!["Direct Connect gateway".to_string(), d.id.clone()];
        lines.extend(d.name.clone());
        p.node(&id, lines);
        for o in &d.on_premises {
            p.edge(&node_id(o), &id, "virtual interface");
        }
        for a in &d.associations {
            let allowed: Vec<String> = a.allowed_prefixes.iter().map(|x| x.to_string()).collect();
            p.edge(&id, &node_id(&a.gateway), allowed.join(" "));
        }
    }
    for e in &c.resolver_endpoints {
        let id = node_id(&e.id);
        let dir = format!("{:?}", e.direction).to_lowercase();
        let ips: Vec<String> = e.ip_addresses.iter().map(|a| a.ip.to_string()).collect();
        p.node(
            &id,
            vec![
                format!("Resolver endpoint ({dir})"),
                e.id.clone(),
                ips.join(" "),
            ],
        );
        p.place(&node_id(&e.vpc), &id);
        for a in &e.ip_addresses {
            p.edge(&id, &node_id(&a.subnet), "");
        }
    }
}

fn route_tables(p: &mut Picture, c: &Config) {
    for rt in &c.route_tables {
        let id = node_id(&rt.id);
        let what = if rt.main {
            "route table (main)"
        } else {
            "route table"
        };
        p.node(&id, vec![what.into(), rt.id.clone()]);
        p.place(&node_id(&rt.vpc), &id);
        for s in &rt.subnets {
            p.edge(&node_id(s), &id, "");
        }
        if rt.main {
            for s in c.subnets.iter().filter(|s| s.vpc == rt.vpc) {
                let explicit = c.route_tables.iter().any(|t| t.subnets.contains(&s.id));
                if !explicit {
                    p.edge(&node_id(&s.id), &id, "");
                }
            }
        }
        for g in &rt.gateways {
            p.edge(&node_id(g), &id, "edge");
        }
        for r in &rt.routes {
            if matches!(r.target.as_str(), "local" | "blackhole") {
                continue;
            }
            let to = node_id(&r.target);
            if !p.nodes.iter().any(|n| n.0 == to) {
                p.node(&to, vec![r.target.clone()]);
            }
            p.edge(&id, &to, r.destination.clone());
        }
    }
    for e in c
        .endpoints
        .iter()
        .filter(|e| e.endpoint_type == EndpointType::Gateway)
    {
        for rt in &e.route_tables {
            p.edge(&node_id(rt), &node_id(&e.id), "service prefix lists");
        }
    }
}

/// `vpcectl show topology -o dot`.
pub fn topology_dot(c: &Config) -> String {
    dot(&topology(c), "topology")
}

/// `vpcectl show topology -o mermaid`.
pub fn topology_mermaid(c: &Config) -> String {
    mermaid(&topology(c))
}
