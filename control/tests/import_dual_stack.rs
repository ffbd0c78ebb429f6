//! `import aws` of a dual-stack PrivateLink deployment (moto exports none of its address
//! types, so the export is written here as AWS's CLI prints it): the endpoint's
//! `IpAddressType` and `DnsOptions.DnsRecordIpType`, its interface's IPv6 address, the
//! service's `SupportedIpAddressTypes`, the NLB's `IpAddressType` and node IPv6 addresses,
//! an IPv6 target group (with unhealthy connection termination off and a draining interval)
//! — and what it writes validates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use control::import::aws::{import_from, Source};
use serde_json::json;

struct Mem(BTreeMap<&'static str, serde_json::Value>);

impl Source for Mem {
    fn text(&self, name: &str) -> Result<Option<String>, std::io::Error> {
        Ok(self.0.get(name).map(|v| v.to_string()))
    }
    fn path(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("mem/{name}.json"))
    }
    fn describe(&self) -> String {
        "memory".into()
    }
}

const LB: &str =
    "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/net/nlb/0123456789abcdef";
const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/tg6/89abcdef01234567";

fn export() -> Mem {
    let mut m = BTreeMap::new();
    m.insert("ec2-describe-vpcs", json!({"Vpcs": [{
        "VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16",
        "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": "2600:1f18:a:a00::/56", "Ipv6CidrBlockState": {"State": "associated"}}]
    }]}));
    m.insert("ec2-describe-subnets", json!({"Subnets": [{
        "SubnetId": "subnet-1", "VpcId": "vpc-1", "AvailabilityZone": "us-east-1a", "CidrBlock": "10.0.1.0/24",
        "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": "2600:1f18:a:a01::/64"}]
    }]}));
    m.insert(
        "ec2-describe-route-tables",
        json!({"RouteTables": [{
            "RouteTableId": "rtb-1", "VpcId": "vpc-1", "Associations": [{"Main": true}],
            "Routes": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local"}]
        }]}),
    );
    m.insert("ec2-describe-network-interfaces", json!({"NetworkInterfaces": [
        {"NetworkInterfaceId": "eni-ep", "SubnetId": "subnet-1", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.1.100",
         "Ipv6Addresses": [{"Ipv6Address": "2600:1f18:a:a01::100"}], "Description": "VPC Endpoint Interface vpce-1"},
        {"NetworkInterfaceId": "eni-lb", "SubnetId": "subnet-1", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.1.50",
         "Ipv6Addresses": [{"Ipv6Address": "2600:1f18:a:a01::50"}], "Description": "ELB net/nlb/0123456789abcdef"}
    ]}));
    m.insert("elbv2-describe-load-balancers", json!({"LoadBalancers": [{
        "LoadBalancerArn": LB, "LoadBalancerName": "nlb", "VpcId": "vpc-1", "Type": "network", "Scheme": "internal",
        "State": {"Code": "active"}, "IpAddressType": "dualstack",
        "DNSName": "nlb-0123456789abcdef.elb.us-east-1.amazonaws.com",
        "AvailabilityZones": [{"ZoneName": "us-east-1a", "SubnetId": "subnet-1", "LoadBalancerAddresses": []}]
    }]}));
    m.insert("elbv2-describe-target-groups", json!({"TargetGroups": [{
        "TargetGroupArn": TG, "TargetGroupName": "tg6", "VpcId": "vpc-1", "Protocol": "TCP", "Port": 80,
        "TargetType": "ip", "IpAddressType": "ipv6", "HealthCheckProtocol": "TCP", "LoadBalancerArns": [LB]
    }]}));
    m.insert("elbv2-describe-target-health-tg6_89abcdef01234567", json!({"TargetHealthDescriptions": [
        {"Target": {"Id": "2600:1f18:a:a01::10", "Port": 80}, "TargetHealth": {"State": "healthy"}}
    ]}));
    m.insert(
        "elbv2-describe-target-group-attributes-tg6_89abcdef01234567",
        json!({"Attributes": [
            {"Key": "target_health_state.unhealthy.connection_termination.enabled", "Value": "false"},
            {"Key": "target_health_state.unhealthy.draining_interval_seconds", "Value": "120"}
        ]}),
    );
    m.insert(
        "elbv2-describe-listeners-net_nlb_0123456789abcdef",
        json!({"Listeners": [{
            "LoadBalancerArn": LB, "Protocol": "TCP", "Port": 80,
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": TG}]
        }]}),
    );
    m.insert(
        "ec2-describe-vpc-endpoint-service-configurations",
        json!({"ServiceConfigurations": [{
            "ServiceId": "vpce-svc-1", "ServiceName": "com.amazonaws.vpce.us-east-1.vpce-svc-1",
            "ServiceType": [{"ServiceType": "Interface"}], "AcceptanceRequired": false,
            "NetworkLoadBalancerArns": [LB], "SupportedIpAddressTypes": ["ipv4", "ipv6"]
        }]}),
    );
    m.insert(
        "ec2-describe-vpc-endpoints",
        json!({"VpcEndpoints": [{
            "VpcEndpointId": "vpce-1", "VpcEndpointType": "Interface", "VpcId": "vpc-1",
            "ServiceName": "com.amazonaws.vpce.us-east-1.vpce-svc-1", "State": "available",
            "NetworkInterfaceIds": ["eni-ep"], "Groups": [], "PrivateDnsEnabled": false,
            "IpAddressType": "dualstack", "DnsOptions": {"DnsRecordIpType": "ipv6"}
        }]}),
    );
    Mem(m)
}

#[test]
fn a_dual_stack_privatelink_export_imports_whole() {
    let out = import_from(&export(), Some("us-east-1")).unwrap();
    let toml = &out.toml;
    for want in [
        "ip_address_type = \"dualstack\"",
        "dns_record_ip_type = \"ipv6\"",
        "ipv6_address = \"2600:1f18:a:a01::100\"",
        "supported_ip_address_types = [\"ipv4\", \"ipv6\"]",
        "ipv6_address = \"2600:1f18:a:a01::50\"",
        "ip_address_type = \"ipv6\"",
        "unhealthy_connection_termination = false",
        "unhealthy_draining_interval = 120",
        "dns_name = \"nlb-0123456789abcdef.elb.us-east-1.amazonaws.com\"",
    ] {
        assert!(
            toml.contains(want),
            "{want} missing:\n{toml}\n{:?}",
            out.warnings
        );
    }
    let loaded = control::load_str("imported.toml", toml.clone(), Path::new(".")).unwrap();
    let report = control::validate(&loaded);
    assert!(!report.has_errors(), "{:?}\n{toml}", report.diagnostics);
    let c = &loaded.config;
    assert_eq!(
        c.endpoints[0].network_interfaces[0].ipv6_address,
        "2600:1f18:a:a01::100".parse().ok()
    );
    assert_eq!(
        c.load_balancers[0].subnet_mappings[0].ipv6_address,
        "2600:1f18:a:a01::50".parse().ok()
    );
}
