//! The figures of one point of a sweep, from its fits and runs: the scaling figures (bias,
//! fluctuation, movement, coupled distance against m) and the risk at each width against time
//! with the reference. Paths are relative to the sweep directory.

use std::path::Path;

use crate::diagnostics::stats::Summary;
use crate::plot::sweep::{BandCurve, ScalingSeries, WidthCurves, render_width_curves};
use crate::plot::{Curve, Scale};
use crate::sweep::analysis::context::{PointContext, ReferenceValues};
use crate::sweep::analysis::exponents::ObservableFits;
use crate::sweep::analysis::summary::reference_label;
use crate::sweep::fits::draw_scaling;
use crate::sweep::plan::Reference;

/// Draws the scaling figure `stem` (under `out`) of `series`; its path if it was drawn.
pub(super) fn scaling_figure(
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
pub(super) fn observable_figures(
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
