//! Elastic Load Balancing (v2): target groups (attributes, health check, registered targets)
//! and network and gateway load balancers (nodes, attributes, listeners).
//!
//! A node's private address comes from the load balancer's `LoadBalancerAddresses` when AWS
//! lists it there (internal NLBs given addresses), else from the network interface AWS made for
//! the node: described `ELB net/<name>/<id>` (`ELB gwy/…` for GWLBs) in that subnet. Targets are
//! the registered ones `describe-target-health` lists, whatever their health: the daemon
//! checks health itself.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use toml::Value as T;

use super::{items, opt, s, strings, table, Doc, Import, ImportError, Seen};

/// The imported load balancers: ARN -> `network` or `gateway`, and their node zones.
pub(super) struct Balancers {
    pub kinds: BTreeMap<String, &'static str>,
    pub zones: BTreeMap<String, BTreeSet<String>>,
}

/// A target group as imported, with what its listeners must match.
struct Group {
    arn: String,
    protocol: String,
    vpc: String,
    table: Vec<(&'static str, T)>,
    /// The load balancer whose listener forwards to it (the model gives a group one).
    used_by: Option<String>,
}

/// Target groups, then the load balancers whose listeners refer to them.
pub(super) fn load_balancing(
    im: &mut Import,
    seen: &Seen,
) -> Result<(Vec<T>, Vec<T>, Balancers), ImportError> {
    let mut groups = target_groups(im, seen)?;
    let (lbs, balancers) = load_balancers(im, seen, &mut groups)?;
    let tgs = groups.into_iter().map(|g| table(g.table)).collect();
    Ok((lbs, tgs, balancers))
}

/// An ELB resource's per-resource export file suffix: the ARN's resource part after `kind/`,
/// slashes as underscores (how `export-aws.sh` names them).
fn arn_part(arn: &str, kind: &str) -> String {
    arn.rsplit_once(&format!(":{kind}/"))
        .map_or(arn, |x| x.1)
        .replace('/', "_")
}

/// `describe-*-attributes` output as key -> value (absent file: empty).
fn attributes(im: &Import, file: &str) -> Result<BTreeMap<String, String>, ImportError> {
    let Some(d) = im.read(file)? else {
        return Ok(BTreeMap::new());
    };
    let mut m = BTreeMap::new();
    for (p, a) in d.list("Attributes")? {
        m.insert(
            d.str(a, &p, "Key")?.to_string(),
            d.str(a, &p, "Value")?.to_string(),
        );
    }
    Ok(m)
}

/// Integer fields AWS returns as numbers (or, in some exports, strings).
fn int(x: &Value, key: &str) -> Option<i64> {
    match x.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn target_groups(im: &mut Import, seen: &Seen) -> Result<Vec<Group>, ImportError> {
    let mut groups = Vec::new();
    let Some(d) = im.read("elbv2-describe-target-groups")? else {
        return Ok(groups);
    };
    for (p, x) in d.list("TargetGroups")? {
        if let Some(g) = target_group(im, seen, &d, &p, x)? {
            groups.push(g);
        }
    }
    Ok(groups)
}

/// One target group; `None` (warned) when its protocol, target type or VPC is not imported.
fn target_group(
    im: &mut Import,
    seen: &Seen,
    d: &Doc,
    p: &str,
    x: &Value,
) -> Result<Option<Group>, ImportError> {
    let arn = d.str(x, p, "TargetGroupArn")?;
    let name = opt(x, "TargetGroupName").unwrap_or(arn);
    let what = format!("target group {arn} ({name})");
    let protocol = opt(x, "Protocol").unwrap_or("?");
    if !matches!(protocol, "TCP" | "UDP" | "TCP_UDP" | "TLS" | "GENEVE") {
        im.warn(format!("{what}: protocol {protocol} (an application load balancer's) is not modelled, not imported"));
        return Ok(None);
    }
    match opt(x, "TargetType").unwrap_or("instance") {
        "instance" | "ip" => {}
        other => {
            im.warn(format!(
                "{what}: targets of type {other} are not modelled, not imported"
            ));
            return Ok(None);
        }
    }
    let Some(vpc) = opt(x, "VpcId").filter(|v| seen.vpcs.contains_key(*v)) else {
        im.warn(format!(
            "{what}: its VPC {} is not in the export, not imported",
            opt(x, "VpcId").unwrap_or("(none)")
        ));
        return Ok(None);
    };
    let geneve = protocol == "GENEVE";
    let port = int(x, "Port").unwrap_or(if geneve { 6081 } else { 0 });
    let mut t = vec![
        ("id", s(arn)),
        ("name", s(name)),
        ("vpc", s(vpc)),
        ("protocol", s(protocol)),
        ("port", T::Integer(port)),
    ];
    if opt(x, "IpAddressType") == Some("ipv6") {
        t.push(("ip_address_type", s("ipv6")));
    }
    t.push(("health_check", health_check(im, x, &what)));
    let part = arn_part(arn, "targetgroup");
    group_attributes(im, &mut t, &part, protocol, &what)?;
    let targets = registered_targets(im, seen, &part, vpc, port, geneve, &what)?;
    t.push(("targets", T::Array(targets)));
    Ok(Some(Group {
        arn: arn.to_string(),
        protocol: protocol.to_string(),
        vpc: vpc.to_string(),
        table: t,
        used_by: None,
    }))
}

/// A group's health check, within the ranges AWS and the model share (outside: warned, the
/// default used).
fn health_check(im: &mut Import, x: &Value, what: &str) -> T {
    let mut hc = vec![];
    let hp = opt(x, "HealthCheckProtocol").unwrap_or("TCP");
    if matches!(hp, "TCP" | "HTTP" | "HTTPS") {
        hc.push(("protocol", s(hp)));
        if hp != "TCP" {
            if let Some(path) = opt(x, "HealthCheckPath") {
                hc.push(("path", s(path)));
            }
        }
    } else {
        im.warn(format!(
            "{what}: health-check protocol {hp} not modelled, TCP used"
        ));
    }
    if let Some(port) = opt(x, "HealthCheckPort").and_then(|v| v.parse::<u16>().ok()) {
        hc.push(("port", T::Integer(port.into())));
    }
    let interval = int(x, "HealthCheckIntervalSeconds").filter(|v| (5..=300).contains(v));
    for (key, field, range) in [
        ("HealthyThresholdCount", "healthy_threshold", 2..=10),
        ("UnhealthyThresholdCount", "unhealthy_threshold", 2..=10),
        ("HealthCheckIntervalSeconds", "interval_seconds", 5..=300),
    ] {
        match int(x, key) {
            Some(v) if range.contains(&v) => hc.push((field, T::Integer(v))),
            Some(v) => im.warn(format!(
                "{what}: {key} {v} is outside {}..={}, the default used",
                range.start(),
                range.end()
            )),
            None => {}
        }
    }
    if let Some(v) = int(x, "HealthCheckTimeoutSeconds") {
        if (2..=120).contains(&v) && v < interval.unwrap_or(30) {
            hc.push(("timeout_seconds", T::Integer(v)));
        } else {
            im.warn(format!("{what}: HealthCheckTimeoutSeconds {v} is not 2..=120 and shorter than the interval, the default used"));
        }
    }
    table(hc)
}

/// The group attributes the model has: PROXY v2, cross-zone, and for GENEVE groups
/// stickiness, failover and the TCP idle timeout.
fn group_attributes(
    im: &mut Import,
    t: &mut Vec<(&'static str, T)>,
    part: &str,
    protocol: &str,
    what: &str,
) -> Result<(), ImportError> {
    let attrs = attributes(
        im,
        &format!("elbv2-describe-target-group-attributes-{part}"),
    )?;
    let on = |k: &str| attrs.get(k).map(String::as_str) == Some("true");
    if on("proxy_protocol_v2.enabled") {
        if matches!(protocol, "TCP" | "TLS") {
            t.push(("proxy_protocol_v2", T::Boolean(true)));
        } else {
            im.warn(format!(
                "{what}: proxy_protocol_v2.enabled on a {protocol} group is not modelled, left off"
            ));
        }
    }
    match attrs
        .get("load_balancing.cross_zone.enabled")
        .map(String::as_str)
    {
        Some("true") => t.push(("cross_zone", T::Boolean(true))),
        Some("false") => t.push(("cross_zone", T::Boolean(false))),
        _ => {}
    }
    match attrs.get("preserve_client_ip.enabled").map(String::as_str) {
        Some("true") if protocol != "GENEVE" => t.push(("preserve_client_ip", T::Boolean(true))),
        Some("false") if protocol != "GENEVE" => t.push(("preserve_client_ip", T::Boolean(false))),
        _ => {}
    }
    // Unhealthy connection termination (default on) and the draining interval.
    let termination = attrs.get("target_health_state.unhealthy.connection_termination.enabled");
    if termination.map(String::as_str) == Some("false") && protocol != "GENEVE" {
        t.push(("unhealthy_connection_termination", T::Boolean(false)));
        let drain = attrs
            .get("target_health_state.unhealthy.draining_interval_seconds")
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|&d| d > 0);
        if let Some(d) = drain {
            t.push(("unhealthy_draining_interval", T::Integer(d)));
        }
    }
    // Routing failover thresholds; AWS's defaults (count 1, percentage off) add nothing.
    let count = attrs
        .get("target_group_health.unhealthy_state_routing.minimum_healthy_targets.count")
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|&c| c > 1);
    let pct = attrs
        .get("target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage")
        .and_then(|v| v.parse::<i64>().ok());
    if count.is_some() || pct.is_some() {
        let mut req = Vec::new();
        if let Some(c) = count {
            req.push(("minimum_healthy_targets", T::Integer(c)));
        }
        if let Some(p) = pct {
            req.push(("minimum_healthy_percentage", T::Integer(p)));
        }
        t.push(("health_requirements", table(req)));
    }
    if protocol != "GENEVE" {
        if on("stickiness.enabled") {
            im.warn(format!(
                "{what}: source-IP stickiness is not modelled, flows hashed by 5-tuple"
            ));
        }
        return Ok(());
    }
    if on("stickiness.enabled") {
        match attrs.get("stickiness.type").map(String::as_str) {
            Some("source_ip_dest_ip") => t.push(("stickiness", s("2-tuple"))),
            Some("source_ip_dest_ip_proto") => t.push(("stickiness", s("3-tuple"))),
            _ => {}
        }
    }
    let mut failover = vec![];
    for (key, field) in [
        ("target_failover.on_unhealthy", "on_unhealthy"),
        ("target_failover.on_deregistration", "on_deregistration"),
    ] {
        match attrs.get(key).map(String::as_str) {
            Some(v @ ("rebalance" | "no_rebalance")) => failover.push((field, s(v))),
            Some(v) => im.warn(format!("{what}: {key} = {v} not modelled")),
            None => {}
        }
    }
    if !failover.is_empty() {
        t.push(("failover", table(failover)));
    }
    if let Some(v) = attrs
        .get("tcp.idle_timeout.seconds")
        .and_then(|v| v.parse::<i64>().ok())
    {
        if (60..=6000).contains(&v) {
            t.push(("tcp_idle_timeout", T::Integer(v)));
        }
    }
    Ok(())
}

/// The group's registered targets: imported instances, and addresses inside its VPC.
fn registered_targets(
    im: &mut Import,
    seen: &Seen,
    part: &str,
    vpc: &str,
    port: i64,
    geneve: bool,
    what: &str,
) -> Result<Vec<T>, ImportError> {
    let mut targets = Vec::new();
    let Some(h) = im.read(&format!("elbv2-describe-target-health-{part}"))? else {
        return Ok(targets);
    };
    for (hp, desc) in h.list("TargetHealthDescriptions")? {
        let target = desc
            .get("Target")
            .ok_or_else(|| h.err(&hp, "missing Target"))?;
        let id = h.str(target, &format!("{hp}.Target"), "Id")?;
        let mut tt = if id.starts_with("i-") {
            if !seen.instances.contains(id) {
                im.warn(format!(
                    "{what}: target {id} is not an instance in the export, left out"
                ));
                continue;
            }
            vec![("instance", s(id))]
        } else {
            match id.parse::<std::net::IpAddr>() {
                Ok(ip) if seen.in_vpc(vpc, ip) => vec![("ip", s(id))],
                Ok(_) => {
                    im.warn(format!("{what}: target {id} is outside {vpc} (peered or on-premises targets are not modelled), left out"));
                    continue;
                }
                Err(_) => {
                    im.warn(format!(
                        "{what}: target {id} is neither an instance nor an address, left out"
                    ));
                    continue;
                }
            }
        };
        if let Some(tp) = int(target, "Port").filter(|tp| *tp != port && !geneve) {
            tt.push(("port", T::Integer(tp)));
        }
        targets.push(table(tt));
    }
    Ok(targets)
}

fn load_balancers(
    im: &mut Import,
    seen: &Seen,
    groups: &mut [Group],
) -> Result<(Vec<T>, Balancers), ImportError> {
    let mut lbs = Vec::new();
    let mut balancers = Balancers {
        kinds: BTreeMap::new(),
        zones: BTreeMap::new(),
    };
    let Some(d) = im.read("elbv2-describe-load-balancers")? else {
        return Ok((lbs, balancers));
    };
    for (p, x) in d.list("LoadBalancers")? {
        let arn = d.str(x, &p, "LoadBalancerArn")?;
        if let Some((t, kind, zones)) = load_balancer(im, seen, groups, arn, x)? {
            balancers.kinds.insert(arn.to_string(), kind);
            balancers.zones.insert(arn.to_string(), zones);
            lbs.push(t);
        }
    }
    Ok((lbs, balancers))
}

/// A load balancer's table, kind and node zones.
type Imported = (T, &'static str, BTreeSet<String>);

/// One load balancer with its kind and node zones; `None` (warned) when its type, state or
/// VPC is not imported, or no node or (a GWLB) not exactly one listener is left.
fn load_balancer(
    im: &mut Import,
    seen: &Seen,
    groups: &mut [Group],
    arn: &str,
    x: &Value,
) -> Result<Option<Imported>, ImportError> {
    let name = opt(x, "LoadBalancerName").unwrap_or(arn);
    let what = format!("load balancer {arn} ({name})");
    let kind: &'static str = match opt(x, "Type").unwrap_or("?") {
        "network" => "network",
        "gateway" => "gateway",
        other => {
            im.warn(format!(
                "{what}: type {other} is not modelled, not imported"
            ));
            return Ok(None);
        }
    };
    if matches!(x["State"]["Code"].as_str(), Some("failed")) {
        im.warn(format!("{what}: in state failed, not imported"));
        return Ok(None);
    }
    let Some(vpc) = opt(x, "VpcId").filter(|v| seen.vpcs.contains_key(*v)) else {
        im.warn(format!(
            "{what}: its VPC is not in the export, not imported"
        ));
        return Ok(None);
    };
    let (mappings, zones) = node_mappings(im, seen, arn, x, &what);
    if mappings.is_empty() {
        im.warn(format!(
            "{what}: no node with a known address, not imported"
        ));
        return Ok(None);
    }
    let mut t = vec![
        ("id", s(arn)),
        ("name", s(name)),
        ("type", s(kind)),
        ("vpc", s(vpc)),
        ("subnet_mappings", T::Array(mappings)),
    ];
    if kind == "network" {
        nlb_fields(&mut t, x);
        if let Some(d) = opt(x, "DNSName") {
            t.push(("dns_name", s(d)));
        }
    }
    // `dualstack-without-public-ipv4` differs only in the public addresses, which an
    // internal NLB does not have and vpce's internet-facing ones take from subnet mappings.
    if matches!(
        opt(x, "IpAddressType"),
        Some("dualstack" | "dualstack-without-public-ipv4")
    ) {
        t.push(("ip_address_type", s("dualstack")));
    }
    let part = arn_part(arn, "loadbalancer");
    let attrs = attributes(
        im,
        &format!("elbv2-describe-load-balancer-attributes-{part}"),
    )?;
    if attrs
        .get("load_balancing.cross_zone.enabled")
        .is_some_and(|v| v == "true")
    {
        t.push(("cross_zone", T::Boolean(true)));
    }
    let lb = Balancer {
        arn,
        kind,
        vpc,
        what: &what,
    };
    let listeners = listeners(im, groups, &lb, &part)?;
    if kind == "gateway" && listeners.len() != 1 {
        im.warn(format!(
            "{what}: a gateway load balancer needs exactly one listener, the export gives {} usable; not imported",
            listeners.len()
        ));
        for g in groups.iter_mut() {
            if g.used_by.as_deref() == Some(arn) {
                g.used_by = None;
            }
        }
        return Ok(None);
    }
    t.push(("listeners", T::Array(listeners)));
    Ok(Some((table(t), kind, zones)))
}

/// An NLB's scheme and security groups (with PrivateLink enforcement).
fn nlb_fields(t: &mut Vec<(&'static str, T)>, x: &Value) {
    if opt(x, "Scheme") == Some("internet-facing") {
        t.push(("scheme", s("internet-facing")));
    }
    let sgs: Vec<String> = items(x, "SecurityGroups")
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if sgs.is_empty() {
        return;
    }
    t.push(("security_groups", strings(sgs)));
    if opt(x, "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic") == Some("off") {
        t.push((
            "enforce_security_group_inbound_rules_on_private_link_traffic",
            T::Boolean(false),
        ));
    }
}

/// The load balancer's nodes as subnet mappings, and their zones. The nodes' ENIs, when
/// exported, are the load balancer's.
fn node_mappings(
    im: &mut Import,
    seen: &Seen,
    arn: &str,
    x: &Value,
    what: &str,
) -> (Vec<T>, BTreeSet<String>) {
    let description = format!(
        "ELB {}",
        arn.rsplit_once(":loadbalancer/").map_or(arn, |x| x.1)
    );
    let node_enis: Vec<&Value> = seen
        .enis
        .map(|e| {
            items(&e.v, "NetworkInterfaces")
                .filter(|n| opt(n, "Description") == Some(description.as_str()))
                .collect()
        })
        .unwrap_or_default();
    for n in &node_enis {
        if let Some(id) = opt(n, "NetworkInterfaceId") {
            im.owned_enis.insert(id.to_string());
        }
    }
    let mut mappings = Vec::new();
    let mut zones = BTreeSet::new();
    for (k, az) in items(x, "AvailabilityZones").enumerate() {
        let Some(subnet) = opt(az, "SubnetId") else {
            continue; // an Outpost or Local Zone without a subnet id
        };
        let listed = items(az, "LoadBalancerAddresses").find_map(|a| opt(a, "PrivateIPv4Address"));
        let from_eni = || {
            node_enis
                .iter()
                .find(|n| opt(n, "SubnetId") == Some(subnet))
                .and_then(|n| opt(n, "PrivateIpAddress"))
        };
        let Some(ip) = listed.or_else(from_eni) else {
            im.warn(format!("{what}: no private address for its node in {subnet} (AvailabilityZones[{k}]: neither LoadBalancerAddresses nor an `{description}` network interface in the export), node left out"));
            continue;
        };
        if !seen.in_subnet(subnet, ip) {
            im.warn(format!("{what}: node address {ip} is not inside subnet {subnet} (or the subnet is not in the export), node left out"));
            continue;
        }
        zones.insert(seen.zone(subnet).unwrap_or_default().to_string());
        let mut m = vec![("subnet", s(subnet)), ("private_ip", s(ip))];
        let node_eni = || {
            node_enis
                .iter()
                .find(|n| opt(n, "SubnetId") == Some(subnet))
        };
        // A dual-stack node's IPv6 address: listed, or its interface's.
        let v6 = items(az, "LoadBalancerAddresses")
            .find_map(|a| opt(a, "IPv6Address"))
            .or_else(|| {
                node_eni()
                    .and_then(|n| items(n, "Ipv6Addresses").find_map(|a| opt(a, "Ipv6Address")))
            });
        if let Some(a) =
            v6.filter(|_| opt(x, "IpAddressType").is_some_and(|t| t.starts_with("dualstack")))
        {
            m.push(("ipv6_address", s(a)));
        }
        // An internet-facing load balancer's public address in the zone (its Elastic IP, or
        // the one AWS gave the node's interface).
        let public = items(az, "LoadBalancerAddresses")
            .find_map(|a| opt(a, "IpAddress"))
            .or_else(|| {
                node_eni()
                    .and_then(|n| n.get("Association"))
                    .and_then(|a| opt(a, "PublicIp"))
            });
        if let Some(p) = public.filter(|_| opt(x, "Scheme") == Some("internet-facing")) {
            m.push(("public_ip", s(p)));
        }
        mappings.push(table(m));
    }
    (mappings, zones)
}

/// The load balancer a listener belongs to.
struct Balancer<'a> {
    arn: &'a str,
    kind: &'static str,
    vpc: &'a str,
    what: &'a str,
}

/// Listeners: forward actions to imported target groups this listener can feed.
fn listeners(
    im: &mut Import,
    groups: &mut [Group],
    lb: &Balancer,
    part: &str,
) -> Result<Vec<T>, ImportError> {
    let mut listeners = Vec::new();
    let Some(l) = im.read(&format!("elbv2-describe-listeners-{part}"))? else {
        return Ok(listeners);
    };
    for (lp, y) in l.list("Listeners")? {
        if let Some(t) = listener(im, groups, lb, &lp, y) {
            listeners.push(t);
        }
    }
    Ok(listeners)
}

/// The target groups a listener's forward action names, first one first.
fn forwarded_groups(y: &Value) -> Vec<&str> {
    let forward = items(y, "DefaultActions").find(|a| opt(a, "Type") == Some("forward"));
    forward
        .map(|a| {
            let mut v: Vec<&str> = opt(a, "TargetGroupArn").into_iter().collect();
            for g in items(&a["ForwardConfig"], "TargetGroups") {
                if let Some(arn) = opt(g, "TargetGroupArn") {
                    if !v.contains(&arn) {
                        v.push(arn);
                    }
                }
            }
            v
        })
        .unwrap_or_default()
}

/// One listener, `None` (warned) when it cannot forward to an imported group of its own.
fn listener(
    im: &mut Import,
    groups: &mut [Group],
    lb: &Balancer,
    lp: &str,
    y: &Value,
) -> Option<T> {
    let what = lb.what;
    let protocol = opt(y, "Protocol");
    let port = int(y, "Port");
    let shown = match (protocol, port) {
        (Some(pr), Some(po)) => format!("listener {pr} {po}"),
        _ => "listener".to_string(),
    };
    let mut tgs = forwarded_groups(y);
    if tgs.is_empty() {
        im.warn(format!(
            "{what}: {shown} ({lp}) does not forward to a target group, left out"
        ));
        return None;
    }
    if tgs.len() > 1 {
        im.warn(format!(
            "{what}: {shown} forwards to {} target groups; only the first, {}, is modelled",
            tgs.len(),
            tgs[0]
        ));
    }
    let tg_arn = tgs.swap_remove(0);
    let Some(g) = groups.iter_mut().find(|g| g.arn == tg_arn) else {
        im.warn(format!("{what}: {shown} forwards to target group {tg_arn}, which is not imported; listener left out"));
        return None;
    };
    let fits = match (lb.kind, protocol) {
        ("gateway", _) => g.protocol == "GENEVE",
        (_, Some("TLS")) => matches!(g.protocol.as_str(), "TCP" | "TLS"),
        (_, Some(pr)) => g.protocol == pr,
        _ => false,
    };
    if !fits || g.vpc != lb.vpc {
        im.warn(format!(
            "{what}: {shown} cannot forward to target group {tg_arn} ({} in {}), listener left out",
            g.protocol, g.vpc
        ));
        return None;
    }
    if let Some(other) = g.used_by.as_ref().filter(|o| *o != lb.arn) {
        im.warn(format!("{what}: {shown} forwards to target group {tg_arn}, already used by {other} (the model gives a group one load balancer); listener left out"));
        return None;
    }
    g.used_by = Some(lb.arn.to_string());
    let mut lt = vec![];
    if lb.kind == "network" {
        match (protocol, port) {
            (Some(pr @ ("TCP" | "UDP" | "TCP_UDP" | "TLS")), Some(po)) => {
                lt.push(("protocol", s(pr)));
                lt.push(("port", T::Integer(po)));
            }
            _ => {
                im.warn(format!("{what}: {shown} ({lp}) has no TCP, UDP, TCP_UDP or TLS protocol and port, left out"));
                return None;
            }
        }
    }
    lt.push(("target_group", s(tg_arn)));
    Some(table(lt))
}
