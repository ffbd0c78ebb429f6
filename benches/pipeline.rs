//! The pipeline's cost per packet in memory, no TUN, one core: the seed 000 deployment,
//! packets on the gateway-endpoint path, the internet-gateway path (with its address
//! translation) and a drop. The baseline in the same run is `wire::parse` alone — the part of
//! the cost that any forwarder pays to look at a packet.
//!
//!     cargo bench --bench pipeline

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dataplane::conntrack::FlowTable;
use dataplane::fabric::Fabric;
use dataplane::pipeline::{process, Ctx, NoObserver};
use dataplane::stats::Registry;
use dataplane::wire::{self, build};

fn bench(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/s3-endpoints.toml");
    let loaded = control::load_file(path).unwrap();
    let f = Fabric::build(
        control::compile(&loaded).unwrap().snapshot,
        Arc::new(Registry::default()),
    )
    .unwrap();
    let eni = f.attachment("eni-08c0b194dec370347").unwrap();
    let ip = |s: &str| s.parse().unwrap();
    let payload = [0u8; 1400 - 40];
    let tcp = |dst: &str| {
        build::packet(
            ip("10.0.0.176"),
            ip(dst),
            build::Transport::Tcp {
                src_port: 40000,
                dst_port: 443,
                flags: 0x10,
                payload: &payload,
            },
        )
        .unwrap()
    };
    let cases = [
        ("gateway_endpoint", tcp("52.216.39.26")),
        ("internet_gateway_nat", tcp("8.8.8.8")),
        ("blackhole_drop", tcp("192.0.2.1")),
    ];

    let flows = FlowTable::new(1 << 16);
    let cx = Ctx {
        lane: 0,
        now: 0,
        flows: &flows,
    };
    let mut g = c.benchmark_group("pipeline_per_packet");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(4));
    let (_, gw) = &cases[0];
    g.bench_function("baseline_parse_only", |b| {
        b.iter(|| black_box(wire::parse(black_box(gw)).unwrap()))
    });
    for (name, pkt) in &cases {
        let mut buf = pkt.clone();
        g.bench_function(*name, |b| {
            b.iter(|| {
                // The internet path rewrites the source; restore the 4 bytes it changes so that
                // every iteration sees the same packet.
                buf[12..16].copy_from_slice(&pkt[12..16]);
                buf[10..12].copy_from_slice(&pkt[10..12]);
                buf[36..38].copy_from_slice(&pkt[36..38]);
                black_box(process(&f, &cx, eni, black_box(&mut buf), &mut NoObserver))
            })
        });
    }

    // The interface-endpoint path of seed 004 (fixed: no NLB group enforcement, cross-zone
    // on), an established flow: endpoint zone lookup, translation of both addresses and
    // ports, route in the provider VPC, the target's security group (tracked), and back.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/privatelink-hands-on.toml"),
    )
    .unwrap()
    .replace(
        "enforce_security_group_inbound_rules_on_private_link_traffic = true",
        "enforce_security_group_inbound_rules_on_private_link_traffic = false",
    )
    .replace("cross_zone = false", "cross_zone = true");
    let loaded = control::load_str(
        "privatelink.toml",
        text,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
    )
    .unwrap();
    let pl = Fabric::build(
        control::compile(&loaded).unwrap().snapshot,
        Arc::new(Registry::default()),
    )
    .unwrap();
    let a = pl.attachment("eni-0a00000000000000a").unwrap();
    let b = pl.attachment("eni-0b00000000000000b").unwrap();
    let seg = |src: &str, sport, dst: &str, dport, flags| {
        build::packet(
            ip(src),
            ip(dst),
            build::Transport::Tcp {
                src_port: sport,
                dst_port: dport,
                flags,
                payload: &payload,
            },
        )
        .unwrap()
    };
    let mut syn = seg("10.0.128.10", 40000, "10.0.128.100", 80, 0x02);
    assert!(matches!(
        process(&pl, &cx, a, &mut syn, &mut NoObserver),
        dataplane::pipeline::Verdict::Forward { .. }
    ));
    let nat_port = wire::parse(&syn).unwrap().src_port;
    let fwd = seg("10.0.128.10", 40000, "10.0.128.100", 80, 0x10);
    let back = seg("10.1.144.10", 80, "10.1.128.50", nat_port, 0x10);
    for (name, pkt, from) in [
        ("interface_endpoint_established_forward", &fwd, a),
        ("interface_endpoint_established_reply", &back, b),
    ] {
        let mut buf = pkt.clone();
        g.bench_function(name, |bch| {
            bch.iter(|| {
                // Both addresses, both ports and the checksums change: restore the headers.
                buf[..40].copy_from_slice(&pkt[..40]);
                let v = process(&pl, &cx, from, black_box(&mut buf), &mut NoObserver);
                debug_assert!(matches!(v, dataplane::pipeline::Verdict::Forward { .. }));
                black_box(v)
            })
        });
    }
    let t = dataplane::conntrack::Tuple {
        proto: 6,
        src: ip("10.0.128.10"),
        dst: ip("10.0.128.100"),
        sport: 40000,
        dport: 80,
    };
    g.bench_function("conntrack_lookup_miss", |bch| {
        bch.iter(|| {
            black_box(flows.lookup(black_box(0x1234), black_box(&t), Default::default(), 0))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
