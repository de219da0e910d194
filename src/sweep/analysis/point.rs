//! The analysis of one point of a sweep (docs/math.md sections 5 to 7), as stages that
//! [`analyse_point`] chains, each returning a typed record (the stages live beside this file):
//!
//! 1. `context::PointContext`: the point's logged steps, fit steps, observables and bootstrap
//!    settings;
//! 2. `reference::PointLimits`: the limits solved once per point (the linear ODE, the exact
//!    limit);
//! 3. `reference::ObservableReference`: per observable, the reference value per seed at each
//!    step (and the Richardson extrapolations), with the control variate of the risk;
//! 4. the statistics rows of `sweep_stats.csv` (here): seed mean, sd and se of the observable
//!    and of its deviations from the reference;
//! 5. `exponents::ObservableFits`: the exponents of the bias, the fluctuation and the movement
//!    at the fit times, with bootstrap intervals, and the series of their figures;
//! 6. `figures`: the figures of the observable;
//! 7. `exponents::CoupledFits`: the coupled distance at the snapshot steps and its exponents.

use std::path::Path;

use crate::diagnostics::stats::Summary;
use crate::error::Result;
use crate::output::{format_float, quote_csv_field};
use crate::sweep::analysis::context::{PointContext, ReferenceValues};
use crate::sweep::analysis::exponents::{coupled_fits, coupled_records, exponent_fits};
use crate::sweep::analysis::figures::{observable_figures, scaling_figure};
use crate::sweep::analysis::records::PointRecord;
use crate::sweep::analysis::reference::{observable_reference, point_limits, risk_control};
use crate::sweep::analysis::tracks::PointRuns;
use crate::sweep::limit_reference::Control;
use crate::sweep::partners::coupled_distances;
use crate::sweep::plan::Plan;

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
