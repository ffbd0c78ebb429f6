//! The PROXY protocol v2 header PrivateLink targets receive, differentially: any addresses,
//! ports and endpoint id through `wire::proxy_v2_header`, read back by an independent parser
//! (the `ppp` crate): a v2 PROXY header, TCP over IPv4, exactly the addresses and ports given,
//! and one `0xEA` TLV of subtype `0x01` carrying the id (cut to what fits the 128-byte buffer) —
//! none for an empty id (a load balancer's own clients).
#![no_main]
use std::net::{Ipv4Addr, SocketAddrV4};

use libfuzzer_sys::fuzz_target;
use ppp::v2::{Addresses, Command, Header, Protocol};

fuzz_target!(|data: &[u8]| {
    if data.len() < 12 {
        return;
    }
    let addr = |b: &[u8]| {
        SocketAddrV4::new(
            Ipv4Addr::new(b[0], b[1], b[2], b[3]),
            u16::from_be_bytes([b[4], b[5]]),
        )
    };
    let (src, dst) = (addr(&data[..6]), addr(&data[6..12]));
    let id = String::from_utf8_lossy(&data[12..]);
    let mut out = [0u8; 128];
    let n = dataplane::wire::proxy_v2_header(src, dst, &id, &mut out);
    assert!(n <= out.len());
    let h = Header::try_from(&out[..n]).expect("a header ppp reads");
    assert_eq!(h.len(), n);
    assert_eq!(h.command, Command::Proxy);
    assert_eq!(h.protocol, Protocol::Stream);
    match h.addresses {
        Addresses::IPv4(a) => {
            assert_eq!(SocketAddrV4::new(a.source_address, a.source_port), src);
            assert_eq!(
                SocketAddrV4::new(a.destination_address, a.destination_port),
                dst
            );
        }
        other => panic!("not IPv4: {other:?}"),
    }
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
    assert_eq!(sent.len(), id.len().min(128 - 32));
});
