//! Exponent fits of a sweep and the series of its scaling figures: the statistic of the
//! per-seed samples at each width, its power law in m with a paired percentile bootstrap
//! interval over seeds (`diagnostics::stats`), and the logged steps of the fits.

use std::path::Path;

use crate::diagnostics::stats::{BootstrapSettings, Statistic, Summary, bootstrap_power_law};
use crate::plot::sweep::{PowerFit, ScalingFigure, ScalingSeries, render_scaling};
use crate::sweep::analysis::FitRecord;
use crate::sweep::plan::Plan;

/// Seed means and standard errors per width, leaving out widths with no finite value.
pub(crate) fn seed_means(
    widths: &[usize],
    values: impl Fn(usize) -> Vec<f64>,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for &m in widths {
        let sample: Vec<f64> = values(m).into_iter().filter(|v| v.is_finite()).collect();
        if sample.is_empty() {
            continue;
        }
        let summary = Summary::of(&sample);
        out.0.push(m as f64);
        out.1.push(summary.mean);
        out.2.push(summary.se);
    }
    out
}

/// The logged steps nearest to the fit times (default: 0, the middle and the last logged time).
pub(crate) fn fit_steps(plan: &Plan, steps: &[u64], times: &[f64]) -> Vec<u64> {
    let last = times.last().copied().unwrap_or(0.0);
    let wanted = plan
        .times
        .clone()
        .unwrap_or_else(|| vec![0.0, 0.5 * last, last]);
    let mut chosen: Vec<u64> = wanted
        .iter()
        .filter_map(|t| {
            times
                .iter()
                .enumerate()
                .min_by(|a, b| (a.1 - t).abs().total_cmp(&(b.1 - t).abs()))
                .map(|(row, _)| steps[row])
        })
        .collect();
    chosen.sort_unstable();
    chosen.dedup();
    chosen
}

pub(crate) fn fit_record(
    observable: &str,
    statistic_name: &str,
    time: f64,
    ms: &[f64],
    samples: &[Vec<f64>],
    statistic: Statistic,
    settings: &BootstrapSettings,
) -> FitRecord {
    let mut record = FitRecord {
        observable: observable.to_string(),
        statistic: statistic_name.to_string(),
        time,
        slope: None,
        intercept: None,
        lo: None,
        hi: None,
        level: settings.level,
        resamples: None,
        note: None,
        estimator: None,
    };
    // A seed enters only if it is finite at every width (a diverged run drops its seed
    // everywhere), so that sample i is the same seed at every width, as pairing requires.
    let seeds = samples.iter().map(Vec::len).min().unwrap_or(0);
    let keep: Vec<usize> = (0..seeds)
        .filter(|&i| samples.iter().all(|s| s[i].is_finite()))
        .collect();
    let finite: Vec<Vec<f64>> = samples
        .iter()
        .map(|s| keep.iter().map(|&i| s[i]).collect())
        .collect();
    match bootstrap_power_law(ms, &finite, |s| statistic.apply(s), settings) {
        Ok(fit) => {
            record.slope = Some(fit.slope);
            record.intercept = Some(fit.intercept);
            record.lo = fit.lo.is_finite().then_some(fit.lo);
            record.hi = fit.hi.is_finite().then_some(fit.hi);
            record.resamples = Some((fit.resamples, fit.dropped));
        }
        Err(error) => record.note = Some(error.to_string()),
    }
    record
}

/// A series of the scaling figure: the statistic at each width with bars of +-2 standard
/// errors (of the mean for the bias and the mean; sd sqrt(2 / (n - 1)), the normal-theory
/// standard error, for a standard deviation of n seeds).
pub(crate) fn scaling_series(
    ms: &[f64],
    samples: &[Vec<f64>],
    statistic: Statistic,
    record: &FitRecord,
    time: f64,
) -> ScalingSeries {
    let mut value = Vec::new();
    let (mut lo, mut hi) = (Vec::new(), Vec::new());
    for sample in samples {
        let finite: Vec<f64> = sample.iter().copied().filter(|v| v.is_finite()).collect();
        let v = statistic.apply(&finite);
        let summary = Summary::of(&finite);
        let half = match statistic {
            Statistic::AbsMean | Statistic::Mean => 2.0 * summary.se,
            // The sd of n normal values has a relative standard error ~ 1/sqrt(2(n - 1)).
            _ => 2.0 * v / (2.0 * (finite.len().max(2) - 1) as f64).sqrt(),
        };
        value.push(v);
        lo.push(v - half);
        hi.push(v + half);
    }
    let fit = match (record.slope, record.intercept, record.lo, record.hi) {
        (Some(slope), Some(intercept_log), Some(lo), Some(hi)) => Some(PowerFit {
            slope,
            intercept_log,
            lo,
            hi,
        }),
        _ => None,
    };
    ScalingSeries {
        label: format!("t = {}", short_time(time)),
        m: ms.to_vec(),
        value,
        lo,
        hi,
        fit,
    }
}

/// Draws a scaling figure; false when nothing could be drawn (e.g. every value is 0 at t = 0).
pub(crate) fn draw_scaling(
    name: &str,
    what: &str,
    y_label: &str,
    series: Vec<ScalingSeries>,
    stem: &Path,
) -> bool {
    let series: Vec<ScalingSeries> = series
        .into_iter()
        .filter(|s| s.value.iter().any(|v| *v > 0.0 && v.is_finite()))
        .collect();
    if series.is_empty() {
        return false;
    }
    let figure = ScalingFigure {
        title: format!("{name}: {what}"),
        x_label: "width m".into(),
        y_label: y_label.into(),
        series,
    };
    render_scaling(&figure, stem).is_ok()
}

/// A time for a legend or a report line: at most 4 decimals, trailing zeros dropped (0.7, not
/// 0.7000000000000001).
pub(crate) fn short_time(time: f64) -> String {
    let text = format!("{time:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".into()
    } else {
        text.into()
    }
}
