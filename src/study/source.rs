//! Where a case's mesh comes from (step 2): the hot-spot mesher on the case's geometry, its size field scaled
//! where a driver asks (the adaptive loop), or a Gmsh MSH file.

use super::StudyError;
use crate::case::{Case, MeshFile, Meshing};
use crate::mesh::geometry::{Geometry, MeshControls};
use crate::mesh::implicit::{SizeField, SizeScales};
use crate::mesh::quality::MeshQuality;
use crate::mesh::{self, Mesh, MeshProgress};

/// A case's mesh source.
pub enum MeshSource<'a> {
    /// The hot-spot mesher: graded toward the interface and the hot spots, each size-field term scaled by
    /// `scales` (all 1 for the case as written).
    Generated { geometry: &'a Geometry, controls: MeshControls, scales: SizeScales },
    /// A Gmsh MSH 4.1 file (`[mesh] file`), named by its physical groups; no re-meshing.
    File(&'a MeshFile),
}

impl<'a> MeshSource<'a> {
    /// The source the case names: its `[mesh] file`, else the mesher on its geometry and `[mesh]` sizes.
    pub fn of(case: &'a Case) -> MeshSource<'a> {
        match &case.meshing {
            Meshing::File(file) => MeshSource::File(file),
            Meshing::Generated(geometry) => {
                MeshSource::Generated { geometry, controls: case.mesh, scales: SizeScales::default() }
            }
        }
    }

    /// The node count the size field implies, before meshing (counting stops past `limit`); None for a file.
    pub fn estimated_nodes(&self, limit: f64) -> Result<Option<f64>, StudyError> {
        match self {
            MeshSource::File(_) => Ok(None),
            MeshSource::Generated { geometry, controls, scales } => {
                let domain = mesh::hotspot::implicit_domain(geometry)?;
                Ok(Some(SizeField::scaled(&domain, controls, scales).estimate_nodes(limit).nodes))
            }
        }
    }

    /// The mesh and its statistics. `progress` receives (stage name, fraction done) from the mesher.
    pub fn mesh(&self, progress: &mut dyn FnMut(MeshProgress)) -> Result<(Mesh, MeshQuality), StudyError> {
        match self {
            MeshSource::File(file) => {
                let imported = mesh::gmsh::read_msh(&file.path, file.unit_m)?;
                let mut quality = MeshQuality::of(&imported.mesh);
                quality.dropped_nodes = imported.dropped_nodes;
                Ok((imported.mesh, quality))
            }
            MeshSource::Generated { geometry, controls, scales } => {
                Ok(mesh::hotspot::generate_scaled(geometry, controls, scales, progress)?)
            }
        }
    }
}
