//! Step 6 of the walkthrough: the numbers a case's `[analysis]` asks for, computed from the solved field:
//! the lateral current through a cylinder around each hot spot's axis, and the
//! re-lithiation time of each depleted sphere hot spot (one solve per reaction step and radius increment), and
//! the paper's own Gaussian-charge model of each Dirichlet sphere hot spot next to it (paper mode), and the
//! current focusing and constriction resistance of the voids (insulating disk hot spots).
//!
//! Voids: the applied current density is the current through the interface plane z = 0 (the `interface`
//! boundary and every disk patch, from the consistent boundary currents) over the box's bottom area Lx Ly; with
//! a Neumann top of the same area it is the top's current density. The focusing factor is the mean current
//! density into the interface over the annulus a .. a + a/5 around the void over it (the rim is singular, the
//! annulus mean converges: [`crate::analysis::voids`]). The resistance of a case is (area-mean potential of the top face - the
//! interface's potential (Dirichlet) or electrode potential (Robin)) / the interface-plane current; the
//! constriction resistance is that of the case minus that of the same case (same mesh) with every void given
//! the interface's own condition, one extra solve.
//!
//! Sign convention of the paper (and of the cases in `meshes/`): the depleted region is held at +U above the
//! Li interface (0 V). The physical electrolyte potential there is -U (the region is a cathode to Li), so the
//! solved field is the mirror image phi -> -phi of the physical one: magnitudes are the same, and the Li+
//! current that re-lithiates the region is `-sign(U) x` the current leaving the electrolyte through it.

pub mod cylinder;
pub mod estimate;
pub mod lithiation;
pub mod locate;
pub mod paper;
pub mod voids;

use crate::case::{Case, CaseBoundary, CylinderSpec};
use crate::fem::BoundaryCondition;
use crate::mesh::geometry::{HotSpot, HotSpotShape};
use crate::mesh::Mesh;
use crate::study::{assemble_and_solve, SolverContext, StudyError};
use cylinder::{lateral_current, CurrentField, Cylinder, CylinderError, CylinderSampling, LateralCurrent};
use glam::DVec3;
use lithiation::{
    relithiation_steps, CurrentAt, DepletedRegion, LithiationError, LithiationStep, Phase, RadiusIntegration,
    RegionShape, SB_TO_LI3SB_STEPS,
};
use locate::PointLocator;
use paper::{run_paper_mode, PaperError, PaperModeResult, PaperSettings};
use serde::Serialize;
use voids::{mean_boundary_potential, InterfaceFaces, VoidError, VoidResult};

/// Anything that stops steps 2 to 6, typed by stage; the CLI prints it as one or two sentences.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error(transparent)]
    Study(#[from] StudyError),
    #[error(transparent)]
    Cylinder(#[from] CylinderError),
    #[error(transparent)]
    Lithiation(#[from] LithiationError),
    #[error(transparent)]
    Paper(#[from] PaperError),
    #[error(transparent)]
    Voids(#[from] VoidError),
    #[error(
        "adapt.max_nodes = {limit} is below the {estimate:.3e} nodes (estimated) of the case's own mesh, where the \
         adaptive loop starts; raise adapt.max_nodes, or coarsen the [mesh] sizes the loop starts from"
    )]
    AdaptStartTooLarge { estimate: f64, limit: usize },
}

/// The solved field of a case, as the analyses read it.
#[derive(Clone, Copy)]
pub struct SolvedField<'a> {
    pub mesh: &'a Mesh,
    /// Nodal potential (V).
    pub phi: &'a [f64],
    /// Current density per tet and recovered per node (A/m^2).
    pub cell_current: &'a [DVec3],
    pub node_current: &'a [DVec3],
    /// Current leaving the domain through each boundary tag (A).
    pub boundary_currents: &'a [f64],
    /// The consistent current leaving through each boundary face, held by its three nodes (A).
    pub face_outflows: &'a [[f64; 3]],
}

/// The lateral current through the cylinder around one hot spot's axis (or a mesh file's `cylinder_axis`,
/// named `axis`), over the depths z_min..z_max it was integrated on (m, mesh coordinates).
#[derive(Debug, Clone)]
pub struct CylinderResult {
    pub hotspot: String,
    pub lateral: LateralCurrent,
    pub z_min_m: f64,
    pub z_max_m: f64,
}

/// Everything `[analysis]` produced; empty lists when the case asks for nothing.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub cylinders: Vec<CylinderResult>,
    pub lithiation: Vec<LithiationStep>,
    pub paper_mode: Vec<PaperModeResult>,
    pub voids: Vec<VoidResult>,
}

/// One `cylinders` entry of summary.json.
#[allow(non_snake_case)] // the JSON keys carry their units
#[derive(Debug, Clone, Serialize)]
pub struct CylinderSummary {
    pub hotspot: String,
    pub radius_m: f64,
    pub lateral_current_A: f64,
    pub peak_depth_m: f64,
    pub z_min_m: f64,
    pub z_max_m: f64,
}

impl CylinderResult {
    pub fn summary(&self) -> CylinderSummary {
        CylinderSummary {
            hotspot: self.hotspot.clone(),
            radius_m: self.lateral.radius_m,
            lateral_current_A: self.lateral.lateral_current_A,
            peak_depth_m: self.lateral.peak_depth_m,
            z_min_m: self.z_min_m,
            z_max_m: self.z_max_m,
        }
    }
}

/// Where a cylinder goes: its name (the hot spot's, or `axis`), its axis (x, y) and the height of the plane its
/// depths start from (m).
struct Placement {
    name: String,
    axis: (f64, f64),
    plane_z: f64,
}

/// The cylinders a case asks for. A generated case has
/// one per hot spot from z = 0; a mesh file one around `cylinder_axis` from the plane of `cylinder_plane`.
fn cylinder_placements(case: &Case, mesh: &Mesh, spec: &CylinderSpec) -> Result<Vec<Placement>, AnalysisError> {
    let (Some(axis), Some(plane)) = (spec.axis, &spec.plane) else {
        let on_hot_spot = |spot: &HotSpot| Placement { name: spot.name.clone(), axis: spot.shape.axis(), plane_z: 0.0 };
        return Ok(case.hotspots().iter().map(on_hot_spot).collect());
    };
    let at = spec.plane_at.as_deref().map_or(String::new(), |at| format!("{at}: "));
    let invalid = |reason: String| CylinderError::Invalid {
        radius_m: spec.radius,
        center_x: axis.0,
        center_y: axis.1,
        reason: format!("{at}{reason}"),
    };
    let tag = mesh.boundary_tag(plane).ok_or_else(|| {
        invalid(format!(
            "analysis.cylinder_plane: the mesh has no boundary `{plane}`; its boundaries: {}",
            mesh.boundary_names.join(", ")
        ))
    })?;
    let points =
        mesh.boundary_faces.iter().filter(|f| f.tag == tag).flat_map(|f| f.nodes).map(|n| mesh.nodes[n as usize]);
    let (low, high) = crate::mesh::bounding_box(points);
    let (low, high) = (low.z, high.z);
    let (lo, hi) = mesh.bounds();
    if high - low > 1e-9 * (hi.z - lo.z) {
        return Err(invalid(format!(
            "analysis.cylinder_plane: boundary `{plane}` is not a horizontal plane (its z spans {low:.6e} .. {high:.6e} m)"
        ))
        .into());
    }
    Ok(vec![Placement { name: "axis".to_string(), axis, plane_z: low }])
}

/// Runs the case's `[analysis]` on a solved case. `context` re-solves variants of the case (lithiation steps, paper mode, the voids' reference).
pub fn analyse(case: &Case, field: SolvedField, context: &mut SolverContext) -> Result<Analysis, AnalysisError> {
    let mut analysis = Analysis::default();
    if let Some(spec) = &case.analysis.cylinder {
        let locator = PointLocator::new(field.mesh);
        let top = field.mesh.bounds().1.z;
        for Placement { name, axis: (center_x, center_y), plane_z } in cylinder_placements(case, field.mesh, spec)? {
            let (z_min, z_max) = (plane_z + spec.z_min, (plane_z + spec.z_max).min(top));
            let cylinder = Cylinder { center_x, center_y, radius: spec.radius, z_min, z_max };
            // The recovered nodal J: see the module notes of science::cylinder for why not the per-tet one.
            let current = CurrentField::Nodal(field.node_current);
            let lateral = lateral_current(&locator, current, &cylinder, &CylinderSampling::default())?;
            analysis.cylinders.push(CylinderResult { hotspot: name, lateral, z_min_m: z_min, z_max_m: z_max });
        }
    }
    if let Some(width_m) = case.analysis.paper_width {
        let settings = PaperSettings { width_m, ..PaperSettings::default() };
        if !case.hotspots().iter().any(|s| matches!(s.shape, HotSpotShape::Sphere { .. })) {
            let reason = "analysis.paper_mode needs a sphere hot spot (the Gaussian charge replaces it)".into();
            return Err(PaperError::Unsupported { reason }.into());
        }
        for spot in case.hotspots() {
            let HotSpotShape::Sphere { radius, .. } = spot.shape else { continue };
            // The paper calibrates the Gaussian at the depleted region's radius (10 nm).
            let settings = PaperSettings { calibration_distance_m: radius, ..settings };
            analysis.paper_mode.push(run_paper_mode(case, &spot.name, &settings, context)?);
        }
    }
    if let Some(increments) = case.analysis.lithiation_increments {
        for (spot, potential) in depleted_regions(case, field.mesh) {
            let HotSpotShape::Sphere { radius, .. } = spot.shape else { continue };
            analysis.lithiation.extend(lithiate(case, field, context, &spot, radius, potential, increments)?);
        }
    }
    if case.analysis.voids {
        analysis.voids = analyse_voids(case, field, context)?;
    }
    Ok(analysis)
}

/// The depleted regions to re-lithiate and their potentials: every sphere hot spot at a Dirichlet potential,
/// or on a mesh file every Dirichlet boundary that closes around a hole, as the sphere of the hole's volume
/// (the single-solve estimate needs only the volume: Eq. 19).
fn depleted_regions(case: &Case, mesh: &Mesh) -> Vec<(HotSpot, f64)> {
    let dirichlet = |name: &str| match case.condition_for(name) {
        BoundaryCondition::Dirichlet { potential } => Some(potential),
        _ => None,
    };
    if case.mesh_file().is_none() {
        let spheres = case.hotspots().iter().filter(|s| matches!(s.shape, HotSpotShape::Sphere { .. }));
        return spheres.filter_map(|s| dirichlet(&s.name).map(|u| (s.clone(), u))).collect();
    }
    (0..mesh.boundary_names.len() as u16)
        .filter_map(|tag| {
            let name = &mesh.boundary_names[tag as usize];
            let potential = dirichlet(name)?;
            let volume = mesh.hole_volume(tag)?;
            let radius = (3.0 * volume / (4.0 * std::f64::consts::PI)).cbrt();
            let shape = HotSpotShape::Sphere { center: DVec3::ZERO, radius };
            Some((HotSpot { name: name.clone(), group: name.clone(), shape }, potential))
        })
        .collect()
}

/// A void: a disk hot spot whose condition (its own, its group's or the default) is insulating.
fn is_void(case: &Case, spot: &HotSpot) -> bool {
    matches!(spot.shape, HotSpotShape::Disk { .. }) && case.condition_for(&spot.name) == BoundaryCondition::Insulating
}

/// Focusing factor of each void and the constriction resistance of all of them (one reference solve).
fn analyse_voids(
    case: &Case,
    field: SolvedField,
    context: &mut SolverContext,
) -> Result<Vec<VoidResult>, AnalysisError> {
    let voids: Vec<&HotSpot> = case.hotspots().iter().filter(|s| is_void(case, s)).collect();
    if voids.is_empty() {
        return Ok(Vec::new());
    }
    let interface = case.boundaries.get("interface").ok_or(VoidError::NoBox { missing: "interface entry" })?;
    let mesh = field.mesh;
    let current = interface_plane_current(case, mesh, field.boundary_currents);
    if current == 0.0 {
        return Err(VoidError::NoCurrent.into());
    }
    let resistance = top_to_interface_resistance(case, mesh, field.phi, current)?;

    // The reference differs only in boundary conditions: the same mesh serves.
    let mut reference = case.clone();
    for void in &voids {
        reference.boundaries.insert(void.name.clone(), interface.clone());
    }
    let solved = assemble_and_solve(&reference, mesh, context)?;
    let reference_current = interface_plane_current(&reference, mesh, &solved.recovery.boundary_currents(&solved.phi));
    let reference_resistance = top_to_interface_resistance(&reference, mesh, &solved.phi, reference_current)?;

    let size = case.geometry().ok_or(VoidError::NoBox { missing: "generated box" })?.size;
    let applied = current / (size.x * size.y);
    let tag = field.mesh.boundary_tag("interface").ok_or(VoidError::NoBox { missing: "interface boundary" })?;
    let interface_faces = InterfaceFaces::new(field.mesh, field.face_outflows, tag);
    voids
        .into_iter()
        .filter_map(|void| match void.shape {
            HotSpotShape::Disk { center_x, center_y, radius } => Some((void, center_x, center_y, radius)),
            HotSpotShape::Sphere { .. } => None,
        })
        .map(|(void, center_x, center_y, radius)| {
            let width = voids::RIM_WIDTH_IN_RADII * radius;
            let rim = interface_faces
                .rim_mean(center_x, center_y, radius, width)
                .ok_or_else(|| VoidError::NoInterfaceNear { hotspot: void.name.clone() })?;
            Ok(VoidResult {
                hotspot: void.name.clone(),
                radius_m: radius,
                applied_current_density_A_per_m2: applied,
                rim_width_m: width,
                rim_current_density_A_per_m2: rim,
                focusing_factor: rim / applied,
                resistance_Ohm: resistance,
                reference_resistance_Ohm: reference_resistance,
                constriction_resistance_Ohm: resistance - reference_resistance,
            })
        })
        .collect()
}

/// The current leaving through the interface plane z = 0: the `interface` boundary and every disk patch.
fn interface_plane_current(case: &Case, mesh: &Mesh, boundary_currents: &[f64]) -> f64 {
    let disks = case.hotspots().iter().filter(|s| matches!(s.shape, HotSpotShape::Disk { .. }));
    std::iter::once("interface")
        .chain(disks.map(|s| s.name.as_str()))
        .filter_map(|name| mesh.boundary_tag(name))
        .map(|tag| boundary_currents[tag as usize])
        .sum()
}

/// (area-mean potential of the top face - the interface's potential) / `current`.
fn top_to_interface_resistance(case: &Case, mesh: &Mesh, phi: &[f64], current: f64) -> Result<f64, VoidError> {
    let interface_potential = match case.condition_for("interface") {
        BoundaryCondition::Dirichlet { potential } => potential,
        BoundaryCondition::Robin { electrode_potential, .. } => electrode_potential,
        _ => return Err(VoidError::NoBox { missing: "dirichlet or robin interface" }),
    };
    let top = mesh.boundary_tag("top").ok_or(VoidError::NoBox { missing: "top boundary" })?;
    Ok((mean_boundary_potential(mesh, phi, top) - interface_potential) / current)
}

/// Re-lithiation of one depleted Sb sphere through the paper's two steps. One increment is the paper's
/// single-solve estimate; more increments shrink the radius quasi-statically (midpoint rule).
#[allow(clippy::too_many_arguments)]
fn lithiate(
    case: &Case,
    field: SolvedField,
    context: &mut SolverContext,
    spot: &HotSpot,
    radius: f64,
    potential: f64,
    increments: usize,
) -> Result<Vec<LithiationStep>, AnalysisError> {
    let region = DepletedRegion { shape: RegionShape::Sphere, radius, phase: Phase::sb() };
    let integration = if increments == 1 {
        RadiusIntegration::SINGLE_SOLVE
    } else {
        RadiusIntegration { increments, current_at: CurrentAt::Midpoint }
    };
    let sign = if potential < 0.0 { -1.0 } else { 1.0 };
    let no_boundary = || LithiationError::InvalidRegion {
        hotspot: spot.name.clone(),
        reason: "it has no boundary entry with a potential on this mesh".into(),
    };
    let tag = field.mesh.boundary_tag(&spot.name).ok_or_else(no_boundary)? as usize;
    let boundary = case.boundary_for(spot).ok_or_else(no_boundary)?;
    relithiation_steps(&spot.name, &region, &SB_TO_LI3SB_STEPS, integration, |step_radius, step_potential| {
        let leaving = if step_radius == radius && sign * step_potential == potential {
            field.boundary_currents[tag]
        } else if step_radius == radius {
            // Another potential on the same geometry: the case's own mesh serves.
            let variant = shrunk_case(case, spot, boundary, radius, step_radius, sign * step_potential);
            let solved = assemble_and_solve(&variant, field.mesh, context)?;
            solved.recovery.boundary_currents(&solved.phi)[tag]
        } else {
            let variant = shrunk_case(case, spot, boundary, radius, step_radius, sign * step_potential);
            // Its mesh numbers the boundaries as the case's: the box faces, then the hot spots in order.
            crate::study::boundary_currents(&variant, context)?[tag]
        };
        Ok(-sign * leaving)
    })
}

/// The case with one hot spot at a smaller radius and another potential, nothing else to analyse, and
/// h_min scaled with the radius so the smaller sphere is resolved as well as the original.
fn shrunk_case(
    case: &Case,
    spot: &HotSpot,
    boundary: &CaseBoundary,
    radius: f64,
    new_radius: f64,
    potential: f64,
) -> Case {
    let mut variant = case.clone();
    variant.analysis = Default::default();
    for other in variant.geometry_mut().into_iter().flat_map(|g| &mut g.hotspots) {
        if other.name == spot.name {
            if let HotSpotShape::Sphere { radius: r, .. } = &mut other.shape {
                *r = new_radius;
            }
        }
    }
    variant.mesh.h_min = case.mesh.h_min * (new_radius / radius).min(1.0);
    let mut boundary = boundary.clone();
    boundary.condition = BoundaryCondition::Dirichlet { potential };
    variant.boundaries.insert(spot.name.clone(), boundary);
    variant
}
