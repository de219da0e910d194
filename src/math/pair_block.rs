//! The elementwise pass of the population interaction over one block of particle pairs
//! (docs/math.md section 3), used by `task::population` on the tiles of the Gram matrix.
//!
//! K, the angle and coef_v are symmetric in the pair, so one evaluation of a pair (j, l) serves
//! both rows: for an off-diagonal block J x L the pass adds a_l K(w_j, w_l) to row j and
//! a_j K(w_j, w_l) to row l, and likewise for the coef_u sums. coef_u itself is not symmetric,
//! but for relu and erf it is a symmetric "cross" term divided by a function of the row alone:
//!
//! ```text
//! relu: coef_u(u, v) = |u||v| sin(phi) / (2 pi) / |u|^2      (0 for u = 0)
//! erf:  coef_u(u, v) = -coef_v(u, v) u.v / (1 + |u|^2)
//! ```
//!
//! so the pass accumulates sum_l a_l cross(j, l) and the caller multiplies by
//! [`PairKernel::cross_scale`]. Other activations carry coef_u(j, l) and coef_u(l, j)
//! (two kernel evaluations per pair, scale 1).
//!
//! Lanes of 8 pairs run without branches and are compiled for the widest vector unit of the
//! CPU (`math::simd`); every path performs the same operations in the same order, so results
//! are bit-identical on every CPU and thread count.

use crate::math::activation::Activation;
use crate::math::expansion::{self, ExpandedTerms, Expansion, ParticleFeatures};
use crate::math::kernel::{PairKernel, erf_lane, relu_lane};
use crate::math::simd::{dispatch, simd_variants};

/// Pairs per lane group.
const LANES: usize = 8;

/// Row sums of one block pass: for each row j of the block, sum_l a_l K(w_j, w_l) and
/// sum_l a_l cross(j, l).
pub struct RowSums<'a> {
    /// sum_l a_l K(w_j, w_l), added to.
    pub value: &'a mut [f64],
    /// sum_l a_l cross(j, l), added to.
    pub cross: &'a mut [f64],
}

/// One side of a block: squared norms and output weights of its particles, and for the
/// smooth activations the Mehler features of all particles (`math::expansion`).
#[derive(Clone, Copy)]
pub struct Side<'a> {
    /// |w|^2 per particle.
    pub sq_norms: &'a [f64],
    /// a per particle.
    pub a: &'a [f64],
    /// The features of every particle (None: the quadrature for every pair).
    pub features: Option<&'a ParticleFeatures>,
    /// The index of this side's first particle in `features`.
    pub first: usize,
}

impl<'a> Side<'a> {
    /// A side without features.
    pub fn plain(sq_norms: &'a [f64], a: &'a [f64]) -> Self {
        Self {
            sq_norms,
            a,
            features: None,
            first: 0,
        }
    }
}

impl PairKernel {
    /// The factor that turns the row sum of cross terms into sum_l a_l coef_u(w_j, w_l), for a
    /// row with |w_j|^2 = `uu` (see the module documentation).
    pub fn cross_scale(&self, uu: f64) -> f64 {
        if !self.is_closed_form() {
            return 1.0;
        }
        match self.activation() {
            Activation::Relu => {
                if uu > 0.0 {
                    1.0 / uu
                } else {
                    0.0
                }
            }
            Activation::Erf => 1.0 / (1.0 + uu),
            _ => 1.0,
        }
    }

    /// A diagonal block J x J: `gram` (column-major |J| x |J|) holds w_j . w_l with the
    /// diagonal set to |w_j|^2 exactly; adds the sums over l in J to `rows` and overwrites
    /// `gram` with coef_v(w_j, w_l).
    pub fn diagonal_block(&self, side: Side<'_>, gram: &mut [f64], rows: RowSums<'_>) {
        self.block::<false>(side, side, gram, rows, None);
    }

    /// An off-diagonal block J x L: `gram` (column-major |J| x |L|) holds w_j . w_l; adds the
    /// sums over l in L to `rows` (of J) and the sums over j in J to `columns` (of L), and
    /// overwrites `gram` with coef_v(w_j, w_l).
    pub fn symmetric_block(
        &self,
        rows_side: Side<'_>,
        columns_side: Side<'_>,
        gram: &mut [f64],
        rows: RowSums<'_>,
        columns: RowSums<'_>,
    ) {
        self.block::<true>(rows_side, columns_side, gram, rows, Some(columns));
    }

    #[inline(always)]
    fn block<const COLUMNS: bool>(
        &self,
        rows_side: Side<'_>,
        columns_side: Side<'_>,
        gram: &mut [f64],
        rows: RowSums<'_>,
        columns: Option<RowSums<'_>>,
    ) {
        let mut empty_value = [];
        let mut empty_cross = [];
        let columns = columns.unwrap_or(RowSums {
            value: &mut empty_value,
            cross: &mut empty_cross,
        });
        let args = (rows_side, columns_side, gram, rows, columns);
        if let (Some(expansion), Some(_), Some(_)) =
            (self.expansion(), rows_side.features, columns_side.features)
        {
            return expansion_block::<COLUMNS>(self, expansion, args);
        }
        match (self.is_closed_form(), self.activation()) {
            (true, Activation::Relu) => relu_block::<COLUMNS>(args),
            (true, Activation::Erf) => erf_block::<COLUMNS>(args),
            _ => block_pass::<COLUMNS>(args, |uu, vv, uv| {
                let forward = self.terms(uu, vv, uv);
                let backward = if COLUMNS {
                    self.terms(vv, uu, uv).coef_u
                } else {
                    0.0
                };
                (forward.value, forward.coef_v, forward.coef_u, backward)
            }),
        }
    }
}

type BlockArgs<'a, 'b> = (Side<'a>, Side<'a>, &'b mut [f64], RowSums<'b>, RowSums<'b>);

/// Rows per segment of a column: the column sums of a segment are staged in two stack
/// buffers of this length.
const SEGMENT: usize = 256;

/// The pass itself: `pair(uu, vv, uv)` gives (value, coef_v, cross for the row, cross for the
/// column). For each column l, one map over the rows j adds a_l K and a_l cross to the row sums
/// and stages a_j K and a_j cross; the column sums are then reduced over 8 lanes (lane i takes
/// the staged j = i mod 8 in order, segment by segment) and the lanes added in order.
#[inline(always)]
fn block_pass<const COLUMNS: bool>(
    (rows_side, columns_side, gram, rows, columns): BlockArgs<'_, '_>,
    pair: impl Fn(f64, f64, f64) -> (f64, f64, f64, f64),
) {
    let height = rows_side.a.len();
    if height == 0 {
        return;
    }
    let mut staged_value = [0.0; SEGMENT];
    let mut staged_cross = [0.0; SEGMENT];
    for (l, column) in gram.chunks_exact_mut(height).enumerate() {
        let (q_l, a_l) = (columns_side.sq_norms[l], columns_side.a[l]);
        let mut lane_value = [0.0; LANES];
        let mut lane_cross = [0.0; LANES];
        for (start, g) in (0..height).step_by(SEGMENT).zip(column.chunks_mut(SEGMENT)) {
            let len = g.len();
            let q = &rows_side.sq_norms[start..start + len];
            let a = &rows_side.a[start..start + len];
            let value = &mut rows.value[start..start + len];
            let cross = &mut rows.cross[start..start + len];
            let staged_value = &mut staged_value[..len];
            let staged_cross = &mut staged_cross[..len];
            // A map over the rows, with no reduction: the compiler vectorises it, and every
            // vector width gives the same bits.
            for j in 0..len {
                let (k, coef_v, x, y) = pair(q[j], q_l, g[j]);
                g[j] = coef_v;
                value[j] += a_l * k;
                cross[j] += a_l * x;
                if COLUMNS {
                    staged_value[j] = a[j] * k;
                    staged_cross[j] = a[j] * y;
                }
            }
            if COLUMNS {
                lane_add(&mut lane_value, staged_value);
                lane_add(&mut lane_cross, staged_cross);
            }
        }
        if COLUMNS {
            columns.value[l] += lane_value.iter().sum::<f64>();
            columns.cross[l] += lane_cross.iter().sum::<f64>();
        }
    }
}

/// Adds `values` to 8 lane sums: lane i takes the entries i mod 8, in order.
#[inline(always)]
fn lane_add(lanes: &mut [f64; LANES], values: &[f64]) {
    let (main, tail) = values.as_chunks::<LANES>();
    for chunk in main {
        for i in 0..LANES {
            lanes[i] += chunk[i];
        }
    }
    for (lane, v) in lanes.iter_mut().zip(tail) {
        *lane += v;
    }
}

/// relu: (value, coef_v, cross, cross) with cross = |u||v| sin(phi) / (2 pi).
#[inline(always)]
fn relu_pass<const COLUMNS: bool>(args: BlockArgs<'_, '_>) {
    block_pass::<COLUMNS>(args, |uu, vv, uv| {
        let (value, coef_v, cross) = relu_lane(uu, vv, uv);
        (value, coef_v, cross, cross)
    });
}

/// erf: (value, coef_v, cross, cross) with cross = -coef_v u.v.
#[inline(always)]
fn erf_pass<const COLUMNS: bool>(args: BlockArgs<'_, '_>) {
    block_pass::<COLUMNS>(args, |uu, vv, uv| {
        let (value, coef_v) = erf_lane(uu, vv, uv);
        let cross = -coef_v * uv;
        (value, coef_v, cross, cross)
    });
}

macro_rules! pass_variants {
    ($name:ident, $pass:ident, $columns:literal, $plain:ident, $avx512:ident, $avx2:ident) => {
        #[inline(always)]
        fn $plain(args: BlockArgs<'_, '_>) {
            $pass::<$columns>(args);
        }

        fn $name(args: BlockArgs<'_, '_>) {
            dispatch!($plain, $avx512, $avx2, (args))
        }
        simd_variants!($plain, $avx512, $avx2, (args: BlockArgs<'_, '_>) -> ());
    };
}

pass_variants!(
    relu_rows,
    relu_pass,
    false,
    relu_rows_plain,
    relu_rows_avx512,
    relu_rows_avx2
);
pass_variants!(
    relu_both,
    relu_pass,
    true,
    relu_both_plain,
    relu_both_avx512,
    relu_both_avx2
);
pass_variants!(
    erf_rows,
    erf_pass,
    false,
    erf_rows_plain,
    erf_rows_avx512,
    erf_rows_avx2
);
pass_variants!(
    erf_both,
    erf_pass,
    true,
    erf_both_plain,
    erf_both_avx512,
    erf_both_avx2
);

#[inline(always)]
fn relu_block<const COLUMNS: bool>(args: BlockArgs<'_, '_>) {
    if COLUMNS {
        relu_both(args);
    } else {
        relu_rows(args);
    }
}

#[inline(always)]
fn erf_block<const COLUMNS: bool>(args: BlockArgs<'_, '_>) {
    if COLUMNS {
        erf_both(args);
    } else {
        erf_rows(args);
    }
}

/// The smooth activations with features: the Mehler expansion of `math::expansion` on lanes of
/// 8 rows against C columns at a time (the rows' features loaded once for the C columns), each
/// pair that fails the truncation test by the quadrature (self pairs by their exact
/// one-dimensional integrals); then the sums as in [`block_pass`], each row receiving its
/// columns in increasing order. C changes no result (`expansion::block_terms`).
#[inline(always)]
fn expansion_pass<const COLUMNS: bool, const C: usize>(
    kernel: &PairKernel,
    expansion: &Expansion,
    (rows_side, columns_side, gram, rows, columns): BlockArgs<'_, '_>,
) {
    let height = rows_side.a.len();
    let (Some(row_features), Some(column_features)) = (rows_side.features, columns_side.features)
    else {
        return;
    };
    if height == 0 {
        return;
    }
    let width = gram.len() / height;
    let mut staged_value = [[0.0; SEGMENT]; C];
    let mut staged_cross = [[0.0; SEGMENT]; C];
    for l0 in (0..width).step_by(C) {
        let count = (width - l0).min(C);
        // Past the last column, the group repeats it; those results are discarded.
        let ls: [usize; C] = std::array::from_fn(|c| l0 + c.min(count - 1));
        let indices = ls.map(|l| columns_side.first + l);
        let inverse = indices.map(|l| column_features.inverse_norm(l));
        let mut lane_value = [[0.0; LANES]; C];
        let mut lane_cross = [[0.0; LANES]; C];
        for start in (0..height).step_by(SEGMENT) {
            let len = (height - start).min(SEGMENT);
            let first = rows_side.first + start;
            for j0 in (0..len).step_by(expansion::LANES) {
                let n = (len - j0).min(expansion::LANES);
                // Plain loops, not `array::from_fn`: its closures are compiled out of line,
                // without this function's target features (measured: a fifth of the pass).
                let mut rho = [[0.0f64; expansion::LANES]; C];
                for (c, rho_c) in rho.iter_mut().enumerate() {
                    for (i, r) in rho_c.iter_mut().enumerate().take(n) {
                        let inverse_j = row_features.inverse_norm(first + j0 + i);
                        let uv = gram[ls[c] * height + start + j0 + i];
                        *r = expansion::cosine(uv, inverse_j, inverse[c]);
                    }
                }
                let terms = expansion::block_terms::<C>(
                    expansion,
                    row_features,
                    first + j0,
                    column_features,
                    indices,
                    &rho,
                    n,
                );
                let whole = n == expansion::LANES && terms.ok[..count].iter().flatten().all(|&b| b);
                if whole {
                    // Every pair certified: the same operations on whole lanes.
                    let j = start + j0;
                    let a_rows: &[f64; expansion::LANES] = lanes_of(rows_side.a, j);
                    for c in 0..count {
                        let l = ls[c];
                        let a_l = columns_side.a[l];
                        let g: &mut [f64; expansion::LANES] = lanes_of_mut(gram, l * height + j);
                        *g = terms.coef_v[c];
                        let value: &mut [f64; expansion::LANES] = lanes_of_mut(rows.value, j);
                        for (v, t) in value.iter_mut().zip(&terms.value[c]) {
                            *v += a_l * t;
                        }
                        let cross: &mut [f64; expansion::LANES] = lanes_of_mut(rows.cross, j);
                        for (v, t) in cross.iter_mut().zip(&terms.coef_u[c]) {
                            *v += a_l * t;
                        }
                        if COLUMNS {
                            for i in 0..expansion::LANES {
                                staged_value[c][j0 + i] = a_rows[i] * terms.value[c][i];
                                staged_cross[c][j0 + i] = a_rows[i] * terms.coef_u_backward[c][i];
                            }
                        }
                    }
                    continue;
                }
                for i in 0..n {
                    let j = start + j0 + i;
                    let (q_j, a_j) = (rows_side.sq_norms[j], rows_side.a[j]);
                    for c in 0..count {
                        let l = ls[c];
                        let (q_l, a_l) = (columns_side.sq_norms[l], columns_side.a[l]);
                        let g = &mut gram[l * height + j];
                        let t = if terms.ok[c][i] {
                            terms.pair(c, i)
                        } else {
                            fallback::<COLUMNS>(kernel, row_features, first + j0 + i, q_j, q_l, *g)
                        };
                        *g = t.coef_v;
                        rows.value[j] += a_l * t.value;
                        rows.cross[j] += a_l * t.coef_u;
                        if COLUMNS {
                            staged_value[c][j - start] = a_j * t.value;
                            staged_cross[c][j - start] = a_j * t.coef_u_backward;
                        }
                    }
                }
            }
            if COLUMNS {
                for c in 0..count {
                    lane_add(&mut lane_value[c], &staged_value[c][..len]);
                    lane_add(&mut lane_cross[c], &staged_cross[c][..len]);
                }
            }
        }
        if COLUMNS {
            for c in 0..count {
                columns.value[ls[c]] += lane_value[c].iter().sum::<f64>();
                columns.cross[ls[c]] += lane_cross[c].iter().sum::<f64>();
            }
        }
    }
}

/// The 8 entries of `values` from `start`.
#[inline(always)]
fn lanes_of(values: &[f64], start: usize) -> &[f64; expansion::LANES] {
    values[start..start + expansion::LANES]
        .try_into()
        .unwrap_or_else(|_| unreachable!("a slice of LANES elements"))
}

/// The 8 entries of `values` from `start`, mutably.
#[inline(always)]
fn lanes_of_mut(values: &mut [f64], start: usize) -> &mut [f64; expansion::LANES] {
    (&mut values[start..start + expansion::LANES])
        .try_into()
        .unwrap_or_else(|_| unreachable!("a slice of LANES elements"))
}

/// A pair the expansion does not certify: a self pair (equal norms, u.v = |u|^2) by the row's
/// exact one-dimensional integrals, any other by the quadrature.
#[inline(never)]
fn fallback<const COLUMNS: bool>(
    kernel: &PairKernel,
    features: &ParticleFeatures,
    row: usize,
    uu: f64,
    vv: f64,
    uv: f64,
) -> ExpandedTerms {
    #[allow(
        clippy::float_cmp,
        reason = "a self pair is exact: u.v = |u|^2 = |v|^2"
    )]
    if uu == vv && uv == uu {
        return features.self_terms(row);
    }
    let forward = kernel.terms(uu, vv, uv);
    let coef_u_backward = if COLUMNS {
        kernel.terms(vv, uu, uv).coef_u
    } else {
        0.0
    };
    ExpandedTerms {
        value: forward.value,
        coef_v: forward.coef_v,
        coef_u: forward.coef_u,
        coef_u_backward,
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn expansion_avx512<const COLUMNS: bool>(
    kernel: &PairKernel,
    expansion: &Expansion,
    args: BlockArgs<'_, '_>,
) {
    expansion_pass::<COLUMNS, 4>(kernel, expansion, args);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn expansion_avx2<const COLUMNS: bool>(
    kernel: &PairKernel,
    expansion: &Expansion,
    args: BlockArgs<'_, '_>,
) {
    expansion_pass::<COLUMNS, 1>(kernel, expansion, args);
}

/// [`expansion_pass`] compiled for the widest vector unit with fused multiply-add, 4 columns at a
/// time with AVX-512's 32 registers, 1 with AVX2's 16 (2 columns spill the 16 accumulators to
/// the stack: 0.15 s against 0.133 s per pop1 tanh step on an AMD EPYC; the expansion's
/// `mul_add` is exactly rounded on every path, and the column count changes no operation, so
/// all give the same bits).
fn expansion_block<const COLUMNS: bool>(
    kernel: &PairKernel,
    expansion: &Expansion,
    args: BlockArgs<'_, '_>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        let fma = std::arch::is_x86_feature_detected!("fma");
        if fma && std::arch::is_x86_feature_detected!("avx512f") {
            #[allow(
                unsafe_code,
                reason = "the CPU was just checked to support AVX-512F and FMA"
            )]
            // SAFETY: avx512f and fma are available on this CPU.
            return unsafe { expansion_avx512::<COLUMNS>(kernel, expansion, args) };
        }
        if fma && std::arch::is_x86_feature_detected!("avx2") {
            #[allow(
                unsafe_code,
                reason = "the CPU was just checked to support AVX2 and FMA"
            )]
            // SAFETY: avx2 and fma are available on this CPU.
            return unsafe { expansion_avx2::<COLUMNS>(kernel, expansion, args) };
        }
    }
    expansion_pass::<COLUMNS, 1>(kernel, expansion, args);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::math::{InitLaw, Particles};

    /// Gram block of rows `rows` against columns `cols` (column-major), the self pairs exact.
    fn gram(t: &nalgebra::DMatrix<f64>, rows: &[usize], cols: &[usize]) -> Vec<f64> {
        let d = t.ncols() - 1;
        let mut g = Vec::new();
        for &l in cols {
            for &j in rows {
                let (wj, wl) = (t.row(j), t.row(l));
                g.push(if j == l {
                    wj.columns(1, d).norm_squared()
                } else {
                    wj.columns(1, d).dot(&wl.columns(1, d))
                });
            }
        }
        g
    }

    /// Both block passes against the pair-by-pair terms: coef_v bit for bit, row and column
    /// sums (after `cross_scale`) to the rounding of a reordered sum (4 n eps sum |terms|).
    /// Block sizes 13 and 21 exercise the lane tails; one particle has w = 0 (relu's phi := 0).
    #[test]
    fn block_passes_match_pair_by_pair_terms() {
        let (m, d) = (34, 5);
        let p = Particles::draw(m, d, &InitLaw::standard(d), 3).unwrap();
        let mut t = p.into_matrix();
        for c in 1..=d {
            t[(5, c)] = 0.0;
        }
        let q: Vec<f64> = (0..m)
            .map(|j| t.row(j).columns(1, d).norm_squared())
            .collect();
        let a: Vec<f64> = t.column(0).iter().copied().collect();
        let rows: Vec<usize> = (0..13).collect();
        let cols: Vec<usize> = (13..34).collect();
        for activation in Activation::ALL {
            let kernel = PairKernel::new(activation);
            // Off-diagonal block: rows 0..13 against columns 13..34.
            let mut block = gram(&t, &rows, &cols);
            let dots = block.clone();
            let (mut rv, mut rc) = (vec![0.0; 13], vec![0.0; 13]);
            let (mut cv, mut cc) = (vec![0.0; 21], vec![0.0; 21]);
            kernel.symmetric_block(
                Side::plain(&q[..13], &a[..13]),
                Side::plain(&q[13..], &a[13..]),
                &mut block,
                RowSums {
                    value: &mut rv,
                    cross: &mut rc,
                },
                RowSums {
                    value: &mut cv,
                    cross: &mut cc,
                },
            );
            let check = |sum: f64, scale: f64, expected: f64, bound: f64, what: &str| {
                assert!(
                    (sum * scale - expected).abs() <= bound,
                    "{activation} {what}: {} vs {expected}",
                    sum * scale
                );
            };
            for (jj, &j) in rows.iter().enumerate() {
                let (mut value, mut u, mut size) = (0.0, 0.0, 0.0);
                for (ll, &l) in cols.iter().enumerate() {
                    let terms = kernel.terms(q[j], q[l], dots[ll * 13 + jj]);
                    assert_eq!(block[ll * 13 + jj].to_bits(), terms.coef_v.to_bits());
                    value += a[l] * terms.value;
                    u += a[l] * terms.coef_u;
                    size += (a[l] * terms.value).abs() + (a[l] * terms.coef_u).abs();
                }
                let bound = 4.0 * 21.0 * f64::EPSILON * size + 1e-300;
                check(rv[jj], 1.0, value, bound, "row value");
                check(rc[jj], kernel.cross_scale(q[j]), u, bound, "row coef_u");
            }
            for (ll, &l) in cols.iter().enumerate() {
                let (mut value, mut u, mut size) = (0.0, 0.0, 0.0);
                for (jj, &j) in rows.iter().enumerate() {
                    let terms = kernel.terms(q[l], q[j], dots[ll * 13 + jj]);
                    value += a[j] * terms.value;
                    u += a[j] * terms.coef_u;
                    size += (a[j] * terms.value).abs() + (a[j] * terms.coef_u).abs();
                }
                let bound = 4.0 * 13.0 * f64::EPSILON * size + 1e-300;
                // A quadrature K(w_j, w_l) and K(w_l, w_j) agree to the kernel's error bound
                // (each is within it of the exact, symmetric K); the pass uses the first.
                let max_norm = q.iter().fold(0.0f64, |x, &v| x.max(v.sqrt()));
                let asymmetry = kernel.error_bound(max_norm).map_or(0.0, |e| {
                    2.0 * e * rows.iter().map(|&j| a[j].abs()).sum::<f64>()
                });
                check(cv[ll], 1.0, value, bound + asymmetry, "column value");
                check(cc[ll], kernel.cross_scale(q[l]), u, bound, "column coef_u");
            }
            // Diagonal block: rows 13..34 against themselves, self pairs included.
            let mut block = gram(&t, &cols, &cols);
            let dots = block.clone();
            let (mut rv, mut rc) = (vec![0.0; 21], vec![0.0; 21]);
            kernel.diagonal_block(
                Side::plain(&q[13..], &a[13..]),
                &mut block,
                RowSums {
                    value: &mut rv,
                    cross: &mut rc,
                },
            );
            for (jj, &j) in cols.iter().enumerate() {
                let (mut value, mut u, mut size) = (0.0, 0.0, 0.0);
                for (ll, &l) in cols.iter().enumerate() {
                    let terms = kernel.terms(q[j], q[l], dots[ll * 21 + jj]);
                    assert_eq!(block[ll * 21 + jj].to_bits(), terms.coef_v.to_bits());
                    value += a[l] * terms.value;
                    u += a[l] * terms.coef_u;
                    size += (a[l] * terms.value).abs() + (a[l] * terms.coef_u).abs();
                }
                let bound = 4.0 * 21.0 * f64::EPSILON * size + 1e-300;
                check(rv[jj], 1.0, value, bound, "diagonal value");
                check(
                    rc[jj],
                    kernel.cross_scale(q[j]),
                    u,
                    bound,
                    "diagonal coef_u",
                );
            }
        }
    }

    /// The expansion pass gives the same bits with 1, 2 or 4 columns at a time and through the
    /// dispatched (vector) path: 13 rows against 21 columns, with a refused pair (two nearly
    /// parallel particles of norm 3) and a particle beyond MAX_NORM.
    #[test]
    fn expansion_pass_is_the_same_for_every_column_count() {
        let (m, d) = (34, 5);
        let p = Particles::draw(m, d, &InitLaw::standard(d), 3).unwrap();
        let mut t = p.into_matrix();
        for c in 1..=d {
            t[(20, c)] = 3.0 * t[(20, c)] / t.row(20).columns(1, d).norm();
            t[(21, c)] = 1.001 * t[(20, c)];
            t[(22, c)] *= 9.0;
        }
        let q: Vec<f64> = (0..m)
            .map(|j| t.row(j).columns(1, d).norm_squared())
            .collect();
        let a: Vec<f64> = t.column(0).iter().copied().collect();
        let rows: Vec<usize> = (0..13).collect();
        let cols: Vec<usize> = (13..34).collect();
        let kernel = PairKernel::new(Activation::Tanh);
        let expansion = *kernel.expansion().unwrap();
        let mut features = ParticleFeatures::default();
        features.compute(&expansion, &q);
        let run = |pass: &dyn Fn(BlockArgs<'_, '_>)| {
            let mut block = gram(&t, &rows, &cols);
            let (mut rv, mut rc) = (vec![0.0; 13], vec![0.0; 13]);
            let (mut cv, mut cc) = (vec![0.0; 21], vec![0.0; 21]);
            let side = |first: usize, len: usize| Side {
                sq_norms: &q[first..first + len],
                a: &a[first..first + len],
                features: Some(&features),
                first,
            };
            pass((
                side(0, 13),
                side(13, 21),
                &mut block,
                RowSums {
                    value: &mut rv,
                    cross: &mut rc,
                },
                RowSums {
                    value: &mut cv,
                    cross: &mut cc,
                },
            ));
            [block, rv, rc, cv, cc]
                .concat()
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<u64>>()
        };
        let one = run(&|args| expansion_pass::<true, 1>(&kernel, &expansion, args));
        let two = run(&|args| expansion_pass::<true, 2>(&kernel, &expansion, args));
        let four = run(&|args| expansion_pass::<true, 4>(&kernel, &expansion, args));
        let dispatched = run(&|args| expansion_block::<true>(&kernel, &expansion, args));
        assert_eq!(one, two);
        assert_eq!(one, four);
        assert_eq!(one, dispatched);
    }
}
