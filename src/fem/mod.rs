//! P1 finite elements for -div(k grad u) = f with piecewise-constant k per region.
//!
//! [`assemble`] turns a mesh and a [`Problem`] into a reduced SPD system over the free (non-Dirichlet)
//! nodes; [`FluxRecovery::boundary_currents`] turns the solution into the current through each boundary;
//! [`post`] derives current densities and the currents through internal resistive interfaces.
//!
//! An internal resistive interface (a plane whose nodes the mesh duplicates, [`crate::mesh::InterfaceFace`])
//! carries J.n = (phi_below - phi_above) / R: the weak form gains (1/R) integral (phi_a - phi_b)(v_a - v_b)
//! over the plane, assembled with the consistent face mass. It is symmetric positive semidefinite, so the
//! reduced matrix stays SPD.

mod assembly;
mod element;
pub mod estimate;
mod kinetics;
pub mod post;
mod recovery;
mod rows;

pub use kinetics::{kinetic_surfaces, KineticResidual, KineticSurface, Kinetics, EXPONENT_CAP};
pub use post::InterfaceCurrent;

pub use assembly::{assemble, stiffness_matrix, Assembly};
pub use element::{barycentric_gradients, element_stiffness};
pub use recovery::FluxRecovery;

use crate::mesh::Mesh;
use glam::DVec3;

/// Why a problem could not be assembled. Each variant names the region, boundary or tet at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FemError {
    #[error("the problem gives {given} region coefficients but the mesh has {expected} regions ({names})")]
    RegionCountMismatch { given: usize, expected: usize, names: String },
    #[error("the problem gives {given} boundary conditions but the mesh has {expected} boundaries ({names})")]
    BoundaryCountMismatch { given: usize, expected: usize, names: String },
    #[error("region `{region}` has coefficient {value:e}; it must be finite and > 0")]
    BadCoefficient { region: String, value: f64 },
    #[error("boundary `{boundary}`: Robin resistance {value:e} Ohm m^2 must be finite and > 0")]
    BadRobinResistance { boundary: String, value: f64 },
    #[error("boundary `{boundary}`: Butler-Volmer {field} is {value:e}; {need}")]
    BadKinetics { boundary: String, field: &'static str, value: f64, need: &'static str },
    #[error("the problem gives {given} interface resistances but the mesh has {expected} interfaces ({names})")]
    InterfaceCountMismatch { given: usize, expected: usize, names: String },
    #[error("interface `{interface}`: resistance {value:e} Ohm m^2 must be finite and > 0")]
    BadInterfaceResistance { interface: String, value: f64 },
    #[error("boundary `{boundary}`: {field} is {value}, it must be finite")]
    NonFiniteBoundaryValue { boundary: String, field: &'static str, value: f64 },
    #[error("tet {tet} has non-positive volume {volume_m3:.3e} m^3")]
    BadElement { tet: usize, volume_m3: f64 },
    #[error("tet {tet} has region id {region}, but the mesh names only {count} regions")]
    UnknownRegion { tet: usize, region: u16, count: usize },
    #[error("boundary face {face} has tag {tag}, but the mesh names only {count} boundaries")]
    UnknownBoundary { face: usize, tag: u16, count: usize },
    #[error("node {node} belongs to no tet, so nothing determines its potential (remove it from the mesh)")]
    OrphanNode { node: usize },
    #[error("singular problem: {}", SINGULAR_REASON)]
    Singular,
    #[error(
        "singular problem: a body of the mesh ({nodes} nodes, region `{region}`) touches no boundary with a \
         dirichlet, robin or butler_volmer condition, so its potential is undefined; give it such a boundary, join it to the rest, \
         or remove it from the mesh"
    )]
    FloatingBody { region: String, nodes: usize },
}

/// A condition on one named boundary. Signs: `inward_current_density` is the current per area
/// entering the domain (A/m^2); Robin is J.n = (phi - electrode_potential) / resistance with n
/// the outward normal, i.e. an interfacial resistance (Ohm m^2) to an electrode at a fixed potential;
/// Butler-Volmer is the nonlinear kinetics of [`Kinetics`] (its linear limit is Robin, its fast limit Dirichlet).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BoundaryCondition {
    Dirichlet { potential: f64 },
    Neumann { inward_current_density: f64 },
    Insulating,
    Robin { resistance: f64, electrode_potential: f64 },
    ButlerVolmer(Kinetics),
}

impl BoundaryCondition {
    /// Whether the condition pins the potential (Dirichlet directly, Robin and Butler-Volmer through their
    /// electrode): a problem needs one such boundary face, else the potential is defined only up to a constant.
    pub fn fixes_potential(&self) -> bool {
        matches!(
            self,
            BoundaryCondition::Dirichlet { .. } | BoundaryCondition::Robin { .. } | BoundaryCondition::ButlerVolmer(_)
        )
    }
}

/// Why a problem without a potential-fixing boundary is refused (the case file's check says the same).
pub const SINGULAR_REASON: &str = "no boundary of the domain has a dirichlet, robin or butler_volmer condition, so \
     the potential \
     is defined only up to a constant; give at least one boundary (e.g. [boundaries.interface]) type = \
     \"dirichlet\" or \"robin\"";

fn fixes_potential(face: &crate::mesh::BoundaryFace, conditions: &[BoundaryCondition]) -> bool {
    conditions.get(face.tag as usize).is_some_and(|c| c.fixes_potential())
}

/// [`FemError::Singular`] unless a boundary face of the mesh carries a condition that fixes the potential (a
/// cheap check the case makes when it binds to a mesh).
pub fn check_potential_fixed(mesh: &Mesh, conditions: &[BoundaryCondition]) -> Result<(), FemError> {
    if mesh.boundary_faces.iter().any(|f| fixes_potential(f, conditions)) {
        Ok(())
    } else {
        Err(FemError::Singular)
    }
}

/// [`FemError::FloatingBody`] when a connected part of the mesh (tets sharing nodes, or joined by a resistive
/// interface) has no face whose condition fixes the potential: its potential would be arbitrary (an imported file
/// with a second body). A union-find over the tets, run once per assembly.
pub fn check_no_floating_body(mesh: &Mesh, conditions: &[BoundaryCondition]) -> Result<(), FemError> {
    let mut bodies = NodeSets::new(mesh.nodes.len());
    for tet in &mesh.tets {
        tet[1..].iter().for_each(|&n| bodies.join(tet[0], n));
    }
    for face in &mesh.interface_faces {
        bodies.join(face.below[0], face.above[0]);
    }
    let mut fixed = vec![false; mesh.nodes.len()];
    for face in mesh.boundary_faces.iter().filter(|f| fixes_potential(f, conditions)) {
        let root = bodies.find(face.nodes[0]);
        fixed[root as usize] = true;
    }
    let floating = mesh.tets.iter().position(|tet| !fixed[bodies.find(tet[0]) as usize]);
    match floating {
        None => Ok(()),
        Some(t) => {
            let root = bodies.find(mesh.tets[t][0]);
            let nodes = (0..mesh.nodes.len() as u32).filter(|&n| bodies.find(n) == root).count();
            let region = mesh.region_names.get(mesh.tet_region[t] as usize).cloned().unwrap_or_default();
            Err(FemError::FloatingBody { region, nodes })
        }
    }
}

/// Disjoint sets of nodes (union-find with path halving and union by index): the connected bodies of a mesh.
struct NodeSets {
    parent: Vec<u32>,
}

impl NodeSets {
    fn new(n: usize) -> NodeSets {
        NodeSets { parent: (0..n as u32).collect() }
    }

    fn find(&mut self, mut node: u32) -> u32 {
        while self.parent[node as usize] != node {
            let grand = self.parent[self.parent[node as usize] as usize];
            self.parent[node as usize] = grand;
            node = grand;
        }
        node
    }

    fn join(&mut self, a: u32, b: u32) {
        let (a, b) = (self.find(a), self.find(b));
        // The smaller index becomes the root: the result does not depend on the order of the joins.
        match a.cmp(&b) {
            std::cmp::Ordering::Less => self.parent[b as usize] = a,
            std::cmp::Ordering::Greater => self.parent[a as usize] = b,
            std::cmp::Ordering::Equal => {}
        }
    }
}

/// A volumetric source f(x) (A/m^3 in current mode, C/m^3 in Poisson mode).
pub type Source = dyn Fn(DVec3) -> f64 + Sync;

/// Everything assembly needs besides the mesh.
pub struct Problem<'a> {
    /// Coefficient per region id (conductivity S/m, or permittivity F/m in Poisson mode).
    pub region_coefficient: Vec<f64>,
    /// Condition per boundary tag (same order as `Mesh::boundary_names`).
    pub boundary_conditions: Vec<BoundaryCondition>,
    /// Resistance (Ohm m^2) per internal interface tag (same order as `Mesh::interface_names`).
    pub interface_resistance: Vec<f64>,
    pub source: Option<&'a Source>,
}
