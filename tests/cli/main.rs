//! The command line and its inputs and outputs: CLI runs end to end, case files and their error
//! messages, sweeps, VTU read back by VTK, and the README and ARCHITECTURE.md kept true to the code.

#[path = "../common/mod.rs"]
mod common;

mod architecture;
mod case_files;
mod commands;
mod fuzz_corpus;
mod gmsh_input;
mod hostile;
mod petsc;
mod readme;
mod reliability;
mod sweep;
mod vtu_readback;
