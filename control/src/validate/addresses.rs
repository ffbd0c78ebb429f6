//! Addresses unique in their VPC, whoever holds them.

use super::*;

impl<'a> Validator<'a> {
    pub(super) fn check_address_uniqueness(&mut self) {
        let c = self.c;
        let mut owners: BTreeMap<(String, Ipv4Addr), AddressOwner> = BTreeMap::new();
        let mut claims: Vec<(String, Ipv4Addr, AddressOwner)> = Vec::new();
        let vpc_of = |v: &Self, subnet: &str| v.subnet(subnet).map(|s| s.vpc.clone());
        for (i, x) in c.instances.iter().enumerate() {
            if let Some(vpc) = vpc_of(self, &x.subnet) {
                claims.push((
                    vpc,
                    x.private_ip,
                    AddressOwner {
                        entity: entity(Collection::Instances, &x.id),
                        path: path![Collection::Instances, i, "private_ip"],
                    },
                ));
            }
        }
        for (i, x) in c.network_interfaces.iter().enumerate() {
            if let Some(vpc) = vpc_of(self, &x.subnet) {
                claims.push((
                    vpc.clone(),
                    x.private_ip,
                    AddressOwner {
                        entity: entity(Collection::NetworkInterfaces, &x.id),
                        path: path![Collection::NetworkInterfaces, i, "private_ip"],
                    },
                ));
                for (k, ip) in x.secondary_private_ips.iter().enumerate() {
                    claims.push((
                        vpc.clone(),
                        *ip,
                        AddressOwner {
                            entity: entity(Collection::NetworkInterfaces, &x.id),
                            path: path![
                                Collection::NetworkInterfaces,
                                i,
                                "secondary_private_ips",
                                k
                            ],
                        },
                    ));
                }
            }
        }
        for (i, x) in c.nat_gateways.iter().enumerate() {
            if let Some(vpc) = vpc_of(self, &x.subnet) {
                claims.push((
                    vpc,
                    x.private_ip,
                    AddressOwner {
                        entity: entity(Collection::NatGateways, &x.id),
                        path: path![Collection::NatGateways, i, "private_ip"],
                    },
                ));
            }
        }
        for (i, e) in c.endpoints.iter().enumerate() {
            for (k, n) in e.network_interfaces.iter().enumerate() {
                if let Some(vpc) = vpc_of(self, &n.subnet) {
                    claims.push((
                        vpc,
                        n.private_ip,
                        AddressOwner {
                            entity: entity(Collection::Endpoints, &e.id),
                            path: path![
                                Collection::Endpoints,
                                i,
                                "network_interfaces",
                                k,
                                "private_ip"
                            ],
                        },
                    ));
                }
            }
        }
        for (i, lb) in c.load_balancers.iter().enumerate() {
            for (k, m) in lb.subnet_mappings.iter().enumerate() {
                if let Some(vpc) = vpc_of(self, &m.subnet) {
                    claims.push((
                        vpc,
                        m.private_ip,
                        AddressOwner {
                            entity: entity(Collection::LoadBalancers, &lb.id),
                            path: path![
                                Collection::LoadBalancers,
                                i,
                                "subnet_mappings",
                                k,
                                "private_ip"
                            ],
                        },
                    ));
                }
            }
        }
        // Public addresses are unique across the whole deployment.
        let mut public: Vec<(Ipv4Addr, AddressOwner)> = Vec::new();
        for (i, x) in c.instances.iter().enumerate() {
            if let Some(ip) = x.public_ip {
                public.push((
                    ip,
                    AddressOwner {
                        entity: entity(Collection::Instances, &x.id),
                        path: path![Collection::Instances, i, "public_ip"],
                    },
                ));
            }
        }
        for (i, x) in c.network_interfaces.iter().enumerate() {
            if let Some(ip) = x.public_ip {
                public.push((
                    ip,
                    AddressOwner {
                        entity: entity(Collection::NetworkInterfaces, &x.id),
                        path: path![Collection::NetworkInterfaces, i, "public_ip"],
                    },
                ));
            }
        }
        for (i, x) in c.nat_gateways.iter().enumerate() {
            if let Some(ip) = x.public_ip {
                public.push((
                    ip,
                    AddressOwner {
                        entity: entity(Collection::NatGateways, &x.id),
                        path: path![Collection::NatGateways, i, "public_ip"],
                    },
                ));
            }
        }
        for (ip, owner) in public {
            claims.push(("the internet".to_string(), ip, owner));
        }
        for (vpc, ip, owner) in claims {
            match owners.get(&(vpc.clone(), ip)) {
                Some(prev) => {
                    let line = self.l.source.locate(&prev.path).line;
                    let msg = format!(
                        "{ip} is already used in {vpc} by the {} (line {line})",
                        prev.entity
                    );
                    self.err(
                        owner.entity.clone(),
                        owner.path.clone(),
                        msg,
                        Some("private addresses are unique within a VPC".into()),
                    );
                }
                None => {
                    owners.insert((vpc, ip), owner);
                }
            }
        }
    }
}
