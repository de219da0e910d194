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
use crate::sweep::analysis::SweepSummary;

/// Runs the entry: finite-m convergence to the limit.
// Over 100 lines: the figure and the numbers share the closures `at_time` and `relative`
// over the rows at the last fit time; split, each part would rebuild them. Read top to
// bottom: fits, figure 1, figure 2, numbers, checks.
pub(super) fn run(ctx: &Context<'_>, entry: &Entry) -> Result<Outcome> {
    let dir = ctx.work_dir(entry.name);
    let sizes: SweepSizes = ctx.sizes(entry.name)?;
    let plan = ctx.sweep(entry.scenario, &[], &sizes.overrides(), &dir)?;
    let summary_path = dir.join("sweep_summary.json");
    let summary = read_sweep_summary(&dir)?;
    let rows = risk_rows(&dir.join("sweep_stats.csv"))?;

    // The fit times of the risk bias, and the fits at each.
    let times = fit_times(&summary, 0, "risk", "bias");
    let Some(&last_time) = times.last() else {
        return Err(Error::format(&summary_path, "no bias fit of the risk"));
    };
    let fit = |observable: &str, statistic: &str, time: f64| {
        sweep_fit(&summary, 0, observable, statistic, time, &summary_path)
    };
    let bias: Vec<Fit> = times
        .iter()
        .map(|&t| fit("risk", "bias", t))
        .collect::<Result<_>>()?;
    let fluctuation: Vec<Fit> = times
        .iter()
        .map(|&t| fit("risk", "fluctuation", t))
        .collect::<Result<_>>()?;
    let coupled = fit("coupled_distance", "mean", last_time)?;

    // Figure 1: at the last fit time, the bias and fluctuation relative to the limit risk
    // R(t) (a constant at that time: the slopes are the fitted ones), and the coupled
    // distance, against m.
    let at_time = |time: f64| -> Vec<&RiskRow> {
        plan.widths
            .iter()
            .filter_map(|&m| {
                rows.iter()
                    .filter(|r| r.m == m)
                    .min_by(|a, b| (a.time - time).abs().total_cmp(&(b.time - time).abs()))
            })
            .collect()
    };
    let final_rows = at_time(last_time);
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
        bias.last().map(|f| f.power(limit_risk)),
    );
    // The sd of n seeds has a relative standard error of about 1 / sqrt(2 (n - 1)).
    let fluctuation_series = scaling_series(
        "sd / R",
        &ms,
        &relative(|r| r.deviation_sd),
        &relative(|r| 2.0 * r.deviation_sd / (2.0 * (r.seeds - 1.0).max(1.0)).sqrt()),
        fluctuation.last().map(|f| f.power(limit_risk)),
    );
    let distances = coupled_distances(&summary, coupled.time);
    let coupled_series = scaling_series(
        "distance",
        &distances.iter().map(|d| d.0).collect::<Vec<_>>(),
        &distances.iter().map(|d| d.1).collect::<Vec<_>>(),
        &distances.iter().map(|d| 2.0 * d.2).collect::<Vec<_>>(),
        Some(coupled.power(1.0)),
    );
    let time_text = rounded(last_time, 4);
    let figure = ScalingFigure {
        title: format!("Finite m against the exact limit at t = {time_text}"),
        x_label: "width m".into(),
        y_label: "deviation from the limit".into(),
        series: vec![bias_series, fluctuation_series, coupled_series],
    };
    let out = ctx.out();
    render_scaling(&figure, &out.join("limit"))?;
    draw_risk(
        &plan.widths,
        plan.seeds.len(),
        &rows,
        &out.join("limit_risk"),
    )?;

    // Numbers and checks.
    let mut numbers = Map::new();
    numbers.insert("widths".into(), json!(plan.widths));
    numbers.insert("seeds".into(), json!(plan.seeds.len()));
    numbers.insert(
        "bias_slopes".into(),
        Value::Array(bias.iter().map(Fit::json).collect()),
    );
    numbers.insert(
        "fluctuation_slopes".into(),
        Value::Array(fluctuation.iter().map(Fit::json).collect()),
    );
    numbers.insert("coupled_distance_slope".into(), coupled.json());
    let limit_risks: Vec<Value> = times
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
    numbers.insert(
        format!("relative_bias_t{time_text}"),
        ends(&relative(|r| r.deviation_mean)),
    );
    let distance_means: Vec<f64> = distances.iter().map(|d| d.1).collect();
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
    let seeds = plan.seeds.len();
    let sizes_text = format!("widths {:?}, {seeds} seeds", plan.widths);
    let level = bias.first().map_or(0.95, |f| f.level);
    Ok(Outcome {
        figures: ["limit.png", "limit.svg", "limit_risk.png", "limit_risk.svg"]
            .map(String::from)
            .to_vec(),
        numbers,
        checks: checks_of(&bias, level, &sizes_text),
    })
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
