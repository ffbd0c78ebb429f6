//! Beyond one VPC: transit gateways and Site-to-Site VPN.
//!
//! A packet a VPC route sends to a transit gateway enters through the VPC's attachment, in the
//! source's availability zone — AWS: resources in a zone where the attachment has no subnet
//! cannot reach the transit gateway. The attachment's associated route table decides (one LPM
//! lookup, `control::transit`); the chosen attachment leads to a VPC (the packet leaves through
//! the attachment's subnet in the same zone when there is one, else the first; with appliance
//! mode, in the zone a symmetric flow hash picks, so both directions of a flow use the same
//! one — and is routed there by that subnet's route table), to a VPN connection (out to the
//! on-premises network) or to a peered transit gateway (its table for the peering
//! attachment decides next, at most [`MAX_TGW_HOPS`] transit gateways in all). Transit
//! gateways keep no flow state: both directions are routed on their own.
//!
//! Network ACLs (AWS, "Network ACLs for transit gateways"): the attachment subnet's inbound
//! rules judge what enters the transit gateway in that zone (whatever subnet the source is
//! in), its outbound rules what leaves the transit gateway there for another subnet; a resource
//! in the attachment's own subnet receives from the transit gateway with no rule evaluated.
//! The source's and destination's subnets apply their own rules as on any crossing.
//!
//! An on-premises network's packets enter AWS over a Direct Connect gateway that advertises the
//! destination to it (the longest allowed prefix covering it; AWS advertises nothing else), else
//! through its VPN connection: either way by a transit gateway attachment (routed as above, from
//! no zone) or a virtual private gateway (delivered in its VPC, through the gateway's edge route
//! table when one is associated). Out of AWS, a transit gateway's Direct Connect gateway
//! attachment delivers to the data centre holding the destination; a virtual private gateway
//! prefers Direct Connect to a VPN connection to the same network.

use super::*;
use crate::fabric::{OnPremVia, TgwAction, TgwLink};

/// Transit gateways one packet may cross (peering attachments chain them).
pub const MAX_TGW_HOPS: usize = 4;

/// The zone of `addr` in VPC `vpc`: its subnet's.
#[inline]
fn source_zone(f: &Fabric, vpc: u32, addr: IpAddr) -> Option<u16> {
    f.vpcs[vpc as usize]
        .subnets
        .iter()
        .map(|&s| &f.subnets[s as usize])
        .find(|s| s.contains(addr))
        .map(|s| s.az)
}

/// A VPC route to a transit gateway: into it through the VPC's attachment `a`.
#[inline]
pub(super) fn to_transit_gateway<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    vpc: u32,
    a: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let att = &f.tgw_attachments[a as usize];
    // The source's zone: checked when the attachment may not serve it (and worked out for a
    // trace); otherwise only an exit with a choice of zones asks for it.
    let az = if O::RECORDS || !att.all_zones || att.any_acl {
        source_zone(f, vpc, p.src)
    } else {
        None
    };
    let mut acl = None;
    if let (TgwLink::Vpc { zones, .. }, Some(z)) = (&att.link, az) {
        let Some(zone) = zones.iter().find(|x| x.az == z) else {
            obs.step(Step::TgwAttachment {
                attachment: a,
                az,
                entering: true,
            });
            return Verdict::Drop(DropReason::TgwNotInZone);
        };
        acl = zone.acl.map(|x| (zone.subnet, x));
    }
    // AWS evaluates the attachment subnet's inbound rules on what enters the transit gateway
    // there, the source's subnet being that one or not.
    if let Some((subnet, acl)) = acl {
        if let Err(r) = acl_rules(f, cx, subnet, acl, Direction::Ingress, p, obs) {
            return Verdict::Drop(r);
        }
    }
    obs.step(Step::TgwAttachment {
        attachment: a,
        az,
        entering: true,
    });
    att.counters.rx(cx.lane, p.len);
    through(f, cx, a, Entry { vpc: Some(vpc), az }, p, buf, obs)
}

/// Whether `net` holds `a`: [`ipnet::IpNet::contains`] in a few instructions, inlined (the
/// crate's goes through a generic trait call per packet).
#[inline(always)]
fn net_contains(net: &ipnet::IpNet, a: IpAddr) -> bool {
    match (net, a) {
        (ipnet::IpNet::V4(n), IpAddr::V4(a)) => {
            u32::from(a) & u32::from(n.netmask()) == u32::from(n.network())
        }
        (ipnet::IpNet::V6(n), IpAddr::V6(a)) => {
            u128::from(a) & u128::from(n.netmask()) == u128::from(n.network())
        }
        _ => false,
    }
}

/// Where a packet entered a transit gateway from: the source VPC (none from a VPN) and, when
/// already known, the zone.
#[derive(Clone, Copy)]
struct Entry {
    vpc: Option<u32>,
    az: Option<u16>,
}

impl Entry {
    /// The source's zone, worked out now if it was not before.
    fn zone(self, f: &Fabric, p: &Parsed) -> Option<u16> {
        self.az.or_else(|| source_zone(f, self.vpc?, p.src))
    }
}

/// Routes a packet that entered a transit gateway through attachment `from`.
#[inline(always)]
fn through<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    from: u32,
    entry: Entry,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let first = &f.tgw_attachments[from as usize];
    let (mut tgw, mut table) = (first.tgw, first.table);
    for _ in 0..MAX_TGW_HOPS {
        let Some(t) = table else {
            return Verdict::Drop(DropReason::TgwNotAssociated);
        };
        let hit = f.snapshot.transit.tables[t as usize].lookup_index(p.dst);
        obs.step(Step::TgwRouteLookup {
            table: t,
            destination: p.dst,
            route: hit,
        });
        let Some(i) = hit else {
            return Verdict::Drop(DropReason::TgwNoRoute);
        };
        let out = match f.tgw_actions[t as usize][i] {
            TgwAction::Blackhole => return Verdict::Drop(DropReason::TgwBlackhole),
            TgwAction::Attachment(o) => o,
        };
        let oa = &f.tgw_attachments[out as usize];
        match oa.link {
            TgwLink::Peering { peer } => {
                // Over to the other side; its table for this attachment decides next.
                (tgw, table) = if tgw == oa.tgw {
                    (peer, oa.peer_table)
                } else {
                    (oa.tgw, oa.table)
                };
                oa.counters.tx(cx.lane, p.len);
            }
            TgwLink::Vpc {
                vpc,
                ref zones,
                appliance_mode,
            } => {
                let Some(z) = exit_zone(zones, || entry.zone(f, p), appliance_mode, p) else {
                    return Verdict::Drop(DropReason::TgwNoRoute);
                };
                return into_vpc(f, cx, out, vpc, z, p, buf, obs);
            }
            TgwLink::Vpn { on_prem } => {
                obs.step(Step::TgwAttachment {
                    attachment: out,
                    az: None,
                    entering: false,
                });
                oa.counters.tx(cx.lane, p.len);
                return to_on_premises(f, on_prem, None, p, obs);
            }
            TgwLink::DirectConnect {
                gateway,
                ref on_prem,
            } => {
                obs.step(Step::TgwAttachment {
                    attachment: out,
                    az: None,
                    entering: false,
                });
                let o = match on_prem.as_slice() {
                    [only] => Some(*only),
                    many => many.iter().copied().find(|&o| holds(f, o, p.dst)),
                };
                let Some(o) = o else {
                    return Verdict::Drop(DropReason::TgwNoRoute);
                };
                oa.counters.tx(cx.lane, p.len);
                return to_on_premises(f, o, Some(gateway), p, obs);
            }
        }
    }
    Verdict::Drop(DropReason::TgwRouteLoop)
}

/// Out of a transit gateway into VPC `vpc` through attachment `out`'s subnet in zone `z`:
/// routed by that subnet's table — or, when it routes all of the VPC locally, delivered with
/// the answer it would give.
#[allow(clippy::too_many_arguments)]
#[inline]
fn into_vpc<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    out: u32,
    vpc: u32,
    z: &crate::fabric::TgwZone,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    obs.step(Step::TgwAttachment {
        attachment: out,
        az: Some(z.az),
        entering: false,
    });
    f.tgw_attachments[out as usize].counters.tx(cx.lane, p.len);
    // The attachment subnet's outbound rules, for a destination outside it (AWS).
    if let Some(acl) = z.acl {
        if let Err(r) = acl_check(f, cx, z.subnet, acl, Direction::Egress, p, obs) {
            return Verdict::Drop(r);
        }
    }
    if let Some(&(_, route)) = z.local.iter().find(|(n, _)| net_contains(n, p.dst)) {
        f.route_table_counters[z.route_table as usize].rx(cx.lane, p.len);
        obs.step(Step::RouteLookup {
            table: z.route_table,
            destination: p.dst,
            route: Some(route as usize),
        });
        return deliver_from(f, cx, vpc, p, buf, Some(z.subnet), obs);
    }
    let via = Via::TransitGateway { subnet: z.subnet };
    route_from(f, cx, vpc, z.route_table, p, buf, via, obs)
}

/// The zone a VPC attachment delivers in: with appliance mode, the one a symmetric hash of
/// the flow picks (both directions agree); else the packet's own zone when the attachment has
/// a subnet there, else the first.
#[inline]
fn exit_zone<'z>(
    zones: &'z [crate::fabric::TgwZone],
    az: impl FnOnce() -> Option<u16>,
    appliance_mode: bool,
    p: &Parsed,
) -> Option<&'z crate::fabric::TgwZone> {
    match zones {
        [] => None,
        [only] => Some(only),
        _ if appliance_mode => {
            let h = conntrack::symmetric_hash(&tuple(p));
            Some(&zones[(h % zones.len() as u64) as usize])
        }
        _ => az()
            .and_then(|a| zones.iter().find(|z| z.az == a))
            .or(zones.first()),
    }
}

/// Whether on-premises network `o` holds `addr`.
fn holds(f: &Fabric, o: u32, addr: IpAddr) -> bool {
    f.on_prem[o as usize]
        .cidrs
        .iter()
        .any(|n| net_contains(n, addr))
}

/// Out to on-premises network `o`, over Direct Connect gateway `dx` or its VPN connection.
fn to_on_premises<O: Observer>(
    f: &Fabric,
    o: u32,
    dx: Option<u32>,
    p: &Parsed,
    obs: &mut O,
) -> Verdict {
    obs.step(Step::OnPremises {
        network: o,
        inbound: false,
        direct_connect: dx,
    });
    Verdict::Forward {
        egress: f.on_prem[o as usize].attachment,
        len: p.len,
    }
}

/// A VPC route to virtual private gateway `g`: out to the on-premises network that holds the
/// destination, over Direct Connect when the gateway reaches it so, else its VPN connection.
pub(super) fn to_vpn_gateway<O: Observer>(f: &Fabric, g: u32, p: &Parsed, obs: &mut O) -> Verdict {
    let found = f.vgws[g as usize]
        .on_prem
        .iter()
        .copied()
        .find(|&(o, _)| holds(f, o, p.dst));
    match found {
        Some((o, dx)) => to_on_premises(f, o, dx, p, obs),
        None => Verdict::Drop(DropReason::NoRoute),
    }
}

/// How on-premises network `o` sends to `dst`: over the Direct Connect route with the longest
/// prefix covering it, else its VPN connection; `Err` when only Direct Connect could carry it
/// and no allowed prefix covers it.
#[inline]
fn way_in(f: &Fabric, o: u32, dst: IpAddr) -> Result<(OnPremVia, Option<u32>), DropReason> {
    let o = &f.on_prem[o as usize];
    if !o.has_dx {
        return Ok((o.via, None));
    }
    let best =
        o.dx.iter()
            .filter(|r| net_contains(&r.prefix, dst))
            .max_by_key(|r| r.prefix.prefix_len());
    match best {
        Some(r) => Ok((r.via, Some(r.gateway))),
        None if o.via != OnPremVia::Nowhere => Ok((o.via, None)),
        None => Err(DropReason::DirectConnectNotAdvertised),
    }
}

/// A packet from on-premises network `o`, into AWS over Direct Connect or its VPN connection.
pub(super) fn from_on_premises<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    o: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let (via, dx) = match way_in(f, o, p.dst) {
        Ok(w) => w,
        Err(r) => return Verdict::Drop(r),
    };
    obs.step(Step::OnPremises {
        network: o,
        inbound: true,
        direct_connect: dx,
    });
    match via {
        OnPremVia::TransitGateway(a) => {
            obs.step(Step::TgwAttachment {
                attachment: a,
                az: None,
                entering: true,
            });
            f.tgw_attachments[a as usize].counters.rx(cx.lane, p.len);
            through(
                f,
                cx,
                a,
                Entry {
                    vpc: None,
                    az: None,
                },
                p,
                buf,
                obs,
            )
        }
        OnPremVia::VpnGateway { vpc, gateway } => match f.vgws[gateway as usize].edge_route_table {
            Some(t) => route(f, cx, vpc, t, p, buf, obs),
            None => deliver(f, cx, vpc, p, buf, obs),
        },
        OnPremVia::Nowhere => Verdict::Drop(DropReason::NoRoute),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fabric::TgwZone;

    fn zone(az: u16) -> TgwZone {
        TgwZone {
            az,
            subnet: u32::from(az),
            acl: None,
            route_table: 0,
            local: Default::default(),
        }
    }

    fn packet(src: &str, sport: u16, dst: &str, dport: u16) -> Parsed {
        let b = crate::wire::build::packet(
            src.parse().unwrap(),
            dst.parse().unwrap(),
            crate::wire::build::Transport::Tcp {
                src_port: sport,
                dst_port: dport,
                flags: 0x10,
                payload: b"",
            },
        )
        .unwrap();
        crate::wire::parse(&b).unwrap()
    }

    /// Appliance mode: both directions of a flow leave in the same zone, whatever zone they
    /// came from; without it, a packet stays in its own zone when the attachment has one.
    #[test]
    fn appliance_mode_keeps_a_flow_on_one_zone_both_ways() {
        let zones = [zone(0), zone(1), zone(2)];
        let mut seen = std::collections::HashSet::new();
        for port in 40000..40064u16 {
            let there = packet("10.1.1.10", port, "10.2.1.10", 80);
            let back = packet("10.2.1.10", 80, "10.1.1.10", port);
            let a = exit_zone(&zones, || Some(0), true, &there).unwrap().az;
            let b = exit_zone(&zones, || Some(1), true, &back).unwrap().az;
            assert_eq!(a, b, "port {port}");
            seen.insert(a);
        }
        assert_eq!(seen.len(), 3, "flows spread over the zones");
        let p = packet("10.1.1.10", 40000, "10.2.1.10", 80);
        assert_eq!(exit_zone(&zones, || Some(2), false, &p).unwrap().az, 2);
        assert_eq!(exit_zone(&zones, || Some(7), false, &p).unwrap().az, 0);
        assert_eq!(exit_zone(&zones[..1], || Some(2), false, &p).unwrap().az, 0);
    }
}
