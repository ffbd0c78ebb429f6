//! The builder's steps for what lies beyond one VPC: on-premises networks (an attachment each,
//! in their namespace), virtual private gateways with the networks of their VPN connections and
//! Direct Connect gateways, and transit gateways — attachments resolved to VPCs, zones, VPN
//! connections, Direct Connect gateways and peers, and each route table's routes to actions.

use super::*;

impl FabricBuilder<'_> {
    /// On-premises networks (attachments after the service networks), the virtual private
    /// gateways their VPN connections end on, and what Direct Connect gateways associated with
    /// those gateways advertise to them.
    pub(super) fn on_premises(&mut self) {
        let c = self.c;
        for g in &c.vpn_gateways {
            let Some(&vpc) = self.vpc_index.get(g.vpc.as_str()) else {
                continue;
            };
            self.parts.vgws.push(Vgw {
                id: g.id.clone(),
                vpc,
                on_prem: SmallVec::new(),
                edge_route_table: self
                    .snapshot
                    .gateway_route_table(&g.id)
                    .and_then(|t| self.rt_index.get(t.id.as_str()).copied()),
            });
        }
        for o in &c.on_premises {
            let att = self.parts.attachments.len() as AttachmentIdx;
            let index = self.parts.on_prem.len() as u32;
            let conn = c.vpn_connections.iter().find(|v| v.on_premises == o.id);
            let vgw = conn.and_then(|v| {
                let id = v.vpn_gateway.as_ref()?;
                self.parts.vgws.iter().position(|g| &g.id == id)
            });
            // Resolved to the attachment in `transit`, which comes next, for a transit gateway.
            let via = match vgw {
                Some(i) => {
                    self.parts.vgws[i].on_prem.push((index, None));
                    OnPremVia::VpnGateway {
                        vpc: self.parts.vgws[i].vpc,
                        gateway: i as u32,
                    }
                }
                None => OnPremVia::Nowhere,
            };
            let v6 = o.cidrs.iter().any(|c| !c.is_ipv4());
            self.parts.attachments.push(Attachment {
                device: tun_name('o', &o.id),
                counters: self.registry.entity("attachment", &o.id),
                id: o.id.clone(),
                kind: AttachmentKind::OnPremises(index),
                namespace: o.namespace.clone(),
                uplink: None,
                link: LinkConfig {
                    addresses: Vec::new(),
                    loopback: o.hosts.clone(),
                    default_v4: true,
                    default_v6: v6,
                    mtu: MTU,
                },
            });
            self.parts.on_prem.push(OnPrem {
                id: o.id.clone(),
                attachment: att,
                cidrs: o.cidrs.iter().map(|c| c.0).collect(),
                via,
                dx: SmallVec::new(),
                has_dx: c
                    .direct_connect_gateways
                    .iter()
                    .any(|d| d.on_premises.contains(&o.id)),
            });
            self.direct_connect_to_vgws(index);
        }
    }

    /// On-premises network `o`'s Direct Connect gateways' virtual private gateway
    /// associations: the VPC CIDRs each advertises (those an allowed prefix covers, all when
    /// none is given), and the gateway reaching `o` over Direct Connect.
    fn direct_connect_to_vgws(&mut self, o: u32) {
        let c = self.c;
        let id = &c.on_premises[o as usize].id;
        for (d, gw) in c.direct_connect_gateways.iter().enumerate() {
            if !gw.on_premises.contains(id) {
                continue;
            }
            for a in &gw.associations {
                let Some(g) = self.parts.vgws.iter().position(|v| v.id == a.gateway) else {
                    continue;
                };
                let vgw = &mut self.parts.vgws[g];
                let vpc = vgw.vpc;
                match vgw.on_prem.iter_mut().find(|(x, _)| *x == o) {
                    Some(entry) => entry.1 = Some(d as u32),
                    None => vgw.on_prem.push((o, Some(d as u32))),
                }
                let advertised: Vec<IpNet> = self.parts.vpcs[vpc as usize]
                    .cidrs
                    .iter()
                    .copied()
                    .filter(|n| {
                        a.allowed_prefixes.is_empty()
                            || a.allowed_prefixes.iter().any(|p| p.0.contains(n))
                    })
                    .collect();
                let via = OnPremVia::VpnGateway {
                    vpc,
                    gateway: g as u32,
                };
                self.parts.on_prem[o as usize]
                    .dx
                    .extend(advertised.into_iter().map(|prefix| DxRoute {
                        prefix,
                        gateway: d as u32,
                        via,
                    }));
            }
        }
    }

    /// Transit gateway attachments, the VPCs' attachments by transit gateway, and each
    /// transit gateway route table's actions.
    pub(super) fn transit(&mut self) {
        let c = self.c;
        let tgw_index = |id: &str| c.transit_gateways.iter().position(|t| t.id == id);
        let table_index = |id: &Option<String>| {
            let id = id.as_deref()?;
            self.snapshot
                .transit
                .tables
                .iter()
                .position(|t| t.id == id)
                .map(|i| i as u32)
        };
        let mut attachments = Vec::new();
        for a in &c.transit_gateway_attachments {
            let Some(tgw) = tgw_index(&a.transit_gateway) else {
                continue;
            };
            let Some(link) = self.tgw_link(a) else {
                continue;
            };
            let all_zones = match &link {
                TgwLink::Vpc { vpc, zones, .. } => {
                    self.parts.vpcs[*vpc as usize].subnets.iter().all(|&s| {
                        zones
                            .iter()
                            .any(|z| z.az == self.parts.subnets[s as usize].az)
                    })
                }
                _ => true,
            };
            let any_acl = match &link {
                TgwLink::Vpc { zones, .. } => zones.iter().any(|z| z.acl.is_some()),
                _ => false,
            };
            attachments.push(TgwAttachment {
                id: a.id.clone(),
                tgw: tgw as u32,
                all_zones,
                any_acl,
                link,
                table: table_index(&a.association),
                peer_table: table_index(&a.peer_association),
                counters: self.registry.entity("transit_gateway_attachment", &a.id),
            });
        }
        for (i, a) in attachments.iter().enumerate() {
            match a.link {
                TgwLink::Vpc { vpc, .. } => {
                    self.parts.tgw_by_vpc.insert((vpc, a.tgw), i as u32);
                }
                TgwLink::Vpn { on_prem } => {
                    self.parts.on_prem[on_prem as usize].via = OnPremVia::TransitGateway(i as u32);
                }
                TgwLink::DirectConnect {
                    gateway,
                    ref on_prem,
                } => {
                    let allowed = c.direct_connect_gateways[gateway as usize]
                        .associations
                        .iter()
                        .filter(|x| x.gateway == c.transit_gateways[a.tgw as usize].id)
                        .flat_map(|x| x.allowed_prefixes.iter().map(|p| p.0));
                    for prefix in allowed {
                        for &o in on_prem {
                            self.parts.on_prem[o as usize].dx.push(DxRoute {
                                prefix,
                                gateway,
                                via: OnPremVia::TransitGateway(i as u32),
                            });
                        }
                    }
                }
                TgwLink::Peering { .. } => {}
            }
        }
        self.parts.tgw_actions = self
            .snapshot
            .transit
            .tables
            .iter()
            .map(|t| {
                t.routes
                    .iter()
                    .map(|r| match &r.target {
                        RouteTarget::TransitGatewayAttachment(id) => attachments
                            .iter()
                            .position(|a| &a.id == id)
                            .map_or(TgwAction::Blackhole, |i| TgwAction::Attachment(i as u32)),
                        _ => TgwAction::Blackhole,
                    })
                    .collect()
            })
            .collect();
        self.parts.tgw_attachments = attachments;
    }

    /// What attachment `a` leads to, resolved to the fabric's indexes; `None` when what it
    /// names is missing.
    fn tgw_link(&self, a: &model::TransitGatewayAttachment) -> Option<TgwLink> {
        let c = self.c;
        let tgw_index = |id: &str| c.transit_gateways.iter().position(|t| t.id == id);
        let link = match a.attachment_type {
            model::TgwAttachmentType::Vpc => {
                let &vpc = a.vpc.as_deref().and_then(|v| self.vpc_index.get(v))?;
                let zones = a
                    .subnets
                    .iter()
                    .filter_map(|s| {
                        let subnet = *self.subnet_index.get(s.as_str())?;
                        let route_table = self.subnet_route_table(s)?;
                        Some(TgwZone {
                            az: self.parts.subnets[subnet as usize].az,
                            subnet,
                            acl: self.parts.subnets[subnet as usize].acl,
                            route_table,
                            local: self.local_only(vpc, route_table),
                        })
                    })
                    .collect();
                TgwLink::Vpc {
                    vpc,
                    zones,
                    appliance_mode: a.appliance_mode,
                }
            }
            model::TgwAttachmentType::Vpn => {
                let conn = c
                    .vpn_connections
                    .iter()
                    .find(|v| Some(&v.id) == a.vpn_connection.as_ref());
                let on_prem = conn.and_then(|v| {
                    self.parts
                        .on_prem
                        .iter()
                        .position(|o| o.id == v.on_premises)
                });
                let o = on_prem?;
                TgwLink::Vpn { on_prem: o as u32 }
            }
            model::TgwAttachmentType::DirectConnectGateway => {
                let gw = c
                    .direct_connect_gateways
                    .iter()
                    .position(|d| Some(&d.id) == a.direct_connect_gateway.as_ref());
                let gateway = gw?;
                let on_prem = c.direct_connect_gateways[gateway]
                    .on_premises
                    .iter()
                    .filter_map(|id| self.parts.on_prem.iter().position(|o| &o.id == id))
                    .map(|i| i as u32)
                    .collect();
                TgwLink::DirectConnect {
                    gateway: gateway as u32,
                    on_prem,
                }
            }
            model::TgwAttachmentType::Peering => {
                let peer = a.peer_transit_gateway.as_deref().and_then(tgw_index)?;
                TgwLink::Peering { peer: peer as u32 }
            }
        };
        Some(link)
    }

    /// [`TgwZone::local`] of route table `table` in VPC `vpc`.
    fn local_only(&self, vpc: u32, table: u32) -> SmallVec<[(IpNet, u32); 2]> {
        use control::compile::RouteState;
        let t = &self.snapshot.route_tables[table as usize];
        let nets = &self.parts.vpcs[vpc as usize].cidrs;
        let inside = |d: &IpNet| nets.iter().any(|n| n.contains(d));
        let elsewhere = t.routes.iter().any(|r| {
            r.state == RouteState::Active
                && r.target != RouteTarget::Local
                && inside(&r.destination)
        });
        if elsewhere {
            return SmallVec::new();
        }
        t.routes
            .iter()
            .enumerate()
            .filter(|(_, r)| r.state == RouteState::Active && r.target == RouteTarget::Local)
            .map(|(i, r)| (r.destination, i as u32))
            .collect()
    }
}
