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
        return Trace {
            reachable: false,
            forward,
            reply: None,
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
    // Swapping the two address words leaves the header checksum as it is.
    let mut src = [0u8; 4];
    src.copy_from_slice(&pkt[12..16]);
    pkt.copy_within(16..20, 12);
    pkt[16..20].copy_from_slice(&src);
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

fn describe(f: &Fabric, s: &Step, q: &Question) -> Vec<Hop> {
    let snap = &f.snapshot;
    match *s {
        Step::SourceDestCheck { eni, passed } => {
            if passed && f.enis[eni as usize].source_dest_check {
                vec![]
            } else {
                vec![Hop {
                    component: "network_interface".into(),
                    id: f.enis[eni as usize].id.clone(),
                    detail: if passed {
                        "source/destination check off".into()
                    } else {
                        "source/destination check: the source is not this ENI's address".into()
                    },
                }]
            }
        }
        Step::SecurityGroup { set, direction: dir, outcome, .. } => vec![Hop {
            component: "security_group".into(),
            id: groups_of(f, set),
            detail: match outcome {
                SgOutcome::Tracked => format!(
                    "{}: part of a tracked flow (a reply, or a flow already allowed)",
                    dir.as_str()
                ),
                SgOutcome::Related => format!(
                    "{}: an ICMP error about a packet of a tracked flow",
                    dir.as_str()
                ),
                SgOutcome::Allowed(r) => format!("allowed by {}", rule_label(f, r, dir)),
                SgOutcome::Denied => format!("{}: no rule allows it", dir.as_str()),
            },
        }],
        Step::RouteLookup { table, route, destination: dst } => {
            let t = &snap.route_tables[table as usize];
            let ex = t.explain(&snap.config, dst);
            vec![Hop {
                component: "route_table".into(),
                id: t.id.clone(),
                detail: match route {
                    Some(i) => {
                        let r = &t.routes[i];
                        format!(
                            "{} -> {} ({} route): {}",
                            r.destination_label(),
                            r.target,
                            r.origin.class_name(),
                            ex.reason
                        )
                    }
                    None => ex.reason,
                },
            }]
        }
        Step::Translated { igw, from, to, source } => vec![Hop {
            component: "internet_gateway".into(),
            id: f.igws[igw as usize].id.clone(),
            detail: format!(
                "{} {from} translated to {to}",
                if source { "source" } else { "destination" }
            ),
        }],
        Step::GatewayEndpoint { endpoint: ge, allowed } => vec![Hop {
            component: "vpc_endpoint".into(),
            id: f.gateway_endpoints[ge as usize].id.clone(),
            detail: if allowed {
                "gateway endpoint: into the service's network, addresses unchanged".into()
            } else {
                "gateway endpoint: its policy does not allow this destination".into()
            },
        }],
        Step::InterfaceEndpoint { eni: x, tracked, .. } => {
            let eni = &f.endpoint_enis[x as usize];
            let ep = &f.endpoints[eni.endpoint as usize];
            vec![Hop {
                component: "vpc_endpoint".into(),
                id: ep.id.clone(),
                detail: format!(
                    "interface endpoint ENI {} ({}, {}); connection {}{}",
                    eni.id,
                    eni.ip,
                    eni.az,
                    ep.state,
                    if tracked { "; flow already translated" } else { "" }
                ),
            }]
        }
        Step::Listener { load_balancer: lb, port, target_group: tg } => vec![Hop {
            component: "load_balancer_listener".into(),
            id: f.load_balancers[lb as usize].id.clone(),
            detail: format!(
                "listener on port {port} forwards to target group {}",
                f.target_groups[tg as usize].id
            ),
        }],
        Step::LoadBalancerSecurityGroup { load_balancer: lb, set, outcome } => vec![Hop {
            component: "security_group".into(),
            id: groups_of(f, set),
            detail: format!(
                "{}'s groups, enforced on PrivateLink traffic (source: the consumer's address {}): {}",
                f.load_balancers[lb as usize].id,
                q.src,
                match outcome {
                    SgOutcome::Allowed(r) => format!("allowed by {}", rule_label(f, r, Direction::Ingress)),
                    _ => "no inbound rule allows it".into(),
                }
            ),
        }],
        Step::Target { target_group: tg, node, target, cross_zone, eligible } => {
            let g = &f.target_groups[tg as usize];
            let n = &f.lb_nodes[node as usize];
            vec![Hop {
                component: "load_balancer_target".into(),
                id: match target {
                    Some(t) => {
                        let t = &g.targets[t as usize];
                        format!("{}:{}", t.ip, t.port)
                    }
                    None => g.id.clone(),
                },
                detail: match target {
                    Some(t) => {
                        let t = &g.targets[t as usize];
                        format!(
                            "node {} ({}) picks target {} in {} ({}) of {eligible} eligible; cross-zone {}",
                            n.ip,
                            n.az,
                            t.ip,
                            t.az,
                            t.health.state().as_str(),
                            if cross_zone { "on" } else { "off" }
                        )
                    }
                    None => format!(
                        "node {} ({}) finds no eligible target; cross-zone {}; targets: {}",
                        n.ip,
                        n.az,
                        if cross_zone { "on" } else { "off" },
                        g.targets
                            .iter()
                            .map(|t| format!("{} in {} {}", t.ip, t.az, t.health.state().as_str()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
            }]
        }
        Step::Nat { from, to } => vec![Hop {
            component: "nat".into(),
            id: format!("{}:{}", to.0, to.1),
            detail: format!(
                "{}:{} -> {}:{} becomes {}:{} -> {}:{}",
                from.0, from.1, from.2, from.3, to.0, to.1, to.2, to.3
            ),
        }],
        Step::GwlbEndpoint { endpoint: g, state } => {
            let ge = &f.gwlb_endpoints[g as usize];
            vec![Hop {
                component: "vpc_endpoint".into(),
                id: ge.id.clone(),
                detail: format!(
                    "Gateway Load Balancer endpoint ENI {} ({}, {}); connection {state}",
                    ge.eni, ge.ip, ge.az
                ),
            }]
        }
        Step::Appliance {
            endpoint,
            target_group,
            node,
            target,
            cross_zone,
            eligible,
            flow,
        } => {
            let ge = &f.gwlb_endpoints[endpoint as usize];
            let g = &f.target_groups[target_group as usize];
            let n = &f.lb_nodes[node as usize];
            let lb = &f.load_balancers[n.lb as usize];
            let sticky = match g.stickiness {
                control::model::Stickiness::FiveTuple => "5-tuple",
                control::model::Stickiness::ThreeTuple => "3-tuple",
                control::model::Stickiness::TwoTuple => "2-tuple",
            };
            vec![Hop {
                component: "gateway_load_balancer".into(),
                id: lb.id.clone(),
                detail: match target.map(|t| &g.targets[t as usize]) {
                    Some(t) => format!(
                        "node {} ({}) {} appliance {} in {} ({}){}; {sticky} stickiness, cross-zone {}",
                        n.ip,
                        n.az,
                        match flow {
                            ApplianceFlow::New => "picks",
                            ApplianceFlow::Tracked => "keeps the flow on",
                            ApplianceFlow::Rebalanced => "moves the flow (its appliance failed; rebalance) to",
                        },
                        t.ip,
                        t.az,
                        t.health.state().as_str(),
                        if flow == ApplianceFlow::New {
                            format!(" of {eligible} eligible")
                        } else {
                            String::new()
                        },
                        if cross_zone { "on" } else { "off" }
                    ),
                    None => format!(
                        "node {} ({}) finds no healthy appliance for {}'s zone {}; cross-zone {}; appliances of {}: {}",
                        n.ip,
                        n.az,
                        ge.id,
                        ge.az,
                        if cross_zone { "on" } else { "off" },
                        g.id,
                        g.targets
                            .iter()
                            .map(|t| format!("{} in {} {}", t.ip, t.az, t.health.state().as_str()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
            }]
        }
        Step::Encapsulated { node, appliance, cookie, .. } => {
            let n = &f.lb_nodes[node as usize];
            vec![Hop {
                component: "geneve".into(),
                id: format!("{} -> {appliance}", n.ip),
                detail: format!(
                    "encapsulated: outer {} -> {appliance} udp/6081, AWS options (endpoint, attachment, flow cookie {cookie:#010x})",
                    n.ip
                ),
            }]
        }
        Step::Decapsulated { endpoint: g, appliance, cookie, .. } => vec![Hop {
            component: "geneve".into(),
            id: format!("{appliance} -> {}", f.gwlb_endpoints[g as usize].id),
            detail: format!(
                "returned by appliance {appliance} with cookie {cookie:#010x} (a flow the GWLB sent it); decapsulated and routed on from {}'s subnet",
                f.gwlb_endpoints[g as usize].id
            ),
        }],
        Step::Deliver { vpc, address, owner } => vec![Hop {
            component: "vpc".into(),
            id: f.vpcs[vpc as usize].id.clone(),
            detail: match owner {
                Some(Owner::Attachment(a)) => {
                    format!("{address} belongs to {}", f.attachments[a as usize].id)
                }
                Some(Owner::EndpointEni(x)) => format!(
                    "{address} is interface endpoint ENI {}",
                    f.endpoint_enis[x as usize].id
                ),
                Some(Owner::LoadBalancerNode(n)) => format!(
                    "{address} is a node of {}",
                    f.load_balancers[f.lb_nodes[n as usize].lb as usize].id
                ),
                Some(Owner::Virtual) => format!("{address} belongs to a NAT gateway"),
                Some(Owner::Resolver(_)) => format!("{address} is the VPC's resolver"),
                None => format!("nothing in the VPC has {address}"),
            },
        }],
        // Where the packet came in, its headers and the verdict are the leg's own fields.
        Step::Ingress { .. } | Step::Parsed(_) | Step::Verdict(_) => Vec::new(),
    }
}

/// The code and the sentence for a drop.
fn explain(f: &Fabric, r: DropReason, rec: &Recorder, q: &Question) -> Blocked {
    let last_route = rec.steps.iter().rev().find_map(|s| match *s {
        Step::RouteLookup {
            table: t,
            route,
            destination: dst,
        } => Some((t, route, dst)),
        _ => None,
    });
    let last_sg = rec.steps.iter().rev().find_map(|s| match *s {
        Step::SecurityGroup {
            set,
            direction: dir,
            outcome: SgOutcome::Denied,
            ..
        } => Some((set, dir)),
        Step::LoadBalancerSecurityGroup {
            set,
            outcome: SgOutcome::Denied,
            ..
        } => Some((set, Direction::Ingress)),
        _ => None,
    });
    let endpoint = rec.steps.iter().rev().find_map(|s| match *s {
        Step::InterfaceEndpoint { eni: x, .. } => {
            Some(&f.endpoints[f.endpoint_enis[x as usize].endpoint as usize])
        }
        _ => None,
    });
    let lb = rec.steps.iter().rev().find_map(|s| match *s {
        Step::Listener {
            load_balancer: lb,
            target_group: tg,
            ..
        } => Some((&f.load_balancers[lb as usize], tg)),
        _ => None,
    });
    let gwlb = rec.steps.iter().rev().find_map(|s| match *s {
        Step::GwlbEndpoint { endpoint: g, .. } => Some(&f.gwlb_endpoints[g as usize]),
        _ => None,
    });
    let appliances = rec.steps.iter().rev().find_map(|s| match *s {
        Step::Appliance {
            target_group, node, ..
        } => Some((
            &f.load_balancers[f.lb_nodes[node as usize].lb as usize],
            &f.target_groups[target_group as usize],
        )),
        _ => None,
    });
    let endpoint_id = endpoint
        .map(|e| e.id.as_str())
        .or(gwlb.map(|g| g.id.as_str()));
    let table = |t: u32| f.snapshot.route_tables[t as usize].id.clone();
    let what = protocol_label(q.protocol, q.port);
    let (code, explanation) = match r {
        DropReason::SourceDestCheck => (
            r.code(),
            "the ENI only sends from its own addresses; send from one of them or turn its source/destination check off".to_string(),
        ),
        DropReason::NoRoute => (
            r.code(),
            match last_route {
                Some((t, _, dst)) => format!("route table {} has no route covering {dst}; add one (to an internet gateway, an endpoint, a peering…)", table(t)),
                None => "no route covers the destination".into(),
            },
        ),
        DropReason::BlackholeRoute => (
            r.code(),
            match last_route {
                Some((t, Some(i), _)) => {
                    let rt = &f.snapshot.route_tables[t as usize];
                    format!("route {} in {} is a blackhole (its target is gone or it was written so); replace it", rt.routes[i].destination_label(), rt.id)
                }
                _ => "the route is a blackhole".into(),
            },
        ),
        DropReason::NoSuchAddress => (
            r.code(),
            // The address last routed: after a load balancer's rewrite, the target's.
            format!(
                "nothing in the VPC owns {}; check the address",
                last_route.map_or(q.dst, |(_, _, dst)| dst)
            ),
        ),
        DropReason::NoPublicAddress => (
            r.code(),
            format!("{} has no public IPv4 address to leave through the internet gateway with; give the instance one, or route through a NAT gateway", q.src),
        ),
        DropReason::UnknownPublicAddress => (
            r.code(),
            format!("{} is not the public address of anything behind the internet gateway", q.dst),
        ),
        DropReason::EndpointPolicy => (
            r.code(),
            format!("the gateway endpoint's policy does not allow {}; widen allowed_destinations", q.dst),
        ),
        DropReason::NoReturnPath => (
            r.code(),
            "the service network sent to an address no gateway endpoint of the service covers".into(),
        ),
        DropReason::SecurityGroupIngress | DropReason::SecurityGroupEgress => {
            let dir = if r == DropReason::SecurityGroupIngress { "inbound" } else { "outbound" };
            let groups = last_sg.map(|(s, _)| groups_of(f, s)).unwrap_or_default();
            (
                r.code(),
                format!("no {dir} rule of {groups} allows {what} {} {}; add one", if dir == "inbound" { "from" } else { "to" }, if dir == "inbound" { q.src } else { q.dst }),
            )
        }
        DropReason::LoadBalancerSecurityGroup => {
            let groups = last_sg.map(|(s, _)| groups_of(f, s)).unwrap_or_default();
            let name = lb.map(|(l, _)| l.id.clone()).unwrap_or_default();
            (
                r.code(),
                format!("{name} enforces its security groups ({groups}) on PrivateLink traffic and no inbound rule allows {what} from the consumer's address {}: add one, or turn enforce_security_group_inbound_rules_on_private_link_traffic off (the endpoint's own groups then control access)", q.src),
            )
        }
        DropReason::EndpointConnectionNotAccepted => (
            r.code(),
            format!("the endpoint service has not accepted {}'s connection; accept it: vpcectl endpoint-connections accept {}", endpoint_id.unwrap_or("the endpoint"), endpoint_id.unwrap_or("vpce-…")),
        ),
        DropReason::EndpointConnectionRejected => (
            r.code(),
            format!("{}'s connection is {}; the service must accept it again", endpoint_id.unwrap_or("the endpoint"), endpoint.map(|e| e.state).or(gwlb.map(|g| g.state)).map_or("rejected".to_string(), |s| s.to_string())),
        ),
        DropReason::EndpointServiceNotFound => (
            r.code(),
            "the endpoint's service is not in this configuration".into(),
        ),
        DropReason::EndpointProtocol => (
            r.code(),
            "interface endpoints carry TCP and UDP only (they do not answer ping)".into(),
        ),
        DropReason::NoListener => (
            r.code(),
            format!("no listener of the service's load balancers takes {what}; add one or use a listener's port"),
        ),
        DropReason::LoadBalancerNotInZone => (
            r.code(),
            "the load balancer has no node in the endpoint ENI's availability zone; add a subnet mapping in that zone".into(),
        ),
        DropReason::NoHealthyTargetInZone if appliances.is_some() => {
            let (lb, tg) = appliances.expect("checked");
            let az = gwlb.map(|g| g.az.clone()).unwrap_or_default();
            (
                "GWLB_NO_HEALTHY_APPLIANCE_IN_ZONE",
                format!("{}'s node in {az} has no healthy appliance of {} in its zone and cross-zone load balancing is off, so the zone's traffic is dropped: bring an appliance in {az} back (vpcectl show target-health), register one there, or turn cross_zone on", lb.id, tg.id),
            )
        }
        DropReason::NoHealthyTarget if appliances.is_some() => {
            let (lb, tg) = appliances.expect("checked");
            (
                "GWLB_NO_HEALTHY_APPLIANCE",
                format!("no appliance of {} behind {} is healthy; check the appliances and their health checks (vpcectl show target-health)", tg.id, lb.id),
            )
        }
        DropReason::NoHealthyTargetInZone => {
            let name = lb.map(|(l, _)| l.id.clone()).unwrap_or_default();
            let tg = lb.map(|(_, t)| f.target_groups[t as usize].id.clone()).unwrap_or_default();
            let az = endpoint
                .and_then(|e| f.endpoint_enis.iter().find(|x| f.endpoints[x.endpoint as usize].id == e.id))
                .map(|x| x.az.clone())
                .unwrap_or_default();
            (
                r.code(),
                format!("{name}'s node in {az} has no healthy target of {tg} in its zone and cross-zone load balancing is off: turn cross_zone on (on the load balancer or the target group), or register a target in {az}"),
            )
        }
        DropReason::NoHealthyTarget => (
            r.code(),
            format!("no target of {} is healthy; check the targets and their health checks (vpcectl show target-health)", lb.map(|(_, t)| f.target_groups[t as usize].id.clone()).unwrap_or_default()),
        ),
        DropReason::NatPortsExhausted => (
            r.code(),
            "every source port tried on the load balancer node is taken".into(),
        ),
        DropReason::FlowTableFull => (
            r.code(),
            "the flow table is full; raise --max-flows".into(),
        ),
        DropReason::FlowQuotaExceeded => (
            r.code(),
            "this interface already tracks as many flows as one interface may (its connection-tracking allowance); raise --max-flows-per-eni or let idle flows expire".into(),
        ),
        DropReason::FragmentOverlap => (
            r.code(),
            "a fragment overlapped a part of its datagram already forwarded; the whole datagram is discarded (RFC 5722)".into(),
        ),
        DropReason::FragmentOutOfOrder => (
            r.code(),
            format!("a later fragment came before its datagram's first fragment, or more than {} s after it; only the first fragment carries the ports a security group judges, so later fragments follow it", crate::fragments::TIMEOUT),
        ),
        DropReason::Malformed(crate::wire::WireError::TinyFragment) => (
            r.code(),
            "a first fragment must hold the whole transport header (RFC 1858)".into(),
        ),
        DropReason::NoFlow => (
            r.code(),
            "the load balancer node only accepts packets of flows it translated".into(),
        ),
        DropReason::ProxyProtocolNoRoom => (
            r.code(),
            "no room to insert the PROXY protocol header into the segment".into(),
        ),
        DropReason::ResolverProtocol => (
            r.code(),
            "the resolver answers DNS on port 53, UDP or TCP".into(),
        ),
        DropReason::GwlbMtuExceeded => (
            r.code(),
            format!("a Gateway Load Balancer carries packets of at most {} bytes inside GENEVE", crate::pipeline::GWLB_MTU),
        ),
        DropReason::GeneveFragment => (
            r.code(),
            "the appliance fragmented the GENEVE packet; the GWLB drops fragments (raise the appliance's MTU to 8500 + 68)".into(),
        ),
        DropReason::GeneveMalformed => (
            r.code(),
            "the GWLB node takes GENEVE on udp/6081 with AWS's options echoed, and health-check replies".into(),
        ),
        DropReason::GwlbUnknownFlow => (
            r.code(),
            "an appliance sent a flow the Gateway Load Balancer never sent it (appliances cannot start flows), or changed the flow cookie".into(),
        ),
        DropReason::GwlbRouteLoop => (
            r.code(),
            format!("the packet returned by the appliance is routed to a Gateway Load Balancer endpoint again by {}; the endpoint's subnet needs a route onward (local, an internet gateway…), not back to an endpoint", last_route.map(|(t, _, _)| table(t)).unwrap_or_default()),
        ),
        DropReason::LocalServiceBusy => (
            r.code(),
            "the resolver (or health checker) is flooded and its queue is full; a configuration alone never gets here".into(),
        ),
        DropReason::NotRoutable => (
            r.code(),
            "multicast, broadcast, link-local and loopback addresses do not cross a VPC".into(),
        ),
        DropReason::Unsupported(_) => (
            r.code(),
            "this build of vpced does not forward along this target yet".into(),
        ),
        DropReason::Malformed(_) | DropReason::EgressError => (
            r.code(),
            "the synthesized packet was refused; this is a bug".into(),
        ),
    };
    Blocked {
        code: code.into(),
        drop_reason: r.as_str().into(),
        explanation,
    }
}

/// Resolves `--from` and `--to` into a question. `from`: an instance (`i-…`), an ENI or any
/// attachment id, an address, or `internet`; `to`: an instance, ENI, endpoint (`vpce-…`),
/// address or DNS name (private DNS as the source's VPC sees it). Returns the question and,
/// for a name, how it was resolved.
pub fn resolve(
    f: &Fabric,
    from: &str,
    to: &str,
    protocol: Protocol,
    port: u16,
) -> Result<(Question, Option<String>), String> {
    let c = &f.snapshot.config;
    // An instance by id or Name tag, or any attachment by id.
    let eni_attachment = |id: &str| -> Option<AttachmentIdx> {
        let eni = c
            .instances
            .iter()
            .find(|i| i.id == id)
            .or_else(|| c.instances.iter().find(|i| i.name.as_deref() == Some(id)))
            .map(|i| i.eni_id())
            .unwrap_or_else(|| id.to_string());
        f.attachment(&eni)
    };
    let owner_of = |a: IpAddr| -> Option<AttachmentIdx> {
        f.vpcs.iter().find_map(|v| match v.owners.get(&a) {
            Some(Owner::Attachment(x)) => Some(*x),
            _ => None,
        })
    };
    let from_internet = from == "internet" || from == "0.0.0.0/0";
    // The source's VPC (for private DNS and for an instance's public address).
    let src_att = if from_internet {
        None
    } else if let Ok(a) = from.parse::<IpAddr>() {
        owner_of(a)
    } else {
        Some(eni_attachment(from).ok_or_else(|| {
            format!("--from {from}: no instance, network interface or attachment with that id (or write an address, or `internet`)")
        })?)
    };
    let src_vpc = src_att.and_then(|a| match f.attachments[a as usize].kind {
        AttachmentKind::Eni(e) => Some(f.enis[e as usize].vpc),
        _ => None,
    });
    // The destination address.
    let mut how = None;
    let dst: IpAddr = if let Ok(a) = to.parse::<IpAddr>() {
        a
    } else if let Some(e) = c.endpoints.iter().find(|e| e.id == to) {
        match e.network_interfaces.first() {
            Some(n) => IpAddr::V4(n.private_ip),
            None => c
                .aws_services
                .iter()
                .find(|s| s.name == e.service)
                .and_then(|s| s.service_addresses.iter().find(|a| a.is_ipv4()).copied())
                .ok_or_else(|| {
                    format!(
                        "--to {to}: the endpoint's service has no address in this configuration"
                    )
                })?,
        }
    } else if let Some(a) = eni_attachment(to) {
        let AttachmentKind::Eni(e) = f.attachments[a as usize].kind else {
            return Err(format!("--to {to}: not an instance or network interface"));
        };
        let eni = &f.enis[e as usize];
        match (from_internet, eni.public_ipv4) {
            (true, Some(p)) => IpAddr::V4(p),
            _ => IpAddr::V4(eni.ipv4[0]),
        }
    } else if to.contains('.') {
        let (a, h) = resolve_name(f, to, src_vpc)?;
        how = Some(h);
        a
    } else {
        return Err(format!(
            "--to {to}: no instance, network interface or endpoint with that id, and not an address or a DNS name"
        ));
    };
    // The source attachment and address.
    let (att, src) = if from_internet {
        let vpc = f
            .vpcs
            .iter()
            .position(|v| v.owners.contains_key(&dst) || v.cidrs.iter().any(|n| n.contains(&dst)));
        let igw = f
            .igws
            .iter()
            .find(|g| vpc.is_none_or(|v| g.vpc as usize == v))
            .or(f.igws.first())
            .ok_or("--from internet: the configuration has no internet gateway")?;
        let src = if dst.is_ipv4() {
            IpAddr::from([198, 51, 100, 7])
        } else {
            "2001:db8:feed::7".parse().expect("valid")
        };
        (igw.attachment, src)
    } else if let Ok(a) = from.parse::<IpAddr>() {
        match src_att {
            Some(x) => (x, a),
            None => {
                // An outside address: it comes from the internet.
                let igw = f.igws.first().ok_or_else(|| {
                    format!("--from {from}: no ENI has this address and there is no internet gateway to come from")
                })?;
                (igw.attachment, a)
            }
        }
    } else {
        let x = src_att.expect("resolved above");
        let AttachmentKind::Eni(e) = f.attachments[x as usize].kind else {
            return Err(format!(
                "--from {from}: give an instance, a network interface, an address or `internet`"
            ));
        };
        let eni = &f.enis[e as usize];
        let src = match dst {
            IpAddr::V4(_) => IpAddr::V4(eni.ipv4[0]),
            IpAddr::V6(_) => IpAddr::V6(eni.ipv6.ok_or_else(|| {
                format!("--from {from}: the ENI has no IPv6 address to reach {dst} with")
            })?),
        };
        (x, src)
    };
    Ok((
        Question {
            from: att,
            src,
            dst,
            protocol,
            port,
            fragmented: false,
        },
        how,
    ))
}

/// A name as the VPC's resolver answers it for a client in `vpc`: the private answer of
/// [`control::dns::PrivateDns`] — the very tables the resolver answers from — else the public
/// answer the configuration knows (an AWS service's addresses).
fn resolve_name(f: &Fabric, name: &str, vpc: Option<u32>) -> Result<(IpAddr, String), String> {
    let c = &f.snapshot.config;
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let matches = |pattern: &str| control::dns::name_matches(pattern, &name);
    if let Some(v) = vpc {
        let vpc_id = &f.vpcs[v as usize].id;
        if let Some(a) = f
            .snapshot
            .dns
            .resolve(vpc_id, &name, control::dns::QueryType::A)
        {
            if let (Some(addr), Some(last)) = (a.addresses().first().copied(), a.chain.last()) {
                let via: Vec<String> = a.chain.iter().map(|r| r.name.clone()).collect();
                return Ok((
                    addr,
                    format!(
                        "{name} answered by the resolver of {vpc_id} from {} ({}): {addr}",
                        last.source,
                        via.join(" -> ")
                    ),
                ));
            }
        }
    }
    for s in &c.aws_services {
        if s.private_dns_names.iter().any(|n| matches(n)) {
            if let Some(a) = s.service_addresses.iter().find(|a| a.is_ipv4()) {
                return Ok((
                    *a,
                    format!(
                        "{name}: no private answer in this VPC; the public answer for {}: {a}",
                        s.name
                    ),
                ));
            }
        }
    }
    Err(format!(
        "cannot resolve {name}: no private DNS name, hosted zone record or known service matches"
    ))
}

/// A copy of a running fabric for tracing: same snapshot and the same targets' health, fresh
/// counters — a trace must not count as traffic.
pub fn detached(live: &Fabric) -> Result<Fabric, crate::fabric::FabricError> {
    let copy = Fabric::build(
        live.snapshot.clone(),
        std::sync::Arc::new(crate::stats::Registry::default()),
    )?;
    for (tg, live_tg) in copy.target_groups.iter().zip(&live.target_groups) {
        for (t, live_t) in tg.targets.iter().zip(&live_tg.targets) {
            t.health.set(live_t.health.state());
        }
    }
    Ok(copy)
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

/// Every instance to every endpoint: interface endpoints on the first listener port of their
/// service's load balancers (443 for AWS services), gateway endpoints to the service's first
/// address on 443.
pub fn all_pairs(f: &Fabric) -> Vec<Pair> {
    let c = &f.snapshot.config;
    let mut out = Vec::new();
    for i in &c.instances {
        for e in &c.endpoints {
            let port = c
                .endpoint_services
                .iter()
                .find(|s| s.service_name(&c.region) == e.service)
                .and_then(|s| s.load_balancers.first())
                .and_then(|lb| c.load_balancers.iter().find(|l| &l.id == lb))
                .and_then(|l| l.listeners.first())
                .and_then(|l| l.port)
                .unwrap_or(443);
            let (reachable, code) = match resolve(f, &i.id, &e.id, Protocol::Tcp, port) {
                Ok((q, _)) => {
                    let t = trace(f, &q);
                    let code = t
                        .forward
                        .blocked
                        .as_ref()
                        .or(t.reply.as_ref().and_then(|r| r.blocked.as_ref()))
                        .map(|b| b.code.clone());
                    (t.reachable, code)
                }
                Err(_) => (false, Some("CANNOT_RESOLVE".into())),
            };
            out.push(Pair {
                from: i.id.clone(),
                to: e.id.clone(),
                protocol: Protocol::Tcp,
                port,
                reachable,
                code,
            });
        }
    }
    out
}
