//! The GPU context: instance, adapter, device and queue, created once and
//! shared by every renderer.

use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// An adapter, device and queue, plus the errors the device reported.
///
/// Honours the usual wgpu environment variables: `WGPU_BACKEND`
/// (`vulkan`, `gl`, ...), `WGPU_ADAPTER_NAME` (a substring of the adapter
/// name) and `WGPU_POWER_PREF` (`low`/`high`).
pub struct GpuContext {
    /// The wgpu instance.
    pub instance: wgpu::Instance,
    /// The adapter in use.
    pub adapter: wgpu::Adapter,
    /// The device.
    pub device: wgpu::Device,
    /// The device's queue.
    pub queue: wgpu::Queue,
    errors: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let info = self.adapter.get_info();
        f.debug_struct("GpuContext")
            .field("adapter", &info.name)
            .field("backend", &info.backend)
            .finish()
    }
}

impl GpuContext {
    /// A headless context (no window needed).
    pub fn new() -> Result<Self> {
        let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        let instance = wgpu::Instance::new(desc);
        Self::from_instance(instance, None)
    }

    /// A context on `instance`, with an adapter able to present to `surface`
    /// when one is given.
    pub fn from_instance(instance: wgpu::Instance, surface: Option<&wgpu::Surface<'_>>) -> Result<Self> {
        pollster::block_on(Self::create(instance, surface))
    }

    async fn select_adapter(
        instance: &wgpu::Instance,
        surface: Option<&wgpu::Surface<'_>>,
    ) -> Result<wgpu::Adapter> {
        if let Ok(want) = std::env::var("WGPU_ADAPTER_NAME") {
            let want_lc = want.to_lowercase();
            let adapters = instance.enumerate_adapters(wgpu::Backends::all()).await;
            let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
            return adapters
                .into_iter()
                .find(|a| {
                    a.get_info().name.to_lowercase().contains(&want_lc)
                        && surface.is_none_or(|s| a.is_surface_supported(s))
                })
                .ok_or_else(|| Error::NoAdapter {
                    details: format!(
                        "WGPU_ADAPTER_NAME={want:?} matches none of the adapters found: [{}]",
                        names.join(", ")
                    ),
                });
        }
        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::from_env().unwrap_or_default(),
            force_fallback_adapter: false,
            compatible_surface: surface,
            apply_limit_buckets: false,
        };
        instance
            .request_adapter(&options)
            .await
            .map_err(|e| Error::NoAdapter {
                details: format!(
                    "{e}. Without a GPU, install the Vulkan software driver (Debian/Ubuntu: \
                     `apt-get install mesa-vulkan-drivers libvulkan1`), or pick another backend \
                     with WGPU_BACKEND=vulkan|gl"
                ),
            })
    }

    async fn create(instance: wgpu::Instance, surface: Option<&wgpu::Surface<'_>>) -> Result<Self> {
        let adapter = Self::select_adapter(&instance, surface).await?;
        // Ask for everything the adapter offers: the defaults cap 2-D
        // textures at 8192, lavapipe and real GPUs allow 16384 or more.
        let desc = wgpu::DeviceDescriptor {
            label: Some("actmap::device"),
            required_features: wgpu::Features::empty(),
            required_limits: adapter.limits(),
            experimental_features: wgpu::ExperimentalFeatures::default(),
            memory_hints: wgpu::MemoryHints::MemoryUsage,
            trace: wgpu::Trace::Off,
        };
        let (device, queue) = adapter
            .request_device(&desc)
            .await
            .map_err(|e| Error::Gpu(format!("cannot open device on {}: {e}", adapter.get_info().name)))?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        // wgpu's default handler panics; keep the message and report it as an Error.
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        Ok(GpuContext {
            instance,
            adapter,
            device,
            queue,
            errors,
        })
    }

    /// Adapter name, backend and driver, for `--verbose` and bench reports.
    pub fn describe(&self) -> String {
        let i = self.adapter.get_info();
        format!(
            "{} ({:?}, {:?}, {} {})",
            i.name, i.backend, i.device_type, i.driver, i.driver_info
        )
    }

    /// The adapter's backend.
    pub fn backend(&self) -> wgpu::Backend {
        self.adapter.get_info().backend
    }

    /// Largest width or height of a 2-D texture (and so of an output image).
    pub fn max_texture_dim(&self) -> u32 {
        self.device.limits().max_texture_dimension_2d
    }

    /// Wait for all submitted work to finish.
    pub fn wait_idle(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| Error::Gpu(format!("waiting for the GPU failed: {e}")))
    }

    /// Turn any error the device reported since the last call into an `Err`.
    pub fn take_errors(&self) -> Result<()> {
        let mut errs = match self.errors.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if errs.is_empty() {
            return Ok(());
        }
        let msg = errs.join("; ");
        errs.clear();
        Err(Error::Gpu(msg))
    }

    /// Run `f` inside an out-of-memory + validation error scope and turn a
    /// captured error into `Err(Error::Gpu)` that says what was being done.
    pub fn scoped<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let v = pollster::block_on(validation.pop());
        let o = pollster::block_on(oom.pop());
        match (o, v) {
            (Some(e), _) => Err(Error::Gpu(format!("out of GPU memory while {what}: {e}"))),
            (None, Some(e)) => Err(Error::Gpu(format!("{what}: {e}"))),
            (None, None) => Ok(out),
        }
    }
}
