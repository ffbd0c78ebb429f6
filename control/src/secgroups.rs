//! Security groups compiled for the data path: per set of groups (the groups of one ENI), per
//! direction and family, a table the pipeline asks "is this packet allowed, and by which rule"
//! without scanning rule lists.
//!
//! # Semantics (AWS)
//!
//! Rules only allow; a packet is allowed when *any* rule of *any* group of the ENI matches.
//! A rule matches on protocol (`tcp`, `udp`, `icmp`, `icmpv6`, `all` or a number), a port
//! range (TCP/UDP: the packet's destination port, in both directions), ICMP type and code, and
//! the remote address: the packet's source for ingress, its destination for egress. The remote
//! is a CIDR, a prefix list (its entries) or another security group — the private addresses of
//! every member of that group: instance and standalone ENIs, interface-endpoint ENIs and the
//! nodes of load balancers that have the group. A group whose `egress` is left out has AWS's
//! default egress rule (everything, to `0.0.0.0/0` and `::/0`). Statefulness (replies) is the
//! dataplane's connection tracking, not this table.
//!
//! # Layout
//!
//! ```text
//! SgSet ── ingress/egress × IPv4/IPv6 ── FamilyTable
//!            by_proto: [(protocol, ProtoTable)]   rules of that protocol ∪ rules of `all`
//!            other:    ProtoTable                 rules of `all` (any other protocol)
//! ProtoTable
//!   lpm : Poptrie  remote prefix -> port-set index
//!   sets: [[(from, to, rule)]]   disjoint sorted key ranges, each with the first rule allowing it
//! ```
//!
//! The key is the destination port for TCP and UDP, `type << 8 | code` for ICMP, and 0 for
//! anything else. Because LPM returns only the longest matching prefix, the port set of a
//! prefix is the union of the sets of every rule prefix that *contains* it, computed at compile
//! time. A check is one LPM lookup and a scan of a few ranges.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::lpm::{Family, Lpm, Poptrie, Prefix, V4, V6};
use crate::model::{Config, SecurityGroupRule};

/// Which way a packet crosses an ENI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// The rule that allowed a packet: the group's index in the configuration and the rule's index
/// in its `ingress` or `egress` list ([`RuleRef::DEFAULT_EGRESS`] for AWS's default rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct RuleRef {
    pub group: u32,
    pub rule: u32,
}

impl RuleRef {
    pub const DEFAULT_EGRESS: u32 = u32::MAX;
}

/// Disjoint sorted key ranges with the rule that allows each.
type PortSet = Vec<(u16, u16, RuleRef)>;

#[derive(Debug)]
struct ProtoTable<F: Family> {
    lpm: Poptrie<F>,
    sets: Vec<PortSet>,
}

impl<F: Family> ProtoTable<F> {
    #[inline]
    fn check(&self, remote: F::Addr, key: u16) -> Option<RuleRef> {
        let set = &self.sets[self.lpm.lookup(remote)? as usize];
        set.iter()
            .take_while(|(from, _, _)| *from <= key)
            .find(|(_, to, _)| key <= *to)
            .map(|(_, _, r)| *r)
    }
}

#[derive(Debug)]
struct FamilyTable<F: Family> {
    by_proto: Vec<(u8, ProtoTable<F>)>,
    other: Option<ProtoTable<F>>,
}

impl<F: Family> FamilyTable<F> {
    #[inline]
    fn check(&self, proto: u8, remote: F::Addr, key: u16) -> Option<RuleRef> {
        let table = match self.by_proto.iter().find(|(p, _)| *p == proto) {
            Some((_, t)) => t,
            None => self.other.as_ref()?,
        };
        table.check(remote, key)
    }
}

/// The compiled rules of one set of security groups.
#[derive(Debug)]
pub struct SgSet {
    /// The groups, as indexes into the configuration's `security_groups`, sorted.
    pub groups: Vec<u32>,
    ingress4: FamilyTable<V4>,
    ingress6: FamilyTable<V6>,
    egress4: FamilyTable<V4>,
    egress6: FamilyTable<V6>,
}

impl SgSet {
    /// The rule allowing a packet of protocol `proto` with `key` (see the module documentation;
    /// [`key_of`] computes it) to or from `remote`, if any.
    #[inline]
    pub fn check(&self, dir: Direction, proto: u8, remote: IpAddr, key: u16) -> Option<RuleRef> {
        match (dir, remote) {
            (Direction::Ingress, IpAddr::V4(a)) => self.ingress4.check(proto, a, key),
            (Direction::Ingress, IpAddr::V6(a)) => self.ingress6.check(proto, a, key),
            (Direction::Egress, IpAddr::V4(a)) => self.egress4.check(proto, a, key),
            (Direction::Egress, IpAddr::V6(a)) => self.egress6.check(proto, a, key),
        }
    }
}

/// The key a rule's ports match: destination port (TCP, UDP), `type << 8 | code` (ICMP,
/// ICMPv6), 0 otherwise.
#[inline]
pub fn key_of(proto: u8, dst_port: u16, icmp_type: u8, icmp_code: u8) -> u16 {
    match proto {
        PROTO_TCP | PROTO_UDP => dst_port,
        PROTO_ICMP | PROTO_ICMPV6 => (u16::from(icmp_type) << 8) | u16::from(icmp_code),
        _ => 0,
    }
}

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

/// Every set of security groups the configuration's ENIs use, compiled.
#[derive(Debug, Default)]
pub struct SecurityTables {
    pub sets: Vec<SgSet>,
    by_groups: HashMap<Vec<u32>, u32>,
    group_index: HashMap<String, u32>,
}

impl SecurityTables {
    /// Compiles the sets used by instances, network interfaces, interface endpoints and load
    /// balancers. Unknown group ids are skipped (validation reports them).
    pub fn compile(config: &Config) -> SecurityTables {
        let group_index: HashMap<String, u32> = config
            .security_groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id.clone(), i as u32))
            .collect();
        let members = members(config);
        let mut t = SecurityTables {
            group_index,
            ..SecurityTables::default()
        };
        let mut lists: Vec<&[String]> = Vec::new();
        lists.extend(
            config
                .instances
                .iter()
                .map(|i| i.security_groups.as_slice()),
        );
        lists.extend(
            config
                .network_interfaces
                .iter()
                .map(|n| n.security_groups.as_slice()),
        );
        lists.extend(
            config
                .endpoints
                .iter()
                .map(|e| e.security_groups.as_slice()),
        );
        lists.extend(
            config
                .load_balancers
                .iter()
                .map(|l| l.security_groups.as_slice()),
        );
        lists.extend(
            config
                .resolver_endpoints
                .iter()
                .map(|r| r.security_groups.as_slice()),
        );
        for list in lists {
            let key = t.key(list);
            if !t.by_groups.contains_key(&key) {
                let set = compile_set(config, &members, &key);
                t.by_groups.insert(key, t.sets.len() as u32);
                t.sets.push(set);
            }
        }
        t
    }

    fn key(&self, groups: &[String]) -> Vec<u32> {
        let mut key: Vec<u32> = groups
            .iter()
            .filter_map(|g| self.group_index.get(g).copied())
            .collect();
        key.sort_unstable();
        key.dedup();
        key
    }

    /// The compiled set for an ENI with these groups (`None` if it was not compiled: not used
    /// by anything in the configuration).
    pub fn set_for(&self, groups: &[String]) -> Option<u32> {
        self.by_groups.get(&self.key(groups)).copied()
    }
}

/// Private addresses of every member of every group, by group index.
fn members(config: &Config) -> HashMap<String, Vec<IpAddr>> {
    let mut m: HashMap<String, Vec<IpAddr>> = HashMap::new();
    let mut add = |groups: &[String], addrs: &mut dyn Iterator<Item = IpAddr>| {
        let addrs: Vec<IpAddr> = addrs.collect();
        for g in groups {
            m.entry(g.clone())
                .or_default()
                .extend(addrs.iter().copied());
        }
    };
    for i in &config.instances {
        add(
            &i.security_groups,
            &mut std::iter::once(IpAddr::V4(i.private_ip)).chain(i.ipv6_address.map(IpAddr::V6)),
        );
    }
    for n in &config.network_interfaces {
        add(
            &n.security_groups,
            &mut std::iter::once(n.private_ip)
                .chain(n.secondary_private_ips.iter().copied())
                .map(IpAddr::V4)
                .chain(n.ipv6_address.map(IpAddr::V6)),
        );
    }
    for e in &config.endpoints {
        add(
            &e.security_groups,
            &mut e.network_interfaces.iter().flat_map(|n| {
                std::iter::once(IpAddr::V4(n.private_ip)).chain(n.ipv6_address.map(IpAddr::V6))
            }),
        );
    }
    for l in &config.load_balancers {
        add(
            &l.security_groups,
            &mut l.subnet_mappings.iter().flat_map(|s| {
                std::iter::once(IpAddr::V4(s.private_ip)).chain(s.ipv6_address.map(IpAddr::V6))
            }),
        );
    }
    m
}

/// A rule flattened: protocol (`None` = all), key range, remote prefixes, and who it is.
struct Flat {
    proto: Option<u8>,
    keys: (u16, u16),
    remotes: Vec<IpNet>,
    rule: RuleRef,
}

/// A rule's protocol: `None` inside for `all` (AWS `-1`); `None` outside for no protocol.
pub(crate) fn protocol_number(p: &str) -> Option<Option<u8>> {
    match p.to_ascii_lowercase().as_str() {
        "all" | "-1" => Some(None),
        "tcp" => Some(Some(PROTO_TCP)),
        "udp" => Some(Some(PROTO_UDP)),
        "icmp" => Some(Some(PROTO_ICMP)),
        "icmpv6" => Some(Some(PROTO_ICMPV6)),
        n => n.parse::<u8>().ok().map(Some),
    }
}

fn flatten(
    config: &Config,
    members: &HashMap<String, Vec<IpAddr>>,
    r: &SecurityGroupRule,
    rule: RuleRef,
) -> Option<Flat> {
    let proto = protocol_number(&r.protocol)?;
    let keys = match proto {
        Some(PROTO_TCP | PROTO_UDP) => r.ports.map_or((0, u16::MAX), |p| (p.from, p.to)),
        Some(PROTO_ICMP | PROTO_ICMPV6) => match (r.icmp_type, r.icmp_code) {
            (None, _) => (0, u16::MAX),
            (Some(t), None) => (u16::from(t) << 8, (u16::from(t) << 8) | 0xff),
            (Some(t), Some(c)) => {
                let k = (u16::from(t) << 8) | u16::from(c);
                (k, k)
            }
        },
        _ => (0, u16::MAX),
    };
    let mut remotes = Vec::new();
    if let Some(c) = r.cidr {
        remotes.push(c.0);
    }
    if let Some(pl) = &r.prefix_list {
        if let Some(list) = config.prefix_lists.iter().find(|l| &l.id == pl) {
            remotes.extend(list.entries.iter().map(|e| e.cidr().0));
        }
    }
    if let Some(g) = &r.security_group {
        remotes.extend(
            members
                .get(g)
                .into_iter()
                .flatten()
                .map(|a| IpNet::from(*a)),
        );
    }
    Some(Flat {
        proto,
        keys,
        remotes,
        rule,
    })
}

fn compile_set(config: &Config, members: &HashMap<String, Vec<IpAddr>>, groups: &[u32]) -> SgSet {
    let mut ingress = Vec::new();
    let mut egress = Vec::new();
    for &gi in groups {
        let g = &config.security_groups[gi as usize];
        for (k, r) in g.ingress.iter().enumerate() {
            let rule = RuleRef {
                group: gi,
                rule: k as u32,
            };
            ingress.extend(flatten(config, members, r, rule));
        }
        match &g.egress {
            Some(rules) => {
                for (k, r) in rules.iter().enumerate() {
                    let rule = RuleRef {
                        group: gi,
                        rule: k as u32,
                    };
                    egress.extend(flatten(config, members, r, rule));
                }
            }
            None => egress.push(Flat {
                proto: None,
                keys: (0, u16::MAX),
                remotes: vec![
                    "0.0.0.0/0".parse().expect("valid"),
                    "::/0".parse().expect("valid"),
                ],
                rule: RuleRef {
                    group: gi,
                    rule: RuleRef::DEFAULT_EGRESS,
                },
            }),
        }
    }
    SgSet {
        groups: groups.to_vec(),
        ingress4: family_table::<V4>(&ingress),
        ingress6: family_table::<V6>(&ingress),
        egress4: family_table::<V4>(&egress),
        egress6: family_table::<V6>(&egress),
    }
}

/// IPv4 or IPv6 side of a prefix.
trait NetFamily: Family {
    fn prefix(net: &IpNet) -> Option<Prefix<Self>>;
}

impl NetFamily for V4 {
    fn prefix(net: &IpNet) -> Option<Prefix<V4>> {
        match net {
            IpNet::V4(n) => Some(Prefix::new(n.network(), n.prefix_len())),
            IpNet::V6(_) => None,
        }
    }
}

impl NetFamily for V6 {
    fn prefix(net: &IpNet) -> Option<Prefix<V6>> {
        match net {
            IpNet::V6(n) => Some(Prefix::new(n.network(), n.prefix_len())),
            IpNet::V4(_) => None,
        }
    }
}

fn family_table<F: NetFamily>(rules: &[Flat]) -> FamilyTable<F> {
    let mut protos: Vec<u8> = rules.iter().filter_map(|r| r.proto).collect();
    protos.sort_unstable();
    protos.dedup();
    let by_proto = protos
        .iter()
        .filter_map(|&p| {
            let chosen: Vec<&Flat> = rules
                .iter()
                .filter(|r| r.proto.is_none() || r.proto == Some(p))
                .collect();
            proto_table::<F>(&chosen).map(|t| (p, t))
        })
        .collect();
    let all: Vec<&Flat> = rules.iter().filter(|r| r.proto.is_none()).collect();
    FamilyTable {
        by_proto,
        other: proto_table::<F>(&all),
    }
}

fn proto_table<F: NetFamily>(rules: &[&Flat]) -> Option<ProtoTable<F>> {
    // Every (prefix, key range, rule) of this family.
    let mut entries: Vec<(Prefix<F>, (u16, u16), RuleRef)> = Vec::new();
    for r in rules {
        for n in &r.remotes {
            if let Some(p) = F::prefix(n) {
                entries.push((p, r.keys, r.rule));
            }
        }
    }
    if entries.is_empty() {
        return None;
    }
    let mut prefixes: Vec<Prefix<F>> = entries.iter().map(|e| e.0).collect();
    prefixes.sort_by_key(|p| (p.bits(), p.len()));
    prefixes.dedup();
    // Prefixes in (address, length) order: each one's ancestors come before it, and those
    // still open (containing it) form a stack at most 33 (129) deep. `covering` holds the
    // entries of the open prefixes, the stack where each one's start: linear in the entries,
    // where comparing every prefix with every entry was quadratic (a rule naming a prefix list
    // of 100,000 entries took 9.8 s; issue 19).
    let mut order: Vec<u32> = (0..entries.len() as u32).collect();
    order.sort_by_key(|&i| {
        let p = entries[i as usize].0;
        (p.bits(), p.len())
    });
    let mut sets: Vec<PortSet> = Vec::new();
    let mut set_index: HashMap<PortSet, u32> = HashMap::new();
    let mut routes = Vec::with_capacity(prefixes.len());
    let mut covering: Vec<((u16, u16), RuleRef)> = Vec::new();
    let mut open: Vec<(Prefix<F>, usize)> = Vec::new();
    let mut next = 0;
    for q in &prefixes {
        while open.last().is_some_and(|(p, _)| !contains(p, q)) {
            let (_, from) = open.pop().expect("non-empty");
            covering.truncate(from);
        }
        open.push((*q, covering.len()));
        while next < order.len() && entries[order[next] as usize].0 == *q {
            let (_, k, r) = entries[order[next] as usize];
            covering.push((k, r));
            next += 1;
        }
        let set = port_set(&covering);
        let idx = match set_index.get(&set) {
            Some(&i) => i,
            None => {
                let i = sets.len() as u32;
                set_index.insert(set.clone(), i);
                sets.push(set);
                i
            }
        };
        routes.push((*q, idx));
    }
    let lpm = Poptrie::build(&routes).ok()?;
    Some(ProtoTable { lpm, sets })
}

fn contains<F: Family>(outer: &Prefix<F>, inner: &Prefix<F>) -> bool {
    outer.len() <= inner.len() && F::mask(inner.bits(), outer.len()) == outer.bits()
}

/// Disjoint sorted ranges covering the union of `ranges`, each labelled with the first rule
/// (in configuration order) that covers it.
fn port_set(ranges: &[((u16, u16), RuleRef)]) -> PortSet {
    let mut cuts: Vec<u32> = ranges
        .iter()
        .flat_map(|((a, b), _)| [u32::from(*a), u32::from(*b) + 1])
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut out: PortSet = Vec::new();
    for w in cuts.windows(2) {
        let (from, to) = (w[0], w[1] - 1);
        let first = ranges
            .iter()
            .filter(|((a, b), _)| u32::from(*a) <= from && to <= u32::from(*b))
            .map(|(_, r)| *r)
            .min_by_key(|r| (r.group, r.rule));
        if let Some(r) = first {
            match out.last_mut() {
                Some(last) if u32::from(last.1) + 1 == from && last.2 == r => last.1 = to as u16,
                _ => out.push((from as u16, to as u16, r)),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_str;

    fn tables(toml: &str) -> (Config, SecurityTables) {
        let loaded =
            load_str("test.toml", toml.to_string(), std::path::Path::new(".")).expect("loads");
        let t = SecurityTables::compile(&loaded.config);
        (loaded.config, t)
    }

    const BASE: &str = r#"
region = "us-east-1"
[[vpcs]]
id = "vpc-1"
cidr_blocks = ["10.0.0.0/16"]
[[subnets]]
id = "subnet-1"
vpc = "vpc-1"
availability_zone = "us-east-1a"
cidr = "10.0.1.0/24"
[[prefix_lists]]
id = "pl-1"
name = "office"
address_family = "IPv4"
entries = ["198.51.100.0/24"]
[[security_groups]]
id = "sg-web"
vpc = "vpc-1"
ingress = [
  { protocol = "tcp", ports = 80, cidr = "0.0.0.0/0" },
  { protocol = "tcp", ports = "8000-8099", security_group = "sg-app" },
  { protocol = "tcp", ports = 22, prefix_list = "pl-1" },
  { protocol = "icmp", icmp_type = 8, cidr = "10.0.0.0/16" },
]
egress = [{ protocol = "udp", ports = 53, cidr = "10.0.0.2/32" }]
[[security_groups]]
id = "sg-app"
vpc = "vpc-1"
ingress = [{ protocol = "all", cidr = "10.0.0.0/8" }]
[[instances]]
id = "i-web"
subnet = "subnet-1"
private_ip = "10.0.1.10"
security_groups = ["sg-web"]
[[instances]]
id = "i-app"
subnet = "subnet-1"
private_ip = "10.0.1.20"
security_groups = ["sg-app"]
"#;

    #[test]
    fn rules_by_cidr_group_prefix_list_and_icmp() {
        let (_, t) = tables(BASE);
        let web = &t.sets[t.set_for(&["sg-web".into()]).unwrap() as usize];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let ing = |proto, remote, key| web.check(Direction::Ingress, proto, ip(remote), key);
        assert_eq!(ing(PROTO_TCP, "203.0.113.9", 80).unwrap().rule, 0);
        assert_eq!(ing(PROTO_TCP, "203.0.113.9", 81), None);
        // 8000-8099 only from members of sg-app (10.0.1.20).
        assert_eq!(ing(PROTO_TCP, "10.0.1.20", 8050).unwrap().rule, 1);
        assert_eq!(ing(PROTO_TCP, "10.0.1.21", 8050), None);
        assert_eq!(ing(PROTO_TCP, "10.0.1.20", 80).unwrap().rule, 0);
        // SSH from the prefix list only.
        assert_eq!(ing(PROTO_TCP, "198.51.100.7", 22).unwrap().rule, 2);
        assert_eq!(ing(PROTO_TCP, "10.0.1.20", 22), None);
        // Echo request (type 8, any code) from the VPC.
        assert_eq!(
            ing(PROTO_ICMP, "10.0.3.3", key_of(PROTO_ICMP, 0, 8, 0))
                .unwrap()
                .rule,
            3
        );
        assert_eq!(
            ing(PROTO_ICMP, "10.0.3.3", key_of(PROTO_ICMP, 0, 13, 0)),
            None
        );
        assert_eq!(
            ing(PROTO_ICMP, "11.0.0.1", key_of(PROTO_ICMP, 0, 8, 0)),
            None
        );
        assert_eq!(ing(PROTO_UDP, "10.0.1.20", 80), None);
        // No IPv6 rule at all.
        assert_eq!(ing(PROTO_TCP, "2001:db8::1", 80), None);
        // Egress: DNS to the resolver only.
        let eg = |proto, remote, key| web.check(Direction::Egress, proto, ip(remote), key);
        assert!(eg(PROTO_UDP, "10.0.0.2", 53).is_some());
        assert_eq!(eg(PROTO_UDP, "10.0.0.3", 53), None);
        assert_eq!(eg(PROTO_TCP, "10.0.0.2", 53), None);
    }

    #[test]
    fn all_protocol_rules_and_default_egress() {
        let (_, t) = tables(BASE);
        let app = &t.sets[t.set_for(&["sg-app".into()]).unwrap() as usize];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for proto in [PROTO_TCP, PROTO_UDP, PROTO_ICMP, 47] {
            assert!(app
                .check(Direction::Ingress, proto, ip("10.9.9.9"), 1234)
                .is_some());
            assert!(app
                .check(Direction::Ingress, proto, ip("11.0.0.1"), 1234)
                .is_none());
            let e = app
                .check(Direction::Egress, proto, ip("8.8.8.8"), 443)
                .unwrap();
            assert_eq!(e.rule, RuleRef::DEFAULT_EGRESS);
            assert!(app
                .check(Direction::Egress, proto, ip("2001:db8::1"), 443)
                .is_some());
        }
    }

    #[test]
    fn a_group_without_ingress_rules_allows_nothing_in() {
        let toml = BASE.replace(
            "security_groups = [\"sg-app\"]",
            "security_groups = [\"sg-empty\"]",
        ) + "[[security_groups]]\nid = \"sg-empty\"\nvpc = \"vpc-1\"\n";
        let (_, t) = tables(&toml);
        let s = &t.sets[t.set_for(&["sg-empty".into()]).unwrap() as usize];
        assert!(s
            .check(
                Direction::Ingress,
                PROTO_TCP,
                "10.0.1.10".parse().unwrap(),
                80
            )
            .is_none());
    }

    #[test]
    fn port_sets_are_unions_labelled_with_the_first_rule() {
        let r = |rule| RuleRef { group: 0, rule };
        let set = port_set(&[((80, 90), r(1)), ((85, 100), r(0)), ((200, 200), r(2))]);
        assert_eq!(set, vec![(80, 84, r(1)), (85, 100, r(0)), (200, 200, r(2))]);
    }
}
