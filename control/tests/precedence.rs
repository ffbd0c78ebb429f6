//! Route precedence as SPEC.md states it: the longest prefix wins whatever the route's kind;
//! at equal length local > static > prefix list > propagated; two prefix lists holding the same
//! CIDR resolve to the lowest list id; nothing overrides `local` from a list or propagation.

use std::net::IpAddr;
use std::path::Path;

use control::compile::{RouteOrigin, RouteState, RouteTarget};
use control::{compile, load_str, Snapshot};

fn snapshot(routes: &str, extra: &str) -> Snapshot {
    let text = format!(
        r#"region = "us-east-1"

[[vpcs]]
id = "vpc-1"
cidr_blocks = ["10.0.0.0/16"]

[[subnets]]
id = "subnet-a"
vpc = "vpc-1"
availability_zone = "us-east-1a"
cidr = "10.0.1.0/24"

[[internet_gateways]]
id = "igw-1"
vpc = "vpc-1"

[[vpn_gateways]]
id = "vgw-1"
vpc = "vpc-1"

[[vpn_gateways]]
id = "vgw-0"
vpc = "vpc-1"

[[prefix_lists]]
id = "pl-b"
name = "b"
address_family = "IPv4"
max_entries = 10
entries = ["52.216.0.0/15", "172.16.0.0/12", "10.0.7.0/24"]

[[prefix_lists]]
id = "pl-a"
name = "a"
address_family = "IPv4"
max_entries = 10
entries = ["52.216.0.0/15"]

[[route_tables]]
id = "rtb-1"
vpc = "vpc-1"
main = true
routes = [
{routes}
]
{extra}
"#
    );
    let loaded = load_str("p.toml", text, Path::new(".")).expect("parses");
    match compile(&loaded) {
        Ok(c) => c.snapshot,
        Err(e) => panic!("{e}"),
    }
}

fn target(s: &Snapshot, addr: &str) -> Option<String> {
    let a: IpAddr = addr.parse().unwrap();
    s.route_table("rtb-1")
        .unwrap()
        .lookup(a)
        .map(|r| r.target.to_string())
}

#[test]
fn prefix_list_route_beats_a_shorter_static_route() {
    let s = snapshot(
        r#"{ destination = "0.0.0.0/0", target = "igw-1" },
           { destination = "pl-b", target = "blackhole" },"#,
        "",
    );
    assert_eq!(target(&s, "52.216.39.26").as_deref(), Some("blackhole"));
    assert_eq!(target(&s, "8.8.8.8").as_deref(), Some("igw-1"));
}

#[test]
fn static_route_beats_a_prefix_list_route_of_equal_length() {
    let s = snapshot(
        r#"{ destination = "pl-b", target = "blackhole" },
           { destination = "52.216.0.0/15", target = "igw-1" },"#,
        "",
    );
    let t = s.route_table("rtb-1").unwrap();
    let r = t.lookup("52.216.39.26".parse().unwrap()).unwrap();
    assert_eq!(r.target, RouteTarget::InternetGateway("igw-1".into()));
    assert!(matches!(r.origin, RouteOrigin::Static { index: 1 }));
    // The list's entry is still listed, shadowed by the static route.
    let shadowed = t
        .routes
        .iter()
        .find(|r| {
            matches!(r.origin, RouteOrigin::PrefixList { .. })
                && r.destination.to_string() == "52.216.0.0/15"
        })
        .unwrap();
    assert!(matches!(shadowed.state, RouteState::Shadowed { .. }));
    let ex = t.explain(&s.config, "52.216.39.26".parse().unwrap());
    assert!(
        ex.reason
            .contains("local > static > prefix list > propagated"),
        "{}",
        ex.reason
    );
}

#[test]
fn longer_static_route_beats_a_prefix_list_route_and_vice_versa() {
    let s = snapshot(
        r#"{ destination = "pl-b", target = "blackhole" },
           { destination = "52.216.39.0/24", target = "igw-1" },
           { destination = "172.0.0.0/8", target = "igw-1" },"#,
        "",
    );
    assert_eq!(
        target(&s, "52.216.39.26").as_deref(),
        Some("igw-1"),
        "/24 static beats /15 list"
    );
    assert_eq!(
        target(&s, "52.216.40.1").as_deref(),
        Some("blackhole"),
        "/15 list elsewhere"
    );
    assert_eq!(
        target(&s, "172.16.0.1").as_deref(),
        Some("blackhole"),
        "/12 list beats /8 static"
    );
    assert_eq!(target(&s, "172.99.0.1").as_deref(), Some("igw-1"));
}

#[test]
fn equal_prefix_in_two_lists_resolves_to_the_lowest_list_id() {
    // pl-a and pl-b both hold 52.216.0.0/15; pl-a < pl-b whatever the order of the routes.
    for routes in [
        r#"{ destination = "pl-b", target = "igw-1" },
           { destination = "pl-a", target = "blackhole" },"#,
        r#"{ destination = "pl-a", target = "blackhole" },
           { destination = "pl-b", target = "igw-1" },"#,
    ] {
        let s = snapshot(routes, "");
        assert_eq!(target(&s, "52.216.1.1").as_deref(), Some("blackhole"));
        let t = s.route_table("rtb-1").unwrap();
        let ex = t.explain(&s.config, "52.216.1.1".parse().unwrap());
        assert!(ex.reason.contains("lowest prefix-list id"), "{}", ex.reason);
        assert_eq!(ex.candidates.len(), 2);
    }
}

#[test]
fn propagated_loses_at_equal_length_and_never_overrides_local() {
    let s = snapshot(
        r#"{ destination = "192.168.0.0/16", target = "vgw-1", propagated = true },
           { destination = "192.168.0.0/16", target = "blackhole" },
           { destination = "192.169.0.0/16", target = "vgw-1", propagated = true },
           { destination = "192.169.0.0/16", target = "vgw-0", propagated = true },
           { destination = "10.0.1.0/24", target = "vgw-1", propagated = true },
           { destination = "pl-a", target = "igw-1" },"#,
        "",
    );
    assert_eq!(
        target(&s, "192.168.1.1").as_deref(),
        Some("blackhole"),
        "static beats propagated"
    );
    assert_eq!(
        target(&s, "192.169.1.1").as_deref(),
        Some("vgw-0"),
        "lowest target id among propagated"
    );
    assert_eq!(
        target(&s, "10.0.1.5").as_deref(),
        Some("local"),
        "propagated /24 inside the VPC is ignored"
    );
    let t = s.route_table("rtb-1").unwrap();
    let ignored = t
        .routes
        .iter()
        .find(|r| r.destination.to_string() == "10.0.1.0/24")
        .unwrap();
    assert!(matches!(ignored.state, RouteState::Ignored { .. }));
}

#[test]
fn prefix_list_entries_inside_the_vpc_never_override_local() {
    let s = snapshot(r#"{ destination = "pl-b", target = "igw-1" },"#, "");
    assert_eq!(target(&s, "10.0.7.9").as_deref(), Some("local"));
}

#[test]
fn gateway_endpoint_association_adds_its_prefix_list() {
    let s = snapshot(
        r#"{ destination = "0.0.0.0/0", target = "igw-1" },"#,
        r#"
[[aws_services]]
name = "com.amazonaws.us-east-1.s3"
endpoint_types = ["gateway"]
prefix_list = "pl-a"

[[endpoints]]
id = "vpce-gw"
type = "gateway"
vpc = "vpc-1"
service = "com.amazonaws.us-east-1.s3"
route_tables = ["rtb-1"]
"#,
    );
    let t = s.route_table("rtb-1").unwrap();
    let r = t.lookup("52.216.39.26".parse().unwrap()).unwrap();
    assert_eq!(r.target, RouteTarget::GatewayEndpoint("vpce-gw".into()));
    match &r.origin {
        RouteOrigin::PrefixList {
            list,
            endpoint,
            index,
            ..
        } => {
            assert_eq!(list, "pl-a");
            assert_eq!(endpoint.as_deref(), Some("vpce-gw"));
            assert_eq!(*index, None);
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(target(&s, "8.8.8.8").as_deref(), Some("igw-1"));
    assert_eq!(target(&s, "10.0.1.125").as_deref(), Some("local"));
    assert_eq!(
        s.subnet_route_table("subnet-a").unwrap().id,
        "rtb-1",
        "main table"
    );
}

#[test]
fn no_route_is_an_answer_not_an_error() {
    let s = snapshot("", "");
    assert_eq!(target(&s, "8.8.8.8"), None);
    let t = s.route_table("rtb-1").unwrap();
    let ex = t.explain(&s.config, "8.8.8.8".parse().unwrap());
    assert_eq!(ex.winner, None);
    assert!(ex.reason.contains("no route"));
}

#[test]
fn replacing_the_local_target_with_an_appliance() {
    let s = snapshot(
        r#"{ destination = "10.0.0.0/16", target = "eni-fw" },"#,
        r#"
[[network_interfaces]]
id = "eni-fw"
subnet = "subnet-a"
private_ip = "10.0.1.9"
source_dest_check = false
"#,
    );
    assert_eq!(target(&s, "10.0.200.1").as_deref(), Some("eni-fw"));
}
