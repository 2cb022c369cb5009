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
    pipeline_cache: Option<PipelineCache>,
}

/// wgpu's pipeline cache and where it lives on disk.
struct PipelineCache {
    cache: wgpu::PipelineCache,
    path: std::path::PathBuf,
    /// Bytes loaded at start (the file is rewritten only when it grew).
    loaded: usize,
}

/// Where the pipeline cache for `info` is kept: `$ACTMAP_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/actmap`, else `~/.cache/actmap`; none when the backend
/// has no cache or `ACTMAP_CACHE_DIR` is set empty.
fn pipeline_cache_file(info: &wgpu::AdapterInfo) -> Option<std::path::PathBuf> {
    let key = wgpu::util::pipeline_cache_key(info)?;
    let dir = match std::env::var_os("ACTMAP_CACHE_DIR") {
        Some(d) if d.is_empty() => return None,
        Some(d) => std::path::PathBuf::from(d),
        None => match std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
            Some(d) => std::path::PathBuf::from(d).join("actmap"),
            None => std::path::PathBuf::from(std::env::var_os("HOME")?).join(".cache/actmap"),
        },
    };
    Some(dir.join(key))
}

/// FNV-1a, to notice a damaged cache file before handing it to the driver.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Cache file contents: 8-byte checksum, then the data.
fn seal(data: &[u8]) -> Vec<u8> {
    let mut out = fnv1a(data).to_le_bytes().to_vec();
    out.extend_from_slice(data);
    out
}

/// The data of a sealed file, if its checksum holds.
fn unseal(file: &[u8]) -> Option<&[u8]> {
    let (sum, data) = file.split_first_chunk::<8>()?;
    (u64::from_le_bytes(*sum) == fnv1a(data)).then_some(data)
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
    ///
    /// Unless `WGPU_BACKEND` picks backends, the primary ones (Vulkan,
    /// Metal, DX12) are asked first and GL only when none has an adapter:
    /// starting EGL loads a second driver stack, a large part of a small
    /// render's start-up on a machine without a GPU.
    pub fn new() -> Result<Self> {
        let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env;
        if std::env::var_os("WGPU_BACKEND").is_none() {
            let mut primary = desc();
            primary.backends &= wgpu::Backends::PRIMARY;
            match Self::from_instance(wgpu::Instance::new(primary), None) {
                Err(Error::NoAdapter { .. }) => {}
                other => return other,
            }
        }
        Self::from_instance(wgpu::Instance::new(desc()), None)
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
        let cache_file = pipeline_cache_file(&adapter.get_info());
        let features = if cache_file.is_some() && adapter.features().contains(wgpu::Features::PIPELINE_CACHE)
        {
            wgpu::Features::PIPELINE_CACHE
        } else {
            wgpu::Features::empty()
        };
        let desc = wgpu::DeviceDescriptor {
            label: Some("actmap::device"),
            required_features: features,
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
        let pipeline_cache = cache_file.filter(|_| !features.is_empty()).map(|path| {
            let data = std::fs::read(&path)
                .ok()
                .and_then(|b| unseal(&b).map(<[u8]>::to_vec));
            let loaded = data.as_ref().map_or(0, |d| d.len());
            // SAFETY: the data is either absent or what `get_data` returned on
            // an earlier run for an adapter with this cache key (the file
            // name), checked against its own checksum by `unseal`; wgpu
            // validates its header and, with `fallback`, starts empty when it
            // does not match.
            let cache = unsafe {
                device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                    label: Some("actmap::pipeline_cache"),
                    data: data.as_deref(),
                    fallback: true,
                })
            };
            PipelineCache { cache, path, loaded }
        });
        Ok(GpuContext {
            instance,
            adapter,
            device,
            queue,
            errors,
            pipeline_cache,
        })
    }

    /// The pipeline cache to create pipelines with (Vulkan), if any.
    pub fn pipeline_cache(&self) -> Option<&wgpu::PipelineCache> {
        self.pipeline_cache.as_ref().map(|c| &c.cache)
    }

    /// Write the pipeline cache back to disk when it grew (atomically;
    /// failures are ignored: the cache only saves start-up time).
    pub fn save_pipeline_cache(&self) {
        let Some(c) = &self.pipeline_cache else {
            return;
        };
        let Some(data) = c.cache.get_data() else {
            return;
        };
        if data.len() <= c.loaded {
            return;
        }
        if let Some(dir) = c.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let tmp = c.path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, seal(&data)).is_ok() && std::fs::rename(&tmp, &c.path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
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

    /// Map `buffer` (MAP_READ, its copy already submitted) and wait for it;
    /// `what` names the read in errors. Unmap it after reading the range.
    pub fn map_read(&self, buffer: &wgpu::Buffer, what: &str) -> Result<wgpu::BufferView> {
        let slice = buffer.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.wait_idle()?;
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Gpu(format!("reading {what} back failed: {e}"))),
            Err(_) => {
                return Err(Error::Gpu(format!(
                    "reading {what} back failed: no answer from the GPU"
                )));
            }
        }
        self.take_errors()?;
        slice
            .get_mapped_range()
            .map_err(|e| Error::Gpu(format!("reading {what} back failed: {e}")))
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
