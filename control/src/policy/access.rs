//! A request through a VPC endpoint, judged as AWS judges it: the endpoint's policy (AWS's
//! default, full access, when it has none), then — for an S3 object or bucket the
//! configuration lists — the bucket's policy, with `aws:SourceVpce` and `aws:SourceVpc` set
//! by the endpoint and `aws:VpcSourceIp` by the caller's private address (AWS sets no
//! `aws:SourceIp` on requests through a VPC endpoint).
//!
//! Both must allow: an explicit deny in either decides, and an endpoint policy that allows
//! nothing denies. A bucket policy that neither allows nor denies leaves the decision to the
//! principal's own IAM policies, which vpce does not model: reported as `undecided`.

use std::net::IpAddr;

use serde::Serialize;

use super::{Decision, Policy, Request};
use crate::model::{Config, Endpoint};

/// One policy's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Judged {
    /// `endpoint_policy` or `bucket_policy`.
    pub policy: &'static str,
    /// The endpoint's id or the bucket's name.
    pub id: String,
    /// `allowed`, `explicit_deny` or `implicit_deny`.
    pub decision: &'static str,
    /// The deciding statement's index, if one decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<usize>,
    /// A sentence: which statement allowed or denied, or that none applied.
    pub explanation: String,
}

/// The whole answer.
#[derive(Debug, Clone, Serialize)]
pub struct Access {
    /// `allowed`, `denied` or `undecided` (the bucket policy neither allows nor denies).
    pub outcome: &'static str,
    pub policies: Vec<Judged>,
}

impl Access {
    pub fn allowed(&self) -> bool {
        self.outcome == "allowed"
    }
}

/// What the caller asks.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub principal: &'a str,
    pub action: &'a str,
    pub resource: &'a str,
    pub source_ip: Option<IpAddr>,
    pub org_id: Option<&'a str>,
}

/// Judges `ask` through endpoint `e` — or, with none, as a request that reaches the service
/// some other way (no endpoint policy, no `aws:SourceVpce`); `Err` names a policy that does
/// not parse.
pub fn check(config: &Config, e: Option<&Endpoint>, ask: &Ask<'_>) -> Result<Access, String> {
    let mut req = Request {
        principal: ask.principal.to_string(),
        action: ask.action.to_string(),
        resource: ask.resource.to_string(),
        context: Vec::new(),
    }
    .with("aws:PrincipalArn", &[ask.principal]);
    if let Some(e) = e {
        req = req
            .with("aws:SourceVpce", &[&e.id])
            .with("aws:SourceVpc", &[&e.vpc]);
    }
    let account = req.account().to_string();
    req = req.with("aws:PrincipalAccount", &[&account]);
    if let Some(ip) = ask.source_ip {
        req = req.with("aws:VpcSourceIp", &[&ip.to_string()]);
    }
    if let Some(org) = ask.org_id {
        req = req.with("aws:PrincipalOrgID", &[org]);
    }
    let mut policies = Vec::new();
    if let Some(e) = e {
        let endpoint_policy = match &e.policy {
            Some(text) => Policy::parse_resource_policy(text)
                .map_err(|err| format!("{}'s endpoint policy: {err}", e.id))?,
            None => Policy::full_access(),
        };
        policies.push(judge(
            "endpoint_policy",
            &e.id,
            &endpoint_policy,
            &req,
            e.policy.is_none(),
        ));
    }
    if let Some(b) =
        bucket_of(ask.resource).and_then(|n| config.s3_buckets.iter().find(|b| b.name == n))
    {
        if let Some(text) = &b.policy {
            let p = Policy::parse_resource_policy(text)
                .map_err(|err| format!("bucket {}'s policy: {err}", b.name))?;
            policies.push(judge("bucket_policy", &b.name, &p, &req, false));
        }
    }
    let endpoint_denies = policies
        .iter()
        .any(|j| j.policy == "endpoint_policy" && j.decision != "allowed");
    let outcome = if endpoint_denies || policies.iter().any(|j| j.decision == "explicit_deny") {
        "denied"
    } else if policies.iter().all(|j| j.decision == "allowed") {
        "allowed"
    } else {
        "undecided"
    };
    Ok(Access { outcome, policies })
}

fn judge(kind: &'static str, id: &str, p: &Policy, req: &Request, default: bool) -> Judged {
    let d: Decision = p.evaluate(req);
    let mut explanation = p.explain(&d);
    if default {
        explanation = "no endpoint policy: AWS's default policy (full access) allows it".into();
    }
    if kind == "bucket_policy" && d == Decision::ImplicitlyDenied {
        explanation.push_str("; the principal's own IAM policies then decide (not modelled): a principal of another account is denied");
    }
    Judged {
        policy: kind,
        id: id.to_string(),
        decision: d.as_str(),
        statement: d.statement(),
        explanation,
    }
}

/// The bucket an S3 ARN names (`arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`).
pub fn bucket_of(resource: &str) -> Option<&str> {
    let rest = resource.strip_prefix("arn:aws:s3:::")?;
    Some(rest.split('/').next().unwrap_or(rest)).filter(|b| !b.is_empty())
}
