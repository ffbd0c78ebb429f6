//! `vpcectl show NOUN`: one row function per kind of resource, one generic listing that
//! filters by `--id` and prints a table or JSON.

use std::io::Write;

use control::model::{
    Config, Endpoint, EndpointService, EndpointType, HostedZone, Instance, InternetGateway,
    LoadBalancer, NatGateway, NetworkInterface, PrefixList, SecurityGroup, Subnet, TargetGroup,
    Vpc,
};
use control::{Compiled, Snapshot};
use serde::Serialize;
use serde_json::{json, Value};

use super::{opt, pick, print_json, print_table, route_table_json, route_table_text, table};
use crate::vpcectl::{Failure, Noun, Output};

/// Where a listing prints, which `--id` it keeps and in what form.
struct Listing<'a, W: Write> {
    out: &'a mut W,
    id: Option<&'a str>,
    output: Output,
}

impl<W: Write> Listing<'_, W> {
    /// Prints `items` (those whose id is `--id`, when given) as JSON, or as a table of
    /// `header` with one `row` per item.
    fn print<T: Serialize>(
        &mut self,
        items: &[T],
        id_of: impl Fn(&T) -> &str,
        what: &str,
        header: &[&str],
        row: impl Fn(&T) -> Vec<String>,
    ) -> Result<(), Failure> {
        let items = pick(items, id_of, self.id, what)?;
        match self.output {
            Output::Json => print_json(self.out, &items),
            Output::Table => {
                let mut t = table(header);
                for x in items {
                    t.add_row(row(x));
                }
                print_table(self.out, &t)?;
                Ok(())
            }
        }
    }
}

pub fn show(
    out: &mut impl Write,
    compiled: &Compiled,
    what: Noun,
    id: Option<&str>,
    output: Output,
) -> Result<(), Failure> {
    let snap = &compiled.snapshot;
    let c: &Config = &snap.config;
    let mut l = Listing { out, id, output };
    match what {
        // Routed elsewhere by the caller: they need the dataplane's view or the daemon.
        Noun::Attachments | Noun::TargetHealth | Noun::Topology => Err(Failure {
            code: 1,
            message: "internal: attachments, target health and topology are not rendered here"
                .into(),
            json: None,
        }),
        Noun::Vpcs => l.print(&c.vpcs, |x| &x.id, "VPC", VPC, vpc_row),
        Noun::Subnets => l.print(
            &c.subnets,
            |x| &x.id,
            "subnet",
            SUBNET,
            |s| subnet_row(snap, s),
        ),
        Noun::PrefixLists => l.print(
            &c.prefix_lists,
            |x| &x.id,
            "prefix list",
            PREFIX_LIST,
            prefix_list_row,
        ),
        Noun::InternetGateways => l.print(
            &c.internet_gateways,
            |x| &x.id,
            "internet gateway",
            INTERNET_GATEWAY,
            |g| internet_gateway_row(snap, g),
        ),
        Noun::NatGateways => l.print(
            &c.nat_gateways,
            |x| &x.id,
            "NAT gateway",
            NAT_GATEWAY,
            nat_gateway_row,
        ),
        Noun::SecurityGroups => l.print(
            &c.security_groups,
            |x| &x.id,
            "security group",
            SECURITY_GROUP,
            security_group_row,
        ),
        Noun::NetworkAcls => l.print(
            &c.network_acls,
            |x| &x.id,
            "network ACL",
            NETWORK_ACL,
            network_acl_row,
        ),
        Noun::Instances => l.print(&c.instances, |x| &x.id, "instance", INSTANCE, instance_row),
        Noun::NetworkInterfaces => l.print(
            &c.network_interfaces,
            |x| &x.id,
            "network interface",
            NETWORK_INTERFACE,
            network_interface_row,
        ),
        Noun::Endpoints => endpoints(&mut l, c),
        Noun::EndpointServices => l.print(
            &c.endpoint_services,
            |x| &x.id,
            "endpoint service",
            ENDPOINT_SERVICE,
            |s| endpoint_service_row(c, s),
        ),
        Noun::LoadBalancers => l.print(
            &with_dns_names(c),
            |x| &x.id,
            "load balancer",
            LOAD_BALANCER,
            load_balancer_row,
        ),
        Noun::TargetGroups => l.print(
            &c.target_groups,
            |x| &x.id,
            "target group",
            TARGET_GROUP,
            target_group_row,
        ),
        Noun::HostedZones => l.print(
            &c.hosted_zones,
            |x| &x.id,
            "hosted zone",
            HOSTED_ZONE,
            hosted_zone_row,
        ),
        Noun::RouteTables => tables(
            &mut l,
            compiled,
            &snap.route_tables,
            "route table",
            route_table_json,
            route_table_text,
        ),
        Noun::TransitGatewayRouteTables => tables(
            &mut l,
            compiled,
            &snap.transit.tables,
            "transit gateway route table",
            super::tgw_route_table_json,
            super::tgw_route_table_text,
        ),
        Noun::TransitGateways
        | Noun::TransitGatewayAttachments
        | Noun::OnPremises
        | Noun::DirectConnectGateways
        | Noun::ResolverEndpoints
        | Noun::ResolverRules => beyond_one_vpc(&mut l, c, what),
    }
}

/// The listings of what lies beyond one VPC: transit gateways and their attachments,
/// on-premises networks, Resolver endpoints and rules.
fn beyond_one_vpc<W: Write>(l: &mut Listing<'_, W>, c: &Config, what: Noun) -> Result<(), Failure> {
    match what {
        Noun::TransitGateways => l.print(
            &c.transit_gateways,
            |x| &x.id,
            "transit gateway",
            TRANSIT_GATEWAY,
            |t| transit_gateway_row(c, t),
        ),
        Noun::TransitGatewayAttachments => l.print(
            &c.transit_gateway_attachments,
            |x| &x.id,
            "transit gateway attachment",
            TGW_ATTACHMENT,
            tgw_attachment_row,
        ),
        Noun::OnPremises => l.print(
            &c.on_premises,
            |x| &x.id,
            "on-premises network",
            ON_PREMISES,
            |o| on_premises_row(c, o),
        ),
        Noun::DirectConnectGateways => l.print(
            &c.direct_connect_gateways,
            |x| &x.id,
            "Direct Connect gateway",
            DX_GATEWAY,
            dx_gateway_row,
        ),
        Noun::ResolverEndpoints => l.print(
            &c.resolver_endpoints,
            |x| &x.id,
            "Resolver endpoint",
            RESOLVER_ENDPOINT,
            resolver_endpoint_row,
        ),
        Noun::ResolverRules => l.print(
            &c.resolver_rules,
            |x| &x.id,
            "Resolver rule",
            RESOLVER_RULE,
            resolver_rule_row,
        ),
        _ => Err(Failure {
            code: 1,
            message: "internal: not a noun beyond one VPC".into(),
            json: None,
        }),
    }
}

fn joined<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn or_dash<T: ToString>(x: Option<T>) -> String {
    x.map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

const VPC: &[&str] = &[
    "id",
    "name",
    "ipv4 cidrs",
    "ipv6 cidrs",
    "dns support",
    "dns hostnames",
];

fn vpc_row(v: &Vpc) -> Vec<String> {
    vec![
        v.id.clone(),
        opt(&v.name),
        joined(&v.cidr_blocks),
        joined(&v.ipv6_cidr_blocks),
        v.enable_dns_support.to_string(),
        v.enable_dns_hostnames.to_string(),
    ]
}

const SUBNET: &[&str] = &["id", "name", "vpc", "az", "cidr", "route table"];

fn subnet_row(snap: &Snapshot, s: &Subnet) -> Vec<String> {
    vec![
        s.id.clone(),
        opt(&s.name),
        s.vpc.clone(),
        s.availability_zone.clone(),
        s.cidr.to_string(),
        or_dash(snap.subnet_route_table(&s.id).map(|t| &t.id)),
    ]
}

const PREFIX_LIST: &[&str] = &["id", "name", "family", "max entries", "entries"];

fn prefix_list_row(p: &PrefixList) -> Vec<String> {
    let all: Vec<String> = p.entries.iter().map(|e| e.cidr().to_string()).collect();
    let entries = if all.len() > 4 {
        format!("{} … ({} in all)", all[..4].join(" "), all.len())
    } else {
        all.join(" ")
    };
    vec![
        p.id.clone(),
        p.name.clone(),
        format!("{:?}", p.address_family),
        or_dash(p.max_entries),
        entries,
    ]
}

const INTERNET_GATEWAY: &[&str] = &["id", "vpc", "edge route table"];

fn internet_gateway_row(snap: &Snapshot, g: &InternetGateway) -> Vec<String> {
    vec![
        g.id.clone(),
        g.vpc.clone(),
        or_dash(snap.gateway_route_table(&g.id).map(|t| &t.id)),
    ]
}

const NAT_GATEWAY: &[&str] = &["id", "subnet", "private ip", "public ip"];

fn nat_gateway_row(n: &NatGateway) -> Vec<String> {
    vec![
        n.id.clone(),
        n.subnet.clone(),
        n.private_ip.to_string(),
        or_dash(n.public_ip),
    ]
}

const SECURITY_GROUP: &[&str] = &["id", "name", "vpc", "ingress rules", "egress rules"];

fn security_group_row(g: &SecurityGroup) -> Vec<String> {
    vec![
        g.id.clone(),
        opt(&g.name),
        g.vpc.clone(),
        g.ingress.len().to_string(),
        g.egress
            .as_ref()
            .map(|e| e.len().to_string())
            .unwrap_or_else(|| "all (default)".into()),
    ]
}

const NETWORK_ACL: &[&str] = &[
    "id", "name", "vpc", "default", "subnets", "ingress", "egress",
];

/// Rules in evaluation order, AWS's console style: `100 allow tcp 1024-65535 0.0.0.0/0`, the
/// final `* deny` last.
fn acl_rules(rules: &[control::model::NetworkAclRule]) -> String {
    let mut sorted: Vec<_> = rules.iter().collect();
    sorted.sort_by_key(|r| r.rule);
    sorted
        .iter()
        .map(|r| {
            let action = match r.action {
                control::model::AclAction::Allow => "allow",
                control::model::AclAction::Deny => "deny",
            };
            let ports = r.ports.map(|p| format!(" {p}")).unwrap_or_default();
            format!("{} {action} {}{ports} {}", r.rule, r.protocol, r.cidr)
        })
        .chain(std::iter::once("* deny".to_string()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn network_acl_row(a: &control::model::NetworkAcl) -> Vec<String> {
    vec![
        a.id.clone(),
        opt(&a.name),
        a.vpc.clone(),
        if a.default { "yes" } else { "no" }.into(),
        a.subnets.join(","),
        acl_rules(&a.ingress),
        acl_rules(&a.egress),
    ]
}

const INSTANCE: &[&str] = &[
    "id",
    "name",
    "subnet",
    "private ip",
    "eni",
    "security groups",
];

fn instance_row(i: &Instance) -> Vec<String> {
    vec![
        i.id.clone(),
        opt(&i.name),
        i.subnet.clone(),
        i.private_ip.to_string(),
        i.eni_id(),
        i.security_groups.join(","),
    ]
}

const NETWORK_INTERFACE: &[&str] = &[
    "id",
    "subnet",
    "private ip",
    "source/dest check",
    "security groups",
];

fn network_interface_row(n: &NetworkInterface) -> Vec<String> {
    vec![
        n.id.clone(),
        n.subnet.clone(),
        n.private_ip.to_string(),
        n.source_dest_check.to_string(),
        n.security_groups.join(","),
    ]
}

/// Endpoints carry two things the model does not: the connection state the service decided
/// and the ids of their ENIs.
fn endpoints<W: Write>(l: &mut Listing<'_, W>, c: &Config) -> Result<(), Failure> {
    let items = pick(&c.endpoints, |x| x.id.as_str(), l.id, "endpoint")?;
    match l.output {
        Output::Json => {
            let v: Vec<Value> = items.iter().map(|e| endpoint_json(c, e)).collect();
            print_json(l.out, &v)
        }
        Output::Table => {
            let mut t = table(&[
                "id",
                "type",
                "vpc",
                "service",
                "state",
                "attached to",
                "dns names",
            ]);
            for e in items {
                t.add_row(endpoint_row(c, e));
            }
            print_table(l.out, &t)?;
            Ok(())
        }
    }
}

fn endpoint_json(c: &Config, e: &Endpoint) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    v["state"] = json!(c.connection_state(e).to_string());
    v["network_interface_ids"] = json!((0..e.network_interfaces.len())
        .map(|k| e.eni_id(k))
        .collect::<Vec<_>>());
    if e.endpoint_type == EndpointType::Interface {
        v["dns_names"] = json!(control::dns::endpoint_names(c, e));
    }
    v
}

/// An interface endpoint's DNS names: regional, zonal, then private ones.
fn dns_names(c: &Config, e: &Endpoint) -> String {
    if e.endpoint_type != EndpointType::Interface {
        return "-".into();
    }
    let n = control::dns::endpoint_names(c, e);
    let mut all = vec![n.regional];
    all.extend(n.zonal.into_iter().map(|z| z.name));
    all.extend(n.private);
    all.join(" ")
}

fn endpoint_row(c: &Config, e: &Endpoint) -> Vec<String> {
    let attached = match e.endpoint_type {
        EndpointType::Gateway => e.route_tables.join(","),
        _ => e
            .network_interfaces
            .iter()
            .enumerate()
            .map(|(k, n)| format!("{} {} ({})", e.eni_id(k), n.private_ip, n.subnet))
            .collect::<Vec<_>>()
            .join(", "),
    };
    vec![
        e.id.clone(),
        e.endpoint_type.to_string(),
        e.vpc.clone(),
        e.service.clone(),
        c.connection_state(e).to_string(),
        attached,
        dns_names(c, e),
    ]
}

const ENDPOINT_SERVICE: &[&str] = &[
    "id",
    "name",
    "load balancers",
    "acceptance required",
    "connections",
];

fn endpoint_service_row(c: &Config, s: &EndpointService) -> Vec<String> {
    vec![
        s.id.clone(),
        s.service_name(&c.region),
        s.load_balancers.join(","),
        s.acceptance_required.to_string(),
        s.connections
            .iter()
            .map(|k| format!("{}={}", k.endpoint, k.state))
            .collect::<Vec<_>>()
            .join(","),
    ]
}

/// The load balancers with each NLB's DNS name filled in (derived when not given).
fn with_dns_names(c: &Config) -> Vec<LoadBalancer> {
    let mut v = c.load_balancers.clone();
    for lb in v
        .iter_mut()
        .filter(|l| l.lb_type == control::model::LoadBalancerType::Network)
    {
        lb.dns_name = Some(control::dns::load_balancer_dns_name(lb, &c.region));
    }
    v
}

const LOAD_BALANCER: &[&str] = &[
    "id",
    "type",
    "vpc",
    "dns name",
    "nodes",
    "cross-zone",
    "security groups",
    "enforce sg on privatelink",
    "listeners",
];

fn load_balancer_row(l: &LoadBalancer) -> Vec<String> {
    let nodes: Vec<String> = l
        .subnet_mappings
        .iter()
        .map(|m| format!("{}({})", m.private_ip, m.subnet))
        .collect();
    let listeners: Vec<String> = l
        .listeners
        .iter()
        .map(|x| match (x.protocol, x.port) {
            (Some(p), Some(port)) => format!("{p}:{port}->{}", x.target_group),
            _ => format!("all->{}", x.target_group),
        })
        .collect();
    vec![
        l.id.clone(),
        format!("{:?}", l.lb_type).to_lowercase(),
        l.vpc.clone(),
        l.dns_name.clone().unwrap_or_else(|| "-".into()),
        nodes.join(","),
        if l.cross_zone { "on" } else { "off" }.into(),
        if l.security_groups.is_empty() {
            "-".into()
        } else {
            l.security_groups.join(",")
        },
        l.enforce_security_group_inbound_rules_on_private_link_traffic
            .to_string(),
        listeners.join(","),
    ]
}

const TARGET_GROUP: &[&str] = &[
    "id",
    "protocol",
    "port",
    "targets",
    "health check",
    "cross-zone",
];

fn target_group_row(g: &TargetGroup) -> Vec<String> {
    let targets: Vec<String> = g
        .targets
        .iter()
        .map(|t| match (&t.instance, t.ip) {
            (Some(i), _) => i.clone(),
            (_, Some(ip)) => ip.to_string(),
            _ => "?".into(),
        })
        .collect();
    let check = format!(
        "{:?} {}",
        g.health_check.protocol,
        g.health_check.path.clone().unwrap_or_default()
    );
    vec![
        g.id.clone(),
        g.protocol.to_string(),
        g.port.to_string(),
        targets.join(","),
        check.trim().to_string(),
        match g.cross_zone {
            None => "inherit",
            Some(true) => "on",
            Some(false) => "off",
        }
        .into(),
    ]
}

const HOSTED_ZONE: &[&str] = &["id", "name", "vpcs", "records"];

fn hosted_zone_row(z: &HostedZone) -> Vec<String> {
    vec![
        z.id.clone(),
        z.name.clone(),
        z.vpcs.join(","),
        z.records.len().to_string(),
    ]
}

const TRANSIT_GATEWAY: &[&str] = &["id", "name", "attachments", "route tables"];

/// A list of ids, or `-` for none.
fn ids(v: Vec<&str>) -> String {
    if v.is_empty() {
        "-".to_string()
    } else {
        v.join(",")
    }
}

fn transit_gateway_row(c: &Config, t: &control::model::TransitGateway) -> Vec<String> {
    vec![
        t.id.clone(),
        opt(&t.name),
        ids(c
            .transit_gateway_attachments
            .iter()
            .filter(|a| a.transit_gateway == t.id)
            .map(|a| a.id.as_str())
            .collect()),
        ids(c
            .transit_gateway_route_tables
            .iter()
            .filter(|r| r.transit_gateway == t.id)
            .map(|r| r.id.as_str())
            .collect()),
    ]
}

const TGW_ATTACHMENT: &[&str] = &[
    "id",
    "transit gateway",
    "type",
    "resource",
    "association",
    "propagations",
    "appliance mode",
];

fn tgw_attachment_row(a: &control::model::TransitGatewayAttachment) -> Vec<String> {
    let resource = match a.attachment_type {
        control::model::TgwAttachmentType::Vpc => format!(
            "{} ({})",
            a.vpc.as_deref().unwrap_or("-"),
            a.subnets.join(",")
        ),
        control::model::TgwAttachmentType::Vpn => a.vpn_connection.clone().unwrap_or_default(),
        control::model::TgwAttachmentType::Peering => {
            a.peer_transit_gateway.clone().unwrap_or_default()
        }
        control::model::TgwAttachmentType::DirectConnectGateway => {
            a.direct_connect_gateway.clone().unwrap_or_default()
        }
    };
    vec![
        a.id.clone(),
        a.transit_gateway.clone(),
        a.attachment_type.as_str().into(),
        resource,
        opt(&a.association),
        if a.propagations.is_empty() {
            "-".into()
        } else {
            a.propagations.join(",")
        },
        if a.appliance_mode { "on" } else { "off" }.into(),
    ]
}

const DX_GATEWAY: &[&str] = &[
    "id",
    "name",
    "on-premises",
    "associations (allowed prefixes)",
];

fn dx_gateway_row(d: &control::model::DirectConnectGateway) -> Vec<String> {
    let assoc: Vec<String> = d
        .associations
        .iter()
        .map(|a| {
            if a.allowed_prefixes.is_empty() {
                format!("{} (the VPC's CIDRs)", a.gateway)
            } else {
                format!("{} ({})", a.gateway, joined(&a.allowed_prefixes))
            }
        })
        .collect();
    vec![
        d.id.clone(),
        opt(&d.name),
        d.on_premises.join(","),
        ids(assoc.iter().map(String::as_str).collect()),
    ]
}

const ON_PREMISES: &[&str] = &[
    "id",
    "name",
    "cidrs",
    "customer gateway",
    "vpn connection",
    "direct connect gateways",
];

fn on_premises_row(c: &Config, o: &control::model::OnPremises) -> Vec<String> {
    vec![
        o.id.clone(),
        opt(&o.name),
        o.cidrs
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(","),
        o.customer_gateway.clone(),
        c.vpn_connections
            .iter()
            .find(|v| v.on_premises == o.id)
            .map_or("-".into(), |v| {
                format!(
                    "{} to {}",
                    v.id,
                    v.transit_gateway
                        .as_deref()
                        .or(v.vpn_gateway.as_deref())
                        .unwrap_or("-")
                )
            }),
        ids(c
            .direct_connect_gateways
            .iter()
            .filter(|d| d.on_premises.contains(&o.id))
            .map(|d| d.id.as_str())
            .collect()),
    ]
}

const RESOLVER_ENDPOINT: &[&str] = &["id", "direction", "vpc", "addresses", "security groups"];

fn resolver_endpoint_row(e: &control::model::ResolverEndpoint) -> Vec<String> {
    vec![
        e.id.clone(),
        format!("{:?}", e.direction).to_lowercase(),
        e.vpc.clone(),
        e.ip_addresses
            .iter()
            .map(|a| format!("{} ({})", a.ip, a.subnet))
            .collect::<Vec<_>>()
            .join(","),
        e.security_groups.join(","),
    ]
}

const RESOLVER_RULE: &[&str] = &["id", "domain", "type", "endpoint", "targets", "vpcs"];

fn resolver_rule_row(r: &control::model::ResolverRule) -> Vec<String> {
    vec![
        r.id.clone(),
        r.domain.clone(),
        format!("{:?}", r.rule_type).to_lowercase(),
        opt(&r.resolver_endpoint),
        r.target_ips
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(","),
        r.vpcs.join(","),
    ]
}

/// Compiled route tables (a VPC's or a transit gateway's) of `what`: each as JSON, or as a
/// heading and its routes — their compiled routes (state, origin, target) rather than the
/// model.
fn tables<W: Write>(
    l: &mut Listing<'_, W>,
    compiled: &Compiled,
    all: &[control::compile::CompiledRouteTable],
    what: &str,
    json: fn(&Compiled, &control::compile::CompiledRouteTable) -> Value,
    text: fn(&mut W, &Compiled, &control::compile::CompiledRouteTable) -> std::io::Result<()>,
) -> Result<(), Failure> {
    let tables = pick(all, |t| t.id.as_str(), l.id, what)?;
    match l.output {
        Output::Json => {
            let v: Vec<Value> = tables.iter().map(|t| json(compiled, t)).collect();
            print_json(l.out, &v)
        }
        Output::Table => {
            for (n, t) in tables.iter().enumerate() {
                if n > 0 {
                    writeln!(l.out)?;
                }
                text(l.out, compiled, t)?;
            }
            Ok(())
        }
    }
}
