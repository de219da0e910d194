//! Gallery entry `limit`: finite-m convergence to the mean-field limit (docs/math.md section 5,
//! docs/limit.md). One sweep of `scenarios/gallery/limit.toml` runs a linear network at a ladder
//! of widths and many seeds and compares it with the exact limit (`reference = "linear"`: the
//! reduced equation of the second moment, solved to 1e-10). The sweep fits the exponents of the
//! bias |E R_m(t) - R(t)| of the risk (expected -1), of its seed-to-seed fluctuation (-1/2) and of
//! the coupled distance between the particles and their limit partners Phi(t) theta_j(0) (-1/2);
//! this entry draws them and checks that -1 lies in the interval of the bias exponent.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::context::{SweepSizes, read_sweep_summary};
use super::numbers::rounded;
use super::sweep_output::{
    Fit, RiskRow, fit_times, fits_text, risk_band, risk_rows, scaling_series, sweep_fit,
};
use crate::error::{Error, Result};
use crate::gallery::{Check, Context, Entry, Outcome};
use crate::plot::sweep::{ScalingFigure, WidthCurves, render_scaling, render_width_curves};
use crate::plot::{Curve, Scale};
use crate::sweep::Plan;
use crate::sweep::analysis::SweepSummary;

/// The sweep's fits the entry reads: the risk's bias and fluctuation at every fit time, the
/// coupled distance at the last.
struct Fits {
    bias: Vec<Fit>,
    fluctuation: Vec<Fit>,
    coupled: Fit,
    times: Vec<f64>,
}

impl Fits {
    /// Reads the fits of sweep_summary.json (at `path`, for errors).
    fn read(summary: &SweepSummary, path: &Path) -> Result<Self> {
        let times = fit_times(summary, 0, "risk", "bias");
        let Some(&last_time) = times.last() else {
            return Err(Error::format(path, "no bias fit of the risk"));
        };
        let fit = |observable: &str, statistic: &str, time: f64| {
            sweep_fit(summary, 0, observable, statistic, time, path)
        };
        let all = |statistic: &str| -> Result<Vec<Fit>> {
            times.iter().map(|&t| fit("risk", statistic, t)).collect()
        };
        Ok(Self {
            bias: all("bias")?,
            fluctuation: all("fluctuation")?,
            coupled: fit("coupled_distance", "mean", last_time)?,
            times,
        })
    }

    /// The last fit time.
    fn last_time(&self) -> f64 {
        self.times.last().copied().unwrap_or(0.0)
    }
}

/// Per width of `widths`, the row of `rows` nearest to `time`.
fn rows_at<'r>(widths: &[usize], rows: &'r [RiskRow], time: f64) -> Vec<&'r RiskRow> {
    widths
        .iter()
        .filter_map(|&m| {
            rows.iter()
                .filter(|r| r.m == m)
                .min_by(|a, b| (a.time - time).abs().total_cmp(&(b.time - time).abs()))
        })
        .collect()
}

/// Runs the entry: finite-m convergence to the limit.
pub(super) fn run(ctx: &Context<'_>, entry: &Entry) -> Result<Outcome> {
    let dir = ctx.work_dir(entry.name);
    let sizes: SweepSizes = ctx.sizes(entry.name)?;
    let plan = ctx.sweep(entry.scenario, &[], &sizes.overrides(), &dir)?;
    let summary = read_sweep_summary(&dir)?;
    let rows = risk_rows(&dir.join("sweep_stats.csv"))?;
    let fits = Fits::read(&summary, &dir.join("sweep_summary.json"))?;
    let out = ctx.out();
    let final_rows = rows_at(&plan.widths, &rows, fits.last_time());
    draw_deviations(&final_rows, &fits, &summary, out)?;
    draw_risk(
        &plan.widths,
        plan.seeds.len(),
        &rows,
        &out.join("limit_risk"),
    )?;
    let seeds = plan.seeds.len();
    let sizes_text = format!("widths {:?}, {seeds} seeds", plan.widths);
    let level = fits.bias.first().map_or(0.95, |f| f.level);
    Ok(Outcome {
        figures: [
            "limit.png",
            "limit.svg",
            "limit_distance.png",
            "limit_distance.svg",
            "limit_risk.png",
            "limit_risk.svg",
        ]
        .map(String::from)
        .to_vec(),
        numbers: numbers_of(&plan, &rows, &fits, &summary),
        checks: checks_of(&fits.bias, level, &sizes_text),
    })
}

/// Figures `limit` (at the last fit time, the bias and fluctuation of the risk relative to the
/// limit risk R(t), a constant at that time, so the slopes are the fitted ones) and
/// `limit_distance` (the coupled distance, an absolute length: its own axis).
fn draw_deviations(
    final_rows: &[&RiskRow],
    fits: &Fits,
    summary: &SweepSummary,
    out: &Path,
) -> Result<()> {
    let limit_risk = final_rows.first().map_or(f64::NAN, |r| r.reference);
    let ms: Vec<f64> = final_rows.iter().map(|r| r.m as f64).collect();
    // Per width, relative to the limit risk: a column of the final rows.
    let relative = |column: fn(&RiskRow) -> f64| -> Vec<f64> {
        final_rows.iter().map(|r| column(r) / limit_risk).collect()
    };
    let bias_series = scaling_series(
        "bias / R",
        &ms,
        &relative(|r| r.deviation_mean.abs()),
        &relative(|r| 2.0 * r.deviation_se),
        fits.bias.last().map(|f| f.power(limit_risk)),
    );
    // The sd of n seeds has a relative standard error of about 1 / sqrt(2 (n - 1)).
    let fluctuation_series = scaling_series(
        "sd / R",
        &ms,
        &relative(|r| r.deviation_sd),
        &relative(|r| 2.0 * r.deviation_sd / (2.0 * (r.seeds - 1.0).max(1.0)).sqrt()),
        fits.fluctuation.last().map(|f| f.power(limit_risk)),
    );
    let distances = coupled_distances(summary, fits.coupled.time);
    let coupled_series = scaling_series(
        "distance",
        &distances.iter().map(|d| d.0).collect::<Vec<_>>(),
        &distances.iter().map(|d| d.1).collect::<Vec<_>>(),
        &distances.iter().map(|d| 2.0 * d.2).collect::<Vec<_>>(),
        Some(fits.coupled.power(1.0)),
    );
    let time_text = rounded(fits.last_time(), 4);
    let figure = ScalingFigure {
        title: format!("Risk of width m against the exact limit at t = {time_text}"),
        x_label: "width m".into(),
        y_label: "deviation / limit risk R(t)".into(),
        series: vec![bias_series, fluctuation_series],
    };
    render_scaling(&figure, &out.join("limit"))?;
    let distance_figure = ScalingFigure {
        title: format!("Particles against their limit partners at t = {time_text}"),
        x_label: "width m".into(),
        y_label: "RMS distance to Phi(t) theta_j(0)".into(),
        series: vec![coupled_series],
    };
    render_scaling(&distance_figure, &out.join("limit_distance"))
}

/// The entry's measured numbers.
fn numbers_of(
    plan: &Plan,
    rows: &[RiskRow],
    fits: &Fits,
    summary: &SweepSummary,
) -> Map<String, Value> {
    let at_time = |time: f64| rows_at(&plan.widths, rows, time);
    let final_rows = at_time(fits.last_time());
    let limit_risk = final_rows.first().map_or(f64::NAN, |r| r.reference);
    let time_text = rounded(fits.last_time(), 4);
    let mut numbers = Map::new();
    numbers.insert("widths".into(), json!(plan.widths));
    numbers.insert("seeds".into(), json!(plan.seeds.len()));
    let all = |fits: &[Fit]| Value::Array(fits.iter().map(Fit::json).collect());
    numbers.insert("bias_slopes".into(), all(&fits.bias));
    numbers.insert("fluctuation_slopes".into(), all(&fits.fluctuation));
    numbers.insert("coupled_distance_slope".into(), fits.coupled.json());
    let limit_risks: Vec<Value> = fits
        .times
        .iter()
        .map(|&t| {
            let row = at_time(t).first().map_or(f64::NAN, |r| r.reference);
            json!({ "time": rounded(t, 4), "risk": rounded(row, 6) })
        })
        .collect();
    numbers.insert("limit_risk".into(), Value::Array(limit_risks));
    let ends = |values: &[f64]| {
        json!({
            "smallest_m": rounded(values.first().copied().unwrap_or(f64::NAN), 4),
            "largest_m": rounded(values.last().copied().unwrap_or(f64::NAN), 4),
        })
    };
    let relative_bias: Vec<f64> = final_rows
        .iter()
        .map(|r| r.deviation_mean / limit_risk)
        .collect();
    numbers.insert(format!("relative_bias_t{time_text}"), ends(&relative_bias));
    let distance_means: Vec<f64> = coupled_distances(summary, fits.coupled.time)
        .iter()
        .map(|d| d.1)
        .collect();
    numbers.insert(
        format!("coupled_distance_t{time_text}"),
        ends(&distance_means),
    );
    // At t = 0, E R_m(0) - R(0) = E[a^2] E|w|^2 / (2m) exactly (docs/limit.md section 5).
    let initial_bias: Vec<f64> = at_time(0.0)
        .iter()
        .filter(|r| r.time.abs() < 1e-12)
        .map(|r| rounded(r.m as f64 * r.deviation_mean, 4))
        .collect();
    numbers.insert("m_times_bias_t0".into(), json!(initial_bias));
    numbers
}

/// (m, seed mean, standard error) of the coupled distance at `time`, from sweep_summary.json.
fn coupled_distances(summary: &SweepSummary, time: f64) -> Vec<(f64, f64, f64)> {
    summary
        .points
        .first()
        .map(|p| p.coupled_distance.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|c| (c.time - time).abs() < 1e-9)
        .map(|c| (c.m as f64, c.mean, c.se))
        .collect()
}

/// The risk against time beside the exact limit (figure `stem`), at every other width from the
/// largest down when there are more than four (seven curves hide each other).
fn draw_risk(widths: &[usize], seeds: usize, rows: &[RiskRow], stem: &Path) -> Result<()> {
    let shown: Vec<usize> = if widths.len() > 4 {
        widths.iter().rev().step_by(2).rev().copied().collect()
    } else {
        widths.to_vec()
    };
    let curves = shown.iter().map(|&m| risk_band(rows, m)).collect();
    let first_width: Vec<&RiskRow> = rows.iter().filter(|r| r.m == widths[0]).collect();
    let reference = Curve {
        label: "exact limit (linear ODE)".into(),
        x: first_width.iter().map(|r| r.time).collect(),
        y: first_width.iter().map(|r| r.reference).collect(),
    };
    let figure = WidthCurves {
        title: format!("Risk against the exact limit ({seeds} seeds)"),
        x_label: "time t".into(),
        y_label: "risk R (seed mean +- 2 SE)".into(),
        x_scale: Scale::Linear,
        y_scale: Scale::Log,
        curves,
        reference: Some(reference),
    };
    render_width_curves(&figure, stem)
}

/// The checks on the bias exponents: -1 inside every interval, -1/2 outside every one.
fn checks_of(bias: &[Fit], level: f64, sizes: &str) -> Vec<Check> {
    let percent = 100.0 * level;
    vec![
        Check::new(
            format!(
                "-1 lies in the {percent:.0}% interval of the fitted exponent of the risk bias at \
                 every fit time"
            ),
            !bias.is_empty() && bias.iter().all(|f| f.covers(-1.0)),
            format!("{} ({sizes})", fits_text(bias)),
        ),
        Check::new(
            format!(
                "the {percent:.0}% interval of the bias exponent excludes -1/2, the fluctuation's \
                 exponent, at every fit time"
            ),
            !bias.is_empty() && bias.iter().all(|f| !f.covers(-0.5)),
            format!("{} ({sizes})", fits_text(bias)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit(slope: f64, lo: f64, hi: f64) -> Fit {
        Fit {
            slope,
            intercept: 0.0,
            lo,
            hi,
            level: 0.95,
            time: 3.0,
        }
    }

    #[test]
    fn the_checks_fail_for_a_constant_deviation_and_a_wide_interval() {
        let all_pass = |fits: &[Fit]| checks_of(fits, 0.95, "test").iter().all(|c| c.passed);
        // The full-size fits.
        assert!(all_pass(&[
            fit(-0.986, -1.164, -0.884),
            fit(-1.002, -1.148, -0.909)
        ]));
        // A deviation the widths do not shrink (a wrong limit): exponent near 0.
        assert!(!all_pass(&[fit(-0.1, -0.2, 0.0)]));
        // The m^-1/2 of the fluctuation, mistaken for the bias.
        assert!(!all_pass(&[fit(-0.5, -0.6, -0.4)]));
        // Too wide to tell -1 from -1/2.
        assert!(!all_pass(&[fit(-0.9, -1.3, -0.4)]));
        assert!(!all_pass(&[]));
    }
}
