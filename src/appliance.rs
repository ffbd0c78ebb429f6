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
//!
//! Batched: each wakeup takes what is queued (up to [`BATCH`] datagrams, the first waited for,
//! the rest read without blocking), each into the buffer its echo leaves from (no copy), and
//! the echoes leave together by `sendmmsg`; the receive buffer is raised so that bursts are
//! not dropped (a lossy appliance is what bounded TCP through the GWLB path).

use std::collections::HashSet;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};
use std::process::ExitCode;

use clap::Parser;
use dataplane::wire::{self, geneve::GenevePacket};
use rustix::net::RecvFlags;
use socket2::{Domain, Protocol, Socket, Type};

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

/// Datagrams taken per wakeup (the first waits, the rest are what is already queued) and
/// echoes sent per `sendmmsg`.
const BATCH: usize = 64;
/// Room for one echo: outer IPv4 and UDP headers, then the GENEVE datagram as received.
const SLOT: usize = 28 + 65_536;

/// A flow as the appliance logs it once: protocol, addresses, ports, the GWLB's cookie.
type FlowKey = (u8, std::net::IpAddr, u16, std::net::IpAddr, u16, u32);

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
    // Room for bursts: a full socket buffer drops datagrams, and TCP through the appliance
    // then runs over a lossy path. (Capped by net.core.rmem_max; best effort.)
    let _ = socket2::SockRef::from(&udp).set_recv_buffer_size(8 << 20);
    let raw = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(255)))?;
    raw.set_header_included_v4(true)?;
    let _ = raw.set_send_buffer_size(8 << 20);
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}:{}", args.listen, wire::geneve::PORT)?;
    out.flush()?;
    let mut seen: HashSet<FlowKey> = HashSet::new();
    // Each datagram is received where its echo will be sent from, behind room for the outer
    // headers: no copy.
    let mut slots: Vec<Vec<u8>> = (0..BATCH).map(|_| vec![0u8; SLOT]).collect();
    let mut batch: Vec<(usize, SocketAddrV4)> = Vec::with_capacity(BATCH);
    loop {
        batch.clear();
        while batch.len() < BATCH {
            let k = batch.len();
            let flags = if k == 0 {
                RecvFlags::empty()
            } else {
                RecvFlags::DONTWAIT
            };
            let (n, from) = match rustix::net::recvfrom(&udp, &mut slots[k][28..], flags) {
                Ok((_, n, Some(a))) => match SocketAddrV4::try_from(a) {
                    Ok(from) => (n, from),
                    Err(_) => continue,
                },
                Ok((_, _, None)) => continue,
                Err(rustix::io::Errno::AGAIN) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            if inspect(args, &mut out, &mut seen, &slots[k][28..28 + n], from)? {
                let outer = wire::geneve::Outer {
                    src: args.listen,
                    dst: *from.ip(),
                    src_port: from.port(),
                    dst_port: wire::geneve::PORT,
                };
                wire::geneve::write_outer_headers(&mut slots[k][..28 + n], 28 + n, outer);
                batch.push((28 + n, from));
            }
        }
        send_echoes(&raw, &slots, &batch, &mut out)?;
    }
}

/// Whether a GENEVE datagram from `from` is echoed: its inner packet parses and no
/// `--drop-tcp-port` rule drops it. Logs malformed packets, drops, and each new flow once.
fn inspect(
    args: &Args,
    out: &mut impl Write,
    seen: &mut HashSet<FlowKey>,
    datagram: &[u8],
    from: SocketAddrV4,
) -> std::io::Result<bool> {
    let Ok(g) = GenevePacket::new_checked(datagram) else {
        writeln!(out, "malformed geneve from {from}")?;
        return Ok(false);
    };
    let cookie = g.aws_options().cookie.unwrap_or(0);
    let Ok(p) = wire::parse(g.payload()) else {
        writeln!(out, "malformed inner packet from {from}")?;
        return Ok(false);
    };
    let dropped = p.protocol == wire::proto::TCP
        && (args.drop_tcp_ports.contains(&p.dst_port) || args.drop_tcp_ports.contains(&p.src_port));
    if dropped {
        writeln!(out, "drop {} cookie {cookie:#010x}", describe(&p))?;
        out.flush()?;
        return Ok(false);
    }
    if seen.len() >= SEEN_MAX {
        // Bounded: a flow seen before may be logged again, memory may not grow.
        seen.clear();
    }
    if seen.insert((p.protocol, p.src, p.src_port, p.dst, p.dst_port, cookie)) {
        writeln!(out, "pass {} cookie {cookie:#010x}", describe(&p))?;
        out.flush()?;
    }
    Ok(true)
}

/// Sends the echoes of `batch` (length and GWLB node of each, in `slots`) through the raw
/// socket, as few `sendmmsg` calls as it takes; a failed send is logged and the rest go on.
fn send_echoes(
    raw: &Socket,
    slots: &[Vec<u8>],
    batch: &[(usize, SocketAddrV4)],
    out: &mut impl Write,
) -> std::io::Result<()> {
    use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags, SocketAddrAny};
    let addrs: Vec<_> = batch
        .iter()
        .map(|(_, to)| SocketAddrAny::from(SocketAddrV4::new(*to.ip(), 0)))
        .collect();
    let iovs: Vec<[std::io::IoSlice<'_>; 1]> = batch
        .iter()
        .zip(slots)
        .map(|((len, _), slot)| [std::io::IoSlice::new(&slot[..*len])])
        .collect();
    let mut controls: Vec<SendAncillaryBuffer<'_, '_, '_>> = batch
        .iter()
        .map(|_| SendAncillaryBuffer::default())
        .collect();
    let mut msgs: Vec<MMsgHdr<'_>> = addrs
        .iter()
        .zip(&iovs)
        .zip(controls.iter_mut())
        .map(|((a, iov), c)| MMsgHdr::new_with_addr(a, iov, c))
        .collect();
    let mut at = 0;
    while at < msgs.len() {
        match rustix::net::sendmmsg(raw, &mut msgs[at..], SendFlags::empty()) {
            Ok(0) => break,
            Ok(n) => at += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                // The first of the rest failed: say so, skip it, send the others.
                writeln!(out, "send to {} failed: {e}", batch[at].1)?;
                at += 1;
            }
        }
    }
    Ok(())
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
