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

use super::cylinder::hat_integrals_in_disk;
use crate::mesh::Mesh;
use glam::{DVec2, DVec3};
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

/// An interface face: its vertices, centroid, and the consistent current leaving through it held by its three
/// nodes (`fem::FluxRecovery::face_outflows`).
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
    /// around the void's axis: the current through it over its area. Each node's consistent outflow is shared by
    /// its hat function: a face's corner passes on the part of its hat's integral (area / 3 over the face) that
    /// lies in the annulus, integrated exactly (the disk of the outer radius less that of the inner one,
    /// `cylinder::hat_integrals_in_disk`). `None` when no face meets the annulus.
    pub fn rim_mean(&self, center_x: f64, center_y: f64, radius: f64, width: f64) -> Option<f64> {
        let window = radius + width + self.largest_edge;
        let start = self.faces.partition_point(|f| f.centroid.x < center_x - window);
        let (mut current, mut area) = (0.0, 0.0);
        for face in self.faces[start..].iter().take_while(|f| f.centroid.x <= center_x + window) {
            let corners = face.vertices.map(|v| DVec2::new(v.x - center_x, v.y - center_y));
            if corners.iter().all(|c| c.length() > window) {
                continue;
            }
            let (outer, inner) =
                (hat_integrals_in_disk(corners, radius + width), hat_integrals_in_disk(corners, radius));
            let face_area = 0.5 * (corners[1] - corners[0]).perp_dot(corners[2] - corners[0]).abs();
            for k in 0..3 {
                let in_annulus = outer[k] - inner[k];
                current += face.outflow[k] * in_annulus / (face_area / 3.0);
                area += in_annulus;
            }
        }
        (area > 0.0).then(|| current / area)
    }
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
