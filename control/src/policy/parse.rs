//! Policy JSON to [`Policy`]: every shape IAM accepts (a statement or a list, a string or a
//! list of strings), and an error naming the statement and field for anything else.

use serde_json::Value;

use super::{Condition, Effect, Matcher, Operator, Policy, PrincipalRef, SetQualifier, Statement};
use crate::arn::aws_principal;

/// What is wrong with a policy document, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{field}: {message}", where_(*.statement, .sid))]
pub struct PolicyError {
    /// The statement's position in `Statement`, when the error is inside one.
    pub statement: Option<usize>,
    pub sid: Option<String>,
    /// The field (`Effect`, `Condition.StringEquals.aws:SourceVpce`, …).
    pub field: String,
    pub message: String,
}

fn where_(statement: Option<usize>, sid: &Option<String>) -> String {
    match (statement, sid) {
        (Some(i), Some(s)) => format!("statement {i} (Sid {s}), "),
        (Some(i), None) => format!("statement {i}, "),
        _ => String::new(),
    }
}

impl PolicyError {
    pub(super) fn at(
        statement: usize,
        sid: Option<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> PolicyError {
        PolicyError {
            statement: Some(statement),
            sid,
            field: field.into(),
            message: message.into(),
        }
    }

    fn document(field: &str, message: impl Into<String>) -> PolicyError {
        PolicyError {
            statement: None,
            sid: None,
            field: field.into(),
            message: message.into(),
        }
    }
}

pub(super) fn parse(text: &str) -> Result<Policy, PolicyError> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        PolicyError::document(
            "document",
            format!("not JSON: {e} (line {}, column {})", e.line(), e.column()),
        )
    })?;
    let Some(obj) = v.as_object() else {
        return Err(PolicyError::document(
            "document",
            "a policy is a JSON object",
        ));
    };
    for k in obj.keys() {
        if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
            return Err(PolicyError::document(
                k,
                "unknown top-level element (Version, Id, Statement)",
            ));
        }
    }
    if let Some(ver) = obj.get("Version") {
        if !matches!(ver.as_str(), Some("2012-10-17" | "2008-10-17")) {
            return Err(PolicyError::document(
                "Version",
                format!("{ver} is not a policy language version (2012-10-17)"),
            ));
        }
    }
    let statements = match obj.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
        Some(o @ Value::Object(_)) => vec![o],
        Some(_) => {
            return Err(PolicyError::document(
                "Statement",
                "a statement or a list of statements",
            ))
        }
        None => return Err(PolicyError::document("Statement", "missing")),
    };
    let statements = statements
        .into_iter()
        .enumerate()
        .map(|(i, s)| statement(i, s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policy { statements })
}

fn statement(index: usize, v: &Value) -> Result<Statement, PolicyError> {
    let Some(o) = v.as_object() else {
        return Err(PolicyError::at(
            index,
            None,
            "Statement",
            "a statement is a JSON object",
        ));
    };
    let sid = o.get("Sid").and_then(Value::as_str).map(str::to_string);
    let err = |field: &str, msg: String| PolicyError::at(index, sid.clone(), field, msg);
    for k in o.keys() {
        if !matches!(
            k.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(err(k, "unknown element of a statement".into()));
        }
    }
    let effect = match o.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(x) => return Err(err("Effect", format!("`{x}` is neither Allow nor Deny"))),
        None => return Err(err("Effect", "missing (Allow or Deny)".into())),
    };
    let pair = |pos: &str, neg: &str| -> Result<Option<(bool, &Value)>, PolicyError> {
        match (o.get(pos), o.get(neg)) {
            (Some(_), Some(_)) => Err(err(pos, format!("{pos} and {neg} together"))),
            (Some(v), None) => Ok(Some((false, v))),
            (None, Some(v)) => Ok(Some((true, v))),
            (None, None) => Ok(None),
        }
    };
    let action = match pair("Action", "NotAction")? {
        Some((negated, v)) => Matcher {
            negated,
            items: strings(v).map_err(|m| err(if negated { "NotAction" } else { "Action" }, m))?,
        },
        None => return Err(err("Action", "missing (Action or NotAction)".into())),
    };
    for a in &action.items {
        if a != "*" && !a.contains(':') {
            return Err(err(
                "Action",
                format!("`{a}` is not service:Action (s3:GetObject)"),
            ));
        }
    }
    let resource = match pair("Resource", "NotResource")? {
        Some((negated, v)) => Some(Matcher {
            negated,
            items: strings(v).map_err(|m| err("Resource", m))?,
        }),
        None => None,
    };
    let principal = match pair("Principal", "NotPrincipal")? {
        Some((negated, v)) => Some(Matcher {
            negated,
            items: principals(v).map_err(|m| err("Principal", m))?,
        }),
        None => None,
    };
    let conditions = match o.get("Condition") {
        Some(c) => conditions(c).map_err(|(f, m)| err(&format!("Condition.{f}"), m))?,
        None => Vec::new(),
    };
    Ok(Statement {
        index,
        sid,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

/// A string or a non-empty list of strings.
fn strings(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                Value::Bool(b) => Ok(b.to_string()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(format!("{other} is not a string")),
            })
            .collect(),
        Value::Bool(b) => Ok(vec![b.to_string()]),
        Value::Number(n) => Ok(vec![n.to_string()]),
        _ => Err("a string or a non-empty list of strings".into()),
    }
}

fn principals(v: &Value) -> Result<Vec<PrincipalRef>, String> {
    if v.as_str() == Some("*") {
        return Ok(vec![PrincipalRef::Anyone]);
    }
    let Some(o) = v.as_object() else {
        return Err(
            "\"*\" or an object such as {\"AWS\": \"arn:aws:iam::123456789012:root\"}".into(),
        );
    };
    let mut out = Vec::new();
    for (kind, ids) in o {
        for id in strings(ids)? {
            out.push(match kind.as_str() {
                "AWS" => aws_principal(&id)?,
                "Service" => PrincipalRef::Service(id),
                "Federated" | "CanonicalUser" => PrincipalRef::Arn(id),
                other => return Err(format!("`{other}` is not a principal type (AWS, Service)")),
            });
        }
    }
    Ok(out)
}

/// `{"Operator": {"key": value(s)}}`; errors carry `Operator.key`.
fn conditions(v: &Value) -> Result<Vec<Condition>, (String, String)> {
    let Some(ops) = v.as_object() else {
        return Err(("".into(), "an object of operators".into()));
    };
    let mut out = Vec::new();
    for (op_name, keys) in ops {
        let (set, rest) = if let Some(r) = op_name.strip_prefix("ForAnyValue:") {
            (SetQualifier::ForAnyValue, r)
        } else if let Some(r) = op_name.strip_prefix("ForAllValues:") {
            (SetQualifier::ForAllValues, r)
        } else {
            (SetQualifier::None, op_name.as_str())
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let Some(operator) = operator(base) else {
            return Err((op_name.clone(), format!("`{op_name}` is not a condition operator vpce evaluates (String…, Arn…, IpAddress, NotIpAddress, Bool, Null)")));
        };
        let Some(keys) = keys.as_object() else {
            return Err((op_name.clone(), "an object of context keys".into()));
        };
        for (key, values) in keys {
            let values = strings(values).map_err(|m| (format!("{op_name}.{key}"), m))?;
            if matches!(operator, Operator::IpAddress | Operator::NotIpAddress) {
                if let Some(bad) = values.iter().find(|x| parse_net(x).is_none()) {
                    return Err((
                        format!("{op_name}.{key}"),
                        format!("`{bad}` is not an IP address or CIDR"),
                    ));
                }
            }
            out.push(Condition {
                operator,
                set,
                if_exists,
                key: key.to_ascii_lowercase(),
                values,
            });
        }
    }
    Ok(out)
}

fn operator(name: &str) -> Option<Operator> {
    Some(match name {
        "StringEquals" => Operator::StringEquals,
        "StringNotEquals" => Operator::StringNotEquals,
        "StringEqualsIgnoreCase" => Operator::StringEqualsIgnoreCase,
        "StringNotEqualsIgnoreCase" => Operator::StringNotEqualsIgnoreCase,
        "StringLike" => Operator::StringLike,
        "StringNotLike" => Operator::StringNotLike,
        "ArnEquals" => Operator::ArnEquals,
        "ArnLike" => Operator::ArnLike,
        "ArnNotEquals" => Operator::ArnNotEquals,
        "ArnNotLike" => Operator::ArnNotLike,
        "IpAddress" => Operator::IpAddress,
        "NotIpAddress" => Operator::NotIpAddress,
        "Bool" => Operator::Bool,
        "Null" => Operator::Null,
        _ => return None,
    })
}

/// An address or CIDR as IAM writes it (`203.0.113.0/24`, `2001:db8::/32`, `10.0.0.1`).
pub(super) fn parse_net(s: &str) -> Option<ipnet::IpNet> {
    s.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}
