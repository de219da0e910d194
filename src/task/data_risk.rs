//! The risk of a data set, R = 1/2 mean_i (y_i - f(x_i))^2, and its gradient dR/dtheta_j
//! (docs/math.md section 4): the shared computation of the online and empirical modes, on the
//! CPU. Every reduction has a fixed order, so results do not depend on the number of threads:
//! products run per chunk with `Par::Seq` and chunks are spread over rayon.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::math::{Activation, Network, lanes};
use crate::task::DataSet;

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
// Over 100 lines: the forward pass, the residuals, the backward pass and the gradient assembly
// share the chunk buffers block by block, in the fixed order that makes the sums deterministic.
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
