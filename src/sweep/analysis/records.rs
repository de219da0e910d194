//! The records of a sweep's analysis, as `sweep_summary.json` serializes them (docs/sweeps.md):
//! the fitted exponents, the Richardson limits, the coupled distances, each point's analysis
//! and the summary of the whole sweep. Field names are the JSON's keys.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::sweep::limit_reference::ExactLimitRecord;
use crate::sweep::plan::Reference;

/// One fitted exponent (or why it could not be fitted).
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct FitRecord {
    /// The observable (`risk`, ..., or `coupled_distance`).
    pub observable: String,
    /// `bias` (|mean deviation|), `fluctuation` (standard deviation of the deviations, or of the
    /// observable without a reference) or `mean` (coupled distance).
    pub statistic: String,
    /// The logged time of the fit.
    #[serde(deserialize_with = "nan_from_null")]
    pub time: f64,
    /// Exponent p of statistic ~ C m^p.
    pub slope: Option<f64>,
    /// ln C.
    pub intercept: Option<f64>,
    /// Percentile bootstrap interval of p.
    pub lo: Option<f64>,
    /// Upper end.
    pub hi: Option<f64>,
    /// Confidence level.
    #[serde(deserialize_with = "nan_from_null")]
    pub level: f64,
    /// Bootstrap resamples kept and dropped.
    pub resamples: Option<(usize, usize)>,
    /// Why there is no fit, if there is none.
    pub note: Option<String>,
    /// How the per-seed samples of a bias were formed, where not the plain deviations (the
    /// control variate of the `limit` reference).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimator: Option<String>,
}

/// The Richardson extrapolation of one observable at one time.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct LimitRecord {
    /// The observable.
    pub observable: String,
    /// The logged time.
    #[serde(deserialize_with = "nan_from_null")]
    pub time: f64,
    /// a of a + b/m.
    #[serde(deserialize_with = "nan_from_null")]
    pub limit: f64,
    /// Its standard error.
    #[serde(deserialize_with = "nan_from_null")]
    pub limit_se: f64,
    /// b.
    #[serde(deserialize_with = "nan_from_null")]
    pub b: f64,
    /// chi^2 / dof of the fit (NaN without residual degrees of freedom).
    #[serde(deserialize_with = "nan_from_null")]
    pub reduced_chi_square: f64,
}

/// The coupled distance at one width and snapshot step.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct CoupledRecord {
    /// Width m.
    pub m: usize,
    /// The snapshot step.
    pub step: u64,
    /// Its time.
    #[serde(deserialize_with = "nan_from_null")]
    pub time: f64,
    /// Seed mean of the root-mean-square distance between paired particles.
    #[serde(deserialize_with = "nan_from_null")]
    pub mean: f64,
    /// Its standard error.
    #[serde(deserialize_with = "nan_from_null")]
    pub se: f64,
}

/// The analysis of one point of the sweep.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct PointRecord {
    /// Values of the varied keys.
    pub point: BTreeMap<String, String>,
    /// Exponent fits.
    pub fits: Vec<FitRecord>,
    /// Richardson limits at the fit times (reference `richardson`).
    pub limits: Vec<LimitRecord>,
    /// Coupled distances at every snapshot step (reference `wide` or `linear`).
    pub coupled_distance: Vec<CoupledRecord>,
    /// The exact limit compared with (reference `limit`): its directory, error estimate and B.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<ExactLimitRecord>,
    /// Figures written, relative to the sweep directory.
    pub figures: Vec<String>,
}

/// sweep_summary.json.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct SweepSummary {
    /// Scenario name.
    pub name: String,
    /// The reference.
    pub reference: Reference,
    /// The reference in words (`exact limit (meanfield limit)`).
    pub reference_label: String,
    /// How the bias of the risk is estimated, where not by the plain mean deviation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias_estimator: Option<String>,
    /// Ladder widths.
    pub widths: Vec<usize>,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Runs merged, and how many of them diverged.
    pub runs: usize,
    /// Runs whose series ends before the last step (diverged).
    pub incomplete_runs: Vec<String>,
    /// Why there are no fits in m, if there are none (a single width).
    pub note: Option<String>,
    /// Per point of the sweep.
    pub points: Vec<PointRecord>,
    /// Overlay figures of a `vary` sweep (one curve per point), relative to the sweep directory;
    /// the data of each beside it as `.csv`.
    pub overlays: Vec<String>,
    /// meanfield version.
    pub version: String,
}

/// Reads a float that `serde_json` wrote as `null` (it writes NaN, and infinities, as `null`:
/// an unfittable statistic, a diverged run's mean) back as NaN, so that a sweep_summary.json
/// that holds one is read with these types instead of refused.
///
/// # Errors
/// The deserializer's, for a value that is neither a number nor `null`.
pub fn nan_from_null<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    use serde::Deserialize;
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    /// A NaN statistic is written as `null` and read back as NaN, not refused.
    #[test]
    fn a_nan_written_as_null_reads_back_as_nan() {
        let record = CoupledRecord {
            m: 16,
            step: 10,
            time: 1.0,
            mean: f64::NAN,
            se: f64::INFINITY,
        };
        let text = serde_json::to_string(&record).unwrap();
        assert!(text.contains("\"mean\":null"), "{text}");
        let read: CoupledRecord = serde_json::from_str(&text).unwrap();
        assert!(read.mean.is_nan() && read.se.is_nan());
        assert_eq!((read.m, read.step, read.time), (16, 10, 1.0));
        assert!(serde_json::from_str::<CoupledRecord>(&text.replace("null", "\"x\"")).is_err());
    }
}
