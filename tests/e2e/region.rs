//! A region of two nodes over namespaces, one etcd (on UNIX sockets in a temporary directory:
//! nothing listens on a network): seed 004's build applied to the region reaches both nodes,
//! each node's own lab curls through the interface endpoint; a zone failed and restored; a
//! node killed with SIGKILL under the other's traffic (nothing lost there, an apply meanwhile
//! reported partial, its lease lapsing within its TTL), restarted at the current generation;
//! etcd killed and restarted under traffic (forwarding goes on, the nodes come back).
//!
//! Each node serves its own copy of the lab here (`--netns-prefix`): zonal attachments and
//! the inter-node link are not built yet.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::Value;

const ENDPOINT_IP: &str = "10.0.128.100";

/// etcd, alone, on UNIX sockets in a directory of its own.
struct Etcd {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Etcd {
    fn start() -> Etcd {
        need("etcd");
        let mut e = Etcd {
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        e.launch();
        e
    }

    /// What vpced and vpcectl are given: etcd's `unix://NAME:PORT` listener is a socket file
    /// named `NAME:PORT` in etcd's working directory.
    fn endpoint(&self) -> String {
        format!("unix://{}/client.sock:0", self.dir.path().display())
    }

    fn launch(&mut self) {
        // A killed etcd leaves its socket files behind.
        for sock in ["client.sock:0", "peer.sock:0"] {
            let _ = std::fs::remove_file(self.dir.path().join(sock));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("etcd.log"))
            .unwrap();
        let child = Command::new("etcd")
            .current_dir(self.dir.path())
            .args(["--name", "vt", "--data-dir", "data"])
            .args(["--listen-client-urls", "unix://client.sock:0"])
            .args(["--advertise-client-urls", "unix://client.sock:0"])
            .args(["--listen-peer-urls", "unix://peer.sock:0"])
            .args(["--initial-advertise-peer-urls", "unix://peer.sock:0"])
            .args(["--initial-cluster", "vt=unix://peer.sock:0"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("etcd starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "etcd did not come up: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn answers(&self) -> bool {
        let o = vpcectl_region(&self.endpoint(), &["status", "-o", "json"]);
        o.status.success()
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}

fn vpcectl_region(endpoint: &str, args: &[&str]) -> std::process::Output {
    Command::new(bin("vpcectl"))
        .args(["region", "--etcd", endpoint])
        .args(args)
        .output()
        .unwrap()
}

/// Seed 004 with fast health checks and `edits`.
fn variant(dir: &Path, name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(example("privatelink-hands-on.toml")).unwrap();
    let fast = [
        (
            "health_check = { protocol = \"HTTP\", path = \"/index.html\" }",
            "health_check = { protocol = \"HTTP\", path = \"/index.html\", interval_seconds = 5, timeout_seconds = 2, healthy_threshold = 2, unhealthy_threshold = 2 }",
        ),
        // A third zone, for a third node.
        (
            "availability_zones = [\"ap-northeast-1a\", \"ap-northeast-1c\"]",
            "availability_zones = [\"ap-northeast-1a\", \"ap-northeast-1c\", \"ap-northeast-1d\"]",
        ),
        // The provider decides at run time, in the region.
        (
            "connections = [{ endpoint = \"vpce-0a000000000000001\", state = \"available\" }]",
            "",
        ),
    ];
    for (from, to) in fast.iter().chain(edits) {
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
/// A second target, EC2-B2, in ap-northeast-1a (EC2-B is in 1c).
const EC2_B2: (&str, &str) = (
    "namespace = \"ec2-b\"\n",
    "namespace = \"ec2-b\"\n\n[[instances]]\nid = \"i-0b00000000000000c\"\nname = \"EC2-B2\"\nsubnet = \"subnet-0b0000000000000b1\"\nprivate_ip = \"10.1.128.10\"\nsecurity_groups = [\"sg-0b00000000000000b\"]\nnamespace = \"ec2-b2\"\n",
);
const TWO_TARGETS: (&str, &str) = (
    "targets = [{ instance = \"i-0b00000000000000b\" }]",
    "targets = [{ instance = \"i-0b00000000000000b\" }, { instance = \"i-0b00000000000000c\" }]",
);

fn node(config: &Path, etcd: &Etcd, zone: &str) -> Lab {
    Lab::start_args(
        config,
        &[
            "--region",
            &etcd.endpoint(),
            "--zone",
            zone,
            "--lease-ttl",
            "2",
        ],
    )
}

fn status(etcd: &Etcd) -> Value {
    let o = vpcectl_region(&etcd.endpoint(), &["status", "-o", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    json(&o)
}

/// Zone → generation of every live node.
fn nodes(etcd: &Etcd) -> Vec<(String, u64)> {
    status(etcd)["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["zone"].as_str().unwrap().to_string(),
                n["generation"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn apply(etcd: &Etcd, config: &Path, timeout: &str) -> (Option<i32>, Value) {
    let o = vpcectl_region(
        &etcd.endpoint(),
        &[
            "apply",
            config.to_str().unwrap(),
            "--timeout",
            timeout,
            "-o",
            "json",
        ],
    );
    // Partial (exit 3) and refused (exit 2) applies print their JSON too.
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code(), v)
}

fn hello(lab: &Lab) -> String {
    let (code, body) = lab.curl("ec2-a", &format!("http://{ENDPOINT_IP}/"));
    format!("{code} {}", body.trim())
}

fn wait_until(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_zones_apply_fail_kill_restart_and_lose_etcd() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let first = variant(dir.path(), "first.toml", &[NO_ENFORCE]);
    let fixed = variant(
        dir.path(),
        "fixed.toml",
        &[NO_ENFORCE, CROSS_ZONE, EC2_B2, TWO_TARGETS],
    );
    let mut etcd = Etcd::start();

    // Before any node: an invalid configuration is refused here, nothing is written.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "region = \"ap-northeast-1\"\n[[vpcs]]\nid = 1\n").unwrap();
    let (code, _) = apply(&etcd, &bad, "1");
    assert_eq!(code, Some(2));
    assert_eq!(status(&etcd)["generation"], Value::Null);
    let (code, v) = apply(&etcd, &first, "1");
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["generation"], 1);

    // A node for a zone the configuration does not have is refused at start.
    let o = Command::new(bin("vpced"))
        .args(["--region", &etcd.endpoint(), "--zone", "ap-northeast-1z"])
        .args(["--netns", &format!("vtz{}-fabric", std::process::id())])
        .args(["--no-state", "--control-socket"])
        .arg(dir.path().join("z.sock"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--zone ap-northeast-1z is not one of the configuration's availability_zones (ap-northeast-1a, ap-northeast-1c, ap-northeast-1d)"),
        "{err}"
    );

    // Three nodes join at generation 1. The connection waits for the provider.
    let mut a = node(&first, &etcd, "ap-northeast-1a");
    let mut c = node(&first, &etcd, "ap-northeast-1c");
    let mut d = node(&first, &etcd, "ap-northeast-1d");
    wait_until("three nodes registered", Duration::from_secs(5), || {
        nodes(&etcd).len() == 3
    });
    assert_eq!(
        nodes(&etcd),
        [
            ("ap-northeast-1a".into(), 1),
            ("ap-northeast-1c".into(), 1),
            ("ap-northeast-1d".into(), 1)
        ]
    );
    let s = json(&a.vpcectl(&["status", "-o", "json"]));
    assert_eq!(s["region"]["zone"], "ap-northeast-1a", "{s}");
    assert_eq!(s["region"]["generation"], 1, "{s}");
    let _sa = a.http_server("ec2-b", "Hello!\n");
    let _sc = c.http_server("ec2-b", "Hello!\n");
    a.check_isolation(&[("ec2-a", ENDPOINT_IP)]);
    c.check_isolation(&[("ec2-a", ENDPOINT_IP)]);
    d.check_isolation(&[("ec2-a", ENDPOINT_IP)]);
    assert!(hello(&a).starts_with("000"), "{}", hello(&a));
    assert!(a.drops("endpoint_connection_not_accepted") > 0);
    // Accepted in the region (a node refuses to decide alone): both nodes run with it. Then
    // cross-zone is off: the endpoint (1a) has no target in its zone, on both nodes.
    let o = a.vpcectl(&["endpoint-connections", "accept", "vpce-0a000000000000001"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("decide in the region"));
    let o = vpcectl_region(
        &etcd.endpoint(),
        &["endpoint-connections", "accept", "vpce-does-not-exist"],
    );
    assert_eq!(o.status.code(), Some(2));
    let o = vpcectl_region(
        &etcd.endpoint(),
        &["endpoint-connections", "accept", "vpce-0a000000000000001"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for lab in [&a, &c] {
        assert!(hello(lab).starts_with("000"));
        assert!(
            lab.drops("no_healthy_target_in_zone") > 0,
            "{}",
            lab.daemon_log()
        );
    }

    // The fix, applied to the region: both nodes run it when the apply returns.
    let (code, v) = apply(&etcd, &fixed, "5");
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["complete"], true, "{v}");
    assert_eq!(v["rollout"]["running"].as_array().unwrap().len(), 3, "{v}");
    assert!(v["rollout"]["waited"].as_f64().unwrap() < 1.0, "{v}");
    let _sa2 = a.http_server("ec2-b2", "Hello from 1a!\n");
    let _sc2 = c.http_server("ec2-b2", "Hello from 1a!\n");
    let _sd = d.http_server("ec2-b", "Hello!\n");
    let _sd2 = d.http_server("ec2-b2", "Hello from 1a!\n");
    for lab in [&a, &c, &d] {
        assert!(hello(lab).starts_with("200 Hello"), "{}", lab.daemon_log());
    }
    // A node refuses a local apply: the region decides.
    let o = a.vpcectl(&["apply", fixed.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("region"));

    // Zone 1c fails: its node forwards nothing and says why. 1a's node runs 1c as down: the
    // health checks to EC2-B (1c) fail, and the NLB sends only to EC2-B2 (1a). Then 1c comes
    // back.
    let o = vpcectl_region(&etcd.endpoint(), &["fail-zone", "ap-northeast-1c"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_until(
        "1c's node runs its zone down",
        Duration::from_secs(2),
        || status(&etcd)["nodes"][1]["zone_down"] == true,
    );
    assert!(hello(&c).starts_with("000"));
    assert!(c.drops("zone_down") > 0);
    let o = c.vpcectl(&[
        "trace",
        "--daemon",
        "--from",
        "EC2-A",
        "--to",
        "vpce-0a000000000000001",
        "--port",
        "80",
    ]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("AVAILABILITY_ZONE_DOWN"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    wait_until(
        "EC2-B (1c) fails its health checks on 1a's node",
        Duration::from_secs(20),
        || target_state(&a) == "unhealthy",
    );
    for i in 0..5 {
        assert_eq!(
            hello(&a),
            "200 Hello from 1a!",
            "request {i} while 1c is down"
        );
    }
    // The region's view: the trace runs on the node of EC2-A's zone (1a), the counters of
    // every node by zone.
    let o = vpcectl_region(
        &etcd.endpoint(),
        &[
            "trace",
            "--from",
            "EC2-A",
            "--to",
            "vpce-0a000000000000001",
            "--port",
            "80",
            "-o",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let v = json(&vpcectl_region(&etcd.endpoint(), &["stats", "-o", "json"]));
    assert_eq!(v.as_object().unwrap().len(), 3, "{v}");
    assert!(v.to_string().contains("zone_down"), "{v:#}");
    let o = vpcectl_region(
        &etcd.endpoint(),
        &["trace", "--from", "EC2-Z", "--to", "vpce-0a000000000000001"],
    );
    assert_eq!(o.status.code(), Some(2));
    let o = vpcectl_region(&etcd.endpoint(), &["restore-zone", "ap-northeast-1c"]);
    assert!(o.status.success());
    wait_until("1c forwards again", Duration::from_secs(3), || {
        hello(&c).starts_with("200 Hello")
    });

    // 1c's node is killed under 1a's traffic: 1a loses nothing. An apply while 1c's lease
    // still holds is partial; the lease lapses within its TTL (2 s, renewed every 2/3 s).
    c.crash();
    let killed = Instant::now();
    let (code, v) = apply(&etcd, &fixed, "0.5");
    assert_eq!(code, Some(3), "{v}");
    assert_eq!(
        v["rollout"]["running"],
        serde_json::json!(["ap-northeast-1a", "ap-northeast-1d"])
    );
    assert_eq!(v["rollout"]["behind"][0]["zone"], "ap-northeast-1c", "{v}");
    for i in 0..10 {
        let got = hello(&a);
        assert!(
            got.starts_with("200 Hello"),
            "request {i} through 1a while 1c is dead: {got}"
        );
    }
    wait_until("1c's lease lapses", Duration::from_secs(4), || {
        nodes(&etcd).len() == 2
    });
    assert!(killed.elapsed() < Duration::from_secs(4));

    // Restarted with no state of its own, it rejoins at the region's generation (3) with the
    // region's acceptance.
    std::fs::remove_dir_all(c.state_dir()).unwrap();
    c.try_launch().expect("1c's node comes back");
    wait_until("1c rejoins at generation 3", Duration::from_secs(5), || {
        nodes(&etcd).contains(&("ap-northeast-1c".into(), 3))
    });
    let _sc = c.http_server("ec2-b", "Hello!\n");
    wait_until("1c forwards", Duration::from_secs(5), || {
        hello(&c).starts_with("200 Hello")
    });

    // etcd goes away under traffic: forwarding goes on under the last generation; back, the
    // nodes are there again and the next apply reaches both.
    etcd.kill();
    for lab in [&a, &c, &d] {
        assert!(hello(lab).starts_with("200 Hello"));
    }
    std::thread::sleep(Duration::from_secs(1));
    assert!(hello(&a).starts_with("200 Hello"));
    etcd.launch();
    wait_until(
        "every node registered again",
        Duration::from_secs(8),
        || nodes(&etcd).len() == 3,
    );
    let (code, v) = apply(&etcd, &fixed, "5");
    assert_eq!(code, Some(0), "{v}\n{}\n{}", a.daemon_log(), c.daemon_log());
    assert_eq!(v["generation"], 4);
    let log = a.daemon_log();
    assert!(log.contains("region store unreachable"), "{log}");
    assert!(log.contains("region store reachable again"), "{log}");
}
