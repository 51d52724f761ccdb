//! Two-phase parallel assembly: the CSR pattern first (node adjacency through shared tets, sorted
//! columns, one block of rows per task), then the values, each row filled by the one thread that owns it (no
//! float atomics, no per-element matrix storage: a row recomputes the element rows it needs). Memory stays
//! O(nnz).
//!
//! Dirichlet conditions are lifted: the unknowns are the free nodes, the Dirichlet columns move to the
//! right-hand side, and the reduced matrix stays symmetric. Where faces of two Dirichlet boundaries with
//! different potentials meet, the boundary listed LAST in `Mesh::boundary_names` sets the node (hot-spot
//! boundaries come after the box faces, so the more specific boundary wins).
//!
//! Internal resistive interfaces couple each duplicated node with the face's nodes on both sides, so their
//! rows take those columns in the pattern (the six nodes of each incident interface face) besides the tet
//! neighbours; the reaction rows of Dirichlet nodes carry the coupling too, which keeps
//! [`Assembly::boundary_currents`] conservative.

use super::element::{barycentric_gradients, element_load};
use super::{BoundaryCondition, FemError, Problem, Source};
use crate::mesh::{BoundaryFace, InterfaceFace, Mesh};
use crate::solver::sparse::{for_each_row_block, CsrMatrix, PAR_MIN_LEN};
use rayon::prelude::*;
use std::sync::Mutex;

/// Marks a node that has no column in the matrix being built (a Dirichlet node of the reduced system).
const NO_COLUMN: u32 = u32::MAX;

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
struct InterfaceCoupling<'a> {
    faces: &'a [InterfaceFace],
    area: Vec<f64>,
    conductance: Vec<f64>,
    offsets: Vec<usize>,
    incident: Vec<(u32, u8, u8)>,
}

impl<'a> InterfaceCoupling<'a> {
    /// The coupling of `mesh`'s resistive interfaces; None without any (the table would cost two words per node).
    fn of_mesh(mesh: &'a Mesh, interface_resistance: &[f64]) -> Option<Self> {
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
struct RowAssembler<'a> {
    mesh: &'a Mesh,
    incidence: &'a NodeTets,
    region_coefficient: &'a [f64],
    column_of: &'a [u32],
    fixed_potential: Option<&'a [f64]>,
    source: Option<&'a Source>,
    interfaces: Option<&'a InterfaceCoupling<'a>>,
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
    fn fill(&self, row_nodes: &[u32]) -> (SparseRows, Vec<f64>) {
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
const ROW_BLOCK: usize = 1024;

/// Calls `fill(row, data of the row)` for every row of a CSR array (row `i` owns
/// `data[row_ptr[i]..row_ptr[i + 1]]`) and stores its result in `per_row[i]`; blocks of rows run in parallel.
fn par_rows<T: Send, R: Send>(
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
fn add_to_entry(matrix: &mut CsrMatrix, i: usize, j: u32, value: f64) {
    let start = matrix.row_ptr[i];
    let cols = &matrix.col_idx[start..matrix.row_ptr[i + 1]];
    let k = cols.binary_search(&j).expect("face node pairs are tet edges, hence in the pattern");
    matrix.values[start + k] += value;
}

/// Entry (a, b) of the P1 face mass matrix: area/12 * (2 on the diagonal, 1 off it).
pub(super) fn face_mass(area: f64, a: usize, b: usize) -> f64 {
    area / 12.0 * if a == b { 2.0 } else { 1.0 }
}

/// Checks the coefficient count and values, and every tet's region id and volume.
fn check_regions(mesh: &Mesh, region_coefficient: &[f64]) -> Result<(), FemError> {
    if region_coefficient.len() != mesh.region_names.len() {
        return Err(FemError::RegionCountMismatch {
            given: region_coefficient.len(),
            expected: mesh.region_names.len(),
            names: mesh.region_names.join(", "),
        });
    }
    for (name, &value) in mesh.region_names.iter().zip(region_coefficient) {
        if !(value.is_finite() && value > 0.0) {
            return Err(FemError::BadCoefficient { region: name.clone(), value });
        }
    }
    let region_count = mesh.region_names.len();
    let bad_tet = (0..mesh.tets.len()).into_par_iter().with_min_len(PAR_MIN_LEN).find_first(|&t| {
        let volume = mesh.tet_volume(t);
        mesh.tet_region[t] as usize >= region_count || volume.is_nan() || volume <= 0.0
    });
    match bad_tet {
        Some(tet) if mesh.tet_region[tet] as usize >= region_count => {
            Err(FemError::UnknownRegion { tet, region: mesh.tet_region[tet], count: region_count })
        }
        Some(tet) => Err(FemError::BadElement { tet, volume_m3: mesh.tet_volume(tet) }),
        None => Ok(()),
    }
}

/// Checks regions, boundary tags and values, and that some boundary fixes the potential.
fn validate(mesh: &Mesh, problem: &Problem) -> Result<(), FemError> {
    check_regions(mesh, &problem.region_coefficient)?;
    if problem.boundary_conditions.len() != mesh.boundary_names.len() {
        return Err(FemError::BoundaryCountMismatch {
            given: problem.boundary_conditions.len(),
            expected: mesh.boundary_names.len(),
            names: mesh.boundary_names.join(", "),
        });
    }
    for (name, condition) in mesh.boundary_names.iter().zip(&problem.boundary_conditions) {
        let non_finite = |field, value: f64| FemError::NonFiniteBoundaryValue { boundary: name.clone(), field, value };
        match *condition {
            BoundaryCondition::Dirichlet { potential } if !potential.is_finite() => {
                return Err(non_finite("potential", potential))
            }
            BoundaryCondition::Neumann { inward_current_density: j } if !j.is_finite() => {
                return Err(non_finite("inward current density", j))
            }
            BoundaryCondition::Robin { resistance, electrode_potential } => {
                if !(resistance.is_finite() && resistance > 0.0) {
                    return Err(FemError::BadRobinResistance { boundary: name.clone(), value: resistance });
                }
                if !electrode_potential.is_finite() {
                    return Err(non_finite("electrode potential", electrode_potential));
                }
            }
            BoundaryCondition::ButlerVolmer(k) => check_kinetics(name, &k)?,
            _ => {}
        }
    }
    if problem.interface_resistance.len() != mesh.interface_names.len() {
        return Err(FemError::InterfaceCountMismatch {
            given: problem.interface_resistance.len(),
            expected: mesh.interface_names.len(),
            names: mesh.interface_names.join(", "),
        });
    }
    for (name, &value) in mesh.interface_names.iter().zip(&problem.interface_resistance) {
        if !(value.is_finite() && value > 0.0) {
            return Err(FemError::BadInterfaceResistance { interface: name.clone(), value });
        }
    }
    if let Some((face, f)) =
        mesh.boundary_faces.iter().enumerate().find(|(_, f)| f.tag as usize >= mesh.boundary_names.len())
    {
        return Err(FemError::UnknownBoundary { face, tag: f.tag, count: mesh.boundary_names.len() });
    }
    super::check_potential_fixed(mesh, &problem.boundary_conditions)?;
    super::check_no_floating_body(mesh, &problem.boundary_conditions)
}

/// Checks a Butler-Volmer condition's values (the case checks them with file and line; this guards the API).
fn check_kinetics(name: &str, k: &super::Kinetics) -> Result<(), FemError> {
    let bad = |field, value, need| Err(FemError::BadKinetics { boundary: name.to_string(), field, value, need });
    let positive = "it must be finite and > 0";
    if !(k.exchange_current_density.is_finite() && k.exchange_current_density > 0.0) {
        return bad("exchange current density", k.exchange_current_density, positive);
    }
    for (field, alpha) in [("alpha_anodic", k.alpha_anodic), ("alpha_cathodic", k.alpha_cathodic)] {
        if !(alpha > 0.0 && alpha <= 1.0) {
            return bad(field, alpha, "it must lie in (0, 1]");
        }
    }
    if !(k.thermal_voltage.is_finite() && k.thermal_voltage > 0.0) {
        return bad("thermal voltage R T / F", k.thermal_voltage, positive);
    }
    if !(k.film_resistance.is_finite() && k.film_resistance >= 0.0) {
        return bad("film resistance", k.film_resistance, "it must be finite and >= 0");
    }
    for (field, value) in
        [("equilibrium potential", k.equilibrium_potential), ("electrode potential", k.electrode_potential)]
    {
        if !value.is_finite() {
            return bad(field, value, "it must be finite");
        }
    }
    Ok(())
}

/// The volume stiffness matrix over all nodes (no boundary terms, no interface coupling, no lifting):
/// symmetric, rows sum to zero. Checks the coefficients and elements like [`assemble`].
pub fn stiffness_matrix(mesh: &Mesh, region_coefficient: &[f64]) -> Result<CsrMatrix, FemError> {
    check_regions(mesh, region_coefficient)?;
    let incidence = NodeTets::new(mesh);
    let all_nodes: Vec<u32> = (0..mesh.nodes.len() as u32).collect();
    let rows = RowAssembler {
        mesh,
        incidence: &incidence,
        region_coefficient,
        column_of: &all_nodes,
        fixed_potential: None,
        source: None,
        interfaces: None,
    };
    let (SparseRows { row_ptr, col_idx, values }, _) = rows.fill(&all_nodes);
    Ok(CsrMatrix { nrows: mesh.nodes.len(), row_ptr, col_idx, values })
}

/// The reduced linear system and what post-processing needs to turn its solution into currents.
#[derive(Debug, Clone)]
pub struct Assembly {
    /// Reduced SPD matrix over the free (non-Dirichlet) nodes, in [`Assembly::free_nodes`] order.
    pub matrix: CsrMatrix,
    pub rhs: Vec<f64>,
    /// Mesh node of each unknown (ascending).
    pub free_nodes: Vec<u32>,
    /// Mesh nodes held by a Dirichlet condition (ascending) and their potentials.
    pub dirichlet_nodes: Vec<u32>,
    pub dirichlet_potential: Vec<f64>,
    node_count: usize,
    /// Volume-stiffness rows of the Dirichlet nodes over all nodes, and their source loads: the reaction
    /// (None until [`Assembly::add_reaction`] when assembled by [`assemble_system`]).
    pub(super) reaction: Option<Reaction>,
    pub(super) boundary_faces: Vec<BoundaryFace>,
    pub(super) face_area: Vec<f64>,
    pub(super) boundary_conditions: Vec<BoundaryCondition>,
    /// The matrix entries of the Butler-Volmer faces and their base values (empty without kinetics).
    pub(super) kinetics: super::kinetics::KineticEntries,
}

/// The Dirichlet rows of the volume operator (stiffness over all nodes, interface couplings included) and
/// their source loads: rho = K phi - F at the Dirichlet nodes is the current they take.
#[derive(Debug, Clone)]
pub(super) struct Reaction {
    pub(super) rows: SparseRows,
    source_load: Vec<f64>,
}

fn reaction(
    mesh: &Mesh,
    problem: &Problem,
    incidence: &NodeTets,
    interfaces: Option<&InterfaceCoupling>,
    dirichlet_nodes: &[u32],
) -> Reaction {
    let identity: Vec<u32> = (0..mesh.nodes.len() as u32).collect();
    let rows = RowAssembler {
        mesh,
        incidence,
        region_coefficient: &problem.region_coefficient,
        column_of: &identity,
        fixed_potential: None,
        source: problem.source,
        interfaces,
    };
    let (rows, source_load) = rows.fill(dirichlet_nodes);
    Reaction { rows, source_load }
}

/// Assembles -div(k grad phi) = f with the problem's boundary conditions into the reduced system over
/// the free nodes (see the module notes for Dirichlet lifting and which boundary wins at shared nodes), with the
/// reaction rows the currents need.
pub fn assemble(mesh: &Mesh, problem: &Problem) -> Result<Assembly, FemError> {
    assemble_parts(mesh, problem, true)
}

/// [`assemble`] without the reaction rows: [`Assembly::add_reaction`] adds them once the system is solved and
/// released ([`Assembly::release_system`]), so that a large run never holds both (the reaction rows are ~28 B
/// per node on the 500-sphere case, BENCHMARKS.md).
pub fn assemble_system(mesh: &Mesh, problem: &Problem) -> Result<Assembly, FemError> {
    assemble_parts(mesh, problem, false)
}

fn assemble_parts(mesh: &Mesh, problem: &Problem, with_reaction: bool) -> Result<Assembly, FemError> {
    validate(mesh, problem)?;
    let node_count = mesh.nodes.len();
    let conditions = &problem.boundary_conditions;

    // The highest Dirichlet tag touching a node fixes it (the boundary listed last wins).
    let mut fixing_tag: Vec<Option<u16>> = vec![None; node_count];
    for face in &mesh.boundary_faces {
        if let BoundaryCondition::Dirichlet { .. } = conditions[face.tag as usize] {
            for &n in &face.nodes {
                let slot = &mut fixing_tag[n as usize];
                *slot = Some(slot.map_or(face.tag, |t| t.max(face.tag)));
            }
        }
    }
    let mut fixed_potential = vec![0.0; node_count];
    let mut column_of = vec![NO_COLUMN; node_count];
    let (mut free_nodes, mut dirichlet_nodes, mut dirichlet_potential) = (Vec::new(), Vec::new(), Vec::new());
    for (node, tag) in fixing_tag.iter().enumerate() {
        match tag {
            Some(tag) => {
                let BoundaryCondition::Dirichlet { potential } = conditions[*tag as usize] else {
                    unreachable!("only Dirichlet tags fix nodes")
                };
                fixed_potential[node] = potential;
                dirichlet_nodes.push(node as u32);
                dirichlet_potential.push(potential);
            }
            None => {
                column_of[node] = free_nodes.len() as u32;
                free_nodes.push(node as u32);
            }
        }
    }
    drop(fixing_tag);

    let incidence = NodeTets::new(mesh);
    let interfaces = InterfaceCoupling::of_mesh(mesh, &problem.interface_resistance);
    // A free node outside every tet would give an empty row and a singular matrix.
    if let Some(&node) = free_nodes.iter().find(|&&n| incidence.of(n as usize).is_empty()) {
        return Err(FemError::OrphanNode { node: node as usize });
    }
    let reduced = RowAssembler {
        mesh,
        incidence: &incidence,
        region_coefficient: &problem.region_coefficient,
        column_of: &column_of,
        fixed_potential: Some(&fixed_potential),
        source: problem.source,
        interfaces: interfaces.as_ref(),
    };
    let (SparseRows { row_ptr, col_idx, values }, mut rhs) = reduced.fill(&free_nodes);
    let mut matrix = CsrMatrix { nrows: free_nodes.len(), row_ptr, col_idx, values };

    let face_area: Vec<f64> = mesh.boundary_faces.iter().map(|f| mesh.face_area(f)).collect();
    for (face, &area) in mesh.boundary_faces.iter().zip(&face_area) {
        match conditions[face.tag as usize] {
            BoundaryCondition::Neumann { inward_current_density } => {
                for &n in &face.nodes {
                    if column_of[n as usize] != NO_COLUMN {
                        rhs[column_of[n as usize] as usize] += inward_current_density * area / 3.0;
                    }
                }
            }
            BoundaryCondition::Robin { resistance, electrode_potential } => {
                for (a, &na) in face.nodes.iter().enumerate() {
                    let row = column_of[na as usize];
                    if row == NO_COLUMN {
                        continue;
                    }
                    for (b, &nb) in face.nodes.iter().enumerate() {
                        let coupling = face_mass(area, a, b) / resistance;
                        rhs[row as usize] += coupling * electrode_potential;
                        match column_of[nb as usize] {
                            NO_COLUMN => rhs[row as usize] -= coupling * fixed_potential[nb as usize],
                            col => add_to_entry(&mut matrix, row as usize, col, coupling),
                        }
                    }
                }
            }
            // Kinetic faces enter through Newton's linearization (`fem::kinetics`), not the base system.
            BoundaryCondition::Dirichlet { .. }
            | BoundaryCondition::Insulating
            | BoundaryCondition::ButlerVolmer(_) => {}
        }
    }

    let reaction = with_reaction.then(|| reaction(mesh, problem, &incidence, interfaces.as_ref(), &dirichlet_nodes));

    let mut assembly = Assembly {
        matrix,
        rhs,
        free_nodes,
        dirichlet_nodes,
        dirichlet_potential,
        node_count,
        reaction,
        boundary_faces: mesh.boundary_faces.clone(),
        face_area,
        boundary_conditions: conditions.clone(),
        kinetics: Default::default(),
    };
    if assembly.has_kinetics() {
        assembly.find_kinetic_entries(|n| Some(column_of[n as usize]).filter(|&c| c != NO_COLUMN));
    }
    Ok(assembly)
}

impl Assembly {
    /// Frees the reduced matrix and right-hand side once the system is solved: the currents
    /// ([`Assembly::boundary_currents`], [`Assembly::face_outflows`]) need only the reaction rows, and a large
    /// mesh's post-processing then runs without the matrix in memory.
    pub fn release_system(&mut self) {
        self.matrix = CsrMatrix::default();
        self.rhs = Vec::new();
    }

    /// Adds the reaction rows to an assembly made by [`assemble_system`] (nothing to do if it has them), from the
    /// same mesh and problem.
    pub fn add_reaction(&mut self, mesh: &Mesh, problem: &Problem) {
        if self.reaction.is_none() {
            let incidence = NodeTets::of_nodes(mesh, &self.dirichlet_nodes);
            let interfaces = InterfaceCoupling::of_mesh(mesh, &problem.interface_resistance);
            self.reaction = Some(reaction(mesh, problem, &incidence, interfaces.as_ref(), &self.dirichlet_nodes));
        }
    }

    /// Full nodal potential from the values of the unknowns, Dirichlet values included.
    pub fn expand(&self, free_values: &[f64]) -> Vec<f64> {
        self.expand_with(free_values, &self.dirichlet_potential)
    }

    /// [`Assembly::expand`] with other values at the Dirichlet nodes (a dual problem's, say).
    pub fn expand_with(&self, free_values: &[f64], dirichlet_values: &[f64]) -> Vec<f64> {
        assert_eq!(free_values.len(), self.free_nodes.len(), "one value per free node");
        assert_eq!(dirichlet_values.len(), self.dirichlet_nodes.len(), "one value per Dirichlet node");
        let mut phi = vec![0.0; self.node_count];
        for (&n, &v) in self.free_nodes.iter().zip(free_values) {
            phi[n as usize] = v;
        }
        for (&n, &v) in self.dirichlet_nodes.iter().zip(dirichlet_values) {
            phi[n as usize] = v;
        }
        phi
    }

    /// Current LEAVING the domain through each boundary tag (A), from the consistent (residual) flux:
    /// the sums of [`Assembly::face_outflows`] per tag. The sum over tags equals the integral of the
    /// source up to the solver residual.
    pub fn boundary_currents(&self, phi: &[f64]) -> Vec<f64> {
        self.boundary_currents_from(&self.face_outflows(phi))
    }

    /// [`Assembly::boundary_currents`] from the [`Assembly::face_outflows`] already computed.
    pub fn boundary_currents_from(&self, face_outflows: &[[f64; 3]]) -> Vec<f64> {
        let mut currents = vec![0.0; self.boundary_conditions.len()];
        for (face, outflow) in self.boundary_faces.iter().zip(face_outflows) {
            currents[face.tag as usize] += outflow.iter().sum::<f64>();
        }
        currents
    }

    /// Per Dirichlet node d: `finish(sum_j term(K_dj phi_j), F_d)` over its reaction row (K phi - F is the current
    /// the node takes).
    fn reaction_rows(
        &self,
        phi: &[f64],
        term: impl Fn(f64) -> f64 + Sync,
        finish: impl Fn(f64, f64) -> f64 + Sync,
    ) -> Vec<f64> {
        let Reaction { rows, source_load } =
            self.reaction.as_ref().expect("the reaction rows are added (Assembly::add_reaction) before currents");
        (0..self.dirichlet_nodes.len())
            .into_par_iter()
            .with_min_len(PAR_MIN_LEN / 16)
            .map(|d| {
                let range = rows.row_ptr[d]..rows.row_ptr[d + 1];
                let sum: f64 = rows.col_idx[range.clone()]
                    .iter()
                    .zip(&rows.values[range])
                    .map(|(&c, &v)| term(v * phi[c as usize]))
                    .sum();
                finish(sum, source_load[d])
            })
            .collect()
    }

    /// How far each boundary tag's current (A) can be off through round-off and an algebraic error of relative
    /// size `relative_residual` in phi: the sum of the magnitudes of the terms the current is made of (|K_ij phi_j|
    /// and |F_i| of the Dirichlet rows, shared among faces as the currents are; |phi - V_e| / R weighted by the
    /// face mass on Robin faces; the kinetic outflows' magnitudes on Butler-Volmer faces), times (64 eps + `relative_residual`). A current smaller than its bound is lost
    /// to cancellation (a nearly equipotential conductor against a resistive boundary, say) and is not resolved.
    pub fn boundary_current_bounds(&self, phi: &[f64], relative_residual: f64) -> Vec<f64> {
        let node_terms = self.reaction_rows(phi, f64::abs, |terms, load| terms + load.abs());
        let dirichlet_area = self.dirichlet_area();
        let mut bounds = vec![0.0; self.boundary_conditions.len()];
        for (face, &area) in self.boundary_faces.iter().zip(&self.face_area) {
            bounds[face.tag as usize] += match self.boundary_conditions[face.tag as usize] {
                BoundaryCondition::Dirichlet { .. } => {
                    self.dirichlet_shares(face, area, &node_terms, &dirichlet_area).iter().sum()
                }
                // The face mass rows sum to area / 3.
                BoundaryCondition::Robin { resistance, electrode_potential } => {
                    face.nodes
                        .iter()
                        .map(|&n| (phi[n as usize].abs() + electrode_potential.abs()) * area / 3.0)
                        .sum::<f64>()
                        / resistance
                }
                BoundaryCondition::ButlerVolmer(k) => {
                    let (outflow, _) = super::kinetics::face_terms(&k, area, face.nodes.map(|n| phi[n as usize]));
                    outflow.iter().map(|q| q.abs()).sum()
                }
                BoundaryCondition::Neumann { .. } | BoundaryCondition::Insulating => 0.0,
            };
        }
        bounds.iter().map(|b| b * (64.0 * f64::EPSILON + relative_residual)).collect()
    }

    /// Current LEAVING the domain through each boundary face (A, in `Mesh::boundary_faces` order), held
    /// by the face's three nodes: the consistent (residual) flux, nodal so that a part of a boundary can be
    /// weighed node by node.
    ///
    /// Faces with a known flux report its consistent integrals against the nodal hat functions (Neumann:
    /// -j area / 3; Robin: the face mass applied to (phi - V_e)/R; Butler-Volmer: the kinetic outflow by the
    /// edge-midpoint rule, `fem::kinetics`; insulating: 0). At each Dirichlet node
    /// the reaction rho = K_vol phi - F_source, less the known outflow of its non-Dirichlet faces, is the
    /// current that leaves there through Dirichlet faces; it is split among the Dirichlet faces at the
    /// node in proportion to their areas.
    pub fn face_outflows(&self, phi: &[f64]) -> Vec<[f64; 3]> {
        assert_eq!(phi.len(), self.node_count, "one potential per mesh node");
        let mut dirichlet_outflow = self.reaction_rows(phi, |term| term, |k_phi, load| -(k_phi - load));
        let dirichlet_index = |node: u32| self.dirichlet_nodes.binary_search(&node).ok();

        let mut outflows = vec![[0.0; 3]; self.boundary_faces.len()];
        for ((face, &area), outflow) in self.boundary_faces.iter().zip(&self.face_area).zip(&mut outflows) {
            *outflow = match self.boundary_conditions[face.tag as usize] {
                BoundaryCondition::Neumann { inward_current_density } => [-inward_current_density * area / 3.0; 3],
                BoundaryCondition::Robin { resistance, electrode_potential } => std::array::from_fn(|a| {
                    (0..3)
                        .map(|b| face_mass(area, a, b) * (phi[face.nodes[b] as usize] - electrode_potential))
                        .sum::<f64>()
                        / resistance
                }),
                BoundaryCondition::ButlerVolmer(k) => {
                    super::kinetics::face_terms(&k, area, face.nodes.map(|n| phi[n as usize])).0
                }
                BoundaryCondition::Insulating => [0.0; 3],
                BoundaryCondition::Dirichlet { .. } => continue,
            };
            for (&n, &q) in face.nodes.iter().zip(outflow.iter()) {
                if let Some(d) = dirichlet_index(n) {
                    dirichlet_outflow[d] -= q;
                }
            }
        }
        let dirichlet_area = self.dirichlet_area();
        for ((face, &area), outflow) in self.boundary_faces.iter().zip(&self.face_area).zip(&mut outflows) {
            if let BoundaryCondition::Dirichlet { .. } = self.boundary_conditions[face.tag as usize] {
                *outflow = self.dirichlet_shares(face, area, &dirichlet_outflow, &dirichlet_area);
            }
        }
        outflows
    }

    /// The position of a Dirichlet node among [`Assembly::dirichlet_nodes`].
    fn dirichlet_index(&self, node: u32) -> usize {
        self.dirichlet_nodes.binary_search(&node).expect("Dirichlet faces hold Dirichlet nodes")
    }

    /// The area of the Dirichlet faces at each Dirichlet node.
    fn dirichlet_area(&self) -> Vec<f64> {
        let mut area_at = vec![0.0; self.dirichlet_nodes.len()];
        for (face, &area) in self.boundary_faces.iter().zip(&self.face_area) {
            if let BoundaryCondition::Dirichlet { .. } = self.boundary_conditions[face.tag as usize] {
                face.nodes.iter().for_each(|&n| area_at[self.dirichlet_index(n)] += area);
            }
        }
        area_at
    }

    /// A Dirichlet face's share of a per-Dirichlet-node quantity at each of its corners: a node's value is split
    /// among the Dirichlet faces at it in proportion to their areas.
    fn dirichlet_shares(&self, face: &BoundaryFace, area: f64, per_node: &[f64], dirichlet_area: &[f64]) -> [f64; 3] {
        face.nodes.map(|n| {
            let d = self.dirichlet_index(n);
            per_node[d] * area / dirichlet_area[d]
        })
    }
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

    #[test]
    fn the_row_wise_stiffness_matrix_equals_an_element_by_element_assembly_on_any_thread_count() {
        // 74,088 nodes: the pattern is built in more than one group of row blocks (64 of 1024 rows). Numbered at
        // random (a seeded shuffle), so that a row's columns lie far apart and rows of different groups share
        // columns (a regular renumbering such as i -> 7919 i mod n does not, and misses groups that share stamps).
        let line = uniform_line(0.0, 1e-6, 42);
        let mut mesh = tensor_box(&line, &line, &line);
        assert!(mesh.nodes.len() > 64 * ROW_BLOCK);
        let mut new_index: Vec<u32> = (0..mesh.nodes.len() as u32).collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for i in (1..new_index.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            new_index.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let mut nodes = mesh.nodes.clone();
        for (old, &new) in new_index.iter().enumerate() {
            nodes[new as usize] = mesh.nodes[old];
        }
        mesh.nodes = nodes;
        mesh.tets.iter_mut().for_each(|tet| *tet = tet.map(|v| new_index[v as usize]));
        let coefficient = [2.5];
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| stiffness_matrix(&mesh, &coefficient).unwrap())
        };
        let matrix = on(2);
        assert_eq!(on(1), matrix, "the matrix depends on the thread count");
        // The reference: each tet's 4 x 4 element matrix as triplets, duplicates summed.
        let mut triplets = Vec::with_capacity(16 * mesh.tets.len());
        for (t, tet) in mesh.tets.iter().enumerate() {
            let (gradients, volume) = barycentric_gradients(mesh.tet_points(t));
            for a in 0..4 {
                for b in 0..4 {
                    let entry = coefficient[0] * volume * gradients[a].dot(gradients[b]);
                    triplets.push((tet[a] as usize, tet[b] as usize, entry));
                }
            }
        }
        let reference = CsrMatrix::from_triplets(mesh.nodes.len(), &triplets);
        assert_eq!(matrix.row_ptr, reference.row_ptr);
        assert_eq!(matrix.col_idx, reference.col_idx);
        let scale = reference.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (k, (v, w)) in matrix.values.iter().zip(&reference.values).enumerate() {
            assert!((v - w).abs() <= 1e-12 * scale, "entry {k}: {v} vs {w}");
        }
    }
}
