//! Voids (`[analysis] voids`): an insulating disk of radius a on the grounded interface, current j driven in at
//! the top, against the flat-crack solution in a half-space.
//!
//! The disturbance phi1 = phi - j z / sigma is harmonic in z > 0, zero on the plane outside the disk, has
//! d(phi1)/dz = -j / sigma on the disk and vanishes far away. Extended oddly to z < 0 it is the field of a
//! penny-shaped insulating crack in a uniform field j / sigma, whose potential jump is (4 / pi) (j / sigma)
//! sqrt(a^2 - r^2), so phi1 = (2 j / (pi sigma)) sqrt(a^2 - r^2) on the disk. Outside it the current crowds
//! toward the rim: J_z(r) = j (1 + (2 / pi) (a / sqrt(r^2 - a^2) - arcsin(a / r))), r > a.
//!
//! In a box with insulating sides and a Neumann top, F(z) = integral of phi1 over the cross-section at height z
//! has F'' = 0 (the sides carry nothing) and F'(H) = 0 (the top current is fixed), so F is constant: the mean
//! top potential rises by (1 / A) integral of phi1 over the disk = 4 j a^3 / (3 sigma A), and the constriction
//! resistance is R = 4 a^3 / (3 sigma A^2), exactly up to how the walls change phi1 on the disk. The walls act
//! as mirror voids at distances >= L: a neighbour at distance d adds (2 / (3 pi)) (a / d)^3 j near the void,
//! summed over the square lattice about 1.9 (a / L)^3 = 0.4 % for L = 8 a.

use crate::common::{ionflux, read_summary};
use ionflux::app::pipeline::{solve_case_with, summarize, RunOptions, Solution};
use ionflux::case::{Case, CaseError};
use ionflux::fem::barycentric_gradients;
use ionflux::solver::cpu::CpuSolver;
use std::f64::consts::PI;

const SIGMA: f64 = 0.216; // S/m, "0.00216 S/cm"
const J_APPLIED: f64 = 500.0; // A/m^2, "50 mA/cm^2"
const RADIUS: f64 = 1e-6;
const SIDE: f64 = 8e-6;
const HEIGHT: f64 = 4e-6;

/// An 8 x 8 x 4 um LLZO box, 0 V interface, 50 mA/cm^2 in at the top, an insulating disk of 1 um at the centre.
fn void_case(h_min: &str) -> Case {
    let text = format!(
        r#"
        [domain]
        size = ["8 um", "8 um", "4 um"]
        material = "llzo"
        [materials.llzo]
        conductivity = "0.00216 S/cm"
        [boundaries.interface]
        type = "dirichlet"
        potential = "0 V"
        [boundaries.top]
        type = "neumann"
        current_density = "50 mA/cm^2"
        [[hotspots]]
        name = "void"
        shape = "disk"
        center = ["4 um", "4 um"]
        radius = "1 um"
        [boundaries.void]
        type = "insulating"
        [mesh]
        h_max = "1 um"
        h_interface = "200 nm"
        h_min = "{h_min}"
        [analysis]
        voids = true
        "#
    );
    Case::from_toml_str(&text, "void test", &[]).unwrap()
}

fn solve(case: &Case) -> Solution {
    solve_case_with(case, &mut CpuSolver, &RunOptions::default()).unwrap()
}

fn analytic_current_density(r: f64) -> f64 {
    let a = RADIUS;
    J_APPLIED * (1.0 + 2.0 / PI * (a / (r * r - a * a).sqrt() - (a / r).asin()))
}

/// The formula itself: it tends to j far away, and the extra current outside the disk is the j pi a^2 the
/// disk blocks (midpoint rule in u = sqrt(r^2 - a^2), which removes the rim singularity, plus the analytic
/// tail (2 / (3 pi)) j a^3 / r^3 beyond r = 1000 a).
#[test]
fn analytic_rim_current_conserves_the_blocked_current() {
    let a = RADIUS;
    assert!((analytic_current_density(1e4 * a) / J_APPLIED - 1.0).abs() < 1e-11);
    let (u_max, n) = (1000.0 * a, 2_000_000);
    let du = u_max / n as f64;
    // r dr = u du
    let extra: f64 = (0..n)
        .map(|k| {
            let u = (k as f64 + 0.5) * du;
            let r = (u * u + a * a).sqrt();
            (analytic_current_density(r) - J_APPLIED) * 2.0 * PI * u * du
        })
        .sum();
    let r_max = (u_max * u_max + a * a).sqrt();
    let tail = 2.0 / (3.0 * PI) * J_APPLIED * a.powi(3) * 2.0 * PI / r_max;
    let blocked = J_APPLIED * PI * a * a;
    assert!(((extra + tail) / blocked - 1.0).abs() < 1e-4, "{} vs {blocked}", extra + tail);
}

/// Interface current density from the consistent nodal fluxes, independent of the analysis code: the current
/// leaving through interface node i is sum over its tets of V_t J_t . grad N_i (the weak form's residual), and
/// over the lumped area integral of N_i it is the N_i-weighted mean of -J_z. Returns (r, J) per node.
fn interface_nodal_current_density(solution: &Solution) -> Vec<(f64, f64)> {
    let mesh = &solution.mesh;
    let tag = mesh.boundary_tag("interface").unwrap();
    let mut outflow = vec![0.0; mesh.nodes.len()];
    let mut area = vec![0.0; mesh.nodes.len()];
    for f in mesh.boundary_faces.iter().filter(|f| f.tag == tag) {
        for &n in &f.nodes {
            area[n as usize] += 0.5 * mesh.face_normal2(f).length() / 3.0;
        }
    }
    for (t, tet) in mesh.tets.iter().enumerate() {
        let (gradients, _) = barycentric_gradients(mesh.tet_points(t));
        for (&n, g) in tet.iter().zip(gradients) {
            if area[n as usize] > 0.0 {
                outflow[n as usize] += mesh.tet_volume(t) * solution.cell_current[t].dot(g);
            }
        }
    }
    let center = SIDE / 2.0;
    (0..mesh.nodes.len())
        .filter(|&n| area[n] > 0.0)
        .map(|n| {
            let p = mesh.nodes[n];
            (((p.x - center).powi(2) + (p.y - center).powi(2)).sqrt(), outflow[n] / area[n])
        })
        .collect()
}

/// Constriction resistance against 4 a^3 / (3 sigma A^2) and the rim current density against the flat-crack
/// formula, at h = 6.25 nm on the rim (a / 160). The resistance converges to first order in h_min (relative
/// error -2.4, -1.4, -0.85, -0.58 % at h_min = 25, 12.5, 6.25, 3.1 nm; grading 1.15 gives -0.80, -0.32,
/// -0.07 % at 12.5, 6.25, 3.1 nm, extrapolated +0.2 %, within the walls' +0.4 %): the FEM field is stiffer
/// than the exact one, so it underestimates the detour.
#[test]
fn void_matches_the_flat_crack_solution() {
    let case = void_case("6.25 nm");
    let solution = solve(&case);
    let [void] = solution.analysis.voids.as_slice() else { panic!("one void: {:?}", solution.analysis.voids) };
    let area = SIDE * SIDE;

    // The reference case is a uniform field, exact for P1: R = H / (sigma A).
    assert!((void.reference_resistance_Ohm / (HEIGHT / (SIGMA * area)) - 1.0).abs() < 1e-8, "{void:?}");
    assert!((void.applied_current_density_A_per_m2 / J_APPLIED - 1.0).abs() < 1e-8, "{void:?}");
    let analytic = 4.0 * RADIUS.powi(3) / (3.0 * SIGMA * area * area);
    let error = void.constriction_resistance_Ohm / analytic - 1.0;
    eprintln!(
        "constriction resistance {:.5e} Ohm, analytic {analytic:.5e} Ohm ({error:+.2e})",
        void.constriction_resistance_Ohm
    );
    assert!(error.abs() < 0.015, "{void:?} vs {analytic:e}");

    let nodal = interface_nodal_current_density(&solution);
    for ratio in [1.25, 1.5, 2.0] {
        let (r0, band) = (ratio * RADIUS, 0.05 * RADIUS);
        let near: Vec<f64> = nodal
            .iter()
            .filter(|(r, _)| (r - r0).abs() < band)
            .map(|&(r, j)| j / analytic_current_density(r))
            .collect();
        assert!(near.len() >= 8, "{} nodes near r = {ratio} a", near.len());
        let mean = near.iter().sum::<f64>() / near.len() as f64;
        eprintln!("J_z at r = {ratio} a: computed / analytic = {mean:.4} over {} nodes", near.len());
        assert!((mean - 1.0).abs() < 0.01, "J_z at r = {ratio} a: computed / analytic = {mean}");
    }
}

/// The flat-crack value of the rim annulus mean: integral over a <= r <= a + w of J_z 2 pi r dr over the annulus'
/// area. With u = sqrt(r^2 - a^2), r dr = u du and the singular term a / u times u is smooth: midpoint rule in u.
fn analytic_rim_mean(width: f64) -> f64 {
    let a = RADIUS;
    let u_max = ((a + width).powi(2) - a * a).sqrt();
    let n = 100_000;
    let du = u_max / n as f64;
    let integral: f64 = (0..n)
        .map(|k| {
            let u = (k as f64 + 0.5) * du;
            let r = (u * u + a * a).sqrt();
            analytic_current_density(r) * 2.0 * PI * u * du
        })
        .sum();
    integral / (PI * ((a + width).powi(2) - a * a))
}

/// The rim peak is singular (on `meshes/void.toml` it grew 3.84 -> 6.18 -> 9.81 as h_min went 50 / 25 / 12.5 nm;
/// the annulus mean there: 2.234, 2.213, 2.202); the focusing factor is the mean over the rim annulus a .. a + a/5,
/// which converges: under three h_min halvings its changes shrink, the last
/// two agree within 2 %, and the finest is within 2 % of the flat-crack value (walls +0.4 %). Meanwhile the
/// interface carries all the current and the constriction resistance approaches its analytic value.
#[test]
fn focusing_over_the_rim_annulus_converges_to_the_flat_crack_value() {
    let analytic = 4.0 * RADIUS.powi(3) / (3.0 * SIGMA * SIDE.powi(4));
    let (mut factors, mut errors) = (Vec::new(), Vec::new());
    for h_min in ["100 nm", "50 nm", "25 nm", "12.5 nm"] {
        let solution = solve(&void_case(h_min));
        let void = &solution.analysis.voids[0];
        let interface = solution.boundary_currents[solution.mesh.boundary_tag("interface").unwrap() as usize];
        assert!((interface / (J_APPLIED * SIDE * SIDE) - 1.0).abs() < 1e-8, "{interface}");
        assert_eq!(void.rim_width_m, 0.2 * RADIUS);
        factors.push(void.focusing_factor);
        errors.push((void.constriction_resistance_Ohm / analytic - 1.0).abs());
    }
    let exact = analytic_rim_mean(0.2 * RADIUS) / J_APPLIED;
    eprintln!(
        "h_min = 100, 50, 25, 12.5 nm: focusing factors {factors:?} (flat crack {exact:.4}), |R / R_analytic - 1| \
         {errors:?}"
    );
    let changes: Vec<f64> = factors.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    assert!(changes.windows(2).all(|c| c[1] < c[0]), "changes {changes:?} do not shrink");
    let last = changes[changes.len() - 1] / factors[factors.len() - 1];
    assert!(last < 0.02, "the last two differ by {:.2} %", 100.0 * last);
    let finest = factors[factors.len() - 1];
    assert!((finest / exact - 1.0).abs() < 0.02, "finest {finest:.4} against the flat crack's {exact:.4}");
    assert!(errors.windows(2).all(|w| w[1] < w[0]), "{errors:?}");
}

/// Cases without voids (here a Dirichlet disk, which is not one) report an empty list.
#[test]
fn a_case_without_voids_has_an_empty_list() {
    let text = r#"
        [domain]
        size = ["4 um", "4 um", "4 um"]
        material = "llzo"
        [materials.llzo]
        conductivity = "0.00216 S/cm"
        [boundaries.interface]
        type = "dirichlet"
        potential = "0 V"
        [boundaries.top]
        type = "neumann"
        current_density = "50 mA/cm^2"
        [[hotspots]]
        name = "patch"
        shape = "disk"
        center = ["2 um", "2 um"]
        radius = "500 nm"
        [boundaries.patch]
        type = "dirichlet"
        potential = "0.1 V"
        [mesh]
        h_max = "1 um"
        h_interface = "500 nm"
        h_min = "100 nm"
        [analysis]
        voids = true
    "#;
    let case = Case::from_toml_str(text, "no void", &[]).unwrap();
    let solution = solve(&case);
    assert!(solution.analysis.voids.is_empty());
    let json = serde_json::to_value(summarize(&case, &solution)).unwrap();
    assert_eq!(json["voids"], serde_json::json!([]));
    // The switch off: nothing computed even with a void.
    let mut off = void_case("100 nm");
    off.analysis.voids = false;
    assert!(solve(&off).analysis.voids.is_empty());
}

/// A 4 um void case with the given interface and top conditions and `[analysis]` lines.
fn read_case(interface: &str, top: &str, analysis: &str) -> Result<Case, CaseError> {
    let text = format!(
        r#"
        [domain]
        size = ["4 um", "4 um", "4 um"]
        material = "llzo"
        [materials.llzo]
        conductivity = "0.00216 S/cm"
        [boundaries.interface]
        {interface}
        [boundaries.top]
        {top}
        [boundaries.x_min]
        type = "dirichlet"
        potential = "0 V"
        [[hotspots]]
        name = "void"
        shape = "disk"
        center = ["2 um", "2 um"]
        radius = "500 nm"
        [analysis]
        {analysis}
        "#
    );
    Case::from_toml_str(&text, "bad voids", &[])
}

fn case_error(interface: &str, top: &str, analysis: &str) -> String {
    read_case(interface, top, analysis).unwrap_err().to_string()
}

#[test]
fn bad_voids_settings_name_the_field() {
    let grounded = "type = \"dirichlet\"\npotential = \"0 V\"";
    let driven = "type = \"neumann\"\ncurrent_density = \"50 mA/cm^2\"";
    let message = case_error(grounded, driven, "voids = \"yes\"");
    assert!(message.contains("`analysis.voids`") && message.contains("bool"), "{message}");
    let message = case_error("type = \"insulating\"", driven, "voids = true");
    assert!(message.contains("`analysis.voids`") && message.contains("dirichlet or robin interface"), "{message}");
    let message = case_error(grounded, "type = \"insulating\"", "voids = true");
    assert!(message.contains("`analysis.voids`") && message.contains("top face"), "{message}");
    // The switch off accepts the same case.
    assert!(!read_case(grounded, "type = \"insulating\"", "voids = false").unwrap().analysis.voids);
}

/// `ionflux solve meshes/void.toml` (coarsened) prints the void line and writes its summary entry.
#[test]
fn cli_reports_the_void() {
    let dir = tempfile::tempdir().unwrap();
    let case = concat!(env!("CARGO_MANIFEST_DIR"), "/meshes/void.toml");
    let coarse = ["--set", "mesh.h_min=100 nm", "--set", "mesh.h_interface=500 nm"];
    let out = ionflux(
        &[&["solve", case, "--out", "out", "--no-vtu", "--backend", "cpu"][..], &coarse[..]].concat(),
        dir.path(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = "void void (r = 1.000 um): mean J into the interface over the rim annulus 200.0 nm wide";
    assert!(stdout.contains(line) && stdout.contains("constriction"), "{stdout}");
    // The interface's current is fixed by the Neumann top (the void is insulating): its estimate is exactly 0.
    assert!(stdout.contains("interface          3.20000e-8 ± 0 %"), "{stdout}");
    let summary = read_summary(&dir.path().join("out/summary.json"));
    let void = &summary["voids"][0];
    assert_eq!(void["hotspot"], "void");
    assert!(void["focusing_factor"].as_f64().unwrap() > 1.0, "{void}");
    assert!(void["constriction_resistance_Ohm"].as_f64().unwrap() > 0.0, "{void}");
}
