//! What the packaging ships for operators, checked with the tools that will read it: the
//! Prometheus alert rules with `promtool` (syntax, and unit tests that each alert fires on the
//! series that should fire it), the Grafana dashboard as JSON whose every query names metrics
//! vpced serves (the end-to-end metrics test checks them against a real scrape).

mod common;

use std::path::PathBuf;
use std::process::Command;

fn packaging(path: &str) -> PathBuf {
    common::root().join("packaging").join(path)
}

#[test]
fn alert_rules_pass_promtool_and_their_unit_tests() {
    common::need("promtool");
    let dir = packaging("prometheus");
    for args in [
        vec!["check", "rules", "vpce.rules.yml"],
        vec!["test", "rules", "vpce.rules.test.yml"],
    ] {
        let o = Command::new("promtool")
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn the_dashboard_is_grafana_json_over_vpce_metrics() {
    let text = std::fs::read_to_string(packaging("grafana/vpce.json")).unwrap();
    let d: serde_json::Value = serde_json::from_str(&text).unwrap();
    let panels = d["panels"].as_array().unwrap();
    assert!(panels.len() >= 8);
    for p in panels {
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{p}");
        for t in targets {
            let expr = t["expr"].as_str().unwrap();
            assert!(
                !common::metric_names(expr).is_empty(),
                "{}: no vpce metric in {expr}",
                p["title"]
            );
        }
    }
}

/// The sample /etc/vpce/vpce.toml the .deb installs validates.
#[test]
fn the_sample_configuration_validates() {
    let o = Command::new(env!("CARGO_BIN_EXE_vpcectl"))
        .args(["validate", packaging("vpce.toml").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
