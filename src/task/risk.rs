//! The risk R(Theta) = 1/2 E[(y - f(x))^2] and its gradient dR/dtheta_j in the three modes:
//!
//! - [`PopulationRisk`]: Gaussian inputs, exact through the pair kernels (MATH.md section 3).
//!   The Gram matrix W W^T and the gradient sum are computed over row tiles: tile t of h rows
//!   holds one m x h block, so memory is O(m h), never m x m.
//! - [`EmpiricalRisk`]: a fixed data set (MATH.md section 4).
//! - [`OnlineRisk`]: a fresh Gaussian batch per step, shared by every stage of the step.
//!
//! The modes differ only in dR/dtheta: drift, noise and integrators are shared
//! (`crate::dynamics`). Every reduction has a fixed order, so results do not depend on the
//! number of threads: products run per tile with `Par::Seq` and tiles are spread over rayon.

use std::sync::{Arc, Mutex};

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::math::reduce::ordered_sum;
use crate::math::{Activation, Network, PairKernel, lanes};
use crate::random::Purpose;
use crate::task::data::check_dims;
use crate::task::{DataSet, InputLaw, Target, Teacher};

/// Rows per population tile: the m x h Gram block is about 2 MiB (an L2 cache), at least 8 and
/// at most 128 rows. A function of m only, so results never depend on the thread count.
fn tile_height(m: usize) -> usize {
    ((1usize << 18) / m.max(1)).clamp(8, 128)
}

/// Particles per chunk in the data modes.
const PARTICLE_CHUNK: usize = 256;
/// Samples per block in the data modes: a chunk's block slab is 256 x 128 floats (256 KiB).
const SAMPLE_BLOCK: usize = 128;

/// A column-major view of W = columns 1..=d of the m x (1 + d) particle matrix.
fn w_view(theta: &DMatrix<f64>) -> MatRef<'_, f64> {
    let m = theta.nrows();
    let d = theta.ncols() - 1;
    MatRef::from_column_major_slice_with_stride(&theta.as_slice()[m..], m, d, m)
}

/// A pool of scratch buffers reused across steps: a tile takes one and gives it back, so after
/// the first step nothing is allocated, and at most one buffer per thread ever exists.
#[derive(Debug, Default)]
struct BufferPool {
    free: Mutex<Vec<Vec<f64>>>,
}

impl BufferPool {
    fn take(&self, len: usize) -> Vec<f64> {
        let reused = self.free.lock().map(|mut f| f.pop()).unwrap_or(None);
        let mut buffer = reused.unwrap_or_default();
        buffer.resize(len, 0.0);
        buffer
    }

    fn give(&self, buffer: Vec<f64>) {
        if let Ok(mut free) = self.free.lock() {
            free.push(buffer);
        }
    }
}

/// Exact population risk for x ~ N(0, I_d) and a teacher target (MATH.md section 3).
#[derive(Debug)]
pub struct PopulationRisk {
    kernel: PairKernel,
    teacher: Teacher,
    /// E f*^2 + s^2.
    target_energy: f64,
    pool: BufferPool,
    sq_norms: Vec<f64>,
    /// sum_l a_l K(w_j, w_l).
    pair_sum: Vec<f64>,
    /// sum_l a_l coef_u(w_j, w_l).
    coef_u_sum: Vec<f64>,
    /// sum_l a_l coef_v(w_j, w_l) w_l, row-major m x d.
    direction_sum: Vec<f64>,
    /// V(w_j).
    teacher_value: Vec<f64>,
    /// grad V(w_j), row-major m x d.
    teacher_grad: Vec<f64>,
}

impl PopulationRisk {
    /// The population risk of a network with `activation` against `teacher` (same
    /// activation). Population mode is defined without bias: the caller rejects `bias`.
    pub fn new(activation: Activation, teacher: Teacher) -> Result<Self> {
        if teacher.activation() != activation {
            return Err(Error::invalid(
                "teacher activation",
                teacher.activation(),
                format!("the student's activation ({activation})"),
            ));
        }
        let kernel = PairKernel::new(activation);
        let noise = teacher.noise_std();
        let target_energy = teacher.second_moment(&kernel) + noise * noise;
        Ok(Self {
            kernel,
            teacher,
            target_energy,
            pool: BufferPool::default(),
            sq_norms: Vec::new(),
            pair_sum: Vec::new(),
            coef_u_sum: Vec::new(),
            direction_sum: Vec::new(),
            teacher_value: Vec::new(),
            teacher_grad: Vec::new(),
        })
    }

    /// The risk at the optimum of an infinitely wide network: s^2 / 2 (for reference).
    pub fn noise_floor(&self) -> f64 {
        0.5 * self.teacher.noise_std().powi(2)
    }

    /// R_inf-style constant E f*^2 / 2 + s^2 / 2: the risk of the zero network.
    pub fn zero_network_risk(&self) -> f64 {
        0.5 * self.target_energy
    }

    fn resize(&mut self, m: usize, d: usize) {
        self.sq_norms.resize(m, 0.0);
        self.pair_sum.resize(m, 0.0);
        self.coef_u_sum.resize(m, 0.0);
        self.direction_sum.resize(m * d, 0.0);
        self.teacher_value.resize(m, 0.0);
        self.teacher_grad.resize(m * d, 0.0);
    }

    /// Risk, and dR/dtheta into `grad` (m x (1 + d)) when given.
    pub fn evaluate(
        &mut self,
        network: &Network,
        theta: &DMatrix<f64>,
        grad: Option<&mut DMatrix<f64>>,
    ) -> Result<f64> {
        let m = theta.nrows();
        let d = theta.ncols() - 1;
        let teacher_d = self.teacher.matrix().ncols() - 1;
        if teacher_d != d {
            return Err(Error::invalid(
                "teacher d",
                teacher_d,
                format!("the student's d = {d}"),
            ));
        }
        self.resize(m, d);
        let want_grad = grad.is_some();
        let a = &theta.as_slice()[..m];
        let w = w_view(theta);
        let kernel = &self.kernel;

        // |w_j|^2, summed over coordinates in order.
        self.sq_norms.par_iter_mut().enumerate().for_each(|(j, q)| {
            *q = (0..d).map(|c| w[(j, c)] * w[(j, c)]).sum();
        });
        let q = &self.sq_norms;

        // Particle-particle interaction, tile by tile.
        let h = tile_height(m);
        let pool = &self.pool;
        self.pair_sum
            .par_chunks_mut(h)
            .zip(self.coef_u_sum.par_chunks_mut(h))
            .zip(self.direction_sum.par_chunks_mut(h * d))
            .enumerate()
            .for_each(|(t, ((pair, coef_u), direction))| {
                let j0 = t * h;
                let rows = pair.len();
                let mut block = pool.take(m * rows);
                // block = W W_t^T: column jj holds w_l . w_{j0+jj} for every l.
                matmul(
                    MatMut::from_column_major_slice_mut(&mut block, m, rows),
                    Accum::Replace,
                    w,
                    w.subrows(j0, rows).transpose(),
                    1.0,
                    Par::Seq,
                );
                for jj in 0..rows {
                    let j = j0 + jj;
                    let qj = q[j];
                    let column = &mut block[jj * m..(jj + 1) * m];
                    column[j] = qj; // self pair: w_j . w_j := |w_j|^2 exactly, so phi = 0.
                    // The coefficients a_l coef_v overwrite the Gram column (used below).
                    let (sum_k, sum_u) = kernel.accumulate_row(qj, q, a, column);
                    pair[jj] = sum_k;
                    coef_u[jj] = sum_u;
                }
                if want_grad {
                    // direction rows = C_t W with C_t = block^T (rows x m).
                    matmul(
                        MatMut::from_column_major_slice_mut(direction, d, rows).transpose_mut(),
                        Accum::Replace,
                        MatRef::from_column_major_slice(&block, m, rows).transpose(),
                        w,
                        1.0,
                        Par::Seq,
                    );
                }
                pool.give(block);
            });

        // Teacher terms V(w_j) = (1/k) sum_i a*_i K(w_j, w*_i) and its gradient.
        let star = self.teacher.matrix();
        let k = star.nrows();
        let star_q: Vec<f64> = (0..k)
            .map(|i| star.row(i).columns(1, d).norm_squared())
            .collect();
        self.teacher_value
            .par_iter_mut()
            .zip(self.teacher_grad.par_chunks_mut(d))
            .enumerate()
            .for_each(|(j, (value, gradient))| {
                let (mut v, mut coef_u) = (0.0, 0.0);
                gradient.iter_mut().for_each(|g| *g = 0.0);
                for i in 0..k {
                    let dot: f64 = (0..d).map(|c| w[(j, c)] * star[(i, 1 + c)]).sum();
                    let weight = star[(i, 0)] / k as f64;
                    let terms = kernel.terms(q[j], star_q[i], dot);
                    v += weight * terms.value;
                    coef_u += weight * terms.coef_u;
                    for (c, g) in gradient.iter_mut().enumerate() {
                        *g += weight * terms.coef_v * star[(i, 1 + c)];
                    }
                }
                for (c, g) in gradient.iter_mut().enumerate() {
                    *g += coef_u * w[(j, c)];
                }
                *value = v;
            });

        let scale = network.output_scale(m);
        let network_energy = scale * scale * ordered_sum(m, |j| a[j] * self.pair_sum[j]);
        let cross = scale * ordered_sum(m, |j| a[j] * self.teacher_value[j]);
        let risk = 0.5 * (self.target_energy - 2.0 * cross + network_energy);

        if let Some(grad) = grad {
            let pair = &self.pair_sum;
            let coef_u = &self.coef_u_sum;
            let direction = &self.direction_sum;
            let teacher_value = &self.teacher_value;
            let teacher_grad = &self.teacher_grad;
            grad.as_mut_slice()
                .par_chunks_mut(m)
                .enumerate()
                .for_each(|(col, out)| {
                    if col == 0 {
                        for (j, g) in out.iter_mut().enumerate() {
                            *g = scale * (scale * pair[j] - teacher_value[j]);
                        }
                    } else {
                        let c = col - 1;
                        for (j, g) in out.iter_mut().enumerate() {
                            let interaction = direction[j * d + c] + coef_u[j] * w[(j, c)];
                            *g = scale * a[j] * (scale * interaction - teacher_grad[j * d + c]);
                        }
                    }
                });
        }
        Ok(risk)
    }
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
/// (MATH.md section 4). Samples are processed in blocks; per block two products per particle
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
                chunk.partial_output[i] = if want_grad {
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
                lanes::accumulate_residual(
                    activation,
                    *r,
                    &chunk.activation[i * len..(i + 1) * len],
                    &mut chunk.slope[i * len..(i + 1) * len],
                    &mut chunk.grad_a,
                );
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
                    if col == 0 {
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
    scratch: DataScratch,
}

impl EmpiricalRisk {
    /// A fixed training set and an optional test set.
    pub fn new(train: DataSet, test: Option<DataSet>) -> Self {
        Self {
            train,
            test,
            scratch: DataScratch::default(),
        }
    }

    /// The training set.
    pub fn train(&self) -> &DataSet {
        &self.train
    }
}

/// One-pass SGD: a fresh batch of B inputs per step (MATH.md section 4).
#[derive(Debug)]
pub struct OnlineRisk {
    law: InputLaw,
    target: Arc<dyn Target>,
    seed: u64,
    batch: DataSet,
    batch_step: Option<u64>,
    test: Option<DataSet>,
    scratch: DataScratch,
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
            scratch: DataScratch::default(),
        })
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
            RiskMode::Online(o) => data_risk(network, theta, &o.batch, &mut o.scratch, grad),
            RiskMode::Empirical(e) => data_risk(network, theta, &e.train, &mut e.scratch, grad),
        }
    }

    /// Risk on the held-out test set, where the mode has one.
    pub fn test_risk(&mut self, network: &Network, theta: &DMatrix<f64>) -> Result<Option<f64>> {
        match self {
            RiskMode::Population(_) => Ok(None),
            RiskMode::Online(o) => match &o.test {
                Some(test) => data_risk(network, theta, test, &mut o.scratch, None).map(Some),
                None => Ok(None),
            },
            RiskMode::Empirical(e) => match &e.test {
                Some(test) => data_risk(network, theta, test, &mut e.scratch, None).map(Some),
                None => Ok(None),
            },
        }
    }

    /// Whether the risk of [`RiskMode::evaluate`] is the exact population risk.
    pub fn is_population(&self) -> bool {
        matches!(self, RiskMode::Population(_))
    }
}
