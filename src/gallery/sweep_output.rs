//! Readers of a finite-m sweep's outputs shared by the gallery entries that compare widths with
//! a limit (`limit`, `exact_limit`): the risk rows of `sweep_stats.csv`, the error-bar series of
//! a scaling figure and the text of fitted exponents.

use std::path::Path;

use serde::Deserialize;

use super::lazy::{Fit, rounded};
use crate::error::{Error, Result};
use crate::plot::sweep::{PowerFit, ScalingSeries};

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
