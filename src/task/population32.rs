//! The pair sums of population mode in float32 on the CPU (`precision = "f32"`,
//! docs/math.md section 3): sum_l a_l K(w_j, w_l), sum_l a_l coef_u(w_j, w_l) and
//! sum_l a_l coef_v(w_j, w_l) w_l for relu and erf, as a [`PairSums`] for
//! [`crate::task::PopulationRisk::evaluate_with`], which keeps the teacher terms, the risk and
//! the gradient assembly in float64.
//!
//! The tiles, their heights and the round-robin order are those of `task::population` (each
//! unordered pair of tiles once, the diagonal tiles first, then the rounds), so the
//! determinism argument is the same: every tile receives its contributions in a fixed order
//! on any number of threads. Per block the Gram product W_J W_L^T and the direction products
//! run in float32 (faer), the elementwise pass in float32 lanes of 16 (`math::lanes32`); each
//! term of a row sum and each block's column sums are added to float64 tile sums. relu's K is
//! split into its linear part u.v / 2, summed in float64 as w_j . (sum_l a_l w_l) / 2, and the
//! rest (`math::lanes32::relu_lane`).

use std::sync::{Mutex, MutexGuard, PoisonError};

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::error::Result;
use crate::math::lanes32::{Side32, Sums64, pair_block};
use crate::math::reduce::ordered_sum;
use crate::math::{Activation, PairKernel};
use crate::task::population::{Tile, fit_tiles, tile_height};
use crate::task::{PairSums, PairSumsOut};

fn lock(tile: &Mutex<Tile>) -> MutexGuard<'_, Tile> {
    tile.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The float32 pair sums of population mode (module documentation), with their buffers,
/// reused across evaluations.
#[derive(Debug, Default)]
pub struct PairSums32 {
    /// W in float32, m x d column-major.
    w: Vec<f32>,
    /// a_l w_l in float32, m x d column-major.
    scaled_w: Vec<f32>,
    a: Vec<f32>,
    sq_norms: Vec<f32>,
    tiles: Vec<Mutex<Tile>>,
    rounds: Vec<Vec<(usize, usize)>>,
    /// Scratch of a block (Gram block, then two direction products), one per thread at most.
    pool: Mutex<Vec<Vec<f32>>>,
    /// relu: w_j . s / 2, s = sum_l a_l w_l (float64).
    linear: Vec<f64>,
    /// s.
    moment: Vec<f64>,
}

impl PairSums32 {
    fn take(&self, len: usize) -> Vec<f32> {
        let reused = self.pool.lock().map(|mut f| f.pop()).unwrap_or(None);
        let mut buffer = reused.unwrap_or_default();
        buffer.resize(len, 0.0);
        buffer
    }

    fn give(&self, buffer: Vec<f32>) {
        if let Ok(mut free) = self.pool.lock() {
            free.push(buffer);
        }
    }

    /// Converts the particles to float32 and sizes the tiles for (m, d).
    fn prepare(&mut self, theta: &DMatrix<f64>, sq_norms: &[f64]) {
        let m = theta.nrows();
        let d = theta.ncols() - 1;
        let (a, w) = theta.as_slice().split_at(m);
        self.a.clear();
        self.a.extend(a.iter().map(|&v| v as f32));
        self.sq_norms.clear();
        self.sq_norms.extend(sq_norms.iter().map(|&v| v as f32));
        self.w.clear();
        self.w.extend(w.iter().map(|&v| v as f32));
        self.scaled_w.resize(m * d, 0.0);
        let a32 = &self.a;
        self.scaled_w
            .par_chunks_mut(m)
            .zip(self.w.par_chunks(m))
            .for_each(|(out, column)| {
                for ((o, wv), av) in out.iter_mut().zip(column).zip(a32) {
                    *o = av * wv;
                }
            });
        fit_tiles(&mut self.tiles, &mut self.rounds, m, d);
    }

    /// One block J x L (J = L: a diagonal tile, whose self pairs take |w_j|^2 exactly): the
    /// Gram product, the pass, and the direction products added to the tiles.
    fn block(&self, kernel: &PairKernel, d: usize, rows: &mut Tile, columns: Option<&mut Tile>) {
        let m = self.a.len();
        let w = MatRef::from_column_major_slice(&self.w, m, d);
        let aw = MatRef::from_column_major_slice(&self.scaled_w, m, d);
        let (rows_first, rows_len) = (rows.first, rows.len);
        let (columns_first, columns_len) = columns
            .as_ref()
            .map_or((rows_first, rows_len), |c| (c.first, c.len));
        let gram_len = rows_len * columns_len;
        let mut buffer = self.take(gram_len + (rows_len + columns_len) * d);
        let (gram, products) = buffer.split_at_mut(gram_len);
        matmul(
            MatMut::from_column_major_slice_mut(gram, rows_len, columns_len),
            Accum::Replace,
            w.subrows(rows_first, rows_len),
            w.subrows(columns_first, columns_len).transpose(),
            1.0f32,
            Par::Seq,
        );
        let side = |first: usize, len: usize| Side32 {
            sq_norms: &self.sq_norms[first..first + len],
            a: &self.a[first..first + len],
        };
        if columns.is_none() {
            for jj in 0..rows_len {
                gram[jj * rows_len + jj] = self.sq_norms[rows_first + jj];
            }
        }
        let (rows_product, columns_product) = products.split_at_mut(rows_len * d);
        let Tile {
            value,
            cross,
            direction,
            ..
        } = rows;
        let row_sums = Sums64 { value, cross };
        match columns {
            None => {
                pair_block(
                    kernel.activation(),
                    side(rows_first, rows_len),
                    side(rows_first, rows_len),
                    gram,
                    row_sums,
                    None,
                );
            }
            Some(columns) => {
                let column_sums = Sums64 {
                    value: &mut columns.value,
                    cross: &mut columns.cross,
                };
                pair_block(
                    kernel.activation(),
                    side(rows_first, rows_len),
                    side(columns_first, columns_len),
                    gram,
                    row_sums,
                    Some(column_sums),
                );
                matmul(
                    MatMut::from_column_major_slice_mut(
                        &mut columns_product[..columns_len * d],
                        columns_len,
                        d,
                    ),
                    Accum::Replace,
                    MatRef::from_column_major_slice(gram, rows_len, columns_len).transpose(),
                    aw.subrows(rows_first, rows_len),
                    1.0f32,
                    Par::Seq,
                );
                add_into(&mut columns.direction, &columns_product[..columns_len * d]);
            }
        }
        matmul(
            MatMut::from_column_major_slice_mut(rows_product, rows_len, d),
            Accum::Replace,
            MatRef::from_column_major_slice(gram, rows_len, columns_len),
            aw.subrows(columns_first, columns_len),
            1.0f32,
            Par::Seq,
        );
        add_into(direction, rows_product);
        self.give(buffer);
    }
}

/// sums += values (float32 into float64), elementwise.
fn add_into(sums: &mut [f64], values: &[f32]) {
    for (s, v) in sums.iter_mut().zip(values) {
        *s += f64::from(*v);
    }
}

impl PairSums for PairSums32 {
    /// The three sums in float32 blocks with float64 tile sums (module documentation); the
    /// cross sums scaled into coef_u sums with the float64 |w_j|^2 and the directions
    /// transposed to row-major, as the float64 tiles leave them.
    fn pair_sums(
        &mut self,
        kernel: &PairKernel,
        theta: &DMatrix<f64>,
        sq_norms: &[f64],
        out: PairSumsOut<'_>,
    ) -> Result<()> {
        let m = theta.nrows();
        let d = theta.ncols() - 1;
        self.prepare(theta, sq_norms);
        // relu's linear part, sum_l a_l w_j . w_l / 2 = w_j . s / 2 with s = sum_l a_l w_l, in
        // float64 over the rounded particles (`math::lanes32::relu_lane`).
        let relu = kernel.activation() == Activation::Relu;
        let (a, w) = theta.as_slice().split_at(m);
        self.moment.clear();
        self.linear.clear();
        if relu {
            self.moment
                .extend((0..d).map(|c| ordered_sum(m, |l| a[l] * w[c * m + l])));
            let s = &self.moment;
            self.linear
                .extend((0..m).map(|j| 0.5 * (0..d).map(|c| w[c * m + j] * s[c]).sum::<f64>()));
        }
        let (this, linear) = (&*self, &self.linear);
        this.tiles.par_iter().for_each(|tile| {
            let mut tile = lock(tile);
            tile.value.fill(0.0);
            tile.cross.fill(0.0);
            tile.direction.fill(0.0);
            this.block(kernel, d, &mut tile, None);
        });
        for round in &this.rounds {
            round.par_iter().for_each(|&(j, l)| {
                let (mut rows, mut columns) = (lock(&this.tiles[j]), lock(&this.tiles[l]));
                this.block(kernel, d, &mut rows, Some(&mut columns));
            });
        }
        let h = tile_height(m);
        out.value
            .par_chunks_mut(h)
            .zip(out.coef_u.par_chunks_mut(h))
            .zip(out.direction.par_chunks_mut(h * d))
            .zip(this.tiles.par_iter())
            .for_each(|(((value, coef_u), direction), tile)| {
                let tile = lock(tile);
                for jj in 0..tile.len {
                    let j = tile.first + jj;
                    value[jj] = tile.value[jj] + if relu { linear[j] } else { 0.0 };
                    coef_u[jj] = tile.cross[jj] * kernel.cross_scale(sq_norms[j]);
                    for c in 0..d {
                        direction[jj * d + c] = tile.direction[c * tile.len + jj];
                    }
                }
            });
        Ok(())
    }
}
