//! `vpce-appliance`: a security appliance for the lab, behind a Gateway Load Balancer.
//!
//! It does what AWS asks of a GWLB target: it receives GENEVE on UDP 6081, looks at the
//! inner packet, and returns it — outer addresses swapped, ports kept, the GENEVE header
//! (AWS's options, the flow cookie among them) echoed byte for byte — or drops it. It answers
//! TCP health checks on a port of its own (80 by default). Each new flow it passes and every
//! packet it drops is logged on stdout (`pass tcp 198.51.100.7:40000 -> 10.0.1.10:80 cookie
//! 0x…`), so tests and the demo can tell which appliance carried which flow.
//!
//! # Why not the kernel's GENEVE device
//!
//! Linux's `geneve external` device (collect-metadata mode, with `innerprotoinherit` for the
//! GWLB's Ethernet-less packets) decapsulates, but what it received — the options, the
//! cookie — is only metadata on the packet. tc's `tunnel_key` action can set *fixed* options
//! on the way back, not the ones each flow came with; echoing a per-flow cookie takes an
//! eBPF program (`bpf_skb_get_tunnel_opt` / `bpf_skb_set_tunnel_opt`), and building one
//! needs clang and libbpf on every machine that runs the tests. A program that echoes the
//! header from a socket is exact, small, and needs nothing else.
//!
//! Sockets: a UDP socket bound to port 6081 takes the GENEVE payloads (and keeps the kernel
//! from answering with ICMP port unreachable); the echo leaves through a raw socket with our
//! own IPv4 and UDP headers, which is how the source port is kept (a UDP socket would send
//! from 6081).

use std::collections::HashSet;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, UdpSocket};
use std::process::ExitCode;

use clap::Parser;
use dataplane::wire::{self, geneve::GenevePacket};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Flows remembered as logged ("pass" once per flow and cookie), at most.
const SEEN_MAX: usize = 65_536;

/// A lab security appliance for a Gateway Load Balancer: echoes GENEVE, drops what it is told.
#[derive(Parser, Debug)]
#[command(name = "vpce-appliance", version)]
struct Args {
    /// The appliance's address (its ENI's private address).
    #[arg(long)]
    listen: Ipv4Addr,
    /// Drop TCP segments to or from this port (repeatable): inspection, e.g. telnet's 23.
    #[arg(long = "drop-tcp-port", value_name = "PORT")]
    drop_tcp_ports: Vec<u16>,
    /// Port the health checks connect to (TCP).
    #[arg(long, default_value_t = 80)]
    health_port: u16,
}

/// The command-line definition (for man pages).
pub fn command() -> clap::Command {
    <Args as clap::CommandFactory>::command()
}

pub fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vpce-appliance: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &Args) -> std::io::Result<()> {
    let health =
        TcpListener::bind(SocketAddrV4::new(args.listen, args.health_port)).map_err(|e| {
            std::io::Error::new(e.kind(), format!("health port {}: {e}", args.health_port))
        })?;
    std::thread::spawn(move || {
        // Accept and close: a TCP health check only needs the handshake.
        for c in health.incoming() {
            drop(c);
        }
    });
    let udp = UdpSocket::bind(SocketAddrV4::new(args.listen, wire::geneve::PORT))?;
    let raw = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(255)))?;
    raw.set_header_included_v4(true)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}:{}", args.listen, wire::geneve::PORT)?;
    out.flush()?;
    let mut seen: HashSet<(String, u32)> = HashSet::new();
    let mut buf = vec![0u8; 65536];
    let mut reply = vec![0u8; 65536];
    loop {
        let (n, from) = udp.recv_from(&mut buf)?;
        let SocketAddr::V4(from) = from else { continue };
        let Ok(g) = GenevePacket::new_checked(&buf[..n]) else {
            writeln!(out, "malformed geneve from {from}")?;
            continue;
        };
        let cookie = g.aws_options().cookie.unwrap_or(0);
        let inner = g.payload();
        let Ok(p) = wire::parse(inner) else {
            writeln!(out, "malformed inner packet from {from}")?;
            continue;
        };
        let flow = describe(&p);
        let dropped = p.protocol == wire::proto::TCP
            && (args.drop_tcp_ports.contains(&p.dst_port)
                || args.drop_tcp_ports.contains(&p.src_port));
        if dropped {
            writeln!(out, "drop {flow} cookie {cookie:#010x}")?;
            out.flush()?;
            continue;
        }
        if seen.len() >= SEEN_MAX {
            // Bounded: a flow seen before may be logged again, memory may not grow.
            seen.clear();
        }
        if seen.insert((flow.clone(), cookie)) {
            writeln!(out, "pass {flow} cookie {cookie:#010x}")?;
            out.flush()?;
        }
        // The echo: IPv4 (us -> the GWLB node), UDP with the ports as received, the GENEVE
        // packet unchanged.
        let total = 28 + n;
        let r = &mut reply[..total];
        let outer = wire::geneve::Outer {
            src: args.listen,
            dst: *from.ip(),
            src_port: from.port(),
            dst_port: wire::geneve::PORT,
        };
        wire::geneve::write_outer_headers(r, total, outer);
        r[28..].copy_from_slice(&buf[..n]);
        let to = SockAddr::from(SocketAddrV4::new(*from.ip(), 0));
        if let Err(e) = raw.send_to(r, &to) {
            writeln!(out, "send to {from} failed: {e}")?;
        }
    }
}

fn describe(p: &wire::Parsed) -> String {
    match p.protocol {
        wire::proto::TCP => format!("tcp {}:{} -> {}:{}", p.src, p.src_port, p.dst, p.dst_port),
        wire::proto::UDP => format!("udp {}:{} -> {}:{}", p.src, p.src_port, p.dst, p.dst_port),
        wire::proto::ICMP | wire::proto::ICMPV6 => {
            format!("icmp {} -> {} id {}", p.src, p.dst, p.src_port)
        }
        n => format!("proto {n} {} -> {}", p.src, p.dst),
    }
}
