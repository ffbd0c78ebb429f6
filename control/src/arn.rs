//! AWS principals as ARNs and account ids: parsing a policy's or an endpoint service's
//! principal entry, IAM's wildcard match, and whether a principal is among allowed ones.
//! A leaf: the model and the policy engine both use it.

/// One entry of a `Principal`.
#[derive(Debug, Clone, PartialEq)]
pub enum PrincipalRef {
    /// `"*"` or `{"AWS": "*"}`.
    Anyone,
    /// An account: `123456789012` or `arn:aws:iam::123456789012:root`.
    Account(String),
    /// A user's, role's or session's ARN (patterns allowed).
    Arn(String),
    /// `{"Service": "…"}`.
    Service(String),
}

pub fn aws_principal(id: &str) -> Result<PrincipalRef, String> {
    if id == "*" {
        return Ok(PrincipalRef::Anyone);
    }
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(PrincipalRef::Account(id.to_string()));
    }
    if let Some(rest) = id.strip_prefix("arn:aws:iam::") {
        if let Some(acct) = rest.strip_suffix(":root") {
            return Ok(PrincipalRef::Account(acct.to_string()));
        }
        return Ok(PrincipalRef::Arn(id.to_string()));
    }
    if id.starts_with("arn:") {
        return Ok(PrincipalRef::Arn(id.to_string()));
    }
    Err(format!("`{id}` is neither \"*\", an account id nor an ARN"))
}

/// IAM's wildcard match: `*` any run of characters, `?` one character.
pub fn wildcard(pattern: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    let (mut pi, mut si) = (0usize, 0usize);
    let (mut star, mut mark) = (None, 0usize);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// A principal's account: an ARN's fifth field, or the id itself.
pub fn account_of(principal: &str) -> &str {
    match principal.split(':').nth(4) {
        Some(a) if principal.starts_with("arn:") => a,
        _ => principal,
    }
}

/// Whether a principal (an ARN or account id) is one of an endpoint service's allowed
/// principals: `*`, its ARN (patterns allowed), or its account's id or root ARN.
pub fn principal_allowed(allowed: &[String], principal: &str) -> bool {
    allowed.iter().any(|a| match aws_principal(a) {
        Ok(PrincipalRef::Anyone) => true,
        Ok(PrincipalRef::Account(acct)) => account_of(principal) == acct,
        Ok(PrincipalRef::Arn(pattern)) => wildcard(&pattern, principal),
        _ => false,
    })
}
