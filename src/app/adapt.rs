//! The adaptive loop (`[adapt]`, `--accuracy`; ARCHITECTURE.md, "Error estimates"): mesh -> solve -> estimate
//! -> new size field -> mesh again, until every estimated current meets the target or a limit stops it.
//!
//! The mesher's size field is a minimum over terms (h_max far away, the planes, each hot spot's surface), and
//! the loop scales each term: every tet's and face's error contribution (relative to its current) counts for
//! the term that sets h there. A current's error falls as h^2 (P1, and the facets' geometry error alike) and a
//! region's node count rises as h^-3, so the scales s_t that meet a total reduction r at the fewest nodes
//! minimise sum N_t s_t^-3 subject to sum E_t s_t^2 = r sum E_t: s_t = (mu N_t / E_t)^(1/5) (Lagrange), with mu
//! from the constraint. Each cycle refines a term by at most a factor 1/0.3 and never coarsens one.

use super::solved::{mesh_from, solve_mesh, SolvedMesh};
use super::{RunError, RunOptions};
use crate::analysis::estimate::CurrentEstimates;
use crate::analysis::AnalysisError;
use crate::case::{AdaptSettings, Case};
use crate::fem::BoundaryCondition;
use crate::io::summary::{AdaptCycle, AdaptSummary};
use crate::mesh::geometry::Geometry;
use crate::mesh::hotspot::implicit_domain;
use crate::mesh::implicit::{SizeField, SizeScales, SizeTerm};
use crate::mesh::Mesh;
use crate::study::{MeshSource, SolverContext, StudyError};
use glam::DVec3;
use std::time::Instant;

/// The aim of each cycle: this fraction of the target, so that the next cycle is likely the last.
const AIM: f64 = 0.7;
/// The most a term is refined in one cycle (its scale falls by at most this factor).
const MOST_REFINEMENT: f64 = 0.3;

/// Runs the loop on the case's generated `geometry` (a mesh file is not re-meshed: `[adapt]` is refused there); returns the last cycle (the one meeting the target, or the last one a limit allowed) solved
/// and estimated, for the post step as it is, and the cycles. `report` receives each cycle as it ends;
/// `options.progress` shows the mesher's and the solver's stages.
pub fn adapt(
    case: &Case,
    geometry: &Geometry,
    settings: &AdaptSettings,
    context: &mut SolverContext,
    options: &RunOptions,
    report: &mut dyn FnMut(&AdaptCycle),
) -> Result<(SolvedMesh, AdaptSummary), RunError> {
    let loop_clock = Instant::now();
    let domain = implicit_domain(geometry).map_err(|e| AnalysisError::from(StudyError::Mesh(e)))?;
    let mut controls = case.mesh;
    controls.max_nodes = controls.max_nodes.min(settings.max_nodes);
    let mut scales = SizeScales { surfaces: vec![1.0; domain.surfaces.len()], ..SizeScales::default() };
    // The first cycle meshes the case as it is: a node limit below that is the loop's own key to name (the
    // mesher would name mesh.max_nodes).
    let start = SizeField::scaled(&domain, &controls, &scales).estimate_nodes(settings.max_nodes as f64);
    if !start.complete && settings.max_nodes < case.mesh.max_nodes {
        return Err(AnalysisError::AdaptStartTooLarge { estimate: start.nodes, limit: settings.max_nodes }.into());
    }
    let mut cycles = Vec::new();
    loop {
        let clock = Instant::now();
        let source = MeshSource::Generated { geometry, controls, scales: scales.clone() };
        let (mesh, quality, timings) = mesh_from(&source, options.progress)?;
        let solved = solve_mesh(case, mesh, quality, timings, context, options, true)?;
        let worst = worst_current(
            &solved.mesh,
            &solved.problem.boundary_conditions,
            &solved.boundary_currents,
            &solved.estimates,
        );
        let cycle = AdaptCycle {
            nodes: solved.mesh.nodes.len(),
            tets: solved.mesh.tets.len(),
            worst_relative_estimate: worst.relative,
            worst_current: worst.name,
            current_a: worst.current,
            error_estimate_a: worst.estimate,
            iterations: solved.report.iterations,
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
            let located = solved.estimates.located.as_ref().expect("asked for located indicators");
            let field = SizeField::scaled(&domain, &controls, &scales);
            let next = refined_scales(&solved.mesh, &field, located, &scales, AIM * settings.target / worst);
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
            let mut last = solved;
            // The loop's time is meshing time, but for the last cycle's own steps 3 to 4b.
            let own = last.timings.assemble + last.timings.solve + last.timings.estimate;
            last.timings.mesh = loop_clock.elapsed().as_secs_f64() - own;
            return Ok((last, AdaptSummary { target: settings.target, met, stopped_by, cycles }));
        }
    }
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
