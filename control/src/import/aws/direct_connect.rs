//! Direct Connect gateways with their associations (virtual private gateways and transit
//! gateways, and the allowed prefixes of each).
//!
//! The data centres behind a gateway's virtual interfaces advertise their prefixes by BGP,
//! which no describe call returns: the gateway is imported with no `on_premises`, and a warning
//! names its virtual interfaces so the networks can be written by hand.

use serde_json::Value;
use toml::Value as T;

use super::{items, opt, s, strings, table, Import, ImportError};

pub(super) fn direct_connect_gateways(im: &mut Import) -> Result<Vec<T>, ImportError> {
    let mut out = Vec::new();
    let Some(d) = im.read("directconnect-describe-direct-connect-gateways")? else {
        return Ok(out);
    };
    let vifs = im.read("directconnect-describe-virtual-interfaces")?;
    for (p, x) in d.list("directConnectGateways")? {
        let id = d.str(x, &p, "directConnectGatewayId")?;
        if matches!(
            opt(x, "directConnectGatewayState"),
            Some("deleting" | "deleted")
        ) {
            continue;
        }
        let associations = associations(im, id)?;
        let interfaces: Vec<&str> = vifs
            .iter()
            .filter_map(|v| v.v.get("virtualInterfaces")?.as_array())
            .flatten()
            .filter(|v| opt(v, "directConnectGatewayId") == Some(id))
            .filter(|v| opt(v, "virtualInterfaceState") != Some("deleted"))
            .filter_map(|v| opt(v, "virtualInterfaceId"))
            .collect();
        let vifs = if interfaces.is_empty() {
            "none in the export".to_string()
        } else {
            interfaces.join(", ")
        };
        im.warn(format!("Direct Connect gateway {id}: the data centres behind its virtual interfaces ({vifs}) advertise their prefixes by BGP, which the export does not hold; add them as [[on_premises]] networks and list them in its on_premises"));
        let mut t = vec![
            ("id", s(id)),
            ("on_premises", T::Array(Vec::new())),
            ("associations", T::Array(associations)),
        ];
        if let Some(n) = opt(x, "directConnectGatewayName") {
            t.push(("name", s(n)));
        }
        out.push(table(t));
    }
    Ok(out)
}

/// Gateway `id`'s associations that stand (associated, or being associated).
fn associations(im: &mut Import, id: &str) -> Result<Vec<T>, ImportError> {
    let mut out = Vec::new();
    let file = format!("directconnect-describe-direct-connect-gateway-associations-{id}");
    let Some(a) = im.read(&file)? else {
        return Ok(out);
    };
    for (p, y) in a.list("directConnectGatewayAssociations")? {
        if matches!(
            opt(y, "associationState"),
            Some("disassociating" | "disassociated")
        ) {
            continue;
        }
        let gateway = y
            .get("associatedGateway")
            .and_then(|g| opt(g, "id"))
            .or_else(|| opt(y, "virtualGatewayId"));
        let Some(gateway) = gateway else {
            return Err(a.err(&p, "an association without its gateway"));
        };
        let allowed: Vec<String> = items(y, "allowedPrefixesToDirectConnectGateway")
            .filter_map(|c| c.get("cidr").and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        let mut t = vec![("gateway", s(gateway))];
        if !allowed.is_empty() {
            t.push(("allowed_prefixes", strings(allowed)));
        }
        out.push(table(t));
    }
    Ok(out)
}
