//! Reliability: no panic, no silent wrong answer and no partial output for extreme inputs and interruptions.
//! Each test runs the binary on the one-sphere base case (tests/common) with one defect and checks the exit
//! code, the message, and that `--out` holds no file of the failed run.

use crate::common::{assert_clean_failure, ionflux, ionflux_capped, names, read_summary, SPHERE_CASE};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The list of the last run's files in its output folder.
const MANIFEST: &str = ionflux::io::transaction::MANIFEST;

/// Writes `text` as case.toml, runs `solve` with `extra` arguments, and checks a clean failure naming `expected`.
fn fails_cleanly(text: &str, extra: &[&str], expected: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("case.toml"), text).unwrap();
    let mut args = vec!["solve", "case.toml", "--out", "out", "--quiet", "--no-vtu"];
    args.extend(extra);
    let (out, elapsed) = ionflux_capped(&args, dir.path(), 4 << 20);
    let stderr = assert_clean_failure(&out, &dir.path().join("out"), expected);
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
    stderr
}

#[test]
fn a_potential_that_would_overflow_the_system_is_refused_at_its_key() {
    // 1e300 V overflowed the system (an error from deep inside the solve): now refused with the case.
    let huge_potential = SPHERE_CASE.replace("potential = \"0.9 V\"", "potential = \"1e300 V\"");
    fails_cleanly(&huge_potential, &[], &["boundaries.hs.potential", "outside"]);
    fails_cleanly(&huge_potential, &["--preconditioner", "jacobi"], &["boundaries.hs.potential", "outside"]);
}

#[test]
fn values_beyond_their_range_name_file_line_and_key() {
    for (from, to, expected) in [
        ("conductivity = \"0.00216 S/cm\"", "conductivity = \"1e300 S/cm\"", "outside"),
        ("conductivity = \"0.00216 S/cm\"", "conductivity = \"1e-300 S/cm\"", "outside"),
        ("potential = \"0.9 V\"", "potential = \"1e400 V\"", "beyond the range"),
    ] {
        let key = from.split(' ').next().unwrap();
        let line = SPHERE_CASE.lines().position(|l| l.starts_with(from)).unwrap() + 1;
        fails_cleanly(&SPHERE_CASE.replace(from, to), &[], &["case.toml", &format!("line {line}"), key, expected]);
    }
    // Hot spots the mesher cannot resolve, found with the case (not after meshing), pointing at the hot spot.
    let small = SPHERE_CASE.replace("radius = \"20 nm\"", "radius = \"8 nm\"");
    fails_cleanly(&small, &[], &["case.toml, line 11", "hotspots[0]", "below 2 h_min"]);
    let layer = "[[layers]]\nmaterial = \"llzo\"\nthickness = \"60 nm\"\ntop_resistance = \"1 Ohm cm^2\"\n";
    fails_cleanly(&format!("{SPHERE_CASE}{layer}"), &[], &["line 11", "hotspots[0]", "resistive top plane"]);
    let huge_resistance = layer.replace("60 nm", "200 nm").replace("1 Ohm", "1e30 Ohm");
    fails_cleanly(&format!("{SPHERE_CASE}{huge_resistance}"), &[], &["layers[0].top_resistance", "outside"]);
    // A 1e300 m box: refused at once, with a count that says how far beyond the limit it is.
    let huge_box = SPHERE_CASE
        .replace("[\"1 um\", \"1 um\", \"1 um\"]", "[\"1e300 m\", \"1e300 m\", \"1e300 m\"]")
        .replace("[\"0.5 um\", \"0.5 um\", \"60 nm\"]", "[\"5e299 m\", \"5e299 m\", \"60 nm\"]");
    let message = fails_cleanly(&huge_box, &[], &["would need about inf nodes", "mesh.max_nodes"]);
    assert!(!message.contains("NaN"), "{message}");
    // Paper mode with a Gaussian as wide as the hot spot it stands for.
    let paper = format!("{SPHERE_CASE}[analysis]\npaper_mode = true\npaper_width = \"1 um\"\n");
    fails_cleanly(&paper, &[], &["analysis.paper_width", "at least 3", "hs"]);
    // A cylinder inside the hot spot or beyond the box.
    for (radius, expected) in [("10 nm", "does not enclose hot spot `hs`"), ("0.6 um", "leaves the box")] {
        let text = format!("{SPHERE_CASE}[analysis]\ncylinder_radius = \"{radius}\"\n");
        fails_cleanly(&text, &[], &["analysis.cylinder_radius", expected]);
    }
}

#[test]
fn an_absolute_tolerance_the_zero_vector_meets_is_refused() {
    let loose = format!("{SPHERE_CASE}atol = 1e300\n");
    fails_cleanly(&loose, &[], &["solver.atol", "zero vector"]);
}

#[test]
fn counts_beyond_their_limits_are_refused_at_once() {
    fails_cleanly(&format!("{SPHERE_CASE}check_every = 100000000\n"), &[], &["solver.check_every", "1..=256"]);
    let increments = format!("{SPHERE_CASE}[analysis]\nlithiation = true\nlithiation_increments = 1000000\n");
    fails_cleanly(&increments, &[], &["analysis.lithiation_increments", "1000"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("case.toml"), SPHERE_CASE).unwrap();
    let vary = "boundaries.hs.potential=0.8 V..0.9 V:1000000000";
    let start = Instant::now();
    let out = ionflux(&["sweep", "case.toml", "--vary", vary, "--out", "out", "-q"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("10000") && start.elapsed() < Duration::from_secs(5), "{stderr}");
    for iterations in ["0", "18446744073709551615"] {
        let out = ionflux(&["bench", "case.toml", "--iterations", iterations], dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--iterations"), "{stderr}");
    }
    assert!(!dir.path().join("out").exists());
}

#[test]
fn an_unwritable_output_folder_is_reported_before_meshing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("taken"), "a file, not a folder").unwrap();
    // The default case takes seconds to mesh and solve; the error must come first.
    let start = Instant::now();
    let out = ionflux(&["solve", "--out", "taken", "--quiet"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("taken"), "{stderr}");
    assert!(start.elapsed() < Duration::from_millis(900), "{:?}", start.elapsed());
    assert_eq!(std::fs::read_to_string(dir.path().join("taken")).unwrap(), "a file, not a folder");
}

#[test]
fn a_second_run_replaces_the_whole_set_and_honours_summary_json_false() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("case.toml"), SPHERE_CASE).unwrap();
    let first = ionflux(&["solve", "case.toml", "--out", "out", "-q"], dir.path());
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    std::fs::write(dir.path().join("out/notes.txt"), "mine").unwrap();
    assert_eq!(names(&dir.path().join("out")), [MANIFEST, "notes.txt", "solution.vtu", "summary.json"]);
    // Again without the VTU: the old solution.vtu must not sit beside the new summary.
    let second = ionflux(&["solve", "case.toml", "--out", "out", "-q", "--no-vtu"], dir.path());
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    assert_eq!(names(&dir.path().join("out")), [MANIFEST, "notes.txt", "summary.json"]);
    let no_summary = format!("{SPHERE_CASE}[output]\nsummary_json = false\n");
    std::fs::write(dir.path().join("case.toml"), no_summary).unwrap();
    let third = ionflux(&["solve", "case.toml", "--out", "out", "-q"], dir.path());
    assert!(third.status.success(), "{}", String::from_utf8_lossy(&third.stderr));
    assert_eq!(names(&dir.path().join("out")), [MANIFEST, "notes.txt", "solution.vtu"]);
}

#[test]
fn sweeps_with_a_bad_key_or_plot_column_stop_before_leaving_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("case.toml"), SPHERE_CASE).unwrap();
    let start = Instant::now();
    let typo = ["sweep", "case.toml", "--vary", "boundaries.hs.potentail=0.8 V..0.9 V:3", "--out", "out", "-q"];
    let out = ionflux(&typo, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("potentail") && stderr.contains("nothing was solved"), "{stderr}");
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    assert!(!dir.path().join("out").exists());
    let vary = "boundaries.hs.potential=0.8 V..0.9 V:3";
    let plot = ["sweep", "case.toml", "--vary", vary, "--plot", "no.such.column", "--out", "out", "-q"];
    let out = ionflux(&plot, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no.such.column") && stderr.contains("hotspots.hs.current_A"), "{stderr}");
    assert!(!dir.path().join("out").exists());
}

#[test]
fn an_empty_case_file_names_no_override() {
    let stderr = fails_cleanly("", &[], &["case.toml"]);
    assert!(!stderr.contains("--set"), "{stderr}");
}

/// The VTU size and node count of a complete run into `out` of `dir`, and how long the run took (the summary's
/// checks after it not counted).
fn complete_run(dir: &Path, case: &str, out: &str) -> ((u64, u64), Duration) {
    let start = Instant::now();
    let run = ionflux(&["solve", case, "--out", out, "-q"], dir);
    let duration = start.elapsed();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let nodes = read_summary(&dir.join(out).join("summary.json"))["mesh"]["nodes"].as_u64().unwrap();
    ((std::fs::metadata(dir.join(out).join("solution.vtu")).unwrap().len(), nodes), duration)
}

#[test]
fn an_interrupted_run_leaves_the_previous_set_or_the_new_one_never_a_mix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("new.toml"), SPHERE_CASE).unwrap();
    std::fs::write(dir.path().join("old.toml"), SPHERE_CASE.replace("h_min = \"5 nm\"", "h_min = \"4 nm\"")).unwrap();
    let (old, _) = complete_run(dir.path(), "old.toml", "old");
    let (new, duration) = complete_run(dir.path(), "new.toml", "new");
    assert_ne!(old.1, new.1, "the two runs must be told apart by their node counts");
    let (mut interrupted, mut finished) = (0, 0);
    for k in 1..=12 {
        // The previous complete set, then a new run into it, interrupted between half and 1.1 times a run's
        // duration: mostly in the output stage (writing and committing) at its end.
        let out = dir.path().join("out");
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir(&out).unwrap();
        for file in [MANIFEST, "solution.vtu", "summary.json"] {
            std::fs::copy(dir.path().join("old").join(file), out.join(file)).unwrap();
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_ionflux"))
            .args(["solve", "new.toml", "--out", "out", "-q"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(duration.mul_f64(0.5 + 0.05 * k as f64));
        let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        let status = child.wait().unwrap();
        match status.code() {
            Some(0) => finished += 1,
            Some(130) => interrupted += 1,
            other => panic!("k = {k}: exit {other:?}"),
        }
        assert_eq!(names(&out), [MANIFEST, "solution.vtu", "summary.json"], "k = {k}: a partial or temporary file");
        let nodes = read_summary(&out.join("summary.json"))["mesh"]["nodes"].as_u64().unwrap();
        let vtu = std::fs::metadata(out.join("solution.vtu")).unwrap().len();
        assert!((vtu, nodes) == old || (vtu, nodes) == new, "k = {k}: a mix of two runs ({vtu}, {nodes})");
        assert!(status.code() != Some(0) || (vtu, nodes) == new, "k = {k}: finished but the old set is there");
    }
    println!("{interrupted} interrupted, {finished} finished");
    assert!(interrupted > 0, "no run was interrupted");
}

/// A Butler-Volmer solve that Newton cannot finish within its step limit is an error naming the steps and the
/// residual reached, with no output; the same case with the default limit solves.
#[test]
fn a_newton_solve_that_does_not_converge_is_an_error_with_no_output() {
    let kinetic = format!(
        "temperature = \"348 K\"\n{}",
        SPHERE_CASE.replace(
            "type = \"dirichlet\"\npotential = \"0.9 V\"",
            "type = \"butler_volmer\"\nexchange_current_density = \"1 mA/cm^2\"\nelectrode_potential = \"0.9 V\""
        )
    );
    assert!(kinetic.contains("butler_volmer"));
    fails_cleanly(
        &kinetic,
        &["--set", "solver.max_newton_steps=2"],
        &["Newton's method did not converge in 2 steps", "relative residual", "solver.max_newton_steps"],
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("case.toml"), &kinetic).unwrap();
    let out = ionflux(&["solve", "case.toml", "--out", "out", "--quiet", "--no-vtu"], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = read_summary(&dir.path().join("out/summary.json"));
    let steps = summary["newton"]["steps"].as_array().expect("Newton's history").len();
    assert!(steps > 2 && steps <= 20, "{steps} steps");
    let spot = &summary["hotspots"][0];
    assert_eq!(spot["condition"], "butler_volmer");
    let eta = spot["kinetics"]["mean_overpotential_V"].as_f64().unwrap();
    assert!(eta > 0.0 && eta < 0.9, "{eta}");
}
