//! The hot-spot mesher: a case geometry (box, layers, sphere and disk hot spots) as an implicit domain,
//! meshed by [`super::implicit`]: conforming, graded from `h_min` at the hot spots and `h_interface` at the
//! interface and layer planes to `h_max` far away. The top plane of a layer with an interfacial resistance is
//! cut open afterwards ([`super::interface::split_at_plane`]).

use super::implicit::{
    mesh_implicit_scaled, mesh_implicit_with_hierarchy, GeneratedMesh, ImplicitDomain, Keep, SizeScales, Surface,
};
use super::interface::split_at_plane;
use super::order::order_spatially;
use super::quality::MeshQuality;
use super::structured::BOX_BOUNDARIES;
use super::{Mesh, MeshError, MeshProgress};
use crate::mesh::geometry::{Geometry, HotSpotShape, MeshControls};
use glam::DVec3;

/// Meshes the geometry: tets with region ids (materials in order of first appearance: layers bottom-up, then
/// the bulk; a geometry without hot spots gives a box graded toward the interface), box faces tagged as
/// `BOX_BOUNDARIES`, each sphere hot spot's surface and each disk hot spot's patch of the interface tagged
/// with the hot spot's name (tags after the box faces, in hot-spot order).
pub fn generate(
    geometry: &Geometry,
    controls: &MeshControls,
    progress: &mut dyn FnMut(MeshProgress),
) -> Result<Mesh, MeshError> {
    generate_measured(geometry, controls, progress).map(|(mesh, _)| mesh)
}

/// [`generate`], with the mesh's statistics (computed once, by the mesher's quality check).
pub fn generate_measured(
    geometry: &Geometry,
    controls: &MeshControls,
    progress: &mut dyn FnMut(MeshProgress),
) -> Result<(Mesh, MeshQuality), MeshError> {
    generate_scaled(geometry, controls, &SizeScales::default(), progress)
}

/// [`generate_measured`] to the size field scaled by `scales` (the surfaces' scales in hot-spot order).
pub fn generate_scaled(
    geometry: &Geometry,
    controls: &MeshControls,
    scales: &SizeScales,
    progress: &mut dyn FnMut(MeshProgress),
) -> Result<(Mesh, MeshQuality), MeshError> {
    let (mut mesh, mut quality) = mesh_implicit_scaled(&implicit_domain(geometry)?, controls, scales, progress)?;
    merge_regions_by_name(&mut mesh);
    for plane in geometry.resistive_planes() {
        split_at_plane(&mut mesh, plane.z, &plane.name);
    }
    order_spatially(&mut mesh);
    quality.nodes = mesh.nodes.len();
    Ok((mesh, quality))
}

/// [`generate`], keeping `levels` nested background levels for multigrid (coarsest first).
pub fn generate_with_hierarchy(
    geometry: &Geometry,
    controls: &MeshControls,
    levels: usize,
    progress: &mut dyn FnMut(MeshProgress),
) -> Result<GeneratedMesh, MeshError> {
    let mut generated = mesh_implicit_with_hierarchy(&implicit_domain(geometry)?, controls, levels, progress)?;
    merge_regions_by_name(&mut generated.mesh);
    for plane in geometry.resistive_planes() {
        let originals = split_at_plane(&mut generated.mesh, plane.z, &plane.name);
        // A copy stands for the same background node as the node it duplicates.
        let copies: Vec<u32> = originals.iter().map(|&v| generated.background_node[v as usize]).collect();
        generated.background_node.extend(copies);
    }
    Ok(generated)
}

/// Region names are material names: slabs that share a material (a layer of the bulk's material, two
/// layers of one material) share one region id, numbered by first appearance from the interface up.
fn merge_regions_by_name(mesh: &mut Mesh) {
    let mut names: Vec<String> = Vec::with_capacity(mesh.region_names.len());
    let merged_id: Vec<u16> = mesh
        .region_names
        .iter()
        .map(|name| match names.iter().position(|n| n == name) {
            Some(i) => i as u16,
            None => {
                names.push(name.clone());
                (names.len() - 1) as u16
            }
        })
        .collect();
    for region in &mut mesh.tet_region {
        *region = merged_id[*region as usize];
    }
    mesh.region_names = names;
}

/// The geometry as an implicit domain, after the checks that are specific to hot spots in a cell stack.
pub fn implicit_domain(geometry: &Geometry) -> Result<ImplicitDomain, MeshError> {
    let size = geometry.size;
    let mut planes_z = Vec::with_capacity(geometry.layers.len());
    let mut top = 0.0;
    for layer in &geometry.layers {
        top += layer.thickness;
        planes_z.push(top);
    }
    if !(top < size.z) || geometry.layers.iter().any(|l| !(l.thickness > 0.0)) {
        return Err(MeshError::LayersExceedBox { total_m: top, height_m: size.z });
    }
    let resistive_planes = geometry.resistive_planes();
    let mut surfaces = Vec::with_capacity(geometry.hotspots.len());
    for (i, spot) in geometry.hotspots.iter().enumerate() {
        let name = spot.name.clone();
        let taken = BOX_BOUNDARIES.contains(&name.as_str()) || geometry.hotspots[..i].iter().any(|h| h.name == name);
        if taken {
            return Err(MeshError::DuplicateBoundaryName { name });
        }
        if let Some(reason) = spot.shape.cuts_interface() {
            return Err(MeshError::HotSpotCutsInterface { name, reason });
        }
        if let Some(reason) = spot.shape.outside_box(size) {
            return Err(MeshError::HotSpotOutsideBox { name, reason });
        }
        surfaces.push(match spot.shape {
            HotSpotShape::Sphere { center, radius } => {
                if let Some(plane) = resistive_planes.iter().find(|p| spot.shape.meets_plane(p.z)) {
                    return Err(MeshError::HotSpotTouchesResistivePlane {
                        name,
                        layer: plane.layer,
                        region: geometry.layers[plane.layer].region.clone(),
                        z_m: plane.z,
                        reach_low_m: center.z - radius,
                        reach_high_m: center.z + radius,
                    });
                }
                Surface::Sphere { name, center, radius, keep: Keep::Outside }
            }
            HotSpotShape::Disk { center_x, center_y, radius } => Surface::Disk { name, center_x, center_y, radius },
        });
    }
    let mut region_names: Vec<String> = geometry.layers.iter().map(|l| l.region.clone()).collect();
    region_names.push(geometry.bulk_region.clone());
    Ok(ImplicitDomain { lo: DVec3::ZERO, hi: size, planes_z, region_names, surfaces })
}
