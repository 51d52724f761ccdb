//! Goal-oriented error estimates of consistent currents (dual-weighted residuals, ARCHITECTURE.md "Error
//! estimates").
//!
//! The current entering through a boundary is the linear functional Q(phi) = a(phi, w) - l(w), w = 1 on the
//! boundary's nodes and 0 on the other Dirichlet nodes. Its dual z solves a(v, z) = 0 for every v vanishing on
//! the Dirichlet boundaries, with z = w there: the primal's matrix with another right-hand side. Then
//! Q(phi) - Q(phi_h) = a(phi_h, z - z_h) - l(z - z_h) = -r(phi_h)(z - z_h) on the meshed (polyhedral) domain,
//! r(phi_h)(v) = l(v) - a(phi_h, v) the residual; the current LEAVING, -Q, is off by +r(phi_h)(z - z_h). A
//! resistive interface's current J(phi) (a volume functional) has the dual a(v, z) = J(v), z = 0 on every
//! Dirichlet node, and J(phi) - J(phi_h) = r(phi_h)(z - z_h) too: the indicators below sum r(phi_h)(z~ - z_h)
//! for either. The dual's error z - z_h is estimated by a quadratic reconstruction: on each edge (i, j) the
//! quadratic whose end slopes are the recovered gradients G (volume-weighted averages of the element gradients)
//! differs from z_h at the midpoint by d = (G_i - G_j).(x_j - x_i) / 8, and z~ - z_h = sum over edges of
//! d 4 l_i l_j (zero at the nodes, and on edges of Dirichlet nodes, where z is known).
//!
//! A curved Dirichlet surface (a sphere) is meshed by facets lying inside it by about h^2 / (8 a), which the
//! residual on the meshed domain cannot see. Moving a Dirichlet surface by delta into the electrolyte raises
//! Q by sigma integral (dphi/dn)(dz/dn) delta (the shape derivative; for phi = U z it is the capacitance
//! growing with the electrode) and changes J by minus that (checked on the 1D slab for both), so either error
//! gains -sigma integral (dphi/dn)(dz/dn) delta, delta the distance from the facet to the sphere (quadratic over
//! the facet, zero at its corners: the edge-midpoint rule is exact).

use super::element::barycentric_gradients;
use super::kinetics::{midpoint_potentials, EDGES};
use super::rows::face_mass;
use super::{Assembly, BoundaryCondition, FluxRecovery, Problem};
use crate::mesh::{face_key, Mesh};
use glam::DVec3;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// A Dirichlet surface the mesh approximates by facets: the sphere of a hot spot, by its boundary tag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvedSurface {
    pub tag: u16,
    pub center: DVec3,
    pub radius: f64,
    /// The electrolyte lies outside the sphere (a hot spot); false: inside it (an enclosing electrode).
    pub electrolyte_outside: bool,
}

/// The local contributions to the estimate of Q(phi) - Q(phi_h), where Q is the current LEAVING the domain
/// through the dual's boundaries (A): their sum is the estimate, their magnitudes say where the error is made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GoalIndicators {
    /// The tets' contributions summed per group of [`TetGroups`].
    pub tet_groups: Vec<f64>,
    /// Per tet, when [`TetGroups::keep_tets`] asks for them (else empty).
    pub tets: Vec<f64>,
    /// Per boundary face: Neumann and Robin residuals, and the geometry term of curved Dirichlet facets.
    pub boundary_faces: Vec<f64>,
    /// Per internal resistive interface face: the residual of the interface condition.
    pub interface_faces: Vec<f64>,
    /// Per boundary face: the geometry term of a curved Dirichlet facet (included in `boundary_faces`).
    pub geometry: Vec<f64>,
}

impl GoalIndicators {
    /// The estimate of Q(phi) - Q(phi_h) (A).
    pub fn total(&self) -> f64 {
        self.tet_groups.iter().chain(&self.boundary_faces).chain(&self.interface_faces).sum()
    }
}

/// How the tets' contributions are kept: summed per group (`group_of(t)` lies in 0..`groups`: the current a tet
/// counts for), and one by one only when `keep_tets` (an adaptive loop's marking; a plain run saves the 8 bytes
/// per tet).
pub struct TetGroups<'a> {
    pub group_of: &'a (dyn Fn(usize) -> usize + Sync),
    pub groups: usize,
    pub keep_tets: bool,
}

impl TetGroups<'_> {
    /// Every tet in one group, none kept.
    pub fn one() -> TetGroups<'static> {
        TetGroups { group_of: &|_| 0, groups: 1, keep_tets: false }
    }
}

/// The dual problem of the current leaving through the boundaries `tags` on an assembled system: the same
/// matrix, with z = 1 on those boundaries' Dirichlet nodes, 0 on the other Dirichlet nodes, and no sources,
/// Neumann currents or Robin electrode potentials.
pub struct DualSystem {
    pub rhs: Vec<f64>,
    /// z at each of [`Assembly::dirichlet_nodes`] (for [`Assembly::expand_with`]).
    pub dirichlet_values: Vec<f64>,
}

impl Assembly {
    /// The [`DualSystem`] of the boundaries `tags`, from the reaction rows of `recovery` (the Dirichlet rows of the
    /// symmetric volume operator give its Dirichlet columns) and the Robin face masses: no second assembly.
    pub fn dual_system(&self, recovery: &FluxRecovery, tags: &[u16]) -> DualSystem {
        // The highest Dirichlet tag at a node fixes it, as in the assembly.
        let mut fixing_tag = vec![0u16; self.dirichlet_nodes.len()];
        for face in &self.boundaries.faces {
            if let BoundaryCondition::Dirichlet { .. } = self.boundaries.conditions[face.tag as usize] {
                for &n in &face.nodes {
                    let d = self.dirichlet_nodes.binary_search(&n).expect("Dirichlet faces hold Dirichlet nodes");
                    fixing_tag[d] = fixing_tag[d].max(face.tag);
                }
            }
        }
        let dirichlet_values: Vec<f64> = fixing_tag.iter().map(|t| if tags.contains(t) { 1.0 } else { 0.0 }).collect();
        let column = |node: u32| self.free_nodes.binary_search(&node).ok();
        let mut rhs = vec![0.0; self.free_nodes.len()];
        let rows = &recovery.rows;
        for (d, _) in dirichlet_values.iter().enumerate().filter(|(_, &w)| w != 0.0) {
            for k in rows.row_ptr[d]..rows.row_ptr[d + 1] {
                if let Some(c) = column(rows.col_idx[k]) {
                    rhs[c] -= rows.values[k];
                }
            }
        }
        for (face, &area) in self.boundaries.faces.iter().zip(&self.boundaries.area) {
            if let BoundaryCondition::Robin { resistance, .. } = self.boundaries.conditions[face.tag as usize] {
                for (a, &na) in face.nodes.iter().enumerate() {
                    let Some(row) = column(na) else { continue };
                    for (b, &nb) in face.nodes.iter().enumerate() {
                        if let Ok(d) = self.dirichlet_nodes.binary_search(&nb) {
                            rhs[row] -= face_mass(area, a, b) / resistance * dirichlet_values[d];
                        }
                    }
                }
            }
        }
        // Butler-Volmer faces: the Jacobian the matrix was last linearized with (at the solution).
        for &(row, d, value) in &self.kinetics.dirichlet_coupling {
            rhs[row as usize] -= value * dirichlet_values[d as usize];
        }
        DualSystem { rhs, dirichlet_values }
    }
}

impl Assembly {
    /// The dual problem of the current through the resistive interface `tag` (resistance R, faces in `mesh`):
    /// that current is J(phi) = (1/R) integral of (phi_below - phi_above) over the interface, so the dual's
    /// right-hand side is J at each free node's hat function (+area / 3R at a corner below, -area / 3R above) and
    /// z = 0 on every Dirichlet node. Then J(phi) - J(phi_h) = r(phi_h)(z - z_h), the same residual as for a
    /// boundary current ([`dual_weighted_residual`] estimates both).
    pub fn interface_dual_system(&self, mesh: &Mesh, tag: u16, resistance: f64) -> DualSystem {
        let mut rhs = vec![0.0; self.free_nodes.len()];
        for face in mesh.interface_faces.iter().filter(|f| f.tag == tag) {
            let share = mesh.interface_area(face) / (3.0 * resistance);
            for (nodes, sign) in [(face.below, 1.0), (face.above, -1.0)] {
                for n in nodes {
                    if let Ok(row) = self.free_nodes.binary_search(&n) {
                        rhs[row] += sign * share;
                    }
                }
            }
        }
        DualSystem { rhs, dirichlet_values: vec![0.0; self.dirichlet_nodes.len()] }
    }
}

/// The 6 edges of a tet by local node index.
const TET_EDGES: [[usize; 2]; 6] = [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]];

/// Recovered nodal gradients of a P1 field: the volume-weighted mean of the gradients of the tets at each node.
pub fn recovered_gradients(mesh: &Mesh, field: &[f64]) -> Vec<DVec3> {
    super::post::nodal_average(mesh, |t| {
        let (gradients, _) = barycentric_gradients(mesh.tet_points(t));
        mesh.tets[t].iter().zip(gradients).map(|(&n, g)| field[n as usize] * g).sum()
    })
}

/// The dual's reconstruction: z~ - z_h at the midpoint of the edge (i, j), zero between two Dirichlet nodes.
struct Reconstruction<'a> {
    mesh: &'a Mesh,
    gradient: Vec<DVec3>,
    dirichlet: Vec<bool>,
}

impl Reconstruction<'_> {
    fn midpoint(&self, i: u32, j: u32) -> f64 {
        let (i, j) = (i as usize, j as usize);
        if self.dirichlet[i] && self.dirichlet[j] {
            return 0.0;
        }
        (self.gradient[i] - self.gradient[j]).dot(self.mesh.nodes[j] - self.mesh.nodes[i]) / 8.0
    }

    /// The integrals over a triangle (area `area`, nodes `nodes`) of (z~ - z_h) times each corner's hat function:
    /// the bubble 4 l_b l_c of edge (b, c) integrates to area / 15 against the opposite corner's hat and to
    /// 2 area / 15 against each of its own.
    fn face_moments(&self, nodes: [u32; 3], area: f64) -> [f64; 3] {
        let mut moments = [0.0; 3];
        for (b, c) in [(0, 1), (1, 2), (0, 2)] {
            let d = self.midpoint(nodes[b], nodes[c]) * area / 15.0;
            for (a, m) in moments.iter_mut().enumerate() {
                *m += if a == b || a == c { 2.0 * d } else { d };
            }
        }
        moments
    }
}

/// The dual-weighted residual of the primal `phi` against the dual `dual` (both nodal, Dirichlet values
/// included) for the problem's conditions, with the geometry term of each `curved` surface. See the module notes.
pub fn dual_weighted_residual(
    mesh: &Mesh,
    problem: &Problem,
    phi: &[f64],
    dual: &[f64],
    curved: &[CurvedSurface],
    grouping: &TetGroups,
) -> GoalIndicators {
    let conditions = &problem.boundary_conditions;
    let mut dirichlet = vec![false; mesh.nodes.len()];
    for face in &mesh.boundary_faces {
        if let BoundaryCondition::Dirichlet { .. } = conditions[face.tag as usize] {
            face.nodes.iter().for_each(|&n| dirichlet[n as usize] = true);
        }
    }
    let z = Reconstruction { mesh, gradient: recovered_gradients(mesh, dual), dirichlet };

    // a(phi_h, z~ - z_h) - l(z~ - z_h) element by element; the estimate of Q - Q_h is its negative (Q counts the
    // current leaving, a(phi, w) - l(w) the current entering).
    let tet_residual = |t: usize| {
        let tet = mesh.tets[t];
        let points = mesh.tet_points(t);
        let (gradients, volume) = barycentric_gradients(points);
        let sigma = problem.region_coefficient[mesh.tet_region[t] as usize];
        let grad_phi: DVec3 = (0..4).map(|a| phi[tet[a] as usize] * gradients[a]).sum();
        let mut bubble_gradient = DVec3::ZERO;
        let mut bubble_integral = 0.0;
        for [a, b] in TET_EDGES {
            let d = z.midpoint(tet[a], tet[b]);
            // The integral of grad(4 l_a l_b) over the tet is V (grad l_a + grad l_b); of 4 l_a l_b, V / 5.
            bubble_gradient += d * (gradients[a] + gradients[b]);
            bubble_integral += d / 5.0;
        }
        let mut residual = sigma * volume * grad_phi.dot(bubble_gradient);
        if let Some(source) = problem.source {
            let centroid = points.iter().sum::<DVec3>() / 4.0;
            residual -= source(centroid) * volume * bubble_integral;
        }
        -residual
    };
    let tets: Vec<f64> =
        if grouping.keep_tets { (0..mesh.tets.len()).into_par_iter().map(tet_residual).collect() } else { Vec::new() };
    let value = |t: usize| if grouping.keep_tets { tets[t] } else { tet_residual(t) };
    // Per group, summed over fixed chunks of tets in parallel and the chunks added in order: the same sums on any
    // thread count.
    let chunk = (mesh.tets.len() / 256).max(4096);
    let chunk_sums: Vec<Vec<f64>> = (0..mesh.tets.len().div_ceil(chunk))
        .into_par_iter()
        .map(|c| {
            let mut sums = vec![0.0; grouping.groups];
            for t in c * chunk..((c + 1) * chunk).min(mesh.tets.len()) {
                sums[(grouping.group_of)(t)] += value(t);
            }
            sums
        })
        .collect();
    let mut tet_groups = vec![0.0; grouping.groups];
    for sums in &chunk_sums {
        tet_groups.iter_mut().zip(sums).for_each(|(total, s)| *total += s);
    }

    let face_of_curved: FxHashMap<[u32; 3], usize> = mesh
        .boundary_faces
        .iter()
        .enumerate()
        .filter(|(_, f)| curved.iter().any(|c| c.tag == f.tag))
        .map(|(i, f)| (face_key(f.nodes), i))
        .collect();
    // Only a tet with three nodes on a curved surface can have a face on it: the others skip the lookups.
    let mut on_curved = vec![false; mesh.nodes.len()];
    for key in face_of_curved.keys() {
        key.iter().for_each(|&n| on_curved[n as usize] = true);
    }
    let mut boundary_faces = vec![0.0; mesh.boundary_faces.len()];
    for (face, value) in mesh.boundary_faces.iter().zip(&mut boundary_faces) {
        let area = mesh.face_area(face);
        let moments = z.face_moments(face.nodes, area);
        // l contains the inward current density (Neumann) and the electrode term of Robin; a the Robin mass.
        *value = match conditions[face.tag as usize] {
            BoundaryCondition::Neumann { inward_current_density } => {
                inward_current_density * moments.iter().sum::<f64>()
            }
            BoundaryCondition::Robin { resistance, electrode_potential } => {
                -(0..3).map(|a| (phi[face.nodes[a] as usize] - electrode_potential) * moments[a]).sum::<f64>()
                    / resistance
            }
            // The kinetic outflow against the bubbles by the assembly's edge-midpoint rule (each bubble is 1 at
            // its own edge's midpoint, 0 at the others).
            BoundaryCondition::ButlerVolmer(kinetics) => {
                let phi_mid = midpoint_potentials(face.nodes.map(|n| phi[n as usize]));
                -(area / 3.0)
                    * EDGES
                        .into_iter()
                        .zip(phi_mid)
                        .map(|((b, c), phi)| kinetics.outflow(phi).0 * z.midpoint(face.nodes[b], face.nodes[c]))
                        .sum::<f64>()
            }
            BoundaryCondition::Dirichlet { .. } | BoundaryCondition::Insulating => 0.0,
        };
    }
    let mut geometry = vec![0.0; mesh.boundary_faces.len()];
    if !face_of_curved.is_empty() {
        let (face_of_curved, on_curved) = (&face_of_curved, &on_curved);
        let terms: Vec<(usize, f64)> = (0..mesh.tets.len())
            .into_par_iter()
            .flat_map_iter(|t| {
                let tet = mesh.tets[t];
                let candidate = tet.iter().filter(|&&n| on_curved[n as usize]).count() >= 3;
                crate::mesh::OUTWARD_FACES.iter().filter(move |_| candidate).filter_map(move |local| {
                    let nodes = local.map(|a| tet[a]);
                    face_of_curved.get(&face_key(nodes)).map(|&f| (t, f))
                })
            })
            .map(|(t, f)| {
                let face = &mesh.boundary_faces[f];
                let surface = curved.iter().find(|c| c.tag == face.tag).expect("a curved face's surface");
                let tet = mesh.tets[t];
                let (gradients, _) = barycentric_gradients(mesh.tet_points(t));
                let grad_phi: DVec3 = (0..4).map(|a| phi[tet[a] as usize] * gradients[a]).sum();
                let grad_z: DVec3 = (0..4).map(|a| dual[tet[a] as usize] * gradients[a]).sum();
                let normal2 = mesh.face_normal2(face);
                let area = 0.5 * normal2.length();
                let n = normal2 / (2.0 * area);
                let [p, q, r] = mesh.face_points(face);
                // How far the true surface lies beyond the facet, into the electrolyte, at the facet's edge
                // midpoints (zero at its corners): facets lie inside the sphere.
                let inside = if surface.electrolyte_outside { 1.0 } else { -1.0 };
                let depth = |x: DVec3| inside * (surface.radius - (x - surface.center).length());
                let mean_depth = (depth(0.5 * (p + q)) + depth(0.5 * (q + r)) + depth(0.5 * (p + r))) / 3.0;
                let sigma = problem.region_coefficient[mesh.tet_region[t] as usize];
                // The electrode growing by delta raises a(phi, z) - l(z) by sigma dphi/dn dz/dn delta: the current
                // leaving falls by as much.
                (f, -sigma * grad_phi.dot(n) * grad_z.dot(n) * mean_depth * area)
            })
            .collect();
        for (f, term) in terms {
            boundary_faces[f] += term;
            geometry[f] += term;
        }
    }

    let conductance: Vec<f64> = problem.interface_resistance.iter().map(|r| 1.0 / r).collect();
    let interface_faces: Vec<f64> = mesh
        .interface_faces
        .iter()
        .map(|face| {
            let area = mesh.interface_area(face);
            let (below, above) = (z.face_moments(face.below, area), z.face_moments(face.above, area));
            // (1/R) integral (phi_b - phi_a)(delta_b - delta_a), with phi linear over the face.
            let jump = |k: usize| phi[face.below[k] as usize] - phi[face.above[k] as usize];
            let residual: f64 = (0..3).map(|k| jump(k) * (below[k] - above[k])).sum();
            -conductance[face.tag as usize] * residual
        })
        .collect();

    GoalIndicators { tet_groups, tets, boundary_faces, interface_faces, geometry }
}
