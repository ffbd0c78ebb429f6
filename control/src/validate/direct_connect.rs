//! Direct Connect gateways: their data centres, their associations with virtual private
//! gateways or transit gateways, and the transit gateways' `direct_connect_gateway`
//! attachments that go with the latter.

use super::*;
use crate::model::DirectConnectGateway;

impl<'a> Validator<'a> {
    pub(super) fn check_direct_connect(&mut self) {
        let c = self.c;
        let mut vgw_owner: HashMap<&str, &str> = HashMap::new();
        for (i, d) in c.direct_connect_gateways.iter().enumerate() {
            let ent = entity(Collection::DirectConnectGateways, &d.id);
            let mut seen = HashSet::new();
            for (k, o) in d.on_premises.iter().enumerate() {
                let at = path![Collection::DirectConnectGateways, i, "on_premises", k];
                if self.require(&ent, at.clone(), o, Collection::OnPremises) && !seen.insert(o) {
                    self.err(ent.clone(), at, format!("{o} is listed twice"), None);
                }
            }
            self.check_dx_associations(&ent, i, d, &mut vgw_owner);
        }
    }

    fn check_dx_associations<'c>(
        &mut self,
        ent: &str,
        i: usize,
        d: &'c DirectConnectGateway,
        vgw_owner: &mut HashMap<&'c str, &'c str>,
    ) {
        let c = self.c;
        let at = |k: usize, f: &'static str| {
            path![Collection::DirectConnectGateways, i, "associations", k, f]
        };
        let (mut to_vgw, mut to_tgw) = (false, false);
        let mut seen = HashSet::new();
        for (k, a) in d.associations.iter().enumerate() {
            let g = a.gateway.as_str();
            if !seen.insert(g) {
                self.err(
                    ent.into(),
                    at(k, "gateway"),
                    format!("{g} is associated twice"),
                    None,
                );
                continue;
            }
            if g.starts_with("vgw-") {
                to_vgw = true;
                if !self.require(ent, at(k, "gateway"), g, Collection::VpnGateways) {
                    continue;
                }
                if let Some(prev) = vgw_owner.insert(g, &d.id) {
                    self.err(
                        ent.into(),
                        at(k, "gateway"),
                        format!("{g} is already associated with Direct Connect gateway {prev}"),
                        Some("AWS: the virtual private gateway must not be associated with another Direct Connect gateway".into()),
                    );
                }
                self.check_vgw_allowed_prefixes(ent, at(k, "allowed_prefixes"), g, a);
            } else if g.starts_with("tgw-") {
                to_tgw = true;
                if !self.require(ent, at(k, "gateway"), g, Collection::TransitGateways) {
                    continue;
                }
                if a.allowed_prefixes.is_empty() {
                    self.err(ent.into(), at(k, "allowed_prefixes"), format!("the association with {g} advertises nothing to the data centres"), Some("AWS requires allowed prefixes for a transit gateway association: list the networks the data centres may reach".into()));
                }
                let attached = c.transit_gateway_attachments.iter().any(|t| {
                    t.transit_gateway == g && t.direct_connect_gateway.as_deref() == Some(&d.id)
                });
                if !attached {
                    self.err(ent.into(), at(k, "gateway"), format!("no direct_connect_gateway attachment of {g} carries {}", d.id), Some("add a [[transit_gateway_attachments]] entry with type = \"direct_connect_gateway\" and this direct_connect_gateway".into()));
                }
            } else {
                self.err(
                    ent.into(),
                    at(k, "gateway"),
                    format!("`{g}` is neither a virtual private gateway (vgw-…) nor a transit gateway (tgw-…)"),
                    None,
                );
            }
        }
        if to_vgw && to_tgw {
            self.err(ent.into(), path![Collection::DirectConnectGateways, i, "associations"], "associated with both virtual private gateways and transit gateways", Some("AWS: you cannot attach a Direct Connect gateway to a transit gateway when it is already associated with a virtual private gateway; use two Direct Connect gateways".into()));
        }
    }

    /// A virtual private gateway association's allowed prefixes filter the VPC's CIDRs: one
    /// that covers none of them advertises nothing (AWS: "You must set the prefixes to a range
    /// that is the same or wider than the VPC CIDR block").
    fn check_vgw_allowed_prefixes(
        &mut self,
        ent: &str,
        at: FieldPath,
        g: &str,
        a: &crate::model::DirectConnectAssociation,
    ) {
        let c = self.c;
        let gw = &c.vpn_gateways[self.def(g, Collection::VpnGateways).unwrap()];
        let Some(vpc) = c.vpcs.iter().find(|v| v.id == gw.vpc) else {
            return;
        };
        let nets = vpc.networks();
        for p in &a.allowed_prefixes {
            if !nets.iter().any(|n| p.0.contains(n)) {
                self.warn(
                    ent.into(),
                    at.clone(),
                    format!("allowed prefix {p} covers none of {}'s CIDRs, so it advertises nothing", vpc.id),
                    Some("an allowed prefix for a virtual private gateway must be the same as or wider than the VPC CIDR".into()),
                );
            }
        }
    }

    /// A `direct_connect_gateway` attachment: the gateway, associated with this transit gateway.
    pub(super) fn check_dx_attachment(
        &mut self,
        ent: &str,
        i: usize,
        a: &crate::model::TransitGatewayAttachment,
    ) {
        let c = self.c;
        let at = path![
            Collection::TransitGatewayAttachments,
            i,
            "direct_connect_gateway"
        ];
        let Some(d) = a.direct_connect_gateway.as_deref() else {
            self.err(
                ent.into(),
                at,
                "a direct_connect_gateway attachment names its Direct Connect gateway",
                None,
            );
            return;
        };
        if !self.require(ent, at.clone(), d, Collection::DirectConnectGateways) {
            return;
        }
        let gw =
            &c.direct_connect_gateways[self.def(d, Collection::DirectConnectGateways).unwrap()];
        if !gw
            .associations
            .iter()
            .any(|x| x.gateway == a.transit_gateway)
        {
            self.err(
                ent.into(),
                at,
                format!(
                    "Direct Connect gateway {d} is not associated with {}",
                    a.transit_gateway
                ),
                Some(format!(
                    "add {{ gateway = \"{}\", allowed_prefixes = [...] }} to its associations",
                    a.transit_gateway
                )),
            );
        }
    }
}
