//! `examples/centralized-endpoints.toml` over namespaces: two spokes and an on-premises data
//! centre reach the interface endpoints of a shared-services VPC through a transit gateway
//! (the data centre over its VPN attachment), with real curl; the spokes stay apart; a network
//! ACL that stops the endpoints' replies breaks it, with the rule named by trace and counted;
//! `vpcectl trace --daemon` agrees with the dataplane on every path of the example.

use crate::common::*;
use serde_json::Value;

const API: &str = "vpce-0c00000000000a001";

fn hub() -> std::path::PathBuf {
    example("centralized-endpoints.toml")
}

/// `trace --daemon` of `from` to `to` on tcp/`port`: `reachable` or the blocking code.
fn daemon_trace(lab: &Lab, from: &str, to: &str, port: u16) -> String {
    let o = lab.vpcectl(&[
        "trace",
        "--daemon",
        "--from",
        from,
        "--to",
        to,
        "--port",
        &port.to_string(),
        "-o",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    let t = &v["trace"];
    if t["reachable"] == true {
        return "reachable".into();
    }
    t["forward"]["blocked"]["code"]
        .as_str()
        .or(t["reply"]["blocked"]["code"].as_str())
        .unwrap_or("?")
        .to_string()
}

#[test]
fn spokes_and_the_data_centre_reach_the_shared_endpoints() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::start(&hub());
    lab.http_server("api-web", "hello from the api\n");
    lab.http_server("spoke-2", "hello from spoke-2\n");
    lab.check_isolation(&[
        ("spoke-1", "10.100.1.20"),
        ("spoke-2", "10.100.2.20"),
        ("dc-1", "10.100.1.20"),
        ("spoke-1", "10.2.1.10"),
    ]);
    // (namespace, trace --from, URL host, trace --to, what curl must get: the body, or "" when
    // the packet is dropped)
    let cases = [
        (
            "spoke-1",
            "spoke-1-web",
            "10.100.1.20",
            API,
            "hello from the api\n",
        ),
        (
            "spoke-2",
            "spoke-2-web",
            "10.100.2.20",
            API,
            "hello from the api\n",
        ),
        ("dc-1", "dc-1", "10.100.1.20", API, "hello from the api\n"),
        (
            "dc-1",
            "dc-1",
            "10.100.2.20",
            "10.100.2.20",
            "hello from the api\n",
        ),
        // The spokes' route table knows no other spoke: kept apart.
        ("spoke-1", "spoke-1-web", "10.2.1.10", "spoke-2-web", ""),
    ];
    for (ns, from, host, to, want) in cases {
        let verdict = daemon_trace(&lab, from, to, 80);
        let (code, body) = lab.curl(ns, &format!("http://{host}/"));
        if want.is_empty() {
            assert_ne!(code, "200", "{ns} -> {host}");
            assert_eq!(verdict, "TRANSIT_GATEWAY_ROUTE_NOT_PROPAGATED");
        } else {
            assert_eq!(
                (code.as_str(), body.as_str(), verdict.as_str()),
                ("200", want, "reachable"),
                "{ns} -> {host}\n{}",
                lab.daemon_log()
            );
        }
    }
    assert!(lab.drops("tgw_no_route") > 0);
    let stats = lab.stats();
    let attach = &stats["entities"]["transit_gateway_attachment"];
    assert!(
        attach["tgw-attach-0c00000000000900"]["rx_packets"]
            .as_u64()
            .unwrap()
            > 0,
        "the VPN attachment carried the data centre's packets: {attach}"
    );
}

/// The shared subnets' ACL without its outbound rule for the ephemeral ports: requests get
/// in, the endpoints' replies are denied leaving the subnet — trace names the ACL and says the
/// final rule denies; the counter of that rule counts them.
#[test]
fn a_network_acl_without_the_return_rule_breaks_the_path() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(hub()).unwrap().replace(
        "  { rule = 100, action = \"allow\", protocol = \"tcp\", ports = \"1024-65535\", cidr = \"0.0.0.0/0\" },\n  { rule = 110, action = \"allow\", protocol = \"udp\"",
        "  { rule = 110, action = \"allow\", protocol = \"udp\"",
    );
    let cfg = dir.path().join("no-return.toml");
    std::fs::write(&cfg, text).unwrap();
    let mut lab = Lab::start(&cfg);
    lab.http_server("api-web", "hello from the api\n");
    lab.check_isolation(&[("spoke-1", "10.100.1.20")]);
    let (code, _) = lab.curl("spoke-1", "http://10.100.1.20/");
    assert_ne!(code, "200");
    assert!(lab.drops("network_acl_egress") > 0, "{}", lab.stats());
    let o = lab.vpcectl(&[
        "trace",
        "--daemon",
        "--from",
        "spoke-1-web",
        "--to",
        API,
        "--port",
        "80",
        "-o",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let blocked = &v["trace"]["reply"]["blocked"];
    assert_eq!(blocked["code"], "NETWORK_ACL_EGRESS_DENIED", "{v:#}");
    let why = blocked["explanation"].as_str().unwrap();
    assert!(
        why.contains("acl-0c000000000000100") && why.contains("final * rule"),
        "{why}"
    );
    let acl = &lab.stats()["network_acls"]["acl-0c000000000000100"];
    assert!(acl["egress"]["*"].as_u64().unwrap() > 0, "{acl}");
}

/// Direct Connect with the VPN as the backup (`tests/fixtures/direct-connect-hub.toml`): curl
/// from the data centre reaches the shared VPC over the Direct Connect gateway's attachment,
/// both ways (the VPN attachment carries nothing), and trace --daemon agrees; without the VPN,
/// a destination the gateway does not advertise is dropped and counted.
#[test]
fn direct_connect_carries_the_data_centre_and_the_vpn_backs_it_up() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dx =
        std::fs::read_to_string(root().join("tests/fixtures/direct-connect-hub.toml")).unwrap();
    let text = std::fs::read_to_string(hub()).unwrap() + "\n" + &dx;
    let cfg = dir.path().join("dx.toml");
    std::fs::write(&cfg, &text).unwrap();
    let mut lab = Lab::start(&cfg);
    lab.http_server("api-web", "hello from the api\n");
    lab.check_isolation(&[("dc-1", "10.100.1.20")]);
    let (code, body) = lab.curl("dc-1", "http://10.100.1.20/");
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "hello from the api\n"),
        "{}",
        lab.daemon_log()
    );
    assert_eq!(daemon_trace(&lab, "dc-1", API, 80), "reachable");
    let stats = lab.stats();
    let attach = &stats["entities"]["transit_gateway_attachment"];
    let count = |id: &str, k: &str| attach[id][k].as_u64().unwrap_or(0);
    assert!(
        count("tgw-attach-0c00000000000d00", "rx_packets") > 0,
        "{attach}"
    );
    assert!(
        count("tgw-attach-0c00000000000d00", "tx_packets") > 0,
        "{attach}"
    );
    assert_eq!(
        count("tgw-attach-0c00000000000900", "rx_packets"),
        0,
        "{attach}"
    );
    assert_eq!(
        count("tgw-attach-0c00000000000900", "tx_packets"),
        0,
        "{attach}"
    );
    drop(lab);
    // Direct Connect alone: the spokes are not advertised to the data centre.
    let vpn_attachment = "\n[[transit_gateway_attachments]]\nid = \"tgw-attach-0c00000000000900\"\ntransit_gateway = \"tgw-0c0000000000000001\"\ntype = \"vpn\"\nvpn_connection = \"vpn-0c0000000000000001\"\nassociation = \"tgw-rtb-0c00000000000002\"\npropagations = [\"tgw-rtb-0c00000000000001\", \"tgw-rtb-0c00000000000002\"]\n";
    let vpn = "\n[[vpn_connections]]\nid = \"vpn-0c0000000000000001\"\non_premises = \"dc-1\"\ntransit_gateway = \"tgw-0c0000000000000001\"";
    assert!(text.contains(vpn_attachment) && text.contains(vpn));
    let cfg = dir.path().join("dx-only.toml");
    std::fs::write(
        &cfg,
        text.replacen(vpn_attachment, "", 1).replacen(vpn, "", 1),
    )
    .unwrap();
    let mut lab = Lab::start(&cfg);
    lab.http_server("spoke-2", "hello from spoke-2\n");
    lab.check_isolation(&[("dc-1", "10.2.1.10")]);
    let (code, _) = lab.curl("dc-1", "http://10.2.1.10/");
    assert_ne!(code, "200");
    assert!(
        lab.drops("direct_connect_not_advertised") > 0,
        "{}",
        lab.stats()
    );
    assert_eq!(
        daemon_trace(&lab, "dc-1", "spoke-2-web", 80),
        "DIRECT_CONNECT_PREFIX_NOT_ALLOWED"
    );
}

/// `dig` answer lines (the last field of each) and the status.
fn dig(lab: &Lab, ns: &str, server: &str, name: &str) -> (String, Vec<String>) {
    let o = lab.exec(
        ns,
        &[
            "dig",
            &format!("@{server}"),
            "+time=3",
            "+tries=1",
            name,
            "A",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let status = out
        .split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("no answer")
        .to_string();
    let mut answers: Vec<String> = out
        .split(";; ANSWER SECTION:")
        .nth(1)
        .map(|s| {
            s.lines()
                .skip(1)
                .take_while(|l| !l.trim().is_empty())
                .filter_map(|l| l.split_whitespace().last().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    answers.sort();
    (status, answers)
}

/// Route 53 Resolver across the hub, with real dig: the data centre asks the shared VPC's
/// resolver through the inbound endpoint and gets its private view (the api endpoint's
/// addresses); a spoke asks its own resolver for corp.example, which a forwarding rule sends
/// out of the shared VPC's outbound endpoint, over the transit gateway and the VPN, to the
/// data centre's DNS server (dnsmasq) — and back. Then curl uses the name.
#[test]
fn resolver_endpoints_answer_the_data_centre_and_forward_to_it() {
    if !can_run() {
        return;
    }
    need("dnsmasq");
    let mut lab = Lab::start(&hub());
    lab.http_server("api-web", "hello from the api\n");
    lab.spawn(
        "dc-1",
        &[
            "dnsmasq",
            "--no-daemon",
            "--no-resolv",
            "--no-hosts",
            "--listen-address=192.168.10.53",
            "--bind-interfaces",
            "--host-record=db.corp.example,192.168.10.20",
        ],
    );
    lab.check_isolation(&[("dc-1", "10.100.1.53"), ("spoke-1", "10.1.0.2")]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    // From the data centre, through the inbound endpoint: the shared VPC's private view.
    let want = vec!["10.100.1.20".to_string(), "10.100.2.20".to_string()];
    assert_eq!(
        dig(&lab, "dc-1", "10.100.1.53", "api.example.internal"),
        ("NOERROR".to_string(), want.clone()),
        "{}",
        lab.daemon_log()
    );
    assert_eq!(
        dig(&lab, "dc-1", "10.100.2.53", "api.example.internal").1,
        want
    );
    // The endpoint's regional name is public (AWS publishes it): the spoke's own resolver
    // answers it though the endpoint lives in the shared VPC.
    let o = lab.vpcectl(&["show", "endpoints", "--daemon", "--id", API, "-o", "json"]);
    let shown: Value = serde_json::from_slice(&o.stdout).unwrap();
    let regional = shown[0]["dns_names"]["regional"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, mut public) = dig(&lab, "spoke-1", "10.1.0.2", &regional);
    public.sort();
    assert_eq!((status.as_str(), public), ("NOERROR", want.clone()));
    // From a spoke, forwarded to the data centre by the rule.
    assert_eq!(
        dig(&lab, "spoke-1", "10.1.0.2", "db.corp.example"),
        ("NOERROR".to_string(), vec!["192.168.10.20".to_string()]),
        "{}",
        lab.daemon_log()
    );
    // And the address the spoke's resolver gives for the name answers curl.
    let (_, a) = dig(&lab, "spoke-1", "10.1.0.2", "api.example.internal");
    let (code, body) = lab.curl(
        "spoke-1",
        &format!("http://{}/", a.first().expect("an answer")),
    );
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "hello from the api\n")
    );
}
