//! AMG on the GPU: the recorded W-cycle against its CPU twin (`Hierarchy::apply` with the same W-cycle
//! options) on seeded data, whole in one binding and with the operators split into row chunks, and whole cases
//! solved in mixed precision with AMG against the CPU f64 AMG solve. Skips (with a printed reason) without an
//! adapter, fails under IONFLUX_REQUIRE_GPU=1.

use ionflux::app::bench::seeded_vector;
use ionflux::app::pipeline::{self, RunOptions, Solution};
use ionflux::case::{Case, DEFAULT_CASE_TOML, DEFAULT_SOURCE};
use ionflux::gpu::{
    gpu_amg_options, test_context, test_context_with, GpuContext, GpuRequest, GpuSolver, GpuSystem, Real,
};
use ionflux::solver::amg::Hierarchy;
use ionflux::solver::cpu::AmgSolver;
use ionflux::solver::settings::Precision;
use ionflux::solver::sparse::CsrMatrix;

fn relative_diff(got: &[f64], want: &[f64]) -> f64 {
    let diff: f64 = got.iter().zip(want).map(|(g, w)| (g - w).powi(2)).sum::<f64>().sqrt();
    diff / want.iter().map(|w| w * w).sum::<f64>().sqrt()
}

/// A Laplacian with a 1000x coefficient jump in its upper half: aggregates follow the strong couplings.
fn jump_laplacian(n: usize) -> CsrMatrix {
    let base = CsrMatrix::laplacian_7point(n, n, n);
    let weight = |i: usize| -> f64 {
        if i / (n * n) >= n / 2 {
            1000.0
        } else {
            1.0
        }
    };
    let triplets: Vec<(usize, usize, f64)> = (0..base.nrows)
        .flat_map(|i| {
            let (cols, values) = base.row(i);
            cols.iter().zip(values).map(move |(&j, &v)| (i, j as usize, v * weight(i).min(weight(j as usize))))
        })
        .collect();
    CsrMatrix::from_triplets(base.nrows, &triplets)
}

/// One GPU cycle against the CPU twin on a seeded residual; returns the relative difference.
fn cycle_difference(ctx: &GpuContext, a: &CsrMatrix, real: Real) -> (f64, usize) {
    let hierarchy = Hierarchy::new(a, gpu_amg_options()).unwrap();
    let system = GpuSystem::with_preconditioner(ctx, a, real, Some(&hierarchy)).unwrap();
    let r = seeded_vector(a.nrows, 7);
    let gpu = system.amg_cycle(&r).unwrap();
    let mut cpu = vec![0.0; a.nrows];
    hierarchy.apply(a, &r, &mut cpu, &mut hierarchy.workspace()).unwrap();
    (relative_diff(&gpu, &cpu), system.chunk_count())
}

#[test]
fn the_gpu_w_cycle_equals_its_cpu_twin() {
    let Some(ctx) = test_context() else { return };
    let a = jump_laplacian(24);
    let (f32_difference, _) = cycle_difference(&ctx, &a, Real::F32);
    println!("f32 cycle vs CPU f64: {f32_difference:.2e}");
    assert!(f32_difference < 1e-5, "{f32_difference}");
    if ctx.supports_f64() {
        let (f64_difference, _) = cycle_difference(&ctx, &a, Real::F64);
        println!("f64 cycle vs CPU f64: {f64_difference:.2e}");
        assert!(f64_difference < 1e-12, "{f64_difference}");
    }
}

#[test]
fn the_gpu_w_cycle_with_its_operators_in_several_chunks_equals_its_cpu_twin() {
    // 256 KiB bindings: the finest operator (24^3 rows, 90k nonzeros, 360 KB of f32 values) and the first
    // coarse one are split into row chunks, the vectors (55 KB) still fit one binding.
    let request = GpuRequest { allow_software: true, max_binding_bytes: Some(256 << 10), ..Default::default() };
    let Some(ctx) = test_context_with(request) else { return };
    let a = jump_laplacian(24);
    let (difference, chunks) = cycle_difference(&ctx, &a, Real::F32);
    println!("{chunks} chunks: f32 cycle vs CPU f64: {difference:.2e}");
    assert!(chunks > 1);
    assert!(difference < 1e-5, "{difference}");
}

/// Mixed precision with AMG on the GPU against the CPU f64 AMG solve of the same mesh: phi and every current.
fn gpu_amg_matches_cpu(case: &Case, ctx: &GpuContext) -> usize {
    let options = RunOptions::default();
    let cpu = pipeline::solve_case_with(case, &mut AmgSolver::default(), &options).unwrap();
    let mut solver = GpuSolver::new(ctx, Precision::Mixed).with_amg(AmgSolver::new(gpu_amg_options()));
    let gpu: Solution = pipeline::solve_case_with(case, &mut solver, &options).unwrap();
    let phi = relative_diff(&gpu.phi, &cpu.phi);
    let scale = cpu.boundary_currents.iter().fold(0.0f64, |m, c| m.max(c.abs()));
    let currents = gpu
        .boundary_currents
        .iter()
        .zip(&cpu.boundary_currents)
        .map(|(g, c)| (g - c).abs() / scale)
        .fold(0.0, f64::max);
    println!(
        "{}: GPU AMG {} iterations, {} levels; phi {phi:.2e}, currents {currents:.2e}",
        case.name,
        gpu.report.iterations,
        gpu.report.preconditioner.levels.len()
    );
    assert_eq!(gpu.report.preconditioner.kind, "amg");
    assert!(gpu.report.preconditioner.levels.len() >= 3);
    assert!(phi < 1e-8 && currents < 1e-8, "phi {phi:e}, currents {currents:e}");
    solver.last_chunk_count()
}

#[test]
fn mixed_precision_amg_on_the_gpu_matches_the_cpu_on_the_default_case() {
    let Some(ctx) = test_context() else { return };
    let coarse = ["mesh.h_max=\"1 um\"".to_string(), "mesh.grading=1.5".to_string()];
    let case = Case::from_toml_str(DEFAULT_CASE_TOML, DEFAULT_SOURCE, &coarse).unwrap();
    assert_eq!(gpu_amg_matches_cpu(&case, &ctx), 1);
}

#[test]
fn mixed_precision_amg_on_the_gpu_matches_the_cpu_on_the_interlayer_case_in_chunks() {
    // 2 MiB bindings: the finest operator is split into row chunks, the vectors fit one binding.
    let request = GpuRequest { allow_software: true, max_binding_bytes: Some(2 << 20), ..Default::default() };
    let Some(ctx) = test_context_with(request) else { return };
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/meshes/interlayer_hotspot.toml");
    let coarse = ["mesh.h_max=\"0.5 um\"", "mesh.h_interface=\"20 nm\"", "mesh.grading=1.6"].map(String::from);
    let case = Case::load(std::path::Path::new(path), &coarse).unwrap();
    let chunks = gpu_amg_matches_cpu(&case, &ctx);
    assert!(chunks > 1, "{chunks} chunk");
}

/// Re-solves of the same matrix (what lithiation, voids and paper mode do) reuse the uploaded system and the
/// hierarchy, and still match the CPU; a different matrix gets a fresh upload.
#[test]
fn re_solves_of_one_matrix_reuse_the_uploaded_system() {
    let Some(ctx) = test_context() else { return };
    let options = ionflux::solver::CgOptions { rtol: 1e-10, atol: 0.0, max_iter: 2_000 };
    let mut solver = GpuSolver::new(&ctx, Precision::Mixed).with_amg(AmgSolver::new(gpu_amg_options()));
    let mut cpu = AmgSolver::default();
    let mut solve_and_compare = |a: &CsrMatrix, seed: u64| {
        let b = seeded_vector(a.nrows, seed);
        let (mut x, mut want) = (vec![0.0; a.nrows], vec![0.0; a.nrows]);
        let report = ionflux::solver::SymmetricSolver::solve(&mut solver, a, &b, &mut x, &options).unwrap();
        ionflux::solver::SymmetricSolver::solve(&mut cpu, a, &b, &mut want, &options).unwrap();
        let diff = relative_diff(&x, &want);
        assert!(diff < 1e-8, "seed {seed}: {diff:e}");
        (report.preconditioner.reused, solver.uploads())
    };
    let first = jump_laplacian(16);
    assert_eq!(solve_and_compare(&first, 1), (false, 1));
    assert_eq!(solve_and_compare(&first, 2), (true, 1));
    assert_eq!(solve_and_compare(&first, 3), (true, 1));
    let second = CsrMatrix::laplacian_7point(12, 14, 16);
    assert_eq!(solve_and_compare(&second, 4), (false, 2));
}
