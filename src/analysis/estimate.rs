//! Error estimates of the reported currents (ARCHITECTURE.md, "Error estimates"): which dual problems are
//! solved, and how their local contributions are attributed to the currents.
//!
//! Every Dirichlet box boundary (and every Dirichlet boundary of an imported mesh) gets its own dual, and so does
//! every resistive interface (its current is a volume functional: the dual has z = 0 on every Dirichlet node). The
//! Dirichlet hot spots share one: z = 1 on all of them. Each hot spot's dual decays within a few radii, so near
//! hot spot k the shared dual is k's own plus the smooth tails of the others, whose reconstruction error is
//! negligible; each tet and face is attributed to the nearest hot spot. Neumann and insulating currents are
//! data (their estimate is 0). Without volume sources the consistent currents sum to zero, as the exact ones
//! do, so one boundary that is not data gets minus the sum of the others' estimates: a Robin boundary (more
//! than one stay unestimated), else the last Dirichlet box boundary, whose dual is then not solved.

use super::AnalysisError;
use crate::case::Case;
use crate::fem::estimate::{dual_weighted_residual, CurvedSurface, GoalIndicators, TetGroups};
use crate::fem::FluxRecovery;
use crate::fem::{Assembly, BoundaryCondition, Problem};
use crate::mesh::geometry::HotSpotShape;
use crate::mesh::Mesh;
use crate::study::SolverContext;
use glam::DVec3;
use rayon::prelude::*;
use std::time::Instant;

/// The error estimates of a solved case's boundary currents.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CurrentEstimates {
    /// Per boundary tag: the estimate of (exact - computed) current leaving through it (A); None where no
    /// estimate is made (a second Robin boundary).
    pub boundary: Vec<Option<f64>>,
    /// Per boundary tag: the part of `boundary` due to the facets of curved surfaces (A).
    pub geometry: Vec<f64>,
    /// Per resistive interface: the estimate of (exact - computed) current through it upward (A).
    pub interfaces: Vec<f64>,
    /// The seconds the estimates took, dual solves included.
    pub seconds: f64,
    /// Where the error is made, for the adaptive loop (when asked for): per tet, and per boundary face at its
    /// centroid, the magnitude of the local contribution over the magnitude of the current it belongs to.
    pub located: Option<LocatedIndicators>,
}

/// Relative local error contributions (see [`CurrentEstimates::located`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocatedIndicators {
    pub tets: Vec<f64>,
    pub faces: Vec<(DVec3, f64)>,
}

/// The Dirichlet hot spots of the case on this mesh: tag and shape.
fn dirichlet_spots(case: &Case, mesh: &Mesh, conditions: &[BoundaryCondition]) -> Vec<(u16, HotSpotShape)> {
    case.hotspots()
        .iter()
        .filter_map(|h| {
            let tag = mesh.boundary_tag(&h.name)?;
            matches!(conditions[tag as usize], BoundaryCondition::Dirichlet { .. }).then_some((tag, h.shape.clone()))
        })
        .collect()
}

/// A solved case as the estimates read it: `phi` is the nodal solution and `currents` the currents leaving
/// through each tag.
pub struct SolvedSystem<'a> {
    pub mesh: &'a Mesh,
    pub problem: &'a Problem<'a>,
    pub phi: &'a [f64],
    pub currents: &'a [f64],
}

/// The dual solutions of a case's currents (nodal, Dirichlet values included): one per group of boundary tags,
/// and one per resistive interface.
pub struct Duals {
    /// The Dirichlet hot spots (tag, shape) the first group holds.
    spots: Vec<(u16, HotSpotShape)>,
    groups: Vec<Vec<u16>>,
    solutions: Vec<Vec<f64>>,
    interfaces: Vec<Vec<f64>>,
    seconds: f64,
}

/// The groups of boundary tags that get a dual (see the module notes): the Dirichlet hot spots together, then each
/// other Dirichlet boundary, less the last single-boundary group when conservation gives its estimate.
fn dual_groups(spots: &[(u16, HotSpotShape)], problem: &Problem) -> Vec<Vec<u16>> {
    let conditions = &problem.boundary_conditions;
    let mut groups: Vec<Vec<u16>> = Vec::new();
    if !spots.is_empty() {
        groups.push(spots.iter().map(|(tag, _)| *tag).collect());
    }
    for (tag, condition) in conditions.iter().enumerate() {
        let tag = tag as u16;
        if matches!(condition, BoundaryCondition::Dirichlet { .. }) && !spots.iter().any(|(t, _)| *t == tag) {
            groups.push(vec![tag]);
        }
    }
    // Without sources the currents sum to zero, exact and computed alike: one boundary that is not data (a Robin
    // or Butler-Volmer boundary, else the last single-boundary group) needs no dual of its own. When it is the only one that is not
    // data its current is fixed by the others: its estimate is exactly 0.
    let flux_count = conditions
        .iter()
        .filter(|c| matches!(c, BoundaryCondition::Robin { .. } | BoundaryCondition::ButlerVolmer(_)))
        .count();
    if problem.source.is_none() && flux_count == 0 && groups.last().is_some_and(|g| g.len() == 1) {
        groups.pop();
    }
    groups
}

/// Solves the dual of every group of currents on the case's solved system (`assembly`, at the solution's
/// linearization, and its flux recovery) with the run's solver, whose multigrid setup for that matrix is reused. The matrix is not
/// needed after this: [`estimate_currents`] reads only the solutions.
pub fn solve_duals(
    case: &Case,
    mesh: &Mesh,
    problem: &Problem,
    assembly: &Assembly,
    recovery: &FluxRecovery,
    context: &mut SolverContext,
) -> Result<Duals, AnalysisError> {
    let clock = Instant::now();
    let spots = dirichlet_spots(case, mesh, &problem.boundary_conditions);
    let groups = dual_groups(&spots, problem);
    let mut solutions = Vec::with_capacity(groups.len());
    let mut solve = |dual: crate::fem::estimate::DualSystem| -> Result<Vec<f64>, AnalysisError> {
        let (values, _) = context.solve_system(&assembly.matrix, &dual.rhs)?;
        Ok(assembly.expand_with(&values, &dual.dirichlet_values))
    };
    for group in &groups {
        solutions.push(solve(assembly.dual_system(recovery, group))?);
    }
    let interfaces = (0..mesh.interface_names.len())
        .map(|tag| solve(assembly.interface_dual_system(mesh, tag as u16, problem.interface_resistance[tag])))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Duals { spots, groups, solutions, interfaces, seconds: clock.elapsed().as_secs_f64() })
}

/// The error estimate of every boundary current of a solved case from its duals. `locate`: also say where the
/// error is made (the adaptive loop).
pub fn estimate_currents(solved: &SolvedSystem, duals: Duals, locate: bool) -> CurrentEstimates {
    let SolvedSystem { mesh, problem, phi, currents } = *solved;
    let clock = Instant::now();
    let conditions = &problem.boundary_conditions;
    let tags = conditions.len();
    let spots = &duals.spots;
    let curved: Vec<CurvedSurface> = spots
        .iter()
        .filter_map(|(tag, shape)| match *shape {
            HotSpotShape::Sphere { center, radius } => {
                Some(CurvedSurface { tag: *tag, center, radius, electrolyte_outside: true })
            }
            HotSpotShape::Disk { .. } => None,
        })
        .collect();
    let mut estimates = CurrentEstimates {
        boundary: vec![None; tags],
        geometry: vec![0.0; tags],
        located: locate.then(|| LocatedIndicators { tets: vec![0.0; mesh.tets.len()], faces: Vec::new() }),
        ..CurrentEstimates::default()
    };
    let index = SpotIndex::new(spots);
    for (group, z) in duals.groups.iter().zip(&duals.solutions) {
        // The member of the group each contribution belongs to: the tag itself on its own faces, else the nearest.
        let member = |tag: Option<u16>, at: DVec3| match (group.len(), tag) {
            (1, _) => 0,
            (_, Some(tag)) if group.contains(&tag) => group.iter().position(|&t| t == tag).expect("a member"),
            _ => index.nearest(at),
        };
        let centroid = |t: usize| mesh.tet_points(t).iter().sum::<DVec3>() / 4.0;
        let group_of = |t: usize| member(None, centroid(t));
        let grouping = TetGroups { group_of: &group_of, groups: group.len(), keep_tets: locate };
        let indicators = dual_weighted_residual(mesh, problem, phi, z, &curved, &grouping);
        attribute(mesh, &indicators, group, &member, &group_of, currents, &mut estimates);
    }
    estimates.interfaces = duals
        .interfaces
        .iter()
        .map(|z| dual_weighted_residual(mesh, problem, phi, z, &curved, &TetGroups::one()).total())
        .collect();
    for (tag, condition) in conditions.iter().enumerate() {
        if matches!(condition, BoundaryCondition::Neumann { .. } | BoundaryCondition::Insulating) {
            estimates.boundary[tag] = Some(0.0);
        }
    }
    let missing: Vec<usize> = (0..tags).filter(|&t| estimates.boundary[t].is_none()).collect();
    if let ([last], None) = (missing.as_slice(), problem.source) {
        estimates.boundary[*last] = Some(-estimates.boundary.iter().flatten().sum::<f64>());
        estimates.geometry[*last] = -estimates.geometry.iter().sum::<f64>();
    }
    estimates.seconds = duals.seconds + clock.elapsed().as_secs_f64();
    estimates
}

/// Adds each local contribution to the current of the group member it belongs to (`member`, an index into
/// `group`; `group_of` for tets), and its relative magnitude to the located indicators.
fn attribute(
    mesh: &Mesh,
    indicators: &GoalIndicators,
    group: &[u16],
    member: &impl Fn(Option<u16>, DVec3) -> usize,
    group_of: &(impl Fn(usize) -> usize + Sync),
    currents: &[f64],
    estimates: &mut CurrentEstimates,
) {
    let relative = |tag: u16, value: f64| {
        let reference = currents[tag as usize].abs();
        if reference > 0.0 {
            value.abs() / reference
        } else {
            0.0
        }
    };
    let mut add = |tag: u16, value: f64, geometry: f64| {
        let slot = estimates.boundary[tag as usize].get_or_insert(0.0);
        *slot += value;
        estimates.geometry[tag as usize] += geometry;
    };
    for (&tag, &value) in group.iter().zip(&indicators.tet_groups) {
        add(tag, value, 0.0);
    }
    if let Some(located) = &mut estimates.located {
        let tags: Vec<u16> = (0..mesh.tets.len()).into_par_iter().map(|t| group[group_of(t)]).collect();
        for ((slot, &value), &tag) in located.tets.iter_mut().zip(&indicators.tets).zip(&tags) {
            *slot += relative(tag, value);
        }
    }
    for (f, face) in mesh.boundary_faces.iter().enumerate() {
        let value = indicators.boundary_faces[f];
        if value == 0.0 {
            continue;
        }
        let centroid = mesh.face_points(face).iter().sum::<DVec3>() / 3.0;
        let tag = group[member(Some(face.tag), centroid)];
        add(tag, value, indicators.geometry[f]);
        if let Some(located) = &mut estimates.located {
            located.faces.push((centroid, relative(tag, value)));
        }
    }
    for (face, &value) in mesh.interface_faces.iter().zip(&indicators.interface_faces) {
        let centroid = face.below.map(|n| mesh.nodes[n as usize]).iter().sum::<DVec3>() / 3.0;
        let tag = group[member(None, centroid)];
        add(tag, value, 0.0);
        if let Some(located) = &mut estimates.located {
            located.faces.push((centroid, relative(tag, value)));
        }
    }
}

/// The hot spot nearest to a point (by distance to its surface), through a grid of the spots' axes in x, y.
struct SpotIndex<'a> {
    spots: &'a [(u16, HotSpotShape)],
    lo: (f64, f64),
    cell: f64,
    columns: usize,
    rows: usize,
    /// Spot indices per cell, row-major.
    cells: Vec<Vec<usize>>,
    /// The largest radius: a spot's surface is at most this much closer than its axis.
    reach: f64,
}

fn distance_to(shape: &HotSpotShape, p: DVec3) -> f64 {
    match *shape {
        HotSpotShape::Sphere { center, radius } => ((p - center).length() - radius).max(0.0),
        HotSpotShape::Disk { center_x, center_y, radius } => {
            ((p.x - center_x).hypot(p.y - center_y) - radius).max(0.0).hypot(p.z)
        }
    }
}

fn radius_of(shape: &HotSpotShape) -> f64 {
    match *shape {
        HotSpotShape::Sphere { radius, .. } | HotSpotShape::Disk { radius, .. } => radius,
    }
}

impl<'a> SpotIndex<'a> {
    fn new(spots: &'a [(u16, HotSpotShape)]) -> SpotIndex<'a> {
        let axes: Vec<(f64, f64)> = spots.iter().map(|(_, s)| s.axis()).collect();
        let (mut lo, mut hi) = ((f64::INFINITY, f64::INFINITY), (f64::NEG_INFINITY, f64::NEG_INFINITY));
        for &(x, y) in &axes {
            lo = (lo.0.min(x), lo.1.min(y));
            hi = (hi.0.max(x), hi.1.max(y));
        }
        let span = (hi.0 - lo.0).max(hi.1 - lo.1).max(f64::MIN_POSITIVE);
        // About one spot per cell.
        let per_side = (spots.len() as f64).sqrt().ceil().max(1.0);
        let cell = (span / per_side).max(span * 1e-6);
        let (columns, rows) =
            (((hi.0 - lo.0) / cell).floor() as usize + 1, ((hi.1 - lo.1) / cell).floor() as usize + 1);
        let mut cells = vec![Vec::new(); if spots.is_empty() { 0 } else { columns * rows }];
        for (i, &(x, y)) in axes.iter().enumerate() {
            let (c, r) = (((x - lo.0) / cell) as usize, ((y - lo.1) / cell) as usize);
            cells[r.min(rows - 1) * columns + c.min(columns - 1)].push(i);
        }
        let reach = spots.iter().map(|(_, s)| radius_of(s)).fold(0.0, f64::max);
        SpotIndex { spots, lo, cell, columns, rows, cells, reach }
    }

    /// The index (into the spots) of the spot whose surface is nearest to `p` (rings of cells around p's cell,
    /// until no farther ring can hold a nearer spot).
    fn nearest(&self, p: DVec3) -> usize {
        let clamp = |v: f64, n: usize| (v.max(0.0) as usize).min(n - 1);
        let (c0, r0) =
            (clamp((p.x - self.lo.0) / self.cell, self.columns), clamp((p.y - self.lo.1) / self.cell, self.rows));
        let (mut best, mut best_distance) = (0, f64::INFINITY);
        for ring in 0..=self.columns.max(self.rows) {
            // Every spot in this ring or beyond lies at least (ring - 1) cells from p laterally.
            if (ring as f64 - 1.0) * self.cell - self.reach > best_distance {
                break;
            }
            let (c_lo, c_hi) = (c0 as isize - ring as isize, c0 as isize + ring as isize);
            let (r_lo, r_hi) = (r0 as isize - ring as isize, r0 as isize + ring as isize);
            for r in r_lo.max(0)..=r_hi.min(self.rows as isize - 1) {
                for c in c_lo.max(0)..=c_hi.min(self.columns as isize - 1) {
                    let on_ring = r == r_lo || r == r_hi || c == c_lo || c == c_hi;
                    if !on_ring {
                        continue;
                    }
                    for &i in &self.cells[r as usize * self.columns + c as usize] {
                        let d = distance_to(&self.spots[i].1, p);
                        if d < best_distance {
                            (best, best_distance) = (i, d);
                        }
                    }
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_spot_is_the_one_a_search_of_all_finds() {
        let mut state = 7u64;
        let mut uniform = |lo: f64, hi: f64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((state >> 11) as f64 / (1u64 << 53) as f64)
        };
        let spots: Vec<(u16, HotSpotShape)> = (0..60)
            .map(|i| {
                let (x, y, r) = (uniform(0.0, 10.0), uniform(0.0, 10.0), uniform(0.05, 0.3));
                let shape = if i % 3 == 0 {
                    HotSpotShape::Disk { center_x: x, center_y: y, radius: r }
                } else {
                    HotSpotShape::Sphere { center: DVec3::new(x, y, uniform(0.4, 0.8)), radius: r }
                };
                (i as u16 + 6, shape)
            })
            .collect();
        let index = SpotIndex::new(&spots);
        for _ in 0..2000 {
            let p = DVec3::new(uniform(-2.0, 12.0), uniform(-2.0, 12.0), uniform(0.0, 5.0));
            let by_scan =
                spots.iter().min_by(|a, b| distance_to(&a.1, p).total_cmp(&distance_to(&b.1, p))).map(|s| s.0).unwrap();
            let found = spots[index.nearest(p)].0;
            let gap = |tag: u16| distance_to(&spots.iter().find(|s| s.0 == tag).unwrap().1, p);
            assert_eq!(gap(found), gap(by_scan), "at {p:?}");
        }
    }
}
