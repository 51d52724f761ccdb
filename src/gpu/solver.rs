//! `GpuSolver`: the [`SymmetricSolver`] on the GPU, in three precisions.

use super::context::GpuContext;
use super::real::Real;
use super::system::GpuSystem;
use super::GpuError;
use crate::solver::amg::{AmgOptions, Sweeps};
use crate::solver::cpu::{fingerprint, AmgSolver};
use crate::solver::settings::{Precision, DEFAULT_CHECK_EVERY};
use crate::solver::sparse::CsrMatrix;
use crate::solver::vector::norm;
use crate::solver::{CgOptions, CgReport, PreconditionerReport, SolveError, SymmetricSolver};
use std::time::Instant;

/// Relative tolerance of each f32 inner solve of the mixed-precision refinement: well above the f32
/// round-off floor (~1e-7 relative), so each step gains about four to five digits reliably.
pub const MIXED_INNER_RTOL: f64 = 1e-5;

/// Refinement steps without a halving of the true residual before mixed precision gives up.
const MAX_STALLED_STEPS: usize = 3;

/// Best relative residual an f32 recurrence can be asked for.
const F32_RTOL_FLOOR: f64 = 1e-7;

/// The largest true relative residual plain f32 may return as an answer (with a warning when above rtol): a
/// hundred times its floor. Beyond it (values that underflow f32, a solve cut short) the result is an error.
pub const F32_ACCEPTED_RESIDUAL: f64 = 1e-5;

/// PCG on the GPU, preconditioned by Jacobi or, with [`GpuSolver::with_amg`], by an AMG W-cycle (setup on the
/// CPU). The uploaded system (matrix, hierarchy, workspace) is kept for later solves of the same matrix (same
/// [`fingerprint`]): the re-solves of an analysis only upload their right-hand sides.
pub struct GpuSolver {
    ctx: GpuContext,
    precision: Precision,
    check_every: usize,
    amg: Option<AmgSolver>,
    /// The system of the last matrix solved, with that matrix's fingerprint.
    uploaded: Option<(u64, GpuSystem)>,
    /// Systems uploaded so far (`testing`: tests check that re-solves of one matrix upload once).
    #[cfg(feature = "testing")]
    uploads: usize,
}

/// The hierarchy options of the GPU cycle: a W-cycle. The K-cycle's inner products would each be a reduction
/// and a scalar kernel per visit; the W-cycle needs none and keeps the outer CG's preconditioner fixed. Measured on
/// the CPU twin (f64, rtol 1e-10, default case / t = 0.5 sizes, undamped l1 smoother): V-cycle 41 / 61 iterations,
/// W-cycle 25 / 30, K-cycle 21 / 21; on the default case with the smoother weight 4/3: V 36, W 23, K 20.
pub fn gpu_amg_options() -> AmgOptions {
    // The default 3 coarse passes, measured on llvmpipe (default case, mixed, V-cycle): 62 inner iterations in
    // 10.1 s, against 56 in 12.8 s with 2 (fewer, smaller levels: fewer dispatches per cycle).
    // Plain CG needs a symmetric preconditioner: as many sweeps after the coarse correction as before.
    AmgOptions {
        kcycle_levels: 0,
        coarse_visits: 2,
        fine_sweeps: Sweeps::symmetric(2),
        coarse_sweeps: Sweeps::symmetric(2),
        ..AmgOptions::default()
    }
}

fn backend(error: GpuError) -> SolveError {
    SolveError::Backend(Box::new(error))
}

impl GpuSolver {
    pub fn new(ctx: &GpuContext, precision: Precision) -> GpuSolver {
        GpuSolver {
            ctx: ctx.clone(),
            precision,
            check_every: DEFAULT_CHECK_EVERY,
            amg: None,
            uploaded: None,
            #[cfg(feature = "testing")]
            uploads: 0,
        }
    }

    /// Precondition with AMG; `cache` holds the setup of earlier solves (reused for the same matrix).
    pub fn with_amg(mut self, cache: AmgSolver) -> Self {
        self.amg = Some(cache);
        self.uploaded = None;
        self
    }

    /// Read the convergence scalars back every `check_every` iterations (at least 1).
    pub fn with_check_every(mut self, check_every: usize) -> Self {
        self.check_every = check_every.max(1);
        self
    }

    /// Matrix row chunks of the last solve (more than one when the matrix exceeded the binding limit).
    #[cfg(feature = "testing")]
    pub fn last_chunk_count(&self) -> usize {
        self.uploaded.as_ref().map_or(0, |(_, system)| system.chunk_count())
    }

    /// Vector chunks (and SpMV x bindings) of the last solve (more than one when a vector exceeded the
    /// binding limit).
    #[cfg(feature = "testing")]
    pub fn last_vector_chunk_count(&self) -> usize {
        self.uploaded.as_ref().map_or(0, |(_, system)| system.vector_chunk_count())
    }

    /// How many systems this solver has uploaded: one per distinct matrix solved in a row.
    #[cfg(feature = "testing")]
    pub fn uploads(&self) -> usize {
        self.uploads
    }

    fn real(&self) -> Real {
        match self.precision {
            Precision::Mixed | Precision::F32 => Real::F32,
            Precision::F64 => Real::F64,
        }
    }
}

impl SymmetricSolver for GpuSolver {
    /// Mixed: each refinement step computes r = b - A x in f64 on the CPU, solves A d = r on the GPU in f32
    /// to [`MIXED_INNER_RTOL`], and adds d in f64, until the true relative residual meets the target.
    /// F32 and F64 do a single such step with the target as inner tolerance.
    /// The report's `iterations` counts GPU PCG iterations over all steps; `residual_history` holds the
    /// true f64 relative residual before the first and after each refinement step.
    fn solve(&mut self, a: &CsrMatrix, b: &[f64], x: &mut [f64], options: &CgOptions) -> Result<CgReport, SolveError> {
        let start = Instant::now();
        assert_eq!(b.len(), a.nrows);
        assert_eq!(x.len(), a.nrows);
        let (b_norm, target) = options.target(b)?;
        let scale = if b_norm > 0.0 { b_norm } else { 1.0 };
        let real = self.real();
        let key = fingerprint(a);
        let prepared = self.amg.as_mut().map(|cache| cache.prepare(a, key)).transpose()?;
        if self.uploaded.as_ref().is_none_or(|(uploaded, _)| *uploaded != key) {
            // The old system's GPU memory goes before the new one is allocated.
            self.uploaded = None;
            let hierarchy = prepared.as_ref().map(|(h, _)| *h);
            let system = GpuSystem::with_preconditioner(&self.ctx, a, real, hierarchy).map_err(backend)?;
            self.uploaded = Some((key, system));
            #[cfg(feature = "testing")]
            {
                self.uploads += 1;
            }
        }
        let system = &self.uploaded.as_ref().expect("uploaded above").1;
        let preconditioner = match &prepared {
            Some((hierarchy, reused)) => PreconditionerReport::amg(hierarchy, *reused),
            None => PreconditionerReport::jacobi(),
        };

        let mut residual = vec![0.0; a.nrows];
        a.residual(b, x, &mut residual);
        let mut residual_norm = norm(&residual);
        let mut history = vec![residual_norm / scale];
        let mut iterations = 0;
        let mut stalled_steps = 0;
        loop {
            let done = match self.precision {
                Precision::Mixed => residual_norm <= target || stalled_steps >= MAX_STALLED_STEPS,
                Precision::F32 | Precision::F64 => history.len() > 1,
            };
            if done || iterations >= options.max_iter || residual_norm == 0.0 {
                break;
            }
            // The inner solve's tolerance is relative to the current residual.
            let inner_rtol = match self.precision {
                Precision::Mixed => MIXED_INNER_RTOL,
                Precision::F32 => (target / residual_norm).max(F32_RTOL_FLOOR),
                Precision::F64 => target / residual_norm,
            };
            let inner =
                system.pcg(&residual, inner_rtol, options.max_iter - iterations, self.check_every).map_err(backend)?;
            if let Some(value) = inner.breakdown {
                return Err(SolveError::NotPositiveDefinite { iteration: iterations + inner.iterations, value });
            }
            iterations += inner.iterations;
            x.iter_mut().zip(&inner.solution).for_each(|(x, d)| *x += d);
            a.residual(b, x, &mut residual);
            let new_norm = norm(&residual);
            if !new_norm.is_finite() {
                return Err(SolveError::NotFinite { iteration: iterations, value: new_norm });
            }
            stalled_steps = if new_norm > 0.5 * residual_norm { stalled_steps + 1 } else { 0 };
            residual_norm = new_norm;
            history.push(residual_norm / scale);
        }
        let relative_residual = residual_norm / scale;
        let converged = match self.precision {
            Precision::Mixed | Precision::F64 => residual_norm <= target,
            // f32 reports what it reached, when that is within its accepted residual.
            Precision::F32 => residual_norm <= target.max(F32_ACCEPTED_RESIDUAL * b_norm),
        };
        CgReport {
            backend: "gpu".to_string(),
            precision: self.precision.name().to_string(),
            device: self.ctx.device_name(),
            iterations,
            relative_residual,
            residual_history: history,
            converged: false,
            seconds: start.elapsed().as_secs_f64(),
            preconditioner,
        }
        .into_result(converged, options.rtol)
    }

    /// The hierarchy is kept (its finest smoother refreshed); the new matrix is uploaded with it.
    fn reuse_setup(&mut self, reuse: bool) {
        if let Some(amg) = &mut self.amg {
            amg.reuse_setup(reuse);
        }
    }
}
