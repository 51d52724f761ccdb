//! Internal resistive interfaces (`[[layers]] top_resistance`): exact series-resistor answers on slabs (mesh
//! nodes duplicated on the plane, consistent face-mass coupling), the case path, the refusal of hot spots
//! touching the plane, the paper's hot spot inside its interlayer end to end, and the GPU on the same matrix.

use crate::common::{ionflux, read_summary};
use ionflux::app::pipeline::{self, RunOptions};
use ionflux::case::Case;
use ionflux::fem::post::{cell_current_density, interface_currents};
use ionflux::fem::{assemble, BoundaryCondition, FluxRecovery, Problem};
use ionflux::mesh::interface::split_at_plane;
use ionflux::mesh::structured::{tensor_box, uniform_line};
use ionflux::mesh::Mesh;
use ionflux::solver::cpu::CpuSolver;
use ionflux::solver::{CgOptions, SymmetricSolver};

use BoundaryCondition::{Dirichlet, Insulating, Neumann, Robin};

const LX: f64 = 0.8;
const LY: f64 = 1.1;
/// Layer 1 (the interlayer): thickness, conductivity; layer 2 above it; the resistance between them.
const T1: f64 = 0.3;
const S1: f64 = 0.05;
const T2: f64 = 1.0;
const S2: f64 = 0.4;
const R: f64 = 2.5;

/// A two-material slab with unequal cells, cut open at z = T1.
fn split_slab() -> Mesh {
    let zs = [0.0, 0.1, 0.22, T1, 0.45, 0.7, 1.0, T1 + T2];
    let mut mesh = tensor_box(&uniform_line(0.0, LX, 2), &uniform_line(0.0, LY, 3), &zs);
    mesh.region_names = vec!["interlayer".into(), "electrolyte".into()];
    for t in 0..mesh.tets.len() {
        let z = mesh.tet_points(t).iter().map(|p| p.z).sum::<f64>() / 4.0;
        mesh.tet_region[t] = u16::from(z > T1);
    }
    let nodes_before = mesh.nodes.len();
    let originals = split_at_plane(&mut mesh, T1, "interlayer|electrolyte");
    assert_eq!(originals.len(), 3 * 4, "every node of the 3 x 4 plane grid is duplicated");
    assert_eq!(mesh.nodes.len(), nodes_before + originals.len());
    let area: f64 = mesh.interface_faces.iter().map(|f| mesh.interface_area(f)).sum();
    assert!((area - LX * LY).abs() < 1e-14, "interface faces tile the plane: {area}");
    mesh
}

fn problem(bottom: BoundaryCondition, top: BoundaryCondition) -> Problem<'static> {
    Problem {
        region_coefficient: vec![S1, S2],
        boundary_conditions: vec![bottom, top, Insulating, Insulating, Insulating, Insulating],
        interface_resistance: vec![R],
        source: None,
    }
}

fn solve(mesh: &Mesh, problem: &Problem, solver: &mut dyn SymmetricSolver) -> (FluxRecovery, Vec<f64>) {
    let assembly = assemble(mesh, problem).expect("valid problem");
    let mut x = vec![0.0; assembly.rhs.len()];
    let options = CgOptions { rtol: 1e-13, atol: 0.0, max_iter: 100_000 };
    solver.solve(&assembly.matrix, &assembly.rhs, &mut x, &options).expect("converges");
    let phi = assembly.expand(&x);
    (FluxRecovery::new(mesh, problem, &assembly), phi)
}

fn relative_error(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs()
}

/// Checks a solved slab against the 1D answer with downward current density `j` (A/m^2): bottom and top
/// currents, the interface current and jump (mean and at every duplicated node), J in every tet,
/// conservation.
fn assert_series_answer(mesh: &Mesh, problem: &Problem, recovery: &FluxRecovery, phi: &[f64], j: f64) {
    let area = LX * LY;
    let currents = recovery.boundary_currents(phi);
    assert!(relative_error(currents[0], j * area) < 1e-8, "bottom {} vs {}", currents[0], j * area);
    assert!(relative_error(currents[1], -j * area) < 1e-8, "top {} vs {}", currents[1], -j * area);
    let imbalance = currents.iter().sum::<f64>().abs() / (j * area);
    assert!(imbalance < 1e-8, "conservation {imbalance:e}");

    let [interface] = interface_currents(mesh, &problem.interface_resistance, phi)[..] else { panic!("one interface") };
    assert!(relative_error(interface.current_a, -j * area) < 1e-8, "interface current {}", interface.current_a);
    assert!(relative_error(interface.mean_jump_v, j * R) < 1e-8, "mean jump {} vs {}", interface.mean_jump_v, j * R);
    for face in &mesh.interface_faces {
        for (&below, &above) in face.below.iter().zip(&face.above) {
            let jump = phi[above as usize] - phi[below as usize];
            assert!(relative_error(jump, j * R) < 1e-8, "jump at node {below}: {jump} vs {}", j * R);
        }
    }
    for (t, current) in cell_current_density(mesh, &problem.region_coefficient, phi).iter().enumerate() {
        assert!(relative_error(current.z, -j) < 1e-8 && current.x.abs() + current.y.abs() < 1e-8 * j, "tet {t}");
    }
}

#[test]
fn dirichlet_slab_with_a_resistive_plane_matches_the_series_formula() {
    let mesh = split_slab();
    let v_top = 0.9;
    let problem = problem(Dirichlet { potential: 0.0 }, Dirichlet { potential: v_top });
    let (assembly, phi) = solve(&mesh, &problem, &mut CpuSolver);
    assert_series_answer(&mesh, &problem, &assembly, &phi, v_top / (T1 / S1 + R + T2 / S2));
}

#[test]
fn robin_contact_and_resistive_plane_add_in_series() {
    let mesh = split_slab();
    let (contact, v_electrode, v_top) = (1.5, -0.2, 0.9);
    let problem =
        problem(Robin { resistance: contact, electrode_potential: v_electrode }, Dirichlet { potential: v_top });
    let (assembly, phi) = solve(&mesh, &problem, &mut CpuSolver);
    assert_series_answer(&mesh, &problem, &assembly, &phi, (v_top - v_electrode) / (contact + T1 / S1 + R + T2 / S2));

    // An applied current instead: the drop is J times the series resistance.
    let j = 0.7;
    let problem = self::problem(Dirichlet { potential: 0.0 }, Neumann { inward_current_density: j });
    let (assembly, phi) = solve(&mesh, &problem, &mut CpuSolver);
    assert_series_answer(&mesh, &problem, &assembly, &phi, j);
    let top = mesh.nodes.iter().position(|p| p.z == T1 + T2).unwrap();
    assert!(relative_error(phi[top], j * (T1 / S1 + R + T2 / S2)) < 1e-8, "top potential {}", phi[top]);
}

#[test]
fn reduced_matrix_is_symmetric_and_couples_the_two_sides() {
    let mesh = split_slab();
    let problem = problem(Dirichlet { potential: 0.0 }, Neumann { inward_current_density: 1.0 });
    let assembly = assemble(&mesh, &problem).unwrap();
    let m = &assembly.matrix;
    let entry = |i: usize, j: u32| {
        let cols = &m.col_idx[m.row_ptr[i]..m.row_ptr[i + 1]];
        cols.binary_search(&j).ok().map(|k| m.values[m.row_ptr[i] + k])
    };
    for i in 0..m.nrows {
        for k in m.row_ptr[i]..m.row_ptr[i + 1] {
            let transposed = entry(m.col_idx[k] as usize, i as u32).expect("symmetric pattern");
            assert!((m.values[k] - transposed).abs() <= 1e-14 * m.values[k].abs().max(1.0), "({i}, {})", m.col_idx[k]);
        }
    }
    // Below and above copy of one point: the coupling -(1/R) x (face mass row sum) is their only link.
    let column = |node: u32| assembly.free_nodes.binary_search(&node).unwrap();
    let face = mesh.interface_faces[0];
    let coupling = entry(column(face.below[0]), column(face.above[0]) as u32).expect("coupling in the pattern");
    assert!(coupling < 0.0, "{coupling}");
}

/// The slab as a case: 20 nm Li3Sb on LLZO with the paper's interfacial resistance, Li contact 0 V, 10 mV top.
const SLAB_CASE: &str = r#"
[domain]
size = ["0.5 um", "0.5 um", "1 um"]
material = "llzo"

[[layers]]
material = "li3sb"
thickness = "20 nm"
top_resistance = "0.13 Ohm cm^2"

[materials.llzo]
conductivity = "0.00216 S/cm"

[materials.li3sb]
conductivity = "2e-4 S/cm"

[boundaries.interface]
type = "dirichlet"
potential = "0 V"

[boundaries.top]
type = "dirichlet"
potential = "10 mV"

[mesh]
h_max = "0.25 um"
h_interface = "20 nm"
h_min = "20 nm"

[solver]
rtol = 1e-12
"#;

#[test]
fn case_with_top_resistance_solves_to_the_series_formula_and_reports_the_interface() {
    let case = Case::from_toml_str(SLAB_CASE, "slab case", &[]).unwrap();
    let solution = pipeline::solve_case_with(&case, &mut CpuSolver, &RunOptions::default()).unwrap();
    let j = 0.01 / (20e-9 / 0.02 + 0.13e-4 + 0.98e-6 / 0.216);
    let area = 0.25e-12;
    let summary = pipeline::summarize(&case, &solution);
    let [interface] = &summary.interfaces[..] else { panic!("one interface: {:?}", summary.interfaces) };
    assert_eq!(interface.name, "li3sb|llzo");
    assert!(relative_error(interface.resistance_ohm_m2, 0.13e-4) < 1e-12, "{}", interface.resistance_ohm_m2);
    assert!(relative_error(interface.current_a, -j * area) < 1e-8, "{} vs {}", interface.current_a, -j * area);
    assert!(relative_error(interface.potential_jump_v, j * 0.13e-4) < 1e-8, "{}", interface.potential_jump_v);
    assert!(relative_error(solution.boundary_currents[0], j * area) < 1e-8, "{}", solution.boundary_currents[0]);
    assert!(summary.conservation.relative_imbalance < 1e-8, "{:?}", summary.conservation);
}

#[test]
fn hot_spot_touching_a_resistive_plane_is_refused_naming_the_layer() {
    let text = format!(
        "{SLAB_CASE}\n[[hotspots]]\nname = \"sb\"\nshape = \"sphere\"\ncenter = [\"0.25 um\", \"0.25 um\", \"15 nm\"]\n\
         radius = \"6 nm\"\n[boundaries.sb]\ntype = \"dirichlet\"\npotential = \"0.9 V\"\n"
    );
    // Refused with the case, pointing at the hot spot's line, before any meshing.
    let err = Case::from_toml_str(&text, "touching", &["mesh.h_min=1 nm".into()]).expect_err("refused").to_string();
    assert!(err.contains("`sb`") && err.contains("layer 0 (`li3sb`)") && err.contains("resistive"), "{err}");
    assert!(err.contains("touching, line ") && err.contains("hotspots[0]"), "{err}");
}

#[test]
fn paper_hot_spot_inside_the_interlayer_solves_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    // Coarser than the case file away from the hot spot, so that the test stays short.
    let coarse = ["--set", "mesh.h_max=0.5 um", "--set", "mesh.h_interface=10 nm", "--set", "mesh.grading=1.5"];
    let case = concat!(env!("CARGO_MANIFEST_DIR"), "/meshes/interlayer_hotspot.toml");
    let solve = ["solve", case, "--quiet", "--backend", "cpu", "--out", "out"];
    let out = ionflux(&[&solve[..], &coarse[..]].concat(), dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = read_summary(&dir.path().join("out/summary.json"));
    println!("{}", serde_json::to_string_pretty(&summary).unwrap());
    let imbalance = summary["conservation"]["relative_imbalance"].as_f64().unwrap();
    assert!(imbalance < 1e-8, "conservation {imbalance:e}");
    // The hot spot at 0.90 V feeds current into the cell: negative current leaving through it.
    let hotspot = summary["hotspots"][0]["current_A"].as_f64().unwrap();
    assert!(hotspot.is_finite() && hotspot < 0.0, "hot-spot current {hotspot}");
    // 50 mA/cm^2 over 2 x 2 um comes down through the interface (the hot spot adds to it), with a jump ~ J R.
    let interface = &summary["interfaces"][0];
    assert_eq!(interface["name"], "li3sb|llzo");
    let applied = 500.0 * 4e-12;
    let crossing = interface["current_A"].as_f64().unwrap();
    assert!((crossing + applied).abs() < 0.01 * applied, "interface current {crossing} vs {}", -applied);
    let jump = interface["potential_jump_V"].as_f64().unwrap();
    assert!(relative_error(jump, 500.0 * 0.13e-4) < 0.01, "jump {jump}");
    assert!(dir.path().join("out/solution.vtu").exists());
}

#[test]
fn gpu_solves_the_split_slab_to_the_series_formula() {
    let Some(context) = ionflux::gpu::test_context() else { return };
    let mesh = split_slab();
    let v_top = 0.9;
    let problem = problem(Dirichlet { potential: 0.0 }, Dirichlet { potential: v_top });
    let mut solver = ionflux::gpu::GpuSolver::new(&context, ionflux::solver::settings::Precision::Mixed);
    let (assembly, phi) = solve(&mesh, &problem, &mut solver);
    assert_series_answer(&mesh, &problem, &assembly, &phi, v_top / (T1 / S1 + R + T2 / S2));
}
