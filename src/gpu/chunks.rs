//! How a system is split under the storage-binding limit: vectors into aligned entry chunks (at most
//! [`MAX_X_BINDINGS`] of them, since the SpMV binds all of x), the matrix into row chunks whose columns and
//! values each fit one binding.

use super::real::Real;
use super::GpuError;
use crate::solver::sparse::{CsrMatrix, Entry};
use std::ops::Range;

/// SpMV gathers x at any column, so it binds the whole of x as this many consecutive chunks (x0..x3 in
/// shaders/spmv.wgsl): vectors may span at most four storage bindings. Four keeps the SpMV at eight
/// storage buffers, the WebGPU default of max_storage_buffers_per_shader_stage.
pub const MAX_X_BINDINGS: usize = 4;

/// Entries per vector chunk: as many as one binding holds, rounded down to a multiple of `granule` (the
/// entries per min_storage_buffer_offset_alignment) so every chunk's binding offset is aligned.
pub(crate) fn vector_chunk_len(real: Real, max_bytes: u64, granule: usize) -> Result<usize, GpuError> {
    let len = (max_bytes / real.bytes()) as usize / granule * granule;
    if len == 0 {
        return Err(GpuError::Backend(format!(
            "the {max_bytes}-byte storage binding limit is below the {}-byte offset alignment",
            granule as u64 * real.bytes()
        )));
    }
    Ok(len)
}

/// 0..n in pieces of `chunk_len`; an empty system still gets one (empty) piece, bound as its whole buffer.
pub(crate) fn split(n: usize, chunk_len: usize) -> Vec<Range<usize>> {
    (0..n.max(1)).step_by(chunk_len).map(|begin| begin..(begin + chunk_len).min(n)).collect()
}

/// Splits rows into chunks whose cols, values and row_ptr each need at most `max_bytes`, of at most
/// `max_rows` rows, every chunk but the last ending at a multiple of `row_granule` (so the next starts
/// there).
pub(crate) fn plan_chunks<V: Entry>(
    a: &CsrMatrix<V>,
    real: Real,
    max_bytes: u64,
    row_granule: usize,
    max_rows: usize,
) -> Result<Vec<Range<usize>>, GpuError> {
    let bytes_per_nonzero = real.bytes().max(4);
    let mut chunks = Vec::new();
    let mut begin = 0;
    while begin < a.nrows {
        let mut end = begin;
        while end < a.nrows && end - begin < max_rows {
            let nonzeros = (a.row_ptr[end + 1] - a.row_ptr[begin]) as u64;
            let row_ptr_bytes = (end + 2 - begin) as u64 * 4;
            if nonzeros * bytes_per_nonzero > max_bytes || row_ptr_bytes > max_bytes {
                break;
            }
            end += 1;
        }
        if end < a.nrows {
            end = begin + (end - begin) / row_granule * row_granule;
        }
        if end == begin {
            return Err(GpuError::Backend(format!(
                "rows {begin}..{} (one offset-alignment step) need more than the {max_bytes}-byte storage \
                 binding limit",
                begin + row_granule
            )));
        }
        chunks.push(begin..end);
        begin = end;
    }
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_the_binding_limit_and_cover_all_rows() {
        // 1D Laplacian: 3 nonzeros per interior row.
        let n = 1000;
        let mut triplets = Vec::new();
        for i in 0..n {
            triplets.push((i, i, 2.0));
            if i > 0 {
                triplets.push((i, i - 1, -1.0));
            }
            if i + 1 < n {
                triplets.push((i, i + 1, -1.0));
            }
        }
        let a = CsrMatrix::from_triplets(n, &triplets);
        let chunks = plan_chunks(&a, Real::F64, 1024, 1, usize::MAX).unwrap();
        assert_eq!(chunks.first().unwrap().start, 0);
        assert_eq!(chunks.last().unwrap().end, n);
        for pair in chunks.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        for rows in &chunks {
            assert!((a.row_ptr[rows.end] - a.row_ptr[rows.start]) * 8 <= 1024);
            // Greedy: one more row would not have fitted.
            if rows.end < n {
                assert!((a.row_ptr[rows.end + 1] - a.row_ptr[rows.start]) * 8 > 1024);
            }
        }
        assert!(chunks.len() >= (a.nnz() * 8).div_ceil(1024));
    }

    #[test]
    fn aligned_chunks_start_at_the_granule_and_fit_one_vector_chunk() {
        let a = CsrMatrix::laplacian_7point(10, 10, 10);
        let chunks = plan_chunks(&a, Real::F32, 4096, 64, 320).unwrap();
        assert_eq!(chunks.first().unwrap().start, 0);
        assert_eq!(chunks.last().unwrap().end, a.nrows);
        for pair in chunks.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
            assert_eq!(pair[1].start % 64, 0);
        }
        for rows in &chunks {
            assert!(rows.len() <= 320);
            assert!((a.row_ptr[rows.end] - a.row_ptr[rows.start]) * 4 <= 4096);
        }
        // 64 rows of 7 nonzeros need more than 256 bytes.
        assert!(plan_chunks(&a, Real::F32, 256, 64, 320).is_err());
    }

    #[test]
    fn vector_chunks_are_aligned_and_cover_every_entry() {
        // 1000 bytes hold 250 f32, rounded down to three granules of 64 (125 f64: three of 32).
        assert_eq!(vector_chunk_len(Real::F32, 1000, 64).unwrap(), 192);
        assert_eq!(vector_chunk_len(Real::F64, 1000, 32).unwrap(), 96);
        assert!(vector_chunk_len(Real::F32, 100, 64).is_err());
        assert_eq!(split(600, 256), vec![0..256, 256..512, 512..600]);
        assert_eq!(split(512, 256), vec![0..256, 256..512]);
        assert_eq!(split(0, 256), vec![0..0]);
    }
}
