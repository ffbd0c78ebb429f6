//! Managed prefix lists and security groups with their rules.

use super::*;

impl<'a> Validator<'a> {
    pub(super) fn check_prefix_lists(&mut self) {
        for (i, pl) in self.c.prefix_lists.iter().enumerate() {
            let ent = entity(Collection::PrefixLists, &pl.id);
            if pl.name.trim().is_empty() {
                self.err(
                    ent.clone(),
                    path![Collection::PrefixLists, i, "name"],
                    "the name is empty",
                    None,
                );
            }
            let mut seen: HashMap<Cidr, usize> = HashMap::new();
            for (k, e) in pl.entries.iter().enumerate() {
                let cidr = e.cidr();
                let family_ok = match pl.address_family {
                    AddressFamily::IPv4 => cidr.is_ipv4(),
                    AddressFamily::IPv6 => !cidr.is_ipv4(),
                };
                if !family_ok {
                    self.err(
                        ent.clone(),
                        path![Collection::PrefixLists, i, "entries", k],
                        format!(
                            "{cidr} is not an {:?} CIDR, but the list's address_family is {:?}",
                            pl.address_family, pl.address_family
                        ),
                        None,
                    );
                }
                if let Some(prev) = seen.insert(cidr, k) {
                    self.err(
                        ent.clone(),
                        path![Collection::PrefixLists, i, "entries", k],
                        format!("{cidr} is already entries[{prev}]"),
                        Some("each CIDR appears once in a prefix list".into()),
                    );
                }
            }
            if let Some(max) = pl.max_entries {
                if max == 0 || max > 1000 {
                    self.err(
                        ent.clone(),
                        path![Collection::PrefixLists, i, "max_entries"],
                        format!("max_entries is {max}; AWS allows 1 to 1000"),
                        None,
                    );
                }
                if pl.entries.len() > max as usize {
                    self.err(
                        ent.clone(),
                        path![Collection::PrefixLists, i, "entries"],
                        format!("{} entries exceed max_entries = {max}", pl.entries.len()),
                        Some("raise max_entries or remove entries".into()),
                    );
                }
            }
        }
    }

    pub(super) fn check_security_groups(&mut self) {
        let c = self.c;
        for (i, sg) in c.security_groups.iter().enumerate() {
            let ent = entity(Collection::SecurityGroups, &sg.id);
            let vpc_ok = self.require(
                &ent,
                path![Collection::SecurityGroups, i, "vpc"],
                &sg.vpc,
                Collection::Vpcs,
            );
            for (k, r) in sg.ingress.iter().enumerate() {
                self.check_sg_rule(
                    &ent,
                    path![Collection::SecurityGroups, i, "ingress", k],
                    r,
                    vpc_ok.then_some(sg.vpc.as_str()),
                );
            }
            for (k, r) in sg.egress.iter().flatten().enumerate() {
                self.check_sg_rule(
                    &ent,
                    path![Collection::SecurityGroups, i, "egress", k],
                    r,
                    vpc_ok.then_some(sg.vpc.as_str()),
                );
            }
        }
    }

    pub(super) fn check_sg_rule(
        &mut self,
        ent: &str,
        base: FieldPath,
        r: &SecurityGroupRule,
        vpc: Option<&str>,
    ) {
        let fields = RuleFields {
            protocol: &r.protocol,
            ports: r.ports,
            icmp: (r.icmp_type, r.icmp_code),
            cidr: r.cidr,
        };
        if !self.check_rule_fields(ent, &base, &fields) {
            return;
        }
        let peers = r.cidr.is_some() as u8
            + r.prefix_list.is_some() as u8
            + r.security_group.is_some() as u8;
        if peers != 1 {
            self.err(
                ent.to_string(),
                base.clone(),
                format!("a rule names exactly one peer, this one names {peers}"),
                Some("write one of cidr = \"…\", prefix_list = \"pl-…\" or security_group = \"sg-…\"".into()),
            );
        }
        if let Some(pl) = &r.prefix_list {
            self.require(ent, base.at("prefix_list"), pl, Collection::PrefixLists);
        }
        if let Some(sg) = &r.security_group {
            if self.require(
                ent,
                base.at("security_group"),
                sg,
                Collection::SecurityGroups,
            ) {
                let other = self.security_group(sg).unwrap();
                if let Some(vpc) = vpc {
                    if other.vpc != vpc && !self.peered(vpc, &other.vpc) {
                        self.err(
                            ent.to_string(),
                            base.at("security_group"),
                            format!("{sg} is in {}, which is neither this group's VPC {vpc} nor peered with it", other.vpc),
                            None,
                        );
                    }
                }
            }
        }
    }

    pub(super) fn peered(&self, a: &str, b: &str) -> bool {
        self.c.peering_connections.iter().any(|p| {
            (p.requester_vpc == a && p.accepter_vpc == b)
                || (p.requester_vpc == b && p.accepter_vpc == a)
        })
    }

    /// Protocol, ports, ICMP type and code, and the CIDR's family, as a security group rule
    /// and a network ACL rule share them; `false` when the protocol is not one (the rest is
    /// not checked then).
    pub(super) fn check_rule_fields(
        &mut self,
        ent: &str,
        base: &FieldPath,
        r: &RuleFields<'_>,
    ) -> bool {
        let proto = r.protocol.to_ascii_lowercase();
        let number: Option<u8> = proto.parse().ok();
        let kind = match (proto.as_str(), number) {
            ("tcp", _) | (_, Some(6)) => "ports",
            ("udp", _) | (_, Some(17)) => "ports",
            ("icmp", _) | (_, Some(1)) => "icmp",
            ("icmpv6", _) | (_, Some(58)) => "icmpv6",
            ("all", _) | ("-1", _) => "none",
            (_, Some(_)) => "none",
            _ => {
                self.err(
                    ent.to_string(),
                    base.at("protocol"),
                    format!("`{}` is not a protocol", r.protocol),
                    Some(
                        "tcp, udp, icmp, icmpv6, all (or -1), or an IP protocol number 0-255"
                            .into(),
                    ),
                );
                return false;
            }
        };
        match kind {
            "ports" if r.ports.is_none() => self.err(
                ent.to_string(),
                base.at("ports"),
                format!("a {} rule needs ports", r.protocol),
                Some("ports = 80, or ports = \"0-65535\" for all".into()),
            ),
            "ports" => {}
            _ if r.ports.is_some() => self.err(
                ent.to_string(),
                base.at("ports"),
                format!("ports apply only to tcp and udp, not to `{}`", r.protocol),
                None,
            ),
            _ => {}
        }
        if (r.icmp.0.is_some() || r.icmp.1.is_some()) && !kind.starts_with("icmp") {
            self.err(
                ent.to_string(),
                base.at("icmp_type"),
                "icmp_type and icmp_code apply only to icmp and icmpv6 rules",
                None,
            );
        }
        if let Some(cidr) = r.cidr {
            if kind == "icmp" && !cidr.is_ipv4() {
                self.err(
                    ent.to_string(),
                    base.at("cidr"),
                    "icmp is IPv4; use protocol icmpv6 for an IPv6 peer",
                    None,
                );
            }
            if kind == "icmpv6" && cidr.is_ipv4() {
                self.err(
                    ent.to_string(),
                    base.at("cidr"),
                    "icmpv6 is IPv6; use protocol icmp for an IPv4 peer",
                    None,
                );
            }
        }
        true
    }
}

/// The fields a security group rule and a network ACL rule have in common.
pub(super) struct RuleFields<'r> {
    pub protocol: &'r str,
    pub ports: Option<PortRange>,
    pub icmp: (Option<u8>, Option<u8>),
    pub cidr: Option<Cidr>,
}
