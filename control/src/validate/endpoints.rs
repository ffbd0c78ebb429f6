//! AWS services, endpoint services and VPC endpoints (gateway, interface, Gateway Load Balancer).

use super::*;

impl<'a> Validator<'a> {
    pub(super) fn check_aws_services(&mut self) {
        for (i, s) in self.c.aws_services.iter().enumerate() {
            let ent = entity(Collection::AwsServices, &s.name);
            if !s.name.starts_with("com.amazonaws.") {
                self.err(
                    ent.to_string(),
                    path![Collection::AwsServices, i, "name"],
                    format!("`{}` is not an AWS service name", s.name),
                    Some(format!(
                        "AWS service names look like com.amazonaws.{}.s3",
                        self.c.region
                    )),
                );
            }
            if s.endpoint_types.is_empty() {
                self.err(
                    ent.to_string(),
                    path![Collection::AwsServices, i, "endpoint_types"],
                    "the service offers no endpoint type",
                    Some("endpoint_types = [\"gateway\"], [\"interface\"] or both".into()),
                );
            }
            if s.endpoint_types
                .contains(&EndpointType::GatewayLoadBalancer)
            {
                self.err(ent.to_string(), path![Collection::AwsServices, i, "endpoint_types"], "AWS services are not reached through Gateway Load Balancer endpoints", Some("gateway_load_balancer endpoints use an [[endpoint_services]] backed by a gateway load balancer".into()));
            }
            let gw = s.endpoint_types.contains(&EndpointType::Gateway);
            if gw && s.prefix_list.is_none() && s.ipv6_prefix_list.is_none() {
                self.err(
                    ent.to_string(),
                    path![Collection::AwsServices, i, "prefix_list"],
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
                if self.require(
                    &ent,
                    path![Collection::AwsServices, i, field],
                    pl,
                    Collection::PrefixLists,
                ) {
                    let list = self.prefix_list(pl).unwrap();
                    if list.address_family != family {
                        self.err(
                            ent.to_string(),
                            path![Collection::AwsServices, i, field],
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
                        ent.to_string(),
                        path![Collection::AwsServices, i, "private_dns_names", k],
                        e,
                        None,
                    );
                }
            }
        }
    }

    /// The load-balancer type behind an endpoint service (None if it cannot be told).
    pub(super) fn service_lb_type(&self, s: &EndpointService) -> Option<LoadBalancerType> {
        s.load_balancers
            .first()
            .and_then(|lb| self.load_balancer(lb))
            .map(|lb| lb.lb_type)
    }

    pub(super) fn check_endpoint_services(&mut self) {
        let c = self.c;
        for (i, s) in c.endpoint_services.iter().enumerate() {
            let ent = entity(Collection::EndpointServices, &s.id);
            if s.load_balancers.is_empty() {
                self.err(
                    ent.to_string(),
                    path![Collection::EndpointServices, i, "load_balancers"],
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
                    path![Collection::EndpointServices, i, "load_balancers", k],
                    lb,
                    Collection::LoadBalancers,
                ) {
                    types.push(self.load_balancer(lb).unwrap().lb_type);
                }
            }
            if types.windows(2).any(|w| w[0] != w[1]) {
                self.err(
                    ent.to_string(),
                    path![Collection::EndpointServices, i, "load_balancers"],
                    "network and gateway load balancers cannot back the same service",
                    None,
                );
            }
            if let Some(n) = &s.private_dns_name {
                if let Err(e) = check_dns_name(n, true) {
                    self.err(
                        ent.to_string(),
                        path![Collection::EndpointServices, i, "private_dns_name"],
                        e,
                        None,
                    );
                }
            }
            let name = s.service_name(&c.region);
            let mut seen = HashSet::new();
            for (k, conn) in s.connections.iter().enumerate() {
                let p = path![
                    Collection::EndpointServices,
                    i,
                    "connections",
                    k,
                    "endpoint"
                ];
                if !seen.insert(&conn.endpoint) {
                    self.err(
                        ent.to_string(),
                        p.clone(),
                        format!("endpoint {} has two connections", conn.endpoint),
                        None,
                    );
                }
                if self.require(&ent, p.clone(), &conn.endpoint, Collection::Endpoints) {
                    let e = self.endpoint(&conn.endpoint).unwrap();
                    if e.service != name {
                        self.err(
                            ent.to_string(),
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

    pub(super) fn check_endpoints(&mut self) {
        for (i, e) in self.c.endpoints.iter().enumerate() {
            let ent = entity(Collection::Endpoints, &e.id);
            let base = path![Collection::Endpoints, i];
            let vpc_ok = self.require(&ent, base.at("vpc"), &e.vpc, Collection::Vpcs);
            let svc = self.check_endpoint_service(&ent, &base, e);
            match e.endpoint_type {
                EndpointType::Gateway => self.check_gateway_endpoint(&ent, &base, e, vpc_ok),
                EndpointType::Interface | EndpointType::GatewayLoadBalancer => {
                    self.check_interface_endpoint(&ent, &base, e, vpc_ok);
                    if e.private_dns_enabled {
                        self.check_endpoint_private_dns(&ent, &base, e, svc);
                    }
                }
            }
        }
    }

    /// The endpoint's service exists and offers endpoints of its type; returns where the
    /// service is defined.
    fn check_endpoint_service(&mut self, ent: &str, base: &FieldPath, e: &Endpoint) -> Option<Def> {
        let c = self.c;
        let svc = self.services.get(&e.service).copied();
        let offered: Option<(bool, Vec<String>)> = match svc {
            None => {
                let names: Vec<&str> = self.services.keys().map(String::as_str).collect();
                let mut names = names;
                names.sort();
                self.err(
                    ent.to_string(),
                    base.at("service"),
                    format!("no service named `{}` in this file", e.service),
                    Some(known("services", names.into_iter())),
                );
                None
            }
            Some(Def {
                collection: Collection::AwsServices,
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
                ent.to_string(),
                base.at("type"),
                format!(
                    "service `{}` does not offer {} endpoints",
                    e.service, e.endpoint_type
                ),
                Some(format!("it offers: {}", types.join(", "))),
            );
        }

        svc
    }

    /// A gateway endpoint has route tables of its own VPC (not edge ones) and nothing of an
    /// interface endpoint's.
    fn check_gateway_endpoint(&mut self, ent: &str, base: &FieldPath, e: &Endpoint, vpc_ok: bool) {
        let c = self.c;
        for field in [
            ("network_interfaces", !e.network_interfaces.is_empty()),
            ("security_groups", !e.security_groups.is_empty()),
            ("private_dns_enabled", e.private_dns_enabled),
        ] {
            if field.1 {
                self.err(
                    ent.to_string(),
                    base.at(field.0),
                    format!("a gateway endpoint has no {}", field.0.replace('_', " ")),
                    Some(
                        "gateway endpoints only have route_tables (and allowed_destinations)"
                            .into(),
                    ),
                );
            }
        }
        let mut seen = HashSet::new();
        for (k, rt) in e.route_tables.iter().enumerate() {
            let p = base.at("route_tables").at(k);
            if !seen.insert(rt) {
                self.err(ent.to_string(), p, format!("{rt} is listed twice"), None);
                continue;
            }
            if self.require(ent, p.clone(), rt, Collection::RouteTables) {
                let t = &c.route_tables[self.def(rt, Collection::RouteTables).unwrap()];
                if vpc_ok {
                    self.require_same_vpc(
                        ent,
                        p.clone(),
                        &format!("route table {rt}"),
                        &t.vpc,
                        &e.vpc,
                    );
                }
                if !t.gateways.is_empty() {
                    self.err(ent.to_string(), p, format!("{rt} is an edge route table (associated with {}); gateway endpoint routes cannot be used from gateways", t.gateways.join(", ")), None);
                }
            }
        }
        if let Some(dests) = &e.allowed_destinations {
            if dests.is_empty() {
                self.warn(
                    ent.to_string(),
                    base.at("allowed_destinations"),
                    "the endpoint allows no destination: every packet through it is dropped",
                    Some("leave the field out for AWS's default full-access policy".into()),
                );
            }
        }
    }

    /// Interface and GWLB endpoints: network interfaces (one subnet per zone, in the
    /// endpoint's VPC, in zones the service covers), security groups, no route tables.
    fn check_interface_endpoint(
        &mut self,
        ent: &str,
        base: &FieldPath,
        e: &'a Endpoint,
        vpc_ok: bool,
    ) {
        if !e.route_tables.is_empty() {
            self.err(
                ent.to_string(),
                base.at("route_tables"),
                format!(
                    "{} endpoints are not associated with route tables",
                    e.endpoint_type
                ),
                Some(if e.endpoint_type == EndpointType::GatewayLoadBalancer {
                    "add a route with target = the endpoint id to the route tables instead".into()
                } else {
                    "only gateway endpoints have route_tables".into()
                }),
            );
        }
        if e.allowed_destinations.is_some() {
            self.err(
                ent.to_string(),
                base.at("allowed_destinations"),
                "allowed_destinations applies only to gateway endpoints",
                None,
            );
        }
        if e.network_interfaces.is_empty() {
            self.err(
                ent.to_string(),
                base.at("network_interfaces"),
                format!("an {} endpoint needs a network interface", e.endpoint_type),
                Some("network_interfaces = [{ subnet = \"subnet-…\", private_ip = \"…\" }]".into()),
            );
        }
        if e.endpoint_type == EndpointType::GatewayLoadBalancer {
            if e.network_interfaces.len() > 1 {
                self.err(
                    ent.to_string(),
                    base.at("network_interfaces"),
                    "a Gateway Load Balancer endpoint has exactly one subnet",
                    None,
                );
            }
            if !e.security_groups.is_empty() {
                self.err(
                    ent.to_string(),
                    base.at("security_groups"),
                    "Gateway Load Balancer endpoints have no security groups",
                    None,
                );
            }
            if e.private_dns_enabled {
                self.err(
                    ent.to_string(),
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
            self.check_eni_id(ent, nb.at("id"), &eni, &n.subnet);
            if !self.check_ip_in_subnet(ent, nb.clone(), &n.subnet, n.private_ip) {
                continue;
            }
            let s = self.subnet(&n.subnet).unwrap();
            if vpc_ok {
                self.require_same_vpc(
                    ent,
                    nb.at("subnet"),
                    &format!("subnet {}", s.id),
                    &s.vpc,
                    &e.vpc,
                );
            }
            if let Some(prev) = azs.insert(s.availability_zone.as_str(), k) {
                self.err(ent.to_string(), nb.at("subnet"), format!("network_interfaces[{prev}] is already in {}; an endpoint has one subnet per availability zone", s.availability_zone), None);
            }
            self.check_service_covers_az(ent, nb.at("subnet"), e, &s.availability_zone);
        }
        self.check_sgs(
            ent,
            base.at("security_groups"),
            &e.security_groups,
            vpc_ok.then_some(e.vpc.as_str()),
        );
        if e.endpoint_type == EndpointType::Interface && e.security_groups.is_empty() {
            self.warn(
                ent.to_string(),
                base.at("security_groups"),
                "no security group: all inbound traffic to the endpoint is denied",
                Some("AWS would attach the VPC's default group; name the groups explicitly".into()),
            );
        }
    }

    /// Private DNS needs DNS support and hostnames on the VPC and a private name on the
    /// service.
    fn check_endpoint_private_dns(
        &mut self,
        ent: &str,
        base: &FieldPath,
        e: &Endpoint,
        svc: Option<Def>,
    ) {
        let c = self.c;
        if let Some(vpc) = self.vpc(&e.vpc) {
            if !(vpc.enable_dns_support && vpc.enable_dns_hostnames) {
                self.err(
                    ent.to_string(),
                    base.at("private_dns_enabled"),
                    format!(
                        "private DNS needs enable_dns_support and enable_dns_hostnames on {}",
                        vpc.id
                    ),
                    Some(format!(
                        "set both to true in the [[vpcs]] entry of {}",
                        vpc.id
                    )),
                );
            }
        }
        let has_names = match svc {
            Some(Def {
                collection: Collection::AwsServices,
                index,
            }) => !c.aws_services[index].private_dns_names.is_empty(),
            Some(Def { index, .. }) => c.endpoint_services[index].private_dns_name.is_some(),
            None => true,
        };
        if !has_names {
            self.err(
                ent.to_string(),
                base.at("private_dns_enabled"),
                format!("service `{}` has no private DNS name", e.service),
                None,
            );
        }
    }

    /// An interface/GWLB endpoint's subnet must be in an AZ where the service's load balancer
    /// has a node (AWS refuses the endpoint otherwise).
    pub(super) fn check_service_covers_az(
        &mut self,
        ent: &str,
        path: FieldPath,
        e: &Endpoint,
        az: &str,
    ) {
        let Some(Def {
            collection: Collection::EndpointServices,
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
}
