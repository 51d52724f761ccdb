//! Full GPU solves against the CPU f64 reference on 3D 7-point Laplacians with seeded right-hand sides.
//! Skips with a printed reason when no adapter exists, unless IONFLUX_REQUIRE_GPU=1.

use ionflux::app::bench::seeded_vector;
use ionflux::gpu::{test_context, test_context_with, GpuError, GpuRequest, GpuSolver, MAX_X_BINDINGS};
use ionflux::solver::cpu::CpuSolver;
use ionflux::solver::settings::Precision;
use ionflux::solver::sparse::CsrMatrix;
use ionflux::solver::{CgOptions, SolveError, SymmetricSolver};

fn relative_diff(got: &[f64], want: &[f64]) -> f64 {
    let diff: f64 = got.iter().zip(want).map(|(g, w)| (g - w).powi(2)).sum::<f64>().sqrt();
    diff / want.iter().map(|w| w * w).sum::<f64>().sqrt()
}

fn cpu_reference(a: &CsrMatrix, b: &[f64], options: &CgOptions) -> Vec<f64> {
    let mut x = vec![0.0; a.nrows];
    CpuSolver.solve(a, b, &mut x, options).unwrap();
    x
}

/// Row chunks of the 30^3 Laplacian (183,600 nonzeros) under a 64 KiB binding limit: 734 KB of f32 values
/// (or u32 columns) need 12, 1.47 MB of f64 values 23.
const MATRIX_CHUNKS_F32: usize = 12;
const MATRIX_CHUNKS_F64: usize = 23;

const OPTIONS: CgOptions = CgOptions { rtol: 1e-10, atol: 0.0, max_iter: 20_000 };

#[test]
fn mixed_precision_matches_cpu_f64() {
    let Some(ctx) = test_context() else { return };
    let a = CsrMatrix::laplacian_7point(24, 20, 16);
    let b = seeded_vector(a.nrows, 21);
    let want = cpu_reference(&a, &b, &OPTIONS);
    let mut x = vec![0.0; a.nrows];
    let report = GpuSolver::new(&ctx, Precision::Mixed).solve(&a, &b, &mut x, &OPTIONS).unwrap();
    assert!(report.relative_residual <= OPTIONS.rtol, "{report:?}");
    assert!(relative_diff(&x, &want) < 1e-8, "diff {}", relative_diff(&x, &want));
    // Refinement: f32 inner solves gain ~5 digits each, so reaching 1e-10 takes at least two steps.
    assert!(report.residual_history.len() >= 3, "{:?}", report.residual_history);
    assert_eq!(report.backend, "gpu");
    assert_eq!(report.precision, "mixed");
    assert!(report.device.contains(ctx.adapter_name()));
}

#[test]
fn f32_is_within_1e_4_of_cpu_f64() {
    let Some(ctx) = test_context() else { return };
    let a = CsrMatrix::laplacian_7point(24, 20, 16);
    let b = seeded_vector(a.nrows, 22);
    let want = cpu_reference(&a, &b, &OPTIONS);
    let mut x = vec![0.0; a.nrows];
    let report = GpuSolver::new(&ctx, Precision::F32).solve(&a, &b, &mut x, &OPTIONS).unwrap();
    assert!(relative_diff(&x, &want) < 1e-4, "diff {}", relative_diff(&x, &want));
    // The reported residual is the true f64 one of the returned x.
    let mut ax = vec![0.0; a.nrows];
    a.spmv(&x, &mut ax);
    let true_residual = relative_diff(&ax, &b);
    assert!((report.relative_residual - true_residual).abs() <= 1e-12 + 1e-6 * true_residual);
}

#[test]
fn f64_matches_cpu_or_reports_missing_shader_f64() {
    let Some(ctx) = test_context() else { return };
    let a = CsrMatrix::laplacian_7point(16, 16, 16);
    let b = seeded_vector(a.nrows, 23);
    let mut x = vec![0.0; a.nrows];
    let result = GpuSolver::new(&ctx, Precision::F64).solve(&a, &b, &mut x, &OPTIONS);
    if ctx.supports_f64() {
        let report = result.unwrap();
        assert!(report.relative_residual <= OPTIONS.rtol);
        assert!(relative_diff(&x, &cpu_reference(&a, &b, &OPTIONS)) < 1e-8);
    } else {
        assert!(
            matches!(result, Err(SolveError::Backend(e)) if matches!(e.downcast_ref(), Some(GpuError::NoF64 { .. })))
        );
    }
}

#[test]
fn f64_without_shader_f64_is_a_clear_error() {
    let request = GpuRequest { allow_software: true, disable_f64: true, ..Default::default() };
    let Some(ctx) = test_context_with(request.clone()) else { return };
    assert!(!ctx.supports_f64());
    let a = CsrMatrix::laplacian_7point(4, 4, 4);
    let mut x = vec![0.0; a.nrows];
    let err = GpuSolver::new(&ctx, Precision::F64).solve(&a, &vec![1.0; a.nrows], &mut x, &OPTIONS).unwrap_err();
    let expected = GpuError::NoF64 { adapter: ctx.adapter_name().to_string() }.to_string();
    assert!(matches!(&err, SolveError::Backend(e) if e.is::<GpuError>() && e.to_string() == expected), "{err}");
    assert!(expected.contains("use --precision mixed or f32"));
    // Demanding f64 up front fails the same way.
    let demanded = ionflux::gpu::GpuContext::new(&GpuRequest { require_f64: true, ..request });
    assert!(matches!(demanded, Err(GpuError::NoF64 { .. })));
}

/// With the binding limit lowered to 256 KiB, the ~730 KB of f32 values (and of u32 columns) need three
/// row chunks; the answer must still match the CPU.
#[test]
fn multi_chunk_solve_matches_cpu() {
    let request = GpuRequest { allow_software: true, max_binding_bytes: Some(256 << 10), ..Default::default() };
    let Some(ctx) = test_context_with(request) else { return };
    assert_eq!(ctx.max_binding_bytes(), 256 << 10);
    let a = CsrMatrix::laplacian_7point(30, 30, 30);
    let b = seeded_vector(a.nrows, 24);
    let options = OPTIONS;
    let want = cpu_reference(&a, &b, &options);
    let mut solver = GpuSolver::new(&ctx, Precision::Mixed);
    let mut x = vec![0.0; a.nrows];
    let report = solver.solve(&a, &b, &mut x, &options).unwrap();
    assert_eq!(solver.last_chunk_count(), 3);
    assert!(report.relative_residual <= options.rtol);
    assert!(relative_diff(&x, &want) < 1e-8, "diff {}", relative_diff(&x, &want));
}

/// A 30^3 Laplacian under a 64 KiB binding limit: one f32 vector (108 KB) needs two chunks and the SpMV
/// two x bindings, one f64 vector (216 KB) four; the matrix needs many row chunks. Returns (relative
/// difference to the CPU f64 solution, vector chunks, matrix row chunks).
fn solve_beyond_the_vector_binding_limit(precision: Precision) -> Option<(f64, usize, usize)> {
    let request = GpuRequest { allow_software: true, max_binding_bytes: Some(64 << 10), ..Default::default() };
    let ctx = test_context_with(request)?;
    if precision == Precision::F64 && !ctx.supports_f64() {
        eprintln!("skipping: {} lacks SHADER_F64", ctx.adapter_name());
        return None;
    }
    let a = CsrMatrix::laplacian_7point(30, 30, 30);
    let b = seeded_vector(a.nrows, 26);
    let want = cpu_reference(&a, &b, &OPTIONS);
    let mut solver = GpuSolver::new(&ctx, precision);
    let mut x = vec![0.0; a.nrows];
    let report = solver.solve(&a, &b, &mut x, &OPTIONS).unwrap();
    let diff = relative_diff(&x, &want);
    let counts = (solver.last_vector_chunk_count(), solver.last_chunk_count());
    eprintln!("{precision:?}: diff {diff:.3e}, {} iterations, (vector, matrix) chunks {counts:?}", report.iterations);
    Some((diff, counts.0, counts.1))
}

#[test]
fn mixed_precision_beyond_the_vector_binding_limit_matches_cpu() {
    let Some((diff, vector_chunks, matrix_chunks)) = solve_beyond_the_vector_binding_limit(Precision::Mixed) else {
        return;
    };
    assert_eq!((vector_chunks, matrix_chunks), (2, MATRIX_CHUNKS_F32));
    assert!(diff < 1e-8, "diff {diff}");
}

#[test]
fn f32_beyond_the_vector_binding_limit_is_within_1e_4_of_cpu() {
    let Some((diff, vector_chunks, matrix_chunks)) = solve_beyond_the_vector_binding_limit(Precision::F32) else {
        return;
    };
    assert_eq!((vector_chunks, matrix_chunks), (2, MATRIX_CHUNKS_F32));
    assert!(diff < 1e-4, "diff {diff}");
}

#[test]
fn f64_beyond_the_vector_binding_limit_matches_cpu() {
    let Some((diff, vector_chunks, matrix_chunks)) = solve_beyond_the_vector_binding_limit(Precision::F64) else {
        return;
    };
    assert_eq!((vector_chunks, matrix_chunks), (MAX_X_BINDINGS, MATRIX_CHUNKS_F64));
    assert!(diff < 1e-8, "diff {diff}");
}

/// Under a 16 KiB limit one f32 vector of 108 KB would need seven x bindings.
#[test]
fn vectors_needing_more_x_bindings_than_supported_are_a_clear_error() {
    let request = GpuRequest { allow_software: true, max_binding_bytes: Some(16 << 10), ..Default::default() };
    let Some(ctx) = test_context_with(request) else { return };
    let a = CsrMatrix::laplacian_7point(30, 30, 30);
    let mut x = vec![0.0; a.nrows];
    let err = GpuSolver::new(&ctx, Precision::Mixed).solve(&a, &vec![1.0; a.nrows], &mut x, &OPTIONS).unwrap_err();
    let needs = format!("needs more than {MAX_X_BINDINGS} x bindings");
    assert!(matches!(&err, SolveError::Backend(e) if e.is::<GpuError>()), "{err}");
    assert!(err.to_string().contains(&needs) && err.to_string().contains("7 chunks"), "{err}");
}

#[test]
fn non_convergence_is_an_error_with_history() {
    let Some(ctx) = test_context() else { return };
    let a = CsrMatrix::laplacian_7point(20, 20, 20);
    let b = seeded_vector(a.nrows, 25);
    let mut x = vec![0.0; a.nrows];
    let options = CgOptions { max_iter: 10, ..OPTIONS };
    match GpuSolver::new(&ctx, Precision::Mixed).with_check_every(4).solve(&a, &b, &mut x, &options) {
        Err(SolveError::NoConvergence { report, .. }) => {
            assert_eq!(report.iterations, 10);
            assert_eq!(report.residual_history.len(), 2);
        }
        other => panic!("unexpected {other:?}"),
    }
}
