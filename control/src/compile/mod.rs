//! The compiler: a validated configuration becomes one immutable [`Snapshot`] of lookup tables.
//!
//! Per route table, the *effective* routes are assembled the way AWS assembles them, then the
//! winner for every distinct prefix goes into an IPv4 and an IPv6 LPM table whose value is the
//! route's index in [`CompiledRouteTable::routes`]:
//!
//! 1. `local` for every CIDR of the VPC, unless the table routes that exact CIDR itself
//!    (AWS lets the local route's target be replaced by an ENI or a GWLB endpoint);
//! 2. the table's static routes;
//! 3. prefix-list routes, expanded to one route per list entry — written ones, and those that
//!    gateway endpoints associated with the table add (`pl-… -> vpce-…`);
//! 4. propagated routes.
//!
//! **Precedence** (the project's starting spec, `../shared/SPEC.md`, and current AWS
//! documentation): the longest prefix wins, whatever
//! the route's kind — a /15 from a prefix list beats a static 0.0.0.0/0, and a static /16
//! beats a prefix-list /8. Older AWS documentation said a static route beat an overlapping
//! prefix-list route regardless of length; we follow the current rule. Between routes for the
//! *same* prefix: local > static > prefix list > propagated (and among propagated ones, a
//! VPC's > a Direct Connect gateway's > a VPN's: [`PropagatedVia`]). Two prefix lists holding the same
//! CIDR with different targets: AWS picks one at random and sticks to it; we pick the lowest
//! prefix-list id, deterministically (and `validate` warns). Two propagated routes: the lowest
//! target id. Nothing may override `local` from a prefix list or propagation: such entries
//! inside the VPC's range are kept in the table's listing, marked ignored, and never installed.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;
use serde::Serialize;

use crate::diag::Diagnostic;
use crate::error::ConfigError;
use crate::load::LoadedConfig;
use crate::lpm::{Family, Lpm, Poptrie, Prefix, V4, V6};
use crate::model::*;
use crate::validate::validate;

pub mod transit;

/// The LPM engine of compiled route tables: [`Poptrie`], differentially tested against
/// [`crate::lpm::ReferenceLpm`]. Values are route indexes, so a table holds at most 65,535
/// effective routes (AWS allows 1,000 per table; a prefix list counts its max entries).
pub type Lpm4 = RouteLpm<V4>;
pub type Lpm6 = RouteLpm<V6>;

/// A route table's longest-prefix match, over any number of routes.
///
/// A [`Poptrie`] holds 16-bit values, and a route table's values are indices into its
/// effective routes: one trie serves a table of up to 65,534 winning routes — nearly every
/// table, at one lookup. A larger one (a full BGP table learned from on-premises or a transit
/// gateway: a million routes) is cut into slices of 65,534 winners in destination order, a
/// trie per slice holding local indices with the global index of each beside it; a lookup
/// asks every slice and keeps the longest match (the slices' prefixes are disjoint sets, so
/// the longest of their longest matches is the table's). A million routes: 16 lookups.
#[derive(Debug, Clone)]
pub struct RouteLpm<F: Family> {
    slices: Vec<(Poptrie<F>, Vec<u32>)>,
    /// Prefix length of each global route index in a sliced table (empty when unsliced).
    lens: Vec<u8>,
}

/// Winning routes one trie holds.
const SLICE: usize = 65_534;

impl<F: Family> RouteLpm<F> {
    /// `routes`: (prefix, global route index), distinct prefixes; `n` the table's route count.
    fn build(routes: &[(Prefix<F>, u32)], n: usize) -> Result<Self, String> {
        if routes.len() <= SLICE && n <= SLICE {
            return Ok(RouteLpm {
                slices: vec![(
                    Poptrie::build(routes).map_err(|e| e.to_string())?,
                    Vec::new(),
                )],
                lens: Vec::new(),
            });
        }
        let mut sorted = routes.to_vec();
        sorted.sort_unstable_by_key(|(p, _)| (p.bits(), p.len()));
        let mut lens = vec![0u8; n];
        for (p, i) in &sorted {
            lens[*i as usize] = p.len();
        }
        let slices = sorted
            .chunks(SLICE)
            .map(|chunk| {
                let local: Vec<(Prefix<F>, u32)> = chunk
                    .iter()
                    .enumerate()
                    .map(|(k, (p, _))| (*p, k as u32))
                    .collect();
                let global = chunk.iter().map(|(_, i)| *i).collect();
                Poptrie::build(&local)
                    .map(|t| (t, global))
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        Ok(RouteLpm { slices, lens })
    }

    /// Prefixes held.
    pub fn len(&self) -> usize {
        self.slices.iter().map(|(t, _)| t.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The index of the route for `addr`.
    #[inline]
    pub fn lookup(&self, addr: F::Addr) -> Option<u32> {
        if let [(trie, global)] = self.slices.as_slice() {
            if global.is_empty() {
                return trie.lookup(addr);
            }
        }
        self.slices
            .iter()
            .filter_map(|(trie, global)| trie.lookup(addr).map(|k| global[k as usize]))
            .max_by_key(|&i| self.lens[i as usize])
    }
}

/// Everything the dataplane and the CLI read, built from one configuration. Immutable:
/// a change is a new snapshot, published whole.
pub struct Snapshot {
    /// The configuration this snapshot was compiled from (prefix lists already filled).
    pub config: Arc<Config>,
    pub route_tables: Vec<CompiledRouteTable>,
    route_table_by_id: HashMap<String, usize>,
    /// The route table of every subnet: explicit association, else the VPC's main table.
    subnet_route_table: HashMap<String, usize>,
    /// Edge route table of a gateway (`igw-…`, `vgw-…`).
    gateway_route_table: HashMap<String, usize>,
    /// The security groups of every ENI, compiled.
    pub security: crate::secgroups::SecurityTables,
    /// The network ACLs, and which one each subnet has.
    pub nacls: crate::nacl::NetworkAcls,
    /// Transit gateway route tables and the attachments' associations.
    pub transit: transit::Transit,
    /// What the resolver of each VPC answers privately.
    pub dns: crate::dns::PrivateDns,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("route_tables", &self.route_tables.len())
            .finish_non_exhaustive()
    }
}

/// What a route sends traffic to, resolved to the kind of resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum RouteTarget {
    Local,
    Blackhole,
    InternetGateway(String),
    NatGateway(String),
    GatewayEndpoint(String),
    GatewayLoadBalancerEndpoint(String),
    NetworkInterface(String),
    PeeringConnection(String),
    VpnGateway(String),
    TransitGateway(String),
    /// In a transit gateway route table: an attachment (`tgw-attach-…`).
    TransitGatewayAttachment(String),
}

impl fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteTarget::Local => f.write_str("local"),
            RouteTarget::Blackhole => f.write_str("blackhole"),
            RouteTarget::InternetGateway(id)
            | RouteTarget::NatGateway(id)
            | RouteTarget::GatewayEndpoint(id)
            | RouteTarget::GatewayLoadBalancerEndpoint(id)
            | RouteTarget::NetworkInterface(id)
            | RouteTarget::PeeringConnection(id)
            | RouteTarget::VpnGateway(id)
            | RouteTarget::TransitGateway(id)
            | RouteTarget::TransitGatewayAttachment(id) => f.write_str(id),
        }
    }
}

/// How a route came to be, in precedence order (earlier wins for the same prefix).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RouteOrigin {
    /// The implicit route for a VPC CIDR (AWS origin `CreateRouteTable`).
    Local,
    /// A CIDR route written in the table (`routes[index]`); an explicit route replacing a
    /// local route is one of these.
    Static { index: usize },
    /// One entry of a prefix list routed by `routes[index]`, or by a gateway endpoint's
    /// association when `endpoint` is set.
    PrefixList {
        list: String,
        entry: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        #[serde(skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
    },
    /// Learned from a virtual private gateway (`routes[index]`, `propagated = true`).
    Propagated { index: usize },
    /// Propagated from `source`: in a transit gateway route table, an attachment (a VPC's, a
    /// Direct Connect gateway's or a VPN connection's: `via`); in a VPC route table, a virtual
    /// private gateway (`propagating_gateways`) bringing the on-premises prefixes of its VPN
    /// connections and of the Direct Connect gateway it is associated with.
    PropagatedFrom { source: String, via: PropagatedVia },
}

/// What a propagated route came over; for the same prefix the earlier wins (AWS, transit
/// gateway "Route evaluation order": VPC-propagated, then Direct Connect gateway-propagated,
/// then Site-to-Site VPN-propagated routes; for a VPC route table, "Route priority": Direct
/// Connect BGP routes before VPN routes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PropagatedVia {
    Vpc,
    DirectConnect,
    Vpn,
}

impl RouteOrigin {
    /// Precedence class; lower wins between routes of equal prefix length.
    pub fn precedence(&self) -> u8 {
        match self {
            RouteOrigin::Local => 0,
            RouteOrigin::Static { .. } => 1,
            RouteOrigin::PrefixList { .. } => 2,
            RouteOrigin::Propagated { .. } => 3,
            RouteOrigin::PropagatedFrom { via, .. } => 3 + *via as u8,
        }
    }

    pub fn class_name(&self) -> &'static str {
        match self {
            RouteOrigin::Local => "local",
            RouteOrigin::Static { .. } => "static",
            RouteOrigin::PrefixList { .. } => "prefix list",
            RouteOrigin::Propagated { .. } | RouteOrigin::PropagatedFrom { .. } => "propagated",
        }
    }
}

/// Whether a route carries traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RouteState {
    /// Installed: the best route for its prefix.
    Active,
    /// Another route for the same prefix takes precedence (index into `routes`).
    Shadowed { by: usize },
    /// Never installed; the reason says why (e.g. it would override `local`).
    Ignored { reason: String },
}

/// One effective route of a table.
#[derive(Debug, Clone, Serialize)]
pub struct EffectiveRoute {
    pub destination: IpNet,
    pub target: RouteTarget,
    pub origin: RouteOrigin,
    pub state: RouteState,
}

impl EffectiveRoute {
    /// AWS's route status: `blackhole` for blackhole targets, else `active`.
    pub fn status(&self) -> &'static str {
        if self.target == RouteTarget::Blackhole {
            "blackhole"
        } else {
            "active"
        }
    }

    /// The destination as the table lists it: the CIDR, or `pl-… (cidr)` for a list entry.
    pub fn destination_label(&self) -> String {
        match &self.origin {
            RouteOrigin::PrefixList { list, .. } => format!("{list} ({})", self.destination),
            _ => self.destination.to_string(),
        }
    }
}

/// A route table ready for lookups.
#[derive(Debug)]
pub struct CompiledRouteTable {
    pub id: String,
    pub vpc: String,
    /// Associated with a gateway (ingress routing).
    pub edge: bool,
    /// Every effective route, active or not, sorted by destination then precedence.
    pub routes: Vec<EffectiveRoute>,
    v4: Lpm4,
    v6: Lpm6,
}

/// The answer to "where does this table send `address`, and why".
#[derive(Debug, Clone, Serialize)]
pub struct RouteExplanation {
    pub route_table: String,
    pub address: IpAddr,
    /// Index into `routes` of the winner, if any route matches.
    pub winner: Option<usize>,
    /// Every route whose destination contains the address, winner first, then in the order
    /// they lose (longer prefixes first, then precedence).
    pub candidates: Vec<usize>,
    /// One sentence: why the winner won, or that nothing matched.
    pub reason: String,
}

impl CompiledRouteTable {
    /// The route that carries traffic to `addr` (the hot-path lookup).
    pub fn lookup(&self, addr: IpAddr) -> Option<&EffectiveRoute> {
        let i = match addr {
            IpAddr::V4(a) => self.v4.lookup(a),
            IpAddr::V6(a) => self.v6.lookup(a),
        }?;
        Some(&self.routes[i as usize])
    }

    /// Index into [`Self::routes`] of the route for `addr`: what the dataplane resolves its
    /// per-route actions by.
    #[inline]
    pub fn lookup_index(&self, addr: IpAddr) -> Option<usize> {
        match addr {
            IpAddr::V4(a) => self.v4.lookup(a),
            IpAddr::V6(a) => self.v6.lookup(a),
        }
        .map(|i| i as usize)
    }

    pub fn lookup_v4(&self, addr: Ipv4Addr) -> Option<&EffectiveRoute> {
        self.v4.lookup(addr).map(|i| &self.routes[i as usize])
    }

    pub fn lookup_v6(&self, addr: Ipv6Addr) -> Option<&EffectiveRoute> {
        self.v6.lookup(addr).map(|i| &self.routes[i as usize])
    }

    /// The winning route for `addr` with every competing route and the reason it won. Not for
    /// the hot path: it scans all routes to list the losers.
    pub fn explain(&self, config: &Config, addr: IpAddr) -> RouteExplanation {
        let winner = match addr {
            IpAddr::V4(a) => self.v4.lookup(a),
            IpAddr::V6(a) => self.v6.lookup(a),
        }
        .map(|i| i as usize);
        let mut candidates: Vec<usize> = (0..self.routes.len())
            .filter(|&i| self.routes[i].destination.contains(&addr))
            .collect();
        candidates.sort_by_key(|&i| {
            let r = &self.routes[i];
            (
                Some(i) != winner,
                std::cmp::Reverse(r.destination.prefix_len()),
                matches!(r.state, RouteState::Ignored { .. }),
                r.origin.precedence(),
                i,
            )
        });
        let reason = match winner {
            None => format!(
                "no route in {} covers {addr}: the packet is dropped (no route to destination)",
                self.id
            ),
            Some(w) => self.reason(config, w, &candidates),
        };
        RouteExplanation {
            route_table: self.id.clone(),
            address: addr,
            winner,
            candidates,
            reason,
        }
    }

    fn reason(&self, config: &Config, w: usize, candidates: &[usize]) -> String {
        let r = &self.routes[w];
        let len = r.destination.prefix_len();
        let what = match &r.origin {
            RouteOrigin::Local => format!("{} (the local route of {})", r.destination, self.vpc),
            RouteOrigin::Static { index } => {
                format!("{} (static route routes[{index}])", r.destination)
            }
            RouteOrigin::PrefixList {
                list,
                entry,
                endpoint,
                index,
            } => {
                let name = config
                    .prefix_lists
                    .iter()
                    .find(|p| &p.id == list)
                    .map(|p| format!(" \"{}\"", p.name))
                    .unwrap_or_default();
                let via = match (endpoint, index) {
                    (Some(e), _) => format!(
                        ", routed by gateway endpoint {e} through its association with this table"
                    ),
                    (None, Some(i)) => format!(", routed by routes[{i}]"),
                    (None, None) => String::new(),
                };
                format!(
                    "{} (entry {entry} of prefix list {list}{name}{via})",
                    r.destination
                )
            }
            RouteOrigin::Propagated { index } => {
                format!("{} (propagated route routes[{index}])", r.destination)
            }
            RouteOrigin::PropagatedFrom { source, .. } => {
                format!("{} (propagated from {source})", r.destination)
            }
        };
        let mut s = format!("{what} is the longest matching prefix (/{len})");
        let losers: Vec<&EffectiveRoute> = candidates
            .iter()
            .filter(|&&i| i != w)
            .map(|&i| &self.routes[i])
            .collect();
        let equal: Vec<&&EffectiveRoute> = losers
            .iter()
            .filter(|l| l.destination.prefix_len() == len)
            .filter(|l| !matches!(l.state, RouteState::Ignored { .. }))
            .collect();
        if !equal.is_empty() {
            let names: Vec<String> = equal
                .iter()
                .map(|l| format!("{} route to {}", l.origin.class_name(), l.target))
                .collect();
            let rule = if equal
                .iter()
                .all(|l| l.origin.precedence() == r.origin.precedence())
            {
                match r.origin {
                    RouteOrigin::PrefixList { .. } => "the lowest prefix-list id wins a tie",
                    _ => "the lowest target id wins a tie",
                }
            } else if matches!(r.origin, RouteOrigin::PropagatedFrom { .. })
                && equal
                    .iter()
                    .all(|l| matches!(l.origin, RouteOrigin::PropagatedFrom { .. }))
            {
                "between propagated routes of equal length a VPC's beats a Direct Connect gateway's, which beats a VPN's"
            } else {
                "at equal length local > static > prefix list > propagated"
            };
            s.push_str(&format!(
                "; it wins over the {} of the same length because {rule}",
                names.join(", ")
            ));
        }
        let shorter: Vec<String> = losers
            .iter()
            .filter(|l| {
                l.destination.prefix_len() < len && !matches!(l.state, RouteState::Ignored { .. })
            })
            .map(|l| format!("{} -> {}", l.destination_label(), l.target))
            .collect();
        if !shorter.is_empty() {
            s.push_str(&format!("; it beats the shorter {}", shorter.join(", ")));
        }
        s
    }

    pub fn v4_len(&self) -> usize {
        self.v4.len()
    }
    pub fn v6_len(&self) -> usize {
        self.v6.len()
    }
}

impl Snapshot {
    pub fn route_table(&self, id: &str) -> Option<&CompiledRouteTable> {
        self.route_table_by_id
            .get(id)
            .map(|&i| &self.route_tables[i])
    }

    /// The route table a subnet uses (explicit association, else its VPC's main table).
    pub fn subnet_route_table(&self, subnet: &str) -> Option<&CompiledRouteTable> {
        self.subnet_route_table
            .get(subnet)
            .map(|&i| &self.route_tables[i])
    }

    /// The edge route table of a gateway, if it has one.
    pub fn gateway_route_table(&self, gateway: &str) -> Option<&CompiledRouteTable> {
        self.gateway_route_table
            .get(gateway)
            .map(|&i| &self.route_tables[i])
    }

    /// Subnets whose traffic a route table carries (explicitly or as main table).
    pub fn subnets_using(&self, route_table: &str) -> Vec<&str> {
        let Some(&t) = self.route_table_by_id.get(route_table) else {
            return Vec::new();
        };
        let mut v: Vec<&str> = self
            .subnet_route_table
            .iter()
            .filter(|(_, &i)| i == t)
            .map(|(s, _)| s.as_str())
            .collect();
        v.sort();
        v
    }
}

/// A snapshot and the warnings validation found while accepting it.
#[derive(Debug)]
pub struct Compiled {
    pub snapshot: Snapshot,
    pub warnings: Vec<Diagnostic>,
}

/// Validates and compiles. Any validation error rejects the configuration whole.
pub fn compile(loaded: &LoadedConfig) -> Result<Compiled, ConfigError> {
    let report = validate(loaded);
    if report.has_errors() {
        return Err(ConfigError::Invalid {
            diagnostics: report.diagnostics,
        });
    }
    let config = &loaded.config;
    let mut route_tables = Vec::with_capacity(config.route_tables.len());
    for rt in &config.route_tables {
        route_tables.push(compile_route_table(config, rt).map_err(|message| {
            ConfigError::Invalid {
                diagnostics: vec![loaded.diagnostic(
                    crate::diag::Severity::Error,
                    format!("route table {}", rt.id),
                    &crate::path!["route_tables"],
                    message,
                    None,
                )],
            }
        })?);
    }
    let transit = transit::Transit::compile(config).map_err(|message| ConfigError::Invalid {
        diagnostics: vec![loaded.diagnostic(
            crate::diag::Severity::Error,
            "transit gateway route tables".to_string(),
            &crate::path!["transit_gateway_route_tables"],
            message,
            None,
        )],
    })?;
    let route_table_by_id: HashMap<String, usize> = config
        .route_tables
        .iter()
        .enumerate()
        .map(|(i, rt)| (rt.id.clone(), i))
        .collect();
    let mut subnet_route_table = HashMap::new();
    let mut gateway_route_table = HashMap::new();
    for (i, rt) in config.route_tables.iter().enumerate() {
        for s in &rt.subnets {
            subnet_route_table.insert(s.clone(), i);
        }
        for g in &rt.gateways {
            gateway_route_table.insert(g.clone(), i);
        }
    }
    for s in &config.subnets {
        if !subnet_route_table.contains_key(&s.id) {
            if let Some(i) = config
                .route_tables
                .iter()
                .position(|rt| rt.main && rt.vpc == s.vpc)
            {
                subnet_route_table.insert(s.id.clone(), i);
            }
        }
    }
    Ok(Compiled {
        snapshot: Snapshot {
            config: Arc::new(config.clone()),
            route_tables,
            route_table_by_id,
            subnet_route_table,
            gateway_route_table,
            security: crate::secgroups::SecurityTables::compile(config),
            nacls: crate::nacl::NetworkAcls::compile(config),
            transit,
            dns: crate::dns::PrivateDns::compile(config),
        },
        warnings: report.diagnostics,
    })
}

/// Resolves a route's target string (validated) to its kind.
fn resolve_target(config: &Config, target: &str) -> Result<RouteTarget, String> {
    let t = TargetRef::parse(target)?;
    Ok(match t {
        TargetRef::Local => RouteTarget::Local,
        TargetRef::Blackhole => RouteTarget::Blackhole,
        TargetRef::InternetGateway(id) => RouteTarget::InternetGateway(id.into()),
        TargetRef::NatGateway(id) => RouteTarget::NatGateway(id.into()),
        TargetRef::NetworkInterface(id) => RouteTarget::NetworkInterface(id.into()),
        TargetRef::PeeringConnection(id) => RouteTarget::PeeringConnection(id.into()),
        TargetRef::VpnGateway(id) => RouteTarget::VpnGateway(id.into()),
        TargetRef::TransitGateway(id) => RouteTarget::TransitGateway(id.into()),
        TargetRef::Endpoint(id) => match config.endpoints.iter().find(|e| e.id == id) {
            Some(e) if e.endpoint_type == EndpointType::Gateway => {
                RouteTarget::GatewayEndpoint(id.into())
            }
            Some(_) => RouteTarget::GatewayLoadBalancerEndpoint(id.into()),
            None => return Err(format!("no endpoint {id}")),
        },
    })
}

/// A prefix-list route before expansion: the list, the target, the index of the written
/// route (none for a gateway endpoint's own routes) and the gateway endpoint it stands for.
pub(crate) type ListRoute = (String, RouteTarget, Option<usize>, Option<String>);

pub(crate) fn route(
    destination: IpNet,
    target: RouteTarget,
    origin: RouteOrigin,
    state: RouteState,
) -> EffectiveRoute {
    EffectiveRoute {
        destination,
        target,
        origin,
        state,
    }
}

/// Active, or ignored with `reason` when `net` lies inside the VPC's own networks (nothing
/// but a written route of the exact CIDR overrides local).
fn unless_local(vpc_nets: &[IpNet], net: &IpNet, reason: &str) -> RouteState {
    if vpc_nets.iter().any(|v| v.contains(net)) {
        RouteState::Ignored {
            reason: reason.into(),
        }
    } else {
        RouteState::Active
    }
}

fn compile_route_table(config: &Config, rt: &RouteTable) -> Result<CompiledRouteTable, String> {
    let vpc = config
        .vpcs
        .iter()
        .find(|v| v.id == rt.vpc)
        .ok_or_else(|| format!("no VPC {}", rt.vpc))?;
    let vpc_nets: Vec<IpNet> = vpc.networks();
    let mut routes = local_routes(rt, &vpc_nets);
    let mut list_routes = written_routes(config, rt, &vpc_nets, &mut routes)?;
    propagated_routes(config, rt, &vpc_nets, &mut routes);
    list_routes.extend(gateway_endpoint_routes(config, rt)?);
    expand_prefix_lists(config, list_routes, &vpc_nets, &mut routes)?;
    finish_table(&rt.id, &rt.vpc, !rt.gateways.is_empty(), routes)
}

/// Ranks a table's effective routes and builds its LPM over the winners. `owner`: the VPC (or
/// the transit gateway) the table belongs to.
pub(crate) fn finish_table(
    id: &str,
    owner: &str,
    edge: bool,
    mut routes: Vec<EffectiveRoute>,
) -> Result<CompiledRouteTable, String> {
    let winners = rank(&mut routes);
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for &(net, i) in &winners {
        let i = u32::try_from(i).map_err(|_| "too many routes".to_string())?;
        match net {
            IpNet::V4(n) => v4.push((Prefix::<V4>::new(n.network(), n.prefix_len()), i)),
            IpNet::V6(n) => v6.push((Prefix::<V6>::new(n.network(), n.prefix_len()), i)),
        }
    }
    let routes_len = routes.len();
    Ok(CompiledRouteTable {
        id: id.to_string(),
        vpc: owner.to_string(),
        edge,
        routes,
        v4: Lpm4::build(&v4, routes_len)?,
        v6: Lpm6::build(&v6, routes_len)?,
    })
}

/// Step 1: local, for each of the VPC's networks, unless the table routes that exact CIDR itself.
fn local_routes(rt: &RouteTable, vpc_nets: &[IpNet]) -> Vec<EffectiveRoute> {
    let mut routes = Vec::new();
    for net in vpc_nets {
        let written = rt.routes.iter().any(|r| {
            matches!(DestinationRef::parse(&r.destination), Ok(DestinationRef::Cidr(c)) if c.0 == *net)
        });
        if !written {
            routes.push(route(
                *net,
                RouteTarget::Local,
                RouteOrigin::Local,
                RouteState::Active,
            ));
        }
    }
    routes
}

/// Step 2: the written routes to CIDRs (static and propagated); returns those to prefix lists,
/// expanded later.
fn written_routes(
    config: &Config,
    rt: &RouteTable,
    vpc_nets: &[IpNet],
    routes: &mut Vec<EffectiveRoute>,
) -> Result<Vec<ListRoute>, String> {
    let mut list_routes = Vec::new();
    for (index, r) in rt.routes.iter().enumerate() {
        let target = resolve_target(config, &r.target)?;
        match DestinationRef::parse(&r.destination)? {
            DestinationRef::Cidr(c) => {
                let (origin, state) = if r.propagated {
                    let state =
                        unless_local(vpc_nets, &c.0, "a propagated route never overrides local");
                    (RouteOrigin::Propagated { index }, state)
                } else if target == RouteTarget::Local {
                    (RouteOrigin::Local, RouteState::Active)
                } else {
                    (RouteOrigin::Static { index }, RouteState::Active)
                };
                routes.push(route(c.0, target, origin, state));
            }
            DestinationRef::PrefixList(id) => {
                list_routes.push((id.to_string(), target, Some(index), None));
            }
        }
    }
    Ok(list_routes)
}

/// Step 2b: route propagation from virtual private gateways: the on-premises prefixes of each
/// VPN connection and of the Direct Connect gateway associated with the gateway.
fn propagated_routes(
    config: &Config,
    rt: &RouteTable,
    vpc_nets: &[IpNet],
    routes: &mut Vec<EffectiveRoute>,
) {
    let on_prem = |id: &String| config.on_premises.iter().find(|o| &o.id == id);
    for g in &rt.propagating_gateways {
        let vpn = config
            .vpn_connections
            .iter()
            .filter(|v| v.vpn_gateway.as_ref() == Some(g))
            .filter_map(|v| on_prem(&v.on_premises))
            .map(|o| (o, PropagatedVia::Vpn));
        let dx = config
            .direct_connect_gateways
            .iter()
            .filter(|d| d.associations.iter().any(|a| &a.gateway == g))
            .flat_map(|d| d.on_premises.iter().filter_map(on_prem))
            .map(|o| (o, PropagatedVia::DirectConnect));
        let networks = vpn
            .chain(dx)
            .flat_map(|(o, via)| o.cidrs.iter().map(move |c| (c.0, via)));
        for (net, via) in networks {
            let state = unless_local(vpc_nets, &net, "a propagated route never overrides local");
            let origin = RouteOrigin::PropagatedFrom {
                source: g.clone(),
                via,
            };
            routes.push(route(
                net,
                RouteTarget::VpnGateway(g.clone()),
                origin,
                state,
            ));
        }
    }
}

/// Step 3: the gateway endpoints associated with this table: a route to each prefix list of
/// their service.
fn gateway_endpoint_routes(config: &Config, rt: &RouteTable) -> Result<Vec<ListRoute>, String> {
    let mut list_routes = Vec::new();
    for e in config
        .endpoints
        .iter()
        .filter(|e| e.endpoint_type == EndpointType::Gateway && e.route_tables.contains(&rt.id))
    {
        let svc = config
            .aws_services
            .iter()
            .find(|s| s.name == e.service)
            .ok_or_else(|| format!("gateway endpoint {} has no service", e.id))?;
        for pl_id in svc.gateway_prefix_lists() {
            list_routes.push((
                pl_id.to_string(),
                RouteTarget::GatewayEndpoint(e.id.clone()),
                None,
                Some(e.id.clone()),
            ));
        }
    }
    Ok(list_routes)
}

/// Step 4: every prefix-list route, one route per entry.
pub(crate) fn expand_prefix_lists(
    config: &Config,
    list_routes: Vec<ListRoute>,
    vpc_nets: &[IpNet],
    routes: &mut Vec<EffectiveRoute>,
) -> Result<(), String> {
    for (id, target, index, endpoint) in list_routes {
        let pl = config
            .prefix_lists
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(|| format!("no prefix list {id}"))?;
        for (entry, e) in pl.entries.iter().enumerate() {
            let net = e.cidr().0;
            let state = unless_local(vpc_nets, &net, "a prefix-list entry never overrides local");
            let origin = RouteOrigin::PrefixList {
                list: id.clone(),
                entry,
                index,
                endpoint: endpoint.clone(),
            };
            routes.push(route(net, target.clone(), origin, state));
        }
    }
    Ok(())
}

/// Orders the routes by destination, then precedence, then the deterministic tie-break;
/// the first active route of each destination wins and shadows the rest. Returns each
/// destination with its winner's index.
fn rank(routes: &mut [EffectiveRoute]) -> Vec<(IpNet, usize)> {
    routes.sort_by(|a, b| {
        let key = |r: &EffectiveRoute| {
            let tie = match &r.origin {
                RouteOrigin::PrefixList { list, .. } => list.clone(),
                _ => r.target.to_string(),
            };
            (
                matches!(r.state, RouteState::Ignored { .. }),
                r.origin.precedence(),
                tie,
            )
        };
        (a.destination.addr(), a.destination.prefix_len())
            .cmp(&(b.destination.addr(), b.destination.prefix_len()))
            .then_with(|| key(a).cmp(&key(b)))
    });
    // Routes of one destination are adjacent, active ones first (the sort above).
    let mut winners: Vec<(IpNet, usize)> = Vec::new();
    for (i, r) in routes.iter_mut().enumerate() {
        if matches!(r.state, RouteState::Ignored { .. }) {
            continue;
        }
        match winners.last() {
            Some(&(d, w)) if d == r.destination => r.state = RouteState::Shadowed { by: w },
            _ => winners.push((r.destination, i)),
        }
    }
    winners
}

#[cfg(test)]
mod route_lpm_tests {
    use super::*;
    use crate::lpm::ReferenceLpm;

    /// A table past one trie's 65,534 values: sliced, and every lookup agrees with the
    /// reference LPM (random prefixes nested at every length, random addresses and the edges
    /// of every prefix).
    #[test]
    fn sliced_tables_match_the_reference() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut seen = std::collections::HashSet::new();
        let mut routes: Vec<(Prefix<V4>, u32)> = Vec::new();
        while routes.len() < 150_000 {
            let r = next();
            let len = 8 + (r % 25) as u8;
            let p = Prefix::<V4>::new(Ipv4Addr::from((r >> 32) as u32), len);
            if seen.insert(p) {
                routes.push((p, routes.len() as u32));
            }
        }
        let sliced = RouteLpm::<V4>::build(&routes, routes.len()).unwrap();
        assert!(sliced.slices.len() >= 3);
        assert_eq!(sliced.len(), routes.len());
        let reference = ReferenceLpm::<V4>::build(&routes).unwrap();
        let mut probes: Vec<Ipv4Addr> = (0..200_000)
            .map(|_| Ipv4Addr::from(next() as u32))
            .collect();
        for (p, _) in routes.iter().take(20_000) {
            let lo = u32::from(p.addr());
            let hi = lo | u32::MAX.checked_shr(u32::from(p.len())).unwrap_or(0);
            probes.extend([Ipv4Addr::from(lo), Ipv4Addr::from(hi)]);
        }
        for a in probes {
            assert_eq!(sliced.lookup(a), reference.lookup(a), "{a}");
        }
        // Small tables stay one trie.
        let small = RouteLpm::<V4>::build(&routes[..1000], 1000).unwrap();
        assert_eq!(small.slices.len(), 1);
    }
}
