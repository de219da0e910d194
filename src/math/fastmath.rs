//! Branch-free elementary functions that the compiler can vectorise, for the elementwise pass
//! over particle pairs (MATH.md section 3: angles phi = atan2(|u||v| sin phi, u.v)).
//!
//! [`atan2`] is Cephes' `atan` rational approximation (Moshier, relative error below 2e-16 on
//! [0, 0.66] and, after t -> (t - 1)/(t + 1), on (0.66, 1]) with the octant folded by selects
//! instead of branches; tests check it against `f64::atan2` to 4 ulp.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};

#[allow(
    clippy::excessive_precision,
    reason = "Cephes' published coefficients, digit for digit"
)]
const P: [f64; 5] = [
    -8.750_608_600_031_904_122_785e-1,
    -1.615_753_718_733_365_076_637e1,
    -7.500_855_792_314_704_667_340e1,
    -1.228_866_684_490_136_173_410e2,
    -6.485_021_904_942_025_371_773e1,
];
#[allow(
    clippy::excessive_precision,
    reason = "Cephes' published coefficients, digit for digit"
)]
const Q: [f64; 5] = [
    2.485_846_490_142_306_297_962e1,
    1.650_270_098_316_988_542_046e2,
    4.328_810_604_912_902_668_951e2,
    4.853_903_996_359_136_964_868e2,
    1.945_506_571_482_613_964_425e2,
];
/// pi/4 - fl(pi/4) (Cephes' MOREBITS / 2).
const PI_4_LOW: f64 = 0.5 * 6.123_233_995_736_766e-17;

/// atan(num / den) for 0 <= num <= den, den > 0 (t = num / den in [0, 1]). The reduction
/// t -> (t - 1)/(t + 1) for t > 0.66 is written as (num - den)/(num + den), so that a single
/// division forms the argument of the rational approximation.
#[inline(always)]
fn atan_ratio(num: f64, den: f64) -> f64 {
    let reduce = num > 0.66 * den;
    let x = if reduce {
        (num - den) / (num + den)
    } else {
        num / den
    };
    let z = x * x;
    let p = (((P[0] * z + P[1]) * z + P[2]) * z + P[3]) * z + P[4];
    let q = ((((z + Q[0]) * z + Q[1]) * z + Q[2]) * z + Q[3]) * z + Q[4];
    let r = x * (z * p / q) + x;
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
        // Near t = 1, t = 0.66 and the axes.
        for &(y, x) in &[
            (1.0, 1.0),
            (0.66, 1.0),
            (0.6600001, 1.0),
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
