//! Benchmark problems and the bandwidth report of `ionflux bench`: CPU and GPU side by side, each
//! measured against a plain copy on the same device in the same run.

use crate::sparse::CsrMatrix;

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

/// `len` reproducible values in [-1, 1) from `seed` (SplitMix64), for benchmark and test inputs.
pub fn seeded_vector(len: usize, seed: u64) -> Vec<f64> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laplacian_rows_match_the_stencil() {
        let a = laplacian_7point(3, 4, 5);
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
