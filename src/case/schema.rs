//! The case file as written: serde types that keep the text of every quantity and the span of every
//! field, so that unit and validation errors can name the line. `crate::case` turns them into SI values.
//!
//! No serde-tagged enums here on purpose: they buffer their content and lose the spans. Map values (not
//! keys) are `Spanned` so that serde's error path keeps the key; a table's span starts at its header.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A quantity as written: normally a string "8 um"; a bare number is kept so the error can say that
/// the unit is missing.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum QuantityText {
    Text(String),
    Number(f64),
}

/// A quantity or a [low, high] range ("10 nm" or ["5 nm", "15 nm"]); also a pitch "1 um" or [px, py].
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrList {
    One(QuantityText),
    List(Vec<QuantityText>),
}

pub type Quantity = Spanned<QuantityText>;
pub type QuantityList = Spanned<Vec<QuantityText>>;
pub type Name = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCase {
    pub name: Option<String>,
    /// Required unless the mesh comes from a file (`[mesh] file`).
    pub domain: Option<Spanned<RawDomain>>,
    #[serde(default)]
    pub layers: Vec<RawLayer>,
    #[serde(default)]
    pub materials: BTreeMap<String, Spanned<RawMaterial>>,
    #[serde(default)]
    pub boundaries: BTreeMap<String, Spanned<RawBoundary>>,
    /// Volume groups of a mesh file and their materials.
    #[serde(default)]
    pub regions: BTreeMap<String, Spanned<RawRegion>>,
    #[serde(default)]
    pub hotspots: Vec<RawHotSpot>,
    #[serde(default)]
    pub hotspot_arrays: Vec<RawHotSpotArray>,
    #[serde(default)]
    pub hotspot_random: Vec<RawHotSpotRandom>,
    #[serde(default)]
    pub mesh: RawMesh,
    #[serde(default)]
    pub solver: RawSolver,
    #[serde(default)]
    pub output: RawOutput,
    #[serde(default)]
    pub analysis: RawAnalysis,
    pub adapt: Option<Spanned<RawAdapt>>,
    /// "348 K" or "75 degC": F / (R T) of Butler-Volmer boundaries (required when one exists).
    pub temperature: Option<Quantity>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdapt {
    pub target: Option<Spanned<String>>,
    pub max_cycles: Option<Spanned<u64>>,
    pub max_nodes: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDomain {
    pub size: QuantityList,
    pub material: Name,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegion {
    pub material: Name,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLayer {
    pub material: Name,
    pub thickness: Quantity,
    pub top_resistance: Option<Quantity>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaterial {
    pub conductivity: Quantity,
    pub relative_permittivity: Option<Spanned<f64>>,
}

/// All condition fields are optional here; which ones a `type` needs is checked when the case is built.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBoundary {
    #[serde(rename = "type")]
    pub kind: Name,
    pub potential: Option<Quantity>,
    pub current_density: Option<Quantity>,
    pub resistance: Option<Quantity>,
    pub electrode_potential: Option<Quantity>,
    pub exchange_current_density: Option<Quantity>,
    pub alpha_anodic: Option<Spanned<f64>>,
    pub alpha_cathodic: Option<Spanned<f64>>,
    pub equilibrium_potential: Option<Quantity>,
    pub film_resistance: Option<Quantity>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHotSpot {
    pub name: Name,
    pub shape: Name,
    pub center: QuantityList,
    pub radius: Quantity,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHotSpotArray {
    pub name: Name,
    pub shape: Name,
    pub nx: Spanned<u32>,
    pub ny: Spanned<u32>,
    pub pitch: Spanned<OneOrList>,
    pub center: QuantityList,
    pub radius: Quantity,
    pub depth: Option<Quantity>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHotSpotRandom {
    pub name: Name,
    pub shape: Name,
    pub count: Option<Spanned<u32>>,
    pub areal_density: Option<Quantity>,
    pub radius: Spanned<OneOrList>,
    pub depth: Option<Spanned<OneOrList>>,
    #[serde(default)]
    pub seed: u64,
    pub min_gap: Option<Quantity>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMesh {
    /// A Gmsh MSH 4.1 file instead of the generator, and the length unit of its coordinates.
    pub file: Option<Name>,
    pub unit: Option<Name>,
    pub h_max: Option<Quantity>,
    pub h_min: Option<Quantity>,
    pub h_interface: Option<Quantity>,
    pub grading: Option<Spanned<f64>>,
    pub max_nodes: Option<Spanned<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSolver {
    pub backend: Option<crate::solver::settings::Backend>,
    pub precision: Option<crate::solver::settings::Precision>,
    pub preconditioner: Option<crate::solver::settings::PreconditionerKind>,
    pub adapter: Option<String>,
    pub rtol: Option<Spanned<f64>>,
    pub atol: Option<Spanned<f64>>,
    pub max_iter: Option<Spanned<u64>>,
    pub check_every: Option<Spanned<u64>>,
    pub accept_unconverged: Option<bool>,
    pub max_newton_steps: Option<Spanned<u64>>,
    pub petsc_options: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    pub vtu: Option<bool>,
    pub summary_json: Option<bool>,
    pub vtu_compression: Option<Spanned<String>>,
    pub fields: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnalysis {
    pub cylinder_radius: Option<Quantity>,
    pub cylinder_depth: Option<QuantityList>,
    /// Mesh files: the cylinder's axis (x, y) and the boundary whose plane its depths start from.
    pub cylinder_axis: Option<QuantityList>,
    pub cylinder_plane: Option<Name>,
    pub lithiation: Option<bool>,
    pub lithiation_increments: Option<Spanned<u64>>,
    pub paper_mode: Option<Spanned<bool>>,
    pub paper_width: Option<Quantity>,
    pub voids: Option<Spanned<bool>>,
    pub error_estimates: Option<bool>,
}
