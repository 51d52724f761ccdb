//! The command line end to end: a good case writes its files and exits 0; bad input exits non-zero
//! with a message naming the field and line, never panics and leaves no output behind.

use crate::common::{ionflux, ionflux_capped, read_summary, SLAB, SPHERE_CASE, T05_SIZES};

/// Writes `text` as case.toml, runs `ionflux solve case.toml --out out`, and checks the failure.
fn solve_fails(text: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("case.toml"), text).unwrap();
    let out = ionflux(&["solve", "case.toml", "--out", "out", "--quiet"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for fragment in expected {
        assert!(stderr.contains(fragment), "`{fragment}` missing from: {stderr}");
    }
    assert!(!dir.path().join("out").exists(), "a failed run left output behind");
}

#[test]
fn good_case_writes_summary_and_vtu() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("case.toml"), SLAB).unwrap();
    let out = ionflux(&["solve", "case.toml", "--out", "res", "--backend", "cpu"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("interface") && stdout.contains("conservation"), "{stdout}");
    let summary = read_summary(&dir.path().join("res/summary.json"));
    // sigma V A / H = 0.216 * 0.1 * 1e-12 / 2e-6
    let expected = 0.216 * 0.1 * 1e-12 / 2e-6;
    let interface = summary["boundaries"].as_array().unwrap().iter().find(|b| b["name"] == "interface").unwrap();
    assert!((interface["current_A"].as_f64().unwrap() - expected).abs() < 1e-8 * expected);
    assert!(dir.path().join("res/solution.vtu").metadata().unwrap().len() > 1000);
}

#[test]
fn set_overrides_a_case_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("case.toml"), SLAB).unwrap();
    let out = ionflux(
        &["solve", "case.toml", "--out", "res", "--quiet", "--no-vtu", "--set", "boundaries.top.potential=0.2 V"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = read_summary(&dir.path().join("res/summary.json"));
    let expected = 0.216 * 0.2 * 1e-12 / 2e-6;
    let top = summary["boundaries"].as_array().unwrap().iter().find(|b| b["name"] == "top").unwrap();
    assert!((top["current_A"].as_f64().unwrap() + expected).abs() < 1e-8 * expected);
    assert!(!dir.path().join("res/solution.vtu").exists());
}

#[test]
fn malformed_toml_names_the_line() {
    solve_fails(&SLAB.replace("material = \"llzo\"", "material = \"llzo"), &["case.toml", "line 4"]);
}

#[test]
fn unknown_unit_names_field_and_line() {
    solve_fails(
        &SLAB.replace("0.00216 S/cm", "0.00216 S/furlong"),
        &["materials.llzo.conductivity", "line 6", "S/furlong"],
    );
}

#[test]
fn wrong_dimension_names_field_and_line() {
    solve_fails(&SLAB.replace("\"0.1 V\"", "\"0.1 um\""), &["boundaries.top.potential", "line 12"]);
}

#[test]
fn non_positive_conductivity_is_rejected() {
    solve_fails(&SLAB.replace("0.00216 S/cm", "0 S/cm"), &["materials.llzo.conductivity", "line 6"]);
    solve_fails(&SLAB.replace("0.00216 S/cm", "-1 S/cm"), &["materials.llzo.conductivity", "line 6"]);
}

#[test]
fn singular_problem_is_rejected() {
    let text = SLAB
        .replace("type = \"dirichlet\"\npotential = \"0 V\"", "type = \"insulating\"")
        .replace("type = \"dirichlet\"\npotential = \"0.1 V\"", "type = \"neumann\"\ncurrent_density = \"1 mA/cm^2\"");
    solve_fails(&text, &["singular"]);
}

#[test]
fn layer_thicker_than_box_is_rejected() {
    let text =
        SLAB.replace("[materials.llzo]", "[[layers]]\nmaterial = \"llzo\"\nthickness = \"3 um\"\n[materials.llzo]");
    solve_fails(&text, &["layers", "3"]);
}

#[test]
fn missing_case_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = ionflux(&["solve", "nowhere.toml", "--quiet"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere.toml"));
}

/// `ionflux devices --json` lists what wgpu finds; with IONFLUX_REQUIRE_GPU (CI, lavapipe) there is one.
#[test]
fn devices_json_lists_adapters_with_their_limits() {
    let dir = tempfile::tempdir().unwrap();
    let out = ionflux(&["devices", "--json"], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let adapters: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let adapters = adapters.as_array().unwrap();
    if std::env::var_os("IONFLUX_REQUIRE_GPU").is_some() {
        assert!(!adapters.is_empty(), "no adapter although IONFLUX_REQUIRE_GPU is set");
    }
    for a in adapters {
        assert!(!a["name"].as_str().unwrap().is_empty());
        assert!(a["max_storage_buffer_binding_size"].as_u64().unwrap() > 0);
        assert!(a["max_buffer_size"].as_u64().unwrap() >= a["max_storage_buffer_binding_size"].as_u64().unwrap());
    }
}

/// `ionflux bench` on a shipped case: the JSON report's rates follow from its times by the stated byte model,
/// and the GPU/CPU ratio from the two rows (`--backend gpu`: a software adapter counts); `--backend cpu` times the
/// CPU alone.
#[test]
fn bench_reports_rates_consistent_with_its_byte_model() {
    let dir = tempfile::tempdir().unwrap();
    let case = concat!(env!("CARGO_MANIFEST_DIR"), "/meshes/slab.toml");
    let out = ionflux(&["bench", case, "--iterations", "3", "--backend", "cpu", "--json", "cpu.json"], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cpu_only: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("cpu.json")).unwrap()).unwrap();
    assert_eq!(cpu_only["backends"].as_array().unwrap().len(), 1, "{cpu_only}");
    let out = ionflux(&["bench", case, "--iterations", "3", "--backend", "gpu", "--json", "bench.json"], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Byte model"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("bench.json")).unwrap()).unwrap();
    let rows = report["backends"].as_array().unwrap();
    let cpu = &rows[0];
    assert_eq!((cpu["backend"].as_str(), cpu["precision"].as_str()), (Some("cpu"), Some("f64")));
    let (n, nnz) = (cpu["unknowns"].as_f64().unwrap(), cpu["nonzeros"].as_f64().unwrap());
    // SpMV bytes on the CPU: nnz (8 + 4) + (n + 1) 8 + n 8 + n 8.
    let bytes = nnz * 12.0 + (n + 1.0) * 8.0 + 2.0 * n * 8.0;
    let rate = bytes / cpu["seconds_per_spmv"].as_f64().unwrap() / 1e9;
    assert!((cpu["spmv_gb_per_s"].as_f64().unwrap() - rate).abs() <= 1e-9 * rate);
    let ratio = cpu["spmv_gb_per_s"].as_f64().unwrap() / cpu["copy_gb_per_s"].as_f64().unwrap();
    assert!((cpu["spmv_copy_ratio"].as_f64().unwrap() - ratio).abs() <= 1e-9 * ratio);
    if let [_, gpu] = rows.as_slice() {
        let speed = cpu["seconds_per_spmv"].as_f64().unwrap() / gpu["seconds_per_spmv"].as_f64().unwrap();
        assert!((report["gpu_over_cpu_spmv_speed"].as_f64().unwrap() - speed).abs() <= 1e-9 * speed);
    } else if std::env::var_os("IONFLUX_REQUIRE_GPU").is_some() {
        panic!("no GPU row although IONFLUX_REQUIRE_GPU is set: {}", report["gpu_error"]);
    }
}

/// Sizes that would need absurd meshes stop at once with the node estimate, the limit and the settings to
/// change: exit 1, no output, within seconds and a 1 GiB address-space cap (no large allocation).
#[test]
fn absurd_mesh_sizes_are_refused_before_allocating() {
    let cases = [
        (
            "h_max 1 nm in an 8 um box",
            SPHERE_CASE
                .replace("\"1 um\", \"1 um\", \"1 um\"", "\"8 um\", \"8 um\", \"8 um\"")
                .replace("h_min = \"5 nm\"", "h_min = \"0.1 nm\"\nh_max = \"1 nm\"\nh_interface = \"1 nm\""),
        ),
        (
            "a 1 nm x 1 nm x 1 mm box",
            SLAB.replace("\"1 um\", \"1 um\", \"2 um\"", "\"1 nm\", \"1 nm\", \"1 mm\"")
                .replace("[mesh]\nh_max = \"0.5 um\"\nh_interface = \"0.1 um\"\ngrading = 1.5\n", ""),
        ),
        (
            "1e-30 m sizes",
            SLAB.replace(
                "h_max = \"0.5 um\"\nh_interface = \"0.1 um\"",
                "h_max = \"1e-30 m\"\nh_interface = \"1e-30 m\"\nh_min = \"1e-30 m\"",
            ),
        ),
        (
            "h_max 4 nm in a 1 um box",
            SPHERE_CASE.replace("h_min = \"5 nm\"", "h_min = \"1 nm\"\nh_max = \"4 nm\"\nh_interface = \"4 nm\""),
        ),
    ];
    for (what, text) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("case.toml"), &text).unwrap();
        let (out, elapsed) =
            ionflux_capped(&["solve", "case.toml", "--out", "out", "--quiet", "--backend", "cpu"], dir.path(), 1 << 20);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        for fragment in ["would need about", "nodes", "more than the limit", "mesh.h_max", "mesh.max_nodes"] {
            assert!(stderr.contains(fragment), "{what}: `{fragment}` missing from: {stderr}");
        }
        assert!(!stderr.contains("panicked") && !stderr.contains("memory allocation"), "{what}: {stderr}");
        assert!(!dir.path().join("out").exists(), "{what}: a refused run left output behind");
        assert!(elapsed.as_secs_f64() < 5.0, "{what}: took {elapsed:?}");
    }
}

/// `solve --export-system DIR` writes the reduced system; scipy solves it with a sparse direct solver and gets
/// ionflux's solution back (skipped without scipy unless IONFLUX_REQUIRE_PYTHON is set).
#[test]
fn an_exported_system_solved_by_scipy_gives_our_solution() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sphere.toml"), SPHERE_CASE).unwrap();
    let out = ionflux(
        &["solve", "sphere.toml", "--quiet", "--no-vtu", "--out", "out", "--export-system", "system"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = crate::common::read_summary(&dir.path().join("out/summary.json"));
    let unknowns = summary["solver"]["unknowns"].as_u64().unwrap();
    let nodes = summary["mesh"]["nodes"].as_u64().unwrap();
    let free: Vec<u64> = std::fs::read_to_string(dir.path().join("system/free_nodes.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(free.len() as u64, unknowns);
    assert!(free.windows(2).all(|w| w[0] < w[1]) && *free.last().unwrap() < nodes);
    let system = dir.path().join("system");
    let Some(check) = crate::common::python_check("solve_mtx.py", &[system.as_os_str()], &["scipy"]) else { return };
    println!("{check}");
    assert_eq!(check["unknowns"].as_u64(), Some(unknowns));
    assert_eq!(check["symmetric"], true);
    assert!(check["max_relative_difference"].as_f64().unwrap() < 1e-8, "{check}");
    assert!(check["ionflux_relative_residual"].as_f64().unwrap() <= 1.01e-10, "{check}");
}

/// summary.json records its inputs: the `--set` overrides in order, the CLI's solver flags among them, so that
/// source and overrides reproduce the case.
#[test]
fn the_summary_records_the_overrides_it_ran_with() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("case.toml"), SLAB).unwrap();
    let args = ["solve", "case.toml", "--set", "mesh.h_max=\"0.25 um\"", "--backend", "cpu", "--out", "out", "-q"];
    let out = ionflux(&args, dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = read_summary(&dir.path().join("out/summary.json"));
    assert_eq!(summary["case"]["source"], "case.toml");
    assert_eq!(summary["case"]["overrides"], serde_json::json!(["mesh.h_max=\"0.25 um\"", "solver.backend=cpu"]));
}

/// Each surface's mean potential, against the exact slab: 500 A/m^2 into the top of a 2 um slab of 0.216 S/m
/// over a 0 V interface puts the top at j H / sigma = 4.6296e-3 V (phi is linear in z: exact on any P1 mesh).
#[test]
fn a_neumann_electrodes_potential_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let text = SLAB
        .replace("type = \"dirichlet\"\npotential = \"0.1 V\"", "type = \"neumann\"\ncurrent_density = \"50 mA/cm^2\"");
    assert_ne!(text, SLAB);
    std::fs::write(dir.path().join("case.toml"), text).unwrap();
    let out = ionflux(&["solve", "case.toml", "--out", "out", "--no-vtu", "--set", "solver.backend=cpu"], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = read_summary(&dir.path().join("out/summary.json"));
    let potential = |name: &str| {
        let entry = summary["boundaries"].as_array().unwrap().iter().find(|b| b["name"] == name).unwrap();
        entry["mean_potential_V"].as_f64().unwrap()
    };
    let exact = 500.0 * 2e-6 / 0.216;
    assert!((potential("top") - exact).abs() < 1e-8 * exact, "{} vs {exact}", potential("top"));
    assert_eq!(potential("interface"), 0.0);
    // A side face spans z = 0 .. H: its mean is the potential at mid-height.
    assert!((potential("x_min") - exact / 2.0).abs() < 1e-8 * exact, "{}", potential("x_min"));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{exact:.6} V")));
}

/// Voltages against the reference electrode and area-specific resistances, against the exact 1D answers (phi is
/// piecewise linear in z, so P1 on a mesh that conforms to the layer is exact to the solver's tolerance):
/// `slab_neumann.toml`: 500 A/m^2 into 10 um of 0.216 S/m over a 0 V interface puts the top at 23.148 mV, an ASR
/// of H / sigma; `interlayer_robin.toml`: 10 mV over the series R_int + t / sigma_IL + (H - t) / sigma.
#[test]
fn voltages_and_area_specific_resistances_match_the_exact_slabs() {
    let dir = tempfile::tempdir().unwrap();
    let top = |case: &str| {
        let path = format!("{}/meshes/{case}", env!("CARGO_MANIFEST_DIR"));
        let out = ionflux(&["solve", &path, "--out", case, "--no-vtu", "--backend", "cpu"], dir.path());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let summary = read_summary(&dir.path().join(case).join("summary.json"));
        assert_eq!(summary["reference_electrode"]["name"], "interface");
        assert_eq!(summary["reference_electrode"]["potential_V"], 0.0);
        let entry = summary["boundaries"].as_array().unwrap().iter().find(|b| b["name"] == "top").unwrap().clone();
        let number = |key: &str| entry[key].as_f64().unwrap_or_else(|| panic!("{case}: {key} in {entry}"));
        (
            number("voltage_V"),
            number("area_specific_resistance_Ohm_m2"),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (voltage, asr, stdout) = top("slab_neumann.toml");
    let exact = 500.0 * 10e-6 / 0.216;
    assert!((voltage - exact).abs() < 1e-8 * exact, "{voltage} V vs {exact} V");
    assert!((asr - 10e-6 / 0.216).abs() < 1e-8 * asr, "{asr} Ohm m^2");
    assert!(stdout.contains("+0.023148 V against interface"), "{stdout}");
    let (voltage, asr, _) = top("interlayer_robin.toml");
    let series = 0.13e-4 + 20e-9 / 0.02 + 1.98e-6 / 0.216;
    assert_eq!(voltage, 0.01);
    assert!((asr - series).abs() < 1e-8 * series, "{asr} vs the series {series} Ohm m^2");
}

/// A summary records its run: the case after every `--set`, fed back as a case file, gives the same currents (to
/// 1e-12; the run is deterministic), and the command line, version, git revision, threads and mesh sizes are there.
#[test]
fn a_summarys_recorded_case_reproduces_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let sets = [
        "--set",
        "mesh.h_max=\"1 um\"",
        "--set",
        "boundaries.hotspot.potential=\"0.85 V\"",
        "--set",
        "mesh.grading=1.4",
    ];
    let mut args = vec!["solve", "--out", "first", "--no-vtu", "--backend", "cpu"];
    args.extend(sets);
    let out = ionflux(&args, dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let first = read_summary(&dir.path().join("first/summary.json"));
    let recorded = first["case"]["resolved_toml"].as_str().unwrap();
    assert!(recorded.contains("0.85 V") && recorded.contains("1.4"), "{recorded}");
    let command_line: Vec<&str> =
        first["case"]["command_line"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(command_line.contains(&"boundaries.hotspot.potential=\"0.85 V\""), "{command_line:?}");
    assert_eq!(first["case"]["mesh_settings"]["grading"], 1.4);
    assert_eq!(first["case"]["mesh_settings"]["h_max_m"], 1e-6);
    assert!(first["git_revision"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(first["threads"].as_u64().is_some_and(|t| t >= 1));

    std::fs::write(dir.path().join("recorded.toml"), recorded).unwrap();
    let out = ionflux(&["solve", "recorded.toml", "--out", "again", "--no-vtu", "--backend", "cpu"], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = read_summary(&dir.path().join("again/summary.json"));
    assert_eq!(again["mesh"]["nodes"], first["mesh"]["nodes"]);
    for list in ["boundaries", "hotspots"] {
        let (a, b) = (first[list].as_array().unwrap(), again[list].as_array().unwrap());
        assert_eq!(a.len(), b.len());
        for (a, b) in a.iter().zip(b) {
            let (x, y) = (a["current_A"].as_f64().unwrap(), b["current_A"].as_f64().unwrap());
            assert!((x - y).abs() <= 1e-12 * x.abs().max(1e-30), "{}: {x} vs {y}", a["name"]);
        }
    }
}

/// A group of hot spots (the 5 x 5 array) gets its members' total, mean, smallest and largest current, each equal to
/// what the members' own entries give; the terminal prints the total.
#[test]
fn a_hot_spot_array_reports_its_totals() {
    let dir = tempfile::tempdir().unwrap();
    let case = concat!(env!("CARGO_MANIFEST_DIR"), "/meshes/array_5x5.toml");
    let out = ionflux(&["solve", case, "--out", "array", "--no-vtu", "--backend", "cpu"], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = read_summary(&dir.path().join("array/summary.json"));
    let members: Vec<f64> = summary["hotspots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["name"].as_str().unwrap().starts_with("spots_"))
        .map(|h| h["current_A"].as_f64().unwrap())
        .collect();
    assert_eq!(members.len(), 25);
    let group = &summary["hotspot_groups"][0];
    assert_eq!((group["name"].as_str(), group["members"].as_u64()), (Some("spots"), Some(25)));
    let sum: f64 = members.iter().sum();
    let number = |key: &str| group[key].as_f64().unwrap();
    assert!((number("current_sum_A") - sum).abs() <= 1e-12 * sum.abs(), "{group}");
    assert!((number("current_mean_A") - sum / 25.0).abs() <= 1e-12 * sum.abs(), "{group}");
    assert_eq!(number("current_min_A"), members.iter().copied().fold(f64::INFINITY, f64::min));
    assert_eq!(number("current_max_A"), members.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    let estimates: f64 = summary["hotspots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["name"].as_str().unwrap().starts_with("spots_"))
        .map(|h| h["error_estimate_A"].as_f64().unwrap())
        .sum();
    assert!((number("error_estimate_A") - estimates).abs() <= 1e-12 * estimates.abs(), "{group}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("(sum over its 25 hot spots"));
}

/// The schema check that every test's summary passes (`read_summary`) fails on a summary that lacks a key or has a
/// condition no case can have: it is a check, not a formality.
#[test]
fn the_summary_schema_refuses_a_summary_that_breaks_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = ionflux(&["solve", "--out", "out", "--no-vtu", "--backend", "cpu", "-q"], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let good = dir.path().join("out/summary.json");
    let mut summary = read_summary(&good);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/validate_summary.py");
    let Some(_) = crate::common::python_check("validate_summary.py", &[good.as_os_str()], &["jsonschema"]) else {
        return;
    };
    summary["boundaries"][0]["condition"] = "wet".into();
    summary.as_object_mut().unwrap().remove("threads");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, summary.to_string()).unwrap();
    let out = std::process::Command::new("python3").arg(script).arg(&bad).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && (stderr.contains("threads") || stderr.contains("wet")), "{stderr}");
}

/// A batch job's log (stderr not a terminal) gets a plain line for each stage longer than a second; `--quiet`
/// none. The default case at the t = 0.5 sizes (about 1 M nodes, a few seconds) has such stages.
#[test]
fn long_stages_log_a_line_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["solve", "--backend", "cpu", "--no-vtu", "--out", "out"];
    args.extend(T05_SIZES);
    let out = ionflux(&args, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.lines().any(|l| l.contains(": done in ")), "{stderr}");
    args.push("-q");
    let quiet = ionflux(&args, dir.path());
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("done in"));
}

/// With several hot spots the terminal closes the list with their total, the sum of the summary's currents.
#[test]
fn several_hot_spots_are_totalled() {
    let dir = tempfile::tempdir().unwrap();
    let second = "[[hotspots]]\nname = \"hs2\"\nshape = \"sphere\"\ncenter = [\"0.25 um\", \"0.25 um\", \"60 nm\"]\n\
                  radius = \"20 nm\"\n[boundaries.hs2]\ntype = \"dirichlet\"\npotential = \"0.5 V\"\n";
    std::fs::write(dir.path().join("case.toml"), format!("{SPHERE_CASE}{second}")).unwrap();
    let out = ionflux(&["solve", "case.toml", "--out", "out", "--no-vtu"], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = read_summary(&dir.path().join("out/summary.json"));
    let sum: f64 = summary["hotspots"].as_array().unwrap().iter().map(|h| h["current_A"].as_f64().unwrap()).sum();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.contains("all hot spots")).unwrap_or_else(|| panic!("{stdout}"));
    let printed: f64 = line.split_whitespace().nth(3).unwrap().parse().unwrap();
    assert!((printed - sum).abs() <= 1e-5 * sum.abs(), "{line} vs {sum}");
    assert!(line.contains("sum over the 2 hot spots"), "{line}");
}

/// `--accuracy` from the command line: each cycle on stderr, the loop in summary.json and its plot; a value
/// that is not a percentage is refused naming the key.
#[test]
fn solve_with_accuracy_reports_its_cycles_and_plots_them() {
    use crate::common::{decode_png, grey_variance};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("case.toml"), SPHERE_CASE).unwrap();
    let args = ["solve", "case.toml", "--accuracy", "0.5%", "--plots", "--no-vtu", "--out", "out"];
    let out = ionflux(&args, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.matches("adapt cycle:").count() >= 2, "{stderr}");
    let summary = read_summary(&dir.path().join("out/summary.json"));
    assert_eq!(summary["adapt"]["met"], true, "{}", summary["adapt"]);
    assert_eq!(summary["adapt"]["target"], 0.005);
    let estimate = summary["hotspots"][0]["relative_error_estimate"].as_f64().unwrap();
    assert!(estimate <= 0.005, "{estimate}");
    let last = summary["adapt"]["cycles"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["nodes"], summary["mesh"]["nodes"], "the answer is on the last cycle's mesh");
    let (_, _, rgb) = decode_png(&dir.path().join("out/adapt.png"));
    assert!(grey_variance(&rgb) > 100.0, "adapt.png looks blank");

    solve_fails_with(&dir, &["--accuracy", "0.5"], &["adapt.target", "percentage"]);
}

fn solve_fails_with(dir: &tempfile::TempDir, extra: &[&str], expected: &[&str]) {
    let mut args = vec!["solve", "case.toml", "--out", "bad", "--quiet"];
    args.extend(extra);
    let out = ionflux(&args, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    for fragment in expected {
        assert!(stderr.contains(fragment), "`{fragment}` missing from: {stderr}");
    }
    assert!(!dir.path().join("bad").exists());
}

/// A loop that a limit stops before the target still answers (exit 0) with the last mesh's numbers, says so in a
/// warning with the estimate reached, and names the limit: the cycle count, or the node limit (checked on the size
/// field's node estimate before a cycle meshes beyond it).
#[test]
fn an_adaptive_loop_stopped_by_a_limit_warns_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("case.toml"), SPHERE_CASE).unwrap();
    for (limit, expected) in
        [("adapt.max_cycles=1", "adapt.max_cycles = 1"), ("adapt.max_nodes=60000", "node limit 60000")]
    {
        let args = ["solve", "case.toml", "--accuracy", "0.01%", "--set", limit, "--no-vtu", "--out", "out", "--quiet"];
        let out = ionflux(&args, dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let summary = read_summary(&dir.path().join("out/summary.json"));
        let adapt = &summary["adapt"];
        assert_eq!(adapt["met"], false, "{adapt}");
        assert!(adapt["stopped_by"].as_str().unwrap().contains(expected), "{adapt}");
        let warnings = summary["warnings"].to_string();
        assert!(warnings.contains("ACCURACY NOT REACHED") && warnings.contains(expected), "{warnings}");
        assert!(stderr.contains("ACCURACY NOT REACHED"), "{stderr}");
        let estimate = summary["hotspots"][0]["relative_error_estimate"].as_f64().unwrap();
        assert!(estimate > 0.0001, "the target was not met: {estimate}");
    }
    // A node limit below the case's own mesh (about 41 k nodes) is refused before anything is meshed, naming
    // the loop's key.
    solve_fails_with(&dir, &["--accuracy", "1%", "--set", "adapt.max_nodes=5000"], &["adapt.max_nodes = 5000"]);
}

/// Where PETSc keeps PetscBinaryIO.py: $PETSC_DIR/lib/petsc/bin, else Debian's petsc-dev folders. None (the check
/// skipped with a reason) without PETSc, unless IONFLUX_REQUIRE_PETSC is set (CI installs petsc-dev).
fn petsc_python_dir() -> Option<std::path::PathBuf> {
    let mut candidates: Vec<std::path::PathBuf> =
        std::env::var_os("PETSC_DIR").map(|d| std::path::PathBuf::from(d).join("lib/petsc/bin")).into_iter().collect();
    candidates.push("/usr/lib/petsc/lib/petsc/bin".into());
    if let Ok(entries) = std::fs::read_dir("/usr/share/petsc") {
        candidates.extend(entries.flatten().map(|e| e.path().join("lib/petsc/bin")));
    }
    let found = candidates.into_iter().find(|d| d.join("PetscBinaryIO.py").is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("IONFLUX_REQUIRE_PETSC").is_none(),
            "IONFLUX_REQUIRE_PETSC is set but PETSc's PetscBinaryIO.py is missing (apt-get install petsc-dev)"
        );
        eprintln!("skipped: this check needs PETSc's PetscBinaryIO.py (Debian: apt-get install petsc-dev)");
    }
    found
}

/// A Python that imports petsc4py: the one on PATH, else Debian's /usr/bin/python3 (python3-petsc4py). None (the
/// check skipped with a reason) without one, unless IONFLUX_REQUIRE_PETSC is set.
fn petsc4py_python() -> Option<String> {
    let found = ["python3", "/usr/bin/python3"].into_iter().find(|python| {
        std::process::Command::new(python).args(["-c", "import petsc4py"]).output().is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("IONFLUX_REQUIRE_PETSC").is_none(),
            "IONFLUX_REQUIRE_PETSC is set but no python3 imports petsc4py (apt-get install python3-petsc4py)"
        );
        eprintln!("skipped: this check needs petsc4py (Debian: apt-get install python3-petsc4py)");
    }
    found.map(str::to_string)
}

/// `solve --export-system DIR --format petsc` writes PETSc's binary format: PETSc loads it (MatLoad / VecLoad through
/// petsc4py) and its own CG solves it to our solution within 1e-8; PETSc's PetscBinaryIO.py reads both index widths,
/// and they hold the Matrix Market export's numbers bit for bit.
#[test]
fn a_system_exported_for_petsc_is_read_by_petscs_own_reader() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sphere.toml"), SPHERE_CASE).unwrap();
    let export = |folder: &str, extra: &[&str]| {
        let mut args = vec!["solve", "sphere.toml", "--quiet", "--no-vtu", "--out", "out", "--export-system", folder];
        args.extend(extra);
        let out = ionflux(&args, dir.path());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    export("mtx", &[]);
    export("petsc32", &["--format", "petsc"]);
    export("petsc64", &["--format", "petsc", "--petsc-64bit-indices"]);
    for folder in ["petsc32", "petsc64"] {
        for file in ["A.petsc", "b.petsc", "x.petsc", "free_nodes.txt"] {
            assert!(dir.path().join(folder).join(file).is_file(), "{folder}/{file}");
        }
    }
    // A 64-bit export is the 32-bit one with wider integers: longer by 4 bytes per index.
    let size = |f: &str| std::fs::metadata(dir.path().join(f)).unwrap().len();
    assert!(size("petsc64/A.petsc") > size("petsc32/A.petsc"));
    let refused = ionflux(
        &["solve", "sphere.toml", "-q", "--out", "out2", "--export-system", "s", "--petsc-64bit-indices"],
        dir.path(),
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("applies to --format petsc only"));
    // PETSc itself (petsc4py: MatLoad, VecLoad, its CG and BoomerAMG) solves the export to our x.
    if let Some(python) = petsc4py_python() {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/petsc_solve.py");
        let out = std::process::Command::new(&python).arg(script).arg(dir.path().join("petsc32")).output().unwrap();
        assert!(out.status.success(), "petsc_solve.py: {}", String::from_utf8_lossy(&out.stderr));
        let check: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        println!("petsc4py: {check}");
        assert!(check["converged_reason"].as_i64().unwrap() > 0, "{check}");
        assert!(check["max_relative_difference"].as_f64().unwrap() < 1e-8, "{check}");
        assert!(check["ionflux_relative_residual"].as_f64().unwrap() <= 1.01e-10, "{check}");
    }
    let Some(bin) = petsc_python_dir() else { return };
    let summary = crate::common::read_summary(&dir.path().join("out/summary.json"));
    let unknowns = summary["solver"]["unknowns"].as_u64().unwrap();
    for (folder, bits) in [("petsc32", "32"), ("petsc64", "64")] {
        let args = [dir.path().join(folder), dir.path().join("mtx"), bin.clone(), bits.into()];
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|p| p.as_os_str()).collect();
        let Some(check) = crate::common::python_check("read_petsc.py", &args, &["scipy"]) else { return };
        println!("{folder}: {check}");
        assert_eq!(check["unknowns"].as_u64(), Some(unknowns));
        assert_eq!(check["symmetric"], true);
        assert_eq!(check["same_as_matrix_market"], true, "{check}");
        assert!(check["max_relative_difference"].as_f64().unwrap() < 1e-8, "{check}");
        assert!(check["ionflux_relative_residual"].as_f64().unwrap() <= 1.01e-10, "{check}");
    }
}
