//! Gallery entry `lazy`: lazy against mean-field training (Chizat, Oyallon and Bach 2019; docs/math.md
//! section 2). One sweep of `scenarios/gallery/lazy.toml` trains the same relu teacher-student
//! problem at alpha = 1/2 (lazy / NTK) and alpha = 1 (mean field) over a ladder of widths. By a
//! time t = O(1) a particle has moved O(m^(alpha - 1)): the sweep fits the exponent of the mean
//! movement (`sweep_summary.json`), this entry the one of the relative change of the tangent
//! kernel (`kernel_change` in each run's measures.csv) with the same paired bootstrap over
//! seeds, and reads the risk each regime reaches.
//!
//! The small readers of a sweep's outputs used here (fits of `sweep_summary.json`, the rows of a
//! run) are shared with the `limit` entry.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::context::{SweepSizes, read_sweep_summary};
use super::numbers::rounded;
use super::sweep_output::{Fit, sweep_fit};
use crate::diagnostics::stats::{BootstrapSettings, Statistic, Summary, bootstrap_power_law};
use crate::error::{Error, Result};
use crate::gallery::{Check, Context, Entry, Outcome};
use crate::output::Table;
use crate::plot::sweep::{
    ReferenceSlope, ScalingFigure, ScalingSeries, render_scaling_with_slopes,
};
use crate::plot::{Curve, LineFigure, Scale, render_lines};
use crate::sweep::Plan;
use crate::sweep::analysis::SweepSummary;
use crate::sweep::execute::run_dir;

/// How far a fitted movement exponent may be from m^(alpha - 1) (docs/math.md section 2).
const TOLERANCE: f64 = 0.15;

/// A column of a CSV table of the run folder `dir`.
pub(super) fn run_column(table: &Table, name: &str, dir: &Path, file: &str) -> Result<Vec<f64>> {
    table
        .column(name)
        .ok_or_else(|| Error::format(dir.join(file), format!("no column {name}")))
}

/// A scaling-figure series: the statistic of the per-seed samples at each width (seed mean,
/// bars of +- 2 standard errors), all divided by `scale`, and its fit.
pub(super) fn mean_series(
    label: &str,
    ms: &[f64],
    samples: &[Vec<f64>],
    fit: Option<&Fit>,
    scale: f64,
) -> ScalingSeries {
    let (mut value, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
    for sample in samples {
        let finite: Vec<f64> = sample.iter().copied().filter(|v| v.is_finite()).collect();
        let summary = Summary::of(&finite);
        value.push(summary.mean / scale);
        lo.push((summary.mean - 2.0 * summary.se) / scale);
        hi.push((summary.mean + 2.0 * summary.se) / scale);
    }
    ScalingSeries {
        label: label.into(),
        m: ms.to_vec(),
        value,
        lo,
        hi,
        fit: fit.map(|f| f.power(scale)),
    }
}

/// What one regime (one value of alpha) measured.
struct Regime {
    alpha: f64,
    /// Per width, per seed (in the plan's seed order): the mean movement, the relative change
    /// of the tangent kernel and the risk, at the last logged time.
    movement: Vec<Vec<f64>>,
    kernel: Vec<Vec<f64>>,
    risk: Vec<Vec<f64>>,
    /// The seed mean of the initial risk at the largest width.
    initial_risk: f64,
    /// Logged times and seed-mean risk at the largest width.
    times: Vec<f64>,
    risk_curve: Vec<f64>,
    /// The sweep's fit of the movement and this entry's fit of the kernel change.
    movement_fit: Fit,
    kernel_fit: Fit,
}

impl Regime {
    fn name(&self) -> &'static str {
        if self.alpha < 0.75 {
            "lazy"
        } else {
            "mean_field"
        }
    }

    fn label(&self) -> String {
        if self.alpha < 0.75 {
            "α = 1/2 (lazy)".into()
        } else {
            "α = 1 (mean field)".into()
        }
    }

    /// The value of alpha, short (figure legends).
    fn symbol(&self) -> &'static str {
        if self.alpha < 0.75 {
            "α = 1/2"
        } else {
            "α = 1"
        }
    }

    /// The regime in plain text (for summary.md).
    fn plain(&self) -> &'static str {
        if self.alpha < 0.75 {
            "alpha = 1/2"
        } else {
            "alpha = 1"
        }
    }

    /// The exponent of the movement in m that docs/math.md section 2 predicts.
    fn expected_slope(&self) -> f64 {
        self.alpha - 1.0
    }
}

/// The last value of a column (NaN when empty).
fn last(values: &[f64]) -> f64 {
    values.last().copied().unwrap_or(f64::NAN)
}

/// Reads the runs of point `index` of the sweep in `dir` and fits the kernel change.
// Over 100 lines: one pass over the point's runs (per width and seed: the movement, the
// tangent-kernel change and the risk curve) whose per-run reads share the sweep's layout;
// the fits that follow use what the pass collected.
fn regime(plan: &Plan, dir: &Path, summary: &SweepSummary, index: usize) -> Result<Regime> {
    let summary_path = dir.join("sweep_summary.json");
    let point_value = summary.points[index]
        .point
        .get("model.alpha")
        .ok_or_else(|| Error::format(&summary_path, format!("point {index}: no model.alpha")))?
        .clone();
    let alpha: f64 = point_value.parse().map_err(|_| {
        Error::format(
            &summary_path,
            format!("point {index}: model.alpha = {point_value:?} is not a number"),
        )
    })?;
    let largest = plan.widths[plan.widths.len() - 1];
    let width_count = plan.widths.len();
    let seed_count = plan.seeds.len();
    let mut movement = vec![vec![f64::NAN; seed_count]; width_count];
    let mut kernel = movement.clone();
    let mut risk = movement.clone();
    let mut initial = Vec::new();
    let mut curves: Vec<Vec<f64>> = Vec::new();
    let mut times = Vec::new();
    let mut final_time = f64::NAN;
    for run in plan
        .runs
        .iter()
        .filter(|r| !r.reference && r.point.first() == Some(&point_value))
    {
        let (Some(k), Some(s)) = (
            plan.widths.iter().position(|m| *m == run.m),
            plan.seeds.iter().position(|seed| *seed == run.seed),
        ) else {
            continue;
        };
        let run_path = run_dir(dir, run);
        let series = Table::read_csv(&run_path.join("series.csv"))?;
        let measures = Table::read_csv(&run_path.join("measures.csv"))?;
        let time = run_column(&series, "time", &run_path, "series.csv")?;
        let run_risk = run_column(&series, "risk", &run_path, "series.csv")?;
        movement[k][s] = last(&run_column(
            &series,
            "movement_mean",
            &run_path,
            "series.csv",
        )?);
        kernel[k][s] = last(&run_column(
            &measures,
            "kernel_change",
            &run_path,
            "measures.csv",
        )?);
        risk[k][s] = last(&run_risk);
        final_time = final_time.max(last(&time));
        if run.m == largest {
            initial.push(run_risk.first().copied().unwrap_or(f64::NAN));
            if time.len() > times.len() {
                times = time;
            }
            curves.push(run_risk);
        }
    }
    // Seed mean of the largest width's risk at each logged time (a diverged run's missing rows
    // are left out).
    let risk_curve = (0..times.len())
        .map(|row| {
            let values: Vec<f64> = curves.iter().filter_map(|c| c.get(row).copied()).collect();
            Summary::of(&values).mean
        })
        .collect();
    let movement_fit = sweep_fit(
        summary,
        index,
        "movement_mean",
        "mean",
        final_time,
        &summary_path,
    )?;
    // The same paired bootstrap as the sweep's fits, over the seeds finite at every width.
    let keep: Vec<usize> = (0..seed_count)
        .filter(|&s| kernel.iter().all(|w| w[s].is_finite()))
        .collect();
    let samples: Vec<Vec<f64>> = kernel
        .iter()
        .map(|w| keep.iter().map(|&s| w[s]).collect())
        .collect();
    let ms: Vec<f64> = plan.widths.iter().map(|m| *m as f64).collect();
    let settings = BootstrapSettings {
        resamples: plan.bootstrap,
        level: plan.level,
        seed: plan.seeds[0],
        paired: true,
    };
    let interval = bootstrap_power_law(&ms, &samples, |s| Statistic::Mean.apply(s), &settings)?;
    let kernel_fit = Fit {
        slope: interval.slope,
        intercept: interval.intercept,
        lo: interval.lo,
        hi: interval.hi,
        level: interval.level,
        time: final_time,
    };
    Ok(Regime {
        alpha,
        movement,
        kernel,
        risk,
        initial_risk: Summary::of(&initial).mean,
        times,
        risk_curve,
        movement_fit,
        kernel_fit,
    })
}

/// Seed mean and standard error of the risk at the largest width.
fn risk_reached(regime: &Regime) -> Summary {
    let values: Vec<f64> = regime
        .risk
        .last()
        .into_iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    Summary::of(&values)
}

/// A short number for a figure title (three significant digits).
fn short(value: f64) -> String {
    let text = format!("{}", rounded(value, 3));
    if text.len() > 8 {
        format!("{value:.2e}")
    } else {
        text
    }
}

/// Runs the entry: lazy against mean-field training: the sweep over alpha and m, its two
/// regimes, their figures ([`draw`]), numbers and checks ([`numbers_and_checks`]).
pub(super) fn run(ctx: &Context<'_>, entry: &Entry) -> Result<Outcome> {
    let dir = ctx.work_dir(entry.name);
    let sizes: SweepSizes = ctx.sizes(entry.name)?;
    let plan = ctx.sweep(entry.scenario, &[], &sizes.overrides(), &dir)?;
    let summary = read_sweep_summary(&dir)?;
    let point_count = summary.points.len();
    let mut regimes = (0..point_count)
        .map(|index| regime(&plan, &dir, &summary, index))
        .collect::<Result<Vec<_>>>()?;
    regimes.sort_by(|a, b| a.alpha.total_cmp(&b.alpha));
    if regimes.len() != 2 {
        return Err(Error::invalid(
            format!("{}: sweep.vary", entry.scenario),
            format!("{point_count} values of model.alpha"),
            "two: 0.5 and 1.0",
        ));
    }
    let time = regimes[0].movement_fit.time;
    draw(ctx, &plan, &regimes, time)?;
    let (numbers, checks) = numbers_and_checks(&plan, &regimes, time);
    Ok(Outcome {
        figures: ["lazy", "lazy_kernel", "lazy_risk"]
            .iter()
            .flat_map(|stem| [format!("{stem}.png"), format!("{stem}.svg")])
            .collect(),
        numbers,
        checks,
    })
}

/// The entry's figures: the movement and the kernel change against m (lazy.png,
/// lazy_kernel.png), and the risk against time at the largest width (lazy_risk.png).
fn draw(ctx: &Context<'_>, plan: &Plan, regimes: &[Regime], time: f64) -> Result<()> {
    let ms: Vec<f64> = plan.widths.iter().map(|m| *m as f64).collect();
    let largest = plan.widths[plan.widths.len() - 1];
    // Figures 1 and 2: the movement and the kernel change against m.
    // One guide: the mean-field series is its own m^0 line (and a second guide would make
    // the legend hide the lazy series).
    let guides = [ReferenceSlope {
        slope: -0.5,
        label: "m^-1/2".into(),
    }];
    let out = ctx.out();
    let scaling = |title: String, y_label: &str, pick: fn(&Regime) -> (&[Vec<f64>], &Fit)| {
        // Mean field first: the guide goes through its first point and runs above the lazy
        // series, parallel to it.
        let series = regimes
            .iter()
            .rev()
            .map(|r| {
                let (samples, fit) = pick(r);
                mean_series(r.symbol(), &ms, samples, Some(fit), 1.0)
            })
            .collect();
        ScalingFigure {
            title,
            x_label: "width m".into(),
            y_label: y_label.into(),
            series,
        }
    };
    let movement = scaling(
        format!("Movement of a particle by t = {}", short(time)),
        "mean |theta_j(t) - theta_j(0)|",
        |r| (&r.movement, &r.movement_fit),
    );
    render_scaling_with_slopes(&movement, &guides, &out.join("lazy"))?;
    let kernel = scaling(
        format!("Change of the tangent kernel by t = {}", short(time)),
        "|K(t) - K(0)|_F / |K(0)|_F",
        |r| (&r.kernel, &r.kernel_fit),
    );
    render_scaling_with_slopes(&kernel, &guides, &out.join("lazy_kernel"))?;

    // Figure 3: the risk against time at the largest width.
    let curves = regimes
        .iter()
        .map(|r| Curve {
            label: format!(
                "{}, m = {largest}: R({}) = {}",
                r.label(),
                short(time),
                short(risk_reached(r).mean)
            ),
            x: r.times.clone(),
            y: r.risk_curve.clone(),
        })
        .collect();
    let risk_figure = LineFigure {
        title: format!("Test risk, mean of {} seeds", plan.seeds.len()),
        x_label: "time t".into(),
        y_label: "population risk R".into(),
        x_scale: Scale::Linear,
        y_scale: Scale::Log,
        curves,
    };
    render_lines(&risk_figure, &out.join("lazy_risk"))?;

    Ok(())
}

/// The entry's numbers (gallery.json) and checks: per regime the fitted exponents, the
/// movement and kernel change at the smallest and largest widths and the risk reached; the
/// exponent of each regime against theory, and the risk of mean-field against lazy training.
fn numbers_and_checks(
    plan: &Plan,
    regimes: &[Regime],
    time: f64,
) -> (Map<String, Value>, Vec<Check>) {
    let largest = plan.widths[plan.widths.len() - 1];
    let (lazy_risk, field_risk) = (risk_reached(&regimes[0]), risk_reached(&regimes[1]));
    // Numbers and checks.
    let mut numbers = Map::new();
    numbers.insert("time".into(), json!(rounded(time, 4)));
    numbers.insert("widths".into(), json!(plan.widths));
    numbers.insert("seeds".into(), json!(plan.seeds.len()));
    let mut checks = Vec::new();
    for r in regimes {
        let name = r.name();
        let reached = risk_reached(r);
        let mean_at = |samples: &[Vec<f64>], k: usize| {
            let finite: Vec<f64> = samples[k]
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            rounded(Summary::of(&finite).mean, 4)
        };
        let last_width = plan.widths.len() - 1;
        let mut insert = |key: &str, value: Value| {
            numbers.insert(format!("{name}_{key}"), value);
        };
        insert("alpha", json!(r.alpha));
        insert("movement_slope", r.movement_fit.json());
        insert("kernel_change_slope", r.kernel_fit.json());
        insert(
            "movement",
            json!({
                "smallest_m": mean_at(&r.movement, 0),
                "largest_m": mean_at(&r.movement, last_width),
            }),
        );
        insert(
            "kernel_change",
            json!({
                "smallest_m": mean_at(&r.kernel, 0),
                "largest_m": mean_at(&r.kernel, last_width),
            }),
        );
        insert(
            "risk_largest_m",
            json!({
                "initial": rounded(r.initial_risk, 4),
                "reached": rounded(reached.mean, 4),
                "reached_se": rounded(reached.se, 2),
            }),
        );
        let expected = r.expected_slope();
        let fit = &r.movement_fit;
        checks.push(Check::new(
            format!(
                "the fitted movement exponent at {} is within {TOLERANCE} of {}",
                r.plain(),
                if expected < 0.0 { "-1/2" } else { "0" }
            ),
            (fit.slope - expected).abs() <= TOLERANCE,
            format!(
                "slope {} ({:.0}% interval) at t = {}, widths {:?}, {} seeds",
                fit.text(),
                100.0 * fit.level,
                short(fit.time),
                plan.widths,
                plan.seeds.len()
            ),
        ));
    }
    checks.push(Check::new(
        format!("mean-field training reaches a lower risk than lazy training at m = {largest}"),
        field_risk.mean + 2.0 * field_risk.se < lazy_risk.mean - 2.0 * lazy_risk.se,
        format!(
            "risk at t = {}: {:.3e} +- {:.1e} (alpha = 1) against {:.3e} +- {:.1e} (alpha = 1/2), \
             mean +- SE over {} seeds",
            short(time),
            field_risk.mean,
            field_risk.se,
            lazy_risk.mean,
            lazy_risk.se,
            plan.seeds.len()
        ),
    ));
    (numbers, checks)
}
