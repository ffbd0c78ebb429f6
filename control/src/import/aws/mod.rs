//! `vpcectl import aws`: a native configuration from what `scripts/export-aws.sh` saved — the
//! AWS CLI's own JSON, one file per describe call.
//!
//! The output is TOML text built as a table and then loaded and validated like any
//! configuration, so an import that does not validate is caught here, not by the user. AWS ids
//! are kept; `Name` tags become names. What has no mapping yet is never dropped silently: each
//! such resource is a warning naming it. A missing file leaves its part of the model empty; a
//! file that is not the JSON its call returns is an error naming the file and the path inside
//! it (`RouteTables[2].Routes[0]`).
//!
//! Mapped: VPCs, subnets, internet gateways, route tables (associations, static routes;
//! gateway-endpoint routes come from the endpoints' associations, as the model wants),
//! managed prefix lists with their entries, security groups, network ACLs, VPC peering
//! connections, virtual private gateways, VPN connections (as on-premises networks), transit
//! gateways with attachments and route tables, instances (with their primary
//! ENI), ENIs of their own, NAT gateways, network and gateway load balancers with their
//! listeners, target groups with their attributes and registered targets, this account's
//! endpoint services with their connections, and gateway, interface and GWLB endpoints.
//!
//! The parts refer to each other, so they are read in dependency order (instances before the
//! target groups naming them, load balancers before the services they back, services before the
//! endpoints to them) and whatever is left out cascades as warnings: a service with no imported
//! load balancer, an endpoint to a service not in the export, a route to an endpoint left out.
//!
//! The parts live in rooms by AWS API family: `vpc` (VPCs, subnets, gateways, prefix lists,
//! route tables, security groups), `nacl` (network ACLs), `transit` (peering, VPN, transit
//! gateways), `resolver` (Route 53 Resolver endpoints and rules, private hosted zones), `compute` (instances, NAT gateways, ENIs), `elb`
//! (target groups and load balancers) and `endpoints` (endpoint services, VPC endpoints and
//! the AWS services they name). This module holds the shared reading helpers and the order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use toml::{Table, Value as T};

mod compute;
mod direct_connect;
mod elb;
mod endpoints;
mod nacl;
mod resolver;
mod s3;
mod transit;
mod vpc;

/// The result of an import.
#[derive(Debug)]
pub struct Imported {
    pub toml: String,
    /// Resources that are not in the configuration, each with why.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}: not a directory")]
    NotADirectory(PathBuf),
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: not JSON: {source}")]
    Json {
        file: PathBuf,
        source: serde_json::Error,
    },
    #[error("{file}: at {path}: {message}")]
    Shape {
        file: PathBuf,
        path: String,
        message: String,
    },
}

/// One exported file.
struct Doc {
    file: PathBuf,
    v: Value,
}

impl Doc {
    fn err(&self, path: &str, message: impl Into<String>) -> ImportError {
        ImportError::Shape {
            file: self.file.clone(),
            path: path.to_string(),
            message: message.into(),
        }
    }

    /// The array under `key` (absent: empty).
    fn list(&self, key: &str) -> Result<Vec<(String, &Value)>, ImportError> {
        match self.v.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a
                .iter()
                .enumerate()
                .map(|(i, x)| (format!("{key}[{i}]"), x))
                .collect()),
            Some(_) => Err(self.err(key, "expected a list")),
        }
    }

    fn str<'a>(&self, x: &'a Value, path: &str, key: &str) -> Result<&'a str, ImportError> {
        x.get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| self.err(&format!("{path}.{key}"), "missing or not a string"))
    }
}

fn opt<'a>(x: &'a Value, key: &str) -> Option<&'a str> {
    x.get(key).and_then(Value::as_str)
}

fn items<'a>(x: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    x.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn name_tag(x: &Value) -> Option<String> {
    items(x, "Tags")
        .find(|t| opt(t, "Key") == Some("Name"))
        .and_then(|t| opt(t, "Value"))
        .map(str::to_string)
}

/// Where the exported files come from: a directory, or (fuzzing, tests) files in memory.
pub trait Source {
    /// The text of `NAME.json`, `None` when there is no such file.
    fn text(&self, name: &str) -> Result<Option<String>, std::io::Error>;
    /// How errors name the file.
    fn path(&self, name: &str) -> PathBuf;
    /// How the configuration's header names the export.
    fn describe(&self) -> String;
}

/// A directory `export-aws.sh` wrote.
#[derive(Debug)]
pub struct Dir<'a>(pub &'a Path);

impl Source for Dir<'_> {
    fn text(&self, name: &str) -> Result<Option<String>, std::io::Error> {
        match std::fs::read_to_string(self.path(name)) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(format!("{name}.json"))
    }
    fn describe(&self) -> String {
        self.0.display().to_string()
    }
}

/// Files in memory: `NAME` (without `.json`) -> text.
impl Source for BTreeMap<String, String> {
    fn text(&self, name: &str) -> Result<Option<String>, std::io::Error> {
        Ok(self.get(name).cloned())
    }
    fn path(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("{name}.json"))
    }
    fn describe(&self) -> String {
        "files in memory".into()
    }
}

fn read(dir: &dyn Source, name: &str) -> Result<Option<Doc>, ImportError> {
    let file = dir.path(name);
    let text = match dir.text(name) {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(None),
        Err(source) => return Err(ImportError::Read { file, source }),
    };
    let v = serde_json::from_str(&text).map_err(|source| ImportError::Json {
        file: file.clone(),
        source,
    })?;
    Ok(Some(Doc { file, v }))
}

fn table(pairs: Vec<(&str, T)>) -> T {
    let mut t = Table::new();
    for (k, v) in pairs {
        t.insert(k.to_string(), v);
    }
    T::Table(t)
}

fn s(v: &str) -> T {
    T::String(v.to_string())
}

fn strings<I: IntoIterator<Item = String>>(i: I) -> T {
    T::Array(i.into_iter().map(T::String).collect())
}

/// Imports the export in `dir`; `region` when the files do not tell (subnets' zones do).
pub fn import(dir: &Path, region: Option<&str>) -> Result<Imported, ImportError> {
    if !dir.is_dir() {
        return Err(ImportError::NotADirectory(dir.to_path_buf()));
    }
    import_from(&Dir(dir), region)
}

/// What the parts share while the import runs: the warnings so far, and what one part learns
/// that a later one needs.
struct Import<'d> {
    dir: &'d dyn Source,
    warnings: Vec<String>,
    /// Availability zones of the exported subnets.
    zones: BTreeSet<String>,
    /// Their ids (`AvailabilityZoneId`), where the export gives them.
    zone_ids: BTreeMap<String, String>,
    /// ENIs that belong to something imported on its own (endpoints, NAT gateways, load
    /// balancer nodes).
    owned_enis: BTreeSet<String>,
    /// Instances' primary ENIs.
    primary_enis: BTreeSet<String>,
    /// VPCs with an interface endpoint using private DNS (they need both DNS attributes on).
    dns_vpcs: BTreeSet<String>,
    /// Managed prefix lists imported: (id, name).
    list_names: Vec<(String, String)>,
}

impl Import<'_> {
    fn read(&self, name: &str) -> Result<Option<Doc>, ImportError> {
        read(self.dir, name)
    }
    fn warn(&mut self, message: String) {
        self.warnings.push(message);
    }
}

/// Imports the export `dir` holds (a directory, or files in memory).
pub fn import_from(dir: &dyn Source, region: Option<&str>) -> Result<Imported, ImportError> {
    let mut im = Import {
        dir,
        warnings: Vec::new(),
        zones: BTreeSet::new(),
        zone_ids: BTreeMap::new(),
        owned_enis: BTreeSet::new(),
        primary_enis: BTreeSet::new(),
        dns_vpcs: BTreeSet::new(),
        list_names: Vec::new(),
    };
    let (mut vpcs, vpc_blocks) = vpc::vpcs(&mut im)?;
    let (subnets, subnet_cidrs) = vpc::subnets(&mut im)?;
    let igws = vpc::internet_gateways(&mut im)?;
    let lists = vpc::prefix_lists(&mut im)?;
    let mut tables = vpc::route_tables(&mut im)?;
    let groups = vpc::security_groups(&mut im)?;
    let acls = nacl::network_acls(&mut im)?;
    let tr = transit::transit(&mut im)?;
    let dx = direct_connect::direct_connect_gateways(&mut im)?;
    let buckets = s3::buckets(&mut im)?;
    let dns = resolver::dns(&mut im)?;
    let eni_doc = im.read("ec2-describe-network-interfaces")?;
    let mut seen = Seen {
        vpcs: vpc_blocks,
        subnets: subnet_cidrs,
        instances: BTreeSet::new(),
        enis: eni_doc.as_ref(),
    };
    let instances = compute::instances(&mut im, &mut seen)?;
    let nats = compute::nat_gateways(&mut im, &seen)?;
    let (load_balancers, target_groups, balancers) = elb::load_balancing(&mut im, &seen)?;
    let mut services = endpoints::endpoint_services(&mut im, &balancers)?;
    let vpc_endpoints = endpoints::vpc_endpoints(&mut im, &seen, &mut services)?;
    let enis = compute::network_interfaces(&mut im, &seen)?;
    let endpoint_services = endpoints::service_tables(&mut im, services, &vpc_endpoints.ids);

    // Routes to what was not imported would not validate: named, then left out.
    let mut targets = field(&nats, "id");
    targets.extend(field(&enis, "id"));
    targets.extend(field(&instances, "network_interface"));
    targets.extend(vpc_endpoints.ids.iter().cloned());
    vpc::prune_routes(&mut im, &mut tables, &targets);
    vpc::enable_dns(&mut vpcs, &im.dns_vpcs);

    let mut out = Table::new();
    out.insert("region".into(), T::String(region_of(region, &im.zones)));
    out.insert("availability_zones".into(), strings(im.zones));
    if !im.zone_ids.is_empty() {
        let ids = im.zone_ids.into_iter().map(|(k, v)| (k, T::String(v)));
        out.insert("availability_zone_ids".into(), T::Table(ids.collect()));
    }
    for (k, v) in [
        ("vpcs", vpcs),
        ("subnets", subnets),
        ("instances", instances),
        ("network_interfaces", enis),
        ("nat_gateways", nats),
        ("internet_gateways", igws),
        ("prefix_lists", lists),
        ("route_tables", tables),
        ("security_groups", groups),
        ("network_acls", acls),
        ("peering_connections", tr.peering),
        ("vpn_gateways", tr.vgws),
        ("on_premises", tr.on_premises),
        ("vpn_connections", tr.vpn_connections),
        ("direct_connect_gateways", dx),
        ("transit_gateways", tr.tgws),
        ("transit_gateway_route_tables", tr.tables),
        ("transit_gateway_attachments", tr.attachments),
        ("hosted_zones", dns.zones),
        ("resolver_endpoints", dns.endpoints),
        ("resolver_rules", dns.rules),
        ("aws_services", vpc_endpoints.aws_services),
        ("load_balancers", load_balancers),
        ("target_groups", target_groups),
        ("endpoint_services", endpoint_services),
        ("endpoints", vpc_endpoints.tables),
        ("s3_buckets", buckets),
    ] {
        if !v.is_empty() {
            out.insert(k.into(), T::Array(v));
        }
    }
    let toml = format!(
        "# Imported by `vpcectl import aws` from {}.\n{}",
        dir.describe(),
        toml::to_string(&out).expect("a table serializes")
    );
    Ok(Imported {
        toml,
        warnings: im.warnings,
    })
}

/// The values of string field `key` in the tables `v`.
fn field(v: &[T], key: &str) -> BTreeSet<String> {
    v.iter()
        .filter_map(|x| x.get(key).and_then(T::as_str).map(str::to_string))
        .collect()
}

/// The region: as given, else the first subnet zone's without its letter, else us-east-1.
fn region_of(region: Option<&str>, zones: &BTreeSet<String>) -> String {
    region
        .map(str::to_string)
        .or_else(|| {
            zones.iter().next().map(|z| {
                z.trim_end_matches(|c: char| c.is_ascii_lowercase())
                    .to_string()
            })
        })
        .unwrap_or_else(|| "us-east-1".to_string())
}

/// What the EC2 part of the export established, for the parts that refer to it.
struct Seen<'a> {
    vpcs: vpc::VpcBlocks,
    subnets: vpc::SubnetCidrs,
    instances: BTreeSet<String>,
    enis: Option<&'a Doc>,
}

impl Seen<'_> {
    fn in_subnet(&self, subnet: &str, ip: &str) -> bool {
        self.subnets.get(subnet).is_some_and(|(net, _)| {
            ip.parse::<std::net::Ipv4Addr>()
                .is_ok_and(|a| net.contains(&a))
        })
    }

    fn zone(&self, subnet: &str) -> Option<&str> {
        self.subnets.get(subnet).map(|(_, z)| z.as_str())
    }

    fn in_vpc(&self, vpc: &str, ip: std::net::IpAddr) -> bool {
        self.vpcs
            .get(vpc)
            .is_some_and(|blocks| blocks.iter().any(|b| b.contains(&ip)))
    }
}
