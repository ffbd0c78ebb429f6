//! End to end over network namespaces and TUN: the no-endpoint (internet gateway) and
//! gateway-endpoint paths of SPEC.md carry real traffic from real programs (curl, ping,
//! iperf3, a Python web server), configurations are swapped under load without losing a
//! packet, and malformed packets are counted and dropped.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::common::{can_run, example, ping_counts, Lab};

const INSTANCE: &str = "s3-instance";
const ENI: &str = "eni-08c0b194dec370347";
const ENDPOINT: &str = "vpce-0abcdef0123456789";
const IGW: &str = "igw-0d00d00000000001";

fn lab_with_servers() -> Lab {
    lab_with_servers_args(&[])
}

fn lab_with_servers_args(args: &[&str]) -> Lab {
    let mut lab = Lab::start_args(&example("s3-endpoints.toml"), args);
    lab.add_loopback("internet", "8.8.8.8");
    lab.add_loopback("internet", "2001:4860:4860::8888");
    lab.check_isolation(&[
        (INSTANCE, "52.216.39.26"),
        (INSTANCE, "8.8.8.8"),
        (INSTANCE, "192.0.2.1"),
        (INSTANCE, "2600:1fa0:8000::1a"),
        (INSTANCE, "2001:4860:4860::8888"),
        ("internet", "203.0.113.176"),
        ("s3", "10.0.0.176"),
    ]);
    lab.http_server("s3", "hello from s3\n");
    lab.http_server("internet", "hello from the internet\n");
    lab
}

#[test]
fn internet_and_gateway_endpoint_paths_carry_real_traffic() {
    if !can_run() {
        return;
    }
    let mut lab = lab_with_servers();

    // Gateway endpoint: S3's address, addresses unchanged, the endpoint's counter moves.
    let (code, body) = lab.curl(INSTANCE, "http://52.216.39.26/");
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "hello from s3\n"),
        "{}",
        lab.daemon_log()
    );
    assert!(lab.counter("endpoint", ENDPOINT, "tx_packets") > 0);
    assert_eq!(
        lab.counter("internet_gateway", IGW, "tx_packets"),
        0,
        "S3 traffic must not use the IGW"
    );

    // Interface endpoint to S3: the endpoint's ENI address (what private DNS answers for
    // *.s3.us-east-1.amazonaws.com) reaches S3's network, replies come from the ENI.
    let (code, body) = lab.curl(INSTANCE, "http://10.0.1.125/");
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "hello from s3\n"),
        "{}",
        lab.daemon_log()
    );
    assert!(lab.counter("endpoint", "vpce-0fedcba9876543210", "tx_packets") > 0);
    // Its security group admits HTTP and HTTPS only.
    let o = lab.exec(
        INSTANCE,
        &["curl", "-s", "-m", "2", "http://10.0.1.125:8080/"],
    );
    assert!(!o.status.success());
    assert!(lab.drops("security_group_ingress") > 0);

    // Internet gateway: 8.8.8.8, source translated to the instance's public address.
    let (code, body) = lab.curl(INSTANCE, "http://8.8.8.8/");
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "hello from the internet\n")
    );
    assert!(lab.counter("internet_gateway", IGW, "tx_packets") > 0);

    // Inbound through the IGW to the instance's public address.
    lab.http_server(INSTANCE, "hello from the instance\n");
    let (code, body) = lab.curl("internet", "http://203.0.113.176/");
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "hello from the instance\n")
    );
    assert!(lab.counter("internet_gateway", IGW, "rx_packets") > 0);

    // The blackholed destination is dropped with its reason.
    let o = lab.exec(
        INSTANCE,
        &["ping", "-c", "3", "-i", "0.2", "-W", "1", "192.0.2.1"],
    );
    let (sent, got) = ping_counts(&String::from_utf8_lossy(&o.stdout));
    assert_eq!((sent, got), (3, 0));
    assert!(lab.drops("blackhole_route") >= 3);

    // IPv6 on both paths.
    let (code, body) = lab.curl(INSTANCE, "http://[2600:1fa0:8000::1a]/");
    assert_eq!((code.as_str(), body.as_str()), ("200", "hello from s3\n"));
    let o = lab.exec(
        INSTANCE,
        &[
            "ping",
            "-6",
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "2",
            "2001:4860:4860::8888",
        ],
    );
    assert_eq!(
        ping_counts(&String::from_utf8_lossy(&o.stdout)),
        (3, 3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Inbound IPv6 from the internet reaches the instance's global address untranslated.
    let o = lab.exec(
        "internet",
        &[
            "ping",
            "-6",
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "2",
            "2600:1f18:1234:5600::b0",
        ],
    );
    assert_eq!(
        ping_counts(&String::from_utf8_lossy(&o.stdout)),
        (3, 3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Status names the attachments and their devices.
    let o = lab.vpcectl(&["status", "-o", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let atts = status["attachments"].as_array().unwrap();
    assert!(atts
        .iter()
        .any(|a| a["id"] == ENI && a["namespace"] == lab.ns(INSTANCE).as_str()));
}

/// A copy of the example (and its data) with `extra` appended to the public route table's
/// routes, in `dir`.
fn variant(dir: &Path, name: &str, extra_route: &str) -> PathBuf {
    let text = std::fs::read_to_string(example("s3-endpoints.toml")).unwrap();
    let marker = "  { destination = \"192.0.2.0/24\", target = \"blackhole\" },";
    assert!(text.contains(marker));
    let text = text.replace(marker, &format!("{marker}\n  {extra_route}"));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::copy(
        example("data/ip-ranges.us-east-1.S3.json"),
        dir.join("data/ip-ranges.us-east-1.S3.json"),
    )
    .unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn hundred_applies_under_a_ping_flood_and_iperf3_lose_nothing() {
    if !can_run() {
        return;
    }
    applies_under_traffic(&[], 100);
}

/// The io_uring workers (`--io uring`): the same traffic, and every apply drains the rings
/// (each read cancelled and awaited) before the new plan's queues are read.
#[test]
fn io_uring_workers_carry_traffic_across_applies() {
    if !can_run() {
        return;
    }
    applies_under_traffic(&["--io", "uring"], 40);
}

/// Flow steering (`io::steer`, on by default): two TCP streams at once, in round after round,
/// are read by two different workers — never both by one, as the kernel's hash alone leaves
/// them half the time with two queues — and `vpcectl stats` shows each worker's share.
#[test]
fn two_flows_are_spread_over_two_workers_every_time() {
    if !can_run() {
        return;
    }
    let mut lab = lab_with_servers();
    lab.spawn("s3", &["iperf3", "-s", "-B", "52.216.39.26"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let read = |lab: &Lab| -> Vec<u64> {
        let w = lab.stats()["workers"].clone();
        serde_json::from_value(w).expect("workers: packets read per worker")
    };
    for round in 0..5 {
        let before = read(&lab);
        assert_eq!(before.len(), 2, "one count per worker");
        let o = lab.exec(
            INSTANCE,
            &[
                "iperf3",
                "-c",
                "52.216.39.26",
                "-t",
                "1",
                "-P",
                "2",
                "-b",
                "300M",
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let after = read(&lab);
        let d: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
        let total = d[0] + d[1];
        // Superpackets of the offloads: a few thousand reads carry the whole second.
        assert!(total > 500, "round {round}: {d:?}");
        for (w, n) in d.iter().enumerate() {
            let share = *n as f64 / total as f64;
            assert!(
                (0.25..=0.75).contains(&share),
                "round {round}: worker {w} read {:.0} % of the packets ({d:?})\n{}",
                100.0 * share,
                lab.daemon_log()
            );
        }
    }
    let o = lab.vpcectl(&["stats"]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("PACKETS READ"), "{table}");
}

/// `applies` swaps of the configuration under a ping flood and a paced iperf3, on vpced with
/// `args`: nothing lost, a rejected apply changes nothing.
fn applies_under_traffic(args: &[&str], applies: u64) {
    let dir = tempfile::tempdir().unwrap();
    let a = variant(dir.path(), "a.toml", "");
    let b = variant(
        dir.path(),
        "b.toml",
        "{ destination = \"198.51.100.0/24\", target = \"blackhole\" },",
    );
    let broken = variant(
        dir.path(),
        "broken.toml",
        "{ destination = \"198.18.0.0/15\", target = \"igw-0000000000000dead\" },",
    );
    let mut lab = lab_with_servers_args(args);
    lab.spawn("s3", &["iperf3", "-s", "-B", "52.216.39.26", "-1"]);
    std::thread::sleep(std::time::Duration::from_millis(300));

    let ping = lab.spawn(
        INSTANCE,
        &["ping", "-i", "0.002", "-c", "2500", "-q", "8.8.8.8"],
    );
    // Paced so that the fabric is not saturated: loss here would be the swaps' fault alone.
    let iperf = lab.spawn(
        INSTANCE,
        &[
            "iperf3",
            "-c",
            "52.216.39.26",
            "-t",
            "6",
            "-b",
            "200M",
            "-J",
        ],
    );
    let t0 = Instant::now();
    for i in 0..applies {
        let f = if i % 2 == 0 { &b } else { &a };
        let o = lab.vpcectl(&["apply", f.to_str().unwrap()]);
        assert!(
            o.status.success(),
            "apply {i}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if i % 10 == 0 {
            // An apply returns once every worker decides packets under it: none is left
            // holding the previous generation (whose tables would drop what this one opened).
            let status: serde_json::Value =
                serde_json::from_slice(&lab.vpcectl(&["status", "-o", "json"]).stdout).unwrap();
            let running = status["worker_generations"].as_array().unwrap();
            assert_eq!(running.len(), 2, "{status}");
            assert!(
                running.iter().all(|g| g == &status["generation"]),
                "apply {i}: {status}"
            );
        }
        // Spread the swaps over the traffic (about 4 s of the ping's 5 s).
        std::thread::sleep(std::time::Duration::from_millis(3500 / applies));
    }
    let took = t0.elapsed();
    // A rejected apply under traffic: exit 2, the error names table, line and target, and
    // the running configuration stays.
    let o = lab.vpcectl(&["apply", broken.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("rtb-0c0ffee000000001")
            && err.contains("igw-0000000000000dead")
            && err.contains("broken.toml:"),
        "{err}"
    );
    let status: serde_json::Value =
        serde_json::from_slice(&lab.vpcectl(&["status", "-o", "json"]).stdout).unwrap();
    assert_eq!(
        status["generation"],
        applies + 1,
        "{applies} applies after generation 1; the rejected one changed nothing"
    );
    let (code, _) = lab.curl(INSTANCE, "http://52.216.39.26/");
    assert_eq!(code, "200");

    let ping_out = lab.wait(ping);
    let (sent, got) = ping_counts(&String::from_utf8_lossy(&ping_out.stdout));
    let iperf_out = lab.wait(iperf);
    let report: serde_json::Value = serde_json::from_slice(&iperf_out.stdout).unwrap_or_else(|e| {
        panic!(
            "iperf3: {e}: {}",
            String::from_utf8_lossy(&iperf_out.stderr)
        )
    });
    let bytes = report["end"]["sum_received"]["bytes"]
        .as_f64()
        .unwrap_or(0.0);
    let retransmits = report["end"]["sum_sent"]["retransmits"]
        .as_u64()
        .unwrap_or(0);
    eprintln!(
        "{applies} applies in {took:?}; ping {got}/{sent}; iperf3 {:.0} MB, {retransmits} retransmits",
        bytes / 1e6
    );
    assert_eq!(sent, 2500);
    assert_eq!(
        got,
        sent,
        "ping lost packets across the swaps; drops: {}",
        lab.stats()["drops"]
    );
    assert!(bytes > 1e6, "iperf3 moved data across the swaps");
    let drops = lab.stats()["drops"].clone();
    for (reason, n) in drops.as_object().unwrap() {
        assert!(
            reason == "not_routable",
            "unexpected drops {reason}={n} during the swaps"
        );
    }
}

/// Malformed packets written straight onto the instance's TUN device (AF_PACKET on a TUN
/// device hands the bytes to vpced unchanged).
#[test]
fn malformed_packet_burst_is_counted_and_dropped() {
    if !can_run() {
        return;
    }
    let lab = lab_with_servers();
    let status: serde_json::Value =
        serde_json::from_slice(&lab.vpcectl(&["status", "-o", "json"]).stdout).unwrap();
    let dev = status["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == ENI)
        .unwrap()["device"]
        .as_str()
        .unwrap()
        .to_string();
    let script = r#"
import socket, struct, sys
dev = sys.argv[1]
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b)//2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
def ip4(src, dst, payload, ihl=5, total=None, opts=b'', fix=True):
    total = total if total is not None else 20 + len(opts) + len(payload)
    h = struct.pack('!BBHHHBBH4s4s', 0x40 | ihl, 0, total, 1, 0x4000, 64, 1, 0, socket.inet_aton(src), socket.inet_aton(dst)) + opts
    if fix: h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return h + payload
icmp = b'\x08\x00\xf7\xfe\x00\x01\x00\x00'
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
good = ip4('10.0.0.176', '8.8.8.8', icmp)
burst = [
    good[:10],                                   # truncated header
    ip4('10.0.0.176', '8.8.8.8', icmp, total=400),  # total length past the packet
    ip4('10.0.0.176', '8.8.8.8', icmp, total=12),   # total length inside the header
    ip4('10.0.0.176', '8.8.8.8', icmp, ihl=3),      # header length below 5
    ip4('10.0.0.176', '8.8.8.8', icmp, fix=False),  # checksum wrong
    b'\x75' + good[1:],                          # version 7
    bytes(range(200)),                           # garbage
    ip4('10.0.0.176', '8.8.8.8', b'\x00\x10'),   # TCP-less protocol 1 with 2 bytes: truncated ICMP
]
n = 0
for _ in range(50):
    for p in burst:
        s.sendto(p, (dev, 0x0800)); n += 1
# Options (IHL 6) are fine: this one must be forwarded.
s.sendto(ip4('10.0.0.176', '8.8.8.8', icmp, ihl=6, opts=b'\x01\x01\x01\x00'), (dev, 0x0800))
print(n)
"#;
    let o = lab.exec(INSTANCE, &["python3", "-c", script, &dev]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sent: u64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
    assert_eq!(sent, 400);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let drops = lab.stats()["drops"].clone();
    let malformed: u64 = drops
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("malformed_"))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum();
    assert_eq!(malformed, sent, "every malformed packet counted: {drops}");
    for reason in [
        "malformed_truncated",
        "malformed_bad_total_length",
        "malformed_bad_header_length",
        "malformed_bad_header_checksum",
        "malformed_bad_ip_version",
    ] {
        assert!(drops[reason].as_u64().unwrap_or(0) > 0, "{reason}: {drops}");
    }
    // vpced is alive and still forwarding.
    let (code, _) = lab.curl(INSTANCE, "http://8.8.8.8/");
    assert_eq!(code, "200", "{}", lab.daemon_log());
}

/// Apply adds an attachment (a second instance in its own namespace) and later removes it:
/// the device appears, carries traffic, then disappears, while the first instance's traffic is
/// untouched.
#[test]
fn apply_adds_and_removes_attachments() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = variant(dir.path(), "base.toml", "");
    let text = std::fs::read_to_string(&base).unwrap()
        + "\n[[instances]]\nid = \"i-0000000000000b0b0\"\nsubnet = \"subnet-0a0000000000000a1\"\nprivate_ip = \"10.0.0.77\"\npublic_ip = \"203.0.113.77\"\nsecurity_groups = [\"sg-0a00000000000ec21\"]\nnamespace = \"second\"\n";
    let more = dir.path().join("more.toml");
    std::fs::write(&more, text).unwrap();
    let lab = lab_with_servers();
    let ping = |lab: &Lab, ns: &str, dst: &str| {
        // A generous reply timeout: this test runs beside the hundred-applies one, whose
        // ping flood and reloads can delay a reply past a second on 2 cores.
        let o = lab.exec(ns, &["ping", "-c", "2", "-i", "0.2", "-W", "3", dst]);
        ping_counts(&String::from_utf8_lossy(&o.stdout))
    };
    assert!(lab.namespaces().iter().all(|n| !n.ends_with("second")));
    let o = lab.vpcectl(&["apply", more.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        lab.namespaces().contains(&lab.ns("second")),
        "{:?}",
        lab.namespaces()
    );
    lab.check_isolation(&[("second", "8.8.8.8"), ("second", "10.0.0.176")]);
    assert_eq!(
        ping(&lab, "second", "8.8.8.8"),
        (2, 2),
        "the new instance reaches the internet"
    );
    assert_eq!(
        ping(&lab, "second", "10.0.0.176"),
        (2, 2),
        "and the first instance"
    );
    let (code, _) = lab.curl("second", "http://52.216.39.26/");
    assert_eq!(code, "200");
    let o = lab.vpcectl(&["apply", base.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let o = std::process::Command::new("ip")
        .args(["-n", &lab.ns("second"), "-o", "link", "show"])
        .output()
        .unwrap();
    let links = String::from_utf8_lossy(&o.stdout);
    assert!(
        !links.contains("vpe-"),
        "the removed instance's device is gone: {links}"
    );
    assert_eq!(
        ping(&lab, INSTANCE, "8.8.8.8"),
        (2, 2),
        "the first instance is untouched"
    );
}

/// `vpcectl trace --daemon` and the live dataplane agree, on a table of cases: what trace
/// calls reachable answers curl, and what it blocks is dropped with the counter it names.
#[test]
fn trace_agrees_with_the_dataplane() {
    if !can_run() {
        return;
    }
    let mut lab = lab_with_servers();
    lab.http_server(INSTANCE, "hello from the instance\n");
    // (source namespace, trace --from, trace --to, port, URL curl fetches)
    let cases = [
        (
            INSTANCE,
            "i-08c0b194dec370347",
            "52.216.39.26",
            80,
            "http://52.216.39.26/",
        ),
        (
            INSTANCE,
            "i-08c0b194dec370347",
            "8.8.8.8",
            80,
            "http://8.8.8.8/",
        ),
        (
            INSTANCE,
            "i-08c0b194dec370347",
            "10.0.1.125",
            80,
            "http://10.0.1.125/",
        ),
        (
            INSTANCE,
            "i-08c0b194dec370347",
            "10.0.1.125",
            8080,
            "http://10.0.1.125:8080/",
        ),
        (
            INSTANCE,
            "i-08c0b194dec370347",
            "192.0.2.1",
            80,
            "http://192.0.2.1/",
        ),
        (
            "internet",
            "internet",
            "i-08c0b194dec370347",
            80,
            "http://203.0.113.176/",
        ),
        (
            "internet",
            "internet",
            "i-08c0b194dec370347",
            22,
            "http://203.0.113.176:22/",
        ),
    ];
    for (ns, from, to, port, url) in cases {
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
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
        let reachable = v["trace"]["reachable"] == true;
        let reason = v["trace"]["forward"]["blocked"]["drop_reason"]
            .as_str()
            .map(str::to_string);
        let before = reason.as_deref().map(|r| lab.drops(r));
        let o = lab.exec(
            ns,
            &[
                "curl",
                "-s",
                "-m",
                "2",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                url,
            ],
        );
        let answered = String::from_utf8_lossy(&o.stdout) == "200";
        assert_eq!(answered, reachable, "{from} -> {to}:{port}: trace says {v}");
        if let (Some(r), Some(b)) = (reason, before) {
            assert!(lab.drops(&r) > b, "{from} -> {to}:{port}: {r} not counted");
        }
    }
}
