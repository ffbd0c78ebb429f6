//! The resolver thread: takes the queries the workers hand over (UDP to a VPC's base + 2),
//! answers them with [`crate::resolver::answer`], writes each reply straight to the device the
//! query came in on (security groups do not filter the resolver, as in AWS), and writes a
//! Route 53 Resolver query log line per query.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use control::SnapshotCell;
use crossbeam_channel::Receiver;

use crate::fabric::AttachmentKind;
use crate::io::{LocalPacket, Plan};
use crate::pipeline::LocalService;
use crate::resolver::{answer, Client};
use crate::wire::{self, build};

/// Where query logs go.
pub type QueryLogSink = Arc<Mutex<Box<dyn Write + Send>>>;

pub fn run(
    _plans: Arc<SnapshotCell<Plan>>,
    queries: Receiver<LocalPacket>,
    log: Option<QueryLogSink>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(q) = queries.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        // Answered under the plan the query arrived with: its attachment and VPC indexes,
        // its records. (A query racing an apply gets the configuration it was sent under.)
        let Some(plan) = q.plan.clone() else { continue };
        if q.len > q.kept().len() {
            continue; // cut: larger than any query we answer
        }
        let LocalService::Resolver(vpc) = q.service else {
            continue;
        };
        let bytes = q.kept();
        let Ok(p) = wire::parse(bytes) else { continue };
        let Some(off) = p.l4_offset else { continue };
        let payload = &bytes[off + 8..p.len];
        let f = &plan.fabric;
        let Some(att) = f.attachments.get(q.ingress as usize) else {
            continue;
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
        let client = Client {
            vpc_id: &f.vpcs[vpc as usize].id,
            addr: SocketAddr::new(p.src, p.src_port),
            instance,
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let Some((reply, line)) = answer(&f.snapshot.dns, &config.region, &client, payload, now)
        else {
            continue;
        };
        let resolver: IpAddr = p.dst;
        if let Some(pkt) = build::packet(
            resolver,
            p.src,
            build::Transport::Udp {
                src_port: 53,
                dst_port: p.src_port,
                payload: &reply,
            },
        ) {
            if plan.devices[q.ingress as usize].queues[0]
                .send(&pkt)
                .is_ok()
            {
                att.counters.tx(crate::stats::MAX_LANES - 2, pkt.len());
            }
        }
        if let (Some(sink), Some(line)) = (&log, line) {
            if let Ok(mut w) = sink.lock() {
                let _ = serde_json::to_writer(&mut *w, &line);
                let _ = w.write_all(b"\n");
                let _ = w.flush();
            }
        }
    }
}
