//! The VPC resolver at base + 2 (Route 53 Resolver's "AmazonProvidedDNS"), as a pure function
//! of a query's bytes: private answers from [`control::dns::PrivateDns`]; for names outside them
//! [`Outcome::Forward`] when the configuration names an upstream server (the daemon's resolver
//! thread forwards the query and relays the answer) and `REFUSED` when it names none;
//! `FORMERR` for a query that parses as a header but not as a message; nothing at all for bytes
//! that are not DNS. Messages are read and written with hickory-proto.
//!
//! Every answered query gives a [`QueryLog`] line in the shape of Route 53 Resolver query logs
//! (seed 000): `query_name` with its final dot, `rcode`, `answers` as `Rdata`/`Type`/`Class`,
//! `srcaddr`, `srcport` (a string, as AWS writes it), `transport`, `srcids.instance`.
//!
//! As in AWS, security groups do not filter traffic to and from the resolver.

pub mod cache;

use std::net::{IpAddr, SocketAddr};

use control::dns::{PrivateDns, QueryType, Rdata};
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use serde::Serialize;

/// One query log line.
#[derive(Debug, Clone, Serialize)]
pub struct QueryLog {
    pub version: &'static str,
    pub account_id: String,
    pub region: String,
    pub vpc_id: String,
    pub query_timestamp: String,
    pub query_name: String,
    pub query_type: String,
    pub query_class: &'static str,
    pub rcode: String,
    pub answers: Vec<LogAnswer>,
    pub srcaddr: String,
    pub srcport: String,
    pub transport: &'static str,
    pub srcids: SrcIds,
    /// The answer depends on load balancers' health (a DNS failover name): not to be cached.
    #[serde(skip)]
    pub volatile: bool,
}

impl QueryLog {
    fn new(
        region: &str,
        client: &Client<'_>,
        qname: &str,
        qtype: RecordType,
        rcode: ResponseCode,
        answers: Vec<LogAnswer>,
        unix_seconds: u64,
    ) -> QueryLog {
        QueryLog {
            version: "1.100000",
            account_id: "000000000000".into(),
            region: region.into(),
            vpc_id: client.vpc_id.into(),
            query_timestamp: rfc3339(unix_seconds),
            query_name: if qname.ends_with('.') {
                qname.to_string()
            } else {
                format!("{qname}.")
            },
            query_type: qtype.to_string(),
            query_class: "IN",
            rcode: rcode_name(rcode),
            answers,
            srcaddr: client.addr.ip().to_string(),
            srcport: client.addr.port().to_string(),
            transport: if client.tcp { "TCP" } else { "UDP" },
            volatile: false,
            srcids: SrcIds {
                instance: client.instance.map(str::to_string),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[allow(non_snake_case)]
pub struct LogAnswer {
    pub Rdata: String,
    pub Type: String,
    pub Class: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct SrcIds {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// DNS failover of load balancers' names (AWS, "Target group health": "When the healthy
/// targets in a zone fall below the threshold, we mark the IP addresses of the load balancer
/// node for the zone as unhealthy in DNS"): whether `addr`, a node address of load balancer
/// `lb`, is answered now.
pub trait DnsHealth {
    fn answers(&self, lb: &str, addr: IpAddr) -> bool;

    /// Whether `addr` is in a zone that is down (a region's zone-failure drill): its records
    /// leave every answer, as Route 53's health checks take out an endpoint's ENIs and a load
    /// balancer's nodes in a failed zone.
    fn in_zone_down(&self, _addr: IpAddr) -> bool {
        false
    }
}

/// Who asked.
#[derive(Clone)]
pub struct Client<'a> {
    pub vpc_id: &'a str,
    pub addr: SocketAddr,
    pub instance: Option<&'a str>,
    /// Asked over TCP (for the log's `transport`).
    pub tcp: bool,
    /// Asked through an inbound Resolver endpoint (it sees the records kept for such
    /// queries: `control::dns::PrivateDns::resolve_via`).
    pub inbound: bool,
    /// Load balancers' DNS failover; `None`: every node answered.
    pub health: Option<&'a dyn DnsHealth>,
}

impl std::fmt::Debug for Client<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("vpc_id", &self.vpc_id)
            .field("addr", &self.addr)
            .field("instance", &self.instance)
            .field("tcp", &self.tcp)
            .field("inbound", &self.inbound)
            .finish_non_exhaustive()
    }
}

/// The response to send back and the log line; `None` when the bytes are not a DNS query
/// worth answering. Names outside the private records get REFUSED.
pub fn answer(
    dns: &PrivateDns,
    region: &str,
    client: &Client<'_>,
    query: &[u8],
    unix_seconds: u64,
) -> Option<(Vec<u8>, Option<QueryLog>)> {
    match handle(dns, region, client, query, unix_seconds, false)? {
        Outcome::Answer(bytes, log) => Some((bytes, log.map(|l| *l))),
        Outcome::Forward | Outcome::ForwardRule(_) => None,
    }
}

/// What to do with a query.
#[derive(Debug)]
pub enum Outcome {
    /// Send this response (and log this line).
    Answer(Vec<u8>, Option<Box<QueryLog>>),
    /// Not private here: ask the upstream server.
    Forward,
    /// A Resolver rule (`resolver_rules[i]`) forwards the name: ask its target through its
    /// outbound endpoint.
    ForwardRule(u32),
}

/// Like [`answer`], but a name outside the private records is [`Outcome::Forward`] when
/// `forward` is set.
pub fn handle(
    dns: &PrivateDns,
    region: &str,
    client: &Client<'_>,
    query: &[u8],
    unix_seconds: u64,
    forward: bool,
) -> Option<Outcome> {
    let msg = match Message::from_vec(query) {
        Ok(m) => m,
        Err(_) => {
            // A header we can read: FORMERR with its id. Fewer than 12 bytes: silence.
            if query.len() < 12 || query[2] & 0x80 != 0 {
                return None;
            }
            let mut r = [0u8; 12];
            r[..2].copy_from_slice(&query[..2]);
            r[2] = 0x80 | (query[2] & 0x79); // QR, opcode, RD kept
            r[3] = 0x80 | 1; // RA, FORMERR
            return Some(Outcome::Answer(r.to_vec(), None));
        }
    };
    if msg.message_type() != MessageType::Query {
        return None;
    }
    let mut resp = Message::new();
    resp.set_id(msg.id())
        .set_message_type(MessageType::Response)
        .set_op_code(msg.op_code())
        .set_recursion_desired(msg.recursion_desired())
        .set_recursion_available(true);
    let Some(q) = msg.queries().first().cloned() else {
        resp.set_response_code(ResponseCode::FormErr);
        return Some(Outcome::Answer(resp.to_vec().ok()?, None));
    };
    resp.add_query(q.clone());
    let qname = q.name().to_ascii();
    let qtype = match q.query_type() {
        RecordType::A => QueryType::A,
        RecordType::AAAA => QueryType::AAAA,
        RecordType::CNAME => QueryType::CNAME,
        other => QueryType::Other(u16::from(other)),
    };
    let mut log_answers = Vec::new();
    let mut volatile = false;
    let rcode = if msg.op_code() != OpCode::Query {
        ResponseCode::NotImp
    } else {
        if let Some(rule) = dns.forward_rule(client.vpc_id, &qname) {
            return Some(Outcome::ForwardRule(rule));
        }
        match dns.resolve_via(client.vpc_id, &qname, qtype, client.inbound) {
            None if forward => return Some(Outcome::Forward),
            None => ResponseCode::Refused,
            Some(a) => {
                for set in &a.chain {
                    let Ok(name) = Name::from_ascii(format!("{}.", set.name)) else {
                        continue;
                    };
                    let kept = failover(client, set);
                    volatile |= set.load_balancer.is_some();
                    for d in set.data.iter().filter(|d| kept(d)) {
                        let (rdata, ty, text) = match d {
                            Rdata::A(ip) if matches!(qtype, QueryType::A) => {
                                (RData::A(A(*ip)), "A", ip.to_string())
                            }
                            Rdata::AAAA(ip) if matches!(qtype, QueryType::AAAA) => {
                                (RData::AAAA(AAAA(*ip)), "AAAA", ip.to_string())
                            }
                            Rdata::CNAME(t) => {
                                let Ok(target) = Name::from_ascii(format!("{t}.")) else {
                                    continue;
                                };
                                (RData::CNAME(CNAME(target)), "CNAME", format!("{t}."))
                            }
                            _ => continue,
                        };
                        resp.add_answer(Record::from_rdata(name.clone(), set.ttl, rdata));
                        log_answers.push(LogAnswer {
                            Rdata: text,
                            Type: ty.into(),
                            Class: "IN",
                        });
                    }
                }
                resp.set_authoritative(true);
                ResponseCode::NoError
            }
        }
    };
    resp.set_response_code(rcode);
    let bytes = resp.to_vec().ok()?;
    let mut log = QueryLog::new(
        region,
        client,
        &qname,
        q.query_type(),
        rcode,
        log_answers,
        unix_seconds,
    );
    log.volatile = volatile;
    Some(Outcome::Answer(bytes, Some(Box::new(log))))
}

/// Which records of `set` are answered: all, except a load balancer's node addresses its DNS
/// failover takes out — unless that takes out every one of them (then all are answered, as
/// Route 53 does when every record of a name is unhealthy).
fn failover<'s>(
    client: &'s Client<'_>,
    set: &'s control::dns::RecordSet,
) -> impl Fn(&Rdata) -> bool + 's {
    let up = move |d: &Rdata| {
        let addr = match d {
            Rdata::A(a) => IpAddr::V4(*a),
            Rdata::AAAA(a) => IpAddr::V6(*a),
            _ => return true,
        };
        match (client.health, &set.load_balancer) {
            (Some(h), _) if h.in_zone_down(addr) => false,
            (Some(h), Some(lb)) => h.answers(lb, addr),
            _ => true,
        }
    };
    let any_up = set.data.iter().any(up);
    move |d| !any_up || up(d)
}

/// The log line of an answer that came from upstream: its rcode and answers as they are.
pub fn upstream_log(
    region: &str,
    client: &Client<'_>,
    response: &[u8],
    unix_seconds: u64,
) -> Option<QueryLog> {
    let m = Message::from_vec(response).ok()?;
    let q = m.queries().first()?;
    let qname = q.name().to_ascii();
    let answers = m
        .answers()
        .iter()
        .map(|r| LogAnswer {
            Rdata: match r.data() {
                RData::CNAME(c) => c.0.to_ascii(),
                other => other.to_string(),
            },
            Type: r.record_type().to_string(),
            Class: "IN",
        })
        .collect();
    Some(QueryLog::new(
        region,
        client,
        &qname,
        q.query_type(),
        m.response_code(),
        answers,
        unix_seconds,
    ))
}

/// An upstream answer whose CNAME chain leads into a name that is private in `vpc` — Azure's
/// `x.blob.core.windows.net CNAME x.privatelink.blob.core.windows.net`, with the
/// `privatelink.` zone linked to the VNet — continues with the private records from there, as
/// Azure DNS does: the CNAMEs up to that name are kept, what followed is replaced. `None` when
/// the chain never enters a private name (relay the answer as it is).
pub fn splice_private(dns: &PrivateDns, vpc: &str, response: &[u8]) -> Option<Vec<u8>> {
    let m = Message::from_vec(response).ok()?;
    let qtype = match m.queries().first()?.query_type() {
        RecordType::A => QueryType::A,
        RecordType::AAAA => QueryType::AAAA,
        _ => return None,
    };
    let mut kept = Vec::new();
    for r in m.answers() {
        let RData::CNAME(target) = r.data() else {
            break;
        };
        kept.push(r.clone());
        let t = target.0.to_ascii();
        let Some(private) = dns.resolve(vpc, &t, qtype) else {
            continue;
        };
        if private.addresses().is_empty() {
            continue;
        }
        let mut out = m.clone();
        out.take_answers();
        out.set_response_code(ResponseCode::NoError);
        for k in kept {
            out.add_answer(k);
        }
        for set in &private.chain {
            let Ok(name) = Name::from_ascii(format!("{}.", set.name)) else {
                continue;
            };
            for d in &set.data {
                let rdata = match d {
                    Rdata::A(ip) if qtype == QueryType::A => RData::A(A(*ip)),
                    Rdata::AAAA(ip) if qtype == QueryType::AAAA => RData::AAAA(AAAA(*ip)),
                    Rdata::CNAME(c) => match Name::from_ascii(format!("{c}.")) {
                        Ok(n) => RData::CNAME(CNAME(n)),
                        Err(_) => continue,
                    },
                    _ => continue,
                };
                out.add_answer(Record::from_rdata(name.clone(), set.ttl, rdata));
            }
        }
        return out.to_vec().ok();
    }
    None
}

/// The id of a DNS message (its first two bytes, RFC 1035 4.1.1); `None` when shorter.
pub fn message_id(msg: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.first()?, *msg.get(1)?]))
}

/// Gives a DNS message of at least two bytes the id `id` (a forwarded query a fresh one, an
/// answer its client's).
pub fn set_message_id(msg: &mut [u8], id: u16) {
    msg[..2].copy_from_slice(&id.to_be_bytes());
}

/// A SERVFAIL for `query` (the upstream did not answer in time).
pub fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    let mut r = query.to_vec();
    r[2] = 0x80 | (query[2] & 0x79);
    r[3] = 0x80 | 2;
    Some(r)
}

fn rcode_name(r: ResponseCode) -> String {
    match r {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        other => format!("{other:?}").to_uppercase(),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (Howard Hinnant's civil-from-days).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// The resolver's address in a VPC: the base of its first CIDR plus two.
pub fn resolver_address(cidr: ipnet::Ipv4Net) -> IpAddr {
    IpAddr::V4((u32::from(cidr.network()) + 2).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns() -> (PrivateDns, String) {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/s3-endpoints.toml");
        let loaded = control::load_file(path).unwrap();
        (
            PrivateDns::compile(&loaded.config),
            loaded.config.vpcs[0].id.clone(),
        )
    }

    fn query(name: &str, ty: RecordType) -> Vec<u8> {
        let mut m = Message::new();
        m.set_id(0x1234).set_recursion_desired(true);
        m.add_query(hickory_proto::op::Query::query(
            Name::from_ascii(name).unwrap(),
            ty,
        ));
        m.to_vec().unwrap()
    }

    #[test]
    fn private_dns_answers_the_endpoint_and_logs_like_route_53() {
        let (d, vpc) = dns();
        let client = Client {
            vpc_id: &vpc,
            addr: "10.0.0.176:60954".parse().unwrap(),
            instance: Some("i-08c0b194dec370347"),
            tcp: false,
            inbound: false,
            health: None,
        };
        let (bytes, log) = answer(
            &d,
            "us-east-1",
            &client,
            &query(
                "zenn-privatelink.s3.us-east-1.amazonaws.com.",
                RecordType::A,
            ),
            1711808246,
        )
        .unwrap();
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.id(), 0x1234);
        assert_eq!(m.response_code(), ResponseCode::NoError);
        let ips: Vec<String> = m.answers().iter().map(|r| r.data().to_string()).collect();
        assert_eq!(ips, vec!["10.0.1.125"]);
        let log = serde_json::to_value(log.unwrap()).unwrap();
        assert_eq!(
            log["query_name"],
            "zenn-privatelink.s3.us-east-1.amazonaws.com."
        );
        assert_eq!(log["query_timestamp"], "2024-03-30T14:17:26Z");
        assert_eq!(log["answers"][0]["Rdata"], "10.0.1.125");
        assert_eq!(log["answers"][0]["Type"], "A");
        assert_eq!(log["srcport"], "60954");
        assert_eq!(log["srcids"]["instance"], "i-08c0b194dec370347");
        // Not private, and no upstream asked for: REFUSED.
        let (bytes, log) = answer(
            &d,
            "us-east-1",
            &client,
            &query("example.com.", RecordType::A),
            0,
        )
        .unwrap();
        assert_eq!(
            Message::from_vec(&bytes).unwrap().response_code(),
            ResponseCode::Refused
        );
        assert_eq!(log.unwrap().rcode, "REFUSED");
    }

    #[test]
    fn dns_over_tcp_without_state() {
        use crate::wire::build::{packet, Transport};
        use crate::wire::tcp_flags::{ACK, FIN, PSH, SYN};
        let server: IpAddr = "10.0.0.2".parse().unwrap();
        let client: SocketAddr = "10.0.0.176:40000".parse().unwrap();
        let seg = |seq, ack, flags, payload: &[u8]| {
            let v = packet(
                client.ip(),
                server,
                Transport::TcpSegment {
                    src_port: client.port(),
                    dst_port: 53,
                    seq,
                    ack,
                    flags,
                    payload,
                },
            )
            .unwrap();
            v[20..].to_vec()
        };
        let isn = tcp::isn(client, server);
        let tcp::Action::Reply(synack) = tcp::on_segment(server, client, &seg(100, 0, SYN, b""))
        else {
            panic!("SYN-ACK expected");
        };
        let l4 = &synack[20..];
        assert_eq!(l4[13], SYN | ACK);
        assert_eq!(crate::wire::tcp_edit::seq(l4), isn);
        assert_eq!(crate::wire::tcp_edit::ack(l4), 101);
        let q = query(
            "zenn-privatelink.s3.us-east-1.amazonaws.com.",
            RecordType::A,
        );
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        let action = tcp::on_segment(server, client, &seg(101, isn + 1, ACK | PSH, &framed));
        assert_eq!(
            action,
            tcp::Action::Query {
                dns: q.clone(),
                seq: isn + 1,
                ack: 101 + framed.len() as u32
            }
        );
        let resp =
            tcp::response(server, client, isn + 1, 101 + framed.len() as u32, b"xy").unwrap();
        assert_eq!(resp[20 + 13], ACK | PSH | FIN);
        assert_eq!(&resp[40..], &[0, 2, b'x', b'y']);
        // Half a query: nothing; the client's FIN: acknowledged.
        assert_eq!(
            tcp::on_segment(server, client, &seg(101, isn + 1, ACK, &framed[..5])),
            tcp::Action::Nothing
        );
        let tcp::Action::Reply(ack) =
            tcp::on_segment(server, client, &seg(200, isn + 5, FIN | ACK, b""))
        else {
            panic!("ACK expected");
        };
        assert_eq!(crate::wire::tcp_edit::seq(&ack[20..]), isn + 5);
        assert_eq!(crate::wire::tcp_edit::ack(&ack[20..]), 201);
    }

    #[test]
    fn garbage_gets_formerr_or_silence_never_a_panic() {
        let (d, vpc) = dns();
        let client = Client {
            vpc_id: &vpc,
            addr: "10.0.0.176:1".parse().unwrap(),
            instance: None,
            tcp: false,
            inbound: false,
            health: None,
        };
        assert!(answer(&d, "r", &client, &[1, 2, 3], 0).is_none());
        let mut bad = query("a.example.", RecordType::A);
        bad.truncate(15);
        let (r, log) = answer(&d, "r", &client, &bad, 0).unwrap();
        assert_eq!(r[3] & 0x0f, 1, "FORMERR");
        assert!(log.is_none());
        let mut x = 0x9e37_79b9u32;
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = answer(&d, "r", &client, &bytes, 0);
        }
    }
}

/// DNS over TCP, one query per connection and per segment (what `dig +tcp` and stub resolvers
/// retrying a truncated answer send), without per-connection state: the resolver's initial
/// sequence number is a hash of the connection, so every segment can be answered from itself —
/// the SYN with a SYN-ACK, the query with the response and a FIN, the client's FIN with an
/// ACK. A query split across segments is not answered (the client then retries over UDP).
pub mod tcp {
    use std::net::{IpAddr, SocketAddr};

    use crate::wire::build::{packet, Transport};
    use crate::wire::tcp_edit;
    use crate::wire::tcp_flags::{ACK, FIN, PSH, RST, SYN};

    /// What a segment to the resolver's port 53 calls for.
    #[derive(Debug, PartialEq, Eq)]
    pub enum Action {
        /// Send this packet back.
        Reply(Vec<u8>),
        /// A whole query: answer it with [`response`] using these sequence numbers.
        Query {
            dns: Vec<u8>,
            seq: u32,
            ack: u32,
        },
        Nothing,
    }

    /// The resolver's initial sequence number for a connection: a keyed hash of its
    /// addresses and ports under a secret drawn once per process (RFC 6528), so that no one
    /// off the path can guess it (a fixed hash let anyone who knew the client's port inject
    /// into the connection).
    pub fn isn(client: SocketAddr, server: IpAddr) -> u32 {
        static SECRET: std::sync::OnceLock<crate::hash::Key> = std::sync::OnceLock::new();
        let text = format!("{client}>{server}");
        SECRET
            .get_or_init(crate::hash::Key::random)
            .hash_bytes(text.as_bytes()) as u32
    }

    fn segment(
        from: IpAddr,
        to: SocketAddr,
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) -> Option<Vec<u8>> {
        packet(
            from,
            to.ip(),
            Transport::TcpSegment {
                src_port: 53,
                dst_port: to.port(),
                seq,
                ack,
                flags,
                payload,
            },
        )
    }

    /// `l4`: the segment from its TCP header to the end of the packet.
    pub fn on_segment(server: IpAddr, client: SocketAddr, l4: &[u8]) -> Action {
        if l4.len() < 20 {
            return Action::Nothing;
        }
        let flags = l4[13];
        let their = tcp_edit::seq(l4);
        let ours = isn(client, server);
        if flags & RST != 0 {
            return Action::Nothing;
        }
        if flags & SYN != 0 && flags & ACK == 0 {
            return segment(server, client, ours, their.wrapping_add(1), SYN | ACK, &[])
                .map_or(Action::Nothing, Action::Reply);
        }
        let data = &l4[tcp_edit::header_len(l4).min(l4.len())..];
        if data.len() >= 2 {
            let n = usize::from(u16::from_be_bytes([data[0], data[1]]));
            if n == data.len() - 2 {
                let fin = u32::from(flags & FIN != 0);
                return Action::Query {
                    dns: data[2..].to_vec(),
                    seq: ours.wrapping_add(1),
                    ack: their.wrapping_add(data.len() as u32).wrapping_add(fin),
                };
            }
            return Action::Nothing;
        }
        if flags & FIN != 0 {
            // The client closes after our FIN: acknowledge it from where it says we are.
            return segment(
                server,
                client,
                tcp_edit::ack(l4),
                their.wrapping_add(1),
                ACK,
                &[],
            )
            .map_or(Action::Nothing, Action::Reply);
        }
        Action::Nothing
    }

    /// The response segment: the length-prefixed message, pushed, with our FIN.
    pub fn response(
        server: IpAddr,
        client: SocketAddr,
        seq: u32,
        ack: u32,
        dns: &[u8],
    ) -> Option<Vec<u8>> {
        let mut payload = Vec::with_capacity(dns.len() + 2);
        payload.extend_from_slice(&(dns.len() as u16).to_be_bytes());
        payload.extend_from_slice(dns);
        segment(server, client, seq, ack, ACK | PSH | FIN, &payload)
    }
}
