//! Case files: TOML with an explicit unit on every dimensional value, read into SI values.
//!
//! ```toml
//! name = "slab with interlayer"            # optional; default: the file name without extension
//!
//! [domain]                                  # the box [0, Lx] x [0, Ly] x [0, H]; interface z = 0, top z = H
//! size = ["8 um", "8 um", "8 um"]           # Lx, Ly, H (each > 0)
//! material = "llzo"                         # the bulk electrolyte above the layers
//!
//! [[layers]]                                # optional, any number, stacked from z = 0 upward;
//! material = "li3sb"                        # their total thickness must be below H
//! thickness = "20 nm"
//! top_resistance = "0.13 Ohm cm^2"          # optional, > 0: interfacial resistance between this layer and
//!                                           # what lies on it (next layer or bulk), J.n = jump of phi / R;
//!                                           # reported as interface `<material>|<material above>`
//!
//! [materials.llzo]                          # every material a region uses must be defined
//! conductivity = "0.00216 S/cm"             # > 0
//! relative_permittivity = 72.87             # plain number, optional, default 1
//!
//! [boundaries.top]                          # interface, top, x_min, x_max, y_min, y_max, a hot-spot name,
//! type = "neumann"                          # or an array / random group name; absent boundaries are insulating
//! current_density = "50 mA/cm^2"            # current per area flowing INTO the domain
//! # type = "dirichlet": potential = "0 V"
//! # type = "robin": resistance = "0.13 Ohm cm^2" (> 0), electrode_potential = "0 V" (optional, default 0 V);
//! #   J.n = (phi - electrode_potential) / resistance with n the outward normal
//! # type = "insulating": no other key
//!
//! [[hotspots]]                              # any number; the name is the boundary's name
//! name = "sb"
//! shape = "sphere"                          # sphere (removed from the domain; centre z > radius) | disk
//! center = ["4 um", "4 um", "25 nm"]        # disk: ["4 um", "4 um"] on the interface plane z = 0
//! radius = "10 nm"
//!
//! [[hotspot_arrays]]                        # nx x ny members on a regular grid centred on `center`,
//! name = "spots"                            # named spots_<i>_<j> (i along x, j along y); one
//! shape = "disk"                            # [boundaries.spots] gives all of them their condition,
//! nx = 5                                    # [boundaries.spots_1_2] overrides it for one member
//! ny = 5
//! pitch = "1.5 um"                          # or ["1.5 um", "1 um"] for different x and y pitches
//! center = ["4 um", "4 um"]
//! radius = "50 nm"
//! # depth = "40 nm"                         # spheres only (required there): centre z
//!
//! [[hotspot_random]]                        # seeded random placement, named rand_<k>
//! name = "rand"
//! shape = "sphere"
//! count = 10                                # or areal_density = "0.2 um^-2" (count = round(density Lx Ly))
//! radius = ["5 nm", "15 nm"]                # uniform in the range, or one value
//! depth = "40 nm"                           # spheres only (required there): centre z, one value or a range
//! seed = 7                                  # optional, default 0
//! min_gap = "10 nm"                         # optional, default 0: least distance to other hot spots
//!                                           # (surface to surface) and to the box sides
//!
//! [mesh]                                    # all optional
//! h_max = "1 um"                            # default: smallest box side / 8
//! h_interface = "200 nm"                    # default: h_max / 8
//! h_min = "2 nm"                            # default: min(h_interface, smallest hot-spot radius / 5)
//! grading = 1.3                             # default 1.3; must be > 1; need h_min <= h_interface <= h_max
//!
//! [solver]                                  # all optional
//! backend = "auto"                          # auto | cpu | gpu (default auto)
//! precision = "mixed"                       # mixed | f32 | f64 (GPU; the CPU is always f64), default mixed
//! adapter = "RTX"                           # GPU adapter whose name contains this (default: the best one)
//! rtol = 1e-10                              # stop when ||r|| <= max(rtol ||b||, atol); default 1e-10, 0 < rtol < 1
//! atol = 0.0                                # default 0 (in the units of the right-hand side, A)
//! max_iter = 20000                          # default 20000
//! check_every = 32                          # GPU: read the residual back every this many iterations (default 32)
//!
//! [analysis]                                # all optional: numbers computed from the solved field
//! cylinder_radius = "1.5 um"                # lateral current through a vertical cylinder around each hot spot
//! cylinder_depth = ["0 um", "8 um"]         # depth range of the cylinder, default 0..H
//! lithiation = true                         # re-lithiation time of each depleted sphere hot spot (Sb), one
//!                                           # solve per step (Sb->Li2Sb at 0.90 V, Li2Sb->Li3Sb at 0.85 V)
//! lithiation_increments = 1                 # > 1: quasi-static, the radius shrinks in this many steps
//! paper_mode = true                         # also solve the paper's Gaussian-charge model of the (single,
//!                                           # sphere) hot spot, calibrated to U at its radius; default false
//! paper_width = "2 nm"                      # Gaussian width of paper mode, default 2 nm
//! voids = true                              # current focusing and constriction resistance of every void
//!                                           # (disk hot spot with an insulating condition, also when it has
//!                                           # no boundary entry); needs a dirichlet or robin interface and a
//!                                           # non-insulating top; one extra solve; default false
//!
//! [output]                                  # all optional
//! vtu = true                                # write solution.vtu (default true)
//! summary_json = true                       # write summary.json (default true)
//! ```
//!
//! Hot spots (explicit, array members and random ones) must lie strictly inside the box (disks inside the
//! interface rectangle) and must not overlap or touch; an array or a random placement makes at most
//! 10 000 (`MAX_HOT_SPOTS_PER_GROUP`). Random placement draws radius, x, y (and depth) per
//! hot spot from SplitMix64 seeded with `seed` and redraws a candidate that overlaps any hot spot placed
//! before it (explicit, array, earlier random), so a seed gives the same hot spots on every platform.
//! A layer's `top_resistance` makes its top plane an internal resistive interface: the mesh duplicates the
//! nodes there (the potential may jump, J.n = (phi_below - phi_above) / R, coupled with the consistent face
//! mass), and no sphere hot spot may touch that plane.
//! At least one existing boundary must be Dirichlet or Robin, else the potential is defined only up to a
//! constant.
//!
//! `--set key.path=value` overrides any value before the file is read: the value is read as TOML
//! ("1e-8", "[\"4 um\", \"4 um\", \"4 um\"]", "\"1 nm\"") or else taken as a plain string ("1 nm");
//! entries of `[[...]]` arrays are picked by index or by name (`hotspots.sb.radius=20 nm`).

mod hotspots;
pub use hotspots::SplitMix64;
mod schema;
mod source;
pub mod units;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;

use glam::DVec3;

use crate::case::units::{parse_quantity, Dimension, UnitError};
use crate::fem::{BoundaryCondition, Problem};
use crate::mesh::geometry::{Geometry, HotSpot, Layer, MeshControls};
use crate::mesh::structured::BOX_BOUNDARIES;
use crate::mesh::Mesh;
use crate::solver::settings::{SolverSettings, DEFAULT_CHECK_EVERY};
use crate::solver::CgOptions;
use schema::{OneOrList, QuantityText, RawBoundary, RawCase};
use source::SourceText;

/// The built-in default case (the paper's 3D hot spot), the text of `meshes/default.toml`.
pub const DEFAULT_CASE_TOML: &str = include_str!("../../meshes/default.toml");
/// Gaussian width of paper mode when `[analysis] paper_width` is not given: the paper's 2 nm.
pub const DEFAULT_PAPER_WIDTH_M: f64 = 2e-9;
/// The source name errors in the built-in default case carry.
pub const DEFAULT_SOURCE: &str = "built-in default";

/// Where a value came from: the source (file path or "built-in default"), its 1-based line when known,
/// or the `--set` override that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub source: String,
    pub line: Option<usize>,
    pub from_set: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.line, &self.from_set) {
            (Some(line), _) => write!(f, "{}, line {line}", self.source),
            (None, Some(set)) => write!(f, "{} (from --set {set})", self.source),
            (None, None) => f.write_str(&self.source),
        }
    }
}

/// Why a case could not be read. Every variant says where (`at`, boxed to keep `Result<_, CaseError>` small)
/// and, where one field is at fault, which.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("{at}: cannot read the case file: {error}")]
    Io { at: Box<Location>, error: std::io::Error },
    #[error("{at}, column {column}: malformed TOML: {message}")]
    Syntax { at: Box<Location>, column: usize, message: String },
    #[error("{at}: `{field}`: {message}")]
    Schema { at: Box<Location>, field: String, message: String },
    #[error("{at}: `{field}`: {error}")]
    Unit { at: Box<Location>, field: String, error: UnitError },
    #[error("{at}: `{field}`: {reason}")]
    Invalid { at: Box<Location>, field: String, reason: String },
    #[error("{at}: `{field}`: hot spot `{name}` does not lie inside the box: {reason}")]
    HotSpotOutsideBox { at: Box<Location>, field: String, name: String, reason: String },
    #[error("{at}: `{field}`: hot spots `{first}` and `{second}` overlap: {reason}")]
    HotSpotsOverlap { at: Box<Location>, field: String, first: String, second: String, reason: String },
    #[error("{at}: `{field}`: sphere hot spot `{name}` cuts the interface plane z = 0: {reason}")]
    HotSpotCutsInterface { at: Box<Location>, field: String, name: String, reason: String },
    #[error("{at}: `{field}`: cannot place the random hot spots `{name}`: {reason}")]
    Placement { at: Box<Location>, field: String, name: String, reason: String },
    #[error("{at}: `{field}`: no boundary is named `{name}`; known boundaries: {known}")]
    UnknownBoundary { at: Box<Location>, field: String, name: String, known: String },
    #[error("{at}: `{field}`: the mesh region `{region}` has no material; known materials: {known}")]
    MissingMaterial { at: Box<Location>, field: String, region: String, known: String },
    #[error("{at}: `boundaries`: singular problem: {reason}")]
    Singular { at: Box<Location>, reason: String },
    #[error("{at}: {reason}")]
    Override { at: Box<Location>, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Material {
    /// S/m
    pub conductivity: f64,
    /// Dimensionless (default 1).
    pub relative_permittivity: f64,
}

/// A boundary condition of the case and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseBoundary {
    pub condition: BoundaryCondition,
    pub at: Location,
}

/// A vertical cylinder around every hot spot's axis, over depths z_min..z_max (metres).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CylinderSpec {
    pub radius: f64,
    pub z_min: f64,
    pub z_max: f64,
}

/// Numbers computed from the solved field (`[analysis]`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AnalysisSettings {
    pub cylinder: Option<CylinderSpec>,
    /// Radius increments of the re-lithiation integral; `None`: no lithiation estimate.
    pub lithiation_increments: Option<usize>,
    /// Gaussian width of paper mode (m); `None`: no paper mode.
    pub paper_width: Option<f64>,
    /// Focusing factor and constriction resistance of the voids (insulating disk hot spots).
    pub voids: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputSettings {
    /// Write solution.vtu.
    pub vtu: bool,
    /// Write summary.json.
    pub summary_json: bool,
}

/// A validated case in SI units.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub name: String,
    /// File path or "built-in default", for messages.
    pub source: String,
    /// Hot spots include the members of arrays and random placements.
    pub geometry: Geometry,
    pub mesh: MeshControls,
    pub materials: BTreeMap<String, Material>,
    /// Keyed by boundary name, hot-spot name or hot-spot group.
    pub boundaries: BTreeMap<String, CaseBoundary>,
    pub solver: SolverSettings,
    pub analysis: AnalysisSettings,
    pub output: OutputSettings,
}

impl Case {
    /// Reads a case file; `overrides` are `--set key.path=value` strings.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Case, CaseError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| CaseError::Io {
            at: Box::new(Location { source: source.clone(), line: None, from_set: None }),
            error,
        })?;
        Case::from_toml_str(&text, &source, overrides)
    }

    /// Reads a case from text; `source` names it in messages.
    pub fn from_toml_str(text: &str, source: &str, overrides: &[String]) -> Result<Case, CaseError> {
        let source_text = SourceText::new(source, text, overrides)?;
        let raw: RawCase =
            serde_path_to_error::deserialize(toml::Deserializer::new(&source_text.text)).map_err(|error| {
                let field = field_path(error.path());
                let at = match error.inner().span() {
                    Some(span) => source_text.locate(span, &field),
                    None => source_text.whole(),
                };
                CaseError::Schema { at: at.into(), field, message: error.inner().message().to_string() }
            })?;
        Builder { source: &source_text }.build(raw)
    }

    /// The built-in default: the paper's 3D hot spot (meshes/default.toml).
    pub fn default_case() -> Case {
        Case::from_toml_str(DEFAULT_CASE_TOML, DEFAULT_SOURCE, &[]).expect("meshes/default.toml is a valid case")
    }

    /// The condition of a mesh boundary: its own entry, else its hot-spot group's, else insulating.
    pub fn condition_for(&self, boundary: &str) -> BoundaryCondition {
        let group = self.geometry.hotspots.iter().find(|h| h.name == boundary).map(|h| h.group.as_str());
        self.condition_with_group(boundary, group)
    }

    fn condition_with_group(&self, boundary: &str, group: Option<&str>) -> BoundaryCondition {
        self.entry(boundary, group).map_or(BoundaryCondition::Insulating, |b| b.condition)
    }

    /// A hot spot's boundary entry: its own, else its group's.
    pub fn boundary_for(&self, spot: &HotSpot) -> Option<&CaseBoundary> {
        self.entry(&spot.name, Some(&spot.group))
    }

    fn entry(&self, boundary: &str, group: Option<&str>) -> Option<&CaseBoundary> {
        self.boundaries.get(boundary).or_else(|| group.and_then(|g| self.boundaries.get(g)))
    }

    /// Conductivity per mesh region and condition per mesh boundary, in the mesh's order.
    pub fn problem(&self, mesh: &Mesh) -> Result<Problem<'static>, CaseError> {
        let whole = Location { source: self.source.clone(), line: None, from_set: None };
        let region_coefficient = mesh
            .region_names
            .iter()
            .map(|region| {
                self.materials.get(region).map(|m| m.conductivity).ok_or_else(|| CaseError::MissingMaterial {
                    at: whole.clone().into(),
                    field: "materials".into(),
                    region: region.clone(),
                    known: join(self.materials.keys()),
                })
            })
            .collect::<Result<Vec<f64>, CaseError>>()?;
        let group_of: HashMap<&str, &str> =
            self.geometry.hotspots.iter().map(|h| (h.name.as_str(), h.group.as_str())).collect();
        // Names a [boundaries.X] entry may take on this mesh: its boundaries and their hot-spot groups.
        let (known, seen) = unique_names(
            mesh.boundary_names
                .iter()
                .flat_map(|name| [Some(name.as_str()), group_of.get(name.as_str()).copied()])
                .flatten(),
        );
        for (name, boundary) in &self.boundaries {
            if !seen.contains(name.as_str()) {
                return Err(CaseError::UnknownBoundary {
                    at: boundary.at.clone().into(),
                    field: format!("boundaries.{name}"),
                    name: name.clone(),
                    known: join(&known),
                });
            }
        }
        let boundary_conditions: Vec<BoundaryCondition> = mesh
            .boundary_names
            .iter()
            .map(|name| self.condition_with_group(name, group_of.get(name.as_str()).copied()))
            .collect();
        let anchored = mesh
            .boundary_faces
            .iter()
            .any(|face| boundary_conditions.get(face.tag as usize).is_some_and(fixes_potential));
        if !anchored {
            return Err(CaseError::Singular { at: whole.into(), reason: SINGULAR_REASON.into() });
        }
        // The mesher cuts the resistive planes open in this order and under these names.
        let planes = self.geometry.resistive_planes();
        if !mesh.interface_names.iter().eq(planes.iter().map(|p| &p.name)) {
            return Err(CaseError::Invalid {
                at: whole.into(),
                field: "layers".into(),
                reason: format!(
                    "the mesh's resistive interfaces ({}) are not the layers' ({})",
                    join(&mesh.interface_names),
                    join(planes.iter().map(|p| &p.name))
                ),
            });
        }
        let interface_resistance = planes.iter().map(|p| p.resistance).collect();
        Ok(Problem { region_coefficient, boundary_conditions, interface_resistance, source: None })
    }
}

const SINGULAR_REASON: &str = "no boundary of the domain has a Dirichlet or Robin condition, so the potential is \
     defined only up to a constant; give at least one boundary (e.g. [boundaries.interface]) type = \"dirichlet\" \
     or \"robin\"";

fn fixes_potential(condition: &BoundaryCondition) -> bool {
    matches!(condition, BoundaryCondition::Dirichlet { .. } | BoundaryCondition::Robin { .. })
}

/// The names in first-seen order without repeats, and the same names as a set.
fn unique_names<'a>(names: impl IntoIterator<Item = &'a str>) -> (Vec<&'a str>, HashSet<&'a str>) {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    for name in names {
        if seen.insert(name) {
            order.push(name);
        }
    }
    (order, seen)
}

fn join<T: fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let names: Vec<String> = items.into_iter().map(|item| item.to_string()).collect();
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

/// "domain.size[0]" from serde's path, without the private keys `toml::Spanned` adds.
fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut field = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => field.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } if !key.starts_with("$__") => {
                if !field.is_empty() {
                    field.push('.');
                }
                field.push_str(key);
            }
            _ => {}
        }
    }
    if field.is_empty() {
        "(top level)".into()
    } else {
        field
    }
}

/// A length for messages: "25 nm", "1.5 um".
pub(crate) fn show_length(metres: f64) -> String {
    let (value, unit) = if metres.abs() < 1e-6 {
        (metres * 1e9, "nm")
    } else if metres.abs() < 1e-3 {
        (metres * 1e6, "um")
    } else {
        (metres, "m")
    };
    format!("{} {unit}", (value * 1e6).round() / 1e6)
}

/// Turns the raw case into SI values, checking every field.
struct Builder<'a> {
    source: &'a SourceText,
}

impl Builder<'_> {
    fn at(&self, span: Range<usize>, field: &str) -> Location {
        self.source.locate(span, field)
    }

    fn invalid(&self, span: Range<usize>, field: &str, reason: String) -> CaseError {
        self.invalid_at(Some(span), field, reason)
    }

    /// An invalid value; without a span (a default value) the error names the source only.
    fn invalid_at(&self, span: Option<Range<usize>>, field: &str, reason: String) -> CaseError {
        let at = span.map_or_else(|| self.source.whole(), |span| self.at(span, field));
        CaseError::Invalid { at: at.into(), field: field.to_string(), reason }
    }

    fn convert(
        &self,
        text: &QuantityText,
        span: Range<usize>,
        field: &str,
        dimension: Dimension,
    ) -> Result<f64, CaseError> {
        let result = match text {
            QuantityText::Text(text) => parse_quantity(text, dimension),
            QuantityText::Number(number) => {
                Err(UnitError::MissingUnit { text: number.to_string(), expected: dimension })
            }
        };
        result.map_err(|error| CaseError::Unit { at: self.at(span, field).into(), field: field.to_string(), error })
    }

    fn quantity(&self, quantity: &schema::Quantity, field: &str, dimension: Dimension) -> Result<f64, CaseError> {
        self.convert(quantity.get_ref(), quantity.span(), field, dimension)
    }

    fn positive(&self, quantity: &schema::Quantity, field: &str, dimension: Dimension) -> Result<f64, CaseError> {
        let value = self.quantity(quantity, field, dimension)?;
        if value > 0.0 && value.is_finite() {
            Ok(value)
        } else {
            Err(self.invalid(quantity.span(), field, format!("must be positive (got {value:e} in SI units)")))
        }
    }

    /// Exactly `count` quantities ("center", "size").
    fn list(
        &self,
        list: &schema::QuantityList,
        field: &str,
        dimension: Dimension,
        count: usize,
    ) -> Result<Vec<f64>, CaseError> {
        if list.get_ref().len() != count {
            let reason = format!("needs {count} values, got {}", list.get_ref().len());
            return Err(self.invalid(list.span(), field, reason));
        }
        list.get_ref()
            .iter()
            .enumerate()
            .map(|(i, text)| self.convert(text, list.span(), &format!("{field}[{i}]"), dimension))
            .collect()
    }

    /// One positive value v (as (v, v)) or two [a, b] with 0 < a <= b.
    fn positive_pair(
        &self,
        value: &toml::Spanned<OneOrList>,
        field: &str,
        dimension: Dimension,
    ) -> Result<(f64, f64), CaseError> {
        let span = value.span();
        let (a, b) = match value.get_ref() {
            OneOrList::One(text) => {
                let v = self.convert(text, span.clone(), field, dimension)?;
                (v, v)
            }
            OneOrList::List(texts) if texts.len() == 2 => (
                self.convert(&texts[0], span.clone(), &format!("{field}[0]"), dimension)?,
                self.convert(&texts[1], span.clone(), &format!("{field}[1]"), dimension)?,
            ),
            OneOrList::List(texts) => {
                return Err(self.invalid(span, field, format!("needs one value or two, got {}", texts.len())))
            }
        };
        if !(a > 0.0 && a <= b && b.is_finite()) {
            return Err(self.invalid(span, field, format!("needs 0 < first <= second (got {a:e}, {b:e} in SI units)")));
        }
        Ok((a, b))
    }

    fn build(&self, raw: RawCase) -> Result<Case, CaseError> {
        let size_values = self.list(&raw.domain.size, "domain.size", Dimension::Length, 3)?;
        for (axis, value) in ["Lx", "Ly", "H"].iter().zip(&size_values) {
            if !(*value > 0.0 && value.is_finite()) {
                let reason = format!("{axis} must be positive (got {})", show_length(*value));
                return Err(self.invalid(raw.domain.size.span(), "domain.size", reason));
            }
        }
        let size = DVec3::new(size_values[0], size_values[1], size_values[2]);
        let materials = self.materials(&raw)?;
        let layers = self.layers(&raw, &materials, size.z)?;
        let bulk = &raw.domain.material;
        self.check_material_exists(bulk, "domain.material", &materials)?;
        let hotspots = hotspots::expand(self, &raw, size)?;
        let boundaries = self.boundaries(&raw, &hotspots)?;
        let geometry = Geometry { size, layers, bulk_region: bulk.get_ref().clone(), hotspots };
        let mesh = self.mesh_controls(&raw, &geometry)?;
        let solver = self.solver(&raw)?;
        let analysis = self.analysis(&raw, size.z, &boundaries)?;
        let output = OutputSettings {
            vtu: raw.output.vtu.unwrap_or(true),
            summary_json: raw.output.summary_json.unwrap_or(true),
        };
        let name = raw.name.clone().unwrap_or_else(|| {
            let source = &self.source.source;
            Path::new(source).file_stem().map_or(source.clone(), |stem| stem.to_string_lossy().into_owned())
        });
        Ok(Case {
            name,
            source: self.source.source.clone(),
            geometry,
            mesh,
            materials,
            boundaries,
            solver,
            analysis,
            output,
        })
    }

    fn materials(&self, raw: &RawCase) -> Result<BTreeMap<String, Material>, CaseError> {
        let mut materials = BTreeMap::new();
        for (name, material) in &raw.materials {
            let material = material.get_ref();
            let field = format!("materials.{name}.conductivity");
            let conductivity = self.quantity(&material.conductivity, &field, Dimension::Conductivity)?;
            if !(conductivity > 0.0 && conductivity.is_finite()) {
                let reason = format!("the conductivity of `{name}` must be positive (got {conductivity:e} S/m)");
                return Err(self.invalid(material.conductivity.span(), &field, reason));
            }
            let relative_permittivity = match &material.relative_permittivity {
                Some(eps) if !(*eps.get_ref() > 0.0 && eps.get_ref().is_finite()) => {
                    let field = format!("materials.{name}.relative_permittivity");
                    return Err(self.invalid(eps.span(), &field, format!("must be positive (got {})", eps.get_ref())));
                }
                Some(eps) => *eps.get_ref(),
                None => 1.0,
            };
            materials.insert(name.clone(), Material { conductivity, relative_permittivity });
        }
        Ok(materials)
    }

    fn check_material_exists(
        &self,
        name: &schema::Name,
        field: &str,
        materials: &BTreeMap<String, Material>,
    ) -> Result<(), CaseError> {
        if materials.contains_key(name.get_ref()) {
            return Ok(());
        }
        let reason = format!(
            "no material `{}` is defined (add [materials.{}]); defined: {}",
            name.get_ref(),
            name.get_ref(),
            join(materials.keys())
        );
        Err(self.invalid(name.span(), field, reason))
    }

    fn layers(
        &self,
        raw: &RawCase,
        materials: &BTreeMap<String, Material>,
        height: f64,
    ) -> Result<Vec<Layer>, CaseError> {
        let mut layers = Vec::new();
        let mut total = 0.0;
        for (i, layer) in raw.layers.iter().enumerate() {
            self.check_material_exists(&layer.material, &format!("layers[{i}].material"), materials)?;
            let field = format!("layers[{i}].thickness");
            let thickness = self.positive(&layer.thickness, &field, Dimension::Length)?;
            total += thickness;
            if total >= height {
                let reason = format!(
                    "the layers up to this one are {} thick in all, not less than the box height {}",
                    show_length(total),
                    show_length(height)
                );
                return Err(self.invalid(layer.thickness.span(), &field, reason));
            }
            let top_resistance = layer
                .top_resistance
                .as_ref()
                .map(|r| self.positive(r, &format!("layers[{i}].top_resistance"), Dimension::AreaResistance))
                .transpose()?;
            layers.push(Layer { region: layer.material.get_ref().clone(), thickness, top_resistance });
        }
        Ok(layers)
    }

    fn boundaries(&self, raw: &RawCase, hotspots: &[HotSpot]) -> Result<BTreeMap<String, CaseBoundary>, CaseError> {
        let (known, seen) = unique_names(
            BOX_BOUNDARIES.into_iter().chain(hotspots.iter().flat_map(|h| [h.name.as_str(), h.group.as_str()])),
        );
        let mut boundaries = BTreeMap::new();
        for (name, entry) in &raw.boundaries {
            let field = format!("boundaries.{name}");
            let at = self.at(entry.span(), &field);
            if !seen.contains(name.as_str()) {
                return Err(CaseError::UnknownBoundary {
                    at: at.into(),
                    field,
                    name: name.clone(),
                    known: join(&known),
                });
            }
            let condition = self.condition(entry.get_ref(), &field)?;
            boundaries.insert(name.clone(), CaseBoundary { condition, at });
        }
        if !boundaries.values().any(|b| fixes_potential(&b.condition)) {
            return Err(CaseError::Singular { at: self.source.whole().into(), reason: SINGULAR_REASON.into() });
        }
        Ok(boundaries)
    }

    fn condition(&self, entry: &RawBoundary, field: &str) -> Result<BoundaryCondition, CaseError> {
        let kind = entry.kind.get_ref().as_str();
        let given = [
            ("potential", &entry.potential),
            ("current_density", &entry.current_density),
            ("resistance", &entry.resistance),
            ("electrode_potential", &entry.electrode_potential),
        ];
        let (required, optional): (&[&str], &[&str]) = match kind {
            "dirichlet" => (&["potential"], &[]),
            "neumann" => (&["current_density"], &[]),
            "insulating" => (&[], &[]),
            "robin" => (&["resistance"], &["electrode_potential"]),
            other => {
                let reason =
                    format!("unknown boundary type `{other}`; expected dirichlet, neumann, insulating or robin");
                return Err(self.invalid(entry.kind.span(), &format!("{field}.type"), reason));
            }
        };
        for (key, value) in &given {
            if let Some(value) = value {
                if !required.contains(key) && !optional.contains(key) {
                    let takes = join(required.iter().chain(optional));
                    let reason = format!("`{key}` does not apply to a {kind} boundary (it takes: {takes})");
                    return Err(self.invalid(value.span(), &format!("{field}.{key}"), reason));
                }
            }
        }
        let need = |key: &str, value: &Option<schema::Quantity>| {
            value.clone().ok_or_else(|| {
                self.invalid(entry.kind.span(), &format!("{field}.{key}"), format!("a {kind} boundary needs `{key}`"))
            })
        };
        Ok(match kind {
            "dirichlet" => BoundaryCondition::Dirichlet {
                potential: self.quantity(
                    &need("potential", &entry.potential)?,
                    &format!("{field}.potential"),
                    Dimension::Potential,
                )?,
            },
            "neumann" => BoundaryCondition::Neumann {
                inward_current_density: self.quantity(
                    &need("current_density", &entry.current_density)?,
                    &format!("{field}.current_density"),
                    Dimension::CurrentDensity,
                )?,
            },
            "robin" => BoundaryCondition::Robin {
                resistance: self.positive(
                    &need("resistance", &entry.resistance)?,
                    &format!("{field}.resistance"),
                    Dimension::AreaResistance,
                )?,
                electrode_potential: match &entry.electrode_potential {
                    Some(value) => {
                        self.quantity(value, &format!("{field}.electrode_potential"), Dimension::Potential)?
                    }
                    None => 0.0,
                },
            },
            _ => BoundaryCondition::Insulating,
        })
    }

    fn mesh_controls(&self, raw: &RawCase, geometry: &Geometry) -> Result<MeshControls, CaseError> {
        let mesh = &raw.mesh;
        let optional = |value: &Option<schema::Quantity>, key: &str| {
            value.as_ref().map(|q| self.positive(q, &format!("mesh.{key}"), Dimension::Length)).transpose()
        };
        let smallest_side = geometry.size.min_element();
        let h_max = optional(&mesh.h_max, "h_max")?.unwrap_or(smallest_side / 8.0);
        let h_interface = optional(&mesh.h_interface, "h_interface")?.unwrap_or(h_max / 8.0);
        let smallest_radius =
            geometry.hotspots.iter().map(|h| hotspots::radius(&h.shape)).fold(f64::INFINITY, f64::min);
        let h_min = optional(&mesh.h_min, "h_min")?.unwrap_or(h_interface.min(smallest_radius / 5.0));
        let grading = mesh.grading.as_ref().map_or(1.3, |g| *g.get_ref());
        if !(grading > 1.0 && grading.is_finite()) {
            let span = mesh.grading.as_ref().map(|g| g.span());
            return Err(self.invalid_at(span, "mesh.grading", format!("must be greater than 1 (got {grading})")));
        }
        // Blame the value the user wrote: the smaller one when set, else the larger one.
        let order = [
            ("h_min", h_min, &mesh.h_min),
            ("h_interface", h_interface, &mesh.h_interface),
            ("h_max", h_max, &mesh.h_max),
        ];
        for pair in order.windows(2) {
            let [(small_key, small, small_raw), (large_key, large, large_raw)] = pair else { continue };
            if small > large {
                let (key, written) = if small_raw.is_some() { (small_key, small_raw) } else { (large_key, large_raw) };
                let span = written.as_ref().map(|q| q.span());
                let reason = format!(
                    "need {small_key} <= {large_key}, got {small_key} = {} and {large_key} = {} \
                     (defaults: h_max = smallest box side / 8, h_interface = h_max / 8, \
                     h_min = min(h_interface, smallest hot-spot radius / 5))",
                    show_length(*small),
                    show_length(*large)
                );
                return Err(self.invalid_at(span, &format!("mesh.{key}"), reason));
            }
        }
        Ok(MeshControls { h_max, h_min, h_interface, grading })
    }

    fn analysis(
        &self,
        raw: &RawCase,
        height: f64,
        boundaries: &BTreeMap<String, CaseBoundary>,
    ) -> Result<AnalysisSettings, CaseError> {
        let analysis = &raw.analysis;
        let cylinder = match &analysis.cylinder_radius {
            None => None,
            Some(radius) => {
                let radius = self.positive(radius, "analysis.cylinder_radius", Dimension::Length)?;
                let (z_min, z_max) = match &analysis.cylinder_depth {
                    None => (0.0, height),
                    Some(depth) => {
                        let field = "analysis.cylinder_depth";
                        let values = self.list(depth, field, Dimension::Length, 2)?;
                        if !(0.0 <= values[0] && values[0] < values[1] && values[1] <= height) {
                            let reason = format!(
                                "needs 0 <= from < to <= H = {} (got {} .. {})",
                                show_length(height),
                                show_length(values[0]),
                                show_length(values[1])
                            );
                            return Err(self.invalid(depth.span(), field, reason));
                        }
                        (values[0], values[1])
                    }
                };
                Some(CylinderSpec { radius, z_min, z_max })
            }
        };
        let increments = analysis.lithiation_increments.as_ref().map_or(1, |n| *n.get_ref());
        if increments == 0 {
            let span = analysis.lithiation_increments.as_ref().map(|n| n.span());
            return Err(self.invalid_at(span, "analysis.lithiation_increments", "must be at least 1".into()));
        }
        let lithiation_increments = analysis.lithiation.unwrap_or(false).then_some(increments as usize);
        let paper_width = match &analysis.paper_width {
            Some(width) => self.positive(width, "analysis.paper_width", Dimension::Length)?,
            None => DEFAULT_PAPER_WIDTH_M,
        };
        let paper_width = analysis.paper_mode.unwrap_or(false).then_some(paper_width);
        let voids = analysis.voids.as_ref().is_some_and(|v| *v.get_ref());
        if let Some(switch) = analysis.voids.as_ref().filter(|_| voids) {
            // The constriction resistance is that of the path from the top face to the interface.
            let condition = |name: &str| boundaries.get(name).map_or(BoundaryCondition::Insulating, |b| b.condition);
            let interface = condition("interface");
            if !matches!(interface, BoundaryCondition::Dirichlet { .. } | BoundaryCondition::Robin { .. }) {
                let reason = "needs a dirichlet or robin interface (the current leaves there and the voids are \
                              compared with it)"
                    .into();
                return Err(self.invalid(switch.span(), "analysis.voids", reason));
            }
            if condition("top") == BoundaryCondition::Insulating {
                let reason = "needs a top face that carries current (dirichlet, neumann or robin)".into();
                return Err(self.invalid(switch.span(), "analysis.voids", reason));
            }
        }
        Ok(AnalysisSettings { cylinder, lithiation_increments, paper_width, voids })
    }

    fn solver(&self, raw: &RawCase) -> Result<SolverSettings, CaseError> {
        let solver = &raw.solver;
        let defaults = CgOptions::default();
        let rtol = solver.rtol.as_ref().map_or(defaults.rtol, |r| *r.get_ref());
        if !(rtol > 0.0 && rtol < 1.0) {
            let span = solver.rtol.as_ref().map(|r| r.span());
            return Err(self.invalid_at(span, "solver.rtol", format!("must lie in (0, 1) (got {rtol})")));
        }
        let atol = solver.atol.as_ref().map_or(defaults.atol, |a| *a.get_ref());
        if !(atol >= 0.0 && atol.is_finite()) {
            let span = solver.atol.as_ref().map(|a| a.span());
            return Err(self.invalid_at(span, "solver.atol", format!("must be zero or positive (got {atol})")));
        }
        let max_iter = solver.max_iter.as_ref().map_or(defaults.max_iter as u64, |m| *m.get_ref());
        if max_iter == 0 {
            let span = solver.max_iter.as_ref().map(|m| m.span());
            return Err(self.invalid_at(span, "solver.max_iter", "must be at least 1".into()));
        }
        let check_every = solver.check_every.as_ref().map_or(DEFAULT_CHECK_EVERY as u64, |k| *k.get_ref());
        if check_every == 0 {
            let span = solver.check_every.as_ref().map(|k| k.span());
            return Err(self.invalid_at(span, "solver.check_every", "must be at least 1".into()));
        }
        Ok(SolverSettings {
            backend: solver.backend.unwrap_or_default(),
            precision: solver.precision.unwrap_or_default(),
            adapter: solver.adapter.clone(),
            rtol,
            atol,
            max_iter: max_iter as usize,
            check_every: check_every as usize,
        })
    }
}
