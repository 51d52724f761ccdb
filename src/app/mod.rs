//! The application layer: the numbered pipeline walkthrough, parameter sweeps, benchmarks and progress bars.
//! It may use every stage below it (ARCHITECTURE.md); no stage uses it.

pub mod adapt;
pub mod backend;
pub mod bench;
pub mod export;
pub mod pipeline;
pub mod progress;
pub mod solved;
pub mod summarize;
pub mod sweep;

use crate::analysis::AnalysisError;
use crate::case::{Case, CaseError, DEFAULT_CASE_TOML, DEFAULT_SOURCE};
use crate::io;
use crate::io::plot::PlotError;
use backend::BackendError;
use std::path::{Path, PathBuf};

/// Anything that stops a run, typed by stage; the CLI prints it as one or two sentences.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    #[error(transparent)]
    Output(#[from] io::OutputError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Plot(#[from] PlotError),
}

/// How a run behaves, beyond what the case file says.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Show progress bars on stages longer than a second.
    pub progress: bool,
    /// Write the reduced system and ionflux's solution of it into this folder, in `export_format`.
    pub export_system: Option<PathBuf>,
    pub export_format: io::SystemFormat,
}

/// Hands the memory the allocator holds free back to the system. The mesher and the assembly free many
/// mid-sized blocks that glibc keeps in its heaps: without this the solve starts with about 80 B per node
/// that nothing uses (measured on `meshes/random_200.toml`, BENCHMARKS.md), and the run's peak is that much
/// higher. A few milliseconds; nothing to do on other allocators.
pub(crate) fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages of the allocator's own heaps; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

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
