//! One full Jacobi-PCG iteration, CPU (f64) and GPU (f32, loop on the GPU) side by side at three sizes.

use criterion::{criterion_group, criterion_main, Criterion};
use ionflux::app::bench::seeded_vector;
use ionflux::gpu::{test_context, GpuSystem, Real, TimedOp};
use ionflux::solver::cpu::{pcg, Jacobi};
use ionflux::solver::sparse::CsrMatrix;
use ionflux::solver::CgOptions;
use std::time::{Duration, Instant};

const EDGES: [usize; 3] = [20, 40, 64];

fn pcg_iteration(c: &mut Criterion) {
    let ctx = test_context();
    let mut group = c.benchmark_group("pcg_iteration");
    group.sample_size(10);
    for edge in EDGES {
        let a = CsrMatrix::laplacian_7point(edge, edge, edge);
        let b = seeded_vector(a.nrows, 2);
        let mut jacobi = Jacobi::new(&a);
        // Time `runs` iterations of the CPU PCG minus its setup (measured as a 1-iteration solve).
        let mut cpu_seconds = |iterations: usize| {
            let mut x = vec![0.0; a.nrows];
            let start = Instant::now();
            let _ = pcg(&a, &mut jacobi, &b, &mut x, &CgOptions { rtol: 0.0, atol: 0.0, max_iter: iterations });
            start.elapsed().as_secs_f64()
        };
        group.bench_function(format!("cpu_f64/{}", a.nrows), |bench| {
            bench.iter_custom(|runs| {
                let runs = runs as usize;
                Duration::from_secs_f64((cpu_seconds(runs + 1) - cpu_seconds(1)).max(0.0))
            })
        });
        match &ctx {
            Some(ctx) => {
                let system = GpuSystem::new(ctx, &a, Real::F32).expect("GPU upload");
                group.bench_function(format!("gpu_f32/{}", a.nrows), |bench| {
                    bench.iter_custom(|runs| {
                        let seconds = system.seconds_per(TimedOp::CgIteration, runs as usize).expect("GPU PCG");
                        Duration::from_secs_f64(seconds * runs as f64)
                    })
                });
            }
            None => eprintln!("pcg_iteration/gpu_f32/{}: skipped, no GPU adapter", a.nrows),
        }
    }
    group.finish();
}

criterion_group!(benches, pcg_iteration);
criterion_main!(benches);
