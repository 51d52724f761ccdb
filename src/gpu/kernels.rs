//! The WGSL kernels: sources, their bind-group layouts (from one declarative table), pipelines, and
//! dispatch sizing with the 2D fold.

use super::real::Real;
use super::GpuError;

/// Invocations per workgroup of every vector kernel; substituted into the WGSL as `WORKGROUP_SIZE`.
pub const WORKGROUP_SIZE: u32 = 256;
/// Entries per invocation of the kernels that end in a workgroup reduction (partial dots, the fused CG
/// update); substituted as `REDUCE_ITEMS`. The reduction's barriers then serve 8 times the data: on lavapipe,
/// where a barrier is costly, that made the fused update twice as fast.
pub const REDUCE_ITEMS: u32 = 8;

/// Shared WGSL prepended to every kernel, in this order (structs before the helpers that use them).
const SHARED_SOURCES: &[&str] = &[
    include_str!("../../shaders/shared/kernel_params.wgsl"),
    include_str!("../../shaders/shared/cg_scalars.wgsl"),
    include_str!("../../shaders/shared/indexing.wgsl"),
];

/// How a kernel sees each binding, in binding order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Uniform,
    Read,
    ReadWrite,
}

use Access::{Read, ReadWrite, Uniform};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    Spmv,
    DotPartial,
    ReduceFinal,
    ComputeAlpha,
    ComputeBeta,
    CgUpdate,
    PUpdate,
    Copy,
    XrUpdate,
    DirectionUpdate,
    AmgScale,
    AmgSmooth,
    AmgRestrict,
    AmgProlong,
    AmgDenseSolve,
    AmgResidual,
    AmgAccumulate,
}

/// One kernel: its file under `shaders/`, the WGSL source, its entry point and its bindings.
pub(crate) struct KernelSpec {
    pub file: &'static str,
    pub source: &'static str,
    pub entry_point: &'static str,
    pub bindings: &'static [Access],
}

impl Kernel {
    pub const ALL: [Kernel; 17] = [
        Kernel::Spmv,
        Kernel::DotPartial,
        Kernel::ReduceFinal,
        Kernel::ComputeAlpha,
        Kernel::ComputeBeta,
        Kernel::CgUpdate,
        Kernel::PUpdate,
        Kernel::Copy,
        Kernel::XrUpdate,
        Kernel::DirectionUpdate,
        Kernel::AmgScale,
        Kernel::AmgSmooth,
        Kernel::AmgRestrict,
        Kernel::AmgProlong,
        Kernel::AmgDenseSolve,
        Kernel::AmgResidual,
        Kernel::AmgAccumulate,
    ];

    pub fn spec(self) -> KernelSpec {
        macro_rules! spec {
            ($file:literal, $entry:literal, $bindings:expr) => {
                KernelSpec {
                    file: $file,
                    source: include_str!(concat!("../../shaders/", $file)),
                    entry_point: $entry,
                    bindings: $bindings,
                }
            };
        }
        match self {
            // params, row_ptr, cols, values, x0..x3 (MAX_X_BINDINGS), y
            Kernel::Spmv => {
                spec!("spmv.wgsl", "main", &[Uniform, Read, Read, Read, Read, Read, Read, Read, ReadWrite])
            }
            // params, a, b, partials
            Kernel::DotPartial => spec!("dot_partial.wgsl", "main", &[Uniform, Read, Read, ReadWrite]),
            // params, partials, scalars
            Kernel::ReduceFinal => spec!("reduce_final.wgsl", "main", &[Uniform, Read, ReadWrite]),
            // scalars, history
            Kernel::ComputeAlpha => spec!("cg_scalars.wgsl", "compute_alpha", &[ReadWrite, ReadWrite]),
            Kernel::ComputeBeta => spec!("cg_scalars.wgsl", "compute_beta", &[ReadWrite, ReadWrite]),
            // params, scalars, p, q, inv_diag, x, r, partials
            Kernel::CgUpdate => {
                spec!("cg_update.wgsl", "main", &[Uniform, Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite])
            }
            // params, scalars, r, inv_diag, p
            Kernel::PUpdate => spec!("p_update.wgsl", "main", &[Uniform, Read, Read, Read, ReadWrite]),
            // params, src, dst
            Kernel::Copy => spec!("copy.wgsl", "main", &[Uniform, Read, ReadWrite]),
            // params, scalars, p, q, x, r
            Kernel::XrUpdate => spec!("xr_update.wgsl", "main", &[Uniform, Read, Read, Read, ReadWrite, ReadWrite]),
            // params, scalars, z, p
            Kernel::DirectionUpdate => spec!("direction_update.wgsl", "main", &[Uniform, Read, Read, ReadWrite]),
            // params, scaling, b, x
            Kernel::AmgScale => spec!("amg_scale.wgsl", "main", &[Uniform, Read, Read, ReadWrite]),
            // params, scaling, b, ax, x
            Kernel::AmgSmooth => spec!("amg_smooth.wgsl", "main", &[Uniform, Read, Read, Read, ReadWrite]),
            // params, member_offsets, members, b, ax, b_coarse
            Kernel::AmgRestrict => {
                spec!("amg_restrict.wgsl", "main", &[Uniform, Read, Read, Read, Read, ReadWrite])
            }
            // params, aggregate_of, e, x
            Kernel::AmgProlong => spec!("amg_prolong.wgsl", "main", &[Uniform, Read, Read, ReadWrite]),
            // params, inverse, b, x
            Kernel::AmgDenseSolve => spec!("amg_dense_solve.wgsl", "main", &[Uniform, Read, Read, ReadWrite]),
            // params, t, b
            Kernel::AmgResidual => spec!("amg_revisit.wgsl", "subtract", &[Uniform, Read, ReadWrite]),
            // params, saved, x
            Kernel::AmgAccumulate => spec!("amg_revisit.wgsl", "add", &[Uniform, Read, ReadWrite]),
        }
    }
}

/// The full WGSL a kernel is compiled from: generated constants, the shared structs, then the kernel.
/// The runtime and the naga test both use this, so the test validates exactly what runs.
pub(crate) fn shader_source(kernel_source: &str, real: Real) -> String {
    let mut source = format!(
        "alias real = {};\nconst WORKGROUP_SIZE: u32 = {WORKGROUP_SIZE}u;\nconst REDUCE_ITEMS: u32 = {REDUCE_ITEMS}u;\n",
        real.wgsl_name()
    );
    for shared in SHARED_SOURCES {
        source.push_str(shared);
        source.push('\n');
    }
    source.push_str(kernel_source);
    source
}

/// Workgroup grid for `workgroups` groups when each dimension holds at most `max_per_dimension`:
/// (x, y, 1) with x * y >= workgroups. Kernels undo the fold with `linear_group` and bound-check.
pub(crate) fn fold_dispatch(workgroups: u32, max_per_dimension: u32) -> (u32, u32, u32) {
    if workgroups <= max_per_dimension {
        (workgroups.max(1), 1, 1)
    } else {
        (max_per_dimension, workgroups.div_ceil(max_per_dimension), 1)
    }
}

/// Workgroups needed to cover `len` entries, one invocation each.
pub(crate) fn workgroups_for(len: usize) -> u32 {
    (len.div_ceil(WORKGROUP_SIZE as usize)).max(1) as u32
}

/// Workgroups of a reduction kernel over `len` entries, `REDUCE_ITEMS` per invocation.
pub(crate) fn reduction_workgroups_for(len: usize) -> u32 {
    workgroups_for(len.div_ceil(REDUCE_ITEMS as usize))
}

/// Layouts and pipelines of every kernel for one `real` type, built once per context.
pub(crate) struct KernelSet {
    layouts: Vec<wgpu::BindGroupLayout>,
    pipelines: Vec<wgpu::ComputePipeline>,
}

impl KernelSet {
    pub fn new(device: &wgpu::Device, real: Real) -> Result<KernelSet, GpuError> {
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut layouts = Vec::new();
        let mut pipelines = Vec::new();
        for kernel in Kernel::ALL {
            let spec = kernel.spec();
            let entries: Vec<wgpu::BindGroupLayoutEntry> = spec
                .bindings
                .iter()
                .enumerate()
                .map(|(binding, access)| wgpu::BindGroupLayoutEntry {
                    binding: binding as u32,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: match access {
                            Uniform => wgpu::BufferBindingType::Uniform,
                            Read => wgpu::BufferBindingType::Storage { read_only: true },
                            ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                        },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                })
                .collect();
            let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(spec.file),
                entries: &entries,
            });
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(spec.file),
                source: wgpu::ShaderSource::Wgsl(shader_source(spec.source, real).into()),
            });
            let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(spec.file),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
            let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(spec.entry_point),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(spec.entry_point),
                compilation_options: Default::default(),
                cache: None,
            });
            layouts.push(layout);
            pipelines.push(pipeline);
        }
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Backend(format!("building the {real:?} kernels failed: {error}")));
        }
        Ok(KernelSet { layouts, pipelines })
    }

    fn index(kernel: Kernel) -> usize {
        Kernel::ALL.iter().position(|&k| k == kernel).expect("every kernel is in Kernel::ALL")
    }

    pub fn pipeline(&self, kernel: Kernel) -> &wgpu::ComputePipeline {
        &self.pipelines[Self::index(kernel)]
    }

    /// A bind group for `kernel` with `resources` (whole buffers or ranges of them), in binding order.
    pub fn bind_group(
        &self,
        device: &wgpu::Device,
        kernel: Kernel,
        resources: &[wgpu::BindingResource],
    ) -> wgpu::BindGroup {
        assert_eq!(resources.len(), kernel.spec().bindings.len(), "{kernel:?} binding count");
        let entries: Vec<wgpu::BindGroupEntry> = resources
            .iter()
            .enumerate()
            .map(|(binding, resource)| wgpu::BindGroupEntry { binding: binding as u32, resource: resource.clone() })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(kernel.spec().file),
            layout: &self.layouts[Self::index(kernel)],
            entries: &entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(kernel: Kernel, real: Real) -> naga::Module {
        let spec = kernel.spec();
        let source = shader_source(spec.source, real);
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{} ({real:?}) does not parse:\n{}", spec.file, e.emit_to_string(&source)));
        let capabilities = match real {
            Real::F32 => naga::valid::Capabilities::empty(),
            Real::F64 => naga::valid::Capabilities::FLOAT64,
        };
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), capabilities)
            .validate(&module)
            .unwrap_or_else(|e| panic!("{} ({real:?}) is invalid: {e:?}", spec.file));
        assert!(
            module.entry_points.iter().any(|e| e.name == spec.entry_point),
            "{} lacks entry point {}",
            spec.file,
            spec.entry_point
        );
        module
    }

    #[test]
    fn every_kernel_parses_and_validates_in_f32_and_f64() {
        for kernel in Kernel::ALL {
            validate(kernel, Real::F32);
            validate(kernel, Real::F64);
        }
    }

    /// Every global binding the shader declares is in the declarative table with the same access.
    #[test]
    fn binding_table_matches_the_shaders() {
        for kernel in Kernel::ALL {
            let module = validate(kernel, Real::F32);
            let spec = kernel.spec();
            let mut declared: Vec<(u32, Access)> = module
                .global_variables
                .iter()
                .filter_map(|(_, var)| {
                    let binding = var.binding.as_ref()?;
                    let access = match var.space {
                        naga::AddressSpace::Uniform => Uniform,
                        naga::AddressSpace::Storage { access } if access.contains(naga::StorageAccess::STORE) => {
                            ReadWrite
                        }
                        naga::AddressSpace::Storage { .. } => Read,
                        _ => return None,
                    };
                    Some((binding.binding, access))
                })
                .collect();
            declared.sort_by_key(|&(binding, _)| binding);
            let table: Vec<(u32, Access)> = spec.bindings.iter().enumerate().map(|(i, &a)| (i as u32, a)).collect();
            assert_eq!(declared, table, "{}", spec.file);
        }
    }

    /// The WGSL struct sizes equal their Rust twins (naga's layouter is the WGSL layout rule).
    #[test]
    fn shared_struct_sizes_match_rust_twins() {
        use super::super::layout::{CgScalars, KernelParams};
        for (real, scalars_size) in [(Real::F32, CgScalars::size(Real::F32)), (Real::F64, CgScalars::size(Real::F64))] {
            let module = validate(Kernel::CgUpdate, real);
            let mut layouter = naga::proc::Layouter::default();
            layouter.update(module.to_ctx()).unwrap();
            let size_of = |name: &str| {
                let (handle, _) = module.types.iter().find(|(_, t)| t.name.as_deref() == Some(name)).unwrap();
                layouter[handle].size as usize
            };
            assert_eq!(size_of("CgScalars") as u64, scalars_size, "{real:?}");
            assert_eq!(size_of("KernelParams"), std::mem::size_of::<KernelParams>());
        }
    }

    #[test]
    fn fold_covers_every_workgroup() {
        assert_eq!(fold_dispatch(10, 65_535), (10, 1, 1));
        for (groups, max) in [(65_536, 65_535), (1_000_001, 65_535), (13, 4), (16, 4)] {
            let (x, y, z) = fold_dispatch(groups, max);
            assert!(x <= max && y <= max && z == 1);
            assert!(x as u64 * y as u64 >= groups as u64);
            assert!((x as u64) * (y as u64 - 1) < groups as u64, "no fully idle row");
        }
    }
}
