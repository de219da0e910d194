//! The data modes (online and empirical, docs/math.md section 4) on the GPU: the plan of
//! `gpu::plan` executed with cuBLAS for the two products of each sample block and the three
//! elementwise kernels of `data.cu` (compiled by NVRTC for the activation and precision).
//!
//! The data sets live on the device: an empirical training set and a test set are uploaded
//! once ([`CudaData::load`]), an online batch once per step. An evaluation from the host
//! ([`CudaData::risk`]) uploads the particles (O(m d)) and downloads the residuals and the
//! gradient (O(n + m d)), against O(n m d) work on the device. In a run the particles are
//! held on the device ([`CudaData::hold`]): each Runge-Kutta stage reads them there, writes
//! its drift into a stage buffer (`particle_drift`), and the update (`particle_axpy`) and the
//! noise (`particle_noise`, the CPU's draws uploaded) happen there too (docs/math.md section 2);
//! only the residuals come back per stage. Sums have a fixed order (cuBLAS's products are
//! bitwise reproducible on one GPU model and toolkit, the kernels use no atomics).

#![allow(
    unsafe_code,
    reason = "cuBLAS calls and kernel launches are unsafe fns in cudarc"
)]

use std::sync::Arc;

use cudarc::cublas::sys::cublasOperation_t;
use cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, CudaView, PushKernelArg};
use cudarc::nvrtc::{CompileOptions, compile_ptx_with_opts};
use nalgebra::DMatrix;

use super::held::{
    self, Failure, HeldParticles, Outcome, ParticleKernels, download, held_mut, launch_config,
    sized, to_i32, upload,
};
use super::plan::{Buffer, DataPlan, GemmOp, Op, sample_block};
use super::{Gpu, Real, device_error, require_nvrtc};
use crate::device::Precision;
use crate::dynamics::HeldBuffer;
use crate::dynamics::Train;
use crate::dynamics::drift::DriftCoefficients;
use crate::dynamics::integrator::At;
use crate::error::{Error, Result};
use crate::math::Activation;
use crate::task::DataSet;

/// The kernel source (see its header for the compile-time parameters).
pub const DATA_SOURCE: &str = concat!(include_str!("data.cu"), include_str!("particles.cu"));

/// Threads per block of `data_forward` (a power of two).
pub const REDUCE: usize = 256;

/// Threads per block of the per-particle kernels (`data_backward`, `data_gradient`): those of
/// the particle kernels ([`held::THREADS`]).
pub const THREADS: usize = held::THREADS;

/// The NVRTC options of `data.cu` for `activation` and `precision` (every activation has
/// its elementwise form on the GPU); `arch` as for the population kernel.
pub fn data_compile_options(
    activation: Activation,
    precision: Precision,
    arch: Option<&'static str>,
) -> CompileOptions {
    let real = match precision {
        Precision::F64 => "double",
        Precision::F32 => "float",
    };
    CompileOptions {
        options: vec![
            format!("-DREAL={real}"),
            format!("-DACT_{}", activation.name().to_uppercase()),
            format!("-DREDUCE={REDUCE}"),
        ],
        arch,
        name: Some("data.cu".into()),
        ..Default::default()
    }
}

/// Compiles `data.cu` to PTX with NVRTC (no GPU needed, only libnvrtc).
///
/// # Errors
/// [`Error::Device`] when libnvrtc cannot be loaded or the source does not compile.
pub fn compile_data(
    activation: Activation,
    precision: Precision,
    arch: Option<&'static str>,
) -> Result<cudarc::nvrtc::Ptx> {
    require_nvrtc()?;
    compile_ptx_with_opts(
        DATA_SOURCE,
        data_compile_options(activation, precision, arch),
    )
    .map_err(|e| device_error(format!("NVRTC could not compile data.cu: {e:?}")))
}

/// Which data set of a risk mode a device copy holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// The training set, or the current online batch.
    Train,
    /// The held-out test set.
    Test,
}

impl Slot {
    fn index(self) -> usize {
        match self {
            Slot::Train => 0,
            Slot::Test => 1,
        }
    }
}

/// A data set on the device.
struct DeviceSet<T> {
    n: usize,
    d: usize,
    x: CudaSlice<T>,
    y: CudaSlice<T>,
    r: CudaSlice<T>,
}

/// The scratch buffers of an evaluation for one (m, d, block).
struct Scratch<T> {
    m: usize,
    d: usize,
    block: usize,
    z: CudaSlice<T>,
    g: CudaSlice<T>,
    grad_a: CudaSlice<T>,
}

struct Typed<T> {
    sets: [Option<DeviceSet<T>>; 2],
    scratch: Option<Scratch<T>>,
    /// theta of a host-side evaluation ([`CudaData::risk`]), m x (1 + d).
    input: Option<CudaSlice<T>>,
    /// The gradient of a host-side evaluation, m x (1 + d).
    grad: Option<CudaSlice<T>>,
    held: Option<HeldParticles<T>>,
    /// Host staging in the kernels' type.
    host: Vec<T>,
}

impl<T> Default for Typed<T> {
    fn default() -> Self {
        Self {
            sets: [None, None],
            scratch: None,
            input: None,
            grad: None,
            held: None,
            host: Vec::new(),
        }
    }
}

enum AnyTyped {
    F64(Typed<f64>),
    F32(Typed<f32>),
}

struct Kernels {
    forward: CudaFunction,
    backward: CudaFunction,
    gradient: CudaFunction,
    particles: ParticleKernels,
}

/// The stream, cuBLAS and the kernels: what every evaluation uses.
struct Engine {
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    kernels: Kernels,
}

/// The data-mode risk and gradient on GPU 0, and the particles of a run held there.
pub struct CudaData {
    engine: Engine,
    activation: Activation,
    precision: Precision,
    device_name: String,
    typed: AnyTyped,
    /// At most this many samples per block (None: as many as fit `plan::Z_BYTES`).
    block_limit: Option<usize>,
}

impl std::fmt::Debug for CudaData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaData")
            .field("device", &self.device_name)
            .field("activation", &self.activation)
            .field("precision", &self.precision)
            .finish_non_exhaustive()
    }
}

/// Whether cuBLAS can be loaded.
pub fn cublas_present() -> bool {
    // SAFETY: the probe only tries to open the candidate library names and closes them.
    unsafe { cudarc::cublas::sys::is_culib_present() }
}

/// Dispatches `$body` on the typed buffers of `$self` (binding `$t`), mapping failures to
/// [`Error`]s named after the device.
macro_rules! typed {
    ($self:ident, $t:ident => $body:expr) => {{
        let name = &$self.device_name;
        let result = match &mut $self.typed {
            AnyTyped::F64($t) => $body,
            AnyTyped::F32($t) => $body,
        };
        result.map_err(|e| e.into_error(name))
    }};
}

impl CudaData {
    /// Opens GPU 0, cuBLAS, and compiles `data.cu` for `activation` and `precision`.
    ///
    /// # Errors
    /// [`Error::Device`] when the driver, cuBLAS or libnvrtc is missing, no GPU is found, or
    /// the kernels do not compile or load.
    pub fn new(activation: Activation, precision: Precision) -> Result<Self> {
        let gpu = Gpu::open()?;
        if !cublas_present() {
            return Err(device_error(
                "cuBLAS (libcublas) was not found: the data modes on device = \"cuda\" need it; \
                 install the CUDA toolkit or the `nvidia-cublas-cu12` wheel and put its lib \
                 folder on LD_LIBRARY_PATH",
            ));
        }
        let name = gpu.name.clone();
        let ptx = compile_data(activation, precision, gpu.arch)?;
        let module = gpu
            .context
            .load_module(ptx)
            .map_err(|e| device_error(format!("{name}: loading data.cu: {e:?}")))?;
        let function = |entry: &str| {
            module
                .load_function(entry)
                .map_err(|e| device_error(format!("{name}: kernel {entry}: {e:?}")))
        };
        let kernels = Kernels {
            forward: function("data_forward")?,
            backward: function("data_backward")?,
            gradient: function("data_gradient")?,
            particles: ParticleKernels::load(&module, &name)?,
        };
        let stream = gpu.context.default_stream();
        let blas = CudaBlas::new(stream.clone())
            .map_err(|e| device_error(format!("{name}: cuBLAS: {e:?}")))?;
        Ok(Self {
            engine: Engine {
                stream,
                blas,
                kernels,
            },
            activation,
            precision,
            device_name: name,
            typed: match precision {
                Precision::F64 => AnyTyped::F64(Typed::default()),
                Precision::F32 => AnyTyped::F32(Typed::default()),
            },
            block_limit: None,
        })
    }

    /// Caps the samples per block at `samples` (at least 1), so that a test can run the
    /// several-block plan of a large data set on a small one.
    pub fn limit_block(&mut self, samples: usize) {
        self.block_limit = Some(samples.max(1));
    }

    /// The GPU's name, as the driver reports it.
    pub fn device_name(&self) -> &str {
        &self.device_name
    }

    /// Copies `data` to the device as `slot` (replacing what the slot held).
    ///
    /// # Errors
    /// [`Error::Device`] on a failed allocation or copy.
    pub fn load(&mut self, slot: Slot, data: &DataSet) -> Result<()> {
        let stream = &self.engine.stream;
        typed!(self, t => load(stream, t, slot, data).map_err(Failure::from))
    }

    /// The risk 1/2 mean_i (y_i - f(x_i))^2 on the data set in `slot`, and dR/dtheta into
    /// `grad` when given (docs/math.md section 4); `scale` = m^(-alpha). The particles are
    /// uploaded, the gradient downloaded.
    ///
    /// # Errors
    /// [`Error::Invalid`] when no data set is loaded in `slot` or its dimension is not the
    /// particles'; [`Error::Device`] on a failed copy, product or launch.
    pub fn risk(
        &mut self,
        slot: Slot,
        scale: f64,
        theta: &DMatrix<f64>,
        grad: Option<&mut DMatrix<f64>>,
    ) -> Result<f64> {
        let engine = &self.engine;
        let limit = self.block_limit.unwrap_or(usize::MAX);
        typed!(self, t => host_risk(engine, t, slot, scale, limit, theta, grad))
    }

    /// Uploads `theta` (m x (1 + d)) to be held on the device for a run, with `stages`
    /// Runge-Kutta stage buffers (and a probe when there is more than one).
    ///
    /// # Errors
    /// [`Error::Device`] on a failed allocation or copy.
    pub fn hold(&mut self, theta: &DMatrix<f64>, stages: usize) -> Result<()> {
        let stream = &self.engine.stream;
        typed!(self, t => {
            held::hold(stream, &mut t.host, theta, stages).map(|held| t.held = Some(held))
        })
    }

    /// Whether particles are held ([`CudaData::hold`], until [`CudaData::release`]).
    pub fn holds(&self) -> bool {
        match &self.typed {
            AnyTyped::F64(t) => t.held.is_some(),
            AnyTyped::F32(t) => t.held.is_some(),
        }
    }

    /// Frees the held particles.
    pub fn release(&mut self) {
        match &mut self.typed {
            AnyTyped::F64(t) => t.held = None,
            AnyTyped::F32(t) => t.held = None,
        }
    }

    /// The drift (docs/math.md section 2) of the held particles at `at` into stage `stage`, from
    /// the gradient of the risk on the data set in `slot`; returns the risk. Nothing but the
    /// n residuals comes back.
    ///
    /// # Errors
    /// [`Error::Invalid`] when nothing is held, `stage` is out of range or the data set does
    /// not fit; [`Error::Device`] on a failed copy, product or launch.
    pub fn held_drift(
        &mut self,
        slot: Slot,
        scale: f64,
        coefficients: &DriftCoefficients,
        at: At,
        stage: usize,
    ) -> Result<f64> {
        let engine = &self.engine;
        let limit = self.block_limit.unwrap_or(usize::MAX);
        typed!(self, t => held_drift(engine, t, slot, scale, limit, coefficients, at, stage))
    }

    /// probe = state, on the device.
    ///
    /// # Errors
    /// [`Error::Invalid`] when nothing is held; [`Error::Device`] on a failed copy.
    pub fn held_probe_from_state(&mut self) -> Result<()> {
        let stream = &self.engine.stream;
        typed!(self, t => held_mut(&mut t.held).and_then(|h| h.probe_from_state(stream)))
    }

    /// target += alpha k_stage, on the device.
    ///
    /// # Errors
    /// [`Error::Invalid`] when nothing is held or `stage` is out of range; [`Error::Device`]
    /// on a failed launch.
    pub fn held_axpy(&mut self, target: At, alpha: f64, stage: usize) -> Result<()> {
        let (stream, kernels) = (&self.engine.stream, &self.engine.kernels.particles);
        typed!(self, t => {
            held_mut(&mut t.held).and_then(|h| h.axpy(stream, kernels, target, alpha, stage))
        })
    }

    /// state += amplitude draws on the trained columns; `draws` is row-major m x (1 + d), as
    /// `dynamics::noise::draw_noise` makes it (uploaded: O(m d) per noisy step).
    ///
    /// # Errors
    /// [`Error::Invalid`] when nothing is held or the draws do not fit; [`Error::Device`] on a
    /// failed copy or launch.
    pub fn held_noise(&mut self, amplitude: f64, train: Train, draws: &[f64]) -> Result<()> {
        let (stream, kernels) = (&self.engine.stream, &self.engine.kernels.particles);
        typed!(self, t => match t.held.as_mut() {
            Some(h) => h.noise(stream, kernels, &mut t.host, amplitude, train, draws),
            None => held_mut(&mut t.held).map(|_| ()),
        })
    }

    /// Copies a held buffer back into `out` (m x (1 + d)).
    ///
    /// # Errors
    /// [`Error::Invalid`] when nothing is held, the buffer does not exist or `out` has another
    /// shape; [`Error::Device`] on a failed copy.
    pub fn held_download(&mut self, buffer: HeldBuffer, out: &mut DMatrix<f64>) -> Result<()> {
        let stream = &self.engine.stream;
        typed!(self, t => match t.held.as_ref() {
            Some(h) => h.download(stream, &mut t.host, buffer, out),
            None => held_mut(&mut t.held).map(|_| ()),
        })
    }
}

fn load<T: Real>(
    stream: &Arc<CudaStream>,
    typed: &mut Typed<T>,
    slot: Slot,
    data: &DataSet,
) -> std::result::Result<(), cudarc::driver::DriverError> {
    let convert = |src: &[f64]| src.iter().map(|&v| T::from_f64(v)).collect::<Vec<T>>();
    let set = DeviceSet {
        n: data.n(),
        d: data.input_dim(),
        x: stream.clone_htod(&convert(data.inputs().as_slice()))?,
        y: stream.clone_htod(&convert(data.labels()))?,
        r: stream.alloc_zeros::<T>(data.n())?,
    };
    stream.synchronize()?;
    typed.sets[slot.index()] = Some(set);
    Ok(())
}

/// The data set in `slot`, checked against d, and the scratch buffers for m particles: the
/// plan's block size.
fn prepare<T: Real>(
    stream: &Arc<CudaStream>,
    typed: &mut Typed<T>,
    slot: Slot,
    (m, d): (usize, usize),
    block_limit: usize,
) -> Outcome<usize> {
    let Some(set) = &typed.sets[slot.index()] else {
        return Err(Failure::Invalid(Error::invalid(
            "GPU data set",
            format!("{slot:?}"),
            "a data set loaded before the evaluation",
        )));
    };
    if set.d != d {
        return Err(Failure::Invalid(Error::invalid(
            "data input dimension",
            set.d,
            format!("the student's input dimension {d}"),
        )));
    }
    let n = set.n;
    let block = sample_block(m, n, std::mem::size_of::<T>()).min(block_limit);
    to_i32(m * block.max(1 + d), "m x block")?;
    if typed
        .scratch
        .as_ref()
        .is_none_or(|w| w.m != m || w.d != d || w.block < block)
    {
        typed.scratch = Some(Scratch {
            m,
            d,
            block,
            z: stream.alloc_zeros(m * block)?,
            g: stream.alloc_zeros(m * d)?,
            grad_a: stream.alloc_zeros(m)?,
        });
    }
    Ok(block)
}

/// Runs the plan of (m, d, n, block) on the particles `theta` (m x (1 + d) on the device:
/// a = its first m values, W the rest), the gradient into `grad` when given; returns the
/// risk from the residuals (summed in order on the host).
#[allow(
    clippy::too_many_arguments,
    reason = "the device, the buffers and the evaluation's inputs"
)]
fn evaluate<T: Real>(
    engine: &Engine,
    scratch: &mut Scratch<T>,
    set: &mut DeviceSet<T>,
    host: &mut Vec<T>,
    theta: &CudaSlice<T>,
    mut grad: Option<&mut CudaSlice<T>>,
    scale: f64,
    block: usize,
) -> Outcome<f64>
where
    CudaBlas: Gemm<T>,
{
    let (stream, kernels) = (&engine.stream, &engine.kernels);
    let (m, d, n) = (scratch.m, scratch.d, set.n);
    let a = theta.slice(0..m);
    let w = theta.slice(m..m * (1 + d));
    let plan = DataPlan::new(m, d, n, block, grad.is_some());
    let (m_i, d_i) = (to_i32(m, "m")?, to_i32(d, "d")?);
    let scale_t = T::from_f64(scale);
    let factor_t = T::from_f64(-scale / n as f64);
    let particle_blocks = m.div_ceil(THREADS);
    for op in &plan.ops {
        match *op {
            Op::Gemm(gemm) => run_gemm(&engine.blas, &gemm, &w, scratch, set)?,
            Op::Forward { first, count } => {
                let first_i = to_i32(first, "n")?;
                let mut builder = stream.launch_builder(&kernels.forward);
                builder
                    .arg(&m_i)
                    .arg(&first_i)
                    .arg(&scale_t)
                    .arg(&a)
                    .arg(&scratch.z)
                    .arg(&set.y)
                    .arg(&mut set.r);
                // SAFETY: the arguments of `data_forward` in data.cu, in its order: m, first as
                // int, scale as REAL, then a (m), z (m x count, count <= block columns
                // allocated), y and r (n >= first + count); one block of REDUCE threads per
                // sample of the block.
                unsafe { builder.launch(launch_config(REDUCE, count)) }?;
            }
            Op::Backward {
                first,
                count,
                accumulate,
            } => {
                let (first_i, count_i) = (to_i32(first, "n")?, to_i32(count, "block")?);
                let accumulate_i = i32::from(accumulate);
                let mut builder = stream.launch_builder(&kernels.backward);
                builder
                    .arg(&m_i)
                    .arg(&count_i)
                    .arg(&first_i)
                    .arg(&accumulate_i)
                    .arg(&mut scratch.z)
                    .arg(&set.r)
                    .arg(&mut scratch.grad_a);
                // SAFETY: the arguments of `data_backward`: m, count, first, accumulate as int,
                // then z (m x count), r (n >= first + count), grad_a (m); the grid covers the m
                // particles, the kernel returns for j >= m.
                unsafe { builder.launch(launch_config(THREADS, particle_blocks)) }?;
            }
            Op::Gradient => {
                let Some(out) = grad.as_deref_mut() else {
                    continue;
                };
                let mut builder = stream.launch_builder(&kernels.gradient);
                builder
                    .arg(&m_i)
                    .arg(&d_i)
                    .arg(&factor_t)
                    .arg(&a)
                    .arg(&scratch.grad_a)
                    .arg(&scratch.g)
                    .arg(out);
                // SAFETY: the arguments of `data_gradient`: m, d as int, factor as REAL, then a,
                // grad_a (m), g (m x d), grad (m x (1 + d), checked by the callers); the grid
                // covers the m particles.
                unsafe { builder.launch(launch_config(THREADS, particle_blocks)) }?;
            }
        }
    }
    host.resize(n, T::default());
    stream.memcpy_dtoh(&set.r, &mut host[..n])?;
    stream.synchronize()?;
    let sum_sq: f64 = host[..n]
        .iter()
        .map(|r| {
            let r = r.to_f64();
            r * r
        })
        .sum();
    Ok(0.5 * sum_sq / n as f64)
}

#[allow(
    clippy::too_many_arguments,
    reason = "the device and the evaluation's inputs"
)]
fn host_risk<T: Real>(
    engine: &Engine,
    typed: &mut Typed<T>,
    slot: Slot,
    scale: f64,
    block_limit: usize,
    theta: &DMatrix<f64>,
    grad: Option<&mut DMatrix<f64>>,
) -> Outcome<f64>
where
    CudaBlas: Gemm<T>,
{
    let stream = &engine.stream;
    let (m, d) = (theta.nrows(), theta.ncols() - 1);
    let block = prepare(stream, typed, slot, (m, d), block_limit)?;
    let len = m * (1 + d);
    let Typed {
        sets,
        scratch,
        input,
        grad: grad_buffer,
        host,
        ..
    } = typed;
    let input = sized(stream, input, len)?;
    upload(stream, host, theta.as_slice(), input)?;
    let device_grad = match grad {
        Some(_) => Some(sized(stream, grad_buffer, len)?),
        None => None,
    };
    let (Some(scratch), Some(set)) = (scratch.as_mut(), sets[slot.index()].as_mut()) else {
        return Err(Failure::Driver(
            "the evaluation's buffers are missing".into(),
        ));
    };
    let want = device_grad.is_some();
    let risk = evaluate(engine, scratch, set, host, input, device_grad, scale, block)?;
    if let (true, Some(out), Some(g)) = (want, grad, grad_buffer.as_ref()) {
        download(stream, host, g, out.as_mut_slice())?;
    }
    Ok(risk)
}

#[allow(
    clippy::too_many_arguments,
    reason = "the device and the drift's inputs"
)]
fn held_drift<T: Real>(
    engine: &Engine,
    typed: &mut Typed<T>,
    slot: Slot,
    scale: f64,
    block_limit: usize,
    coefficients: &DriftCoefficients,
    at: At,
    stage: usize,
) -> Outcome<f64>
where
    CudaBlas: Gemm<T>,
{
    let (m, d) = {
        let held = held_mut(&mut typed.held)?;
        (held.m, held.d)
    };
    let block = prepare(&engine.stream, typed, slot, (m, d), block_limit)?;
    let Typed {
        sets,
        scratch,
        held,
        host,
        ..
    } = typed;
    let held = held_mut(held)?;
    let (Some(scratch), Some(set)) = (scratch.as_mut(), sets[slot.index()].as_mut()) else {
        return Err(Failure::Driver(
            "the evaluation's buffers are missing".into(),
        ));
    };
    let (theta, out) = held.point_and_stage(at, stage)?;
    let risk = evaluate(engine, scratch, set, host, theta, Some(out), scale, block)?;
    held.drift(
        &engine.stream,
        &engine.kernels.particles,
        coefficients,
        at,
        stage,
    )?;
    Ok(risk)
}

/// One product of the plan through cuBLAS (`gemm_host` in `gpu::plan` is its host twin); `w`
/// is the m x d view of the particles.
fn run_gemm<T: Real>(
    blas: &CudaBlas,
    op: &GemmOp,
    w: &CudaView<'_, T>,
    scratch: &mut Scratch<T>,
    set: &DeviceSet<T>,
) -> Outcome<()>
where
    CudaBlas: Gemm<T>,
{
    let config = GemmConfig {
        transa: cublasOperation_t::CUBLAS_OP_N,
        transb: if op.transpose_b {
            cublasOperation_t::CUBLAS_OP_T
        } else {
            cublasOperation_t::CUBLAS_OP_N
        },
        m: to_i32(op.m, "m")?,
        n: to_i32(op.n, "gemm n")?,
        k: to_i32(op.k, "gemm k")?,
        alpha: T::from_f64(1.0),
        lda: to_i32(op.lda, "lda")?,
        ldb: to_i32(op.ldb, "ldb")?,
        beta: T::from_f64(if op.accumulate { 1.0 } else { 0.0 }),
        ldc: to_i32(op.ldc, "ldc")?,
    };
    let x_len = op.k * op.n;
    let Some(x) = set.x.try_slice(op.b.1..op.b.1 + x_len) else {
        return Err(Failure::Invalid(Error::invalid(
            "GPU data block",
            format!("{:?}", op.b),
            "a block inside the data set",
        )));
    };
    // SAFETY: the two products of a plan (`DataPlan::new`), whose shapes fit the buffers
    // allocated for it: W (m x d, lda m) times X_b (d x count, ldb d) into Z (m x count of the
    // m x block allocated, ldc m); Z (m x count) times X_b^T into G (m x d, ldc m). X_b is a
    // view of exactly count columns of X.
    match (op.a.0, op.b.0, op.c) {
        (Buffer::W, Buffer::X, Buffer::Z) => unsafe { blas.gemm(config, w, &x, &mut scratch.z) }?,
        (Buffer::Z, Buffer::X, Buffer::G) => {
            unsafe { blas.gemm(config, &scratch.z, &x, &mut scratch.g) }?
        }
        other => {
            return Err(Failure::Invalid(Error::invalid(
                "GPU product",
                format!("{other:?}"),
                "W X_b into Z, or Z X_b^T into G",
            )));
        }
    }
    Ok(())
}
