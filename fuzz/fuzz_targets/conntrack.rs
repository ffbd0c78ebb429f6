//! The flow table — open addressing with backward-shift deletion over zeroed memory, the
//! dataplane's unsafe allocation — against a map, under AddressSanitizer: any sequence of
//! inserts, lookups from either side, clock jumps and sweeps on a small table. What the table
//! finds is what the model holds (the live flows), it never holds more than its capacity, and a
//! refusal is only ever `Full`.
#![no_main]
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use dataplane::conntrack::{FlowTable, TcpSignal, Tuple, OTHER_IDLE};
use libfuzzer_sys::fuzz_target;

/// UDP: one idle timeout, no FIN/RST states.
fn flow(a: u8, b: u8) -> Tuple {
    Tuple {
        proto: 17,
        src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, a % 16)),
        dst: IpAddr::V4(Ipv4Addr::new(10, 0, 1, b % 16)),
        sport: 1000 + u16::from(a / 16),
        dport: 53,
    }
}

/// The model's key: the zone and the flow, in one direction's terms.
type Key = (u32, Tuple);

fuzz_target!(|data: &[u8]| {
    let t = FlowTable::new(64);
    let sig = TcpSignal::default();
    let mut model: HashMap<Key, u32> = HashMap::new(); // -> last seen
    let mut now = 0u32;
    let alive = |model: &HashMap<Key, u32>, k: &Key, now: u32| {
        model.get(k).is_some_and(|&seen| now - seen < OTHER_IDLE)
    };
    for op in data.chunks_exact(3) {
        let zone = u32::from(op[0] & 3);
        let f = flow(op[1], op[2]);
        let k = (zone, f);
        match op[0] >> 5 {
            0..=3 => {
                let live = alive(&model, &k, now);
                match t.insert(zone, &f, None, sig, now) {
                    Ok(()) => {
                        model.insert(k, now);
                    }
                    Err(_) => assert!(!live, "a live flow's refresh refused"),
                }
            }
            4 | 5 => {
                // Either direction finds the flow.
                let probe = if op[0] & 4 == 0 { f } else { f.reversed() };
                let found = t.lookup(zone, &probe, sig, now).is_some();
                assert_eq!(found, alive(&model, &k, now), "{k:?} at {now}");
                if found {
                    model.insert(k, now);
                }
            }
            6 => now += u32::from(op[1]),
            _ => {
                // A sweep looks at `budget` slots, looking again where a removal shifted an
                // entry back: until one removes nothing, a whole-table budget may stop short.
                while t.sweep(now, 1 << 16) > 0 {}
                model.retain(|_, seen| now - *seen < OTHER_IDLE);
                assert_eq!(t.len(), model.len());
            }
        }
        assert!(t.len() <= t.capacity());
    }
});
