//! The raw case (TOML with spans) turned into SI values, every field checked, errors naming file, line and key.
//! One file for one builder (over 500 lines): each section of the schema is a method that carries the file's spans
//! for its errors, and the sections' checks refer to each other (hot spots against the box and the layers,
//! boundaries against the hot spots' names and groups).

use super::schema::{self, OneOrList, QuantityText, RawBoundary, RawCase};
use super::source::SourceText;
use super::units::{parse_quantity, Dimension, UnitError};
use super::{
    hotspots, join, show_number, unique_names, AdaptSettings, AnalysisSettings, Case, CaseBoundary, CaseError,
    CylinderSpec, Location, Material, Meshing, OutputSettings, VtuFields, DEFAULT_ADAPT_CYCLES, DEFAULT_PAPER_WIDTH_M,
};
use crate::fem::{BoundaryCondition, Kinetics, SINGULAR_REASON};
use crate::mesh::geometry::{
    max_nodes_for_this_machine, show_length, Geometry, HotSpot, HotSpotShape, Layer, MeshControls, MAX_GRADING,
    MAX_NODE_INDEX,
};
use crate::mesh::structured::BOX_BOUNDARIES;
use crate::solver::settings::{SolverSettings, DEFAULT_CHECK_EVERY};
use crate::solver::CgOptions;
use glam::DVec3;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

/// Upper limits of counts in a case: beyond them a run would not end in reasonable time or memory.
pub const MAX_ITERATIONS: usize = 10_000_000;
pub const MAX_CHECK_EVERY: usize = 256;
pub const MAX_LITHIATION_INCREMENTS: usize = 1_000;
/// Newton steps of a Butler-Volmer solve: the default limit and the largest a case may set.
pub const DEFAULT_NEWTON_STEPS: usize = 50;
pub const MAX_NEWTON_STEPS: usize = 1_000;
/// Interfacial resistances a case may have (Ohm m^2).
pub const AREA_RESISTANCE_RANGE: std::ops::RangeInclusive<f64> = 1e-12..=1e6;
/// Conductivities a case may have (S/m).
pub const CONDUCTIVITY_RANGE: std::ops::RangeInclusive<f64> = 1e-20..=1e9;
/// Electrode potentials (V): far beyond any cell voltage, still well inside what the solve can represent.
pub const POTENTIAL_LIMIT_V: f64 = 1e4;
/// Current densities (A/m^2): 1e4 A/cm^2, far beyond any battery's.
pub const CURRENT_DENSITY_LIMIT_A_PER_M2: f64 = 1e8;
/// Temperatures a case may have (K).
pub const MAX_TEMPERATURE_K: f64 = 2000.0;
/// Exchange current densities (A/m^2): 1e8 A/cm^2; a faster reaction is a fixed potential for any mesh.
pub const MAX_EXCHANGE_CURRENT_DENSITY: f64 = 1e12;
/// The molar gas constant (J/(mol K)) and the Faraday constant (C/mol), exact in the 2019 SI.
pub const GAS_CONSTANT: f64 = 8.314462618153241;
pub const FARADAY: f64 = 96485.33212331001;
/// The shortest box side (m): below a nanometre the continuum model means nothing.
pub const MIN_BOX_SIDE_M: f64 = 1e-9;

/// Turns the raw case into SI values, checking every field.
pub(super) struct Builder<'a> {
    pub(super) source: &'a SourceText,
}

impl Builder<'_> {
    pub(super) fn at(&self, span: Range<usize>, field: &str) -> Location {
        self.source.locate(span, field)
    }

    pub(super) fn invalid(&self, span: Range<usize>, field: &str, reason: String) -> CaseError {
        self.invalid_at(Some(span), field, reason)
    }

    /// An invalid value; without a span (a default value) the error names the source only.
    pub(super) fn invalid_at(&self, span: Option<Range<usize>>, field: &str, reason: String) -> CaseError {
        let at = span.map_or_else(|| self.source.whole(), |span| self.at(span, field));
        CaseError::Invalid { at: at.into(), field: field.to_string(), reason }
    }

    pub(super) fn convert(
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

    pub(super) fn quantity(
        &self,
        quantity: &schema::Quantity,
        field: &str,
        dimension: Dimension,
    ) -> Result<f64, CaseError> {
        self.convert(quantity.get_ref(), quantity.span(), field, dimension)
    }

    /// A quantity whose magnitude is at most `limit` (SI), so an extreme value is refused at its line rather than
    /// deep in the solver.
    fn bounded(
        &self,
        quantity: &schema::Quantity,
        field: &str,
        dimension: Dimension,
        limit: f64,
    ) -> Result<f64, CaseError> {
        let value = self.quantity(quantity, field, dimension)?;
        if value.abs() <= limit {
            return Ok(value);
        }
        let reason = format!("{value:e} is outside -{limit:e} ..= {limit:e} (SI units), beyond any physical case");
        Err(self.invalid(quantity.span(), field, reason))
    }

    pub(super) fn positive(
        &self,
        quantity: &schema::Quantity,
        field: &str,
        dimension: Dimension,
    ) -> Result<f64, CaseError> {
        let value = self.quantity(quantity, field, dimension)?;
        if value > 0.0 && value.is_finite() {
            Ok(value)
        } else {
            Err(self.invalid(quantity.span(), field, format!("must be positive (got {value:e} in SI units)")))
        }
    }

    /// Exactly `count` quantities ("center", "size").
    pub(super) fn list(
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
    /// An interfacial resistance (Ohm m^2) within [`AREA_RESISTANCE_RANGE`].
    fn area_resistance(&self, quantity: &schema::Quantity, field: &str) -> Result<f64, CaseError> {
        let value = self.positive(quantity, field, Dimension::AreaResistance)?;
        if AREA_RESISTANCE_RANGE.contains(&value) {
            return Ok(value);
        }
        let reason = format!(
            "{value:e} Ohm m^2 is outside {:e} ..= {:e} Ohm m^2 ({:e} ..= {:e} Ohm cm^2): beyond it the coupling \
             across the interface vanishes or dominates in floating point and the system is numerically singular",
            AREA_RESISTANCE_RANGE.start(),
            AREA_RESISTANCE_RANGE.end(),
            AREA_RESISTANCE_RANGE.start() * 1e4,
            AREA_RESISTANCE_RANGE.end() * 1e4
        );
        Err(self.invalid(quantity.span(), field, reason))
    }

    pub(super) fn positive_pair(
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

    pub(super) fn build(&self, raw: RawCase) -> Result<Case, CaseError> {
        if let Some(file) = &raw.mesh.file {
            return self.build_from_file(&raw, file);
        }
        self.refuse_file_keys(&raw)?;
        let Some(domain) = &raw.domain else {
            let reason = "a case needs a [domain] (size and material) to mesh, or a mesh file ([mesh] file = \"...\" \
                          with its unit)"
                .into();
            return Err(self.invalid_at(None, "domain", reason));
        };
        let domain = domain.get_ref();
        let size_values = self.list(&domain.size, "domain.size", Dimension::Length, 3)?;
        for (axis, value) in ["Lx", "Ly", "H"].iter().zip(&size_values) {
            if !(*value > 0.0 && value.is_finite()) {
                let reason = format!("{axis} must be positive (got {})", show_length(*value));
                return Err(self.invalid(domain.size.span(), "domain.size", reason));
            }
            if *value < MIN_BOX_SIDE_M {
                let reason = format!("{axis} = {} is below {}", show_length(*value), show_length(MIN_BOX_SIDE_M));
                return Err(self.invalid(domain.size.span(), "domain.size", reason));
            }
        }
        let size = DVec3::new(size_values[0], size_values[1], size_values[2]);
        let materials = self.materials(&raw)?;
        let layers = self.layers(&raw, &materials, size.z)?;
        let bulk = &domain.material;
        self.check_material_exists(bulk, "domain.material", &materials)?;
        let (hotspots, places) = hotspots::expand(self, &raw, size)?;
        let boundaries = self.boundaries(&raw, &hotspots)?;
        let geometry = Geometry { size, layers, bulk_region: bulk.get_ref().clone(), hotspots };
        let mesh = self.mesh_controls(&raw, &geometry)?;
        self.check_layers_resolved(&raw, &geometry, mesh.h_min)?;
        hotspots::check_resolution(&geometry, &places, mesh.h_min)?;
        let solver = self.solver(&raw)?;
        let analysis = self.analysis(&raw, Some(&geometry), &boundaries, geometry.size.z)?;
        let adapt = self.adapt(&raw, mesh.max_nodes)?;
        Ok(Case {
            name: self.case_name(&raw),
            source: self.source.source.clone(),
            overrides: Vec::new(),
            resolved_toml: String::new(),
            meshing: Meshing::Generated(geometry),
            mesh,
            regions: BTreeMap::new(),
            materials,
            boundaries,
            solver,
            analysis,
            adapt,
            output: self.output(&raw)?,
        })
    }

    /// `[adapt]`: a target such as "0.1 %" (a percentage, above 0 and at most 50 %), cycles, node limit.
    pub(super) fn adapt(&self, raw: &RawCase, mesh_max_nodes: usize) -> Result<Option<AdaptSettings>, CaseError> {
        let Some(adapt) = &raw.adapt else { return Ok(None) };
        let Some(target_text) = &adapt.get_ref().target else {
            let reason = "needs a target, e.g. target = \"0.1 %\" (the relative error asked of every current)".into();
            return Err(self.invalid(adapt.span(), "adapt", reason));
        };
        let text = target_text.get_ref().trim();
        let target = text
            .strip_suffix('%')
            .and_then(|number| number.trim().parse::<f64>().ok())
            .map(|percent| percent / 100.0)
            .filter(|t| *t > 0.0 && *t <= 0.5);
        let Some(target) = target else {
            let reason = format!("`{text}` is not a percentage above 0 and at most 50, such as \"0.1 %\"");
            return Err(self.invalid(target_text.span(), "adapt.target", reason));
        };
        let max_cycles = adapt.get_ref().max_cycles.as_ref().map_or(DEFAULT_ADAPT_CYCLES as u64, |c| *c.get_ref());
        if !(1..=50).contains(&max_cycles) {
            let span = adapt.get_ref().max_cycles.as_ref().map(|c| c.span());
            return Err(self.invalid_at(span, "adapt.max_cycles", format!("must lie in 1..=50 (got {max_cycles})")));
        }
        let max_nodes = adapt.get_ref().max_nodes.as_ref().map_or(mesh_max_nodes as u64, |n| *n.get_ref());
        if max_nodes < 1000 {
            let span = adapt.get_ref().max_nodes.as_ref().map(|n| n.span());
            return Err(self.invalid_at(span, "adapt.max_nodes", format!("must be at least 1000 (got {max_nodes})")));
        }
        Ok(Some(AdaptSettings { target, max_cycles: max_cycles as usize, max_nodes: max_nodes as usize }))
    }

    pub(super) fn output(&self, raw: &RawCase) -> Result<OutputSettings, CaseError> {
        let compress_vtu = match &raw.output.vtu_compression {
            None => true,
            Some(text) => match text.get_ref().as_str() {
                "zlib" => true,
                "none" => false,
                other => {
                    let reason = format!("`{other}` is not a VTU compression; use \"zlib\" (the default) or \"none\"");
                    return Err(self.invalid(text.span(), "output.vtu_compression", reason));
                }
            },
        };
        let fields = match &raw.output.fields {
            None => VtuFields::DEFAULT,
            Some(names) => VtuFields::named(names.get_ref().iter().map(String::as_str)).map_err(|unknown| {
                let known = VtuFields::NAMES.join(", ");
                self.invalid(
                    names.span(),
                    "output.fields",
                    format!("`{unknown}` is not a field of solution.vtu ({known})"),
                )
            })?,
        };
        Ok(OutputSettings {
            vtu: raw.output.vtu.unwrap_or(true),
            summary_json: raw.output.summary_json.unwrap_or(true),
            compress_vtu,
            fields,
        })
    }

    /// `name`, else the case file's stem.
    pub(super) fn case_name(&self, raw: &RawCase) -> String {
        raw.name.clone().unwrap_or_else(|| {
            let source = &self.source.source;
            Path::new(source).file_stem().map_or(source.clone(), |stem| stem.to_string_lossy().into_owned())
        })
    }

    pub(super) fn materials(&self, raw: &RawCase) -> Result<BTreeMap<String, Material>, CaseError> {
        let mut materials = BTreeMap::new();
        for (name, material) in &raw.materials {
            let material = material.get_ref();
            let field = format!("materials.{name}.conductivity");
            let conductivity = self.quantity(&material.conductivity, &field, Dimension::Conductivity)?;
            if !(conductivity > 0.0 && conductivity.is_finite()) {
                let reason = format!("the conductivity of `{name}` must be positive (got {conductivity:e} S/m)");
                return Err(self.invalid(material.conductivity.span(), &field, reason));
            }
            if !CONDUCTIVITY_RANGE.contains(&conductivity) {
                let reason = format!(
                    "{conductivity:e} S/m is outside {:e} ..= {:e} S/m, from the best insulators to the best metals: \
                     beyond it the system under- or overflows",
                    CONDUCTIVITY_RANGE.start(),
                    CONDUCTIVITY_RANGE.end()
                );
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

    pub(super) fn check_material_exists(
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
                .map(|r| self.area_resistance(r, &format!("layers[{i}].top_resistance")))
                .transpose()?;
            layers.push(Layer { region: layer.material.get_ref().clone(), thickness, top_resistance });
        }
        Ok(layers)
    }

    fn boundaries(&self, raw: &RawCase, hotspots: &[HotSpot]) -> Result<BTreeMap<String, CaseBoundary>, CaseError> {
        let (known, seen) = unique_names(
            BOX_BOUNDARIES.into_iter().chain(hotspots.iter().flat_map(|h| [h.name.as_str(), h.group.as_str()])),
        );
        self.boundary_entries(raw, |name, at, field| {
            if seen.contains(name) {
                return Ok(());
            }
            Err(CaseError::UnknownBoundary { at: at.into(), field, name: name.to_string(), known: join(&known) })
        })
    }

    /// The `[boundaries.X]` conditions, each name passed through `check_name` first; at least one must fix the
    /// potential.
    pub(super) fn boundary_entries(
        &self,
        raw: &RawCase,
        check_name: impl Fn(&str, Location, String) -> Result<(), CaseError>,
    ) -> Result<BTreeMap<String, CaseBoundary>, CaseError> {
        let mut boundaries = BTreeMap::new();
        let temperature = self.temperature(raw)?;
        for (name, entry) in &raw.boundaries {
            let field = format!("boundaries.{name}");
            let at = self.at(entry.span(), &field);
            check_name(name, at.clone(), field.clone())?;
            let condition = self.condition(entry.get_ref(), &field, temperature)?;
            boundaries.insert(name.clone(), CaseBoundary { condition, at });
        }
        if !boundaries.values().any(|b| b.condition.fixes_potential()) {
            return Err(CaseError::Singular { at: self.source.whole().into(), reason: SINGULAR_REASON.into() });
        }
        Ok(boundaries)
    }

    /// The case's `temperature` (K), if given: "348 K", "75 degC" or "75 °C".
    fn temperature(&self, raw: &RawCase) -> Result<Option<f64>, CaseError> {
        let Some(quantity) = &raw.temperature else { return Ok(None) };
        let invalid = |reason: String| self.invalid(quantity.span(), "temperature", reason);
        let text = match quantity.get_ref() {
            QuantityText::Text(text) => text.clone(),
            QuantityText::Number(value) => {
                return Err(invalid(format!("`{value}` has no unit; write it as \"{value} K\" or \"{value} degC\"")))
            }
        };
        let Some((value, unit)) = super::units::split_value(&text) else {
            return Err(invalid(format!("`{text}` does not start with a number (e.g. \"348 K\" or \"75 degC\")")));
        };
        let kelvin = match unit {
            "K" => value,
            "degC" | "°C" => value + 273.15,
            _ => return Err(invalid(format!("unknown temperature unit `{unit}` in `{text}`; use K, degC or °C"))),
        };
        if !(kelvin > 0.0 && kelvin <= MAX_TEMPERATURE_K) {
            return Err(invalid(format!("{kelvin} K is outside (0, {MAX_TEMPERATURE_K}] K")));
        }
        Ok(Some(kelvin))
    }

    pub(super) fn condition(
        &self,
        entry: &RawBoundary,
        field: &str,
        temperature: Option<f64>,
    ) -> Result<BoundaryCondition, CaseError> {
        let kind = entry.kind.get_ref().as_str();
        let span = |value: &Option<schema::Quantity>| value.as_ref().map(|v| v.span());
        let number_span = |value: &Option<toml::Spanned<f64>>| value.as_ref().map(|v| v.span());
        let given = [
            ("potential", span(&entry.potential)),
            ("current_density", span(&entry.current_density)),
            ("resistance", span(&entry.resistance)),
            ("electrode_potential", span(&entry.electrode_potential)),
            ("exchange_current_density", span(&entry.exchange_current_density)),
            ("alpha_anodic", number_span(&entry.alpha_anodic)),
            ("alpha_cathodic", number_span(&entry.alpha_cathodic)),
            ("equilibrium_potential", span(&entry.equilibrium_potential)),
            ("film_resistance", span(&entry.film_resistance)),
        ];
        let (required, optional): (&[&str], &[&str]) = match kind {
            "dirichlet" => (&["potential"], &[]),
            "neumann" => (&["current_density"], &[]),
            "insulating" => (&[], &[]),
            "robin" => (&["resistance"], &["electrode_potential"]),
            "butler_volmer" => (
                &["exchange_current_density"],
                &["alpha_anodic", "alpha_cathodic", "equilibrium_potential", "electrode_potential", "film_resistance"],
            ),
            other => {
                let reason = format!(
                    "unknown boundary type `{other}`; expected dirichlet, neumann, insulating, robin or butler_volmer"
                );
                return Err(self.invalid(entry.kind.span(), &format!("{field}.type"), reason));
            }
        };
        for (key, value_span) in given {
            if let Some(value_span) = value_span {
                if !required.contains(&key) && !optional.contains(&key) {
                    let takes = join(required.iter().chain(optional));
                    let reason = format!("`{key}` does not apply to a {kind} boundary (it takes: {takes})");
                    return Err(self.invalid(value_span, &format!("{field}.{key}"), reason));
                }
            }
        }
        let need = |key: &str, value: &Option<schema::Quantity>| {
            value.clone().ok_or_else(|| {
                self.invalid(entry.kind.span(), &format!("{field}.{key}"), format!("a {kind} boundary needs `{key}`"))
            })
        };
        let potential_or_zero = |value: &Option<schema::Quantity>, key: &str| match value {
            Some(value) => self.bounded(value, &format!("{field}.{key}"), Dimension::Potential, POTENTIAL_LIMIT_V),
            None => Ok(0.0),
        };
        Ok(match kind {
            "dirichlet" => BoundaryCondition::Dirichlet {
                potential: self.bounded(
                    &need("potential", &entry.potential)?,
                    &format!("{field}.potential"),
                    Dimension::Potential,
                    POTENTIAL_LIMIT_V,
                )?,
            },
            "neumann" => BoundaryCondition::Neumann {
                inward_current_density: self.bounded(
                    &need("current_density", &entry.current_density)?,
                    &format!("{field}.current_density"),
                    Dimension::CurrentDensity,
                    CURRENT_DENSITY_LIMIT_A_PER_M2,
                )?,
            },
            "robin" => BoundaryCondition::Robin {
                resistance: self
                    .area_resistance(&need("resistance", &entry.resistance)?, &format!("{field}.resistance"))?,
                electrode_potential: potential_or_zero(&entry.electrode_potential, "electrode_potential")?,
            },
            "butler_volmer" => {
                let Some(temperature) = temperature else {
                    let reason = format!(
                        "a butler_volmer boundary needs the case's top-level `temperature` (e.g. temperature = \"348 \
                         K\"), which sets F / (R T); it is missing, here used by `{field}`"
                    );
                    return Err(self.invalid(entry.kind.span(), "temperature", reason));
                };
                let i0_field = format!("{field}.exchange_current_density");
                let i0 = self.positive(
                    &need("exchange_current_density", &entry.exchange_current_density)?,
                    &i0_field,
                    Dimension::CurrentDensity,
                )?;
                if i0 > MAX_EXCHANGE_CURRENT_DENSITY {
                    let span = entry.exchange_current_density.as_ref().map(|q| q.span());
                    let reason = format!(
                        "{i0:e} A/m^2 is above {MAX_EXCHANGE_CURRENT_DENSITY:e} A/m^2; beyond it the kinetics are \
                         indistinguishable from a fixed potential: use type = \"dirichlet\""
                    );
                    return Err(self.invalid_at(span, &i0_field, reason));
                }
                let alpha = |value: &Option<toml::Spanned<f64>>, key: &str| {
                    let Some(value) = value else { return Ok(0.5) };
                    let alpha = *value.get_ref();
                    if alpha > 0.0 && alpha <= 1.0 {
                        return Ok(alpha);
                    }
                    let reason = format!("must lie in (0, 1] (got {})", show_number(alpha));
                    Err(self.invalid(value.span(), &format!("{field}.{key}"), reason))
                };
                let film_resistance = match &entry.film_resistance {
                    Some(value) => self.area_resistance(value, &format!("{field}.film_resistance"))?,
                    None => 0.0,
                };
                BoundaryCondition::ButlerVolmer(Kinetics {
                    exchange_current_density: i0,
                    alpha_anodic: alpha(&entry.alpha_anodic, "alpha_anodic")?,
                    alpha_cathodic: alpha(&entry.alpha_cathodic, "alpha_cathodic")?,
                    equilibrium_potential: potential_or_zero(&entry.equilibrium_potential, "equilibrium_potential")?,
                    electrode_potential: potential_or_zero(&entry.electrode_potential, "electrode_potential")?,
                    film_resistance,
                    thermal_voltage: GAS_CONSTANT * temperature / FARADAY,
                })
            }
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
        if !(grading > 1.0 && grading <= MAX_GRADING) {
            let span = mesh.grading.as_ref().map(|g| g.span());
            let reason = format!("must be greater than 1 and at most {MAX_GRADING} (got {})", show_number(grading));
            return Err(self.invalid_at(span, "mesh.grading", reason));
        }
        let max_nodes = match &mesh.max_nodes {
            None => max_nodes_for_this_machine(),
            Some(value) => {
                let n = *value.get_ref();
                if !(n >= 1.0 && n <= MAX_NODE_INDEX as f64) {
                    let reason = format!(
                        "must be a number of nodes from 1 to {MAX_NODE_INDEX} (node indices are 32-bit; got {})",
                        show_number(n)
                    );
                    return Err(self.invalid(value.span(), "mesh.max_nodes", reason));
                }
                n as usize
            }
        };
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
        Ok(MeshControls { h_max, h_min, h_interface, grading, max_nodes })
    }

    /// `[analysis]`; `height` bounds the cylinder's depths (infinite on a mesh file: checked against the mesh).
    /// `geometry`: the generated one (None on a mesh file, which has no hot spots).
    pub(super) fn analysis(
        &self,
        raw: &RawCase,
        geometry: Option<&Geometry>,
        boundaries: &BTreeMap<String, CaseBoundary>,
        height: f64,
    ) -> Result<AnalysisSettings, CaseError> {
        let analysis = &raw.analysis;
        let cylinder = match &analysis.cylinder_radius {
            None => None,
            Some(radius_text) => {
                let field = "analysis.cylinder_radius";
                let radius = self.positive(radius_text, field, Dimension::Length)?;
                // The cylinder goes around every hot spot: it must enclose the spot and stay inside the box.
                for (spot, size) in geometry.into_iter().flat_map(|g| g.hotspots.iter().map(move |s| (s, g.size))) {
                    let (x, y) = spot.shape.axis();
                    let spot_radius = hotspots::radius(&spot.shape);
                    let reason = if radius <= spot_radius {
                        format!(
                            "{} does not enclose hot spot `{}` (radius {}): the lateral current would be measured \
                             through the hot spot itself",
                            show_length(radius),
                            spot.name,
                            show_length(spot_radius)
                        )
                    } else if x - radius < 0.0 || y - radius < 0.0 || x + radius > size.x || y + radius > size.y {
                        format!(
                            "{} around hot spot `{}` at ({}, {}) leaves the box",
                            show_length(radius),
                            spot.name,
                            show_length(x),
                            show_length(y)
                        )
                    } else {
                        continue;
                    };
                    return Err(self.invalid(radius_text.span(), field, reason));
                }
                let (z_min, z_max) = match &analysis.cylinder_depth {
                    None => (0.0, height),
                    Some(depth) => {
                        let field = "analysis.cylinder_depth";
                        let values = self.list(depth, field, Dimension::Length, 2)?;
                        if !(0.0 <= values[0] && values[0] < values[1] && values[1] <= height) {
                            let bound = if height.is_finite() {
                                format!(" <= H = {}", show_length(height))
                            } else {
                                String::new()
                            };
                            let reason = format!(
                                "needs 0 <= from < to{bound} (got {} .. {})",
                                show_length(values[0]),
                                show_length(values[1])
                            );
                            return Err(self.invalid(depth.span(), field, reason));
                        }
                        (values[0], values[1])
                    }
                };
                Some(CylinderSpec { radius, z_min, z_max, axis: None, plane: None, plane_at: None })
            }
        };
        let increments = analysis.lithiation_increments.as_ref().map_or(1, |n| *n.get_ref());
        if !(1..=MAX_LITHIATION_INCREMENTS as u64).contains(&increments) {
            let span = analysis.lithiation_increments.as_ref().map(|n| n.span());
            let reason = format!(
                "must lie in 1..={MAX_LITHIATION_INCREMENTS} (each increment meshes and solves the case again)"
            );
            return Err(self.invalid_at(span, "analysis.lithiation_increments", reason));
        }
        let lithiation_increments = analysis.lithiation.unwrap_or(false).then_some(increments as usize);
        let paper_width = match &analysis.paper_width {
            Some(width) => self.positive(width, "analysis.paper_width", Dimension::Length)?,
            None => DEFAULT_PAPER_WIDTH_M,
        };
        let paper_width = analysis.paper_mode.as_ref().is_some_and(|p| *p.get_ref()).then_some(paper_width);
        let narrowest = geometry
            .into_iter()
            .flat_map(|g| &g.hotspots)
            .filter(|h| matches!(h.shape, HotSpotShape::Sphere { .. }))
            .min_by(|a, b| hotspots::radius(&a.shape).total_cmp(&hotspots::radius(&b.shape)));
        // Paper mode models one sphere in one material: refused here, before the solve, rather than after it.
        if let (Some(switch), Some(_)) = (analysis.paper_mode.as_ref().filter(|_| paper_width.is_some()), narrowest) {
            if let Some(reason) = geometry.and_then(paper_mode_unsupported) {
                return Err(self.invalid(switch.span(), "analysis.paper_mode", format!("paper mode: {reason}")));
            }
            if let Some((name, _)) =
                boundaries.iter().find(|(_, b)| matches!(b.condition, BoundaryCondition::ButlerVolmer(_)))
            {
                let reason = format!(
                    "paper mode: boundary `{name}` has Butler-Volmer kinetics, but the Gaussian-charge model \
                     superposes boundary values and charge, which needs linear conditions"
                );
                return Err(self.invalid(switch.span(), "analysis.paper_mode", reason));
            }
        }
        // The charge is calibrated at the hot spot's radius, which must lie in its point-charge far field (>= 3 w).
        if let (Some(width), Some(spot)) = (paper_width, narrowest) {
            let radius = hotspots::radius(&spot.shape);
            if 3.0 * width > radius {
                let span = analysis.paper_width.as_ref().map(|w| w.span());
                let reason = format!(
                    "a Gaussian of width {} is calibrated at the radius of hot spot `{}` ({}), which must be at least 3 \
                     widths: lower analysis.paper_width to {} or less",
                    show_length(width),
                    spot.name,
                    show_length(radius),
                    show_length(radius / 3.0)
                );
                return Err(self.invalid_at(span, "analysis.paper_width", reason));
            }
        }
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
        let error_estimates = analysis.error_estimates.unwrap_or(true);
        Ok(AnalysisSettings { cylinder, lithiation_increments, paper_width, voids, error_estimates })
    }

    /// Every layer at least h_min thick: the mesher puts no node plane closer than h_min, so a thinner layer would
    /// be meshed at length (a minute for ten 1 nm layers) and then fail; found here, at the layer's line.
    fn check_layers_resolved(&self, raw: &RawCase, geometry: &Geometry, h_min: f64) -> Result<(), CaseError> {
        let thin = geometry.layers.iter().zip(&raw.layers).enumerate().find(|(_, (layer, _))| layer.thickness < h_min);
        match thin {
            Some((i, (layer, raw_layer))) => {
                let reason = format!(
                    "{} is thinner than mesh.h_min = {}, the smallest element the mesher makes; lower mesh.h_min to \
                     at most the thickness, or leave the layer out",
                    show_length(layer.thickness),
                    show_length(h_min)
                );
                Err(self.invalid(raw_layer.thickness.span(), &format!("layers[{i}].thickness"), reason))
            }
            None => Ok(()),
        }
    }

    pub(super) fn solver(&self, raw: &RawCase) -> Result<SolverSettings, CaseError> {
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
        if !(1..=MAX_ITERATIONS as u64).contains(&max_iter) {
            let span = solver.max_iter.as_ref().map(|m| m.span());
            return Err(self.invalid_at(span, "solver.max_iter", format!("must lie in 1..={MAX_ITERATIONS}")));
        }
        let check_every = solver.check_every.as_ref().map_or(DEFAULT_CHECK_EVERY as u64, |k| *k.get_ref());
        if !(1..=MAX_CHECK_EVERY as u64).contains(&check_every) {
            let span = solver.check_every.as_ref().map(|k| k.span());
            let reason = format!("must lie in 1..={MAX_CHECK_EVERY} (GPU iterations recorded per host check)");
            return Err(self.invalid_at(span, "solver.check_every", reason));
        }
        let max_newton_steps = solver.max_newton_steps.as_ref().map_or(DEFAULT_NEWTON_STEPS as u64, |m| *m.get_ref());
        if !(1..=MAX_NEWTON_STEPS as u64).contains(&max_newton_steps) {
            let span = solver.max_newton_steps.as_ref().map(|m| m.span());
            return Err(self.invalid_at(
                span,
                "solver.max_newton_steps",
                format!("must lie in 1..={MAX_NEWTON_STEPS}"),
            ));
        }
        Ok(SolverSettings {
            backend: solver.backend.unwrap_or_default(),
            precision: solver.precision.unwrap_or_default(),
            preconditioner: solver.preconditioner.unwrap_or_default(),
            adapter: solver.adapter.clone(),
            rtol,
            atol,
            max_iter: max_iter as usize,
            check_every: check_every as usize,
            accept_unconverged: solver.accept_unconverged.unwrap_or(false),
            max_newton_steps: max_newton_steps as usize,
            petsc_options: solver.petsc_options.clone().unwrap_or_default(),
        })
    }
}

/// Why paper mode cannot model a geometry, if it cannot: its Gaussian charge stands for one sphere in one
/// material. The case refuses such a case when it is read; `analysis::paper` checks again for library callers.
pub fn paper_mode_unsupported(geometry: &Geometry) -> Option<String> {
    if geometry.hotspots.len() > 1 {
        Some(format!("the case has {} hot spots; paper mode models one (remove the others)", geometry.hotspots.len()))
    } else if !geometry.layers.is_empty() {
        Some("cases with layers are not supported (the Gaussian charge model has one material)".to_string())
    } else {
        None
    }
}
