//! Packet capture of one attachment in the running daemon (`vpcectl capture`).
//!
//! A capture is published like a plan: a [`Tap`] in a [`SnapshotCell`], behind a flag the
//! workers read with one relaxed load per frame while nothing is captured. When
//! a capture runs, a worker that sees a frame of the tapped attachment at a selected point
//! copies up to [`SNAPLEN`] bytes of it into a slot of a bounded channel (preallocated by the
//! channel: no allocation per packet); a full channel drops the copy and counts it, never the
//! packet. One capture at a time; the control connection that asked for it drains the channel
//! and writes pcap until its count is reached or its client goes away, then turns the tap off.
//!
//! Points, as the attachment sees them:
//!
//! * `in` — what the attachment sends, as vpced reads it, before any decision or rewrite;
//! * `rewritten` — the same packets after the pipeline rewrote them (translated, GENEVE
//!   encapsulated, PROXY header inserted), as they leave for their egress attachment;
//! * `out` — what vpced delivers to the attachment, after rewrite, and the packets vpced
//!   itself sends there (the VPC resolver's answers and forwarded queries, health probes:
//!   [`crate::io::Shared::send_own`]).
//!
//! The pcap link type is `LINUX_SLL2`, whose packet type tells tshark and tcpdump the
//! direction (`In` for `out`, since the attachment receives it; `Out` for `in` and
//! `rewritten`) and whose interface index carries the point (1 in, 2 rewritten, 3 out).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use crate::publish::SnapshotCell;

/// Bytes of each packet kept.
pub const SNAPLEN: usize = 2048;
/// Packets waiting for the control connection at most.
pub const QUEUE: usize = 4096;

/// Where on an attachment's path a packet is seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Point {
    In,
    Rewritten,
    Out,
}

impl Point {
    fn bit(self) -> u8 {
        match self {
            Point::In => 1,
            Point::Rewritten => 2,
            Point::Out => 4,
        }
    }
}

/// What is being captured (`on: None`: nothing).
#[derive(Debug, Default)]
pub struct Tap {
    generation: u64,
    on: Option<On>,
}

#[derive(Debug)]
struct On {
    attachment: String,
    points: u8,
    queue: crossbeam_channel::Sender<Captured>,
}

impl crate::publish::Versioned for Tap {
    fn generation(&self) -> u64 {
        self.generation
    }
    fn set_generation(&mut self, generation: u64) {
        self.generation = generation;
    }
}

/// One captured packet.
#[derive(Debug, Clone)]
pub struct Captured {
    pub point: Point,
    /// Nanoseconds since the Unix epoch.
    pub when: u64,
    /// The packet's length on the wire; `bytes` holds at most [`SNAPLEN`] of it.
    pub len: usize,
    pub bytes: [u8; SNAPLEN],
}

/// The daemon's tap: what is captured and what was lost.
#[derive(Debug)]
pub struct Capture {
    /// Whether a capture runs: the workers' one relaxed load per frame while none does.
    on: AtomicBool,
    tap: SnapshotCell<Tap>,
    /// Copies dropped because the control connection fell behind.
    pub dropped: AtomicU64,
}

impl Default for Capture {
    fn default() -> Self {
        Capture {
            on: AtomicBool::new(false),
            tap: SnapshotCell::new(Tap::default()),
            dropped: AtomicU64::new(0),
        }
    }
}

impl Capture {
    /// Starts capturing `attachment` at `points`; `None` when a capture already runs.
    pub fn start(
        &self,
        attachment: &str,
        points: &[Point],
    ) -> Option<crossbeam_channel::Receiver<Captured>> {
        if self
            .on
            .compare_exchange(false, true, Relaxed, Relaxed)
            .is_err()
        {
            return None;
        }
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        self.tap.publish(Tap {
            generation: 0,
            on: Some(On {
                attachment: attachment.to_string(),
                points: points.iter().fold(0, |b, p| b | p.bit()),
                queue: tx,
            }),
        });
        Some(rx)
    }

    pub fn stop(&self) {
        self.on.store(false, Relaxed);
        self.tap.publish(Tap::default());
    }

    /// Offers a packet seen at `point` on attachment `id`: copied if it is tapped there.
    #[inline]
    pub fn offer(&self, id: &str, point: Point, packet: &[u8]) {
        if !self.on.load(Relaxed) {
            return;
        }
        let tap = self.tap.load();
        let Some(On {
            attachment,
            points,
            queue,
        }) = &tap.on
        else {
            return;
        };
        if points & point.bit() == 0 || id != attachment {
            return;
        }
        let mut bytes = [0u8; SNAPLEN];
        let n = packet.len().min(SNAPLEN);
        bytes[..n].copy_from_slice(&packet[..n]);
        let when = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let c = Captured {
            point,
            when,
            len: packet.len(),
            bytes,
        };
        if queue.try_send(c).is_err() {
            self.dropped.fetch_add(1, Relaxed);
        }
    }

    /// Whether anything is tapped (one atomic load; the workers' fast check).
    #[inline]
    pub fn active(&self) -> bool {
        self.on.load(Relaxed)
    }
}

/// The pcap file header (microsecond timestamps, LINKTYPE_LINUX_SLL2).
pub fn pcap_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    h[16..20].copy_from_slice(&(SNAPLEN as u32 + 20).to_le_bytes());
    h[20..24].copy_from_slice(&276u32.to_le_bytes());
    h
}

/// One pcap record: record header, the 20-byte SLL2 header, the packet.
pub fn pcap_record(c: &Captured, out: &mut Vec<u8>) {
    let kept = c.len.min(SNAPLEN);
    let secs = (c.when / 1_000_000_000) as u32;
    let micros = ((c.when % 1_000_000_000) / 1000) as u32;
    out.extend_from_slice(&secs.to_le_bytes());
    out.extend_from_slice(&micros.to_le_bytes());
    out.extend_from_slice(&((kept + 20) as u32).to_le_bytes());
    out.extend_from_slice(&((c.len + 20) as u32).to_le_bytes());
    let ethertype: u16 = if c.bytes[0] >> 4 == 6 { 0x86dd } else { 0x0800 };
    out.extend_from_slice(&ethertype.to_be_bytes()); // protocol type
    out.extend_from_slice(&[0, 0]); // reserved
    let ifindex: u32 = match c.point {
        Point::In => 1,
        Point::Rewritten => 2,
        Point::Out => 3,
    };
    out.extend_from_slice(&ifindex.to_be_bytes());
    out.extend_from_slice(&0xfffeu16.to_be_bytes()); // ARPHRD_NONE: raw IP
                                                     // PACKET_HOST (0): to the attachment; PACKET_OUTGOING (4): from it.
    out.push(if c.point == Point::Out { 0 } else { 4 });
    out.push(0); // no link-layer address
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&c.bytes[..kept]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tapped_attachment_and_points_are_copied() {
        let cap = Capture::default();
        assert!(!cap.active());
        let rx = cap.start("eni-a", &[Point::In]).unwrap();
        assert!(cap.start("eni-b", &[Point::Out]).is_none(), "one at a time");
        let pkt = [
            0x45u8, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        cap.offer("eni-a", Point::In, &pkt);
        cap.offer("eni-a", Point::Out, &pkt);
        cap.offer("eni-b", Point::In, &pkt);
        let got: Vec<_> = rx.try_iter().collect();
        assert_eq!(got.len(), 1);
        assert_eq!(&got[0].bytes[..20], &pkt);
        let mut rec = Vec::new();
        pcap_record(&got[0], &mut rec);
        assert_eq!(rec.len(), 16 + 20 + 20);
        assert_eq!(&rec[16..18], &[0x08, 0x00]);
        cap.stop();
        assert!(!cap.active());
    }
}
