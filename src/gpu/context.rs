//! One wgpu device per run: adapter choice, limits, the kernels, buffer creation with out-of-memory
//! checks, submission and read-back.

use super::kernels::KernelSet;
use super::kernels::{fold_dispatch, Kernel};
use super::real::Real;
use super::GpuError;
use serde::Serialize;
use std::sync::{Arc, Mutex, OnceLock};

/// Lowers the storage-binding limit the solver plans with (bytes), so tests can force chunking (read only in a
/// build with the `testing` feature).
#[cfg(feature = "testing")]
pub const MAX_BINDING_BYTES_ENV: &str = "IONFLUX_GPU_MAX_BINDING_BYTES";

/// Which adapter to open and how.
#[derive(Debug, Clone, Default)]
pub struct GpuRequest {
    /// Case-insensitive substring of the adapter name; None picks the best (discrete GPUs first).
    pub adapter: Option<String>,
    /// Accept CPU adapters (lavapipe "llvmpipe").
    pub allow_software: bool,
    /// Fail with [`GpuError::NoF64`] unless the adapter has SHADER_F64.
    pub require_f64: bool,
    /// Plan with at most this many bytes per storage binding (never above the adapter's limit).
    /// Overrides the `IONFLUX_GPU_MAX_BINDING_BYTES` variable.
    pub max_binding_bytes: Option<u64>,
    /// Fold dispatches at this many workgroups per dimension (never above the adapter's limit); tests
    /// lower it to exercise the 2D fold.
    pub max_workgroups_per_dimension: Option<u32>,
    /// Leave SHADER_F64 off even where the adapter has it (to exercise the f32-only path).
    pub disable_f64: bool,
}

/// One adapter as `ionflux devices` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct AdapterInfoRow {
    pub name: String,
    pub device_type: String,
    pub backend: String,
    pub driver: String,
    pub shader_f64: bool,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
}

/// Switches off Mesa's implicit device-select Vulkan layer unless the user configured it: the layer connects to
/// a Wayland display to rank GPUs, which on a headless machine prints "error: XDG_RUNTIME_DIR is invalid" for
/// every instance, and ionflux ranks adapters itself. Call it first thing in `main`, while the process has
/// one thread (it sets an environment variable).
pub fn quiet_headless_vulkan_layers() {
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
}

fn instance() -> wgpu::Instance {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle();
    descriptor.backends = wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12;
    wgpu::Instance::new(descriptor)
}

fn row(adapter: &wgpu::Adapter) -> AdapterInfoRow {
    let info = adapter.get_info();
    let limits = adapter.limits();
    AdapterInfoRow {
        name: info.name,
        device_type: format!("{:?}", info.device_type),
        backend: format!("{:?}", info.backend),
        driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
        shader_f64: adapter.features().contains(wgpu::Features::SHADER_F64),
        max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
        max_buffer_size: limits.max_buffer_size,
    }
}

/// Every adapter wgpu can open here (Vulkan, Metal, DX12).
pub fn list_adapters() -> Vec<AdapterInfoRow> {
    pollster::block_on(instance().enumerate_adapters(wgpu::Backends::all())).iter().map(row).collect()
}

/// Discrete GPUs first, CPU adapters last.
fn preference(device_type: wgpu::DeviceType) -> u8 {
    match device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// A device, its queue, and the kernels compiled for it. Cloning shares them (one `Arc`), so a system or a
/// solver keeps its own handle and needs no borrow of whoever opened the device.
#[derive(Clone)]
pub struct GpuContext(Arc<ContextState>);

pub struct ContextState {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    shader_f64: bool,
    max_binding_bytes: u64,
    max_workgroups_per_dimension: u32,
    kernels_f32: KernelSet,
    kernels_f64: OnceLock<Result<KernelSet, GpuError>>,
    staging: Mutex<Option<wgpu::Buffer>>,
    /// Set by the device-lost callback and the uncaptured-error handler; checked after every wait.
    fault: Arc<Mutex<Option<GpuError>>>,
}

impl std::ops::Deref for GpuContext {
    type Target = ContextState;

    fn deref(&self) -> &ContextState {
        &self.0
    }
}

impl GpuContext {
    pub fn new(request: &GpuRequest) -> Result<GpuContext, GpuError> {
        let adapters = pollster::block_on(instance().enumerate_adapters(wgpu::Backends::all()));
        let available = if adapters.is_empty() {
            "none (is a Vulkan driver installed? mesa-vulkan-drivers provides lavapipe)".to_string()
        } else {
            adapters
                .iter()
                .map(|a| format!("{} ({:?})", a.get_info().name, a.get_info().device_type))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut candidates: Vec<&wgpu::Adapter> = adapters
            .iter()
            .filter(|a| request.allow_software || a.get_info().device_type != wgpu::DeviceType::Cpu)
            .filter(|a| match &request.adapter {
                Some(name) => a.get_info().name.to_lowercase().contains(&name.to_lowercase()),
                None => true,
            })
            .collect();
        if candidates.is_empty() {
            let reason = match (&request.adapter, request.allow_software) {
                (Some(name), _) => format!("no adapter name contains \"{name}\""),
                (None, false) => "no hardware adapter and software adapters are not allowed".to_string(),
                (None, true) => "no adapter at all".to_string(),
            };
            return Err(GpuError::NoAdapter { reason, available });
        }
        let has_f64 = |a: &wgpu::Adapter| !request.disable_f64 && a.features().contains(wgpu::Features::SHADER_F64);
        if request.require_f64 {
            if !candidates.iter().any(|a| has_f64(a)) {
                return Err(GpuError::NoF64 { adapter: candidates[0].get_info().name });
            }
            candidates.retain(|a| has_f64(a));
        }
        candidates.sort_by_key(|a| preference(a.get_info().device_type));
        let adapter = candidates[0];
        let shader_f64 = has_f64(adapter);
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("ionflux"),
            required_features: if shader_f64 { wgpu::Features::SHADER_F64 } else { wgpu::Features::empty() },
            // The adapter's own limits: the defaults would cap storage bindings at 128 MiB everywhere.
            required_limits: limits.clone(),
            memory_hints: wgpu::MemoryHints::Performance,
            ..Default::default()
        }))
        .map_err(|e| GpuError::Backend(format!("opening {}: {e}", adapter.get_info().name)))?;

        let fault = Arc::new(Mutex::new(None));
        let lost = Arc::clone(&fault);
        device.set_device_lost_callback(move |reason, message| {
            lost.lock().unwrap().get_or_insert(GpuError::DeviceLost(format!("{reason:?}: {message}")));
        });
        let uncaptured = Arc::clone(&fault);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            let error = match error {
                wgpu::Error::OutOfMemory { .. } => GpuError::OutOfMemory { what: "running the kernels".to_string() },
                other => GpuError::Backend(other.to_string()),
            };
            uncaptured.lock().unwrap().get_or_insert(error);
        }));

        #[cfg(feature = "testing")]
        let env_binding = match std::env::var(MAX_BINDING_BYTES_ENV) {
            Ok(text) => Some(text.trim().parse::<u64>().ok().filter(|&bytes| bytes > 0).ok_or_else(|| {
                GpuError::Backend(format!("{MAX_BINDING_BYTES_ENV} = `{text}` is not a positive number of bytes"))
            })?),
            Err(_) => None,
        };
        #[cfg(not(feature = "testing"))]
        let env_binding: Option<u64> = None;
        let max_binding_bytes = request
            .max_binding_bytes
            .or(env_binding)
            .unwrap_or(u64::MAX)
            .min(limits.max_storage_buffer_binding_size)
            .min(limits.max_buffer_size);
        let max_workgroups_per_dimension = request
            .max_workgroups_per_dimension
            .unwrap_or(u32::MAX)
            .min(limits.max_compute_workgroups_per_dimension)
            .max(1);
        let kernels_f32 = KernelSet::new(&device, Real::F32)?;
        Ok(GpuContext(Arc::new(ContextState {
            device,
            queue,
            info: adapter.get_info(),
            limits,
            shader_f64,
            max_binding_bytes,
            max_workgroups_per_dimension,
            kernels_f32,
            kernels_f64: OnceLock::new(),
            staging: Mutex::new(None),
            fault,
        })))
    }

    /// "name (backend)", as solve reports name the device.
    pub fn device_name(&self) -> String {
        format!("{} ({:?})", self.info.name, self.info.backend)
    }

    pub fn adapter_name(&self) -> &str {
        &self.info.name
    }

    pub fn supports_f64(&self) -> bool {
        self.shader_f64
    }

    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// The largest storage binding the solver plans with (the adapter's, or the lowered test limit).
    pub fn max_binding_bytes(&self) -> u64 {
        self.max_binding_bytes
    }

    pub fn max_workgroups_per_dimension(&self) -> u32 {
        self.max_workgroups_per_dimension
    }

    pub(crate) fn device(&self) -> &wgpu::Device {
        &self.device
    }

    pub(crate) fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    pub(crate) fn kernels(&self, real: Real) -> Result<&KernelSet, GpuError> {
        match real {
            Real::F32 => Ok(&self.kernels_f32),
            Real::F64 if !self.shader_f64 => Err(GpuError::NoF64 { adapter: self.info.name.clone() }),
            Real::F64 => {
                self.kernels_f64.get_or_init(|| KernelSet::new(&self.device, Real::F64)).as_ref().map_err(Clone::clone)
            }
        }
    }

    /// A buffer, or a typed error instead of a later panic when the device cannot hold it.
    pub(crate) fn create_buffer(
        &self,
        label: &str,
        size: u64,
        usage: wgpu::BufferUsages,
    ) -> Result<wgpu::Buffer, GpuError> {
        if size > self.limits.max_buffer_size {
            return Err(GpuError::OutOfMemory {
                what: format!("allocating {label} ({size} bytes > max_buffer_size {})", self.limits.max_buffer_size),
            });
        }
        let memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        // Sizes are rounded up to 4 bytes (COPY_BUFFER_ALIGNMENT); empty bindings are invalid.
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: size.max(4).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT),
            usage,
            mapped_at_creation: false,
        });
        let validation_error = pollster::block_on(validation.pop());
        let memory_error = pollster::block_on(memory.pop());
        if memory_error.is_some() {
            return Err(GpuError::OutOfMemory { what: format!("allocating {label} ({size} bytes)") });
        }
        if let Some(error) = validation_error {
            return Err(GpuError::Backend(format!("allocating {label}: {error}")));
        }
        Ok(buffer)
    }

    /// Submit and wait for the GPU; a lost device or an uncaptured error becomes an error here.
    pub(crate) fn submit_and_wait(&self, encoder: wgpu::CommandEncoder) -> Result<(), GpuError> {
        self.queue.submit([encoder.finish()]);
        self.wait()
    }

    fn wait(&self) -> Result<(), GpuError> {
        let polled = self.device.poll(wgpu::PollType::wait_indefinitely());
        if let Some(fault) = self.fault.lock().unwrap().clone() {
            return Err(fault);
        }
        polled.map(|_| ()).map_err(|e| GpuError::Backend(format!("waiting for the GPU: {e}")))
    }

    /// Records one dispatch of `kernel` over `workgroups` groups (folded into 2D beyond the per-dimension limit).
    pub(crate) fn dispatch(
        &self,
        kernels: &KernelSet,
        pass: &mut wgpu::ComputePass,
        kernel: Kernel,
        bind_group: &wgpu::BindGroup,
        workgroups: u32,
    ) {
        let (x, y, z) = fold_dispatch(workgroups, self.max_workgroups_per_dimension);
        pass.set_pipeline(kernels.pipeline(kernel));
        pass.set_bind_group(0, bind_group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }

    /// Records `count` runs of `op` into one submission and waits for it.
    pub(crate) fn run(&self, op: impl Fn(&mut wgpu::ComputePass), count: usize) -> Result<(), GpuError> {
        self.run_from_zero(&[], op, count)
    }

    /// Zeroes `buffers` on the GPU (no host traffic), then records `op` `count` times, in one submission.
    pub(crate) fn run_from_zero(
        &self,
        buffers: &[&wgpu::Buffer],
        op: impl Fn(&mut wgpu::ComputePass),
        count: usize,
    ) -> Result<(), GpuError> {
        let mut encoder = self.device.create_command_encoder(&Default::default());
        for buffer in buffers {
            encoder.clear_buffer(buffer, 0, None);
        }
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            for _ in 0..count {
                op(&mut pass);
            }
        }
        self.submit_and_wait(encoder)
    }

    /// Copies `size` bytes at `offset` of `buffer` to the host through the reusable staging buffer.
    pub(crate) fn read_back(&self, buffer: &wgpu::Buffer, offset: u64, size: u64) -> Result<Vec<u8>, GpuError> {
        let mut staging = self.staging.lock().unwrap();
        if staging.as_ref().is_none_or(|s| s.size() < size) {
            let capacity = size.next_power_of_two().max(4096);
            *staging = Some(self.create_buffer(
                "staging",
                capacity,
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            )?);
        }
        let staging = staging.as_ref().expect("created above");
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, offset, staging, 0, size);
        self.submit_and_wait(encoder)?;
        let (sender, receiver) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, 0..size, move |result| {
            let _ = sender.send(result);
        });
        self.wait()?;
        receiver
            .recv()
            .map_err(|_| GpuError::Backend("the read-back callback never ran".to_string()))?
            .map_err(|e| GpuError::Backend(format!("mapping the staging buffer: {e}")))?;
        let bytes = staging
            .get_mapped_range(0..size)
            .map_err(|e| GpuError::Backend(format!("reading the staging buffer: {e}")))?
            .to_vec();
        staging.unmap();
        Ok(bytes)
    }
}

/// The context GPU tests run on (`testing` feature): any adapter, software allowed. Without one, prints why and returns
/// None, unless `IONFLUX_REQUIRE_GPU=1` (CI), where it panics with the reason.
#[cfg(feature = "testing")]
pub fn test_context() -> Option<GpuContext> {
    test_context_with(GpuRequest { allow_software: true, ..Default::default() })
}

/// [`test_context`] for a specific request (e.g. a lowered binding limit).
#[cfg(feature = "testing")]
pub fn test_context_with(request: GpuRequest) -> Option<GpuContext> {
    match GpuContext::new(&request) {
        Ok(context) => Some(context),
        Err(error) if std::env::var("IONFLUX_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
            panic!("IONFLUX_REQUIRE_GPU=1 but no GPU context: {error}")
        }
        Err(error) => {
            eprintln!("skipping GPU test: {error}");
            None
        }
    }
}
