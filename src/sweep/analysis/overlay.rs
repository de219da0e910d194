//! The overlays of a `vary` sweep: one curve per point of an observable's seed mean against
//! time, with a band of +- 1 standard error over seeds, at the largest width; each figure's
//! data beside it as CSV.

use std::path::Path;

use crate::diagnostics::stats::Summary;
use crate::error::Result;
use crate::output::{format_float, quote_csv_field, write_atomic};
use crate::plot::Scale;
use crate::plot::sweep::{BandCurve, WidthCurves, render_width_curves};
use crate::sweep::analysis::tracks::{OVERLAID, PointRuns, Track};
use crate::sweep::plan::Plan;

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
pub(super) fn overlay_curves(
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
pub(super) fn overlay_csv(plan: &Plan, m: usize, curves: &[OverlayCurve]) -> String {
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
pub(super) fn draw_overlays(
    plan: &Plan,
    points: &[PointRuns<'_>],
    out: &Path,
) -> Result<Vec<String>> {
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
