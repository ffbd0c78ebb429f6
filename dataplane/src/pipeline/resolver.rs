//! Route 53 Resolver endpoints: their ENIs in a VPC's subnets.
//!
//! A query reaching an **inbound** endpoint's address (from on-premises, typically) crosses
//! the subnet's network ACL and the endpoint's security groups — unlike the resolver at
//! base + 2, which neither filters — and goes to the VPC's resolver, which answers with the VPC's
//! private view. An **outbound** endpoint's ENI is where forwarded queries leave from
//! ([`process_from_resolver_endpoint`]: routed by its subnet's table, through its ACL) and
//! where their answers come back to, for the resolver.

use super::*;

/// A packet to Resolver endpoint ENI `x` (handed over by a transit gateway in subnet `from`).
pub(super) fn to_resolver_endpoint<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    x: u32,
    from: Option<u32>,
    p: &Parsed,
    obs: &mut O,
) -> Verdict {
    let eni = &f.resolver_enis[x as usize];
    if let Err(r) = ingress_acl(f, cx, eni.subnet, from, p, obs) {
        return Verdict::Drop(r);
    }
    let dns = matches!(p.protocol, proto::UDP | proto::TCP) && !p.is_fragment();
    if eni.outbound {
        // The answer of a forwarded query (the endpoint's own groups let replies in: AWS
        // tracks the queries it sends).
        return if dns && p.src_port == 53 {
            Verdict::Local {
                len: p.len,
                service: LocalService::ResolverUpstream,
            }
        } else {
            Verdict::Drop(DropReason::ResolverProtocol)
        };
    }
    if let Some(set) = eni.sg {
        let rule = check_rules(f, set, Direction::Ingress, p);
        let outcome = rule.map_or(SgOutcome::Denied, SgOutcome::Allowed);
        obs.step(Step::SecurityGroup {
            set,
            zone: 0,
            direction: Direction::Ingress,
            outcome,
        });
        if rule.is_none() {
            count_denial(f, cx, set, Direction::Ingress);
            return Verdict::Drop(DropReason::SecurityGroupIngress);
        }
    }
    if dns && p.dst_port == 53 {
        Verdict::Local {
            len: p.len,
            service: LocalService::Resolver(eni.vpc),
        }
    } else {
        Verdict::Drop(DropReason::ResolverProtocol)
    }
}

/// Decides the fate of a query the resolver forwards out of outbound endpoint ENI `x`:
/// through the subnet's network ACL, routed by its route table.
pub fn process_from_resolver_endpoint<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    x: u32,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let v = match wire::parse(buf) {
        Ok(p) => {
            let eni = &f.resolver_enis[x as usize];
            match network_acl(f, cx, eni.subnet, Direction::Egress, &p, obs) {
                Ok(()) => route(f, cx, eni.vpc, eni.route_table, &p, &mut buf[..p.len], obs),
                Err(r) => Verdict::Drop(r),
            }
        }
        Err(e) => Verdict::Drop(DropReason::Malformed(e)),
    };
    if let Verdict::Drop(r) = v {
        f.registry.drop_packet(cx.lane, r);
    }
    obs.step(Step::Verdict(v));
    v
}
