//! Instances and ENIs: addresses in their subnet, ids, security groups of their VPC.

use super::*;

impl<'a> Validator<'a> {
    pub(super) fn check_interfaces(&mut self) {
        let c = self.c;
        for (i, inst) in c.instances.iter().enumerate() {
            let ent = entity(Collection::Instances, &inst.id);
            let base = path![Collection::Instances, i];
            let eni = inst.eni_id();
            self.check_eni_id(&ent, base.at("network_interface"), &eni, &inst.subnet);
            if self.check_ip_in_subnet(&ent, base.clone(), &inst.subnet, inst.private_ip) {
                self.check_ipv6_in_subnet(
                    &ent,
                    base.at("ipv6_address"),
                    &inst.subnet,
                    inst.ipv6_address,
                );
            }
            self.check_sgs_in_subnet_vpc(
                &ent,
                base.at("security_groups"),
                &inst.security_groups,
                &inst.subnet,
            );
        }
        for (i, n) in c.network_interfaces.iter().enumerate() {
            let ent = entity(Collection::NetworkInterfaces, &n.id);
            let base = path![Collection::NetworkInterfaces, i];
            if self.check_ip_in_subnet(&ent, base.clone(), &n.subnet, n.private_ip) {
                let s = self.subnet(&n.subnet).unwrap();
                for (k, ip) in n.secondary_private_ips.iter().enumerate() {
                    if !s.cidr.0.contains(ip) || reserved_in_subnet(s.cidr.0, *ip).is_some() {
                        self.err(
                            ent.clone(),
                            base.at("secondary_private_ips").at(k),
                            format!(
                                "{ip} is not a usable address of subnet {} ({})",
                                s.id, s.cidr
                            ),
                            None,
                        );
                    }
                }
                self.check_ipv6_in_subnet(&ent, base.at("ipv6_address"), &n.subnet, n.ipv6_address);
            }
            self.check_sgs_in_subnet_vpc(
                &ent,
                base.at("security_groups"),
                &n.security_groups,
                &n.subnet,
            );
            if let Some(s) = self.subnet(&n.subnet) {
                self.enis
                    .insert(n.id.clone(), (s.vpc.as_str(), s.id.as_str()));
            }
        }
    }

    /// Registers a derived or explicit ENI id of an instance or endpoint.
    pub(super) fn check_eni_id(&mut self, ent: &str, path: FieldPath, eni: &str, subnet: &'a str) {
        if !eni.starts_with("eni-") {
            self.err(
                ent.to_string(),
                path,
                format!("`{eni}` is not a network interface id"),
                Some("ENI ids start with `eni-`".into()),
            );
            return;
        }
        let clash = self.ids.contains_key(eni) || self.enis.contains_key(eni);
        if clash {
            self.err(
                ent.to_string(),
                path,
                format!("network interface id `{eni}` is already used"),
                Some("ids are unique across the whole file".into()),
            );
            return;
        }
        if let Some(s) = self.subnet(subnet) {
            self.enis
                .insert(eni.to_string(), (s.vpc.as_str(), s.id.as_str()));
        }
    }

    pub(super) fn check_ipv6_in_subnet(
        &mut self,
        ent: &str,
        path: FieldPath,
        subnet: &str,
        ip: Option<std::net::Ipv6Addr>,
    ) {
        let (Some(ip), Some(s)) = (ip, self.subnet(subnet)) else {
            return;
        };
        match s.ipv6_cidr {
            Some(net) if net.0.contains(&ip) => {}
            Some(net) => self.err(
                ent.to_string(),
                path,
                format!("{ip} is not in subnet {} ({net})", s.id),
                None,
            ),
            None => self.err(
                ent.to_string(),
                path,
                format!("subnet {} has no IPv6 CIDR", s.id),
                Some("give the subnet an ipv6_cidr".into()),
            ),
        }
    }

    pub(super) fn check_sgs_in_subnet_vpc(
        &mut self,
        ent: &str,
        path: FieldPath,
        sgs: &[String],
        subnet: &str,
    ) {
        let vpc = self.subnet(subnet).map(|s| s.vpc.clone());
        self.check_sgs(ent, path, sgs, vpc.as_deref());
    }

    pub(super) fn check_sgs(
        &mut self,
        ent: &str,
        path: FieldPath,
        sgs: &[String],
        vpc: Option<&str>,
    ) {
        let mut seen = HashSet::new();
        for (k, sg) in sgs.iter().enumerate() {
            if !seen.insert(sg) {
                self.err(
                    ent.to_string(),
                    path.at(k),
                    format!("{sg} is listed twice"),
                    None,
                );
                continue;
            }
            if self.require(ent, path.at(k), sg, Collection::SecurityGroups) {
                let g = self.security_group(sg).unwrap();
                if let Some(vpc) = vpc {
                    self.require_same_vpc(
                        ent,
                        path.at(k),
                        &format!("security group {sg}"),
                        &g.vpc,
                        vpc,
                    );
                }
            }
        }
        if sgs.len() > 5 {
            self.err(
                ent.to_string(),
                path,
                format!(
                    "{} security groups; AWS allows 5 per network interface",
                    sgs.len()
                ),
                None,
            );
        }
    }
}
