//! Address families: which of IPv4 and IPv6 interface endpoints, endpoint services, Network
//! Load Balancers and target groups use, with the combinations AWS's documentation allows.
//!
//! * An endpoint's `ip_address_type`: `dualstack` "is supported only if all selected subnets
//!   have both IPv4 and IPv6 address ranges and the endpoint service accepts both IPv4 and IPv6
//!   requests" (EC2 API, `IpAddressType`); `ipv6` needs IPv6-only subnets, which vpce does not
//!   model (every subnet has an IPv4 CIDR).
//! * `dns_record_ip_type`: `ipv4` needs IPv4 addresses, `ipv6` IPv6 ones, `dualstack` and
//!   `service-defined` a dual-stack endpoint.
//! * A service accepts IPv6 requests only with dual-stack load balancers ("To enable IPv6 …
//!   the Network Load Balancer must use the dualstack IP address type").
//! * A dual-stack NLB's subnets have IPv6 CIDRs; IPv6 target groups "can only be used with
//!   dualstack load balancers with TCP or TLS listeners", hold IP targets only, and "all IP
//!   addresses within a target group must have the same IP address type".

use super::*;
use std::net::Ipv6Addr;

impl<'a> Validator<'a> {
    pub(super) fn check_address_types(&mut self) {
        for (i, e) in self.c.endpoints.iter().enumerate() {
            self.check_endpoint_families(&path![Collection::Endpoints, i], e);
        }
        for (i, s) in self.c.endpoint_services.iter().enumerate() {
            self.check_service_families(&path![Collection::EndpointServices, i], s);
        }
        for (i, lb) in self.c.load_balancers.iter().enumerate() {
            self.check_lb_families(&path![Collection::LoadBalancers, i], lb);
        }
        for (i, tg) in self.c.target_groups.iter().enumerate() {
            self.check_tg_families(&path![Collection::TargetGroups, i], tg);
        }
    }

    /// An address in the IPv6 CIDR of subnet `subnet`, outside the five AWS reserves (the
    /// first four and the last).
    fn check_v6_in_subnet(&mut self, ent: &str, at: FieldPath, subnet: &str, a: Ipv6Addr) {
        let Some(s) = self.subnet(subnet) else { return };
        let Some(net) = s.ipv6_cidr.map(|c| c.0) else {
            self.err(
                ent.to_string(),
                at,
                format!("subnet {} has no IPv6 CIDR", s.id),
                Some("give the subnet an ipv6_cidr (its VPC an ipv6_cidr_blocks entry)".into()),
            );
            return;
        };
        if !net.contains(&a) {
            self.err(
                ent.to_string(),
                at,
                format!("{a} is not in subnet {} ({net})", s.id),
                None,
            );
            return;
        }
        let (first, last) = (u128::from(net.network()), u128::from(net.broadcast()));
        let x = u128::from(a);
        if x < first + 4 || x == last {
            self.err(
                ent.to_string(),
                at,
                format!("{a} is reserved by AWS in subnet {} ({net})", s.id),
                Some(
                    "AWS reserves the first four IPv6 addresses and the last of every subnet CIDR"
                        .into(),
                ),
            );
        }
    }

    /// The `ipv6_address` of an interface in `subnet`: required (`want` says how, when
    /// missing) and in the subnet's IPv6 CIDR, or absent when the holder is IPv4 only.
    fn check_ipv6_field(
        &mut self,
        ent: &str,
        at: FieldPath,
        subnet: &str,
        want: Option<&str>,
        addr: Option<Ipv6Addr>,
    ) {
        match (want, addr) {
            (Some(_), Some(a)) => self.check_v6_in_subnet(ent, at, subnet, a),
            (Some(missing), None) => self.err(
                ent.to_string(),
                at,
                missing,
                Some("an address in the subnet's ipv6_cidr".into()),
            ),
            (None, Some(_)) => self.err(
                ent.to_string(),
                at,
                "ipv6_address needs ip_address_type = \"dualstack\"",
                None,
            ),
            (None, None) => {}
        }
    }

    fn check_endpoint_families(&mut self, base: &FieldPath, e: &'a Endpoint) {
        let ent = entity(Collection::Endpoints, &e.id);
        let t = e.ip_address_type;
        if e.endpoint_type != EndpointType::Interface {
            if e.endpoint_type == EndpointType::GatewayLoadBalancer && !t.is_ipv4() {
                self.err(
                    ent.clone(),
                    base.at("ip_address_type"),
                    "vpce models Gateway Load Balancer endpoints over IPv4 only",
                    None,
                );
            }
            if e.dns_record_ip_type.is_some() {
                self.err(
                    ent,
                    base.at("dns_record_ip_type"),
                    format!("{} endpoints have no DNS names", e.endpoint_type),
                    None,
                );
            }
            return;
        }
        if t == IpAddressType::Ipv6 {
            self.err(
                ent.clone(),
                base.at("ip_address_type"),
                "an ipv6 endpoint needs IPv6-only subnets, which vpce does not model",
                Some("use ip_address_type = \"dualstack\" (and dns_record_ip_type = \"ipv6\" for AAAA records only)".into()),
            );
        }
        for (k, n) in e.network_interfaces.iter().enumerate() {
            let at = base.at("network_interfaces").at(k).at("ipv6_address");
            let missing = format!("a {t} endpoint's network interfaces need an ipv6_address");
            let want = t.has_v6().then_some(missing.as_str());
            self.check_ipv6_field(&ent, at, &n.subnet, want, n.ipv6_address);
        }
        if let Some(r) = e.dns_record_ip_type {
            let ok = match r {
                DnsRecordIpType::Ipv4 => t.has_v4(),
                DnsRecordIpType::Ipv6 => t.has_v6(),
                DnsRecordIpType::Dualstack | DnsRecordIpType::ServiceDefined => {
                    t == IpAddressType::Dualstack
                }
            };
            if !ok {
                self.err(ent.clone(), base.at("dns_record_ip_type"), format!("dns_record_ip_type {r} does not go with ip_address_type {t}"), Some("ipv4 needs ipv4 or dualstack endpoints, ipv6 ipv6 or dualstack ones, dualstack and service-defined dualstack ones".into()));
            }
        }
        self.check_service_accepts(&ent, base, e);
    }

    /// The endpoint's service accepts requests of every family the endpoint has addresses of.
    fn check_service_accepts(&mut self, ent: &str, base: &FieldPath, e: &'a Endpoint) {
        let t = e.ip_address_type;
        let c = self.c;
        if let Some(s) = c
            .endpoint_services
            .iter()
            .find(|s| s.service_name(&c.region) == e.service)
        {
            let accepts = |f| s.supported_ip_address_types.contains(&f);
            let missing: Vec<&str> = [
                (t.has_v4(), IpAddressType::Ipv4, "ipv4"),
                (t.has_v6(), IpAddressType::Ipv6, "ipv6"),
            ]
            .into_iter()
            .filter(|&(needed, f, _)| needed && !accepts(f))
            .map(|(_, _, n)| n)
            .collect();
            if !missing.is_empty() {
                self.err(
                    ent.to_string(),
                    base.at("ip_address_type"),
                    format!(
                        "a {t} endpoint needs a service that accepts {} requests; {} supports {}",
                        missing.join(" and "),
                        s.id,
                        names(&s.supported_ip_address_types)
                    ),
                    Some(format!(
                        "add {} to {}'s supported_ip_address_types",
                        missing.join(", "),
                        s.id
                    )),
                );
            }
        } else if let Some(s) = c.aws_services.iter().find(|s| s.name == e.service) {
            if t.has_v6() && !s.service_addresses.iter().any(IpAddr::is_ipv6) {
                self.err(
                    ent.to_string(),
                    base.at("ip_address_type"),
                    format!(
                        "{} has no IPv6 service address, so it takes no IPv6 requests",
                        s.name
                    ),
                    Some(
                        "add one to its service_addresses, or use ip_address_type = \"ipv4\""
                            .into(),
                    ),
                );
            }
        }
    }

    fn check_service_families(&mut self, base: &FieldPath, s: &'a EndpointService) {
        let ent = entity(Collection::EndpointServices, &s.id);
        let at = base.at("supported_ip_address_types");
        let types = &s.supported_ip_address_types;
        if types.is_empty() || types.contains(&IpAddressType::Dualstack) {
            self.err(
                ent,
                at,
                "supported_ip_address_types lists ipv4, ipv6 or both",
                Some("[\"ipv4\", \"ipv6\"] for a dual-stack service".into()),
            );
            return;
        }
        if !types.contains(&IpAddressType::Ipv6) {
            return;
        }
        for id in &s.load_balancers {
            let Some(lb) = self.load_balancer(id) else {
                continue;
            };
            if lb.ip_address_type != IpAddressType::Dualstack {
                self.err(ent.clone(), at.clone(), format!("{id} is not dualstack, so the service cannot accept IPv6 requests"), Some(format!("set ip_address_type = \"dualstack\" on {id} (AWS: an endpoint service supports IPv6 only with dual-stack load balancers)")));
            }
        }
    }

    fn check_lb_families(&mut self, base: &FieldPath, lb: &'a LoadBalancer) {
        let ent = entity(Collection::LoadBalancers, &lb.id);
        let t = lb.ip_address_type;
        let bad = match (t, lb.lb_type) {
            (IpAddressType::Ipv6, _) => {
                Some("a load balancer's ip_address_type is ipv4 or dualstack")
            }
            (IpAddressType::Dualstack, LoadBalancerType::Gateway) => {
                Some("vpce models Gateway Load Balancers over IPv4 only")
            }
            _ => None,
        };
        if let Some(msg) = bad {
            self.err(ent, base.at("ip_address_type"), msg, None);
            return;
        }
        for (k, m) in lb.subnet_mappings.iter().enumerate() {
            let at = base.at("subnet_mappings").at(k).at("ipv6_address");
            let want = t
                .has_v6()
                .then_some("a dualstack load balancer's subnet mappings need an ipv6_address");
            self.check_ipv6_field(&ent, at, &m.subnet, want, m.ipv6_address);
        }
    }

    fn check_tg_families(&mut self, base: &FieldPath, tg: &'a TargetGroup) {
        let ent = entity(Collection::TargetGroups, &tg.id);
        let at = base.at("ip_address_type");
        let v6 = match tg.ip_address_type {
            IpAddressType::Dualstack => {
                self.err(
                    ent,
                    at,
                    "a target group's ip_address_type is ipv4 or ipv6",
                    Some(
                        "AWS: all IP addresses within a target group have the same IP address type"
                            .into(),
                    ),
                );
                return;
            }
            t => t == IpAddressType::Ipv6,
        };
        for (k, t) in tg.targets.iter().enumerate() {
            let tb = base.at("targets").at(k);
            match (v6, t.ip, &t.instance) {
                (true, None, Some(_)) => self.err(
                    ent.clone(),
                    tb.at("instance"),
                    "IPv6 target groups take IP targets only",
                    Some("register the instance's IPv6 address as { ip = \"…\" }".into()),
                ),
                (true, Some(IpAddr::V4(a)), _) => self.err(
                    ent.clone(),
                    tb.at("ip"),
                    format!("{a} is IPv4 but the group is ipv6"),
                    Some(
                        "AWS: all IP addresses within a target group have the same IP address type"
                            .into(),
                    ),
                ),
                (false, Some(IpAddr::V6(a)), _) => self.err(
                    ent.clone(),
                    tb.at("ip"),
                    format!("{a} is IPv6 but the group is ipv4"),
                    Some(
                        "set ip_address_type = \"ipv6\" on the group (its targets then all IPv6)"
                            .into(),
                    ),
                ),
                _ => {}
            }
        }
        if !v6 {
            return;
        }
        if !matches!(tg.protocol, Protocol::Tcp | Protocol::Tls) {
            self.err(
                ent.clone(),
                base.at("protocol"),
                format!("IPv6 target groups are TCP or TLS, not {}", tg.protocol),
                None,
            );
        }
        let users = self
            .c
            .load_balancers
            .iter()
            .filter(|lb| lb.listeners.iter().any(|l| l.target_group == tg.id));
        for lb in users {
            if lb.ip_address_type != IpAddressType::Dualstack {
                self.err(
                    ent.clone(),
                    at.clone(),
                    format!("{} uses this IPv6 group but is not dualstack", lb.id),
                    Some(format!("set ip_address_type = \"dualstack\" on {}", lb.id)),
                );
            }
        }
    }
}

/// `ipv4, ipv6` for messages.
fn names(types: &[IpAddressType]) -> String {
    let v: Vec<String> = types.iter().map(ToString::to_string).collect();
    v.join(", ")
}
