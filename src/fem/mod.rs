//! P1 finite elements for -div(k grad u) = f with piecewise-constant k per region.

use glam::DVec3;

/// A condition on one named boundary. Signs: `inward_current_density` is the current per area
/// entering the domain (A/m^2); Robin is J.n = (phi - electrode_potential) / resistance with n
/// the outward normal, i.e. an interfacial resistance (Ohm m^2) to an electrode at a fixed potential.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BoundaryCondition {
    Dirichlet { potential: f64 },
    Neumann { inward_current_density: f64 },
    Insulating,
    Robin { resistance: f64, electrode_potential: f64 },
}

/// A volumetric source f(x) (A/m^3 in current mode, C/m^3 in Poisson mode).
pub type Source = dyn Fn(DVec3) -> f64 + Sync;

/// Everything assembly needs besides the mesh.
pub struct Problem<'a> {
    /// Coefficient per region id (conductivity S/m, or permittivity F/m in Poisson mode).
    pub region_coefficient: Vec<f64>,
    /// Condition per boundary tag (same order as `Mesh::boundary_names`).
    pub boundary_conditions: Vec<BoundaryCondition>,
    pub source: Option<&'a Source>,
}
