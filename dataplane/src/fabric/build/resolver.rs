//! The builder's step for Route 53 Resolver endpoints: each address an ENI that owns it in
//! the endpoint's VPC.

use super::*;

impl FabricBuilder<'_> {
    pub(super) fn resolver_endpoints(&mut self) {
        let c = self.c;
        for e in &c.resolver_endpoints {
            let Some(&vpc) = self.vpc_index.get(e.vpc.as_str()) else {
                continue;
            };
            for a in &e.ip_addresses {
                let (Some(&subnet), Some(route_table)) = (
                    self.subnet_index.get(a.subnet.as_str()),
                    self.subnet_route_table(&a.subnet),
                ) else {
                    continue;
                };
                let x = self.parts.resolver_enis.len() as u32;
                self.claim(vpc, IpAddr::V4(a.ip), Owner::ResolverEndpoint(x));
                self.parts.resolver_enis.push(ResolverEni {
                    endpoint: e.id.clone(),
                    vpc,
                    ip: a.ip,
                    subnet,
                    route_table,
                    sg: self.sg_of(&e.security_groups),
                    outbound: e.direction == model::ResolverDirection::Outbound,
                });
            }
        }
    }
}
