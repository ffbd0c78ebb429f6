//! Any bytes as a DNS query to the seed 000 VPC's resolver: an answer that parses, FORMERR,
//! or silence — never a panic.
#![no_main]
use std::sync::OnceLock;

use control::dns::PrivateDns;
use dataplane::resolver::{answer, Client};
use libfuzzer_sys::fuzz_target;

fn dns() -> &'static PrivateDns {
    static D: OnceLock<PrivateDns> = OnceLock::new();
    D.get_or_init(|| {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/s3-endpoints.toml");
        PrivateDns::compile(&control::load_file(path).expect("example loads").config)
    })
}

fuzz_target!(|data: &[u8]| {
    let client = Client {
        vpc_id: "vpc-09efc2534d3f29483",
        addr: "10.0.0.176:5353".parse().unwrap(),
        instance: Some("i-08c0b194dec370347"),
        tcp: false,
        inbound: false,
        health: None,
    };
    if let Some((reply, _)) = answer(dns(), "us-east-1", &client, data, 0) {
        assert!(reply.len() >= 12);
        assert_eq!(reply[..2], data[..2], "the reply keeps the query's id");
    }
});
