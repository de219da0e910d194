//! The exact population risk for Gaussian inputs (MATH.md section 3):
//! R = 1/2 (E f*^2 + s^2) - m^-alpha sum_j a_j V(w_j) + 1/2 m^-2alpha sum_{j,l} a_j a_l K(w_j, w_l),
//! with the pair kernel K of `math::kernel` and V the teacher field.
//!
//! The Gram matrix W W^T and the gradient sums are computed over row tiles: tile t of h rows
//! holds one m x h block, so memory is O(m h), never m x m. Products run per tile with
//! `Par::Seq` and tiles are spread over rayon; every sum has a fixed order, so results do not
//! depend on the number of threads.

use std::sync::Mutex;

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::math::reduce::ordered_sum;
use crate::math::{Activation, Network, PairKernel};
use crate::task::{Target, Teacher};
use crate::task::risk::w_view;

/// Rows per population tile: the m x h Gram block is about 2 MiB (an L2 cache), at least 8 and
/// at most 128 rows. A function of m only, so results never depend on the thread count.
fn tile_height(m: usize) -> usize {
    ((1usize << 18) / m.max(1)).clamp(8, 128)
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

