//! The sixteen defect classes a hostile probe found (names that became paths, unconverged solves that exited 0,
//! user files deleted, ...): one test each, reproducing the probe's input through the CLI and checking the exit
//! code, the message, and what is and is not left in `--out` and outside it.

use crate::common::{assert_clean_failure, ionflux, names, read_summary, SLAB, SPHERE_CASE, T05_SIZES};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The manifest a run keeps in its output folder (the list of its files).
const MANIFEST: &str = ".ionflux-manifest";

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
}

/// A temporary folder holding `case.toml` with `text`.
fn with_case(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("case.toml"), text).unwrap();
    dir
}

/// The slab on the CPU (every current exact), fast enough to run many times.
fn cpu_slab() -> String {
    format!("{SLAB}[solver]\nbackend = \"cpu\"\n")
}

/// Class 1: A hot spot's name is data: `x/../../../../victim` gives a profile file inside `--out`, and the user's
/// `victim.csv` where the name pointed is untouched.
#[test]
fn names_become_file_labels_never_paths() {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("a/b");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(root.path().join("a/victim.csv"), "the user's").unwrap();
    let name = "x/../../../../victim";
    let text = SPHERE_CASE
        .replace("name = \"hs\"", &format!("name = \"{name}\""))
        .replace("[boundaries.hs]", &format!("[boundaries.\"{name}\"]"))
        + "[analysis]\ncylinder_radius = \"0.2 um\"\n";
    std::fs::write(work.join("case.toml"), text).unwrap();
    let out = ionflux(&["solve", "case.toml", "--out", "out", "-q", "--no-vtu", "--plots"], &work);
    assert_ok(&out);
    assert_eq!(std::fs::read_to_string(root.path().join("a/victim.csv")).unwrap(), "the user's");
    let written = names(&work.join("out"));
    assert!(written.contains(&"profile_x_.._.._.._.._victim.csv".to_string()), "{written:?}");
    assert!(written.contains(&"profile_x_.._.._.._.._victim.png".to_string()), "{written:?}");
    assert!(written.iter().all(|n| !n.contains('/')), "{written:?}");
    // Again: the same files are replaced (a sub-folder made the second run fail before).
    assert_ok(&ionflux(&["solve", "case.toml", "--out", "out", "-q", "--no-vtu", "--plots"], &work));
}

/// Class 2: Convergence is decided on the true residual: a tolerance f64 cannot reach is an error (no output), unless
/// `accept_unconverged` keeps the result, marked so.
#[test]
fn a_solve_that_misses_its_tolerance_is_never_an_answer() {
    let dir = with_case(&format!("{SPHERE_CASE}rtol = 1e-16\n"));
    for preconditioner in ["amg", "jacobi"] {
        let args = ["solve", "case.toml", "--out", "out", "-q", "--preconditioner", preconditioner];
        let out = ionflux(&args, dir.path());
        assert_clean_failure(&out, &dir.path().join("out"), &["did not converge", "true relative residual"]);
    }
    let dir = with_case(&format!("{SPHERE_CASE}rtol = 1e-16\naccept_unconverged = true\n"));
    let out = ionflux(&["solve", "case.toml", "--out", "out", "-q", "--no-vtu"], dir.path());
    assert_ok(&out);
    assert!(stderr(&out).contains("NOT CONVERGED"), "{}", stderr(&out));
    let summary = read_summary(&dir.path().join("out/summary.json"));
    assert_eq!(summary["solver"]["converged"], false);
    assert!(summary["solver"]["relative_residual"].as_f64().unwrap() > 1e-16);
    assert!(summary["warnings"][0].as_str().unwrap().contains("NOT CONVERGED"));
}

/// Class 3: A current below the round-off of its own terms is flagged, not printed as a number: a 1e9 S/m slab on a
/// 1e6 Ohm m^2 Robin interface carries exactly 0.1 V / 1e6 Ohm m^2 x 1 um^2 = 1e-19 A; the Robin face has it, the
/// top's reaction rows (terms of ~1e2 A) cannot.
#[test]
fn currents_lost_to_cancellation_are_flagged_with_their_bound() {
    let text = cpu_slab()
        .replace("conductivity = \"0.00216 S/cm\"", "conductivity = \"1e9 S/m\"")
        .replace("type = \"dirichlet\"\npotential = \"0 V\"", "type = \"robin\"\nresistance = \"1e6 Ohm m^2\"");
    let dir = with_case(&text);
    let out = ionflux(&["solve", "case.toml", "--out", "out", "--no-vtu"], dir.path());
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = read_summary(&dir.path().join("out/summary.json"));
    let entry =
        |name: &str| summary["boundaries"].as_array().unwrap().iter().find(|b| b["name"] == name).unwrap().clone();
    let (interface, top) = (entry("interface"), entry("top"));
    let exact = -1e-19;
    assert!((interface["current_A"].as_f64().unwrap() + exact).abs() < 1e-6 * exact.abs(), "{interface}");
    assert_eq!(interface["resolved"], true);
    assert_eq!(top["resolved"], false, "{top}");
    let bound = top["resolution_bound_A"].as_f64().unwrap();
    // The bound is honest: it covers the computed value's distance from the exact one.
    assert!(bound >= (top["current_A"].as_f64().unwrap() - exact).abs(), "{top}");
    assert!(stdout.contains("not resolved") && stderr(&out).contains("`top` is not resolved"), "{stdout}");
    // The ordinary case: every current resolved, bounds far below the currents.
    let dir = with_case(&cpu_slab());
    assert_ok(&ionflux(&["solve", "case.toml", "--out", "out", "-q", "--no-vtu"], dir.path()));
    let summary = read_summary(&dir.path().join("out/summary.json"));
    for b in summary["boundaries"].as_array().unwrap() {
        assert_eq!(b["resolved"], true, "{b}");
        assert!(b["resolution_bound_A"].as_f64().unwrap() <= 1e-8 * b["current_A"].as_f64().unwrap().abs(), "{b}");
    }
}

/// Class 4: A sweep runs twice into one folder, and a smaller sweep removes the points of a larger one.
#[test]
fn a_sweep_can_run_twice_and_stale_points_go() {
    let dir = with_case(&cpu_slab());
    let sweep = |points: usize| {
        let vary = format!("boundaries.top.potential=0.1 V..0.2 V:{points}");
        ionflux(&["sweep", "case.toml", "--vary", &vary, "--out", "out", "-q", "--vtu"], dir.path())
    };
    assert_ok(&sweep(3));
    assert_ok(&sweep(3));
    assert_ok(&sweep(2));
    let left = names(&dir.path().join("out"));
    assert_eq!(left, [MANIFEST, "point_0", "point_1", "sweep.csv", "sweep.png", "sweep.pvd"]);
    // Issue 29: without `--vtu` (the default; `--no-vtu` of older scripts says the same) a sweep leaves out each
    // point's VTU and so the collection; the earlier run's go.
    let vary = "boundaries.top.potential=0.1 V..0.2 V:2";
    assert_ok(&ionflux(&["sweep", "case.toml", "--vary", vary, "--out", "out", "-q"], dir.path()));
    assert_eq!(names(&dir.path().join("out")), [MANIFEST, "point_0", "point_1", "sweep.csv", "sweep.png"]);
    assert_ok(&ionflux(&["sweep", "case.toml", "--vary", vary, "--out", "out", "-q", "--no-vtu"], dir.path()));
    assert_eq!(names(&dir.path().join("out")), [MANIFEST, "point_0", "point_1", "sweep.csv", "sweep.png"]);
    assert_eq!(names(&dir.path().join("out/point_0")), ["summary.json"]);
}

/// Class 5: Files named like outputs that no run wrote stay, and so does a case file in `--out`.
#[test]
fn user_files_named_like_outputs_are_never_deleted() {
    let dir = with_case(&cpu_slab());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let mine = ["profile_mine.csv", "jmap.png", "paper_mode_x.vtu", "notes.txt"];
    for name in mine {
        std::fs::write(out.join(name), "mine").unwrap();
    }
    std::fs::create_dir(out.join("point_7")).unwrap();
    assert_ok(&ionflux(&["solve", "case.toml", "--out", "out", "-q"], dir.path()));
    assert_ok(&ionflux(&["solve", "case.toml", "--out", "out", "-q", "--no-vtu"], dir.path()));
    for name in mine {
        assert_eq!(std::fs::read_to_string(out.join(name)).unwrap(), "mine", "{name}");
    }
    assert!(out.join("point_7").is_dir());
    assert!(!out.join("solution.vtu").exists(), "the first run's VTU is the second run's to remove");
    // The case file itself in the output folder, named like a profile.
    std::fs::write(dir.path().join("profile_case.csv"), cpu_slab()).unwrap();
    assert_ok(&ionflux(&["solve", "profile_case.csv", "--out", ".", "-q", "--no-vtu"], dir.path()));
    assert_ok(&ionflux(&["solve", "profile_case.csv", "--out", ".", "-q", "--no-vtu"], dir.path()));
    assert_eq!(std::fs::read_to_string(dir.path().join("profile_case.csv")).unwrap(), cpu_slab());
}

/// Class 6: A closed or full stdout is an error message and exit 1, never a panic; the run's files are written.
#[test]
fn a_closed_or_full_stdout_is_an_error_not_a_panic() {
    let full = Command::new(env!("CARGO_BIN_EXE_ionflux"))
        .args(["devices"])
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(1), "{}", stderr(&full));
    assert!(stderr(&full).contains("standard output") && !stderr(&full).contains("panicked"), "{}", stderr(&full));
    let dir = with_case(&cpu_slab());
    // `ionflux solve ... | true`: the reader is gone before the first line.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let closed = Command::new(env!("CARGO_BIN_EXE_ionflux"))
        .args(["solve", "case.toml", "--out", "out", "--no-vtu"])
        .current_dir(dir.path())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(closed.status.code(), Some(1), "{}", stderr(&closed));
    assert!(!stderr(&closed).contains("panicked"), "{}", stderr(&closed));
    assert!(dir.path().join("out/summary.json").is_file());
}

/// Class 7: A `--set` key path of thousands of segments is refused, naming the override (it overflowed the stack).
#[test]
fn a_deep_set_key_is_refused_naming_the_override() {
    let dir = with_case(&cpu_slab());
    for segments in [2_000, 20_000] {
        let key = vec!["a"; segments].join(".");
        let out = ionflux(&["solve", "case.toml", "--set", &format!("{key}=1"), "--out", "out", "-q"], dir.path());
        assert_clean_failure(&out, &dir.path().join("out"), &["--set", "segments"]);
    }
}

/// Class 8: Layers thinner than h_min are refused with the case, not after a minute of meshing.
#[test]
fn layers_thinner_than_h_min_are_refused_at_once() {
    let layers = "[[layers]]\nmaterial = \"llzo\"\nthickness = \"1 nm\"\n".repeat(10);
    let dir = with_case(&format!("{SPHERE_CASE}{layers}"));
    let start = Instant::now();
    let out = ionflux(&["solve", "case.toml", "--out", "out", "-q"], dir.path());
    assert_clean_failure(&out, &dir.path().join("out"), &["layers[0].thickness", "thinner than mesh.h_min"]);
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    assert_eq!(names(dir.path()), ["case.toml"], "no staging folder left");
}

/// Class 9: Two runs into one folder at once leave one run's complete set (the second is refused while the first
/// holds the folder); names of the user's that a run must write are errors before anything moves.
#[test]
fn concurrent_runs_and_clashing_names_never_mix_sets() {
    let dir = with_case(&cpu_slab());
    std::fs::write(
        dir.path().join("fine.toml"),
        cpu_slab().replace("h_interface = \"0.1 um\"", "h_interface = \"50 nm\""),
    )
    .unwrap();
    let spawn = |case: &str| {
        Command::new(env!("CARGO_BIN_EXE_ionflux"))
            .args(["solve", case, "--out", "out", "-q"])
            .current_dir(dir.path())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut sets = std::collections::HashSet::new();
    for round in 0..5 {
        let (a, b) = (spawn("case.toml"), spawn("fine.toml"));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        for run in [&a, &b] {
            let message = stderr(run);
            assert!(run.status.success() || message.contains("another ionflux run"), "round {round}: {message}");
        }
        assert!(a.status.success() || b.status.success(), "round {round}: neither run finished");
        let out = dir.path().join("out");
        assert_eq!(names(&out), [MANIFEST, "solution.vtu", "summary.json"], "round {round}");
        let nodes = read_summary(&out.join("summary.json"))["mesh"]["nodes"].as_u64().unwrap();
        let vtu = String::from_utf8_lossy(&std::fs::read(out.join("solution.vtu")).unwrap()).into_owned();
        assert!(vtu.contains(&format!("NumberOfPoints=\"{nodes}\"")), "round {round}: a mix of two runs");
        sets.insert(nodes);
    }
    println!("sets seen: {sets:?}");
    // A user's folder named like a sweep point, and a folder named summary.json.
    let out = dir.path().join("sweep");
    std::fs::create_dir_all(out.join("point_1")).unwrap();
    std::fs::write(out.join("point_1/data.txt"), "mine").unwrap();
    let vary = "boundaries.top.potential=0.1 V..0.2 V:2";
    let run = ionflux(&["sweep", "case.toml", "--vary", vary, "--out", "sweep", "-q"], dir.path());
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert!(stderr(&run).contains("point_1") && stderr(&run).contains("no ionflux run wrote it"), "{}", stderr(&run));
    assert_eq!(names(&out), ["point_1"]);
    assert_eq!(std::fs::read_to_string(out.join("point_1/data.txt")).unwrap(), "mine");
    let taken = dir.path().join("taken");
    std::fs::create_dir_all(taken.join("summary.json")).unwrap();
    std::fs::write(taken.join("solution.vtu"), "mine").unwrap();
    let start = Instant::now();
    let run = ionflux(&["solve", "case.toml", "--out", "taken", "-q"], dir.path());
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert!(stderr(&run).contains("solution.vtu") && start.elapsed() < Duration::from_secs(2), "{}", stderr(&run));
    assert_eq!(names(&taken), ["solution.vtu", "summary.json"]);
    assert_eq!(std::fs::read_to_string(taken.join("solution.vtu")).unwrap(), "mine");
}

/// Class 10: The exported system is part of the run's transaction: a failed solve leaves no A.mtx behind.
#[test]
fn an_exported_system_appears_only_with_a_successful_run() {
    let dir = with_case(&format!("{}max_iter = 1\n", cpu_slab()));
    let out = ionflux(&["solve", "case.toml", "--out", "out", "-q", "--export-system", "system"], dir.path());
    assert_clean_failure(&out, &dir.path().join("out"), &["did not converge"]);
    assert!(!dir.path().join("system").exists(), "{:?}", names(dir.path()));
    let dir = with_case(&cpu_slab());
    let out = ionflux(&["solve", "case.toml", "--out", "out", "-q", "--export-system", "system"], dir.path());
    assert_ok(&out);
    // The case's system and the error estimate's dual (the same matrix, another right-hand side).
    let expected = [MANIFEST, "A.mtx", "A_1.mtx", "b.mtx", "b_1.mtx", "free_nodes.txt", "x.mtx", "x_1.mtx"];
    assert_eq!(names(&dir.path().join("system")), expected);
    // Into the output folder itself: one transaction, one manifest.
    let out = ionflux(&["solve", "case.toml", "--out", "out", "-q", "--export-system", "out"], dir.path());
    assert_ok(&out);
    let listed = std::fs::read_to_string(dir.path().join("out").join(MANIFEST)).unwrap();
    assert_eq!(listed, "A.mtx\nA_1.mtx\nb.mtx\nb_1.mtx\nfree_nodes.txt\nsolution.vtu\nsummary.json\nx.mtx\nx_1.mtx\n");
}

/// Class 11: SIGQUIT, SIGUSR1 and a file-size limit (SIGXFSZ) end a run with nothing left behind; staging folders of
/// killed runs are removed by the next run.
#[test]
fn other_signals_and_size_limits_leave_no_staging_folder() {
    let dir = with_case(SPHERE_CASE);
    // The default case at the t = 0.5 sizes: seconds of meshing and solving, so the signal finds it running.
    let mut long_run = vec!["solve", "--backend", "cpu", "--out", "out", "-q"];
    long_run.extend(T05_SIZES);
    for (signal, status) in [("QUIT", 131), ("USR1", 138)] {
        let child = Command::new(env!("CARGO_BIN_EXE_ionflux"))
            .args(&long_run)
            .current_dir(dir.path())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let _ = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status();
        let done = child.wait_with_output().unwrap();
        assert_eq!(done.status.code(), Some(status), "SIG{signal}: {}", stderr(&done));
        assert!(!dir.path().join("out").exists(), "SIG{signal}: {:?}", names(dir.path()));
    }
    // A 64 KiB file-size limit: the VTU passes it.
    let limited = Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 128; exec \"$0\" solve case.toml --out out -q")
        .arg(env!("CARGO_BIN_EXE_ionflux"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_clean_failure(&limited, &dir.path().join("out"), &["solution.vtu"]);
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join(".ionflux-staging-999999999/half")).unwrap();
    assert_ok(&ionflux(&["solve", "case.toml", "--out", "out", "-q", "--no-vtu"], dir.path()));
    assert_eq!(names(&out), [MANIFEST, "summary.json"]);
}

/// Class 12: Counts and reads are bounded: `bench --mesh --nodes` out of range, `/dev/zero` as a case or mesh, a large
/// file that is no mesh, and a GPU check window beyond 256.
#[test]
fn times_and_reads_are_bounded() {
    let dir = with_case(&cpu_slab());
    for nodes in ["0", "5000", "nan", "1e12"] {
        let out = ionflux(&["bench", "--mesh", "--nodes", nodes], dir.path());
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("--nodes"), "{}", stderr(&out));
    }
    let start = Instant::now();
    let out = ionflux(&["solve", "/dev/zero", "--out", "out", "-q"], dir.path());
    assert_clean_failure(&out, &dir.path().join("out"), &["/dev/zero", "larger than 4 MiB"]);
    let case =
        "[mesh]\nfile = \"/dev/zero\"\nunit = \"um\"\n[regions.bulk]\nmaterial = \"m\"\n[materials.m]\nconductivity = \
                \"1 S/m\"\n[boundaries.b]\ntype = \"dirichlet\"\npotential = \"0 V\"\n";
    std::fs::write(dir.path().join("zero.toml"), case).unwrap();
    let out = ionflux(&["solve", "zero.toml", "--out", "out", "-q"], dir.path());
    assert_clean_failure(&out, &dir.path().join("out"), &["/dev/zero", "no mesh file"]);
    std::fs::write(dir.path().join("big.msh"), vec![b'x'; 64 << 20]).unwrap();
    std::fs::write(dir.path().join("big.toml"), case.replace("/dev/zero", "big.msh")).unwrap();
    let out = ionflux(&["solve", "big.toml", "--out", "out", "-q"], dir.path());
    assert_clean_failure(&out, &dir.path().join("out"), &["big.msh", "line 1", "is this a Gmsh MSH file"]);
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
    let out = ionflux(&["solve", "case.toml", "--set", "solver.check_every=1000", "--out", "out", "-q"], dir.path());
    assert_clean_failure(&out, &dir.path().join("out"), &["solver.check_every", "1..=256"]);
}

/// Class 13: Extreme values are refused at their file, line and key, not deep inside the solver; paper mode with two
/// hot spots before the solve.
#[test]
fn extreme_values_are_refused_at_their_key() {
    for (from, to, key) in [
        ("potential = \"0.9 V\"", "potential = \"1e100 V\"", "boundaries.hs.potential"),
        ("potential = \"0.9 V\"", "potential = \"1e300 V\"", "boundaries.hs.potential"),
        (
            "type = \"dirichlet\"\npotential = \"0.9 V\"",
            "type = \"neumann\"\ncurrent_density = \"1e150 A/m^2\"",
            "current_density",
        ),
        ("size = [\"1 um\", \"1 um\", \"1 um\"]", "size = [\"1 um\", \"1 um\", \"1e-100 m\"]", "domain.size"),
    ] {
        assert!(SPHERE_CASE.contains(from), "{from}");
        let text = SPHERE_CASE.replace(from, to);
        let line = text.lines().position(|l| to.lines().last().is_some_and(|last| l == last)).unwrap() + 1;
        let dir = with_case(&text);
        let out = ionflux(&["solve", "case.toml", "--out", "out", "-q"], dir.path());
        assert_clean_failure(&out, &dir.path().join("out"), &["case.toml", &format!("line {line}"), key]);
    }
    let second = "[[hotspots]]\nname = \"hs2\"\nshape = \"sphere\"\ncenter = [\"0.2 um\", \"0.2 um\", \"60 nm\"]\n\
                  radius = \"20 nm\"\n";
    let dir = with_case(&format!("{SPHERE_CASE}{second}[analysis]\npaper_mode = true\n"));
    let start = Instant::now();
    let out = ionflux(&["solve", "case.toml", "--out", "out", "-q"], dir.path());
    assert_clean_failure(&out, &dir.path().join("out"), &["analysis.paper_mode", "2 hot spots"]);
    assert!(start.elapsed() < Duration::from_secs(1), "{:?}", start.elapsed());
}

/// Two tets far apart in one volume group: only the first touches the groups `bottom` and `top`.
const TWO_BODIES: &str = "$MeshFormat
4.1 0 8
$EndMeshFormat
$PhysicalNames
3
2 1 \"bottom\"
2 3 \"top\"
3 2 \"bulk\"
$EndPhysicalNames
$Entities
0 0 2 2
1 0 0 0 1 1 0 1 1 0
2 0 0 0 1 1 1 1 3 0
1 0 0 0 1 1 1 1 2 0
2 5 5 5 6 6 6 1 2 0
$EndEntities
$Nodes
1 8 1 8
3 1 0 8
1
2
3
4
5
6
7
8
0 0 0
1 0 0
0 1 0
0 0 1
5 5 5
6 5 5
5 6 5
5 5 6
$EndNodes
$Elements
4 4 1 4
2 1 2 1
1 1 3 2
2 2 2 1
2 1 2 4
3 1 4 1
3 1 2 3 4
3 2 4 1
4 5 6 7 8
$EndElements
";

/// Class 14: A body of an imported mesh that no dirichlet or robin boundary touches is an error naming its region,
/// with either preconditioner (Jacobi returned an arbitrary potential on it).
#[test]
fn a_floating_body_is_an_error_naming_its_region() {
    let case = "[mesh]\nfile = \"two.msh\"\nunit = \"um\"\n[regions.bulk]\nmaterial = \"m\"\n[materials.m]\n\
                conductivity = \"1 S/m\"\n[boundaries.bottom]\ntype = \"dirichlet\"\npotential = \"0 V\"\n\
                [boundaries.top]\ntype = \"dirichlet\"\npotential = \"1 V\"\n[solver]\nbackend = \"cpu\"\n";
    let dir = with_case(case);
    std::fs::write(dir.path().join("two.msh"), TWO_BODIES).unwrap();
    for preconditioner in ["amg", "jacobi"] {
        let args = ["solve", "case.toml", "--out", "out", "-q", "--preconditioner", preconditioner];
        let out = ionflux(&args, dir.path());
        assert_clean_failure(&out, &dir.path().join("out"), &["4 nodes", "region `bulk`", "touches no boundary"]);
    }
}

/// Class 15: A name the MSH format cannot hold (a quote, a line break) is an error naming it, and no file is written
/// (a newline was written raw, a quote silently became an apostrophe).
#[test]
fn msh_output_refuses_names_it_cannot_store() {
    for name in ["a\\\"b", "a\\nb"] {
        let text = SPHERE_CASE
            .replace("name = \"hs\"", &format!("name = \"{name}\""))
            .replace("[boundaries.hs]\ntype = \"dirichlet\"\npotential = \"0.9 V\"\n", "");
        let dir = with_case(&text);
        let out = ionflux(&["mesh", "case.toml", "--out", "m.msh", "-q"], dir.path());
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("m.msh") && stderr(&out).contains("cannot store"), "{}", stderr(&out));
        assert_eq!(names(dir.path()), ["case.toml"]);
    }
}

/// Class 16: A sphere 60 nm above a 100 nm disk does not overlap it: the message says how far apart they are and what
/// the mesher needs (8 h_min), a gap of 8 h_min meshes, and so does 60 nm with h_min = 5 nm.
#[test]
fn a_sphere_near_a_disk_is_not_called_an_overlap() {
    let disk = "[[hotspots]]\nname = \"disk\"\nshape = \"disk\"\ncenter = [\"0.5 um\", \"0.5 um\"]\nradius = \
                \"100 nm\"\n";
    let case = |center_z: &str, h_min: &str| {
        let text = SPHERE_CASE
            .replace(
                "center = [\"0.5 um\", \"0.5 um\", \"60 nm\"]",
                &format!("center = [\"0.5 um\", \"0.5 um\", \"{center_z}\"]"),
            )
            .replace("h_min = \"5 nm\"", &format!("h_min = \"{h_min}\""));
        format!("{text}{disk}")
    };
    let dir = with_case(&case("80 nm", "10 nm"));
    let out = ionflux(&["solve", "case.toml", "--out", "out", "-q", "--no-vtu"], dir.path());
    let message = assert_clean_failure(&out, &dir.path().join("out"), &["6.000e-8 m apart", "8 h_min"]);
    assert!(!message.contains("overlap"), "{message}");
    for (center_z, h_min) in [("100 nm", "10 nm"), ("80 nm", "5 nm")] {
        let dir = with_case(&case(center_z, h_min));
        assert_ok(&ionflux(&["solve", "case.toml", "--out", "out", "-q", "--no-vtu"], dir.path()));
    }
}

/// Class 13, on a mesh file: a `cylinder_plane` the mesh lacks, or one that is not horizontal, is found once the
/// mesh is read, and the message still points at the case's line.
#[test]
fn a_cylinder_plane_the_mesh_lacks_is_refused_at_its_line() {
    let case = concat!(env!("CARGO_MANIFEST_DIR"), "/meshes/sphere_in_box.toml");
    let text = std::fs::read_to_string(case).unwrap().replace(
        "file = \"sphere_in_box.msh\"",
        &format!("file = \"{}\"", concat!(env!("CARGO_MANIFEST_DIR"), "/meshes/sphere_in_box.msh")),
    );
    for (plane, expected) in [("nowhere", "has no boundary `nowhere`"), ("hotspot", "not a horizontal plane")] {
        let analysis = format!(
            "[analysis]\ncylinder_radius = \"100 nm\"\ncylinder_axis = [\"0 nm\", \"0 nm\"]\ncylinder_plane = \
             \"{plane}\"\n"
        );
        let full = format!("{text}{analysis}");
        let line = full.lines().position(|l| l.starts_with("cylinder_plane")).unwrap() + 1;
        let dir = with_case(&full);
        let out = ionflux(&["solve", "case.toml", "--out", "out", "-q", "--no-vtu"], dir.path());
        assert_clean_failure(&out, &dir.path().join("out"), &[&format!("case.toml, line {line}"), expected]);
    }
}

/// Issue 27: an exported run writes every system it solved, the analyses' re-solves included: the error
/// estimate's dual (`_1`), and with re-lithiation the second reaction step, which re-solves the case at the Li2Sb
/// potential (`_2`).
#[test]
fn an_exported_run_writes_every_system_it_solved() {
    let dir = with_case(SPHERE_CASE);
    let args = ["solve", "case.toml", "--out", "out", "-q", "--no-vtu", "--export-system", "system"];
    let mut args = args.to_vec();
    args.extend(["--set", "analysis.lithiation=true"]);
    assert_ok(&ionflux(&args, dir.path()));
    let system = dir.path().join("system");
    assert_eq!(
        names(&system),
        [
            MANIFEST,
            "A.mtx",
            "A_1.mtx",
            "A_2.mtx",
            "b.mtx",
            "b_1.mtx",
            "b_2.mtx",
            "free_nodes.txt",
            "x.mtx",
            "x_1.mtx",
            "x_2.mtx"
        ]
    );
    let steps = read_summary(&dir.path().join("out/summary.json"))["lithiation"].as_array().unwrap().len();
    assert_eq!(steps, 2, "the first step reads the case's own field, the second re-solves");
    let read = |name: &str| std::fs::read_to_string(system.join(name)).unwrap();
    assert_ne!(read("b.mtx"), read("b_2.mtx"), "the re-solve has its own right-hand side");
    assert_ne!(read("b.mtx"), read("b_1.mtx"), "the dual has its own right-hand side");
    assert_eq!(read("A.mtx"), read("A_1.mtx"), "the dual is solved on the case's matrix");
}
