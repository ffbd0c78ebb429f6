//! Answers the workers send themselves: the VPC resolver's private answers, kept as the bytes
//! it sent, so that a repeated query is answered by the worker that read it — no hand-over to
//! the resolver thread, no message parsed or built.
//!
//! # Why it is exact
//!
//! The resolver's answer to a UDP query it answers from the private records is a function of
//! the configuration generation, the VPC and the query's bytes after its id (the answer echoes
//! the question as sent, and takes the query's id). So an entry is keyed by exactly those —
//! `(generation, vpc, query[2..])`, compared byte for byte — and a hit is the stored answer
//! with the new query's id. A new configuration makes every older entry a miss (its
//! generation differs); nothing has to be flushed. What the resolver forwards upstream is
//! never stored (it has TTLs and is not ours), and nothing is stored while a query log is
//! written, since every query must then reach the resolver thread to be logged.
//!
//! # Layout and capacity
//!
//! ```text
//! Entry (800 bytes): generation u64, vpc u32, query length u16, answer length u16,
//!                    query[2..] (at most 254 bytes), answer (at most 512 bytes)
//! AnswerCache: 16 shards × 128 entries (1.6 MiB, allocated once), direct-mapped by an FxHash
//!              of (vpc, query[2..]); a spin lock per shard, held for one compare and one copy
//! ```
//!
//! Longer queries and answers over 512 bytes (classic UDP DNS) are not stored. An insert
//! overwrites whatever its slot held. A lookup is one hash, one lock, one `memcmp` of the
//! query and one copy of the answer.
//!
//! [`answer_in_place`] turns the query packet in the worker's buffer into the reply packet —
//! addresses and ports swapped, the answer as payload, lengths and checksums — identical to
//! the packet the resolver thread would have built ([`crate::wire::build::packet`]).

use spin::mutex::SpinMutex;

use crate::wire;

/// Largest query stored, id excluded.
pub const MAX_QUERY: usize = 254;
/// Largest answer stored.
pub const MAX_ANSWER: usize = 512;
const SHARDS: usize = 16;
const PER_SHARD: usize = 128;

#[derive(Clone)]
struct Entry {
    generation: u64,
    vpc: u32,
    query_len: u16,
    answer_len: u16,
    query: [u8; MAX_QUERY],
    answer: [u8; MAX_ANSWER],
}

const _: () = assert!(std::mem::size_of::<Entry>() <= 800);

impl Entry {
    const EMPTY: Entry = Entry {
        generation: u64::MAX,
        vpc: 0,
        query_len: 0,
        answer_len: 0,
        query: [0; MAX_QUERY],
        answer: [0; MAX_ANSWER],
    };
}

/// The workers' answer cache (see the module documentation).
pub struct AnswerCache {
    shards: Box<[SpinMutex<Box<[Entry]>>]>,
    /// Slots from a keyed hash of the query: a client cannot pick queries that all evict one
    /// another's (or everyone's) answers.
    key: crate::hash::Key,
}

impl std::fmt::Debug for AnswerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerCache")
            .field("entries", &(SHARDS * PER_SHARD))
            .finish()
    }
}

impl Default for AnswerCache {
    fn default() -> Self {
        AnswerCache {
            shards: (0..SHARDS)
                .map(|_| SpinMutex::new(vec![Entry::EMPTY; PER_SHARD].into_boxed_slice()))
                .collect(),
            key: crate::hash::Key::random(),
        }
    }
}

impl AnswerCache {
    fn slot(&self, vpc: u32, query: &[u8]) -> (usize, usize) {
        let h = self.key.hash_bytes(query) ^ self.key.hash1(u64::from(vpc));
        ((h >> 60) as usize % SHARDS, h as usize % PER_SHARD)
    }

    /// Stores `answer` as the resolver's reply, under configuration `generation`, to `query`
    /// (the DNS message, id included) asked of VPC `vpc`'s resolver. Too long: not stored.
    pub fn insert(&self, generation: u64, vpc: u32, query: &[u8], answer: &[u8]) {
        if query.len() < 12 || answer.len() < 12 {
            return;
        }
        let q = &query[2..];
        if q.len() > MAX_QUERY || answer.len() > MAX_ANSWER {
            return;
        }
        let (s, i) = self.slot(vpc, q);
        let mut shard = self.shards[s].lock();
        let e = &mut shard[i];
        e.generation = generation;
        e.vpc = vpc;
        e.query_len = q.len() as u16;
        e.answer_len = answer.len() as u16;
        e.query[..q.len()].copy_from_slice(q);
        e.answer[..answer.len()].copy_from_slice(answer);
    }

    /// Copies the answer to `query` into `out` with `query`'s id; its length, if cached.
    pub fn lookup(&self, generation: u64, vpc: u32, query: &[u8], out: &mut [u8]) -> Option<usize> {
        if query.len() < 12 {
            return None;
        }
        let q = &query[2..];
        if q.len() > MAX_QUERY {
            return None;
        }
        let (s, i) = self.slot(vpc, q);
        let shard = self.shards[s].lock();
        let e = &shard[i];
        if e.generation != generation
            || e.vpc != vpc
            || usize::from(e.query_len) != q.len()
            || e.query[..q.len()] != *q
        {
            return None;
        }
        let n = usize::from(e.answer_len);
        let out = out.get_mut(..n)?;
        out.copy_from_slice(&e.answer[..n]);
        super::set_message_id(out, super::message_id(query)?);
        Some(n)
    }
}

/// Answers from `cache` the UDP query to VPC `vpc`'s resolver in `buf[..len]` (an IP packet
/// as the pipeline passed it: `Verdict::Local` for the resolver), turning it in place into the
/// reply packet. Returns the reply's length and its response code, or `None` — nothing
/// changed — when the query is not one the cache answers (not UDP, IP options, not cached).
/// `buf` must have room for the reply after `len`.
pub fn answer_in_place(
    cache: &AnswerCache,
    generation: u64,
    vpc: u32,
    buf: &mut [u8],
    len: usize,
) -> Option<(usize, u8)> {
    let udp = wire::build::plain_udp_payload(buf, len)?;
    // The query is copied aside: the answer is written over it.
    let mut query = [0u8; MAX_QUERY + 2];
    let qlen = len - udp;
    if qlen > query.len() {
        return None;
    }
    query[..qlen].copy_from_slice(&buf[udp..len]);
    let alen = cache.lookup(generation, vpc, &query[..qlen], buf.get_mut(udp..)?)?;
    let total = wire::build::udp_reply_in_place(buf, udp, alen);
    Some((total, buf[udp + 3] & 0x0f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::build::{packet, Transport};
    use std::net::IpAddr;

    fn query(id: u16, name: &str) -> Vec<u8> {
        let mut m = vec![0u8; 12];
        m[..2].copy_from_slice(&id.to_be_bytes());
        m[2] = 0x01; // RD
        m[5] = 1; // one question
        for label in name.split('.') {
            m.push(label.len() as u8);
            m.extend_from_slice(label.as_bytes());
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        m
    }

    fn answer_to(q: &[u8]) -> Vec<u8> {
        let mut a = q.to_vec();
        a[2] = 0x81;
        a[3] = 0x80;
        a[7] = 1; // one answer
        a.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 1, 125]);
        a
    }

    fn udp(src: &str, sport: u16, dst: &str, dport: u16, payload: &[u8]) -> Vec<u8> {
        packet(
            src.parse::<IpAddr>().unwrap(),
            dst.parse::<IpAddr>().unwrap(),
            Transport::Udp {
                src_port: sport,
                dst_port: dport,
                payload,
            },
        )
        .unwrap()
    }

    #[test]
    fn a_hit_is_the_packet_the_resolver_thread_would_send() {
        let cache = AnswerCache::default();
        let name = "zenn-privatelink.s3.us-east-1.amazonaws.com";
        let first = query(0x1111, name);
        cache.insert(7, 0, &first, &answer_to(&first));
        for (client, resolver) in [("10.0.0.176", "10.0.0.2"), ("fd00::b0", "fd00:ec2::253")] {
            let q = query(0x2222, name);
            let mut buf = udp(client, 40000, resolver, 53, &q);
            let len = buf.len();
            buf.resize(2048, 0);
            let (n, rcode) = answer_in_place(&cache, 7, 0, &mut buf, len).unwrap();
            assert_eq!(rcode, 0);
            let want = udp(resolver, 53, client, 40000, &answer_to(&q));
            assert_eq!(&buf[..n], &want[..], "{client}");
            let p = crate::wire::parse(&buf[..n]).unwrap();
            assert_eq!((p.src_port, p.dst_port), (53, 40000));
        }
    }

    #[test]
    fn misses_leave_the_packet_alone() {
        let cache = AnswerCache::default();
        let name = "zenn-privatelink.s3.us-east-1.amazonaws.com";
        let q = query(1, name);
        cache.insert(7, 0, &q, &answer_to(&q));
        let cases: [(u64, u32, Vec<u8>); 4] = [
            // Another configuration generation, another VPC, another name, the name in
            // other letters (the answer echoes the question as asked).
            (8, 0, query(1, name)),
            (7, 1, query(1, name)),
            (7, 0, query(1, "example.com")),
            (7, 0, query(1, &name.to_uppercase())),
        ];
        for (generation, vpc, q) in cases {
            let mut buf = udp("10.0.0.176", 40000, "10.0.0.2", 53, &q);
            let len = buf.len();
            buf.resize(2048, 0);
            let before = buf.clone();
            assert!(answer_in_place(&cache, generation, vpc, &mut buf, len).is_none());
            assert_eq!(buf, before);
        }
        // TCP is the resolver thread's.
        let mut tcp = packet(
            "10.0.0.176".parse::<IpAddr>().unwrap(),
            "10.0.0.2".parse::<IpAddr>().unwrap(),
            Transport::Tcp {
                src_port: 40000,
                dst_port: 53,
                flags: 0x18,
                payload: &q,
            },
        )
        .unwrap();
        let len = tcp.len();
        tcp.resize(2048, 0);
        assert!(answer_in_place(&cache, 7, 0, &mut tcp, len).is_none());
        // Too long to store: not stored, not found.
        let label = "a".repeat(60);
        let long = query(1, &[label.as_str(); 5].join("."));
        assert!(long.len() - 2 > MAX_QUERY);
        cache.insert(7, 0, &long, &answer_to(&long));
        assert_eq!(cache.lookup(7, 0, &long, &mut [0u8; 1024]), None);
    }
}
