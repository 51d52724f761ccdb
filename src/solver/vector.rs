//! Dense vector kernels the solvers share: inner products that give the same bits on every run and thread count.

use crate::solver::sparse::PAR_MIN_LEN;

/// sum a_i b_i, the same to the last bit on every run and thread count: the halves are summed in parallel down to
/// leaves of at most [`PAR_MIN_LEN`] entries, so the association depends on the length only (a rayon `sum`
/// associates as its work stealing splits, which moved the solution's last digits from run to run).
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    if a.len() <= PAR_MIN_LEN {
        // Four accumulators, so consecutive additions do not wait on each other.
        let mut sums = [0.0; 4];
        let (quads_a, quads_b) = (a.chunks_exact(4), b.chunks_exact(4));
        let rest: f64 = quads_a.remainder().iter().zip(quads_b.remainder()).map(|(x, y)| x * y).sum();
        for (x, y) in quads_a.zip(quads_b) {
            for k in 0..4 {
                sums[k] += x[k] * y[k];
            }
        }
        return (sums[0] + sums[1]) + (sums[2] + sums[3]) + rest;
    }
    let mid = a.len() / 2;
    let (left, right) = rayon::join(|| dot(&a[..mid], &b[..mid]), || dot(&a[mid..], &b[mid..]));
    left + right
}

pub fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}
