//! What an adversarial tenant broke (issue 19), end to end over namespaces with the kernel's
//! own fragmentation and raw ICMP: fragments no longer slip past a security group, fragmented
//! traffic the group allows arrives whole, and an echo's identifier opens nothing but echo
//! replies. Each failed before its fix.

mod common;

use std::time::Duration;

use common::{can_run, example, root, Lab};

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
    run(&lab, "internet", &["udp-send", "53", PUBLIC, "9999", "12000"]);
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
    assert!(got.contains("icmp type 0 from 8.8.8.8"), "no echo reply: {got:?}");
    for t in ["13", "5", "17"] {
        assert!(
            !got.contains(&format!("icmp type {t} ")),
            "type {t} got through: {got:?}"
        );
    }
    assert!(lab.drops("security_group_ingress") >= 3);
}
