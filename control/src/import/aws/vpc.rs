//! The network itself from EC2's describe calls: VPCs, subnets, internet gateways, managed
//! prefix lists, route tables and security groups.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use toml::Value as T;

use super::{items, name_tag, opt, s, strings, table, Doc, Import, ImportError};

/// VPC id -> its IPv4 and IPv6 blocks.
pub(super) type VpcBlocks = BTreeMap<String, Vec<ipnet::IpNet>>;

/// VPCs, and each VPC's blocks for the parts that place addresses in them.
pub(super) fn vpcs(im: &mut Import) -> Result<(Vec<T>, VpcBlocks), ImportError> {
    let mut vpcs = Vec::new();
    let mut blocks = VpcBlocks::new();
    let Some(d) = im.read("ec2-describe-vpcs")? else {
        return Ok((vpcs, blocks));
    };
    for (p, x) in d.list("Vpcs")? {
        let id = d.str(x, &p, "VpcId")?;
        let mut v4: Vec<String> = items(x, "CidrBlockAssociationSet")
            .filter(|a| {
                a["CidrBlockState"]["State"]
                    .as_str()
                    .unwrap_or("associated")
                    == "associated"
            })
            .filter_map(|a| opt(a, "CidrBlock").map(str::to_string))
            .collect();
        if v4.is_empty() {
            v4.push(d.str(x, &p, "CidrBlock")?.to_string());
        }
        let v6: Vec<String> = items(x, "Ipv6CidrBlockAssociationSet")
            .filter_map(|a| opt(a, "Ipv6CidrBlock").map(str::to_string))
            .collect();
        let parsed = v4.iter().chain(&v6).filter_map(|b| b.parse().ok());
        blocks.insert(id.to_string(), parsed.collect());
        let mut t = vec![("id", s(id)), ("cidr_blocks", strings(v4))];
        if let Some(n) = name_tag(x) {
            t.push(("name", T::String(n)));
        }
        if !v6.is_empty() {
            t.push(("ipv6_cidr_blocks", strings(v6)));
        }
        vpcs.push(table(t));
    }
    Ok((vpcs, blocks))
}

/// Subnet id -> (IPv4 block, availability zone).
pub(super) type SubnetCidrs = BTreeMap<String, (ipnet::Ipv4Net, String)>;

/// Subnets (their zones are the configuration's), and each one's block and zone.
pub(super) fn subnets(im: &mut Import) -> Result<(Vec<T>, SubnetCidrs), ImportError> {
    let mut subnets = Vec::new();
    let mut cidrs = SubnetCidrs::new();
    let Some(d) = im.read("ec2-describe-subnets")? else {
        return Ok((subnets, cidrs));
    };
    for (p, x) in d.list("Subnets")? {
        let az = d.str(x, &p, "AvailabilityZone")?;
        if let Ok(net) = d.str(x, &p, "CidrBlock")?.parse() {
            cidrs.insert(d.str(x, &p, "SubnetId")?.to_string(), (net, az.to_string()));
        }
        im.zones.insert(az.to_string());
        if let Some(id) = opt(x, "AvailabilityZoneId") {
            im.zone_ids.insert(az.to_string(), id.to_string());
        }
        let mut t = vec![
            ("id", s(d.str(x, &p, "SubnetId")?)),
            ("vpc", s(d.str(x, &p, "VpcId")?)),
            ("availability_zone", s(az)),
            ("cidr", s(d.str(x, &p, "CidrBlock")?)),
        ];
        if let Some(n) = name_tag(x) {
            t.push(("name", T::String(n)));
        }
        if let Some(c) =
            items(x, "Ipv6CidrBlockAssociationSet").find_map(|a| opt(a, "Ipv6CidrBlock"))
        {
            t.push(("ipv6_cidr", s(c)));
        }
        subnets.push(table(t));
    }
    Ok((subnets, cidrs))
}

/// Internet gateways attached to a VPC (a detached one is a warning).
pub(super) fn internet_gateways(im: &mut Import) -> Result<Vec<T>, ImportError> {
    let mut igws = Vec::new();
    let Some(d) = im.read("ec2-describe-internet-gateways")? else {
        return Ok(igws);
    };
    for (p, x) in d.list("InternetGateways")? {
        let id = d.str(x, &p, "InternetGatewayId")?;
        match items(x, "Attachments").find_map(|a| opt(a, "VpcId")) {
            Some(vpc) => igws.push(table(vec![("id", s(id)), ("vpc", s(vpc))])),
            None => im.warn(format!(
                "internet gateway {id}: not attached to a VPC, not imported"
            )),
        }
    }
    Ok(igws)
}

/// Managed prefix lists, with the entries exported for the lists in use (the others are
/// left out: nothing refers to them).
pub(super) fn prefix_lists(im: &mut Import) -> Result<Vec<T>, ImportError> {
    let mut lists = Vec::new();
    let Some(d) = im.read("ec2-describe-managed-prefix-lists")? else {
        return Ok(lists);
    };
    for (p, x) in d.list("PrefixLists")? {
        let id = d.str(x, &p, "PrefixListId")?;
        let name = opt(x, "PrefixListName").unwrap_or(id);
        let Some(e) = im.read(&format!("ec2-get-managed-prefix-list-entries-{id}"))? else {
            continue; // not used by any route or group
        };
        let entries: Vec<T> = e
            .list("Entries")?
            .into_iter()
            .map(|(ep, y)| {
                let c = e.str(y, &ep, "Cidr")?;
                Ok(match opt(y, "Description") {
                    Some(d) => table(vec![("cidr", s(c)), ("description", s(d))]),
                    None => s(c),
                })
            })
            .collect::<Result<_, _>>()?;
        let family = if opt(x, "AddressFamily") == Some("IPv6") {
            "IPv6"
        } else {
            "IPv4"
        };
        let mut t = vec![
            ("id", s(id)),
            ("name", s(name)),
            ("address_family", s(family)),
            ("entries", T::Array(entries)),
        ];
        if opt(x, "OwnerId") != Some("AWS") {
            if let Some(m) = x.get("MaxEntries").and_then(Value::as_i64) {
                t.push(("max_entries", T::Integer(m)));
            }
        }
        im.list_names.push((id.to_string(), name.to_string()));
        lists.push(table(t));
    }
    Ok(lists)
}

/// Route tables: associations and static routes. Routes AWS implies (local, propagated, a
/// gateway endpoint's) are left to the model; a target kind it does not model is a warning.
pub(super) fn route_tables(im: &mut Import) -> Result<Vec<T>, ImportError> {
    let mut tables = Vec::new();
    let Some(d) = im.read("ec2-describe-route-tables")? else {
        return Ok(tables);
    };
    for (p, x) in d.list("RouteTables")? {
        let id = d.str(x, &p, "RouteTableId")?;
        let mut main = false;
        let mut subs = Vec::new();
        let mut gws = Vec::new();
        for a in items(x, "Associations") {
            if a.get("Main").and_then(Value::as_bool) == Some(true) {
                main = true;
            }
            if let Some(sn) = opt(a, "SubnetId") {
                subs.push(sn.to_string());
            }
            if let Some(g) = opt(a, "GatewayId") {
                gws.push(g.to_string());
            }
        }
        let mut routes = Vec::new();
        for (k, r) in items(x, "Routes").enumerate() {
            if let Some(route) = route(im, &d, id, &format!("{p}.Routes[{k}]"), r)? {
                routes.push(route);
            }
        }
        let mut t = vec![
            ("id", s(id)),
            ("vpc", s(d.str(x, &p, "VpcId")?)),
            ("routes", T::Array(routes)),
        ];
        if main {
            t.push(("main", T::Boolean(true)));
        }
        if !subs.is_empty() {
            t.push(("subnets", strings(subs)));
        }
        if !gws.is_empty() {
            t.push(("gateways", strings(gws)));
        }
        let propagating: Vec<String> = items(x, "PropagatingVgws")
            .filter_map(|g| opt(g, "GatewayId").map(str::to_string))
            .collect();
        if !propagating.is_empty() {
            t.push(("propagating_gateways", strings(propagating)));
        }
        if let Some(n) = name_tag(x) {
            t.push(("name", T::String(n)));
        }
        tables.push(table(t));
    }
    Ok(tables)
}

/// One route of table `id`, `None` when it is implied or not modelled (warned).
fn route(
    im: &mut Import,
    d: &Doc,
    id: &str,
    at: &str,
    r: &Value,
) -> Result<Option<T>, ImportError> {
    let dest = opt(r, "DestinationCidrBlock")
        .or(opt(r, "DestinationIpv6CidrBlock"))
        .or(opt(r, "DestinationPrefixListId"));
    let Some(dest) = dest else {
        return Err(d.err(at, "a route without a destination"));
    };
    let gw = opt(r, "GatewayId");
    if gw == Some("local") || opt(r, "Origin") == Some("EnableVgwRoutePropagation") {
        return Ok(None); // implied by the VPC / propagated
    }
    if gw.is_some_and(|g| g.starts_with("vpce-")) && opt(r, "DestinationPrefixListId").is_some() {
        return Ok(None); // from the gateway endpoint's association
    }
    let target = if opt(r, "State") == Some("blackhole") {
        Some("blackhole")
    } else {
        gw.or(opt(r, "NatGatewayId"))
            .or(opt(r, "NetworkInterfaceId"))
            .or(opt(r, "VpcPeeringConnectionId"))
            .or(opt(r, "TransitGatewayId"))
    };
    match target {
        Some(t) => Ok(Some(table(vec![
            ("destination", s(dest)),
            ("target", s(t)),
        ]))),
        None => {
            im.warn(format!(
                "route table {id}: route {dest} -> {} not imported (target kind not modelled)",
                opt(r, "InstanceId")
                    .or(opt(r, "CarrierGatewayId"))
                    .or(opt(r, "LocalGatewayId"))
                    .unwrap_or("?")
            ));
            Ok(None)
        }
    }
}

/// Security groups with their ingress and egress rules.
pub(super) fn security_groups(im: &mut Import) -> Result<Vec<T>, ImportError> {
    let mut groups = Vec::new();
    let Some(d) = im.read("ec2-describe-security-groups")? else {
        return Ok(groups);
    };
    for (p, x) in d.list("SecurityGroups")? {
        let id = d.str(x, &p, "GroupId")?;
        let mut t = vec![
            ("id", s(id)),
            ("vpc", s(d.str(x, &p, "VpcId")?)),
            ("ingress", T::Array(rules(x, "IpPermissions"))),
            ("egress", T::Array(rules(x, "IpPermissionsEgress"))),
        ];
        if let Some(n) = opt(x, "GroupName") {
            t.push(("name", s(n)));
        }
        groups.push(table(t));
    }
    Ok(groups)
}

/// The model's protocol name of an `IpProtocol`.
fn protocol(p: &str) -> String {
    match p {
        "-1" => "all".to_string(),
        "6" => "tcp".into(),
        "17" => "udp".into(),
        "1" => "icmp".into(),
        "58" => "icmpv6".into(),
        other => other.to_string(),
    }
}

/// A group's rules under `key`: one model rule per peer (CIDR, prefix list, group).
fn rules(x: &Value, key: &str) -> Vec<T> {
    let mut v = Vec::new();
    for r in items(x, key) {
        let proto = protocol(opt(r, "IpProtocol").unwrap_or("-1"));
        let from = r.get("FromPort").and_then(Value::as_i64);
        let to = r.get("ToPort").and_then(Value::as_i64);
        let rule = |peer: (&str, T), desc: Option<&str>| {
            let mut t = vec![("protocol", s(&proto)), peer];
            match (proto.as_str(), from, to) {
                ("tcp" | "udp", Some(a), Some(b)) if a == b => t.push(("ports", T::Integer(a))),
                ("tcp" | "udp", Some(a), Some(b)) => t.push(("ports", s(&format!("{a}-{b}")))),
                ("icmp" | "icmpv6", Some(a), _) if a >= 0 => {
                    t.push(("icmp_type", T::Integer(a)));
                    if let Some(c) = to.filter(|c| *c >= 0) {
                        t.push(("icmp_code", T::Integer(c)));
                    }
                }
                _ => {}
            }
            if let Some(d) = desc {
                t.push(("description", s(d)));
            }
            table(t)
        };
        for (list, id, peer) in [
            ("IpRanges", "CidrIp", "cidr"),
            ("Ipv6Ranges", "CidrIpv6", "cidr"),
            ("PrefixListIds", "PrefixListId", "prefix_list"),
            ("UserIdGroupPairs", "GroupId", "security_group"),
        ] {
            for c in items(r, list) {
                if let Some(value) = opt(c, id) {
                    v.push(rule((peer, s(value)), opt(c, "Description")));
                }
            }
        }
    }
    v
}

/// Drops the routes whose target (an endpoint, NAT gateway or ENI) was not imported: they
/// would not validate. Each is a warning.
pub(super) fn prune_routes(im: &mut Import, tables: &mut [T], targets: &BTreeSet<String>) {
    for rt in tables {
        let id = rt.get("id").and_then(T::as_str).unwrap_or("?").to_string();
        let Some(T::Array(routes)) = rt.get_mut("routes") else {
            continue;
        };
        routes.retain(|r| {
            let dest = r.get("destination").and_then(T::as_str).unwrap_or("?");
            let target = r.get("target").and_then(T::as_str).unwrap_or("?");
            let kept = !["vpce-", "nat-", "eni-"]
                .iter()
                .any(|p| target.starts_with(p))
                || targets.contains(target);
            if !kept {
                im.warnings.push(format!(
                    "route table {id}: route {dest} -> {target} left out: {target} is not imported"
                ));
            }
            kept
        });
    }
}

/// Turns DNS hostnames on in the VPCs whose interface endpoints use private DNS (AWS allows
/// private DNS only with both VPC DNS attributes on; they are not in describe-vpcs).
pub(super) fn enable_dns(vpcs: &mut [T], dns_vpcs: &BTreeSet<String>) {
    for v in vpcs {
        if let T::Table(t) = v {
            if t.get("id")
                .and_then(T::as_str)
                .is_some_and(|id| dns_vpcs.contains(id))
            {
                t.insert("enable_dns_hostnames".into(), T::Boolean(true));
            }
        }
    }
}
