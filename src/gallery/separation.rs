//! Gallery entry `separation`: scale separation of the two layers (E, Ma and Wu 2019). In the
//! conventional scaling alpha = 1/2 (docs/math.md section 1) with the second layer started small,
//! a_j(0) ~ N(0, 1/m), the output weights move by O(1) relative to their initial size while
//! the first layer moves by O(1/m) relative to its own, so that as m grows the network follows
//! the random-features model (`a_only`, docs/math.md section 2) uniformly in time.
//!
//! Per layer, the relative movement is |A(T) - A(0)| / |A(0)| for the output weights (the
//! column a of particles_init.npy and particles_final.npy, Euclidean norms over the m
//! particles) and |W(T) - W(0)|_F / |W(0)|_F for the first layer (the columns w, Frobenius
//! norms). The distance to random features is sup_t |R(t) - R_RF(t)| over the logged times,
//! R_RF the risk of the `a_only` run from the same initial particles.

use std::path::Path;

use nalgebra::DMatrix;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::diagnostics::stats::{Summary, fit_power_law};
use crate::error::Result;
use crate::gallery::numbers::{listing, rounded, rounded_all};
use crate::gallery::{Check, Context, Entry, Outcome};
use crate::plot::Curve;
use crate::plot::Scale;
use crate::plot::sweep::{
    BandCurve, PowerFit, ReferenceSlope, ScalingFigure, ScalingSeries, WidthCurves, render_points,
    render_width_curves,
};

/// The sizes of one gallery invocation (`[separation.quick]` or `[separation.full]` of the
/// sizes file).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sizes {
    /// Widths m.
    widths: Vec<usize>,
    /// Seeds per width (the student's draws; one teacher).
    seeds: u64,
    /// Final time.
    t_end: f64,
}

/// What the entry measures at one width, one value per seed.
struct Width {
    m: usize,
    /// |W(T) - W(0)|_F / |W(0)|_F.
    first_layer: Vec<f64>,
    /// |A(T) - A(0)| / |A(0)|.
    second_layer: Vec<f64>,
    /// sup_t |R(t) - R_RF(t)|.
    gap: Vec<f64>,
    /// Logged times.
    time: Vec<f64>,
    /// Risk of the network (both layers trained) at each logged time, one curve per seed.
    risk: Vec<Vec<f64>>,
    /// Risk of the random-features model (a_only), one curve per seed.
    random_features: Vec<Vec<f64>>,
}

/// Runs the entry: scale separation of the two layers.
// Over 100 lines: most of it is the text of the three checks and the list of numbers, each
// read once, top to bottom.
pub(super) fn run(ctx: &Context<'_>, entry: &Entry) -> Result<Outcome> {
    let sizes: Sizes = ctx.sizes(entry.name)?;
    let work = ctx.work_dir(entry.name);
    let widths: Vec<Width> = sizes
        .widths
        .iter()
        .map(|&m| measure(ctx, entry.scenario, &sizes, m, &work))
        .collect::<Result<_>>()?;

    let ms: Vec<f64> = widths.iter().map(|w| w.m as f64).collect();
    let mean = |pick: &dyn Fn(&Width) -> &Vec<f64>| -> Vec<f64> {
        widths.iter().map(|w| Summary::of(pick(w)).mean).collect()
    };
    let first = mean(&|w| &w.first_layer);
    let second = mean(&|w| &w.second_layer);
    let gap = mean(&|w| &w.gap);
    let slope = |values: &[f64]| fit_power_law(&ms, values).map(|fit| fit.slope).ok();
    let (first_slope, second_slope, gap_slope) = (slope(&first), slope(&second), slope(&gap));

    let figures = draw(ctx.out(), &sizes, &widths)?;

    // Each width's worst seed against the next smaller width's best seed: no luck of a draw.
    let falls = |pick: &dyn Fn(&Width) -> &Vec<f64>| {
        widths
            .windows(2)
            .all(|pair| max(pick(&pair[1])) < min(pick(&pair[0])))
    };
    let second_ratio =
        second.last().copied().unwrap_or(f64::NAN) / second.first().copied().unwrap_or(f64::NAN);
    let checks = vec![
        Check::new(
            "the first layer's relative movement |W(T) - W(0)| / |W(0)| decreases with m \
             (at each width, every seed below every seed of the next smaller width)",
            falls(&|w| &w.first_layer),
            format!(
                "m = {:?}: {} (seed means); fitted exponent {}",
                sizes.widths,
                listing(&first),
                show(first_slope)
            ),
        ),
        Check::new(
            "the second layer's relative movement |A(T) - A(0)| / |A(0)| does not shrink: \
             at the largest m it is at least half of that at the smallest",
            second_ratio >= 0.5,
            format!(
                "m = {:?}: {} (seed means); ratio {second_ratio:.3}; fitted exponent {}",
                sizes.widths,
                listing(&second),
                show(second_slope)
            ),
        ),
        Check::new(
            "the risk curve approaches random features: sup_t |R(t) - R_RF(t)| decreases \
             with m (every seed below every seed of the next smaller width)",
            falls(&|w| &w.gap),
            format!(
                "m = {:?}: {} (seed means); fitted exponent {}",
                sizes.widths,
                listing(&gap),
                show(gap_slope)
            ),
        ),
    ];

    let final_risk = |curves: &dyn Fn(&Width) -> &Vec<Vec<f64>>| -> Vec<f64> {
        widths
            .iter()
            .map(|w| {
                let last: Vec<f64> = curves(w).iter().filter_map(|c| c.last().copied()).collect();
                Summary::of(&last).mean
            })
            .collect()
    };
    let exponent = |slope: Option<f64>| json!(rounded(slope.unwrap_or(f64::NAN), 4));
    let numbers: Map<String, Value> = [
        ("m", json!(sizes.widths)),
        ("seeds", json!(sizes.seeds)),
        ("t_end", json!(sizes.t_end)),
        (
            "first_layer_relative_movement",
            json!(rounded_all(&first, 4)),
        ),
        (
            "second_layer_relative_movement",
            json!(rounded_all(&second, 4)),
        ),
        ("first_layer_exponent", exponent(first_slope)),
        ("second_layer_exponent", exponent(second_slope)),
        ("risk_gap_to_random_features", json!(rounded_all(&gap, 4))),
        ("risk_gap_exponent", exponent(gap_slope)),
        (
            "final_risk",
            json!(rounded_all(&final_risk(&|w| &w.risk), 4)),
        ),
        (
            "final_risk_random_features",
            json!(rounded_all(&final_risk(&|w| &w.random_features), 4)),
        ),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    Ok(Outcome {
        figures,
        numbers,
        checks,
    })
}

/// Runs (or reuses) both trainings of every seed at width m and measures them.
fn measure(ctx: &Context<'_>, file: &str, sizes: &Sizes, m: usize, work: &Path) -> Result<Width> {
    let mut width = Width {
        m,
        first_layer: Vec::new(),
        second_layer: Vec::new(),
        gap: Vec::new(),
        time: Vec::new(),
        risk: Vec::new(),
        random_features: Vec::new(),
    };
    for seed in 1..=sizes.seeds {
        let run = |train: &str| {
            let overrides = vec![
                format!("seed={seed}"),
                format!("model.m={m}"),
                format!("init.a.std={:?}", 1.0 / (m as f64).sqrt()),
                format!("dynamics.train=\"{train}\""),
                format!("dynamics.t_end={:?}", sizes.t_end),
            ];
            let scenario = ctx.scenario(file, &overrides)?;
            ctx.run(&scenario, &work.join(format!("m{m}_{train}_seed{seed}")))
        };
        let both = run("both")?;
        let random = run("a_only")?;
        let (first, second) = relative_movements(&both.initial, &both.last);
        width.first_layer.push(first);
        width.second_layer.push(second);
        let risk = both.series_column("risk")?;
        let random_risk = random.series_column("risk")?;
        let gap = risk
            .iter()
            .zip(&random_risk)
            .map(|(r, f)| (r - f).abs())
            .fold(0.0, f64::max);
        width.gap.push(gap);
        width.time = both.series_column("time")?;
        width.risk.push(risk);
        width.random_features.push(random_risk);
    }
    Ok(width)
}

/// (|W(T) - W(0)|_F / |W(0)|_F, |A(T) - A(0)| / |A(0)|) between the particle matrices
/// `initial` and `last` (columns a, w_1..w_d).
fn relative_movements(initial: &DMatrix<f64>, last: &DMatrix<f64>) -> (f64, f64) {
    let d = initial.ncols() - 1;
    let change = last - initial;
    let first = change.columns(1, d).norm() / initial.columns(1, d).norm();
    let second = change.column(0).norm() / initial.column(0).norm();
    (first, second)
}

/// The figures: relative movement of each layer against m, and the risk curves per width next
/// to the random-features model.
fn draw(out: &Path, sizes: &Sizes, widths: &[Width]) -> Result<Vec<String>> {
    draw_movement(out, sizes, widths)?;
    draw_risks(out, sizes, widths)?;
    Ok(["separation_movement", "separation_risk", "separation_gap"]
        .iter()
        .flat_map(|stem| [format!("{stem}.png"), format!("{stem}.svg")])
        .collect())
}

/// The mean over seeds of `curves` (one per seed) at each of the `time`s, and twice its
/// standard error.
fn band(curves: &[Vec<f64>], time: &[f64]) -> (Vec<f64>, Vec<f64>) {
    (0..time.len())
        .map(|row| {
            let values: Vec<f64> = curves.iter().map(|c| c[row]).collect();
            let summary = Summary::of(&values);
            (summary.mean, 2.0 * summary.se)
        })
        .unzip()
}

/// `separation_movement`: the relative movement of each layer by the final time against m,
/// with fitted power laws and the guide m^-1.
fn draw_movement(out: &Path, sizes: &Sizes, widths: &[Width]) -> Result<()> {
    let ms: Vec<f64> = widths.iter().map(|w| w.m as f64).collect();
    let series = |label: &str, pick: &dyn Fn(&Width) -> &Vec<f64>| {
        let value: Vec<f64> = widths.iter().map(|w| Summary::of(pick(w)).mean).collect();
        let fit = fit_power_law(&ms, &value).ok().map(|fit| PowerFit {
            slope: fit.slope,
            intercept_log: fit.intercept,
            lo: f64::NAN,
            hi: f64::NAN,
        });
        ScalingSeries {
            label: label.into(),
            m: ms.clone(),
            value,
            lo: widths.iter().map(|w| min(pick(w))).collect(),
            hi: widths.iter().map(|w| max(pick(w))).collect(),
            fit,
        }
    };
    let movement = ScalingFigure {
        title: format!(
            "Movement by t = {} against the width (alpha = 1/2)",
            sizes.t_end
        ),
        x_label: "width m".into(),
        y_label: "relative movement".into(),
        series: vec![
            series("first layer |dW| / |W(0)|", &|w| &w.first_layer),
            series("second layer |dA| / |A(0)|", &|w| &w.second_layer),
        ],
    };
    let slopes = [ReferenceSlope {
        slope: -1.0,
        label: "m^-1".into(),
    }];
    render_points(&movement, &slopes, &out.join("separation_movement"))
}

/// `separation_risk` (the risk per width beside the random-features model of the widest) and
/// `separation_gap` (the distance between the two per width), against time.
fn draw_risks(out: &Path, sizes: &Sizes, widths: &[Width]) -> Result<()> {
    let curves = widths
        .iter()
        .map(|w| {
            let (mean, half_width) = band(&w.risk, &w.time);
            BandCurve {
                label: format!("m = {}", w.m),
                x: w.time.clone(),
                mean,
                half_width,
                m: w.m as f64,
            }
        })
        .collect();
    let reference = widths.last().map(|w| Curve {
        label: format!("random features, m = {}", w.m),
        x: w.time.clone(),
        y: band(&w.random_features, &w.time).0,
    });
    render_width_curves(
        &WidthCurves {
            title: format!(
                "Risk against time (alpha = 1/2, mean of {} seeds)",
                sizes.seeds
            ),
            x_label: "time t".into(),
            y_label: "population risk".into(),
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            curves,
            reference,
        },
        &out.join("separation_risk"),
    )?;
    let gaps = widths
        .iter()
        .map(|w| {
            let differences: Vec<Vec<f64>> = w
                .risk
                .iter()
                .zip(&w.random_features)
                .map(|(risk, random)| {
                    risk.iter()
                        .zip(random)
                        .map(|(r, f)| (r - f).abs())
                        .collect()
                })
                .collect();
            let (mean, half_width) = band(&differences, &w.time);
            BandCurve {
                label: format!("m = {}", w.m),
                x: w.time.clone(),
                mean,
                half_width,
                m: w.m as f64,
            }
        })
        .collect();
    render_width_curves(
        &WidthCurves {
            title: "Distance to random features (alpha = 1/2)".into(),
            x_label: "time t".into(),
            y_label: "|R(t) - R_RF(t)|".into(),
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            curves: gaps,
            reference: None,
        },
        &out.join("separation_gap"),
    )
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

fn show(value: Option<f64>) -> String {
    value.map_or_else(|| "none".into(), |v| format!("{v:.3}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn the_shipped_sizes_read_and_quick_is_smaller() {
        let quick: Sizes = crate::gallery::context::shipped_sizes("separation", true).unwrap();
        let full: Sizes = crate::gallery::context::shipped_sizes("separation", false).unwrap();
        assert!(quick.widths.len() >= 2 && quick.widths.len() <= full.widths.len());
        assert!(quick.seeds <= full.seeds && quick.t_end <= full.t_end);
    }

    #[test]
    fn relative_movements_are_per_layer_norm_ratios() {
        // A(0) = (3, 4), W(0) = ((1, 0), (0, 1)); a moves by (0, 5), w by (1, 1) in row one.
        let initial = DMatrix::from_row_slice(2, 3, &[3.0, 1.0, 0.0, 4.0, 0.0, 1.0]);
        let last = DMatrix::from_row_slice(2, 3, &[3.0, 2.0, 1.0, 9.0, 0.0, 1.0]);
        let (first, second) = relative_movements(&initial, &last);
        assert!((first - 1.0).abs() < 1e-15, "{first}"); // sqrt(2) / sqrt(2)
        assert!((second - 1.0).abs() < 1e-15, "{second}"); // 5 / 5
    }
}
