//! Compressed sparse row matrices: the seam between the FEM world and the solver world.

use crate::solver::LinearOperator;
use rayon::prelude::*;

/// Rows shorter than this are processed serially: rayon's split overhead would dominate.
pub(crate) const PAR_MIN_LEN: usize = 4096;

/// Blocks per group of [`for_each_row_block`]: enough parallel tasks to balance the threads, few enough rows that
/// a group built twice (as blocks, then appended) costs little memory.
const GROUP_BLOCKS: usize = 64;

/// Hands `build(rows)` for the consecutive blocks of `block` rows of `0..rows` to `visit`, in row order. A group of
/// blocks is built in parallel, then visited, so that what is built block by block and then joined (a pattern, a
/// coarse operator) exists twice for one group only: blocks of a whole matrix, joined at the end, doubled its
/// size at the peak, and the freed blocks stayed in glibc's per-thread heaps (BENCHMARKS.md).
pub(crate) fn for_each_row_block<T: Send>(
    rows: usize,
    block: usize,
    build: impl Fn(std::ops::Range<usize>) -> T + Sync,
    mut visit: impl FnMut(T),
) {
    let firsts: Vec<usize> = (0..rows).step_by(block).collect();
    for group in firsts.chunks(GROUP_BLOCKS) {
        let built: Vec<T> = group.par_iter().map(|&first| build(first..(first + block).min(rows))).collect();
        built.into_iter().for_each(&mut visit);
    }
}

/// Rows per parallel task of [`CsrMatrix::spmv`]: large enough that task scheduling is negligible next to
/// the row loop, small enough to balance two to a few dozen threads on 10^4..10^7 rows.
const SPMV_BLOCK_ROWS: usize = 2048;

/// The type of a matrix's stored values: f64, or f32 where half the bytes matter more than the digits (the AMG
/// coarse levels). Products and sums are formed in f64 either way.
pub trait Entry: Copy + Default + PartialEq + std::fmt::Debug + Send + Sync + Into<f64> + 'static {
    /// `v` rounded to this type.
    fn from_f64(v: f64) -> Self;
}

impl Entry for f64 {
    fn from_f64(v: f64) -> f64 {
        v
    }
}

impl Entry for f32 {
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
}

/// sum_k vals[k] x[cols[k]], with two accumulators so consecutive additions do not wait on each other (a
/// single running sum makes SpMV latency-bound on the floating-point adder rather than memory-bound).
fn row_dot<V: Entry>(cols: &[u32], vals: &[V], x: &[f64]) -> f64 {
    let mut sums = [0.0; 2];
    let (col_pairs, val_pairs) = (cols.chunks_exact(2), vals.chunks_exact(2));
    let (col_rest, val_rest) = (col_pairs.remainder(), val_pairs.remainder());
    for (c, v) in col_pairs.zip(val_pairs) {
        sums[0] += v[0].into() * x[c[0] as usize];
        sums[1] += v[1].into() * x[c[1] as usize];
    }
    let rest: f64 = col_rest.iter().zip(val_rest).map(|(&c, &v)| v.into() * x[c as usize]).sum();
    sums[0] + sums[1] + rest
}

/// A square CSR matrix with u32 column indices (sorted within each row) and values of type `V` (f64 unless
/// said otherwise).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CsrMatrix<V = f64> {
    pub nrows: usize,
    pub row_ptr: Vec<usize>,
    pub col_idx: Vec<u32>,
    pub values: Vec<V>,
}

impl<V: Entry> CsrMatrix<V> {
    pub fn nnz(&self) -> usize {
        self.col_idx.len()
    }

    pub fn row(&self, i: usize) -> (&[u32], &[V]) {
        let r = self.row_ptr[i]..self.row_ptr[i + 1];
        (&self.col_idx[r.clone()], &self.values[r])
    }

    /// Entry (i, j), zero if not stored.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        let (cols, vals) = self.row(i);
        cols.binary_search(&(j as u32)).map(|k| vals[k].into()).unwrap_or(0.0)
    }

    pub fn diagonal(&self) -> Vec<f64> {
        (0..self.nrows).map(|i| self.get(i, i)).collect()
    }

    /// y = A x, blocks of rows in parallel.
    pub fn spmv(&self, x: &[f64], y: &mut [f64]) {
        self.rows_map(x, y, |_, ax| ax);
    }

    /// r = b - A x, in one pass over the matrix.
    pub fn residual(&self, b: &[f64], x: &[f64], r: &mut [f64]) {
        assert_eq!(b.len(), self.nrows);
        self.rows_map(x, r, |i, ax| b[i] - ax);
    }

    /// y_i = f(i, (A x)_i) for every row, blocks of rows in parallel: a product fused with what follows it.
    pub fn rows_map(&self, x: &[f64], y: &mut [f64], f: impl Fn(usize, f64) -> f64 + Sync) {
        self.rows_update(x, y, |i, ax, _| f(i, ax));
    }

    /// y_i = f(i, (A x)_i, y_i): [`CsrMatrix::rows_map`] given each row's old value, so that an update such as
    /// y = A x - beta y needs no second vector.
    pub fn rows_update(&self, x: &[f64], y: &mut [f64], f: impl Fn(usize, f64, f64) -> f64 + Sync) {
        assert_eq!(x.len(), self.nrows);
        assert_eq!(y.len(), self.nrows);
        y.par_chunks_mut(SPMV_BLOCK_ROWS).enumerate().for_each(|(block, y_block)| {
            let first = block * SPMV_BLOCK_ROWS;
            let row_ptr = &self.row_ptr[first..=first + y_block.len()];
            for (k, (yi, bounds)) in y_block.iter_mut().zip(row_ptr.windows(2)).enumerate() {
                let ax = row_dot(&self.col_idx[bounds[0]..bounds[1]], &self.values[bounds[0]..bounds[1]], x);
                *yi = f(first + k, ax, *yi);
            }
        });
    }
}

impl CsrMatrix {
    /// 1 / diagonal, the Jacobi preconditioner of both solvers (1 where the diagonal is zero).
    pub fn inverse_diagonal(&self) -> Vec<f64> {
        self.diagonal().iter().map(|&d| if d != 0.0 { 1.0 / d } else { 1.0 }).collect()
    }

    /// The 7-point Laplacian of an nx x ny x nz grid of interior nodes with the Dirichlet boundary nodes
    /// eliminated: 6 on the diagonal, -1 to each interior neighbour (SPD). Node (i, j, k) is i + nx (j + ny k).
    pub fn laplacian_7point(nx: usize, ny: usize, nz: usize) -> CsrMatrix {
        let n = nx * ny * nz;
        let mut row_ptr = Vec::with_capacity(n + 1);
        let mut col_idx = Vec::with_capacity(7 * n);
        let mut values = Vec::with_capacity(7 * n);
        row_ptr.push(0);
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let node = i + nx * (j + ny * k);
                    // Neighbours in increasing column order keep each row sorted.
                    let neighbours = [
                        (k > 0).then(|| node - nx * ny),
                        (j > 0).then(|| node - nx),
                        (i > 0).then(|| node - 1),
                        Some(node),
                        (i + 1 < nx).then(|| node + 1),
                        (j + 1 < ny).then(|| node + nx),
                        (k + 1 < nz).then(|| node + nx * ny),
                    ];
                    for column in neighbours.into_iter().flatten() {
                        col_idx.push(column as u32);
                        values.push(if column == node { 6.0 } else { -1.0 });
                    }
                    row_ptr.push(col_idx.len());
                }
            }
        }
        CsrMatrix { nrows: n, row_ptr, col_idx, values }
    }

    /// Build from (row, col, value) triplets, summing duplicates.
    pub fn from_triplets(nrows: usize, triplets: &[(usize, usize, f64)]) -> Self {
        let mut sorted = triplets.to_vec();
        sorted.sort_by_key(|&(i, j, _)| (i, j));
        let mut row_ptr = vec![0usize; nrows + 1];
        let mut col_idx = Vec::with_capacity(sorted.len());
        let mut values: Vec<f64> = Vec::with_capacity(sorted.len());
        let mut last: Option<(usize, usize)> = None;
        for (i, j, v) in sorted {
            assert!(i < nrows && j < nrows, "triplet ({i}, {j}) outside a {nrows}x{nrows} matrix");
            if last == Some((i, j)) {
                *values.last_mut().unwrap() += v;
            } else {
                col_idx.push(j as u32);
                values.push(v);
                row_ptr[i + 1] += 1;
                last = Some((i, j));
            }
        }
        for i in 0..nrows {
            row_ptr[i + 1] += row_ptr[i];
        }
        CsrMatrix { nrows, row_ptr, col_idx, values }
    }
}

impl LinearOperator for CsrMatrix {
    fn nrows(&self) -> usize {
        self.nrows
    }
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        self.spmv(x, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triplets_sum_duplicates_and_spmv() {
        let a = CsrMatrix::from_triplets(
            3,
            &[(0, 0, 2.0), (0, 1, -1.0), (1, 0, -1.0), (1, 1, 1.0), (1, 1, 1.0), (2, 2, 3.0)],
        );
        assert_eq!(a.nnz(), 5);
        assert_eq!(a.get(1, 1), 2.0);
        assert_eq!(a.get(2, 0), 0.0);
        let mut y = vec![0.0; 3];
        a.spmv(&[1.0, 2.0, 3.0], &mut y);
        assert_eq!(y, vec![0.0, 3.0, 9.0]);
    }
}
