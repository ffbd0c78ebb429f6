//! What an adversarial tenant broke (issue 19), end to end over namespaces with the kernel's
//! own fragmentation and raw ICMP: fragments no longer slip past a security group, fragmented
//! traffic the group allows arrives whole, and an echo's identifier opens nothing but echo
//! replies. Each failed before its fix.

use std::time::Duration;

use crate::common::{can_run, example, root, rss_kib, Lab};

const INSTANCE: &str = "s3-instance";
const PUBLIC: &str = "203.0.113.176";

fn lab() -> Lab {
    let lab = Lab::start(&example("s3-endpoints.toml"));
    lab.add_loopback("internet", "8.8.8.8");
    lab.check_isolation(&[(INSTANCE, "8.8.8.8"), ("internet", PUBLIC)]);
    lab
}

fn hostile() -> String {
    root()
        .join("tests/fixtures/hostile.py")
        .to_string_lossy()
        .into_owned()
}

fn run(lab: &Lab, ns: &str, args: &[&str]) -> String {
    let h = hostile();
    let mut all = vec!["python3", h.as_str()];
    all.extend_from_slice(args);
    let o = lab.exec(ns, &all);
    assert!(o.status.success(), "{args:?}: {o:?}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn listen(lab: &mut Lab, ns: &str, args: &[&str]) -> usize {
    let h = hostile();
    let mut all = vec!["python3", h.as_str()];
    all.extend_from_slice(args);
    let handle = lab.spawn(ns, &all);
    std::thread::sleep(Duration::from_millis(500));
    handle
}

fn stdout(lab: &mut Lab, handle: usize) -> String {
    String::from_utf8_lossy(&lab.wait(handle).stdout).into_owned()
}

/// The instance sends a 12,000-byte datagram (fragmented by its kernel: the ENI's MTU is
/// 9,001) from port 5000 to 8.8.8.8:53 and gets one back, fragmented too. 8.8.8.8 then sends
/// the same size to port 9999, which no rule opens: before the fix the instance's fragments
/// had opened a `(udp, 8.8.8.8, instance, 0, 0)` flow that every fragment matched, and the
/// datagram arrived; now it is denied and counted.
#[test]
fn fragments_do_not_bypass_the_security_group_and_allowed_ones_arrive() {
    if !can_run() {
        return;
    }
    let mut lab = lab();
    let echo = listen(&mut lab, "internet", &["udp-echo", "53", "6"]);
    let got = run(
        &lab,
        INSTANCE,
        &["udp-call", "5000", "8.8.8.8", "53", "12000", "2"],
    );
    assert!(
        got.contains("got 12000 from 8.8.8.8:53"),
        "the fragmented reply did not arrive whole: {got:?}; {}",
        lab.stats()
    );
    assert!(stdout(&mut lab, echo).contains("echo 12000"));
    let denied_before = lab.drops("security_group_ingress");
    let victim = listen(&mut lab, INSTANCE, &["udp-listen", "9999", "3"]);
    run(
        &lab,
        "internet",
        &["udp-send", "53", PUBLIC, "9999", "12000"],
    );
    let got = stdout(&mut lab, victim);
    assert!(got.is_empty(), "fragments got through: {got:?}");
    let denied = lab.drops("security_group_ingress") - denied_before;
    assert!(denied >= 2, "every fragment denied and counted: {denied}");
}

/// After the instance pings 8.8.8.8 with identifier 4242, 8.8.8.8 sends it a timestamp
/// request, a redirect and an address-mask request carrying 4242: none arrives (the group
/// allows only echo requests in); the echo reply does.
#[test]
fn an_echo_identifier_opens_only_echo_replies() {
    if !can_run() {
        return;
    }
    let mut lab = lab();
    let sniff = listen(&mut lab, INSTANCE, &["icmp-listen", "4"]);
    run(&lab, INSTANCE, &["icmp-send", "8.8.8.8", "8", "4242"]);
    std::thread::sleep(Duration::from_millis(300));
    for t in ["13", "5", "17"] {
        run(&lab, "internet", &["icmp-send", PUBLIC, t, "4242"]);
    }
    let got = stdout(&mut lab, sniff);
    assert!(
        got.contains("icmp type 0 from 8.8.8.8"),
        "no echo reply: {got:?}"
    );
    for t in ["13", "5", "17"] {
        assert!(
            !got.contains(&format!("icmp type {t} ")),
            "type {t} got through: {got:?}"
        );
    }
    assert!(lab.drops("security_group_ingress") >= 3);
}

/// Seed 000 with a security-group rule naming a prefix list of `n` distinct /24s (written
/// next to a copy of the example's data directory).
fn big_prefix_list_config(dir: &std::path::Path, n: u32) -> std::path::PathBuf {
    let text = std::fs::read_to_string(example("s3-endpoints.toml")).unwrap();
    let anchor = "  { protocol = \"tcp\", ports = 80, cidr = \"0.0.0.0/0\", description = \"HTTP from anywhere\" },\n";
    assert!(text.contains(anchor));
    let rule = "  { protocol = \"tcp\", ports = 443, prefix_list = \"pl-0bada55bada55bada\" },\n";
    let mut text = text.replace(anchor, &format!("{anchor}{rule}"));
    text.push_str("\n[[prefix_lists]]\nid = \"pl-0bada55bada55bada\"\nname = \"big\"\naddress_family = \"IPv4\"\nentries = [\n");
    for i in 0..n {
        let a = 0x2c00_0000u32 + (i << 8); // 44.0.0.0 onwards, /24 each
        text.push_str(&format!("  \"{}/24\",\n", std::net::Ipv4Addr::from(a)));
    }
    text.push_str("]\n");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    for e in std::fs::read_dir(root().join("examples/data")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join("data").join(e.file_name())).unwrap();
    }
    let path = dir.join("big.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Findings 4 and 6: an apply of a FIFO is refused at once (it used to block with the apply
/// locks held, and every later request queued behind it); while a slow apply compiles, status
/// and stats answer and a second apply is told `busy`; a thousand refused connections that
/// each send a megabyte cost vpced neither memory nor its answers.
#[test]
fn a_stuck_or_slow_apply_and_a_refusal_flood_do_not_wedge_the_control_plane() {
    if !can_run() {
        return;
    }
    let lab = Lab::start(&example("s3-endpoints.toml"));
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.toml");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let t = std::time::Instant::now();
    let o = lab.vpcectl(&["apply", fifo.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a regular file"),
        "{o:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(5));

    // A slow apply (a 200,000-entry prefix list: seconds in a debug build).
    let big = big_prefix_list_config(dir.path(), 200_000);
    let (socket, path) = (lab.socket.clone(), big.clone());
    let slow = std::thread::spawn(move || {
        std::process::Command::new(crate::common::bin("vpcectl"))
            .args(["apply", path.to_str().unwrap(), "--socket"])
            .arg(&socket)
            .output()
            .unwrap()
    });
    std::thread::sleep(Duration::from_millis(400));
    let t = std::time::Instant::now();
    assert!(lab.vpcectl(&["status"]).status.success());
    assert!(lab.vpcectl(&["stats"]).status.success());
    let answered = t.elapsed();
    let second = lab.vpcectl(&["apply", big.to_str().unwrap()]);
    let o = slow.join().unwrap();
    assert!(o.status.success(), "the slow apply: {o:?}");
    eprintln!("status and stats during a slow apply: {answered:?}; second apply: {second:?}");
    assert!(answered < Duration::from_secs(2), "{answered:?}");
    if !String::from_utf8_lossy(&second.stderr).contains("busy") {
        // The first apply may have finished already on a fast machine; then this one ran.
        assert!(second.status.success(), "{second:?}");
    }

    // A refusal flood: 1,000 connections from an ordinary user, each sending 1 MiB.
    std::fs::set_permissions(
        &lab.socket,
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    let pid = lab.daemon_pid().unwrap();
    let before = rss_kib(pid);
    let flood = "import socket, sys\nconns = []\nfor _ in range(1000):\n    s = socket.socket(socket.AF_UNIX)\n    s.connect(sys.argv[1])\n    s.setblocking(False)\n    try:\n        s.send(b'x' * (1 << 20))\n    except OSError:\n        pass\n    conns.append(s)\n";
    let o = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            flood,
        ])
        .arg(&lab.socket)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(pid);
    let refused = lab.stats()["control"]["refused_not_root"].as_u64().unwrap();
    eprintln!("refusal flood: RSS {before} -> {after} KiB, {refused} refused");
    assert!(refused >= 1000, "{refused}");
    assert!(after < before + 64 * 1024, "RSS {before} -> {after} KiB");
    assert!(lab.vpcectl(&["status"]).status.success());
    let log = lab.daemon_log();
    let warns = log.matches("refused (root only)").count();
    assert!(warns < 50, "{warns} refusal lines logged");
}
