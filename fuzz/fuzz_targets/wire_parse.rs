//! Any bytes through `wire::parse` and the GENEVE view: never a panic, and whatever is
//! accepted lies inside the buffer; an accepted IPv4 packet survives an address rewrite with a
//! still-valid header; an accepted GENEVE header's payload starts after its options.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = dataplane::wire::geneve::GenevePacket::new_checked(data) {
        assert!(g.header_len() <= data.len());
        assert_eq!(g.payload().len(), data.len() - g.header_len());
        let _ = (g.aws_options(), g.unknown_critical(), g.protocol(), g.vni());
    }
    if let Ok(p) = dataplane::wire::parse(data) {
        assert!(p.len <= data.len());
        if p.is_ipv4() {
            let mut buf = data[..p.len].to_vec();
            let mut v = dataplane::wire::Ipv4Packet::new_checked(&mut buf[..]).unwrap();
            v.set_src_addr(std::net::Ipv4Addr::new(203, 0, 113, 1));
            assert!(v.verify_checksum());
        }
    }
});
