//! Tensor-product grids split into tets (Kuhn / Freudenthal split: six path-simplices per hexahedron,
//! all sharing the cell diagonal from the min corner to the max corner). Neighbouring cells split their
//! shared face along the same diagonal, so the mesh is conforming, and every tet is non-obtuse
//! (dihedral angles <= 90 degrees), which keeps the P1 stiffness an M-matrix.

use super::{signed_volume, BoundaryFace, Mesh};
use glam::DVec3;

/// Names of the six box faces, in tag order.
pub const BOX_BOUNDARIES: [&str; 6] = ["interface", "top", "x_min", "x_max", "y_min", "y_max"];
pub const TAG_INTERFACE: u16 = 0;

/// Kuhn split of the unit cube: for each permutation (a, b, c) of the axes, the path
/// 0 -> e_a -> e_a + e_b -> (1,1,1). Corners are numbered by bits x = 1, y = 2, z = 4.
const KUHN_TETS: [[usize; 4]; 6] = [[0, 1, 3, 7], [0, 1, 5, 7], [0, 2, 3, 7], [0, 2, 6, 7], [0, 4, 5, 7], [0, 4, 6, 7]];

/// Mesh the box spanned by the strictly increasing coordinate lines `xs`, `ys`, `zs` with region 0
/// ("bulk") everywhere and the six faces tagged as in [`BOX_BOUNDARIES`].
pub fn tensor_box(xs: &[f64], ys: &[f64], zs: &[f64]) -> Mesh {
    assert!(xs.len() >= 2 && ys.len() >= 2 && zs.len() >= 2, "need at least one cell per axis");
    let (nx, ny, nz) = (xs.len(), ys.len(), zs.len());
    let node = |i: usize, j: usize, k: usize| (i + nx * (j + ny * k)) as u32;

    let mut nodes = Vec::with_capacity(nx * ny * nz);
    for &z in zs {
        for &y in ys {
            for &x in xs {
                nodes.push(DVec3::new(x, y, z));
            }
        }
    }

    let mut tets = Vec::with_capacity(6 * (nx - 1) * (ny - 1) * (nz - 1));
    for k in 0..nz - 1 {
        for j in 0..ny - 1 {
            for i in 0..nx - 1 {
                let corner = |c: usize| node(i + (c & 1), j + ((c >> 1) & 1), k + ((c >> 2) & 1));
                for kt in KUHN_TETS {
                    let mut t = kt.map(corner);
                    let p = t.map(|n| nodes[n as usize]);
                    if signed_volume(p[0], p[1], p[2], p[3]) < 0.0 {
                        t.swap(2, 3);
                    }
                    tets.push(t);
                }
            }
        }
    }

    let mut mesh = Mesh {
        nodes,
        tet_region: vec![0; tets.len()],
        tets,
        region_names: vec!["bulk".to_string()],
        boundary_faces: Vec::new(),
        boundary_names: BOX_BOUNDARIES.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    mesh.boundary_faces = box_boundary_faces(&mesh, [xs[0], ys[0], zs[0]], [xs[nx - 1], ys[ny - 1], zs[nz - 1]]);
    mesh
}

/// Boundary faces of a box mesh: tet faces lying on a box plane, oriented outward and tagged.
pub(crate) fn box_boundary_faces(mesh: &Mesh, lo: [f64; 3], hi: [f64; 3]) -> Vec<BoundaryFace> {
    // (axis, coordinate, tag, outward sign)
    let planes = [
        (2, lo[2], 0u16, -1.0),
        (2, hi[2], 1, 1.0),
        (0, lo[0], 2, -1.0),
        (0, hi[0], 3, 1.0),
        (1, lo[1], 4, -1.0),
        (1, hi[1], 5, 1.0),
    ];
    let mut faces = Vec::new();
    for tet in &mesh.tets {
        for skip in 0..4 {
            let mut tri = [0u32; 3];
            let mut n = 0;
            for (m, &v) in tet.iter().enumerate() {
                if m != skip {
                    tri[n] = v;
                    n += 1;
                }
            }
            let p = tri.map(|v| mesh.nodes[v as usize]);
            for &(axis, value, tag, sign) in &planes {
                if p.iter().all(|q| q[axis] == value) {
                    let normal = (p[1] - p[0]).cross(p[2] - p[0]);
                    if normal[axis] * sign < 0.0 {
                        tri.swap(1, 2);
                    }
                    faces.push(BoundaryFace { nodes: tri, tag });
                }
            }
        }
    }
    faces
}

/// `n` equal cells on [a, b] (n + 1 coordinates).
pub fn uniform_line(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..=n).map(|i| a + (b - a) * i as f64 / n as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_cube_split_is_positive_and_fills_volume() {
        let l = uniform_line(0.0, 1.0, 3);
        let m = tensor_box(&l, &l, &uniform_line(0.0, 2.0, 4));
        assert_eq!(m.tets.len(), 6 * 3 * 3 * 4);
        assert!((0..m.tets.len()).all(|t| m.tet_volume(t) > 0.0));
        assert!((m.volume() - 2.0).abs() < 1e-12);
        // 2 triangles per boundary cell face: 2*(3*3)*2 + 4*(3*4)*2
        assert_eq!(m.boundary_faces.len(), 2 * 9 * 2 + 4 * 12 * 2);
        let top = m.boundary_tag("top").unwrap();
        assert!((m.boundary_area(top) - 1.0).abs() < 1e-12);
        let x_max = m.boundary_tag("x_max").unwrap();
        assert!((m.boundary_area(x_max) - 2.0).abs() < 1e-12);
        // Outward orientation: the face normal points away from the box centre.
        let centre = DVec3::new(0.5, 0.5, 1.0);
        for f in &m.boundary_faces {
            let p = m.face_points(f);
            let c = (p[0] + p[1] + p[2]) / 3.0;
            assert!(m.face_normal2(f).dot(c - centre) > 0.0);
        }
    }
}
