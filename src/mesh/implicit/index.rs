//! A uniform bucket grid over the box: each cell lists the surfaces that matter inside it, so the size field at a
//! point and the cut of a tet look only at nearby surfaces. That keeps the mesher's cost independent of how many
//! hot spots the interface carries.

use glam::DVec3;
use rayon::prelude::*;

/// The most cells a grid gets (its offsets cost 4 bytes each).
const MAX_CELLS: usize = 1 << 21;

/// An axis-aligned box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Aabb {
    pub lo: DVec3,
    pub hi: DVec3,
}

impl Aabb {
    pub fn center(&self) -> DVec3 {
        0.5 * (self.lo + self.hi)
    }

    /// Half the diagonal: every point of the box is this close to its centre.
    pub fn radius(&self) -> f64 {
        0.5 * (self.hi - self.lo).length()
    }
}

/// Cells of edge `cell` (per axis: the box length over the cell count) listing item indices in CSR form.
#[derive(Debug, Clone)]
pub(super) struct BucketGrid {
    lo: DVec3,
    cell: DVec3,
    dims: [usize; 3],
    offsets: Vec<u32>,
    items: Vec<u32>,
    /// Per listed item, the rank `keep` gave it in that cell.
    ranks: Vec<f64>,
    /// Entries listed in cells [0, i) x [0, j) x [0, k), at (i, j, k) of a (dims + 1)^3 array: the count in any
    /// block of cells in eight reads.
    prefix: Vec<u32>,
}

impl BucketGrid {
    /// A grid over [lo, hi] with cells of edge about `cell_edge` (coarser if the box would need more than
    /// [`MAX_CELLS`]). Item `i` is listed in every cell of `bounds(i)` (a box; clipped to the grid) for which
    /// `keep(i, cell box)` gives a rank (a number >= 0), in ascending rank (then item) order in each cell, whatever
    /// the thread count.
    pub fn build(
        lo: DVec3,
        hi: DVec3,
        cell_edge: f64,
        count: usize,
        bounds: impl Fn(usize) -> Aabb + Sync,
        keep: impl Fn(usize, &Aabb) -> Option<f64> + Sync,
    ) -> BucketGrid {
        let size = hi - lo;
        let mut edge = cell_edge.max(size.max_element() / 1024.0);
        let cells_at = |edge: f64| size.to_array().map(|l| ((l / edge).ceil() as usize).clamp(1, 1024));
        while cells_at(edge).iter().product::<usize>() > MAX_CELLS {
            edge *= 1.25;
        }
        let dims = cells_at(edge);
        let cell = DVec3::new(size.x / dims[0] as f64, size.y / dims[1] as f64, size.z / dims[2] as f64);
        let mut grid = BucketGrid {
            lo,
            cell,
            dims,
            offsets: Vec::new(),
            items: Vec::new(),
            ranks: Vec::new(),
            prefix: Vec::new(),
        };
        // (cell, rank, item) triples, found per item in parallel, then sorted: deterministic and independent of
        // threads. Ranks are >= 0, so their bits sort as they do.
        let mut pairs: Vec<(u32, u64, u32)> = (0..count)
            .into_par_iter()
            .flat_map_iter(|item| {
                let b = bounds(item);
                let (first, last) = (grid.cell_coords(b.lo), grid.cell_coords(b.hi));
                let grid = &grid;
                let keep = &keep;
                (first[2]..=last[2]).flat_map(move |k| {
                    (first[1]..=last[1]).flat_map(move |j| {
                        (first[0]..=last[0]).filter_map(move |i| {
                            let c = [i, j, k];
                            let rank = keep(item, &grid.cell_box(c))?;
                            Some((grid.cell_index(c) as u32, rank.max(0.0).to_bits(), item as u32))
                        })
                    })
                })
            })
            .collect();
        pairs.par_sort_unstable();
        let cells = dims.iter().product::<usize>();
        let mut offsets = vec![0u32; cells + 1];
        for &(c, _, _) in &pairs {
            offsets[c as usize + 1] += 1;
        }
        for c in 0..cells {
            offsets[c + 1] += offsets[c];
        }
        grid.offsets = offsets;
        grid.ranks = pairs.par_iter().map(|&(_, rank, _)| f64::from_bits(rank)).collect();
        grid.items = pairs.into_par_iter().map(|(_, _, item)| item).collect();
        grid.prefix = grid.prefix_counts();
        grid
    }

    fn prefix_index(&self, i: usize, j: usize, k: usize) -> usize {
        i + (self.dims[0] + 1) * (j + (self.dims[1] + 1) * k)
    }

    fn prefix_counts(&self) -> Vec<u32> {
        let [nx, ny, nz] = self.dims;
        let mut prefix = vec![0u32; (nx + 1) * (ny + 1) * (nz + 1)];
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let c = self.cell_index([i, j, k]);
                    let count = self.offsets[c + 1] - self.offsets[c];
                    let at = |a: usize, b: usize, d: usize| prefix[self.prefix_index(a, b, d)];
                    prefix[self.prefix_index(i + 1, j + 1, k + 1)] =
                        count + at(i, j + 1, k + 1) + at(i + 1, j, k + 1) + at(i + 1, j + 1, k)
                            - at(i, j, k + 1)
                            - at(i, j + 1, k)
                            - at(i + 1, j, k)
                            + at(i, j, k);
                }
            }
        }
        prefix
    }

    /// Whether any cell overlapping `b` lists an item (from the prefix counts: cheap for any box).
    pub fn any_in(&self, b: &Aabb) -> bool {
        let (first, last) = (self.cell_coords(b.lo), self.cell_coords(b.hi));
        let (i0, j0, k0) = (first[0], first[1], first[2]);
        let (i1, j1, k1) = (last[0] + 1, last[1] + 1, last[2] + 1);
        let at = |i: usize, j: usize, k: usize| self.prefix[self.prefix_index(i, j, k)] as i64;
        let count = at(i1, j1, k1) - at(i0, j1, k1) - at(i1, j0, k1) - at(i1, j1, k0)
            + at(i0, j0, k1)
            + at(i0, j1, k0)
            + at(i1, j0, k0)
            - at(i0, j0, k0);
        count > 0
    }

    /// The number of cells overlapping `b`.
    pub fn cells_in(&self, b: &Aabb) -> usize {
        let (first, last) = (self.cell_coords(b.lo), self.cell_coords(b.hi));
        (0..3).map(|a| last[a] - first[a] + 1).product()
    }

    fn cell_coords(&self, x: DVec3) -> [usize; 3] {
        std::array::from_fn(|a| {
            // Truncation is the floor for t > 0 (and `f64::floor` is a library call on baseline x86-64).
            let t = (x[a] - self.lo[a]) / self.cell[a];
            if t > 0.0 {
                (t as usize).min(self.dims[a] - 1)
            } else {
                0
            }
        })
    }

    fn cell_index(&self, c: [usize; 3]) -> usize {
        c[0] + self.dims[0] * (c[1] + self.dims[1] * c[2])
    }

    fn cell_box(&self, c: [usize; 3]) -> Aabb {
        let lo = self.lo + DVec3::new(c[0] as f64, c[1] as f64, c[2] as f64) * self.cell;
        Aabb { lo, hi: lo + self.cell }
    }

    /// The items listed in the cell holding `x`, and their ranks there (ascending).
    pub fn ranked_at(&self, x: DVec3) -> (&[u32], &[f64]) {
        let c = self.cell_index(self.cell_coords(x));
        let range = self.offsets[c] as usize..self.offsets[c + 1] as usize;
        (&self.items[range.clone()], &self.ranks[range])
    }

    /// Calls `f` with the items listed in every cell overlapping `b` (an item listed in several cells comes
    /// once per cell).
    pub fn for_each_overlapping(&self, b: &Aabb, mut f: impl FnMut(u32)) {
        let (first, last) = (self.cell_coords(b.lo), self.cell_coords(b.hi));
        for k in first[2]..=last[2] {
            for j in first[1]..=last[1] {
                for i in first[0]..=last[0] {
                    let c = self.cell_index([i, j, k]);
                    self.items[self.offsets[c] as usize..self.offsets[c + 1] as usize].iter().for_each(|&item| f(item));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_land_in_the_cells_their_test_accepts() {
        let (lo, hi) = (DVec3::ZERO, DVec3::new(4.0, 2.0, 1.0));
        // Items are points; a cell keeps the points inside it.
        let points = [DVec3::new(0.1, 0.1, 0.1), DVec3::new(3.9, 1.9, 0.9), DVec3::new(2.0, 1.0, 0.5)];
        let grid = BucketGrid::build(
            lo,
            hi,
            0.5,
            points.len(),
            |i| Aabb { lo: points[i] - 0.01, hi: points[i] + 0.01 },
            |i, b| (0..3).all(|a| points[i][a] >= b.lo[a] && points[i][a] < b.hi[a]).then_some(0.0),
        );
        for (i, &p) in points.iter().enumerate() {
            assert_eq!(grid.ranked_at(p).0, [i as u32]);
        }
        assert!(grid.ranked_at(DVec3::new(1.0, 0.2, 0.7)).0.is_empty());
        let mut found = Vec::new();
        grid.for_each_overlapping(&Aabb { lo, hi }, |i| found.push(i));
        found.sort_unstable();
        assert_eq!(found, [0, 1, 2]);
        // Outside the grid: the nearest cell.
        assert_eq!(grid.ranked_at(DVec3::new(-1.0, -1.0, -1.0)).0, [0]);
        // Block counts agree with the lists.
        assert!(grid.any_in(&Aabb { lo, hi }));
        assert!(grid.any_in(&Aabb { lo: DVec3::new(1.9, 0.9, 0.4), hi: DVec3::new(2.1, 1.1, 0.6) }));
        assert!(!grid.any_in(&Aabb { lo: DVec3::new(0.6, 0.6, 0.1), hi: DVec3::new(1.4, 0.9, 0.4) }));
        assert_eq!(grid.cells_in(&Aabb { lo, hi }), 8 * 4 * 2);
    }

    #[test]
    fn a_cell_lists_its_items_by_rank_then_index() {
        let (lo, hi) = (DVec3::ZERO, DVec3::ONE);
        // Four items over the whole box, ranked 2, 1, 2, 0: in every cell, 3 (0), 1 (1), then 0 and 2 (2).
        let ranks = [2.0, 1.0, 2.0, 0.0];
        let grid = BucketGrid::build(lo, hi, 0.5, ranks.len(), |_| Aabb { lo, hi }, |i, _| Some(ranks[i]));
        for x in [DVec3::splat(0.1), DVec3::splat(0.9)] {
            assert_eq!(grid.ranked_at(x), (&[3, 1, 0, 2][..], &[0.0, 1.0, 2.0, 2.0][..]));
        }
    }
}
