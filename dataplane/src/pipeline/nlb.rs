//! A network load balancer's own clients: traffic addressed to a node of an NLB (from its VPC,
//! a peered VPC, through a transit gateway), not through an interface endpoint.
//!
//! A new TCP or UDP flow to a node's listener port passes the load balancer's security groups
//! (when it has some: AWS evaluates them on every client's traffic), takes a target as
//! PrivateLink flows do — in the node's zone unless cross-zone is on, failing open when no
//! target is healthy — and is translated: the source becomes the node's address and a port of
//! its own, the destination the target — what AWS does with client IP preservation off (its
//! default for IP targets of TCP groups; `preserve_client_ip = false`). The client's later
//! packets are found in the node's client zone; the target's replies in the node's zone,
//! translated back to come from the node and routed from its subnet.
//!
//! With **client IP preservation** (AWS's default for instance targets and UDP groups) only
//! the destination changes: the target sees the client's address — its security groups must
//! allow the clients, as AWS says. Its replies are addressed to the client, so they are caught
//! where they leave the target's ENI (`preserved_reply`): the flow is tracked in the ENI's
//! zone with the way back, and the reply leaves as from the node, routed from the node's
//! subnet. A client that is itself the chosen target fails, as AWS documents: "NAT loopback,
//! also known as hairpinning, is not supported when client IP preservation is enabled"
//! (`ELB_HAIRPIN_WITH_CLIENT_IP_PRESERVATION`). Across families (an IPv6 client, an IPv4
//! group) the address cannot be kept and the flow is translated as without preservation.

use super::privatelink::{flow_hash, open_flow, tracked_flow};
use super::*;

/// A client's packet to node `node` that no translation knows yet: `None` when it opens no
/// flow (not a listener's, not a first packet), for the caller to treat otherwise.
pub(super) fn new_client_flow<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    node: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Option<Verdict> {
    let n = &f.lb_nodes[node as usize];
    let opens = match p.protocol {
        proto::TCP => p.tcp_flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN,
        proto::UDP => true,
        _ => false,
    };
    let listener = listener_of(f, n.lb, p)?;
    if !opens || p.is_fragment() {
        return None;
    }
    obs.step(Step::Listener {
        load_balancer: n.lb,
        port: listener.port,
        target_group: listener.target_group,
    });
    let drop = |r| Some(Verdict::Drop(r));
    if let Err(r) = load_balancer_groups(f, cx, n.lb, false, p, obs) {
        return drop(r);
    }
    let h = flow_hash(&tuple(p));
    let ti = match choose_target(f, listener, node, h, obs) {
        Ok(ti) => ti,
        Err(r) => return drop(r),
    };
    let tg = &f.target_groups[listener.target_group as usize];
    let target = &tg.targets[ti as usize];
    if target.preserve_client_ip && target.ip.is_ipv4() == p.is_ipv4() {
        let kept = preserved_flow(f, cx, node, listener.target_group, ti, p, buf, obs);
        return Some(kept.unwrap_or_else(Verdict::Drop));
    }
    let opened = open_flow(
        f,
        cx,
        node,
        listener.target_group,
        ti,
        n.client_zone,
        "",
        h,
        p,
        buf,
        obs,
    );
    Some(opened.unwrap_or_else(|v| v))
}

/// A client's later packet to node `node`, if its flow is known: translated as the first was
/// and sent on to the target.
pub(super) fn client_flow<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    node: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Option<Verdict> {
    let n = &f.lb_nodes[node as usize];
    let sig = signal(cx, p);
    let flow = cx.flows.lookup(n.client_zone, &tuple(p), sig, cx.now)?;
    let nat = flow.nat.filter(|_| flow.from_initiator)?;
    if let Some(rst) = unhealthy_reset(f, cx, &nat, n.client_zone, p, buf) {
        return Some(to_target(f, cx, node, &rst, buf, obs));
    }
    Some(tracked_flow(f, cx, "", nat, sig, p, buf, obs))
}

/// A new flow to target `ti` of group `tgi` that keeps the client's address: the destination
/// becomes the target, the flow is tracked in the node's client zone (the client's later
/// packets) and — once the packet is on its way — in the target ENI's zone with the way back
/// (the target's replies, caught by [`preserved_reply`]).
#[allow(clippy::too_many_arguments)]
fn preserved_flow<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    node: u32,
    tgi: u32,
    ti: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Result<Verdict, DropReason> {
    let n = &f.lb_nodes[node as usize];
    let tg = &f.target_groups[tgi as usize];
    let target = &tg.targets[ti as usize];
    if target.ip == p.src {
        return Err(DropReason::LoadBalancerHairpin);
    }
    let eni_zone = target
        .eni_zone
        .ok_or(DropReason::Unsupported(Unsupported::ClientIpPreservation))?;
    let sig = signal(cx, p);
    let fwd = Nat {
        src: p.src,
        sport: p.src_port,
        dst: target.ip,
        dport: target.port,
        peer_zone: n.zone,
        proxy: None,
    };
    let back = Nat {
        src: p.dst,
        sport: p.dst_port,
        dst: p.src,
        dport: p.src_port,
        peer_zone: n.client_zone,
        proxy: None,
    };
    cx.flows
        .insert(n.client_zone, &tuple(p), Some(fwd), sig, cx.now)?;
    f.load_balancers[n.lb as usize].counters.rx(cx.lane, p.len);
    tg.counters.tx(cx.lane, p.len);
    target.counters.tx(cx.lane, p.len);
    let q = rewrite(p, buf, (p.src, p.src_port), (target.ip, target.port), obs)?;
    let v = to_target(f, cx, node, &q, buf, obs);
    if matches!(v, Verdict::Forward { .. }) {
        // After the target's security groups judged the client (and tracked the flow): the
        // entry now carries the way back.
        cx.flows
            .insert(eni_zone, &tuple(&q), Some(back), sig, cx.now)?;
    }
    Ok(v)
}

/// A packet leaving target ENI `eni` that answers a preserved client's flow (`answers`, as
/// its security groups' lookup found; looked up here when the ENI has no group — the caller
/// asks only then or when `answers`): from the node's address and listener port, routed from
/// the node's subnet to the client, as any reply to the load balancer's own clients
/// (`to_client`). `None` for any other packet.
pub(super) fn preserved_reply<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    eni: &crate::fabric::Eni,
    answers: bool,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Option<Verdict> {
    let sig = signal(cx, p);
    let t = tuple(p);
    if !answers && !cx.flows.lookup_reply(eni.zone, &t, sig, cx.now)? {
        return None;
    }
    let nat = cx.flows.peek_nat(eni.zone, &t, cx.now)?;
    let &node = f.lb_node_by_client_zone.get(&nat.peer_zone)?;
    Some(to_client(f, cx, node, nat, sig, p, buf, obs))
}
