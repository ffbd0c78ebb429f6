//! What operators see of a running vpced: Prometheus metrics scraped over HTTP and checked
//! against the traffic that made them.

use std::collections::BTreeMap;
use std::process::Command;

use crate::common::*;

const INSTANCE: &str = "s3-instance";
const ENDPOINT: &str = "vpce-0abcdef0123456789";

/// One scrape: `name{labels}` -> value, and the raw text.
fn scrape(lab: &Lab) -> (BTreeMap<String, f64>, String) {
    let o = Command::new("ip")
        .args(["netns", "exec", &lab.ns("fabric")])
        .args(["curl", "-s", "-f", "http://127.0.0.1:9464/metrics"])
        .output()
        .unwrap();
    assert!(o.status.success(), "scrape failed: {o:?}");
    let text = String::from_utf8(o.stdout).unwrap();
    let samples = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse::<f64>().unwrap())
        })
        .collect();
    (samples, text)
}

fn value(samples: &BTreeMap<String, f64>, key: &str) -> f64 {
    *samples
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {:#?}", samples.keys().collect::<Vec<_>>()))
}

#[test]
fn prometheus_metrics_follow_the_traffic() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::start_args(
        &example("s3-endpoints.toml"),
        &["--metrics-listen", "127.0.0.1:9464"],
    );
    lab.http_server("s3", "hello from s3\n");
    lab.check_isolation(&[(INSTANCE, "52.216.39.26")]);
    let (before, text) = scrape(&lab);
    assert!(text.ends_with("# EOF\n"), "not OpenMetrics: {text}");
    assert!(
        text.contains("# TYPE vpce_endpoint_packets counter"),
        "{text}"
    );
    assert_eq!(value(&before, "vpce_config_generation"), 1.0);
    assert!(value(&before, "vpce_flow_table_capacity") > 0.0);
    // Every drop reason is there from the start, at zero.
    assert_eq!(
        value(&before, "vpce_drops_total{reason=\"flow_table_full\"}"),
        0.0
    );

    // Traffic through the gateway endpoint, a DNS answer, a drop, an apply.
    for _ in 0..3 {
        assert_eq!(lab.curl(INSTANCE, "http://52.216.39.26/").0, "200");
    }
    let o = dig(&lab, "s3.us-east-1.amazonaws.com");
    assert!(String::from_utf8_lossy(&o.stdout).contains("NOERROR"));
    lab.exec(INSTANCE, &["ping", "-c", "2", "-W", "1", "192.0.2.1"]); // a blackhole route
    let o = lab.vpcectl(&["apply", lab.config.to_str().unwrap()]);
    assert!(o.status.success(), "{o:?}");

    let (after, text) = scrape(&lab);
    let rx = format!("vpce_endpoint_packets_total{{id=\"{ENDPOINT}\",direction=\"rx\"}}");
    assert!(value(&after, &rx) >= 3.0, "{rx}: {text}");
    let bytes = format!("vpce_endpoint_bytes_total{{id=\"{ENDPOINT}\",direction=\"rx\"}}");
    assert!(value(&after, &bytes) > value(&after, &rx) * 20.0);
    assert!(value(&after, "vpce_dns_responses_total{rcode=\"NOERROR\"}") >= 1.0);
    assert!(value(&after, "vpce_drops_total{reason=\"blackhole_route\"}") >= 2.0);
    assert_eq!(value(&after, "vpce_config_generation"), 2.0);
    assert_eq!(
        value(&after, "vpce_config_applies_total{result=\"applied\"}"),
        1.0
    );
    assert_eq!(
        value(&after, "vpce_config_apply_duration_seconds_count"),
        1.0
    );
    assert!(value(&after, "vpce_flow_table_entries") >= 1.0);
    assert!(value(&after, "vpce_control_requests_total") >= 1.0);
    // Issue 21: build and process metrics, the last apply's time, and no family that mixes
    // kinds of entities (a packet counted once per family).
    assert_eq!(
        value(
            &after,
            &format!(
                "vpce_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        ),
        1.0
    );
    assert!(value(&after, "process_resident_memory_bytes") > 1e6);
    assert!(value(&after, "process_open_fds") >= 3.0);
    let applied = value(&after, "vpce_config_last_apply_timestamp_seconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (now - 60.0..=now + 1.0).contains(&applied),
        "{applied} vs {now}"
    );
    assert!(!text.contains("kind=\"endpoint\""), "{text}");
    // What the packaged dashboard and alert rules query exists in a real scrape.
    for name in packaged_metric_names() {
        // A sample of it, or its family's descriptor (a family with no member yet, such as
        // target health without target groups, has only that).
        let family = ["_total", "_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name);
        let served = text.lines().any(|l| {
            l.starts_with(&format!("{name}{{"))
                || l.starts_with(&format!("{name} "))
                || l.starts_with(&format!("# TYPE {family} "))
        });
        assert!(
            served,
            "packaging queries {name}, which vpced does not serve:\n{text}"
        );
    }
    // Counters only go up.
    for (k, v) in &before {
        if k.contains("_total") {
            assert!(after.get(k).copied().unwrap_or(0.0) >= *v, "{k} went down");
        }
    }
    // A strict OpenMetrics parser (the Prometheus project's Python client) reads it all.
    let o = Command::new("python3")
        .args([
            "-c",
            "import sys; from prometheus_client.openmetrics.parser import text_string_to_metric_families as p; print(sum(1 for _ in p(sys.stdin.read())))",
        ])
        .stdin(std::fs::File::open({
            let f = std::env::temp_dir().join(format!("{}metrics.txt", lab.prefix));
            std::fs::write(&f, &text).unwrap();
            f
        })
        .unwrap())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "the parser refused it: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Anything but /metrics is a 404.
    let o = Command::new("ip")
        .args(["netns", "exec", &lab.ns("fabric")])
        .args([
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "http://127.0.0.1:9464/",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "404");
}

/// `dig NAME A` from the instance, asked of its VPC's resolver.
fn dig(lab: &Lab, name: &str) -> std::process::Output {
    lab.exec(
        INSTANCE,
        &["dig", "@10.0.0.2", "+time=2", "+tries=1", name, "A"],
    )
}

/// `vpcectl capture ATTACHMENT -w - ARGS | tshark -r - -T fields FIELDS`, started, given a
/// moment to begin capturing.
fn capture_into_tshark(
    lab: &Lab,
    attachment: &str,
    args: &str,
    fields: &str,
) -> std::process::Child {
    let sh = format!(
        "{} capture {attachment} -w - {args} | tshark -r - -T fields {fields}",
        bin("vpcectl").display()
    );
    let piped = Command::new("sh")
        .args(["-c", &sh])
        .env("VPCE_SOCKET", &lab.socket)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    piped
}

/// `vpcectl capture` on the instance's ENI while it fetches from S3 through the interface
/// endpoint: pcap tshark reads, with the packets as sent (to the endpoint's address) and as
/// rewritten (to S3's), and what came back; piped into tshark as well; vpced's own DNS
/// answers among what leaves.
#[test]
fn capture_shows_packets_before_and_after_rewrite() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::start(&example("s3-endpoints.toml"));
    lab.http_server("s3", "hello from s3\n");
    lab.check_isolation(&[(INSTANCE, "10.0.1.125")]);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("eni.pcap");
    let eni = "eni-08c0b194dec370347";
    let capture = Command::new(bin("vpcectl"))
        .args([
            "capture",
            eni,
            "-w",
            pcap.to_str().unwrap(),
            "--count",
            "12",
        ])
        .args(["--point", "in,rewritten,out"])
        .env("VPCE_SOCKET", &lab.socket)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // A second capture at the same time is refused, and an unknown attachment is bad input.
    let o = lab.vpcectl(&["capture", eni, "-w", "/dev/null", "--count", "1"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("already running"));
    let o = lab.vpcectl(&["capture", "eni-00000000000000bad", "-w", "/dev/null"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("eni-00000000000000bad"));

    while lab.curl(INSTANCE, "http://10.0.1.125/").0 == "200" {
        if pcap.metadata().map(|m| m.len()).unwrap_or(0) > 24 * 40 {
            break;
        }
    }
    let o = capture.wait_with_output().unwrap();
    assert!(o.status.success(), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("12 packets captured"));
    need("tshark");
    let o = Command::new("tshark")
        .args([
            "-r",
            pcap.to_str().unwrap(),
            "-T",
            "fields",
            "-e",
            "sll.ifindex",
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let rows = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(rows.lines().count(), 12, "{rows}");
    // Sent to the endpoint's address (1 = in); rewritten, the same flow goes on (2); replies
    // come back to the instance (3).
    assert!(
        rows.lines()
            .any(|l| l.starts_with("1\t10.0.0.176\t10.0.1.125")),
        "{rows}"
    );
    assert!(rows.lines().any(|l| l.starts_with("2\t")), "{rows}");
    assert!(
        rows.lines()
            .any(|l| l.starts_with("3\t") && l.ends_with("\t10.0.0.176")),
        "{rows}"
    );

    // Piped: `vpcectl capture … -w - | tshark -r -`.
    let piped = capture_into_tshark(&lab, eni, "--count 4", "-e ip.dst");
    lab.curl(INSTANCE, "http://10.0.1.125/");
    let o = piped.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().count(),
        4,
        "{o:?}"
    );

    // vpced's own packets are captured too: the VPC resolver's answer leaving to the instance.
    let piped = capture_into_tshark(&lab, eni, "--count 1 --point out", "-e ip.src -e dns.a");
    let o = dig(&lab, "zenn-privatelink.s3.us-east-1.amazonaws.com");
    assert!(o.status.success(), "{o:?}");
    let o = piped.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "10.0.0.2\t10.0.1.125",
        "{o:?}"
    );

    // `-o json`: the summary as one document on stdout when the pcap goes to a file.
    let file = dir.path().join("two.pcap");
    let summary = Command::new(bin("vpcectl"))
        .args(["capture", eni, "-w", file.to_str().unwrap(), "--count", "2"])
        .args(["-o", "json"])
        .env("VPCE_SOCKET", &lab.socket)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    lab.curl(INSTANCE, "http://10.0.1.125/");
    let v = json(&summary.wait_with_output().unwrap());
    assert_eq!(v["packets"], 2, "{v}");
    assert_eq!(v["attachment"], eni, "{v}");
    assert_eq!(v["file"], file.to_str().unwrap(), "{v}");
}

/// VPC Flow Logs of a known traffic run: three fetches from S3 through the gateway endpoint
/// become ACCEPT records of the instance's ENI, egress to S3 and ingress back, whose packets
/// each way are what the endpoint carried each way, in AWS's format; an SSH attempt from the
/// internet its security group denies becomes a REJECT record.
#[test]
fn flow_logs_record_a_known_traffic_run() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("flows.log");
    let mut lab = Lab::start_args(
        &example("s3-endpoints.toml"),
        &[
            "--flow-log",
            log.to_str().unwrap(),
            "--flow-log-interval",
            "1",
        ],
    );
    lab.http_server("s3", "hello from s3\n");
    lab.check_isolation(&[(INSTANCE, "52.216.39.26")]);
    for _ in 0..3 {
        assert_eq!(lab.curl(INSTANCE, "http://52.216.39.26/").0, "200");
    }
    // From the internet to the instance's port 22: its security group denies it.
    lab.add_loopback("internet", "198.51.100.7");
    lab.exec(
        "internet",
        &["curl", "-s", "-m", "1", "http://203.0.113.176:22/"],
    );
    let (mut sent, mut returned, mut eni_rx);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let eni = "eni-08c0b194dec370347";
    let (mut out_packets, mut in_packets, mut records, mut text);
    loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        text = std::fs::read_to_string(&log).unwrap_or_default();
        let rows: Vec<Vec<&str>> = text
            .lines()
            .skip(1)
            .map(|l| l.split(' ').collect())
            .collect();
        records = rows.len();
        let sum = |src: &str, dst: &str| {
            rows.iter()
                .filter(|f| f[2] == eni && f[3] == src && f[4] == dst)
                .map(|f| f[8].parse::<u64>().unwrap())
                .sum::<u64>()
        };
        out_packets = sum("10.0.0.176", "52.216.39.26");
        in_packets = sum("52.216.39.26", "10.0.0.176");
        // The endpoint's counts, read after the log: what it carried to S3 (tx) and back
        // (rx). The connections' last packets (the final ACK) may come after curl returns.
        sent = lab.counter("endpoint", ENDPOINT, "tx_packets");
        returned = lab.counter("endpoint", ENDPOINT, "rx_packets");
        eni_rx = lab.counter("attachment", eni, "rx_packets");
        let rejected = text.contains(" 10.0.0.176 ")
            && text.contains(" 22 6 ")
            && text.contains(" REJECT OK ");
        if (out_packets == sent && in_packets == returned && rejected)
            || std::time::Instant::now() > deadline
        {
            break;
        }
    }
    assert_eq!(
        text.lines().next(),
        Some(dataplane::flowlog::HEADER),
        "{text}"
    );
    assert!(records > 0, "{text}");
    // The log's packets each way are the endpoint's, and no more than the instance sent (its
    // ENI also counts, say, IPv6 router solicitations).
    assert!(
        out_packets == sent && in_packets == returned && out_packets <= eni_rx,
        "packets to S3 in the log {out_packets}, through the endpoint {sent}; back {in_packets}, {returned}; ENI {eni_rx}: {}\n{text}",
        lab.stats()["drops"]
    );
    let fields = dataplane::flowlog::HEADER.split(' ').count();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), fields, "{line}");
        assert_eq!(f[0], "5", "{line}");
        assert!(
            matches!(f[12], "ACCEPT" | "REJECT") && f[13] == "OK",
            "{line}"
        );
        if f[12] == "REJECT" {
            // Only the SSH attempt is denied: to the instance, ingress.
            assert_eq!(
                (f[2], f[4], f[6], f[16]),
                (eni, "10.0.0.176", "22", "ingress"),
                "{line}"
            );
        }
        let (start, end): (u64, u64) = (f[10].parse().unwrap(), f[11].parse().unwrap());
        assert!(start <= end && end > 1_700_000_000, "{line}");
        if f[2] == eni && f[4] == "52.216.39.26" {
            // Out through the gateway endpoint: traffic-path 7.
            assert_eq!((f[16], f[17]), ("egress", "7"), "{line}");
        }
        if f[2] == eni && f[3] == "52.216.39.26" {
            assert_eq!((f[16], f[17]), ("ingress", "-"), "{line}");
            assert!(f[9].parse::<u64>().unwrap() > 0);
        }
    }
    // Three connections: three egress records to port 80 (one per flow and interval at most,
    // each flow in one interval or more).
    let flows: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| l.contains(&format!("{eni} 10.0.0.176 52.216.39.26 ")))
        .map(|l| l.split(' ').nth(5).unwrap())
        .collect();
    assert_eq!(flows.len(), 3, "{text}");
    assert!(
        text.lines().any(|l| l.contains(" REJECT OK ")),
        "no REJECT record:\n{text}\n{}",
        lab.stats()["drops"]
    );

    // logrotate without copytruncate: the file moved away, SIGHUP, and vpced writes a new
    // one (its header first); what came before stays in the old one.
    let rotated = dir.path().join("flows.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    signal(lab.daemon_pid().unwrap(), Signal::HUP);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let fresh = loop {
        assert_eq!(lab.curl(INSTANCE, "http://52.216.39.26/").0, "200");
        std::thread::sleep(std::time::Duration::from_millis(1200));
        let t = std::fs::read_to_string(&log).unwrap_or_default();
        if t.lines().count() > 1 || std::time::Instant::now() > deadline {
            break t;
        }
    };
    assert_eq!(
        fresh.lines().next(),
        Some(dataplane::flowlog::HEADER),
        "{fresh}"
    );
    assert!(
        fresh.contains(&format!("{eni} 10.0.0.176 52.216.39.26 ")),
        "{fresh}"
    );
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(
        old.starts_with(&text),
        "the rotated file keeps what was written"
    );
    // Nothing was lost, so no SKIPDATA record and a zero counter.
    assert!(!fresh.contains("SKIPDATA") && !old.contains("SKIPDATA"));
}

/// `vpcectl top`: under traffic, the busiest flow, the endpoint and a drop reason are on
/// screen — as text (`--once`) and as the full-screen view in a real terminal (tmux), which
/// `q` closes.
#[test]
fn top_shows_the_busiest_flows_endpoints_and_drops() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::start(&example("s3-endpoints.toml"));
    lab.check_isolation(&[(INSTANCE, "52.216.39.26")]);
    let ping = lab.spawn(
        INSTANCE,
        &[
            "ping",
            "-i",
            "0.01",
            "-s",
            "1000",
            "-c",
            "800",
            "-q",
            "52.216.39.26",
        ],
    );
    lab.exec(INSTANCE, &["ping", "-c", "2", "-W", "1", "192.0.2.1"]); // a blackhole route
    std::thread::sleep(std::time::Duration::from_millis(500));
    let o = lab.vpcectl(&["top", "--once", "--interval", "1"]);
    assert!(o.status.success(), "{o:?}");
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    for want in [
        "Busiest flows",
        "eni-08c0b194dec370347  icmp   10.0.0.176:",
        "52.216.39.26:",
        ENDPOINT,
        "blackhole_route",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    // The flow is the busiest, at about 100 pings a second of 1 kB each way.
    let first = text
        .lines()
        .skip_while(|l| !l.starts_with("INTERFACE"))
        .nth(1)
        .unwrap();
    assert!(
        first.contains("icmp") && first.contains("bit/s") && !first.contains(" 0.0 bit/s"),
        "{first}\n{text}"
    );
    assert!(!text.contains(" 0 flows tracked"), "{text}");
    // The same frame as numbers.
    let v = json(&lab.vpcectl(&["top", "--once", "--interval", "1", "-o", "json"]));
    let busiest = &v["flows"][0];
    assert_eq!(busiest["protocol"], "icmp", "{v}");
    assert!(
        busiest["bits_per_second"].as_f64().unwrap() > 100_000.0,
        "{v}"
    );
    assert!(v["flows_tracked"].as_u64().unwrap() > 0, "{v}");
    assert!(
        v["drops"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["reason"] == "blackhole_route"),
        "{v}"
    );
    let o = lab.vpcectl(&["top", "-o", "json"]);
    assert_eq!(o.status.code(), Some(2), "-o json without --once: {o:?}");

    let session = format!("{}top", lab.prefix);
    let cmd = format!(
        "VPCE_SOCKET={} {} top --interval 0.5",
        lab.socket.display(),
        bin("vpcectl").display()
    );
    need("tmux");
    let tmux = |args: &[&str]| Command::new("tmux").args(args).output().unwrap();
    let o = tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "200",
        "-y",
        "50",
        &cmd,
    ]);
    assert!(o.status.success(), "{o:?}");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let screen =
        String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", &session]).stdout).to_string();
    tmux(&["send-keys", "-t", &session, "q"]);
    std::thread::sleep(std::time::Duration::from_millis(700));
    let still = tmux(&["has-session", "-t", &session]).status.success();
    if still {
        tmux(&["kill-session", "-t", &session]);
    }
    lab.kill(ping);
    for want in [
        "vpcectl top — generation 1",
        "INTERFACE",
        "10.0.0.176",
        ENDPOINT,
        "DROP REASON",
    ] {
        assert!(screen.contains(want), "{want}:\n{screen}");
    }
    assert!(!still, "q did not quit:\n{screen}");
}

/// A custom flow-log format (AWS's `${field}` string): the header names its fields, and the
/// instance's records carry its VPC, subnet, instance id, the address type, the region, the
/// zone's id, S3 as the far end's AWS service, and the TCP flags each way (OR-ed over the
/// flow's intervals: SYN and FIN out, 3; SYN-ACK and FIN back, 19).
#[test]
fn flow_logs_in_a_custom_format() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("flows.log");
    let format = "${version} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${srcaddr} ${dstaddr} ${type} ${region} ${flow-direction} ${action} ${log-status} ${az-id} ${pkt-src-aws-service} ${pkt-dst-aws-service} ${tcp-flags}";
    let mut lab = Lab::start_args(
        &example("s3-endpoints.toml"),
        &[
            "--flow-log",
            log.to_str().unwrap(),
            "--flow-log-interval",
            "1",
            "--flow-log-format",
            format,
        ],
    );
    lab.http_server("s3", "hello from s3\n");
    lab.check_isolation(&[(INSTANCE, "52.216.39.26")]);
    assert_eq!(lab.curl(INSTANCE, "http://52.216.39.26/").0, "200");
    let out = "5 vpc-09efc2534d3f29483 subnet-0a0000000000000a1 i-08c0b194dec370347 eni-08c0b194dec370347 10.0.0.176 52.216.39.26 IPv4 us-east-1 egress ACCEPT OK use1-az6 - S3 ";
    let back = "5 vpc-09efc2534d3f29483 subnet-0a0000000000000a1 i-08c0b194dec370347 eni-08c0b194dec370347 52.216.39.26 10.0.0.176 IPv4 us-east-1 ingress ACCEPT OK use1-az6 S3 - ";
    let flags = |text: &str, prefix: &str| {
        text.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .filter_map(|f| f.parse::<u8>().ok())
            .fold(0, |a, f| a | f)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let text = loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let t = std::fs::read_to_string(&log).unwrap_or_default();
        let done = flags(&t, out) & 3 == 3 && flags(&t, back) & 19 == 19;
        if done || std::time::Instant::now() > deadline {
            break t;
        }
    };
    assert_eq!(
        text.lines().next(),
        Some("version vpc-id subnet-id instance-id interface-id srcaddr dstaddr type region flow-direction action log-status az-id pkt-src-aws-service pkt-dst-aws-service tcp-flags")
    );
    assert_eq!(flags(&text, out) & 3, 3, "SYN and FIN out:\n{text}");
    assert_eq!(flags(&text, back) & 19, 19, "SYN-ACK and FIN back:\n{text}");
}
