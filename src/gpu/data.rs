//! The data modes (online and empirical, MATH.md section 4) on the GPU: the plan of
//! `gpu::plan` executed with cuBLAS for the two products of each sample block and the three
//! elementwise kernels of `data.cu` (compiled by NVRTC for the activation and precision).
//!
//! The data sets live on the device: an empirical training set and a test set are uploaded
//! once ([`CudaData::load`]), an online batch once per step. Each evaluation uploads the
//! particles (O(m d)) and downloads the residuals and the gradient (O(n + m d)), against
//! O(n m d) work on the device. Sums have a fixed order (cuBLAS's products are bitwise
//! reproducible on one GPU model and toolkit, the kernels use no atomics).

#![allow(
    unsafe_code,
    reason = "cuBLAS calls and kernel launches are unsafe fns in cudarc"
)]

use std::sync::Arc;

use cudarc::cublas::sys::cublasOperation_t;
use cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg};
use cudarc::nvrtc::{CompileOptions, compile_ptx_with_opts};
use nalgebra::DMatrix;

use super::plan::{Buffer, DataPlan, GemmOp, Op, sample_block};
use super::{Gpu, Real, device_error, require_nvrtc};
use crate::device::Precision;
use crate::error::{Error, Result};
use crate::math::Activation;
use crate::task::DataSet;

/// The kernel source (see its header for the compile-time parameters).
pub const DATA_SOURCE: &str = include_str!("data.cu");

/// Threads per block of `data_forward` (a power of two).
pub const REDUCE: usize = 256;

/// Threads per block of the per-particle kernels (`data_backward`, `data_gradient`).
pub const THREADS: usize = 256;

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

/// The per-width buffers.
struct Work<T> {
    m: usize,
    d: usize,
    block: usize,
    a: CudaSlice<T>,
    w: CudaSlice<T>,
    z: CudaSlice<T>,
    g: CudaSlice<T>,
    grad_a: CudaSlice<T>,
    grad: CudaSlice<T>,
}

struct Typed<T> {
    sets: [Option<DeviceSet<T>>; 2],
    work: Option<Work<T>>,
    /// Host staging in the kernels' type.
    host: Vec<T>,
}

impl<T> Default for Typed<T> {
    fn default() -> Self {
        Self {
            sets: [None, None],
            work: None,
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
}

/// The data-mode risk and gradient on GPU 0.
pub struct CudaData {
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    kernels: Kernels,
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
        };
        let stream = gpu.context.default_stream();
        let blas = CudaBlas::new(stream.clone())
            .map_err(|e| device_error(format!("{name}: cuBLAS: {e:?}")))?;
        Ok(Self {
            stream,
            blas,
            kernels,
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
        let stream = &self.stream;
        match &mut self.typed {
            AnyTyped::F64(t) => load(stream, t, slot, data),
            AnyTyped::F32(t) => load(stream, t, slot, data),
        }
        .map_err(|e| device_error(format!("{}: uploading a data set: {e:?}", self.device_name)))
    }

    /// The risk 1/2 mean_i (y_i - f(x_i))^2 on the data set in `slot`, and dR/dtheta into
    /// `grad` when given (MATH.md section 4); `scale` = m^(-alpha).
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
        let (stream, blas, kernels) = (&self.stream, &self.blas, &self.kernels);
        let limit = self.block_limit.unwrap_or(usize::MAX);
        let name = self.device_name.clone();
        let run = |e: Failure| match e {
            Failure::Invalid(e) => e,
            Failure::Driver(e) => device_error(format!("{name}: {e}")),
        };
        match &mut self.typed {
            AnyTyped::F64(t) => evaluate(stream, blas, kernels, t, slot, scale, limit, theta, grad),
            AnyTyped::F32(t) => evaluate(stream, blas, kernels, t, slot, scale, limit, theta, grad),
        }
        .map_err(run)
    }
}

/// What went wrong in an evaluation.
enum Failure {
    Invalid(Error),
    Driver(String),
}

impl From<cudarc::driver::DriverError> for Failure {
    fn from(e: cudarc::driver::DriverError) -> Self {
        Failure::Driver(format!("{e:?}"))
    }
}

impl From<cudarc::cublas::result::CublasError> for Failure {
    fn from(e: cudarc::cublas::result::CublasError) -> Self {
        Failure::Driver(format!("cuBLAS: {e:?}"))
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

fn to_i32(value: usize, what: &str) -> std::result::Result<i32, Failure> {
    i32::try_from(value).map_err(|_| {
        Failure::Invalid(Error::invalid(
            format!("{what} on device cuda"),
            value,
            "at most 2^31 - 1",
        ))
    })
}

fn launch_config(threads: usize, blocks: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (blocks as u32, 1, 1),
        block_dim: (threads as u32, 1, 1),
        shared_mem_bytes: 0,
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "the device, its kernels and the evaluation's inputs"
)]
fn evaluate<T: Real>(
    stream: &Arc<CudaStream>,
    blas: &CudaBlas,
    kernels: &Kernels,
    typed: &mut Typed<T>,
    slot: Slot,
    scale: f64,
    block_limit: usize,
    theta: &DMatrix<f64>,
    grad: Option<&mut DMatrix<f64>>,
) -> std::result::Result<f64, Failure>
where
    CudaBlas: Gemm<T>,
{
    let m = theta.nrows();
    let d = theta.ncols() - 1;
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
    if typed
        .work
        .as_ref()
        .is_none_or(|w| w.m != m || w.d != d || w.block < block)
    {
        typed.work = Some(Work {
            m,
            d,
            block,
            a: stream.alloc_zeros(m)?,
            w: stream.alloc_zeros(m * d)?,
            z: stream.alloc_zeros(m * block)?,
            g: stream.alloc_zeros(m * d)?,
            grad_a: stream.alloc_zeros(m)?,
            grad: stream.alloc_zeros(m * (1 + d))?,
        });
    }
    let (Some(work), Some(set)) = (typed.work.as_mut(), typed.sets[slot.index()].as_mut()) else {
        return Ok(0.0);
    };
    let host = &mut typed.host;
    let (a, w) = theta.as_slice().split_at(m);
    host.clear();
    host.extend(a.iter().map(|&v| T::from_f64(v)));
    stream.memcpy_htod(host.as_slice(), &mut work.a)?;
    stream.synchronize()?;
    host.clear();
    host.extend(w.iter().map(|&v| T::from_f64(v)));
    stream.memcpy_htod(host.as_slice(), &mut work.w)?;
    stream.synchronize()?;

    let plan = DataPlan::new(m, d, n, block, grad.is_some());
    let (m_i, d_i) = (to_i32(m, "m")?, to_i32(d, "d")?);
    to_i32(m * block.max(1 + d), "m x block")?;
    let scale_t = T::from_f64(scale);
    let factor_t = T::from_f64(-scale / n as f64);
    let particle_blocks = m.div_ceil(THREADS);
    for op in &plan.ops {
        match *op {
            Op::Gemm(gemm) => run_gemm(blas, &gemm, work, set)?,
            Op::Forward { first, count } => {
                let first_i = to_i32(first, "n")?;
                let mut builder = stream.launch_builder(&kernels.forward);
                builder
                    .arg(&m_i)
                    .arg(&first_i)
                    .arg(&scale_t)
                    .arg(&work.a)
                    .arg(&work.z)
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
                    .arg(&mut work.z)
                    .arg(&set.r)
                    .arg(&mut work.grad_a);
                // SAFETY: the arguments of `data_backward`: m, count, first, accumulate as int,
                // then z (m x count), r (n >= first + count), grad_a (m); the grid covers the m
                // particles, the kernel returns for j >= m.
                unsafe { builder.launch(launch_config(THREADS, particle_blocks)) }?;
            }
            Op::Gradient => {
                let mut builder = stream.launch_builder(&kernels.gradient);
                builder
                    .arg(&m_i)
                    .arg(&d_i)
                    .arg(&factor_t)
                    .arg(&work.a)
                    .arg(&work.grad_a)
                    .arg(&work.g)
                    .arg(&mut work.grad);
                // SAFETY: the arguments of `data_gradient`: m, d as int, factor as REAL, then a,
                // grad_a (m), g (m x d), grad (m x (1 + d)); the grid covers the m particles.
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
    if let Some(grad) = grad {
        let len = m * (1 + d);
        host.resize(len, T::default());
        stream.memcpy_dtoh(&work.grad, &mut host[..len])?;
        stream.synchronize()?;
        for (out, v) in grad.as_mut_slice().iter_mut().zip(&host[..len]) {
            *out = v.to_f64();
        }
    }
    Ok(0.5 * sum_sq / n as f64)
}

/// One product of the plan through cuBLAS (`gemm_host` in `gpu::plan` is its host twin).
fn run_gemm<T: Real>(
    blas: &CudaBlas,
    op: &GemmOp,
    work: &mut Work<T>,
    set: &DeviceSet<T>,
) -> std::result::Result<(), Failure>
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
        (Buffer::W, Buffer::X, Buffer::Z) => {
            unsafe { blas.gemm(config, &work.w, &x, &mut work.z) }?
        }
        (Buffer::Z, Buffer::X, Buffer::G) => {
            unsafe { blas.gemm(config, &work.z, &x, &mut work.g) }?
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
