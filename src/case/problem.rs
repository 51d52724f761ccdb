//! The case bound to a mesh: a coefficient per mesh region and a condition per mesh boundary, in the mesh's
//! order, as assembly needs them.

use super::{join, unique_names, Case, CaseError, Location};
use crate::fem::{self, BoundaryCondition, Problem};
use crate::mesh::Mesh;
use std::collections::HashMap;

impl Case {
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
        fem::check_potential_fixed(mesh, &boundary_conditions)
            .map_err(|_| CaseError::Singular { at: whole.clone().into(), reason: fem::SINGULAR_REASON.into() })?;
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
