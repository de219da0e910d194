//! The CUDA backend (cargo feature `cuda`): [`CudaBackend`] (`backend`), a simulation's
//! `crate::dynamics::Backend` on GPU 0. The data modes (docs/math.md section 4) run through
//! cuBLAS and fused elementwise kernels (`data`, planned in `plan`); the pair interaction of
//! population mode (docs/math.md section 3) runs as one fused kernel (`population.cu`), compiled
//! at run time by NVRTC for the scenario's d, activation and precision, in the manner of fused
//! attention: each block holds 128 particles w_j in registers and streams the particles w_l
//! through shared memory, so that the m x m Gram and kernel matrices are never written to
//! memory.
//!
//! In a run (`Simulation::run`) the backend holds the particles on the GPU between steps: the
//! state, the Runge-Kutta probe and stages (`held`), with the drift, axpy and noise of a step
//! as kernels (`particles.cu`; population mode's gradient and risk in `population_held`, the
//! data modes' in `data`). Only logged observables and snapshots come back, and the noise
//! draws go up (O(m d) per noisy step). A data set is uploaded once, an online batch once per
//! step. Outside a run ([`CudaInteraction::interaction`], `Simulation::step`) the particles are
//! uploaded at each evaluation and the three per-particle sums of population mode come back to
//! the CPU, which adds the teacher terms and assembles the gradient (`task::population`).
//!
//! The CUDA libraries are loaded when the backend is first asked for (cudarc's
//! `dynamic-loading`), so the crate builds, and its CPU paths run, on machines without CUDA;
//! [`CudaInteraction::new`] fails with [`Error::Device`] naming what is missing.

// The kernel launch and the probes for the libraries are `unsafe` in cudarc: the launch takes
// untyped arguments, which `launch` below passes in the order and types of `population.cu`.
#![allow(
    unsafe_code,
    reason = "cudarc's kernel launch and library probes are unsafe fns"
)]

pub mod backend;
pub mod data;
pub mod held;
pub mod plan;
mod population_held;

use std::sync::Arc;

use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DeviceRepr, LaunchConfig, PushKernelArg,
    ValidAsZeroBits,
};
use cudarc::nvrtc::{CompileOptions, compile_ptx_with_opts};

use crate::device::Precision;
use crate::error::{Error, Result};
use crate::math::Activation;
use crate::math::reduce::ordered_sum;

pub use backend::CudaBackend;

/// The kernel source (see its header for the compile-time parameters).
pub const POPULATION_SOURCE: &str =
    concat!(include_str!("population.cu"), include_str!("particles.cu"));

/// Threads per block (particles j per block).
pub const TILE: usize = 128;

/// Shared memory per block for the tile of w_l, at most (the static limit is 48 KiB).
const TILE_BYTES: usize = 32 * 1024;

/// Rows of w_l per shared-memory tile: [`TILE`], or fewer when d is large, so that the tile
/// (rows x (d + 1) values of `bytes` each) fits in `TILE_BYTES`.
pub fn tile_rows(d: usize, bytes: usize) -> usize {
    (TILE_BYTES / ((d + 1) * bytes)).clamp(1, TILE)
}

/// The NVRTC options of the population kernel for dimension `d`, `activation` (relu or erf)
/// and `precision`; `arch` is the `compute_XY` target, or None for NVRTC's default.
///
/// # Errors
/// [`Error::Invalid`] for an activation without a closed-form kernel on the GPU.
pub fn compile_options(
    d: usize,
    activation: Activation,
    precision: Precision,
    arch: Option<&'static str>,
) -> Result<CompileOptions> {
    let act = match activation {
        Activation::Relu => "ACT_RELU",
        Activation::Erf => "ACT_ERF",
        other => {
            return Err(Error::invalid(
                "activation on device cuda",
                other,
                "relu or erf (the closed-form pair kernels; linear and quadratic run their \
                 low-rank path on the CPU, the other activations need the CPU's quadrature)",
            ));
        }
    };
    let (real, bytes) = match precision {
        Precision::F64 => ("double", 8),
        Precision::F32 => ("float", 4),
    };
    Ok(CompileOptions {
        options: vec![
            format!("-DREAL={real}"),
            format!("-DDIM={d}"),
            format!("-D{act}"),
            format!("-DTILE={TILE}"),
            format!("-DLTILE={}", tile_rows(d, bytes)),
        ],
        arch,
        name: Some("population.cu".into()),
        ..Default::default()
    })
}

/// Compiles the population kernel to PTX with NVRTC (no GPU needed, only libnvrtc).
///
/// # Errors
/// [`Error::Device`] when libnvrtc cannot be loaded or the source does not compile (with
/// NVRTC's log).
pub fn compile_population(
    d: usize,
    activation: Activation,
    precision: Precision,
    arch: Option<&'static str>,
) -> Result<cudarc::nvrtc::Ptx> {
    let options = compile_options(d, activation, precision, arch)?;
    require_nvrtc()?;
    compile_ptx_with_opts(POPULATION_SOURCE, options)
        .map_err(|e| device_error(format!("NVRTC could not compile population.cu: {e:?}")))
}

pub(crate) fn device_error(message: impl Into<String>) -> Error {
    Error::Device {
        message: message.into(),
    }
}

/// Whether the CUDA driver library can be loaded (without loading it for good).
pub fn driver_present() -> bool {
    // SAFETY: the probe only tries to open the candidate library names and closes them.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// Whether libnvrtc can be loaded.
pub fn nvrtc_present() -> bool {
    // SAFETY: as for `driver_present`.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

pub(crate) fn require_nvrtc() -> Result<()> {
    if nvrtc_present() {
        Ok(())
    } else {
        Err(device_error(
            "libnvrtc (the CUDA run-time compiler) was not found: install the CUDA toolkit or \
             the `nvidia-cuda-nvrtc-cu12` wheel and put its lib folder on LD_LIBRARY_PATH",
        ))
    }
}

/// The population risk (docs/math.md section 3) from the terms `population_gradient` leaves on the
/// device: R = (E f*^2 - 2 m^(-alpha) sum_j a_j V(w_j) + m^(-2 alpha) sum_j a_j P_j) / 2 with
/// `pair_terms[j]` = a_j P_j (P_j = sum_l a_l K(w_j, w_l)) and `teacher_terms[j]` = a_j V(w_j),
/// each summed by `ordered_sum` as on the CPU; `target_energy` = E f*^2 (+ s^2).
pub fn population_risk(
    target_energy: f64,
    scale: f64,
    pair_terms: &[f64],
    teacher_terms: &[f64],
) -> f64 {
    let m = pair_terms.len();
    let network_energy = scale * scale * ordered_sum(m, |j| pair_terms[j]);
    let cross = scale * ordered_sum(m, |j| teacher_terms[j]);
    0.5 * (target_energy - 2.0 * cross + network_energy)
}

/// GPU 0, opened: its context, name and NVRTC target.
pub(crate) struct Gpu {
    pub(crate) context: Arc<CudaContext>,
    pub(crate) name: String,
    pub(crate) arch: Option<&'static str>,
}

impl Gpu {
    /// Opens GPU 0.
    ///
    /// # Errors
    /// [`Error::Device`] when the driver is missing or reports no GPU, or the GPU cannot be
    /// opened.
    pub(crate) fn open() -> Result<Self> {
        if !driver_present() {
            return Err(device_error(
                "no CUDA driver found (libcuda.so could not be loaded): device = \"cuda\" needs \
                 an NVIDIA GPU and its driver; use device = \"cpu\" (the default) here",
            ));
        }
        let count = CudaContext::device_count()
            .map_err(|e| device_error(format!("the CUDA driver reports no device: {e:?}")))?;
        if count < 1 {
            return Err(device_error(
                "the CUDA driver is installed but reports no GPU",
            ));
        }
        let context = CudaContext::new(0)
            .map_err(|e| device_error(format!("GPU 0 could not be opened: {e:?}")))?;
        let name = context.name().unwrap_or_else(|_| "GPU 0".into());
        let (major, minor) = context
            .compute_capability()
            .map_err(|e| device_error(format!("{name}: compute capability: {e:?}")))?;
        Ok(Self {
            context,
            name,
            arch: arch(major, minor),
        })
    }
}

/// A floating-point type of the kernels.
pub(crate) trait Real:
    DeviceRepr + ValidAsZeroBits + Copy + Default + Unpin + 'static
{
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl Real for f64 {
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
}

impl Real for f32 {
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

/// Device buffers for one width m.
struct Buffers<T> {
    m: usize,
    a: CudaSlice<T>,
    w: CudaSlice<T>,
    q: CudaSlice<T>,
    value: CudaSlice<T>,
    cross: CudaSlice<T>,
    direction: CudaSlice<T>,
    /// Host staging in the kernel's type, one input or output at a time (at most m d values).
    host: Vec<T>,
}

enum AnyBuffers {
    F64(Buffers<f64>),
    F32(Buffers<f32>),
}

/// The fused population interaction on GPU 0.
pub struct CudaInteraction {
    stream: Arc<CudaStream>,
    function: CudaFunction,
    /// `population_norms` and `population_gradient`, for particles held on the device.
    norms: CudaFunction,
    gradient: CudaFunction,
    particles: held::ParticleKernels,
    precision: Precision,
    d: usize,
    device_name: String,
    buffers: Option<AnyBuffers>,
    held: Option<population_held::AnyHeld>,
}

impl std::fmt::Debug for CudaInteraction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaInteraction")
            .field("device", &self.device_name)
            .field("precision", &self.precision)
            .field("d", &self.d)
            .finish_non_exhaustive()
    }
}

impl CudaInteraction {
    /// Opens GPU 0 and compiles the kernel for `d`, `activation` and `precision`.
    ///
    /// # Errors
    /// [`Error::Device`] when the driver or libnvrtc is missing, no GPU is found, or the
    /// kernel does not compile or load; [`Error::Invalid`] for an activation other than relu
    /// and erf.
    pub fn new(d: usize, activation: Activation, precision: Precision) -> Result<Self> {
        compile_options(d, activation, precision, None)?;
        let gpu = Gpu::open()?;
        let (context, device_name) = (&gpu.context, gpu.name.clone());
        let ptx = compile_population(d, activation, precision, gpu.arch)?;
        let module = context
            .load_module(ptx)
            .map_err(|e| device_error(format!("{device_name}: loading the kernel: {e:?}")))?;
        let entry = |name: &str| {
            module
                .load_function(name)
                .map_err(|e| device_error(format!("{device_name}: kernel {name}: {e:?}")))
        };
        Ok(Self {
            stream: context.default_stream(),
            function: entry("population_interaction")?,
            norms: entry("population_norms")?,
            gradient: entry("population_gradient")?,
            particles: held::ParticleKernels::load(&module, &device_name)?,
            precision,
            d,
            device_name,
            buffers: None,
            held: None,
        })
    }

    /// The GPU's name, as the driver reports it.
    pub fn device_name(&self) -> &str {
        &self.device_name
    }

    /// The three sums for every particle j: `value[j]` = sum_l a_l K(w_j, w_l), `cross[j]` =
    /// sum_l a_l cross(j, l), `direction` (column-major m x d) = sum_l a_l coef_v w_l. `w` is
    /// column-major m x d and `q[j]` = |w_j|^2, as computed on the CPU.
    ///
    /// # Errors
    /// [`Error::Device`] on a failed allocation, copy or launch; [`Error::Invalid`] when the
    /// lengths do not match.
    pub fn interaction(
        &mut self,
        a: &[f64],
        w: &[f64],
        q: &[f64],
        value: &mut [f64],
        cross: &mut [f64],
        direction: &mut [f64],
    ) -> Result<()> {
        let m = a.len();
        let d = self.d;
        if w.len() != m * d
            || q.len() != m
            || value.len() != m
            || cross.len() != m
            || direction.len() != m * d
        {
            return Err(Error::invalid(
                "GPU interaction buffers",
                format!("m = {m}, d = {d}"),
                "a, q, value, cross of length m and w, direction of length m d",
            ));
        }
        if m == 0 {
            return Ok(());
        }
        let m_arg = i32::try_from(m)
            .map_err(|_| Error::invalid("m on device cuda", m, "at most 2^31 - 1"))?;
        let stale = match &self.buffers {
            Some(AnyBuffers::F64(b)) => b.m != m,
            Some(AnyBuffers::F32(b)) => b.m != m,
            None => true,
        };
        if stale {
            self.buffers = Some(match self.precision {
                Precision::F64 => AnyBuffers::F64(self.allocate(m)?),
                Precision::F32 => AnyBuffers::F32(self.allocate(m)?),
            });
        }
        let outputs = Outputs {
            value,
            cross,
            direction,
        };
        let (stream, function) = (&self.stream, &self.function);
        match &mut self.buffers {
            Some(AnyBuffers::F64(b)) => launch(stream, function, b, m_arg, a, w, q, outputs),
            Some(AnyBuffers::F32(b)) => launch(stream, function, b, m_arg, a, w, q, outputs),
            None => Ok(()),
        }
        .map_err(|e| device_error(format!("{}: {e:?}", self.device_name)))
    }

    fn allocate<T: Real>(&self, m: usize) -> Result<Buffers<T>> {
        let d = self.d;
        let alloc = |len: usize| {
            self.stream.alloc_zeros::<T>(len).map_err(|e| {
                device_error(format!(
                    "{}: allocating {len} values for m = {m}: {e:?}",
                    self.device_name
                ))
            })
        };
        Ok(Buffers {
            m,
            a: alloc(m)?,
            w: alloc(m * d)?,
            q: alloc(m)?,
            value: alloc(m)?,
            cross: alloc(m)?,
            direction: alloc(m * d)?,
            host: vec![T::default(); m * d],
        })
    }
}

/// The host outputs of one evaluation.
struct Outputs<'a> {
    value: &'a mut [f64],
    cross: &'a mut [f64],
    direction: &'a mut [f64],
}

/// The compute target of a device of compute capability (major, minor).
fn arch(major: i32, minor: i32) -> Option<&'static str> {
    Some(match (major, minor) {
        (7, 0) => "compute_70",
        (7, 5) => "compute_75",
        (8, 0) => "compute_80",
        (8, 6) => "compute_86",
        (8, 9) => "compute_89",
        (9, 0) => "compute_90",
        // Anything else gets NVRTC's default target, which the driver compiles forward.
        _ => return None,
    })
}

/// Uploads (a, w, q) in the kernel's type, launches, and downloads the three sums.
#[allow(
    clippy::too_many_arguments,
    reason = "the kernel's arguments, in its order"
)]
fn launch<T: Real>(
    stream: &Arc<CudaStream>,
    function: &CudaFunction,
    b: &mut Buffers<T>,
    m: i32,
    a: &[f64],
    w: &[f64],
    q: &[f64],
    out: Outputs<'_>,
) -> std::result::Result<(), cudarc::driver::DriverError> {
    let upload = |host: &mut Vec<T>, src: &[f64], dst: &mut CudaSlice<T>| {
        host.clear();
        host.extend(src.iter().map(|&x| T::from_f64(x)));
        stream.memcpy_htod(host.as_slice(), dst)?;
        // The staging buffer is refilled for the next input: wait for this copy first.
        stream.synchronize()
    };
    upload(&mut b.host, a, &mut b.a)?;
    upload(&mut b.host, w, &mut b.w)?;
    upload(&mut b.host, q, &mut b.q)?;
    let blocks = (m as usize).div_ceil(TILE);
    let config = LaunchConfig {
        grid_dim: (blocks as u32, 1, 1),
        block_dim: (TILE as u32, 1, 1),
        shared_mem_bytes: 0,
    };
    let mut builder = stream.launch_builder(function);
    let same = 1i32;
    builder
        .arg(&m)
        .arg(&m)
        .arg(&same)
        .arg(&b.w)
        .arg(&b.q)
        .arg(&b.a)
        .arg(&b.w)
        .arg(&b.q)
        .arg(&mut b.value)
        .arg(&mut b.cross)
        .arg(&mut b.direction);
    // SAFETY: the arguments are those of `population_interaction` in population.cu, in its
    // order: m and n = m, same = 1 as int, then the rows w (m d), q (m), the columns a (m),
    // w (m d), q (m) (the particles with themselves) and the outputs value, cross, direction
    // of lengths m, m, m d (allocated for this m), all of the compiled REAL type; the grid
    // covers the m rows with TILE threads per block, as the kernel expects.
    unsafe { builder.launch(config) }?;
    let download = |host: &mut Vec<T>, src: &CudaSlice<T>, dst: &mut [f64]| {
        host.resize(src.len(), T::default());
        stream.memcpy_dtoh(src, host.as_mut_slice())?;
        stream.synchronize()?;
        for (out, x) in dst.iter_mut().zip(host.iter()) {
            *out = x.to_f64();
        }
        Ok::<(), cudarc::driver::DriverError>(())
    };
    download(&mut b.host, &b.value, out.value)?;
    download(&mut b.host, &b.cross, out.cross)?;
    download(&mut b.host, &b.direction, out.direction)?;
    Ok(())
}
