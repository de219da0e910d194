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
use crate::task::problem::{MAX_HERMITE_DEGREE, hermite, hermite_norm};
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
    /// Inputs and target beyond a teacher under N(0, I) ([`Self::with_inputs`]); None: the
    /// teacher path above (its floating-point operations unchanged).
    general: Option<Box<General>>,
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
            general: None,
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
        if let Some(general) = &self.general {
            let (value, grad_q) = general.target.field(&self.kernel, p, q, &mut grad_p);
            return (value, grad_p, grad_q);
        }
        let (value, grad_q) = self.add_teacher_terms(p, q, 1.0, &mut grad_p);
        (value, grad_p, grad_q)
    }

    /// R(rho) of the weighted reduced particles `nodes` (rows: weight, a, p_1..p_k, q).
    pub fn risk(&mut self, nodes: &DMatrix<f64>) -> crate::Result<f64> {
        self.check(nodes)?;
        if self.general.is_some() {
            return Ok(self.fill_general(nodes, false));
        }
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
        let risk = if self.general.is_some() {
            Some(self.fill_general(nodes, true))
        } else {
            self.fill_fields(nodes, true);
            None
        };
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
        Ok(risk.unwrap_or_else(|| self.risk_from_fields(nodes.nrows())))
    }
}

/// One isotropic centred Gaussian component of the inputs: x ~ N(0, scale^2 I_d) with
/// probability `weight` (a mixture of them keeps every rotation a symmetry).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScaledComponent {
    /// Mixture weight pi_c > 0 (the weights sum to 1).
    pub weight: f64,
    /// The scale s_c > 0 (Sigma_c = s_c^2 I).
    pub scale: f64,
}

impl ScaledComponent {
    /// The standard Gaussian N(0, I): weight 1, scale 1.
    pub const STANDARD: Self = Self {
        weight: 1.0,
        scale: 1.0,
    };
}

/// One term coef He_degree(p_slot) / sqrt(degree!) of a Hermite target in reduced coordinates
/// (`slot` indexes the orthonormal coordinate directions spanning T).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReducedHermiteTerm {
    /// The coordinate of p (0..k).
    pub slot: usize,
    /// The degree j.
    pub degree: u32,
    /// The coefficient c_t.
    pub coef: f64,
}

/// The target of [`ReducedPopulation::with_inputs`], in reduced coordinates (docs/limit.md
/// section 13).
#[derive(Clone, Debug, PartialEq)]
pub enum ReducedTarget {
    /// A teacher network with the student's activation: rows (a*_i, p*_i) as in
    /// [`ReducedPopulation::new`].
    Teacher(DMatrix<f64>),
    /// The class label y_c of each input component (k = 0).
    Label(Vec<f64>),
    /// A Hermite target on coordinate directions (standard Gaussian inputs only).
    Hermite(Vec<ReducedHermiteTerm>),
}

/// The inputs and target of the general path, with its scratch.
#[derive(Clone, Debug)]
struct General {
    target: GeneralTarget,
    /// Scratch: V_j per row.
    values: Vec<f64>,
    /// Scratch: the interaction fields summed over the components.
    sum: Vec<f64>,
}

/// A [`ReducedTarget`] with the input components it is averaged over.
#[derive(Clone, Debug)]
struct GeneralTarget {
    components: Vec<ScaledComponent>,
    target: ReducedTarget,
}

impl ReducedPopulation {
    /// The reduced problem for isotropic Gaussian-mixture inputs `components` and `target`
    /// (docs/limit.md section 13) in a subspace of dimension `k`; label noise `noise_std`.
    /// Refuses labels with k != 0 or a count other than the components', Hermite targets with
    /// other inputs than N(0, I) or an activation other than relu, erf, linear, quadratic,
    /// labels with softplus, and weights that are not positive or do not sum to 1 (to 1e-12).
    pub fn with_inputs(
        kernel: PairKernel,
        rule: AngleRule,
        k: usize,
        components: Vec<ScaledComponent>,
        target: ReducedTarget,
        noise_std: f64,
    ) -> crate::Result<Self> {
        let target = GeneralTarget { components, target };
        target.validate(kernel.activation(), k)?;
        let empty = DMatrix::zeros(0, k + 1);
        let mut reduced = Self::new(kernel, rule, &empty, noise_std)?;
        reduced.zero_risk = 0.5 * (target.second_moment(&reduced.kernel) + noise_std * noise_std);
        reduced.general = Some(Box::new(General {
            target,
            values: Vec::new(),
            sum: Vec::new(),
        }));
        Ok(reduced)
    }

    /// The general path: the interaction fields summed over the components (one pass for a
    /// homogeneous sigma, else one pass per component at the scaled nodes), minus the target
    /// field; returns the risk.
    fn fill_general(&mut self, nodes: &DMatrix<f64>, want_grad: bool) -> f64 {
        let Some(mut general) = self.general.take() else {
            return f64::NAN;
        };
        let (n, k, field_stride) = (nodes.nrows(), self.k, self.k + 2);
        let components = &general.target.components;
        if let Some(degree) = homogeneity(self.kernel.activation()) {
            self.fill_fields(nodes, want_grad);
            let factor: f64 = components
                .iter()
                .map(|c| c.weight * c.scale.powi(degree))
                .sum();
            self.fields.iter_mut().for_each(|f| *f *= factor);
        } else {
            general.sum.clear();
            general.sum.resize(n * field_stride, 0.0);
            for component in components {
                let mut scaled = nodes.clone();
                scaled
                    .columns_mut(2, k + 1)
                    .iter_mut()
                    .for_each(|v| *v *= component.scale);
                self.fill_fields(&scaled, want_grad);
                for (sum, field) in general
                    .sum
                    .chunks_mut(field_stride)
                    .zip(self.fields.chunks(field_stride))
                {
                    sum[0] += component.weight * field[0];
                    for (s, f) in sum[1..].iter_mut().zip(&field[1..]) {
                        *s += component.weight * component.scale * f;
                    }
                }
            }
            self.fields.copy_from_slice(&general.sum);
        }
        general.values.resize(n, 0.0);
        let mut grad_p = vec![0.0; k];
        for j in 0..n {
            let p: Vec<f64> = (0..k).map(|c| nodes[(j, 2 + c)]).collect();
            let q = nodes[(j, 2 + k)];
            grad_p.iter_mut().for_each(|g| *g = 0.0);
            let (value, grad_q) = general.target.field(&self.kernel, &p, q, &mut grad_p);
            general.values[j] = value;
            let field = &mut self.fields[j * field_stride..(j + 1) * field_stride];
            field[0] -= value;
            if want_grad {
                for (f, g) in field[1..1 + k].iter_mut().zip(&grad_p) {
                    *f -= g;
                }
                field[1 + k] -= grad_q;
            }
        }
        let risk = self.zero_risk
            + ordered_sum(n, |j| {
                let value = general.values[j];
                let field = self.fields[j * field_stride] + value;
                nodes[(j, 0)] * nodes[(j, 1)] * (0.5 * field - value)
            });
        self.general = Some(general);
        risk
    }
}

/// h with K(s u, s v) = s^h K(u, v) for s > 0 (then grad_1 K(s u, s v) = s^(h-1) grad_1 K(u, v)
/// and the chain rule gives s^h): relu and linear 2, quadratic 4; None otherwise.
fn homogeneity(activation: Activation) -> Option<i32> {
    match activation {
        Activation::Relu | Activation::Linear => Some(2),
        Activation::Quadratic => Some(4),
        _ => None,
    }
}

impl GeneralTarget {
    fn validate(&self, activation: Activation, k: usize) -> crate::Result<()> {
        if self.components.is_empty() {
            return Err(Error::invalid("input components", 0, "at least 1"));
        }
        let mut total = 0.0;
        for c in &self.components {
            if !(c.weight.is_finite() && c.weight > 0.0) {
                return Err(Error::invalid("component weight", c.weight, "a weight > 0"));
            }
            if !(c.scale.is_finite() && c.scale > 0.0) {
                return Err(Error::invalid("component scale", c.scale, "a scale > 0"));
            }
            total += c.weight;
        }
        if (total - 1.0).abs() > 1e-12 {
            return Err(Error::invalid(
                "component weights",
                total,
                "weights summing to 1",
            ));
        }
        match &self.target {
            ReducedTarget::Teacher(rows) => validate_teacher_rows(rows, k),
            ReducedTarget::Label(labels) => self.validate_labels(labels, activation, k),
            ReducedTarget::Hermite(terms) => self.validate_hermite(terms, activation, k),
        }
    }

    fn validate_labels(
        &self,
        labels: &[f64],
        activation: Activation,
        k: usize,
    ) -> crate::Result<()> {
        if k != 0 {
            return Err(Error::invalid(
                "label target k",
                k,
                "0 (every rotation is a symmetry)",
            ));
        }
        if labels.len() != self.components.len() {
            return Err(Error::invalid(
                "labels",
                labels.len(),
                format!("one per component ({})", self.components.len()),
            ));
        }
        if labels.iter().any(|y| !y.is_finite()) {
            return Err(Error::invalid(
                "labels",
                "a non-finite label",
                "finite labels",
            ));
        }
        if activation == Activation::Softplus {
            return Err(Error::invalid(
                "model.activation",
                "\"softplus\"",
                "relu, erf, tanh, sigmoid, linear or quadratic for a label target in the limit \
                 (E softplus(r z) has no closed form here)",
            ));
        }
        Ok(())
    }

    fn validate_hermite(
        &self,
        terms: &[ReducedHermiteTerm],
        activation: Activation,
        k: usize,
    ) -> crate::Result<()> {
        if self.components != [ScaledComponent::STANDARD] {
            return Err(Error::invalid(
                "input.law",
                "scaled or mixture inputs",
                "standard Gaussian inputs for a Hermite target in the limit (the Hermite basis is \
                 orthonormal under N(0, I) only)",
            ));
        }
        if !matches!(
            activation,
            Activation::Relu | Activation::Erf | Activation::Linear | Activation::Quadratic
        ) {
            return Err(Error::invalid(
                "model.activation",
                format!("\"{}\"", activation.name()),
                "relu, erf, linear or quadratic for a Hermite target in the limit (the closed \
                 forms of E sigma^(j)(r z))",
            ));
        }
        for t in terms {
            if t.slot >= k || !t.coef.is_finite() || t.degree > MAX_HERMITE_DEGREE {
                return Err(Error::invalid(
                    "Hermite term",
                    format!("{t:?}"),
                    format!(
                        "a slot below k = {k}, a finite coefficient, a degree <= \
                         {MAX_HERMITE_DEGREE}"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// E f*^2 under the inputs.
    fn second_moment(&self, kernel: &PairKernel) -> f64 {
        match &self.target {
            ReducedTarget::Teacher(rows) => {
                let count = rows.nrows();
                if count == 0 {
                    return 0.0;
                }
                let mut sum = 0.0;
                for c in &self.components {
                    let s2 = c.scale * c.scale;
                    for i in 0..count {
                        for l in 0..count {
                            let (pi, pl) = (teacher_p(rows, i), teacher_p(rows, l));
                            sum += c.weight
                                * rows[(i, 0)]
                                * rows[(l, 0)]
                                * kernel.value(
                                    s2 * dot(&pi, &pi),
                                    s2 * dot(&pl, &pl),
                                    s2 * dot(&pi, &pl),
                                );
                        }
                    }
                }
                sum / (count * count) as f64
            }
            ReducedTarget::Label(labels) => self
                .components
                .iter()
                .zip(labels)
                .map(|(c, y)| c.weight * y * y)
                .sum(),
            ReducedTarget::Hermite(terms) => {
                let mut sum = 0.0;
                for s in terms {
                    for t in terms {
                        if s.degree == t.degree && s.slot == t.slot {
                            sum += s.coef * t.coef;
                        }
                    }
                }
                sum
            }
        }
    }

    /// V(p, q) = E[f*(x) sigma(w.x)] and its gradient: dV/dp added to `grad_p`, dV/dq returned
    /// with V.
    fn field(&self, kernel: &PairKernel, p: &[f64], q: f64, grad_p: &mut [f64]) -> (f64, f64) {
        let uu = dot(p, p) + q * q;
        let activation = kernel.activation();
        match &self.target {
            ReducedTarget::Teacher(rows) => self.teacher_field(kernel, rows, (p, q), grad_p),
            ReducedTarget::Label(labels) => {
                let r = uu.sqrt();
                let (mut value, mut slope) = (0.0, 0.0);
                for (c, y) in self.components.iter().zip(labels) {
                    let (g, g_over) = radial_mean(activation, c.scale * r);
                    value += c.weight * y * g;
                    slope += c.weight * y * c.scale * c.scale * g_over;
                }
                grad_p
                    .iter_mut()
                    .zip(p)
                    .for_each(|(g, pi)| *g += slope * pi);
                (value, slope * q)
            }
            ReducedTarget::Hermite(terms) => {
                let r = uu.sqrt();
                let (mut value, mut slope) = (0.0, 0.0);
                for t in terms {
                    let (moment, moment_over) = stein_moment(activation, t.degree, r);
                    let b = t.coef / hermite_norm(t.degree);
                    let x = p[t.slot];
                    let power = x.powi(t.degree as i32);
                    value += b * power * moment;
                    slope += b * power * moment_over;
                    if t.degree > 0 {
                        grad_p[t.slot] +=
                            b * f64::from(t.degree) * x.powi(t.degree as i32 - 1) * moment;
                    }
                }
                grad_p
                    .iter_mut()
                    .zip(p)
                    .for_each(|(g, pi)| *g += slope * pi);
                (value, slope * q)
            }
        }
    }

    /// The teacher field averaged over the components (K at scaled arguments; the chain rule
    /// gives s^2 on grad_1 K).
    fn teacher_field(
        &self,
        kernel: &PairKernel,
        rows: &DMatrix<f64>,
        (p, q): (&[f64], f64),
        grad_p: &mut [f64],
    ) -> (f64, f64) {
        let count = rows.nrows();
        if count == 0 {
            return (0.0, 0.0);
        }
        let uu = dot(p, p) + q * q;
        let (mut value, mut coef_u) = (0.0, 0.0);
        for c in &self.components {
            let s2 = c.scale * c.scale;
            for i in 0..count {
                let p_star = teacher_p(rows, i);
                let a_star = rows[(i, 0)] / count as f64;
                let terms = kernel.terms(s2 * uu, s2 * dot(&p_star, &p_star), s2 * dot(p, &p_star));
                value += c.weight * a_star * terms.value;
                coef_u += c.weight * a_star * s2 * terms.coef_u;
                for (g, ps) in grad_p.iter_mut().zip(&p_star) {
                    *g += c.weight * a_star * s2 * terms.coef_v * ps;
                }
            }
        }
        grad_p
            .iter_mut()
            .zip(p)
            .for_each(|(g, pi)| *g += coef_u * pi);
        (value, coef_u * q)
    }
}

fn validate_teacher_rows(rows: &DMatrix<f64>, k: usize) -> crate::Result<()> {
    if rows.ncols() != k + 1 || rows.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "teacher rows",
            format!("{} columns", rows.ncols()),
            format!("1 + k = {} finite columns (a*, p*)", k + 1),
        ));
    }
    Ok(())
}

fn teacher_p(rows: &DMatrix<f64>, i: usize) -> Vec<f64> {
    (1..rows.ncols()).map(|c| rows[(i, c)]).collect()
}

const INV_SQRT_TWO_PI: f64 = 0.398_942_280_401_432_7;

/// (g(t), g'(t)/t) for g(t) = E sigma(t z), z ~ N(0, 1), t >= 0: relu t/sqrt(2 pi); quadratic
/// t^2; sigmoid 1/2; erf, tanh, linear 0 (odd). relu's g'(t)/t is set to 0 at t = 0 (the
/// subgradient 0 of |w| at w = 0). Softplus is refused before this is called (NaN).
pub(crate) fn radial_mean(activation: Activation, t: f64) -> (f64, f64) {
    match activation {
        Activation::Relu => {
            let over = if t > 0.0 { INV_SQRT_TWO_PI / t } else { 0.0 };
            (INV_SQRT_TWO_PI * t, over)
        }
        Activation::Quadratic => (t * t, 2.0),
        Activation::Sigmoid => (0.5, 0.0),
        Activation::Erf | Activation::Tanh | Activation::Linear => (0.0, 0.0),
        Activation::Softplus => (f64::NAN, f64::NAN),
    }
}

/// (q_j(r), q_j'(r)/r) for q_j(r) = E[sigma^(j)(r z)], z ~ N(0, 1) (Stein:
/// E[sigma(w.x) He_j(e.x)] = (w.e)^j q_j(|w|) for a unit e), from E sigma(m + r z) in closed
/// form differentiated j times in m at 0:
///
/// ```text
/// relu:      q_0 = r / sqrt(2 pi), q_1 = 1/2, q_j = He_(j-2)(0) / (sqrt(2 pi) r^(j-1)) (j >= 2)
/// erf:       q_j = sqrt(2/pi) He_(j-1)(0) (1 + r^2)^(-j/2) (odd j; 0 for even j)
/// linear:    q_1 = 1;   quadratic: q_0 = r^2, q_2 = 2;   every other q_j = 0
/// ```
///
/// At r = 0 relu's q_j (j = 0 or j >= 2) give (0, 0): (w.e)^j q_j(|w|) -> 0 there. Other
/// activations are refused before this is called (NaN).
pub(crate) fn stein_moment(activation: Activation, degree: u32, r: f64) -> (f64, f64) {
    let j = f64::from(degree);
    match (activation, degree) {
        (Activation::Relu, 0) => radial_mean(Activation::Relu, r),
        (Activation::Relu, 1) => (0.5, 0.0),
        (Activation::Relu, _) => {
            let c = hermite(degree - 2, 0.0) * INV_SQRT_TWO_PI;
            if r > 0.0 && c != 0.0 {
                let value = c / r.powi(degree as i32 - 1);
                (value, -(j - 1.0) * value / (r * r))
            } else {
                (0.0, 0.0)
            }
        }
        (Activation::Erf, _) if degree % 2 == 1 => {
            let c = (2.0 / std::f64::consts::PI).sqrt() * hermite(degree - 1, 0.0);
            let base = 1.0 + r * r;
            let value = c * base.powf(-0.5 * j);
            (value, -j * value / base)
        }
        (Activation::Erf, _) => (0.0, 0.0),
        (Activation::Linear, 1) => (1.0, 0.0),
        (Activation::Linear, _) => (0.0, 0.0),
        (Activation::Quadratic, 0) => (r * r, 2.0),
        (Activation::Quadratic, 2) => (2.0, 0.0),
        (Activation::Quadratic, _) => (0.0, 0.0),
        _ => (f64::NAN, f64::NAN),
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
