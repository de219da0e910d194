//! The population risk of a rotation-invariant limit measure over weighted reduced particles,
//! and its reduced velocity (issue 22's symmetry reduction; docs/math.md sections 2 and 3;
//! the orbit kernel Kbar of `math::orbit`).
//!
//! A node j is a row (w_j, a_j, p_j in R^k, q_j) with weights summing to 1: the limit measure
//! rho = sum_j w_j (the law of (a_j, p_j, q_j e), e uniform on S^(n-1)). The teacher neurons
//! lie in T (q* = 0): (a*_i, p*_i), i = 1..k*, p*_i the teacher direction in the orthonormal
//! basis of T, so their interaction needs no average over c. With s the label noise:
//!
//! ```text
//! R(rho) = 1/2 (E f*^2 + s^2) - sum_j w_j a_j V_j + 1/2 sum_{j,l} w_j w_l a_j a_l Kbar(j, l)
//! V(p, q) = (1/k*) sum_i a*_i K(|p|^2 + q^2, |p*_i|^2, p.p*_i)
//! E f*^2  = (1/k*^2) sum_{i,i'} a*_i a*_i' K(p*_i, p*_i')
//! ```
//!
//! There is no self-pair rule: two independent points of one orbit have the same c law as
//! points of two orbits (for n = 1 the pair (j, j) is the two atoms c = +-1, and c = 1 is
//! evaluated with u.v = |u|^2 bit for bit, so phi = 0 exactly).
//!
//! Reduced velocity (alpha = 1, the mean-field time unit; docs/math.md section 2), with
//! G_j = sum_l w_l a_l Kbar(j, l) and the derivatives of `math::orbit`:
//!
//! ```text
//! da_j/dt = lr_ratio * ( -(G_j - V_j) - lambda a_j )
//! dp_j/dt = -a_j ( sum_l w_l a_l dKbar/dp(j, l) - dV/dp_j ) - lambda p_j
//! dq_j/dt = -a_j ( sum_l w_l a_l dKbar/dq(j, l) - dV/dq_j ) - lambda q_j
//! ```
//!
//! dV/dp = (1/k*) sum_i a*_i (c_v p*_i + c_u p), dV/dq = (1/k*) sum_i a*_i c_u q. Without
//! decay the velocity is -(1/w_j) times the gradient of R(rho) in the node's coordinates (Kbar
//! is symmetric, and the diagonal pair contributes twice its first-argument derivative, half
//! of which the 1/2 takes back), with the a-part times lr_ratio; with decay it is the gradient
//! of E = R + (lambda/2) sum_j w_j |P (a, p, q)_j|^2 (P the trained coordinates). Frozen
//! coordinates (a_only: p, q frozen; w_only: a frozen) get zero velocity.
//!
//! Evaluation. relu and erf take the symmetric pass: Kbar and the means of c_v and c_v c are
//! symmetric in the pair, and the mean of c_u is a symmetric "cross" mean divided by a
//! function of the row alone, so each unordered pair is evaluated once and its four means go
//! to both rows (`math::pair_block` does the same for particles):
//!
//! ```text
//! relu: E_c[c_u] = E_c[|u||v| sin phi / (2 pi)] / |u|^2   (0 at u = 0)
//! erf:  E_c[c_u] = -E_c[c_v u.v] / (1 + |u|^2)
//! ```
//!
//! The nodes are cut
//! into blocks of `TILE` = 64 (the tile pass lives in `math::orbit`); tile (a, b), a <= b, is one parallel task and keeps its own
//! row sums (for a) and column sums (for b); its inner loop runs over 8 columns at once (the
//! angle nodes inside), compiled for AVX-512 or AVX2 as the CPU allows (`math::simd`, the same
//! operations in the same order on every path). Other kernels (quadrature, linear,
//! quadratic) sum each row's ordered pairs with `math::orbit::orbit_terms`.
//!
//! Determinism: the tiling is fixed by `TILE`, each tile sums its rows over columns (8 lanes,
//! then the lanes in order) and its columns over rows in index order, and row j adds the
//! tiles that hold it in the order of the other block; the row pass sums each row over l and
//! the c-nodes in index order; the risk's sum over rows is `math::reduce::ordered_sum`. So
//! results are bit-identical on any thread count.

use crate::error::Error;
use crate::math::activation::Activation;
use crate::math::kernel::PairKernel;
use crate::math::orbit::{
    AngleRule, FIXED_FIELDS, NodeColumns, Symmetric, TileLayout, orbit_terms, run_tiles,
};
use crate::math::reduce::ordered_sum;
use nalgebra::DMatrix;
use rayon::prelude::*;

/// Rows per parallel task of the pair loop (a constant: results do not depend on threads).
const ROW_CHUNK: usize = 16;

/// The parameters of the reduced flow (docs/math.md section 2, alpha = 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReducedFlow {
    /// Weight decay lambda >= 0 (default 0).
    pub lambda: f64,
    /// Factor on the whole a-drift (default 1).
    pub lr_ratio: f64,
    /// Whether a is trained (false: `w_only`).
    pub train_a: bool,
    /// Whether (p, q) is trained (false: `a_only`).
    pub train_w: bool,
}

impl Default for ReducedFlow {
    fn default() -> Self {
        Self {
            lambda: 0.0,
            lr_ratio: 1.0,
            train_a: true,
            train_w: true,
        }
    }
}

/// Exact population risk and velocity of a rotation-invariant measure given by weighted
/// reduced particles (rows: weight, a, p_1..p_k, q).
#[derive(Clone, Debug)]
pub struct ReducedPopulation {
    kernel: PairKernel,
    rule: AngleRule,
    k: usize,
    /// Teacher rows (a*_i, p*_i), row-major, stride 1 + k.
    teacher: Vec<f64>,
    teacher_count: usize,
    /// 1/2 (E f*^2 + s^2).
    zero_risk: f64,
    /// Scratch: per row |p|^2 + q^2.
    sq_norms: Vec<f64>,
    /// Scratch: the nodes row-major (weight, a, p, q), stride 3 + k.
    packed: Vec<f64>,
    /// Scratch: per row (G_j - V_j, grad_p (k), grad_q), stride 2 + k.
    fields: Vec<f64>,
    /// Scratch of the symmetric pass: the nodes by columns.
    columns: NodeColumns,
    /// Scratch of the symmetric pass: the sums of every tile.
    tiles: Vec<f64>,
}

impl ReducedPopulation {
    /// The reduced problem in a teacher subspace of dimension k = `teacher.ncols() - 1`:
    /// `teacher` rows (a*_i, p*_i) (zero rows: f* = 0), label noise `noise_std` >= 0, the
    /// angle rule of the complement (its dimension n = d - k).
    pub fn new(
        kernel: PairKernel,
        rule: AngleRule,
        teacher: &DMatrix<f64>,
        noise_std: f64,
    ) -> crate::Result<Self> {
        if teacher.ncols() == 0 {
            return Err(Error::invalid(
                "teacher columns",
                0,
                "at least 1 (a*, p*_1..p*_k)",
            ));
        }
        if teacher.iter().any(|v| !v.is_finite()) {
            return Err(Error::invalid(
                "teacher",
                "a non-finite entry",
                "finite numbers",
            ));
        }
        if !(noise_std.is_finite() && noise_std >= 0.0) {
            return Err(Error::invalid(
                "target.noise_std",
                noise_std,
                "a finite number >= 0",
            ));
        }
        let k = teacher.ncols() - 1;
        let teacher_count = teacher.nrows();
        let rows: Vec<f64> = (0..teacher_count)
            .flat_map(|i| teacher.row(i).iter().copied().collect::<Vec<_>>())
            .collect();
        let mut energy = 0.0;
        for i in 0..teacher_count {
            let (ai, pi) = (rows[i * (k + 1)], &rows[i * (k + 1) + 1..(i + 1) * (k + 1)]);
            for l in 0..teacher_count {
                let (al, pl) = (rows[l * (k + 1)], &rows[l * (k + 1) + 1..(l + 1) * (k + 1)]);
                energy += ai * al * kernel.value(dot(pi, pi), dot(pl, pl), dot(pi, pl));
            }
        }
        let energy = if teacher_count > 0 {
            energy / (teacher_count * teacher_count) as f64
        } else {
            0.0
        };
        Ok(Self {
            kernel,
            rule,
            k,
            teacher: rows,
            teacher_count,
            zero_risk: 0.5 * (energy + noise_std * noise_std),
            sq_norms: Vec::new(),
            packed: Vec::new(),
            fields: Vec::new(),
            columns: NodeColumns::default(),
            tiles: Vec::new(),
        })
    }

    /// The reduced problem with the default kernel of `activation` and
    /// [`AngleRule::DEFAULT_NODES`] angle nodes for complement dimension `n`.
    pub fn with_defaults(
        activation: Activation,
        n: usize,
        teacher: &DMatrix<f64>,
        noise_std: f64,
    ) -> crate::Result<Self> {
        Self::new(
            PairKernel::new(activation),
            AngleRule::with_default_nodes(n)?,
            teacher,
            noise_std,
        )
    }

    /// The dimension k of the teacher subspace.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The angle rule.
    pub fn rule(&self) -> &AngleRule {
        &self.rule
    }

    /// 1/2 (E f*^2 + s^2): the risk of the zero network.
    pub fn zero_network_risk(&self) -> f64 {
        self.zero_risk
    }

    fn check(&self, nodes: &DMatrix<f64>) -> crate::Result<()> {
        if nodes.ncols() != self.k + 3 {
            return Err(Error::invalid(
                "reduced particle columns",
                nodes.ncols(),
                format!("3 + k = {} (weight, a, p_1..p_k, q)", self.k + 3),
            ));
        }
        if nodes.iter().any(|v| !v.is_finite()) {
            return Err(Error::invalid(
                "reduced particles",
                "a non-finite entry",
                "finite numbers",
            ));
        }
        Ok(())
    }

    /// Packs the nodes row-major and fills, per row j, G_j - V_j, then
    /// sum_l w_l a_l dKbar/dp(j, l) - dV/dp_j and the same for q (when `want_grad`).
    fn fill_fields(&mut self, nodes: &DMatrix<f64>, want_grad: bool) {
        let n = nodes.nrows();
        let stride = self.k + 3;
        self.packed.resize(n * stride, 0.0);
        self.sq_norms.resize(n, 0.0);
        self.fields.resize(n * (self.k + 2), 0.0);
        for j in 0..n {
            for c in 0..stride {
                self.packed[j * stride + c] = nodes[(j, c)];
            }
            let row = &self.packed[j * stride..(j + 1) * stride];
            let (p, q) = (&row[2..2 + self.k], row[2 + self.k]);
            self.sq_norms[j] = dot(p, p) + q * q;
        }
        match Symmetric::of(&self.kernel) {
            Some(shape) => self.fill_symmetric(shape, n, want_grad),
            None => self.fill_by_rows(n, want_grad),
        }
    }

    /// Any kernel: each row sums its ordered pairs (j, l) over l in index order.
    fn fill_by_rows(&mut self, n: usize, want_grad: bool) {
        let (k, stride, field_stride) = (self.k, self.k + 3, self.k + 2);
        let mut fields = std::mem::take(&mut self.fields);
        let (packed, sq_norms) = (&self.packed, &self.sq_norms);
        let this = &*self;
        fields
            .par_chunks_mut(ROW_CHUNK * field_stride)
            .enumerate()
            .for_each(|(chunk, out)| {
                for (offset, field) in out.chunks_mut(field_stride).enumerate() {
                    let j = chunk * ROW_CHUNK + offset;
                    let row = &packed[j * stride..(j + 1) * stride];
                    let (p, q) = (&row[2..2 + k], row[2 + k]);
                    let grad_p = &mut field[1..1 + k];
                    grad_p.iter_mut().for_each(|g| *g = 0.0);
                    let (mut value, mut coef_u_sum, mut q_sum) = (0.0, 0.0, 0.0);
                    for l in 0..n {
                        let other = &packed[l * stride..(l + 1) * stride];
                        let mass = other[0] * other[1];
                        let (p_other, q_other) = (&other[2..2 + k], other[2 + k]);
                        let terms = orbit_terms(
                            &this.kernel,
                            &this.rule,
                            sq_norms[j],
                            sq_norms[l],
                            dot(p, p_other),
                            q * q_other,
                        );
                        value += mass * terms.value;
                        if want_grad {
                            coef_u_sum += mass * terms.coef_u;
                            q_sum += mass * terms.coef_v_cos * q_other;
                            for (g, &o) in grad_p.iter_mut().zip(p_other) {
                                *g += mass * terms.coef_v * o;
                            }
                        }
                    }
                    let sums = RowSums {
                        value,
                        coef_u: coef_u_sum,
                        coef_v_cos_q: q_sum,
                    };
                    this.finish_row((p, q), sums, field, want_grad);
                }
            });
        self.fields = fields;
    }

    /// relu and erf: each unordered pair once, by tiles (`math::orbit::run_tiles`); row j then adds
    /// the tiles (a, b) that hold it in the order of the other block.
    fn fill_symmetric(&mut self, shape: Symmetric, n: usize, want_grad: bool) {
        let (k, stride, field_stride) = (self.k, self.k + 3, self.k + 2);
        self.columns.fill(&self.packed, n, k, &self.rule);
        let mut tiles = std::mem::take(&mut self.tiles);
        let layout = TileLayout::new(self.columns.len, FIXED_FIELDS + k);
        run_tiles(shape, &self.columns, k, &layout, want_grad, &mut tiles);
        let mut fields = std::mem::take(&mut self.fields);
        let this = &*self;
        fields
            .par_chunks_mut(ROW_CHUNK * field_stride)
            .enumerate()
            .for_each(|(chunk, out)| {
                let mut sums = vec![0.0; layout.fields];
                for (offset, field) in out.chunks_mut(field_stride).enumerate() {
                    let j = chunk * ROW_CHUNK + offset;
                    layout.gather(&tiles, j, &mut sums);
                    let row = &this.packed[j * stride..(j + 1) * stride];
                    let (p, q) = (&row[2..2 + k], row[2 + k]);
                    field[1..1 + k].copy_from_slice(&sums[FIXED_FIELDS..]);
                    let row_sums = RowSums {
                        value: sums[0],
                        coef_u: shape.cross_scale(this.sq_norms[j]) * sums[1],
                        coef_v_cos_q: sums[2],
                    };
                    this.finish_row((p, q), row_sums, field, want_grad);
                }
            });
        self.fields = fields;
        self.tiles = tiles;
    }

    /// Completes the field of one row from its interaction sums (`field[1..1 + k]` already
    /// holds sum_l w_l a_l `E_c[c_v]` p_l): subtracts the teacher terms, adds `E_c[c_u]` p, q.
    fn finish_row(&self, (p, q): (&[f64], f64), sums: RowSums, field: &mut [f64], want_grad: bool) {
        let (value_sum, rest) = field.split_at_mut(1);
        let (grad_p, grad_q) = rest.split_at_mut(self.k);
        if !want_grad {
            value_sum[0] = sums.value - self.teacher_value(p, q);
            return;
        }
        let (teacher_value, teacher_grad_q) = self.add_teacher_terms(p, q, -1.0, grad_p);
        value_sum[0] = sums.value - teacher_value;
        for (g, &pi) in grad_p.iter_mut().zip(p) {
            *g += sums.coef_u * pi;
        }
        grad_q[0] = sums.coef_v_cos_q + sums.coef_u * q - teacher_grad_q;
    }

    /// V(p, q) only.
    fn teacher_value(&self, p: &[f64], q: f64) -> f64 {
        if self.teacher_count == 0 {
            return 0.0;
        }
        let uu = dot(p, p) + q * q;
        let mut value = 0.0;
        for i in 0..self.teacher_count {
            let row = &self.teacher[i * (self.k + 1)..(i + 1) * (self.k + 1)];
            value += row[0]
                * self
                    .kernel
                    .value(uu, dot(&row[1..], &row[1..]), dot(p, &row[1..]));
        }
        value / self.teacher_count as f64
    }

    /// V(p, q) and dV/dq; adds `sign` x dV/dp to `grad_p` (without allocating: the velocity
    /// subtracts it from the interaction field with sign = -1, exactly as `-=`).
    fn add_teacher_terms(&self, p: &[f64], q: f64, sign: f64, grad_p: &mut [f64]) -> (f64, f64) {
        if self.teacher_count == 0 {
            return (0.0, 0.0);
        }
        let uu = dot(p, p) + q * q;
        let scale = 1.0 / self.teacher_count as f64;
        let (mut value, mut coef_u_sum) = (0.0, 0.0);
        for i in 0..self.teacher_count {
            let row = &self.teacher[i * (self.k + 1)..(i + 1) * (self.k + 1)];
            let (a_star, p_star) = (row[0], &row[1..]);
            let terms = self.kernel.terms(uu, dot(p_star, p_star), dot(p, p_star));
            value += a_star * terms.value;
            coef_u_sum += a_star * terms.coef_u;
            for (g, &ps) in grad_p.iter_mut().zip(p_star) {
                *g += sign * (scale * a_star * terms.coef_v * ps);
            }
        }
        for (g, &pi) in grad_p.iter_mut().zip(p) {
            *g += sign * (scale * coef_u_sum * pi);
        }
        (scale * value, scale * coef_u_sum * q)
    }

    /// V(p, q) and its gradient (dV/dp, dV/dq) at one reduced point (for tests and
    /// diagnostics; allocates the returned vector).
    pub fn teacher_field(&self, p: &[f64], q: f64) -> (f64, Vec<f64>, f64) {
        let mut grad_p = vec![0.0; p.len()];
        let (value, grad_q) = self.add_teacher_terms(p, q, 1.0, &mut grad_p);
        (value, grad_p, grad_q)
    }

    /// R(rho) of the weighted reduced particles `nodes` (rows: weight, a, p_1..p_k, q).
    pub fn risk(&mut self, nodes: &DMatrix<f64>) -> crate::Result<f64> {
        self.check(nodes)?;
        self.fill_fields(nodes, false);
        Ok(self.risk_from_fields(nodes.nrows()))
    }

    /// R = 1/2 (E f*^2 + s^2) + sum_j w_j a_j (G_j / 2 - V_j), with G_j - V_j in the fields
    /// and V_j recomputed (cheap: k* kernel terms per row).
    fn risk_from_fields(&self, n: usize) -> f64 {
        let (k, stride, field_stride) = (self.k, self.k + 3, self.k + 2);
        let sum = ordered_sum(n, |j| {
            let row = &self.packed[j * stride..(j + 1) * stride];
            let (p, q) = (&row[2..2 + k], row[2 + k]);
            let teacher = self.teacher_value(p, q);
            let field = self.fields[j * field_stride] + teacher;
            row[0] * row[1] * (0.5 * field - teacher)
        });
        self.zero_risk + sum
    }

    /// The reduced velocity of every node into `velocity` (same shape as `nodes`; the weight
    /// column is 0), and the risk R(rho) returned.
    pub fn velocity(
        &mut self,
        nodes: &DMatrix<f64>,
        flow: &ReducedFlow,
        velocity: &mut DMatrix<f64>,
    ) -> crate::Result<f64> {
        self.check(nodes)?;
        if velocity.shape() != nodes.shape() {
            return Err(Error::invalid(
                "velocity shape",
                format!("{:?}", velocity.shape()),
                format!("{:?}, the shape of the nodes", nodes.shape()),
            ));
        }
        if !(flow.lambda.is_finite() && flow.lambda >= 0.0) {
            return Err(Error::invalid(
                "lambda",
                flow.lambda,
                "a finite number >= 0",
            ));
        }
        if !(flow.lr_ratio.is_finite() && flow.lr_ratio > 0.0) {
            return Err(Error::invalid(
                "lr_ratio",
                flow.lr_ratio,
                "a finite number > 0",
            ));
        }
        self.fill_fields(nodes, true);
        let (k, field_stride) = (self.k, self.k + 2);
        for j in 0..nodes.nrows() {
            let field = &self.fields[j * field_stride..(j + 1) * field_stride];
            let a = nodes[(j, 1)];
            velocity[(j, 0)] = 0.0;
            velocity[(j, 1)] = if flow.train_a {
                flow.lr_ratio * (-field[0] - flow.lambda * a)
            } else {
                0.0
            };
            for c in 0..=k {
                velocity[(j, 2 + c)] = if flow.train_w {
                    -a * field[1 + c] - flow.lambda * nodes[(j, 2 + c)]
                } else {
                    0.0
                };
            }
        }
        Ok(self.risk_from_fields(nodes.nrows()))
    }
}

#[inline]
fn dot(u: &[f64], v: &[f64]) -> f64 {
    u.iter().zip(v).map(|(a, b)| a * b).sum()
}

/// The interaction sums of one row: sum_l w_l a_l `E_c[K]`, `E_c[c_u]` and `E_c[c_v c]` q_l.
struct RowSums {
    value: f64,
    coef_u: f64,
    coef_v_cos_q: f64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn zero_network_risk_and_shape_errors() {
        let teacher = DMatrix::from_row_slice(1, 2, &[1.0, 1.0]);
        let mut reduced =
            ReducedPopulation::with_defaults(Activation::Relu, 7, &teacher, 0.5).unwrap();
        // relu: E f*^2 = K(w*, w*) = |w*|^2 / 2 = 1/2; R(0) = 1/4 + 1/8.
        assert!((reduced.zero_network_risk() - 0.375).abs() < 1e-15);
        let wrong = DMatrix::from_row_slice(1, 3, &[1.0, 0.0, 1.0]);
        assert!(reduced.risk(&wrong).is_err());
        let zero_a = DMatrix::from_row_slice(2, 4, &[0.5, 0.0, 0.3, 0.4, 0.5, 0.0, -0.2, 1.0]);
        assert!((reduced.risk(&zero_a).unwrap() - 0.375).abs() < 1e-15);
    }
}
