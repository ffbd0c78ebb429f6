//! IAM policy documents (endpoint policies, bucket policies) and the principals endpoint
//! services allow: each parses, errors naming the statement and field.

use super::*;
use crate::policy::Policy;

impl<'a> Validator<'a> {
    pub(super) fn check_policies(&mut self) {
        let c = self.c;
        for (i, e) in c.endpoints.iter().enumerate() {
            let ent = entity(Collection::Endpoints, &e.id);
            if let Some(text) = &e.policy {
                if e.endpoint_type == EndpointType::GatewayLoadBalancer {
                    self.err(
                        ent.clone(),
                        path![Collection::Endpoints, i, "policy"],
                        "a Gateway Load Balancer endpoint has no endpoint policy (AWS)",
                        None,
                    );
                } else if let Err(err) = Policy::parse_resource_policy(text) {
                    self.err(
                        ent.clone(),
                        path![Collection::Endpoints, i, "policy"],
                        format!("endpoint policy: {err}"),
                        None,
                    );
                }
            }
            let svc = c
                .endpoint_services
                .iter()
                .find(|s| s.service_name(&c.region) == e.service);
            if let Some(s) = svc.filter(|s| {
                e.private_dns_enabled
                    && s.private_dns_name.is_some()
                    && !s.private_dns_name_state.is_verified()
            }) {
                self.warn(ent.clone(), path![Collection::Endpoints, i, "private_dns_enabled"], format!("{}'s private DNS name {} is not verified ({:?}): AWS creates no record for it until the provider verifies the domain", s.id, s.private_dns_name.as_deref().unwrap_or_default(), s.private_dns_name_state), None);
            }
            if let Some(why) = c.connection_refusal(e) {
                self.warn(
                    ent.clone(),
                    path![Collection::Endpoints, i, "principal"],
                    format!("the connection request is rejected: {why}"),
                    None,
                );
            }
            if let Some(p) = &e.principal {
                if !principal_shape(p) {
                    self.err(
                        ent.clone(),
                        path![Collection::Endpoints, i, "principal"],
                        format!("`{p}` is neither an account id (12 digits) nor an ARN"),
                        None,
                    );
                }
            }
        }
        for (i, s) in c.endpoint_services.iter().enumerate() {
            for (k, p) in s.allowed_principals.iter().enumerate() {
                if p != "*" && !principal_shape(p) {
                    self.err(
                        entity(Collection::EndpointServices, &s.id),
                        path![Collection::EndpointServices, i, "allowed_principals", k],
                        format!("`{p}` is neither *, an account id nor an ARN"),
                        None,
                    );
                }
            }
        }
        let mut names = HashSet::new();
        for (i, b) in c.s3_buckets.iter().enumerate() {
            let ent = entity(Collection::S3Buckets, &b.name);
            if !bucket_name(&b.name) {
                self.err(ent.clone(), path![Collection::S3Buckets, i, "name"], format!("`{}` is not an S3 bucket name (3–63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)", b.name), None);
            }
            if !names.insert(&b.name) {
                self.err(
                    ent.clone(),
                    path![Collection::S3Buckets, i, "name"],
                    format!("bucket {} is listed twice", b.name),
                    None,
                );
            }
            if let Some(text) = &b.policy {
                if let Err(err) = Policy::parse_resource_policy(text) {
                    self.err(
                        ent,
                        path![Collection::S3Buckets, i, "policy"],
                        format!("bucket policy: {err}"),
                        None,
                    );
                }
            }
        }
    }
}

fn principal_shape(p: &str) -> bool {
    (p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit())) || p.starts_with("arn:")
}

fn bucket_name(n: &str) -> bool {
    let b = n.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}
