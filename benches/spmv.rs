//! SpMV, CPU (f64) and GPU (f32) side by side at three sizes of the 7-point Laplacian.

use criterion::{criterion_group, criterion_main, Criterion};
use ionflux::app::bench::seeded_vector;
use ionflux::gpu::{test_context, GpuSystem, Real, TimedOp};
use ionflux::solver::sparse::CsrMatrix;

const EDGES: [usize; 3] = [20, 40, 64];

fn spmv(c: &mut Criterion) {
    let ctx = test_context();
    let mut group = c.benchmark_group("spmv");
    group.sample_size(10);
    for edge in EDGES {
        let a = CsrMatrix::laplacian_7point(edge, edge, edge);
        let x = seeded_vector(a.nrows, 1);
        let mut y = vec![0.0; a.nrows];
        group.bench_function(format!("cpu_f64/{}", a.nrows), |bench| bench.iter(|| a.spmv(&x, &mut y)));
        match &ctx {
            Some(ctx) => {
                let system = GpuSystem::new(ctx, &a, Real::F32).expect("GPU upload");
                group.bench_function(format!("gpu_f32/{}", a.nrows), |bench| {
                    bench.iter_custom(|runs| {
                        let seconds = system.seconds_per(TimedOp::Spmv, runs as usize).expect("GPU SpMV");
                        std::time::Duration::from_secs_f64(seconds * runs as f64)
                    })
                });
            }
            None => eprintln!("spmv/gpu_f32/{}: skipped, no GPU adapter", a.nrows),
        }
    }
    group.finish();
}

criterion_group!(benches, spmv);
criterion_main!(benches);
