//! `vpcectl apply`: a configuration validated here, then sent to vpced.

use super::*;

pub(super) fn cmd_apply(
    out: &mut impl Write,
    file: &Path,
    socket: &Path,
    output: Output,
) -> Result<(), Failure> {
    let path = std::path::absolute(file)
        .map_err(|e| Failure::bad_input(format!("{}: {e}", file.display())))?;
    if !path.exists() {
        return Err(Failure::bad_input(format!(
            "{}: no such file",
            file.display()
        )));
    }
    let r = daemon_call(socket, &Request::Apply { path })?;
    match &r {
        Response::Rejected { error, diagnostics } => {
            let json = serde_json::to_value(&r).ok();
            let message = if diagnostics.is_empty() {
                format!(
                    "vpced rejected {}: {error}; the running configuration stays",
                    file.display()
                )
            } else {
                let lines: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
                format!(
                    "vpced rejected {}; the running configuration stays:\n{}",
                    file.display(),
                    lines.join("\n")
                )
            };
            Err(Failure {
                code: 2,
                message,
                json,
            })
        }
        Response::Applied {
            generation,
            warnings,
        } => {
            match output {
                Output::Json => writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&r).unwrap_or_default()
                )?,
                Output::Table => {
                    for w in warnings {
                        eprintln!("{w}");
                    }
                    writeln!(out, "applied {}: generation {generation}", file.display())?;
                }
            }
            Ok(())
        }
        other => Err(Failure {
            code: 1,
            message: format!("unexpected answer from vpced: {other:?}"),
            json: None,
        }),
    }
}
