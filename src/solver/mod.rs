//! Linear solvers behind one seam: an operator, a preconditioner, options and a report.
//! Solvers know nothing about meshes. The CPU reference lives in [`cpu`]; the GPU solver in
//! `crate::gpu` implements the same [`SymmetricSolver`] trait.

pub mod amg;
pub mod cpu;
pub mod settings;
pub mod sparse;
pub mod vector;

use crate::solver::sparse::CsrMatrix;
use serde::Serialize;

/// y = A x for a symmetric positive definite A.
pub trait LinearOperator: Sync {
    fn nrows(&self) -> usize;
    fn apply(&self, x: &[f64], y: &mut [f64]);
}

/// z = M^-1 r. Set up once (a diagonal, a multigrid hierarchy), applied many times: the value applied holds the
/// setup by reference and its own scratch (a cycle's level vectors), hence `&mut self`.
pub trait Preconditioner {
    fn apply(&mut self, r: &[f64], z: &mut [f64]) -> Result<(), SolveError>;
    /// What the solve report says about this preconditioner (kind, levels, setup).
    fn report(&self) -> PreconditionerReport;
}

/// Stopping rules for conjugate gradients: stop when ||r|| <= max(rtol * ||b||, atol).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CgOptions {
    pub rtol: f64,
    pub atol: f64,
    pub max_iter: usize,
}

impl Default for CgOptions {
    fn default() -> Self {
        CgOptions { rtol: 1e-10, atol: 0.0, max_iter: 20_000 }
    }
}

impl CgOptions {
    /// ||b|| and the residual norm to reach, max(rtol ||b||, atol). A non-finite ||b|| (the system overflowed) is
    /// an error, and so is an `atol` that the zero vector already meets for a nonzero b: neither may pass as a
    /// converged solve.
    pub fn target(&self, b: &[f64]) -> Result<(f64, f64), SolveError> {
        let b_norm = vector::norm(b);
        if !b_norm.is_finite() {
            return Err(SolveError::NotFinite { iteration: 0, value: b_norm });
        }
        if b_norm > 0.0 && self.atol >= b_norm {
            return Err(SolveError::ToleranceTooLoose { atol: self.atol, b_norm });
        }
        Ok((b_norm, (self.rtol * b_norm).max(self.atol)))
    }
}

/// What a solve did. `residual_history` holds ||r_k|| / ||b|| (true or recurrence residual,
/// as each backend documents), starting with k = 0.
#[derive(Debug, Clone, Serialize)]
pub struct CgReport {
    pub backend: String,
    pub precision: String,
    /// The device that ran the solve (adapter name on the GPU, thread count on the CPU).
    pub device: String,
    pub iterations: usize,
    /// The true relative residual ||b - A x|| / ||b|| of the returned x.
    pub relative_residual: f64,
    pub residual_history: Vec<f64>,
    /// The true residual met the tolerance (false only in a report kept by `solver.accept_unconverged`).
    pub converged: bool,
    /// Wall seconds of the iterations (the preconditioner's setup is in `preconditioner.setup_seconds`).
    pub seconds: f64,
    pub preconditioner: PreconditionerReport,
}

/// The preconditioner a solve used: its kind, and for a multigrid hierarchy its levels (finest first), operator
/// complexity (sum of the levels' nonzeros over the finest level's) and setup time. `reused` says the setup
/// came from an earlier solve of the same matrix (and cost nothing this time).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreconditionerReport {
    pub kind: String,
    pub levels: Vec<amg::LevelInfo>,
    pub operator_complexity: f64,
    pub setup_seconds: f64,
    pub reused: bool,
}

impl PreconditionerReport {
    /// The report of an AMG hierarchy (its setup time counts only when it was built for this solve).
    pub fn amg(hierarchy: &amg::Hierarchy, reused: bool) -> PreconditionerReport {
        PreconditionerReport {
            kind: "amg".into(),
            levels: hierarchy.levels(),
            operator_complexity: hierarchy.operator_complexity(),
            setup_seconds: if reused { 0.0 } else { hierarchy.setup_seconds },
            reused,
        }
    }

    /// The report of a preconditioner without setup (Jacobi).
    pub fn jacobi() -> PreconditionerReport {
        PreconditionerReport {
            kind: "jacobi".into(),
            levels: Vec::new(),
            operator_complexity: 1.0,
            setup_seconds: 0.0,
            reused: false,
        }
    }
}

impl CgReport {
    /// The end of a solve: the report, or `NoConvergence` carrying its numbers when it did not converge.
    pub fn into_result(mut self, converged: bool, target: f64) -> Result<CgReport, SolveError> {
        self.converged = converged;
        if converged {
            return Ok(self);
        }
        Err(SolveError::NoConvergence { report: Box::new(self), target })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SolveError {
    #[error(
        "the solver did not converge: true relative residual {:.3e} after {} iterations ({} {}), target {target:.1e}; \
         no result is reported. Raise solver.max_iter, loosen solver.rtol, or check the case for extreme \
         conductivity contrasts; solver.accept_unconverged = true keeps such a result, marked as unconverged",
        report.relative_residual, report.iterations, report.backend, report.precision
    )]
    NoConvergence { report: Box<CgReport>, target: f64 },
    #[error("the matrix is not positive definite (p^T A p = {value:.3e} at iteration {iteration})")]
    NotPositiveDefinite { iteration: usize, value: f64 },
    /// A failure of the backend itself (typed: the GPU solver's is a `gpu::GpuError`, which `--backend auto`
    /// tells apart from a convergence failure to fall back to the CPU).
    #[error("{0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Amg(#[from] amg::AmgError),
    #[error(
        "solver.atol = {atol:e} is not below ||b|| = {b_norm:e}: the zero vector would count as converged; lower \
         solver.atol (it is in the units of the right-hand side, A) or leave it at 0 and use solver.rtol"
    )]
    ToleranceTooLoose { atol: f64, b_norm: f64 },
    #[error(
        "the solve produced a non-finite residual ({value}) at iteration {iteration}: the system overflows (check \
         the case's values for extremes such as 1e300)"
    )]
    NotFinite { iteration: usize, value: f64 },
    #[error("could not export the system: {0}")]
    Export(String),
}

/// A solver for symmetric positive definite CSR systems: the CPU reference and the GPU solver.
pub trait SymmetricSolver {
    fn solve(&mut self, a: &CsrMatrix, b: &[f64], x: &mut [f64], options: &CgOptions) -> Result<CgReport, SolveError>;

    /// While `reuse` holds, a solver with a setup (a multigrid hierarchy) keeps the one it built for an earlier
    /// matrix of the same size when handed a new one, refreshing only what is cheap (the finest level's smoother):
    /// Newton's steps change a few values of one pattern, and the old hierarchy still preconditions them well. A
    /// solver without a setup ignores it.
    fn reuse_setup(&mut self, _reuse: bool) {}
}

/// A borrowed solver is a solver: a caller that keeps its solver across runs (a sweep, a test comparing
/// backends) lends it to a run's `study::SolverContext`.
impl<S: SymmetricSolver + ?Sized> SymmetricSolver for &mut S {
    fn solve(&mut self, a: &CsrMatrix, b: &[f64], x: &mut [f64], options: &CgOptions) -> Result<CgReport, SolveError> {
        (**self).solve(a, b, x, options)
    }

    fn reuse_setup(&mut self, reuse: bool) {
        (**self).reuse_setup(reuse)
    }
}
