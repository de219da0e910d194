//! The orbit-averaged pair kernel of the symmetry reduction (issue 22; docs/math.md section 3
//! for K and grad_1 K).
//!
//! With k orthonormal teacher directions spanning T (the first k coordinates) and
//! n = d - k >= 1, a measure invariant under the rotations of the complement of T is described by
//! reduced points (p, q): p in R^k the projection of w on T, q = |w_perp| >= 0. Two points
//! drawn independently on the orbits of (p, q) and (p', q') are u = (p, q e), v = (p', q' e')
//! with e, e' independent and uniform on S^(n-1), so
//!
//! ```text
//! |u|^2 = |p|^2 + q^2,   |v|^2 = |p'|^2 + q'^2,   u.v = p.p' + q q' c,   c = e.e'
//! ```
//!
//! and c has the density proportional to (1 - c^2)^((n-3)/2) on [-1, 1] (n >= 2; for n = 1 two
//! atoms at +-1 with weight 1/2 each). The orbit kernel is
//!
//! ```text
//! Kbar((p, q), (p', q')) = E_c K(|p|^2 + q^2, |p'|^2 + q'^2, p.p' + q q' c)
//! ```
//!
//! Derivatives in the first argument. K depends on u only through uu = |u|^2 and uv = u.v,
//! and grad_1 K = c_v v + c_u u means c_v = dK/d(uv), c_u = 2 dK/d(uu). With
//! uu = |p|^2 + q^2 and uv = p.p' + q q' c (c fixed, its law independent of (p, q)):
//!
//! ```text
//! dK/dp = c_u p + c_v p',          dKbar/dp = E_c[c_v] p' + E_c[c_u] p
//! dK/dq = c_u q + c_v q' c,        dKbar/dq = E_c[c_v c] q' + E_c[c_u] q
//! ```
//!
//! ([`OrbitTerms`] holds the four means.) The c law is symmetric, so Kbar is even in q and at
//! q = 0 (where c_v does not depend on c) dKbar/dq = 0. relu keeps the kernel's conventions
//! (docs/math.md section 3): at u = 0 (p = 0, q = 0) c_u = 0, a subgradient.
//!
//! # The rule in c
//!
//! [`AngleRule`]: n = 1, the two atoms; n = 2, Gauss-Chebyshev (nodes cos((2i - 1) pi / (2N)),
//! weights 1/N); n >= 3, Gauss-Jacobi with alpha = beta = (n - 3)/2 by Golub-Welsch (`math::gauss::jacobi_symmetric`, made exactly symmetric): the
//! eigenvalues of the symmetric tridiagonal Jacobi matrix (zero diagonal, off-diagonal
//! b_i = sqrt(i (i + 2a) / ((2i + 2a)^2 - 1))) are the nodes, the squared first components of
//! its normalised eigenvectors the weights, which then sum to 1. The rule with N nodes is
//! exact for polynomials in c of degree 2N - 1. The kernels are analytic in c except where
//! the angle between u and v reaches 0 or pi (relu's (1 - cos)^(3/2) kink), which needs
//! p' parallel to p and c = +-1, at the end points where the Jacobi weight already vanishes
//! for n >= 4. [`AngleRule::DEFAULT_NODES`] = 24: measured worst error of Kbar against 256
//! nodes over 40 random pairs of norm about 1, k = 2 (tests/orbit.rs prints the table): erf
//! below 1e-15 for n = 2, 3, 6, 30; relu 1.9e-10 (n = 2), 4.5e-13 (n = 3), 2.8e-12 (n = 6),
//! below 1e-15 (n = 30). With 8 nodes: erf 7e-11, relu 1e-6 at worst. Pairs of nodes close to
//! parallel (|p|/q = |p'|/q', p parallel to p') bring relu's kink next to an end point and
//! converge more slowly.
//!
//! # The symmetric tile pass
//!
//! For relu and erf, `task::reduced_population` sums Kbar and its derivatives over all pairs
//! of reduced nodes with a crate-internal pass here (`run_tiles`): each unordered pair once,
//! 8 pairs per lane group with the angle nodes inside, in tiles of fixed size whose sums are
//! added in a fixed order (that module's documentation states the formulas and the
//! determinism).

use crate::error::Error;
use crate::math::activation::Activation;
use crate::math::kernel::{PairKernel, erf_lane, relu_lane};
use crate::math::simd::{dispatch, simd_variants};
use rayon::prelude::*;
use std::f64::consts::PI;

/// A quadrature rule for the cosine c between two independent uniform directions of S^(n-1).
#[derive(Clone, Debug, PartialEq)]
pub struct AngleRule {
    n: usize,
    nodes: Vec<f64>,
    weights: Vec<f64>,
}

impl AngleRule {
    /// Default number of nodes (see the module documentation for its error).
    pub const DEFAULT_NODES: usize = 24;

    /// The rule for complement dimension `n` >= 1 with `nodes` >= 1 nodes (ignored for n = 1,
    /// which has exactly the two atoms +-1).
    pub fn new(n: usize, nodes: usize) -> crate::Result<Self> {
        if n == 0 {
            return Err(Error::invalid(
                "complement dimension n = d - k",
                n,
                "at least 1",
            ));
        }
        if nodes == 0 {
            return Err(Error::invalid("angle nodes", nodes, "at least 1"));
        }
        let (nodes, weights) = match n {
            1 => (vec![-1.0, 1.0], vec![0.5, 0.5]),
            2 => {
                let count = nodes as f64;
                let nodes = (1..=nodes)
                    .rev()
                    .map(|i| ((2 * i - 1) as f64 * PI / (2.0 * count)).cos())
                    .collect();
                (nodes, vec![1.0 / count; count as usize])
            }
            _ => crate::math::gauss::jacobi_symmetric((n as f64 - 3.0) / 2.0, nodes)?,
        };
        Ok(Self { n, nodes, weights })
    }

    /// The rule with [`Self::DEFAULT_NODES`] nodes.
    pub fn with_default_nodes(n: usize) -> crate::Result<Self> {
        Self::new(n, Self::DEFAULT_NODES)
    }

    /// The complement dimension n.
    pub fn dimension(&self) -> usize {
        self.n
    }

    /// The nodes c_i in [-1, 1], increasing.
    pub fn nodes(&self) -> &[f64] {
        &self.nodes
    }

    /// The weights (positive, summing to 1).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Sum_i weight_i g(c_i).
    pub fn mean(&self, g: impl Fn(f64) -> f64) -> f64 {
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(&c, &weight)| weight * g(c))
            .sum()
    }
}

/// Kbar and the c-means that give its derivatives in the first argument.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrbitTerms {
    /// Kbar = E_c K.
    pub value: f64,
    /// `E_c[c_v]`: the coefficient of p' in dKbar/dp.
    pub coef_v: f64,
    /// `E_c[c_u]`: the coefficient of p in dKbar/dp and of q in dKbar/dq.
    pub coef_u: f64,
    /// `E_c[c_v c]`: the coefficient of q' in dKbar/dq.
    pub coef_v_cos: f64,
}

impl OrbitTerms {
    /// dKbar/dq = coef_v_cos q' + coef_u q.
    pub fn d_q(&self, q: f64, q_other: f64) -> f64 {
        self.coef_v_cos * q_other + self.coef_u * q
    }
}

/// The orbit kernel from uu = |p|^2 + q^2, vv = |p'|^2 + q'^2, pp = p.p' and qq = q q':
/// sum_i weight_i K(uu, vv, pp + qq c_i) and the means of [`OrbitTerms`]. Allocates nothing.
#[inline]
pub fn orbit_terms(
    kernel: &PairKernel,
    rule: &AngleRule,
    uu: f64,
    vv: f64,
    pp: f64,
    qq: f64,
) -> OrbitTerms {
    let mut out = OrbitTerms {
        value: 0.0,
        coef_v: 0.0,
        coef_u: 0.0,
        coef_v_cos: 0.0,
    };
    for (&c, &weight) in rule.nodes.iter().zip(&rule.weights) {
        let terms = kernel.terms(uu, vv, pp + qq * c);
        out.value += weight * terms.value;
        out.coef_v += weight * terms.coef_v;
        out.coef_u += weight * terms.coef_u;
        out.coef_v_cos += weight * terms.coef_v * c;
    }
    out
}

/// Kbar((p, q), (p', q')) and its derivatives in the first argument, from the reduced points:
/// returns (Kbar, dKbar/dp, dKbar/dq). `p` and `p_other` must have the same length.
pub fn orbit_kernel(
    kernel: &PairKernel,
    rule: &AngleRule,
    (p, q): (&[f64], f64),
    (p_other, q_other): (&[f64], f64),
) -> (f64, Vec<f64>, f64) {
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
    let uu = dot(p, p) + q * q;
    let vv = dot(p_other, p_other) + q_other * q_other;
    let terms = orbit_terms(kernel, rule, uu, vv, dot(p, p_other), q * q_other);
    let grad_p = p
        .iter()
        .zip(p_other)
        .map(|(&pi, &oi)| terms.coef_v * oi + terms.coef_u * pi)
        .collect();
    (terms.value, grad_p, terms.d_q(q, q_other))
}

// The symmetric tile pass of `task::reduced_population` (relu and erf; see its module
// documentation): each unordered pair of reduced nodes once, 8 columns per lane group.

/// Nodes per lane group of the symmetric pass.
const LANES: usize = 8;
/// Rows (and columns) per tile of the symmetric pass: a constant multiple of [`LANES`], so the
/// tiling, and with it every sum, does not depend on the thread count.
const TILE: usize = 64;

/// The closed forms whose orbit terms the symmetric pass evaluates once per unordered pair.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Symmetric {
    /// relu.
    Relu,
    /// erf.
    Erf,
}

impl Symmetric {
    pub(crate) fn of(kernel: &PairKernel) -> Option<Self> {
        match (kernel.is_closed_form(), kernel.activation()) {
            (true, Activation::Relu) => Some(Self::Relu),
            (true, Activation::Erf) => Some(Self::Erf),
            _ => None,
        }
    }

    /// The factor turning sum_l w_l a_l `E_c[cross]` into sum_l w_l a_l `E_c[c_u]` for a row
    /// with |p|^2 + q^2 = `uu` (the kernel's coef_u, `math::pair_block`).
    pub(crate) fn cross_scale(self, uu: f64) -> f64 {
        match self {
            Self::Relu if uu > 0.0 => 1.0 / uu,
            Self::Relu => 0.0,
            Self::Erf => 1.0 / (1.0 + uu),
        }
    }
}

/// The nodes column by column for the symmetric pass, padded to a multiple of [`LANES`] with
/// massless nodes at the origin (their terms are finite and enter every sum times 0).
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeColumns {
    /// Padded length.
    pub(crate) len: usize,
    /// |p|^2 + q^2.
    sq_norms: Vec<f64>,
    /// w a.
    mass: Vec<f64>,
    q: Vec<f64>,
    /// w a q.
    mass_q: Vec<f64>,
    /// p, coordinate-major (k x len).
    p: Vec<f64>,
    /// w a p, coordinate-major (k x len).
    mass_p: Vec<f64>,
    /// The angle rule: nodes c_i, weights, weights times c_i.
    cos: Vec<f64>,
    weights: Vec<f64>,
    weighted_cos: Vec<f64>,
}

impl NodeColumns {
    pub(crate) fn fill(&mut self, packed: &[f64], count: usize, k: usize, rule: &AngleRule) {
        let len = count.div_ceil(LANES) * LANES;
        let stride = k + 3;
        self.len = len;
        for column in [
            &mut self.sq_norms,
            &mut self.mass,
            &mut self.q,
            &mut self.mass_q,
        ] {
            column.clear();
            column.resize(len, 0.0);
        }
        self.p.clear();
        self.p.resize(k * len, 0.0);
        self.mass_p.clear();
        self.mass_p.resize(k * len, 0.0);
        for j in 0..count {
            let row = &packed[j * stride..(j + 1) * stride];
            let (mass, p, q) = (row[0] * row[1], &row[2..2 + k], row[2 + k]);
            self.sq_norms[j] = p.iter().map(|x| x * x).sum::<f64>() + q * q;
            self.mass[j] = mass;
            self.q[j] = q;
            self.mass_q[j] = mass * q;
            for (d, &pd) in p.iter().enumerate() {
                self.p[d * len + j] = pd;
                self.mass_p[d * len + j] = mass * pd;
            }
        }
        self.cos.clear();
        self.cos.extend_from_slice(rule.nodes());
        self.weights.clear();
        self.weights.extend_from_slice(rule.weights());
        self.weighted_cos.clear();
        let weighted = rule.nodes().iter().zip(rule.weights()).map(|(c, w)| w * c);
        self.weighted_cos.extend(weighted);
    }

    fn lanes(column: &[f64], start: usize) -> &[f64; LANES] {
        const ZERO: [f64; LANES] = [0.0; LANES];
        <&[f64; LANES]>::try_from(&column[start..start + LANES]).unwrap_or(&ZERO)
    }
}

/// One tile of the symmetric pass: rows `rows.0..rows.0 + rows.1` against columns
/// `columns.0..columns.0 + columns.1` (both within the padded length, lengths multiples of
/// [`LANES`]).
#[derive(Clone, Copy)]
struct TileArgs<'a> {
    nodes: &'a NodeColumns,
    k: usize,
    rows: (usize, usize),
    columns: (usize, usize),
}

/// Per-row sums of a tile, in this order: sum w_l a_l `E_c[K]`, sum w_l a_l `E_c[cross]`,
/// sum w_l a_l q_l `E_c[c_v c]`, then sum w_l a_l p_l `E_c[c_v]` (k coordinates).
pub(crate) const FIXED_FIELDS: usize = 3;

/// For 8 columns l at once: sum_i weight_i of (K, c_v, c_v c_i, cross) at
/// uv = pp + qq c_i; `lane(uu, vv, uv)` gives (K, c_v, cross). Without `GRAD` only K.
#[inline(always)]
fn orbit_lanes<const GRAD: bool>(
    nodes: &NodeColumns,
    uu: f64,
    vv: &[f64; LANES],
    pp: &[f64; LANES],
    qq: &[f64; LANES],
    lane: impl Fn(f64, f64, f64) -> (f64, f64, f64),
) -> [[f64; LANES]; 4] {
    let mut sums = [[0.0; LANES]; 4];
    for ((&c, &weight), &weighted_cos) in nodes
        .cos
        .iter()
        .zip(&nodes.weights)
        .zip(&nodes.weighted_cos)
    {
        for i in 0..LANES {
            let (value, coef_v, cross) = lane(uu, vv[i], pp[i] + qq[i] * c);
            sums[0][i] += weight * value;
            if !GRAD {
                continue;
            }
            sums[1][i] += weight * coef_v;
            sums[2][i] += weighted_cos * coef_v;
            sums[3][i] += weight * cross;
        }
    }
    sums
}

/// `out[i] += scale[i] * values[i]` over one lane group.
#[inline(always)]
fn add_scaled(out: &mut [f64], scale: &[f64; LANES], values: &[f64; LANES]) {
    for ((o, s), v) in out.iter_mut().zip(scale).zip(values) {
        *o += s * v;
    }
}

/// `out[i] += scale * values[i]` over one lane group.
#[inline(always)]
fn add_broadcast(out: &mut [f64], scale: f64, values: &[f64; LANES]) {
    for (o, v) in out.iter_mut().zip(values) {
        *o += scale * v;
    }
}

/// The tile pass. For each row j and lane group of columns l it forms the orbit sums of the
/// 8 pairs (j, l); the row sums of j gather them times the column's masses in 8 lanes (added in
/// order at the end of the row), and with `COLUMNS` the column sums of l (field-major, stride
/// [`TILE`]) gather them times the row's masses, rows in order.
#[inline(always)]
fn tile_pass<const COLUMNS: bool, const GRAD: bool>(
    args: TileArgs<'_>,
    row_sums: &mut [f64],
    column_sums: &mut [f64],
    lane: impl Fn(f64, f64, f64) -> (f64, f64, f64) + Copy,
) {
    let TileArgs {
        nodes,
        k,
        rows,
        columns,
    } = args;
    let (len, fields) = (nodes.len, FIXED_FIELDS + k);
    let mut lanes = vec![0.0; fields * LANES];
    let mut row_p = vec![0.0; k];
    for (offset, j) in (rows.0..rows.0 + rows.1).enumerate() {
        lanes.iter_mut().for_each(|v| *v = 0.0);
        let (uu, mass, q) = (nodes.sq_norms[j], nodes.mass[j], nodes.q[j]);
        for (d, pd) in row_p.iter_mut().enumerate() {
            *pd = nodes.p[d * len + j];
        }
        for local in (0..columns.1).step_by(LANES) {
            let l = columns.0 + local;
            let mut pp = [0.0; LANES];
            for (d, &pd) in row_p.iter().enumerate() {
                add_broadcast(&mut pp, pd, NodeColumns::lanes(&nodes.p, d * len + l));
            }
            let q_other = NodeColumns::lanes(&nodes.q, l);
            let qq: [f64; LANES] = std::array::from_fn(|i| q * q_other[i]);
            let vv = NodeColumns::lanes(&nodes.sq_norms, l);
            let sums = orbit_lanes::<GRAD>(nodes, uu, vv, &pp, &qq, lane);
            let masses = NodeColumns::lanes(&nodes.mass, l);
            add_scaled(&mut lanes[..LANES], masses, &sums[0]);
            if COLUMNS {
                add_broadcast(&mut column_sums[local..local + LANES], mass, &sums[0]);
            }
            if GRAD {
                add_gradient_sums::<COLUMNS>(
                    nodes,
                    (l, local),
                    (mass, q, &row_p),
                    &sums,
                    &mut lanes,
                    column_sums,
                );
            }
        }
        for (f, sum) in row_sums[offset * fields..(offset + 1) * fields]
            .iter_mut()
            .enumerate()
        {
            *sum = lanes[f * LANES..(f + 1) * LANES].iter().sum();
        }
    }
}

/// The gradient sums of one lane group (fields 1.. of [`FIXED_FIELDS`]): into the row's
/// `lanes` times the columns' masses, and with `COLUMNS` into the columns' sums at `local`
/// times the row's mass (`row` = (w a, q, p) of the row).
#[inline(always)]
fn add_gradient_sums<const COLUMNS: bool>(
    nodes: &NodeColumns,
    (l, local): (usize, usize),
    (mass, q, row_p): (f64, f64, &[f64]),
    [_, coef_v, coef_v_cos, cross]: &[[f64; LANES]; 4],
    lanes: &mut [f64],
    column_sums: &mut [f64],
) {
    let len = nodes.len;
    add_scaled(
        &mut lanes[LANES..2 * LANES],
        NodeColumns::lanes(&nodes.mass, l),
        cross,
    );
    add_scaled(
        &mut lanes[2 * LANES..3 * LANES],
        NodeColumns::lanes(&nodes.mass_q, l),
        coef_v_cos,
    );
    for d in 0..row_p.len() {
        let mass_p = NodeColumns::lanes(&nodes.mass_p, d * len + l);
        let start = (FIXED_FIELDS + d) * LANES;
        add_scaled(&mut lanes[start..start + LANES], mass_p, coef_v);
    }
    if COLUMNS {
        let at = |field: usize| field * TILE + local;
        add_broadcast(&mut column_sums[at(1)..at(1) + LANES], mass, cross);
        add_broadcast(&mut column_sums[at(2)..at(2) + LANES], mass * q, coef_v_cos);
        for (d, &pd) in row_p.iter().enumerate() {
            let start = at(FIXED_FIELDS + d);
            add_broadcast(&mut column_sums[start..start + LANES], mass * pd, coef_v);
        }
    }
}

/// relu: (K, c_v, cross) with cross = |u||v| sin(phi) / (2 pi), c_u = cross / |u|^2.
#[inline(always)]
fn relu_tile<const COLUMNS: bool, const GRAD: bool>(
    args: TileArgs<'_>,
    rows: &mut [f64],
    columns: &mut [f64],
) {
    tile_pass::<COLUMNS, GRAD>(args, rows, columns, relu_lane);
}

/// erf: (K, c_v, cross) with cross = -c_v u.v, c_u = cross / (1 + |u|^2).
#[inline(always)]
fn erf_tile<const COLUMNS: bool, const GRAD: bool>(
    args: TileArgs<'_>,
    rows: &mut [f64],
    columns: &mut [f64],
) {
    tile_pass::<COLUMNS, GRAD>(args, rows, columns, |uu, vv, uv| {
        let (value, coef_v) = erf_lane(uu, vv, uv);
        (value, coef_v, -coef_v * uv)
    });
}

macro_rules! tile_variants {
    (
        $name:ident,
        $tile:ident,
        $columns:literal,
        $grad:literal,
        $plain:ident,
        $avx512:ident,
        $avx2:ident
    ) => {
        #[inline(always)]
        fn $plain(args: TileArgs<'_>, rows: &mut [f64], columns: &mut [f64]) {
            $tile::<$columns, $grad>(args, rows, columns);
        }

        fn $name(args: TileArgs<'_>, rows: &mut [f64], columns: &mut [f64]) {
            dispatch!($plain, $avx512, $avx2, (args, rows, columns))
        }
        simd_variants!(
            $plain,
            $avx512,
            $avx2,
            (args: TileArgs<'_>, rows: &mut [f64], columns: &mut [f64]) -> ()
        );
    };
}

tile_variants!(
    relu_rows,
    relu_tile,
    false,
    true,
    relu_rows_plain,
    relu_rows_avx512,
    relu_rows_avx2
);
tile_variants!(
    relu_both,
    relu_tile,
    true,
    true,
    relu_both_plain,
    relu_both_avx512,
    relu_both_avx2
);
tile_variants!(
    erf_rows,
    erf_tile,
    false,
    true,
    erf_rows_plain,
    erf_rows_avx512,
    erf_rows_avx2
);
tile_variants!(
    erf_both,
    erf_tile,
    true,
    true,
    erf_both_plain,
    erf_both_avx512,
    erf_both_avx2
);
tile_variants!(
    relu_rows_value,
    relu_tile,
    false,
    false,
    relu_rows_value_plain,
    relu_rows_value_avx512,
    relu_rows_value_avx2
);
tile_variants!(
    relu_both_value,
    relu_tile,
    true,
    false,
    relu_both_value_plain,
    relu_both_value_avx512,
    relu_both_value_avx2
);
tile_variants!(
    erf_rows_value,
    erf_tile,
    false,
    false,
    erf_rows_value_plain,
    erf_rows_value_avx512,
    erf_rows_value_avx2
);
tile_variants!(
    erf_both_value,
    erf_tile,
    true,
    false,
    erf_both_value_plain,
    erf_both_value_avx512,
    erf_both_value_avx2
);

/// The tiles (a, b), a <= b, of `blocks` blocks of [`TILE`] nodes, in order.
fn tile_pairs(blocks: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..blocks).flat_map(move |a| (a..blocks).map(move |b| (a, b)))
}

/// The index of tile (a, b), a <= b, in [`tile_pairs`].
fn tile_index(blocks: usize, a: usize, b: usize) -> usize {
    a * blocks - a * a.saturating_sub(1) / 2 + (b - a)
}

/// Where each tile of the symmetric pass keeps its sums: tile (a, b) holds TILE rows of a
/// (row-major, `fields` per row), then TILE columns of b (field-major).
pub(crate) struct TileLayout {
    /// Padded node count.
    len: usize,
    blocks: usize,
    pub(crate) fields: usize,
}

impl TileLayout {
    pub(crate) fn new(len: usize, fields: usize) -> Self {
        Self {
            len,
            blocks: len.div_ceil(TILE),
            fields,
        }
    }

    fn tile_len(&self) -> usize {
        2 * TILE * self.fields
    }

    /// The nodes of a block: (start, length).
    fn span(&self, block: usize) -> (usize, usize) {
        let start = block * TILE;
        (start, TILE.min(self.len - start))
    }

    /// The sums of row j over all columns: the column parts of tiles (a, b) for a < b, then
    /// the row parts of tiles (b, c) for c >= b, b the block of j.
    pub(crate) fn gather(&self, tiles: &[f64], j: usize, sums: &mut [f64]) {
        let (b, offset) = (j / TILE, j % TILE);
        let (tile_len, rows_len) = (self.tile_len(), TILE * self.fields);
        sums.iter_mut().for_each(|s| *s = 0.0);
        for a in 0..b {
            let start = tile_index(self.blocks, a, b) * tile_len + rows_len;
            for (f, sum) in sums.iter_mut().enumerate() {
                *sum += tiles[start + f * TILE + offset];
            }
        }
        for c in b..self.blocks {
            let start = tile_index(self.blocks, b, c) * tile_len + offset * self.fields;
            for (sum, value) in sums.iter_mut().zip(&tiles[start..start + self.fields]) {
                *sum += value;
            }
        }
    }
}

/// Runs every tile (a, b), a <= b, one parallel task each, into `tiles`: diagonal tiles sum
/// all their ordered pairs into the rows, the others each unordered pair once into both;
/// without `want_grad` only the value sums (the others stay 0).
pub(crate) fn run_tiles(
    shape: Symmetric,
    nodes: &NodeColumns,
    k: usize,
    layout: &TileLayout,
    want_grad: bool,
    tiles: &mut Vec<f64>,
) {
    let pairs: Vec<(usize, usize)> = tile_pairs(layout.blocks).collect();
    tiles.clear();
    tiles.resize(pairs.len() * layout.tile_len(), 0.0);
    tiles
        .par_chunks_mut(layout.tile_len())
        .zip(pairs.par_iter())
        .for_each(|(out, &(a, b))| {
            let (rows, columns) = out.split_at_mut(TILE * layout.fields);
            let args = TileArgs {
                nodes,
                k,
                rows: layout.span(a),
                columns: layout.span(b),
            };
            let pass = match (shape, a == b, want_grad) {
                (Symmetric::Relu, true, true) => relu_rows,
                (Symmetric::Relu, false, true) => relu_both,
                (Symmetric::Erf, true, true) => erf_rows,
                (Symmetric::Erf, false, true) => erf_both,
                (Symmetric::Relu, true, false) => relu_rows_value,
                (Symmetric::Relu, false, false) => relu_both_value,
                (Symmetric::Erf, true, false) => erf_rows_value,
                (Symmetric::Erf, false, false) => erf_both_value,
            };
            pass(args, rows, columns);
        });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn golub_welsch_legendre_three_nodes() {
        // n = 3: uniform c on [-1, 1]; 3-point Gauss-Legendre nodes 0, +-sqrt(3/5), weights
        // 5/18, 8/18, 5/18.
        let rule = AngleRule::new(3, 3).unwrap();
        let expected = [-(0.6f64).sqrt(), 0.0, 0.6f64.sqrt()];
        for (c, e) in rule.nodes().iter().zip(expected) {
            assert!((c - e).abs() < 1e-14, "{c} {e}");
        }
        for (w, e) in rule
            .weights()
            .iter()
            .zip([5.0 / 18.0, 8.0 / 18.0, 5.0 / 18.0])
        {
            assert!((w - e).abs() < 1e-14, "{w} {e}");
        }
    }

    #[test]
    fn refuses_n_zero_and_no_nodes() {
        assert!(AngleRule::new(0, 8).is_err());
        assert!(AngleRule::new(4, 0).is_err());
    }
}
