//! CPU reference: Jacobi-preconditioned CG in f64 with rayon-parallel kernels. Independent of the
//! GPU code on purpose, so agreement between the two means something.

use super::{CgOptions, CgReport, LinearOperator, Preconditioner, SolveError, SymmetricSolver};
use crate::solver::sparse::{CsrMatrix, PAR_MIN_LEN};
use rayon::prelude::*;
use std::time::Instant;

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.par_iter().with_min_len(PAR_MIN_LEN).zip(b).map(|(x, y)| x * y).sum()
}

pub fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// Inverse-diagonal (Jacobi) preconditioner.
pub struct Jacobi {
    inv_diag: Vec<f64>,
}

impl Jacobi {
    pub fn new(a: &CsrMatrix) -> Self {
        let inv_diag = a.inverse_diagonal();
        Jacobi { inv_diag }
    }
}

impl Preconditioner for Jacobi {
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        z.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(r).zip(&self.inv_diag).for_each(|((z, r), d)| *z = r * d);
    }
}

/// Preconditioned conjugate gradients. `x` holds the initial guess and receives the solution.
/// The history records the recurrence residual; the final relative residual is the true one.
pub fn pcg(
    op: &dyn LinearOperator,
    precond: &dyn Preconditioner,
    b: &[f64],
    x: &mut [f64],
    options: &CgOptions,
) -> Result<CgReport, SolveError> {
    let start = Instant::now();
    let n = op.nrows();
    assert_eq!(b.len(), n);
    assert_eq!(x.len(), n);
    let b_norm = norm(b);
    let scale = if b_norm > 0.0 { b_norm } else { 1.0 };
    let target = (options.rtol * b_norm).max(options.atol);

    let mut r = vec![0.0; n];
    op.apply(x, &mut r);
    r.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(b).for_each(|(r, b)| *r = b - *r);
    let mut z = vec![0.0; n];
    precond.apply(&r, &mut z);
    let mut p = z.clone();
    let mut q = vec![0.0; n];
    let mut rz = dot(&r, &z);
    let mut r_norm = norm(&r);
    let mut history = vec![r_norm / scale];
    let mut iterations = 0;

    while r_norm > target && iterations < options.max_iter {
        op.apply(&p, &mut q);
        let pq = dot(&p, &q);
        if pq <= 0.0 {
            return Err(SolveError::NotPositiveDefinite { iteration: iterations, value: pq });
        }
        let alpha = rz / pq;
        x.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(&p).for_each(|(x, p)| *x += alpha * p);
        r.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(&q).for_each(|(r, q)| *r -= alpha * q);
        precond.apply(&r, &mut z);
        let rz_new = dot(&r, &z);
        let beta = rz_new / rz;
        rz = rz_new;
        p.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(&z).for_each(|(p, z)| *p = z + beta * *p);
        r_norm = norm(&r);
        history.push(r_norm / scale);
        iterations += 1;
    }

    // Report the true residual, not the recurrence one, so the number can be trusted.
    op.apply(x, &mut r);
    let true_norm = r.iter().zip(b).map(|(ax, b)| (b - ax).powi(2)).sum::<f64>().sqrt();
    let relative_residual = true_norm / scale;
    CgReport {
        backend: "cpu".to_string(),
        precision: "f64".to_string(),
        device: format!("cpu ({} threads)", rayon::current_num_threads()),
        iterations,
        relative_residual,
        residual_history: history,
        seconds: start.elapsed().as_secs_f64(),
    }
    .into_result(r_norm <= target, options.rtol)
}

/// The CPU reference solver: Jacobi PCG in f64.
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuSolver;

impl SymmetricSolver for CpuSolver {
    fn solve(&mut self, a: &CsrMatrix, b: &[f64], x: &mut [f64], options: &CgOptions) -> Result<CgReport, SolveError> {
        pcg(a, &Jacobi::new(a), b, x, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1D Dirichlet Laplacian tridiag(-1, 2, -1): SPD with a known solution.
    fn laplacian_1d(n: usize) -> CsrMatrix {
        let mut t = Vec::new();
        for i in 0..n {
            t.push((i, i, 2.0));
            if i > 0 {
                t.push((i, i - 1, -1.0));
            }
            if i + 1 < n {
                t.push((i, i + 1, -1.0));
            }
        }
        CsrMatrix::from_triplets(n, &t)
    }

    #[test]
    fn pcg_solves_laplacian_to_tolerance() {
        let n = 200;
        let a = laplacian_1d(n);
        let exact: Vec<f64> = (0..n).map(|i| (i as f64 * 0.1).sin()).collect();
        let mut b = vec![0.0; n];
        a.spmv(&exact, &mut b);
        let mut x = vec![0.0; n];
        let report = CpuSolver.solve(&a, &b, &mut x, &CgOptions { rtol: 1e-12, ..Default::default() }).unwrap();
        assert!(report.relative_residual < 1e-11, "{}", report.relative_residual);
        // CG on an n x n SPD system converges in at most n steps in exact arithmetic.
        assert!(report.iterations <= n + 5);
        let err = x.iter().zip(&exact).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(err < 1e-7, "max error {err}");
        assert_eq!(report.residual_history.len(), report.iterations + 1);
    }

    #[test]
    fn pcg_reports_no_convergence_with_history() {
        let a = laplacian_1d(500);
        let b = vec![1.0; 500];
        let mut x = vec![0.0; 500];
        let err = CpuSolver.solve(&a, &b, &mut x, &CgOptions { rtol: 1e-12, atol: 0.0, max_iter: 10 }).unwrap_err();
        match err {
            SolveError::NoConvergence { iterations, residual_history, .. } => {
                assert_eq!(iterations, 10);
                assert_eq!(residual_history.len(), 11);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
