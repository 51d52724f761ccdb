//! Current densities from the nodal potential: J = -k grad phi per tet (exact for P1), a volume-weighted
//! nodal average for smooth display (duplicated interface nodes average their own side only), and the
//! current through each internal resistive interface.

use super::element::barycentric_gradients;
use crate::mesh::Mesh;
use crate::solver::sparse::PAR_MIN_LEN;
use glam::DVec3;
use rayon::prelude::*;

/// J = -k grad phi in each tet (A/m^2 when k is a conductivity), k from the tet's region.
pub fn cell_current_density(mesh: &Mesh, region_coefficient: &[f64], phi: &[f64]) -> Vec<DVec3> {
    assert_eq!(phi.len(), mesh.nodes.len(), "one potential per mesh node");
    (0..mesh.tets.len())
        .into_par_iter()
        .with_min_len(PAR_MIN_LEN)
        .map(|t| {
            let (gradients, _) = barycentric_gradients(mesh.tet_points(t));
            let grad_phi =
                mesh.tets[t].iter().zip(gradients).fold(DVec3::ZERO, |acc, (&n, g)| acc + phi[n as usize] * g);
            -region_coefficient[mesh.tet_region[t] as usize] * grad_phi
        })
        .collect()
}

/// Per-node average of a per-tet field over the incident tets, weighted by tet volume. One pass over the tets in
/// order (no node-to-tet table): each node's sum runs over its tets in index order.
pub fn nodal_current_density(mesh: &Mesh, cell: &[DVec3]) -> Vec<DVec3> {
    assert_eq!(cell.len(), mesh.tets.len(), "one value per tet");
    let mut sum = vec![DVec3::ZERO; mesh.nodes.len()];
    let mut volume = vec![0.0; mesh.nodes.len()];
    for (t, (tet, &j)) in mesh.tets.iter().zip(cell).enumerate() {
        let v = mesh.tet_volume(t);
        for &n in tet {
            sum[n as usize] += v * j;
            volume[n as usize] += v;
        }
    }
    sum.par_iter_mut().zip(&volume).for_each(|(s, &v)| *s = if v > 0.0 { *s / v } else { DVec3::ZERO });
    sum
}

/// The current through an internal resistive interface and the potential jump across it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InterfaceCurrent {
    /// Current crossing the plane upward (+z, from the layer into what lies on it), A: the consistent flux
    /// -(1/R) integral (phi_above - phi_below), i.e. what the coupling carries in the assembled system.
    pub current_a: f64,
    /// Area-weighted mean of phi_above - phi_below over the plane, V.
    pub mean_jump_v: f64,
    pub area_m2: f64,
}

/// [`InterfaceCurrent`] per interface tag, for resistances (Ohm m^2) in `Mesh::interface_names` order.
pub fn interface_currents(mesh: &Mesh, interface_resistance: &[f64], phi: &[f64]) -> Vec<InterfaceCurrent> {
    assert_eq!(phi.len(), mesh.nodes.len(), "one potential per mesh node");
    let (mut jump_integral, mut area) = (vec![0.0; mesh.interface_names.len()], vec![0.0; mesh.interface_names.len()]);
    for face in &mesh.interface_faces {
        let a = mesh.interface_area(face);
        let jump_sum: f64 = face.below.iter().zip(&face.above).map(|(&b, &t)| phi[t as usize] - phi[b as usize]).sum();
        // The P1 integral over a triangle is the area times the mean of its corners.
        jump_integral[face.tag as usize] += a * jump_sum / 3.0;
        area[face.tag as usize] += a;
    }
    jump_integral
        .iter()
        .zip(&area)
        .zip(interface_resistance)
        .map(|((&jump, &area_m2), &r)| InterfaceCurrent {
            current_a: -jump / r,
            mean_jump_v: if area_m2 > 0.0 { jump / area_m2 } else { 0.0 },
            area_m2,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::structured::tensor_box;

    #[test]
    fn current_density_is_exact_for_a_linear_potential() {
        let mut mesh = tensor_box(&[0.0, 0.3, 1.0], &[0.0, 0.5, 0.7, 2.0], &[0.0, 0.2, 0.25, 1.5]);
        mesh.region_names.push("interlayer".to_string());
        for t in 0..mesh.tets.len() {
            let centroid = mesh.tet_points(t).iter().sum::<DVec3>() / 4.0;
            mesh.tet_region[t] = u16::from(centroid.z < 0.25);
        }
        let coefficient = [2.0, 0.5];
        let gradient = DVec3::new(1.5, -2.0, 0.75);
        let phi: Vec<f64> = mesh.nodes.iter().map(|p| 3.0 + gradient.dot(*p)).collect();
        let cell = cell_current_density(&mesh, &coefficient, &phi);
        for (t, j) in cell.iter().enumerate() {
            let expected = -coefficient[mesh.tet_region[t] as usize] * gradient;
            assert!((*j - expected).length() < 1e-12, "tet {t}: {j} vs {expected}");
        }
        // Away from the material jump every incident tet has the same J, so the average is exact.
        let nodal = nodal_current_density(&mesh, &cell);
        for (n, p) in mesh.nodes.iter().enumerate() {
            let expected = if p.z > 0.25 {
                -2.0 * gradient
            } else if p.z < 0.25 {
                -0.5 * gradient
            } else {
                continue;
            };
            assert!((nodal[n] - expected).length() < 1e-12, "node {n}: {} vs {expected}", nodal[n]);
        }
        // On the jump plane the volume weights decide: check one node against a hand-computed mix.
        let on_plane = mesh.nodes.iter().position(|p| p.z == 0.25 && p.x == 0.3 && p.y == 0.5).unwrap();
        let (mut below, mut above) = (0.0, 0.0);
        for t in 0..mesh.tets.len() {
            if mesh.tets[t].contains(&(on_plane as u32)) {
                *if mesh.tet_region[t] == 1 { &mut below } else { &mut above } += mesh.tet_volume(t);
            }
        }
        let expected = -(0.5 * below + 2.0 * above) / (below + above) * gradient;
        assert!((nodal[on_plane] - expected).length() < 1e-12);
    }
}
