//! Tetrahedral meshes: the data every later stage reads.
//!
//! Conventions (ARCHITECTURE.md, "Conventions"): SI metres; the Li | interlayer | SSE interface is z = 0 and the
//! electrolyte fills 0 <= z <= H. Every tet is stored positively oriented (signed volume > 0).
//! Boundary faces are stored with outward orientation (right-hand normal points out of the domain).

pub mod bisection;
pub mod geometry;
pub mod gmsh;
pub mod hotspot;
pub mod implicit;
pub mod interface;
pub mod order;
pub mod quality;
pub mod structured;

use glam::DVec3;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Why a mesh could not be made. Each variant names the offending item so the CLI can say where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MeshError {
    #[error("mesh control `{field}`: {reason}")]
    InvalidControls { field: &'static str, reason: String },
    #[error("the layers are {total_m:.4e} m thick in all, more than the box height {height_m:.4e} m")]
    LayersExceedBox { total_m: f64, height_m: f64 },
    #[error("hot spot `{name}` does not lie inside the box: {reason}")]
    HotSpotOutsideBox { name: String, reason: String },
    #[error("hot spots `{first}` and `{second}` overlap (or touch): {reason}")]
    HotSpotsOverlap { first: String, second: String, reason: String },
    #[error(
        "hot spots `{first}` and `{second}` are {gap_m:.3e} m apart, less than the {needed_m:.3e} m (8 h_min) the \
         mesher needs between a sphere and a disk to keep its angle bounds; move them apart or lower mesh.h_min"
    )]
    HotSpotsTooClose { first: String, second: String, gap_m: f64, needed_m: f64 },
    #[error(
        "boundary name `{name}` is used twice (hot-spot names must differ from each other and from the box faces)"
    )]
    DuplicateBoundaryName { name: String },
    #[error("hot spot `{name}` cuts the interface plane z = 0: {reason}")]
    HotSpotCutsInterface { name: String, reason: String },
    #[error(
        "hot spot `{name}` touches the resistive top plane z = {z_m:.4e} m of layer {layer} (`{region}`): its \
         sphere reaches z = {reach_low_m:.4e} .. {reach_high_m:.4e} m; a hot spot must lie wholly on one side of \
         a plane with an interfacial resistance"
    )]
    HotSpotTouchesResistivePlane {
        name: String,
        layer: usize,
        region: String,
        z_m: f64,
        reach_low_m: f64,
        reach_high_m: f64,
    },
    #[error(
        "hot spot `{name}` has radius {radius_m:.3e} m, below the smallest resolvable size {min_m:.3e} m \
         (lower mesh.h_min)"
    )]
    RadiusBelowResolution { name: String, radius_m: f64, min_m: f64 },
    #[error("tet {tet} is inverted or degenerate (signed volume {volume_m3:.3e} m^3)")]
    BadElement { tet: usize, volume_m3: f64 },
    #[error(
        "tet {tet} has a dihedral angle of {angle_deg:.2} degrees, outside the range [{min_deg}, {max_deg}] \
         degrees the mesher guarantees; change mesh.h_min or move the hot spot `{near}` away from other features"
    )]
    PoorElement { tet: usize, angle_deg: f64, min_deg: f64, max_deg: f64, near: String },
    #[error("boundary face with centroid {centroid:?} m lies on no box face and no hot-spot surface")]
    UntaggedBoundaryFace { centroid: [f64; 3] },
    #[error("the mesh would need more than {limit} nodes; raise mesh.h_min / mesh.h_max or mesh.grading")]
    TooLarge { limit: usize },
    #[error(
        "the mesh would need about {estimate:.3e} nodes (estimated from the size field before meshing), more than \
         the limit of {limit}; raise mesh.h_max, mesh.h_interface, mesh.h_min or mesh.grading, or mesh.max_nodes"
    )]
    EstimateTooLarge { estimate: f64, limit: usize },
}

/// What the mesher reports while it works: the stage (`refine`, `surfaces`, `tag`, `quality`), the fraction of
/// it done, and the nodes so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeshProgress<'a> {
    pub stage: &'a str,
    pub fraction: f64,
    pub nodes: usize,
}

/// A boundary triangle with the index of the named boundary it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundaryFace {
    pub nodes: [u32; 3],
    /// Index into [`Mesh::boundary_names`].
    pub tag: u16,
}

/// A triangle of an internal resistive interface (a plane z = const whose nodes are duplicated): the same
/// three points as nodes of the tets below (`below`) and as the copies the tets above use (`above`);
/// `below[i]` and `above[i]` lie at one point. `below` is ordered with its normal along +z.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterfaceFace {
    pub below: [u32; 3],
    pub above: [u32; 3],
    /// Index into [`Mesh::interface_names`].
    pub tag: u16,
}

/// A surface inside the volume (faces between two tets) through which the current is measured: an imported
/// mesh's interior physical surface group ([`gmsh`]). Its faces are oriented consistently; the current through
/// it counts along their normals, as `orientation` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasureSurface {
    pub name: String,
    pub faces: Vec<[u32; 3]>,
    pub orientation: String,
}

/// The faces of a positively oriented tet by local node index, each ordered so that its right-hand normal
/// points out of the tet.
pub const OUTWARD_FACES: [[usize; 3]; 4] = [[1, 2, 3], [0, 3, 2], [0, 1, 3], [0, 2, 1]];

/// A tetrahedral mesh with region ids per tet and tags per boundary face; conforming except across its
/// internal resistive interfaces, where the two sides have their own nodes (see [`interface`]).
#[derive(Debug, Clone, Default)]
pub struct Mesh {
    pub nodes: Vec<DVec3>,
    pub tets: Vec<[u32; 4]>,
    /// Region id per tet: index into [`Mesh::region_names`].
    pub tet_region: Vec<u16>,
    pub region_names: Vec<String>,
    pub boundary_faces: Vec<BoundaryFace>,
    pub boundary_names: Vec<String>,
    /// Faces of the internal resistive interfaces, tagged by [`Mesh::interface_names`].
    pub interface_faces: Vec<InterfaceFace>,
    pub interface_names: Vec<String>,
    /// Measurement surfaces inside the volume (imported meshes only).
    pub surfaces: Vec<MeasureSurface>,
}

/// A triangle's nodes in ascending order: the key of a face whichever way it is oriented.
pub fn face_key(mut nodes: [u32; 3]) -> [u32; 3] {
    nodes.sort_unstable();
    nodes
}

/// The nodes some tet uses, numbered in their old order: the new index of every old node (`u32::MAX` when no tet
/// uses it) and `kept`, the old indices of the used nodes in their new order.
pub(crate) struct UsedNodes {
    pub new_index: Vec<u32>,
    pub kept: Vec<u32>,
}

/// Numbers the nodes of `node_count` that the tets of `tet_blocks` use (see [`UsedNodes`]); the same on any
/// thread count.
pub(crate) fn used_nodes<'a>(node_count: usize, tet_blocks: impl IntoIterator<Item = &'a [[u32; 4]]>) -> UsedNodes {
    let used: Vec<AtomicBool> = (0..node_count).map(|_| AtomicBool::new(false)).collect();
    for tets in tet_blocks {
        tets.par_iter().for_each(|t| t.iter().for_each(|&v| used[v as usize].store(true, Ordering::Relaxed)));
    }
    let kept: Vec<u32> =
        used.par_iter().enumerate().filter(|(_, u)| u.load(Ordering::Relaxed)).map(|(old, _)| old as u32).collect();
    let mut new_index = vec![u32::MAX; node_count];
    for (new, &old) in kept.iter().enumerate() {
        new_index[old as usize] = new as u32;
    }
    UsedNodes { new_index, kept }
}

/// The smallest box holding `points`: its (lowest, highest) corners.
pub fn bounding_box(points: impl IntoIterator<Item = DVec3>) -> (DVec3, DVec3) {
    points.into_iter().fold((DVec3::INFINITY, DVec3::NEG_INFINITY), |(lo, hi), p| (lo.min(p), hi.max(p)))
}

/// Six times the volume a closed triangulated surface encloses, positive when its faces' right-hand normals point
/// outward (the divergence theorem, each face's cone from one of the surface's own nodes).
pub fn enclosed_six_volume(nodes: &[DVec3], faces: impl IntoIterator<Item = [u32; 3]>) -> f64 {
    let mut faces = faces.into_iter().peekable();
    let Some(first) = faces.peek() else { return 0.0 };
    let origin = nodes[first[0] as usize];
    faces
        .map(|f| {
            let [a, b, c] = f.map(|n| nodes[n as usize] - origin);
            a.dot(b.cross(c))
        })
        .sum()
}

/// (b - a) x (c - a): the triangle's normal, twice its area long.
fn triangle_normal2([a, b, c]: [DVec3; 3]) -> DVec3 {
    (b - a).cross(c - a)
}

/// Signed volume of the tet (a, b, c, d): positive when (b-a, c-a, d-a) is right-handed.
pub fn signed_volume(a: DVec3, b: DVec3, c: DVec3, d: DVec3) -> f64 {
    (b - a).dot((c - a).cross(d - a)) / 6.0
}

impl Mesh {
    pub fn tet_points(&self, t: usize) -> [DVec3; 4] {
        self.tets[t].map(|i| self.nodes[i as usize])
    }

    pub fn tet_volume(&self, t: usize) -> f64 {
        let [a, b, c, d] = self.tet_points(t);
        signed_volume(a, b, c, d)
    }

    pub fn face_points(&self, f: &BoundaryFace) -> [DVec3; 3] {
        f.nodes.map(|i| self.nodes[i as usize])
    }

    /// Area of an interface face.
    pub fn interface_area(&self, f: &InterfaceFace) -> f64 {
        0.5 * triangle_normal2(f.below.map(|i| self.nodes[i as usize])).length()
    }

    /// Area of a boundary face.
    pub fn face_area(&self, f: &BoundaryFace) -> f64 {
        0.5 * self.face_normal2(f).length()
    }

    /// Area-weighted outward normal of a boundary face (length = 2 x area).
    pub fn face_normal2(&self, f: &BoundaryFace) -> DVec3 {
        triangle_normal2(self.face_points(f))
    }

    pub fn boundary_tag(&self, name: &str) -> Option<u16> {
        self.boundary_names.iter().position(|n| n == name).map(|i| i as u16)
    }

    /// Total area of the boundary faces carrying `tag`.
    pub fn boundary_area(&self, tag: u16) -> f64 {
        self.boundary_faces.iter().filter(|f| f.tag == tag).map(|f| self.face_area(f)).sum()
    }

    /// The volume of the hole the boundary `tag` encloses, when its faces form a closed surface with the
    /// domain outside it (a cavity cut out of the mesh, such as a hot spot); `None` for any other boundary.
    /// By the divergence theorem over the faces, whose normals point out of the domain, into the hole.
    pub fn hole_volume(&self, tag: u16) -> Option<f64> {
        let faces: Vec<[u32; 3]> = self.boundary_faces.iter().filter(|f| f.tag == tag).map(|f| f.nodes).collect();
        if faces.is_empty() {
            return None;
        }
        let mut edges: Vec<(u32, u32)> = faces
            .iter()
            .flat_map(|f| (0..3).map(move |i| (f[i].min(f[(i + 1) % 3]), f[i].max(f[(i + 1) % 3]))))
            .collect();
        edges.sort_unstable();
        // Closed: every edge is shared by exactly two faces.
        let closed = edges.chunk_by(|a, b| a == b).all(|run| run.len() == 2);
        let six_volume = enclosed_six_volume(&self.nodes, faces.iter().copied());
        // The domain's outward normals point into a hole: the enclosed volume counts negative.
        (closed && six_volume < 0.0).then_some(-six_volume / 6.0)
    }

    /// The bounding box of the nodes: (lowest, highest) corners.
    pub fn bounds(&self) -> (DVec3, DVec3) {
        bounding_box(self.nodes.iter().copied())
    }

    pub fn volume(&self) -> f64 {
        (0..self.tets.len()).map(|t| self.tet_volume(t)).sum()
    }
}
