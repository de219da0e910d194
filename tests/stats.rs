//! Statistics over seeds (`diagnostics::stats`): summaries and line fits against hand-computed
//! values, power laws and Richardson extrapolation exact on exact data, bootstrap exponents
//! recovered and covered on synthetic sweeps, standard errors consistent with the scatter of
//! noisy data, bit-identical resampling, and the normal and Student-t quantiles against
//! high-precision values (mpmath).
#![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]
#![allow(
    clippy::excessive_precision,
    reason = "reference values are written with the 20 digits mpmath printed"
)]

use meanfield::diagnostics::stats::{
    BootstrapSettings, ExponentInterval, Statistic, Summary, bootstrap_power_law, fit_line,
    fit_power_law, normal_cdf, normal_quantile, richardson, student_t_cdf, student_t_quantile,
};
use meanfield::random::{Purpose, stream};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

const EPS: f64 = f64::EPSILON;

/// Five widths in a ladder of ratio 2, as a sweep would use.
const WIDTHS: [f64; 5] = [100.0, 200.0, 400.0, 800.0, 1600.0];

/// Sxx = sum (log m_k - mean log m)^2 of [`WIDTHS`]: (ln 2)^2 (4 + 1 + 0 + 1 + 4).
fn log_width_spread() -> f64 {
    10.0 * std::f64::consts::LN_2 * std::f64::consts::LN_2
}

fn relative_error(found: f64, expected: f64) -> f64 {
    (found - expected).abs() / expected.abs()
}

fn normals(seed: u64, count: usize) -> Vec<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..count).map(|_| rng.sample(StandardNormal)).collect()
}

/// Per-seed deviations c m^(-1/2) z at each width: standard deviation c m^(-1/2).
fn fluctuation_sweep(data_seed: u64, seeds: usize) -> Vec<Vec<f64>> {
    let z = normals(data_seed, WIDTHS.len() * seeds);
    WIDTHS
        .iter()
        .zip(z.chunks(seeds))
        .map(|(m, z)| z.iter().map(|z| 2.0 * z / m.sqrt()).collect())
        .collect()
}

/// Relative noise of the biased sweep: per-seed values (b/m)(1 + RELATIVE_NOISE z).
const RELATIVE_NOISE: f64 = 0.3;

/// Per-seed values with mean b/m and noise proportional to it.
fn bias_sweep(data_seed: u64, seeds: usize) -> Vec<Vec<f64>> {
    let z = normals(data_seed, WIDTHS.len() * seeds);
    WIDTHS
        .iter()
        .zip(z.chunks(seeds))
        .map(|(m, z)| {
            z.iter()
                .map(|z| 3.0 / m * (1.0 + RELATIVE_NOISE * z))
                .collect()
        })
        .collect()
}

/// Per-seed values (3/m)(1 + 0.3 z_s + 0.3 z_(k,s)): a seed effect z_s shared by all widths
/// (seed s sits at index s of every width) beside the bias sweep's own noise.
fn shared_bias_sweep(data_seed: u64, seeds: usize) -> Vec<Vec<f64>> {
    let z = normals(data_seed, (WIDTHS.len() + 1) * seeds);
    let (shared, own) = z.split_at(seeds);
    WIDTHS
        .iter()
        .zip(own.chunks(seeds))
        .map(|(m, own)| {
            own.iter()
                .zip(shared)
                .map(|(own, shared)| 3.0 / m * (1.0 + 0.3 * shared + 0.3 * own))
                .collect()
        })
        .collect()
}

/// Seed s's value at width m is 2 (1/m) sum_(j < m) u_(s,j) over its first m particles, u
/// standard normal: standard deviation 2 m^(-1/2), and correlation sqrt(m/m') between widths
/// m < m', as for a sweep whose wider runs extend the narrower ones.
fn nested_sweep(data_seed: u64, seeds: usize) -> Vec<Vec<f64>> {
    let widest = WIDTHS[WIDTHS.len() - 1] as usize;
    let partial_sums: Vec<Vec<f64>> = normals(data_seed, widest * seeds)
        .chunks(widest)
        .map(|u| {
            u.iter()
                .scan(0.0, |sum, u| {
                    *sum += u;
                    Some(*sum)
                })
                .collect()
        })
        .collect();
    WIDTHS
        .iter()
        .map(|m| {
            partial_sums
                .iter()
                .map(|sums| 2.0 * sums[*m as usize - 1] / m)
                .collect()
        })
        .collect()
}

fn assert_bit_identical(a: &ExponentInterval, b: &ExponentInterval) {
    for (x, y) in [
        (a.slope, b.slope),
        (a.intercept, b.intercept),
        (a.lo, b.lo),
        (a.hi, b.hi),
    ] {
        assert_eq!(x.to_bits(), y.to_bits(), "{a:?} vs {b:?}");
    }
    assert_eq!(
        (a.resamples, a.dropped, a.paired),
        (b.resamples, b.dropped, b.paired)
    );
}

// ---------------------------------------------------------------------------------------
// Summaries

#[test]
fn summary_of_one_to_four_has_mean_five_halves_and_variance_five_thirds() {
    // Squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5 over n - 1 = 3.
    let summary = Summary::of(&[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(summary.n, 4);
    assert_eq!(summary.mean, 2.5);
    let sd = (5.0f64 / 3.0).sqrt();
    assert!(relative_error(summary.sd, sd) <= 4.0 * EPS, "{summary:?}");
    assert!(
        relative_error(summary.se, sd / 2.0) <= 4.0 * EPS,
        "{summary:?}"
    );
}

#[test]
fn summary_of_a_constant_sample_has_zero_spread() {
    // 3/8 and its multiples up to 7 * 3/8 are exact, so the mean is exact and deviations vanish.
    let summary = Summary::of(&[0.375; 7]);
    assert_eq!((summary.sd, summary.se), (0.0, 0.0));
    assert_eq!(summary.mean, 0.375);
}

#[test]
fn summary_of_one_value_has_nan_spread_and_of_none_a_nan_mean() {
    let one = Summary::of(&[3.0]);
    assert_eq!((one.n, one.mean), (1, 3.0));
    assert!(one.sd.is_nan() && one.se.is_nan());
    assert!(Summary::of(&[]).mean.is_nan());
}

#[test]
fn summary_interval_of_three_values_uses_the_two_dof_student_quantile() {
    // 2, 4, 6: mean 4, sd 2, se 2/sqrt(3); with 2 dof the (1 + 0.95)/2 quantile is
    // (1 - 2q)/sqrt(2q(1 - q)) with q = 0.025.
    let summary = Summary::of(&[2.0, 4.0, 6.0]);
    let q: f64 = 0.025;
    let half_width = (1.0 - 2.0 * q) / (2.0 * q * (1.0 - q)).sqrt() * 2.0 / 3f64.sqrt();
    let (lo, hi) = summary.confidence_interval(0.95);
    assert!((lo - (4.0 - half_width)).abs() <= 1e-14, "{lo}");
    assert!((hi - (4.0 + half_width)).abs() <= 1e-14, "{hi}");
}

#[test]
fn statistics_of_three_one_minus_one_match_hand_values() {
    // Mean 1; deviations 2, 0, -2 give variance 8/2 = 4; mean square 11/3.
    let sample = [3.0, 1.0, -1.0];
    assert_eq!(Statistic::Mean.apply(&sample), 1.0);
    assert_eq!(Statistic::AbsMean.apply(&[-3.0, -1.0, 1.0]), 1.0);
    assert!(relative_error(Statistic::StdDev.apply(&sample), 2.0) <= 4.0 * EPS);
    let rms = (11.0f64 / 3.0).sqrt();
    assert!(relative_error(Statistic::RootMeanSquare.apply(&sample), rms) <= 4.0 * EPS);
    assert!(Statistic::StdDev.apply(&[1.0]).is_nan());
}

// ---------------------------------------------------------------------------------------
// Lines and power laws

#[test]
fn line_fit_is_exact_on_an_exact_line() {
    let x = [0.0, 1.0, 2.0, 3.0, 5.0];
    let y: Vec<f64> = x.iter().map(|x| 1.5 - 0.75 * x).collect();
    let fit = fit_line(&x, &y).unwrap();
    // Values of size <= 5 are exact or within an ulp; sums of 5 terms add a few ulps.
    assert!((fit.slope + 0.75).abs() <= 32.0 * EPS, "{fit:?}");
    assert!((fit.intercept - 1.5).abs() <= 32.0 * EPS, "{fit:?}");
    assert!(
        fit.slope_se <= 32.0 * EPS && fit.intercept_se <= 32.0 * EPS,
        "{fit:?}"
    );
    assert!((fit.r_squared - 1.0).abs() <= 32.0 * EPS);
    assert_eq!(fit.n, 5);
}

#[test]
fn line_fit_matches_hand_values_and_the_covariance_formula_on_four_points() {
    // x = 0..3, y = 1, 3, 2, 5: x_bar = 1.5, y_bar = 2.75, Sxx = 5, Sxy = 5.5, Syy = 8.75,
    // slope = intercept = 1.1, residuals -0.1, 0.8, -1.3, 0.6, RSS = 2.7, s^2 = 2.7/2 = 1.35.
    // Independently, Cov = s^2 (X^T X)^(-1) with X^T X = [[4, 6], [6, 14]] (det 20):
    // var(slope) = s^2 4/20, var(intercept) = s^2 14/20.
    let fit = fit_line(&[0.0, 1.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 5.0]).unwrap();
    let tolerance = 16.0 * EPS;
    assert!(relative_error(fit.slope, 1.1) <= tolerance, "{fit:?}");
    assert!(relative_error(fit.intercept, 1.1) <= tolerance, "{fit:?}");
    assert!(relative_error(fit.slope_se, (1.35 * 4.0 / 20.0f64).sqrt()) <= tolerance);
    assert!(relative_error(fit.intercept_se, (1.35 * 14.0 / 20.0f64).sqrt()) <= tolerance);
    assert!(relative_error(fit.r_squared, 1.0 - 2.7 / 8.75) <= tolerance);
    assert!(relative_error(fit.predict(4.0), 1.1 + 4.4) <= tolerance);
}

#[test]
fn line_fit_through_two_points_has_no_standard_error() {
    let fit = fit_line(&[1.0, 2.0], &[0.0, 1.0]).unwrap();
    assert_eq!(fit.slope, 1.0);
    assert!(fit.slope_se.is_nan() && fit.intercept_se.is_nan());
}

#[test]
fn line_fit_rejects_a_single_distinct_x_and_non_finite_values() {
    assert!(fit_line(&[2.0, 2.0, 2.0], &[1.0, 2.0, 3.0]).is_err());
    assert!(fit_line(&[1.0], &[1.0]).is_err());
    assert!(fit_line(&[1.0, 2.0], &[1.0, f64::NAN]).is_err());
    assert!(fit_line(&[1.0, 2.0], &[1.0]).is_err());
}

#[test]
fn fit_power_law_recovers_the_exponent_of_c_m_to_the_p_exactly() {
    // log(c m^p) carries a rounding error of about eps |log(value)| <= 16 eps; the slope is a
    // combination of the y_k with coefficients (x_k - x_bar)/Sxx summing to at most
    // sum |x_k - x_bar| / Sxx < 1 in absolute value, so a few hundred eps bounds its error.
    for exponent in [-1.0, -0.5, 0.37, 2.0] {
        let values: Vec<f64> = WIDTHS.iter().map(|m| 2.3 * m.powf(exponent)).collect();
        let fit = fit_power_law(&WIDTHS, &values).unwrap();
        assert!(
            (fit.slope - exponent).abs() <= 256.0 * EPS,
            "{exponent}: {fit:?}"
        );
        assert!(
            (fit.intercept - 2.3f64.ln()).abs() <= 1024.0 * EPS,
            "{fit:?}"
        );
    }
}

#[test]
fn fit_power_law_rejects_non_positive_values_and_widths() {
    assert!(fit_power_law(&[1.0, 2.0], &[1.0, 0.0]).is_err());
    assert!(fit_power_law(&[1.0, 2.0], &[1.0, -1.0]).is_err());
    assert!(fit_power_law(&[0.0, 2.0], &[1.0, 1.0]).is_err());
    assert!(fit_power_law(&[2.0, 2.0], &[1.0, 3.0]).is_err());
}

// ---------------------------------------------------------------------------------------
// Bootstrap

#[test]
fn bootstrap_point_estimate_is_the_power_law_fit_of_the_statistic() {
    let samples = fluctuation_sweep(1, 16);
    let statistics: Vec<f64> = samples.iter().map(|s| Statistic::StdDev.apply(s)).collect();
    let fit = fit_power_law(&WIDTHS, &statistics).unwrap();
    let settings = BootstrapSettings {
        resamples: 100,
        ..Default::default()
    };
    let exponent =
        bootstrap_power_law(&WIDTHS, &samples, |s| Statistic::StdDev.apply(s), &settings).unwrap();
    assert_eq!(exponent.slope.to_bits(), fit.slope.to_bits());
    assert_eq!(exponent.intercept.to_bits(), fit.intercept.to_bits());
    assert!(exponent.lo <= exponent.hi);
    assert_eq!((exponent.resamples, exponent.dropped), (100, 0));
    assert!(exponent.paired);
}

/// Standard deviations of S = 64 normal values: var(log sd) = 1/(2(S - 1)) to first order, so
/// the fitted slope has standard deviation sqrt(1/(2(S - 1)) / Sxx) = 0.041; the estimate
/// must lie within 4 of them of -1/2.
#[test]
fn bootstrap_recovers_exponent_minus_half_of_the_standard_deviation() {
    let seeds = 64;
    let samples = fluctuation_sweep(2, seeds);
    let exponent = bootstrap_power_law(
        &WIDTHS,
        &samples,
        |s| Statistic::StdDev.apply(s),
        &BootstrapSettings::default(),
    )
    .unwrap();
    let slope_sd = (1.0 / (2.0 * (seeds - 1) as f64) / log_width_spread()).sqrt();
    assert!(
        (exponent.slope + 0.5).abs() <= 4.0 * slope_sd,
        "{exponent:?}"
    );
    assert!(exponent.lo < exponent.slope && exponent.slope < exponent.hi);
    assert_eq!(exponent.resamples, 2000);
}

/// |mean| of S = 16 values (b/m)(1 + 0.3 z): log |mean| = log(b/m) + 0.3 z_bar to first order,
/// variance 0.09/S, so the slope has standard deviation sqrt(0.09/S / Sxx) = 0.034; the
/// estimate must lie within 4 of them of -1.
#[test]
fn bootstrap_recovers_exponent_minus_one_of_the_absolute_mean() {
    let seeds = 16;
    let samples = bias_sweep(3, seeds);
    let exponent = bootstrap_power_law(
        &WIDTHS,
        &samples,
        |s| Statistic::AbsMean.apply(s),
        &BootstrapSettings::default(),
    )
    .unwrap();
    let slope_sd = (RELATIVE_NOISE * RELATIVE_NOISE / seeds as f64 / log_width_spread()).sqrt();
    assert!(
        (exponent.slope + 1.0).abs() <= 4.0 * slope_sd,
        "{exponent:?}"
    );
    assert!(exponent.lo < exponent.slope && exponent.slope < exponent.hi);
}

/// The plug-in delta-method spread sd_B of the bootstrap slope of log(mean): with
/// c_k = (log m_k - mean log m)/Sxx and C_kl = (1/S) sum_s (x_ks - mean_k)(x_ls - mean_l),
/// sd_B^2 = sum c_k c_l C_kl / (S mean_k mean_l) over all pairs (k, l) when the resamples are
/// paired (a resample mean at width k covaries with that at width l by C_kl / S), over k = l
/// only when the widths are resampled independently.
fn delta_method_spread(samples: &[Vec<f64>], paired: bool) -> f64 {
    let log_m: Vec<f64> = WIDTHS.iter().map(|m| m.ln()).collect();
    let log_m_mean = log_m.iter().sum::<f64>() / log_m.len() as f64;
    let c: Vec<f64> = log_m
        .iter()
        .map(|x| (x - log_m_mean) / log_width_spread())
        .collect();
    let seeds = samples[0].len() as f64;
    let means: Vec<f64> = samples
        .iter()
        .map(|s| s.iter().sum::<f64>() / seeds)
        .collect();
    let mut variance = 0.0;
    for k in 0..WIDTHS.len() {
        for l in 0..WIDTHS.len() {
            if k != l && !paired {
                continue;
            }
            let covariance = samples[k]
                .iter()
                .zip(&samples[l])
                .map(|(x, y)| (x - means[k]) * (y - means[l]))
                .sum::<f64>()
                / seeds;
            variance += c[k] * c[l] * covariance / (seeds * means[k] * means[l]);
        }
    }
    variance.sqrt()
}

/// With S = 256 seeds the bootstrap distribution of the slope of log(mean) is close to normal
/// with the spread sd_B of [`delta_method_spread`], so the 90% percentile ends sit 1.645 sd_B
/// from the estimate, up to the Monte Carlo error of a 5% quantile of B = 2000 draws,
/// sqrt(0.05 0.95 / B) / phi(1.645) = 0.047 sd_B (4 of them allowed), plus skewness and
/// curvature of log, each below 0.01 sd_B here (relative spread of a mean below 0.15/16).
fn assert_interval_ends_sit_at_the_delta_method_spread(samples: &[Vec<f64>], paired: bool) {
    let settings = BootstrapSettings {
        level: 0.9,
        paired,
        ..Default::default()
    };
    let exponent =
        bootstrap_power_law(&WIDTHS, samples, |s| Statistic::Mean.apply(s), &settings).unwrap();
    assert_eq!(exponent.paired, paired);
    let spread = delta_method_spread(samples, paired);
    let z: f64 = 1.644_853_626_951_472_2; // Phi^(-1)(0.95)
    let density = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let tolerance = 4.0 * (0.05f64 * 0.95 / 2000.0).sqrt() / density + 0.02;
    for distance in [exponent.slope - exponent.lo, exponent.hi - exponent.slope] {
        assert!(
            (distance / spread - z).abs() <= tolerance,
            "{} sd_B from the estimate ({exponent:?})",
            distance / spread
        );
    }
}

/// Independent seeds (3/m)(1 + 0.1 z), resampled width by width.
#[test]
fn independent_interval_ends_sit_at_normal_quantiles_of_the_delta_method_spread() {
    let seeds = 256;
    let z = normals(6, WIDTHS.len() * seeds);
    let samples: Vec<Vec<f64>> = WIDTHS
        .iter()
        .zip(z.chunks(seeds))
        .map(|(m, z)| z.iter().map(|z| 3.0 / m * (1.0 + 0.1 * z)).collect())
        .collect();
    assert_interval_ends_sit_at_the_delta_method_spread(&samples, false);
}

/// Seeds (3/m)(1 + 0.1 z_s + 0.1 z_(k,s)) with a shared effect, resampled whole: the shared
/// effect cancels in the slope, so sd_B is 1/sqrt(2) of what independent resampling would
/// give, far outside the tolerance.
#[test]
fn paired_interval_ends_sit_at_normal_quantiles_of_the_covariance_delta_method_spread() {
    let seeds = 256;
    let z = normals(7, (WIDTHS.len() + 1) * seeds);
    let (shared, own) = z.split_at(seeds);
    let samples: Vec<Vec<f64>> = WIDTHS
        .iter()
        .zip(own.chunks(seeds))
        .map(|(m, own)| {
            own.iter()
                .zip(shared)
                .map(|(own, shared)| 3.0 / m * (1.0 + 0.1 * shared + 0.1 * own))
                .collect()
        })
        .collect();
    assert_interval_ends_sit_at_the_delta_method_spread(&samples, true);
}

/// A synthetic sweep generator: (data seed, seeds per width) -> per-width samples.
type Sweep = fn(u64, usize) -> Vec<Vec<f64>>;

/// The fraction of `data_sets` synthetic sweeps (16 seeds at each of [`WIDTHS`]) whose 90%
/// interval (B = 1000) contains the true exponent `truth`.
fn coverage(sweep: Sweep, truth: f64, statistic: Statistic, paired: bool, data_sets: u64) -> f64 {
    let covered = (0..data_sets)
        .filter(|&set| {
            let samples = sweep(100 + set, 16);
            let settings = BootstrapSettings {
                resamples: 1000,
                level: 0.9,
                seed: set,
                paired,
            };
            let exponent =
                bootstrap_power_law(&WIDTHS, &samples, |s| statistic.apply(s), &settings).unwrap();
            exponent.lo <= truth && truth <= exponent.hi
        })
        .count();
    covered as f64 / data_sets as f64
}

/// The band a coverage measured on `data_sets` sweeps must fall in: the long-run coverage of
/// each tested design lies in [0.84, 0.90] (documented on `bootstrap_power_law`: the
/// percentile interval undercovers with 16 seeds; measured 0.854 to 0.879 on 10,000 other
/// sweeps, each within 0.0035), and the measured proportion may stray 4 binomial standard
/// deviations beyond either end. Independent resampling of the shared-effect sweep (0.967)
/// falls outside.
fn assert_coverage_in_band(measured: f64, data_sets: u64) {
    let binomial_sd = |p: f64| (p * (1.0 - p) / data_sets as f64).sqrt();
    let (lo, hi) = (
        0.84 - 4.0 * binomial_sd(0.84),
        0.90 + 4.0 * binomial_sd(0.90),
    );
    assert!(
        lo <= measured && measured <= hi,
        "{measured} not in [{lo}, {hi}]"
    );
}

#[test]
fn independent_ninety_percent_interval_of_the_standard_deviation_exponent_covers_as_documented() {
    let measured = coverage(fluctuation_sweep, -0.5, Statistic::StdDev, false, 1000);
    assert_coverage_in_band(measured, 1000);
}

#[test]
fn independent_ninety_percent_interval_of_the_absolute_mean_exponent_covers_as_documented() {
    let measured = coverage(bias_sweep, -1.0, Statistic::AbsMean, false, 1000);
    assert_coverage_in_band(measured, 1000);
}

#[test]
fn paired_ninety_percent_interval_covers_as_documented_under_a_shared_seed_effect() {
    let measured = coverage(shared_bias_sweep, -1.0, Statistic::AbsMean, true, 1000);
    assert_coverage_in_band(measured, 1000);
}

#[test]
fn paired_ninety_percent_interval_covers_as_documented_on_nested_particles() {
    let measured = coverage(nested_sweep, -0.5, Statistic::StdDev, true, 1000);
    assert_coverage_in_band(measured, 1000);
}

/// The interval of `bootstrap_power_law` recomputed sequentially from its documentation:
/// resample b draws from the stream (seed, Bootstrap, 0, b) one set of S indices for all
/// widths when `paired`, else S_k indices for each width in turn; the kept slopes' quantiles
/// interpolate linearly between order statistics. Returns (lo, hi, kept, dropped).
fn documented_interval(
    samples: &[Vec<f64>],
    statistic: Statistic,
    settings: &BootstrapSettings,
    paired: bool,
) -> (f64, f64, usize, usize) {
    let log_m: Vec<f64> = WIDTHS.iter().map(|m| m.ln()).collect();
    let mut slopes = Vec::new();
    for b in 0..settings.resamples {
        let mut rng = stream(settings.seed, Purpose::Bootstrap, 0, b as u64);
        let count = samples[0].len();
        let indices: Vec<usize> = if paired {
            (0..count).map(|_| rng.random_range(0..count)).collect()
        } else {
            Vec::new()
        };
        let log_statistic: Vec<f64> = samples
            .iter()
            .map(|sample| {
                let resample: Vec<f64> = if paired {
                    indices.iter().map(|&i| sample[i]).collect()
                } else {
                    (0..sample.len())
                        .map(|_| sample[rng.random_range(0..sample.len())])
                        .collect()
                };
                statistic.apply(&resample).ln()
            })
            .collect();
        if let Ok(fit) = fit_line(&log_m, &log_statistic) {
            slopes.push(fit.slope);
        }
    }
    slopes.sort_by(f64::total_cmp);
    let quantile = |p: f64| {
        let h = (slopes.len() - 1) as f64 * p;
        let below = h.floor() as usize;
        let above = (below + 1).min(slopes.len() - 1);
        slopes[below] + (h - below as f64) * (slopes[above] - slopes[below])
    };
    let level = settings.level;
    (
        quantile(0.5 * (1.0 - level)),
        quantile(0.5 * (1.0 + level)),
        slopes.len(),
        settings.resamples - slopes.len(),
    )
}

fn assert_matches_documented(exponent: &ExponentInterval, documented: (f64, f64, usize, usize)) {
    let (lo, hi, kept, dropped) = documented;
    assert_eq!(exponent.lo.to_bits(), lo.to_bits(), "{exponent:?} vs {lo}");
    assert_eq!(exponent.hi.to_bits(), hi.to_bits(), "{exponent:?} vs {hi}");
    assert_eq!((exponent.resamples, exponent.dropped), (kept, dropped));
}

/// paired = false is the resampling of the version without pairing, width by width.
#[test]
fn bootstrap_resamples_bit_for_bit_as_documented_paired_or_not() {
    let samples = shared_bias_sweep(8, 16);
    for paired in [false, true] {
        let settings = BootstrapSettings {
            resamples: 300,
            level: 0.8,
            seed: 21,
            paired,
        };
        let absolute_mean = |s: &[f64]| Statistic::AbsMean.apply(s);
        let exponent = bootstrap_power_law(&WIDTHS, &samples, absolute_mean, &settings).unwrap();
        assert_eq!(exponent.paired, paired);
        let documented = documented_interval(&samples, Statistic::AbsMean, &settings, paired);
        assert_matches_documented(&exponent, documented);
    }
}

#[test]
fn bootstrap_falls_back_to_independent_resampling_when_sample_counts_differ() {
    let mut samples = nested_sweep(9, 16);
    samples[1].truncate(12);
    samples[3].truncate(9);
    for paired in [false, true] {
        let settings = BootstrapSettings {
            resamples: 300,
            paired,
            ..Default::default()
        };
        let std_dev = |s: &[f64]| Statistic::StdDev.apply(s);
        let exponent = bootstrap_power_law(&WIDTHS, &samples, std_dev, &settings).unwrap();
        assert!(!exponent.paired);
        let documented = documented_interval(&samples, Statistic::StdDev, &settings, false);
        assert_matches_documented(&exponent, documented);
    }
}

#[test]
fn bootstrap_intervals_are_bit_identical_for_the_same_inputs_and_seed() {
    let samples = fluctuation_sweep(4, 16);
    for paired in [false, true] {
        let settings = BootstrapSettings {
            resamples: 500,
            level: 0.9,
            seed: 17,
            paired,
        };
        let run = |settings: &BootstrapSettings| {
            bootstrap_power_law(&WIDTHS, &samples, |s| Statistic::StdDev.apply(s), settings)
                .unwrap()
        };
        assert_bit_identical(&run(&settings), &run(&settings));
        let other_seed = BootstrapSettings {
            seed: 18,
            ..settings
        };
        assert_ne!(run(&other_seed).lo.to_bits(), run(&settings).lo.to_bits());
    }
}

#[test]
fn bootstrap_intervals_are_bit_identical_on_one_and_three_threads() {
    let samples = shared_bias_sweep(5, 16);
    for paired in [false, true] {
        let settings = BootstrapSettings {
            resamples: 500,
            paired,
            ..Default::default()
        };
        let on_threads = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    bootstrap_power_law(
                        &WIDTHS,
                        &samples,
                        |s| Statistic::AbsMean.apply(s),
                        &settings,
                    )
                    .unwrap()
                })
        };
        assert_bit_identical(&on_threads(1), &on_threads(3));
    }
}

/// At one width the seeds are 0, 0, 0, 1: a resample has |mean| = 0, and is dropped, with
/// probability (3/4)^4 (the widths hold 2, 4 and 2 values, so they are resampled
/// independently); of B = 2000 resamples the dropped count is binomial, within 4 of its
/// standard deviations of 2000 (3/4)^4.
#[test]
fn bootstrap_drops_and_counts_resamples_with_a_zero_statistic() {
    let samples = vec![vec![1.0, 2.0], vec![0.0, 0.0, 0.0, 1.0], vec![0.5, 0.25]];
    let exponent = bootstrap_power_law(
        &[10.0, 20.0, 40.0],
        &samples,
        |s| Statistic::AbsMean.apply(s),
        &BootstrapSettings::default(),
    )
    .unwrap();
    let p = 0.75f64.powi(4);
    let expected = 2000.0 * p;
    let sd = (2000.0 * p * (1.0 - p)).sqrt();
    assert!(
        (exponent.dropped as f64 - expected).abs() <= 4.0 * sd,
        "{exponent:?}"
    );
    assert_eq!(exponent.resamples + exponent.dropped, 2000);
    assert!(exponent.lo.is_finite() && exponent.hi.is_finite());
}

#[test]
fn bootstrap_rejects_a_zero_statistic_and_mismatched_inputs() {
    let absolute_mean = |s: &[f64]| Statistic::AbsMean.apply(s);
    let settings = BootstrapSettings::default();
    let zero_mean = vec![vec![1.0, -1.0], vec![1.0, 2.0]];
    assert!(bootstrap_power_law(&[1.0, 2.0], &zero_mean, absolute_mean, &settings).is_err());
    let one_width = vec![vec![1.0, 2.0]];
    assert!(bootstrap_power_law(&[1.0, 2.0], &one_width, absolute_mean, &settings).is_err());
    let empty = vec![vec![1.0], vec![]];
    assert!(bootstrap_power_law(&[1.0, 2.0], &empty, absolute_mean, &settings).is_err());
    let samples = vec![vec![1.0], vec![2.0]];
    let bad_level = BootstrapSettings {
        level: 1.0,
        ..settings
    };
    assert!(bootstrap_power_law(&[1.0, 2.0], &samples, absolute_mean, &bad_level).is_err());
}

// ---------------------------------------------------------------------------------------
// Richardson extrapolation

#[test]
fn richardson_is_exact_on_a_plus_b_over_m_weighted_or_not() {
    // v = a + b/m carries a rounding error of about eps |v|; the scaled design (columns 1 and
    // m_min/m) has condition number below 10, so a and b m_min^(-1) are within ~100 eps, and b
    // within 100 eps m_min.
    let (a, b) = (0.3, 2.0);
    let means: Vec<f64> = WIDTHS.iter().map(|m| a + b / m).collect();
    let standard_errors: Vec<f64> = WIDTHS.iter().map(|m| 0.1 / m.sqrt()).collect();
    for errors in [&standard_errors[..], &[]] {
        let fit = richardson(&WIDTHS, &means, errors, 1).unwrap();
        assert!((fit.limit - a).abs() <= 1e-12, "{fit:?}");
        assert!(
            (fit.coefficients[0] - b).abs() <= 100.0 * EPS * 100.0,
            "{fit:?}"
        );
        assert_eq!(fit.weighted, !errors.is_empty());
        assert_eq!(fit.dof, 3);
        assert!(fit.chi_square <= 1e-20, "{fit:?}");
    }
}

#[test]
fn richardson_of_order_two_is_exact_on_a_plus_b_over_m_plus_c_over_m_squared() {
    // Columns 1, m_min/m, (m_min/m)^2 have a condition number below 1e3: a within 1e-12, and
    // c = c_scaled m_min^2 within 1e3 eps |v| m_min^2.
    let widths = [10.0, 20.0, 40.0, 80.0, 160.0];
    let (a, b, c) = (0.25, 1.5, -4.0);
    let means: Vec<f64> = widths.iter().map(|m| a + b / m + c / (m * m)).collect();
    let fit = richardson(&widths, &means, &[0.01; 5], 2).unwrap();
    assert!((fit.limit - a).abs() <= 1e-12, "{fit:?}");
    assert!(
        (fit.coefficients[0] - b).abs() <= 1e3 * EPS * 10.0,
        "{fit:?}"
    );
    assert!(
        (fit.coefficients[1] - c).abs() <= 1e3 * EPS * 100.0,
        "{fit:?}"
    );
    assert_eq!((fit.coefficients.len(), fit.dof), (2, 2));
    // The first-order fit of the same data misses the 1/m^2 term.
    let first = richardson(&widths, &means, &[0.01; 5], 1).unwrap();
    assert!((first.limit - a).abs() > 1e-4);
}

#[test]
fn richardson_through_two_widths_matches_the_closed_form_and_its_variance() {
    // a = (m2 v2 - m1 v1)/(m2 - m1), var(a) = (m2^2 se2^2 + m1^2 se1^2)/(m2 - m1)^2.
    let (m1, m2) = (100.0, 400.0);
    let (v1, v2) = (0.52, 0.505);
    let (se1, se2) = (0.003, 0.001);
    let fit = richardson(&[m1, m2], &[v1, v2], &[se1, se2], 1).unwrap();
    let limit = (m2 * v2 - m1 * v1) / (m2 - m1);
    let limit_se = ((m2 * m2 * se2 * se2 + m1 * m1 * se1 * se1) / ((m2 - m1) * (m2 - m1))).sqrt();
    assert!(relative_error(fit.limit, limit) <= 1e-13, "{fit:?}");
    assert!(relative_error(fit.limit_se, limit_se) <= 1e-13, "{fit:?}");
    assert_eq!(fit.dof, 0);
    assert!(fit.reduced_chi_square().is_nan());
}

/// Noisy sweeps v_k = a + b/m_k + se_k z_k with known se_k, 2000 of them.
fn noisy_limits(standard_errors: &[f64], weighted: bool) -> Vec<(f64, f64, f64)> {
    let (a, b) = (0.5, 2.0);
    (0..2000)
        .map(|set| {
            let z = normals(10_000 + set, WIDTHS.len());
            let means: Vec<f64> = (0..WIDTHS.len())
                .map(|k| a + b / WIDTHS[k] + standard_errors[k] * z[k])
                .collect();
            let errors = if weighted { standard_errors } else { &[] };
            let fit = richardson(&WIDTHS, &means, errors, 1).unwrap();
            (fit.limit, fit.limit_se, fit.chi_square)
        })
        .collect()
}

/// With known standard errors the weighted limit has standard deviation limit_se (the same
/// for every sweep), mean a, and chi-square mean dof = 3. Over N = 2000 sweeps: the sample sd
/// has relative standard deviation 1/sqrt(2(N - 1)), the mean standard error sd/sqrt(N), the
/// mean chi-square sqrt(2 dof / N); each within 4 of its standard deviations.
#[test]
fn richardson_weighted_limit_se_matches_the_scatter_of_noisy_limits() {
    let standard_errors: Vec<f64> = WIDTHS.iter().map(|m| 0.2 / m.sqrt()).collect();
    let results = noisy_limits(&standard_errors, true);
    let n = results.len() as f64;
    let limits: Vec<f64> = results.iter().map(|r| r.0).collect();
    let scatter = Summary::of(&limits);
    let limit_se = results[0].1;
    assert!(results.iter().all(|r| r.1 == limit_se));
    assert!(
        (scatter.sd / limit_se - 1.0).abs() <= 4.0 / (2.0 * (n - 1.0)).sqrt(),
        "sd {} vs se {limit_se}",
        scatter.sd
    );
    assert!((scatter.mean - 0.5).abs() <= 4.0 * limit_se / n.sqrt());
    let chi_square_mean = results.iter().map(|r| r.2).sum::<f64>() / n;
    assert!((chi_square_mean - 3.0).abs() <= 4.0 * (2.0 * 3.0 / n).sqrt());
}

/// Unweighted, homoscedastic noise sigma: E[limit_se^2] = Var(limit) exactly (s^2 is unbiased
/// and independent of the limit). Over N = 2000 sweeps the sample variance has relative
/// standard deviation sqrt(2/(N - 1)) and the mean of limit_se^2 sqrt(2/(dof N)); their ratio's
/// logarithm must lie within 4 combined standard deviations of 0.
#[test]
fn richardson_unweighted_squared_se_averages_to_the_variance_of_noisy_limits() {
    let results = noisy_limits(&[0.01; 5], false);
    let n = results.len() as f64;
    let limits: Vec<f64> = results.iter().map(|r| r.0).collect();
    let variance = Summary::of(&limits).sd.powi(2);
    let mean_squared_se = results.iter().map(|r| r.1 * r.1).sum::<f64>() / n;
    let tolerance = 4.0 * (2.0 / (n - 1.0) + 2.0 / (3.0 * n)).sqrt();
    assert!(
        (mean_squared_se / variance).ln().abs() <= tolerance,
        "{mean_squared_se} vs {variance}"
    );
}

#[test]
fn richardson_falls_back_to_unweighted_when_a_standard_error_is_zero_or_nan() {
    let means: Vec<f64> = WIDTHS.iter().map(|m| 1.0 + 1.0 / m).collect();
    for errors in [[0.1, 0.1, 0.0, 0.1, 0.1], [0.1, f64::NAN, 0.1, 0.1, 0.1]] {
        assert!(!richardson(&WIDTHS, &means, &errors, 1).unwrap().weighted);
    }
}

#[test]
fn richardson_rejects_fewer_distinct_widths_than_parameters() {
    assert!(richardson(&[100.0], &[1.0], &[], 1).is_err());
    assert!(richardson(&[100.0, 200.0], &[1.0, 2.0], &[], 2).is_err());
    assert!(richardson(&[100.0, 100.0, 200.0], &[1.0, 1.1, 2.0], &[], 2).is_err());
    assert!(richardson(&[100.0, 200.0], &[1.0, 2.0], &[], 0).is_err());
    assert!(richardson(&[100.0, 200.0], &[1.0, 2.0], &[0.1, -0.1], 1).is_err());
}

#[test]
fn richardson_interval_uses_the_normal_quantile_when_weighted_and_student_t_when_not() {
    let means = [0.52, 0.51, 0.506];
    let widths = [100.0, 200.0, 400.0];
    let weighted = richardson(&widths, &means, &[0.002; 3], 1).unwrap();
    let (lo, hi) = weighted.limit_interval(0.95);
    let z = normal_quantile(0.975);
    assert!(relative_error(hi - lo, 2.0 * z * weighted.limit_se) <= 1e-14);
    let unweighted = richardson(&widths, &means, &[], 1).unwrap();
    let (lo, hi) = unweighted.limit_interval(0.95);
    // One dof: t = cot(pi q).
    let t = 1.0 / (std::f64::consts::PI * 0.025).tan();
    assert!(relative_error(hi - lo, 2.0 * t * unweighted.limit_se) <= 1e-13);
}

// ---------------------------------------------------------------------------------------
// Quantiles

/// (p, Phi^(-1)(p)) to 20 digits (mpmath, 50 digits, at the exact double p).
const NORMAL_QUANTILES: [(f64, f64); 9] = [
    (0.75, 0.674_489_750_196_081_743_2),
    (0.95, 1.644_853_626_951_472_284_3),
    (0.975, 1.959_963_984_540_053_855_6),
    (0.995, 2.575_829_303_548_900_453_9),
    (0.024_25, -1.972_961_051_311_884_837_6),
    (0.01, -2.326_347_874_040_841_093_1),
    (1e-10, -6.361_340_902_404_056_199_1),
    (1e-300, -37.047_096_299_361_199_237),
    (9.094_947_017_729_282e-13, -7.047_700_256_664_408_725_4),
];

#[test]
fn normal_quantile_matches_mpmath_values() {
    for (p, expected) in NORMAL_QUANTILES {
        let found = normal_quantile(p);
        assert!(
            relative_error(found, expected) <= 1e-14,
            "{p}: {found} vs {expected}"
        );
    }
    assert_eq!(normal_quantile(0.5), 0.0);
    assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
    assert_eq!(normal_quantile(1.0), f64::INFINITY);
    assert!(normal_quantile(1.5).is_nan() && normal_quantile(f64::NAN).is_nan());
}

#[test]
fn normal_cdf_inverts_the_normal_quantile() {
    // Phi(x(1 + delta)) = p (1 + x phi(x)/Phi(x) delta): relative errors of a few eps in the
    // quantile and in erfc give a relative error of a few eps times (1 + x^2) in p.
    for p in [1e-12, 1e-6, 0.01, 0.1, 0.3, 0.5] {
        let x = normal_quantile(p);
        let tolerance = 8.0 * EPS * (1.0 + x * x);
        assert!(relative_error(normal_cdf(x), p) <= tolerance, "{p}");
    }
}

/// (dof, [t at p = 0.975, 0.95, 0.9995, 2^-30]) to 20 digits (mpmath, 50 digits).
const STUDENT_QUANTILES: [(f64, [f64; 4]); 16] = [
    (
        1.0,
        [
            12.706_204_736_174_693_314,
            6.313_751_514_675_037_397_9,
            636.619_248_768_789_729_83,
            -341_782_637.788_215_793_92,
        ],
    ),
    (
        2.0,
        [
            4.302_652_729_749_461_789_4,
            2.919_985_580_353_724_170_3,
            31.599_054_576_445_363_413,
            -23_170.474_973_552_009_611,
        ],
    ),
    (
        2.5,
        [
            3.574_654_842_003_681_760_7,
            2.558_218_614_135_935_458_6,
            18.277_893_528_131_457_681,
            -3_590.323_085_792_279_471_3,
        ],
    ),
    (
        3.0,
        [
            3.182_446_305_283_708_435_9,
            2.353_363_434_801_822_899,
            12.923_978_636_687_964_322,
            -1_057.904_361_792_511_948_3,
        ],
    ),
    (
        4.0,
        [
            2.776_445_105_197_793_489_8,
            2.131_846_786_326_649_528_5,
            8.610_301_581_379_522_757_1,
            -238.227_847_960_239_069_91,
        ],
    ),
    (
        5.0,
        [
            2.570_581_835_636_314_782_8,
            2.015_048_373_333_023_541_7,
            6.868_826_625_881_275_131_8,
            -100.355_774_037_723_598_58,
        ],
    ),
    (
        10.0,
        [
            2.228_138_851_986_274_224_5,
            1.812_461_122_811_675_869_3,
            4.586_893_858_702_707_738_5,
            -20.291_769_281_991_486_405,
        ],
    ),
    (
        30.0,
        [
            2.042_272_456_301_237_887_8,
            1.697_260_886_593_957_383_7,
            3.645_958_635_042_062_807_9,
            -8.473_977_050_107_875_227_8,
        ],
    ),
    (
        100.0,
        [
            1.983_971_518_523_551_894_6,
            1.660_234_326_085_339_115,
            3.390_491_311_164_263_613_2,
            -6.614_083_244_068_741_334,
        ],
    ),
    (
        1000.0,
        [
            1.962_339_080_826_408_103_9,
            1.646_378_817_285_464_284,
            3.300_282_648_423_944_155_8,
            -6.065_555_986_613_364_546_1,
        ],
    ),
    (
        9_999.0,
        [
            1.960_201_263_621_357_300_3,
            1.645_006_033_311_299_058,
            3.291_500_063_300_962_867,
            -6.014_934_099_726_206_060_7,
        ],
    ),
    (
        10_000.0,
        [
            1.960_201_239_890_625_877_8,
            1.645_006_018_069_242_533_7,
            3.291_499_965_941_635_691_4,
            -6.014_933_541_227_696_914_3,
        ],
    ),
    (
        99_999.0,
        [
            1.959_987_707_771_844_399_1,
            1.644_868_864_937_350_582_4,
            3.290_624_032_384_948_722_3,
            -6.009_911_168_347_801_832,
        ],
    ),
    (
        1e6,
        [
            1.959_966_356_814_106_655_3,
            1.644_855_150_722_040_062,
            3.290_536_461_248_722_116_5,
            -6.009_409_321_253_836_25,
        ],
    ),
    (
        1e7,
        [
            1.959_964_221_767_205_110_4,
            1.644_853_779_328_401_243_7,
            3.290_527_704_465_253_435_3,
            -6.009_359_141_063_045_791_2,
        ],
    ),
    (
        f64::INFINITY,
        [
            1.959_963_984_540_053_855_6,
            1.644_853_626_951_472_284_3,
            3.290_526_731_491_925_778_7,
            -6.009_353_565_530_743_893_2,
        ],
    ),
];

/// Within the bound stated on `student_t_quantile`: (64 + min(dof, 1e4)) eps relative.
#[test]
fn student_t_quantile_matches_mpmath_values() {
    let probabilities = [0.975, 0.95, 0.9995, 2f64.powi(-30)];
    for (dof, expected) in STUDENT_QUANTILES {
        for (p, expected) in probabilities.into_iter().zip(expected) {
            let found = student_t_quantile(p, dof);
            assert!(
                relative_error(found, expected) <= (64.0 + dof.min(1e4)) * EPS,
                "dof {dof}, p {p}: {found} vs {expected}"
            );
        }
    }
}

#[test]
fn student_t_cdf_inverts_the_quantile_and_is_symmetric() {
    for dof in [1.0, 2.5, 7.0, 50.0] {
        for p in [1e-8, 0.01, 0.2, 0.6, 0.99] {
            let t = student_t_quantile(p, dof);
            assert!(
                relative_error(student_t_cdf(t, dof), p) <= 1e-12,
                "{dof} {p}"
            );
        }
        assert_eq!(student_t_cdf(0.0, dof), 0.5);
        assert_eq!(student_t_quantile(0.5, dof), 0.0);
        let t = 1.7;
        assert!((student_t_cdf(t, dof) + student_t_cdf(-t, dof) - 1.0).abs() <= 2.0 * EPS);
    }
    assert!(student_t_quantile(0.9, 0.0).is_nan());
}
