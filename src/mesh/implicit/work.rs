//! A mesh (the whole background, or the neighbourhood of a few surfaces) while surfaces are cut in: snapping
//! nodes onto a surface, undoing snaps that flatten tets, and cutting the crossed tets into pieces on either side.

use super::cut::{split_tet, Cut};
use super::SNAP_GUARD_DEG;
use crate::mesh::bisection::edge_key;
use crate::mesh::quality::{dihedral_extremes_deg, TET_EDGES};
use crate::mesh::signed_volume;
use glam::DVec3;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

pub(super) const NO_SURFACE: u16 = u16::MAX;

/// The mesh while surfaces are being cut in: tets are unoriented, nodes remember the curved surface they
/// were put on, and every tet remembers which of the tets the work started from it is a piece of.
pub(super) struct Work<'a> {
    pub nodes: Vec<DVec3>,
    pub tets: Vec<[u32; 4]>,
    /// For each tet, the index of the starting tet it is (a piece of); pieces follow the order of their origins.
    pub origin: Vec<u32>,
    pub on_surface: Vec<u16>,
    pub lo: DVec3,
    pub hi: DVec3,
    pub planes_z: &'a [f64],
    /// No edge is longer than this: tets with all corners farther from a surface are not crossed by it.
    pub max_edge: f64,
    /// See [`super::SNAP_FRACTIONS`].
    pub snap_fraction: f64,
}

fn min_dihedral(p: [DVec3; 4]) -> f64 {
    if signed_volume(p[0], p[1], p[2], p[3]).abs() == 0.0 {
        return 0.0;
    }
    dihedral_extremes_deg(p).0
}

impl Work<'_> {
    pub(super) fn locked(&self, x: DVec3) -> [bool; 3] {
        let mut locked = [0, 1, 2].map(|a| x[a] == self.lo[a] || x[a] == self.hi[a]);
        locked[2] |= self.planes_z.contains(&x.z);
        locked
    }

    pub(super) fn points(&self, t: &[u32; 4]) -> [DVec3; 4] {
        t.map(|v| self.nodes[v as usize])
    }

    /// Moves nodes close to a circle where a sphere meets a plane onto that circle, so both cuts find them
    /// on their surfaces instead of cutting a sliver next to them.
    pub(super) fn snap_to_circles(&mut self, cuts: &[Cut]) {
        let mut circles = Vec::new();
        for cut in cuts {
            if let Cut::Sphere { center, radius, .. } = *cut {
                for &p in self.planes_z {
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
            for [i, j] in TET_EDGES {
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

    pub(super) fn apply(&mut self, cut: &Cut) {
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
        let old_origin = std::mem::take(&mut self.origin);
        let mut tets = Vec::with_capacity(old_tets.len() + active.len());
        let mut origin = Vec::with_capacity(tets.capacity());
        for (t, (&tet, &from)) in old_tets.iter().zip(&old_origin).enumerate() {
            if !is_active[t] {
                // Far from the surface: all corners on one side.
                if cut.keeps(sign(tet[0])) {
                    tets.push(tet);
                    origin.push(from);
                }
                continue;
            }
            let signs = tet.map(sign);
            let mut crossing = |a: u32, b: u32| -> u32 {
                *crossings.entry(edge_key(a, b)).or_insert_with(|| {
                    let (pa, pb) = (self.nodes[a as usize], self.nodes[b as usize]);
                    self.nodes.push(cut.crossing(pa, pb, level[a as usize], level[b as usize]));
                    self.on_surface.push(surface_id);
                    (self.nodes.len() - 1) as u32
                })
            };
            for (piece, side) in split_tet(tet, signs, &mut crossing) {
                if cut.keeps(side) {
                    tets.push(piece);
                    origin.push(from);
                }
            }
        }
        self.tets = tets;
        self.origin = origin;
    }

    /// Snaps the nodes of active tets that lie close to the surface onto it; returns which nodes lie on it.
    /// A node is close when the surface crosses one of its edges within [`SNAP_FRACTIONS`] of that edge's
    /// length from it: exactly the nodes whose cut points would otherwise make short edges.
    fn snap(&mut self, cut: &Cut, level: &[f64], active: &[usize]) -> Vec<bool> {
        // Per node: the smallest fraction of a crossed edge between it and the crossing. An edge whose other end
        // already lies on the surface counts with the node's distance to the surface over the edge's length: a
        // node just off the surface among nodes on it would otherwise leave flat tets behind.
        let mut closeness: FxHashMap<u32, f64> = FxHashMap::default();
        let mut close = |v: u32, f: f64| {
            let e = closeness.entry(v).or_insert(f64::INFINITY);
            *e = e.min(f);
        };
        for &t in active {
            let tet = self.tets[t];
            for [i, j] in TET_EDGES {
                let (a, b) = (tet[i], tet[j]);
                let (la, lb) = (level[a as usize], level[b as usize]);
                if la * lb < 0.0 {
                    let ta = la / (la - lb);
                    close(a, ta);
                    close(b, 1.0 - ta);
                } else if (la == 0.0) != (lb == 0.0) {
                    let (v, lv) = if la == 0.0 { (b, lb) } else { (a, la) };
                    close(v, lv.abs() / (self.nodes[a as usize] - self.nodes[b as usize]).length());
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
}
