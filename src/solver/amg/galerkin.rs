//! The Galerkin coarse operator P^T A P for a piecewise-constant prolongation (P has a single 1 per row, in the
//! column of the row's aggregate): entry (I, J) is the sum of a_ij over the rows i of aggregate I and the
//! columns j of aggregate J. No general sparse product is needed: each coarse row gathers its members' rows,
//! sums each aggregate's entries into one column and sorts the columns, in blocks of coarse rows in parallel.

use super::aggregates::{Aggregates, Members};
use crate::solver::sparse::{for_each_row_block, CsrMatrix, Entry};
use rayon::prelude::*;
use std::cell::RefCell;

/// Coarse rows per parallel task.
const BLOCK: usize = 512;

/// A block of consecutive rows of P^T A P: each row's length, then all their columns (sorted within a row) and
/// values.
pub struct RowBlock {
    pub first: usize,
    pub lengths: Vec<usize>,
    pub cols: Vec<u32>,
    pub values: Vec<f64>,
}

std::thread_local! {
    /// Per thread, for each aggregate: where the coarse row being built holds its column, or [`FREE`] (all free
    /// between rows). A dense table rather than a sort of the gathered entries, which took most of the setup.
    static SLOTS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

const FREE: u32 = u32::MAX;

/// The rows `rows` of P^T A P.
fn coarse_rows<V: Entry>(
    a: &CsrMatrix<V>,
    aggregates: &Aggregates,
    members: &Members,
    rows: std::ops::Range<usize>,
) -> RowBlock {
    let first = rows.start;
    let (mut lengths, mut cols, mut values) = (Vec::with_capacity(rows.len()), Vec::new(), Vec::new());
    let mut row: Vec<(u32, f64)> = Vec::new();
    SLOTS.with_borrow_mut(|slots| {
        if slots.len() < aggregates.count {
            slots.resize(aggregates.count, FREE);
        }
        for coarse in rows {
            // Entries summed into their aggregate's column in the order they are gathered, then sorted by column.
            row.clear();
            for &i in members.of(coarse) {
                let (c, v) = a.row(i as usize);
                for (&j, &v) in c.iter().zip(v) {
                    let (big_j, v) = (aggregates.of[j as usize], v.into());
                    match slots[big_j as usize] {
                        FREE => {
                            slots[big_j as usize] = row.len() as u32;
                            row.push((big_j, v));
                        }
                        k => row[k as usize].1 += v,
                    }
                }
            }
            for &(j, _) in &row {
                slots[j as usize] = FREE;
            }
            row.sort_unstable_by_key(|&(j, _)| j);
            cols.extend(row.iter().map(|&(j, _)| j));
            values.extend(row.iter().map(|&(_, v)| v));
            lengths.push(row.len());
        }
    });
    RowBlock { first, lengths, cols, values }
}

/// Hands the row blocks of P^T A P (P the aggregation `aggregates` of A's rows, `members` its members) to `visit`
/// in order, built a group of blocks at a time in parallel ([`for_each_row_block`]): a pass that reads the coarse
/// operator row by row need not store it.
pub fn for_each_coarse_row_block<V: Entry>(
    a: &CsrMatrix<V>,
    aggregates: &Aggregates,
    members: &Members,
    visit: impl FnMut(RowBlock),
) {
    for_each_row_block(aggregates.count, BLOCK, |rows| coarse_rows(a, aggregates, members, rows), visit);
}

/// P^T A P with P the aggregation `aggregates` of A's rows (`members` its members), summed in f64 and stored as
/// `C` (the AMG coarse levels: f32).
pub fn coarse_operator<V: Entry, C: Entry>(
    a: &CsrMatrix<V>,
    aggregates: &Aggregates,
    members: &Members,
) -> CsrMatrix<C> {
    let mut row_ptr = Vec::with_capacity(aggregates.count + 1);
    row_ptr.push(0);
    let (mut col_idx, mut values) = (Vec::new(), Vec::new());
    for_each_coarse_row_block(a, aggregates, members, |block| {
        for length in block.lengths {
            row_ptr.push(row_ptr.last().unwrap() + length);
        }
        col_idx.extend(block.cols);
        values.extend(block.values.into_iter().map(C::from_f64));
    });
    col_idx.shrink_to_fit();
    values.shrink_to_fit();
    CsrMatrix { nrows: aggregates.count, row_ptr, col_idx, values }
}

/// The diagonal of P^T A P: entry I sums a_ij over the members i and j of aggregate I.
pub fn coarse_diagonal<V: Entry>(a: &CsrMatrix<V>, aggregates: &Aggregates, members: &Members) -> Vec<f64> {
    (0..aggregates.count)
        .into_par_iter()
        .with_min_len(BLOCK)
        .map(|coarse| {
            let mut sum = 0.0;
            for &i in members.of(coarse) {
                let (c, v) = a.row(i as usize);
                sum += c
                    .iter()
                    .zip(v)
                    .filter(|(&j, _)| aggregates.of[j as usize] as usize == coarse)
                    .map(|(_, &v)| v.into())
                    .sum::<f64>();
            }
            sum
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_operator_is_p_transpose_a_p() {
        let a = CsrMatrix::laplacian_7point(4, 3, 2);
        let aggregates = Aggregates { of: (0..a.nrows as u32).map(|i| i / 3).collect(), count: a.nrows.div_ceil(3) };
        let coarse: CsrMatrix = coarse_operator(&a, &aggregates, &aggregates.members());
        // Against the definition, entry by entry: (P^T A P)_IJ = e_I^T P^T A P e_J.
        for big_i in 0..aggregates.count {
            for big_j in 0..aggregates.count {
                let mut want = 0.0;
                for i in 0..a.nrows {
                    for j in 0..a.nrows {
                        if aggregates.of[i] as usize == big_i && aggregates.of[j] as usize == big_j {
                            want += a.get(i, j);
                        }
                    }
                }
                assert_eq!(coarse.get(big_i, big_j), want, "({big_i}, {big_j})");
            }
        }
        // Sorted, unique columns per row.
        for i in 0..coarse.nrows {
            assert!(coarse.row(i).0.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
