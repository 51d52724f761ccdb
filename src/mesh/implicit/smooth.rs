//! Local mesh optimisation after a cut: nodes of tets whose dihedral angles come closer to 0 or 180 degrees than
//! the target are moved, one at a time, to the position near them that maximises that margin over the tets around
//! them
//! (a pattern search: the three axes both ways, at shrinking steps). Nodes on a curved surface move along it
//! (re-projected); nodes on a box face or a plane move within it (the locked coordinate is kept exactly), so
//! faces keep their exact coordinates and tags. A move never inverts a tet and never takes a node across one of
//! the cluster's surfaces (which on the bottom face is a disk's circle).

use super::cut::Cut;
use super::work::{Work, NO_SURFACE};
use crate::mesh::quality::dihedral_extremes_deg;
use crate::mesh::signed_volume;
use glam::DVec3;

/// Sweeps over the bad tets' nodes; each sweep only moves nodes whose star improves.
const SWEEPS: usize = 4;
/// Steps of the pattern search, as fractions of the node's shortest edge.
const STEPS: [f64; 4] = [0.2, 0.1, 0.05, 0.025];

/// A tet's distance from flat in dihedral angles: the smaller of its smallest angle and 180 degrees minus its
/// largest (a sliver fails the first, a cap the second); 0 when it is flat.
pub(super) fn min_angle(p: [DVec3; 4]) -> f64 {
    if signed_volume(p[0], p[1], p[2], p[3]) == 0.0 {
        return 0.0;
    }
    let (low, high) = dihedral_extremes_deg(p);
    low.min(180.0 - high)
}

impl Work<'_> {
    /// Improves the tets whose smallest dihedral angle is below `target` (see the module notes). `surfaces` maps a
    /// node's `on_surface` index to its cut; `cuts` are the surfaces interior nodes may not cross.
    pub(super) fn improve(&mut self, target: f64, surfaces: &dyn Fn(u16) -> Option<Cut>, cuts: &[Cut]) {
        // Node -> tets (CSR), for the stars.
        let mut offsets = vec![0usize; self.nodes.len() + 1];
        for tet in &self.tets {
            for &v in tet {
                offsets[v as usize + 1] += 1;
            }
        }
        for i in 0..self.nodes.len() {
            offsets[i + 1] += offsets[i];
        }
        let mut next = offsets.clone();
        let mut star = vec![0u32; offsets[self.nodes.len()]];
        for (t, tet) in self.tets.iter().enumerate() {
            for &v in tet {
                star[next[v as usize]] = t as u32;
                next[v as usize] += 1;
            }
        }
        let star_of = |v: u32| &star[offsets[v as usize]..offsets[v as usize + 1]];
        for _ in 0..SWEEPS {
            let mut candidates: Vec<u32> = self
                .tets
                .iter()
                .filter(|t| min_angle(self.points(t)) < target)
                .flat_map(|t| t.iter().copied())
                .collect();
            candidates.sort_unstable();
            candidates.dedup();
            let mut moved = false;
            for v in candidates {
                moved |= self.improve_node(v, star_of(v), surfaces, cuts);
            }
            if !moved {
                break;
            }
        }
    }

    /// Moves node `v` to the best position the pattern search finds for its `star`; returns whether it moved.
    fn improve_node(&mut self, v: u32, star: &[u32], surfaces: &dyn Fn(u16) -> Option<Cut>, cuts: &[Cut]) -> bool {
        let x = self.nodes[v as usize];
        let locked = self.locked(x);
        let surface = match self.on_surface[v as usize] {
            NO_SURFACE => None,
            s => match surfaces(s) {
                Some(cut) => Some(cut),
                None => return false,
            },
        };
        let volume_sign: Vec<f64> = star.iter().map(|&t| self.volume(t).signum()).collect();
        let quality_at = |work: &Self, p: DVec3| -> Option<f64> {
            let mut worst = 180.0f64;
            for (&t, &sign) in star.iter().zip(&volume_sign) {
                let q = work.tets[t as usize].map(|u| if u == v { p } else { work.nodes[u as usize] });
                if signed_volume(q[0], q[1], q[2], q[3]) * sign <= 0.0 {
                    return None;
                }
                worst = worst.min(min_angle(q));
            }
            Some(worst)
        };
        let shortest = star
            .iter()
            .flat_map(|&t| self.tets[t as usize])
            .filter(|&u| u != v)
            .map(|u| (self.nodes[u as usize] - x).length())
            .fold(f64::INFINITY, f64::min);
        let Some(mut best) = quality_at(self, x) else { return false };
        let start = best;
        let mut position = x;
        for step in STEPS {
            for (axis, sign) in [(0, 1.0), (0, -1.0), (1, 1.0), (1, -1.0), (2, 1.0), (2, -1.0)] {
                if locked[axis] {
                    continue;
                }
                let mut p = position;
                p[axis] += sign * step * shortest;
                if let Some(cut) = surface {
                    match cut.project(p, locked) {
                        Some(q) => p = q,
                        None => continue,
                    }
                } else if cuts.iter().any(|c| c.level(p) * c.level(x) <= 0.0) {
                    continue;
                }
                if let Some(q) = quality_at(self, p) {
                    if q > best {
                        best = q;
                        position = p;
                    }
                }
            }
        }
        if best > start {
            self.nodes[v as usize] = position;
            true
        } else {
            false
        }
    }

    fn volume(&self, t: u32) -> f64 {
        let p = self.points(&self.tets[t as usize]);
        signed_volume(p[0], p[1], p[2], p[3])
    }
}
