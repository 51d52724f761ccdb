//! The surfaces stage: the layer planes are cut through the whole background mesh, then every sphere and disk
//! is cut into its own neighbourhood only.
//!
//! Surface s changes only the tets it crosses (split into pieces) and the tets around their nodes (a node that
//! snaps onto s moves every tet incident to it). Surfaces whose neighbourhoods share a tet form a cluster
//! (union-find); clusters share no tet and no node that moves, so each is cut on its own local copy, in
//! parallel, with the surfaces in their global order, exactly as a sequential pass over the whole mesh would
//! cut them. A cluster whose pieces miss the dihedral target is cut again with the next snap fraction, alone.
//! The merge is sequential in a fixed order, so the mesh does not depend on the number of threads.

use super::cut::Cut;
use super::index::{Aabb, BucketGrid};
use super::smooth::min_angle;
use super::work::{Work, NO_SURFACE};
use super::{ImplicitDomain, Keep, MIN_DIHEDRAL_TARGET_DEG, SNAP_FRACTIONS};
use crate::mesh::quality::TET_EDGES;
use crate::mesh::{signed_volume, MeshError, MeshProgress};
use glam::DVec3;
use rayon::prelude::*;

/// The background mesh with every surface cut in; tets unoriented, removed pieces dropped.
pub(super) struct CutMesh {
    pub nodes: Vec<DVec3>,
    pub tets: Vec<[u32; 4]>,
    /// The curved surface (index into the domain's surfaces) each node lies on, or [`NO_SURFACE`].
    pub on_surface: Vec<u16>,
}

const NONE: u32 = u32::MAX;
const REMOVED: u32 = u32::MAX - 1;

/// Cuts `cuts` (planes first, then spheres and disk caps, in order) into the background mesh.
pub(super) fn cut_surfaces(
    domain: &ImplicitDomain,
    nodes: Vec<DVec3>,
    tets: Vec<[u32; 4]>,
    cuts: &[Cut],
    max_edge: f64,
    progress: &mut dyn FnMut(MeshProgress),
) -> Result<CutMesh, MeshError> {
    // Planes cross the whole mesh: they are cut globally, before the curved surfaces (which snap onto circles
    // where they meet a plane first). Like a cluster, the planes are cut again with the next snap fraction when
    // their pieces miss the target (only layered cases pay for the copies).
    let planes: Vec<Cut> = cuts.iter().filter(|c| matches!(c, Cut::Plane { .. })).copied().collect();
    let cut_planes = |snap_fraction: f64, nodes: Vec<DVec3>, tets: Vec<[u32; 4]>| {
        let mut whole = Work {
            origin: Vec::new(),
            on_surface: vec![NO_SURFACE; nodes.len()],
            nodes,
            tets,
            lo: domain.lo,
            hi: domain.hi,
            planes_z: &domain.planes_z,
            max_edge,
            snap_fraction,
        };
        whole.origin = (0..whole.tets.len() as u32).collect();
        whole.snap_to_circles(cuts);
        for plane in &planes {
            whole.apply(plane);
        }
        if !planes.is_empty() {
            // A node just off a plane with no crossed edge is not snapped; the flat tet it leaves is optimised.
            whole.improve(MIN_DIHEDRAL_TARGET_DEG, &|_| None, &planes);
        }
        whole
    };
    let whole = if planes.is_empty() {
        cut_planes(SNAP_FRACTIONS[0], nodes, tets)
    } else {
        let mut best: Option<(f64, Work)> = None;
        for &snap_fraction in &SNAP_FRACTIONS {
            let work = cut_planes(snap_fraction, nodes.clone(), tets.clone());
            let worst = work
                .tets
                .par_iter()
                .map(|t| worst_angle(&work.nodes, std::slice::from_ref(t)))
                .reduce(|| 180.0, f64::min);
            if best.as_ref().is_none_or(|(angle, _)| worst > *angle) {
                best = Some((worst, work));
            }
            if worst >= MIN_DIHEDRAL_TARGET_DEG {
                break;
            }
        }
        best.expect("SNAP_FRACTIONS is not empty").1
    };
    let Work { mut nodes, tets, mut on_surface, .. } = whole;
    let curved: Vec<Cut> = cuts.iter().filter(|c| matches!(c, Cut::Sphere { .. })).copied().collect();
    if curved.is_empty() {
        return Ok(CutMesh { nodes, tets, on_surface });
    }
    progress(MeshProgress { stage: "surfaces", fraction: 0.05, nodes: nodes.len() });

    let clusters = clusters(&nodes, &tets, &curved);
    let cut_clusters: Vec<ClusterCut> = clusters
        .members
        .par_iter()
        .zip(&clusters.tets)
        .map(|(members, region)| cut_cluster(domain, &nodes, &tets, &on_surface, region, members, &curved))
        .collect();
    progress(MeshProgress { stage: "surfaces", fraction: 0.9, nodes: nodes.len() });

    // Merge in cluster order: moved nodes written back, new nodes appended, each region tet replaced by its pieces.
    // Per tet: the cluster that replaces it, REMOVED when it lies wholly on the removed side of a sphere, or NONE.
    let mut fate = clusters.removed;
    for (c, region) in clusters.tets.iter().enumerate() {
        for &t in region {
            fate[t as usize] = c as u32;
        }
    }
    let mut global_of: Vec<Vec<u32>> = Vec::with_capacity(cut_clusters.len());
    for cluster in &cut_clusters {
        let mut map = cluster.old_nodes.clone();
        for (&v, &x) in cluster.old_nodes.iter().zip(&cluster.nodes) {
            nodes[v as usize] = x;
        }
        for (local, &surface) in cluster.on_surface.iter().enumerate() {
            if local < cluster.old_nodes.len() {
                on_surface[cluster.old_nodes[local] as usize] = surface;
            }
        }
        for (&x, &surface) in
            cluster.nodes[cluster.old_nodes.len()..].iter().zip(&cluster.on_surface[cluster.old_nodes.len()..])
        {
            map.push(nodes.len() as u32);
            nodes.push(x);
            on_surface.push(surface);
        }
        global_of.push(map);
    }
    let mut next_piece: Vec<usize> = vec![0; cut_clusters.len()];
    let mut merged = Vec::with_capacity(tets.len() + cut_clusters.iter().map(|c| c.tets.len()).sum::<usize>());
    for (t, &tet) in tets.iter().enumerate() {
        let c = fate[t];
        if c == NONE {
            merged.push(tet);
            continue;
        }
        if c == REMOVED {
            continue;
        }
        let (cluster, map, next) = (&cut_clusters[c as usize], &global_of[c as usize], &mut next_piece[c as usize]);
        // The cluster's pieces come in the order of their origins, and origins in the order of the region.
        while *next < cluster.tets.len() && clusters.tets[c as usize][cluster.origin[*next] as usize] == t as u32 {
            merged.push(cluster.tets[*next].map(|v| map[v as usize]));
            *next += 1;
        }
    }
    drop(tets);
    Ok(CutMesh { nodes, tets: merged, on_surface })
}

/// Surfaces grouped by shared neighbourhood, and the tets of each group's neighbourhood (ascending).
struct Clusters {
    /// Indices into the curved cuts, ascending; clusters ordered by their first member.
    members: Vec<Vec<u32>>,
    tets: Vec<Vec<u32>>,
    /// Per tet: [`REMOVED`] when it lies wholly on the removed side of a sphere (inside a hot spot), else NONE.
    removed: Vec<u32>,
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        parent[x as usize] = parent[parent[x as usize] as usize];
        x = parent[x as usize];
    }
    x
}

fn union(parent: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    // The smaller index becomes the root, so roots (and cluster order) do not depend on the order of unions.
    if ra != rb {
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        parent[hi as usize] = lo;
    }
}

/// The tets each curved cut crosses (or touches), their nodes, and the tets around those nodes, grouped into
/// clusters of cuts whose neighbourhoods share a tet.
fn clusters(nodes: &[DVec3], tets: &[[u32; 4]], curved: &[Cut]) -> Clusters {
    let ball = |c: &Cut| match *c {
        Cut::Sphere { center, radius, .. } => (center, radius),
        Cut::Plane { .. } => unreachable!("only curved cuts are clustered"),
    };
    let (lo, hi) = crate::mesh::bounding_box(nodes.iter().copied());
    let smallest = curved.iter().map(|c| ball(c).1).fold(f64::INFINITY, f64::min);
    // Each cut listed in the cells its ball meets: a tet crossing the sphere, or inside it, overlaps one of them.
    // A sphere that keeps its inside removes the whole box around it: every tet is tested against it.
    let keeps_inside: Vec<u32> = (0..curved.len() as u32)
        .filter(|&i| matches!(curved[i as usize], Cut::Sphere { keep: Some(Keep::Inside), .. }))
        .collect();
    let grid = BucketGrid::build(
        lo,
        hi,
        4.0 * smallest,
        curved.len(),
        |i| {
            let (c, r) = ball(&curved[i]);
            Aabb { lo: c - r, hi: c + r }
        },
        |i, cell| {
            let (c, r) = ball(&curved[i]);
            ((cell.center() - c).length() - r <= cell.radius() * (1.0 + 1e-9)).then_some(0.0)
        },
    );
    // 1. The (tet, cut) pairs where the cut's level changes sign (or vanishes) over the tet's corners, and the
    //    tets wholly on a sphere's removed side (tagged with REMOVED as their cut).
    let crossed: Vec<(u32, u32)> = tets
        .par_iter()
        .enumerate()
        .flat_map_iter(|(t, tet)| {
            let p = tet.map(|v| nodes[v as usize]);
            let b = Aabb { lo: p[0].min(p[1]).min(p[2]).min(p[3]), hi: p[0].max(p[1]).max(p[2]).max(p[3]) };
            let mut found: Vec<u32> = Vec::new();
            let mut test = |i: u32| {
                let cut = &curved[i as usize];
                let levels = p.map(|x| cut.level(x));
                let (low, high) =
                    levels.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
                let mark = if low <= 0.0 && high >= 0.0 {
                    i
                } else if !cut.keeps(if low > 0.0 { 1 } else { -1 }) {
                    REMOVED
                } else {
                    return;
                };
                if !found.contains(&mark) {
                    found.push(mark);
                }
            };
            grid.for_each_overlapping(&b, &mut test);
            keeps_inside.iter().for_each(|&i| test(i));
            found.into_iter().map(move |i| (t as u32, i))
        })
        .collect();
    let mut removed = vec![NONE; tets.len()];
    // 2. Their nodes, each marked with one cut; a node two cuts mark joins them.
    let mut parent: Vec<u32> = (0..curved.len() as u32).collect();
    let mut node_cut = vec![NONE; nodes.len()];
    for &(t, i) in &crossed {
        if i == REMOVED {
            removed[t as usize] = REMOVED;
            continue;
        }
        for v in tets[t as usize] {
            match node_cut[v as usize] {
                NONE => node_cut[v as usize] = i,
                other if other != i => union(&mut parent, other, i),
                _ => {}
            }
        }
    }
    drop(crossed);
    // 3. Every tet around a marked node belongs to that cut's neighbourhood; a tet around nodes of two cuts joins them.
    let touching: Vec<(u32, [u32; 4])> = tets
        .par_iter()
        .enumerate()
        .filter_map(|(t, tet)| {
            let marks = tet.map(|v| node_cut[v as usize]);
            marks.iter().any(|&m| m != NONE).then_some((t as u32, marks))
        })
        .collect();
    for (_, marks) in &touching {
        let mut first = NONE;
        for &m in marks.iter().filter(|&&m| m != NONE) {
            if first == NONE {
                first = m;
            } else {
                union(&mut parent, first, m);
            }
        }
    }
    let roots: Vec<u32> = (0..curved.len() as u32).map(|i| find(&mut parent, i)).collect();
    let mut cluster_of_root = vec![NONE; curved.len()];
    let mut members: Vec<Vec<u32>> = Vec::new();
    for (i, &root) in roots.iter().enumerate() {
        if cluster_of_root[root as usize] == NONE {
            cluster_of_root[root as usize] = members.len() as u32;
            members.push(Vec::new());
        }
        members[cluster_of_root[root as usize] as usize].push(i as u32);
    }
    let mut region: Vec<Vec<u32>> = vec![Vec::new(); members.len()];
    for (t, marks) in touching {
        let m = marks.into_iter().find(|&m| m != NONE).expect("touching tets carry a mark");
        region[cluster_of_root[roots[m as usize] as usize] as usize].push(t);
    }
    // A cut crossing no tet (it lies inside one, or outside the mesh) has an empty neighbourhood: nothing to do.
    let (members, tets): (Vec<_>, Vec<_>) = members.into_iter().zip(region).filter(|(_, r)| !r.is_empty()).unzip();
    Clusters { members, tets, removed }
}

/// One cluster after its cuts, in local numbering: the region's nodes first (in `old_nodes` order), then the
/// nodes the cuts created.
struct ClusterCut {
    old_nodes: Vec<u32>,
    nodes: Vec<DVec3>,
    on_surface: Vec<u16>,
    tets: Vec<[u32; 4]>,
    /// Index into the cluster's region of the tet each piece comes from.
    origin: Vec<u32>,
}

/// Cuts one cluster's surfaces into a local copy of its region, trying the snap fractions in order until every
/// piece meets [`MIN_DIHEDRAL_TARGET_DEG`]; if none does, the fraction whose worst angle is best.
fn cut_cluster(
    domain: &ImplicitDomain,
    nodes: &[DVec3],
    tets: &[[u32; 4]],
    on_surface: &[u16],
    region: &[u32],
    members: &[u32],
    curved: &[Cut],
) -> ClusterCut {
    let mut old_nodes: Vec<u32> = region.iter().flat_map(|&t| tets[t as usize]).collect();
    old_nodes.sort_unstable();
    old_nodes.dedup();
    let local = |v: u32| old_nodes.binary_search(&v).expect("region nodes are listed") as u32;
    let local_tets: Vec<[u32; 4]> = region.iter().map(|&t| tets[t as usize].map(local)).collect();
    let mut best: Option<(f64, ClusterCut)> = None;
    for &snap_fraction in &SNAP_FRACTIONS {
        let mut work = Work {
            nodes: old_nodes.iter().map(|&v| nodes[v as usize]).collect(),
            tets: local_tets.clone(),
            origin: (0..region.len() as u32).collect(),
            on_surface: old_nodes.iter().map(|&v| on_surface[v as usize]).collect(),
            lo: domain.lo,
            hi: domain.hi,
            planes_z: &domain.planes_z,
            max_edge: f64::INFINITY,
            snap_fraction,
        };
        let cuts: Vec<Cut> = members.iter().map(|&m| curved[m as usize]).collect();
        for cut in &cuts {
            work.apply(cut);
        }
        let surface_cut =
            |s: u16| cuts.iter().find(|c| matches!(c, Cut::Sphere { surface, .. } if *surface == s)).copied();
        work.improve(MIN_DIHEDRAL_TARGET_DEG, &surface_cut, &cuts);
        let worst = worst_angle(&work.nodes, &work.tets);
        let cut = ClusterCut {
            old_nodes: old_nodes.clone(),
            nodes: work.nodes,
            on_surface: work.on_surface,
            tets: work.tets,
            origin: work.origin,
        };
        if worst >= MIN_DIHEDRAL_TARGET_DEG {
            return cut;
        }
        if best.as_ref().is_none_or(|(angle, _)| worst > *angle) {
            best = Some((worst, cut));
        }
    }
    best.expect("SNAP_FRACTIONS is not empty").1
}

/// The smallest margin of the pieces' dihedral angles from 0 and 180 degrees (see [`min_angle`]; 0 for a flat or
/// inverted piece, which is never chosen over a valid cut).
fn worst_angle(nodes: &[DVec3], tets: &[[u32; 4]]) -> f64 {
    tets.iter()
        .map(|t| {
            let p = t.map(|v| nodes[v as usize]);
            let longest = TET_EDGES.iter().map(|&[i, j]| (p[i] - p[j]).length()).fold(0.0, f64::max);
            if signed_volume(p[0], p[1], p[2], p[3]).abs() <= 1e-12 * longest.powi(3) {
                0.0
            } else {
                min_angle(p)
            }
        })
        .fold(180.0, f64::min)
}
