//! Lateral current through a vertical cylinder around a hot spot (paper 001, Eqs. 17a-18): the
//! current crossing the cylinder's side outward, integrated from the per-tet current density, and the
//! theta-averaged radial current density J_r(z) with the depth of its peak.
//!
//! The side surface is sampled on rings: at each depth, equally spaced angles; between depths, the
//! midpoint rule. J is constant per tet, so the samples must be denser than the elements the cylinder
//! crosses, and those range from nm at the interface to um deep down. The ring depths therefore follow
//! the mesh: the step in z is a fraction of the z-extent of the smallest tet the cylinder crosses
//! there, and the number of angles follows the same size. A geometric baseline of depths, graded
//! toward the lower end, guarantees a minimum number of profile points.

use super::locate::PointLocator;
use glam::DVec3;
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;

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
    #[error(transparent)]
    Output(#[from] crate::io::OutputError),
}

/// Integrates the outward current through the side of `cylinder` from `current_density` (one J per tet
/// of the locator's mesh, A/m^2) and returns it with the J_r(z) profile.
/// Panics if `current_density` does not have one vector per tet.
pub fn lateral_current(
    locator: &PointLocator,
    current_density: &[DVec3],
    cylinder: &Cylinder,
    sampling: &CylinderSampling,
) -> Result<LateralCurrent, CylinderError> {
    let mesh = locator.mesh();
    assert_eq!(current_density.len(), mesh.tets.len(), "one current density per tet");
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
                    match locator.tet_value(current_density, point) {
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

/// Writes the profile as CSV with the units in the header: `z_m,jr_A_per_m2`.
pub fn write_profile_csv(path: &Path, profile: &[ProfilePoint]) -> Result<(), CylinderError> {
    let mut text = String::from("z_m,jr_A_per_m2\n");
    for p in profile {
        text.push_str(&format!("{:e},{:e}\n", p.z_m, p.jr_A_per_m2));
    }
    Ok(crate::io::write_atomic(path, text.as_bytes())?)
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
    let (lo, hi) = mesh
        .nodes
        .iter()
        .fold((DVec3::splat(f64::INFINITY), DVec3::splat(f64::NEG_INFINITY)), |(lo, hi), &p| (lo.min(p), hi.max(p)));
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
