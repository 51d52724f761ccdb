//! The driver seam of the study layer (ARCHITECTURE.md, "The study layer"): a driver written outside the crate
//! plugs into `study::solve_with` and solves the same system as the linear driver, to the solver's tolerance.

use ionflux::case::{Case, DEFAULT_CASE_TOML, DEFAULT_SOURCE};
use ionflux::fem::{Assembly, FluxRecovery};
use ionflux::solver::cpu::AmgSolver;
use ionflux::solver::vector::norm;
use ionflux::solver::{CgOptions, CgReport};
use ionflux::study::{self, Driver, Linear, Outcome, SolverContext, StudyError};

/// Defect correction: loose solves of A d = b - A x, each added to x, until the true residual meets the context's
/// tolerance. Counts its passes.
struct DefectCorrection {
    loose_rtol: f64,
    passes: usize,
}

impl Driver for DefectCorrection {
    fn run(&mut self, assembly: &mut Assembly, context: &mut SolverContext) -> Result<Outcome, StudyError> {
        let (solver, settings) = context.parts();
        let (a, b) = (&assembly.matrix, &assembly.rhs);
        let mut x = vec![0.0; a.nrows];
        let mut residual = b.clone();
        let mut iterations = 0;
        let mut last: Option<CgReport> = None;
        while norm(&residual) > settings.rtol * norm(b) {
            let mut correction = vec![0.0; a.nrows];
            let options = CgOptions { rtol: self.loose_rtol, ..settings.cg_options() };
            let report = solver.solve(a, &residual, &mut correction, &options)?;
            iterations += report.iterations;
            last = Some(report);
            x.iter_mut().zip(&correction).for_each(|(x, d)| *x += d);
            a.residual(b, &x, &mut residual);
            self.passes += 1;
        }
        let relative_residual = norm(&residual) / norm(b);
        let report = CgReport { iterations, relative_residual, ..last.expect("at least one pass") };
        Ok(Outcome { x, report, newton: None })
    }
}

#[test]
fn a_defect_correction_driver_gives_the_linear_drivers_currents() {
    let case = Case::from_toml_str(DEFAULT_CASE_TOML, DEFAULT_SOURCE, &["mesh.h_max=\"1 um\"".into()]).unwrap();
    let (mesh, _) = study::mesh_case(&case, &mut |_| {}).unwrap();
    let mut amg = AmgSolver::default();
    let mut context = SolverContext::lending(&mut amg, &case.solver);
    let mut currents = |driver: &mut dyn Driver| {
        let (problem, mut assembly) = study::assemble(&case, &mesh).unwrap();
        let (phi, report, _) = study::solve_with(driver, &mut assembly, &mut context).unwrap();
        assert!(report.relative_residual <= case.solver.rtol, "{:e}", report.relative_residual);
        FluxRecovery::new(&mesh, &problem, &assembly).boundary_currents(&phi)
    };
    let linear = currents(&mut Linear);
    let mut correction = DefectCorrection { loose_rtol: 1e-3, passes: 0 };
    let corrected = currents(&mut correction);
    // 1e-3 per pass to 1e-10: at least three passes.
    assert!(correction.passes >= 3, "{} passes", correction.passes);
    let largest = linear.iter().map(|c| c.abs()).fold(0.0, f64::max);
    for (tag, (l, c)) in linear.iter().zip(&corrected).enumerate() {
        assert!((l - c).abs() <= 1e-7 * largest, "boundary {tag}: linear {l:e}, defect correction {c:e}");
    }
}
