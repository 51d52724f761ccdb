//! The solver factory: which solver runs a case, from `solver.backend` (`--backend`), `solver.precision` and
//! `solver.adapter`. The run's `study::SolverContext` holds what it builds.
//!
//! - `cpu`: the f64 reference.
//! - `gpu`: the GPU solver on the chosen adapter (software adapters such as Mesa's llvmpipe included);
//!   any GPU failure is an error.
//! - `auto`: the best hardware adapter (discrete first). With none, or when it fails during a solve (out
//!   of memory, device lost), one line says so and the CPU solves. Software adapters are skipped:
//!   on the same cores the CPU reference is faster than a Vulkan emulation.
//! - `petsc`: PETSc's KSP on each MPI rank's rows (cargo feature `petsc`; ARCHITECTURE.md, "PETSc and MPI").

use crate::gpu::{gpu_amg_options, GpuContext, GpuError, GpuRequest, GpuSolver};
use crate::solver::cpu::{AmgSolver, CpuSolver};
use crate::solver::settings::{Backend, Precision, PreconditionerKind, SolverSettings};
use crate::solver::sparse::CsrMatrix;
use crate::solver::{CgOptions, CgReport, SolveError, SymmetricSolver};

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("--backend gpu: {0}")]
    Gpu(#[from] GpuError),
    #[error("--backend petsc: {0}")]
    Petsc(String),
}

/// The GPU solver of a run on its own device (the pipeline keeps it for all the solves of the run, so a
/// re-solve of the same matrix reuses the uploaded system and the AMG setup).
fn open_gpu(settings: &SolverSettings, allow_software: bool) -> Result<GpuSolver, GpuError> {
    let request = GpuRequest {
        adapter: settings.adapter.clone(),
        allow_software,
        require_f64: settings.precision == Precision::F64,
        ..GpuRequest::default()
    };
    let solver = GpuSolver::new(&GpuContext::new(&request)?, settings.precision).with_check_every(settings.check_every);
    Ok(match settings.preconditioner {
        PreconditionerKind::Amg => solver.with_amg(AmgSolver::new(gpu_amg_options())),
        PreconditionerKind::Jacobi => solver,
    })
}

/// `auto` with a GPU: a GPU-side failure is reported once and the CPU takes over for this and later solves.
/// Convergence failures are not GPU failures and are passed on.
struct GpuWithCpuFallback {
    gpu: Option<GpuSolver>,
    cpu: Box<dyn SymmetricSolver>,
    notice: Box<dyn FnMut(&str)>,
}

impl SymmetricSolver for GpuWithCpuFallback {
    fn solve(&mut self, a: &CsrMatrix, b: &[f64], x: &mut [f64], options: &CgOptions) -> Result<CgReport, SolveError> {
        if let Some(gpu) = &mut self.gpu {
            let start = x.to_vec();
            match gpu.solve(a, b, x, options) {
                Err(SolveError::Backend(reason)) if reason.is::<GpuError>() => {
                    (self.notice)(&format!("the GPU solve failed ({reason}); solving on the CPU"));
                    self.gpu = None;
                    x.copy_from_slice(&start);
                }
                result => return result,
            }
        }
        self.cpu.solve(a, b, x, options)
    }

    fn reuse_setup(&mut self, reuse: bool) {
        if let Some(gpu) = &mut self.gpu {
            gpu.reuse_setup(reuse);
        }
        self.cpu.reuse_setup(reuse);
    }
}

/// The CPU solver with the settings' preconditioner.
pub fn cpu_solver(settings: &SolverSettings) -> Box<dyn SymmetricSolver> {
    match settings.preconditioner {
        PreconditionerKind::Amg => Box::new(AmgSolver::default()),
        PreconditionerKind::Jacobi => Box::new(CpuSolver),
    }
}

/// The solver for these settings. `notice` receives one line whenever `auto` ends up on the CPU.
pub fn select(
    settings: &SolverSettings,
    mut notice: Box<dyn FnMut(&str)>,
) -> Result<Box<dyn SymmetricSolver>, BackendError> {
    match settings.backend {
        Backend::Cpu => Ok(cpu_solver(settings)),
        Backend::Gpu => Ok(Box::new(open_gpu(settings, true)?)),
        Backend::Petsc => petsc_solver(settings),
        Backend::Auto => match open_gpu(settings, false) {
            Ok(gpu) => Ok(Box::new(GpuWithCpuFallback { gpu: Some(gpu), cpu: cpu_solver(settings), notice })),
            Err(reason) => {
                notice(&format!("no usable hardware GPU ({reason}); solving on the CPU"));
                Ok(cpu_solver(settings))
            }
        },
    }
}

/// The PETSc solver (ARCHITECTURE.md, "PETSc and MPI"), PETSc and MPI started on first use.
#[cfg(feature = "petsc")]
fn petsc_solver(settings: &SolverSettings) -> Result<Box<dyn SymmetricSolver>, BackendError> {
    let solver =
        crate::petsc::PetscSolver::new(&settings.petsc_options).map_err(|e| BackendError::Petsc(e.to_string()))?;
    Ok(Box::new(solver))
}

#[cfg(not(feature = "petsc"))]
fn petsc_solver(_settings: &SolverSettings) -> Result<Box<dyn SymmetricSolver>, BackendError> {
    let reason = "this ionflux was built without PETSc; build it with `cargo build --release --features petsc` (needs \
                  Debian's petsc-dev, found by pkg-config as PETSc)";
    Err(BackendError::Petsc(reason.into()))
}
