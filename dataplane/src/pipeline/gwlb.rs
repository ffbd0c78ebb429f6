//! Gateway Load Balancer endpoints: a packet routed to one is steered (by the target group's
//! stickiness) to an appliance, GENEVE-encapsulated by the load balancer's node, and what the
//! appliance returns is decapsulated and routed on from the endpoint's subnet.

use super::*;
use crate::fabric::TargetGroup;

/// The largest packet a Gateway Load Balancer carries inside GENEVE.
pub const GWLB_MTU: usize = 8500;

/// A flow's key at a GWLB endpoint: the packet's flow reduced to the target group's
/// stickiness (ports, then the protocol, left out).
#[inline]
pub(super) fn sticky_tuple(p: &Parsed, s: Stickiness) -> Tuple {
    let t = tuple(p);
    match s {
        Stickiness::FiveTuple => t,
        Stickiness::ThreeTuple => Tuple {
            sport: 0,
            dport: 0,
            ..t
        },
        Stickiness::TwoTuple => Tuple {
            proto: 0,
            sport: 0,
            dport: 0,
            ..t
        },
    }
}

/// A packet routed to a Gateway Load Balancer endpoint: the flow's appliance (tracked, or
/// chosen by the symmetric stickiness hash among the healthy appliances of the endpoint's
/// zone), GENEVE encapsulation with AWS's options by the GWLB node in that zone, and
/// routing in the appliances' VPC from the node's subnet — through the appliance's security
/// groups like any packet.
pub(super) fn to_gwlb_endpoint<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    g: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let ge = &f.gwlb_endpoints[g as usize];
    if let Err(r) = network_acl(f, cx, ge.subnet, Direction::Ingress, p, obs) {
        return Verdict::Drop(r);
    }
    ge.counters.rx(cx.lane, p.len);
    obs.step(Step::GwlbEndpoint {
        endpoint: g,
        state: ge.state,
    });
    if let Err(r) = admitted(ge.state) {
        return Verdict::Drop(r);
    }
    let Some(li) = ge.load_balancer else {
        return Verdict::Drop(DropReason::EndpointServiceNotFound);
    };
    let lb = &f.load_balancers[li as usize];
    let Some(tgi) = lb.appliances else {
        return Verdict::Drop(DropReason::NoListener);
    };
    let tg = &f.target_groups[tgi as usize];
    let Some(&node) = lb
        .nodes
        .iter()
        .find(|&&n| f.lb_nodes[n as usize].az == ge.az)
    else {
        return Verdict::Drop(DropReason::LoadBalancerNotInZone);
    };
    if cx.offload.superpacket {
        // GENEVE is per segment (8,500 bytes at most): split first.
        return Verdict::Split;
    }
    // A split superpacket's segment counts from here on (the endpoint and everything before
    // it counted the whole superpacket).
    let cx = &Ctx {
        lane: crate::stats::counted(cx.lane),
        ..*cx
    };
    if p.len > GWLB_MTU {
        return Verdict::Drop(DropReason::GwlbMtuExceeded);
    }
    let key = sticky_tuple(p, tg.stickiness);
    // With fewer than five fields the key is shared by many connections: one's FIN does not
    // end the others (its bytes still count).
    let sig = if tg.stickiness == Stickiness::FiveTuple {
        signal(cx, p)
    } else {
        TcpSignal {
            fin: false,
            rst: false,
            ..signal(cx, p)
        }
    };
    let h = conntrack::symmetric_hash(&key);
    let cross_zone = tg.cross_zone.unwrap_or(lb.cross_zone);
    let tracked = cx
        .flows
        .lookup(ge.zone, &key, sig, cx.now)
        .and_then(|fl| fl.steer);
    // A tracked flow keeps its appliance unless it failed (or left the group) and the
    // group's failover moves flows.
    let kept = tracked.filter(|s| keeps_appliance(tg, s));
    let (pick, count, fail_open) = pick_target(tg, cross_zone, &ge.az, h >> 32);
    let (steer, flow) = match kept {
        Some(s) => (s, ApplianceFlow::Tracked),
        None => {
            let Some(i) = pick.map(|i| i as usize) else {
                obs.step(Step::Appliance {
                    endpoint: g,
                    target_group: tgi,
                    node,
                    target: None,
                    cross_zone,
                    eligible: 0,
                    fail_open,
                    flow: ApplianceFlow::New,
                });
                return Verdict::Drop(no_target(tg, cross_zone));
            };
            let s = Steer {
                appliance: tg.targets[i].ip,
                target: i as u16,
                // A moved flow keeps its cookie: the flow is the same.
                cookie: tracked.map_or_else(|| flow_cookie(h, cx.now), |t| t.cookie),
                tcp_idle: tg.tcp_idle_timeout,
            };
            if let Err(e) = cx.flows.insert_steered(ge.zone, &key, s, sig, cx.now) {
                return Verdict::Drop(e.into());
            }
            let how = if tracked.is_some() {
                ApplianceFlow::Rebalanced
            } else {
                ApplianceFlow::New
            };
            (s, how)
        }
    };
    obs.step(Step::Appliance {
        endpoint: g,
        target_group: tgi,
        node,
        target: Some(u32::from(steer.target)),
        cross_zone,
        eligible: count,
        fail_open: fail_open && flow != ApplianceFlow::Tracked,
        flow,
    });
    encapsulate(f, cx, g, node, steer, h, p, buf, obs)
}

/// Whether a tracked flow keeps its appliance: yes unless the appliance failed (or left the
/// group) and the group's failover setting moves flows.
fn keeps_appliance(tg: &TargetGroup, s: &Steer) -> bool {
    let current = tg
        .targets
        .get(usize::from(s.target))
        .filter(|k| k.ip == s.appliance)
        .or_else(|| tg.targets.iter().find(|k| k.ip == s.appliance));
    match current {
        Some(k) => k.health.eligible() || tg.failover.on_unhealthy == FailoverAction::NoRebalance,
        None => tg.failover.on_deregistration == FailoverAction::NoRebalance,
    }
}

/// The packet of GWLB endpoint `g`'s flow, GENEVE-encapsulated by load-balancer node `node`
/// (outer IPv4 and UDP, AWS's options: endpoint, attachment, flow cookie) and routed to the
/// appliance `steer` names from the node's subnet.
#[allow(clippy::too_many_arguments)]
fn encapsulate<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    g: u32,
    node: u32,
    steer: Steer,
    h: u64,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let ge = &f.gwlb_endpoints[g as usize];
    let n = &f.lb_nodes[node as usize];
    let lb = &f.load_balancers[n.lb as usize];
    let Some(tg) = lb.appliances.map(|t| &f.target_groups[t as usize]) else {
        return Verdict::Drop(DropReason::NoListener);
    };
    let IpAddr::V4(appliance) = steer.appliance else {
        // Outer headers are IPv4; validation keeps GENEVE targets IPv4.
        return Verdict::Drop(DropReason::NoHealthyTarget);
    };
    if cx.offload.partial_checksum {
        // Inside GENEVE nobody would complete it.
        wire::complete_checksum(&mut buf[..p.len], p);
    }
    // The outer source port spreads flows (RFC 8926 §3.3); the appliance keeps it.
    let outer = geneve::Outer {
        src: n.ip,
        dst: appliance,
        src_port: 49152 | (h as u16 & 0x3fff),
        dst_port: geneve::PORT,
    };
    let Some(len) = geneve::encapsulate(
        buf,
        p.len,
        outer,
        (ge.option_endpoint, ge.option_attachment, steer.cookie),
    ) else {
        return Verdict::Drop(DropReason::GwlbMtuExceeded);
    };
    obs.step(Step::Encapsulated {
        node,
        appliance: steer.appliance,
        cookie: steer.cookie,
        len,
    });
    ge.counters.tx(cx.lane, p.len);
    tg.counters.tx(cx.lane, len);
    lb.counters.tx(cx.lane, len);
    if let Some(t) = tg.targets.get(usize::from(steer.target)) {
        t.counters.tx(cx.lane, len);
    }
    let q = Parsed {
        src: IpAddr::V4(n.ip),
        dst: steer.appliance,
        protocol: proto::UDP,
        len,
        l4_offset: Some(20),
        src_port: outer.src_port,
        dst_port: outer.dst_port,
        tcp_flags: 0,
        icmp_type: 0,
        icmp_code: 0,
        fragment: None,
        quoted: None,
    };
    if let Err(r) = network_acl(f, cx, n.subnet, Direction::Egress, &q, obs) {
        return Verdict::Drop(r);
    }
    route(f, cx, lb.vpc, n.route_table, &q, buf, obs)
}

/// A flow's cookie: from its hash and the time it started, so that a flow that ends and
/// starts again gets a new one.
#[inline]
pub(super) fn flow_cookie(h: u64, now: u32) -> u32 {
    (h as u32) ^ ((h >> 32) as u32).rotate_left(7) ^ now.wrapping_mul(0x9e37_79b9)
}

/// A packet an appliance sends to a GWLB node: GENEVE with the header the GWLB sent (AWS's
/// options echoed). It must belong to a flow the GWLB sent this appliance, with that flow's
/// cookie; the inner packet is then taken out and routed on from the GWLB endpoint's subnet.
pub(super) fn from_appliance<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    node: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    if p.is_fragment() {
        return Verdict::Drop(DropReason::GeneveFragment);
    }
    let (true, true, Some(l4)) = (
        p.protocol == proto::UDP,
        p.dst_port == geneve::PORT,
        p.l4_offset,
    ) else {
        return Verdict::Drop(DropReason::GeneveMalformed);
    };
    let at = l4 + 8;
    let Ok(g) = GenevePacket::new_checked(&buf[at..p.len]) else {
        return Verdict::Drop(DropReason::GeneveMalformed);
    };
    if g.unknown_critical() || g.oam() {
        return Verdict::Drop(DropReason::GeneveMalformed);
    }
    let opts = g.aws_options();
    let inner_at = at + g.header_len();
    let (Some(endpoint), Some(cookie)) = (opts.endpoint, opts.cookie) else {
        return Verdict::Drop(DropReason::GwlbUnknownFlow);
    };
    let Some(&gi) = f.gwlb_endpoint_by_option.get(&endpoint) else {
        return Verdict::Drop(DropReason::GwlbUnknownFlow);
    };
    let inner = match wire::parse(&buf[inner_at..p.len]) {
        Ok(i) => i,
        Err(e) => return Verdict::Drop(DropReason::Malformed(e)),
    };
    let ge = &f.gwlb_endpoints[gi as usize];
    let n = &f.lb_nodes[node as usize];
    let lb = &f.load_balancers[n.lb as usize];
    let Some(tgi) = lb.appliances else {
        return Verdict::Drop(DropReason::GwlbUnknownFlow);
    };
    let tg = &f.target_groups[tgi as usize];
    let key = sticky_tuple(&inner, tg.stickiness);
    let sig = if tg.stickiness == Stickiness::FiveTuple {
        signal(cx, &inner)
    } else {
        TcpSignal::default()
    };
    let steer = cx
        .flows
        .lookup(ge.zone, &key, sig, cx.now)
        .and_then(|fl| fl.steer)
        .filter(|s| s.cookie == cookie && s.appliance == p.src);
    let Some(steer) = steer else {
        return Verdict::Drop(DropReason::GwlbUnknownFlow);
    };
    if let Some(t) = tg
        .targets
        .get(usize::from(steer.target))
        .filter(|t| t.ip == p.src)
    {
        t.counters.rx(cx.lane, p.len);
    }
    obs.step(Step::Decapsulated {
        endpoint: gi,
        appliance: p.src,
        cookie,
        inner: (inner.src, inner.dst),
    });
    lb.counters.rx(cx.lane, p.len);
    tg.counters.rx(cx.lane, p.len);
    ge.counters.tx(cx.lane, inner.len);
    buf.copy_within(inner_at..inner_at + inner.len, 0);
    if let Err(r) = network_acl(f, cx, ge.subnet, Direction::Egress, &inner, obs) {
        return Verdict::Drop(r);
    }
    route_from(
        f,
        cx,
        ge.vpc,
        ge.route_table,
        &inner,
        buf,
        Via::Appliance,
        obs,
    )
}
