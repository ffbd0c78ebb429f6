//! The pipeline: what happens to one packet, as a pure function.
//!
//! [`process`] takes the fabric (the published tables), the attachment the packet came in on
//! and its bytes, rewrites the bytes in place where the path translates addresses, and returns
//! a [`Verdict`]: the attachment to send it out of, or the reason it is dropped. It makes no
//! syscall and allocates nothing; the I/O layer reads and writes the devices around it, and
//! `vpcectl trace` runs the very same function on a synthesized packet.
//!
//! Every step reports to an [`Observer`]. The forwarding path passes [`NoObserver`], whose
//! empty inlined methods compile away; the explanation path records the steps.
//!
//! The paths (the project's starting spec, `../shared/SPEC.md`, and AWS's documentation):
//!
//! * **From an ENI**: source/destination check (an ENI with the check on only sends from its
//!   own addresses), then the subnet's route table, longest prefix match, and the route's
//!   action: `local` delivers to the owner of the destination in the VPC; an internet gateway
//!   translates the private source to the ENI's public address (IPv4; IPv6 passes unchanged)
//!   and sends it to the internet side; a gateway endpoint checks its policy and sends the
//!   packet, addresses unchanged, into the service's network; `blackhole` and no route drop.
//! * **From the internet**: the public destination is translated to the private address
//!   behind it, then the gateway's edge route table (ingress routing) or local delivery.
//! * **From a service network** (replies behind a gateway endpoint): delivered to the owner of
//!   the destination in a VPC that has a gateway endpoint to that service.
//!
//! # Cost per packet
//!
//! What one packet of an **established** flow reads, by path (IPv4, not a fragment; times are
//! BENCHMARKS.md's "Pipeline cost per packet", `cargo bench --bench pipeline`):
//!
//! ```text
//! path                               route LPM   flow lookups   other lookups              rewrite
//! ENI -> internet gateway               1        1 (egress SG)  IGW outbound map           source address
//! internet gateway -> ENI            0 (1 edge)  1 (ingress SG) IGW inbound map, owners    destination address
//! ENI -> gateway endpoint               1        1 (egress SG)  endpoint policy CIDRs      none
//! service network -> ENI (reply)        0        2 (service zone, ingress SG)  owners      none
//! ENI -> interface endpoint -> target   2        3 (egress SG, endpoint zone, target SG)   addresses and ports
//!                                                               owners (2)                 in one pass
//! ENI -> GWLB endpoint -> appliance     2        3 (egress SG, steering, appliance's SG)  GENEVE encapsulation
//!                                                               owners                     (outer IPv4 + UDP)
//! ```
//!
//! A route LPM lookup is one Poptrie descent (`control::lpm::poptrie`: 2–3 memory reads for a
//! typical table; a table past 65,534 routes asks each of its slices, `control::compile`); a
//! flow lookup is one keyed hash, one spin lock and a probe of about 1.5 slots at the table's
//! load (at most 256, `crate::conntrack::MAX_PROBE`); the owners and gateway maps are one hash
//! lookup each. Rewrites update the IP and transport checksums incrementally (RFC 1624), never
//! re-summing the packet. A **new** flow adds, per security group crossed, one rule check (one
//! LPM lookup in the group set's table for the protocol) and one flow insertion; a new
//! interface-endpoint flow adds the listener, the target choice (a hash over the eligible
//! targets) and up to 32 source-port probes. A **fragment** adds one fragment-table bucket (4
//! entries, `crate::fragments`). Drops cost what the path cost up to the drop, plus one
//! counter.

use std::net::IpAddr;

use control::model::ConnectionState;
use control::secgroups::{self, Direction, RuleRef};

use control::model::{FailoverAction, Stickiness};

use crate::conntrack::{self, FlowTable, Nat, Proxy, Steer, TcpSignal, Tuple};
use crate::fabric::{Action, AttachmentIdx, AttachmentKind, Fabric, Owner, Target, Unsupported};
pub use crate::reasons::DropReason;
use crate::stats::Lane;
use crate::wire::geneve::{self, GenevePacket};
use crate::wire::{self, proto, tcp_flags, Ipv4Packet, Parsed};

/// What becomes of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send the first `len` bytes of the (possibly rewritten) buffer out of `egress`.
    Forward {
        egress: AttachmentIdx,
        len: usize,
    },
    /// Addressed to vpced itself: the first `len` bytes go to the health checker (a probe's
    /// reply) or the resolver (a query).
    Local {
        len: usize,
        service: LocalService,
    },
    Drop(DropReason),
    /// A superpacket (TUN segmentation offload) that this path cannot carry whole (GENEVE
    /// encapsulation; a PROXY header with no room left): the I/O layer splits it into
    /// segments with complete checksums and runs each through the pipeline again. Nothing of
    /// the path that asked for it has been done.
    Split,
}

/// How the device handed the packet over (TUN offloads, `virtio_net_hdr`).
///
/// A **partial** transport checksum (`VIRTIO_NET_HDR_F_NEEDS_CSUM`) holds only the sum of the
/// pseudo-header; whoever finally sends the packet completes it over the transport header and
/// payload. Because it depends on nothing but the pseudo-header, the pipeline does not keep it
/// up to date through rewrites: the I/O layer recomputes it from the packet that leaves
/// ([`crate::wire::partial_checksum`]). Only where the packet leaves as the payload of another
/// (GENEVE), and so will never be completed, does the pipeline complete it first.
///
/// A **superpacket** (GSO) is many TCP (or UDP) segments under one header: the pipeline decides
/// once for all of them — they share addresses, ports and flow — and the kernel segments what
/// leaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offload {
    pub partial_checksum: bool,
    pub superpacket: bool,
}

impl Offload {
    /// A plain packet with a complete checksum.
    pub const NONE: Offload = Offload {
        partial_checksum: false,
        superpacket: false,
    };
}

/// Which part of vpced a local packet is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalService {
    HealthChecker,
    /// The resolver of `vpcs[i]`.
    Resolver(u32),
    /// An answer from the resolvers' upstream DNS server.
    ResolverUpstream,
}

/// How a security-group check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SgOutcome {
    /// The flow is tracked in this ENI's zone: a reply, or a later packet of an allowed flow.
    Tracked,
    /// An ICMP error about a packet of a flow tracked in this ENI's zone.
    Related,
    /// A rule allows it (the flow is now tracked).
    Allowed(RuleRef),
    Denied,
}

/// A step of the decision, reported to an [`Observer`].
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    Ingress {
        attachment: AttachmentIdx,
        len: usize,
    },
    Parsed(&'a Parsed),
    SourceDestCheck {
        eni: u32,
        passed: bool,
    },
    /// Security groups of an ENI (`set` indexes `snapshot.security.sets`), checked in `zone`.
    SecurityGroup {
        set: u32,
        zone: u32,
        direction: Direction,
        outcome: SgOutcome,
    },
    /// Route lookup in `table` (snapshot index); `route` is the winning route's index.
    RouteLookup {
        table: u32,
        route: Option<usize>,
    },
    /// An address translated by an internet gateway.
    Translated {
        igw: u32,
        from: IpAddr,
        to: IpAddr,
        source: bool,
    },
    GatewayEndpoint {
        endpoint: u32,
        allowed: bool,
    },
    /// A packet reached an interface endpoint's ENI; `tracked`: it belongs to a flow the
    /// endpoint already carries.
    InterfaceEndpoint {
        eni: u32,
        state: ConnectionState,
        tracked: bool,
    },
    /// The listener that took the flow.
    Listener {
        load_balancer: u32,
        port: u16,
        target_group: u32,
    },
    /// The load balancer's security groups, enforced on PrivateLink traffic.
    LoadBalancerSecurityGroup {
        load_balancer: u32,
        set: u32,
        outcome: SgOutcome,
    },
    /// Target choice: `target` (index in the group) or none; `cross_zone` as resolved.
    Target {
        target_group: u32,
        node: u32,
        target: Option<u32>,
        cross_zone: bool,
        eligible: u32,
    },
    /// Addresses and ports rewritten by a load balancer (forward or back).
    Nat {
        from: (IpAddr, u16, IpAddr, u16),
        to: (IpAddr, u16, IpAddr, u16),
    },
    /// A packet reached Gateway Load Balancer endpoint `endpoint` (`gwlb_endpoints[i]`).
    GwlbEndpoint {
        endpoint: u32,
        state: ConnectionState,
    },
    /// The appliance of a GWLB flow: `target` (index in the group) or none.
    Appliance {
        endpoint: u32,
        target_group: u32,
        node: u32,
        target: Option<u32>,
        cross_zone: bool,
        eligible: u32,
        flow: ApplianceFlow,
    },
    /// The packet, GENEVE-encapsulated by node `node`, goes to `appliance`.
    Encapsulated {
        node: u32,
        appliance: IpAddr,
        cookie: u32,
        len: usize,
    },
    /// The appliance returned the packet of GWLB endpoint `endpoint`'s flow; it is now the
    /// inner packet `inner` (source, destination) again.
    Decapsulated {
        endpoint: u32,
        appliance: IpAddr,
        cookie: u32,
        inner: (IpAddr, IpAddr),
    },
    /// Delivery to the owner of `address` in VPC `vpc`.
    Deliver {
        vpc: u32,
        address: IpAddr,
        owner: Option<Owner>,
    },
    Verdict(Verdict),
}

/// How a GWLB flow got its appliance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplianceFlow {
    /// A new flow: chosen by the stickiness hash among the eligible appliances.
    New,
    /// A flow the GWLB already carries: its appliance.
    Tracked,
    /// A tracked flow whose appliance failed, moved to a healthy one (`rebalance`).
    Rebalanced,
}

/// Receives every step of a decision.
pub trait Observer {
    #[inline(always)]
    fn step(&mut self, _step: Step<'_>) {}
}

/// The forwarding path's observer: does nothing, costs nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;
impl Observer for NoObserver {}

/// Records every step (for explanations and tests).
#[derive(Debug, Default)]
pub struct Recorder {
    pub steps: Vec<String>,
}

impl Observer for Recorder {
    fn step(&mut self, step: Step<'_>) {
        self.steps.push(format!("{step:?}"));
    }
}

/// What a decision may read and write besides the fabric: the worker's counter lane, the
/// clock, and the flow table.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub lane: Lane,
    /// Seconds on the daemon's monotonic clock (flow timeouts).
    pub now: u32,
    pub flows: &'a FlowTable,
    /// How the packet being decided arrived ([`Offload::NONE`] but on the TUN offload path).
    pub offload: Offload,
}

/// Source ports of load-balancer nodes for translated flows; ports above are the health
/// checker's.
pub const NAT_PORTS: std::ops::RangeInclusive<u16> = 1024..=60999;
pub const PROBE_PORTS: std::ops::RangeInclusive<u16> = 61000..=65535;
/// Ports tried for one new translated flow before giving up.
const NAT_PORT_TRIES: u32 = 32;

/// Decides the fate of the packet in `buf` that arrived on `ingress`.
pub fn process<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    ingress: AttachmentIdx,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let len = buf.len();
    process_in(f, cx, ingress, buf, len, obs)
}

/// [`process`] for a packet of `len` bytes at the start of a larger buffer: the room after it
/// lets a rewrite grow the packet (the PROXY protocol header); `Verdict::Forward::len` says
/// how long it is then.
pub fn process_in<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    ingress: AttachmentIdx,
    buf: &mut [u8],
    len: usize,
    obs: &mut O,
) -> Verdict {
    let v = decide(f, cx, ingress, buf, len, obs);
    if let Verdict::Drop(r) = v {
        f.registry.drop_packet(cx.lane, r);
    }
    obs.step(Step::Verdict(v));
    v
}

/// Decides the fate of a packet a load balancer node sends itself (a health probe): routed
/// in the node's VPC from the node's subnet, through the target's security groups.
pub fn process_from_node<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    node: u32,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let v = match wire::parse(buf) {
        Ok(p) => {
            let n = &f.lb_nodes[node as usize];
            let vpc = f.load_balancers[n.lb as usize].vpc;
            route(f, cx, vpc, n.route_table, &p, &mut buf[..p.len], obs)
        }
        Err(e) => Verdict::Drop(DropReason::Malformed(e)),
    };
    if let Verdict::Drop(r) = v {
        f.registry.drop_packet(cx.lane, r);
    }
    obs.step(Step::Verdict(v));
    v
}

fn decide<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    ingress: AttachmentIdx,
    buf: &mut [u8],
    len: usize,
    obs: &mut O,
) -> Verdict {
    let Some(att) = f.attachments.get(ingress as usize) else {
        return Verdict::Drop(DropReason::Unsupported(Unsupported::DetachedInterface));
    };
    let len = len.min(buf.len());
    att.counters.rx(cx.lane, len);
    obs.step(Step::Ingress {
        attachment: ingress,
        len,
    });
    let mut p = match wire::parse(&buf[..len]) {
        Ok(p) => p,
        Err(e) => return Verdict::Drop(DropReason::Malformed(e)),
    };
    // A later fragment takes its flow (ports) from its first; see `crate::fragments`.
    if let Err(r) = cx.flows.fragments().follow(ingress, &mut p, cx.now) {
        return Verdict::Drop(r.into());
    }
    obs.step(Step::Parsed(&p));
    if !routable(p.src) || !routable(p.dst) {
        return Verdict::Drop(DropReason::NotRoutable);
    }
    // From here on `buf` may be longer than the packet (room to grow); every step reads the
    // packet's own length from `p` or its IP header.
    match att.kind {
        AttachmentKind::Eni(e) => {
            let eni = &f.enis[e as usize];
            let passed = !eni.source_dest_check || eni.owns(p.src);
            obs.step(Step::SourceDestCheck { eni: e, passed });
            if !passed {
                return Verdict::Drop(DropReason::SourceDestCheck);
            }
            if let Err(r) = security_group(f, cx, eni.zone, eni.sg, Direction::Egress, &p, obs) {
                return Verdict::Drop(r);
            }
            route(f, cx, eni.vpc, eni.route_table, &p, buf, obs)
        }
        AttachmentKind::Internet(g) => from_internet(f, cx, g, p, buf, obs),
        AttachmentKind::ServiceNetwork(s) => {
            let svc = &f.services[s as usize];
            // A reply on a flow that came through an interface endpoint.
            let sig = signal(cx, &p);
            if let Some(fl) = cx.flows.lookup(svc.zone, &tuple(&p), sig, cx.now) {
                if let (true, Some(nat), Some(&x)) = (
                    fl.from_initiator,
                    fl.nat,
                    fl.nat
                        .and_then(|n| f.endpoint_eni_by_zone.get(&n.peer_zone)),
                ) {
                    let ep = &f.endpoints[f.endpoint_enis[x as usize].endpoint as usize];
                    let q = rewrite(&p, buf, (nat.src, nat.sport), (nat.dst, nat.dport), obs);
                    if sig.fin || sig.rst {
                        cx.flows.signal(nat.peer_zone, &tuple(&q), sig, cx.now);
                    }
                    ep.counters.rx(cx.lane, q.len);
                    return deliver(f, cx, ep.vpc, &q, buf, obs);
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
                    return deliver(f, cx, ep.vpc, &p, buf, obs);
                }
            }
            Verdict::Drop(DropReason::NoReturnPath)
        }
    }
}

/// The flow of a packet: ICMP echo messages use their identifier as both ports, so that a
/// request and its reply are one flow (other ICMP messages carry 0: see [`tracking`]).
#[inline]
fn tuple(p: &Parsed) -> Tuple {
    let (sport, dport) = match p.protocol {
        proto::ICMP | proto::ICMPV6 => (p.src_port, p.src_port),
        _ => (p.src_port, p.dst_port),
    };
    Tuple {
        proto: p.protocol,
        src: p.src,
        dst: p.dst,
        sport,
        dport,
    }
}

#[inline]
fn signal(cx: &Ctx<'_>, p: &Parsed) -> TcpSignal {
    let tcp = p.protocol == proto::TCP;
    TcpSignal {
        fin: tcp && p.tcp_flags & tcp_flags::FIN != 0,
        rst: tcp && p.tcp_flags & tcp_flags::RST != 0,
        bytes: p.len as u32,
        uncounted: cx.lane & crate::stats::SEGMENT != 0,
    }
}

/// How a packet meets the flow table at a security group.
enum Tracking {
    /// By its own flow (TCP, UDP, ICMP echo by identifier, other protocols by addresses):
    /// a tracked flow passes; a new one allowed by a rule is tracked from then on.
    Flow(Tuple),
    /// An ICMP error: it passes if the flow of the packet it quotes is tracked (as Linux's
    /// conntrack calls it, *related*); otherwise the rules judge it. It starts no flow.
    Quoted(Tuple),
    /// Any other ICMP message (timestamp, redirect, router advertisement…): only the rules
    /// judge it, and it starts no flow. An echo's identifier says nothing of them.
    RulesOnly,
}

fn tracking(p: &Parsed) -> Tracking {
    if !matches!(p.protocol, proto::ICMP | proto::ICMPV6) || p.is_icmp_echo() {
        return Tracking::Flow(tuple(p));
    }
    match p.quoted {
        Some(q) => Tracking::Quoted(Tuple {
            proto: q.protocol,
            src: q.src,
            dst: q.dst,
            sport: q.src_port,
            dport: q.dst_port,
        }),
        None => Tracking::RulesOnly,
    }
}

/// The stateful security-group check of an ENI: a packet of a flow tracked in `zone`
/// passes; otherwise a rule of `sg` must allow it, and the flow is tracked from then on.
fn security_group<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    zone: u32,
    sg: Option<u32>,
    direction: Direction,
    p: &Parsed,
    obs: &mut O,
) -> Result<(), DropReason> {
    let Some(set) = sg else {
        return Ok(());
    };
    let sig = signal(cx, p);
    let outcome = match tracking(p) {
        Tracking::Flow(t) if cx.flows.lookup(zone, &t, sig, cx.now).is_some() => SgOutcome::Tracked,
        Tracking::Quoted(q) if cx.flows.contains(zone, &q, cx.now) => SgOutcome::Related,
        how => match check_rules(f, set, direction, p) {
            Some(rule) => {
                if let Tracking::Flow(t) = how {
                    cx.flows.insert(zone, &t, None, sig, cx.now)?;
                }
                SgOutcome::Allowed(rule)
            }
            None => SgOutcome::Denied,
        },
    };
    obs.step(Step::SecurityGroup {
        set,
        zone,
        direction,
        outcome,
    });
    if outcome == SgOutcome::Denied {
        count_denial(f, cx, set, direction);
        f.registry.rejects.record(zone, &tuple(p), p.len, cx.now);
        return Err(match direction {
            Direction::Ingress => DropReason::SecurityGroupIngress,
            Direction::Egress => DropReason::SecurityGroupEgress,
        });
    }
    Ok(())
}

/// Counts a denial against every group of set `set` (none of them allowed the packet).
fn count_denial(f: &Fabric, cx: &Ctx<'_>, set: u32, direction: Direction) {
    for c in &f.sg_denials[set as usize] {
        c.deny(cx.lane, direction == Direction::Egress);
    }
}

/// The rule of set `set` that allows `p` in `direction`, without state.
#[inline]
fn check_rules(f: &Fabric, set: u32, direction: Direction, p: &Parsed) -> Option<RuleRef> {
    let remote = match direction {
        Direction::Ingress => p.src,
        Direction::Egress => p.dst,
    };
    let key = secgroups::key_of(p.protocol, p.dst_port, p.icmp_type, p.icmp_code);
    f.snapshot.security.sets[set as usize].check(direction, p.protocol, remote, key)
}

/// Whether a VPC router would carry a packet with this address (as source or destination).
#[inline]
fn routable(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(a) => {
            !(a.is_multicast()
                || a.is_broadcast()
                || a.is_link_local()
                || a.is_loopback()
                || a.is_unspecified())
        }
        IpAddr::V6(a) => {
            let seg0 = a.segments()[0];
            !(a.is_multicast()
                || a.is_loopback()
                || a.is_unspecified()
                || (seg0 & 0xffc0) == 0xfe80)
        }
    }
}

/// Route lookup in `table` for a packet in `vpc`, and the route's action.
fn route<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    vpc: u32,
    table: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    route_from(f, cx, vpc, table, p, buf, false, obs)
}

/// [`route`]; `returned`: the packet comes back from an appliance, and a route to a GWLB
/// endpoint would send it round again.
#[allow(clippy::too_many_arguments)]
fn route_from<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    vpc: u32,
    table: u32,
    p: &Parsed,
    buf: &mut [u8],
    returned: bool,
    obs: &mut O,
) -> Verdict {
    let t = &f.snapshot.route_tables[table as usize];
    f.route_table_counters[table as usize].rx(cx.lane, p.len);
    let hit = t.lookup_index(p.dst);
    obs.step(Step::RouteLookup { table, route: hit });
    let Some(i) = hit else {
        return Verdict::Drop(DropReason::NoRoute);
    };
    match f.actions[table as usize][i] {
        Action::Local => deliver(f, cx, vpc, p, buf, obs),
        Action::Blackhole => Verdict::Drop(DropReason::BlackholeRoute),
        Action::InternetGateway(g) => to_internet(f, cx, g, p, buf, obs),
        Action::GatewayEndpoint(ge) => {
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
        Action::GwlbEndpoint(_) if returned => Verdict::Drop(DropReason::GwlbRouteLoop),
        Action::GwlbEndpoint(g) => to_gwlb_endpoint(f, cx, g, p, buf, obs),
        Action::NetworkInterface(a) => to_attachment(f, cx, a, p, obs),
        Action::Peering(peer) => {
            if f.vpcs[peer as usize]
                .cidrs
                .iter()
                .any(|n| n.contains(&p.dst))
            {
                deliver(f, cx, peer, p, buf, obs)
            } else {
                Verdict::Drop(DropReason::NoSuchAddress)
            }
        }
        Action::Unsupported(u) => Verdict::Drop(DropReason::Unsupported(u)),
    }
}

/// Out of an ENI's attachment: through the ENI's inbound security groups first.
fn to_attachment<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    a: AttachmentIdx,
    p: &Parsed,
    obs: &mut O,
) -> Verdict {
    if let AttachmentKind::Eni(e) = f.attachments[a as usize].kind {
        let eni = &f.enis[e as usize];
        if let Err(r) = security_group(f, cx, eni.zone, eni.sg, Direction::Ingress, p, obs) {
            return Verdict::Drop(r);
        }
    }
    Verdict::Forward {
        egress: a,
        len: p.len,
    }
}

/// Local delivery: the owner of `p.dst` in `vpc`.
fn deliver<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    vpc: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let owner = f.vpcs[vpc as usize].owners.get(&p.dst).copied();
    obs.step(Step::Deliver {
        vpc,
        address: p.dst,
        owner,
    });
    match owner {
        Some(Owner::Attachment(a)) => to_attachment(f, cx, a, p, obs),
        Some(Owner::EndpointEni(x)) => interface_endpoint(f, cx, x, p, buf, obs),
        Some(Owner::LoadBalancerNode(n)) => to_load_balancer_node(f, cx, n, p, buf, obs),
        // DNS over UDP and TCP to the resolver; security groups do not apply to it (as in AWS).
        Some(Owner::Resolver(v))
            if matches!(p.protocol, proto::UDP | proto::TCP)
                && p.dst_port == 53
                && !p.is_fragment() =>
        {
            Verdict::Local {
                len: p.len,
                service: LocalService::Resolver(v),
            }
        }
        Some(Owner::Resolver(_)) => Verdict::Drop(DropReason::ResolverProtocol),
        Some(Owner::Virtual) => {
            Verdict::Drop(DropReason::Unsupported(Unsupported::VirtualInterface))
        }
        None => Verdict::Drop(DropReason::NoSuchAddress),
    }
}

/// Rewrites an IPv4 packet's addresses and ports (incremental checksums) and returns what
/// the packet now says.
fn rewrite(
    p: &Parsed,
    buf: &mut [u8],
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    obs: &mut impl Observer,
) -> Parsed {
    if let (IpAddr::V4(s), IpAddr::V4(d)) = (src.0, dst.0) {
        wire::rewrite_v4_flow(buf, p.l4_offset, p.protocol, (s, src.1), (d, dst.1));
    }
    obs.step(Step::Nat {
        from: (p.src, p.src_port, p.dst, p.dst_port),
        to: (src.0, src.1, dst.0, dst.1),
    });
    Parsed {
        src: src.0,
        src_port: src.1,
        dst: dst.0,
        dst_port: dst.1,
        ..*p
    }
}

/// A packet to an interface endpoint's ENI: a flow the endpoint carries is translated and
/// sent on; a new one passes the endpoint's security groups, its connection state, a
/// listener, the load balancer's security groups, and gets a target and a source port.
fn interface_endpoint<O: Observer>(
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
    if !matches!(p.protocol, proto::TCP | proto::UDP) || p.is_fragment() || !p.is_ipv4() {
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
            let mut q = rewrite(p, buf, (nat.src, nat.sport), (nat.dst, nat.dport), obs);
            if sig.fin || sig.rst {
                cx.flows.signal(nat.peer_zone, &tuple(&q), sig, cx.now);
            }
            if let (Some(pp), Some(off)) = (nat.proxy, q.l4_offset) {
                let l4 = &mut buf[off..q.len];
                let seq = wire::tcp_edit::seq(l4);
                let data = q.len - off - wire::tcp_edit::header_len(l4);
                if seq == pp.seq && data > 0 {
                    // The first data byte: the header goes in front of it (again, if this
                    // is a retransmission).
                    let mut h = [0u8; 128];
                    let n = proxy_header(p, &ep.id, &mut h);
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
            // A split superpacket's segment counts from here on (what came before counted
            // the whole superpacket).
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
            return to_target(f, cx, n, &q, buf, obs);
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
    // The first load balancer of the service with a listener for this protocol and port.
    let tcp = p.protocol == proto::TCP;
    let Some((li, listener)) = f.endpoint_services[svc as usize]
        .load_balancers
        .iter()
        .find_map(|&l| {
            f.load_balancers[l as usize]
                .listeners
                .iter()
                .find(|k| k.port == p.dst_port && if tcp { k.tcp } else { k.udp })
                .map(|k| (l, k))
        })
    else {
        return Verdict::Drop(DropReason::NoListener);
    };
    let lb = &f.load_balancers[li as usize];
    obs.step(Step::Listener {
        load_balancer: li,
        port: listener.port,
        target_group: listener.target_group,
    });
    if let (Some(set), true) = (lb.sg, lb.enforce_sg_on_private_link) {
        // AWS evaluates the consumer's private address against the inbound rules.
        let rule = check_rules(f, set, Direction::Ingress, p);
        obs.step(Step::LoadBalancerSecurityGroup {
            load_balancer: li,
            set,
            outcome: rule.map_or(SgOutcome::Denied, SgOutcome::Allowed),
        });
        if rule.is_none() {
            count_denial(f, cx, set, Direction::Ingress);
            return Verdict::Drop(DropReason::LoadBalancerSecurityGroup);
        }
    }
    let Some(&node) = lb
        .nodes
        .iter()
        .find(|&&n| f.lb_nodes[n as usize].az == eni.az)
    else {
        return Verdict::Drop(DropReason::LoadBalancerNotInZone);
    };
    let tg = &f.target_groups[listener.target_group as usize];
    let cross_zone = tg.cross_zone.unwrap_or(lb.cross_zone);
    let h = flow_hash(&t);
    let (pick, count) = pick_target(tg, cross_zone, &eni.az, h);
    obs.step(Step::Target {
        target_group: listener.target_group,
        node,
        target: pick,
        cross_zone,
        eligible: count,
    });
    let Some(target) = pick.map(|i| &tg.targets[i as usize]) else {
        return Verdict::Drop(no_target(tg, cross_zone));
    };
    let n = &f.lb_nodes[node as usize];
    // PROXY protocol v2: only for a connection seen from its SYN (the header goes before the
    // first data byte, whose sequence number follows the SYN's).
    let proxy = match (tg.proxy_protocol_v2, p.protocol, p.l4_offset) {
        (true, proto::TCP, Some(off))
            if p.tcp_flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN =>
        {
            let mut h = [0u8; 128];
            let len = proxy_header(p, &ep.id, &mut h) as u16;
            Some(Proxy {
                seq: wire::tcp_edit::seq(&buf[off..p.len]).wrapping_add(1),
                len,
            })
        }
        _ => None,
    };
    // A source port on the node no flow to this target uses.
    let span = u32::from(NAT_PORTS.end() - NAT_PORTS.start()) + 1;
    let mut port = None;
    for k in 0..NAT_PORT_TRIES {
        let cand =
            NAT_PORTS.start() + ((h as u32).wrapping_add(k.wrapping_mul(7919)) % span) as u16;
        let back = Tuple {
            proto: p.protocol,
            src: target.ip,
            sport: target.port,
            dst: IpAddr::V4(n.ip),
            dport: cand,
        };
        // The way back: packets from the target become the endpoint's replies.
        let nat = Nat {
            src: p.dst,
            sport: p.dst_port,
            dst: p.src,
            dport: p.src_port,
            peer_zone: eni.zone,
            proxy,
        };
        match cx.flows.insert_new(n.zone, &back, Some(nat), sig, cx.now) {
            Ok(true) => {
                port = Some(cand);
                break;
            }
            Ok(false) => continue,
            Err(e) => return Verdict::Drop(e.into()),
        }
    }
    let Some(port) = port else {
        return Verdict::Drop(DropReason::NatPortsExhausted);
    };
    let nat = Nat {
        src: IpAddr::V4(n.ip),
        sport: port,
        dst: target.ip,
        dport: target.port,
        peer_zone: n.zone,
        proxy,
    };
    if let Err(e) = cx.flows.insert(eni.zone, &t, Some(nat), sig, cx.now) {
        return Verdict::Drop(e.into());
    }
    lb.counters.rx(cx.lane, p.len);
    tg.counters.tx(cx.lane, p.len);
    target.counters.tx(cx.lane, p.len);
    let q = rewrite(p, buf, (nat.src, nat.sport), (nat.dst, nat.dport), obs);
    if let (Some(pp), Some(off)) = (proxy, q.l4_offset) {
        // Room in the target's segments for the header.
        wire::tcp_edit::clamp_mss(&mut buf[off..q.len], pp.len);
    }
    to_target(f, cx, node, &q, buf, obs)
}

/// Whether an endpoint in connection state `state` carries new flows.
#[inline]
fn admitted(state: ConnectionState) -> Result<(), DropReason> {
    match state {
        ConnectionState::Available => Ok(()),
        ConnectionState::PendingAcceptance | ConnectionState::Pending => {
            Err(DropReason::EndpointConnectionNotAccepted)
        }
        _ => Err(DropReason::EndpointConnectionRejected),
    }
}

/// A target of `tg` for a flow of hash `h`: one of the eligible ones (healthy or not yet
/// checked, in `az` unless `cross_zone`), by hash; and how many were eligible.
#[inline]
fn pick_target(
    tg: &crate::fabric::TargetGroup,
    cross_zone: bool,
    az: &str,
    h: u64,
) -> (Option<u32>, u32) {
    let eligible = |k: &Target| k.health.eligible() && (cross_zone || k.az == az);
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
    (pick, count)
}

/// Why [`pick_target`] found none: none healthy in the zone (others elsewhere, cross-zone
/// off: AWS's `ELB_NOT_CROSSZONE`), or none healthy at all.
fn no_target(tg: &crate::fabric::TargetGroup, cross_zone: bool) -> DropReason {
    if !cross_zone && tg.targets.iter().any(|k| k.health.eligible()) {
        DropReason::NoHealthyTargetInZone
    } else {
        DropReason::NoHealthyTarget
    }
}

/// A new flow through an interface endpoint to an AWS service (S3, DynamoDB…): the
/// destination becomes one of the service's addresses (by flow hash), the source stays the
/// consumer's — as AWS services see the VPC's private addresses — and the packet goes into
/// the service's network. Replies are translated back to come from the endpoint's address.
fn to_aws_service<O: Observer>(
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
    if ep.service_addresses.is_empty() {
        return Verdict::Drop(DropReason::EndpointServiceNotFound);
    }
    let addr = IpAddr::V4(
        ep.service_addresses[(flow_hash(&t) % ep.service_addresses.len() as u64) as usize],
    );
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
    if let Err(e) = cx
        .flows
        .insert(svc.zone, &back, Some(rev), sig, cx.now)
        .and_then(|_| cx.flows.insert(eni.zone, &t, Some(fwd), sig, cx.now))
    {
        return Verdict::Drop(e.into());
    }
    let q = rewrite(p, buf, (fwd.src, fwd.sport), (fwd.dst, fwd.dport), obs);
    ep.counters.tx(cx.lane, q.len);
    Verdict::Forward {
        egress: svc.attachment,
        len: q.len,
    }
}

/// A translated packet leaves load-balancer node `node` for its target: routed in the
/// provider VPC from the node's subnet.
fn to_target<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    node: u32,
    q: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let n = &f.lb_nodes[node as usize];
    let lb = &f.load_balancers[n.lb as usize];
    lb.counters.tx(cx.lane, q.len);
    route(f, cx, lb.vpc, n.route_table, q, buf, obs)
}

/// A packet to a load-balancer node: a target's reply on a translated flow goes back to the
/// consumer; a reply to a health probe goes to vpced itself.
fn to_load_balancer_node<O: Observer>(
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
        if p.protocol == proto::TCP && PROBE_PORTS.contains(&p.dst_port) {
            return Verdict::Local {
                len: p.len,
                service: LocalService::HealthChecker,
            };
        }
        return Verdict::Drop(DropReason::NoFlow);
    };
    let Some(&x) = f.endpoint_eni_by_zone.get(&nat.peer_zone) else {
        return Verdict::Drop(DropReason::NoFlow);
    };
    let ep = &f.endpoints[f.endpoint_enis[x as usize].endpoint as usize];
    f.load_balancers[n.lb as usize].counters.rx(cx.lane, p.len);
    let q = rewrite(p, buf, (nat.src, nat.sport), (nat.dst, nat.dport), obs);
    if sig.fin || sig.rst {
        cx.flows.signal(nat.peer_zone, &tuple(&q), sig, cx.now);
    }
    if let (Some(pp), Some(off)) = (nat.proxy, q.l4_offset) {
        // The target counts the header's bytes; the consumer never sent them.
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
    ep.counters.tx(cx.lane, q.len);
    deliver(f, cx, ep.vpc, &q, buf, obs)
}

/// The PROXY protocol v2 header for a consumer's connection: the consumer's address and port
/// as the endpoint saw them, the endpoint's address and port, the endpoint's id in the AWS TLV.
fn proxy_header(p: &Parsed, endpoint: &str, out: &mut [u8; 128]) -> usize {
    match (p.src, p.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => wire::proxy_v2_header(
            std::net::SocketAddrV4::new(s, p.src_port),
            std::net::SocketAddrV4::new(d, p.dst_port),
            endpoint,
            out,
        ),
        _ => 0,
    }
}

/// A flow's hash, the same for both directions' tuples in one zone (target choice and
/// source ports).
fn flow_hash(t: &Tuple) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(t, &mut h);
    std::hash::Hasher::finish(&h)
}

fn to_internet<O: Observer>(
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

fn from_internet<O: Observer>(
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

/// The largest packet a Gateway Load Balancer carries inside GENEVE.
pub const GWLB_MTU: usize = 8500;

/// A flow's key at a GWLB endpoint: the packet's flow reduced to the target group's
/// stickiness (ports, then the protocol, left out).
#[inline]
fn sticky_tuple(p: &Parsed, s: Stickiness) -> Tuple {
    let t = tuple(p);
    match s {
        Stickiness::FiveTuple => t,
        Stickiness::ThreeTuple => Tuple {
            sport: 0,
            dport: 0,
            ..t
        },
        Stickiness::TwoTuple => Tuple {
            proto: 0,
            sport: 0,
            dport: 0,
            ..t
        },
    }
}

/// A packet routed to a Gateway Load Balancer endpoint: the flow's appliance (tracked, or
/// chosen by the symmetric stickiness hash among the healthy appliances of the endpoint's
/// zone), GENEVE encapsulation with AWS's options by the GWLB node in that zone, and
/// routing in the appliances' VPC from the node's subnet — through the appliance's security
/// groups like any packet.
fn to_gwlb_endpoint<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    g: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let ge = &f.gwlb_endpoints[g as usize];
    ge.counters.rx(cx.lane, p.len);
    obs.step(Step::GwlbEndpoint {
        endpoint: g,
        state: ge.state,
    });
    if let Err(r) = admitted(ge.state) {
        return Verdict::Drop(r);
    }
    let Some(li) = ge.load_balancer else {
        return Verdict::Drop(DropReason::EndpointServiceNotFound);
    };
    let lb = &f.load_balancers[li as usize];
    let Some(tgi) = lb.appliances else {
        return Verdict::Drop(DropReason::NoListener);
    };
    let tg = &f.target_groups[tgi as usize];
    let Some(&node) = lb
        .nodes
        .iter()
        .find(|&&n| f.lb_nodes[n as usize].az == ge.az)
    else {
        return Verdict::Drop(DropReason::LoadBalancerNotInZone);
    };
    if cx.offload.superpacket {
        // GENEVE is per segment (8,500 bytes at most): split first.
        return Verdict::Split;
    }
    // A split superpacket's segment counts from here on (the endpoint and everything before
    // it counted the whole superpacket).
    let cx = &Ctx {
        lane: crate::stats::counted(cx.lane),
        ..*cx
    };
    if p.len > GWLB_MTU {
        return Verdict::Drop(DropReason::GwlbMtuExceeded);
    }
    let key = sticky_tuple(p, tg.stickiness);
    // With fewer than five fields the key is shared by many connections: one's FIN does not
    // end the others (its bytes still count).
    let sig = if tg.stickiness == Stickiness::FiveTuple {
        signal(cx, p)
    } else {
        TcpSignal {
            fin: false,
            rst: false,
            ..signal(cx, p)
        }
    };
    let h = conntrack::symmetric_hash(&key);
    let cross_zone = tg.cross_zone.unwrap_or(lb.cross_zone);
    let tracked = cx
        .flows
        .lookup(ge.zone, &key, sig, cx.now)
        .and_then(|fl| fl.steer);
    // A tracked flow keeps its appliance unless it failed (or left the group) and the
    // group's failover moves flows.
    let kept = tracked.filter(|s| {
        let current = tg
            .targets
            .get(usize::from(s.target))
            .filter(|k| k.ip == s.appliance)
            .or_else(|| tg.targets.iter().find(|k| k.ip == s.appliance));
        match current {
            Some(k) => {
                k.health.eligible() || tg.failover.on_unhealthy == FailoverAction::NoRebalance
            }
            None => tg.failover.on_deregistration == FailoverAction::NoRebalance,
        }
    });
    let (pick, count) = pick_target(tg, cross_zone, &ge.az, h >> 32);
    let (steer, flow) = match kept {
        Some(s) => (s, ApplianceFlow::Tracked),
        None => {
            let Some(i) = pick.map(|i| i as usize) else {
                obs.step(Step::Appliance {
                    endpoint: g,
                    target_group: tgi,
                    node,
                    target: None,
                    cross_zone,
                    eligible: 0,
                    flow: ApplianceFlow::New,
                });
                return Verdict::Drop(no_target(tg, cross_zone));
            };
            let s = Steer {
                appliance: tg.targets[i].ip,
                target: i as u16,
                // A moved flow keeps its cookie: the flow is the same.
                cookie: tracked.map_or_else(|| flow_cookie(h, cx.now), |t| t.cookie),
                tcp_idle: tg.tcp_idle_timeout,
            };
            if let Err(e) = cx.flows.insert_steered(ge.zone, &key, s, sig, cx.now) {
                return Verdict::Drop(e.into());
            }
            let how = if tracked.is_some() {
                ApplianceFlow::Rebalanced
            } else {
                ApplianceFlow::New
            };
            (s, how)
        }
    };
    obs.step(Step::Appliance {
        endpoint: g,
        target_group: tgi,
        node,
        target: Some(u32::from(steer.target)),
        cross_zone,
        eligible: count,
        flow,
    });
    let IpAddr::V4(appliance) = steer.appliance else {
        // Outer headers are IPv4; validation keeps GENEVE targets IPv4.
        return Verdict::Drop(DropReason::NoHealthyTarget);
    };
    let n = &f.lb_nodes[node as usize];
    if cx.offload.partial_checksum {
        // Inside GENEVE nobody would complete it.
        wire::complete_checksum(&mut buf[..p.len], p);
    }
    // The outer source port spreads flows (RFC 8926 §3.3); the appliance keeps it.
    let outer = geneve::Outer {
        src: n.ip,
        dst: appliance,
        src_port: 49152 | (h as u16 & 0x3fff),
        dst_port: geneve::PORT,
    };
    let Some(len) = geneve::encapsulate(
        buf,
        p.len,
        outer,
        (ge.option_endpoint, ge.option_attachment, steer.cookie),
    ) else {
        return Verdict::Drop(DropReason::GwlbMtuExceeded);
    };
    obs.step(Step::Encapsulated {
        node,
        appliance: steer.appliance,
        cookie: steer.cookie,
        len,
    });
    ge.counters.tx(cx.lane, p.len);
    tg.counters.tx(cx.lane, len);
    lb.counters.tx(cx.lane, len);
    if let Some(t) = tg.targets.get(usize::from(steer.target)) {
        t.counters.tx(cx.lane, len);
    }
    let q = Parsed {
        src: IpAddr::V4(n.ip),
        dst: steer.appliance,
        protocol: proto::UDP,
        len,
        l4_offset: Some(20),
        src_port: outer.src_port,
        dst_port: outer.dst_port,
        tcp_flags: 0,
        icmp_type: 0,
        icmp_code: 0,
        fragment: None,
        quoted: None,
    };
    route(f, cx, lb.vpc, n.route_table, &q, buf, obs)
}

/// A flow's cookie: from its hash and the time it started, so that a flow that ends and
/// starts again gets a new one.
#[inline]
fn flow_cookie(h: u64, now: u32) -> u32 {
    (h as u32) ^ ((h >> 32) as u32).rotate_left(7) ^ now.wrapping_mul(0x9e37_79b9)
}

/// A packet an appliance sends to a GWLB node: GENEVE with the header the GWLB sent (AWS's
/// options echoed). It must belong to a flow the GWLB sent this appliance, with that flow's
/// cookie; the inner packet is then taken out and routed on from the GWLB endpoint's subnet.
fn from_appliance<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    node: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    if p.is_fragment() {
        return Verdict::Drop(DropReason::GeneveFragment);
    }
    let (true, true, Some(l4)) = (
        p.protocol == proto::UDP,
        p.dst_port == geneve::PORT,
        p.l4_offset,
    ) else {
        return Verdict::Drop(DropReason::GeneveMalformed);
    };
    let at = l4 + 8;
    let Ok(g) = GenevePacket::new_checked(&buf[at..p.len]) else {
        return Verdict::Drop(DropReason::GeneveMalformed);
    };
    if g.unknown_critical() || g.oam() {
        return Verdict::Drop(DropReason::GeneveMalformed);
    }
    let opts = g.aws_options();
    let inner_at = at + g.header_len();
    let (Some(endpoint), Some(cookie)) = (opts.endpoint, opts.cookie) else {
        return Verdict::Drop(DropReason::GwlbUnknownFlow);
    };
    let Some(&gi) = f.gwlb_endpoint_by_option.get(&endpoint) else {
        return Verdict::Drop(DropReason::GwlbUnknownFlow);
    };
    let inner = match wire::parse(&buf[inner_at..p.len]) {
        Ok(i) => i,
        Err(e) => return Verdict::Drop(DropReason::Malformed(e)),
    };
    let ge = &f.gwlb_endpoints[gi as usize];
    let n = &f.lb_nodes[node as usize];
    let lb = &f.load_balancers[n.lb as usize];
    let Some(tgi) = lb.appliances else {
        return Verdict::Drop(DropReason::GwlbUnknownFlow);
    };
    let tg = &f.target_groups[tgi as usize];
    let key = sticky_tuple(&inner, tg.stickiness);
    let sig = if tg.stickiness == Stickiness::FiveTuple {
        signal(cx, &inner)
    } else {
        TcpSignal::default()
    };
    let steer = cx
        .flows
        .lookup(ge.zone, &key, sig, cx.now)
        .and_then(|fl| fl.steer)
        .filter(|s| s.cookie == cookie && s.appliance == p.src);
    let Some(steer) = steer else {
        return Verdict::Drop(DropReason::GwlbUnknownFlow);
    };
    if let Some(t) = tg
        .targets
        .get(usize::from(steer.target))
        .filter(|t| t.ip == p.src)
    {
        t.counters.rx(cx.lane, p.len);
    }
    obs.step(Step::Decapsulated {
        endpoint: gi,
        appliance: p.src,
        cookie,
        inner: (inner.src, inner.dst),
    });
    lb.counters.rx(cx.lane, p.len);
    tg.counters.rx(cx.lane, p.len);
    ge.counters.tx(cx.lane, inner.len);
    buf.copy_within(inner_at..inner_at + inner.len, 0);
    route_from(f, cx, ge.vpc, ge.route_table, &inner, buf, true, obs)
}
