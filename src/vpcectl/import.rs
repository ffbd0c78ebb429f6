//! `vpcectl import aws`: a configuration from an AWS export.

use super::*;

pub(super) fn cmd_import_aws(
    out: &mut impl std::io::Write,
    dir: &std::path::Path,
    file: Option<&std::path::Path>,
    region: Option<&str>,
    output: Output,
) -> Result<(), Failure> {
    let imported =
        control::import::aws::import(dir, region).map_err(|e| Failure::bad_input(e.to_string()))?;
    // What it wrote must be a configuration that loads and validates.
    let loaded =
        control::load_str("imported.toml", imported.toml.clone(), dir).map_err(|e| Failure {
            code: 1,
            message: format!("the import produced a configuration that does not load (a bug): {e}"),
            json: None,
        })?;
    let report = control::validate(&loaded);
    if report.has_errors() {
        return Err(Failure {
            code: 1,
            message: format!(
                "the imported configuration does not validate:\n{}",
                report
                    .diagnostics
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            json: None,
        });
    }
    if let Some(f) = file {
        std::fs::write(f, &imported.toml).map_err(|e| Failure {
            code: 1,
            message: format!("{}: cannot write: {e}", f.display()),
            json: None,
        })?;
    }
    if output == Output::Json {
        let warnings: Vec<String> = imported.warnings.iter().map(|w| w.to_string()).collect();
        let doc = serde_json::json!({
            "output_file": file,
            "configuration": if file.is_none() { Some(&loaded.config) } else { None },
            "left_out": warnings,
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        )?;
        return Ok(());
    }
    for w in &imported.warnings {
        eprintln!("vpcectl import aws: warning: {w}");
    }
    if file.is_none() {
        out.write_all(imported.toml.as_bytes())?;
    }
    Ok(())
}
