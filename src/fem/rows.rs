//! Two-phase parallel row assembly: the CSR pattern first (node adjacency through shared tets, sorted
//! columns, one block of rows per task), then the values, each row filled by the one thread that owns it (no
//! float atomics, no per-element matrix storage: a row recomputes the element rows it needs). Memory stays
//! O(nnz). The reduced system (`fem::assemble`), the reaction rows (`fem::FluxRecovery`) and the full stiffness
//! matrix are each a choice of row nodes and column numbering over these rows.

use super::element::{barycentric_gradients, element_load};
use super::Source;
use crate::mesh::{InterfaceFace, Mesh};
use crate::solver::sparse::{for_each_row_block, CsrMatrix};
use rayon::prelude::*;
use std::sync::Mutex;

/// Marks a node that has no column in the matrix being built (a Dirichlet node of the reduced system).
pub(super) const NO_COLUMN: u32 = u32::MAX;

/// The tets incident to each node (CSR layout).
pub(crate) struct NodeTets {
    offsets: Vec<usize>,
    tets: Vec<u32>,
}

impl NodeTets {
    pub(crate) fn new(mesh: &Mesh) -> Self {
        Self::listing(mesh, |_| true)
    }

    /// The tets of `nodes` only (every other node lists none): what filling those nodes' rows needs. For the
    /// Dirichlet nodes' reaction rows this is a few bytes per node instead of the full table's ~90.
    pub(crate) fn of_nodes(mesh: &Mesh, nodes: &[u32]) -> Self {
        let mut listed = vec![false; mesh.nodes.len()];
        for &n in nodes {
            listed[n as usize] = true;
        }
        Self::listing(mesh, |n| listed[n as usize])
    }

    fn listing(mesh: &Mesh, listed: impl Fn(u32) -> bool) -> Self {
        let mut offsets = vec![0usize; mesh.nodes.len() + 1];
        for tet in &mesh.tets {
            for &n in tet.iter().filter(|&&n| listed(n)) {
                offsets[n as usize + 1] += 1;
            }
        }
        for i in 0..mesh.nodes.len() {
            offsets[i + 1] += offsets[i];
        }
        let mut next = offsets.clone();
        let mut tets = vec![0u32; offsets[mesh.nodes.len()]];
        for (t, tet) in mesh.tets.iter().enumerate() {
            for &n in tet.iter().filter(|&&n| listed(n)) {
                tets[next[n as usize]] = t as u32;
                next[n as usize] += 1;
            }
        }
        NodeTets { offsets, tets }
    }

    pub(crate) fn of(&self, node: usize) -> &[u32] {
        &self.tets[self.offsets[node]..self.offsets[node + 1]]
    }
}

/// The internal resistive interfaces as assembly sees them: each face's area and conductance 1/R, and the
/// faces incident to each node (CSR layout) as (face, side: 0 below / 1 above, corner).
pub(super) struct InterfaceCoupling<'a> {
    faces: &'a [InterfaceFace],
    area: Vec<f64>,
    conductance: Vec<f64>,
    offsets: Vec<usize>,
    incident: Vec<(u32, u8, u8)>,
}

impl<'a> InterfaceCoupling<'a> {
    /// The coupling of `mesh`'s resistive interfaces; None without any (the table would cost two words per node).
    pub(super) fn of_mesh(mesh: &'a Mesh, interface_resistance: &[f64]) -> Option<Self> {
        (!mesh.interface_faces.is_empty()).then(|| InterfaceCoupling::new(mesh, interface_resistance))
    }

    fn new(mesh: &'a Mesh, interface_resistance: &[f64]) -> Self {
        let faces = &mesh.interface_faces;
        let sides = |f: &InterfaceFace| [f.below, f.above];
        let mut offsets = vec![0usize; mesh.nodes.len() + 1];
        for n in faces.iter().flat_map(sides).flatten() {
            offsets[n as usize + 1] += 1;
        }
        for i in 0..mesh.nodes.len() {
            offsets[i + 1] += offsets[i];
        }
        let mut next = offsets.clone();
        let mut incident = vec![(0, 0, 0); offsets[mesh.nodes.len()]];
        for (i, face) in faces.iter().enumerate() {
            for (side, nodes) in sides(face).into_iter().enumerate() {
                for (corner, n) in nodes.into_iter().enumerate() {
                    incident[next[n as usize]] = (i as u32, side as u8, corner as u8);
                    next[n as usize] += 1;
                }
            }
        }
        InterfaceCoupling {
            faces,
            area: faces.iter().map(|f| mesh.interface_area(f)).collect(),
            conductance: interface_resistance.iter().map(|r| 1.0 / r).collect(),
            offsets,
            incident,
        }
    }

    fn of(&self, node: usize) -> &[(u32, u8, u8)] {
        &self.incident[self.offsets[node]..self.offsets[node + 1]]
    }

    /// The row of (1/R) integral (phi_above - phi_below)(v_above - v_below) for the test function at
    /// `corner` on `side` of `face`: (node, entry) for the face's six nodes.
    fn row(&self, face: u32, side: u8, corner: u8) -> impl Iterator<Item = (u32, f64)> + '_ {
        let f = &self.faces[face as usize];
        let (area, conductance) = (self.area[face as usize], self.conductance[f.tag as usize]);
        [f.below, f.above].into_iter().enumerate().flat_map(move |(other_side, nodes)| {
            let sign = if other_side == side as usize { 1.0 } else { -1.0 };
            nodes
                .into_iter()
                .enumerate()
                .map(move |(b, n)| (n, sign * conductance * face_mass(area, corner as usize, b)))
        })
    }
}

/// Rows of a sparse matrix over a chosen set of row nodes and a column numbering of nodes.
#[derive(Debug, Clone)]
pub(super) struct SparseRows {
    pub(super) row_ptr: Vec<usize>,
    pub(super) col_idx: Vec<u32>,
    pub(super) values: Vec<f64>,
}

/// What one assembly pass needs to fill rows: mesh, coefficients, the column numbering, and the
/// potentials that lift non-column nodes into the right-hand side.
pub(super) struct RowAssembler<'a> {
    pub(super) mesh: &'a Mesh,
    pub(super) incidence: &'a NodeTets,
    pub(super) region_coefficient: &'a [f64],
    pub(super) column_of: &'a [u32],
    pub(super) fixed_potential: Option<&'a [f64]>,
    pub(super) source: Option<&'a Source>,
    pub(super) interfaces: Option<&'a InterfaceCoupling<'a>>,
}

impl RowAssembler<'_> {
    /// Appends the sorted, unique columns of row `row` (of `node`) to `cols`. `seen` holds, per column, the last
    /// row (plus one) that listed it, so duplicates are dropped as they come and only the unique columns are
    /// sorted; rows are numbered globally, so it never needs clearing.
    fn columns(&self, row: usize, node: u32, seen: &mut [u32], cols: &mut Vec<u32>) {
        let stamp = row as u32 + 1;
        let start = cols.len();
        let tet_neighbours = self.incidence.of(node as usize).iter().flat_map(|&t| self.mesh.tets[t as usize]);
        let interface_neighbours = self.interfaces.into_iter().flat_map(|coupling| {
            coupling.of(node as usize).iter().flat_map(|&(face, _, _)| {
                let f = &coupling.faces[face as usize];
                f.below.into_iter().chain(f.above)
            })
        });
        for m in tet_neighbours.chain(interface_neighbours) {
            let c = self.column_of[m as usize];
            if c != NO_COLUMN && seen[c as usize] != stamp {
                seen[c as usize] = stamp;
                cols.push(c);
            }
        }
        cols[start..].sort_unstable();
    }

    /// Phase 1: the pattern, one block of rows per task into its own column list (no per-row allocation), the
    /// lists appended in row order a group of blocks at a time ([`for_each_row_block`]).
    fn pattern(&self, row_nodes: &[u32]) -> (Vec<usize>, Vec<u32>) {
        let mut row_ptr = Vec::with_capacity(row_nodes.len() + 1);
        row_ptr.push(0);
        let mut col_idx = Vec::new();
        // One `seen` per thread for the whole pass (zeroed pages, touched only near the rows the thread lists).
        let seen: Vec<Mutex<Vec<u32>>> =
            (0..rayon::current_num_threads()).map(|_| Mutex::new(vec![0u32; self.column_of.len()])).collect();
        let block_columns = |rows: std::ops::Range<usize>| {
            let mut seen = seen[rayon::current_thread_index().unwrap_or(0)].lock().expect("no panic holds it");
            let (mut counts, mut cols) = (Vec::with_capacity(rows.len()), Vec::new());
            for row in rows {
                let before = cols.len();
                self.columns(row, row_nodes[row], &mut seen, &mut cols);
                counts.push((cols.len() - before) as u32);
            }
            (counts, cols)
        };
        for_each_row_block(row_nodes.len(), ROW_BLOCK, block_columns, |(counts, cols)| {
            for count in counts {
                row_ptr.push(row_ptr.last().unwrap() + count as usize);
            }
            col_idx.extend_from_slice(&cols);
        });
        col_idx.shrink_to_fit();
        (row_ptr, col_idx)
    }

    /// Phase 2: stiffness values of each row and its right-hand side (source load minus lifted
    /// Dirichlet columns), blocks of rows in parallel.
    pub(super) fn fill(&self, row_nodes: &[u32]) -> (SparseRows, Vec<f64>) {
        let (row_ptr, col_idx) = self.pattern(row_nodes);
        let mut values = vec![0.0; col_idx.len()];
        let mut rhs = vec![0.0; row_nodes.len()];
        par_rows(&row_ptr, &mut values, &mut rhs, |row, row_values| {
            let node = row_nodes[row];
            let cols = &col_idx[row_ptr[row]..row_ptr[row + 1]];
            let mut lifted = 0.0;
            let mut add = |other: u32, entry: f64| match self.column_of[other as usize] {
                NO_COLUMN => {
                    if let Some(fixed) = self.fixed_potential {
                        lifted -= entry * fixed[other as usize];
                    }
                }
                c => row_values[cols.binary_search(&c).expect("pattern holds every neighbour")] += entry,
            };
            let mut load = 0.0;
            for &t in self.incidence.of(node as usize) {
                let tet = self.mesh.tets[t as usize];
                let points = self.mesh.tet_points(t as usize);
                let local = tet.iter().position(|&m| m == node).expect("incidence lists only tets holding the node");
                let (gradients, volume) = barycentric_gradients(points);
                let k = self.region_coefficient[self.mesh.tet_region[t as usize] as usize];
                for (b, &other) in tet.iter().enumerate() {
                    add(other, k * volume * gradients[local].dot(gradients[b]));
                }
                if let Some(source) = self.source {
                    load += element_load(points, volume, source, local);
                }
            }
            if let Some(coupling) = self.interfaces {
                for &(face, side, corner) in coupling.of(node as usize) {
                    for (other, entry) in coupling.row(face, side, corner) {
                        add(other, entry);
                    }
                }
            }
            lifted + load
        });
        (SparseRows { row_ptr, col_idx, values }, rhs)
    }
}

/// Rows per parallel task of the row-wise assembly: large enough that scheduling is negligible, small enough to
/// balance the threads.
pub(super) const ROW_BLOCK: usize = 1024;

/// Calls `fill(row, data of the row)` for every row of a CSR array (row `i` owns
/// `data[row_ptr[i]..row_ptr[i + 1]]`) and stores its result in `per_row[i]`; blocks of rows run in parallel.
pub(super) fn par_rows<T: Send, R: Send>(
    row_ptr: &[usize],
    data: &mut [T],
    per_row: &mut [R],
    fill: impl Fn(usize, &mut [T]) -> R + Sync,
) {
    let rows = per_row.len();
    let mut blocks = Vec::with_capacity(rows.div_ceil(ROW_BLOCK));
    let mut rest = data;
    for (first, results) in (0..rows).step_by(ROW_BLOCK).zip(per_row.chunks_mut(ROW_BLOCK)) {
        let last = first + results.len();
        let (block, tail) = rest.split_at_mut(row_ptr[last] - row_ptr[first]);
        blocks.push((first, block, results));
        rest = tail;
    }
    blocks.into_par_iter().for_each(|(first, block, results)| {
        let base = row_ptr[first];
        for (offset, result) in results.iter_mut().enumerate() {
            let row = first + offset;
            *result = fill(row, &mut block[row_ptr[row] - base..row_ptr[row + 1] - base]);
        }
    });
}

/// Adds `value` to the stored entry (i, j) of a matrix whose pattern already holds it.
pub(super) fn add_to_entry(matrix: &mut CsrMatrix, i: usize, j: u32, value: f64) {
    let start = matrix.row_ptr[i];
    let cols = &matrix.col_idx[start..matrix.row_ptr[i + 1]];
    let k = cols.binary_search(&j).expect("face node pairs are tet edges, hence in the pattern");
    matrix.values[start + k] += value;
}

/// Entry (a, b) of the P1 face mass matrix: area/12 * (2 on the diagonal, 1 off it).
pub(super) fn face_mass(area: f64, a: usize, b: usize) -> f64 {
    area / 12.0 * if a == b { 2.0 } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::structured::{tensor_box, uniform_line};

    #[test]
    fn incidence_of_some_nodes_lists_their_tets_and_no_others() {
        let line = uniform_line(0.0, 1.0, 4);
        let mesh = tensor_box(&line, &line, &line);
        let all = NodeTets::new(&mesh);
        let some: Vec<u32> = (0..mesh.nodes.len() as u32).filter(|n| n % 7 == 3).collect();
        let partial = NodeTets::of_nodes(&mesh, &some);
        for node in 0..mesh.nodes.len() {
            let want: &[u32] = if some.binary_search(&(node as u32)).is_ok() { all.of(node) } else { &[] };
            assert_eq!(partial.of(node), want, "node {node}");
        }
        assert!(!all.of(some[0] as usize).is_empty());
    }
}
