//! The reduced system: the rows of the free nodes (`fem::rows`, two-phase and parallel) with
//! Dirichlet conditions are lifted: the unknowns are the free nodes, the Dirichlet columns move to the
//! right-hand side, and the reduced matrix stays symmetric. Where faces of two Dirichlet boundaries with
//! different potentials meet, the boundary listed LAST in `Mesh::boundary_names` sets the node (hot-spot
//! boundaries come after the box faces, so the more specific boundary wins).
//!
//! Internal resistive interfaces couple each duplicated node with the face's nodes on both sides, so their
//! rows take those columns in the pattern (the six nodes of each incident interface face) besides the tet
//! neighbours; the reaction rows of Dirichlet nodes carry the coupling too, which keeps
//! [`super::FluxRecovery::boundary_currents`] conservative.

use super::rows::{add_to_entry, face_mass, InterfaceCoupling, NodeTets, RowAssembler, SparseRows, NO_COLUMN};
use super::{BoundaryCondition, FemError, Problem};
use crate::mesh::{BoundaryFace, Mesh};
use crate::solver::sparse::{CsrMatrix, PAR_MIN_LEN};
use rayon::prelude::*;
use std::sync::Arc;

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

/// The boundary faces, their areas and conditions: shared by a system and its flux recovery.
#[derive(Debug)]
pub(super) struct Boundaries {
    pub(super) faces: Vec<BoundaryFace>,
    pub(super) area: Vec<f64>,
    pub(super) conditions: Vec<BoundaryCondition>,
}

/// The reduced linear system: the matrix's pattern, fixed once assembled, and its values, which Newton's
/// method refills on that pattern (`fem::kinetics`). Its currents come from a [`super::FluxRecovery`] built once it is
/// solved.
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
    pub(super) node_count: usize,
    pub(super) boundaries: Arc<Boundaries>,
    /// The matrix entries of the Butler-Volmer faces and their base values (empty without kinetics).
    pub(super) kinetics: super::kinetics::KineticEntries,
}

/// The Dirichlet rows of the volume operator (stiffness over all nodes, interface couplings included) and
/// their source loads: rho = K phi - F at the Dirichlet nodes is the current they take.
pub(super) fn reaction_rows(mesh: &Mesh, problem: &Problem, dirichlet_nodes: &[u32]) -> (SparseRows, Vec<f64>) {
    let incidence = NodeTets::of_nodes(mesh, dirichlet_nodes);
    let interfaces = InterfaceCoupling::of_mesh(mesh, &problem.interface_resistance);
    let identity: Vec<u32> = (0..mesh.nodes.len() as u32).collect();
    let rows = RowAssembler {
        mesh,
        incidence: &incidence,
        region_coefficient: &problem.region_coefficient,
        column_of: &identity,
        fixed_potential: None,
        source: problem.source,
        interfaces: interfaces.as_ref(),
    };
    rows.fill(dirichlet_nodes)
}

/// Assembles -div(k grad phi) = f with the problem's boundary conditions into the reduced system over
/// the free nodes (see the module notes for Dirichlet lifting and which boundary wins at shared nodes). The
/// currents need the reaction rows besides: [`super::FluxRecovery::new`], once the system is solved, so that a
/// large run can drop the matrix before it builds them (they are ~28 B per node on the 500-sphere case,
/// BENCHMARKS.md).
pub fn assemble(mesh: &Mesh, problem: &Problem) -> Result<Assembly, FemError> {
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

    let mut assembly = Assembly {
        matrix,
        rhs,
        free_nodes,
        dirichlet_nodes,
        dirichlet_potential,
        node_count,
        boundaries: Arc::new(Boundaries {
            faces: mesh.boundary_faces.clone(),
            area: face_area,
            conditions: conditions.clone(),
        }),
        kinetics: Default::default(),
    };
    if assembly.has_kinetics() {
        assembly.find_kinetic_entries(|n| Some(column_of[n as usize]).filter(|&c| c != NO_COLUMN));
    }
    Ok(assembly)
}

impl Assembly {
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
}

#[cfg(test)]
mod tests {
    use super::super::element::barycentric_gradients;
    use super::super::rows::ROW_BLOCK;
    use super::*;
    use crate::mesh::structured::{tensor_box, uniform_line};

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
