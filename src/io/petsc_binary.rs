//! The reduced linear system in PETSc's binary format (`ionflux solve --export-system DIR --format petsc`), what
//! PETSc's `MatLoad` / `VecLoad` (and `PetscBinaryIO.py`, petsc4py) read: big-endian; a matrix is the header
//! [MAT_FILE_CLASSID, rows, columns, nonzeros], the row lengths, the column indices and the values; a vector
//! [VEC_FILE_CLASSID, length] and the values. The integers are 32-bit unless PETSc was configured with 64-bit
//! indices (`--petsc-64bit-indices`), then all of them, the class id included, are 64-bit. Written row by row
//! through a buffer: a 1e8-row system exports with no second copy in memory. The matrix is written whole (PETSc
//! loads AIJ matrices, symmetric or not, this way).

use super::{write_atomic_with, OutputError};
use crate::solver::sparse::CsrMatrix;
use std::io::Write;
use std::path::Path;

/// PETSc's class ids of a binary matrix and vector (petscmat.h, petscvec.h).
pub const MAT_FILE_CLASSID: i64 = 1_211_216;
pub const VEC_FILE_CLASSID: i64 = 1_211_214;

/// The width of PETSc's integers (`PetscInt`) in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IndexWidth {
    /// PETSc's default build (Debian's `petsc-dev` among them).
    #[default]
    Bits32,
    /// PETSc configured `--with-64-bit-indices`.
    Bits64,
}

impl IndexWidth {
    /// Writes `value` as a big-endian PetscInt; a value 32 bits cannot hold is an error naming the flag.
    fn put(self, out: &mut impl Write, value: usize, what: &str) -> std::io::Result<()> {
        match self {
            IndexWidth::Bits32 => {
                let value = i32::try_from(value).map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!(
                            "{what} {value} does not fit PETSc's 32-bit indices; export with --petsc-64bit-indices for \
                             a PETSc configured with 64-bit indices"
                        ),
                    )
                })?;
                out.write_all(&value.to_be_bytes())
            }
            IndexWidth::Bits64 => out.write_all(&(value as i64).to_be_bytes()),
        }
    }
}

/// Writes `a` as a PETSc binary matrix.
pub fn write_matrix(path: &Path, a: &CsrMatrix, width: IndexWidth) -> Result<(), OutputError> {
    write_atomic_with(path, |out| {
        width.put(out, MAT_FILE_CLASSID as usize, "the class id")?;
        width.put(out, a.nrows, "the row count")?;
        width.put(out, a.nrows, "the column count")?;
        width.put(out, a.nnz(), "the nonzero count")?;
        for i in 0..a.nrows {
            width.put(out, a.row_ptr[i + 1] - a.row_ptr[i], "a row length")?;
        }
        for &j in &a.col_idx {
            width.put(out, j as usize, "a column index")?;
        }
        for v in &a.values {
            out.write_all(&v.to_be_bytes())?;
        }
        Ok(())
    })
}

/// Writes `v` as a PETSc binary vector.
pub fn write_vector(path: &Path, v: &[f64], width: IndexWidth) -> Result<(), OutputError> {
    write_atomic_with(path, |out| {
        width.put(out, VEC_FILE_CLASSID as usize, "the class id")?;
        width.put(out, v.len(), "the vector length")?;
        for x in v {
            out.write_all(&x.to_be_bytes())?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Big-endian integers of `width` bytes from `bytes`, starting at `*at`.
    fn take_int(bytes: &[u8], at: &mut usize, width: usize) -> i64 {
        let value = bytes[*at..*at + width].iter().fold(0i64, |acc, &b| (acc << 8) | b as i64);
        *at += width;
        value
    }

    #[test]
    fn a_matrix_and_a_vector_have_petscs_layout_in_both_widths() {
        let a = CsrMatrix::laplacian_7point(3, 2, 2);
        let b: Vec<f64> = (0..a.nrows).map(|i| 0.5 + i as f64 / 3.0).collect();
        let dir = tempfile::tempdir().unwrap();
        for (width, bytes) in [(IndexWidth::Bits32, 4), (IndexWidth::Bits64, 8)] {
            write_matrix(&dir.path().join("A.petsc"), &a, width).unwrap();
            write_vector(&dir.path().join("b.petsc"), &b, width).unwrap();
            let file = std::fs::read(dir.path().join("A.petsc")).unwrap();
            let at = &mut 0;
            let header: Vec<i64> = (0..4).map(|_| take_int(&file, at, bytes)).collect();
            assert_eq!(header, [MAT_FILE_CLASSID, a.nrows as i64, a.nrows as i64, a.nnz() as i64]);
            let lengths: Vec<i64> = (0..a.nrows).map(|_| take_int(&file, at, bytes)).collect();
            let expected: Vec<i64> = a.row_ptr.windows(2).map(|w| (w[1] - w[0]) as i64).collect();
            assert_eq!(lengths, expected);
            let columns: Vec<i64> = (0..a.nnz()).map(|_| take_int(&file, at, bytes)).collect();
            assert!(columns.iter().zip(&a.col_idx).all(|(&c, &j)| c == j as i64));
            let values: Vec<f64> = file[*at..].chunks(8).map(|c| f64::from_be_bytes(c.try_into().unwrap())).collect();
            assert_eq!(values, a.values);
            let file = std::fs::read(dir.path().join("b.petsc")).unwrap();
            let at = &mut 0;
            assert_eq!([take_int(&file, at, bytes), take_int(&file, at, bytes)], [VEC_FILE_CLASSID, b.len() as i64]);
            let values: Vec<f64> = file[*at..].chunks(8).map(|c| f64::from_be_bytes(c.try_into().unwrap())).collect();
            assert_eq!(values, b);
        }
    }

    #[test]
    fn a_count_beyond_32_bits_is_an_error_naming_the_flag() {
        let mut out = Vec::new();
        let error = IndexWidth::Bits32.put(&mut out, 1 << 31, "the nonzero count").unwrap_err();
        assert!(error.to_string().contains("--petsc-64bit-indices"), "{error}");
        IndexWidth::Bits64.put(&mut out, 1 << 31, "the nonzero count").unwrap();
        assert_eq!(out, (1i64 << 31).to_be_bytes());
    }
}
