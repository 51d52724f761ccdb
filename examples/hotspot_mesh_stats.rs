//! Meshes the paper's default hot spot (8 x 8 x 8 um box, 10 nm sphere centred 25 nm above the interface) with
//! the default controls (h_max = side / 8, h_interface = h_max / 8, h_min = min(h_interface, radius / 5),
//! grading 1.3) and prints its size, mesh time and dihedral-angle range.
//!
//! Run: `cargo run --release --example hotspot_mesh_stats -- [radius_over_h_min=5] [grading=1.3]`
use glam::DVec3;
use ionflux::mesh::geometry::{Geometry, HotSpot, HotSpotShape, MeshControls, DEFAULT_MAX_NODES};
use ionflux::mesh::hotspot::generate;
use ionflux::mesh::quality::MeshQuality;
use std::time::Instant;

fn main() {
    let args: Vec<f64> =
        std::env::args().skip(1).map(|a| a.parse().unwrap_or_else(|_| panic!("`{a}` is not a number"))).collect();
    let radius_over_h_min = args.first().copied().unwrap_or(5.0);
    let grading = args.get(1).copied().unwrap_or(1.3);
    let (side, radius) = (8e-6, 10e-9);
    let geometry = Geometry {
        size: DVec3::splat(side),
        layers: vec![],
        bulk_region: "LLZO".into(),
        hotspots: vec![HotSpot {
            name: "hotspot".into(),
            group: "hotspot".into(),
            shape: HotSpotShape::Sphere { center: DVec3::new(4e-6, 4e-6, 25e-9), radius },
        }],
    };
    let h_max = side / 8.0;
    let h_interface = h_max / 8.0;
    let controls = MeshControls {
        h_max,
        h_interface,
        h_min: h_interface.min(radius / radius_over_h_min),
        grading,
        max_nodes: DEFAULT_MAX_NODES,
    };
    let start = Instant::now();
    let mut last_stage = String::new();
    let mesh = generate(&geometry, &controls, &mut |stage, fraction| {
        if stage != last_stage {
            eprintln!("{:7.2} s  {stage} ({:.0} %)", start.elapsed().as_secs_f64(), 100.0 * fraction);
            last_stage = stage.to_string();
        }
    })
    .unwrap_or_else(|e| panic!("meshing failed: {e}"));
    let seconds = start.elapsed().as_secs_f64();
    let q = MeshQuality::of(&mesh);
    println!(
        "h_min = {:.2e} m, grading {grading}: {} nodes, {} tets, {seconds:.2} s, dihedral {:.2}..{:.2} deg, \
         edges {:.3e}..{:.3e} m",
        controls.h_min, q.nodes, q.tets, q.min_dihedral_deg, q.max_dihedral_deg, q.h_min_m, q.h_max_m
    );
}
