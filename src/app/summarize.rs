//! The summary of a solved case (`summary.json`, the terminal's numbers): every current with its estimate and
//! resolution, the solver's report, the analyses, and the warnings a reader must see.

use super::solved::Solution;
use crate::case::Case;
use crate::fem::{BoundaryCondition, KineticSurface};
use crate::io::summary::{
    CaseInfo, Conservation, Current, HotSpotGroup, InterfaceSummary, KineticSummary, MeshSettings, MeshSummary,
    ReferenceElectrode, SolverSummary, Summary, SurfaceCurrent,
};
use crate::solver::amg::LevelInfo;
use std::collections::HashMap;

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

/// The potential of a boundary's electrode (V): fixed (dirichlet), the electrode behind a contact (robin,
/// butler_volmer), or the surface's own mean (neumann: the electrode sits on it); None for insulating.
fn electrode_potential(condition: &BoundaryCondition, mean_potential: f64) -> Option<f64> {
    match condition {
        BoundaryCondition::Dirichlet { potential } => Some(*potential),
        BoundaryCondition::Robin { electrode_potential, .. } => Some(*electrode_potential),
        BoundaryCondition::ButlerVolmer(k) => Some(k.electrode_potential),
        BoundaryCondition::Neumann { .. } => Some(mean_potential),
        BoundaryCondition::Insulating => None,
    }
}

/// The reference electrode's tag and potential: `interface` when it holds an electrode potential, else the first
/// boundary that does (a neumann surface's potential is a result, not a reference).
fn reference_electrode(solution: &Solution) -> Option<(usize, f64)> {
    let held = |tag: usize| match solution.conditions[tag] {
        BoundaryCondition::Neumann { .. } => None,
        ref condition => electrode_potential(condition, f64::NAN).map(|potential| (tag, potential)),
    };
    let names = &solution.mesh.boundary_names;
    names.iter().position(|n| n == "interface").and_then(held).or_else(|| (0..names.len()).find_map(held))
}

/// The groups of several hot spots, in the order their first member comes, with their members' currents.
/// A current is a linear functional of the solution, so the estimate of a group's total is the sum of its members'
/// estimates (None if a member has none).
fn hotspot_groups(case: &Case, hotspots: &[Current]) -> Vec<HotSpotGroup> {
    let by_name: HashMap<&str, &Current> = hotspots.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut groups: Vec<(&str, Vec<&Current>)> = Vec::new();
    for spot in case.hotspots() {
        let Some(&entry) = by_name.get(spot.name.as_str()) else { continue };
        match groups.iter_mut().find(|(name, _)| *name == spot.group) {
            Some((_, members)) => members.push(entry),
            None => groups.push((&spot.group, vec![entry])),
        }
    }
    groups
        .into_iter()
        .filter(|(_, members)| members.len() > 1)
        .map(|(name, members)| {
            let currents = || members.iter().map(|c| c.current_a);
            let sum: f64 = currents().sum();
            HotSpotGroup {
                name: name.to_string(),
                members: members.len(),
                current_sum_a: sum,
                current_mean_a: sum / members.len() as f64,
                current_min_a: currents().fold(f64::INFINITY, f64::min),
                current_max_a: currents().fold(f64::NEG_INFINITY, f64::max),
                error_estimate_a: members.iter().map(|c| c.error_estimate_a).sum(),
            }
        })
        .collect()
}

/// The summary of a solved case; hot-spot surfaces are listed apart from the box faces.
pub fn summarize(case: &Case, solution: &Solution) -> Summary {
    let is_hotspot = |name: &str| case.hotspots().iter().any(|h| h.name == name);
    let reference = reference_electrode(solution);
    let (mut boundaries, mut hotspots) = (Vec::new(), Vec::new());
    for (tag, name) in solution.mesh.boundary_names.iter().enumerate() {
        let (current_a, bound_a) = (solution.boundary_currents[tag], solution.boundary_current_bounds[tag]);
        let estimate = solution.estimates.boundary.get(tag).copied().flatten();
        let mean = solution.boundary_means[tag];
        let resolved = current_a.abs() > bound_a || bound_a == 0.0;
        let voltage_v = match reference {
            Some((reference, potential)) if reference != tag => {
                electrode_potential(&solution.conditions[tag], mean.potential_v).map(|e| e - potential)
            }
            _ => None,
        };
        // The current density entering through the surface drives the voltage across the cell.
        let entering = -current_a / mean.area_m2;
        let area_specific_resistance =
            voltage_v.filter(|_| !is_hotspot(name) && resolved && entering != 0.0).map(|v| v / entering);
        let entry = Current {
            error_estimate_a: estimate,
            relative_error_estimate: estimate.filter(|_| current_a != 0.0).map(|e| (e / current_a).abs()),
            geometry_error_estimate_a: estimate.map(|_| solution.estimates.geometry[tag]),
            name: name.clone(),
            condition: condition_name(&solution.conditions[tag]).to_string(),
            current_a,
            resolved,
            resolution_bound_a: bound_a,
            mean_potential_v: mean.potential_v,
            area_m2: mean.area_m2,
            voltage_v,
            area_specific_resistance,
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
        git_revision: option_env!("IONFLUX_GIT_REVISION").unwrap_or("unknown"),
        threads: rayon::current_num_threads(),
        case: CaseInfo {
            name: case.name.clone(),
            source: case.source.clone(),
            overrides: case.overrides.clone(),
            resolved_toml: case.resolved_toml.clone(),
            command_line: std::env::args().collect(),
            mesh_settings: case.geometry().map(|_| MeshSettings {
                h_max_m: case.mesh.h_max,
                h_interface_m: case.mesh.h_interface,
                h_min_m: case.mesh.h_min,
                grading: case.mesh.grading,
            }),
        },
        mesh: MeshSummary::new(solution.quality),
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
        reference_electrode: reference.map(|(tag, potential_v)| ReferenceElectrode {
            name: solution.mesh.boundary_names[tag].clone(),
            potential_v,
        }),
        boundaries,
        hotspot_groups: hotspot_groups(case, &hotspots),
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
