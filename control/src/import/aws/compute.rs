//! What holds addresses in subnets, from EC2's describe calls: instances (with their primary
//! ENI), NAT gateways and the ENIs users made themselves.

use serde_json::Value;
use toml::Value as T;

use super::{items, name_tag, opt, s, strings, table, Import, ImportError, Seen};

/// The security-group ids of `x`'s `key` list.
fn group_ids(x: &Value, key: &str) -> T {
    strings(
        items(x, key)
            .filter_map(|g| opt(g, "GroupId"))
            .map(str::to_string),
    )
}

/// Instances with an address inside their subnet; each becomes known to `seen` (targets
/// name them) and its primary ENI is the instance's.
pub(super) fn instances(im: &mut Import, seen: &mut Seen) -> Result<Vec<T>, ImportError> {
    let mut instances = Vec::new();
    let Some(d) = im.read("ec2-describe-instances")? else {
        return Ok(instances);
    };
    for (p, r) in d.list("Reservations")? {
        for (k, i) in items(r, "Instances").enumerate() {
            let at = format!("{p}.Instances[{k}]");
            let id = d.str(i, &at, "InstanceId")?;
            let (Some(subnet), Some(ip)) = (opt(i, "SubnetId"), opt(i, "PrivateIpAddress")) else {
                im.warn(format!(
                    "instance {id}: no subnet or private address (terminated?), not imported"
                ));
                continue;
            };
            if !seen.in_subnet(subnet, ip) {
                im.warn(format!("instance {id}: {ip} is outside its subnet {subnet} (an inconsistent export), not imported"));
                continue;
            }
            let mut t = vec![("id", s(id)), ("subnet", s(subnet)), ("private_ip", s(ip))];
            if let Some(n) = name_tag(i) {
                t.push(("name", T::String(n)));
            }
            if let Some(p) = opt(i, "PublicIpAddress") {
                t.push(("public_ip", s(p)));
            }
            t.push(("security_groups", group_ids(i, "SecurityGroups")));
            if i.get("SourceDestCheck").and_then(Value::as_bool) == Some(false) {
                t.push(("source_dest_check", T::Boolean(false)));
            }
            if let Some(eni) = items(i, "NetworkInterfaces")
                .find(|n| n["Attachment"]["DeviceIndex"].as_i64() == Some(0))
                .and_then(|n| opt(n, "NetworkInterfaceId"))
            {
                im.primary_enis.insert(eni.to_string());
                t.push(("network_interface", s(eni)));
            }
            seen.instances.insert(id.to_string());
            instances.push(table(t));
        }
    }
    Ok(instances)
}

/// NAT gateways that exist, with their first address; their ENIs are theirs.
pub(super) fn nat_gateways(im: &mut Import, seen: &Seen) -> Result<Vec<T>, ImportError> {
    let mut nats = Vec::new();
    let Some(d) = im.read("ec2-describe-nat-gateways")? else {
        return Ok(nats);
    };
    for (p, x) in d.list("NatGateways")? {
        let id = d.str(x, &p, "NatGatewayId")?;
        if matches!(opt(x, "State"), Some("deleted" | "deleting" | "failed")) {
            continue;
        }
        let addr = items(x, "NatGatewayAddresses").next();
        let Some(private) = addr.and_then(|a| opt(a, "PrivateIp")) else {
            im.warn(format!(
                "NAT gateway {id}: no private address in the export, not imported"
            ));
            continue;
        };
        if let Some(eni) = addr.and_then(|a| opt(a, "NetworkInterfaceId")) {
            im.owned_enis.insert(eni.to_string());
        }
        let subnet = d.str(x, &p, "SubnetId")?;
        if !seen.in_subnet(subnet, private) {
            im.warn(format!("NAT gateway {id}: {private} is outside its subnet {subnet} (an inconsistent export), not imported"));
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
    Ok(nats)
}

/// The ENIs users made (an appliance's, a route target): endpoints', load balancers' and NAT
/// gateways' ENIs are theirs (requester managed, of another type, or claimed by an imported
/// part), instances' primary ones are the instances'.
pub(super) fn network_interfaces(im: &mut Import, seen: &Seen) -> Result<Vec<T>, ImportError> {
    let mut enis = Vec::new();
    let Some(d) = seen.enis else {
        return Ok(enis);
    };
    for (p, n) in d.list("NetworkInterfaces")? {
        let id = d.str(n, &p, "NetworkInterfaceId")?;
        let managed = n.get("RequesterManaged").and_then(Value::as_bool) == Some(true)
            || opt(n, "InterfaceType").is_some_and(|k| k != "interface");
        if managed || im.primary_enis.contains(id) || im.owned_enis.contains(id) {
            continue;
        }
        let (Some(subnet), Some(ip)) = (opt(n, "SubnetId"), opt(n, "PrivateIpAddress")) else {
            continue;
        };
        if !seen.in_subnet(subnet, ip) {
            im.warn(format!("network interface {id}: {ip} is outside its subnet {subnet} (an inconsistent export), not imported"));
            continue;
        }
        let mut t = vec![("id", s(id)), ("subnet", s(subnet)), ("private_ip", s(ip))];
        t.push(("security_groups", group_ids(n, "Groups")));
        if n.get("SourceDestCheck").and_then(Value::as_bool) == Some(false) {
            t.push(("source_dest_check", T::Boolean(false)));
        }
        if let Some(p) = n["Association"]["PublicIp"].as_str() {
            t.push(("public_ip", s(p)));
        }
        enis.push(table(t));
    }
    Ok(enis)
}
