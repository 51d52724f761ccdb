//! Pairwise aggregation (Notay's AGMG, AmgX's SIZE_2 selector): each unaggregated unknown is paired with its
//! strongest unaggregated neighbour, where the strength of the coupling i-j is w_ij = -a_ij (1/a_ii + 1/a_jj) / 2
//! (positive couplings count as none) and only couplings at least `strength` times the row's strongest qualify.
//! Two such passes (the second on the Galerkin operator of the first) make aggregates of up to four unknowns,
//! about a fourfold coarsening per level.

use super::aggregates::Aggregates;
use super::galerkin::{coarse_diagonal, for_each_coarse_row_block};
use crate::solver::sparse::{CsrMatrix, Entry};

/// Marks an unknown not yet in an aggregate.
const FREE: u32 = u32::MAX;

/// The state of one matching pass: rows are visited in order, each free row pairs with its strongest free
/// neighbour.
struct Matching {
    /// 1 / a_ii, or 0 where a_ii <= 0 (such a row has no strong couplings).
    inverse_diagonal: Vec<f64>,
    strength: f64,
    of: Vec<u32>,
    count: u32,
    /// The visited row's coupling strengths (scratch).
    weights: Vec<f64>,
}

impl Matching {
    fn new(diagonal: Vec<f64>, strength: f64) -> Matching {
        let n = diagonal.len();
        let inverse_diagonal = diagonal.into_iter().map(|d| if d > 0.0 { 1.0 / d } else { 0.0 }).collect();
        Matching { inverse_diagonal, strength, of: vec![FREE; n], count: 0, weights: Vec::new() }
    }

    /// Row `i` (its columns and values): a new aggregate of it and its partner, unless it is taken.
    fn visit<V: Entry>(&mut self, i: usize, cols: &[u32], values: &[V]) {
        if self.of[i] != FREE {
            return;
        }
        // The strength of the coupling i-j with entry v (0 for a positive one or the diagonal).
        let inverse_i = self.inverse_diagonal[i];
        self.weights.clear();
        self.weights.extend(cols.iter().zip(values).map(|(&j, &v)| {
            let v: f64 = v.into();
            let inverse_j = self.inverse_diagonal[j as usize];
            if v < 0.0 && j as usize != i && inverse_i > 0.0 && inverse_j > 0.0 {
                -0.5 * v * (inverse_i + inverse_j)
            } else {
                0.0
            }
        }));
        let threshold = self.strength * self.weights.iter().copied().fold(0.0, f64::max);
        let partner = cols
            .iter()
            .zip(&self.weights)
            .filter(|&(&j, &w)| w > 0.0 && w >= threshold && self.of[j as usize] == FREE)
            .fold(None, |best: Option<(u32, f64)>, (&j, &w)| match best {
                Some((_, bw)) if bw >= w => best,
                _ => Some((j, w)),
            });
        self.of[i] = self.count;
        if let Some((j, _)) = partner {
            self.of[j as usize] = self.count;
        }
        self.count += 1;
    }

    fn finish(self) -> Aggregates {
        Aggregates { of: self.of, count: self.count as usize }
    }
}

/// One pass of pairwise matching on `a`, in row order (deterministic).
pub fn pair<V: Entry>(a: &CsrMatrix<V>, strength: f64) -> Aggregates {
    let mut matching = Matching::new(a.diagonal(), strength);
    for i in 0..a.nrows {
        let (cols, values) = a.row(i);
        matching.visit(i, cols, values);
    }
    matching.finish()
}

/// [`pair`] on the Galerkin operator P^T A P of `aggregates`, without storing it: its rows are built a group at
/// a time and matched as they come (the same aggregates as pairing the stored operator).
pub fn pair_coarse<V: Entry>(a: &CsrMatrix<V>, aggregates: &Aggregates, strength: f64) -> Aggregates {
    let members = aggregates.members();
    let mut matching = Matching::new(coarse_diagonal(a, aggregates, &members), strength);
    for_each_coarse_row_block(a, aggregates, &members, |block| {
        let mut start = 0;
        for (k, &length) in block.lengths.iter().enumerate() {
            let row = start..start + length;
            matching.visit(block.first + k, &block.cols[row.clone()], &block.values[row]);
            start += length;
        }
    });
    matching.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_follow_the_strongest_coupling_and_cover_every_row() {
        // A chain 0-1-2-3-4 with the couplings 1-2 and 3-4 strongest.
        let t = [
            (0, 0, 2.0),
            (0, 1, -1.0),
            (1, 0, -1.0),
            (1, 1, 4.0),
            (1, 2, -3.0),
            (2, 1, -3.0),
            (2, 2, 4.0),
            (2, 3, -1.0),
            (3, 2, -1.0),
            (3, 3, 4.0),
            (3, 4, -3.0),
            (4, 3, -3.0),
            (4, 4, 3.0),
        ];
        let a = CsrMatrix::from_triplets(5, &t);
        let agg = pair(&a, 0.25);
        // 0 pairs with 1 (its only neighbour), 2 then with 3, 4 alone.
        assert_eq!(agg.of, [0, 0, 1, 1, 2]);
        assert_eq!(agg.count, 3);
        let members = agg.members();
        assert_eq!(members.offsets, [0, 2, 4, 5]);
        assert_eq!(members.rows, [0, 1, 2, 3, 4]);
        let twice = agg.then(&Aggregates { of: vec![0, 0, 1], count: 2 });
        assert_eq!(twice.of, [0, 0, 0, 0, 1]);
    }

    #[test]
    fn positive_couplings_are_not_strong() {
        let a = CsrMatrix::from_triplets(2, &[(0, 0, 1.0), (0, 1, 0.5), (1, 0, 0.5), (1, 1, 1.0)]);
        assert_eq!(pair(&a, 0.25).count, 2);
    }

    #[test]
    fn pairing_the_streamed_galerkin_operator_equals_pairing_the_stored_one() {
        use crate::solver::amg::galerkin::coarse_operator;
        // Integer entries: every sum is exact, so both ways see the same numbers.
        let a = CsrMatrix::laplacian_7point(9, 8, 7);
        let first = pair(&a, 0.25);
        let members = first.members();
        let stored: CsrMatrix = coarse_operator(&a, &first, &members);
        assert_eq!(coarse_diagonal(&a, &first, &members), stored.diagonal());
        let streamed = pair_coarse(&a, &first, 0.25);
        assert_eq!(streamed, pair(&stored, 0.25));
        assert!(streamed.count * 3 < a.nrows, "two passes: {} of {}", streamed.count, a.nrows);
    }
}
