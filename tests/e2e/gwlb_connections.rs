//! Many short connections through seed 001's GWLB path: 1,200 HTTP requests in a row, each a
//! new flow steered to an appliance and back. The soak once failed every request after about
//! 930 — not vpced: the lab's web server logged each request into a pipe nobody read until the
//! end, and blocked once the pipe's 64 KiB were full (its socket in CLOSE-WAIT, while vpced's
//! counters showed every packet of the handshake and the request go through). The lab now logs
//! to a file; this keeps it that way.

use crate::common::*;

#[test]
fn twelve_hundred_connections_through_the_appliances() {
    if !can_run() {
        return;
    }
    let mut gw = Lab::start_args(&example("gwlb-inspection.toml"), &["--max-flows", "8192"]);
    gw.add_loopback("internet", "198.51.100.7");
    gw.check_isolation(&[("internet", "203.0.113.10")]);
    gw.http_server("web", "inspected hello\n");
    for (ns, ip) in [
        ("appliance-1", "10.100.0.11"),
        ("appliance-2", "10.100.0.12"),
    ] {
        let cmd = format!(
            "exec {} --listen {ip} >/dev/null 2>&1",
            bin("vpce-appliance").display()
        );
        gw.spawn(ns, &["sh", "-c", &cmd]);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while gw.curl("internet", "http://203.0.113.10/").0 != "200" {
        assert!(
            std::time::Instant::now() < deadline,
            "the path never came up"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    for i in 0..1200 {
        let (code, _) = gw.curl("internet", "http://203.0.113.10/");
        assert_eq!(
            code,
            "200",
            "request {i} failed; drops {}, flows {}",
            gw.stats()["drops"],
            gw.stats()["flows"]
        );
    }
}
