//! Transit gateways compiled: each transit gateway route table as a [`CompiledRouteTable`]
//! (the same Poptrie LPM as a VPC's), and each attachment's association.
//!
//! # Route evaluation (AWS, "How transit gateways work", route evaluation order)
//!
//! The most specific route wins. For the same prefix, static routes (a CIDR or a prefix-list
//! reference, to an attachment or `blackhole`) win over propagated ones; between propagated
//! routes, a VPC attachment's wins over a Direct Connect gateway's, which wins over a VPN
//! attachment's. Propagated routes are what each attachment listing the table in
//! `propagations` brings: a VPC attachment its VPC's CIDRs (IPv4 and IPv6), a VPN attachment
//! the prefixes of the on-premises network behind its connection, a Direct Connect gateway
//! attachment those of the data centres with a virtual interface to the gateway. A peering attachment propagates nothing: routes to another transit gateway are
//! static.
//!
//! # Layout
//!
//! ```text
//! Transit
//!   tables: [CompiledRouteTable]       one per transit gateway route table (config order);
//!                                      `vpc` holds the transit gateway id, targets are
//!                                      RouteTarget::TransitGatewayAttachment or Blackhole
//!   association: attachment id -> table index   (absent: not associated, traffic dropped)
//!   peer_association: peering attachment id -> the peer side's table index
//! ```
//!
//! A lookup is one LPM descent in the association's table, as in a VPC route table.

use std::collections::HashMap;

use ipnet::IpNet;

use super::{
    expand_prefix_lists, finish_table, route, CompiledRouteTable, EffectiveRoute, ListRoute,
    PropagatedVia, RouteOrigin, RouteState, RouteTarget,
};
use crate::model::{Config, DestinationRef, TgwAttachmentType, TransitGatewayRouteTable};

/// Every transit gateway route table, compiled, and the attachments' associations.
#[derive(Debug, Default)]
pub struct Transit {
    pub tables: Vec<CompiledRouteTable>,
    association: HashMap<String, usize>,
    peer_association: HashMap<String, usize>,
}

impl Transit {
    pub fn compile(config: &Config) -> Result<Transit, String> {
        let index: HashMap<&str, usize> = config
            .transit_gateway_route_tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.as_str(), i))
            .collect();
        let tables = config
            .transit_gateway_route_tables
            .iter()
            .map(|t| compile_table(config, t))
            .collect::<Result<Vec<_>, _>>()?;
        let mut association = HashMap::new();
        let mut peer_association = HashMap::new();
        for a in &config.transit_gateway_attachments {
            if let Some(&i) = a.association.as_deref().and_then(|t| index.get(t)) {
                association.insert(a.id.clone(), i);
            }
            if let Some(&i) = a.peer_association.as_deref().and_then(|t| index.get(t)) {
                peer_association.insert(a.id.clone(), i);
            }
        }
        Ok(Transit {
            tables,
            association,
            peer_association,
        })
    }

    /// The table (`tables[i]`) traffic from attachment `id` is routed by, on the attachment's
    /// own transit gateway.
    pub fn association(&self, id: &str) -> Option<usize> {
        self.association.get(id).copied()
    }

    /// For a peering attachment: the table on the peer transit gateway's side.
    pub fn peer_association(&self, id: &str) -> Option<usize> {
        self.peer_association.get(id).copied()
    }

    pub fn table(&self, id: &str) -> Option<&CompiledRouteTable> {
        self.tables.iter().find(|t| t.id == id)
    }
}

fn compile_table(
    config: &Config,
    t: &TransitGatewayRouteTable,
) -> Result<CompiledRouteTable, String> {
    let mut routes: Vec<EffectiveRoute> = Vec::new();
    let mut list_routes: Vec<ListRoute> = Vec::new();
    for (index, r) in t.routes.iter().enumerate() {
        let target = if r.target == "blackhole" {
            RouteTarget::Blackhole
        } else {
            RouteTarget::TransitGatewayAttachment(r.target.clone())
        };
        match DestinationRef::parse(&r.destination)? {
            DestinationRef::Cidr(c) => routes.push(route(
                c.0,
                target,
                RouteOrigin::Static { index },
                RouteState::Active,
            )),
            DestinationRef::PrefixList(id) => {
                list_routes.push((id.to_string(), target, Some(index), None))
            }
        }
    }
    expand_prefix_lists(config, list_routes, &[], &mut routes)?;
    for a in config
        .transit_gateway_attachments
        .iter()
        .filter(|a| a.propagations.contains(&t.id))
    {
        for net in propagated(config, a) {
            routes.push(route(
                net,
                RouteTarget::TransitGatewayAttachment(a.id.clone()),
                RouteOrigin::PropagatedFrom {
                    source: a.id.clone(),
                    via: match a.attachment_type {
                        TgwAttachmentType::Vpn => PropagatedVia::Vpn,
                        TgwAttachmentType::DirectConnectGateway => PropagatedVia::DirectConnect,
                        _ => PropagatedVia::Vpc,
                    },
                },
                RouteState::Active,
            ));
        }
    }
    finish_table(&t.id, &t.transit_gateway, false, routes)
}

/// What an attachment propagates: its VPC's networks, its VPN connection's on-premises
/// prefixes, or those of its Direct Connect gateway's data centres; nothing for a peering
/// attachment.
pub fn propagated(config: &Config, a: &crate::model::TransitGatewayAttachment) -> Vec<IpNet> {
    match a.attachment_type {
        TgwAttachmentType::Vpc => config
            .vpcs
            .iter()
            .find(|v| Some(&v.id) == a.vpc.as_ref())
            .map(|v| v.networks())
            .unwrap_or_default(),
        TgwAttachmentType::Vpn => config
            .vpn_connections
            .iter()
            .find(|v| Some(&v.id) == a.vpn_connection.as_ref())
            .and_then(|v| config.on_premises.iter().find(|o| o.id == v.on_premises))
            .map(|o| o.cidrs.iter().map(|c| c.0).collect())
            .unwrap_or_default(),
        TgwAttachmentType::DirectConnectGateway => config
            .direct_connect_gateways
            .iter()
            .find(|d| Some(&d.id) == a.direct_connect_gateway.as_ref())
            .into_iter()
            .flat_map(|d| &d.on_premises)
            .filter_map(|id| config.on_premises.iter().find(|o| &o.id == id))
            .flat_map(|o| o.cidrs.iter().map(|c| c.0))
            .collect(),
        TgwAttachmentType::Peering => Vec::new(),
    }
}
