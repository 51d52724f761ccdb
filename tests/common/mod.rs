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

/// Runs the ionflux binary with `args` in `cwd`.
pub fn ionflux(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ionflux")).args(args).current_dir(cwd).output().unwrap()
}

/// A `summary.json` written by a run, parsed.
pub fn read_summary(path: &Path) -> serde_json::Value {
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
