//! Route 53 Resolver endpoints and rules, and the interface endpoint option that keeps
//! private DNS for queries through inbound endpoints.

use super::*;

impl<'a> Validator<'a> {
    pub(super) fn check_resolver(&mut self) {
        self.check_resolver_endpoints();
        self.check_resolver_rules();
        self.check_inbound_only_private_dns();
    }

    fn check_resolver_endpoints(&mut self) {
        let c = self.c;
        for (i, e) in c.resolver_endpoints.iter().enumerate() {
            let ent = entity(Collection::ResolverEndpoints, &e.id);
            let at = |f: &'static str| path![Collection::ResolverEndpoints, i, f];
            if !self.require(&ent, at("vpc"), &e.vpc, Collection::Vpcs) {
                continue;
            }
            if e.ip_addresses.is_empty() {
                self.err(ent.clone(), at("ip_addresses"), "a Resolver endpoint has at least one address", Some("ip_addresses = [{ subnet = \"subnet-…\", ip = \"…\" }], two in different zones for availability".into()));
            }
            for (k, a) in e.ip_addresses.iter().enumerate() {
                let p = path![Collection::ResolverEndpoints, i, "ip_addresses", k];
                if !self.require(&ent, p.at("subnet"), &a.subnet, Collection::Subnets) {
                    continue;
                }
                let sn = &c.subnets[self.def(&a.subnet, Collection::Subnets).unwrap()];
                if sn.vpc != e.vpc {
                    self.err(
                        ent.clone(),
                        p.at("subnet"),
                        format!("{} is in {}, not in {}", sn.id, sn.vpc, e.vpc),
                        None,
                    );
                } else if !sn.cidr.0.contains(&a.ip) {
                    self.err(
                        ent.clone(),
                        p.at("ip"),
                        format!("{} is not inside {} ({})", a.ip, sn.id, sn.cidr),
                        None,
                    );
                } else if let Some(why) = reserved_in_subnet(sn.cidr.0, a.ip) {
                    self.err(ent.clone(), p.at("ip"), format!("{} is {why}", a.ip), None);
                }
            }
            for (k, g) in e.security_groups.iter().enumerate() {
                self.require(
                    &ent,
                    path![Collection::ResolverEndpoints, i, "security_groups", k],
                    g,
                    Collection::SecurityGroups,
                );
            }
        }
    }

    fn check_resolver_rules(&mut self) {
        let c = self.c;
        for (i, r) in c.resolver_rules.iter().enumerate() {
            let ent = entity(Collection::ResolverRules, &r.id);
            let at = |f: &'static str| path![Collection::ResolverRules, i, f];
            let domain = r.domain.trim_end_matches('.');
            if domain.is_empty() || domain.split('.').any(|l| l.is_empty() || l.len() > 63) {
                self.err(
                    ent.clone(),
                    at("domain"),
                    format!("`{}` is not a domain name", r.domain),
                    None,
                );
            }
            for (k, v) in r.vpcs.iter().enumerate() {
                self.require(
                    &ent,
                    path![Collection::ResolverRules, i, "vpcs", k],
                    v,
                    Collection::Vpcs,
                );
            }
            match r.rule_type {
                ResolverRuleType::Forward => {
                    match r.resolver_endpoint.as_deref() {
                        None => self.err(
                            ent.clone(),
                            at("resolver_endpoint"),
                            "a forward rule names the outbound endpoint its queries leave through",
                            None,
                        ),
                        Some(e) => {
                            if self.require(
                                &ent,
                                at("resolver_endpoint"),
                                e,
                                Collection::ResolverEndpoints,
                            ) {
                                let ep = &c.resolver_endpoints
                                    [self.def(e, Collection::ResolverEndpoints).unwrap()];
                                if ep.direction != ResolverDirection::Outbound {
                                    self.err(ent.clone(), at("resolver_endpoint"), format!("{e} is an inbound endpoint; forward rules go out through an outbound one"), None);
                                }
                            }
                        }
                    }
                    if r.target_ips.is_empty() {
                        self.err(
                            ent.clone(),
                            at("target_ips"),
                            "a forward rule needs the DNS servers to forward to",
                            None,
                        );
                    }
                }
                ResolverRuleType::System => {
                    if r.resolver_endpoint.is_some() || !r.target_ips.is_empty() {
                        self.err(
                            ent.clone(),
                            at("target_ips"),
                            "a system rule forwards nowhere: no resolver_endpoint, no target_ips",
                            None,
                        );
                    }
                }
            }
        }
    }

    /// AWS offers `private_dns_only_for_inbound_resolver_endpoint` for an interface endpoint
    /// with private DNS in a VPC that also has a gateway endpoint to the same service (S3).
    fn check_inbound_only_private_dns(&mut self) {
        let c = self.c;
        for (i, e) in c.endpoints.iter().enumerate() {
            if !e.private_dns_only_for_inbound_resolver_endpoint {
                continue;
            }
            let ent = entity(Collection::Endpoints, &e.id);
            let at = path![
                Collection::Endpoints,
                i,
                "private_dns_only_for_inbound_resolver_endpoint"
            ];
            if !e.private_dns_enabled {
                self.err(
                    ent,
                    at,
                    "applies only with private_dns_enabled = true",
                    None,
                );
                continue;
            }
            let gateway = c.endpoints.iter().any(|g| {
                g.endpoint_type == EndpointType::Gateway && g.vpc == e.vpc && g.service == e.service
            });
            if !gateway {
                self.err(ent, at, format!("needs a gateway endpoint to {} in {}: its own instances reach the service through that", e.service, e.vpc), None);
            }
        }
    }
}
