//! Whole cases solved on the GPU against the CPU f64 reference on the same mesh: a layered slab with a
//! Robin interface and the default hot-spot case at a reduced resolution; and `solve --backend gpu` from
//! the command line. Skips (with a printed reason) without an adapter, fails under IONFLUX_REQUIRE_GPU=1.

use crate::common::{ionflux, read_summary};
use ionflux::app::pipeline::{self, RunOptions, Solution};
use ionflux::case::{Case, DEFAULT_CASE_TOML, DEFAULT_SOURCE};
use ionflux::gpu::{test_context, GpuSolver};
use ionflux::solver::cpu::CpuSolver;
use ionflux::solver::settings::Precision;

fn relative_l2(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(a, b)| (a - b).powi(2)).sum();
    let norm: f64 = b.iter().map(|b| b * b).sum();
    (diff / norm).sqrt()
}

/// Largest difference of a boundary / hot-spot current, relative to the largest current.
fn current_difference(gpu: &Solution, cpu: &Solution) -> f64 {
    let scale = cpu.boundary_currents.iter().fold(0.0f64, |m, c| m.max(c.abs()));
    gpu.boundary_currents.iter().zip(&cpu.boundary_currents).map(|(g, c)| (g - c).abs() / scale).fold(0.0, f64::max)
}

/// Largest difference of a current's error estimate, relative to that estimate (the duals are solved on the
/// backend too), or to `floor` times the current where the estimate is smaller (a P1-exact slab's estimates are
/// round-off, whose relative differences mean nothing; `floor` is how well the backends agree on the currents).
fn estimate_difference(gpu: &Solution, cpu: &Solution, floor: f64) -> f64 {
    let (g, c) = (&gpu.estimates.boundary, &cpu.estimates.boundary);
    assert_eq!(g.len(), c.len());
    g.iter()
        .zip(c)
        .zip(&cpu.boundary_currents)
        .map(|((g, c), current)| match (g, c) {
            (Some(g), Some(c)) => {
                let scale = c.abs().max(floor * current.abs());
                if scale > 0.0 {
                    (g - c).abs() / scale
                } else {
                    (g - c).abs()
                }
            }
            (None, None) => 0.0,
            _ => f64::INFINITY,
        })
        .fold(0.0, f64::max)
}

/// Solves `case` on the CPU and in each precision on the GPU; asserts the bounds of issue 4, and for the error
/// estimates 1e-6 (mixed) and 1e-2 (f32) of each estimate.
fn gpu_matches_cpu(case: &Case) {
    let Some(context) = test_context() else { return };
    let options = RunOptions::default();
    let cpu = pipeline::solve_case_with(case, &mut CpuSolver, &options).unwrap();
    for (precision, bound) in [(Precision::Mixed, 1e-8), (Precision::F32, 1e-4)] {
        let mut solver = GpuSolver::new(&context, precision);
        let gpu = pipeline::solve_case_with(case, &mut solver, &options).unwrap();
        assert_eq!(gpu.phi.len(), cpu.phi.len());
        let phi = relative_l2(&gpu.phi, &cpu.phi);
        let currents = current_difference(&gpu, &cpu);
        let estimates = estimate_difference(&gpu, &cpu, bound);
        println!("{}: {precision:?}: phi {phi:.2e}, currents {currents:.2e}, estimates {estimates:.2e}", case.name);
        let estimate_bound = if precision == Precision::Mixed { 1e-6 } else { 1e-2 };
        assert!(estimates < estimate_bound, "{precision:?}: estimate difference {estimates:.3e}");
        assert!(cpu.estimates.boundary.iter().any(|e| e.is_some()), "the case has estimates to compare");
        assert!(phi < bound, "{precision:?}: relative L2 difference of phi {phi:.3e} >= {bound:e}");
        assert!(currents < bound, "{precision:?}: current difference {currents:.3e} >= {bound:e}");
        for (g, c) in gpu.surface_currents.iter().zip(&cpu.surface_currents) {
            assert!((g - c).abs() < bound * c.abs(), "{precision:?}: surface current {g:e} vs {c:e}");
        }
        assert_eq!(gpu.surface_currents.len(), cpu.surface_currents.len());
        assert_eq!(gpu.report.backend, "gpu");
        assert_eq!(gpu.report.precision, precision.name());
    }
}

#[test]
fn layered_robin_slab_on_gpu_matches_cpu() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/meshes/interlayer_robin.toml")).unwrap();
    // A tight tolerance, so that both solutions are far closer to the exact one than the bounds compared.
    let case = Case::from_toml_str(&text, "interlayer_robin.toml", &["solver.rtol=1e-12".into()]).unwrap();
    gpu_matches_cpu(&case);
}

#[test]
fn default_hot_spot_case_at_reduced_resolution_on_gpu_matches_cpu() {
    let coarse =
        ["mesh.h_max=2 um", "mesh.h_interface=0.5 um", "mesh.h_min=4 nm", "mesh.grading=1.5", "solver.rtol=1e-12"];
    let case = Case::from_toml_str(DEFAULT_CASE_TOML, DEFAULT_SOURCE, &coarse.map(String::from)).unwrap();
    gpu_matches_cpu(&case);
}

/// Butler-Volmer kinetics on the GPU: Newton's loop on the host, each linear solve on the device (the shipped
/// kinetic hot spot at a reduced resolution); within the same bounds of the CPU as a linear case.
#[test]
fn butler_volmer_hot_spot_on_gpu_matches_cpu() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/meshes/hotspot_kinetics.toml")).unwrap();
    let coarse =
        ["mesh.h_max=2 um", "mesh.h_interface=0.5 um", "mesh.h_min=4 nm", "mesh.grading=1.5", "solver.rtol=1e-12"];
    let case = Case::from_toml_str(&text, "hotspot_kinetics.toml", &coarse.map(String::from)).unwrap();
    gpu_matches_cpu(&case);
}

/// The adaptive loop on the GPU (mixed precision) makes the same meshes as on the CPU: its estimates agree to
/// 1e-6, so each cycle scales the size field alike (the default case from a coarse mesh to 1 %).
#[test]
fn adaptive_loop_on_gpu_makes_the_cpu_meshes() {
    let Some(context) = test_context() else { return };
    let coarse =
        ["mesh.h_max=2 um", "mesh.h_interface=0.5 um", "mesh.h_min=4 nm", "mesh.grading=1.5", "adapt.target=\"1 %\""];
    let case = Case::from_toml_str(DEFAULT_CASE_TOML, DEFAULT_SOURCE, &coarse.map(String::from)).unwrap();
    let options = RunOptions::default();
    let cpu = pipeline::solve_case_with(&case, &mut CpuSolver, &options).unwrap();
    let gpu = pipeline::solve_case_with(&case, &mut GpuSolver::new(&context, Precision::Mixed), &options).unwrap();
    let (cpu_cycles, gpu_cycles) = (&cpu.adapt.as_ref().unwrap().cycles, &gpu.adapt.as_ref().unwrap().cycles);
    println!("cpu {cpu_cycles:?}\ngpu {gpu_cycles:?}");
    assert!(cpu_cycles.len() >= 2, "{cpu_cycles:?}");
    assert_eq!(cpu_cycles.len(), gpu_cycles.len());
    for (c, g) in cpu_cycles.iter().zip(gpu_cycles) {
        assert_eq!(c.nodes, g.nodes);
        assert!((c.worst_relative_estimate / g.worst_relative_estimate - 1.0).abs() < 1e-6, "{c:?} {g:?}");
    }
    assert!(gpu.adapt.as_ref().unwrap().met);
}

/// An imported mesh (Gmsh's mesh of the paper's hot spot, meshes/sphere_in_box.toml) solves on the GPU like a
/// generated one: mixed precision within 1e-8 of the CPU, f32 within 1e-4; the measurement surface's current too.
#[test]
fn gmsh_mesh_on_gpu_matches_cpu() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/meshes/sphere_in_box.toml");
    let case = Case::load(std::path::Path::new(path), &["solver.rtol=1e-12".into()]).unwrap();
    assert!(case.mesh_file().is_some());
    gpu_matches_cpu(&case);
}

#[test]
fn cli_solve_on_gpu_names_adapter_and_precision() {
    let Some(context) = test_context() else { return };
    let dir = tempfile::tempdir().unwrap();
    let slab = concat!(env!("CARGO_MANIFEST_DIR"), "/meshes/slab.toml");
    let adapter = &context.adapter_name()[..4];
    let out = ionflux(
        &["solve", slab, "--backend", "gpu", "--precision", "mixed", "--adapter", adapter, "--quiet", "--out", "out"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = read_summary(&dir.path().join("out/summary.json"));
    assert_eq!(summary["solver"]["backend"], "gpu");
    assert_eq!(summary["solver"]["precision"], "mixed");
    let device = summary["solver"]["device"].as_str().unwrap();
    assert!(device.contains(context.adapter_name()), "{device}");
    assert!(summary["solver"]["relative_residual"].as_f64().unwrap() <= 1e-10);
}

/// f32 stops at its round-off floor, above the default rtol of 1e-10: the run says so on stderr and in the summary.
#[test]
fn an_f32_solve_above_rtol_warns() {
    let Some(_context) = test_context() else { return };
    let dir = tempfile::tempdir().unwrap();
    let slab = concat!(env!("CARGO_MANIFEST_DIR"), "/meshes/slab.toml");
    let out =
        ionflux(&["solve", slab, "--backend", "gpu", "--precision", "f32", "--quiet", "--out", "out"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let summary = read_summary(&dir.path().join("out/summary.json"));
    let residual = summary["solver"]["relative_residual"].as_f64().unwrap();
    let warnings = summary["warnings"].as_array().unwrap();
    println!("{residual:e}: {stderr}");
    assert!(residual > 1e-10, "{residual}");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        stderr.contains("warning: the solve reached a relative residual") && stderr.contains("solver.rtol"),
        "{stderr}"
    );
}

/// f32 with potentials that underflow it (1e-40 V) returns a zero field at relative residual 1: an error, not an
/// answer, and no output (it exited 0 before).
#[test]
fn an_f32_solve_that_reaches_nothing_is_an_error() {
    let Some(_context) = test_context() else { return };
    let dir = tempfile::tempdir().unwrap();
    let slab = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/meshes/slab.toml")).unwrap();
    let tiny = slab.replace("\"0.1 V\"", "\"1e-40 V\"");
    assert_ne!(tiny, slab, "meshes/slab.toml sets its top to 0.1 V");
    std::fs::write(dir.path().join("tiny.toml"), tiny).unwrap();
    let args = ["solve", "tiny.toml", "--backend", "gpu", "--precision", "f32", "--quiet", "--out", "out"];
    let out = ionflux(&args, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("did not converge") && stderr.contains("gpu f32"), "{stderr}");
    assert!(!dir.path().join("out").exists());
}
