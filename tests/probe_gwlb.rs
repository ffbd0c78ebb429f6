//! A known bug, reproduced (ignored until fixed; found by the soak): through seed 001's GWLB
//! path, after about 930 short HTTP connections in quick succession (about 490 at one a second
//! in the soak), every new connection fails. vpced counts no drop, and its counters show the
//! SYN reaching the web server and the SYN-ACK delivered back to the client — which keeps
//! retransmitting its SYN: the client's kernel refuses the SYN-ACK that went through the
//! appliance. Pings on the same path go on. Next: tshark in the `internet` namespace on the
//! refused SYN-ACK (checksum, ack number, timestamps after the GENEVE round trip).
//!
//!     cargo test --release --test probe_gwlb -- --ignored --nocapture

mod common;
use common::*;

#[test]
#[ignore = "known bug: new GWLB connections fail after ~930 (see the module doc)"]
fn fifteen_hundred_connections_through_the_appliances() {
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
    for i in 0..1500 {
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
