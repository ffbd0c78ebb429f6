//! Errors of the control layer, typed by what went wrong and carrying where.

use std::path::PathBuf;

use crate::diag::{Diagnostic, Location, Severity};

/// Why a configuration could not be loaded or compiled. Every variant names the file; parse
/// and validation errors also name the line, column, entity and field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read the configuration: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: larger than {} MiB; configurations are limited to that size (is this the right file?)", path.display(), limit >> 20)]
    TooLarge { path: PathBuf, limit: u64 },
    /// The file is not TOML, or does not have the shape of a deployment.
    #[error("{location}: error: {}{message}", entity.as_ref().map(|e| format!("{e}: ")).unwrap_or_default())]
    Parse {
        location: Location,
        /// The entity whose table the error is in, when that could be told.
        entity: Option<String>,
        message: String,
    },
    /// Well-formed, but breaks AWS's rules (validation); `diagnostics` holds every finding (at least
    /// one error, possibly warnings too).
    #[error("{}", render(diagnostics))]
    Invalid { diagnostics: Vec<Diagnostic> },
}

fn render(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let mut out: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
    out.push(format!(
        "{errors} error{} found; the configuration was not accepted",
        if errors == 1 { "" } else { "s" }
    ));
    out.join("\n")
}

/// Errors reading an AWS `ip-ranges.json` file.
#[derive(Debug, thiserror::Error)]
pub enum IpRangesError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not an xz stream: {message}", path.display())]
    Xz { path: PathBuf, message: String },
    #[error("{}:{line}:{column}: not an AWS ip-ranges.json document: {message}", path.display())]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: prefix `{prefix}` of service {service} is not a CIDR", path.display())]
    BadPrefix {
        path: PathBuf,
        prefix: String,
        service: String,
    },
}
