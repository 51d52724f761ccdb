//! `summary.json`: the machine-readable record of a run. The schema is documented in the README;
//! later versions add keys, never rename them.

use crate::mesh::quality::MeshQuality;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub ionflux_version: &'static str,
    /// The git commit ionflux was built from ("unknown" outside a git checkout).
    pub git_revision: &'static str,
    /// The CPU threads the run used (the GPU's adapter is `solver.device`).
    pub threads: usize,
    pub case: CaseInfo,
    pub mesh: MeshSummary,
    pub solver: SolverSummary,
    /// The electrode the voltages are measured against: the `interface` boundary when it holds an electrode
    /// potential (dirichlet, robin or butler_volmer), else the first boundary that does. Null when none does.
    pub reference_electrode: Option<ReferenceElectrode>,
    /// The outer boundaries (box faces), current leaving the domain through each.
    pub boundaries: Vec<Current>,
    /// Hot-spot surfaces (spheres) and patches (disks), current leaving the domain through each.
    pub hotspots: Vec<Current>,
    /// Each group of several hot spots (an array, a random placement, or spots sharing a boundary entry): its
    /// members' currents summed and their mean, smallest and largest.
    pub hotspot_groups: Vec<HotSpotGroup>,
    /// Internal resistive interfaces (`[[layers]] top_resistance`): current crossing each upward.
    pub interfaces: Vec<InterfaceSummary>,
    /// Measurement surfaces of a mesh file (surface groups inside the volume): the current through each along
    /// its stated orientation.
    pub surfaces: Vec<SurfaceCurrent>,
    pub conservation: Conservation,
    /// `[analysis] cylinder_radius`: lateral current through a cylinder around each hot spot's axis.
    pub cylinders: Vec<crate::analysis::CylinderSummary>,
    /// `[analysis] lithiation`: re-lithiation time per depleted sphere hot spot and reaction step.
    pub lithiation: Vec<crate::analysis::lithiation::LithiationStep>,
    /// `[analysis] paper_mode`: the paper's Gaussian-charge model of each sphere hot spot, calibrated to U
    /// at the hot spot's radius, to compare with its Dirichlet-sphere current in `hotspots`.
    pub paper_mode: Vec<crate::analysis::paper::PaperModeResult>,
    /// `[analysis] voids`: focusing factor and constriction resistance of each void (insulating disk).
    pub voids: Vec<crate::analysis::voids::VoidResult>,
    /// The adaptive loop, when the run asked for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapt: Option<AdaptSummary>,
    /// Newton's method, for a case with Butler-Volmer boundaries: each step's relative residual, step length,
    /// linear tolerance and iterations, and the change of the kinetic currents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newton: Option<crate::study::newton::NewtonReport>,
    /// What makes these numbers less than they seem (the solve stopped above rtol in f32, say); also printed.
    pub warnings: Vec<String>,
    pub timings_s: Timings,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseInfo {
    pub name: String,
    pub source: String,
    /// The `--set` overrides applied to the source, in order (the CLI's --backend, --precision, ...
    /// included): source and overrides together reproduce the run's case.
    pub overrides: Vec<String>,
    /// The case text after every override: saved as a `.toml` file, it reproduces the run's case.
    pub resolved_toml: String,
    /// The process's command line.
    pub command_line: Vec<String>,
    /// The `[mesh]` sizes the mesher was given (SI; null on a mesh file). `mesh` below reports the mesh made.
    pub mesh_settings: Option<MeshSettings>,
}

/// The mesh made: its statistics, and the edge lengths under their first names.
#[derive(Debug, Clone, Serialize)]
pub struct MeshSummary {
    #[serde(flatten)]
    pub quality: MeshQuality,
    /// `shortest_edge_m` and `longest_edge_m` under the names of the first releases (keys are never renamed):
    /// edges of the mesh, not the `[mesh]` settings, which `case.mesh_settings` holds.
    pub h_min_m: f64,
    pub h_max_m: f64,
}

impl MeshSummary {
    pub fn new(quality: MeshQuality) -> MeshSummary {
        MeshSummary { quality, h_min_m: quality.shortest_edge_m, h_max_m: quality.longest_edge_m }
    }
}

/// The mesher's sizes as the case resolved them (the node limit is left out: it bounds a mesh without shaping it,
/// and its default follows the memory free when the case was loaded).
#[derive(Debug, Clone, Serialize)]
pub struct MeshSettings {
    pub h_max_m: f64,
    pub h_interface_m: f64,
    pub h_min_m: f64,
    pub grading: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SolverSummary {
    pub backend: String,
    pub precision: String,
    pub device: String,
    pub unknowns: usize,
    pub nonzeros: usize,
    pub iterations: usize,
    /// The true residual met rtol (false only when `solver.accept_unconverged` kept the result).
    pub converged: bool,
    pub relative_residual: f64,
    pub rtol: f64,
    /// Seconds of the iterations.
    pub seconds: f64,
    /// `amg` or `jacobi`.
    pub preconditioner: String,
    /// Multigrid levels, finest first (one entry for Jacobi: the system itself).
    pub levels: Vec<crate::solver::amg::LevelInfo>,
    pub operator_complexity: f64,
    /// Seconds of the preconditioner's setup (0 when an earlier solve's was reused).
    pub setup_seconds: f64,
}

/// The adaptive loop of a run (`[adapt]`, `--accuracy`): the target, whether it was met, and each cycle.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AdaptSummary {
    /// The relative error asked of every estimated current.
    pub target: f64,
    pub met: bool,
    /// The limit that ended the loop before the target was met.
    pub stopped_by: Option<String>,
    pub cycles: Vec<AdaptCycle>,
}

/// One mesh -> solve -> estimate cycle.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AdaptCycle {
    pub nodes: usize,
    pub tets: usize,
    /// The largest |error_estimate_A / current_A| over the estimated currents, whose it is, that current's value
    /// on this cycle's mesh and its estimate (A).
    pub worst_relative_estimate: f64,
    pub worst_current: String,
    #[serde(rename = "current_A")]
    pub current_a: f64,
    #[serde(rename = "error_estimate_A")]
    pub error_estimate_a: f64,
    pub iterations: usize,
    pub seconds: f64,
}

/// Current through one named surface; positive when it leaves the electrolyte domain.
#[derive(Debug, Clone, Serialize)]
pub struct Current {
    pub name: String,
    pub condition: String,
    #[serde(rename = "current_A")]
    pub current_a: f64,
    /// False when |current_A| is below `resolution_bound_A`: the value is lost to cancellation and only known to
    /// be smaller than the bound.
    pub resolved: bool,
    /// How far the current can be off through round-off and the solve's residual (A).
    #[serde(rename = "resolution_bound_A")]
    pub resolution_bound_a: f64,
    /// The area-mean potential over the surface (V): a Neumann electrode's potential, the cell voltage.
    #[serde(rename = "mean_potential_V")]
    pub mean_potential_v: f64,
    /// The surface's area (m^2).
    #[serde(rename = "area_m2")]
    pub area_m2: f64,
    /// Its electrode's potential against the reference electrode (`reference_electrode`, V): the fixed potential
    /// of a dirichlet surface, the electrode potential of a robin or butler_volmer one, the mean potential of a
    /// neumann one (the cell voltage). Null for insulating surfaces and the reference itself.
    #[serde(rename = "voltage_V")]
    pub voltage_v: Option<f64>,
    /// voltage_V over the current density entering through the surface (Ohm m^2): the area-specific resistance
    /// between this electrode and the reference. Box faces and imported surfaces with a resolved, nonzero current.
    #[serde(rename = "area_specific_resistance_Ohm_m2")]
    pub area_specific_resistance: Option<f64>,
    /// The estimate of (exact - computed) current (A): the dual-weighted residual, geometry term included; null
    /// where none is made. The exact current is about current_A + error_estimate_A.
    #[serde(rename = "error_estimate_A")]
    pub error_estimate_a: Option<f64>,
    /// |error_estimate_A / current_A|.
    pub relative_error_estimate: Option<f64>,
    /// The part of error_estimate_A due to the facets of curved surfaces (A).
    #[serde(rename = "geometry_error_estimate_A")]
    pub geometry_error_estimate_a: Option<f64>,
    /// A Butler-Volmer boundary's kinetics and their state at the solution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kinetics: Option<KineticSummary>,
}

/// The currents of a group of hot spots (A, leaving the electrolyte).
#[derive(Debug, Clone, Serialize)]
pub struct HotSpotGroup {
    pub name: String,
    pub members: usize,
    #[serde(rename = "current_sum_A")]
    pub current_sum_a: f64,
    #[serde(rename = "current_mean_A")]
    pub current_mean_a: f64,
    #[serde(rename = "current_min_A")]
    pub current_min_a: f64,
    #[serde(rename = "current_max_A")]
    pub current_max_a: f64,
    /// The estimate of (exact - computed) current_sum_A: the members' estimates summed (currents are linear in the
    /// solution); null where a member has none.
    #[serde(rename = "error_estimate_A")]
    pub error_estimate_a: Option<f64>,
}

/// The electrode the voltages are measured against.
#[derive(Debug, Clone, Serialize)]
pub struct ReferenceElectrode {
    pub name: String,
    #[serde(rename = "potential_V")]
    pub potential_v: f64,
}

/// A Butler-Volmer boundary: its parameters (SI) and, at the solution, the overpotential eta = phi_s - phi - E_eq
/// and the current density leaving the electrolyte, from the faces' edge midpoints.
#[derive(Debug, Clone, Serialize)]
pub struct KineticSummary {
    #[serde(rename = "exchange_current_density_A_per_m2")]
    pub exchange_current_density: f64,
    pub alpha_anodic: f64,
    pub alpha_cathodic: f64,
    #[serde(rename = "equilibrium_potential_V")]
    pub equilibrium_potential_v: f64,
    #[serde(rename = "electrode_potential_V")]
    pub electrode_potential_v: f64,
    #[serde(rename = "film_resistance_ohm_m2")]
    pub film_resistance_ohm_m2: f64,
    /// R T / F.
    #[serde(rename = "thermal_voltage_V")]
    pub thermal_voltage_v: f64,
    /// R T / (F i0 (alpha_a + alpha_c)): the linear limit's area resistance.
    #[serde(rename = "charge_transfer_resistance_ohm_m2")]
    pub charge_transfer_resistance_ohm_m2: f64,
    pub area_m2: f64,
    #[serde(rename = "mean_overpotential_V")]
    pub mean_overpotential_v: f64,
    #[serde(rename = "min_overpotential_V")]
    pub min_overpotential_v: f64,
    #[serde(rename = "max_overpotential_V")]
    pub max_overpotential_v: f64,
    /// current_A / area_m2.
    #[serde(rename = "mean_current_density_A_per_m2")]
    pub mean_current_density: f64,
    /// The largest |j| at a point.
    #[serde(rename = "max_current_density_A_per_m2")]
    pub max_current_density: f64,
    /// max |j| / |mean j| (1: uniform).
    pub non_uniformity: f64,
}

/// The current through a measurement surface, counted along `orientation`.
#[derive(Debug, Clone, Serialize)]
pub struct SurfaceCurrent {
    pub name: String,
    pub orientation: String,
    #[serde(rename = "current_A")]
    pub current_a: f64,
}

/// An internal resistive interface: its resistance, the current crossing it in +z (from the layer into what
/// lies on it) and the mean potential jump phi_above - phi_below.
#[derive(Debug, Clone, Serialize)]
pub struct InterfaceSummary {
    pub name: String,
    #[serde(rename = "resistance_Ohm_m2")]
    pub resistance_ohm_m2: f64,
    #[serde(rename = "current_A")]
    pub current_a: f64,
    #[serde(rename = "potential_jump_V")]
    pub potential_jump_v: f64,
    /// The estimate of (exact - computed) current (A), and its size over |current_A|; null without estimates.
    #[serde(rename = "error_estimate_A")]
    pub error_estimate_a: Option<f64>,
    pub relative_error_estimate: Option<f64>,
}

/// Kirchhoff check: the currents through all surfaces sum to zero up to the solver tolerance.
#[derive(Debug, Clone, Serialize)]
pub struct Conservation {
    #[serde(rename = "sum_A")]
    pub sum_a: f64,
    #[serde(rename = "max_abs_A")]
    pub max_abs_a: f64,
    /// |sum| / max |current|.
    pub relative_imbalance: f64,
}

impl Conservation {
    pub fn of(currents: &[f64]) -> Conservation {
        let sum_a: f64 = currents.iter().sum();
        let max_abs_a = currents.iter().fold(0.0f64, |m, c| m.max(c.abs()));
        let relative_imbalance = if max_abs_a > 0.0 { sum_a.abs() / max_abs_a } else { 0.0 };
        Conservation { sum_a, max_abs_a, relative_imbalance }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timings {
    pub mesh: f64,
    pub assemble: f64,
    pub solve: f64,
    pub post: f64,
    /// The dual solves and indicators of the error estimates.
    pub estimate: f64,
    pub analysis: f64,
}
