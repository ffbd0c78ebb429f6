//! Evaluating a [`Policy`] against a [`Request`]: which statements apply, and the decision.

use super::parse::parse_net;
use super::{Condition, Effect, Matcher, Operator, Policy, PrincipalRef, SetQualifier, Statement};
use crate::arn::{account_of, wildcard};

/// One request as IAM sees it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The calling principal's ARN (`arn:aws:iam::123456789012:role/app`), or an account id.
    pub principal: String,
    /// `service:Action`, e.g. `s3:GetObject`.
    pub action: String,
    /// The resource's ARN, e.g. `arn:aws:s3:::bucket/key`.
    pub resource: String,
    /// Context keys (any case) and their values.
    pub context: Vec<(String, Vec<String>)>,
}

impl Request {
    /// The request with context key `key` set to `values` (replacing it).
    pub fn with(mut self, key: &str, values: &[&str]) -> Request {
        self.context.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
        self.context.push((
            key.to_string(),
            values.iter().map(|v| v.to_string()).collect(),
        ));
        self
    }

    fn values(&self, key: &str) -> Option<&[String]> {
        if let Some((_, v)) = self
            .context
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            return Some(v);
        }
        None
    }

    /// The principal's account: the ARN's fourth field, or the id itself.
    pub fn account(&self) -> &str {
        account_of(&self.principal)
    }
}

/// What a policy decided, and by which statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// An applying `Allow` (`statement` is its index), and no applying `Deny`.
    Allowed { statement: usize },
    /// An applying `Deny`.
    ExplicitlyDenied { statement: usize },
    /// No statement applies.
    ImplicitlyDenied,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        matches!(self, Decision::Allowed { .. })
    }

    /// `allowed`, `explicit_deny` or `implicit_deny`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Allowed { .. } => "allowed",
            Decision::ExplicitlyDenied { .. } => "explicit_deny",
            Decision::ImplicitlyDenied => "implicit_deny",
        }
    }

    /// The deciding statement's index.
    pub fn statement(&self) -> Option<usize> {
        match *self {
            Decision::Allowed { statement } | Decision::ExplicitlyDenied { statement } => {
                Some(statement)
            }
            Decision::ImplicitlyDenied => None,
        }
    }
}

impl Policy {
    /// Explicit deny, then allow, else implicit deny.
    pub fn evaluate(&self, r: &Request) -> Decision {
        let mut allow = None;
        for s in &self.statements {
            if !applies(s, r) {
                continue;
            }
            match s.effect {
                Effect::Deny => return Decision::ExplicitlyDenied { statement: s.index },
                Effect::Allow => {
                    allow.get_or_insert(s.index);
                }
            }
        }
        match allow {
            Some(statement) => Decision::Allowed { statement },
            None => Decision::ImplicitlyDenied,
        }
    }

    /// A one-line account of `d`: the statement and its effect, or that none applied.
    pub fn explain(&self, d: &Decision) -> String {
        let label = |i: usize| self.statements[i].label();
        match *d {
            Decision::Allowed { statement } => format!("{} allows it", label(statement)),
            Decision::ExplicitlyDenied { statement } => {
                format!("{} denies it (an explicit deny)", label(statement))
            }
            Decision::ImplicitlyDenied => "no statement allows it (an implicit deny)".to_string(),
        }
    }
}

fn applies(s: &Statement, r: &Request) -> bool {
    let principal = match &s.principal {
        Some(m) => matched(m, |p| principal_matches(p, r)),
        None => true,
    };
    let action = matched(&s.action, |a| {
        wildcard(&a.to_ascii_lowercase(), &r.action.to_ascii_lowercase())
    });
    let resource = match &s.resource {
        Some(m) => matched(m, |p| wildcard(p, &r.resource)),
        None => true,
    };
    principal && action && resource && s.conditions.iter().all(|c| condition(c, r))
}

/// Any item matches; for a negated matcher, none does.
fn matched<T>(m: &Matcher<T>, f: impl Fn(&T) -> bool) -> bool {
    m.items.iter().any(f) != m.negated
}

fn principal_matches(p: &PrincipalRef, r: &Request) -> bool {
    match p {
        PrincipalRef::Anyone => true,
        PrincipalRef::Account(a) => r.account() == a,
        PrincipalRef::Arn(pattern) => wildcard(pattern, &r.principal),
        PrincipalRef::Service(s) => r.principal == *s,
    }
}

fn condition(c: &Condition, r: &Request) -> bool {
    let Some(values) = r.values(&c.key) else {
        return match c.operator {
            // Null: true means "the key must be absent".
            Operator::Null => c.values.iter().any(|v| v.eq_ignore_ascii_case("true")),
            _ if c.if_exists => true,
            _ => match c.set {
                SetQualifier::ForAllValues => true,
                SetQualifier::ForAnyValue => false,
                SetQualifier::None => c.operator.negated(),
            },
        };
    };
    if c.operator == Operator::Null {
        return c.values.iter().any(|v| v.eq_ignore_ascii_case("false"));
    }
    // Per request value: some condition value matches it (none, for a negated operator).
    let one = |v: &String| {
        c.values.iter().any(|want| compare(c.operator, want, v)) != c.operator.negated()
    };
    match c.set {
        SetQualifier::ForAllValues => values.iter().all(one),
        SetQualifier::ForAnyValue => values.iter().any(one),
        // A single-valued key: a negated operator holds when no value matches.
        SetQualifier::None if c.operator.negated() => values.iter().all(one),
        SetQualifier::None => values.iter().any(one),
    }
}

fn positive(op: Operator) -> Operator {
    match op {
        Operator::StringNotEquals => Operator::StringEquals,
        Operator::StringNotEqualsIgnoreCase => Operator::StringEqualsIgnoreCase,
        Operator::StringNotLike => Operator::StringLike,
        Operator::ArnNotEquals => Operator::ArnEquals,
        Operator::ArnNotLike => Operator::ArnLike,
        Operator::NotIpAddress => Operator::IpAddress,
        other => other,
    }
}

/// Whether request value `v` matches condition value `want` under `op`'s positive form.
fn compare(op: Operator, want: &str, v: &str) -> bool {
    match positive(op) {
        Operator::StringEquals | Operator::ArnEquals => want == v,
        Operator::StringEqualsIgnoreCase => want.eq_ignore_ascii_case(v),
        Operator::StringLike | Operator::ArnLike => wildcard(want, v),
        Operator::IpAddress => match (parse_net(want), v.parse::<std::net::IpAddr>()) {
            (Some(net), Ok(a)) => net.contains(&a),
            _ => false,
        },
        Operator::Bool => want.eq_ignore_ascii_case(v),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(principal: &str, action: &str, resource: &str) -> Request {
        Request {
            principal: principal.into(),
            action: action.into(),
            resource: resource.into(),
            context: Vec::new(),
        }
    }

    #[test]
    fn wildcards_match_as_iam_does() {
        assert!(wildcard("s3:Get*", "s3:GetObject"));
        assert!(wildcard("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b"));
        assert!(!wildcard("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket"));
        assert!(wildcard("vpce-0?", "vpce-01"));
        assert!(!wildcard("vpce-0?", "vpce-012"));
        assert!(wildcard("*", ""));
        assert!(wildcard("a*b*c", "aXXbYYc"));
        assert!(!wildcard("a*b*c", "aXXbYY"));
    }

    /// AWS's "restrict access to a specific VPC endpoint" bucket policy: the deny applies to
    /// every request not carrying that endpoint, including one with no aws:SourceVpce at all.
    #[test]
    fn the_source_vpce_deny_denies_requests_without_the_key() {
        let p = Policy::parse_resource_policy(
            r#"{"Version": "2012-10-17", "Statement": [
            {"Sid": "Access-to-specific-VPCE-only", "Effect": "Deny", "Principal": "*",
             "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
             "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}},
            {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::b/*"}]}"#,
        )
        .unwrap();
        let r = req(
            "arn:aws:iam::111122223333:role/app",
            "s3:GetObject",
            "arn:aws:s3:::b/k",
        );
        assert_eq!(p.evaluate(&r), Decision::ExplicitlyDenied { statement: 0 });
        let through = r.clone().with("aws:SourceVpce", &["vpce-1a2b3c4d"]);
        assert_eq!(p.evaluate(&through), Decision::Allowed { statement: 1 });
        let other = r.with("aws:sourcevpce", &["vpce-9"]);
        assert_eq!(
            p.evaluate(&other),
            Decision::ExplicitlyDenied { statement: 0 }
        );
        let stranger = req(
            "arn:aws:iam::999999999999:user/x",
            "s3:GetObject",
            "arn:aws:s3:::b/k",
        )
        .with("aws:SourceVpce", &["vpce-1a2b3c4d"]);
        assert_eq!(p.evaluate(&stranger), Decision::ImplicitlyDenied);
    }

    #[test]
    fn operators_sets_and_if_exists() {
        let p = Policy::parse(
            r#"{"Statement": [{"Effect": "Allow", "Principal": "*",
            "NotAction": "s3:Delete*", "Resource": "*", "Condition": {
              "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.1"]},
              "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-1/r-1/ou-*"},
              "StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}}]}"#,
        )
        .unwrap();
        let base = req("arn:aws:iam::1:role/r", "s3:GetObject", "arn:aws:s3:::b/k")
            .with("aws:SourceIp", &["10.1.2.3"])
            .with("aws:PrincipalOrgPaths", &["o-1/r-1/ou-9/", "o-2/"]);
        assert!(p.evaluate(&base).allowed());
        assert!(p
            .evaluate(&base.clone().with("aws:SourceVpc", &["vpc-1"]))
            .allowed());
        assert!(!p
            .evaluate(&base.clone().with("aws:SourceVpc", &["vpc-2"]))
            .allowed());
        assert!(!p
            .evaluate(&base.clone().with("aws:SourceIp", &["172.16.0.1"]))
            .allowed());
        let mut delete = base.clone();
        delete.action = "s3:DeleteObject".into();
        assert_eq!(p.evaluate(&delete), Decision::ImplicitlyDenied);
        let all = Policy::parse(
            r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*",
            "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}}}"#,
        )
        .unwrap();
        let r = req("1", "ec2:RunInstances", "*");
        assert!(all.evaluate(&r).allowed(), "absent key: ForAllValues holds");
        assert!(all
            .evaluate(&r.clone().with("aws:TagKeys", &["a"]))
            .allowed());
        assert!(!all.evaluate(&r.with("aws:TagKeys", &["a", "c"])).allowed());
    }

    #[test]
    fn errors_name_the_statement_and_field() {
        let e = Policy::parse(
            r#"{"Statement": [{"Effect": "Allow", "Action": "*"},
            {"Sid": "Two", "Effect": "Permit", "Action": "*"}]}"#,
        )
        .unwrap_err();
        assert_eq!((e.statement, e.field.as_str()), (Some(1), "Effect"));
        assert!(
            e.to_string().starts_with("statement 1 (Sid Two), Effect:"),
            "{e}"
        );
        let e = Policy::parse(
            r#"{"Statement": {"Effect": "Allow", "Action": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "ten"}}}}"#,
        )
        .unwrap_err();
        assert_eq!(e.field, "Condition.IpAddress.aws:SourceIp");
        let e = Policy::parse(
            r#"{"Statement": {"Effect": "Allow", "Action": "*",
            "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}}}}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("not a condition operator"), "{e}");
        let e =
            Policy::parse_resource_policy(r#"{"Statement": {"Effect": "Allow", "Action": "*"}}"#)
                .unwrap_err();
        assert_eq!(e.field, "Principal");
        assert!(Policy::parse("{").unwrap_err().message.contains("not JSON"));
        let e = Policy::parse(r#"{"Statement": {"Effect": "Allow", "Action": "GetObject"}}"#)
            .unwrap_err();
        assert!(e.message.contains("service:Action"), "{e}");
    }
}
