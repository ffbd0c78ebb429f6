//! Addresses unique in their VPC, whoever holds them; public addresses unique everywhere.

use super::*;

/// An address someone holds: the scope it must be unique in (a VPC id, or the internet),
/// the address, and who holds it (entity and field).
type Claim = (String, IpAddr, AddressOwner);

fn owner(collection: Collection, id: &str, path: FieldPath) -> AddressOwner {
    AddressOwner {
        entity: entity(collection, id),
        path,
    }
}

impl<'a> Validator<'a> {
    pub(super) fn check_address_uniqueness(&mut self) {
        let mut claims = self.private_claims();
        claims.extend(self.public_claims());
        let mut owners: BTreeMap<(String, IpAddr), AddressOwner> = BTreeMap::new();
        for (scope, ip, owner) in claims {
            match owners.get(&(scope.clone(), ip)) {
                Some(prev) => {
                    let line = self.l.source.locate(&prev.path).line;
                    let msg = format!(
                        "{ip} is already used in {scope} by the {} (line {line})",
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
                    owners.insert((scope, ip), owner);
                }
            }
        }
    }

    /// Private addresses, scoped by the VPC of their subnet (those in unknown subnets are
    /// reported elsewhere): instances, network interfaces (primary and secondary), NAT
    /// gateways, endpoint ENIs, load-balancer nodes.
    fn private_claims(&self) -> Vec<Claim> {
        let c = self.c;
        let mut claims = Vec::new();
        let mut claim = |v: &Self, subnet: &str, ip: IpAddr, o: AddressOwner| {
            if let Some(s) = v.subnet(subnet) {
                claims.push((s.vpc.clone(), ip, o));
            }
        };
        for (i, x) in c.instances.iter().enumerate() {
            let path = path![Collection::Instances, i, "private_ip"];
            claim(
                self,
                &x.subnet,
                x.private_ip.into(),
                owner(Collection::Instances, &x.id, path),
            );
            if let Some(a) = x.ipv6_address {
                let path = path![Collection::Instances, i, "ipv6_address"];
                claim(
                    self,
                    &x.subnet,
                    a.into(),
                    owner(Collection::Instances, &x.id, path),
                );
            }
        }
        for (i, x) in c.network_interfaces.iter().enumerate() {
            let of = |path| owner(Collection::NetworkInterfaces, &x.id, path);
            let path = path![Collection::NetworkInterfaces, i, "private_ip"];
            claim(self, &x.subnet, x.private_ip.into(), of(path));
            for (k, ip) in x.secondary_private_ips.iter().enumerate() {
                let path = path![Collection::NetworkInterfaces, i, "secondary_private_ips", k];
                claim(self, &x.subnet, (*ip).into(), of(path));
            }
            if let Some(a) = x.ipv6_address {
                let path = path![Collection::NetworkInterfaces, i, "ipv6_address"];
                claim(self, &x.subnet, a.into(), of(path));
            }
        }
        for (i, x) in c.nat_gateways.iter().enumerate() {
            let path = path![Collection::NatGateways, i, "private_ip"];
            claim(
                self,
                &x.subnet,
                x.private_ip.into(),
                owner(Collection::NatGateways, &x.id, path),
            );
        }
        for (i, e) in c.endpoints.iter().enumerate() {
            for (k, n) in e.network_interfaces.iter().enumerate() {
                let path = path![
                    Collection::Endpoints,
                    i,
                    "network_interfaces",
                    k,
                    "private_ip"
                ];
                claim(
                    self,
                    &n.subnet,
                    n.private_ip.into(),
                    owner(Collection::Endpoints, &e.id, path),
                );
                if let Some(a) = n.ipv6_address {
                    let path = path![
                        Collection::Endpoints,
                        i,
                        "network_interfaces",
                        k,
                        "ipv6_address"
                    ];
                    claim(
                        self,
                        &n.subnet,
                        a.into(),
                        owner(Collection::Endpoints, &e.id, path),
                    );
                }
            }
        }
        for (i, lb) in c.load_balancers.iter().enumerate() {
            for (k, m) in lb.subnet_mappings.iter().enumerate() {
                let path = path![
                    Collection::LoadBalancers,
                    i,
                    "subnet_mappings",
                    k,
                    "private_ip"
                ];
                let o = owner(Collection::LoadBalancers, &lb.id, path);
                claim(self, &m.subnet, m.private_ip.into(), o);
                if let Some(a) = m.ipv6_address {
                    let path = path![
                        Collection::LoadBalancers,
                        i,
                        "subnet_mappings",
                        k,
                        "ipv6_address"
                    ];
                    let o = owner(Collection::LoadBalancers, &lb.id, path);
                    claim(self, &m.subnet, a.into(), o);
                }
            }
        }
        claims
    }

    /// Public addresses, unique across the whole deployment: instances, network interfaces,
    /// NAT gateways.
    fn public_claims(&self) -> Vec<Claim> {
        let c = self.c;
        let internet = || "the internet".to_string();
        let mut claims = Vec::new();
        for (i, x) in c.instances.iter().enumerate() {
            if let Some(ip) = x.public_ip {
                let path = path![Collection::Instances, i, "public_ip"];
                claims.push((
                    internet(),
                    ip.into(),
                    owner(Collection::Instances, &x.id, path),
                ));
            }
        }
        for (i, x) in c.network_interfaces.iter().enumerate() {
            if let Some(ip) = x.public_ip {
                let path = path![Collection::NetworkInterfaces, i, "public_ip"];
                claims.push((
                    internet(),
                    ip.into(),
                    owner(Collection::NetworkInterfaces, &x.id, path),
                ));
            }
        }
        for (i, x) in c.nat_gateways.iter().enumerate() {
            if let Some(ip) = x.public_ip {
                let path = path![Collection::NatGateways, i, "public_ip"];
                claims.push((
                    internet(),
                    ip.into(),
                    owner(Collection::NatGateways, &x.id, path),
                ));
            }
        }
        claims
    }
}
