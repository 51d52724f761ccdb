//! Time to re-lithiate a Li-depleted hot spot by the lateral current (paper 001, Eqs. 19-23).
//!
//! The depleted region holds n_Sb moles of Sb (Eq. 19: volume x density / molar mass). It takes up
//! Li in two steps, each driven by the redox potential U of that step against the Li-covered
//! surroundings: Sb -> Li2Sb (2 Li per Sb, U = 0.90 V) then Li2Sb -> Li3Sb (1 Li per Sb, U = 0.85 V)
//! (Eqs. 20-21). A step needs the charge Q = (Li per Sb) n_Sb F and lasts t = Q / I, with I the
//! lateral current into the region at that step's potential (Eqs. 22-23).
//!
//! The paper solves once, at the full radius. Quasi-statically, the region still to be converted
//! shrinks as the step proceeds, and with it the current: t = integral of dQ / I(r). This module
//! integrates that over the radius with a caller-given `current(radius, potential)` (which may mesh
//! and solve per radius); one increment with the current at the start radius is the paper's estimate.

use serde::Serialize;

/// Faraday constant, C/mol (CODATA 2018, exact).
pub const FARADAY_C_PER_MOL: f64 = 96485.33212;

/// A solid phase that holds one Sb per formula unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    pub name: &'static str,
    pub density_kg_per_m3: f64,
    pub molar_mass_kg_per_mol: f64,
}

/// Molar masses, kg/mol (IUPAC standard atomic weights).
const LI_MOLAR_MASS: f64 = 6.941e-3;
const SB_MOLAR_MASS: f64 = 121.76e-3;
const AVOGADRO_PER_MOL: f64 = 6.022_140_76e23;

impl Phase {
    /// Sb, density 6.697 g/cm^3 and molar mass 121.76 g/mol as used by paper 001 (Eq. 19).
    pub fn sb() -> Phase {
        Phase { name: "Sb", density_kg_per_m3: 6697.0, molar_mass_kg_per_mol: SB_MOLAR_MASS }
    }

    /// Li3Sb, the lithiated interlayer. The paper gives no density; it follows from the cubic (BiF3
    /// type, Fm-3m) cell with a = 6.572 Angstrom and 4 formula units: rho = 4 M / (N_A a^3) = 3.336 g/cm^3.
    pub fn li3sb() -> Phase {
        let molar_mass = 3.0 * LI_MOLAR_MASS + SB_MOLAR_MASS;
        let cell_volume_m3 = 6.572e-10_f64.powi(3);
        Phase {
            name: "Li3Sb",
            density_kg_per_m3: 4.0 * molar_mass / (AVOGADRO_PER_MOL * cell_volume_m3),
            molar_mass_kg_per_mol: molar_mass,
        }
    }

    /// The library phase of that name ("Sb" or "Li3Sb").
    pub fn by_name(name: &str) -> Option<Phase> {
        [Phase::sb(), Phase::li3sb()].into_iter().find(|p| p.name == name)
    }

    /// Moles of Sb in one cubic metre of the phase.
    pub fn sb_mol_per_m3(&self) -> f64 {
        self.density_kg_per_m3 / self.molar_mass_kg_per_mol
    }
}

/// Shape of a depleted region, which fixes how its volume shrinks with its radius.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RegionShape {
    /// A sphere of the given radius (the paper's 10 nm Sb sphere): volume ~ r^3.
    Sphere,
    /// A disk-shaped patch of an interlayer of fixed thickness (metres): volume ~ r^2.
    Disk { thickness: f64 },
}

/// A depleted region: shape, radius (metres) and the phase in which its volume is measured (Sb for
/// a fully delithiated sphere; Li3Sb for a patch measured in the Li3Sb interlayer it came from).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DepletedRegion {
    pub shape: RegionShape,
    pub radius: f64,
    pub phase: Phase,
}

impl DepletedRegion {
    /// Volume (m^3) of the region when its radius is `radius`.
    pub fn volume_at(&self, radius: f64) -> f64 {
        match self.shape {
            RegionShape::Sphere => 4.0 / 3.0 * std::f64::consts::PI * radius.powi(3),
            RegionShape::Disk { thickness } => std::f64::consts::PI * radius * radius * thickness,
        }
    }

    /// Moles of Sb in the region (Eq. 19).
    pub fn moles_sb(&self) -> f64 {
        self.volume_at(self.radius) * self.phase.sb_mol_per_m3()
    }

    fn validate(&self, hotspot: &str) -> Result<(), LithiationError> {
        let invalid = |reason: String| LithiationError::InvalidRegion { hotspot: hotspot.to_string(), reason };
        if !(self.radius.is_finite() && self.radius > 0.0) {
            return Err(invalid(format!("radius {} m is not a positive number", self.radius)));
        }
        if let RegionShape::Disk { thickness } = self.shape {
            if !(thickness.is_finite() && thickness > 0.0) {
                return Err(invalid(format!("disk thickness {thickness} m is not a positive number")));
            }
        }
        if !(self.phase.sb_mol_per_m3().is_finite() && self.phase.sb_mol_per_m3() > 0.0) {
            return Err(invalid(format!("phase {} has no positive Sb content per volume", self.phase.name)));
        }
        Ok(())
    }
}

/// One lithiation step: Li taken up per Sb and the redox potential (V vs Li+/Li) that drives it.
#[allow(non_snake_case)] // potential_V: the unit is part of the name
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReactionStep {
    pub name: &'static str,
    pub li_per_sb: f64,
    pub potential_V: f64,
}

/// The paper's two steps (Eqs. 20-23), in the order they happen.
pub const SB_TO_LI3SB_STEPS: [ReactionStep; 2] = [
    ReactionStep { name: "Sb->Li2Sb", li_per_sb: 2.0, potential_V: 0.90 },
    ReactionStep { name: "Li2Sb->Li3Sb", li_per_sb: 1.0, potential_V: 0.85 },
];

/// Charge (C) that `step` needs to convert the whole region.
pub fn step_charge(region: &DepletedRegion, step: &ReactionStep) -> f64 {
    step.li_per_sb * region.moles_sb() * FARADAY_C_PER_MOL
}

/// Where in a radius increment the current is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurrentAt {
    /// The radius at the start of the increment (solve, then lithiate): first order in 1/increments;
    /// one increment is exactly the paper's single-solve estimate Q / I(r0).
    Start,
    /// The middle radius of the increment, and within the increment the current taken proportional to the
    /// radius, I(r) = I(r_mid) r / r_mid, as for a small sphere or a disk electrode far from walls: then
    /// dQ / I integrates in closed form, the rule is exact whenever I ~ r (any number of increments) and
    /// second order otherwise.
    Midpoint,
}

/// How the time integral over the shrinking radius is taken: `increments` equal radius steps from
/// the full radius down to zero, the current of each taken where `current_at` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RadiusIntegration {
    pub increments: usize,
    pub current_at: CurrentAt,
}

impl RadiusIntegration {
    /// The paper's estimate: one solve at the full radius.
    pub const SINGLE_SOLVE: RadiusIntegration = RadiusIntegration { increments: 1, current_at: CurrentAt::Start };
}

/// The result for one hot spot and one step (JSON keys are the field names).
#[allow(non_snake_case)] // field names are the JSON keys, units included
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LithiationStep {
    pub hotspot: String,
    pub step: String,
    /// The depleted region's volume at the start (a sphere's; a mesh file's hole as enclosed by its surface).
    pub volume_m3: f64,
    pub potential_V: f64,
    pub charge_C: f64,
    /// The current that converts the charge in the time: charge_C / time_s (for one increment, the
    /// solved current itself; quasi-statically, the time-weighted mean).
    pub current_A: f64,
    pub time_s: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LithiationError {
    #[error("depleted region of hot spot `{hotspot}`: {reason}")]
    InvalidRegion { hotspot: String, reason: String },
    #[error("re-lithiation of hot spot `{hotspot}` needs at least one radius increment")]
    NoIncrements { hotspot: String },
    #[error(
        "hot spot `{hotspot}`, step {step}: the current into the region at radius {radius_m:.3e} m is \
         {current_a:.3e} A; it must be positive for the region to re-lithiate"
    )]
    NoInflow { hotspot: String, step: String, radius_m: f64, current_a: f64 },
}

/// Re-lithiation time of `region` (hot spot `hotspot`) through each of `steps`, in order.
/// `current(radius_m, potential_V)` is the current (A) flowing into the region when its radius is
/// `radius_m` and it sits at `potential_V`; it is called `integration.increments` times per step
/// (never at radius zero) and may fail with the caller's error type.
pub fn relithiation_steps<E: From<LithiationError>>(
    hotspot: &str,
    region: &DepletedRegion,
    steps: &[ReactionStep],
    integration: RadiusIntegration,
    mut current: impl FnMut(f64, f64) -> Result<f64, E>,
) -> Result<Vec<LithiationStep>, E> {
    region.validate(hotspot)?;
    if integration.increments == 0 {
        return Err(LithiationError::NoIncrements { hotspot: hotspot.to_string() }.into());
    }
    let exponent = match region.shape {
        RegionShape::Sphere => 3,
        RegionShape::Disk { .. } => 2,
    };
    // Fraction of the region's charge still to go when its radius is `radius`.
    let remaining = |radius: f64| (radius / region.radius).powi(exponent);
    let n = integration.increments;
    let radius_at = |k: usize| region.radius * (n - k) as f64 / n as f64;

    let mut results = Vec::with_capacity(steps.len());
    for step in steps {
        let charge = step_charge(region, step);
        let mut time = 0.0;
        for k in 0..n {
            let (outer, inner) = (radius_at(k), radius_at(k + 1));
            let radius = match integration.current_at {
                CurrentAt::Start => outer,
                CurrentAt::Midpoint => 0.5 * (outer + inner),
            };
            let inflow = current(radius, step.potential_V)?;
            if !(inflow.is_finite() && inflow > 0.0) {
                return Err(LithiationError::NoInflow {
                    hotspot: hotspot.to_string(),
                    step: step.name.to_string(),
                    radius_m: radius,
                    current_a: inflow,
                }
                .into());
            }
            let converted = match integration.current_at {
                CurrentAt::Start => remaining(outer) - remaining(inner),
                // integral of d(remaining)/dr x r_mid / r over the increment, for remaining = (r / r0)^p.
                CurrentAt::Midpoint => {
                    let p = exponent as f64;
                    let scaled = |r: f64| (r / region.radius).powi(exponent - 1);
                    p / (p - 1.0) * (scaled(outer) - scaled(inner)) * radius / region.radius
                }
            };
            time += charge * converted / inflow;
        }
        results.push(LithiationStep {
            hotspot: hotspot.to_string(),
            step: step.name.to_string(),
            volume_m3: region.volume_at(region.radius),
            potential_V: step.potential_V,
            charge_C: charge,
            current_A: charge / time,
            time_s: time,
        });
    }
    Ok(results)
}
