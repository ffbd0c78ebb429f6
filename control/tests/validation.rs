//! Validation errors: each names the file, line and column, the entity and the field, and says
//! what is allowed. One test per rule of SPEC.md / AWS that users break.

use std::path::Path;

use control::diag::{Diagnostic, Severity};
use control::{compile, load_str, validate, ConfigError};

/// A small valid deployment; tests append or replace parts of it.
const BASE: &str = r#"region = "us-east-1"
availability_zones = ["us-east-1a", "us-east-1b"]

[[vpcs]]
id = "vpc-1"
cidr_blocks = ["10.0.0.0/16"]

[[subnets]]
id = "subnet-a"
vpc = "vpc-1"
availability_zone = "us-east-1a"
cidr = "10.0.1.0/24"

[[subnets]]
id = "subnet-b"
vpc = "vpc-1"
availability_zone = "us-east-1b"
cidr = "10.0.2.0/24"

[[internet_gateways]]
id = "igw-1"
vpc = "vpc-1"

[[route_tables]]
id = "rtb-1"
vpc = "vpc-1"
main = true
routes = [
  { destination = "0.0.0.0/0", target = "igw-1" },
]
"#;

fn diagnostics(text: &str) -> Vec<Diagnostic> {
    let loaded = load_str("test.toml", text.to_string(), Path::new(".")).expect("parses");
    validate(&loaded).diagnostics
}

/// The one error whose message contains `needle`; fails listing all if none or several.
fn error_with(text: &str, needle: &str) -> Diagnostic {
    let all = diagnostics(text);
    let found: Vec<&Diagnostic> = all
        .iter()
        .filter(|d| d.severity == Severity::Error && d.message.contains(needle))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one error containing {needle:?}, got:\n{}",
        all.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    found[0].clone()
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in text"))
        + 1
}

#[test]
fn base_is_valid() {
    let d = diagnostics(BASE);
    assert!(d.is_empty(), "{d:?}");
}

#[test]
fn dangling_route_target_names_table_line_and_target() {
    let text = BASE.replace(r#"target = "igw-1""#, r#"target = "igw-dead""#);
    let d = error_with(&text, "igw-dead");
    assert_eq!(d.entity, "route table rtb-1");
    assert_eq!(d.field, "routes[0].target");
    assert_eq!(d.location.line, line_of(&text, "igw-dead"));
    assert_eq!(
        d.location.column,
        text.lines()
            .nth(d.location.line - 1)
            .unwrap()
            .find("\"igw-dead\"")
            .unwrap()
            + 1
    );
    assert!(
        d.help.as_deref().unwrap().contains("igw-1"),
        "help lists known gateways: {d:?}"
    );
    let shown = d.to_string();
    assert!(
        shown.starts_with(&format!("test.toml:{}:", d.location.line)),
        "{shown}"
    );
}

#[test]
fn compile_rejects_invalid_configs_whole() {
    let text = BASE.replace(r#"target = "igw-1""#, r#"target = "igw-dead""#);
    let loaded = load_str("test.toml", text, Path::new(".")).unwrap();
    match compile(&loaded) {
        Err(ConfigError::Invalid { diagnostics }) => assert!(!diagnostics.is_empty()),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn unknown_target_form_lists_the_allowed_ones() {
    let text = BASE.replace(r#"target = "igw-1""#, r#"target = "gw-1""#);
    let d = error_with(&text, "not a route target");
    assert!(d.help.unwrap().contains("blackhole"));
}

#[test]
fn subnet_outside_its_vpc() {
    let text = BASE.replace(r#"cidr = "10.0.2.0/24""#, r#"cidr = "10.9.2.0/24""#);
    let d = error_with(&text, "is not inside vpc-1");
    assert_eq!(d.entity, "subnet subnet-b");
    assert_eq!(d.field, "cidr");
    assert_eq!(d.location.line, line_of(&text, "10.9.2.0/24"));
}

#[test]
fn overlapping_subnets() {
    let text = BASE.replace(r#"cidr = "10.0.2.0/24""#, r#"cidr = "10.0.0.0/23""#);
    let d = error_with(&text, "overlaps subnet subnet-a");
    assert_eq!(d.entity, "subnet subnet-b");
}

#[test]
fn duplicate_ids() {
    let text = format!("{BASE}\n[[internet_gateways]]\nid = \"igw-1\"\nvpc = \"vpc-1\"\n");
    let d = error_with(&text, "already used");
    assert!(d.message.contains("line"), "{d}");
}

#[test]
fn ids_need_their_aws_prefix() {
    let text = BASE.replace(r#"id = "rtb-1""#, r#"id = "table-1""#);
    let d = error_with(&text, "is not a route table id");
    assert!(d.help.unwrap().contains("rtb-"));
}

#[test]
fn a_reference_to_the_wrong_kind_says_so() {
    let text = BASE.replace(
        r#"vpc = "vpc-1"
main"#,
        r#"vpc = "igw-1"
main"#,
    );
    let d = error_with(&text, "is a internet gateway, but a vpc is required");
    assert_eq!(d.field, "vpc");
}

#[test]
fn local_target_only_for_vpc_cidrs() {
    let text = BASE.replace(
        r#"  { destination = "0.0.0.0/0", target = "igw-1" },"#,
        r#"  { destination = "0.0.0.0/0", target = "igw-1" },
  { destination = "192.168.0.0/16", target = "local" },"#,
    );
    let d = error_with(&text, "target local is for the VPC's own CIDRs");
    assert_eq!(d.field, "routes[1].target");
}

#[test]
fn route_more_specific_than_local_must_be_a_subnet() {
    let text = format!(
        "{BASE}\n[[network_interfaces]]\nid = \"eni-fw\"\nsubnet = \"subnet-a\"\nprivate_ip = \"10.0.1.50\"\nsource_dest_check = false\n"
    )
    .replace(
        r#"  { destination = "0.0.0.0/0", target = "igw-1" },"#,
        r#"  { destination = "0.0.0.0/0", target = "igw-1" },
  { destination = "10.0.2.0/25", target = "eni-fw" },
  { destination = "10.0.1.0/24", target = "eni-fw" },"#,
    );
    let d = error_with(&text, "more specific than the local route");
    assert_eq!(d.field, "routes[1].destination");
}

#[test]
fn duplicate_destination_in_a_table() {
    let text = BASE.replace(
        r#"  { destination = "0.0.0.0/0", target = "igw-1" },"#,
        r#"  { destination = "0.0.0.0/0", target = "igw-1" },
  { destination = "0.0.0.0/0", target = "blackhole" },"#,
    );
    let d = error_with(&text, "already has destination 0.0.0.0/0");
    assert_eq!(d.field, "routes[1].destination");
}

const S3: &str = r#"
[[prefix_lists]]
id = "pl-s3"
name = "com.amazonaws.us-east-1.s3"
address_family = "IPv4"
entries = ["52.216.0.0/15", "3.5.0.0/19"]

[[aws_services]]
name = "com.amazonaws.us-east-1.s3"
endpoint_types = ["gateway", "interface"]
prefix_list = "pl-s3"

[[endpoints]]
id = "vpce-gw"
type = "gateway"
vpc = "vpc-1"
service = "com.amazonaws.us-east-1.s3"
route_tables = ["rtb-1"]
"#;

#[test]
fn gateway_endpoint_routes_come_only_from_the_association() {
    let text = format!("{BASE}{S3}").replace(
        r#"  { destination = "0.0.0.0/0", target = "igw-1" },"#,
        r#"  { destination = "0.0.0.0/0", target = "igw-1" },
  { destination = "pl-s3", target = "vpce-gw" },"#,
    );
    let d = error_with(
        &text,
        "is a gateway endpoint; its routes come from the endpoint's route_tables",
    );
    assert_eq!(d.field, "routes[1].target");
    assert!(d.help.unwrap().contains("route_tables"));
}

#[test]
fn interface_endpoints_are_not_route_targets() {
    let text = format!(
        "{BASE}{S3}\n[[endpoints]]\nid = \"vpce-if\"\ntype = \"interface\"\nvpc = \"vpc-1\"\nservice = \"com.amazonaws.us-east-1.s3\"\nnetwork_interfaces = [{{ subnet = \"subnet-a\", private_ip = \"10.0.1.125\" }}]\nsecurity_groups = []\n"
    )
    .replace(
        r#"  { destination = "0.0.0.0/0", target = "igw-1" },"#,
        r#"  { destination = "0.0.0.0/0", target = "igw-1" },
  { destination = "8.8.8.0/24", target = "vpce-if" },"#,
    );
    let d = error_with(
        &text,
        "is an interface endpoint; only Gateway Load Balancer endpoints are route targets",
    );
    assert_eq!(d.entity, "route table rtb-1");
}

#[test]
fn edge_route_tables_take_only_local_gwlbe_or_eni_targets() {
    let text = format!(
        "{BASE}\n[[route_tables]]\nid = \"rtb-edge\"\nvpc = \"vpc-1\"\ngateways = [\"igw-1\"]\nroutes = [{{ destination = \"10.0.1.0/24\", target = \"igw-1\" }}, {{ destination = \"8.8.8.0/24\", target = \"local\" }}]\n"
    );
    let d = error_with(&text, "an edge route table cannot target igw-1");
    assert_eq!(d.entity, "route table rtb-edge");
    assert!(d.help.unwrap().contains("Gateway Load Balancer endpoint"));
    let d = error_with(&text, "is neither a CIDR of vpc-1 nor one of its subnets'");
    assert_eq!(d.field, "routes[1].destination");
}

#[test]
fn prefix_lists_within_max_entries() {
    let text = format!("{BASE}{S3}").replace(
        "address_family = \"IPv4\"\nentries",
        "address_family = \"IPv4\"\nmax_entries = 1\nentries",
    );
    let d = error_with(&text, "2 entries exceed max_entries = 1");
    assert_eq!(d.entity, "prefix list pl-s3");
}

#[test]
fn prefix_list_entries_of_the_wrong_family() {
    let text = format!("{BASE}{S3}").replace("\"3.5.0.0/19\"]", "\"2600:1fa0::/40\"]");
    let d = error_with(&text, "is not an IPv4 CIDR");
    assert_eq!(d.field, "entries[1]");
}

#[test]
fn overlapping_prefix_lists_with_different_targets_warn() {
    let text = format!(
        "{BASE}{S3}\n[[prefix_lists]]\nid = \"pl-corp\"\nname = \"corp\"\naddress_family = \"IPv4\"\nmax_entries = 5\nentries = [\"52.216.0.0/15\"]\n"
    )
    .replace(
        r#"  { destination = "0.0.0.0/0", target = "igw-1" },"#,
        r#"  { destination = "0.0.0.0/0", target = "igw-1" },
  { destination = "pl-corp", target = "blackhole" },"#,
    );
    let all = diagnostics(&text);
    assert!(
        all.iter().all(|d| d.severity == Severity::Warning),
        "{all:?}"
    );
    let w: Vec<_> = all
        .iter()
        .filter(|d| d.message.contains("overlap"))
        .collect();
    assert_eq!(w.len(), 1, "{all:?}");
    assert!(w[0].message.contains("pl-corp") && w[0].message.contains("pl-s3"));
    assert!(
        w[0].message.contains("deterministically"),
        "{}",
        w[0].message
    );
}

#[test]
fn reserved_and_foreign_addresses() {
    let text = format!(
        "{BASE}\n[[instances]]\nid = \"i-1\"\nsubnet = \"subnet-a\"\nprivate_ip = \"10.0.1.2\"\n"
    );
    let d = error_with(&text, "reserved by AWS for the DNS server");
    assert_eq!(d.field, "private_ip");
    assert!(d.help.unwrap().contains("10.0.1.4 to 10.0.1.254"));
    let text = format!(
        "{BASE}\n[[instances]]\nid = \"i-1\"\nsubnet = \"subnet-a\"\nprivate_ip = \"10.0.2.9\"\n"
    );
    error_with(&text, "is not in subnet subnet-a");
}

#[test]
fn addresses_are_unique_in_a_vpc() {
    let text = format!(
        "{BASE}\n[[instances]]\nid = \"i-1\"\nsubnet = \"subnet-a\"\nprivate_ip = \"10.0.1.9\"\n\n[[instances]]\nid = \"i-2\"\nsubnet = \"subnet-a\"\nprivate_ip = \"10.0.1.9\"\n"
    );
    let d = error_with(&text, "10.0.1.9 is already used in vpc-1");
    assert_eq!(d.entity, "instance i-2");
}

#[test]
fn subnets_need_a_route_table() {
    let text = BASE.replace("main = true\n", "subnets = [\"subnet-a\"]\n");
    let d = error_with(&text, "the subnet has no route table");
    assert_eq!(d.entity, "subnet subnet-b");
}

#[test]
fn a_subnet_in_two_tables() {
    let text = format!("{BASE}\n[[route_tables]]\nid = \"rtb-2\"\nvpc = \"vpc-1\"\nsubnets = [\"subnet-a\"]\n\n[[route_tables]]\nid = \"rtb-3\"\nvpc = \"vpc-1\"\nsubnets = [\"subnet-a\"]\n");
    let d = error_with(&text, "is already associated with rtb-2");
    assert_eq!(d.entity, "route table rtb-3");
}

#[test]
fn availability_zone_of_another_region() {
    let text = BASE.replace(
        r#"availability_zone = "us-east-1b""#,
        r#"availability_zone = "eu-west-1b""#,
    );
    let d = error_with(&text, "is not one of the deployment's zones");
    assert_eq!(d.field, "availability_zone");
}

#[test]
fn availability_zone_ids_are_well_formed_and_distinct() {
    let with = |ids: &str| {
        BASE.replace(
            "availability_zones = [\"us-east-1a\", \"us-east-1b\"]\n",
            &format!("availability_zones = [\"us-east-1a\", \"us-east-1b\"]\n{ids}\n"),
        )
    };
    let ok =
        with(r#"availability_zone_ids = { us-east-1a = "use1-az6", us-east-1b = "use1-az1" }"#);
    assert!(diagnostics(&ok).is_empty(), "{:?}", diagnostics(&ok));
    let bad = with(r#"availability_zone_ids = { us-east-1a = "az6" }"#);
    let d = error_with(&bad, "us-east-1a = `az6` is not an availability zone id");
    assert_eq!(d.location.line, line_of(&bad, "availability_zone_ids"));
    let twice =
        with(r#"availability_zone_ids = { us-east-1a = "use1-az6", us-east-1b = "use1-az6" }"#);
    error_with(&twice, "use1-az6 is already the id of us-east-1a");
    let foreign = with(r#"availability_zone_ids = { eu-west-1a = "euw1-az1" }"#);
    error_with(
        &foreign,
        "`eu-west-1a` is not an availability zone of region us-east-1",
    );
}

#[test]
fn private_dns_needs_dns_hostnames() {
    let text = format!(
        "{BASE}{S3}\n[[endpoints]]\nid = \"vpce-if\"\ntype = \"interface\"\nvpc = \"vpc-1\"\nservice = \"com.amazonaws.us-east-1.s3\"\nnetwork_interfaces = [{{ subnet = \"subnet-a\", private_ip = \"10.0.1.125\" }}]\nprivate_dns_enabled = true\n"
    )
    .replace("endpoint_types = [\"gateway\", \"interface\"]", "endpoint_types = [\"gateway\", \"interface\"]\nprivate_dns_names = [\"*.s3.us-east-1.amazonaws.com\"]");
    let d = error_with(
        &text,
        "private DNS needs enable_dns_support and enable_dns_hostnames",
    );
    assert_eq!(d.entity, "endpoint vpce-if");
}

#[test]
fn endpoint_service_of_the_wrong_type() {
    let text =
        format!("{BASE}{S3}").replace("type = \"gateway\"\n", "type = \"gateway_load_balancer\"\n");
    let d = error_with(&text, "does not offer GatewayLoadBalancer endpoints");
    assert_eq!(d.field, "type");
}

#[test]
fn unknown_service() {
    let text = format!("{BASE}{S3}").replace(
        "service = \"com.amazonaws.us-east-1.s3\"\nroute_tables",
        "service = \"com.amazonaws.us-east-1.s4\"\nroute_tables",
    );
    let d = error_with(&text, "no service named `com.amazonaws.us-east-1.s4`");
    assert!(d.help.unwrap().contains("com.amazonaws.us-east-1.s3"));
}

#[test]
fn health_check_path_needs_http() {
    let text = format!(
        "{BASE}\n[[target_groups]]\nid = \"tg\"\nvpc = \"vpc-1\"\nprotocol = \"TCP\"\nport = 80\nhealth_check = {{ protocol = \"TCP\", path = \"/index.html\" }}\n"
    );
    let d = error_with(&text, "a TCP health check has no path");
    assert_eq!(d.field, "health_check.path");
}

#[test]
fn listener_to_a_target_group_of_another_vpc() {
    let text = format!(
        "{BASE}\n[[vpcs]]\nid = \"vpc-2\"\ncidr_blocks = [\"10.1.0.0/16\"]\n\n[[target_groups]]\nid = \"tg\"\nvpc = \"vpc-2\"\nprotocol = \"TCP\"\nport = 80\n\n[[load_balancers]]\nid = \"nlb\"\ntype = \"network\"\nvpc = \"vpc-1\"\nsubnet_mappings = [{{ subnet = \"subnet-a\", private_ip = \"10.0.1.50\" }}]\nlisteners = [{{ protocol = \"TCP\", port = 80, target_group = \"tg\" }}]\n"
    );
    let d = error_with(&text, "target group tg is in vpc-2, not in vpc-1");
    assert_eq!(d.field, "listeners[0].target_group");
}

#[test]
fn interface_endpoint_in_a_zone_the_service_does_not_cover() {
    let text = format!(
        "{BASE}\n[[target_groups]]\nid = \"tg\"\nvpc = \"vpc-1\"\nprotocol = \"TCP\"\nport = 80\n\n[[load_balancers]]\nid = \"nlb\"\ntype = \"network\"\nvpc = \"vpc-1\"\nsubnet_mappings = [{{ subnet = \"subnet-a\", private_ip = \"10.0.1.50\" }}]\nlisteners = [{{ protocol = \"TCP\", port = 80, target_group = \"tg\" }}]\n\n[[endpoint_services]]\nid = \"vpce-svc-1\"\nload_balancers = [\"nlb\"]\n\n[[endpoints]]\nid = \"vpce-1\"\ntype = \"interface\"\nvpc = \"vpc-1\"\nservice = \"com.amazonaws.vpce.us-east-1.vpce-svc-1\"\nnetwork_interfaces = [{{ subnet = \"subnet-b\", private_ip = \"10.0.2.10\" }}]\nsecurity_groups = []\n"
    );
    let d = error_with(&text, "is not available in us-east-1b");
    assert!(d.help.unwrap().contains("us-east-1a"));
}

#[test]
fn security_group_rules_name_one_peer_and_need_ports() {
    let text = format!(
        "{BASE}\n[[security_groups]]\nid = \"sg-1\"\nvpc = \"vpc-1\"\ningress = [{{ protocol = \"tcp\", cidr = \"10.0.0.0/8\" }}, {{ protocol = \"udp\", ports = 53, cidr = \"10.0.0.0/8\", security_group = \"sg-1\" }}]\n"
    );
    let d = error_with(&text, "a tcp rule needs ports");
    assert_eq!(d.field, "ingress[0].ports");
    let d = error_with(&text, "exactly one peer");
    assert_eq!(d.field, "ingress[1]");
}

// ---- parse-level errors ---------------------------------------------------------------------

fn parse_error(text: &str) -> (usize, usize, Option<String>, String) {
    match load_str("test.toml", text.to_string(), Path::new(".")) {
        Err(ConfigError::Parse {
            location,
            entity,
            message,
        }) => (location.line, location.column, entity, message),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn unknown_fields_are_errors_with_line_and_entity() {
    let text = BASE.replace("main = true\n", "main = true\ncross_zon = true\n");
    let (line, _, entity, message) = parse_error(&text);
    assert_eq!(line, line_of(&text, "cross_zon"));
    assert_eq!(entity.as_deref(), Some("route table rtb-1"));
    assert!(message.contains("cross_zon"), "{message}");
}

#[test]
fn cidr_with_host_bits_is_a_parse_error_suggesting_the_network() {
    let text = BASE.replace(r#"cidr = "10.0.2.0/24""#, r#"cidr = "10.0.2.1/24""#);
    let (line, _, entity, message) = parse_error(&text);
    assert_eq!(line, line_of(&text, "10.0.2.1/24"));
    assert_eq!(entity.as_deref(), Some("subnet subnet-b"));
    assert!(message.contains("10.0.2.0/24"), "{message}");
}

#[test]
fn toml_syntax_errors_have_a_position() {
    let (line, column, _, _) = parse_error("region = \"us-east-1\"\n[[vpcs]\nid = 1\n");
    assert_eq!(
        (line, column),
        (2, 8),
        "the second `]` of the header is missing"
    );
}

#[test]
fn missing_ip_ranges_file_names_the_prefix_list() {
    let text = format!("{BASE}\n[[prefix_lists]]\nid = \"pl-x\"\nname = \"x\"\naddress_family = \"IPv4\"\nfrom_ip_ranges = {{ file = \"nope.json\", service = \"S3\" }}\n");
    match load_str("test.toml", text.clone(), Path::new("/nonexistent")) {
        Err(ConfigError::Invalid { diagnostics }) => {
            assert_eq!(diagnostics.len(), 1);
            assert_eq!(diagnostics[0].entity, "prefix list pl-x");
            assert_eq!(diagnostics[0].location.line, line_of(&text, "nope.json"));
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn connection_state_follows_acceptance() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/privatelink-hands-on.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let state = |text: String| {
        let l = load_str("t.toml", text, Path::new(".")).unwrap();
        let e = l.config.endpoints[0].clone();
        l.config.connection_state(&e)
    };
    use control::model::ConnectionState::*;
    assert_eq!(state(text.clone()), Available, "accepted in the article");
    let pending = text.replace(
        "connections = [{ endpoint = \"vpce-0a000000000000001\", state = \"available\" }]",
        "",
    );
    assert_eq!(
        state(pending.clone()),
        PendingAcceptance,
        "acceptance required, nothing recorded"
    );
    assert_eq!(
        state(pending.replace("acceptance_required = true", "acceptance_required = false")),
        Available
    );
}

#[test]
fn an_internet_gateway_on_an_interface_needs_its_next_hop_and_no_namespace() {
    let with = |extra: &str| {
        BASE.replace(
            "id = \"igw-1\"\nvpc = \"vpc-1\"",
            &format!("id = \"igw-1\"\nvpc = \"vpc-1\"\n{extra}"),
        )
    };
    let ok = with("interface = \"eth1\"\nnext_hop = \"198.51.100.1\"");
    assert!(
        diagnostics(&ok)
            .iter()
            .all(|d| d.severity != Severity::Error),
        "{:?}",
        diagnostics(&ok)
    );
    let d = error_with(&with("interface = \"eth1\""), "needs the router");
    assert!(d.to_string().contains("next_hop"), "{d}");
    error_with(
        &with("next_hop = \"198.51.100.1\""),
        "applies to an internet gateway on an existing interface",
    );
    error_with(
        &with("interface = \"eth1\"\nnext_hop = \"198.51.100.1\"\nnamespace = \"internet\""),
        "has no namespace of its own",
    );
    error_with(
        &with("interface = \"a-name-far-too-long\"\nnext_hop = \"198.51.100.1\""),
        "is not an interface name",
    );
}

/// Network ACLs: a subnet in one ACL of its own VPC, one default per VPC, rule numbers in
/// range and unique per direction, rules AWS would accept.
#[test]
fn network_acl_rules_and_associations() {
    let acl = |extra: &str| {
        format!(
            "{BASE}\n[[network_acls]]\nid = \"acl-1\"\nvpc = \"vpc-1\"\ndefault = true\nsubnets = [\"subnet-a\"]\ningress = [\n  {{ rule = 100, action = \"allow\", protocol = \"tcp\", ports = \"1024-65535\", cidr = \"0.0.0.0/0\" }},\n]\n{extra}"
        )
    };
    let ok = acl("");
    assert!(diagnostics(&ok).is_empty(), "{:?}", diagnostics(&ok));
    let twice = acl("[[network_acls]]\nid = \"acl-2\"\nvpc = \"vpc-1\"\ndefault = true\nsubnets = [\"subnet-a\"]\n");
    error_with(&twice, "subnet-a is already associated with acl-1");
    error_with(&twice, "acl-1 is already the default network ACL of vpc-1");
    let numbers = acl("[[network_acls]]\nid = \"acl-3\"\nvpc = \"vpc-1\"\negress = [\n  { rule = 5, action = \"deny\", protocol = \"all\", cidr = \"0.0.0.0/0\" },\n  { rule = 5, action = \"allow\", protocol = \"udp\", cidr = \"0.0.0.0/0\" },\n  { rule = 40000, action = \"allow\", protocol = \"gre\", cidr = \"::/0\" },\n]\n");
    let d = error_with(&numbers, "rule number 5 is already egress[0]'s");
    assert_eq!(d.field, "egress[1].rule");
    error_with(&numbers, "a udp rule needs ports");
    error_with(&numbers, "rule number 40000 is outside 1-32766");
    error_with(&numbers, "`gre` is not a protocol");
    let many: String = (1..=41)
        .map(|n| format!("  {{ rule = {n}, action = \"allow\", protocol = \"all\", cidr = \"0.0.0.0/0\" }},\n"))
        .collect();
    let many = acl(&format!(
        "[[network_acls]]\nid = \"acl-4\"\nvpc = \"vpc-1\"\ningress = [\n{many}]\n"
    ));
    error_with(
        &many,
        "41 ingress rules; AWS allows at most 40 per direction",
    );
}

/// Transit gateways: a VPC route to one needs the VPC attached; attachments name a route
/// table of their own transit gateway and one subnet per zone of their VPC.
#[test]
fn transit_gateway_routes_and_attachments() {
    let tgw = |extra: &str| {
        BASE.replace(r#"target = "igw-1""#, r#"target = "tgw-1""#)
            + "\n[[transit_gateways]]\nid = \"tgw-1\"\n\n[[transit_gateways]]\nid = \"tgw-2\"\n\n[[transit_gateway_route_tables]]\nid = \"tgw-rtb-1\"\ntransit_gateway = \"tgw-1\"\n\n[[transit_gateway_route_tables]]\nid = \"tgw-rtb-2\"\ntransit_gateway = \"tgw-2\"\nroutes = [{ destination = \"10.0.0.0/16\", target = \"tgw-attach-1\" }]\n"
            + extra
    };
    error_with(&tgw(""), "transit gateway tgw-1 has no attachment to vpc-1");
    let ok = tgw("[[transit_gateway_attachments]]\nid = \"tgw-attach-1\"\ntransit_gateway = \"tgw-1\"\ntype = \"vpc\"\nvpc = \"vpc-1\"\nsubnets = [\"subnet-a\", \"subnet-b\"]\nassociation = \"tgw-rtb-1\"\npropagations = [\"tgw-rtb-1\"]\n");
    // tgw-rtb-2 routes to an attachment of tgw-1: said.
    let d = error_with(&ok, "tgw-attach-1 is an attachment of tgw-1, not of tgw-2");
    assert_eq!(d.field, "routes[0].target");
    let wrong = tgw("[[transit_gateway_attachments]]\nid = \"tgw-attach-1\"\ntransit_gateway = \"tgw-1\"\ntype = \"vpc\"\nvpc = \"vpc-1\"\nsubnets = [\"subnet-a\"]\nassociation = \"tgw-rtb-2\"\nvpn_connection = \"vpn-1\"\n");
    error_with(&wrong, "tgw-rtb-2 is a route table of tgw-2, not of tgw-1");
    error_with(
        &wrong,
        "`vpn_connection` does not apply to a vpc attachment",
    );
    let no_subnet = tgw("[[transit_gateway_attachments]]\nid = \"tgw-attach-1\"\ntransit_gateway = \"tgw-1\"\ntype = \"vpc\"\nvpc = \"vpc-1\"\n");
    error_with(
        &no_subnet,
        "a vpc attachment needs a subnet in at least one availability zone",
    );
}

/// Direct Connect gateways: associated with virtual private gateways or transit gateways, not
/// both; a transit gateway association needs allowed prefixes and the transit gateway's
/// `direct_connect_gateway` attachment, which needs the association.
#[test]
fn direct_connect_gateways() {
    let base = BASE.to_string()
        + "\n[[vpn_gateways]]\nid = \"vgw-1\"\nvpc = \"vpc-1\"\n\n[[transit_gateways]]\nid = \"tgw-1\"\n\n[[on_premises]]\nid = \"dc-1\"\ncidrs = [\"192.168.0.0/16\"]\ncustomer_gateway = \"cgw-1\"\n";
    let dx = |assoc: &str, extra: &str| {
        base.clone()
            + "\n[[direct_connect_gateways]]\nid = \"dx-1\"\non_premises = [\"dc-1\", \"dc-2\"]\nassociations = ["
            + assoc
            + "]\n"
            + extra
    };
    let both = dx("{ gateway = \"vgw-1\" }, { gateway = \"tgw-1\" }", "");
    error_with(&both, "dc-2");
    error_with(
        &both,
        "associated with both virtual private gateways and transit gateways",
    );
    error_with(&both, "the association with tgw-1 advertises nothing");
    let d = error_with(
        &both,
        "no direct_connect_gateway attachment of tgw-1 carries dx-1",
    );
    assert_eq!(d.field, "associations[1].gateway");
    let attachment = "\n[[transit_gateway_attachments]]\nid = \"tgw-attach-9\"\ntransit_gateway = \"tgw-1\"\ntype = \"direct_connect_gateway\"\ndirect_connect_gateway = \"dx-1\"\nvpc = \"vpc-1\"\n";
    let unassociated = dx("{ gateway = \"vgw-1\" }", attachment);
    error_with(
        &unassociated,
        "Direct Connect gateway dx-1 is not associated with tgw-1",
    );
    error_with(
        &unassociated,
        "`vpc, subnets, appliance_mode` does not apply to a direct_connect_gateway attachment",
    );
    let odd = dx("{ gateway = \"igw-1\" }", "");
    error_with(&odd, "`igw-1` is neither a virtual private gateway");
    let narrow = dx(
        "{ gateway = \"vgw-1\", allowed_prefixes = [\"10.0.1.0/24\"] }",
        "",
    );
    let all = diagnostics(&narrow);
    assert!(
        all.iter().any(|d| d.severity == Severity::Warning
            && d.message.contains("covers none of vpc-1's CIDRs")),
        "{all:#?}"
    );
}

/// GWLB target group combinations AWS refuses: a changed idle timeout with 3- or 2-tuple
/// stickiness, failover attributes that differ; 3-tuple stickiness behind a transit gateway
/// attachment in appliance mode is warned about.
#[test]
fn gwlb_target_group_combinations() {
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gwlb-inspection.toml"),
    )
    .unwrap();
    let ok = example.replace(
        "stickiness = \"5-tuple\"",
        "stickiness = \"5-tuple\"\ntcp_idle_timeout = 1800",
    );
    assert!(
        !diagnostics(&ok)
            .iter()
            .any(|d| d.severity == Severity::Error),
        "{:#?}",
        diagnostics(&ok)
    );
    let three = example.replace(
        "stickiness = \"5-tuple\"",
        "stickiness = \"3-tuple\"\ntcp_idle_timeout = 1800",
    );
    let d = error_with(&three, "a 1800 s idle timeout with 3-tuple stickiness");
    assert_eq!(d.field, "tcp_idle_timeout");
    let failover = example.replace(
        "on_deregistration = \"no_rebalance\"",
        "on_deregistration = \"rebalance\"",
    );
    error_with(
        &failover,
        "AWS requires both target failover attributes to have the same value",
    );
    let appliance = example.replace("stickiness = \"5-tuple\"", "stickiness = \"2-tuple\"")
        + "\n[[transit_gateways]]\nid = \"tgw-1\"\n\n[[transit_gateway_route_tables]]\nid = \"tgw-rtb-1\"\ntransit_gateway = \"tgw-1\"\n\n[[transit_gateway_attachments]]\nid = \"tgw-attach-1\"\ntransit_gateway = \"tgw-1\"\ntype = \"vpc\"\nvpc = \"vpc-0c000000000000002\"\nsubnets = [\"subnet-0c0000000000000f1\"]\nappliance_mode = true\nassociation = \"tgw-rtb-1\"\n";
    let all = diagnostics(&appliance);
    assert!(
        all.iter().any(|d| d.severity == Severity::Warning
            && d.message.contains("does not work with appliance mode")),
        "{all:#?}"
    );
}

/// Health requirements name a threshold within AWS's ranges.
#[test]
fn target_group_health_requirements() {
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gwlb-inspection.toml"),
    )
    .unwrap();
    let with = |r: &str| {
        example.replace(
            "stickiness = \"5-tuple\"",
            &format!("stickiness = \"5-tuple\"\nhealth_requirements = {r}"),
        )
    };
    assert!(!diagnostics(&with(
        "{ minimum_healthy_targets = 2, minimum_healthy_percentage = 50 }"
    ))
    .iter()
    .any(|d| d.severity == Severity::Error));
    error_with(
        &with("{}"),
        "health requirements name minimum_healthy_targets or minimum_healthy_percentage",
    );
    error_with(
        &with("{ minimum_healthy_targets = 0 }"),
        "minimum_healthy_targets is at least 1",
    );
    error_with(
        &with("{ minimum_healthy_percentage = 101 }"),
        "minimum_healthy_percentage is 1 to 100",
    );
}

/// The dual-stack example, and each requirement AWS states for dual-stack PrivateLink broken
/// in turn: the error names the entity and field, and says what to change.
#[test]
fn dual_stack_privatelink_rules() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/privatelink-dual-stack.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        diagnostics(&text)
            .iter()
            .all(|d| d.severity != Severity::Error),
        "the example is valid"
    );
    let broken = |from: &str, to: &str| {
        assert!(text.contains(from), "{from}");
        text.replacen(from, to, 1)
    };
    let cases: &[(&str, &str, &str, &str)] = &[
        // The service must accept IPv6 for a dual-stack endpoint.
        (
            "supported_ip_address_types = [\"ipv4\", \"ipv6\"]",
            "",
            "needs a service that accepts ipv6 requests",
            "ip_address_type",
        ),
        // IPv6 requests need dual-stack load balancers.
        (
            "ip_address_type = \"dualstack\"\nsecurity_groups = [\"sg-0b000000000000001\"]",
            "security_groups = [\"sg-0b000000000000001\"]",
            "is not dualstack, so the service cannot accept IPv6",
            "supported_ip_address_types",
        ),
        // A dual-stack endpoint's ENIs need IPv6 addresses in the subnet's IPv6 CIDR.
        (
            "ipv6_address = \"2600:1f18:a:a80::100\"",
            "ipv6_address = \"2600:1f18:a:a90::100\"",
            "is not in subnet subnet-0a0000000000000b1",
            "network_interfaces[0].ipv6_address",
        ),
        (
            ", ipv6_address = \"2600:1f18:a:a80::100\"",
            "",
            "need an ipv6_address",
            "network_interfaces[0].ipv6_address",
        ),
        (
            "ipv6_address = \"2600:1f18:b:b80::50\"",
            "ipv6_address = \"2600:1f18:b:b80::2\"",
            "reserved by AWS",
            "subnet_mappings[0].ipv6_address",
        ),
        (
            "ip_address_type = \"dualstack\"\n# dns_record_ip_type",
            "ip_address_type = \"dualstack\"\ndns_record_ip_type = \"bogus\"\n# dns_record_ip_type",
            "unknown variant",
            "",
        ),
        (
            "ip_address_type = \"dualstack\"\n# dns_record_ip_type",
            "ip_address_type = \"ipv6\"\n# dns_record_ip_type",
            "needs IPv6-only subnets",
            "ip_address_type",
        ),
        // IPv6 target groups: IP targets of the family, TCP or TLS.
        (
            "targets = [{ ip = \"2600:1f18:b:b90::10\" }]",
            "targets = [{ ip = \"10.1.144.10\" }]",
            "is IPv4 but the group is ipv6",
            "targets[0].ip",
        ),
        (
            "port = 8080\nip_address_type = \"ipv6\"",
            "port = 8080",
            "is IPv6 but the group is ipv4",
            "targets[0].ip",
        ),
        (
            "protocol = \"TCP\"\nport = 8080",
            "protocol = \"UDP\"\nport = 8080",
            "IPv6 target groups are TCP or TLS",
            "protocol",
        ),
        // An IPv6 address used twice in a VPC.
        (
            "ipv6_address = \"2600:1f18:a:a80::100\"",
            "ipv6_address = \"2600:1f18:a:a80::10\"",
            "is already used in vpc-0a000000000000001",
            "network_interfaces[0].ipv6_address",
        ),
    ];
    for (from, to, needle, field) in cases {
        let t = broken(from, to);
        if needle == &"unknown variant" {
            let e = load_str("t.toml", t, Path::new(".")).unwrap_err();
            assert!(e.to_string().contains("unknown variant"), "{e}");
            continue;
        }
        let d = error_with(&t, needle);
        assert!(
            d.field.ends_with(field),
            "{needle}: field {} ({d})",
            d.field
        );
    }
    // DNS records that do not go with the endpoint's addresses.
    let ipv4_endpoint = text
        .replace(
            "ip_address_type = \"dualstack\"\n# dns_record_ip_type",
            "dns_record_ip_type = \"dualstack\"\n# dns_record_ip_type",
        )
        .replace(", ipv6_address = \"2600:1f18:a:a80::100\"", "");
    let d = error_with(&ipv4_endpoint, "does not go with ip_address_type ipv4");
    assert_eq!(d.field, "dns_record_ip_type");
}

/// AWS's unhealthy connection termination attributes: a draining interval of 0–360000 s, set
/// only with termination off; NLB groups only.
#[test]
fn unhealthy_draining_rules() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/privatelink-hands-on.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let with = |lines: &str| {
        text.replace(
            "targets = [{ instance",
            &format!("{lines}\ntargets = [{{ instance"),
        )
    };
    let ok = with("unhealthy_connection_termination = false\nunhealthy_draining_interval = 300");
    assert!(diagnostics(&ok)
        .iter()
        .all(|d| d.severity != Severity::Error));
    let d = error_with(
        &with("unhealthy_draining_interval = 300"),
        "needs unhealthy_connection_termination = false",
    );
    assert_eq!(d.field, "unhealthy_draining_interval");
    error_with(
        &with("unhealthy_connection_termination = false\nunhealthy_draining_interval = 400000"),
        "0 to 360000 seconds",
    );
}
