//! Pairwise aggregation (Notay's AGMG, AmgX's SIZE_2 selector): each unaggregated unknown is paired with its
//! strongest unaggregated neighbour, where the strength of the coupling i-j is w_ij = -a_ij (1/a_ii + 1/a_jj) / 2
//! (positive couplings count as none) and only couplings at least `strength` times the row's strongest qualify.
//! Two such passes (the second on the Galerkin operator of the first) make aggregates of up to four unknowns,
//! about a fourfold coarsening per level.

use crate::solver::sparse::CsrMatrix;

/// Marks an unknown not yet in an aggregate.
const FREE: u32 = u32::MAX;

/// One aggregate index per row (aggregates numbered 0..count in order of their first member) and the count.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregates {
    pub of: Vec<u32>,
    pub count: usize,
}

impl Aggregates {
    /// The composition: row i's aggregate is `coarser.of[self.of[i]]`.
    pub fn then(&self, coarser: &Aggregates) -> Aggregates {
        Aggregates { of: self.of.iter().map(|&a| coarser.of[a as usize]).collect(), count: coarser.count }
    }

    /// Members of each aggregate (CSR: offsets, rows ascending within each aggregate).
    pub fn members(&self) -> (Vec<u32>, Vec<u32>) {
        let mut offsets = vec![0u32; self.count + 1];
        for &a in &self.of {
            offsets[a as usize + 1] += 1;
        }
        for i in 0..self.count {
            offsets[i + 1] += offsets[i];
        }
        let mut next = offsets.clone();
        let mut rows = vec![0u32; self.of.len()];
        for (i, &a) in self.of.iter().enumerate() {
            rows[next[a as usize] as usize] = i as u32;
            next[a as usize] += 1;
        }
        (offsets, rows)
    }
}

/// One pass of pairwise matching on `a`, in row order (deterministic).
pub fn pair(a: &CsrMatrix, strength: f64) -> Aggregates {
    let n = a.nrows;
    let diagonal = a.diagonal();
    let weight = |i: usize, j: u32, value: f64| -> f64 {
        let (di, dj) = (diagonal[i], diagonal[j as usize]);
        if value < 0.0 && di > 0.0 && dj > 0.0 {
            -0.5 * value * (1.0 / di + 1.0 / dj)
        } else {
            0.0
        }
    };
    let mut of = vec![FREE; n];
    let mut count = 0u32;
    for i in 0..n {
        if of[i] != FREE {
            continue;
        }
        let (cols, values) = a.row(i);
        let strongest = cols
            .iter()
            .zip(values)
            .filter(|(&j, _)| j as usize != i)
            .map(|(&j, &v)| weight(i, j, v))
            .fold(0.0, f64::max);
        let partner = cols
            .iter()
            .zip(values)
            .filter(|(&j, _)| j as usize != i && of[j as usize] == FREE)
            .map(|(&j, &v)| (j, weight(i, j, v)))
            .filter(|&(_, w)| w > 0.0 && w >= strength * strongest)
            .fold(None, |best: Option<(u32, f64)>, (j, w)| match best {
                Some((_, bw)) if bw >= w => best,
                _ => Some((j, w)),
            });
        of[i] = count;
        if let Some((j, _)) = partner {
            of[j as usize] = count;
        }
        count += 1;
    }
    Aggregates { of, count: count as usize }
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
        let (offsets, rows) = agg.members();
        assert_eq!(offsets, [0, 2, 4, 5]);
        assert_eq!(rows, [0, 1, 2, 3, 4]);
        let twice = agg.then(&Aggregates { of: vec![0, 0, 1], count: 2 });
        assert_eq!(twice.of, [0, 0, 0, 0, 1]);
    }

    #[test]
    fn positive_couplings_are_not_strong() {
        let a = CsrMatrix::from_triplets(2, &[(0, 0, 1.0), (0, 1, 0.5), (1, 0, 0.5), (1, 1, 1.0)]);
        assert_eq!(pair(&a, 0.25).count, 2);
    }
}
