//! The exponent fits of one point (docs/math.md sections 5 and 6): per observable, power laws
//! in m of the bias, the fluctuation and the movement at the fit times; and of the coupled
//! distance at the snapshot steps nearest them; each with its paired bootstrap interval
//! (`sweep::fits`) and the series of its scaling figure.

use crate::diagnostics::stats::{Statistic, Summary};
use crate::plot::sweep::ScalingSeries;
use crate::sweep::analysis::context::{PointContext, ReferenceValues};
use crate::sweep::analysis::records::{CoupledRecord, FitRecord};
use crate::sweep::analysis::reference::deviation_at;
use crate::sweep::fits::{fit_record, scaling_series};
use crate::sweep::limit_reference::{CONTROL_VARIATE, Control};
use crate::sweep::partners::CoupledAt;

/// The exponent fits of one observable at the fit steps, in order of step (at each: bias,
/// fluctuation, movement mean), and the series of its scaling figures.
#[derive(Default)]
pub(super) struct ObservableFits {
    pub(super) records: Vec<FitRecord>,
    /// One series per fitted step of the bias figure.
    pub(super) bias: Vec<ScalingSeries>,
    /// Of the fluctuation figure.
    pub(super) fluctuation: Vec<ScalingSeries>,
    /// Of the movement figure (the seed mean of a movement).
    pub(super) movement: Vec<ScalingSeries>,
}

/// The [`ObservableFits`] of `observable`: power laws in m of the bias (|mean deviation|, by
/// the control variate at t > 0 where there is one) and of the fluctuation (sd of the
/// deviations), and of the seed mean of a movement.
pub(super) fn exponent_fits<F: Fn(usize, u64) -> Vec<f64>>(
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

/// The exponent fits of the coupled distance and the series of its figure.
pub(super) struct CoupledFits {
    pub(super) records: Vec<FitRecord>,
    pub(super) series: Vec<ScalingSeries>,
}

/// Fits the seed mean of the coupled distance against m at the snapshot steps nearest to the
/// fit times (each snapshot step once, none at step 0).
pub(super) fn coupled_fits(context: &PointContext<'_, '_>, coupled: &[CoupledAt]) -> CoupledFits {
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
        // Aligned by seed (NaN where a seed has no distance) for the paired fit; the figure's
        // points are the statistics of the distances there are.
        let samples: Vec<Vec<f64>> = at.by_width.iter().map(|(_, s)| s.clone()).collect();
        let present: Vec<Vec<f64>> = samples.iter().map(|s| present_values(s)).collect();
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
            &present,
            Statistic::Mean,
            &record,
            time,
        ));
        fits.records.push(record);
    }
    fits
}

/// The seed statistics of the coupled distance at every width and snapshot step.
pub(super) fn coupled_records(coupled: &[CoupledAt], dt: f64) -> Vec<CoupledRecord> {
    coupled
        .iter()
        .flat_map(|at| {
            at.by_width.iter().map(|(m, sample)| {
                let summary = Summary::of(&present_values(sample));
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

/// The distances of a seed-aligned sample that exist (the NaN placeholders of seeds without a
/// run, snapshot or partner left out), in seed order.
fn present_values(sample: &[f64]) -> Vec<f64> {
    sample.iter().copied().filter(|v| !v.is_nan()).collect()
}
