//! Flux recovery: the consistent current through each boundary face, tag and Dirichlet node of a solved system,
//! from the reaction rows (the Dirichlet rows of the volume operator: rho = K phi - F at a Dirichlet node is the
//! current it takes) and the known fluxes of the other faces. Its own value, built once the system is solved
//! ([`FluxRecovery::new`]): the post step, the duals' right-hand sides and the estimates read it, and the matrix can
//! be dropped before it is built.

use super::assembly::{reaction_rows, Boundaries};
use super::rows::{face_mass, SparseRows};
use super::{Assembly, BoundaryCondition, Problem};
use crate::mesh::{BoundaryFace, Mesh};
use crate::solver::sparse::PAR_MIN_LEN;
use rayon::prelude::*;
use std::sync::Arc;

/// The reaction rows of a solved system and what turns a potential into consistent currents.
#[derive(Debug, Clone)]
pub struct FluxRecovery {
    /// Volume-operator rows of the Dirichlet nodes over all nodes, and their source loads.
    pub(super) rows: SparseRows,
    source_load: Vec<f64>,
    /// Mesh nodes held by a Dirichlet condition (ascending), as in the system.
    pub(super) dirichlet_nodes: Vec<u32>,
    node_count: usize,
    pub(super) boundaries: Arc<Boundaries>,
}

impl FluxRecovery {
    /// The reaction rows of `assembly`'s Dirichlet nodes, on the mesh and problem it was assembled from.
    pub fn new(mesh: &Mesh, problem: &Problem, assembly: &Assembly) -> FluxRecovery {
        let (rows, source_load) = reaction_rows(mesh, problem, &assembly.dirichlet_nodes);
        FluxRecovery {
            rows,
            source_load,
            dirichlet_nodes: assembly.dirichlet_nodes.clone(),
            node_count: assembly.node_count,
            boundaries: Arc::clone(&assembly.boundaries),
        }
    }

    /// Current LEAVING the domain through each boundary tag (A), from the consistent (residual) flux:
    /// the sums of [`FluxRecovery::face_outflows`] per tag. The sum over tags equals the integral of the
    /// source up to the solver residual.
    pub fn boundary_currents(&self, phi: &[f64]) -> Vec<f64> {
        self.boundary_currents_from(&self.face_outflows(phi))
    }

    /// [`FluxRecovery::boundary_currents`] from the [`FluxRecovery::face_outflows`] already computed.
    pub fn boundary_currents_from(&self, face_outflows: &[[f64; 3]]) -> Vec<f64> {
        let mut currents = vec![0.0; self.boundaries.conditions.len()];
        for (face, outflow) in self.boundaries.faces.iter().zip(face_outflows) {
            currents[face.tag as usize] += outflow.iter().sum::<f64>();
        }
        currents
    }

    /// Per Dirichlet node d: `finish(sum_j term(K_dj phi_j), F_d)` over its reaction row (K phi - F is the current
    /// the node takes).
    fn over_reaction_rows(
        &self,
        phi: &[f64],
        term: impl Fn(f64) -> f64 + Sync,
        finish: impl Fn(f64, f64) -> f64 + Sync,
    ) -> Vec<f64> {
        let (rows, source_load) = (&self.rows, &self.source_load);
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
        let node_terms = self.over_reaction_rows(phi, f64::abs, |terms, load| terms + load.abs());
        let dirichlet_area = self.dirichlet_area();
        let mut bounds = vec![0.0; self.boundaries.conditions.len()];
        for (face, &area) in self.boundaries.faces.iter().zip(&self.boundaries.area) {
            bounds[face.tag as usize] += match self.boundaries.conditions[face.tag as usize] {
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
        let mut dirichlet_outflow = self.over_reaction_rows(phi, |term| term, |k_phi, load| -(k_phi - load));
        let dirichlet_index = |node: u32| self.dirichlet_nodes.binary_search(&node).ok();

        let mut outflows = vec![[0.0; 3]; self.boundaries.faces.len()];
        for ((face, &area), outflow) in self.boundaries.faces.iter().zip(&self.boundaries.area).zip(&mut outflows) {
            *outflow = match self.boundaries.conditions[face.tag as usize] {
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
        for ((face, &area), outflow) in self.boundaries.faces.iter().zip(&self.boundaries.area).zip(&mut outflows) {
            if let BoundaryCondition::Dirichlet { .. } = self.boundaries.conditions[face.tag as usize] {
                *outflow = self.dirichlet_shares(face, area, &dirichlet_outflow, &dirichlet_area);
            }
        }
        outflows
    }

    /// The position of a Dirichlet node among [`FluxRecovery::dirichlet_nodes`].
    fn dirichlet_index(&self, node: u32) -> usize {
        self.dirichlet_nodes.binary_search(&node).expect("Dirichlet faces hold Dirichlet nodes")
    }

    /// The area of the Dirichlet faces at each Dirichlet node.
    fn dirichlet_area(&self) -> Vec<f64> {
        let mut area_at = vec![0.0; self.dirichlet_nodes.len()];
        for (face, &area) in self.boundaries.faces.iter().zip(&self.boundaries.area) {
            if let BoundaryCondition::Dirichlet { .. } = self.boundaries.conditions[face.tag as usize] {
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
