//! `vpcectl top`: a live view of the running vpced — the busiest flows, endpoints and the
//! other parts of the fabric, and drop reasons — refreshed every interval, as rates over it.
//!
//! Each refresh asks the daemon once (`Request::Top`: the flow table's busiest entries and
//! every counter) and subtracts the previous answer: rates are per second over the interval.
//! A flow's counters restart when flow logs drain them; a count that went down is taken as
//! restarted. `--once` prints one frame as text (two samples an interval apart) instead of
//! the full-screen view, for scripts and logs.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use daemon::protocol::{self, Request, Response, TopFlow};
use dataplane::stats::StatsReport;
use ratatui::crossterm::event::{self, Event, KeyCode};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Row, Table};

use serde::Serialize;

use super::{Failure, Output};

/// One answer of the daemon, and when it came.
struct Sample {
    at: Instant,
    generation: u64,
    flows: Vec<TopFlow>,
    report: StatsReport,
}

fn sample(socket: &Path, flows: usize) -> Result<Sample, Failure> {
    let r =
        protocol::call(socket, &Request::Top { flows }, Duration::from_secs(10)).map_err(|e| {
            Failure {
                code: 1,
                message: e.to_string(),
                json: None,
            }
        })?;
    match r {
        Response::Top {
            generation,
            busiest: flows,
            report,
        } => Ok(Sample {
            at: Instant::now(),
            generation,
            flows,
            report,
        }),
        other => Err(Failure {
            code: 1,
            message: format!("unexpected answer: {other:?}"),
            json: None,
        }),
    }
}

/// What one frame shows: rows of text per table.
struct View {
    title: String,
    flows: Vec<[String; 6]>,
    entities: Vec<[String; 5]>,
    drops: Vec<[String; 3]>,
}

fn rate(now: u64, before: Option<u64>, secs: f64) -> f64 {
    let d = match before {
        Some(b) if now >= b => now - b,
        _ => now,
    };
    d as f64 / secs
}

fn human(v: f64, unit: &str) -> String {
    let (v, p) = if v >= 1e9 {
        (v / 1e9, "G")
    } else if v >= 1e6 {
        (v / 1e6, "M")
    } else if v >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    format!("{v:.1} {p}{unit}")
}

fn proto(p: u8) -> String {
    match p {
        6 => "tcp".into(),
        17 => "udp".into(),
        1 => "icmp".into(),
        58 => "icmpv6".into(),
        n => n.to_string(),
    }
}

/// One flow's rates over the interval.
#[derive(Debug, Serialize)]
struct FlowRate {
    interface: String,
    protocol: String,
    source: String,
    destination: String,
    bits_per_second: f64,
    packets_per_second: f64,
}

/// One entity's rates over the interval.
#[derive(Debug, Serialize)]
struct EntityRate {
    kind: String,
    id: String,
    rx_packets_per_second: f64,
    tx_packets_per_second: f64,
    bits_per_second: f64,
}

/// One drop reason's rate, and its count since vpced started.
#[derive(Debug, Serialize)]
struct DropRate {
    reason: String,
    per_second: f64,
    total: u64,
}

/// What one frame shows, as numbers (`--once -o json` prints it): the busiest flows first,
/// endpoints before the other entities, the fastest-growing drops first.
#[derive(Debug, Serialize)]
struct Frame {
    generation: u64,
    flows_tracked: usize,
    interval_seconds: f64,
    flows: Vec<FlowRate>,
    entities: Vec<EntityRate>,
    drops: Vec<DropRate>,
}

fn frame(prev: &Sample, now: &Sample, rows: usize) -> Frame {
    let secs = now.at.duration_since(prev.at).as_secs_f64().max(0.001);
    let key = |f: &TopFlow| {
        (
            f.interface.clone(),
            f.protocol,
            f.src,
            f.sport,
            f.dst,
            f.dport,
        )
    };
    let before: BTreeMap<_, &TopFlow> = prev.flows.iter().map(|f| (key(f), f)).collect();
    let mut flows: Vec<FlowRate> = now
        .flows
        .iter()
        .map(|f| {
            let b = before.get(&key(f));
            FlowRate {
                interface: f.interface.clone(),
                protocol: proto(f.protocol),
                source: format!("{}:{}", f.src, f.sport),
                destination: format!("{}:{}", f.dst, f.dport),
                bits_per_second: rate(f.bytes, b.map(|b| b.bytes), secs) * 8.0,
                packets_per_second: rate(f.packets, b.map(|b| b.packets), secs),
            }
        })
        .collect();
    flows.sort_by(|a, b| b.bits_per_second.total_cmp(&a.bits_per_second));
    let mut entities: Vec<EntityRate> = Vec::new();
    for (kind, ids) in &now.report.entities {
        for (id, c) in ids {
            let p = prev.report.entities.get(kind).and_then(|m| m.get(id));
            let bytes = rate(
                c.rx_bytes + c.tx_bytes,
                p.map(|p| p.rx_bytes + p.tx_bytes),
                secs,
            );
            entities.push(EntityRate {
                kind: kind.clone(),
                id: id.clone(),
                rx_packets_per_second: rate(c.rx_packets, p.map(|p| p.rx_packets), secs),
                tx_packets_per_second: rate(c.tx_packets, p.map(|p| p.tx_packets), secs),
                bits_per_second: bytes * 8.0,
            });
        }
    }
    // Endpoints first (what this view is for), then by traffic.
    let total = |e: &EntityRate| e.rx_packets_per_second + e.tx_packets_per_second;
    entities.sort_by(|a, b| {
        (b.kind == "endpoint")
            .cmp(&(a.kind == "endpoint"))
            .then(total(b).total_cmp(&total(a)))
    });
    let mut drops: Vec<DropRate> = now
        .report
        .drops
        .iter()
        .map(|(reason, n)| DropRate {
            reason: reason.clone(),
            per_second: rate(*n, prev.report.drops.get(reason).copied(), secs),
            total: *n,
        })
        .collect();
    drops.sort_by(|a, b| {
        b.per_second
            .total_cmp(&a.per_second)
            .then(a.reason.cmp(&b.reason))
    });
    flows.truncate(rows);
    entities.truncate(rows);
    drops.truncate(rows);
    Frame {
        generation: now.generation,
        flows_tracked: now.report.flows.map(|f| f.entries).unwrap_or(0),
        interval_seconds: secs,
        flows,
        entities,
        drops,
    }
}

/// The frame as the rows of text the screen and `--once` show.
fn view(f: &Frame) -> View {
    View {
        title: format!(
            "vpcectl top — generation {}, {} flows tracked, every {:.1} s — q quits",
            f.generation, f.flows_tracked, f.interval_seconds
        ),
        flows: f
            .flows
            .iter()
            .map(|x| {
                [
                    x.interface.clone(),
                    x.protocol.clone(),
                    x.source.clone(),
                    x.destination.clone(),
                    human(x.bits_per_second, "bit/s"),
                    format!("{:.0}", x.packets_per_second),
                ]
            })
            .collect(),
        entities: f
            .entities
            .iter()
            .map(|x| {
                [
                    x.kind.clone(),
                    x.id.clone(),
                    format!("{:.0}", x.rx_packets_per_second),
                    format!("{:.0}", x.tx_packets_per_second),
                    human(x.bits_per_second, "bit/s"),
                ]
            })
            .collect(),
        drops: f
            .drops
            .iter()
            .map(|x| {
                [
                    x.reason.clone(),
                    format!("{:.0}", x.per_second),
                    x.total.to_string(),
                ]
            })
            .collect(),
    }
}

const FLOW_HEAD: [&str; 6] = [
    "INTERFACE",
    "PROTO",
    "SOURCE",
    "DESTINATION",
    "RATE",
    "PKT/S",
];
const ENTITY_HEAD: [&str; 5] = ["KIND", "ID", "RX PKT/S", "TX PKT/S", "RATE"];
const DROP_HEAD: [&str; 3] = ["DROP REASON", "PER S", "TOTAL"];

fn text(v: &View) -> String {
    fn table<const N: usize>(out: &mut String, title: &str, head: [&str; N], rows: &[[String; N]]) {
        let mut w = head.map(str::len);
        for r in rows {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        out.push_str(title);
        out.push('\n');
        let line = |cells: Vec<&str>| {
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c:<width$}", width = w[i]))
                .collect::<Vec<_>>()
                .join("  ")
        };
        out.push_str(line(head.to_vec()).trim_end());
        out.push('\n');
        for r in rows {
            out.push_str(line(r.iter().map(String::as_str).collect()).trim_end());
            out.push('\n');
        }
        out.push('\n');
    }
    let mut out = format!("{}\n\n", v.title);
    table(&mut out, "Busiest flows", FLOW_HEAD, &v.flows);
    table(
        &mut out,
        "Endpoints and the fabric",
        ENTITY_HEAD,
        &v.entities,
    );
    table(&mut out, "Drops", DROP_HEAD, &v.drops);
    out
}

fn draw(frame: &mut ratatui::Frame, v: &View) {
    let [flows, entities, drops] = Layout::vertical([
        Constraint::Percentage(40),
        Constraint::Percentage(35),
        Constraint::Percentage(25),
    ])
    .areas(frame.area());
    let bold = Style::default().add_modifier(Modifier::BOLD);
    fn rows<const N: usize>(r: &[[String; N]]) -> Vec<Row<'static>> {
        r.iter().map(|c| Row::new(c.clone().to_vec())).collect()
    }
    frame.render_widget(
        Table::new(
            rows(&v.flows),
            [
                Constraint::Length(24),
                Constraint::Length(6),
                Constraint::Length(30),
                Constraint::Length(30),
                Constraint::Length(14),
                Constraint::Length(8),
            ],
        )
        .header(Row::new(FLOW_HEAD.to_vec()).style(bold))
        .block(Block::bordered().title(v.title.clone())),
        flows,
    );
    frame.render_widget(
        Table::new(
            rows(&v.entities),
            [
                Constraint::Length(17),
                Constraint::Min(30),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(14),
            ],
        )
        .header(Row::new(ENTITY_HEAD.to_vec()).style(bold))
        .block(Block::bordered().title("Endpoints and the fabric")),
        entities,
    );
    frame.render_widget(
        Table::new(
            rows(&v.drops),
            [
                Constraint::Min(30),
                Constraint::Length(10),
                Constraint::Length(12),
            ],
        )
        .header(Row::new(DROP_HEAD.to_vec()).style(bold))
        .block(Block::bordered().title("Drops")),
        drops,
    );
}

/// Runs the view until `q` (or Esc, or Ctrl-C); `once`: one text frame on `out`.
pub fn run(
    out: &mut impl std::io::Write,
    socket: &Path,
    interval: Duration,
    once: bool,
    output: Output,
) -> Result<(), Failure> {
    let mut prev = sample(socket, 200)?;
    if once {
        std::thread::sleep(interval);
        let now = sample(socket, 200)?;
        let f = frame(&prev, &now, 20);
        if output == Output::Json {
            let text = serde_json::to_string_pretty(&f).unwrap_or_default();
            writeln!(out, "{text}")?;
        } else {
            out.write_all(text(&view(&f)).as_bytes())?;
        }
        return Ok(());
    }
    let io = |e: std::io::Error| Failure {
        code: 1,
        message: format!("terminal: {e}"),
        json: None,
    };
    let mut terminal = ratatui::try_init().map_err(io)?;
    let result = (|| -> Result<(), Failure> {
        let mut shown = view(&frame(&prev, &prev, 50));
        loop {
            terminal.draw(|f| draw(f, &shown)).map_err(io)?;
            let deadline = Instant::now() + interval;
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                if event::poll(left).map_err(io)? {
                    if let Event::Key(k) = event::read().map_err(io)? {
                        let ctrl_c = k.code == KeyCode::Char('c')
                            && k.modifiers.contains(event::KeyModifiers::CONTROL);
                        if matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) || ctrl_c {
                            return Ok(());
                        }
                    }
                }
            }
            let now = sample(socket, 200)?;
            shown = view(&frame(&prev, &now, 50));
            prev = now;
        }
    })();
    ratatui::restore();
    result
}
