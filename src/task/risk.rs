//! The risk R(Theta) = 1/2 E[(y - f(x))^2] and its gradient dR/dtheta_j in the three modes:
//!
//! - [`PopulationRisk`] (`task::population`): Gaussian inputs, exact through the pair kernels
//!   (docs/math.md section 3).
//! - [`EmpiricalRisk`]: a fixed data set (docs/math.md section 4).
//! - [`OnlineRisk`]: a fresh Gaussian batch per step, shared by every stage of the step.
//!
//! With Gaussian inputs, no bias and labels from the teacher (online mode, and the empirical
//! mode with a generated data set), a data mode also carries the exact population risk of the
//! same network ([`RiskMode::population_risk`], the `population_risk` column): what its batch,
//! training-set and held-out risks estimate. It is evaluated only at logged steps.
//!
//! The modes differ only in dR/dtheta: drift, noise and integrators are shared
//! (`crate::dynamics`). Every reduction has a fixed order, so results do not depend on the
//! number of threads: products run per chunk with `Par::Seq` and chunks are spread over rayon.

use std::sync::Arc;

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::device::{Device, Precision, check_precision};
use crate::dynamics::Train;
use crate::dynamics::drift::DriftCoefficients;
use crate::dynamics::integrator::At;
use crate::error::{Error, Result};
use crate::math::{Activation, Network, lanes};
use crate::random::Purpose;
use crate::task::data::check_dims;
use crate::task::{DataSet, InputLaw, PopulationRisk, Target};

/// Particles per chunk in the data modes.
const PARTICLE_CHUNK: usize = 256;
/// Samples per block in the data modes: a chunk's block slab is 256 x 128 floats (256 KiB).
const SAMPLE_BLOCK: usize = 128;

/// A column-major view of W = columns 1..=d of the m x (1 + d) particle matrix.
pub(crate) fn w_view(theta: &DMatrix<f64>) -> MatRef<'_, f64> {
    let m = theta.nrows();
    let d = theta.ncols() - 1;
    MatRef::from_column_major_slice_with_stride(&theta.as_slice()[m..], m, d, m)
}

/// Per-chunk buffers of the data modes: one chunk of particles against one block of samples.
#[derive(Debug, Default)]
struct ParticleChunk {
    first: usize,
    len: usize,
    /// sigma(w_j . x_i), chunk x block, column-major.
    activation: Vec<f64>,
    /// sigma'(w_j . x_i), then r_i sigma'(w_j . x_i).
    slope: Vec<f64>,
    /// sum_{j in chunk} a_j sigma(w_j . x_i) for the block's samples.
    partial_output: Vec<f64>,
    /// sum_i r_i sigma(w_j . x_i), then the chunk's rows of the gradient.
    grad_a: Vec<f64>,
    /// sum_i r_i sigma'(w_j . x_i) x_i, chunk x d column-major.
    grad_w: Vec<f64>,
}

/// Scratch of the data-mode evaluation; sized once for (m, d), reused every step.
#[derive(Debug, Default)]
pub struct DataScratch {
    chunks: Vec<ParticleChunk>,
    residual: Vec<f64>,
}

impl DataScratch {
    fn prepare(&mut self, m: usize, d: usize) {
        let count = m.div_ceil(PARTICLE_CHUNK);
        if self.chunks.len() == count
            && self.chunks.iter().map(|c| c.len).sum::<usize>() == m
            && let Some(first) = self.chunks.first()
            && first.grad_w.len() == first.len * d
        {
            return;
        }
        self.chunks = (0..count)
            .map(|c| {
                let first = c * PARTICLE_CHUNK;
                let len = PARTICLE_CHUNK.min(m - first);
                ParticleChunk {
                    first,
                    len,
                    activation: vec![0.0; len * SAMPLE_BLOCK],
                    slope: vec![0.0; len * SAMPLE_BLOCK],
                    partial_output: vec![0.0; SAMPLE_BLOCK],
                    grad_a: vec![0.0; len],
                    grad_w: vec![0.0; len * d],
                }
            })
            .collect();
        self.residual = vec![0.0; SAMPLE_BLOCK];
    }
}

/// Risk 1/2 mean_i (y_i - f(x_i))^2 on a data set, and dR/dtheta into `grad` when given
/// (docs/math.md section 4). Samples are processed in blocks; per block two products per particle
/// chunk (W_c X_b^T, then (r sigma'(Z))_c X_b) with fused elementwise passes.
pub fn data_risk(
    network: &Network,
    theta: &DMatrix<f64>,
    data: &DataSet,
    scratch: &mut DataScratch,
    grad: Option<&mut DMatrix<f64>>,
) -> Result<f64> {
    let m = theta.nrows();
    let d = theta.ncols() - 1;
    if data.input_dim() != d {
        return Err(Error::invalid(
            "data input dimension",
            data.input_dim(),
            format!("the student's input dimension {d}"),
        ));
    }
    scratch.prepare(m, d);
    let n = data.n();
    let want_grad = grad.is_some();
    let a = &theta.as_slice()[..m];
    let w = w_view(theta);
    let activation = network.activation;
    // relu is positively homogeneous: sum_i r_i relu(w_j . x_i) = w_j . sum_i r_i 1[w_j . x_i > 0]
    // x_i, so dR/da_j comes from the w-gradient sums after the last block (no elementwise pass).
    let relu = activation == Activation::Relu;
    let scale = network.output_scale(m);
    let inputs = data.inputs().as_slice();
    let labels = data.labels();
    for chunk in &mut scratch.chunks {
        chunk.grad_a.iter_mut().for_each(|v| *v = 0.0);
        chunk.grad_w.iter_mut().for_each(|v| *v = 0.0);
    }
    let mut sum_sq = 0.0;
    for start in (0..n).step_by(SAMPLE_BLOCK) {
        let block = SAMPLE_BLOCK.min(n - start);
        let x_block_t =
            MatRef::from_column_major_slice(&inputs[start * d..(start + block) * d], d, block);
        scratch.chunks.par_iter_mut().for_each(|chunk| {
            let len = chunk.len;
            let z = &mut chunk.activation[..len * block];
            matmul(
                MatMut::from_column_major_slice_mut(z, len, block),
                Accum::Replace,
                w.subrows(chunk.first, len),
                x_block_t,
                1.0,
                Par::Seq,
            );
            let a_chunk = &a[chunk.first..chunk.first + len];
            for i in 0..block {
                let zs = &mut chunk.activation[i * len..(i + 1) * len];
                let slopes = &mut chunk.slope[i * len..(i + 1) * len];
                // relu keeps the pre-activations: the backward pass needs only their signs.
                chunk.partial_output[i] = if want_grad && !relu {
                    lanes::forward(activation, zs, slopes, a_chunk)
                } else {
                    lanes::forward_value(activation, zs, a_chunk)
                };
            }
        });
        let residual = &mut scratch.residual[..block];
        for (i, r) in residual.iter_mut().enumerate() {
            let output: f64 = scratch.chunks.iter().map(|c| c.partial_output[i]).sum();
            *r = labels[start + i] - scale * output;
            sum_sq += *r * *r;
        }
        if !want_grad {
            continue;
        }
        let residual = &scratch.residual[..block];
        scratch.chunks.par_iter_mut().for_each(|chunk| {
            let len = chunk.len;
            for (i, r) in residual.iter().enumerate() {
                let column = i * len..(i + 1) * len;
                if relu {
                    lanes::relu_residual_slope(
                        *r,
                        &chunk.activation[column.clone()],
                        &mut chunk.slope[column],
                    );
                } else {
                    lanes::accumulate_residual(
                        *r,
                        &chunk.activation[column.clone()],
                        &mut chunk.slope[column],
                        &mut chunk.grad_a,
                    );
                }
            }
            matmul(
                MatMut::from_column_major_slice_mut(&mut chunk.grad_w, len, d),
                Accum::Add,
                MatRef::from_column_major_slice(&chunk.slope[..len * block], len, block),
                x_block_t.transpose(),
                1.0,
                Par::Seq,
            );
        });
    }
    if let Some(grad) = grad {
        let factor = -scale / n as f64;
        let chunks = &scratch.chunks;
        grad.as_mut_slice()
            .par_chunks_mut(m)
            .enumerate()
            .for_each(|(col, out)| {
                for chunk in chunks {
                    let rows = &mut out[chunk.first..chunk.first + chunk.len];
                    if col == 0 && relu {
                        for (jj, g) in rows.iter_mut().enumerate() {
                            let j = chunk.first + jj;
                            let sum: f64 = (0..d)
                                .map(|c| w[(j, c)] * chunk.grad_w[c * chunk.len + jj])
                                .sum();
                            *g = factor * sum;
                        }
                    } else if col == 0 {
                        for (g, s) in rows.iter_mut().zip(&chunk.grad_a) {
                            *g = factor * s;
                        }
                    } else {
                        let sums = &chunk.grad_w[(col - 1) * chunk.len..col * chunk.len];
                        let a_chunk = &a[chunk.first..chunk.first + chunk.len];
                        for ((g, s), aj) in rows.iter_mut().zip(sums).zip(a_chunk) {
                            *g = factor * aj * s;
                        }
                    }
                }
            });
    }
    Ok(0.5 * sum_sq / n as f64)
}

/// Empirical risk on a fixed training set, with an optional held-out test set.
#[derive(Debug)]
pub struct EmpiricalRisk {
    train: DataSet,
    test: Option<DataSet>,
    population: Option<Box<PopulationRisk>>,
    scratch: DataScratch,
    gpu: DataGpu,
}

impl EmpiricalRisk {
    /// A fixed training set and an optional test set.
    pub fn new(train: DataSet, test: Option<DataSet>) -> Self {
        Self {
            train,
            test,
            population: None,
            scratch: DataScratch::default(),
            gpu: DataGpu::default(),
        }
    }

    /// Also reports the exact population risk of the network ([`RiskMode::population_risk`]):
    /// only for a training set drawn from x ~ N(0, I) without bias and labelled by the teacher
    /// of `population`.
    pub fn with_population(mut self, population: PopulationRisk) -> Self {
        self.population = Some(Box::new(population));
        self
    }

    /// The training set.
    pub fn train(&self) -> &DataSet {
        &self.train
    }
}

/// One-pass SGD: a fresh batch of B inputs per step (docs/math.md section 4).
#[derive(Debug)]
pub struct OnlineRisk {
    law: InputLaw,
    target: Arc<dyn Target>,
    seed: u64,
    batch: DataSet,
    batch_step: Option<u64>,
    test: Option<DataSet>,
    population: Option<Box<PopulationRisk>>,
    scratch: DataScratch,
    gpu: DataGpu,
}

impl OnlineRisk {
    /// Batches of `batch` samples from `law` and `target`; sample i of the batch at step k uses
    /// the stream (seed, Batch, k, i).
    pub fn new(
        batch: usize,
        law: InputLaw,
        target: Arc<dyn Target>,
        seed: u64,
        test: Option<DataSet>,
    ) -> Result<Self> {
        if batch == 0 {
            return Err(Error::invalid("risk.batch", 0, "at least 1"));
        }
        check_dims(law, target.as_ref())?;
        let data = DataSet::generate(batch, law, target.as_ref(), seed, Purpose::Batch, 0)?;
        Ok(Self {
            law,
            target,
            seed,
            batch: data,
            batch_step: Some(0),
            test,
            population: None,
            scratch: DataScratch::default(),
            gpu: DataGpu::default(),
        })
    }

    /// Also reports the exact population risk of the network ([`RiskMode::population_risk`]):
    /// only for an input law without bias and the teacher of `population` as the target.
    pub fn with_population(mut self, population: PopulationRisk) -> Self {
        self.population = Some(Box::new(population));
        self
    }
}

/// The GPU side of a data mode (`device = "cuda"`, `crate::gpu::data`): the device, and which
/// of the mode's data sets it holds.
#[derive(Debug, Default)]
struct DataGpu {
    #[cfg(feature = "cuda")]
    cuda: Option<Box<crate::gpu::data::CudaData>>,
    /// Whether the device holds the current training set (or online batch), and the test set.
    loaded: [bool; 2],
}

/// Which data set of a mode an evaluation uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Train,
    Test,
}

impl DataGpu {
    #[cfg(feature = "cuda")]
    fn open(&mut self, activation: Activation, precision: Precision) -> Result<()> {
        self.cuda = Some(Box::new(crate::gpu::data::CudaData::new(
            activation, precision,
        )?));
        self.loaded = [false; 2];
        Ok(())
    }

    #[cfg(not(feature = "cuda"))]
    fn open(&mut self, _activation: Activation, _precision: Precision) -> Result<()> {
        Err(crate::device::not_built())
    }

    fn close(&mut self) {
        #[cfg(feature = "cuda")]
        {
            self.cuda = None;
        }
        self.loaded = [false; 2];
    }

    /// The risk (and gradient) on the device, when the mode runs there: None otherwise.
    #[cfg(feature = "cuda")]
    fn risk(
        &mut self,
        which: Which,
        data: &DataSet,
        network: &Network,
        theta: &DMatrix<f64>,
        grad: Option<&mut DMatrix<f64>>,
    ) -> Result<Option<f64>> {
        use crate::gpu::data::Slot;
        let Some(cuda) = self.cuda.as_mut() else {
            return Ok(None);
        };
        let (slot, index) = match which {
            Which::Train => (Slot::Train, 0),
            Which::Test => (Slot::Test, 1),
        };
        if !self.loaded[index] {
            cuda.load(slot, data)?;
            self.loaded[index] = true;
        }
        cuda.risk(slot, network.output_scale(theta.nrows()), theta, grad)
            .map(Some)
    }

    #[cfg(not(feature = "cuda"))]
    fn risk(
        &mut self,
        _which: Which,
        _data: &DataSet,
        _network: &Network,
        _theta: &DMatrix<f64>,
        _grad: Option<&mut DMatrix<f64>>,
    ) -> Result<Option<f64>> {
        Ok(None)
    }

    fn on_gpu(&self) -> bool {
        #[cfg(feature = "cuda")]
        {
            self.cuda.is_some()
        }
        #[cfg(not(feature = "cuda"))]
        {
            false
        }
    }
}

/// The risk on `data` (training set, batch or test set) on the GPU when the mode runs there,
/// on the CPU otherwise.
fn mode_risk(
    gpu: &mut DataGpu,
    which: Which,
    data: &DataSet,
    scratch: &mut DataScratch,
    network: &Network,
    theta: &DMatrix<f64>,
    mut grad: Option<&mut DMatrix<f64>>,
) -> Result<f64> {
    if let Some(risk) = gpu.risk(which, data, network, theta, grad.as_deref_mut())? {
        return Ok(risk);
    }
    data_risk(network, theta, data, scratch, grad)
}

/// A buffer of the particles a device holds: the state, or a Runge-Kutta stage (stage 0 is
/// the drift at the state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeldBuffer {
    /// theta, m x (1 + d).
    State,
    /// Stage s of the current step, m x (1 + d).
    Stage(usize),
}

/// The particles a risk mode holds on its GPU between steps ([`RiskMode::hold`]): the state,
/// the probe of the later Runge-Kutta stages and the stages, with the operations of a step
/// (`dynamics::integrator::StageOps`). Only logged observables and snapshots come back.
pub struct Held<'a> {
    #[cfg(feature = "cuda")]
    on: HeldOn<'a>,
    #[cfg(not(feature = "cuda"))]
    never: std::convert::Infallible,
    #[cfg(not(feature = "cuda"))]
    _held: std::marker::PhantomData<&'a mut ()>,
}

/// Which backend holds the particles.
#[cfg(feature = "cuda")]
enum HeldOn<'a> {
    /// A data mode: its device, whether it holds the training set (or the step's batch), and
    /// that set.
    Data {
        cuda: &'a mut crate::gpu::data::CudaData,
        loaded: &'a mut bool,
        train: &'a DataSet,
    },
    /// Population mode's fused kernel, with the teacher.
    Population(&'a mut crate::gpu::CudaInteraction),
}

impl std::fmt::Debug for Held<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held").finish_non_exhaustive()
    }
}

#[cfg(feature = "cuda")]
impl Held<'_> {
    /// The drift at `at` into stage `stage` (docs/math.md section 2) of the mode's risk: the
    /// population risk (section 3), or the risk on the training set or the step's online batch
    /// (section 4); returns the risk there. `output_scale` = m^(-alpha).
    ///
    /// # Errors
    /// [`Error::Device`] on a failed copy, product or launch.
    pub fn drift(
        &mut self,
        output_scale: f64,
        coefficients: &DriftCoefficients,
        at: At,
        stage: usize,
    ) -> Result<f64> {
        use crate::gpu::data::Slot;
        match &mut self.on {
            HeldOn::Data {
                cuda,
                loaded,
                train,
            } => {
                if !**loaded {
                    cuda.load(Slot::Train, train)?;
                    **loaded = true;
                }
                cuda.held_drift(Slot::Train, output_scale, coefficients, at, stage)
            }
            HeldOn::Population(gpu) => gpu.held_drift(output_scale, coefficients, at, stage),
        }
    }

    /// probe = state.
    ///
    /// # Errors
    /// [`Error::Device`] on a failed copy.
    pub fn probe_from_state(&mut self) -> Result<()> {
        match &mut self.on {
            HeldOn::Data { cuda, .. } => cuda.held_probe_from_state(),
            HeldOn::Population(gpu) => gpu.held_probe_from_state(),
        }
    }

    /// target += alpha k_stage.
    ///
    /// # Errors
    /// [`Error::Device`] on a failed launch.
    pub fn axpy(&mut self, target: At, alpha: f64, stage: usize) -> Result<()> {
        match &mut self.on {
            HeldOn::Data { cuda, .. } => cuda.held_axpy(target, alpha, stage),
            HeldOn::Population(gpu) => gpu.held_axpy(target, alpha, stage),
        }
    }

    /// state += amplitude draws on the trained columns (draws row-major, m x (1 + d)).
    ///
    /// # Errors
    /// [`Error::Device`] on a failed copy or launch.
    pub fn noise(&mut self, amplitude: f64, train: Train, draws: &[f64]) -> Result<()> {
        match &mut self.on {
            HeldOn::Data { cuda, .. } => cuda.held_noise(amplitude, train, draws),
            HeldOn::Population(gpu) => gpu.held_noise(amplitude, train, draws),
        }
    }

    /// Copies `buffer` back into `out` (m x (1 + d)).
    ///
    /// # Errors
    /// [`Error::Device`] on a failed copy.
    pub fn download(&mut self, buffer: HeldBuffer, out: &mut DMatrix<f64>) -> Result<()> {
        match &mut self.on {
            HeldOn::Data { cuda, .. } => cuda.held_download(buffer, out),
            HeldOn::Population(gpu) => gpu.held_download(buffer, out),
        }
    }
}

#[cfg(not(feature = "cuda"))]
impl Held<'_> {
    /// The drift at `at` into stage `stage` (never called: without the `cuda` feature nothing
    /// is held).
    ///
    /// # Errors
    /// None: no value of this type exists without the `cuda` feature.
    pub fn drift(&mut self, _: f64, _: &DriftCoefficients, _: At, _: usize) -> Result<f64> {
        match self.never {}
    }

    /// probe = state (never called).
    ///
    /// # Errors
    /// None: no value of this type exists without the `cuda` feature.
    pub fn probe_from_state(&mut self) -> Result<()> {
        match self.never {}
    }

    /// target += alpha k_stage (never called).
    ///
    /// # Errors
    /// None: no value of this type exists without the `cuda` feature.
    pub fn axpy(&mut self, _: At, _: f64, _: usize) -> Result<()> {
        match self.never {}
    }

    /// The noise (never called).
    ///
    /// # Errors
    /// None: no value of this type exists without the `cuda` feature.
    pub fn noise(&mut self, _: f64, _: Train, _: &[f64]) -> Result<()> {
        match self.never {}
    }

    /// A download (never called).
    ///
    /// # Errors
    /// None: no value of this type exists without the `cuda` feature.
    pub fn download(&mut self, _: HeldBuffer, _: &mut DMatrix<f64>) -> Result<()> {
        match self.never {}
    }
}

/// The three risk modes behind one interface.
#[derive(Debug)]
pub enum RiskMode {
    /// Exact Gaussian-input risk.
    Population(Box<PopulationRisk>),
    /// Fresh batch per step.
    Online(Box<OnlineRisk>),
    /// Fixed data set.
    Empirical(Box<EmpiricalRisk>),
}

impl RiskMode {
    /// Prepares step `step`: the online mode draws its batch (once per step, shared by all
    /// stages of a Runge-Kutta step).
    pub fn begin_step(&mut self, step: u64) {
        if let RiskMode::Online(online) = self
            && online.batch_step != Some(step)
        {
            let law = online.law;
            online.batch.redraw(
                law,
                online.target.as_ref(),
                online.seed,
                Purpose::Batch,
                step,
            );
            online.batch_step = Some(step);
            // The device's copy of the batch is stale.
            online.gpu.loaded[0] = false;
        }
    }

    /// Runs the mode's risk and gradient on `device` (`crate::device`) in `precision`:
    /// population mode through the fused kernel of `crate::gpu` (see
    /// [`PopulationRisk::use_device`]), the data modes through cuBLAS and the kernels of
    /// `gpu::data` (every activation). `d` is the particles' input dimension.
    ///
    /// # Errors
    /// [`Error::Device`] when the binary lacks the `cuda` feature, or no GPU or CUDA library
    /// is found; [`Error::Invalid`] for float32 on the CPU, or (population mode) an activation
    /// without a closed-form kernel on the GPU.
    pub fn use_device(
        &mut self,
        device: Device,
        precision: Precision,
        activation: Activation,
        d: usize,
    ) -> Result<()> {
        check_precision(device, precision)?;
        let gpu = match self {
            RiskMode::Population(p) => return p.use_device(device, precision, d),
            RiskMode::Online(o) => &mut o.gpu,
            RiskMode::Empirical(e) => &mut e.gpu,
        };
        match device {
            Device::Cpu => {
                gpu.close();
                Ok(())
            }
            Device::Cuda => gpu.open(activation, precision),
        }
    }

    /// Whether the mode's risk and gradient run on a GPU.
    pub fn on_gpu(&self) -> bool {
        match self {
            RiskMode::Population(p) => p.on_gpu(),
            RiskMode::Online(o) => o.gpu.on_gpu(),
            RiskMode::Empirical(e) => e.gpu.on_gpu(),
        }
    }

    /// Moves `theta` onto the mode's device for a run, with `stages` Runge-Kutta stage
    /// buffers, where the mode can hold particles there (device = "cuda": the data modes, and
    /// population mode where its fused kernel runs, relu and erf);
    /// returns whether it does. From then on [`RiskMode::held`] gives the operations of a
    /// step, until [`RiskMode::release`].
    ///
    /// # Errors
    /// [`Error::Device`] on a failed allocation or copy.
    pub fn hold(&mut self, theta: &DMatrix<f64>, stages: usize) -> Result<bool> {
        #[cfg(feature = "cuda")]
        {
            let gpu = match self {
                RiskMode::Population(p) => return p.hold(theta, stages),
                RiskMode::Online(o) => &mut o.gpu,
                RiskMode::Empirical(e) => &mut e.gpu,
            };
            let Some(cuda) = gpu.cuda.as_mut() else {
                return Ok(false);
            };
            cuda.hold(theta, stages)?;
            Ok(true)
        }
        #[cfg(not(feature = "cuda"))]
        {
            let _ = (theta, stages);
            Ok(false)
        }
    }

    /// The particles held on the device, after [`RiskMode::hold`] returned true.
    pub fn held(&mut self) -> Option<Held<'_>> {
        #[cfg(feature = "cuda")]
        {
            let (gpu, train) = match self {
                RiskMode::Population(p) => {
                    return p.held_gpu().map(|gpu| Held {
                        on: HeldOn::Population(gpu),
                    });
                }
                RiskMode::Online(o) => (&mut o.gpu, &o.batch),
                RiskMode::Empirical(e) => (&mut e.gpu, &e.train),
            };
            let [loaded, _] = &mut gpu.loaded;
            let cuda = gpu.cuda.as_mut()?;
            cuda.holds().then_some(Held {
                on: HeldOn::Data {
                    cuda,
                    loaded,
                    train,
                },
            })
        }
        #[cfg(not(feature = "cuda"))]
        {
            None
        }
    }

    /// Frees the particles held on the device (after a run).
    pub fn release(&mut self) {
        #[cfg(feature = "cuda")]
        {
            let gpu = match self {
                RiskMode::Population(p) => return p.release(),
                RiskMode::Online(o) => &mut o.gpu,
                RiskMode::Empirical(e) => &mut e.gpu,
            };
            if let Some(cuda) = gpu.cuda.as_mut() {
                cuda.release();
            }
        }
    }

    /// The risk the dynamics descends (population: exact; online: on the current batch;
    /// empirical: on the training set), and its gradient into `grad` when given.
    pub fn evaluate(
        &mut self,
        network: &Network,
        theta: &DMatrix<f64>,
        grad: Option<&mut DMatrix<f64>>,
    ) -> Result<f64> {
        match self {
            RiskMode::Population(p) => p.evaluate(network, theta, grad),
            RiskMode::Online(o) => mode_risk(
                &mut o.gpu,
                Which::Train,
                &o.batch,
                &mut o.scratch,
                network,
                theta,
                grad,
            ),
            RiskMode::Empirical(e) => mode_risk(
                &mut e.gpu,
                Which::Train,
                &e.train,
                &mut e.scratch,
                network,
                theta,
                grad,
            ),
        }
    }

    /// Risk on the held-out test set, where the mode has one.
    pub fn test_risk(&mut self, network: &Network, theta: &DMatrix<f64>) -> Result<Option<f64>> {
        match self {
            RiskMode::Population(_) => Ok(None),
            RiskMode::Online(o) => match &o.test {
                Some(test) => mode_risk(
                    &mut o.gpu,
                    Which::Test,
                    test,
                    &mut o.scratch,
                    network,
                    theta,
                    None,
                )
                .map(Some),
                None => Ok(None),
            },
            RiskMode::Empirical(e) => match &e.test {
                Some(test) => mode_risk(
                    &mut e.gpu,
                    Which::Test,
                    test,
                    &mut e.scratch,
                    network,
                    theta,
                    None,
                )
                .map(Some),
                None => Ok(None),
            },
        }
    }

    /// The exact population risk R = 1/2 E[(y - f(x))^2] over x ~ N(0, I_d) and the label
    /// noise (docs/math.md section 3), in a data mode that was given it (`with_population`: Gaussian
    /// inputs without bias, a teacher target): the quantity its batch, training-set and
    /// held-out risks estimate. None in population mode, whose [`RiskMode::evaluate`] is that
    /// risk already, and in data modes without it. Costs O(m^2 d) (one pair interaction,
    /// without gradient): call it on logged steps only.
    pub fn population_risk(
        &mut self,
        network: &Network,
        theta: &DMatrix<f64>,
    ) -> Result<Option<f64>> {
        let population = match self {
            RiskMode::Population(_) => None,
            RiskMode::Online(o) => o.population.as_deref_mut(),
            RiskMode::Empirical(e) => e.population.as_deref_mut(),
        };
        population
            .map(|p| p.evaluate(network, theta, None))
            .transpose()
    }

    /// Whether the risk of [`RiskMode::evaluate`] is the exact population risk.
    pub fn is_population(&self) -> bool {
        matches!(self, RiskMode::Population(_))
    }
}
