//! `vpcectl prefix-list from-ip-ranges`: a managed prefix list from AWS's ip-ranges.json.

use super::*;

pub(super) fn cmd_from_ip_ranges(
    out: &mut impl Write,
    a: &FromIpRangesArgs,
) -> Result<(), Failure> {
    let (path, service, region, id) = (a.ip_ranges.as_path(), &a.service, &a.region, &a.id);
    let ranges = IpRanges::read(path).map_err(|e| Failure::bad_input(e.to_string()))?;
    match a.format {
        ListFormat::Json => {
            let filtered = ranges.filtered(service, region);
            if filtered.prefixes.is_empty() && filtered.ipv6_prefixes.is_empty() {
                return Err(Failure::bad_input(format!(
                    "{}: no entries for service `{service}` in region `{region}`",
                    path.display()
                )));
            }
            let text = serde_json::to_string_pretty(&filtered).map_err(|e| Failure {
                code: 1,
                message: e.to_string(),
                json: None,
            })?;
            writeln!(out, "{text}")?;
        }
        ListFormat::Toml => {
            let fam = match a.family {
                Family::V4 => AddressFamily::IPv4,
                Family::V6 => AddressFamily::IPv6,
            };
            let cidrs = ranges
                .select(path, service, region, fam)
                .map_err(|e| Failure::bad_input(e.to_string()))?;
            if cidrs.is_empty() {
                return Err(Failure::bad_input(format!(
                    "{}: no {fam:?} entries for service `{service}` in region `{region}`",
                    path.display()
                )));
            }
            let name = a.name.clone().unwrap_or_else(|| {
                format!("com.amazonaws.{region}.{}", service.to_ascii_lowercase())
            });
            if a.out.output == Output::Json {
                let list = serde_json::json!({
                    "id": id,
                    "name": name,
                    "address_family": format!("{fam:?}"),
                    "entries": cidrs.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
                    "source": { "sync_token": ranges.sync_token, "create_date": ranges.create_date },
                });
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                )?;
                return Ok(());
            }
            writeln!(
                out,
                "# {} entries of service {service} in {region} from ip-ranges.json (syncToken {}, createDate {})",
                cidrs.len(),
                ranges.sync_token,
                ranges.create_date
            )?;
            writeln!(out, "[[prefix_lists]]")?;
            writeln!(out, "id = {}", toml_string(id))?;
            writeln!(out, "name = {}", toml_string(&name))?;
            writeln!(out, "address_family = \"{fam:?}\"")?;
            writeln!(out, "entries = [")?;
            for c in cidrs {
                writeln!(out, "  \"{c}\",")?;
            }
            writeln!(out, "]")?;
        }
    }
    Ok(())
}

/// A TOML basic string.
pub(super) fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
