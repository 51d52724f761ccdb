//! Which solver runs a case: `solver.backend` (`--backend`) and `solver.adapter` (`--adapter`).

use crate::case::{Backend, SolverSettings};
use crate::solver::{cpu::CpuSolver, SymmetricSolver};

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("--backend gpu: {0}")]
    GpuUnavailable(String),
}

/// The solver for these settings. `notice` receives one line when `auto` falls back to the CPU.
pub fn select(
    settings: &SolverSettings,
    notice: &mut dyn FnMut(&str),
) -> Result<Box<dyn SymmetricSolver>, BackendError> {
    match settings.backend {
        Backend::Cpu => Ok(Box::new(CpuSolver)),
        Backend::Auto => {
            notice("no GPU solver in this build; solving on the CPU");
            Ok(Box::new(CpuSolver))
        }
        Backend::Gpu => Err(BackendError::GpuUnavailable("no GPU solver in this build".into())),
    }
}
