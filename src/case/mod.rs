//! Case files: TOML with an explicit unit on every dimensional value, read into SI values.
//!
//! Every key, its unit and default: `src/case/reference.toml` (shown below, and copied into the README).
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
#![doc = concat!("\n```toml\n", include_str!("reference.toml"), "```")]

mod builder;
mod error;
mod hotspots;
mod imported;
mod problem;
mod schema;
mod source;
pub mod units;

pub use builder::paper_mode_unsupported;
pub use error::{CaseError, Location};

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;

use crate::fem::BoundaryCondition;
use crate::mesh::geometry::{Geometry, HotSpot, MeshControls};
use crate::solver::settings::SolverSettings;
use builder::Builder;
use error::field_path;
use schema::RawCase;
use source::SourceText;

/// The built-in default case (the paper's 3D hot spot), the text of `meshes/default.toml`.
pub const DEFAULT_CASE_TOML: &str = include_str!("../../meshes/default.toml");
/// Gaussian width of paper mode when `[analysis] paper_width` is not given: the paper's 2 nm.
pub const DEFAULT_PAPER_WIDTH_M: f64 = 2e-9;
/// The source name errors in the built-in default case carry.
pub const DEFAULT_SOURCE: &str = "built-in default";

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

/// A vertical cylinder around every hot spot's axis, over depths z_min..z_max (metres). On a mesh file, around
/// `axis` instead, with depths measured up from the plane of the boundary `plane` (`z_max` infinite: to the top
/// of the mesh).
#[derive(Debug, Clone, PartialEq)]
pub struct CylinderSpec {
    pub radius: f64,
    pub z_min: f64,
    pub z_max: f64,
    pub axis: Option<(f64, f64)>,
    pub plane: Option<String>,
    /// Where the case names `plane` ("case.toml, line 12"), for errors found once the mesh is read.
    pub plane_at: Option<String>,
}

/// A Gmsh MSH 4.1 file the case takes its mesh from (`[mesh] file`), its length unit, and where the case says so.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshFile {
    /// Resolved against the case file's folder.
    pub path: std::path::PathBuf,
    /// Metres per unit of the file's coordinates.
    pub unit_m: f64,
    pub at: Location,
}

/// The material of a mesh file's volume group (`[regions.<group>]`) and where the case says so.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionEntry {
    pub material: String,
    pub at: Location,
}

/// Numbers computed from the solved field (`[analysis]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnalysisSettings {
    pub cylinder: Option<CylinderSpec>,
    /// Radius increments of the re-lithiation integral; `None`: no lithiation estimate.
    pub lithiation_increments: Option<usize>,
    /// Gaussian width of paper mode (m); `None`: no paper mode.
    pub paper_width: Option<f64>,
    /// Focusing factor and constriction resistance of the voids (insulating disk hot spots).
    pub voids: bool,
    /// An error estimate of every boundary current (dual problems on the case's matrix; ARCHITECTURE.md).
    pub error_estimates: bool,
}

/// `[adapt]`: the mesh is refined where the error estimates of the currents say, until each current's relative
/// estimate is at most `target` or a limit stops the loop (`app::adapt`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptSettings {
    /// Relative error asked of every estimated current (0.001 for "0.1 %").
    pub target: f64,
    pub max_cycles: usize,
    /// No cycle meshes beyond this many nodes (estimated before meshing).
    pub max_nodes: usize,
}

/// Cycles of the adaptive loop unless `adapt.max_cycles` says otherwise.
pub const DEFAULT_ADAPT_CYCLES: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputSettings {
    /// Write solution.vtu.
    pub vtu: bool,
    /// Write summary.json.
    pub summary_json: bool,
    /// `[output] vtu_compression = "zlib" | "none"`: zlib blocks (the default) or raw arrays in the VTU files.
    pub compress_vtu: bool,
    /// `[output] fields`: the arrays solution.vtu holds.
    pub fields: VtuFields,
}

/// The arrays of solution.vtu (`[output] fields`, by these names). Butler-Volmer faces always carry `eta` and
/// `j_out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VtuFields {
    /// Point data: the potential, the recovered current density and its magnitude.
    pub phi: bool,
    pub j: bool,
    pub j_magnitude: bool,
    /// Cell data: the region index (names in the field data), the conductivity, and the exact per-tet current
    /// density (`cell_J`, written as the cell array `J`; the largest array: off by default).
    pub region: bool,
    pub sigma: bool,
    pub cell_j: bool,
}

impl VtuFields {
    /// The names `[output] fields` takes, in this order.
    pub const NAMES: [&'static str; 6] = ["phi", "J", "J_magnitude", "region", "sigma", "cell_J"];

    /// Everything but the per-tet J.
    pub const DEFAULT: VtuFields =
        VtuFields { phi: true, j: true, j_magnitude: true, region: true, sigma: true, cell_j: false };

    /// The fields named (each one of [`VtuFields::NAMES`]); None for an unknown name.
    pub fn named<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<VtuFields, &'a str> {
        let mut fields =
            VtuFields { phi: false, j: false, j_magnitude: false, region: false, sigma: false, cell_j: false };
        for name in names {
            let slot = match name {
                "phi" => &mut fields.phi,
                "J" => &mut fields.j,
                "J_magnitude" => &mut fields.j_magnitude,
                "region" => &mut fields.region,
                "sigma" => &mut fields.sigma,
                "cell_J" => &mut fields.cell_j,
                unknown => return Err(unknown),
            };
            *slot = true;
        }
        Ok(fields)
    }
}

/// Where a case's mesh comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Meshing {
    /// The hot-spot mesher on this geometry (its hot spots include the members of arrays and random placements),
    /// to the case's `[mesh]` controls.
    Generated(Geometry),
    /// `[mesh] file`: read from a Gmsh file, the materials of its volume groups in `Case::regions`.
    File(MeshFile),
}

/// A validated case in SI units.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub name: String,
    /// File path or "built-in default", for messages.
    pub source: String,
    /// The `--set key=value` overrides applied to the file, in order (what a summary must record to be
    /// reproducible).
    pub overrides: Vec<String>,
    /// The case text serde read: the file with every override applied. Fed back as a case file, it gives this
    /// case (a mesh file's path as written, relative to the case file).
    pub resolved_toml: String,
    /// Where the mesh comes from: the mesher on a geometry, or a file.
    pub meshing: Meshing,
    /// The generator's controls (unused when the mesh comes from a file).
    pub mesh: MeshControls,
    /// `[regions.<group>]`: materials of the mesh file's volume groups (empty without a file).
    pub regions: BTreeMap<String, RegionEntry>,
    pub materials: BTreeMap<String, Material>,
    /// Keyed by boundary name, hot-spot name or hot-spot group.
    pub boundaries: BTreeMap<String, CaseBoundary>,
    pub solver: SolverSettings,
    pub analysis: AnalysisSettings,
    /// `[adapt]` or `--accuracy`; None: one solve on the mesh the controls give.
    pub adapt: Option<AdaptSettings>,
    pub output: OutputSettings,
}

/// The largest case file read (a case is a page of TOML; `/dev/zero` or a wrong file must not fill the memory).
pub const MAX_CASE_BYTES: u64 = 4 << 20;

/// A case file's text, at most [`MAX_CASE_BYTES`] read.
fn read_case_text(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(MAX_CASE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CASE_BYTES {
        let message = format!("larger than {} MiB: not a case file (a case is a page of TOML)", MAX_CASE_BYTES >> 20);
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, message));
    }
    String::from_utf8(bytes).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

impl Case {
    /// Reads a case file; `overrides` are `--set key.path=value` strings.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Case, CaseError> {
        let source = path.display().to_string();
        let text = read_case_text(path).map_err(|error| CaseError::Io {
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
        let mut case = Builder { source: &source_text }.build(raw)?;
        case.overrides = overrides.to_vec();
        case.resolved_toml = source_text.text;
        Ok(case)
    }

    /// The built-in default: the paper's 3D hot spot (meshes/default.toml).
    pub fn default_case() -> Case {
        Case::from_toml_str(DEFAULT_CASE_TOML, DEFAULT_SOURCE, &[]).expect("meshes/default.toml is a valid case")
    }

    /// The geometry the mesher meshes (None on a mesh file).
    pub fn geometry(&self) -> Option<&Geometry> {
        match &self.meshing {
            Meshing::Generated(geometry) => Some(geometry),
            Meshing::File(_) => None,
        }
    }

    /// [`Case::geometry`], to change a variant of the case.
    pub fn geometry_mut(&mut self) -> Option<&mut Geometry> {
        match &mut self.meshing {
            Meshing::Generated(geometry) => Some(geometry),
            Meshing::File(_) => None,
        }
    }

    /// The hot spots of a generated geometry (a mesh file has none: its surfaces are named boundaries).
    pub fn hotspots(&self) -> &[HotSpot] {
        self.geometry().map_or(&[], |g| &g.hotspots)
    }

    /// The mesh file of a case on one.
    pub fn mesh_file(&self) -> Option<&MeshFile> {
        match &self.meshing {
            Meshing::File(file) => Some(file),
            Meshing::Generated(_) => None,
        }
    }

    /// The condition of a mesh boundary: its own entry, else its hot-spot group's, else insulating.
    pub fn condition_for(&self, boundary: &str) -> BoundaryCondition {
        let group = self.hotspots().iter().find(|h| h.name == boundary).map(|h| h.group.as_str());
        self.condition_with_group(boundary, group)
    }

    pub(crate) fn condition_with_group(&self, boundary: &str, group: Option<&str>) -> BoundaryCondition {
        self.entry(boundary, group).map_or(BoundaryCondition::Insulating, |b| b.condition)
    }

    /// A hot spot's boundary entry: its own, else its group's.
    pub fn boundary_for(&self, spot: &HotSpot) -> Option<&CaseBoundary> {
        self.entry(&spot.name, Some(&spot.group))
    }

    fn entry(&self, boundary: &str, group: Option<&str>) -> Option<&CaseBoundary> {
        self.boundaries.get(boundary).or_else(|| group.and_then(|g| self.boundaries.get(g)))
    }
}

/// A plain number for messages: decimal when moderate, else in exponent form (never hundreds of digits).
pub(crate) fn show_number(x: f64) -> String {
    if x == 0.0 || (1e-4..1e6).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
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
