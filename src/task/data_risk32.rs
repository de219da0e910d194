//! The risk of a data set and its gradient (docs/math.md section 4, and the logistic loss of
//! docs/problems.md) in float32 on the CPU (`precision = "f32"`): the computation of
//! `task::data_risk` with the products Z = W_c X_b^T and (r sigma'(Z))_c X_b in float32 (faer)
//! and the sigma passes in float32 lanes of 16 (`math::lanes32`). What needs float64 stays
//! there: the outputs f(x_i) (float64 totals of per-chunk float32 lane sums), the residuals,
//! the risk's sum over samples, and the gradient sums over sample blocks (each block's float32
//! product, over 128 samples, is added to float64 sums).
//!
//! The chunks of particles and blocks of samples are those of `task::data_risk` (constant
//! sizes, products per chunk with `Par::Seq`), so the result does not depend on the number of
//! threads.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::math::{Activation, Network, lanes32};
use crate::task::data_risk::residual_and_term;
use crate::task::{DataSet, Loss};

/// Particles per chunk (as `task::data_risk`).
const PARTICLE_CHUNK: usize = 256;
/// Samples per block (as `task::data_risk`).
const SAMPLE_BLOCK: usize = 128;

/// A data set's inputs in float32, d x n column-major (sample by sample), as the products read
/// them.
#[derive(Debug, Default)]
pub struct Inputs32 {
    values: Vec<f32>,
    d: usize,
}

impl Inputs32 {
    /// Rounds the inputs of `data` to float32 into this buffer.
    pub fn load(&mut self, data: &DataSet) {
        self.d = data.input_dim();
        self.values.clear();
        self.values
            .extend(data.inputs().as_slice().iter().map(|&x| x as f32));
    }

    /// Samples held.
    pub fn n(&self) -> usize {
        self.values.len().checked_div(self.d).unwrap_or(0)
    }
}

/// One chunk of particles against one block of samples.
#[derive(Debug, Default)]
struct Chunk {
    first: usize,
    len: usize,
    /// sigma(w_j . x_i) (relu: w_j . x_i), chunk x block column-major.
    activation: Vec<f32>,
    /// sigma'(w_j . x_i), then r_i sigma'(w_j . x_i).
    slope: Vec<f32>,
    /// sum_{j in chunk} a_j sigma(w_j . x_i), per sample of the block.
    partial_output: Vec<f64>,
    /// sum_i r_i sigma(w_j . x_i) (not relu).
    grad_a: Vec<f64>,
    /// sum_i r_i sigma'(w_j . x_i) x_i, chunk x d column-major.
    grad_w: Vec<f64>,
    /// One block's float32 product (r sigma'(Z))_c X_b.
    product: Vec<f32>,
}

/// The float32 evaluation of the data modes, with its buffers (sized once for (m, d)).
#[derive(Debug, Default)]
pub struct DataRisk32 {
    chunks: Vec<Chunk>,
    residual: Vec<f64>,
    /// W in float32, m x d column-major.
    w: Vec<f32>,
    a: Vec<f32>,
}

impl DataRisk32 {
    fn prepare(&mut self, theta: &DMatrix<f64>) {
        let m = theta.nrows();
        let d = theta.ncols() - 1;
        let (a, w) = theta.as_slice().split_at(m);
        self.a.clear();
        self.a.extend(a.iter().map(|&v| v as f32));
        self.w.clear();
        self.w.extend(w.iter().map(|&v| v as f32));
        let count = m.div_ceil(PARTICLE_CHUNK);
        if self.chunks.len() == count
            && self.chunks.iter().map(|c| c.len).sum::<usize>() == m
            && self
                .chunks
                .first()
                .is_some_and(|c| c.grad_w.len() == c.len * d)
        {
            return;
        }
        self.chunks = (0..count)
            .map(|c| {
                let first = c * PARTICLE_CHUNK;
                let len = PARTICLE_CHUNK.min(m - first);
                Chunk {
                    first,
                    len,
                    activation: vec![0.0; len * SAMPLE_BLOCK],
                    slope: vec![0.0; len * SAMPLE_BLOCK],
                    partial_output: vec![0.0; SAMPLE_BLOCK],
                    grad_a: vec![0.0; len],
                    grad_w: vec![0.0; len * d],
                    product: vec![0.0; len * d],
                }
            })
            .collect();
        self.residual = vec![0.0; SAMPLE_BLOCK];
    }

    /// The risk of `loss` on the data set `inputs` with `labels`, and dR/dtheta into `grad`
    /// when given: the formulas of `task::data_risk::data_risk_with`, in float32 products and
    /// passes with float64 sums (module documentation).
    ///
    /// # Errors
    /// [`Error::Invalid`] when the inputs' dimension is not the particles', or the labels are
    /// not one per sample.
    pub fn risk(
        &mut self,
        network: &Network,
        theta: &DMatrix<f64>,
        inputs: &Inputs32,
        labels: &[f64],
        loss: Loss,
        grad: Option<&mut DMatrix<f64>>,
    ) -> Result<f64> {
        let m = theta.nrows();
        let d = theta.ncols() - 1;
        if inputs.d != d {
            return Err(Error::invalid(
                "data input dimension",
                inputs.d,
                format!("the student's input dimension {d}"),
            ));
        }
        let n = inputs.n();
        if labels.len() != n {
            return Err(Error::invalid(
                "labels",
                labels.len(),
                format!("{n}, one per sample"),
            ));
        }
        self.prepare(theta);
        let want_grad = grad.is_some();
        let relu = network.activation == Activation::Relu;
        let scale = network.output_scale(m);
        for chunk in &mut self.chunks {
            chunk.grad_a.fill(0.0);
            chunk.grad_w.fill(0.0);
        }
        let mut sum = 0.0;
        for start in (0..n).step_by(SAMPLE_BLOCK) {
            let block = SAMPLE_BLOCK.min(n - start);
            let x_block_t = MatRef::from_column_major_slice(
                &inputs.values[start * d..(start + block) * d],
                d,
                block,
            );
            self.forward_block(network.activation, d, x_block_t, want_grad);
            let residual = &mut self.residual[..block];
            for (i, r) in residual.iter_mut().enumerate() {
                let output: f64 = self.chunks.iter().map(|c| c.partial_output[i]).sum();
                let (value, term) = residual_and_term(loss, labels[start + i], scale * output);
                *r = value;
                sum += term;
            }
            if want_grad {
                backward_block(&mut self.chunks, relu, &self.residual[..block], x_block_t);
            }
        }
        if let Some(grad) = grad {
            assemble_gradient(&self.chunks, theta, relu, -scale / n as f64, grad);
        }
        Ok(match loss {
            Loss::Square => 0.5 * sum / n as f64,
            Loss::Logistic => sum / n as f64,
        })
    }

    /// Z = W_c X_b^T per chunk, then sigma (and sigma' when `slopes`, except for relu, which
    /// keeps Z) and the chunk's partial outputs.
    fn forward_block(
        &mut self,
        activation: Activation,
        d: usize,
        x_block_t: MatRef<'_, f32>,
        slopes: bool,
    ) {
        let m = self.a.len();
        let w = MatRef::from_column_major_slice(&self.w, m, d);
        let a = &self.a;
        let keep_slopes = slopes && activation != Activation::Relu;
        let block = x_block_t.ncols();
        self.chunks.par_iter_mut().for_each(|chunk| {
            let len = chunk.len;
            matmul(
                MatMut::from_column_major_slice_mut(
                    &mut chunk.activation[..len * block],
                    len,
                    block,
                ),
                Accum::Replace,
                w.subrows(chunk.first, len),
                x_block_t,
                1.0f32,
                Par::Seq,
            );
            let a_chunk = &a[chunk.first..chunk.first + len];
            for i in 0..block {
                let z = &mut chunk.activation[i * len..(i + 1) * len];
                let slope = keep_slopes.then(|| &mut chunk.slope[i * len..(i + 1) * len]);
                chunk.partial_output[i] = lanes32::forward(activation, z, slope, a_chunk);
            }
        });
    }
}

/// slope_ij <- r_i sigma'(w_j . x_i) (accumulating sum_i r_i sigma(w_j . x_i) into grad_a,
/// except for relu), then grad_w += slope X_b (float32 product, float64 sum).
fn backward_block(chunks: &mut [Chunk], relu: bool, residual: &[f64], x_block_t: MatRef<'_, f32>) {
    let block = residual.len();
    let d = x_block_t.nrows();
    chunks.par_iter_mut().for_each(|chunk| {
        let len = chunk.len;
        for (i, &r) in residual.iter().enumerate() {
            let column = i * len..(i + 1) * len;
            if relu {
                lanes32::relu_residual_slope(
                    r as f32,
                    &chunk.activation[column.clone()],
                    &mut chunk.slope[column],
                );
            } else {
                lanes32::accumulate_residual(
                    r,
                    &chunk.activation[column.clone()],
                    &mut chunk.slope[column],
                    &mut chunk.grad_a,
                );
            }
        }
        matmul(
            MatMut::from_column_major_slice_mut(&mut chunk.product, len, d),
            Accum::Replace,
            MatRef::from_column_major_slice(&chunk.slope[..len * block], len, block),
            x_block_t.transpose(),
            1.0f32,
            Par::Seq,
        );
        for (s, v) in chunk.grad_w.iter_mut().zip(&chunk.product) {
            *s += f64::from(*v);
        }
    });
}

/// The gradient rows from the float64 chunk sums, as `task::data_risk` assembles them:
/// dR/da_j = factor sum_i r_i sigma(w_j . x_i) (relu: w_j . sum_i r_i 1[w_j . x_i > 0] x_i),
/// dR/dw_j = factor a_j sum_i r_i sigma'(w_j . x_i) x_i, factor = -m^(-alpha) / n.
fn assemble_gradient(
    chunks: &[Chunk],
    theta: &DMatrix<f64>,
    relu: bool,
    factor: f64,
    grad: &mut DMatrix<f64>,
) {
    let m = theta.nrows();
    let d = theta.ncols() - 1;
    let (a, w) = theta.as_slice().split_at(m);
    grad.as_mut_slice()
        .par_chunks_mut(m)
        .enumerate()
        .for_each(|(col, out)| {
            for chunk in chunks {
                let rows = &mut out[chunk.first..chunk.first + chunk.len];
                for (jj, g) in rows.iter_mut().enumerate() {
                    let j = chunk.first + jj;
                    *g = if col == 0 && relu {
                        let sum: f64 = (0..d)
                            .map(|c| w[c * m + j] * chunk.grad_w[c * chunk.len + jj])
                            .sum();
                        factor * sum
                    } else if col == 0 {
                        factor * chunk.grad_a[jj]
                    } else {
                        factor * a[j] * chunk.grad_w[(col - 1) * chunk.len + jj]
                    };
                }
            }
        });
}
