//! The VPC resolver at base + 2 over namespaces, asked with real `dig`: private DNS of the
//! interface endpoint (seed 000), the endpoint's regional and zonal names (seed 002's shapes),
//! names outside the private records refused, private DNS turned off with `vpcectl apply`,
//! garbage survived, and the query log in Route 53 Resolver's shape. Then with an upstream
//! (dnsmasq on the internet side answering seed 000's public records): the public CNAME and
//! A records when private DNS is off, the private answer when it is on.

use crate::common::*;

const INSTANCE: &str = "s3-instance";
const NAME: &str = "zenn-privatelink.s3.us-east-1.amazonaws.com";

fn dig(lab: &Lab, name: &str) -> (String, Vec<String>) {
    dig_with(lab, name, &[])
}

fn dig_with(lab: &Lab, name: &str, options: &[&str]) -> (String, Vec<String>) {
    let mut args = vec!["dig", "@10.0.0.2", "+time=2", "+tries=1"];
    args.extend_from_slice(options);
    args.extend_from_slice(&[name, "A"]);
    let o = lab.exec(INSTANCE, &args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let status = out
        .split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("no answer")
        .to_string();
    let answers = out
        .split(";; ANSWER SECTION:")
        .nth(1)
        .map(|s| {
            s.lines()
                .skip(1)
                .take_while(|l| !l.trim().is_empty())
                .filter_map(|l| l.split_whitespace().last().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    (status, answers)
}

/// Applies seed 000 with private DNS off (written into `dir`, beside a copy of its data).
fn apply_private_dns_off(lab: &Lab, dir: &std::path::Path) {
    let text = std::fs::read_to_string(example("s3-endpoints.toml"))
        .unwrap()
        .replace("private_dns_enabled = true", "private_dns_enabled = false");
    let off = dir.join("off.toml");
    std::fs::write(&off, text).unwrap();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    for e in std::fs::read_dir(root().join("examples/data")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join("data").join(e.file_name())).unwrap();
    }
    let o = lab.vpcectl(&["apply", off.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn the_resolver_answers_private_names_and_logs_them() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(&example("s3-endpoints.toml"));
    lab.check_isolation(&[(INSTANCE, "10.0.0.2")]);

    // Private DNS on: the wildcard answers the endpoint's ENI.
    assert_eq!(
        dig(&lab, NAME),
        ("NOERROR".into(), vec!["10.0.1.125".into()]),
        "{}",
        lab.daemon_log()
    );
    // The endpoint's own regional and zonal names.
    let svc = "com.amazonaws.us-east-1.s3";
    let regional = control::dns::regional_name("vpce-0fedcba9876543210", svc, "us-east-1");
    let zonal = control::dns::zonal_name("vpce-0fedcba9876543210", svc, "us-east-1", "us-east-1a");
    assert!(regional.ends_with(".s3.us-east-1.vpce.amazonaws.com"));
    assert_eq!(dig(&lab, &regional).1, vec!["10.0.1.125".to_string()]);
    assert_eq!(dig(&lab, &zonal).1, vec!["10.0.1.125".to_string()]);
    // Outside the private records: refused (no upstream configured).
    assert_eq!(dig(&lab, "example.com").0, "REFUSED");
    // Over TCP too (dig +tcp).
    let o = lab.exec(
        INSTANCE,
        &[
            "dig",
            "@10.0.0.2",
            "+tcp",
            "+time=2",
            "+tries=1",
            "+short",
            NAME,
            "A",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "10.0.1.125",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Garbage to port 53 is survived.
    let o = lab.exec(
        INSTANCE,
        &[
            "python3",
            "-c",
            "import socket,os\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor n in range(300): s.sendto(os.urandom(n % 80), ('10.0.0.2', 53))",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(dig(&lab, NAME).1, vec!["10.0.1.125".to_string()]);

    // Private DNS off: the name is no longer private here.
    apply_private_dns_off(&lab, dir.path());
    // Workers take a new plan at their next wakeup (at most 50 ms).
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(dig(&lab, NAME).0, "REFUSED");
    // The endpoint's own names still answer.
    assert_eq!(dig(&lab, &regional).1, vec!["10.0.1.125".to_string()]);

    // The query log: one JSON object per line, Route 53 Resolver's fields.
    let log = std::fs::read_to_string(lab.query_log()).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let first = lines
        .iter()
        .find(|l| l["query_name"] == format!("{NAME}."))
        .expect("the query is logged");
    for field in [
        "version",
        "account_id",
        "region",
        "vpc_id",
        "query_timestamp",
        "query_name",
        "query_type",
        "query_class",
        "rcode",
        "answers",
        "srcaddr",
        "srcport",
        "transport",
        "srcids",
    ] {
        assert!(!first[field].is_null(), "{field} missing: {first}");
    }
    assert_eq!(first["vpc_id"], "vpc-09efc2534d3f29483");
    assert_eq!(first["srcaddr"], "10.0.0.176");
    assert_eq!(first["srcids"]["instance"], "i-08c0b194dec370347");
    assert_eq!(first["answers"][0]["Rdata"], "10.0.1.125");
    assert!(lines.iter().any(|l| l["rcode"] == "REFUSED"));
    assert!(lines.iter().any(|l| l["transport"] == "TCP"));
}

/// The lab with `[resolver]` forwarding to a DNS server in the internet namespace.
#[test]
fn names_outside_the_private_records_go_upstream() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    for e in std::fs::read_dir(root().join("examples/data")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join("data").join(e.file_name())).unwrap();
    }
    let base = std::fs::read_to_string(example("s3-endpoints.toml")).unwrap()
        + "\n[resolver]\nupstream = \"198.51.100.53\"\ninternet_gateway = \"igw-0d00d00000000001\"\n";
    let on = dir.path().join("on.toml");
    std::fs::write(&on, &base).unwrap();
    let off = dir.path().join("off.toml");
    std::fs::write(
        &off,
        base.replace("private_dns_enabled = true", "private_dns_enabled = false"),
    )
    .unwrap();
    let mut lab = Lab::start(&off);
    lab.add_loopback("internet", "198.51.100.53");
    lab.check_isolation(&[(INSTANCE, "10.0.0.2"), ("internet", "100.64.0.53")]);
    // The public answers seed 000 shows for the name without an endpoint.
    lab.spawn(
        "internet",
        &[
            "dnsmasq",
            "--no-daemon",
            "--no-resolv",
            "--no-hosts",
            "--listen-address=198.51.100.53",
            "--bind-interfaces",
            "--host-record=s3-r-w.us-east-1.amazonaws.com,54.231.132.226",
            "--cname=zenn-privatelink.s3.us-east-1.amazonaws.com,s3-r-w.us-east-1.amazonaws.com",
        ],
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let o = lab.exec(
        INSTANCE,
        &["dig", "@10.0.0.2", "+time=3", "+tries=1", NAME, "A"],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("status: NOERROR"), "{out}{}", lab.daemon_log());
    assert!(
        out.contains("CNAME\ts3-r-w.us-east-1.amazonaws.com."),
        "{out}"
    );
    assert!(out.contains("54.231.132.226"), "{out}");
    // Private DNS on: the private answer, upstream not asked for it.
    let o = lab.vpcectl(&["apply", on.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(dig(&lab, NAME).1, vec!["10.0.1.125".to_string()]);
    // The log has both, the upstream one with its CNAME first.
    let log = std::fs::read_to_string(lab.query_log()).unwrap();
    let public = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| l["answers"][0]["Type"] == "CNAME")
        .expect("the upstream answer is logged");
    assert_eq!(
        public["answers"][0]["Rdata"],
        "s3-r-w.us-east-1.amazonaws.com."
    );
    assert_eq!(public["answers"][1]["Rdata"], "54.231.132.226");
}

/// Seed 000's Azure part: the public per-resource CNAME leads into the `privatelink.` zone
/// linked to the VNet, which answers the private endpoint; unlinked, the chain goes on to the
/// public front end.
#[test]
fn azure_cname_chain_ends_in_the_linked_private_zone() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let linked = example("azure-private-link.toml");
    let text = std::fs::read_to_string(&linked).unwrap().replace(
        "vpcs = [\"vpc-0a2e0000000000001\"]\nrecords",
        "vpcs = []\nrecords",
    );
    let unlinked = dir.path().join("unlinked.toml");
    std::fs::write(&unlinked, text).unwrap();
    let mut lab = Lab::start(&linked);
    lab.add_loopback("internet", "198.51.100.53");
    lab.check_isolation(&[("azure-vm", "10.0.0.2"), ("internet", "100.64.0.53")]);
    lab.spawn(
        "internet",
        &[
            "dnsmasq",
            "--no-daemon",
            "--no-resolv",
            "--no-hosts",
            "--listen-address=198.51.100.53",
            "--bind-interfaces",
            "--host-record=blob.blz22prdstr28a.store.core.windows.net,20.60.0.100",
            "--cname=zennprivatelink.privatelink.blob.core.windows.net,blob.blz22prdstr28a.store.core.windows.net",
            "--cname=zennprivatelink.blob.core.windows.net,zennprivatelink.privatelink.blob.core.windows.net",
        ],
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let ask = |lab: &Lab| {
        let o = lab.exec(
            "azure-vm",
            &[
                "dig",
                "@10.0.0.2",
                "+time=3",
                "+tries=1",
                "+noall",
                "+answer",
                "zennprivatelink.blob.core.windows.net",
                "A",
            ],
        );
        // Whitespace as single spaces, whatever dig aligned with.
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let out = ask(&lab);
    assert!(
        out.contains("CNAME zennprivatelink.privatelink.blob.core.windows.net."),
        "{out}{}",
        lab.daemon_log()
    );
    assert!(out.contains("10.0.4.4"), "{out}");
    assert!(!out.contains("20.60.0.100"), "{out}");
    let o = lab.vpcectl(&["apply", unlinked.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let out = ask(&lab);
    assert!(out.contains("20.60.0.100"), "{out}");
    assert!(!out.contains("10.0.4.4"), "{out}");
}

/// vpced's metric `name` (scraped in its namespace, where `--metrics-listen` put it).
fn metric(lab: &Lab, name: &str) -> f64 {
    let o = std::process::Command::new("ip")
        .args(["netns", "exec", &lab.ns("fabric")])
        .args(["curl", "-s", "-f", "http://127.0.0.1:9464/metrics"])
        .output()
        .unwrap();
    assert!(o.status.success(), "scrape failed: {o:?}");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name}"))
}

/// Without a query log, a repeated query is answered by the worker that reads it, from the
/// resolver's earlier answer (`resolver::cache`): the same answer, counted; and a new
/// configuration is never answered from the old one's answers.
#[test]
fn repeated_queries_are_answered_by_the_workers_and_applies_are_seen() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start_args(
        &example("s3-endpoints.toml"),
        &["--no-query-log", "--metrics-listen", "127.0.0.1:9464"],
    );
    lab.check_isolation(&[(INSTANCE, "10.0.0.2")]);
    assert!(!lab.query_log().exists());
    // Without the EDNS cookie dig makes up anew each run: the same query bytes each time.
    for _ in 0..5 {
        assert_eq!(
            dig_with(&lab, NAME, &["+nocookie"]),
            ("NOERROR".into(), vec!["10.0.1.125".into()]),
            "{}",
            lab.daemon_log()
        );
    }
    let cached = metric(&lab, "vpce_dns_cached_responses_total");
    assert!(cached >= 3.0, "{cached} answers from the cache");
    assert_eq!(
        metric(&lab, "vpce_dns_responses_total{rcode=\"NOERROR\"}"),
        5.0
    );
    // `vpcectl stats` tells the same.
    let dns = &lab.stats()["dns"];
    assert_eq!(dns["responses"]["NOERROR"], 5, "{dns}");
    assert_eq!(dns["from_cache"].as_f64(), Some(cached), "{dns}");
    let o = lab.vpcectl(&["stats"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("answered by the workers from the answer cache"),
        "{text}"
    );

    // Private DNS off: the cached answer belongs to the old configuration.
    apply_private_dns_off(&lab, dir.path());
    std::thread::sleep(std::time::Duration::from_millis(200));
    for _ in 0..3 {
        assert_eq!(dig_with(&lab, NAME, &["+nocookie"]).0, "REFUSED");
    }
    assert!(metric(&lab, "vpce_dns_cached_responses_total") >= cached + 1.0);
}
