//! [`FabricBuilder`]: resolves a snapshot's ids into the fabric's dense indexes, one method
//! per kind of entity.
//!
//! The order of the steps is the order of the indexes: attachments are numbered ENIs first,
//! then internet gateways, then service networks; owners are claimed by ENIs, load-balancer
//! nodes and endpoint ENIs, then NAT gateways (only where nothing else claimed the address),
//! then resolvers. A later kind of entity may refer to an earlier one by index, never the
//! other way round; route actions come last because they refer to all of them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use control::compile::{CompiledRouteTable, RouteTarget};
use control::model::{self, Config, EndpointType, LoadBalancerType, Protocol};
use control::Snapshot;
use ipnet::IpNet;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::*;
use crate::conntrack::zone_of;

mod resolver;
mod transit;

/// Builds the fabric of `snapshot` (see [`Fabric::build`]).
pub(super) fn build(
    snapshot: Arc<Snapshot>,
    registry: Arc<Registry>,
) -> Result<Fabric, FabricError> {
    let mut b = FabricBuilder::new(&snapshot, &registry);
    b.enis()?;
    b.target_groups();
    b.load_balancers();
    b.endpoint_services();
    b.interface_endpoints();
    b.gwlb_endpoints();
    b.resolver_endpoints();
    b.virtual_owners();
    b.internet_gateways()?;
    b.service_networks()?;
    b.on_premises();
    b.transit();
    b.check_device_names()?;
    let actions = b.route_actions();
    let parts = b.finish();
    Ok(parts.into_fabric(actions, snapshot, registry))
}

fn inconsistent(m: String) -> FabricError {
    FabricError::Inconsistent(m)
}

/// The tables under construction, with the id → index maps the steps share.
struct FabricBuilder<'a> {
    snapshot: &'a Snapshot,
    c: &'a Config,
    registry: &'a Registry,
    vpc_index: FxHashMap<&'a str, u32>,
    rt_index: FxHashMap<&'a str, u32>,
    tg_index: FxHashMap<&'a str, u32>,
    subnet_index: FxHashMap<&'a str, u32>,
    parts: Parts,
}

/// Everything [`Fabric`] holds but the snapshot, the registry and the route actions.
#[derive(Default)]
struct Parts {
    attachments: Vec<Attachment>,
    vpcs: Vec<Vpc>,
    enis: Vec<Eni>,
    igws: Vec<InternetGateway>,
    gateway_endpoints: Vec<GatewayEndpoint>,
    services: Vec<ServiceNetwork>,
    endpoints: Vec<InterfaceEndpoint>,
    endpoint_enis: Vec<EndpointEni>,
    endpoint_services: Vec<EndpointService>,
    load_balancers: Vec<LoadBalancer>,
    lb_nodes: Vec<LbNode>,
    target_groups: Vec<TargetGroup>,
    gwlb_endpoints: Vec<GwlbEndpoint>,
    gwlb_endpoint_by_option: FxHashMap<u64, u32>,
    endpoint_eni_by_zone: FxHashMap<u32, u32>,
    service_by_zone: FxHashMap<u32, u32>,
    lb_node_by_zone: FxHashMap<u32, u32>,
    lb_node_by_client_zone: FxHashMap<u32, u32>,
    upstream: Option<Upstream>,
    subnets: Vec<Subnet>,
    zones: Vec<String>,
    tgw_attachments: Vec<TgwAttachment>,
    tgw_actions: Vec<Vec<TgwAction>>,
    tgw_by_vpc: FxHashMap<(u32, u32), u32>,
    on_prem: Vec<OnPrem>,
    vgws: Vec<Vgw>,
    resolver_enis: Vec<ResolverEni>,
    acl_counters: Vec<Arc<crate::stats::AclCounters>>,
    sg_denials: Vec<SmallVec<[Arc<DenialCounters>; 2]>>,
    route_table_counters: Vec<Arc<EntityCounters>>,
}

/// An ENI that becomes an attachment, from an instance or a standalone network interface.
struct EniSource<'a> {
    id: String,
    subnet: &'a str,
    ipv4: SmallVec<[Ipv4Addr; 2]>,
    ipv6: Option<Ipv6Addr>,
    public: Option<Ipv4Addr>,
    source_dest_check: bool,
    namespace: Option<String>,
    groups: &'a [String],
}

fn index_of<'a, T>(items: &'a [T], id: impl Fn(&'a T) -> &'a str) -> FxHashMap<&'a str, u32> {
    items
        .iter()
        .enumerate()
        .map(|(i, t)| (id(t), i as u32))
        .collect()
}

impl<'a> FabricBuilder<'a> {
    fn new(snapshot: &'a Snapshot, registry: &'a Registry) -> Self {
        let c = &snapshot.config;
        let vpcs = c
            .vpcs
            .iter()
            .map(|v| Vpc {
                id: v.id.clone(),
                cidrs: v
                    .cidr_blocks
                    .iter()
                    .map(|c| IpNet::V4(c.0))
                    .chain(v.ipv6_cidr_blocks.iter().map(|c| IpNet::V6(c.0)))
                    .collect(),
                owners: FxHashMap::default(),
                resolver: match (v.enable_dns_support, v.cidr_blocks.first()) {
                    (true, Some(cidr)) => Some(crate::resolver::resolver_address(cidr.0)),
                    _ => None,
                },
                subnets: c
                    .subnets
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.vpc == v.id)
                    .map(|(i, _)| i as u32)
                    .collect(),
            })
            .collect::<Vec<Vpc>>();
        let mut zones: Vec<String> = c
            .subnets
            .iter()
            .map(|s| s.availability_zone.clone())
            .collect();
        zones.sort();
        zones.dedup();
        let subnets = c
            .subnets
            .iter()
            .map(|s| Subnet {
                id: s.id.clone(),
                v4: s.cidr.0,
                v6: s.ipv6_cidr.map(|n| n.0),
                acl: snapshot.nacls.of_subnet(&s.id),
                resolver: c
                    .vpcs
                    .iter()
                    .position(|v| v.id == s.vpc)
                    .and_then(|i| vpcs[i].resolver),
                az: zones
                    .binary_search(&s.availability_zone)
                    .map_or(0, |i| i as u16),
            })
            .collect();
        let acl_counters = c
            .network_acls
            .iter()
            .map(|a| {
                let numbers =
                    |rules: &[model::NetworkAclRule]| rules.iter().map(|r| r.rule).collect();
                registry.acl(&a.id, numbers(&a.ingress), numbers(&a.egress))
            })
            .collect();
        FabricBuilder {
            snapshot,
            c,
            registry,
            vpc_index: index_of(&c.vpcs, |v| v.id.as_str()),
            rt_index: index_of(&snapshot.route_tables, |t: &CompiledRouteTable| {
                t.id.as_str()
            }),
            tg_index: index_of(&c.target_groups, |t| t.id.as_str()),
            subnet_index: index_of(&c.subnets, |s| s.id.as_str()),
            parts: Parts {
                vpcs,
                subnets,
                zones,
                acl_counters,
                ..Parts::default()
            },
        }
    }

    fn subnet(&self, id: &str) -> Option<&'a model::Subnet> {
        self.c.subnets.iter().find(|s| s.id == id)
    }

    fn vpc(&self, id: &str) -> Result<u32, FabricError> {
        self.vpc_index
            .get(id)
            .copied()
            .ok_or_else(|| inconsistent(format!("no VPC {id}")))
    }

    /// Index of the route table of subnet `id`.
    fn subnet_route_table(&self, id: &str) -> Option<u32> {
        self.snapshot
            .subnet_route_table(id)
            .and_then(|t| self.rt_index.get(t.id.as_str()).copied())
    }

    /// The compiled security-group set of `groups`; `None` for no group (nothing filtered).
    fn sg_of(&self, groups: &[String]) -> Option<u32> {
        if groups.is_empty() {
            None
        } else {
            self.snapshot.security.set_for(groups)
        }
    }

    fn claim(&mut self, vpc: u32, addr: IpAddr, owner: Owner) {
        self.parts.vpcs[vpc as usize].owners.insert(addr, owner);
    }

    fn eni_sources(&self) -> Vec<EniSource<'a>> {
        let c = self.c;
        let instances = c.instances.iter().map(|i| EniSource {
            id: i.eni_id(),
            subnet: &i.subnet,
            ipv4: SmallVec::from_slice(&[i.private_ip]),
            ipv6: i.ipv6_address,
            public: i.public_ip,
            source_dest_check: i.source_dest_check,
            namespace: i.namespace.clone(),
            groups: &i.security_groups,
        });
        let standalone = c.network_interfaces.iter().map(|n| {
            let mut ipv4: SmallVec<[Ipv4Addr; 2]> = SmallVec::from_slice(&[n.private_ip]);
            ipv4.extend(n.secondary_private_ips.iter().copied());
            EniSource {
                id: n.id.clone(),
                subnet: &n.subnet,
                ipv4,
                ipv6: n.ipv6_address,
                public: n.public_ip,
                source_dest_check: n.source_dest_check,
                namespace: n.namespace.clone(),
                groups: &n.security_groups,
            }
        });
        instances.chain(standalone).collect()
    }

    /// Addresses of GENEVE targets (appliances): their devices take jumbo frames.
    fn appliance_ips(&self) -> Vec<IpAddr> {
        let c = self.c;
        c.target_groups
            .iter()
            .filter(|t| t.protocol == Protocol::Geneve)
            .flat_map(|t| &t.targets)
            .filter_map(|t| match (&t.instance, t.ip) {
                (Some(id), _) => c
                    .instances
                    .iter()
                    .find(|i| &i.id == id)
                    .map(|i| IpAddr::V4(i.private_ip)),
                (None, ip) => ip,
            })
            .collect()
    }

    /// ENIs of instances and standalone ENIs: one attachment each, owning their addresses.
    fn enis(&mut self) -> Result<(), FabricError> {
        let appliance_ips = self.appliance_ips();
        for s in self.eni_sources() {
            let sn = self
                .subnet(s.subnet)
                .ok_or_else(|| inconsistent(format!("no subnet {}", s.subnet)))?;
            let vpc = self.vpc(&sn.vpc)?;
            let rt = self
                .subnet_route_table(&sn.id)
                .ok_or_else(|| inconsistent(format!("subnet {} has no route table", sn.id)))?;
            let att = self.parts.attachments.len() as AttachmentIdx;
            let eni = self.parts.enis.len() as u32;
            let mut addresses: Vec<IpNet> = s
                .ipv4
                .iter()
                .enumerate()
                .map(|(k, a)| {
                    let len = if k == 0 { sn.cidr.0.prefix_len() } else { 32 };
                    IpNet::new(IpAddr::V4(*a), len).expect("valid prefix")
                })
                .collect();
            if let (Some(a), Some(net)) = (s.ipv6, sn.ipv6_cidr) {
                addresses
                    .push(IpNet::new(IpAddr::V6(a), net.0.prefix_len()).expect("valid prefix"));
            }
            for a in &s.ipv4 {
                self.claim(vpc, IpAddr::V4(*a), Owner::Attachment(att));
            }
            if let Some(a) = s.ipv6 {
                self.claim(vpc, IpAddr::V6(a), Owner::Attachment(att));
            }
            let jumbo = s
                .ipv4
                .iter()
                .any(|a| appliance_ips.contains(&IpAddr::V4(*a)));
            self.parts.attachments.push(Attachment {
                device: tun_name('e', &s.id),
                counters: self.registry.entity("attachment", &s.id),
                id: s.id.clone(),
                kind: AttachmentKind::Eni(eni),
                namespace: s.namespace,
                uplink: None,
                link: LinkConfig {
                    mtu: if jumbo { JUMBO_MTU } else { MTU },
                    addresses,
                    loopback: Vec::new(),
                    default_v4: true,
                    default_v6: s.ipv6.is_some(),
                },
            });
            self.parts.enis.push(Eni {
                zone: zone_of(&s.id),
                sg: self.sg_of(s.groups),
                id: s.id,
                vpc,
                route_table: rt,
                ipv4: s.ipv4,
                ipv6: s.ipv6,
                public_ipv4: s.public,
                source_dest_check: s.source_dest_check,
                subnet: self.subnet_index[sn.id.as_str()],
                client_ip_target: false,
            });
        }
        Ok(())
    }

    /// The ENI (`enis[i]`) that owns `ip` in the VPC of target group `tg`.
    fn eni_owning(&self, tg: &model::TargetGroup, ip: IpAddr) -> Option<usize> {
        let vpc = *self.vpc_index.get(tg.vpc.as_str())?;
        match self.parts.vpcs[vpc as usize].owners.get(&ip)? {
            Owner::Attachment(a) => match self.parts.attachments.get(*a as usize)?.kind {
                AttachmentKind::Eni(e) => Some(e as usize),
                _ => None,
            },
            _ => None,
        }
    }

    /// Where a target is and in which zone; `None` for a target naming an unknown instance.
    fn target_place(&self, tg: &model::TargetGroup, t: &model::Target) -> Option<(IpAddr, String)> {
        let c = self.c;
        match (&t.instance, t.ip) {
            (Some(id), _) => {
                let i = c.instances.iter().find(|i| &i.id == id)?;
                let az = self.subnet(&i.subnet).map(|s| s.availability_zone.clone());
                Some((IpAddr::V4(i.private_ip), az.unwrap_or_default()))
            }
            (None, Some(ip)) => {
                let az = c
                    .subnets
                    .iter()
                    .filter(|s| s.vpc == tg.vpc && self.vpc_index.contains_key(s.vpc.as_str()))
                    .find(|s| match ip {
                        IpAddr::V4(a) => s.cidr.0.contains(&a),
                        IpAddr::V6(a) => s.ipv6_cidr.is_some_and(|n| n.0.contains(&a)),
                    })
                    .map(|s| s.availability_zone.clone());
                Some((ip, az.unwrap_or_default()))
            }
            (None, None) => None,
        }
    }

    /// Target groups with their targets' health cells and counters.
    fn target_groups(&mut self) {
        let c = self.c;
        for tg in &c.target_groups {
            let geneve = tg.protocol == Protocol::Geneve;
            let kind = if geneve { "appliance" } else { "target" };
            let targets = tg
                .targets
                .iter()
                .filter_map(|t| {
                    let (ip, az) = self.target_place(tg, t)?;
                    let port = t.port.unwrap_or(tg.port);
                    let preserve = tg.preserve_client_ip.unwrap_or(
                        t.instance.is_some()
                            || matches!(tg.protocol, Protocol::Udp | Protocol::TcpUdp),
                    );
                    let eni = self.eni_owning(tg, ip);
                    if let (true, Some(e)) = (preserve && !geneve, eni) {
                        self.parts.enis[e].client_ip_target = true;
                    }
                    Some(Target {
                        ip,
                        port,
                        az,
                        preserve_client_ip: preserve,
                        eni_zone: eni.map(|e| self.parts.enis[e].zone),
                        health: self.registry.health.cell(&tg.id, ip, port),
                        counters: self.registry.entity(kind, &target_label(&tg.id, ip, port)),
                    })
                })
                .collect();
            self.parts.target_groups.push(TargetGroup {
                id: tg.id.clone(),
                cross_zone: tg.cross_zone,
                targets,
                health_check: tg.health_check.clone(),
                proxy_protocol_v2: tg.proxy_protocol_v2,
                probe_nodes: Vec::new(),
                geneve,
                stickiness: tg.stickiness,
                failover: tg.failover,
                // Validation keeps it within 60–6000.
                tcp_idle_timeout: u16::try_from(tg.tcp_idle_timeout).unwrap_or(u16::MAX),
                health_requirements: tg.health_requirements,
                terminate_unhealthy: tg.unhealthy_connection_termination,
                draining_interval: tg.unhealthy_draining_interval,
                counters: self.registry.entity("target_group", &tg.id),
            });
        }
    }

    /// A load balancer's nodes, one per subnet mapping, owning their addresses.
    fn lb_nodes(&mut self, lb: &model::LoadBalancer, li: u32, vpc: u32) -> Vec<u32> {
        let mut nodes = Vec::new();
        for m in &lb.subnet_mappings {
            let Some(sn) = self.subnet(&m.subnet) else {
                continue;
            };
            let Some(rt) = self.subnet_route_table(&sn.id) else {
                continue;
            };
            let n = self.parts.lb_nodes.len() as u32;
            self.claim(vpc, IpAddr::V4(m.private_ip), Owner::LoadBalancerNode(n));
            let ip6 = m
                .ipv6_address
                .filter(|_| lb.ip_address_type == model::IpAddressType::Dualstack);
            if let Some(a) = ip6 {
                self.claim(vpc, IpAddr::V6(a), Owner::LoadBalancerNode(n));
            }
            nodes.push(n);
            self.parts.lb_nodes.push(LbNode {
                lb: li,
                ip: m.private_ip,
                ip6,
                public_ip: m
                    .public_ip
                    .filter(|_| lb.scheme == model::Scheme::InternetFacing),
                az: sn.availability_zone.clone(),
                route_table: rt,
                zone: zone_of(&format!("{}@{}", lb.id, m.private_ip)),
                client_zone: zone_of(&format!("{}@{} clients", lb.id, m.private_ip)),
                subnet: self.subnet_index[sn.id.as_str()],
            });
        }
        nodes
    }

    fn listeners(&self, lb: &model::LoadBalancer) -> Vec<Listener> {
        lb.listeners
            .iter()
            .filter_map(|l| {
                let target_group = *self.tg_index.get(l.target_group.as_str())?;
                let (tcp, udp) = match l.protocol {
                    Some(Protocol::Udp) => (false, true),
                    Some(Protocol::TcpUdp) => (true, true),
                    _ => (true, false),
                };
                Some(Listener {
                    tcp,
                    udp,
                    port: l.port?,
                    target_group,
                })
            })
            .collect()
    }

    /// Load balancers and their nodes; then each target group learns the nodes its health
    /// checks start from.
    fn load_balancers(&mut self) {
        for lb in &self.c.load_balancers {
            let Some(&vpc) = self.vpc_index.get(lb.vpc.as_str()) else {
                continue;
            };
            let li = self.parts.load_balancers.len() as u32;
            let nodes = self.lb_nodes(lb, li, vpc);
            let appliances = (lb.lb_type == LoadBalancerType::Gateway)
                .then(|| {
                    lb.listeners
                        .first()
                        .and_then(|l| self.tg_index.get(l.target_group.as_str()).copied())
                })
                .flatten();
            self.parts.load_balancers.push(LoadBalancer {
                id: lb.id.clone(),
                vpc,
                appliances,
                nodes,
                sg: self.sg_of(&lb.security_groups),
                enforce_sg_on_private_link: lb
                    .enforce_security_group_inbound_rules_on_private_link_traffic,
                cross_zone: lb.cross_zone,
                listeners: self.listeners(lb),
                counters: self.registry.entity("load_balancer", &lb.id),
            });
        }
        let Parts {
            load_balancers,
            target_groups,
            ..
        } = &mut self.parts;
        for lb in load_balancers.iter() {
            let groups = lb.listeners.iter().map(|l| l.target_group);
            for tg in groups.chain(lb.appliances) {
                let tg = &mut target_groups[tg as usize];
                for &n in &lb.nodes {
                    if !tg.probe_nodes.contains(&n) {
                        tg.probe_nodes.push(n);
                    }
                }
            }
        }
        self.parts.lb_node_by_zone = self
            .parts
            .lb_nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.zone, i as u32))
            .collect();
        self.parts.lb_node_by_client_zone = self
            .parts
            .lb_nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.client_zone, i as u32))
            .collect();
    }

    fn load_balancer(&self, id: &str) -> Option<u32> {
        self.parts
            .load_balancers
            .iter()
            .position(|x| x.id == id)
            .map(|i| i as u32)
    }

    fn endpoint_services(&mut self) {
        for svc in &self.c.endpoint_services {
            let load_balancers = svc
                .load_balancers
                .iter()
                .filter_map(|l| self.load_balancer(l))
                .collect();
            self.parts.endpoint_services.push(EndpointService {
                id: svc.id.clone(),
                load_balancers,
            });
        }
    }

    fn endpoints_of(&self, kind: EndpointType) -> impl Iterator<Item = &'a model::Endpoint> {
        self.c
            .endpoints
            .iter()
            .filter(move |e| e.endpoint_type == kind)
    }

    /// Interface endpoints and their ENIs, which own their addresses.
    fn interface_endpoints(&mut self) {
        let c = self.c;
        for e in self.endpoints_of(EndpointType::Interface) {
            let Some(&vpc) = self.vpc_index.get(e.vpc.as_str()) else {
                continue;
            };
            let ei = self.parts.endpoints.len() as u32;
            for (k, n) in e.network_interfaces.iter().enumerate() {
                let id = e.eni_id(k);
                let x = self.parts.endpoint_enis.len() as u32;
                let zone = zone_of(&id);
                self.claim(vpc, IpAddr::V4(n.private_ip), Owner::EndpointEni(x));
                let ip6 = n.ipv6_address.filter(|_| e.ip_address_type.has_v6());
                if let Some(a) = ip6 {
                    self.claim(vpc, IpAddr::V6(a), Owner::EndpointEni(x));
                }
                self.parts.endpoint_eni_by_zone.insert(zone, x);
                let az = self.subnet(&n.subnet).map(|s| s.availability_zone.clone());
                let route_table = self.subnet_route_table(&n.subnet);
                self.parts.endpoint_enis.push(EndpointEni {
                    id,
                    endpoint: ei,
                    ip: n.private_ip,
                    ip6,
                    az: az.unwrap_or_default(),
                    zone,
                    route_table,
                    subnet: self.subnet_index.get(n.subnet.as_str()).copied(),
                });
            }
            self.parts.endpoints.push(InterfaceEndpoint {
                id: e.id.clone(),
                vpc,
                state: c.connection_state(e),
                sg: self.sg_of(&e.security_groups),
                service: c
                    .endpoint_services
                    .iter()
                    .position(|s| s.service_name(&c.region) == e.service)
                    .map(|i| i as u32),
                aws_service: None,
                service_addresses: Vec::new(),
                counters: self.registry.entity("endpoint", &e.id),
            });
        }
    }

    /// Gateway Load Balancer endpoints: their one ENI, route table and GENEVE options.
    fn gwlb_endpoints(&mut self) {
        let c = self.c;
        for e in self.endpoints_of(EndpointType::GatewayLoadBalancer) {
            let (Some(&vpc), Some(n)) = (
                self.vpc_index.get(e.vpc.as_str()),
                e.network_interfaces.first(),
            ) else {
                continue;
            };
            let Some(sn) = self.subnet(&n.subnet) else {
                continue;
            };
            let Some(rt) = self.subnet_route_table(&sn.id) else {
                continue;
            };
            let eni = e.eni_id(0);
            // Option 1 carries the ENI's id when it has a real one, else the endpoint's.
            let option_endpoint =
                crate::wire::geneve::id_value(if n.id.is_some() { &eni } else { &e.id });
            let load_balancer = c
                .endpoint_services
                .iter()
                .find(|s| s.service_name(&c.region) == e.service)
                .and_then(|s| s.load_balancers.first())
                .and_then(|l| self.load_balancer(l));
            let gi = self.parts.gwlb_endpoints.len() as u32;
            self.parts
                .gwlb_endpoint_by_option
                .insert(option_endpoint, gi);
            self.parts.gwlb_endpoints.push(GwlbEndpoint {
                zone: zone_of(&eni),
                eni,
                id: e.id.clone(),
                ip: n.private_ip,
                vpc,
                az: sn.availability_zone.clone(),
                route_table: rt,
                subnet: self.subnet_index[sn.id.as_str()],
                state: c.connection_state(e),
                load_balancer,
                option_endpoint,
                option_attachment: crate::wire::geneve::id_value(&e.id),
                counters: self.registry.entity("endpoint", &e.id),
            });
        }
    }

    /// Addresses vpced answers for without a device: NAT gateways (where nothing else owns
    /// the address) and each VPC's resolver at base + 2 when its DNS support is on. Also the
    /// security groups' denial counters.
    fn virtual_owners(&mut self) {
        let c = self.c;
        for n in &c.nat_gateways {
            let Some(sn) = self.subnet(&n.subnet) else {
                continue;
            };
            if let Some(&v) = self.vpc_index.get(sn.vpc.as_str()) {
                self.parts.vpcs[v as usize]
                    .owners
                    .entry(IpAddr::V4(n.private_ip))
                    .or_insert(Owner::Virtual);
            }
        }
        for (i, v) in c.vpcs.iter().enumerate() {
            if let (true, Some(cidr)) = (v.enable_dns_support, v.cidr_blocks.first()) {
                let address = crate::resolver::resolver_address(cidr.0);
                self.claim(i as u32, address, Owner::Resolver(i as u32));
            }
        }
        self.parts.sg_denials = self
            .snapshot
            .security
            .sets
            .iter()
            .map(|set| {
                set.groups
                    .iter()
                    .map(|&g| self.registry.denials(&c.security_groups[g as usize].id))
                    .collect()
            })
            .collect();
    }

    /// The addresses vpced answers ARP for on an internet gateway's uplink: the public
    /// addresses behind it and the resolvers' upstream source when it goes out there.
    fn uplink_answers(&self, igw: &str, inbound: &FxHashMap<Ipv4Addr, Ipv4Addr>) -> Vec<Ipv4Addr> {
        let mut v: Vec<Ipv4Addr> = inbound.keys().copied().collect();
        if let Some(r) = self
            .c
            .resolver
            .as_ref()
            .filter(|r| r.internet_gateway == igw)
        {
            v.push(r.source);
        }
        v.sort();
        v
    }

    /// Internet gateways: the internet side is an attachment (a TUN device, or packet sockets
    /// on an uplink); the public/private maps come from the ENIs of the gateway's VPC and the
    /// nodes of its internet-facing load balancers.
    fn internet_gateways(&mut self) -> Result<(), FabricError> {
        for g in &self.c.internet_gateways {
            let vpc = self.vpc(&g.vpc)?;
            let att = self.parts.attachments.len() as AttachmentIdx;
            let mut inbound = FxHashMap::default();
            let mut outbound = FxHashMap::default();
            for e in self.parts.enis.iter().filter(|e| e.vpc == vpc) {
                if let (Some(public), Some(private)) = (e.public_ipv4, e.ipv4.first()) {
                    inbound.insert(public, *private);
                    outbound.insert(*private, public);
                }
            }
            // An internet-facing load balancer's nodes, by their public addresses.
            for n in &self.parts.lb_nodes {
                let in_vpc = self.parts.load_balancers[n.lb as usize].vpc == vpc;
                if let (Some(public), true) = (n.public_ip, in_vpc) {
                    inbound.insert(public, n.ip);
                    outbound.insert(n.ip, public);
                }
            }
            let uplink = match (&g.interface, g.next_hop) {
                (Some(interface), Some(next_hop)) => Some(Uplink {
                    interface: interface.clone(),
                    next_hop,
                    answers: self.uplink_answers(&g.id, &inbound),
                }),
                _ => None,
            };
            self.parts.attachments.push(Attachment {
                // An uplink's device is the interface it is on.
                device: match &uplink {
                    Some(u) => u.interface.clone(),
                    None => tun_name('i', &g.id),
                },
                counters: self.registry.entity("attachment", &g.id),
                id: g.id.clone(),
                kind: AttachmentKind::Internet(self.parts.igws.len() as u32),
                namespace: g.namespace.clone(),
                uplink,
                link: LinkConfig {
                    addresses: Vec::new(),
                    loopback: Vec::new(),
                    default_v4: true,
                    default_v6: true,
                    mtu: MTU,
                },
            });
            self.parts.igws.push(InternetGateway {
                id: g.id.clone(),
                vpc,
                attachment: att,
                edge_route_table: self
                    .snapshot
                    .gateway_route_table(&g.id)
                    .and_then(|t| self.rt_index.get(t.id.as_str()).copied()),
                inbound,
                outbound,
                counters: self.registry.entity("internet_gateway", &g.id),
            });
        }
        let c = self.c;
        self.parts.upstream = c.resolver.as_ref().and_then(|r| {
            let g = self
                .parts
                .igws
                .iter()
                .find(|g| g.id == r.internet_gateway)?;
            Some(Upstream {
                server: r.upstream,
                source: r.source,
                attachment: g.attachment,
            })
        });
        Ok(())
    }

    /// The service network of AWS service `svc`, made (with its attachment) on first use.
    fn service_network(&mut self, svc: &model::AwsService) -> u32 {
        let services = &mut self.parts.services;
        if let Some(i) = services.iter().position(|s| s.name == svc.name) {
            return i as u32;
        }
        let si = services.len() as u32;
        let attachment = self.parts.attachments.len() as AttachmentIdx;
        services.push(ServiceNetwork {
            name: svc.name.clone(),
            attachment,
            zone: zone_of(&svc.name),
            endpoints: Vec::new(),
        });
        self.parts.attachments.push(Attachment {
            device: tun_name('s', &svc.name),
            counters: self.registry.entity("attachment", &svc.name),
            id: svc.name.clone(),
            kind: AttachmentKind::ServiceNetwork(si),
            namespace: svc.namespace.clone(),
            uplink: None,
            link: LinkConfig {
                addresses: Vec::new(),
                loopback: svc.service_addresses.clone(),
                default_v4: true,
                default_v6: true,
                mtu: MTU,
            },
        });
        si
    }

    /// Gateway endpoints, and the networks of the AWS services they and interface endpoints
    /// to AWS services (S3, DynamoDB…) lead to.
    fn service_networks(&mut self) -> Result<(), FabricError> {
        let c = self.c;
        let aws_service = |name: &str| c.aws_services.iter().find(|s| s.name == name);
        for e in self.endpoints_of(EndpointType::Gateway) {
            let svc = aws_service(&e.service)
                .ok_or_else(|| inconsistent(format!("no service {}", e.service)))?;
            let si = self.service_network(svc);
            let gi = self.parts.gateway_endpoints.len() as u32;
            self.parts.services[si as usize].endpoints.push(gi);
            self.parts.gateway_endpoints.push(GatewayEndpoint {
                id: e.id.clone(),
                vpc: self.vpc(&e.vpc)?,
                attachment: self.parts.services[si as usize].attachment,
                allowed: e
                    .allowed_destinations
                    .as_ref()
                    .map(|v| v.iter().map(|c| c.0).collect()),
                counters: self.registry.entity("endpoint", &e.id),
            });
        }
        // Interface endpoints are in configuration order among themselves, as numbered by
        // `interface_endpoints` (which skipped those of unknown VPCs).
        for e in self.endpoints_of(EndpointType::Interface) {
            let Some(svc) = aws_service(&e.service) else {
                continue;
            };
            let si = self.service_network(svc);
            let Some(ep) = self.parts.endpoints.iter_mut().find(|x| x.id == e.id) else {
                continue;
            };
            ep.aws_service = Some(si);
            ep.service_addresses = svc.service_addresses.clone();
        }
        self.parts.service_by_zone = self
            .parts
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.zone, i as u32))
            .collect();
        Ok(())
    }

    /// Device names must be unique.
    fn check_device_names(&self) -> Result<(), FabricError> {
        let mut names: FxHashMap<&str, &str> = FxHashMap::default();
        for a in &self.parts.attachments {
            if let Some(other) = names.insert(a.device.as_str(), a.id.as_str()) {
                return Err(FabricError::NameCollision(
                    other.to_string(),
                    a.id.clone(),
                    a.device.clone(),
                ));
            }
        }
        Ok(())
    }

    /// The VPC on the other side of peering connection `id` from `table_vpc`.
    fn peer_of(&self, id: &str, table_vpc: Option<u32>) -> Option<u32> {
        let p = self.c.peering_connections.iter().find(|p| p.id == id)?;
        let requester = self.vpc_index.get(p.requester_vpc.as_str()).copied();
        let other = if requester == table_vpc {
            &p.accepter_vpc
        } else {
            &p.requester_vpc
        };
        self.vpc_index.get(other.as_str()).copied()
    }

    /// What route `target` of a table in `table_vpc` does; a target that is gone blackholes.
    fn action(
        &self,
        target: &RouteTarget,
        table_vpc: Option<u32>,
        att_of_eni: &FxHashMap<&str, AttachmentIdx>,
    ) -> Action {
        let p = &self.parts;
        let pos = |found: Option<usize>, to: fn(u32) -> Action| match found {
            Some(i) => to(i as u32),
            None => Action::Blackhole,
        };
        match target {
            RouteTarget::Local => Action::Local,
            RouteTarget::Blackhole => Action::Blackhole,
            RouteTarget::InternetGateway(id) => pos(
                p.igws.iter().position(|g| &g.id == id),
                Action::InternetGateway,
            ),
            RouteTarget::GatewayEndpoint(id) => pos(
                p.gateway_endpoints.iter().position(|g| &g.id == id),
                Action::GatewayEndpoint,
            ),
            RouteTarget::GatewayLoadBalancerEndpoint(id) => pos(
                p.gwlb_endpoints.iter().position(|g| &g.id == id),
                Action::GwlbEndpoint,
            ),
            RouteTarget::NetworkInterface(id) => match att_of_eni.get(id.as_str()) {
                Some(&a) => Action::NetworkInterface(a),
                None => Action::Unsupported(Unsupported::DetachedInterface),
            },
            RouteTarget::PeeringConnection(id) => match self.peer_of(id, table_vpc) {
                Some(v) => Action::Peering(v),
                None => Action::Blackhole,
            },
            RouteTarget::NatGateway(_) => Action::Unsupported(Unsupported::NatGateway),
            RouteTarget::VpnGateway(id) => match p.vgws.iter().position(|g| &g.id == id) {
                Some(i) if !p.vgws[i].on_prem.is_empty() => Action::VpnGateway(i as u32),
                _ => Action::Unsupported(Unsupported::VpnGateway),
            },
            // Resolved to the table's VPC's attachment to that transit gateway.
            RouteTarget::TransitGateway(id) => {
                let tgw = self.c.transit_gateways.iter().position(|t| &t.id == id);
                match (tgw, table_vpc) {
                    (Some(t), Some(v)) => match p.tgw_by_vpc.get(&(v, t as u32)) {
                        Some(&a) => Action::TransitGateway(a),
                        None => Action::Blackhole,
                    },
                    _ => Action::Blackhole,
                }
            }
            // Only in transit gateway route tables (`transit`).
            RouteTarget::TransitGatewayAttachment(_) => Action::Blackhole,
        }
    }

    /// `actions[route_table][route]`, and each table's counters.
    fn route_actions(&mut self) -> Vec<Vec<Action>> {
        let att_of_eni: FxHashMap<&str, AttachmentIdx> = self
            .parts
            .attachments
            .iter()
            .enumerate()
            .filter(|(_, a)| matches!(a.kind, AttachmentKind::Eni(_)))
            .map(|(i, a)| (a.id.as_str(), i as AttachmentIdx))
            .collect();
        let tables = &self.snapshot.route_tables;
        let actions = tables
            .iter()
            .map(|t| {
                let table_vpc = self.vpc_index.get(t.vpc.as_str()).copied();
                t.routes
                    .iter()
                    .map(|r| self.action(&r.target, table_vpc, &att_of_eni))
                    .collect()
            })
            .collect();
        self.parts.route_table_counters = tables
            .iter()
            .map(|t| self.registry.entity("route_table", &t.id))
            .collect();
        actions
    }

    fn finish(self) -> Parts {
        self.parts
    }
}

impl Parts {
    fn into_fabric(
        self,
        actions: Vec<Vec<Action>>,
        snapshot: Arc<Snapshot>,
        registry: Arc<Registry>,
    ) -> Fabric {
        Fabric {
            generation: 0, // set when published (`SnapshotCell::publish`)
            snapshot,
            attachments: self.attachments,
            vpcs: self.vpcs,
            enis: self.enis,
            igws: self.igws,
            gateway_endpoints: self.gateway_endpoints,
            services: self.services,
            endpoints: self.endpoints,
            endpoint_enis: self.endpoint_enis,
            endpoint_services: self.endpoint_services,
            load_balancers: self.load_balancers,
            lb_nodes: self.lb_nodes,
            target_groups: self.target_groups,
            gwlb_endpoints: self.gwlb_endpoints,
            gwlb_endpoint_by_option: self.gwlb_endpoint_by_option,
            endpoint_eni_by_zone: self.endpoint_eni_by_zone,
            service_by_zone: self.service_by_zone,
            lb_node_by_zone: self.lb_node_by_zone,
            lb_node_by_client_zone: self.lb_node_by_client_zone,
            upstream: self.upstream,
            subnets: self.subnets,
            zones: self.zones,
            tgw_attachments: self.tgw_attachments,
            tgw_actions: self.tgw_actions,
            tgw_by_vpc: self.tgw_by_vpc,
            on_prem: self.on_prem,
            vgws: self.vgws,
            resolver_enis: self.resolver_enis,
            acl_counters: self.acl_counters,
            sg_denials: self.sg_denials,
            actions,
            route_table_counters: self.route_table_counters,
            registry,
            zone_down: false,
            zones_down: Vec::new(),
        }
    }
}
