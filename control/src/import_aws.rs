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
//! Mapped today: VPCs, subnets, internet gateways, route tables (associations, static routes;
//! gateway-endpoint routes come from the endpoints' associations, as the model wants),
//! managed prefix lists with their entries, security groups, instances (with their primary
//! ENI), ENIs of their own, NAT gateways, gateway and interface endpoints to AWS services.
//! Load balancers, target groups and endpoint services are listed as warnings.

use std::collections::BTreeSet;
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

fn read(dir: &Path, name: &str) -> Result<Option<Doc>, ImportError> {
    let file = dir.join(format!("{name}.json"));
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
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
    let mut warnings = Vec::new();
    let mut out = Table::new();
    let mut zones = BTreeSet::new();

    // VPCs.
    let mut vpcs = Vec::new();
    let mut vpc_ids = BTreeSet::new();
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
            let mut t = vec![("id", s(id)), ("cidr_blocks", strings(v4))];
            if let Some(n) = name_tag(x) {
                t.push(("name", T::String(n)));
            }
            if !v6.is_empty() {
                t.push(("ipv6_cidr_blocks", strings(v6)));
            }
            vpc_ids.insert(id.to_string());
            vpcs.push(table(t));
        }
    }

    // Subnets.
    let mut subnets = Vec::new();
    let mut subnet_cidrs: Vec<(String, ipnet::Ipv4Net)> = Vec::new();
    if let Some(d) = read(dir, "ec2-describe-subnets")? {
        for (p, x) in d.list("Subnets")? {
            let az = d.str(x, &p, "AvailabilityZone")?;
            if let Ok(net) = d.str(x, &p, "CidrBlock")?.parse() {
                subnet_cidrs.push((d.str(x, &p, "SubnetId")?.to_string(), net));
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
    let in_subnet = |subnet: &str, ip: &str| {
        subnet_cidrs.iter().any(|(i, net)| {
            i == subnet
                && ip
                    .parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|a| net.contains(&a))
        })
    };
    if let Some(d) = read(dir, "ec2-describe-vpc-endpoints")? {
        for (p, x) in d.list("VpcEndpoints")? {
            let id = d.str(x, &p, "VpcEndpointId")?;
            let svc = d.str(x, &p, "ServiceName")?;
            let kind = match opt(x, "VpcEndpointType").unwrap_or("Gateway") {
                "Gateway" => "gateway",
                "Interface" => "interface",
                other => {
                    warnings.push(format!("endpoint {id}: type {other} not imported yet"));
                    continue;
                }
            };
            if svc.starts_with("com.amazonaws.vpce.") {
                warnings.push(format!(
                    "endpoint {id}: to endpoint service {svc}, not imported yet"
                ));
                continue;
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
                            if in_subnet(sn, ip) {
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
                let sgs: Vec<String> = items(x, "Groups")
                    .filter_map(|g| opt(g, "GroupId"))
                    .map(str::to_string)
                    .collect();
                t.push(("security_groups", strings(sgs)));
                let private_dns = x
                    .get("PrivateDnsEnabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if private_dns {
                    // AWS allows private DNS only with both VPC DNS attributes on (they are not
                    // in describe-vpcs).
                    dns_vpcs.insert(d.str(x, &p, "VpcId")?.to_string());
                }
                t.push(("private_dns_enabled", T::Boolean(private_dns)));
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
                if !in_subnet(subnet, ip) {
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
            if !in_subnet(subnet, private) {
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
            if !in_subnet(subnet, ip) {
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
    // What is not mapped yet: named, never dropped silently.
    for (file, key, id_key, what) in [
        (
            "elbv2-describe-load-balancers",
            "LoadBalancers",
            "LoadBalancerArn",
            "load balancer",
        ),
        (
            "elbv2-describe-target-groups",
            "TargetGroups",
            "TargetGroupArn",
            "target group",
        ),
        (
            "ec2-describe-vpc-endpoint-service-configurations",
            "ServiceConfigurations",
            "ServiceId",
            "endpoint service",
        ),
    ] {
        if let Some(d) = read(dir, file)? {
            for (_, x) in d.list(key)? {
                warnings.push(format!(
                    "{what} {}: not imported yet",
                    opt(x, id_key).unwrap_or("?")
                ));
            }
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
        ("endpoints", endpoints),
    ] {
        if !v.is_empty() {
            out.insert(k.into(), T::Array(v));
        }
    }
    let toml = format!(
        "# Imported by `vpcectl import aws` from {}.\n{}",
        dir.display(),
        toml::to_string(&out).expect("a table serializes")
    );
    Ok(Imported { toml, warnings })
}
