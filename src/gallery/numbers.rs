//! How the gallery writes the numbers it measures into gallery.json and summary.md: rounded to
//! a few significant digits, so that the files read well and change only where a result does;
//! and the per-seed summaries several entries share (seed means, a power law pooled over seeds).

use crate::diagnostics::stats::fit_power_law;

/// `value` rounded to `digits` significant digits (at least 1): the decimal of `digits` digits
/// nearest to `value` (ties to even), read back as the nearest `f64`. Non-finite values pass
/// unchanged (`serde_json` writes them as `null`).
///
/// This is the decimal rounding of `format!("{value:.{digits - 1}e}")`. For |value| below
/// 10^digits and above about 1e-22 it equals the `(value * 10^k).round() / 10^k` that the
/// `lazy`, `limit` and `exact_limit` entries used before (there 10^k is exact and the division
/// correctly rounded; they differ only at exact binary ties such as 0.125 to two digits), and it
/// avoids that formula's inexact 10^k for larger values (28716563 to three digits gave
/// 28699999.999999996).
pub(super) fn rounded(value: f64, digits: usize) -> f64 {
    if !value.is_finite() {
        return value;
    }
    let precision = digits.max(1) - 1;
    // The text is a float in exponent notation, which always parses.
    format!("{value:.precision$e}").parse().unwrap_or(value)
}

/// Each of `values` rounded to `digits` significant digits ([`rounded`]).
pub(super) fn rounded_all(values: &[f64], digits: usize) -> Vec<f64> {
    values.iter().map(|&v| rounded(v, digits)).collect()
}

/// `1.234e-2, 5.678e-3`: values with 4 significant digits in exponent form, for the details
/// of a check.
pub(super) fn listing(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{v:.3e}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The mean of each row of `values` (one row per width or sample size, one value per seed).
pub(super) fn seed_means(values: &[Vec<f64>]) -> Vec<f64> {
    values
        .iter()
        .map(|row| row.iter().sum::<f64>() / row.len().max(1) as f64)
        .collect()
}

/// The least-squares slope of log y against log x over every (x, seed) point, row i of `values`
/// holding the seeds at `xs[i]`, and its standard error (NaN, NaN where the fit fails, e.g. a
/// value that is not positive).
pub(super) fn pooled_power_law(xs: &[f64], values: &[Vec<f64>]) -> (f64, f64) {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (&at, row) in xs.iter().zip(values) {
        for &value in row {
            x.push(at);
            y.push(value);
        }
    }
    fit_power_law(&x, &y).map_or((f64::NAN, f64::NAN), |fit| (fit.slope, fit.slope_se))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::float_cmp,
        reason = "rounding to a decimal is exact up to one parse"
    )]

    use super::*;

    #[test]
    fn rounding_keeps_the_requested_significant_digits() {
        assert_eq!(rounded(0.123_456_7, 4), 0.1235);
        assert_eq!(rounded(-98_765.4, 2), -99_000.0);
        assert_eq!(rounded(28_716_562.978_059_48, 3), 2.87e7);
        assert_eq!(rounded(1.0, 4), 1.0);
        assert_eq!(rounded(0.0, 3), 0.0);
    }

    #[test]
    fn rounding_passes_non_finite_values() {
        assert!(rounded(f64::NAN, 3).is_nan());
        assert_eq!(rounded(f64::INFINITY, 3), f64::INFINITY);
    }

    /// The former formula of the `lazy`, `limit` and `exact_limit` entries, where its power of
    /// ten is exact.
    fn scaled(value: f64, digits: i32) -> f64 {
        let scale = 10_f64.powi(digits - 1 - value.abs().log10().floor() as i32);
        (value * scale).round() / scale
    }

    #[test]
    fn rounding_equals_the_former_scaled_formula_below_ten_to_the_digits() {
        // A fixed xorshift sequence of values between 1e-15 and 1e4 (both signs).
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 11) as f64 / (1_u64 << 53) as f64;
            let exponent = (state % 19) as i32 - 15;
            let sign = if state & (1 << 10) == 0 { 1.0 } else { -1.0 };
            let value = sign * (1.0 + 9.0 * unit) * 10_f64.powi(exponent);
            for digits in [2_usize, 3, 4, 6] {
                if value.abs() < 10_f64.powi(digits as i32) {
                    assert_eq!(
                        rounded(value, digits).to_bits(),
                        scaled(value, digits as i32).to_bits(),
                        "{value:e} to {digits} digits"
                    );
                }
            }
        }
    }
}
