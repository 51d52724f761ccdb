//! Point location in a tet mesh: which tet holds a point, with its barycentric coordinates.
//!
//! Meshes here are strongly graded (1 nm elements at a hot spot, 1 um far away, in one box), so a
//! uniform bucket grid would be either huge or hold thousands of tets per bucket near the hot spot.
//! A bounding-volume hierarchy (BVH) over the tets' axis-aligned boxes adapts to any grading: the
//! tree is split at the median centroid along the longest axis, so every level halves the tets and a
//! query costs O(log n) box tests whatever the element sizes are.

use crate::mesh::Mesh;
use glam::DVec3;

/// Tets per leaf: small leaves keep the barycentric tests per query few.
const LEAF_SIZE: usize = 4;
/// A point counts as inside a tet when its smallest barycentric coordinate is above this (points on
/// shared faces and round-off at nm scales inside um boxes must still be found).
const BARYCENTRIC_TOLERANCE: f64 = 1e-10;

/// Where a point lies: the tet and the point's barycentric coordinates in it (weights of the tet's
/// four nodes, in the order of `Mesh::tets[tet]`; they sum to one).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    pub tet: usize,
    pub barycentric: [f64; 4],
}

impl Location {
    /// Value at the point of the P1 field given by its nodal values.
    pub fn interpolate<T>(&self, mesh: &Mesh, nodal: &[T]) -> T
    where
        T: Copy + std::iter::Sum,
        f64: std::ops::Mul<T, Output = T>,
    {
        let tet = mesh.tets[self.tet];
        (0..4).map(|i| self.barycentric[i] * nodal[tet[i] as usize]).sum()
    }
}

#[derive(Debug, Clone, Copy)]
struct Aabb {
    min: DVec3,
    max: DVec3,
}

impl Aabb {
    const EMPTY: Aabb = Aabb { min: DVec3::splat(f64::INFINITY), max: DVec3::splat(f64::NEG_INFINITY) };

    fn of_points(points: &[DVec3]) -> Aabb {
        points.iter().fold(Aabb::EMPTY, |b, &p| Aabb { min: b.min.min(p), max: b.max.max(p) })
    }

    fn union(self, other: Aabb) -> Aabb {
        Aabb { min: self.min.min(other.min), max: self.max.max(other.max) }
    }

    fn contains(&self, p: DVec3) -> bool {
        p.cmpge(self.min).all() && p.cmple(self.max).all()
    }
}

/// A BVH node. Leaves hold `count > 0` tets at `first..first + count` of `PointLocator::order`;
/// inner nodes (`count == 0`) have their left child right after them and the right child at `first`.
#[derive(Debug, Clone, Copy)]
struct Node {
    bounds: Aabb,
    first: u32,
    count: u32,
}

/// Point location over one mesh. Build once (O(n log n)), then query many points (O(log n) each).
#[derive(Debug, Clone)]
pub struct PointLocator<'m> {
    mesh: &'m Mesh,
    nodes: Vec<Node>,
    /// Tet ids in leaf order.
    order: Vec<u32>,
    /// Bounding box of each tet, by tet id.
    tet_bounds: Vec<Aabb>,
}

impl<'m> PointLocator<'m> {
    pub fn new(mesh: &'m Mesh) -> Self {
        let tet_bounds: Vec<Aabb> = (0..mesh.tets.len()).map(|t| Aabb::of_points(&mesh.tet_points(t))).collect();
        let centroids: Vec<DVec3> = tet_bounds.iter().map(|b| 0.5 * (b.min + b.max)).collect();
        let mut order: Vec<u32> = (0..mesh.tets.len() as u32).collect();
        let mut nodes = Vec::with_capacity(2 * mesh.tets.len() / LEAF_SIZE + 1);
        if !order.is_empty() {
            build(&mut nodes, &mut order, 0, &tet_bounds, &centroids);
        }
        PointLocator { mesh, nodes, order, tet_bounds }
    }

    pub fn mesh(&self) -> &'m Mesh {
        self.mesh
    }

    /// Axis-aligned bounding box (min, max) of tet `t`.
    pub(crate) fn tet_bounds(&self, t: usize) -> (DVec3, DVec3) {
        (self.tet_bounds[t].min, self.tet_bounds[t].max)
    }

    /// The tet holding `p`, or `None` when `p` lies outside the mesh (outside the box, or inside a
    /// removed region such as a sphere hot spot). On a face shared by two tets either may be returned.
    pub fn locate(&self, p: DVec3) -> Option<Location> {
        let mut best: Option<(f64, Location)> = None;
        let mut stack = Vec::with_capacity(64);
        if !self.nodes.is_empty() {
            stack.push(0usize);
        }
        while let Some(index) = stack.pop() {
            let node = self.nodes[index];
            if !node.bounds.contains(p) {
                continue;
            }
            if node.count == 0 {
                stack.push(node.first as usize);
                stack.push(index + 1);
                continue;
            }
            for &tet in &self.order[node.first as usize..(node.first + node.count) as usize] {
                let tet = tet as usize;
                if !self.tet_bounds[tet].contains(p) {
                    continue;
                }
                let barycentric = barycentric(&self.mesh.tet_points(tet), p);
                let worst = barycentric.iter().copied().fold(f64::INFINITY, f64::min);
                if worst >= 0.0 {
                    return Some(Location { tet, barycentric });
                }
                if worst >= -BARYCENTRIC_TOLERANCE && best.is_none_or(|(w, _)| worst > w) {
                    best = Some((worst, Location { tet, barycentric }));
                }
            }
        }
        best.map(|(_, location)| location)
    }

    /// P1 interpolation of a nodal field at `p` (`None` outside the mesh).
    /// Panics if `nodal` does not have one value per mesh node.
    pub fn interpolate(&self, nodal: &[f64], p: DVec3) -> Option<f64> {
        assert_eq!(nodal.len(), self.mesh.nodes.len(), "one nodal value per mesh node");
        self.locate(p).map(|location| location.interpolate(self.mesh, nodal))
    }

    /// Value at `p` of a field that is constant per tet (such as J = -sigma grad phi for P1).
    /// Panics if `per_tet` does not have one value per tet.
    pub fn tet_value<T: Copy>(&self, per_tet: &[T], p: DVec3) -> Option<T> {
        assert_eq!(per_tet.len(), self.mesh.tets.len(), "one value per tet");
        self.locate(p).map(|location| per_tet[location.tet])
    }
}

/// Builds the subtree for `order[..]` (which starts at `offset` of the full order) and returns its index.
fn build(nodes: &mut Vec<Node>, order: &mut [u32], offset: usize, tet_bounds: &[Aabb], centroids: &[DVec3]) -> usize {
    let bounds = order.iter().fold(Aabb::EMPTY, |b, &t| b.union(tet_bounds[t as usize]));
    let index = nodes.len();
    nodes.push(Node { bounds, first: offset as u32, count: order.len() as u32 });
    let spread = order.iter().fold(Aabb::EMPTY, |b, &t| b.union(Aabb::of_points(&[centroids[t as usize]])));
    let extent = spread.max - spread.min;
    if order.len() <= LEAF_SIZE || extent.max_element() <= 0.0 {
        return index;
    }
    let axis = if extent.x >= extent.y && extent.x >= extent.z {
        0
    } else if extent.y >= extent.z {
        1
    } else {
        2
    };
    let half = order.len() / 2;
    order.select_nth_unstable_by(half, |&a, &b| centroids[a as usize][axis].total_cmp(&centroids[b as usize][axis]));
    let (left, right) = order.split_at_mut(half);
    build(nodes, left, offset, tet_bounds, centroids);
    let right_index = build(nodes, right, offset + half, tet_bounds, centroids);
    nodes[index].first = right_index as u32;
    nodes[index].count = 0;
    index
}

/// Barycentric coordinates of `p` in the tet `[a, b, c, d]` (ratios of signed sub-volumes).
fn barycentric(tet: &[DVec3; 4], p: DVec3) -> [f64; 4] {
    let [a, b, c, d] = *tet;
    let (ab, ac, ad, ap) = (b - a, c - a, d - a, p - a);
    let volume6 = ab.dot(ac.cross(ad));
    let lb = ap.dot(ac.cross(ad)) / volume6;
    let lc = ab.dot(ap.cross(ad)) / volume6;
    let ld = ab.dot(ac.cross(ap)) / volume6;
    [1.0 - lb - lc - ld, lb, lc, ld]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::structured::{tensor_box, uniform_line};

    #[test]
    fn barycentric_of_vertices_and_centroid() {
        let tet = [DVec3::ZERO, DVec3::X, DVec3::Y, DVec3::Z];
        assert_eq!(barycentric(&tet, DVec3::Y), [0.0, 0.0, 1.0, 0.0]);
        let centroid = barycentric(&tet, DVec3::splat(0.25));
        assert!(centroid.iter().all(|&l| (l - 0.25).abs() < 1e-15));
    }

    #[test]
    fn empty_mesh_locates_nothing() {
        let mesh = Mesh::default();
        assert!(PointLocator::new(&mesh).locate(DVec3::ZERO).is_none());
    }

    #[test]
    fn every_centroid_is_found_in_its_own_tet() {
        let line = uniform_line(0.0, 1.0, 4);
        let mesh = tensor_box(&line, &line, &line);
        let locator = PointLocator::new(&mesh);
        for t in 0..mesh.tets.len() {
            let centroid = mesh.tet_points(t).iter().sum::<DVec3>() / 4.0;
            assert_eq!(locator.locate(centroid).unwrap().tet, t);
        }
    }
}
