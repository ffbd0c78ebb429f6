//! Transit gateways, their attachments and route tables; on-premises networks and the VPN
//! connections that reach them (Direct Connect gateways: `direct_connect`).

use super::*;

impl<'a> Validator<'a> {
    pub(super) fn check_transit(&mut self) {
        self.check_tgw_attachments();
        self.check_tgw_route_tables();
        self.check_on_premises();
        self.check_vpn_connections();
        self.check_direct_connect();
        self.check_route_propagation();
    }

    /// A VPC route table propagates from virtual private gateways of its own VPC.
    fn check_route_propagation(&mut self) {
        let c = self.c;
        for (i, rt) in c.route_tables.iter().enumerate() {
            let ent = entity(Collection::RouteTables, &rt.id);
            for (k, g) in rt.propagating_gateways.iter().enumerate() {
                let at = path![Collection::RouteTables, i, "propagating_gateways", k];
                if self.require(&ent, at.clone(), g, Collection::VpnGateways) {
                    let gw = &c.vpn_gateways[self.def(g, Collection::VpnGateways).unwrap()];
                    if gw.vpc != rt.vpc {
                        self.err(
                            ent.clone(),
                            at,
                            format!("{g} is attached to {}, not to {}", gw.vpc, rt.vpc),
                            None,
                        );
                    }
                }
            }
        }
    }

    /// `table` must be a route table of transit gateway `tgw`.
    fn require_tgw_table(&mut self, ent: &str, at: FieldPath, table: &str, tgw: &str) {
        if !self.require(
            ent,
            at.clone(),
            table,
            Collection::TransitGatewayRouteTables,
        ) {
            return;
        }
        let i = self
            .def(table, Collection::TransitGatewayRouteTables)
            .unwrap();
        let owner = &self.c.transit_gateway_route_tables[i].transit_gateway;
        if owner != tgw {
            self.err(
                ent.to_string(),
                at,
                format!("{table} is a route table of {owner}, not of {tgw}"),
                None,
            );
        }
    }

    fn check_tgw_attachments(&mut self) {
        let c = self.c;
        let mut vpc_attached: HashMap<(&str, &str), &str> = HashMap::new();
        for (i, a) in c.transit_gateway_attachments.iter().enumerate() {
            let ent = entity(Collection::TransitGatewayAttachments, &a.id);
            let at = |f: &'static str| path![Collection::TransitGatewayAttachments, i, f];
            if !self.require(
                &ent,
                at("transit_gateway"),
                &a.transit_gateway,
                Collection::TransitGateways,
            ) {
                continue;
            }
            let tgw = a.transit_gateway.as_str();
            if let Some(t) = &a.association {
                self.require_tgw_table(&ent, at("association"), t, tgw);
            }
            for (k, t) in a.propagations.iter().enumerate() {
                let p = path![Collection::TransitGatewayAttachments, i, "propagations", k];
                self.require_tgw_table(&ent, p, t, tgw);
            }
            let wrong = |field: &str| {
                format!(
                    "`{field}` does not apply to a {} attachment",
                    a.attachment_type.as_str()
                )
            };
            match a.attachment_type {
                TgwAttachmentType::Vpc => {
                    self.check_vpc_attachment(&ent, i, a);
                    if let Some(v) = a.vpc.as_deref() {
                        if let Some(prev) = vpc_attached.insert((tgw, v), &a.id) {
                            self.err(
                                ent.clone(),
                                at("vpc"),
                                format!("{v} is already attached to {tgw} by {prev}"),
                                None,
                            );
                        }
                    }
                }
                TgwAttachmentType::Vpn => match a.vpn_connection.as_deref() {
                    None => self.err(
                        ent.clone(),
                        at("vpn_connection"),
                        "a vpn attachment names its VPN connection (vpn_connection = \"vpn-…\")",
                        None,
                    ),
                    Some(v) => {
                        if self.require(&ent, at("vpn_connection"), v, Collection::VpnConnections) {
                            let conn = &c.vpn_connections
                                [self.def(v, Collection::VpnConnections).unwrap()];
                            if conn.transit_gateway.as_deref() != Some(tgw) {
                                self.err(
                                    ent.clone(),
                                    at("vpn_connection"),
                                    format!("VPN connection {v} does not terminate on {tgw}"),
                                    Some(format!(
                                        "set transit_gateway = \"{tgw}\" on the connection"
                                    )),
                                );
                            }
                        }
                    }
                },
                TgwAttachmentType::DirectConnectGateway => self.check_dx_attachment(&ent, i, a),
                TgwAttachmentType::Peering => {
                    match a.peer_transit_gateway.as_deref() {
                        None => self.err(
                            ent.clone(),
                            at("peer_transit_gateway"),
                            "a peering attachment names the other transit gateway",
                            None,
                        ),
                        Some(p) if p == tgw => self.err(
                            ent.clone(),
                            at("peer_transit_gateway"),
                            "a transit gateway does not peer with itself",
                            None,
                        ),
                        Some(p) => {
                            if self.require(
                                &ent,
                                at("peer_transit_gateway"),
                                p,
                                Collection::TransitGateways,
                            ) {
                                if let Some(t) = &a.peer_association {
                                    self.require_tgw_table(&ent, at("peer_association"), t, p);
                                }
                            }
                        }
                    }
                    if !a.propagations.is_empty() {
                        self.err(ent.clone(), at("propagations"), "a peering attachment propagates no routes (AWS: use static routes to it)", None);
                    }
                }
            }
            if a.attachment_type != TgwAttachmentType::Vpc
                && (a.vpc.is_some() || !a.subnets.is_empty() || a.appliance_mode)
            {
                self.err(
                    ent.clone(),
                    at("vpc"),
                    wrong("vpc, subnets, appliance_mode"),
                    None,
                );
            }
            if a.attachment_type != TgwAttachmentType::Vpn && a.vpn_connection.is_some() {
                self.err(
                    ent.clone(),
                    at("vpn_connection"),
                    wrong("vpn_connection"),
                    None,
                );
            }
            if a.attachment_type != TgwAttachmentType::DirectConnectGateway
                && a.direct_connect_gateway.is_some()
            {
                self.err(
                    ent.clone(),
                    at("direct_connect_gateway"),
                    wrong("direct_connect_gateway"),
                    None,
                );
            }
            if a.attachment_type != TgwAttachmentType::Peering
                && (a.peer_transit_gateway.is_some() || a.peer_association.is_some())
            {
                self.err(
                    ent.clone(),
                    at("peer_transit_gateway"),
                    wrong("peer_transit_gateway, peer_association"),
                    None,
                );
            }
        }
    }

    /// A VPC attachment: its VPC, and one subnet of that VPC per availability zone.
    fn check_vpc_attachment(&mut self, ent: &str, i: usize, a: &TransitGatewayAttachment) {
        let c = self.c;
        let at = |f: &'static str| path![Collection::TransitGatewayAttachments, i, f];
        let Some(vpc) = a.vpc.as_deref() else {
            self.err(
                ent.to_string(),
                at("vpc"),
                "a vpc attachment names its VPC (vpc = \"vpc-…\")",
                None,
            );
            return;
        };
        if !self.require(ent, at("vpc"), vpc, Collection::Vpcs) {
            return;
        }
        if a.subnets.is_empty() {
            self.err(
                ent.to_string(),
                at("subnets"),
                "a vpc attachment needs a subnet in at least one availability zone",
                Some("subnets = [\"subnet-…\"], one per zone".into()),
            );
        }
        let mut zones: HashMap<&str, usize> = HashMap::new();
        for (k, s) in a.subnets.iter().enumerate() {
            let p = path![Collection::TransitGatewayAttachments, i, "subnets", k];
            if !self.require(ent, p.clone(), s, Collection::Subnets) {
                continue;
            }
            let sn = &c.subnets[self.def(s, Collection::Subnets).unwrap()];
            if sn.vpc != vpc {
                self.err(
                    ent.to_string(),
                    p.clone(),
                    format!("{s} is in {}, not in {vpc}", sn.vpc),
                    None,
                );
            }
            if let Some(prev) = zones.insert(sn.availability_zone.as_str(), k) {
                self.err(
                    ent.to_string(),
                    p,
                    format!(
                        "subnets[{prev}] is already in {}; one subnet per availability zone",
                        sn.availability_zone
                    ),
                    None,
                );
            }
        }
    }

    fn check_tgw_route_tables(&mut self) {
        let c = self.c;
        for (i, t) in c.transit_gateway_route_tables.iter().enumerate() {
            let ent = entity(Collection::TransitGatewayRouteTables, &t.id);
            let tgw_ok = self.require(
                &ent,
                path![Collection::TransitGatewayRouteTables, i, "transit_gateway"],
                &t.transit_gateway,
                Collection::TransitGateways,
            );
            let mut seen: HashMap<&str, usize> = HashMap::new();
            for (k, r) in t.routes.iter().enumerate() {
                let rp = path![Collection::TransitGatewayRouteTables, i, "routes", k];
                match DestinationRef::parse(&r.destination) {
                    Err(e) => self.err(ent.clone(), rp.at("destination"), e, None),
                    Ok(DestinationRef::PrefixList(pl)) => {
                        self.require(&ent, rp.at("destination"), pl, Collection::PrefixLists);
                    }
                    Ok(DestinationRef::Cidr(_)) => {}
                }
                if let Some(prev) = seen.insert(r.destination.as_str(), k) {
                    self.err(
                        ent.clone(),
                        rp.at("destination"),
                        format!("routes[{prev}] already routes {}", r.destination),
                        None,
                    );
                }
                if r.target == "blackhole" || !tgw_ok {
                    continue;
                }
                if !self.require(
                    &ent,
                    rp.at("target"),
                    &r.target,
                    Collection::TransitGatewayAttachments,
                ) {
                    continue;
                }
                let a = &c.transit_gateway_attachments[self
                    .def(&r.target, Collection::TransitGatewayAttachments)
                    .unwrap()];
                let ours = a.transit_gateway == t.transit_gateway
                    || a.peer_transit_gateway.as_deref() == Some(t.transit_gateway.as_str());
                if !ours {
                    self.err(
                        ent.clone(),
                        rp.at("target"),
                        format!(
                            "{} is an attachment of {}, not of {}",
                            a.id, a.transit_gateway, t.transit_gateway
                        ),
                        None,
                    );
                }
            }
        }
    }

    fn check_on_premises(&mut self) {
        for (i, o) in self.c.on_premises.iter().enumerate() {
            let ent = entity(Collection::OnPremises, &o.id);
            if o.cidrs.is_empty() {
                self.err(
                    ent.clone(),
                    path![Collection::OnPremises, i, "cidrs"],
                    "an on-premises network has at least one CIDR",
                    None,
                );
            }
            for (k, h) in o.hosts.iter().enumerate() {
                if !o.cidrs.iter().any(|c| c.0.contains(h)) {
                    self.err(
                        ent.clone(),
                        path![Collection::OnPremises, i, "hosts", k],
                        format!("{h} is in none of the network's cidrs"),
                        None,
                    );
                }
            }
            if !o.customer_gateway.starts_with("cgw-") {
                self.err(
                    ent.clone(),
                    path![Collection::OnPremises, i, "customer_gateway"],
                    format!(
                        "`{}` is not a customer gateway id (cgw-…)",
                        o.customer_gateway
                    ),
                    None,
                );
            }
            for (k, c) in o.cidrs.iter().enumerate() {
                for v in &self.c.vpcs {
                    if v.networks().iter().any(|n| overlaps(*n, c.0)) {
                        self.err(ent.clone(), path![Collection::OnPremises, i, "cidrs", k], format!("{c} overlaps {}", v.id), Some("on-premises and VPC networks must not overlap to be routed between".into()));
                    }
                }
            }
        }
    }

    fn check_vpn_connections(&mut self) {
        let c = self.c;
        for (i, v) in c.vpn_connections.iter().enumerate() {
            let ent = entity(Collection::VpnConnections, &v.id);
            let at = |f: &'static str| path![Collection::VpnConnections, i, f];
            self.require(
                &ent,
                at("on_premises"),
                &v.on_premises,
                Collection::OnPremises,
            );
            match (&v.transit_gateway, &v.vpn_gateway) {
                (Some(t), None) => {
                    if self.require(&ent, at("transit_gateway"), t, Collection::TransitGateways) {
                        let attached = c
                            .transit_gateway_attachments
                            .iter()
                            .any(|a| a.vpn_connection.as_deref() == Some(v.id.as_str()));
                        if !attached {
                            self.err(ent.clone(), at("transit_gateway"), format!("no vpn attachment of {t} carries {}", v.id), Some("add a [[transit_gateway_attachments]] entry with type = \"vpn\" and this vpn_connection".into()));
                        }
                    }
                }
                (None, Some(g)) => {
                    self.require(&ent, at("vpn_gateway"), g, Collection::VpnGateways);
                }
                _ => self.err(
                    ent.clone(),
                    at("transit_gateway"),
                    "a VPN connection ends on exactly one of transit_gateway or vpn_gateway",
                    None,
                ),
            }
        }
    }
}
