//! Diagnostics that point into the user's file.
//!
//! Validation works on the deserialized [`Config`](crate::model::Config), which has forgotten
//! where things were written. [`SourceMap`] keeps a span-preserving parse of the same text
//! (`toml_edit::Document`) and turns a [`FieldPath`] such as `route_tables[2].routes[1].target`
//! back into a line and column, falling back to the nearest enclosing item when the field itself
//! was not written (a missing association, a default value).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One step of a path into the configuration document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(&'static str),
    Index(usize),
}

impl From<&'static str> for Seg {
    fn from(k: &'static str) -> Seg {
        Seg::Key(k)
    }
}

impl From<crate::model::Collection> for Seg {
    fn from(c: crate::model::Collection) -> Seg {
        Seg::Key(c.key())
    }
}

impl From<usize> for Seg {
    fn from(i: usize) -> Seg {
        Seg::Index(i)
    }
}

/// A path into the document, e.g. `route_tables[2].routes[1].target`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    /// This path extended by one step.
    pub fn at(&self, seg: impl Into<Seg>) -> FieldPath {
        let mut v = self.0.clone();
        v.push(seg.into());
        FieldPath(v)
    }

    /// The path below its first `skip` steps (the part that names a field of an entity).
    pub fn display_from(&self, skip: usize) -> String {
        let mut out = String::new();
        for seg in self.0.iter().skip(skip) {
            match seg {
                Seg::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_from(0))
    }
}

/// Builds a [`FieldPath`]: `path!["route_tables", 2, "routes", 1, "target"]`.
#[macro_export]
macro_rules! path {
    ($($seg:expr),* $(,)?) => {
        $crate::diag::FieldPath(vec![$($crate::diag::Seg::from($seg)),*])
    };
}

/// A 1-based line and column in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding of validation: where, which entity and field, what is wrong, what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub location: Location,
    /// The entity, e.g. `route table rtb-0c0ffee000000001`.
    pub entity: String,
    /// The field inside the entity, e.g. `routes[1].target`.
    pub field: String,
    pub message: String,
    /// What would be accepted instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}: {sev}: {}", self.location, self.entity)?;
        if !self.field.is_empty() {
            write!(f, ", field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// The text of a configuration file with a span-preserving parse of it.
#[derive(Debug)]
pub struct SourceMap {
    file: PathBuf,
    text: String,
    /// Parsed when a diagnostic first needs a location: a second parse of a large file (a
    /// full BGP table) cost a sixth of validating it, for nothing when it is valid.
    doc: std::sync::OnceLock<Option<toml_edit::Document<String>>>,
    /// Byte offset of the start of every line.
    line_starts: Vec<usize>,
}

impl SourceMap {
    pub fn new(file: impl AsRef<Path>, text: String) -> SourceMap {
        let doc = std::sync::OnceLock::new();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceMap {
            file: file.as_ref().to_path_buf(),
            text,
            doc,
            line_starts,
        }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Line and column of a byte offset.
    pub fn location_of_offset(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        Location {
            file: self.file.clone(),
            line,
            column,
        }
    }

    /// The location of `path`, or of its nearest ancestor that was written in the file.
    pub fn locate(&self, path: &FieldPath) -> Location {
        let offset = self
            .doc
            .get_or_init(|| toml_edit::Document::parse(self.text.clone()).ok())
            .as_ref()
            .and_then(|doc| span_of(Node::Item(doc.as_item()), &path.0))
            .unwrap_or(0);
        self.location_of_offset(offset)
    }
}

/// A node of the span-preserving document.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a toml_edit::Item),
    Table(&'a toml_edit::Table),
    Value(&'a toml_edit::Value),
}

impl Node<'_> {
    fn start(&self) -> Option<usize> {
        match self {
            Node::Item(i) => i.span(),
            Node::Table(t) => t.span(),
            Node::Value(v) => v.span(),
        }
        .map(|s| s.start)
    }
}

/// Start offset of the deepest node along `segs` that has a span: the value of a field if it
/// was written, else its key, else the enclosing table.
fn span_of(node: Node<'_>, segs: &[Seg]) -> Option<usize> {
    use toml_edit::{Item, Value};
    let here = node.start();
    let Some((seg, rest)) = segs.split_first() else {
        return here;
    };
    let (key_start, child) = match (node, seg) {
        (Node::Table(t), Seg::Key(k)) | (Node::Item(Item::Table(t)), Seg::Key(k)) => (
            t.key(k).and_then(|key| key.span()).map(|s| s.start),
            t.get(k).map(Node::Item),
        ),
        (Node::Item(Item::ArrayOfTables(a)), Seg::Index(i)) => (None, a.get(*i).map(Node::Table)),
        (Node::Item(Item::Value(v)), seg) | (Node::Value(v), seg) => match (v, seg) {
            (Value::Array(a), Seg::Index(i)) => (None, a.get(*i).map(Node::Value)),
            (Value::InlineTable(t), Seg::Key(k)) => (
                t.key(k).and_then(|key| key.span()).map(|s| s.start),
                t.get(k).map(Node::Value),
            ),
            _ => (None, None),
        },
        _ => (None, None),
    };
    child.and_then(|c| span_of(c, rest)).or(key_start).or(here)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "region = \"us-east-1\"\n\n[[route_tables]]\nid = \"rtb-1\"\nroutes = [\n  { destination = \"0.0.0.0/0\", target = \"igw-x\" },\n]\n";

    #[test]
    fn locates_a_value_inside_an_inline_table_of_an_array_of_tables() {
        let map = SourceMap::new("f.toml", DOC.to_string());
        let loc = map.locate(&path!["route_tables", 0, "routes", 0, "target"]);
        assert_eq!((loc.line, loc.column), (6, 41));
        let loc = map.locate(&path!["route_tables", 0, "id"]);
        assert_eq!((loc.line, loc.column), (4, 6));
    }

    #[test]
    fn falls_back_to_the_nearest_written_ancestor() {
        let map = SourceMap::new("f.toml", DOC.to_string());
        let loc = map.locate(&path!["route_tables", 0, "subnets", 3]);
        assert_eq!(loc.line, 3);
        let loc = map.locate(&path!["nothing_here"]);
        assert_eq!((loc.line, loc.column), (1, 1));
    }
}
