//! The resolver thread: takes the queries the workers hand over (UDP to a VPC's base + 2),
//! answers private names with [`dataplane::resolver::handle`], forwards the others to the
//! configured upstream server (through its internet gateway's internet side, from the
//! configured source address, with a fresh query id) and relays its answers, writes each reply
//! straight to the device the query came in on (security groups do not filter the resolver,
//! as in AWS), and writes a Route 53 Resolver query log line per query. A forwarded query the
//! upstream does not answer within 3 s gets SERVFAIL.

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use dataplane::publish::SnapshotCell;

use dataplane::fabric::AttachmentKind;
use dataplane::io::{LocalPacket, Plan, Shared};

/// The counter lane of the resolver's own packets (workers have theirs; the health checker
/// the one after them).
const OWN_LANE: dataplane::stats::Lane = dataplane::stats::MAX_LANES - 2;
use dataplane::pipeline::LocalService;
use dataplane::resolver::{
    handle, message_id, servfail, set_message_id, upstream_log, Client, Outcome, QueryLog,
};
use dataplane::wire::{self, build};

/// Where query logs go.
pub type QueryLogSink = Arc<Mutex<Box<dyn Write + Send>>>;

/// Source port of forwarded queries.
const FORWARD_PORT: u16 = 53053;
const FORWARD_TIMEOUT: Duration = Duration::from_secs(3);
/// Forwarded queries waiting at most; more are dropped (and counted as `local_service_busy`)
/// until answers or timeouts make room.
const MAX_PENDING: usize = 4096;

/// A forwarded query waiting for its answer.
struct Pending {
    plan: Arc<Plan>,
    ingress: u32,
    resolver: IpAddr,
    client: SocketAddr,
    vpc_id: String,
    instance: Option<String>,
    query: Vec<u8>,
    /// Asked over TCP: the sequence numbers to answer with.
    tcp: Option<(u32, u32)>,
    sent: Instant,
}

/// The resolver thread's state: forwarded queries waiting for the upstream, the next
/// forwarding id, the query log.
struct Resolver {
    shared: Arc<Shared>,
    log: Option<QueryLogSink>,
    pending: HashMap<u16, Pending>,
    next_id: u16,
    /// When forwarded queries were last checked for their timeout: every 100 ms, not per
    /// query (with thousands waiting, a scan per query made the resolver fall behind a burst).
    checked: Instant,
}

/// A query's DNS message as the resolver sees it: where it came from and how to answer.
struct Query<'a> {
    plan: &'a Arc<Plan>,
    ingress: u32,
    /// The resolver address the client asked.
    resolver: IpAddr,
    client: SocketAddr,
    /// Asked over TCP: our sequence number and acknowledgment to answer with.
    tcp: Option<(u32, u32)>,
    dns: &'a [u8],
}

pub fn run(
    _plans: Arc<SnapshotCell<Plan>>,
    shared: Arc<Shared>,
    queries: Receiver<LocalPacket>,
    log: Option<QueryLogSink>,
    stop: Arc<AtomicBool>,
) {
    let mut r = Resolver {
        shared,
        log,
        pending: HashMap::new(),
        next_id: 1,
        checked: Instant::now(),
    };
    while !stop.load(Ordering::Relaxed) {
        r.expire();
        // The query log reaches its file whenever no query is waiting: at once when idle,
        // in large writes under load.
        if queries.is_empty() {
            r.flush_log();
        }
        if let Ok(q) = queries.recv_timeout(Duration::from_millis(100)) {
            r.on_packet(&q);
        }
    }
    r.flush_log();
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Resolver {
    fn write_log(&self, line: Option<QueryLog>) {
        if let (Some(sink), Some(line)) = (&self.log, line) {
            if let Ok(mut w) = sink.lock() {
                let _ = serde_json::to_writer(&mut *w, &line);
                let _ = w.write_all(b"\n");
            }
        }
    }

    fn flush_log(&self) {
        if let Some(sink) = &self.log {
            if let Ok(mut w) = sink.lock() {
                let _ = w.flush();
            }
        }
    }

    /// Forwarded queries that timed out get SERVFAIL.
    fn expire(&mut self) {
        if self.checked.elapsed() < Duration::from_millis(100) {
            return;
        }
        self.checked = Instant::now();
        let late: Vec<u16> = self
            .pending
            .iter()
            .filter(|(_, p)| p.sent.elapsed() > FORWARD_TIMEOUT)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            let p = self.pending.remove(&id).expect("listed");
            if let Some(r) = servfail(&p.query) {
                reply(
                    &self.shared,
                    &p.plan,
                    p.ingress,
                    p.resolver,
                    p.client,
                    p.tcp,
                    &r,
                );
            }
        }
    }

    /// One packet a worker handed over: a query to a VPC's resolver (UDP, or a TCP segment
    /// of a DNS-over-TCP connection) or the upstream's answer to a forwarded one.
    fn on_packet(&mut self, q: &LocalPacket) {
        // Answered under the plan the query arrived with: its attachment and VPC indexes,
        // its records. (A query racing an apply gets the configuration it was sent under.)
        let Some(plan) = &q.plan else { return };
        if q.len > q.kept().len() {
            return; // cut: larger than any query we answer
        }
        let bytes = q.kept();
        let Ok(p) = wire::parse(bytes) else { return };
        let Some(off) = p.l4_offset else { return };
        // DNS over TCP: the segment tells what to send (see `resolver::tcp`).
        let mut tcp = None;
        let tcp_payload;
        let dns: &[u8] = if p.protocol == wire::proto::TCP {
            let client = SocketAddr::new(p.src, p.src_port);
            match dataplane::resolver::tcp::on_segment(p.dst, client, &bytes[off..p.len]) {
                dataplane::resolver::tcp::Action::Reply(pkt) => {
                    self.shared.send_own(plan, q.ingress, &pkt, OWN_LANE);
                    return;
                }
                dataplane::resolver::tcp::Action::Nothing => return,
                dataplane::resolver::tcp::Action::Query { dns, seq, ack } => {
                    tcp = Some((seq, ack));
                    tcp_payload = dns;
                    &tcp_payload
                }
            }
        } else {
            &bytes[off + 8..p.len]
        };
        if dns.len() < 12 {
            return;
        }
        let query = Query {
            plan,
            ingress: q.ingress,
            resolver: p.dst,
            client: SocketAddr::new(p.src, p.src_port),
            tcp,
            dns,
        };
        match q.service {
            LocalService::ResolverUpstream => self.on_upstream_answer(plan, dns),
            LocalService::Resolver(vpc) => self.on_query(&query, vpc),
            LocalService::HealthChecker => {}
        }
    }

    /// The upstream answered a forwarded query: back to the client under its own id, with
    /// the VPC's private records spliced into CNAME chains.
    fn on_upstream_answer(&mut self, plan: &Plan, payload: &[u8]) {
        let Some(w) = message_id(payload).and_then(|id| self.pending.remove(&id)) else {
            return;
        };
        let mut answer = payload.to_vec();
        set_message_id(&mut answer, message_id(&w.query).unwrap_or(0));
        if let Some(spliced) =
            dataplane::resolver::splice_private(&w.plan.fabric.snapshot.dns, &w.vpc_id, &answer)
        {
            answer = spliced;
        }
        reply(
            &self.shared,
            &w.plan,
            w.ingress,
            w.resolver,
            w.client,
            w.tcp,
            &answer,
        );
        let client = Client {
            vpc_id: &w.vpc_id,
            addr: w.client,
            instance: w.instance.as_deref(),
            tcp: w.tcp.is_some(),
            inbound: false,
            health: None,
        };
        let region = &plan.fabric.snapshot.config.region;
        self.write_log(upstream_log(region, &client, &answer, now_unix()));
    }

    /// A query to VPC `vpc`'s resolver: answered from the private view, or forwarded.
    fn on_query(&mut self, q: &Query<'_>, vpc: u32) {
        let f = &q.plan.fabric;
        let Some(att) = f.attachments.get(q.ingress as usize) else {
            return;
        };
        let config = &f.snapshot.config;
        let instance = match att.kind {
            AttachmentKind::Eni(_) => config
                .instances
                .iter()
                .find(|i| i.eni_id() == att.id)
                .map(|i| i.id.as_str()),
            _ => None,
        };
        // A query to an address other than base + 2 came through an inbound endpoint.
        let inbound = f.vpcs[vpc as usize].resolver != Some(q.resolver);
        let client = Client {
            vpc_id: &f.vpcs[vpc as usize].id,
            addr: q.client,
            instance,
            tcp: q.tcp.is_some(),
            inbound,
            health: Some(f),
        };
        let outcome = handle(
            &f.snapshot.dns,
            &config.region,
            &client,
            q.dns,
            now_unix(),
            f.upstream.is_some(),
        );
        match outcome {
            None => {}
            Some(Outcome::Answer(r, line)) => {
                reply(
                    &self.shared,
                    q.plan,
                    q.ingress,
                    q.resolver,
                    q.client,
                    q.tcp,
                    &r,
                );
                // A private answer to a well-formed UDP query: the workers answer the same
                // query themselves from now on (this generation) — not one through an inbound
                // endpoint, whose view may differ from the VPC's own.
                // Nor one that follows load balancers' health (DNS failover).
                let steady = line.as_ref().is_some_and(|l| !l.volatile);
                if let (Some(cache), None, true, false) =
                    (&self.shared.answers, q.tcp, steady, inbound)
                {
                    cache.insert(f.generation, vpc, q.dns, &r);
                }
                self.write_log(line.map(|l| *l));
            }
            Some(Outcome::Forward) => self.forward(q, &client),
            Some(Outcome::ForwardRule(rule)) => self.forward_by_rule(q, &client, rule),
        }
    }

    /// Sends the query to the upstream server under a fresh id and remembers it.
    fn forward(&mut self, q: &Query<'_>, client: &Client<'_>) {
        let Some(u) = q.plan.fabric.upstream else {
            return;
        };
        let Some((id, pkt)) = self.forwarded(q, IpAddr::V4(u.source), IpAddr::V4(u.server)) else {
            return;
        };
        if self.shared.send_own(q.plan, u.attachment, &pkt, OWN_LANE) {
            self.remember(q, client, id);
        }
    }

    /// Sends the query as Resolver rule `resolver_rules[rule]` says: from an ENI of its
    /// outbound endpoint to its first target, routed through the fabric like any packet from
    /// that ENI's subnet (over a transit gateway and a VPN to a data centre's DNS server).
    fn forward_by_rule(&mut self, q: &Query<'_>, client: &Client<'_>, rule: u32) {
        let f = &q.plan.fabric;
        let c = &f.snapshot.config;
        let Some(r) = c.resolver_rules.get(rule as usize) else {
            return;
        };
        let eni = f
            .resolver_enis
            .iter()
            .position(|e| e.outbound && Some(&e.endpoint) == r.resolver_endpoint.as_ref());
        let (Some(x), Some(&target)) = (eni, r.target_ips.first()) else {
            return;
        };
        let src = IpAddr::V4(f.resolver_enis[x].ip);
        let Some((id, mut pkt)) = self.forwarded(q, src, target) else {
            return;
        };
        let cx = dataplane::pipeline::Ctx {
            lane: OWN_LANE,
            now: self.shared.now(),
            flows: &self.shared.flows,
            offload: dataplane::pipeline::Offload::NONE,
        };
        let v = dataplane::pipeline::process_from_resolver_endpoint(
            f,
            &cx,
            x as u32,
            &mut pkt,
            &mut dataplane::pipeline::NoObserver,
        );
        if let dataplane::pipeline::Verdict::Forward { egress, len } = v {
            if self.shared.send_own(q.plan, egress, &pkt[..len], OWN_LANE) {
                self.remember(q, client, id);
            }
        }
    }

    /// The query under a fresh id, as a UDP datagram from `src` to `server`:53; `None` when
    /// too many are pending (counted) or the packet cannot be built.
    fn forwarded(&mut self, q: &Query<'_>, src: IpAddr, server: IpAddr) -> Option<(u16, Vec<u8>)> {
        if self.pending.len() >= MAX_PENDING {
            q.plan
                .fabric
                .registry
                .drop_packet(0, dataplane::pipeline::DropReason::LocalServiceBusy);
            return None;
        }
        while self.pending.contains_key(&self.next_id) {
            self.next_id = self.next_id.wrapping_add(1);
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let mut fwd = q.dns.to_vec();
        set_message_id(&mut fwd, id);
        let pkt = build::packet(
            src,
            server,
            build::Transport::Udp {
                src_port: FORWARD_PORT,
                dst_port: 53,
                payload: &fwd,
            },
        )?;
        Some((id, pkt))
    }

    /// Remembers a forwarded query under `id` until its answer comes back.
    fn remember(&mut self, q: &Query<'_>, client: &Client<'_>, id: u16) {
        self.pending.insert(
            id,
            Pending {
                plan: q.plan.clone(),
                ingress: q.ingress,
                resolver: q.resolver,
                client: q.client,
                vpc_id: client.vpc_id.to_string(),
                instance: client.instance.map(str::to_string),
                query: q.dns.to_vec(),
                tcp: q.tcp,
                sent: Instant::now(),
            },
        );
    }
}

/// Writes a DNS response from the resolver at `resolver` to `client`, out of `ingress`: a
/// datagram, or for a TCP query (`tcp`: our sequence number, our acknowledgment) the
/// response segment.
fn reply(
    shared: &Shared,
    plan: &Plan,
    ingress: u32,
    resolver: IpAddr,
    client: SocketAddr,
    tcp: Option<(u32, u32)>,
    dns: &[u8],
) {
    if dns.len() >= 4 {
        plan.fabric.registry.dns.answered(dns[3] & 0x0f);
    }
    let pkt = match tcp {
        Some((seq, ack)) => dataplane::resolver::tcp::response(resolver, client, seq, ack, dns),
        None => build::packet(
            resolver,
            client.ip(),
            build::Transport::Udp {
                src_port: 53,
                dst_port: client.port(),
                payload: dns,
            },
        ),
    };
    if let Some(pkt) = pkt {
        shared.send_own(plan, ingress, &pkt, OWN_LANE);
    }
}
