//! Validation: a parsed configuration against the rules of AWS (and of the project's starting
//! spec, `../shared/SPEC.md`).
//!
//! Every check reports a [`Diagnostic`] naming the file, line and column, the entity and the
//! field, and says what would be accepted; validation never stops at the first finding, so a
//! user fixes a file in one pass. Errors make the configuration unusable (nothing is compiled
//! or applied); warnings point at legal but surprising setups (an overlap of prefix lists with
//! different targets, a propagated route that can never win).
//!
//! The rules, grouped by entity:
//!
//! * **Ids** have their AWS prefix (`vpc-`, `subnet-`, `rtb-`, …) and are unique in the file.
//! * **VPC and subnet CIDRs**: canonical (checked at parse time), IPv4 /16 to /28, subnets
//!   inside their VPC and not overlapping each other, AZs of the deployment's region.
//! * **Addresses** of instances, ENIs, NAT gateways, endpoint ENIs and load-balancer nodes lie
//!   in their subnet, avoid the five addresses AWS reserves in every subnet, and are unique in
//!   their VPC.
//! * **Route tables**: one main table per VPC; a subnet in at most one table; every target
//!   exists in (or, for peering, touches) the table's VPC; `local` only for VPC CIDRs; a static
//!   route more specific than `local` only for a whole subnet CIDR; no destination twice;
//!   gateway-endpoint routes only through the endpoint's `route_tables`; interface endpoints
//!   are never route targets; edge (gateway) tables take only `local`, GWLB-endpoint or ENI
//!   targets for a whole VPC or subnet CIDR; prefix lists within their `max_entries` and of the
//!   destination's family.
//! * **Endpoints** reach a service that offers their type, in an AZ the service covers; private
//!   DNS needs the VPC's DNS support and hostnames.
//! * **Load balancers and target groups**: listeners to target groups of a compatible protocol
//!   in the same VPC, one node per AZ, GWLB options only on GENEVE groups, health checks within
//!   AWS's limits.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use serde::Serialize;

use crate::diag::{Diagnostic, FieldPath, Severity};
use crate::load::LoadedConfig;
use crate::model::*;
use crate::net::Cidr;
use crate::path;

/// The outcome of validation: every error and warning, in file order per entity kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
}

pub use crate::model::kind_name;

/// Validates a loaded configuration.
pub fn validate(loaded: &LoadedConfig) -> Report {
    let mut v = Validator::new(loaded);
    v.check_all();
    Report { diagnostics: v.out }
}

/// Where an id was defined: collection and position.
#[derive(Debug, Clone, Copy)]
struct Def {
    collection: &'static str,
    index: usize,
}

/// Who owns an address in a VPC (for the uniqueness check).
struct AddressOwner {
    entity: String,
    path: FieldPath,
}

struct Validator<'a> {
    l: &'a LoadedConfig,
    c: &'a Config,
    out: Vec<Diagnostic>,
    ids: HashMap<&'a str, Def>,
    /// ENI id -> (VPC id, subnet id) for every interface: instances', standalone, endpoints'.
    enis: HashMap<String, (&'a str, &'a str)>,
    /// Service name -> where it is defined.
    services: HashMap<String, Def>,
}

fn entity(collection: &'static str, id: &str) -> String {
    format!("{} {id}", kind_name(collection))
}

/// `known ids: a, b, c` for a help line, or how to add one.
fn known<'b>(what: &str, ids: impl Iterator<Item = &'b str>) -> String {
    let ids: Vec<&str> = ids.collect();
    if ids.is_empty() {
        format!("no {what} is defined in this file")
    } else if ids.len() <= 6 {
        format!("known {what}: {}", ids.join(", "))
    } else {
        format!(
            "known {what}: {}, … ({} in all)",
            ids[..6].join(", "),
            ids.len()
        )
    }
}

/// The five addresses AWS reserves in every IPv4 subnet: network, router (+1), DNS (+2),
/// future use (+3) and broadcast.
fn reserved_in_subnet(net: Ipv4Net, ip: Ipv4Addr) -> Option<&'static str> {
    let base = u32::from(net.network());
    let last = u32::from(net.broadcast());
    match u32::from(ip) {
        x if x == base => Some("the network address"),
        x if x == base + 1 => Some("reserved by AWS for the VPC router"),
        x if x == base + 2 => Some("reserved by AWS for the DNS server"),
        x if x == base + 3 => Some("reserved by AWS for future use"),
        x if x == last => Some("the broadcast address"),
        _ => None,
    }
}

fn overlaps(a: IpNet, b: IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

impl<'a> Validator<'a> {
    fn new(l: &'a LoadedConfig) -> Self {
        Validator {
            l,
            c: &l.config,
            out: Vec::new(),
            ids: HashMap::new(),
            enis: HashMap::new(),
            services: HashMap::new(),
        }
    }

    fn err(&mut self, ent: String, path: FieldPath, msg: impl Into<String>, help: Option<String>) {
        let d = self.l.diagnostic(Severity::Error, ent, &path, msg, help);
        self.out.push(d);
    }

    fn warn(&mut self, ent: String, path: FieldPath, msg: impl Into<String>, help: Option<String>) {
        let d = self.l.diagnostic(Severity::Warning, ent, &path, msg, help);
        self.out.push(d);
    }

    fn check_all(&mut self) {
        self.check_region();
        self.index_ids();
        self.check_vpcs();
        self.check_subnets();
        self.check_gateways();
        self.check_prefix_lists();
        self.check_security_groups();
        self.check_interfaces();
        self.check_aws_services();
        self.check_endpoint_services();
        self.check_endpoints();
        self.check_load_balancers();
        self.check_target_groups();
        self.check_route_tables();
        self.check_hosted_zones();
        self.check_address_uniqueness();
    }

    // ---- lookups -----------------------------------------------------------------------

    fn def(&self, id: &str, collection: &'static str) -> Option<usize> {
        self.ids
            .get(id)
            .filter(|d| d.collection == collection)
            .map(|d| d.index)
    }

    fn vpc(&self, id: &str) -> Option<&'a Vpc> {
        self.def(id, "vpcs").map(|i| &self.c.vpcs[i])
    }
    fn subnet(&self, id: &str) -> Option<&'a Subnet> {
        self.def(id, "subnets").map(|i| &self.c.subnets[i])
    }
    fn prefix_list(&self, id: &str) -> Option<&'a PrefixList> {
        self.def(id, "prefix_lists")
            .map(|i| &self.c.prefix_lists[i])
    }
    fn security_group(&self, id: &str) -> Option<&'a SecurityGroup> {
        self.def(id, "security_groups")
            .map(|i| &self.c.security_groups[i])
    }
    fn endpoint(&self, id: &str) -> Option<&'a Endpoint> {
        self.def(id, "endpoints").map(|i| &self.c.endpoints[i])
    }
    fn load_balancer(&self, id: &str) -> Option<&'a LoadBalancer> {
        self.def(id, "load_balancers")
            .map(|i| &self.c.load_balancers[i])
    }
    fn target_group(&self, id: &str) -> Option<&'a TargetGroup> {
        self.def(id, "target_groups")
            .map(|i| &self.c.target_groups[i])
    }

    fn ids_of(&self, collection: &'static str) -> Vec<&'a str> {
        let mut v: Vec<(usize, &'a str)> = self
            .ids
            .iter()
            .filter(|(_, d)| d.collection == collection)
            .map(|(id, d)| (d.index, *id))
            .collect();
        v.sort();
        v.into_iter().map(|(_, id)| id).collect()
    }

    /// Reports a reference to a missing entity; returns whether it resolved.
    fn require(&mut self, ent: &str, path: FieldPath, id: &str, collection: &'static str) -> bool {
        if self.def(id, collection).is_some() {
            return true;
        }
        let what = kind_name(collection);
        let msg = match self.ids.get(id) {
            Some(d) => format!(
                "`{id}` is a {}, but a {what} is required here",
                kind_name(d.collection)
            ),
            None => format!("no {what} `{id}` in this file"),
        };
        let help = known(&format!("{what}s"), self.ids_of(collection).into_iter());
        self.err(ent.to_string(), path, msg, Some(help));
        false
    }

    /// A reference to a VPC that must be `vpc`.
    fn require_same_vpc(
        &mut self,
        ent: &str,
        path: FieldPath,
        what: &str,
        its_vpc: &str,
        vpc: &str,
    ) {
        if its_vpc != vpc {
            self.err(
                ent.to_string(),
                path,
                format!("{what} is in {its_vpc}, not in {vpc}"),
                Some(format!("only resources of {vpc} can be used here")),
            );
        }
    }

    // ---- ids ---------------------------------------------------------------------------

    fn index_ids(&mut self) {
        let c = self.c;
        let add = |v: &mut Self,
                   collection: &'static str,
                   prefix: &str,
                   index: usize,
                   id: &'a str| {
            let p = path![collection, index, "id"];
            if !prefix.is_empty() && (!id.starts_with(prefix) || id.len() == prefix.len()) {
                v.err(
                    entity(collection, id),
                    p.clone(),
                    format!("`{id}` is not a {} id", kind_name(collection)),
                    Some(format!(
                        "{} ids start with `{prefix}`",
                        kind_name(collection)
                    )),
                );
            }
            if prefix == "vpce-" && id.starts_with("vpce-svc-") {
                v.err(
                    entity(collection, id),
                    p.clone(),
                    format!("`{id}` is an endpoint service id"),
                    Some("endpoints have ids `vpce-…`; services `vpce-svc-…` go under [[endpoint_services]]".into()),
                );
            }
            if id.trim().is_empty() {
                v.err(entity(collection, id), p, "the id is empty", None);
                return;
            }
            if let Some(prev) = v.ids.get(id) {
                let prev_loc = v.l.source.locate(&path![prev.collection, prev.index, "id"]);
                v.err(
                    entity(collection, id),
                    p,
                    format!(
                        "id `{id}` is already used by the {} at line {}",
                        kind_name(prev.collection),
                        prev_loc.line
                    ),
                    Some("ids are unique across the whole file".into()),
                );
            } else {
                v.ids.insert(id, Def { collection, index });
            }
        };
        macro_rules! each {
            ($field:ident, $prefix:expr) => {
                for (i, x) in c.$field.iter().enumerate() {
                    add(self, stringify!($field), $prefix, i, x.id.as_str());
                }
            };
        }
        each!(vpcs, "vpc-");
        each!(subnets, "subnet-");
        each!(route_tables, "rtb-");
        each!(prefix_lists, "pl-");
        each!(internet_gateways, "igw-");
        each!(nat_gateways, "nat-");
        each!(peering_connections, "pcx-");
        each!(vpn_gateways, "vgw-");
        each!(security_groups, "sg-");
        each!(instances, "i-");
        each!(network_interfaces, "eni-");
        each!(endpoints, "vpce-");
        each!(endpoint_services, "vpce-svc-");
        each!(load_balancers, "");
        each!(target_groups, "");
        each!(hosted_zones, "");

        // Service names, shared by AWS services and our endpoint services.
        for (i, s) in c.aws_services.iter().enumerate() {
            if let Some(prev) = self.services.insert(
                s.name.clone(),
                Def {
                    collection: "aws_services",
                    index: i,
                },
            ) {
                let line = self
                    .l
                    .source
                    .locate(&path![prev.collection, prev.index])
                    .line;
                self.err(
                    entity("aws_services", &s.name),
                    path!["aws_services", i, "name"],
                    format!(
                        "service name `{}` is already defined at line {line}",
                        s.name
                    ),
                    None,
                );
            }
        }
        for (i, s) in c.endpoint_services.iter().enumerate() {
            let name = s.service_name(&c.region);
            if let Some(prev) = self.services.insert(
                name.clone(),
                Def {
                    collection: "endpoint_services",
                    index: i,
                },
            ) {
                let line = self
                    .l
                    .source
                    .locate(&path![prev.collection, prev.index])
                    .line;
                self.err(
                    entity("endpoint_services", &s.id),
                    path!["endpoint_services", i, "name"],
                    format!("service name `{name}` is already defined at line {line}"),
                    None,
                );
            }
        }
    }

    // ---- region, VPCs, subnets -----------------------------------------------------------

    fn check_region(&mut self) {
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
    }

    fn check_vpcs(&mut self) {
        for (i, vpc) in self.c.vpcs.iter().enumerate() {
            let ent = entity("vpcs", &vpc.id);
            if vpc.cidr_blocks.is_empty() {
                self.err(
                    ent.clone(),
                    path!["vpcs", i, "cidr_blocks"],
                    "a VPC needs at least one IPv4 CIDR",
                    Some("e.g. cidr_blocks = [\"10.0.0.0/16\"]".into()),
                );
            }
            for (k, c) in vpc.cidr_blocks.iter().enumerate() {
                if !(16..=28).contains(&c.0.prefix_len()) {
                    self.err(
                        ent.clone(),
                        path!["vpcs", i, "cidr_blocks", k],
                        format!("{c} is a /{}; a VPC CIDR is /16 to /28", c.0.prefix_len()),
                        None,
                    );
                }
                for (m, d) in vpc.cidr_blocks.iter().enumerate().take(k) {
                    if overlaps(IpNet::V4(c.0), IpNet::V4(d.0)) {
                        self.err(
                            ent.clone(),
                            path!["vpcs", i, "cidr_blocks", k],
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
                        path!["vpcs", i, "ipv6_cidr_blocks", k],
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

    fn check_subnets(&mut self) {
        let c = self.c;
        for (i, s) in c.subnets.iter().enumerate() {
            let ent = entity("subnets", &s.id);
            self.check_az(
                &ent,
                path!["subnets", i, "availability_zone"],
                &s.availability_zone,
            );
            if s.cidr.0.prefix_len() < 16 || s.cidr.0.prefix_len() > 28 {
                self.err(
                    ent.clone(),
                    path!["subnets", i, "cidr"],
                    format!(
                        "{} is a /{}; a subnet is /16 to /28",
                        s.cidr,
                        s.cidr.0.prefix_len()
                    ),
                    None,
                );
            }
            if !self.require(&ent, path!["subnets", i, "vpc"], &s.vpc, "vpcs") {
                continue;
            }
            let vpc = self.vpc(&s.vpc).expect("resolved");
            if !vpc.cidr_blocks.iter().any(|v| v.0.contains(&s.cidr.0)) {
                let cidrs: Vec<String> = vpc.cidr_blocks.iter().map(|c| c.to_string()).collect();
                self.err(
                    ent.clone(),
                    path!["subnets", i, "cidr"],
                    format!("{} is not inside {} ({})", s.cidr, vpc.id, cidrs.join(", ")),
                    Some("a subnet's CIDR lies inside one of its VPC's CIDR blocks".into()),
                );
            }
            for (k, o) in c.subnets.iter().enumerate().take(i) {
                if o.vpc == s.vpc && overlaps(IpNet::V4(o.cidr.0), IpNet::V4(s.cidr.0)) {
                    self.err(
                        ent.clone(),
                        path!["subnets", i, "cidr"],
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
                        path!["subnets", i, "ipv6_cidr"],
                        format!("{v6} is a /{}; an IPv6 subnet is a /64", v6.0.prefix_len()),
                        None,
                    );
                }
                if !vpc.ipv6_cidr_blocks.iter().any(|b| b.0.contains(&v6.0)) {
                    self.err(
                        ent.clone(),
                        path!["subnets", i, "ipv6_cidr"],
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

    fn check_az(&mut self, ent: &str, path: FieldPath, az: &str) {
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

    // ---- gateways -----------------------------------------------------------------------

    fn check_gateways(&mut self) {
        let c = self.c;
        if let Some(r) = &c.resolver {
            self.require(
                "resolver",
                path!["resolver", "internet_gateway"],
                &r.internet_gateway,
                "internet_gateways",
            );
        }
        for (i, g) in c.internet_gateways.iter().enumerate() {
            let ent = entity("internet_gateways", &g.id);
            self.require(&ent, path!["internet_gateways", i, "vpc"], &g.vpc, "vpcs");
            match (&g.interface, g.next_hop, &g.namespace) {
                (Some(_), None, _) => self.err(
                    ent.clone(),
                    path!["internet_gateways", i, "next_hop"],
                    "an internet gateway on an existing interface needs the router to send to",
                    Some("next_hop = \"198.51.100.1\" (an address on that interface's link)".into()),
                ),
                (None, Some(_), _) => self.err(
                    ent.clone(),
                    path!["internet_gateways", i, "next_hop"],
                    "next_hop applies to an internet gateway on an existing interface",
                    Some("add interface = \"…\", or remove next_hop".into()),
                ),
                (Some(_), Some(_), Some(_)) => self.err(
                    ent.clone(),
                    path!["internet_gateways", i, "namespace"],
                    "an internet gateway on an existing interface has no namespace of its own: the interface is where vpced runs",
                    Some("remove namespace, or remove interface to get a TUN device in that namespace".into()),
                ),
                (Some(name), Some(_), None) if name.is_empty() || name.len() > 15 || name.contains('/') => self.err(
                    ent.clone(),
                    path!["internet_gateways", i, "interface"],
                    format!("{name:?} is not an interface name (1 to 15 characters, no '/')"),
                    None,
                ),
                _ => {}
            }
            for (k, o) in c.internet_gateways.iter().enumerate().take(i) {
                if o.vpc == g.vpc {
                    self.err(
                        ent.clone(),
                        path!["internet_gateways", i, "vpc"],
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
            let ent = entity("vpn_gateways", &g.id);
            self.require(&ent, path!["vpn_gateways", i, "vpc"], &g.vpc, "vpcs");
        }
        for (i, n) in c.nat_gateways.iter().enumerate() {
            let ent = entity("nat_gateways", &n.id);
            self.check_ip_in_subnet(&ent, path!["nat_gateways", i], &n.subnet, n.private_ip);
        }
        for (i, p) in c.peering_connections.iter().enumerate() {
            let ent = entity("peering_connections", &p.id);
            let a = self.require(
                &ent,
                path!["peering_connections", i, "requester_vpc"],
                &p.requester_vpc,
                "vpcs",
            );
            let b = self.require(
                &ent,
                path!["peering_connections", i, "accepter_vpc"],
                &p.accepter_vpc,
                "vpcs",
            );
            if a && b {
                if p.requester_vpc == p.accepter_vpc {
                    self.err(
                        ent.clone(),
                        path!["peering_connections", i, "accepter_vpc"],
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
                                path!["peering_connections", i, "accepter_vpc"],
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
    fn check_ip_in_subnet(
        &mut self,
        ent: &str,
        base: FieldPath,
        subnet: &str,
        ip: Ipv4Addr,
    ) -> bool {
        if !self.require(ent, base.at("subnet"), subnet, "subnets") {
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

    // ---- prefix lists -------------------------------------------------------------------

    fn check_prefix_lists(&mut self) {
        for (i, pl) in self.c.prefix_lists.iter().enumerate() {
            let ent = entity("prefix_lists", &pl.id);
            if pl.name.trim().is_empty() {
                self.err(
                    ent.clone(),
                    path!["prefix_lists", i, "name"],
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
                        path!["prefix_lists", i, "entries", k],
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
                        path!["prefix_lists", i, "entries", k],
                        format!("{cidr} is already entries[{prev}]"),
                        Some("each CIDR appears once in a prefix list".into()),
                    );
                }
            }
            if let Some(max) = pl.max_entries {
                if max == 0 || max > 1000 {
                    self.err(
                        ent.clone(),
                        path!["prefix_lists", i, "max_entries"],
                        format!("max_entries is {max}; AWS allows 1 to 1000"),
                        None,
                    );
                }
                if pl.entries.len() > max as usize {
                    self.err(
                        ent.clone(),
                        path!["prefix_lists", i, "entries"],
                        format!("{} entries exceed max_entries = {max}", pl.entries.len()),
                        Some("raise max_entries or remove entries".into()),
                    );
                }
            }
        }
    }

    // ---- security groups ----------------------------------------------------------------

    fn check_security_groups(&mut self) {
        let c = self.c;
        for (i, sg) in c.security_groups.iter().enumerate() {
            let ent = entity("security_groups", &sg.id);
            let vpc_ok = self.require(&ent, path!["security_groups", i, "vpc"], &sg.vpc, "vpcs");
            for (k, r) in sg.ingress.iter().enumerate() {
                self.check_sg_rule(
                    &ent,
                    path!["security_groups", i, "ingress", k],
                    r,
                    vpc_ok.then_some(sg.vpc.as_str()),
                );
            }
            for (k, r) in sg.egress.iter().flatten().enumerate() {
                self.check_sg_rule(
                    &ent,
                    path!["security_groups", i, "egress", k],
                    r,
                    vpc_ok.then_some(sg.vpc.as_str()),
                );
            }
        }
    }

    fn check_sg_rule(
        &mut self,
        ent: &str,
        base: FieldPath,
        r: &SecurityGroupRule,
        vpc: Option<&str>,
    ) {
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
                return;
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
        if (r.icmp_type.is_some() || r.icmp_code.is_some()) && !kind.starts_with("icmp") {
            self.err(
                ent.to_string(),
                base.at("icmp_type"),
                "icmp_type and icmp_code apply only to icmp and icmpv6 rules",
                None,
            );
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
        if let Some(pl) = &r.prefix_list {
            self.require(ent, base.at("prefix_list"), pl, "prefix_lists");
        }
        if let Some(sg) = &r.security_group {
            if self.require(ent, base.at("security_group"), sg, "security_groups") {
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

    fn peered(&self, a: &str, b: &str) -> bool {
        self.c.peering_connections.iter().any(|p| {
            (p.requester_vpc == a && p.accepter_vpc == b)
                || (p.requester_vpc == b && p.accepter_vpc == a)
        })
    }

    // ---- instances and ENIs -------------------------------------------------------------

    fn check_interfaces(&mut self) {
        let c = self.c;
        for (i, inst) in c.instances.iter().enumerate() {
            let ent = entity("instances", &inst.id);
            let base = path!["instances", i];
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
            let ent = entity("network_interfaces", &n.id);
            let base = path!["network_interfaces", i];
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
    fn check_eni_id(&mut self, ent: &str, path: FieldPath, eni: &str, subnet: &'a str) {
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

    fn check_ipv6_in_subnet(
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

    fn check_sgs_in_subnet_vpc(
        &mut self,
        ent: &str,
        path: FieldPath,
        sgs: &[String],
        subnet: &str,
    ) {
        let vpc = self.subnet(subnet).map(|s| s.vpc.clone());
        self.check_sgs(ent, path, sgs, vpc.as_deref());
    }

    fn check_sgs(&mut self, ent: &str, path: FieldPath, sgs: &[String], vpc: Option<&str>) {
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
            if self.require(ent, path.at(k), sg, "security_groups") {
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

    // ---- services and endpoints ---------------------------------------------------------

    fn check_aws_services(&mut self) {
        for (i, s) in self.c.aws_services.iter().enumerate() {
            let ent = entity("aws_services", &s.name);
            if !s.name.starts_with("com.amazonaws.") {
                self.err(
                    ent.clone(),
                    path!["aws_services", i, "name"],
                    format!("`{}` is not an AWS service name", s.name),
                    Some(format!(
                        "AWS service names look like com.amazonaws.{}.s3",
                        self.c.region
                    )),
                );
            }
            if s.endpoint_types.is_empty() {
                self.err(
                    ent.clone(),
                    path!["aws_services", i, "endpoint_types"],
                    "the service offers no endpoint type",
                    Some("endpoint_types = [\"gateway\"], [\"interface\"] or both".into()),
                );
            }
            if s.endpoint_types
                .contains(&EndpointType::GatewayLoadBalancer)
            {
                self.err(ent.clone(), path!["aws_services", i, "endpoint_types"], "AWS services are not reached through Gateway Load Balancer endpoints", Some("gateway_load_balancer endpoints use an [[endpoint_services]] backed by a gateway load balancer".into()));
            }
            let gw = s.endpoint_types.contains(&EndpointType::Gateway);
            if gw && s.prefix_list.is_none() && s.ipv6_prefix_list.is_none() {
                self.err(
                    ent.clone(),
                    path!["aws_services", i, "prefix_list"],
                    "a service with gateway endpoints needs the prefix list of its ranges",
                    Some("prefix_list = \"pl-…\" (IPv4) and/or ipv6_prefix_list naming [[prefix_lists]] entries".into()),
                );
            }
            for (field, family) in [
                ("prefix_list", AddressFamily::IPv4),
                ("ipv6_prefix_list", AddressFamily::IPv6),
            ] {
                let value = if family == AddressFamily::IPv4 {
                    &s.prefix_list
                } else {
                    &s.ipv6_prefix_list
                };
                let Some(pl) = value else { continue };
                if self.require(&ent, path!["aws_services", i, field], pl, "prefix_lists") {
                    let list = self.prefix_list(pl).unwrap();
                    if list.address_family != family {
                        self.err(
                            ent.clone(),
                            path!["aws_services", i, field],
                            format!(
                                "{pl} is an {:?} list; {field} takes an {family:?} list",
                                list.address_family
                            ),
                            None,
                        );
                    }
                }
            }
            for (k, n) in s.private_dns_names.iter().enumerate() {
                if let Err(e) = check_dns_name(n, true) {
                    self.err(
                        ent.clone(),
                        path!["aws_services", i, "private_dns_names", k],
                        e,
                        None,
                    );
                }
            }
        }
    }

    /// The load-balancer type behind an endpoint service (None if it cannot be told).
    fn service_lb_type(&self, s: &EndpointService) -> Option<LoadBalancerType> {
        s.load_balancers
            .first()
            .and_then(|lb| self.load_balancer(lb))
            .map(|lb| lb.lb_type)
    }

    fn check_endpoint_services(&mut self) {
        let c = self.c;
        for (i, s) in c.endpoint_services.iter().enumerate() {
            let ent = entity("endpoint_services", &s.id);
            if s.load_balancers.is_empty() {
                self.err(
                    ent.clone(),
                    path!["endpoint_services", i, "load_balancers"],
                    "an endpoint service needs a load balancer",
                    Some(
                        "load_balancers = [\"…\"] naming network or gateway load balancers".into(),
                    ),
                );
            }
            let mut types = Vec::new();
            for (k, lb) in s.load_balancers.iter().enumerate() {
                if self.require(
                    &ent,
                    path!["endpoint_services", i, "load_balancers", k],
                    lb,
                    "load_balancers",
                ) {
                    types.push(self.load_balancer(lb).unwrap().lb_type);
                }
            }
            if types.windows(2).any(|w| w[0] != w[1]) {
                self.err(
                    ent.clone(),
                    path!["endpoint_services", i, "load_balancers"],
                    "network and gateway load balancers cannot back the same service",
                    None,
                );
            }
            if let Some(n) = &s.private_dns_name {
                if let Err(e) = check_dns_name(n, true) {
                    self.err(
                        ent.clone(),
                        path!["endpoint_services", i, "private_dns_name"],
                        e,
                        None,
                    );
                }
            }
            let name = s.service_name(&c.region);
            let mut seen = HashSet::new();
            for (k, conn) in s.connections.iter().enumerate() {
                let p = path!["endpoint_services", i, "connections", k, "endpoint"];
                if !seen.insert(&conn.endpoint) {
                    self.err(
                        ent.clone(),
                        p.clone(),
                        format!("endpoint {} has two connections", conn.endpoint),
                        None,
                    );
                }
                if self.require(&ent, p.clone(), &conn.endpoint, "endpoints") {
                    let e = self.endpoint(&conn.endpoint).unwrap();
                    if e.service != name {
                        self.err(
                            ent.clone(),
                            p,
                            format!(
                                "endpoint {} connects to `{}`, not to this service `{name}`",
                                e.id, e.service
                            ),
                            None,
                        );
                    }
                }
            }
        }
    }

    fn check_endpoints(&mut self) {
        let c = self.c;
        for (i, e) in c.endpoints.iter().enumerate() {
            let ent = entity("endpoints", &e.id);
            let base = path!["endpoints", i];
            let vpc_ok = self.require(&ent, base.at("vpc"), &e.vpc, "vpcs");

            // The service and what it offers.
            let svc = self.services.get(&e.service).copied();
            let offered: Option<(bool, Vec<String>)> = match svc {
                None => {
                    let names: Vec<&str> = self.services.keys().map(String::as_str).collect();
                    let mut names = names;
                    names.sort();
                    self.err(
                        ent.clone(),
                        base.at("service"),
                        format!("no service named `{}` in this file", e.service),
                        Some(known("services", names.into_iter())),
                    );
                    None
                }
                Some(Def {
                    collection: "aws_services",
                    index,
                }) => {
                    let s = &c.aws_services[index];
                    Some((
                        s.endpoint_types.contains(&e.endpoint_type),
                        s.endpoint_types.iter().map(|t| t.to_string()).collect(),
                    ))
                }
                Some(Def { index, .. }) => {
                    let s = &c.endpoint_services[index];
                    let t = match self.service_lb_type(s) {
                        Some(LoadBalancerType::Network) => Some(EndpointType::Interface),
                        Some(LoadBalancerType::Gateway) => Some(EndpointType::GatewayLoadBalancer),
                        None => None,
                    };
                    t.map(|t| (t == e.endpoint_type, vec![t.to_string()]))
                }
            };
            if let Some((false, types)) = &offered {
                self.err(
                    ent.clone(),
                    base.at("type"),
                    format!(
                        "service `{}` does not offer {} endpoints",
                        e.service, e.endpoint_type
                    ),
                    Some(format!("it offers: {}", types.join(", "))),
                );
            }

            match e.endpoint_type {
                EndpointType::Gateway => {
                    for field in [
                        ("network_interfaces", !e.network_interfaces.is_empty()),
                        ("security_groups", !e.security_groups.is_empty()),
                        ("private_dns_enabled", e.private_dns_enabled),
                    ] {
                        if field.1 {
                            self.err(ent.clone(), base.at(field.0), format!("a gateway endpoint has no {}", field.0.replace('_', " ")), Some("gateway endpoints only have route_tables (and allowed_destinations)".into()));
                        }
                    }
                    let mut seen = HashSet::new();
                    for (k, rt) in e.route_tables.iter().enumerate() {
                        let p = base.at("route_tables").at(k);
                        if !seen.insert(rt) {
                            self.err(ent.clone(), p, format!("{rt} is listed twice"), None);
                            continue;
                        }
                        if self.require(&ent, p.clone(), rt, "route_tables") {
                            let t = &c.route_tables[self.def(rt, "route_tables").unwrap()];
                            if vpc_ok {
                                self.require_same_vpc(
                                    &ent,
                                    p.clone(),
                                    &format!("route table {rt}"),
                                    &t.vpc,
                                    &e.vpc,
                                );
                            }
                            if !t.gateways.is_empty() {
                                self.err(ent.clone(), p, format!("{rt} is an edge route table (associated with {}); gateway endpoint routes cannot be used from gateways", t.gateways.join(", ")), None);
                            }
                        }
                    }
                    if let Some(dests) = &e.allowed_destinations {
                        if dests.is_empty() {
                            self.warn(ent.clone(), base.at("allowed_destinations"), "the endpoint allows no destination: every packet through it is dropped", Some("leave the field out for AWS's default full-access policy".into()));
                        }
                    }
                }
                EndpointType::Interface | EndpointType::GatewayLoadBalancer => {
                    if !e.route_tables.is_empty() {
                        self.err(ent.clone(), base.at("route_tables"), format!("{} endpoints are not associated with route tables", e.endpoint_type), Some(if e.endpoint_type == EndpointType::GatewayLoadBalancer { "add a route with target = the endpoint id to the route tables instead".into() } else { "only gateway endpoints have route_tables".into() }));
                    }
                    if e.allowed_destinations.is_some() {
                        self.err(
                            ent.clone(),
                            base.at("allowed_destinations"),
                            "allowed_destinations applies only to gateway endpoints",
                            None,
                        );
                    }
                    if e.network_interfaces.is_empty() {
                        self.err(ent.clone(), base.at("network_interfaces"), format!("an {} endpoint needs a network interface", e.endpoint_type), Some("network_interfaces = [{ subnet = \"subnet-…\", private_ip = \"…\" }]".into()));
                    }
                    if e.endpoint_type == EndpointType::GatewayLoadBalancer {
                        if e.network_interfaces.len() > 1 {
                            self.err(
                                ent.clone(),
                                base.at("network_interfaces"),
                                "a Gateway Load Balancer endpoint has exactly one subnet",
                                None,
                            );
                        }
                        if !e.security_groups.is_empty() {
                            self.err(
                                ent.clone(),
                                base.at("security_groups"),
                                "Gateway Load Balancer endpoints have no security groups",
                                None,
                            );
                        }
                        if e.private_dns_enabled {
                            self.err(
                                ent.clone(),
                                base.at("private_dns_enabled"),
                                "Gateway Load Balancer endpoints have no private DNS",
                                None,
                            );
                        }
                    }
                    let mut azs: HashMap<&str, usize> = HashMap::new();
                    for (k, n) in e.network_interfaces.iter().enumerate() {
                        let nb = base.at("network_interfaces").at(k);
                        let eni = e.eni_id(k);
                        self.check_eni_id(&ent, nb.at("id"), &eni, &n.subnet);
                        if !self.check_ip_in_subnet(&ent, nb.clone(), &n.subnet, n.private_ip) {
                            continue;
                        }
                        let s = self.subnet(&n.subnet).unwrap();
                        if vpc_ok {
                            self.require_same_vpc(
                                &ent,
                                nb.at("subnet"),
                                &format!("subnet {}", s.id),
                                &s.vpc,
                                &e.vpc,
                            );
                        }
                        if let Some(prev) = azs.insert(s.availability_zone.as_str(), k) {
                            self.err(ent.clone(), nb.at("subnet"), format!("network_interfaces[{prev}] is already in {}; an endpoint has one subnet per availability zone", s.availability_zone), None);
                        }
                        self.check_service_covers_az(
                            &ent,
                            nb.at("subnet"),
                            e,
                            &s.availability_zone,
                        );
                    }
                    self.check_sgs(
                        &ent,
                        base.at("security_groups"),
                        &e.security_groups,
                        vpc_ok.then_some(e.vpc.as_str()),
                    );
                    if e.endpoint_type == EndpointType::Interface && e.security_groups.is_empty() {
                        self.warn(ent.clone(), base.at("security_groups"), "no security group: all inbound traffic to the endpoint is denied", Some("AWS would attach the VPC's default group; name the groups explicitly".into()));
                    }
                    if e.private_dns_enabled {
                        if let Some(vpc) = self.vpc(&e.vpc) {
                            if !(vpc.enable_dns_support && vpc.enable_dns_hostnames) {
                                self.err(ent.clone(), base.at("private_dns_enabled"), format!("private DNS needs enable_dns_support and enable_dns_hostnames on {}", vpc.id), Some(format!("set both to true in the [[vpcs]] entry of {}", vpc.id)));
                            }
                        }
                        let has_names = match svc {
                            Some(Def {
                                collection: "aws_services",
                                index,
                            }) => !c.aws_services[index].private_dns_names.is_empty(),
                            Some(Def { index, .. }) => {
                                c.endpoint_services[index].private_dns_name.is_some()
                            }
                            None => true,
                        };
                        if !has_names {
                            self.err(
                                ent.clone(),
                                base.at("private_dns_enabled"),
                                format!("service `{}` has no private DNS name", e.service),
                                None,
                            );
                        }
                    }
                }
            }
        }
    }

    /// An interface/GWLB endpoint's subnet must be in an AZ where the service's load balancer
    /// has a node (AWS refuses the endpoint otherwise).
    fn check_service_covers_az(&mut self, ent: &str, path: FieldPath, e: &Endpoint, az: &str) {
        let Some(Def {
            collection: "endpoint_services",
            index,
        }) = self.services.get(&e.service).copied()
        else {
            return;
        };
        let s = &self.c.endpoint_services[index];
        let mut zones: Vec<&str> = Vec::new();
        for lb in s
            .load_balancers
            .iter()
            .filter_map(|id| self.load_balancer(id))
        {
            for m in &lb.subnet_mappings {
                if let Some(sn) = self.subnet(&m.subnet) {
                    zones.push(sn.availability_zone.as_str());
                }
            }
        }
        if !zones.is_empty() && !zones.contains(&az) {
            zones.sort();
            zones.dedup();
            self.err(
                ent.to_string(),
                path,
                format!("service `{}` is not available in {az}", e.service),
                Some(format!(
                    "its load balancers have nodes in: {}",
                    zones.join(", ")
                )),
            );
        }
    }

    // ---- load balancers and target groups -----------------------------------------------

    fn check_load_balancers(&mut self) {
        let c = self.c;
        let mut tg_users: HashMap<&str, &str> = HashMap::new();
        for (i, lb) in c.load_balancers.iter().enumerate() {
            let ent = entity("load_balancers", &lb.id);
            let base = path!["load_balancers", i];
            let vpc_ok = self.require(&ent, base.at("vpc"), &lb.vpc, "vpcs");
            if lb.subnet_mappings.is_empty() {
                self.err(
                    ent.clone(),
                    base.at("subnet_mappings"),
                    "a load balancer needs a subnet",
                    Some(
                        "subnet_mappings = [{ subnet = \"subnet-…\", private_ip = \"…\" }]".into(),
                    ),
                );
            }
            let mut azs: HashMap<&str, usize> = HashMap::new();
            for (k, m) in lb.subnet_mappings.iter().enumerate() {
                let mb = base.at("subnet_mappings").at(k);
                if !self.check_ip_in_subnet(&ent, mb.clone(), &m.subnet, m.private_ip) {
                    continue;
                }
                let s = self.subnet(&m.subnet).unwrap();
                if vpc_ok {
                    self.require_same_vpc(
                        &ent,
                        mb.at("subnet"),
                        &format!("subnet {}", s.id),
                        &s.vpc,
                        &lb.vpc,
                    );
                }
                if let Some(prev) = azs.insert(s.availability_zone.as_str(), k) {
                    self.err(ent.clone(), mb.at("subnet"), format!("subnet_mappings[{prev}] is already in {}; one subnet per availability zone", s.availability_zone), None);
                }
            }
            match lb.lb_type {
                LoadBalancerType::Network => {
                    self.check_sgs(
                        &ent,
                        base.at("security_groups"),
                        &lb.security_groups,
                        vpc_ok.then_some(lb.vpc.as_str()),
                    );
                }
                LoadBalancerType::Gateway => {
                    if !lb.security_groups.is_empty() {
                        self.err(
                            ent.clone(),
                            base.at("security_groups"),
                            "a gateway load balancer has no security groups",
                            None,
                        );
                    }
                    if lb.scheme != Scheme::Internal {
                        self.err(
                            ent.clone(),
                            base.at("scheme"),
                            "a gateway load balancer is internal",
                            None,
                        );
                    }
                    if lb.listeners.len() != 1 {
                        self.err(
                            ent.clone(),
                            base.at("listeners"),
                            format!(
                                "a gateway load balancer has exactly one listener, not {}",
                                lb.listeners.len()
                            ),
                            None,
                        );
                    }
                }
            }
            if lb.listeners.is_empty() && lb.lb_type == LoadBalancerType::Network {
                self.warn(
                    ent.clone(),
                    base.at("listeners"),
                    "no listener: the load balancer accepts no traffic",
                    None,
                );
            }
            let mut ports: HashMap<(u16, Protocol), usize> = HashMap::new();
            for (k, l) in lb.listeners.iter().enumerate() {
                let lp = base.at("listeners").at(k);
                match lb.lb_type {
                    LoadBalancerType::Network => match (l.protocol, l.port) {
                        (Some(Protocol::Geneve), _) => self.err(
                            ent.clone(),
                            lp.at("protocol"),
                            "GENEVE listeners belong to gateway load balancers",
                            Some("TCP, UDP, TCP_UDP or TLS".into()),
                        ),
                        (None, _) => self.err(
                            ent.clone(),
                            lp.at("protocol"),
                            "a network load balancer listener needs a protocol",
                            Some("TCP, UDP, TCP_UDP or TLS".into()),
                        ),
                        (_, None) => self.err(
                            ent.clone(),
                            lp.at("port"),
                            "a network load balancer listener needs a port",
                            None,
                        ),
                        (Some(p), Some(port)) => {
                            if let Some(prev) = ports.insert((port, p), k) {
                                self.err(
                                    ent.clone(),
                                    lp.at("port"),
                                    format!("listeners[{prev}] already listens on {p} {port}"),
                                    None,
                                );
                            }
                        }
                    },
                    LoadBalancerType::Gateway => {
                        if l.protocol.is_some() || l.port.is_some() {
                            self.err(ent.clone(), lp.clone(), "a gateway load balancer listener has no protocol or port: it takes all IP traffic", None);
                        }
                    }
                }
                if !self.require(
                    &ent,
                    lp.at("target_group"),
                    &l.target_group,
                    "target_groups",
                ) {
                    continue;
                }
                let tg = self.target_group(&l.target_group).unwrap();
                if vpc_ok {
                    self.require_same_vpc(
                        &ent,
                        lp.at("target_group"),
                        &format!("target group {}", tg.id),
                        &tg.vpc,
                        &lb.vpc,
                    );
                }
                let compatible = match (lb.lb_type, l.protocol) {
                    (LoadBalancerType::Gateway, _) => tg.protocol == Protocol::Geneve,
                    (_, Some(Protocol::Tls)) => {
                        matches!(tg.protocol, Protocol::Tcp | Protocol::Tls)
                    }
                    (_, Some(p)) => tg.protocol == p,
                    (_, None) => true,
                };
                if !compatible {
                    self.err(
                        ent.clone(),
                        lp.at("target_group"),
                        format!(
                            "target group {} speaks {}, which this listener cannot forward to",
                            tg.id, tg.protocol
                        ),
                        None,
                    );
                }
                if let Some(prev) = tg_users.insert(tg.id.as_str(), lb.id.as_str()) {
                    if prev != lb.id {
                        self.err(
                            ent.clone(),
                            lp.at("target_group"),
                            format!(
                                "target group {} is already used by load balancer {prev}",
                                tg.id
                            ),
                            Some("a target group serves one load balancer".into()),
                        );
                    }
                }
            }
        }
    }

    fn check_target_groups(&mut self) {
        let c = self.c;
        for (i, tg) in c.target_groups.iter().enumerate() {
            let ent = entity("target_groups", &tg.id);
            let base = path!["target_groups", i];
            let vpc_ok = self.require(&ent, base.at("vpc"), &tg.vpc, "vpcs");
            let geneve = tg.protocol == Protocol::Geneve;
            if geneve && tg.port != 6081 {
                self.err(
                    ent.clone(),
                    base.at("port"),
                    format!("a GENEVE target group uses port 6081, not {}", tg.port),
                    None,
                );
            }
            if !geneve {
                if tg.stickiness != Stickiness::default() {
                    self.err(ent.clone(), base.at("stickiness"), "stickiness by tuple applies to GENEVE (gateway load balancer) target groups", None);
                }
                if tg.failover != Failover::default() {
                    self.err(
                        ent.clone(),
                        base.at("failover"),
                        "failover applies to GENEVE (gateway load balancer) target groups",
                        None,
                    );
                }
            }
            if tg.proxy_protocol_v2 && !matches!(tg.protocol, Protocol::Tcp | Protocol::Tls) {
                self.err(
                    ent.clone(),
                    base.at("proxy_protocol_v2"),
                    format!(
                        "PROXY protocol v2 applies to TCP and TLS target groups, not {}",
                        tg.protocol
                    ),
                    None,
                );
            }
            if !(60..=6000).contains(&tg.tcp_idle_timeout) {
                self.err(
                    ent.clone(),
                    base.at("tcp_idle_timeout"),
                    format!(
                        "{} s is out of range; allowed: 60 to 6000 seconds (AWS default 350)",
                        tg.tcp_idle_timeout
                    ),
                    None,
                );
            }
            let hc = &tg.health_check;
            let hb = base.at("health_check");
            match (hc.protocol, &hc.path) {
                (HealthCheckProtocol::Tcp, Some(_)) => self.err(
                    ent.clone(),
                    hb.at("path"),
                    "a TCP health check has no path",
                    Some("set protocol = \"HTTP\" to check a path such as /index.html".into()),
                ),
                (_, Some(p)) if !p.starts_with('/') => self.err(
                    ent.clone(),
                    hb.at("path"),
                    format!("path `{p}` must start with /"),
                    None,
                ),
                _ => {}
            }
            for (name, v) in [
                ("healthy_threshold", hc.healthy_threshold),
                ("unhealthy_threshold", hc.unhealthy_threshold),
            ] {
                if !(2..=10).contains(&v) {
                    self.err(
                        ent.clone(),
                        hb.at(name),
                        format!("{v} is out of range; allowed: 2 to 10"),
                        None,
                    );
                }
            }
            if !(5..=300).contains(&hc.interval_seconds) {
                self.err(
                    ent.clone(),
                    hb.at("interval_seconds"),
                    format!(
                        "{} s is out of range; allowed: 5 to 300",
                        hc.interval_seconds
                    ),
                    None,
                );
            }
            if hc.timeout_seconds < 2
                || hc.timeout_seconds > 120
                || hc.timeout_seconds >= hc.interval_seconds.max(3)
            {
                self.err(ent.clone(), hb.at("timeout_seconds"), format!("{} s: the timeout is 2 to 120 seconds and shorter than the interval ({} s)", hc.timeout_seconds, hc.interval_seconds), None);
            }
            let vpc = if vpc_ok { self.vpc(&tg.vpc) } else { None };
            for (k, t) in tg.targets.iter().enumerate() {
                let tb = base.at("targets").at(k);
                match (&t.instance, t.ip) {
                    (Some(inst), None) => {
                        if self.require(&ent, tb.at("instance"), inst, "instances") {
                            let ins = &c.instances[self.def(inst, "instances").unwrap()];
                            if let (Some(s), true) = (self.subnet(&ins.subnet), vpc_ok) {
                                self.require_same_vpc(
                                    &ent,
                                    tb.at("instance"),
                                    &format!("instance {inst}"),
                                    &s.vpc,
                                    &tg.vpc,
                                );
                            }
                        }
                    }
                    (None, Some(ip)) => {
                        if let Some(vpc) = vpc {
                            let inside = match ip {
                                IpAddr::V4(a) => vpc.cidr_blocks.iter().any(|c| c.0.contains(&a)),
                                IpAddr::V6(a) => {
                                    vpc.ipv6_cidr_blocks.iter().any(|c| c.0.contains(&a))
                                }
                            };
                            if !inside {
                                self.err(
                                    ent.clone(),
                                    tb.at("ip"),
                                    format!("{ip} is not inside {}", vpc.id),
                                    Some("IP targets lie in the target group's VPC".into()),
                                );
                            }
                        }
                    }
                    _ => self.err(
                        ent.clone(),
                        tb.clone(),
                        "a target is either an instance or an ip",
                        Some("{ instance = \"i-…\" } or { ip = \"10.1.2.3\" }".into()),
                    ),
                }
                if geneve && t.ip.is_some_and(|a| a.is_ipv6()) {
                    self.err(
                        ent.clone(),
                        tb.at("ip"),
                        "GENEVE targets are IPv4 addresses (the GWLB's outer headers are IPv4)",
                        None,
                    );
                }
                if geneve && t.port.is_some_and(|p| p != 6081) {
                    self.err(
                        ent.clone(),
                        tb.at("port"),
                        "GENEVE targets receive on port 6081",
                        None,
                    );
                }
            }
        }
    }

    // ---- route tables -------------------------------------------------------------------

    fn check_route_tables(&mut self) {
        let c = self.c;
        let mut subnet_table: HashMap<&str, &str> = HashMap::new();
        let mut gateway_table: HashMap<&str, &str> = HashMap::new();
        let mut main_of: HashMap<&str, &str> = HashMap::new();
        for (i, rt) in c.route_tables.iter().enumerate() {
            let ent = entity("route_tables", &rt.id);
            let base = path!["route_tables", i];
            if !self.require(&ent, base.at("vpc"), &rt.vpc, "vpcs") {
                continue;
            }
            let vpc = self.vpc(&rt.vpc).unwrap();
            if rt.main {
                if let Some(prev) = main_of.insert(rt.vpc.as_str(), rt.id.as_str()) {
                    self.err(
                        ent.clone(),
                        base.at("main"),
                        format!("{} is already the main route table of {}", prev, rt.vpc),
                        Some("a VPC has one main route table".into()),
                    );
                }
            }
            for (k, s) in rt.subnets.iter().enumerate() {
                let p = base.at("subnets").at(k);
                if !self.require(&ent, p.clone(), s, "subnets") {
                    continue;
                }
                let sn = self.subnet(s).unwrap();
                self.require_same_vpc(&ent, p.clone(), &format!("subnet {s}"), &sn.vpc, &rt.vpc);
                if let Some(prev) = subnet_table.insert(sn.id.as_str(), rt.id.as_str()) {
                    self.err(
                        ent.clone(),
                        p,
                        format!("subnet {s} is already associated with {prev}"),
                        Some("a subnet is associated with one route table".into()),
                    );
                }
            }
            for (k, g) in rt.gateways.iter().enumerate() {
                let p = base.at("gateways").at(k);
                let its_vpc = if g.starts_with("vgw-") {
                    self.require(&ent, p.clone(), g, "vpn_gateways").then(|| {
                        c.vpn_gateways[self.def(g, "vpn_gateways").unwrap()]
                            .vpc
                            .as_str()
                    })
                } else {
                    self.require(&ent, p.clone(), g, "internet_gateways")
                        .then(|| {
                            c.internet_gateways[self.def(g, "internet_gateways").unwrap()]
                                .vpc
                                .as_str()
                        })
                };
                if let Some(v) = its_vpc {
                    self.require_same_vpc(&ent, p.clone(), &format!("gateway {g}"), v, &rt.vpc);
                    if let Some(prev) = gateway_table.insert(g.as_str(), rt.id.as_str()) {
                        self.err(
                            ent.clone(),
                            p,
                            format!("gateway {g} is already associated with {prev}"),
                            Some("a gateway has one edge route table".into()),
                        );
                    }
                }
            }
            self.check_routes(i, rt, vpc);
        }
        // Every subnet has a table, explicit or main.
        for (i, s) in c.subnets.iter().enumerate() {
            if subnet_table.contains_key(s.id.as_str())
                || main_of.contains_key(s.vpc.as_str())
                || self.vpc(&s.vpc).is_none()
            {
                continue;
            }
            self.err(
                entity("subnets", &s.id),
                path!["subnets", i],
                "the subnet has no route table",
                Some(format!(
                    "add it to a route table's subnets, or mark one of {}'s tables main = true",
                    s.vpc
                )),
            );
        }
    }

    fn check_routes(&mut self, i: usize, rt: &'a RouteTable, vpc: &'a Vpc) {
        let c = self.c;
        let ent = entity("route_tables", &rt.id);
        let base = path!["route_tables", i];
        let edge = !rt.gateways.is_empty();
        let vpc_nets: Vec<IpNet> = vpc.networks();
        let subnet_nets: Vec<IpNet> = c
            .subnets
            .iter()
            .filter(|s| s.vpc == vpc.id)
            .flat_map(|s| {
                std::iter::once(IpNet::V4(s.cidr.0)).chain(s.ipv6_cidr.map(|c| IpNet::V6(c.0)))
            })
            .collect();
        let mut seen: HashMap<String, usize> = HashMap::new();
        // Prefix-list routes of this table: (pl id, target, where), for the overlap warning.
        let mut pl_routes: Vec<(&'a str, String, FieldPath)> = Vec::new();

        for (k, r) in rt.routes.iter().enumerate() {
            let rp = base.at("routes").at(k);
            let dest = match DestinationRef::parse(&r.destination) {
                Ok(d) => Some(d),
                Err(e) => {
                    self.err(ent.clone(), rp.at("destination"), e, None);
                    None
                }
            };
            let target = match TargetRef::parse(&r.target) {
                Ok(t) => Some(t),
                Err(e) => {
                    self.err(
                        ent.clone(),
                        rp.at("target"),
                        e,
                        Some(format!("allowed targets: {TARGET_FORMS}")),
                    );
                    None
                }
            };
            let dest_key = match dest {
                Some(DestinationRef::Cidr(c)) => c.to_string(),
                _ => r.destination.clone(),
            };
            // A static and a propagated route may share a destination (precedence decides);
            // two written routes may not.
            let key = if r.propagated {
                format!("{dest_key} propagated from {}", r.target)
            } else {
                dest_key.clone()
            };
            let key_for_msg = dest_key;
            if let Some(prev) = seen.insert(key, k) {
                let key = key_for_msg;
                self.err(
                    ent.clone(),
                    rp.at("destination"),
                    format!("routes[{prev}] already has destination {key}"),
                    Some("a route table has one route per destination".into()),
                );
            }
            // Destination rules.
            let mut dest_family_v4: Option<bool> = None;
            match dest {
                Some(DestinationRef::PrefixList(pl)) => {
                    if edge {
                        self.err(
                            ent.clone(),
                            rp.at("destination"),
                            "an edge route table takes whole VPC or subnet CIDRs, not prefix lists",
                            None,
                        );
                    }
                    if self.require(&ent, rp.at("destination"), pl, "prefix_lists") {
                        let list = self.prefix_list(pl).unwrap();
                        dest_family_v4 = Some(list.address_family == AddressFamily::IPv4);
                        if let Some(t) = &target {
                            pl_routes.push((
                                pl,
                                t.id().unwrap_or(&r.target).to_string(),
                                rp.clone(),
                            ));
                        }
                        if r.propagated {
                            self.err(
                                ent.clone(),
                                rp.at("propagated"),
                                "propagated routes have CIDR destinations",
                                None,
                            );
                        }
                    }
                }
                Some(DestinationRef::Cidr(cidr)) => {
                    dest_family_v4 = Some(cidr.is_ipv4());
                    let net = cidr.0;
                    let equal_vpc = vpc_nets.contains(&net);
                    let inside_vpc = vpc_nets.iter().any(|v| v.contains(&net) && *v != net);
                    if edge && !(equal_vpc || subnet_nets.contains(&net)) {
                        self.err(
                            ent.clone(),
                            rp.at("destination"),
                            format!(
                                "{net} is neither a CIDR of {} nor one of its subnets'",
                                vpc.id
                            ),
                            Some("an edge route table routes whole VPC or subnet CIDRs".into()),
                        );
                    }
                    if inside_vpc && r.propagated {
                        self.warn(ent.clone(), rp.at("destination"), format!("propagated route {net} is inside {}'s local range and never takes effect", vpc.id), Some("a propagated route cannot override local".into()));
                    } else if inside_vpc && !edge && !subnet_nets.contains(&net) {
                        self.err(ent.clone(), rp.at("destination"), format!("{net} is more specific than the local route of {} but is not a subnet's CIDR", vpc.id), Some("a route inside the VPC's range must match a whole subnet CIDR".into()));
                    }
                    if target == Some(TargetRef::Local)
                        && !equal_vpc
                        && !(edge && subnet_nets.contains(&net))
                    {
                        let cidrs: Vec<String> = vpc_nets.iter().map(|n| n.to_string()).collect();
                        self.err(
                            ent.clone(),
                            rp.at("target"),
                            format!("target local is for the VPC's own CIDRs, not {net}"),
                            Some(format!("{}'s CIDRs: {}", vpc.id, cidrs.join(", "))),
                        );
                    }
                    if equal_vpc
                        && !matches!(
                            target,
                            Some(
                                TargetRef::Local
                                    | TargetRef::NetworkInterface(_)
                                    | TargetRef::Endpoint(_)
                            ) | None
                        )
                    {
                        self.err(ent.clone(), rp.at("target"), format!("the route for the VPC CIDR {net} can only target local, an ENI or a Gateway Load Balancer endpoint"), None);
                    }
                }
                None => {}
            }
            // Target rules.
            let Some(target) = target else { continue };
            if r.propagated && !matches!(target, TargetRef::VpnGateway(_)) {
                self.err(
                    ent.clone(),
                    rp.at("propagated"),
                    format!(
                        "only a virtual private gateway (vgw-…) propagates routes, not {}",
                        r.target
                    ),
                    None,
                );
            }
            if edge
                && !matches!(
                    target,
                    TargetRef::Local | TargetRef::Endpoint(_) | TargetRef::NetworkInterface(_)
                )
            {
                self.err(ent.clone(), rp.at("target"), format!("an edge route table cannot target {}", r.target), Some("edge route tables take only local, Gateway Load Balancer endpoint (vpce-…) or network interface (eni-…) targets".into()));
                continue;
            }
            let tp = rp.at("target");
            match target {
                TargetRef::Local | TargetRef::Blackhole => {}
                TargetRef::InternetGateway(id) => {
                    if self.require(&ent, tp.clone(), id, "internet_gateways") {
                        let g = &c.internet_gateways[self.def(id, "internet_gateways").unwrap()];
                        self.require_same_vpc(
                            &ent,
                            tp,
                            &format!("internet gateway {id}"),
                            &g.vpc,
                            &vpc.id,
                        );
                    }
                }
                TargetRef::VpnGateway(id) => {
                    if self.require(&ent, tp.clone(), id, "vpn_gateways") {
                        let g = &c.vpn_gateways[self.def(id, "vpn_gateways").unwrap()];
                        self.require_same_vpc(
                            &ent,
                            tp,
                            &format!("virtual private gateway {id}"),
                            &g.vpc,
                            &vpc.id,
                        );
                    }
                }
                TargetRef::NatGateway(id) => {
                    if self.require(&ent, tp.clone(), id, "nat_gateways") {
                        let n = &c.nat_gateways[self.def(id, "nat_gateways").unwrap()];
                        if let Some(s) = self.subnet(&n.subnet) {
                            self.require_same_vpc(
                                &ent,
                                tp.clone(),
                                &format!("NAT gateway {id}"),
                                &s.vpc,
                                &vpc.id,
                            );
                        }
                        if dest_family_v4 == Some(false) {
                            self.err(ent.clone(), tp, "a NAT gateway route is IPv4", None);
                        }
                    }
                }
                TargetRef::PeeringConnection(id) => {
                    if self.require(&ent, tp.clone(), id, "peering_connections") {
                        let p =
                            &c.peering_connections[self.def(id, "peering_connections").unwrap()];
                        if p.requester_vpc != vpc.id && p.accepter_vpc != vpc.id {
                            self.err(
                                ent.clone(),
                                tp,
                                format!(
                                    "peering connection {id} joins {} and {}, not {}",
                                    p.requester_vpc, p.accepter_vpc, vpc.id
                                ),
                                None,
                            );
                        }
                    }
                }
                TargetRef::NetworkInterface(id) => match self.enis.get(id) {
                    Some((v, _)) => {
                        let v = v.to_string();
                        self.require_same_vpc(
                            &ent,
                            tp,
                            &format!("network interface {id}"),
                            &v,
                            &vpc.id,
                        );
                    }
                    None => {
                        let mut ids: Vec<&str> = self.enis.keys().map(String::as_str).collect();
                        ids.sort();
                        self.err(
                            ent.clone(),
                            tp,
                            format!("no network interface `{id}` in this file"),
                            Some(known("network interfaces", ids.into_iter())),
                        );
                    }
                },
                TargetRef::Endpoint(id) => {
                    if self.require(&ent, tp.clone(), id, "endpoints") {
                        let e = self.endpoint(id).unwrap();
                        match e.endpoint_type {
                            EndpointType::Gateway => self.err(
                                ent.clone(),
                                tp,
                                format!("{id} is a gateway endpoint; its routes come from the endpoint's route_tables, not from a route"),
                                Some(format!("remove this route and add \"{}\" to route_tables of endpoint {id}", rt.id)),
                            ),
                            EndpointType::Interface => self.err(
                                ent.clone(),
                                tp,
                                format!("{id} is an interface endpoint; only Gateway Load Balancer endpoints are route targets"),
                                Some("traffic reaches an interface endpoint by its ENI addresses (private DNS), not by a route".into()),
                            ),
                            EndpointType::GatewayLoadBalancer => {
                                self.require_same_vpc(&ent, tp, &format!("endpoint {id}"), &e.vpc, &vpc.id);
                            }
                        }
                    }
                }
            }
        }

        // Gateway endpoints associated with this table add their prefix-list routes.
        for e in c
            .endpoints
            .iter()
            .filter(|e| e.endpoint_type == EndpointType::Gateway && e.route_tables.contains(&rt.id))
        {
            for pl in self.gateway_endpoint_prefix_lists(e) {
                let ei = self.def(&e.id, "endpoints").unwrap_or(0);
                let ep = path!["endpoints", ei, "route_tables"];
                if let Some(prev) = seen.get(pl) {
                    self.err(
                        ent.clone(),
                        base.at("routes").at(*prev).at("destination"),
                        format!("endpoint {} already routes {pl} in this table", e.id),
                        Some("remove this route; the endpoint's association provides it".into()),
                    );
                }
                pl_routes.push((pl, e.id.clone(), ep));
            }
        }

        // Overlapping prefix lists with different targets.
        for a in 0..pl_routes.len() {
            for b in (a + 1)..pl_routes.len() {
                let (pa, ta, _) = &pl_routes[a];
                let (pb, tb, pathb) = &pl_routes[b];
                if ta == tb || pa == pb {
                    continue;
                }
                let (Some(la), Some(lb)) = (self.prefix_list(pa), self.prefix_list(pb)) else {
                    continue;
                };
                if let Some((x, y)) = first_overlap(la, lb) {
                    let (lo, hi) = if pa < pb { (pa, pb) } else { (pb, pa) };
                    let how = if x == y {
                        format!("{x} is in both; vpce resolves this deterministically: {lo}'s route wins over {hi}'s (AWS picks one at random)")
                    } else {
                        format!("{x} of {pa} overlaps {y} of {pb}; the longer prefix wins")
                    };
                    self.warn(
                        ent.clone(),
                        pathb.at("destination"),
                        format!("prefix lists {pa} (-> {ta}) and {pb} (-> {tb}) overlap: {how}"),
                        Some("make the lists disjoint, or route them to the same target".into()),
                    );
                }
            }
        }
    }

    /// The prefix list a gateway endpoint routes, through its AWS service.
    fn gateway_endpoint_prefix_lists(&self, e: &Endpoint) -> Vec<&'a str> {
        match self.services.get(&e.service) {
            Some(Def {
                collection: "aws_services",
                index,
            }) => self.c.aws_services[*index].gateway_prefix_lists().collect(),
            _ => Vec::new(),
        }
    }

    // ---- hosted zones -------------------------------------------------------------------

    fn check_hosted_zones(&mut self) {
        let c = self.c;
        let mut zone_vpc: HashMap<(String, &str), &str> = HashMap::new();
        for (i, z) in c.hosted_zones.iter().enumerate() {
            let ent = entity("hosted_zones", &z.id);
            let base = path!["hosted_zones", i];
            let apex = z.name.trim_end_matches('.').to_ascii_lowercase();
            if let Err(e) = check_dns_name(&apex, false) {
                self.err(ent.clone(), base.at("name"), e, None);
            }
            for (k, v) in z.vpcs.iter().enumerate() {
                if self.require(&ent, base.at("vpcs").at(k), v, "vpcs") {
                    if let Some(prev) = zone_vpc.insert((apex.clone(), v.as_str()), z.id.as_str()) {
                        self.err(
                            ent.clone(),
                            base.at("vpcs").at(k),
                            format!("{v} is already associated with zone {prev} of the same name"),
                            None,
                        );
                    }
                }
            }
            for (k, r) in z.records.iter().enumerate() {
                let rb = base.at("records").at(k);
                let fqdn = if r.name == "@" {
                    apex.clone()
                } else if let Some(abs) = r.name.strip_suffix('.') {
                    abs.to_ascii_lowercase()
                } else {
                    format!("{}.{apex}", r.name.to_ascii_lowercase())
                };
                if let Err(e) = check_dns_name(&fqdn, true) {
                    self.err(ent.clone(), rb.at("name"), e, None);
                } else if fqdn != apex && !fqdn.ends_with(&format!(".{apex}")) {
                    self.err(
                        ent.clone(),
                        rb.at("name"),
                        format!("{fqdn} is outside zone {apex}"),
                        None,
                    );
                }
                match (&r.alias_endpoint, r.values.is_empty()) {
                    (Some(_), false) => self.err(
                        ent.clone(),
                        rb.at("values"),
                        "an alias record has no values",
                        None,
                    ),
                    (None, true) => self.err(
                        ent.clone(),
                        rb.at("values"),
                        "the record has no values",
                        None,
                    ),
                    (Some(ep), true) => {
                        if self.require(&ent, rb.at("alias_endpoint"), ep, "endpoints")
                            && self.endpoint(ep).unwrap().endpoint_type != EndpointType::Interface
                        {
                            self.err(ent.clone(), rb.at("alias_endpoint"), format!("{ep} is not an interface endpoint; only those have addresses to alias"), None);
                        }
                        if r.record_type == RecordType::CNAME {
                            self.err(
                                ent.clone(),
                                rb.at("type"),
                                "an alias record is of type A (or AAAA)",
                                None,
                            );
                        }
                    }
                    (None, false) => {
                        for (m, val) in r.values.iter().enumerate() {
                            let ok = match r.record_type {
                                RecordType::A => val.parse::<Ipv4Addr>().is_ok(),
                                RecordType::AAAA => val.parse::<std::net::Ipv6Addr>().is_ok(),
                                RecordType::CNAME => {
                                    check_dns_name(val.trim_end_matches('.'), false).is_ok()
                                }
                            };
                            if !ok {
                                self.err(
                                    ent.clone(),
                                    rb.at("values").at(m),
                                    format!("`{val}` is not a valid {:?} value", r.record_type),
                                    None,
                                );
                            }
                        }
                        if r.record_type == RecordType::CNAME && r.values.len() != 1 {
                            self.err(
                                ent.clone(),
                                rb.at("values"),
                                "a CNAME record has exactly one value",
                                None,
                            );
                        }
                    }
                }
            }
        }
    }

    // ---- addresses ----------------------------------------------------------------------

    fn check_address_uniqueness(&mut self) {
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
                        entity: entity("instances", &x.id),
                        path: path!["instances", i, "private_ip"],
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
                        entity: entity("network_interfaces", &x.id),
                        path: path!["network_interfaces", i, "private_ip"],
                    },
                ));
                for (k, ip) in x.secondary_private_ips.iter().enumerate() {
                    claims.push((
                        vpc.clone(),
                        *ip,
                        AddressOwner {
                            entity: entity("network_interfaces", &x.id),
                            path: path!["network_interfaces", i, "secondary_private_ips", k],
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
                        entity: entity("nat_gateways", &x.id),
                        path: path!["nat_gateways", i, "private_ip"],
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
                            entity: entity("endpoints", &e.id),
                            path: path!["endpoints", i, "network_interfaces", k, "private_ip"],
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
                            entity: entity("load_balancers", &lb.id),
                            path: path!["load_balancers", i, "subnet_mappings", k, "private_ip"],
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
                        entity: entity("instances", &x.id),
                        path: path!["instances", i, "public_ip"],
                    },
                ));
            }
        }
        for (i, x) in c.network_interfaces.iter().enumerate() {
            if let Some(ip) = x.public_ip {
                public.push((
                    ip,
                    AddressOwner {
                        entity: entity("network_interfaces", &x.id),
                        path: path!["network_interfaces", i, "public_ip"],
                    },
                ));
            }
        }
        for (i, x) in c.nat_gateways.iter().enumerate() {
            if let Some(ip) = x.public_ip {
                public.push((
                    ip,
                    AddressOwner {
                        entity: entity("nat_gateways", &x.id),
                        path: path!["nat_gateways", i, "public_ip"],
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

/// The first pair of overlapping entries of two prefix lists (equal, or one inside the other).
fn first_overlap(a: &PrefixList, b: &PrefixList) -> Option<(IpNet, IpNet)> {
    // Two CIDRs overlap when one contains the other. In (family, address, length) order the
    // prefixes still open (containing the current one) form a stack; an entry of one list
    // under an open entry of the other is an overlap. Linear after the sort, where comparing
    // every pair took most of validating a route to a full BGP table (issue 19).
    let key = |n: &IpNet| match n {
        IpNet::V4(v) => (false, u128::from(u32::from(v.network())), n.prefix_len()),
        IpNet::V6(v) => (true, u128::from(v.network()), n.prefix_len()),
    };
    let mut all: Vec<(IpNet, bool)> = a
        .entries
        .iter()
        .map(|e| (e.cidr().0, false))
        .chain(b.entries.iter().map(|e| (e.cidr().0, true)))
        .collect();
    all.sort_by_key(|(n, from_b)| (key(n), *from_b));
    let mut open: Vec<(IpNet, bool)> = Vec::new();
    for (n, from_b) in all {
        while open.last().is_some_and(|(o, _)| !o.contains(&n)) {
            open.pop();
        }
        if let Some(&(o, _)) = open.iter().rev().find(|(_, ob)| *ob != from_b) {
            return Some(if from_b { (o, n) } else { (n, o) });
        }
        open.push((n, from_b));
    }
    None
}

/// A DNS name: labels of letters, digits and hyphens, 63 bytes each, 253 in all; a leading
/// `*` label when `wildcard` is allowed.
pub fn check_dns_name(name: &str, wildcard: bool) -> Result<(), String> {
    let name = name.trim_end_matches('.');
    if name.is_empty() || name.len() > 253 {
        return Err(format!("`{name}` is not a DNS name (1 to 253 characters)"));
    }
    for (i, label) in name.split('.').enumerate() {
        if label == "*" && i == 0 && wildcard {
            continue;
        }
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "`{name}` is not a DNS name: label `{label}` must be 1 to 63 letters, digits or hyphens{}",
                if wildcard { " (a wildcard `*` only as the leftmost label)" } else { "" }
            ));
        }
    }
    Ok(())
}
