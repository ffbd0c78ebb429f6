//! Interface endpoints (PrivateLink's consumer side): a new flow passes the endpoint's
//! security groups, its connection state, a listener and the load balancer's security groups,
//! gets a target and a source port, and is translated to the target (with a PROXY v2 header
//! where the target group asks); an endpoint to an AWS service sends the flow into the
//! service's network instead.

use super::*;
use crate::fabric::{EndpointEni, Listener};

/// A packet to an interface endpoint's ENI: a flow the endpoint carries is translated and
/// sent on; a new one passes the endpoint's security groups, its connection state, a
/// listener, the load balancer's security groups, and gets a target and a source port.
pub(super) fn interface_endpoint<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    x: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let eni = &f.endpoint_enis[x as usize];
    let ep = &f.endpoints[eni.endpoint as usize];
    ep.counters.rx(cx.lane, p.len);
    if !matches!(p.protocol, proto::TCP | proto::UDP) || p.is_fragment() {
        return Verdict::Drop(DropReason::EndpointProtocol);
    }
    let t = tuple(p);
    let sig = signal(cx, p);
    if let Some(flow) = cx.flows.lookup(eni.zone, &t, sig, cx.now) {
        if let (true, Some(nat)) = (flow.from_initiator, flow.nat) {
            obs.step(Step::InterfaceEndpoint {
                eni: x,
                state: ep.state,
                tracked: true,
            });
            if let Some(rst) = unhealthy_reset(f, cx, &nat, eni.zone, p, buf) {
                return endpoint_reply(f, cx, eni, ep.vpc, &rst, buf, obs);
            }
            return tracked_flow(f, cx, &ep.id, nat, sig, p, buf, obs);
        }
    }
    obs.step(Step::InterfaceEndpoint {
        eni: x,
        state: ep.state,
        tracked: false,
    });
    // A new flow. The endpoint's security groups, without tracking: the entry made below
    // carries the translation and serves as their state.
    if let Some(set) = ep.sg {
        let rule = check_rules(f, set, Direction::Ingress, p);
        let outcome = rule.map_or(SgOutcome::Denied, SgOutcome::Allowed);
        obs.step(Step::SecurityGroup {
            set,
            zone: eni.zone,
            direction: Direction::Ingress,
            outcome,
        });
        if rule.is_none() {
            count_denial(f, cx, set, Direction::Ingress);
            return Verdict::Drop(DropReason::SecurityGroupIngress);
        }
    }
    if let Err(r) = admitted(ep.state) {
        return Verdict::Drop(r);
    }
    let Some(svc) = ep.service else {
        return match ep.aws_service {
            Some(si) => to_aws_service(f, cx, x, si, p, buf, obs),
            None => Verdict::Drop(DropReason::EndpointServiceNotFound),
        };
    };
    match new_flow(f, cx, x, svc, p, buf, obs) {
        Ok(v) | Err(v) => v,
    }
}

/// A packet of a flow the endpoint carries: translated as its entry says, with the PROXY v2
/// header before its first data byte and the sequence numbers after it shifted, then on to
/// the target (or the AWS service's network).
#[allow(clippy::too_many_arguments)]
pub(super) fn tracked_flow<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    endpoint: &str,
    nat: Nat,
    sig: TcpSignal,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let mut q = match rewrite(p, buf, (nat.src, nat.sport), (nat.dst, nat.dport), obs) {
        Ok(q) => q,
        Err(r) => return Verdict::Drop(r),
    };
    if sig.fin || sig.rst {
        cx.flows.signal(nat.peer_zone, &tuple(&q), sig, cx.now);
    }
    if let (Some(pp), Some(off)) = (nat.proxy, q.l4_offset) {
        let l4 = &mut buf[off..q.len];
        let seq = wire::tcp_edit::seq(l4);
        let data = q.len - off - wire::tcp_edit::header_len(l4);
        if seq == pp.seq && data > 0 {
            // The first data byte: the header goes in front of it (again, if this is a
            // retransmission).
            let mut h = [0u8; 128];
            let n = proxy_header(p, endpoint, &mut h);
            match wire::insert_tcp_payload(buf, &q, &h[..n]) {
                Some(len) => q.len = len,
                // A superpacket too long to take the header: its segments will.
                None if cx.offload.superpacket => return Verdict::Split,
                None => return Verdict::Drop(DropReason::ProxyProtocolNoRoom),
            }
        } else if seq.wrapping_sub(pp.seq) as i32 > 0 {
            wire::tcp_edit::set_seq(l4, seq.wrapping_add(u32::from(pp.len)));
        }
    }
    // A split superpacket's segment counts from here on (what came before counted the whole
    // superpacket).
    let cx = &Ctx {
        lane: crate::stats::counted(cx.lane),
        ..*cx
    };
    if let Some(&si) = f.service_by_zone.get(&nat.peer_zone) {
        return Verdict::Forward {
            egress: f.services[si as usize].attachment,
            len: q.len,
        };
    }
    let Some(&n) = f.lb_node_by_zone.get(&nat.peer_zone) else {
        return Verdict::Drop(DropReason::NoFlow);
    };
    to_target(f, cx, n, &q, buf, obs)
}

/// An interface endpoint's reply (from its target, or from the AWS service behind it) leaving
/// the endpoint's ENI in `vpc`: routed by the route table of the ENI's subnet (`table`) like
/// any packet from that subnet. AWS's PrivateLink documentation has consumers reach interface
/// endpoints from peered VPCs, through transit gateways and from on-premises over VPN or
/// Direct Connect; the replies go back by the endpoint subnet's routes, not only to the VPC's
/// own addresses.
pub(super) fn endpoint_reply<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    eni: &EndpointEni,
    vpc: u32,
    q: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    if let Some(sn) = eni.subnet {
        if let Err(r) = network_acl(f, cx, sn, Direction::Egress, q, obs) {
            return Verdict::Drop(r);
        }
    }
    match eni.route_table {
        Some(t) => route(f, cx, vpc, t, q, buf, obs),
        None => deliver(f, cx, vpc, q, buf, obs),
    }
}

/// The first load balancer of endpoint service `svc` with a listener for the packet's
/// protocol and port.
fn listener_for<'f>(f: &'f Fabric, svc: u32, p: &Parsed) -> Option<(u32, &'f Listener)> {
    f.endpoint_services[svc as usize]
        .load_balancers
        .iter()
        .find_map(|&l| listener_of(f, l, p).map(|k| (l, k)))
}

/// A new flow to endpoint service `svc` through endpoint ENI `x`: listener, the load
/// balancer's security groups, its node in the ENI's zone, a target, a source port on the
/// node, the two flow entries, and the translated packet on to the target. `Err` holds the
/// verdict of a flow that goes no further.
fn new_flow<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    x: u32,
    svc: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Result<Verdict, Verdict> {
    let drop = |r| Verdict::Drop(r);
    let eni = &f.endpoint_enis[x as usize];
    let ep = &f.endpoints[eni.endpoint as usize];
    let (li, listener) = listener_for(f, svc, p).ok_or(drop(DropReason::NoListener))?;
    let lb = &f.load_balancers[li as usize];
    obs.step(Step::Listener {
        load_balancer: li,
        port: listener.port,
        target_group: listener.target_group,
    });
    load_balancer_groups(f, cx, li, true, p, obs).map_err(drop)?;
    let node = *lb
        .nodes
        .iter()
        .find(|&&n| f.lb_nodes[n as usize].az == eni.az)
        .ok_or(drop(DropReason::LoadBalancerNotInZone))?;
    let h = flow_hash(&tuple(p));
    let ti = choose_target(f, listener, node, h, obs).map_err(drop)?;
    open_flow(
        f,
        cx,
        node,
        listener.target_group,
        ti,
        eni.zone,
        &ep.id,
        h,
        p,
        buf,
        obs,
    )
}

/// Opens a translated flow through node `node` to target `ti` of group `tgi`: a source port on
/// the node taken with the way back (the target's packets become replies from the address the
/// client asked, found again in flow zone `zone`), the forward entry in `zone`, counters, and
/// the packet translated and on its way to the target — the PROXY v2 header (with endpoint
/// id `endpoint`, none when empty) announced when the group sends one.
#[allow(clippy::too_many_arguments)]
pub(super) fn open_flow<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    node: u32,
    tgi: u32,
    ti: u32,
    zone: u32,
    endpoint: &str,
    h: u64,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Result<Verdict, Verdict> {
    let drop = |r| Verdict::Drop(r);
    let n = &f.lb_nodes[node as usize];
    let lb = &f.load_balancers[n.lb as usize];
    let tg = &f.target_groups[tgi as usize];
    let target = &tg.targets[ti as usize];
    let proxy = proxy_for(tg.proxy_protocol_v2, p, buf, endpoint);
    let sig = signal(cx, p);
    let back = Nat {
        src: p.dst,
        sport: p.dst_port,
        dst: p.src,
        dport: p.src_port,
        peer_zone: zone,
        proxy,
    };
    // The node speaks to the target in the target group's family, whatever the client's.
    let node_ip = n
        .address_for(target.ip)
        .ok_or(drop(DropReason::AddressFamily))?;
    let way_back =
        node_port(cx, node_ip, n.zone, target, p.protocol, back, h, sig).map_err(drop)?;
    let nat = Nat {
        src: node_ip,
        sport: way_back.dport,
        dst: target.ip,
        dport: target.port,
        peer_zone: n.zone,
        proxy,
    };
    if let Err(e) = cx.flows.insert(zone, &tuple(p), Some(nat), sig, cx.now) {
        // The way back holds the node's port: give it up with the flow.
        cx.flows.forget(n.zone, &way_back, cx.now);
        return Err(drop(e.into()));
    }
    lb.counters.rx(cx.lane, p.len);
    tg.counters.tx(cx.lane, p.len);
    target.counters.tx(cx.lane, p.len);
    let q = rewrite(p, buf, (nat.src, nat.sport), (nat.dst, nat.dport), obs).map_err(drop)?;
    // Room in the target's segments for the PROXY header, and for IPv6's longer header when
    // an IPv4 client's flow goes to an IPv6 target.
    let grown = if p.is_ipv4() && !q.is_ipv4() { 20 } else { 0 };
    let room = proxy.map_or(0, |pp| pp.len) + grown;
    if let (true, Some(off)) = (room > 0 && p.protocol == proto::TCP, q.l4_offset) {
        wire::tcp_edit::clamp_mss(&mut buf[off..q.len], room);
    }
    Ok(to_target(f, cx, node, &q, buf, obs))
}

/// PROXY protocol v2 for a new flow, when the target group sends it: only for a connection
/// seen from its SYN (the header goes before the first data byte, whose sequence number
/// follows the SYN's).
fn proxy_for(enabled: bool, p: &Parsed, buf: &[u8], endpoint: &str) -> Option<Proxy> {
    match (enabled, p.protocol, p.l4_offset) {
        (true, proto::TCP, Some(off))
            if p.tcp_flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN =>
        {
            let mut h = [0u8; 128];
            let len = proxy_header(p, endpoint, &mut h) as u16;
            Some(Proxy {
                seq: wire::tcp_edit::seq(&buf[off..p.len]).wrapping_add(1),
                len,
            })
        }
        _ => None,
    }
}

/// A source port on the node (address `node_ip`, flow zone `zone`) that no flow to `target`
/// uses, taken by inserting the way back (`back`: packets from the target become the
/// endpoint's replies) in the node's zone: that way back's tuple, the port its `dport`.
#[allow(clippy::too_many_arguments)]
fn node_port(
    cx: &Ctx<'_>,
    node_ip: IpAddr,
    zone: u32,
    target: &Target,
    protocol: u8,
    back: Nat,
    h: u64,
    sig: TcpSignal,
) -> Result<Tuple, DropReason> {
    let span = u32::from(NAT_PORTS.end() - NAT_PORTS.start()) + 1;
    for k in 0..NAT_PORT_TRIES {
        let cand =
            NAT_PORTS.start() + ((h as u32).wrapping_add(k.wrapping_mul(7919)) % span) as u16;
        let way_back = Tuple {
            proto: protocol,
            src: target.ip,
            sport: target.port,
            dst: node_ip,
            dport: cand,
        };
        match cx
            .flows
            .insert_new(zone, &way_back, Some(back), sig, cx.now)
        {
            Ok(true) => return Ok(way_back),
            Ok(false) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(DropReason::NatPortsExhausted)
}

/// A new flow through an interface endpoint to an AWS service (S3, DynamoDB…): the
/// destination becomes one of the service's addresses (by flow hash), the source stays the
/// consumer's — as AWS services see the VPC's private addresses — and the packet goes into
/// the service's network. Replies are translated back to come from the endpoint's address.
pub(super) fn to_aws_service<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    x: u32,
    si: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let eni = &f.endpoint_enis[x as usize];
    let ep = &f.endpoints[eni.endpoint as usize];
    let svc = &f.services[si as usize];
    let t = tuple(p);
    let sig = signal(cx, p);
    // One of the service's addresses of the packet's family.
    let family = ep
        .service_addresses
        .iter()
        .filter(|a| a.is_ipv4() == p.is_ipv4());
    let n = family.clone().count();
    let Some(&addr) = family
        .clone()
        .nth((flow_hash(&t) % n.max(1) as u64) as usize)
    else {
        return Verdict::Drop(if ep.service_addresses.is_empty() {
            DropReason::EndpointServiceNotFound
        } else {
            DropReason::AddressFamily
        });
    };
    let back = Tuple {
        proto: p.protocol,
        src: addr,
        sport: p.dst_port,
        dst: p.src,
        dport: p.src_port,
    };
    let rev = Nat {
        src: p.dst,
        sport: p.dst_port,
        dst: p.src,
        dport: p.src_port,
        peer_zone: eni.zone,
        proxy: None,
    };
    let fwd = Nat {
        src: p.src,
        sport: p.src_port,
        dst: addr,
        dport: p.dst_port,
        peer_zone: svc.zone,
        proxy: None,
    };
    if let Err(e) = cx.flows.insert(svc.zone, &back, Some(rev), sig, cx.now) {
        return Verdict::Drop(e.into());
    }
    if let Err(e) = cx.flows.insert(eni.zone, &t, Some(fwd), sig, cx.now) {
        // The way back must not outlive the refusal.
        cx.flows.forget(svc.zone, &back, cx.now);
        return Verdict::Drop(e.into());
    }
    let q = match rewrite(p, buf, (fwd.src, fwd.sport), (fwd.dst, fwd.dport), obs) {
        Ok(q) => q,
        Err(r) => return Verdict::Drop(r),
    };
    ep.counters.tx(cx.lane, q.len);
    Verdict::Forward {
        egress: svc.attachment,
        len: q.len,
    }
}

/// The PROXY protocol v2 header for a consumer's connection: the consumer's address and port
/// as the endpoint saw them, the endpoint's address and port, the endpoint's id in the AWS TLV.
pub(super) fn proxy_header(p: &Parsed, endpoint: &str, out: &mut [u8; 128]) -> usize {
    let (src, dst) = ((p.src, p.src_port).into(), (p.dst, p.dst_port).into());
    wire::proxy_v2_header(src, dst, endpoint, out).unwrap_or(0)
}

/// A flow's hash, the same for both directions' tuples in one zone (target choice and
/// source ports).
pub(super) fn flow_hash(t: &Tuple) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(t, &mut h);
    std::hash::Hasher::finish(&h)
}
