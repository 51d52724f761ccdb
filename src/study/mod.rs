//! The study layer (ARCHITECTURE.md, "The study layer"): what every solve of a run goes through. A case's mesh
//! comes from a [`MeshSource`] (step 2), is assembled into a system whose values can be refilled on its pattern
//! (step 3), and a [`Driver`] solves it with the run's [`SolverContext`] (step 4); the currents come from the
//! [`FluxRecovery`] built once it is solved. The pipeline walks these steps for the case; the analyses, the
//! adaptive loop and sweeps call the same functions for their variants, cycles and points, with the same
//! context, so no analysis calls back into the pipeline.

mod context;
mod driver;
pub mod newton;
mod source;

pub use context::SolverContext;
pub use driver::{driver_for, Driver, Linear, Outcome};
pub use source::MeshSource;

use crate::case::{Case, CaseError};
use crate::fem::{self, Assembly, FemError, FluxRecovery, Problem};
use crate::mesh::quality::MeshQuality;
use crate::mesh::{Mesh, MeshError, MeshProgress};
use crate::solver::{CgReport, SolveError};
use newton::NewtonReport;

/// Anything that stops steps 2 to 4, typed by stage.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    #[error(transparent)]
    Case(#[from] CaseError),
    #[error("meshing failed: {0}")]
    Mesh(#[from] MeshError),
    #[error(transparent)]
    Import(#[from] crate::mesh::gmsh::ImportError),
    #[error("assembly failed: {0}")]
    Fem(#[from] FemError),
    #[error(transparent)]
    Solve(#[from] SolveError),
    #[error(transparent)]
    Newton(#[from] newton::NewtonError),
}

/// The case's problem on a mesh, solved: what the analyses read of a variant.
pub struct Solved {
    pub problem: Problem<'static>,
    pub recovery: FluxRecovery,
    /// Nodal potential (V), Dirichlet values included.
    pub phi: Vec<f64>,
    pub report: CgReport,
}

/// Step 2 from the case's own source.
pub fn mesh_case(case: &Case, progress: &mut dyn FnMut(MeshProgress)) -> Result<(Mesh, MeshQuality), StudyError> {
    MeshSource::of(case).mesh(progress)
}

/// Step 3: materials per region, conditions per boundary, Dirichlet lifted out.
pub fn assemble(case: &Case, mesh: &Mesh) -> Result<(Problem<'static>, Assembly), StudyError> {
    let problem = case.problem(mesh)?;
    let assembly = fem::assemble(mesh, &problem)?;
    Ok((problem, assembly))
}

/// Step 4 with the driver the system needs ([`driver_for`]): the nodal potential with the Dirichlet values, the
/// solve's report and Newton's history.
pub fn solve(
    assembly: &mut Assembly,
    context: &mut SolverContext,
) -> Result<(Vec<f64>, CgReport, Option<NewtonReport>), StudyError> {
    solve_with(driver_for(assembly).as_mut(), assembly, context)
}

/// Step 4 with a given driver.
pub fn solve_with(
    driver: &mut dyn Driver,
    assembly: &mut Assembly,
    context: &mut SolverContext,
) -> Result<(Vec<f64>, CgReport, Option<NewtonReport>), StudyError> {
    let Outcome { x, report, newton } = driver.run(assembly, context)?;
    Ok((assembly.expand(&x), report, newton))
}

/// Steps 3 and 4 on a given mesh, and the flux recovery: variants of a case that differ only in boundary
/// conditions reuse its mesh.
pub fn assemble_and_solve(case: &Case, mesh: &Mesh, context: &mut SolverContext) -> Result<Solved, StudyError> {
    let (problem, mut assembly) = assemble(case, mesh)?;
    let (phi, report, _) = solve(&mut assembly, context)?;
    let recovery = FluxRecovery::new(mesh, &problem, &assembly);
    Ok(Solved { problem, recovery, phi, report })
}

/// Steps 2 to 4 for a variant of a case with its own geometry: the current leaving through each boundary tag
/// of its mesh (A).
pub fn boundary_currents(case: &Case, context: &mut SolverContext) -> Result<Vec<f64>, StudyError> {
    let (mesh, _) = mesh_case(case, &mut |_| {})?;
    let solved = assemble_and_solve(case, &mesh, context)?;
    Ok(solved.recovery.boundary_currents(&solved.phi))
}
