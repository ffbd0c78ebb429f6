//! `trace --action … --resource …`: the API request a traced connection carries, judged
//! where AWS judges it — by the endpoint policy of the VPC endpoint the path crosses, then by
//! the bucket's policy (`control::policy::access`, the same code as `vpcectl policy check`).
//! The hops say which statement allowed or denied; a denial blocks the trace with
//! `ENDPOINT_POLICY_DENIES_REQUEST` or `BUCKET_POLICY_DENIES_REQUEST`.

use control::policy::access::{self, Ask};

use super::{Blocked, Hop, Trace};
use crate::fabric::Fabric;

/// Judges `ask` on `t`'s way there (nothing to judge when it did not get there).
pub fn authorize(f: &Fabric, t: &mut Trace, ask: &Ask<'_>) -> Result<(), String> {
    if t.forward.blocked.is_some() {
        return Ok(());
    }
    let c = &f.snapshot.config;
    let at = t
        .forward
        .hops
        .iter()
        .position(|h| h.component == "vpc_endpoint");
    let endpoint = at.and_then(|i| {
        let id = &t.forward.hops[i].id;
        c.endpoints.iter().find(|e| &e.id == id)
    });
    let a = access::check(c, endpoint, ask)?;
    let hops: Vec<Hop> = a
        .policies
        .iter()
        .map(|j| Hop {
            component: j.policy.to_string(),
            id: j.id.clone(),
            detail: format!(
                "{} on {} by {}: {}",
                ask.action, ask.resource, ask.principal, j.explanation
            ),
        })
        .collect();
    let insert_at = at.map_or(t.forward.hops.len(), |i| i + 1);
    t.forward.hops.splice(insert_at..insert_at, hops);
    if a.outcome == "denied" {
        let j = a
            .policies
            .iter()
            .find(|j| j.decision == "explicit_deny")
            .or_else(|| a.policies.iter().find(|j| j.decision != "allowed"))
            .expect("a denial has a deciding policy");
        let (code, what) = match j.policy {
            "endpoint_policy" => (
                "ENDPOINT_POLICY_DENIES_REQUEST",
                format!("endpoint {}'s policy", j.id),
            ),
            _ => (
                "BUCKET_POLICY_DENIES_REQUEST",
                format!("bucket {}'s policy", j.id),
            ),
        };
        t.forward.blocked = Some(Blocked {
            code: code.into(),
            drop_reason: "-".into(),
            explanation: format!(
                "the connection gets through, but {what} refuses {} on {}: {}",
                ask.action, ask.resource, j.explanation
            ),
        });
        t.reachable = false;
    }
    Ok(())
}
