//! vpced's life cycle: a clean shutdown removes every device and namespace it made; a
//! configuration it cannot accept stops it at start-up with the diagnostics and leaves nothing
//! behind; vpcectl without a daemon says so.

use std::process::Command;

use crate::common::{bin, can_run, example, Lab};

#[test]
fn sigterm_removes_every_device_and_namespace() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::start(&example("s3-endpoints.toml"));
    let mut made = lab.namespaces();
    made.sort();
    let want: Vec<String> = ["fabric", "internet", "s3", "s3-instance"]
        .iter()
        .map(|n| lab.ns(n))
        .collect();
    assert_eq!(made, want);
    // The devices live in the attachment namespaces.
    let o = Command::new("ip")
        .args(["-n", &lab.ns("s3-instance"), "-o", "link", "show"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("vpe-"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(lab.stop(), Some(0), "{}", lab.daemon_log());
    assert!(
        lab.namespaces().is_empty(),
        "left behind: {:?}\n{}",
        lab.namespaces(),
        lab.daemon_log()
    );
    assert!(!lab.socket.exists(), "the control socket is removed");
}

/// vpced sets up namespaces, links, addresses and routes over netlink (issue 20): with nothing
/// on its `PATH` — no `ip` to run — it still builds the whole lab (both address families,
/// service addresses on loopback, default routes), carries traffic, and removes it all.
#[test]
fn vpced_runs_with_no_ip_binary() {
    if !can_run() {
        return;
    }
    let empty = std::env::temp_dir().join(format!("vpce-empty-path-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let mut lab = Lab::start_with_path(&example("s3-endpoints.toml"), &empty);
    lab.check_isolation(&[
        ("s3-instance", "52.216.39.26"),
        ("s3-instance", "2600:1fa0:8000::1a"),
    ]);
    lab.http_server("s3", "hello from s3\n");
    for url in ["http://52.216.39.26/", "http://[2600:1fa0:8000::1a]/"] {
        let (code, body) = lab.curl("s3-instance", url);
        assert_eq!(
            (code.as_str(), body.as_str()),
            ("200", "hello from s3\n"),
            "{url}: {}",
            lab.daemon_log()
        );
    }
    // The device: its alias is the attachment, no IPv6 link-local address (no autoconf).
    let o = Command::new("ip")
        .args(["-n", &lab.ns("s3-instance"), "-o", "addr", "show"])
        .output()
        .unwrap();
    let addrs = String::from_utf8_lossy(&o.stdout);
    assert!(addrs.contains("10.0.0.176/24"), "{addrs}");
    assert!(!addrs.contains("fe80:"), "no link-local address: {addrs}");
    assert_eq!(lab.stop(), Some(0), "{}", lab.daemon_log());
    assert!(
        lab.namespaces().is_empty(),
        "left behind: {:?}",
        lab.namespaces()
    );
    let _ = std::fs::remove_dir(&empty);
}

#[test]
fn invalid_configuration_stops_start_up_and_leaves_nothing() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(example("gwlb-inspection.toml"))
        .unwrap()
        .replace(
            "target = \"igw-0c000000000000001\"",
            "target = \"igw-0000000000000dead\"",
        );
    let f = dir.path().join("bad.toml");
    std::fs::write(&f, text).unwrap();
    let prefix = format!("vtbad{}-", std::process::id() % 100_000);
    let o = Command::new(bin("vpced"))
        .args([
            "--config",
            f.to_str().unwrap(),
            "--netns",
            &format!("{prefix}fabric"),
            "--netns-prefix",
            &prefix,
        ])
        .args([
            "--control-socket",
            dir.path().join("s.sock").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml:") && err.contains("igw-0000000000000dead"),
        "{err}"
    );
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&list.stdout).contains(&prefix),
        "namespace left behind"
    );
}

#[test]
fn vpcectl_without_a_daemon_says_so() {
    let o = Command::new(bin("vpcectl"))
        .args(["stats", "--socket", "/nonexistent/vpced.sock"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot connect to vpced") && err.contains("/nonexistent/vpced.sock"),
        "{err}"
    );
    let o = Command::new(bin("vpcectl"))
        .args([
            "apply",
            "/nonexistent/config.toml",
            "--socket",
            "/nonexistent/vpced.sock",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "a missing file is bad input");
}

/// Under a systemd `Type=notify` unit (issue 21): vpced says `READY=1` on `NOTIFY_SOCKET` once
/// it forwards (the gateway-endpoint path works by then), `WATCHDOG=1` at half of
/// `WATCHDOG_USEC`, and `STOPPING=1` when it stops. The socket here is a fake reader, as
/// systemd's would be.
#[test]
fn vpced_notifies_systemd_ready_watchdog_and_stopping() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let reader = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    reader
        .set_read_timeout(Some(std::time::Duration::from_secs(15)))
        .unwrap();
    let usec = std::ffi::OsString::from("400000");
    let mut lab = Lab::start_env(
        &example("s3-endpoints.toml"),
        &[
            ("NOTIFY_SOCKET", path.as_os_str()),
            ("WATCHDOG_USEC", &usec),
        ],
    );
    let mut buf = [0u8; 256];
    let mut next = || {
        let n = reader.recv(&mut buf).expect("a notification within 15 s");
        String::from_utf8_lossy(&buf[..n]).to_string()
    };
    assert_eq!(next(), "READY=1");
    lab.http_server("s3", "hello from s3\n");
    lab.check_isolation(&[("s3-instance", "52.216.39.26")]);
    assert_eq!(lab.curl("s3-instance", "http://52.216.39.26/").0, "200");
    // Every 200 ms: at least three in the next second.
    let t0 = std::time::Instant::now();
    let mut pings = 0;
    while t0.elapsed() < std::time::Duration::from_secs(1) {
        if next() == "WATCHDOG=1" {
            pings += 1;
        }
    }
    assert!(pings >= 3, "{pings} watchdog pings in a second");
    assert_eq!(lab.stop(), Some(0));
    let mut rest = Vec::new();
    reader
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    while let Ok(n) = reader.recv(&mut buf) {
        rest.push(String::from_utf8_lossy(&buf[..n]).to_string());
    }
    assert!(rest.iter().any(|m| m == "STOPPING=1"), "{rest:?}");
}
