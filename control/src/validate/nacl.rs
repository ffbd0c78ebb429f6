//! Network ACLs: their VPC, their subnets (each subnet in at most one ACL, of its own VPC),
//! one default per VPC, and their numbered rules.

use super::security::RuleFields;
use super::*;
use crate::nacl::{MAX_RULES, MAX_RULE_NUMBER};

impl<'a> Validator<'a> {
    pub(super) fn check_network_acls(&mut self) {
        let c = self.c;
        let mut subnet_acl: HashMap<&str, &str> = HashMap::new();
        let mut default_of: HashMap<&str, &str> = HashMap::new();
        for (i, acl) in c.network_acls.iter().enumerate() {
            let ent = entity(Collection::NetworkAcls, &acl.id);
            let vpc_ok = self.require(
                &ent,
                path![Collection::NetworkAcls, i, "vpc"],
                &acl.vpc,
                Collection::Vpcs,
            );
            if acl.default {
                if let Some(other) = default_of.insert(&acl.vpc, &acl.id) {
                    self.err(
                        ent.clone(),
                        path![Collection::NetworkAcls, i, "default"],
                        format!("{other} is already the default network ACL of {}", acl.vpc),
                        Some("a VPC has one default network ACL".into()),
                    );
                }
            }
            for (k, s) in acl.subnets.iter().enumerate() {
                let at = path![Collection::NetworkAcls, i, "subnets", k];
                if !self.require(&ent, at.clone(), s, Collection::Subnets) {
                    continue;
                }
                let sn = c.subnets.iter().find(|x| &x.id == s).expect("resolved");
                if vpc_ok && sn.vpc != acl.vpc {
                    self.err(
                        ent.clone(),
                        at.clone(),
                        format!("{s} is in {}, not in this ACL's VPC {}", sn.vpc, acl.vpc),
                        None,
                    );
                }
                if let Some(other) = subnet_acl.insert(s, &acl.id) {
                    self.err(
                        ent.clone(),
                        at,
                        format!("{s} is already associated with {other}"),
                        Some("a subnet is associated with exactly one network ACL".into()),
                    );
                }
            }
            for (dir, rules) in [("ingress", &acl.ingress), ("egress", &acl.egress)] {
                self.check_acl_rules(&ent, i, dir, rules);
            }
        }
    }

    fn check_acl_rules(
        &mut self,
        ent: &str,
        i: usize,
        dir: &'static str,
        rules: &[NetworkAclRule],
    ) {
        if rules.len() > MAX_RULES {
            self.err(
                ent.to_string(),
                path![Collection::NetworkAcls, i, dir],
                format!(
                    "{} {dir} rules; AWS allows at most {MAX_RULES} per direction",
                    rules.len()
                ),
                None,
            );
        }
        let mut numbers: HashMap<u16, usize> = HashMap::new();
        for (k, r) in rules.iter().enumerate() {
            let base = path![Collection::NetworkAcls, i, dir, k];
            if !(1..=MAX_RULE_NUMBER).contains(&r.rule) {
                self.err(
                    ent.to_string(),
                    base.at("rule"),
                    format!("rule number {} is outside 1-{MAX_RULE_NUMBER}", r.rule),
                    None,
                );
            } else if let Some(prev) = numbers.insert(r.rule, k) {
                self.err(
                    ent.to_string(),
                    base.at("rule"),
                    format!("rule number {} is already {dir}[{prev}]'s", r.rule),
                    Some("rule numbers are unique within a direction; they set the order".into()),
                );
            }
            let fields = RuleFields {
                protocol: &r.protocol,
                ports: r.ports,
                icmp: (r.icmp_type, r.icmp_code),
                cidr: Some(r.cidr),
            };
            self.check_rule_fields(ent, &base, &fields);
        }
    }
}
