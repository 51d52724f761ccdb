//! Voids: insulating disk patches of the interface (contact loss). The current has to go around a void, so it
//! crowds at the rim, and the detour adds a constriction resistance. Two measures, on a [`Mesh`] and plain
//! slices like the rest of [`crate::science`]:
//!
//! - the mean current density into the interface over the rim annulus a <= r <= a + a / 5 around a void of
//!   radius a (the current through the annulus over its area). Around the rim of an insulating disk on an
//!   equipotential plane J ~ 1/sqrt(distance to the rim): the peak is infinite (the largest element value grows
//!   without bound as h shrinks, 3.84 -> 6.18 -> 9.81 for h_min 50 / 25 / 12.5 nm on `meshes/void.toml`), but
//!   the singularity is integrable, so the annulus mean converges.
//! - the area-mean potential of a boundary (the driving `top` face), from which the analysis forms the
//!   resistance (mean top potential - interface potential) / current with and without the voids.

use crate::mesh::Mesh;
use glam::DVec3;
use serde::Serialize;

/// Why the voids could not be analysed.
#[derive(Debug, thiserror::Error)]
pub enum VoidError {
    #[error("analysis.voids: no current crosses the interface plane z = 0, so there is no resistance to compare")]
    NoCurrent,
    #[error("analysis.voids: no interface face meets the rim annulus of void `{hotspot}`")]
    NoInterfaceNear { hotspot: String },
    #[error(
        "analysis.voids needs the box's `interface` boundary (dirichlet or robin) and its `top`: this mesh or case \
         has no {missing}"
    )]
    NoBox { missing: &'static str },
}

/// One void's entry of summary.json (`voids`).
#[allow(non_snake_case)] // the JSON keys carry their units
#[derive(Debug, Clone, Serialize)]
pub struct VoidResult {
    pub hotspot: String,
    pub radius_m: f64,
    /// The current through the interface plane z = 0 over the box's bottom area Lx Ly.
    pub applied_current_density_A_per_m2: f64,
    /// The width of the rim annulus, a / 5 ([`RIM_WIDTH_IN_RADII`]).
    pub rim_width_m: f64,
    /// The current into the interface through the annulus a <= r <= a + rim_width_m, over the annulus' area.
    pub rim_current_density_A_per_m2: f64,
    /// `rim_current_density_A_per_m2 / applied_current_density_A_per_m2`: how much the void focuses the current
    /// next to it (converges under refinement; the peak at the rim does not).
    pub focusing_factor: f64,
    /// (mean top potential - interface potential) / interface current, with the voids.
    pub resistance_Ohm: f64,
    /// The same with every void given the interface's own condition (one extra solve).
    pub reference_resistance_Ohm: f64,
    /// `resistance_Ohm - reference_resistance_Ohm`: the extra resistance of all the case's voids together,
    /// the same number in every entry.
    pub constriction_resistance_Ohm: f64,
}

/// The rim annulus is this many void radii wide: wide enough to hold a few elements at the default resolution
/// (h_min = a / 5 and below), narrow enough to say how the current crowds at the rim.
pub const RIM_WIDTH_IN_RADII: f64 = 0.2;

/// Sub-triangles per side when a face's part inside the annulus is measured (64 sub-triangles: right to about
/// 1/8 of the face's size at the annulus' circles).
const AREA_SUBDIVISIONS: usize = 8;

/// An interface face: its vertices, centroid, and the consistent current leaving through it held by its three
/// nodes (`fem::Assembly::face_outflows`).
#[derive(Debug, Clone, Copy)]
struct InterfaceFace {
    vertices: [DVec3; 3],
    centroid: DVec3,
    outflow: [f64; 3],
}

/// The faces tagged `interface`, sorted by centroid x for range queries per void.
pub struct InterfaceFaces {
    faces: Vec<InterfaceFace>,
    largest_edge: f64,
}

impl InterfaceFaces {
    pub fn new(mesh: &Mesh, face_outflows: &[[f64; 3]], interface_tag: u16) -> InterfaceFaces {
        let mut faces: Vec<InterfaceFace> = mesh
            .boundary_faces
            .iter()
            .zip(face_outflows)
            .filter(|(f, _)| f.tag == interface_tag)
            .map(|(f, &outflow)| {
                let vertices = mesh.face_points(f);
                InterfaceFace { vertices, centroid: vertices.iter().sum::<DVec3>() / 3.0, outflow }
            })
            .collect();
        faces.sort_by(|a, b| a.centroid.x.total_cmp(&b.centroid.x));
        let edge =
            |f: &InterfaceFace| (0..3).map(|k| f.vertices[k].distance(f.vertices[(k + 1) % 3])).fold(0.0, f64::max);
        let largest_edge = faces.iter().map(edge).fold(0.0, f64::max);
        InterfaceFaces { faces, largest_edge }
    }

    /// The mean current density leaving through the interface over the annulus radius <= r <= radius + width
    /// around the void's axis: the current through it over its area. A face's part of it is measured on
    /// [`AREA_SUBDIVISIONS`]^2 sub-triangles, and each node's consistent outflow is shared among the
    /// sub-triangles by its hat function (the centroid rule is exact for the hat). `None` when no face meets it.
    pub fn rim_mean(&self, center_x: f64, center_y: f64, radius: f64, width: f64) -> Option<f64> {
        let axis = |p: DVec3| (p.x - center_x).hypot(p.y - center_y);
        let inside = |p: DVec3| (radius..=radius + width).contains(&axis(p));
        let window = radius + width + self.largest_edge;
        let start = self.faces.partition_point(|f| f.centroid.x < center_x - window);
        let (mut current, mut area) = (0.0, 0.0);
        for face in self.faces[start..].iter().take_while(|f| f.centroid.x <= center_x + window) {
            let (near, far) =
                face.vertices.iter().map(|&v| axis(v)).fold((f64::INFINITY, 0.0f64), |(n, f), d| (n.min(d), f.max(d)));
            if far < radius || near > radius + width + self.largest_edge {
                continue;
            }
            let (share, fraction) = sub_triangle_shares(face.vertices, inside);
            current += (0..3).map(|k| face.outflow[k] * share[k]).sum::<f64>();
            area += fraction
                * 0.5
                * (face.vertices[1] - face.vertices[0]).cross(face.vertices[2] - face.vertices[0]).length();
        }
        (area > 0.0).then(|| current / area)
    }
}

/// For the triangle `v` cut into n^2 congruent sub-triangles (n = [`AREA_SUBDIVISIONS`]): per corner, the part of
/// its hat function's integral that lies on sub-triangles whose centroid is `inside` (1 for a face wholly
/// inside), and the fraction of the area they cover.
fn sub_triangle_shares(v: [DVec3; 3], inside: impl Fn(DVec3) -> bool) -> ([f64; 3], f64) {
    let n = AREA_SUBDIVISIONS as f64;
    let (mut share, mut hits) = ([0.0; 3], 0.0);
    let mut visit = |l1: f64, l2: f64| {
        let l0 = 1.0 - l1 - l2;
        if inside(l0 * v[0] + l1 * v[1] + l2 * v[2]) {
            // The hat's integral over a sub-triangle is its centroid value times the sub-area, area / n^2; over
            // the face it is area / 3.
            for (s, l) in share.iter_mut().zip([l0, l1, l2]) {
                *s += 3.0 * l / (n * n);
            }
            hits += 1.0;
        }
    };
    for i in 0..AREA_SUBDIVISIONS {
        for j in 0..AREA_SUBDIVISIONS - i {
            let (i, j) = (i as f64, j as f64);
            // The upright sub-triangle at (i, j) and, unless on the diagonal, the inverted one next to it.
            visit((i + 1.0 / 3.0) / n, (j + 1.0 / 3.0) / n);
            if i + j + 1.0 < n {
                visit((i + 2.0 / 3.0) / n, (j + 2.0 / 3.0) / n);
            }
        }
    }
    (share, hits / (n * n))
}

/// Area mean of the P1 potential over the boundary faces carrying `tag` (exact for P1).
pub fn mean_boundary_potential(mesh: &Mesh, phi: &[f64], tag: u16) -> f64 {
    let (integral, area) = mesh.boundary_faces.iter().filter(|f| f.tag == tag).fold((0.0, 0.0), |(sum, area), f| {
        let a = mesh.face_area(f);
        let mean = f.nodes.iter().map(|&n| phi[n as usize]).sum::<f64>() / 3.0;
        (sum + a * mean, area + a)
    });
    integral / area
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_triangle_shares_are_whole_for_a_face_inside_and_split_by_area_for_half_planes() {
        let v = [DVec3::ZERO, DVec3::X, DVec3::Y];
        let (share, fraction) = sub_triangle_shares(v, |_| true);
        assert!(share.iter().all(|s| (s - 1.0).abs() < 1e-12) && (fraction - 1.0).abs() < 1e-12, "{share:?}");
        // x < 0.5 holds 3/4 of the triangle's area.
        let (_, fraction) = sub_triangle_shares(v, |p| p.x < 0.5);
        assert!((fraction - 0.75).abs() < 0.02, "{fraction}");
    }
}
