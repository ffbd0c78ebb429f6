//! Links, addresses and routes through rtnetlink: what vpced once forked `ip` for (8–12
//! processes per attachment, errors read back as stderr text).
//!
//! A [`Netlink`] is an `NETLINK_ROUTE` socket bound to one network namespace — opened in a
//! short-lived thread that enters the namespace first, since a netlink socket acts in the
//! namespace it was created in — and one request at a time on it: each request asks for an
//! acknowledgement, and an error comes back as a [`NetlinkError`] naming the operation, the
//! device and the namespace. Messages are built and parsed by `netlink-packet-route`; nothing
//! here is on the packet path.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP,
    NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, LinkAttribute, LinkFlags, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use super::netns;

/// The main routing table (`RT_TABLE_MAIN`).
const MAIN_TABLE: u8 = 254;

/// A netlink operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} {device}{}: {source}", .namespace.as_ref().map(|n| format!(" in network namespace {n}")).unwrap_or_default())]
pub struct NetlinkError {
    /// What was being done ("set the MTU of", "add an address to", …).
    pub op: &'static str,
    /// The device (or "rtnetlink" for the socket itself).
    pub device: String,
    pub namespace: Option<String>,
    #[source]
    pub source: io::Error,
}

/// One rtnetlink socket in one namespace.
pub struct Netlink {
    socket: Socket,
    namespace: Option<String>,
    seq: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Netlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netlink")
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl Netlink {
    /// A socket in namespace `ns` (by name, under `/run/netns`), or in the caller's own.
    pub fn open(ns: Option<&str>) -> Result<Netlink, NetlinkError> {
        let err = |source| NetlinkError {
            op: "open a socket for",
            device: "rtnetlink".into(),
            namespace: ns.map(str::to_string),
            source,
        };
        let socket = match ns {
            None => route_socket(),
            Some(ns) => std::thread::scope(|s| {
                s.spawn(|| {
                    netns::enter(ns).map_err(|e| e.source)?;
                    route_socket()
                })
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("netlink thread panicked")))
            }),
        }
        .map_err(err)?;
        Ok(Netlink {
            socket,
            namespace: ns.map(str::to_string),
            seq: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    fn fail(&self, op: &'static str, device: &str) -> impl FnOnce(io::Error) -> NetlinkError {
        let (device, namespace) = (device.to_string(), self.namespace.clone());
        move |source| NetlinkError {
            op,
            device,
            namespace,
            source,
        }
    }

    /// The index of link `name`; `None` if there is none of that name.
    pub fn index(&mut self, name: &str) -> Result<Option<u32>, NetlinkError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(RouteNetlinkMessage::GetLink(m), 0) {
            Ok(replies) => Ok(replies.iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(self.fail("look up", name)(e)),
        }
    }

    fn existing(&mut self, name: &str) -> Result<u32, NetlinkError> {
        self.index(name)?
            .ok_or_else(|| self.fail("find", name)(io::Error::from_raw_os_error(libc::ENODEV)))
    }

    /// Changes link `name` by the attributes and flags `edit` sets on an empty message.
    fn set_link(
        &mut self,
        op: &'static str,
        name: &str,
        edit: impl FnOnce(&mut LinkMessage),
    ) -> Result<(), NetlinkError> {
        let mut m = LinkMessage::default();
        m.header.index = self.existing(name)?;
        edit(&mut m);
        self.request(RouteNetlinkMessage::SetLink(m), 0)
            .map(drop)
            .map_err(self.fail(op, name))
    }

    /// Brings link `name` up, with MTU `mtu` if given (`ip link set dev NAME mtu MTU up`).
    pub fn set_up(&mut self, name: &str, mtu: Option<u32>) -> Result<(), NetlinkError> {
        self.set_link("bring up", name, |m| {
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
            if let Some(mtu) = mtu {
                m.attributes.push(LinkAttribute::Mtu(mtu));
            }
        })
    }

    /// No IPv6 address generation on link `name` (`addrgenmode none`): no link-local address,
    /// no router solicitations.
    pub fn no_ipv6_autoconf(&mut self, name: &str) -> Result<(), NetlinkError> {
        self.set_link("turn IPv6 autoconfiguration off on", name, |m| {
            m.attributes
                .push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
                    vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
                )]));
        })
    }

    pub fn set_alias(&mut self, name: &str, alias: &str) -> Result<(), NetlinkError> {
        self.set_link("set the alias of", name, |m| {
            m.attributes.push(LinkAttribute::IfAlias(alias.to_string()));
        })
    }

    /// Moves link `name` into the namespace open at `ns`.
    pub fn move_to(&mut self, name: &str, ns: BorrowedFd<'_>) -> Result<(), NetlinkError> {
        self.set_link("move to another namespace", name, |m| {
            m.attributes.push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
        })
    }

    pub fn delete_link(&mut self, name: &str) -> Result<(), NetlinkError> {
        let mut m = LinkMessage::default();
        m.header.index = self.existing(name)?;
        self.request(RouteNetlinkMessage::DelLink(m), 0)
            .map(drop)
            .map_err(self.fail("delete", name))
    }

    /// Removes every address of link `name` (`ip addr flush dev NAME`).
    pub fn flush_addresses(&mut self, name: &str) -> Result<(), NetlinkError> {
        let index = self.existing(name)?;
        let all = self
            .request(
                RouteNetlinkMessage::GetAddress(AddressMessage::default()),
                NLM_F_DUMP,
            )
            .map_err(self.fail("list the addresses of", name))?;
        for reply in all {
            if let RouteNetlinkMessage::NewAddress(a) = reply {
                if a.header.index == index {
                    self.request(RouteNetlinkMessage::DelAddress(a), 0)
                        .map_err(self.fail("remove an address from", name))?;
                }
            }
        }
        Ok(())
    }

    /// Adds (or replaces) address `addr/prefix` on link `name`; IPv6 addresses skip duplicate
    /// address detection (`nodad`), as the fabric owns every address it hands out.
    pub fn replace_address(
        &mut self,
        name: &str,
        addr: IpAddr,
        prefix: u8,
    ) -> Result<(), NetlinkError> {
        let mut m = AddressMessage::default();
        m.header.index = self.existing(name)?;
        m.header.prefix_len = prefix;
        m.header.family = family(addr);
        m.attributes.push(AddressAttribute::Local(addr));
        match addr {
            IpAddr::V4(_) => m.attributes.push(AddressAttribute::Address(addr)),
            IpAddr::V6(_) => {
                m.attributes.push(AddressAttribute::Address(addr));
                m.attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
        }
        self.request(
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_CREATE | NLM_F_REPLACE,
        )
        .map(drop)
        .map_err(self.fail("add an address to", name))
    }

    /// A default route of `family` out of link `name`, on-link (`ip -4|-6 route replace
    /// default dev NAME`).
    pub fn replace_default_route(&mut self, name: &str, v6: bool) -> Result<(), NetlinkError> {
        let index = self.existing(name)?;
        let mut m = RouteMessage::default();
        m.header.address_family = if v6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        m.header.table = MAIN_TABLE;
        m.header.protocol = RouteProtocol::Boot;
        m.header.kind = RouteType::Unicast;
        // What `ip` chooses for a route with no gateway: link scope for IPv4, universe for
        // IPv6 (which has no link scope for routes).
        m.header.scope = if v6 {
            RouteScope::Universe
        } else {
            RouteScope::Link
        };
        m.attributes.push(RouteAttribute::Oif(index));
        self.request(
            RouteNetlinkMessage::NewRoute(m),
            NLM_F_CREATE | NLM_F_REPLACE,
        )
        .map(drop)
        .map_err(self.fail("add a default route through", name))
    }

    /// Sends one request (with `NLM_F_REQUEST | NLM_F_ACK` and `flags`) and reads until its
    /// acknowledgement, error or end of dump; returns the messages that came with it.
    fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket.send(&out, 0)?;
        let mut replies = Vec::new();
        loop {
            let n = self.socket.recv(&mut &mut self.buf[..], 0)?;
            let mut at = 0;
            while at < n {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.buf[at..n])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = reply.header.length as usize;
                if len == 0 {
                    break;
                }
                at += len.next_multiple_of(4);
                if reply.header.sequence_number != self.seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(replies),
                            Some(_) => Err(e.to_io()),
                        }
                    }
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::InnerMessage(m) => replies.push(m),
                    _ => {}
                }
            }
        }
    }
}

fn route_socket() -> io::Result<Socket> {
    let mut s = Socket::new(NETLINK_ROUTE)?;
    s.bind_auto()?;
    s.connect(&SocketAddr::new(0, 0))?;
    Ok(s)
}

fn family(addr: IpAddr) -> AddressFamily {
    match addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}
