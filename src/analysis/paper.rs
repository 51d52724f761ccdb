//! Paper mode: the formulation of Zhang et al. (paper 001, Methods, Eqs. 13-16) in 3D. Instead of removing
//! the depleted hot spot and holding its surface at U, a Gaussian charge sits at the hot spot's centre,
//!
//!   -div(eps grad u) = rho,   rho(x) = Q / ((2 pi)^{3/2} w^3) exp(-|x - c|^2 / (2 w^2)),
//!
//! (the paper's 2D Gaussian q / (2 pi w^2) exp(-r^2 / 2w^2), Eq. 13, made 3D with the same width w and the
//! same total charge Q), with eps = eps0 eps_r of the electrolyte, the case's other boundary conditions, and
//! Q calibrated so that the potential at distance d from c (the hot spot's radius, 10 nm in the paper) is U.
//! Then J = -sigma grad u (Eqs. 15-16).
//!
//! How it is solved. For one material, -div(eps grad u) = rho and -div(sigma grad u) = (sigma / eps) rho have
//! the same solution, so the assembly uses the conductivity and the source (sigma / eps) rho (A/m^3): the
//! case's current-density (Neumann) and interfacial-resistance (Robin) conditions then keep their meaning
//! J.n, and currents come out in amperes. The problem is linear in (boundary data, Q): u = u_bc + Q u_1 with
//! u_bc the field of the case's boundary values without charge and u_1 the field of unit charge with the
//! boundary values set to zero. "The potential at distance d" is the mean of u over the sphere |x - c| = d
//! (Fibonacci points), so Q = (U - mean u_bc) / mean u_1; the spread over that sphere (the hot spot is not
//! an equipotential here, unlike the Dirichlet model) is reported as its min and max.
//!
//! Mesh: the case's box without any hot spot, a graded bisection mesh with element size `h_center` at c
//! (default w / 2, so the 4-point load rule integrates the Gaussian), `h_interface` at z = 0 and growing by
//! (grading - 1) per unit distance up to `h_max`. The paper's width ("below 0.0005" in its length unit, um,
//! i.e. < 0.5 nm) only matters within a few w of c; beyond 3 w the field is that of a point charge, so the
//! default w = 2 nm gives the same potential at d = 10 nm with a mesh 64 times smaller.

use crate::analysis::locate::PointLocator;
use crate::case::Case;
use crate::fem::{self, barycentric_gradients, post, BoundaryCondition, FemError, Problem};
use crate::mesh::bisection::{refine_box, NodeBudget};
use crate::mesh::geometry::{Geometry, HotSpotShape};
use crate::mesh::structured::{box_boundary_faces, BOX_BOUNDARIES};
use crate::mesh::{signed_volume, Mesh, MeshError};
use crate::study::SolverContext;
use glam::DVec3;
use serde::Serialize;
use std::f64::consts::PI;

/// Vacuum permittivity (F/m), CODATA 2018.
pub const VACUUM_PERMITTIVITY: f64 = 8.8541878128e-12;

#[derive(Debug, thiserror::Error)]
pub enum PaperError {
    #[error("paper mode: no hot spot is named `{name}`; hot spots: {known}")]
    UnknownHotSpot { name: String, known: String },
    #[error("paper mode: hot spot `{name}` is a disk; the Gaussian charge needs a sphere hot spot (its centre)")]
    NotASphere { name: String },
    #[error("paper mode: {reason}")]
    Unsupported { reason: String },
    #[error("paper mode: the material `{region}` of the electrolyte is not defined")]
    MissingMaterial { region: String },
    #[error(
        "paper mode: hot spot `{name}` has no dirichlet potential in the case, so U is unknown; give the target \
         potential explicitly"
    )]
    NoPotential { name: String },
    #[error("paper mode: `{field}` = {value:e}: {reason}")]
    BadSetting { field: &'static str, value: f64, reason: String },
    #[error(
        "paper mode: the point {point:?} m at the calibration distance from hot spot `{name}` lies outside the box"
    )]
    SphereOutside { name: String, point: [f64; 3] },
    #[error("paper mode: meshing failed: {0}")]
    Mesh(#[from] MeshError),
    #[error("paper mode: assembly failed: {0}")]
    Fem(#[from] FemError),
    #[error("paper mode: {0}")]
    Solve(#[from] crate::study::StudyError),
}

/// The knobs of paper mode; [`PaperSettings::default`] follows the paper where it is specific.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaperSettings {
    /// Gaussian width w (m).
    pub width_m: f64,
    /// Distance d from the centre where the potential is calibrated to U (m); the paper's 10 nm.
    pub calibration_distance_m: f64,
    /// U (V); `None`: the hot spot's dirichlet potential in the case.
    pub potential_v: Option<f64>,
    /// Element size at the centre (m); `None`: w / 2.
    pub h_center_m: Option<f64>,
    /// Points on the calibration sphere.
    pub sphere_points: usize,
}

impl Default for PaperSettings {
    fn default() -> Self {
        PaperSettings {
            width_m: crate::case::DEFAULT_PAPER_WIDTH_M,
            calibration_distance_m: 10e-9,
            potential_v: None,
            h_center_m: None,
            sphere_points: 200,
        }
    }
}

/// The solved field of paper mode, for VTU output and plots.
#[derive(Debug, Clone)]
pub struct PaperField {
    pub mesh: Mesh,
    /// Nodal potential (V).
    pub potential: Vec<f64>,
    /// J = -sigma grad u per tet (A/m^2).
    pub current_density: Vec<DVec3>,
}

/// Current leaving the domain through one box face (A).
#[derive(Debug, Clone, Serialize)]
pub struct BoundaryCurrent {
    pub name: String,
    #[serde(rename = "current_A")]
    pub current_a: f64,
}

/// The numbers of paper mode (JSON keys carry units).
#[allow(non_snake_case)]
#[derive(Debug, Clone, Serialize)]
pub struct PaperModeResult {
    pub hotspot: String,
    pub center_m: [f64; 3],
    pub width_m: f64,
    pub calibration_distance_m: f64,
    /// eps0 eps_r of the electrolyte (F/m).
    pub permittivity_F_per_m: f64,
    /// U, the potential the calibration aims at.
    pub target_potential_V: f64,
    /// Total charge Q of the Gaussian.
    pub charge_C: f64,
    /// Mean, min and max of the calibrated u over the sphere |x - c| = d.
    pub potential_at_distance_V: f64,
    pub potential_at_distance_min_V: f64,
    pub potential_at_distance_max_V: f64,
    /// Current leaving the electrolyte into the ball |x - c| <= d (same sign convention as the hot-spot
    /// current of the dirichlet-sphere model): minus the consistent outward flux of the ball.
    pub current_A: f64,
    /// Current leaving the domain through each box face, from the consistent boundary fluxes.
    pub boundary_currents: Vec<BoundaryCurrent>,
    pub nodes: usize,
    pub tets: usize,
    /// Shared, so the summary's copy of the numbers does not copy the mesh and fields.
    #[serde(skip)]
    pub field: std::sync::Arc<PaperField>,
}

/// Runs paper mode for the sphere hot spot `hotspot` of `case` (see the module notes).
pub fn run_paper_mode(
    case: &Case,
    hotspot: &str,
    settings: &PaperSettings,
    context: &mut SolverContext,
) -> Result<PaperModeResult, PaperError> {
    let center = hotspot_sphere(case, hotspot)?;
    check_settings(settings)?;
    let geometry = case.geometry().ok_or_else(|| PaperError::Unsupported {
        reason: "paper mode needs a generated geometry (its box and hot spot), not a mesh file".into(),
    })?;
    if let Some(reason) = crate::case::paper_mode_unsupported(geometry) {
        return Err(PaperError::Unsupported { reason });
    }
    let region = geometry.bulk_region.clone();
    let material = case.materials.get(&region).ok_or(PaperError::MissingMaterial { region })?;
    let sigma = material.conductivity;
    let eps = VACUUM_PERMITTIVITY * material.relative_permittivity;
    let target = match settings.potential_v {
        Some(u) => u,
        None => match case.condition_for(hotspot) {
            BoundaryCondition::Dirichlet { potential } => potential,
            _ => return Err(PaperError::NoPotential { name: hotspot.to_string() }),
        },
    };

    let h_center = settings.h_center_m.unwrap_or(0.5 * settings.width_m);
    let mesh = centred_box_mesh(case, geometry, center, h_center)?;
    let sample_points = sphere_points(center, settings.calibration_distance_m, settings.sphere_points);
    let locator = PointLocator::new(&mesh);
    let locations = sample_points
        .iter()
        .map(|&p| locator.locate(p).ok_or(PaperError::SphereOutside { name: hotspot.to_string(), point: p.into() }))
        .collect::<Result<Vec<_>, _>>()?;
    let sphere_values = |u: &[f64]| -> Vec<f64> { locations.iter().map(|l| l.interpolate(&mesh, u)).collect() };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;

    // The unit-charge field is solved for the reference charge that gives 1 V at d in free space, so both
    // right-hand sides have similar size.
    let reference_charge = 4.0 * PI * eps * settings.calibration_distance_m;
    let region_coefficient = vec![sigma; mesh.region_names.len()];
    let case_conditions: Vec<BoundaryCondition> = mesh.boundary_names.iter().map(|n| case.condition_for(n)).collect();
    let zero_conditions = mesh
        .boundary_names
        .iter()
        .zip(&case_conditions)
        .map(|(name, c)| {
            homogeneous(c).ok_or_else(|| PaperError::Unsupported {
                reason: format!(
                    "boundary `{name}` has Butler-Volmer kinetics; the superposition of boundary values and charge \
                     needs linear conditions"
                ),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let gaussian = gaussian_source(center, settings.width_m, reference_charge * sigma / eps);
    let mut solve = |conditions: Vec<BoundaryCondition>, source: Option<&fem::Source>| {
        let problem = Problem {
            region_coefficient: region_coefficient.clone(),
            boundary_conditions: conditions,
            interface_resistance: Vec::new(),
            source,
        };
        let assembly = fem::assemble(&mesh, &problem)?;
        let (x, _) = context.solve_system(&assembly.matrix, &assembly.rhs)?;
        let u = assembly.expand(&x);
        let currents = fem::FluxRecovery::new(&mesh, &problem, &assembly).boundary_currents(&u);
        Ok::<_, PaperError>((u, currents))
    };
    let (u_boundary, currents_boundary) = solve(case_conditions, None)?;
    let (u_unit, currents_unit) = solve(zero_conditions, Some(&gaussian as &fem::Source))?;

    let scale = (target - mean(&sphere_values(&u_boundary))) / mean(&sphere_values(&u_unit));
    let potential: Vec<f64> = u_boundary.iter().zip(&u_unit).map(|(b, one)| b + scale * one).collect();
    let current_density = post::cell_current_density(&mesh, &region_coefficient, &potential);
    let on_sphere = sphere_values(&potential);
    let boundary_currents = mesh
        .boundary_names
        .iter()
        .zip(currents_boundary.iter().zip(&currents_unit))
        .map(|(name, (b, one))| BoundaryCurrent { name: name.clone(), current_a: b + scale * one })
        .collect();
    let current_a = current_into_ball(&mesh, &current_density, center, settings.calibration_distance_m);
    Ok(PaperModeResult {
        hotspot: hotspot.to_string(),
        center_m: center.into(),
        width_m: settings.width_m,
        calibration_distance_m: settings.calibration_distance_m,
        permittivity_F_per_m: eps,
        target_potential_V: target,
        charge_C: scale * reference_charge,
        potential_at_distance_V: mean(&on_sphere),
        potential_at_distance_min_V: on_sphere.iter().copied().fold(f64::INFINITY, f64::min),
        potential_at_distance_max_V: on_sphere.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        current_A: current_a,
        boundary_currents,
        nodes: mesh.nodes.len(),
        tets: mesh.tets.len(),
        field: std::sync::Arc::new(PaperField { mesh, potential, current_density }),
    })
}

fn hotspot_sphere(case: &Case, name: &str) -> Result<DVec3, PaperError> {
    let spot = case.hotspots().iter().find(|h| h.name == name).ok_or_else(|| PaperError::UnknownHotSpot {
        name: name.to_string(),
        known: case.hotspots().iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(", "),
    })?;
    match spot.shape {
        HotSpotShape::Sphere { center, .. } => Ok(center),
        HotSpotShape::Disk { .. } => Err(PaperError::NotASphere { name: name.to_string() }),
    }
}

fn check_settings(s: &PaperSettings) -> Result<(), PaperError> {
    let positive = |field, value: f64| {
        if value.is_finite() && value > 0.0 {
            Ok(())
        } else {
            Err(PaperError::BadSetting { field, value, reason: "must be a positive length".into() })
        }
    };
    positive("width_m", s.width_m)?;
    positive("calibration_distance_m", s.calibration_distance_m)?;
    if let Some(h) = s.h_center_m {
        positive("h_center_m", h)?;
    }
    if s.sphere_points < 6 {
        let reason = "need at least 6 points on the calibration sphere".into();
        return Err(PaperError::BadSetting { field: "sphere_points", value: s.sphere_points as f64, reason });
    }
    Ok(())
}

/// The same condition with its data set to zero (the unit-charge problem); None for a nonlinear condition.
fn homogeneous(c: &BoundaryCondition) -> Option<BoundaryCondition> {
    Some(match *c {
        BoundaryCondition::Dirichlet { .. } => BoundaryCondition::Dirichlet { potential: 0.0 },
        BoundaryCondition::Neumann { .. } | BoundaryCondition::Insulating => BoundaryCondition::Insulating,
        BoundaryCondition::Robin { resistance, .. } => {
            BoundaryCondition::Robin { resistance, electrode_potential: 0.0 }
        }
        BoundaryCondition::ButlerVolmer(_) => return None,
    })
}

/// The 3D Gaussian of total integral `total` (per unit volume) centred at `center` with width `width`.
pub fn gaussian_source(center: DVec3, width: f64, total: f64) -> impl Fn(DVec3) -> f64 + Sync {
    let peak = total / ((2.0 * PI).powf(1.5) * width.powi(3));
    move |x: DVec3| peak * (-(x - center).length_squared() / (2.0 * width * width)).exp()
}

/// `count` nearly uniform points on the sphere (Fibonacci lattice).
pub fn sphere_points(center: DVec3, radius: f64, count: usize) -> Vec<DVec3> {
    let golden_angle = PI * (3.0 - 5f64.sqrt());
    (0..count)
        .map(|k| {
            let z = 1.0 - 2.0 * (k as f64 + 0.5) / count as f64;
            let rho = (1.0 - z * z).sqrt();
            let phi = golden_angle * k as f64;
            center + radius * DVec3::new(rho * phi.cos(), rho * phi.sin(), z)
        })
        .collect()
}

/// The case's box (no hot spots) as a graded bisection mesh: size `h_center` at `center`, the case's
/// `h_interface` at z = 0, growing by (grading - 1) per unit distance up to `h_max`; the box faces tagged
/// as [`BOX_BOUNDARIES`], one region (the bulk electrolyte).
fn centred_box_mesh(case: &Case, geometry: &Geometry, center: DVec3, h_center: f64) -> Result<Mesh, PaperError> {
    let c = &case.mesh;
    let slope = c.grading - 1.0;
    let size = |x: DVec3| c.h_max.min(c.h_interface + slope * x.z).min(h_center + slope * (x - center).length());
    let hi = geometry.size;
    let hierarchy = refine_box(
        DVec3::ZERO,
        hi,
        c.h_max,
        &size,
        1,
        NodeBudget { limit: case.mesh.max_nodes, expected: 0 },
        &mut |_| {},
    )?;
    let tets: Vec<[u32; 4]> = hierarchy
        .finest()
        .tets
        .iter()
        .map(|&t| {
            let p = t.map(|v| hierarchy.nodes[v as usize]);
            if signed_volume(p[0], p[1], p[2], p[3]) < 0.0 {
                [t[0], t[1], t[3], t[2]]
            } else {
                t
            }
        })
        .collect();
    let mut mesh = Mesh {
        tet_region: vec![0; tets.len()],
        nodes: hierarchy.nodes,
        tets,
        region_names: vec![geometry.bulk_region.clone()],
        boundary_names: BOX_BOUNDARIES.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    // The mesher puts face nodes exactly on the box planes (bisection midpoints of face nodes stay there).
    mesh.boundary_faces = box_boundary_faces(&mesh, [0.0; 3], hi.to_array());
    Ok(mesh)
}

/// Current into the ball |x - c| <= radius (leaving the electrolyte there), as a consistent flux: with
/// psi the P1 function that is 1 on the nodes inside the ball and 0 elsewhere, the outward flux of the ball
/// is -integral J . grad psi (div J = f tested with psi), so the current into it is +integral J . grad psi.
fn current_into_ball(mesh: &Mesh, current_density: &[DVec3], center: DVec3, radius: f64) -> f64 {
    let inside: Vec<bool> = mesh.nodes.iter().map(|p| (*p - center).length() <= radius).collect();
    (0..mesh.tets.len())
        .filter(|&t| mesh.tets[t].iter().any(|&v| inside[v as usize]))
        .map(|t| {
            let (gradients, volume) = barycentric_gradients(mesh.tet_points(t));
            let grad_psi = mesh.tets[t]
                .iter()
                .zip(gradients)
                .filter(|(&v, _)| inside[v as usize])
                .fold(DVec3::ZERO, |acc, (_, g)| acc + g);
            volume.abs() * current_density[t].dot(grad_psi)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gaussian_integrates_to_its_total() {
        // Midpoint rule on a 12 w cube: the tails beyond 6 w are below 1e-7.
        let (w, total) = (2e-9, 3.0);
        let f = gaussian_source(DVec3::ZERO, w, total);
        let n = 60;
        let step = 12.0 * w / n as f64;
        let mut sum = 0.0;
        for i in 0..n {
            for j in 0..n {
                for k in 0..n {
                    let x = DVec3::new(i as f64 + 0.5, j as f64 + 0.5, k as f64 + 0.5) * step - DVec3::splat(6.0 * w);
                    sum += f(x) * step.powi(3);
                }
            }
        }
        assert!((sum - total).abs() < 1e-6 * total, "{sum}");
    }

    #[test]
    fn sphere_points_lie_on_the_sphere_and_balance() {
        let c = DVec3::new(1.0, 2.0, 3.0);
        let points = sphere_points(c, 0.5, 200);
        assert!(points.iter().all(|p| ((*p - c).length() - 0.5).abs() < 1e-12));
        let mean = points.iter().fold(DVec3::ZERO, |a, p| a + (*p - c)) / 200.0;
        assert!(mean.length() < 1e-2 * 0.5, "{mean:?}");
    }
}
