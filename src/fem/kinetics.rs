//! Butler-Volmer kinetics on electrode surfaces (ARCHITECTURE.md, "Electrode kinetics"): the law, its face terms,
//! and the Newton linearization of an assembled system on a fixed pattern.
//!
//! Sign convention (DESIGN section 6): eta = phi_s - phi - E_eq, and the current density leaving the electrolyte is
//! j_out = i0 [exp(-alpha_c eta / V_T) - exp(alpha_a eta / V_T)], V_T = R T / F. Large i0 pins phi to phi_s - E_eq
//! (today's Dirichlet condition); small eta gives j_out = (phi - (phi_s - E_eq)) / R_ct, today's Robin condition
//! with R_ct = V_T / (i0 (alpha_a + alpha_c)). A film resistance R_f in series sees the same current, so the
//! reaction is driven by eta + R_f j_out (the film takes R_f j_out of the drop), solved per point.
//!
//! The face term integral j_out(phi_h) v dS uses the edge-midpoint rule (exact for quadratics): with a constant
//! dj/dphi its Jacobian is the consistent face mass, the Robin condition's, and for any positive dj/dphi it is a
//! weighted mass matrix, symmetric positive definite. So each Newton step is an SPD system of Robin shape.

use super::{Assembly, BoundaryCondition};
use crate::mesh::Mesh;
use crate::solver::sparse::PAR_MIN_LEN;
use crate::solver::vector::norm;
use rayon::prelude::*;

/// Butler-Volmer kinetics of one electrode surface (SI units).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kinetics {
    /// i0 (A/m^2), > 0.
    pub exchange_current_density: f64,
    /// alpha_a and alpha_c, each in (0, 1].
    pub alpha_anodic: f64,
    pub alpha_cathodic: f64,
    /// E_eq of the reaction (V vs Li+/Li).
    pub equilibrium_potential: f64,
    /// phi_s, the electrode's potential (V).
    pub electrode_potential: f64,
    /// R_f in series (Ohm m^2); 0 for none.
    pub film_resistance: f64,
    /// R T / F (V).
    pub thermal_voltage: f64,
}

/// Exponents are capped here so that a far-off Newton iterate overflows to a large finite number, never to
/// infinity (exp(600) ~ 4e260); a converged solution never comes near it (its currents would be as large).
pub const EXPONENT_CAP: f64 = 600.0;

impl Kinetics {
    /// The electrolyte potential at which no current flows: phi_s - E_eq (V).
    pub fn rest_potential(&self) -> f64 {
        self.electrode_potential - self.equilibrium_potential
    }

    /// The overpotential eta = phi_s - phi - E_eq at electrolyte potential `phi` (V): the film's drop included.
    pub fn overpotential(&self, phi: f64) -> f64 {
        self.rest_potential() - phi
    }

    /// The charge-transfer resistance of the linear limit, V_T / (i0 (alpha_a + alpha_c)) (Ohm m^2).
    pub fn charge_transfer_resistance(&self) -> f64 {
        self.thermal_voltage / (self.exchange_current_density * (self.alpha_anodic + self.alpha_cathodic))
    }

    /// The bare reaction's current density leaving the electrolyte at overpotential `eta`, and its derivative in
    /// eta (< 0).
    fn reaction(&self, eta: f64) -> (f64, f64) {
        let (ca, cc) = (self.alpha_anodic / self.thermal_voltage, self.alpha_cathodic / self.thermal_voltage);
        let cathodic = (-cc * eta).min(EXPONENT_CAP).exp();
        let anodic = (ca * eta).min(EXPONENT_CAP).exp();
        let i0 = self.exchange_current_density;
        (i0 * (cathodic - anodic), -i0 * (cc * cathodic + ca * anodic))
    }

    /// The current density leaving the electrolyte at electrolyte potential `phi` (A/m^2) and its derivative in
    /// phi (A/(m^2 V), > 0). With a film, j solves j = reaction(eta + R_f j): g(j) = j - reaction(eta + R_f j)
    /// increases with j, and its root lies between 0 and reaction(eta) (the film only lowers the current), within
    /// |eta| / R_f; Newton's method kept inside that bracket (bisection when it leaves it).
    pub fn outflow(&self, phi: f64) -> (f64, f64) {
        let eta = self.overpotential(phi);
        let rf = self.film_resistance;
        if rf == 0.0 {
            let (j, slope) = self.reaction(eta);
            return (j, -slope);
        }
        let (bare, _) = self.reaction(eta);
        let cap = bare.abs().min(eta.abs() / rf);
        let (mut low, mut high) = if bare >= 0.0 { (0.0, cap) } else { (-cap, 0.0) };
        let mut j = 0.5 * (low + high);
        for _ in 0..200 {
            let (reaction, slope) = self.reaction(eta + rf * j);
            let g = j - reaction;
            // Within round-off of the exponentials (a few eps times the argument): j is the root.
            if g.abs() <= 1e-14 * j.abs() || high - low <= 4.0 * f64::EPSILON * high.abs().max(low.abs()) {
                break;
            }
            if g > 0.0 {
                high = j;
            } else {
                low = j;
            }
            let newton = j - g / (1.0 - rf * slope);
            j = if newton > low && newton < high { newton } else { 0.5 * (low + high) };
        }
        let (_, slope) = self.reaction(eta + rf * j);
        // dj/deta = slope (1 + R_f dj/deta) => dj/deta = slope / (1 - R_f slope); dj/dphi = -dj/deta.
        (j, -slope / (1.0 - rf * slope))
    }
}

impl Kinetics {
    /// The electrolyte potentials (low, high) at which j_out = -`limit` and +`limit` (A/m^2, > 0): j_out rises with
    /// phi, so between them |j_out| <= limit. Bisection over +-1e4 V around rest (the case's potential bound).
    fn band(&self, limit: f64) -> (f64, f64) {
        let rest = self.rest_potential();
        let solve_for = |target: f64| {
            let (mut low, mut high) = (rest - 1e4, rest + 1e4);
            for _ in 0..200 {
                let mid = 0.5 * (low + high);
                if self.outflow(mid).0 < target {
                    low = mid;
                } else {
                    high = mid;
                }
            }
            0.5 * (low + high)
        };
        (solve_for(-limit), solve_for(limit))
    }
}

/// The triangle's edges as corner pairs, the edge-midpoint rule's points.
pub(super) const EDGES: [(usize, usize); 3] = [(0, 1), (1, 2), (2, 0)];

/// The potential at each edge midpoint (in [`EDGES`] order) of a face with corner potentials `phi`: where the
/// assembly, the post-processing and the error estimates all evaluate the kinetics.
pub(super) fn midpoint_potentials(phi: [f64; 3]) -> [f64; 3] {
    EDGES.map(|(a, b)| 0.5 * (phi[a] + phi[b]))
}

/// The face's kinetic outflow held by each corner, integral j_out(phi_h) N_a dS (A), and its Jacobian in the corner
/// potentials (A/V), by the edge-midpoint rule (weights area / 3, N = 1/2 at the edge's two corners).
pub(crate) fn face_terms(kinetics: &Kinetics, area: f64, phi: [f64; 3]) -> ([f64; 3], [[f64; 3]; 3]) {
    let (mut outflow, mut jacobian) = ([0.0; 3], [[0.0; 3]; 3]);
    for ((a, b), phi_mid) in EDGES.into_iter().zip(midpoint_potentials(phi)) {
        let (j, slope) = kinetics.outflow(phi_mid);
        let weight = area / 3.0;
        outflow[a] += weight * j / 2.0;
        outflow[b] += weight * j / 2.0;
        for (p, q) in [(a, a), (a, b), (b, a), (b, b)] {
            jacobian[p][q] += weight * slope / 4.0;
        }
    }
    (outflow, jacobian)
}

/// What the Newton linearization of an assembly needs: the matrix entries the kinetic faces touch and their values
/// without kinetics (the base: volume, Robin and interface terms), restored before each refill.
#[derive(Debug, Clone, Default)]
pub(super) struct KineticEntries {
    /// Per kinetic face (index into the boundary faces): the position in the matrix values of each (row, column)
    /// corner pair, `NO_ENTRY` where either corner is a Dirichlet node.
    faces: Vec<(u32, [[usize; 3]; 3])>,
    /// Every touched position and its base value, and whether the matrix now holds base + Jacobian.
    base: Vec<(usize, f64)>,
    linearized: bool,
    /// The Jacobian's couplings of free rows to Dirichlet nodes at the last linearization, (row, index into the
    /// Dirichlet nodes, value): the columns a dual problem lifts (`Assembly::dual_system`).
    pub(super) dirichlet_coupling: Vec<(u32, u32, f64)>,
}

const NO_ENTRY: usize = usize::MAX;

/// The nonlinear residual of a kinetic system at an iterate.
pub struct KineticResidual {
    /// r = b - A x - q(phi) at the free rows (A), A the matrix without kinetics and q the kinetic outflows.
    pub residual: Vec<f64>,
    /// ||r|| and the scale it is measured against, ||b|| + ||q|| (A).
    pub norm: f64,
    pub scale: f64,
    /// || |A| |x| + |b| + |q| || (A): the size of the terms r is the sum of, whose round-off bounds how small ||r||
    /// can get (a large potential offset makes A x a cancellation of large terms).
    pub terms: f64,
    /// The current leaving the electrolyte through each boundary tag's kinetic faces (A; 0 for other tags).
    pub kinetic_currents: Vec<f64>,
}

impl Assembly {
    /// Whether some boundary has Butler-Volmer kinetics (its solve is then Newton's method).
    pub fn has_kinetics(&self) -> bool {
        self.boundaries.conditions.iter().any(|c| matches!(c, BoundaryCondition::ButlerVolmer(_)))
    }

    /// The kinetic faces' matrix positions and base values (called once by the assembly, matrix at its base); `column_of`
    /// gives a node's column, None for a Dirichlet node.
    pub(super) fn find_kinetic_entries(&mut self, column_of: impl Fn(u32) -> Option<u32>) {
        let mut faces = Vec::new();
        let mut positions = Vec::new();
        for (f, face) in self.boundaries.faces.iter().enumerate() {
            if !matches!(self.boundaries.conditions[face.tag as usize], BoundaryCondition::ButlerVolmer(_)) {
                continue;
            }
            let slots = std::array::from_fn(|a| {
                std::array::from_fn(|b| {
                    let (Some(row), Some(col)) = (column_of(face.nodes[a]), column_of(face.nodes[b])) else {
                        return NO_ENTRY;
                    };
                    let start = self.matrix.row_ptr[row as usize];
                    let cols = &self.matrix.col_idx[start..self.matrix.row_ptr[row as usize + 1]];
                    let position = start + cols.binary_search(&col).expect("face node pairs are tet edges");
                    positions.push(position);
                    position
                })
            });
            faces.push((f as u32, slots));
        }
        positions.sort_unstable();
        positions.dedup();
        let base = positions.into_iter().map(|p| (p, self.matrix.values[p])).collect();
        self.kinetics = KineticEntries { faces, base, linearized: false, dirichlet_coupling: Vec::new() };
    }

    /// The matrix back to its values without kinetics.
    pub fn restore_base(&mut self) {
        for &(position, value) in &self.kinetics.base {
            self.matrix.values[position] = value;
        }
        self.kinetics.linearized = false;
    }

    /// The nonlinear residual at the unknowns' values `x` (the matrix at its base: [`Assembly::restore_base`]).
    pub fn kinetic_residual(&self, x: &[f64]) -> KineticResidual {
        assert!(!self.kinetics.linearized, "the residual needs the matrix without the Jacobian");
        let phi = self.expand(x);
        let mut residual = vec![0.0; x.len()];
        self.matrix.residual(&self.rhs, x, &mut residual);
        let mut terms: Vec<f64> = (0..x.len())
            .into_par_iter()
            .with_min_len(PAR_MIN_LEN)
            .map(|i| {
                let (cols, values) = self.matrix.row(i);
                cols.iter().zip(values).map(|(&c, v)| (v * x[c as usize]).abs()).sum::<f64>() + self.rhs[i].abs()
            })
            .collect();
        let mut outflow = vec![0.0; x.len()];
        let mut kinetic_currents = vec![0.0; self.boundaries.conditions.len()];
        for &(f, _) in &self.kinetics.faces {
            let face = &self.boundaries.faces[f as usize];
            let BoundaryCondition::ButlerVolmer(kinetics) = self.boundaries.conditions[face.tag as usize] else {
                unreachable!("kinetic faces carry kinetics")
            };
            let (q, _) = face_terms(&kinetics, self.boundaries.area[f as usize], face.nodes.map(|n| phi[n as usize]));
            kinetic_currents[face.tag as usize] += q.iter().sum::<f64>();
            for (&n, q) in face.nodes.iter().zip(q) {
                if let Ok(row) = self.free_nodes.binary_search(&n) {
                    outflow[row] += q;
                }
            }
        }
        residual.iter_mut().zip(&outflow).for_each(|(r, q)| *r -= q);
        terms.iter_mut().zip(&outflow).for_each(|(t, q)| *t += q.abs());
        KineticResidual {
            norm: norm(&residual),
            scale: norm(&self.rhs) + norm(&outflow),
            terms: norm(&terms),
            residual,
            kinetic_currents,
        }
    }

    /// Moves each free node of a kinetic face into the band of potentials where |j_out| <= `limit` (A/m^2) for
    /// its boundary: Newton's start. A zero start can put an electrode's nodes many volts from rest, where the
    /// exponentials are astronomically large and the first Jacobian too ill-conditioned for CG; from the band,
    /// the line search keeps the residual (hence the kinetic currents) bounded.
    pub fn clamp_to_kinetic_band(&self, x: &mut [f64], limit: f64) {
        // One band per boundary (a bisection each), not per face.
        let bands: Vec<Option<(f64, f64)>> = self
            .boundaries
            .conditions
            .iter()
            .map(|c| match c {
                BoundaryCondition::ButlerVolmer(kinetics) => Some(kinetics.band(limit)),
                _ => None,
            })
            .collect();
        for &(f, _) in &self.kinetics.faces {
            let face = &self.boundaries.faces[f as usize];
            let (low, high) = bands[face.tag as usize].expect("kinetic faces carry kinetics");
            for &n in &face.nodes {
                if let Ok(row) = self.free_nodes.binary_search(&n) {
                    x[row] = x[row].clamp(low, high);
                }
            }
        }
    }

    /// The matrix becomes base + the kinetic Jacobian at `x`: the Newton step's SPD matrix (and, at the solution,
    /// the linearized operator the error estimates' duals use).
    pub fn linearize_kinetics(&mut self, x: &[f64]) {
        self.restore_base();
        let phi = self.expand(x);
        let mut dirichlet_coupling = Vec::new();
        for &(f, slots) in &self.kinetics.faces {
            let face = &self.boundaries.faces[f as usize];
            let BoundaryCondition::ButlerVolmer(kinetics) = self.boundaries.conditions[face.tag as usize] else {
                unreachable!("kinetic faces carry kinetics")
            };
            let (_, jacobian) =
                face_terms(&kinetics, self.boundaries.area[f as usize], face.nodes.map(|n| phi[n as usize]));
            for a in 0..3 {
                for b in 0..3 {
                    if slots[a][b] != NO_ENTRY {
                        self.matrix.values[slots[a][b]] += jacobian[a][b];
                        continue;
                    }
                    let row = self.free_nodes.binary_search(&face.nodes[a]);
                    let column = self.dirichlet_nodes.binary_search(&face.nodes[b]);
                    if let (Ok(row), Ok(d)) = (row, column) {
                        dirichlet_coupling.push((row as u32, d as u32, jacobian[a][b]));
                    }
                }
            }
        }
        self.kinetics.dirichlet_coupling = dirichlet_coupling;
        self.kinetics.linearized = true;
    }
}

/// A Butler-Volmer boundary's state at a solution: its current, overpotentials and current densities, from the
/// edge midpoints of its faces (the points the assembly integrates the kinetics at).
#[derive(Debug, Clone)]
pub struct KineticSurface {
    pub tag: u16,
    pub area_m2: f64,
    /// The current leaving the electrolyte through it (A).
    pub current_a: f64,
    /// The area mean of eta and its extremes over the midpoints (V).
    pub mean_overpotential_v: f64,
    pub min_overpotential_v: f64,
    pub max_overpotential_v: f64,
    /// The largest |j_out| at a midpoint (A/m^2).
    pub max_current_density: f64,
    /// Per face of the boundary: (index into `Mesh::boundary_faces`, mean eta (V), mean j_out (A/m^2)).
    pub faces: Vec<(u32, f64, f64)>,
}

impl KineticSurface {
    /// The current over the area (A/m^2).
    pub fn mean_current_density(&self) -> f64 {
        self.current_a / self.area_m2
    }

    /// max |j_out| / |mean j_out|: 1 for a uniform reaction.
    pub fn non_uniformity(&self) -> f64 {
        self.max_current_density / self.mean_current_density().abs()
    }
}

/// The state of every Butler-Volmer boundary of `mesh` at the nodal potential `phi`, in tag order.
pub fn kinetic_surfaces(mesh: &Mesh, conditions: &[BoundaryCondition], phi: &[f64]) -> Vec<KineticSurface> {
    let mut surfaces: Vec<KineticSurface> = Vec::new();
    for (tag, condition) in conditions.iter().enumerate() {
        let BoundaryCondition::ButlerVolmer(kinetics) = condition else { continue };
        let mut surface = KineticSurface {
            tag: tag as u16,
            area_m2: 0.0,
            current_a: 0.0,
            mean_overpotential_v: 0.0,
            min_overpotential_v: f64::INFINITY,
            max_overpotential_v: f64::NEG_INFINITY,
            max_current_density: 0.0,
            faces: Vec::new(),
        };
        for (f, face) in mesh.boundary_faces.iter().enumerate().filter(|(_, f)| f.tag as usize == tag) {
            let area = mesh.face_area(face);
            let (mut eta_sum, mut j_sum) = (0.0, 0.0);
            for phi_mid in midpoint_potentials(face.nodes.map(|n| phi[n as usize])) {
                let eta = kinetics.overpotential(phi_mid);
                let (j, _) = kinetics.outflow(phi_mid);
                surface.min_overpotential_v = surface.min_overpotential_v.min(eta);
                surface.max_overpotential_v = surface.max_overpotential_v.max(eta);
                surface.max_current_density = surface.max_current_density.max(j.abs());
                eta_sum += eta;
                j_sum += j;
            }
            surface.area_m2 += area;
            surface.current_a += area * j_sum / 3.0;
            surface.mean_overpotential_v += area * eta_sum / 3.0;
            surface.faces.push((f as u32, eta_sum / 3.0, j_sum / 3.0));
        }
        if !surface.faces.is_empty() {
            surface.mean_overpotential_v /= surface.area_m2;
            surfaces.push(surface);
        }
    }
    surfaces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinetics(alpha_a: f64, alpha_c: f64, film: f64) -> Kinetics {
        Kinetics {
            exchange_current_density: 10.0,
            alpha_anodic: alpha_a,
            alpha_cathodic: alpha_c,
            equilibrium_potential: 0.1,
            electrode_potential: 0.3,
            film_resistance: film,
            thermal_voltage: 0.030,
        }
    }

    #[test]
    fn the_derivative_matches_a_difference_quotient_with_and_without_a_film() {
        for film in [0.0, 1e-4, 1e-2] {
            for (aa, ac) in [(0.5, 0.5), (0.3, 0.7)] {
                let k = kinetics(aa, ac, film);
                for phi in [-0.2, 0.0, 0.15, 0.2, 0.25, 0.5] {
                    let (j, slope) = k.outflow(phi);
                    let h = 1e-7;
                    let numeric = (k.outflow(phi + h).0 - k.outflow(phi - h).0) / (2.0 * h);
                    assert!(slope > 0.0, "film {film}, phi {phi}: slope {slope}");
                    assert!((slope - numeric).abs() <= 1e-6 * slope, "film {film}, phi {phi}: {slope} vs {numeric}");
                    // The film's equation holds: j = reaction(eta + R_f j).
                    let (again, _) = k.reaction(k.overpotential(phi) + film * j);
                    // (At rest both sides are round-off of i0 (1 - 1).)
                    let floor = 1e-14 * k.exchange_current_density;
                    assert!((again - j).abs() <= 1e-12 * j.abs() + floor, "film {film}, phi {phi}: {j} vs {again}");
                }
            }
        }
    }

    #[test]
    fn at_rest_no_current_flows_and_the_slope_is_the_charge_transfer_conductance() {
        let k = kinetics(0.3, 0.7, 0.0);
        let (j, slope) = k.outflow(k.rest_potential());
        assert_eq!(j, 0.0);
        assert!((slope * k.charge_transfer_resistance() - 1.0).abs() < 1e-14);
        // Positive current leaves the electrolyte when phi lies above the rest potential (cathodic: plating).
        assert!(k.outflow(k.rest_potential() + 0.01).0 > 0.0);
    }

    #[test]
    fn a_constant_slope_gives_the_consistent_face_mass_and_any_slope_an_spd_face_matrix() {
        let k = kinetics(0.5, 0.5, 0.0);
        let rest = k.rest_potential();
        let (_, jacobian) = face_terms(&k, 2.0, [rest; 3]);
        let (_, slope) = k.outflow(rest);
        for (a, row) in jacobian.iter().enumerate() {
            for (b, entry) in row.iter().enumerate() {
                let robin = slope * crate::fem::rows::face_mass(2.0, a, b);
                assert!((entry - robin).abs() <= 1e-12 * robin);
            }
        }
        // Unequal corner potentials: symmetric, and v^T J v > 0 for a few v.
        let (_, jacobian) = face_terms(&k, 2.0, [rest - 0.2, rest, rest + 0.1]);
        for v in [[1.0, 0.0, 0.0], [1.0, -1.0, 0.0], [1.0, 1.0, -2.0], [0.3, -0.7, 0.2]] {
            let quadratic: f64 =
                (0..3).flat_map(|a| (0..3).map(move |b| (a, b))).map(|(a, b)| v[a] * jacobian[a][b] * v[b]).sum();
            assert!(quadratic > 0.0);
        }
        for (a, row) in jacobian.iter().enumerate() {
            for (b, entry) in row.iter().enumerate() {
                assert_eq!(*entry, jacobian[b][a]);
            }
        }
    }
}
