//! The size field: the element size (mean edge) the background mesh is refined to at each point, h(x) =
//! min(h_max, h_interface + (grading - 1) dist(x, plane) over the bottom face and the planes, h_min + (grading - 1)
//! dist(x, surface) over the spheres and disk circles), and the node count it implies.
//!
//! A surface lowers h only inside its influence region, where its term is below the background (h_max and the
//! plane terms). A bucket grid lists, per cell, the surfaces whose term can be below the background's largest
//! value over that cell, so h(x) looks at a handful of surfaces whatever their number; the others could not
//! change the minimum, so the value is exactly the minimum over all terms.

use super::index::{Aabb, BucketGrid};
use super::{ImplicitDomain, Surface};
use crate::mesh::geometry::MeshControls;
use glam::DVec3;
use rayon::prelude::*;

/// The ball whose sphere is cut into the mesh for a surface: the sphere itself, or for a disk a spherical
/// cap standing on the disk's circle. The cap is a hemisphere unless that would reach the first plane; then
/// it is flattened to half the first plane's height (a sphere centred below the bottom face), so that it
/// never meets a plane: cutting a second surface through a curve on a plane costs quality.
pub(super) fn as_ball(s: &Surface, domain: &ImplicitDomain) -> (DVec3, f64) {
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

/// Nodes per unit of the integral of h^-3 over the domain: the node density of the graded bisection meshes. A
/// Kuhn grid of mean edge h has 1.2601^3 / h^3 = 2.0 nodes per h^3, and bisection to "mean edge <= h" lands
/// between h and h / 2^(1/3); graded meshes come out denser still, because the size test takes the smallest
/// target over a tet and the conforming closure adds bisections, and the surfaces add their cut nodes. Fitted to
/// the shipped cases: the estimate is 0.85 to 1.31 times their node counts (random_500: 1.14), except where
/// layer planes are cut through the mesh, whose nodes the volume integral does not see (interlayer_hotspot:
/// 0.50). `shipped_cases_mesh_well_and_near_their_node_estimate` (tests/physics/mesh_hotspots.rs) holds it to that.
pub const NODES_PER_INVERSE_CUBE: f64 = 5.2;

/// Factors on the terms of the size field: the adaptive loop's refinement of the regions each term controls
/// (h_max far away; h_interface and the grading slope at the planes; h_min and the slope at each surface, in
/// `domain.surfaces` order, 1 where the list ends). `Default` is no change.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeScales {
    pub background: f64,
    pub planes: f64,
    pub surfaces: Vec<f64>,
}

impl Default for SizeScales {
    fn default() -> Self {
        SizeScales { background: 1.0, planes: 1.0, surfaces: Vec::new() }
    }
}

/// How a surface's distance is measured by the size field.
#[derive(Debug, Clone, Copy)]
enum Feature {
    /// A sphere's surface.
    Sphere { center: DVec3, radius: f64 },
    /// A disk's rim: the circle of `radius` around (x, y) in the plane z.
    Circle { x: f64, y: f64, z: f64, radius: f64 },
}

impl Feature {
    fn distance(&self, p: DVec3) -> f64 {
        match *self {
            Feature::Sphere { center, radius } => ((p - center).length() - radius).abs(),
            Feature::Circle { x, y, z, radius } => ((p.x - x).hypot(p.y - y) - radius).hypot(p.z - z),
        }
    }

    /// The box holding every point within `reach` of the feature.
    fn bounds(&self, reach: f64) -> Aabb {
        let (center, half) = match *self {
            Feature::Sphere { center, radius } => (center, DVec3::splat(radius + reach)),
            Feature::Circle { x, y, z, radius } => {
                (DVec3::new(x, y, z), DVec3::new(radius + reach, radius + reach, reach))
            }
        };
        Aabb { lo: center - half, hi: center + half }
    }

    /// The smallest distance from the feature to any point of `b` can be no less than this (the distance is
    /// 1-Lipschitz); rounded down a little so that rounding can never cull a surface that matters.
    fn distance_lower_bound(&self, b: &Aabb) -> f64 {
        (self.distance(b.center()) - b.radius() * (1.0 + 1e-9)).max(0.0) * (1.0 - 1e-12)
    }
}

/// The terms every point sees: h_max, and h_interface + slope |z - p| for the bottom face and each plane.
#[derive(Debug, Clone)]
struct Background {
    h_max: f64,
    h_interface: f64,
    slope: f64,
    planes: Vec<f64>,
}

impl Background {
    fn at(&self, z: f64) -> f64 {
        self.planes.iter().fold(self.h_max, |h, &p| h.min(self.h_interface + self.slope * (z - p).abs()))
    }

    /// An upper bound over a box: the smallest over the terms of each term's largest value.
    fn max_over(&self, b: &Aabb) -> f64 {
        let farthest = |p: f64| (b.lo.z - p).abs().max((b.hi.z - p).abs());
        self.planes.iter().fold(self.h_max, |h, &p| h.min(self.h_interface + self.slope * farthest(p)))
    }

    /// The integral of h^-3 over z0..z1 (exact: h is piecewise linear in z, and on each piece between the
    /// planes, the points where two plane terms meet and where a term reaches h_max, it is one term).
    fn integral_inverse_cube(&self, z0: f64, z1: f64) -> f64 {
        let reach = (self.h_max - self.h_interface) / self.slope;
        let mut breaks = vec![z0, z1];
        for (i, &p) in self.planes.iter().enumerate() {
            breaks.extend([p, p - reach, p + reach]);
            if let Some(&q) = self.planes.get(i + 1) {
                breaks.push(0.5 * (p + q));
            }
        }
        breaks.retain(|&z| z >= z0 && z <= z1);
        breaks.sort_by(f64::total_cmp);
        breaks
            .windows(2)
            .map(|w| {
                let (a, b) = (w[0], w[1]);
                let (ha, hb) = (self.at(a), self.at(b));
                if (ha - hb).abs() <= 1e-12 * ha {
                    (b - a) / ha.powi(3)
                } else {
                    // h linear from ha to hb: the integral of h^-3 dz is (1/ha^2 - 1/hb^2) / (2 dh/dz).
                    (b - a) * (1.0 / (ha * ha) - 1.0 / (hb * hb)) / (2.0 * (hb - ha))
                }
            })
            .sum()
    }

    /// A lower bound over a box.
    fn min_over(&self, b: &Aabb) -> f64 {
        let nearest = |p: f64| (b.lo.z - p).max(p - b.hi.z).max(0.0);
        self.planes.iter().fold(self.h_max, |h, &p| h.min(self.h_interface + self.slope * nearest(p)))
    }
}

/// The size field of a domain, with the bucket grid of the surfaces' influence regions.
#[derive(Debug, Clone)]
pub struct SizeField {
    background: Background,
    /// Each surface's term: h0 + slope x distance.
    terms: Vec<Term>,
    /// The smallest h0 and slope over the terms: a lower bound of every term at a given distance.
    least: Term,
    features: Vec<Feature>,
    grid: BucketGrid,
    domain: Aabb,
}

/// A surface's size term h0 + slope x distance.
#[derive(Debug, Clone, Copy)]
struct Term {
    h0: f64,
    slope: f64,
}

impl Term {
    fn at(&self, distance: f64) -> f64 {
        self.h0 + self.slope * distance
    }
}

/// Which term of the size field sets h at a point (see [`SizeField::controlling`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeTerm {
    /// h_max, far from every feature.
    Background,
    /// The interface and layer planes.
    Planes,
    /// The surface of `domain.surfaces[i]` (a hot spot).
    Surface(usize),
}

impl SizeField {
    pub fn new(domain: &ImplicitDomain, c: &MeshControls) -> SizeField {
        SizeField::scaled(domain, c, &SizeScales::default())
    }

    /// The size field with each term multiplied by its scale (an adaptive loop's refinement, see [`SizeScales`]).
    pub fn scaled(domain: &ImplicitDomain, c: &MeshControls, scales: &SizeScales) -> SizeField {
        let slope = c.grading - 1.0;
        let mut planes = vec![domain.lo.z];
        planes.extend_from_slice(&domain.planes_z);
        let background = Background {
            h_max: c.h_max * scales.background,
            h_interface: c.h_interface * scales.planes,
            slope: slope * scales.planes,
            planes,
        };
        let features: Vec<Feature> = domain
            .surfaces
            .iter()
            .map(|s| match *s {
                Surface::Sphere { center, radius, .. } => Feature::Sphere { center, radius },
                Surface::Disk { center_x, center_y, radius, .. } => {
                    Feature::Circle { x: center_x, y: center_y, z: domain.lo.z, radius }
                }
            })
            .collect();
        let terms: Vec<Term> = (0..features.len())
            .map(|i| {
                let scale = scales.surfaces.get(i).copied().unwrap_or(1.0);
                Term { h0: c.h_min * scale, slope: slope * scale }
            })
            .collect();
        let least = terms
            .iter()
            .fold(Term { h0: c.h_min, slope }, |m, t| Term { h0: m.h0.min(t.h0), slope: m.slope.min(t.slope) });
        // Beyond this distance a surface's term exceeds h_max.
        let reach = |t: &Term| ((background.h_max - t.h0) / t.slope).max(0.0);
        // Cells about as wide as a surface's influence at the interface.
        let cell_edge = ((c.h_interface - c.h_min) / slope).max(c.h_min);
        let grid = BucketGrid::build(
            domain.lo,
            domain.hi,
            cell_edge,
            features.len(),
            |i| features[i].bounds(reach(&terms[i])),
            |i, cell| {
                let nearest = features[i].distance_lower_bound(cell);
                (terms[i].at(nearest) < background.max_over(cell)).then_some(nearest)
            },
        );
        SizeField { background, terms, least, features, grid, domain: Aabb { lo: domain.lo, hi: domain.hi } }
    }

    /// h(x). Every surface term is h0 + slope x distance, at least least.h0 + least.slope x distance, so the cell
    /// lists its surfaces by their least distance from the cell, and the scan stops at the first whose least
    /// possible term cannot go below the minimum so far (rounding is monotone, so nothing it skips could). On a
    /// dense interface, where a cell lists dozens of surfaces, the scan ends after the nearest few.
    pub fn at(&self, x: DVec3) -> f64 {
        self.with_term(x).0
    }

    /// Which term sets h at `x`.
    pub fn controlling(&self, x: DVec3) -> SizeTerm {
        self.with_term(x).1
    }

    fn with_term(&self, x: DVec3) -> (f64, SizeTerm) {
        let (items, nearest) = self.grid.ranked_at(x);
        let mut h = self.background.at(x.z);
        let mut term = if h < self.background.h_max { SizeTerm::Planes } else { SizeTerm::Background };
        for (&i, &least) in items.iter().zip(nearest) {
            if self.least.at(least) >= h {
                break;
            }
            let candidate = self.terms[i as usize].at(self.features[i as usize].distance(x));
            if candidate < h {
                (h, term) = (candidate, SizeTerm::Surface(i as usize));
            }
        }
        (h, term)
    }

    /// Lower and upper bounds of h over a box.
    fn bounds_over(&self, b: &Aabb) -> (f64, f64) {
        let (mut low, mut high) = (self.background.min_over(b), self.background.max_over(b));
        self.grid.for_each_overlapping(b, |i| {
            let d = self.features[i as usize].distance(b.center());
            let term = &self.terms[i as usize];
            low = low.min(term.at((d - b.radius()).max(0.0)));
            high = high.min(term.at(d + b.radius()));
        });
        (low, high)
    }

    /// The node count the size field implies, [`NODES_PER_INVERSE_CUBE`] times the integral of h^-3 over the box,
    /// by adaptive octree integration (see [`SizeField::integral_inverse_cube`]). Stops as soon as the count
    /// passes `limit`, so absurd sizes are refused at once: the result is then a lower bound and `complete` is
    /// false.
    pub fn estimate_nodes(&self, limit: f64) -> NodeEstimate {
        let nodes = NODES_PER_INVERSE_CUBE * self.integral_inverse_cube(self.domain, 0, limit / NODES_PER_INVERSE_CUBE);
        NodeEstimate { nodes, complete: nodes <= limit }
    }

    /// The integral of h^-3 over `b`: a box no surface influences is integrated exactly (h depends on z alone
    /// there); others are split until h varies by less than a factor 3 over them (an estimate needs no more: a
    /// factor 1.5 took 16 times as long, 2 s on random_500, for a count 4 % different). Boxes over many grid
    /// cells are split without bounding h first, and their octants integrated in parallel; the octants'
    /// integrals are added in octant order, so the sum does not depend on the threads. Once a partial sum passes
    /// `limit` the rest of the box is skipped: the result is then a lower bound above `limit`.
    fn integral_inverse_cube(&self, b: Aabb, depth: u32, limit: f64) -> f64 {
        const MAX_DEPTH: u32 = 48;
        // Boxes over more cells than this are split without bounding h over them first.
        const BOUNDED_CELLS: usize = 64;
        let size = b.hi - b.lo;
        let by_centre = || size.x * size.y * size.z / self.at(b.center()).powi(3);
        if !self.grid.any_in(&b) {
            return size.x * size.y * self.background.integral_inverse_cube(b.lo.z, b.hi.z);
        }
        if depth >= MAX_DEPTH {
            return by_centre();
        }
        let large = self.grid.cells_in(&b) > BOUNDED_CELLS;
        if !large {
            let (low, high) = self.bounds_over(&b);
            if high <= 3.0 * low {
                return by_centre();
            }
        }
        let mid = b.center();
        let octant = |octant: usize| {
            let pick = |a: usize| if octant >> a & 1 == 0 { (b.lo[a], mid[a]) } else { (mid[a], b.hi[a]) };
            let (x, y, z) = (pick(0), pick(1), pick(2));
            Aabb { lo: DVec3::new(x.0, y.0, z.0), hi: DVec3::new(x.1, y.1, z.1) }
        };
        if large {
            let parts: Vec<f64> =
                (0..8).into_par_iter().map(|o| self.integral_inverse_cube(octant(o), depth + 1, limit)).collect();
            return parts.iter().sum();
        }
        let mut sum = 0.0;
        for o in 0..8 {
            sum += self.integral_inverse_cube(octant(o), depth + 1, limit - sum);
            if !(sum <= limit) {
                break;
            }
        }
        sum
    }
}

/// The node count a size field implies (see [`SizeField::estimate_nodes`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodeEstimate {
    pub nodes: f64,
    /// False when the integration stopped early at the limit: `nodes` is then only a lower bound.
    pub complete: bool,
}

#[cfg(test)]
mod tests {
    use super::super::{ImplicitDomain, Keep, Surface};
    use super::*;
    use crate::mesh::geometry::{SplitMix64, DEFAULT_MAX_NODES};

    /// The size field by its definition: the minimum over every term, no index.
    fn by_definition(domain: &ImplicitDomain, c: &MeshControls, x: DVec3) -> f64 {
        by_definition_scaled(domain, c, &SizeScales::default(), x)
    }

    fn by_definition_scaled(domain: &ImplicitDomain, c: &MeshControls, scales: &SizeScales, x: DVec3) -> f64 {
        let slope = c.grading - 1.0;
        // Written as the field writes its terms (h0 s + (slope s) d), so that the two agree to the last bit.
        let plane = |p: f64| c.h_interface * scales.planes + slope * scales.planes * (x.z - p).abs();
        let mut h = (c.h_max * scales.background).min(plane(domain.lo.z));
        for &p in &domain.planes_z {
            h = h.min(plane(p));
        }
        for (i, s) in domain.surfaces.iter().enumerate() {
            let d = match s {
                Surface::Sphere { center, radius, .. } => ((x - *center).length() - radius).abs(),
                Surface::Disk { center_x, center_y, radius, .. } => {
                    ((x.x - center_x).hypot(x.y - center_y) - radius).hypot(x.z - domain.lo.z)
                }
            };
            let scale = scales.surfaces.get(i).copied().unwrap_or(1.0);
            h = h.min(c.h_min * scale + slope * scale * d);
        }
        h
    }

    fn random_domain(count: usize, seed: u64) -> ImplicitDomain {
        let mut rng = SplitMix64::new(seed);
        let hi = DVec3::new(10e-6, 10e-6, 4e-6);
        let surfaces = (0..count)
            .map(|i| {
                let (x, y) = (rng.uniform(0.5e-6, 9.5e-6), rng.uniform(0.5e-6, 9.5e-6));
                let radius = rng.uniform(5e-9, 20e-9);
                if i % 3 == 0 {
                    Surface::Disk { name: format!("d{i}"), center_x: x, center_y: y, radius }
                } else {
                    let center = DVec3::new(x, y, rng.uniform(30e-9, 60e-9));
                    Surface::Sphere { name: format!("s{i}"), center, radius, keep: Keep::Outside }
                }
            })
            .collect();
        ImplicitDomain {
            lo: DVec3::ZERO,
            hi,
            planes_z: vec![1e-6],
            region_names: vec!["a".into(), "b".into()],
            surfaces,
        }
    }

    #[test]
    fn the_indexed_field_equals_the_definition_exactly() {
        let controls =
            MeshControls { h_max: 1e-6, h_min: 2e-9, h_interface: 200e-9, grading: 1.3, max_nodes: DEFAULT_MAX_NODES };
        let domain = random_domain(300, 4);
        let field = SizeField::new(&domain, &controls);
        let mut rng = SplitMix64::new(9);
        for _ in 0..20_000 {
            // Half the points near the interface, where the surfaces matter.
            let z = if rng.next_open01() < 0.5 { rng.uniform(0.0, 200e-9) } else { rng.uniform(0.0, 4e-6) };
            let x = DVec3::new(rng.uniform(0.0, 10e-6), rng.uniform(0.0, 10e-6), z);
            assert_eq!(field.at(x), by_definition(&domain, &controls, x), "at {x:?}");
        }
        // And it looks at few surfaces per cell: the index is worth having.
        let listed = field.grid.ranked_at(DVec3::new(5e-6, 5e-6, 50e-9)).0.len();
        assert!(listed < 40, "{listed} of 300 surfaces listed in one cell");
    }

    #[test]
    fn the_scaled_field_equals_its_definition_exactly_and_names_the_term_that_sets_it() {
        let controls =
            MeshControls { h_max: 1e-6, h_min: 2e-9, h_interface: 200e-9, grading: 1.3, max_nodes: DEFAULT_MAX_NODES };
        let domain = random_domain(300, 5);
        let mut rng = SplitMix64::new(3);
        let scales =
            SizeScales { background: 0.7, planes: 0.5, surfaces: (0..300).map(|_| rng.uniform(0.25, 1.0)).collect() };
        let field = SizeField::scaled(&domain, &controls, &scales);
        let (mut surfaces, mut others) = (0, 0);
        for _ in 0..20_000 {
            let z = if rng.next_open01() < 0.5 { rng.uniform(0.0, 200e-9) } else { rng.uniform(0.0, 4e-6) };
            let x = DVec3::new(rng.uniform(0.0, 10e-6), rng.uniform(0.0, 10e-6), z);
            let h = field.at(x);
            assert_eq!(h, by_definition_scaled(&domain, &controls, &scales, x), "at {x:?}");
            // Without the controlling surface's term (its scale made huge) h rises; with any other removed it does not.
            if let SizeTerm::Surface(i) = field.controlling(x) {
                surfaces += 1;
                let mut without = scales.clone();
                without.surfaces[i] = 1e6;
                assert!(by_definition_scaled(&domain, &controls, &without, x) > h, "at {x:?}");
            } else {
                others += 1;
            }
        }
        assert!(surfaces > 100 && others > 100, "{surfaces} points set by surfaces, {others} by the rest");
    }

    #[test]
    fn estimates_stop_at_the_limit_at_once() {
        let controls =
            MeshControls { h_max: 1e-9, h_min: 1e-9, h_interface: 1e-9, grading: 1.3, max_nodes: DEFAULT_MAX_NODES };
        let domain = ImplicitDomain { hi: DVec3::splat(8e-6), ..random_domain(0, 1) };
        let field = SizeField::new(&domain, &controls);
        let estimate = field.estimate_nodes(1e7);
        assert!(!estimate.complete && estimate.nodes > 1e7, "{estimate:?}");
        // 8 um cubed at 1 nm: NODES_PER_INVERSE_CUBE x 5.12e11 nodes; the first box already says so.
        assert!((estimate.nodes / (NODES_PER_INVERSE_CUBE * 5.12e11) - 1.0).abs() < 1e-9, "{estimate:?}");
    }
}
