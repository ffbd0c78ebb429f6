//! Gateway endpoints (S3, DynamoDB): a route to one sends the packet, addresses unchanged,
//! into the service's network when the endpoint policy allows its destination; what comes
//! back from a service network is a reply, delivered in a VPC that has an endpoint to the
//! service (or, for a flow of an interface endpoint to an AWS service, translated back).

use super::*;

/// Out through gateway endpoint `ge` into its service's network.
pub(super) fn to_gateway_endpoint<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    ge: u32,
    p: &Parsed,
    obs: &mut O,
) -> Verdict {
    let ep = &f.gateway_endpoints[ge as usize];
    let allowed = ep
        .allowed
        .as_ref()
        .is_none_or(|nets| nets.iter().any(|n| n.contains(&p.dst)));
    obs.step(Step::GatewayEndpoint {
        endpoint: ge,
        allowed,
    });
    if !allowed {
        return Verdict::Drop(DropReason::EndpointPolicy);
    }
    ep.counters.tx(cx.lane, p.len);
    Verdict::Forward {
        egress: ep.attachment,
        len: p.len,
    }
}

/// A packet from service network `s`: the reply of an interface endpoint's flow to the AWS
/// service, or of a flow through one of the service's gateway endpoints.
pub(super) fn from_service_network<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    s: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let svc = &f.services[s as usize];
    // A reply on a flow that came through an interface endpoint.
    let sig = signal(cx, p);
    if let Some(fl) = cx.flows.lookup(svc.zone, &tuple(p), sig, cx.now) {
        if let (true, Some(nat), Some(&x)) = (
            fl.from_initiator,
            fl.nat,
            fl.nat
                .and_then(|n| f.endpoint_eni_by_zone.get(&n.peer_zone)),
        ) {
            let eni = &f.endpoint_enis[x as usize];
            let ep = &f.endpoints[eni.endpoint as usize];
            let q = match rewrite(p, buf, (nat.src, nat.sport), (nat.dst, nat.dport), obs) {
                Ok(q) => q,
                Err(r) => return Verdict::Drop(r),
            };
            if sig.fin || sig.rst {
                cx.flows.signal(nat.peer_zone, &tuple(&q), sig, cx.now);
            }
            ep.counters.rx(cx.lane, q.len);
            return endpoint_reply(f, cx, eni, ep.vpc, &q, buf, obs);
        }
    }
    for &ge in &svc.endpoints {
        let ep = &f.gateway_endpoints[ge as usize];
        if f.vpcs[ep.vpc as usize]
            .cidrs
            .iter()
            .any(|n| n.contains(&p.dst))
        {
            ep.counters.rx(cx.lane, p.len);
            return deliver(f, cx, ep.vpc, p, buf, obs);
        }
    }
    Verdict::Drop(DropReason::NoReturnPath)
}
