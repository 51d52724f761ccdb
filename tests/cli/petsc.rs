//! The PETSc backend (`--backend petsc`, built with `--features petsc`): `mpiexec -n 2` solves the default case
//! (reduced) and the kinetic hot spot with PETSc's CG and BoomerAMG to the CPU's currents, only rank 0 writes, and a
//! diverged KSP is an error naming its reason with no output. Without the feature, `--backend petsc` is a clear
//! error. CI runs these under the feature (`.ci/run`); a plain `cargo test` runs the refusal only.

use crate::common::ionflux;
#[cfg(feature = "petsc")]
use crate::common::read_summary;

/// `mpiexec -n RANKS ionflux ARGS` in `cwd` (OpenMPI refuses root without the two variables; CI runs as root).
#[cfg(feature = "petsc")]
fn mpiexec(ranks: usize, args: &[&str], cwd: &std::path::Path) -> std::process::Output {
    std::process::Command::new("mpiexec")
        .args(["-n", &ranks.to_string(), env!("CARGO_BIN_EXE_ionflux")])
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .current_dir(cwd)
        .output()
        .expect("mpiexec runs (Debian: openmpi-bin, a dependency of petsc-dev)")
}

#[cfg(feature = "petsc")]
const REDUCED: [&str; 8] = [
    "--set",
    "mesh.h_max=\"2 um\"",
    "--set",
    "mesh.h_interface=\"0.5 um\"",
    "--set",
    "mesh.h_min=\"4 nm\"",
    "--set",
    "mesh.grading=1.5",
];

/// Every current of two summaries, relative to the largest: the largest difference.
#[cfg(feature = "petsc")]
fn current_difference(a: &serde_json::Value, b: &serde_json::Value) -> f64 {
    let currents = |s: &serde_json::Value| -> Vec<f64> {
        ["boundaries", "hotspots"]
            .iter()
            .flat_map(|k| {
                s[*k].as_array().unwrap().iter().map(|c| c["current_A"].as_f64().unwrap()).collect::<Vec<_>>()
            })
            .collect()
    };
    let (a, b) = (currents(a), currents(b));
    let scale = b.iter().fold(0.0f64, |m, c| m.max(c.abs()));
    a.iter().zip(&b).map(|(x, y)| (x - y).abs() / scale).fold(0.0, f64::max)
}

/// The default case and a random set of hot spots (at a reduced resolution), the interlayer hot spot, Gmsh's
/// sphere_in_box and the kinetic hot spot, on 1 and 2 ranks: every current within 1e-8 of the CPU's; only rank 0
/// writes.
#[cfg(feature = "petsc")]
#[test]
fn petsc_on_one_and_two_ranks_gives_the_cpu_currents_and_only_rank_0_writes() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| format!("{}/meshes/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let cases = [
        ("default", None, true),
        ("interlayer", Some(file("interlayer_hotspot")), false),
        ("random", Some(file("random")), true),
        ("gmsh", Some(file("sphere_in_box")), false),
        ("kinetic", Some(file("hotspot_kinetics")), true),
    ];
    for (name, case, reduce) in &cases {
        let mut args: Vec<&str> = vec!["solve"];
        args.extend(case.as_deref());
        if *reduce {
            args.extend(REDUCED);
        }
        args.extend(["--no-vtu", "-q", "--set", "solver.rtol=1e-11"]);
        let cpu_out = format!("{name}_cpu");
        let cpu = ionflux(&[args.as_slice(), &["--backend", "cpu", "--out", &cpu_out]].concat(), dir.path());
        assert!(cpu.status.success(), "{name}: {}", String::from_utf8_lossy(&cpu.stderr));
        let cpu = read_summary(&dir.path().join(format!("{cpu_out}/summary.json")));
        for ranks in [1, 2] {
            let out = format!("{name}_petsc_{ranks}");
            let petsc = mpiexec(ranks, &[args.as_slice(), &["--backend", "petsc", "--out", &out]].concat(), dir.path());
            assert!(petsc.status.success(), "{name}, {ranks}: {}", String::from_utf8_lossy(&petsc.stderr));
            let summary = read_summary(&dir.path().join(format!("{out}/summary.json")));
            assert_eq!(summary["solver"]["backend"], "petsc");
            let device = summary["solver"]["device"].as_str().unwrap();
            assert!(device.contains(&format!("{ranks} MPI rank")), "{device}");
            let difference = current_difference(&summary, &cpu);
            println!("{name}: PETSc on {ranks} rank(s) against the CPU: {difference:.2e}");
            assert!(difference < 1e-8, "{name}, {ranks} ranks: {difference:e}");
            // Only rank 0 wrote: the folder holds the one run's files.
            let mut files: Vec<String> = std::fs::read_dir(dir.path().join(&out))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            files.sort();
            assert_eq!(files, [".ionflux-manifest", "summary.json"]);
        }
    }
}

/// A diverged KSP and a bad PETSc option: one error message (rank 0's) naming what failed, exit != 0, no output.
#[cfg(feature = "petsc")]
#[test]
fn petsc_failures_are_errors_with_no_output() {
    let dir = tempfile::tempdir().unwrap();
    for (option, expected) in
        [("-ksp_max_it 2", "DIVERGED_ITS"), ("-ksp_type no_such_krylov_method", "KSPSetFromOptions")]
    {
        let set = format!("solver.petsc_options=\"{option}\"");
        let out = mpiexec(2, &["solve", "--backend", "petsc", "--set", &set, "-q", "--out", "failed"], dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{option}: {stderr}");
        let ours: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert!(ours.len() == 1 && ours[0].contains(expected), "{option}: one message, from rank 0: {stderr}");
        assert!(!dir.path().join("failed").exists(), "{option}: output left behind");
    }
}

#[cfg(not(feature = "petsc"))]
#[test]
fn petsc_without_the_feature_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = ionflux(&["solve", "--backend", "petsc", "-q", "--out", "out"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("built without PETSc") && stderr.contains("--features petsc"), "{stderr}");
    assert!(!dir.path().join("out").exists());
}
