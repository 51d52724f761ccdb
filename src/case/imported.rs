//! Cases on a mesh file (`[mesh] file`, `unit`): regions by volume group, the generator's keys refused, the
//! analyses that need a generated geometry refused, the cylinder placed by `cylinder_axis` and `cylinder_plane`.
//! Group names are checked against the file when the case is bound to its mesh ([`Case::problem`]).

use super::builder::Builder;
use super::schema::{Name, RawCase};
use super::units::{parse_quantity, Dimension};
use super::{Case, CaseError, MeshFile, Meshing, RegionEntry, DEFAULT_SOURCE};
use crate::mesh::geometry::MeshControls;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

impl Builder<'_> {
    /// Without a mesh file, the keys that belong to one are refused.
    pub(super) fn refuse_file_keys(&self, raw: &RawCase) -> Result<(), CaseError> {
        let why = "applies to a mesh file only (with [mesh] file = \"...\")";
        if let Some((name, region)) = raw.regions.iter().next() {
            let reason = format!(
                "[regions.<group>] names the volume groups of a mesh file; a generated mesh's regions are the \
                 materials of [domain] and [[layers]], so remove [regions.{name}] or give [mesh] file"
            );
            return Err(self.invalid(region.span(), &format!("regions.{name}"), reason));
        }
        self.refuse_given([
            ("mesh.unit", raw.mesh.unit.as_ref().map(|u| u.span()), why),
            ("analysis.cylinder_axis", raw.analysis.cylinder_axis.as_ref().map(|a| a.span()), why),
            ("analysis.cylinder_plane", raw.analysis.cylinder_plane.as_ref().map(|p| p.span()), why),
        ])
    }

    /// The first of `keys` the case gives (its span is `Some`), refused with its reason.
    fn refuse_given<'k>(
        &self,
        keys: impl IntoIterator<Item = (&'k str, Option<Range<usize>>, &'k str)>,
    ) -> Result<(), CaseError> {
        match keys.into_iter().find_map(|(key, span, why)| span.map(|span| (key, span, why))) {
            Some((key, span, why)) => Err(self.invalid(span, key, why.into())),
            None => Ok(()),
        }
    }

    /// A case whose mesh is read from `file`.
    pub(super) fn build_from_file(&self, raw: &RawCase, file: &Name) -> Result<Case, CaseError> {
        self.refuse_generator_keys(raw)?;
        let why = "re-meshes the case, and a mesh file is not re-meshed (its currents still get error estimates)";
        self.refuse_given([("adapt", raw.adapt.as_ref().map(|a| a.span()), why)])?;
        let mesh_file = self.mesh_file(raw, file)?;
        let materials = self.materials(raw)?;
        let mut regions = BTreeMap::new();
        for (group, entry) in &raw.regions {
            let field = format!("regions.{group}.material");
            self.check_material_exists(&entry.get_ref().material, &field, &materials)?;
            let at = self.at(entry.span(), &format!("regions.{group}"));
            regions.insert(group.clone(), RegionEntry { material: entry.get_ref().material.get_ref().clone(), at });
        }
        // Boundary names are the file's groups: checked when the case meets its mesh.
        let boundaries = self.boundary_entries(raw, |_, _, _| Ok(()))?;
        let mut analysis = self.analysis(raw, None, &boundaries, f64::INFINITY)?;
        if let Some(cylinder) = &mut analysis.cylinder {
            let needs = |key: &str| {
                let reason = format!(
                    "on a mesh file the cylinder needs `{key}` (its axis [x, y], and the boundary whose plane its \
                     depths start from)"
                );
                let span = raw.analysis.cylinder_radius.as_ref().map(|r| r.span());
                self.invalid_at(span, &format!("analysis.{key}"), reason)
            };
            let axis = raw.analysis.cylinder_axis.as_ref().ok_or_else(|| needs("cylinder_axis"))?;
            let axis = self.list(axis, "analysis.cylinder_axis", Dimension::Length, 2)?;
            let plane = raw.analysis.cylinder_plane.as_ref().ok_or_else(|| needs("cylinder_plane"))?;
            cylinder.axis = Some((axis[0], axis[1]));
            cylinder.plane = Some(plane.get_ref().clone());
            cylinder.plane_at = Some(self.at(plane.span(), "analysis.cylinder_plane").to_string());
        } else {
            let why = "places the cylinder of analysis.cylinder_radius, which is not given";
            self.refuse_given([
                ("analysis.cylinder_axis", raw.analysis.cylinder_axis.as_ref().map(|a| a.span()), why),
                ("analysis.cylinder_plane", raw.analysis.cylinder_plane.as_ref().map(|p| p.span()), why),
            ])?;
        }
        Ok(Case {
            name: self.case_name(raw),
            source: self.source.source.clone(),
            overrides: Vec::new(),
            resolved_toml: String::new(),
            meshing: Meshing::File(mesh_file),
            // Unused: the mesh comes from the file.
            mesh: MeshControls { h_max: 0.0, h_min: 0.0, h_interface: 0.0, grading: 0.0, max_nodes: 0 },
            regions,
            materials,
            boundaries,
            solver: self.solver(raw)?,
            analysis,
            adapt: None,
            output: self.output(raw)?,
        })
    }

    /// The file's path (relative to the case file) and unit; the file must exist.
    fn mesh_file(&self, raw: &RawCase, file: &Name) -> Result<MeshFile, CaseError> {
        let Some(unit) = &raw.mesh.unit else {
            let reason = "a mesh file needs the length unit of its coordinates: unit = \"um\" (or \"m\", \"mm\", \
                          \"nm\", ...); ionflux does not guess it"
                .into();
            return Err(self.invalid(file.span(), "mesh.unit", reason));
        };
        let unit_m = parse_quantity(&format!("1 {}", unit.get_ref()), Dimension::Length)
            .ok()
            .filter(|u| *u > 0.0 && u.is_finite() && !unit.get_ref().trim().is_empty())
            .ok_or_else(|| {
                let reason = format!("`{}` is not a length unit (e.g. \"m\", \"mm\", \"um\", \"nm\")", unit.get_ref());
                self.invalid(unit.span(), "mesh.unit", reason)
            })?;
        let source = &self.source.source;
        let folder = if source == DEFAULT_SOURCE { None } else { Path::new(source).parent() };
        let path: PathBuf = folder.map_or_else(|| PathBuf::from(file.get_ref()), |dir| dir.join(file.get_ref()));
        if !path.is_file() {
            let reason = format!("no mesh file at {} (paths are relative to the case file)", path.display());
            return Err(self.invalid(file.span(), "mesh.file", reason));
        }
        Ok(MeshFile { path, unit_m, at: self.at(file.span(), "mesh.file") })
    }

    /// The generator's keys and the analyses that need a generated geometry, refused on a mesh file.
    fn refuse_generator_keys(&self, raw: &RawCase) -> Result<(), CaseError> {
        let generator = "belongs to the mesh generator; a case with [mesh] file takes its geometry from the file \
                         (remove it)";
        let generated = "needs a generated geometry (it re-meshes or replaces the hot spots); it is not available \
                         with [mesh] file";
        let mesh = &raw.mesh;
        let quantity = |q: &Option<super::schema::Quantity>| q.as_ref().map(|q| q.span());
        let refused: [(&str, Option<Range<usize>>, &str); 14] = [
            ("domain", raw.domain.as_ref().map(|d| d.span()), generator),
            ("layers", raw.layers.first().map(|l| l.material.span()), generator),
            ("hotspots", raw.hotspots.first().map(|h| h.name.span()), generator),
            ("hotspot_arrays", raw.hotspot_arrays.first().map(|h| h.name.span()), generator),
            ("hotspot_random", raw.hotspot_random.first().map(|h| h.name.span()), generator),
            ("mesh.h_max", quantity(&mesh.h_max), generator),
            ("mesh.h_min", quantity(&mesh.h_min), generator),
            ("mesh.h_interface", quantity(&mesh.h_interface), generator),
            ("mesh.grading", mesh.grading.as_ref().map(|g| g.span()), generator),
            ("mesh.max_nodes", mesh.max_nodes.as_ref().map(|m| m.span()), generator),
            (
                "analysis.paper_mode",
                raw.analysis.paper_mode.as_ref().filter(|p| *p.get_ref()).map(|p| p.span()),
                generated,
            ),
            ("analysis.paper_width", quantity(&raw.analysis.paper_width), generated),
            ("analysis.voids", raw.analysis.voids.as_ref().filter(|v| *v.get_ref()).map(|v| v.span()), generated),
            (
                "analysis.lithiation_increments",
                raw.analysis.lithiation_increments.as_ref().filter(|n| *n.get_ref() > 1).map(|n| n.span()),
                "above 1 re-meshes a shrinking sphere and needs a generated geometry; a mesh file gets the \
                 single-solve estimate (1)",
            ),
        ];
        self.refuse_given(refused)
    }
}
