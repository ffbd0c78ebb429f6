//! What network and gateway load balancers share: endpoint connection states, the target
//! choice, and packets that reach a node (a target's reply, an appliance's return, a health
//! probe's answer).

use super::*;

/// Whether an endpoint in connection state `state` carries new flows.
#[inline]
pub(super) fn admitted(state: ConnectionState) -> Result<(), DropReason> {
    match state {
        ConnectionState::Available => Ok(()),
        ConnectionState::PendingAcceptance | ConnectionState::Pending => {
            Err(DropReason::EndpointConnectionNotAccepted)
        }
        _ => Err(DropReason::EndpointConnectionRejected),
    }
}

/// The listener of load balancer `li` for the packet's protocol and port.
pub(super) fn listener_of<'f>(
    f: &'f Fabric,
    li: u32,
    p: &Parsed,
) -> Option<&'f crate::fabric::Listener> {
    let tcp = p.protocol == proto::TCP;
    f.load_balancers[li as usize]
        .listeners
        .iter()
        .find(|k| k.port == p.dst_port && if tcp { k.tcp } else { k.udp })
}

/// A new flow's first packet against load balancer `li`'s security groups, when they apply:
/// always to its own clients, to PrivateLink traffic (`privatelink`) only when enforced there
/// (AWS evaluates the client's address against the inbound rules). Observed and counted.
pub(super) fn load_balancer_groups<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    li: u32,
    privatelink: bool,
    p: &Parsed,
    obs: &mut O,
) -> Result<(), DropReason> {
    let lb = &f.load_balancers[li as usize];
    let Some(set) = lb
        .sg
        .filter(|_| !privatelink || lb.enforce_sg_on_private_link)
    else {
        return Ok(());
    };
    let rule = check_rules(f, set, Direction::Ingress, p);
    obs.step(Step::LoadBalancerSecurityGroup {
        load_balancer: li,
        set,
        outcome: rule.map_or(SgOutcome::Denied, SgOutcome::Allowed),
        privatelink,
    });
    if rule.is_none() {
        count_denial(f, cx, set, Direction::Ingress);
        return Err(DropReason::LoadBalancerSecurityGroup);
    }
    Ok(())
}

/// A target of `listener`'s group for a new flow of hash `h` through node `node` (its zone,
/// unless cross-zone is on; [`pick_target`]), observed; or why there is none.
pub(super) fn choose_target<O: Observer>(
    f: &Fabric,
    listener: &crate::fabric::Listener,
    node: u32,
    h: u64,
    obs: &mut O,
) -> Result<u32, DropReason> {
    let n = &f.lb_nodes[node as usize];
    let tg = &f.target_groups[listener.target_group as usize];
    let cross_zone = tg
        .cross_zone
        .unwrap_or(f.load_balancers[n.lb as usize].cross_zone);
    let (pick, count, fail_open) = pick_target(tg, cross_zone, &n.az, h);
    obs.step(Step::Target {
        target_group: listener.target_group,
        node,
        target: pick,
        cross_zone,
        eligible: count,
        fail_open,
    });
    pick.ok_or_else(|| no_target(tg, cross_zone))
}

/// A target of `tg` for a flow of hash `h`: one of the eligible ones (healthy or not yet
/// checked, in `az` unless `cross_zone`), by hash; how many were eligible; and whether the
/// group failed open.
///
/// **Fail open** (AWS, "Health checks for Network Load Balancer target groups"): "If all
/// targets fail health checks at the same time in all enabled Availability Zones, the load
/// balancer fails open … the effect of the fail open is to allow traffic to all targets in all
/// enabled Availability Zones, regardless of their health status" — and the Gateway Load
/// Balancer likewise. With **health requirements** (AWS, "Target group health": routing
/// failover), the group fails open sooner and in a smaller scope: when the healthy targets in
/// the zone (the whole group with cross-zone on) fall below the requirement, every target
/// there is eligible.
#[inline]
pub(super) fn pick_target(
    tg: &crate::fabric::TargetGroup,
    cross_zone: bool,
    az: &str,
    h: u64,
) -> (Option<u32>, u32, bool) {
    let in_scope = |k: &Target| cross_zone || k.az == az;
    let healthy = |k: &Target| k.health.eligible();
    let scope_healthy = tg
        .targets
        .iter()
        .filter(|k| in_scope(k) && healthy(k))
        .count() as u32;
    let below_requirement = tg.health_requirements.is_some_and(|r| {
        let total = tg.targets.iter().filter(|k| in_scope(k)).count() as u32;
        total > 0 && scope_healthy < r.minimum(total).max(1)
    });
    // Which targets may take the flow: the healthy ones in scope; every one in scope (the
    // requirement's routing failover); every one (no healthy target anywhere).
    let set = if below_requirement {
        Set::Scope
    } else if scope_healthy == 0 && !tg.targets.is_empty() && !tg.targets.iter().any(healthy) {
        Set::All
    } else {
        Set::Healthy
    };
    let eligible = |k: &Target| match set {
        Set::Healthy => in_scope(k) && healthy(k),
        Set::Scope => in_scope(k),
        Set::All => true,
    };
    let count = tg.targets.iter().filter(|k| eligible(k)).count() as u32;
    let pick = (count > 0).then(|| {
        tg.targets
            .iter()
            .enumerate()
            .filter(|(_, k)| eligible(k))
            .nth((h % u64::from(count)) as usize)
            .map(|(i, _)| i as u32)
            .expect("count eligible targets")
    });
    (pick, count, set != Set::Healthy)
}

/// A client's packet `p` (as it arrived, on a flow translated by `nat`) to a target that
/// turned unhealthy, answered as AWS does ("Health checks for Network Load Balancer target
/// groups"): "If a target becomes unhealthy, the load balancer sends a TCP RST for packets
/// received on the client connections associated with the target, unless the unhealthy target
/// triggers the load balancer to fail open" — when the group terminates such connections
/// (its default), or once its draining interval has passed. The packet becomes the RST, from
/// the address the client sent to; both ends of the flow (the client's in `client_zone`) are
/// closed and the packet counted as `unhealthy_target_reset`. `None`: the flow goes on.
pub(super) fn unhealthy_reset(
    f: &Fabric,
    cx: &Ctx<'_>,
    nat: &Nat,
    client_zone: u32,
    p: &Parsed,
    buf: &mut [u8],
) -> Option<Parsed> {
    if p.protocol != proto::TCP || !crate::health::any_unhealthy() {
        return None;
    }
    let &node = f.lb_node_by_zone.get(&nat.peer_zone)?;
    let n = &f.lb_nodes[node as usize];
    let listener = listener_of(f, n.lb, p)?;
    let tg = &f.target_groups[listener.target_group as usize];
    let t = tg
        .targets
        .iter()
        .find(|t| t.ip == nat.dst && t.port == nat.dport)?;
    if !tg.resets(t, cx.now) {
        return None;
    }
    let cross_zone = tg
        .cross_zone
        .unwrap_or(f.load_balancers[n.lb as usize].cross_zone);
    if pick_target(tg, cross_zone, &n.az, 0).2 {
        return None; // failing open: the group sends to unhealthy targets
    }
    let sig = TcpSignal {
        rst: true,
        ..signal(cx, p)
    };
    cx.flows.signal(client_zone, &tuple(p), sig, cx.now);
    let way_back = Tuple {
        proto: p.protocol,
        src: nat.dst,
        sport: nat.dport,
        dst: nat.src,
        dport: nat.sport,
    };
    cx.flows.signal(nat.peer_zone, &way_back, sig, cx.now);
    f.registry
        .drop_packet(cx.lane, DropReason::UnhealthyTargetReset);
    let len = wire::build::tcp_reset_in_place(buf, p)?;
    wire::parse(&buf[..len]).ok()
}

/// The targets [`pick_target`] chooses among.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Set {
    Healthy,
    Scope,
    All,
}

/// Why [`pick_target`] found none: none healthy in the zone (others elsewhere, cross-zone
/// off: AWS's `ELB_NOT_CROSSZONE`), or none healthy at all.
pub(super) fn no_target(tg: &crate::fabric::TargetGroup, cross_zone: bool) -> DropReason {
    if !cross_zone && tg.targets.iter().any(|k| k.health.eligible()) {
        DropReason::NoHealthyTargetInZone
    } else {
        DropReason::NoHealthyTarget
    }
}

/// A translated packet leaves load-balancer node `node` for its target: routed in the
/// provider VPC from the node's subnet.
pub(super) fn to_target<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    node: u32,
    q: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let n = &f.lb_nodes[node as usize];
    let lb = &f.load_balancers[n.lb as usize];
    if let Err(r) = network_acl(f, cx, n.subnet, Direction::Egress, q, obs) {
        return Verdict::Drop(r);
    }
    lb.counters.tx(cx.lane, q.len);
    route(f, cx, lb.vpc, n.route_table, q, buf, obs)
}

/// A packet to a load-balancer node: a target's reply on a translated flow goes back to the
/// consumer (through its endpoint, or to a client of the load balancer itself); a client's
/// packet to a listener opens or follows a flow (`nlb`); a reply to a health probe goes to
/// vpced itself.
pub(super) fn to_load_balancer_node<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    node: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let n = &f.lb_nodes[node as usize];
    if f.load_balancers[n.lb as usize].appliances.is_some() {
        if p.protocol == proto::TCP && PROBE_PORTS.contains(&p.dst_port) {
            return Verdict::Local {
                len: p.len,
                service: LocalService::HealthChecker,
            };
        }
        return from_appliance(f, cx, node, p, buf, obs);
    }
    let sig = signal(cx, p);
    let flow = cx.flows.lookup(n.zone, &tuple(p), sig, cx.now);
    let Some(nat) = flow.filter(|fl| fl.from_initiator).and_then(|fl| fl.nat) else {
        // Not a target's reply: a client of the load balancer itself, or a probe's answer.
        if let Some(v) = super::nlb::client_flow(f, cx, node, p, buf, obs) {
            return v;
        }
        if p.protocol == proto::TCP && PROBE_PORTS.contains(&p.dst_port) {
            return Verdict::Local {
                len: p.len,
                service: LocalService::HealthChecker,
            };
        }
        return super::nlb::new_client_flow(f, cx, node, p, buf, obs)
            .unwrap_or(Verdict::Drop(DropReason::NoFlow));
    };
    let Some(&x) = f.endpoint_eni_by_zone.get(&nat.peer_zone) else {
        if nat.peer_zone == n.client_zone {
            return to_client(f, cx, node, nat, sig, p, buf, obs);
        }
        return Verdict::Drop(DropReason::NoFlow);
    };
    let eni = &f.endpoint_enis[x as usize];
    let ep = &f.endpoints[eni.endpoint as usize];
    let q = match reply_back(f, cx, node, nat, sig, p, buf, obs) {
        Ok(q) => q,
        Err(r) => return Verdict::Drop(r),
    };
    ep.counters.tx(cx.lane, q.len);
    endpoint_reply(f, cx, eni, ep.vpc, &q, buf, obs)
}

/// A target's reply on a translated flow: addressed back to where the client sent (the
/// endpoint's address, or the node's), the client's flow told of a close, and — after a PROXY
/// v2 header — acknowledgements mapped back into the client's sequence space.
#[allow(clippy::too_many_arguments)]
fn reply_back<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    node: u32,
    nat: Nat,
    sig: TcpSignal,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Result<Parsed, DropReason> {
    let n = &f.lb_nodes[node as usize];
    f.load_balancers[n.lb as usize].counters.rx(cx.lane, p.len);
    let q = rewrite(p, buf, (nat.src, nat.sport), (nat.dst, nat.dport), obs)?;
    if sig.fin || sig.rst {
        cx.flows.signal(nat.peer_zone, &tuple(&q), sig, cx.now);
    }
    if let (Some(pp), Some(off)) = (nat.proxy, q.l4_offset) {
        // The target counts the header's bytes; the client never sent them.
        let back = |v: u32| -> u32 {
            let past = v.wrapping_sub(pp.seq) as i32;
            if past > i32::from(pp.len) {
                v.wrapping_sub(u32::from(pp.len))
            } else if past > 0 {
                pp.seq
            } else {
                v
            }
        };
        let l4 = &mut buf[off..q.len];
        if p.tcp_flags & tcp_flags::ACK != 0 {
            let a = wire::tcp_edit::ack(l4);
            wire::tcp_edit::set_ack(l4, back(a));
        }
        wire::tcp_edit::map_sack(l4, back);
    }
    Ok(q)
}

/// A target's reply to a client of the load balancer itself: from the node's address, routed
/// from the node's subnet.
#[allow(clippy::too_many_arguments)]
pub(super) fn to_client<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    node: u32,
    nat: Nat,
    sig: TcpSignal,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    match reply_back(f, cx, node, nat, sig, p, buf, obs) {
        Ok(q) => to_target(f, cx, node, &q, buf, obs),
        Err(r) => Verdict::Drop(r),
    }
}
