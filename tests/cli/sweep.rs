//! `ionflux sweep`: a sweep over a uniform slab, where every point has an exact answer
//! (I = sigma V A / H through the interface, P1-exact on any mesh), checked in sweep.csv; the PVD read
//! back by VTK; the PNG not blank; failed points recorded while the others run; the CLI end to end.

use crate::common::{decode_png, grey_variance, ionflux, python_check, read_summary, SLAB};
use ionflux::app::sweep::{run_sweep, split_csv_line, SweepError, SweepOptions, Vary};
use ionflux::app::CaseInput;
use std::path::Path;

/// The shared slab, solved on the CPU to a tight tolerance.
fn slab_text() -> String {
    format!("{SLAB}[solver]\nbackend = \"cpu\"\nrtol = 1e-12\n")
}

const SIGMA: f64 = 0.216;
const AREA: f64 = 1e-12;
const HEIGHT: f64 = 2e-6;

fn slab() -> CaseInput {
    CaseInput::Text { text: slab_text(), source: "sweep slab".to_string() }
}

fn options(dir: &Path) -> SweepOptions {
    SweepOptions { out_dir: dir.to_path_buf(), plot_columns: Vec::new(), progress: false, shard: None }
}

/// sweep.csv as a header and rows of fields (the test data have no quoted commas except in errors,
/// which are checked separately through the report).
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(str::to_string).collect();
    let rows = lines.map(split_csv_line).collect();
    (header, rows)
}

fn column<'a>(header: &[String], row: &'a [String], name: &str) -> &'a str {
    let index = header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    &row[index]
}

#[test]
fn five_point_potential_sweep_gives_exact_slab_currents_a_readable_pvd_and_a_plot() {
    let dir = tempfile::tempdir().unwrap();
    let vary = Vary::parse("boundaries.top.potential=0.1 V..0.5 V:5").unwrap();
    let report = run_sweep(&slab(), &[], &[vary], &options(dir.path())).unwrap();
    assert_eq!(report.points.len(), 5);
    // Only a potential varies: the sweep meshes once, and the later points report no meshing time.
    let reused: Vec<bool> = report.points.iter().map(|p| p.mesh_reused).collect();
    assert_eq!(reused, [false, true, true, true, true]);

    let (header, rows) = read_csv(&dir.path().join("sweep.csv"));
    assert_eq!(&header[..4], ["index", "status", "error", "boundaries.top.potential"]);
    assert_eq!(rows.len(), 5);
    for (k, row) in rows.iter().enumerate() {
        let potential = 0.1 + 0.1 * k as f64;
        assert_eq!(column(&header, row, "index"), k.to_string());
        assert_eq!(column(&header, row, "status"), "ok");
        let varied: f64 = column(&header, row, "boundaries.top.potential").parse().unwrap();
        assert!((varied - potential).abs() < 1e-15, "row {k}: {varied}");
        let expected = SIGMA * potential * AREA / HEIGHT;
        let interface: f64 = column(&header, row, "boundaries.interface.current_A").parse().unwrap();
        let top: f64 = column(&header, row, "boundaries.top.current_A").parse().unwrap();
        assert!((interface - expected).abs() < 1e-8 * expected, "row {k}: {interface} vs {expected}");
        assert!((top + expected).abs() < 1e-8 * expected, "row {k}: {top} vs {}", -expected);
        assert!(column(&header, row, "mesh.nodes").parse::<f64>().unwrap() > 8.0);
    }

    // VTK reads every data set of the collection; phi spans 0 .. the point's top potential.
    let (w, h, rgb) = decode_png(&dir.path().join("sweep.png"));
    assert_eq!((w, h), (900, 600));
    assert!(grey_variance(&rgb) > 100.0, "variance {}", grey_variance(&rgb));
    assert!(dir.path().join("point_4/summary.json").exists());

    let pvd = dir.path().join("sweep.pvd");
    let Some(read) = python_check("read_pvd.py", &[pvd.as_os_str()], &["vtk"]) else { return };
    let datasets = read["datasets"].as_array().unwrap();
    assert_eq!(datasets.len(), 5);
    for (k, d) in datasets.iter().enumerate() {
        let potential = 0.1 + 0.1 * k as f64;
        assert!((d["timestep"].as_f64().unwrap() - potential).abs() < 1e-12);
        assert_eq!(d["file"], format!("point_{k}/solution.vtu"));
        assert!(d["cells"].as_u64().unwrap() > 0);
        assert!(d["phi_min"].as_f64().unwrap().abs() < 1e-12);
        assert!((d["phi_max"].as_f64().unwrap() - potential).abs() < 1e-9 * potential);
    }
}

#[test]
fn log_spaced_mesh_sizes_and_a_product_of_two_keys() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = Vary::parse("mesh.h_max=0.25 um..1 um:3:log").unwrap();
    let potentials = Vary::parse("boundaries.top.potential=0.1 V..0.2 V:2").unwrap();
    let mut opts = options(dir.path());
    opts.plot_columns = vec!["boundaries.top.current_A".to_string()];
    let report = run_sweep(&slab(), &["output.vtu=false".to_string()], &[sizes, potentials], &opts).unwrap();
    // A new mesh for each size, reused for its second potential.
    let reused: Vec<bool> = report.points.iter().map(|p| p.mesh_reused).collect();
    assert_eq!(reused, [false, true, false, true, false, true]);
    let (header, rows) = read_csv(&dir.path().join("sweep.csv"));
    assert_eq!(rows.len(), 6);
    for (k, row) in rows.iter().enumerate() {
        let mesh_seconds: f64 = column(&header, row, "timings_s.mesh").parse().unwrap();
        assert_eq!(mesh_seconds == 0.0, reused[k], "row {k}: {mesh_seconds} s of meshing");
    }
    for (k, row) in rows.iter().enumerate() {
        let h_max: f64 = column(&header, row, "mesh.h_max").parse().unwrap();
        let potential: f64 = column(&header, row, "boundaries.top.potential").parse().unwrap();
        assert!((h_max - [0.25e-6, 0.5e-6, 1e-6][k / 2]).abs() < 1e-20, "row {k}: {h_max}");
        assert!((potential - [0.1, 0.2][k % 2]).abs() < 1e-15, "row {k}: {potential}");
        let expected = SIGMA * potential * AREA / HEIGHT;
        let interface: f64 = column(&header, row, "boundaries.interface.current_A").parse().unwrap();
        assert!((interface - expected).abs() < 1e-8 * expected, "row {k}: {interface} vs {expected}");
    }
    // Each point ran with its own mesh size: the longest edge stays within the Kuhn-cell bound of the
    // point's h_max (longest edge / mean edge = sqrt 3 / 1.26 < 1.5), and the finest mesh has the most nodes.
    for (k, row) in rows.iter().enumerate() {
        let h_max: f64 = column(&header, row, "mesh.h_max").parse().unwrap();
        let longest: f64 = column(&header, row, "mesh.longest_edge_m").parse().unwrap();
        assert!(longest <= 1.5 * h_max, "row {k}: longest edge {longest} for h_max {h_max}");
    }
    let nodes: Vec<f64> = rows.iter().map(|r| column(&header, r, "mesh.nodes").parse().unwrap()).collect();
    assert!(nodes[0] > nodes[4], "{nodes:?}");
    // No VTU asked for: no collection, but the plot exists.
    assert!(!dir.path().join("sweep.pvd").exists());
    assert!(grey_variance(&decode_png(&dir.path().join("sweep.png")).2) > 100.0);
}

#[test]
fn failed_points_are_recorded_and_the_others_still_run() {
    let dir = tempfile::tempdir().unwrap();
    // h_interface above h_max = 0.5 um is invalid: points 0.6 um and 0.8 um fail.
    let vary = Vary::parse("mesh.h_interface=0.2 um..0.8 um:4").unwrap();
    let report = run_sweep(&slab(), &[], &[vary], &options(dir.path())).unwrap();
    let failed: Vec<usize> = report.points.iter().filter(|p| p.outcome.is_err()).map(|p| p.index).collect();
    assert_eq!(failed, [2, 3]);
    let message = report.points[2].outcome.as_ref().unwrap_err();
    assert!(message.contains("h_interface"), "{message}");

    let (header, rows) = read_csv(&dir.path().join("sweep.csv"));
    assert_eq!(rows.len(), 4);
    for (k, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), header.len(), "row {k}");
        let interface = column(&header, row, "boundaries.interface.current_A");
        if k < 2 {
            assert_eq!(column(&header, row, "status"), "ok");
            assert_eq!(column(&header, row, "error"), "");
            let expected = SIGMA * 0.1 * AREA / HEIGHT;
            assert!((interface.parse::<f64>().unwrap() - expected).abs() < 1e-8 * expected);
        } else {
            assert_eq!(column(&header, row, "status"), "failed");
            assert_eq!(column(&header, row, "error"), report.points[k].outcome.as_ref().unwrap_err());
            assert_eq!(interface, "");
        }
    }
    let pvd = std::fs::read_to_string(dir.path().join("sweep.pvd")).unwrap();
    assert_eq!(pvd.matches("<DataSet").count(), 2);
    assert!(!dir.path().join("point_2").exists());
}

#[test]
fn a_sweep_where_no_point_loads_stops_before_solving_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let vary = Vary::parse("mesh.h_interface=0.6 um..0.8 um:2").unwrap();
    let err = run_sweep(&slab(), &[], &[vary], &options(&out)).unwrap_err();
    assert!(matches!(err, SweepError::NoPointLoads { .. }), "{err}");
    assert!(err.to_string().contains("h_interface"), "{err}");
    assert!(!out.exists());
}

/// With `[adapt]` every point adapts its own mesh (none is reused: the point's values decide where it refines):
/// a sphere over a grounded plane at two potentials, from a coarse mesh to 1 %. The current is linear in the
/// potential and so is the error, so both points meet the target on the same meshes.
#[test]
fn each_point_of_an_adaptive_sweep_adapts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let text = "[domain]\nsize = [\"1 um\", \"1 um\", \"1 um\"]\nmaterial = \"llzo\"\n[materials.llzo]\n\
                conductivity = \"0.00216 S/cm\"\n[boundaries.interface]\ntype = \"dirichlet\"\npotential = \"0 V\"\n\
                [[hotspots]]\nname = \"s\"\nshape = \"sphere\"\ncenter = [\"0.5 um\", \"0.5 um\", \"50 nm\"]\n\
                radius = \"20 nm\"\n[boundaries.s]\ntype = \"dirichlet\"\npotential = \"0.9 V\"\n\
                [mesh]\nh_max = \"0.25 um\"\nh_min = \"8 nm\"\ngrading = 1.4\n[solver]\nbackend = \"cpu\"\n\
                [adapt]\ntarget = \"1 %\"\n";
    let input = CaseInput::Text { text: text.into(), source: "adaptive sweep".into() };
    let vary = Vary::parse("boundaries.s.potential=0.5 V..1 V:2").unwrap();
    let report = run_sweep(&input, &[], &[vary], &options(&out)).unwrap();
    assert!(report.points.iter().all(|p| p.outcome.is_ok() && !p.mesh_reused), "{:?}", report.points);
    let cycles: Vec<Vec<u64>> = (0..2)
        .map(|k| {
            let summary = read_summary(&out.join(format!("point_{k}/summary.json")));
            assert_eq!(summary["adapt"]["met"], true, "{}", summary["adapt"]);
            let estimate = summary["hotspots"][0]["relative_error_estimate"].as_f64().unwrap();
            assert!(estimate <= 0.01, "point {k}: {estimate}");
            summary["adapt"]["cycles"].as_array().unwrap().iter().map(|c| c["nodes"].as_u64().unwrap()).collect()
        })
        .collect();
    assert!(cycles[0].len() >= 2, "{cycles:?}");
    assert_eq!(cycles[0], cycles[1]);
}

#[test]
fn an_unknown_plot_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let vary = Vary::parse("boundaries.top.potential=0.1 V..0.2 V:2").unwrap();
    let mut opts = options(dir.path());
    opts.plot_columns = vec!["hotspots.nowhere.current_A".to_string()];
    let err = run_sweep(&slab(), &["output.vtu=false".to_string()], &[vary], &opts).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("hotspots.nowhere.current_A") && message.contains("boundaries.top.current_A"),
        "{message}"
    );
}

#[test]
fn cli_sweep_writes_files_and_bad_specs_fail_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("slab.toml"), slab_text()).unwrap();
    let ionflux = |args: &[&str]| ionflux(args, dir.path());

    let out = ionflux(&[
        "sweep",
        "slab.toml",
        "--vary",
        "boundaries.top.potential=0.1 V..0.3 V:3",
        "--out",
        "res",
        "-q",
        "--vtu",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for file in ["sweep.csv", "sweep.pvd", "sweep.png", "point_2/solution.vtu", "point_2/summary.json"] {
        assert!(dir.path().join("res").join(file).exists(), "{file} missing");
    }
    let (header, rows) = read_csv(&dir.path().join("res/sweep.csv"));
    let interface: f64 = column(&header, &rows[2], "boundaries.interface.current_A").parse().unwrap();
    let expected = SIGMA * 0.3 * AREA / HEIGHT;
    assert!((interface - expected).abs() < 1e-8 * expected);

    let out = ionflux(&["sweep", "slab.toml", "--vary", "boundaries.top.potential=0.1 V..0.3 mV:3", "-q"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--vary `boundaries.top.potential=0.1 V..0.3 mV:3`") && stderr.contains("same unit"),
        "{stderr}"
    );

    let out = ionflux(&["sweep", "slab.toml", "--vary", "mesh.h_interface=0.6 um..0.8 um:2", "--out", "bad", "-q"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no sweep point can be loaded"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A log-spaced sweep over a Butler-Volmer boundary's exchange current density: one mesh for all points, and each
/// row's interface overpotential is the law's exact inverse at the applied current density (the slab with a
/// kinetic bottom and 50 A/m^2 in at the top).
#[test]
fn a_log_sweep_over_the_exchange_current_density_gives_exact_overpotentials() {
    let dir = tempfile::tempdir().unwrap();
    let text = slab_text()
        .replacen(
            "type = \"dirichlet\"\npotential = \"0 V\"",
            "type = \"butler_volmer\"\nexchange_current_density = \"1 A/m^2\"",
            1,
        )
        .replacen(
            "type = \"dirichlet\"\npotential = \"0.1 V\"",
            "type = \"neumann\"\ncurrent_density = \"50 A/m^2\"",
            1,
        );
    assert!(text.contains("butler_volmer") && text.contains("neumann"));
    let case = CaseInput::Text { text: format!("temperature = \"348 K\"\n{text}"), source: "kinetic slab".into() };
    let vary = Vary::parse("boundaries.interface.exchange_current_density=0.1 A/m^2..1000 A/m^2:5:log").unwrap();
    let overrides = ["output.vtu=false".to_string()];
    let report = run_sweep(&case, &overrides, &[vary], &options(dir.path())).unwrap();
    let reused: Vec<bool> = report.points.iter().map(|p| p.mesh_reused).collect();
    assert_eq!(reused, [false, true, true, true, true]);
    let (header, rows) = read_csv(&dir.path().join("sweep.csv"));
    let vt = 8.314_462_618 * 348.0 / 96_485.332_12;
    for (k, row) in rows.iter().enumerate() {
        let i0: f64 = column(&header, row, "boundaries.interface.exchange_current_density").parse().unwrap();
        assert!((i0 / 10f64.powi(k as i32 - 1) - 1.0).abs() < 1e-12, "row {k}: i0 {i0}");
        let eta: f64 = column(&header, row, "boundaries.interface.kinetics.mean_overpotential_V").parse().unwrap();
        // 50 = i0 (exp(-eta / 2 V_T) - exp(eta / 2 V_T)) = -2 i0 sinh(eta / 2 V_T).
        let exact = -2.0 * vt * (50.0 / (2.0 * i0)).asinh();
        assert!((eta - exact).abs() < 1e-8 * exact.abs(), "row {k}: eta {eta} vs {exact}");
    }
    assert!(grey_variance(&decode_png(&dir.path().join("sweep.png")).2) > 100.0);
}

/// `--shard K/N` runs a contiguous block of the points with the whole sweep's indices and folders; `--merge` joins
/// the N shards into the sweep.csv the whole sweep writes (every column but the timings equal), a PVD of all
/// points and a plot; a missing, repeated or foreign shard is an error naming it.
#[test]
fn shards_of_a_sweep_merge_into_the_whole_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = ionflux(args, dir.path());
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    std::fs::write(dir.path().join("slab.toml"), slab_text()).unwrap();
    let vary = "boundaries.top.potential=0.1 V..0.6 V:6";
    run(&["sweep", "slab.toml", "--vary", vary, "--out", "whole", "-q", "--vtu"]);
    for k in 1..=3 {
        let (shard, out) = (format!("{k}/3"), format!("s{k}"));
        run(&["sweep", "slab.toml", "--vary", vary, "--shard", &shard, "--out", &out, "-q", "--vtu"]);
    }
    // 6 points in 3 blocks: 0, 1 | 2, 3 | 4, 5, with the whole sweep's point folders.
    let points = |folder: &str| {
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join(folder))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("point_"))
            .collect();
        names.sort();
        names
    };
    let blocks = [points("s1"), points("s2"), points("s3")];
    assert_eq!(blocks, [["point_0", "point_1"], ["point_2", "point_3"], ["point_4", "point_5"]]);
    run(&["sweep", "--merge", "s3", "s1", "s2", "--out", "merged", "-q"]);
    let (whole_header, whole) = read_csv(&dir.path().join("whole/sweep.csv"));
    let (header, merged) = read_csv(&dir.path().join("merged/sweep.csv"));
    assert_eq!(header, whole_header);
    assert_eq!(merged.len(), 6);
    let timing = |name: &str| name.starts_with("timings_s.") || name.ends_with("seconds");
    for (row, (m, w)) in merged.iter().zip(&whole).enumerate() {
        for ((name, a), b) in header.iter().zip(m).zip(w) {
            if !timing(name) {
                assert_eq!(a, b, "row {row}, column {name}");
            }
        }
    }
    let pvd = std::fs::read_to_string(dir.path().join("merged/sweep.pvd")).unwrap();
    assert_eq!(pvd.matches("<DataSet").count(), 6);
    assert!(pvd.contains("s3/point_5/solution.vtu"), "{pvd}");
    assert!(grey_variance(&decode_png(&dir.path().join("merged/sweep.png")).2) > 100.0);

    let fails = |args: &[&str], expected: &str| {
        let out = ionflux(args, dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expected), "`{expected}` missing from: {stderr}");
    };
    fails(&["sweep", "--merge", "s1", "s2", "--out", "m1"], "shards 3/3 are missing");
    fails(&["sweep", "--merge", "s1", "s1", "s2", "s3", "--out", "m2"], "shard 1/3 is given twice");
    run(&[
        "sweep",
        "slab.toml",
        "--vary",
        "boundaries.top.potential=0.1 V..0.5 V:4",
        "--shard",
        "1/3",
        "--out",
        "other",
        "-q",
    ]);
    fails(&["sweep", "--merge", "other", "s2", "s3", "--out", "m3"], "a shard of another sweep");
    fails(&["sweep", "--merge", "whole", "--out", "m4"], "sweep_shard.json");
    fails(&["sweep", "slab.toml", "--vary", vary, "--shard", "4/3", "--out", "m5"], "K must lie in 1..=N");
    for m in ["m1", "m2", "m3", "m4", "m5"] {
        assert!(!dir.path().join(m).exists(), "{m} left behind");
    }
}
