//! Meshes from Gmsh MSH 4.1 files (`[mesh] file`): the committed Gmsh mesh of the paper's hot spot against the
//! exact sphere-over-plane current and against scikit-fem on the same mesh, the measurement surfaces' currents
//! against the boundary currents they must equal, and our own meshes written as MSH and read back.

use crate::common::python_check;
use ionflux::app::pipeline::{self, RunOptions, Solution};
use ionflux::case::{Case, DEFAULT_CASE_TOML, DEFAULT_SOURCE};
use ionflux::fem::{self, post, BoundaryCondition, Problem};
use ionflux::io::msh::{write_msh, MshEncoding};
use ionflux::mesh::gmsh::read_msh;
use ionflux::mesh::structured::{tensor_box, uniform_line};
use ionflux::mesh::{MeasureSurface, OUTWARD_FACES};
use ionflux::solver::cpu::CpuSolver;
use ionflux::solver::{CgOptions, SymmetricSolver};
use std::f64::consts::PI;
use std::path::{Path, PathBuf};

fn meshes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("meshes")
}

/// The committed Gmsh case (meshes/sphere_in_box.toml), solved on the CPU to rtol 1e-12.
fn solve_sphere_in_box(extra: &[&str]) -> (Case, Solution) {
    let mut set = vec!["solver.backend=\"cpu\"".to_string(), "solver.rtol=1e-12".to_string()];
    set.extend(extra.iter().map(|s| s.to_string()));
    let case = Case::load(&meshes_dir().join("sphere_in_box.toml"), &set).unwrap();
    let solution = pipeline::solve_case_with(&case, &mut CpuSolver, &RunOptions::default()).unwrap();
    (case, solution)
}

fn current(solution: &Solution, name: &str) -> f64 {
    solution.boundary_currents
        [solution.mesh.boundary_tag(name).unwrap_or_else(|| panic!("no boundary {name}")) as usize]
}

/// The hot spot of the paper (a = 10 nm, centre h = 25 nm above the 0 V plane, U = 0.90 V) on Gmsh's mesh carries
/// the exact bispherical current I = 4 pi sigma a U sinh(alpha) sum 1/sinh(n alpha), cosh(alpha) = h / a, within
/// 2 % (measured -0.32 % on 15 k nodes; the inscribed polyhedral sphere is 0.15 % smaller in volume). The closed
/// measurement surface `shell` around it carries the same current as the hot spot puts in, to solver precision,
/// and the hole's volume from its surface is the box's less the mesh's.
#[test]
fn gmsh_mesh_of_the_hot_spot_gives_the_sphere_over_plane_current() {
    let (case, solution) = solve_sphere_in_box(&["analysis.lithiation=true"]);
    let (a, h, sigma, u): (f64, f64, f64, f64) = (10e-9, 25e-9, 0.216, 0.90);
    let alpha = (h / a).acosh();
    let series: f64 = (1..60).map(|n| 1.0 / (n as f64 * alpha).sinh()).sum();
    let exact = 4.0 * PI * sigma * a * u * alpha.sinh() * series;
    let injected = -current(&solution, "hotspot");
    let error = injected / exact - 1.0;
    println!(
        "Gmsh hot spot: {} nodes, {injected:.6e} A, exact {exact:.6e} A, error {:+.3} %",
        solution.mesh.nodes.len(),
        100.0 * error
    );
    assert!(error.abs() < 0.02, "{:+.3} %", 100.0 * error);

    assert_eq!(solution.mesh.surfaces.len(), 1);
    assert!(solution.mesh.surfaces[0].orientation.starts_with("outward"), "{}", solution.mesh.surfaces[0].orientation);
    let shell = solution.surface_currents[0];
    println!("shell: {shell:.12e} A against {injected:.12e} A");
    assert!((shell - injected).abs() < 1e-9 * injected, "shell {shell:e} vs injected {injected:e}");
    let sum: f64 = solution.boundary_currents.iter().sum();
    assert!(sum.abs() < 1e-9 * injected, "boundary currents sum to {sum:e} A");

    let tag = solution.mesh.boundary_tag("hotspot").unwrap();
    let hole = solution.mesh.hole_volume(tag).expect("the hot spot is a closed hole");
    let by_difference = 200e-9 * 200e-9 * 100e-9 - solution.mesh.volume();
    assert!((hole - by_difference).abs() < 1e-9 * hole, "hole {hole:e} vs box - mesh {by_difference:e}");
    assert!((hole / (4.0 / 3.0 * PI * a.powi(3)) - 1.0).abs() < 0.01, "hole volume {hole:e} m^3");
    assert!(solution.mesh.hole_volume(solution.mesh.boundary_tag("interface").unwrap()).is_none());
    // Lithiation of the hole: its volume, and the solved current at the case's potential.
    let first = &solution.analysis.lithiation[0];
    assert_eq!(first.hotspot, "hotspot");
    assert!((first.volume_m3 - hole).abs() < 1e-9 * hole, "{} vs {hole}", first.volume_m3);
    assert!((first.current_A - injected).abs() < 1e-9 * injected);
    assert_eq!(case.mesh_file().unwrap().unit_m, 1e-9);
}

/// scikit-fem assembles and solves the same P1 problem on the same Gmsh mesh (read by meshio): every Dirichlet
/// group's current agrees within 1e-6 relative (measured 2e-11).
#[test]
fn gmsh_mesh_currents_agree_with_scikit_fem_on_the_same_mesh() {
    let (_, solution) = solve_sphere_in_box(&[]);
    let msh = meshes_dir().join("sphere_in_box.msh");
    let args = ["1e-9", "0.216", "interface=0", "hotspot=0.9"].map(std::ffi::OsStr::new);
    let mut all = vec![msh.as_os_str()];
    all.extend(args);
    let Some(skfem) = python_check("skfem_currents.py", &all, &["skfem", "meshio"]) else { return };
    assert_eq!(skfem["nodes"].as_u64(), Some(solution.mesh.nodes.len() as u64));
    assert_eq!(skfem["tets"].as_u64(), Some(solution.mesh.tets.len() as u64));
    for name in ["interface", "hotspot"] {
        let theirs = skfem["currents_A"][name].as_f64().unwrap();
        let ours = current(&solution, name);
        println!("{name}: ionflux {ours:.12e} A, scikit-fem {theirs:.12e} A");
        assert!((ours - theirs).abs() < 1e-6 * theirs.abs(), "{name}: {ours:e} vs {theirs:e}");
    }
}

/// Our default case written as MSH (ASCII and binary) and read back as a case with `[mesh] file` gives the same
/// currents within 1e-10 of the largest.
#[test]
fn default_case_round_trips_through_msh_in_ascii_and_binary() {
    let set = ["solver.backend=\"cpu\"".to_string(), "solver.rtol=1e-12".to_string()];
    let case = Case::from_toml_str(DEFAULT_CASE_TOML, DEFAULT_SOURCE, &set).unwrap();
    let original = pipeline::solve_case_with(&case, &mut CpuSolver, &RunOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let largest = original.boundary_currents.iter().fold(0.0f64, |m, c| m.max(c.abs()));
    for (file, encoding) in [("default_ascii.msh", MshEncoding::Ascii), ("default_binary.msh", MshEncoding::Binary)] {
        let path = dir.path().join(file);
        write_msh(&path, &original.mesh, encoding).unwrap();
        // The default case with the file in place of the generator's keys.
        let text = DEFAULT_CASE_TOML
            .split("\n[")
            .filter(|section| !["domain]", "[hotspots]]", "mesh]"].iter().any(|s| section.starts_with(s)))
            .collect::<Vec<_>>()
            .join("\n[");
        let text = format!(
            "{text}\n[mesh]\nfile = \"{}\"\nunit = \"m\"\n[regions.llzo]\nmaterial = \"llzo\"\n",
            path.display()
        );
        let imported = Case::from_toml_str(&text, "round trip", &set).unwrap();
        let solution = pipeline::solve_case_with(&imported, &mut CpuSolver, &RunOptions::default()).unwrap();
        assert_eq!(solution.mesh.nodes.len(), original.mesh.nodes.len(), "{file}");
        for (tag, name) in original.mesh.boundary_names.iter().enumerate() {
            let (before, after) = (original.boundary_currents[tag], current(&solution, name));
            println!("{file} {name}: {before:.15e} -> {after:.15e} A");
            assert!((before - after).abs() <= 1e-10 * largest, "{file} {name}: {before:e} vs {after:e}");
        }
    }
}

/// A plane across a box of two conductivities (a checkerboard of 1 and 10 S/m, 0 V at the interface, 1 V at the
/// top, a Robin side): the current through the plane, upward, equals what the boundary faces below it take in,
/// to solver precision (the consistent flux is exact for any surface that splits the domain). The plane travels
/// through an MSH file as an interior surface group, in both encodings.
#[test]
fn a_measurement_plane_carries_the_current_of_the_boundaries_below_it() {
    let line = uniform_line(0.0, 1.0, 6);
    let mut mesh = tensor_box(&line, &line, &line);
    let plane_z = line[3];
    for (t, region) in mesh.tet_region.iter_mut().enumerate() {
        let c = mesh.tets[t].iter().fold(glam::DVec3::ZERO, |s, &n| s + mesh.nodes[n as usize]) / 4.0;
        *region = (((c.x * 6.0) as i32 + (c.y * 6.0) as i32 + (c.z * 6.0) as i32) % 2) as u16;
    }
    mesh.region_names = vec!["low".into(), "high".into()];
    // The plane's faces: tet faces with all nodes at z = plane_z, oriented +z.
    let mut faces = Vec::new();
    for (t, tet) in mesh.tets.iter().enumerate() {
        for local in OUTWARD_FACES {
            let face = local.map(|i| tet[i]);
            let points = face.map(|n| mesh.nodes[n as usize]);
            let normal = (points[1] - points[0]).cross(points[2] - points[0]);
            // Each plane face once: as the outward face of the tet below it.
            if points.iter().all(|p| p.z == plane_z) && normal.z > 0.0 {
                faces.push(face);
                assert!(mesh.tet_points(t).iter().all(|p| p.z <= plane_z));
            }
        }
    }
    assert_eq!(faces.len(), 2 * 6 * 6);
    mesh.surfaces.push(MeasureSurface { name: "plane".into(), faces, orientation: "+z".into() });

    let dir = tempfile::tempdir().unwrap();
    for encoding in [MshEncoding::Ascii, MshEncoding::Binary] {
        let path = dir.path().join("plane.msh");
        write_msh(&path, &mesh, encoding).unwrap();
        let read = read_msh(&path, 1.0).unwrap().mesh;
        assert_eq!(read.surfaces.len(), 1, "the plane is a measurement surface");
        assert!(read.surfaces[0].orientation.contains("along the normal"), "{}", read.surfaces[0].orientation);
        let conditions: Vec<BoundaryCondition> = read
            .boundary_names
            .iter()
            .map(|name| match name.as_str() {
                "interface" => BoundaryCondition::Dirichlet { potential: 0.0 },
                "top" => BoundaryCondition::Dirichlet { potential: 1.0 },
                "x_min" => BoundaryCondition::Robin { resistance: 0.2, electrode_potential: 0.3 },
                _ => BoundaryCondition::Insulating,
            })
            .collect();
        let coefficient: Vec<f64> = read.region_names.iter().map(|r| if r == "high" { 10.0 } else { 1.0 }).collect();
        let problem = Problem {
            region_coefficient: coefficient.clone(),
            boundary_conditions: conditions,
            interface_resistance: Vec::new(),
            source: None,
        };
        let assembly = fem::assemble(&read, &problem).unwrap();
        let mut x = vec![0.0; assembly.matrix.nrows];
        let options = CgOptions { rtol: 1e-13, ..CgOptions::default() };
        CpuSolver.solve(&assembly.matrix, &assembly.rhs, &mut x, &options).unwrap();
        let phi = assembly.expand(&x);
        let outflows = fem::FluxRecovery::new(&read, &problem, &assembly).face_outflows(&phi);
        let cells = post::cell_current_density(&read, &coefficient, &phi);
        let through = post::surface_currents(&read, &cells, &outflows)[0];
        // Orientation: along the normal of the file's first triangle, +z here (the writer keeps ours).
        let below: f64 = read
            .boundary_faces
            .iter()
            .zip(&outflows)
            .filter(|(f, _)| f.nodes.iter().all(|&n| read.nodes[n as usize].z <= plane_z))
            .map(|(_, q)| q.iter().sum::<f64>())
            .sum();
        println!("{encoding:?}: plane {through:.12e} A upward, boundaries below take in {:.12e} A", -below);
        assert!(through.abs() > 0.1, "a real current: {through}");
        assert!((through + below).abs() < 1e-9 * through.abs(), "{through:e} vs {:e}", -below);
    }
}

/// Butler-Volmer kinetics on a Gmsh mesh's surface group: the paper's hot spot of meshes/sphere_in_box.msh with
/// i0 = 1e11 A/m^2 carries the fixed-potential current on the same mesh within 0.1 %, and with i0 = 1 mA/cm^2 a
/// kinetically limited one whose measurement shell carries what the hot spot puts in.
#[test]
fn butler_volmer_on_a_gmsh_surface_group() {
    let (_, fixed) = solve_sphere_in_box(&[]);
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(meshes_dir().join("sphere_in_box.toml")).unwrap();
    let msh = meshes_dir().join("sphere_in_box.msh");
    let kinetic = |i0: &str| {
        let case =
            text.replace("file = \"sphere_in_box.msh\"", &format!("file = {:?}", msh.to_str().unwrap())).replace(
                "type = \"dirichlet\"\npotential = \"0.90 V\"",
                &format!(
                    "type = \"butler_volmer\"\nexchange_current_density = \"{i0}\"\nelectrode_potential = \"0.90 V\""
                ),
            );
        assert!(case.contains("butler_volmer"), "the hot spot's table changed: {case}");
        let path = dir.path().join("case.toml");
        std::fs::write(&path, format!("temperature = \"348 K\"\n{case}")).unwrap();
        let case = Case::load(&path, &["solver.rtol=1e-12".to_string()]).unwrap();
        pipeline::solve_case_with(&case, &mut CpuSolver, &RunOptions::default()).unwrap()
    };
    let fast = kinetic("1e11 A/m^2");
    assert_eq!(fast.mesh.nodes.len(), fixed.mesh.nodes.len());
    let (i_fixed, i_fast) = (current(&fixed, "hotspot"), current(&fast, "hotspot"));
    println!("Gmsh hot spot: fixed potential {i_fixed:e} A, i0 = 1e11 A/m^2 {i_fast:e} A");
    assert!((i_fast / i_fixed - 1.0).abs() < 1e-3, "{i_fast:e} vs {i_fixed:e}");
    let slow = kinetic("1 mA/cm^2");
    let i_slow = current(&slow, "hotspot");
    let shell = slow.surface_currents[0];
    println!("i0 = 1 mA/cm^2: {i_slow:e} A, shell {shell:e} A");
    assert!(i_slow.abs() < 0.5 * i_fixed.abs(), "kinetically limited: {i_slow:e}");
    assert!((shell.abs() / i_slow.abs() - 1.0).abs() < 1e-8, "shell {shell:e} vs hot spot {i_slow:e}");
}
