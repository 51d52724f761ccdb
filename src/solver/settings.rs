//! What the case's `[solver]` table chooses: the backend, the GPU precision, the adapter, the stopping rules.
//! These are plain settings (the case reads them, `crate::gpu::select` acts on them), so they live with the
//! solvers rather than in the GPU code.

use super::CgOptions;
use serde::{Deserialize, Serialize};

/// GPU: iterations recorded per submission between two convergence checks.
pub const DEFAULT_CHECK_EVERY: usize = 32;

/// Which solver runs: `auto` takes the GPU when there is one and falls back to the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Auto,
    Cpu,
    Gpu,
    /// PETSc's KSP, in process and over MPI (the `petsc` cargo feature).
    Petsc,
}

/// The preconditioner of the conjugate gradients (`solver.preconditioner`), on either backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PreconditionerKind {
    /// Aggregation AMG with a K-cycle, in flexible CG: iteration counts that do not grow with the mesh.
    #[default]
    Amg,
    /// The diagonal: cheap per iteration, iterations grow with the mesh.
    Jacobi,
}

impl PreconditionerKind {
    pub fn name(self) -> &'static str {
        match self {
            PreconditionerKind::Amg => "amg",
            PreconditionerKind::Jacobi => "jacobi",
        }
    }
}

/// GPU arithmetic (`solver.precision`); the CPU is always f64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32 PCG on the GPU inside f64 iterative refinement on the CPU: reaches the CPU solver's tolerance.
    #[default]
    Mixed,
    /// Plain f32 PCG: stops when the f32 recurrence residual reaches max(rtol, 1e-7) and reports the true
    /// f64 residual it reached, which may be above rtol (f32 cannot do better); not an error.
    F32,
    /// f64 PCG on the GPU; needs SHADER_F64.
    F64,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::Mixed => "mixed",
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }
}

/// The case's `[solver]` table in SI values.
#[derive(Debug, Clone, PartialEq)]
pub struct SolverSettings {
    pub backend: Backend,
    pub precision: Precision,
    pub preconditioner: PreconditionerKind,
    /// Substring of the GPU adapter name to use; `None` picks the best adapter.
    pub adapter: Option<String>,
    pub rtol: f64,
    pub atol: f64,
    pub max_iter: usize,
    /// GPU: iterations between reads of the convergence scalars (the only host traffic of the CG loop).
    pub check_every: usize,
    /// Keep a solve that missed its tolerance, marked `converged: false` with a warning, instead of failing.
    pub accept_unconverged: bool,
    /// Newton steps a nonlinear (Butler-Volmer) solve may take before it is an error.
    pub max_newton_steps: usize,
    /// `--backend petsc`: PETSc options for its KSP (e.g. "-ksp_type cg -pc_type gamg").
    pub petsc_options: String,
}

impl SolverSettings {
    pub fn cg_options(&self) -> CgOptions {
        CgOptions { rtol: self.rtol, atol: self.atol, max_iter: self.max_iter }
    }
}
