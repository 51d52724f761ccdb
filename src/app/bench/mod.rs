//! Benchmark problems and the bandwidth report of `ionflux bench`: CPU and GPU side by side, each
//! measured against a plain copy on the same device in the same run. The mesher's benchmark is [`mesh`].

pub mod mesh;

use crate::gpu::{copy_seconds, GpuContext, GpuSystem, Real, TimedOp};
use crate::gpu::{gpu_amg_options, GpuSolver};
use crate::mesh::geometry::SplitMix64;
use crate::solver::cpu::{pcg, AmgSolver, CpuSolver, Jacobi};
use crate::solver::settings::Precision;
use crate::solver::sparse::CsrMatrix;
use crate::solver::CgOptions;
use crate::solver::{SolveError, SymmetricSolver};
use rayon::prelude::*;
use serde::Serialize;
use std::fmt;
use std::time::Instant;

/// How the GB/s figures count bytes (each array read or written once per pass; v = value size, p =
/// row-pointer size: CPU f64 values and usize pointers, GPU f32 values and u32 pointers).
pub const BYTE_MODEL: &str =
    "SpMV: nnz*(v + 4) + (n+1)*p + n*v (x) + n*v (y). PCG iteration: SpMV + k*n*v with k = 17 \
     on the CPU (separate x, r, z, p updates, two dots and a norm) and 13 on the GPU (fused updates). Copy: 2*len*v.";

/// One backend's measurements.
#[derive(Debug, Clone, Serialize)]
pub struct BackendBench {
    pub backend: String,
    pub device: String,
    pub precision: String,
    pub unknowns: usize,
    pub nonzeros: usize,
    pub seconds_per_spmv: f64,
    pub seconds_per_iteration: f64,
    pub spmv_gb_per_s: f64,
    pub iteration_gb_per_s: f64,
    /// A plain copy on the same device in the same run.
    pub copy_gb_per_s: f64,
    pub spmv_copy_ratio: f64,
    pub iteration_copy_ratio: f64,
}

/// Time to solution of the case's own system: setup and iterations, per backend and preconditioner.
#[derive(Debug, Clone, Serialize)]
pub struct SolveBench {
    pub backend: String,
    pub precision: String,
    pub preconditioner: String,
    pub iterations: usize,
    pub relative_residual: f64,
    pub setup_seconds: f64,
    pub solve_seconds: f64,
    pub total_seconds: f64,
    /// One outer iteration's cost in SpMVs of the finest matrix on the same backend (measured in this run).
    pub spmv_equivalents_per_iteration: f64,
    pub levels: usize,
    pub operator_complexity: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub byte_model: String,
    pub backends: Vec<BackendBench>,
    /// Solves of A x = b to rtol, setup included: Jacobi and AMG.
    pub solves: Vec<SolveBench>,
    /// CPU seconds / GPU seconds per SpMV and per PCG iteration (None without a GPU).
    pub gpu_over_cpu_spmv_speed: Option<f64>,
    pub gpu_over_cpu_iteration_speed: Option<f64>,
    /// Why the GPU row is missing, when a context was given but the GPU run failed.
    pub gpu_error: Option<String>,
    /// Solves that failed, with their reasons.
    pub solve_errors: Vec<String>,
}

fn spmv_bytes(a: &CsrMatrix, value: usize, pointer: usize) -> f64 {
    (a.nnz() * (value + 4) + (a.nrows + 1) * pointer + 2 * a.nrows * value) as f64
}

fn gb_per_s(bytes: f64, seconds: f64) -> f64 {
    bytes / seconds / 1e9
}

fn row(
    backend: &str,
    device: String,
    precision: &str,
    a: &CsrMatrix,
    (value, pointer, vector_passes): (usize, usize, usize),
    (spmv, iteration, copy_gb_per_s): (f64, f64, f64),
) -> BackendBench {
    let spmv_bytes = spmv_bytes(a, value, pointer);
    let iteration_bytes = spmv_bytes + (vector_passes * a.nrows * value) as f64;
    BackendBench {
        backend: backend.to_string(),
        device,
        precision: precision.to_string(),
        unknowns: a.nrows,
        nonzeros: a.nnz(),
        seconds_per_spmv: spmv,
        seconds_per_iteration: iteration,
        spmv_gb_per_s: gb_per_s(spmv_bytes, spmv),
        iteration_gb_per_s: gb_per_s(iteration_bytes, iteration),
        copy_gb_per_s,
        spmv_copy_ratio: gb_per_s(spmv_bytes, spmv) / copy_gb_per_s,
        iteration_copy_ratio: gb_per_s(iteration_bytes, iteration) / copy_gb_per_s,
    }
}

/// Copy length moving as many bytes as one SpMV, so the copy sees the same cache regime.
fn copy_len(a: &CsrMatrix, value: usize, pointer: usize) -> usize {
    (spmv_bytes(a, value, pointer) / (2 * value) as f64) as usize
}

fn time_per<F: FnMut()>(repeats: usize, mut f: F) -> f64 {
    f();
    let start = Instant::now();
    for _ in 0..repeats {
        f();
    }
    start.elapsed().as_secs_f64() / repeats as f64
}

/// Rounds of interleaved timings per backend. Each figure is its fastest round: the one least disturbed by
/// other load on a shared machine, and the copy yardstick is timed between the kernels it is compared with.
pub const BENCH_ROUNDS: usize = 5;

/// Runs `round` (seconds per SpMV, per iteration, per copy) `BENCH_ROUNDS` times; the fastest of each.
fn fastest_of_rounds<E>(mut round: impl FnMut() -> Result<[f64; 3], E>) -> Result<[f64; 3], E> {
    let mut fastest = [f64::INFINITY; 3];
    for _ in 0..BENCH_ROUNDS {
        for (best, seconds) in fastest.iter_mut().zip(round()?) {
            *best = best.min(seconds);
        }
    }
    Ok(fastest)
}

fn cpu_bench(a: &CsrMatrix, repeats: usize) -> BackendBench {
    let x = seeded_vector(a.nrows, 1);
    let mut y = vec![0.0; a.nrows];
    let mut jacobi = Jacobi::new(a);
    // The real CPU PCG, timed at two iteration counts so setup and the final true residual cancel.
    let mut run_pcg = |rhs: &[f64], max_iter: usize| {
        let mut x = vec![0.0; a.nrows];
        let options = CgOptions { rtol: 0.0, atol: 0.0, max_iter };
        let start = Instant::now();
        let _ = pcg(a, &mut jacobi, rhs, &mut x, &options);
        start.elapsed().as_secs_f64()
    };
    let len = copy_len(a, 8, 8);
    let src = vec![1.0f64; len];
    let mut dst = vec![0.0f64; len];
    let round = || {
        let spmv = time_per(repeats, || a.spmv(&x, &mut y));
        let iteration = (run_pcg(&y, 2 * repeats) - run_pcg(&y, repeats)).max(f64::MIN_POSITIVE) / repeats as f64;
        let copy = time_per(repeats, || {
            dst.par_chunks_mut(1 << 16).zip(src.par_chunks(1 << 16)).for_each(|(d, s)| d.copy_from_slice(s))
        });
        Ok::<_, std::convert::Infallible>([spmv, iteration, copy])
    };
    let Ok([spmv, iteration, copy]) = fastest_of_rounds(round);
    let device = format!("cpu ({} threads)", rayon::current_num_threads());
    row("cpu", device, "f64", a, (8, 8, 17), (spmv, iteration, gb_per_s((2 * len * 8) as f64, copy)))
}

fn gpu_bench(a: &CsrMatrix, ctx: &GpuContext, repeats: usize) -> Result<BackendBench, crate::gpu::GpuError> {
    let system = GpuSystem::new(ctx, a, Real::F32)?;
    let mut copy_len_used = 0;
    let [spmv, iteration, copy] = fastest_of_rounds(|| {
        let spmv = system.seconds_per(TimedOp::Spmv, repeats)?;
        let iteration = system.seconds_per(TimedOp::CgIteration, repeats)?;
        let (len, copy) = copy_seconds(ctx, copy_len(a, 4, 4), repeats)?;
        copy_len_used = len;
        Ok([spmv, iteration, copy])
    })?;
    let copy_gb_per_s = gb_per_s((2 * copy_len_used * 4) as f64, copy);
    Ok(row("gpu", ctx.device_name(), "f32", a, (4, 4, 13), (spmv, iteration, copy_gb_per_s)))
}

/// Solves `a x = b` with `solver` from zero and reports the time to solution.
fn solve_bench(
    solver: &mut dyn SymmetricSolver,
    a: &CsrMatrix,
    b: &[f64],
    options: &CgOptions,
    seconds_per_spmv: f64,
) -> Result<SolveBench, SolveError> {
    let mut x = vec![0.0; a.nrows];
    let report = solver.solve(a, b, &mut x, options)?;
    let p = &report.preconditioner;
    Ok(SolveBench {
        backend: report.backend.clone(),
        precision: report.precision.clone(),
        preconditioner: p.kind.clone(),
        iterations: report.iterations,
        relative_residual: report.relative_residual,
        setup_seconds: p.setup_seconds,
        solve_seconds: report.seconds,
        total_seconds: p.setup_seconds + report.seconds,
        spmv_equivalents_per_iteration: report.seconds / report.iterations.max(1) as f64 / seconds_per_spmv,
        levels: p.levels.len().max(1),
        operator_complexity: p.operator_complexity,
    })
}

/// SpMV and PCG-iteration throughput of `matrix` on the CPU and, with a context, on the GPU, each with
/// `iterations` timed repetitions per round (the fastest of `BENCH_ROUNDS` interleaved rounds is kept); then the
/// time to solution of `matrix x = rhs` to `options` with Jacobi and with AMG.
pub fn run_bench(
    matrix: &CsrMatrix,
    rhs: &[f64],
    options: &CgOptions,
    ctx: Option<&GpuContext>,
    iterations: usize,
) -> BenchReport {
    let repeats = iterations.max(1);
    let cpu = cpu_bench(matrix, repeats);
    let mut solves = Vec::new();
    let mut solve_errors = Vec::new();
    let cpu_solvers: [Box<dyn SymmetricSolver>; 2] = [Box::new(CpuSolver), Box::new(AmgSolver::default())];
    for mut solver in cpu_solvers {
        match solve_bench(solver.as_mut(), matrix, rhs, options, cpu.seconds_per_spmv) {
            Ok(row) => solves.push(row),
            Err(error) => solve_errors.push(error.to_string()),
        }
    }
    let gpu = ctx.map(|ctx| gpu_bench(matrix, ctx, repeats));
    let (gpu, gpu_error) = match gpu {
        Some(Ok(row)) => (Some(row), None),
        Some(Err(error)) => (None, Some(error.to_string())),
        None => (None, None),
    };
    if let (Some(ctx), Some(gpu_row)) = (ctx, gpu.as_ref()) {
        for amg in [false, true] {
            let mut solver = GpuSolver::new(ctx, Precision::Mixed);
            if amg {
                solver = solver.with_amg(AmgSolver::new(gpu_amg_options()));
            }
            match solve_bench(&mut solver, matrix, rhs, options, gpu_row.seconds_per_spmv) {
                Ok(row) => solves.push(row),
                Err(error) => solve_errors.push(error.to_string()),
            }
        }
    }
    BenchReport {
        byte_model: BYTE_MODEL.to_string(),
        solves,
        solve_errors,
        gpu_over_cpu_spmv_speed: gpu.as_ref().map(|g| cpu.seconds_per_spmv / g.seconds_per_spmv),
        gpu_over_cpu_iteration_speed: gpu.as_ref().map(|g| cpu.seconds_per_iteration / g.seconds_per_iteration),
        backends: std::iter::once(cpu).chain(gpu).collect(),
        gpu_error,
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<8} {:<5} {:>10} {:>11} {:>12} {:>10} {:>9} {:>12} {:>10} {:>9} {:>9}  device",
            "backend",
            "prec",
            "unknowns",
            "nonzeros",
            "s/SpMV",
            "SpMV GB/s",
            "SpMV/copy",
            "s/iteration",
            "iter GB/s",
            "iter/copy",
            "copy GB/s"
        )?;
        for b in &self.backends {
            writeln!(
                f,
                "{:<8} {:<5} {:>10} {:>11} {:>12.3e} {:>10.2} {:>9.2} {:>12.3e} {:>10.2} {:>9.2} {:>9.2}  {}",
                b.backend,
                b.precision,
                b.unknowns,
                b.nonzeros,
                b.seconds_per_spmv,
                b.spmv_gb_per_s,
                b.spmv_copy_ratio,
                b.seconds_per_iteration,
                b.iteration_gb_per_s,
                b.iteration_copy_ratio,
                b.copy_gb_per_s,
                b.device
            )?;
        }
        if let (Some(spmv), Some(iteration)) = (self.gpu_over_cpu_spmv_speed, self.gpu_over_cpu_iteration_speed) {
            writeln!(f, "GPU/CPU speed: SpMV {spmv:.2}x, PCG iteration {iteration:.2}x")?;
        }
        if !self.solves.is_empty() {
            writeln!(f, "time to solution (setup + iterations) to the case's rtol:")?;
            writeln!(
                f,
                "{:<5} {:<6} {:<7} {:>6} {:>8} {:>10} {:>10} {:>10} {:>12} {:>7}",
                "", "", "precond", "iters", "levels", "setup s", "solve s", "total s", "SpMV-eq/it", "op.cx."
            )?;
            for s in &self.solves {
                writeln!(
                    f,
                    "{:<5} {:<6} {:<7} {:>6} {:>8} {:>10.3} {:>10.3} {:>10.3} {:>12.1} {:>7.2}",
                    s.backend,
                    s.precision,
                    s.preconditioner,
                    s.iterations,
                    s.levels,
                    s.setup_seconds,
                    s.solve_seconds,
                    s.total_seconds,
                    s.spmv_equivalents_per_iteration,
                    s.operator_complexity
                )?;
            }
        }
        for error in &self.solve_errors {
            writeln!(f, "solve failed: {error}")?;
        }
        if let Some(error) = &self.gpu_error {
            writeln!(f, "GPU not measured: {error}")?;
        }
        write!(f, "Byte model: {}", self.byte_model)
    }
}

/// `len` reproducible values in (-1, 1) from `seed` (SplitMix64), for benchmark and test inputs.
pub fn seeded_vector(len: usize, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| rng.uniform(-1.0, 1.0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_bench_counts_the_stated_bytes() {
        let a = CsrMatrix::laplacian_7point(12, 10, 8);
        let b = seeded_vector(a.nrows, 3);
        let report = run_bench(&a, &b, &CgOptions::default(), None, 3);
        assert_eq!(report.backends.len(), 1);
        let cpu = &report.backends[0];
        assert_eq!((cpu.unknowns, cpu.nonzeros), (a.nrows, a.nnz()));
        let bytes = (a.nnz() * 12 + (a.nrows + 1) * 8 + 2 * a.nrows * 8) as f64;
        assert!((cpu.spmv_gb_per_s - bytes / cpu.seconds_per_spmv / 1e9).abs() <= 1e-9 * cpu.spmv_gb_per_s);
        assert!((cpu.spmv_copy_ratio - cpu.spmv_gb_per_s / cpu.copy_gb_per_s).abs() <= 1e-12 * cpu.spmv_copy_ratio);
        assert!(report.gpu_over_cpu_spmv_speed.is_none());
        assert!(report.to_string().contains("Byte model"));
    }

    #[test]
    fn each_figure_is_its_fastest_round_and_errors_stop_the_rounds() {
        let mut rounds =
            [[3.0, 1.0, 5.0], [2.0, 4.0, 6.0], [4.0, 2.0, 0.5], [5.0, 5.0, 5.0], [9.0, 9.0, 9.0]].into_iter();
        let fastest = fastest_of_rounds(|| Ok::<_, ()>(rounds.next().expect("one per round")));
        assert_eq!(fastest, Ok([2.0, 1.0, 0.5]));
        assert_eq!(rounds.next(), None, "{BENCH_ROUNDS} rounds");
        let mut calls = 0;
        let failed = fastest_of_rounds(|| {
            calls += 1;
            if calls == 2 {
                Err("device lost")
            } else {
                Ok([1.0; 3])
            }
        });
        assert_eq!((failed, calls), (Err("device lost"), 2));
    }

    #[test]
    fn laplacian_rows_match_the_stencil() {
        let a = CsrMatrix::laplacian_7point(3, 4, 5);
        assert_eq!(a.nrows, 60);
        // Interior-of-grid node (1, 1, 1) has all six neighbours; corner (0, 0, 0) has three.
        let centre = 1 + 3 * (1 + 4);
        assert_eq!(a.row(centre).0.len(), 7);
        assert_eq!(a.row(0).0, &[0, 1, 3, 12]);
        // Edges: 2 per neighbour pair along each axis, plus the diagonal.
        let edges = 2 * 4 * 5 + 3 * 3 * 5 + 3 * 4 * 4;
        assert_eq!(a.nnz(), 60 + 2 * edges);
        for i in 0..a.nrows {
            let (cols, vals) = a.row(i);
            assert!(cols.windows(2).all(|w| w[0] < w[1]));
            for (&j, &v) in cols.iter().zip(vals) {
                assert_eq!(a.get(j as usize, i), v, "symmetric");
            }
        }
    }

    #[test]
    fn seeded_vector_is_reproducible_and_spread() {
        let v = seeded_vector(10_000, 7);
        assert_eq!(v, seeded_vector(10_000, 7));
        assert_ne!(v, seeded_vector(10_000, 8));
        assert!(v.iter().all(|x| (-1.0..1.0).contains(x)));
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
    }
}
