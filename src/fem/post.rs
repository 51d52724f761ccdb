//! Current densities from the nodal potential: J = -k grad phi per tet (exact for P1), a volume-weighted
//! nodal average for smooth display (duplicated interface nodes average their own side only), and the
//! current through each internal resistive interface.

use super::element::barycentric_gradients;
use super::rows::NodeTets;
use crate::mesh::{face_key, MeasureSurface, Mesh, OUTWARD_FACES};
use crate::solver::sparse::PAR_MIN_LEN;
use glam::DVec3;
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

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
    nodal_average(mesh, |t| cell[t])
}

/// The volume-weighted nodal average of `per_tet(t)` (see [`nodal_current_density`]); the error estimates
/// recover a dual's gradient this way without storing it per tet.
pub fn nodal_average(mesh: &Mesh, per_tet: impl Fn(usize) -> DVec3) -> Vec<DVec3> {
    let mut sum = vec![DVec3::ZERO; mesh.nodes.len()];
    let mut volume = vec![0.0; mesh.nodes.len()];
    for (t, tet) in mesh.tets.iter().enumerate() {
        let (v, j) = (mesh.tet_volume(t), per_tet(t));
        for &n in tet {
            sum[n as usize] += v * j;
            volume[n as usize] += v;
        }
    }
    sum.par_iter_mut().zip(&volume).for_each(|(s, &v)| *s = if v > 0.0 { *s / v } else { DVec3::ZERO });
    sum
}

/// The current through each measurement surface ([`Mesh::surfaces`]) along its orientation (A): the consistent
/// flux out of the side behind it. At a surface node i, with B the tets around i behind the surface (reached
/// from the tet behind one of its faces at i without crossing the surface), the current leaving B at i is
/// -(K_B phi)_i = sum over B of V grad(l_i) . J, less what leaves B through exterior faces at i
/// (`face_outflows`, [`super::FluxRecovery::face_outflows`]). Summed over the surface's nodes this is exactly the
/// current through a surface that splits the domain (a closed surface around a source-free region carries 0,
/// a plane across a box the box's current), as the boundary currents are exact for the boundary.
pub fn surface_currents(mesh: &Mesh, cell_current: &[DVec3], face_outflows: &[[f64; 3]]) -> Vec<f64> {
    if mesh.surfaces.is_empty() {
        return Vec::new();
    }
    let incidence = NodeTets::new(mesh);
    let boundary_face: FxHashMap<[u32; 3], usize> =
        mesh.boundary_faces.iter().enumerate().map(|(i, f)| (face_key(f.nodes), i)).collect();
    mesh.surfaces
        .iter()
        .map(|surface| surface_current(mesh, surface, &incidence, &boundary_face, cell_current, face_outflows))
        .collect()
}

fn surface_current(
    mesh: &Mesh,
    surface: &MeasureSurface,
    incidence: &NodeTets,
    boundary_face: &FxHashMap<[u32; 3], usize>,
    cell_current: &[DVec3],
    face_outflows: &[[f64; 3]],
) -> f64 {
    let on_surface: FxHashSet<[u32; 3]> = surface.faces.iter().map(|&f| face_key(f)).collect();
    // The tet behind each face (its fourth node on the side opposite the face's normal), seeded at its nodes.
    let mut behind: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    for face in &surface.faces {
        let [a, b, c] = face.map(|n| mesh.nodes[n as usize]);
        let normal = (b - a).cross(c - a);
        let back = incidence.of(face[0] as usize).iter().copied().find(|&t| {
            let tet = mesh.tets[t as usize];
            let apex = tet.iter().find(|n| !face.contains(n));
            face.iter().all(|n| tet.contains(n)) && apex.is_some_and(|&d| normal.dot(mesh.nodes[d as usize] - a) < 0.0)
        });
        let back = back.expect("a measurement surface's face lies between two tets (checked on import)");
        for &n in face {
            behind.entry(n).or_default().push(back);
        }
    }
    let mut nodes: Vec<(&u32, &Vec<u32>)> = behind.iter().collect();
    // A fixed summation order whatever the map's.
    nodes.sort_unstable_by_key(|(&n, _)| n);
    let mut current = 0.0;
    for (&node, seeds) in nodes {
        let star = incidence.of(node as usize);
        let mut back = vec![false; star.len()];
        let mut stack: Vec<usize> = Vec::new();
        for seed in seeds {
            let s = star.iter().position(|t| t == seed).expect("the tet behind a face holds the face's nodes");
            if !back[s] {
                back[s] = true;
                stack.push(s);
            }
        }
        // Flood the star from the seeds across faces at `node` that are not on the surface.
        while let Some(s) = stack.pop() {
            let tet = mesh.tets[star[s] as usize];
            for face in OUTWARD_FACES.map(|f| f.map(|i| tet[i])).into_iter().filter(|f| f.contains(&node)) {
                if on_surface.contains(&face_key(face)) {
                    continue;
                }
                let neighbour = star
                    .iter()
                    .enumerate()
                    .position(|(o, &t)| o != s && face.iter().all(|n| mesh.tets[t as usize].contains(n)));
                if let Some(o) = neighbour.filter(|&o| !back[o]) {
                    back[o] = true;
                    stack.push(o);
                }
            }
        }
        for (&t, _) in star.iter().zip(&back).filter(|(_, &b)| b) {
            let tet = mesh.tets[t as usize];
            let (gradients, volume) = barycentric_gradients(mesh.tet_points(t as usize));
            let local = tet.iter().position(|&n| n == node).expect("a star's tets hold its node");
            current += volume * gradients[local].dot(cell_current[t as usize]);
            for face in OUTWARD_FACES.map(|f| f.map(|i| tet[i])).into_iter().filter(|f| f.contains(&node)) {
                if let Some(&f) = boundary_face.get(&face_key(face)) {
                    let corner = mesh.boundary_faces[f].nodes.iter().position(|&n| n == node).expect("face holds node");
                    current -= face_outflows[f][corner];
                }
            }
        }
    }
    current
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

/// A boundary tag's area and area-mean potential.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundaryMean {
    /// The integral of phi over the tag's faces (exact for P1: each triangle's area times the mean of its three
    /// nodal values) over their area (V). On a Neumann electrode it is the electrode's potential; NaN for a tag
    /// with no faces.
    pub potential_v: f64,
    pub area_m2: f64,
}

/// [`BoundaryMean`] of each boundary tag.
pub fn boundary_means(mesh: &Mesh, phi: &[f64]) -> Vec<BoundaryMean> {
    let mut means = vec![BoundaryMean { potential_v: 0.0, area_m2: 0.0 }; mesh.boundary_names.len()];
    for face in &mesh.boundary_faces {
        let a = mesh.face_area(face);
        let mean = face.nodes.iter().map(|&n| phi[n as usize]).sum::<f64>() / 3.0;
        let entry = &mut means[face.tag as usize];
        entry.potential_v += a * mean;
        entry.area_m2 += a;
    }
    for entry in &mut means {
        entry.potential_v = if entry.area_m2 > 0.0 { entry.potential_v / entry.area_m2 } else { f64::NAN };
    }
    means
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
