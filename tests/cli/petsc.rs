//! The PETSc backend (`--backend petsc`, built with `--features petsc`): `mpiexec -n 2` solves the default case
//! (reduced) and the kinetic hot spot with PETSc's CG and BoomerAMG to the CPU's currents, only rank 0 writes, and a
//! diverged KSP is an error naming its reason with no output. Without the feature, `--backend petsc` is a clear
//! error. CI runs these under the feature (`.ci/run`); a plain `cargo test` runs the refusal only.

use crate::common::ionflux;
#[cfg(feature = "petsc")]
use crate::common::read_summary;

/// `mpiexec -n 2 ionflux ARGS` in `cwd` (OpenMPI refuses root without the two variables; CI runs as root).
#[cfg(feature = "petsc")]
fn mpiexec(args: &[&str], cwd: &std::path::Path) -> std::process::Output {
    std::process::Command::new("mpiexec")
        .args(["-n", "2", env!("CARGO_BIN_EXE_ionflux")])
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

#[cfg(feature = "petsc")]
#[test]
fn two_mpi_ranks_on_petsc_give_the_cpu_currents_and_only_rank_0_writes() {
    let dir = tempfile::tempdir().unwrap();
    let kinetic = concat!(env!("CARGO_MANIFEST_DIR"), "/meshes/hotspot_kinetics.toml");
    for (case, name) in [(None, "default"), (Some(kinetic), "kinetic")] {
        let mut args: Vec<&str> = vec!["solve"];
        args.extend(case);
        args.extend(REDUCED);
        args.extend(["--no-vtu", "-q", "--set", "solver.rtol=1e-12"]);
        let cpu =
            ionflux(&[args.as_slice(), &["--backend", "cpu", "--out", &format!("{name}_cpu")]].concat(), dir.path());
        assert!(cpu.status.success(), "{}", String::from_utf8_lossy(&cpu.stderr));
        let petsc = mpiexec(
            &[args.as_slice(), &["--backend", "petsc", "--out", &format!("{name}_petsc")]].concat(),
            dir.path(),
        );
        assert!(petsc.status.success(), "{}", String::from_utf8_lossy(&petsc.stderr));
        let (cpu, petsc) = (
            read_summary(&dir.path().join(format!("{name}_cpu/summary.json"))),
            read_summary(&dir.path().join(format!("{name}_petsc/summary.json"))),
        );
        assert_eq!(petsc["solver"]["backend"], "petsc");
        assert!(petsc["solver"]["device"].as_str().unwrap().contains("2 MPI rank"), "{}", petsc["solver"]);
        assert!(petsc["solver"]["preconditioner"].as_str().unwrap().starts_with("petsc "));
        let difference = current_difference(&petsc, &cpu);
        println!("{name}: PETSc on 2 ranks against the CPU: {difference:.2e}");
        assert!(difference < 1e-8, "{name}: {difference:e}");
        // Only rank 0 wrote: the folder holds the one run's files.
        let mut files: Vec<String> = std::fs::read_dir(dir.path().join(format!("{name}_petsc")))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files, [".ionflux-manifest", "summary.json"]);
    }
    let diverged = mpiexec(
        &["solve", "--backend", "petsc", "--set", "solver.petsc_options=\"-ksp_max_it 2\"", "-q", "--out", "diverged"],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&diverged.stderr);
    assert!(!diverged.status.success());
    assert_eq!(stderr.matches("DIVERGED_ITS").count(), 1, "one message, from rank 0: {stderr}");
    assert!(stderr.contains("no result is reported"), "{stderr}");
    assert!(!dir.path().join("diverged").exists());
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
