//! Turning `--from` and `--to` into a question (instances, ENIs, endpoints, addresses, DNS
//! names as the source's VPC resolves them), a fabric detached from the daemon's counters,
//! and every pair of attachments for `trace --all`.

use super::*;

/// Resolves `--from` and `--to` into a question. `from`: an instance (`i-…`), an ENI or any
/// attachment id, an address, or `internet`; `to`: an instance, ENI, endpoint (`vpce-…`),
/// address or DNS name (private DNS as the source's VPC sees it). Returns the question and,
/// for a name, how it was resolved.
pub fn resolve(
    f: &Fabric,
    from: &str,
    to: &str,
    protocol: Protocol,
    port: u16,
) -> Result<(Question, Option<String>), String> {
    let c = &f.snapshot.config;
    // An instance by id or Name tag, or any attachment by id.
    let eni_attachment = |id: &str| -> Option<AttachmentIdx> {
        let eni = c
            .instances
            .iter()
            .find(|i| i.id == id)
            .or_else(|| c.instances.iter().find(|i| i.name.as_deref() == Some(id)))
            .map(|i| i.eni_id())
            .unwrap_or_else(|| id.to_string());
        f.attachment(&eni)
    };
    let owner_of = |a: IpAddr| -> Option<AttachmentIdx> {
        f.vpcs
            .iter()
            .find_map(|v| match v.owners.get(&a) {
                Some(Owner::Attachment(x)) => Some(*x),
                _ => None,
            })
            .or_else(|| {
                f.on_prem
                    .iter()
                    .find(|o| o.cidrs.iter().any(|n| n.contains(&a)))
                    .map(|o| o.attachment)
            })
    };
    let from_internet = from == "internet" || from == "0.0.0.0/0";
    // The source's VPC (for private DNS and for an instance's public address).
    let src_att = if from_internet {
        None
    } else if let Ok(a) = from.parse::<IpAddr>() {
        owner_of(a)
    } else {
        Some(eni_attachment(from).ok_or_else(|| {
            format!("--from {from}: no instance, network interface or attachment with that id (or write an address, or `internet`)")
        })?)
    };
    let src_vpc = src_att.and_then(|a| match f.attachments[a as usize].kind {
        AttachmentKind::Eni(e) => Some(f.enis[e as usize].vpc),
        _ => None,
    });
    // The destination address.
    let mut how = None;
    let dst: IpAddr = if let Ok(a) = to.parse::<IpAddr>() {
        a
    } else if let Some(e) = c.endpoints.iter().find(|e| e.id == to) {
        match e.network_interfaces.first() {
            Some(n) => IpAddr::V4(n.private_ip),
            None => c
                .aws_services
                .iter()
                .find(|s| s.name == e.service)
                .and_then(|s| s.service_addresses.iter().find(|a| a.is_ipv4()).copied())
                .ok_or_else(|| {
                    format!(
                        "--to {to}: the endpoint's service has no address in this configuration"
                    )
                })?,
        }
    } else if let Some(a) = eni_attachment(to) {
        let e = match f.attachments[a as usize].kind {
            AttachmentKind::Eni(e) => e,
            AttachmentKind::OnPremises(o) => {
                let dst = on_prem_host(f, o, true)?;
                return finish(
                    f,
                    (from, src_att, from_internet),
                    dst,
                    (protocol, port),
                    how,
                );
            }
            _ => {
                return Err(format!(
                    "--to {to}: not an instance, network interface or on-premises network"
                ))
            }
        };
        let eni = &f.enis[e as usize];
        match (from_internet, eni.public_ipv4) {
            (true, Some(p)) => IpAddr::V4(p),
            _ => IpAddr::V4(eni.ipv4[0]),
        }
    } else if to.contains('.') {
        let (a, h) = resolve_name(f, to, src_vpc)?;
        how = Some(h);
        a
    } else {
        return Err(format!(
            "--to {to}: no instance, network interface or endpoint with that id, and not an address or a DNS name"
        ));
    };
    finish(
        f,
        (from, src_att, from_internet),
        dst,
        (protocol, port),
        how,
    )
}

/// The source attachment and address for a question to `dst`, and the question.
fn finish(
    f: &Fabric,
    (from, src_att, from_internet): (&str, Option<AttachmentIdx>, bool),
    dst: IpAddr,
    (protocol, port): (Protocol, u16),
    how: Option<String>,
) -> Result<(Question, Option<String>), String> {
    // The source attachment and address.
    let (att, src) = if from_internet {
        let vpc = f
            .vpcs
            .iter()
            .position(|v| v.owners.contains_key(&dst) || v.cidrs.iter().any(|n| n.contains(&dst)));
        // The gateway that owns the public address asked for, else the destination VPC's.
        let owns = |g: &&crate::fabric::InternetGateway| match dst {
            IpAddr::V4(a) => g.inbound.contains_key(&a),
            IpAddr::V6(_) => false,
        };
        let igw = f
            .igws
            .iter()
            .find(owns)
            .or_else(|| {
                f.igws
                    .iter()
                    .find(|g| vpc.is_none_or(|v| g.vpc as usize == v))
            })
            .or(f.igws.first())
            .ok_or("--from internet: the configuration has no internet gateway")?;
        let src = if dst.is_ipv4() {
            IpAddr::from([198, 51, 100, 7])
        } else {
            "2001:db8:feed::7".parse().expect("valid")
        };
        (igw.attachment, src)
    } else if let Ok(a) = from.parse::<IpAddr>() {
        match src_att {
            Some(x) => (x, a),
            None => {
                // An outside address: it comes from the internet.
                let igw = f.igws.first().ok_or_else(|| {
                    format!("--from {from}: no ENI has this address and there is no internet gateway to come from")
                })?;
                (igw.attachment, a)
            }
        }
    } else {
        let x = src_att.expect("resolved above");
        match f.attachments[x as usize].kind {
            AttachmentKind::Eni(e) => {
                let eni = &f.enis[e as usize];
                let src = match dst {
                    IpAddr::V4(_) => IpAddr::V4(eni.ipv4[0]),
                    IpAddr::V6(_) => IpAddr::V6(eni.ipv6.ok_or_else(|| {
                        format!("--from {from}: the ENI has no IPv6 address to reach {dst} with")
                    })?),
                };
                (x, src)
            }
            AttachmentKind::OnPremises(o) => (x, on_prem_host(f, o, dst.is_ipv4())?),
            _ => {
                return Err(format!(
                    "--from {from}: give an instance, a network interface, an on-premises network, an address or `internet`"
                ))
            }
        }
    };
    Ok((
        Question {
            from: att,
            src,
            dst,
            protocol,
            port,
            fragmented: false,
        },
        how,
    ))
}

/// A host of on-premises network `o` of the family asked for: its first listed host, else the
/// tenth address of its first network.
fn on_prem_host(f: &Fabric, o: u32, v4: bool) -> Result<IpAddr, String> {
    let cfg = &f.snapshot.config.on_premises[o as usize];
    cfg.hosts
        .iter()
        .find(|h| h.is_ipv4() == v4)
        .copied()
        .or_else(|| {
            let n = cfg.cidrs.iter().find(|c| c.is_ipv4() == v4)?;
            n.0.hosts().nth(9)
        })
        .ok_or_else(|| {
            format!(
                "on-premises network {} has no {} address",
                cfg.id,
                if v4 { "IPv4" } else { "IPv6" }
            )
        })
}

/// A name as the VPC's resolver answers it for a client in `vpc`: the private answer of
/// [`control::dns::PrivateDns`] — the very tables the resolver answers from — else the public
/// answer the configuration knows (an AWS service's addresses).
fn resolve_name(f: &Fabric, name: &str, vpc: Option<u32>) -> Result<(IpAddr, String), String> {
    let c = &f.snapshot.config;
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let matches = |pattern: &str| control::dns::name_matches(pattern, &name);
    if let Some(v) = vpc {
        let vpc_id = &f.vpcs[v as usize].id;
        // A Resolver rule forwards the name: the answer is another DNS server's.
        if let Some(r) = f
            .snapshot
            .dns
            .forward_rule(vpc_id, &name)
            .and_then(|i| c.resolver_rules.get(i as usize))
        {
            let targets: Vec<String> = r.target_ips.iter().map(|a| a.to_string()).collect();
            return Err(format!(
                "{name}: Resolver rule {} forwards {} from {vpc_id} to {} through outbound endpoint {}; the answer is that server's, which a trace cannot know — trace the address it gives (--to ADDRESS)",
                r.id,
                r.domain,
                targets.join(", "),
                r.resolver_endpoint.as_deref().unwrap_or("-")
            ));
        }
        if let Some(a) = f
            .snapshot
            .dns
            .resolve(vpc_id, &name, control::dns::QueryType::A)
        {
            if let (Some(addr), Some(last)) = (a.addresses().first().copied(), a.chain.last()) {
                let via: Vec<String> = a.chain.iter().map(|r| r.name.clone()).collect();
                return Ok((
                    addr,
                    format!(
                        "{name} answered by the resolver of {vpc_id} from {} ({}): {addr}",
                        last.source,
                        via.join(" -> ")
                    ),
                ));
            }
        }
    }
    for s in &c.aws_services {
        if s.private_dns_names.iter().any(|n| matches(n)) {
            if let Some(a) = s.service_addresses.iter().find(|a| a.is_ipv4()) {
                return Ok((
                    *a,
                    format!(
                        "{name}: no private answer in this VPC; the public answer for {}: {a}",
                        s.name
                    ),
                ));
            }
        }
    }
    let unverified = c.endpoint_services.iter().find(|s| {
        !s.private_dns_name_state.is_verified()
            && s.private_dns_name.as_deref().is_some_and(&matches)
    });
    if let Some(s) = unverified {
        return Err(format!(
            "cannot resolve {name}: it is {}'s private DNS name, whose domain is {} (not verified): AWS creates no private record for it until the provider verifies the domain (a TXT record), and it is not in public DNS",
            s.id,
            serde_json::to_value(s.private_dns_name_state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        ));
    }
    Err(format!(
        "cannot resolve {name}: no private DNS name, hosted zone record or known service matches"
    ))
}

/// A copy of a running fabric for tracing: same snapshot and the same targets' health, fresh
/// counters — a trace must not count as traffic — and the zone down as it is.
pub fn detached(live: &Fabric) -> Result<Fabric, crate::fabric::FabricError> {
    let mut copy = Fabric::build(
        live.snapshot.clone(),
        std::sync::Arc::new(crate::stats::Registry::default()),
    )?;
    copy.zones_as(live);
    for (tg, live_tg) in copy.target_groups.iter().zip(&live.target_groups) {
        for (t, live_t) in tg.targets.iter().zip(&live_tg.targets) {
            t.health.set(live_t.health.state());
        }
    }
    Ok(copy)
}

/// Every instance and every on-premises network to every endpoint: interface endpoints on the
/// first listener port of their service's load balancers (443 for AWS services), gateway
/// endpoints to the service's first address on 443.
pub fn all_pairs(f: &Fabric) -> Vec<Pair> {
    let c = &f.snapshot.config;
    let mut out = Vec::new();
    // Sources: every instance, and every on-premises network (through its VPN connection).
    let sources = c
        .instances
        .iter()
        .map(|i| &i.id)
        .chain(c.on_premises.iter().map(|o| &o.id));
    for from in sources {
        for e in &c.endpoints {
            let port = c
                .endpoint_services
                .iter()
                .find(|s| s.service_name(&c.region) == e.service)
                .and_then(|s| s.load_balancers.first())
                .and_then(|lb| c.load_balancers.iter().find(|l| &l.id == lb))
                .and_then(|l| l.listeners.first())
                .and_then(|l| l.port)
                .unwrap_or(443);
            let (reachable, code) = match resolve(f, from, &e.id, Protocol::Tcp, port) {
                Ok((q, _)) => {
                    let t = trace(f, &q);
                    let code = t
                        .forward
                        .blocked
                        .as_ref()
                        .or(t.reply.as_ref().and_then(|r| r.blocked.as_ref()))
                        .map(|b| b.code.clone());
                    (t.reachable, code)
                }
                Err(_) => (false, Some("CANNOT_RESOLVE".into())),
            };
            out.push(Pair {
                from: from.clone(),
                to: e.id.clone(),
                protocol: Protocol::Tcp,
                port,
                reachable,
                code,
            });
        }
    }
    out
}
