//! The health checker: probes every target of every target group behind a load balancer,
//! from a node of that load balancer, on the group's interval, and records the results in the
//! targets' health cells (which the pipeline reads).
//!
//! Probes are the pure state machines of [`dataplane::health::Probe`]. Their packets go through
//! the pipeline's [`process_from_node`] — routed in the provider VPC from the node's subnet,
//! through the target's security groups, as AWS health checks are — and out of the target's
//! device; the target's answers come back through the workers, which hand packets addressed
//! to a node's probe ports to this thread.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use control::model::HealthCheckProtocol;
use control::SnapshotCell;
use crossbeam_channel::Receiver;

use dataplane::health::{HealthState, Probe, ProbeKind, ProbeStep, TargetHealth};
use dataplane::io::{LocalPacket, Plan, Shared};
use dataplane::pipeline::{process_from_node, Ctx, NoObserver, Verdict, PROBE_PORTS};
use dataplane::stats::Lane;

struct InFlight {
    probe: Probe,
    node: u32,
    generation: u64,
    key: (String, IpAddr, u16),
    cell: Arc<TargetHealth>,
    thresholds: (u8, u8),
    deadline: Instant,
}

/// Runs until `stop` is set; every change of a target's health is written to `state_dir`.
pub fn run(
    plans: Arc<SnapshotCell<Plan>>,
    shared: Arc<Shared>,
    local: Receiver<LocalPacket>,
    lane: Lane,
    state_dir: Option<std::path::PathBuf>,
    stop: Arc<AtomicBool>,
) {
    let mut changed = false;
    let mut inflight: HashMap<(Ipv4Addr, u16), InFlight> = HashMap::new();
    let mut due: HashMap<(String, IpAddr, u16), Instant> = HashMap::new();
    let mut port = *PROBE_PORTS.start();
    let mut isn: u32 = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos()))
        | 1;
    while !stop.load(Ordering::Relaxed) {
        let plan = plans.load_full();
        let now = Instant::now();
        let send = |node: u32, mut pkt: Vec<u8>| -> bool {
            let cx = Ctx {
                lane,
                now: shared.now(),
                flows: &shared.flows,
                offload: dataplane::pipeline::Offload::NONE,
            };
            match process_from_node(&plan.fabric, &cx, node, &mut pkt, &mut NoObserver) {
                Verdict::Forward { egress, len } => {
                    shared.send_own(&plan, egress, &pkt[..len], lane)
                }
                _ => false,
            }
        };
        // Start the probes that are due.
        for tg in &plan.fabric.target_groups {
            let Some(&first) = tg.probe_nodes.first() else {
                continue;
            };
            let hc = &tg.health_check;
            for t in &tg.targets {
                let IpAddr::V4(to) = t.ip else { continue };
                // Without a port: the traffic port, except for appliances (GENEVE), where
                // AWS probes port 80.
                let dport = hc.port.unwrap_or(if tg.geneve { 80 } else { t.port });
                let key = (tg.id.clone(), t.ip, dport);
                if due.get(&key).is_some_and(|d| *d > now) {
                    continue;
                }
                if inflight.values().any(|f| f.key == key) {
                    continue;
                }
                let node = tg
                    .probe_nodes
                    .iter()
                    .copied()
                    .find(|&n| plan.fabric.lb_nodes[n as usize].az == t.az)
                    .unwrap_or(first);
                let from = plan.fabric.lb_nodes[node as usize].ip;
                port = if port >= *PROBE_PORTS.end() {
                    *PROBE_PORTS.start()
                } else {
                    port + 1
                };
                isn = isn.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let kind = match (hc.protocol, &hc.path) {
                    (HealthCheckProtocol::Http, Some(path)) => ProbeKind::Http(path.clone()),
                    (HealthCheckProtocol::Http, None) => ProbeKind::Http("/".into()),
                    // HTTPS would need TLS; its TCP handshake is what vpced checks.
                    _ => ProbeKind::Tcp,
                };
                let mut probe = Probe::new(from, port, to, dport, kind, isn);
                if tg.proxy_protocol_v2 {
                    probe = probe.with_proxy_local();
                }
                due.insert(
                    key.clone(),
                    now + Duration::from_secs(u64::from(hc.interval_seconds.max(1))),
                );
                let thresholds = (hc.healthy_threshold, hc.unhealthy_threshold);
                if !send(node, probe.start()) {
                    // The probe cannot even reach the target (no route, a security group).
                    let before = t.health.state();
                    changed |= log_change(
                        &key,
                        before,
                        t.health.record(false, thresholds.0, thresholds.1),
                    );
                    continue;
                }
                inflight.insert(
                    (from, port),
                    InFlight {
                        probe,
                        node,
                        generation: plan.fabric.generation,
                        key,
                        cell: t.health.clone(),
                        thresholds,
                        deadline: now + Duration::from_secs(u64::from(hc.timeout_seconds.max(1))),
                    },
                );
            }
        }
        // Answers.
        let mut next = local.recv_timeout(Duration::from_millis(100)).ok();
        while let Some(pkt) = next {
            let bytes = pkt.kept();
            if bytes.len() >= 24 && bytes[0] >> 4 == 4 {
                let dst = Ipv4Addr::new(bytes[16], bytes[17], bytes[18], bytes[19]);
                let hl = usize::from(bytes[0] & 0x0f) * 4;
                if let Some(p) = bytes.get(hl + 2..hl + 4) {
                    let dport = u16::from_be_bytes([p[0], p[1]]);
                    if let Some(f) = inflight.get_mut(&(dst, dport)) {
                        let step = f.probe.on_packet(bytes);
                        let same_plan = f.generation == plan.fabric.generation;
                        match step {
                            ProbeStep::Wait => {}
                            ProbeStep::Send(out) => {
                                for o in out {
                                    if same_plan {
                                        send(f.node, o);
                                    }
                                }
                            }
                            ProbeStep::Done { healthy, send: out } => {
                                for o in out {
                                    if same_plan {
                                        send(f.node, o);
                                    }
                                }
                                let f = inflight.remove(&(dst, dport)).expect("found above");
                                let before = f.cell.state();
                                let after = f.cell.record(healthy, f.thresholds.0, f.thresholds.1);
                                changed |= log_change(&f.key, before, after);
                            }
                        }
                    }
                }
            }
            next = local.try_recv().ok();
        }
        // Timeouts.
        let now = Instant::now();
        let late: Vec<(Ipv4Addr, u16)> = inflight
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in late {
            let f = inflight.remove(&k).expect("listed above");
            let before = f.cell.state();
            let ok = f.probe.result().unwrap_or(false);
            let after = f.cell.record(ok, f.thresholds.0, f.thresholds.1);
            changed |= log_change(&f.key, before, after);
        }
        if std::mem::take(&mut changed) {
            if let Some(dir) = &state_dir {
                if let Err(e) = super::state_dir::save_health(dir, &plan.fabric.registry.health) {
                    tracing::warn!(error = %e, "cannot keep target health");
                }
            }
        }
    }
}

/// Logs a change of state; returns whether there was one.
fn log_change(key: &(String, IpAddr, u16), before: HealthState, after: HealthState) -> bool {
    if before != after {
        tracing::info!(
            target_group = %key.0,
            target = %key.1,
            port = key.2,
            from = before.as_str(),
            to = after.as_str(),
            "target health changed"
        );
    }
    before != after
}
