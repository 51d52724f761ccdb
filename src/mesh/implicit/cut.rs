//! The surfaces as the cutting stage sees them (signed level, projection, edge crossing), and the split of a
//! crossed tet into pieces on either side.

use super::size::as_ball;
use super::{ImplicitDomain, Keep, Surface};
use glam::DVec3;

/// A surface as the cutting stage sees it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Cut {
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

pub(super) fn cut_list(domain: &ImplicitDomain) -> Vec<Cut> {
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
    pub(super) fn level(&self, x: DVec3) -> f64 {
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
    pub(super) fn keeps(&self, sign: i8) -> bool {
        match *self {
            Cut::Plane { .. } | Cut::Sphere { keep: None, .. } => true,
            Cut::Sphere { keep: Some(Keep::Outside), .. } => sign > 0,
            Cut::Sphere { keep: Some(Keep::Inside), .. } => sign < 0,
        }
    }

    /// The closest point of the surface to `x` that keeps the `locked` coordinates, if there is one.
    pub(super) fn project(&self, x: DVec3, locked: [bool; 3]) -> Option<DVec3> {
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
    pub(super) fn crossing(&self, a: DVec3, b: DVec3, la: f64, lb: f64) -> DVec3 {
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

/// Splits a tet with corner signs into pieces on either side of the surface, as (tet, side) pairs;
/// `crossing(a, b)` gives the node where the surface crosses edge (a, b).
pub(super) fn split_tet(
    tet: [u32; 4],
    signs: [i8; 4],
    crossing: &mut dyn FnMut(u32, u32) -> u32,
) -> Vec<([u32; 4], i8)> {
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
