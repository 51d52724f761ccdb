//! Paper mode (Gaussian charge, paper 001 Eqs. 13-16): the calibration hits U at the given distance, the
//! charge is linear in U, superposition agrees with a direct solve, the ball current equals the enclosed
//! source, and far from walls the potential is the free-space field of a Gaussian charge.

use crate::common::{ionflux, read_summary};
use glam::DVec3;
use ionflux::analysis::locate::PointLocator;
use ionflux::analysis::paper::{gaussian_source, run_paper_mode, sphere_points, PaperSettings, VACUUM_PERMITTIVITY};
use ionflux::case::Case;
use ionflux::fem::{self, Problem};
use ionflux::solver::cpu::CpuSolver;
use ionflux::solver::SymmetricSolver;
use ionflux::study::SolverContext;
use std::f64::consts::PI;

const SIGMA: f64 = 0.216;
const EPS_R: f64 = 72.87;

/// A 400 nm LLZO cube with the hot spot 25 nm above the grounded interface (as in the paper) and the
/// top boundary given by `top` (a TOML table body).
fn interface_case(top: &str) -> Case {
    let text = format!(
        r#"[domain]
size = ["400 nm", "400 nm", "400 nm"]
material = "llzo"
[materials.llzo]
conductivity = "0.00216 S/cm"
relative_permittivity = 72.87
[boundaries.interface]
type = "dirichlet"
potential = "0 V"
[boundaries.top]
{top}
[[hotspots]]
name = "hs"
shape = "sphere"
center = ["200 nm", "200 nm", "25 nm"]
radius = "10 nm"
[boundaries.hs]
type = "dirichlet"
potential = "0.90 V"
[mesh]
h_max = "100 nm"
h_interface = "40 nm"
grading = 1.4
[solver]
backend = "cpu"
rtol = 1e-11
"#
    );
    Case::from_toml_str(&text, "paper test", &[]).unwrap()
}

const NEUMANN_TOP: &str = "type = \"neumann\"\ncurrent_density = \"50 mA/cm^2\"";

/// A solver context on the CPU reference with the case's settings.
fn cpu_context(case: &Case) -> SolverContext<'static> {
    SolverContext::new(Box::new(CpuSolver), &case.solver)
}

/// Mean of the P1 field over `count` Fibonacci points on the sphere |x - c| = r.
fn sphere_mean(locator: &PointLocator, u: &[f64], c: DVec3, r: f64, count: usize) -> f64 {
    let points = sphere_points(c, r, count);
    points.iter().map(|&p| locator.interpolate(u, p).expect("inside the mesh")).sum::<f64>() / count as f64
}

#[test]
fn calibration_hits_u_and_matches_a_direct_solve_with_the_reported_charge() {
    let case = interface_case(NEUMANN_TOP);
    let settings = PaperSettings::default();
    let result = run_paper_mode(&case, "hs", &settings, &mut cpu_context(&case)).unwrap();
    let field = &result.field;
    assert_eq!(result.target_potential_V, 0.90);
    let eps = VACUUM_PERMITTIVITY * EPS_R;
    assert!((result.permittivity_F_per_m - eps).abs() < 1e-25);

    // Measured on an independent point set (537 points, not the 200 of the calibration).
    let locator = PointLocator::new(&field.mesh);
    let center = DVec3::new(200e-9, 200e-9, 25e-9);
    let measured = sphere_mean(&locator, &field.potential, center, 10e-9, 537);
    assert!((measured - 0.90).abs() < 0.005 * 0.90, "mean potential at 10 nm: {measured} V");
    assert!((result.potential_at_distance_V - 0.90).abs() < 1e-9, "{}", result.potential_at_distance_V);
    // The grounded interface 15 nm below pulls the lower side down: the sphere is no equipotential.
    assert!(result.potential_at_distance_min_V < 0.9 && result.potential_at_distance_max_V > 0.9);

    // Direct solve with the reported charge and the case's own boundary values: same field.
    let conditions = field.mesh.boundary_names.iter().map(|n| case.condition_for(n)).collect();
    let source = gaussian_source(center, settings.width_m, result.charge_C * SIGMA / eps);
    let problem = Problem {
        region_coefficient: vec![SIGMA],
        boundary_conditions: conditions,
        interface_resistance: Vec::new(),
        source: Some(&source),
    };
    let assembly = fem::assemble(&field.mesh, &problem).unwrap();
    let mut x = vec![0.0; assembly.matrix.nrows];
    CpuSolver.solve(&assembly.matrix, &assembly.rhs, &mut x, &case.solver.cg_options()).unwrap();
    let direct = assembly.expand(&x);
    let worst = direct.iter().zip(&field.potential).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-7, "superposition vs direct solve: max |du| = {worst} V");

    // Current into the ball of radius d = minus the source current it encloses, Q sigma / eps
    // (the Gaussian beyond 5 w is 1.5e-5 of Q; the rest is the load quadrature).
    let source_current = result.charge_C * SIGMA / eps;
    assert!(result.charge_C > 0.0);
    assert!(
        (result.current_A + source_current).abs() < 0.01 * source_current,
        "{} vs {}",
        result.current_A,
        -source_current
    );
    // Everything the source and the top inject leaves through the box faces.
    let applied = 500.0 * (400e-9f64).powi(2);
    let leaving: f64 = result.boundary_currents.iter().map(|c| c.current_a).sum();
    assert!((leaving - (source_current + applied)).abs() < 0.01 * source_current, "{leaving}");
}

#[test]
fn charge_is_linear_in_u() {
    let at = |case: &Case, u: f64| {
        let settings = PaperSettings { potential_v: Some(u), ..PaperSettings::default() };
        run_paper_mode(case, "hs", &settings, &mut cpu_context(case)).unwrap().charge_C
    };
    // Zero boundary data: Q proportional to U.
    let grounded = interface_case("type = \"insulating\"");
    let (q_high, q_low) = (at(&grounded, 0.90), at(&grounded, 0.45));
    assert!((q_high / q_low - 2.0).abs() < 1e-9, "{q_high} / {q_low}");
    // With the applied current the boundary part is U-independent: equal steps in U, equal steps in Q.
    let driven = interface_case(NEUMANN_TOP);
    let q: Vec<f64> = [0.80, 0.85, 0.90].iter().map(|&u| at(&driven, u)).collect();
    let (step_1, step_2) = (q[1] - q[0], q[2] - q[1]);
    assert!((step_1 / step_2 - 1.0).abs() < 1e-6, "{q:?}");
    assert!((q_high - q[2]).abs() > 1e-5 * q_high, "the applied current must change Q: {q_high} vs {}", q[2]);
}

/// erf by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.3275911 * x.abs());
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    (1.0 - poly * (-x * x).exp()).copysign(x)
}

#[test]
fn far_from_walls_the_potential_is_that_of_a_free_gaussian_charge() {
    // A grounded 400 nm cube with the charge at its centre. The walls add a harmonic correction that is
    // constant + O(r^4 / L^5) near the centre (cubic symmetry removes the quadratic term), so differences
    // u(r) - u(r0) follow the free-space law u(r) = Q / (4 pi eps r) erf(r / (sqrt 2 w)). Measured: within
    // 1.6% at r = 3 nm (1.5 w), 0.7% at 5 nm, < 0.5% from 10 nm on; the error falls as (grading - 1)^2.
    let mut text = String::from(
        r#"[domain]
size = ["400 nm", "400 nm", "400 nm"]
material = "llzo"
[materials.llzo]
conductivity = "0.00216 S/cm"
relative_permittivity = 72.87
[[hotspots]]
name = "hs"
shape = "sphere"
center = ["200 nm", "200 nm", "200 nm"]
radius = "10 nm"
[boundaries.hs]
type = "dirichlet"
potential = "0.90 V"
[mesh]
h_max = "100 nm"
h_interface = "100 nm"
grading = 1.1
[solver]
backend = "cpu"
rtol = 1e-11
"#,
    );
    for face in ["interface", "top", "x_min", "x_max", "y_min", "y_max"] {
        text += &format!("[boundaries.{face}]\ntype = \"dirichlet\"\npotential = \"0 V\"\n");
    }
    let case = Case::from_toml_str(&text, "free space test", &[]).unwrap();
    let settings = PaperSettings::default();
    let result = run_paper_mode(&case, "hs", &settings, &mut cpu_context(&case)).unwrap();
    let eps = VACUUM_PERMITTIVITY * EPS_R;
    let w = settings.width_m;
    let free = |r: f64| result.charge_C / (4.0 * PI * eps * r) * erf(r / (2f64.sqrt() * w));
    let locator = PointLocator::new(&result.field.mesh);
    let center = DVec3::splat(200e-9);
    let r0 = 60e-9;
    let u0 = sphere_mean(&locator, &result.field.potential, center, r0, 300);
    let errors: Vec<(f64, f64)> = [3e-9, 5e-9, 10e-9, 20e-9, 40e-9]
        .iter()
        .map(|&r| {
            let u = sphere_mean(&locator, &result.field.potential, center, r, 300);
            (r, (u - u0) / (free(r) - free(r0)) - 1.0)
        })
        .collect();
    assert!(errors.iter().all(|&(_, e)| e.abs() < 0.02), "{errors:?}");
}

fn ionflux_solve(args: &[&str], cwd: &std::path::Path) -> std::process::Output {
    let solve = ["solve", "--out", "out", "--quiet", "--no-vtu", "--backend", "cpu"];
    ionflux(&[&solve[..], args].concat(), cwd)
}

/// `solve` with `analysis.paper_mode` on the default case reports the calibrated Gaussian next to the
/// Dirichlet sphere. Outside a sphere at U, the field of a point charge calibrated to U at its radius is the
/// same in free space, so the two currents agree up to the interface's image effects (a few tenths of a %).
#[test]
fn cli_paper_mode_reports_the_gaussian_next_to_the_dirichlet_sphere() {
    let dir = tempfile::tempdir().unwrap();
    let out = ionflux_solve(&["--set", "analysis.paper_mode=true"], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = read_summary(&dir.path().join("out/summary.json"));
    let paper = &summary["paper_mode"][0];
    assert_eq!(paper["hotspot"], "hotspot");
    assert_eq!(paper["calibration_distance_m"].as_f64().unwrap(), 10e-9, "the hot spot's radius");
    let at_distance = paper["potential_at_distance_V"].as_f64().unwrap();
    assert!((at_distance - 0.90).abs() < 0.005 * 0.90, "calibrated potential {at_distance} V");
    let sphere = summary["hotspots"][0]["current_A"].as_f64().unwrap();
    let gaussian = paper["current_A"].as_f64().unwrap();
    assert!((gaussian - sphere).abs() < 0.02 * sphere.abs(), "paper mode {gaussian} A vs sphere {sphere} A");
    // A point charge 25 nm above the grounded interface and its image: the mean of 1/|x - image| over the
    // calibration sphere is 1/50 nm (mean-value property), so Q = 4 pi eps U / (1/10 nm - 1/50 nm). The
    // rest of the difference is the discretisation of the 2 nm Gaussian.
    let charge = paper["charge_C"].as_f64().unwrap();
    let with_image = 4.0 * PI * VACUUM_PERMITTIVITY * EPS_R * 0.90 / (1.0 / 10e-9 - 1.0 / 50e-9);
    assert!((charge - with_image).abs() < 0.03 * with_image, "Q = {charge} C vs point charge + image {with_image} C");
}

#[test]
fn cli_paper_mode_refuses_cases_without_a_sphere_hot_spot() {
    let dir = tempfile::tempdir().unwrap();
    let case = concat!(env!("CARGO_MANIFEST_DIR"), "/meshes/interlayer_robin.toml");
    let out = ionflux_solve(&[case, "--set", "analysis.paper_mode=true"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("analysis.paper_mode needs a sphere hot spot"), "{stderr}");
    assert!(!dir.path().join("out").exists(), "a failed run left output behind");
}

#[test]
fn cli_paper_mode_refuses_layered_cases_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let layered =
        format!("{}\n[[layers]]\nmaterial = \"llzo\"\nthickness = \"1 um\"\n", ionflux::case::DEFAULT_CASE_TOML);
    std::fs::write(dir.path().join("layered.toml"), layered).unwrap();
    let out = ionflux_solve(&["layered.toml", "--set", "analysis.paper_mode=true"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("paper mode") && stderr.contains("layers"), "{stderr}");
    assert!(!dir.path().join("out").exists(), "a failed run left output behind");
}
