//! The PROXY protocol v2 header PrivateLink targets receive, differentially: any addresses
//! (IPv4 or IPv6, by the first byte), ports and endpoint id through `wire::proxy_v2_header`,
//! read back by an independent parser (the `ppp` crate): a v2 PROXY header, TCP over the
//! family given, exactly the addresses and ports given, and one `0xEA` TLV of subtype `0x01`
//! carrying the id (cut to what fits the 128-byte buffer) — none for an empty id (a load
//! balancer's own clients).
#![no_main]
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use libfuzzer_sys::fuzz_target;
use ppp::v2::{Addresses, Command, Header, Protocol};

fuzz_target!(|data: &[u8]| {
    let v6 = data.first().is_some_and(|b| b & 1 == 1);
    let alen = if v6 { 16 } else { 4 };
    if data.len() < 1 + 2 * (alen + 2) {
        return;
    }
    let addr = |b: &[u8]| -> SocketAddr {
        let port = u16::from_be_bytes([b[alen], b[alen + 1]]);
        if v6 {
            let a: [u8; 16] = b[..16].try_into().unwrap();
            (Ipv6Addr::from(a), port).into()
        } else {
            (Ipv4Addr::new(b[0], b[1], b[2], b[3]), port).into()
        }
    };
    let rest = &data[1..];
    let (src, dst) = (addr(rest), addr(&rest[alen + 2..]));
    let id = String::from_utf8_lossy(&rest[2 * (alen + 2)..]);
    let mut out = [0u8; 128];
    let n = dataplane::wire::proxy_v2_header(src, dst, &id, &mut out).expect("one family");
    assert!(n <= out.len());
    let h = Header::try_from(&out[..n]).expect("a header ppp reads");
    assert_eq!(h.len(), n);
    assert_eq!(h.command, Command::Proxy);
    assert_eq!(h.protocol, Protocol::Stream);
    let (s, d): (SocketAddr, SocketAddr) = match h.addresses {
        Addresses::IPv4(a) => (
            (a.source_address, a.source_port).into(),
            (a.destination_address, a.destination_port).into(),
        ),
        Addresses::IPv6(a) => (
            (a.source_address, a.source_port).into(),
            (a.destination_address, a.destination_port).into(),
        ),
        other => panic!("no addresses: {other:?}"),
    };
    assert_eq!((s, d), (src, dst));
    let tlvs: Vec<_> = h.tlvs().collect::<Result<_, _>>().expect("TLVs parse");
    if id.is_empty() {
        assert!(tlvs.is_empty());
        return;
    }
    assert_eq!(tlvs.len(), 1);
    assert_eq!(tlvs[0].kind, 0xEA);
    assert_eq!(tlvs[0].value[0], 0x01);
    let sent = &tlvs[0].value[1..];
    assert!(id.as_bytes().starts_with(sent));
    let room = 128 - 16 - 2 * (alen + 2) - 4;
    assert_eq!(sent.len(), id.len().min(room));
});
