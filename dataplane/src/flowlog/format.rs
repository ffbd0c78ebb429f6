//! Flow-log formats: AWS's custom format strings (`${version} ${srcaddr} …`, the fields in
//! the order given, space-separated) over every field of versions 2 to 5 this dataplane can
//! fill, and the default that [`super::HEADER`] names.
//!
//! A field vpced has no value for is written `-`, as AWS writes a field that does not apply:
//! `account-id` (no accounts in the model), the sublocation fields (no Wavelength or Outposts),
//! `az-id` when the deployment gives no `availability_zone_ids`, `pkt-*-aws-service` for an
//! address outside every AWS range the configuration names ([`super::Services`]).

use std::fmt::Write as _;

/// Every field a format may name, in AWS's order.
pub const FIELDS: &[&str] = &[
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
];

/// A format: which fields, in which order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    fields: Vec<usize>,
}

/// A format string vpced cannot write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("`{0}` is not a field (a format is `${{field}}` tokens separated by spaces)")]
    NotAField(String),
    #[error("unknown field `{0}`; vpced knows: {known}", known = FIELDS.join(" "))]
    Unknown(String),
    #[error("the format names no field")]
    Empty,
}

impl Format {
    /// AWS's format syntax: `${field}` tokens separated by spaces.
    pub fn parse(s: &str) -> Result<Format, FormatError> {
        let mut fields = Vec::new();
        for token in s.split_whitespace() {
            let name = token
                .strip_prefix("${")
                .and_then(|t| t.strip_suffix('}'))
                .ok_or_else(|| FormatError::NotAField(token.to_string()))?;
            let i = FIELDS
                .iter()
                .position(|f| *f == name)
                .ok_or_else(|| FormatError::Unknown(name.to_string()))?;
            fields.push(i);
        }
        if fields.is_empty() {
            return Err(FormatError::Empty);
        }
        Ok(Format { fields })
    }

    /// The default: the version 2 fields, then `pkt-srcaddr pkt-dstaddr flow-direction
    /// traffic-path` ([`super::HEADER`]).
    pub fn default_v5() -> Format {
        Format::parse(
            &super::HEADER
                .split(' ')
                .map(|f| format!("${{{f}}}"))
                .collect::<Vec<_>>()
                .join(" "),
        )
        .expect("the default names known fields")
    }

    /// The header line: the field names, in order.
    pub fn header(&self) -> String {
        let names: Vec<&str> = self.fields.iter().map(|&i| FIELDS[i]).collect();
        names.join(" ")
    }

    /// Appends one record as a line.
    pub fn write(&self, out: &mut String, r: &Record<'_>) {
        for (k, &i) in self.fields.iter().enumerate() {
            if k > 0 {
                out.push(' ');
            }
            r.field(out, FIELDS[i]);
        }
        out.push('\n');
    }
}

/// The values of one record; `None` is written `-`.
#[derive(Debug, Default, Clone)]
pub struct Record<'a> {
    pub interface_id: Option<&'a str>,
    pub srcaddr: Option<std::net::IpAddr>,
    pub dstaddr: Option<std::net::IpAddr>,
    pub srcport: Option<u16>,
    pub dstport: Option<u16>,
    pub protocol: Option<u8>,
    pub packets: Option<u64>,
    pub bytes: Option<u64>,
    pub start: u64,
    pub end: u64,
    /// `ACCEPT`, `REJECT`; `None` for a SKIPDATA record.
    pub action: Option<&'static str>,
    /// `OK`, `SKIPDATA`.
    pub log_status: &'static str,
    pub vpc_id: Option<&'a str>,
    pub subnet_id: Option<&'a str>,
    pub instance_id: Option<&'a str>,
    /// AWS's `tcp-flags`: the flags seen in the interval, OR-ed (0 when none, and for other
    /// protocols).
    pub tcp_flags: Option<u8>,
    pub pkt_srcaddr: Option<std::net::IpAddr>,
    pub pkt_dstaddr: Option<std::net::IpAddr>,
    pub region: Option<&'a str>,
    pub az_id: Option<&'a str>,
    pub pkt_src_aws_service: Option<&'a str>,
    pub pkt_dst_aws_service: Option<&'a str>,
    pub flow_direction: Option<&'static str>,
    pub traffic_path: Option<u8>,
}

fn put(out: &mut String, v: Option<impl std::fmt::Display>) {
    match v {
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.push('-'),
    }
}

impl Record<'_> {
    fn field(&self, out: &mut String, name: &str) {
        match name {
            "version" => out.push('5'),
            "interface-id" => put(out, self.interface_id),
            "srcaddr" => put(out, self.srcaddr),
            "dstaddr" => put(out, self.dstaddr),
            "srcport" => put(out, self.srcport),
            "dstport" => put(out, self.dstport),
            "protocol" => put(out, self.protocol),
            "packets" => put(out, self.packets),
            "bytes" => put(out, self.bytes),
            "start" => put(out, Some(self.start)),
            "end" => put(out, Some(self.end)),
            "action" => put(out, self.action),
            "log-status" => out.push_str(self.log_status),
            "vpc-id" => put(out, self.vpc_id),
            "subnet-id" => put(out, self.subnet_id),
            "instance-id" => put(out, self.instance_id),
            "tcp-flags" => put(out, self.tcp_flags),
            "type" => put(
                out,
                self.pkt_srcaddr
                    .map(|a| if a.is_ipv4() { "IPv4" } else { "IPv6" }),
            ),
            "pkt-srcaddr" => put(out, self.pkt_srcaddr),
            "pkt-dstaddr" => put(out, self.pkt_dstaddr),
            "region" => put(out, self.region),
            "az-id" => put(out, self.az_id),
            "pkt-src-aws-service" => put(out, self.pkt_src_aws_service),
            "pkt-dst-aws-service" => put(out, self.pkt_dst_aws_service),
            "flow-direction" => put(out, self.flow_direction),
            "traffic-path" => put(out, self.traffic_path),
            // account-id, sublocation-*: see the module documentation.
            _ => out.push('-'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_custom_format_writes_its_fields_in_its_order() {
        let f =
            Format::parse("${instance-id} ${vpc-id}  ${srcaddr} ${type} ${region} ${tcp-flags}")
                .unwrap();
        assert_eq!(
            f.header(),
            "instance-id vpc-id srcaddr type region tcp-flags"
        );
        let r = Record {
            instance_id: Some("i-1"),
            vpc_id: Some("vpc-1"),
            srcaddr: Some("10.0.0.1".parse().unwrap()),
            pkt_srcaddr: Some("2001:db8::1".parse().unwrap()),
            region: Some("us-east-1"),
            log_status: "OK",
            ..Record::default()
        };
        let mut out = String::new();
        f.write(&mut out, &r);
        assert_eq!(out, "i-1 vpc-1 10.0.0.1 IPv6 us-east-1 -\n");
    }

    #[test]
    fn a_format_with_an_unknown_field_or_no_field_is_refused_by_name() {
        assert_eq!(
            Format::parse("${version} ${vpc_id}"),
            Err(FormatError::Unknown("vpc_id".into()))
        );
        assert!(Format::parse("${version} ${vpc_id}")
            .unwrap_err()
            .to_string()
            .contains("vpc-id"));
        assert_eq!(
            Format::parse("version"),
            Err(FormatError::NotAField("version".into()))
        );
        assert_eq!(Format::parse("  "), Err(FormatError::Empty));
    }

    #[test]
    fn the_default_is_the_header() {
        assert_eq!(Format::default_v5().header(), super::super::HEADER);
    }
}
