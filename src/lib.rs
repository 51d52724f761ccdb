//! ionflux: steady ionic current fields around Li-depleted hot spots in solid-state batteries.
//!
//! The pipeline (DESIGN.md §3), one module per stage:
//! case file ([`case`]) -> geometry ([`geometry`]) -> mesh ([`mesh`]) -> problem and linear system
//! ([`fem`]) -> solver ([`solver`], CSR in [`sparse`]) -> post-processing ([`post`]) -> output ([`io`]).

pub mod bench;
pub mod fem;
pub mod geometry;
pub mod gpu;
pub mod mesh;
pub mod solver;
pub mod sparse;
