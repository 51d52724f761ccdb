//! The solver context: the one solver every solve of a run goes through (the case's system, Newton's steps, the
//! error estimates' duals, the analyses' variants, a sweep's points), with the run's solver settings.

use super::StudyError;
use crate::solver::settings::SolverSettings;
use crate::solver::sparse::CsrMatrix;
use crate::solver::{CgReport, SolveError, SymmetricSolver};

/// One solver (built by the application layer's factory: CPU, GPU with or without a CPU fallback, PETSc; or a
/// caller's own) and the settings its solves run under. A solver with a setup keeps it between solves of the
/// same matrix, so every solve of a run shares one device and one multigrid setup where the matrix allows.
pub struct SolverContext<'s> {
    solver: Box<dyn SymmetricSolver + 's>,
    settings: SolverSettings,
}

impl<'s> SolverContext<'s> {
    pub fn new(solver: Box<dyn SymmetricSolver + 's>, settings: &SolverSettings) -> SolverContext<'s> {
        SolverContext { solver, settings: settings.clone() }
    }

    /// A context on a solver the caller keeps (a sweep's, a test's).
    pub fn lending(solver: &'s mut dyn SymmetricSolver, settings: &SolverSettings) -> SolverContext<'s> {
        SolverContext::new(Box::new(solver), settings)
    }

    /// The same context with its solver wrapped (an exporting decorator, say): every later solve goes through
    /// the wrapper.
    pub fn decorated(
        self,
        wrap: impl FnOnce(Box<dyn SymmetricSolver + 's>) -> Box<dyn SymmetricSolver + 's>,
    ) -> SolverContext<'s> {
        SolverContext { solver: wrap(self.solver), settings: self.settings }
    }

    /// The solver and the settings, for a driver that chooses its own tolerances (Newton's inexact steps).
    pub fn parts(&mut self) -> (&mut dyn SymmetricSolver, &SolverSettings) {
        (self.solver.as_mut(), &self.settings)
    }

    /// A reduced system solved from zero under the settings (the primal's, or a dual's right-hand side on the
    /// same matrix): the unknowns' values and the report. A missed tolerance is an error unless
    /// `solver.accept_unconverged` keeps the result (its report says `converged: false`).
    pub fn solve_system(&mut self, matrix: &CsrMatrix, rhs: &[f64]) -> Result<(Vec<f64>, CgReport), StudyError> {
        let mut x = vec![0.0; matrix.nrows];
        let report = match self.solver.solve(matrix, rhs, &mut x, &self.settings.cg_options()) {
            Err(SolveError::NoConvergence { report, .. }) if self.settings.accept_unconverged => *report,
            result => result?,
        };
        Ok((x, report))
    }
}
