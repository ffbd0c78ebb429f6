//! Beyond one VPC: VPC peering connections, virtual private gateways, customer gateways and
//! Site-to-Site VPN connections (as on-premises networks), transit gateways with their
//! attachments (VPC, VPN, peering, Direct Connect gateway) and route tables (associations, propagations, static and
//! blackhole routes).
//!
//! An on-premises network is made per customer gateway: its CIDRs are the VPN connections'
//! static routes (`Routes[].DestinationCidrBlock`); a connection that learns its routes by BGP
//! gives none, and the network is then left out with a warning (vpce runs no BGP: write the
//! prefixes the data centre advertises).

use serde_json::Value;
use toml::Value as T;

use super::{items, name_tag, opt, s, strings, table, Import, ImportError};

/// Everything this part imports, by configuration key.
pub(super) struct Transit {
    pub peering: Vec<T>,
    pub vgws: Vec<T>,
    pub on_premises: Vec<T>,
    pub vpn_connections: Vec<T>,
    pub tgws: Vec<T>,
    pub attachments: Vec<T>,
    pub tables: Vec<T>,
}

pub(super) fn transit(im: &mut Import) -> Result<Transit, ImportError> {
    let (on_premises, vpn_connections) = vpn(im)?;
    let (attachments, tables) = tgw_attachments_and_tables(im)?;
    Ok(Transit {
        peering: peering(im)?,
        vgws: vgws(im)?,
        on_premises,
        vpn_connections,
        tgws: tgws(im)?,
        attachments,
        tables,
    })
}

fn peering(im: &mut Import) -> Result<Vec<T>, ImportError> {
    let mut out = Vec::new();
    let Some(d) = im.read("ec2-describe-vpc-peering-connections")? else {
        return Ok(out);
    };
    for (p, x) in d.list("VpcPeeringConnections")? {
        let id = d.str(x, &p, "VpcPeeringConnectionId")?;
        let status = x.get("Status").and_then(|s| opt(s, "Code")).unwrap_or("?");
        if status != "active" {
            im.warn(format!(
                "peering connection {id} ({status}) is left out: only active ones carry traffic"
            ));
            continue;
        }
        let vpc = |k: &str| x.get(k).and_then(|v| opt(v, "VpcId"));
        let (Some(req), Some(acc)) = (vpc("RequesterVpcInfo"), vpc("AccepterVpcInfo")) else {
            return Err(d.err(&p, "a peering connection without its two VPCs"));
        };
        out.push(table(vec![
            ("id", s(id)),
            ("requester_vpc", s(req)),
            ("accepter_vpc", s(acc)),
        ]));
    }
    Ok(out)
}

fn vgws(im: &mut Import) -> Result<Vec<T>, ImportError> {
    let mut out = Vec::new();
    let Some(d) = im.read("ec2-describe-vpn-gateways")? else {
        return Ok(out);
    };
    for (p, x) in d.list("VpnGateways")? {
        let id = d.str(x, &p, "VpnGatewayId")?;
        let vpc = items(x, "VpcAttachments")
            .find(|a| opt(a, "State") == Some("attached"))
            .and_then(|a| opt(a, "VpcId"));
        match vpc {
            Some(v) => out.push(table(vec![("id", s(id)), ("vpc", s(v))])),
            None => im.warn(format!(
                "virtual private gateway {id} is attached to no VPC: left out"
            )),
        }
    }
    Ok(out)
}

/// On-premises networks (one per customer gateway) and the VPN connections to them.
fn vpn(im: &mut Import) -> Result<(Vec<T>, Vec<T>), ImportError> {
    let (mut nets, mut conns) = (Vec::new(), Vec::new());
    let Some(d) = im.read("ec2-describe-vpn-connections")? else {
        return Ok((nets, conns));
    };
    let cgw_ips: Vec<(String, String)> = match im.read("ec2-describe-customer-gateways")? {
        Some(c) => c
            .list("CustomerGateways")?
            .into_iter()
            .filter_map(|(_, g)| {
                Some((
                    opt(g, "CustomerGatewayId")?.to_string(),
                    opt(g, "IpAddress")?.to_string(),
                ))
            })
            .collect(),
        None => Vec::new(),
    };
    for (p, x) in d.list("VpnConnections")? {
        let id = d.str(x, &p, "VpnConnectionId")?;
        if opt(x, "State") == Some("deleted") {
            continue;
        }
        let cgw = d.str(x, &p, "CustomerGatewayId")?;
        let cidrs: Vec<String> = items(x, "Routes")
            .filter_map(|r| opt(r, "DestinationCidrBlock").map(str::to_string))
            .collect();
        if cidrs.is_empty() {
            im.warn(format!("VPN connection {id}: no static routes (BGP-learned prefixes are not in the export); its on-premises network {cgw} is left out — add its cidrs by hand"));
            continue;
        }
        let net = format!("on-prem-{}", cgw.trim_start_matches("cgw-"));
        let mut t = vec![
            ("id", s(&net)),
            ("cidrs", strings(cidrs)),
            ("customer_gateway", s(cgw)),
        ];
        if let Some((_, ip)) = cgw_ips.iter().find(|(g, _)| g == cgw) {
            t.push(("customer_gateway_ip", s(ip)));
        }
        nets.push(table(t));
        let mut c = vec![("id", s(id)), ("on_premises", s(&net))];
        match (opt(x, "TransitGatewayId"), opt(x, "VpnGatewayId")) {
            (Some(t), _) => c.push(("transit_gateway", s(t))),
            (None, Some(g)) => c.push(("vpn_gateway", s(g))),
            (None, None) => {
                return Err(d.err(
                    &p,
                    "a VPN connection to neither a transit gateway nor a virtual private gateway",
                ))
            }
        }
        conns.push(table(c));
    }
    Ok((nets, conns))
}

fn tgws(im: &mut Import) -> Result<Vec<T>, ImportError> {
    let mut out = Vec::new();
    let Some(d) = im.read("ec2-describe-transit-gateways")? else {
        return Ok(out);
    };
    for (p, x) in d.list("TransitGateways")? {
        let mut t = vec![("id", s(d.str(x, &p, "TransitGatewayId")?))];
        if let Some(n) = name_tag(x) {
            t.push(("name", T::String(n)));
        }
        out.push(table(t));
    }
    Ok(out)
}

/// Attachments (with their VPC subnets, appliance mode, peers, associations and
/// propagations) and route tables (with their static routes).
fn tgw_attachments_and_tables(im: &mut Import) -> Result<(Vec<T>, Vec<T>), ImportError> {
    let (mut atts, mut tables) = (Vec::new(), Vec::new());
    let Some(d) = im.read("ec2-describe-transit-gateway-attachments")? else {
        return Ok((atts, tables));
    };
    let vpc_atts = im.read("ec2-describe-transit-gateway-vpc-attachments")?;
    let peer_atts = im.read("ec2-describe-transit-gateway-peering-attachments")?;
    let route_tables = im.read("ec2-describe-transit-gateway-route-tables")?;
    // Propagations of every table: (table, attachment).
    let mut propagations: Vec<(String, String)> = Vec::new();
    if let Some(rt) = &route_tables {
        for (_, t) in rt.list("TransitGatewayRouteTables")? {
            let Some(tid) = opt(t, "TransitGatewayRouteTableId") else {
                continue;
            };
            if let Some(pd) = im.read(&format!(
                "ec2-get-transit-gateway-route-table-propagations-{tid}"
            ))? {
                for (_, x) in pd.list("TransitGatewayRouteTablePropagations")? {
                    if opt(x, "State") != Some("disabled") {
                        if let Some(a) = opt(x, "TransitGatewayAttachmentId") {
                            propagations.push((tid.to_string(), a.to_string()));
                        }
                    }
                }
            }
            tables.push(tgw_table(im, t, tid)?);
        }
    }
    for (p, x) in d.list("TransitGatewayAttachments")? {
        let id = d.str(x, &p, "TransitGatewayAttachmentId")?;
        if matches!(
            opt(x, "State"),
            Some("deleted" | "deleting" | "rejected" | "failed")
        ) {
            continue;
        }
        let kind = opt(x, "ResourceType").unwrap_or("?");
        let mut t = vec![
            ("id", s(id)),
            ("transit_gateway", s(d.str(x, &p, "TransitGatewayId")?)),
        ];
        match kind {
            "vpc" => {
                let va = vpc_atts.as_ref().and_then(|v| {
                    v.v.get("TransitGatewayVpcAttachments")?
                        .as_array()?
                        .iter()
                        .find(|a| opt(a, "TransitGatewayAttachmentId") == Some(id))
                        .cloned()
                });
                t.push(("type", s("vpc")));
                t.push(("vpc", s(d.str(x, &p, "ResourceId")?)));
                let subnets: Vec<String> = va
                    .as_ref()
                    .map(|a| {
                        items(a, "SubnetIds")
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                t.push(("subnets", strings(subnets)));
                let appliance = va
                    .as_ref()
                    .and_then(|a| a.get("Options"))
                    .and_then(|o| opt(o, "ApplianceModeSupport"));
                if appliance == Some("enable") {
                    t.push(("appliance_mode", T::Boolean(true)));
                }
            }
            "vpn" => {
                t.push(("type", s("vpn")));
                t.push(("vpn_connection", s(d.str(x, &p, "ResourceId")?)));
            }
            "direct-connect-gateway" => {
                t.push(("type", s("direct_connect_gateway")));
                t.push(("direct_connect_gateway", s(d.str(x, &p, "ResourceId")?)));
            }
            "peering" => {
                let pa = peer_atts.as_ref().and_then(|v| {
                    v.v.get("TransitGatewayPeeringAttachments")?
                        .as_array()?
                        .iter()
                        .find(|a| opt(a, "TransitGatewayAttachmentId") == Some(id))
                        .cloned()
                });
                let own = opt(x, "TransitGatewayId").unwrap_or_default();
                let peer = pa.as_ref().and_then(|a| {
                    ["RequesterTgwInfo", "AccepterTgwInfo"]
                        .iter()
                        .filter_map(|k| a.get(*k).and_then(|i| opt(i, "TransitGatewayId")))
                        .find(|t| *t != own)
                        .map(str::to_string)
                });
                let Some(peer) = peer else {
                    im.warn(format!("transit gateway attachment {id} (peering): the peer is not in the export; left out"));
                    continue;
                };
                t.push(("type", s("peering")));
                t.push(("peer_transit_gateway", s(&peer)));
            }
            other => {
                im.warn(format!(
                    "transit gateway attachment {id}: type {other} is not modelled; left out"
                ));
                continue;
            }
        }
        if let Some(a) = x
            .get("Association")
            .and_then(|a| opt(a, "TransitGatewayRouteTableId"))
        {
            t.push(("association", s(a)));
        }
        let props: Vec<String> = propagations
            .iter()
            .filter(|(_, a)| a == id)
            .map(|(t, _)| t.clone())
            .collect();
        if !props.is_empty() && kind != "peering" {
            t.push(("propagations", strings(props)));
        }
        if let Some(n) = name_tag(x) {
            t.push(("name", T::String(n)));
        }
        atts.push(table(t));
    }
    Ok((atts, tables))
}

/// A transit gateway route table with its static and blackhole routes (propagated ones come
/// from the attachments' propagations).
fn tgw_table(im: &mut Import, t: &Value, tid: &str) -> Result<T, ImportError> {
    let mut routes = Vec::new();
    if let Some(rd) = im.read(&format!("ec2-search-transit-gateway-routes-{tid}"))? {
        for (_, r) in rd.list("Routes")? {
            if opt(r, "Type") != Some("static") {
                continue;
            }
            let Some(dest) = opt(r, "PrefixListId").or(opt(r, "DestinationCidrBlock")) else {
                continue;
            };
            let target = if opt(r, "State") == Some("blackhole") {
                Some("blackhole".to_string())
            } else {
                items(r, "TransitGatewayAttachments")
                    .find_map(|a| opt(a, "TransitGatewayAttachmentId"))
                    .map(str::to_string)
            };
            match target {
                Some(target) => routes.push(table(vec![
                    ("destination", s(dest)),
                    ("target", s(&target)),
                ])),
                None => im.warn(format!(
                    "transit gateway route table {tid}: route {dest} has no attachment; left out"
                )),
            }
        }
    }
    let mut out = vec![
        ("id", s(tid)),
        (
            "transit_gateway",
            s(opt(t, "TransitGatewayId").unwrap_or_default()),
        ),
        ("routes", T::Array(routes)),
    ];
    if let Some(n) = name_tag(t) {
        out.push(("name", T::String(n)));
    }
    Ok(table(out))
}
