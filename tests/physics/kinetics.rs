//! Butler-Volmer kinetics (ARCHITECTURE.md, "Electrode kinetics") against exact solutions and the two limits that
//! pin the sign convention: a slab with an applied current over a kinetic bottom, a symmetric Li | LLZO | Li cell
//! with kinetics at both ends, the fixed-potential limit (large i0) and the Robin limit (small overpotential), and
//! Newton's convergence on the default hot spot.

use ionflux::app::pipeline::{solve_case_with, Solution};
use ionflux::case::{Case, DEFAULT_CASE_TOML};
use ionflux::solver::cpu::AmgSolver;

/// R T / F at `kelvin`, from the CODATA constants written out here (independent of the case module's).
fn thermal_voltage(kelvin: f64) -> f64 {
    8.314_462_618 * kelvin / 96_485.332_12
}

/// The Butler-Volmer law as DESIGN.md section 6 writes it: the current density leaving the electrolyte.
fn butler_volmer(i0: f64, alpha_a: f64, alpha_c: f64, vt: f64, eta: f64) -> f64 {
    i0 * ((-alpha_c * eta / vt).exp() - (alpha_a * eta / vt).exp())
}

/// The overpotential at which the law gives `j` (it falls monotonically in eta): bisection.
fn overpotential_for(j: f64, i0: f64, alpha_a: f64, alpha_c: f64, vt: f64) -> f64 {
    let (mut low, mut high) = (-100.0 * vt, 100.0 * vt);
    for _ in 0..200 {
        let mid = 0.5 * (low + high);
        if butler_volmer(i0, alpha_a, alpha_c, vt, mid) > j {
            low = mid;
        } else {
            high = mid;
        }
    }
    0.5 * (low + high)
}

fn solve(text: &str, overrides: &[&str]) -> Solution {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let case = Case::from_toml_str(text, "kinetics test", &overrides).expect("valid case");
    solve_case_with(&case, &mut AmgSolver::default(), &Default::default()).expect("solves")
}

fn tag(solution: &Solution, name: &str) -> usize {
    solution.mesh.boundary_tag(name).expect("boundary exists") as usize
}

/// Largest |phi - exact(z)| over the nodes, relative to the largest |exact|.
fn potential_error(solution: &Solution, exact: impl Fn(f64) -> f64) -> f64 {
    let scale = solution.mesh.nodes.iter().map(|p| exact(p.z).abs()).fold(0.0, f64::max);
    solution.mesh.nodes.iter().zip(&solution.phi).map(|(p, phi)| (phi - exact(p.z)).abs()).fold(0.0, f64::max) / scale
}

const SIGMA: f64 = 0.05;
const HEIGHT: f64 = 2e-6;
const SIDE: f64 = 1e-6;
const KELVIN: f64 = 348.0;
const I0: f64 = 10.0;

/// A 1 x 1 x 2 um box of one material, lateral faces insulating, coarse (the exact field is linear).
fn slab(interface: &str, top: &str) -> String {
    format!(
        r#"
        temperature = "{KELVIN} K"
        [domain]
        size = ["1 um", "1 um", "2 um"]
        material = "llzo"
        [materials.llzo]
        conductivity = "{SIGMA} S/m"
        [boundaries.interface]
        {interface}
        [boundaries.top]
        {top}
        [mesh]
        h_max = "0.5 um"
        h_interface = "0.5 um"
        "#
    )
}

fn kinetic(alpha_a: f64, alpha_c: f64, electrode_potential: f64) -> String {
    format!(
        "type = \"butler_volmer\"\nexchange_current_density = \"{I0} A/m^2\"\nalpha_anodic = {alpha_a}\n\
         alpha_cathodic = {alpha_c}\nelectrode_potential = \"{electrode_potential:e} V\"\n\
         equilibrium_potential = \"0.05 V\""
    )
}

/// Applied current density J at the top, Butler-Volmer at the bottom: the bottom's overpotential is the law's
/// inverse at J, the potential linear with slope J / sigma. Overpotentials of 1, 5 and 20 R T / F.
#[test]
fn slab_with_an_applied_current_over_a_kinetic_bottom_is_exact() {
    let vt = thermal_voltage(KELVIN);
    for (alpha_a, alpha_c) in [(0.5, 0.5), (0.3, 0.7)] {
        for multiple in [1.0, 5.0, 20.0] {
            // Current leaves the electrolyte at the bottom (plating): eta < 0.
            let eta = -multiple * vt;
            let j = butler_volmer(I0, alpha_a, alpha_c, vt, eta);
            let electrode = 0.2;
            let text = slab(
                &kinetic(alpha_a, alpha_c, electrode),
                &format!("type = \"neumann\"\ncurrent_density = \"{j:e} A/m^2\""),
            );
            let solution = solve(&text, &["solver.rtol=1e-12"]);
            let phi_bottom = electrode - 0.05 - eta;
            let error = potential_error(&solution, |z| phi_bottom + j * z / SIGMA);
            let current = solution.boundary_currents[tag(&solution, "interface")];
            let current_error = (current / (j * SIDE * SIDE) - 1.0).abs();
            println!("alpha {alpha_a}/{alpha_c}, eta {multiple} V_T: phi {error:.2e}, current {current_error:.2e}");
            assert!(error < 1e-8, "alpha {alpha_a}/{alpha_c}, {multiple} V_T: potential error {error:.3e}");
            assert!(current_error < 1e-8, "alpha {alpha_a}/{alpha_c}, {multiple} V_T: current {current:e}");
            let state = solution.kinetic_surfaces.iter().find(|s| s.tag as usize == tag(&solution, "interface"));
            let state = state.expect("the interface is kinetic");
            assert!((state.mean_overpotential_v - eta).abs() < 1e-8 * vt * multiple, "{state:?}");
            assert!((state.non_uniformity() - 1.0).abs() < 1e-8, "a uniform reaction: {state:?}");
        }
    }
}

/// Li | LLZO | Li with kinetics at both electrodes: one current J through the cell, the bottom's overpotential
/// eta_b (chosen), the top's from the law's inverse at -J, and the cell voltage that drives it.
#[test]
fn symmetric_cell_with_kinetics_at_both_ends_is_exact() {
    let vt = thermal_voltage(KELVIN);
    for (alpha_a, alpha_c) in [(0.5, 0.5), (0.3, 0.7)] {
        for multiple in [1.0, 5.0, 20.0] {
            let eta_bottom = -multiple * vt;
            let j = butler_volmer(I0, alpha_a, alpha_c, vt, eta_bottom);
            let eta_top = overpotential_for(-j, I0, alpha_a, alpha_c, vt);
            let phi_bottom = 0.0 - 0.05 - eta_bottom;
            let phi_top = phi_bottom + j * HEIGHT / SIGMA;
            let voltage = eta_top + phi_top + 0.05;
            let text = slab(&kinetic(alpha_a, alpha_c, 0.0), &kinetic(alpha_a, alpha_c, voltage));
            let solution = solve(&text, &["solver.rtol=1e-12"]);
            let error = potential_error(&solution, |z| phi_bottom + j * z / SIGMA);
            let bottom = solution.boundary_currents[tag(&solution, "interface")] / (j * SIDE * SIDE);
            let top = solution.boundary_currents[tag(&solution, "top")] / (-j * SIDE * SIDE);
            println!("alpha {alpha_a}/{alpha_c}, eta {multiple} V_T: phi {error:.2e}, currents {bottom} {top}");
            assert!(error < 1e-8, "alpha {alpha_a}/{alpha_c}, {multiple} V_T: potential error {error:.3e}");
            assert!((bottom - 1.0).abs() < 1e-8 && (top - 1.0).abs() < 1e-8, "currents {bottom} {top}");
        }
    }
}

/// A film in series: in the linear limit the kinetics and the film add as resistances, R_ct + R_f.
#[test]
fn a_film_adds_its_resistance_in_series() {
    let vt = thermal_voltage(KELVIN);
    let (r_ct, r_film) = (vt / (I0 * 1.0), 2e-3);
    // A current so small that eta << V_T: the linear limit to ~1e-6.
    let j = 1e-5 * vt / r_ct;
    let bottom = format!("{}\nfilm_resistance = \"{r_film} Ohm m^2\"", kinetic(0.5, 0.5, 0.0));
    let top = format!("type = \"neumann\"\ncurrent_density = \"{j:e} A/m^2\"");
    let solution = solve(&slab(&bottom, &top), &["solver.rtol=1e-12"]);
    let phi_bottom = -0.05 + j * (r_ct + r_film);
    let error = potential_error(&solution, |z| phi_bottom + j * z / SIGMA);
    println!("film: potential error {error:.2e}");
    assert!(error < 1e-5, "film in series: {error:.3e}");
}

/// The shipped kinetic hot spot (meshes/hotspot_kinetics.toml) at a coarser mesh.
fn kinetic_hot_spot(overrides: &[&str]) -> Solution {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/meshes/hotspot_kinetics.toml")).unwrap();
    solve(&text, overrides)
}

const COARSE: [&str; 2] = ["mesh.h_max=1 um", "mesh.h_interface=0.25 um"];

/// The default hot spot with kinetics so fast that the charge-transfer resistance is negligible (i0 = 1e11 A/m^2):
/// its current equals the fixed-potential (Dirichlet) result within 0.1 %.
#[test]
fn fast_kinetics_give_the_fixed_potential_current() {
    let dirichlet = solve(DEFAULT_CASE_TOML, &COARSE);
    let fast = [COARSE[0], COARSE[1], "boundaries.hotspot.exchange_current_density=1e11 A/m^2"];
    let kinetic = kinetic_hot_spot(&fast);
    assert_eq!(dirichlet.mesh.nodes.len(), kinetic.mesh.nodes.len());
    let spot = tag(&dirichlet, "hotspot");
    let (fixed, fast) = (dirichlet.boundary_currents[spot], kinetic.boundary_currents[spot]);
    println!("hot spot: fixed potential {fixed:e} A, i0 = 1e11 A/m^2 {fast:e} A");
    assert!((fast / fixed - 1.0).abs() < 1e-3, "{fast:e} vs {fixed:e}");
}

/// A current so low that eta << R T / F everywhere: Butler-Volmer at the interface and the hot spot equals the
/// Robin condition with R_ct = R T / (F i0 (alpha_a + alpha_c)) within 1e-4.
#[test]
fn small_overpotentials_give_the_robin_condition() {
    let i0 = 10.0;
    let vt = thermal_voltage(348.0);
    let r_ct = vt / (i0 * (0.5 + 0.5));
    let with = |condition: &str| {
        let text = DEFAULT_CASE_TOML.replace("potential = \"0.90 V\"", "").replace("potential = \"0 V\"", "");
        let text = text.replace("type = \"dirichlet\"", condition);
        format!("temperature = \"348 K\"\n{text}")
    };
    let overrides = [COARSE[0], COARSE[1], "solver.rtol=1e-11", "boundaries.top.current_density=0.1 uA/cm^2"];
    let bv = solve(&with(&format!("type = \"butler_volmer\"\nexchange_current_density = \"{i0} A/m^2\"")), &overrides);
    let linear = solve(&with(&format!("type = \"robin\"\nresistance = \"{r_ct:e} Ohm m^2\"")), &overrides);
    assert_eq!(bv.kinetic_surfaces.len(), 2, "the interface and the hot spot are kinetic");
    let largest = bv.kinetic_surfaces.iter().map(|s| s.max_overpotential_v.abs().max(s.min_overpotential_v.abs()));
    let largest = largest.fold(0.0, f64::max);
    assert!(largest < 1e-3 * vt, "eta << V_T: {largest:e} V");
    for name in ["interface", "hotspot", "top"] {
        let t = tag(&bv, name);
        let (nonlinear, robin) = (bv.boundary_currents[t], linear.boundary_currents[t]);
        println!("{name}: Butler-Volmer {nonlinear:e} A, Robin {robin:e} A");
        assert!((nonlinear / robin - 1.0).abs() < 1e-4, "{name}: {nonlinear:e} vs {robin:e}");
    }
}

/// Newton on the default hot spot with i0 = 1 mA/cm^2 (0.9 V across a kinetically limited sphere): at most 20
/// steps from a zero start, and quadratic convergence once close: r_{k+1} <= 10 r_k^2 (relative residuals) for
/// 1e-6 < r_k < 1e-2 (below, the linear solves' tolerance sets the next residual).
#[test]
fn newton_converges_quadratically_on_the_default_hot_spot() {
    let solution = kinetic_hot_spot(&COARSE);
    let newton = solution.newton.as_ref().expect("a kinetic case runs Newton");
    let residuals: Vec<f64> =
        newton.steps.iter().map(|s| s.relative_residual).chain([newton.relative_residual]).collect();
    println!("Newton residuals: {residuals:?}");
    assert!(newton.steps.len() <= 20, "{} steps", newton.steps.len());
    assert!(newton.relative_residual <= 1e-10);
    let close: Vec<(f64, f64)> =
        residuals.windows(2).map(|w| (w[0], w[1])).filter(|&(r, _)| r < 1e-2 && r > 1e-6).collect();
    assert!(close.len() >= 2, "too few steps near the solution to see the order: {residuals:?}");
    for (r, next) in close {
        assert!(next <= 10.0 * r * r, "not quadratic: {r:e} -> {next:e}");
    }
    // The kinetics limit the current: it lies well below the fixed-potential one (3.1e-8 A).
    let current = solution.boundary_currents[tag(&solution, "hotspot")];
    assert!(current < 0.0 && current.abs() < 1e-8, "{current:e}");
}
