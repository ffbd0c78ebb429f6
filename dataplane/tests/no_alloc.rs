//! No allocation per packet: the pipeline runs over every path with a counting allocator
//! installed, and the count does not move.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;

use dataplane::fabric::Fabric;
use dataplane::pipeline::{process, NoObserver, Verdict};
use dataplane::stats::Registry;
use dataplane::wire::build::{packet, Transport};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers every operation to the system allocator unchanged; it only counts calls made
// on the current thread while counting is switched on.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            COUNT.with(|n| n.set(n.get() + 1));
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            COUNT.with(|n| n.set(n.get() + 1));
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn pipeline_allocates_nothing_per_packet() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/s3-endpoints.toml");
    let loaded = control::load_file(path).unwrap();
    let f = Fabric::build(
        control::compile(&loaded).unwrap().snapshot,
        Arc::new(Registry::default()),
    )
    .unwrap();
    let eni = f.attachment("eni-08c0b194dec370347").unwrap();
    let igw = f.attachment("igw-0d00d00000000001").unwrap();
    let s3 = f.attachment("com.amazonaws.us-east-1.s3").unwrap();
    let ip = |s: &str| s.parse().unwrap();
    // Every path: gateway endpoint, IGW out and in (with translation), service reply, IPv6,
    // and drops.
    let packets: Vec<(u32, Vec<u8>)> = vec![
        (
            eni,
            packet(
                ip("10.0.0.176"),
                ip("52.216.39.26"),
                Transport::syn(40000, 443),
            )
            .unwrap(),
        ),
        (
            eni,
            packet(
                ip("10.0.0.176"),
                ip("8.8.8.8"),
                Transport::Udp {
                    src_port: 5000,
                    dst_port: 53,
                    payload: b"q",
                },
            )
            .unwrap(),
        ),
        (
            igw,
            packet(
                ip("8.8.8.8"),
                ip("203.0.113.176"),
                Transport::Udp {
                    src_port: 53,
                    dst_port: 5000,
                    payload: b"a",
                },
            )
            .unwrap(),
        ),
        (
            s3,
            packet(
                ip("52.216.39.26"),
                ip("10.0.0.176"),
                Transport::syn(443, 40000),
            )
            .unwrap(),
        ),
        (
            eni,
            packet(
                ip("2600:1f18:1234:5600::b0"),
                ip("2600:1fa0:8000::1a"),
                Transport::EchoRequest {
                    ident: 1,
                    seq: 2,
                    payload: b"x",
                },
            )
            .unwrap(),
        ),
        (
            eni,
            packet(ip("10.0.0.176"), ip("192.0.2.1"), Transport::syn(1, 2)).unwrap(),
        ),
        (eni, vec![0x45, 0, 0, 1]),
    ];
    let mut bufs: Vec<(u32, Vec<u8>)> = packets.clone();
    let flows = dataplane::conntrack::FlowTable::new(4096);
    let cx = dataplane::pipeline::Ctx {
        lane: 0,
        now: 0,
        flows: &flows,
        offload: dataplane::pipeline::Offload::NONE,
    };
    // Warm up (first use of lazily initialized state, if any).
    for (a, b) in bufs.iter_mut() {
        let _ = process(&f, &cx, *a, b, &mut NoObserver);
    }
    let mut forwarded = 0;
    COUNTING.with(|c| c.set(true));
    for _ in 0..10_000 {
        for (k, (a, b)) in bufs.iter_mut().enumerate() {
            b.copy_from_slice(&packets[k].1);
            if let Verdict::Forward { .. } = process(&f, &cx, *a, b, &mut NoObserver) {
                forwarded += 1;
            }
        }
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(forwarded, 10_000 * 5);
    assert_eq!(COUNT.with(|n| n.get()), 0, "allocations on the packet path");
}

/// The interface-endpoint path too: new flows (security groups, listener, target choice,
/// source port, two translations tracked) and established ones, both directions.
#[test]
fn interface_endpoint_flows_allocate_nothing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("examples/privatelink-hands-on.toml"))
        .unwrap()
        .replace(
            "enforce_security_group_inbound_rules_on_private_link_traffic = true",
            "enforce_security_group_inbound_rules_on_private_link_traffic = false",
        )
        .replace("cross_zone = false", "cross_zone = true");
    let loaded = control::load_str("pl.toml", text, &root.join("examples")).unwrap();
    let f = Fabric::build(
        control::compile(&loaded).unwrap().snapshot,
        Arc::new(Registry::default()),
    )
    .unwrap();
    let a = f.attachment("eni-0a00000000000000a").unwrap();
    let b = f.attachment("eni-0b00000000000000b").unwrap();
    let flows = dataplane::conntrack::FlowTable::new(1 << 16);
    let cx = dataplane::pipeline::Ctx {
        lane: 0,
        now: 0,
        flows: &flows,
        offload: dataplane::pipeline::Offload::NONE,
    };
    let seg = |src: &str, sport: u16, dst: &str, dport: u16, flags: u8| {
        packet(
            src.parse().unwrap(),
            dst.parse().unwrap(),
            Transport::Tcp {
                src_port: sport,
                dst_port: dport,
                flags,
                payload: b"x",
            },
        )
        .unwrap()
    };
    // Packets prepared beforehand: 1,000 new connections.
    let mut syns: Vec<Vec<u8>> = (0..1000)
        .map(|i| seg("10.0.128.10", 20000 + i, "10.0.128.100", 80, 0x02))
        .collect();
    // Warm up the lazily initialized parts once, outside the count.
    let mut warm = seg("10.0.128.10", 1999, "10.0.128.100", 80, 0x02);
    process(&f, &cx, a, &mut warm, &mut NoObserver);
    COUNTING.with(|c| c.set(true));
    let mut forwarded = 0;
    for syn in syns.iter_mut() {
        if let Verdict::Forward { .. } = process(&f, &cx, a, syn, &mut NoObserver) {
            forwarded += 1;
        }
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(forwarded, 1000);
    assert_eq!(COUNT.with(|n| n.get()), 0, "allocations on new flows");
    // Established: the replies (built outside the count), then data both ways.
    let replies: Vec<Vec<u8>> = syns
        .iter()
        .map(|s| {
            let p = dataplane::wire::parse(s).unwrap();
            seg(
                &p.dst.to_string(),
                p.dst_port,
                &p.src.to_string(),
                p.src_port,
                0x12,
            )
        })
        .collect();
    let data: Vec<Vec<u8>> = (0..1000)
        .map(|i| seg("10.0.128.10", 20000 + i, "10.0.128.100", 80, 0x10))
        .collect();
    let mut bufs: Vec<(u32, Vec<u8>)> = replies
        .into_iter()
        .map(|r| (b, r))
        .chain(data.into_iter().map(|d| (a, d)))
        .collect();
    COUNTING.with(|c| c.set(true));
    let mut forwarded = 0;
    for (from, buf) in bufs.iter_mut() {
        if let Verdict::Forward { .. } = process(&f, &cx, *from, buf, &mut NoObserver) {
            forwarded += 1;
        }
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(forwarded, 2000);
    assert_eq!(
        COUNT.with(|n| n.get()),
        0,
        "allocations on established flows"
    );
}

#[test]
fn gwlb_round_trips_allocate_nothing() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gwlb-inspection.toml");
    let loaded = control::load_file(path).unwrap();
    let f = Fabric::build(
        control::compile(&loaded).unwrap().snapshot,
        Arc::new(Registry::default()),
    )
    .unwrap();
    let igw = f.attachment("igw-0c000000000000001").unwrap();
    let flows = dataplane::conntrack::FlowTable::new(1 << 16);
    let cx = dataplane::pipeline::Ctx {
        lane: 0,
        now: 0,
        flows: &flows,
        offload: dataplane::pipeline::Offload::NONE,
    };
    // 1,000 new flows from the internet, each with room for GENEVE, built beforehand.
    let mut bufs: Vec<(usize, Vec<u8>)> = (0..1000u16)
        .map(|i| {
            let p = packet(
                "198.51.100.7".parse().unwrap(),
                "203.0.113.10".parse().unwrap(),
                Transport::syn(20000 + i, 80),
            )
            .unwrap();
            let n = p.len();
            let mut b = p;
            b.resize(n + 256, 0);
            (n, b)
        })
        .collect();
    let appliances: Vec<u32> = ["eni-0c0000000000000a1", "eni-0c0000000000000a2"]
        .iter()
        .map(|id| f.attachment(id).unwrap())
        .collect();
    let mut warm = bufs[0].1.clone();
    let n0 = bufs[0].0;
    dataplane::pipeline::process_in(&f, &cx, igw, &mut warm, n0, &mut NoObserver);
    COUNTING.with(|c| c.set(true));
    let mut delivered = 0;
    for (n, buf) in bufs.iter_mut() {
        // To the appliance …
        let Verdict::Forward { egress, len } =
            dataplane::pipeline::process_in(&f, &cx, igw, buf, *n, &mut NoObserver)
        else {
            continue;
        };
        assert!(appliances.contains(&egress));
        // … echoed by it (outer addresses swapped) …
        let mut src = [0u8; 4];
        src.copy_from_slice(&buf[12..16]);
        buf.copy_within(16..20, 12);
        buf[16..20].copy_from_slice(&src);
        // … and on to the web server.
        if let Verdict::Forward { .. } =
            dataplane::pipeline::process_in(&f, &cx, egress, buf, len, &mut NoObserver)
        {
            delivered += 1;
        }
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(delivered, 1000);
    assert_eq!(COUNT.with(|n| n.get()), 0, "allocations through the GWLB");
}
