//! `vpcectl validate`: every diagnostic of a configuration, as a table or JSON.

use super::*;

pub(super) fn config_error_json(e: &ConfigError) -> serde_json::Value {
    match e {
        ConfigError::Invalid { diagnostics } => {
            let (errors, warnings): (Vec<_>, Vec<_>) = diagnostics
                .iter()
                .partition(|d| d.severity == Severity::Error);
            json!({ "valid": false, "errors": errors, "warnings": warnings })
        }
        ConfigError::Parse {
            location,
            entity,
            message,
        } => json!({
            "valid": false,
            "errors": [{
                "severity": "error",
                "location": location,
                "entity": entity,
                "field": "",
                "message": message,
            }],
            "warnings": [],
        }),
        ConfigError::Read { path, source } => json!({
            "valid": false,
            "errors": [{
                "severity": "error",
                "location": { "file": path, "line": 0, "column": 0 },
                "message": format!("cannot read the configuration: {source}"),
            }],
            "warnings": [],
        }),
        ConfigError::TooLarge { path, .. } => json!({
            "valid": false,
            "errors": [{
                "severity": "error",
                "location": { "file": path, "line": 0, "column": 0 },
                "message": e.to_string(),
            }],
            "warnings": [],
        }),
    }
}

pub(super) fn cmd_validate(
    out: &mut impl Write,
    file: &Path,
    output: Output,
) -> Result<(), Failure> {
    let loaded = load_file(file).map_err(config_failure)?;
    // Compiling validates first (any error rejects the whole), and a configuration is valid
    // only if it also builds; validating on its own as well doubled the time on large tables.
    let compiled = compile(&loaded).map_err(config_failure)?;
    let report = control::validate::Report {
        diagnostics: compiled.warnings.clone(),
    };
    let c = &loaded.config;
    match output {
        Output::Json => {
            let warnings: Vec<_> = report.warnings().collect();
            let doc = json!({
                "valid": true,
                "file": file,
                "errors": [],
                "warnings": warnings,
                "counts": {
                    "vpcs": c.vpcs.len(),
                    "subnets": c.subnets.len(),
                    "route_tables": c.route_tables.len(),
                    "routes": compiled.snapshot.route_tables.iter().map(|t| t.routes.len()).sum::<usize>(),
                    "prefix_lists": c.prefix_lists.len(),
                    "endpoints": c.endpoints.len(),
                },
            });
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            )?;
        }
        Output::Table => {
            for w in report.warnings() {
                eprintln!("{w}");
            }
            let routes: usize = compiled
                .snapshot
                .route_tables
                .iter()
                .map(|t| t.routes.len())
                .sum();
            writeln!(
                out,
                "{}: valid — {} VPC{}, {} subnet{}, {} route table{} ({} effective routes), {} prefix list{}, {} endpoint{}{}",
                file.display(),
                c.vpcs.len(),
                plural(c.vpcs.len()),
                c.subnets.len(),
                plural(c.subnets.len()),
                c.route_tables.len(),
                plural(c.route_tables.len()),
                routes,
                c.prefix_lists.len(),
                plural(c.prefix_lists.len()),
                c.endpoints.len(),
                plural(c.endpoints.len()),
                match report.warnings().count() {
                    0 => String::new(),
                    n => format!("; {n} warning{}", plural(n)),
                }
            )?;
        }
    }
    Ok(())
}
