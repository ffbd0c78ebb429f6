//! An internet gateway on an existing interface (a veth pair standing for a real uplink)
//! instead of a TUN device: vpced reads and writes the interface's Ethernet frames through
//! packet sockets (one per worker, fanout by flow hash), answers ARP for the public addresses
//! behind the gateway, learns the next hop's address; the instance reaches a server on the
//! "uplink" and the server reaches the instance's public address — both ways through the
//! gateway's 1:1 translation.

use std::process::Command;

use crate::common::*;

fn sh(args: &[&str]) {
    let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn internet_gateway_on_a_veth_uplink() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(example("s3-endpoints.toml"))
        .unwrap()
        .replace(
            "vpc = \"vpc-09efc2534d3f29483\"\nnamespace = \"internet\"",
            "vpc = \"vpc-09efc2534d3f29483\"\ninterface = \"vk-up\"\nnext_hop = \"198.51.100.1\"",
        );
    assert!(text.contains("interface = \"vk-up\""));
    // The example's prefix lists read examples/data relative to the file.
    std::os::unix::fs::symlink(example("data"), dir.path().join("data")).unwrap();
    let cfg = dir.path().join("uplink.toml");
    std::fs::write(&cfg, text).unwrap();
    let mut lab = Lab::start_with(&cfg, |p| {
        // The fabric namespace vpced will run in, with one end of the "uplink"; the other
        // end in a namespace of the lab standing for the router and the internet behind it.
        for ns in ["fabric", "uplink"] {
            sh(&["ip", "netns", "add", &format!("{p}{ns}")]);
        }
        sh(&[
            "ip",
            "link",
            "add",
            "vk-up",
            "netns",
            &format!("{p}fabric"),
            "type",
            "veth",
            "peer",
            "name",
            "vk-upp",
            "netns",
            &format!("{p}uplink"),
        ]);
        let up = format!("{p}uplink");
        sh(&["ip", "-n", &up, "link", "set", "lo", "up"]);
        sh(&[
            "ip",
            "-n",
            &up,
            "addr",
            "add",
            "198.51.100.1/24",
            "dev",
            "vk-upp",
        ]);
        sh(&["ip", "-n", &up, "link", "set", "vk-upp", "up"]);
        // The instances' public addresses are on the link: ARP finds vpced.
        sh(&[
            "ip",
            "-n",
            &up,
            "route",
            "add",
            "203.0.113.0/24",
            "dev",
            "vk-upp",
        ]);
    });
    lab.check_isolation(&[("s3-instance", "198.51.100.1"), ("uplink", "203.0.113.176")]);
    lab.http_server("uplink", "hello from the uplink\n");
    lab.http_server("s3-instance", "hello from the instance\n");
    // The instance to a server behind the uplink (source translated to its public address).
    let (code, body) = lab.curl("s3-instance", "http://198.51.100.1/");
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "hello from the uplink\n"),
        "{}",
        lab.daemon_log()
    );
    // The uplink to the instance's public address.
    let (code, body) = lab.curl("uplink", "http://203.0.113.176/");
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "hello from the instance\n")
    );
    // The router's neighbour table has vpced's address for the public one.
    let o = lab.exec("uplink", &["ip", "neigh", "show", "203.0.113.176"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("lladdr"),
        "{o:?}"
    );
    // Bulk both ways (superpackets through packet sockets).
    let o = lab.exec(
        "s3-instance",
        &[
            "curl",
            "-s",
            "-m",
            "10",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "http://198.51.100.1/",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "200");
    assert!(lab.counter("attachment", "igw-0d00d00000000001", "tx_packets") > 0);
}
