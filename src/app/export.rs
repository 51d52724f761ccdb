//! `--export-system DIR`: a decorator around any solver that writes every system it is handed, so the
//! analyses' re-solves (lithiation steps, the voids' reference, paper mode) and Newton's steps are exported too,
//! not only the case's own system. The first system is `A.mtx`, `b.mtx`, `x.mtx`; the k-th after it `A_k.mtx`,
//! `b_k.mtx`, `x_k.mtx` (Matrix Market, `io::matrix_market`; `.petsc` in PETSc's binary format,
//! `io::petsc_binary`).

use crate::io::matrix_market::{write_symmetric_matrix, write_vector};
use crate::io::{petsc_binary, OutputError, SystemFormat};
use crate::solver::sparse::CsrMatrix;
use crate::solver::{CgOptions, CgReport, SolveError, SymmetricSolver};
use std::path::{Path, PathBuf};

/// Solves with `inner` and writes each system (matrix and right-hand side before the solve, the solution after a
/// successful one) into `dir`.
pub struct ExportingSolver<'a> {
    inner: Box<dyn SymmetricSolver + 'a>,
    dir: PathBuf,
    format: SystemFormat,
    /// Systems written so far.
    count: usize,
}

impl<'a> ExportingSolver<'a> {
    pub fn new(inner: Box<dyn SymmetricSolver + 'a>, dir: &Path, format: SystemFormat) -> ExportingSolver<'a> {
        ExportingSolver { inner, dir: dir.to_path_buf(), format, count: 0 }
    }

    /// The file of system number `count` (`A.mtx` for the first, `A_1.mtx` for the second, ...).
    fn file(&self, stem: &str) -> PathBuf {
        let extension = self.format.extension();
        match self.count {
            0 => self.dir.join(format!("{stem}.{extension}")),
            k => self.dir.join(format!("{stem}_{k}.{extension}")),
        }
    }

    fn write_matrix(&self, a: &CsrMatrix) -> Result<(), OutputError> {
        match self.format {
            SystemFormat::MatrixMarket => write_symmetric_matrix(&self.file("A"), a),
            SystemFormat::Petsc(width) => petsc_binary::write_matrix(&self.file("A"), a, width),
        }
    }

    fn write_vector(&self, stem: &str, what: &str, v: &[f64]) -> Result<(), OutputError> {
        match self.format {
            SystemFormat::MatrixMarket => write_vector(&self.file(stem), what, v),
            SystemFormat::Petsc(width) => petsc_binary::write_vector(&self.file(stem), v, width),
        }
    }
}

impl SymmetricSolver for ExportingSolver<'_> {
    fn solve(&mut self, a: &CsrMatrix, b: &[f64], x: &mut [f64], options: &CgOptions) -> Result<CgReport, SolveError> {
        let export = |error: OutputError| SolveError::Export(error.to_string());
        self.write_matrix(a).map_err(export)?;
        self.write_vector("b", "reduced right-hand side (A)", b).map_err(export)?;
        let report = self.inner.solve(a, b, x, options)?;
        self.write_vector("x", "solution of the reduced system (V)", x).map_err(export)?;
        self.count += 1;
        Ok(report)
    }

    fn reuse_setup(&mut self, reuse: bool) {
        self.inner.reuse_setup(reuse);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solver::cpu::CpuSolver;

    #[test]
    fn every_system_is_written_and_numbered() {
        let dir = tempfile::tempdir().unwrap();
        let a = CsrMatrix::laplacian_7point(4, 4, 4);
        let mut solver = ExportingSolver::new(Box::new(CpuSolver), dir.path(), SystemFormat::MatrixMarket);
        for scale in [1.0, 2.0, 3.0] {
            let b = vec![scale; a.nrows];
            let mut x = vec![0.0; a.nrows];
            solver.solve(&a, &b, &mut x, &CgOptions::default()).unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["A.mtx", "A_1.mtx", "A_2.mtx", "b.mtx", "b_1.mtx", "b_2.mtx", "x.mtx", "x_1.mtx", "x_2.mtx"]
        );
        // The third right-hand side is the third one written.
        let b2 = std::fs::read_to_string(dir.path().join("b_2.mtx")).unwrap();
        assert_eq!(b2.lines().nth(3).unwrap().parse::<f64>().unwrap(), 3.0);
    }
}
