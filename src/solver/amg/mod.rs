//! Aggregation-based algebraic multigrid as a preconditioner (Notay's AGMG design): double pairwise aggregation
//! from the finest level (about 3-4x coarsening), triple below it (about 7x), unsmoothed piecewise-constant
//! prolongation stored as one aggregate index per row, Galerkin coarse operators, damped l1-Jacobi smoothing (1
//! sweep before and 2 after on the finest level, 1 and 1 below it), a K-cycle (two flexible CG steps on each
//! coarse level, with the cycle of the next level as their preconditioner) and a dense Cholesky solve on the
//! coarsest level. The setup runs once per matrix; [`Hierarchy::apply`] is one cycle, with scratch passed in. The
//! cycle varies from one application to the next, so the outer solver is flexible CG. Levels below
//! `kcycle_levels` are visited `coarse_visits` times instead (a V- or W-cycle there: a fixed linear
//! preconditioner, the GPU's cycle and its CPU twin).
//! The hierarchy's options, levels, setup and cycle are one type (its code just over 500 lines; the
//! aggregation, the Galerkin products, the smoothers and the coarse solve have files of their own).

pub mod aggregates;
pub mod aggregation;
mod dense;
pub mod galerkin;

pub use dense::Cholesky;

use super::sparse::{CsrMatrix, Entry, PAR_MIN_LEN};
use super::vector::dot;
use aggregates::{Aggregates, Members};
use aggregation::{pair, pair_coarse};
use galerkin::coarse_operator;
use rayon::prelude::*;
use serde::Serialize;
use std::time::Instant;

/// The knobs of the hierarchy; the defaults follow AGMG.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AmgOptions {
    /// A coupling is strong when at least this fraction of its row's strongest.
    pub strength: f64,
    /// Pairwise matching passes from the finest level to the first coarse one (2: aggregates of up to 4).
    pub fine_passes: usize,
    /// Passes between coarser levels (3: aggregates of up to 8).
    pub coarse_passes: usize,
    /// Coarsen until a level has at most this many unknowns; it is then solved directly.
    pub coarse_size: usize,
    /// Smoothing sweeps around the coarse correction on the finest level, and on the levels below it.
    pub fine_sweeps: Sweeps,
    pub coarse_sweeps: Sweeps,
    /// The smoother's step x += w D_l1^-1 (b - A x), as a multiple w of the l1-Jacobi step.
    pub smoother_weight: f64,
    pub max_levels: usize,
    /// The K-cycle's second inner step is skipped when the first reduced the residual below this fraction.
    pub kcycle_tolerance: f64,
    /// Coarse levels 1..=this use the K-cycle; deeper ones are visited `coarse_visits` times.
    pub kcycle_levels: usize,
    /// Visits per cycle of a coarse level below the K-cycle's, as a stationary iteration (1: V-cycle, 2: W-cycle).
    pub coarse_visits: usize,
}

impl Default for AmgOptions {
    fn default() -> Self {
        AmgOptions {
            strength: 0.25,
            // Measured at t = 0.5 (844,723 unknowns) and t = 0.25 (6.2 M): 2 passes on every level take 20 and 24
            // iterations, operator complexity 1.46; 3 below the first coarse level take 21 and 24 iterations,
            // complexity 1.39, two levels fewer, and 10-20 % less solve time (the K-cycle's coarse steps are
            // cheaper). 3 passes on the finest level too: 25-27 iterations at t = 0.5 (too close to the bound).
            fine_passes: 2,
            coarse_passes: 3,
            // Measured on the default case at t = 1 and 0.5: 300 rather than AGMG's ~1000 saves a level's worth
            // of dense solve per cycle at no cost in iterations.
            coarse_size: 300,
            // Measured with the weight below (rtol 1e-10, CPU): 2 and 2 on every level took 19 / 20 / 22 iterations at
            // t = 1 / 0.5 / 0.25; these counts take 20 / 21 / 24 and the solve 25-30 % less time, since one outer
            // iteration is 3 fine-matrix passes in the cycle instead of 4, and each coarse visit 2 instead of 4.
            fine_sweeps: Sweeps { pre: 1, post: 2 },
            coarse_sweeps: Sweeps { pre: 1, post: 1 },
            // The l1 row norms bound the spectrum of D_l1^-1 A by 1, so any weight below 2 converges; 4/3 minimises
            // the largest |1 - w lambda| over the upper half [1/2, 1] of that spectrum, the error the coarse levels
            // cannot see (damped Jacobi's classic 2/3, relative to the l1 bound). Measured against 1: 24 -> 22
            // iterations at t = 0.25, and the W-cycle's 25 -> 23 on the default case.
            smoother_weight: 4.0 / 3.0,
            max_levels: 20,
            // With 3 coarse passes, 0.1 (a second inner step more often) was as fast as 0.25 and kept the count
            // lower.
            kcycle_tolerance: 0.1,
            // Every coarse level: a V-cycle below level 2 saved 10 % per cycle but added iterations with the mesh
            // (t = 0.5: 22 vs 20), and the count must stay flat.
            kcycle_levels: usize::MAX,
            // Unused while every level takes the K-cycle; the GPU's W-cycle sets 2.
            coarse_visits: 1,
        }
    }
}

/// Smoothing sweeps on one level: before the coarse correction (at least 1: from zero, the first is x = w D_l1^-1 b)
/// and after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sweeps {
    pub pre: usize,
    pub post: usize,
}

impl Sweeps {
    /// As many after as before: a symmetric cycle, which a plain (not flexible) CG needs.
    pub fn symmetric(count: usize) -> Sweeps {
        Sweeps { pre: count, post: count }
    }
}

impl AmgOptions {
    /// The sweeps on `level` (0: the finest).
    pub fn sweeps(&self, level: usize) -> Sweeps {
        if level == 0 {
            self.fine_sweeps
        } else {
            self.coarse_sweeps
        }
    }
}

/// Why a hierarchy could not be built or applied; each names the level.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AmgError {
    #[error("AMG level {level}: the coarse operator is not positive definite (pivot {pivot} of {size})")]
    NotPositiveDefinite { level: usize, pivot: usize, size: usize },
    #[error("AMG level {level}: row {row} has a non-positive diagonal, so the smoother cannot scale it")]
    BadDiagonal { level: usize, row: usize },
    #[error(
        "AMG level {level}: the K-cycle met a non-positive curvature ({value:.3e}); the preconditioner is not SPD"
    )]
    NotPositive { level: usize, value: f64 },
}

/// One level's size, as the reports list it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LevelInfo {
    pub unknowns: usize,
    pub nonzeros: usize,
}

/// The stored type of the coarse operators' values: f32 halves their bytes (4 B saved per coarse nonzero, of which
/// there are about 4 per fine unknown) and the traffic of the coarse levels' passes. The cycle still computes in
/// f64, and a preconditioner needs no more digits (the outer flexible CG, in f64, sets the accuracy).
pub type CoarseEntry = f32;

/// A level below the finest: its operator, and how its unknowns aggregate the level above.
struct CoarseLevel {
    matrix: CsrMatrix<CoarseEntry>,
    /// Aggregate of each unknown of the level above, and each aggregate's members.
    aggregates: Aggregates,
    members: Members,
}

impl CoarseLevel {
    /// The level below `current` (level `level`), or None when `current` is small enough to stop or no longer
    /// coarsens.
    fn below<V: Entry>(current: &CsrMatrix<V>, level: usize, options: &AmgOptions) -> Option<CoarseLevel> {
        if current.nrows <= options.coarse_size {
            return None;
        }
        // Each pass pairs the unknowns of the Galerkin operator of the aggregation so far, which is read row by
        // row as it is built and not stored (it would be the largest transient of the setup: about half the
        // finest matrix); the level's operator is then built once, from the level above, for the composed
        // aggregation P = P1 P2 ... (P2^T (P1^T A P1) P2 = P^T A P).
        let mut aggregates = pair(current, options.strength);
        let passes = if level == 0 { options.fine_passes } else { options.coarse_passes };
        for _ in 1..passes {
            let next = pair_coarse(current, &aggregates, options.strength);
            aggregates = aggregates.then(&next);
        }
        // Less than a 1.5-fold reduction: coarsening has stalled (no strong couplings left).
        if aggregates.count * 3 > current.nrows * 2 {
            return None;
        }
        let members = aggregates.members();
        let matrix = coarse_operator(current, &aggregates, &members);
        Some(CoarseLevel { matrix, aggregates, members })
    }
}

/// The dense factor of `last` (level `level`) if it has at most four times the coarse size, else None.
fn direct_factor<V: Entry>(
    last: &CsrMatrix<V>,
    level: usize,
    options: &AmgOptions,
) -> Result<Option<Cholesky>, AmgError> {
    (last.nrows <= 4 * options.coarse_size)
        .then(|| Cholesky::new(last))
        .transpose()
        .map_err(|pivot| AmgError::NotPositiveDefinite { level, pivot, size: last.nrows })
}

/// A level's operator as the cycle reads it: the caller's finest matrix or a stored coarse one.
#[derive(Clone, Copy)]
enum LevelMatrix<'a> {
    Fine(&'a CsrMatrix),
    Coarse(&'a CsrMatrix<CoarseEntry>),
}

impl LevelMatrix<'_> {
    fn rows_map(self, x: &[f64], y: &mut [f64], f: impl Fn(usize, f64) -> f64 + Sync) {
        match self {
            LevelMatrix::Fine(a) => a.rows_map(x, y, f),
            LevelMatrix::Coarse(a) => a.rows_map(x, y, f),
        }
    }

    fn spmv(self, x: &[f64], y: &mut [f64]) {
        self.rows_map(x, y, |_, ax| ax);
    }
}

/// A level below the finest, read-only: its operator and how it aggregates the level above.
pub struct CoarseView<'a> {
    pub matrix: &'a CsrMatrix<CoarseEntry>,
    /// Aggregate of each unknown of the level above.
    pub aggregate_of: &'a [u32],
    /// Members of each aggregate (CSR, rows ascending).
    pub member_offsets: &'a [u32],
    pub members: &'a [u32],
}

/// The hierarchy of one matrix. Level 0 is the matrix itself, which the caller passes to every apply (it is
/// not copied); levels 1.. are stored; the last one is solved directly.
pub struct Hierarchy {
    options: AmgOptions,
    fine: LevelInfo,
    /// The smoother's scaling, w / (l1 norm of each row), per level, the finest first; stored in f32 like the
    /// coarse operators (a smoother needs no more digits; 4 B per fine unknown saved).
    smoother_scaling: Vec<Vec<f32>>,
    coarse: Vec<CoarseLevel>,
    /// The last level's factor; None when that level is too large for one (it did not coarsen): smoothed only.
    direct: Option<Cholesky>,
    /// Setup wall seconds.
    pub setup_seconds: f64,
}

/// w / (l1 norm of each row) of `a`, the smoother's scaling with weight `w`.
fn smoother_scaling<V: Entry>(a: &CsrMatrix<V>, level: usize, w: f64) -> Result<Vec<f32>, AmgError> {
    (0..a.nrows)
        .into_par_iter()
        .with_min_len(PAR_MIN_LEN)
        .map(|i| {
            let (cols, values) = a.row(i);
            let diagonal: f64 = cols.iter().zip(values).find(|(&j, _)| j as usize == i).map_or(0.0, |(_, &v)| v.into());
            if !(diagonal > 0.0) {
                return Err(AmgError::BadDiagonal { level, row: i });
            }
            Ok((w / values.iter().map(|&v| v.into().abs()).sum::<f64>()) as f32)
        })
        .collect()
}

impl Hierarchy {
    /// Builds the levels of `a` (SPD). A matrix that does not coarsen (no strong couplings) still gets a
    /// hierarchy: a single level, solved directly when small, else smoothed only.
    pub fn new(a: &CsrMatrix, options: AmgOptions) -> Result<Hierarchy, AmgError> {
        assert!(
            options.fine_sweeps.pre >= 1 && options.coarse_sweeps.pre >= 1,
            "the cycle starts from zero with one pre-smoothing sweep at least"
        );
        let start = Instant::now();
        let w = options.smoother_weight;
        let mut scaling = vec![smoother_scaling(a, 0, w)?];
        let mut coarse: Vec<CoarseLevel> = Vec::new();
        while coarse.len() + 1 < options.max_levels {
            let next = match coarse.last() {
                None => CoarseLevel::below(a, 0, &options),
                Some(level) => CoarseLevel::below(&level.matrix, coarse.len(), &options),
            };
            let Some(next) = next else { break };
            scaling.push(smoother_scaling(&next.matrix, coarse.len() + 1, w)?);
            coarse.push(next);
        }
        // The last level is factored when small enough (it may not be, when coarsening stalled early).
        let direct = match coarse.last() {
            None => direct_factor(a, coarse.len(), &options),
            Some(c) => direct_factor(&c.matrix, coarse.len(), &options),
        }?;
        Ok(Hierarchy {
            options,
            fine: LevelInfo { unknowns: a.nrows, nonzeros: a.nnz() },
            smoother_scaling: scaling,
            coarse,
            direct,
            setup_seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// Keeps the coarse levels and refreshes the finest level's smoother for `a`, a matrix of the same size as the
    /// one the hierarchy was built for (Newton's next step): the smoother then stays convergent on `a`'s rows.
    pub fn refresh_finest(&mut self, a: &CsrMatrix) -> Result<(), AmgError> {
        assert_eq!(a.nrows, self.fine.unknowns, "a refreshed hierarchy keeps its size");
        self.smoother_scaling[0] = smoother_scaling(a, 0, self.options.smoother_weight)?;
        self.fine = LevelInfo { unknowns: a.nrows, nonzeros: a.nnz() };
        Ok(())
    }

    /// Unknowns and nonzeros of every level, the finest first.
    pub fn levels(&self) -> Vec<LevelInfo> {
        std::iter::once(self.fine)
            .chain(self.coarse.iter().map(|c| LevelInfo { unknowns: c.matrix.nrows, nonzeros: c.matrix.nnz() }))
            .collect()
    }

    /// Sum of the levels' nonzeros over the finest level's.
    pub fn operator_complexity(&self) -> f64 {
        self.levels().iter().map(|l| l.nonzeros).sum::<usize>() as f64 / self.fine.nonzeros.max(1) as f64
    }

    pub fn options(&self) -> &AmgOptions {
        &self.options
    }

    /// The levels below the finest, as the GPU uploads them (the finest is the caller's matrix).
    pub fn coarse_levels(&self) -> impl Iterator<Item = CoarseView<'_>> {
        self.coarse.iter().map(|c| CoarseView {
            matrix: &c.matrix,
            aggregate_of: &c.aggregates.of,
            member_offsets: &c.members.offsets,
            members: &c.members.rows,
        })
    }

    /// The smoother's scaling w / (l1 norm of each row) of `level` (0: the finest).
    pub fn smoother_scaling(&self, level: usize) -> &[f32] {
        &self.smoother_scaling[level]
    }

    /// The dense inverse of the last level's operator (row-major), when that level is solved directly; None when
    /// it is only smoothed (the matrix did not coarsen to a size a dense factor fits).
    pub fn direct_inverse(&self) -> Option<Vec<f64>> {
        self.direct.as_ref().map(Cholesky::inverse)
    }

    /// The scratch one [`Hierarchy::apply`] needs.
    pub fn workspace(&self) -> Workspace {
        let sizes: Vec<usize> = self.levels().iter().map(|l| l.unknowns).collect();
        // The finest level's right-hand side and correction are the caller's, and it takes no Krylov steps: it needs
        // only the residual (40 bytes per unknown less on the largest level).
        let lengths = |level: usize, n: usize| if level == 0 { (n, 0) } else { (n, n) };
        Workspace { levels: sizes.iter().enumerate().map(|(level, &n)| LevelWork::new(lengths(level, n))).collect() }
    }

    fn matrix<'a>(&'a self, fine: &'a CsrMatrix, level: usize) -> LevelMatrix<'a> {
        if level == 0 {
            LevelMatrix::Fine(fine)
        } else {
            LevelMatrix::Coarse(&self.coarse[level - 1].matrix)
        }
    }

    /// z = B r: one cycle from zero on the finest level `a` (the matrix the hierarchy was built from).
    pub fn apply(&self, a: &CsrMatrix, r: &[f64], z: &mut [f64], work: &mut Workspace) -> Result<(), AmgError> {
        self.cycle(a, 0, r, z, &mut work.levels)
    }

    /// x = B_l b at `level`: smoothing around the coarse correction, or the direct solve on the last level.
    fn cycle(
        &self,
        a: &CsrMatrix,
        level: usize,
        b: &[f64],
        x: &mut [f64],
        work: &mut [LevelWork],
    ) -> Result<(), AmgError> {
        let matrix = self.matrix(a, level);
        let d = &self.smoother_scaling[level];
        let sweeps = self.options.sweeps(level);
        if level == self.coarse.len() {
            if let Some(direct) = &self.direct {
                direct.solve(b, x);
            } else {
                scale(d, b, x);
                smooth(matrix, d, b, x, &mut work[level].r, sweeps.pre + sweeps.post - 1);
            }
            return Ok(());
        }
        // Pre-smoothing from zero: the first sweep is x = D^-1 b.
        scale(d, b, x);
        smooth(matrix, d, b, x, &mut work[level].r, sweeps.pre - 1);
        // Residual (in row order: gathering it by aggregates would visit the rows out of order), restricted.
        let next = &self.coarse[level];
        let (this, deeper) = work.split_at_mut(level + 1);
        matrix.rows_map(x, &mut this[level].r, |i, ax| b[i] - ax);
        restrict(next, &this[level].r, &mut deeper[0].b);
        // Coarse correction: direct on the last level, else the K-cycle's two flexible CG steps.
        let (cb, mut ce) = (std::mem::take(&mut work[level + 1].b), std::mem::take(&mut work[level + 1].x));
        let result = if level + 1 == self.coarse.len() {
            self.cycle(a, level + 1, &cb, &mut ce, work)
        } else if level + 1 > self.options.kcycle_levels {
            self.visit(a, level + 1, &cb, &mut ce, work)
        } else {
            self.kcycle(a, level + 1, &cb, &mut ce, work)
        };
        work[level + 1].b = cb;
        work[level + 1].x = ce;
        result?;
        prolong_add(next, &work[level + 1].x, x);
        smooth(matrix, d, b, x, &mut work[level].r, sweeps.post);
        Ok(())
    }

    /// e = approximate A_m^-1 b by `coarse_visits` steps of the stationary iteration e += B_m (b - A_m e) from 0.
    fn visit(&self, a: &CsrMatrix, m: usize, b: &[f64], e: &mut [f64], work: &mut [LevelWork]) -> Result<(), AmgError> {
        self.cycle(a, m, b, e, work)?;
        // The K-cycle's vectors of this level are free: v1 holds the residual, v2 the correction.
        let matrix = self.matrix(a, m);
        let mut residual = std::mem::take(&mut work[m].v1);
        let mut correction = std::mem::take(&mut work[m].v2);
        let result = (|| {
            for _ in 1..self.options.coarse_visits {
                matrix.rows_map(e, &mut residual, |i, ae| b[i] - ae);
                self.cycle(a, m, &residual, &mut correction, work)?;
                e.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(&correction).for_each(|(e, &c)| *e += c);
            }
            Ok(())
        })();
        work[m].v1 = residual;
        work[m].v2 = correction;
        result
    }

    /// e = approximate A_m^-1 b by two flexible CG steps preconditioned with the cycle of level m (Notay and
    /// Vassilevski's K-cycle); the second step is skipped when the first already cut the residual enough.
    fn kcycle(
        &self,
        a: &CsrMatrix,
        m: usize,
        b: &[f64],
        e: &mut [f64],
        work: &mut [LevelWork],
    ) -> Result<(), AmgError> {
        let matrix = self.matrix(a, m);
        let mut v1 = std::mem::take(&mut work[m].v1);
        let mut w1 = std::mem::take(&mut work[m].w1);
        let mut v2 = std::mem::take(&mut work[m].v2);
        let result = (|| {
            self.cycle(a, m, b, &mut v1, work)?;
            matrix.spmv(&v1, &mut w1);
            let (rho1, alpha1) = (dot(&v1, &w1), dot(&v1, b));
            if !(rho1 > 0.0) {
                return Err(AmgError::NotPositive { level: m, value: rho1 });
            }
            let t1 = alpha1 / rho1;
            // The residual after the first step, b - t1 A v1, replaces A v1 in w1: the second step needs A v1 only
            // through gamma = v2' A v1 = v1' A v2 (A is symmetric), which A v2 gives.
            let rt = &mut w1;
            rt.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(b).for_each(|(r, &b)| *r = b - t1 * *r);
            if dot(rt, rt) <= self.options.kcycle_tolerance.powi(2) * dot(b, b) {
                e.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(&v1).for_each(|(e, &v)| *e = t1 * v);
                return Ok(());
            }
            self.cycle(a, m, rt, &mut v2, work)?;
            // w2 = A v2 goes into `e`, which is overwritten last.
            matrix.spmv(&v2, e);
            let (gamma, beta, alpha2) = (dot(&v1, e), dot(&v2, e), dot(&v2, rt));
            let rho2 = beta - gamma * gamma / rho1;
            if !(rho2 > 0.0) {
                return Err(AmgError::NotPositive { level: m, value: rho2 });
            }
            let (c1, c2) = (t1 - gamma * alpha2 / (rho1 * rho2), alpha2 / rho2);
            e.par_iter_mut()
                .with_min_len(PAR_MIN_LEN)
                .zip(&v1)
                .zip(&v2)
                .for_each(|((e, &v1), &v2)| *e = c1 * v1 + c2 * v2);
            Ok(())
        })();
        work[m].v1 = v1;
        work[m].w1 = w1;
        work[m].v2 = v2;
        result
    }
}

/// `sweeps` damped l1-Jacobi sweeps x += d (b - A x) (`d` the scaling w / l1 norm), each one pass over the matrix,
/// alternating between `x` and `scratch` (a Jacobi sweep cannot update in place); an odd count ends with one copy
/// back into `x`.
fn smooth(a: LevelMatrix, d: &[f32], b: &[f64], x: &mut [f64], scratch: &mut [f64], sweeps: usize) {
    for _ in 0..sweeps / 2 {
        a.rows_map(x, scratch, |i, ax| x[i] + f64::from(d[i]) * (b[i] - ax));
        a.rows_map(scratch, x, |i, ax| scratch[i] + f64::from(d[i]) * (b[i] - ax));
    }
    if sweeps % 2 == 1 {
        a.rows_map(x, scratch, |i, ax| x[i] + f64::from(d[i]) * (b[i] - ax));
        x.copy_from_slice(scratch);
    }
}

/// Per-level vectors of one cycle (allocated once per solve).
pub struct Workspace {
    levels: Vec<LevelWork>,
}

struct LevelWork {
    r: Vec<f64>,
    b: Vec<f64>,
    x: Vec<f64>,
    v1: Vec<f64>,
    w1: Vec<f64>,
    v2: Vec<f64>,
}

impl LevelWork {
    /// `residual` entries for r, `others` for the rest.
    fn new((residual, others): (usize, usize)) -> LevelWork {
        let v = || vec![0.0; others];
        LevelWork { r: vec![0.0; residual], b: v(), x: v(), v1: v(), w1: v(), v2: v() }
    }
}

fn scale(d: &[f32], b: &[f64], x: &mut [f64]) {
    x.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(d).zip(b).for_each(|((x, &d), &b)| *x = f64::from(d) * b);
}

/// b_c = P^T r: the sum over each aggregate's members (in row order, so the sum does not depend on threads).
fn restrict(level: &CoarseLevel, r: &[f64], bc: &mut [f64]) {
    bc.par_iter_mut().with_min_len(PAR_MIN_LEN).enumerate().for_each(|(c, out)| {
        *out = level.members.of(c).iter().map(|&i| r[i as usize]).sum();
    });
}

/// x += P e: each unknown gathers its aggregate's correction.
fn prolong_add(level: &CoarseLevel, e: &[f64], x: &mut [f64]) {
    let of = &level.aggregates.of;
    x.par_iter_mut().with_min_len(PAR_MIN_LEN).zip(of).for_each(|(x, &c)| *x += e[c as usize]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_laplacian_coarsens_about_fourfold_then_eightfold_per_level_to_a_direct_solve() {
        let a = CsrMatrix::laplacian_7point(30, 30, 30);
        let h = Hierarchy::new(&a, AmgOptions::default()).unwrap();
        let levels = h.levels();
        assert!(levels.len() >= 3, "{levels:?}");
        for (level, pair) in levels.windows(2).enumerate() {
            let ratio = pair[0].unknowns as f64 / pair[1].unknowns as f64;
            // Pairwise matching at most halves per pass: 2 passes from the finest level, 3 below it.
            let (low, high) = if level == 0 { (2.5, 4.0) } else { (4.5, 8.0) };
            assert!(ratio > low && ratio <= high, "coarsening {ratio} below level {level} in {levels:?}");
        }
        assert!(levels.last().unwrap().unknowns <= AmgOptions::default().coarse_size);
        assert!(h.operator_complexity() < 1.6, "{}", h.operator_complexity());
    }

    #[test]
    fn one_cycle_reduces_the_error_of_a_laplacian_by_a_mesh_independent_factor() {
        for n in [16, 32] {
            let a = CsrMatrix::laplacian_7point(n, n, n);
            let factor = reduction_per_cycle(&a, AmgOptions::default());
            println!("n = {n}: error reduction per cycle {factor:.3}");
            assert!(factor < 0.35, "n = {n}: {factor}");
        }
    }

    /// Error reduction per cycle of the stationary iteration x += B (b - A x) toward x = 0 from a rough start.
    fn reduction_per_cycle(a: &CsrMatrix, options: AmgOptions) -> f64 {
        let h = Hierarchy::new(a, options).unwrap();
        let mut work = h.workspace();
        let mut x: Vec<f64> = (0..a.nrows).map(|i| ((i * 7919) % 97) as f64 / 97.0 - 0.5).collect();
        let zero = vec![0.0; a.nrows];
        let (mut r, mut z) = (vec![0.0; a.nrows], vec![0.0; a.nrows]);
        let error = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>().sqrt();
        let start = error(&x);
        for _ in 0..5 {
            a.residual(&zero, &x, &mut r);
            h.apply(a, &r, &mut z, &mut work).unwrap();
            x.iter_mut().zip(&z).for_each(|(x, z)| *x += z);
        }
        (error(&x) / start).powf(1.0 / 5.0)
    }

    #[test]
    fn two_visits_per_coarse_level_reduce_the_error_more_than_one() {
        let v = AmgOptions { kcycle_levels: 0, coarse_visits: 1, ..AmgOptions::default() };
        let w = AmgOptions { coarse_visits: 2, ..v };
        let mut w_factors = Vec::new();
        for n in [16, 32] {
            let a = CsrMatrix::laplacian_7point(n, n, n);
            let (v_factor, w_factor) = (reduction_per_cycle(&a, v), reduction_per_cycle(&a, w));
            println!("n = {n}: error reduction per cycle V {v_factor:.3}, W {w_factor:.3}");
            assert!(w_factor < v_factor, "n = {n}: W {w_factor} vs V {v_factor}");
            w_factors.push(w_factor);
        }
        // Eight times the unknowns: the factor stays well below 1.
        assert!(w_factors[1] < 0.5 && w_factors[1] < w_factors[0] + 0.1, "{w_factors:?}");
    }

    #[test]
    fn a_matrix_without_strong_couplings_gets_a_single_smoothed_level() {
        // Diagonal: nothing to aggregate.
        let n = 5000;
        let a = CsrMatrix::from_triplets(n, &(0..n).map(|i| (i, i, 1.0 + i as f64)).collect::<Vec<_>>());
        let h = Hierarchy::new(&a, AmgOptions::default()).unwrap();
        assert_eq!(h.levels().len(), 1);
        let mut work = h.workspace();
        let b = vec![1.0; n];
        let mut z = vec![0.0; n];
        h.apply(&a, &b, &mut z, &mut work).unwrap();
        // On a diagonal matrix each damped l1-Jacobi sweep multiplies the error by (1 - w), from z = 0: k sweeps give
        // z = (1 - (1 - w)^k) / a_ii, to the f32 rounding of the stored scaling w / a_ii.
        let options = AmgOptions::default();
        let sweeps = options.fine_sweeps.pre + options.fine_sweeps.post;
        let reached = 1.0 - (1.0 - options.smoother_weight).powi(sweeps as i32);
        for (i, z) in z.iter().enumerate() {
            assert!((z * (1.0 + i as f64) - reached).abs() < 1e-6, "row {i}: {z}");
        }
    }
}
