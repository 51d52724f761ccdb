//! A solved case ([`Solution`]: what the post step made, which the summary and the writers read), and steps 3
//! to 4b on one mesh (assemble, solve with the driver the system needs, recover the fluxes, estimate the
//! currents' errors): the state the post step reads. The pipeline runs it on the case's mesh; the adaptive loop
//! (`app::adapt`) on each cycle's, and hands its last cycle's state to the post step as it is.

use super::progress::{NodeStages, Stage};
use super::{return_free_memory, RunError, RunOptions};
use crate::analysis::estimate::{self, CurrentEstimates, SolvedSystem};
use crate::analysis::AnalysisError;
use crate::analysis::{Analysis, SolvedField};
use crate::case::Case;
use crate::fem::{post, BoundaryCondition, KineticSurface};
use crate::fem::{FluxRecovery, Problem};
use crate::io::{self, summary::Timings};
use crate::mesh::quality::MeshQuality;
use crate::mesh::Mesh;
use crate::solver::CgReport;
use crate::study::newton::NewtonReport;
use crate::study::{self, MeshSource, SolverContext};
use glam::DVec3;
use std::time::Instant;

/// Step 2 from `source`, with a progress bar per mesher stage: the mesh, its statistics, and the run's timings
/// so far (the meshing seconds).
pub fn mesh_from(source: &MeshSource, progress: bool) -> Result<(Mesh, MeshQuality, Timings), RunError> {
    let clock = Instant::now();
    let mut stages = NodeStages::new(progress);
    let meshed = source.mesh(&mut |p| stages.update(p.stage, p.fraction, p.nodes));
    stages.finish();
    let (mesh, quality) = meshed.map_err(AnalysisError::from)?;
    return_free_memory();
    Ok((mesh, quality, Timings { mesh: clock.elapsed().as_secs_f64(), ..Timings::default() }))
}

/// A case's problem solved on a mesh, its fluxes recovered and its currents estimated.
pub struct SolvedMesh {
    pub mesh: Mesh,
    pub quality: MeshQuality,
    pub problem: Problem<'static>,
    pub recovery: FluxRecovery,
    /// Nodal potential (V).
    pub phi: Vec<f64>,
    pub report: CgReport,
    pub newton: Option<NewtonReport>,
    pub unknowns: usize,
    pub nonzeros: usize,
    /// The consistent current leaving through each boundary face (A), and their sums per boundary tag.
    pub face_outflows: Vec<[f64; 3]>,
    pub boundary_currents: Vec<f64>,
    /// Empty when the case asks for none.
    pub estimates: CurrentEstimates,
    pub timings: Timings,
}

/// Steps 3 to 4b. `located`: the estimates also say where the error lies (the adaptive loop's indicators).
/// `timings` comes with the meshing time; the steps add theirs.
/// With `--export-system`, the free nodes of the system go next to it (`free_nodes.txt`: the last system's on
/// an adaptive run).
pub fn solve_mesh(
    case: &Case,
    mesh: Mesh,
    quality: MeshQuality,
    mut timings: Timings,
    context: &mut SolverContext,
    options: &RunOptions,
    located: bool,
) -> Result<SolvedMesh, RunError> {
    let progress = options.progress;
    // 3. Assemble: materials per region, conditions per boundary, Dirichlet lifted out.
    let clock = Instant::now();
    let stage = Stage::new("assembly", progress);
    let (problem, mut assembly) = study::assemble(case, &mesh).map_err(AnalysisError::from)?;
    return_free_memory();
    stage.finish();
    timings.assemble = clock.elapsed().as_secs_f64();
    if let Some(dir) = &options.export_system {
        io::matrix_market::write_free_nodes(&dir.join("free_nodes.txt"), &assembly.free_nodes)?;
    }

    // 4. Solve: the linear system, or Newton's method with Butler-Volmer boundaries.
    let clock = Instant::now();
    let stage = Stage::new("solving", progress);
    stage.update(0.0, &format!("{} unknowns", assembly.matrix.nrows));
    let solved = study::solve(&mut assembly, context);
    stage.finish();
    let (phi, report, newton) = solved.map_err(AnalysisError::from)?;
    timings.solve = clock.elapsed().as_secs_f64();
    let (unknowns, nonzeros) = (assembly.matrix.nrows, assembly.matrix.nnz());
    let recovery = FluxRecovery::new(&mesh, &problem, &assembly);

    // 4b. The duals of the error estimates: one solve on the same matrix per group of currents (ARCHITECTURE.md,
    // "Error estimates"); the matrix is then dropped.
    let duals = if case.analysis.error_estimates || located {
        let stage = Stage::new("dual solves", progress);
        let duals = estimate::solve_duals(case, &mesh, &problem, &assembly, &recovery, context);
        stage.finish();
        Some(duals?)
    } else {
        None
    };
    drop(assembly);
    let face_outflows = recovery.face_outflows(&phi);
    let boundary_currents = recovery.boundary_currents_from(&face_outflows);
    let estimates = match duals {
        Some(duals) => {
            let solved = SolvedSystem { mesh: &mesh, problem: &problem, phi: &phi, currents: &boundary_currents };
            estimate::estimate_currents(&solved, duals, located)
        }
        None => CurrentEstimates::default(),
    };
    timings.estimate = estimates.seconds;
    Ok(SolvedMesh {
        mesh,
        quality,
        problem,
        recovery,
        phi,
        report,
        newton,
        unknowns,
        nonzeros,
        face_outflows,
        boundary_currents,
        estimates,
        timings,
    })
}

/// A solved case: the mesh, the fields and the numbers of the summary.
pub struct Solution {
    pub mesh: Mesh,
    pub quality: MeshQuality,
    pub region_coefficient: Vec<f64>,
    pub conditions: Vec<BoundaryCondition>,
    /// Nodal potential (V).
    pub phi: Vec<f64>,
    /// Current density per tet and recovered per node (A/m^2).
    pub cell_current: Vec<DVec3>,
    pub node_current: Vec<DVec3>,
    /// Current leaving the domain through each boundary tag (A).
    pub boundary_currents: Vec<f64>,
    /// How far each of those can be off through cancellation and the solve's residual (A,
    /// `fem::FluxRecovery::boundary_current_bounds`): a current below its bound is not resolved.
    pub boundary_current_bounds: Vec<f64>,
    /// The consistent current leaving through each boundary face, held by its three nodes (A).
    pub face_outflows: Vec<[f64; 3]>,
    /// The error estimate of each of those currents (`analysis::estimate`; empty when not asked for).
    pub estimates: CurrentEstimates,
    /// Area and area-mean potential of each boundary tag.
    pub boundary_means: Vec<post::BoundaryMean>,
    /// Resistance (Ohm m^2), current and potential jump of each internal resistive interface.
    pub interface_resistance: Vec<f64>,
    pub interface_currents: Vec<post::InterfaceCurrent>,
    /// Current through each measurement surface (`Mesh::surfaces`) along its orientation (A).
    pub surface_currents: Vec<f64>,
    /// Each Butler-Volmer boundary's overpotentials and current densities.
    pub kinetic_surfaces: Vec<KineticSurface>,
    pub report: CgReport,
    /// Newton's history, for a case with Butler-Volmer boundaries.
    pub newton: Option<NewtonReport>,
    pub unknowns: usize,
    pub nonzeros: usize,
    pub timings: Timings,
    /// What the case's `[analysis]` asked for.
    pub analysis: Analysis,
    /// The adaptive loop that made the mesh, if the case asked for one.
    pub adapt: Option<crate::io::summary::AdaptSummary>,
}

impl Solution {
    /// The solved field as the analyses read it.
    pub fn field(&self) -> SolvedField<'_> {
        SolvedField {
            mesh: &self.mesh,
            phi: &self.phi,
            cell_current: &self.cell_current,
            node_current: &self.node_current,
            boundary_currents: &self.boundary_currents,
            face_outflows: &self.face_outflows,
        }
    }
}
