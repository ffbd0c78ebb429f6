//! Private hosted zones and their records; what a DNS name may be.

use super::*;

impl<'a> Validator<'a> {
    pub(super) fn check_hosted_zones(&mut self) {
        let c = self.c;
        let mut zone_vpc: HashMap<(String, &str), &str> = HashMap::new();
        for (i, z) in c.hosted_zones.iter().enumerate() {
            let ent = entity(Collection::HostedZones, &z.id);
            let base = path![Collection::HostedZones, i];
            let apex = z.name.trim_end_matches('.').to_ascii_lowercase();
            if let Err(e) = check_dns_name(&apex, false) {
                self.err(ent.clone(), base.at("name"), e, None);
            }
            for (k, v) in z.vpcs.iter().enumerate() {
                if self.require(&ent, base.at("vpcs").at(k), v, Collection::Vpcs) {
                    if let Some(prev) = zone_vpc.insert((apex.clone(), v.as_str()), z.id.as_str()) {
                        self.err(
                            ent.clone(),
                            base.at("vpcs").at(k),
                            format!("{v} is already associated with zone {prev} of the same name"),
                            None,
                        );
                    }
                }
            }
            for (k, r) in z.records.iter().enumerate() {
                let rb = base.at("records").at(k);
                let fqdn = if r.name == "@" {
                    apex.clone()
                } else if let Some(abs) = r.name.strip_suffix('.') {
                    abs.to_ascii_lowercase()
                } else {
                    format!("{}.{apex}", r.name.to_ascii_lowercase())
                };
                if let Err(e) = check_dns_name(&fqdn, true) {
                    self.err(ent.clone(), rb.at("name"), e, None);
                } else if fqdn != apex && !fqdn.ends_with(&format!(".{apex}")) {
                    self.err(
                        ent.clone(),
                        rb.at("name"),
                        format!("{fqdn} is outside zone {apex}"),
                        None,
                    );
                }
                match (&r.alias_endpoint, r.values.is_empty()) {
                    (Some(_), false) => self.err(
                        ent.clone(),
                        rb.at("values"),
                        "an alias record has no values",
                        None,
                    ),
                    (None, true) => self.err(
                        ent.clone(),
                        rb.at("values"),
                        "the record has no values",
                        None,
                    ),
                    (Some(ep), true) => {
                        if self.require(&ent, rb.at("alias_endpoint"), ep, Collection::Endpoints)
                            && self.endpoint(ep).unwrap().endpoint_type != EndpointType::Interface
                        {
                            self.err(ent.clone(), rb.at("alias_endpoint"), format!("{ep} is not an interface endpoint; only those have addresses to alias"), None);
                        }
                        if r.record_type == RecordType::CNAME {
                            self.err(
                                ent.clone(),
                                rb.at("type"),
                                "an alias record is of type A (or AAAA)",
                                None,
                            );
                        }
                    }
                    (None, false) => {
                        for (m, val) in r.values.iter().enumerate() {
                            let ok = match r.record_type {
                                RecordType::A => val.parse::<Ipv4Addr>().is_ok(),
                                RecordType::AAAA => val.parse::<std::net::Ipv6Addr>().is_ok(),
                                RecordType::CNAME => {
                                    check_dns_name(val.trim_end_matches('.'), false).is_ok()
                                }
                            };
                            if !ok {
                                self.err(
                                    ent.clone(),
                                    rb.at("values").at(m),
                                    format!("`{val}` is not a valid {:?} value", r.record_type),
                                    None,
                                );
                            }
                        }
                        if r.record_type == RecordType::CNAME && r.values.len() != 1 {
                            self.err(
                                ent.clone(),
                                rb.at("values"),
                                "a CNAME record has exactly one value",
                                None,
                            );
                        }
                    }
                }
            }
        }
    }
}

/// A DNS name: labels of letters, digits and hyphens, 63 bytes each, 253 in all; a leading
/// `*` label when `wildcard` is allowed.
pub fn check_dns_name(name: &str, wildcard: bool) -> Result<(), String> {
    let name = name.trim_end_matches('.');
    if name.is_empty() || name.len() > 253 {
        return Err(format!("`{name}` is not a DNS name (1 to 253 characters)"));
    }
    for (i, label) in name.split('.').enumerate() {
        if label == "*" && i == 0 && wildcard {
            continue;
        }
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "`{name}` is not a DNS name: label `{label}` must be 1 to 63 letters, digits or hyphens{}",
                if wildcard { " (a wildcard `*` only as the leftmost label)" } else { "" }
            ));
        }
    }
    Ok(())
}
