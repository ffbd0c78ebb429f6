//! Reading a configuration file: TOML parse, shape check, and filling prefix lists from
//! `ip-ranges.json` files. The only module of `control` that touches the filesystem.

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, FieldPath, Severity, SourceMap};
use crate::error::ConfigError;
use crate::ip_ranges::IpRanges;
use crate::model::{Config, PrefixListEntry};
use crate::path;

/// A configuration together with the text it came from, so that later findings can point
/// at lines.
pub struct LoadedConfig {
    pub config: Config,
    pub source: SourceMap,
}

impl std::fmt::Debug for LoadedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedConfig")
            .field("file", &self.source.file())
            .finish_non_exhaustive()
    }
}

impl LoadedConfig {
    /// A diagnostic about `path` in the entity `entity`. The field is the part of the path below
    /// the entity's own two steps (`route_tables[3]`).
    pub fn diagnostic(
        &self,
        severity: Severity,
        entity: impl Into<String>,
        path: &FieldPath,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity,
            location: self.source.locate(path),
            entity: entity.into(),
            field: path.display_from(2),
            message: message.into(),
            help,
        }
    }
}

pub use crate::files::{read_bounded, Bounded, MAX_CONFIG_BYTES};

/// Reads and parses `path`. Prefix lists with `from_ip_ranges` are filled from files relative
/// to the configuration's directory.
pub fn load_file(path: impl AsRef<Path>) -> Result<LoadedConfig, ConfigError> {
    let path = path.as_ref();
    let bytes = read_bounded(path, MAX_CONFIG_BYTES).map_err(|e| match e {
        Bounded::Io(source) => ConfigError::Read {
            path: path.to_path_buf(),
            source,
        },
        Bounded::TooLarge => ConfigError::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_CONFIG_BYTES,
        },
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let map = SourceMap::new(path, String::new());
        let mut location = map.location_of_offset(0);
        // Count lines in the valid prefix so the position is still useful.
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        location.line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        location.column = valid.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        ConfigError::Parse {
            location,
            entity: None,
            message: "the file is not UTF-8 text".into(),
        }
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    load_str(path, text, &base)
}

/// Parses `text` (named `file` in messages); relative data files resolve against `base_dir`.
pub fn load_str(
    file: impl AsRef<Path>,
    text: String,
    base_dir: &Path,
) -> Result<LoadedConfig, ConfigError> {
    let source = SourceMap::new(file.as_ref(), text);
    let config: Config = toml::from_str(source.text()).map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        ConfigError::Parse {
            location: source.location_of_offset(offset),
            entity: source.entity_at(offset),
            message: e.message().trim_end().to_string(),
        }
    })?;
    let mut loaded = LoadedConfig { config, source };
    fill_prefix_lists(&mut loaded, base_dir)?;
    Ok(loaded)
}

/// Expands `from_ip_ranges` into entries. Each file is read once even if several lists use it.
fn fill_prefix_lists(loaded: &mut LoadedConfig, base_dir: &Path) -> Result<(), ConfigError> {
    let mut cache: Vec<(PathBuf, IpRanges)> = Vec::new();
    let mut diagnostics = Vec::new();
    let region = loaded.config.region.clone();
    for i in 0..loaded.config.prefix_lists.len() {
        let pl = &loaded.config.prefix_lists[i];
        let Some(src) = pl.from_ip_ranges.clone() else {
            continue;
        };
        let file = base_dir.join(&src.file);
        let ranges = match cache.iter().position(|(p, _)| *p == file) {
            Some(k) => &cache[k].1,
            None => match IpRanges::read(&file) {
                Ok(r) => {
                    cache.push((file.clone(), r));
                    &cache.last().expect("just pushed").1
                }
                Err(e) => {
                    diagnostics.push(loaded.diagnostic(
                        Severity::Error,
                        format!("prefix list {}", pl.id),
                        &path!["prefix_lists", i, "from_ip_ranges", "file"],
                        e.to_string(),
                        Some("the path is relative to the configuration file's directory".into()),
                    ));
                    continue;
                }
            },
        };
        let src_region = src.region.clone().unwrap_or_else(|| region.clone());
        match ranges.select(&file, &src.service, &src_region, pl.address_family) {
            Ok(cidrs) if cidrs.is_empty() => diagnostics.push(loaded.diagnostic(
                Severity::Error,
                format!("prefix list {}", pl.id),
                &path!["prefix_lists", i, "from_ip_ranges"],
                format!(
                    "{} has no {:?} entries for service `{}` in region `{src_region}`",
                    file.display(),
                    pl.address_family,
                    src.service
                ),
                Some("service is the `service` field of ip-ranges.json (S3, DYNAMODB, …)".into()),
            )),
            Ok(cidrs) => {
                let pl = &mut loaded.config.prefix_lists[i];
                pl.entries
                    .extend(cidrs.into_iter().map(PrefixListEntry::Cidr));
            }
            Err(e) => diagnostics.push(loaded.diagnostic(
                Severity::Error,
                format!("prefix list {}", loaded.config.prefix_lists[i].id),
                &path!["prefix_lists", i, "from_ip_ranges", "file"],
                e.to_string(),
                None,
            )),
        }
    }
    if diagnostics.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid { diagnostics })
    }
}

impl SourceMap {
    /// `kind id` of the top-level `[[…]]` entity whose table contains `offset`, if any.
    pub fn entity_at(&self, offset: usize) -> Option<String> {
        let doc = toml_edit::Document::parse(self.text()).ok()?;
        let mut best: Option<(usize, String)> = None;
        for (key, item) in doc.as_table().iter() {
            let Some(array) = item.as_array_of_tables() else {
                continue;
            };
            for table in array.iter() {
                let Some(start) = table.span().map(|s| s.start) else {
                    continue;
                };
                if start <= offset && best.as_ref().is_none_or(|(b, _)| start > *b) {
                    let id = table
                        .get("id")
                        .or_else(|| table.get("name"))
                        .and_then(|v| v.as_str())
                        .unwrap_or("(no id)");
                    best = Some((start, format!("{} {id}", crate::model::kind_name(key))));
                }
            }
        }
        best.map(|(_, e)| e)
    }
}
