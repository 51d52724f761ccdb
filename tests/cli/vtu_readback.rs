//! The written VTU is read back by an independent reader (the real VTK library, through
//! tests/python/read_vtu.py) and its arrays carry the right names, sizes and exact values.

use ionflux::app::pipeline::{self, RunOptions};
use ionflux::case::{Case, OutputSettings, VtuFields};
use ionflux::solver::cpu::CpuSolver;
use serde_json::Value;

use crate::common::{python_check, SLAB};

const SIGMA: f64 = 0.216; // S/m
const VOLTS: f64 = 0.1;
const HEIGHT: f64 = 2e-6;

/// The VTU as the real VTK reader sees it; None (skipped) without VTK.
fn read_with_vtk(path: &std::path::Path) -> Option<Value> {
    python_check("read_vtu.py", &[path.as_os_str()], &["vtk"])
}

fn floats(v: &Value) -> Vec<f64> {
    v["values"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[test]
fn vtk_reads_solution_with_exact_slab_fields() {
    let case = Case::from_toml_str(SLAB, "readback.toml", &[]).unwrap();
    let solution = pipeline::solve_case_with(&case, &mut CpuSolver, &RunOptions::default()).unwrap();
    let summary = pipeline::summarize(&case, &solution);
    // Both encodings of the appended arrays: zlib blocks (the default) and raw.
    for compress_vtu in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let written = pipeline::write_outputs(
            dir.path(),
            &OutputSettings {
                vtu: true,
                summary_json: true,
                compress_vtu,
                fields: VtuFields { cell_j: true, ..VtuFields::DEFAULT },
            },
            &solution,
            &summary,
        )
        .unwrap();
        assert_eq!(written.len(), 2);

        let Some(vtk) = read_with_vtk(&dir.path().join("solution.vtu")) else { return };
        let compressed =
            std::fs::read(dir.path().join("solution.vtu")).unwrap().windows(21).any(|w| w == b"vtkZLibDataCompressor");
        assert_eq!(compressed, compress_vtu);
        let (nodes, tets) = (solution.mesh.nodes.len(), solution.mesh.tets.len());
        let points: Vec<f64> = vtk["points"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        assert_eq!(points.len(), 3 * nodes);
        assert!(vtk["cell_types"].as_array().unwrap().iter().all(|t| t.as_u64() == Some(10)));
        assert_eq!(vtk["cell_types"].as_array().unwrap().len(), tets);

        let pd = &vtk["point_data"];
        let mut names: Vec<&String> = pd.as_object().unwrap().keys().collect();
        names.sort();
        assert_eq!(names, ["J", "J_magnitude", "phi"]);
        let cd = &vtk["cell_data"];
        let mut names: Vec<&String> = cd.as_object().unwrap().keys().collect();
        names.sort();
        assert_eq!(names, ["J", "region", "sigma"]);

        // phi is exactly linear in z at the points VTK read back: phi = V z / H.
        let phi = floats(&pd["phi"]);
        assert_eq!(phi.len(), nodes);
        for (k, value) in phi.iter().enumerate() {
            let z = points[3 * k + 2];
            assert!((value - VOLTS * z / HEIGHT).abs() < 1e-10 * VOLTS, "phi at z = {z}: {value}");
        }
        // J = -sigma grad phi = (0, 0, -sigma V / H) in every cell and at every node.
        let jz = -SIGMA * VOLTS / HEIGHT;
        for (array, count) in [(&pd["J"], nodes), (&cd["J"], tets)] {
            assert_eq!(array["components"], 3);
            assert_eq!(array["tuples"].as_u64().unwrap() as usize, count);
            for j in floats(array).chunks(3) {
                assert!(j[0].abs() < 1e-8 * jz.abs() && j[1].abs() < 1e-8 * jz.abs());
                assert!((j[2] - jz).abs() < 1e-8 * jz.abs(), "J_z = {}", j[2]);
            }
        }
        assert!(floats(&cd["sigma"]).iter().all(|s| (s - SIGMA).abs() < 1e-12 * SIGMA));
        assert!(floats(&cd["region"]).iter().all(|&r| r == 0.0));
        // The region index's meaning travels with the file (field data), as VTK reads it.
        let names: Vec<String> = solution.mesh.region_names.clone();
        assert_eq!(vtk["field_strings"]["region_names"], serde_json::json!(names), "{}", vtk["field_strings"]);
        assert!(!names.is_empty());

        // summary.json carries the documented keys with the run's numbers.
        let text = std::fs::read_to_string(dir.path().join("summary.json")).unwrap();
        let s: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(s["mesh"]["nodes"].as_u64().unwrap() as usize, nodes);
        assert_eq!(s["mesh"]["tets"].as_u64().unwrap() as usize, tets);
        assert_eq!(s["solver"]["backend"], "cpu");
        assert_eq!(s["solver"]["precision"], "f64");
        assert!(s["solver"]["relative_residual"].as_f64().unwrap() <= case.solver.rtol);
        let area = 1e-12;
        let expected = SIGMA * VOLTS * area / HEIGHT;
        let current = |name: &str| {
            s["boundaries"].as_array().unwrap().iter().find(|b| b["name"] == name).unwrap()["current_A"]
                .as_f64()
                .unwrap()
        };
        assert!((current("interface") - expected).abs() < 1e-8 * expected);
        assert!((current("top") + expected).abs() < 1e-8 * expected);
    }
}

#[test]
fn vtk_reads_mesh_with_region_and_boundary_tags() {
    let case = Case::from_toml_str(SLAB, "readback.toml", &[]).unwrap();
    let (mesh, _) = pipeline::mesh_case(&case, &RunOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mesh.vtu");
    ionflux::io::vtu::write_mesh(&path, &mesh).unwrap();
    let Some(vtk) = read_with_vtk(&path) else { return };
    let types = vtk["cell_types"].as_array().unwrap();
    assert_eq!(types.len(), mesh.tets.len() + mesh.boundary_faces.len());
    assert_eq!(types.iter().filter(|t| t.as_u64() == Some(5)).count(), mesh.boundary_faces.len());
    let boundary = floats(&vtk["cell_data"]["boundary"]);
    for (k, face) in mesh.boundary_faces.iter().enumerate() {
        assert_eq!(boundary[mesh.tets.len() + k], face.tag as f64);
    }
    assert!(boundary[..mesh.tets.len()].iter().all(|&b| b == -1.0));
    assert_eq!(vtk["field_strings"]["boundary_names"], serde_json::json!(mesh.boundary_names));
    assert_eq!(vtk["field_strings"]["region_names"], serde_json::json!(mesh.region_names));
}

/// `ionflux mesh --out X.msh` (binary and `--ascii`): meshio reads every node, every tet of each region and every
/// face of each boundary under the physical group named after it, and the tets fill the box.
#[test]
fn meshio_reads_our_msh_files_with_named_groups() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sphere.toml"), crate::common::SPHERE_CASE).unwrap();
    let case = Case::from_toml_str(crate::common::SPHERE_CASE, "sphere.toml", &[]).unwrap();
    let (mesh, _) = pipeline::mesh_case(&case, &RunOptions::default()).unwrap();
    for (file, extra) in [("binary.msh", None), ("text.msh", Some("--ascii"))] {
        let mut args = vec!["mesh", "sphere.toml", "--out", file, "-q"];
        args.extend(extra);
        let out = crate::common::ionflux(&args, dir.path());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let path = dir.path().join(file);
        let Some(read) = python_check("read_msh.py", &[path.as_os_str()], &["meshio"]) else { return };
        assert_eq!(read["nodes"].as_u64(), Some(mesh.nodes.len() as u64), "{file}");
        for (r, name) in mesh.region_names.iter().enumerate() {
            let tets = mesh.tet_region.iter().filter(|&&t| t as usize == r).count() as u64;
            assert_eq!(read["groups"][name], serde_json::json!([r + 1, 3]), "{file}: {name}");
            assert_eq!(read["elements"][format!("tetra:{}", r + 1)].as_u64().unwrap_or(0), tets, "{file}: {name}");
        }
        for (b, name) in mesh.boundary_names.iter().enumerate() {
            let faces = mesh.boundary_faces.iter().filter(|f| f.tag as usize == b).count() as u64;
            assert_eq!(read["groups"][name], serde_json::json!([b + 1, 2]), "{file}: {name}");
            assert_eq!(read["elements"][format!("triangle:{}", b + 1)].as_u64().unwrap_or(0), faces, "{file}: {name}");
        }
        // The 1 um box less the 20 nm sphere.
        let expected = 1e-18 - 4.0 / 3.0 * std::f64::consts::PI * 20e-9f64.powi(3);
        let volume = read["volume"].as_f64().unwrap();
        assert!((volume - expected).abs() < 1e-3 * expected, "{file}: volume {volume:e} vs {expected:e}");
    }
}

/// A slab with Butler-Volmer kinetics at its bottom: the kinetic faces follow the tets as triangles whose `eta` and
/// `j_out` are the exact overpotential and the applied current density (null on the tets), and the tets' fields
/// stay as they were.
#[test]
fn vtk_reads_the_kinetic_faces_with_their_overpotential_and_current_density() {
    let (j, i0, vt): (f64, f64, f64) = (50.0, 10.0, 8.314_462_618 * 348.0 / 96_485.332_12);
    let text = SLAB.replacen(
        "type = \"dirichlet\"\npotential = \"0 V\"",
        &format!("type = \"butler_volmer\"\nexchange_current_density = \"{i0} A/m^2\""),
        1,
    );
    let text = text.replacen(
        "type = \"dirichlet\"\npotential = \"0.1 V\"",
        &format!("type = \"neumann\"\ncurrent_density = \"{j} A/m^2\""),
        1,
    );
    assert!(text.contains("butler_volmer") && text.contains("neumann"), "SLAB changed: {text}");
    let case = Case::from_toml_str(&format!("temperature = \"348 K\"\n{text}"), "kinetic.toml", &[]).unwrap();
    let solution = pipeline::solve_case_with(&case, &mut CpuSolver, &RunOptions::default()).unwrap();
    let summary = pipeline::summarize(&case, &solution);
    let dir = tempfile::tempdir().unwrap();
    pipeline::write_outputs(
        dir.path(),
        &OutputSettings { vtu: true, summary_json: false, compress_vtu: true, fields: VtuFields::DEFAULT },
        &solution,
        &summary,
    )
    .unwrap();
    let Some(vtk) = read_with_vtk(&dir.path().join("solution.vtu")) else { return };
    let tets = solution.mesh.tets.len();
    let types: Vec<u64> = vtk["cell_types"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap()).collect();
    let triangles = types.len() - tets;
    assert!(triangles > 0 && types[..tets].iter().all(|&t| t == 10) && types[tets..].iter().all(|&t| t == 5));
    // The bottom's overpotential inverts the law at j: i0 (exp(-eta / 2 V_T) - exp(eta / 2 V_T)) = j.
    let eta_exact = -2.0 * vt * (j / (2.0 * i0)).asinh();
    let cd = &vtk["cell_data"];
    for (name, want) in [("eta", eta_exact), ("j_out", j)] {
        let values = cd[name]["values"].as_array().unwrap();
        assert_eq!(values.len(), tets + triangles);
        assert!(values[..tets].iter().all(|v| v.is_null()), "{name} is null on the tets");
        for v in &values[tets..] {
            let v = v.as_f64().unwrap();
            assert!((v - want).abs() < 1e-8 * want.abs(), "{name}: {v} vs {want}");
        }
    }
    let region: Vec<i64> = cd["region"]["values"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    assert!(region[..tets].iter().all(|&r| r == 0) && region[tets..].iter().all(|&r| r == -1));
}

/// The default case's solution.vtu: zlib blocks and the default fields keep it under 15 MB (51 MB raw with the
/// per-tet J); VTK reads it, with the region names; `[output] fields` chooses the arrays, and an unknown one is an
/// error naming the key.
#[test]
fn the_default_cases_vtu_is_small_and_fields_are_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::common::ionflux(&["solve", "--out", "default", "--backend", "cpu", "-q"], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let path = dir.path().join("default/solution.vtu");
    let bytes = std::fs::metadata(&path).unwrap().len();
    assert!(bytes < 15_000_000, "{bytes} bytes");
    let set = "output.fields=[\"phi\", \"cell_J\"]";
    let out = crate::common::ionflux(&["solve", "--out", "chosen", "--backend", "cpu", "-q", "--set", set], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bad = "output.fields=[\"phi\", \"current\"]";
    let out = crate::common::ionflux(&["solve", "--out", "bad", "-q", "--set", bad], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("output.fields") && stderr.contains("`current`"), "{stderr}");
    assert!(stderr.contains("cell_J"), "the known names are listed: {stderr}");
    let Some(vtk) = read_with_vtk(&path) else { return };
    let keys = |data: &Value| -> Vec<String> {
        let mut names: Vec<String> = data.as_object().unwrap().keys().cloned().collect();
        names.sort();
        names
    };
    assert_eq!(keys(&vtk["point_data"]), ["J", "J_magnitude", "phi"]);
    assert_eq!(keys(&vtk["cell_data"]), ["region", "sigma"]);
    assert_eq!(vtk["field_strings"]["region_names"], serde_json::json!(["llzo"]));
    let Some(chosen) = read_with_vtk(&dir.path().join("chosen/solution.vtu")) else { return };
    assert_eq!(keys(&chosen["point_data"]), ["phi"]);
    assert_eq!(keys(&chosen["cell_data"]), ["J"]);
}
