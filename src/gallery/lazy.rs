//! Gallery entry `lazy`: lazy against mean-field training (Chizat, Oyallon and Bach 2019; docs/math.md
//! section 2). One sweep of `scenarios/gallery/lazy.toml` trains the same relu teacher-student
//! problem from the symmetrised start (`init.symmetric`: f = 0 at t = 0) at alpha = 1/2 (lazy /
//! NTK) and alpha = 1 (mean field) over a ladder of widths. By a time t = O(1) a particle has
//! moved O(m^(alpha - 1)): the sweep fits the exponent of the mean movement
//! (`sweep_summary.json`), this entry the one of the relative change of the tangent kernel
//! (`kernel_change` in each run's measures.csv) and of the movement over the upper half of the
//! widths, with the same paired bootstrap over seeds. The risks are compared where lazy training
//! has flattened out (`risk_check`); the checks are pure functions of the measured fits and
//! risks, and the unit tests feed them negative controls.
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

/// How far the bootstrap interval of a movement exponent may reach from m^(alpha - 1)
/// ([`movement_check`]).
const TOLERANCE: f64 = 0.1;

/// The fewest doublings of time that lazy training, at the pace of its last doubling, must
/// still need to come down to the mean-field risk for the comparison to count as one at
/// convergence (4: a run 16 times longer).
const MIN_DOUBLINGS: f64 = 4.0;

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
    /// The sweep's fit of the movement, this entry's fit of the movement over the upper half
    /// of the widths and its fit of the kernel change.
    movement_fit: Fit,
    upper_fit: Fit,
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
    let settings = bootstrap_settings(plan);
    let kernel_fit = paired_fit(&settings, &plan.widths, &kernel, final_time)?;
    // The upper half of the widths, where the O(1/m) finite-m bias of the movement is small.
    let upper = plan.widths.len() / 2;
    let upper_fit = paired_fit(
        &settings,
        &plan.widths[upper..],
        &movement[upper..],
        final_time,
    )?;
    Ok(Regime {
        alpha,
        movement,
        kernel,
        risk,
        initial_risk: Summary::of(&initial).mean,
        times,
        risk_curve,
        movement_fit,
        upper_fit,
        kernel_fit,
    })
}

/// The sweep's bootstrap settings, paired over seeds.
fn bootstrap_settings(plan: &Plan) -> BootstrapSettings {
    BootstrapSettings {
        resamples: plan.bootstrap,
        level: plan.level,
        seed: plan.seeds[0],
        paired: true,
    }
}

/// The power-law fit of the seed mean of `samples` (per width, per seed) against `widths`,
/// with the same paired bootstrap over seeds as the sweep's fits, over the seeds finite at
/// every width.
fn paired_fit(
    settings: &BootstrapSettings,
    widths: &[usize],
    samples: &[Vec<f64>],
    time: f64,
) -> Result<Fit> {
    let seed_count = samples.first().map_or(0, Vec::len);
    let keep: Vec<usize> = (0..seed_count)
        .filter(|&s| samples.iter().all(|w| w[s].is_finite()))
        .collect();
    let kept: Vec<Vec<f64>> = samples
        .iter()
        .map(|w| keep.iter().map(|&s| w[s]).collect())
        .collect();
    let ms: Vec<f64> = widths.iter().map(|m| *m as f64).collect();
    let interval = bootstrap_power_law(&ms, &kept, |s| Statistic::Mean.apply(s), settings)?;
    Ok(Fit::from_interval(&interval, time))
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
    // Mean field first, as in the scaling figures: each alpha keeps its colour.
    let curves = regimes
        .iter()
        .rev()
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
        insert("movement_slope_upper_widths", r.upper_fit.json());
        insert(
            "risk_half_time_largest_m",
            json!(rounded(half_time_risk(r), 4)),
        );
        checks.push(movement_check(r, &plan.widths, plan.seeds.len()));
    }
    let lazy = RiskAtEnd::of(&regimes[0]);
    let field = RiskAtEnd::of(&regimes[1]);
    numbers.insert(
        "lazy_doublings_to_mean_field_risk".into(),
        json!(rounded(lazy.doublings_to(field.end.mean), 3)),
    );
    checks.push(risk_check(&lazy, &field, largest, time, plan.seeds.len()));
    (numbers, checks)
}

/// The movement check of one regime: the whole bootstrap interval of the fitted exponent
/// (every width) lies within [`TOLERANCE`] of the predicted m^(alpha - 1). The seeds resolve
/// the exponent to a few hundredths, finer than the finite-m corrections at these widths
/// (relative O(m^-1/2) at alpha = 1/2, the O(1/m) bias at alpha = 1, which tilt the fit by
/// 0.02 to 0.05), so the interval is not asked to contain the asymptotic exponent; it must
/// stay within the tolerance, a fifth of the distance between the two regimes' exponents.
fn movement_check(r: &Regime, widths: &[usize], seeds: usize) -> Check {
    let expected = r.expected_slope();
    let fit = &r.movement_fit;
    Check::new(
        format!(
            "at {}, the {:.0}% interval of the movement exponent lies within {TOLERANCE} of \
             the predicted {}",
            r.plain(),
            100.0 * fit.level,
            if expected < 0.0 { "-1/2" } else { "0" }
        ),
        fit.lo >= expected - TOLERANCE && fit.hi <= expected + TOLERANCE,
        format!(
            "slope {} at t = {}, widths {widths:?}, {seeds} seeds; over the upper half of \
             the widths {}",
            fit.text(),
            short(fit.time),
            r.upper_fit.text()
        ),
    )
}

/// The risk of one regime at the largest width: at the final time T (seed mean and standard
/// error) and at T / 2 (seed mean).
struct RiskAtEnd {
    end: Summary,
    half: f64,
}

impl RiskAtEnd {
    fn of(regime: &Regime) -> Self {
        Self {
            end: risk_reached(regime),
            half: half_time_risk(regime),
        }
    }

    /// The doublings of time this risk needs to come down to `level` at the pace of its last
    /// doubling (R(T/2) - R(T) per doubling; a flattening curve goes slower): infinite when it
    /// no longer falls, 0 when it is already below.
    fn doublings_to(&self, level: f64) -> f64 {
        let gap = self.end.mean - level;
        let pace = self.half - self.end.mean;
        if gap <= 0.0 {
            0.0
        } else if pace <= 0.0 {
            f64::INFINITY
        } else {
            gap / pace
        }
    }
}

/// The risk comparison at convergence: the mean-field risk at T is below the lazy one (2
/// standard errors apart) and lazy training, at the pace of its last doubling of time, would
/// need at least [`MIN_DOUBLINGS`] more doublings to come down to it.
fn risk_check(
    lazy: &RiskAtEnd,
    field: &RiskAtEnd,
    largest: usize,
    time: f64,
    seeds: usize,
) -> Check {
    let doublings = lazy.doublings_to(field.end.mean);
    let lower = field.end.mean + 2.0 * field.end.se < lazy.end.mean - 2.0 * lazy.end.se;
    Check::new(
        format!(
            "at m = {largest}, mean-field training ends below lazy training, and lazy training \
             at its last pace would need at least {MIN_DOUBLINGS} more doublings of time to \
             come down to it"
        ),
        lower && doublings >= MIN_DOUBLINGS,
        format!(
            "risk at t = {}: {:.3e} +- {:.1e} (alpha = 1) against {:.3e} +- {:.1e} (alpha = \
             1/2), mean +- SE over {seeds} seeds; lazy at t / 2: {:.3e}: {:.1} doublings",
            short(time),
            field.end.mean,
            field.end.se,
            lazy.end.mean,
            lazy.end.se,
            lazy.half,
            doublings
        ),
    )
}

/// The seed-mean risk at the largest width at the logged time nearest half the final time.
fn half_time_risk(regime: &Regime) -> f64 {
    let end = regime.times.last().copied().unwrap_or(f64::NAN);
    regime
        .times
        .iter()
        .zip(&regime.risk_curve)
        .min_by(|a, b| (a.0 - end / 2.0).abs().total_cmp(&(b.0 - end / 2.0).abs()))
        .map_or(f64::NAN, |(_, r)| *r)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::scenario::Scenario;

    /// The mean movement at t = 20 of `seeds` runs of the entry's problem at each width of
    /// `widths` (symmetrised start, d = 8, two teacher neurons), at scaling `alpha`.
    fn movements(alpha: f64, widths: &[usize], seeds: u64) -> Vec<Vec<f64>> {
        widths
            .iter()
            .map(|&m| {
                (1..=seeds)
                    .map(|seed| {
                        let text = format!(
                            "seed = {seed}\n[model]\nd = 8\nm = {m}\nalpha = {alpha}\n\
                             [init]\nsymmetric = true\n[target]\nk = 2\n\
                             directions = \"orthonormal\"\n[dynamics]\ndt = 0.1\nsteps = 200\n"
                        );
                        let config =
                            crate::scenario::file::parse(&text, "control.toml", &[]).unwrap();
                        let scenario =
                            Scenario::from_config(config, Path::new("control.toml"), &text, &[])
                                .unwrap();
                        let mut setup = scenario.setup().unwrap();
                        let start = setup.particles.matrix().clone();
                        let mut theta = start.clone();
                        for step in 0..scenario.steps {
                            setup.simulation.step(&mut theta, step).unwrap();
                        }
                        (0..m)
                            .map(|j| (theta.row(j) - start.row(j)).norm())
                            .sum::<f64>()
                            / m as f64
                    })
                    .collect()
            })
            .collect()
    }

    /// A regime of scaling `alpha` whose movement samples are `movement` (the other fields
    /// unused by the movement check).
    fn regime_with(alpha: f64, widths: &[usize], movement: Vec<Vec<f64>>) -> Regime {
        let settings = BootstrapSettings {
            resamples: 1000,
            level: 0.95,
            seed: 1,
            paired: true,
        };
        let upper = widths.len() / 2;
        let fit = paired_fit(&settings, widths, &movement, 20.0).unwrap();
        let upper_fit = paired_fit(&settings, &widths[upper..], &movement[upper..], 20.0).unwrap();
        Regime {
            alpha,
            movement,
            kernel: Vec::new(),
            risk: Vec::new(),
            initial_risk: f64::NAN,
            times: Vec::new(),
            risk_curve: Vec::new(),
            movement_fit: fit,
            upper_fit,
            kernel_fit: fit,
        }
    }

    /// Negative control: mean-field runs (alpha = 1) labelled lazy fail the lazy movement
    /// check, and lazy runs labelled mean field fail the mean-field one; each passes under its
    /// own label.
    #[test]
    fn movement_checks_fail_on_the_other_regime() {
        let widths = [32, 128, 512];
        let field = movements(1.0, &widths, 4);
        let lazy = movements(0.5, &widths, 4);
        let as_lazy = regime_with(0.5, &widths, field.clone());
        let as_field = regime_with(1.0, &widths, lazy.clone());
        let control_lazy = movement_check(&as_lazy, &widths, 4);
        let control_field = movement_check(&as_field, &widths, 4);
        assert!(!control_lazy.passed, "{}", control_lazy.detail);
        assert!(!control_field.passed, "{}", control_field.detail);
        let real_lazy = movement_check(&regime_with(0.5, &widths, lazy), &widths, 4);
        let real_field = movement_check(&regime_with(1.0, &widths, field), &widths, 4);
        assert!(real_lazy.passed, "{}", real_lazy.detail);
        assert!(real_field.passed, "{}", real_field.detail);
    }

    /// The risk check fails when lazy training is still falling fast (at the pace of its last
    /// doubling it would reach the mean-field risk within a doubling).
    #[test]
    fn risk_check_fails_while_lazy_training_still_falls() {
        let summary = |mean: f64| Summary::of(&[mean, mean]);
        let field = RiskAtEnd {
            end: summary(1e-4),
            half: 3e-4,
        };
        let converged = RiskAtEnd {
            end: summary(2e-3),
            half: 2.1e-3,
        };
        let falling = RiskAtEnd {
            end: summary(2e-3),
            half: 4e-3,
        };
        assert!(risk_check(&converged, &field, 64, 100.0, 2).passed);
        assert!(!risk_check(&falling, &field, 64, 100.0, 2).passed);
    }
}
