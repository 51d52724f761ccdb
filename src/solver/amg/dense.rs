//! The coarsest level's direct solve: a dense Cholesky factor, computed once in the setup.

use crate::solver::sparse::{CsrMatrix, Entry};

/// L with A = L L^T, row-major lower triangle of an n x n array, and L^T row-major too, so that both triangular
/// solves read rows contiguously.
#[derive(Debug, Clone)]
pub struct Cholesky {
    n: usize,
    l: Vec<f64>,
    lt: Vec<f64>,
}

impl Cholesky {
    /// The factor of a symmetric positive definite `a`; `Err(pivot)` names the first row whose pivot is not
    /// positive.
    pub fn new<V: Entry>(a: &CsrMatrix<V>) -> Result<Cholesky, usize> {
        let n = a.nrows;
        let mut l = vec![0.0; n * n];
        for i in 0..n {
            let (cols, values) = a.row(i);
            for (&j, &v) in cols.iter().zip(values) {
                if (j as usize) <= i {
                    l[i * n + j as usize] = v.into();
                }
            }
        }
        for j in 0..n {
            let pivot = l[j * n + j] - l[j * n..j * n + j].iter().map(|x| x * x).sum::<f64>();
            if !(pivot > 0.0) {
                return Err(j);
            }
            let d = pivot.sqrt();
            l[j * n + j] = d;
            let (upper, lower) = l.split_at_mut((j + 1) * n);
            let row_j = &upper[j * n..j * n + j];
            for i in j + 1..n {
                let row_i = &mut lower[(i - j - 1) * n..(i - j) * n];
                let s: f64 = row_i[..j].iter().zip(row_j).map(|(a, b)| a * b).sum();
                row_i[j] = (row_i[j] - s) / d;
            }
        }
        let mut lt = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                lt[j * n + i] = l[i * n + j];
            }
        }
        Ok(Cholesky { n, l, lt })
    }

    /// x = A^-1 b.
    pub fn solve(&self, b: &[f64], x: &mut [f64]) {
        let n = self.n;
        for i in 0..n {
            let s: f64 = self.l[i * n..i * n + i].iter().zip(&x[..i]).map(|(a, b)| a * b).sum();
            x[i] = (b[i] - s) / self.l[i * n + i];
        }
        for i in (0..n).rev() {
            let s: f64 = self.lt[i * n + i + 1..(i + 1) * n].iter().zip(&x[i + 1..]).map(|(a, b)| a * b).sum();
            x[i] = (x[i] - s) / self.lt[i * n + i];
        }
    }

    /// The dense inverse, row-major: the GPU's coarse solve is one product with it.
    pub fn inverse(&self) -> Vec<f64> {
        let n = self.n;
        let mut inverse = vec![0.0; n * n];
        let (mut unit, mut column) = (vec![0.0; n], vec![0.0; n]);
        for j in 0..n {
            unit.iter_mut().enumerate().for_each(|(i, v)| *v = if i == j { 1.0 } else { 0.0 });
            self.solve(&unit, &mut column);
            (0..n).for_each(|i| inverse[i * n + j] = column[i]);
        }
        inverse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_and_inverts_a_laplacian() {
        let a = CsrMatrix::laplacian_7point(5, 4, 3);
        let factor = Cholesky::new(&a).unwrap();
        let x_true: Vec<f64> = (0..a.nrows).map(|i| (i as f64 * 0.37).sin()).collect();
        let mut b = vec![0.0; a.nrows];
        a.spmv(&x_true, &mut b);
        let mut x = vec![0.0; a.nrows];
        factor.solve(&b, &mut x);
        for (got, want) in x.iter().zip(&x_true) {
            assert!((got - want).abs() < 1e-12, "{got} {want}");
        }
        let (inverse, n) = (factor.inverse(), a.nrows);
        for (i, want) in x_true.iter().enumerate() {
            let got: f64 = (0..n).map(|j| inverse[i * n + j] * b[j]).sum();
            assert!((got - want).abs() < 1e-12, "{got} {want}");
        }
    }

    #[test]
    fn an_indefinite_matrix_names_its_pivot() {
        let a = CsrMatrix::from_triplets(2, &[(0, 0, 1.0), (0, 1, 2.0), (1, 0, 2.0), (1, 1, 1.0)]);
        assert_eq!(Cholesky::new(&a).unwrap_err(), 1);
    }
}
