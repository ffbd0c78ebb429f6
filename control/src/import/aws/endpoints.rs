//! PrivateLink: this account's endpoint services (with their connections), VPC endpoints
//! (gateway, interface, Gateway Load Balancer) and the AWS services they name.

use std::collections::BTreeSet;

use serde_json::Value;
use toml::Value as T;

use super::elb::Balancers;
use super::{items, opt, s, strings, table, Doc, Import, ImportError, Seen};

/// An endpoint service of this account, as imported.
pub(super) struct Service {
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
pub(super) fn endpoint_services(
    im: &mut Import,
    balancers: &Balancers,
) -> Result<Vec<Service>, ImportError> {
    let mut out = Vec::new();
    let Some(d) = im.read("ec2-describe-vpc-endpoint-service-configurations")? else {
        return Ok(out);
    };
    for (p, x) in d.list("ServiceConfigurations")? {
        if let Some(svc) = endpoint_service(im, balancers, &d, &p, x)? {
            out.push(svc);
        }
    }
    connections(im, &mut out)?;
    Ok(out)
}

fn endpoint_service(
    im: &mut Import,
    balancers: &Balancers,
    d: &Doc,
    p: &str,
    x: &Value,
) -> Result<Option<Service>, ImportError> {
    let id = d.str(x, p, "ServiceId")?;
    let name = d.str(x, p, "ServiceName")?;
    let what = format!("endpoint service {id} ({name})");
    if matches!(
        opt(x, "ServiceState")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("deleting" | "deleted" | "failed")
    ) {
        im.warn(format!(
            "{what}: {}, not imported",
            opt(x, "ServiceState").unwrap_or("?")
        ));
        return Ok(None);
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
                None => im.warn(format!(
                    "{what}: load balancer {arn} is not imported, left out of the service"
                )),
            }
        }
    }
    let Some(kind) = kind else {
        im.warn(format!(
            "{what}: none of its load balancers is imported, not imported"
        ));
        return Ok(None);
    };
    let acceptance = x.get("AcceptanceRequired").and_then(Value::as_bool);
    let mut t = vec![
        ("id", s(id)),
        ("name", s(name)),
        ("load_balancers", strings(lbs)),
        (
            "acceptance_required",
            T::Boolean(acceptance.unwrap_or(true)),
        ),
    ];
    let private_dns = opt(x, "PrivateDnsName");
    if let Some(n) = private_dns {
        t.push(("private_dns_name", s(n)));
        let state = x
            .get("PrivateDnsNameConfiguration")
            .and_then(|p| opt(p, "State"));
        if let Some(st @ ("pendingVerification" | "failed")) = state {
            t.push(("private_dns_name_state", s(st)));
        }
    }
    if let Some(perm) = im.read(&format!(
        "ec2-describe-vpc-endpoint-service-permissions-{id}"
    ))? {
        let allowed: Vec<String> = perm
            .list("AllowedPrincipals")?
            .into_iter()
            .filter_map(|(_, a)| opt(a, "Principal").map(str::to_string))
            .collect();
        if !allowed.is_empty() {
            t.push(("allowed_principals", strings(allowed)));
        }
    }
    let families: Vec<String> = items(x, "SupportedIpAddressTypes")
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if !families.is_empty() && families != ["ipv4"] {
        t.push(("supported_ip_address_types", strings(families)));
    }
    Ok(Some(Service {
        id: id.to_string(),
        name: name.to_string(),
        kind,
        zones,
        has_private_dns: private_dns.is_some(),
        table: t,
        connections: Vec::new(),
    }))
}

/// The connection states the services' owner sees.
fn connections(im: &mut Import, services: &mut [Service]) -> Result<(), ImportError> {
    let Some(c) = im.read("ec2-describe-vpc-endpoint-connections")? else {
        return Ok(());
    };
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
        match services.iter_mut().find(|s| s.id == svc) {
            Some(s) => s.connections.push((ep.to_string(), state.to_string())),
            None => im.warn(format!(
                "connection of endpoint {ep} to service {svc}: the service is not imported"
            )),
        }
    }
    Ok(())
}

/// The imported VPC endpoints.
pub(super) struct VpcEndpoints {
    pub tables: Vec<T>,
    /// Their ids (routes and connections may name only these).
    pub ids: BTreeSet<String>,
    /// The AWS services the endpoints not to this account's services name.
    pub aws_services: Vec<T>,
}

/// An AWS service endpoints name: its name, the endpoint types used, its prefix list.
type AwsService = (String, BTreeSet<&'static str>, Option<String>);

/// VPC endpoints to this account's services (recording their connections in `services`) and
/// to AWS services.
pub(super) fn vpc_endpoints(
    im: &mut Import,
    seen: &Seen,
    services: &mut [Service],
) -> Result<VpcEndpoints, ImportError> {
    let mut out = VpcEndpoints {
        tables: Vec::new(),
        ids: BTreeSet::new(),
        aws_services: Vec::new(),
    };
    let mut aws: Vec<AwsService> = Vec::new();
    if let Some(d) = im.read("ec2-describe-vpc-endpoints")? {
        for (p, x) in d.list("VpcEndpoints")? {
            let Some(e) = endpoint(im, seen, services, &d, &p, x)? else {
                continue;
            };
            if let Some(i) = e.provider {
                // The connection: as the service's owner sees it, else the endpoint's state.
                let own = opt(x, "State").and_then(connection_state);
                let svc = &mut services[i];
                if !svc.connections.iter().any(|(ep, _)| ep == e.id) {
                    svc.connections
                        .push((e.id.to_string(), own.unwrap_or("available").to_string()));
                }
            } else {
                let pl = im
                    .list_names
                    .iter()
                    .find(|(_, n)| n == e.service)
                    .map(|(i, _)| i.clone());
                match aws.iter_mut().find(|(n, _, _)| n == e.service) {
                    Some(a) => {
                        a.1.insert(e.kind);
                    }
                    None => aws.push((e.service.to_string(), BTreeSet::from([e.kind]), pl)),
                }
            }
            out.ids.insert(e.id.to_string());
            out.tables.push(e.table);
        }
    }
    out.aws_services = aws.into_iter().map(aws_service).collect();
    Ok(out)
}

/// One endpoint as imported.
struct Endpoint<'x> {
    id: &'x str,
    service: &'x str,
    kind: &'static str,
    /// `services[i]` when it is to this account's service.
    provider: Option<usize>,
    table: T,
}

/// One endpoint; `None` (warned, or gone) when its type, service or interfaces are not
/// imported.
fn endpoint<'x>(
    im: &mut Import,
    seen: &Seen,
    services: &[Service],
    d: &Doc,
    p: &str,
    x: &'x Value,
) -> Result<Option<Endpoint<'x>>, ImportError> {
    let id = d.str(x, p, "VpcEndpointId")?;
    let svc = d.str(x, p, "ServiceName")?;
    let kind = match opt(x, "VpcEndpointType").unwrap_or("Gateway") {
        "Gateway" => "gateway",
        "Interface" => "interface",
        "GatewayLoadBalancer" => "gateway_load_balancer",
        other => {
            im.warn(format!(
                "endpoint {id}: type {other} is not modelled, not imported"
            ));
            return Ok(None);
        }
    };
    if matches!(
        opt(x, "State").map(str::to_ascii_lowercase).as_deref(),
        Some("deleting" | "deleted" | "failed")
    ) {
        return Ok(None);
    }
    // An endpoint service of this account, or an AWS service.
    let provider = services.iter().position(|e| e.name == svc);
    if provider.is_none()
        && (svc.starts_with("com.amazonaws.vpce.") || kind == "gateway_load_balancer")
    {
        im.warn(format!("endpoint {id}: its service {svc} is not in the export (another account's?), not imported"));
        return Ok(None);
    }
    if let Some(i) = provider {
        let offered = if services[i].kind == "gateway" {
            "gateway_load_balancer"
        } else {
            "interface"
        };
        if kind != offered {
            im.warn(format!("endpoint {id}: a {kind} endpoint to {svc}, which takes {offered} endpoints (an inconsistent export); not imported"));
            return Ok(None);
        }
    }
    let vpc = d.str(x, p, "VpcId")?;
    let mut t = vec![
        ("id", s(id)),
        ("type", s(kind)),
        ("vpc", s(vpc)),
        ("service", s(svc)),
    ];
    // The endpoint policy, kept as written (a GWLB endpoint has none).
    if let Some(doc) = opt(x, "PolicyDocument").filter(|_| kind != "gateway_load_balancer") {
        match crate::policy::Policy::parse_resource_policy(doc) {
            Ok(_) => t.push(("policy", s(doc))),
            Err(e) => im.warn(format!(
                "endpoint {id}: its policy is left out ({e}); AWS's default (full access) stands in"
            )),
        }
    }
    if kind == "gateway" {
        let rts: Vec<String> = items(x, "RouteTableIds")
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        t.push(("route_tables", strings(rts)));
    } else {
        let service = provider.map(|i| &services[i]);
        let nics = endpoint_interfaces(im, seen, service, id, svc, x);
        if nics.is_empty() {
            im.warn(format!(
                "endpoint {id}: no usable network interface, not imported"
            ));
            return Ok(None);
        }
        t.push(("network_interfaces", T::Array(nics)));
        if kind == "interface" {
            address_types(&mut t, x);
            let sgs = items(x, "Groups")
                .filter_map(|g| opt(g, "GroupId"))
                .map(str::to_string);
            t.push(("security_groups", strings(sgs)));
        }
        // Private DNS of an endpoint service needs the service's private DNS name.
        let private_dns = kind == "interface"
            && x.get("PrivateDnsEnabled").and_then(Value::as_bool) == Some(true)
            && service.is_none_or(|s| s.has_private_dns);
        if private_dns {
            // AWS allows private DNS only with both VPC DNS attributes on (they are not in
            // describe-vpcs).
            im.dns_vpcs.insert(vpc.to_string());
        }
        t.push(("private_dns_enabled", T::Boolean(private_dns)));
    }
    Ok(Some(Endpoint {
        id,
        service: svc,
        kind,
        provider,
        table: table(t),
    }))
}

/// An interface or GWLB endpoint's network interfaces that are in the export, inside their
/// subnet, and (to this account's service) in a zone the service has a node in. All of them
/// are the endpoint's.
fn endpoint_interfaces(
    im: &mut Import,
    seen: &Seen,
    service: Option<&Service>,
    id: &str,
    svc: &str,
    x: &Value,
) -> Vec<T> {
    let mut nics = Vec::new();
    let enis = items(x, "NetworkInterfaceIds").filter_map(Value::as_str);
    for (k, eni) in enis.enumerate() {
        let found = seen.enis.and_then(|e| {
            items(&e.v, "NetworkInterfaces").find(|n| opt(n, "NetworkInterfaceId") == Some(eni))
        });
        im.owned_enis.insert(eni.to_string());
        let v6 = found.and_then(|n| items(n, "Ipv6Addresses").find_map(|a| opt(a, "Ipv6Address")));
        let Some((sn, ip)) =
            found.and_then(|n| Some((opt(n, "SubnetId")?, opt(n, "PrivateIpAddress")?)))
        else {
            im.warn(format!(
                "endpoint {id}: network interface {eni} (#{k}) not in the export"
            ));
            continue;
        };
        let uncovered =
            service.is_some_and(|s| !s.zones.contains(seen.zone(sn).unwrap_or_default()));
        if uncovered {
            im.warn(format!("endpoint {id}: network interface {eni} is in {sn}, a zone where {svc} has no load balancer node in the export; left out"));
        } else if seen.in_subnet(sn, ip) {
            let mut n = vec![("subnet", s(sn)), ("private_ip", s(ip))];
            if let Some(a) = v6.filter(|_| opt(x, "IpAddressType") == Some("dualstack")) {
                n.push(("ipv6_address", s(a)));
            }
            n.push(("id", s(eni)));
            nics.push(table(n));
        } else {
            im.warn(format!("endpoint {id}: network interface {eni} has {ip}, outside its subnet {sn} (an inconsistent export); left out"));
        }
    }
    nics
}

/// An interface endpoint's address type and DNS record type, when not AWS's IPv4 defaults.
fn address_types(t: &mut Vec<(&'static str, T)>, x: &Value) {
    let ip = opt(x, "IpAddressType").unwrap_or("ipv4");
    if ip != "ipv4" {
        t.push(("ip_address_type", s(ip)));
    }
    let records = x.get("DnsOptions").and_then(|d| opt(d, "DnsRecordIpType"));
    if let Some(r) = records.filter(|r| *r != ip) {
        t.push(("dns_record_ip_type", s(r)));
    }
}

/// An AWS service's table: the endpoint types used, its prefix list, and for interface
/// endpoints AWS's private DNS name, `<service>.<region>.amazonaws.com` (S3: any bucket name
/// below it).
fn aws_service((name, kinds, pl): AwsService) -> T {
    let interface = kinds.contains("interface");
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
    if interface {
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
}

/// The services' tables with the connections of imported endpoints; connections of endpoints
/// that are not in this configuration are the other accounts' (warned, left out).
pub(super) fn service_tables(
    im: &mut Import,
    services: Vec<Service>,
    imported: &BTreeSet<String>,
) -> Vec<T> {
    services
        .into_iter()
        .map(|svc| {
            let mut t = svc.table;
            let mut conns = Vec::new();
            for (ep, state) in svc.connections {
                if imported.contains(&ep) {
                    conns.push(table(vec![("endpoint", s(&ep)), ("state", s(&state))]));
                } else {
                    im.warn(format!("endpoint service {}: the connection of endpoint {ep} ({state}) is left out: the endpoint is not in this configuration (another account's?)", svc.id));
                }
            }
            if !conns.is_empty() {
                t.push(("connections", T::Array(conns)));
            }
            table(t)
        })
        .collect()
}
