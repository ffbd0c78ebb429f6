//! The internet gateway: out to the internet (the private source becomes the ENI's public
//! address) and in from it (the public destination becomes the private one, then the
//! gateway's edge route table or local delivery).

use super::*;

pub(super) fn to_internet<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    g: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let igw = &f.igws[g as usize];
    if let IpAddr::V4(src) = p.src {
        let Some(&public) = igw.outbound.get(&src) else {
            return Verdict::Drop(DropReason::NoPublicAddress);
        };
        // The buffer was validated by `parse`; the view cannot fail.
        Ipv4Packet::new_unchecked(&mut *buf).set_src_addr(public);
        // An ICMP error about a packet that came in through the gateway quotes it with the
        // private destination it was given: the quote is translated back (RFC 5508 4.2).
        if p.quoted.is_some_and(|q| q.dst == p.src) {
            wire::rewrite_quoted_v4(buf, p, false, public);
        }
        obs.step(Step::Translated {
            igw: g,
            from: p.src,
            to: IpAddr::V4(public),
            source: true,
        });
    }
    igw.counters.tx(cx.lane, p.len);
    Verdict::Forward {
        egress: igw.attachment,
        len: p.len,
    }
}

pub(super) fn from_internet<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    g: u32,
    mut p: Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let igw = &f.igws[g as usize];
    igw.counters.rx(cx.lane, p.len);
    if let Some(u) = &f.upstream {
        if p.dst == IpAddr::V4(u.source)
            && p.src == IpAddr::V4(u.server)
            && p.protocol == proto::UDP
            && p.src_port == 53
        {
            return Verdict::Local {
                len: p.len,
                service: LocalService::ResolverUpstream,
            };
        }
    }
    match p.dst {
        IpAddr::V4(dst) => {
            let Some(&private) = igw.inbound.get(&dst) else {
                return Verdict::Drop(DropReason::UnknownPublicAddress);
            };
            Ipv4Packet::new_unchecked(&mut *buf).set_dst_addr(private);
            // An ICMP error about a packet that left through the gateway (path MTU discovery)
            // quotes its public source: translated too, so that the instance's stack and
            // its security group know the flow (RFC 5508 4.2).
            if let Some(q) = p.quoted.as_mut().filter(|q| q.src == p.dst) {
                q.src = IpAddr::V4(private);
                wire::rewrite_quoted_v4(buf, &p, true, private);
            }
            obs.step(Step::Translated {
                igw: g,
                from: p.dst,
                to: IpAddr::V4(private),
                source: false,
            });
            p.dst = IpAddr::V4(private);
        }
        IpAddr::V6(dst) => {
            if !f.vpcs[igw.vpc as usize]
                .cidrs
                .iter()
                .any(|n| n.contains(&IpAddr::V6(dst)))
            {
                return Verdict::Drop(DropReason::UnknownPublicAddress);
            }
            // IPv6 addresses are global: nothing to translate.
        }
    }
    match igw.edge_route_table {
        Some(t) => route(f, cx, igw.vpc, t, &p, buf, obs),
        None => deliver(f, cx, igw.vpc, &p, buf, obs),
    }
}
