//! The `limit` reference of a sweep: the exact mean-field limit of `meanfield limit`, solved
//! once per point into the sweep's own run directory `limit/` (`limit/<point directory>` in a
//! `vary` sweep) and reused while its scenario and resolution stay the same, and the control
//! variate of its risk deviations (docs/sweeps.md, "The control variate").
//!
//! The limit depends neither on m nor on the seed: only the teacher could, through
//! `target.seed`, and the plan pins it to the base seed (a scenario's own `target.seed` or
//! `target.file` is the same for every seed); the analysis checks that every run of a point has
//! the teacher of the limit's scenario (the point's first run).
//!
//! Control variate of the risk. For seed i at width m and logged time t, with the deviation
//! x_i = R_m,i(t) - R_inf(t) and its t = 0 value c_i = R_m,i(0) - R_inf(0), whose mean is known
//! exactly, mu = B / (2m) (`limit::bias`):
//!
//! ```text
//! beta    = cov(x, c) / var(c)                        (sample moments over the seeds)
//! mean_cv = mean(x) - beta (mean(c) - mu)
//! se_cv   = sqrt( sum_i r_i^2 / (n - 2) ) / sqrt(n),  r_i = x_i - mean(x) - beta (c_i - mean(c))
//! ```
//!
//! (n >= 3 seeds, else NaN). At t = 0, x = c: mean_cv = mu exactly and se_cv = 0, the known
//! value rather than a measurement.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::limit::bias::initial_bias;
use crate::limit::{LimitOptions, LimitProblem, Resolution, finished_solve, solve_limit};
use crate::output::{RunEntry, Table};
use crate::scenario::Scenario;
use crate::sweep::analysis::PointRuns;
use crate::sweep::plan::{Plan, point_directory};

/// What sweep_summary.json says about a point's limit.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct ExactLimitRecord {
    /// The limit's run directory, relative to the sweep directory.
    pub directory: String,
    /// Whether an earlier solve of the same scenario and resolution was reused.
    pub reused: bool,
    /// Initial nodes of the solve.
    pub nodes: usize,
    /// The solver's own risk error estimate (limit summary.json).
    pub risk_error_estimate: Option<f64>,
    /// The same over the largest |R|.
    pub risk_error_estimate_relative: Option<f64>,
    /// B of E R_m(0) - R_inf(0) = B / (2m) (`limit::bias`), the control variate's mean.
    #[serde(deserialize_with = "crate::sweep::analysis::nan_from_null")]
    pub initial_bias: f64,
}

/// The limit of one point: its values by observable and logged step, and B.
pub(crate) struct LimitReference {
    /// Observable -> (step -> value): risk, objective, a_mean, a_std, w_norm_mean (the sweep
    /// compares those it has among its observables). Not the cone shares: the share of a
    /// cone is the integral of an indicator, which a tensor Gauss rule of the initial law
    /// resolves poorly (no node of a 5-per-direction rule lies in a 10 degree cone at t = 0, so
    /// the limit says 0 where the runs measure about 1e-3), and the solver's error estimate
    /// covers only the risk.
    pub(crate) values: BTreeMap<String, BTreeMap<u64, f64>>,
    /// B of `limit::bias`.
    pub(crate) initial_bias: f64,
    /// For sweep_summary.json.
    pub(crate) record: ExactLimitRecord,
}

/// The limit of `point`'s runs, solved into (or reused from) `out/limit[/<point directory>]`.
pub(crate) fn limit_reference(
    plan: &Plan,
    point: &PointRuns<'_>,
    out: &Path,
) -> Result<LimitReference> {
    let Some((first_run, _)) = point.ladder.values().next() else {
        return Err(Error::invalid("sweep", "no run", "at least one ladder run"));
    };
    let scenario = Scenario::load(&RunEntry::Scenario.path(&first_run.dir), &[])?;
    check_one_teacher(point, &scenario)?;
    let problem = LimitProblem::from_scenario(&scenario)?;
    let resolution = plan.limit_nodes.map_or_else(
        || Resolution::default_for(problem.k()),
        Resolution::with_nodes,
    );
    let relative = if plan.keys.is_empty() {
        "limit".to_string()
    } else {
        let vary: Vec<(String, Vec<String>)> =
            plan.keys.iter().map(|k| (k.clone(), Vec::new())).collect();
        format!("limit/{}", point_directory(&vary, &point.point))
    };
    let dir = out.join(&relative);
    let resolved = scenario.resolved_toml()?;
    let (summary, reused) = match finished_solve(&dir, &resolved, resolution) {
        Some(summary) => (summary, true),
        None => {
            let options = LimitOptions {
                out: dir.clone(),
                // The sweep's own directory: a solve of another scenario there is replaced.
                overwrite: true,
                resolution: Some(resolution),
                interrupt: &AtomicBool::new(false),
                threads: rayon::current_num_threads(),
            };
            (solve_limit(&scenario, &options, &mut |_, _, _| {})?, false)
        }
    };
    let series = Table::read_csv(&RunEntry::Series.path(&dir))?;
    let values = series_values(&series, &dir)?;
    let initial_bias = initial_bias(&problem, resolution)?;
    Ok(LimitReference {
        values,
        initial_bias,
        record: ExactLimitRecord {
            directory: relative,
            reused,
            nodes: summary.nodes,
            risk_error_estimate: summary.risk_error_estimate,
            risk_error_estimate_relative: summary.risk_error_estimate_relative,
            initial_bias,
        },
    })
}

/// Every run of `point` must have the teacher of `scenario` (the limit's).
fn check_one_teacher(point: &PointRuns<'_>, scenario: &Scenario) -> Result<()> {
    let teacher = scenario.teacher()?;
    for (run, _) in point.ladder.values() {
        let other = Scenario::load(&RunEntry::Scenario.path(&run.dir), &[])?.teacher()?;
        let same = teacher.matrix().shape() == other.matrix().shape()
            && teacher
                .matrix()
                .iter()
                .zip(other.matrix().iter())
                .all(|(x, y)| x.to_bits() == y.to_bits());
        if !same {
            return Err(Error::invalid(
                format!("the teacher of {}", run.dir.display()),
                "another teacher than the point's first run",
                "one teacher per point for reference = \"limit\" (set target.seed, or leave \
                 it unset so that the sweep pins it)",
            ));
        }
    }
    Ok(())
}

/// Observable -> (step -> value) of a limit series.
fn series_values(series: &Table, dir: &Path) -> Result<BTreeMap<String, BTreeMap<u64, f64>>> {
    let steps = series
        .column("step")
        .ok_or_else(|| Error::format(RunEntry::Series.path(dir), "no step column"))?;
    let mut values = BTreeMap::new();
    for name in &series.columns {
        let wanted = matches!(
            name.as_str(),
            "risk" | "objective" | "a_mean" | "a_std" | "w_norm_mean"
        );
        if let (true, Some(column)) = (wanted, series.column(name)) {
            let by_step = steps.iter().map(|s| *s as u64).zip(column).collect();
            values.insert(name.clone(), by_step);
        }
    }
    Ok(values)
}

/// The control-variate estimate of a mean deviation (module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ControlVariate {
    /// mean(x) - beta (mean(c) - mu).
    pub mean: f64,
    /// Its standard error (n - 2 degrees of freedom); NaN for fewer than 3 pairs.
    pub se: f64,
    /// beta = cov(x, c) / var(c) (0 where var(c) = 0).
    pub beta: f64,
}

/// The control-variate estimate of the mean of `x` with the control `c` of known mean `mu`,
/// over the pairs where both are finite (module documentation).
pub fn control_variate(x: &[f64], c: &[f64], mu: f64) -> ControlVariate {
    let pairs: Vec<(f64, f64)> = x
        .iter()
        .zip(c)
        .filter(|(x, c)| x.is_finite() && c.is_finite())
        .map(|(x, c)| (*x, *c))
        .collect();
    let n = pairs.len();
    if n < 3 {
        return ControlVariate {
            mean: f64::NAN,
            se: f64::NAN,
            beta: f64::NAN,
        };
    }
    let count = n as f64;
    let mean_x = pairs.iter().map(|p| p.0).sum::<f64>() / count;
    let mean_c = pairs.iter().map(|p| p.1).sum::<f64>() / count;
    let covariance: f64 = pairs.iter().map(|(x, c)| (x - mean_x) * (c - mean_c)).sum();
    let variance: f64 = pairs.iter().map(|(_, c)| (c - mean_c).powi(2)).sum();
    let beta = if variance > 0.0 {
        covariance / variance
    } else {
        0.0
    };
    let residuals: f64 = pairs
        .iter()
        .map(|(x, c)| (x - mean_x - beta * (c - mean_c)).powi(2))
        .sum();
    ControlVariate {
        mean: mean_x - beta * (mean_c - mu),
        se: (residuals / (count - 2.0)).sqrt() / count.sqrt(),
        beta,
    }
}

/// The per-seed samples whose plain mean is the control-variate mean, x_i - beta (c_i - mu),
/// for the bootstrap of the bias exponent (beta fixed at its full-sample value; its own
/// sampling error is of relative order 1/n).
pub fn adjusted_sample(x: &[f64], c: &[f64], mu: f64, beta: f64) -> Vec<f64> {
    x.iter().zip(c).map(|(x, c)| x - beta * (c - mu)).collect()
}

/// How the control-variate bias samples are described in sweep_summary.json.
pub(crate) const CONTROL_VARIATE: &str = "control variate: x_i - beta (c_i - B/(2m)), c_i the seed's t = 0 \
                               deviation (docs/sweeps.md)";

/// The control variate of the risk deviations at one point: `deviation(m, step)` gives the
/// per-seed deviations, `first` is the t = 0 step, B/(2m) the control's mean.
pub(crate) struct Control<F: Fn(usize, u64) -> Vec<f64>> {
    pub(crate) initial_bias: f64,
    pub(crate) deviation: F,
    pub(crate) first: u64,
}

impl<F: Fn(usize, u64) -> Vec<f64>> Control<F> {
    /// The control-variate estimate at width m and `step`.
    pub(crate) fn estimate(&self, m: usize, step: u64) -> ControlVariate {
        let mu = self.initial_bias / (2.0 * m as f64);
        control_variate(
            &(self.deviation)(m, step),
            &(self.deviation)(m, self.first),
            mu,
        )
    }

    /// The per-seed samples whose mean is the control-variate mean.
    pub(crate) fn adjusted(&self, m: usize, step: u64) -> Vec<f64> {
        let mu = self.initial_bias / (2.0 * m as f64);
        let beta = self.estimate(m, step).beta;
        adjusted_sample(
            &(self.deviation)(m, step),
            &(self.deviation)(m, self.first),
            mu,
            beta,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_variate_of_an_exact_linear_relation_has_zero_error() {
        // x = 2 c + 1 exactly: beta = 2, mean_cv = 2 mu + 1, se 0.
        let c = [0.1, -0.4, 0.7, 0.2, -0.3];
        let x: Vec<f64> = c.iter().map(|c| 2.0 * c + 1.0).collect();
        let cv = control_variate(&x, &c, 0.05);
        assert!((cv.beta - 2.0).abs() < 1e-14);
        assert!((cv.mean - 1.1).abs() < 1e-14);
        assert!(cv.se.abs() < 1e-14);
        let adjusted = adjusted_sample(&x, &c, 0.05, cv.beta);
        let mean = adjusted.iter().sum::<f64>() / adjusted.len() as f64;
        assert!((mean - cv.mean).abs() < 1e-14);
    }

    #[test]
    fn control_variate_needs_three_pairs() {
        assert!(control_variate(&[1.0, 2.0], &[0.0, 1.0], 0.0).mean.is_nan());
    }
}
