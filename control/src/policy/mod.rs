//! IAM policy documents — VPC endpoint policies and S3 bucket policies — parsed once, with
//! errors that name the statement and the field, and evaluated as IAM evaluates them.
//!
//! # Evaluation (AWS IAM User Guide, "Policy evaluation logic")
//!
//! Every statement whose principal, action, resource and conditions all match the request
//! applies. An applying `Deny` decides (explicit deny); otherwise an applying `Allow` decides;
//! otherwise the request is implicitly denied. [`Decision`] says which statement decided, so
//! `vpcectl policy check` and `trace --action` can name it.
//!
//! * **Action** (`Action` / `NotAction`): `service:Name` patterns with `*` and `?`, compared
//!   case-insensitively.
//! * **Resource** (`Resource` / `NotResource`): ARN patterns with `*` and `?`, case-sensitive.
//! * **Principal** (`Principal` / `NotPrincipal`): `"*"`, or `{"AWS": …}` with `"*"`, an
//!   account id or its root ARN (any principal of that account), or a principal's ARN;
//!   `{"Service": …}` names a service principal. An endpoint policy without a `Principal`
//!   is an error, as in AWS.
//! * **Condition**: the operators `StringEquals`, `StringNotEquals`, `StringEqualsIgnoreCase`,
//!   `StringNotEqualsIgnoreCase`, `StringLike`, `StringNotLike`, `ArnEquals`, `ArnLike`,
//!   `ArnNotEquals`, `ArnNotLike`, `IpAddress`, `NotIpAddress`, `Bool` and `Null`, each with an
//!   `…IfExists` form and the `ForAnyValue:` / `ForAllValues:` set qualifiers. Keys compare
//!   case-insensitively. Values in one condition are OR-ed, keys and operators AND-ed. A key
//!   absent from the request makes a positive operator false and a negated one (`…Not…`) true
//!   — the reason `"StringNotEquals": {"aws:SourceVpce": "vpce-…"}` in a `Deny` denies every
//!   request that did not come through that endpoint — unless `…IfExists`, which makes it
//!   true; `ForAllValues` over an absent key is true, `ForAnyValue` false.
//!
//! Keys a request carries in vpce ([`Request::context`]): `aws:SourceVpce`, `aws:SourceVpc`,
//! `aws:SourceIp`, `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalOrgID`,
//! `aws:SecureTransport`, and whatever the caller adds.

pub mod access;
mod eval;
mod parse;

pub use crate::arn::{principal_allowed, PrincipalRef};
pub use eval::{Decision, Request};
pub use parse::PolicyError;

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub statements: Vec<Statement>,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// One statement, its matchers parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Position in `Statement` (0-based), for messages.
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    /// `Principal` (or, negated, `NotPrincipal`); `None` when neither is given (identity
    /// policies; an error for the resource policies vpce reads).
    pub principal: Option<Matcher<PrincipalRef>>,
    pub action: Matcher<String>,
    pub resource: Option<Matcher<String>>,
    pub conditions: Vec<Condition>,
}

impl Statement {
    /// `Sid` when it has one, else its position: how messages name it.
    pub fn label(&self) -> String {
        match &self.sid {
            Some(s) => format!("statement {} (Sid {s})", self.index),
            None => format!("statement {}", self.index),
        }
    }
}

/// A list of patterns, or (`negated`) everything but them: `Action`/`NotAction` and so on.
#[derive(Debug, Clone, PartialEq)]
pub struct Matcher<T> {
    pub negated: bool,
    pub items: Vec<T>,
}

/// One operator over one key.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub operator: Operator,
    pub set: SetQualifier,
    pub if_exists: bool,
    /// The context key, lower-cased.
    pub key: String,
    pub values: Vec<String>,
}

/// The condition operators vpce evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    IpAddress,
    NotIpAddress,
    Bool,
    Null,
}

impl Operator {
    /// A negated operator: true when the key is absent.
    pub fn negated(self) -> bool {
        matches!(
            self,
            Operator::StringNotEquals
                | Operator::StringNotEqualsIgnoreCase
                | Operator::StringNotLike
                | Operator::ArnNotEquals
                | Operator::ArnNotLike
                | Operator::NotIpAddress
        )
    }
}

/// `ForAnyValue:` / `ForAllValues:` before an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    None,
    ForAnyValue,
    ForAllValues,
}

impl Policy {
    /// Parses a policy document (JSON text).
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        parse::parse(text)
    }

    /// Parses a resource policy: every statement must name its principal.
    pub fn parse_resource_policy(text: &str) -> Result<Policy, PolicyError> {
        let p = parse::parse(text)?;
        if let Some(s) = p.statements.iter().find(|s| s.principal.is_none()) {
            return Err(PolicyError::at(
                s.index,
                s.sid.clone(),
                "Principal",
                "a resource policy (endpoint or bucket policy) names the principal of every statement (\"Principal\": \"*\" for anyone)",
            ));
        }
        Ok(p)
    }

    /// AWS's default endpoint policy: full access.
    pub fn full_access() -> Policy {
        parse::parse(
            r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}"#,
        )
        .expect("the default policy parses")
    }
}
