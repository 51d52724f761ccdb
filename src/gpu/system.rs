//! A CSR system resident on the GPU: the matrix in row chunks that respect the storage-binding limit,
//! the PCG vectors and scalars, the bind groups, and the GPU-resident Jacobi-PCG loop.

use super::context::GpuContext;
use super::kernels::{fold_dispatch, workgroups_for, Kernel, KernelSet};
use super::layout::{CgScalars, KernelParams};
use super::GpuError;
use crate::sparse::CsrMatrix;
use std::ops::Range;
use std::time::Instant;
use wgpu::BufferUsages;

/// The scalar type of the GPU kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Real {
    F32,
    /// Needs SHADER_F64.
    F64,
}

impl Real {
    pub fn bytes(self) -> u64 {
        match self {
            Real::F32 => 4,
            Real::F64 => 8,
        }
    }

    fn encode(self, values: &[f64]) -> Vec<u8> {
        match self {
            Real::F32 => bytemuck::cast_slice(&values.iter().map(|&v| v as f32).collect::<Vec<f32>>()).to_vec(),
            Real::F64 => bytemuck::cast_slice(values).to_vec(),
        }
    }

    fn decode(self, bytes: &[u8]) -> Vec<f64> {
        match self {
            Real::F32 => bytemuck::pod_collect_to_vec::<u8, f32>(bytes).into_iter().map(f64::from).collect(),
            Real::F64 => bytemuck::pod_collect_to_vec::<u8, f64>(bytes),
        }
    }

    /// `value` rounded to this precision, as the GPU sees it.
    fn round(self, value: f64) -> f64 {
        match self {
            Real::F32 => value as f32 as f64,
            Real::F64 => value,
        }
    }

    fn encode_scalars(self, scalars: CgScalars<f64>) -> Vec<u8> {
        match self {
            Real::F32 => bytemuck::bytes_of(&CgScalars::<f32>::from_f64(scalars)).to_vec(),
            Real::F64 => bytemuck::bytes_of(&scalars).to_vec(),
        }
    }

    fn decode_scalars(self, bytes: &[u8]) -> CgScalars<f64> {
        match self {
            Real::F32 => bytemuck::pod_read_unaligned::<CgScalars<f32>>(bytes).to_f64(),
            Real::F64 => bytemuck::pod_read_unaligned::<CgScalars<f64>>(bytes),
        }
    }

    fn scalars_size(self) -> u64 {
        match self {
            Real::F32 => std::mem::size_of::<CgScalars<f32>>() as u64,
            Real::F64 => std::mem::size_of::<CgScalars<f64>>() as u64,
        }
    }
}

/// Rows of the matrix whose cols and values each fit in one storage binding.
struct MatrixChunk {
    rows: Range<usize>,
    spmv_bind_group: wgpu::BindGroup,
}

/// What one GPU PCG solve did.
#[derive(Debug, Clone)]
pub struct InnerSolve {
    pub solution: Vec<f64>,
    pub iterations: usize,
    /// ||r_k|| / ||r_0|| (recurrence residual, in the GPU precision), k = 0..=iterations.
    pub residual_history: Vec<f64>,
    /// Some(p.q) when p.q <= 0 stopped the loop.
    pub breakdown: Option<f64>,
}

/// Timed operations for the benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimedOp {
    Spmv,
    CgIteration,
}

const STORAGE: BufferUsages = BufferUsages::STORAGE.union(BufferUsages::COPY_DST).union(BufferUsages::COPY_SRC);

/// A matrix and its PCG workspace on the GPU.
pub struct GpuSystem<'a> {
    ctx: &'a GpuContext,
    real: Real,
    n: usize,
    chunks: Vec<MatrixChunk>,
    inv_diag: Vec<f64>,
    x: wgpu::Buffer,
    r: wgpu::Buffer,
    p: wgpu::Buffer,
    q: wgpu::Buffer,
    scalars: wgpu::Buffer,
    dot_bind_group: wgpu::BindGroup,
    reduce_bind_group: wgpu::BindGroup,
    update_bind_group: wgpu::BindGroup,
    p_update_bind_group: wgpu::BindGroup,
}

/// Splits rows into chunks whose cols, values and row_ptr each need at most `max_bytes`.
fn plan_chunks(a: &CsrMatrix, real: Real, max_bytes: u64) -> Result<Vec<Range<usize>>, GpuError> {
    let bytes_per_nonzero = real.bytes().max(4);
    let mut chunks = Vec::new();
    let mut begin = 0;
    while begin < a.nrows {
        let mut end = begin;
        while end < a.nrows {
            let nonzeros = (a.row_ptr[end + 1] - a.row_ptr[begin]) as u64;
            let row_ptr_bytes = (end + 2 - begin) as u64 * 4;
            if nonzeros * bytes_per_nonzero > max_bytes || row_ptr_bytes > max_bytes {
                break;
            }
            end += 1;
        }
        if end == begin {
            return Err(GpuError::Backend(format!(
                "row {begin} alone needs more than the {max_bytes}-byte storage binding limit"
            )));
        }
        chunks.push(begin..end);
        begin = end;
    }
    Ok(chunks)
}

impl<'a> GpuSystem<'a> {
    /// Uploads `a` (rounded to `real`) and allocates the PCG workspace.
    pub fn new(ctx: &'a GpuContext, a: &CsrMatrix, real: Real) -> Result<GpuSystem<'a>, GpuError> {
        let kernels = ctx.kernels(real)?;
        let n = a.nrows;
        let vector_bytes = n as u64 * real.bytes();
        if vector_bytes > ctx.max_binding_bytes() {
            return Err(GpuError::Backend(format!(
                "a vector of {n} unknowns needs {vector_bytes} bytes in one storage binding, above the limit of {} \
                 bytes; only the matrix is split into chunks",
                ctx.max_binding_bytes()
            )));
        }
        let device = ctx.device();
        let queue = ctx.queue();
        let vector = |label: &str| ctx.create_buffer(label, vector_bytes, STORAGE);
        let uniform = |label: &str, params: KernelParams| -> Result<wgpu::Buffer, GpuError> {
            let buffer = ctx.create_buffer(label, 16, BufferUsages::UNIFORM | BufferUsages::COPY_DST)?;
            queue.write_buffer(&buffer, 0, bytemuck::bytes_of(&params));
            Ok(buffer)
        };
        let (x, r, p, q) = (vector("x")?, vector("r")?, vector("p")?, vector("q")?);
        let inv_diag: Vec<f64> = a.diagonal().iter().map(|&d| if d != 0.0 { 1.0 / d } else { 1.0 }).collect();
        let inv_diag_buffer = vector("inv_diag")?;
        queue.write_buffer(&inv_diag_buffer, 0, &real.encode(&inv_diag));

        let groups = workgroups_for(n);
        let partials = ctx.create_buffer("partials", groups as u64 * 2 * real.bytes(), STORAGE)?;
        let scalars = ctx.create_buffer("scalars", real.scalars_size(), STORAGE)?;
        let vector_params =
            uniform("vector params", KernelParams { len: n as u32, row_begin: 0, partial_count: groups, pad: 0 })?;

        let mut chunks = Vec::new();
        for rows in plan_chunks(a, real, ctx.max_binding_bytes())? {
            let nonzeros = a.row_ptr[rows.start]..a.row_ptr[rows.end];
            let row_ptr: Vec<u32> =
                a.row_ptr[rows.start..=rows.end].iter().map(|&k| (k - nonzeros.start) as u32).collect();
            let row_ptr_buffer = ctx.create_buffer("row_ptr", row_ptr.len() as u64 * 4, STORAGE)?;
            queue.write_buffer(&row_ptr_buffer, 0, bytemuck::cast_slice(&row_ptr));
            let cols = ctx.create_buffer("cols", nonzeros.len() as u64 * 4, STORAGE)?;
            queue.write_buffer(&cols, 0, bytemuck::cast_slice(&a.col_idx[nonzeros.clone()]));
            let values = ctx.create_buffer("values", nonzeros.len() as u64 * real.bytes(), STORAGE)?;
            queue.write_buffer(&values, 0, &real.encode(&a.values[nonzeros]));
            let params = uniform(
                "chunk params",
                KernelParams { len: rows.len() as u32, row_begin: rows.start as u32, partial_count: 0, pad: 0 },
            )?;
            let spmv_bind_group =
                kernels.bind_group(device, Kernel::Spmv, &[&params, &row_ptr_buffer, &cols, &values, &p, &q]);
            chunks.push(MatrixChunk { rows, spmv_bind_group });
        }

        Ok(GpuSystem {
            ctx,
            real,
            n,
            inv_diag,
            dot_bind_group: kernels.bind_group(device, Kernel::DotPartial, &[&vector_params, &p, &q, &partials]),
            reduce_bind_group: kernels.bind_group(device, Kernel::ReduceFinal, &[&vector_params, &partials, &scalars]),
            update_bind_group: kernels.bind_group(
                device,
                Kernel::CgUpdate,
                &[&vector_params, &scalars, &p, &q, &inv_diag_buffer, &x, &r, &partials],
            ),
            p_update_bind_group: kernels.bind_group(
                device,
                Kernel::PUpdate,
                &[&vector_params, &scalars, &r, &inv_diag_buffer, &p],
            ),
            chunks,
            x,
            r,
            p,
            q,
            scalars,
        })
    }

    pub fn unknowns(&self) -> usize {
        self.n
    }

    /// Row chunks the matrix was split into (more than one when it exceeds the binding limit).
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    pub fn real(&self) -> Real {
        self.real
    }

    fn kernels(&self) -> &KernelSet {
        self.ctx.kernels(self.real).expect("GpuSystem::new checked the kernels")
    }

    fn dispatch(&self, pass: &mut wgpu::ComputePass, kernel: Kernel, bind_group: &wgpu::BindGroup, workgroups: u32) {
        dispatch(self.ctx, self.kernels(), pass, kernel, bind_group, workgroups);
    }

    fn run(&self, op: impl Fn(&mut wgpu::ComputePass), count: usize) -> Result<(), GpuError> {
        run(self.ctx, op, count)
    }

    fn record_spmv(&self, pass: &mut wgpu::ComputePass) {
        for chunk in &self.chunks {
            self.dispatch(pass, Kernel::Spmv, &chunk.spmv_bind_group, workgroups_for(chunk.rows.len()));
        }
    }

    /// One PCG iteration, entirely on the GPU.
    fn record_iteration(&self, pass: &mut wgpu::ComputePass, scalars_bind_group: &wgpu::BindGroup) {
        let groups = workgroups_for(self.n);
        self.record_spmv(pass);
        self.dispatch(pass, Kernel::DotPartial, &self.dot_bind_group, groups);
        self.dispatch(pass, Kernel::ReduceFinal, &self.reduce_bind_group, 1);
        self.dispatch(pass, Kernel::ComputeAlpha, scalars_bind_group, 1);
        self.dispatch(pass, Kernel::CgUpdate, &self.update_bind_group, groups);
        self.dispatch(pass, Kernel::ReduceFinal, &self.reduce_bind_group, 1);
        self.dispatch(pass, Kernel::ComputeBeta, scalars_bind_group, 1);
        self.dispatch(pass, Kernel::PUpdate, &self.p_update_bind_group, groups);
    }

    fn upload(&self, buffer: &wgpu::Buffer, values: &[f64]) {
        assert_eq!(values.len(), self.n, "vector length");
        self.ctx.queue().write_buffer(buffer, 0, &self.real.encode(values));
    }

    fn download(&self, buffer: &wgpu::Buffer) -> Result<Vec<f64>, GpuError> {
        Ok(self.real.decode(&self.ctx.read_back(buffer, 0, self.n as u64 * self.real.bytes())?))
    }

    fn write_scalars(&self, scalars: CgScalars<f64>) {
        self.ctx.queue().write_buffer(&self.scalars, 0, &self.real.encode_scalars(scalars));
    }

    fn read_scalars(&self) -> Result<CgScalars<f64>, GpuError> {
        Ok(self.real.decode_scalars(&self.ctx.read_back(&self.scalars, 0, self.real.scalars_size())?))
    }

    fn history_bind_group(&self, capacity: usize) -> Result<(wgpu::Buffer, wgpu::BindGroup), GpuError> {
        let history = self.ctx.create_buffer("history", capacity as u64 * self.real.bytes(), STORAGE)?;
        let bind_group = self.kernels().bind_group(self.ctx.device(), Kernel::ComputeAlpha, &[&self.scalars, &history]);
        Ok((history, bind_group))
    }

    /// y = A x (the SpMV kernel alone).
    pub fn spmv(&self, x: &[f64]) -> Result<Vec<f64>, GpuError> {
        self.upload(&self.p, x);
        self.run(|pass| self.record_spmv(pass), 1)?;
        self.download(&self.q)
    }

    /// a . b (the two-stage reduction alone).
    pub fn dot(&self, a: &[f64], b: &[f64]) -> Result<f64, GpuError> {
        self.upload(&self.p, a);
        self.upload(&self.q, b);
        self.run(
            |pass| {
                self.dispatch(pass, Kernel::DotPartial, &self.dot_bind_group, workgroups_for(self.n));
                self.dispatch(pass, Kernel::ReduceFinal, &self.reduce_bind_group, 1);
            },
            1,
        )?;
        Ok(self.read_scalars()?.reduced[0])
    }

    /// The fused update alone: returns (x + alpha p, r - alpha q, r'.D^-1 r', r'.r') with r' the new r.
    pub fn cg_update(
        &self,
        alpha: f64,
        x: &[f64],
        r: &[f64],
        p: &[f64],
        q: &[f64],
    ) -> Result<(Vec<f64>, Vec<f64>, f64, f64), GpuError> {
        for (buffer, values) in [(&self.x, x), (&self.r, r), (&self.p, p), (&self.q, q)] {
            self.upload(buffer, values);
        }
        self.write_scalars(CgScalars { alpha, ..Default::default() });
        self.run(
            |pass| {
                self.dispatch(pass, Kernel::CgUpdate, &self.update_bind_group, workgroups_for(self.n));
                self.dispatch(pass, Kernel::ReduceFinal, &self.reduce_bind_group, 1);
            },
            1,
        )?;
        let reduced = self.read_scalars()?.reduced;
        Ok((self.download(&self.x)?, self.download(&self.r)?, reduced[0], reduced[1]))
    }

    /// The search-direction update alone: D^-1 r + beta p.
    pub fn p_update(&self, beta: f64, r: &[f64], p: &[f64]) -> Result<Vec<f64>, GpuError> {
        self.upload(&self.r, r);
        self.upload(&self.p, p);
        self.write_scalars(CgScalars { beta, ..Default::default() });
        self.run(|pass| self.dispatch(pass, Kernel::PUpdate, &self.p_update_bind_group, workgroups_for(self.n)), 1)?;
        self.download(&self.p)
    }

    /// Jacobi-PCG for A d = rhs from d = 0 until ||r|| <= relative_tolerance * ||rhs|| (recurrence residual)
    /// or `max_iterations`. The loop runs on the GPU; the host reads the scalars every `check_every`
    /// iterations.
    pub fn pcg(
        &self,
        rhs: &[f64],
        relative_tolerance: f64,
        max_iterations: usize,
        check_every: usize,
    ) -> Result<InnerSolve, GpuError> {
        let rounded: Vec<f64> = rhs.iter().map(|&v| self.real.round(v)).collect();
        let rz: f64 = rounded.iter().zip(&self.inv_diag).map(|(r, d)| r * self.real.round(*d) * r).sum();
        let rr: f64 = rounded.iter().map(|r| r * r).sum();
        let target_rr = relative_tolerance * relative_tolerance * rr;
        let max_iterations = max_iterations.min(u32::MAX as usize - 1);
        let (history, scalars_bind_group) = self.history_bind_group(max_iterations + 1)?;
        self.ctx.queue().write_buffer(&history, 0, &self.real.encode(&[rr]));
        self.upload(&self.r, &rounded);
        self.upload(&self.x, &vec![0.0; self.n]);
        let running = rr > target_rr && rr > 0.0 && max_iterations > 0;
        self.write_scalars(CgScalars {
            rz,
            rr,
            target_rr,
            max_iterations: max_iterations as u32,
            running: running as u32,
            ..Default::default()
        });
        // beta = 0: p = D^-1 r.
        self.run(|pass| self.dispatch(pass, Kernel::PUpdate, &self.p_update_bind_group, workgroups_for(self.n)), 1)?;
        let mut scalars = self.read_scalars()?;
        while scalars.running == 1 {
            self.run(|pass| self.record_iteration(pass, &scalars_bind_group), check_every.max(1))?;
            scalars = self.read_scalars()?;
        }
        let iterations = scalars.iteration as usize;
        let rr_history =
            self.real.decode(&self.ctx.read_back(&history, 0, (iterations as u64 + 1) * self.real.bytes())?);
        let scale = if rr > 0.0 { rr.sqrt() } else { 1.0 };
        Ok(InnerSolve {
            solution: self.download(&self.x)?,
            iterations,
            residual_history: rr_history.iter().map(|v| v.max(0.0).sqrt() / scale).collect(),
            breakdown: (scalars.breakdown == 1).then_some(scalars.reduced[0]),
        })
    }

    /// Wall seconds per `op`, averaged over `repeats` runs recorded in one submission (after a warm-up).
    pub fn seconds_per(&self, op: TimedOp, repeats: usize) -> Result<f64, GpuError> {
        let ones = vec![1.0; self.n];
        self.upload(&self.r, &ones);
        self.upload(&self.p, &ones);
        self.upload(&self.x, &vec![0.0; self.n]);
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
        self.run(record, 1)?;
        self.write_scalars(scalars);
        let start = Instant::now();
        self.run(record, repeats.max(1))?;
        Ok(start.elapsed().as_secs_f64() / repeats.max(1) as f64)
    }
}

fn dispatch(
    ctx: &GpuContext,
    kernels: &KernelSet,
    pass: &mut wgpu::ComputePass,
    kernel: Kernel,
    bind_group: &wgpu::BindGroup,
    workgroups: u32,
) {
    let (x, y, z) = fold_dispatch(workgroups, ctx.max_workgroups_per_dimension());
    pass.set_pipeline(kernels.pipeline(kernel));
    pass.set_bind_group(0, bind_group, &[]);
    pass.dispatch_workgroups(x, y, z);
}

/// Records `count` runs of `op` into one submission and waits for it.
fn run(ctx: &GpuContext, op: impl Fn(&mut wgpu::ComputePass), count: usize) -> Result<(), GpuError> {
    let mut encoder = ctx.device().create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        for _ in 0..count {
            op(&mut pass);
        }
    }
    ctx.submit_and_wait(encoder)
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
    let kernel_params = KernelParams { len: len as u32, row_begin: 0, partial_count: groups, pad: 0 };
    ctx.queue().write_buffer(&params, 0, bytemuck::bytes_of(&kernel_params));
    ctx.queue().write_buffer(&src, 0, &Real::F32.encode(&vec![1.0; len]));
    let bind_group = kernels.bind_group(ctx.device(), Kernel::Copy, &[&params, &src, &dst]);
    let record = |pass: &mut wgpu::ComputePass| dispatch(ctx, kernels, pass, Kernel::Copy, &bind_group, groups);
    run(ctx, record, 1)?;
    let start = Instant::now();
    run(ctx, record, repeats.max(1))?;
    Ok((len, start.elapsed().as_secs_f64() / repeats.max(1) as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_the_binding_limit_and_cover_all_rows() {
        // 1D Laplacian: 3 nonzeros per interior row.
        let n = 1000;
        let mut triplets = Vec::new();
        for i in 0..n {
            triplets.push((i, i, 2.0));
            if i > 0 {
                triplets.push((i, i - 1, -1.0));
            }
            if i + 1 < n {
                triplets.push((i, i + 1, -1.0));
            }
        }
        let a = CsrMatrix::from_triplets(n, &triplets);
        let chunks = plan_chunks(&a, Real::F64, 1024).unwrap();
        assert_eq!(chunks.first().unwrap().start, 0);
        assert_eq!(chunks.last().unwrap().end, n);
        for pair in chunks.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        for rows in &chunks {
            assert!((a.row_ptr[rows.end] - a.row_ptr[rows.start]) * 8 <= 1024);
            // Greedy: one more row would not have fitted.
            if rows.end < n {
                assert!((a.row_ptr[rows.end + 1] - a.row_ptr[rows.start]) * 8 > 1024);
            }
        }
        assert!(chunks.len() >= (a.nnz() * 8).div_ceil(1024));
    }
}
