//! The analysis of one point of a sweep (docs/math.md sections 5 to 7), as stages that
//! [`analyse_point`] chains, each returning a typed record:
//!
//! 1. [`PointContext`]: the point's logged steps, fit steps, observables and bootstrap settings;
//! 2. [`PointLimits`]: the limits solved once per point (the linear ODE, the exact limit);
//! 3. [`ObservableReference`]: per observable, the reference value per seed at each step (and
//!    the Richardson extrapolations), with the control variate of the risk;
//! 4. the statistics rows of `sweep_stats.csv`: seed mean, sd and se of the observable and of
//!    its deviations from the reference;
//! 5. [`ObservableFits`]: the exponents of the bias, the fluctuation and the movement at the fit
//!    times, with bootstrap intervals, and the series of their figures;
//! 6. the figures of the observable;
//! 7. [`CoupledFits`]: the coupled distance at the snapshot steps and its exponents.

use std::collections::BTreeMap;
use std::path::Path;

use crate::diagnostics::stats::{BootstrapSettings, Statistic, Summary, richardson};
use crate::error::{Error, Result};
use crate::output::{format_float, quote_csv_field};
use crate::plot::sweep::{BandCurve, ScalingSeries, WidthCurves, render_width_curves};
use crate::plot::{Curve, Scale};
use crate::sweep::analysis::records::{CoupledRecord, FitRecord, LimitRecord, PointRecord};
use crate::sweep::analysis::summary::reference_label;
use crate::sweep::analysis::tracks::{OBSERVABLES, PointRuns};
use crate::sweep::fits::{draw_scaling, fit_record, fit_steps, scaling_series, seed_means};
use crate::sweep::limit_reference::{CONTROL_VARIATE, Control, LimitReference, limit_reference};
use crate::sweep::merge::RunSeries;
use crate::sweep::partners::{
    CoupledAt, LinearReference, coupled_distances, linear_reference, snapshot_steps,
};
use crate::sweep::plan::{Plan, Reference};

/// The reference value of `observable` at each step of `steps`, per seed (None: no
/// reference for this observable).
type ReferenceValues = Option<BTreeMap<u64, Vec<f64>>>;

/// What every stage of a point's analysis reads.
struct PointContext<'a, 'r> {
    plan: &'a Plan,
    point: &'a PointRuns<'r>,
    /// The first ladder run, whose scenario and logged steps the point's runs share.
    first_run: &'r RunSeries,
    /// Figure titles name the scenario and, in a sweep over other keys, the point.
    name: String,
    /// The logged steps and their times.
    steps: Vec<u64>,
    times: Vec<f64>,
    /// The logged steps nearest to the fit times.
    fit_steps: Vec<u64>,
    /// The observables the runs logged, in the order of [`OBSERVABLES`].
    observables: Vec<&'static str>,
    /// The snapshot steps of the first run.
    snapshot_steps: Vec<u64>,
    /// t_k = k dt, as the simulation computes it (snapshot steps need not be logged rows).
    dt: f64,
    settings: BootstrapSettings,
}

impl<'a, 'r> PointContext<'a, 'r> {
    /// The context of `point`, from its first ladder run.
    fn of(plan: &'a Plan, point: &'a PointRuns<'r>) -> Result<Self> {
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
        let fit_steps = fit_steps(plan, &steps, &times);
        let observables: Vec<&'static str> = OBSERVABLES
            .iter()
            .copied()
            .filter(|o| first.values.contains_key(*o))
            .collect();
        let snapshot_steps = snapshot_steps(&first_run.dir);
        let dt = crate::scenario::Scenario::load(&first_run.dir.join("scenario.toml"), &[])
            .map_or(f64::NAN, |s| s.dt);
        let settings = BootstrapSettings {
            resamples: plan.bootstrap,
            level: plan.level,
            seed: plan.seeds[0],
            // Seeds are coupled across widths (the same seed shares its first particles).
            paired: true,
        };
        Ok(Self {
            plan,
            point,
            first_run,
            name,
            steps,
            times,
            fit_steps,
            observables,
            snapshot_steps,
            dt,
            settings,
        })
    }

    /// The logged time of `step` (NaN if it is not logged).
    fn time_of(&self, step: u64) -> f64 {
        self.steps
            .binary_search(&step)
            .map(|row| self.times[row])
            .unwrap_or(f64::NAN)
    }

    /// The value of `observable` at `step` per seed at width `m` (NaN for a missing run).
    fn values(&self, observable: &str, m: usize, step: u64) -> Vec<f64> {
        self.plan
            .seeds
            .iter()
            .map(|s| {
                self.point
                    .ladder
                    .get(&(m, *s))
                    .map_or(f64::NAN, |(_, t)| t.at(observable, step))
            })
            .collect()
    }

    /// The widths as numbers, for the fits in m.
    fn ms(&self) -> Vec<f64> {
        self.plan.widths.iter().map(|m| *m as f64).collect()
    }

    /// The steps to fit exponents at: none with a single width (a line in log m needs two).
    fn fitted_steps(&self) -> &[u64] {
        if self.plan.widths.len() > 1 {
            &self.fit_steps
        } else {
            &[]
        }
    }
}

/// The limits of a point that are solved once for all its observables.
struct PointLimits {
    /// The exact reduced limit of a linear network (reference `linear`).
    linear: Option<LinearReference>,
    /// The exact limit of `meanfield limit` (reference `limit`).
    limit: Option<LimitReference>,
}

/// The [`PointLimits`] of the plan's reference (the exact limit solved into `out`).
fn point_limits(context: &PointContext<'_, '_>, out: &Path) -> Result<PointLimits> {
    let plan = context.plan;
    let linear = match plan.reference {
        Reference::Linear => Some(linear_reference(
            plan,
            context.first_run,
            &context.times,
            &context.snapshot_steps,
        )?),
        _ => None,
    };
    let limit = match plan.reference {
        Reference::Limit => Some(limit_reference(plan, context.point, out)?),
        _ => None,
    };
    Ok(PointLimits { linear, limit })
}

/// The reference of one observable at a point.
struct ObservableReference {
    /// Per logged step, the reference value per seed.
    values: ReferenceValues,
    /// The Richardson extrapolations at the fit steps (reference `richardson`).
    limits: Vec<LimitRecord>,
}

/// The reference of `observable`: the wide run of each seed, the Richardson extrapolation of
/// the seed means, the linear ODE or the exact limit (the same value for every seed).
fn observable_reference(
    context: &PointContext<'_, '_>,
    limits: &PointLimits,
    observable: &str,
) -> ObservableReference {
    let (steps, seeds) = (&context.steps, &context.plan.seeds);
    let mut richardson_limits = Vec::new();
    let values = match &context.plan.reference {
        Reference::Wide { .. } => Some(
            steps
                .iter()
                .map(|&step| {
                    let per_seed = seeds
                        .iter()
                        .map(|s| {
                            context
                                .point
                                .wide
                                .get(s)
                                .map_or(f64::NAN, |(_, t)| t.at(observable, step))
                        })
                        .collect();
                    (step, per_seed)
                })
                .collect(),
        ),
        Reference::Richardson => Some(richardson_reference(
            context,
            observable,
            &mut richardson_limits,
        )),
        Reference::Linear => limits.linear.as_ref().and_then(|l| {
            l.values.get(observable).map(|v| {
                steps
                    .iter()
                    .zip(v)
                    .map(|(&step, value)| (step, vec![*value; seeds.len()]))
                    .collect()
            })
        }),
        Reference::Limit => limits.limit.as_ref().and_then(|l| {
            l.values.get(observable).map(|by_step| {
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
    ObservableReference {
        values,
        limits: richardson_limits,
    }
}

/// The Richardson limit a + b/m of the seed means of `observable` at each step (NaN where it
/// cannot be fitted), for every seed; the fits at the fit steps are pushed to `limits`.
fn richardson_reference(
    context: &PointContext<'_, '_>,
    observable: &str,
    limits: &mut Vec<LimitRecord>,
) -> BTreeMap<u64, Vec<f64>> {
    let mut by_step = BTreeMap::new();
    for (row, &step) in context.steps.iter().enumerate() {
        let (ms, means, ses) = seed_means(&context.plan.widths, |m| {
            context.values(observable, m, step)
        });
        let value = richardson(&ms, &means, &ses, 1).ok();
        if let (Some(fit), true) = (&value, context.fit_steps.contains(&step)) {
            limits.push(LimitRecord {
                observable: observable.to_string(),
                time: context.times[row],
                limit: fit.limit,
                limit_se: fit.limit_se,
                b: fit.coefficients.first().copied().unwrap_or(f64::NAN),
                reduced_chi_square: fit.reduced_chi_square(),
            });
        }
        let limit = value.map_or(f64::NAN, |f| f.limit);
        by_step.insert(step, vec![limit; context.plan.seeds.len()]);
    }
    by_step
}

/// The control variate of the risk (limit reference): the t = 0 deviation per seed. Needs the
/// t = 0 row (whose mean B/(2m) is known) and 3 seeds (n - 2 degrees of freedom).
fn risk_control<'c>(
    context: &'c PointContext<'_, '_>,
    limits: &PointLimits,
    observable: &'c str,
    reference: &'c ReferenceValues,
) -> Option<Control<impl Fn(usize, u64) -> Vec<f64> + 'c>> {
    match (&limits.limit, reference, context.steps.first()) {
        (Some(l), Some(r), Some(&0)) if observable == "risk" && context.plan.seeds.len() >= 3 => {
            Some(Control {
                initial_bias: l.initial_bias,
                deviation: move |m: usize, step: u64| {
                    deviation_at(&context.values(observable, m, step), &r[&step])
                },
                first: 0,
            })
        }
        _ => None,
    }
}

/// Appends the rows of `observable` to `csv` (sweep_stats.csv), one per width and logged step:
/// the seed statistics of the observable, of its deviations from `reference` and of the
/// control-variate deviations.
fn statistics_rows<F: Fn(usize, u64) -> Vec<f64>>(
    context: &PointContext<'_, '_>,
    observable: &str,
    reference: &ReferenceValues,
    control: Option<&Control<F>>,
    csv: &mut String,
) {
    for &m in &context.plan.widths {
        for &step in &context.steps {
            let sample = context.values(observable, m, step);
            let summary = Summary::of(&sample);
            let (reference_mean, deviation) = match reference {
                Some(r) => {
                    let refs = &r[&step];
                    let deviation: Vec<f64> = sample.iter().zip(refs).map(|(x, r)| x - r).collect();
                    (Summary::of(refs).mean, Some(Summary::of(&deviation)))
                }
                None => (f64::NAN, None),
            };
            let cv = control.map(|c| c.estimate(m, step));
            let mut fields: Vec<String> = context
                .point
                .point
                .iter()
                .map(|v| quote_csv_field(v))
                .collect();
            fields.push(observable.to_string());
            fields.push(m.to_string());
            fields.push(step.to_string());
            fields.extend(
                [
                    context.time_of(step),
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
}

/// The exponent fits of one observable at the fit steps, in order of step (at each: bias,
/// fluctuation, movement mean), and the series of its scaling figures.
#[derive(Default)]
struct ObservableFits {
    records: Vec<FitRecord>,
    /// One series per fitted step of the bias figure.
    bias: Vec<ScalingSeries>,
    /// Of the fluctuation figure.
    fluctuation: Vec<ScalingSeries>,
    /// Of the movement figure (the seed mean of a movement).
    movement: Vec<ScalingSeries>,
}

/// The [`ObservableFits`] of `observable`: power laws in m of the bias (|mean deviation|, by
/// the control variate at t > 0 where there is one) and of the fluctuation (sd of the
/// deviations), and of the seed mean of a movement.
fn exponent_fits<F: Fn(usize, u64) -> Vec<f64>>(
    context: &PointContext<'_, '_>,
    observable: &str,
    reference: &ReferenceValues,
    control: Option<&Control<F>>,
) -> ObservableFits {
    let widths = &context.plan.widths;
    let ms = context.ms();
    let mut fits = ObservableFits::default();
    for &step in context.fitted_steps() {
        let time = context.time_of(step);
        let samples: Vec<Vec<f64>> = widths
            .iter()
            .map(|&m| {
                let sample = context.values(observable, m, step);
                match reference {
                    Some(r) => deviation_at(&sample, &r[&step]),
                    None => sample,
                }
            })
            .collect();
        // The bias at t > 0 from the control variate (at t = 0 it is B/(2m) exactly, so
        // the fit there measures the plain deviations).
        let bias_samples: Option<Vec<Vec<f64>>> = control
            .filter(|c| step != c.first)
            .map(|c| widths.iter().map(|&m| c.adjusted(m, step)).collect());
        // Nothing to fit where the observable is exactly 0 (movement at t = 0, a cone
        // share no particle reaches).
        if samples.iter().flatten().all(|v| *v == 0.0) {
            continue;
        }
        let mut fit_one = |samples: &[Vec<f64>], statistic: Statistic, name: &str| {
            let mut record = fit_record(
                observable,
                name,
                time,
                &ms,
                samples,
                statistic,
                &context.settings,
            );
            if bias_samples.is_some() && name == "bias" {
                record.estimator = Some(CONTROL_VARIATE.into());
            }
            let series = scaling_series(&ms, samples, statistic, &record, time);
            fits.records.push(record);
            series
        };
        if reference.is_some() {
            let bias = bias_samples.as_deref().unwrap_or(&samples);
            let series = fit_one(bias, Statistic::AbsMean, "bias");
            fits.bias.push(series);
        }
        let series = fit_one(&samples, Statistic::StdDev, "fluctuation");
        fits.fluctuation.push(series);
        // How far particles move scales like m^(alpha - 1) (docs/math.md section 2): fit the
        // seed mean of the movement itself (the lazy-against-mean-field exponent).
        if observable.starts_with("movement") && step > 0 {
            let raw: Vec<Vec<f64>> = widths
                .iter()
                .map(|&m| context.values(observable, m, step))
                .collect();
            let record = fit_record(
                observable,
                "mean",
                time,
                &ms,
                &raw,
                Statistic::Mean,
                &context.settings,
            );
            fits.movement
                .push(scaling_series(&ms, &raw, Statistic::Mean, &record, time));
            fits.records.push(record);
        }
    }
    fits
}

/// Draws the scaling figure `stem` (under `out`) of `series`; its path if it was drawn.
fn scaling_figure(
    context: &PointContext<'_, '_>,
    what: &str,
    y_label: &str,
    series: Vec<ScalingSeries>,
    stem: &str,
    out: &Path,
) -> Option<String> {
    draw_scaling(&context.name, what, y_label, series, &out.join(stem))
        .then(|| format!("{stem}.png"))
}

/// The figures of `observable` (paths relative to `out`): the movement scaling of
/// `movement_mean`; the bias, fluctuation and by-width figures of the risk.
fn observable_figures(
    context: &PointContext<'_, '_>,
    observable: &str,
    reference: &ReferenceValues,
    fits: ObservableFits,
    suffix: &str,
    out: &Path,
) -> Vec<String> {
    let mut figures = Vec::new();
    if observable == "movement_mean" {
        figures.extend(scaling_figure(
            context,
            "mean movement of a particle",
            "mean_j |theta_j(t) - theta_j(0)|",
            fits.movement,
            &format!("plots/movement_scaling{suffix}"),
            out,
        ));
    }
    if observable == "risk" {
        figures.extend(risk_scaling_figures(
            context,
            reference.is_some(),
            fits.bias,
            fits.fluctuation,
            suffix,
            out,
        ));
        // With one width and several points the overlay (vary_risk) says it all.
        if context.plan.widths.len() >= 2 || suffix.is_empty() {
            figures.extend(risk_by_width_figure(context, reference, suffix, out));
        }
    }
    figures
}

/// The bias (with a reference) and fluctuation figures of the risk.
fn risk_scaling_figures(
    context: &PointContext<'_, '_>,
    has_reference: bool,
    bias: Vec<ScalingSeries>,
    fluctuation: Vec<ScalingSeries>,
    suffix: &str,
    out: &Path,
) -> Vec<String> {
    let label = |what: &str| match context.plan.reference {
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
    let mut figures = Vec::new();
    if has_reference {
        figures.extend(scaling_figure(
            context,
            &label("bias"),
            "|E R_m(t) - R_ref(t)|",
            bias,
            &format!("plots/risk_bias{suffix}"),
            out,
        ));
    }
    figures.extend(scaling_figure(
        context,
        &label("seed-to-seed fluctuation"),
        if has_reference {
            "sd over seeds of R_m(t) - R_ref(t)"
        } else {
            "sd over seeds of R_m(t)"
        },
        fluctuation,
        &format!("plots/risk_fluctuation{suffix}"),
        out,
    ));
    figures
}

/// The risk at each width against time (mean +- 2 SE over seeds), with the reference.
fn risk_by_width_figure(
    context: &PointContext<'_, '_>,
    reference: &ReferenceValues,
    suffix: &str,
    out: &Path,
) -> Option<String> {
    let (steps, times) = (&context.steps, &context.times);
    let stem = format!("plots/risk_by_width{suffix}");
    let reference_curve = reference.as_ref().map(|r| Curve {
        label: reference_label(&context.plan.reference),
        x: times.clone(),
        y: steps.iter().map(|s| Summary::of(&r[s]).mean).collect(),
    });
    let curves = context
        .plan
        .widths
        .iter()
        .map(|&m| {
            let (mean, half): (Vec<f64>, Vec<f64>) = steps
                .iter()
                .map(|&s| {
                    let summary = Summary::of(&context.values("risk", m, s));
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
        title: format!("{}: risk at each width (mean +- 2 SE)", context.name),
        x_label: "time t".into(),
        y_label: "risk R".into(),
        x_scale: Scale::Log,
        y_scale: Scale::Log,
        curves,
        reference: reference_curve,
    };
    render_width_curves(&figure, &out.join(&stem))
        .is_ok()
        .then(|| format!("{stem}.png"))
}

/// The exponent fits of the coupled distance and the series of its figure.
struct CoupledFits {
    records: Vec<FitRecord>,
    series: Vec<ScalingSeries>,
}

/// Fits the seed mean of the coupled distance against m at the snapshot steps nearest to the
/// fit times (each snapshot step once, none at step 0).
fn coupled_fits(context: &PointContext<'_, '_>, coupled: &[CoupledAt]) -> CoupledFits {
    let mut fits = CoupledFits {
        records: Vec::new(),
        series: Vec::new(),
    };
    let mut fitted_steps: Vec<u64> = Vec::new();
    for &wanted in context.fitted_steps() {
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
        let time = at.step as f64 * context.dt;
        let record = fit_record(
            "coupled_distance",
            "mean",
            time,
            &ms,
            &samples,
            Statistic::Mean,
            &context.settings,
        );
        fits.series.push(scaling_series(
            &ms,
            &samples,
            Statistic::Mean,
            &record,
            time,
        ));
        fits.records.push(record);
    }
    fits
}

/// The seed statistics of the coupled distance at every width and snapshot step.
fn coupled_records(coupled: &[CoupledAt], dt: f64) -> Vec<CoupledRecord> {
    coupled
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
        .collect()
}

/// Analyses one point: appends its rows to `csv` (sweep_stats.csv), draws its figures into
/// `out/plots` (file names end in `suffix`) and returns its record, chaining the stages of the
/// module documentation.
pub(super) fn analyse_point(
    plan: &Plan,
    point: &PointRuns<'_>,
    suffix: &str,
    out: &Path,
    csv: &mut String,
) -> Result<PointRecord> {
    let context = PointContext::of(plan, point)?;
    let limits = point_limits(&context, out)?;
    let mut fits = Vec::new();
    let mut richardson_limits = Vec::new();
    let mut figures = Vec::new();
    for &observable in &context.observables {
        let reference = observable_reference(&context, &limits, observable);
        richardson_limits.extend(reference.limits);
        let control = risk_control(&context, &limits, observable, &reference.values);
        statistics_rows(
            &context,
            observable,
            &reference.values,
            control.as_ref(),
            csv,
        );
        let mut fitted = exponent_fits(&context, observable, &reference.values, control.as_ref());
        fits.append(&mut fitted.records);
        figures.extend(observable_figures(
            &context,
            observable,
            &reference.values,
            fitted,
            suffix,
            out,
        ));
    }
    let coupled = coupled_distances(
        plan,
        point,
        &context.snapshot_steps,
        limits.linear.as_ref().map(|l| l.propagators.as_slice()),
    )?;
    let coupled_fit = coupled_fits(&context, &coupled);
    fits.extend(coupled_fit.records);
    if !coupled_fit.series.is_empty() {
        figures.extend(scaling_figure(
            &context,
            "coupled distance to the reference particles",
            "RMS |theta_j^m - theta_j^ref|",
            coupled_fit.series,
            &format!("plots/coupled_distance{suffix}"),
            out,
        ));
    }
    Ok(PointRecord {
        point: plan
            .keys
            .iter()
            .cloned()
            .zip(point.point.iter().cloned())
            .collect(),
        fits,
        limits: richardson_limits,
        limit: limits.limit.map(|l| l.record),
        coupled_distance: coupled_records(&coupled, context.dt),
        figures,
    })
}

/// Per-seed deviations sample - reference.
fn deviation_at(sample: &[f64], reference: &[f64]) -> Vec<f64> {
    sample.iter().zip(reference).map(|(x, r)| x - r).collect()
}
