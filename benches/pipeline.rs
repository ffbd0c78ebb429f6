//! The pipeline's cost per packet in memory, no TUN, one core: the seed 000 deployment,
//! packets on the gateway-endpoint path, the internet-gateway path (with its address
//! translation) and a drop. The baseline in the same run is `wire::parse` alone — the part of
//! the cost that any forwarder pays to look at a packet.
//!
//! Then the Gateway Load Balancer path ([`gwlb`]).
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
    let loaded = control::load_file(&path).unwrap();
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
        offload: dataplane::pipeline::Offload::NONE,
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

    // The gateway-endpoint path again, the instance's subnet now behind a network ACL whose
    // matching outbound rule is the tenth (nine denies for other networks first): the
    // difference to `gateway_endpoint` is one NACL crossing (issue 22: at most 15 ns).
    let mut rules = String::new();
    for k in 1..10 {
        rules += &format!(
            "  {{ rule = {k}0, action = \"deny\", protocol = \"tcp\", ports = \"0-65535\", cidr = \"198.51.{k}.0/24\" }},\n"
        );
    }
    rules += "  { rule = 100, action = \"allow\", protocol = \"all\", cidr = \"0.0.0.0/0\" },\n";
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "[[security_groups]]\nid = \"sg-0a00000000000ec21\"",
        &format!("[[network_acls]]\nid = \"acl-0a000000000000001\"\nvpc = \"vpc-09efc2534d3f29483\"\nsubnets = [\"subnet-0a0000000000000a1\"]\ningress = [\n{rules}]\negress = [\n{rules}]\n\n[[security_groups]]\nid = \"sg-0a00000000000ec21\""),
    );
    let loaded = control::load_str("acl.toml", text, path.parent().unwrap()).unwrap();
    let acl = Fabric::build(
        control::compile(&loaded).unwrap().snapshot,
        Arc::new(Registry::default()),
    )
    .unwrap();
    let (_, gw) = &cases[0];
    let mut buf = gw.clone();
    assert!(matches!(
        process(&acl, &cx, eni, &mut buf, &mut NoObserver),
        dataplane::pipeline::Verdict::Forward { .. }
    ));
    g.bench_function("gateway_endpoint_nacl_10th_rule", |b| {
        b.iter(|| {
            black_box(process(
                &acl,
                &cx,
                eni,
                black_box(&mut buf),
                &mut NoObserver,
            ))
        })
    });

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
    transit(c, &payload);
    gwlb(c, &payload);
}

/// Two VPCs joined by a VPC peering connection, and the same two joined by a transit gateway
/// (one route table, both attachments associated and propagating): an established flow's
/// 1,400-byte segment from one instance to the other. The difference is the transit gateway
/// hop (issue 22: at most one LPM lookup plus 10 ns).
fn transit(c: &mut Criterion, payload: &[u8]) {
    let vpcs = r#"region = "us-east-1"
[[vpcs]]
id = "vpc-a"
cidr_blocks = ["10.0.0.0/16"]
[[vpcs]]
id = "vpc-b"
cidr_blocks = ["10.1.0.0/16"]
[[subnets]]
id = "subnet-a"
vpc = "vpc-a"
availability_zone = "us-east-1a"
cidr = "10.0.1.0/24"
[[subnets]]
id = "subnet-b"
vpc = "vpc-b"
availability_zone = "us-east-1a"
cidr = "10.1.1.0/24"
[[instances]]
id = "i-a"
subnet = "subnet-a"
private_ip = "10.0.1.10"
[[instances]]
id = "i-b"
subnet = "subnet-b"
private_ip = "10.1.1.10"
"#;
    let peering = format!(
        "{vpcs}[[peering_connections]]\nid = \"pcx-ab\"\nrequester_vpc = \"vpc-a\"\naccepter_vpc = \"vpc-b\"\n[[route_tables]]\nid = \"rtb-a\"\nvpc = \"vpc-a\"\nmain = true\nroutes = [{{ destination = \"10.1.0.0/16\", target = \"pcx-ab\" }}]\n[[route_tables]]\nid = \"rtb-b\"\nvpc = \"vpc-b\"\nmain = true\nroutes = [{{ destination = \"10.0.0.0/16\", target = \"pcx-ab\" }}]\n"
    );
    let tgw = format!(
        "{vpcs}[[route_tables]]\nid = \"rtb-a\"\nvpc = \"vpc-a\"\nmain = true\nroutes = [{{ destination = \"10.1.0.0/16\", target = \"tgw-1\" }}]\n[[route_tables]]\nid = \"rtb-b\"\nvpc = \"vpc-b\"\nmain = true\nroutes = [{{ destination = \"10.0.0.0/16\", target = \"tgw-1\" }}]\n[[transit_gateways]]\nid = \"tgw-1\"\n[[transit_gateway_route_tables]]\nid = \"tgw-rtb-1\"\ntransit_gateway = \"tgw-1\"\n[[transit_gateway_attachments]]\nid = \"tgw-attach-a\"\ntransit_gateway = \"tgw-1\"\ntype = \"vpc\"\nvpc = \"vpc-a\"\nsubnets = [\"subnet-a\"]\nassociation = \"tgw-rtb-1\"\npropagations = [\"tgw-rtb-1\"]\n[[transit_gateway_attachments]]\nid = \"tgw-attach-b\"\ntransit_gateway = \"tgw-1\"\ntype = \"vpc\"\nvpc = \"vpc-b\"\nsubnets = [\"subnet-b\"]\nassociation = \"tgw-rtb-1\"\npropagations = [\"tgw-rtb-1\"]\n"
    );
    let fabric = |text: String| {
        let loaded = control::load_str("t.toml", text, Path::new(".")).unwrap();
        Fabric::build(
            control::compile(&loaded).unwrap().snapshot,
            Arc::new(Registry::default()),
        )
        .unwrap()
    };
    let flows = FlowTable::new(1 << 16);
    let cx = Ctx {
        lane: 0,
        now: 0,
        flows: &flows,
        offload: dataplane::pipeline::Offload::NONE,
    };
    let seg = |flags| {
        build::packet(
            "10.0.1.10".parse().unwrap(),
            "10.1.1.10".parse().unwrap(),
            build::Transport::Tcp {
                src_port: 40000,
                dst_port: 80,
                flags,
                payload,
            },
        )
        .unwrap()
    };
    let mut g = c.benchmark_group("pipeline_per_packet");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(4));
    let t = fabric(tgw);
    let table = &t.snapshot.transit.tables[0];
    let dst: std::net::IpAddr = "10.1.1.10".parse().unwrap();
    g.bench_function("one_route_lpm_lookup", |b| {
        b.iter(|| black_box(table.lookup_index(black_box(dst))))
    });
    for (name, f) in [("vpc_peering", fabric(peering)), ("transit_gateway", t)] {
        let a = f.attachment("eni-a").unwrap();
        let mut syn = seg(0x02);
        assert!(matches!(
            process(&f, &cx, a, &mut syn, &mut NoObserver),
            dataplane::pipeline::Verdict::Forward { .. }
        ));
        let mut ack = seg(0x10);
        g.bench_function(format!("{name}_established"), |b| {
            b.iter(|| black_box(process(&f, &cx, a, black_box(&mut ack), &mut NoObserver)))
        });
    }
    g.finish();
}

/// The GWLB path of seed 001 (`examples/gwlb-inspection.toml`), an established flow of
/// 1,400-byte packets from the internet to the web server:
///
/// * `gwlb_core_round_trip` — what the issue's 120 ns target names: the stickiness lookup in
///   the endpoint's zone, GENEVE encapsulation (the 1,400 bytes move 68 on), and on the way
///   back the GENEVE header check with AWS's options, the inner packet's parse, the flow and
///   cookie check (a second lookup) and the move back;
/// * `gwlb_pipeline_round_trip` — everything the dataplane does for it: the IGW's translation,
///   the edge route, the above, routing in both VPCs, three security-group checks (tracked),
///   the appliance's echo in between (four bytes swapped);
/// * `baseline_copy_1400` — restoring the packet each iteration, which both include.
fn gwlb(c: &mut Criterion, payload: &[u8]) {
    use dataplane::conntrack::{Steer, Tuple};
    use dataplane::pipeline::{process_in, Verdict};
    use dataplane::wire::geneve;

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gwlb-inspection.toml");
    let loaded = control::load_file(path).unwrap();
    let f = Fabric::build(
        control::compile(&loaded).unwrap().snapshot,
        Arc::new(Registry::default()),
    )
    .unwrap();
    let igw = f.attachment("igw-0c000000000000001").unwrap();
    let ip = |s: &str| -> std::net::IpAddr { s.parse().unwrap() };
    let pkt = build::packet(
        ip("198.51.100.7"),
        ip("203.0.113.10"),
        build::Transport::Tcp {
            src_port: 40000,
            dst_port: 80,
            flags: 0x10,
            payload,
        },
    )
    .unwrap();
    let n = pkt.len();
    let flows = FlowTable::new(1 << 16);
    let cx = Ctx {
        lane: 0,
        now: 0,
        flows: &flows,
        offload: dataplane::pipeline::Offload::NONE,
    };
    let mut buf = vec![0u8; n + 256];
    let mut g = c.benchmark_group("gwlb_per_packet");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("baseline_copy_1400", |b| {
        b.iter(|| {
            buf[..n].copy_from_slice(black_box(&pkt));
            black_box(&buf);
        })
    });

    // The core, on public pieces of the pipeline.
    let zone = 0x6a0b_1e5e;
    let t = Tuple {
        proto: 6,
        src: ip("198.51.100.7"),
        dst: ip("10.0.1.10"),
        sport: 40000,
        dport: 80,
    };
    let steer = Steer {
        appliance: ip("10.100.0.11"),
        target: 0,
        cookie: 0xdead_beef,
        tcp_idle: 350,
    };
    flows
        .insert_steered(zone, &t, steer, Default::default(), 0)
        .unwrap();
    let outer = geneve::Outer {
        src: std::net::Ipv4Addr::new(10, 100, 0, 50),
        dst: std::net::Ipv4Addr::new(10, 100, 0, 11),
        src_port: 50000,
        dst_port: geneve::PORT,
    };
    g.bench_function("gwlb_core_round_trip", |b| {
        b.iter(|| {
            buf[..n].copy_from_slice(&pkt);
            let s = flows
                .lookup(zone, black_box(&t), Default::default(), 0)
                .unwrap()
                .steer
                .unwrap();
            let len = geneve::encapsulate(&mut buf, n, outer, (1, 2, s.cookie)).unwrap();
            let gp = geneve::GenevePacket::new_checked(&buf[28..len]).unwrap();
            let cookie = gp.aws_options().cookie;
            let inner = wire::parse(gp.payload()).unwrap();
            let back = flows
                .lookup(zone, &t, Default::default(), 0)
                .unwrap()
                .steer
                .unwrap();
            assert!(cookie == Some(back.cookie) && inner.len == n);
            buf.copy_within(geneve::OVERHEAD..geneve::OVERHEAD + n, 0);
            black_box(&buf);
        })
    });

    // The whole pipeline, both passes.
    let appliance_of = |egress: u32| egress;
    buf[..n].copy_from_slice(&pkt);
    let Verdict::Forward { egress, .. } = process_in(&f, &cx, igw, &mut buf, n, &mut NoObserver)
    else {
        panic!("not to an appliance")
    };
    let appliance = appliance_of(egress);
    g.bench_function("gwlb_pipeline_round_trip", |b| {
        b.iter(|| {
            buf[..n].copy_from_slice(&pkt);
            let Verdict::Forward { len, .. } =
                process_in(&f, &cx, igw, black_box(&mut buf), n, &mut NoObserver)
            else {
                unreachable!()
            };
            // The appliance: outer addresses swapped.
            let mut a = [0u8; 4];
            a.copy_from_slice(&buf[12..16]);
            buf.copy_within(16..20, 12);
            buf[16..20].copy_from_slice(&a);
            let v = process_in(&f, &cx, appliance, &mut buf, len, &mut NoObserver);
            debug_assert!(matches!(v, Verdict::Forward { .. }));
            black_box(v)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
