//! Spatial ordering: nodes numbered along a Morton (Z-order) curve and tets by their first node, so that mesh
//! neighbours sit close together in memory. Bisection creates nodes generation by generation, which leaves
//! the neighbours of a node spread over the whole numbering; every later pass that gathers by node (assembly,
//! the solvers' products, the multigrid hierarchy, which inherits the fine order) then misses the cache on
//! large meshes.

use super::Mesh;
use glam::DVec3;
use rayon::prelude::*;

/// The Morton (Z-order) code of `x` in the box `lo..hi` on a 2^21 grid per axis (points outside are clamped).
pub fn morton_code(x: DVec3, lo: DVec3, hi: DVec3) -> u64 {
    let spread = |v: u64| {
        let mut v = v & 0x1f_ffff;
        v = (v | v << 32) & 0x1f_0000_0000_ffff;
        v = (v | v << 16) & 0x1f_0000_ff00_00ff;
        v = (v | v << 8) & 0x100f_00f0_0f00_f00f;
        v = (v | v << 4) & 0x10c3_0c30_c30c_30c3;
        (v | v << 2) & 0x1249_2492_4924_9249
    };
    let t = (x - lo) / (hi - lo).max(DVec3::splat(f64::MIN_POSITIVE));
    let q = |a: f64| (a.clamp(0.0, 1.0) * 2_097_151.0) as u64;
    spread(q(t.x)) | spread(q(t.y)) << 1 | spread(q(t.z)) << 2
}

/// Renumbers the nodes of `mesh` in the Morton order of their positions (ties by the old number) and orders
/// the tets by their smallest new node (ties keep the old order). Only numbers change: every tet, face and
/// region keeps its nodes, orientation and tags, and the result does not depend on the thread count.
pub fn order_spatially(mesh: &mut Mesh) {
    let n = mesh.nodes.len();
    if n == 0 {
        return;
    }
    let (lo, hi) = mesh.bounds();
    let mut keyed: Vec<(u64, u32)> =
        mesh.nodes.par_iter().enumerate().map(|(i, &p)| (morton_code(p, lo, hi), i as u32)).collect();
    // (code, old number) pairs are distinct, so the unstable sort has one result.
    keyed.par_sort_unstable();
    let mut new_number = vec![0u32; n];
    for (new, &(_, old)) in keyed.iter().enumerate() {
        new_number[old as usize] = new as u32;
    }
    mesh.nodes = keyed.par_iter().map(|&(_, old)| mesh.nodes[old as usize]).collect();
    drop(keyed);
    let renumber = |v: &mut u32| *v = new_number[*v as usize];
    mesh.tets.par_iter_mut().for_each(|t| t.iter_mut().for_each(renumber));
    mesh.boundary_faces.par_iter_mut().for_each(|f| f.nodes.iter_mut().for_each(renumber));
    for face in &mut mesh.interface_faces {
        face.below.iter_mut().chain(face.above.iter_mut()).for_each(renumber);
    }
    for surface in &mut mesh.surfaces {
        surface.faces.iter_mut().for_each(|f| f.iter_mut().for_each(renumber));
    }
    drop(new_number);
    order_tets_by_first_node(mesh);
}

/// A stable counting sort of the tets (and their regions) by their smallest node.
fn order_tets_by_first_node(mesh: &mut Mesh) {
    let n = mesh.nodes.len();
    let first: Vec<u32> = mesh.tets.par_iter().map(|t| t.iter().copied().min().expect("four nodes")).collect();
    let mut start = vec![0usize; n + 1];
    for &v in &first {
        start[v as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut order = vec![0u32; first.len()];
    for (t, &v) in first.iter().enumerate() {
        order[start[v as usize]] = t as u32;
        start[v as usize] += 1;
    }
    drop((first, start));
    mesh.tets = order.par_iter().map(|&t| mesh.tets[t as usize]).collect();
    mesh.tet_region = order.par_iter().map(|&t| mesh.tet_region[t as usize]).collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::structured::{tensor_box, uniform_line};

    #[test]
    fn morton_codes_interleave_the_axes() {
        let (lo, hi) = (DVec3::ZERO, DVec3::ONE);
        assert_eq!(morton_code(lo, lo, hi), 0);
        // The top bit of each axis: x -> bit 60, y -> 61, z -> 62.
        let half = 1_048_576.0 / 2_097_151.0;
        assert_eq!(morton_code(DVec3::new(half, 0.0, 0.0), lo, hi), 1 << 60);
        assert_eq!(morton_code(DVec3::new(0.0, half, 0.0), lo, hi), 1 << 61);
        assert_eq!(morton_code(DVec3::new(0.0, 0.0, half), lo, hi), 1 << 62);
        assert_eq!(morton_code(DVec3::splat(2.0), lo, hi), (1 << 63) - 1);
    }

    /// Mean |i - j| over the tets' edges: how far apart neighbours are numbered.
    fn mean_edge_span(mesh: &Mesh) -> f64 {
        let spans: u64 = mesh
            .tets
            .iter()
            .flat_map(|t| [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)].map(|(a, b)| t[a].abs_diff(t[b]) as u64))
            .sum();
        spans as f64 / (6 * mesh.tets.len()) as f64
    }

    /// A tet or face as its corners' coordinates (bits) and its region or tag.
    type Placed<const N: usize> = ([[u64; 3]; N], u16);

    /// Each tet as its corner positions (bits), region and all; each boundary face likewise: the mesh without
    /// its numbering, sorted.
    fn geometry(mesh: &Mesh) -> (Vec<Placed<4>>, Vec<Placed<3>>) {
        let point = |v: u32| mesh.nodes[v as usize].to_array().map(f64::to_bits);
        let mut tets: Vec<_> = mesh.tets.iter().zip(&mesh.tet_region).map(|(t, &r)| (t.map(point), r)).collect();
        let mut faces: Vec<_> = mesh.boundary_faces.iter().map(|f| (f.nodes.map(point), f.tag)).collect();
        tets.sort_unstable();
        faces.sort_unstable();
        (tets, faces)
    }

    #[test]
    fn ordering_keeps_every_element_and_brings_neighbours_together() {
        let line = uniform_line(0.0, 1.0, 12);
        let mut mesh = tensor_box(&line, &line, &line);
        // Scramble the numbering (a fixed permutation: i -> i * 7919 mod n, 7919 prime to n), as bisection does.
        let n = mesh.nodes.len();
        assert!(!n.is_multiple_of(7919));
        let scrambled: Vec<u32> = (0..n).map(|i| ((i * 7919) % n) as u32).collect();
        let mut nodes = vec![DVec3::ZERO; n];
        for (old, &new) in scrambled.iter().enumerate() {
            nodes[new as usize] = mesh.nodes[old];
        }
        mesh.nodes = nodes;
        mesh.tets.iter_mut().for_each(|t| t.iter_mut().for_each(|v| *v = scrambled[*v as usize]));
        mesh.boundary_faces.iter_mut().for_each(|f| f.nodes.iter_mut().for_each(|v| *v = scrambled[*v as usize]));
        mesh.tet_region.iter_mut().enumerate().for_each(|(t, r)| *r = (t % 3) as u16);
        let before = geometry(&mesh);
        let span = mean_edge_span(&mesh);

        order_spatially(&mut mesh);
        assert_eq!(geometry(&mesh), before, "the same tets, regions and boundary faces");
        let ordered_span = mean_edge_span(&mesh);
        assert!(ordered_span * 5.0 < span, "mean edge span {span:.0} -> {ordered_span:.0}");
        let first = |t: &[u32; 4]| *t.iter().min().unwrap();
        assert!(mesh.tets.windows(2).all(|w| first(&w[0]) <= first(&w[1])), "tets by their first node");
        let (lo, hi) = mesh.bounds();
        let codes: Vec<u64> = mesh.nodes.iter().map(|&p| morton_code(p, lo, hi)).collect();
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "nodes along the Morton curve");
    }
}
