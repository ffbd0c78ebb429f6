//! `vpced --metrics-listen ADDR`: Prometheus metrics at `http://ADDR/metrics`.
//!
//! Nothing is counted twice: a collector reads, at scrape time, the very counters `vpcectl
//! stats` reads (the workers' per-lane atomics, the health book, the flow table), so the hot
//! path pays nothing for metrics. Only the apply latency is a histogram of its own, observed
//! on the control path. `prometheus-client` writes the exposition (OpenMetrics text) and
//! `hyper` serves it; nothing listens unless `--metrics-listen` is given.
//!
//! Names follow Prometheus conventions: a `vpce_` prefix, base units (`_bytes`, `_seconds`),
//! `_total` on counters, and labels for what varies:
//!
//! | metric | labels |
//! |---|---|
//! | `vpce_KIND_packets_total`, `vpce_KIND_bytes_total`, one family per kind of entity (attachment, route_table, endpoint, internet_gateway, load_balancer, target_group, target, appliance): a packet is counted once in a family, so `sum()` over one is a real total | `id`, `direction` (rx, tx) |
//! | `vpce_drops_total` | `reason` (every reason, zeros included) |
//! | `vpce_security_group_denied_packets_total` | `security_group`, `direction` |
//! | `vpce_flow_table_entries`, `vpce_flow_table_capacity`, `vpce_flow_table_memory_bytes` | — |
//! | `vpce_target_health` | `target_group`, `target`, `kind` (target, appliance), `state` (initial, healthy, unhealthy): 1 for the current state |
//! | `vpce_config_generation`, `vpce_config_applies_total` (`result`), `vpce_config_apply_duration_seconds` | — |
//! | `vpce_worker_packets_total` (packets each worker read from the attachments: how evenly flows are spread) | `worker` |
//! | `vpce_dns_responses_total` | `rcode` |
//! | `vpce_dns_cached_responses_total` (answered by a worker from the answer cache) | — |
//! | `vpce_control_requests_total`, `vpce_control_refused_total` (`reason`) | — |
//! | `vpce_config_last_apply_timestamp_seconds` (the last successful apply, or the start) | — |
//! | `vpce_flow_log_records_skipped_total` (flow-log records lost; SKIPDATA records mark them) | — |
//! | `vpce_build_info` (1) | `version` |
//! | `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_cpu_seconds_total`, `process_open_fds`, `process_start_time_seconds`, `process_threads` (the names Prometheus' own clients use, from /proc/self) | — |

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::State;
use dataplane::health::HealthState;
use dataplane::pipeline::DropReason;
use dataplane::stats::StatsReport;

/// What the control path records for metrics: applies and their latency.
#[derive(Debug)]
pub struct ApplyMetrics {
    pub applied: AtomicU64,
    pub rejected: AtomicU64,
    pub duration: Histogram,
    /// Unix time of the last successful apply (the start until one happens).
    pub last_applied: AtomicU64,
}

/// Seconds since the Unix epoch.
pub(super) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Default for ApplyMetrics {
    fn default() -> Self {
        ApplyMetrics {
            applied: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            // 1 ms to ~16 s.
            duration: Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.001, 2.0, 15,
            )),
            last_applied: AtomicU64::new(unix_now()),
        }
    }
}

/// Reads the daemon's counters at scrape time.
struct StateCollector(Arc<State>);

impl std::fmt::Debug for StateCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateCollector")
    }
}

fn counter<'a, L: prometheus_client::encoding::EncodeLabelSet>(
    m: &mut prometheus_client::encoding::MetricEncoder<'a>,
    labels: &L,
    v: u64,
) -> Result<(), std::fmt::Error> {
    ConstCounter::new(v).encode(m.encode_family(labels)?)
}

fn gauge<'a, L: prometheus_client::encoding::EncodeLabelSet>(
    m: &mut prometheus_client::encoding::MetricEncoder<'a>,
    labels: &L,
    v: i64,
) -> Result<(), std::fmt::Error> {
    ConstGauge::new(v).encode(m.encode_family(labels)?)
}

impl Collector for StateCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let state = &self.0;
        let report = state.registry.report();
        traffic(&mut e, &report)?;
        drops(&mut e, state)?;
        denied(&mut e, &report)?;
        network_acls(&mut e, &report)?;
        flow_table(&mut e, state)?;
        target_health(&mut e, state)?;
        config(&mut e, state)?;
        dns(&mut e, state)?;
        workers(&mut e, state, &report)?;
        control(&mut e, state)?;
        build_info(&mut e)?;
        process(&mut e)
    }
}

/// `vpce_KIND_packets_total` and `vpce_KIND_bytes_total` per entity and direction: one family
/// per kind of entity, since one packet crosses several (an attachment, a route table, an
/// endpoint…) and a family mixing them would count it several times in a `sum()`.
fn traffic(e: &mut DescriptorEncoder, report: &StatsReport) -> Result<(), std::fmt::Error> {
    for (kind, ids) in &report.entities {
        for (what, bytes) in [("packets", false), ("bytes", true)] {
            let name = format!("vpce_{kind}_{what}");
            let help = format!("{what} through each {}.", kind.replace('_', " "));
            let mut m = e.encode_descriptor(&name, &help, None, MetricType::Counter)?;
            for (id, c) in ids {
                for (direction, p, b) in [
                    ("rx", c.rx_packets, c.rx_bytes),
                    ("tx", c.tx_packets, c.tx_bytes),
                ] {
                    let labels = [("id", id.as_str()), ("direction", direction)];
                    counter(&mut m, &labels, if bytes { b } else { p })?;
                }
            }
        }
    }
    Ok(())
}

/// `vpce_drops_total` for every reason, zeros included.
fn drops(e: &mut DescriptorEncoder, state: &State) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(
        "vpce_drops",
        "Packets dropped, by reason (vpcectl stats names the same reasons).",
        None,
        MetricType::Counter,
    )?;
    for r in DropReason::ALL {
        counter(&mut m, &[("reason", r.as_str())], state.registry.drops(r))?;
    }

    Ok(())
}

/// `vpce_security_group_denied_packets_total` per group and direction.
fn denied(e: &mut DescriptorEncoder, report: &StatsReport) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(
        "vpce_security_group_denied_packets",
        "Packets no rule of a security group allowed, by direction.",
        None,
        MetricType::Counter,
    )?;
    for (group, d) in &report.security_groups {
        counter(
            &mut m,
            &[("security_group", group.as_str()), ("direction", "ingress")],
            d.ingress_denied,
        )?;
        counter(
            &mut m,
            &[("security_group", group.as_str()), ("direction", "egress")],
            d.egress_denied,
        )?;
    }

    Ok(())
}

/// `vpce_network_acl_packets_total` per ACL, direction and rule number (`*`: the final deny).
fn network_acls(e: &mut DescriptorEncoder, report: &StatsReport) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(
        "vpce_network_acl_packets",
        "Packets a network ACL rule decided, by ACL, direction and rule number (* is the final deny).",
        None,
        MetricType::Counter,
    )?;
    for (acl, s) in &report.network_acls {
        for (direction, rules) in [("ingress", &s.ingress), ("egress", &s.egress)] {
            for (rule, n) in rules {
                counter(
                    &mut m,
                    &[
                        ("network_acl", acl.as_str()),
                        ("direction", direction),
                        ("rule", rule.as_str()),
                    ],
                    *n,
                )?;
            }
        }
    }
    Ok(())
}

/// The flow table's entries, capacity and memory.
fn flow_table(e: &mut DescriptorEncoder, state: &State) -> Result<(), std::fmt::Error> {
    let flows = &state.shared.flows;
    for (name, help, unit, v) in [
        (
            "vpce_flow_table_entries",
            "Flows the connection tracker holds.",
            None,
            flows.len(),
        ),
        (
            "vpce_flow_table_capacity",
            "Flows the connection tracker can hold.",
            None,
            flows.capacity(),
        ),
        (
            "vpce_flow_table_memory",
            "Memory of the flow table.",
            Some(&Unit::Bytes),
            flows.memory_bytes(),
        ),
    ] {
        let m = e.encode_descriptor(name, help, unit, MetricType::Gauge)?;
        ConstGauge::new(v as i64).encode(m)?;
    }

    Ok(())
}

/// `vpce_target_health`: 1 for the state each target is in, 0 for the others.
fn target_health(e: &mut DescriptorEncoder, state: &State) -> Result<(), std::fmt::Error> {
    let plan = state.plans.load();
    let mut m = e.encode_descriptor(
        "vpce_target_health",
        "1 for the state each target (or appliance) is in, 0 for the others.",
        None,
        MetricType::Gauge,
    )?;
    for tg in &plan.fabric.target_groups {
        for t in &tg.targets {
            let label = dataplane::fabric::target_label(&tg.id, t.ip, t.port);
            let now = tg.reported_state(t, state.shared.now());
            for s in [
                HealthState::Initial,
                HealthState::Healthy,
                HealthState::Unhealthy,
                HealthState::UnhealthyDraining,
            ] {
                let labels = [
                    ("target_group", tg.id.as_str()),
                    ("target", label.as_str()),
                    ("kind", if tg.geneve { "appliance" } else { "target" }),
                    ("state", s.as_str()),
                ];
                gauge(&mut m, &labels, i64::from(now == s))?;
            }
        }
    }

    Ok(())
}

/// The configuration generation, the applies by result and when the last one succeeded.
fn config(e: &mut DescriptorEncoder, state: &State) -> Result<(), std::fmt::Error> {
    let m = e.encode_descriptor(
        "vpce_config_last_apply_timestamp",
        "When the configuration running now was applied (or vpced started), Unix time.",
        Some(&Unit::Seconds),
        MetricType::Gauge,
    )?;
    ConstGauge::new(state.applies.last_applied.load(Relaxed) as i64).encode(m)?;
    let m = e.encode_descriptor(
        "vpce_config_generation",
        "Generation of the configuration the workers run (1 at start, +1 per apply).",
        None,
        MetricType::Gauge,
    )?;
    ConstGauge::new(state.plans.generation() as i64).encode(m)?;
    let mut m = e.encode_descriptor(
        "vpce_config_applies",
        "Configuration applies, by result.",
        None,
        MetricType::Counter,
    )?;
    counter(
        &mut m,
        &[("result", "applied")],
        state.applies.applied.load(Relaxed),
    )?;
    counter(
        &mut m,
        &[("result", "rejected")],
        state.applies.rejected.load(Relaxed),
    )?;

    Ok(())
}

/// The resolvers' responses by rcode, and those sent from the answer cache.
fn dns(e: &mut DescriptorEncoder, state: &State) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(
        "vpce_dns_responses",
        "Responses of the VPC resolvers, by response code.",
        None,
        MetricType::Counter,
    )?;
    for (rcode, n) in state.registry.dns.read() {
        counter(&mut m, &[("rcode", dataplane::stats::rcode_name(rcode))], n)?;
    }
    let m = e.encode_descriptor(
        "vpce_dns_cached_responses",
        "Responses the workers sent from the resolver's answer cache (among the responses).",
        None,
        MetricType::Counter,
    )?;
    ConstCounter::new(state.registry.dns.from_cache()).encode(m)?;

    Ok(())
}

/// Packets each worker read.
fn workers(
    e: &mut DescriptorEncoder,
    state: &State,
    report: &StatsReport,
) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(
        "vpce_worker_packets",
        "Packets each worker read from the attachments.",
        None,
        MetricType::Counter,
    )?;
    for (w, n) in report.workers.iter().take(state.workers).enumerate() {
        counter(&mut m, &[("worker", &w.to_string())], *n)?;
    }
    Ok(())
}

/// The control socket's requests and refusals, and the flow-log records lost.
fn control(e: &mut DescriptorEncoder, state: &State) -> Result<(), std::fmt::Error> {
    let m = e.encode_descriptor(
        "vpce_flow_log_records_skipped",
        "Flow-log records lost (not written, or the interval's REJECT log full); each loss is a SKIPDATA record too.",
        None,
        MetricType::Counter,
    )?;
    ConstCounter::new(state.flow_log.skipped.load(Relaxed)).encode(m)?;
    let c = state.control.values();
    let m = e.encode_descriptor(
        "vpce_control_requests",
        "Requests served on the control socket.",
        None,
        MetricType::Counter,
    )?;
    ConstCounter::new(c.requests).encode(m)?;
    let mut m = e.encode_descriptor(
        "vpce_control_refused",
        "Control connections refused, by why.",
        None,
        MetricType::Counter,
    )?;
    for (reason, n) in [
        ("not_root", c.refused_not_root),
        ("busy", c.refused_busy),
        ("timed_out", c.timed_out),
    ] {
        counter(&mut m, &[("reason", reason)], n)?;
    }
    Ok(())
}

/// `vpce_build_info{version}` 1.
fn build_info(e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(
        "vpce_build_info",
        "The running vpced's version.",
        None,
        MetricType::Gauge,
    )?;
    gauge(&mut m, &[("version", env!("CARGO_PKG_VERSION"))], 1)
}

/// What the process uses, read from /proc/self as Prometheus' own clients do.
fn process(e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let Some(p) = ProcessStats::read() else {
        return Ok(());
    };
    for (name, help, unit, kind, v) in [
        (
            "process_resident_memory",
            "Resident memory size.",
            Some(Unit::Bytes),
            MetricType::Gauge,
            p.rss_bytes as f64,
        ),
        (
            "process_virtual_memory",
            "Virtual memory size.",
            Some(Unit::Bytes),
            MetricType::Gauge,
            p.vsize_bytes as f64,
        ),
        (
            "process_cpu",
            "User and system CPU time spent.",
            Some(Unit::Seconds),
            MetricType::Counter,
            p.cpu_seconds,
        ),
        (
            "process_open_fds",
            "Open file descriptors.",
            None,
            MetricType::Gauge,
            p.open_fds as f64,
        ),
        (
            "process_start_time",
            "Start time of the process, Unix time.",
            Some(Unit::Seconds),
            MetricType::Gauge,
            p.start_time_seconds,
        ),
        (
            "process_threads",
            "Threads.",
            None,
            MetricType::Gauge,
            p.threads as f64,
        ),
    ] {
        let m = e.encode_descriptor(name, help, unit.as_ref(), kind)?;
        match kind {
            MetricType::Counter => ConstCounter::new(v).encode(m)?,
            _ => ConstGauge::new(v).encode(m)?,
        }
    }
    Ok(())
}

/// The fields of /proc/self/stat (proc(5)) the process metrics need.
struct ProcessStats {
    rss_bytes: u64,
    vsize_bytes: u64,
    cpu_seconds: f64,
    open_fds: usize,
    start_time_seconds: f64,
    threads: u64,
}

impl ProcessStats {
    fn read() -> Option<ProcessStats> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // After the command name in parentheses (which may hold spaces), from field 3 on.
        let f: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
        let tick = rustix::param::clock_ticks_per_second() as f64;
        let page = rustix::param::page_size() as u64;
        let boot = std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("btime ")?.trim().parse::<f64>().ok())?;
        Some(ProcessStats {
            rss_bytes: field(24)? * page,
            vsize_bytes: field(23)?,
            cpu_seconds: (field(14)? + field(15)?) as f64 / tick,
            open_fds: std::fs::read_dir("/proc/self/fd").ok()?.count(),
            start_time_seconds: boot + field(22)? as f64 / tick,
            threads: field(20)?,
        })
    }
}

/// The registry a scrape encodes.
fn registry(state: &Arc<State>) -> Registry {
    let mut r = Registry::default();
    r.register_with_unit(
        "vpce_config_apply_duration",
        "Time an apply takes: load, compile, build, device sync, publish.",
        Unit::Seconds,
        state.applies.duration.clone(),
    );
    r.register_collector(Box::new(StateCollector(state.clone())));
    r
}

/// The OpenMetrics text of one scrape.
pub(super) fn render(state: &Arc<State>) -> String {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry(state))
        .expect("writing to a String does not fail");
    out
}

/// Binds `addr` (now, so that a bad address stops start-up) and returns the task that serves
/// `/metrics` on it.
pub(super) async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Serves scrapes until the runtime stops.
pub(super) async fn serve(listener: tokio::net::TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(respond(&req, &state)) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::debug!(error = %e, "metrics connection");
            }
        });
    }
}

fn respond<B>(req: &Request<B>, state: &Arc<State>) -> Response<Full<Bytes>> {
    let (status, kind, body) = match (req.method(), req.uri().path()) {
        (&hyper::Method::GET | &hyper::Method::HEAD, "/metrics") => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            render(state),
        ),
        (_, "/metrics") => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET /metrics\n".to_string(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "vpced serves /metrics\n".to_string(),
        ),
    };
    Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, kind)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}
