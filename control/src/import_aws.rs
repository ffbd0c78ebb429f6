//! `vpcectl import aws`: a native configuration from what `scripts/export-aws.sh` saved — the
//! AWS CLI's own JSON, one file per describe call.
//!
//! The output is TOML text built as a table and then loaded and validated like any
//! configuration, so an import that does not validate is caught here, not by the user. AWS ids
//! are kept; `Name` tags become names. What has no mapping yet is never dropped silently: each
//! such resource is a warning naming it. A missing file leaves its part of the model empty; a
//! file that is not the JSON its call returns is an error naming the file and the path inside
//! it (`RouteTables[2].Routes[0]`).
//!
//! Mapped: VPCs, subnets, internet gateways, route tables (associations, static routes;
//! gateway-endpoint routes come from the endpoints' associations, as the model wants),
//! managed prefix lists with their entries, security groups, instances (with their primary
//! ENI), ENIs of their own, NAT gateways, network and gateway load balancers with their
//! listeners, target groups with their attributes and registered targets, this account's
//! endpoint services with their connections, and gateway, interface and GWLB endpoints.
//!
//! The parts refer to each other, so they are read in dependency order (instances before the
//! target groups naming them, load balancers before the services they back, services before the
//! endpoints to them) and whatever is left out cascades as warnings: a service with no imported
//! load balancer, an endpoint to a service not in the export, a route to an endpoint left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use toml::{Table, Value as T};

/// The result of an import.
#[derive(Debug)]
pub struct Imported {
    pub toml: String,
    /// Resources that are not in the configuration, each with why.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}: not a directory")]
    NotADirectory(PathBuf),
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: not JSON: {source}")]
    Json {
        file: PathBuf,
        source: serde_json::Error,
    },
    #[error("{file}: at {path}: {message}")]
    Shape {
        file: PathBuf,
        path: String,
        message: String,
    },
}

/// One exported file.
struct Doc {
    file: PathBuf,
    v: Value,
}

impl Doc {
    fn err(&self, path: &str, message: impl Into<String>) -> ImportError {
        ImportError::Shape {
            file: self.file.clone(),
            path: path.to_string(),
            message: message.into(),
        }
    }

    /// The array under `key` (absent: empty).
    fn list(&self, key: &str) -> Result<Vec<(String, &Value)>, ImportError> {
        match self.v.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a
                .iter()
                .enumerate()
                .map(|(i, x)| (format!("{key}[{i}]"), x))
                .collect()),
            Some(_) => Err(self.err(key, "expected a list")),
        }
    }

    fn str<'a>(&self, x: &'a Value, path: &str, key: &str) -> Result<&'a str, ImportError> {
        x.get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| self.err(&format!("{path}.{key}"), "missing or not a string"))
    }
}

fn opt<'a>(x: &'a Value, key: &str) -> Option<&'a str> {
    x.get(key).and_then(Value::as_str)
}

fn items<'a>(x: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    x.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn name_tag(x: &Value) -> Option<String> {
    items(x, "Tags")
        .find(|t| opt(t, "Key") == Some("Name"))
        .and_then(|t| opt(t, "Value"))
        .map(str::to_string)
}

/// Where the exported files come from: a directory, or (fuzzing, tests) files in memory.
pub trait Source {
    /// The text of `NAME.json`, `None` when there is no such file.
    fn text(&self, name: &str) -> Result<Option<String>, std::io::Error>;
    /// How errors name the file.
    fn path(&self, name: &str) -> PathBuf;
    /// How the configuration's header names the export.
    fn describe(&self) -> String;
}

/// A directory `export-aws.sh` wrote.
#[derive(Debug)]
pub struct Dir<'a>(pub &'a Path);

impl Source for Dir<'_> {
    fn text(&self, name: &str) -> Result<Option<String>, std::io::Error> {
        match std::fs::read_to_string(self.path(name)) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(format!("{name}.json"))
    }
    fn describe(&self) -> String {
        self.0.display().to_string()
    }
}

/// Files in memory: `NAME` (without `.json`) -> text.
impl Source for BTreeMap<String, String> {
    fn text(&self, name: &str) -> Result<Option<String>, std::io::Error> {
        Ok(self.get(name).cloned())
    }
    fn path(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("{name}.json"))
    }
    fn describe(&self) -> String {
        "files in memory".into()
    }
}

fn read(dir: &dyn Source, name: &str) -> Result<Option<Doc>, ImportError> {
    let file = dir.path(name);
    let text = match dir.text(name) {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(None),
        Err(source) => return Err(ImportError::Read { file, source }),
    };
    let v = serde_json::from_str(&text).map_err(|source| ImportError::Json {
        file: file.clone(),
        source,
    })?;
    Ok(Some(Doc { file, v }))
}

fn table(pairs: Vec<(&str, T)>) -> T {
    let mut t = Table::new();
    for (k, v) in pairs {
        t.insert(k.to_string(), v);
    }
    T::Table(t)
}

fn s(v: &str) -> T {
    T::String(v.to_string())
}

fn strings<I: IntoIterator<Item = String>>(i: I) -> T {
    T::Array(i.into_iter().map(T::String).collect())
}

/// Imports the export in `dir`; `region` when the files do not tell (subnets' zones do).
pub fn import(dir: &Path, region: Option<&str>) -> Result<Imported, ImportError> {
    if !dir.is_dir() {
        return Err(ImportError::NotADirectory(dir.to_path_buf()));
    }
    import_from(&Dir(dir), region)
}

/// Imports the export `dir` holds (a directory, or files in memory).
pub fn import_from(dir: &dyn Source, region: Option<&str>) -> Result<Imported, ImportError> {
    let mut warnings = Vec::new();
    let mut out = Table::new();
    let mut zones = BTreeSet::new();

    // VPCs.
    let mut vpcs = Vec::new();
    let mut vpc_blocks: BTreeMap<String, Vec<ipnet::IpNet>> = BTreeMap::new();
    if let Some(d) = read(dir, "ec2-describe-vpcs")? {
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
            vpc_blocks.insert(
                id.to_string(),
                v4.iter()
                    .chain(&v6)
                    .filter_map(|b| b.parse().ok())
                    .collect(),
            );
            let mut t = vec![("id", s(id)), ("cidr_blocks", strings(v4))];
            if let Some(n) = name_tag(x) {
                t.push(("name", T::String(n)));
            }
            if !v6.is_empty() {
                t.push(("ipv6_cidr_blocks", strings(v6)));
            }
            vpcs.push(table(t));
        }
    }

    // Subnets.
    let mut subnets = Vec::new();
    let mut subnet_cidrs: BTreeMap<String, (ipnet::Ipv4Net, String)> = BTreeMap::new();
    if let Some(d) = read(dir, "ec2-describe-subnets")? {
        for (p, x) in d.list("Subnets")? {
            let az = d.str(x, &p, "AvailabilityZone")?;
            if let Ok(net) = d.str(x, &p, "CidrBlock")?.parse() {
                subnet_cidrs.insert(d.str(x, &p, "SubnetId")?.to_string(), (net, az.to_string()));
            }
            zones.insert(az.to_string());
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
    }

    // Internet gateways (attached ones).
    let mut igws = Vec::new();
    if let Some(d) = read(dir, "ec2-describe-internet-gateways")? {
        for (p, x) in d.list("InternetGateways")? {
            let id = d.str(x, &p, "InternetGatewayId")?;
            match items(x, "Attachments").find_map(|a| opt(a, "VpcId")) {
                Some(vpc) => igws.push(table(vec![("id", s(id)), ("vpc", s(vpc))])),
                None => warnings.push(format!(
                    "internet gateway {id}: not attached to a VPC, not imported"
                )),
            }
        }
    }

    // Managed prefix lists, with the entries exported for the lists in use.
    let mut lists = Vec::new();
    let mut list_names = Vec::new();
    if let Some(d) = read(dir, "ec2-describe-managed-prefix-lists")? {
        for (p, x) in d.list("PrefixLists")? {
            let id = d.str(x, &p, "PrefixListId")?;
            let name = opt(x, "PrefixListName").unwrap_or(id);
            let Some(e) = read(dir, &format!("ec2-get-managed-prefix-list-entries-{id}"))? else {
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
            list_names.push((id.to_string(), name.to_string()));
            lists.push(table(t));
        }
    }

    // Route tables.
    let mut tables = Vec::new();
    if let Some(d) = read(dir, "ec2-describe-route-tables")? {
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
                let dest = opt(r, "DestinationCidrBlock")
                    .or(opt(r, "DestinationIpv6CidrBlock"))
                    .or(opt(r, "DestinationPrefixListId"));
                let Some(dest) = dest else {
                    return Err(d.err(&format!("{p}.Routes[{k}]"), "a route without a destination"));
                };
                let gw = opt(r, "GatewayId");
                if gw == Some("local") || opt(r, "Origin") == Some("EnableVgwRoutePropagation") {
                    continue; // implied by the VPC / propagated
                }
                if gw.is_some_and(|g| g.starts_with("vpce-"))
                    && opt(r, "DestinationPrefixListId").is_some()
                {
                    continue; // from the gateway endpoint's association
                }
                let target = if opt(r, "State") == Some("blackhole") {
                    Some("blackhole")
                } else {
                    gw.or(opt(r, "NatGatewayId"))
                        .or(opt(r, "NetworkInterfaceId"))
                        .or(opt(r, "VpcPeeringConnectionId"))
                };
                match target {
                    Some(t) => routes.push(table(vec![("destination", s(dest)), ("target", s(t))])),
                    None => warnings.push(format!(
                        "route table {id}: route {dest} -> {} not imported (target kind not modelled)",
                        opt(r, "TransitGatewayId")
                            .or(opt(r, "InstanceId"))
                            .or(opt(r, "CarrierGatewayId"))
                            .or(opt(r, "LocalGatewayId"))
                            .unwrap_or("?")
                    )),
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
            if let Some(n) = name_tag(x) {
                t.push(("name", T::String(n)));
            }
            tables.push(table(t));
        }
    }

    // Security groups.
    let mut groups = Vec::new();
    if let Some(d) = read(dir, "ec2-describe-security-groups")? {
        for (p, x) in d.list("SecurityGroups")? {
            let id = d.str(x, &p, "GroupId")?;
            let rules = |key: &str| -> Vec<T> {
                let mut v = Vec::new();
                for r in items(x, key) {
                    let proto = match opt(r, "IpProtocol").unwrap_or("-1") {
                        "-1" => "all".to_string(),
                        "6" => "tcp".into(),
                        "17" => "udp".into(),
                        "1" => "icmp".into(),
                        "58" => "icmpv6".into(),
                        other => other.to_string(),
                    };
                    let from = r.get("FromPort").and_then(Value::as_i64);
                    let to = r.get("ToPort").and_then(Value::as_i64);
                    let base = |peer: (&str, T), desc: Option<&str>| {
                        let mut t = vec![("protocol", s(&proto)), peer];
                        match (proto.as_str(), from, to) {
                            ("tcp" | "udp", Some(a), Some(b)) if a == b => {
                                t.push(("ports", T::Integer(a)))
                            }
                            ("tcp" | "udp", Some(a), Some(b)) => {
                                t.push(("ports", s(&format!("{a}-{b}"))))
                            }
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
                    for c in items(r, "IpRanges") {
                        if let Some(cidr) = opt(c, "CidrIp") {
                            v.push(base(("cidr", s(cidr)), opt(c, "Description")));
                        }
                    }
                    for c in items(r, "Ipv6Ranges") {
                        if let Some(cidr) = opt(c, "CidrIpv6") {
                            v.push(base(("cidr", s(cidr)), opt(c, "Description")));
                        }
                    }
                    for c in items(r, "PrefixListIds") {
                        if let Some(pl) = opt(c, "PrefixListId") {
                            v.push(base(("prefix_list", s(pl)), opt(c, "Description")));
                        }
                    }
                    for c in items(r, "UserIdGroupPairs") {
                        if let Some(g) = opt(c, "GroupId") {
                            v.push(base(("security_group", s(g)), opt(c, "Description")));
                        }
                    }
                }
                v
            };
            let mut t = vec![
                ("id", s(id)),
                ("vpc", s(d.str(x, &p, "VpcId")?)),
                ("ingress", T::Array(rules("IpPermissions"))),
                ("egress", T::Array(rules("IpPermissionsEgress"))),
            ];
            if let Some(n) = opt(x, "GroupName") {
                t.push(("name", s(n)));
            }
            groups.push(table(t));
        }
    }

    // Endpoints to AWS services (and the services they name).
    let mut endpoints = Vec::new();
    let mut services: Vec<(String, BTreeSet<&'static str>, Option<String>)> = Vec::new();
    let eni_ip = read(dir, "ec2-describe-network-interfaces")?;
    let mut dns_vpcs: BTreeSet<String> = BTreeSet::new();
    // ENIs that belong to something imported on its own (endpoints, NAT gateways, instances).
    let mut owned_enis: BTreeSet<String> = BTreeSet::new();
    let mut seen = Seen {
        vpcs: vpc_blocks,
        subnets: subnet_cidrs,
        instances: BTreeSet::new(),
        enis: eni_ip.as_ref(),
    };
    // Instances (their primary ENI), other ENIs, NAT gateways.
    let mut instances = Vec::new();
    let mut primary_enis = BTreeSet::new();
    if let Some(d) = read(dir, "ec2-describe-instances")? {
        for (p, r) in d.list("Reservations")? {
            for (k, i) in items(r, "Instances").enumerate() {
                let at = format!("{p}.Instances[{k}]");
                let id = d.str(i, &at, "InstanceId")?;
                let (Some(subnet), Some(ip)) = (opt(i, "SubnetId"), opt(i, "PrivateIpAddress"))
                else {
                    warnings.push(format!(
                        "instance {id}: no subnet or private address (terminated?), not imported"
                    ));
                    continue;
                };
                if !seen.in_subnet(subnet, ip) {
                    warnings.push(format!("instance {id}: {ip} is outside its subnet {subnet} (an inconsistent export), not imported"));
                    continue;
                }
                let mut t = vec![("id", s(id)), ("subnet", s(subnet)), ("private_ip", s(ip))];
                if let Some(n) = name_tag(i) {
                    t.push(("name", T::String(n)));
                }
                if let Some(p) = opt(i, "PublicIpAddress") {
                    t.push(("public_ip", s(p)));
                }
                let sgs: Vec<String> = items(i, "SecurityGroups")
                    .filter_map(|g| opt(g, "GroupId"))
                    .map(str::to_string)
                    .collect();
                t.push(("security_groups", strings(sgs)));
                if i.get("SourceDestCheck").and_then(Value::as_bool) == Some(false) {
                    t.push(("source_dest_check", T::Boolean(false)));
                }
                if let Some(eni) = items(i, "NetworkInterfaces")
                    .find(|n| n["Attachment"]["DeviceIndex"].as_i64() == Some(0))
                    .and_then(|n| opt(n, "NetworkInterfaceId"))
                {
                    primary_enis.insert(eni.to_string());
                    t.push(("network_interface", s(eni)));
                }
                seen.instances.insert(id.to_string());
                instances.push(table(t));
            }
        }
    }
    let mut nats = Vec::new();
    if let Some(d) = read(dir, "ec2-describe-nat-gateways")? {
        for (p, x) in d.list("NatGateways")? {
            let id = d.str(x, &p, "NatGatewayId")?;
            if matches!(opt(x, "State"), Some("deleted" | "deleting" | "failed")) {
                continue;
            }
            let addr = items(x, "NatGatewayAddresses").next();
            let Some(private) = addr.and_then(|a| opt(a, "PrivateIp")) else {
                warnings.push(format!(
                    "NAT gateway {id}: no private address in the export, not imported"
                ));
                continue;
            };
            if let Some(eni) = addr.and_then(|a| opt(a, "NetworkInterfaceId")) {
                owned_enis.insert(eni.to_string());
            }
            let subnet = d.str(x, &p, "SubnetId")?;
            if !seen.in_subnet(subnet, private) {
                warnings.push(format!("NAT gateway {id}: {private} is outside its subnet {subnet} (an inconsistent export), not imported"));
                continue;
            }
            let mut t = vec![
                ("id", s(id)),
                ("subnet", s(subnet)),
                ("private_ip", s(private)),
            ];
            if let Some(public) = addr.and_then(|a| opt(a, "PublicIp")) {
                t.push(("public_ip", s(public)));
            }
            nats.push(table(t));
        }
    }

    let (load_balancers, target_groups, balancers) =
        load_balancing(dir, &seen, &mut owned_enis, &mut warnings)?;
    let mut endpoint_services = endpoint_services(dir, &balancers, &mut warnings)?;
    let mut imported_endpoints = BTreeSet::new();

    if let Some(d) = read(dir, "ec2-describe-vpc-endpoints")? {
        for (p, x) in d.list("VpcEndpoints")? {
            let id = d.str(x, &p, "VpcEndpointId")?;
            let svc = d.str(x, &p, "ServiceName")?;
            let kind = match opt(x, "VpcEndpointType").unwrap_or("Gateway") {
                "Gateway" => "gateway",
                "Interface" => "interface",
                "GatewayLoadBalancer" => "gateway_load_balancer",
                other => {
                    warnings.push(format!(
                        "endpoint {id}: type {other} is not modelled, not imported"
                    ));
                    continue;
                }
            };
            if matches!(
                opt(x, "State").map(str::to_ascii_lowercase).as_deref(),
                Some("deleting" | "deleted" | "failed")
            ) {
                continue;
            }
            // An endpoint service of this account, or an AWS service.
            let provider = endpoint_services.iter().position(|e| e.name == svc);
            if provider.is_none()
                && (svc.starts_with("com.amazonaws.vpce.") || kind == "gateway_load_balancer")
            {
                warnings.push(format!("endpoint {id}: its service {svc} is not in the export (another account's?), not imported"));
                continue;
            }
            if let Some(i) = provider {
                let offered = if endpoint_services[i].kind == "gateway" {
                    "gateway_load_balancer"
                } else {
                    "interface"
                };
                if kind != offered {
                    warnings.push(format!("endpoint {id}: a {kind} endpoint to {svc}, which takes {offered} endpoints (an inconsistent export); not imported"));
                    continue;
                }
            }
            let mut t = vec![
                ("id", s(id)),
                ("type", s(kind)),
                ("vpc", s(d.str(x, &p, "VpcId")?)),
                ("service", s(svc)),
            ];
            if kind == "gateway" {
                let rts: Vec<String> = items(x, "RouteTableIds")
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect();
                t.push(("route_tables", strings(rts)));
            } else {
                let mut nics = Vec::new();
                for (k, eni) in items(x, "NetworkInterfaceIds")
                    .filter_map(Value::as_str)
                    .enumerate()
                {
                    let found = eni_ip.as_ref().and_then(|e| {
                        items(&e.v, "NetworkInterfaces")
                            .find(|n| opt(n, "NetworkInterfaceId") == Some(eni))
                    });
                    owned_enis.insert(eni.to_string());
                    match found
                        .and_then(|n| Some((opt(n, "SubnetId")?, opt(n, "PrivateIpAddress")?)))
                    {
                        Some((sn, ip)) => {
                            let uncovered = provider.is_some_and(|i| {
                                !endpoint_services[i]
                                    .zones
                                    .contains(seen.zone(sn).unwrap_or_default())
                            });
                            if uncovered {
                                warnings.push(format!("endpoint {id}: network interface {eni} is in {sn}, a zone where {svc} has no load balancer node in the export; left out"));
                            } else if seen.in_subnet(sn, ip) {
                                nics.push(table(vec![
                                    ("subnet", s(sn)),
                                    ("private_ip", s(ip)),
                                    ("id", s(eni)),
                                ]));
                            } else {
                                warnings.push(format!("endpoint {id}: network interface {eni} has {ip}, outside its subnet {sn} (an inconsistent export); left out"));
                            }
                        }
                        None => warnings.push(format!(
                            "endpoint {id}: network interface {eni} (#{k}) not in the export"
                        )),
                    }
                }
                if nics.is_empty() {
                    warnings.push(format!(
                        "endpoint {id}: no usable network interface, not imported"
                    ));
                    continue;
                }
                t.push(("network_interfaces", T::Array(nics)));
                if kind == "interface" {
                    let sgs: Vec<String> = items(x, "Groups")
                        .filter_map(|g| opt(g, "GroupId"))
                        .map(str::to_string)
                        .collect();
                    t.push(("security_groups", strings(sgs)));
                }
                // Private DNS of an endpoint service needs the service's private DNS name.
                let private_dns = kind == "interface"
                    && x.get("PrivateDnsEnabled").and_then(Value::as_bool) == Some(true)
                    && provider.is_none_or(|i| endpoint_services[i].has_private_dns);
                if private_dns {
                    // AWS allows private DNS only with both VPC DNS attributes on (they are not
                    // in describe-vpcs).
                    dns_vpcs.insert(d.str(x, &p, "VpcId")?.to_string());
                }
                t.push(("private_dns_enabled", T::Boolean(private_dns)));
            }
            if let Some(i) = provider {
                // The connection: as the service's owner sees it, else the endpoint's state.
                let own = opt(x, "State").and_then(connection_state);
                let svc = &mut endpoint_services[i];
                if !svc.connections.iter().any(|(e, _)| e == id) {
                    svc.connections
                        .push((id.to_string(), own.unwrap_or("available").to_string()));
                }
                imported_endpoints.insert(id.to_string());
                endpoints.push(table(t));
                continue;
            }
            let pl = list_names
                .iter()
                .find(|(_, n)| n == svc)
                .map(|(i, _)| i.clone());
            match services.iter_mut().find(|(n, _, _)| n == svc) {
                Some(e) => {
                    e.1.insert(kind);
                }
                None => services.push((svc.to_string(), BTreeSet::from([kind]), pl)),
            }
            imported_endpoints.insert(id.to_string());
            endpoints.push(table(t));
        }
    }
    let aws_services: Vec<T> = services
        .into_iter()
        .map(|(name, kinds, pl)| {
            let kinds_interface = kinds.contains("interface");
            let mut t = vec![
                ("name", s(&name)),
                (
                    "endpoint_types",
                    strings(kinds.into_iter().map(str::to_string)),
                ),
            ];
            if let Some(pl) = pl {
                t.push(("prefix_list", T::String(pl)));
            }
            if kinds_interface {
                // AWS's private DNS name of a service: `<service>.<region>.amazonaws.com`
                // (S3: any bucket name below it).
                let mut parts = name.splitn(3, '.').skip(2);
                if let Some((region, svc)) = parts.next().and_then(|r| r.split_once('.')) {
                    let dns = if svc == "s3" {
                        format!("*.s3.{region}.amazonaws.com")
                    } else {
                        format!("{svc}.{region}.amazonaws.com")
                    };
                    t.push(("private_dns_names", strings([dns])));
                }
            }
            table(t)
        })
        .collect();

    let mut enis = Vec::new();
    if let Some(d) = eni_ip.as_ref() {
        for (p, n) in d.list("NetworkInterfaces")? {
            let id = d.str(n, &p, "NetworkInterfaceId")?;
            // Endpoints', load balancers' and NAT gateways' ENIs are theirs (requester
            // managed, or of another type), instances' primary ones are the instances'; what
            // is left is an ENI a user made (an appliance's, a route target).
            let managed = n.get("RequesterManaged").and_then(Value::as_bool) == Some(true)
                || opt(n, "InterfaceType").is_some_and(|k| k != "interface");
            if managed || primary_enis.contains(id) || owned_enis.contains(id) {
                continue;
            }
            let (Some(subnet), Some(ip)) = (opt(n, "SubnetId"), opt(n, "PrivateIpAddress")) else {
                continue;
            };
            if !seen.in_subnet(subnet, ip) {
                warnings.push(format!("network interface {id}: {ip} is outside its subnet {subnet} (an inconsistent export), not imported"));
                continue;
            }
            let mut t = vec![("id", s(id)), ("subnet", s(subnet)), ("private_ip", s(ip))];
            let sgs: Vec<String> = items(n, "Groups")
                .filter_map(|g| opt(g, "GroupId"))
                .map(str::to_string)
                .collect();
            t.push(("security_groups", strings(sgs)));
            if n.get("SourceDestCheck").and_then(Value::as_bool) == Some(false) {
                t.push(("source_dest_check", T::Boolean(false)));
            }
            if let Some(p) = n["Association"]["PublicIp"].as_str() {
                t.push(("public_ip", s(p)));
            }
            enis.push(table(t));
        }
    }
    // Connections of endpoints that are not in this configuration are the other accounts'.
    let endpoint_services: Vec<T> = endpoint_services
        .into_iter()
        .map(|svc| {
            let mut t = svc.table;
            let mut conns = Vec::new();
            for (ep, state) in svc.connections {
                if imported_endpoints.contains(&ep) {
                    conns.push(table(vec![("endpoint", s(&ep)), ("state", s(&state))]));
                } else {
                    warnings.push(format!("endpoint service {}: the connection of endpoint {ep} ({state}) is left out: the endpoint is not in this configuration (another account's?)", svc.id));
                }
            }
            if !conns.is_empty() {
                t.push(("connections", T::Array(conns)));
            }
            table(t)
        })
        .collect();

    // Routes to what was not imported would not validate: named, then left out.
    let field = |v: &[T], key: &str| -> BTreeSet<String> {
        v.iter()
            .filter_map(|x| x.get(key).and_then(T::as_str).map(str::to_string))
            .collect()
    };
    let mut targets = field(&nats, "id");
    targets.extend(field(&enis, "id"));
    targets.extend(field(&instances, "network_interface"));
    targets.extend(imported_endpoints.iter().cloned());
    for rt in &mut tables {
        let id = rt.get("id").and_then(T::as_str).unwrap_or("?").to_string();
        if let Some(T::Array(routes)) = rt.get_mut("routes") {
            routes.retain(|r| {
                let dest = r.get("destination").and_then(T::as_str).unwrap_or("?");
                let target = r.get("target").and_then(T::as_str).unwrap_or("?");
                let kept = !["vpce-", "nat-", "eni-"]
                    .iter()
                    .any(|p| target.starts_with(p))
                    || targets.contains(target);
                if !kept {
                    warnings.push(format!("route table {id}: route {dest} -> {target} left out: {target} is not imported"));
                }
                kept
            });
        }
    }

    for v in &mut vpcs {
        if let T::Table(t) = v {
            if t.get("id")
                .and_then(T::as_str)
                .is_some_and(|id| dns_vpcs.contains(id))
            {
                t.insert("enable_dns_hostnames".into(), T::Boolean(true));
            }
        }
    }
    let region = region
        .map(str::to_string)
        .or_else(|| {
            zones.iter().next().map(|z| {
                z.trim_end_matches(|c: char| c.is_ascii_lowercase())
                    .to_string()
            })
        })
        .unwrap_or_else(|| "us-east-1".to_string());
    out.insert("region".into(), T::String(region));
    out.insert("availability_zones".into(), strings(zones));
    for (k, v) in [
        ("vpcs", vpcs),
        ("subnets", subnets),
        ("instances", instances),
        ("network_interfaces", enis),
        ("nat_gateways", nats),
        ("internet_gateways", igws),
        ("prefix_lists", lists),
        ("route_tables", tables),
        ("security_groups", groups),
        ("aws_services", aws_services),
        ("load_balancers", load_balancers),
        ("target_groups", target_groups),
        ("endpoint_services", endpoint_services),
        ("endpoints", endpoints),
    ] {
        if !v.is_empty() {
            out.insert(k.into(), T::Array(v));
        }
    }
    let toml = format!(
        "# Imported by `vpcectl import aws` from {}.\n{}",
        dir.describe(),
        toml::to_string(&out).expect("a table serializes")
    );
    Ok(Imported { toml, warnings })
}

/// What the EC2 part of the export established, for the parts that refer to it.
struct Seen<'a> {
    /// VPC id -> its IPv4 and IPv6 blocks.
    vpcs: BTreeMap<String, Vec<ipnet::IpNet>>,
    /// Subnet id -> (IPv4 block, availability zone).
    subnets: BTreeMap<String, (ipnet::Ipv4Net, String)>,
    instances: BTreeSet<String>,
    enis: Option<&'a Doc>,
}

impl Seen<'_> {
    fn in_subnet(&self, subnet: &str, ip: &str) -> bool {
        self.subnets.get(subnet).is_some_and(|(net, _)| {
            ip.parse::<std::net::Ipv4Addr>()
                .is_ok_and(|a| net.contains(&a))
        })
    }

    fn zone(&self, subnet: &str) -> Option<&str> {
        self.subnets.get(subnet).map(|(_, z)| z.as_str())
    }

    fn in_vpc(&self, vpc: &str, ip: std::net::IpAddr) -> bool {
        self.vpcs
            .get(vpc)
            .is_some_and(|blocks| blocks.iter().any(|b| b.contains(&ip)))
    }
}

/// An ELB resource's per-resource export file suffix: the ARN's resource part after `kind/`,
/// slashes as underscores (how `export-aws.sh` names them).
fn arn_part(arn: &str, kind: &str) -> String {
    arn.rsplit_once(&format!(":{kind}/"))
        .map_or(arn, |x| x.1)
        .replace('/', "_")
}

/// `describe-*-attributes` output as key -> value (absent file: empty).
fn attributes(dir: &dyn Source, file: &str) -> Result<BTreeMap<String, String>, ImportError> {
    let Some(d) = read(dir, file)? else {
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

/// The imported load balancers: ARN -> `network` or `gateway`, and their node zones.
struct Balancers {
    kinds: BTreeMap<String, &'static str>,
    zones: BTreeMap<String, BTreeSet<String>>,
}

/// Target groups (attributes, health check, registered targets) and network and gateway load
/// balancers (nodes, attributes, listeners).
///
/// A node's private address comes from the load balancer's `LoadBalancerAddresses` when AWS
/// lists it there (internal NLBs given addresses), else from the network interface AWS made for
/// the node: described `ELB net/<name>/<id>` (`ELB gwy/…` for GWLBs) in that subnet. Targets are
/// the registered ones `describe-target-health` lists, whatever their health: the daemon
/// checks health itself.
fn load_balancing(
    dir: &dyn Source,
    seen: &Seen,
    owned_enis: &mut BTreeSet<String>,
    warnings: &mut Vec<String>,
) -> Result<(Vec<T>, Vec<T>, Balancers), ImportError> {
    // Target groups first: listeners refer to them.
    struct Group {
        protocol: String,
        vpc: String,
        table: Vec<(&'static str, T)>,
        used_by: Option<String>,
    }
    let mut groups: Vec<(String, Group)> = Vec::new();
    if let Some(d) = read(dir, "elbv2-describe-target-groups")? {
        for (p, x) in d.list("TargetGroups")? {
            let arn = d.str(x, &p, "TargetGroupArn")?;
            let name = opt(x, "TargetGroupName").unwrap_or(arn);
            let what = format!("target group {arn} ({name})");
            let protocol = opt(x, "Protocol").unwrap_or("?");
            if !matches!(protocol, "TCP" | "UDP" | "TCP_UDP" | "TLS" | "GENEVE") {
                warnings.push(format!("{what}: protocol {protocol} (an application load balancer's) is not modelled, not imported"));
                continue;
            }
            match opt(x, "TargetType").unwrap_or("instance") {
                "instance" | "ip" => {}
                other => {
                    warnings.push(format!(
                        "{what}: targets of type {other} are not modelled, not imported"
                    ));
                    continue;
                }
            }
            let Some(vpc) = opt(x, "VpcId").filter(|v| seen.vpcs.contains_key(*v)) else {
                warnings.push(format!(
                    "{what}: its VPC {} is not in the export, not imported",
                    opt(x, "VpcId").unwrap_or("(none)")
                ));
                continue;
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

            // Health check, within the ranges AWS and the model share.
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
                warnings.push(format!(
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
                    Some(v) => warnings.push(format!(
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
                    warnings.push(format!("{what}: HealthCheckTimeoutSeconds {v} is not 2..=120 and shorter than the interval, the default used"));
                }
            }
            t.push(("health_check", table(hc)));

            // Attributes.
            let part = arn_part(arn, "targetgroup");
            let attrs = attributes(
                dir,
                &format!("elbv2-describe-target-group-attributes-{part}"),
            )?;
            let on = |k: &str| attrs.get(k).map(String::as_str) == Some("true");
            if on("proxy_protocol_v2.enabled") {
                if matches!(protocol, "TCP" | "TLS") {
                    t.push(("proxy_protocol_v2", T::Boolean(true)));
                } else {
                    warnings.push(format!(
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
            if geneve {
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
                        Some(v) => warnings.push(format!("{what}: {key} = {v} not modelled")),
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
            } else if on("stickiness.enabled") {
                warnings.push(format!(
                    "{what}: source-IP stickiness is not modelled, flows hashed by 5-tuple"
                ));
            }

            // Registered targets.
            let mut targets = Vec::new();
            if let Some(h) = read(dir, &format!("elbv2-describe-target-health-{part}"))? {
                for (hp, desc) in h.list("TargetHealthDescriptions")? {
                    let target = desc
                        .get("Target")
                        .ok_or_else(|| h.err(&hp, "missing Target"))?;
                    let id = h.str(target, &format!("{hp}.Target"), "Id")?;
                    let mut tt = if id.starts_with("i-") {
                        if !seen.instances.contains(id) {
                            warnings.push(format!(
                                "{what}: target {id} is not an instance in the export, left out"
                            ));
                            continue;
                        }
                        vec![("instance", s(id))]
                    } else {
                        match id.parse::<std::net::IpAddr>() {
                            Ok(ip) if seen.in_vpc(vpc, ip) => vec![("ip", s(id))],
                            Ok(_) => {
                                warnings.push(format!("{what}: target {id} is outside {vpc} (peered or on-premises targets are not modelled), left out"));
                                continue;
                            }
                            Err(_) => {
                                warnings.push(format!(
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
            }
            t.push(("targets", T::Array(targets)));
            groups.push((
                arn.to_string(),
                Group {
                    protocol: protocol.to_string(),
                    vpc: vpc.to_string(),
                    table: t,
                    used_by: None,
                },
            ));
        }
    }

    // Load balancers.
    let mut lbs = Vec::new();
    let mut kinds = BTreeMap::new();
    let mut lb_zones = BTreeMap::new();
    if let Some(d) = read(dir, "elbv2-describe-load-balancers")? {
        for (p, x) in d.list("LoadBalancers")? {
            let arn = d.str(x, &p, "LoadBalancerArn")?;
            let name = opt(x, "LoadBalancerName").unwrap_or(arn);
            let what = format!("load balancer {arn} ({name})");
            let kind: &'static str = match opt(x, "Type").unwrap_or("?") {
                "network" => "network",
                "gateway" => "gateway",
                other => {
                    warnings.push(format!(
                        "{what}: type {other} is not modelled, not imported"
                    ));
                    continue;
                }
            };
            if matches!(x["State"]["Code"].as_str(), Some("failed")) {
                warnings.push(format!("{what}: in state failed, not imported"));
                continue;
            }
            let Some(vpc) = opt(x, "VpcId").filter(|v| seen.vpcs.contains_key(*v)) else {
                warnings.push(format!(
                    "{what}: its VPC is not in the export, not imported"
                ));
                continue;
            };
            let part = arn_part(arn, "loadbalancer");
            // The nodes' network interfaces, if the ENIs were exported.
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
                    owned_enis.insert(id.to_string());
                }
            }
            let mut mappings = Vec::new();
            let mut zones = BTreeSet::new();
            for (k, az) in items(x, "AvailabilityZones").enumerate() {
                let Some(subnet) = opt(az, "SubnetId") else {
                    continue; // an Outpost or Local Zone without a subnet id
                };
                let listed =
                    items(az, "LoadBalancerAddresses").find_map(|a| opt(a, "PrivateIPv4Address"));
                let from_eni = || {
                    node_enis
                        .iter()
                        .find(|n| opt(n, "SubnetId") == Some(subnet))
                        .and_then(|n| opt(n, "PrivateIpAddress"))
                };
                let Some(ip) = listed.or_else(from_eni) else {
                    warnings.push(format!("{what}: no private address for its node in {subnet} (AvailabilityZones[{k}]: neither LoadBalancerAddresses nor an `{description}` network interface in the export), node left out"));
                    continue;
                };
                if !seen.in_subnet(subnet, ip) {
                    warnings.push(format!("{what}: node address {ip} is not inside subnet {subnet} (or the subnet is not in the export), node left out"));
                    continue;
                }
                zones.insert(seen.zone(subnet).unwrap_or_default().to_string());
                mappings.push(table(vec![("subnet", s(subnet)), ("private_ip", s(ip))]));
            }
            if mappings.is_empty() {
                warnings.push(format!(
                    "{what}: no node with a known address, not imported"
                ));
                continue;
            }
            let mut t = vec![
                ("id", s(arn)),
                ("name", s(name)),
                ("type", s(kind)),
                ("vpc", s(vpc)),
                ("subnet_mappings", T::Array(mappings)),
            ];
            if kind == "network" {
                if opt(x, "Scheme") == Some("internet-facing") {
                    t.push(("scheme", s("internet-facing")));
                }
                let sgs: Vec<String> = items(x, "SecurityGroups")
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect();
                if !sgs.is_empty() {
                    t.push(("security_groups", strings(sgs)));
                    if opt(x, "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic") == Some("off")
                    {
                        t.push((
                            "enforce_security_group_inbound_rules_on_private_link_traffic",
                            T::Boolean(false),
                        ));
                    }
                }
            }
            let attrs = attributes(
                dir,
                &format!("elbv2-describe-load-balancer-attributes-{part}"),
            )?;
            if attrs
                .get("load_balancing.cross_zone.enabled")
                .is_some_and(|v| v == "true")
            {
                t.push(("cross_zone", T::Boolean(true)));
            }

            // Listeners: forward actions to imported target groups this listener can feed.
            let mut listeners = Vec::new();
            if let Some(l) = read(dir, &format!("elbv2-describe-listeners-{part}"))? {
                for (lp, y) in l.list("Listeners")? {
                    let protocol = opt(y, "Protocol");
                    let port = int(y, "Port");
                    let shown = match (protocol, port) {
                        (Some(pr), Some(po)) => format!("listener {pr} {po}"),
                        _ => "listener".to_string(),
                    };
                    let forward =
                        items(y, "DefaultActions").find(|a| opt(a, "Type") == Some("forward"));
                    let mut tgs: Vec<&str> = forward
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
                        .unwrap_or_default();
                    if tgs.is_empty() {
                        warnings.push(format!(
                            "{what}: {shown} ({lp}) does not forward to a target group, left out"
                        ));
                        continue;
                    }
                    if tgs.len() > 1 {
                        warnings.push(format!("{what}: {shown} forwards to {} target groups; only the first, {}, is modelled", tgs.len(), tgs[0]));
                    }
                    let tg_arn = tgs.swap_remove(0);
                    let Some((_, g)) = groups.iter_mut().find(|(a, _)| a == tg_arn) else {
                        warnings.push(format!("{what}: {shown} forwards to target group {tg_arn}, which is not imported; listener left out"));
                        continue;
                    };
                    let fits = match (kind, protocol) {
                        ("gateway", _) => g.protocol == "GENEVE",
                        (_, Some("TLS")) => matches!(g.protocol.as_str(), "TCP" | "TLS"),
                        (_, Some(pr)) => g.protocol == pr,
                        _ => false,
                    };
                    if !fits || g.vpc != vpc {
                        warnings.push(format!("{what}: {shown} cannot forward to target group {tg_arn} ({} in {}), listener left out", g.protocol, g.vpc));
                        continue;
                    }
                    if let Some(other) = g.used_by.as_ref().filter(|o| *o != arn) {
                        warnings.push(format!("{what}: {shown} forwards to target group {tg_arn}, already used by {other} (the model gives a group one load balancer); listener left out"));
                        continue;
                    }
                    g.used_by = Some(arn.to_string());
                    let mut lt = vec![];
                    if kind == "network" {
                        match (protocol, port) {
                            (Some(pr @ ("TCP" | "UDP" | "TCP_UDP" | "TLS")), Some(po)) => {
                                lt.push(("protocol", s(pr)));
                                lt.push(("port", T::Integer(po)));
                            }
                            _ => {
                                warnings.push(format!("{what}: {shown} ({lp}) has no TCP, UDP, TCP_UDP or TLS protocol and port, left out"));
                                continue;
                            }
                        }
                    }
                    lt.push(("target_group", s(tg_arn)));
                    listeners.push(table(lt));
                }
            }
            if kind == "gateway" && listeners.len() != 1 {
                warnings.push(format!(
                    "{what}: a gateway load balancer needs exactly one listener, the export gives {} usable; not imported",
                    listeners.len()
                ));
                for (_, g) in groups.iter_mut() {
                    if g.used_by.as_deref() == Some(arn) {
                        g.used_by = None;
                    }
                }
                continue;
            }
            t.push(("listeners", T::Array(listeners)));
            kinds.insert(arn.to_string(), kind);
            lb_zones.insert(arn.to_string(), zones);
            lbs.push(table(t));
        }
    }
    let tgs = groups.into_iter().map(|(_, g)| table(g.table)).collect();
    Ok((
        lbs,
        tgs,
        Balancers {
            kinds,
            zones: lb_zones,
        },
    ))
}

/// An endpoint service of this account, as imported.
struct Service {
    id: String,
    name: String,
    /// `network` (interface endpoints) or `gateway` (GWLB endpoints).
    kind: &'static str,
    /// Zones where its load balancers have nodes: where endpoints can have interfaces.
    zones: BTreeSet<String>,
    has_private_dns: bool,
    table: Vec<(&'static str, T)>,
    /// Endpoint id -> connection state, from `describe-vpc-endpoint-connections`.
    connections: Vec<(String, String)>,
}

/// AWS's `VpcEndpointState` spellings (`pendingAcceptance`, `PendingAcceptance`, `available`,
/// `Available`…) in the model's camelCase.
fn connection_state(v: &str) -> Option<&'static str> {
    Some(match v.to_ascii_lowercase().as_str() {
        "pendingacceptance" => "pendingAcceptance",
        "pending" => "pending",
        "available" => "available",
        "rejected" => "rejected",
        "expired" => "expired",
        "failed" => "failed",
        "deleting" => "deleting",
        "deleted" => "deleted",
        _ => return None,
    })
}

/// This account's endpoint services, backed by imported load balancers, with the connection
/// states AWS lists for them.
fn endpoint_services(
    dir: &dyn Source,
    balancers: &Balancers,
    warnings: &mut Vec<String>,
) -> Result<Vec<Service>, ImportError> {
    let mut out = Vec::new();
    let Some(d) = read(dir, "ec2-describe-vpc-endpoint-service-configurations")? else {
        return Ok(out);
    };
    for (p, x) in d.list("ServiceConfigurations")? {
        let id = d.str(x, &p, "ServiceId")?;
        let name = d.str(x, &p, "ServiceName")?;
        let what = format!("endpoint service {id} ({name})");
        if matches!(
            opt(x, "ServiceState")
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("deleting" | "deleted" | "failed")
        ) {
            warnings.push(format!(
                "{what}: {}, not imported",
                opt(x, "ServiceState").unwrap_or("?")
            ));
            continue;
        }
        let mut lbs = Vec::new();
        let mut kind = None;
        let mut zones = BTreeSet::new();
        for key in ["NetworkLoadBalancerArns", "GatewayLoadBalancerArns"] {
            for arn in items(x, key).filter_map(Value::as_str) {
                match balancers.kinds.get(arn) {
                    Some(k) => {
                        kind = Some(*k);
                        zones.extend(balancers.zones[arn].iter().cloned());
                        lbs.push(arn.to_string());
                    }
                    None => warnings.push(format!(
                        "{what}: load balancer {arn} is not imported, left out of the service"
                    )),
                }
            }
        }
        let Some(kind) = kind else {
            warnings.push(format!(
                "{what}: none of its load balancers is imported, not imported"
            ));
            continue;
        };
        let mut t = vec![
            ("id", s(id)),
            ("name", s(name)),
            ("load_balancers", strings(lbs)),
            (
                "acceptance_required",
                T::Boolean(
                    x.get("AcceptanceRequired")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                ),
            ),
        ];
        let private_dns = opt(x, "PrivateDnsName");
        if let Some(n) = private_dns {
            t.push(("private_dns_name", s(n)));
        }
        out.push(Service {
            id: id.to_string(),
            name: name.to_string(),
            kind,
            zones,
            has_private_dns: private_dns.is_some(),
            table: t,
            connections: Vec::new(),
        });
    }
    if let Some(c) = read(dir, "ec2-describe-vpc-endpoint-connections")? {
        for (p, x) in c.list("VpcEndpointConnections")? {
            let svc = c.str(x, &p, "ServiceId")?;
            let ep = c.str(x, &p, "VpcEndpointId")?;
            let state = c.str(x, &p, "VpcEndpointState")?;
            let Some(state) = connection_state(state) else {
                return Err(c.err(
                    &format!("{p}.VpcEndpointState"),
                    format!("unknown state `{state}`"),
                ));
            };
            match out.iter_mut().find(|s| s.id == svc) {
                Some(s) => s.connections.push((ep.to_string(), state.to_string())),
                None => warnings.push(format!(
                    "connection of endpoint {ep} to service {svc}: the service is not imported"
                )),
            }
        }
    }
    Ok(out)
}
