//! `vpcectl policy check`: one request through a VPC endpoint, judged by its endpoint policy
//! and the bucket's policy (`control::policy::access`).

use super::*;
use control::policy::access::{self, Access, Ask};

pub(super) fn cmd_policy(out: &mut impl Write, c: PolicyCommand) -> Result<(), Failure> {
    match c {
        PolicyCommand::Check { file, ask, out: o } => {
            let compiled = load_and_compile(&file)?;
            let a = judge(&compiled.snapshot.config, &ask)
                .map_err(|e| Failure::bad_input(format!("{}: {e}", file.display())))?;
            render::policy_access(out, &a, o.output)?;
            if a.allowed() {
                Ok(())
            } else {
                Err(Failure {
                    code: 3,
                    message: String::new(),
                    json: None,
                })
            }
        }
    }
}

/// `ask` through its endpoint, or why it cannot be asked.
pub(super) fn judge(config: &control::model::Config, ask: &PolicyAsk) -> Result<Access, String> {
    let e = config
        .endpoints
        .iter()
        .find(|e| e.id == ask.endpoint || e.name.as_deref() == Some(ask.endpoint.as_str()))
        .ok_or_else(|| format!("no endpoint `{}`", ask.endpoint))?;
    if !ask.action.contains(':') {
        return Err(format!(
            "--action `{}` is not service:Action (s3:GetObject)",
            ask.action
        ));
    }
    access::check(
        config,
        Some(e),
        &Ask {
            principal: &ask.principal,
            action: &ask.action,
            resource: &ask.resource,
            source_ip: ask.source_ip,
            org_id: ask.org_id.as_deref(),
        },
    )
}
