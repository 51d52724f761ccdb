//! The reduced linear system in Matrix Market form (`ionflux solve --export-system DIR`), so another solver
//! (scipy, pyamg, PETSc) can check ours on exactly our numbers: `A.mtx` (coordinate, real, symmetric: the lower
//! triangle), `b.mtx` and `x.mtx` (array, real: the right-hand side and ionflux's solution) and `free_nodes.txt`
//! (the mesh node of each unknown, 0-based as in `solution.vtu`). Values carry 17 significant digits, so they
//! read back bit for bit.

use super::{write_atomic_with, OutputError};
use crate::solver::sparse::CsrMatrix;
use std::io::Write;
use std::path::Path;

/// Writes `a` (symmetric) as its lower triangle.
pub fn write_symmetric_matrix(path: &Path, a: &CsrMatrix) -> Result<(), OutputError> {
    let lower: usize = (0..a.nrows).map(|i| a.row(i).0.iter().filter(|&&j| j as usize <= i).count()).sum();
    write_atomic_with(path, |out| {
        writeln!(out, "%%MatrixMarket matrix coordinate real symmetric")?;
        writeln!(out, "% ionflux reduced system matrix (free nodes only; see free_nodes.txt)")?;
        writeln!(out, "{} {} {}", a.nrows, a.nrows, lower)?;
        for i in 0..a.nrows {
            let (cols, values) = a.row(i);
            for (&j, &v) in cols.iter().zip(values) {
                if j as usize <= i {
                    writeln!(out, "{} {} {:.16e}", i + 1, j + 1, v)?;
                }
            }
        }
        Ok(())
    })
}

/// Writes a dense column vector.
pub fn write_vector(path: &Path, what: &str, v: &[f64]) -> Result<(), OutputError> {
    write_atomic_with(path, |out| {
        writeln!(out, "%%MatrixMarket matrix array real general")?;
        writeln!(out, "% ionflux {what}")?;
        writeln!(out, "{} 1", v.len())?;
        for x in v {
            writeln!(out, "{x:.16e}")?;
        }
        Ok(())
    })
}

/// Writes the mesh node of each unknown, one per line.
pub fn write_free_nodes(path: &Path, free_nodes: &[u32]) -> Result<(), OutputError> {
    write_atomic_with(path, |out| {
        writeln!(out, "# mesh node (0-based, as in solution.vtu) of each unknown, in row order")?;
        for n in free_nodes {
            writeln!(out, "{n}")?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads back what [`write_symmetric_matrix`] wrote (a minimal reader for this test only).
    fn read_symmetric(text: &str) -> CsrMatrix {
        let mut lines = text.lines().filter(|l| !l.starts_with('%'));
        let n: usize = lines.next().unwrap().split_whitespace().next().unwrap().parse().unwrap();
        let mut triplets = Vec::new();
        for line in lines {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (i, j, v): (usize, usize, f64) = (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap());
            triplets.push((i - 1, j - 1, v));
            if i != j {
                triplets.push((j - 1, i - 1, v));
            }
        }
        CsrMatrix::from_triplets(n, &triplets)
    }

    #[test]
    fn a_matrix_reads_back_bit_for_bit_from_its_lower_triangle() {
        let a = CsrMatrix::laplacian_7point(4, 3, 2);
        // Symmetric values with all their digits, not only small integers.
        let triplets: Vec<(usize, usize, f64)> = (0..a.nrows)
            .flat_map(|i| {
                let (cols, values) = a.row(i);
                cols.iter()
                    .zip(values)
                    .map(move |(&j, &v)| (i, j as usize, v * (1.0 + ((i + j as usize) as f64).sqrt() * 1e-3)))
            })
            .collect();
        let a = CsrMatrix::from_triplets(a.nrows, &triplets);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("A.mtx");
        write_symmetric_matrix(&path, &a).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("%%MatrixMarket matrix coordinate real symmetric\n"));
        let back = read_symmetric(&text);
        assert_eq!(back.row_ptr, a.row_ptr);
        assert_eq!(back.col_idx, a.col_idx);
        assert!(back.values.iter().zip(&a.values).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}
