//! Newton's method for a case with Butler-Volmer boundaries (ARCHITECTURE.md, "Electrode kinetics"): the driver
//! around the linear solve. Each step refills the kinetic faces' matrix entries on the fixed pattern
//! (`fem::Assembly::linearize_kinetics`), solves that SPD system of Robin shape with the case's solver (the CPU or
//! the GPU; the loop runs on the host), and takes the longest step of 1, 1/2, 1/4, ... that lowers the residual
//! (Armijo backtracking), so that large overpotentials converge from a zero start; a full step that barely lowers
//! the residual is tried twice, four times, ... as long as the residual keeps falling. The linear tolerance follows
//! the residual (inexact Newton, Eisenstat-Walker): loose far from the solution, tight near it.

use super::StudyError;
use crate::fem::{Assembly, KineticResidual};
use crate::solver::settings::SolverSettings;
use crate::solver::{CgOptions, CgReport, PreconditionerReport, SolveError, SymmetricSolver};
use serde::Serialize;
use std::time::Instant;

/// Halvings of a step before the line search gives up.
const MAX_HALVINGS: usize = 30;
/// The longest multiple of the Newton update a step may take (see the extrapolation in [`solve`]).
const MAX_EXTRAPOLATION: f64 = 1024.0;
/// Newton's start: each kinetic electrode's nodes within the potentials where |j_out| <= this (A/m^2, 1 A/cm^2;
/// `Assembly::clamp_to_kinetic_band`).
const START_CURRENT_DENSITY: f64 = 1e4;
/// A residual within this many units of round-off of its terms is as small as it can get (`KineticResidual::terms`).
const ROUNDOFF: f64 = 256.0 * f64::EPSILON;
/// The loosest linear tolerance of a step.
const LOOSEST_LINEAR_RTOL: f64 = 0.1;

/// One Newton step: the residual it started from, the step it took and what that step cost.
#[derive(Debug, Clone, Serialize)]
pub struct NewtonStep {
    /// ||r|| / (||b|| + ||q||) at the start of the step: r the nonlinear residual, b the right-hand side without
    /// kinetics, q the kinetic outflows at the free nodes.
    pub relative_residual: f64,
    /// The multiple of the Newton update taken: 1, shortened by the line search, or longer on an exponential's
    /// slow side.
    pub step_length: f64,
    /// The linear solve's tolerance and iterations.
    pub linear_rtol: f64,
    pub linear_iterations: usize,
    /// The largest relative change of a kinetic boundary's current over the step.
    pub current_change: f64,
}

/// Newton's history: the steps, and the relative residual reached.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewtonReport {
    pub steps: Vec<NewtonStep>,
    pub relative_residual: f64,
    pub seconds: f64,
}

/// Why Newton's method stopped without an answer.
#[derive(Debug, thiserror::Error)]
pub enum NewtonError {
    #[error(
        "Newton's method did not converge in {steps} steps: relative residual {relative_residual:.3e} (target \
         {target:.1e}); no result is reported. The Butler-Volmer boundaries' values may be extreme (check \
         exchange_current_density and the potentials), raise solver.max_newton_steps, or loosen solver.rtol"
    )]
    NoConvergence { steps: usize, relative_residual: f64, target: f64 },
    #[error(
        "Newton's method stalled at step {step}: no step along the Newton direction lowers the residual \
         (relative residual {relative_residual:.3e}, target {target:.1e}); no result is reported. Loosen \
         solver.rtol, or check the Butler-Volmer boundaries' values"
    )]
    Stalled { step: usize, relative_residual: f64, target: f64 },
}

/// The nonlinear system of `assembly` (with kinetic faces) solved from zero (its kinetic electrodes' nodes moved
/// near rest). Returns the unknowns' values, a report
/// of the whole solve (iterations, seconds and setup seconds summed over the steps, the Newton residuals as its
/// history, the last step's preconditioner) and Newton's history. The matrix is left linearized at the solution (the duals of
/// the error estimates use it).
pub fn solve(
    assembly: &mut Assembly,
    solver: &mut dyn SymmetricSolver,
    settings: &SolverSettings,
) -> Result<(Vec<f64>, CgReport, NewtonReport), StudyError> {
    let clock = Instant::now();
    let target = settings.rtol.max(1e-13);
    let mut x = vec![0.0; assembly.matrix.nrows];
    assembly.clamp_to_kinetic_band(&mut x, START_CURRENT_DENSITY);
    assembly.restore_base();
    let mut current = assembly.kinetic_residual(&x);
    let mut steps: Vec<NewtonStep> = Vec::new();
    let mut last_report: Option<CgReport> = None;
    let mut setup_seconds = 0.0;
    let mut previous_relative = f64::NAN;
    // The multigrid setup of the first step is kept while it pays: a step whose solve needs more than twice the
    // iterations per decade of residual that the fresh setup needed builds a new one for the next step.
    let mut fresh_rate = f64::INFINITY;
    let mut rebuild = true;
    loop {
        let relative = relative_residual(&current);
        let settled = steps.last().is_none_or(|s| s.current_change <= target.sqrt());
        let at_roundoff = current.norm <= ROUNDOFF * current.terms;
        if (relative <= target && settled) || at_roundoff {
            break;
        }
        if steps.len() >= settings.max_newton_steps {
            let error = NewtonError::NoConvergence { steps: steps.len(), relative_residual: relative, target };
            return Err(error.into());
        }
        // Eisenstat-Walker (choice 2), never tighter than the case's rtol nor than the target needs.
        let forcing =
            if previous_relative.is_nan() { LOOSEST_LINEAR_RTOL } else { 0.9 * (relative / previous_relative).powi(2) };
        let needed = (0.5 * target / relative).max(ROUNDOFF * current.terms / current.norm);
        let linear_rtol = forcing.max(needed).clamp(settings.rtol, LOOSEST_LINEAR_RTOL);
        assembly.linearize_kinetics(&x);
        let mut update = vec![0.0; x.len()];
        let options = CgOptions { rtol: linear_rtol, ..settings.cg_options() };
        solver.reuse_setup(!rebuild);
        let solved = solver.solve(&assembly.matrix, &current.residual, &mut update, &options);
        solver.reuse_setup(false);
        let report: CgReport = match solved {
            // Any update that lowers the linear residual well is a descent direction (the line search checks it):
            // a solve that stalls above a tight tolerance near the solution (round-off) still serves.
            Err(SolveError::NoConvergence { report, .. }) if report.relative_residual < LOOSEST_LINEAR_RTOL => *report,
            result => result?,
        };
        assembly.restore_base();
        setup_seconds += report.preconditioner.setup_seconds;
        let rate = report.iterations as f64 / (1.0 / report.relative_residual.max(1e-300)).log10().max(1.0);
        if rebuild {
            fresh_rate = rate;
        }
        rebuild = rate > 2.0 * fresh_rate;

        let try_step = |length: f64| {
            let trial_x: Vec<f64> = x.iter().zip(&update).map(|(x, d)| x + length * d).collect();
            let trial = assembly.kinetic_residual(&trial_x);
            (trial_x, trial)
        };
        let mut step_length = 1.0;
        let mut halvings = 0;
        let (mut trial_x, mut trial) = loop {
            let (trial_x, trial) = try_step(step_length);
            if trial.norm.is_finite() && trial.norm <= (1.0 - 1e-4 * step_length) * current.norm {
                break (trial_x, trial);
            }
            halvings += 1;
            if halvings > MAX_HALVINGS {
                let error = NewtonError::Stalled { step: steps.len() + 1, relative_residual: relative, target };
                return Err(error.into());
            }
            step_length *= 0.5;
        };
        // A full step that barely lowers the relative residual is an exponential's slow side (an overpotential far too
        // large shrinks by about V_T / alpha per step): longer steps along the same direction, while they lower
        // the residual further, save those steps. Near the solution a full step lowers it far more, and Newton's
        // quadratic convergence is untouched.
        if halvings == 0 {
            while relative_residual(&trial) > 0.5 * relative && step_length < MAX_EXTRAPOLATION {
                let (longer_x, longer) = try_step(2.0 * step_length);
                if !(longer.norm.is_finite() && longer.norm < trial.norm) {
                    break;
                }
                (trial_x, trial, step_length) = (longer_x, longer, 2.0 * step_length);
            }
        }
        let current_change = current
            .kinetic_currents
            .iter()
            .zip(&trial.kinetic_currents)
            .filter(|(_, &new)| new != 0.0)
            .map(|(old, new)| ((new - old) / new).abs())
            .fold(0.0, f64::max);
        steps.push(NewtonStep {
            relative_residual: relative,
            step_length,
            linear_rtol,
            linear_iterations: report.iterations,
            current_change,
        });
        last_report = Some(report);
        previous_relative = relative;
        x = trial_x;
        current = trial;
    }
    assembly.linearize_kinetics(&x);
    let relative = relative_residual(&current);
    let newton = NewtonReport { steps, relative_residual: relative, seconds: clock.elapsed().as_secs_f64() };
    let report = match last_report {
        Some(last) => CgReport {
            iterations: newton.steps.iter().map(|s| s.linear_iterations).sum(),
            relative_residual: relative,
            residual_history: newton.steps.iter().map(|s| s.relative_residual).chain([relative]).collect(),
            converged: true,
            seconds: newton.seconds,
            // Every setup the steps made (a kept one costs nothing), not only the last step's.
            preconditioner: PreconditionerReport { setup_seconds, ..last.preconditioner },
            ..last
        },
        // The zero start solved it (no current anywhere): one linear solve of the linearized system reports it.
        None => {
            let mut zero = vec![0.0; x.len()];
            let rhs = vec![0.0; x.len()];
            solver.solve(&assembly.matrix, &rhs, &mut zero, &settings.cg_options())?
        }
    };
    Ok((x, report, newton))
}

fn relative_residual(residual: &KineticResidual) -> f64 {
    if residual.scale > 0.0 {
        residual.norm / residual.scale
    } else {
        0.0
    }
}

/// Newton's method as a driver (the one `super::driver_for` picks for a system with kinetic faces).
pub struct Newton;

impl super::Driver for Newton {
    fn run(
        &mut self,
        assembly: &mut Assembly,
        context: &mut super::SolverContext,
    ) -> Result<super::Outcome, StudyError> {
        let (solver, settings) = context.parts();
        let (x, report, newton) = solve(assembly, solver, settings)?;
        Ok(super::Outcome { x, report, newton: Some(newton) })
    }
}
