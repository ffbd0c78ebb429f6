//! Explaining a path: what the dataplane would do with a packet, hop by hop, and why it stops.
//!
//! `vpcectl trace` (on a configuration file) and the running vpced (on its live fabric, with
//! its targets' real health) both call [`trace`]. It synthesizes the packet — a TCP SYN, a UDP
//! datagram or an ICMP echo request — from the source's attachment and runs the pipeline's own
//! [`crate::pipeline::process`] on it with an observer that records every step, on a scratch
//! flow table. A packet that gets through is answered: the reply (SYN-ACK, datagram, echo reply) is built
//! from the packet as it arrived and run back from the attachment it reached, on the same flow
//! table, so that the way back — translations undone, security groups' state, routes of the
//! other side — is the one the dataplane would take. There is no second model: a trace and a
//! forwarded packet cannot disagree (a test sends the same packets through a live vpced and
//! compares).
//!
//! Verdicts carry a code in the style of AWS Reachability Analyzer (`NO_ROUTE_TO_DESTINATION`,
//! `SECURITY_GROUP_INGRESS_DENIED`, `ELB_NOT_CROSSZONE`, `ENDPOINT_CONNECTION_NOT_ACCEPTED`, …)
//! and a sentence saying what to change.

use std::net::IpAddr;

use control::model::Config;
use control::secgroups::{Direction, RuleRef};
use serde::{Deserialize, Serialize};

use crate::conntrack::FlowTable;
use crate::fabric::{AttachmentIdx, AttachmentKind, Fabric, Owner};
use crate::pipeline::{
    process_in, ApplianceFlow, Ctx, DropReason, Recorder, SgOutcome, Step, Verdict,
};
use crate::stats::Lane;
use crate::wire::build::{packet, Transport};
use crate::wire::{self, tcp_flags};

mod describe;
mod explain;
mod policy;
mod resolve;

use describe::describe;
use explain::explain;
pub use policy::authorize;
pub use resolve::{all_pairs, detached, resolve};

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
}

/// A question: from an attachment (and source address) to a destination address.
#[derive(Debug, Clone)]
pub struct Question {
    pub from: AttachmentIdx,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: Protocol,
    pub port: u16,
    /// Send the request as two IPv4 fragments: the first (the transport header) decides, the
    /// later one follows it (`crate::fragments`); the trace shows the later fragment's way.
    pub fragmented: bool,
}

/// One hop of a path, as people read it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hop {
    /// What kind of component: `network_interface`, `security_group`, `route_table`, …
    pub component: String,
    /// Its id (`eni-…`, `sg-…`, `rtb-…`, `vpce-…`, `NLB-B`, an address).
    pub id: String,
    /// What happened there, in one sentence.
    pub detail: String,
}

/// Where and why a path stops.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Blocked {
    /// Reachability Analyzer style code.
    pub code: String,
    /// The dataplane's drop counter for the same decision.
    pub drop_reason: String,
    /// What to change.
    pub explanation: String,
}

/// One direction of a trace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Leg {
    pub hops: Vec<Hop>,
    /// The attachment the packet leaves by, if it gets through.
    pub delivered_to: Option<String>,
    pub blocked: Option<Blocked>,
    /// The appliance a Gateway Load Balancer sent the packet through (`i-…`/address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appliance: Option<String>,
}

/// A trace: the way there and, if it gets there, the way back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trace {
    pub reachable: bool,
    pub forward: Leg,
    pub reply: Option<Leg>,
}

/// Builds the question's packet.
fn build(q: &Question) -> Option<Vec<u8>> {
    // A fragmented request carries data past its transport header, for the later fragment.
    let payload: &[u8] = if q.fragmented { &[0x74; 64] } else { b"trace" };
    let t = match q.protocol {
        Protocol::Tcp if q.fragmented => Transport::Tcp {
            src_port: 40000,
            dst_port: q.port,
            flags: tcp_flags::SYN,
            payload,
        },
        Protocol::Tcp => Transport::syn(40000, q.port),
        Protocol::Udp => Transport::Udp {
            src_port: 40000,
            dst_port: q.port,
            payload,
        },
        Protocol::Icmp => Transport::EchoRequest {
            ident: 0x7ace,
            seq: 1,
            payload,
        },
    };
    packet(q.src, q.dst, t)
}

/// The request as a first fragment (its transport header, rounded up to 8 bytes) and the
/// later fragment with the rest; `None` for IPv6 (vpce's builder fragments IPv4 only).
fn split(pkt: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let p = wire::parse(pkt).ok().filter(|p| p.is_ipv4())?;
    let l4 = p.l4_offset?;
    let header = match p.protocol {
        wire::proto::TCP => wire::tcp_edit::header_len(&pkt[l4..p.len]),
        _ => 8,
    };
    let at = header.div_ceil(8) * 8;
    let data = p.len - l4;
    (data > at).then(|| {
        (
            wire::build::fragment_v4(pkt, 0x7ace, 0, at),
            wire::build::fragment_v4(pkt, 0x7ace, at, data - at),
        )
    })
}

/// The answer the far end would send to `arrived`.
fn answer(arrived: &[u8], protocol: Protocol) -> Option<Vec<u8>> {
    let p = wire::parse(arrived).ok()?;
    let t = match protocol {
        Protocol::Tcp => Transport::TcpSegment {
            src_port: p.dst_port,
            dst_port: p.src_port,
            seq: 7,
            ack: 2,
            flags: tcp_flags::SYN | tcp_flags::ACK,
            payload: &[],
        },
        Protocol::Udp => Transport::Udp {
            src_port: p.dst_port,
            dst_port: p.src_port,
            payload: b"reply",
        },
        Protocol::Icmp => Transport::EchoReply {
            ident: p.src_port,
            seq: 1,
            payload: b"trace",
        },
    };
    packet(p.dst, p.src, t)
}

/// Traces `q` through `f`: the way there and, if it gets through, the way back.
pub fn trace(f: &Fabric, q: &Question) -> Trace {
    let flows = FlowTable::new(1024);
    // A lane no worker uses, so that a trace in the daemon does not write into a worker's
    // counter shard; the counters it touches are the trace's own business.
    let lane: Lane = crate::stats::MAX_LANES - 1;
    let cx = Ctx {
        lane,
        now: 0,
        flows: &flows,
        offload: crate::pipeline::Offload::NONE,
    };
    let Some(mut pkt) = build(q) else {
        return bad_question(format!(
            "{} and {} are not of the same address family",
            q.src, q.dst
        ));
    };
    if q.fragmented {
        match split(&pkt) {
            Some((first, later)) => {
                // The first fragment decides; if it passes, the later one follows it and its
                // way is what the trace shows. The reply is built from the first fragment.
                pkt = first;
                let (forward, out) = leg(f, &cx, q.from, &mut pkt, q);
                if out.is_none() {
                    return Trace {
                        reachable: false,
                        forward,
                        reply: None,
                    };
                }
                let mut later = later;
                let (mut second, later_out) = leg(f, &cx, q.from, &mut later, q);
                second.hops.insert(
                    1,
                    Hop {
                        component: "fragment".into(),
                        id: "later fragment".into(),
                        detail: "a later fragment of the datagram: no transport header of its own; it takes the ports of the first fragment, which passed the same way".into(),
                    },
                );
                if later_out.is_none() {
                    return Trace {
                        reachable: false,
                        forward: second,
                        reply: None,
                    };
                }
                return finish(f, &cx, q, second, &pkt, out);
            }
            None => return bad_question("--fragmented traces IPv4 packets".into()),
        }
    }
    let (forward, out) = leg(f, &cx, q.from, &mut pkt, q);
    finish(f, &cx, q, forward, &pkt, out)
}

/// A question the trace cannot ask (exit 3 with `BAD_QUESTION`).
fn bad_question(explanation: String) -> Trace {
    Trace {
        reachable: false,
        forward: Leg {
            hops: Vec::new(),
            delivered_to: None,
            blocked: Some(Blocked {
                code: "BAD_QUESTION".into(),
                drop_reason: "-".into(),
                explanation,
            }),
            appliance: None,
        },
        reply: None,
    }
}

/// The rest of a trace once the request's leg is known: the way back, if it got through.
fn finish(
    f: &Fabric,
    cx: &Ctx<'_>,
    q: &Question,
    forward: Leg,
    pkt: &[u8],
    out: Option<(AttachmentIdx, usize)>,
) -> Trace {
    let Some((egress, len)) = out else {
        // A DNS question vpced answers itself, as the VPC's resolver: its answer is written
        // back to where the question came in (that way back is not routed).
        let answered = forward.blocked.is_none()
            && forward.delivered_to.as_deref() == Some("vpced")
            && q.port == 53;
        let reply = answered.then(|| Leg {
            hops: vec![Hop {
                component: "resolver".into(),
                id: "vpced".into(),
                detail: "answers; the answer goes back out where the question came in".into(),
            }],
            delivered_to: Some(f.attachments[q.from as usize].id.clone()),
            blocked: None,
            appliance: None,
        });
        return Trace {
            reachable: answered,
            forward,
            reply,
        };
    };
    // The way back, from where the packet arrived.
    let back_q = Question {
        from: egress,
        src: q.dst,
        dst: q.src,
        protocol: q.protocol,
        port: q.port,
        fragmented: false,
    };
    let reply = answer(&pkt[..len], q.protocol).map(|mut r| leg(f, cx, egress, &mut r, &back_q));
    let reachable = reply
        .as_ref()
        .is_some_and(|(_, o)| o.is_some_and(|(a, _)| a == q.from));
    let reply = reply.map(|(mut l, o)| {
        if let (Some((a, _)), None) = (o, &l.blocked) {
            if a != q.from {
                l.blocked = Some(Blocked {
                    code: "ASYMMETRIC_RETURN_PATH".into(),
                    drop_reason: "-".into(),
                    explanation: format!(
                        "the reply leaves by {} instead of {}: the way back does not return to the source; check the routes of the destination's side",
                        f.attachments[a as usize].id, f.attachments[q.from as usize].id
                    ),
                });
            } else if l.appliance != forward.appliance {
                // Through a GWLB one way only (or through two appliances): an inspecting
                // appliance sees half of the flow and drops it.
                l.blocked = Some(Blocked {
                    code: "GWLB_ASYMMETRIC_RETURN_PATH".into(),
                    drop_reason: "-".into(),
                    explanation: match (&forward.appliance, &l.appliance) {
                        (Some(a), None) => format!(
                            "the request goes through appliance {a} but the reply bypasses the Gateway Load Balancer endpoint: the appliance sees one direction of the flow; route the reply through the same endpoint (the destination subnet's default route to the vpce-…)"
                        ),
                        (None, Some(b)) => format!(
                            "the reply goes through appliance {b} but the request did not: the appliance sees one direction of the flow; route the request through the same Gateway Load Balancer endpoint (an edge route on the internet gateway, or the source subnet's route)"
                        ),
                        (a, b) => format!(
                            "the request and the reply go through different appliances ({} and {}); send both through one Gateway Load Balancer endpoint",
                            a.as_deref().unwrap_or("-"),
                            b.as_deref().unwrap_or("-")
                        ),
                    },
                });
            }
        }
        l
    });
    let reachable = reachable && reply.as_ref().is_some_and(|l| l.blocked.is_none());
    Trace {
        reachable,
        forward,
        reply,
    }
}

/// Room after a traced packet for what the pipeline may add (GENEVE, PROXY protocol).
const ROOM: usize = 512;
/// Appliance hops one leg may take (a chain of GWLB endpoints).
const MAX_APPLIANCE_PASSES: usize = 4;

/// One direction: the hops, and where it left (attachment, length) if it got through. A
/// packet a Gateway Load Balancer sends to an appliance is returned as a pass-through
/// appliance would (outer addresses swapped, GENEVE header echoed) and followed on.
fn leg(
    f: &Fabric,
    cx: &Ctx<'_>,
    from: AttachmentIdx,
    pkt: &mut Vec<u8>,
    q: &Question,
) -> (Leg, Option<(AttachmentIdx, usize)>) {
    let sends = match wire::parse(pkt) {
        Ok(p) if p.fragment.is_some_and(|fr| !fr.is_first()) => {
            let fr = p.fragment.expect("a fragment");
            format!(
                "sends a later fragment ({} bytes at offset {}, id {:#06x}) of {} {} -> {}",
                fr.len,
                fr.offset,
                fr.id,
                protocol_label(q.protocol, q.port),
                p.src,
                p.dst
            )
        }
        Ok(p) if p.protocol == wire::proto::TCP || p.protocol == wire::proto::UDP => format!(
            "sends {} {}:{} -> {}:{}",
            if p.protocol == wire::proto::TCP {
                "tcp"
            } else {
                "udp"
            },
            p.src,
            p.src_port,
            p.dst,
            p.dst_port
        ),
        Ok(p) => format!("sends icmp {} -> {}", p.src, p.dst),
        Err(_) => format!("sends {}", protocol_label(q.protocol, q.port)),
    };
    let mut hops = vec![Hop {
        component: kind_of(f, from).into(),
        id: f.attachments[from as usize].id.clone(),
        detail: sends,
    }];
    let mut len = pkt.len();
    pkt.resize(len + ROOM, 0);
    let mut at = from;
    let mut appliance = None;
    for pass in 0.. {
        let mut rec = Recorder::default();
        let v = process_in(f, cx, at, pkt, len, &mut rec);
        for s in &rec.steps {
            hops.extend(describe(f, s, q));
        }
        match v {
            Verdict::Forward { egress, len: out } => {
                let a = &f.attachments[egress as usize];
                if pass < MAX_APPLIANCE_PASSES {
                    if let Some(name) = echo_as_appliance(f, egress, &mut pkt[..out]) {
                        hops.push(Hop {
                            component: "gwlb_appliance".into(),
                            id: name.clone(),
                            detail: format!(
                                "receives the GENEVE packet on {} and returns it with the header echoed (trace assumes the appliance lets the flow through)",
                                a.device
                            ),
                        });
                        appliance = Some(name);
                        at = egress;
                        len = out;
                        continue;
                    }
                }
                hops.push(Hop {
                    component: kind_of(f, egress).into(),
                    id: a.id.clone(),
                    detail: format!("receives it on {}", a.device),
                });
                return (
                    Leg {
                        hops,
                        delivered_to: Some(a.id.clone()),
                        blocked: None,
                        appliance,
                    },
                    Some((egress, out)),
                );
            }
            Verdict::Local { .. } => {
                return (
                    Leg {
                        hops,
                        delivered_to: Some("vpced".into()),
                        blocked: None,
                        appliance,
                    },
                    None,
                )
            }
            Verdict::Split => {
                // Only the TUN offload path asks to split; a trace's packet is plain.
                return (
                    Leg {
                        hops,
                        delivered_to: None,
                        blocked: Some(Blocked {
                            code: "INTERNAL".into(),
                            drop_reason: "-".into(),
                            explanation:
                                "the pipeline asked to split a plain packet; this is a bug".into(),
                        }),
                        appliance,
                    },
                    None,
                );
            }
            Verdict::Drop(r) => {
                let blocked = explain(f, r, &rec, q);
                return (
                    Leg {
                        hops,
                        delivered_to: None,
                        blocked: Some(blocked),
                        appliance,
                    },
                    None,
                );
            }
        }
    }
    unreachable!("the loop returns")
}

/// If `pkt` is a GWLB node's GENEVE packet to the appliance behind `egress`, turns it into
/// the appliance's answer — outer addresses swapped, ports and GENEVE header kept, as AWS
/// requires of appliances — and returns the appliance's name.
fn echo_as_appliance(f: &Fabric, egress: AttachmentIdx, pkt: &mut [u8]) -> Option<String> {
    let AttachmentKind::Eni(e) = f.attachments[egress as usize].kind else {
        return None;
    };
    let p = wire::parse(pkt).ok()?;
    let from_node = f
        .lb_nodes
        .iter()
        .any(|n| IpAddr::V4(n.ip) == p.src && f.load_balancers[n.lb as usize].appliances.is_some());
    if !(from_node && p.protocol == wire::proto::UDP && p.dst_port == wire::geneve::PORT) {
        return None;
    }
    wire::Ipv4Packet::new_unchecked(&mut pkt[..]).swap_addrs();
    let eni = &f.enis[e as usize];
    let c = &f.snapshot.config;
    Some(
        c.instances
            .iter()
            .find(|i| i.eni_id() == eni.id)
            .map_or_else(|| eni.id.clone(), |i| i.id.clone()),
    )
}

fn kind_of(f: &Fabric, a: AttachmentIdx) -> &'static str {
    match f.attachments[a as usize].kind {
        AttachmentKind::Eni(_) => "network_interface",
        AttachmentKind::Internet(_) => "internet",
        AttachmentKind::ServiceNetwork(_) => "service_network",
        AttachmentKind::OnPremises(_) => "on_premises",
    }
}

fn protocol_label(p: Protocol, port: u16) -> String {
    match p {
        Protocol::Tcp => format!("tcp/{port}"),
        Protocol::Udp => format!("udp/{port}"),
        Protocol::Icmp => "icmp echo".into(),
    }
}

fn groups_of(f: &Fabric, set: u32) -> String {
    let c: &Config = &f.snapshot.config;
    f.snapshot.security.sets[set as usize]
        .groups
        .iter()
        .map(|&g| c.security_groups[g as usize].id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn rule_label(f: &Fabric, r: RuleRef, dir: Direction) -> String {
    let c = &f.snapshot.config;
    let g = &c.security_groups[r.group as usize];
    if r.rule == RuleRef::DEFAULT_EGRESS {
        return format!("{}: default egress rule (all traffic)", g.id);
    }
    let rules = match dir {
        Direction::Ingress => Some(&g.ingress),
        Direction::Egress => g.egress.as_ref(),
    };
    let Some(rule) = rules.and_then(|rs| rs.get(r.rule as usize)) else {
        return g.id.clone();
    };
    let peer = rule
        .cidr
        .map(|c| c.to_string())
        .or_else(|| rule.prefix_list.clone())
        .or_else(|| rule.security_group.clone())
        .unwrap_or_default();
    let ports = rule.ports.map(|p| format!(" {p}")).unwrap_or_default();
    let desc = rule
        .description
        .as_ref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    format!(
        "{} {} rule {}: {}{ports} {} {peer}{desc}",
        g.id,
        dir.as_str(),
        r.rule + 1,
        rule.protocol,
        if dir == Direction::Ingress {
            "from"
        } else {
            "to"
        }
    )
}

/// One cell of the all-pairs matrix.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pair {
    pub from: String,
    pub to: String,
    pub protocol: Protocol,
    pub port: u16,
    pub reachable: bool,
    /// The blocking code, if any.
    pub code: Option<String>,
}
