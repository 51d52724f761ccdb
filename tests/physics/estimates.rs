//! Error estimates of the currents (ARCHITECTURE.md, "Error estimates") against true errors: cases with exact
//! currents, where estimate / (exact - computed), the effectivity, must lie in [0.5, 2].
//! Run with `cargo test --release --test physics estimates -- --nocapture` to see the numbers.

use glam::DVec3;
use ionflux::app::pipeline::{solve_case_with, Solution};
use ionflux::case::Case;
use ionflux::fem::estimate::{dual_weighted_residual, CurvedSurface, TetGroups};
use ionflux::fem::{assemble, BoundaryCondition, FluxRecovery, Problem};
use ionflux::solver::cpu::CpuSolver;
use ionflux::solver::{CgOptions, SymmetricSolver};
use std::f64::consts::PI;

const SIGMA: f64 = 0.216; // S/m, LLZO at 75 C
const U: f64 = 0.9; // V

fn solve(text: &str) -> Solution {
    let case = Case::from_toml_str(text, "estimates test", &[]).expect("valid case");
    solve_case_with(&case, &mut CpuSolver, &Default::default()).expect("solves")
}

/// The current leaving through `name` and its error estimate (A).
fn current_and_estimate(solution: &Solution, name: &str) -> (f64, f64) {
    let tag = solution.mesh.boundary_tag(name).expect("boundary") as usize;
    (solution.boundary_currents[tag], solution.estimates.boundary[tag].expect("an estimate"))
}

fn effectivity(label: &str, computed: f64, estimate: f64, exact: f64) -> f64 {
    let error = exact - computed;
    let effectivity = estimate / error;
    eprintln!(
        "{label}: computed {computed:.6e} A, exact {exact:.6e} A, error {:+.3} %, estimate {:+.3} %, effectivity {effectivity:.2}",
        100.0 * error / exact.abs(),
        100.0 * estimate / exact.abs()
    );
    effectivity
}

/// A sphere of radius a at U whose centre is h above a grounded plane, in a box whose other faces are insulating
/// and microns away: the exact current into the electrolyte is 4 pi sigma a U sinh(alpha) sum 1/sinh(n alpha),
/// cosh(alpha) = h / a (the bispherical series).
fn sphere_over_plane(a_nm: f64, h_nm: f64, h_min_nm: f64, grading: f64) -> (f64, f64, f64) {
    let (current, estimate, exact, _) = sphere_over_plane_with(a_nm, h_nm, h_min_nm, grading, "");
    (current, estimate, exact)
}

/// [`sphere_over_plane`] with more case text (an `[adapt]` table), and the solution.
fn sphere_over_plane_with(a_nm: f64, h_nm: f64, h_min_nm: f64, grading: f64, extra: &str) -> (f64, f64, f64, Solution) {
    let text = format!(
        "[domain]\nsize = [\"2 um\", \"2 um\", \"2 um\"]\nmaterial = \"llzo\"\n[materials.llzo]\n\
         conductivity = \"0.00216 S/cm\"\n[boundaries.interface]\ntype = \"dirichlet\"\npotential = \"0 V\"\n\
         [[hotspots]]\nname = \"s\"\nshape = \"sphere\"\ncenter = [\"1 um\", \"1 um\", \"{h_nm} nm\"]\n\
         radius = \"{a_nm} nm\"\n[boundaries.s]\ntype = \"dirichlet\"\npotential = \"0.9 V\"\n\
         [mesh]\nh_max = \"0.25 um\"\nh_min = \"{h_min_nm} nm\"\ngrading = {grading}\n[solver]\nbackend = \"cpu\"\n{extra}"
    );
    let solution = solve(&text);
    let (current, estimate) = current_and_estimate(&solution, "s");
    let (a, h) = (a_nm * 1e-9, h_nm * 1e-9);
    let alpha = (h / a).acosh();
    let series: f64 = (1..80).map(|n| 1.0 / (n as f64 * alpha).sinh()).sum();
    // Leaving the electrolyte: the sphere feeds it, so the exact current leaving is negative.
    let exact = -4.0 * PI * SIGMA * a * U * alpha.sinh() * series;
    (current, estimate, exact, solution)
}

/// The adaptive loop from a coarse mesh (h_min = a / 2.5, grading 1.4: about 1.5 % off) to 0.25 %: it meets the
/// target, the true error of the last mesh is below it, each cycle's estimate falls, and on every cycle the
/// estimate is within a factor two of the true error (each cycle records its current and estimate).
#[test]
fn adapting_to_a_target_meets_it_with_the_true_error_below_the_target() {
    let target = 0.0025;
    let adapt = format!("[adapt]\ntarget = \"{} %\"\n", 100.0 * target);
    let (current, estimate, exact, solution) = sphere_over_plane_with(20.0, 50.0, 8.0, 1.4, &adapt);
    let summary = solution.adapt.as_ref().expect("the loop ran");
    for c in &summary.cycles {
        let e = effectivity(&format!("cycle at {} nodes", c.nodes), c.current_a, c.error_estimate_a, exact);
        assert_eq!(c.worst_current, "s");
        assert!((0.5..=2.0).contains(&e), "cycle at {} nodes: effectivity {e:.2}", c.nodes);
    }
    assert!(summary.met && summary.cycles.len() >= 2, "{summary:?}");
    for pair in summary.cycles.windows(2) {
        assert!(pair[1].worst_relative_estimate < pair[0].worst_relative_estimate, "{summary:?}");
        assert!(pair[1].nodes > pair[0].nodes, "{summary:?}");
    }
    let error = (exact - current) / exact.abs();
    let e = effectivity("adapted sphere over a plane", current, estimate, exact);
    assert!(error.abs() <= target, "true error {:.3} % above the {:.2} % target", 100.0 * error, 100.0 * target);
    assert!((0.5..=2.0).contains(&e), "effectivity {e:.2}");
}

#[test]
fn sphere_over_a_grounded_plane_estimates_within_a_factor_two_at_two_sizes_and_heights() {
    for (a, h) in [(20.0, 50.0), (5.0, 8.0)] {
        for (h_min_factor, grading) in [(5.0, 1.3), (8.0, 1.2)] {
            let (current, estimate, exact) = sphere_over_plane(a, h, a / h_min_factor, grading);
            let label = format!("sphere a = {a} nm at h = {h} nm, h_min = a / {h_min_factor}, grading {grading}");
            let e = effectivity(&label, current, estimate, exact);
            assert!((0.5..=2.0).contains(&e), "{label}: effectivity {e:.2}");
        }
    }
}

/// Shell a < |x| < b, phi = U inside, 0 outside: the current leaving through the inner sphere is exactly
/// -4 pi sigma U / (1/a - 1/b). Both spheres are curved Dirichlet surfaces.
#[test]
fn concentric_spheres_estimate_within_a_factor_two() {
    let (a, b) = (1e-6, 2e-6);
    let exact = -4.0 * PI * SIGMA * U / (1.0 / a - 1.0 / b);
    for h in [a / 5.0, a / 8.0] {
        let center = DVec3::ZERO;
        let mesh = crate::common::shell_mesh(a, b, h);
        let (inner, outer) = (mesh.boundary_tag("inner").unwrap(), mesh.boundary_tag("outer").unwrap());
        let problem = Problem {
            region_coefficient: vec![SIGMA],
            boundary_conditions: mesh
                .boundary_names
                .iter()
                .map(|n| match n.as_str() {
                    "inner" => BoundaryCondition::Dirichlet { potential: U },
                    "outer" => BoundaryCondition::Dirichlet { potential: 0.0 },
                    _ => BoundaryCondition::Insulating,
                })
                .collect(),
            interface_resistance: vec![],
            source: None,
        };
        let assembly = assemble(&mesh, &problem).expect("assembles");
        let options = CgOptions { rtol: 1e-11, atol: 0.0, max_iter: 100_000 };
        let mut x = vec![0.0; assembly.rhs.len()];
        CpuSolver.solve(&assembly.matrix, &assembly.rhs, &mut x, &options).expect("converges");
        let phi = assembly.expand(&x);
        let recovery = FluxRecovery::new(&mesh, &problem, &assembly);
        let current = recovery.boundary_currents(&phi)[inner as usize];
        let dual = assembly.dual_system(&recovery, &[inner]);
        let mut y = vec![0.0; dual.rhs.len()];
        CpuSolver.solve(&assembly.matrix, &dual.rhs, &mut y, &options).expect("converges");
        let z = assembly.expand_with(&y, &dual.dirichlet_values);
        let curved = [
            CurvedSurface { tag: inner, center, radius: a, electrolyte_outside: true },
            CurvedSurface { tag: outer, center, radius: b, electrolyte_outside: false },
        ];
        let estimate = dual_weighted_residual(&mesh, &problem, &phi, &z, &curved, &TetGroups::one()).total();
        let label = format!("shell, h = a / {:.0} ({} nodes)", a / h, mesh.nodes.len());
        let e = effectivity(&label, current, estimate, exact);
        assert!((0.5..=2.0).contains(&e), "{label}: effectivity {e:.2}");
    }
}

/// A disk electrode of radius a at U on an insulating plane: I = 4 sigma a U into a half space (Newman). The
/// grounded walls 400 to 700 radii away raise it by 2 a / (pi R) = 0.1 to 0.16 %, which the exact value here
/// includes with R = 5 um (a hemispherical ground at R: I = 4 sigma a U / (1 - 2 a / (pi R))); against errors
/// of a few per cent that uncertainty is small. The rim is singular (|J| ~ r^-1/2 for primal and dual alike),
/// where the gradient-recovery reconstruction of the dual sees about half of its error: measured effectivity
/// 0.50 (h_min 0.35 nm) and 0.47 (0.5 nm). The bound here is 0.4, below the 0.5 the smooth cases meet.
#[test]
fn disk_electrode_estimates_within_a_factor_two_and_a_half() {
    for h_min in ["0.35 nm", "0.5 nm"] {
        let text = format!(
            "[domain]\nsize = [\"8 um\", \"8 um\", \"8 um\"]\nmaterial = \"llzo\"\n[materials.llzo]\n\
             conductivity = \"0.00216 S/cm\"\n[boundaries.interface]\ntype = \"insulating\"\n\
             [boundaries.top]\ntype = \"dirichlet\"\npotential = \"0 V\"\n\
             [boundaries.x_min]\ntype = \"dirichlet\"\npotential = \"0 V\"\n\
             [boundaries.x_max]\ntype = \"dirichlet\"\npotential = \"0 V\"\n\
             [boundaries.y_min]\ntype = \"dirichlet\"\npotential = \"0 V\"\n\
             [boundaries.y_max]\ntype = \"dirichlet\"\npotential = \"0 V\"\n\
             [[hotspots]]\nname = \"d\"\nshape = \"disk\"\ncenter = [\"4 um\", \"4 um\"]\nradius = \"10 nm\"\n\
             [boundaries.d]\ntype = \"dirichlet\"\npotential = \"0.9 V\"\n\
             [mesh]\nh_max = \"1 um\"\nh_min = \"{h_min}\"\ngrading = 1.2\n[solver]\nbackend = \"cpu\"\n"
        );
        let solution = solve(&text);
        let (current, estimate) = current_and_estimate(&solution, "d");
        let (a, ground) = (10e-9, 5e-6);
        let exact = -4.0 * SIGMA * a * U / (1.0 - 2.0 * a / (PI * ground));
        let e = effectivity(&format!("disk, h_min = {h_min}"), current, estimate, exact);
        assert!((0.4..=2.0).contains(&e), "disk h_min = {h_min}: effectivity {e:.2}");
    }
}

/// The hot spots share one dual and each tet counts for the nearest one: two spheres far apart, each in the
/// middle of its half of a box with insulating sides, carry the estimate of one sphere alone in a box half as
/// wide (the mirror image of the same cell), within 2 % of it. Attributing everything to one sphere would give
/// one of them twice that and the other none.
#[test]
fn far_apart_hot_spots_sharing_a_dual_each_get_the_single_sphere_estimate() {
    let case = |width_um: f64, centres: &[f64]| {
        let text = crate::common::far_apart_spheres_case(width_um, centres);
        let solution = solve(&text);
        (0..centres.len()).map(|i| current_and_estimate(&solution, &format!("s{i}")).1).collect::<Vec<f64>>()
    };
    let single = case(1.0, &[0.5])[0];
    let pair = case(2.0, &[0.5, 1.5]);
    for (i, estimate) in pair.iter().enumerate() {
        let difference = estimate / single - 1.0;
        eprintln!("sphere {i}: estimate {estimate:.4e} A against {single:.4e} A alone ({:+.2} %)", 100.0 * difference);
        assert!(difference.abs() < 0.02, "sphere {i}: {:+.2} %", 100.0 * difference);
    }
}

/// A resistive interface's current gets its own dual (z = 0 on every Dirichlet node, the interface functional on
/// the right-hand side), a boundary current another (z = 1 on it). A sphere at 0.9 V above a 20 nm layer with a
/// resistive top (0.13 Ohm cm^2), a 0 V interface below it and an insulating top: what crosses the resistive
/// plane upward is exactly minus what leaves through the interface, for the exact and the computed field alike,
/// so the two estimates, from different duals, must be each other's negatives (to 1e-6), and not zero.
#[test]
fn a_resistive_interface_current_and_the_boundary_current_it_equals_get_the_same_estimate() {
    let text =
        "[domain]\nsize = [\"1 um\", \"1 um\", \"1 um\"]\nmaterial = \"llzo\"\n[[layers]]\nmaterial = \"li3sb\"\n\
                thickness = \"20 nm\"\ntop_resistance = \"0.13 Ohm cm^2\"\n[materials.llzo]\n\
                conductivity = \"0.00216 S/cm\"\n[materials.li3sb]\nconductivity = \"2e-4 S/cm\"\n\
                [boundaries.interface]\ntype = \"dirichlet\"\npotential = \"0 V\"\n[[hotspots]]\nname = \"s\"\n\
                shape = \"sphere\"\ncenter = [\"0.5 um\", \"0.5 um\", \"60 nm\"]\nradius = \"20 nm\"\n[boundaries.s]\n\
                type = \"dirichlet\"\npotential = \"0.9 V\"\n[mesh]\nh_max = \"0.25 um\"\nh_interface = \"10 nm\"\n\
                h_min = \"4 nm\"\n[solver]\nbackend = \"cpu\"\nrtol = 1e-12\n";
    let solution = solve(text);
    let (interface, interface_estimate) = current_and_estimate(&solution, "interface");
    let plane = solution.interface_currents[0].current_a;
    let plane_estimate = solution.estimates.interfaces[0];
    eprintln!(
        "plane {plane:.6e} A (estimate {plane_estimate:.4e}), interface {interface:.6e} A (estimate {interface_estimate:.4e})"
    );
    assert!((plane + interface).abs() < 1e-8 * interface.abs(), "{plane} vs {interface}");
    assert!(plane_estimate.abs() > 1e-4 * plane.abs(), "a real estimate: {plane_estimate:e}");
    let difference = (plane_estimate + interface_estimate).abs() / interface_estimate.abs();
    assert!(difference < 1e-6, "{plane_estimate:e} vs {interface_estimate:e}: {difference:.2e}");
}
