//! The seed 004 build end to end over network namespaces (and `vpcectl trace --daemon` at
//! every step, which must name the decision the dataplane then takes): EC2-A's curl to the interface
//! endpoint's address gets EC2-B's "Hello!" only once the connection is accepted, the NLB's
//! security group is no longer enforced on PrivateLink traffic and cross-zone load balancing
//! is on — each step applied to the running vpced, each failure with the counter that says
//! why. Then the target fails and recovers, and the acceptance survives a restart.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::Value;

const ENDPOINT: &str = "vpce-0a000000000000001";
const ENDPOINT_IP: &str = "10.0.128.100";

/// The example with fast health checks (AWS's minimum interval) and `edits` applied.
fn variant(dir: &Path, name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(example("privatelink-hands-on.toml")).unwrap();
    let mut all = vec![
        (
            "health_check = { protocol = \"HTTP\", path = \"/index.html\" }",
            "health_check = { protocol = \"HTTP\", path = \"/index.html\", interval_seconds = 5, timeout_seconds = 2, healthy_threshold = 2, unhealthy_threshold = 2 }",
        ),
        // The provider has not accepted the request yet.
        (
            "connections = [{ endpoint = \"vpce-0a000000000000001\", state = \"available\" }]",
            "",
        ),
    ];
    all.extend_from_slice(edits);
    for (from, to) in all {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const NO_ENFORCE: (&str, &str) = (
    "enforce_security_group_inbound_rules_on_private_link_traffic = true",
    "enforce_security_group_inbound_rules_on_private_link_traffic = false",
);
const CROSS_ZONE: (&str, &str) = ("cross_zone = false", "cross_zone = true");

fn wait_for_state(lab: &Lab, want: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while target_state(lab) != want {
        assert!(
            Instant::now() < deadline,
            "target did not turn {want} within {within:?}: {}",
            lab.daemon_log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// What `vpcectl trace --daemon` says of EC2-A's connection to the endpoint: the drop counter
/// of the blocking decision, or `reachable`.
fn daemon_trace(lab: &Lab) -> String {
    let o = lab.vpcectl(&[
        "trace",
        "--daemon",
        "--from",
        "EC2-A",
        "--to",
        "vpce-0a000000000000001",
        "--port",
        "80",
        "-o",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    match v["trace"]["forward"]["blocked"]["drop_reason"].as_str() {
        Some(r) => r.to_string(),
        None if v["trace"]["reachable"] == true => "reachable".into(),
        None => format!("{v}"),
    }
}

/// A curl that must fail, the drop counter that must say why — and the trace of the running
/// vpced, which must name the same decision before the packet is sent.
fn fails_with(lab: &Lab, reason: &str) {
    assert_eq!(daemon_trace(lab), reason, "trace and dataplane disagree");
    let before = lab.drops(reason);
    let (code, _) = lab.curl("ec2-a", &format!("http://{ENDPOINT_IP}/"));
    assert_eq!(code, "000", "curl must fail ({reason})");
    assert!(
        lab.drops(reason) > before,
        "{reason} not counted: {}",
        lab.stats()
    );
}

#[test]
fn the_hands_on_build_its_two_mistakes_and_the_fixes() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let first = variant(dir.path(), "first.toml", &[]);
    let no_enforce = variant(dir.path(), "no-enforce.toml", &[NO_ENFORCE]);
    let fixed = variant(dir.path(), "fixed.toml", &[NO_ENFORCE, CROSS_ZONE]);
    let mut lab = Lab::start(&first);
    let server = lab.http_server("ec2-b", "Hello!\n");
    lab.check_isolation(&[("ec2-a", ENDPOINT_IP), ("ec2-b", "10.1.128.50")]);

    // 0. The request waits for the provider's acceptance.
    fails_with(&lab, "endpoint_connection_not_accepted");
    let v = json(&lab.vpcectl(&["endpoint-connections", "list", "-o", "json"]));
    assert_eq!(v["connections"][0]["state"], "pendingAcceptance", "{v}");
    let o = lab.vpcectl(&["endpoint-connections", "accept", ENDPOINT]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = lab.vpcectl(&["endpoint-connections", "accept", "vpce-does-not-exist"]);
    assert_eq!(o.status.code(), Some(2));

    // 1. The article's first failure: NLB-B's group, enforced on PrivateLink traffic.
    fails_with(&lab, "load_balancer_security_group");
    let stats = lab.stats();
    assert!(
        stats["security_groups"]["sg-0b000000000000001"]["ingress_denied"]
            .as_u64()
            .unwrap()
            > 0,
        "{stats}"
    );

    // 2. The second: the endpoint is in 1a, EC2-B in 1c, cross-zone off.
    let o = lab.vpcectl(&["apply", no_enforce.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    fails_with(&lab, "no_healthy_target_in_zone");

    // 3. Fixed: "Hello!" from EC2-B, which sees the NLB's address, not EC2-A's.
    let o = lab.vpcectl(&["apply", fixed.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(daemon_trace(&lab), "reachable");
    let (code, body) = lab.curl("ec2-a", &format!("http://{ENDPOINT_IP}/"));
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "Hello!\n"),
        "{}",
        lab.daemon_log()
    );
    wait_for_state(&lab, "healthy", Duration::from_secs(20));
    lab.kill(server);
    let log = lab.http_log("ec2-b");
    assert!(
        log.lines().any(
            |l| l.trim_start_matches("::ffff:").starts_with("10.1.128.50 ")
                && l.contains("\"GET / ")
        ),
        "the web server must see the NLB node of the endpoint's zone: {log}"
    );
    assert!(
        !log.contains("10.0.128.10"),
        "consumer address leaked: {log}"
    );
    assert!(
        log.contains("GET /index.html"),
        "health checks must reach the server: {log}"
    );
    assert!(
        !log.contains("Traceback"),
        "health checks must close connections cleanly: {log}"
    );

    // 4. The target fails: unhealthy within the thresholds. It is the group's only target, so
    //    the NLB fails open (AWS: with every target unhealthy it sends to all of them): trace
    //    still reaches it and says so; the request goes to the target, where nothing listens,
    //    and fails there. Back, it resumes.
    wait_for_state(&lab, "unhealthy", Duration::from_secs(25));
    let o = lab.vpcectl(&[
        "trace", "--daemon", "--from", "EC2-A", "--to", ENDPOINT, "--port", "80", "-o", "json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["trace"]["reachable"], true, "{v:#}");
    assert!(v.to_string().contains("failing open"), "{v:#}");
    assert_eq!(
        lab.curl("ec2-a", &format!("http://{ENDPOINT_IP}/")).0,
        "000"
    );
    let _server = lab.http_server("ec2-b", "Hello!\n");
    wait_for_state(&lab, "healthy", Duration::from_secs(25));
    assert_eq!(daemon_trace(&lab), "reachable");
    let (code, body) = lab.curl("ec2-a", &format!("http://{ENDPOINT_IP}/"));
    assert_eq!((code.as_str(), body.as_str()), ("200", "Hello!\n"));

    // 5. The acceptance survives a restart of vpced (the configuration file says nothing of
    //    it).
    lab.config = fixed.clone();
    lab.restart();
    let v = json(&lab.vpcectl(&["endpoint-connections", "list", "-o", "json"]));
    assert_eq!(v["connections"][0]["state"], "available", "{v}");
    assert_eq!(v["connections"][0]["origin"], "decision", "{v}");
    // So does the target's last known health (not `initial` again).
    assert_eq!(target_state(&lab), "healthy");
}

/// Issue 22's peering bug, over namespaces: EC2-C, in a VPC peered with the endpoint's,
/// curls the interface endpoint and gets EC2-B's answer — the endpoint's reply goes back over
/// the peering connection by the endpoint subnet's routes — and `trace --daemon` agrees.
#[test]
fn a_peered_consumer_gets_the_endpoints_reply() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let peer = std::fs::read_to_string(root().join("tests/fixtures/peered-consumer.toml")).unwrap()
        + "\n# ---- provider: privatelink-B";
    let cfg = variant(
        dir.path(),
        "peered.toml",
        &[
            NO_ENFORCE,
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
    let mut lab = Lab::start(&cfg);
    let _server = lab.http_server("ec2-b", "Hello!\n");
    let o = lab.vpcectl(&["endpoint-connections", "accept", ENDPOINT]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    lab.check_isolation(&[("ec2-c", ENDPOINT_IP)]);
    let o = lab.vpcectl(&[
        "trace", "--daemon", "--from", "EC2-C", "--to", ENDPOINT, "--port", "80", "-o", "json",
    ]);
    let v = json(&o);
    assert_eq!(v["trace"]["reachable"], true, "{v:#}");
    assert_eq!(v["trace"]["reply"]["delivered_to"], "eni-0c00000000000000a");
    let (code, body) = lab.curl("ec2-c", &format!("http://{ENDPOINT_IP}/"));
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "Hello!\n"),
        "{}",
        lab.daemon_log()
    );
}

/// A server that speaks PROXY protocol v2 (what a provider behind PrivateLink runs to learn
/// its consumers): it reads the header, then answers with the endpoint id and the consumer's
/// address it found there.
const PROXY_SERVER: &str = r#"
import socket, struct, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 80)); s.listen(16)
while True:
    c, peer = s.accept()
    try:
        head = b""
        while len(head) < 16:
            chunk = c.recv(16 - len(head))
            if not chunk: break
            head += chunk
        if len(head) < 16 or head[:12] != b"\r\n\r\n\x00\r\nQUIT\n":
            c.close(); continue
        n = struct.unpack("!H", head[14:16])[0]
        body = b""
        while len(body) < n: body += c.recv(n - len(body))
        src = socket.inet_ntoa(body[0:4]); sport = struct.unpack("!H", body[8:10])[0]
        tlv = body[12:]; vpce = "?"
        while len(tlv) >= 3:
            t, l = tlv[0], struct.unpack("!H", tlv[1:3])[0]
            if t == 0xEA and tlv[3] == 1: vpce = tlv[4:3 + l].decode()
            tlv = tlv[3 + l:]
        c.recv(4096)
        c.sendall(("HTTP/1.0 200 OK\r\n\r\nHello %s %s:%d\n" % (vpce, src, sport)).encode())
        print("peer", peer[0], "proxy", vpce, src, flush=True)
    finally:
        c.close()
"#;

#[test]
fn proxy_protocol_v2_reaches_a_real_server() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = variant(
        dir.path(),
        "proxy.toml",
        &[
            NO_ENFORCE,
            CROSS_ZONE,
            (
                "health_check = { protocol = \"HTTP\", path = \"/index.html\", interval_seconds = 5, timeout_seconds = 2, healthy_threshold = 2, unhealthy_threshold = 2 }",
                "health_check = { protocol = \"TCP\", interval_seconds = 5, timeout_seconds = 2, healthy_threshold = 2, unhealthy_threshold = 2 }\nproxy_protocol_v2 = true",
            ),
        ],
    );
    let mut lab = Lab::start(&cfg);
    let o = lab.vpcectl(&["endpoint-connections", "accept", ENDPOINT]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    lab.check_isolation(&[("ec2-a", ENDPOINT_IP)]);
    let server = lab.spawn("ec2-b", &["python3", "-c", PROXY_SERVER]);
    std::thread::sleep(Duration::from_millis(500));
    let o = lab.exec(
        "ec2-a",
        &[
            "curl",
            "-s",
            "-m",
            "5",
            "--local-port",
            "41000",
            &format!("http://{ENDPOINT_IP}/"),
        ],
    );
    let body = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        body,
        "Hello vpce-0a000000000000001 10.0.128.10:41000\n",
        "{}",
        lab.daemon_log()
    );
    let out = String::from_utf8_lossy(&lab.kill(server).stdout).into_owned();
    assert!(out.contains("peer ::ffff:10.1.128.50 proxy"), "{out}");
}

/// The same with HAProxy from Debian as the provider's server (`accept-proxy`): it takes the
/// client address from the header, and the HTTP health checks — which open with a PROXY LOCAL
/// header — keep the target healthy.
#[test]
fn haproxy_with_accept_proxy_sees_the_consumer() {
    if !can_run() {
        return;
    }
    need("haproxy");
    let dir = tempfile::tempdir().unwrap();
    let cfg = variant(
        dir.path(),
        "haproxy.toml",
        &[
            NO_ENFORCE,
            CROSS_ZONE,
            (
                "interval_seconds = 5, timeout_seconds = 2, healthy_threshold = 2, unhealthy_threshold = 2 }",
                "interval_seconds = 5, timeout_seconds = 2, healthy_threshold = 2, unhealthy_threshold = 2 }\nproxy_protocol_v2 = true",
            ),
        ],
    );
    let haproxy_cfg = dir.path().join("haproxy.cfg");
    std::fs::write(
        &haproxy_cfg,
        "global\n  log stdout format raw local0\ndefaults\n  mode http\n  log global\n  timeout client 5s\n  timeout server 5s\n  timeout connect 5s\nfrontend fe\n  bind :80 accept-proxy\n  log-format \"client %[src] %HM %HU\"\n  http-request return status 200 content-type text/plain lf-string \"Hello %[src]\\n\"\n",
    )
    .unwrap();
    let mut lab = Lab::start(&cfg);
    let o = lab.vpcectl(&["endpoint-connections", "accept", ENDPOINT]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let server = lab.spawn(
        "ec2-b",
        &["haproxy", "-db", "-f", haproxy_cfg.to_str().unwrap()],
    );
    // Until HAProxy listens (bounded), then until the path answers (the target's health
    // checks pass once it listens).
    let deadline = Instant::now() + Duration::from_secs(15);
    while lab
        .exec("ec2-b", &["ss", "-Hltn", "sport = :80"])
        .stdout
        .is_empty()
    {
        assert!(Instant::now() < deadline, "HAProxy does not listen on :80");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, body) = loop {
        let (code, body) = lab.curl("ec2-a", &format!("http://{ENDPOINT_IP}/"));
        if code == "200" || Instant::now() > deadline {
            break (code, body);
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "Hello 10.0.128.10\n"),
        "{}",
        lab.daemon_log()
    );
    // Health checks (HTTP, with a LOCAL header) keep passing: healthy within two intervals.
    wait_for_state(&lab, "healthy", Duration::from_secs(20));
    let log = String::from_utf8_lossy(&lab.kill(server).stdout).into_owned();
    assert!(log.contains("client 10.0.128.10 GET /"), "{log}");
    assert!(
        log.contains("GET /index.html"),
        "health checks logged: {log}"
    );
}

/// A client in the NLB's own VPC uses it directly, over real curl: EC2-B asks the NLB node
/// and is answered by the target — itself, which sees the node's address (client IP
/// preservation off, as AWS for IP targets); `trace --daemon` agrees, the load balancer counts
/// the flow.
#[test]
fn a_client_in_the_nlbs_vpc_uses_it_directly() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = variant(
        dir.path(),
        "direct.toml",
        &[
            CROSS_ZONE,
            (
                "name = \"NLB-B-sg\"\nvpc = \"vpc-0b000000000000001\"\n",
                "name = \"NLB-B-sg\"\nvpc = \"vpc-0b000000000000001\"\ningress = [{ protocol = \"tcp\", ports = 80, cidr = \"10.1.0.0/16\" }]\n",
            ),
            (
                "targets = [{ instance = \"i-0b00000000000000b\" }]",
                "targets = [{ instance = \"i-0b00000000000000b\" }]\npreserve_client_ip = false",
            ),
        ],
    );
    let mut lab = Lab::start(&cfg);
    let _server = lab.http_server("ec2-b", "Hello!\n");
    lab.check_isolation(&[("ec2-b", "10.1.128.50")]);
    let (code, body) = lab.curl("ec2-b", "http://10.1.128.50/");
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "Hello!\n"),
        "{}",
        lab.daemon_log()
    );
    let o = lab.vpcectl(&[
        "trace",
        "--daemon",
        "--from",
        "EC2-B",
        "--to",
        "10.1.128.50",
        "--port",
        "80",
        "-o",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["trace"]["reachable"], true, "{v:#}");
    let log = lab.http_log("ec2-b");
    assert!(
        log.lines().any(
            |l| l.trim_start_matches("::ffff:").starts_with("10.1.128.50 ")
                && l.contains("\"GET / ")
        ),
        "the target sees the node's address: {log}"
    );
    let lb = &lab.stats()["entities"]["load_balancer"]["NLB-B"];
    assert!(lb["rx_packets"].as_u64().unwrap() > 0, "{lb}");
}

/// An internet-facing NLB, over real curl from the internet namespace: the internet gateway
/// translates the node's public address, the node takes the flow to EC2-B (which sees the
/// node's address), the answer goes back out from the public address.
#[test]
fn an_internet_facing_nlb_answers_the_internet() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = variant(
        dir.path(),
        "internet-facing.toml",
        &[
            CROSS_ZONE,
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
            (
                "id = \"igw-0b000000000000001\"\nvpc = \"vpc-0b000000000000001\"\n",
                "id = \"igw-0b000000000000001\"\nvpc = \"vpc-0b000000000000001\"\nnamespace = \"internet\"\n",
            ),
        ],
    );
    let mut lab = Lab::start(&cfg);
    let _server = lab.http_server("ec2-b", "Hello!\n");
    lab.add_loopback("internet", "198.51.100.7");
    lab.check_isolation(&[("internet", "203.0.113.50"), ("ec2-b", "10.1.0.50")]);
    let o = lab.exec(
        "internet",
        &[
            "curl",
            "-s",
            "-m",
            "5",
            "--interface",
            "198.51.100.7",
            "http://203.0.113.50/",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "Hello!\n",
        "{}",
        lab.daemon_log()
    );
    let log = lab.http_log("ec2-b");
    assert!(
        log.lines()
            .any(|l| l.trim_start_matches("::ffff:").starts_with("10.1.0.50 ")),
        "the target sees the node's address: {log}"
    );
}

/// Every target of every group healthy, as the running vpced reports them.
fn all_healthy(lab: &Lab, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let v = json(&lab.vpcectl(&["show", "target-health", "-o", "json"]));
        let states: Vec<&str> = v["targets"]
            .as_array()
            .map(|t| t.iter().filter_map(|x| x["state"].as_str()).collect())
            .unwrap_or_default();
        if !states.is_empty() && states.iter().all(|s| *s == "healthy") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "targets not all healthy: {v}\n{}",
            lab.daemon_log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Dual-stack PrivateLink over real tools (`examples/privatelink-dual-stack.toml`): `dig`
/// gets the endpoint's AAAA record; `curl -6` to the endpoint's IPv6 address reaches EC2-B's
/// web server through the IPv4 target group (which sees the node's IPv4 address, AWS's
/// family translation); HAProxy with `accept-proxy` behind the IPv6 target group on port 8080
/// sees each consumer's own address in the family it connected with — IPv6 from `curl -6`,
/// IPv4 from `curl -4` — and the IPv6 group's TCP health checks (over IPv6) keep it healthy.
#[test]
fn dual_stack_endpoint_over_ipv6_curl_and_haproxy() {
    if !can_run() {
        return;
    }
    need("haproxy");
    need("dig");
    const VPCE6: &str = "2600:1f18:a:a80::100";
    let dir = tempfile::tempdir().unwrap();
    let fast = "interval_seconds = 5, timeout_seconds = 2, healthy_threshold = 2, unhealthy_threshold = 2 }";
    let text = std::fs::read_to_string(example("privatelink-dual-stack.toml"))
        .unwrap()
        .replace(
            "health_check = { protocol = \"HTTP\", path = \"/index.html\" }",
            &format!("health_check = {{ protocol = \"HTTP\", path = \"/index.html\", {fast}"),
        )
        .replace(
            "health_check = { protocol = \"TCP\" }",
            &format!("health_check = {{ protocol = \"TCP\", {fast}"),
        );
    let cfg = dir.path().join("dual.toml");
    std::fs::write(&cfg, text).unwrap();
    let haproxy_cfg = dir.path().join("haproxy.cfg");
    std::fs::write(
        &haproxy_cfg,
        "global\n  log stdout format raw local0\ndefaults\n  mode http\n  log global\n  timeout client 5s\n  timeout server 5s\n  timeout connect 5s\nfrontend fe\n  bind [::]:8080 v6only accept-proxy\n  log-format \"client %[src] %HM %HU\"\n  http-request return status 200 content-type text/plain lf-string \"Hello %[src]\\n\"\n",
    )
    .unwrap();
    let mut lab = Lab::start(&cfg);
    lab.check_isolation(&[("ec2-a", ENDPOINT_IP), ("ec2-a", VPCE6)]);
    lab.http_server("ec2-b", "Hello!\n");
    let server = lab.spawn(
        "ec2-b",
        &["haproxy", "-db", "-f", haproxy_cfg.to_str().unwrap()],
    );
    all_healthy(&lab, Duration::from_secs(30));

    // The endpoint's regional name has A and AAAA records.
    let regional = control::dns::regional_name(
        ENDPOINT,
        "com.amazonaws.vpce.ap-northeast-1.vpce-svc-0b000000000000001",
        "ap-northeast-1",
    );
    for (qtype, want) in [("AAAA", VPCE6), ("A", ENDPOINT_IP)] {
        let o = lab.exec(
            "ec2-a",
            &[
                "dig",
                "@10.0.0.2",
                "+short",
                "+time=2",
                "+tries=1",
                &regional,
                qtype,
            ],
        );
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), want, "{qtype}");
    }

    // Port 80: IPv6 consumer, IPv4 target group.
    let (code, body) = lab.curl("ec2-a", &format!("http://[{VPCE6}]/"));
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "Hello!\n"),
        "{}",
        lab.daemon_log()
    );
    let log = lab.http_log("ec2-b");
    assert!(
        log.contains("10.1.128.50"),
        "the target sees the node's IPv4 address: {log}"
    );

    // Port 8080: the IPv6 target group with PROXY v2, from both families.
    let (code, body) = lab.curl("ec2-a", &format!("http://[{VPCE6}]:8080/"));
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "Hello 2600:1f18:a:a80::10\n")
    );
    let (code, body) = lab.curl("ec2-a", &format!("http://{ENDPOINT_IP}:8080/"));
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "Hello 10.0.128.10\n")
    );

    // The running vpced explains the IPv6 path as it forwards it.
    let o = lab.vpcectl(&[
        "trace", "--daemon", "--from", "EC2-A", "--to", VPCE6, "--port", "80",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let log = String::from_utf8_lossy(&lab.kill(server).stdout).into_owned();
    assert!(log.contains("client 2600:1f18:a:a80::10 GET /"), "{log}");
    assert!(log.contains("client 10.0.128.10 GET /"), "{log}");
}

/// Client IP preservation (AWS's default for instance targets), over real curl: EC2-C, a
/// client of the NLB in its VPC, gets EC2-B's answer through the node, and EC2-B's web server
/// logs EC2-C's own address (its security group allows the VPC, as AWS says it must); EC2-B
/// asking the NLB is sent to itself and fails (no hairpinning, AWS), counted as such.
#[test]
fn client_ip_preservation_shows_the_client_to_the_target() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = variant(
        dir.path(),
        "preserve.toml",
        &[
            CROSS_ZONE,
            (
                "name = \"NLB-B-sg\"\nvpc = \"vpc-0b000000000000001\"\n",
                "name = \"NLB-B-sg\"\nvpc = \"vpc-0b000000000000001\"\ningress = [{ protocol = \"tcp\", ports = 80, cidr = \"10.1.0.0/16\" }]\n",
            ),
            (
                "description = \"HTTP from NLB-B-sg\" },",
                "description = \"HTTP from NLB-B-sg\" },\n  { protocol = \"tcp\", ports = 80, cidr = \"10.1.0.0/16\", description = \"the NLB's clients\" },",
            ),
        ],
    );
    add_ec2_c(&cfg);
    let mut lab = Lab::start(&cfg);
    let _server = lab.http_server("ec2-b", "Hello!\n");
    lab.check_isolation(&[("ec2-c", "10.1.144.50"), ("ec2-b", "10.1.144.50")]);
    wait_for_state(&lab, "healthy", Duration::from_secs(20));
    let (code, body) = lab.curl("ec2-c", "http://10.1.144.50/");
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "Hello!\n"),
        "{}",
        lab.daemon_log()
    );
    let log = lab.http_log("ec2-b");
    assert!(
        log.lines().any(
            |l| l.trim_start_matches("::ffff:").starts_with("10.1.144.20 ")
                && l.contains("\"GET / ")
        ),
        "the target sees the client's address: {log}"
    );
    let before = lab.drops("load_balancer_hairpin");
    let (code, _) = lab.curl("ec2-b", "http://10.1.144.50/");
    assert_eq!(code, "000");
    assert!(
        lab.drops("load_balancer_hairpin") > before,
        "{}",
        lab.stats()
    );
}

/// Appends EC2-C (10.1.144.20, namespace `ec2-c`, EC2-B's security group) to the
/// configuration at `cfg`: another host in the provider VPC's 1c subnet.
fn add_ec2_c(cfg: &Path) {
    let ec2_c = "\n[[instances]]\nid = \"i-0b00000000000000c\"\nname = \"EC2-C\"\nsubnet = \"subnet-0b0000000000000b2\"\nprivate_ip = \"10.1.144.20\"\nsecurity_groups = [\"sg-0b00000000000000b\"]\nnamespace = \"ec2-c\"\n";
    std::fs::write(cfg, std::fs::read_to_string(cfg).unwrap() + ec2_c).unwrap();
}

/// A TCP server that greets each connection with its name and echoes lines (argv: name).
const NAMED_ECHO: &str = r#"
import socket, sys, threading
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 80)); s.listen(64)
def serve(c):
    c.sendall(sys.argv[1].encode() + b"\n")
    try:
        while True:
            d = c.recv(100)
            if not d: break
            c.sendall(d)
    except OSError: pass
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// A client that keeps a connection to the target named argv[1] (greeting), says `held`,
/// waits for the file argv[2], then sends a line and prints what happened: `echo`, `reset`.
const HOLDING_CLIENT: &str = r#"
import os, socket, sys, time
for port in range(42000, 42100):
    c = socket.socket(); c.settimeout(5); c.bind(("10.0.128.10", port))
    c.connect(("10.0.128.100", 80))
    if c.recv(100).strip() == sys.argv[1].encode(): break
    c.close()
print("held", port, flush=True)
while not os.path.exists(sys.argv[2]): time.sleep(0.1)
try:
    c.sendall(b"ping\n"); d = c.recv(100)
    print("echo" if d == b"ping\n" else "closed" if not d else "other", flush=True)
except ConnectionResetError:
    print("reset", flush=True)
except OSError as e:
    print("error", e, flush=True)
"#;

/// A target turning unhealthy under a live connection (issue 23): with two targets (EC2-B and
/// EC2-C, health checks on port 8081), the consumer's connection to EC2-B is answered with a
/// TCP RST once EC2-B fails its checks — AWS's unhealthy connection termination, the other
/// target keeping the group from failing open; with termination off (no draining interval)
/// the same connection goes on.
#[test]
fn a_connection_to_a_target_that_turns_unhealthy_is_reset() {
    if !can_run() {
        return;
    }
    for terminate in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let mut edits = vec![
            NO_ENFORCE,
            CROSS_ZONE,
            (
                "targets = [{ instance = \"i-0b00000000000000b\" }]",
                "targets = [{ instance = \"i-0b00000000000000b\" }, { instance = \"i-0b00000000000000c\" }]",
            ),
            ("protocol = \"HTTP\", path = \"/index.html\",", "protocol = \"HTTP\", port = 8081, path = \"/index.html\","),
            (
                "description = \"HTTP from NLB-B-sg\" },",
                "description = \"HTTP from NLB-B-sg\" },\n  { protocol = \"tcp\", ports = 8081, security_group = \"sg-0b000000000000001\", description = \"health checks\" },",
            ),
        ];
        if !terminate {
            edits.push((
                "targets = [{ instance",
                "unhealthy_connection_termination = false\ntargets = [{ instance",
            ));
        }
        let cfg = variant(dir.path(), "unhealthy.toml", &edits);
        add_ec2_c(&cfg);
        let mut lab = Lab::start(&cfg);
        let o = lab.vpcectl(&["endpoint-connections", "accept", ENDPOINT]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        lab.check_isolation(&[("ec2-a", ENDPOINT_IP)]);
        let www = dir.path().join("www");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::write(www.join("index.html"), "ok\n").unwrap();
        let health_b = lab.serve("ec2-b", 8081, &www);
        lab.serve("ec2-c", 8081, &www);
        lab.spawn("ec2-b", &["python3", "-c", NAMED_ECHO, "B"]);
        lab.spawn("ec2-c", &["python3", "-c", NAMED_ECHO, "C"]);
        all_healthy(&lab, Duration::from_secs(30));
        let go = dir.path().join("go");
        let client = lab.spawn(
            "ec2-a",
            &["python3", "-c", HOLDING_CLIENT, "B", go.to_str().unwrap()],
        );
        std::thread::sleep(Duration::from_secs(2));
        // EC2-B stops answering its health checks: unhealthy after two intervals.
        lab.kill(health_b);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = json(&lab.vpcectl(&["show", "target-health", "-o", "json"]));
            let b = v["targets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["target"] == "10.1.144.10")
                .cloned();
            if b.is_some_and(|b| b["state"] == "unhealthy") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "EC2-B never turned unhealthy: {v}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        let before = lab.drops("unhealthy_target_reset");
        std::fs::write(&go, "").unwrap();
        let out = String::from_utf8_lossy(&lab.wait(client).stdout).into_owned();
        assert!(out.starts_with("held "), "{out}");
        if terminate {
            assert!(out.contains("reset"), "{out}\n{}", lab.daemon_log());
            assert!(
                lab.drops("unhealthy_target_reset") > before,
                "{}",
                lab.stats()
            );
        } else {
            assert!(
                out.contains("echo"),
                "termination off: the connection goes on: {out}"
            );
        }
    }
}

/// DNS failover of the NLB's name (issue 23), asked with real `dig`: with cross-zone off only
/// the node in EC2-B's zone is answered (the other has no healthy target it may use); when
/// EC2-B fails its health checks no zone is healthy and both nodes are answered again — the
/// same query, answered as health changes (not from the workers' cache).
#[test]
fn the_nlbs_dns_name_fails_over_by_zone() {
    if !can_run() {
        return;
    }
    need("dig");
    let dir = tempfile::tempdir().unwrap();
    let cfg = variant(dir.path(), "dns.toml", &[]);
    let mut lab = Lab::start(&cfg);
    let server = lab.http_server("ec2-b", "Hello!\n");
    let config = control::load_file(&cfg).unwrap().config;
    let name = control::dns::load_balancer_dns_name(&config.load_balancers[0], &config.region);
    let dig = |lab: &Lab| {
        let o = lab.exec(
            "ec2-a",
            &[
                "dig",
                "@10.0.0.2",
                "+short",
                "+time=2",
                "+tries=1",
                &name,
                "A",
            ],
        );
        let mut v: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    wait_for_state(&lab, "healthy", Duration::from_secs(20));
    for _ in 0..2 {
        assert_eq!(dig(&lab), vec!["10.1.144.50"], "{}", lab.daemon_log());
    }
    lab.kill(server);
    wait_for_state(&lab, "unhealthy", Duration::from_secs(30));
    assert_eq!(dig(&lab), vec!["10.1.128.50", "10.1.144.50"]);
}
