//! Publication: readers never block and never see a torn or older value after a newer one,
//! while a writer swaps values under them. Published here: a compiled snapshot with its
//! generation (what the daemon publishes is a plan built from one).

use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use control::{compile, load_str, Snapshot};
use dataplane::publish::{SnapshotCell, Versioned};

/// A snapshot and the generation it was published as.
struct Published {
    generation: u64,
    snapshot: Snapshot,
}

impl Versioned for Published {
    fn generation(&self) -> u64 {
        self.generation
    }
    fn set_generation(&mut self, generation: u64) {
        self.generation = generation;
    }
}

impl std::ops::Deref for Published {
    type Target = Snapshot;
    fn deref(&self) -> &Snapshot {
        &self.snapshot
    }
}

fn snapshot(default_target: &str) -> Published {
    let text = format!(
        r#"region = "us-east-1"
[[vpcs]]
id = "vpc-1"
cidr_blocks = ["10.0.0.0/16"]
[[internet_gateways]]
id = "igw-1"
vpc = "vpc-1"
[[route_tables]]
id = "rtb-1"
vpc = "vpc-1"
main = true
routes = [{{ destination = "0.0.0.0/0", target = "{default_target}" }}]
"#
    );
    let snapshot = compile(&load_str("p.toml", text, Path::new(".")).unwrap())
        .unwrap()
        .snapshot;
    Published {
        generation: 0,
        snapshot,
    }
}

#[test]
fn generations_increase_and_readers_see_whole_snapshots() {
    let cell = Arc::new(SnapshotCell::new(snapshot("igw-1")));
    assert_eq!(cell.generation(), 1);
    let stop = Arc::new(AtomicBool::new(false));
    let addr: IpAddr = "8.8.8.8".parse().unwrap();
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let cell = cell.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut last = 0;
                let mut loads = 0u64;
                loop {
                    let snap = cell.load();
                    assert!(snap.generation >= last, "generation went back");
                    last = snap.generation;
                    // Odd generations route to the IGW, even ones blackhole: a torn snapshot
                    // would break the pairing.
                    let t = snap
                        .route_table("rtb-1")
                        .unwrap()
                        .lookup(addr)
                        .unwrap()
                        .target
                        .to_string();
                    let want = if snap.generation % 2 == 1 {
                        "igw-1"
                    } else {
                        "blackhole"
                    };
                    assert_eq!(t, want, "generation {}", snap.generation);
                    loads += 1;
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
                loads
            })
        })
        .collect();
    for g in 2..=200u64 {
        let next = snapshot(if g % 2 == 1 { "igw-1" } else { "blackhole" });
        assert_eq!(cell.publish(next), g);
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert_eq!(cell.generation(), 200);
    // A pinned old snapshot stays valid after newer ones are published.
    let old = cell.load_full();
    cell.publish(snapshot("igw-1"));
    assert_eq!(old.generation, 200);
    assert!(old.route_table("rtb-1").is_some());
}
