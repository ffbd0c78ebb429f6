//! Private DNS, compiled: what the VPC's resolver (base + 2) answers for each VPC.
//!
//! One [`PrivateDns`] per snapshot holds, per VPC, the records only that VPC sees:
//!
//! * every interface endpoint's **regional** name (all its ENI addresses) and **zonal** names
//!   (that zone's ENI) — public records in AWS, so every VPC resolves them (consulted after the
//!   VPC's own records) — in AWS's shapes (seed 002):
//!   `vpce-0bb20377a387ade86-njczioek.ssm.ap-northeast-1.vpce.amazonaws.com` and
//!   `vpce-0bb20377a387ade86-njczioek-ap-northeast-1a.ssm.ap-northeast-1.vpce.amazonaws.com`
//!   (AWS draws the 8-letter part at random; here it is derived from the endpoint's id, so it is
//!   stable); an S3 interface endpoint's names are wildcards as well (AWS: the endpoint-specific
//!   names `bucket.vpce-….s3.us-east-1.vpce.amazonaws.com`, `accesspoint.vpce-…`,
//!   `control.vpce-…`);
//! * with private DNS on (and the VPC's `enable_dns_support` and `enable_dns_hostnames`), the
//!   service's own names — an AWS service's `private_dns_names`, wildcards included
//!   (`*.s3.us-east-1.amazonaws.com`), or an endpoint service's `private_dns_name` once its
//!   domain is verified (AWS: unusable while `pendingVerification`) — answering the endpoint's
//!   ENI addresses;
//! * private hosted zones associated with the VPC: A, AAAA and CNAME records, and aliases to
//!   interface endpoints (Azure's `privatelink.` zones are such zones).
//!
//! Names match case-insensitively, with or without the final dot; an exact record beats a
//! wildcard. Gateway endpoints change no DNS. [`PrivateDns::resolve`] follows CNAME chains
//! inside the private records (at most 8 links) and says which record answered.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::model::{Config, EndpointType, RecordType};

/// A record's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "value")]
pub enum Rdata {
    A(std::net::Ipv4Addr),
    AAAA(std::net::Ipv6Addr),
    CNAME(String),
}

/// A record set of one name, and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct RecordSet {
    pub name: String,
    pub ttl: u32,
    pub data: Vec<Rdata>,
    /// Who made it: `vpce-… regional name`, `vpce-… private DNS (*.s3.…)`, `zone …`.
    pub source: String,
    /// A Network Load Balancer's DNS name (its id): the resolver leaves out the addresses of
    /// nodes whose zone fails over in DNS (`dataplane::resolver::DnsHealth`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<String>,
}

/// What a query type asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryType {
    A,
    AAAA,
    CNAME,
    /// Anything else (answered with the name's existence only).
    Other(u16),
}

/// The private answer to a query, if the name is private in that VPC.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// The chain followed: each record set that answered, in order.
    pub chain: Vec<RecordSet>,
    /// The name the chain ended on is outside the private records (a CNAME pointing out):
    /// the rest must come from upstream.
    pub continues_at: Option<String>,
}

impl Answer {
    /// Addresses of the final record set.
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.chain
            .last()
            .map(|r| {
                r.data
                    .iter()
                    .filter_map(|d| match d {
                        Rdata::A(a) => Some(IpAddr::V4(*a)),
                        Rdata::AAAA(a) => Some(IpAddr::V6(*a)),
                        Rdata::CNAME(_) => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Per-VPC private records.
#[derive(Debug, Default)]
pub struct PrivateDns {
    /// VPC id -> (exact names, wildcard suffixes), names lower-case without the final dot.
    vpcs: HashMap<String, Zone>,
    /// What AWS publishes in public DNS: the endpoints' regional and zonal names, seen from
    /// every VPC after its own records.
    public: Zone,
    /// Records only queries through an inbound Resolver endpoint see (interface endpoints
    /// with `private_dns_only_for_inbound_resolver_endpoint`), by VPC.
    inbound: HashMap<String, Zone>,
    /// Resolver rules by VPC: (domain, rule index in the configuration, forward).
    rules: HashMap<String, Vec<(String, u32, bool)>>,
    /// Private hosted zone apexes by VPC (a rule for a parent domain does not take names of a
    /// more specific zone).
    apexes: HashMap<String, Vec<String>>,
}

#[derive(Debug, Default)]
struct Zone {
    exact: HashMap<String, RecordSet>,
    /// `*.suffix` records: suffix -> set (the set's name is the wildcard).
    wildcard: Vec<(String, RecordSet)>,
}

impl Zone {
    fn add(&mut self, name: &str, set: RecordSet) {
        let name = normalize(name);
        if let Some(suffix) = name.strip_prefix("*.") {
            self.wildcard.push((suffix.to_string(), set));
        } else {
            // Two sources for one name: their data merge (regional names of two endpoints
            // cannot collide; private DNS names of two endpoints to one service can, and AWS
            // refuses the second — validation reports it).
            match self.exact.get_mut(&name) {
                Some(existing) => existing.data.extend(set.data),
                None => {
                    self.exact.insert(name, set);
                }
            }
        }
    }

    fn find(&self, name: &str) -> Option<&RecordSet> {
        self.exact.get(name).or_else(|| {
            // The longest matching wildcard suffix.
            self.wildcard
                .iter()
                .filter(|(suffix, _)| under_wildcard(name, suffix))
                .max_by_key(|(suffix, _)| suffix.len())
                .map(|(_, s)| s)
        })
    }
}

/// Whether `name` is covered by the wildcard `*.suffix`: one label or more before `.suffix`
/// (both lower-case, without the final dot). Records and trace's public answers match alike.
pub fn under_wildcard(name: &str, suffix: &str) -> bool {
    name.len() > suffix.len() + 1
        && name.ends_with(suffix)
        && name.as_bytes()[name.len() - suffix.len() - 1] == b'.'
}

/// Whether the record name `pattern` (exact, or `*.suffix`) answers `name`; both any case,
/// with or without the final dot.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (normalize(pattern), normalize(name));
    match p.strip_prefix("*.") {
        Some(suffix) => under_wildcard(&n, suffix),
        None => p == n,
    }
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The records one endpoint ENI gives a name of its endpoint: A and AAAA as the endpoint's
/// `DnsRecordIpType` says (`private`: the private DNS name, which `service-defined` gives A
/// records only).
fn eni_records(
    n: &crate::model::EndpointNetworkInterface,
    rt: crate::model::DnsRecordIpType,
    private: bool,
) -> impl Iterator<Item = Rdata> {
    let a = rt.a().then_some(Rdata::A(n.private_ip));
    let aaaa = n.ipv6_address.filter(|_| rt.aaaa(private)).map(Rdata::AAAA);
    a.into_iter().chain(aaaa)
}

/// A Network Load Balancer's DNS name: its `dns_name`, else `<name>-<16 hex>.elb.<region>.
/// amazonaws.com` as AWS forms it (the hex part derived from the id, so it is stable).
pub fn load_balancer_dns_name(lb: &crate::model::LoadBalancer, region: &str) -> String {
    if let Some(n) = &lb.dns_name {
        return normalize(n);
    }
    let base = lb.name.as_deref().unwrap_or(&lb.id);
    let label: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(32)
        .collect();
    let h = crate::hash::fnv1a_64(lb.id.as_bytes());
    format!(
        "{}-{h:016x}.elb.{region}.amazonaws.com",
        label.trim_matches('-')
    )
}

/// The public records of every Network Load Balancer's DNS name: each node's address — the
/// public one of an internet-facing load balancer, else the private — and its IPv6 address
/// when dual-stack (AWS publishes both in public DNS, internal load balancers included).
fn load_balancer_records(c: &Config, out: &mut PrivateDns) {
    let nlbs = c
        .load_balancers
        .iter()
        .filter(|l| l.lb_type == crate::model::LoadBalancerType::Network);
    for lb in nlbs {
        let internet = lb.scheme == crate::model::Scheme::InternetFacing;
        let data: Vec<Rdata> = lb
            .subnet_mappings
            .iter()
            .flat_map(|m| {
                let v4 = m.public_ip.filter(|_| internet).unwrap_or(m.private_ip);
                let v6 = m.ipv6_address.filter(|_| lb.ip_address_type.has_v6());
                std::iter::once(Rdata::A(v4)).chain(v6.map(Rdata::AAAA))
            })
            .collect();
        let name = load_balancer_dns_name(lb, &c.region);
        out.public.add(
            &name,
            RecordSet {
                name: name.clone(),
                ttl: 60,
                data,
                source: format!("{} DNS name (public)", lb.id),
                load_balancer: Some(lb.id.clone()),
            },
        );
    }
}

/// The stable 8-letter part of an endpoint's DNS names (AWS draws it at random).
pub fn endpoint_suffix(endpoint_id: &str) -> String {
    let h = crate::hash::fnv1a_64(endpoint_id.as_bytes());
    (0..8)
        .map(|i| (b'a' + ((h >> (i * 5)) % 26) as u8) as char)
        .collect()
}

/// The DNS label of an endpoint's service under `vpce.amazonaws.com`: `ssm.ap-northeast-1`
/// for `com.amazonaws.ap-northeast-1.ssm`, `vpce-svc-….ap-northeast-1` for an endpoint service.
fn service_label(service: &str, region: &str) -> String {
    if let Some(rest) = service.strip_prefix(&format!("com.amazonaws.vpce.{region}.")) {
        return format!("{rest}.{region}");
    }
    if let Some(rest) = service.strip_prefix(&format!("com.amazonaws.{region}.")) {
        return format!("{rest}.{region}");
    }
    format!("{}.{region}", service.rsplit('.').next().unwrap_or(service))
}

/// An interface endpoint's regional DNS name.
pub fn regional_name(endpoint_id: &str, service: &str, region: &str) -> String {
    format!(
        "{endpoint_id}-{}.{}.vpce.amazonaws.com",
        endpoint_suffix(endpoint_id),
        service_label(service, region)
    )
}

/// An interface endpoint's zonal DNS name in `az`.
pub fn zonal_name(endpoint_id: &str, service: &str, region: &str, az: &str) -> String {
    format!(
        "{endpoint_id}-{}-{az}.{}.vpce.amazonaws.com",
        endpoint_suffix(endpoint_id),
        service_label(service, region)
    )
}

/// An interface endpoint's DNS names, as AWS lists them on the endpoint: the regional name,
/// one zonal name per zone it has an ENI in, and the service's private names when private DNS
/// is on (and the VPC has DNS support and hostnames).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointNames {
    pub regional: String,
    /// In the order of the endpoint's network interfaces.
    pub zonal: Vec<ZonalName>,
    pub private: Vec<String>,
    /// S3's endpoint-specific names: `*.` the regional name, then `*.` each zonal name (in
    /// the zonal names' order); empty for other services.
    pub endpoint_specific: Vec<String>,
}

/// A zonal name and its zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZonalName {
    pub zone: String,
    pub name: String,
}

/// The DNS names of interface endpoint `e` in configuration `c`.
pub fn endpoint_names(c: &Config, e: &crate::model::Endpoint) -> EndpointNames {
    let zonal: Vec<ZonalName> = e
        .network_interfaces
        .iter()
        .map(|n| {
            let az = c
                .subnets
                .iter()
                .find(|s| s.id == n.subnet)
                .map(|s| s.availability_zone.clone())
                .unwrap_or_default();
            let name = zonal_name(&e.id, &e.service, &c.region, &az);
            ZonalName { zone: az, name }
        })
        .collect();
    let vpc = c.vpcs.iter().find(|v| v.id == e.vpc);
    let dns_on = vpc.is_some_and(|v| v.enable_dns_support && v.enable_dns_hostnames);
    let private = if e.private_dns_enabled && dns_on {
        c.aws_services
            .iter()
            .filter(|s| s.name == e.service)
            .flat_map(|s| s.private_dns_names.clone())
            .chain(
                c.endpoint_services
                    .iter()
                    .filter(|s| s.service_name(&c.region) == e.service)
                    .filter(|s| {
                        s.private_dns_name_state == crate::model::PrivateDnsNameState::Verified
                    })
                    .filter_map(|s| s.private_dns_name.clone()),
            )
            .collect()
    } else {
        Vec::new()
    };
    let regional = regional_name(&e.id, &e.service, &c.region);
    let s3 = c
        .aws_services
        .iter()
        .any(|s| s.name == e.service && s.name.ends_with(".s3"));
    let endpoint_specific = if s3 {
        std::iter::once(&regional)
            .chain(zonal.iter().map(|z: &ZonalName| &z.name))
            .map(|n| format!("*.{n}"))
            .collect()
    } else {
        Vec::new()
    };
    EndpointNames {
        regional,
        zonal,
        private,
        endpoint_specific,
    }
}

impl PrivateDns {
    /// An interface endpoint's records: its regional, zonal and endpoint-specific names
    /// (public) and its private DNS names (in its VPC, or for inbound-endpoint queries only).
    fn endpoint_records(&mut self, c: &Config, e: &crate::model::Endpoint) {
        let out = self;
        let rt = e.dns_records();
        let all: Vec<Rdata> = e
            .network_interfaces
            .iter()
            .flat_map(|n| eni_records(n, rt, false))
            .collect();
        let names = endpoint_names(c, e);
        out.public.add(
            &names.regional,
            RecordSet {
                name: names.regional.clone(),
                ttl: 60,
                data: all.clone(),
                source: format!("{} regional name (public)", e.id),
                load_balancer: None,
            },
        );
        for (k, (n, z)) in e.network_interfaces.iter().zip(&names.zonal).enumerate() {
            out.public.add(
                &z.name,
                RecordSet {
                    name: z.name.clone(),
                    ttl: 60,
                    data: eni_records(n, rt, false).collect(),
                    source: format!("{} zonal name ({}, public)", e.id, z.zone),
                    load_balancer: None,
                },
            );
            if let Some(w) = names.endpoint_specific.get(k + 1) {
                out.public.add(
                    w,
                    RecordSet {
                        name: w.clone(),
                        ttl: 60,
                        data: eni_records(n, rt, false).collect(),
                        source: format!("{} endpoint-specific name ({}, public)", e.id, z.zone),
                        load_balancer: None,
                    },
                );
            }
        }
        if let Some(w) = names.endpoint_specific.first() {
            out.public.add(
                w,
                RecordSet {
                    name: w.clone(),
                    ttl: 60,
                    data: all.clone(),
                    source: format!("{} endpoint-specific name (public)", e.id),
                    load_balancer: None,
                },
            );
        }
        let zone = out.vpcs.entry(e.vpc.clone()).or_default();
        let zone = if e.private_dns_only_for_inbound_resolver_endpoint {
            out.inbound.entry(e.vpc.clone()).or_default()
        } else {
            zone
        };
        let private: Vec<Rdata> = e
            .network_interfaces
            .iter()
            .flat_map(|n| eni_records(n, rt, true))
            .collect();
        for name in names.private {
            zone.add(
                &name,
                RecordSet {
                    name: normalize(&name),
                    ttl: 60,
                    data: private.clone(),
                    source: format!("{} private DNS ({name})", e.id),
                    load_balancer: None,
                },
            );
        }
    }

    pub fn compile(c: &Config) -> PrivateDns {
        let mut out = PrivateDns::default();
        for e in c
            .endpoints
            .iter()
            .filter(|e| e.endpoint_type == EndpointType::Interface)
        {
            out.endpoint_records(c, e);
        }
        load_balancer_records(c, &mut out);
        for z in &c.hosted_zones {
            for vpc in &z.vpcs {
                out.apexes
                    .entry(vpc.clone())
                    .or_default()
                    .push(normalize(&z.name));
            }
            for r in &z.records {
                let full = if r.name == "@" {
                    z.name.clone()
                } else if r.name.ends_with('.') {
                    r.name.clone()
                } else {
                    format!("{}.{}", r.name, z.name)
                };
                let data: Vec<Rdata> = match (&r.alias_endpoint, r.record_type) {
                    (Some(ep), _) => c
                        .endpoints
                        .iter()
                        .find(|e| &e.id == ep)
                        .map(|e| {
                            e.network_interfaces
                                .iter()
                                .map(|n| Rdata::A(n.private_ip))
                                .collect()
                        })
                        .unwrap_or_default(),
                    (None, RecordType::A) => r
                        .values
                        .iter()
                        .filter_map(|v| v.parse().ok().map(Rdata::A))
                        .collect(),
                    (None, RecordType::AAAA) => r
                        .values
                        .iter()
                        .filter_map(|v| v.parse().ok().map(Rdata::AAAA))
                        .collect(),
                    (None, RecordType::CNAME) => r
                        .values
                        .first()
                        .map(|v| vec![Rdata::CNAME(normalize(v))])
                        .unwrap_or_default(),
                };
                for vpc in &z.vpcs {
                    out.vpcs.entry(vpc.clone()).or_default().add(
                        &full,
                        RecordSet {
                            name: normalize(&full),
                            ttl: r.ttl,
                            data: data.clone(),
                            source: format!("zone {} ({})", z.name, z.id),
                            load_balancer: None,
                        },
                    );
                }
            }
        }
        for (i, r) in c.resolver_rules.iter().enumerate() {
            let forward = r.rule_type == crate::model::ResolverRuleType::Forward;
            for vpc in &r.vpcs {
                out.rules.entry(vpc.clone()).or_default().push((
                    normalize(&r.domain),
                    i as u32,
                    forward,
                ));
            }
        }
        out
    }

    /// The Resolver rule (its index in the configuration) that forwards `name` for clients of
    /// `vpc`: the rule with the most specific domain that matches (AWS), unless that one is a
    /// `system` rule, or a private hosted zone of the VPC is more specific still (the most
    /// specific match wins; at equal names the rule does).
    pub fn forward_rule(&self, vpc: &str, name: &str) -> Option<u32> {
        let name = normalize(name);
        let covers = |domain: &str| name == domain || name.ends_with(&format!(".{domain}"));
        let (domain, rule, forward) = self
            .rules
            .get(vpc)?
            .iter()
            .filter(|(d, _, _)| covers(d))
            .max_by_key(|(d, _, _)| d.len())?;
        let zone_more_specific = self
            .apexes
            .get(vpc)
            .is_some_and(|a| a.iter().any(|z| covers(z) && z.len() > domain.len()));
        (*forward && !zone_more_specific).then_some(*rule)
    }

    /// [`Self::resolve`] for a query that came through an inbound Resolver endpoint
    /// (`inbound`): it also sees the records kept for such queries.
    pub fn resolve_via(
        &self,
        vpc: &str,
        name: &str,
        qtype: QueryType,
        inbound: bool,
    ) -> Option<Answer> {
        if inbound {
            if let Some(a) = self
                .inbound
                .get(vpc)
                .and_then(|z| resolve_in(z, name, qtype))
            {
                return Some(a);
            }
        }
        self.resolve(vpc, name, qtype)
    }

    /// The private answer for `name` asked from `vpc`, following CNAMEs; `None` if the name is
    /// not private there (the resolver then forwards or refuses it).
    pub fn resolve(&self, vpc: &str, name: &str, qtype: QueryType) -> Option<Answer> {
        self.vpcs
            .get(vpc)
            .and_then(|z| resolve_in(z, name, qtype))
            .or_else(|| resolve_in(&self.public, name, qtype))
    }
}

/// The answer for `name` in `zone`, following CNAMEs.
fn resolve_in(zone: &Zone, name: &str, qtype: QueryType) -> Option<Answer> {
    let mut name = normalize(name);
    let mut chain: Vec<RecordSet> = Vec::new();
    for _ in 0..8 {
        let Some(set) = zone.find(&name) else {
            // A CNAME pointed outside the private records.
            return (!chain.is_empty()).then_some(Answer {
                chain,
                continues_at: Some(name),
            });
        };
        let mut set = set.clone();
        // A wildcard answers with the asked name.
        set.name = name.clone();
        let cname = set.data.iter().find_map(|d| match d {
            Rdata::CNAME(t) => Some(t.clone()),
            _ => None,
        });
        let wanted = match qtype {
            QueryType::A => set.data.iter().any(|d| matches!(d, Rdata::A(_))),
            QueryType::AAAA => set.data.iter().any(|d| matches!(d, Rdata::AAAA(_))),
            _ => false,
        };
        match cname {
            Some(target) if qtype != QueryType::CNAME && !wanted => {
                chain.push(set);
                name = target;
            }
            _ => {
                chain.push(set);
                return Some(Answer {
                    chain,
                    continues_at: None,
                });
            }
        }
    }
    Some(Answer {
        chain,
        continues_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label_or_more_and_nothing_else() {
        assert!(name_matches(
            "*.s3.us-east-1.amazonaws.com",
            "bucket.s3.us-east-1.amazonaws.com."
        ));
        assert!(name_matches("*.example.", "a.b.EXAMPLE"));
        assert!(!name_matches("*.example", "example"));
        assert!(!name_matches("*.example", "notexample"));
        assert!(name_matches("Host.Example.", "host.example"));
        assert!(!name_matches("host.example", "a.host.example"));
    }

    fn config(text: &str) -> Config {
        crate::load_str("t.toml", text.to_string(), std::path::Path::new("."))
            .unwrap()
            .config
    }

    const BASE: &str = r#"
region = "ap-northeast-1"
[[vpcs]]
id = "vpc-1"
cidr_blocks = ["172.20.0.0/16"]
enable_dns_support = true
enable_dns_hostnames = true
[[subnets]]
id = "subnet-a"
vpc = "vpc-1"
availability_zone = "ap-northeast-1a"
cidr = "172.20.128.0/20"
[[subnets]]
id = "subnet-c"
vpc = "vpc-1"
availability_zone = "ap-northeast-1c"
cidr = "172.20.144.0/20"
[[aws_services]]
name = "com.amazonaws.ap-northeast-1.ssm"
endpoint_types = ["interface"]
private_dns_names = ["ssm.ap-northeast-1.amazonaws.com"]
[[endpoints]]
id = "vpce-0bb20377a387ade86"
type = "interface"
vpc = "vpc-1"
service = "com.amazonaws.ap-northeast-1.ssm"
private_dns_enabled = true
network_interfaces = [
  { subnet = "subnet-a", private_ip = "172.20.128.22" },
  { subnet = "subnet-c", private_ip = "172.20.144.169" },
]
"#;

    #[test]
    fn seed_002_regional_zonal_and_private_names() {
        let c = config(BASE);
        let d = PrivateDns::compile(&c);
        let id = "vpce-0bb20377a387ade86";
        let regional = regional_name(id, "com.amazonaws.ap-northeast-1.ssm", "ap-northeast-1");
        assert!(regional.starts_with("vpce-0bb20377a387ade86-"));
        assert!(regional.ends_with(".ssm.ap-northeast-1.vpce.amazonaws.com"));
        let a = d.resolve("vpc-1", &regional, QueryType::A).unwrap();
        assert_eq!(a.addresses().len(), 2);
        let zonal = zonal_name(
            id,
            "com.amazonaws.ap-northeast-1.ssm",
            "ap-northeast-1",
            "ap-northeast-1a",
        );
        assert!(zonal.contains("-ap-northeast-1a.ssm."));
        let a = d.resolve("vpc-1", &zonal, QueryType::A).unwrap();
        assert_eq!(
            a.addresses(),
            vec!["172.20.128.22".parse::<IpAddr>().unwrap()]
        );
        let a = d
            .resolve("vpc-1", "SSM.ap-northeast-1.amazonaws.com.", QueryType::A)
            .unwrap();
        assert_eq!(a.addresses().len(), 2);
        assert!(a.chain[0].source.contains("private DNS"));
        // Another VPC: the regional name is public (AWS publishes it), the private DNS name
        // is not; private DNS off: only the endpoint's own names.
        let a = d.resolve("vpc-2", &regional, QueryType::A).unwrap();
        assert!(a.chain[0].source.contains("public"), "{:?}", a.chain);
        assert_eq!(a.addresses().len(), 2);
        assert!(d
            .resolve("vpc-2", "ssm.ap-northeast-1.amazonaws.com", QueryType::A)
            .is_none());
        let off =
            config(&BASE.replace("private_dns_enabled = true", "private_dns_enabled = false"));
        let d = PrivateDns::compile(&off);
        assert!(d
            .resolve("vpc-1", "ssm.ap-northeast-1.amazonaws.com", QueryType::A)
            .is_none());
        assert!(d.resolve("vpc-1", &regional, QueryType::A).is_some());
    }

    /// An S3 interface endpoint's endpoint-specific names (`bucket.vpce-…`, `accesspoint.…`,
    /// `control.…`) answer its addresses, regional and zonal, from any VPC.
    #[test]
    fn s3_endpoint_specific_names_and_unverified_private_names() {
        let file =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/s3-endpoints.toml");
        let c = crate::load::load_file(&file).unwrap().config;
        let d = PrivateDns::compile(&c);
        let e = c
            .endpoints
            .iter()
            .find(|e| e.endpoint_type == EndpointType::Interface)
            .unwrap();
        let names = endpoint_names(&c, e);
        assert_eq!(names.endpoint_specific.len(), 2, "{names:?}");
        for prefix in ["bucket", "accesspoint", "control"] {
            let n = format!("{prefix}.{}", names.regional);
            let a = d.resolve("vpc-elsewhere", &n, QueryType::A).unwrap();
            assert_eq!(
                a.addresses(),
                vec!["10.0.1.125".parse::<IpAddr>().unwrap()],
                "{n}"
            );
        }
        let zonal = format!("my-bucket.{}", names.zonal[0].name);
        assert!(d
            .resolve("vpc-09efc2534d3f29483", &zonal, QueryType::A)
            .is_some());
    }

    /// A dual-stack endpoint's names answer A and AAAA queries as its `dns_record_ip_type`
    /// says: both by default, one family for `ipv4` or `ipv6`, and `service-defined` AAAA for
    /// the regional and zonal names but not the private one (the EC2 API's definitions).
    #[test]
    fn aaaa_records_follow_the_dns_record_ip_type() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/privatelink-dual-stack.toml");
        let text = std::fs::read_to_string(&file).unwrap().replace(
            "supported_ip_address_types",
            "private_dns_name = \"hello.example.com\"\nsupported_ip_address_types",
        );
        let (v4, v6): (IpAddr, IpAddr) = (
            "10.0.128.100".parse().unwrap(),
            "2600:1f18:a:a80::100".parse().unwrap(),
        );
        let vpc = "vpc-0a000000000000001";
        let cases = [
            ("", [true, true, true, true]),
            (
                "dns_record_ip_type = \"ipv4\"\n",
                [true, false, true, false],
            ),
            (
                "dns_record_ip_type = \"ipv6\"\n",
                [false, true, false, true],
            ),
            (
                "dns_record_ip_type = \"service-defined\"\n",
                [true, true, true, false],
            ),
        ];
        for (line, [reg_a, reg_aaaa, priv_a, priv_aaaa]) in cases {
            let t = text.replace(
                "ip_address_type = \"dualstack\"\n# dns",
                &format!(
                    "ip_address_type = \"dualstack\"\nprivate_dns_enabled = true\n{line}# dns"
                ),
            );
            let c = crate::load::load_str("t.toml", t, file.parent().unwrap())
                .unwrap()
                .config;
            let d = PrivateDns::compile(&c);
            let names = endpoint_names(&c, &c.endpoints[0]);
            let got = |name: &str, q: QueryType| {
                // What the resolver writes: the records of the type asked.
                let all = d.resolve(vpc, name, q).map(|a| a.addresses());
                let v6 = q == QueryType::AAAA;
                let mut v = all.unwrap_or_default();
                v.retain(|a| a.is_ipv6() == v6);
                v
            };
            for (name, want_a, want_aaaa) in [
                (names.regional.as_str(), reg_a, reg_aaaa),
                (names.zonal[0].name.as_str(), reg_a, reg_aaaa),
                ("hello.example.com", priv_a, priv_aaaa),
            ] {
                let a = if want_a { vec![v4] } else { vec![] };
                let aaaa = if want_aaaa { vec![v6] } else { vec![] };
                assert_eq!(got(name, QueryType::A), a, "{line}{name} A");
                assert_eq!(got(name, QueryType::AAAA), aaaa, "{line}{name} AAAA");
            }
        }
    }

    #[test]
    fn wildcards_zones_aliases_and_cname_chains() {
        let text = BASE.to_string()
            + r#"
[[hosted_zones]]
id = "Z1"
name = "privatelink.blob.core.windows.net"
vpcs = ["vpc-1"]
records = [
  { name = "zennprivatelink", type = "A", values = ["172.20.128.50"] },
  { name = "alias", type = "A", alias_endpoint = "vpce-0bb20377a387ade86" },
]
[[hosted_zones]]
id = "Z2"
name = "blob.core.windows.net"
vpcs = ["vpc-1"]
records = [
  { name = "zennprivatelink", type = "CNAME", values = ["zennprivatelink.privatelink.blob.core.windows.net"] },
  { name = "outside", type = "CNAME", values = ["blob.elsewhere.example"] },
  { name = "*", type = "A", values = ["10.9.9.9"] },
]
"#;
        let d = PrivateDns::compile(&config(&text));
        let a = d
            .resolve(
                "vpc-1",
                "zennprivatelink.blob.core.windows.net",
                QueryType::A,
            )
            .unwrap();
        assert_eq!(a.chain.len(), 2, "CNAME then A: {a:?}");
        assert_eq!(
            a.addresses(),
            vec!["172.20.128.50".parse::<IpAddr>().unwrap()]
        );
        let a = d
            .resolve(
                "vpc-1",
                "alias.privatelink.blob.core.windows.net",
                QueryType::A,
            )
            .unwrap();
        assert_eq!(a.addresses().len(), 2);
        let a = d
            .resolve("vpc-1", "anything.blob.core.windows.net", QueryType::A)
            .unwrap();
        assert_eq!(a.chain[0].name, "anything.blob.core.windows.net");
        let a = d
            .resolve("vpc-1", "outside.blob.core.windows.net", QueryType::A)
            .unwrap();
        assert_eq!(a.continues_at.as_deref(), Some("blob.elsewhere.example"));
    }

    /// `private_dns_only_for_inbound_resolver_endpoint`: the VPC's own clients do not get the
    /// endpoint for the service's name, queries through an inbound endpoint do.
    #[test]
    fn inbound_only_private_dns_answers_only_through_an_inbound_endpoint() {
        let c = config(&BASE.replace(
            "private_dns_enabled = true",
            "private_dns_enabled = true\nprivate_dns_only_for_inbound_resolver_endpoint = true",
        ));
        let d = PrivateDns::compile(&c);
        let name = "ssm.ap-northeast-1.amazonaws.com";
        assert!(d.resolve("vpc-1", name, QueryType::A).is_none());
        assert!(d.resolve_via("vpc-1", name, QueryType::A, false).is_none());
        let a = d.resolve_via("vpc-1", name, QueryType::A, true).unwrap();
        assert_eq!(a.addresses().len(), 2);
    }

    /// Resolver rules: the most specific domain decides; a system rule takes its names back
    /// from a forward rule of a parent domain; a private zone more specific than the rule
    /// keeps its names.
    #[test]
    fn forward_rules_by_the_most_specific_domain() {
        let c = config(
            &(BASE.to_string()
                + r#"
[[resolver_endpoints]]
id = "rslvr-out-1"
direction = "outbound"
vpc = "vpc-1"
ip_addresses = [{ subnet = "subnet-a", ip = "172.20.128.60" }]
[[resolver_rules]]
id = "rslvr-rr-1"
domain = "corp.example"
rule_type = "forward"
resolver_endpoint = "rslvr-out-1"
target_ips = ["192.168.10.53"]
vpcs = ["vpc-1"]
[[resolver_rules]]
id = "rslvr-rr-2"
domain = "aws.corp.example"
rule_type = "system"
vpcs = ["vpc-1"]
[[hosted_zones]]
id = "Z1"
name = "lab.corp.example"
vpcs = ["vpc-1"]
"#),
        );
        let d = PrivateDns::compile(&c);
        assert_eq!(d.forward_rule("vpc-1", "db.corp.example."), Some(0));
        assert_eq!(d.forward_rule("vpc-1", "CORP.example"), Some(0));
        assert_eq!(d.forward_rule("vpc-1", "x.aws.corp.example"), None);
        assert_eq!(d.forward_rule("vpc-1", "host.lab.corp.example"), None);
        assert_eq!(d.forward_rule("vpc-1", "example"), None);
        assert_eq!(d.forward_rule("vpc-2", "db.corp.example"), None);
    }
}
