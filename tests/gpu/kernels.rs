//! Each GPU kernel against its CPU reference on seeded random data (f32 kernels: norm-relative 1e-5).
//! Skips with a printed reason when no adapter exists, unless IONFLUX_REQUIRE_GPU=1.

use ionflux::app::bench::seeded_vector;
use ionflux::gpu::{test_context, test_context_with, GpuRequest, GpuSystem, Real};
use ionflux::solver::sparse::CsrMatrix;

const F32_TOLERANCE: f64 = 1e-5;

fn relative_diff(got: &[f64], want: &[f64]) -> f64 {
    let diff: f64 = got.iter().zip(want).map(|(g, w)| (g - w).powi(2)).sum::<f64>().sqrt();
    let scale: f64 = want.iter().map(|w| w * w).sum::<f64>().sqrt();
    diff / scale
}

fn inv_diag(a: &ionflux::solver::sparse::CsrMatrix) -> Vec<f64> {
    a.diagonal().iter().map(|d| 1.0 / d).collect()
}

#[test]
fn spmv_matches_cpu() {
    let Some(ctx) = test_context() else { return };
    let a = CsrMatrix::laplacian_7point(20, 17, 13);
    let system = GpuSystem::new(&ctx, &a, Real::F32).unwrap();
    let x = seeded_vector(a.nrows, 1);
    let mut want = vec![0.0; a.nrows];
    a.spmv(&x, &mut want);
    let got = system.spmv(&x).unwrap();
    assert!(relative_diff(&got, &want) < F32_TOLERANCE, "{}", relative_diff(&got, &want));
}

#[test]
fn dot_matches_cpu_across_many_workgroups() {
    let Some(ctx) = test_context() else { return };
    // 300k entries: over 1000 partial sums, more than one per final-stage invocation.
    let a = CsrMatrix::laplacian_7point(100, 100, 30);
    let system = GpuSystem::new(&ctx, &a, Real::F32).unwrap();
    let (u, v) = (seeded_vector(a.nrows, 2), seeded_vector(a.nrows, 3));
    let want: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
    let scale: f64 = u.iter().zip(&v).map(|(a, b)| (a * b).abs()).sum();
    let got = system.dot(&u, &v).unwrap();
    assert!((got - want).abs() / scale < F32_TOLERANCE, "got {got}, want {want}");
}

#[test]
fn fused_cg_update_matches_cpu() {
    let Some(ctx) = test_context() else { return };
    let a = CsrMatrix::laplacian_7point(30, 20, 10);
    let n = a.nrows;
    let system = GpuSystem::new(&ctx, &a, Real::F32).unwrap();
    let (x, r, p, q) = (seeded_vector(n, 4), seeded_vector(n, 5), seeded_vector(n, 6), seeded_vector(n, 7));
    let alpha = 0.37;
    let (got_x, got_r, got_rz, got_rr) = system.cg_update(alpha, &x, &r, &p, &q).unwrap();
    let want_x: Vec<f64> = x.iter().zip(&p).map(|(x, p)| x + alpha * p).collect();
    let want_r: Vec<f64> = r.iter().zip(&q).map(|(r, q)| r - alpha * q).collect();
    let d = inv_diag(&a);
    let want_rz: f64 = want_r.iter().zip(&d).map(|(r, d)| r * d * r).sum();
    let want_rr: f64 = want_r.iter().map(|r| r * r).sum();
    assert!(relative_diff(&got_x, &want_x) < F32_TOLERANCE);
    assert!(relative_diff(&got_r, &want_r) < F32_TOLERANCE);
    assert!((got_rz - want_rz).abs() / want_rz < F32_TOLERANCE, "rz {got_rz} vs {want_rz}");
    assert!((got_rr - want_rr).abs() / want_rr < F32_TOLERANCE, "rr {got_rr} vs {want_rr}");
}

#[test]
fn p_update_matches_cpu() {
    let Some(ctx) = test_context() else { return };
    let a = CsrMatrix::laplacian_7point(25, 25, 8);
    let system = GpuSystem::new(&ctx, &a, Real::F32).unwrap();
    let (r, p) = (seeded_vector(a.nrows, 8), seeded_vector(a.nrows, 9));
    let beta = 0.81;
    let want: Vec<f64> = r.iter().zip(&p).zip(inv_diag(&a)).map(|((r, p), d)| d * r + beta * p).collect();
    let got = system.p_update(beta, &r, &p).unwrap();
    assert!(relative_diff(&got, &want) < F32_TOLERANCE);
}

/// A fold limit of 16 workgroups per dimension turns every vector dispatch into a 2D grid with a
/// partly idle last row; results must not change.
#[test]
fn folded_2d_dispatch_gives_the_same_results() {
    let Some(ctx) = test_context_with(GpuRequest {
        allow_software: true,
        max_workgroups_per_dimension: Some(16),
        ..Default::default()
    }) else {
        return;
    };
    assert_eq!(ctx.max_workgroups_per_dimension(), 16);
    let a = CsrMatrix::laplacian_7point(41, 37, 23); // 34,891 rows: 137 workgroups -> a 16 x 9 grid.
    let system = GpuSystem::new(&ctx, &a, Real::F32).unwrap();
    let x = seeded_vector(a.nrows, 10);
    let mut want = vec![0.0; a.nrows];
    a.spmv(&x, &mut want);
    assert!(relative_diff(&system.spmv(&x).unwrap(), &want) < F32_TOLERANCE);
    let want_dot: f64 = x.iter().map(|v| v * v).sum();
    assert!((system.dot(&x, &x).unwrap() - want_dot).abs() / want_dot < F32_TOLERANCE);
}

/// f64 kernels where the adapter has SHADER_F64: SpMV to f64 round-off.
#[test]
fn f64_spmv_matches_cpu_to_f64_roundoff() {
    let Some(ctx) = test_context() else { return };
    if !ctx.supports_f64() {
        eprintln!("skipping: {} lacks SHADER_F64", ctx.adapter_name());
        return;
    }
    let a = CsrMatrix::laplacian_7point(20, 20, 20);
    let system = GpuSystem::new(&ctx, &a, Real::F64).unwrap();
    let x = seeded_vector(a.nrows, 11);
    let mut want = vec![0.0; a.nrows];
    a.spmv(&x, &mut want);
    assert!(relative_diff(&system.spmv(&x).unwrap(), &want) < 1e-14);
}

/// With a 64 KiB binding limit a 27,000-entry f32 vector spans two chunks (and the SpMV two x bindings):
/// SpMV, the chunked dot with its offset partials, and both updates must still match the CPU. Folding at
/// 10 workgroups per dimension leaves idle groups in each chunk's grid, which must not write partials.
#[test]
fn vector_chunked_kernels_match_cpu() {
    let request = GpuRequest {
        allow_software: true,
        max_binding_bytes: Some(64 << 10),
        max_workgroups_per_dimension: Some(10),
        ..Default::default()
    };
    let Some(ctx) = test_context_with(request) else { return };
    let a = CsrMatrix::laplacian_7point(30, 30, 30);
    let n = a.nrows;
    let system = GpuSystem::new(&ctx, &a, Real::F32).unwrap();
    assert_eq!(system.vector_chunk_count(), 2);
    let (x, r, p, q) = (seeded_vector(n, 12), seeded_vector(n, 13), seeded_vector(n, 14), seeded_vector(n, 15));
    let mut want = vec![0.0; n];
    a.spmv(&x, &mut want);
    assert!(relative_diff(&system.spmv(&x).unwrap(), &want) < F32_TOLERANCE);
    let want_dot: f64 = x.iter().zip(&r).map(|(a, b)| a * b).sum();
    let scale: f64 = x.iter().zip(&r).map(|(a, b)| (a * b).abs()).sum();
    assert!((system.dot(&x, &r).unwrap() - want_dot).abs() / scale < F32_TOLERANCE);
    let alpha = 0.37;
    let (got_x, got_r, _, got_rr) = system.cg_update(alpha, &x, &r, &p, &q).unwrap();
    let want_x: Vec<f64> = x.iter().zip(&p).map(|(x, p)| x + alpha * p).collect();
    let want_r: Vec<f64> = r.iter().zip(&q).map(|(r, q)| r - alpha * q).collect();
    let want_rr: f64 = want_r.iter().map(|r| r * r).sum();
    assert!(relative_diff(&got_x, &want_x) < F32_TOLERANCE);
    assert!(relative_diff(&got_r, &want_r) < F32_TOLERANCE);
    assert!((got_rr - want_rr).abs() / want_rr < F32_TOLERANCE, "rr {got_rr} vs {want_rr}");
    let beta = 0.81;
    let want_p: Vec<f64> = r.iter().zip(&p).zip(inv_diag(&a)).map(|((r, p), d)| d * r + beta * p).collect();
    assert!(relative_diff(&system.p_update(beta, &r, &p).unwrap(), &want_p) < F32_TOLERANCE);
}
