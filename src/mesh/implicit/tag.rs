//! The tag stage (nodes renumbered, tets oriented, regions, boundary faces found, oriented and tagged) and the
//! quality stage (the dihedral-angle check).

use super::size::as_ball;
use super::surfaces::CutMesh;
use super::work::NO_SURFACE;
use super::{ImplicitDomain, Surface, MAX_DIHEDRAL_BOUND_DEG, MIN_DIHEDRAL_BOUND_DEG, NOT_BACKGROUND};
use crate::mesh::quality::{dihedral_angles_deg, first_bad_tet, MeshQuality};
use crate::mesh::signed_volume;
use crate::mesh::structured::{BOX_BOUNDARIES, TAG_INTERFACE};
use crate::mesh::{used_nodes, BoundaryFace, Mesh, MeshError, UsedNodes};
use glam::DVec3;
use rayon::prelude::*;

/// Relative distance from a disk's circle within which a node counts as on its rim (rim nodes are computed
/// crossings and projections, on the circle to rounding).
const RIM_TOLERANCE: f64 = 1e-9;

/// Drops unused nodes (the rest keep their order), orients tets, assigns regions, finds and tags the boundary
/// faces. Also returns, per node, the background node it was (or [`NOT_BACKGROUND`]).
pub(super) fn finish(
    domain: &ImplicitDomain,
    cut: CutMesh,
    background_count: usize,
) -> Result<(Mesh, Vec<u32>), MeshError> {
    let UsedNodes { new_index, kept } = used_nodes(cut.nodes.len(), [cut.tets.as_slice()]);
    let nodes: Vec<DVec3> = kept.par_iter().map(|&old| cut.nodes[old as usize]).collect();
    let on_surface: Vec<u16> = kept.par_iter().map(|&old| cut.on_surface[old as usize]).collect();
    let background_node: Vec<u32> =
        kept.par_iter().map(|&old| if (old as usize) < background_count { old } else { NOT_BACKGROUND }).collect();
    drop(kept);
    let mut tets = cut.tets;
    tets.par_iter_mut().for_each(|t| t.iter_mut().for_each(|v| *v = new_index[*v as usize]));
    drop(new_index);
    tets.par_iter_mut().for_each(|t| {
        let p = t.map(|v| nodes[v as usize]);
        if signed_volume(p[0], p[1], p[2], p[3]) < 0.0 {
            t.swap(2, 3);
        }
    });
    let tet_region: Vec<u16> = tets
        .par_iter()
        .map(|t| {
            let z = t.iter().map(|&v| nodes[v as usize].z).sum::<f64>() / 4.0;
            domain.planes_z.iter().filter(|&&p| p < z).count() as u16
        })
        .collect();
    let mut boundary_names: Vec<String> = BOX_BOUNDARIES.iter().map(|s| s.to_string()).collect();
    boundary_names.extend(domain.surfaces.iter().map(|s| s.name().to_string()));
    let mut mesh = Mesh {
        nodes,
        tets,
        tet_region,
        region_names: domain.region_names.clone(),
        boundary_faces: Vec::new(),
        boundary_names,
        ..Default::default()
    };
    mesh.boundary_faces = boundary_faces(&mesh, domain, &on_surface)?;
    Ok((mesh, background_node))
}

/// Faces of exactly one tet: found among faces whose three nodes all lie on the box or on a removed
/// sphere, then oriented outward and tagged (box face, sphere, or disk patch of the bottom face).
pub(super) fn boundary_faces(
    mesh: &Mesh,
    domain: &ImplicitDomain,
    on_surface: &[u16],
) -> Result<Vec<BoundaryFace>, MeshError> {
    let removes = |s: u16| s != NO_SURFACE && matches!(domain.surfaces[s as usize], Surface::Sphere { .. });
    let on_box = |x: DVec3| (0..3).any(|a| x[a] == domain.lo[a] || x[a] == domain.hi[a]);
    let flagged: Vec<bool> = mesh.nodes.par_iter().zip(on_surface).map(|(&x, &s)| on_box(x) || removes(s)).collect();
    let mut candidates: Vec<([u32; 3], [u32; 3])> = mesh
        .tets
        .par_iter()
        .flat_map_iter(|t| {
            crate::mesh::OUTWARD_FACES.into_iter().map(move |face| {
                let f = face.map(|i| t[i]);
                (crate::mesh::face_key(f), f)
            })
        })
        .filter(|(key, _)| key.iter().all(|&v| flagged[v as usize]))
        .collect();
    candidates.par_sort_unstable_by_key(|c| c.0);
    let mut faces = Vec::new();
    let mut i = 0;
    while i < candidates.len() {
        if i + 1 < candidates.len() && candidates[i].0 == candidates[i + 1].0 {
            i += 2;
            continue;
        }
        let nodes = candidates[i].1;
        faces.push(BoundaryFace { nodes, tag: face_tag(mesh, domain, nodes, on_surface)? });
        i += 1;
    }
    Ok(faces)
}

fn face_tag(mesh: &Mesh, domain: &ImplicitDomain, f: [u32; 3], on_surface: &[u16]) -> Result<u16, MeshError> {
    let p = f.map(|v| mesh.nodes[v as usize]);
    // (axis, value, tag) in BOX_BOUNDARIES order.
    let planes =
        [(2, domain.lo.z), (2, domain.hi.z), (0, domain.lo.x), (0, domain.hi.x), (1, domain.lo.y), (1, domain.hi.y)];
    if let Some(tag) = planes.iter().position(|&(a, value)| p.iter().all(|q| q[a] == value)) {
        let tag = tag as u16;
        if tag == TAG_INTERFACE {
            // The cut leaves no face with corners strictly on both sides of a circle, so a face lies in the disk
            // when all its corners are inside or on the rim. Its centroid does not tell: a face outside the
            // circle with two corners on the rim and the third just beyond it (a snap undone by the guard) has
            // its centroid inside.
            for (s, surface) in domain.surfaces.iter().enumerate() {
                if let Surface::Disk { center_x, center_y, radius, .. } = surface {
                    let within = |q: &DVec3| (q.x - center_x).hypot(q.y - center_y) <= radius * (1.0 + RIM_TOLERANCE);
                    if p.iter().all(within) {
                        return Ok((BOX_BOUNDARIES.len() + s) as u16);
                    }
                }
            }
        }
        return Ok(tag);
    }
    let s = on_surface[f[0] as usize];
    if s != NO_SURFACE && f.iter().all(|&v| on_surface[v as usize] == s) {
        return Ok((BOX_BOUNDARIES.len() + s as usize) as u16);
    }
    let c = (p[0] + p[1] + p[2]) / 3.0;
    Err(MeshError::UntaggedBoundaryFace { centroid: c.to_array() })
}

/// Refuses inverted tets and tets outside the guaranteed dihedral range.
pub(super) fn check_quality(mesh: &Mesh, domain: &ImplicitDomain) -> Result<MeshQuality, MeshError> {
    let (quality, valid) = MeshQuality::measure(mesh);
    if !valid {
        let tet = first_bad_tet(mesh).expect("a mesh that is not valid has a bad tet");
        return Err(MeshError::BadElement { tet, volume_m3: mesh.tet_volume(tet) });
    }
    if quality.min_dihedral_deg < MIN_DIHEDRAL_BOUND_DEG || quality.max_dihedral_deg > MAX_DIHEDRAL_BOUND_DEG {
        let (tet, angle_deg) = (0..mesh.tets.len())
            .into_par_iter()
            .map(|t| {
                let worst = dihedral_angles_deg(mesh.tet_points(t))
                    .into_iter()
                    .map(|a| {
                        if a < MIN_DIHEDRAL_BOUND_DEG {
                            (MIN_DIHEDRAL_BOUND_DEG - a, a)
                        } else {
                            (a - MAX_DIHEDRAL_BOUND_DEG, a)
                        }
                    })
                    .fold((f64::NEG_INFINITY, 0.0), |x, y| if y.0 > x.0 { y } else { x });
                (t, worst)
            })
            .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0))
            .map(|(t, (_, a))| (t, a))
            .expect("a failing mesh has tets");
        let [a, b, c, d] = mesh.tet_points(tet);
        let centroid = (a + b + c + d) / 4.0;
        let near = domain
            .surfaces
            .iter()
            .min_by(|s, t| {
                let dist = |s: &Surface| {
                    let (c, r) = as_ball(s, domain);
                    ((centroid - c).length() - r).abs()
                };
                dist(s).total_cmp(&dist(t))
            })
            .map_or_else(|| "(none)".to_string(), |s| s.name().to_string());
        return Err(MeshError::PoorElement {
            tet,
            angle_deg,
            min_deg: MIN_DIHEDRAL_BOUND_DEG,
            max_deg: MAX_DIHEDRAL_BOUND_DEG,
            near,
        });
    }
    Ok(quality)
}
