//! The verification ladder (ARCHITECTURE.md, "Verification ladder"): each test asserts a number against an exact value.

use glam::DVec3;
use ionflux::fem::{
    assemble, element_stiffness, stiffness_matrix, BoundaryCondition, FemError, FluxRecovery, Problem, Source,
};
use ionflux::mesh::structured::{tensor_box, uniform_line};
use ionflux::mesh::Mesh;
use ionflux::solver::cpu::CpuSolver;
use ionflux::solver::{CgOptions, SymmetricSolver};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use std::f64::consts::PI;

use BoundaryCondition::{Dirichlet, Insulating, Neumann, Robin};

/// Coordinates on [a, b] whose cells grow geometrically by `ratio`.
fn graded_line(a: f64, b: f64, n: usize, ratio: f64) -> Vec<f64> {
    let widths: Vec<f64> = (0..n).map(|i| ratio.powi(i as i32)).collect();
    let total: f64 = widths.iter().sum();
    let mut line = vec![a];
    for w in widths {
        line.push(line.last().unwrap() + (b - a) * w / total);
    }
    *line.last_mut().unwrap() = b;
    line
}

/// Tags tets by centroid height: region i is the i-th layer whose top lies above the centroid.
fn set_layers(mesh: &mut Mesh, layers: &[(&str, f64)]) {
    mesh.region_names = layers.iter().map(|(name, _)| name.to_string()).collect();
    for t in 0..mesh.tets.len() {
        let z = mesh.tet_points(t).iter().map(|p| p.z).sum::<f64>() / 4.0;
        mesh.tet_region[t] = layers.iter().position(|&(_, top)| z < top).expect("layers cover the box") as u16;
    }
}

/// Boundary conditions in `BOX_BOUNDARIES` order: interface, top, x_min, x_max, y_min, y_max.
fn box_conditions(interface: BoundaryCondition, top: BoundaryCondition) -> Vec<BoundaryCondition> {
    vec![interface, top, Insulating, Insulating, Insulating, Insulating]
}

/// The flux recovery and the nodal potential of a solved problem.
fn solve(mesh: &Mesh, problem: &Problem) -> (FluxRecovery, Vec<f64>) {
    let assembly = assemble(mesh, problem).expect("valid problem");
    let mut x = vec![0.0; assembly.rhs.len()];
    let options = CgOptions { rtol: 1e-13, atol: 0.0, max_iter: 100_000 };
    CpuSolver.solve(&assembly.matrix, &assembly.rhs, &mut x, &options).expect("converges");
    let phi = assembly.expand(&x);
    (FluxRecovery::new(mesh, problem, &assembly), phi)
}

fn relative_error(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs()
}

#[test]
fn reference_element_matches_closed_form() {
    let points = [DVec3::ZERO, DVec3::X, DVec3::Y, DVec3::Z];
    let k = 2.0;
    // Barycentric gradients: l1 = x, l2 = y, l3 = z, l0 = 1 - x - y - z; volume 1/6.
    let closed_form = [[3.0, -1.0, -1.0, -1.0], [-1.0, 1.0, 0.0, 0.0], [-1.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.0, 1.0]]
        .map(|row| row.map(|v| k / 6.0 * v));
    let stiffness = element_stiffness(points, k);
    for a in 0..4 {
        assert!(stiffness[a].iter().sum::<f64>().abs() < 1e-15, "row {a} sums to {}", stiffness[a].iter().sum::<f64>());
        for b in 0..4 {
            assert_eq!(stiffness[a][b], stiffness[b][a]);
            assert!((stiffness[a][b] - closed_form[a][b]).abs() < 1e-15, "({a}, {b}): {}", stiffness[a][b]);
        }
    }
    // Scaling by 3 and moving the tet: K scales like length (k |V| |grad|^2 ~ L^3 / L^2).
    let moved = points.map(|p| DVec3::new(5.0, -1.0, 2.0) + 3.0 * p);
    let scaled = element_stiffness(moved, k);
    for a in 0..4 {
        for b in 0..4 {
            assert!((scaled[a][b] - 3.0 * closed_form[a][b]).abs() < 1e-13);
        }
    }
}

#[test]
fn slab_with_dirichlet_ends_has_exact_linear_potential_and_currents() {
    let (lx, ly, h) = (2.0, 3.0, 1.5);
    let sigma = 0.2;
    let v = 0.7;
    let mesh = tensor_box(&uniform_line(0.0, lx, 3), &graded_line(0.0, ly, 4, 1.7), &graded_line(0.0, h, 7, 1.4));
    let problem = Problem {
        region_coefficient: vec![sigma],
        boundary_conditions: box_conditions(Dirichlet { potential: 0.0 }, Dirichlet { potential: v }),
        interface_resistance: Vec::new(),
        source: None,
    };
    let (recovery, phi) = solve(&mesh, &problem);
    let max_error = mesh.nodes.iter().zip(&phi).map(|(p, u)| (u - v * p.z / h).abs()).fold(0.0, f64::max);
    assert!(max_error / v < 1e-10, "max |phi - V z/H| / V = {max_error:e}");

    // J = -sigma V/H e_z: current enters at the top (J.n < 0 there) and leaves through the interface.
    let exact = sigma * v * lx * ly / h;
    let currents = recovery.boundary_currents(&phi);
    assert!(relative_error(currents[0], exact) < 1e-8, "interface {} vs {exact}", currents[0]);
    assert!(relative_error(currents[1], -exact) < 1e-8, "top {} vs {}", currents[1], -exact);
    for (side, current) in currents.iter().enumerate().skip(2) {
        assert!(current.abs() < 1e-8 * exact, "side {side} carries {current}");
    }
}

#[test]
fn slab_with_applied_current_has_exact_drop_and_currents() {
    let (lx, ly, h) = (1.0, 0.6, 2.0);
    let sigma = 0.05;
    let j = 3.0;
    let mesh = tensor_box(&graded_line(0.0, lx, 3, 1.5), &uniform_line(0.0, ly, 2), &graded_line(0.0, h, 6, 0.7));
    let problem = Problem {
        region_coefficient: vec![sigma],
        boundary_conditions: box_conditions(Dirichlet { potential: 0.0 }, Neumann { inward_current_density: j }),
        interface_resistance: Vec::new(),
        source: None,
    };
    let (recovery, phi) = solve(&mesh, &problem);
    let drop = j * h / sigma;
    for (p, u) in mesh.nodes.iter().zip(&phi) {
        if p.z == h {
            assert!(relative_error(*u, drop) < 1e-8, "top node at {p}: {u} vs {drop}");
        }
    }
    let currents = recovery.boundary_currents(&phi);
    let area = lx * ly;
    assert!(relative_error(currents[1], -j * area) < 1e-8, "top {}", currents[1]);
    assert!(relative_error(currents[0], j * area) < 1e-8, "interface {}", currents[0]);
}

#[test]
fn two_layers_in_series_match_the_resistor_formula() {
    let (lx, ly) = (0.8, 1.1);
    let (t1, s1) = (0.3, 0.05);
    let (t2, s2) = (1.0, 0.4);
    let zs: Vec<f64> =
        graded_line(0.0, t1, 3, 1.3).into_iter().chain(graded_line(t1, t1 + t2, 5, 1.2).into_iter().skip(1)).collect();
    let mut mesh = tensor_box(&uniform_line(0.0, lx, 2), &uniform_line(0.0, ly, 3), &zs);
    set_layers(&mut mesh, &[("interlayer", t1), ("electrolyte", f64::INFINITY)]);
    let area = lx * ly;
    let v_top = 0.9;

    let dirichlet = Problem {
        region_coefficient: vec![s1, s2],
        boundary_conditions: box_conditions(Dirichlet { potential: 0.0 }, Dirichlet { potential: v_top }),
        interface_resistance: Vec::new(),
        source: None,
    };
    let (recovery, phi) = solve(&mesh, &dirichlet);
    let exact = v_top * area / (t1 / s1 + t2 / s2);
    let currents = recovery.boundary_currents(&phi);
    assert!(relative_error(currents[0], exact) < 1e-8, "interface {} vs {exact}", currents[0]);
    assert!(relative_error(currents[1], -exact) < 1e-8, "top {} vs {}", currents[1], -exact);

    let (resistance, v_electrode) = (2.5, -0.2);
    let robin = Problem {
        region_coefficient: vec![s1, s2],
        boundary_conditions: box_conditions(
            Robin { resistance, electrode_potential: v_electrode },
            Dirichlet { potential: v_top },
        ),
        interface_resistance: Vec::new(),
        source: None,
    };
    let (recovery, phi) = solve(&mesh, &robin);
    let exact = (v_top - v_electrode) * area / (resistance + t1 / s1 + t2 / s2);
    let currents = recovery.boundary_currents(&phi);
    assert!(relative_error(currents[0], exact) < 1e-8, "Robin interface {} vs {exact}", currents[0]);
    assert!(relative_error(currents[1], -exact) < 1e-8, "top {} vs {}", currents[1], -exact);
}

/// Gauss-Legendre points and weights on [0, 1] (4 points, exact to degree 7).
fn gauss_legendre_01() -> [(f64, f64); 4] {
    let (a, b) = (0.339_981_043_584_856_3, 0.861_136_311_594_052_6);
    let (wa, wb) = (0.652_145_154_862_546_1, 0.347_854_845_137_453_9);
    [(-b, wb), (-a, wa), (a, wa), (b, wb)].map(|(t, w)| ((1.0 + t) / 2.0, w / 2.0))
}

/// L2 and H1-seminorm errors of the P1 field `phi` against `u`, `grad_u`, with a 64-point collapsed
/// (Duffy) product rule per tet.
fn discretisation_errors(
    mesh: &Mesh,
    phi: &[f64],
    u: impl Fn(DVec3) -> f64,
    grad_u: impl Fn(DVec3) -> DVec3,
) -> (f64, f64) {
    let rule = gauss_legendre_01();
    let (mut l2, mut h1) = (0.0, 0.0);
    for t in 0..mesh.tets.len() {
        let p = mesh.tet_points(t);
        let values = mesh.tets[t].map(|n| phi[n as usize]);
        let (gradients, volume) = ionflux::fem::barycentric_gradients(p);
        let grad_uh = (0..4).fold(DVec3::ZERO, |acc, a| acc + values[a] * gradients[a]);
        for &(s, ws) in &rule {
            for &(r, wr) in &rule {
                for &(q, wq) in &rule {
                    // (s, r, q) in the unit cube -> reference tet coordinates (x, y, z).
                    let (x, y, z) = (s, (1.0 - s) * r, (1.0 - s) * (1.0 - r) * q);
                    let weight = ws * wr * wq * (1.0 - s).powi(2) * (1.0 - r) * 6.0 * volume;
                    let bary = [1.0 - x - y - z, x, y, z];
                    let point = (0..4).fold(DVec3::ZERO, |acc, a| acc + bary[a] * p[a]);
                    let uh: f64 = (0..4).map(|a| bary[a] * values[a]).sum();
                    l2 += weight * (u(point) - uh).powi(2);
                    h1 += weight * (grad_u(point) - grad_uh).length_squared();
                }
            }
        }
    }
    (l2.sqrt(), h1.sqrt())
}

/// Least-squares slope of log(error) against log(h).
fn loglog_slope(h: &[f64], error: &[f64]) -> f64 {
    let xs: Vec<f64> = h.iter().map(|v| v.ln()).collect();
    let ys: Vec<f64> = error.iter().map(|v| v.ln()).collect();
    let (mx, my) = (xs.iter().sum::<f64>() / xs.len() as f64, ys.iter().sum::<f64>() / ys.len() as f64);
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    sxy / sxx
}

#[test]
fn manufactured_solution_converges_at_the_p1_rates() {
    // u = cos(pi x) cos(pi y) sin(pi z) + z: u = 0 at z = 0, u = 1 at z = 1, du/dn = 0 on the sides,
    // so Dirichlet ends (one non-zero, exercising the lifting) and insulating sides are exact.
    let k = 2.0;
    let u = |p: DVec3| (PI * p.x).cos() * (PI * p.y).cos() * (PI * p.z).sin() + p.z;
    let grad_u = |p: DVec3| {
        let (cx, cy, sz) = ((PI * p.x).cos(), (PI * p.y).cos(), (PI * p.z).sin());
        let (sx, sy, cz) = ((PI * p.x).sin(), (PI * p.y).sin(), (PI * p.z).cos());
        DVec3::new(-PI * sx * cy * sz, -PI * cx * sy * sz, PI * cx * cy * cz + 1.0)
    };
    let source = move |p: DVec3| k * 3.0 * PI * PI * (PI * p.x).cos() * (PI * p.y).cos() * (PI * p.z).sin();
    let problem = Problem {
        region_coefficient: vec![k],
        boundary_conditions: box_conditions(Dirichlet { potential: 0.0 }, Dirichlet { potential: 1.0 }),
        interface_resistance: Vec::new(),
        source: Some(&source as &Source),
    };
    let cells = [8, 12, 16, 24, 32];
    let (mut h, mut l2, mut h1) = (Vec::new(), Vec::new(), Vec::new());
    for &n in &cells {
        let line = uniform_line(0.0, 1.0, n);
        let mesh = tensor_box(&line, &line, &line);
        let (_, phi) = solve(&mesh, &problem);
        let (e0, e1) = discretisation_errors(&mesh, &phi, u, grad_u);
        h.push(1.0 / n as f64);
        l2.push(e0);
        h1.push(e1);
    }
    let (l2_rate, h1_rate) = (loglog_slope(&h, &l2), loglog_slope(&h, &h1));
    println!("n = {cells:?}\nL2 errors {l2:?} rate {l2_rate:.3}\nH1 errors {h1:?} rate {h1_rate:.3}");
    assert!((l2_rate - 2.0).abs() < 0.2, "L2 rate {l2_rate}");
    assert!((h1_rate - 1.0).abs() < 0.2, "H1 rate {h1_rate}");
}

/// Two materials, Robin interface, Neumann top, Dirichlet x_min, insulating elsewhere, graded grid.
fn mixed_problem_mesh() -> Mesh {
    let zs: Vec<f64> =
        graded_line(0.0, 0.2, 3, 1.5).into_iter().chain(graded_line(0.2, 1.0, 5, 1.3).into_iter().skip(1)).collect();
    let mut mesh = tensor_box(&graded_line(0.0, 1.5, 5, 1.4), &graded_line(0.0, 0.7, 3, 0.6), &zs);
    set_layers(&mut mesh, &[("interlayer", 0.2), ("electrolyte", f64::INFINITY)]);
    mesh
}

fn mixed_conditions() -> Vec<BoundaryCondition> {
    vec![
        Robin { resistance: 0.3, electrode_potential: 0.1 },
        Neumann { inward_current_density: 2.0 },
        Dirichlet { potential: 0.6 },
        Insulating,
        Insulating,
        Dirichlet { potential: -0.4 },
    ]
}

#[test]
fn boundary_currents_conserve_charge_on_a_mixed_problem() {
    let mesh = mixed_problem_mesh();
    let problem = Problem {
        region_coefficient: vec![0.07, 1.3],
        boundary_conditions: mixed_conditions(),
        interface_resistance: Vec::new(),
        source: None,
    };
    let (recovery, phi) = solve(&mesh, &problem);
    let currents = recovery.boundary_currents(&phi);
    let largest = currents.iter().map(|c| c.abs()).fold(0.0, f64::max);
    let total: f64 = currents.iter().sum();
    assert!(total.abs() / largest < 1e-8, "currents {currents:?} sum to {total:e}");
    // The Neumann top reports its prescribed current exactly: -j * area.
    assert!(relative_error(currents[1], -2.0 * 1.5 * 0.7) < 1e-12, "top {}", currents[1]);
    assert_eq!(currents[3], 0.0);
}

#[test]
fn boundary_currents_balance_a_linear_source() {
    let mesh = mixed_problem_mesh();
    let source = |p: DVec3| 4.0 + 3.0 * p.x - 2.0 * p.z;
    let problem = Problem {
        region_coefficient: vec![0.07, 1.3],
        boundary_conditions: mixed_conditions(),
        interface_resistance: Vec::new(),
        source: Some(&source as &Source),
    };
    let (recovery, phi) = solve(&mesh, &problem);
    let currents = recovery.boundary_currents(&phi);
    // A linear source integrates to volume x value at the box centroid (0.75, 0.35, 0.5).
    let produced = 1.5 * 0.7 * 1.0 * source(DVec3::new(0.75, 0.35, 0.5));
    let total: f64 = currents.iter().sum();
    let largest = currents.iter().map(|c| c.abs()).fold(produced, f64::max);
    assert!((total - produced).abs() / largest < 1e-8, "currents {currents:?} sum to {total} vs {produced}");
}

#[test]
fn last_listed_dirichlet_boundary_wins_at_shared_nodes() {
    let line = uniform_line(0.0, 1.0, 2);
    let mesh = tensor_box(&line, &line, &line);
    let mut conditions = box_conditions(Dirichlet { potential: 0.0 }, Dirichlet { potential: 1.0 });
    conditions[3] = Dirichlet { potential: 5.0 }; // x_max, listed after top
    let problem = Problem {
        region_coefficient: vec![1.0],
        boundary_conditions: conditions,
        interface_resistance: Vec::new(),
        source: None,
    };
    let assembly = assemble(&mesh, &problem).unwrap();
    let phi = assembly.expand(&vec![0.0; assembly.free_nodes.len()]);
    for (p, u) in mesh.nodes.iter().zip(&phi) {
        let expected = if p.x == 1.0 {
            5.0
        } else if p.z == 1.0 {
            1.0
        } else if p.z == 0.0 {
            0.0
        } else {
            continue;
        };
        assert_eq!(*u, expected, "node at {p}");
    }
}

#[test]
fn singular_problem_is_refused() {
    let line = uniform_line(0.0, 1.0, 1);
    let mesh = tensor_box(&line, &line, &line);
    let problem = Problem {
        region_coefficient: vec![1.0],
        boundary_conditions: box_conditions(Insulating, Neumann { inward_current_density: 1.0 }),
        interface_resistance: Vec::new(),
        source: None,
    };
    let err = assemble(&mesh, &problem).unwrap_err();
    assert_eq!(err, FemError::Singular);
    let message = err.to_string();
    assert!(message.contains("singular") && message.contains("dirichlet, robin or butler_volmer"), "{message}");
}

#[test]
fn non_positive_conductivity_is_refused_naming_the_region() {
    let line = uniform_line(0.0, 1.0, 2);
    let mut mesh = tensor_box(&line, &line, &line);
    set_layers(&mut mesh, &[("Li3Sb", 0.5), ("LLZO", f64::INFINITY)]);
    for bad in [0.0, -1.0, f64::NAN] {
        let problem = Problem {
            region_coefficient: vec![0.1, bad],
            boundary_conditions: box_conditions(Dirichlet { potential: 0.0 }, Dirichlet { potential: 1.0 }),
            interface_resistance: Vec::new(),
            source: None,
        };
        match assemble(&mesh, &problem).unwrap_err() {
            err @ FemError::BadCoefficient { .. } => {
                let message = err.to_string();
                assert!(message.contains("`LLZO`") && message.contains("> 0"), "{message}");
            }
            other => panic!("expected BadCoefficient, got {other:?}"),
        }
    }
}

#[test]
fn non_positive_robin_resistance_is_refused_naming_the_boundary() {
    let line = uniform_line(0.0, 1.0, 1);
    let mesh = tensor_box(&line, &line, &line);
    for resistance in [0.0, -2.0] {
        let problem = Problem {
            region_coefficient: vec![1.0],
            boundary_conditions: box_conditions(
                Robin { resistance, electrode_potential: 0.0 },
                Dirichlet { potential: 1.0 },
            ),
            interface_resistance: Vec::new(),
            source: None,
        };
        let err = assemble(&mesh, &problem).unwrap_err();
        assert_eq!(err, FemError::BadRobinResistance { boundary: "interface".to_string(), value: resistance });
        assert!(err.to_string().contains("`interface`"), "{err}");
    }
}

#[test]
fn mismatched_lengths_and_inverted_tets_are_refused() {
    let line = uniform_line(0.0, 1.0, 1);
    let mut mesh = tensor_box(&line, &line, &line);
    let conditions = box_conditions(Dirichlet { potential: 0.0 }, Dirichlet { potential: 1.0 });
    let short = Problem {
        region_coefficient: vec![1.0],
        boundary_conditions: conditions[..5].to_vec(),
        interface_resistance: Vec::new(),
        source: None,
    };
    assert!(matches!(assemble(&mesh, &short), Err(FemError::BoundaryCountMismatch { given: 5, expected: 6, .. })));
    let extra = Problem {
        region_coefficient: vec![1.0, 2.0],
        boundary_conditions: conditions.clone(),
        interface_resistance: Vec::new(),
        source: None,
    };
    assert!(matches!(assemble(&mesh, &extra), Err(FemError::RegionCountMismatch { given: 2, expected: 1, .. })));
    mesh.nodes.push(DVec3::splat(7.0));
    let problem = Problem {
        region_coefficient: vec![1.0],
        boundary_conditions: conditions.clone(),
        interface_resistance: Vec::new(),
        source: None,
    };
    assert_eq!(assemble(&mesh, &problem).unwrap_err(), FemError::OrphanNode { node: 8 });
    mesh.nodes.pop();
    mesh.tets[4].swap(0, 1);
    let problem = Problem {
        region_coefficient: vec![1.0],
        boundary_conditions: conditions,
        interface_resistance: Vec::new(),
        source: None,
    };
    match assemble(&mesh, &problem).unwrap_err() {
        FemError::BadElement { tet, volume_m3 } => {
            assert_eq!(tet, 4);
            assert!((volume_m3 + 1.0 / 6.0).abs() < 1e-15, "{volume_m3}");
        }
        other => panic!("expected BadElement, got {other:?}"),
    }
}

/// A small tensor box with random spacings and jittered interior nodes, two regions.
fn random_mesh() -> impl Strategy<Value = (Mesh, Vec<f64>)> {
    let spacing = prop::collection::vec(0.3f64..2.0, 1..4);
    (spacing.clone(), spacing.clone(), spacing, prop::collection::vec(-0.1f64..0.1, 300), 0.01f64..10.0, 0.01f64..10.0)
        .prop_map(|(dx, dy, dz, jitter, k0, k1)| {
            let line = |d: &[f64]| {
                d.iter().fold(vec![0.0], |mut acc, w| {
                    acc.push(acc.last().unwrap() + w);
                    acc
                })
            };
            let (xs, ys, zs) = (line(&dx), line(&dy), line(&dz));
            let mut mesh = tensor_box(&xs, &ys, &zs);
            let top = zs[zs.len() - 1];
            for (n, p) in mesh.nodes.iter_mut().enumerate() {
                let interior = |v: f64, l: &[f64]| v > 0.0 && v < l[l.len() - 1];
                if interior(p.x, &xs) && interior(p.y, &ys) && interior(p.z, &zs) {
                    *p += 0.3 * DVec3::new(jitter[n % 300], jitter[(n + 101) % 300], jitter[(n + 203) % 300]);
                }
            }
            set_layers(&mut mesh, &[("a", top / 2.0), ("b", f64::INFINITY)]);
            (mesh, vec![k0, k1])
        })
}

proptest! {
    // Failing cases are saved next to this file (tests/verification.proptest-regressions).
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn stiffness_is_symmetric_sorted_and_annihilates_constants((mesh, coefficient) in random_mesh()) {
        let matrix = stiffness_matrix(&mesh, &coefficient).unwrap();
        prop_assert_eq!(matrix.nrows, mesh.nodes.len());
        for i in 0..matrix.nrows {
            let (cols, vals) = matrix.row(i);
            prop_assert!(cols.windows(2).all(|w| w[0] < w[1]), "row {} columns {:?}", i, cols);
            let scale = matrix.get(i, i);
            prop_assert!(scale > 0.0);
            prop_assert!(vals.iter().sum::<f64>().abs() < 1e-12 * scale, "row {} sums to {}", i, vals.iter().sum::<f64>());
            for (&j, &v) in cols.iter().zip(vals) {
                prop_assert!((v - matrix.get(j as usize, i)).abs() <= 1e-14 * scale, "({}, {}) not symmetric", i, j);
            }
        }
        // The reduced system with a Robin face and one Dirichlet face stays symmetric.
        let problem = Problem { interface_resistance: Vec::new(),
            region_coefficient: coefficient,
            boundary_conditions: vec![
                Robin { resistance: 0.5, electrode_potential: 0.2 },
                Dirichlet { potential: 1.0 },
                Neumann { inward_current_density: 0.3 },
                Insulating,
                Insulating,
                Insulating,
            ],
            source: None,
        };
        let reduced = assemble(&mesh, &problem).unwrap().matrix;
        for i in 0..reduced.nrows {
            let (cols, vals) = reduced.row(i);
            prop_assert!(cols.windows(2).all(|w| w[0] < w[1]));
            for (&j, &v) in cols.iter().zip(vals) {
                prop_assert!((v - reduced.get(j as usize, i)).abs() <= 1e-14 * reduced.get(i, i));
            }
        }
    }
}
