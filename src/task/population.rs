//! The exact population risk for Gaussian inputs (docs/math.md section 3):
//! R = 1/2 (E f*^2 + s^2) - m^-alpha sum_j a_j V(w_j) + 1/2 m^-2alpha sum_{j,l} a_j a_l K(w_j, w_l),
//! with the pair kernel K of `math::kernel` and V the teacher field.
//!
//! # The pair interaction
//!
//! The particles are cut into T tiles of h rows (h a function of m only). The pair terms are
//! symmetric (`math::pair_block`), so each unordered pair of tiles (J, L) is visited once: the
//! Gram block G = W_J W_L^T (h x h, in L2), one elementwise pass that adds to the sums of both
//! tiles and leaves coef_v in G, then direction_J += G (a w)_L and direction_L += G^T (a w)_J.
//! That is 3 m^2 d flops of products instead of 4 and half the kernel evaluations; nothing of
//! size m x m is ever held (memory O(m d + threads h^2)).
//!
//! Determinism: the diagonal tiles (J, J) come first, all in parallel; then the T(T-1)/2
//! off-diagonal pairs in the T - 1 rounds of a round-robin tournament (the circle method), so
//! that within a round every tile belongs to exactly one pair. Each tile's sums therefore
//! receive their contributions in the fixed order of the rounds, on any number of threads.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::math::expansion::{self, ParticleFeatures};
use crate::math::pair_block::{RowSums, Side};
use crate::math::reduce::ordered_sum;
use crate::math::{Activation, Network, PairKernel};
use crate::task::data_risk::w_view;
use crate::task::field::{TargetField, whiten_rows};
use crate::task::problem::{Covariance, InputShape, TargetFunction};
use crate::task::{Target, Teacher};

/// Rows per tile: m / 16 rounded up to a multiple of 8, between 64 and 256 (a 256 x 256
/// block is 512 KiB, within a core's L2; larger tiles make larger, more efficient products,
/// and at least 16 tiles keep 8 pairs per round). A function of m only, so results never
/// depend on the thread count.
pub(crate) fn tile_height(m: usize) -> usize {
    (m.div_ceil(16).div_ceil(8) * 8).clamp(64, 256)
}

/// The rounds of a round-robin tournament between `tiles` players (circle method): every
/// unordered pair (J, L), J < L, exactly once, and no tile twice in a round.
pub(crate) fn tournament(tiles: usize) -> Vec<Vec<(usize, usize)>> {
    let players = tiles + tiles % 2; // an odd count gets a bye, player `tiles`
    if players < 2 {
        return Vec::new();
    }
    let fixed = players - 1;
    (0..fixed)
        .map(|round| {
            let mut pairs = vec![(round, fixed)];
            for k in 1..players / 2 {
                pairs.push(((round + k) % fixed, (round + fixed - k) % fixed));
            }
            pairs
                .into_iter()
                .filter(|&(j, l)| j < tiles && l < tiles)
                .map(|(j, l)| (j.min(l), j.max(l)))
                .collect()
        })
        .collect()
}

/// Sums of one tile: its rows of the pair interaction (float64 also for the float32 pass of
/// `task::population32`).
#[derive(Debug, Default)]
pub(crate) struct Tile {
    pub(crate) first: usize,
    pub(crate) len: usize,
    /// sum_l a_l K(w_j, w_l).
    pub(crate) value: Vec<f64>,
    /// sum_l a_l cross(j, l) (`PairKernel::cross_scale` turns it into the coef_u sum).
    pub(crate) cross: Vec<f64>,
    /// sum_l a_l coef_v(w_j, w_l) w_l, len x d column-major.
    pub(crate) direction: Vec<f64>,
}

/// Makes `tiles` the tiles of m particles in d dimensions (rows of [`tile_height`]) and
/// `rounds` their tournament, unless they already are.
pub(crate) fn fit_tiles(
    tiles: &mut Vec<Mutex<Tile>>,
    rounds: &mut Vec<Vec<(usize, usize)>>,
    m: usize,
    d: usize,
) {
    let h = tile_height(m);
    let count = m.div_ceil(h);
    let sized = tiles.len() == count
        && tiles.iter().enumerate().all(|(t, tile)| {
            tile.lock()
                .is_ok_and(|tile| tile.first == t * h && tile.direction.len() == tile.len * d)
        })
        && tiles
            .last()
            .is_none_or(|last| last.lock().is_ok_and(|last| last.first + last.len == m));
    if !sized {
        *tiles = (0..count)
            .map(|t| {
                let len = h.min(m - t * h);
                Mutex::new(Tile {
                    first: t * h,
                    len,
                    value: vec![0.0; len],
                    cross: vec![0.0; len],
                    direction: vec![0.0; len * d],
                })
            })
            .collect();
        *rounds = tournament(count);
    }
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

/// Locks a tile. A lock poisoned by a panic in an earlier evaluation is taken as it is: every
/// evaluation overwrites the tile's sums before adding to them.
fn lock(tile: &Mutex<Tile>) -> MutexGuard<'_, Tile> {
    tile.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The per-particle sums of the pair interaction, as [`PopulationRisk::evaluate`] assembles
/// the risk and gradient from them (all of length m, `direction` row-major m x d).
#[derive(Debug)]
pub struct PairSumsOut<'a> {
    /// sum_l a_l K(w_j, w_l).
    pub value: &'a mut [f64],
    /// sum_l a_l coef_u(w_j, w_l) (after `PairKernel::cross_scale`).
    pub coef_u: &'a mut [f64],
    /// sum_l a_l coef_v(w_j, w_l) w_l, row-major m x d.
    pub direction: &'a mut [f64],
}

/// Computes the pair sums of population mode somewhere other than the CPU's tiles (a device:
/// `crate::gpu`), for [`PopulationRisk::evaluate_with`].
pub trait PairSums {
    /// Fills `out` for the particles `theta` (m x (1 + d)) under `kernel`; `sq_norms[j]` =
    /// |w_j|^2, as computed on the CPU.
    ///
    /// # Errors
    /// The device's errors ([`Error::Device`]).
    fn pair_sums(
        &mut self,
        kernel: &PairKernel,
        theta: &DMatrix<f64>,
        sq_norms: &[f64],
        out: PairSumsOut<'_>,
    ) -> Result<()>;
}

/// One Gaussian component of a problem beyond the standard one: R = sum_c weight_c R_c.
#[derive(Debug)]
struct ProblemComponent {
    /// pi_c.
    weight: f64,
    /// Sigma_c = L_c L_c^T (identity: no transform).
    covariance: Covariance,
    /// V and grad V under N(0, I), teacher directions whitened by L_c.
    field: TargetField,
}

/// Exact population risk for x ~ N(0, I_d) and a teacher target (docs/math.md section 3), and
/// for the problems of docs/problems.md ([`PopulationRisk::for_problem`]).
#[derive(Debug)]
pub struct PopulationRisk {
    kernel: PairKernel,
    /// The teacher, for teacher targets.
    teacher: Option<Teacher>,
    /// The components of a problem beyond the standard one (None: the standard problem, on the
    /// path of docs/math.md section 3 exactly).
    problem: Option<Arc<Vec<ProblemComponent>>>,
    /// Label noise s.
    noise_std: f64,
    /// E f*^2 + s^2.
    target_energy: f64,
    pool: BufferPool,
    sq_norms: Vec<f64>,
    /// a_l w_l, m x d column-major.
    scaled_w: Vec<f64>,
    /// The tiles, each behind a lock that only its pair of the round takes.
    tiles: Vec<Mutex<Tile>>,
    /// The off-diagonal pairs of tiles, round by round.
    rounds: Vec<Vec<(usize, usize)>>,
    /// sum_l a_l K(w_j, w_l).
    pair_sum: Vec<f64>,
    /// sum_l a_l coef_u(w_j, w_l).
    coef_u_sum: Vec<f64>,
    /// sum_l a_l coef_v(w_j, w_l) w_l, row-major m x d.
    direction_sum: Vec<f64>,
    /// The Mehler features of the particles (smooth activations: `math::expansion`).
    features: ParticleFeatures,
    /// The Mehler features of the teacher's rows (fixed: computed when the risk is built).
    teacher_features: Option<ParticleFeatures>,
    /// V(w_j).
    teacher_value: Vec<f64>,
    /// grad V(w_j), row-major m x d.
    teacher_grad: Vec<f64>,
}

impl PopulationRisk {
    /// The population risk of a network with `activation` against `teacher` under
    /// x ~ N(0, I). A teacher with another activation goes through
    /// [`PopulationRisk::for_problem`]. Population mode is defined without bias: the caller
    /// rejects `bias`.
    ///
    /// # Errors
    /// Those of [`PopulationRisk::for_problem`] for a teacher with another activation.
    pub fn new(activation: Activation, teacher: Teacher) -> Result<Self> {
        if teacher.activation() != activation {
            let noise = teacher.noise_std();
            return Self::for_problem(
                activation,
                &InputShape::StandardGaussian,
                &TargetFunction::Teacher(teacher),
                noise,
            );
        }
        let kernel = PairKernel::new(activation);
        let noise = teacher.noise_std();
        let target_energy = teacher.second_moment(&kernel) + noise * noise;
        Ok(Self::assemble(
            kernel,
            Some(teacher),
            None,
            noise,
            target_energy,
        ))
    }

    fn assemble(
        kernel: PairKernel,
        teacher: Option<Teacher>,
        problem: Option<Arc<Vec<ProblemComponent>>>,
        noise_std: f64,
        target_energy: f64,
    ) -> Self {
        let teacher_features = kernel.expansion().zip(teacher.as_ref()).map(|(e, t)| {
            let star = t.matrix();
            let d = star.ncols() - 1;
            let star_q: Vec<f64> = (0..star.nrows())
                .map(|i| star.row(i).columns(1, d).norm_squared())
                .collect();
            let mut features = ParticleFeatures::default();
            features.compute(e, &star_q);
            features
        });
        Self {
            kernel,
            teacher,
            problem,
            noise_std,
            target_energy,
            pool: BufferPool::default(),
            sq_norms: Vec::new(),
            scaled_w: Vec::new(),
            tiles: Vec::new(),
            rounds: Vec::new(),
            pair_sum: Vec::new(),
            coef_u_sum: Vec::new(),
            direction_sum: Vec::new(),
            features: ParticleFeatures::default(),
            teacher_features,
            teacher_value: Vec::new(),
            teacher_grad: Vec::new(),
        }
    }

    /// The exact population risk of a network with `activation` for inputs of law `input`,
    /// target `target` and label noise `noise_std` (docs/problems.md). The standard problem
    /// (standard Gaussian inputs, a teacher with the student's activation) is
    /// [`PopulationRisk::new`] exactly; every other goes through the components' transforms and
    /// [`TargetField`].
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `input.law` for Rademacher inputs, `target.kind` for parity
    /// targets, hermite targets under non-identity inputs and labels without a mixture,
    /// `target.labels` for a label count that is not the component count,
    /// `input.covariance` for a covariance of another dimension, `target.activation` and
    /// `model.activation` for the activation pairs without an exact form here.
    pub fn for_problem(
        activation: Activation,
        input: &InputShape,
        target: &TargetFunction,
        noise_std: f64,
    ) -> Result<Self> {
        if let TargetFunction::Teacher(teacher) = target
            && input.is_standard()
            && teacher.activation() == activation
        {
            let teacher = if teacher.noise_std().to_bits() == noise_std.to_bits() {
                teacher.clone()
            } else {
                Teacher::new(teacher.matrix().clone(), activation, noise_std)?
            };
            return Self::new(activation, teacher);
        }
        let components = problem_components(activation, input, target)?;
        let mut energy = 0.0;
        let mut fields = Vec::with_capacity(components.len());
        for (c, component) in components.into_iter().enumerate() {
            let (field, component_energy) = component_field(activation, target, &component, c)?;
            energy += component.weight * component_energy;
            fields.push(ProblemComponent {
                weight: component.weight,
                covariance: component.covariance,
                field,
            });
        }
        Ok(Self::assemble(
            PairKernel::new(activation),
            target.as_teacher().cloned(),
            Some(Arc::new(fields)),
            noise_std,
            energy + noise_std * noise_std,
        ))
    }

    /// The same risk with every pair of the smooth activations by the quadrature (no Mehler
    /// expansion): the path before issue 27, for the tests that compare trajectories.
    #[doc(hidden)]
    #[must_use]
    pub fn without_expansion(mut self) -> Self {
        self.kernel = self.kernel.clone().without_expansion();
        self
    }

    /// Whether this is the standard problem of docs/math.md section 3 (standard Gaussian
    /// inputs, a teacher with the student's activation): the only one a device computes.
    pub fn is_standard(&self) -> bool {
        self.problem.is_none()
    }

    /// The teacher, for teacher targets.
    pub fn teacher(&self) -> Option<&Teacher> {
        self.teacher.as_ref()
    }

    /// E f*^2 + s^2: the target's energy with the label noise.
    pub fn target_energy(&self) -> f64 {
        self.target_energy
    }

    /// The pair kernel K of the activation.
    pub fn kernel(&self) -> &PairKernel {
        &self.kernel
    }

    /// The risk at the optimum of an infinitely wide network: s^2 / 2 (for reference).
    pub fn noise_floor(&self) -> f64 {
        0.5 * self.noise_std.powi(2)
    }

    /// R_inf-style constant E f*^2 / 2 + s^2 / 2: the risk of the zero network.
    pub fn zero_network_risk(&self) -> f64 {
        0.5 * self.target_energy
    }

    fn resize(&mut self, m: usize, d: usize) {
        fit_tiles(&mut self.tiles, &mut self.rounds, m, d);
        self.scaled_w.resize(m * d, 0.0);
        self.sq_norms.resize(m, 0.0);
        self.pair_sum.resize(m, 0.0);
        self.coef_u_sum.resize(m, 0.0);
        self.direction_sum.resize(m * d, 0.0);
        self.teacher_value.resize(m, 0.0);
        self.teacher_grad.resize(m * d, 0.0);
    }

    /// The Mehler features of the particles from `sq_norms`, for the kernels that have an
    /// expansion (`math::expansion`).
    fn refresh_features(&mut self) {
        if let Some(expansion) = self.kernel.expansion() {
            self.features.compute(expansion, &self.sq_norms);
        }
    }

    /// sum_l a_l K(w_j, w_l), sum_l a_l coef_u(w_j, w_l) and sum_l a_l coef_v(w_j, w_l) w_l for
    /// every j, tile by tile (module documentation).
    // Over 100 lines: the diagonal tiles and the rounds of off-diagonal pairs share the tile
    // locks, the scaled columns and the pool in one fixed order (the determinism argument of
    // the module documentation); split, each part would re-borrow all of them.
    fn tiled_interaction(&mut self, theta: &DMatrix<f64>, want_grad: bool) {
        let m = theta.nrows();
        let d = theta.ncols() - 1;
        let a = &theta.as_slice()[..m];
        let w = w_view(theta);
        let kernel = &self.kernel;
        let q = &self.sq_norms;
        // a_l w_l, column by column.
        self.scaled_w
            .par_chunks_mut(m)
            .enumerate()
            .for_each(|(c, column)| {
                for (l, v) in column.iter_mut().enumerate() {
                    *v = a[l] * w[(l, c)];
                }
            });
        let aw = MatRef::from_column_major_slice(&self.scaled_w, m, d);

        // Particle-particle interaction: diagonal tiles, then the rounds of off-diagonal pairs.
        let pool = &self.pool;
        let tiles = &self.tiles;
        let features = kernel.expansion().map(|_| &self.features);
        let side = |first: usize, len: usize| Side {
            sq_norms: &q[first..first + len],
            a: &a[first..first + len],
            features,
            first,
        };
        tiles.par_iter().for_each(|tile| {
            let mut tile = lock(tile);
            let Tile {
                first,
                len,
                value,
                cross,
                direction,
            } = &mut *tile;
            let (first, len) = (*first, *len);
            let mut block = pool.take(len * len);
            let rows = w.subrows(first, len);
            matmul(
                MatMut::from_column_major_slice_mut(&mut block, len, len),
                Accum::Replace,
                rows,
                rows.transpose(),
                1.0,
                Par::Seq,
            );
            for jj in 0..len {
                // Self pair: w_j . w_j := |w_j|^2 exactly, so phi = 0.
                block[jj * len + jj] = q[first + jj];
            }
            value.iter_mut().for_each(|v| *v = 0.0);
            cross.iter_mut().for_each(|v| *v = 0.0);
            kernel.diagonal_block(side(first, len), &mut block, RowSums { value, cross });
            if want_grad {
                matmul(
                    MatMut::from_column_major_slice_mut(direction, len, d),
                    Accum::Replace,
                    MatRef::from_column_major_slice(&block, len, len),
                    aw.subrows(first, len),
                    1.0,
                    Par::Seq,
                );
            }
            pool.give(block);
        });
        for round in &self.rounds {
            round.par_iter().for_each(|&(j, l)| {
                let (mut rows_tile, mut columns_tile) = (lock(&tiles[j]), lock(&tiles[l]));
                let (rows_first, rows_len) = (rows_tile.first, rows_tile.len);
                let (columns_first, columns_len) = (columns_tile.first, columns_tile.len);
                let mut block = pool.take(rows_len * columns_len);
                matmul(
                    MatMut::from_column_major_slice_mut(&mut block, rows_len, columns_len),
                    Accum::Replace,
                    w.subrows(rows_first, rows_len),
                    w.subrows(columns_first, columns_len).transpose(),
                    1.0,
                    Par::Seq,
                );
                let Tile {
                    value: rows_value,
                    cross: rows_cross,
                    direction: rows_direction,
                    ..
                } = &mut *rows_tile;
                let Tile {
                    value: columns_value,
                    cross: columns_cross,
                    direction: columns_direction,
                    ..
                } = &mut *columns_tile;
                kernel.symmetric_block(
                    side(rows_first, rows_len),
                    side(columns_first, columns_len),
                    &mut block,
                    RowSums {
                        value: rows_value,
                        cross: rows_cross,
                    },
                    RowSums {
                        value: columns_value,
                        cross: columns_cross,
                    },
                );
                if want_grad {
                    let coef = MatRef::from_column_major_slice(&block, rows_len, columns_len);
                    matmul(
                        MatMut::from_column_major_slice_mut(rows_direction, rows_len, d),
                        Accum::Add,
                        coef,
                        aw.subrows(columns_first, columns_len),
                        1.0,
                        Par::Seq,
                    );
                    matmul(
                        MatMut::from_column_major_slice_mut(columns_direction, columns_len, d),
                        Accum::Add,
                        coef.transpose(),
                        aw.subrows(rows_first, rows_len),
                        1.0,
                        Par::Seq,
                    );
                }
                pool.give(block);
            });
        }
        // Gather the tiles into per-particle sums (direction row-major).
        let h = tile_height(m);
        self.pair_sum
            .par_chunks_mut(h)
            .zip(self.coef_u_sum.par_chunks_mut(h))
            .zip(self.direction_sum.par_chunks_mut(h * d))
            .zip(tiles.par_iter())
            .for_each(|(((pair, coef_u), direction), tile)| {
                let tile = lock(tile);
                for jj in 0..tile.len {
                    let j = tile.first + jj;
                    pair[jj] = tile.value[jj];
                    coef_u[jj] = tile.cross[jj] * kernel.cross_scale(q[j]);
                    for c in 0..d {
                        direction[jj * d + c] = tile.direction[c * tile.len + jj];
                    }
                }
            });
    }

    /// The same sums for the linear and quadratic activations, whose kernels are polynomials in
    /// u.v: they depend on the particles only through s = sum_l a_l w_l, A = sum_l a_l |w_l|^2
    /// and M = sum_l a_l w_l w_l^T, so O(m d^2) work replaces the O(m^2 d) pair loop (exactly:
    /// the same sums, in another order).
    ///
    /// ```text
    /// linear:    sum_l a_l K = w_j . s,                   coef_u sum = 0,     direction = s
    /// quadratic: sum_l a_l K = |w_j|^2 A + 2 w_j.M w_j,   coef_u sum = 2 A,   direction = 4 M w_j
    /// ```
    fn low_rank_interaction(&mut self, theta: &DMatrix<f64>) {
        let m = theta.nrows();
        let d = theta.ncols() - 1;
        let a = &theta.as_slice()[..m];
        let w = w_view(theta);
        let q = &self.sq_norms;
        let linear = self.kernel.activation() == Activation::Linear;
        // Moments in a fixed order (one thread each: they are O(m d^2) against the O(m d) rest).
        let s: Vec<f64> = (0..d)
            .map(|c| ordered_sum(m, |l| a[l] * w[(l, c)]))
            .collect();
        let big_a = ordered_sum(m, |l| a[l] * q[l]);
        let mut moment = vec![0.0; d * d];
        if !linear {
            for c in 0..d {
                self.scaled_w[c * m..(c + 1) * m]
                    .iter_mut()
                    .enumerate()
                    .for_each(|(l, v)| *v = a[l] * w[(l, c)]);
            }
            matmul(
                MatMut::from_column_major_slice_mut(&mut moment, d, d),
                Accum::Replace,
                MatRef::from_column_major_slice(&self.scaled_w, m, d).transpose(),
                w,
                1.0,
                Par::Seq,
            );
        }
        self.pair_sum
            .par_iter_mut()
            .zip(self.coef_u_sum.par_iter_mut())
            .zip(self.direction_sum.par_chunks_mut(d))
            .enumerate()
            .for_each(|(j, ((pair, coef_u), direction))| {
                if linear {
                    *pair = (0..d).map(|c| w[(j, c)] * s[c]).sum();
                    *coef_u = 0.0;
                    direction.copy_from_slice(&s);
                } else {
                    // M w_j, and w_j . M w_j.
                    for (c, out) in direction.iter_mut().enumerate() {
                        *out = (0..d).map(|e| moment[e * d + c] * w[(j, e)]).sum();
                    }
                    let quadratic: f64 = (0..d).map(|c| w[(j, c)] * direction[c]).sum();
                    *pair = q[j] * big_a + 2.0 * quadratic;
                    *coef_u = 2.0 * big_a;
                    direction.iter_mut().for_each(|v| *v *= 4.0);
                }
            });
    }

    /// Teacher terms V(w_j) = (1/k) sum_i a*_i K(w_j, w*_i) and grad V(w_j) into
    /// `teacher_value` and `teacher_grad`, for every j (after `sq_norms`).
    fn teacher_terms(&mut self, theta: &DMatrix<f64>) {
        let d = theta.ncols() - 1;
        let w = w_view(theta);
        let kernel = &self.kernel;
        let q = &self.sq_norms;
        let Some(teacher) = self.teacher.as_ref() else {
            return;
        };
        let star = teacher.matrix();
        let k = star.nrows();
        let star_q: Vec<f64> = (0..k)
            .map(|i| star.row(i).columns(1, d).norm_squared())
            .collect();
        let expansion = kernel.expansion();
        let (features, teacher_features) = (&self.features, self.teacher_features.as_ref());
        // Expansion where it is certified, else the quadrature (`math::expansion`).
        let pair = |j: usize, i: usize, dot: f64| {
            if let (Some(expansion), Some(teacher_features)) = (expansion, teacher_features) {
                let rho = expansion::cosine(
                    dot,
                    features.inverse_norm(j),
                    teacher_features.inverse_norm(i),
                );
                if let Some(t) =
                    expansion::pair_terms(expansion, features, j, teacher_features, i, rho)
                {
                    return (t.value, t.coef_v, t.coef_u);
                }
            }
            let t = kernel.terms(q[j], star_q[i], dot);
            (t.value, t.coef_v, t.coef_u)
        };
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
                    let (value, coef_v, coef_u_term) = pair(j, i, dot);
                    v += weight * value;
                    coef_u += weight * coef_u_term;
                    for (c, g) in gradient.iter_mut().enumerate() {
                        *g += weight * coef_v * star[(i, 1 + c)];
                    }
                }
                for (c, g) in gradient.iter_mut().enumerate() {
                    *g += coef_u * w[(j, c)];
                }
                *value = v;
            });
    }

    /// The risk of a problem beyond the standard one (docs/problems.md): for each component
    /// c, the particles are whitened (w -> L_c^T w; skipped for the identity), the pair sums and
    /// the field are those of N(0, I), and the gradient in w is pulled back (g -> L_c g);
    /// R = sum_c pi_c R_c. The pair sums are the CPU's (a device computes the standard
    /// problem only).
    fn evaluate_problem(
        &mut self,
        problem: &[ProblemComponent],
        network: &Network,
        theta: &DMatrix<f64>,
        mut grad: Option<&mut DMatrix<f64>>,
    ) -> Result<f64> {
        let m = theta.nrows();
        let d = theta.ncols() - 1;
        for component in problem {
            let dims = [component.field.dim(), component.covariance.dim()];
            if let Some(other) = dims.into_iter().flatten().find(|&other| other != d) {
                return Err(Error::invalid(
                    "target d",
                    other,
                    format!("the student's d = {d}"),
                ));
            }
        }
        self.resize(m, d);
        if let Some(grad) = grad.as_deref_mut() {
            grad.fill(0.0);
        }
        let scale = network.output_scale(m);
        let (mut cross, mut network_energy) = (0.0, 0.0);
        for component in problem {
            let whitened;
            let white = if component.covariance.is_identity() {
                theta
            } else {
                whitened = whiten_rows(theta, &component.covariance);
                &whitened
            };
            let (energy, field) =
                self.component_terms(&component.field, white, scale, grad.is_some());
            network_energy += component.weight * energy;
            cross += component.weight * field;
            if let Some(grad) = grad.as_deref_mut() {
                self.add_component_gradient(component, white, scale, grad);
            }
        }
        Ok(0.5 * (self.target_energy - 2.0 * cross + network_energy))
    }

    /// For whitened particles `white`: the pair sums and the field terms into the buffers, and
    /// (m^-2alpha sum_{j,l} a_j a_l K, m^-alpha sum_j a_j V(w_j)).
    fn component_terms(
        &mut self,
        field: &TargetField,
        white: &DMatrix<f64>,
        scale: f64,
        want_grad: bool,
    ) -> (f64, f64) {
        let m = white.nrows();
        let d = white.ncols() - 1;
        let a = &white.as_slice()[..m];
        let w = w_view(white);
        self.sq_norms.par_iter_mut().enumerate().for_each(|(j, q)| {
            *q = (0..d).map(|c| w[(j, c)] * w[(j, c)]).sum();
        });
        self.refresh_features();
        if matches!(
            self.kernel.activation(),
            Activation::Linear | Activation::Quadratic
        ) {
            self.low_rank_interaction(white);
        } else {
            self.tiled_interaction(white, want_grad);
        }
        let q = &self.sq_norms;
        self.teacher_value
            .par_iter_mut()
            .zip(self.teacher_grad.par_chunks_mut(d))
            .enumerate()
            .for_each(|(j, (value, gradient))| {
                let row: Vec<f64> = (0..d).map(|c| w[(j, c)]).collect();
                *value = field.evaluate(&row, q[j], gradient);
            });
        let energy = scale * scale * ordered_sum(m, |j| a[j] * self.pair_sum[j]);
        let cross = scale * ordered_sum(m, |j| a[j] * self.teacher_value[j]);
        (energy, cross)
    }

    /// grad += pi_c dR_c/dtheta: the a-column directly, the w-columns pulled back through L_c.
    fn add_component_gradient(
        &self,
        component: &ProblemComponent,
        white: &DMatrix<f64>,
        scale: f64,
        grad: &mut DMatrix<f64>,
    ) {
        let m = white.nrows();
        let d = white.ncols() - 1;
        let a = &white.as_slice()[..m];
        let w = w_view(white);
        let (mut local, mut pulled) = (vec![0.0; d], vec![0.0; d]);
        for j in 0..m {
            grad[(j, 0)] +=
                component.weight * scale * (scale * self.pair_sum[j] - self.teacher_value[j]);
            for (c, g) in local.iter_mut().enumerate() {
                let interaction = self.direction_sum[j * d + c] + self.coef_u_sum[j] * w[(j, c)];
                *g = scale * a[j] * (scale * interaction - self.teacher_grad[j * d + c]);
            }
            component.covariance.pull_back_gradient(&local, &mut pulled);
            for (c, g) in pulled.iter().enumerate() {
                grad[(j, 1 + c)] += component.weight * g;
            }
        }
    }

    /// Risk, and dR/dtheta into `grad` (m x (1 + d)) when given.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the teacher's d is not the particles'.
    pub fn evaluate(
        &mut self,
        network: &Network,
        theta: &DMatrix<f64>,
        grad: Option<&mut DMatrix<f64>>,
    ) -> Result<f64> {
        self.evaluate_with(network, theta, grad, None)
    }

    /// [`PopulationRisk::evaluate`] with the pair sums of relu, erf and the quadrature
    /// activations from `pair_sums` (a device) instead of the CPU's tiles, when given; linear and
    /// quadratic keep their exact low-rank path (O(m d^2), nothing to gain elsewhere). The
    /// teacher terms and the gradient assembly (O(m d k)) stay here.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the teacher's d is not the particles'; the errors of
    /// `pair_sums`.
    pub fn evaluate_with(
        &mut self,
        network: &Network,
        theta: &DMatrix<f64>,
        grad: Option<&mut DMatrix<f64>>,
        pair_sums: Option<&mut dyn PairSums>,
    ) -> Result<f64> {
        if let Some(problem) = self.problem.clone() {
            return self.evaluate_problem(&problem, network, theta, grad);
        }
        let m = theta.nrows();
        let d = theta.ncols() - 1;
        let teacher_d = self.teacher.as_ref().map_or(0, |t| t.matrix().ncols() - 1);
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

        // |w_j|^2, summed over coordinates in order.
        self.sq_norms.par_iter_mut().enumerate().for_each(|(j, q)| {
            *q = (0..d).map(|c| w[(j, c)] * w[(j, c)]).sum();
        });

        self.refresh_features();
        if matches!(
            self.kernel.activation(),
            Activation::Linear | Activation::Quadratic
        ) {
            self.low_rank_interaction(theta);
        } else if let Some(pair_sums) = pair_sums {
            pair_sums.pair_sums(
                &self.kernel,
                theta,
                &self.sq_norms,
                PairSumsOut {
                    value: &mut self.pair_sum,
                    coef_u: &mut self.coef_u_sum,
                    direction: &mut self.direction_sum,
                },
            )?;
        } else {
            self.tiled_interaction(theta, want_grad);
        }
        self.teacher_terms(theta);

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

/// The Gaussian components of a problem, after the refusals of population mode.
fn problem_components(
    activation: Activation,
    input: &InputShape,
    target: &TargetFunction,
) -> Result<Vec<crate::task::problem::Component>> {
    let use_data = "use risk.mode = \"online\" or \"empirical\"";
    let Some(components) = input.gaussian_components() else {
        return Err(Error::invalid(
            "input.law",
            "\"rademacher\"",
            format!("a Gaussian law or mixture in population mode: {use_data}"),
        ));
    };
    let d = target.input_dim();
    if let Some(other) = components
        .iter()
        .filter_map(|c| c.covariance.dim())
        .find(|&other| other != d)
    {
        return Err(Error::invalid(
            "input.covariance",
            format!("dimension {other}"),
            format!("the target's d = {d}"),
        ));
    }
    match target {
        TargetFunction::Parity(_) => Err(Error::invalid(
            "target.kind",
            "\"parity\"",
            format!("teacher, hermite or label in population mode: {use_data}"),
        )),
        TargetFunction::Hermite(_) if !input.is_standard() => Err(Error::invalid(
            "target.kind",
            "\"hermite\" with non-identity inputs",
            format!("hermite in population mode only under N(0, I): {use_data}"),
        )),
        TargetFunction::Label(_) if !matches!(input, InputShape::Mixture(_)) => {
            Err(Error::invalid(
                "target.kind",
                "\"label\" without a mixture",
                "label only with input.law = \"mixture\"",
            ))
        }
        TargetFunction::Label(labels) if labels.labels.len() != components.len() => {
            Err(Error::invalid(
                "target.labels",
                labels.labels.len(),
                format!("one label per component ({})", components.len()),
            ))
        }
        TargetFunction::Teacher(teacher) if teacher.activation() != activation => {
            // Refused early, by name, when the pair has no exact form.
            crate::math::cross_kernel::CrossKernel::new(activation, teacher.activation())?;
            Ok(components)
        }
        _ => Ok(components),
    }
}

/// The field of `target` on component number `c` and E_c f*^2.
fn component_field(
    activation: Activation,
    target: &TargetFunction,
    component: &crate::task::problem::Component,
    c: usize,
) -> Result<(TargetField, f64)> {
    match target {
        TargetFunction::Teacher(teacher) => {
            let field = TargetField::teacher(activation, teacher, &component.covariance)?;
            let white = Teacher::new(
                whiten_rows(teacher.matrix(), &component.covariance),
                teacher.activation(),
                0.0,
            )?;
            let energy = white.second_moment(&PairKernel::new(teacher.activation()));
            Ok((field, energy))
        }
        TargetFunction::Hermite(hermite) => Ok((
            TargetField::hermite(activation, hermite)?,
            hermite.second_moment(),
        )),
        TargetFunction::Label(labels) => {
            let y = labels.labels[c];
            Ok((TargetField::label(activation, y)?, y * y))
        }
        TargetFunction::Parity(_) => Err(Error::invalid(
            "target.kind",
            "\"parity\"",
            "teacher, hermite or label in population mode",
        )),
    }
}
