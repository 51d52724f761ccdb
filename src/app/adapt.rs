//! The adaptive loop (`[adapt]`, `--accuracy`; ARCHITECTURE.md, "Error estimates"): mesh -> solve -> estimate
//! -> new size field -> mesh again, until every estimated current meets the target or a limit stops it.
//!
//! The mesher's size field is a minimum over terms (h_max far away, the planes, each hot spot's surface), and
//! the loop scales each term: every tet's and face's error contribution (relative to its current) counts for
//! the term that sets h there. A current's error falls as h^2 (P1, and the facets' geometry error alike) and a
//! region's node count rises as h^-3, so the scales s_t that meet a total reduction r at the fewest nodes
//! minimise sum N_t s_t^-3 subject to sum E_t s_t^2 = r sum E_t: s_t = (mu N_t / E_t)^(1/5) (Lagrange), with mu
//! from the constraint. Each cycle refines a term by at most a factor 1/0.3 and never coarsens one.

use super::progress::NodeStages;
use crate::analysis::estimate::{estimate_currents, solve_duals, CurrentEstimates, SolvedSystem};
use crate::analysis::resolve;
use crate::analysis::AnalysisError;
use crate::case::{AdaptSettings, Case};
use crate::fem::BoundaryCondition;
use crate::io::summary::{AdaptCycle, AdaptSummary};
use crate::mesh::geometry::MeshControls;
use crate::mesh::hotspot::{generate_scaled, implicit_domain};
use crate::mesh::implicit::{SizeField, SizeScales, SizeTerm};
use crate::mesh::quality::MeshQuality;
use crate::mesh::Mesh;
use crate::solver::SymmetricSolver;
use glam::DVec3;
use std::time::Instant;

/// The aim of each cycle: this fraction of the target, so that the next cycle is likely the last.
const AIM: f64 = 0.7;
/// The most a term is refined in one cycle (its scale falls by at most this factor).
const MOST_REFINEMENT: f64 = 0.3;

/// Runs the loop; returns the last cycle's mesh (the one meeting the target, or the last one a limit allowed)
/// and the cycles. `report` receives each cycle as it ends; `progress` shows the mesher's stages.
pub fn adapt(
    case: &Case,
    settings: &AdaptSettings,
    solver: &mut dyn SymmetricSolver,
    progress: bool,
    report: &mut dyn FnMut(&AdaptCycle),
) -> Result<(Mesh, MeshQuality, AdaptSummary), AnalysisError> {
    let domain = implicit_domain(&case.geometry)?;
    let mut controls = case.mesh;
    controls.max_nodes = controls.max_nodes.min(settings.max_nodes);
    let mut scales = SizeScales { surfaces: vec![1.0; domain.surfaces.len()], ..SizeScales::default() };
    // The first cycle meshes the case as it is: a node limit below that is the loop's own key to name (the
    // mesher would name mesh.max_nodes).
    let start = SizeField::scaled(&domain, &controls, &scales).estimate_nodes(settings.max_nodes as f64);
    if !start.complete && settings.max_nodes < case.mesh.max_nodes {
        return Err(AnalysisError::AdaptStartTooLarge { estimate: start.nodes, limit: settings.max_nodes });
    }
    let mut cycles = Vec::new();
    loop {
        let clock = Instant::now();
        let (mesh, quality) = mesh_scaled(case, &controls, &scales, progress)?;
        let (problem, mut assembly) = resolve::assemble(case, &mesh)?;
        let (phi, solve_report, _) = resolve::solve(&mut assembly, solver, &case.solver)?;
        assembly.add_reaction(&mesh, &problem);
        let duals = solve_duals(case, &mesh, &problem, &assembly, solver)?;
        assembly.release_system();
        let currents = assembly.boundary_currents(&phi);
        drop(assembly);
        let solved = SolvedSystem { mesh: &mesh, problem: &problem, phi: &phi, currents: &currents };
        let estimates = estimate_currents(&solved, duals, true);
        let worst = worst_current(&mesh, &problem.boundary_conditions, &currents, &estimates);
        let cycle = AdaptCycle {
            nodes: mesh.nodes.len(),
            tets: mesh.tets.len(),
            worst_relative_estimate: worst.relative,
            worst_current: worst.name,
            current_a: worst.current,
            error_estimate_a: worst.estimate,
            iterations: solve_report.iterations,
            seconds: clock.elapsed().as_secs_f64(),
        };
        report(&cycle);
        cycles.push(cycle);
        let worst = worst.relative;
        let stop = if worst <= settings.target {
            Some((true, None))
        } else if cycles.len() >= settings.max_cycles {
            Some((false, Some(format!("adapt.max_cycles = {}", settings.max_cycles))))
        } else {
            let located = estimates.located.as_ref().expect("asked for located indicators");
            let field = SizeField::scaled(&domain, &controls, &scales);
            let next = refined_scales(&mesh, &field, located, &scales, AIM * settings.target / worst);
            let predicted = SizeField::scaled(&domain, &controls, &next).estimate_nodes(controls.max_nodes as f64);
            if predicted.complete {
                scales = next;
                None
            } else {
                let limit = format!("the node limit {} (adapt.max_nodes or mesh.max_nodes)", controls.max_nodes);
                Some((false, Some(limit)))
            }
        };
        if let Some((met, stopped_by)) = stop {
            return Ok((mesh, quality, AdaptSummary { target: settings.target, met, stopped_by, cycles }));
        }
    }
}

/// Step 2 to the size field scaled by `scales`, with a progress bar per mesher stage.
fn mesh_scaled(
    case: &Case,
    controls: &MeshControls,
    scales: &SizeScales,
    progress: bool,
) -> Result<(Mesh, MeshQuality), AnalysisError> {
    let mut stages = NodeStages::new(progress);
    let meshed =
        generate_scaled(&case.geometry, controls, scales, &mut |p| stages.update(p.stage, p.fraction, p.nodes));
    stages.finish();
    Ok(meshed?)
}

/// The estimated current with the largest relative estimate, among those not fixed by data.
struct Worst {
    name: String,
    relative: f64,
    current: f64,
    estimate: f64,
}

fn worst_current(
    mesh: &Mesh,
    conditions: &[BoundaryCondition],
    currents: &[f64],
    estimates: &CurrentEstimates,
) -> Worst {
    let mut worst = Worst { name: String::new(), relative: 0.0, current: 0.0, estimate: 0.0 };
    for (tag, estimate) in estimates.boundary.iter().enumerate() {
        let data = matches!(conditions[tag], BoundaryCondition::Neumann { .. } | BoundaryCondition::Insulating);
        if let (Some(&e), false) = (estimate.as_ref(), data) {
            if currents[tag] != 0.0 && (e / currents[tag]).abs() > worst.relative {
                let name = mesh.boundary_names[tag].clone();
                worst = Worst { name, relative: (e / currents[tag]).abs(), current: currents[tag], estimate: e };
            }
        }
    }
    worst
}

/// The next cycle's scales (see the module notes): per term, the error share E_t and the tets N_t it sets.
fn refined_scales(
    mesh: &Mesh,
    field: &SizeField,
    located: &crate::analysis::estimate::LocatedIndicators,
    scales: &SizeScales,
    reduction: f64,
) -> SizeScales {
    let terms = 2 + scales.surfaces.len();
    let slot = |term: SizeTerm| match term {
        SizeTerm::Background => 0,
        SizeTerm::Planes => 1,
        SizeTerm::Surface(i) => 2 + i,
    };
    let (mut error, mut count) = (vec![0.0f64; terms], vec![0.0f64; terms]);
    for (t, &value) in located.tets.iter().enumerate() {
        let centroid = mesh.tet_points(t).iter().sum::<DVec3>() / 4.0;
        let s = slot(field.controlling(centroid));
        error[s] += value;
        count[s] += 1.0;
    }
    for &(at, value) in &located.faces {
        error[slot(field.controlling(at))] += value;
    }
    let total: f64 = error.iter().sum();
    let weight: f64 = error.iter().zip(&count).map(|(e, n)| e.powf(0.6) * n.powf(0.4)).sum();
    let factor = |s: usize| {
        if error[s] <= 0.0 || weight <= 0.0 {
            return 1.0;
        }
        let mu = (reduction * total / weight).powf(2.5);
        (mu * count[s].max(1.0) / error[s]).powf(0.2).clamp(MOST_REFINEMENT, 1.0)
    };
    SizeScales {
        background: scales.background * factor(0),
        planes: scales.planes * factor(1),
        surfaces: scales.surfaces.iter().enumerate().map(|(i, s)| s * factor(2 + i)).collect(),
    }
}
