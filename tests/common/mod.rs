//! Helpers shared by several integration tests. Each test binary uses only some of them.
#![allow(dead_code)]

use std::path::Path;

/// A 1 um x 1 um x 2 um LLZO slab, interface at 0 V, top at 0.1 V: every current is sigma V A / H, exact on any
/// P1 mesh. Line numbers the tests rely on: `material` 4, `conductivity` 6, the top `potential` 12.
pub const SLAB: &str = r#"name = "slab"
[domain]
size = ["1 um", "1 um", "2 um"]
material = "llzo"
[materials.llzo]
conductivity = "0.00216 S/cm"
[boundaries.interface]
type = "dirichlet"
potential = "0 V"
[boundaries.top]
type = "dirichlet"
potential = "0.1 V"
[mesh]
h_max = "0.5 um"
h_interface = "0.1 um"
grading = 1.5
"#;
use std::process::{Command, Output};

/// A clean failure: exit code 1, no panic, every `expected` fragment in stderr, and no `out_dir` left behind.
/// Returns stderr.
pub fn assert_clean_failure(out: &Output, out_dir: &Path, expected: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for fragment in expected {
        assert!(stderr.contains(fragment), "`{fragment}` missing from: {stderr}");
    }
    assert!(!out_dir.exists(), "a failed run left output behind: {stderr}");
    stderr
}

/// Runs the ionflux binary with `args` in `cwd`.
pub fn ionflux(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ionflux")).args(args).current_dir(cwd).output().unwrap()
}

/// `--set` arguments for the default case at the README's t = 0.5 sizes (about 1 M nodes, seconds to solve): a
/// run long enough to be caught mid-way or to have stages longer than a second.
pub const T05_SIZES: [&str; 8] = [
    "--set",
    "mesh.h_max=\"0.25 um\"",
    "--set",
    "mesh.h_interface=\"31.25 nm\"",
    "--set",
    "mesh.h_min=\"1 nm\"",
    "--set",
    "mesh.grading=1.15",
];

/// The sorted names of the entries of `dir`, hidden ones included.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// A `summary.json` written by a run, parsed.
/// A summary.json, checked against `tests/python/summary.schema.json` by the `jsonschema` package (skipped with a
/// printed reason without it, unless IONFLUX_REQUIRE_PYTHON is set).
pub fn read_summary(path: &Path) -> serde_json::Value {
    if let Some(check) = python_check("validate_summary.py", &[path.as_os_str()], &["jsonschema"]) {
        assert_eq!(check["valid"], true, "{}", path.display());
    }
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Width, height and RGB bytes of a PNG written by the plot module (8-bit RGB).
pub fn decode_png(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buffer).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buffer.truncate(info.buffer_size());
    (info.width, info.height, buffer)
}

/// Variance of the grey level: a blank (one-colour) image has zero.
pub fn grey_variance(rgb: &[u8]) -> f64 {
    let grey: Vec<f64> = rgb.chunks(3).map(|p| (p[0] as f64 + p[1] as f64 + p[2] as f64) / 3.0).collect();
    let mean = grey.iter().sum::<f64>() / grey.len() as f64;
    grey.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / grey.len() as f64
}

/// The base case of the reliability checks: a 1 um box with one 20 nm sphere hot spot `hs` at 0.9 V above the
/// 0 V interface, h_min 5 nm, solved on the CPU.
pub const SPHERE_CASE: &str = r#"name = "one sphere"
[domain]
size = ["1 um", "1 um", "1 um"]
material = "llzo"
[materials.llzo]
conductivity = "0.00216 S/cm"
[boundaries.interface]
type = "dirichlet"
potential = "0 V"
[[hotspots]]
name = "hs"
shape = "sphere"
center = ["0.5 um", "0.5 um", "60 nm"]
radius = "20 nm"
[boundaries.hs]
type = "dirichlet"
potential = "0.9 V"
[mesh]
h_min = "5 nm"
[solver]
backend = "cpu"
"#;

/// Runs ionflux under a virtual-memory cap (`ulimit -v`, in KiB) and reports the output and the wall time.
pub fn ionflux_capped(args: &[&str], cwd: &Path, memory_kib: u64) -> (Output, std::time::Duration) {
    let command = format!("ulimit -v {memory_kib}; exec \"$0\" \"$@\"");
    let start = std::time::Instant::now();
    let output = Command::new("sh")
        .arg("-c")
        .arg(command)
        .arg(env!("CARGO_BIN_EXE_ionflux"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    (output, start.elapsed())
}

/// Runs `tests/python/<script>` with `args` and parses the JSON it prints, when python3 has `modules`
/// (independent checkers from PyPI: vtk, scipy). Without them the check is skipped with a printed reason, unless
/// IONFLUX_REQUIRE_PYTHON is set (CI installs them and demands every check).
pub fn python_check(script: &str, args: &[&std::ffi::OsStr], modules: &[&str]) -> Option<serde_json::Value> {
    let import = format!("import {}", modules.join(", "));
    let available = Command::new("python3").args(["-c", &import]).output().is_ok_and(|o| o.status.success());
    if !available {
        let hint = format!("python3 with {} (`python3 -m pip install {}`)", modules.join(", "), modules.join(" "));
        assert!(
            std::env::var_os("IONFLUX_REQUIRE_PYTHON").is_none(),
            "IONFLUX_REQUIRE_PYTHON is set but {hint} is missing"
        );
        eprintln!("skipped: this check needs {hint}");
        return None;
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(script);
    let out = Command::new("python3").arg(path).args(args).output().unwrap();
    assert!(out.status.success(), "{script} failed: {}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// Spheres of radius 20 nm at 0.9 V, 60 nm above a 0 V interface, at x = each of `centres` (um) and y = 0.5 um,
/// in a box `width_um` wide, 1 um deep and high, with insulating sides (CPU backend): far-apart hot spots.
pub fn far_apart_spheres_case(width_um: f64, centres: &[f64]) -> String {
    let spheres: String = centres
        .iter()
        .enumerate()
        .map(|(i, x)| {
            format!(
                "[[hotspots]]\nname = \"s{i}\"\nshape = \"sphere\"\ncenter = [\"{x} um\", \"0.5 um\", \"60 nm\"]\n\
                 radius = \"20 nm\"\n[boundaries.s{i}]\ntype = \"dirichlet\"\npotential = \"0.9 V\"\n"
            )
        })
        .collect();
    format!(
        "[domain]\nsize = [\"{width_um} um\", \"1 um\", \"1 um\"]\nmaterial = \"llzo\"\n[materials.llzo]\n\
         conductivity = \"0.00216 S/cm\"\n[boundaries.interface]\ntype = \"dirichlet\"\npotential = \"0 V\"\n\
         {spheres}[mesh]\nh_max = \"0.25 um\"\nh_interface = \"0.1 um\"\nh_min = \"4 nm\"\n[solver]\nbackend = \"cpu\"\n"
    )
}

/// The shell a < |x| < b meshed at size h: boundaries `inner` (the electrolyte outside it) and `outer` (inside it).
pub fn shell_mesh(a: f64, b: f64, h: f64) -> ionflux::mesh::Mesh {
    use glam::DVec3;
    use ionflux::mesh::geometry::{MeshControls, DEFAULT_MAX_NODES};
    use ionflux::mesh::implicit::{mesh_implicit, ImplicitDomain, Keep, Surface};
    let center = DVec3::ZERO;
    let domain = ImplicitDomain {
        lo: DVec3::splat(-1.1 * b),
        hi: DVec3::splat(1.1 * b),
        planes_z: vec![],
        region_names: vec!["shell".into()],
        surfaces: vec![
            Surface::Sphere { name: "inner".into(), center, radius: a, keep: Keep::Outside },
            Surface::Sphere { name: "outer".into(), center, radius: b, keep: Keep::Inside },
        ],
    };
    let controls = MeshControls { h_max: h, h_min: h, h_interface: h, grading: 1.3, max_nodes: DEFAULT_MAX_NODES };
    mesh_implicit(&domain, &controls, &mut |_| {}).expect("shell meshes").0
}
