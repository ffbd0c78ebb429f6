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

/// vpced (with `args`) on seed 000's gateway, its internet side on the veth `vk-up`, whose
/// peer is in the lab's `uplink` namespace at 198.51.100.1 (the next hop).
fn uplink_lab(args: &[&str]) -> (Lab, tempfile::TempDir) {
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
    let lab = Lab::start_full(&cfg, args, |p| {
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
    (lab, dir)
}

#[test]
fn internet_gateway_on_a_veth_uplink() {
    if !can_run() {
        return;
    }
    let (mut lab, _dir) = uplink_lab(&[]);
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

/// Bulk TCP both ways through the uplink, read through receive rings (the default) and with
/// `read(2)` (`--no-uplink-ring`): small frames come from the ring, superpackets (larger than
/// a ring slot) are read whole from the socket in their place in the ring's order; every byte
/// arrives either way.
#[test]
fn bulk_through_the_uplink_with_and_without_receive_rings() {
    if !can_run() {
        return;
    }
    for (args, read) in [
        (&[][..], "receive rings"),
        (&["--no-uplink-ring"][..], "read(2)"),
    ] {
        let (mut lab, _dir) = uplink_lab(args);
        let log = lab.daemon_log();
        assert!(
            log.contains("uplink opened") && log.contains(read),
            "{args:?}: {log}"
        );
        for (reverse, what) in [(false, "instance to uplink"), (true, "uplink to instance")] {
            lab.spawn("uplink", &["iperf3", "-s", "-B", "198.51.100.1", "-1"]);
            std::thread::sleep(std::time::Duration::from_millis(300));
            let mut cmd = vec!["iperf3", "-c", "198.51.100.1", "-t", "2", "-J"];
            if reverse {
                cmd.push("-R");
            }
            let o = lab.exec("s3-instance", &cmd);
            let report: serde_json::Value = serde_json::from_slice(&o.stdout)
                .unwrap_or_else(|e| panic!("{what}: {e}: {}", lab.daemon_log()));
            let sent = report["end"]["sum_sent"]["bytes"].as_u64().unwrap_or(0);
            let received = report["end"]["sum_received"]["bytes"].as_u64().unwrap_or(0);
            assert!(
                received > 10_000_000 && received <= sent,
                "{args:?} {what}: {received} of {sent} bytes: {report}"
            );
        }
    }
}

/// The receive ring against `read(2)`, frame for frame: two packet sockets on one veth end, in
/// fanout groups of their own (each gets every frame), one reading through its ring and one
/// with `read`; the peer end sends frames of every size up to the MTU with varied bytes, and
/// TCP superpackets larger than a ring slot (which the ring hands over to `read` in their
/// place). Both sockets must return the same frames, in the same order, byte for byte —
/// virtio header included.
#[test]
fn receive_ring_returns_what_read_returns_frame_for_frame() {
    use dataplane::io::packet::Uplink;
    if !can_run() {
        return;
    }
    let ns = format!("vt-ring-{}", std::process::id());
    sh(&["ip", "netns", "add", &ns]);
    struct Gone(String);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = Command::new("ip")
                .args(["netns", "delete", &self.0])
                .status();
        }
    }
    let _gone = Gone(ns.clone());
    sh(&[
        "ip", "-n", &ns, "link", "add", "vk-ra", "type", "veth", "peer", "name", "vk-rb",
    ]);
    for dev in ["vk-ra", "vk-rb"] {
        sh(&["ip", "-n", &ns, "link", "set", dev, "up"]);
    }
    let (from_ring, from_read) = std::thread::spawn(move || {
        dataplane::io::device::enter_netns(&ns).unwrap();
        let (ring, mac_a) = Uplink::open("vk-ra", 101, true).unwrap();
        let (plain, _) = Uplink::open("vk-ra", 102, false).unwrap();
        assert!(ring.has_ring() && !plain.has_ring());
        let tx = sender("vk-rb", mac_a);
        let (mut from_ring, mut from_read) = (Vec::new(), Vec::new());
        let mut frames = test_frames();
        for chunk in 0..FRAMES / 40 {
            // 40 at a time, then both read: the plain socket's buffer holds ~100 frames.
            for frame in frames.by_ref().take(40) {
                tx.send(&frame).unwrap();
            }
            drain(&ring, &mut from_ring, (chunk + 1) * 40);
            drain(&plain, &mut from_read, (chunk + 1) * 40);
        }
        (from_ring, from_read)
    })
    .join()
    .unwrap();
    assert_eq!(
        from_read.len(),
        FRAMES,
        "read(2) got {} frames",
        from_read.len()
    );
    assert_eq!(
        from_ring.len(),
        FRAMES,
        "the ring got {} frames",
        from_ring.len()
    );
    let big = from_ring.iter().filter(|f| f.len() > 2048).count();
    assert_eq!(big, FRAMES / 50, "superpackets larger than a slot");
    for (i, (a, b)) in from_ring.iter().zip(&from_read).enumerate() {
        assert!(
            a == b,
            "frame {i}: ring {} bytes, read {} bytes",
            a.len(),
            b.len()
        );
    }
}

/// Frames the ring test sends.
const FRAMES: usize = 600;

/// A packet socket on `interface` that knows `next_hop_mac` as 192.0.2.1's address.
fn sender(interface: &str, next_hop_mac: [u8; 6]) -> dataplane::io::packet::Uplink {
    use dataplane::io::packet::{self, Link, Uplink};
    let (tx, mac) = Uplink::open(interface, 103, false).unwrap();
    let link = std::sync::Arc::new(Link::new(
        interface,
        mac,
        std::net::Ipv4Addr::new(192, 0, 2, 1),
        Vec::new(),
    ));
    // An ARP reply from the next hop teaches the link its address.
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 2];
    arp.extend_from_slice(&next_hop_mac);
    arp.extend_from_slice(&[192, 0, 2, 1]);
    arp.extend_from_slice(&[0; 10]);
    let _ = packet::arp(&link, &arp);
    tx.with_link(link)
}

/// [`FRAMES`] TUN-layout frames (virtio header, IPv4 packet) to 192.0.2.99: every size from
/// 28 bytes to the MTU, random bytes, and every 50th a TCP superpacket of 20 KB and more.
fn test_frames() -> impl Iterator<Item = Vec<u8>> {
    use dataplane::io::HDR;
    let mut seed = 0x9e37_79b9_u32;
    (0..FRAMES).map(move |i| {
        let superpacket = i % 50 == 49;
        let len = if superpacket {
            20_000 + i * 7
        } else {
            28 + (i * 37) % 1473
        };
        let mut frame = vec![0u8; HDR + len];
        for b in &mut frame[HDR..] {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            *b = seed as u8;
        }
        let ip = &mut frame[HDR..];
        ip[0] = 0x45;
        ip[1] = 0;
        ip[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        ip[6..8].copy_from_slice(&[0x40, 0]); // DF, no fragment
        ip[8] = 64;
        ip[9] = if superpacket { 6 } else { 253 }; // TCP, or the experimental protocol
        ip[12..16].copy_from_slice(&[192, 0, 2, 2]);
        ip[16..20].copy_from_slice(&[192, 0, 2, 99]);
        if superpacket {
            ip[32] = 0x50; // TCP data offset: 20 bytes
                           // virtio-net: checksum needed from the TCP header on, TCPv4 segments of 1448.
            frame[0] = 1;
            frame[1] = 1;
            frame[2..4].copy_from_slice(&40u16.to_ne_bytes());
            frame[4..6].copy_from_slice(&1448u16.to_ne_bytes());
            frame[6..8].copy_from_slice(&20u16.to_ne_bytes());
            frame[8..10].copy_from_slice(&16u16.to_ne_bytes());
        }
        frame
    })
}

/// Reads from `u` into `got` the frames sent to 192.0.2.99 (the veth's own traffic, IPv6
/// neighbour discovery, left out) until it holds `want`, or 5 s have passed.
fn drain(u: &dataplane::io::packet::Uplink, got: &mut Vec<Vec<u8>>, want: usize) {
    use dataplane::io::HDR;
    let mut buf = vec![0u8; 70_000];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while got.len() < want && std::time::Instant::now() < deadline {
        match u.recv(&mut buf) {
            Ok(n) if n >= HDR + 34 && buf[HDR + 12..HDR + 14] == [8, 0] => {
                if buf[HDR + 30..HDR + 34] == [192, 0, 2, 99] {
                    got.push(buf[..n].to_vec());
                }
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_millis(1))
            }
            Err(e) => panic!("{e}"),
        }
    }
}
