//! The application layer: the numbered pipeline walkthrough, parameter sweeps, benchmarks and progress bars.
//! It may use every stage below it (ARCHITECTURE.md); no stage uses it.

pub mod adapt;
pub mod bench;
pub mod export;
pub mod pipeline;
pub mod progress;
pub mod sweep;

use crate::case::{Case, CaseError, DEFAULT_CASE_TOML, DEFAULT_SOURCE};
use std::path::{Path, PathBuf};

/// Where the case of a sweep comes from.
#[derive(Debug, Clone)]
pub enum CaseInput {
    File(PathBuf),
    /// Case text and the source name its messages carry (e.g. the built-in default).
    Text {
        text: String,
        source: String,
    },
}

impl CaseInput {
    /// The case file given on the command line, or the built-in default case.
    pub fn from_arg(path: Option<&Path>) -> CaseInput {
        match path {
            Some(path) => CaseInput::File(path.to_path_buf()),
            None => CaseInput::Text { text: DEFAULT_CASE_TOML.to_string(), source: DEFAULT_SOURCE.to_string() },
        }
    }

    pub fn load(&self, overrides: &[String]) -> Result<Case, CaseError> {
        match self {
            CaseInput::File(path) => Case::load(path, overrides),
            CaseInput::Text { text, source } => Case::from_toml_str(text, source, overrides),
        }
    }
}
