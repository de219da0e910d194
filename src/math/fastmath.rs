//! Branch-free elementary functions that the compiler can vectorise, for the elementwise pass
//! over particle pairs (docs/math.md section 3: angles phi = atan2(|u||v| sin phi, u.v)).
//!
//! [`atan2`] folds the octant by selects instead of branches, reduces t = |y/x| in [0, 1] to
//! |x| <= 1/2 (t > 1/2 goes to (t - 1)/(t + 1), whose numerator is exact by Sterbenz) and
//! evaluates atan(x) = x + x z P(z), z = x^2 <= 1/4, with a polynomial P of degree 12: one
//! division per call (a rational approximation such as Cephes' needs two, and the divider is
//! the bottleneck of the pair pass). P interpolates (atan(x) - x) / x^3 at 13 Chebyshev nodes
//! of z in [0, 1/4] (computed with mpmath at 50 digits; the interpolation error is 1.7e-17
//! relative to atan, below 0.2 ulp). Tests check it against `f64::atan2` to 4 ulp.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};

/// Coefficients of P, highest degree first (for Horner's scheme).
const P: [f64; 13] = [
    -0.009_215_792_047_089_858,
    0.025_006_503_566_489_507,
    -0.038_066_536_720_573_66,
    0.046_280_248_685_701_53,
    -0.052_400_995_079_947_13,
    0.058_795_784_295_824_25,
    -0.066_664_356_772_359_48,
    0.076_922_947_125_402_85,
    -0.090_909_086_203_225_23,
    0.111_111_111_009_173_76,
    -0.142_857_142_855_991_88,
    0.199_999_999_999_994_88,
    -0.333_333_333_333_333_3,
];
/// pi/4 - fl(pi/4).
const PI_4_LOW: f64 = 0.5 * 6.123_233_995_736_766e-17;

/// atan(num / den) for 0 <= num <= den, den > 0 (t = num / den in [0, 1]). The reduction
/// t -> (t - 1)/(t + 1) for t > 1/2 is written as (num - den)/(num + den), so that a single
/// division forms the argument of the polynomial.
#[inline(always)]
fn atan_ratio(num: f64, den: f64) -> f64 {
    let reduce = num > 0.5 * den;
    let top = if reduce { num - den } else { num };
    let bottom = if reduce { num + den } else { den };
    let x = top / bottom;
    let z = x * x;
    // Estrin's scheme: the 13 coefficients in pairs, then pairs of pairs, ... A chain of four
    // multiply-adds instead of Horner's twelve, so the lanes of a vector do not wait on one
    // long dependency (the pair pass is latency-bound with Horner).
    let z2 = z * z;
    let z4 = z2 * z2;
    let z8 = z4 * z4;
    let c0 = P[12] + P[11] * z;
    let c1 = P[10] + P[9] * z;
    let c2 = P[8] + P[7] * z;
    let c3 = P[6] + P[5] * z;
    let c4 = P[4] + P[3] * z;
    let c5 = P[2] + P[1] * z;
    let d0 = c0 + c1 * z2;
    let d1 = c2 + c3 * z2;
    let d2 = c4 + c5 * z2;
    let e0 = d0 + d1 * z4;
    let e1 = d2 + P[0] * z4;
    let p = e0 + e1 * z8;
    let r = x + x * (z * p);
    if reduce {
        FRAC_PI_4 + (r + PI_4_LOW)
    } else {
        r
    }
}

/// atan2(y, x) in [-pi, pi], as `f64::atan2` for finite arguments (atan2(+-0, x) = +-0 for
/// x >= 0 and +-pi for x < 0; 0 when both are 0), without branches.
#[inline(always)]
pub fn atan2(y: f64, x: f64) -> f64 {
    let ay = y.abs();
    let ax = x.abs();
    let swap = ay > ax;
    let (num, den) = if swap { (ax, ay) } else { (ay, ax) };
    // den = 0 only when both are 0, where atan2 is 0 (or pi for x = -0, below).
    let den = if den > 0.0 { den } else { 1.0 };
    let mut r = atan_ratio(num, den);
    r = if swap { FRAC_PI_2 - r } else { r };
    r = if x.is_sign_negative() { PI - r } else { r };
    r.copysign(y)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::float_cmp, reason = "exact values are the property tested")]
    use super::*;
    use rand::RngExt;

    fn ulps(a: f64, b: f64) -> f64 {
        let spacing = f64::EPSILON * b.abs().max(f64::MIN_POSITIVE);
        (a - b).abs() / spacing
    }

    /// Random arguments over 40 decades of |y/x|, all four quadrants: within 4 ulp of std.
    #[test]
    fn atan2_is_within_four_ulp_of_std() {
        let mut rng = crate::random::stream(1, crate::random::Purpose::Test, 0, 0);
        let mut worst = 0.0f64;
        for _ in 0..2_000_000 {
            let y = rng.random_range(-1.0..1.0) * 10f64.powf(rng.random_range(-20.0..20.0));
            let x = rng.random_range(-1.0..1.0) * 10f64.powf(rng.random_range(-20.0..20.0));
            worst = worst.max(ulps(atan2(y, x), y.atan2(x)));
        }
        // Near t = 1, t = 1/2 (the reduction threshold) and the axes.
        for &(y, x) in &[
            (1.0, 1.0),
            (0.5, 1.0),
            (0.500_000_000_000_000_1, 1.0),
            (0.499_999_999_999_999_9, 1.0),
            (0.999_999_999_999_999_9, 1.0),
            (1.0, 0.66),
            (1e-300, 1.0),
        ] {
            for (sy, sx) in [(1.0, 1.0), (-1.0, 1.0), (1.0, -1.0), (-1.0, -1.0)] {
                worst = worst.max(ulps(atan2(sy * y, sx * x), (sy * y).atan2(sx * x)));
            }
        }
        assert!(worst <= 4.0, "worst error {worst} ulp");
    }

    #[test]
    fn atan2_has_the_std_values_on_the_axes() {
        assert_eq!(atan2(0.0, 1.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(atan2(-0.0, 1.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(atan2(0.0, -1.0), PI);
        assert_eq!(atan2(-0.0, -1.0), -PI);
        assert_eq!(atan2(1.0, 0.0), FRAC_PI_2);
        assert_eq!(atan2(0.0, 0.0), 0.0);
        assert_eq!(atan2(1.0, 1.0), FRAC_PI_4);
    }
}
