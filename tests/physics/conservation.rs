//! Acceptance (issue 5): on the default case, the lateral current through a cylinder around the hot
//! spot, integrated from J sampled on the cylinder, equals what the rest of the box's boundary takes
//! from the region outside the cylinder, computed independently from the consistent boundary fluxes.
//!
//! Outside the cylinder (r > R, all depths) the only boundaries are the interface and the top beyond R
//! and the insulating box sides, and there is no source, so
//!     lateral current (outward, into that region) = outflow through the interface beyond R
//!                                                   + outflow through the top beyond R,
//! the top's outflow being negative (50 mA/cm^2 enters there). Both terms are ~3e-8 A and the lateral
//! current is their ~5e-10 A difference, so 1% of it is ~2e-4 of each term: the interface flux must be
//! split at r = R exactly, hence the nodal consistent outflows weighed by the exact cut of each face.

use ionflux::analysis::cylinder::{boundary_current_outside, Cylinder};
use ionflux::app::pipeline::{self, RunOptions, Solution};
use ionflux::case::{Case, DEFAULT_CASE_TOML, DEFAULT_SOURCE};
use ionflux::fem::{self, BoundaryCondition};
use ionflux::solver::cpu::CpuSolver;
use std::f64::consts::PI;

/// Radii of the cylinder (um): inside, at and beyond the 1.5 um of paper 001.
/// Radii of the cylinder (um), inside, at and beyond the 1.5 um of paper 001, with the tolerance each meets.
const RADII_UM: [(f64, f64); 3] = [(1.0, 0.02), (1.5, 0.01), (2.5, 0.01)];

/// The default case with a cylinder of `radius_um`, solved on the CPU, and the consistent outflow of
/// every boundary face.
fn solve_default(radius_um: f64) -> (Case, Solution, Vec<[f64; 3]>, Cylinder) {
    let set = format!("analysis.cylinder_radius={radius_um} um");
    let case = Case::from_toml_str(DEFAULT_CASE_TOML, DEFAULT_SOURCE, &[set]).unwrap();
    let solution = pipeline::solve_case_with(&case, &mut CpuSolver, &RunOptions::default()).unwrap();
    let problem = case.problem(&solution.mesh).unwrap();
    let assembly = fem::assemble(&solution.mesh, &problem).unwrap();
    let outflows = fem::FluxRecovery::new(&solution.mesh, &problem, &assembly).face_outflows(&solution.phi);
    let spec = case.analysis.cylinder.clone().expect("the cylinder was asked for");
    let (center_x, center_y) = case.geometry().unwrap().hotspots[0].shape.axis();
    let cylinder = Cylinder { center_x, center_y, radius: spec.radius, z_min: spec.z_min, z_max: spec.z_max };
    (case, solution, outflows, cylinder)
}

fn outflow_beyond(solution: &Solution, outflows: &[[f64; 3]], name: &str, cylinder: &Cylinder) -> f64 {
    let tag = solution.mesh.boundary_tag(name).unwrap();
    boundary_current_outside(&solution.mesh, outflows, tag, cylinder).unwrap()
}

#[test]
fn consistent_outflow_beyond_a_radius_splits_the_boundary_currents_exactly() {
    let (case, solution, outflows, cylinder) = solve_default(1.5);
    // A radius inside the hot spot's 10 nm leaves all of the interface and the top beyond it (up to the
    // circle's area): the nodal weights must add up to the consistent boundary currents.
    let tiny = Cylinder { radius: 1e-12, ..cylinder };
    for name in ["interface", "top"] {
        let whole = solution.boundary_currents[solution.mesh.boundary_tag(name).unwrap() as usize];
        let beyond = outflow_beyond(&solution, &outflows, name, &tiny);
        assert!((beyond - whole).abs() <= 1e-9 * whole.abs(), "{name}: {beyond:e} vs {whole:e} A");
    }
    // The top's flux is uniform, so its share beyond R is known in closed form.
    let BoundaryCondition::Neumann { inward_current_density } = case.condition_for("top") else {
        panic!("the default top is Neumann")
    };
    let size = case.geometry().unwrap().size;
    let top_exact = -inward_current_density * (size.x * size.y - PI * cylinder.radius * cylinder.radius);
    let top = outflow_beyond(&solution, &outflows, "top", &cylinder);
    assert!((top - top_exact).abs() <= 1e-12 * top_exact.abs(), "top beyond R: {top:e} vs {top_exact:e} A");
}

/// The pipeline's lateral current (recovered nodal J sampled on the cylinder) against the balance, on the
/// default case. Measured: R = 1.5 um -0.56 %, R = 2.5 um +0.23 %, both asserted < 1 %; R = 1 um, nearer
/// the hot spot's near field, -1.46 % (asserted < 2 %). On the previous default mesh (h_max 1 um) the same
/// numbers were -1.8 %, -1.1 %, -0.87 %, and with the per-tet J +4.2 %, +2.7 %, +5.6 %.
#[test]
fn cylinder_current_equals_the_interface_and_top_outflow_beyond_its_radius() {
    let mut misses = Vec::new();
    for (radius_um, tolerance) in RADII_UM {
        let (case, solution, outflows, cylinder) = solve_default(radius_um);
        let mesh = &solution.mesh;
        let [result] = solution.analysis.cylinders.as_slice() else { panic!("one hot spot, one cylinder") };
        let lateral = result.lateral.lateral_current_A;
        assert_eq!(
            (cylinder.z_min, cylinder.z_max),
            (0.0, case.geometry().unwrap().size.z),
            "the cylinder spans the whole depth"
        );

        // The box sides are insulating, so only the interface and the top bound the outer region.
        for (tag, name) in mesh.boundary_names.iter().enumerate() {
            if !["interface", "top", "hotspot"].contains(&name.as_str()) {
                assert!(matches!(solution.conditions[tag], BoundaryCondition::Insulating), "{name} is insulating");
            }
        }
        let interface = outflow_beyond(&solution, &outflows, "interface", &cylinder);
        let top = outflow_beyond(&solution, &outflows, "top", &cylinder);
        let balance = interface + top;
        let relative = (lateral - balance).abs() / balance.abs();
        eprintln!(
            "R = {radius_um} um: lateral {lateral:.6e} A, interface {interface:.6e} A + top {top:.6e} A = \
             {balance:.6e} A, relative difference {relative:.2e}"
        );
        assert!(lateral > 0.0, "the 0.90 V hot spot drives current outward through the cylinder");
        if relative >= tolerance {
            misses.push(format!("R = {radius_um} um: lateral {lateral:e} A vs balance {balance:e} A"));
        }
    }
    assert!(misses.is_empty(), "off by more than the tolerance: {misses:#?}");
}

/// Seen from microns away, the hot spot (current I at height h) and its image in the 0 V interface are a
/// current dipole p = 2 h I, whose radial current density on a cylinder of radius R,
/// J_r = 3 p z R / (4 pi (R^2 + z^2)^(5/2)), peaks at z = R / 2. The box's insulating walls and the top
/// perturb it by a few per cent. Measured on the default case: peak 31.00 A/m^2 at 0.768 um against the
/// dipole's 31.42 A/m^2 at 0.750 um.
#[test]
fn the_lateral_profile_peaks_like_the_far_field_of_the_hot_spot_dipole() {
    let (case, solution, _, cylinder) = solve_default(1.5);
    let [result] = solution.analysis.cylinders.as_slice() else { panic!("one hot spot, one cylinder") };
    let ionflux::mesh::geometry::HotSpotShape::Sphere { center, .. } = case.geometry().unwrap().hotspots[0].shape
    else {
        panic!("the default hot spot is a sphere")
    };
    let emitted = solution.boundary_currents[solution.mesh.boundary_tag("hotspot").unwrap() as usize].abs();
    let dipole = 2.0 * center.z * emitted;
    let radius = cylinder.radius;
    let dipole_jr = |z: f64| 3.0 * dipole * z * radius / (4.0 * PI * (radius * radius + z * z).powf(2.5));
    let peak = result.lateral.profile.iter().max_by(|a, b| a.jr_A_per_m2.total_cmp(&b.jr_A_per_m2)).unwrap();
    assert_eq!(peak.z_m, result.lateral.peak_depth_m);
    let depth_error = peak.z_m / (0.5 * radius) - 1.0;
    let value_error = peak.jr_A_per_m2 / dipole_jr(0.5 * radius) - 1.0;
    eprintln!(
        "peak {:.4} A/m^2 at {:.4e} m: depth {depth_error:+.3}, value {value_error:+.3}",
        peak.jr_A_per_m2, peak.z_m
    );
    assert!(depth_error.abs() < 0.05 && value_error.abs() < 0.05, "depth {depth_error:+.3}, value {value_error:+.3}");
}
