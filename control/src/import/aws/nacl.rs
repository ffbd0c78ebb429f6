//! Network ACLs (`ec2 describe-network-acls`): entries as numbered rules (AWS's own `*` rule,
//! number 32767, is implicit in the model), associations as the ACL's subnets, `IsDefault` as
//! `default`.

use serde_json::Value;
use toml::Value as T;

use super::{items, opt, s, table, Import, ImportError};

pub(super) fn network_acls(im: &mut Import) -> Result<Vec<T>, ImportError> {
    let mut acls = Vec::new();
    let Some(d) = im.read("ec2-describe-network-acls")? else {
        return Ok(acls);
    };
    for (p, x) in d.list("NetworkAcls")? {
        let id = d.str(x, &p, "NetworkAclId")?;
        let mut ingress = Vec::new();
        let mut egress = Vec::new();
        for (k, e) in items(x, "Entries").enumerate() {
            let number = e.get("RuleNumber").and_then(Value::as_i64).unwrap_or(0);
            if number >= 32767 {
                continue; // the `*` rule
            }
            match entry(e, number) {
                Ok(rule) if e.get("Egress").and_then(Value::as_bool) == Some(true) => {
                    egress.push(rule)
                }
                Ok(rule) => ingress.push(rule),
                Err(why) => im.warn(format!(
                    "network ACL {id}: entry {k} (rule {number}) left out: {why}"
                )),
            }
        }
        let subnets: Vec<T> = items(x, "Associations")
            .filter_map(|a| opt(a, "SubnetId"))
            .map(s)
            .collect();
        let mut t = vec![
            ("id", s(id)),
            ("vpc", s(d.str(x, &p, "VpcId")?)),
            ("ingress", T::Array(ingress)),
            ("egress", T::Array(egress)),
        ];
        if x.get("IsDefault").and_then(Value::as_bool) == Some(true) {
            t.push(("default", T::Boolean(true)));
        }
        if !subnets.is_empty() {
            t.push(("subnets", T::Array(subnets)));
        }
        if let Some(n) = super::name_tag(x) {
            t.push(("name", T::String(n)));
        }
        acls.push(table(t));
    }
    Ok(acls)
}

/// One entry as a model rule.
fn entry(e: &Value, number: i64) -> Result<T, String> {
    let proto = match opt(e, "Protocol").unwrap_or("-1") {
        "-1" => "all",
        "6" => "tcp",
        "17" => "udp",
        "1" => "icmp",
        "58" => "icmpv6",
        other => other,
    }
    .to_string();
    let action = match opt(e, "RuleAction") {
        Some("allow") => "allow",
        Some("deny") => "deny",
        other => return Err(format!("RuleAction {other:?}")),
    };
    let cidr = opt(e, "CidrBlock")
        .or_else(|| opt(e, "Ipv6CidrBlock"))
        .ok_or("neither CidrBlock nor Ipv6CidrBlock")?;
    let mut t = vec![
        ("rule", T::Integer(number)),
        ("action", s(action)),
        ("protocol", s(&proto)),
    ];
    let range = e.get("PortRange");
    let port = |k: &str| range.and_then(|r| r.get(k)).and_then(Value::as_i64);
    match (proto.as_str(), port("From"), port("To")) {
        ("tcp" | "udp", Some(a), Some(b)) if a == b => t.push(("ports", T::Integer(a))),
        ("tcp" | "udp", Some(a), Some(b)) => t.push(("ports", s(&format!("{a}-{b}")))),
        ("tcp" | "udp", _, _) => t.push(("ports", s("0-65535"))),
        _ => {}
    }
    let icmp = e.get("IcmpTypeCode");
    let code = |k: &str| icmp.and_then(|c| c.get(k)).and_then(Value::as_i64);
    if matches!(proto.as_str(), "icmp" | "icmpv6") {
        if let Some(ty) = code("Type").filter(|t| *t >= 0) {
            t.push(("icmp_type", T::Integer(ty)));
            if let Some(c) = code("Code").filter(|c| *c >= 0) {
                t.push(("icmp_code", T::Integer(c)));
            }
        }
    }
    t.push(("cidr", s(cidr)));
    Ok(table(t))
}
