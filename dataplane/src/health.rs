//! Target health: the state the pipeline reads to pick targets, and the book that keeps it
//! across reloads.
//!
//! A target's health is one atomic byte ([`TargetHealth`]), written by the health checker and
//! read by every worker with a relaxed load: a worker that sees a change one packet late is
//! harmless. The [`HealthBook`] maps (target group, address, port) to the cell, so that a
//! fabric built for a new configuration finds the same cells — a reload does not reset health.
//!
//! States follow AWS: `initial` until the first checks conclude, then `healthy` or
//! `unhealthy` — reported as `unhealthy.draining` while a group that keeps connections
//! drains them ([`TargetHealth::unhealthy_for`]). vpced sends traffic to `initial` and
//! `healthy` targets (AWS waits for `healthy`; with no history to wait for, a lab would
//! otherwise drop its first seconds); when none may take a flow the group fails open, as AWS
//! does (`pipeline::load_balancer`).
//!
//! A process-wide count of unhealthy targets ([`any_unhealthy`]) lets the pipeline skip the
//! question "is this established flow's target unhealthy?" with one relaxed load while every
//! target is well.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    Initial,
    Healthy,
    Unhealthy,
    /// Reported only (a cell holds `Unhealthy`): no new flows, existing connections kept
    /// for the group's draining interval (AWS's `unhealthy.draining`).
    #[serde(rename = "unhealthy.draining")]
    UnhealthyDraining,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Initial => "initial",
            HealthState::Healthy => "healthy",
            HealthState::Unhealthy => "unhealthy",
            HealthState::UnhealthyDraining => "unhealthy.draining",
        }
    }
}

/// Targets that are unhealthy now, in every fabric of the process.
static UNHEALTHY: AtomicUsize = AtomicUsize::new(0);

/// Whether any target anywhere is unhealthy: when not, no established flow needs its
/// target's health looked at.
#[inline]
pub fn any_unhealthy() -> bool {
    UNHEALTHY.load(Relaxed) != 0
}

/// One target's health, shared by the checker and the workers.
#[derive(Debug, Default)]
pub struct TargetHealth {
    state: AtomicU8,
    /// Consecutive results that agree with each other (for thresholds).
    streak: AtomicU32,
    /// The pipeline clock (seconds) when the target last turned unhealthy.
    since: AtomicU32,
}

impl Drop for TargetHealth {
    fn drop(&mut self) {
        if self.state.load(Relaxed) == 2 {
            UNHEALTHY.fetch_sub(1, Relaxed);
        }
    }
}

impl TargetHealth {
    #[inline]
    pub fn state(&self) -> HealthState {
        match self.state.load(Relaxed) {
            1 => HealthState::Healthy,
            2 => HealthState::Unhealthy,
            _ => HealthState::Initial,
        }
    }

    /// Whether the load balancer may send new flows to this target.
    #[inline]
    pub fn eligible(&self) -> bool {
        self.state.load(Relaxed) != 2
    }

    /// Sets the state (at clock `now`, for a target turning unhealthy).
    pub fn set_at(&self, s: HealthState, now: u32) {
        let v = match s {
            HealthState::Initial => 0,
            HealthState::Healthy => 1,
            HealthState::Unhealthy | HealthState::UnhealthyDraining => 2,
        };
        let old = self.state.swap(v, Relaxed);
        match (old == 2, v == 2) {
            (false, true) => {
                self.since.store(now, Relaxed);
                UNHEALTHY.fetch_add(1, Relaxed);
            }
            (true, false) => {
                UNHEALTHY.fetch_sub(1, Relaxed);
            }
            _ => {}
        }
    }

    pub fn set(&self, s: HealthState) {
        self.set_at(s, 0);
    }

    /// How long (seconds of the pipeline clock) the target has been unhealthy at `now`;
    /// `None` when it is not.
    #[inline]
    pub fn unhealthy_for(&self, now: u32) -> Option<u32> {
        (self.state.load(Relaxed) == 2).then(|| now.saturating_sub(self.since.load(Relaxed)))
    }

    /// Records one probe result at clock `now`; the state changes after `healthy`
    /// consecutive successes or `unhealthy` consecutive failures. Returns the state after.
    pub fn record_at(&self, ok: bool, healthy: u8, unhealthy: u8, now: u32) -> HealthState {
        // The streak counts successes as positive, failures as negative.
        let s = self.streak.load(Relaxed) as i32;
        let s = if ok { s.max(0) + 1 } else { s.min(0) - 1 };
        self.streak.store(s as u32, Relaxed);
        if ok && s >= i32::from(healthy) {
            self.set_at(HealthState::Healthy, now);
        } else if !ok && -s >= i32::from(unhealthy) {
            self.set_at(HealthState::Unhealthy, now);
        }
        self.state()
    }

    /// [`Self::record_at`] at clock 0 (tests, and where no draining is asked).
    pub fn record(&self, ok: bool, healthy: u8, unhealthy: u8) -> HealthState {
        self.record_at(ok, healthy, unhealthy, 0)
    }
}

/// Key of a target: target group id, address, port.
pub type TargetKey = (String, IpAddr, u16);

/// Every target's health cell, by key; outlives fabrics.
#[derive(Debug, Default)]
pub struct HealthBook {
    cells: Mutex<BTreeMap<TargetKey, Arc<TargetHealth>>>,
}

impl HealthBook {
    /// The cell of a target, created (`initial`) on first use.
    pub fn cell(&self, tg: &str, ip: IpAddr, port: u16) -> Arc<TargetHealth> {
        let mut m = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        m.entry((tg.to_string(), ip, port)).or_default().clone()
    }

    /// Every known target and its state.
    pub fn states(&self) -> Vec<(TargetKey, HealthState)> {
        let m = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        m.iter().map(|(k, c)| (k.clone(), c.state())).collect()
    }
}

/// What a probe checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeKind {
    /// A TCP handshake: SYN answered by SYN-ACK.
    Tcp,
    /// An HTTP `GET` of the path after the handshake; a status 200–399 is healthy.
    Http(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    SynSent,
    RequestSent,
    /// The status line came: the result is known; the rest of the response is acknowledged
    /// until the server closes, so that it never writes into a reset connection.
    Responded(bool),
}

/// One health probe from a load-balancer node to a target, as a pure state machine over
/// packets: [`Probe::start`] gives the SYN, [`Probe::on_packet`] takes each packet the target
/// sends back and says what to send and whether the probe is over. No socket: the daemon
/// routes what it returns through the pipeline (so the target's security groups apply, as for
/// AWS health checks) and feeds it what the pipeline hands to vpced.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The node's address of the target's family (IPv6 for an IPv6 target group's targets).
    pub from: IpAddr,
    pub sport: u16,
    pub to: IpAddr,
    pub dport: u16,
    kind: ProbeKind,
    isn: u32,
    phase: Phase,
    /// The target group speaks PROXY protocol v2: an HTTP probe opens with a LOCAL header
    /// (no client information), as AWS's health checks do.
    proxy_local: bool,
}

/// What to do after a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeStep {
    /// Not for this probe, or nothing to do yet.
    Wait,
    /// Send these packets and keep waiting.
    Send(Vec<Vec<u8>>),
    /// Over: the result, and packets to send (a RST that ends the connection).
    Done { healthy: bool, send: Vec<Vec<u8>> },
}

impl Probe {
    pub fn new(
        from: IpAddr,
        sport: u16,
        to: IpAddr,
        dport: u16,
        kind: ProbeKind,
        isn: u32,
    ) -> Probe {
        Probe {
            from,
            sport,
            to,
            dport,
            kind,
            isn,
            phase: Phase::SynSent,
            proxy_local: false,
        }
    }

    /// Opens HTTP probes with a PROXY protocol v2 LOCAL header.
    pub fn with_proxy_local(mut self) -> Probe {
        self.proxy_local = true;
        self
    }

    fn segment(&self, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        crate::wire::build::packet(
            self.from,
            self.to,
            crate::wire::build::Transport::TcpSegment {
                src_port: self.sport,
                dst_port: self.dport,
                seq,
                ack,
                flags,
                payload,
            },
        )
        .expect("a node address of the target's family")
    }

    /// The result known so far (an HTTP status line arrived), for a probe that times out
    /// before the server closes.
    pub fn result(&self) -> Option<bool> {
        match self.phase {
            Phase::Responded(h) => Some(h),
            _ => None,
        }
    }

    /// The SYN that opens the probe.
    pub fn start(&self) -> Vec<u8> {
        self.segment(self.isn, 0, crate::wire::tcp_flags::SYN, &[])
    }

    fn request(&self) -> Vec<u8> {
        // Signature, version 2 + LOCAL, family UNSPEC, no address block.
        const LOCAL: [u8; 16] = [
            0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x20, 0x00,
            0x00, 0x00,
        ];
        let prefix: &[u8] = if self.proxy_local { &LOCAL } else { &[] };
        match &self.kind {
            ProbeKind::Http(path) => [prefix, format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: ELB-HealthChecker/2.0\r\nConnection: close\r\n\r\n",
                match self.to {
                    IpAddr::V6(a) => format!("[{a}]"),
                    a => a.to_string(),
                }
            )
            .as_bytes()]
            .concat(),
            ProbeKind::Tcp => Vec::new(),
        }
    }

    /// Takes a packet vpced received (possibly cut after its first bytes; `len` is its full
    /// length).
    pub fn on_packet(&mut self, bytes: &[u8]) -> ProbeStep {
        use crate::wire::tcp_flags::{ACK, PSH, RST, SYN};
        // The packet may have been cut: the header fields are read from what was kept.
        let Some(ip) = crate::wire::head(bytes) else {
            return ProbeStep::Wait;
        };
        if ip.src != self.to || ip.dst != self.from || ip.protocol != 6 {
            return ProbeStep::Wait;
        }
        let hl = ip.l4;
        let Some(tcp) = bytes.get(hl..) else {
            return ProbeStep::Wait;
        };
        if tcp.len() < 20 {
            return ProbeStep::Wait;
        }
        let t = crate::wire::TcpPacket::new_unchecked(tcp);
        if t.src_port() != self.dport || t.dst_port() != self.sport {
            return ProbeStep::Wait;
        }
        let flags = t.flags();
        if flags & RST != 0 {
            return ProbeStep::Done {
                healthy: false,
                send: Vec::new(),
            };
        }
        match self.phase {
            Phase::SynSent if flags & (SYN | ACK) == SYN | ACK => {
                let their = t.seq_number().wrapping_add(1);
                match self.kind {
                    ProbeKind::Tcp => ProbeStep::Done {
                        healthy: true,
                        send: vec![self.segment(self.isn.wrapping_add(1), 0, RST, &[])],
                    },
                    ProbeKind::Http(_) => {
                        self.phase = Phase::RequestSent;
                        let req = self.request();
                        ProbeStep::Send(vec![self.segment(
                            self.isn.wrapping_add(1),
                            their,
                            ACK | PSH,
                            &req,
                        )])
                    }
                }
            }
            Phase::RequestSent | Phase::Responded(_) => {
                use crate::wire::tcp_flags::FIN;
                let off = t.header_len().min(tcp.len());
                // The packet may have been cut; its length is in the IP header.
                let data_len = ip.total_len.saturating_sub(hl + t.header_len()) as u32;
                let healthy = match self.phase {
                    Phase::Responded(h) => h,
                    _ if data_len == 0 => return ProbeStep::Wait,
                    _ => http_status(&tcp[off..]).is_some_and(|c| (200..400).contains(&c)),
                };
                self.phase = Phase::Responded(healthy);
                let seq = self.isn.wrapping_add(1 + self.request().len() as u32);
                let fin = flags & FIN != 0;
                let ack = t
                    .seq_number()
                    .wrapping_add(data_len)
                    .wrapping_add(u32::from(fin));
                if fin {
                    // The server is done: end our side without leaving a half-open socket.
                    return ProbeStep::Done {
                        healthy,
                        send: vec![self.segment(seq, ack, RST | ACK, &[])],
                    };
                }
                ProbeStep::Send(vec![self.segment(seq, ack, ACK, &[])])
            }
            _ => ProbeStep::Wait,
        }
    }
}

/// The status code of an HTTP/1.x response's first line.
fn http_status(data: &[u8]) -> Option<u16> {
    let line = data.split(|b| *b == b'\r' || *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        let h = TargetHealth::default();
        assert_eq!(h.state(), HealthState::Initial);
        assert!(h.eligible());
        assert_eq!(h.record(true, 2, 3), HealthState::Initial);
        assert_eq!(h.record(true, 2, 3), HealthState::Healthy);
        assert_eq!(h.record(false, 2, 3), HealthState::Healthy);
        assert_eq!(h.record(false, 2, 3), HealthState::Healthy);
        assert_eq!(
            h.record(true, 2, 3),
            HealthState::Healthy,
            "a success resets"
        );
        for _ in 0..2 {
            h.record(false, 2, 3);
        }
        assert_eq!(h.record(false, 2, 3), HealthState::Unhealthy);
        assert!(!h.eligible());
        h.record(true, 2, 3);
        assert_eq!(h.record(true, 2, 3), HealthState::Healthy);
    }

    fn reply(p: &Probe, flags: u8, seq: u32, payload: &[u8]) -> Vec<u8> {
        crate::wire::build::packet(
            p.to,
            p.from,
            crate::wire::build::Transport::TcpSegment {
                src_port: p.dport,
                dst_port: p.sport,
                seq,
                ack: 0,
                flags,
                payload,
            },
        )
        .unwrap()
    }

    fn probe(kind: ProbeKind) -> Probe {
        Probe::new(
            "10.1.128.50".parse().unwrap(),
            61000,
            "10.1.144.10".parse().unwrap(),
            80,
            kind,
            1000,
        )
    }

    #[test]
    fn tcp_probe() {
        use crate::wire::tcp_flags::*;
        let mut p = probe(ProbeKind::Tcp);
        let syn = crate::wire::parse(&p.start()).unwrap();
        assert_eq!(syn.tcp_flags, SYN);
        assert_eq!(p.on_packet(&reply(&p, ACK, 5, &[])), ProbeStep::Wait);
        match p.on_packet(&reply(&p, SYN | ACK, 5, &[])) {
            ProbeStep::Done {
                healthy: true,
                send,
            } => {
                assert_eq!(crate::wire::parse(&send[0]).unwrap().tcp_flags, RST)
            }
            other => panic!("{other:?}"),
        }
        let mut p = probe(ProbeKind::Tcp);
        assert!(matches!(
            p.on_packet(&reply(&p, RST | ACK, 0, &[])),
            ProbeStep::Done { healthy: false, .. }
        ));
    }

    #[test]
    fn http_probe_to_a_proxy_protocol_target_opens_with_a_local_header() {
        use crate::wire::tcp_flags::*;
        let mut p = probe(ProbeKind::Http("/".into())).with_proxy_local();
        let ProbeStep::Send(req) = p.on_packet(&reply(&p, SYN | ACK, 5, &[])) else {
            panic!("request expected");
        };
        let parsed = crate::wire::parse(&req[0]).unwrap();
        let data = &req[0][parsed.l4_offset.unwrap() + 20..];
        assert_eq!(&data[..12], b"\r\n\r\n\0\r\nQUIT\n");
        assert_eq!(
            &data[12..16],
            &[0x20, 0x00, 0x00, 0x00],
            "v2 LOCAL, no addresses"
        );
        assert!(data[16..].starts_with(b"GET / HTTP/1.1\r\n"));
    }

    /// An IPv6 target group's target is probed from the node's IPv6 address; the answer may
    /// come cut after its first bytes (its length is in the IPv6 header).
    #[test]
    fn http_probe_over_ipv6() {
        use crate::wire::tcp_flags::*;
        let mut p = Probe::new(
            "2600:1f18:0:80::50".parse().unwrap(),
            61000,
            "2600:1f18:0:90::10".parse().unwrap(),
            80,
            ProbeKind::Http("/".into()),
            1000,
        );
        let syn = crate::wire::parse(&p.start()).unwrap();
        assert_eq!((syn.src, syn.dst), (p.from, p.to));
        let ProbeStep::Send(req) = p.on_packet(&reply(&p, SYN | ACK, 5, &[])) else {
            panic!("request expected");
        };
        let q = crate::wire::parse(&req[0]).unwrap();
        let data = &req[0][q.l4_offset.unwrap() + 20..];
        assert!(String::from_utf8_lossy(data).contains("Host: [2600:1f18:0:90::10]\r\n"));
        let body = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let answer = reply(&p, ACK | PSH, 6, body);
        assert!(matches!(p.on_packet(&answer[..80]), ProbeStep::Send(_)));
        assert_eq!(p.result(), Some(true));
    }

    #[test]
    fn http_probe() {
        use crate::wire::tcp_flags::*;
        for (status, healthy) in [
            ("200 OK", true),
            ("302 Found", true),
            ("404 Not Found", false),
        ] {
            let mut p = probe(ProbeKind::Http("/index.html".into()));
            let ProbeStep::Send(req) = p.on_packet(&reply(&p, SYN | ACK, 5, &[])) else {
                panic!("request expected");
            };
            let parsed = crate::wire::parse(&req[0]).unwrap();
            let data = &req[0][parsed.l4_offset.unwrap() + 20..];
            assert!(data.starts_with(b"GET /index.html HTTP/1.1\r\n"));
            let body = format!("HTTP/1.1 {status}\r\nContent-Length: 7\r\n\r\nHello!\n");
            assert!(matches!(
                p.on_packet(&reply(&p, ACK | PSH, 6, body.as_bytes())),
                ProbeStep::Send(_)
            ));
            assert_eq!(p.result(), Some(healthy));
            let fin_at = 6 + body.len() as u32;
            match p.on_packet(&reply(&p, ACK | FIN, fin_at, &[])) {
                ProbeStep::Done { healthy: h, send } => {
                    assert_eq!(h, healthy);
                    let rst = &send[0];
                    let q = crate::wire::parse(rst).unwrap();
                    let t = crate::wire::TcpPacket::new_unchecked(&rst[q.l4_offset.unwrap()..]);
                    assert_eq!(t.ack_number(), fin_at + 1);
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
