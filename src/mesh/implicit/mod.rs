//! Conforming, graded tet meshes of implicit domains: a box with interior planes z = const (region
//! boundaries), spheres (their inside or their outside removed, the surface a named boundary) and disks on
//! the bottom face (a named patch whose circle is resolved by mesh nodes).
//!
//! Algorithm, in the stages the progress bar names: (refine) a graded, conforming, nested background mesh by
//! Maubach bisection of a Kuhn grid ([`super::bisection`]) to the size field of [`SizeField`], whose node count is
//! estimated first and refused beyond the domain's node limit; (surfaces) for each surface in turn (planes
//! first, through the whole mesh; then spheres and disks, each in its own neighbourhood, see
//! [`surfaces`]), snap every
//! node that a crossing lies within [`SNAP_FRACTIONS`] of an edge's length from onto it (spheres: radial projection,
//! so |x - c| = r exactly; nodes on box faces or planes move only within them), undoing any snap that would
//! leave an incident tet flatter than [`SNAP_GUARD_DEG`], then cut the tets still crossed by the surface at
//! the exact edge intersections (isosurface-stuffing style). The pieces (tets, pyramids, prisms) are split
//! into tets with the rule "quad diagonal through the smallest global node index", which makes neighbouring
//! pieces agree, so the result stays conforming. A disk's circle is cut in by the hemisphere over it (centre
//! on the bottom face, same radius), which meets the bottom face exactly in the circle and keeps the extra
//! cutting local. Snapping keeps cut points away from nodes, which is what keeps slivers out; (tag) nodes
//! renumbered, tets oriented, regions and boundary faces assigned; (quality) the dihedral-angle check.

mod cut;
mod index;
mod size;
mod smooth;
mod surfaces;
mod tag;
mod work;

pub use size::{NodeEstimate, SizeField, SizeScales, SizeTerm, NODES_PER_INVERSE_CUBE};

use super::bisection::{refine_box, BisectionHierarchy, NodeBudget};
use super::quality::MeshQuality;
use super::{Mesh, MeshError, MeshProgress};
use crate::mesh::geometry::{min_resolvable_radius, MeshControls, MAX_GRADING, MAX_NODE_INDEX};
use cut::cut_list;
use glam::DVec3;
use size::as_ball;
use surfaces::cut_surfaces;
use tag::{check_quality, finish};

/// A node is snapped onto a surface when the surface crosses one of its edges closer to it than this fraction
/// of the edge; the fractions are tried in order until the mesh meets the dihedral range. A sweep over 240
/// random sphere + disk placements (the `random_hot_spots...` test setting) gave, for a single fraction, the
/// worst dihedral angles 0.1: 1.7, 0.15: 3.7, 0.18: 5.3, 0.2: 5.5, 0.22: 3.9, 0.25: 3.3 degrees (0.3 and above:
/// < 0.1, snapped nodes then flatten neighbours); the worst cases of different fractions do not coincide.
/// A cluster of surfaces whose pieces miss [`MIN_DIHEDRAL_TARGET_DEG`] is cut again with the next fraction (it is
/// local, so trying more is cheap); the last four widen the search for the rare cluster the first four miss.
pub const SNAP_FRACTIONS: [f64; 8] = [0.2, 0.18, 0.22, 0.15, 0.25, 0.12, 0.16, 0.24];
/// How close to 0 or 180 degrees a cluster's pieces may bring a dihedral angle: below it they are optimised, and
/// if that fails the next snap fraction is tried.
pub const MIN_DIHEDRAL_TARGET_DEG: f64 = 10.0;
/// A snap is undone when it would leave an incident tet with a dihedral angle below this.
pub const SNAP_GUARD_DEG: f64 = 15.0;
/// Dihedral-angle range every generated mesh is checked against; a mesh outside it (after all
/// [`SNAP_FRACTIONS`]) is refused with [`MeshError::PoorElement`] rather than handed on. Snap-and-cut has no
/// proof of a bound: over 1000 random placements the worst angles were 4.29 and 168.4 degrees, all accepted.
pub const MIN_DIHEDRAL_BOUND_DEG: f64 = 4.0;
pub const MAX_DIHEDRAL_BOUND_DEG: f64 = 172.0;
/// Marks a final-mesh node that is not a background node (it was created by a cut).
pub const NOT_BACKGROUND: u32 = u32::MAX;

/// The gap the mesher needs between a sphere and a disk hot spot, in units of h_min.
const SPHERE_DISK_GAP_IN_H_MIN: f64 = 8.0;

/// Which side of a sphere belongs to the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Outside,
    Inside,
}

/// A named surface of the domain; its name becomes a boundary name.
#[derive(Debug, Clone, PartialEq)]
pub enum Surface {
    /// The other side of the sphere is removed; the sphere is a boundary.
    Sphere { name: String, center: DVec3, radius: f64, keep: Keep },
    /// The faces of the bottom face z = lo.z inside the circle form the boundary `name`.
    Disk { name: String, center_x: f64, center_y: f64, radius: f64 },
}

impl Surface {
    pub fn name(&self) -> &str {
        match self {
            Surface::Sphere { name, .. } | Surface::Disk { name, .. } => name,
        }
    }
}

/// The box [lo, hi] cut by the planes z = `planes_z` (ascending, strictly inside) into regions
/// `region_names` (bottom to top, one more than planes), minus what the surfaces remove.
#[derive(Debug, Clone, PartialEq)]
pub struct ImplicitDomain {
    pub lo: DVec3,
    pub hi: DVec3,
    pub planes_z: Vec<f64>,
    pub region_names: Vec<String>,
    pub surfaces: Vec<Surface>,
}

/// The final mesh with the nested background hierarchy it was cut from.
#[derive(Debug, Clone)]
pub struct GeneratedMesh {
    pub mesh: Mesh,
    pub background: BisectionHierarchy,
    /// For each mesh node, its index in `background.nodes` (moved onto a surface if it was snapped), or
    /// [`NOT_BACKGROUND`] for a node created by a cut.
    pub background_node: Vec<u32>,
    pub quality: MeshQuality,
}

/// Meshes the domain (one background level); returns the mesh and its statistics.
pub fn mesh_implicit(
    domain: &ImplicitDomain,
    controls: &MeshControls,
    progress: &mut dyn FnMut(MeshProgress),
) -> Result<(Mesh, MeshQuality), MeshError> {
    mesh_implicit_scaled(domain, controls, &SizeScales::default(), progress)
}

/// [`mesh_implicit`] to the size field scaled by `scales` (an adaptive loop's refinement).
pub fn mesh_implicit_scaled(
    domain: &ImplicitDomain,
    controls: &MeshControls,
    scales: &SizeScales,
    progress: &mut dyn FnMut(MeshProgress),
) -> Result<(Mesh, MeshQuality), MeshError> {
    let background = refine(domain, controls, scales, 1, progress)?;
    let BisectionHierarchy { nodes, mut levels, .. } = background;
    let tets = levels.pop().expect("a hierarchy has a level").tets;
    let background_count = nodes.len();
    let (mesh, _, quality) = cut_and_finish(domain, controls, nodes, tets, background_count, progress)?;
    Ok((mesh, quality))
}

/// Meshes the domain and keeps `levels` nested background levels (each one's size target twice the next).
pub fn mesh_implicit_with_hierarchy(
    domain: &ImplicitDomain,
    controls: &MeshControls,
    levels: usize,
    progress: &mut dyn FnMut(MeshProgress),
) -> Result<GeneratedMesh, MeshError> {
    let background = refine(domain, controls, &SizeScales::default(), levels, progress)?;
    let (nodes, tets) = (background.nodes.clone(), background.finest().tets.clone());
    let (mesh, background_node, quality) =
        cut_and_finish(domain, controls, nodes, tets, background.nodes.len(), progress)?;
    Ok(GeneratedMesh { mesh, background, background_node, quality })
}

/// Checks the controls, estimates the node count (refusing a mesh beyond the node limit before anything is
/// allocated for it), and refines the background.
fn refine(
    domain: &ImplicitDomain,
    controls: &MeshControls,
    scales: &SizeScales,
    levels: usize,
    progress: &mut dyn FnMut(MeshProgress),
) -> Result<BisectionHierarchy, MeshError> {
    validate(domain, controls)?;
    let field = SizeField::scaled(domain, controls, scales);
    let estimate = field.estimate_nodes(controls.max_nodes as f64);
    if !estimate.complete {
        // A box so large that the integral overflows (NaN or inf) is beyond every limit.
        let nodes = if estimate.nodes.is_finite() { estimate.nodes } else { f64::INFINITY };
        return Err(MeshError::EstimateTooLarge { estimate: nodes, limit: controls.max_nodes });
    }
    let budget = NodeBudget { limit: controls.max_nodes, expected: estimate.nodes as usize };
    refine_box(domain.lo, domain.hi, controls.h_max, &|x| field.at(x), levels, budget, progress)
}

/// The surfaces, tagging and quality stages on a background mesh.
fn cut_and_finish(
    domain: &ImplicitDomain,
    controls: &MeshControls,
    nodes: Vec<DVec3>,
    tets: Vec<[u32; 4]>,
    background_count: usize,
    progress: &mut dyn FnMut(MeshProgress),
) -> Result<(Mesh, Vec<u32>, MeshQuality), MeshError> {
    progress(MeshProgress { stage: "surfaces", fraction: 0.0, nodes: nodes.len() });
    let cut = cut_surfaces(domain, nodes, tets, &cut_list(domain), 3.0 * controls.h_max, progress)?;
    if cut.nodes.len() > controls.max_nodes {
        return Err(MeshError::TooLarge { limit: controls.max_nodes });
    }
    progress(MeshProgress { stage: "tag", fraction: 0.0, nodes: cut.nodes.len() });
    let (mesh, background_node) = finish(domain, cut, background_count)?;
    progress(MeshProgress { stage: "quality", fraction: 0.0, nodes: mesh.nodes.len() });
    let quality = check_quality(&mesh, domain)?;
    progress(MeshProgress { stage: "quality", fraction: 1.0, nodes: mesh.nodes.len() });
    Ok((mesh, background_node, quality))
}

fn invalid(field: &'static str, reason: String) -> MeshError {
    MeshError::InvalidControls { field, reason }
}

fn validate(domain: &ImplicitDomain, c: &MeshControls) -> Result<(), MeshError> {
    for (field, v) in [("h_min", c.h_min), ("h_max", c.h_max), ("h_interface", c.h_interface)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(invalid(field, format!("must be a positive length, got {v:e} m")));
        }
    }
    if c.h_min > c.h_max {
        return Err(invalid("h_min", format!("{:e} m exceeds h_max = {:e} m", c.h_min, c.h_max)));
    }
    if c.h_interface > c.h_max {
        return Err(invalid("h_interface", format!("{:e} m exceeds h_max = {:e} m", c.h_interface, c.h_max)));
    }
    if !(c.grading > 1.0 && c.grading <= MAX_GRADING) {
        return Err(invalid("grading", format!("must lie in (1, {MAX_GRADING}], got {:e}", c.grading)));
    }
    if c.max_nodes > MAX_NODE_INDEX {
        return Err(invalid("max_nodes", format!("must be at most {MAX_NODE_INDEX} (32-bit node indices)")));
    }
    let size = domain.hi - domain.lo;
    if !(size.min_element() > 0.0) {
        return Err(invalid("box", format!("the box {:?} .. {:?} is empty", domain.lo, domain.hi)));
    }
    let planes_ok = domain.planes_z.windows(2).all(|w| w[0] < w[1])
        && domain.planes_z.iter().all(|&z| z > domain.lo.z && z < domain.hi.z);
    if !planes_ok {
        let total = domain.planes_z.last().copied().unwrap_or(0.0) - domain.lo.z;
        return Err(MeshError::LayersExceedBox { total_m: total, height_m: size.z });
    }
    if domain.region_names.len() != domain.planes_z.len() + 1 {
        return Err(invalid("regions", "need one region name more than planes".to_string()));
    }
    let min_radius = min_resolvable_radius(c.h_min);
    for s in &domain.surfaces {
        let radius = match s {
            Surface::Sphere { radius, .. } | Surface::Disk { radius, .. } => *radius,
        };
        if !(radius >= min_radius) {
            return Err(MeshError::RadiusBelowResolution {
                name: s.name().to_string(),
                radius_m: radius,
                min_m: min_radius,
            });
        }
        if let Surface::Disk { name, center_x, center_y, radius } = s {
            let inside = center_x - radius >= domain.lo.x
                && center_x + radius <= domain.hi.x
                && center_y - radius >= domain.lo.y
                && center_y + radius <= domain.hi.y;
            if !inside {
                let reason = "the circle leaves the bottom face of the box".to_string();
                return Err(MeshError::HotSpotOutsideBox { name: name.clone(), reason });
            }
        }
    }
    // Surfaces may not meet and must stay h_min apart (a sphere and a disk 8 h_min), so each cut only ever meets
    // nodes of its own surface.
    for (i, a) in domain.surfaces.iter().enumerate() {
        for b in &domain.surfaces[i + 1..] {
            let (ca, ra) = as_ball(a, domain);
            let (cb, rb) = as_ball(b, domain);
            let d = (ca - cb).length();
            let nested = matches!(a, Surface::Sphere { .. }) && matches!(b, Surface::Sphere { .. });
            let apart = match (a, b) {
                // A disk is flat: the distance to a sphere is to the circle, not to a ball around it. Measured
                // (40 nm sphere over a 100 nm disk, h_min 10 nm): gaps of 6 and 7 h_min break the angle bounds,
                // 8 h_min and more mesh.
                (Surface::Sphere { center, radius, .. }, Surface::Disk { center_x, center_y, radius: disk, .. })
                | (Surface::Disk { center_x, center_y, radius: disk, .. }, Surface::Sphere { center, radius, .. }) => {
                    let lateral = ((center.x - center_x).hypot(center.y - center_y) - disk).max(0.0);
                    let gap = lateral.hypot(center.z - domain.lo.z) - radius;
                    let needed = SPHERE_DISK_GAP_IN_H_MIN * c.h_min;
                    // The relative slack absorbs rounding ("120 nm" - "40 nm" is not exactly 80 nm).
                    if gap < needed * (1.0 - 1e-9) && gap > 0.0 {
                        return Err(MeshError::HotSpotsTooClose {
                            first: a.name().to_string(),
                            second: b.name().to_string(),
                            gap_m: gap,
                            needed_m: needed,
                        });
                    }
                    gap > 0.0
                }
                _ => d >= ra + rb + c.h_min || (nested && d + ra.min(rb) + c.h_min <= ra.max(rb)),
            };
            if !apart {
                return Err(MeshError::HotSpotsOverlap {
                    first: a.name().to_string(),
                    second: b.name().to_string(),
                    reason: format!("their surfaces come closer than h_min = {:e} m", c.h_min),
                });
            }
        }
    }
    Ok(())
}
