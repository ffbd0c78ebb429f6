//! No allocation per packet: the pipeline runs over every path with a counting allocator
//! installed, and the count does not move.

mod common;

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

/// The fabric of `examples/NAME`.
fn example_fabric(name: &str) -> Fabric {
    common::example_fabric(name, &[])
}

/// A worker's context on `flows`, plain packets, time 0.
fn ctx(flows: &dataplane::conntrack::FlowTable) -> dataplane::pipeline::Ctx<'_> {
    dataplane::pipeline::Ctx {
        lane: 0,
        now: 0,
        flows,
        offload: dataplane::pipeline::Offload::NONE,
    }
}

#[test]
fn pipeline_allocates_nothing_per_packet() {
    let f = example_fabric("s3-endpoints.toml");
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
    // A fragmented datagram: the first fragment opens its entry in the fragment table, the
    // later one follows it and completes it (the entry is freed).
    let big = packet(
        ip("10.0.0.176"),
        ip("8.8.8.8"),
        Transport::Udp {
            src_port: 5001,
            dst_port: 53,
            payload: &[7; 2000],
        },
    )
    .unwrap();
    let mut packets = packets;
    packets.push((eni, dataplane::wire::build::fragment_v4(&big, 9, 0, 1480)));
    packets.push((
        eni,
        dataplane::wire::build::fragment_v4(&big, 9, 1480, 1000),
    ));
    let mut bufs: Vec<(u32, Vec<u8>)> = packets.clone();
    let flows = dataplane::conntrack::FlowTable::new(4096);
    let cx = ctx(&flows);
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
    assert_eq!(forwarded, 10_000 * 7);
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
    let cx = ctx(&flows);
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

/// Dual-stack PrivateLink: an IPv6 consumer's flows to the IPv4 target group (translated
/// down) and an IPv4 consumer's to the IPv6 group with PROXY v2 (translated up, the header
/// inserted), new and established, both ways — in place, in the worker's buffers.
#[test]
fn dual_stack_translations_allocate_nothing() {
    use dataplane::pipeline::process_in;
    let f = example_fabric("privatelink-dual-stack.toml");
    let a = f.attachment("eni-0a00000000000000a").unwrap();
    let b = f.attachment("eni-0b00000000000000b").unwrap();
    let flows = dataplane::conntrack::FlowTable::new(1 << 16);
    let cx = ctx(&flows);
    // A segment in a buffer with room to grow, as the worker's frames have.
    let seg = |src: &str, sport: u16, dst: &str, dport: u16, seq: u32, flags: u8, data: &[u8]| {
        let t = Transport::TcpSegment {
            src_port: sport,
            dst_port: dport,
            seq,
            ack: 1,
            flags,
            payload: data,
        };
        let mut v = packet(src.parse().unwrap(), dst.parse().unwrap(), t).unwrap();
        let n = v.len();
        v.resize(n + 256, 0);
        (v, n)
    };
    let client = |i: u16, syn: bool| {
        let (flags, seq, data): (u8, u32, &[u8]) = if syn {
            (0x02, 100, b"")
        } else {
            (0x18, 101, b"GET /")
        };
        if i.is_multiple_of(2) {
            seg(
                "2600:1f18:a:a80::10",
                20000 + i,
                "2600:1f18:a:a80::100",
                80,
                seq,
                flags,
                data,
            )
        } else {
            seg(
                "10.0.128.10",
                20000 + i,
                "10.0.128.100",
                8080,
                seq,
                flags,
                data,
            )
        }
    };
    let run = |bufs: &mut Vec<(u32, (Vec<u8>, usize))>| {
        COUNTING.with(|c| c.set(true));
        let mut forwarded = 0;
        for (from, (buf, n)) in bufs.iter_mut() {
            if let Verdict::Forward { len, .. } =
                process_in(&f, &cx, *from, buf, *n, &mut NoObserver)
            {
                *n = len;
                forwarded += 1;
            }
        }
        COUNTING.with(|c| c.set(false));
        forwarded
    };
    let mut warm = client(1999, true);
    process_in(&f, &cx, a, &mut warm.0, warm.1, &mut NoObserver);
    let mut syns: Vec<(u32, (Vec<u8>, usize))> = (0..1000).map(|i| (a, client(i, true))).collect();
    assert_eq!(run(&mut syns), 1000);
    assert_eq!(COUNT.with(|n| n.get()), 0, "allocations on new flows");
    // The targets' SYN-ACKs (built outside the count), then the consumers' first data
    // (the PROXY header goes in on port 8080).
    let mut rest: Vec<(u32, (Vec<u8>, usize))> = syns
        .iter()
        .map(|(_, (v, n))| {
            let p = dataplane::wire::parse(&v[..*n]).unwrap();
            (
                b,
                seg(
                    &p.dst.to_string(),
                    p.dst_port,
                    &p.src.to_string(),
                    p.src_port,
                    500,
                    0x12,
                    b"",
                ),
            )
        })
        .chain((0..1000).map(|i| (a, client(i, false))))
        .collect();
    assert_eq!(run(&mut rest), 2000);
    assert_eq!(
        COUNT.with(|n| n.get()),
        0,
        "allocations on established flows"
    );
}

#[test]
fn gwlb_round_trips_allocate_nothing() {
    let f = example_fabric("gwlb-inspection.toml");
    let igw = f.attachment("igw-0c000000000000001").unwrap();
    let flows = dataplane::conntrack::FlowTable::new(1 << 16);
    let cx = ctx(&flows);
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

/// Frames as an offloading TUN device hands them over: a virtio-net header, then a packet
/// with a partial checksum, or a TCP superpacket.
mod offload {
    use super::*;
    use dataplane::io::worker::{handle_frame, Buffers, Output, HDR};
    use dataplane::pipeline::LocalService;

    /// Records what leaves, into preallocated space; steers flows when given a table.
    pub struct Sink {
        pub frames: Vec<(u32, usize, [u8; 128])>,
        pub steer: Option<dataplane::io::steer::Steering>,
        /// The queue each frame left through.
        pub queues: Vec<Option<usize>>,
    }
    impl Sink {
        pub fn new(steer: Option<dataplane::io::steer::Steering>) -> Sink {
            Sink {
                frames: Vec::with_capacity(1024),
                steer,
                queues: Vec::with_capacity(1024),
            }
        }
    }
    impl Output for Sink {
        fn send(
            &mut self,
            egress: u32,
            queue: Option<usize>,
            frame: &[u8],
        ) -> std::io::Result<usize> {
            let mut head = [0u8; 128];
            let n = frame.len().min(128);
            head[..n].copy_from_slice(&frame[..n]);
            if self.frames.len() < self.frames.capacity() {
                self.frames.push((egress, frame.len(), head));
                self.queues.push(queue);
            }
            Ok(frame.len())
        }
        fn read_flow(&self, packet: &[u8]) -> Option<u64> {
            self.steer.as_ref()?.flow(packet)
        }
        fn queue_for(&self, read: Option<u64>, packet: &[u8]) -> Option<usize> {
            self.steer.as_ref()?.owner(read, packet)
        }
        fn local(&mut self, _: &[u8], _: u32, _: LocalService) {}
    }

    /// A TCP superpacket of `segments` × 1400 bytes of payload (or one packet when 1), with
    /// its partial checksum, as a frame.
    pub fn frame(src: &str, dst: &str, sport: u16, dport: u16, segments: usize) -> Vec<u8> {
        let payload = vec![7u8; 1400 * segments];
        let mut p = packet(
            src.parse().unwrap(),
            dst.parse().unwrap(),
            Transport::Tcp {
                src_port: sport,
                dst_port: dport,
                flags: 0x10,
                payload: &payload,
            },
        )
        .unwrap();
        // The partial checksum: the pseudo-header's sum only.
        let parsed = dataplane::wire::parse(&p).unwrap();
        dataplane::wire::partial_checksum(&mut p, &parsed).unwrap();
        let mut f = vec![0u8; HDR];
        f[0] = 1; // NEEDS_CSUM
        if segments > 1 {
            f[1] = 1; // GSO_TCPV4
            f[2..4].copy_from_slice(&40u16.to_ne_bytes()); // hdr_len
            f[4..6].copy_from_slice(&1400u16.to_ne_bytes()); // gso_size
        }
        f[6..8].copy_from_slice(&20u16.to_ne_bytes()); // csum_start
        f[8..10].copy_from_slice(&16u16.to_ne_bytes()); // csum_offset
        f.extend_from_slice(&p);
        f
    }

    pub fn run(
        f: &Fabric,
        cx: &dataplane::pipeline::Ctx<'_>,
        ingress: u32,
        frames: &[Vec<u8>],
        bufs: &mut Buffers,
        sink: &mut Sink,
    ) {
        for fr in frames {
            bufs.frame[..fr.len()].copy_from_slice(fr);
            handle_frame(f, cx, ingress, bufs, fr.len(), sink);
        }
        dataplane::io::worker::flush(f, cx, &mut bufs.work, sink);
    }
}

#[test]
fn offload_path_decides_superpackets_whole_and_allocates_nothing() {
    use dataplane::io::worker::{Buffers, HDR};
    let f = example_fabric("s3-endpoints.toml");
    let eni = f.attachment("eni-08c0b194dec370347").unwrap();
    let s3 = f.attachment("com.amazonaws.us-east-1.s3").unwrap();
    let igw = f.attachment("igw-0d00d00000000001").unwrap();
    let flows = dataplane::conntrack::FlowTable::new(1 << 16);
    let cx = ctx(&flows);
    // To S3 through the gateway endpoint (no rewrite) and to the internet (source NAT), as
    // 45-segment superpackets and as single packets with partial checksums.
    let frames: Vec<Vec<u8>> = (0..100u16)
        .flat_map(|i| {
            [
                offload::frame("10.0.0.176", "52.216.39.26", 40000 + i, 443, 45),
                offload::frame("10.0.0.176", "8.8.8.8", 40000 + i, 443, 45),
                offload::frame("10.0.0.176", "52.216.39.26", 50000 + i, 443, 1),
            ]
        })
        .collect();
    let mut bufs = Buffers::default();
    let mut sink = offload::Sink::new(None);
    offload::run(&f, &cx, eni, &frames[..3], &mut bufs, &mut sink);
    sink.frames.clear();
    COUNTING.with(|c| c.set(true));
    offload::run(&f, &cx, eni, &frames, &mut bufs, &mut sink);
    COUNTING.with(|c| c.set(false));
    assert_eq!(
        COUNT.with(|n| n.get()),
        0,
        "allocations on the offload path"
    );
    // One frame out per frame in: superpackets leave whole.
    assert_eq!(sink.frames.len(), 300);
    for (k, (egress, len, head)) in sink.frames.iter().enumerate() {
        let sent = &frames[k];
        assert_eq!(*len, sent.len(), "frame {k}");
        assert_eq!(*egress, if k % 3 == 1 { igw } else { s3 });
        // The virtio header keeps the segmentation and says where the checksum goes.
        assert_eq!(&head[..2], &sent[..2]);
        assert_eq!(&head[4..10], &sent[4..10]);
        // The partial checksum is the pseudo-header sum of the packet as it left (after NAT
        // for the internet).
        let mut pkt = head[HDR..HDR + 40].to_vec();
        let total = u16::from_be_bytes([pkt[2], pkt[3]]) as usize;
        pkt.resize(total, 0);
        let p = dataplane::wire::parse(&pkt).unwrap();
        let mut expect = pkt.clone();
        dataplane::wire::partial_checksum(&mut expect, &p).unwrap();
        assert_eq!(&head[HDR + 36..HDR + 38], &expect[36..38], "frame {k}");
    }
}

/// Steered flows (`io::steer`): every packet of a flow, both ways, leaves through one
/// worker's queue, new flows take the workers in turn, and steering allocates nothing.
#[test]
fn steered_flows_keep_one_queue_both_ways_and_allocate_nothing() {
    use dataplane::io::worker::Buffers;
    let f = example_fabric("s3-endpoints.toml");
    let eni = f.attachment("eni-08c0b194dec370347").unwrap();
    let s3 = f.attachment("com.amazonaws.us-east-1.s3").unwrap();
    let flows = dataplane::conntrack::FlowTable::new(1 << 16);
    let cx = ctx(&flows);
    let out: Vec<Vec<u8>> = (0..64u16)
        .map(|i| offload::frame("10.0.0.176", "52.216.39.26", 40000 + i, 443, 1))
        .collect();
    let back: Vec<Vec<u8>> = (0..64u16)
        .map(|i| offload::frame("52.216.39.26", "10.0.0.176", 443, 40000 + i, 1))
        .collect();
    let mut bufs = Buffers::default();
    let mut sink = offload::Sink::new(dataplane::io::steer::Steering::with_key(
        4,
        dataplane::hash::Key::fixed(7),
    ));
    // A first flow, both ways, warms what is made on first use.
    let warm = offload::frame("10.0.0.176", "52.216.39.26", 39999, 443, 1);
    offload::run(&f, &cx, eni, &[warm], &mut bufs, &mut sink);
    let warm = offload::frame("52.216.39.26", "10.0.0.176", 443, 39999, 1);
    offload::run(&f, &cx, s3, &[warm], &mut bufs, &mut sink);
    sink.frames.clear();
    sink.queues.clear();
    COUNTING.with(|c| c.set(true));
    offload::run(&f, &cx, eni, &out, &mut bufs, &mut sink);
    offload::run(&f, &cx, s3, &back, &mut bufs, &mut sink);
    offload::run(&f, &cx, eni, &out, &mut bufs, &mut sink);
    COUNTING.with(|c| c.set(false));
    assert_eq!(COUNT.with(|n| n.get()), 0, "allocations steering flows");
    // Out, back, out again: each flow on one queue all three times.
    let q = &sink.queues;
    assert_eq!(q.len(), 64 * 3);
    let first: Vec<usize> = q[..64].iter().map(|q| q.expect("steered")).collect();
    let (back_q, again) = (&q[64..128], &q[128..]);
    for i in 0..64 {
        assert_eq!(back_q[i], Some(first[i]), "reply of flow {i}");
        assert_eq!(again[i], Some(first[i]), "flow {i} again");
    }
    // The warm flow took worker 0; the 64 new ones went on from worker 1, in turn.
    for (i, q) in first.iter().enumerate() {
        assert_eq!(*q, (i + 1) % 4, "flow {i}");
    }
}

/// A DNS query the resolver answered before is answered by the worker from the answer
/// cache: the reply leaves by the attachment the query came in on, and nothing allocates.
#[test]
fn cached_dns_answers_leave_from_the_worker_and_allocate_nothing() {
    use dataplane::io::worker::{handle_frame, Buffers, Output, HDR};
    use dataplane::pipeline::LocalService;
    use dataplane::resolver::cache::AnswerCache;

    struct Answering {
        cache: AnswerCache,
        sent: Vec<(u32, usize)>,
        handed_over: usize,
    }
    impl Output for Answering {
        fn send(&mut self, egress: u32, _: Option<usize>, frame: &[u8]) -> std::io::Result<usize> {
            if self.sent.len() < self.sent.capacity() {
                self.sent.push((egress, frame.len()));
            }
            Ok(frame.len())
        }
        fn local(&mut self, _: &[u8], _: u32, _: LocalService) {
            self.handed_over += 1;
        }
        fn answers(&self) -> Option<&AnswerCache> {
            Some(&self.cache)
        }
    }

    let f = example_fabric("s3-endpoints.toml");
    let eni = f.attachment("eni-08c0b194dec370347").unwrap();
    let flows = dataplane::conntrack::FlowTable::new(1 << 16);
    let cx = ctx(&flows);
    // A query for the endpoint's private name, id 0x1234.
    let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in "zenn-privatelink.s3.us-east-1.amazonaws.com".split('.') {
        q.push(l.len() as u8);
        q.extend_from_slice(l.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    let mut answer = q.clone();
    answer[2] = 0x81;
    answer[3] = 0x80;
    let query_frame = |id: u16| {
        let mut q = q.clone();
        q[..2].copy_from_slice(&id.to_be_bytes());
        let p = packet(
            "10.0.0.176".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            Transport::Udp {
                src_port: 40000,
                dst_port: 53,
                payload: &q,
            },
        )
        .unwrap();
        let mut fr = vec![0u8; HDR];
        fr.extend_from_slice(&p);
        fr
    };
    let mut out = Answering {
        cache: AnswerCache::default(),
        sent: Vec::with_capacity(2048),
        handed_over: 0,
    };
    let mut bufs = Buffers::default();
    // Not cached yet: handed to the resolver thread.
    let fr = query_frame(1);
    bufs.frame[..fr.len()].copy_from_slice(&fr);
    handle_frame(&f, &cx, eni, &mut bufs, fr.len(), &mut out);
    assert_eq!((out.handed_over, out.sent.len()), (1, 0));
    out.cache.insert(f.generation, 0, &q, &answer);
    let frames: Vec<Vec<u8>> = (0..1000u16).map(query_frame).collect();
    COUNTING.with(|c| c.set(true));
    for fr in &frames {
        bufs.frame[..fr.len()].copy_from_slice(fr);
        handle_frame(&f, &cx, eni, &mut bufs, fr.len(), &mut out);
    }
    dataplane::io::worker::flush(&f, &cx, &mut bufs.work, &mut out);
    COUNTING.with(|c| c.set(false));
    assert_eq!(
        COUNT.with(|n| n.get()),
        0,
        "allocations answering from the cache"
    );
    assert_eq!(out.handed_over, 1);
    let answered: usize = out.sent.iter().map(|(e, _)| usize::from(*e == eni)).sum();
    assert!(
        !out.sent.is_empty() && answered == out.sent.len(),
        "{:?}",
        out.sent
    );
    assert_eq!(f.registry.dns.from_cache(), 1000);
}

#[test]
fn gwlb_superpackets_are_split_with_complete_checksums_and_allocate_nothing() {
    use dataplane::io::worker::{Buffers, HDR};
    use dataplane::wire::checksum;
    let f = example_fabric("gwlb-inspection.toml");
    let igw = f.attachment("igw-0c000000000000001").unwrap();
    let flows = dataplane::conntrack::FlowTable::new(1 << 16);
    let cx = ctx(&flows);
    let frames: Vec<Vec<u8>> = (0..20u16)
        .map(|i| offload::frame("198.51.100.7", "203.0.113.10", 30000 + i, 80, 10))
        .collect();
    let mut bufs = Buffers::default();
    let mut sink = offload::Sink::new(None);
    offload::run(&f, &cx, igw, &frames[..1], &mut bufs, &mut sink);
    sink.frames.clear();
    COUNTING.with(|c| c.set(true));
    offload::run(&f, &cx, igw, &frames[1..], &mut bufs, &mut sink);
    COUNTING.with(|c| c.set(false));
    assert_eq!(
        COUNT.with(|n| n.get()),
        0,
        "allocations splitting superpackets"
    );
    // Ten GENEVE datagrams per superpacket, one flow each: they leave together as one UDP
    // GSO frame (the write-side train), each datagram a whole segment with its own checksum
    // done — inside GENEVE nobody would complete it.
    let datagram = 68 - 28 + 40 + 1400;
    assert_eq!(sink.frames.len(), 19);
    for (_, len, head) in &sink.frames {
        assert_eq!((head[0], head[1]), (1, 5), "NEEDS_CSUM, GSO_UDP_L4");
        assert_eq!(u16::from_ne_bytes([head[4], head[5]]) as usize, datagram);
        let outer = &head[HDR..];
        assert_eq!(u16::from_be_bytes([outer[22], outer[23]]), 6081);
        assert_eq!(*len, HDR + 28 + 10 * datagram);
    }
    // Counted once each: the superpacket where it came in and up to the GWLB endpoint, its
    // segments from there on — not the superpacket's bytes twice.
    assert_eq!(f.attachments[igw as usize].counters.read().rx_packets, 20);
    let ge = f.gwlb_endpoints[0].counters.read();
    assert_eq!((ge.rx_packets, ge.tx_packets), (20, 200));
    let appliances: u64 = f
        .target_groups
        .iter()
        .flat_map(|tg| &tg.targets)
        .map(|t| t.counters.read().tx_packets)
        .sum();
    assert_eq!(appliances, 200);
    // The checksum of one whole segment, recomputed over its bytes, verifies.
    let fr = &frames[0];
    let mut b = Buffers::default();
    b.frame[..fr.len()].copy_from_slice(fr);
    struct Whole(Vec<Vec<u8>>);
    impl dataplane::io::worker::Output for Whole {
        fn send(&mut self, _: u32, _: Option<usize>, frame: &[u8]) -> std::io::Result<usize> {
            self.0.push(frame.to_vec());
            Ok(frame.len())
        }
        fn local(&mut self, _: &[u8], _: u32, _: dataplane::pipeline::LocalService) {}
    }
    let mut w = Whole(Vec::new());
    dataplane::io::worker::handle_frame(&f, &cx, igw, &mut b, fr.len(), &mut w);
    dataplane::io::worker::flush(&f, &cx, &mut b.work, &mut w);
    assert_eq!(w.0.len(), 1);
    let payload = &w.0[0][HDR + 28..];
    assert_eq!(payload.len(), 10 * datagram);
    for chunk in payload.chunks(datagram) {
        let inner = &chunk[40..];
        let tcp = &inner[20..];
        let pseudo = checksum::pseudo_v4(
            inner[12..16].try_into().unwrap(),
            inner[16..20].try_into().unwrap(),
            6,
            tcp.len() as u16,
        );
        assert_eq!(
            checksum::fold(checksum::sum(tcp) + pseudo),
            0xffff,
            "inner TCP checksum"
        );
    }
}

#[test]
fn udp_datagrams_of_a_flow_leave_as_one_train_in_order_without_allocating() {
    use dataplane::io::worker::{Buffers, HDR};
    let f = example_fabric("s3-endpoints.toml");
    let eni = f.attachment("eni-08c0b194dec370347").unwrap();
    let flows = dataplane::conntrack::FlowTable::new(1 << 16);
    let cx = ctx(&flows);
    let udp = |sport: u16, payload: &[u8]| {
        let mut fr = vec![0u8; HDR];
        fr.extend(
            packet(
                "10.0.0.176".parse().unwrap(),
                "52.216.39.26".parse().unwrap(),
                Transport::Udp {
                    src_port: sport,
                    dst_port: 9,
                    payload,
                },
            )
            .unwrap(),
        );
        fr
    };
    // 40 datagrams of one flow, one of another flow, 30 more of the first (the last short).
    let mut frames: Vec<Vec<u8>> = (0..40).map(|_| udp(5000, &[1u8; 18])).collect();
    frames.push(udp(6000, &[2u8; 18]));
    frames.extend((0..29).map(|_| udp(5000, &[3u8; 18])));
    frames.push(udp(5000, &[4u8; 5]));
    let mut bufs = Buffers::default();
    let mut sink = offload::Sink::new(None);
    COUNTING.with(|c| c.set(true));
    offload::run(&f, &cx, eni, &frames, &mut bufs, &mut sink);
    COUNTING.with(|c| c.set(false));
    assert_eq!(COUNT.with(|n| n.get()), 0, "allocations gathering trains");
    // Three frames, in order: a train of 40, the other flow alone, a train of 30.
    let got: Vec<(u8, u16, usize)> = sink
        .frames
        .iter()
        .map(|(_, len, h)| (h[1], u16::from_ne_bytes([h[4], h[5]]), *len))
        .collect();
    assert_eq!(
        got,
        vec![
            (5, 18, HDR + 28 + 40 * 18),
            (0, 0, HDR + 28 + 18),
            (5, 18, HDR + 28 + 29 * 18 + 5),
        ]
    );
    let s3 = f.attachment("com.amazonaws.us-east-1.s3").unwrap();
    assert_eq!(f.attachments[s3 as usize].counters.read().tx_packets, 71);
}
