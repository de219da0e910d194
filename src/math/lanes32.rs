//! The float32 elementwise passes of `precision = "f32"` on the CPU: the pair pass of
//! population mode over one block of the Gram matrix (docs/math.md section 3, the relu and erf
//! closed forms of `math::kernel`) and the sigma passes of the data modes (section 4).
//!
//! Values, angles and products are float32 over lanes of 16 (twice the float64 lanes of
//! `math::pair_block` and `math::lanes`). The pair pass adds each term a_l K(w_j, w_l) to a
//! float64 row sum (the risk is a small difference of such sums: float32 row sums cost the
//! quickstart a 3e-5 relative error of its risk, float64 ones 8e-6); column sums and the data
//! modes' sums over particles are float64 totals of float32 lanes over at most 256 terms, so
//! their rounding grows with the block, not with m. Each path is compiled for the widest vector
//! unit of the CPU (`math::simd`) and performs the same IEEE operations in the same order (no
//! fused multiply-add), so results are bit-identical on every CPU path and thread count.

use std::f32::consts::{FRAC_PI_2, FRAC_PI_4, PI};

use crate::math::Activation;
use crate::math::simd::{dispatch, simd_variants};

/// Elements per lane group.
const LANES: usize = 16;
/// Rows per segment of a block column: the row sums of a segment are float64 accumulators of
/// this length on the stack, added to the caller's sums at the end of the block.
const SEGMENT: usize = 256;

/// Coefficients of P(z) ~ (atan(x) - x) / x^3, z = x^2 in [0, 1/4], highest degree first:
/// the degree-5 interpolant at 6 Chebyshev nodes (relative error of atan 1.0e-9, below the
/// float32 rounding of 6e-8).
const P: [f32; 6] = [
    0.042_256_86,
    -0.082_355_06,
    0.110_068_807,
    -0.142_798,
    0.199_998_75,
    -0.333_333_33,
];

/// atan(num / den) for 0 <= num <= den, den > 0, in float32: the reduction and single division
/// of `math::fastmath`, then x + x z P(z).
#[inline(always)]
fn atan_ratio(num: f32, den: f32) -> f32 {
    let reduce = num > 0.5 * den;
    let top = if reduce { num - den } else { num };
    let bottom = if reduce { num + den } else { den };
    let x = top / bottom;
    let z = x * x;
    let z2 = z * z;
    let c0 = P[5] + P[4] * z;
    let c1 = P[3] + P[2] * z;
    let c2 = P[1] + P[0] * z;
    let p = c0 + (c1 + c2 * z2) * z2;
    let r = x + x * (z * p);
    if reduce { FRAC_PI_4 + r } else { r }
}

/// atan2(y, x) in float32, branch-free, as `f32::atan2` for finite arguments (0 when both are
/// 0).
#[inline(always)]
pub fn atan2(y: f32, x: f32) -> f32 {
    let ay = y.abs();
    let ax = x.abs();
    let swap = ay > ax;
    let (num, den) = if swap { (ax, ay) } else { (ay, ax) };
    let den = if den > 0.0 { den } else { 1.0 };
    let mut r = atan_ratio(num, den);
    r = if swap { FRAC_PI_2 - r } else { r };
    r = if x.is_sign_negative() { PI - r } else { r };
    r.copysign(y)
}

const INV_TWO_PI: f32 = 1.0 / (2.0 * PI);
const TWO_OVER_PI: f32 = 2.0 / PI;

/// |u|^2 |v|^2 sin^2 phi, clamped at 0 (0 exactly for self pairs).
#[inline(always)]
fn cross_squared(uu: f32, vv: f32, uv: f32) -> f32 {
    (uu * vv - uv * uv).max(0.0)
}

/// relu (K - u.v / 2, coef_v, cross) in float32, the quantities of `math::kernel::relu_lane`
/// less the linear part of K = u.v / 2 + (|u||v| sin phi - phi u.v) / (2 pi). The linear part
/// sums exactly to w_j . (sum_l a_l w_l) / 2, which the caller adds in float64 (O(m d)); the
/// rest depends on u.v only through -phi / (2 pi), so the float32 rounding of the Gram entry
/// of a nearly parallel pair (where the quickstart's particles gather, and the risk is a small
/// difference of pair sums) barely reaches it.
#[inline(always)]
pub fn relu_lane(uu: f32, vv: f32, uv: f32) -> (f32, f32, f32) {
    let cross = cross_squared(uu, vv, uv).sqrt();
    let phi = atan2(cross, uv);
    let phi = if (uu > 0.0) & (vv > 0.0) { phi } else { 0.0 };
    let coef_v = 0.5 - phi * INV_TWO_PI;
    let nonlinear = (cross - phi * uv) * INV_TWO_PI;
    (nonlinear, coef_v, cross * INV_TWO_PI)
}

/// erf (value, coef_v, cross = -coef_v u.v) in float32, the formulas of
/// `math::kernel::erf_lane`.
#[inline(always)]
pub fn erf_lane(uu: f32, vv: f32, uv: f32) -> (f32, f32, f32) {
    let det = 1.0 + uu + vv + cross_squared(uu, vv, uv);
    let root = det.sqrt();
    let coef_v = TWO_OVER_PI / root;
    (TWO_OVER_PI * atan2(uv, root), coef_v, -coef_v * uv)
}

/// One side of a float32 block: squared norms and output weights of its particles.
#[derive(Clone, Copy, Debug)]
pub struct Side32<'a> {
    /// |w|^2 per particle.
    pub sq_norms: &'a [f32],
    /// a per particle.
    pub a: &'a [f32],
}

/// Float64 sums of one side of a block pass: for each particle j of the side, sum a_l K(w_j,
/// w_l) and sum a_l cross(j, l) over the other side (added to).
#[derive(Debug)]
pub struct Sums64<'a> {
    /// sum_l a_l K(w_j, w_l).
    pub value: &'a mut [f64],
    /// sum_l a_l cross(j, l).
    pub cross: &'a mut [f64],
}

/// Adds `values` to 16 lane sums: lane i takes the entries i mod 16, in order.
#[inline(always)]
fn lane_add(lanes: &mut [f32; LANES], values: &[f32]) {
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

/// The lanes' float64 total, in lane order.
#[inline(always)]
fn lane_total(lanes: &[f32; LANES]) -> f64 {
    lanes.iter().map(|&v| f64::from(v)).sum()
}

type Block32<'a, 'b> = (
    Side32<'a>,
    Side32<'a>,
    &'b mut [f32],
    Sums64<'b>,
    Option<Sums64<'b>>,
);

/// The block pass: for each segment of rows, each column l adds a_l K and a_l cross to the
/// segment's float64 row sums and (with `columns`) reduces a_j K and a_j cross over the
/// segment into 16 lanes, whose float64 total goes to the column sums; the segment's row sums
/// go to the float64 row sums at its end. `gram` (column-major rows x columns, u.v) is
/// overwritten with coef_v.
#[inline(always)]
fn block_pass(
    (rows_side, columns_side, gram, rows, mut columns): Block32<'_, '_>,
    pair: impl Fn(f32, f32, f32) -> (f32, f32, f32),
) {
    let height = rows_side.a.len();
    if height == 0 {
        return;
    }
    let mut row_value = [0.0f64; SEGMENT];
    let mut row_cross = [0.0f64; SEGMENT];
    let mut staged_value = [0.0f32; SEGMENT];
    let mut staged_cross = [0.0f32; SEGMENT];
    for start in (0..height).step_by(SEGMENT) {
        let len = SEGMENT.min(height - start);
        let q = &rows_side.sq_norms[start..start + len];
        let a = &rows_side.a[start..start + len];
        let row_value = &mut row_value[..len];
        let row_cross = &mut row_cross[..len];
        row_value.fill(0.0);
        row_cross.fill(0.0);
        for (l, column) in gram.chunks_exact_mut(height).enumerate() {
            let (q_l, a_l) = (columns_side.sq_norms[l], columns_side.a[l]);
            let g = &mut column[start..start + len];
            let staged_value = &mut staged_value[..len];
            let staged_cross = &mut staged_cross[..len];
            for j in 0..len {
                let (k, coef_v, x) = pair(q[j], q_l, g[j]);
                g[j] = coef_v;
                row_value[j] += f64::from(a_l * k);
                row_cross[j] += f64::from(a_l * x);
                staged_value[j] = a[j] * k;
                staged_cross[j] = a[j] * x;
            }
            if let Some(columns) = columns.as_mut() {
                let mut lane_value = [0.0f32; LANES];
                let mut lane_cross = [0.0f32; LANES];
                lane_add(&mut lane_value, staged_value);
                lane_add(&mut lane_cross, staged_cross);
                columns.value[l] += lane_total(&lane_value);
                columns.cross[l] += lane_total(&lane_cross);
            }
        }
        for j in 0..len {
            rows.value[start + j] += row_value[j];
            rows.cross[start + j] += row_cross[j];
        }
    }
}

#[inline(always)]
fn relu_pass(args: Block32<'_, '_>) {
    block_pass(args, relu_lane);
}

#[inline(always)]
fn erf_pass(args: Block32<'_, '_>) {
    block_pass(args, erf_lane);
}

simd_variants!(relu_pass, relu_pass_avx512, relu_pass_avx2, (args: Block32<'_, '_>) -> ());
simd_variants!(erf_pass, erf_pass_avx512, erf_pass_avx2, (args: Block32<'_, '_>) -> ());

/// Whether `activation` has a float32 pair pass (relu and erf: the closed forms with a single
/// angle).
pub fn has_pair_pass(activation: Activation) -> bool {
    matches!(activation, Activation::Relu | Activation::Erf)
}

/// The pair pass of `activation` (relu or erf, [`has_pair_pass`]; any other does nothing) over a
/// block J x L: `gram` (column-major |J| x |L|) holds w_j . w_l (self pairs set to |w_j|^2);
/// adds the sums over l in L to `rows` (for relu, of K - u.v / 2: [`relu_lane`]) and, for an off-diagonal block, the sums over j in J to
/// `columns`, and overwrites `gram` with coef_v(w_j, w_l). For relu cross(j, l) = |u||v| sin
/// phi / (2 pi), for erf -coef_v u.v (`PairKernel::cross_scale` turns the row sums into coef_u
/// sums).
pub fn pair_block(
    activation: Activation,
    rows_side: Side32<'_>,
    columns_side: Side32<'_>,
    gram: &mut [f32],
    rows: Sums64<'_>,
    columns: Option<Sums64<'_>>,
) {
    let args = (rows_side, columns_side, gram, rows, columns);
    match activation {
        Activation::Relu => dispatch!(relu_pass, relu_pass_avx512, relu_pass_avx2, (args)),
        Activation::Erf => dispatch!(erf_pass, erf_pass_avx512, erf_pass_avx2, (args)),
        _ => {}
    }
}

/// sigma(z) and sigma'(z) in float32: relu, linear and quadratic directly; the others through
/// their float64 definitions (`Activation::value_and_derivative`), rounded.
#[inline(always)]
fn sigma32(activation: Activation, z: f32) -> (f32, f32) {
    match activation {
        Activation::Relu => {
            if z > 0.0 {
                (z, 1.0)
            } else {
                (0.0, 0.0)
            }
        }
        Activation::Linear => (z, 1.0),
        Activation::Quadratic => (z * z, 2.0 * z),
        other => {
            let (value, derivative) = other.value_and_derivative(f64::from(z));
            (value as f32, derivative as f32)
        }
    }
}

/// sum_j a_j sigma(z_j): lane j mod 16 sums in float32, in order; the float64 total of the
/// lanes. With `slope`, also z <- sigma(z) and slope <- sigma'(z).
#[inline(always)]
fn forward_lanes(
    activation: Activation,
    z: &mut [f32],
    slope: Option<&mut [f32]>,
    a: &[f32],
) -> f64 {
    let mut sums = [0.0f32; LANES];
    match slope {
        Some(slope) => {
            for (j, ((zv, s), aj)) in z.iter_mut().zip(slope.iter_mut()).zip(a).enumerate() {
                let (value, derivative) = sigma32(activation, *zv);
                *zv = value;
                *s = derivative;
                sums[j % LANES] += aj * value;
            }
        }
        None => {
            let (z_main, z_tail) = z.as_chunks::<LANES>();
            let (a_main, a_tail) = a.as_chunks::<LANES>();
            for (zs, aa) in z_main.iter().zip(a_main) {
                for i in 0..LANES {
                    sums[i] += aa[i] * sigma32(activation, zs[i]).0;
                }
            }
            for (i, (zv, aj)) in z_tail.iter().zip(a_tail).enumerate() {
                sums[i] += aj * sigma32(activation, *zv).0;
            }
        }
    }
    lane_total(&sums)
}

#[inline(always)]
fn value_relu(z: &[f32], a: &[f32]) -> f64 {
    let mut sums = [0.0f32; LANES];
    let (z_main, z_tail) = z.as_chunks::<LANES>();
    let (a_main, a_tail) = a.as_chunks::<LANES>();
    for (zs, aa) in z_main.iter().zip(a_main) {
        for i in 0..LANES {
            sums[i] += aa[i] * zs[i].max(0.0);
        }
    }
    for (i, (zv, aj)) in z_tail.iter().zip(a_tail).enumerate() {
        sums[i] += aj * zv.max(0.0);
    }
    lane_total(&sums)
}
simd_variants!(value_relu, value_relu_avx512, value_relu_avx2, (z: &[f32], a: &[f32]) -> f64);

/// For one sample: sum_j a_j sigma(z_j) (float32 lanes of 16, their float64 total); with
/// `slope`, also z_j <- sigma(z_j) and slope_j <- sigma'(z_j). relu without slopes (its
/// backward pass works from the pre-activations) runs the vectorised value pass.
pub fn forward(activation: Activation, z: &mut [f32], slope: Option<&mut [f32]>, a: &[f32]) -> f64 {
    if activation == Activation::Relu && slope.is_none() {
        let z: &[f32] = z;
        dispatch!(value_relu, value_relu_avx512, value_relu_avx2, (z, a))
    } else {
        forward_lanes(activation, z, slope, a)
    }
}

#[inline(always)]
fn relu_slope(r: f32, z: &[f32], slope: &mut [f32]) {
    for (s, v) in slope.iter_mut().zip(z) {
        *s = if *v > 0.0 { r } else { 0.0 };
    }
}
simd_variants!(relu_slope, relu_slope_avx512, relu_slope_avx2, (r: f32, z: &[f32], slope: &mut [f32]) -> ());

/// relu, for one sample of residual r, from the pre-activations `z`: slope_j <- r if z_j > 0,
/// else 0.
pub fn relu_residual_slope(r: f32, z: &[f32], slope: &mut [f32]) {
    dispatch!(
        relu_slope,
        relu_slope_avx512,
        relu_slope_avx2,
        (r, z, slope)
    )
}

/// For one sample of residual r (float64): grad_j += r sigma(z_j) in float64 (from `values`)
/// and slope_j *= r in float32.
pub fn accumulate_residual(r: f64, values: &[f32], slope: &mut [f32], grad: &mut [f64]) {
    let r32 = r as f32;
    for ((g, v), s) in grad.iter_mut().zip(values).zip(slope.iter_mut()) {
        *g += r * f64::from(*v);
        *s *= r32;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::float_cmp, reason = "exact values are the property tested")]
    use super::*;
    use crate::math::kernel::{erf_lane as erf64, relu_lane as relu64};

    /// The float32 atan2 is within 2 ulp (float32) of the float64 atan2 on arguments over 20
    /// decades and the four quadrants: the polynomial's 1e-9 plus a few roundings.
    #[test]
    fn atan2_is_within_two_float32_ulp() {
        let mut worst = 0.0f64;
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..200_000 {
            let y = ((next() - 0.5) * 10f64.powf(20.0 * next() - 10.0)) as f32;
            let x = ((next() - 0.5) * 10f64.powf(20.0 * next() - 10.0)) as f32;
            let exact = f64::from(y).atan2(f64::from(x));
            let spacing = f64::from(f32::EPSILON) * exact.abs().max(1e-30);
            worst = worst.max((f64::from(atan2(y, x)) - exact).abs() / spacing);
        }
        assert!(worst <= 2.0, "worst {worst} ulp");
        assert_eq!(atan2(0.0, 0.0), 0.0);
        assert_eq!(atan2(1.0, 0.0), FRAC_PI_2);
    }

    /// The float32 lanes agree with the float64 ones on float32 arguments to a few float32 ulp
    /// of the pair's scale (|u||v| for values, 1 for coef_v).
    #[test]
    fn lanes_match_the_float64_closed_forms() {
        for (uu, vv, uv) in [
            (1.0f32, 2.0f32, 0.3f32),
            (0.25, 4.0, -0.9),
            (1.0, 1.0, 0.999),
            (2.0, 0.5, 0.0),
        ] {
            let (d_uu, d_vv, d_uv) = (f64::from(uu), f64::from(vv), f64::from(uv));
            let scale = (d_uu * d_vv).sqrt();
            let eps = f64::from(f32::EPSILON);
            let (nonlinear, coef_v, cross) = relu_lane(uu, vv, uv);
            let value = nonlinear + 0.5 * uv;
            let (value64, coef_v64, cross64) = relu64(d_uu, d_vv, d_uv);
            // near-parallel pairs lose sqrt(eps) in the angle (cancellation in |u|^2|v|^2 -
            // (u.v)^2), which K itself feels only to second order
            let angle = (eps * scale * scale).sqrt() / scale;
            assert!(
                (f64::from(value) - value64).abs() <= 8.0 * eps * scale,
                "relu value"
            );
            assert!(
                (f64::from(coef_v) - coef_v64).abs() <= 8.0 * eps + angle,
                "relu coef_v"
            );
            assert!((f64::from(cross) - cross64).abs() <= 8.0 * eps * scale + angle * scale);
            let (value, coef_v, _) = erf_lane(uu, vv, uv);
            let (value64, coef_v64) = erf64(d_uu, d_vv, d_uv);
            assert!((f64::from(value) - value64).abs() <= 8.0 * eps, "erf value");
            assert!(
                (f64::from(coef_v) - coef_v64).abs() <= 8.0 * eps,
                "erf coef_v"
            );
        }
    }
}
