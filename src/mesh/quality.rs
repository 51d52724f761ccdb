//! Mesh statistics and element quality: what `summary.json` reports under `mesh.*` and what the
//! meshers check before they hand a mesh on.

use super::Mesh;
use glam::DVec3;
use rayon::prelude::*;
use serde::Serialize;

/// The six edges of a tet as local vertex pairs; the opposite edge of edge `e` is `5 - e`.
pub const TET_EDGES: [[usize; 2]; 6] = [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]];

/// Statistics of a whole mesh, in SI units and degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeshQuality {
    pub nodes: usize,
    pub tets: usize,
    pub boundary_faces: usize,
    /// Shortest and longest edge length (m).
    pub shortest_edge_m: f64,
    pub longest_edge_m: f64,
    pub min_dihedral_deg: f64,
    pub max_dihedral_deg: f64,
    /// Smallest signed tet volume (m^3); positive for a valid mesh.
    pub min_volume_m3: f64,
    pub volume_m3: f64,
    /// A mesh file's exterior faces in no physical surface group (insulating unless the case names
    /// `[boundaries."(ungrouped)"]`), and its nodes that no tet uses (dropped); 0 for generated meshes.
    pub ungrouped_boundary_faces: usize,
    pub dropped_nodes: usize,
}

/// Per edge in [`TET_EDGES`] order, the cosine of the angle between the outward normals of the two faces that
/// share it; the dihedral angle is 180 degrees minus that angle, so it grows with the cosine.
fn normal_cosines(p: [DVec3; 4]) -> [f64; 6] {
    // The vertices of the face opposite each vertex.
    const FACES: [[usize; 3]; 4] = [[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]];
    let face_normal = |opposite: usize| {
        let idx = FACES[opposite];
        let n = (p[idx[1]] - p[idx[0]]).cross(p[idx[2]] - p[idx[0]]);
        // Orient outward: away from the opposite vertex.
        if n.dot(p[opposite] - p[idx[0]]) > 0.0 {
            -n
        } else {
            n
        }
    };
    let normals = [face_normal(0), face_normal(1), face_normal(2), face_normal(3)];
    std::array::from_fn(|e| {
        // The faces sharing edge e are those opposite the vertices of the opposite edge.
        let [k, l] = TET_EDGES[5 - e];
        let (a, b) = (normals[k], normals[l]);
        (a.dot(b) / (a.length() * b.length())).clamp(-1.0, 1.0)
    })
}

fn dihedral_of_cosine(cos: f64) -> f64 {
    180.0 - cos.acos().to_degrees()
}

/// The six interior dihedral angles of a tet (degrees), one per edge in [`TET_EDGES`] order.
pub fn dihedral_angles_deg(p: [DVec3; 4]) -> [f64; 6] {
    normal_cosines(p).map(dihedral_of_cosine)
}

/// The smallest and largest dihedral angle of a tet (degrees), with two arc cosines instead of six.
pub fn dihedral_extremes_deg(p: [DVec3; 4]) -> (f64, f64) {
    let (low, high) = normal_cosines(p).iter().fold((1.0f64, -1.0f64), |(l, h), &c| (l.min(c), h.max(c)));
    (dihedral_of_cosine(low), dihedral_of_cosine(high))
}

impl MeshQuality {
    pub fn of(mesh: &Mesh) -> MeshQuality {
        MeshQuality::measure(mesh).0
    }

    /// [`MeshQuality::of`], and whether every tet is safely positive ([`first_bad_tet`] finds none): one pass
    /// over the tets for both.
    pub fn measure(mesh: &Mesh) -> (MeshQuality, bool) {
        // Extremes are folded as squared edge lengths and normal cosines (both monotone in what is reported), so
        // the square roots and arc cosines run once per mesh instead of once per tet.
        struct Acc {
            squared_edge: (f64, f64),
            cosine: (f64, f64),
            min_volume: f64,
            volume: f64,
            valid: bool,
        }
        let empty = || Acc {
            squared_edge: (f64::INFINITY, 0.0),
            cosine: (1.0, -1.0),
            min_volume: f64::INFINITY,
            volume: 0.0,
            valid: true,
        };
        // Fixed blocks of tets, combined in order: the volume's sum is the same on every run and thread count.
        const BLOCK: usize = 1 << 14;
        let combine = |a: Acc, b: Acc| Acc {
            squared_edge: (a.squared_edge.0.min(b.squared_edge.0), a.squared_edge.1.max(b.squared_edge.1)),
            cosine: (a.cosine.0.min(b.cosine.0), a.cosine.1.max(b.cosine.1)),
            min_volume: a.min_volume.min(b.min_volume),
            volume: a.volume + b.volume,
            valid: a.valid && b.valid,
        };
        let blocks: Vec<Acc> = (0..mesh.tets.len().div_ceil(BLOCK))
            .into_par_iter()
            .map(|block| {
                (block * BLOCK..((block + 1) * BLOCK).min(mesh.tets.len())).fold(empty(), |mut acc, t| {
                    let p = mesh.tet_points(t);
                    let mut longest_squared = 0.0f64;
                    for [i, j] in TET_EDGES {
                        let len = (p[i] - p[j]).length_squared();
                        longest_squared = longest_squared.max(len);
                        acc.squared_edge = (acc.squared_edge.0.min(len), acc.squared_edge.1.max(len));
                    }
                    for c in normal_cosines(p) {
                        acc.cosine = (acc.cosine.0.min(c), acc.cosine.1.max(c));
                    }
                    let v = mesh.tet_volume(t);
                    acc.valid &= !degenerate(v, longest_squared.sqrt());
                    acc.min_volume = acc.min_volume.min(v);
                    acc.volume += v;
                    acc
                })
            })
            .collect();
        let acc = blocks.into_iter().fold(empty(), combine);
        let dihedral = if mesh.tets.is_empty() {
            (180.0, 0.0)
        } else {
            (dihedral_of_cosine(acc.cosine.0), dihedral_of_cosine(acc.cosine.1))
        };
        let quality = MeshQuality {
            nodes: mesh.nodes.len(),
            tets: mesh.tets.len(),
            boundary_faces: mesh.boundary_faces.len(),
            shortest_edge_m: acc.squared_edge.0.sqrt(),
            longest_edge_m: acc.squared_edge.1.sqrt(),
            min_dihedral_deg: dihedral.0,
            max_dihedral_deg: dihedral.1,
            min_volume_m3: acc.min_volume,
            volume_m3: acc.volume,
            ungrouped_boundary_faces: match mesh.boundary_tag(super::gmsh::UNGROUPED) {
                Some(tag) => mesh.boundary_faces.iter().filter(|f| f.tag == tag).count(),
                None => 0,
            },
            dropped_nodes: 0,
        };
        (quality, acc.valid)
    }
}

/// Whether a tet of signed `volume` and `longest` edge is inverted or too flat to trust.
fn degenerate(volume: f64, longest: f64) -> bool {
    !(volume > 1e-12 * longest.powi(3))
}

/// Index of the first tet whose signed volume is not safely positive (inverted or degenerate),
/// relative to the cube of its longest edge.
pub fn first_bad_tet(mesh: &Mesh) -> Option<usize> {
    (0..mesh.tets.len()).into_par_iter().find_first(|&t| {
        let p = mesh.tet_points(t);
        let longest = TET_EDGES.iter().map(|&[i, j]| (p[i] - p[j]).length()).fold(0.0, f64::max);
        degenerate(mesh.tet_volume(t), longest)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_are_the_smallest_and_largest_angle() {
        let p = [DVec3::ZERO, DVec3::new(1.0, 0.1, 0.0), DVec3::new(0.3, 0.9, 0.1), DVec3::new(0.2, 0.3, 0.05)];
        let angles = dihedral_angles_deg(p);
        let (low, high) = dihedral_extremes_deg(p);
        assert_eq!(low, angles.iter().copied().fold(180.0, f64::min));
        assert_eq!(high, angles.iter().copied().fold(0.0, f64::max));
        assert!(low < 10.0 && high > 150.0, "{angles:?}");
    }

    #[test]
    fn regular_tet_has_equal_dihedral_angles() {
        let p = [
            DVec3::new(1.0, 1.0, 1.0),
            DVec3::new(1.0, -1.0, -1.0),
            DVec3::new(-1.0, 1.0, -1.0),
            DVec3::new(-1.0, -1.0, 1.0),
        ];
        let expected = (1.0f64 / 3.0).acos().to_degrees(); // 70.528...
        for a in dihedral_angles_deg(p) {
            assert!((a - expected).abs() < 1e-9, "{a}");
        }
    }

    #[test]
    fn corner_tet_has_three_right_angles() {
        let p = [DVec3::ZERO, DVec3::X, DVec3::Y, DVec3::Z];
        let a = dihedral_angles_deg(p);
        // Edges at the origin (0-1, 0-2, 0-3) carry right angles; the others atan(sqrt 2).
        for angle in &a[..3] {
            assert!((angle - 90.0).abs() < 1e-9);
        }
        let other = 2f64.sqrt().atan().to_degrees();
        for angle in &a[3..] {
            assert!((angle - other).abs() < 1e-9, "{angle}");
        }
    }

    #[test]
    fn kuhn_box_quality_and_bad_tet_detection() {
        use crate::mesh::structured::{tensor_box, uniform_line};
        let l = uniform_line(0.0, 1.0, 2);
        let mut m = tensor_box(&l, &l, &l);
        let q = MeshQuality::of(&m);
        assert_eq!(q.nodes, 27);
        assert!((q.shortest_edge_m - 0.5).abs() < 1e-12);
        assert!((q.longest_edge_m - 0.5 * 3f64.sqrt()).abs() < 1e-12);
        // Kuhn tets are orthoschemes: smallest angle 45, largest 90 degrees.
        assert!((q.min_dihedral_deg - 45.0).abs() < 1e-9 && (q.max_dihedral_deg - 90.0).abs() < 1e-9);
        assert!((q.volume_m3 - 1.0).abs() < 1e-12);
        assert_eq!(first_bad_tet(&m), None);
        m.tets[3].swap(0, 1);
        assert_eq!(first_bad_tet(&m), Some(3));
    }
}
