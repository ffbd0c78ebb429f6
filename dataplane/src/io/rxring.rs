//! A packet socket's receive ring (`PACKET_RX_RING`, `TPACKET_V2`): the kernel copies each
//! frame into a slot of memory shared with vpced, and the worker takes it from there — no
//! syscall per packet read (the `read` an uplink paid per frame, and the one that found
//! nothing at the end of every batch).
//!
//! # Layout (`Documentation/networking/packet_mmap.rst`)
//!
//! ```text
//! ring: FRAMES slots of FRAME bytes, BLOCK-byte blocks of FRAME/BLOCK slots, one mmap
//! slot:  tpacket2_hdr (32 B: tp_status, tp_len, tp_snaplen, tp_mac, tp_net, …)
//!        … virtio_net_hdr (10 B) right before tp_mac (PACKET_VNET_HDR), Ethernet frame at
//!        tp_mac, tp_snaplen bytes
//! ```
//!
//! A slot belongs to the kernel while `tp_status` is `TP_STATUS_KERNEL` (0) and to vpced once
//! the `TP_STATUS_USER` bit is set; vpced hands it back by storing 0. The kernel fills slots in
//! ring order, so the next frame is always at the slot after the last one taken ([`RxRing`]
//! keeps that index). `tp_status` is read with `Acquire` (it publishes the frame's bytes) and
//! written with `Release` (the bytes have been copied out before the kernel may reuse them).
//!
//! # Frames larger than a slot
//!
//! Slots are [`FRAME`] bytes: every frame of a 1500-byte MTU fits, a TCP superpacket (up to
//! 64 KiB, which veth and GRO hand to packet sockets whole) does not. `PACKET_COPY_THRESH` makes
//! the kernel queue such a frame whole on the socket as well and mark its slot
//! `TP_STATUS_COPY`: the worker then reads it with `read(2)`, in its place in the ring's order.
//!
//! # Capacity
//!
//! [`FRAMES`] slots per socket (one socket per worker): 2 MiB each. A full ring drops what
//! arrives (the kernel counts it; `PACKET_STATISTICS`), as a full socket buffer did.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::io::HDR;

/// Bytes per slot: header, virtio header and a 1514-byte Ethernet frame, rounded up.
pub const FRAME: usize = 2048;
/// Slots per ring.
pub const FRAMES: usize = 1024;
/// Bytes per block (the kernel allocates a ring in blocks of contiguous pages).
const BLOCK: usize = 1 << 16;

const TP_STATUS_USER: u32 = 1;
const TP_STATUS_COPY: u32 = 1 << 1;

/// What the next slot holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A frame (virtio header and Ethernet frame) of this many bytes, copied out.
    Frame(usize),
    /// A frame that did not fit its slot: read it from the socket.
    Read,
    /// Nothing yet.
    Empty,
}

/// An mmap-ed `TPACKET_V2` receive ring of one packet socket.
#[derive(Debug)]
pub struct RxRing {
    base: *mut u8,
    /// The slot the next frame will be in.
    head: AtomicUsize,
}

// SAFETY: the ring is memory shared with the kernel, not with other threads in any way the
// type system could see: slots are claimed by a compare-and-swap on `head` (one thread takes
// a slot), read through atomics for `tp_status` and byte copies of a slot the claimer alone
// owns until it hands it back; the mapping lives until `Drop`.
unsafe impl Send for RxRing {}
// SAFETY: as for `Send`: every access through `&RxRing` claims its slot first.
unsafe impl Sync for RxRing {}

impl RxRing {
    /// Sets up the ring on `fd` (an `AF_PACKET` socket with `PACKET_VNET_HDR` already set)
    /// and maps it; an error says it was the ring, and how to do without one.
    pub fn new(fd: &OwnedFd) -> io::Result<RxRing> {
        RxRing::map(fd).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("receive ring (PACKET_RX_RING; --no-uplink-ring reads without one): {e}"),
            )
        })
    }

    fn map(fd: &OwnedFd) -> io::Result<RxRing> {
        super::packet::setsockopt(fd, libc::PACKET_VERSION, 1)?; // TPACKET_V2
        super::packet::setsockopt(fd, libc::PACKET_COPY_THRESH, 1)?;
        let req = libc::tpacket_req {
            tp_block_size: BLOCK as u32,
            tp_block_nr: (FRAMES * FRAME / BLOCK) as u32,
            tp_frame_size: FRAME as u32,
            tp_frame_nr: FRAMES as u32,
        };
        // SAFETY: `req` is a live `tpacket_req` and its size is the one passed.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_RX_RING,
                (&req as *const libc::tpacket_req).cast(),
                std::mem::size_of::<libc::tpacket_req>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: maps the ring just set up on `fd`, its whole size, shared with the kernel;
        // the result is checked before use.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                FRAMES * FRAME,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(RxRing {
            base: base.cast(),
            head: AtomicUsize::new(0),
        })
    }

    /// The status word of slot `i`.
    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: slot `i < FRAMES` starts `i * FRAME` bytes into the mapping, page-aligned
        // blocks of whole slots, so the word is in bounds and 4-byte aligned; the kernel
        // writes it concurrently, which is why it is read and written as an atomic.
        unsafe { &*self.base.add(i * FRAME).cast::<AtomicU32>() }
    }

    /// Takes the next frame, copying it (virtio header first, as `read(2)` would return it)
    /// into `buf`, and hands its slot back to the kernel. A frame longer than `buf` is cut.
    pub fn next(&self, buf: &mut [u8]) -> Next {
        let (i, status) = loop {
            let i = self.head.load(Ordering::Relaxed);
            let status = self.status(i).load(Ordering::Acquire);
            if status & TP_STATUS_USER == 0 {
                return Next::Empty;
            }
            let claimed = self.head.compare_exchange(
                i,
                (i + 1) % FRAMES,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            if claimed.is_ok() {
                break (i, status);
            }
        };
        let got = if status & TP_STATUS_COPY != 0 {
            Next::Read
        } else {
            // SAFETY: the slot is ours (TP_STATUS_USER, claimed above) until the store below;
            // its header is in bounds (see `status`).
            let h =
                unsafe { std::ptr::read(self.base.add(i * FRAME).cast::<libc::tpacket2_hdr>()) };
            let (mac, len) = (usize::from(h.tp_mac), h.tp_snaplen as usize);
            if mac < HDR || mac + len > FRAME {
                Next::Frame(0) // not what a ring with a virtio header writes: skipped
            } else {
                let n = (HDR + len).min(buf.len());
                // SAFETY: `mac - HDR .. mac + len` lies inside the slot (checked above), which
                // is ours; `buf` holds `n` bytes and does not overlap the mapping.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        self.base.add(i * FRAME + mac - HDR),
                        buf.as_mut_ptr(),
                        n,
                    );
                }
                Next::Frame(n)
            }
        };
        self.status(i).store(0, Ordering::Release);
        got
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, of that size, unmapped once; nothing borrows it
        // (`&self` borrows have ended).
        unsafe {
            libc::munmap(self.base.cast(), FRAMES * FRAME);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_that_takes_no_ring_is_refused_with_the_way_out() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let fd = OwnedFd::from(udp);
        let e = RxRing::new(&fd).unwrap_err();
        assert!(e.to_string().contains("receive ring"), "{e}");
        assert!(e.to_string().contains("--no-uplink-ring"), "{e}");
    }
}
