//! Conforming, graded tet meshes of implicit domains: a box with interior planes z = const (region
//! boundaries), spheres (their inside or their outside removed, the surface a named boundary) and disks on
//! the bottom face (a named patch whose circle is resolved by mesh nodes).
//!
//! Algorithm: (1) a graded, conforming, nested background mesh by Maubach bisection of a Kuhn grid
//! ([`super::bisection`]); (2) for each surface in turn (planes first, then spheres, then disks), snap every
//! node that a crossing lies within [`SNAP_FRACTIONS`] of an edge's length from onto it (spheres: radial projection,
//! so |x - c| = r exactly; nodes on box faces or planes move only within them), undoing any snap that would
//! leave an incident tet flatter than [`SNAP_GUARD_DEG`], then cut the tets still crossed by the surface at
//! the exact edge intersections (isosurface-stuffing style). The pieces (tets, pyramids, prisms) are split
//! into tets with the rule "quad diagonal through the smallest global node index", which makes neighbouring
//! pieces agree, so the result stays conforming. A disk's circle is cut in by the hemisphere over it (centre
//! on the bottom face, same radius), which meets the bottom face exactly in the circle and keeps the extra
//! cutting local. Snapping keeps cut points away from nodes, which is what keeps slivers out.

use super::bisection::{refine_box, BisectionHierarchy};
use super::quality::{dihedral_angles_deg, first_bad_tet, MeshQuality};
use super::structured::{BOX_BOUNDARIES, TAG_INTERFACE};
use super::{signed_volume, BoundaryFace, Mesh, MeshError};
use crate::mesh::geometry::MeshControls;
use glam::DVec3;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// A node is snapped onto a surface when the surface crosses one of its edges closer to it than this fraction
/// of the edge; the fractions are tried in order until the mesh meets the dihedral range. A sweep over 240
/// random sphere + disk placements (the `random_hot_spots...` test setting) gave, for a single fraction, the
/// worst dihedral angles 0.1: 1.7, 0.15: 3.7, 0.18: 5.3, 0.2: 5.5, 0.22: 3.9, 0.25: 3.3 degrees (0.3 and above:
/// < 0.1, snapped nodes then flatten neighbours); the worst cases of different fractions do not coincide.
pub const SNAP_FRACTIONS: [f64; 4] = [0.2, 0.18, 0.22, 0.15];
/// A snap is undone when it would leave an incident tet with a dihedral angle below this.
pub const SNAP_GUARD_DEG: f64 = 15.0;
/// Dihedral-angle range every generated mesh is checked against; a mesh outside it (after all
/// [`SNAP_FRACTIONS`]) is refused with [`MeshError::PoorElement`] rather than handed on. Snap-and-cut has no
/// proof of a bound: over 1000 random placements the worst angles were 4.29 and 168.4 degrees, all accepted.
pub const MIN_DIHEDRAL_BOUND_DEG: f64 = 4.0;
pub const MAX_DIHEDRAL_BOUND_DEG: f64 = 172.0;
/// Default guard against meshes too large for a workstation.
pub const DEFAULT_NODE_LIMIT: usize = 20_000_000;
/// Marks a final-mesh node that is not a background node (it was created by a cut).
pub const NOT_BACKGROUND: u32 = u32::MAX;

/// Which side of a sphere belongs to the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Outside,
    Inside,
}

/// A named surface of the domain; its name becomes a boundary name.
#[derive(Debug, Clone, PartialEq)]
pub enum Surface {
    /// The other side of the sphere is removed; the sphere is a boundary.
    Sphere { name: String, center: DVec3, radius: f64, keep: Keep },
    /// The faces of the bottom face z = lo.z inside the circle form the boundary `name`.
    Disk { name: String, center_x: f64, center_y: f64, radius: f64 },
}

impl Surface {
    pub fn name(&self) -> &str {
        match self {
            Surface::Sphere { name, .. } | Surface::Disk { name, .. } => name,
        }
    }
}

/// The box [lo, hi] cut by the planes z = `planes_z` (ascending, strictly inside) into regions
/// `region_names` (bottom to top, one more than planes), minus what the surfaces remove.
#[derive(Debug, Clone, PartialEq)]
pub struct ImplicitDomain {
    pub lo: DVec3,
    pub hi: DVec3,
    pub planes_z: Vec<f64>,
    pub region_names: Vec<String>,
    pub surfaces: Vec<Surface>,
    pub node_limit: usize,
}

/// The final mesh with the nested background hierarchy it was cut from.
#[derive(Debug, Clone)]
pub struct GeneratedMesh {
    pub mesh: Mesh,
    pub background: BisectionHierarchy,
    /// For each mesh node, its index in `background.nodes` (moved onto a surface if it was snapped), or
    /// [`NOT_BACKGROUND`] for a node created by a cut.
    pub background_node: Vec<u32>,
    pub quality: MeshQuality,
}

/// Meshes the domain (one background level).
pub fn mesh_implicit(
    domain: &ImplicitDomain,
    controls: &MeshControls,
    progress: &mut dyn FnMut(&str, f64),
) -> Result<Mesh, MeshError> {
    mesh_implicit_with_hierarchy(domain, controls, 1, progress).map(|g| g.mesh)
}

/// Meshes the domain and keeps `levels` nested background levels (each one's size target twice the next).
pub fn mesh_implicit_with_hierarchy(
    domain: &ImplicitDomain,
    controls: &MeshControls,
    levels: usize,
    progress: &mut dyn FnMut(&str, f64),
) -> Result<GeneratedMesh, MeshError> {
    validate(domain, controls)?;
    let size = |x: DVec3| target_size(domain, controls, x);
    let background = refine_box(domain.lo, domain.hi, controls.h_max, &size, levels, domain.node_limit, progress)?;
    let cuts = cut_list(domain);
    // Snap-and-cut has no proven angle bound: when a snap fraction leaves a tet outside the checked range,
    // the next fraction (whose worst tets sit elsewhere) is tried on the same background mesh.
    let mut outcome = None;
    for (attempt, &snap_fraction) in SNAP_FRACTIONS.iter().enumerate() {
        let mut work = Work {
            nodes: background.nodes.clone(),
            tets: background.finest().tets.clone(),
            on_surface: vec![NO_SURFACE; background.nodes.len()],
            lo: domain.lo,
            hi: domain.hi,
            planes_z: domain.planes_z.clone(),
            max_edge: 3.0 * controls.h_max,
            snap_fraction,
        };
        work.snap_to_circles(&cuts);
        for (i, cut) in cuts.iter().enumerate() {
            progress("surfaces", (attempt as f64 + i as f64 / cuts.len().max(1) as f64) / SNAP_FRACTIONS.len() as f64);
            work.apply(cut);
            if work.nodes.len() > domain.node_limit {
                return Err(MeshError::TooLarge { limit: domain.node_limit });
            }
        }
        let (mesh, background_node) = work.finish(domain, background.nodes.len())?;
        let checked = check_quality(&mesh, domain).map(|quality| (mesh, background_node, quality));
        let retry = matches!(checked, Err(MeshError::PoorElement { .. } | MeshError::BadElement { .. }));
        outcome = Some(checked);
        if !retry {
            break;
        }
    }
    let (mesh, background_node, quality) = outcome.expect("SNAP_FRACTIONS is not empty")?;
    progress("surfaces", 1.0);
    progress("done", 1.0);
    Ok(GeneratedMesh { mesh, background, background_node, quality })
}

fn invalid(field: &'static str, reason: String) -> MeshError {
    MeshError::InvalidControls { field, reason }
}

fn validate(domain: &ImplicitDomain, c: &MeshControls) -> Result<(), MeshError> {
    for (field, v) in [("h_min", c.h_min), ("h_max", c.h_max), ("h_interface", c.h_interface)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(invalid(field, format!("must be a positive length, got {v:e} m")));
        }
    }
    if c.h_min > c.h_max {
        return Err(invalid("h_min", format!("{:e} m exceeds h_max = {:e} m", c.h_min, c.h_max)));
    }
    if c.h_interface > c.h_max {
        return Err(invalid("h_interface", format!("{:e} m exceeds h_max = {:e} m", c.h_interface, c.h_max)));
    }
    if !(c.grading > 1.0 && c.grading <= 4.0) {
        return Err(invalid("grading", format!("must lie in (1, 4], got {}", c.grading)));
    }
    let size = domain.hi - domain.lo;
    if !(size.min_element() > 0.0) {
        return Err(invalid("box", format!("the box {:?} .. {:?} is empty", domain.lo, domain.hi)));
    }
    let planes_ok = domain.planes_z.windows(2).all(|w| w[0] < w[1])
        && domain.planes_z.iter().all(|&z| z > domain.lo.z && z < domain.hi.z);
    if !planes_ok {
        let total = domain.planes_z.last().copied().unwrap_or(0.0) - domain.lo.z;
        return Err(MeshError::LayersExceedBox { total_m: total, height_m: size.z });
    }
    if domain.region_names.len() != domain.planes_z.len() + 1 {
        return Err(invalid("regions", "need one region name more than planes".to_string()));
    }
    let min_radius = 2.0 * c.h_min;
    for s in &domain.surfaces {
        let radius = match s {
            Surface::Sphere { radius, .. } | Surface::Disk { radius, .. } => *radius,
        };
        if !(radius >= min_radius) {
            return Err(MeshError::RadiusBelowResolution {
                name: s.name().to_string(),
                radius_m: radius,
                min_m: min_radius,
            });
        }
        if let Surface::Disk { name, center_x, center_y, radius } = s {
            let inside = center_x - radius >= domain.lo.x
                && center_x + radius <= domain.hi.x
                && center_y - radius >= domain.lo.y
                && center_y + radius <= domain.hi.y;
            if !inside {
                let reason = "the circle leaves the bottom face of the box".to_string();
                return Err(MeshError::HotSpotOutsideBox { name: name.clone(), reason });
            }
        }
    }
    // Surfaces may not meet and must stay h_min apart, so each cut only ever meets nodes of its own surface.
    for (i, a) in domain.surfaces.iter().enumerate() {
        for b in &domain.surfaces[i + 1..] {
            let (ca, ra) = as_ball(a, domain);
            let (cb, rb) = as_ball(b, domain);
            let d = (ca - cb).length();
            let nested = matches!(a, Surface::Sphere { .. }) && matches!(b, Surface::Sphere { .. });
            let apart = d >= ra + rb + c.h_min || (nested && d + ra.min(rb) + c.h_min <= ra.max(rb));
            if !apart {
                return Err(MeshError::HotSpotsOverlap {
                    first: a.name().to_string(),
                    second: b.name().to_string(),
                    reason: format!("their surfaces come closer than h_min = {:e} m", c.h_min),
                });
            }
        }
    }
    Ok(())
}

/// The ball whose sphere is cut into the mesh for a surface: the sphere itself, or for a disk a spherical
/// cap standing on the disk's circle. The cap is a hemisphere unless that would reach the first plane; then
/// it is flattened to half the first plane's height (a sphere centred below the bottom face), so that it
/// never meets a plane: cutting a second surface through a curve on a plane costs quality.
fn as_ball(s: &Surface, domain: &ImplicitDomain) -> (DVec3, f64) {
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

/// A surface as the cutting stage sees it.
#[derive(Debug, Clone, Copy)]
enum Cut {
    Plane {
        z: f64,
    },
    /// `keep: None` keeps both sides (the hemisphere that resolves a disk's circle).
    Sphere {
        center: DVec3,
        radius: f64,
        keep: Option<Keep>,
        surface: u16,
    },
}

fn cut_list(domain: &ImplicitDomain) -> Vec<Cut> {
    let mut cuts: Vec<Cut> = domain.planes_z.iter().map(|&z| Cut::Plane { z }).collect();
    let spheres_first = |s: &&Surface| matches!(s, Surface::Disk { .. });
    let mut order: Vec<(usize, &Surface)> = domain.surfaces.iter().enumerate().collect();
    order.sort_by_key(|(_, s)| spheres_first(s));
    for (i, s) in order {
        let (center, radius) = as_ball(s, domain);
        let keep = match s {
            Surface::Sphere { keep, .. } => Some(*keep),
            Surface::Disk { .. } => None,
        };
        cuts.push(Cut::Sphere { center, radius, keep, surface: i as u16 });
    }
    cuts
}

impl Cut {
    /// Signed distance, positive on the `Outside` / upper side.
    fn level(&self, x: DVec3) -> f64 {
        match *self {
            Cut::Plane { z } => x.z - z,
            Cut::Sphere { center, radius, .. } => {
                // Nodes put on the sphere earlier (on a circle where it meets a plane) count as on it.
                let l = (x - center).length() - radius;
                if l.abs() <= 1e-12 * radius {
                    0.0
                } else {
                    l
                }
            }
        }
    }

    /// Whether a piece on side `sign` (+1 outside / above, -1 inside / below) stays in the domain.
    fn keeps(&self, sign: i8) -> bool {
        match *self {
            Cut::Plane { .. } | Cut::Sphere { keep: None, .. } => true,
            Cut::Sphere { keep: Some(Keep::Outside), .. } => sign > 0,
            Cut::Sphere { keep: Some(Keep::Inside), .. } => sign < 0,
        }
    }

    /// The closest point of the surface to `x` that keeps the `locked` coordinates, if there is one.
    fn project(&self, x: DVec3, locked: [bool; 3]) -> Option<DVec3> {
        match *self {
            Cut::Plane { z } => (!locked[2]).then_some(DVec3::new(x.x, x.y, z)),
            Cut::Sphere { center, radius, .. } => {
                // The sphere meets the affine subspace of free coordinates in a smaller sphere around the
                // centre's projection; project radially within the subspace.
                let mut foot = x;
                for a in 0..3 {
                    if !locked[a] {
                        foot[a] = center[a];
                    }
                }
                let sub_radius2 = radius * radius - (foot - center).length_squared();
                let dir = x - foot;
                if sub_radius2 <= 0.0 || dir.length_squared() == 0.0 {
                    return None;
                }
                Some(foot + dir * (sub_radius2.sqrt() / dir.length()))
            }
        }
    }

    /// The crossing of the segment a -> b, given the levels la < 0 < lb or la > 0 > lb.
    fn crossing(&self, a: DVec3, b: DVec3, la: f64, lb: f64) -> DVec3 {
        match *self {
            Cut::Plane { z } => {
                let mut p = a + (b - a) * (la / (la - lb));
                p.z = z;
                p
            }
            Cut::Sphere { center, radius, .. } => {
                // |f + t d| = r with f = a - c: the root in (0, 1), in the cancellation-free form.
                let (d, f) = (b - a, a - center);
                let (qa, qb, qc) = (d.length_squared(), f.dot(d), f.length_squared() - radius * radius);
                let disc = (qb * qb - qa * qc).max(0.0).sqrt();
                let q = -(qb + qb.signum() * disc);
                let roots = [q / qa, if q != 0.0 { qc / q } else { 0.0 }];
                let t = roots.into_iter().find(|t| (0.0..=1.0).contains(t)).unwrap_or(la / (la - lb));
                // Coordinates shared by a and b (box faces, planes) stay exact.
                let mut p = a + d * t;
                for axis in 0..3 {
                    if a[axis] == b[axis] {
                        p[axis] = a[axis];
                    }
                }
                p
            }
        }
    }
}

const NO_SURFACE: u16 = u16::MAX;

/// The mesh while surfaces are being cut in: tets are unoriented, nodes remember the curved surface they
/// were put on.
struct Work {
    nodes: Vec<DVec3>,
    tets: Vec<[u32; 4]>,
    on_surface: Vec<u16>,
    lo: DVec3,
    hi: DVec3,
    planes_z: Vec<f64>,
    /// No edge is longer than this: tets with all corners farther from a surface are not crossed by it.
    max_edge: f64,
    /// See [`SNAP_FRACTIONS`].
    snap_fraction: f64,
}

fn min_dihedral(p: [DVec3; 4]) -> f64 {
    if signed_volume(p[0], p[1], p[2], p[3]).abs() == 0.0 {
        return 0.0;
    }
    dihedral_angles_deg(p).into_iter().fold(180.0, f64::min)
}

impl Work {
    fn locked(&self, x: DVec3) -> [bool; 3] {
        let mut locked = [0, 1, 2].map(|a| x[a] == self.lo[a] || x[a] == self.hi[a]);
        locked[2] |= self.planes_z.contains(&x.z);
        locked
    }

    fn points(&self, t: &[u32; 4]) -> [DVec3; 4] {
        t.map(|v| self.nodes[v as usize])
    }

    /// Moves nodes close to a circle where a sphere meets a plane onto that circle, so both cuts find them
    /// on their surfaces instead of cutting a sliver next to them.
    fn snap_to_circles(&mut self, cuts: &[Cut]) {
        let mut circles = Vec::new();
        for cut in cuts {
            if let Cut::Sphere { center, radius, .. } = *cut {
                for &p in &self.planes_z {
                    let height = center.z - p;
                    if height.abs() < radius {
                        circles.push((DVec3::new(center.x, center.y, p), (radius * radius - height * height).sqrt()));
                    }
                }
            }
        }
        if circles.is_empty() {
            return;
        }
        let mut shortest = vec![f64::INFINITY; self.nodes.len()];
        for tet in &self.tets {
            let p = self.points(tet);
            for [i, j] in super::quality::TET_EDGES {
                let len = (p[i] - p[j]).length();
                for v in [tet[i], tet[j]] {
                    shortest[v as usize] = shortest[v as usize].min(len);
                }
            }
        }
        let mut moved: FxHashMap<u32, DVec3> = FxHashMap::default();
        for (v, x) in self.nodes.iter_mut().enumerate() {
            let locked = [0, 1].map(|a| x[a] == self.lo[a] || x[a] == self.hi[a]);
            if locked[0] || locked[1] {
                continue;
            }
            for &(q, rho) in &circles {
                let radial = DVec3::new(x.x - q.x, x.y - q.y, 0.0);
                if radial.length_squared() == 0.0 {
                    continue;
                }
                let target = q + radial * (rho / radial.length());
                if (target - *x).length() < self.snap_fraction * shortest[v] {
                    moved.insert(v as u32, *x);
                    *x = target;
                    break;
                }
            }
        }
        self.undo_flattening_snaps(&mut moved, &(0..self.tets.len()).collect::<Vec<_>>(), &mut []);
    }

    /// Undoes the moves in `moved` (node -> original position) that leave an incident tet among `tets`
    /// flatter than [`SNAP_GUARD_DEG`], until none does; clears `on_surface` for the undone nodes.
    fn undo_flattening_snaps(&mut self, moved: &mut FxHashMap<u32, DVec3>, tets: &[usize], on_surface: &mut [bool]) {
        loop {
            let bad: Vec<usize> = tets
                .par_iter()
                .copied()
                .filter(|&t| {
                    let tet = self.tets[t];
                    if !tet.iter().any(|v| moved.contains_key(v)) {
                        return false;
                    }
                    // Only blame the snap for flattening it caused; a tet turned inside out is always undone.
                    let (p_now, p_before) =
                        (self.points(&tet), tet.map(|v| moved.get(&v).copied().unwrap_or(self.nodes[v as usize])));
                    let (now, before) = (min_dihedral(p_now), min_dihedral(p_before));
                    let flipped = signed_volume(p_now[0], p_now[1], p_now[2], p_now[3])
                        * signed_volume(p_before[0], p_before[1], p_before[2], p_before[3])
                        <= 0.0;
                    flipped || (now < SNAP_GUARD_DEG && now < before)
                })
                .collect();
            if bad.is_empty() {
                return;
            }
            for t in bad {
                for v in self.tets[t] {
                    if let Some(original) = moved.remove(&v) {
                        self.nodes[v as usize] = original;
                        if let Some(flag) = on_surface.get_mut(v as usize) {
                            *flag = false;
                        }
                    }
                }
            }
        }
    }

    fn apply(&mut self, cut: &Cut) {
        let level: Vec<f64> = self.nodes.par_iter().map(|&x| cut.level(x)).collect();
        let reach = self.max_edge;
        let active: Vec<usize> = (0..self.tets.len())
            .into_par_iter()
            .filter(|&t| self.tets[t].iter().any(|&v| level[v as usize].abs() < reach))
            .collect();
        let on_surface = self.snap(cut, &level, &active);
        let sign = |v: u32| -> i8 {
            let l = level[v as usize];
            if on_surface[v as usize] || l == 0.0 {
                0
            } else if l > 0.0 {
                1
            } else {
                -1
            }
        };
        let surface_id = match *cut {
            Cut::Sphere { surface, .. } => surface,
            Cut::Plane { .. } => NO_SURFACE,
        };
        for (v, &on) in on_surface.iter().enumerate() {
            if on && surface_id != NO_SURFACE {
                self.on_surface[v] = surface_id;
            }
        }
        let mut is_active = vec![false; self.tets.len()];
        for &t in &active {
            is_active[t] = true;
        }
        let mut crossings: FxHashMap<u64, u32> = FxHashMap::default();
        let old_tets = std::mem::take(&mut self.tets);
        let mut tets = Vec::with_capacity(old_tets.len() + active.len());
        for (t, &tet) in old_tets.iter().enumerate() {
            if !is_active[t] {
                // Far from the surface: all corners on one side.
                if cut.keeps(sign(tet[0])) {
                    tets.push(tet);
                }
                continue;
            }
            let signs = tet.map(sign);
            let mut crossing = |a: u32, b: u32| -> u32 {
                *crossings.entry(super::bisection::edge_key(a, b)).or_insert_with(|| {
                    let (pa, pb) = (self.nodes[a as usize], self.nodes[b as usize]);
                    self.nodes.push(cut.crossing(pa, pb, level[a as usize], level[b as usize]));
                    self.on_surface.push(surface_id);
                    (self.nodes.len() - 1) as u32
                })
            };
            for (piece, side) in split_tet(tet, signs, &mut crossing) {
                if cut.keeps(side) {
                    tets.push(piece);
                }
            }
        }
        self.tets = tets;
    }

    /// Snaps the nodes of active tets that lie close to the surface onto it; returns which nodes lie on it.
    /// A node is close when the surface crosses one of its edges within [`SNAP_FRACTIONS`] of that edge's
    /// length from it: exactly the nodes whose cut points would otherwise make short edges.
    fn snap(&mut self, cut: &Cut, level: &[f64], active: &[usize]) -> Vec<bool> {
        // Per node: the smallest fraction of a crossed edge between it and the crossing.
        let mut closeness: FxHashMap<u32, f64> = FxHashMap::default();
        for &t in active {
            let tet = self.tets[t];
            for [i, j] in super::quality::TET_EDGES {
                let (a, b) = (tet[i], tet[j]);
                let (la, lb) = (level[a as usize], level[b as usize]);
                if la * lb < 0.0 {
                    let ta = la / (la - lb);
                    for (v, f) in [(a, ta), (b, 1.0 - ta)] {
                        let e = closeness.entry(v).or_insert(f64::INFINITY);
                        *e = e.min(f);
                    }
                }
            }
        }
        let mut on_surface = vec![false; self.nodes.len()];
        let mut moved: FxHashMap<u32, DVec3> = FxHashMap::default();
        for (v, &l) in level.iter().enumerate() {
            if l == 0.0 {
                on_surface[v] = true;
            }
        }
        for (&v, &close) in &closeness {
            let x = self.nodes[v as usize];
            // Nodes already on another curved surface stay put (surfaces are kept h_min apart).
            if self.on_surface[v as usize] != NO_SURFACE || close >= self.snap_fraction {
                continue;
            }
            if let Some(target) = cut.project(x, self.locked(x)) {
                moved.insert(v, x);
                self.nodes[v as usize] = target;
                on_surface[v as usize] = true;
            }
        }
        self.undo_flattening_snaps(&mut moved, active, &mut on_surface);
        on_surface
    }

    /// Drops unused nodes, orients tets, assigns regions, finds and tags the boundary faces.
    fn finish(self, domain: &ImplicitDomain, background_count: usize) -> Result<(Mesh, Vec<u32>), MeshError> {
        let mut new_index = vec![u32::MAX; self.nodes.len()];
        let mut nodes = Vec::new();
        let mut background_node = Vec::new();
        let mut on_surface = Vec::new();
        let mut tets = self.tets;
        for tet in &mut tets {
            for v in tet.iter_mut() {
                let old = *v as usize;
                if new_index[old] == u32::MAX {
                    new_index[old] = nodes.len() as u32;
                    nodes.push(self.nodes[old]);
                    background_node.push(if old < background_count { old as u32 } else { NOT_BACKGROUND });
                    on_surface.push(self.on_surface[old]);
                }
                *v = new_index[old];
            }
        }
        tets.par_iter_mut().for_each(|t| {
            let p = t.map(|v| nodes[v as usize]);
            if signed_volume(p[0], p[1], p[2], p[3]) < 0.0 {
                t.swap(2, 3);
            }
        });
        let tet_region: Vec<u16> = tets
            .par_iter()
            .map(|t| {
                let z = t.iter().map(|&v| nodes[v as usize].z).sum::<f64>() / 4.0;
                domain.planes_z.iter().filter(|&&p| p < z).count() as u16
            })
            .collect();
        let mut boundary_names: Vec<String> = BOX_BOUNDARIES.iter().map(|s| s.to_string()).collect();
        boundary_names.extend(domain.surfaces.iter().map(|s| s.name().to_string()));
        let mut mesh = Mesh {
            nodes,
            tets,
            tet_region,
            region_names: domain.region_names.clone(),
            boundary_faces: Vec::new(),
            boundary_names,
            ..Default::default()
        };
        mesh.boundary_faces = boundary_faces(&mesh, domain, &on_surface)?;
        Ok((mesh, background_node))
    }
}

/// Splits a tet with corner signs into pieces on either side of the surface, as (tet, side) pairs;
/// `crossing(a, b)` gives the node where the surface crosses edge (a, b).
fn split_tet(tet: [u32; 4], signs: [i8; 4], crossing: &mut dyn FnMut(u32, u32) -> u32) -> Vec<([u32; 4], i8)> {
    let of_sign = |s: i8| -> Vec<u32> { (0..4).filter(|&i| signs[i] == s).map(|i| tet[i]).collect() };
    let (plus, minus, zero) = (of_sign(1), of_sign(-1), of_sign(0));
    if plus.is_empty() || minus.is_empty() {
        // A tet with all corners on a sphere lies inside the ball.
        let side = if plus.is_empty() { -1 } else { 1 };
        return vec![(tet, side)];
    }
    let mut out = Vec::with_capacity(6);
    match (plus.len(), minus.len()) {
        (1, 1) => {
            let c = crossing(plus[0], minus[0]);
            out.push(([plus[0], c, zero[0], zero[1]], 1));
            out.push(([minus[0], c, zero[0], zero[1]], -1));
        }
        (2, 2) => {
            let (p, m) = (&plus, &minus);
            let c = [[crossing(p[0], m[0]), crossing(p[0], m[1])], [crossing(p[1], m[0]), crossing(p[1], m[1])]];
            prism([p[0], c[0][0], c[0][1]], [p[1], c[1][0], c[1][1]], 1, &mut out);
            prism([m[0], c[0][0], c[1][0]], [m[1], c[0][1], c[1][1]], -1, &mut out);
        }
        (np, _) => {
            // One corner alone on its side against two (with one zero corner) or three.
            let (single, others, side) = if np == 1 { (plus[0], &minus, 1) } else { (minus[0], &plus, -1) };
            let c: Vec<u32> = others.iter().map(|&o| crossing(single, o)).collect();
            if others.len() == 3 {
                out.push(([single, c[0], c[1], c[2]], side));
                prism([others[0], others[1], others[2]], [c[0], c[1], c[2]], -side, &mut out);
            } else {
                out.push(([single, c[0], c[1], zero[0]], side));
                pyramid(zero[0], [others[0], others[1], c[1], c[0]], -side, &mut out);
            }
        }
    }
    out
}

/// Two tets of the pyramid with apex `apex` over the quad `q` (cyclic), split along the diagonal through
/// the quad's smallest node index so that the neighbour sharing the quad splits it the same way.
fn pyramid(apex: u32, q: [u32; 4], side: i8, out: &mut Vec<([u32; 4], i8)>) {
    let i = (0..4).min_by_key(|&i| q[i]).expect("four corners");
    let (a, b, c, d) = (q[i], q[(i + 1) % 4], q[(i + 2) % 4], q[(i + 3) % 4]);
    out.push(([apex, a, b, c], side));
    out.push(([apex, a, c, d], side));
}

/// Three tets of the prism with triangles `bottom` and `top` (bottom[i] - top[i] are its edges), with the
/// quad diagonals through the smallest node index (Dompierre et al. 1999: never cyclic, always 3 tets).
fn prism(bottom: [u32; 3], top: [u32; 3], side: i8, out: &mut Vec<([u32; 4], i8)>) {
    let all = [bottom, top];
    let (tri, i) =
        (0..2).flat_map(|tri| (0..3).map(move |i| (tri, i))).min_by_key(|&(tri, i)| all[tri][i]).expect("six");
    let (a, b) = (all[tri], all[1 - tri]);
    let rot = |k: usize| (i + k) % 3;
    // Both quads at the smallest corner a0 are split through it: the tet (a0, b0, b1, b2) comes off and
    // leaves the pyramid a0 over the third quad.
    out.push(([a[rot(0)], b[rot(0)], b[rot(1)], b[rot(2)]], side));
    pyramid(a[rot(0)], [a[rot(1)], a[rot(2)], b[rot(2)], b[rot(1)]], side, out);
}

/// Faces of exactly one tet: found among faces whose three nodes all lie on the box or on a removed
/// sphere, then oriented outward and tagged (box face, sphere, or disk patch of the bottom face).
fn boundary_faces(mesh: &Mesh, domain: &ImplicitDomain, on_surface: &[u16]) -> Result<Vec<BoundaryFace>, MeshError> {
    let removes = |s: u16| s != NO_SURFACE && matches!(domain.surfaces[s as usize], Surface::Sphere { .. });
    let on_box = |x: DVec3| (0..3).any(|a| x[a] == domain.lo[a] || x[a] == domain.hi[a]);
    let flagged: Vec<bool> = mesh.nodes.par_iter().zip(on_surface).map(|(&x, &s)| on_box(x) || removes(s)).collect();
    let mut candidates: Vec<([u32; 3], [u32; 3])> = mesh
        .tets
        .par_iter()
        .flat_map_iter(|t| {
            // Faces of a positive tet (0,1,2,3) with outward orientation.
            const FACES: [[usize; 3]; 4] = [[1, 2, 3], [0, 3, 2], [0, 1, 3], [0, 2, 1]];
            FACES.into_iter().map(move |face| {
                let f = face.map(|i| t[i]);
                let mut key = f;
                key.sort_unstable();
                (key, f)
            })
        })
        .filter(|(key, _)| key.iter().all(|&v| flagged[v as usize]))
        .collect();
    candidates.par_sort_unstable_by_key(|c| c.0);
    let mut faces = Vec::new();
    let mut i = 0;
    while i < candidates.len() {
        if i + 1 < candidates.len() && candidates[i].0 == candidates[i + 1].0 {
            i += 2;
            continue;
        }
        let nodes = candidates[i].1;
        faces.push(BoundaryFace { nodes, tag: face_tag(mesh, domain, nodes, on_surface)? });
        i += 1;
    }
    Ok(faces)
}

fn face_tag(mesh: &Mesh, domain: &ImplicitDomain, f: [u32; 3], on_surface: &[u16]) -> Result<u16, MeshError> {
    let p = f.map(|v| mesh.nodes[v as usize]);
    // (axis, value, tag) in BOX_BOUNDARIES order.
    let planes =
        [(2, domain.lo.z), (2, domain.hi.z), (0, domain.lo.x), (0, domain.hi.x), (1, domain.lo.y), (1, domain.hi.y)];
    if let Some(tag) = planes.iter().position(|&(a, value)| p.iter().all(|q| q[a] == value)) {
        let tag = tag as u16;
        if tag == TAG_INTERFACE {
            let c = (p[0] + p[1] + p[2]) / 3.0;
            for (s, surface) in domain.surfaces.iter().enumerate() {
                if let Surface::Disk { center_x, center_y, radius, .. } = surface {
                    if (c.x - center_x).hypot(c.y - center_y) < *radius {
                        return Ok((BOX_BOUNDARIES.len() + s) as u16);
                    }
                }
            }
        }
        return Ok(tag);
    }
    let s = on_surface[f[0] as usize];
    if s != NO_SURFACE && f.iter().all(|&v| on_surface[v as usize] == s) {
        return Ok((BOX_BOUNDARIES.len() + s as usize) as u16);
    }
    let c = (p[0] + p[1] + p[2]) / 3.0;
    Err(MeshError::UntaggedBoundaryFace { centroid: c.to_array() })
}

/// Refuses inverted tets and tets outside the guaranteed dihedral range.
fn check_quality(mesh: &Mesh, domain: &ImplicitDomain) -> Result<MeshQuality, MeshError> {
    if let Some(tet) = first_bad_tet(mesh) {
        return Err(MeshError::BadElement { tet, volume_m3: mesh.tet_volume(tet) });
    }
    let quality = MeshQuality::of(mesh);
    if quality.min_dihedral_deg < MIN_DIHEDRAL_BOUND_DEG || quality.max_dihedral_deg > MAX_DIHEDRAL_BOUND_DEG {
        let (tet, angle_deg) = (0..mesh.tets.len())
            .into_par_iter()
            .map(|t| {
                let worst = dihedral_angles_deg(mesh.tet_points(t))
                    .into_iter()
                    .map(|a| {
                        if a < MIN_DIHEDRAL_BOUND_DEG {
                            (MIN_DIHEDRAL_BOUND_DEG - a, a)
                        } else {
                            (a - MAX_DIHEDRAL_BOUND_DEG, a)
                        }
                    })
                    .fold((f64::NEG_INFINITY, 0.0), |x, y| if y.0 > x.0 { y } else { x });
                (t, worst)
            })
            .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0))
            .map(|(t, (_, a))| (t, a))
            .expect("a failing mesh has tets");
        let [a, b, c, d] = mesh.tet_points(tet);
        let centroid = (a + b + c + d) / 4.0;
        let near = domain
            .surfaces
            .iter()
            .min_by(|s, t| {
                let dist = |s: &Surface| {
                    let (c, r) = as_ball(s, domain);
                    ((centroid - c).length() - r).abs()
                };
                dist(s).total_cmp(&dist(t))
            })
            .map_or_else(|| "(none)".to_string(), |s| s.name().to_string());
        return Err(MeshError::PoorElement {
            tet,
            angle_deg,
            min_deg: MIN_DIHEDRAL_BOUND_DEG,
            max_deg: MAX_DIHEDRAL_BOUND_DEG,
            near,
        });
    }
    Ok(quality)
}
