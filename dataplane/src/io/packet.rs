//! Attachments on existing Ethernet interfaces: `AF_PACKET` sockets, and the little of
//! Ethernet and ARP an uplink needs.
//!
//! Each worker gets its own packet socket on the interface, all joined in one
//! `PACKET_FANOUT_HASH` group, so that the kernel spreads flows over the workers by hash as
//! the TUN devices' queues do. Sockets use `PACKET_VNET_HDR`: frames carry the same
//! `virtio_net_hdr` as on TUN devices, so superpackets and partial checksums pass here too
//! (the header's offsets count the Ethernet header, which [`to_ip_frame`] and
//! [`Uplink::send`] account for). `PACKET_IGNORE_OUTGOING` keeps a socket from reading back
//! what it sent. Frames are read through a receive ring shared with the kernel
//! ([`super::rxring`]: no syscall per frame read) unless vpced is told otherwise
//! (`--no-uplink-ring`, and always under `--io uring`, whose reads need the socket's queue).
//!
//! L2 is kept to what a gateway's internet side needs: ARP answers for the public addresses
//! behind the gateway (so the router on the link sends them to us), and the router's own
//! Ethernet address, learned from any ARP packet it sends and asked for (at most every
//! 200 ms) while unknown. IPv4 only; IPv6 frames arriving are decided like any, but none
//! leaves until neighbour discovery exists (counted as egress errors).
//!
//! The one module of the dataplane with `unsafe`: the socket calls (libc), each block with the
//! invariant it relies on.
#![allow(unsafe_code)]

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crate::io::HDR;

const ETH_P_ALL: u16 = 0x0003;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86DD;
const ETH_HLEN: usize = 14;
// linux/if_packet.h
const PACKET_FANOUT: libc::c_int = 18;
const PACKET_VNET_HDR: libc::c_int = 15;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const PACKET_FANOUT_HASH: u32 = 0;

/// What an uplink knows of its link, shared by its workers' sockets.
#[derive(Debug)]
pub struct Link {
    pub interface: String,
    pub mac: [u8; 6],
    pub next_hop: Ipv4Addr,
    /// Addresses ARP is answered for.
    pub answers: Vec<Ipv4Addr>,
    /// The next hop's Ethernet address (low 48 bits) once learned, or 0.
    next_hop_mac: AtomicU64,
    /// Milliseconds (process clock) of the last ARP request sent.
    asked: AtomicU64,
    started: std::time::Instant,
}

impl Link {
    pub fn new(interface: &str, mac: [u8; 6], next_hop: Ipv4Addr, answers: Vec<Ipv4Addr>) -> Link {
        Link {
            interface: interface.to_string(),
            mac,
            next_hop,
            answers,
            next_hop_mac: AtomicU64::new(0),
            asked: AtomicU64::new(0),
            started: std::time::Instant::now(),
        }
    }

    pub fn next_hop_mac(&self) -> Option<[u8; 6]> {
        let v = self.next_hop_mac.load(Relaxed);
        (v != 0).then(|| {
            let b = v.to_be_bytes();
            [b[2], b[3], b[4], b[5], b[6], b[7]]
        })
    }

    fn learn(&self, mac: [u8; 6]) {
        let mut b = [0u8; 8];
        b[2..].copy_from_slice(&mac);
        self.next_hop_mac.store(u64::from_be_bytes(b), Relaxed);
    }
}

/// What an ARP packet asks of us.
#[derive(Debug, PartialEq, Eq)]
pub enum ArpAction {
    /// Answer with this frame (Ethernet header included).
    Reply([u8; ETH_HLEN + 28]),
    Nothing,
}

/// Handles an ARP packet (the Ethernet payload): learns the next hop's address from it, and
/// answers a request for one of `link.answers`.
pub fn arp(link: &Link, arp: &[u8]) -> ArpAction {
    // Ethernet/IPv4 ARP only.
    if arp.len() < 28 || arp[0..2] != [0, 1] || arp[2..4] != [8, 0] || arp[4] != 6 || arp[5] != 4 {
        return ArpAction::Nothing;
    }
    let op = u16::from_be_bytes([arp[6], arp[7]]);
    let sha: [u8; 6] = arp[8..14].try_into().expect("6");
    let spa = Ipv4Addr::new(arp[14], arp[15], arp[16], arp[17]);
    let tpa = Ipv4Addr::new(arp[24], arp[25], arp[26], arp[27]);
    if spa == link.next_hop {
        link.learn(sha);
    }
    if op != 1 || !link.answers.contains(&tpa) {
        return ArpAction::Nothing;
    }
    let mut f = [0u8; ETH_HLEN + 28];
    f[0..6].copy_from_slice(&sha);
    f[6..12].copy_from_slice(&link.mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    let r = &mut f[ETH_HLEN..];
    r[0..6].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
    r[6..8].copy_from_slice(&2u16.to_be_bytes());
    r[8..14].copy_from_slice(&link.mac);
    r[14..18].copy_from_slice(&tpa.octets());
    r[18..24].copy_from_slice(&sha);
    r[24..28].copy_from_slice(&spa.octets());
    ArpAction::Reply(f)
}

/// An ARP request for the next hop, from the first answered address (or 0.0.0.0, a probe).
pub fn arp_request(link: &Link) -> [u8; ETH_HLEN + 28] {
    let mut f = [0u8; ETH_HLEN + 28];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&link.mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    let r = &mut f[ETH_HLEN..];
    r[0..6].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
    r[6..8].copy_from_slice(&1u16.to_be_bytes());
    r[8..14].copy_from_slice(&link.mac);
    r[14..18].copy_from_slice(
        &link
            .answers
            .first()
            .copied()
            .unwrap_or(Ipv4Addr::UNSPECIFIED)
            .octets(),
    );
    r[24..28].copy_from_slice(&link.next_hop.octets());
    f
}

/// What a received frame (`virtio_net_hdr`, Ethernet, payload — `n` bytes in `buf`) is.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// An IP packet, now moved to sit right after the virtio header (the TUN layout):
    /// `len` bytes of frame in all.
    Ip {
        len: usize,
    },
    /// ARP (its payload starts at `HDR + 14`).
    Arp,
    Other,
}

/// Turns a packet socket's frame into the TUN layout in place: drops the Ethernet header and
/// moves the virtio header's offsets back by its length.
pub fn to_ip_frame(buf: &mut [u8], n: usize) -> Received {
    if n < HDR + ETH_HLEN {
        return Received::Other;
    }
    match u16::from_be_bytes([buf[HDR + 12], buf[HDR + 13]]) {
        ETH_P_IP | ETH_P_IPV6 => {
            shift_offsets(&mut buf[..HDR], -(ETH_HLEN as i32));
            buf.copy_within(HDR + ETH_HLEN..n, HDR);
            Received::Ip { len: n - ETH_HLEN }
        }
        ETH_P_ARP => Received::Arp,
        _ => Received::Other,
    }
}

/// Moves `csum_start` and `hdr_len` of a virtio header (native endian) by `by` bytes.
fn shift_offsets(h: &mut [u8], by: i32) {
    let hdr_len = u16::from_ne_bytes([h[2], h[3]]);
    let csum_start = u16::from_ne_bytes([h[6], h[7]]);
    if h[1] != 0 && hdr_len != 0 {
        let v = (i32::from(hdr_len) + by).max(0) as u16;
        h[2..4].copy_from_slice(&v.to_ne_bytes());
    }
    if h[0] & 1 != 0 {
        let v = (i32::from(csum_start) + by).max(0) as u16;
        h[6..8].copy_from_slice(&v.to_ne_bytes());
    }
}

/// One worker's packet socket on an uplink.
#[derive(Debug)]
pub struct Uplink {
    fd: OwnedFd,
    /// Its receive ring ([`super::rxring`]); `None`: frames are read with `read(2)`.
    ring: Option<super::rxring::RxRing>,
    pub link: Arc<Link>,
}

impl AsFd for Uplink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

pub(super) fn setsockopt(fd: &OwnedFd, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: `fd` is an open socket; the option value is a live `c_int` of the length given.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

impl Uplink {
    /// Opens a packet socket on `interface` (in the current network namespace), in fanout
    /// group `group`, reading through a receive ring when `ring`.
    pub fn open(interface: &str, group: u16, ring: bool) -> io::Result<(Uplink, [u8; 6])> {
        let name = std::ffi::CString::new(interface)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name"))?;
        // SAFETY: `name` is a NUL-terminated string that outlives the call.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no interface {interface} in vpced's network namespace"),
            ));
        }
        // SAFETY: plain socket(2); the result is checked before use and owned at once.
        let raw = check(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_ALL.to_be()),
            )
        })?;
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        setsockopt(&fd, PACKET_VNET_HDR, 1)?;
        setsockopt(&fd, PACKET_IGNORE_OUTGOING, 1)?;
        // Before the bind: no frame is queued outside the ring.
        let ring = ring.then(|| super::rxring::RxRing::new(&fd)).transpose()?;
        // SAFETY: an all-zero `sockaddr_ll` is valid; the fields set below make it a bind
        // address for `ifindex`, and its size is passed with it.
        let r = unsafe {
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = ETH_P_ALL.to_be();
            sll.sll_ifindex = ifindex as i32;
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        check(r)?;
        setsockopt(
            &fd,
            PACKET_FANOUT,
            (u32::from(group) | (PACKET_FANOUT_HASH << 16)) as libc::c_int,
        )?;
        // The interface's Ethernet address.
        // SAFETY: an all-zero `ifreq` is valid; the name is copied in bounded by its size
        // (interface names are at most 15 bytes, checked by validation and by
        // `if_nametoindex` above), and SIOCGIFHWADDR fills `ifr_hwaddr`.
        let mac = unsafe {
            let mut ifr: libc::ifreq = std::mem::zeroed();
            for (d, s) in ifr.ifr_name.iter_mut().zip(name.as_bytes().iter().take(15)) {
                *d = *s as libc::c_char;
            }
            check(libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut ifr))?;
            let sa = ifr.ifr_ifru.ifru_hwaddr.sa_data;
            [
                sa[0] as u8,
                sa[1] as u8,
                sa[2] as u8,
                sa[3] as u8,
                sa[4] as u8,
                sa[5] as u8,
            ]
        };
        Ok((
            Uplink {
                fd,
                ring,
                link: Arc::new(Link::new(interface, mac, Ipv4Addr::UNSPECIFIED, Vec::new())),
            },
            mac,
        ))
    }

    /// Reads one frame (virtio header, Ethernet frame) into `buf`: from the receive ring
    /// when there is one (`WouldBlock` when it is empty), else with `read(2)`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        use super::rxring::Next;
        match self.ring.as_ref().map(|r| r.next(buf)) {
            None | Some(Next::Read) => self.read(buf),
            Some(Next::Frame(n)) => Ok(n),
            Some(Next::Empty) => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is writable for its whole length, which is what is passed.
        let r = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }

    fn writev(&self, parts: &[io::IoSlice<'_>]) -> io::Result<usize> {
        // SAFETY: `IoSlice` is ABI-compatible with `iovec` (std guarantees it on Unix), and
        // every slice is alive for the call.
        let r = unsafe {
            libc::writev(
                self.fd.as_raw_fd(),
                parts.as_ptr().cast(),
                parts.len() as libc::c_int,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }

    /// Sends a TUN-layout frame (virtio header, IP packet) to the next hop.
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        let (hdr, ip) = frame.split_at(HDR.min(frame.len()));
        self.send_split(hdr, ip)
    }

    /// [`Uplink::send`] with the virtio header and the IP packet apart.
    pub fn send_split(&self, hdr: &[u8], ip: &[u8]) -> io::Result<usize> {
        let Some(dst) = self.link.next_hop_mac() else {
            self.ask();
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "next hop's Ethernet address not known yet",
            ));
        };
        let ethertype = match ip.first().map(|b| b >> 4) {
            Some(4) => ETH_P_IP,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "IPv6 on an uplink needs neighbour discovery",
                ))
            }
        };
        let mut h = [0u8; HDR];
        h.copy_from_slice(&hdr[..HDR]);
        shift_offsets(&mut h, ETH_HLEN as i32);
        let mut eth = [0u8; ETH_HLEN];
        eth[0..6].copy_from_slice(&dst);
        eth[6..12].copy_from_slice(&self.link.mac);
        eth[12..14].copy_from_slice(&ethertype.to_be_bytes());
        self.writev(&[
            io::IoSlice::new(&h),
            io::IoSlice::new(&eth),
            io::IoSlice::new(ip),
        ])
    }

    /// Sends an Ethernet frame of our own (ARP) behind an empty virtio header.
    pub fn send_ethernet(&self, frame: &[u8]) -> io::Result<usize> {
        self.writev(&[io::IoSlice::new(&[0u8; HDR]), io::IoSlice::new(frame)])
    }

    /// Asks for the next hop's address, at most every 200 ms.
    fn ask(&self) {
        let now = self.link.started.elapsed().as_millis() as u64 + 1_000;
        let last = self.link.asked.load(Relaxed);
        if now.saturating_sub(last) >= 200
            && self
                .link
                .asked
                .compare_exchange(last, now, Relaxed, Relaxed)
                .is_ok()
        {
            let _ = self.send_ethernet(&arp_request(&self.link));
        }
    }

    /// Handles an ARP frame read into `buf` (`n` bytes, virtio header first).
    pub fn handle_arp(&self, buf: &[u8], n: usize) {
        if let ArpAction::Reply(f) = arp(&self.link, &buf[HDR + ETH_HLEN..n]) {
            let _ = self.send_ethernet(&f);
        }
    }

    /// This socket, sharing `link` with the others of the uplink.
    pub fn with_link(self, link: Arc<Link>) -> Uplink {
        Uplink { link, ..self }
    }

    /// Whether frames are read through a receive ring.
    pub fn has_ring(&self) -> bool {
        self.ring.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> Link {
        Link::new(
            "vk-up",
            [2, 0, 0, 0, 0, 1],
            Ipv4Addr::new(198, 51, 100, 1),
            vec![Ipv4Addr::new(203, 0, 113, 10)],
        )
    }

    fn request(sha: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
        let mut r = vec![0, 1, 8, 0, 6, 4, 0, 1];
        r.extend_from_slice(&sha);
        r.extend_from_slice(&spa);
        r.extend_from_slice(&[0; 6]);
        r.extend_from_slice(&tpa);
        r
    }

    #[test]
    fn answers_for_its_addresses_and_learns_the_next_hop() {
        let l = link();
        assert_eq!(l.next_hop_mac(), None);
        let router = [2, 0, 0, 0, 0, 0x99];
        let Reply(f) = arp(&l, &request(router, [198, 51, 100, 1], [203, 0, 113, 10])) else {
            panic!("no reply")
        };
        use ArpAction::Reply;
        assert_eq!(&f[0..6], &router);
        assert_eq!(&f[12..14], &[8, 6]);
        assert_eq!(&f[14 + 6..14 + 8], &[0, 2]);
        assert_eq!(&f[14 + 8..14 + 14], &l.mac);
        assert_eq!(&f[14 + 14..14 + 18], &[203, 0, 113, 10]);
        assert_eq!(&f[14 + 24..14 + 28], &[198, 51, 100, 1]);
        assert_eq!(l.next_hop_mac(), Some(router));
        // Not ours: nothing (but still a source to learn from when it is the next hop).
        assert_eq!(
            arp(&l, &request(router, [198, 51, 100, 1], [203, 0, 113, 99])),
            ArpAction::Nothing
        );
        assert_eq!(arp(&l, &[0u8; 10]), ArpAction::Nothing);
    }

    #[test]
    fn frames_move_to_the_tun_layout_and_offsets_follow() {
        let mut buf = vec![0u8; HDR + 14 + 40];
        buf[0] = 1; // NEEDS_CSUM
        buf[1] = 1; // TCPv4 GSO
        buf[2..4].copy_from_slice(&54u16.to_ne_bytes());
        buf[6..8].copy_from_slice(&34u16.to_ne_bytes());
        buf[HDR + 12..HDR + 14].copy_from_slice(&[8, 0]);
        buf[HDR + 14] = 0x45;
        let n = buf.len();
        assert_eq!(to_ip_frame(&mut buf, n), Received::Ip { len: n - 14 });
        assert_eq!(buf[HDR], 0x45);
        assert_eq!(u16::from_ne_bytes([buf[2], buf[3]]), 40);
        assert_eq!(u16::from_ne_bytes([buf[6], buf[7]]), 20);
        let mut arp = vec![0u8; HDR + 14 + 28];
        arp[HDR + 12..HDR + 14].copy_from_slice(&[8, 6]);
        let n = arp.len();
        assert_eq!(to_ip_frame(&mut arp, n), Received::Arp);
    }
}
