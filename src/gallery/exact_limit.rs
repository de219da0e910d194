//! Gallery entry `exact_limit`: finite m against the exact mean-field limit of a non-linear
//! network (docs/limit.md sections 10 and 11, docs/math.md sections 5 and 7). One sweep of
//! `scenarios/gallery/exact_limit.toml` (relu, d = 8, one teacher neuron, population mode) runs
//! a ladder of widths and many seeds against `reference = "limit"`, the m -> infinity limit
//! solved by the symmetry reduction. The bias E R_m(t) - R_inf(t) is estimated with the control
//! variate of docs/sweeps.md (the t = 0 deviation, whose mean B/(2m) is exact) and its fitted
//! exponent must be -1 and not -1/2.
//!
//! Negative control: the same per-seed risks against the limit of a slightly different problem
//! (a teacher 5% smaller, `target.norm = 0.95`, solved here with `limit::solve`) deviate by a
//! constant (about 0.02 at t = 0.5 and 0.013 at t = 1), so the fitted exponent of the bias
//! tends to 0 and the check must fail there; the entry fails if it passes. The control keeps the true t = 0 deviation as the control variate (its mean is known
//! only for the true problem), so the control's samples are the true ones shifted by
//! R_inf(t) - R_wrong(t): only the reference differs.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use serde::Deserialize;

use super::context::{SweepSizes, read_sweep_summary};
use super::numbers::rounded;
use super::sweep_output::{
    Fit, RiskRow, fit_times, fits_text, risk_band, risk_rows, row_near, scaling_series, sweep_fit,
};
use crate::diagnostics::stats::{BootstrapSettings, Statistic, bootstrap_power_law};
use crate::dynamics::Control;
use crate::error::{Error, Result};
use crate::gallery::{Check, Context, Entry, Outcome};
use crate::limit::{LimitProblem, Resolution, solve};
use crate::output::{RunEntry, Table};
use crate::plot::scaling::render_scaling_looking;
use crate::plot::sweep::{
    ReferenceSlope, ScalingFigure, ScalingSeries, WidthCurves, render_scaling_with_slopes,
    render_width_curves,
};
use crate::plot::{Curve, Scale};
use crate::sweep::analysis::SweepSummary;
use crate::sweep::execute::run_dir;
use crate::sweep::limit_reference::ExactLimitRecord;
use crate::sweep::limit_reference::{adjusted_sample, control_variate};
use crate::sweep::{Plan, SweepOverrides};

/// The times whose bias exponent is checked (later times are reported: there the bias of the
/// smallest widths is not yet in its 1/m regime).
const CHECK_TIMES: [f64; 2] = [0.5, 1.0];

/// The negative control's problem: the scenario with this override.
const WRONG_PROBLEM: &str = "target.norm=0.95";

/// The fluctuation's negative control: the same sweep in the lazy scaling alpha = 1/2, whose
/// output f(0) = m^(-1/2) sum_j a_j relu(w_j.x) is O(1) and random at every width, so the
/// seed-to-seed spread of the risk does not shrink like m^(-1/2) (no reference: the spread of
/// the risk itself is fitted).
const LAZY_CONTROL: [&str; 3] = [
    "model.alpha=0.5",
    "sweep.times=[0.5, 1.0]",
    "dynamics.t_end=1.0",
];

/// Seeds of the fluctuation's negative control (its exponent is near 0: a sd known to 6 % per
/// width tells it from -1/2).
const LAZY_CONTROL_SEEDS: usize = 128;

/// How far the fitted fluctuation exponent may lie from -1/2. The check tells the central limit
/// theorem's -1/2 from its alternatives, 0 (a spread that averaging does not shrink: the lazy
/// control) and -1 (a deterministic 1/m effect, the bias's rate): a window of a fifth of the
/// distance to either, wide enough for the next order of the theorem (a relative O(1/m) change
/// of the seed sd, which tilts the log-log slope over widths from 16 on by a few hundredths).
const FLUCTUATION_ALLOWANCE: f64 = 0.1;

/// The time of the figure's negative-control series.
const CONTROL_FIGURE_TIME: f64 = 1.0;

/// The per-seed risks of a sweep without varied keys.
struct SeedRisks {
    /// risk[k][s]: step -> R of width k and seed s (plan orders).
    risk: Vec<Vec<BTreeMap<u64, f64>>>,
    /// The first logged step (t = 0).
    first: u64,
}

impl SeedRisks {
    /// The risks of every run of `plan` in the sweep folder `dir`.
    fn read(plan: &Plan, dir: &Path) -> Result<Self> {
        let mut risk = vec![vec![BTreeMap::new(); plan.seeds.len()]; plan.widths.len()];
        for run in plan.runs.iter().filter(|r| !r.reference) {
            let width = plan.widths.iter().position(|&m| m == run.m);
            let seed = plan.seeds.iter().position(|&s| s == run.seed);
            if let (Some(k), Some(s)) = (width, seed) {
                risk[k][s] = risk_by_step(&run_dir(dir, run))?;
            }
        }
        let first = risk
            .iter()
            .flatten()
            .filter_map(|r| r.keys().next().copied())
            .min()
            .unwrap_or(0);
        Ok(Self { risk, first })
    }

    /// Per width, the control-variate samples x_i - beta (c_i - mu) of the bias against
    /// `reference` at `step` (x_i = R_i(step) - reference(step)), with c_i = R_i(0) - R_inf(0),
    /// mu = B/(2m), and the estimate's standard error.
    fn bias_samples(
        &self,
        widths: &[usize],
        step: u64,
        reference: &BTreeMap<u64, f64>,
        limit: &BTreeMap<u64, f64>,
        initial_bias: f64,
    ) -> (Vec<Vec<f64>>, Vec<f64>) {
        let at = |map: &BTreeMap<u64, f64>, step: u64| map.get(&step).copied().unwrap_or(f64::NAN);
        widths
            .iter()
            .zip(&self.risk)
            .map(|(&m, seeds)| {
                let x: Vec<f64> = seeds
                    .iter()
                    .map(|r| at(r, step) - at(reference, step))
                    .collect();
                let c: Vec<f64> = seeds
                    .iter()
                    .map(|r| at(r, self.first) - at(limit, self.first))
                    .collect();
                let mu = initial_bias / (2.0 * m as f64);
                let estimate = control_variate(&x, &c, mu);
                (adjusted_sample(&x, &c, mu, estimate.beta), estimate.se)
            })
            .unzip()
    }
}

impl SeedRisks {
    /// Per width, (seed sd of R_m at the logged step nearest `time`, its standard error
    /// sd / sqrt(2 (n - 1))).
    fn spread(&self, time: f64, dt: f64) -> Vec<(f64, f64)> {
        let Some(first) = self.risk.iter().flatten().next() else {
            return Vec::new();
        };
        let step = step_near(first, time, dt);
        self.risk
            .iter()
            .map(|seeds| {
                let values: Vec<f64> = seeds.iter().filter_map(|r| r.get(&step).copied()).collect();
                let sd = Statistic::StdDev.apply(&values);
                let n = values.len() as f64;
                (sd, sd / (2.0 * (n - 1.0).max(1.0)).sqrt())
            })
            .collect()
    }
}

/// The fluctuation's negative control ([`LAZY_CONTROL`]): its plan, per-seed risks and fitted
/// exponents of the seed sd of the risk at [`CHECK_TIMES`].
struct LazyControl {
    plan: Plan,
    risks: SeedRisks,
    fits: Vec<Fit>,
}

impl LazyControl {
    /// Runs (or reuses) the control sweep of `file` at `widths` into `dir`.
    fn measure(ctx: &Context<'_>, file: &str, widths: &[usize], dir: &Path) -> Result<Self> {
        let overrides: Vec<String> = LAZY_CONTROL.iter().map(|o| o.to_string()).collect();
        let sweep = SweepOverrides {
            widths: Some(widths.to_vec()),
            seeds: Some(LAZY_CONTROL_SEEDS),
            reference: Some("none".into()),
        };
        let plan = ctx.sweep(file, &overrides, &sweep, dir)?;
        let summary = read_sweep_summary(dir)?;
        Ok(Self {
            risks: SeedRisks::read(&plan, dir)?,
            fits: fluctuation_fits(&summary, &dir.join("sweep_summary.json"))?,
            plan,
        })
    }
}

/// The fitted exponents of the seed sd of the risk at [`CHECK_TIMES`].
fn fluctuation_fits(summary: &SweepSummary, path: &Path) -> Result<Vec<Fit>> {
    CHECK_TIMES
        .iter()
        .map(|&t| sweep_fit(summary, 0, "risk", "fluctuation", t, path))
        .collect()
}

/// The fluctuation check: every exponent within [`FLUCTUATION_ALLOWANCE`] of -1/2, its
/// interval excluding 0 and -1.
fn fluctuation_passes(fits: &[Fit]) -> bool {
    !fits.is_empty()
        && fits.iter().all(|f| {
            (f.slope + 0.5).abs() <= FLUCTUATION_ALLOWANCE && !f.covers(0.0) && !f.covers(-1.0)
        })
}

/// step -> risk of the series.csv of the run (or limit) folder `dir`.
fn risk_by_step(dir: &Path) -> Result<BTreeMap<u64, f64>> {
    let path = RunEntry::Series.path(dir);
    series_risk(&Table::read_csv(&path)?, &path)
}

/// step -> risk of a series table (read from `path`, for the error).
fn series_risk(series: &Table, path: &Path) -> Result<BTreeMap<u64, f64>> {
    let column = |name: &str| {
        series
            .column(name)
            .ok_or_else(|| Error::format(path, format!("no column {name}")))
    };
    let steps = column("step")?;
    let risk = column("risk")?;
    Ok(steps.iter().map(|s| *s as u64).zip(risk).collect())
}

/// The logged step nearest to `time` (dt constant in a sweep).
fn step_near(map: &BTreeMap<u64, f64>, time: f64, dt: f64) -> u64 {
    let wanted = time / dt;
    map.keys()
        .copied()
        .min_by(|a, b| {
            (*a as f64 - wanted)
                .abs()
                .total_cmp(&(*b as f64 - wanted).abs())
        })
        .unwrap_or(0)
}

/// The limit of the wrong problem (the negative control), solved at `resolution`.
fn wrong_limit(
    ctx: &Context<'_>,
    file: &str,
    resolution: Resolution,
) -> Result<BTreeMap<u64, f64>> {
    let scenario = ctx.scenario(file, &[WRONG_PROBLEM.to_string()])?;
    let problem = LimitProblem::from_scenario(&scenario)?;
    let solution = solve(&problem, resolution, &mut |_, _| Control::Continue)?;
    series_risk(&solution.series, Path::new(WRONG_PROBLEM))
}

/// What the sweep measured, read back.
struct Measured {
    plan: Plan,
    rows: Vec<RiskRow>,
    summary: SweepSummary,
    /// The sweep's record of the limit it compared with.
    limit_record: ExactLimitRecord,
    risks: SeedRisks,
    limit: BTreeMap<u64, f64>,
    initial_bias: f64,
    dt: f64,
}

impl Measured {
    /// The bias fits of the risk (control variate) at the sweep's fit times.
    fn bias_fits(&self, path: &Path) -> Result<Vec<Fit>> {
        let mut times = fit_times(&self.summary, 0, "risk", "bias");
        times.retain(|t| *t > 0.0);
        times
            .iter()
            .map(|&t| sweep_fit(&self.summary, 0, "risk", "bias", t, path))
            .collect()
    }

    /// The bias fit against `reference` at `time`, with the sweep's bootstrap settings.
    fn fit_against(&self, reference: &BTreeMap<u64, f64>, time: f64) -> Result<Fit> {
        let step = step_near(&self.limit, time, self.dt);
        let (samples, _) = self.risks.bias_samples(
            &self.plan.widths,
            step,
            reference,
            &self.limit,
            self.initial_bias,
        );
        let ms: Vec<f64> = self.plan.widths.iter().map(|&m| m as f64).collect();
        let settings = BootstrapSettings {
            resamples: self.plan.bootstrap,
            level: self.plan.level,
            seed: self.plan.seeds.first().copied().unwrap_or(0),
            paired: true,
        };
        let interval =
            bootstrap_power_law(&ms, &samples, |s| Statistic::AbsMean.apply(s), &settings)?;
        Ok(Fit::from_interval(&interval, step as f64 * self.dt))
    }
}

/// Runs the entry: finite m against the exact limit of a non-linear network.
pub(super) fn run(ctx: &Context<'_>, entry: &Entry) -> Result<Outcome> {
    let measured = measure(ctx, entry.scenario, &ctx.work_dir(entry.name))?;
    let summary_path = ctx.work_dir(entry.name).join("sweep_summary.json");
    let bias = measured.bias_fits(&summary_path)?;
    let checked: Vec<Fit> = CHECK_TIMES
        .iter()
        .map(|&t| sweep_fit(&measured.summary, 0, "risk", "bias", t, &summary_path))
        .collect::<Result<_>>()?;
    let resolution = limit_resolution(&measured.plan, ctx, entry.scenario)?;
    let wrong = wrong_limit(ctx, entry.scenario, resolution)?;
    let control: Vec<Fit> = CHECK_TIMES
        .iter()
        .map(|&t| measured.fit_against(&wrong, t))
        .collect::<Result<_>>()?;
    let control_figure = measured.fit_against(&wrong, CONTROL_FIGURE_TIME)?;
    let fluctuation = fluctuation_fits(&measured.summary, &summary_path)?;
    let lazy = LazyControl::measure(
        ctx,
        entry.scenario,
        &measured.plan.widths,
        &ctx.work_dir("exact_limit_lazy_control"),
    )?;
    let out = ctx.out();
    draw_bias(&measured, &bias, &wrong, &control_figure, out)?;
    draw_fluctuation(
        &measured,
        &fluctuation,
        &lazy,
        &out.join("exact_limit_fluctuation"),
    )?;
    draw_risk(&measured, &out.join("exact_limit_risk"))?;
    let mut numbers = numbers_of(&measured, &bias, &control, &wrong);
    numbers.insert(
        "fluctuation_slopes".into(),
        Value::Array(fluctuation.iter().map(Fit::json).collect()),
    );
    numbers.insert(
        "fluctuation_control".into(),
        json!({
            "overrides": LAZY_CONTROL,
            "seeds": lazy.plan.seeds.len(),
            "fluctuation_slopes": lazy.fits.iter().map(Fit::json).collect::<Vec<_>>(),
            "check_passed": fluctuation_passes(&lazy.fits),
        }),
    );
    let mut checks = checks_of(&checked, &control, &measured.plan);
    checks.extend(fluctuation_checks(&fluctuation, &lazy, &measured.plan));
    Ok(Outcome {
        figures: [
            "exact_limit.png",
            "exact_limit.svg",
            "exact_limit_control.png",
            "exact_limit_control.svg",
            "exact_limit_fluctuation.png",
            "exact_limit_fluctuation.svg",
            "exact_limit_risk.png",
            "exact_limit_risk.svg",
        ]
        .map(String::from)
        .to_vec(),
        numbers,
        checks,
    })
}

/// The sizes of one gallery invocation (`[exact_limit.quick]` or `[exact_limit.full]` of the
/// sizes file); a size left out keeps the scenario's `[sweep]` value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sizes {
    /// Widths and seeds.
    #[serde(flatten)]
    sweep: SweepSizes,
    /// Nodes per direction of the limit's initial rule (`sweep.limit_nodes`).
    limit_nodes: Option<usize>,
}

/// Runs (or reuses) the sweep of scenario `file` into `dir` and reads back what the entry
/// needs.
fn measure(ctx: &Context<'_>, file: &str, dir: &Path) -> Result<Measured> {
    let sizes: Sizes = ctx.sizes("exact_limit")?;
    let overrides: Vec<String> = sizes
        .limit_nodes
        .map(|nodes| format!("sweep.limit_nodes={nodes}"))
        .into_iter()
        .collect();
    let plan = ctx.sweep(file, &overrides, &sizes.sweep.overrides(), dir)?;
    let summary_path = dir.join("sweep_summary.json");
    let summary = read_sweep_summary(dir)?;
    let limit_record = summary
        .points
        .first()
        .and_then(|point| point.limit.clone())
        .ok_or_else(|| Error::format(&summary_path, "no limit record"))?;
    let dt = ctx.scenario(file, &overrides)?.dt;
    Ok(Measured {
        rows: risk_rows(&dir.join("sweep_stats.csv"))?,
        risks: SeedRisks::read(&plan, dir)?,
        limit: risk_by_step(&dir.join(&limit_record.directory))?,
        initial_bias: limit_record.initial_bias,
        limit_record,
        dt,
        summary,
        plan,
    })
}

/// The resolution the sweep solved its limit at (the wrong limit is solved at the same).
fn limit_resolution(plan: &Plan, ctx: &Context<'_>, file: &str) -> Result<Resolution> {
    let problem = LimitProblem::from_scenario(&ctx.scenario(file, &[])?)?;
    Ok(plan.limit_nodes.map_or_else(
        || Resolution::default_for(problem.k()),
        Resolution::with_nodes,
    ))
}

/// The figures of the bias: `exact_limit` (|bias| against m at each fit time, with its fit and
/// an m^-1 guide) and `exact_limit_control` (at [`CONTROL_FIGURE_TIME`], against the true and
/// the wrong limit), both with the control variate and bars of +- 2 SE.
fn draw_bias(
    measured: &Measured,
    bias: &[Fit],
    wrong: &BTreeMap<u64, f64>,
    control: &Fit,
    out: &Path,
) -> Result<()> {
    let seeds = measured.plan.seeds.len();
    let series: Vec<ScalingSeries> = bias.iter().map(|f| bias_series(measured, f)).collect();
    render_bias(
        format!("Bias of the relu risk against the exact limit ({seeds} seeds)"),
        series.clone(),
        &[],
        &out.join("exact_limit"),
    )?;
    // The series of the control time keeps the colour and marker it has in `exact_limit`; the
    // wrong limit takes the first look that figure does not use.
    let (mut looks, mut pair): (Vec<usize>, Vec<ScalingSeries>) = bias
        .iter()
        .zip(series)
        .enumerate()
        .filter(|(_, (f, _))| (f.time - control.time).abs() < 1e-9)
        .map(|(index, (_, s))| {
            let label = format!("{} (against the exact limit)", s.label);
            (index, ScalingSeries { label, ..s })
        })
        .unzip();
    pair.push(control_series(measured, wrong, control));
    looks.push(bias.len());
    render_bias(
        format!(
            "Negative control: the limit of {} ({seeds} seeds)",
            WRONG_PROBLEM.replace('=', " = ")
        ),
        pair,
        &looks,
        &out.join("exact_limit_control"),
    )
}

/// The bias (control variate) at the time of `fit`, from sweep_stats.csv, with the fit.
fn bias_series(measured: &Measured, fit: &Fit) -> ScalingSeries {
    let ms: Vec<f64> = measured.plan.widths.iter().map(|&m| m as f64).collect();
    let rows: Vec<&RiskRow> = measured
        .plan
        .widths
        .iter()
        .filter_map(|&m| row_near(&measured.rows, m, fit.time))
        .collect();
    let value: Vec<f64> = rows.iter().map(|r| r.deviation_cv_mean.abs()).collect();
    let half: Vec<f64> = rows.iter().map(|r| 2.0 * r.deviation_cv_se).collect();
    let label = format!("t = {}", rounded(fit.time, 4));
    scaling_series(&label, &ms, &value, &half, Some(fit.power(1.0)))
}

/// The deviation from the wrong limit (control variate) at the time of `control`, with its fit.
fn control_series(measured: &Measured, wrong: &BTreeMap<u64, f64>, control: &Fit) -> ScalingSeries {
    let ms: Vec<f64> = measured.plan.widths.iter().map(|&m| m as f64).collect();
    let step = step_near(&measured.limit, control.time, measured.dt);
    let (samples, se) = measured.risks.bias_samples(
        &measured.plan.widths,
        step,
        wrong,
        &measured.limit,
        measured.initial_bias,
    );
    let value: Vec<f64> = samples
        .iter()
        .map(|s| Statistic::AbsMean.apply(s))
        .collect();
    let half: Vec<f64> = se.iter().map(|s| 2.0 * s).collect();
    let label = format!("wrong limit, t = {}", rounded(control.time, 4));
    scaling_series(&label, &ms, &value, &half, Some(control.power(1.0)))
}

/// A scaling figure of the bias with an m^-1 guide.
/// Series i takes the colour and marker of index `looks[i]` (its own where not given).
fn render_bias(
    title: String,
    series: Vec<ScalingSeries>,
    looks: &[usize],
    stem: &Path,
) -> Result<()> {
    let figure = ScalingFigure {
        title,
        x_label: "width m".into(),
        y_label: "|E R_m(t) - R_inf(t)| (+- 2 SE)".into(),
        series,
    };
    let guide = ReferenceSlope {
        slope: -1.0,
        label: "m^-1".into(),
    };
    render_scaling_looking(&figure, &[guide], looks, stem)
}

/// Figure `exact_limit_fluctuation`: the seed sd of R_m(t) against m at [`CHECK_TIMES`] with
/// the fitted lines, beside the lazy control at its last checked time, and an m^-1/2 guide.
fn draw_fluctuation(
    measured: &Measured,
    fits: &[Fit],
    lazy: &LazyControl,
    stem: &Path,
) -> Result<()> {
    let ms = |plan: &Plan| -> Vec<f64> { plan.widths.iter().map(|&m| m as f64).collect() };
    let series_of = |label: String, risks: &SeedRisks, plan: &Plan, fit: &Fit| {
        let spread = risks.spread(fit.time, measured.dt);
        let value: Vec<f64> = spread.iter().map(|s| s.0).collect();
        let half: Vec<f64> = spread.iter().map(|s| 2.0 * s.1).collect();
        scaling_series(&label, &ms(plan), &value, &half, Some(fit.power(1.0)))
    };
    let mut series: Vec<ScalingSeries> = fits
        .iter()
        .map(|f| {
            let label = format!("alpha = 1, t = {}", rounded(f.time, 4));
            series_of(label, &measured.risks, &measured.plan, f)
        })
        .collect();
    if let Some(f) = lazy.fits.last() {
        let label = format!("control alpha = 1/2, t = {}", rounded(f.time, 4));
        series.push(series_of(label, &lazy.risks, &lazy.plan, f));
    }
    let figure = ScalingFigure {
        title: format!(
            "Seed spread of the relu risk ({} seeds; control {})",
            measured.plan.seeds.len(),
            lazy.plan.seeds.len()
        ),
        x_label: "width m".into(),
        y_label: "sd over seeds of R_m(t) (+- 2 SE)".into(),
        series,
    };
    let guide = ReferenceSlope {
        slope: -0.5,
        label: "m^-1/2".into(),
    };
    render_scaling_with_slopes(&figure, &[guide], stem)
}

/// The fluctuation checks: the exponent near -1/2 (and not 0 or -1) at [`CHECK_TIMES`], and
/// the same check failing on the lazy control.
fn fluctuation_checks(fits: &[Fit], lazy: &LazyControl, plan: &Plan) -> Vec<Check> {
    let percent = 100.0 * plan.level;
    let times = CHECK_TIMES.map(|t| t.to_string()).join(" and ");
    let sizes = format!("widths {:?}, {} seeds", plan.widths, plan.seeds.len());
    vec![
        Check::new(
            format!(
                "the exponent of the risk's seed spread lies within {FLUCTUATION_ALLOWANCE} of \
                 -1/2 and its {percent:.0}% interval excludes 0 and -1 at t = {times}"
            ),
            fluctuation_passes(fits),
            format!("{} ({sizes})", fits_text(fits)),
        ),
        Check::new(
            "negative control: in the lazy scaling (alpha = 1/2, f(0) = O(1) at every width) \
             the same check fails",
            !fluctuation_passes(&lazy.fits),
            format!(
                "{} ({} seeds)",
                fits_text(&lazy.fits),
                lazy.plan.seeds.len()
            ),
        ),
    ]
}

/// Figure (a): the risk against time at each width (seed mean +- 2 SE) beside the exact limit.
fn draw_risk(measured: &Measured, stem: &Path) -> Result<()> {
    let curves = measured
        .plan
        .widths
        .iter()
        .map(|&m| risk_band(&measured.rows, m))
        .collect();
    let reference = Curve {
        label: "exact limit (meanfield limit)".into(),
        x: measured
            .limit
            .keys()
            .map(|&s| s as f64 * measured.dt)
            .collect(),
        y: measured.limit.values().copied().collect(),
    };
    let figure = WidthCurves {
        title: format!(
            "Relu risk against the exact limit ({} seeds)",
            measured.plan.seeds.len()
        ),
        x_label: "time t".into(),
        y_label: "risk R (seed mean +- 2 SE)".into(),
        x_scale: Scale::Linear,
        y_scale: Scale::Log,
        curves,
        reference: Some(reference),
    };
    render_width_curves(&figure, stem)
}

/// The numbers of gallery.json: sizes, the bias exponents, m x bias, the limit's accuracy and
/// the negative control.
fn numbers_of(
    measured: &Measured,
    bias: &[Fit],
    control: &[Fit],
    wrong: &BTreeMap<u64, f64>,
) -> Map<String, Value> {
    let plan = &measured.plan;
    let mut numbers = Map::new();
    numbers.insert("widths".into(), json!(plan.widths));
    numbers.insert("seeds".into(), json!(plan.seeds.len()));
    numbers.insert(
        "bias_slopes".into(),
        Value::Array(bias.iter().map(Fit::json).collect()),
    );
    let m_times_bias: Vec<Value> = bias
        .iter()
        .map(|fit| {
            let values: Vec<f64> = plan
                .widths
                .iter()
                .filter_map(|&m| row_near(&measured.rows, m, fit.time))
                .map(|r| rounded(r.m as f64 * r.deviation_cv_mean, 3))
                .collect();
            json!({ "time": rounded(fit.time, 4), "m_times_bias": values })
        })
        .collect();
    numbers.insert("m_times_bias".into(), Value::Array(m_times_bias));
    numbers.insert("limit".into(), json!(measured.limit_record));
    let shift = wrong
        .iter()
        .filter_map(|(s, r)| Some((r - measured.limit.get(s)?).abs()))
        .fold(0.0, f64::max);
    numbers.insert(
        "negative_control".into(),
        json!({
            "problem": WRONG_PROBLEM,
            "max_risk_shift": rounded(shift, 3),
            "bias_slopes": control.iter().map(Fit::json).collect::<Vec<_>>(),
            "check_passed": passes(control),
        }),
    );
    numbers
}

/// The check on bias exponents: -1 inside every interval and -1/2 outside every one.
fn passes(fits: &[Fit]) -> bool {
    !fits.is_empty() && fits.iter().all(|f| f.covers(-1.0) && !f.covers(-0.5))
}

/// The checks: -1 inside and -1/2 outside the bias intervals at [`CHECK_TIMES`], and the same
/// check failing against the wrong limit.
fn checks_of(checked: &[Fit], control: &[Fit], plan: &Plan) -> Vec<Check> {
    let percent = 100.0 * plan.level;
    let times = CHECK_TIMES.map(|t| t.to_string()).join(" and ");
    let sizes = format!("widths {:?}, {} seeds", plan.widths, plan.seeds.len());
    let detail = format!("{} ({sizes})", fits_text(checked));
    vec![
        Check::new(
            format!(
                "-1 lies in the {percent:.0}% interval of the bias exponent (control variate) at \
                 t = {times}"
            ),
            !checked.is_empty() && checked.iter().all(|f| f.covers(-1.0)),
            detail.clone(),
        ),
        Check::new(
            format!("the {percent:.0}% interval of the bias exponent excludes -1/2 at t = {times}"),
            !checked.is_empty() && checked.iter().all(|f| !f.covers(-0.5)),
            detail,
        ),
        Check::new(
            format!(
                "negative control: against the limit of a slightly different problem \
                 ({WRONG_PROBLEM}) the same check fails"
            ),
            !passes(control),
            format!("{} ({sizes})", fits_text(control)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn the_shipped_sizes_read_and_full_size_is_the_scenario_file() {
        let quick: Sizes = crate::gallery::context::shipped_sizes("exact_limit", true).unwrap();
        let full: Sizes = crate::gallery::context::shipped_sizes("exact_limit", false).unwrap();
        assert_eq!(quick.limit_nodes, Some(8));
        assert!(quick.sweep.widths.is_some() && quick.sweep.seeds.is_some());
        assert!(full.limit_nodes.is_none() && full.sweep.widths.is_none());
    }

    fn fit(slope: f64, lo: f64, hi: f64) -> Fit {
        Fit {
            slope,
            intercept: 0.0,
            lo,
            hi,
            level: 0.95,
            time: 1.0,
        }
    }

    #[test]
    fn the_check_passes_only_for_intervals_around_minus_one_without_minus_one_half() {
        assert!(passes(&[fit(-1.0, -1.2, -0.85), fit(-1.05, -1.3, -0.9)]));
        // A constant deviation (the negative control): exponent near 0.
        assert!(!passes(&[fit(-0.24, -0.27, -0.21)]));
        // Too wide to tell -1 from -1/2.
        assert!(!passes(&[fit(-1.0, -1.9, -0.4)]));
        assert!(!passes(&[]));
    }

    #[test]
    fn the_fluctuation_check_tells_minus_one_half_from_zero_and_minus_one() {
        // The full-size sweep's t = 1 fit.
        assert!(fluctuation_passes(&[fit(-0.478, -0.498, -0.459)]));
        // A spread that does not shrink (the lazy control), and a 1/m rate.
        assert!(!fluctuation_passes(&[fit(-0.03, -0.12, 0.06)]));
        assert!(!fluctuation_passes(&[fit(-0.95, -1.05, -0.86)]));
        // Within the window but too wide to exclude the alternatives.
        assert!(!fluctuation_passes(&[fit(-0.45, -1.1, 0.1)]));
        assert!(!fluctuation_passes(&[]));
    }

    #[test]
    fn step_near_picks_the_logged_step_closest_to_the_time() {
        let logged: BTreeMap<u64, f64> = [(0, 1.0), (10, 0.5), (20, 0.25)].into();
        assert_eq!(step_near(&logged, 0.45, 0.05), 10);
        assert_eq!(step_near(&logged, 0.8, 0.05), 20);
    }
}
