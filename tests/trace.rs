//! `vpcectl trace` on the seed scenarios: the paths the articles draw, the article's two
//! failures in order, and the codes and exit statuses users script against.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use serde_json::Value;

fn vpcectl(args: &[&str]) -> Output {
    std::process::Command::new(bin("vpcectl"))
        .args(args)
        .output()
        .unwrap()
}

fn trace(file: &Path, from: &str, to: &str, port: &str) -> (Option<i32>, Value) {
    let o = vpcectl(&[
        "trace",
        file.to_str().unwrap(),
        "--from",
        from,
        "--to",
        to,
        "--port",
        port,
        "-o",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code(), v)
}

fn code(v: &Value) -> &str {
    v["trace"]["forward"]["blocked"]["code"]
        .as_str()
        .or(v["trace"]["reply"]["blocked"]["code"].as_str())
        .unwrap_or("reachable")
}

fn components(v: &Value, leg: &str) -> Vec<String> {
    v["trace"][leg]["hops"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|h| h["component"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The hands-on example's two fixes (seed 004): the NLB's groups not enforced on PrivateLink
/// traffic, cross-zone load balancing on.
const NO_ENFORCE: (&str, &str) = (
    "enforce_security_group_inbound_rules_on_private_link_traffic = true",
    "enforce_security_group_inbound_rules_on_private_link_traffic = false",
);
const CROSS_ZONE: (&str, &str) = ("cross_zone = false", "cross_zone = true");

fn variant(dir: &Path, edits: &[(&str, &str)]) -> PathBuf {
    variant_as(dir, &format!("v{}", edits.len()), edits)
}

/// The hands-on example with `edits`, written to `dir/NAME.toml`.
fn variant_as(dir: &Path, name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(example("privatelink-hands-on.toml")).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn seed_004_the_articles_failures_in_order_then_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let pending = (
        "connections = [{ endpoint = \"vpce-0a000000000000001\", state = \"available\" }]",
        "",
    );
    let (no_enforce, cross_zone) = (NO_ENFORCE, CROSS_ZONE);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![pending], "ENDPOINT_CONNECTION_NOT_ACCEPTED"),
        (vec![], "LOAD_BALANCER_SECURITY_GROUP_INGRESS_DENIED"),
        (vec![no_enforce], "ELB_NOT_CROSSZONE"),
        (vec![no_enforce, cross_zone], "reachable"),
    ];
    for (edits, want) in cases {
        let sub = tempfile::tempdir_in(dir.path()).unwrap();
        let file = variant(sub.path(), &edits);
        let (status, v) = trace(&file, "EC2-A", "vpce-0a000000000000001", "80");
        assert_eq!(code(&v), want, "{v:#}");
        assert_eq!(status, Some(if want == "reachable" { 0 } else { 3 }));
        let why = v["trace"]["forward"]["blocked"]["explanation"]
            .as_str()
            .unwrap_or_default();
        match want {
            "ENDPOINT_CONNECTION_NOT_ACCEPTED" => {
                assert!(why.contains("vpcectl endpoint-connections accept vpce-0a000000000000001"))
            }
            "LOAD_BALANCER_SECURITY_GROUP_INGRESS_DENIED" => {
                assert!(why.contains("enforce_security_group_inbound_rules_on_private_link_traffic"))
            }
            "ELB_NOT_CROSSZONE" => assert!(why.contains("cross_zone"), "{why}"),
            _ => {
                // The whole way: endpoint, listener, target, translation, and back.
                let there = components(&v, "forward");
                for c in [
                    "vpc_endpoint",
                    "load_balancer_listener",
                    "load_balancer_target",
                    "nat",
                ] {
                    assert!(there.contains(&c.to_string()), "{c}: {there:?}");
                }
                assert!(components(&v, "reply").contains(&"nat".to_string()));
                assert_eq!(v["trace"]["reply"]["delivered_to"], "eni-0a00000000000000a");
            }
        }
    }
}

/// The peered consumer of issue 22's bug: an instance in a VPC peered with the endpoint's VPC
/// reaches the interface endpoint, and the endpoint's reply is routed back over the peering
/// connection by the endpoint subnet's route table (it used to be delivered only inside the
/// endpoint's VPC, and dropped as CANNOT_ROUTE).
#[test]
fn a_peered_consumer_reaches_an_interface_endpoint_and_gets_its_reply() {
    let dir = tempfile::tempdir().unwrap();
    let peer = std::fs::read_to_string(root().join("tests/fixtures/peered-consumer.toml")).unwrap()
        + "\n# ---- provider: privatelink-B";
    let file = variant(
        dir.path(),
        &[
            (
                "enforce_security_group_inbound_rules_on_private_link_traffic = true",
                "enforce_security_group_inbound_rules_on_private_link_traffic = false",
            ),
            CROSS_ZONE,
            (
                "routes = [{ destination = \"0.0.0.0/0\", target = \"nat-0a000000000000001\" }]",
                "routes = [{ destination = \"0.0.0.0/0\", target = \"nat-0a000000000000001\" }, { destination = \"10.9.0.0/16\", target = \"pcx-0c000000000000001\" }]",
            ),
            (
                "description = \"HTTP from EC2-A-sg\" },",
                "description = \"HTTP from EC2-A-sg\" },\n  { protocol = \"tcp\", ports = 80, cidr = \"10.9.0.0/16\", description = \"HTTP from the peered VPC\" },",
            ),
            ("# ---- provider: privatelink-B", &peer),
        ],
    );
    let (status, v) = trace(&file, "EC2-C", "vpce-0a000000000000001", "80");
    assert_eq!((status, code(&v)), (Some(0), "reachable"), "{v:#}");
    assert_eq!(v["trace"]["reply"]["delivered_to"], "eni-0c00000000000000a");
    // Without the route back, the endpoint subnet's table sends the reply where its default
    // route goes (here a NAT gateway), and the trace shows that table deciding.
    let sub = tempfile::tempdir_in(dir.path()).unwrap();
    let text = std::fs::read_to_string(&file).unwrap().replace(
        ", { destination = \"10.9.0.0/16\", target = \"pcx-0c000000000000001\" }",
        "",
    );
    let no_route = sub.path().join("no-route.toml");
    std::fs::write(&no_route, text).unwrap();
    let (status, v) = trace(&no_route, "EC2-C", "vpce-0a000000000000001", "80");
    assert_eq!(status, Some(3), "{v:#}");
    let blocked = &v["trace"]["reply"]["blocked"];
    assert!(!blocked.is_null(), "the reply is what fails: {v:#}");
    assert_eq!(blocked["code"], "NAT_GATEWAY_NOT_SUPPORTED", "{v:#}");
    let hops = v["trace"]["reply"]["hops"].as_array().unwrap();
    let last = hops.last().unwrap();
    assert_eq!(
        (&last["component"], &last["id"]),
        (&"route_table".into(), &"rtb-0a000000000000002".into()),
        "{v:#}"
    );
}

#[test]
fn seed_000_paths() {
    let f = example("s3-endpoints.toml");
    // Gateway endpoint: S3's address, addresses unchanged.
    let (_, v) = trace(&f, "i-08c0b194dec370347", "52.216.39.26", "443");
    assert_eq!(code(&v), "reachable", "{v:#}");
    assert!(components(&v, "forward").contains(&"vpc_endpoint".to_string()));
    assert_eq!(
        v["trace"]["forward"]["delivered_to"],
        "com.amazonaws.us-east-1.s3"
    );
    // The internet through the gateway, translated.
    let (_, v) = trace(&f, "i-08c0b194dec370347", "8.8.8.8", "443");
    assert_eq!(code(&v), "reachable");
    assert!(components(&v, "forward").contains(&"internet_gateway".to_string()));
    // The blackholed range.
    let (status, v) = trace(&f, "i-08c0b194dec370347", "192.0.2.1", "443");
    assert_eq!((status, code(&v)), (Some(3), "BLACKHOLE_ROUTE"));
    // Private DNS: the S3 name answers the interface endpoint's ENI.
    let (_, v) = trace(
        &f,
        "i-08c0b194dec370347",
        "zenn-privatelink.s3.us-east-1.amazonaws.com",
        "443",
    );
    assert_eq!(code(&v), "reachable", "{v:#}");
    assert!(v["resolved"].as_str().unwrap().contains("10.0.1.125"));
    // From the internet: HTTP is allowed in, SSH is not.
    let (_, v) = trace(&f, "internet", "i-08c0b194dec370347", "80");
    assert_eq!(code(&v), "reachable", "{v:#}");
    let (_, v) = trace(&f, "internet", "i-08c0b194dec370347", "22");
    assert_eq!(code(&v), "SECURITY_GROUP_INGRESS_DENIED");
}

#[test]
fn seed_001_through_the_appliance_and_back() {
    // The internet to the web server: the IGW's edge route table sends it to the GWLB
    // endpoint, GENEVE to an appliance, back, on to the server; the reply leaves by the
    // application subnet's default route through the same endpoint and appliance.
    let f = example("gwlb-inspection.toml");
    let (status, v) = trace(&f, "internet", "i-0c00000000000000c", "80");
    assert_eq!((status, code(&v)), (Some(0), "reachable"), "{v:#}");
    let forward = components(&v, "forward");
    for c in [
        "vpc_endpoint",
        "gateway_load_balancer",
        "geneve",
        "gwlb_appliance",
    ] {
        assert!(forward.contains(&c.to_string()), "{c}: {forward:?}");
    }
    let appliance = v["trace"]["forward"]["appliance"].as_str().unwrap();
    assert!(appliance.starts_with("i-0c0000000000000a"), "{appliance}");
    assert_eq!(
        v["trace"]["reply"]["appliance"], appliance,
        "the same appliance both ways"
    );
    assert!(components(&v, "reply").contains(&"gwlb_appliance".to_string()));
    let hops = &v["trace"]["forward"]["hops"];
    assert!(
        hops.as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == "rtb-0c0000000000000e0"
                && h["detail"]
                    .as_str()
                    .unwrap()
                    .contains("vpce-0c000000000000001")),
        "the edge route to the GWLB endpoint: {hops:#}"
    );
    // The appliances' group refuses GENEVE: stopped at the appliance's security group.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let edit = |edits: &[(&str, &str)]| -> PathBuf {
        let mut text = std::fs::read_to_string(&f).unwrap();
        for (a, b) in edits {
            assert!(text.contains(a), "{a}");
            text = text.replace(a, b);
        }
        let p = dir.join(format!("g{}.toml", text.len()));
        std::fs::write(&p, text).unwrap();
        p
    };
    let no_geneve = edit(&[("{ protocol = \"udp\", ports = 6081, cidr = \"10.100.0.0/16\", description = \"GENEVE from the GWLB\" },", "")]);
    let (status, v) = trace(&no_geneve, "internet", "i-0c00000000000000c", "80");
    assert_eq!(
        (status, code(&v)),
        (Some(3), "SECURITY_GROUP_INGRESS_DENIED"),
        "{v:#}"
    );
    // The reply bypasses the endpoint (the application subnet routes straight to the IGW):
    // asymmetric, the appliance sees half the flow.
    let bypass = edit(&[(
        "routes = [{ destination = \"0.0.0.0/0\", target = \"vpce-0c000000000000001\" }]",
        "routes = [{ destination = \"0.0.0.0/0\", target = \"igw-0c000000000000001\" }]",
    )]);
    let (status, v) = trace(&bypass, "internet", "i-0c00000000000000c", "80");
    assert_eq!(
        (status, code(&v)),
        (Some(3), "GWLB_ASYMMETRIC_RETURN_PATH"),
        "{v:#}"
    );
    assert!(v["trace"]["reply"]["blocked"]["explanation"]
        .as_str()
        .unwrap()
        .contains("bypasses"));
    // The endpoint's subnet sends returned packets back to the endpoint: a loop.
    let looped = edit(&[(
        "routes = [{ destination = \"0.0.0.0/0\", target = \"igw-0c000000000000001\" }]",
        "routes = [{ destination = \"10.0.1.0/24\", target = \"vpce-0c000000000000001\" }]",
    )]);
    let (status, v) = trace(&looped, "internet", "i-0c00000000000000c", "80");
    assert_eq!((status, code(&v)), (Some(3), "GWLB_ROUTE_LOOP"), "{v:#}");
    // The web server's own traffic to the internet goes through the appliance as well.
    let (status, v) = trace(&f, "i-0c00000000000000c", "8.8.8.8", "443");
    assert_eq!((status, code(&v)), (Some(0), "reachable"), "{v:#}");
    assert!(v["trace"]["forward"]["appliance"].is_string());
}

#[test]
fn all_pairs_and_bad_questions() {
    let f = example("s3-endpoints.toml");
    let o = vpcectl(&["trace", "--all-pairs", f.to_str().unwrap(), "-o", "json"]);
    assert!(o.status.success());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["pairs"].as_array().unwrap().len(), 2);
    assert!(v["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["reachable"] == true));
    for (from, to) in [
        ("i-nope", "8.8.8.8"),
        ("i-08c0b194dec370347", "no-such-thing"),
    ] {
        let o = vpcectl(&["trace", f.to_str().unwrap(), "--from", from, "--to", to]);
        assert_eq!(o.status.code(), Some(2), "{from} {to}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("s3-endpoints.toml"), "{err}");
    }
}

/// `--fragmented`: the request as two IPv4 fragments. The later fragment follows the first
/// (it carries the ports): to an open port it is delivered, the trace naming the fragment hop;
/// to a closed one the first fragment is what the security group stops; IPv6 is a bad
/// question (exit 3 with BAD_QUESTION).
#[test]
fn fragmented_requests_follow_their_first_fragment() {
    let f = example("s3-endpoints.toml");
    let run = |to: &str, protocol: &str, port: &str| {
        let o = vpcectl(&[
            "trace",
            f.to_str().unwrap(),
            "--from",
            "internet",
            "--to",
            to,
            "--protocol",
            protocol,
            "--port",
            port,
            "--fragmented",
            "-o",
            "json",
        ]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        (o.status.code(), v)
    };
    let (status, v) = run("i-08c0b194dec370347", "tcp", "80");
    assert_eq!(status, Some(0), "{v}");
    assert!(
        components(&v, "forward").contains(&"fragment".to_string()),
        "{v}"
    );
    let (status, v) = run("i-08c0b194dec370347", "udp", "9999");
    assert_eq!(status, Some(3), "{v}");
    assert_eq!(code(&v), "SECURITY_GROUP_INGRESS_DENIED");
    let (status, v) = run("2600:1f18:1234:5600::b0", "tcp", "80");
    assert_eq!(status, Some(3), "{v}");
    assert_eq!(code(&v), "BAD_QUESTION");
}

/// The hub example (issue 22) in memory: each transit-gateway blocking case with its code —
/// no route because a spoke does not propagate to the table, a blackhole, an attachment with
/// no association, a source in a zone the attachment has no subnet in — and two peered
/// transit gateways carrying a spoke to the shared VPC.
#[test]
fn transit_gateway_paths_and_their_blocking_cases() {
    let dir = tempfile::tempdir().unwrap();
    let hub = |name: &str, edits: &[(&str, &str)]| {
        let mut text = std::fs::read_to_string(example("centralized-endpoints.toml")).unwrap();
        for (from, to) in edits {
            assert!(text.contains(from), "{from}");
            text = text.replacen(from, to, 1);
        }
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let api = "vpce-0c00000000000a001";
    let plain = hub("plain.toml", &[]);
    let (_, v) = trace(&plain, "spoke-1-web", "spoke-2-web", "80");
    assert_eq!(code(&v), "TRANSIT_GATEWAY_ROUTE_NOT_PROPAGATED", "{v:#}");
    // A blackhole for the shared VPC in the spokes' table.
    let blackhole = hub(
        "blackhole.toml",
        &[(
            "name = \"spokes\"\ntransit_gateway = \"tgw-0c0000000000000001\"\n",
            "name = \"spokes\"\ntransit_gateway = \"tgw-0c0000000000000001\"\nroutes = [{ destination = \"10.100.1.0/24\", target = \"blackhole\" }]\n",
        )],
    );
    let (_, v) = trace(&blackhole, "spoke-1-web", api, "80");
    assert_eq!(code(&v), "TRANSIT_GATEWAY_BLACKHOLE_ROUTE", "{v:#}");
    // The more specific blackhole spares the other zone's address.
    let (_, v) = trace(&blackhole, "spoke-1-web", "10.100.2.20", "80");
    assert_eq!(code(&v), "reachable", "{v:#}");
    // Spoke 1's attachment associated with no table.
    let unassociated = hub(
        "unassociated.toml",
        &[(
            "subnets = [\"subnet-0c00000000000011a\"]\nassociation = \"tgw-rtb-0c00000000000001\"\n",
            "subnets = [\"subnet-0c00000000000011a\"]\n",
        )],
    );
    let (_, v) = trace(&unassociated, "spoke-1-web", api, "80");
    assert_eq!(
        code(&v),
        "TRANSIT_GATEWAY_ATTACHMENT_NOT_ASSOCIATED",
        "{v:#}"
    );
    // Spoke 1's instance in a second subnet, in a zone its attachment does not cover.
    let other_zone = hub(
        "other-zone.toml",
        &[
            (
                "[[route_tables]]\nid = \"rtb-0c000000000000011\"",
                "[[subnets]]\nid = \"subnet-0c00000000000011b\"\nvpc = \"vpc-0c000000000000011\"\navailability_zone = \"us-east-1b\"\ncidr = \"10.1.2.0/24\"\n\n[[route_tables]]\nid = \"rtb-0c000000000000011\"",
            ),
            (
                "subnet = \"subnet-0c00000000000011a\"\nprivate_ip = \"10.1.1.10\"",
                "subnet = \"subnet-0c00000000000011b\"\nprivate_ip = \"10.1.2.10\"",
            ),
        ],
    );
    let (_, v) = trace(&other_zone, "spoke-1-web", api, "80");
    assert_eq!(code(&v), "TRANSIT_GATEWAY_ATTACHMENT_NOT_IN_ZONE", "{v:#}");
    let why = v["trace"]["forward"]["blocked"]["explanation"]
        .as_str()
        .unwrap();
    assert!(why.contains("us-east-1b"), "{why}");
    // Spoke 1 on a second transit gateway peered with the hub: there and back over the
    // peering attachment (static routes both sides).
    let peered = hub(
        "peered.toml",
        &[
            (
                "\n[[transit_gateway_attachments]]\nid = \"tgw-attach-0c00000000000011\"\ntransit_gateway = \"tgw-0c0000000000000001\"\ntype = \"vpc\"\nvpc = \"vpc-0c000000000000011\"\nsubnets = [\"subnet-0c00000000000011a\"]\nassociation = \"tgw-rtb-0c00000000000001\"\npropagations = [\"tgw-rtb-0c00000000000002\"]\n",
                "\n[[transit_gateways]]\nid = \"tgw-0c0000000000000002\"\n\n[[transit_gateway_route_tables]]\nid = \"tgw-rtb-0c00000000000021\"\ntransit_gateway = \"tgw-0c0000000000000002\"\nroutes = [{ destination = \"10.100.0.0/16\", target = \"tgw-attach-0c00000000000077\" }]\n\n[[transit_gateway_attachments]]\nid = \"tgw-attach-0c00000000000011\"\ntransit_gateway = \"tgw-0c0000000000000002\"\ntype = \"vpc\"\nvpc = \"vpc-0c000000000000011\"\nsubnets = [\"subnet-0c00000000000011a\"]\nassociation = \"tgw-rtb-0c00000000000021\"\npropagations = [\"tgw-rtb-0c00000000000021\"]\n\n[[transit_gateway_attachments]]\nid = \"tgw-attach-0c00000000000077\"\ntransit_gateway = \"tgw-0c0000000000000002\"\ntype = \"peering\"\npeer_transit_gateway = \"tgw-0c0000000000000001\"\nassociation = \"tgw-rtb-0c00000000000021\"\npeer_association = \"tgw-rtb-0c00000000000002\"\n",
            ),
            (
                "routes = [\n  { destination = \"10.0.0.0/8\", target = \"tgw-0c0000000000000001\" },\n  { destination = \"192.168.0.0/16\", target = \"tgw-0c0000000000000001\" },\n]",
                "routes = [\n  { destination = \"10.0.0.0/8\", target = \"tgw-0c0000000000000002\" },\n]",
            ),
            (
                "name = \"shared\"\ntransit_gateway = \"tgw-0c0000000000000001\"\n",
                "name = \"shared\"\ntransit_gateway = \"tgw-0c0000000000000001\"\nroutes = [{ destination = \"10.1.0.0/16\", target = \"tgw-attach-0c00000000000077\" }]\n",
            ),
        ],
    );
    let (status, v) = trace(&peered, "spoke-1-web", api, "80");
    assert_eq!((status, code(&v)), (Some(0), "reachable"), "{v:#}");
    let there = components(&v, "forward");
    let tables = there
        .iter()
        .filter(|c| *c == "transit_gateway_route_table")
        .count();
    assert_eq!(tables, 2, "both transit gateways' tables: {there:?}");
}

/// A data centre behind a virtual private gateway (issue 22): the public table propagates
/// the gateway's routes, so the on-premises network's prefix appears as a propagated route
/// and the instance's reply goes back over the VPN; without propagation there is no route.
#[test]
fn a_virtual_private_gateway_carries_a_data_centre_with_route_propagation() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    for e in std::fs::read_dir(root().join("examples/data")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join("data").join(e.file_name())).unwrap();
    }
    let base = std::fs::read_to_string(example("s3-endpoints.toml")).unwrap()
        + "\n[[vpn_gateways]]\nid = \"vgw-0a000000000000001\"\nvpc = \"vpc-09efc2534d3f29483\"\n\n[[on_premises]]\nid = \"dc-9\"\ncidrs = [\"172.16.0.0/16\"]\nhosts = [\"172.16.0.10\"]\ncustomer_gateway = \"cgw-0a000000000000009\"\nnamespace = \"dc-9\"\n\n[[vpn_connections]]\nid = \"vpn-0a000000000000009\"\non_premises = \"dc-9\"\nvpn_gateway = \"vgw-0a000000000000001\"\n";
    let with = base.replace(
        "subnets = [\"subnet-0a0000000000000a1\"]\n",
        "subnets = [\"subnet-0a0000000000000a1\"]\npropagating_gateways = [\"vgw-0a000000000000001\"]\n",
    );
    let (on, off) = (dir.path().join("on.toml"), dir.path().join("off.toml"));
    std::fs::write(&on, with).unwrap();
    std::fs::write(&off, base).unwrap();
    let (status, v) = trace(&on, "dc-9", "i-08c0b194dec370347", "80");
    assert_eq!((status, code(&v)), (Some(0), "reachable"), "{v:#}");
    assert_eq!(v["trace"]["reply"]["delivered_to"], "dc-9");
    let (_, v) = trace(&off, "dc-9", "i-08c0b194dec370347", "80");
    assert_eq!(code(&v), "ASYMMETRIC_RETURN_PATH", "{v:#}");
}

/// A transit gateway route to a prefix list (expanded entry by entry, static), and a name a
/// Resolver rule forwards: trace says which rule, endpoint and server answer it (exit 2: it
/// cannot know the answer).
#[test]
fn transit_gateway_prefix_list_routes_and_forwarded_names() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(example("centralized-endpoints.toml"))
        .unwrap()
        .replacen(
            "name = \"spokes\"\ntransit_gateway = \"tgw-0c0000000000000001\"\n",
            "name = \"spokes\"\ntransit_gateway = \"tgw-0c0000000000000001\"\nroutes = [{ destination = \"pl-0c000000000000001\", target = \"blackhole\" }]\n",
            1,
        )
        + "\n[[prefix_lists]]\nid = \"pl-0c000000000000001\"\nname = \"quarantine\"\naddress_family = \"IPv4\"\nmax_entries = 5\nentries = [\"10.100.2.0/24\"]\n";
    let file = dir.path().join("pl.toml");
    std::fs::write(&file, text).unwrap();
    let (_, v) = trace(&file, "spoke-1-web", "10.100.2.20", "80");
    assert_eq!(code(&v), "TRANSIT_GATEWAY_BLACKHOLE_ROUTE", "{v:#}");
    let (_, v) = trace(&file, "spoke-1-web", "10.100.1.20", "80");
    assert_eq!(code(&v), "reachable", "{v:#}");
    let o = vpcectl(&[
        "trace",
        file.to_str().unwrap(),
        "--from",
        "spoke-1-web",
        "--to",
        "db.corp.example",
        "--port",
        "80",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("rslvr-rr-0c00000000000001") && err.contains("192.168.10.53"),
        "{err}"
    );
}

/// The hub example with `edits` (each replacing its first occurrence) and `extra` appended,
/// written to `dir/name`.
fn hub_variant(dir: &Path, name: &str, edits: &[(&str, &str)], extra: &str) -> PathBuf {
    let mut text = std::fs::read_to_string(example("centralized-endpoints.toml")).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{from}");
        text = text.replacen(from, to, 1);
    }
    let p = dir.join(name);
    std::fs::write(&p, text + extra).unwrap();
    p
}

/// The hop of `component` on leg `leg`, its detail.
fn hop_detail(v: &Value, leg: &str, component: &str) -> Vec<String> {
    v["trace"][leg]["hops"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h["component"] == component)
        .map(|h| h["detail"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The Direct Connect addition to the hub example.
fn dx_to_hub() -> String {
    "\n".to_string()
        + &std::fs::read_to_string(root().join("tests/fixtures/direct-connect-hub.toml")).unwrap()
}

/// Direct Connect with a VPN as the backup (issue 22): the data centre reaches the shared
/// VPC, which the Direct Connect gateway advertises, over its transit virtual interface, and
/// the reply comes back the same way (a Direct Connect gateway's propagated route beats the
/// VPN's for the same prefix); a spoke, which it does not advertise, over the VPN. Without the
/// VPN the spoke is unreachable: `DIRECT_CONNECT_PREFIX_NOT_ALLOWED`.
#[test]
fn direct_connect_carries_the_data_centre_with_the_vpn_as_backup() {
    let dir = tempfile::tempdir().unwrap();
    let both = hub_variant(dir.path(), "both.toml", &[], &dx_to_hub());
    let api = "vpce-0c00000000000a001";
    let (status, v) = trace(&both, "dc-1", api, "80");
    assert_eq!((status, code(&v)), (Some(0), "reachable"), "{v:#}");
    let out = hop_detail(&v, "forward", "on_premises").join(" ");
    assert!(out.contains("Direct Connect gateway dc-dx"), "{out}");
    let table = hop_detail(&v, "reply", "transit_gateway_route_table").join(" ");
    assert!(
        table.contains("a Direct Connect gateway's, which beats a VPN's"),
        "{table}"
    );
    let back = hop_detail(&v, "reply", "transit_gateway_attachment").join(" ");
    assert!(back.contains("for Direct Connect gateway dc-dx"), "{back}");
    let back = hop_detail(&v, "reply", "on_premises").join(" ");
    assert!(back.contains("virtual interface"), "{back}");
    // The spoke is not advertised over Direct Connect: the VPN carries it.
    let (_, v) = trace(&both, "dc-1", "10.1.1.10", "80");
    let out = hop_detail(&v, "forward", "on_premises").join(" ");
    assert!(out.contains("vpn-0c0000000000000001"), "{v:#}");
    // The shared table shows both propagated routes for the data centre; Direct Connect's wins.
    let o = vpcectl(&[
        "show",
        "transit-gateway-route-tables",
        both.to_str().unwrap(),
        "-o",
        "json",
    ]);
    let tables: Value = serde_json::from_slice(&o.stdout).unwrap();
    let text = tables.to_string();
    assert!(text.contains("direct_connect"), "{text}");
    // Direct Connect only.
    let dx_only = hub_variant(
        dir.path(),
        "dx-only.toml",
        &[
            ("\n[[transit_gateway_attachments]]\nid = \"tgw-attach-0c00000000000900\"\ntransit_gateway = \"tgw-0c0000000000000001\"\ntype = \"vpn\"\nvpn_connection = \"vpn-0c0000000000000001\"\nassociation = \"tgw-rtb-0c00000000000002\"\npropagations = [\"tgw-rtb-0c00000000000001\", \"tgw-rtb-0c00000000000002\"]\n", ""),
            ("\n[[vpn_connections]]\nid = \"vpn-0c0000000000000001\"\non_premises = \"dc-1\"\ntransit_gateway = \"tgw-0c0000000000000001\"", ""),
        ],
        &dx_to_hub(),
    );
    let (status, v) = trace(&dx_only, "dc-1", api, "80");
    assert_eq!((status, code(&v)), (Some(0), "reachable"), "{v:#}");
    let (status, v) = trace(&dx_only, "dc-1", "10.1.1.10", "80");
    assert_eq!(code(&v), "DIRECT_CONNECT_PREFIX_NOT_ALLOWED", "{v:#}");
    assert_eq!(status, Some(3), "{v:#}");
    let why = v["trace"]["forward"]["blocked"]["explanation"]
        .as_str()
        .unwrap();
    assert!(
        why.contains("10.100.0.0/16") && why.contains("allowed prefixes"),
        "{why}"
    );
}

/// A Direct Connect gateway associated with a virtual private gateway (a private virtual
/// interface): the VPC's table propagates the data centre's prefix from the gateway, and
/// trace names Direct Connect both ways. An allowed prefix narrower than the VPC CIDR
/// advertises nothing (a validation warning) and the data centre has no way in.
#[test]
fn direct_connect_to_a_virtual_private_gateway() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    for e in std::fs::read_dir(root().join("examples/data")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join("data").join(e.file_name())).unwrap();
    }
    let base = std::fs::read_to_string(example("s3-endpoints.toml"))
        .unwrap()
        .replace(
            "subnets = [\"subnet-0a0000000000000a1\"]\n",
            "subnets = [\"subnet-0a0000000000000a1\"]\npropagating_gateways = [\"vgw-0a000000000000001\"]\n",
        )
        + "\n[[vpn_gateways]]\nid = \"vgw-0a000000000000001\"\nvpc = \"vpc-09efc2534d3f29483\"\n\n[[on_premises]]\nid = \"dc-9\"\ncidrs = [\"172.16.0.0/16\"]\nhosts = [\"172.16.0.10\"]\ncustomer_gateway = \"cgw-0a000000000000009\"\nnamespace = \"dc-9\"\n\n[[direct_connect_gateways]]\nid = \"5f294f92-bafb-4011-916d-9b0b00000009\"\non_premises = [\"dc-9\"]\n";
    let open = dir.path().join("open.toml");
    std::fs::write(
        &open,
        base.clone() + "associations = [{ gateway = \"vgw-0a000000000000001\" }]\n",
    )
    .unwrap();
    let (status, v) = trace(&open, "dc-9", "i-08c0b194dec370347", "80");
    assert_eq!((status, code(&v)), (Some(0), "reachable"), "{v:#}");
    for leg in ["forward", "reply"] {
        let d = hop_detail(&v, leg, "on_premises").join(" ");
        assert!(
            d.contains("Direct Connect gateway 5f294f92"),
            "{leg}: {v:#}"
        );
    }
    let narrow = dir.path().join("narrow.toml");
    std::fs::write(
        &narrow,
        base + "associations = [{ gateway = \"vgw-0a000000000000001\", allowed_prefixes = [\"10.0.1.0/24\"] }]\n",
    )
    .unwrap();
    let o = vpcectl(&["validate", narrow.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("advertises nothing"), "{text}");
    let (_, v) = trace(&narrow, "dc-9", "i-08c0b194dec370347", "80");
    assert_eq!(code(&v), "DIRECT_CONNECT_PREFIX_NOT_ALLOWED", "{v:#}");
}

/// Network ACLs around a transit gateway, as AWS documents them ("Network ACLs for transit
/// gateways"): the attachment subnet's inbound rules judge what enters the transit gateway
/// there, its outbound rules what leaves it for another subnet — so an attachment subnet
/// that denies everything outbound passes the spoke's requests and stops the replies to it —
/// and a resource in the attachment's own subnet receives from the transit gateway with no
/// rule evaluated, while one in another subnet meets its subnet's inbound rules.
#[test]
fn network_acls_on_transit_gateway_attachment_subnets() {
    let dir = tempfile::tempdir().unwrap();
    let api = "vpce-0c00000000000a001";
    // Spoke 1's attachment in a subnet of its own, with an ACL.
    let own_subnet = |ingress: &str, egress: &str| {
        vec![
            (
                "[[route_tables]]\nid = \"rtb-0c000000000000011\"".to_string(),
                format!("[[subnets]]\nid = \"subnet-0c00000000000011t\"\nvpc = \"vpc-0c000000000000011\"\navailability_zone = \"us-east-1a\"\ncidr = \"10.1.255.0/28\"\n\n[[network_acls]]\nid = \"acl-0c000000000000011\"\nvpc = \"vpc-0c000000000000011\"\nsubnets = [\"subnet-0c00000000000011t\"]\ningress = [{ingress}]\negress = [{egress}]\n\n[[route_tables]]\nid = \"rtb-0c000000000000011\""),
            ),
            (
                "vpc = \"vpc-0c000000000000011\"\nsubnets = [\"subnet-0c00000000000011a\"]".to_string(),
                "vpc = \"vpc-0c000000000000011\"\nsubnets = [\"subnet-0c00000000000011t\"]".to_string(),
            ),
        ]
    };
    let write = |name: &str, edits: Vec<(String, String)>| {
        let e: Vec<(&str, &str)> = edits
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        hub_variant(dir.path(), name, &e, "")
    };
    let all = "{ rule = 100, action = \"allow\", protocol = \"all\", cidr = \"0.0.0.0/0\" }";
    // Open both ways: reachable, and the attachment subnet's ACL is met entering and leaving.
    let open = write("open.toml", own_subnet(all, all));
    let (status, v) = trace(&open, "spoke-1-web", api, "80");
    assert_eq!((status, code(&v)), (Some(0), "reachable"), "{v:#}");
    let acls = hop_detail(&v, "forward", "network_acl").join(" | ");
    assert!(
        acls.contains("entering subnet-0c00000000000011t from 10.1.1.10"),
        "{acls}"
    );
    let acls = hop_detail(&v, "reply", "network_acl").join(" | ");
    assert!(
        acls.contains("leaving subnet-0c00000000000011t to 10.1.1.10"),
        "{acls}"
    );
    // Inbound denies the spoke's instance subnet: the request never enters the transit gateway.
    let deny_in = format!(
        "{{ rule = 90, action = \"deny\", protocol = \"all\", cidr = \"10.1.1.0/24\" }}, {all}"
    );
    let (_, v) = trace(
        &write("deny-in.toml", own_subnet(&deny_in, all)),
        "spoke-1-web",
        api,
        "80",
    );
    assert_eq!(code(&v), "NETWORK_ACL_INGRESS_DENIED", "{v:#}");
    let why = v["trace"]["forward"]["blocked"]["explanation"]
        .as_str()
        .unwrap();
    assert!(
        why.contains("acl-0c000000000000011") && why.contains("rule 90"),
        "{why}"
    );
    // Nothing allowed outbound: the request still gets through (outbound rules are not used on
    // what enters the transit gateway), the reply does not.
    let (_, v) = trace(
        &write("deny-out.toml", own_subnet(all, "")),
        "spoke-1-web",
        api,
        "80",
    );
    assert!(v["trace"]["forward"]["blocked"].is_null(), "{v:#}");
    assert_eq!(
        v["trace"]["reply"]["blocked"]["code"], "NETWORK_ACL_EGRESS_DENIED",
        "{v:#}"
    );
    // The shared VPC's attachment shares the endpoints' subnets. Without the rule that lets
    // port 80 in, the endpoint in the attachment's own subnet (zone a, where the spoke enters)
    // still answers; the one in the other zone's subnet does not.
    let shared = hub_variant(
        dir.path(),
        "shared.toml",
        &[(
            "  { rule = 100, action = \"allow\", protocol = \"tcp\", ports = 80, cidr = \"10.0.0.0/8\" },\n",
            "",
        )],
        "",
    );
    let (status, v) = trace(&shared, "spoke-1-web", "10.100.1.20", "80");
    assert_eq!((status, code(&v)), (Some(0), "reachable"), "{v:#}");
    let (_, v) = trace(&shared, "spoke-1-web", "10.100.2.20", "80");
    assert_eq!(code(&v), "NETWORK_ACL_INGRESS_DENIED", "{v:#}");
    let why = v["trace"]["forward"]["blocked"]["explanation"]
        .as_str()
        .unwrap();
    assert!(why.contains("subnet-0c00000000000100b"), "{why}");
}

/// A consumer in a peered VPC and a workload behind a Gateway Load Balancer endpoint (seed
/// 001): routed over the peering connection both ways, the flow does not cross the appliances
/// (AWS inspects only what a route sends to the endpoint); when the workload's table lacks the
/// peer's route, its replies follow 0.0.0.0/0 into the endpoint and never reach the peer.
#[test]
fn a_peered_consumer_and_a_gwlb_protected_workload() {
    let dir = tempfile::tempdir().unwrap();
    let peer = "\n[[vpcs]]\nid = \"vpc-0c000000000000003\"\nname = \"peer\"\ncidr_blocks = [\"10.50.0.0/16\"]\n\n[[subnets]]\nid = \"subnet-0c0000000000000p1\"\nvpc = \"vpc-0c000000000000003\"\navailability_zone = \"us-east-1a\"\ncidr = \"10.50.1.0/24\"\n\n[[route_tables]]\nid = \"rtb-0c0000000000000p1\"\nvpc = \"vpc-0c000000000000003\"\nmain = true\nroutes = [{ destination = \"10.0.0.0/16\", target = \"pcx-0c000000000000001\" }]\n\n[[security_groups]]\nid = \"sg-0c000000000000p01\"\nvpc = \"vpc-0c000000000000003\"\n\n[[instances]]\nid = \"i-0c0000000000000p1\"\nname = \"peer-client\"\nsubnet = \"subnet-0c0000000000000p1\"\nprivate_ip = \"10.50.1.10\"\nsecurity_groups = [\"sg-0c000000000000p01\"]\nnamespace = \"peer\"\n\n[[peering_connections]]\nid = \"pcx-0c000000000000001\"\nrequester_vpc = \"vpc-0c000000000000003\"\naccepter_vpc = \"vpc-0c000000000000001\"\n";
    let base = std::fs::read_to_string(example("gwlb-inspection.toml")).unwrap() + peer;
    let routed = dir.path().join("routed.toml");
    std::fs::write(
        &routed,
        base.replacen(
            "routes = [{ destination = \"0.0.0.0/0\", target = \"vpce-0c000000000000001\" }]",
            "routes = [\n  { destination = \"0.0.0.0/0\", target = \"vpce-0c000000000000001\" },\n  { destination = \"10.50.0.0/16\", target = \"pcx-0c000000000000001\" },\n]",
            1,
        ),
    )
    .unwrap();
    let (status, v) = trace(&routed, "peer-client", "application-server", "80");
    assert_eq!((status, code(&v)), (Some(0), "reachable"), "{v:#}");
    for leg in ["forward", "reply"] {
        let hops = components(&v, leg);
        assert!(
            !hops
                .iter()
                .any(|c| c.contains("gwlb") || c.contains("appliance")),
            "{leg}: {hops:?}"
        );
    }
    let unrouted = dir.path().join("unrouted.toml");
    std::fs::write(&unrouted, &base).unwrap();
    let (status, v) = trace(&unrouted, "peer-client", "application-server", "80");
    assert_ne!(status, Some(0), "{v:#}");
    assert!(v["trace"]["reply"]["blocked"].is_object(), "{v:#}");
    let reply = components(&v, "reply").join(" ");
    assert!(
        reply.contains("vpc_endpoint") || reply.contains("gwlb"),
        "{v:#}"
    );
}

/// `trace --action`: the request a connection to S3 carries, judged by the endpoint policy and
/// seed 000's bucket policy (`examples/s3-endpoints.toml`): through the interface endpoint a
/// read is allowed (both statements named); through the gateway endpoint the bucket policy's
/// deny for anything not from the interface endpoint blocks it; a delete, which the endpoint
/// policy does not list, is denied there.
#[test]
fn trace_judges_the_request_by_endpoint_and_bucket_policy() {
    let file = example("s3-endpoints.toml");
    let run = |to: &str, action: &str| {
        let o = vpcectl(&[
            "trace",
            file.to_str().unwrap(),
            "--from",
            "i-08c0b194dec370347",
            "--to",
            to,
            "--port",
            "443",
            "--action",
            action,
            "--resource",
            "arn:aws:s3:::zenn-privatelink/report.csv",
            "--principal",
            "arn:aws:iam::111122223333:role/app",
            "-o",
            "json",
        ]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        (o.status.code(), v)
    };
    let interface = "zenn-privatelink.s3.us-east-1.amazonaws.com";
    let (status, v) = run(interface, "s3:GetObject");
    assert_eq!((status, code(&v)), (Some(0), "reachable"), "{v:#}");
    let e = hop_detail(&v, "forward", "endpoint_policy").join(" ");
    assert!(e.contains("Sid Only-zenn-privatelink"), "{e}");
    let b = hop_detail(&v, "forward", "bucket_policy").join(" ");
    assert!(b.contains("Sid Account-reads-and-writes"), "{b}");
    let (status, v) = run("52.216.39.26", "s3:GetObject");
    assert_eq!(
        (status, code(&v)),
        (Some(3), "BUCKET_POLICY_DENIES_REQUEST"),
        "{v:#}"
    );
    let why = v["trace"]["forward"]["blocked"]["explanation"]
        .as_str()
        .unwrap();
    assert!(why.contains("Access-to-specific-VPCE-only"), "{why}");
    let (_, v) = run(interface, "s3:DeleteObject");
    assert_eq!(code(&v), "ENDPOINT_POLICY_DENIES_REQUEST", "{v:#}");
    // --action needs --resource.
    let o = vpcectl(&[
        "trace",
        file.to_str().unwrap(),
        "--from",
        "i-08c0b194dec370347",
        "--to",
        interface,
        "--action",
        "s3:GetObject",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// An endpoint service's allowed principals gate a consumer's connection request: the
/// hands-on endpoint, requested by another account's role, is rejected (and trace says which
/// principal and what to add) until that account is allowed.
#[test]
fn allowed_principals_gate_the_connection_request() {
    let dir = tempfile::tempdir().unwrap();
    let with = |name: &str, allowed: &str| {
        variant_as(
            dir.path(),
            name,
            &[
                (
                    "security_groups = [\"sg-0a000000000000e01\"]\n",
                    "security_groups = [\"sg-0a000000000000e01\"]\nprincipal = \"arn:aws:iam::444455556666:role/consumer\"\n",
                ),
                NO_ENFORCE,
                CROSS_ZONE,
                ("acceptance_required = true", &format!("acceptance_required = true\nallowed_principals = [{allowed}]")),
            ],
        )
    };
    let refused = with("refused", "\"arn:aws:iam::111122223333:root\"");
    let (status, v) = trace(&refused, "EC2-A", "vpce-0a000000000000001", "80");
    assert_eq!(
        (status, code(&v)),
        (Some(3), "ENDPOINT_PRINCIPAL_NOT_ALLOWED"),
        "{v:#}"
    );
    let why = v["trace"]["forward"]["blocked"]["explanation"]
        .as_str()
        .unwrap();
    assert!(
        why.contains("arn:aws:iam::444455556666:role/consumer"),
        "{why}"
    );
    let o = vpcectl(&["validate", refused.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("the connection request is rejected"));
    let allowed = with("allowed", "\"444455556666\"");
    let (status, v) = trace(&allowed, "EC2-A", "vpce-0a000000000000001", "80");
    assert_eq!((status, code(&v)), (Some(0), "reachable"), "{v:#}");
}

/// An endpoint service's private DNS name is usable only once its domain is verified (AWS
/// keeps it `pendingVerification`): trace cannot resolve it before and says why; verified, it
/// answers the endpoint and the path is the endpoint's.
#[test]
fn an_unverified_private_dns_name_does_not_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let with = |name: &str, state: &str| {
        variant_as(
            dir.path(),
            name,
            &[
                (
                    "security_groups = [\"sg-0a000000000000e01\"]\n",
                    "security_groups = [\"sg-0a000000000000e01\"]\nprivate_dns_enabled = true\n",
                ),
                NO_ENFORCE,
                CROSS_ZONE,
                ("acceptance_required = true", &format!("acceptance_required = true\nprivate_dns_name = \"api.provider.example\"\n{state}")),
            ],
        )
    };
    let pending = with(
        "pending",
        "private_dns_name_state = \"pendingVerification\"",
    );
    let o = vpcectl(&[
        "trace",
        pending.to_str().unwrap(),
        "--from",
        "EC2-A",
        "--to",
        "api.provider.example",
        "--port",
        "80",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("pendingVerification") && err.contains("vpce-svc-0b000000000000001"),
        "{err}"
    );
    let o = vpcectl(&["validate", pending.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not verified"));
    let verified = with("verified", "");
    let (status, v) = trace(&verified, "EC2-A", "api.provider.example", "80");
    assert_eq!((status, code(&v)), (Some(0), "reachable"), "{v:#}");
}

/// A client in the NLB's own VPC using it directly (issue 23; before, `NO_FLOW`): the NLB's
/// security groups judge the client; EC2-B is the only target, and with client IP preservation
/// (AWS's default for instance targets) it cannot be its own client (AWS: no hairpinning);
/// the zone rule applies to the node the client addressed;
/// with `preserve_client_ip = false` and cross-zone on, the flow is translated to come from the
/// node and the target's reply comes back through it.
#[test]
fn a_client_uses_the_nlb_directly() {
    let dir = tempfile::tempdir().unwrap();
    let sg = (
        "name = \"NLB-B-sg\"\nvpc = \"vpc-0b000000000000001\"\n",
        "name = \"NLB-B-sg\"\nvpc = \"vpc-0b000000000000001\"\ningress = [{ protocol = \"tcp\", ports = 80, cidr = \"10.1.0.0/16\" }]\n",
    );
    let no_preserve = (
        "targets = [{ instance = \"i-0b00000000000000b\" }]",
        "targets = [{ instance = \"i-0b00000000000000b\" }]\npreserve_client_ip = false",
    );
    let cross_zone = CROSS_ZONE;
    let node = "10.1.128.50";
    type Edits<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, Edits, &str)> = vec![
        ("a", vec![], "LOAD_BALANCER_SECURITY_GROUP_INGRESS_DENIED"),
        (
            "b",
            vec![sg, cross_zone],
            "ELB_HAIRPIN_WITH_CLIENT_IP_PRESERVATION",
        ),
        ("c", vec![sg, no_preserve], "ELB_NOT_CROSSZONE"),
        ("d", vec![sg, no_preserve, cross_zone], "reachable"),
    ];
    for (name, edits, want) in cases {
        let file = variant_as(dir.path(), name, &edits);
        let (_, v) = trace(&file, "EC2-B", node, "80");
        assert_eq!(code(&v), want, "{v:#}");
        let why = v["trace"]["forward"]["blocked"]["explanation"]
            .as_str()
            .unwrap_or_default();
        match want {
            "LOAD_BALANCER_SECURITY_GROUP_INGRESS_DENIED" => {
                assert!(why.contains("from its client 10.1.144.10"), "{why}")
            }
            "ELB_HAIRPIN_WITH_CLIENT_IP_PRESERVATION" => {
                assert!(why.contains("hairpinning"), "{why}")
            }
            "ELB_NOT_CROSSZONE" => assert!(why.contains("ap-northeast-1a"), "{why}"),
            _ => {
                let nat = hop_detail(&v, "forward", "nat").join(" ");
                assert!(nat.contains(&format!("becomes {node}:")), "{nat}");
                let back = hop_detail(&v, "reply", "nat").join(" ");
                assert!(
                    back.contains(&format!("becomes {node}:80 -> 10.1.144.10:40000")),
                    "{back}"
                );
            }
        }
    }
}

/// An internet-facing NLB (issue 23): the internet gateway translates its node's public
/// address, the node takes the internet client's flow to the target, and the reply leaves by
/// the internet gateway from that public address. A public address on an internal load
/// balancer is refused.
#[test]
fn an_internet_facing_nlb_takes_internet_clients() {
    let dir = tempfile::tempdir().unwrap();
    let file = variant(
        dir.path(),
        &[
            (
                "scheme = \"internal\"\nsubnet_mappings = [\n  { subnet = \"subnet-0b0000000000000b1\", private_ip = \"10.1.128.50\" },\n  { subnet = \"subnet-0b0000000000000b2\", private_ip = \"10.1.144.50\" },\n]",
                "scheme = \"internet-facing\"\nsubnet_mappings = [\n  { subnet = \"subnet-0b0000000000000a1\", private_ip = \"10.1.0.50\", public_ip = \"203.0.113.50\" },\n]",
            ),
            (
                "name = \"NLB-B-sg\"\nvpc = \"vpc-0b000000000000001\"\n",
                "name = \"NLB-B-sg\"\nvpc = \"vpc-0b000000000000001\"\ningress = [{ protocol = \"tcp\", ports = 80, cidr = \"0.0.0.0/0\" }]\n",
            ),
            (
                "targets = [{ instance = \"i-0b00000000000000b\" }]",
                "targets = [{ instance = \"i-0b00000000000000b\" }]\npreserve_client_ip = false",
            ),
            CROSS_ZONE,
        ],
    );
    let (status, v) = trace(&file, "internet", "203.0.113.50", "80");
    assert_eq!((status, code(&v)), (Some(0), "reachable"), "{v:#}");
    let there = hop_detail(&v, "forward", "internet_gateway").join(" ");
    assert!(
        there.contains("203.0.113.50 translated to 10.1.0.50"),
        "{there}"
    );
    let back = hop_detail(&v, "reply", "internet_gateway").join(" ");
    assert!(
        back.contains("10.1.0.50 translated to 203.0.113.50"),
        "{back}"
    );
    let internal = std::fs::read_to_string(&file)
        .unwrap()
        .replace("scheme = \"internet-facing\"", "scheme = \"internal\"");
    let bad = dir.path().join("internal.toml");
    std::fs::write(&bad, internal).unwrap();
    let o = vpcectl(&["validate", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("internet-facing load balancer's subnet mapping"));
}

/// Dual-stack PrivateLink (issue 23): trace follows an IPv6 consumer to the IPv4 target
/// group — the NAT hop changes family, the node speaks IPv4 — and back to the consumer in
/// IPv6; an IPv4 consumer to the IPv6 group on port 8080, from the node's IPv6 address; the
/// endpoint's name resolves to both addresses.
#[test]
fn dual_stack_privatelink_changes_family_at_the_node() {
    let file = root().join("examples/privatelink-dual-stack.toml");
    let (rc, v) = trace(&file, "EC2-A", "2600:1f18:a:a80::100", "80");
    assert_eq!((rc, code(&v)), (Some(0), "reachable"), "{v}");
    let nat = hop_detail(&v, "forward", "nat");
    assert!(
        nat[0]
            .contains("2600:1f18:a:a80::10:40000 -> 2600:1f18:a:a80::100:80 becomes 10.1.128.50:"),
        "{nat:?}"
    );
    assert!(nat[0].ends_with("-> 10.1.144.10:80"), "{nat:?}");
    let back = hop_detail(&v, "reply", "nat");
    assert!(
        back[0].ends_with("becomes 2600:1f18:a:a80::100:80 -> 2600:1f18:a:a80::10:40000"),
        "{back:?}"
    );
    let ep = hop_detail(&v, "forward", "vpc_endpoint");
    assert!(
        ep[0].contains("10.0.128.100 and 2600:1f18:a:a80::100"),
        "{ep:?}"
    );

    let (rc, v) = trace(&file, "EC2-A", "10.0.128.100", "8080");
    assert_eq!((rc, code(&v)), (Some(0), "reachable"), "{v}");
    let pick = hop_detail(&v, "forward", "load_balancer_target");
    assert!(
        pick[0].starts_with(
            "node 2600:1f18:b:b80::50 (ap-northeast-1a) picks target 2600:1f18:b:b90::10"
        ),
        "{pick:?}"
    );
    let back = hop_detail(&v, "reply", "nat");
    assert!(
        back[0].ends_with("becomes 10.0.128.100:8080 -> 10.0.128.10:40000"),
        "{back:?}"
    );
}

/// Client IP preservation (issue 23; AWS's default for instance targets): another client of
/// the NLB reaches EC2-B, which sees the client's own address — so EC2-B's security group,
/// which allows only the NLB's group, denies it (AWS: the targets' groups must allow the
/// clients' addresses); allowed, the reply leaving EC2-B for the client is caught and goes
/// back from the node's address and listener port.
#[test]
fn client_ip_preservation_keeps_the_clients_address() {
    let dir = tempfile::tempdir().unwrap();
    let client = "\n[[instances]]\nid = \"i-0b00000000000000c\"\nname = \"EC2-C\"\nsubnet = \"subnet-0b0000000000000b2\"\nprivate_ip = \"10.1.144.20\"\nsecurity_groups = [\"sg-0b00000000000000b\"]\n";
    let nlb_sg = (
        "name = \"NLB-B-sg\"\nvpc = \"vpc-0b000000000000001\"\n",
        "name = \"NLB-B-sg\"\nvpc = \"vpc-0b000000000000001\"\ningress = [{ protocol = \"tcp\", ports = 80, cidr = \"10.1.0.0/16\" }]\n",
    );
    let target_sg = (
        "description = \"HTTP from NLB-B-sg\" },",
        "description = \"HTTP from NLB-B-sg\" },\n  { protocol = \"tcp\", ports = 80, cidr = \"10.1.0.0/16\", description = \"the NLB's clients, whose addresses it keeps\" },",
    );
    let mut base: Vec<(&str, &str)> = vec![nlb_sg, CROSS_ZONE];
    let denied = variant_as(dir.path(), "denied", &base);
    std::fs::write(&denied, std::fs::read_to_string(&denied).unwrap() + client).unwrap();
    let (_, v) = trace(&denied, "EC2-C", "10.1.144.50", "80");
    assert_eq!(code(&v), "SECURITY_GROUP_INGRESS_DENIED", "{v:#}");
    base.push(target_sg);
    let allowed = variant_as(dir.path(), "allowed", &base);
    std::fs::write(
        &allowed,
        std::fs::read_to_string(&allowed).unwrap() + client,
    )
    .unwrap();
    let (rc, v) = trace(&allowed, "EC2-C", "10.1.144.50", "80");
    assert_eq!((rc, code(&v)), (Some(0), "reachable"), "{v:#}");
    let nat = hop_detail(&v, "forward", "nat").join(" ");
    assert!(
        nat.contains("becomes 10.1.144.20:40000 -> 10.1.144.10:80"),
        "{nat}"
    );
    let back = hop_detail(&v, "reply", "nat").join(" ");
    assert!(
        back.contains("becomes 10.1.144.50:80 -> 10.1.144.20:40000"),
        "{back}"
    );
}

/// "What happens to my endpoint if a zone goes down?": `--zone-down` traces the fixed build
/// as if the zone had failed. EC2-B, the only target, is in 1c: with 1c down its health checks
/// have failed, the group fails open to it and the path ends in 1c; with 1a down, EC2-A itself
/// is gone. A zone the configuration does not have is bad input.
#[test]
fn zone_down_shows_where_an_outage_cuts_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = variant(dir.path(), &[NO_ENFORCE, CROSS_ZONE]);
    let run = |zone: &str| {
        vpcectl(&[
            "trace",
            file.to_str().unwrap(),
            "--from",
            "EC2-A",
            "--to",
            "vpce-0a000000000000001",
            "--port",
            "80",
            "--zone-down",
            zone,
            "-o",
            "json",
        ])
    };
    for (zone, last) in [
        ("ap-northeast-1c", "vpc"),
        ("ap-northeast-1a", "network_interface"),
    ] {
        let o = run(zone);
        assert_eq!(o.status.code(), Some(3), "{zone}");
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(code(&v), "AVAILABILITY_ZONE_DOWN", "{zone}: {v:#}");
        let hops = components(&v, "forward");
        assert_eq!(
            hops.last().map(String::as_str),
            Some(last),
            "{zone}: {hops:?}"
        );
    }
    let o = run("ap-northeast-1z");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not one of"));
}
