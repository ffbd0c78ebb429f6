//! A network load balancer's own clients: traffic addressed to a node of an NLB (from its VPC,
//! a peered VPC, through a transit gateway), not through an interface endpoint.
//!
//! A new TCP or UDP flow to a node's listener port passes the load balancer's security groups
//! (when it has some: AWS evaluates them on every client's traffic), takes a target as
//! PrivateLink flows do — in the node's zone unless cross-zone is on, failing open when no
//! target is healthy — and is translated: the source becomes the node's address and a port of
//! its own, the destination the target — what AWS does with client IP preservation off (its
//! default for IP targets of TCP groups; `preserve_client_ip = false`). A target that would keep
//! the client's address (AWS's default for instance targets and UDP) is not modelled yet: such
//! flows are dropped as `CLIENT_IP_PRESERVATION_NOT_SUPPORTED`, saying what to set. The
//! client's later packets are found in the node's client zone; the target's replies in the
//! node's zone, translated back to come from the node and routed from its subnet.

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
    if !opens || p.is_fragment() || !p.is_ipv4() {
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
    if tg.targets[ti as usize].preserve_client_ip {
        return drop(DropReason::Unsupported(Unsupported::ClientIpPreservation));
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
    Some(tracked_flow(f, cx, "", nat, sig, p, buf, obs))
}
