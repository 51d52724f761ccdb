//! ionflux: steady ionic current fields around Li-depleted hot spots in solid-state batteries.
//!
//! The pipeline and the import rules between these folders are in ARCHITECTURE.md: each stage is a folder
//! ([`case`], [`mesh`], [`fem`], [`solver`], [`gpu`], `petsc` with the `petsc` feature, [`analysis`], [`io`]) and the application layer
//! ([`app`]: the pipeline walkthrough, sweeps, benchmarks, progress bars) sits on top.

pub mod analysis;
pub mod app;
pub mod case;
pub mod fem;
pub mod gpu;
pub mod io;
pub mod mesh;
#[cfg(feature = "petsc")]
pub mod petsc;
pub mod solver;
pub mod study;
