//! `vpcectl` end to end: the binary run on the seed examples and on broken files.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

mod common;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn example(name: &str) -> PathBuf {
    root().join("examples").join(name)
}

fn vpcectl(args: &[&str]) -> Output {
    Command::cargo_bin("vpcectl")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

const EXAMPLES: [&str; 3] = [
    "s3-endpoints.toml",
    "privatelink-hands-on.toml",
    "gwlb-inspection.toml",
];

#[test]
fn all_examples_validate() {
    for ex in EXAMPLES {
        let path = example(ex);
        let o = vpcectl(&["validate", path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{ex}: {}", stderr(&o));
        assert!(stdout(&o).contains("valid"), "{}", stdout(&o));
        let o = vpcectl(&["validate", path.to_str().unwrap(), "--output", "json"]);
        assert_eq!(json(&o)["valid"], Value::Bool(true));
    }
}

fn lookup_json(addr: &str) -> Value {
    let f = example("s3-endpoints.toml");
    let o = vpcectl(&[
        "lookup",
        f.to_str().unwrap(),
        "--route-table",
        "rtb-0c0ffee000000001",
        addr,
        "--output",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    json(&o)
}

#[test]
fn lookup_s3_address_answers_the_gateway_endpoint_via_the_prefix_list() {
    let v = lookup_json("52.216.39.26");
    assert_eq!(v["target"], "vpce-0abcdef0123456789");
    assert_eq!(v["destination"], "52.216.0.0/15");
    assert_eq!(v["destination_prefix_list"], "pl-63a5400a");
    assert_eq!(v["target_kind"]["kind"], "gateway_endpoint");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("pl-63a5400a") && reason.contains("/15"),
        "{reason}"
    );
    assert!(
        reason.contains("0.0.0.0/0 -> igw-0d00d00000000001"),
        "names the route it beat: {reason}"
    );
}

#[test]
fn lookup_endpoint_eni_answers_local() {
    let v = lookup_json("10.0.1.125");
    assert_eq!(v["target"], "local");
    assert_eq!(v["destination"], "10.0.0.0/16");
    assert!(v["reason"].as_str().unwrap().contains("local"));
}

#[test]
fn lookup_public_address_answers_the_internet_gateway() {
    let v = lookup_json("8.8.8.8");
    assert_eq!(v["target"], "igw-0d00d00000000001");
    assert_eq!(v["destination"], "0.0.0.0/0");
    assert!(v["reason"].as_str().unwrap().contains("/0"));
}

#[test]
fn lookup_for_people_reads_like_ip_route_get() {
    let f = example("s3-endpoints.toml");
    let o = vpcectl(&[
        "lookup",
        f.to_str().unwrap(),
        "--route-table",
        "rtb-0c0ffee000000001",
        "52.216.39.26",
    ]);
    let out = stdout(&o);
    assert!(
        out.starts_with("52.216.39.26 via vpce-0abcdef0123456789 (gateway endpoint)"),
        "{out}"
    );
    assert!(out.contains("also matched"), "{out}");
    // By subnet: the private subnet uses the main table, which has only local.
    let o = vpcectl(&[
        "lookup",
        f.to_str().unwrap(),
        "--subnet",
        "subnet-0a0000000000000b1",
        "52.216.39.26",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("unreachable"), "{}", stdout(&o));
}

#[test]
fn lookup_errors_are_bad_input() {
    let f = example("s3-endpoints.toml");
    let f = f.to_str().unwrap();
    let o = vpcectl(&["lookup", f, "--route-table", "rtb-nope", "8.8.8.8"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("rtb-nope") && stderr(&o).contains("rtb-0c0ffee000000001"),
        "{}",
        stderr(&o)
    );
    let o = vpcectl(&[
        "lookup",
        f,
        "--route-table",
        "rtb-0c0ffee000000001",
        "8.8.8",
    ]);
    assert_eq!(o.status.code(), Some(2), "clap rejects a bad address");
    let o = vpcectl(&["lookup", f, "8.8.8.8"]);
    assert_eq!(o.status.code(), Some(2), "a table or subnet is required");
}

fn write_temp(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn dangling_target_is_rejected_naming_table_line_and_target() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(example("s3-endpoints.toml"))
        .unwrap()
        .replace(
            r#"target = "igw-0d00d00000000001""#,
            r#"target = "igw-0000000000000dead""#,
        );
    // The example's ip-ranges data is found relative to the file.
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::copy(
        example("data/ip-ranges.us-east-1.S3.json"),
        dir.path().join("data/ip-ranges.us-east-1.S3.json"),
    )
    .unwrap();
    let f = write_temp(dir.path(), "bad.toml", &text);
    let line = text
        .lines()
        .position(|l| l.contains("igw-0000000000000dead"))
        .unwrap()
        + 1;
    let o = vpcectl(&["validate", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains(&format!("bad.toml:{line}:")), "{err}");
    assert!(err.contains("route table rtb-0c0ffee000000001"), "{err}");
    assert!(err.contains("igw-0000000000000dead"), "{err}");
    assert!(err.contains("routes[0].target"), "{err}");

    let o = vpcectl(&["validate", f.to_str().unwrap(), "-o", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let v = json(&o);
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"][0]["location"]["line"], line);
    assert_eq!(v["errors"][0]["entity"], "route table rtb-0c0ffee000000001");

    // Every command that reads the file refuses it the same way.
    let o = vpcectl(&["show", "route-tables", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let o = vpcectl(&[
        "lookup",
        f.to_str().unwrap(),
        "--route-table",
        "rtb-0c0ffee000000001",
        "8.8.8.8",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn unreadable_file_is_bad_input() {
    let o = vpcectl(&["validate", "/nonexistent/vpce.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/vpce.toml"));
}

/// Truncated and garbage files: never a panic, always exit 0 or 2 with a message.
#[test]
fn truncated_and_garbage_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(example("privatelink-hands-on.toml")).unwrap();
    let mut cases: Vec<Vec<u8>> = Vec::new();
    let step = text.len() / 40;
    for cut in (0..text.len()).step_by(step.max(1)) {
        let mut c = cut;
        while !text.is_char_boundary(c) {
            c -= 1;
        }
        cases.push(text.as_bytes()[..c].to_vec());
    }
    // Garbage: random bytes, binary, a TOML file with its bytes shuffled, deep nesting.
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut rnd = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for len in [1usize, 7, 100, 4096] {
        cases.push((0..len).map(|_| rnd() as u8).collect());
    }
    let mut shuffled = text.as_bytes().to_vec();
    for i in (1..shuffled.len()).rev() {
        let j = (rnd() as usize) % (i + 1);
        shuffled.swap(i, j);
    }
    cases.push(shuffled);
    cases.push(vec![0xff, 0xfe, b'r', 0]);
    cases.push(format!("region = {}1{}", "[".repeat(5000), "]".repeat(5000)).into_bytes());
    cases.push(
        b"[[route_tables]]\nroutes = [{ destination = \"pl-\", target = \"vpce-\" }]\n".to_vec(),
    );

    for (n, bytes) in cases.iter().enumerate() {
        let f = dir.path().join(format!("case{n}.toml"));
        std::fs::write(&f, bytes).unwrap();
        for args in [
            vec!["validate", f.to_str().unwrap()],
            vec![
                "lookup",
                f.to_str().unwrap(),
                "--route-table",
                "rtb-0a000000000000001",
                "10.0.0.1",
            ],
        ] {
            let o = vpcectl(&args);
            let err = stderr(&o);
            assert!(!err.contains("panicked"), "case {n}: {err}");
            assert!(
                matches!(o.status.code(), Some(0) | Some(2)),
                "case {n}: {:?} {err}",
                o.status
            );
            if o.status.code() == Some(2) {
                assert!(
                    err.contains(&format!("case{n}.toml")),
                    "case {n}: the message names the file: {err}"
                );
            }
        }
    }
}

#[test]
fn show_every_noun_as_table_and_json() {
    let nouns = [
        "vpcs",
        "subnets",
        "route-tables",
        "prefix-lists",
        "internet-gateways",
        "nat-gateways",
        "security-groups",
        "instances",
        "network-interfaces",
        "endpoints",
        "endpoint-services",
        "load-balancers",
        "target-groups",
        "hosted-zones",
    ];
    for ex in EXAMPLES {
        let f = example(ex);
        for noun in nouns {
            let o = vpcectl(&["show", noun, f.to_str().unwrap()]);
            assert_eq!(o.status.code(), Some(0), "{ex} {noun}: {}", stderr(&o));
            let o = vpcectl(&["show", noun, f.to_str().unwrap(), "-o", "json"]);
            assert_eq!(o.status.code(), Some(0), "{ex} {noun}: {}", stderr(&o));
            assert!(json(&o).is_array(), "{ex} {noun}");
        }
    }
}

#[test]
fn show_route_tables_lists_effective_routes() {
    let f = example("s3-endpoints.toml");
    let o = vpcectl(&[
        "show",
        "route-tables",
        f.to_str().unwrap(),
        "--id",
        "rtb-0c0ffee000000001",
        "-o",
        "json",
    ]);
    let v = json(&o);
    let routes = v[0]["routes"].as_array().unwrap();
    // Local (IPv4, IPv6), the two defaults, the blackhole, and the S3 lists' 21 IPv4 and 19
    // IPv6 entries added by the gateway endpoint.
    assert_eq!(routes.len(), 2 + 2 + 1 + 21 + 19, "{v}");
    assert!(routes
        .iter()
        .any(|r| r["destination"] == "52.216.0.0/15" && r["target"] == "vpce-0abcdef0123456789"));
    assert_eq!(v[0]["subnets"][0], "subnet-0a0000000000000a1");
    let o = vpcectl(&["show", "route-tables", f.to_str().unwrap(), "--id", "rtb-x"]);
    assert_eq!(o.status.code(), Some(2));

    let o = vpcectl(&[
        "show",
        "endpoints",
        example("privatelink-hands-on.toml").to_str().unwrap(),
        "-o",
        "json",
    ]);
    let v = json(&o);
    assert_eq!(v[0]["state"], "available");
    assert_eq!(v[0]["network_interface_ids"][0], "eni-0a000000000000001-0");
}

#[test]
fn prefix_list_from_ip_ranges_round_trips_into_a_valid_config() {
    let data = example("data/ip-ranges.us-east-1.S3.json");
    let o = vpcectl(&[
        "prefix-list",
        "from-ip-ranges",
        data.to_str().unwrap(),
        "--service",
        "S3",
        "--region",
        "us-east-1",
        "--id",
        "pl-63a5400a",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let block = stdout(&o);
    assert!(block.contains("\"52.216.0.0/15\""), "{block}");
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "region = \"us-east-1\"\n[[vpcs]]\nid = \"vpc-1\"\ncidr_blocks = [\"10.0.0.0/16\"]\n[[route_tables]]\nid = \"rtb-1\"\nvpc = \"vpc-1\"\nmain = true\nroutes = [{{ destination = \"pl-63a5400a\", target = \"blackhole\" }}]\n{block}"
    );
    let f = write_temp(dir.path(), "pl.toml", &cfg);
    let o = vpcectl(&[
        "lookup",
        f.to_str().unwrap(),
        "--route-table",
        "rtb-1",
        "52.216.39.26",
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["target"], "blackhole");

    let o = vpcectl(&[
        "prefix-list",
        "from-ip-ranges",
        data.to_str().unwrap(),
        "--service",
        "NOPE",
        "--region",
        "us-east-1",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// The filtered data kept beside the examples is exactly what the full AWS file yields.
#[test]
fn example_data_matches_the_shared_ip_ranges() {
    let shared = root().join("../shared/data/aws-ip-ranges.2026-08-22-15-17-05.json.xz");
    if !shared.exists() {
        eprintln!("skipping: {} is not beside this checkout", shared.display());
        return;
    }
    let o = vpcectl(&[
        "prefix-list",
        "from-ip-ranges",
        shared.to_str().unwrap(),
        "--service",
        "S3",
        "--region",
        "us-east-1",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let kept = std::fs::read(example("data/ip-ranges.us-east-1.S3.json")).unwrap();
    let a: Value = serde_json::from_slice(&o.stdout).unwrap();
    let b: Value = serde_json::from_slice(&kept).unwrap();
    assert_eq!(a, b);
}

#[test]
fn completions_for_common_shells() {
    for shell in ["bash", "zsh", "fish"] {
        let o = vpcectl(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0));
        let out = stdout(&o);
        assert!(
            out.contains("vpcectl") && out.contains("lookup") && out.contains("route-table"),
            "{shell}"
        );
        if shell != "fish" {
            // fish's generator does not complete positional values.
            assert!(out.contains("route-tables"), "{shell}");
        }
    }
}

#[test]
fn bench_lpm_verifies_against_the_reference_and_names_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.txt");
    std::fs::write(&table, "0.0.0.0/0 a\n10.0.0.0/8 b\n10.1.0.0/16 c\n10.1.2.0/24 d\n10.1.2.128/25 e\n192.0.2.1/32 f\n").unwrap();
    let o = vpcectl(&[
        "bench",
        "lpm",
        "--table",
        table.to_str().unwrap(),
        "--keys",
        "table",
        "--count",
        "5000",
        "--seconds",
        "0.1",
        "--verify",
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["mismatches"], 0);
    assert_eq!(v["prefixes"], 6);
    assert!(v["lookups_per_second"].as_f64().unwrap() > 0.0);
    assert!(v["batched_lookups_per_second"].as_f64().unwrap() > 0.0);
    // IPv6 of the same file: none.
    let o = vpcectl(&[
        "bench",
        "lpm",
        "--table",
        table.to_str().unwrap(),
        "--family",
        "v6",
    ]);
    assert_eq!(o.status.code(), Some(2));
    // A bad line is named.
    std::fs::write(&table, "10.0.0.0/8\n10.0.0.0/8x\n").unwrap();
    let o = vpcectl(&["bench", "lpm", "--table", table.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
}

/// An oversized configuration (a sparse 65 MiB file, or an endless one) is refused by size,
/// before it is read, with exit code 2 and a message naming the file and the limit.
#[test]
fn oversized_and_endless_configurations_are_refused_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.toml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(65 << 20)
        .unwrap();
    let o = vpcectl(&["validate", big.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(big.to_str().unwrap()) && err.contains("larger than 64 MiB"),
        "{err}"
    );
    // Endless or blocking: a device and a FIFO with no writer are refused for what they are,
    // at once (a FIFO used to block the reader for ever; issue 19).
    let fifo = dir.path().join("fifo.toml");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for file in ["/dev/zero", fifo.to_str().unwrap()] {
        let o = vpcectl(&["validate", file]);
        assert_eq!(o.status.code(), Some(2), "{file}: {o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(file) && err.contains("not a regular file"),
            "{err}"
        );
    }
}

/// Man pages come from the same definitions as --help: one per vpcectl command, vpced in
/// section 8, and they are roff that man renders.
#[test]
fn man_pages_are_generated_from_the_cli_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let o = vpcectl(&["man", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{o:?}");
    for page in [
        "vpcectl.1",
        "vpcectl-trace.1",
        "vpcectl-import-aws.1",
        "vpced.8",
        "vpce-appliance.1",
    ] {
        assert!(dir.path().join(page).exists(), "{page}");
    }
    let vpced = std::fs::read_to_string(dir.path().join("vpced.8")).unwrap();
    assert!(
        vpced.starts_with(".ie") || vpced.contains(".TH vpced 8"),
        "{vpced}"
    );
    assert!(vpced.contains("metrics\\-listen"), "{vpced}");
    // Issue 21: vpced's NAME line is vpced's, and the sections clap does not write are there.
    assert!(
        vpced.contains("vpced \\- the vpce dataplane daemon"),
        "{vpced}"
    );
    let trace = std::fs::read_to_string(dir.path().join("vpcectl-trace.1")).unwrap();
    for page in [&vpced, &trace] {
        for s in ["EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES"] {
            assert!(page.contains(&format!(".SH \"{s}\"")), "{s}: {page}");
        }
    }
    assert!(
        trace.contains("VPCE_SOCKET") && trace.contains("\n3\n"),
        "{trace}"
    );
    assert!(
        !dir.path().join("vpcectl-help.1").exists(),
        "no pages for `help`"
    );
}

/// Issue 19, finding 8: a route table holding a full-table-sized route (a route to a prefix
/// list of 200,000 entries: 200,000 effective routes, three times what one 16-bit trie holds)
/// validates, and lookups pick the longest match across the trie's slices — a /24 of the list
/// over the default route, and a /25 written as a route of its own over that /24.
#[test]
fn a_route_table_past_65534_routes_compiles_and_looks_up_right() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(example("s3-endpoints.toml")).unwrap();
    let anchor = "  { destination = \"192.0.2.0/24\", target = \"blackhole\" },\n";
    assert!(text.contains(anchor));
    let extra = "  { destination = \"pl-0bada55bada55bada\", target = \"igw-0d00d00000000001\" },\n  { destination = \"44.1.2.0/25\", target = \"blackhole\" },\n";
    let mut text = text.replace(anchor, &format!("{anchor}{extra}"));
    text.push_str("\n[[prefix_lists]]\nid = \"pl-0bada55bada55bada\"\nname = \"big\"\naddress_family = \"IPv4\"\nentries = [\n");
    for i in 0..200_000u32 {
        let a = std::net::Ipv4Addr::from(0x2c00_0000u32 + (i << 8));
        text.push_str(&format!("  \"{a}/24\",\n"));
    }
    text.push_str("]\n");
    std::os::unix::fs::symlink(root().join("examples/data"), dir.path().join("data")).unwrap();
    let path = dir.path().join("big.toml");
    std::fs::write(&path, text).unwrap();
    let f = path.to_str().unwrap();
    let o = vpcectl(&["validate", f]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let via = |addr: &str| {
        let o = vpcectl(&["lookup", f, "--route-table", "rtb-0c0ffee000000001", addr]);
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        stdout(&o)
    };
    // In the list, far into it (a later slice): the list's route to the gateway.
    let deep = std::net::Ipv4Addr::from(0x2c00_0000u32 + (190_000 << 8) + 7).to_string();
    let out = via(&deep);
    assert!(
        out.contains("via igw-0d00d00000000001") && out.contains("pl-0bada55bada55bada"),
        "{out}"
    );
    // The /25 inside one of the list's /24s wins over it; the other half takes the /24.
    assert!(via("44.1.2.9").contains("blackhole"), "{}", via("44.1.2.9"));
    assert!(
        via("44.1.2.200").contains("pl-0bada55bada55bada"),
        "{}",
        via("44.1.2.200")
    );
    // Outside the list: the default route, also to the gateway, but not through the list.
    let out = via("8.8.8.8");
    assert!(out.contains("0.0.0.0/0"), "{out}");
}

/// One grammar (issue 21): singular and plural nouns, `--family v4|v6` with the `ipv4|ipv6`
/// aliases, `--output` always the format (a file is `-O/--output-file`), ids printed as ids.
#[test]
fn one_grammar_for_nouns_families_outputs_and_ids() {
    let s3 = example("s3-endpoints.toml");
    let s3 = s3.to_str().unwrap();
    for noun in ["vpc", "vpcs"] {
        let o = vpcectl(&["show", noun, s3, "-o", "json"]);
        assert!(o.status.success(), "show {noun}: {}", stderr(&o));
        assert_eq!(json(&o).as_array().map(Vec::len), Some(1), "show {noun}");
    }
    let ranges = example("data/ip-ranges.us-east-1.S3.json");
    let ranges = ranges.to_str().unwrap();
    let list = |family: &str| {
        let o = vpcectl(&[
            "prefix-list",
            "from-ip-ranges",
            ranges,
            "--service",
            "S3",
            "--region",
            "us-east-1",
            "--family",
            family,
        ]);
        assert!(o.status.success(), "--family {family}: {}", stderr(&o));
        stdout(&o)
    };
    assert_eq!(list("v6"), list("ipv6"));
    assert_eq!(list("v4"), list("ipv4"));
    assert_ne!(list("v4"), list("v6"));
    // `--output` is never a file name.
    let o = vpcectl(&["import", "aws", "/nonexistent", "--output", "out.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!Path::new("out.toml").exists());
    // The matrix's columns are endpoint ids, in their own case.
    let pl = example("privatelink-hands-on.toml");
    let o = vpcectl(&["trace", pl.to_str().unwrap(), "--all-pairs"]);
    let header = stdout(&o).lines().next().unwrap_or_default().to_string();
    assert!(
        header.contains("vpce-0a000000000000001 (tcp/80)"),
        "{header}"
    );
}

/// vpced's log options (issue 21): a filter that does not parse is bad input (exit 2, named),
/// and `--log-format json` writes one JSON object per line.
#[test]
fn vpced_log_filter_and_json_lines() {
    let vpced = |args: &[&str]| {
        Command::cargo_bin("vpced")
            .unwrap()
            .args(args)
            .output()
            .unwrap()
    };
    let o = vpced(&["--config", "/nonexistent.toml", "--log", "a=b=c"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--log `a=b=c`"), "{}", stderr(&o));
    let o = vpced(&[
        "--config",
        "/nonexistent.toml",
        "--log-format",
        "json",
        "--control-socket",
        "/nonexistent-dir/vpced.sock",
    ]);
    let first = stderr(&o).lines().next().unwrap_or_default().to_string();
    let line: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
    assert!(
        line["level"].is_string() && line["fields"]["message"].is_string(),
        "{line}"
    );
}

/// `show endpoints` lists each interface endpoint's DNS names (issue 21), the names the VPC's
/// resolver answers for.
#[test]
fn show_endpoints_lists_dns_names() {
    let pl = example("privatelink-hands-on.toml");
    let o = vpcectl(&["show", "endpoints", pl.to_str().unwrap(), "-o", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    let names = &v[0]["dns_names"];
    let regional = names["regional"].as_str().unwrap();
    assert!(
        regional.starts_with("vpce-0a000000000000001-")
            && regional.ends_with(".vpce-svc-0b000000000000001.ap-northeast-1.vpce.amazonaws.com"),
        "{regional}"
    );
    assert_eq!(names["zonal"][0]["zone"], "ap-northeast-1a");
    let table = stdout(&vpcectl(&["show", "endpoints", pl.to_str().unwrap()]));
    assert!(table.contains(regional), "{table}");
}

/// `prefix-list from-ip-ranges -o json`: the list the TOML would hold, as JSON.
#[test]
fn prefix_list_prints_json_with_dash_o() {
    let ranges = example("data/ip-ranges.us-east-1.S3.json");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "prefix-list",
            "from-ip-ranges",
            ranges.to_str().unwrap(),
            "--service",
            "S3",
            "--region",
            "us-east-1",
        ];
        a.extend_from_slice(extra);
        vpcectl(&a)
    };
    let v = json(&args(&["-o", "json"]));
    let entries = v["entries"].as_array().unwrap();
    let toml = stdout(&args(&[]));
    assert_eq!(v["name"], "com.amazonaws.us-east-1.s3");
    assert_eq!(v["address_family"], "IPv4");
    assert_eq!(toml.matches("/").count(), entries.len(), "{toml}");
    for e in entries {
        assert!(toml.contains(&format!("\"{}\"", e.as_str().unwrap())));
    }
}

/// Route JSON without repetition (issue 21): a route's state is a field of the route, its
/// details beside it, not `"state": {"state": …}`.
#[test]
fn route_state_is_a_field_of_the_route() {
    let s3 = example("s3-endpoints.toml");
    let v = json(&vpcectl(&[
        "show",
        "route-tables",
        s3.to_str().unwrap(),
        "-o",
        "json",
    ]));
    let routes: Vec<&Value> = v
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["routes"].as_array().unwrap())
        .collect();
    assert!(!routes.is_empty());
    for r in routes {
        assert!(r["state"].is_string(), "{r}");
        if r["state"] == "shadowed" {
            assert!(r["by"].is_u64(), "{r}");
        }
    }
}

/// `import aws -o json`: one document with the configuration and what was left out; with
/// `-O FILE` the TOML goes to the file and the document names it.
#[test]
fn import_aws_prints_json_with_dash_o() {
    let export = root().join("tests/fixtures/aws-export-gwlb");
    let export = export.to_str().unwrap();
    let v = json(&vpcectl(&["import", "aws", export, "-o", "json"]));
    assert_eq!(
        v["configuration"]["vpcs"].as_array().map(Vec::len),
        Some(2),
        "{v}"
    );
    assert!(
        v["left_out"].as_array().is_some_and(|w| !w.is_empty()),
        "{v}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("imported.toml");
    let f = file.to_str().unwrap();
    let v = json(&vpcectl(&["import", "aws", export, "-O", f, "-o", "json"]));
    assert_eq!(v["output_file"], f);
    assert!(v["configuration"].is_null());
    let o = vpcectl(&["validate", f]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `trace -o dot|mermaid` (issue 21): the path as a picture, the blocking component marked.
/// The DOT renders with Graphviz; the Mermaid flowchart parses with Mermaid's own parser,
/// declares every node an edge names and keeps quotes out of its labels. The exit status
/// stays the trace's (3: blocked).
#[test]
fn trace_pictures_render() {
    let pl = example("privatelink-hands-on.toml");
    let args = |o: &str| {
        vpcectl(&[
            "trace",
            pl.to_str().unwrap(),
            "--from",
            "EC2-B",
            "--to",
            "vpce-0a000000000000001",
            "--port",
            "80",
            "-o",
            o,
        ])
    };
    let o = args("dot");
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let dot = stdout(&o);
    assert!(dot.starts_with("digraph trace {"), "{dot}");
    let mut render = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "`dot` is not installed ({e}): Debian package `graphviz` (scripts/setup.sh --test)"
            )
        });
    std::io::Write::write_all(render.stdin.as_mut().unwrap(), dot.as_bytes()).unwrap();
    let svg = render.wait_with_output().unwrap();
    assert!(
        svg.status.success(),
        "{}",
        String::from_utf8_lossy(&svg.stderr)
    );
    let svg = String::from_utf8_lossy(&svg.stdout);
    assert!(
        svg.contains("<svg") && svg.contains("NAT_GATEWAY_NOT_SUPPORTED"),
        "{svg}"
    );
    assert!(svg.contains("#c00000"), "the blocking component is marked");

    let o = args("mermaid");
    assert_eq!(o.status.code(), Some(3));
    let m = stdout(&o);
    assert!(m.contains("flowchart LR\n"), "{m}");
    let mut nodes = Vec::new();
    for line in m.lines().map(str::trim) {
        if let Some((id, label)) = line.split_once("[\"") {
            let label = label
                .strip_suffix("\"]")
                .unwrap_or_else(|| panic!("{line}"));
            assert!(!label.contains('"'), "a raw quote in {line}");
            nodes.push(id.to_string());
        } else if let Some((a, b)) = line.split_once(" --> ") {
            assert!(
                nodes.contains(&a.to_string()) && nodes.contains(&b.to_string()),
                "{line}"
            );
        }
    }
    assert!(nodes.len() >= 3, "{m}");
    assert!(m.contains("class ") && m.contains(" blocked"), "{m}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trace.mmd");
    std::fs::write(&file, &m).unwrap();
    common::mermaid_check(&[&file]);

    // A reachable path has the way back too, ending where it started.
    let s3 = example("s3-endpoints.toml");
    let o = vpcectl(&[
        "trace",
        s3.to_str().unwrap(),
        "--from",
        "i-08c0b194dec370347",
        "--to",
        "52.216.39.26",
        "--port",
        "80",
        "-o",
        "dot",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("rend [label=\"delivered (back)"),
        "{}",
        stdout(&o)
    );
    // The matrix is no picture.
    let o = vpcectl(&["trace", s3.to_str().unwrap(), "--all-pairs", "-o", "dot"]);
    assert_eq!(o.status.code(), Some(2));
}

/// `show topology -o dot|mermaid` (issue 21): the pictures in docs/ are what the examples draw
/// today (regenerate: `vpcectl show topology examples/X.toml -o dot > docs/topology-X.dot`,
/// then `dot -Tsvg`), they render (Graphviz) and parse (Mermaid), and only topology draws.
#[test]
fn topology_pictures_are_current_and_render() {
    let mut mermaid = Vec::new();
    for ex in [
        "s3-endpoints",
        "privatelink-hands-on",
        "gwlb-inspection",
        "azure-private-link",
        "centralized-endpoints",
    ] {
        let file = example(&format!("{ex}.toml"));
        for (o, ext) in [("dot", "dot"), ("mermaid", "mmd")] {
            let out = vpcectl(&["show", "topology", file.to_str().unwrap(), "-o", o]);
            assert!(out.status.success(), "{ex}: {}", stderr(&out));
            let doc = root().join(format!("docs/topology-{ex}.{ext}"));
            let committed = std::fs::read_to_string(&doc).unwrap_or_default();
            assert_eq!(stdout(&out), committed, "{} is stale", doc.display());
            if ext == "mmd" {
                mermaid.push(doc);
            }
        }
        let svg = std::process::Command::new("dot")
            .args([
                "-Tsvg",
                root()
                    .join(format!("docs/topology-{ex}.dot"))
                    .to_str()
                    .unwrap(),
            ])
            .output()
            .unwrap_or_else(|e| panic!("`dot` ({e}): Debian package `graphviz`"));
        assert!(
            svg.status.success(),
            "{ex}: {}",
            String::from_utf8_lossy(&svg.stderr)
        );
    }
    common::mermaid_check(&mermaid.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    let s3 = example("s3-endpoints.toml");
    let s3 = s3.to_str().unwrap();
    assert_eq!(vpcectl(&["show", "topology", s3]).status.code(), Some(2));
    assert_eq!(
        vpcectl(&["show", "vpcs", s3, "-o", "dot"]).status.code(),
        Some(2)
    );
}

/// A flow-log format with a field AWS does not have is bad input, named.
#[test]
fn vpced_refuses_an_unknown_flow_log_field() {
    let o = Command::cargo_bin("vpced")
        .unwrap()
        .args(["--config", "/nonexistent.toml", "--flow-log", "-"])
        .args(["--flow-log-format", "${version} ${vpc_id}"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown field `vpc_id`"),
        "{}",
        stderr(&o)
    );
}

/// `vpcectl policy check` on seed 000's policies: allowed through the interface endpoint (exit
/// 0, both statements named in JSON), denied through the gateway endpoint by the bucket
/// policy (exit 3), bad input (exit 2); a policy that does not parse is a validation error
/// naming the statement and field.
#[test]
fn policy_check_judges_endpoint_and_bucket_policies() {
    let file = example("s3-endpoints.toml");
    let check = |endpoint: &str, action: &str| {
        vpcectl(&[
            "policy",
            "check",
            file.to_str().unwrap(),
            "--endpoint",
            endpoint,
            "--principal",
            "arn:aws:iam::111122223333:role/app",
            "--action",
            action,
            "--resource",
            "arn:aws:s3:::zenn-privatelink/report.csv",
            "--source-ip",
            "10.0.0.176",
            "-o",
            "json",
        ])
    };
    let o = check("s3-interface", "s3:GetObject");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["outcome"], "allowed");
    assert_eq!(v["policies"][0]["statement"], 0);
    assert_eq!(v["policies"][1]["statement"], 1);
    let o = check("vpce-0abcdef0123456789", "s3:GetObject");
    assert_eq!(o.status.code(), Some(3));
    let v = json(&o);
    assert_eq!(
        (v["outcome"].as_str(), v["policies"][1]["decision"].as_str()),
        (Some("denied"), Some("explicit_deny"))
    );
    let o = check("vpce-nope", "s3:GetObject");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no endpoint `vpce-nope`"),
        "{}",
        stderr(&o)
    );
    let o = check("s3-interface", "GetObject");
    assert_eq!(o.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&file).unwrap().replacen(
        "\"Effect\": \"Allow\",\n      \"Principal\": { \"AWS\": \"111122223333\" }",
        "\"Effect\": \"Permit\",\n      \"Principal\": { \"AWS\": \"111122223333\" }",
        1,
    );
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    for e in std::fs::read_dir(root().join("examples/data")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join("data").join(e.file_name())).unwrap();
    }
    let bad = write_temp(dir.path(), "bad.toml", &text);
    let o = vpcectl(&["validate", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "statement 0 (Sid Only-zenn-privatelink), Effect: `Permit` is neither Allow nor Deny"
        ),
        "{}",
        stderr(&o)
    );
}

/// `vpcectl region`'s bad input is exit 2 before etcd is asked; etcd out of reach is exit 1
/// naming the endpoint and the call.
#[test]
fn region_bad_input_and_etcd_out_of_reach() {
    let file = example("s3-endpoints.toml");
    for timeout in ["-1", "1e30", "nan"] {
        let o = vpcectl(&[
            "region",
            "--etcd",
            "unix:///nonexistent/etcd.sock:0",
            "apply",
            file.to_str().unwrap(),
            &format!("--timeout={timeout}"),
        ]);
        assert_eq!(o.status.code(), Some(2), "--timeout {timeout}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("--timeout"));
    }
    let o = vpcectl(&["region", "--etcd", "https://etcd:2379", "status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("https is not supported"));
    let o = vpcectl(&[
        "region",
        "--etcd",
        "unix:///nonexistent/etcd.sock:0",
        "status",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("etcd at unix:///nonexistent/etcd.sock:0: get:"),
        "{err}"
    );
}
