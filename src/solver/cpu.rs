//! CPU solvers, f64 with rayon-parallel kernels: the Jacobi-PCG reference and flexible CG with the AMG
//! preconditioner. Independent of the GPU code on purpose, so agreement between the two means something.

use super::amg::{AmgOptions, Hierarchy, Workspace};
use super::vector::{dot, norm};
use super::{CgOptions, CgReport, LinearOperator, Preconditioner, PreconditionerReport, SolveError, SymmetricSolver};
use crate::solver::sparse::{CsrMatrix, PAR_MIN_LEN};
use rayon::prelude::*;
use std::time::Instant;

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
    fn apply(&mut self, r: &[f64], z: &mut [f64]) -> Result<(), SolveError> {
        z.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(r).zip(&self.inv_diag).for_each(|((z, r), d)| *z = r * d);
        Ok(())
    }

    fn report(&self) -> PreconditionerReport {
        PreconditionerReport::jacobi()
    }
}

/// Restarts from the true residual a CG may make when its recurrence residual claims a convergence the true
/// one does not confirm (the recurrence drifts from b - A x in ill-conditioned systems). After these the solve
/// reports what the true residual reached, as not converged.
const MAX_TRUE_RESIDUAL_RESTARTS: usize = 3;

/// Preconditioned conjugate gradients. `x` holds the initial guess and receives the solution.
/// The history records the recurrence residual; convergence is decided on the true residual b - A x, computed
/// whenever the recurrence claims it (a restart from it when it is not met) and reported at the end.
pub fn pcg(
    op: &dyn LinearOperator,
    precond: &mut dyn Preconditioner,
    b: &[f64],
    x: &mut [f64],
    options: &CgOptions,
) -> Result<CgReport, SolveError> {
    let start = Instant::now();
    let n = op.nrows();
    assert_eq!(b.len(), n);
    assert_eq!(x.len(), n);
    let (b_norm, target) = options.target(b)?;
    let scale = if b_norm > 0.0 { b_norm } else { 1.0 };

    let mut r = vec![0.0; n];
    let true_residual = |x: &[f64], r: &mut [f64]| {
        op.apply(x, r);
        r.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(b).for_each(|(r, b)| *r = b - *r);
        norm(r)
    };
    let mut r_norm = true_residual(x, &mut r);
    let (mut z, mut q) = (vec![0.0; n], vec![0.0; n]);
    let mut history = vec![r_norm / scale];
    let mut iterations = 0;
    let mut restarts = 0;
    loop {
        precond.apply(&r, &mut z)?;
        let mut p = z.clone();
        let mut rz = dot(&r, &z);
        while r_norm > target && iterations < options.max_iter {
            op.apply(&p, &mut q);
            let pq = dot(&p, &q);
            if pq <= 0.0 {
                return Err(SolveError::NotPositiveDefinite { iteration: iterations, value: pq });
            }
            let alpha = rz / pq;
            x.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(&p).for_each(|(x, p)| *x += alpha * p);
            r.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(&q).for_each(|(r, q)| *r -= alpha * q);
            precond.apply(&r, &mut z)?;
            let rz_new = dot(&r, &z);
            let beta = rz_new / rz;
            rz = rz_new;
            p.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(&z).for_each(|(p, z)| *p = z + beta * *p);
            r_norm = norm(&r);
            history.push(r_norm / scale);
            iterations += 1;
            if !r_norm.is_finite() {
                return Err(SolveError::NotFinite { iteration: iterations, value: r_norm });
            }
        }
        r_norm = true_residual(x, &mut r);
        if r_norm <= target || iterations >= options.max_iter || restarts == MAX_TRUE_RESIDUAL_RESTARTS {
            break;
        }
        restarts += 1;
    }
    cpu_report(iterations, r_norm / scale, history, start, precond.report()).into_result(r_norm <= target, options.rtol)
}

/// The report of a CPU solve (f64, on the rayon pool) started at `start`.
fn cpu_report(
    iterations: usize,
    relative_residual: f64,
    residual_history: Vec<f64>,
    start: Instant,
    preconditioner: PreconditionerReport,
) -> CgReport {
    CgReport {
        backend: "cpu".to_string(),
        precision: "f64".to_string(),
        device: format!("cpu ({} threads)", rayon::current_num_threads()),
        iterations,
        relative_residual,
        residual_history,
        converged: false,
        seconds: start.elapsed().as_secs_f64(),
        preconditioner,
    }
}

/// One AMG cycle per application: the hierarchy (the setup, kept between solves) and the cycle's level vectors
/// (this solve's scratch).
pub struct AmgCycle<'a> {
    a: &'a CsrMatrix,
    hierarchy: &'a Hierarchy,
    work: Workspace,
    /// Whether the hierarchy was kept from an earlier solve (the report says so).
    reused: bool,
}

impl<'a> AmgCycle<'a> {
    pub fn new(a: &'a CsrMatrix, hierarchy: &'a Hierarchy, reused: bool) -> AmgCycle<'a> {
        AmgCycle { a, hierarchy, work: hierarchy.workspace(), reused }
    }
}

impl Preconditioner for AmgCycle<'_> {
    fn apply(&mut self, r: &[f64], z: &mut [f64]) -> Result<(), SolveError> {
        Ok(self.hierarchy.apply(self.a, r, z, &mut self.work)?)
    }

    fn report(&self) -> PreconditionerReport {
        PreconditionerReport::amg(self.hierarchy, self.reused)
    }
}

/// Flexible conjugate gradients (FCG(1), Notay 2000): the search direction is made A-orthogonal to the previous
/// one explicitly, which keeps CG's convergence when the preconditioner varies between applications (the AMG
/// K-cycle does). `x` holds the initial guess and receives the solution; the history records the recurrence
/// residual; convergence is decided on the true residual, as in [`pcg`].
pub fn fcg(
    a: &CsrMatrix,
    precond: &mut dyn Preconditioner,
    b: &[f64],
    x: &mut [f64],
    options: &CgOptions,
) -> Result<CgReport, SolveError> {
    let start = Instant::now();
    let n = a.nrows;
    let (b_norm, target) = options.target(b)?;
    let scale = if b_norm > 0.0 { b_norm } else { 1.0 };
    let mut r = vec![0.0; n];
    a.residual(b, x, &mut r);
    let (mut z, mut p, mut q) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut r_norm = norm(&r);
    let mut history = vec![r_norm / scale];
    let mut iterations = 0;
    let mut restarts = 0;
    loop {
        if r_norm > target {
            precond.apply(&r, &mut p)?;
            a.spmv(&p, &mut q);
        }
        while r_norm > target && iterations < options.max_iter {
            let pq = dot(&p, &q);
            if !(pq > 0.0) {
                return Err(SolveError::NotPositiveDefinite { iteration: iterations, value: pq });
            }
            let alpha = dot(&p, &r) / pq;
            x.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(&p).for_each(|(x, p)| *x += alpha * p);
            r.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(&q).for_each(|(r, q)| *r -= alpha * q);
            r_norm = norm(&r);
            iterations += 1;
            history.push(r_norm / scale);
            if !r_norm.is_finite() {
                return Err(SolveError::NotFinite { iteration: iterations, value: r_norm });
            }
            if r_norm <= target {
                break;
            }
            precond.apply(&r, &mut z)?;
            let beta = dot(&z, &q) / pq;
            // p = z - beta p and q = A p = A z - beta q: no second product, and A z goes straight into q.
            p.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(&z).for_each(|(p, z)| *p = z - beta * *p);
            a.rows_update(&z, &mut q, |_, az, q| az - beta * q);
        }
        a.residual(b, x, &mut r);
        r_norm = norm(&r);
        if r_norm <= target || iterations >= options.max_iter || restarts == MAX_TRUE_RESIDUAL_RESTARTS {
            break;
        }
        restarts += 1;
    }
    cpu_report(iterations, r_norm / scale, history, start, precond.report()).into_result(r_norm <= target, options.rtol)
}

/// A fingerprint of a matrix (its pattern and the bits of its values): a setup is reused only for a matrix
/// with the same one.
pub fn fingerprint(a: &CsrMatrix) -> u64 {
    use std::hash::{Hash, Hasher};
    let chunk = |range: std::ops::Range<usize>| {
        let mut h = rustc_hash::FxHasher::default();
        a.col_idx[range.clone()].hash(&mut h);
        a.values[range].iter().for_each(|v| v.to_bits().hash(&mut h));
        h.finish()
    };
    let nnz = a.nnz();
    let parts: Vec<u64> =
        (0..nnz.div_ceil(1 << 16)).into_par_iter().map(|k| chunk(k << 16..((k + 1) << 16).min(nnz))).collect();
    let mut h = rustc_hash::FxHasher::default();
    (a.nrows, &a.row_ptr, parts).hash(&mut h);
    h.finish()
}

/// The CPU solver with the AMG preconditioner (f64, flexible CG). The hierarchy is built on the first solve of
/// a matrix and kept for later solves of the same matrix (same fingerprint): the re-solves of an analysis that
/// only change the right-hand side reuse it.
#[derive(Default)]
pub struct AmgSolver {
    pub options: AmgOptions,
    prepared: Option<(u64, Hierarchy)>,
    /// [`SymmetricSolver::reuse_setup`]: keep the hierarchy for a new matrix of the same size.
    reuse: bool,
}

impl AmgSolver {
    pub fn new(options: AmgOptions) -> AmgSolver {
        AmgSolver { options, prepared: None, reuse: false }
    }

    /// Builds (or finds) the hierarchy of `a`, whose [`fingerprint`] is `key` (the caller's, so that a solver
    /// keying its own state by it hashes the matrix once); returns it and whether it was reused (the same matrix,
    /// or while [`SymmetricSolver::reuse_setup`] holds one of the same size, its finest smoother refreshed).
    pub fn prepare(&mut self, a: &CsrMatrix, key: u64) -> Result<(&Hierarchy, bool), SolveError> {
        let same = self.prepared.as_ref().is_some_and(|(k, _)| *k == key);
        let kept =
            !same && self.reuse && self.prepared.as_ref().is_some_and(|(_, h)| h.levels()[0].unknowns == a.nrows);
        if kept {
            let (k, hierarchy) = self.prepared.as_mut().expect("checked above");
            hierarchy.refresh_finest(a)?;
            *k = key;
        } else if !same {
            self.prepared = None;
            self.prepared = Some((key, Hierarchy::new(a, self.options)?));
        }
        Ok((&self.prepared.as_ref().expect("prepared above").1, same || kept))
    }
}

impl SymmetricSolver for AmgSolver {
    fn solve(&mut self, a: &CsrMatrix, b: &[f64], x: &mut [f64], options: &CgOptions) -> Result<CgReport, SolveError> {
        assert_eq!(b.len(), a.nrows);
        assert_eq!(x.len(), a.nrows);
        let (hierarchy, reused) = self.prepare(a, fingerprint(a))?;
        let mut cycle = AmgCycle::new(a, hierarchy, reused);
        // Inside the pool: the cycle's many small parallel operations then start without a cross-thread handoff.
        rayon::scope(|_| fcg(a, &mut cycle, b, x, options))
    }

    fn reuse_setup(&mut self, reuse: bool) {
        self.reuse = reuse;
    }
}

/// The CPU reference solver: Jacobi PCG in f64.
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuSolver;

impl SymmetricSolver for CpuSolver {
    fn solve(&mut self, a: &CsrMatrix, b: &[f64], x: &mut [f64], options: &CgOptions) -> Result<CgReport, SolveError> {
        pcg(a, &mut Jacobi::new(a), b, x, options)
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
    fn solutions_are_the_same_to_the_last_bit_on_one_and_two_threads() {
        // 64,000 unknowns: every reduction and matrix pass splits over threads.
        let a = CsrMatrix::laplacian_7point(40, 40, 40);
        let b: Vec<f64> = (0..a.nrows).map(|i| ((i * 7919) % 101) as f64 / 101.0 - 0.3).collect();
        let options = CgOptions { rtol: 1e-10, ..Default::default() };
        let solve_on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let mut x = vec![0.0; a.nrows];
                AmgSolver::default().solve(&a, &b, &mut x, &options).unwrap();
                (dot(&b, &b), x)
            })
        };
        let one = solve_on(1);
        // The dot product against a plain sequential sum (which associates differently).
        let sequential: f64 = b.iter().map(|v| v * v).sum();
        assert!((one.0 - sequential).abs() <= 1e-13 * sequential);
        for _ in 0..3 {
            let two = solve_on(2);
            assert_eq!(one.0.to_bits(), two.0.to_bits());
            assert!(one.1.iter().zip(&two.1).all(|(p, q)| p.to_bits() == q.to_bits()), "solutions differ");
        }
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
            SolveError::NoConvergence { report, .. } => {
                assert_eq!(report.iterations, 10);
                assert_eq!(report.residual_history.len(), 11);
                assert!(!report.converged);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn amg_fcg_iterations_stay_flat_as_a_laplacian_is_refined() {
        let mut counts = Vec::new();
        for n in [12, 24, 48] {
            let a = CsrMatrix::laplacian_7point(n, n, n);
            let exact: Vec<f64> = (0..a.nrows).map(|i| ((i * 31) % 17) as f64 - 8.0).collect();
            let mut b = vec![0.0; a.nrows];
            a.spmv(&exact, &mut b);
            let mut x = vec![0.0; a.nrows];
            let report = AmgSolver::default().solve(&a, &b, &mut x, &CgOptions::default()).unwrap();
            assert!(report.relative_residual <= 1e-10, "{}", report.relative_residual);
            let error = x.iter().zip(&exact).map(|(x, e)| (x - e).abs()).fold(0.0, f64::max);
            assert!(error < 1e-6, "n = {n}: max error {error}");
            counts.push(report.iterations);
        }
        // 1.7k to 110k unknowns: the count may not grow by more than a few.
        assert!(counts.iter().all(|&c| c <= 20) && counts[2] <= counts[0] + 4, "{counts:?}");
    }

    #[test]
    fn an_amg_setup_is_reused_for_the_same_matrix_and_rebuilt_for_another() {
        let a = CsrMatrix::laplacian_7point(20, 20, 20);
        let b = vec![1.0; a.nrows];
        let mut solver = AmgSolver::default();
        let first = solver.solve(&a, &b, &mut vec![0.0; a.nrows], &CgOptions::default()).unwrap();
        let second = solver.solve(&a, &b, &mut vec![0.0; a.nrows], &CgOptions::default()).unwrap();
        assert!(!first.preconditioner.reused && first.preconditioner.setup_seconds > 0.0);
        assert!(second.preconditioner.reused && second.preconditioner.setup_seconds == 0.0);
        assert_eq!(first.iterations, second.iterations);
        let mut scaled = a.clone();
        scaled.values[0] *= 2.0;
        let third = solver.solve(&scaled, &b, &mut vec![0.0; a.nrows], &CgOptions::default()).unwrap();
        assert!(!third.preconditioner.reused);
    }

    #[test]
    fn an_indefinite_matrix_is_an_error_naming_where_it_showed() {
        // A Laplacian shifted below zero: positive diagonal, but indefinite.
        let mut a = CsrMatrix::laplacian_7point(12, 12, 12);
        let n = a.nrows;
        for i in 0..n {
            let (start, end) = (a.row_ptr[i], a.row_ptr[i + 1]);
            for k in start..end {
                if a.col_idx[k] as usize == i {
                    a.values[k] -= 1.0;
                }
            }
        }
        let b = vec![1.0; n];
        let error = AmgSolver::default().solve(&a, &b, &mut vec![0.0; n], &CgOptions::default()).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("level") || text.contains("not positive definite"), "{text}");
    }

    #[test]
    fn a_non_finite_right_hand_side_is_an_error_not_a_converged_solve() {
        let a = CsrMatrix::laplacian_7point(5, 5, 5);
        let mut b = vec![1.0; a.nrows];
        b[3] = f64::INFINITY;
        let error = AmgSolver::default().solve(&a, &b, &mut vec![0.0; a.nrows], &CgOptions::default()).unwrap_err();
        assert!(matches!(error, SolveError::NotFinite { .. }), "{error:?}");
    }
}
