//! The pipeline: what happens to one packet, as a pure function.
//!
//! [`process`] takes the fabric (the published tables), the attachment the packet came in on
//! and its bytes, rewrites the bytes in place where the path translates addresses, and returns
//! a [`Verdict`]: the attachment to send it out of, or the reason it is dropped. It makes no
//! syscall and allocates nothing; the I/O layer reads and writes the devices around it, and
//! `vpcectl trace` will run the very same function on a synthesized packet.
//!
//! Every step reports to an [`Observer`]. The forwarding path passes [`NoObserver`], whose
//! empty inlined methods compile away; the explanation path records the steps.
//!
//! The paths (SPEC.md):
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

use std::net::IpAddr;

use crate::fabric::{Action, AttachmentIdx, AttachmentKind, Fabric, Owner, Unsupported};
use crate::stats::Lane;
use crate::wire::{self, Ipv4Packet, Parsed, WireError};

/// What becomes of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send the first `len` bytes of the (possibly rewritten) buffer out of `egress`.
    Forward {
        egress: AttachmentIdx,
        len: usize,
    },
    Drop(DropReason),
}

/// Why a packet was dropped. Each is a counter (`vpcectl stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    Malformed(WireError),
    /// Multicast, broadcast, link-local, loopback or unspecified addresses: a VPC carries none
    /// of them (the stacks behind the attachments still try, e.g. IPv6 MLD reports).
    NotRoutable,
    /// An ENI with source/destination check on sent from an address not its own.
    SourceDestCheck,
    /// No route in the route table covers the destination.
    NoRoute,
    /// The route's target is `blackhole`.
    BlackholeRoute,
    /// `local` (or peering) route, but nothing in the VPC owns the destination address.
    NoSuchAddress,
    /// To the internet from an address with no public IPv4 address.
    NoPublicAddress,
    /// From the internet to an address that maps to no instance.
    UnknownPublicAddress,
    /// The gateway endpoint's policy does not allow the destination.
    EndpointPolicy,
    /// A service network sent to an address no gateway endpoint of the service covers.
    NoReturnPath,
    /// A path this build does not forward yet.
    Unsupported(Unsupported),
    /// The send to the egress device failed (queue full, device gone); counted by the I/O
    /// layer.
    EgressError,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 21] = [
        DropReason::Malformed(WireError::Truncated),
        DropReason::Malformed(WireError::BadVersion),
        DropReason::Malformed(WireError::BadHeaderLength),
        DropReason::Malformed(WireError::BadTotalLength),
        DropReason::Malformed(WireError::BadChecksum),
        DropReason::Malformed(WireError::BadTransportHeader),
        DropReason::SourceDestCheck,
        DropReason::NoRoute,
        DropReason::BlackholeRoute,
        DropReason::NoSuchAddress,
        DropReason::NoPublicAddress,
        DropReason::UnknownPublicAddress,
        DropReason::EndpointPolicy,
        DropReason::NoReturnPath,
        DropReason::Unsupported(Unsupported::NatGateway),
        DropReason::Unsupported(Unsupported::GatewayLoadBalancerEndpoint),
        DropReason::Unsupported(Unsupported::VpnGateway),
        DropReason::Unsupported(Unsupported::VirtualInterface),
        DropReason::Unsupported(Unsupported::DetachedInterface),
        DropReason::EgressError,
        DropReason::NotRoutable,
    ];
    pub const COUNT: usize = Self::ALL.len();

    pub fn index(self) -> usize {
        match self {
            DropReason::Malformed(e) => match e {
                WireError::Truncated => 0,
                WireError::BadVersion => 1,
                WireError::BadHeaderLength => 2,
                WireError::BadTotalLength => 3,
                WireError::BadChecksum => 4,
                WireError::BadTransportHeader => 5,
            },
            DropReason::SourceDestCheck => 6,
            DropReason::NoRoute => 7,
            DropReason::BlackholeRoute => 8,
            DropReason::NoSuchAddress => 9,
            DropReason::NoPublicAddress => 10,
            DropReason::UnknownPublicAddress => 11,
            DropReason::EndpointPolicy => 12,
            DropReason::NoReturnPath => 13,
            DropReason::Unsupported(u) => match u {
                Unsupported::NatGateway => 14,
                Unsupported::GatewayLoadBalancerEndpoint => 15,
                Unsupported::VpnGateway => 16,
                Unsupported::VirtualInterface => 17,
                Unsupported::DetachedInterface => 18,
            },
            DropReason::EgressError => 19,
            DropReason::NotRoutable => 20,
        }
    }

    /// The counter's name.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Malformed(WireError::Truncated) => "malformed_truncated",
            DropReason::Malformed(WireError::BadVersion) => "malformed_bad_ip_version",
            DropReason::Malformed(WireError::BadHeaderLength) => "malformed_bad_header_length",
            DropReason::Malformed(WireError::BadTotalLength) => "malformed_bad_total_length",
            DropReason::Malformed(WireError::BadChecksum) => "malformed_bad_header_checksum",
            DropReason::Malformed(WireError::BadTransportHeader) => {
                "malformed_bad_transport_header"
            }
            DropReason::SourceDestCheck => "source_dest_check",
            DropReason::NoRoute => "no_route",
            DropReason::BlackholeRoute => "blackhole_route",
            DropReason::NoSuchAddress => "no_such_address",
            DropReason::NoPublicAddress => "no_public_address",
            DropReason::UnknownPublicAddress => "unknown_public_address",
            DropReason::EndpointPolicy => "endpoint_policy",
            DropReason::NoReturnPath => "no_return_path",
            DropReason::Unsupported(Unsupported::NatGateway) => "unsupported_nat_gateway",
            DropReason::Unsupported(Unsupported::GatewayLoadBalancerEndpoint) => {
                "unsupported_gwlb_endpoint"
            }
            DropReason::Unsupported(Unsupported::VpnGateway) => "unsupported_vpn_gateway",
            DropReason::Unsupported(Unsupported::VirtualInterface) => {
                "unsupported_virtual_interface"
            }
            DropReason::Unsupported(Unsupported::DetachedInterface) => {
                "unsupported_detached_interface"
            }
            DropReason::EgressError => "egress_error",
            DropReason::NotRoutable => "not_routable",
        }
    }
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
    /// Delivery to the owner of `address` in VPC `vpc`.
    Deliver {
        vpc: u32,
        address: IpAddr,
        owner: Option<Owner>,
    },
    Verdict(Verdict),
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

/// Decides the fate of the packet in `buf` that arrived on `ingress`, counting into the
/// counters' shard `lane` (the worker's index, below [`crate::stats::MAX_LANES`]).
pub fn process<O: Observer>(
    f: &Fabric,
    lane: Lane,
    ingress: AttachmentIdx,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let v = decide(f, lane, ingress, buf, obs);
    if let Verdict::Drop(r) = v {
        f.registry.drop_packet(lane, r);
    }
    obs.step(Step::Verdict(v));
    v
}

fn decide<O: Observer>(
    f: &Fabric,
    lane: Lane,
    ingress: AttachmentIdx,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let Some(att) = f.attachments.get(ingress as usize) else {
        return Verdict::Drop(DropReason::Unsupported(Unsupported::DetachedInterface));
    };
    att.counters.rx(lane, buf.len());
    obs.step(Step::Ingress {
        attachment: ingress,
        len: buf.len(),
    });
    let p = match wire::parse(buf) {
        Ok(p) => p,
        Err(e) => return Verdict::Drop(DropReason::Malformed(e)),
    };
    obs.step(Step::Parsed(&p));
    if !routable(p.src) || !routable(p.dst) {
        return Verdict::Drop(DropReason::NotRoutable);
    }
    let buf = &mut buf[..p.len];
    match att.kind {
        AttachmentKind::Eni(e) => {
            let eni = &f.enis[e as usize];
            let passed = !eni.source_dest_check || eni.owns(p.src);
            obs.step(Step::SourceDestCheck { eni: e, passed });
            if !passed {
                return Verdict::Drop(DropReason::SourceDestCheck);
            }
            route(f, lane, eni.vpc, eni.route_table, &p, buf, obs)
        }
        AttachmentKind::Internet(g) => from_internet(f, lane, g, p, buf, obs),
        AttachmentKind::ServiceNetwork(s) => {
            let svc = &f.services[s as usize];
            for &ge in &svc.endpoints {
                let ep = &f.gateway_endpoints[ge as usize];
                if f.vpcs[ep.vpc as usize]
                    .cidrs
                    .iter()
                    .any(|n| n.contains(&p.dst))
                {
                    ep.counters.rx(lane, p.len);
                    return deliver(f, ep.vpc, p.dst, p.len, obs);
                }
            }
            Verdict::Drop(DropReason::NoReturnPath)
        }
    }
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
    lane: Lane,
    vpc: u32,
    table: u32,
    p: &Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let t = &f.snapshot.route_tables[table as usize];
    f.route_table_counters[table as usize].rx(lane, p.len);
    let hit = t.lookup_index(p.dst);
    obs.step(Step::RouteLookup { table, route: hit });
    let Some(i) = hit else {
        return Verdict::Drop(DropReason::NoRoute);
    };
    match f.actions[table as usize][i] {
        Action::Local => deliver(f, vpc, p.dst, p.len, obs),
        Action::Blackhole => Verdict::Drop(DropReason::BlackholeRoute),
        Action::InternetGateway(g) => to_internet(f, lane, g, p, buf, obs),
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
            ep.counters.tx(lane, p.len);
            Verdict::Forward {
                egress: ep.attachment,
                len: p.len,
            }
        }
        Action::NetworkInterface(a) => Verdict::Forward {
            egress: a,
            len: p.len,
        },
        Action::Peering(peer) => {
            if f.vpcs[peer as usize]
                .cidrs
                .iter()
                .any(|n| n.contains(&p.dst))
            {
                deliver(f, peer, p.dst, p.len, obs)
            } else {
                Verdict::Drop(DropReason::NoSuchAddress)
            }
        }
        Action::Unsupported(u) => Verdict::Drop(DropReason::Unsupported(u)),
    }
}

/// Local delivery: the attachment owning `dst` in `vpc`.
fn deliver<O: Observer>(f: &Fabric, vpc: u32, dst: IpAddr, len: usize, obs: &mut O) -> Verdict {
    let owner = f.vpcs[vpc as usize].owners.get(&dst).copied();
    obs.step(Step::Deliver {
        vpc,
        address: dst,
        owner,
    });
    match owner {
        Some(Owner::Attachment(a)) => Verdict::Forward { egress: a, len },
        Some(Owner::Virtual) => {
            Verdict::Drop(DropReason::Unsupported(Unsupported::VirtualInterface))
        }
        None => Verdict::Drop(DropReason::NoSuchAddress),
    }
}

fn to_internet<O: Observer>(
    f: &Fabric,
    lane: Lane,
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
        obs.step(Step::Translated {
            igw: g,
            from: p.src,
            to: IpAddr::V4(public),
            source: true,
        });
    }
    igw.counters.tx(lane, p.len);
    Verdict::Forward {
        egress: igw.attachment,
        len: p.len,
    }
}

fn from_internet<O: Observer>(
    f: &Fabric,
    lane: Lane,
    g: u32,
    mut p: Parsed,
    buf: &mut [u8],
    obs: &mut O,
) -> Verdict {
    let igw = &f.igws[g as usize];
    igw.counters.rx(lane, p.len);
    match p.dst {
        IpAddr::V4(dst) => {
            let Some(&private) = igw.inbound.get(&dst) else {
                return Verdict::Drop(DropReason::UnknownPublicAddress);
            };
            Ipv4Packet::new_unchecked(&mut *buf).set_dst_addr(private);
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
        Some(t) => route(f, lane, igw.vpc, t, &p, buf, obs),
        None => deliver(f, igw.vpc, p.dst, p.len, obs),
    }
}
