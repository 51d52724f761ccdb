//! A CSR system resident on the GPU: the matrix in row chunks and the PCG vectors in entry chunks that
//! each respect the storage-binding limit, the scalars, the bind groups, and the GPU-resident Jacobi-PCG
//! loop.
//! One file for one resident system (over 500 lines): the PCG loop records its passes on the buffers and bind
//! groups the upload made, and both change together.

mod amg;
#[cfg(feature = "testing")]
mod kernel_checks;
mod timing;

pub use timing::{copy_seconds, TimedOp};

use super::chunks::{plan_chunks, split, vector_chunk_len, MAX_X_BINDINGS};
use super::context::GpuContext;
use super::kernels::{reduction_workgroups_for, workgroups_for, Kernel, KernelSet};
use super::layout::{CgScalars, KernelParams};
use super::real::Real;
use super::GpuError;
use crate::solver::amg::Hierarchy;
use crate::solver::sparse::{CsrMatrix, Entry};
use std::ops::Range;
use wgpu::BufferUsages;

/// Rows of the matrix whose cols and values each fit in one storage binding; y is bound from the first
/// row, so chunks start at aligned rows and span at most one vector chunk.
pub(super) struct MatrixChunk {
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

/// AMG-preconditioned PCG: the hierarchy's cycle stores z = B r, and three kernels replace Jacobi's fused
/// updates: the x/r update, the (r.z, r.r) partials and p = z + beta p. AMG needs each vector in one storage
/// binding, so there is one vector chunk and one bind group of each.
struct AmgPcg {
    cycle: amg::GpuHierarchy,
    // Bound in the kernels' bind groups; read back only by the single-kernel checks (`testing`).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    z: wgpu::Buffer,
    xr_update: wgpu::BindGroup,
    rz_dot: wgpu::BindGroup,
    direction_update: wgpu::BindGroup,
}

/// A matrix's row chunks on the GPU, each with its buffers, ready to be bound to any x and y.
pub(super) struct UploadedMatrix {
    chunks: Vec<UploadedChunk>,
}

struct UploadedChunk {
    rows: Range<usize>,
    params: wgpu::Buffer,
    row_ptr: wgpu::Buffer,
    cols: wgpu::Buffer,
    values: wgpu::Buffer,
}

impl UploadedMatrix {
    /// Uploads `a` in row chunks under the binding limit (x bound as chunks of `x_chunk_len` entries, 0: whole).
    pub(super) fn new<V: Entry>(
        ctx: &GpuContext,
        a: &CsrMatrix<V>,
        real: Real,
        x_chunk_len: u32,
        max_rows: usize,
    ) -> Result<UploadedMatrix, GpuError> {
        let queue = ctx.queue();
        let max_bytes = ctx.max_binding_bytes();
        let granule = (ctx.limits().min_storage_buffer_offset_alignment as u64 / real.bytes()).max(1) as usize;
        let mut chunks = Vec::new();
        for rows in plan_chunks(a, real, max_bytes, granule, max_rows)? {
            let nonzeros = a.row_ptr[rows.start]..a.row_ptr[rows.end];
            let row_ptr: Vec<u32> =
                a.row_ptr[rows.start..=rows.end].iter().map(|&k| (k - nonzeros.start) as u32).collect();
            let row_ptr_buffer = ctx.create_buffer("row_ptr", row_ptr.len() as u64 * 4, STORAGE)?;
            queue.write_buffer(&row_ptr_buffer, 0, bytemuck::cast_slice(&row_ptr));
            let cols = ctx.create_buffer("cols", nonzeros.len() as u64 * 4, STORAGE)?;
            queue.write_buffer(&cols, 0, bytemuck::cast_slice(&a.col_idx[nonzeros.clone()]));
            let values = ctx.create_buffer("values", nonzeros.len() as u64 * real.bytes(), STORAGE)?;
            queue.write_buffer(&values, 0, &real.encode(&a.values[nonzeros]));
            let params = uniform_params(
                ctx,
                "matrix chunk params",
                KernelParams { len: rows.len() as u32, x_chunk_len, ..Default::default() },
            )?;
            chunks.push(UploadedChunk { rows, params, row_ptr: row_ptr_buffer, cols, values });
        }
        Ok(UploadedMatrix { chunks })
    }

    /// SpMV bind groups y = A x, one per row chunk, with x bound as `x_bindings` (MAX_X_BINDINGS of them).
    pub(super) fn spmv(
        &self,
        ctx: &GpuContext,
        kernels: &KernelSet,
        x_bindings: &[wgpu::BindingResource],
        y: &wgpu::Buffer,
        real: Real,
    ) -> Vec<MatrixChunk> {
        self.chunks
            .iter()
            .map(|chunk| {
                let mut bindings = vec![
                    chunk.params.as_entire_binding(),
                    chunk.row_ptr.as_entire_binding(),
                    chunk.cols.as_entire_binding(),
                    chunk.values.as_entire_binding(),
                ];
                bindings.extend(x_bindings.iter().cloned());
                bindings.push(entries_binding(y, &chunk.rows, real));
                let spmv_bind_group = kernels.bind_group(ctx.device(), Kernel::Spmv, &bindings);
                MatrixChunk { rows: chunk.rows.clone(), spmv_bind_group }
            })
            .collect()
    }
}

/// A 16-byte uniform holding `params`.
pub(super) fn uniform_params(ctx: &GpuContext, label: &str, params: KernelParams) -> Result<wgpu::Buffer, GpuError> {
    let buffer = ctx.create_buffer(label, 16, BufferUsages::UNIFORM | BufferUsages::COPY_DST)?;
    ctx.queue().write_buffer(&buffer, 0, bytemuck::bytes_of(&params));
    Ok(buffer)
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

pub(crate) const STORAGE: BufferUsages =
    BufferUsages::STORAGE.union(BufferUsages::COPY_DST).union(BufferUsages::COPY_SRC);

/// A matrix and its PCG workspace on the GPU.
pub struct GpuSystem {
    ctx: GpuContext,
    real: Real,
    n: usize,
    chunks: Vec<MatrixChunk>,
    vector_chunks: Vec<VectorChunk>,
    inv_diag: Vec<f64>,
    x: wgpu::Buffer,
    r: wgpu::Buffer,
    p: wgpu::Buffer,
    // Bound in the kernels' bind groups; read back only by the single-kernel checks (`testing`).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    q: wgpu::Buffer,
    scalars: wgpu::Buffer,
    reduce_bind_group: wgpu::BindGroup,
    /// When the system was built with a hierarchy: PCG preconditioned by its cycle instead of Jacobi.
    amg: Option<AmgPcg>,
}

/// Records y = A x over a matrix's row chunks.
fn record_spmv(ctx: &GpuContext, kernels: &KernelSet, pass: &mut wgpu::ComputePass, chunks: &[MatrixChunk]) {
    for chunk in chunks {
        ctx.dispatch(kernels, pass, Kernel::Spmv, &chunk.spmv_bind_group, workgroups_for(chunk.rows.len()));
    }
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

impl GpuSystem {
    /// Uploads `a` (rounded to `real`) and allocates the Jacobi-PCG workspace.
    pub fn new(ctx: &GpuContext, a: &CsrMatrix, real: Real) -> Result<GpuSystem, GpuError> {
        Self::with_preconditioner(ctx, a, real, None)
    }

    /// Uploads `a` and, with a hierarchy (built from `a` on the CPU), its levels: PCG is then preconditioned by
    /// the hierarchy's cycle, else by Jacobi.
    pub fn with_preconditioner(
        ctx: &GpuContext,
        a: &CsrMatrix,
        real: Real,
        hierarchy: Option<&Hierarchy>,
    ) -> Result<GpuSystem, GpuError> {
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
        if hierarchy.is_some() && entry_chunks.len() > 1 {
            return Err(GpuError::Backend(format!(
                "AMG on the GPU needs each vector in one storage binding, and {n} unknowns ({vector_bytes} bytes) \
                 exceed the {max_bytes}-byte limit; use --preconditioner jacobi or --backend cpu"
            )));
        }
        let device = ctx.device();
        let queue = ctx.queue();
        let vector = |label: &str| ctx.create_buffer(label, vector_bytes, STORAGE);
        let uniform = |label: &str, params: KernelParams| uniform_params(ctx, label, params);
        let (x, r, p, q) = (vector("x")?, vector("r")?, vector("p")?, vector("q")?);
        // z = B r, stored, when a hierarchy preconditions.
        let z = hierarchy.map(|_| vector("z")).transpose()?;
        let inv_diag = a.inverse_diagonal();
        let inv_diag_buffer = vector("inv_diag")?;
        queue.write_buffer(&inv_diag_buffer, 0, &real.encode(&inv_diag));

        // One partial pair per workgroup of entries: with at most MAX_X_BINDINGS chunks, well inside one binding.
        let partial_count: u32 = entry_chunks.iter().map(|entries| reduction_workgroups_for(entries.len())).sum();
        let partials = ctx.create_buffer("partials", partial_count as u64 * 2 * real.bytes(), STORAGE)?;
        let scalars = ctx.create_buffer("scalars", CgScalars::size(real), STORAGE)?;
        let reduce_params = uniform("reduce params", KernelParams { partial_count, ..Default::default() })?;

        let mut vector_chunks = Vec::new();
        // With a hierarchy (one vector chunk): the x/r update, r.z partials and direction update bind groups.
        let mut amg_groups = None;
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
            if let Some(z) = &z {
                amg_groups = Some([
                    kernels.bind_group(
                        device,
                        Kernel::XrUpdate,
                        &[params.clone(), scalars.clone(), range(&p), range(&q), range(&x), range(&r)],
                    ),
                    kernels.bind_group(
                        device,
                        Kernel::DotPartial,
                        &[params.clone(), range(&r), range(z), partials.clone()],
                    ),
                    kernels.bind_group(
                        device,
                        Kernel::DirectionUpdate,
                        &[params.clone(), scalars.clone(), range(z), range(&p)],
                    ),
                ]);
            }
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
        let matrix = UploadedMatrix::new(ctx, a, real, spmv_x_chunk_len, chunk_len)?;
        let chunks = matrix.spmv(ctx, kernels, &x_bindings, &q, real);
        let amg = match (hierarchy, z, amg_groups) {
            (Some(hierarchy), Some(z), Some([xr_update, rz_dot, direction_update])) => Some(AmgPcg {
                cycle: amg::GpuHierarchy::new(ctx, real, hierarchy, &matrix, &r, &z, &q)?,
                z,
                xr_update,
                rz_dot,
                direction_update,
            }),
            _ => None,
        };

        Ok(GpuSystem {
            ctx: ctx.clone(),
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
            amg,
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
        self.ctx.dispatch(self.kernels(), pass, kernel, bind_group, workgroups);
    }

    fn record_spmv(&self, pass: &mut wgpu::ComputePass) {
        record_spmv(&self.ctx, self.kernels(), pass, &self.chunks);
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
        match &self.amg {
            None => {
                self.record_cg_update(pass);
                self.dispatch(pass, Kernel::ComputeBeta, scalars_bind_group, 1);
                self.record_p_update(pass);
            }
            Some(amg) => {
                self.dispatch(pass, Kernel::XrUpdate, &amg.xr_update, workgroups_for(self.n));
                self.record_preconditioner(pass, amg);
                self.dispatch(pass, Kernel::ComputeBeta, scalars_bind_group, 1);
                self.dispatch(pass, Kernel::DirectionUpdate, &amg.direction_update, workgroups_for(self.n));
            }
        }
    }

    /// z = B r by the cycle, then the partials of (r.z, r.r) reduced into the scalars.
    fn record_preconditioner(&self, pass: &mut wgpu::ComputePass, amg: &AmgPcg) {
        amg.cycle.record_cycle(&self.ctx, self.kernels(), pass, 0);
        self.dispatch(pass, Kernel::DotPartial, &amg.rz_dot, reduction_workgroups_for(self.n));
        self.dispatch(pass, Kernel::ReduceFinal, &self.reduce_bind_group, 1);
    }

    fn upload(&self, buffer: &wgpu::Buffer, values: &[f64]) {
        assert_eq!(values.len(), self.n, "vector length");
        self.ctx.queue().write_buffer(buffer, 0, &self.real.encode(values));
    }

    fn download(&self, buffer: &wgpu::Buffer) -> Result<Vec<f64>, GpuError> {
        Ok(self.real.decode(&self.ctx.read_back(buffer, 0, self.n as u64 * self.real.bytes())?))
    }

    fn write_scalars(&self, scalars: CgScalars) {
        self.ctx.queue().write_buffer(&self.scalars, 0, &scalars.encode(self.real));
    }

    fn read_scalars(&self) -> Result<CgScalars, GpuError> {
        Ok(CgScalars::decode(self.real, &self.ctx.read_back(&self.scalars, 0, CgScalars::size(self.real))?))
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

    /// PCG for A d = rhs from d = 0 (Jacobi, or the cycle of the hierarchy the system was built with) until
    /// ||r|| <= relative_tolerance * ||rhs|| (recurrence residual) or `max_iterations`. The loop runs on the GPU;
    /// the host reads the scalars every `check_every` iterations.
    pub fn pcg(
        &self,
        rhs: &[f64],
        relative_tolerance: f64,
        max_iterations: usize,
        check_every: usize,
    ) -> Result<InnerSolve, GpuError> {
        let rounded: Vec<f64> = rhs.iter().map(|&v| self.real.round(v)).collect();
        let rr: f64 = rounded.iter().map(|r| r * r).sum();
        self.upload(&self.r, &rounded);
        let rz = match &self.amg {
            None => rounded.iter().zip(&self.inv_diag).map(|(r, d)| r * self.real.round(*d) * r).sum(),
            Some(amg) => {
                // The first z = B r and r.z on the GPU.
                self.ctx.run(|pass| self.record_preconditioner(pass, amg), 1)?;
                self.read_scalars()?.reduced[0]
            }
        };
        let target_rr = relative_tolerance * relative_tolerance * rr;
        let max_iterations = max_iterations.min(u32::MAX as usize - 1);
        let (history, scalars_bind_group) = self.history_bind_group(max_iterations + 1)?;
        self.ctx.queue().write_buffer(&history, 0, &self.real.encode(&[rr]));
        let running = rr > target_rr && rr > 0.0 && max_iterations > 0;
        self.write_scalars(CgScalars {
            rz,
            rr,
            target_rr,
            max_iterations: max_iterations as u32,
            running: running as u32,
            ..Default::default()
        });
        // d = 0, and with beta = 0: p = D^-1 r (Jacobi) or p = z.
        self.ctx.run_from_zero(
            &[&self.x],
            |pass| match &self.amg {
                None => self.record_p_update(pass),
                Some(amg) => {
                    self.dispatch(pass, Kernel::DirectionUpdate, &amg.direction_update, workgroups_for(self.n))
                }
            },
            1,
        )?;
        let mut scalars = self.read_scalars()?;
        while scalars.running == 1 {
            // Never more iterations recorded than remain: max_iterations holds inside a check window too.
            let window = check_every.clamp(1, (max_iterations - scalars.iteration as usize).max(1));
            self.ctx.run(|pass| self.record_iteration(pass, &scalars_bind_group), window)?;
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
}
