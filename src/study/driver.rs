//! The driver seam: what turns an assembled system into its solution. The linear solve is one driver, Newton's
//! method for Butler-Volmer boundaries another ([`super::newton::Newton`]); a new loop around the linear solve
//! (a continuation in a parameter, a defect correction) implements [`Driver`] and is handed to
//! [`super::solve_with`]. Meshing loops (the adaptive loop, `app::adapt`) sit above: each of their cycles calls the
//! study layer.

use super::newton::NewtonReport;
use super::{SolverContext, StudyError};
use crate::fem::Assembly;
use crate::solver::CgReport;

/// What a driver hands back.
pub struct Outcome {
    /// The values of the unknowns (the system's free nodes).
    pub x: Vec<f64>,
    /// The linear solves' report (for a loop: iterations and seconds summed, the last solve's residual).
    pub report: CgReport,
    /// Newton's history, for Newton's driver.
    pub newton: Option<NewtonReport>,
}

/// A way to solve an assembled system with the context's solver. It may refill the system's values on its
/// pattern (Newton does) but leaves them as the solution's linearization (the error estimates' duals use them).
pub trait Driver {
    fn run(&mut self, assembly: &mut Assembly, context: &mut SolverContext) -> Result<Outcome, StudyError>;
}

/// One solve of the linear system from zero.
pub struct Linear;

impl Driver for Linear {
    fn run(&mut self, assembly: &mut Assembly, context: &mut SolverContext) -> Result<Outcome, StudyError> {
        let (x, report) = context.solve_system(&assembly.matrix, &assembly.rhs)?;
        Ok(Outcome { x, report, newton: None })
    }
}

/// The driver an assembled system needs: Newton's method with Butler-Volmer boundaries, else the linear solve.
pub fn driver_for(assembly: &Assembly) -> Box<dyn Driver> {
    if assembly.has_kinetics() {
        Box::new(super::newton::Newton)
    } else {
        Box::new(Linear)
    }
}
