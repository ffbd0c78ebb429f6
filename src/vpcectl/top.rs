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

use super::Failure;

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

fn view(prev: &Sample, now: &Sample, rows: usize) -> View {
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
    let mut flows: Vec<(f64, [String; 6])> = now
        .flows
        .iter()
        .map(|f| {
            let b = before.get(&key(f));
            let bps = rate(f.bytes, b.map(|b| b.bytes), secs);
            let pps = rate(f.packets, b.map(|b| b.packets), secs);
            (
                bps,
                [
                    f.interface.clone(),
                    proto(f.protocol),
                    format!("{}:{}", f.src, f.sport),
                    format!("{}:{}", f.dst, f.dport),
                    human(bps * 8.0, "bit/s"),
                    format!("{pps:.0}"),
                ],
            )
        })
        .collect();
    flows.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut entities: Vec<(f64, [String; 5])> = Vec::new();
    for (kind, ids) in &now.report.entities {
        for (id, c) in ids {
            let p = prev.report.entities.get(kind).and_then(|m| m.get(id));
            let rx = rate(c.rx_packets, p.map(|p| p.rx_packets), secs);
            let tx = rate(c.tx_packets, p.map(|p| p.tx_packets), secs);
            let bytes = rate(
                c.rx_bytes + c.tx_bytes,
                p.map(|p| p.rx_bytes + p.tx_bytes),
                secs,
            );
            entities.push((
                rx + tx,
                [
                    kind.clone(),
                    id.clone(),
                    format!("{rx:.0}"),
                    format!("{tx:.0}"),
                    human(bytes * 8.0, "bit/s"),
                ],
            ));
        }
    }
    // Endpoints first (what this view is for), then by traffic.
    entities.sort_by(|a, b| {
        (b.1[0] == "endpoint")
            .cmp(&(a.1[0] == "endpoint"))
            .then(b.0.total_cmp(&a.0))
    });
    let mut drops: Vec<(f64, [String; 3])> = now
        .report
        .drops
        .iter()
        .map(|(reason, n)| {
            let r = rate(*n, prev.report.drops.get(reason).copied(), secs);
            (r, [reason.clone(), format!("{r:.0}"), n.to_string()])
        })
        .collect();
    drops.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1[0].cmp(&b.1[0])));
    let flows_in = now.report.flows.map(|f| f.entries).unwrap_or(0);
    View {
        title: format!(
            "vpcectl top — generation {}, {} flows tracked, every {:.1} s — q quits",
            now.generation, flows_in, secs
        ),
        flows: flows.into_iter().take(rows).map(|x| x.1).collect(),
        entities: entities.into_iter().take(rows).map(|x| x.1).collect(),
        drops: drops.into_iter().take(rows).map(|x| x.1).collect(),
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
) -> Result<(), Failure> {
    let mut prev = sample(socket, 200)?;
    if once {
        std::thread::sleep(interval);
        let now = sample(socket, 200)?;
        out.write_all(text(&view(&prev, &now, 20)).as_bytes())?;
        return Ok(());
    }
    let io = |e: std::io::Error| Failure {
        code: 1,
        message: format!("terminal: {e}"),
        json: None,
    };
    let mut terminal = ratatui::try_init().map_err(io)?;
    let result = (|| -> Result<(), Failure> {
        let mut shown = view(&prev, &prev, 50);
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
            shown = view(&prev, &now, 50);
            prev = now;
        }
    })();
    ratatui::restore();
    result
}
