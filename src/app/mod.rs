//! The application layer: the numbered pipeline walkthrough, parameter sweeps, benchmarks and progress bars.
//! It may use every stage below it (ARCHITECTURE.md); no stage uses it.

pub mod bench;
pub mod pipeline;
pub mod progress;
pub mod sweep;
