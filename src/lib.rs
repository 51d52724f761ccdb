//! ionflux: steady ionic current fields around Li-depleted hot spots in solid-state batteries.
//!
//! The pipeline (DESIGN.md §3), one module per stage:
//! case file ([`case`]) -> geometry ([`geometry`]) -> mesh ([`mesh`]) -> problem and linear system
//! ([`fem`]) -> solver ([`solver`], CSR in [`sparse`], chosen by [`backend`]) -> post-processing ([`fem::post`],
//! [`science`]) -> output ([`io`]). [`pipeline`] runs the stages in order.

pub mod analysis;
pub mod backend;
pub mod bench;
pub mod case;
pub mod fem;
pub mod geometry;
pub mod gpu;
pub mod io;
pub mod mesh;
pub mod pipeline;
pub mod progress;
pub mod science;
pub mod solver;
pub mod sparse;
pub mod sweep;
pub mod units;
