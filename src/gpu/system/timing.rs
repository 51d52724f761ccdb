//! Timings for the benchmarks: one kernel (or a whole PCG iteration) repeated in one submission, and the copy
//! kernel that is their yardstick on the same device.

use super::{GpuSystem, STORAGE};
use crate::gpu::context::GpuContext;
use crate::gpu::kernels::{workgroups_for, Kernel};
use crate::gpu::layout::{CgScalars, KernelParams};
use crate::gpu::real::Real;
use crate::gpu::GpuError;
use std::time::Instant;
use wgpu::BufferUsages;

/// Timed operations for the benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimedOp {
    Spmv,
    CgIteration,
}

impl GpuSystem {
    /// Wall seconds per `op`, averaged over `repeats` runs recorded in one submission (after a warm-up).
    pub fn seconds_per(&self, op: TimedOp, repeats: usize) -> Result<f64, GpuError> {
        let ones = vec![1.0; self.n];
        self.upload(&self.r, &ones);
        self.upload(&self.p, &ones);
        // A target below zero keeps the loop running, so every timed iteration does the full work.
        let scalars =
            CgScalars { rz: 1.0, rr: 1.0, target_rr: -1.0, max_iterations: u32::MAX, running: 1, ..Default::default() };
        self.write_scalars(scalars);
        let (_history, scalars_bind_group) = self.history_bind_group(repeats + 2)?;
        let scalars_bind_group = &scalars_bind_group;
        let record = |pass: &mut wgpu::ComputePass| match op {
            TimedOp::Spmv => self.record_spmv(pass),
            TimedOp::CgIteration => self.record_iteration(pass, scalars_bind_group),
        };
        self.ctx.run_from_zero(&[&self.x], record, 1)?;
        self.write_scalars(scalars);
        let start = Instant::now();
        self.ctx.run(record, repeats.max(1))?;
        Ok(start.elapsed().as_secs_f64() / repeats.max(1) as f64)
    }
}

/// Wall seconds of one run of the copy kernel over `len` f32 values (clamped to the binding limit; the
/// length used is returned too), averaged over `repeats` runs in one submission after a warm-up.
pub fn copy_seconds(ctx: &GpuContext, len: usize, repeats: usize) -> Result<(usize, f64), GpuError> {
    let len = len.min((ctx.max_binding_bytes() / Real::F32.bytes()) as usize).max(1);
    let kernels = ctx.kernels(Real::F32)?;
    let bytes = len as u64 * Real::F32.bytes();
    let src = ctx.create_buffer("copy src", bytes, STORAGE)?;
    let dst = ctx.create_buffer("copy dst", bytes, STORAGE)?;
    let params = ctx.create_buffer("copy params", 16, BufferUsages::UNIFORM | BufferUsages::COPY_DST)?;
    let groups = workgroups_for(len);
    let kernel_params = KernelParams { len: len as u32, ..Default::default() };
    ctx.queue().write_buffer(&params, 0, bytemuck::bytes_of(&kernel_params));
    ctx.queue().write_buffer(&src, 0, &Real::F32.encode(&vec![1.0; len]));
    let bind_group = kernels.bind_group(
        ctx.device(),
        Kernel::Copy,
        &[params.as_entire_binding(), src.as_entire_binding(), dst.as_entire_binding()],
    );
    let record = |pass: &mut wgpu::ComputePass| ctx.dispatch(kernels, pass, Kernel::Copy, &bind_group, groups);
    ctx.run(record, 1)?;
    let start = Instant::now();
    ctx.run(record, repeats.max(1))?;
    Ok((len, start.elapsed().as_secs_f64() / repeats.max(1) as f64))
}
