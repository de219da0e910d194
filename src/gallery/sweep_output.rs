//! Readers of a finite-m sweep's outputs shared by the gallery entries that read sweeps (`lazy`,
//! `limit`, `exact_limit`): the fitted exponents of `sweep_summary.json` (read into the sweep's
//! own [`SweepSummary`]), the risk rows of `sweep_stats.csv`, the error-bar series of a scaling
//! figure and the text of fitted exponents.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

use super::numbers::rounded;
use crate::diagnostics::stats::ExponentInterval;
use crate::error::{Error, Result};
use crate::plot::sweep::{BandCurve, PowerFit, ScalingSeries};
use crate::sweep::analysis::{FitRecord, SweepSummary};

/// A fitted exponent of statistic ~ C m^slope with its bootstrap interval.
#[derive(Clone, Copy, Debug)]
pub(super) struct Fit {
    /// The exponent.
    pub(super) slope: f64,
    /// ln C.
    pub(super) intercept: f64,
    /// Lower end of the interval.
    pub(super) lo: f64,
    /// Upper end of the interval.
    pub(super) hi: f64,
    /// Confidence level of [lo, hi].
    pub(super) level: f64,
    /// The time of the fit.
    pub(super) time: f64,
}

impl Fit {
    /// The fit of a bootstrap exponent interval, at `time`.
    pub(super) fn from_interval(interval: &ExponentInterval, time: f64) -> Self {
        Self {
            slope: interval.slope,
            intercept: interval.intercept,
            lo: interval.lo,
            hi: interval.hi,
            level: interval.level,
            time,
        }
    }

    /// Whether `value` lies in [lo, hi].
    pub(super) fn covers(&self, value: f64) -> bool {
        self.lo <= value && value <= self.hi
    }

    /// `-0.503 [-0.612, -0.398]`.
    pub(super) fn text(&self) -> String {
        format!("{:+.3} [{:+.3}, {:+.3}]", self.slope, self.lo, self.hi)
    }

    /// The numbers of gallery.json.
    pub(super) fn json(&self) -> Value {
        json!({
            "slope": rounded(self.slope, 4),
            "lo": rounded(self.lo, 4),
            "hi": rounded(self.hi, 4),
            "level": self.level,
            "time": rounded(self.time, 4),
        })
    }

    /// The line of a scaling figure, its prefactor divided by `scale`.
    pub(super) fn power(&self, scale: f64) -> PowerFit {
        PowerFit {
            slope: self.slope,
            intercept_log: self.intercept - scale.ln(),
            lo: self.lo,
            hi: self.hi,
        }
    }
}

/// The fits of `observable` and `statistic` of point `point` of a sweep summary (none when the
/// sweep has no such point).
fn fits_of<'a>(
    summary: &'a SweepSummary,
    point: usize,
    observable: &'a str,
    statistic: &'a str,
) -> impl Iterator<Item = &'a FitRecord> {
    summary
        .points
        .get(point)
        .map(|p| p.fits.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(move |f| f.observable == observable && f.statistic == statistic)
}

/// The times of the fits of `observable` and `statistic` of point `point`, ascending, each once.
pub(super) fn fit_times(
    summary: &SweepSummary,
    point: usize,
    observable: &str,
    statistic: &str,
) -> Vec<f64> {
    let mut times: Vec<f64> = fits_of(summary, point, observable, statistic)
        .map(|f| f.time)
        .collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    times
}

/// The fit of `observable` and `statistic` at the time nearest to `time` among the fits of
/// point `point` of a sweep summary (read from `path`, for the error).
pub(super) fn sweep_fit(
    summary: &SweepSummary,
    point: usize,
    observable: &str,
    statistic: &str,
    time: f64,
    path: &Path,
) -> Result<Fit> {
    let missing = |why: &str| {
        Error::format(
            path,
            format!("point {point}: no {statistic} fit of {observable} near t = {time}: {why}"),
        )
    };
    let record = fits_of(summary, point, observable, statistic)
        .min_by(|a, b| (a.time - time).abs().total_cmp(&(b.time - time).abs()))
        .ok_or_else(|| missing("none recorded"))?;
    let number = |value: Option<f64>| {
        value.ok_or_else(|| missing(record.note.as_deref().unwrap_or("no value or interval")))
    };
    Ok(Fit {
        slope: number(record.slope)?,
        intercept: number(record.intercept)?,
        lo: number(record.lo)?,
        hi: number(record.hi)?,
        level: record.level,
        time: record.time,
    })
}

/// One row of sweep_stats.csv for the risk (a sweep without varied keys), read by name with
/// serde (the `csv` crate): the other columns of the file are ignored.
#[derive(Clone, Debug, Deserialize)]
pub(super) struct RiskRow {
    /// Which observable the row is of (only `risk` rows are kept).
    observable: String,
    /// Width.
    pub(super) m: usize,
    /// Logged time.
    pub(super) time: f64,
    /// Seeds averaged.
    pub(super) seeds: f64,
    /// Seed mean of R_m(t).
    pub(super) mean: f64,
    /// Its standard error.
    pub(super) se: f64,
    /// The reference R(t).
    pub(super) reference: f64,
    /// Seed mean of R_m(t) - R(t).
    pub(super) deviation_mean: f64,
    /// Its standard error.
    pub(super) deviation_se: f64,
    /// Seed standard deviation of R_m(t) - R(t).
    pub(super) deviation_sd: f64,
    /// Control-variate estimate of the mean deviation (NaN unless reference = "limit", and
    /// where the file predates the column).
    #[serde(default = "not_a_number")]
    pub(super) deviation_cv_mean: f64,
    /// Its standard error.
    #[serde(default = "not_a_number")]
    pub(super) deviation_cv_se: f64,
}

/// NaN: the value of a column a sweep_stats.csv lacks.
fn not_a_number() -> f64 {
    f64::NAN
}

/// The risk rows of the sweep_stats.csv at `path`.
pub(super) fn risk_rows(path: &Path) -> Result<Vec<RiskRow>> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| match e.into_kind() {
        csv::ErrorKind::Io(e) => Error::io(path, e),
        other => Error::format(path, format!("{other:?}")),
    })?;
    let mut rows = Vec::new();
    for row in reader.deserialize::<RiskRow>() {
        let row = row.map_err(|e| Error::format(path, e.to_string()))?;
        if row.observable == "risk" {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The seed mean of R_m(t) over the logged times of width `m`, with a band of +-2 standard
/// errors: the curve of one width in the gallery's risk-against-time figures.
pub(super) fn risk_band(rows: &[RiskRow], m: usize) -> BandCurve {
    let width_rows: Vec<&RiskRow> = rows.iter().filter(|r| r.m == m).collect();
    BandCurve {
        label: format!("m = {m}"),
        x: width_rows.iter().map(|r| r.time).collect(),
        mean: width_rows.iter().map(|r| r.mean).collect(),
        half_width: width_rows.iter().map(|r| 2.0 * r.se).collect(),
        m: m as f64,
    }
}

/// The row of width `m` logged nearest to `time`.
pub(super) fn row_near(rows: &[RiskRow], m: usize, time: f64) -> Option<&RiskRow> {
    rows.iter()
        .filter(|r| r.m == m)
        .min_by(|a, b| (a.time - time).abs().total_cmp(&(b.time - time).abs()))
}

/// `t = 0: -1.046 [-1.290, -0.897]; t = 1: ...`.
pub(super) fn fits_text(fits: &[Fit]) -> String {
    fits.iter()
        .map(|f| format!("t = {}: {}", rounded(f.time, 4), f.text()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A scaling-figure series: `value` at each width with bars of +- `half`.
pub(super) fn scaling_series(
    label: &str,
    ms: &[f64],
    value: &[f64],
    half: &[f64],
    fit: Option<PowerFit>,
) -> ScalingSeries {
    ScalingSeries {
        label: label.into(),
        m: ms.to_vec(),
        value: value.to_vec(),
        lo: value.iter().zip(half).map(|(v, h)| v - h).collect(),
        hi: value.iter().zip(half).map(|(v, h)| v + h).collect(),
        fit,
    }
}
