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
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use control::model::HealthCheckProtocol;
use crossbeam_channel::Receiver;
use dataplane::publish::SnapshotCell;

use dataplane::health::{HealthState, Probe, ProbeKind, ProbeStep, TargetHealth};
use dataplane::io::{LocalPacket, Plan, Shared};
use dataplane::pipeline::{process_from_node, Ctx, NoObserver, Verdict, PROBE_PORTS};
use dataplane::stats::Lane;

struct InFlight {
    probe: Probe,
    node: u32,
    generation: u64,
    key: Key,
    cell: Arc<TargetHealth>,
    thresholds: (u8, u8),
    deadline: Instant,
}

/// A target's probe key: target group, target address, probed port.
type Key = (String, IpAddr, u16);

/// The checker's state between rounds.
struct Checker {
    shared: Arc<Shared>,
    lane: Lane,
    /// Probes waiting for answers, by the node address and port they probe from.
    inflight: HashMap<(IpAddr, u16), InFlight>,
    /// When each target's next probe is due.
    due: HashMap<Key, Instant>,
    /// The last probe port used (they rotate through `PROBE_PORTS`).
    port: u16,
    /// The last initial sequence number (an LCG seeded from the clock).
    isn: u32,
    /// Some target's health changed since the state directory was last written.
    changed: bool,
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
    let mut c = Checker {
        shared,
        lane,
        inflight: HashMap::new(),
        due: HashMap::new(),
        port: *PROBE_PORTS.start(),
        isn: (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos()))
            | 1,
        changed: false,
    };
    while !stop.load(Ordering::Relaxed) {
        let plan = plans.load_full();
        c.start_due(&plan);
        let mut next = local.recv_timeout(Duration::from_millis(100)).ok();
        while let Some(pkt) = next {
            c.on_answer(&plan, pkt.kept());
            next = local.try_recv().ok();
        }
        c.expire();
        if std::mem::take(&mut c.changed) {
            if let Some(dir) = &state_dir {
                if let Err(e) = super::state_dir::save_health(dir, &plan.fabric.registry.health) {
                    tracing::warn!(error = %e, "cannot keep target health");
                }
            }
        }
    }
}

impl Checker {
    /// Sends a probe's packet from load-balancer node `node` through the pipeline; false
    /// when the pipeline does not forward it (no route, a security group) or it cannot be
    /// written.
    fn send(&self, plan: &Plan, node: u32, mut pkt: Vec<u8>) -> bool {
        let cx = Ctx {
            lane: self.lane,
            now: self.shared.now(),
            flows: &self.shared.flows,
            offload: dataplane::pipeline::Offload::NONE,
        };
        match process_from_node(&plan.fabric, &cx, node, &mut pkt, &mut NoObserver) {
            Verdict::Forward { egress, len } => {
                self.shared.send_own(plan, egress, &pkt[..len], self.lane)
            }
            _ => false,
        }
    }

    /// Starts the probes that are due: one per target and probed port at a time, from the
    /// group's node in the target's zone (or its first).
    fn start_due(&mut self, plan: &Plan) {
        let now = Instant::now();
        for tg in &plan.fabric.target_groups {
            if tg.probe_nodes.is_empty() {
                continue;
            }
            for t in &tg.targets {
                // Without a port: the traffic port, except for appliances (GENEVE), where
                // AWS probes port 80.
                let dport = tg
                    .health_check
                    .port
                    .unwrap_or(if tg.geneve { 80 } else { t.port });
                let key = (tg.id.clone(), t.ip, dport);
                if self.due.get(&key).is_some_and(|d| *d > now)
                    || self.inflight.values().any(|f| f.key == key)
                {
                    continue;
                }
                self.start(plan, tg, t, key, now);
            }
        }
    }

    fn start(
        &mut self,
        plan: &Plan,
        tg: &dataplane::fabric::TargetGroup,
        t: &dataplane::fabric::Target,
        key: Key,
        now: Instant,
    ) {
        let hc = &tg.health_check;
        let node = tg
            .probe_nodes
            .iter()
            .copied()
            .find(|&n| plan.fabric.lb_nodes[n as usize].az == t.az)
            .unwrap_or(tg.probe_nodes[0]);
        // The node's address of the target's family (validation gives IPv6 groups dual-stack
        // load balancers).
        let Some(from) = plan.fabric.lb_nodes[node as usize].address_for(t.ip) else {
            return;
        };
        self.port = if self.port >= *PROBE_PORTS.end() {
            *PROBE_PORTS.start()
        } else {
            self.port + 1
        };
        self.isn = self.isn.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let kind = match (hc.protocol, &hc.path) {
            (HealthCheckProtocol::Http, Some(path)) => ProbeKind::Http(path.clone()),
            (HealthCheckProtocol::Http, None) => ProbeKind::Http("/".into()),
            // HTTPS would need TLS; its TCP handshake is what vpced checks.
            _ => ProbeKind::Tcp,
        };
        let mut probe = Probe::new(from, self.port, t.ip, key.2, kind, self.isn);
        if tg.proxy_protocol_v2 {
            probe = probe.with_proxy_local();
        }
        self.due.insert(
            key.clone(),
            now + Duration::from_secs(u64::from(hc.interval_seconds.max(1))),
        );
        let thresholds = (hc.healthy_threshold, hc.unhealthy_threshold);
        if !self.send(plan, node, probe.start()) {
            // The probe cannot even reach the target (no route, a security group).
            let before = t.health.state();
            let after = t
                .health
                .record_at(false, thresholds.0, thresholds.1, self.shared.now());
            self.changed |= log_change(&key, before, after);
            return;
        }
        self.inflight.insert(
            (from, self.port),
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

    /// A packet the workers handed over (addressed to a node's probe port): the next step of
    /// the probe it answers. Packets of an older generation's probe are not answered.
    fn on_answer(&mut self, plan: &Plan, bytes: &[u8]) {
        // The copy may be cut short: only its first bytes are read here.
        let Some(at) = dataplane::wire::flow_destination(bytes) else {
            return;
        };
        let Some(f) = self.inflight.get_mut(&at) else {
            return;
        };
        let (out, done) = match f.probe.on_packet(bytes) {
            ProbeStep::Wait => return,
            ProbeStep::Send(out) => (out, None),
            ProbeStep::Done { healthy, send } => (send, Some(healthy)),
        };
        let (node, same_plan) = (f.node, f.generation == plan.fabric.generation);
        if same_plan {
            for o in out {
                self.send(plan, node, o);
            }
        }
        if let Some(healthy) = done {
            let f = self.inflight.remove(&at).expect("found above");
            self.finish(&f, healthy);
        }
    }

    /// Probes past their deadline count as their result so far (a failure, unless done).
    fn expire(&mut self) {
        let now = Instant::now();
        let late: Vec<(IpAddr, u16)> = self
            .inflight
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in late {
            let f = self.inflight.remove(&k).expect("listed above");
            self.finish(&f, f.probe.result().unwrap_or(false));
        }
    }

    fn finish(&mut self, f: &InFlight, healthy: bool) {
        let before = f.cell.state();
        let after = f
            .cell
            .record_at(healthy, f.thresholds.0, f.thresholds.1, self.shared.now());
        self.changed |= log_change(&f.key, before, after);
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
