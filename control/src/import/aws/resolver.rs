//! Route 53: Resolver endpoints (with their addresses), Resolver rules with their VPC
//! associations (AWS's own `RECURSIVE` rule is implied), and private hosted zones with their
//! VPCs and A, AAAA and CNAME records (an alias to an interface endpoint's DNS name becomes an
//! `alias_endpoint`).

use serde_json::Value;
use toml::Value as T;

use super::{items, opt, s, strings, table, Import, ImportError};

pub(super) struct Dns {
    pub endpoints: Vec<T>,
    pub rules: Vec<T>,
    pub zones: Vec<T>,
}

pub(super) fn dns(im: &mut Import) -> Result<Dns, ImportError> {
    let endpoints = endpoints(im)?;
    let known: Vec<String> = endpoints
        .iter()
        .filter_map(|e| e.get("id").and_then(T::as_str).map(str::to_string))
        .collect();
    Ok(Dns {
        endpoints,
        rules: rules(im, &known)?,
        zones: zones(im)?,
    })
}

fn endpoints(im: &mut Import) -> Result<Vec<T>, ImportError> {
    let mut out = Vec::new();
    let Some(d) = im.read("route53resolver-list-resolver-endpoints")? else {
        return Ok(out);
    };
    for (p, x) in d.list("ResolverEndpoints")? {
        let id = d.str(x, &p, "Id")?;
        let direction = match opt(x, "Direction") {
            Some("INBOUND") => "inbound",
            Some("OUTBOUND") => "outbound",
            other => {
                im.warn(format!(
                    "Resolver endpoint {id}: direction {other:?} is not modelled; left out"
                ));
                continue;
            }
        };
        let ips: Vec<T> = match im.read(&format!(
            "route53resolver-list-resolver-endpoint-ip-addresses-{id}"
        ))? {
            Some(a) => a
                .list("IpAddresses")?
                .into_iter()
                .filter_map(|(_, ip)| {
                    Some(table(vec![
                        ("subnet", s(opt(ip, "SubnetId")?)),
                        ("ip", s(opt(ip, "Ip")?)),
                    ]))
                })
                .collect(),
            None => Vec::new(),
        };
        if ips.is_empty() {
            im.warn(format!(
                "Resolver endpoint {id}: no IPv4 addresses in the export; left out"
            ));
            continue;
        }
        let groups: Vec<String> = items(x, "SecurityGroupIds")
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let mut t = vec![
            ("id", s(id)),
            ("direction", s(direction)),
            ("vpc", s(d.str(x, &p, "HostVPCId")?)),
            ("ip_addresses", T::Array(ips)),
        ];
        if !groups.is_empty() {
            t.push(("security_groups", strings(groups)));
        }
        if let Some(n) = opt(x, "Name").filter(|n| !n.is_empty()) {
            t.push(("name", s(n)));
        }
        out.push(table(t));
    }
    Ok(out)
}

/// Rules with their associations; a forward rule whose outbound endpoint is not among
/// `endpoints` (imported) is left out, warned.
fn rules(im: &mut Import, endpoints: &[String]) -> Result<Vec<T>, ImportError> {
    let mut out = Vec::new();
    let Some(d) = im.read("route53resolver-list-resolver-rules")? else {
        return Ok(out);
    };
    let assoc: Vec<(String, String)> =
        match im.read("route53resolver-list-resolver-rule-associations")? {
            Some(a) => a
                .list("ResolverRuleAssociations")?
                .into_iter()
                .filter(|(_, x)| opt(x, "Status") != Some("DELETING"))
                .filter_map(|(_, x)| {
                    Some((
                        opt(x, "ResolverRuleId")?.to_string(),
                        opt(x, "VPCId")?.to_string(),
                    ))
                })
                .collect(),
            None => Vec::new(),
        };
    for (p, x) in d.list("ResolverRules")? {
        let id = d.str(x, &p, "Id")?;
        let kind = match opt(x, "RuleType") {
            Some("FORWARD") => "forward",
            Some("SYSTEM") => "system",
            _ => continue, // RECURSIVE: AWS's internet resolver, what the model does anyway
        };
        let vpcs: Vec<String> = assoc
            .iter()
            .filter(|(r, _)| r == id)
            .map(|(_, v)| v.clone())
            .collect();
        if vpcs.is_empty() {
            im.warn(format!(
                "Resolver rule {id} is associated with no VPC in the export; left out"
            ));
            continue;
        }
        let mut t = vec![
            ("id", s(id)),
            (
                "domain",
                s(d.str(x, &p, "DomainName")?.trim_end_matches('.')),
            ),
            ("rule_type", s(kind)),
            ("vpcs", strings(vpcs)),
        ];
        if kind == "forward" {
            let Some(e) = opt(x, "ResolverEndpointId").filter(|e| endpoints.iter().any(|k| k == e))
            else {
                im.warn(format!(
                    "Resolver rule {id}: its outbound endpoint is not in the export; left out"
                ));
                continue;
            };
            t.push(("resolver_endpoint", s(e)));
            let targets: Vec<String> = items(x, "TargetIps")
                .filter_map(|t| opt(t, "Ip").or(opt(t, "Ipv6")).map(str::to_string))
                .collect();
            if items(x, "TargetIps").any(|t| {
                t.get("Port")
                    .and_then(Value::as_i64)
                    .is_some_and(|p| p != 53)
            }) {
                im.warn(format!(
                    "Resolver rule {id}: a target port other than 53 is not modelled (53 is used)"
                ));
            }
            t.push(("target_ips", strings(targets)));
        }
        out.push(table(t));
    }
    Ok(out)
}

fn zones(im: &mut Import) -> Result<Vec<T>, ImportError> {
    let mut out = Vec::new();
    let Some(d) = im.read("route53-list-hosted-zones")? else {
        return Ok(out);
    };
    for (p, x) in d.list("HostedZones")? {
        let private = x
            .get("Config")
            .and_then(|c| c.get("PrivateZone"))
            .and_then(Value::as_bool);
        if private != Some(true) {
            continue; // public zones answer on the internet, not in the VPCs
        }
        let id = d
            .str(x, &p, "Id")?
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let name = d.str(x, &p, "Name")?.trim_end_matches('.').to_string();
        let vpcs: Vec<String> = match im.read(&format!("route53-get-hosted-zone-{id}"))? {
            Some(z) => items(&z.v, "VPCs")
                .filter_map(|v| opt(v, "VPCId").map(str::to_string))
                .collect(),
            None => Vec::new(),
        };
        let mut records = Vec::new();
        if let Some(r) = im.read(&format!("route53-list-resource-record-sets-{id}"))? {
            for (_, rs) in r.list("ResourceRecordSets")? {
                if let Some(rec) = record(im, &id, rs) {
                    records.push(rec);
                }
            }
        }
        out.push(table(vec![
            ("id", s(&id)),
            ("name", s(&name)),
            ("vpcs", strings(vpcs)),
            ("records", T::Array(records)),
        ]));
    }
    Ok(out)
}

/// One record set: A, AAAA or CNAME values, or an alias to an interface endpoint.
fn record(im: &mut Import, zone: &str, rs: &Value) -> Option<T> {
    let name = opt(rs, "Name")?;
    let ty = opt(rs, "Type")?;
    if !matches!(ty, "A" | "AAAA" | "CNAME") {
        return None; // SOA, NS: the zone's own
    }
    let full = format!("{}.", name.trim_end_matches('.'));
    if let Some(alias) = rs.get("AliasTarget").and_then(|a| opt(a, "DNSName")) {
        // vpce-0abc…-xyz12.vpce-svc-….<region>.vpce.amazonaws.com: the endpoint's regional name.
        let label = alias.split('.').next().unwrap_or_default();
        let endpoint = label
            .rsplit_once('-')
            .map(|(e, _)| e)
            .filter(|e| e.starts_with("vpce-"));
        return match endpoint {
            Some(e) => Some(table(vec![
                ("name", s(&full)),
                ("type", s(ty)),
                ("alias_endpoint", s(e)),
            ])),
            None => {
                im.warn(format!("hosted zone {zone}: alias {name} -> {alias} is not to an interface endpoint; left out"));
                None
            }
        };
    }
    let values: Vec<String> = items(rs, "ResourceRecords")
        .filter_map(|v| opt(v, "Value").map(str::to_string))
        .collect();
    let mut t = vec![
        ("name", s(&full)),
        ("type", s(ty)),
        ("values", strings(values)),
    ];
    if let Some(ttl) = rs.get("TTL").and_then(Value::as_i64) {
        t.push(("ttl", T::Integer(ttl)));
    }
    Some(table(t))
}
