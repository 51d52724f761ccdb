//! Algebraic multigrid (ARCHITECTURE.md, "Verification"): the iteration count to rtol 1e-10 stays at or below 25
//! and the operator complexity at or below 1.5 on the shipped cases and a 1000x conductivity jump, and the AMG
//! solve gives the Jacobi-PCG reference's currents.

use crate::common::{ionflux, read_summary};
use serde_json::Value;
use std::path::Path;

/// A 1 um box whose bottom 300 nm conduct 1000x better than the electrolyte above, with a hot spot above it.
const JUMP_1000: &str = r#"name = "1000x conductivity jump"
[domain]
size = ["1 um", "1 um", "1 um"]
material = "llzo"
[[layers]]
material = "fast"
thickness = "300 nm"
[materials.llzo]
conductivity = "0.00216 S/cm"
[materials.fast]
conductivity = "2.16 S/cm"
[boundaries.interface]
type = "dirichlet"
potential = "0 V"
[boundaries.top]
type = "neumann"
current_density = "50 mA/cm^2"
[[hotspots]]
name = "hs"
shape = "sphere"
center = ["0.5 um", "0.5 um", "500 nm"]
radius = "20 nm"
[boundaries.hs]
type = "dirichlet"
potential = "0.9 V"
[mesh]
h_max = "100 nm"
h_interface = "25 nm"
h_min = "4 nm"
"#;

/// Solves `case` (a path, or None for the built-in default) on the CPU and returns its summary.
fn solve(case: Option<&str>, extra: &[&str], dir: &Path) -> Value {
    let mut args = vec!["solve"];
    args.extend(case);
    args.extend(["--backend", "cpu", "--no-vtu", "--quiet", "--out", "out"]);
    args.extend(extra);
    let out = ionflux(&args, dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    read_summary(&dir.join("out/summary.json"))
}

fn assert_flat_amg(case: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let summary = solve(case, &[], dir.path());
    let solver = &summary["solver"];
    let (iterations, complexity) =
        (solver["iterations"].as_u64().unwrap(), solver["operator_complexity"].as_f64().unwrap());
    let levels = solver["levels"].as_array().unwrap();
    println!(
        "{case:?}: {} unknowns, {iterations} iterations, {} levels, complexity {complexity:.3}",
        solver["unknowns"],
        levels.len()
    );
    assert_eq!(solver["preconditioner"], "amg");
    assert!(solver["relative_residual"].as_f64().unwrap() <= 1e-10);
    assert!(iterations <= 25, "{case:?}: {iterations} iterations");
    assert!(complexity <= 1.5, "{case:?}: operator complexity {complexity}");
    assert!(levels.len() >= 4, "{case:?}: {levels:?}");
    assert_eq!(levels[0]["unknowns"], solver["unknowns"]);
}

fn shipped(name: &str) -> String {
    format!("{}/meshes/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn amg_is_flat_on_the_default_case() {
    assert_flat_amg(None);
}

#[test]
fn amg_is_flat_on_the_5x5_array() {
    assert_flat_amg(Some(&shipped("array_5x5.toml")));
}

#[test]
fn amg_is_flat_on_the_interlayer_with_its_resistive_interface() {
    assert_flat_amg(Some(&shipped("interlayer_hotspot.toml")));
}

#[test]
fn amg_is_flat_across_a_1000x_conductivity_jump() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jump.toml"), JUMP_1000).unwrap();
    assert_flat_amg(Some(dir.path().join("jump.toml").to_str().unwrap()));
}

#[test]
fn amg_and_jacobi_give_the_same_currents_on_the_default_case() {
    let dir = tempfile::tempdir().unwrap();
    let amg = solve(None, &["--preconditioner", "amg"], dir.path());
    let jacobi = solve(None, &["--preconditioner", "jacobi"], dir.path());
    assert_eq!(jacobi["solver"]["preconditioner"], "jacobi");
    assert!(jacobi["solver"]["iterations"].as_u64() > amg["solver"]["iterations"].as_u64());
    let currents = |s: &Value| -> Vec<f64> {
        ["boundaries", "hotspots"]
            .iter()
            .flat_map(|k| s[k].as_array().unwrap().clone())
            .map(|c| c["current_A"].as_f64().unwrap())
            .collect()
    };
    let (a, j) = (currents(&amg), currents(&jacobi));
    let scale = j.iter().fold(0.0f64, |m, c| m.max(c.abs()));
    for (a, j) in a.iter().zip(&j) {
        assert!((a - j).abs() <= 1e-8 * scale, "AMG {a:e} vs Jacobi {j:e}");
    }
}

/// The GPU's cycle (a W-cycle: each coarse level visited twice, no inner products), run by its CPU twin in f64 on
/// the default case: close to the K-cycle's count, and well below a V-cycle's, which grows with the mesh.
#[test]
fn the_gpu_w_cycle_needs_far_fewer_iterations_than_a_v_cycle_on_the_default_case() {
    use ionflux::app::pipeline::{solve_case_with, RunOptions};
    use ionflux::case::{Case, DEFAULT_CASE_TOML, DEFAULT_SOURCE};
    use ionflux::gpu::gpu_amg_options;
    use ionflux::solver::amg::AmgOptions;
    use ionflux::solver::cpu::AmgSolver;
    let case = Case::from_toml_str(DEFAULT_CASE_TOML, DEFAULT_SOURCE, &[]).unwrap();
    let iterations = |options: AmgOptions| {
        let solution = solve_case_with(&case, &mut AmgSolver::new(options), &RunOptions::default()).unwrap();
        solution.report.iterations
    };
    let w = iterations(gpu_amg_options());
    let v = iterations(AmgOptions { coarse_visits: 1, ..gpu_amg_options() });
    println!("default case, rtol 1e-10: W-cycle {w} iterations, V-cycle {v}");
    assert_eq!(gpu_amg_options().coarse_visits, 2);
    assert!(w <= 28 && v >= w + 10, "W {w}, V {v}");
}
