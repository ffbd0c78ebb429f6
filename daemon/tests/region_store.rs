//! The region's store against a real etcd (Debian's `etcd-server`, on UNIX sockets in a
//! temporary directory): generations written only by compare-and-swap, leases, decisions,
//! zones down, and what `wait_for` reports. Skipped where etcd is not installed, unless the
//! end-to-end tests are required (`VPCE_REQUIRE_E2E=1` or `CI=true`): then it fails.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use daemon::region::etcd::{Endpoint, Etcd};
use daemon::region::{node_key, NodeRecord, Region, RegionError, CONFIG_KEY};

struct Store {
    _dir: tempfile::TempDir,
    child: Child,
    region: Region,
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn store() -> Option<Store> {
    if Command::new("etcd").arg("--version").output().is_err() {
        let required = std::env::var("VPCE_REQUIRE_E2E").is_ok_and(|v| v == "1")
            || std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !required,
            "etcd is not installed (Debian package etcd-server; scripts/setup.sh --test installs it)"
        );
        eprintln!("SKIPPED: etcd is not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new("etcd")
        .current_dir(dir.path())
        .args(["--name", "t", "--data-dir", "data"])
        .args(["--listen-client-urls", "unix://c.sock:0"])
        .args(["--advertise-client-urls", "unix://c.sock:0"])
        .args(["--listen-peer-urls", "unix://p.sock:0"])
        .args(["--initial-advertise-peer-urls", "unix://p.sock:0"])
        .args(["--initial-cluster", "t=unix://p.sock:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let endpoint = Endpoint::Unix(dir.path().join("c.sock:0"));
    let region = Region::new(Etcd::new(endpoint));
    let deadline = Instant::now() + Duration::from_secs(20);
    while region.config().is_err() {
        assert!(Instant::now() < deadline, "etcd did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Store {
        _dir: dir,
        child,
        region,
    })
}

fn record(zone: &str, generation: u64) -> NodeRecord {
    NodeRecord {
        zone: zone.into(),
        pid: 1,
        generation,
        error: None,
        zone_down: false,
        lease_ttl: 5,
        decisions: Vec::new(),
        control_socket: None,
    }
}

#[test]
fn generations_go_up_by_compare_and_swap_only() {
    let Some(s) = store() else { return };
    let r = &s.region;
    assert!(r.config().unwrap().is_none());
    let file = PathBuf::from("/etc/vpce/a.toml");
    assert_eq!(
        r.publish(file.clone(), "/etc/vpce".into(), "x = 1".into())
            .unwrap(),
        1
    );
    let (c, rev1) = r.config().unwrap().unwrap();
    assert_eq!((c.generation, c.text.as_str()), (1, "x = 1"));
    assert_eq!(
        r.publish(file.clone(), "/etc/vpce".into(), "x = 2".into())
            .unwrap(),
        2
    );
    // A writer that read revision 1 loses: nothing is written.
    assert!(!r
        .etcd()
        .put_if(CONFIG_KEY, rev1, &[(CONFIG_KEY, b"{}")])
        .unwrap());
    assert_eq!(r.config().unwrap().unwrap().0.text, "x = 2");
    // Too large for etcd's request limit: refused before anything is sent.
    let big = "#".repeat(daemon::region::MAX_CONFIG_BYTES + 1);
    assert!(matches!(
        r.publish(file, "/".into(), big),
        Err(RegionError::TooLarge { .. })
    ));
    assert_eq!(r.config().unwrap().unwrap().0.generation, 2);
}

#[test]
fn a_node_lives_as_long_as_its_lease() {
    let Some(s) = store() else { return };
    let (r, etcd) = (&s.region, s.region.etcd());
    let lease = etcd.grant(5).unwrap();
    let value = serde_json::to_vec(&record("us-east-1a", 3)).unwrap();
    etcd.put(&node_key("us-east-1a"), &value, lease).unwrap();
    let nodes = r.nodes().unwrap();
    assert_eq!(nodes.len(), 1);
    assert!(nodes[0].lease_left.is_some_and(|t| (1..=5).contains(&t)));
    assert!(etcd.keep_alive(lease).unwrap());
    etcd.revoke(lease).unwrap();
    assert!(
        r.nodes().unwrap().is_empty(),
        "the record goes with its lease"
    );
    assert!(!etcd.keep_alive(lease).unwrap());
}

#[test]
fn an_apply_waits_for_live_nodes_and_stops_at_a_node_that_cannot_run_it() {
    let Some(s) = store() else { return };
    let (r, etcd) = (&s.region, s.region.etcd());
    // No node: complete at once.
    let w = r.wait_for(1, Duration::from_secs(5)).unwrap();
    assert!(w.complete() && w.running.is_empty() && w.waited < 1.0);
    // One node at the generation, one that said it cannot build it: no need to wait.
    etcd.put(
        &node_key("a"),
        &serde_json::to_vec(&record("a", 2)).unwrap(),
        0,
    )
    .unwrap();
    let mut b = record("b", 1);
    b.error = Some(daemon::region::NodeError {
        generation: 2,
        message: "does not build".into(),
    });
    etcd.put(&node_key("b"), &serde_json::to_vec(&b).unwrap(), 0)
        .unwrap();
    let w = r.wait_for(2, Duration::from_secs(5)).unwrap();
    assert!(!w.complete());
    assert!(w.waited < 1.0, "{w:?}");
    assert_eq!(w.running, ["a"]);
    assert_eq!(w.behind[0].zone, "b");
    // A node merely behind is waited for, up to the timeout.
    etcd.put(
        &node_key("b"),
        &serde_json::to_vec(&record("b", 1)).unwrap(),
        0,
    )
    .unwrap();
    let w = r.wait_for(2, Duration::from_millis(300)).unwrap();
    assert!(!w.complete() && w.waited >= 0.3, "{w:?}");
}

#[test]
fn zones_down_and_decisions_round_trip() {
    let Some(s) = store() else { return };
    let r = &s.region;
    assert!(r.set_zone_down("us-east-1b", true).unwrap());
    assert!(
        !r.set_zone_down("us-east-1b", true).unwrap(),
        "already down"
    );
    assert_eq!(r.zones_down().unwrap(), ["us-east-1b"]);
    assert!(r.set_zone_down("us-east-1b", false).unwrap());
    assert!(!r.set_zone_down("us-east-1b", false).unwrap());
    assert!(r.zones_down().unwrap().is_empty());
    let d = daemon::state_dir::Decision {
        service: "vpce-svc-1".into(),
        endpoint: "vpce-1".into(),
        state: control::model::ConnectionState::Available,
    };
    r.decide(&d).unwrap();
    assert_eq!(r.decisions().unwrap(), [d]);
}
