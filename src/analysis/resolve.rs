//! The solve service: a case's problem meshed (step 2), assembled (step 3) and solved (step 4). The pipeline
//! walks these steps for the case itself; the analyses call them for variants of the case (another potential,
//! a shrunk sphere, the voids' reference), so no analysis calls back into the pipeline (ARCHITECTURE.md).

use super::newton::NewtonReport;
use super::AnalysisError;
use crate::case::Case;
use crate::fem::{self, Assembly, Problem};
use crate::mesh::quality::MeshQuality;
use crate::mesh::{self, Mesh, MeshProgress};
use crate::solver::settings::SolverSettings;
use crate::solver::sparse::CsrMatrix;
use crate::solver::{CgReport, SolveError, SymmetricSolver};

/// The case's problem on a mesh, assembled and solved.
pub struct Solved {
    pub problem: Problem<'static>,
    pub assembly: Assembly,
    /// Nodal potential (V), Dirichlet values included.
    pub phi: Vec<f64>,
    pub report: CgReport,
}

/// Step 2: the case's geometry meshed, graded toward the interface and the hot spots, with the mesh's
/// statistics. `progress` receives (stage name, fraction done).
/// A case with `[mesh] file` reads its mesh from the file instead.
pub fn mesh_case(case: &Case, progress: &mut dyn FnMut(MeshProgress)) -> Result<(Mesh, MeshQuality), AnalysisError> {
    if let Some(file) = &case.mesh_file {
        let imported = mesh::gmsh::read_msh(&file.path, file.unit_m)?;
        let mut quality = MeshQuality::of(&imported.mesh);
        quality.dropped_nodes = imported.dropped_nodes;
        return Ok((imported.mesh, quality));
    }
    Ok(mesh::hotspot::generate_measured(&case.geometry, &case.mesh, progress)?)
}

/// Step 3: materials per region, conditions per boundary, Dirichlet lifted out. The reaction rows the currents
/// need are left out: add them (`Assembly::add_reaction`) after the solve, as [`assemble_and_solve`] does.
pub fn assemble(case: &Case, mesh: &Mesh) -> Result<(Problem<'static>, Assembly), AnalysisError> {
    let problem = case.problem(mesh)?;
    let assembly = fem::assemble_system(mesh, &problem)?;
    Ok((problem, assembly))
}

/// Step 4: the reduced SPD system solved from zero, or with Butler-Volmer boundaries the nonlinear system by
/// Newton's method ([`super::newton`]); returns the nodal potential with the Dirichlet values, the solve's report
/// and Newton's history. A solve that misses its tolerance is an error, unless `solver.accept_unconverged` keeps
/// a linear one (its report then says `converged: false`).
pub fn solve(
    assembly: &mut Assembly,
    solver: &mut dyn SymmetricSolver,
    settings: &SolverSettings,
) -> Result<(Vec<f64>, CgReport, Option<NewtonReport>), AnalysisError> {
    if assembly.has_kinetics() {
        let (x, report, newton) = super::newton::solve(assembly, solver, settings)?;
        return Ok((assembly.expand(&x), report, Some(newton)));
    }
    let (x, report) = solve_system(&assembly.matrix, &assembly.rhs, solver, settings)?;
    Ok((assembly.expand(&x), report, None))
}

/// A reduced system solved from zero under the case's solver settings (the primal's, or a dual's right-hand
/// side on the same matrix): the values of the unknowns and the report.
pub fn solve_system(
    matrix: &CsrMatrix,
    rhs: &[f64],
    solver: &mut dyn SymmetricSolver,
    settings: &SolverSettings,
) -> Result<(Vec<f64>, CgReport), AnalysisError> {
    let mut x = vec![0.0; matrix.nrows];
    let report = match solver.solve(matrix, rhs, &mut x, &settings.cg_options()) {
        Err(SolveError::NoConvergence { report, .. }) if settings.accept_unconverged => *report,
        result => result?,
    };
    Ok((x, report))
}

/// Steps 3 and 4 on a given mesh: variants of a case that differ only in boundary conditions reuse its mesh.
pub fn assemble_and_solve(case: &Case, mesh: &Mesh, solver: &mut dyn SymmetricSolver) -> Result<Solved, AnalysisError> {
    let (problem, mut assembly) = assemble(case, mesh)?;
    let (phi, report, _) = solve(&mut assembly, solver, &case.solver)?;
    assembly.add_reaction(mesh, &problem);
    Ok(Solved { problem, assembly, phi, report })
}

/// Steps 2 to 4 for a variant of a case with its own geometry: the current leaving through each boundary tag
/// of its mesh (A).
pub fn boundary_currents(case: &Case, solver: &mut dyn SymmetricSolver) -> Result<Vec<f64>, AnalysisError> {
    let (mesh, _) = mesh_case(case, &mut |_| {})?;
    let solved = assemble_and_solve(case, &mesh, solver)?;
    Ok(solved.assembly.boundary_currents(&solved.phi))
}
