//! The main path as a numbered walkthrough (ARCHITECTURE.md, "The pipeline"):
//! 1 case -> 2 mesh -> 3 assemble -> 4 solve -> 5 post -> 6 analyse -> 7 write.
//! Steps 2 to 4 go through the study layer (`crate::study`: mesh source, assembly, drivers, the run's solver
//! context), which the analyses and the adaptive loop use for their own variants and cycles; steps 3 to 4b on a
//! mesh are `app::solved`. The CLI and the tests call the functions here.

use super::export::ExportingSolver;
pub use super::solved::Solution;
use super::solved::{mesh_from, solve_mesh, SolvedMesh};
pub use super::summarize::summarize;
pub use super::{RunError, RunOptions};
use crate::analysis::{self, Analysis};
use crate::case::{Case, OutputSettings};
use crate::fem::{kinetic_surfaces, post};
use crate::io::summary::{Summary, Timings};
use crate::io::{self, vtu};
use crate::mesh::{quality::MeshQuality, Mesh};
use crate::solver::SymmetricSolver;
use crate::study::{MeshSource, SolverContext};
use glam::DVec3;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Step 2 with a progress bar per mesher stage, and the mesh's statistics.
pub fn mesh_case(case: &Case, options: &RunOptions) -> Result<(Mesh, MeshQuality), RunError> {
    let (mesh, quality, _) = mesh_from(&MeshSource::of(case), options.progress)?;
    Ok((mesh, quality))
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
    Ok(super::backend::select(&case.solver, notice)?)
}

/// The run's solver context on `solver`: with `--export-system`, every system solved from here on (the case's,
/// Newton's steps, the duals, the analyses' and the adaptive cycles' re-solves) is written.
fn run_context<'s>(case: &Case, solver: &'s mut dyn SymmetricSolver, options: &RunOptions) -> SolverContext<'s> {
    let context = SolverContext::lending(solver, &case.solver);
    match &options.export_system {
        Some(dir) => context.decorated(|inner| Box::new(ExportingSolver::new(inner, dir, options.export_format))),
        None => context,
    }
}

/// Steps 2-6 with a given solver (tests compare backends on one case this way). With `[adapt]`, steps 2 to 4b are
/// the adaptive loop (`app::adapt`), and the post step reads its last cycle.
pub fn solve_case_with(
    case: &Case,
    solver: &mut dyn SymmetricSolver,
    options: &RunOptions,
) -> Result<Solution, RunError> {
    let mut context = run_context(case, solver, options);
    let (Some(settings), Some(geometry)) = (&case.adapt, case.geometry()) else {
        // 2. Mesh.
        let (mesh, quality, timings) = mesh_from(&MeshSource::of(case), options.progress)?;
        return solve_on_mesh(case, mesh, quality, timings, &mut context, options);
    };
    // 2-4b. Adaptively: each cycle reported on stderr unless quiet.
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
    let (mut last, summary) = super::adapt::adapt(case, geometry, settings, &mut context, options, &mut report)?;
    last.estimates.located = None;
    let mut solution = post_and_analyse(case, last, &mut context)?;
    solution.adapt = Some(summary);
    Ok(solution)
}

/// Steps 3-6 on a mesh of the case made earlier (a sweep point that changes no geometry or mesh key reuses the
/// previous point's mesh); `timings` holds the meshing time, zero for a reused mesh.
pub fn solve_meshed(
    case: &Case,
    mesh: Mesh,
    quality: MeshQuality,
    timings: Timings,
    solver: &mut dyn SymmetricSolver,
    options: &RunOptions,
) -> Result<Solution, RunError> {
    let mut context = run_context(case, solver, options);
    solve_on_mesh(case, mesh, quality, timings, &mut context, options)
}

/// Steps 3-6 on a mesh with the run's context.
fn solve_on_mesh(
    case: &Case,
    mesh: Mesh,
    quality: MeshQuality,
    timings: Timings,
    context: &mut SolverContext,
    options: &RunOptions,
) -> Result<Solution, RunError> {
    let solved = solve_mesh(case, mesh, quality, timings, context, options, false)?;
    post_and_analyse(case, solved, context)
}

/// Steps 5 and 6 on a solved mesh.
fn post_and_analyse(case: &Case, solved: SolvedMesh, context: &mut SolverContext) -> Result<Solution, RunError> {
    let mut timings = solved.timings;

    // 5. Post: current densities, consistent boundary and interface currents.
    let clock = Instant::now();
    let cell_current = post::cell_current_density(&solved.mesh, &solved.problem.region_coefficient, &solved.phi);
    let node_current = post::nodal_current_density(&solved.mesh, &cell_current);
    let boundary_current_bounds = solved.recovery.boundary_current_bounds(&solved.phi, solved.report.relative_residual);
    drop(solved.recovery);
    let boundary_means = post::boundary_means(&solved.mesh, &solved.phi);
    let surface_currents = post::surface_currents(&solved.mesh, &cell_current, &solved.face_outflows);
    let interface_currents = post::interface_currents(&solved.mesh, &solved.problem.interface_resistance, &solved.phi);
    let kinetic_surfaces = kinetic_surfaces(&solved.mesh, &solved.problem.boundary_conditions, &solved.phi);
    timings.post = clock.elapsed().as_secs_f64();

    let mut solution = Solution {
        quality: solved.quality,
        region_coefficient: solved.problem.region_coefficient,
        conditions: solved.problem.boundary_conditions,
        phi: solved.phi,
        cell_current,
        node_current,
        boundary_currents: solved.boundary_currents,
        boundary_current_bounds,
        face_outflows: solved.face_outflows,
        estimates: solved.estimates,
        boundary_means,
        interface_resistance: solved.problem.interface_resistance,
        interface_currents,
        surface_currents,
        kinetic_surfaces,
        report: solved.report,
        newton: solved.newton,
        unknowns: solved.unknowns,
        nonzeros: solved.nonzeros,
        timings,
        mesh: solved.mesh,
        analysis: Analysis::default(),
        adapt: None,
    };

    // 6. Analyse: cylinder currents, re-lithiation times, voids (which re-solve variants of the case).
    let clock = Instant::now();
    solution.analysis = analysis::analyse(case, solution.field(), context)?;
    solution.timings.analysis = clock.elapsed().as_secs_f64();
    Ok(solution)
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
    let compression = if files.compress_vtu { vtu::Compression::Zlib } else { vtu::Compression::None };
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
        let chosen = files.fields;
        let mut cell_data: Vec<vtu::Field> = [
            (chosen.region, vtu::Field { name: "region", unit: "", values: vtu::Values::IntsFn(cells, &region) }),
            (chosen.sigma, vtu::Field { name: "sigma", unit: "S/m", values: vtu::Values::ScalarsFn(cells, &sigma) }),
            (
                chosen.cell_j,
                vtu::Field { name: "J", unit: "A/m^2", values: vtu::Values::VectorsFn(cells, &cell_current) },
            ),
        ]
        .into_iter()
        .filter_map(chosen_field)
        .collect();
        if !triangles.is_empty() {
            cell_data.push(vtu::Field { name: "eta", unit: "V", values: vtu::Values::ScalarsFn(cells, &eta) });
            cell_data.push(vtu::Field { name: "j_out", unit: "A/m^2", values: vtu::Values::ScalarsFn(cells, &j_out) });
        }
        let grid = vtu::Grid {
            points: &m.nodes,
            tets: &m.tets,
            triangles: &triangles,
            point_data: [
                (chosen.phi, vtu::Field { name: "phi", unit: "V", values: vtu::Values::Scalars(&solution.phi) }),
                (
                    chosen.j,
                    vtu::Field { name: "J", unit: "A/m^2", values: vtu::Values::Vectors(&solution.node_current) },
                ),
                (
                    chosen.j_magnitude,
                    vtu::Field {
                        name: "J_magnitude",
                        unit: "A/m^2",
                        values: vtu::Values::ScalarsFn(m.nodes.len(), &j_magnitude),
                    },
                ),
            ]
            .into_iter()
            .filter_map(chosen_field)
            .collect(),
            cell_data,
            field_strings: vec![("region_names", &m.region_names)],
        };
        let path = out_dir.join("solution.vtu");
        vtu::write(&path, &grid, compression)?;
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
            vtu::write(&path, &grid, compression)?;
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
/// A field of solution.vtu if `[output] fields` keeps it.
fn chosen_field((keep, field): (bool, vtu::Field)) -> Option<vtu::Field> {
    keep.then_some(field)
}

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
    let first = case.hotspots().first();
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
