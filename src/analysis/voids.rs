//! Voids: insulating disk patches of the interface (contact loss). The current has to go around a void, so it
//! crowds at the rim, and the detour adds a constriction resistance. Two measures, on a [`Mesh`] and plain
//! slices like the rest of [`crate::science`]:
//!
//! - the largest |J| of the tets with a face on the `interface` boundary near a void. Around the rim of an
//!   insulating disk on an equipotential plane J ~ 1/sqrt(distance to the rim), so the exact value is
//!   infinite: this is the value at the mesh resolution, and it grows as h at the rim (`mesh.h_min`) shrinks.
//!   The size of the element where it is taken is reported with it.
//! - the area-mean potential of a boundary (the driving `top` face), from which the analysis forms the
//!   resistance (mean top potential - interface potential) / current with and without the voids.

use crate::mesh::quality::TET_EDGES;
use crate::mesh::Mesh;
use glam::DVec3;
use serde::Serialize;
use std::collections::HashSet;

/// Why the voids could not be analysed.
#[derive(Debug, thiserror::Error)]
pub enum VoidError {
    #[error("analysis.voids: no current crosses the interface plane z = 0, so there is no resistance to compare")]
    NoCurrent,
    #[error("analysis.voids: no interface face lies within two radii of void `{hotspot}`")]
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
    /// Largest |J| of an interface tet within one radius of the rim (see [`RimPeak`]).
    pub max_interface_current_density_A_per_m2: f64,
    /// `max_interface_current_density_A_per_m2 / applied_current_density_A_per_m2`.
    pub focusing_factor: f64,
    /// Distance from the void's centre to the centroid of the interface face of the tet with the largest |J|.
    pub max_at_distance_from_center_m: f64,
    /// Longest edge of that tet: the resolution the maximum belongs to.
    pub element_size_at_max_m: f64,
    /// (mean top potential - interface potential) / interface current, with the voids.
    pub resistance_Ohm: f64,
    /// The same with every void given the interface's own condition (one extra solve).
    pub reference_resistance_Ohm: f64,
    /// `resistance_Ohm - reference_resistance_Ohm`: the extra resistance of all the case's voids together,
    /// the same number in every entry.
    pub constriction_resistance_Ohm: f64,
}

/// The largest |J| of the tets with a face on the interface near one void.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RimPeak {
    pub current_density: f64,
    pub distance_from_center: f64,
    pub element_size: f64,
}

/// A tet with a face on the interface: its |J|, the face centroid and the tet's longest edge.
#[derive(Debug, Clone, Copy)]
struct InterfaceTet {
    current_density: f64,
    centroid: DVec3,
    vertices: [DVec3; 3],
    element_size: f64,
}

/// The tets with a face tagged `interface_tag`, sorted by face-centroid x for range queries per void.
pub struct InterfaceTets {
    tets: Vec<InterfaceTet>,
    largest_element: f64,
}

impl InterfaceTets {
    pub fn new(mesh: &Mesh, cell_current: &[DVec3], interface_tag: u16) -> InterfaceTets {
        let sorted = |mut nodes: [u32; 3]| {
            nodes.sort_unstable();
            nodes
        };
        let faces: HashSet<[u32; 3]> =
            mesh.boundary_faces.iter().filter(|f| f.tag == interface_tag).map(|f| sorted(f.nodes)).collect();
        let mut tets = Vec::with_capacity(faces.len());
        for (t, tet) in mesh.tets.iter().enumerate() {
            for skip in 0..4 {
                let mut face = [0; 3];
                for (slot, k) in (0..4).filter(|&k| k != skip).enumerate() {
                    face[slot] = tet[k];
                }
                if !faces.contains(&sorted(face)) {
                    continue;
                }
                let vertices = face.map(|n| mesh.nodes[n as usize]);
                let points = mesh.tet_points(t);
                let element_size = TET_EDGES.iter().map(|&[i, j]| points[i].distance(points[j])).fold(0.0, f64::max);
                tets.push(InterfaceTet {
                    current_density: cell_current[t].length(),
                    centroid: vertices.iter().sum::<DVec3>() / 3.0,
                    vertices,
                    element_size,
                });
            }
        }
        tets.sort_by(|a, b| a.centroid.x.total_cmp(&b.centroid.x));
        let largest_element = tets.iter().map(|t| t.element_size).fold(0.0, f64::max);
        InterfaceTets { tets, largest_element }
    }

    /// The largest |J| of the interface tets with a face vertex within `2 radius` of the void's axis: every tet
    /// touching the rim is among them however coarse the mesh, and the rim peak dominates there. `None` when
    /// no interface face comes that close.
    pub fn rim_peak(&self, center_x: f64, center_y: f64, radius: f64) -> Option<RimPeak> {
        let reach = 2.0 * radius;
        let axis = |p: DVec3| ((p.x - center_x).powi(2) + (p.y - center_y).powi(2)).sqrt();
        // A face with a vertex within `reach` has its centroid within `reach` + its tet's size in x.
        let window = reach + self.largest_element;
        let start = self.tets.partition_point(|t| t.centroid.x < center_x - window);
        self.tets[start..]
            .iter()
            .take_while(|t| t.centroid.x <= center_x + window)
            .filter(|t| t.vertices.iter().any(|&v| axis(v) <= reach))
            .max_by(|a, b| a.current_density.total_cmp(&b.current_density))
            .map(|t| RimPeak {
                current_density: t.current_density,
                distance_from_center: axis(t.centroid),
                element_size: t.element_size,
            })
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
