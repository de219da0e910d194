//! The risk of a data set, R = 1/2 mean_i (y_i - f(x_i))^2 (square loss) or
//! R = mean_i log(1 + exp(-y_i f(x_i))) (logistic loss), its gradient dR/dtheta_j
//! (docs/math.md section 4, docs/problems.md "The logistic loss") and the classification error
//! (the fraction of samples with sign f(x_i) != y_i): the shared computation of the online and
//! empirical modes, on the CPU. Every reduction has a fixed order, so results do not depend on
//! the number of threads: products run per chunk with `Par::Seq` and chunks are spread over
//! rayon.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::math::{Activation, Network, lanes};
use crate::task::{DataSet, Loss};

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
    /// f(x_i) of a classification pass.
    outputs: Vec<f64>,
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

/// The residual r_i = -l'(f_i, y_i) of one sample for `loss` (square: y - f; logistic:
/// y / (1 + exp(y f))) and the sample's term of the risk sum (square: r^2, halved at the end;
/// logistic: log(1 + exp(-y f)), computed as a softplus that neither overflows nor loses the
/// small values).
#[inline]
pub(crate) fn residual_and_term(loss: Loss, label: f64, output: f64) -> (f64, f64) {
    match loss {
        Loss::Square => {
            let r = label - output;
            (r, r * r)
        }
        Loss::Logistic => {
            let margin = label * output;
            (label / (1.0 + margin.exp()), softplus(-margin))
        }
    }
}

/// log(1 + exp(u)), stable for every finite u: max(u, 0) + log1p(exp(-|u|)).
pub fn softplus(u: f64) -> f64 {
    u.max(0.0) + (-u.abs()).exp().ln_1p()
}

/// The derivative of the logistic loss log(1 + exp(-y f)) in f: l'(f, y) = -y / (1 + exp(y f))
/// (finite for every finite f: exp overflows to +inf and the quotient to 0).
pub fn logistic_derivative(output: f64, label: f64) -> f64 {
    -label / (1.0 + (label * output).exp())
}

/// Whether sample (f, y) is misclassified: sign f != sign y, with sign 0 an error (so f = 0
/// is always one).
#[inline]
fn misclassified(output: f64, label: f64) -> bool {
    let correct = (output > 0.0 && label > 0.0) || (output < 0.0 && label < 0.0);
    !correct
}

/// Risk 1/2 mean_i (y_i - f(x_i))^2 on a data set, and dR/dtheta into `grad` when given
/// (docs/math.md section 4): [`data_risk_with`] for the square loss.
///
/// # Errors
/// [`Error::Invalid`] when the data's input dimension is not the particles'.
pub fn data_risk(
    network: &Network,
    theta: &DMatrix<f64>,
    data: &DataSet,
    scratch: &mut DataScratch,
    grad: Option<&mut DMatrix<f64>>,
) -> Result<f64> {
    data_risk_with(network, theta, data, scratch, grad, Loss::Square)
}

/// The forward pass of one block of samples: for every particle chunk, Z = W_c X_b^T, then
/// sigma(Z) (and sigma'(Z) when `slopes`, except for relu, which keeps Z) and the chunk's
/// partial outputs sum_{j in chunk} a_j sigma(w_j . x_i).
fn forward_block(
    chunks: &mut [ParticleChunk],
    network: &Network,
    theta: &DMatrix<f64>,
    x_block_t: MatRef<'_, f64>,
    slopes: bool,
) {
    let m = theta.nrows();
    let a = &theta.as_slice()[..m];
    let w = w_view(theta);
    let activation = network.activation;
    let relu = activation == Activation::Relu;
    let block = x_block_t.ncols();
    chunks.par_iter_mut().for_each(|chunk| {
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
            let slope = &mut chunk.slope[i * len..(i + 1) * len];
            // relu keeps the pre-activations: the backward pass needs only their signs.
            chunk.partial_output[i] = if slopes && !relu {
                lanes::forward(activation, zs, slope, a_chunk)
            } else {
                lanes::forward_value(activation, zs, a_chunk)
            };
        }
    });
}

/// The backward pass of one block: slope_ij <- r_i sigma'(w_j . x_i) (accumulating
/// sum_i r_i sigma(w_j . x_i) into grad_a, except for relu), then grad_w += slope X_b.
fn backward_block(
    chunks: &mut [ParticleChunk],
    relu: bool,
    residual: &[f64],
    x_block_t: MatRef<'_, f64>,
) {
    let block = residual.len();
    let d = x_block_t.nrows();
    chunks.par_iter_mut().for_each(|chunk| {
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

/// The gradient rows from the chunk sums: dR/da_j = factor sum_i r_i sigma(w_j . x_i) (for relu
/// w_j . sum_i r_i 1[w_j . x_i > 0] x_i) and dR/dw_j = factor a_j sum_i r_i sigma'(w_j . x_i) x_i,
/// factor = -m^(-alpha) / n.
fn assemble_gradient(
    chunks: &[ParticleChunk],
    theta: &DMatrix<f64>,
    relu: bool,
    factor: f64,
    grad: &mut DMatrix<f64>,
) {
    let m = theta.nrows();
    let d = theta.ncols() - 1;
    let a = &theta.as_slice()[..m];
    let w = w_view(theta);
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

/// The data's input dimension must be the particles'.
fn check_input_dim(data: &DataSet, theta: &DMatrix<f64>) -> Result<()> {
    let d = theta.ncols() - 1;
    if data.input_dim() != d {
        return Err(Error::invalid(
            "data input dimension",
            data.input_dim(),
            format!("the student's input dimension {d}"),
        ));
    }
    Ok(())
}

/// The risk of `loss` on a data set, R = 1/2 mean_i (y_i - f(x_i))^2 or
/// R = mean_i log(1 + exp(-y_i f(x_i))), and dR/dtheta into `grad` when given:
/// dR/da_j = m^(-alpha) mean_i l'(f_i, y_i) sigma(w_j . x_i),
/// dR/dw_j = m^(-alpha) a_j mean_i l'(f_i, y_i) sigma'(w_j . x_i) x_i (docs/math.md section 4,
/// docs/problems.md). Samples are processed in blocks; per block two products per particle
/// chunk (W_c X_b^T, then (r sigma'(Z))_c X_b) with fused elementwise passes, r_i = -l'(f_i, y_i).
/// The square loss runs exactly the operations it ran before the logistic loss existed.
///
/// # Errors
/// [`Error::Invalid`] when the data's input dimension is not the particles'.
pub fn data_risk_with(
    network: &Network,
    theta: &DMatrix<f64>,
    data: &DataSet,
    scratch: &mut DataScratch,
    grad: Option<&mut DMatrix<f64>>,
    loss: Loss,
) -> Result<f64> {
    check_input_dim(data, theta)?;
    let m = theta.nrows();
    let d = theta.ncols() - 1;
    scratch.prepare(m, d);
    let n = data.n();
    let want_grad = grad.is_some();
    // relu is positively homogeneous: sum_i r_i relu(w_j . x_i) = w_j . sum_i r_i 1[w_j . x_i > 0]
    // x_i, so dR/da_j comes from the w-gradient sums after the last block (no elementwise pass).
    let relu = network.activation == Activation::Relu;
    let scale = network.output_scale(m);
    let inputs = data.inputs().as_slice();
    let labels = data.labels();
    for chunk in &mut scratch.chunks {
        chunk.grad_a.iter_mut().for_each(|v| *v = 0.0);
        chunk.grad_w.iter_mut().for_each(|v| *v = 0.0);
    }
    let mut sum = 0.0;
    for start in (0..n).step_by(SAMPLE_BLOCK) {
        let block = SAMPLE_BLOCK.min(n - start);
        let x_block_t =
            MatRef::from_column_major_slice(&inputs[start * d..(start + block) * d], d, block);
        forward_block(&mut scratch.chunks, network, theta, x_block_t, want_grad);
        let residual = &mut scratch.residual[..block];
        for (i, r) in residual.iter_mut().enumerate() {
            let output: f64 = scratch.chunks.iter().map(|c| c.partial_output[i]).sum();
            let (value, term) = residual_and_term(loss, labels[start + i], scale * output);
            *r = value;
            sum += term;
        }
        if want_grad {
            backward_block(
                &mut scratch.chunks,
                relu,
                &scratch.residual[..block],
                x_block_t,
            );
        }
    }
    if let Some(grad) = grad {
        assemble_gradient(&scratch.chunks, theta, relu, -scale / n as f64, grad);
    }
    Ok(match loss {
        Loss::Square => 0.5 * sum / n as f64,
        Loss::Logistic => sum / n as f64,
    })
}

/// The outputs f(x_i) of the network on every sample of a data set, into `outputs` (resized
/// to n), by the forward pass of [`data_risk_with`] (the same operations and order).
///
/// # Errors
/// [`Error::Invalid`] when the data's input dimension is not the particles'.
pub fn data_outputs(
    network: &Network,
    theta: &DMatrix<f64>,
    data: &DataSet,
    scratch: &mut DataScratch,
    outputs: &mut Vec<f64>,
) -> Result<()> {
    check_input_dim(data, theta)?;
    let m = theta.nrows();
    let d = theta.ncols() - 1;
    scratch.prepare(m, d);
    let n = data.n();
    let scale = network.output_scale(m);
    let inputs = data.inputs().as_slice();
    outputs.clear();
    for start in (0..n).step_by(SAMPLE_BLOCK) {
        let block = SAMPLE_BLOCK.min(n - start);
        let x_block_t =
            MatRef::from_column_major_slice(&inputs[start * d..(start + block) * d], d, block);
        forward_block(&mut scratch.chunks, network, theta, x_block_t, false);
        outputs.extend((0..block).map(|i| {
            let output: f64 = scratch.chunks.iter().map(|c| c.partial_output[i]).sum();
            scale * output
        }));
    }
    Ok(())
}

/// The classification error on a data set: the fraction of samples with sign f(x_i) !=
/// sign y_i, f(x_i) = 0 counting as an error (docs/problems.md). Deterministic: the forward pass
/// of [`data_outputs`] and an integer count.
///
/// # Errors
/// [`Error::Invalid`] when the data's input dimension is not the particles'.
pub fn classification_error(
    network: &Network,
    theta: &DMatrix<f64>,
    data: &DataSet,
    scratch: &mut DataScratch,
) -> Result<f64> {
    let mut outputs = std::mem::take(&mut scratch.outputs);
    data_outputs(network, theta, data, scratch, &mut outputs)?;
    let errors = outputs
        .iter()
        .zip(data.labels())
        .filter(|(f, y)| misclassified(**f, **y))
        .count();
    scratch.outputs = outputs;
    Ok(errors as f64 / data.n() as f64)
}

impl DataSet {
    /// Checks that every label is -1 or +1, as the logistic loss needs.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the first label that is neither.
    pub fn check_signs(&self) -> Result<()> {
        #[expect(clippy::float_cmp, reason = "a sign label is exactly -1 or +1")]
        let sign = |y: f64| y == 1.0 || y == -1.0;
        match self.labels().iter().position(|&y| !sign(y)) {
            Some(i) => Err(Error::invalid(
                format!("label {i}"),
                self.labels()[i],
                "-1 or +1 (the logistic loss takes labels in {-1, +1})",
            )),
            None => Ok(()),
        }
    }
}
