//! GPU against the CPU reference: each kernel on seeded data, whole solves, whole cases. Skips (with a printed
//! reason) without an adapter; fails under IONFLUX_REQUIRE_GPU=1 (CI).

#[path = "../common/mod.rs"]
mod common;

mod amg;
mod kernels;
mod pipeline;
mod solve;
