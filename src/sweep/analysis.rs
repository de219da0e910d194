//! The comparison of a sweep's widths with the limit (docs/math.md sections 5 to 7).
//!
//! For every point of the sweep (values of the varied keys), observable (risk, movement,
//! alignment) and logged step: the seed mean, standard deviation and standard error of the
//! observable at each width; its reference value (the coupled wide run of the same seed, the
//! Richardson extrapolation a + b/m of the seed means, the exact reduced equation, or the exact
//! limit of `meanfield limit`); and the per-seed deviations from it, whose mean is the bias
//! E R_m(t) - R_inf(t) and whose standard deviation is the fluctuation of one run; with the
//! exact limit, also the control-variate bias of the risk (`sweep::limit_reference`). Written
//! to `sweep_stats.csv`.
//!
//! At the fit times, power laws of the bias (|mean deviation|) and of the fluctuation
//! (standard deviation of the deviations) against m are fitted on log-log axes, with
//! percentile bootstrap intervals over seeds (`diagnostics::stats`); with a wide or linear
//! reference, so is the coupled distance (docs/math.md section 6) between the width-m particles and
//! their partners at the snapshot steps: the first m particles of the reference run, or Phi(t)
//! theta_j(0) for the linear limit. Written to `sweep_summary.json` and drawn in `plots/`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::diagnostics::stats::{BootstrapSettings, Statistic, Summary, richardson};
use crate::error::{Error, Result};
use crate::output::{format_float, quote_csv_field, write_atomic, write_json};
use crate::plot::Curve;
use crate::plot::Scale;
use crate::plot::sweep::{BandCurve, WidthCurves, render_width_curves};
use crate::sweep::fits::{
    draw_scaling, fit_record, fit_steps, scaling_series, seed_means, short_time,
};
use crate::sweep::limit_reference::{
    CONTROL_VARIATE, Control, ExactLimitRecord, LimitReference, limit_reference,
};
use crate::sweep::merge::RunSeries;
use crate::sweep::partners::{coupled_distances, linear_reference, snapshot_steps};
use crate::sweep::plan::{Plan, Reference};

/// Observables compared with the limit, when the runs logged them (`population_risk`: the exact
/// risk of a data-mode run, where it exists).
const OBSERVABLES: [&str; 5] = [
    "risk",
    "population_risk",
    "movement_mean",
    "movement_relative",
    "cone_share_0",
];

/// Observables drawn against time with one curve per point of a `vary` sweep: (column, what it
/// is, vertical axis label, file stem under `plots/`).
const OVERLAID: [(&str, &str, &str, &str); 3] = [
    ("risk", "risk", "risk R", "vary_risk"),
    ("objective", "objective E", "objective E", "vary_objective"),
    (
        "movement_mean",
        "movement",
        "mean |theta_j(t) - theta_j(0)|",
        "vary_movement",
    ),
];

/// One fitted exponent (or why it could not be fitted).
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct FitRecord {
    /// The observable (`risk`, ..., or `coupled_distance`).
    pub observable: String,
    /// `bias` (|mean deviation|), `fluctuation` (standard deviation of the deviations, or of the
    /// observable without a reference) or `mean` (coupled distance).
    pub statistic: String,
    /// The logged time of the fit.
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
    pub time: f64,
    /// a of a + b/m.
    pub limit: f64,
    /// Its standard error.
    pub limit_se: f64,
    /// b.
    pub b: f64,
    /// chi^2 / dof of the fit (NaN without residual degrees of freedom).
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
    pub time: f64,
    /// Seed mean of the root-mean-square distance between paired particles.
    pub mean: f64,
    /// Its standard error.
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

/// A run's observable by step.
pub(crate) struct Track {
    pub(crate) steps: Vec<u64>,
    pub(crate) times: Vec<f64>,
    values: BTreeMap<String, Vec<f64>>,
}

impl Track {
    fn of(run: &RunSeries) -> Result<Self> {
        let column = |name: &str| run.series.column(name);
        let steps: Vec<u64> = column("step")
            .ok_or_else(|| Error::format(run.dir.join("series.csv"), "no step column"))?
            .iter()
            .map(|s| *s as u64)
            .collect();
        let times = column("time")
            .ok_or_else(|| Error::format(run.dir.join("series.csv"), "no time column"))?;
        let values = OBSERVABLES
            .iter()
            .chain(OVERLAID.iter().map(|(name, ..)| name))
            .filter_map(|name| column(name).map(|v| (name.to_string(), v)))
            .collect();
        Ok(Self {
            steps,
            times,
            values,
        })
    }

    /// The value of `observable` at `step` (NaN if not logged: a diverged run).
    fn at(&self, observable: &str, step: u64) -> f64 {
        match (self.steps.binary_search(&step), self.values.get(observable)) {
            (Ok(row), Some(values)) => values[row],
            _ => f64::NAN,
        }
    }
}

/// The runs of one point, by width and seed.
pub(crate) struct PointRuns<'a> {
    pub(crate) point: Vec<String>,
    pub(crate) ladder: BTreeMap<(usize, u64), (&'a RunSeries, Track)>,
    pub(crate) wide: BTreeMap<u64, (&'a RunSeries, Track)>,
}

/// Writes sweep_stats.csv, sweep_summary.json and the figures of a merged sweep into `out`;
/// returns a short report.
pub fn analyse(plan: &Plan, runs: &[RunSeries], out: &Path) -> Result<String> {
    let mut points: Vec<PointRuns<'_>> = Vec::new();
    // (id, last logged step) of every run: a run that ends before the others diverged.
    let mut ends: Vec<(String, u64)> = Vec::with_capacity(runs.len());
    for run in runs {
        let planned = &plan.runs[run.index];
        let track = Track::of(run)?;
        ends.push((planned.id.clone(), track.steps.last().copied().unwrap_or(0)));
        let position = match points.iter().position(|p| p.point == planned.point) {
            Some(position) => position,
            None => {
                points.push(PointRuns {
                    point: planned.point.clone(),
                    ladder: BTreeMap::new(),
                    wide: BTreeMap::new(),
                });
                points.len() - 1
            }
        };
        let entry = &mut points[position];
        if planned.reference {
            entry.wide.insert(planned.seed, (run, track));
        } else {
            entry.ladder.insert((planned.m, planned.seed), (run, track));
        }
    }
    let last_step = ends.iter().map(|(_, end)| *end).max().unwrap_or(0);
    let incomplete: Vec<String> = ends
        .into_iter()
        .filter(|(_, end)| *end < last_step)
        .map(|(id, _)| id)
        .collect();
    let plots = out.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| Error::io(&plots, e))?;
    let mut csv = String::new();
    let mut header: Vec<String> = plan.keys.iter().map(|k| quote_csv_field(k)).collect();
    header.extend(
        [
            "observable",
            "m",
            "step",
            "time",
            "seeds",
            "mean",
            "sd",
            "se",
            "reference",
            "deviation_mean",
            "deviation_se",
            "deviation_sd",
            "deviation_cv_mean",
            "deviation_cv_se",
        ]
        .map(String::from),
    );
    csv.push_str(&header.join(","));
    csv.push('\n');
    let mut records = Vec::new();
    for (index, point) in points.iter().enumerate() {
        let suffix = if points.len() > 1 {
            format!("_{index}")
        } else {
            String::new()
        };
        records.push(analyse_point(plan, point, &suffix, out, &mut csv)?);
    }
    write_atomic(&out.join("sweep_stats.csv"), csv.as_bytes())?;
    let overlays = if plan.keys.is_empty() {
        Vec::new()
    } else {
        draw_overlays(plan, &points, out)?
    };
    let note = (plan.widths.len() < 2).then(|| {
        format!(
            "one width (m = {}): no fits in m (exponents need at least 2 widths); statistics \
             over seeds and figures only",
            plan.widths.first().copied().unwrap_or(0)
        )
    });
    let summary = SweepSummary {
        name: plan.name.clone(),
        reference: plan.reference.clone(),
        reference_label: reference_label(&plan.reference),
        bias_estimator: (plan.reference == Reference::Limit).then(|| {
            "control variate: the t = 0 deviation with its exact mean B/(2m) (risk at t > 0; \
             at t = 0 the plain deviations, whose mean B/(2m) is known)"
                .to_string()
        }),
        widths: plan.widths.clone(),
        seeds: plan.seeds.clone(),
        runs: runs.len(),
        incomplete_runs: incomplete,
        note,
        points: records,
        overlays,
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    write_json(&out.join("sweep_summary.json"), &summary)?;
    Ok(report(&summary, out))
}

/// The reference in words, for figures and sweep_summary.json.
fn reference_label(reference: &Reference) -> String {
    match reference {
        Reference::Wide { width } => format!("reference (m = {width})"),
        Reference::Richardson => "Richardson limit".into(),
        Reference::Linear => "limit ODE".into(),
        Reference::Limit => "exact limit (meanfield limit)".into(),
        Reference::None => "none".into(),
    }
}

/// Lines for the terminal: the risk exponents of each point.
fn report(summary: &SweepSummary, out: &Path) -> String {
    let mut lines = vec![format!(
        "{}: {} runs merged; sweep.csv, sweep_stats.csv, sweep_summary.json and plots/ in {}",
        summary.name,
        summary.runs,
        out.display()
    )];
    if !summary.incomplete_runs.is_empty() {
        lines.push(format!(
            "diverged (rows end early): {}",
            summary.incomplete_runs.join(", ")
        ));
    }
    if let Some(note) = &summary.note {
        lines.push(note.clone());
    }
    if !summary.overlays.is_empty() {
        lines.push(format!(
            "one curve per varied value: {}",
            summary.overlays.join(", ")
        ));
    }
    for point in &summary.points {
        let label: Vec<String> = point
            .point
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        for fit in point.fits.iter().filter(|f| {
            f.observable == "risk"
                || f.observable == "coupled_distance"
                || (f.observable == "movement_mean" && f.statistic == "mean")
        }) {
            let text = match (fit.slope, fit.lo, fit.hi) {
                (Some(slope), Some(lo), Some(hi)) => format!(
                    "{slope:+.3} [{lo:+.3}, {hi:+.3}] ({:.0}% interval)",
                    100.0 * fit.level
                ),
                _ => fit.note.clone().unwrap_or_else(|| "no fit".into()),
            };
            lines.push(format!(
                "{}{} {} at t = {}: exponent {text}",
                if label.is_empty() {
                    String::new()
                } else {
                    format!("[{}] ", label.join(", "))
                },
                fit.observable,
                fit.statistic,
                short_time(fit.time)
            ));
        }
    }
    lines.join("\n")
}

/// The reference value of `observable` at each step of `steps`, per seed (None: no
/// reference for this observable).
type ReferenceValues = Option<BTreeMap<u64, Vec<f64>>>;

fn analyse_point(
    plan: &Plan,
    point: &PointRuns<'_>,
    suffix: &str,
    out: &Path,
    csv: &mut String,
) -> Result<PointRecord> {
    let widths = &plan.widths;
    let seeds = &plan.seeds;
    // Figure titles name the scenario and, in a sweep over other keys, the point.
    let name = if point.point.is_empty() {
        plan.name.clone()
    } else {
        let values: Vec<String> = plan
            .keys
            .iter()
            .zip(&point.point)
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        format!("{} ({})", plan.name, values.join(", "))
    };
    let Some((first_run, first)) = point.ladder.values().next() else {
        return Err(Error::invalid("sweep", "no run", "at least one ladder run"));
    };
    let steps = first.steps.clone();
    let times = first.times.clone();
    let time_of = |step: u64| {
        steps
            .binary_search(&step)
            .map(|row| times[row])
            .unwrap_or(f64::NAN)
    };
    let fit_steps = fit_steps(plan, &steps, &times);
    let observables: Vec<&str> = OBSERVABLES
        .iter()
        .copied()
        .filter(|o| first.values.contains_key(*o))
        .collect();
    let snapshot_steps = snapshot_steps(&first_run.dir);
    // t_k = k dt, as the simulation computes it (snapshot steps need not be logged rows).
    let dt = crate::scenario::Scenario::load(&first_run.dir.join("scenario.toml"), &[])
        .map_or(f64::NAN, |s| s.dt);
    let linear = match plan.reference {
        Reference::Linear => Some(linear_reference(plan, first_run, &times, &snapshot_steps)?),
        _ => None,
    };
    let limit: Option<LimitReference> = match plan.reference {
        Reference::Limit => Some(limit_reference(plan, point, out)?),
        _ => None,
    };
    let settings = BootstrapSettings {
        resamples: plan.bootstrap,
        level: plan.level,
        seed: plan.seeds[0],
        // Seeds are coupled across widths (the same seed shares its first particles).
        paired: true,
    };
    let values = |observable: &str, m: usize, step: u64| -> Vec<f64> {
        seeds
            .iter()
            .map(|s| {
                point
                    .ladder
                    .get(&(m, *s))
                    .map_or(f64::NAN, |(_, t)| t.at(observable, step))
            })
            .collect()
    };
    let mut fits = Vec::new();
    let mut limits = Vec::new();
    let mut figures = Vec::new();
    for observable in &observables {
        // Reference per seed at each step.
        let reference: ReferenceValues = match &plan.reference {
            Reference::Wide { .. } => Some(
                steps
                    .iter()
                    .map(|&step| {
                        let per_seed = seeds
                            .iter()
                            .map(|s| {
                                point
                                    .wide
                                    .get(s)
                                    .map_or(f64::NAN, |(_, t)| t.at(observable, step))
                            })
                            .collect();
                        (step, per_seed)
                    })
                    .collect(),
            ),
            Reference::Richardson => {
                let mut by_step = BTreeMap::new();
                for (row, &step) in steps.iter().enumerate() {
                    let (ms, means, ses) = seed_means(widths, |m| values(observable, m, step));
                    let value = richardson(&ms, &means, &ses, 1).ok();
                    if let (Some(fit), true) = (&value, fit_steps.contains(&step)) {
                        limits.push(LimitRecord {
                            observable: observable.to_string(),
                            time: times[row],
                            limit: fit.limit,
                            limit_se: fit.limit_se,
                            b: fit.coefficients.first().copied().unwrap_or(f64::NAN),
                            reduced_chi_square: fit.reduced_chi_square(),
                        });
                    }
                    let limit = value.map_or(f64::NAN, |f| f.limit);
                    by_step.insert(step, vec![limit; seeds.len()]);
                }
                Some(by_step)
            }
            Reference::Linear => linear.as_ref().and_then(|l| {
                l.values.get(*observable).map(|v| {
                    steps
                        .iter()
                        .zip(v)
                        .map(|(&step, value)| (step, vec![*value; seeds.len()]))
                        .collect()
                })
            }),
            Reference::Limit => limit.as_ref().and_then(|l| {
                l.values.get(*observable).map(|by_step| {
                    steps
                        .iter()
                        .map(|&step| {
                            let value = by_step.get(&step).copied().unwrap_or(f64::NAN);
                            (step, vec![value; seeds.len()])
                        })
                        .collect()
                })
            }),
            Reference::None => None,
        };
        // The control variate of the risk (limit reference): the t = 0 deviation per seed.
        // Needs the t = 0 row (whose mean B/(2m) is known) and 3 seeds (n - 2 degrees of freedom).
        let control = match (&limit, &reference, steps.first()) {
            (Some(l), Some(r), Some(&0)) if *observable == "risk" && seeds.len() >= 3 => {
                Some(Control {
                    initial_bias: l.initial_bias,
                    deviation: |m: usize, step: u64| {
                        deviation_at(&values(observable, m, step), &r[&step])
                    },
                    first: 0,
                })
            }
            _ => None,
        };
        // Statistics rows.
        for &m in widths {
            for &step in &steps {
                let sample = values(observable, m, step);
                let summary = Summary::of(&sample);
                let (reference_mean, deviation) = match &reference {
                    Some(r) => {
                        let refs = &r[&step];
                        let deviation: Vec<f64> =
                            sample.iter().zip(refs).map(|(x, r)| x - r).collect();
                        (Summary::of(refs).mean, Some(Summary::of(&deviation)))
                    }
                    None => (f64::NAN, None),
                };
                let cv = control.as_ref().map(|c| c.estimate(m, step));
                let mut fields: Vec<String> =
                    point.point.iter().map(|v| quote_csv_field(v)).collect();
                fields.push((*observable).to_string());
                fields.push(m.to_string());
                fields.push(step.to_string());
                fields.extend(
                    [
                        time_of(step),
                        summary.n as f64,
                        summary.mean,
                        summary.sd,
                        summary.se,
                        reference_mean,
                        deviation.map_or(f64::NAN, |d| d.mean),
                        deviation.map_or(f64::NAN, |d| d.se),
                        deviation.map_or(f64::NAN, |d| d.sd),
                        cv.map_or(f64::NAN, |c| c.mean),
                        cv.map_or(f64::NAN, |c| c.se),
                    ]
                    .map(format_float),
                );
                csv.push_str(&fields.join(","));
                csv.push('\n');
            }
        }
        // Exponent fits at the fit times (none with a single width: a line in log m needs two).
        let ms: Vec<f64> = widths.iter().map(|m| *m as f64).collect();
        let mut bias_series = Vec::new();
        let mut movement_series = Vec::new();
        let mut fluctuation_series = Vec::new();
        let fitted: &[u64] = if widths.len() > 1 { &fit_steps } else { &[] };
        for &step in fitted {
            let time = time_of(step);
            let samples: Vec<Vec<f64>> = widths
                .iter()
                .map(|&m| {
                    let sample = values(observable, m, step);
                    match &reference {
                        Some(r) => deviation_at(&sample, &r[&step]),
                        None => sample,
                    }
                })
                .collect();
            // The bias at t > 0 from the control variate (at t = 0 it is B/(2m) exactly, so
            // the fit there measures the plain deviations).
            let bias_samples: Option<Vec<Vec<f64>>> = control
                .as_ref()
                .filter(|c| step != c.first)
                .map(|c| widths.iter().map(|&m| c.adjusted(m, step)).collect());
            // Nothing to fit where the observable is exactly 0 (movement at t = 0, a cone
            // share no particle reaches).
            if samples.iter().flatten().all(|v| *v == 0.0) {
                continue;
            }
            let mut fit_one = |samples: &[Vec<f64>], statistic: Statistic, name: &str| {
                let mut record =
                    fit_record(observable, name, time, &ms, samples, statistic, &settings);
                if bias_samples.is_some() && name == "bias" {
                    record.estimator = Some(CONTROL_VARIATE.into());
                }
                let series = scaling_series(&ms, samples, statistic, &record, time);
                fits.push(record);
                series
            };
            if reference.is_some() {
                let bias = bias_samples.as_deref().unwrap_or(&samples);
                bias_series.push(fit_one(bias, Statistic::AbsMean, "bias"));
            }
            fluctuation_series.push(fit_one(&samples, Statistic::StdDev, "fluctuation"));
            // How far particles move scales like m^(alpha - 1) (docs/math.md section 2): fit the
            // seed mean of the movement itself (the lazy-against-mean-field exponent).
            if observable.starts_with("movement") && step > 0 {
                let raw: Vec<Vec<f64>> = widths
                    .iter()
                    .map(|&m| values(observable, m, step))
                    .collect();
                let record = fit_record(
                    observable,
                    "mean",
                    time,
                    &ms,
                    &raw,
                    Statistic::Mean,
                    &settings,
                );
                movement_series.push(scaling_series(&ms, &raw, Statistic::Mean, &record, time));
                fits.push(record);
            }
        }
        if *observable == "movement_mean" {
            let stem = format!("plots/movement_scaling{suffix}");
            if draw_scaling(
                &name,
                "mean movement of a particle",
                "mean_j |theta_j(t) - theta_j(0)|",
                std::mem::take(&mut movement_series),
                &out.join(&stem),
            ) {
                figures.push(format!("{stem}.png"));
            }
        }
        if *observable == "risk" {
            let label = |what: &str| match plan.reference {
                Reference::Limit => format!(
                    "{what} of the risk against the exact limit (meanfield limit){}",
                    if what == "bias" {
                        ", control variate at t > 0"
                    } else {
                        ""
                    }
                ),
                _ => format!("{what} of the risk"),
            };
            if reference.is_some() {
                let stem = format!("plots/risk_bias{suffix}");
                if draw_scaling(
                    &name,
                    &label("bias"),
                    "|E R_m(t) - R_ref(t)|",
                    bias_series,
                    &out.join(&stem),
                ) {
                    figures.push(format!("{stem}.png"));
                }
            }
            let stem = format!("plots/risk_fluctuation{suffix}");
            if draw_scaling(
                &name,
                &label("seed-to-seed fluctuation"),
                if reference.is_some() {
                    "sd over seeds of R_m(t) - R_ref(t)"
                } else {
                    "sd over seeds of R_m(t)"
                },
                fluctuation_series,
                &out.join(&stem),
            ) {
                figures.push(format!("{stem}.png"));
            }
            // With one width and several points the overlay (vary_risk) says it all.
            if widths.len() < 2 && !suffix.is_empty() {
                continue;
            }
            let stem = format!("plots/risk_by_width{suffix}");
            let reference_curve = reference.as_ref().map(|r| Curve {
                label: reference_label(&plan.reference),
                x: times.clone(),
                y: steps.iter().map(|s| Summary::of(&r[s]).mean).collect(),
            });
            let curves = widths
                .iter()
                .map(|&m| {
                    let (mean, half): (Vec<f64>, Vec<f64>) = steps
                        .iter()
                        .map(|&s| {
                            let summary = Summary::of(&values(observable, m, s));
                            (summary.mean, 2.0 * summary.se)
                        })
                        .unzip();
                    BandCurve {
                        label: format!("m = {m}"),
                        x: times.clone(),
                        mean,
                        half_width: half,
                        m: m as f64,
                    }
                })
                .collect();
            let figure = WidthCurves {
                title: format!("{name}: risk at each width (mean +- 2 SE)"),
                x_label: "time t".into(),
                y_label: "risk R".into(),
                x_scale: Scale::Log,
                y_scale: Scale::Log,
                curves,
                reference: reference_curve,
            };
            if render_width_curves(&figure, &out.join(&stem)).is_ok() {
                figures.push(format!("{stem}.png"));
            }
        }
    }
    let coupled = coupled_distances(
        plan,
        point,
        &snapshot_steps,
        linear.as_ref().map(|l| l.propagators.as_slice()),
    )?;
    // Fits at the snapshot steps nearest to the fit times.
    let mut coupled_series = Vec::new();
    let mut fitted_steps: Vec<u64> = Vec::new();
    let coupled_fit_steps: &[u64] = if widths.len() > 1 { &fit_steps } else { &[] };
    for &wanted in coupled_fit_steps {
        let Some(at) = coupled
            .iter()
            .min_by_key(|c| c.step.abs_diff(wanted))
            .filter(|c| !fitted_steps.contains(&c.step) && c.step > 0)
        else {
            continue;
        };
        fitted_steps.push(at.step);
        let ms: Vec<f64> = at.by_width.iter().map(|(m, _)| *m as f64).collect();
        let samples: Vec<Vec<f64>> = at.by_width.iter().map(|(_, s)| s.clone()).collect();
        let time = at.step as f64 * dt;
        let record = fit_record(
            "coupled_distance",
            "mean",
            time,
            &ms,
            &samples,
            Statistic::Mean,
            &settings,
        );
        coupled_series.push(scaling_series(
            &ms,
            &samples,
            Statistic::Mean,
            &record,
            time,
        ));
        fits.push(record);
    }
    if !coupled_series.is_empty() {
        let stem = format!("plots/coupled_distance{suffix}");
        if draw_scaling(
            &name,
            "coupled distance to the reference particles",
            "RMS |theta_j^m - theta_j^ref|",
            coupled_series,
            &out.join(&stem),
        ) {
            figures.push(format!("{stem}.png"));
        }
    }
    Ok(PointRecord {
        point: plan
            .keys
            .iter()
            .cloned()
            .zip(point.point.iter().cloned())
            .collect(),
        fits,
        limits,
        limit: limit.map(|l| l.record),
        coupled_distance: coupled
            .iter()
            .flat_map(|at| {
                at.by_width.iter().map(|(m, sample)| {
                    let summary = Summary::of(sample);
                    CoupledRecord {
                        m: *m,
                        step: at.step,
                        time: at.step as f64 * dt,
                        mean: summary.mean,
                        se: summary.se,
                    }
                })
            })
            .collect(),
        figures,
    })
}

/// One curve of an overlay figure: a point's seed mean and standard error of an observable at
/// each logged time, at one width.
#[derive(Clone, Debug)]
pub struct OverlayCurve {
    /// The point's values (`lambda = 0.01`).
    pub label: String,
    /// The point's values, in the order of the plan's keys.
    pub point: Vec<String>,
    /// Logged steps.
    pub steps: Vec<u64>,
    /// Their times.
    pub times: Vec<f64>,
    /// Seeds with a value at each step.
    pub seeds: Vec<usize>,
    /// Seed mean at each step.
    pub mean: Vec<f64>,
    /// Its standard error (seed-to-seed sd / sqrt(seeds)).
    pub se: Vec<f64>,
}

/// The overlay curves of `observable` at width `m`: one per point that logged it, in plan order.
pub(crate) fn overlay_curves(
    plan: &Plan,
    points: &[PointRuns<'_>],
    observable: &str,
    m: usize,
) -> Vec<OverlayCurve> {
    points
        .iter()
        .filter_map(|point| {
            let tracks: Vec<&Track> = plan
                .seeds
                .iter()
                .filter_map(|seed| point.ladder.get(&(m, *seed)).map(|(_, track)| track))
                .collect();
            let first = tracks.first()?;
            if !first.values.contains_key(observable) {
                return None;
            }
            let mut curve = OverlayCurve {
                label: crate::sweep::plan::point_label(&plan.keys, &point.point),
                point: point.point.clone(),
                steps: first.steps.clone(),
                times: first.times.clone(),
                seeds: Vec::new(),
                mean: Vec::new(),
                se: Vec::new(),
            };
            for &step in &first.steps {
                let sample: Vec<f64> = tracks
                    .iter()
                    .map(|t| t.at(observable, step))
                    .filter(|v| v.is_finite())
                    .collect();
                let summary = Summary::of(&sample);
                curve.seeds.push(sample.len());
                curve.mean.push(summary.mean);
                curve.se.push(summary.se);
            }
            Some(curve)
        })
        .collect()
}

/// The text of an overlay's CSV: `curve`, the varied keys, `m`, `step`, `time`, `seeds`,
/// `mean`, `se`; one row per curve and logged step.
pub(crate) fn overlay_csv(plan: &Plan, m: usize, curves: &[OverlayCurve]) -> String {
    let mut header = vec!["curve".to_owned()];
    header.extend(plan.keys.iter().map(|k| quote_csv_field(k)));
    header.extend(["m", "step", "time", "seeds", "mean", "se"].map(String::from));
    let mut text = header.join(",");
    text.push('\n');
    for curve in curves {
        for row in 0..curve.steps.len() {
            let mut fields = vec![quote_csv_field(&curve.label)];
            fields.extend(curve.point.iter().map(|v| quote_csv_field(v)));
            fields.push(m.to_string());
            fields.push(curve.steps[row].to_string());
            fields.push(format_float(curve.times[row]));
            fields.push(curve.seeds[row].to_string());
            fields.push(format_float(curve.mean[row]));
            fields.push(format_float(curve.se[row]));
            text.push_str(&fields.join(","));
            text.push('\n');
        }
    }
    text
}

/// Draws the overlays of a `vary` sweep at its largest width: risk, objective E (when some
/// point has weight decay, so that E differs from R) and movement against time, one curve per
/// point with a band of +- 1 standard error over seeds; writes each figure's data beside it as
/// CSV. Returns the figures written, relative to `out`.
fn draw_overlays(plan: &Plan, points: &[PointRuns<'_>], out: &Path) -> Result<Vec<String>> {
    let Some(&m) = plan.widths.last() else {
        return Ok(Vec::new());
    };
    let mut figures = Vec::new();
    for (observable, what, y_label, stem) in OVERLAID {
        let curves = overlay_curves(plan, points, observable, m);
        if curves.is_empty() {
            continue;
        }
        if observable == "objective" {
            // E = R exactly without weight decay: the risk overlay already shows it.
            let risk = overlay_curves(plan, points, "risk", m);
            let differs = curves.iter().zip(&risk).any(|(e, r)| {
                e.mean
                    .iter()
                    .zip(&r.mean)
                    .any(|(e, r)| e.to_bits() != r.to_bits())
            });
            if !differs {
                continue;
            }
        }
        write_atomic(
            &out.join(format!("plots/{stem}.csv")),
            overlay_csv(plan, m, &curves).as_bytes(),
        )?;
        let keys: Vec<String> = (0..plan.keys.len())
            .map(|index| crate::sweep::plan::short_key(&plan.keys, index))
            .collect();
        let figure = WidthCurves {
            title: format!(
                "{}: {what} by {} at m = {m} (mean +- SE over {} seeds)",
                plan.name,
                keys.join(", "),
                plan.seeds.len()
            ),
            x_label: "time t".into(),
            y_label: y_label.into(),
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            curves: curves
                .iter()
                .enumerate()
                .map(|(index, curve)| BandCurve {
                    label: curve.label.clone(),
                    x: curve.times.clone(),
                    mean: curve.mean.clone(),
                    half_width: curve.se.clone(),
                    // Colours and legend follow the plan's order of the values.
                    m: index as f64,
                })
                .collect(),
            reference: None,
        };
        if render_width_curves(&figure, &out.join(format!("plots/{stem}"))).is_ok() {
            figures.push(format!("plots/{stem}.png"));
        }
    }
    Ok(figures)
}

/// Per-seed deviations sample - reference.
fn deviation_at(sample: &[f64], reference: &[f64]) -> Vec<f64> {
    sample.iter().zip(reference).map(|(x, r)| x - r).collect()
}
