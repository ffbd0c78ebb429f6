//! Any bytes through `wire::parse`: never a panic, and whatever is accepted lies inside the
//! buffer; an accepted IPv4 packet survives an address rewrite with a still-valid header.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
