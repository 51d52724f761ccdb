//! The GPU solver: wgpu compute shaders (one WGSL kernel per file in `shaders/`) running conjugate gradients,
//! preconditioned by an AMG W-cycle (hierarchy set up on the CPU) or Jacobi, with the whole loop on the GPU, in f32 (with f64 iterative refinement on the CPU for `mixed`) or in f64
//! where the adapter has SHADER_F64. Everything that touches wgpu lives in this module.

mod chunks;
mod context;
mod kernels;
mod layout;
mod real;
mod solver;
mod system;

pub use chunks::MAX_X_BINDINGS;
pub use context::{list_adapters, quiet_headless_vulkan_layers, AdapterInfoRow, GpuContext, GpuRequest};
#[cfg(feature = "testing")]
pub use context::{test_context, test_context_with, MAX_BINDING_BYTES_ENV};
pub use kernels::WORKGROUP_SIZE;
pub use real::Real;
pub use solver::{gpu_amg_options, GpuSolver, MIXED_INNER_RTOL};
pub use system::{copy_seconds, GpuSystem, InnerSolve, TimedOp};

/// What can go wrong on the GPU side. Each message says what to do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GpuError {
    #[error("no GPU adapter matches ({reason}); adapters found: {available}")]
    NoAdapter { reason: String, available: String },
    #[error("the adapter {adapter} lacks SHADER_F64; use --precision mixed or f32")]
    NoF64 { adapter: String },
    #[error("the GPU ran out of memory while {what}; try a smaller mesh or --backend cpu")]
    OutOfMemory { what: String },
    #[error("the GPU device was lost ({0}); rerun, or use --backend cpu")]
    DeviceLost(String),
    #[error("GPU backend error: {0}")]
    Backend(String),
}
