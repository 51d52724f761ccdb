//! The P1 tetrahedron: barycentric gradients, closed-form stiffness, and a load rule exact for linear f.

use super::Source;
use glam::DVec3;

/// Gradients of the four barycentric coordinates of the tet and its signed volume.
///
/// With e_i = p_i - p_0 and 6V = e_1 . (e_2 x e_3): grad l_1 = (e_2 x e_3) / 6V (cyclic for l_2, l_3),
/// and grad l_0 = -(grad l_1 + grad l_2 + grad l_3) because the coordinates sum to one. A degenerate
/// tet (V = 0) gives non-finite gradients: callers check the volume first.
pub fn barycentric_gradients(points: [DVec3; 4]) -> ([DVec3; 4], f64) {
    let [p0, p1, p2, p3] = points;
    let (e1, e2, e3) = (p1 - p0, p2 - p0, p3 - p0);
    let six_volume = e1.dot(e2.cross(e3));
    let g1 = e2.cross(e3) / six_volume;
    let g2 = e3.cross(e1) / six_volume;
    let g3 = e1.cross(e2) / six_volume;
    ([-(g1 + g2 + g3), g1, g2, g3], six_volume / 6.0)
}

/// Closed-form P1 element stiffness K_ab = k |V| grad l_a . grad l_b.
pub fn element_stiffness(points: [DVec3; 4], coefficient: f64) -> [[f64; 4]; 4] {
    let (gradients, volume) = barycentric_gradients(points);
    let scale = coefficient * volume.abs();
    gradients.map(|ga| gradients.map(|gb| scale * ga.dot(gb)))
}

/// Barycentric coordinates of the symmetric 4-point rule (degree 2, weights V/4): exact for the
/// product of a linear source with a linear hat function.
const LOAD_RULE_MAJOR: f64 = 0.585_410_196_624_968_5;
const LOAD_RULE_MINOR: f64 = 0.138_196_601_125_010_5;

/// Load entry of local node `local`: integral over the tet of f * l_local.
pub(crate) fn element_load(points: [DVec3; 4], volume: f64, source: &Source, local: usize) -> f64 {
    (0..4)
        .map(|q| {
            let weight_of = |a: usize| if a == q { LOAD_RULE_MAJOR } else { LOAD_RULE_MINOR };
            let x = (0..4).fold(DVec3::ZERO, |acc, a| acc + weight_of(a) * points[a]);
            source(x) * weight_of(local)
        })
        .sum::<f64>()
        * volume
        / 4.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_rule_integrates_linear_times_hat_exactly() {
        // Reference tet, f = 1 + 2x + 3y + 4z, hat l_0 = 1 - x - y - z.
        // Integrals over the reference tet: int 1 = 1/6, int x = 1/24, int x^2 = 1/60, int xy = 1/120.
        let points = [DVec3::ZERO, DVec3::X, DVec3::Y, DVec3::Z];
        let f = |x: DVec3| 1.0 + 2.0 * x.x + 3.0 * x.y + 4.0 * x.z;
        let int_f = 1.0 / 6.0 + 9.0 / 24.0;
        let int_fx = 1.0 / 24.0 + 2.0 / 60.0 + 7.0 / 120.0;
        let int_fy = 1.0 / 24.0 + 3.0 / 60.0 + 6.0 / 120.0;
        let int_fz = 1.0 / 24.0 + 4.0 / 60.0 + 5.0 / 120.0;
        let expected = [int_f - int_fx - int_fy - int_fz, int_fx, int_fy, int_fz];
        for (local, want) in expected.iter().enumerate() {
            let got = element_load(points, 1.0 / 6.0, &f, local);
            assert!((got - want).abs() < 1e-15, "local {local}: {got} vs {want}");
        }
    }
}
