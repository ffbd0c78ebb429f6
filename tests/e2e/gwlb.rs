//! Seed 001 end to end over network namespaces: a client on the "internet" fetches the web
//! server's page through the internet gateway's edge route, the Gateway Load Balancer
//! endpoint, GENEVE to one of two real appliances (`vpce-appliance`, each in its own
//! namespace) and back; the reply returns through the same appliance. tshark, in the
//! appliances' namespaces, reads the GENEVE options off the wire. Flows spread over both
//! appliances and never switch; the appliance that drops TCP 23 blocks telnet but not HTTP;
//! killing an appliance moves new flows — and, with `rebalance`, existing ones — to the
//! other; `vpcectl trace --daemon` agrees at each step.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::Value;

const WEB: &str = "i-0c00000000000000c";
const PUBLIC: &str = "203.0.113.10";
const CLIENT: &str = "198.51.100.7";
const APPLIANCES: [(&str, &str, &str); 2] = [
    ("appliance-1", "10.100.0.11", "i-0c0000000000000a1"),
    ("appliance-2", "10.100.0.12", "i-0c0000000000000a2"),
];

/// The example with fast health checks and `edits`.
fn variant(dir: &Path, name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(example("gwlb-inspection.toml")).unwrap();
    let mut all = vec![(
        "health_check = { protocol = \"TCP\", port = 80, interval_seconds = 10, timeout_seconds = 5 }",
        "health_check = { protocol = \"TCP\", port = 80, interval_seconds = 5, timeout_seconds = 2, healthy_threshold = 2, unhealthy_threshold = 2 }",
    )];
    all.extend_from_slice(edits);
    for (from, to) in all {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

struct Gwlb {
    lab: Lab,
    /// Appliance process handles and log files, by namespace.
    appliances: HashMap<&'static str, (usize, PathBuf)>,
}

impl Gwlb {
    fn start(config: &Path) -> Gwlb {
        let mut lab = Lab::start(config);
        lab.add_loopback("internet", CLIENT);
        lab.check_isolation(&[
            ("internet", PUBLIC),
            ("web", CLIENT),
            ("appliance-1", "10.100.0.50"),
            ("appliance-2", "10.100.0.50"),
        ]);
        lab.http_server("web", "inspected hello\n");
        // A "telnet" service: any TCP listener on 23 will do.
        let www = std::env::temp_dir().join(format!("{}www-web", lab.prefix));
        lab.serve("web", 23, &www);
        let mut g = Gwlb {
            lab,
            appliances: HashMap::new(),
        };
        for (ns, ip, _) in APPLIANCES {
            g.start_appliance(ns, ip);
        }
        g
    }

    fn start_appliance(&mut self, ns: &'static str, ip: &str) {
        let log = std::env::temp_dir().join(format!("{}{ns}.log", self.lab.prefix));
        let cmd = format!(
            "exec {} --listen {ip} --drop-tcp-port 23 >>{} 2>&1",
            bin("vpce-appliance").display(),
            log.display()
        );
        let h = self.lab.spawn(ns, &["sh", "-c", &cmd]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("listening")
        {
            assert!(
                Instant::now() < deadline,
                "{ns} did not start: {:?}",
                std::fs::read_to_string(&log)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.appliances.insert(ns, (h, log));
    }

    fn log(&self, ns: &str) -> String {
        std::fs::read_to_string(&self.appliances[ns].1).unwrap_or_default()
    }

    /// The appliance namespace whose log has a line containing `needle`.
    fn carrier(&self, needle: &str) -> Vec<&'static str> {
        APPLIANCES
            .iter()
            .map(|a| a.0)
            .filter(|ns| self.log(ns).lines().any(|l| l.contains(needle)))
            .collect()
    }

    fn health(&self) -> HashMap<String, String> {
        let o = self.lab.vpcectl(&["show", "target-health", "-o", "json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["target"].as_str().unwrap().to_string(),
                    t["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn wait_health(&self, ip: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let h = self.health();
            if h.get(ip).map(String::as_str) == Some(want) {
                return;
            }
            assert!(Instant::now() < deadline, "{ip} not {want}: {h:?}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// curl from the internet with a chosen source port.
    fn fetch(&self, port: u16) -> String {
        let o = self.lab.exec(
            "internet",
            &[
                "curl",
                "-s",
                "-m",
                "5",
                "--local-port",
                &port.to_string(),
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &format!("http://{PUBLIC}/"),
            ],
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn trace(&self) -> Value {
        let o = self.lab.vpcectl(&[
            "trace", "--daemon", "--from", "internet", "--to", WEB, "--port", "80", "-o", "json",
        ]);
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)))
    }
}

/// Starts tshark on every device of `ns`, for GENEVE; returns its handle.
fn capture(lab: &mut Lab, ns: &str, file: &Path) -> usize {
    let h = lab.spawn(
        ns,
        &[
            "tshark",
            "-q",
            "-i",
            "any",
            "-f",
            "udp port 6081",
            "-w",
            file.to_str().unwrap(),
        ],
    );
    // tshark writes the file header once it captures.
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(file).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "tshark did not start in {ns}");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    h
}

/// The GENEVE packets of a capture: (outer src, outer dst, inner src, option classes, option
/// types, options' bytes).
fn geneve_packets(file: &Path) -> Vec<Vec<String>> {
    need("tshark");
    let o = Command::new("tshark")
        .args(["-r", file.to_str().unwrap()])
        .args(["-d", "udp.port==6081,geneve"])
        .args(["-T", "fields", "-E", "separator=;", "-E", "aggregator=,"])
        .args([
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "geneve.option.class",
            "-e",
            "geneve.option.type",
            "-e",
            "geneve.option",
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.dstport",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.split(';').map(str::to_string).collect())
        .collect()
}

#[test]
fn inspection_through_two_appliances_stickiness_telnet_and_failover() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = variant(dir.path(), "gwlb.toml", &[]);
    let mut g = Gwlb::start(&cfg);

    // The page, through an appliance; trace agrees and names it.
    let v = g.trace();
    assert_eq!(v["trace"]["reachable"], true, "{v:#}");
    assert_eq!(g.fetch(41000), "200", "{}", g.lab.daemon_log());

    // Captured on the appliances' side: both directions of a flow, with AWS's options and one
    // cookie.
    let pcaps: Vec<(usize, PathBuf)> = APPLIANCES
        .iter()
        .map(|(ns, _, _)| {
            let f = dir.path().join(format!("{ns}.pcap"));
            (capture(&mut g.lab, ns, &f), f)
        })
        .collect();
    // Twenty flows, each from its own source port.
    for port in 42000..42020u16 {
        assert_eq!(g.fetch(port), "200", "port {port}");
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut packets = Vec::new();
    for (h, f) in &pcaps {
        g.lab.interrupt(*h);
        packets.extend(geneve_packets(f));
    }
    assert!(!packets.is_empty(), "no GENEVE captured");
    let mut cookie_of: HashMap<String, HashSet<String>> = HashMap::new();
    for p in &packets {
        assert_eq!(p[2], "0x0108,0x0108,0x0108", "{p:?}");
        assert_eq!(p[3], "0x01,0x02,0x03", "{p:?}");
        let cookie = p[4].rsplit(',').next().unwrap().to_string();
        // The flow by the client's port (inner TCP ports, either direction).
        let port = if p[5] == "80" { &p[6] } else { &p[5] };
        cookie_of.entry(port.clone()).or_default().insert(cookie);
        // Outer: between the GWLB node and an appliance, either way.
        assert!(
            p[0].starts_with("10.100.0.50,") || p[1].starts_with("10.100.0.50,"),
            "{p:?}"
        );
    }
    for port in 42000..42020u16 {
        let c = cookie_of.get(&port.to_string());
        assert_eq!(c.map(HashSet::len), Some(1), "flow {port}: {c:?}");
    }

    // Each flow went through exactly one appliance, both ways; both appliances had some.
    let mut per = HashMap::<&str, u32>::new();
    for port in 42000..42020u16 {
        let out = format!("{CLIENT}:{port} -> 10.0.1.10:80");
        let back = format!("10.0.1.10:80 -> {CLIENT}:{port}");
        let a = g.carrier(&out);
        assert_eq!(a.len(), 1, "flow {port} on {a:?}");
        assert_eq!(g.carrier(&back), a, "reply of {port} on another appliance");
        *per.entry(a[0]).or_default() += 1;
    }
    assert_eq!(per.len(), 2, "flows on one appliance only: {per:?}");
    let tg = g
        .lab
        .counter("target_group", "appliances-geneve", "tx_packets");
    assert!(tg >= 40, "target group counters: {}", g.lab.stats());

    // Telnet is dropped by the appliance; HTTP still goes through.
    let o = g.lab.exec(
        "internet",
        &[
            "python3",
            "-c",
            &format!("import socket; socket.create_connection(('{PUBLIC}', 23), timeout=3)"),
        ],
    );
    assert!(!o.status.success(), "telnet got through");
    assert!(
        !g.carrier("-> 10.0.1.10:23").is_empty()
            && APPLIANCES.iter().any(|a| g
                .log(a.0)
                .lines()
                .any(|l| l.starts_with("drop tcp") && l.contains(":23"))),
        "no appliance dropped telnet"
    );
    assert_eq!(g.fetch(43000), "200");

    // A long flow (a ping) on one appliance; kill that appliance. no_rebalance: the flow
    // stays on it (and is lost); new flows go to the other one.
    let ping = g
        .lab
        .spawn("internet", &["ping", "-i", "0.2", "-w", "60", PUBLIC]);
    std::thread::sleep(Duration::from_secs(1));
    let carriers = g.carrier(&format!("icmp {CLIENT} -> 10.0.1.10"));
    assert_eq!(carriers.len(), 1, "{carriers:?}");
    let dead = carriers[0];
    let (dead_ip, alive) = if dead == "appliance-1" {
        ("10.100.0.11", "appliance-2")
    } else {
        ("10.100.0.12", "appliance-1")
    };
    let (h, _) = g.appliances[dead].clone();
    g.lab.kill(h);
    g.wait_health(dead_ip, "unhealthy");
    let before = g.log(alive).lines().count();
    for port in 44000..44010u16 {
        assert_eq!(g.fetch(port), "200", "new flow {port} after {dead} died");
        assert_eq!(g.carrier(&format!("{CLIENT}:{port} ->")), vec![alive]);
    }
    assert!(g.log(alive).lines().count() > before);
    // The ping stayed with the dead appliance: the other never saw it.
    assert!(
        !g.log(alive)
            .contains(&format!("icmp {CLIENT} -> 10.0.1.10")),
        "no_rebalance moved the flow"
    );
    let v = g.trace();
    assert_eq!(v["trace"]["reachable"], true, "{v:#}");
    let via = v["trace"]["forward"]["appliance"]
        .as_str()
        .unwrap()
        .to_string();
    let alive_id = APPLIANCES.iter().find(|a| a.0 == alive).unwrap().2;
    assert_eq!(via, alive_id, "trace picks the live appliance");
    g.lab.kill(ping);
}

#[test]
fn rebalance_moves_existing_flows_to_the_live_appliance() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = variant(
        dir.path(),
        "rebalance.toml",
        &[(
            "on_unhealthy = \"no_rebalance\", on_deregistration = \"no_rebalance\"",
            "on_unhealthy = \"rebalance\", on_deregistration = \"rebalance\"",
        )],
    );
    let mut g = Gwlb::start(&cfg);
    let out = dir.path().join("ping.out");
    let ping = g.lab.spawn(
        "internet",
        &[
            "sh",
            "-c",
            &format!(
                "exec stdbuf -oL ping -i 0.2 -w 60 {PUBLIC} > {}",
                out.display()
            ),
        ],
    );
    std::thread::sleep(Duration::from_secs(1));
    let needle = format!("icmp {CLIENT} -> 10.0.1.10");
    let carriers = g.carrier(&needle);
    assert_eq!(carriers.len(), 1, "{carriers:?}");
    let dead = carriers[0];
    let cookie = g
        .log(dead)
        .lines()
        .find(|l| l.contains(&needle))
        .and_then(|l| l.rsplit(' ').next())
        .unwrap()
        .to_string();
    let (dead_ip, alive) = if dead == "appliance-1" {
        ("10.100.0.11", "appliance-2")
    } else {
        ("10.100.0.12", "appliance-1")
    };
    let (h, _) = g.appliances[dead].clone();
    g.lab.kill(h);
    g.wait_health(dead_ip, "unhealthy");
    let replies = || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("bytes from"))
            .count()
    };
    let at_failover = replies();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        replies() >= at_failover + 5,
        "the ping did not resume through {alive}: {}",
        std::fs::read_to_string(&out).unwrap_or_default()
    );
    // The same flow, with its cookie, now on the live appliance.
    assert!(
        g.log(alive)
            .lines()
            .any(|l| l.contains(&needle) && l.ends_with(&cookie)),
        "{alive}: {}",
        g.log(alive)
    );
    g.lab.kill(ping);
}
