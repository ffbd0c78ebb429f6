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
//! * **Network ACLs** judge every packet (replies too: they are stateless) where it leaves a
//!   subnet for an address outside it and where it enters one from outside: an ENI, an
//!   interface endpoint's ENI, a load-balancer node, a GWLB endpoint.
//! * **An interface endpoint's replies** leave the endpoint's ENI by its subnet's route table,
//!   like any packet from that subnet: a consumer in a peered VPC gets them over the peering
//!   connection.
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
//! target -> endpoint -> consumer (reply) 2       3 (egress SG, node zone, consumer's SG)   addresses and ports
//!                                                               owners (2)                 in one pass
//! client -> NLB node -> target         2        3 (egress SG, node's client zone or way   addresses and ports
//!   (its own clients, `nlb`)                       back, target SG) owners (2)             in one pass
//! ENI -> VPC peering -> ENI             1        2 (egress SG, ingress SG) peer CIDRs, owners  none
//! ENI -> transit gateway -> ENI         2        2 (egress SG, ingress SG) source zone (a scan none
//!                                                  of the VPC's subnets), TGW actions, the
//!                                                  exit zone, owners; the destination
//!                                                  subnet's table only when it routes part
//!                                                  of the VPC elsewhere (else its answer,
//!                                                  local, is known: `TgwZone::local`)
//! ENI -> GWLB endpoint -> appliance     2        3 (egress SG, steering, appliance's SG)  GENEVE encapsulation
//!                                                               owners                     (outer IPv4 + UDP)
//! ```
//!
//! A **network ACL** adds, per subnet edge crossed (leaving the source's subnet, entering the
//! destination's; none within a subnet, none where the subnet has AWS's default ACL), a scan
//! of that ACL's rules of the direction and family up to the first match (at most 40 entries of
//! 20 bytes, IPv4: `control::nacl`) and one counter: 5 ns for a match at the tenth rule
//! (BENCHMARKS.md, "Network ACLs"). Through a transit gateway, the attachment subnets' ACLs
//! add the same scan where AWS applies them (`transit`): inbound where the packet enters the
//! transit gateway, outbound where it leaves it for another subnet; with no ACL on the
//! attachment subnets, one flag and one branch.
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
pub use crate::reasons::{DropReason, LocalService, Verdict};

mod gateway_endpoint;
mod gwlb;
mod internet;
mod load_balancer;
mod nlb;
mod privatelink;
mod resolver;
mod transit;

use crate::stats::Lane;
use crate::wire::geneve::{self, GenevePacket};
use crate::wire::{self, proto, tcp_flags, Ipv4Packet, Parsed};
use gateway_endpoint::{from_service_network, to_gateway_endpoint};
pub use gwlb::GWLB_MTU;
use gwlb::{from_appliance, to_gwlb_endpoint};
use internet::{from_internet, to_internet};
use load_balancer::{
    admitted, choose_target, listener_of, load_balancer_groups, no_target, pick_target, to_client,
    to_load_balancer_node, to_target, unhealthy_reset,
};
use privatelink::{endpoint_reply, interface_endpoint};
pub use resolver::process_from_resolver_endpoint;
use resolver::to_resolver_endpoint;
pub use transit::MAX_TGW_HOPS;
use transit::{from_on_premises, to_transit_gateway, to_vpn_gateway};

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
///
/// Owned and complete: each step carries what it was about (a route lookup its destination,
/// a translation both addresses), so `vpcectl trace` records the steps as they are and
/// explains them without replaying the packet's rewrites.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Ingress {
        attachment: AttachmentIdx,
        len: usize,
    },
    Parsed(Parsed),
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
    /// The network ACL of subnet `subnet` (`subnets[i]`), whose ACL is `acl`, judged a
    /// packet crossing the subnet's edge in `direction`, with remote address `remote` (the
    /// source inbound, the destination outbound).
    NetworkAcl {
        subnet: u32,
        acl: u32,
        direction: Direction,
        remote: IpAddr,
        /// The packet's protocol and destination port (what the rules matched).
        protocol: u8,
        port: u16,
        verdict: control::nacl::AclVerdict,
    },
    /// A packet entered (`entering`) or left a transit gateway through attachment
    /// `tgw_attachments[attachment]`, in zone `zones[az]` when known.
    TgwAttachment {
        attachment: u32,
        az: Option<u16>,
        entering: bool,
    },
    /// Route lookup of `destination` in transit gateway route table `table`
    /// (`snapshot.transit.tables`); `route` is the winning route's index.
    TgwRouteLookup {
        table: u32,
        destination: IpAddr,
        route: Option<usize>,
    },
    /// Into AWS from (`inbound`), or out to, on-premises network `on_prem[i]`: over Direct
    /// Connect gateway `direct_connect_gateways[i]` of the configuration, or its VPN
    /// connection.
    OnPremises {
        network: u32,
        inbound: bool,
        direct_connect: Option<u32>,
    },
    /// Route lookup of `destination` in `table` (snapshot index); `route` is the winning
    /// route's index.
    RouteLookup {
        table: u32,
        destination: IpAddr,
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
    /// The load balancer's security groups, on PrivateLink traffic (`privatelink`, when
    /// enforced there) or on its own clients' traffic.
    LoadBalancerSecurityGroup {
        load_balancer: u32,
        set: u32,
        outcome: SgOutcome,
        privatelink: bool,
    },
    /// Target choice: `target` (index in the group) or none; `cross_zone` as resolved.
    Target {
        target_group: u32,
        node: u32,
        target: Option<u32>,
        cross_zone: bool,
        eligible: u32,
        /// Every target of the group is unhealthy: the load balancer fails open.
        fail_open: bool,
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
        /// Every appliance of the group is unhealthy: the GWLB fails open.
        fail_open: bool,
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
    /// Whether steps are kept: a detail only a recorded step needs (the zone a packet entered
    /// a transit gateway in, when nothing else asks for it) is worked out only then.
    const RECORDS: bool = false;

    #[inline(always)]
    fn step(&mut self, _step: Step) {}
}

/// The forwarding path's observer: does nothing, costs nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;
impl Observer for NoObserver {}

/// Records every step: what `vpcectl trace` explains, and what tests look into.
#[derive(Debug, Default)]
pub struct Recorder {
    pub steps: Vec<Step>,
}

impl Recorder {
    /// The steps, one per line, as `Debug` writes them.
    pub fn transcript(&self) -> String {
        let lines: Vec<String> = self.steps.iter().map(|s| format!("{s:?}")).collect();
        lines.join("\n")
    }
}

impl Observer for Recorder {
    const RECORDS: bool = true;

    fn step(&mut self, step: Step) {
        self.steps.push(step);
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
            match network_acl(f, cx, n.subnet, Direction::Egress, &p, obs) {
                Ok(()) => route(f, cx, vpc, n.route_table, &p, &mut buf[..p.len], obs),
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
    if f.zone_down
        || (!f.zones_down.is_empty()
            && f.owner_zone(Owner::Attachment(ingress))
                .is_some_and(|az| f.zone_is_down(az)))
    {
        return Verdict::Drop(DropReason::ZoneDown);
    }
    let mut p = match wire::parse(&buf[..len]) {
        Ok(p) => p,
        Err(e) => return Verdict::Drop(DropReason::Malformed(e)),
    };
    // A later fragment takes its flow (ports) from its first; see `crate::fragments`.
    if let Err(r) = cx.flows.fragments().follow(ingress, &mut p, cx.now) {
        return Verdict::Drop(r.into());
    }
    obs.step(Step::Parsed(p));
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
            let keep = eni.client_ip_target;
            let answers =
                match security_group(f, cx, eni.zone, eni.sg, Direction::Egress, &p, keep, obs) {
                    Ok(t) => t,
                    Err(r) => return Verdict::Drop(r),
                };
            if let Err(r) = network_acl(f, cx, eni.subnet, Direction::Egress, &p, obs) {
                return Verdict::Drop(r);
            }
            if eni.client_ip_target && (answers || eni.sg.is_none()) {
                if let Some(v) = nlb::preserved_reply(f, cx, eni, answers, &p, buf, obs) {
                    return v;
                }
            }
            route(f, cx, eni.vpc, eni.route_table, &p, buf, obs)
        }
        AttachmentKind::Internet(g) => from_internet(f, cx, g, p, buf, obs),
        AttachmentKind::OnPremises(o) => from_on_premises(f, cx, o, &p, buf, obs),
        AttachmentKind::ServiceNetwork(s) => from_service_network(f, cx, s, &p, buf, obs),
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
        logged: if tcp {
            TcpSignal::log_flags(p.tcp_flags)
        } else {
            0
        },
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
/// With `keep`, says whether the packet answers a translated flow tracked there (a preserved
/// client's, `nlb::preserved_reply`); the entry's translation is not decoded here.
#[allow(clippy::too_many_arguments)]
fn security_group<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    zone: u32,
    sg: Option<u32>,
    direction: Direction,
    p: &Parsed,
    keep: bool,
    obs: &mut O,
) -> Result<bool, DropReason> {
    let Some(set) = sg else {
        return Ok(false);
    };
    let sig = signal(cx, p);
    let mut found = None;
    let outcome = match tracking(p) {
        Tracking::Flow(t) if !keep && cx.flows.lookup(zone, &t, sig, cx.now).is_some() => {
            SgOutcome::Tracked
        }
        Tracking::Flow(t)
            if keep && {
                found = cx.flows.lookup_reply(zone, &t, sig, cx.now);
                found.is_some()
            } =>
        {
            SgOutcome::Tracked
        }
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
        f.registry
            .rejects
            .record(zone, &tuple(p), p.len, signal(cx, p).logged, cx.now);
        return Err(match direction {
            Direction::Ingress => DropReason::SecurityGroupIngress,
            Direction::Egress => DropReason::SecurityGroupEgress,
        });
    }
    Ok(found == Some(true))
}

/// The network ACL of subnet `subnet` on a packet crossing its edge in `direction`: leaving
/// (`Egress`) for a destination outside the subnet, or entering (`Ingress`) from a source
/// outside it. Stateless: every packet, replies included, is judged by the rules of the
/// direction it travels in; traffic within the subnet and to or from the VPC's resolver is
/// not filtered (AWS). A subnet with AWS's default ACL (`acl: None`) costs one branch.
#[inline(always)]
fn network_acl<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    subnet: u32,
    direction: Direction,
    p: &Parsed,
    obs: &mut O,
) -> Result<(), DropReason> {
    match f.subnets[subnet as usize].acl {
        None => Ok(()),
        Some(acl) => acl_check(f, cx, subnet, acl, direction, p, obs),
    }
}

/// [`network_acl`] for a subnet with an ACL of its own.
#[allow(clippy::too_many_arguments)]
fn acl_check<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    subnet: u32,
    acl: u32,
    direction: Direction,
    p: &Parsed,
    obs: &mut O,
) -> Result<(), DropReason> {
    let sn = &f.subnets[subnet as usize];
    let remote = match direction {
        Direction::Ingress => p.src,
        Direction::Egress => p.dst,
    };
    if sn.contains(remote) || sn.resolver == Some(remote) {
        return Ok(());
    }
    acl_rules(f, cx, subnet, acl, direction, p, obs)
}

/// The rules of ACL `acl` (of subnet `subnet`) on `p` in `direction`, counted and observed,
/// wherever the packet's other end is.
#[allow(clippy::too_many_arguments)]
fn acl_rules<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    subnet: u32,
    acl: u32,
    direction: Direction,
    p: &Parsed,
    obs: &mut O,
) -> Result<(), DropReason> {
    let (remote, reason) = match direction {
        Direction::Ingress => (p.src, DropReason::NetworkAclIngress),
        Direction::Egress => (p.dst, DropReason::NetworkAclEgress),
    };
    let key = secgroups::key_of(p.protocol, p.dst_port, p.icmp_type, p.icmp_code);
    let verdict = f.snapshot.nacls.acls[acl as usize]
        .rules(direction)
        .check(p.protocol, remote, key);
    f.acl_counters[acl as usize].hit(cx.lane, direction == Direction::Egress, verdict.rule);
    obs.step(Step::NetworkAcl {
        subnet,
        acl,
        direction,
        remote,
        protocol: p.protocol,
        port: p.dst_port,
        verdict,
    });
    if verdict.allow {
        Ok(())
    } else {
        Err(reason)
    }
}

/// [`network_acl`] inbound at subnet `subnet`, except for a packet handed over inside it:
/// `from` is the subnet a transit gateway delivered it through (AWS evaluates no rule on
/// traffic from a transit gateway to a resource in the attachment's own subnet).
#[inline(always)]
fn ingress_acl<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    subnet: u32,
    from: Option<u32>,
    p: &Parsed,
    obs: &mut O,
) -> Result<(), DropReason> {
    if from == Some(subnet) {
        return Ok(());
    }
    network_acl(f, cx, subnet, Direction::Ingress, p, obs)
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
    route_from(f, cx, vpc, table, p, buf, Via::Start, obs)
}

/// Where a packet being routed comes from, when that forbids a route: back from an appliance
/// (a route to a GWLB endpoint would send it round again), or out of a transit gateway through
/// its attachment's subnet `subnet` (a route to a transit gateway would too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Start,
    Appliance,
    TransitGateway { subnet: u32 },
}

impl Via {
    /// The subnet a transit gateway handed the packet over in.
    fn subnet(self) -> Option<u32> {
        match self {
            Via::TransitGateway { subnet } => Some(subnet),
            _ => None,
        }
    }
}

/// [`route`] for a packet that arrives `via` an appliance or a transit gateway.
#[allow(clippy::too_many_arguments)]
fn route_from<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    vpc: u32,
    table: u32,
    p: &Parsed,
    buf: &mut [u8],
    via: Via,
    obs: &mut O,
) -> Verdict {
    let t = &f.snapshot.route_tables[table as usize];
    f.route_table_counters[table as usize].rx(cx.lane, p.len);
    let hit = t.lookup_index(p.dst);
    obs.step(Step::RouteLookup {
        table,
        destination: p.dst,
        route: hit,
    });
    let Some(i) = hit else {
        return Verdict::Drop(DropReason::NoRoute);
    };
    match f.actions[table as usize][i] {
        Action::Local => deliver_from(f, cx, vpc, p, buf, via.subnet(), obs),
        Action::Blackhole => Verdict::Drop(DropReason::BlackholeRoute),
        Action::InternetGateway(g) => to_internet(f, cx, g, p, buf, obs),
        Action::GatewayEndpoint(ge) => to_gateway_endpoint(f, cx, ge, p, obs),
        Action::GwlbEndpoint(_) if via == Via::Appliance => {
            Verdict::Drop(DropReason::GwlbRouteLoop)
        }
        Action::GwlbEndpoint(g) => to_gwlb_endpoint(f, cx, g, p, buf, obs),
        Action::NetworkInterface(a) => to_attachment(f, cx, a, via.subnet(), p, obs),
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
        Action::TransitGateway(_) if matches!(via, Via::TransitGateway { .. }) => {
            Verdict::Drop(DropReason::TgwRouteLoop)
        }
        Action::TransitGateway(t) => to_transit_gateway(f, cx, vpc, t, p, buf, obs),
        Action::VpnGateway(g) => to_vpn_gateway(f, g, p, obs),
        Action::Unsupported(u) => Verdict::Drop(DropReason::Unsupported(u)),
    }
}

/// Out of an ENI's attachment: through its subnet's network ACL (unless handed over inside
/// that subnet, `from`) and the ENI's inbound security groups first.
fn to_attachment<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    a: AttachmentIdx,
    from: Option<u32>,
    p: &Parsed,
    obs: &mut O,
) -> Verdict {
    if let AttachmentKind::Eni(e) = f.attachments[a as usize].kind {
        let eni = &f.enis[e as usize];
        if let Err(r) = ingress_acl(f, cx, eni.subnet, from, p, obs) {
            return Verdict::Drop(r);
        }
        if let Err(r) = security_group(f, cx, eni.zone, eni.sg, Direction::Ingress, p, false, obs) {
            return Verdict::Drop(r);
        }
    }
    Verdict::Forward {
        egress: a,
        len: p.len,
    }
}

/// Local delivery: the owner of `p.dst` in `vpc`.
#[inline(always)]
fn deliver<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    vpc: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    deliver_from(f, cx, vpc, p, buf, None, obs)
}

/// [`deliver`] of a packet a transit gateway handed over in subnet `from`.
#[allow(clippy::too_many_arguments)]
fn deliver_from<O: Observer>(
    f: &Fabric,
    cx: &Ctx<'_>,
    vpc: u32,
    p: &Parsed,
    buf: &mut [u8],
    from: Option<u32>,
    obs: &mut O,
) -> Verdict {
    let owner = f.vpcs[vpc as usize].owners.get(&p.dst).copied();
    obs.step(Step::Deliver {
        vpc,
        address: p.dst,
        owner,
    });
    // An owner in a zone that is down takes nothing (a region's zone-failure drill).
    if !f.zones_down.is_empty()
        && owner
            .and_then(|o| f.owner_zone(o))
            .is_some_and(|az| f.zone_is_down(az))
    {
        return Verdict::Drop(DropReason::ZoneDown);
    }
    match owner {
        Some(Owner::Attachment(a)) => to_attachment(f, cx, a, from, p, obs),
        Some(Owner::EndpointEni(x)) => {
            if let Some(sn) = f.endpoint_enis[x as usize].subnet {
                if let Err(r) = ingress_acl(f, cx, sn, from, p, obs) {
                    return Verdict::Drop(r);
                }
            }
            interface_endpoint(f, cx, x, p, buf, obs)
        }
        Some(Owner::LoadBalancerNode(n)) => {
            let sn = f.lb_nodes[n as usize].subnet;
            if let Err(r) = ingress_acl(f, cx, sn, from, p, obs) {
                return Verdict::Drop(r);
            }
            to_load_balancer_node(f, cx, n, p, buf, obs)
        }
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
        Some(Owner::ResolverEndpoint(x)) => to_resolver_endpoint(f, cx, x, from, p, obs),
        Some(Owner::Virtual) => {
            Verdict::Drop(DropReason::Unsupported(Unsupported::VirtualInterface))
        }
        None => Verdict::Drop(DropReason::NoSuchAddress),
    }
}

/// Rewrites a packet's addresses and ports (incremental checksums) and returns what the
/// packet now says: in place within its family, or translated to the other family when the
/// new addresses are of it (a dual-stack load balancer; `wire::family`) — `AddressFamily`
/// when that cannot be done.
#[inline]
fn rewrite(
    p: &Parsed,
    buf: &mut [u8],
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    obs: &mut impl Observer,
) -> Result<Parsed, DropReason> {
    let same = Parsed {
        src: src.0,
        src_port: src.1,
        dst: dst.0,
        dst_port: dst.1,
        ..*p
    };
    let q = match (p.src, src.0, dst.0) {
        (IpAddr::V4(_), IpAddr::V4(s), IpAddr::V4(d)) => {
            wire::rewrite_v4_flow(buf, p.l4_offset, p.protocol, (s, src.1), (d, dst.1));
            same
        }
        (IpAddr::V6(_), IpAddr::V6(s), IpAddr::V6(d)) => {
            wire::family::rewrite_v6_flow(buf, p, (s, src.1), (d, dst.1));
            same
        }
        // A dual-stack load balancer between a client and a target of different families.
        _ => wire::family::translate_flow(buf, p, src, dst).ok_or(DropReason::AddressFamily)?,
    };
    obs.step(Step::Nat {
        from: (p.src, p.src_port, p.dst, p.dst_port),
        to: (src.0, src.1, dst.0, dst.1),
    });
    Ok(q)
}
