//! `vpcectl import aws` against a real EC2 API: moto_server, driven by the real AWS CLI, gets a
//! VPC with subnets, a route table with an internet-gateway route, an S3 gateway endpoint
//! associated with it (moto adds the `pl-… -> vpce-…` route), an interface endpoint, a
//! security group and an instance; `scripts/export-aws.sh` saves it, `vpcectl import aws` turns it into a
//! configuration that validates, and `vpcectl lookup` gives every address the target that
//! longest-prefix match over moto's own route table gives.

mod common;

use std::net::{IpAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

struct Moto(Child);
impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn aws(endpoint: &str, args: &[&str]) -> String {
    let o = Command::new("aws")
        .args([
            "--endpoint-url",
            endpoint,
            "--region",
            "us-east-1",
            "--output",
            "text",
        ])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A moto_server on a free loopback port, and its endpoint URL; stopped when the guard drops.
fn start_moto() -> (Moto, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let moto = Moto(
        Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (moto, format!("http://127.0.0.1:{port}"))
}

/// Saves moto's account with scripts/export-aws.sh into `export`.
fn export(e: &str, export: &Path) {
    let o = Command::new(root().join("scripts/export-aws.sh"))
        .args([
            "--region",
            "us-east-1",
            "--endpoint-url",
            e,
            export.to_str().unwrap(),
        ])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

const DXGW: &str = "5f294f92-bafb-4011-916d-9b0b0000dc01";

/// Direct Connect in the AWS CLI's own shape (moto has no Direct Connect gateways): a gateway
/// associated with transit gateway `tgw` (allowed prefix 10.100.0.0/16), a transit virtual
/// interface, and the transit gateway's attachment for it, associated with and propagating to
/// `table`.
fn direct_connect_export(out: &Path, tgw: &str, table: &str) {
    let write = |name: &str, v: Value| {
        std::fs::write(out.join(format!("{name}.json")), v.to_string()).unwrap();
    };
    write(
        "directconnect-describe-direct-connect-gateways",
        serde_json::json!({"directConnectGateways": [{"directConnectGatewayId": DXGW, "directConnectGatewayName": "dc-dx", "amazonSideAsn": 64512, "directConnectGatewayState": "available"}]}),
    );
    write(
        &format!("directconnect-describe-direct-connect-gateway-associations-{DXGW}"),
        serde_json::json!({"directConnectGatewayAssociations": [{"directConnectGatewayId": DXGW, "associationState": "associated", "associatedGateway": {"id": tgw, "type": "transitGateway", "region": "us-east-1"}, "allowedPrefixesToDirectConnectGateway": [{"cidr": "10.100.0.0/16"}]}]}),
    );
    write(
        "directconnect-describe-virtual-interfaces",
        serde_json::json!({"virtualInterfaces": [{"virtualInterfaceId": "dxvif-ffabc123", "virtualInterfaceType": "transit", "virtualInterfaceState": "available", "directConnectGatewayId": DXGW}]}),
    );
    let att = "tgw-attach-0dc0000000000001";
    let edit = |name: &str, key: &str, item: Value| {
        let file = out.join(format!("{name}.json"));
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        v[key].as_array_mut().unwrap().push(item);
        std::fs::write(&file, v.to_string()).unwrap();
    };
    edit(
        "ec2-describe-transit-gateway-attachments",
        "TransitGatewayAttachments",
        serde_json::json!({"TransitGatewayAttachmentId": att, "TransitGatewayId": tgw, "ResourceType": "direct-connect-gateway", "ResourceId": DXGW, "State": "available", "Association": {"TransitGatewayRouteTableId": table, "State": "associated"}}),
    );
    edit(
        &format!("ec2-get-transit-gateway-route-table-propagations-{table}"),
        "TransitGatewayRouteTablePropagations",
        serde_json::json!({"TransitGatewayAttachmentId": att, "ResourceId": DXGW, "ResourceType": "direct-connect-gateway", "State": "enabled"}),
    );
}

fn vpcectl(args: &[&str]) -> Output {
    Command::new(bin("vpcectl")).args(args).output().unwrap()
}

/// The target moto's route table gives `addr`: longest prefix over its CIDR routes and the
/// entries of the prefix lists it routes.
fn moto_target(export: &Path, table: &str, addr: IpAddr) -> String {
    let rts: Value = serde_json::from_str(
        &std::fs::read_to_string(export.join("ec2-describe-route-tables.json")).unwrap(),
    )
    .unwrap();
    let t = rts["RouteTables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["RouteTableId"] == table)
        .unwrap();
    let mut best: Option<(u8, String)> = None;
    for r in t["Routes"].as_array().unwrap() {
        let target = r["GatewayId"].as_str().unwrap_or("?").to_string();
        let nets: Vec<ipnet::IpNet> = match (
            r["DestinationCidrBlock"].as_str(),
            r["DestinationPrefixListId"].as_str(),
        ) {
            (Some(c), _) => vec![c.parse().unwrap()],
            (None, Some(pl)) => {
                let e: Value = serde_json::from_str(
                    &std::fs::read_to_string(
                        export.join(format!("ec2-get-managed-prefix-list-entries-{pl}.json")),
                    )
                    .unwrap(),
                )
                .unwrap();
                e["Entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x["Cidr"].as_str().unwrap().parse().unwrap())
                    .collect()
            }
            _ => continue,
        };
        for n in nets {
            if n.contains(&addr) && best.as_ref().is_none_or(|(l, _)| n.prefix_len() > *l) {
                best = Some((n.prefix_len(), target.clone()));
            }
        }
    }
    best.map(|(_, t)| t).unwrap_or_else(|| "none".into())
}

#[test]
fn a_moto_vpc_imports_and_routes_like_aws() {
    if !(have("moto_server") && have("aws")) {
        eprintln!("SKIPPED: moto_server and the AWS CLI are not installed (scripts/setup.sh installs them)");
        return;
    }
    let (_moto, endpoint) = start_moto();
    let e = endpoint.as_str();
    let vpc = aws(
        e,
        &[
            "ec2",
            "create-vpc",
            "--cidr-block",
            "10.0.0.0/16",
            "--query",
            "Vpc.VpcId",
        ],
    );
    let sub = aws(
        e,
        &[
            "ec2",
            "create-subnet",
            "--vpc-id",
            &vpc,
            "--cidr-block",
            "10.0.1.0/24",
            "--availability-zone",
            "us-east-1a",
            "--query",
            "Subnet.SubnetId",
        ],
    );
    let rt = aws(
        e,
        &[
            "ec2",
            "create-route-table",
            "--vpc-id",
            &vpc,
            "--query",
            "RouteTable.RouteTableId",
        ],
    );
    aws(
        e,
        &[
            "ec2",
            "associate-route-table",
            "--route-table-id",
            &rt,
            "--subnet-id",
            &sub,
        ],
    );
    let igw = aws(
        e,
        &[
            "ec2",
            "create-internet-gateway",
            "--query",
            "InternetGateway.InternetGatewayId",
        ],
    );
    aws(
        e,
        &[
            "ec2",
            "attach-internet-gateway",
            "--internet-gateway-id",
            &igw,
            "--vpc-id",
            &vpc,
        ],
    );
    aws(
        e,
        &[
            "ec2",
            "create-route",
            "--route-table-id",
            &rt,
            "--destination-cidr-block",
            "0.0.0.0/0",
            "--gateway-id",
            &igw,
        ],
    );
    let sg = aws(
        e,
        &[
            "ec2",
            "create-security-group",
            "--group-name",
            "web",
            "--description",
            "web",
            "--vpc-id",
            &vpc,
            "--query",
            "GroupId",
        ],
    );
    aws(
        e,
        &[
            "ec2",
            "authorize-security-group-ingress",
            "--group-id",
            &sg,
            "--protocol",
            "tcp",
            "--port",
            "443",
            "--cidr",
            "10.0.0.0/16",
        ],
    );
    let gwe = aws(
        e,
        &[
            "ec2",
            "create-vpc-endpoint",
            "--vpc-id",
            &vpc,
            "--service-name",
            "com.amazonaws.us-east-1.s3",
            "--route-table-ids",
            &rt,
            "--query",
            "VpcEndpoint.VpcEndpointId",
        ],
    );
    aws(
        e,
        &[
            "ec2",
            "create-vpc-endpoint",
            "--vpc-id",
            &vpc,
            "--vpc-endpoint-type",
            "Interface",
            "--service-name",
            "com.amazonaws.us-east-1.ssm",
            "--subnet-ids",
            &sub,
            "--security-group-ids",
            &sg,
        ],
    );

    let ami = aws(
        e,
        &["ec2", "describe-images", "--query", "Images[0].ImageId"],
    );
    let inst = aws(
        e,
        &[
            "ec2",
            "run-instances",
            "--image-id",
            &ami,
            "--subnet-id",
            &sub,
            "--count",
            "1",
            "--instance-type",
            "t3.micro",
            "--security-group-ids",
            &sg,
            "--private-ip-address",
            "10.0.1.10",
            "--query",
            "Instances[0].InstanceId",
        ],
    );

    // A PrivateLink service of this account: an internal NLB forwarding TCP 80 to an IP target
    // with PROXY protocol v2, its endpoint service (acceptance required), and an interface
    // endpoint to it from the instance's subnet.
    let w = |cmd: &str| aws(e, &cmd.split_whitespace().collect::<Vec<_>>());
    let lb = w(&format!("elbv2 create-load-balancer --name nlb-b --type network --scheme internal --subnets {sub} --query LoadBalancers[0].LoadBalancerArn"));
    // moto makes no network interface for a load balancer's node; AWS makes one per node,
    // described `ELB <type>/<name>/<id>`, and the import reads the node's address from it.
    let part = lb.rsplit_once(":loadbalancer/").unwrap().1.to_string();
    let node = aws(
        e,
        &[
            "ec2",
            "create-network-interface",
            "--subnet-id",
            &sub,
            "--private-ip-address",
            "10.0.1.50",
            "--description",
            &format!("ELB {part}"),
            "--query",
            "NetworkInterface.NetworkInterfaceId",
        ],
    );
    // The target: an instance serving 8080 to the VPC.
    w(&format!("ec2 authorize-security-group-ingress --group-id {sg} --protocol tcp --port 8080 --cidr 10.0.0.0/16"));
    let srv = w(&format!("ec2 run-instances --image-id {ami} --subnet-id {sub} --count 1 --instance-type t3.micro --security-group-ids {sg} --private-ip-address 10.0.1.20 --query Instances[0].InstanceId"));
    let tg = w(&format!("elbv2 create-target-group --name tg-b --protocol TCP --port 80 --vpc-id {vpc} --target-type instance --query TargetGroups[0].TargetGroupArn"));
    w(&format!(
        "elbv2 register-targets --target-group-arn {tg} --targets Id={srv},Port=8080"
    ));
    w(&format!("elbv2 modify-target-group-attributes --target-group-arn {tg} --attributes Key=proxy_protocol_v2.enabled,Value=true"));
    w(&format!("elbv2 create-listener --load-balancer-arn {lb} --protocol TCP --port 80 --default-actions Type=forward,TargetGroupArn={tg}"));
    let svc = w(&format!("ec2 create-vpc-endpoint-service-configuration --network-load-balancer-arns {lb} --acceptance-required --query ServiceConfiguration.[ServiceId,ServiceName]"));
    let (svc_id, svc_name) = svc.split_once('\t').unwrap();
    let epsg = w(&format!(
        "ec2 create-security-group --group-name ep --description ep --vpc-id {vpc} --query GroupId"
    ));
    w(&format!("ec2 authorize-security-group-ingress --group-id {epsg} --protocol tcp --port 80 --cidr 10.0.0.0/16"));
    let pep = w(&format!("ec2 create-vpc-endpoint --vpc-id {vpc} --vpc-endpoint-type Interface --service-name {svc_name} --subnet-ids {sub} --security-group-ids {epsg} --query VpcEndpoint.VpcEndpointId"));

    // A network ACL of the subnet's own, replacing the default one there: an ephemeral-ports
    // rule in, a deny before an allow-all out.
    let acl = w(&format!(
        "ec2 create-network-acl --vpc-id {vpc} --query NetworkAcl.NetworkAclId"
    ));
    w(&format!("ec2 create-network-acl-entry --network-acl-id {acl} --ingress --rule-number 100 --protocol 6 --port-range From=1024,To=65535 --cidr-block 0.0.0.0/0 --rule-action allow"));
    w(&format!("ec2 create-network-acl-entry --network-acl-id {acl} --egress --rule-number 90 --protocol 17 --port-range From=53,To=53 --cidr-block 192.0.2.0/24 --rule-action deny"));
    w(&format!("ec2 create-network-acl-entry --network-acl-id {acl} --egress --rule-number 100 --protocol -1 --cidr-block 0.0.0.0/0 --rule-action allow"));
    let assoc = aws(
        e,
        &[
            "ec2",
            "describe-network-acls",
            "--filters",
            &format!("Name=association.subnet-id,Values={sub}"),
            "--query",
            &format!(
                "NetworkAcls[0].Associations[?SubnetId=='{sub}'].NetworkAclAssociationId | [0]"
            ),
        ],
    );
    w(&format!(
        "ec2 replace-network-acl-association --association-id {assoc} --network-acl-id {acl}"
    ));

    // Policies: the gateway endpoint's, a bucket's (seed 000: only through that endpoint), and
    // who may connect to the endpoint service.
    let endpoint_policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"One-bucket","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::moto-bucket/*"}]}"#;
    aws(
        e,
        &[
            "ec2",
            "modify-vpc-endpoint",
            "--vpc-endpoint-id",
            &gwe,
            "--policy-document",
            endpoint_policy,
        ],
    );
    aws(e, &["s3api", "create-bucket", "--bucket", "moto-bucket"]);
    let bucket_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Only-through-the-endpoint","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::moto-bucket","arn:aws:s3:::moto-bucket/*"],"Condition":{{"StringNotEquals":{{"aws:SourceVpce":"{gwe}"}}}}}},{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::moto-bucket/*"}}]}}"#
    );
    aws(
        e,
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "moto-bucket",
            "--policy",
            &bucket_policy,
        ],
    );
    w(&format!("ec2 modify-vpc-endpoint-service-permissions --service-id {svc_id} --add-allowed-principals arn:aws:iam::444455556666:root"));

    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    crate::export(e, &export);
    // moto gives an interface endpoint's network interface an address outside its subnet (AWS
    // takes one from the subnet): put the private-link endpoint's where AWS would.
    let enis_file = export.join("ec2-describe-network-interfaces.json");
    let mut enis: Value =
        serde_json::from_str(&std::fs::read_to_string(&enis_file).unwrap()).unwrap();
    let ep_eni = w(&format!(
        "ec2 describe-vpc-endpoints --vpc-endpoint-ids {pep} --query VpcEndpoints[0].NetworkInterfaceIds[0]"
    ));
    for n in enis["NetworkInterfaces"].as_array_mut().unwrap() {
        if n["NetworkInterfaceId"] == ep_eni.as_str() {
            n["PrivateIpAddress"] = "10.0.1.60".into();
        }
    }
    std::fs::write(&enis_file, enis.to_string()).unwrap();
    let cfg = dir.path().join("imported.toml");
    let o = vpcectl(&[
        "import",
        "aws",
        export.to_str().unwrap(),
        "-O",
        cfg.to_str().unwrap(),
    ]);
    let warnings = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{warnings}");
    assert!(!warnings.contains(&lb), "{warnings}");
    // The export's per-resource files are named by the ARN's resource part.
    assert!(export
        .join(format!(
            "elbv2-describe-listeners-{}.json",
            part.replace('/', "_")
        ))
        .exists());
    // Valid, with the ids kept.
    let o = vpcectl(&["validate", cfg.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(&cfg).unwrap();
    for id in [&vpc, &sub, &rt, &igw, &sg, &gwe, &inst, &lb, &tg, &pep] {
        assert!(
            text.contains(id.as_str()),
            "{id} missing:\n{text}\n{warnings}"
        );
    }
    // The service with its load balancer, the node address from its interface (which is the
    // node's, not an ENI of its own), the target, PROXY v2 and the endpoint's connection.
    let v: toml::Table = text.parse().unwrap();
    let service = &v["endpoint_services"][0];
    assert_eq!(service["id"].as_str(), Some(svc_id), "{text}");
    assert_eq!(service["load_balancers"][0].as_str(), Some(lb.as_str()));
    assert_eq!(service["acceptance_required"].as_bool(), Some(true));
    assert_eq!(
        service["connections"][0]["endpoint"].as_str(),
        Some(pep.as_str())
    );
    assert_eq!(
        service["allowed_principals"][0].as_str(),
        Some("arn:aws:iam::444455556666:root"),
        "{text}"
    );
    // The policies are kept, and judged: the bucket refuses what does not come through the
    // gateway endpoint, whose own policy allows reads of that bucket only.
    assert!(
        text.contains("Only-through-the-endpoint") && text.contains("One-bucket"),
        "{text}"
    );
    let judge = |endpoint: &str, action: &str| {
        vpcectl(&[
            "policy",
            "check",
            cfg.to_str().unwrap(),
            "--endpoint",
            endpoint,
            "--principal",
            "arn:aws:iam::123456789012:role/app",
            "--action",
            action,
            "--resource",
            "arn:aws:s3:::moto-bucket/k",
        ])
        .status
        .code()
    };
    assert_eq!(judge(&gwe, "s3:GetObject"), Some(0));
    assert_eq!(judge(&gwe, "s3:PutObject"), Some(3));
    let nlb = &v["load_balancers"][0];
    assert_eq!(
        nlb["subnet_mappings"][0]["private_ip"].as_str(),
        Some("10.0.1.50")
    );
    assert_eq!(nlb["listeners"][0]["port"].as_integer(), Some(80));
    assert!(
        !text.contains(&node),
        "{node} imported as an ENI of its own:\n{text}"
    );
    // The ACL with its subnet and rules (AWS's `*` left implicit); the VPC's default ACL.
    let acls = v["network_acls"].as_array().unwrap();
    let mine = acls
        .iter()
        .find(|a| a["id"].as_str() == Some(&acl))
        .unwrap();
    assert_eq!(mine["subnets"][0].as_str(), Some(sub.as_str()), "{text}");
    assert_eq!(mine["ingress"][0]["ports"].as_str(), Some("1024-65535"));
    assert_eq!(mine["egress"].as_array().unwrap().len(), 2, "{text}");
    assert!(
        acls.iter().any(|a| a["default"].as_bool() == Some(true)),
        "{text}"
    );
    let group = &v["target_groups"][0];
    assert_eq!(group["proxy_protocol_v2"].as_bool(), Some(true));
    assert_eq!(group["targets"][0]["instance"].as_str(), Some(srv.as_str()));
    assert_eq!(group["targets"][0]["port"].as_integer(), Some(8080));
    // And the path works: the instance reaches the target through the endpoint.
    let o = vpcectl(&[
        "trace",
        cfg.to_str().unwrap(),
        "--from",
        &inst,
        "--to",
        &pep,
        "--port",
        "80",
    ]);
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{shown}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(shown.contains("10.0.1.20"), "{shown}");
    // Every address gets moto's target.
    for a in [
        "8.8.8.8",
        "10.0.1.5",
        "10.0.200.1",
        "52.216.1.1",
        "54.231.7.7",
        "3.5.1.1",
    ] {
        let addr: IpAddr = a.parse().unwrap();
        let want = moto_target(&export, &rt, addr);
        let o = vpcectl(&[
            "lookup",
            cfg.to_str().unwrap(),
            "--route-table",
            &rt,
            a,
            "-o",
            "json",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let got = v["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["won"] == true)
            .map(|c| c["target"].as_str().unwrap().to_string())
            .unwrap_or_else(|| "none".into());
        assert_eq!(got, want, "{a}: {v:#}");
    }
    // A malformed file is an error naming it; a missing one is fine.
    std::fs::write(
        export.join("ec2-describe-subnets.json"),
        "{ \"Subnets\": [ {",
    )
    .unwrap();
    let o = vpcectl(&["import", "aws", export.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ec2-describe-subnets.json"));
    std::fs::write(
        export.join("ec2-describe-subnets.json"),
        "{ \"Subnets\": [ {\"SubnetId\": 7} ] }",
    )
    .unwrap();
    let o = vpcectl(&["import", "aws", export.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Subnets[0]"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The trace of `from -> to` as JSON, and its exit code.
fn trace_json(cfg: &Path, from: &str, to: &str, port: &str) -> (Option<i32>, Value) {
    let o = vpcectl(&[
        "trace",
        cfg.to_str().unwrap(),
        "--from",
        from,
        "--to",
        to,
        "--port",
        port,
        "-o",
        "json",
    ]);
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code(), v)
}

/// The load-balancer half in the AWS CLI's own shape (moto has no GWLB nodes or endpoint
/// interfaces): `tests/fixtures/aws-export-gwlb` is seed 001 (`examples/gwlb-inspection.toml`)
/// as `export-aws.sh` saves it from a real account, with an application load balancer and
/// another account's pending endpoint beside it. The import must give the example's paths.
#[test]
fn a_gwlb_inspection_export_imports_and_traces_like_the_example() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("imported.toml");
    let export = root().join("tests/fixtures/aws-export-gwlb");
    let o = vpcectl(&[
        "import",
        "aws",
        export.to_str().unwrap(),
        "-O",
        cfg.to_str().unwrap(),
    ]);
    let warnings = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{warnings}");
    // What has no model is named, with why.
    for w in [
        "load balancer arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/web-alb/1a2b3c4d5e6f7a8b (web-alb): type application is not modelled",
        "target group arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web-http/0a1b2c3d4e5f6a7b (web-http): protocol HTTP",
        "connection of endpoint vpce-0d000000000000009 (pendingAcceptance) is left out",
    ] {
        assert!(warnings.contains(w), "{w}:\n{warnings}");
    }
    assert_eq!(warnings.lines().count(), 3, "{warnings}");

    let text = std::fs::read_to_string(&cfg).unwrap();
    let v: toml::Table = text.parse().unwrap();
    // The subnets' zone ids, for flow logs' az-id.
    assert_eq!(
        v["availability_zone_ids"]["us-east-1a"].as_str(),
        Some("use1-az1")
    );
    let gwlb = &v["load_balancers"][0];
    assert_eq!(gwlb["type"].as_str(), Some("gateway"));
    // The node's address from its `ELB gwy/…` interface, which is not an ENI of its own.
    assert_eq!(
        gwlb["subnet_mappings"][0]["private_ip"].as_str(),
        Some("10.100.0.50")
    );
    assert!(!text.contains("eni-0c000000000000050"), "{text}");
    let tg = &v["target_groups"][0];
    assert_eq!(tg["protocol"].as_str(), Some("GENEVE"));
    assert_eq!(tg["stickiness"].as_str(), Some("3-tuple"));
    assert_eq!(tg["failover"]["on_unhealthy"].as_str(), Some("rebalance"));
    assert_eq!(tg["health_check"]["port"].as_integer(), Some(80));
    assert_eq!(tg["targets"].as_array().unwrap().len(), 2);
    let svc = &v["endpoint_services"][0];
    assert_eq!(svc["acceptance_required"].as_bool(), Some(false));
    assert_eq!(
        svc["connections"][0]["endpoint"].as_str(),
        Some("vpce-0c000000000000001")
    );
    let ep = &v["endpoints"][0];
    assert_eq!(ep["type"].as_str(), Some("gateway_load_balancer"));
    assert_eq!(
        ep["network_interfaces"][0]["private_ip"].as_str(),
        Some("10.0.0.10")
    );

    // The paths of the example, both ways through one appliance.
    let example = example("gwlb-inspection.toml");
    for (from, to, port) in [
        ("internet", "i-0c00000000000000c", "80"),
        ("i-0c00000000000000c", "8.8.8.8", "443"),
        ("internet", "i-0c00000000000000c", "22"),
    ] {
        let (got_code, got) = trace_json(&cfg, from, to, port);
        let (want_code, want) = trace_json(&example, from, to, port);
        assert_eq!(got_code, want_code, "{from} -> {to}:{port}: {got:#}");
        let comps = |v: &Value, leg: &str| -> Vec<String> {
            v["trace"][leg]["hops"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|h| h["component"].as_str().unwrap().to_string())
                .collect()
        };
        for leg in ["forward", "reply"] {
            assert_eq!(
                comps(&got, leg),
                comps(&want, leg),
                "{from} -> {to}:{port} {leg}"
            );
            // Which appliance differs (3-tuple stickiness here, 5-tuple there); both ways
            // through the same one does not.
            assert_eq!(
                got["trace"][leg]["appliance"].is_string(),
                want["trace"][leg]["appliance"].is_string(),
                "{from} -> {to}:{port} {leg}"
            );
        }
        if got["trace"]["reply"]["appliance"].is_string() {
            assert_eq!(
                got["trace"]["forward"]["appliance"],
                got["trace"]["reply"]["appliance"]
            );
        }
        assert_eq!(
            got["trace"]["forward"]["blocked"]["code"],
            want["trace"]["forward"]["blocked"]["code"]
        );
    }

    // A state AWS does not have is an error naming the file and where.
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    for f in std::fs::read_dir(&export).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, bad.join(f.file_name().unwrap())).unwrap();
    }
    let conns = bad.join("ec2-describe-vpc-endpoint-connections.json");
    let text = std::fs::read_to_string(&conns)
        .unwrap()
        .replace("pendingAcceptance", "sleeping");
    std::fs::write(&conns, text).unwrap();
    let o = vpcectl(&["import", "aws", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("ec2-describe-vpc-endpoint-connections.json")
            && e.contains("VpcEndpointConnections[1].VpcEndpointState")
            && e.contains("sleeping"),
        "{e}"
    );
}

/// Issue 22's resources from moto: a transit gateway with two VPC attachments (one in
/// appliance mode), a route table with an association, a propagation and a blackhole route;
/// a VPN connection to it (moto cannot add the connection's static route: it is written into
/// the export as AWS returns it); an inbound and an outbound Resolver endpoint, a forward rule
/// associated with a VPC; a private hosted zone with a record. Imported, valid, and traced.
#[test]
fn a_moto_hub_imports_transit_gateways_vpn_and_route_53() {
    if !(have("moto_server") && have("aws")) {
        eprintln!("SKIPPED: moto_server and the AWS CLI are not installed (scripts/setup.sh installs them)");
        return;
    }
    let (_moto, endpoint) = start_moto();
    let e = endpoint.as_str();
    let w = |cmd: &str| aws(e, &cmd.split_whitespace().collect::<Vec<_>>());
    let spoke = w("ec2 create-vpc --cidr-block 10.1.0.0/16 --query Vpc.VpcId");
    let shared = w("ec2 create-vpc --cidr-block 10.100.0.0/16 --query Vpc.VpcId");
    let s1 = w(&format!("ec2 create-subnet --vpc-id {spoke} --cidr-block 10.1.1.0/24 --availability-zone us-east-1a --query Subnet.SubnetId"));
    let s2 = w(&format!("ec2 create-subnet --vpc-id {shared} --cidr-block 10.100.1.0/24 --availability-zone us-east-1a --query Subnet.SubnetId"));
    let tgw = w("ec2 create-transit-gateway --options DefaultRouteTableAssociation=disable,DefaultRouteTablePropagation=disable --query TransitGateway.TransitGatewayId");
    let a1 = w(&format!("ec2 create-transit-gateway-vpc-attachment --transit-gateway-id {tgw} --vpc-id {spoke} --subnet-ids {s1} --query TransitGatewayVpcAttachment.TransitGatewayAttachmentId"));
    let a2 = w(&format!("ec2 create-transit-gateway-vpc-attachment --transit-gateway-id {tgw} --vpc-id {shared} --subnet-ids {s2} --options ApplianceModeSupport=enable --query TransitGatewayVpcAttachment.TransitGatewayAttachmentId"));
    let rt = w(&format!("ec2 create-transit-gateway-route-table --transit-gateway-id {tgw} --query TransitGatewayRouteTable.TransitGatewayRouteTableId"));
    for a in [&a1, &a2] {
        w(&format!("ec2 associate-transit-gateway-route-table --transit-gateway-route-table-id {rt} --transit-gateway-attachment-id {a}"));
        w(&format!("ec2 enable-transit-gateway-route-table-propagation --transit-gateway-route-table-id {rt} --transit-gateway-attachment-id {a}"));
    }
    w(&format!("ec2 create-transit-gateway-route --transit-gateway-route-table-id {rt} --destination-cidr-block 192.0.2.0/24 --blackhole"));
    for (vpc, dst) in [(&spoke, "10.100.0.0/16"), (&shared, "10.1.0.0/16")] {
        let main = aws(
            e,
            &[
                "ec2",
                "describe-route-tables",
                "--filters",
                &format!("Name=vpc-id,Values={vpc}"),
                "--query",
                "RouteTables[0].RouteTableId",
            ],
        );
        w(&format!("ec2 create-route --route-table-id {main} --destination-cidr-block {dst} --transit-gateway-id {tgw}"));
    }
    let cgw = w("ec2 create-customer-gateway --type ipsec.1 --public-ip 198.51.100.1 --bgp-asn 65000 --query CustomerGateway.CustomerGatewayId");
    let vpn = w(&format!("ec2 create-vpn-connection --type ipsec.1 --customer-gateway-id {cgw} --transit-gateway-id {tgw} --options StaticRoutesOnly=true --query VpnConnection.VpnConnectionId"));
    let sg = w(&format!("ec2 create-security-group --group-name dns --description dns --vpc-id {shared} --query GroupId"));
    w(&format!("ec2 authorize-security-group-ingress --group-id {sg} --protocol udp --port 53 --cidr 10.0.0.0/8"));
    let ami = aws(
        e,
        &["ec2", "describe-images", "--query", "Images[0].ImageId"],
    );
    w(&format!("ec2 run-instances --image-id {ami} --subnet-id {s1} --count 1 --instance-type t3.micro --private-ip-address 10.1.1.10 --query Instances[0].InstanceId"));
    let inbound = w(&format!("route53resolver create-resolver-endpoint --creator-request-id in --security-group-ids {sg} --direction INBOUND --ip-addresses SubnetId={s2},Ip=10.100.1.53 SubnetId={s2},Ip=10.100.1.54 --query ResolverEndpoint.Id"));
    let outbound = w(&format!("route53resolver create-resolver-endpoint --creator-request-id out --security-group-ids {sg} --direction OUTBOUND --ip-addresses SubnetId={s2},Ip=10.100.1.60 SubnetId={s2},Ip=10.100.1.61 --query ResolverEndpoint.Id"));
    let rule = w(&format!("route53resolver create-resolver-rule --creator-request-id rr --rule-type FORWARD --domain-name corp.example --resolver-endpoint-id {outbound} --target-ips Ip=192.168.10.53,Port=53 --query ResolverRule.Id"));
    w(&format!(
        "route53resolver associate-resolver-rule --resolver-rule-id {rule} --vpc-id {spoke}"
    ));
    let zone = w(&format!("route53 create-hosted-zone --name example.internal --caller-reference z1 --vpc VPCRegion=us-east-1,VPCId={spoke} --hosted-zone-config PrivateZone=true --query HostedZone.Id"));
    let batch = r#"{"Changes":[{"Action":"CREATE","ResourceRecordSet":{"Name":"db.example.internal","Type":"A","TTL":300,"ResourceRecords":[{"Value":"10.100.1.9"}]}}]}"#;
    aws(
        e,
        &[
            "route53",
            "change-resource-record-sets",
            "--hosted-zone-id",
            &zone,
            "--change-batch",
            batch,
        ],
    );

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    export(e, &out);
    // The VPN connection's static route, as AWS lists it (moto cannot create one).
    let file = out.join("ec2-describe-vpn-connections.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    for c in v["VpnConnections"].as_array_mut().unwrap() {
        c["Routes"] = serde_json::json!([{ "DestinationCidrBlock": "192.168.0.0/16", "Source": "Static", "State": "available" }]);
    }
    std::fs::write(&file, v.to_string()).unwrap();
    // moto answers list-resolver-endpoints with an error once an outbound endpoint exists:
    // the endpoints as AWS lists them.
    let eps = out.join("route53resolver-list-resolver-endpoints.json");
    if !eps.exists() {
        let ep = |id: &str, dir: &str| serde_json::json!({"Id": id, "Direction": dir, "HostVPCId": shared, "SecurityGroupIds": [sg], "IpAddressCount": 2, "Status": "OPERATIONAL"});
        let list = serde_json::json!({"ResolverEndpoints": [ep(&inbound, "INBOUND"), ep(&outbound, "OUTBOUND")]});
        std::fs::write(&eps, list.to_string()).unwrap();
        for (id, ips) in [
            (&inbound, ["10.100.1.53", "10.100.1.54"]),
            (&outbound, ["10.100.1.60", "10.100.1.61"]),
        ] {
            let file = out.join(format!(
                "route53resolver-list-resolver-endpoint-ip-addresses-{id}.json"
            ));
            if !file.exists() {
                let a: Vec<Value> = ips
                    .iter()
                    .map(|ip| serde_json::json!({"SubnetId": s2, "Ip": ip, "Status": "ATTACHED"}))
                    .collect();
                std::fs::write(&file, serde_json::json!({"IpAddresses": a}).to_string()).unwrap();
            }
        }
    }
    direct_connect_export(&out, &tgw, &rt);
    let cfg = dir.path().join("imported.toml");
    let o = vpcectl(&[
        "import",
        "aws",
        out.to_str().unwrap(),
        "-O",
        cfg.to_str().unwrap(),
    ]);
    let warnings = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{warnings}");
    let o = vpcectl(&["validate", cfg.to_str().unwrap()]);
    assert!(warnings.contains("dxvif-ffabc123"), "{warnings}");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        o.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&o.stderr)
    );
    let c: toml::Table = text.parse().unwrap();
    let atts = c["transit_gateway_attachments"].as_array().unwrap();
    let shared_att = atts.iter().find(|a| a["id"].as_str() == Some(&a2)).unwrap();
    assert_eq!(shared_att["appliance_mode"].as_bool(), Some(true), "{text}");
    // moto associates every attachment with the transit gateway's default table first (AWS
    // would refuse the second association): the import keeps what the export says.
    let tables: Vec<&str> = c["transit_gateway_route_tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert!(
        tables.contains(&shared_att["association"].as_str().unwrap_or("-")),
        "{text}"
    );
    assert!(
        atts.iter().any(
            |a| a["type"].as_str() == Some("vpn") && a["vpn_connection"].as_str() == Some(&vpn)
        ),
        "{text}"
    );
    let table = c["transit_gateway_route_tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"].as_str() == Some(&rt))
        .unwrap();
    assert_eq!(
        table["routes"][0]["target"].as_str(),
        Some("blackhole"),
        "{text}"
    );
    assert_eq!(
        c["on_premises"][0]["cidrs"][0].as_str(),
        Some("192.168.0.0/16")
    );
    assert_eq!(
        c["on_premises"][0]["customer_gateway"].as_str(),
        Some(cgw.as_str())
    );
    let eps = c["resolver_endpoints"].as_array().unwrap();
    assert!(eps
        .iter()
        .any(|x| x["id"].as_str() == Some(&inbound) && x["direction"].as_str() == Some("inbound")));
    let r = &c["resolver_rules"][0];
    assert_eq!(
        (r["domain"].as_str(), r["vpcs"][0].as_str()),
        (Some("corp.example"), Some(spoke.as_str()))
    );
    let z = &c["hosted_zones"][0];
    assert_eq!(z["vpcs"][0].as_str(), Some(spoke.as_str()), "{text}");
    let dx = &c["direct_connect_gateways"][0];
    assert_eq!(dx["id"].as_str(), Some(DXGW), "{text}");
    assert_eq!(
        dx["associations"][0]["gateway"].as_str(),
        Some(tgw.as_str())
    );
    assert_eq!(
        dx["associations"][0]["allowed_prefixes"][0].as_str(),
        Some("10.100.0.0/16")
    );
    assert!(
        atts.iter()
            .any(|a| a["type"].as_str() == Some("direct_connect_gateway")
                && a["direct_connect_gateway"].as_str() == Some(DXGW)
                && a["association"].as_str() == Some(rt.as_str())),
        "{text}"
    );
    assert!(text.contains("10.100.1.9"), "{text}");
    // The spoke reaches the shared VPC through the transit gateway (the resolver endpoint's
    // address: a DNS question the VPC's resolver answers).
    let o = vpcectl(&[
        "trace",
        cfg.to_str().unwrap(),
        "--from",
        "10.1.1.10",
        "--to",
        "10.100.1.53",
        "--protocol",
        "udp",
        "--port",
        "53",
        "-o",
        "json",
    ]);
    let t: Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    let hops: Vec<&str> = t["trace"]["forward"]["hops"]
        .as_array()
        .map(|h| h.iter().filter_map(|x| x["component"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        hops.contains(&"transit_gateway_route_table"),
        "{t:#}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
