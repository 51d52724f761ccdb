//! The case bound to a mesh: a coefficient per mesh region and a condition per mesh boundary, in the mesh's
//! order, as assembly needs them.

use super::{join, unique_names, Case, CaseError, Location};
use crate::fem::{self, BoundaryCondition, Problem};
use crate::mesh::geometry::Geometry;
use crate::mesh::Mesh;
use std::collections::HashMap;

impl Case {
    /// Conductivity per mesh region and condition per mesh boundary, in the mesh's order.
    pub fn problem(&self, mesh: &Mesh) -> Result<Problem<'static>, CaseError> {
        let whole = Location { source: self.source.clone(), line: None, from_set: None };
        self.check_regions(mesh)?;
        let region_coefficient = mesh
            .region_names
            .iter()
            .map(|region| {
                // A mesh file's regions are its volume groups, mapped to materials by [regions.<group>].
                let material = self.regions.get(region).map_or(region, |entry| &entry.material);
                self.materials.get(material).map(|m| m.conductivity).ok_or_else(|| CaseError::MissingMaterial {
                    at: whole.clone().into(),
                    field: "materials".into(),
                    region: region.clone(),
                    known: join(self.materials.keys()),
                })
            })
            .collect::<Result<Vec<f64>, CaseError>>()?;
        let group_of: HashMap<&str, &str> =
            self.hotspots().iter().map(|h| (h.name.as_str(), h.group.as_str())).collect();
        // Names a [boundaries.X] entry may take on this mesh: its boundaries and their hot-spot groups.
        let (known, seen) = unique_names(
            mesh.boundary_names
                .iter()
                .flat_map(|name| [Some(name.as_str()), group_of.get(name.as_str()).copied()])
                .flatten(),
        );
        for (name, boundary) in &self.boundaries {
            if mesh.surfaces.iter().any(|s| &s.name == name) {
                return Err(CaseError::Invalid {
                    at: boundary.at.clone().into(),
                    field: format!("boundaries.{name}"),
                    reason: format!(
                        "`{name}` is a surface inside the mesh (its faces lie between two tets): the current through it \
                         is measured, but a condition goes on an exterior surface; exterior groups: {}",
                        join(&known)
                    ),
                });
            }
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
        fem::check_potential_fixed(mesh, &boundary_conditions)
            .map_err(|_| CaseError::Singular { at: whole.clone().into(), reason: fem::SINGULAR_REASON.into() })?;
        // The mesher cuts the resistive planes open in this order and under these names.
        let planes = self.geometry().map(Geometry::resistive_planes).unwrap_or_default();
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

    /// On a mesh file: every volume group has a `[regions.<group>]` entry and every entry names a volume group.
    fn check_regions(&self, mesh: &Mesh) -> Result<(), CaseError> {
        let Some(file) = self.mesh_file() else { return Ok(()) };
        if let Some(group) = mesh.region_names.iter().find(|g| !self.regions.contains_key(*g)) {
            return Err(CaseError::Invalid {
                at: file.at.clone().into(),
                field: "regions".into(),
                reason: format!(
                    "volume group `{group}` of {} has no material: add [regions.\"{group}\"] material = \"...\" \
                     (the file's volume groups: {})",
                    file.path.display(),
                    join(&mesh.region_names)
                ),
            });
        }
        if let Some((name, entry)) = self.regions.iter().find(|(name, _)| !mesh.region_names.contains(name)) {
            return Err(CaseError::Invalid {
                at: entry.at.clone().into(),
                field: format!("regions.{name}"),
                reason: format!(
                    "{} has no volume group `{name}`; its volume groups: {}",
                    file.path.display(),
                    join(&mesh.region_names)
                ),
            });
        }
        Ok(())
    }
}
