//! The region and its zones, VPCs, subnets, and the gateways (internet, NAT, peering, virtual private) that attach to them.

use super::*;

impl<'a> Validator<'a> {
    pub(super) fn check_region(&mut self) {
        let r = &self.c.region;
        let ok = !r.is_empty()
            && r.split('-').count() >= 3
            && r.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-');
        if !ok {
            self.err(
                "deployment".into(),
                path!["region"],
                format!("`{r}` is not an AWS region name"),
                Some("write a region such as us-east-1 or ap-northeast-1".into()),
            );
        }
        for (i, az) in self.c.availability_zones.iter().enumerate() {
            if !az.starts_with(r.as_str()) || az.len() == r.len() {
                self.err(
                    "deployment".into(),
                    path!["availability_zones", i],
                    format!("`{az}` is not an availability zone of region {r}"),
                    Some(format!(
                        "zone names are the region followed by a letter, like {r}a"
                    )),
                );
            }
        }
        self.check_zone_ids();
    }

    /// `availability_zone_ids`: a zone of the region to an id such as `use1-az6`, each id
    /// once (one account maps one name to one physical zone).
    fn check_zone_ids(&mut self) {
        let r = &self.c.region;
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, id) in &self.c.availability_zone_ids {
            let at = path!["availability_zone_ids"];
            if !name.starts_with(r.as_str()) || name.len() == r.len() {
                self.err(
                    "deployment".into(),
                    at.clone(),
                    format!("`{name}` is not an availability zone of region {r}"),
                    None,
                );
            }
            let well_formed = id.split_once("-az").is_some_and(|(pre, n)| {
                !pre.is_empty()
                    && pre
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && !n.is_empty()
                    && n.chars().all(|c| c.is_ascii_digit())
            });
            if !well_formed {
                self.err(
                    "deployment".into(),
                    at.clone(),
                    format!("{name} = `{id}` is not an availability zone id"),
                    Some("zone ids look like use1-az6 (DescribeAvailabilityZones' ZoneId)".into()),
                );
            } else if let Some(other) = seen.insert(id, name) {
                self.err(
                    "deployment".into(),
                    at,
                    format!("{id} is already the id of {other}; each zone has its own id"),
                    None,
                );
            }
        }
    }

    pub(super) fn check_vpcs(&mut self) {
        for (i, vpc) in self.c.vpcs.iter().enumerate() {
            let ent = entity(Collection::Vpcs, &vpc.id);
            if vpc.cidr_blocks.is_empty() {
                self.err(
                    ent.clone(),
                    path![Collection::Vpcs, i, "cidr_blocks"],
                    "a VPC needs at least one IPv4 CIDR",
                    Some("e.g. cidr_blocks = [\"10.0.0.0/16\"]".into()),
                );
            }
            for (k, c) in vpc.cidr_blocks.iter().enumerate() {
                if !(16..=28).contains(&c.0.prefix_len()) {
                    self.err(
                        ent.clone(),
                        path![Collection::Vpcs, i, "cidr_blocks", k],
                        format!("{c} is a /{}; a VPC CIDR is /16 to /28", c.0.prefix_len()),
                        None,
                    );
                }
                for (m, d) in vpc.cidr_blocks.iter().enumerate().take(k) {
                    if overlaps(IpNet::V4(c.0), IpNet::V4(d.0)) {
                        self.err(
                            ent.clone(),
                            path![Collection::Vpcs, i, "cidr_blocks", k],
                            format!("{c} overlaps cidr_blocks[{m}] {d}"),
                            None,
                        );
                    }
                }
            }
            for (k, c) in vpc.ipv6_cidr_blocks.iter().enumerate() {
                if !(44..=60).contains(&c.0.prefix_len()) {
                    self.err(
                        ent.clone(),
                        path![Collection::Vpcs, i, "ipv6_cidr_blocks", k],
                        format!(
                            "{c} is a /{}; a VPC IPv6 CIDR is /44 to /60 (AWS assigns /56)",
                            c.0.prefix_len()
                        ),
                        None,
                    );
                }
            }
        }
    }

    pub(super) fn check_subnets(&mut self) {
        let c = self.c;
        for (i, s) in c.subnets.iter().enumerate() {
            let ent = entity(Collection::Subnets, &s.id);
            self.check_az(
                &ent,
                path![Collection::Subnets, i, "availability_zone"],
                &s.availability_zone,
            );
            if s.cidr.0.prefix_len() < 16 || s.cidr.0.prefix_len() > 28 {
                self.err(
                    ent.clone(),
                    path![Collection::Subnets, i, "cidr"],
                    format!(
                        "{} is a /{}; a subnet is /16 to /28",
                        s.cidr,
                        s.cidr.0.prefix_len()
                    ),
                    None,
                );
            }
            if !self.require(
                &ent,
                path![Collection::Subnets, i, "vpc"],
                &s.vpc,
                Collection::Vpcs,
            ) {
                continue;
            }
            let vpc = self.vpc(&s.vpc).expect("resolved");
            if !vpc.cidr_blocks.iter().any(|v| v.0.contains(&s.cidr.0)) {
                let cidrs: Vec<String> = vpc.cidr_blocks.iter().map(|c| c.to_string()).collect();
                self.err(
                    ent.clone(),
                    path![Collection::Subnets, i, "cidr"],
                    format!("{} is not inside {} ({})", s.cidr, vpc.id, cidrs.join(", ")),
                    Some("a subnet's CIDR lies inside one of its VPC's CIDR blocks".into()),
                );
            }
            for (k, o) in c.subnets.iter().enumerate().take(i) {
                if o.vpc == s.vpc && overlaps(IpNet::V4(o.cidr.0), IpNet::V4(s.cidr.0)) {
                    self.err(
                        ent.clone(),
                        path![Collection::Subnets, i, "cidr"],
                        format!(
                            "{} overlaps subnet {} ({}) of the same VPC",
                            s.cidr, o.id, o.cidr
                        ),
                        None,
                    );
                    let _ = k;
                }
            }
            if let Some(v6) = s.ipv6_cidr {
                if v6.0.prefix_len() != 64 {
                    self.err(
                        ent.clone(),
                        path![Collection::Subnets, i, "ipv6_cidr"],
                        format!("{v6} is a /{}; an IPv6 subnet is a /64", v6.0.prefix_len()),
                        None,
                    );
                }
                if !vpc.ipv6_cidr_blocks.iter().any(|b| b.0.contains(&v6.0)) {
                    self.err(
                        ent.clone(),
                        path![Collection::Subnets, i, "ipv6_cidr"],
                        format!("{v6} is not inside an IPv6 CIDR of {}", vpc.id),
                        Some(
                            "add the VPC's block to ipv6_cidr_blocks, or pick a /64 inside it"
                                .into(),
                        ),
                    );
                }
            }
        }
    }

    pub(super) fn check_az(&mut self, ent: &str, path: FieldPath, az: &str) {
        let c = self.c;
        if c.availability_zones.is_empty() {
            if !az.starts_with(c.region.as_str()) || az.len() == c.region.len() {
                self.err(
                    ent.to_string(),
                    path,
                    format!("`{az}` is not an availability zone of region {}", c.region),
                    Some(format!(
                        "zone names are the region followed by a letter, like {}a",
                        c.region
                    )),
                );
            }
        } else if !c.availability_zones.iter().any(|z| z == az) {
            self.err(
                ent.to_string(),
                path,
                format!("availability zone `{az}` is not one of the deployment's zones"),
                Some(format!(
                    "availability_zones = [{}]",
                    c.availability_zones.join(", ")
                )),
            );
        }
    }

    pub(super) fn check_gateways(&mut self) {
        let c = self.c;
        if let Some(r) = &c.resolver {
            self.require(
                "resolver",
                path!["resolver", "internet_gateway"],
                &r.internet_gateway,
                Collection::InternetGateways,
            );
        }
        for (i, g) in c.internet_gateways.iter().enumerate() {
            let ent = entity(Collection::InternetGateways, &g.id);
            self.require(
                &ent,
                path![Collection::InternetGateways, i, "vpc"],
                &g.vpc,
                Collection::Vpcs,
            );
            match (&g.interface, g.next_hop, &g.namespace) {
                (Some(_), None, _) => self.err(
                    ent.clone(),
                    path![Collection::InternetGateways, i, "next_hop"],
                    "an internet gateway on an existing interface needs the router to send to",
                    Some("next_hop = \"198.51.100.1\" (an address on that interface's link)".into()),
                ),
                (None, Some(_), _) => self.err(
                    ent.clone(),
                    path![Collection::InternetGateways, i, "next_hop"],
                    "next_hop applies to an internet gateway on an existing interface",
                    Some("add interface = \"…\", or remove next_hop".into()),
                ),
                (Some(_), Some(_), Some(_)) => self.err(
                    ent.clone(),
                    path![Collection::InternetGateways, i, "namespace"],
                    "an internet gateway on an existing interface has no namespace of its own: the interface is where vpced runs",
                    Some("remove namespace, or remove interface to get a TUN device in that namespace".into()),
                ),
                (Some(name), Some(_), None) if name.is_empty() || name.len() > 15 || name.contains('/') => self.err(
                    ent.clone(),
                    path![Collection::InternetGateways, i, "interface"],
                    format!("{name:?} is not an interface name (1 to 15 characters, no '/')"),
                    None,
                ),
                _ => {}
            }
            for (k, o) in c.internet_gateways.iter().enumerate().take(i) {
                if o.vpc == g.vpc {
                    self.err(
                        ent.clone(),
                        path![Collection::InternetGateways, i, "vpc"],
                        format!(
                            "{} already has internet gateway {} (internet_gateways[{k}])",
                            g.vpc, o.id
                        ),
                        Some("a VPC has at most one internet gateway".into()),
                    );
                }
            }
        }
        for (i, g) in c.vpn_gateways.iter().enumerate() {
            let ent = entity(Collection::VpnGateways, &g.id);
            self.require(
                &ent,
                path![Collection::VpnGateways, i, "vpc"],
                &g.vpc,
                Collection::Vpcs,
            );
        }
        for (i, n) in c.nat_gateways.iter().enumerate() {
            let ent = entity(Collection::NatGateways, &n.id);
            self.check_ip_in_subnet(
                &ent,
                path![Collection::NatGateways, i],
                &n.subnet,
                n.private_ip,
            );
        }
        for (i, p) in c.peering_connections.iter().enumerate() {
            let ent = entity(Collection::PeeringConnections, &p.id);
            let a = self.require(
                &ent,
                path![Collection::PeeringConnections, i, "requester_vpc"],
                &p.requester_vpc,
                Collection::Vpcs,
            );
            let b = self.require(
                &ent,
                path![Collection::PeeringConnections, i, "accepter_vpc"],
                &p.accepter_vpc,
                Collection::Vpcs,
            );
            if a && b {
                if p.requester_vpc == p.accepter_vpc {
                    self.err(
                        ent.clone(),
                        path![Collection::PeeringConnections, i, "accepter_vpc"],
                        "a VPC cannot peer with itself",
                        None,
                    );
                }
                let (va, vb) = (
                    self.vpc(&p.requester_vpc).unwrap(),
                    self.vpc(&p.accepter_vpc).unwrap(),
                );
                for x in &va.cidr_blocks {
                    for y in &vb.cidr_blocks {
                        if p.requester_vpc != p.accepter_vpc
                            && overlaps(IpNet::V4(x.0), IpNet::V4(y.0))
                        {
                            self.err(
                                ent.clone(),
                                path![Collection::PeeringConnections, i, "accepter_vpc"],
                                format!("{} ({x}) and {} ({y}) overlap; AWS cannot peer overlapping VPCs", va.id, vb.id),
                                None,
                            );
                        }
                    }
                }
            }
        }
    }

    /// `subnet` exists and `ip` is a usable address in it. `base` is the entity's path; the
    /// fields are `subnet` and `private_ip`.
    pub(super) fn check_ip_in_subnet(
        &mut self,
        ent: &str,
        base: FieldPath,
        subnet: &str,
        ip: Ipv4Addr,
    ) -> bool {
        if !self.require(ent, base.at("subnet"), subnet, Collection::Subnets) {
            return false;
        }
        let s = self.subnet(subnet).expect("resolved");
        if !s.cidr.0.contains(&ip) {
            self.err(
                ent.to_string(),
                base.at("private_ip"),
                format!("{ip} is not in subnet {} ({})", s.id, s.cidr),
                None,
            );
            return false;
        }
        if let Some(why) = reserved_in_subnet(s.cidr.0, ip) {
            self.err(
                ent.to_string(),
                base.at("private_ip"),
                format!("{ip} is {why} of subnet {} ({})", s.id, s.cidr),
                Some(format!(
                    "usable addresses are {} to {}",
                    Ipv4Addr::from(u32::from(s.cidr.0.network()) + 4),
                    Ipv4Addr::from(u32::from(s.cidr.0.broadcast()) - 1)
                )),
            );
            return false;
        }
        true
    }
}
