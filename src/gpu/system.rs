//! A CSR system resident on the GPU: the matrix in row chunks and the PCG vectors in entry chunks that
//! each respect the storage-binding limit, the scalars, the bind groups, and the GPU-resident Jacobi-PCG
//! loop.

use super::context::GpuContext;
use super::kernels::{fold_dispatch, reduction_workgroups_for, workgroups_for, Kernel, KernelSet};
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

/// SpMV gathers x at any column, so it binds the whole of x as this many consecutive chunks (x0..x3 in
/// shaders/spmv.wgsl): vectors may span at most four storage bindings. Four keeps the SpMV at eight
/// storage buffers, the WebGPU default of max_storage_buffers_per_shader_stage.
pub const MAX_X_BINDINGS: usize = 4;

/// Rows of the matrix whose cols and values each fit in one storage binding; y is bound from the first
/// row, so chunks start at aligned rows and span at most one vector chunk.
struct MatrixChunk {
    rows: Range<usize>,
    spmv_bind_group: wgpu::BindGroup,
}

/// Entries of the vectors that fit in one storage binding, with the element-wise kernels bound to them.
struct VectorChunk {
    entries: Range<usize>,
    dot_bind_group: wgpu::BindGroup,
    update_bind_group: wgpu::BindGroup,
    p_update_bind_group: wgpu::BindGroup,
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
    vector_chunks: Vec<VectorChunk>,
    inv_diag: Vec<f64>,
    x: wgpu::Buffer,
    r: wgpu::Buffer,
    p: wgpu::Buffer,
    q: wgpu::Buffer,
    scalars: wgpu::Buffer,
    reduce_bind_group: wgpu::BindGroup,
}

/// Entries per vector chunk: as many as one binding holds, rounded down to a multiple of `granule` (the
/// entries per min_storage_buffer_offset_alignment) so every chunk's binding offset is aligned.
fn vector_chunk_len(real: Real, max_bytes: u64, granule: usize) -> Result<usize, GpuError> {
    let len = (max_bytes / real.bytes()) as usize / granule * granule;
    if len == 0 {
        return Err(GpuError::Backend(format!(
            "the {max_bytes}-byte storage binding limit is below the {}-byte offset alignment",
            granule as u64 * real.bytes()
        )));
    }
    Ok(len)
}

/// 0..n in pieces of `chunk_len`; an empty system still gets one (empty) piece, bound as its whole buffer.
fn split(n: usize, chunk_len: usize) -> Vec<Range<usize>> {
    (0..n.max(1)).step_by(chunk_len).map(|begin| begin..(begin + chunk_len).min(n)).collect()
}

/// Splits rows into chunks whose cols, values and row_ptr each need at most `max_bytes`, of at most
/// `max_rows` rows, every chunk but the last ending at a multiple of `row_granule` (so the next starts
/// there).
fn plan_chunks(
    a: &CsrMatrix,
    real: Real,
    max_bytes: u64,
    row_granule: usize,
    max_rows: usize,
) -> Result<Vec<Range<usize>>, GpuError> {
    let bytes_per_nonzero = real.bytes().max(4);
    let mut chunks = Vec::new();
    let mut begin = 0;
    while begin < a.nrows {
        let mut end = begin;
        while end < a.nrows && end - begin < max_rows {
            let nonzeros = (a.row_ptr[end + 1] - a.row_ptr[begin]) as u64;
            let row_ptr_bytes = (end + 2 - begin) as u64 * 4;
            if nonzeros * bytes_per_nonzero > max_bytes || row_ptr_bytes > max_bytes {
                break;
            }
            end += 1;
        }
        if end < a.nrows {
            end = begin + (end - begin) / row_granule * row_granule;
        }
        if end == begin {
            return Err(GpuError::Backend(format!(
                "rows {begin}..{} (one offset-alignment step) need more than the {max_bytes}-byte storage \
                 binding limit",
                begin + row_granule
            )));
        }
        chunks.push(begin..end);
        begin = end;
    }
    Ok(chunks)
}

/// `entries` of a vector buffer as one binding.
fn entries_binding<'b>(buffer: &'b wgpu::Buffer, entries: &Range<usize>, real: Real) -> wgpu::BindingResource<'b> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer,
        offset: entries.start as u64 * real.bytes(),
        // None (the rest of the buffer) only for the empty piece of an empty system.
        size: wgpu::BufferSize::new(entries.len() as u64 * real.bytes()),
    })
}

impl<'a> GpuSystem<'a> {
    /// Uploads `a` (rounded to `real`) and allocates the PCG workspace.
    pub fn new(ctx: &'a GpuContext, a: &CsrMatrix, real: Real) -> Result<GpuSystem<'a>, GpuError> {
        let kernels = ctx.kernels(real)?;
        let n = a.nrows;
        let vector_bytes = n as u64 * real.bytes();
        let max_bytes = ctx.max_binding_bytes();
        let granule = (ctx.limits().min_storage_buffer_offset_alignment as u64 / real.bytes()).max(1) as usize;
        let chunk_len = vector_chunk_len(real, max_bytes, granule)?;
        let entry_chunks = split(n, chunk_len);
        if entry_chunks.len() > MAX_X_BINDINGS {
            return Err(GpuError::Backend(format!(
                "a vector of {n} unknowns ({vector_bytes} bytes) splits into {} chunks under the {max_bytes}-byte \
                 storage binding limit, so the SpMV needs more than {MAX_X_BINDINGS} x bindings; use a coarser \
                 mesh or a GPU with a larger max_storage_buffer_binding_size",
                entry_chunks.len()
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
        let inv_diag = a.inverse_diagonal();
        let inv_diag_buffer = vector("inv_diag")?;
        queue.write_buffer(&inv_diag_buffer, 0, &real.encode(&inv_diag));

        // One partial pair per workgroup of entries: with at most MAX_X_BINDINGS chunks, well inside one binding.
        let partial_count: u32 = entry_chunks.iter().map(|entries| reduction_workgroups_for(entries.len())).sum();
        let partials = ctx.create_buffer("partials", partial_count as u64 * 2 * real.bytes(), STORAGE)?;
        let scalars = ctx.create_buffer("scalars", real.scalars_size(), STORAGE)?;
        let reduce_params = uniform("reduce params", KernelParams { partial_count, ..Default::default() })?;

        let mut vector_chunks = Vec::new();
        let mut first_partial = 0;
        for entries in entry_chunks {
            let groups = reduction_workgroups_for(entries.len());
            let params = uniform(
                "vector chunk params",
                KernelParams { len: entries.len() as u32, first_partial, partial_count: groups, x_chunk_len: 0 },
            )?;
            first_partial += groups;
            let range = |buffer| entries_binding(buffer, &entries, real);
            let (params, scalars, partials) =
                (params.as_entire_binding(), scalars.as_entire_binding(), partials.as_entire_binding());
            vector_chunks.push(VectorChunk {
                dot_bind_group: kernels.bind_group(
                    device,
                    Kernel::DotPartial,
                    &[params.clone(), range(&p), range(&q), partials.clone()],
                ),
                update_bind_group: kernels.bind_group(
                    device,
                    Kernel::CgUpdate,
                    &[
                        params.clone(),
                        scalars.clone(),
                        range(&p),
                        range(&q),
                        range(&inv_diag_buffer),
                        range(&x),
                        range(&r),
                        partials,
                    ],
                ),
                p_update_bind_group: kernels.bind_group(
                    device,
                    Kernel::PUpdate,
                    &[params, scalars, range(&r), range(&inv_diag_buffer), range(&p)],
                ),
                entries,
            });
        }

        let x_bindings: Vec<wgpu::BindingResource> = (0..MAX_X_BINDINGS)
            .map(|i| {
                let entries = vector_chunks.get(i).unwrap_or(&vector_chunks[0]).entries.clone();
                entries_binding(&p, &entries, real)
            })
            .collect();
        // 0 tells the SpMV that x is whole in its first binding.
        let spmv_x_chunk_len = if vector_chunks.len() == 1 { 0 } else { chunk_len as u32 };
        let mut chunks = Vec::new();
        for rows in plan_chunks(a, real, max_bytes, granule, chunk_len)? {
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
                "matrix chunk params",
                KernelParams { len: rows.len() as u32, x_chunk_len: spmv_x_chunk_len, ..Default::default() },
            )?;
            let mut bindings = vec![
                params.as_entire_binding(),
                row_ptr_buffer.as_entire_binding(),
                cols.as_entire_binding(),
                values.as_entire_binding(),
            ];
            bindings.extend(x_bindings.iter().cloned());
            bindings.push(entries_binding(&q, &rows, real));
            let spmv_bind_group = kernels.bind_group(device, Kernel::Spmv, &bindings);
            chunks.push(MatrixChunk { rows, spmv_bind_group });
        }

        Ok(GpuSystem {
            ctx,
            real,
            n,
            inv_diag,
            reduce_bind_group: kernels.bind_group(
                device,
                Kernel::ReduceFinal,
                &[reduce_params.as_entire_binding(), partials.as_entire_binding(), scalars.as_entire_binding()],
            ),
            chunks,
            vector_chunks,
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

    /// Chunks each vector was split into, which is also the number of x bindings the SpMV uses (more than
    /// one when a vector exceeds the binding limit; at most [`MAX_X_BINDINGS`]).
    pub fn vector_chunk_count(&self) -> usize {
        self.vector_chunks.len()
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

    /// An element-wise kernel over every vector chunk, each with its own bind group.
    fn record_per_chunk(
        &self,
        pass: &mut wgpu::ComputePass,
        kernel: Kernel,
        bind_group: impl Fn(&VectorChunk) -> &wgpu::BindGroup,
    ) {
        for chunk in &self.vector_chunks {
            let groups = match kernel {
                Kernel::DotPartial | Kernel::CgUpdate => reduction_workgroups_for(chunk.entries.len()),
                _ => workgroups_for(chunk.entries.len()),
            };
            self.dispatch(pass, kernel, bind_group(chunk), groups);
        }
    }

    fn record_dot(&self, pass: &mut wgpu::ComputePass) {
        self.record_per_chunk(pass, Kernel::DotPartial, |chunk| &chunk.dot_bind_group);
        self.dispatch(pass, Kernel::ReduceFinal, &self.reduce_bind_group, 1);
    }

    fn record_cg_update(&self, pass: &mut wgpu::ComputePass) {
        self.record_per_chunk(pass, Kernel::CgUpdate, |chunk| &chunk.update_bind_group);
        self.dispatch(pass, Kernel::ReduceFinal, &self.reduce_bind_group, 1);
    }

    fn record_p_update(&self, pass: &mut wgpu::ComputePass) {
        self.record_per_chunk(pass, Kernel::PUpdate, |chunk| &chunk.p_update_bind_group);
    }

    /// One PCG iteration, entirely on the GPU.
    fn record_iteration(&self, pass: &mut wgpu::ComputePass, scalars_bind_group: &wgpu::BindGroup) {
        self.record_spmv(pass);
        self.record_dot(pass);
        self.dispatch(pass, Kernel::ComputeAlpha, scalars_bind_group, 1);
        self.record_cg_update(pass);
        self.dispatch(pass, Kernel::ComputeBeta, scalars_bind_group, 1);
        self.record_p_update(pass);
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
        let bind_group = self.kernels().bind_group(
            self.ctx.device(),
            Kernel::ComputeAlpha,
            &[self.scalars.as_entire_binding(), history.as_entire_binding()],
        );
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
        self.run(|pass| self.record_dot(pass), 1)?;
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
        self.run(|pass| self.record_cg_update(pass), 1)?;
        let reduced = self.read_scalars()?.reduced;
        Ok((self.download(&self.x)?, self.download(&self.r)?, reduced[0], reduced[1]))
    }

    /// The search-direction update alone: D^-1 r + beta p.
    pub fn p_update(&self, beta: f64, r: &[f64], p: &[f64]) -> Result<Vec<f64>, GpuError> {
        self.upload(&self.r, r);
        self.upload(&self.p, p);
        self.write_scalars(CgScalars { beta, ..Default::default() });
        self.run(|pass| self.record_p_update(pass), 1)?;
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
        let running = rr > target_rr && rr > 0.0 && max_iterations > 0;
        self.write_scalars(CgScalars {
            rz,
            rr,
            target_rr,
            max_iterations: max_iterations as u32,
            running: running as u32,
            ..Default::default()
        });
        // d = 0, and with beta = 0: p = D^-1 r.
        run_from_zero(self.ctx, &[&self.x], |pass| self.record_p_update(pass), 1)?;
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
        run_from_zero(self.ctx, &[&self.x], record, 1)?;
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
    run_from_zero(ctx, &[], op, count)
}

/// Zeroes `buffers` on the GPU (no host traffic), then records `op` `count` times, in one submission.
fn run_from_zero(
    ctx: &GpuContext,
    buffers: &[&wgpu::Buffer],
    op: impl Fn(&mut wgpu::ComputePass),
    count: usize,
) -> Result<(), GpuError> {
    let mut encoder = ctx.device().create_command_encoder(&Default::default());
    for buffer in buffers {
        encoder.clear_buffer(buffer, 0, None);
    }
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
    let kernel_params = KernelParams { len: len as u32, ..Default::default() };
    ctx.queue().write_buffer(&params, 0, bytemuck::bytes_of(&kernel_params));
    ctx.queue().write_buffer(&src, 0, &Real::F32.encode(&vec![1.0; len]));
    let bind_group = kernels.bind_group(
        ctx.device(),
        Kernel::Copy,
        &[params.as_entire_binding(), src.as_entire_binding(), dst.as_entire_binding()],
    );
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
        let chunks = plan_chunks(&a, Real::F64, 1024, 1, usize::MAX).unwrap();
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

    #[test]
    fn aligned_chunks_start_at_the_granule_and_fit_one_vector_chunk() {
        let a = crate::bench::laplacian_7point(10, 10, 10);
        let chunks = plan_chunks(&a, Real::F32, 4096, 64, 320).unwrap();
        assert_eq!(chunks.first().unwrap().start, 0);
        assert_eq!(chunks.last().unwrap().end, a.nrows);
        for pair in chunks.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
            assert_eq!(pair[1].start % 64, 0);
        }
        for rows in &chunks {
            assert!(rows.len() <= 320);
            assert!((a.row_ptr[rows.end] - a.row_ptr[rows.start]) * 4 <= 4096);
        }
        // 64 rows of 7 nonzeros need more than 256 bytes.
        assert!(plan_chunks(&a, Real::F32, 256, 64, 320).is_err());
    }

    #[test]
    fn vector_chunks_are_aligned_and_cover_every_entry() {
        // 1000 bytes hold 250 f32, rounded down to three granules of 64 (125 f64: three of 32).
        assert_eq!(vector_chunk_len(Real::F32, 1000, 64).unwrap(), 192);
        assert_eq!(vector_chunk_len(Real::F64, 1000, 32).unwrap(), 96);
        assert!(vector_chunk_len(Real::F32, 100, 64).is_err());
        assert_eq!(split(600, 256), vec![0..256, 256..512, 512..600]);
        assert_eq!(split(512, 256), vec![0..256, 256..512]);
        assert_eq!(split(0, 256), vec![0..0]);
    }
}
