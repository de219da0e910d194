//! Readers of a finite-m sweep's outputs shared by the gallery entries that compare widths with
//! a limit (`limit`, `exact_limit`): the risk rows of `sweep_stats.csv`, the error-bar series of
//! a scaling figure and the text of fitted exponents.

use std::path::Path;

use super::lazy::{Fit, rounded};
use crate::error::{Error, Result};
use crate::plot::sweep::{PowerFit, ScalingSeries};

/// One row of sweep_stats.csv for the risk (a sweep without varied keys).
#[derive(Clone, Debug)]
pub(super) struct RiskRow {
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
    /// Control-variate estimate of the mean deviation (NaN unless reference = "limit").
    pub(super) deviation_cv_mean: f64,
    /// Its standard error.
    pub(super) deviation_cv_se: f64,
}

/// The columns read, in the order of [`RiskRow`]'s fields; those after the first
/// [`REQUIRED`] may be absent (NaN).
const COLUMNS: [&str; 11] = [
    "m",
    "time",
    "seeds",
    "mean",
    "se",
    "reference",
    "deviation_mean",
    "deviation_se",
    "deviation_sd",
    "deviation_cv_mean",
    "deviation_cv_se",
];

/// How many of [`COLUMNS`] every sweep_stats.csv has.
const REQUIRED: usize = 9;

/// The risk rows of the sweep_stats.csv at `path`.
pub(super) fn risk_rows(path: &Path) -> Result<Vec<RiskRow>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let index = |name: &str| header.iter().position(|c| *c == name);
    let observable =
        index("observable").ok_or_else(|| Error::format(path, "no column observable"))?;
    let mut columns = Vec::new();
    for (k, name) in COLUMNS.iter().enumerate() {
        match index(name) {
            Some(column) => columns.push(Some(column)),
            None if k >= REQUIRED => columns.push(None),
            None => return Err(Error::format(path, format!("no column {name}"))),
        }
    }
    let mut rows = Vec::new();
    for (number, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.get(observable) != Some(&"risk") {
            continue;
        }
        let mut values = [f64::NAN; COLUMNS.len()];
        for (value, column) in values.iter_mut().zip(&columns) {
            let Some(column) = *column else { continue };
            *value = fields
                .get(column)
                .and_then(|f| f.parse::<f64>().ok())
                .ok_or_else(|| {
                    Error::format(
                        path,
                        format!("line {}, column {}: not a number", number + 2, column + 1),
                    )
                })?;
        }
        rows.push(row_of(values));
    }
    Ok(rows)
}

/// The row of the values of [`COLUMNS`].
fn row_of(values: [f64; COLUMNS.len()]) -> RiskRow {
    let [
        m,
        time,
        seeds,
        mean,
        se,
        reference,
        deviation_mean,
        deviation_se,
        deviation_sd,
        deviation_cv_mean,
        deviation_cv_se,
    ] = values;
    RiskRow {
        m: m as usize,
        time,
        seeds,
        mean,
        se,
        reference,
        deviation_mean,
        deviation_se,
        deviation_sd,
        deviation_cv_mean,
        deviation_cv_se,
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
