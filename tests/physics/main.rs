//! The verification ladder and the science (ARCHITECTURE.md, "Verification"): each test asserts a number
//! against an exact or independent value.

#[path = "../common/mod.rs"]
mod common;

mod conservation;
mod drivers;
mod estimates;
mod fields;
mod gmsh_import;
mod hotspot_analytic;
mod interlayer;
mod kinetics;
mod lithiation;
mod mesh_hotspots;
mod multigrid;
mod paper_mode;
mod verification;
mod voids;
