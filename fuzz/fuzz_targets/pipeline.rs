//! Any bytes from any attachment of the seed 000 deployment through the pipeline.
#![no_main]
use std::sync::{Arc, OnceLock};

use dataplane::fabric::Fabric;
use dataplane::conntrack::FlowTable;
use dataplane::pipeline::{process, Ctx, NoObserver, Verdict};
use libfuzzer_sys::fuzz_target;

fn fabric() -> &'static Fabric {
    static F: OnceLock<Fabric> = OnceLock::new();
    F.get_or_init(|| {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/s3-endpoints.toml");
        let loaded = control::load_file(path).expect("example loads");
        let snap = control::compile(&loaded)
            .expect("example compiles")
            .snapshot;
        Fabric::build(snap, Arc::new(Default::default())).expect("fabric builds")
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fabric();
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let ingress = u32::from(first) % (f.attachments.len() as u32 + 1);
    static FLOWS: OnceLock<FlowTable> = OnceLock::new();
    let cx = Ctx {
        lane: 0,
        now: 0,
        flows: FLOWS.get_or_init(|| FlowTable::new(1 << 14)),
    };
    let mut buf = rest.to_vec();
    if let Verdict::Forward { egress, len } = process(f, &cx, ingress, &mut buf, &mut NoObserver) {
        assert!((egress as usize) < f.attachments.len());
        assert!(len <= buf.len());
        // What leaves is still a valid packet.
        assert!(dataplane::wire::parse(&buf[..len]).is_ok());
    }
});
