//! DNS failover of a Network Load Balancer's name (AWS, "Target group health"): the resolver
//! answers the nodes whose zone has a healthy target it may send to, all of them when none
//! has, and such answers are never cached (they follow health).

mod common;

use dataplane::health::HealthState;
use dataplane::resolver::{answer, Client};
use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RecordType};

/// The addresses the resolver answers for the NLB's name from EC2-A's VPC.
fn ask(f: &dataplane::fabric::Fabric) -> (Vec<String>, bool) {
    let lb = &f.snapshot.config.load_balancers[0];
    let name = control::dns::load_balancer_dns_name(lb, &f.snapshot.config.region);
    let mut m = Message::new();
    m.set_id(7).set_recursion_desired(true);
    m.add_query(hickory_proto::op::Query::query(
        Name::from_ascii(format!("{name}.")).unwrap(),
        RecordType::A,
    ));
    let client = Client {
        vpc_id: "vpc-0a000000000000001",
        addr: "10.0.128.10:5353".parse().unwrap(),
        instance: None,
        tcp: false,
        inbound: false,
        health: Some(f),
    };
    let (bytes, log) = answer(
        &f.snapshot.dns,
        "ap-northeast-1",
        &client,
        &m.to_vec().unwrap(),
        0,
    )
    .unwrap();
    let r = Message::from_vec(&bytes).unwrap();
    let mut ips: Vec<String> = r.answers().iter().map(|a| a.data().to_string()).collect();
    ips.sort();
    (ips, log.unwrap().volatile)
}

#[test]
fn an_nlbs_name_answers_the_zones_with_healthy_targets() {
    // Cross-zone off: EC2-B is in 1c, so the 1a node has no target it may use.
    let f = common::example_fabric("privatelink-hands-on.toml", &[]);
    assert_eq!(ask(&f), (vec!["10.1.144.50".to_string()], true));
    // Cross-zone on: both nodes send to EC2-B.
    let f = common::example_fabric(
        "privatelink-hands-on.toml",
        &[("cross_zone = false", "cross_zone = true")],
    );
    assert_eq!(ask(&f).0, vec!["10.1.128.50", "10.1.144.50"]);
    // EC2-B unhealthy: no zone is healthy, and every node is answered.
    let f = common::example_fabric("privatelink-hands-on.toml", &[]);
    f.target_groups[0].targets[0]
        .health
        .set(HealthState::Unhealthy);
    assert_eq!(ask(&f).0, vec!["10.1.128.50", "10.1.144.50"]);
}

#[test]
fn a_zone_down_leaves_its_nodes_out_of_the_answer() {
    // Cross-zone on, both nodes healthy: both answered — until 1c is down.
    let mut f = common::example_fabric(
        "privatelink-hands-on.toml",
        &[("cross_zone = false", "cross_zone = true")],
    );
    f.set_zones_down(&["ap-northeast-1c".to_string()]);
    assert_eq!(ask(&f), (vec!["10.1.128.50".to_string()], true));
    // Every node's zone down: every node is answered (Route 53 answers all records when
    // every one of them is unhealthy).
    f.set_zones_down(&["ap-northeast-1a".to_string(), "ap-northeast-1c".to_string()]);
    assert_eq!(ask(&f).0, vec!["10.1.128.50", "10.1.144.50"]);
}
