//! Route tables: associations, and every route's destination and target.

use super::*;

/// A prefix-list route of a table (written, or from a gateway endpoint): list id, target,
/// where — for the overlap warning.
type PrefixListRoute<'a> = (&'a str, String, FieldPath);

/// The table whose routes are being checked, and the VPC ranges its rules compare with.
struct TableCtx<'a> {
    ent: String,
    base: FieldPath,
    rt: &'a RouteTable,
    /// An edge (gateway) route table.
    edge: bool,
    vpc: &'a Vpc,
    vpc_nets: Vec<IpNet>,
    subnet_nets: Vec<IpNet>,
}

impl<'a> Validator<'a> {
    pub(super) fn check_route_tables(&mut self) {
        let c = self.c;
        let mut subnet_table: HashMap<&str, &str> = HashMap::new();
        let mut gateway_table: HashMap<&str, &str> = HashMap::new();
        let mut main_of: HashMap<&str, &str> = HashMap::new();
        for (i, rt) in c.route_tables.iter().enumerate() {
            let ent = entity(Collection::RouteTables, &rt.id);
            let base = path![Collection::RouteTables, i];
            if !self.require(&ent, base.at("vpc"), &rt.vpc, Collection::Vpcs) {
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
                if !self.require(&ent, p.clone(), s, Collection::Subnets) {
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
                    self.require(&ent, p.clone(), g, Collection::VpnGateways)
                        .then(|| {
                            c.vpn_gateways[self.def(g, Collection::VpnGateways).unwrap()]
                                .vpc
                                .as_str()
                        })
                } else {
                    self.require(&ent, p.clone(), g, Collection::InternetGateways)
                        .then(|| {
                            c.internet_gateways[self.def(g, Collection::InternetGateways).unwrap()]
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
                entity(Collection::Subnets, &s.id),
                path![Collection::Subnets, i],
                "the subnet has no route table",
                Some(format!(
                    "add it to a route table's subnets, or mark one of {}'s tables main = true",
                    s.vpc
                )),
            );
        }
    }

    /// The routes of table `rt` (number `i`) of `vpc`: each destination and target, the
    /// routes gateway endpoints add, and prefix lists that overlap with different targets.
    pub(super) fn check_routes(&mut self, i: usize, rt: &'a RouteTable, vpc: &'a Vpc) {
        let t = TableCtx {
            ent: entity(Collection::RouteTables, &rt.id),
            base: path![Collection::RouteTables, i],
            rt,
            edge: !rt.gateways.is_empty(),
            vpc,
            vpc_nets: vpc.networks(),
            subnet_nets: self
                .c
                .subnets
                .iter()
                .filter(|s| s.vpc == vpc.id)
                .flat_map(|s| {
                    std::iter::once(IpNet::V4(s.cidr.0)).chain(s.ipv6_cidr.map(|c| IpNet::V6(c.0)))
                })
                .collect(),
        };
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut pl_routes: Vec<PrefixListRoute<'a>> = Vec::new();
        for (k, r) in rt.routes.iter().enumerate() {
            self.check_route(&t, k, r, &mut seen, &mut pl_routes);
        }
        self.check_endpoint_routes(&t, &seen, &mut pl_routes);
        self.check_prefix_list_overlaps(&t.ent, &pl_routes);
    }

    /// One route: its destination and target parse, are not written twice, and obey the
    /// rules of their kind.
    fn check_route(
        &mut self,
        t: &TableCtx<'a>,
        k: usize,
        r: &'a Route,
        seen: &mut HashMap<String, usize>,
        pl_routes: &mut Vec<PrefixListRoute<'a>>,
    ) {
        let rp = t.base.at("routes").at(k);
        let dest = match DestinationRef::parse(&r.destination) {
            Ok(d) => Some(d),
            Err(e) => {
                self.err(t.ent.clone(), rp.at("destination"), e, None);
                None
            }
        };
        let target = match TargetRef::parse(&r.target) {
            Ok(t) => Some(t),
            Err(e) => {
                let help = Some(format!("allowed targets: {TARGET_FORMS}"));
                self.err(t.ent.clone(), rp.at("target"), e, help);
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
        if let Some(prev) = seen.insert(key, k) {
            self.err(
                t.ent.clone(),
                rp.at("destination"),
                format!("routes[{prev}] already has destination {dest_key}"),
                Some("a route table has one route per destination".into()),
            );
        }
        let dest_family_v4 = match dest {
            Some(DestinationRef::PrefixList(pl)) => {
                self.check_prefix_list_destination(t, &rp, r, pl, target.as_ref(), pl_routes)
            }
            Some(DestinationRef::Cidr(cidr)) => {
                self.check_cidr_destination(t, &rp, r, cidr, target.as_ref());
                Some(cidr.is_ipv4())
            }
            None => None,
        };
        if let Some(target) = target {
            self.check_target(t, &rp, r, target, dest_family_v4);
        }
    }

    /// A prefix-list destination; returns its family (IPv4: true) when the list exists.
    fn check_prefix_list_destination(
        &mut self,
        t: &TableCtx<'a>,
        rp: &FieldPath,
        r: &'a Route,
        pl: &'a str,
        target: Option<&TargetRef<'a>>,
        pl_routes: &mut Vec<PrefixListRoute<'a>>,
    ) -> Option<bool> {
        if t.edge {
            self.err(
                t.ent.clone(),
                rp.at("destination"),
                "an edge route table takes whole VPC or subnet CIDRs, not prefix lists",
                None,
            );
        }
        if !self.require(&t.ent, rp.at("destination"), pl, Collection::PrefixLists) {
            return None;
        }
        let list = self.prefix_list(pl).unwrap();
        if let Some(target) = target {
            let to = target.id().unwrap_or(&r.target).to_string();
            pl_routes.push((pl, to, rp.clone()));
        }
        if r.propagated {
            self.err(
                t.ent.clone(),
                rp.at("propagated"),
                "propagated routes have CIDR destinations",
                None,
            );
        }
        Some(list.address_family == AddressFamily::IPv4)
    }

    /// A CIDR destination against the VPC's local range, the subnets and edge-table rules.
    fn check_cidr_destination(
        &mut self,
        t: &TableCtx<'a>,
        rp: &FieldPath,
        r: &Route,
        cidr: Cidr,
        target: Option<&TargetRef<'a>>,
    ) {
        let (ent, vpc) = (&t.ent, t.vpc);
        let net = cidr.0;
        let equal_vpc = t.vpc_nets.contains(&net);
        let inside_vpc = t.vpc_nets.iter().any(|v| v.contains(&net) && *v != net);
        let a_subnet = t.subnet_nets.contains(&net);
        if t.edge && !(equal_vpc || a_subnet) {
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
            self.warn(
                ent.clone(),
                rp.at("destination"),
                format!(
                    "propagated route {net} is inside {}'s local range and never takes effect",
                    vpc.id
                ),
                Some("a propagated route cannot override local".into()),
            );
        } else if inside_vpc && !t.edge && !a_subnet {
            self.err(
                ent.clone(),
                rp.at("destination"),
                format!(
                    "{net} is more specific than the local route of {} but is not a subnet's CIDR",
                    vpc.id
                ),
                Some("a route inside the VPC's range must match a whole subnet CIDR".into()),
            );
        }
        if target == Some(&TargetRef::Local) && !equal_vpc && !(t.edge && a_subnet) {
            let cidrs: Vec<String> = t.vpc_nets.iter().map(|n| n.to_string()).collect();
            self.err(
                ent.clone(),
                rp.at("target"),
                format!("target local is for the VPC's own CIDRs, not {net}"),
                Some(format!("{}'s CIDRs: {}", vpc.id, cidrs.join(", "))),
            );
        }
        let vpc_target = matches!(
            target,
            Some(TargetRef::Local | TargetRef::NetworkInterface(_) | TargetRef::Endpoint(_)) | None
        );
        if equal_vpc && !vpc_target {
            self.err(ent.clone(), rp.at("target"), format!("the route for the VPC CIDR {net} can only target local, an ENI or a Gateway Load Balancer endpoint"), None);
        }
    }

    /// A route's target: propagation only from a virtual private gateway, what an edge table
    /// takes, and the target existing in (or, for peering, touching) the table's VPC.
    fn check_target(
        &mut self,
        t: &TableCtx<'a>,
        rp: &FieldPath,
        r: &Route,
        target: TargetRef<'a>,
        dest_family_v4: Option<bool>,
    ) {
        let ent = &t.ent;
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
        let edge_target = matches!(
            target,
            TargetRef::Local | TargetRef::Endpoint(_) | TargetRef::NetworkInterface(_)
        );
        if t.edge && !edge_target {
            self.err(ent.clone(), rp.at("target"), format!("an edge route table cannot target {}", r.target), Some("edge route tables take only local, Gateway Load Balancer endpoint (vpce-…) or network interface (eni-…) targets".into()));
            return;
        }
        let tp = rp.at("target");
        let vpc = &t.vpc.id;
        let c = self.c;
        match target {
            TargetRef::Local | TargetRef::Blackhole => {}
            TargetRef::InternetGateway(id) => {
                if self.require(ent, tp.clone(), id, Collection::InternetGateways) {
                    let g =
                        &c.internet_gateways[self.def(id, Collection::InternetGateways).unwrap()];
                    let what = format!("internet gateway {id}");
                    self.require_same_vpc(ent, tp, &what, &g.vpc, vpc);
                }
            }
            TargetRef::VpnGateway(id) => {
                if self.require(ent, tp.clone(), id, Collection::VpnGateways) {
                    let g = &c.vpn_gateways[self.def(id, Collection::VpnGateways).unwrap()];
                    let what = format!("virtual private gateway {id}");
                    self.require_same_vpc(ent, tp, &what, &g.vpc, vpc);
                }
            }
            TargetRef::NatGateway(id) => self.check_nat_target(t, tp, id, dest_family_v4),
            TargetRef::PeeringConnection(id) => {
                if self.require(ent, tp.clone(), id, Collection::PeeringConnections) {
                    let p = &c.peering_connections
                        [self.def(id, Collection::PeeringConnections).unwrap()];
                    if p.requester_vpc != *vpc && p.accepter_vpc != *vpc {
                        let msg = format!(
                            "peering connection {id} joins {} and {}, not {vpc}",
                            p.requester_vpc, p.accepter_vpc
                        );
                        self.err(ent.clone(), tp, msg, None);
                    }
                }
            }
            TargetRef::NetworkInterface(id) => self.check_eni_target(t, tp, id),
            TargetRef::Endpoint(id) => self.check_endpoint_target(t, tp, id),
            TargetRef::TransitGateway(id) => {
                if self.require(ent, tp.clone(), id, Collection::TransitGateways) {
                    let attached = c
                        .transit_gateway_attachments
                        .iter()
                        .any(|a| a.transit_gateway == id && a.vpc.as_deref() == Some(vpc.as_str()));
                    if !attached {
                        self.err(
                            ent.clone(),
                            tp,
                            format!("transit gateway {id} has no attachment to {vpc}"),
                            Some("add a [[transit_gateway_attachments]] entry of type \"vpc\" for this VPC".into()),
                        );
                    }
                }
            }
        }
    }

    fn check_nat_target(
        &mut self,
        t: &TableCtx<'a>,
        tp: FieldPath,
        id: &str,
        dest_family_v4: Option<bool>,
    ) {
        if !self.require(&t.ent, tp.clone(), id, Collection::NatGateways) {
            return;
        }
        let n = &self.c.nat_gateways[self.def(id, Collection::NatGateways).unwrap()];
        if let Some(s) = self.subnet(&n.subnet) {
            let what = format!("NAT gateway {id}");
            self.require_same_vpc(&t.ent, tp.clone(), &what, &s.vpc, &t.vpc.id);
        }
        if dest_family_v4 == Some(false) {
            self.err(t.ent.clone(), tp, "a NAT gateway route is IPv4", None);
        }
    }

    fn check_eni_target(&mut self, t: &TableCtx<'a>, tp: FieldPath, id: &str) {
        match self.enis.get(id) {
            Some((v, _)) => {
                let v = v.to_string();
                let what = format!("network interface {id}");
                self.require_same_vpc(&t.ent, tp, &what, &v, &t.vpc.id);
            }
            None => {
                let mut ids: Vec<&str> = self.enis.keys().map(String::as_str).collect();
                ids.sort();
                self.err(
                    t.ent.clone(),
                    tp,
                    format!("no network interface `{id}` in this file"),
                    Some(known("network interfaces", ids.into_iter())),
                );
            }
        }
    }

    /// Only Gateway Load Balancer endpoints are route targets.
    fn check_endpoint_target(&mut self, t: &TableCtx<'a>, tp: FieldPath, id: &str) {
        if !self.require(&t.ent, tp.clone(), id, Collection::Endpoints) {
            return;
        }
        let e = self.endpoint(id).unwrap();
        let ent = t.ent.clone();
        match e.endpoint_type {
            EndpointType::Gateway => self.err(
                ent,
                tp,
                format!("{id} is a gateway endpoint; its routes come from the endpoint's route_tables, not from a route"),
                Some(format!("remove this route and add \"{}\" to route_tables of endpoint {id}", t.rt.id)),
            ),
            EndpointType::Interface => self.err(
                ent,
                tp,
                format!("{id} is an interface endpoint; only Gateway Load Balancer endpoints are route targets"),
                Some("traffic reaches an interface endpoint by its ENI addresses (private DNS), not by a route".into()),
            ),
            EndpointType::GatewayLoadBalancer => {
                self.require_same_vpc(&ent, tp, &format!("endpoint {id}"), &e.vpc, &t.vpc.id);
            }
        }
    }

    /// Gateway endpoints associated with the table add their prefix-list routes, which no
    /// written route may repeat.
    fn check_endpoint_routes(
        &mut self,
        t: &TableCtx<'a>,
        seen: &HashMap<String, usize>,
        pl_routes: &mut Vec<PrefixListRoute<'a>>,
    ) {
        let c = self.c;
        let associated = c.endpoints.iter().filter(|e| {
            e.endpoint_type == EndpointType::Gateway && e.route_tables.contains(&t.rt.id)
        });
        for e in associated {
            for pl in self.gateway_endpoint_prefix_lists(e) {
                let ei = self.def(&e.id, Collection::Endpoints).unwrap_or(0);
                let ep = path![Collection::Endpoints, ei, "route_tables"];
                if let Some(prev) = seen.get(pl) {
                    self.err(
                        t.ent.clone(),
                        t.base.at("routes").at(*prev).at("destination"),
                        format!("endpoint {} already routes {pl} in this table", e.id),
                        Some("remove this route; the endpoint's association provides it".into()),
                    );
                }
                pl_routes.push((pl, e.id.clone(), ep));
            }
        }
    }

    /// Overlapping prefix lists with different targets: a warning saying which wins.
    fn check_prefix_list_overlaps(&mut self, ent: &str, pl_routes: &[PrefixListRoute<'a>]) {
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
                let Some((x, y)) = first_overlap(la, lb) else {
                    continue;
                };
                let (lo, hi) = if pa < pb { (pa, pb) } else { (pb, pa) };
                let how = if x == y {
                    format!("{x} is in both; vpce resolves this deterministically: {lo}'s route wins over {hi}'s (AWS picks one at random)")
                } else {
                    format!("{x} of {pa} overlaps {y} of {pb}; the longer prefix wins")
                };
                self.warn(
                    ent.to_string(),
                    pathb.at("destination"),
                    format!("prefix lists {pa} (-> {ta}) and {pb} (-> {tb}) overlap: {how}"),
                    Some("make the lists disjoint, or route them to the same target".into()),
                );
            }
        }
    }

    /// The prefix list a gateway endpoint routes, through its AWS service.
    pub(super) fn gateway_endpoint_prefix_lists(&self, e: &Endpoint) -> Vec<&'a str> {
        match self.services.get(&e.service) {
            Some(Def {
                collection: Collection::AwsServices,
                index,
            }) => self.c.aws_services[*index].gateway_prefix_lists().collect(),
            _ => Vec::new(),
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
