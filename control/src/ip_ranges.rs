//! AWS `ip-ranges.json`: where real users get the S3 and DynamoDB prefix lists from.
//!
//! The document (<https://ip-ranges.amazonaws.com/ip-ranges.json>) lists every public AWS range
//! with its `service` and `region`. The same prefix often appears twice, once under `AMAZON`
//! and once under the specific service, so a list for one service filters on that service's
//! name, never on `AMAZON`. Files may be plain JSON or `.xz` compressed (as in `shared/data`).

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::IpRangesError;
use crate::model::AddressFamily;
use crate::net::Cidr;

/// The parts of `ip-ranges.json` vpce uses; unknown fields are ignored (AWS adds them).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IpRanges {
    #[serde(rename = "syncToken")]
    pub sync_token: String,
    #[serde(rename = "createDate")]
    pub create_date: String,
    #[serde(default)]
    pub prefixes: Vec<Ipv4Range>,
    #[serde(default)]
    pub ipv6_prefixes: Vec<Ipv6Range>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ipv4Range {
    pub ip_prefix: String,
    pub region: String,
    pub service: String,
    #[serde(default)]
    pub network_border_group: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ipv6Range {
    pub ipv6_prefix: String,
    pub region: String,
    pub service: String,
    #[serde(default)]
    pub network_border_group: String,
}

impl IpRanges {
    /// Reads a plain or `.xz` file.
    pub fn read(path: &Path) -> Result<IpRanges, IpRangesError> {
        let raw =
            crate::files::read_bounded(path, crate::files::MAX_CONFIG_BYTES).map_err(|e| {
                IpRangesError::Read {
                    path: path.to_path_buf(),
                    source: match e {
                        crate::files::Bounded::Io(e) => e,
                        crate::files::Bounded::TooLarge => std::io::Error::other(format!(
                            "larger than {} MiB",
                            crate::files::MAX_CONFIG_BYTES >> 20
                        )),
                    },
                }
            })?;
        let text = if raw.starts_with(&[0xFD, b'7', b'z', b'X', b'Z', 0]) {
            let mut out = Vec::new();
            lzma_rs::xz_decompress(&mut raw.as_slice(), &mut out).map_err(|e| {
                IpRangesError::Xz {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                }
            })?;
            out
        } else {
            raw
        };
        serde_json::from_slice(&text).map_err(|e| IpRangesError::Json {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
    }

    /// The canonical prefixes of `service` in `region` of one family, sorted and deduplicated.
    /// Service and region match case-insensitively (`s3` finds `S3`).
    pub fn select(
        &self,
        path: &Path,
        service: &str,
        region: &str,
        family: AddressFamily,
    ) -> Result<Vec<Cidr>, IpRangesError> {
        let wanted =
            |s: &str, r: &str| s.eq_ignore_ascii_case(service) && r.eq_ignore_ascii_case(region);
        let raw: Vec<(&str, &str)> = match family {
            AddressFamily::IPv4 => self
                .prefixes
                .iter()
                .filter(|p| wanted(&p.service, &p.region))
                .map(|p| (p.ip_prefix.as_str(), p.service.as_str()))
                .collect(),
            AddressFamily::IPv6 => self
                .ipv6_prefixes
                .iter()
                .filter(|p| wanted(&p.service, &p.region))
                .map(|p| (p.ipv6_prefix.as_str(), p.service.as_str()))
                .collect(),
        };
        let mut set = BTreeSet::new();
        for (prefix, svc) in raw {
            let cidr: Cidr = prefix.parse().map_err(|_| IpRangesError::BadPrefix {
                path: path.to_path_buf(),
                prefix: prefix.to_string(),
                service: svc.to_string(),
            })?;
            set.insert(cidr);
        }
        Ok(set.into_iter().collect())
    }

    /// A copy holding only the entries of `service` in `region` (both families): the filtered
    /// data a project keeps beside its examples, in the same shape AWS publishes.
    pub fn filtered(&self, service: &str, region: &str) -> IpRanges {
        let wanted =
            |s: &str, r: &str| s.eq_ignore_ascii_case(service) && r.eq_ignore_ascii_case(region);
        IpRanges {
            sync_token: self.sync_token.clone(),
            create_date: self.create_date.clone(),
            prefixes: self
                .prefixes
                .iter()
                .filter(|p| wanted(&p.service, &p.region))
                .cloned()
                .collect(),
            ipv6_prefixes: self
                .ipv6_prefixes
                .iter()
                .filter(|p| wanted(&p.service, &p.region))
                .cloned()
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"syncToken":"1","createDate":"2026-08-22-15-17-05","prefixes":[
        {"ip_prefix":"52.216.0.0/15","region":"us-east-1","service":"AMAZON","network_border_group":"us-east-1"},
        {"ip_prefix":"52.216.0.0/15","region":"us-east-1","service":"S3","network_border_group":"us-east-1"},
        {"ip_prefix":"3.5.0.0/19","region":"us-east-1","service":"S3","network_border_group":"us-east-1"},
        {"ip_prefix":"3.5.0.0/19","region":"us-east-1","service":"S3","network_border_group":"us-east-1"},
        {"ip_prefix":"52.95.0.0/20","region":"eu-west-1","service":"S3","network_border_group":"eu-west-1"}],
        "ipv6_prefixes":[{"ipv6_prefix":"2600:1fa0::/40","region":"us-east-1","service":"S3","network_border_group":"us-east-1"}]}"#;

    #[test]
    fn selects_one_service_in_one_region_deduplicated_and_sorted() {
        let r: IpRanges = serde_json::from_str(DOC).unwrap();
        let p = Path::new("x.json");
        let v4 = r.select(p, "s3", "us-east-1", AddressFamily::IPv4).unwrap();
        let v4: Vec<String> = v4.iter().map(|c| c.to_string()).collect();
        assert_eq!(v4, ["3.5.0.0/19", "52.216.0.0/15"]);
        let v6 = r.select(p, "S3", "us-east-1", AddressFamily::IPv6).unwrap();
        assert_eq!(v6.len(), 1);
        assert!(r
            .select(p, "DYNAMODB", "us-east-1", AddressFamily::IPv4)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn filtered_copy_keeps_the_shape() {
        let r: IpRanges = serde_json::from_str(DOC).unwrap();
        let f = r.filtered("S3", "us-east-1");
        assert_eq!(f.prefixes.len(), 3);
        let back: IpRanges = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
        assert_eq!(back.ipv6_prefixes.len(), 1);
    }
}
