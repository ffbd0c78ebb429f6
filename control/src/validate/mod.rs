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

mod addresses;
mod direct_connect;
mod dns;
mod dual_stack;
mod endpoints;
mod ids;
mod interfaces;
mod load_balancing;
mod nacl;
mod network;
mod policies;
mod resolver;
mod routes;
mod security;
mod transit;

pub use dns::check_dns_name;

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
    collection: Collection,
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

fn entity(collection: Collection, id: &str) -> String {
    format!("{} {id}", collection.name())
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
        self.check_network_acls();
        self.check_transit();
        self.check_resolver();
        self.check_interfaces();
        self.check_aws_services();
        self.check_endpoint_services();
        self.check_endpoints();
        self.check_policies();
        self.check_load_balancers();
        self.check_target_groups();
        self.check_address_types();
        self.check_route_tables();
        self.check_hosted_zones();
        self.check_address_uniqueness();
    }

    // ---- lookups -----------------------------------------------------------------------

    fn def(&self, id: &str, collection: Collection) -> Option<usize> {
        self.ids
            .get(id)
            .filter(|d| d.collection == collection)
            .map(|d| d.index)
    }

    fn vpc(&self, id: &str) -> Option<&'a Vpc> {
        self.def(id, Collection::Vpcs).map(|i| &self.c.vpcs[i])
    }
    fn subnet(&self, id: &str) -> Option<&'a Subnet> {
        self.def(id, Collection::Subnets)
            .map(|i| &self.c.subnets[i])
    }
    fn prefix_list(&self, id: &str) -> Option<&'a PrefixList> {
        self.def(id, Collection::PrefixLists)
            .map(|i| &self.c.prefix_lists[i])
    }
    fn security_group(&self, id: &str) -> Option<&'a SecurityGroup> {
        self.def(id, Collection::SecurityGroups)
            .map(|i| &self.c.security_groups[i])
    }
    fn endpoint(&self, id: &str) -> Option<&'a Endpoint> {
        self.def(id, Collection::Endpoints)
            .map(|i| &self.c.endpoints[i])
    }
    fn load_balancer(&self, id: &str) -> Option<&'a LoadBalancer> {
        self.def(id, Collection::LoadBalancers)
            .map(|i| &self.c.load_balancers[i])
    }
    fn target_group(&self, id: &str) -> Option<&'a TargetGroup> {
        self.def(id, Collection::TargetGroups)
            .map(|i| &self.c.target_groups[i])
    }

    fn ids_of(&self, collection: Collection) -> Vec<&'a str> {
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
    fn require(&mut self, ent: &str, path: FieldPath, id: &str, collection: Collection) -> bool {
        if self.def(id, collection).is_some() {
            return true;
        }
        let what = collection.name();
        let msg = match self.ids.get(id) {
            Some(d) => format!(
                "`{id}` is a {}, but a {what} is required here",
                d.collection.name()
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
}
