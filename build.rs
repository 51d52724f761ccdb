//! With the `petsc` feature: link the system's PETSc, found by pkg-config as `PETSc` (Debian's petsc-dev), and tell
//! src/petsc whether it has hypre. Its integers must be 32-bit (the hand-written bindings' PetscInt). Without the
//! feature nothing happens. Always: the git commit of the checkout, for `summary.json` (`IONFLUX_GIT_REVISION`).

use std::process::Command;

fn main() {
    git_revision();
    println!("cargo::rustc-check-cfg=cfg(petsc_has_hypre)");
    println!("cargo::rerun-if-env-changed=CARGO_FEATURE_PETSC");
    println!("cargo::rerun-if-env-changed=PKG_CONFIG_PATH");
    if std::env::var_os("CARGO_FEATURE_PETSC").is_none() {
        return;
    }
    let pkg_config = |flag: &str| {
        let out = Command::new("pkg-config").args([flag, "PETSc"]).output().unwrap_or_else(|e| {
            panic!("the petsc feature needs pkg-config and PETSc (Debian: apt-get install petsc-dev): {e}")
        });
        assert!(
            out.status.success(),
            "the petsc feature needs PETSc found by pkg-config as `PETSc` (Debian: apt-get install petsc-dev): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("pkg-config prints text")
    };
    for flag in pkg_config("--libs").split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo::rustc-link-search=native={dir}");
            println!("cargo::rustc-link-arg=-Wl,-rpath,{dir}");
        } else if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo::rustc-link-lib={lib}");
        }
    }
    let include = pkg_config("--cflags")
        .split_whitespace()
        .filter_map(|f| f.strip_prefix("-I"))
        .map(|d| std::path::Path::new(d).join("petscconf.h"))
        .find(|p| p.is_file())
        .expect("PETSc's petscconf.h in the include folders pkg-config names");
    let conf = std::fs::read_to_string(&include).expect("petscconf.h is readable");
    assert!(
        !conf.contains("#define PETSC_USE_64BIT_INDICES 1"),
        "this PETSc uses 64-bit indices; ionflux's bindings need the 32-bit build (Debian's petsc-dev)"
    );
    if conf.contains("#define PETSC_HAVE_HYPRE 1") {
        println!("cargo::rustc-cfg=petsc_has_hypre");
    }
    println!("cargo::rerun-if-changed={}", include.display());
}

/// `IONFLUX_GIT_REVISION`: the checkout's commit, "unknown" without git or outside a checkout; rebuilt when HEAD
/// moves.
fn git_revision() {
    let revision = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map_or("unknown".to_string(), |out| String::from_utf8_lossy(&out.stdout).trim().to_string());
    println!("cargo::rustc-env=IONFLUX_GIT_REVISION={revision}");
    if let Ok(dir) = Command::new("git").args(["rev-parse", "--git-dir"]).output() {
        let dir = String::from_utf8_lossy(&dir.stdout).trim().to_string();
        if !dir.is_empty() {
            println!("cargo::rerun-if-changed={dir}/HEAD");
            println!("cargo::rerun-if-changed={dir}/refs/heads");
        }
    }
}
