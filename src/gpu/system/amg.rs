//! The AMG hierarchy on the GPU: every level's operator (row chunks under the binding limit), smoother scalings,
//! aggregates and work vectors, and the cycle z = B r recorded as dispatches with no host round trip: each coarse
//! level above the last is visited `coarse_visits` times (2: a W-cycle, whose iteration count grows far less
//! with the mesh than the V-cycle's and needs no inner products, unlike the K-cycle). The setup (aggregation,
//! Galerkin operators, the coarsest factor) is the CPU's `solver::amg::Hierarchy`; its `apply` with
//! `kcycle_levels = 0` and the same `coarse_visits` is this cycle's CPU twin.

use super::{entries_binding, record_spmv, uniform_params, MatrixChunk, UploadedMatrix, STORAGE};
use crate::gpu::context::GpuContext;
use crate::gpu::kernels::{workgroups_for, Kernel, KernelSet};
use crate::gpu::layout::KernelParams;
use crate::gpu::real::Real;
use crate::gpu::GpuError;
use crate::solver::amg::{AmgOptions, Hierarchy};

/// One level's bind groups; b, x and t (= A x) are its work vectors (level 0: b is PCG's r, x is z).
struct GpuLevel {
    n: usize,
    /// t = A x.
    spmv: Vec<MatrixChunk>,
    /// x = D^-1 b.
    scale: wgpu::BindGroup,
    /// x += D^-1 (b - t).
    smooth: wgpu::BindGroup,
    /// To the next level: its b = P^T (b - t), and x += P (its x); with the next level's size.
    coarse: Option<(wgpu::BindGroup, wgpu::BindGroup, usize)>,
    /// A further visit of this level (levels below the finest with a level below them): saved = x, b -= t,
    /// x += saved.
    revisit: Option<Revisit>,
}

struct Revisit {
    save: wgpu::BindGroup,
    residual: wgpu::BindGroup,
    accumulate: wgpu::BindGroup,
}

pub(super) struct GpuHierarchy {
    levels: Vec<GpuLevel>,
    /// The hierarchy's options: the sweeps per level and the visits per coarse level.
    options: AmgOptions,
    /// x = A^-1 b on the last level (dense inverse), when it is solved directly.
    dense: Option<wgpu::BindGroup>,
    /// Keeps every buffer the bind groups use.
    _buffers: Vec<wgpu::Buffer>,
}

impl GpuHierarchy {
    /// Uploads the levels of `hierarchy`, whose finest matrix is `fine` (already uploaded), with `r` as the finest
    /// right-hand side, `z` as its result and `q` as the finest level's scratch.
    pub(super) fn new(
        ctx: &GpuContext,
        real: Real,
        hierarchy: &Hierarchy,
        fine: &UploadedMatrix,
        r: &wgpu::Buffer,
        z: &wgpu::Buffer,
        q: &wgpu::Buffer,
    ) -> Result<GpuHierarchy, GpuError> {
        let kernels = ctx.kernels(real)?;
        let device = ctx.device();
        // Every buffer is kept with the hierarchy (pushed as it is made).
        let mut buffers: Vec<wgpu::Buffer> = Vec::new();
        let upload = |label: &str, bytes: &[u8]| -> Result<wgpu::Buffer, GpuError> {
            let buffer = ctx.create_buffer(label, bytes.len().max(8) as u64, STORAGE)?;
            ctx.queue().write_buffer(&buffer, 0, bytes);
            Ok(buffer)
        };

        // Work vectors per level: (b, x, t); the finest b and x are PCG's r and z.
        let coarse: Vec<_> = hierarchy.coarse_levels().collect();
        let sizes: Vec<usize> =
            std::iter::once(hierarchy.levels()[0].unknowns).chain(coarse.iter().map(|c| c.matrix.nrows)).collect();
        // The finest t is PCG's q: free between the x/r update that reads it and the next SpMV that writes it.
        let mut vectors = vec![(r.clone(), z.clone(), q.clone())];
        for &n in &sizes[1..] {
            let zeros = vec![0u8; n.max(1) * real.bytes() as usize];
            vectors.push((upload("amg b", &zeros)?, upload("amg x", &zeros)?, upload("amg t", &zeros)?));
        }
        let matrices: Vec<UploadedMatrix> = coarse
            .iter()
            .map(|c| UploadedMatrix::new(ctx, c.matrix, real, 0, c.matrix.nrows.max(1)))
            .collect::<Result<_, _>>()?;

        let mut levels = Vec::new();
        for (level, &n) in sizes.iter().enumerate() {
            let (b, x, t) = &vectors[level];
            let params = uniform_params(ctx, "amg level", KernelParams { len: n as u32, ..Default::default() })?;
            let scaling = upload("amg smoother scaling", &real.encode(hierarchy.smoother_scaling(level)))?;
            buffers.push(scaling.clone());
            let matrix = if level == 0 { fine } else { &matrices[level - 1] };
            let x_bindings: Vec<wgpu::BindingResource> =
                (0..crate::gpu::chunks::MAX_X_BINDINGS).map(|_| whole_vector(x, n, real)).collect();
            let spmv = matrix.spmv(ctx, kernels, &x_bindings, t, real);
            let scale = kernels.bind_group(
                device,
                Kernel::AmgScale,
                &[
                    params.as_entire_binding(),
                    whole_vector(&scaling, n, real),
                    whole_vector(b, n, real),
                    whole_vector(x, n, real),
                ],
            );
            let smooth = kernels.bind_group(
                device,
                Kernel::AmgSmooth,
                &[
                    params.as_entire_binding(),
                    whole_vector(&scaling, n, real),
                    whole_vector(b, n, real),
                    whole_vector(t, n, real),
                    whole_vector(x, n, real),
                ],
            );
            let coarse_groups = match coarse.get(level) {
                Some(next) => {
                    let m = next.matrix.nrows;
                    let (next_b, next_x, _) = &vectors[level + 1];
                    let restrict_params =
                        uniform_params(ctx, "amg restrict", KernelParams { len: m as u32, ..Default::default() })?;
                    let offsets = upload("amg member offsets", bytemuck::cast_slice(next.member_offsets))?;
                    let members = upload("amg members", bytemuck::cast_slice(next.members))?;
                    let aggregate_of = upload("amg aggregate of", bytemuck::cast_slice(next.aggregate_of))?;
                    buffers.extend([offsets.clone(), members.clone(), aggregate_of.clone()]);
                    let restrict = kernels.bind_group(
                        device,
                        Kernel::AmgRestrict,
                        &[
                            restrict_params.as_entire_binding(),
                            offsets.as_entire_binding(),
                            members.as_entire_binding(),
                            whole_vector(b, n, real),
                            whole_vector(t, n, real),
                            whole_vector(next_b, m, real),
                        ],
                    );
                    let prolong = kernels.bind_group(
                        device,
                        Kernel::AmgProlong,
                        &[
                            params.as_entire_binding(),
                            aggregate_of.as_entire_binding(),
                            whole_vector(next_x, m, real),
                            whole_vector(x, n, real),
                        ],
                    );
                    buffers.push(restrict_params);
                    Some((restrict, prolong, m))
                }
                None => None,
            };
            let revisit = if level > 0 && coarse_groups.is_some() && hierarchy.options().coarse_visits > 1 {
                let saved = upload("amg saved x", &vec![0u8; n.max(1) * real.bytes() as usize])?;
                let pair = |kernel: Kernel, from: &wgpu::Buffer, to: &wgpu::Buffer| {
                    let bindings = [params.as_entire_binding(), whole_vector(from, n, real), whole_vector(to, n, real)];
                    kernels.bind_group(device, kernel, &bindings)
                };
                let revisit = Revisit {
                    save: pair(Kernel::Copy, x, &saved),
                    residual: pair(Kernel::AmgResidual, t, b),
                    accumulate: pair(Kernel::AmgAccumulate, &saved, x),
                };
                buffers.push(saved);
                Some(revisit)
            } else {
                None
            };
            buffers.push(params);
            levels.push(GpuLevel { n, spmv, scale, smooth, coarse: coarse_groups, revisit });
        }
        let last = sizes.len() - 1;
        let dense = match hierarchy.direct_inverse() {
            Some(inverse) => {
                let n = sizes[last];
                let (b, x, _) = &vectors[last];
                let params = uniform_params(ctx, "amg dense", KernelParams { len: n as u32, ..Default::default() })?;
                let inverse = upload("amg dense inverse", &real.encode(&inverse))?;
                buffers.push(inverse.clone());
                let group = kernels.bind_group(
                    device,
                    Kernel::AmgDenseSolve,
                    &[
                        params.as_entire_binding(),
                        inverse.as_entire_binding(),
                        whole_vector(b, n, real),
                        whole_vector(x, n, real),
                    ],
                );
                buffers.push(params);
                Some(group)
            }
            None => None,
        };
        for (b, x, t) in vectors {
            buffers.extend([b, x, t]);
        }
        let options = hierarchy.options();
        Ok(GpuHierarchy { levels, options: *options, dense, _buffers: buffers })
    }

    /// Records the cycle from `level` down: x_level = B b_level.
    pub(super) fn record_cycle(
        &self,
        ctx: &GpuContext,
        kernels: &KernelSet,
        pass: &mut wgpu::ComputePass,
        level: usize,
    ) {
        let this = &self.levels[level];
        let groups = workgroups_for(this.n);
        let sweeps = self.options.sweeps(level);
        let Some((restrict, prolong, coarse_n)) = &this.coarse else {
            match &self.dense {
                Some(dense) => ctx.dispatch(kernels, pass, Kernel::AmgDenseSolve, dense, groups),
                None => {
                    ctx.dispatch(kernels, pass, Kernel::AmgScale, &this.scale, groups);
                    smooth(ctx, kernels, pass, this, sweeps.pre + sweeps.post - 1);
                }
            }
            return;
        };
        ctx.dispatch(kernels, pass, Kernel::AmgScale, &this.scale, groups);
        smooth(ctx, kernels, pass, this, sweeps.pre - 1);
        record_spmv(ctx, kernels, pass, &this.spmv);
        ctx.dispatch(kernels, pass, Kernel::AmgRestrict, restrict, workgroups_for(*coarse_n));
        self.record_visits(ctx, kernels, pass, level + 1);
        ctx.dispatch(kernels, pass, Kernel::AmgProlong, prolong, groups);
        smooth(ctx, kernels, pass, this, sweeps.post);
    }

    /// The coarse correction at `level`: its cycle, then (with a level below it) `coarse_visits - 1` more, each on
    /// the residual the visits so far leave and added to them.
    fn record_visits(&self, ctx: &GpuContext, kernels: &KernelSet, pass: &mut wgpu::ComputePass, level: usize) {
        self.record_cycle(ctx, kernels, pass, level);
        let this = &self.levels[level];
        let Some(revisit) = &this.revisit else { return };
        let groups = workgroups_for(this.n);
        for _ in 1..self.options.coarse_visits {
            ctx.dispatch(kernels, pass, Kernel::Copy, &revisit.save, groups);
            record_spmv(ctx, kernels, pass, &this.spmv);
            ctx.dispatch(kernels, pass, Kernel::AmgResidual, &revisit.residual, groups);
            self.record_cycle(ctx, kernels, pass, level);
            ctx.dispatch(kernels, pass, Kernel::AmgAccumulate, &revisit.accumulate, groups);
        }
    }
}

/// Entries 0..n of a level vector as one binding (one entry for an empty level, whose buffer holds one).
fn whole_vector(buffer: &wgpu::Buffer, n: usize, real: Real) -> wgpu::BindingResource<'_> {
    entries_binding(buffer, &(0..n.max(1)), real)
}

/// `sweeps` l1-Jacobi sweeps x += D^-1 (b - A x) on one level (t = A x is the level's scratch).
fn smooth(ctx: &GpuContext, kernels: &KernelSet, pass: &mut wgpu::ComputePass, level: &GpuLevel, sweeps: usize) {
    for _ in 0..sweeps {
        record_spmv(ctx, kernels, pass, &level.spmv);
        ctx.dispatch(kernels, pass, Kernel::AmgSmooth, &level.smooth, workgroups_for(level.n));
    }
}
