//! The main path as a numbered walkthrough (ARCHITECTURE.md, "The pipeline"):
//! 1 case -> 2 mesh -> 3 assemble -> 4 solve -> 5 post -> 6 analyse -> 7 write.
//! Steps 2 to 4 are the solve service of [`crate::analysis::resolve`], which the analyses use for their own
//! variants of the case; the CLI and the tests call the functions here.

use super::export::ExportingSolver;
use crate::analysis::estimate::{self, CurrentEstimates, SolvedSystem};
use crate::analysis::newton::NewtonReport;
use crate::analysis::resolve;
use crate::analysis::{self, Analysis, AnalysisError, SolvedField};
use crate::app::progress::{NodeStages, Stage};
use crate::case::{Case, OutputSettings};
use crate::fem::{kinetic_surfaces, post, BoundaryCondition, KineticSurface};
use crate::gpu::select::BackendError;
use crate::io::plot::PlotError;
use crate::io::summary::{
    CaseInfo, Conservation, Current, InterfaceSummary, KineticSummary, SolverSummary, Summary, SurfaceCurrent, Timings,
};
use crate::io::{self, vtu};
use crate::mesh::{quality::MeshQuality, Mesh};
use crate::solver::amg::LevelInfo;
use crate::solver::{CgReport, SymmetricSolver};
use glam::DVec3;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Anything that stops a run, typed by stage; the CLI prints it as one or two sentences.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    #[error(transparent)]
    Output(#[from] io::OutputError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Plot(#[from] PlotError),
}

/// How a run behaves, beyond what the case file says.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Show progress bars on stages longer than a second.
    pub progress: bool,
    /// Write the reduced system and ionflux's solution of it into this folder, in `export_format`.
    pub export_system: Option<PathBuf>,
    pub export_format: io::SystemFormat,
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
    /// `fem::Assembly::boundary_current_bounds`): a current below its bound is not resolved.
    pub boundary_current_bounds: Vec<f64>,
    /// The consistent current leaving through each boundary face, held by its three nodes (A).
    pub face_outflows: Vec<[f64; 3]>,
    /// The error estimate of each of those currents (`analysis::estimate`; empty when not asked for).
    pub estimates: CurrentEstimates,
    /// Area-mean potential of each boundary tag (V).
    pub boundary_potentials: Vec<f64>,
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

/// Step 2 with a progress bar per mesher stage, and the mesh's statistics.
pub fn mesh_case(case: &Case, options: &RunOptions) -> Result<(Mesh, MeshQuality), RunError> {
    let mut stages = NodeStages::new(options.progress);
    let meshed = resolve::mesh_case(case, &mut |p| stages.update(p.stage, p.fraction, p.nodes));
    stages.finish();
    Ok(meshed?)
}

/// Steps 2-6 for one case on the solver the case asks for.
pub fn solve_case(case: &Case, options: &RunOptions) -> Result<Solution, RunError> {
    let mut solver = select_solver(case, options)?;
    solve_case_with(case, solver.as_mut(), options)
}

/// The solver the case's `[solver]` asks for (notes such as "no GPU, solving on the CPU" on stderr unless
/// quiet). A caller solving several cases with the same settings keeps it: one device, and the multigrid setup
/// reused while the matrix stays the same.
pub fn select_solver(case: &Case, options: &RunOptions) -> Result<Box<dyn SymmetricSolver>, RunError> {
    let quiet = !options.progress;
    let notice = Box::new(move |line: &str| {
        if !quiet {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "note: {line}");
        }
    });
    if case.solver.backend == crate::solver::settings::Backend::Petsc {
        return petsc_solver(case);
    }
    Ok(crate::gpu::select::select(&case.solver, notice)?)
}

/// The PETSc solver (ARCHITECTURE.md, "PETSc and MPI"), PETSc and MPI started on first use.
#[cfg(feature = "petsc")]
fn petsc_solver(case: &Case) -> Result<Box<dyn SymmetricSolver>, RunError> {
    let solver =
        crate::petsc::PetscSolver::new(&case.solver.petsc_options).map_err(|e| BackendError::Petsc(e.to_string()))?;
    Ok(Box::new(solver))
}

#[cfg(not(feature = "petsc"))]
fn petsc_solver(_case: &Case) -> Result<Box<dyn SymmetricSolver>, RunError> {
    let reason = "this ionflux was built without PETSc; build it with `cargo build --release --features petsc` (needs \
                  Debian's petsc-dev, found by pkg-config as PETSc)";
    Err(BackendError::Petsc(reason.into()).into())
}

/// Hands the memory the allocator holds free back to the system. The mesher and the assembly free many
/// mid-sized blocks that glibc keeps in its heaps: without this the solve starts with about 80 B per node
/// that nothing uses (measured on `meshes/random_200.toml`, BENCHMARKS.md), and the run's peak is that much
/// higher. A few milliseconds; nothing to do on other allocators.
fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages of the allocator's own heaps; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Steps 2-6 with a given solver (tests compare backends on one case this way). With `[adapt]`, step 2 is the
/// adaptive loop (`app::adapt`), and steps 3-6 run on its last mesh.
pub fn solve_case_with(
    case: &Case,
    solver: &mut dyn SymmetricSolver,
    options: &RunOptions,
) -> Result<Solution, RunError> {
    // 2. Mesh (adaptively when asked: each cycle reported on stderr unless quiet).
    let clock = Instant::now();
    let (mesh, quality, adapted) = match &case.adapt {
        Some(settings) => {
            let quiet = !options.progress;
            let mut report = |c: &crate::io::summary::AdaptCycle| {
                if !quiet {
                    use std::io::Write;
                    let _ = writeln!(
                        std::io::stderr(),
                        "adapt cycle: {} nodes, worst estimate {:.3} % ({}: {:.5e} A), {:.1} s",
                        c.nodes,
                        100.0 * c.worst_relative_estimate,
                        c.worst_current,
                        c.current_a,
                        c.seconds
                    );
                }
            };
            let (mesh, quality, summary) = super::adapt::adapt(case, settings, solver, options.progress, &mut report)?;
            (mesh, quality, Some(summary))
        }
        None => {
            let (mesh, quality) = mesh_case(case, options)?;
            (mesh, quality, None)
        }
    };
    return_free_memory();
    let timings = Timings { mesh: clock.elapsed().as_secs_f64(), ..Timings::default() };
    let mut solution = solve_meshed(case, mesh, quality, timings, solver, options)?;
    solution.adapt = adapted;
    Ok(solution)
}

/// Steps 3-6 on a mesh of the case made earlier (a sweep point that changes no geometry or mesh key reuses the
/// previous point's mesh); `timings` holds the meshing time, zero for a reused mesh.
pub fn solve_meshed(
    case: &Case,
    mesh: Mesh,
    quality: MeshQuality,
    mut timings: Timings,
    solver: &mut dyn SymmetricSolver,
    options: &RunOptions,
) -> Result<Solution, RunError> {
    // `--export-system`: every system solved from here on (the case's and the analyses' re-solves) is written.
    let mut exporting;
    let solver: &mut dyn SymmetricSolver = match &options.export_system {
        Some(dir) => {
            exporting = ExportingSolver::new(solver, dir, options.export_format);
            &mut exporting
        }
        None => solver,
    };

    // 3. Assemble: materials per region, conditions per boundary, Dirichlet lifted out.
    let clock = Instant::now();
    let stage = Stage::new("assembly", options.progress);
    let (problem, mut assembly) = resolve::assemble(case, &mesh)?;
    return_free_memory();
    stage.finish();
    timings.assemble = clock.elapsed().as_secs_f64();

    if let Some(dir) = &options.export_system {
        io::matrix_market::write_free_nodes(&dir.join("free_nodes.txt"), &assembly.free_nodes)?;
    }

    // 4. Solve the reduced SPD system.
    let clock = Instant::now();
    let stage = Stage::new("solving", options.progress);
    stage.update(0.0, &format!("{} unknowns", assembly.matrix.nrows));
    let solved = resolve::solve(&mut assembly, solver, &case.solver);
    stage.finish();
    let (phi, report, newton) = solved?;
    timings.solve = clock.elapsed().as_secs_f64();
    let (unknowns, nonzeros) = (assembly.matrix.nrows, assembly.matrix.nnz());
    assembly.add_reaction(&mesh, &problem);

    // 4b. The duals of the error estimates: one solve on the same matrix per group of currents (ARCHITECTURE.md,
    // "Error estimates"); the matrix is then released.
    let duals = if case.analysis.error_estimates {
        let stage = Stage::new("dual solves", options.progress);
        let duals = estimate::solve_duals(case, &mesh, &problem, &assembly, solver);
        stage.finish();
        Some(duals?)
    } else {
        None
    };
    assembly.release_system();
    let face_outflows = assembly.face_outflows(&phi);
    let boundary_currents = assembly.boundary_currents_from(&face_outflows);
    // The estimates before the post step's fields: their own arrays (the recovered dual gradients) then never
    // meet the current densities in memory.
    let estimates = match duals {
        Some(duals) => {
            let solved = SolvedSystem { mesh: &mesh, problem: &problem, phi: &phi, currents: &boundary_currents };
            estimate::estimate_currents(&solved, duals, false)
        }
        None => CurrentEstimates::default(),
    };
    timings.estimate = estimates.seconds;

    // 5. Post: current densities, consistent boundary and interface currents.
    let clock = Instant::now();
    let cell_current = post::cell_current_density(&mesh, &problem.region_coefficient, &phi);
    let node_current = post::nodal_current_density(&mesh, &cell_current);
    let boundary_current_bounds = assembly.boundary_current_bounds(&phi, report.relative_residual);
    let boundary_potentials = post::boundary_mean_potentials(&mesh, &phi);
    let surface_currents = post::surface_currents(&mesh, &cell_current, &face_outflows);
    let interface_currents = post::interface_currents(&mesh, &problem.interface_resistance, &phi);
    let kinetic_surfaces = kinetic_surfaces(&mesh, &problem.boundary_conditions, &phi);
    timings.post = clock.elapsed().as_secs_f64();

    let mut solution = Solution {
        quality,
        region_coefficient: problem.region_coefficient,
        conditions: problem.boundary_conditions,
        phi,
        cell_current,
        node_current,
        boundary_currents,
        boundary_current_bounds,
        face_outflows,
        estimates,
        boundary_potentials,
        interface_resistance: problem.interface_resistance,
        interface_currents,
        surface_currents,
        kinetic_surfaces,
        report,
        newton,
        unknowns,
        nonzeros,
        timings,
        mesh,
        analysis: Analysis::default(),
        adapt: None,
    };

    // 6. Analyse: cylinder currents, re-lithiation times, voids (which re-solve variants of the case).
    let clock = Instant::now();
    solution.analysis = analysis::analyse(case, solution.field(), solver)?;
    solution.timings.analysis = clock.elapsed().as_secs_f64();
    Ok(solution)
}

fn condition_name(c: &BoundaryCondition) -> &'static str {
    match c {
        BoundaryCondition::Dirichlet { .. } => "dirichlet",
        BoundaryCondition::Neumann { .. } => "neumann",
        BoundaryCondition::Insulating => "insulating",
        BoundaryCondition::Robin { .. } => "robin",
        BoundaryCondition::ButlerVolmer(_) => "butler_volmer",
    }
}

/// The summary entry of a Butler-Volmer boundary (None for other conditions, or one without faces).
fn kinetic_summary(condition: &BoundaryCondition, surfaces: &[KineticSurface], tag: usize) -> Option<KineticSummary> {
    let BoundaryCondition::ButlerVolmer(k) = condition else { return None };
    let surface = surfaces.iter().find(|s| s.tag as usize == tag)?;
    Some(KineticSummary {
        exchange_current_density: k.exchange_current_density,
        alpha_anodic: k.alpha_anodic,
        alpha_cathodic: k.alpha_cathodic,
        equilibrium_potential_v: k.equilibrium_potential,
        electrode_potential_v: k.electrode_potential,
        film_resistance_ohm_m2: k.film_resistance,
        thermal_voltage_v: k.thermal_voltage,
        charge_transfer_resistance_ohm_m2: k.charge_transfer_resistance(),
        area_m2: surface.area_m2,
        mean_overpotential_v: surface.mean_overpotential_v,
        min_overpotential_v: surface.min_overpotential_v,
        max_overpotential_v: surface.max_overpotential_v,
        mean_current_density: surface.mean_current_density(),
        max_current_density: surface.max_current_density,
        non_uniformity: surface.non_uniformity(),
    })
}

/// The summary of a solved case; hot-spot surfaces are listed apart from the box faces.
pub fn summarize(case: &Case, solution: &Solution) -> Summary {
    let is_hotspot = |name: &str| case.geometry.hotspots.iter().any(|h| h.name == name);
    let (mut boundaries, mut hotspots) = (Vec::new(), Vec::new());
    for (tag, name) in solution.mesh.boundary_names.iter().enumerate() {
        let (current_a, bound_a) = (solution.boundary_currents[tag], solution.boundary_current_bounds[tag]);
        let estimate = solution.estimates.boundary.get(tag).copied().flatten();
        let entry = Current {
            error_estimate_a: estimate,
            relative_error_estimate: estimate.filter(|_| current_a != 0.0).map(|e| (e / current_a).abs()),
            geometry_error_estimate_a: estimate.map(|_| solution.estimates.geometry[tag]),
            name: name.clone(),
            condition: condition_name(&solution.conditions[tag]).to_string(),
            current_a,
            resolved: current_a.abs() > bound_a || bound_a == 0.0,
            resolution_bound_a: bound_a,
            mean_potential_v: solution.boundary_potentials[tag],
            kinetics: kinetic_summary(&solution.conditions[tag], &solution.kinetic_surfaces, tag),
        };
        if is_hotspot(name) {
            hotspots.push(entry);
        } else {
            boundaries.push(entry);
        }
    }
    let r = &solution.report;
    Summary {
        ionflux_version: env!("CARGO_PKG_VERSION"),
        case: CaseInfo { name: case.name.clone(), source: case.source.clone(), overrides: case.overrides.clone() },
        mesh: solution.quality,
        solver: SolverSummary {
            backend: r.backend.clone(),
            precision: r.precision.clone(),
            device: r.device.clone(),
            unknowns: solution.unknowns,
            nonzeros: solution.nonzeros,
            iterations: r.iterations,
            converged: r.converged,
            relative_residual: r.relative_residual,
            rtol: case.solver.rtol,
            seconds: r.seconds,
            preconditioner: r.preconditioner.kind.clone(),
            levels: if r.preconditioner.levels.is_empty() {
                vec![LevelInfo { unknowns: solution.unknowns, nonzeros: solution.nonzeros }]
            } else {
                r.preconditioner.levels.clone()
            },
            operator_complexity: r.preconditioner.operator_complexity,
            setup_seconds: r.preconditioner.setup_seconds,
        },
        boundaries,
        hotspots,
        interfaces: solution
            .mesh
            .interface_names
            .iter()
            .zip(&solution.interface_resistance)
            .zip(&solution.interface_currents)
            .enumerate()
            .map(|(tag, ((name, &resistance_ohm_m2), flux))| {
                let estimate = solution.estimates.interfaces.get(tag).copied();
                InterfaceSummary {
                    name: name.clone(),
                    resistance_ohm_m2,
                    current_a: flux.current_a,
                    potential_jump_v: flux.mean_jump_v,
                    error_estimate_a: estimate,
                    relative_error_estimate: estimate
                        .filter(|_| flux.current_a != 0.0)
                        .map(|e| (e / flux.current_a).abs()),
                }
            })
            .collect(),
        surfaces: solution
            .mesh
            .surfaces
            .iter()
            .zip(&solution.surface_currents)
            .map(|(surface, &current_a)| SurfaceCurrent {
                name: surface.name.clone(),
                orientation: surface.orientation.clone(),
                current_a,
            })
            .collect(),
        conservation: Conservation::of(&solution.boundary_currents),
        cylinders: solution.analysis.cylinders.iter().map(|c| c.summary()).collect(),
        lithiation: solution.analysis.lithiation.clone(),
        paper_mode: solution.analysis.paper_mode.clone(),
        voids: solution.analysis.voids.clone(),
        adapt: solution.adapt.clone(),
        newton: solution.newton.clone(),
        warnings: warnings(case, solution),
        timings_s: solution.timings,
    }
}

/// What a reader of the numbers must know: a residual above the tolerance asked for (f32 stops at its floor),
/// currents that are all zero although potentials differ.
fn warnings(case: &Case, solution: &Solution) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(adapt) = solution.adapt.as_ref().filter(|a| !a.met) {
        let last = adapt.cycles.last().map_or(f64::NAN, |c| c.worst_relative_estimate);
        warnings.push(format!(
            "ACCURACY NOT REACHED: the adaptive loop stopped at {} with an estimated error of {:.3} % against the \
             {:.3} % asked for; the currents carry that estimate",
            adapt.stopped_by.as_deref().unwrap_or("a limit"),
            100.0 * last,
            100.0 * adapt.target
        ));
    }
    let r = &solution.report;
    if !r.converged {
        warnings.push(format!(
            "NOT CONVERGED: the solve stopped at a true relative residual of {:.2e}, above solver.rtol = {:.1e} \
             after {} iterations; every number of this run is unconverged (kept by solver.accept_unconverged)",
            r.relative_residual, case.solver.rtol, r.iterations
        ));
    } else if r.relative_residual > case.solver.rtol {
        warnings.push(format!(
            "the solve reached a relative residual of {:.2e}, above solver.rtol = {:.1e} ({} precision on {}): \
             the last digits of the currents are not converged; use --precision mixed or f64",
            r.relative_residual, case.solver.rtol, r.precision, r.backend
        ));
    }
    let potentials: Vec<f64> = solution
        .conditions
        .iter()
        .filter_map(|c| match c {
            BoundaryCondition::Dirichlet { potential } => Some(*potential),
            _ => None,
        })
        .collect();
    let differ = potentials.iter().any(|&p| p != potentials[0]);
    if differ && solution.boundary_currents.iter().all(|&c| c == 0.0) {
        warnings.push("every current is exactly zero although the fixed potentials differ".into());
    }
    for ((name, &current), &bound) in
        solution.mesh.boundary_names.iter().zip(&solution.boundary_currents).zip(&solution.boundary_current_bounds)
    {
        if bound > 0.0 && current.abs() <= bound {
            warnings.push(format!(
                "the current through `{name}` is not resolved: its computed value {current:.2e} A is below the \
                 {bound:.2e} A its terms can cancel to (round-off and the solve's residual); it is only known to \
                 be smaller than that"
            ));
        }
    }
    warnings
}

/// Step 7: write `solution.vtu` and `paper_mode_<label>.vtu` (if `files.vtu`), the J_r(z) profile of every
/// cylinder (`profile_<label>.csv`, the label from the hot spot's name by [`io::file_labels`]) and `summary.json` (if `files.summary_json`) into `out_dir`, each
/// atomically. Returns the paths written.
pub fn write_outputs(
    out_dir: &Path,
    files: &OutputSettings,
    solution: &Solution,
    summary: &Summary,
) -> Result<Vec<PathBuf>, RunError> {
    let mut written = Vec::new();
    if files.vtu {
        let m = &solution.mesh;
        let j_magnitude = |i: usize| solution.node_current[i].length();
        // Butler-Volmer faces follow the tets as triangles carrying eta and j_out (NaN on the tets; the tets'
        // fields are region -1, sigma NaN and J 0 on them).
        let kinetic_faces: Vec<&(u32, f64, f64)> = solution.kinetic_surfaces.iter().flat_map(|s| &s.faces).collect();
        let triangles: Vec<[u32; 3]> = kinetic_faces.iter().map(|f| m.boundary_faces[f.0 as usize].nodes).collect();
        let (tets, cells) = (m.tets.len(), m.tets.len() + triangles.len());
        let region = |c: usize| if c < tets { m.tet_region[c] as i32 } else { -1 };
        let sigma = |c: usize| if c < tets { solution.region_coefficient[m.tet_region[c] as usize] } else { f64::NAN };
        let cell_current = |c: usize| if c < tets { solution.cell_current[c] } else { DVec3::ZERO };
        let eta = |c: usize| if c < tets { f64::NAN } else { kinetic_faces[c - tets].1 };
        let j_out = |c: usize| if c < tets { f64::NAN } else { kinetic_faces[c - tets].2 };
        let mut cell_data = vec![
            vtu::Field { name: "region", unit: "", values: vtu::Values::IntsFn(cells, &region) },
            vtu::Field { name: "sigma", unit: "S/m", values: vtu::Values::ScalarsFn(cells, &sigma) },
            vtu::Field { name: "J", unit: "A/m^2", values: vtu::Values::VectorsFn(cells, &cell_current) },
        ];
        if !triangles.is_empty() {
            cell_data.push(vtu::Field { name: "eta", unit: "V", values: vtu::Values::ScalarsFn(cells, &eta) });
            cell_data.push(vtu::Field { name: "j_out", unit: "A/m^2", values: vtu::Values::ScalarsFn(cells, &j_out) });
        }
        let grid = vtu::Grid {
            points: &m.nodes,
            tets: &m.tets,
            triangles: &triangles,
            point_data: vec![
                vtu::Field { name: "phi", unit: "V", values: vtu::Values::Scalars(&solution.phi) },
                vtu::Field { name: "J", unit: "A/m^2", values: vtu::Values::Vectors(&solution.node_current) },
                vtu::Field {
                    name: "J_magnitude",
                    unit: "A/m^2",
                    values: vtu::Values::ScalarsFn(m.nodes.len(), &j_magnitude),
                },
            ],
            cell_data,
            field_strings: vec![("region_names", &m.region_names)],
        };
        let path = out_dir.join("solution.vtu");
        vtu::write(&path, &grid)?;
        written.push(path);
        let labels = io::file_labels(solution.analysis.paper_mode.iter().map(|p| p.hotspot.as_str()));
        for (paper, label) in solution.analysis.paper_mode.iter().zip(labels) {
            let f = &paper.field;
            let grid = vtu::Grid {
                points: &f.mesh.nodes,
                tets: &f.mesh.tets,
                triangles: &[],
                point_data: vec![vtu::Field { name: "phi", unit: "V", values: vtu::Values::Scalars(&f.potential) }],
                cell_data: vec![vtu::Field {
                    name: "J",
                    unit: "A/m^2",
                    values: vtu::Values::Vectors(&f.current_density),
                }],
                field_strings: vec![],
            };
            let path = out_dir.join(format!("paper_mode_{label}.vtu"));
            vtu::write(&path, &grid)?;
            written.push(path);
        }
    }
    for (cylinder, label) in solution.analysis.cylinders.iter().zip(cylinder_labels(solution)) {
        let path = out_dir.join(format!("profile_{label}.csv"));
        io::write_profile_csv(&path, &cylinder.lateral.profile)?;
        written.push(path);
    }
    if files.summary_json {
        let path = out_dir.join("summary.json");
        io::write_json(&path, summary)?;
        written.push(path);
    }
    Ok(written)
}

/// The file label of each cylinder's hot spot (`profile_<label>.csv|png`): names are data, never paths.
fn cylinder_labels(solution: &Solution) -> Vec<String> {
    io::file_labels(solution.analysis.cylinders.iter().map(|c| c.hotspot.as_str()))
}

/// `--plots`: the J_r(z) profile of every cylinder (`profile_<label>.png`), the adaptive loop's estimates against
/// its node counts (`adapt.png`, log-log, with `[adapt]`), and maps of |J| (log colour scale) with potential contours on the x-z plane through the first hot spot, or the box centre
/// (`jmap.png`; `jmap_near.png` zoomed on the hot spot). Returns the paths written.
pub fn write_plots(out_dir: &Path, case: &Case, solution: &Solution) -> Result<Vec<PathBuf>, RunError> {
    use crate::io::plot::{plot_field_map, plot_radial_profile, ImageSize, VerticalPlane};
    let size = ImageSize { width: 900, height: 600 };
    let mut written = Vec::new();
    for (cylinder, label) in solution.analysis.cylinders.iter().zip(cylinder_labels(solution)) {
        let path = out_dir.join(format!("profile_{label}.png"));
        let title = format!("J_r(z) at r = {:.3e} m around {}", cylinder.lateral.radius_m, cylinder.hotspot);
        plot_radial_profile(&path, &cylinder.lateral, &title, size)?;
        written.push(path);
    }
    if let Some(adapt) = &solution.adapt {
        use crate::io::plot::{plot_sweep, LogAxes, Series};
        let estimates: Vec<(f64, f64)> =
            adapt.cycles.iter().map(|c| (c.nodes as f64, 100.0 * c.worst_relative_estimate)).collect();
        let nodes = |pick: fn(f64, f64) -> f64| estimates.iter().map(|p| p.0).fold(estimates[0].0, pick);
        let target = vec![(nodes(f64::min), 100.0 * adapt.target), (nodes(f64::max), 100.0 * adapt.target)];
        let series = [
            Series { name: "largest relative error estimate of a current".into(), points: estimates },
            Series { name: "target".into(), points: target },
        ];
        let path = out_dir.join("adapt.png");
        let title = format!("adaptive loop: {} cycles, target {} %", adapt.cycles.len(), 100.0 * adapt.target);
        let axes = LogAxes { x: true, y: true };
        plot_sweep(&path, &title, "mesh nodes (log)", "error estimate (%, log)", &series, size, axes)?;
        written.push(path);
    }
    // The mesh's bounding box: the case's box, or an imported mesh's extent.
    let (lo, hi) = solution.mesh.bounds();
    let extent = hi - lo;
    let first = case.geometry.hotspots.first();
    let axis = case.analysis.cylinder.as_ref().and_then(|c| c.axis);
    let (x, y) = first.map(|spot| spot.shape.axis()).or(axis).unwrap_or((0.5 * (lo.x + hi.x), 0.5 * (lo.y + hi.y)));
    // Two windows from the interface (the mesh's bottom) up: the hot spot's near field (20 radii wide,
    // `jmap_near.png`), and the lateral flow around it (twice the cylinder radius each side, or the whole box:
    // `jmap.png`).
    let wide = case.analysis.cylinder.as_ref().map_or(0.5 * extent.x, |c| (2.0 * c.radius).min(0.5 * extent.x));
    let near = first.map(|spot| match spot.shape {
        crate::mesh::geometry::HotSpotShape::Sphere { center, radius } => 10.0 * radius + center.z,
        crate::mesh::geometry::HotSpotShape::Disk { radius, .. } => 2.0 * radius,
    });
    let windows = near.map(|h| ("jmap_near.png", h.min(wide))).into_iter().chain([("jmap.png", wide)]);
    let locator = crate::analysis::locate::PointLocator::new(&solution.mesh);
    for (file, half_width) in windows {
        let x_range = ((x - half_width).max(lo.x), (x + half_width).min(hi.x));
        let plane = VerticalPlane { y, x_range, z_range: (lo.z, lo.z + (x_range.1 - x_range.0).min(extent.z)) };
        let path = out_dir.join(file);
        let title = format!("|J| (A/m^2, log) and phi contours, plane y = {y:.3e} m");
        plot_field_map(&path, &locator, &solution.phi, &solution.cell_current, &plane, &title, size)?;
        written.push(path);
    }
    Ok(written)
}
