//! Any bytes from any attachment through the pipeline, over three deployments: seed 000
//! (gateway endpoint, internet gateway, S3 interface endpoint), seed 004 as fixed
//! (PrivateLink through an NLB) and seed 001 (GWLB: GENEVE out, and whatever an "appliance"
//! sends back). Flows persist across inputs, so later inputs meet tracked and translated
//! flows too. The buffer has room after the packet, as in the workers, so that paths that
//! grow a packet (GENEVE, PROXY protocol) run.
#![no_main]
use std::sync::{Arc, OnceLock};

use dataplane::conntrack::FlowTable;
use dataplane::fabric::Fabric;
use dataplane::pipeline::{process_in, Ctx, NoObserver, Verdict};
use libfuzzer_sys::fuzz_target;

fn build(name: &str, edit: fn(String) -> String) -> Fabric {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let text = edit(std::fs::read_to_string(dir.join(name)).expect("example exists"));
    let loaded = control::load_str(name, text, &dir).expect("example loads");
    let snap = control::compile(&loaded)
        .expect("example compiles")
        .snapshot;
    Fabric::build(snap, Arc::new(Default::default())).expect("fabric builds")
}

fn fabrics() -> &'static [Fabric; 3] {
    static F: OnceLock<[Fabric; 3]> = OnceLock::new();
    F.get_or_init(|| {
        [
            build("s3-endpoints.toml", |t| t),
            build("privatelink-hands-on.toml", |t| {
                t.replace(
                    "enforce_security_group_inbound_rules_on_private_link_traffic = true",
                    "enforce_security_group_inbound_rules_on_private_link_traffic = false",
                )
                .replace("cross_zone = false", "cross_zone = true")
            }),
            build("gwlb-inspection.toml", |t| t),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let f = &fabrics()[usize::from(first & 3) % 3];
    static FLOWS: OnceLock<FlowTable> = OnceLock::new();
    let cx = Ctx {
        lane: 0,
        now: u32::from(first >> 4) * 60,
        flows: FLOWS.get_or_init(|| FlowTable::new(1 << 14)),
        offload: dataplane::pipeline::Offload::NONE,
    };
    let ingress = u32::from(first >> 2) % (f.attachments.len() as u32 + 1);
    let mut buf = rest.to_vec();
    buf.resize(rest.len() + 128, 0);
    if let Verdict::Forward { egress, len } =
        process_in(f, &cx, ingress, &mut buf, rest.len(), &mut NoObserver)
    {
        assert!((egress as usize) < f.attachments.len());
        assert!(len <= buf.len());
        // What leaves is still a valid packet.
        assert!(dataplane::wire::parse(&buf[..len]).is_ok());
    }
});
