//! Lateral current through a vertical cylinder around a hot spot (paper 001, Eqs. 17a-18): the
//! current crossing the cylinder's side outward, integrated from a current density field, and the
//! theta-averaged radial current density J_r(z) with the depth of its peak.
//!
//! Which field: the lateral current is a small difference (~1 %) of the vertical currents around it, and the
//! per-tet J of P1 carries an O(h) error on the um-size tets deep down that shows in it (2.7 % on the
//! default case at R = 1.5 um, against the conservation balance of `boundary_current_outside`); the
//! recovered nodal J (volume-weighted average of the incident tets, interpolated linearly) averages that
//! error out and is what the pipeline integrates (tests/science_conservation.rs).
//!
//! The side surface is sampled on rings: at each depth, equally spaced angles; between depths, the
//! midpoint rule. J is constant (or linear) per tet, so the samples must be denser than the elements the cylinder
//! crosses, and those range from nm at the interface to um deep down. The ring depths therefore follow
//! the mesh: the step in z is a fraction of the z-extent of the smallest tet the cylinder crosses
//! there, and the number of angles follows the same size. A geometric baseline of depths, graded
//! toward the lower end, guarantees a minimum number of profile points.

use super::locate::PointLocator;
use crate::mesh::Mesh;
use glam::{DVec2, DVec3};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// A vertical cylinder (axis parallel to z through (center_x, center_y)) over depths z_min..z_max, metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cylinder {
    pub center_x: f64,
    pub center_y: f64,
    pub radius: f64,
    pub z_min: f64,
    pub z_max: f64,
}

/// How finely the cylinder is sampled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CylinderSampling {
    /// Samples per element size, along z and around the circle.
    pub samples_per_element: usize,
    /// Bounds on the number of angles per ring.
    pub min_angles: usize,
    pub max_angles: usize,
    /// Least number of depths in the profile (a geometric grid graded toward z_min guarantees it).
    pub min_depths: usize,
    /// Ratio of neighbouring cells in that geometric grid.
    pub baseline_growth: f64,
}

impl Default for CylinderSampling {
    fn default() -> Self {
        CylinderSampling {
            samples_per_element: 3,
            min_angles: 64,
            max_angles: 4096,
            min_depths: 100,
            baseline_growth: 1.05,
        }
    }
}

/// One depth of the profile: the radial current density averaged over the angle.
#[allow(non_snake_case)] // field names are the JSON/CSV keys, units included
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProfilePoint {
    pub z_m: f64,
    pub jr_A_per_m2: f64,
}

/// The lateral current through a cylinder and its depth profile.
#[allow(non_snake_case)] // field names are the JSON keys, units included
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LateralCurrent {
    pub radius_m: f64,
    /// Current crossing the side surface outward (away from the axis), amperes. Li+ flowing into a
    /// depleted hot spot on the axis gives a negative value.
    pub lateral_current_A: f64,
    /// Depth of the largest |J_r| of the profile, metres.
    pub peak_depth_m: f64,
    /// J_r(z) at the ring depths (midpoints of the integration cells), ascending z.
    pub profile: Vec<ProfilePoint>,
    /// Samples that fell outside the mesh (in a void or removed hot spot): they carry no current.
    pub samples_outside_mesh: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum CylinderError {
    #[error("cylinder of radius {radius_m:.3e} m at ({center_x:.3e}, {center_y:.3e}) m: {reason}")]
    Invalid { radius_m: f64, center_x: f64, center_y: f64, reason: String },
}

/// The current density the cylinder is integrated from (A/m^2).
#[derive(Debug, Clone, Copy)]
pub enum CurrentField<'a> {
    /// One J per tet (exact for P1: J = -sigma grad phi).
    PerTet(&'a [DVec3]),
    /// One J per node, interpolated linearly (a recovered field).
    Nodal(&'a [DVec3]),
}

/// Integrates the outward current through the side of `cylinder` from `current` on the locator's mesh
/// and returns it with the J_r(z) profile.
/// Panics if `current` does not have one vector per tet (per node for a nodal field).
pub fn lateral_current(
    locator: &PointLocator,
    current: CurrentField,
    cylinder: &Cylinder,
    sampling: &CylinderSampling,
) -> Result<LateralCurrent, CylinderError> {
    let mesh = locator.mesh();
    match current {
        CurrentField::PerTet(j) => assert_eq!(j.len(), mesh.tets.len(), "one current density per tet"),
        CurrentField::Nodal(j) => assert_eq!(j.len(), mesh.nodes.len(), "one current density per node"),
    }
    let sample = |p: DVec3| -> Option<DVec3> {
        let location = locator.locate(p)?;
        Some(match current {
            CurrentField::PerTet(j) => j[location.tet],
            CurrentField::Nodal(j) => location.interpolate(mesh, j),
        })
    };
    validate(locator, cylinder, sampling)?;
    let crossed = crossed_tets(locator, cylinder);
    let (depths, element_sizes) = ring_depths(&crossed, cylinder, sampling);

    let rings: Vec<(f64, f64, usize)> = {
        use rayon::prelude::*;
        depths
            .par_windows(2)
            .zip(&element_sizes)
            .map(|(cell, &element_size)| {
                let z = 0.5 * (cell[0] + cell[1]);
                let wanted =
                    std::f64::consts::TAU * cylinder.radius / element_size * sampling.samples_per_element as f64;
                // `as` saturates: an infinite size (no tet crossed) gives 0, then min_angles.
                let angles = (wanted.ceil() as usize).clamp(sampling.min_angles, sampling.max_angles);
                let mut sum = 0.0;
                let mut outside = 0;
                for k in 0..angles {
                    let theta = std::f64::consts::TAU * (k as f64 + 0.5) / angles as f64;
                    let normal = DVec3::new(theta.cos(), theta.sin(), 0.0);
                    let point = DVec3::new(cylinder.center_x, cylinder.center_y, z) + cylinder.radius * normal;
                    match sample(point) {
                        Some(j) => sum += j.dot(normal),
                        None => outside += 1,
                    }
                }
                (z, sum / angles as f64, outside)
            })
            .collect()
    };

    let circumference = std::f64::consts::TAU * cylinder.radius;
    let lateral_current =
        depths.windows(2).zip(&rings).map(|(cell, &(_, jr, _))| jr * (cell[1] - cell[0]) * circumference).sum();
    let profile: Vec<ProfilePoint> = rings.iter().map(|&(z_m, jr, _)| ProfilePoint { z_m, jr_A_per_m2: jr }).collect();
    let peak_depth_m = profile
        .iter()
        .max_by(|a, b| a.jr_A_per_m2.abs().total_cmp(&b.jr_A_per_m2.abs()))
        .map_or(cylinder.z_min, |p| p.z_m);
    Ok(LateralCurrent {
        radius_m: cylinder.radius,
        lateral_current_A: lateral_current,
        peak_depth_m,
        profile,
        samples_outside_mesh: rings.iter().map(|r| r.2).sum(),
    })
}

/// Current leaving the domain through the faces of boundary `tag` outside the cylinder's radius (A):
/// the consistent nodal outflows `face_outflows` (one `[f64; 3]` per face of `mesh.boundary_faces`, as
/// [`crate::fem::FluxRecovery::face_outflows`] gives them), each node's weighed by the fraction of its hat
/// function's integral over the boundary that lies outside the radius. The fractions are exact (the
/// circle cuts the faces analytically), so a uniform flux density gives its exact share. This balances
/// the lateral current through the cylinder without sampling J on it.
///
/// The faces' normals must not be horizontal (distance from the axis is measured in their xy-projection);
/// the cylinder's depth range plays no part.
/// Panics if `face_outflows` does not have one entry per boundary face.
pub fn boundary_current_outside(
    mesh: &Mesh,
    face_outflows: &[[f64; 3]],
    tag: u16,
    cylinder: &Cylinder,
) -> Result<f64, CylinderError> {
    assert_eq!(face_outflows.len(), mesh.boundary_faces.len(), "one outflow triple per boundary face");
    let axis = DVec2::new(cylinder.center_x, cylinder.center_y);
    // Per node: its outflow, its hat integral over the boundary, and the part of that outside the radius.
    let mut per_node: BTreeMap<u32, (f64, f64, f64)> = BTreeMap::new();
    for (face, outflow) in mesh.boundary_faces.iter().zip(face_outflows).filter(|(f, _)| f.tag == tag) {
        let points = mesh.face_points(face);
        let normal = mesh.face_normal2(face);
        if normal.z.abs() <= 1e-9 * normal.length() {
            return Err(CylinderError::Invalid {
                radius_m: cylinder.radius,
                center_x: cylinder.center_x,
                center_y: cylinder.center_y,
                reason: format!("boundary {} has a face with a horizontal normal", mesh.boundary_names[tag as usize]),
            });
        }
        let projected = points.map(|p| p.truncate() - axis);
        // Integrals over the face are those over its projection times this ratio of areas.
        let area = 0.5 * normal.length();
        let inside = hat_integrals_in_disk(projected, cylinder.radius).map(|i| i * area / (0.5 * normal.z.abs()));
        for ((&node, &q), inside) in face.nodes.iter().zip(outflow).zip(inside) {
            let entry = per_node.entry(node).or_default();
            entry.0 += q;
            entry.1 += area / 3.0;
            entry.2 += area / 3.0 - inside;
        }
    }
    Ok(per_node.values().map(|&(outflow, hat, outside)| outflow * outside / hat).sum())
}

/// Integrals over triangle ∩ {|p| <= radius} of the triangle's three barycentric (hat) functions, in 2D
/// with the disk's centre at the origin: the sum over edges (a, b) of the signed moments of the triangle
/// (origin, a, b) clipped to the disk, which are pieces of straight triangles and circular sectors.
pub(super) fn hat_integrals_in_disk(corners: [DVec2; 3], radius: f64) -> [f64; 3] {
    let (mut area, mut moment) = (0.0, DVec2::ZERO);
    for k in 0..3 {
        let (a, b) = (corners[k], corners[(k + 1) % 3]);
        let (edge_area, edge_moment) = clipped_fan_moments(a, b, radius);
        area += edge_area;
        moment += edge_moment;
    }
    let signed_double_area = (corners[1] - corners[0]).perp_dot(corners[2] - corners[0]);
    // The edge sums carry the triangle's orientation; the barycentric formula below uses the signed area.
    let orientation = signed_double_area.signum();
    let (area, moment) = (orientation * area, orientation * moment);
    // lambda_a(p) = (b x c + (c - b) x p) / ((b - a) x (c - a)) is linear, so its integral needs only the
    // area and the first moment.
    std::array::from_fn(|k| {
        let (b, c) = (corners[(k + 1) % 3], corners[(k + 2) % 3]);
        (b.perp_dot(c) * area + (c - b).perp_dot(moment)) / signed_double_area
    })
}

/// Signed area and first moment of the triangle (origin, a, b) intersected with the disk of `radius`
/// around the origin.
fn clipped_fan_moments(a: DVec2, b: DVec2, radius: f64) -> (f64, DVec2) {
    let sector = |u: DVec2, v: DVec2| {
        let angle = u.perp_dot(v).atan2(u.dot(v));
        let start = u.y.atan2(u.x);
        let end = start + angle;
        let r3 = radius.powi(3) / 3.0;
        (0.5 * radius * radius * angle, r3 * DVec2::new(end.sin() - start.sin(), start.cos() - end.cos()))
    };
    let triangle = |u: DVec2, v: DVec2| {
        let area = 0.5 * u.perp_dot(v);
        (area, area * (u + v) / 3.0)
    };
    // Where the segment a + t (b - a) meets the circle.
    let d = b - a;
    let (qa, qb, qc) = (d.length_squared(), 2.0 * a.dot(d), a.length_squared() - radius * radius);
    let discriminant = qb * qb - 4.0 * qa * qc;
    if qa == 0.0 || discriminant <= 0.0 {
        return sector(a, b);
    }
    let root = discriminant.sqrt();
    let (enter, leave) = (((-qb - root) / (2.0 * qa)).clamp(0.0, 1.0), ((-qb + root) / (2.0 * qa)).clamp(0.0, 1.0));
    if enter >= leave {
        return sector(a, b);
    }
    let (p, q) = (a + enter * d, a + leave * d);
    let pieces = [sector(a, p), triangle(p, q), sector(q, b)];
    pieces.iter().fold((0.0, DVec2::ZERO), |(area, moment), &(pa, pm)| (area + pa, moment + pm))
}

fn validate(locator: &PointLocator, cylinder: &Cylinder, sampling: &CylinderSampling) -> Result<(), CylinderError> {
    let invalid = |reason: String| CylinderError::Invalid {
        radius_m: cylinder.radius,
        center_x: cylinder.center_x,
        center_y: cylinder.center_y,
        reason,
    };
    let c = cylinder;
    if ![c.center_x, c.center_y, c.radius, c.z_min, c.z_max].iter().all(|v| v.is_finite()) {
        return Err(invalid("a coordinate is not a finite number".into()));
    }
    if c.radius <= 0.0 {
        return Err(invalid("the radius must be positive".into()));
    }
    if c.z_min >= c.z_max {
        return Err(invalid(format!("the depth range {:.3e}..{:.3e} m is empty", c.z_min, c.z_max)));
    }
    if sampling.samples_per_element == 0 || sampling.min_angles == 0 || sampling.max_angles < sampling.min_angles {
        return Err(invalid("sampling needs samples_per_element >= 1 and 1 <= min_angles <= max_angles".into()));
    }
    if sampling.min_depths == 0 || sampling.baseline_growth < 1.0 {
        return Err(invalid("sampling needs min_depths >= 1 and baseline_growth >= 1".into()));
    }
    let mesh = locator.mesh();
    let (lo, hi) = mesh.bounds();
    let inside = c.center_x - c.radius >= lo.x
        && c.center_x + c.radius <= hi.x
        && c.center_y - c.radius >= lo.y
        && c.center_y + c.radius <= hi.y
        && c.z_min >= lo.z
        && c.z_max <= hi.z;
    if !inside {
        return Err(invalid(format!(
            "it leaves the mesh's bounding box [{:.3e}, {:.3e}] x [{:.3e}, {:.3e}] x [{:.3e}, {:.3e}] m",
            lo.x, hi.x, lo.y, hi.y, lo.z, hi.z
        )));
    }
    Ok(())
}

/// A tet the cylinder's side may cross: its z-range and its z-extent (the local element size).
#[derive(Debug, Clone, Copy)]
struct CrossedTet {
    z_low: f64,
    z_high: f64,
}

impl CrossedTet {
    fn size(&self) -> f64 {
        self.z_high - self.z_low
    }
}

/// Tets whose bounding box meets the cylinder's side within its depth range, sorted by z_low.
fn crossed_tets(locator: &PointLocator, cylinder: &Cylinder) -> Vec<CrossedTet> {
    let mut crossed: Vec<CrossedTet> = (0..locator.mesh().tets.len())
        .filter_map(|t| {
            let (lo, hi) = locator.tet_bounds(t);
            if hi.z <= cylinder.z_min || lo.z >= cylinder.z_max {
                return None;
            }
            // Nearest and farthest points of the box's xy-rectangle from the axis.
            let (dx_near, dy_near) = (
                (lo.x - cylinder.center_x).max(cylinder.center_x - hi.x).max(0.0),
                (lo.y - cylinder.center_y).max(cylinder.center_y - hi.y).max(0.0),
            );
            let (dx_far, dy_far) = (
                (lo.x - cylinder.center_x).abs().max((hi.x - cylinder.center_x).abs()),
                (lo.y - cylinder.center_y).abs().max((hi.y - cylinder.center_y).abs()),
            );
            let r2 = cylinder.radius * cylinder.radius;
            let crosses = dx_near * dx_near + dy_near * dy_near <= r2 && dx_far * dx_far + dy_far * dy_far >= r2;
            crosses.then_some(CrossedTet { z_low: lo.z, z_high: hi.z })
        })
        .collect();
    crossed.sort_by(|a, b| a.z_low.total_cmp(&b.z_low));
    crossed
}

/// Geometric depths from z_min to z_max, `cells` cells, each `growth` times the one below.
fn geometric_depths(z_min: f64, z_max: f64, cells: usize, growth: f64) -> Vec<f64> {
    let weights: Vec<f64> = (0..cells).map(|i| growth.powi(i as i32)).collect();
    let total: f64 = weights.iter().sum();
    let mut depths = Vec::with_capacity(cells + 1);
    let mut z = z_min;
    depths.push(z);
    for w in &weights[..cells - 1] {
        z += (z_max - z_min) * w / total;
        depths.push(z);
    }
    depths.push(z_max);
    depths
}

/// Ring cell boundaries from z_min to z_max: walk up in z with the step set by the crossed tets that
/// overlap the step (a fraction of their z-extent), never skipping a baseline depth. Also returns, per
/// cell, the size of the smallest tet that set its step (infinite where no tet did).
fn ring_depths(crossed: &[CrossedTet], cylinder: &Cylinder, sampling: &CylinderSampling) -> (Vec<f64>, Vec<f64>) {
    let baseline = geometric_depths(cylinder.z_min, cylinder.z_max, sampling.min_depths, sampling.baseline_growth);
    let per_element = sampling.samples_per_element as f64;
    // Active tets (z_low <= z), smallest size first; those ending below z are dropped lazily.
    let mut active: BinaryHeap<Reverse<(OrderedSize, OrderedSize)>> = BinaryHeap::new();
    let mut next_tet = 0;
    let mut depths = vec![cylinder.z_min];
    let mut element_sizes = Vec::new();
    let mut z = cylinder.z_min;
    for &target in &baseline[1..] {
        while z < target {
            while next_tet < crossed.len() && crossed[next_tet].z_low <= z {
                let t = crossed[next_tet];
                active.push(Reverse((OrderedSize(t.size()), OrderedSize(t.z_high))));
                next_tet += 1;
            }
            while active.peek().is_some_and(|Reverse((_, end))| end.0 <= z) {
                active.pop();
            }
            let mut element_size = active.peek().map_or(f64::INFINITY, |Reverse((size, _))| size.0);
            let mut step = (element_size / per_element).min(target - z);
            // A smaller tet starting within the step: end the step a fraction of its size past its start.
            for t in &crossed[next_tet..] {
                if t.z_low >= z + step {
                    break;
                }
                step = step.min(t.z_low - z + t.size() / per_element);
                element_size = element_size.min(t.size());
            }
            element_sizes.push(element_size);
            let next = (z + step).min(target);
            // Round-off at the far end of tiny steps: never stall.
            z = if next > z { next } else { target };
            depths.push(z);
        }
    }
    (depths, element_sizes)
}

/// f64 with a total order, for the heap of active tets.
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrderedSize(f64);

impl Eq for OrderedSize {}

impl PartialOrd for OrderedSize {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedSize {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hat integrals over triangle ∩ disk by the midpoint rule on a fine grid of sub-triangles.
    fn sampled_hat_integrals(corners: [DVec2; 3], radius: f64, divisions: usize) -> [f64; 3] {
        let area = 0.5 * (corners[1] - corners[0]).perp_dot(corners[2] - corners[0]).abs();
        let cell_area = area / (divisions * divisions) as f64;
        let n = divisions as f64;
        let mut integrals = [0.0; 3];
        let mut add = |l1: f64, l2: f64| {
            let lambda = [1.0 - l1 - l2, l1, l2];
            let p = lambda[0] * corners[0] + lambda[1] * corners[1] + lambda[2] * corners[2];
            if p.length() <= radius {
                for k in 0..3 {
                    integrals[k] += lambda[k] * cell_area;
                }
            }
        };
        for i in 0..divisions {
            for j in 0..divisions - i {
                let (i, j) = (i as f64, j as f64);
                add((i + 1.0 / 3.0) / n, (j + 1.0 / 3.0) / n);
                if i + j + 1.0 < n {
                    add((i + 2.0 / 3.0) / n, (j + 2.0 / 3.0) / n);
                }
            }
        }
        integrals
    }

    #[test]
    fn hat_integrals_in_a_disk_are_exact_for_whole_and_cut_triangles() {
        let close = |a: [f64; 3], b: [f64; 3], tol: f64| a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= tol);
        // Inside the disk: each hat integrates to a third of the area, in either orientation.
        let small = [DVec2::new(0.1, 0.0), DVec2::new(0.3, 0.2), DVec2::new(-0.2, 0.4)];
        let third = 0.5 * (small[1] - small[0]).perp_dot(small[2] - small[0]) / 3.0;
        assert!(close(hat_integrals_in_disk(small, 1.0), [third; 3], 1e-15));
        assert!(close(hat_integrals_in_disk([small[0], small[2], small[1]], 1.0), [third; 3], 1e-15));
        // A disk inside a large triangle: the hats sum to pi r^2, and each is its value at the centre times that.
        let large = [DVec2::new(-5.0, -4.0), DVec2::new(6.0, -3.0), DVec2::new(0.5, 7.0)];
        let r = 0.7;
        let disk = std::f64::consts::PI * r * r;
        let double_area = (large[1] - large[0]).perp_dot(large[2] - large[0]);
        let at_centre: [f64; 3] =
            std::array::from_fn(|k| large[(k + 1) % 3].perp_dot(large[(k + 2) % 3]) / double_area);
        assert!(close(hat_integrals_in_disk(large, r), at_centre.map(|l| l * disk), 1e-14));
        // Triangles the circle cuts, against fine sampling.
        for corners in [
            [DVec2::new(0.5, -0.2), DVec2::new(1.4, 0.1), DVec2::new(0.8, 0.9)],
            [DVec2::new(-1.2, -1.1), DVec2::new(1.3, -0.9), DVec2::new(0.0, 1.5)],
            [DVec2::new(0.0, 0.0), DVec2::new(2.0, 0.0), DVec2::new(0.0, 2.0)],
        ] {
            let exact = hat_integrals_in_disk(corners, 1.0);
            let sampled = sampled_hat_integrals(corners, 1.0, 2000);
            assert!(close(exact, sampled, 2e-5), "{exact:?} vs {sampled:?}");
        }
    }

    #[test]
    fn geometric_depths_grow_by_the_ratio_and_span_the_range() {
        let d = geometric_depths(1.0, 3.0, 10, 1.2);
        assert_eq!(d.len(), 11);
        assert_eq!((d[0], d[10]), (1.0, 3.0));
        for i in 1..9 {
            let ratio = (d[i + 1] - d[i]) / (d[i] - d[i - 1]);
            assert!((ratio - 1.2).abs() < 1e-9, "cell ratio {ratio}");
        }
    }

    #[test]
    fn ring_steps_follow_the_smallest_overlapping_tet() {
        let cylinder = Cylinder { center_x: 0.0, center_y: 0.0, radius: 1.0, z_min: 0.0, z_max: 1.0 };
        let sampling = CylinderSampling { samples_per_element: 2, min_depths: 1, ..Default::default() };
        // A coarse tet over the whole range and a fine one (size 0.01) between 0.5 and 0.51.
        let crossed = [CrossedTet { z_low: 0.0, z_high: 1.0 }, CrossedTet { z_low: 0.5, z_high: 0.51 }];
        let (depths, sizes) = ring_depths(&crossed, &cylinder, &sampling);
        assert_eq!(sizes.len(), depths.len() - 1);
        let cells_in_fine: Vec<f64> =
            depths.windows(2).filter(|c| c[0] >= 0.5 - 1e-12 && c[1] <= 0.51 + 1e-12).map(|c| c[1] - c[0]).collect();
        assert!(cells_in_fine.len() >= 2, "fine tet gets >= 2 cells: {depths:?}");
        assert!(cells_in_fine.iter().all(|&h| h <= 0.005 + 1e-12));
        // Away from the fine tet the step is half the coarse size.
        assert!(depths.windows(2).all(|c| c[1] - c[0] <= 0.5 + 1e-12));
        assert_eq!(*depths.last().unwrap(), 1.0);
    }
}
