//! Where a case value came from and why a case could not be read.

use super::units::UnitError;
use std::fmt;

/// Where a value came from: the source (file path or "built-in default"), its 1-based line when known,
/// or the `--set` override that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub source: String,
    pub line: Option<usize>,
    pub from_set: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.line, &self.from_set) {
            (Some(line), _) => write!(f, "{}, line {line}", self.source),
            (None, Some(set)) => write!(f, "{} (from --set {set})", self.source),
            (None, None) => f.write_str(&self.source),
        }
    }
}

/// Why a case could not be read. Every variant says where (`at`, boxed to keep `Result<_, CaseError>` small)
/// and, where one field is at fault, which.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("{at}: cannot read the case file: {error}")]
    Io { at: Box<Location>, error: std::io::Error },
    #[error("{at}, column {column}: malformed TOML: {message}")]
    Syntax { at: Box<Location>, column: usize, message: String },
    #[error("{at}: `{field}`: {message}")]
    Schema { at: Box<Location>, field: String, message: String },
    #[error("{at}: `{field}`: {error}")]
    Unit { at: Box<Location>, field: String, error: UnitError },
    #[error("{at}: `{field}`: {reason}")]
    Invalid { at: Box<Location>, field: String, reason: String },
    #[error("{at}: `{field}`: hot spot `{name}` does not lie inside the box: {reason}")]
    HotSpotOutsideBox { at: Box<Location>, field: String, name: String, reason: String },
    #[error("{at}: `{field}`: hot spots `{first}` and `{second}` overlap: {reason}")]
    HotSpotsOverlap { at: Box<Location>, field: String, first: String, second: String, reason: String },
    #[error("{at}: `{field}`: sphere hot spot `{name}` cuts the interface plane z = 0: {reason}")]
    HotSpotCutsInterface { at: Box<Location>, field: String, name: String, reason: String },
    #[error("{at}: `{field}`: cannot place the random hot spots `{name}`: {reason}")]
    Placement { at: Box<Location>, field: String, name: String, reason: String },
    #[error("{at}: `{field}`: no boundary is named `{name}`; known boundaries: {known}")]
    UnknownBoundary { at: Box<Location>, field: String, name: String, known: String },
    #[error("{at}: `{field}`: the mesh region `{region}` has no material; known materials: {known}")]
    MissingMaterial { at: Box<Location>, field: String, region: String, known: String },
    #[error("{at}: `boundaries`: singular problem: {reason}")]
    Singular { at: Box<Location>, reason: String },
    #[error("{at}: {reason}")]
    Override { at: Box<Location>, reason: String },
}

/// "domain.size[0]" from serde's path, without the private keys `toml::Spanned` adds.
pub(super) fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut field = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => field.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } if !key.starts_with("$__") => {
                if !field.is_empty() {
                    field.push('.');
                }
                field.push_str(key);
            }
            _ => {}
        }
    }
    if field.is_empty() {
        "(top level)".into()
    } else {
        field
    }
}
