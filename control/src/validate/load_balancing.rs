//! Load balancers (nodes, listeners, security groups) and target groups (targets, health checks, GWLB options).

use super::*;

impl<'a> Validator<'a> {
    pub(super) fn check_load_balancers(&mut self) {
        let c = self.c;
        let mut tg_users: HashMap<&str, &str> = HashMap::new();
        for (i, lb) in c.load_balancers.iter().enumerate() {
            let ent = entity(Collection::LoadBalancers, &lb.id);
            let base = path![Collection::LoadBalancers, i];
            let vpc_ok = self.require(&ent, base.at("vpc"), &lb.vpc, Collection::Vpcs);
            self.check_lb_nodes(&ent, &base, lb, vpc_ok);
            self.check_lb_type(&ent, &base, lb, vpc_ok);
            let mut ports: HashMap<(u16, Protocol), usize> = HashMap::new();
            for k in 0..lb.listeners.len() {
                let lp = base.at("listeners").at(k);
                self.check_listener(&ent, &lp, lb, k, vpc_ok, &mut ports, &mut tg_users);
            }
        }
    }

    /// Nodes: at least one, in subnets of the load balancer's VPC, one per zone.
    fn check_lb_nodes(&mut self, ent: &str, base: &FieldPath, lb: &LoadBalancer, vpc_ok: bool) {
        if lb.subnet_mappings.is_empty() {
            self.err(
                ent.to_string(),
                base.at("subnet_mappings"),
                "a load balancer needs a subnet",
                Some("subnet_mappings = [{ subnet = \"subnet-…\", private_ip = \"…\" }]".into()),
            );
        }
        let mut azs: HashMap<&str, usize> = HashMap::new();
        for (k, m) in lb.subnet_mappings.iter().enumerate() {
            let mb = base.at("subnet_mappings").at(k);
            if !self.check_ip_in_subnet(ent, mb.clone(), &m.subnet, m.private_ip) {
                continue;
            }
            let s = self.subnet(&m.subnet).unwrap();
            if vpc_ok {
                self.require_same_vpc(
                    ent,
                    mb.at("subnet"),
                    &format!("subnet {}", s.id),
                    &s.vpc,
                    &lb.vpc,
                );
            }
            if let Some(prev) = azs.insert(s.availability_zone.as_str(), k) {
                self.err(ent.to_string(), mb.at("subnet"), format!("subnet_mappings[{prev}] is already in {}; one subnet per availability zone", s.availability_zone), None);
            }
            if m.public_ip.is_some() && lb.scheme != Scheme::InternetFacing {
                self.err(ent.to_string(), mb.at("public_ip"), "a public address belongs to an internet-facing load balancer's subnet mapping (scheme = \"internet-facing\")", None);
            }
        }
    }

    /// What differs by type: an NLB's security groups; a GWLB has none, is internal and
    /// has one listener.
    fn check_lb_type(&mut self, ent: &str, base: &FieldPath, lb: &LoadBalancer, vpc_ok: bool) {
        match lb.lb_type {
            LoadBalancerType::Network => {
                self.check_sgs(
                    ent,
                    base.at("security_groups"),
                    &lb.security_groups,
                    vpc_ok.then_some(lb.vpc.as_str()),
                );
            }
            LoadBalancerType::Gateway => {
                if !lb.security_groups.is_empty() {
                    self.err(
                        ent.to_string(),
                        base.at("security_groups"),
                        "a gateway load balancer has no security groups",
                        None,
                    );
                }
                if lb.scheme != Scheme::Internal {
                    self.err(
                        ent.to_string(),
                        base.at("scheme"),
                        "a gateway load balancer is internal",
                        None,
                    );
                }
                if lb.listeners.len() != 1 {
                    self.err(
                        ent.to_string(),
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
                ent.to_string(),
                base.at("listeners"),
                "no listener: the load balancer accepts no traffic",
                None,
            );
        }
    }

    /// Listener `k`: protocol and port by type (no two on one port), a target group of the
    /// same VPC that speaks its protocol and serves no other load balancer.
    #[allow(clippy::too_many_arguments)]
    fn check_listener(
        &mut self,
        ent: &str,
        lp: &FieldPath,
        lb: &'a LoadBalancer,
        k: usize,
        vpc_ok: bool,
        ports: &mut HashMap<(u16, Protocol), usize>,
        tg_users: &mut HashMap<&'a str, &'a str>,
    ) {
        let l = &lb.listeners[k];
        match lb.lb_type {
            LoadBalancerType::Network => match (l.protocol, l.port) {
                (Some(Protocol::Geneve), _) => self.err(
                    ent.to_string(),
                    lp.at("protocol"),
                    "GENEVE listeners belong to gateway load balancers",
                    Some("TCP, UDP, TCP_UDP or TLS".into()),
                ),
                (None, _) => self.err(
                    ent.to_string(),
                    lp.at("protocol"),
                    "a network load balancer listener needs a protocol",
                    Some("TCP, UDP, TCP_UDP or TLS".into()),
                ),
                (_, None) => self.err(
                    ent.to_string(),
                    lp.at("port"),
                    "a network load balancer listener needs a port",
                    None,
                ),
                (Some(p), Some(port)) => {
                    if let Some(prev) = ports.insert((port, p), k) {
                        self.err(
                            ent.to_string(),
                            lp.at("port"),
                            format!("listeners[{prev}] already listens on {p} {port}"),
                            None,
                        );
                    }
                }
            },
            LoadBalancerType::Gateway => {
                if l.protocol.is_some() || l.port.is_some() {
                    self.err(ent.to_string(), lp.clone(), "a gateway load balancer listener has no protocol or port: it takes all IP traffic", None);
                }
            }
        }
        if !self.require(
            ent,
            lp.at("target_group"),
            &l.target_group,
            Collection::TargetGroups,
        ) {
            return;
        }
        let tg = self.target_group(&l.target_group).unwrap();
        if vpc_ok {
            self.require_same_vpc(
                ent,
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
                ent.to_string(),
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
                    ent.to_string(),
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

    pub(super) fn check_target_groups(&mut self) {
        let c = self.c;
        for (i, tg) in c.target_groups.iter().enumerate() {
            let ent = entity(Collection::TargetGroups, &tg.id);
            let base = path![Collection::TargetGroups, i];
            let vpc_ok = self.require(&ent, base.at("vpc"), &tg.vpc, Collection::Vpcs);
            self.check_tg_options(&ent, &base, tg);
            self.check_health_check(&ent, &base.at("health_check"), &tg.health_check);
            let vpc = if vpc_ok { self.vpc(&tg.vpc) } else { None };
            for (k, t) in tg.targets.iter().enumerate() {
                self.check_tg_target(&ent, &base.at("targets").at(k), tg, t, vpc);
            }
        }
    }

    /// Port, stickiness, failover, PROXY v2 and idle timeout for the group's protocol.
    /// AWS's target health state attributes: NLB groups only; a draining interval of
    /// 0–360000 s, set only with connection termination off.
    fn check_unhealthy_termination(&mut self, ent: &str, base: &FieldPath, tg: &TargetGroup) {
        let at = base.at("unhealthy_draining_interval");
        let d = tg.unhealthy_draining_interval;
        let changed = !tg.unhealthy_connection_termination || d != 0;
        let msg = if tg.protocol == Protocol::Geneve && changed {
            Some("unhealthy connection termination and draining apply to Network Load Balancer target groups".to_string())
        } else if d > 360_000 {
            Some(format!(
                "the draining interval is 0 to 360000 seconds, not {d}"
            ))
        } else if d != 0 && tg.unhealthy_connection_termination {
            Some("a draining interval needs unhealthy_connection_termination = false (AWS: set it only with termination off)".to_string())
        } else {
            None
        };
        if let Some(m) = msg {
            self.err(ent.to_string(), at, m, None);
        }
    }

    fn check_tg_options(&mut self, ent: &str, base: &FieldPath, tg: &TargetGroup) {
        let geneve = tg.protocol == Protocol::Geneve;
        if geneve && tg.port != 6081 {
            self.err(
                ent.to_string(),
                base.at("port"),
                format!("a GENEVE target group uses port 6081, not {}", tg.port),
                None,
            );
        }
        if !geneve {
            if tg.stickiness != Stickiness::default() {
                self.err(
                    ent.to_string(),
                    base.at("stickiness"),
                    "stickiness by tuple applies to GENEVE (gateway load balancer) target groups",
                    None,
                );
            }
            if tg.failover != Failover::default() {
                self.err(
                    ent.to_string(),
                    base.at("failover"),
                    "failover applies to GENEVE (gateway load balancer) target groups",
                    None,
                );
            }
        }
        self.check_unhealthy_termination(ent, base, tg);
        if tg.proxy_protocol_v2 && !matches!(tg.protocol, Protocol::Tcp | Protocol::Tls) {
            self.err(
                ent.to_string(),
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
                ent.to_string(),
                base.at("tcp_idle_timeout"),
                format!(
                    "{} s is out of range; allowed: 60 to 6000 seconds (AWS default 350)",
                    tg.tcp_idle_timeout
                ),
                None,
            );
        }
        if geneve {
            self.check_geneve_options(ent, base, tg);
        }
        if geneve && tg.preserve_client_ip.is_some() {
            self.err(ent.to_string(), base.at("preserve_client_ip"), "client IP preservation applies to network load balancer target groups (a GWLB passes packets unchanged)", None);
        }
        if let Some(r) = &tg.health_requirements {
            let at = base.at("health_requirements");
            if r.minimum_healthy_targets.is_none() && r.minimum_healthy_percentage.is_none() {
                self.err(ent.to_string(), at, "health requirements name minimum_healthy_targets or minimum_healthy_percentage", None);
            } else if r.minimum_healthy_targets == Some(0) {
                self.err(
                    ent.to_string(),
                    at,
                    "minimum_healthy_targets is at least 1 (AWS)",
                    None,
                );
            } else if r
                .minimum_healthy_percentage
                .is_some_and(|p| !(1..=100).contains(&p))
            {
                self.err(
                    ent.to_string(),
                    at,
                    "minimum_healthy_percentage is 1 to 100 (AWS)",
                    None,
                );
            }
        }
    }

    /// A GENEVE target group's combinations, as AWS's Gateway Load Balancer guide states them:
    /// "You can update the idle timeout of a Gateway Load Balancer only when you use 5-tuple
    /// stickiness; with 3-tuple or 2-tuple stickiness the default idle timeout is used", and
    /// "the values of target_failover.on_deregistration and target_failover.on_unhealthy must be
    /// the same".
    fn check_geneve_options(&mut self, ent: &str, base: &FieldPath, tg: &TargetGroup) {
        if tg.stickiness != Stickiness::FiveTuple && tg.tcp_idle_timeout != 350 {
            self.err(
                ent.to_string(),
                base.at("tcp_idle_timeout"),
                format!(
                    "a {} s idle timeout with {} stickiness: AWS lets the idle timeout change only with 5-tuple stickiness (3- and 2-tuple flows keep the default 350 s)",
                    tg.tcp_idle_timeout,
                    stickiness_name(tg.stickiness)
                ),
                Some("remove tcp_idle_timeout, or use 5-tuple stickiness".into()),
            );
        }
        if tg.failover.on_deregistration != tg.failover.on_unhealthy {
            self.err(
                ent.to_string(),
                base.at("failover"),
                "on_deregistration and on_unhealthy differ: AWS requires both target failover attributes to have the same value",
                None,
            );
        }
        let appliance_mode = self
            .c
            .transit_gateway_attachments
            .iter()
            .any(|a| a.appliance_mode && a.vpc.as_deref() == Some(tg.vpc.as_str()));
        if tg.stickiness != Stickiness::FiveTuple && appliance_mode {
            self.warn(
                ent.to_string(),
                base.at("stickiness"),
                format!(
                    "{} stickiness in a VPC attached to a transit gateway in appliance mode: AWS says configurable flow stickiness does not work with appliance mode (the transit gateway keeps 5-tuple symmetry itself)",
                    stickiness_name(tg.stickiness)
                ),
                None,
            );
        }
    }

    /// AWS's ranges for a health check: thresholds 2–10, interval 5–300 s, a timeout of
    /// 2–120 s shorter than the interval, a path only for HTTP(S).
    fn check_health_check(&mut self, ent: &str, hb: &FieldPath, hc: &HealthCheck) {
        match (hc.protocol, &hc.path) {
            (HealthCheckProtocol::Tcp, Some(_)) => self.err(
                ent.to_string(),
                hb.at("path"),
                "a TCP health check has no path",
                Some("set protocol = \"HTTP\" to check a path such as /index.html".into()),
            ),
            (_, Some(p)) if !p.starts_with('/') => self.err(
                ent.to_string(),
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
                    ent.to_string(),
                    hb.at(name),
                    format!("{v} is out of range; allowed: 2 to 10"),
                    None,
                );
            }
        }
        if !(5..=300).contains(&hc.interval_seconds) {
            self.err(
                ent.to_string(),
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
            self.err(
                ent.to_string(),
                hb.at("timeout_seconds"),
                format!(
                    "{} s: the timeout is 2 to 120 seconds and shorter than the interval ({} s)",
                    hc.timeout_seconds, hc.interval_seconds
                ),
                None,
            );
        }
    }

    /// A target: an instance of the group's VPC or an address inside it; GENEVE targets
    /// IPv4 on port 6081.
    fn check_tg_target(
        &mut self,
        ent: &str,
        tb: &FieldPath,
        tg: &TargetGroup,
        t: &Target,
        vpc: Option<&'a Vpc>,
    ) {
        let c = self.c;
        let vpc_ok = vpc.is_some();
        let geneve = tg.protocol == Protocol::Geneve;
        match (&t.instance, t.ip) {
            (Some(inst), None) => {
                if self.require(ent, tb.at("instance"), inst, Collection::Instances) {
                    let ins = &c.instances[self.def(inst, Collection::Instances).unwrap()];
                    if let (Some(s), true) = (self.subnet(&ins.subnet), vpc_ok) {
                        self.require_same_vpc(
                            ent,
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
                        IpAddr::V6(a) => vpc.ipv6_cidr_blocks.iter().any(|c| c.0.contains(&a)),
                    };
                    if !inside {
                        self.err(
                            ent.to_string(),
                            tb.at("ip"),
                            format!("{ip} is not inside {}", vpc.id),
                            Some("IP targets lie in the target group's VPC".into()),
                        );
                    }
                }
            }
            _ => self.err(
                ent.to_string(),
                tb.clone(),
                "a target is either an instance or an ip",
                Some("{ instance = \"i-…\" } or { ip = \"10.1.2.3\" }".into()),
            ),
        }
        if geneve && t.ip.is_some_and(|a| a.is_ipv6()) {
            self.err(
                ent.to_string(),
                tb.at("ip"),
                "GENEVE targets are IPv4 addresses (the GWLB's outer headers are IPv4)",
                None,
            );
        }
        if geneve && t.port.is_some_and(|p| p != 6081) {
            self.err(
                ent.to_string(),
                tb.at("port"),
                "GENEVE targets receive on port 6081",
                None,
            );
        }
    }
}

/// The stickiness as AWS's console names it.
fn stickiness_name(s: Stickiness) -> &'static str {
    match s {
        Stickiness::FiveTuple => "5-tuple",
        Stickiness::ThreeTuple => "3-tuple",
        Stickiness::TwoTuple => "2-tuple",
    }
}
