//! The size field: the element size the background mesh is refined to at each point.

use super::{ImplicitDomain, Surface};
use crate::mesh::geometry::MeshControls;
use glam::DVec3;

/// The ball whose sphere is cut into the mesh for a surface: the sphere itself, or for a disk a spherical
/// cap standing on the disk's circle. The cap is a hemisphere unless that would reach the first plane; then
/// it is flattened to half the first plane's height (a sphere centred below the bottom face), so that it
/// never meets a plane: cutting a second surface through a curve on a plane costs quality.
pub(super) fn as_ball(s: &Surface, domain: &ImplicitDomain) -> (DVec3, f64) {
    match s {
        Surface::Sphere { center, radius, .. } => (*center, *radius),
        Surface::Disk { center_x, center_y, radius, .. } => {
            let first_plane = domain.planes_z.first().copied().unwrap_or(domain.hi.z);
            let cap = radius.min(0.5 * (first_plane - domain.lo.z));
            // A sphere through the circle with its top `cap` above the bottom face: centre depth s below it
            // solves (s + cap)^2 = s^2 + radius^2.
            let depth = (radius * radius - cap * cap) / (2.0 * cap);
            (DVec3::new(*center_x, *center_y, domain.lo.z - depth), depth + cap)
        }
    }
}

/// Target element size (mean edge) at x: h_min at spheres and disk circles, h_interface at the bottom face
/// and the planes, growing by (grading - 1) per unit distance, capped at h_max.
pub fn target_size(domain: &ImplicitDomain, c: &MeshControls, x: DVec3) -> f64 {
    let slope = c.grading - 1.0;
    let mut h = c.h_max.min(c.h_interface + slope * (x.z - domain.lo.z).abs());
    for &p in &domain.planes_z {
        h = h.min(c.h_interface + slope * (x.z - p).abs());
    }
    for s in &domain.surfaces {
        let d = match s {
            Surface::Sphere { center, radius, .. } => ((x - *center).length() - radius).abs(),
            Surface::Disk { center_x, center_y, radius, .. } => {
                let rho = (x.x - center_x).hypot(x.y - center_y);
                (rho - radius).hypot(x.z - domain.lo.z)
            }
        };
        h = h.min(c.h_min + slope * d);
    }
    h
}
