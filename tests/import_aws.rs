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
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _moto = Moto(
        Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
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
            "--query",
            "Instances[0].InstanceId",
        ],
    );

    // A load balancer: not mapped yet, so it must be named in a warning, not dropped.
    let lb = aws(
        e,
        &[
            "elbv2",
            "create-load-balancer",
            "--name",
            "nlb-b",
            "--type",
            "network",
            "--scheme",
            "internal",
            "--subnets",
            &sub,
            "--query",
            "LoadBalancers[0].LoadBalancerArn",
        ],
    );

    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
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
    assert!(
        warnings.contains(&format!("load balancer {lb}: not imported yet")),
        "{warnings}"
    );
    // The export's per-resource files are named by the ARN's resource part.
    let part = lb
        .rsplit_once(":loadbalancer/")
        .unwrap()
        .1
        .replace('/', "_");
    assert!(export
        .join(format!("elbv2-describe-listeners-{part}.json"))
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
    for id in [&vpc, &sub, &rt, &igw, &sg, &gwe, &inst] {
        assert!(text.contains(id.as_str()), "{id} missing:\n{text}");
    }
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
