//! Gallery entry `features`: random features against a trained first layer. A relu student of
//! width m learns a single relu neuron f*(x) = relu(w* . x) from the exact population risk
//! (docs/math.md section 3), either with both layers trained (`both`) or with the first layer frozen
//! at its random draw (`a_only`: the random-features model, docs/math.md section 2), at input
//! dimensions d = 4 to 64 and a fixed m. Random features need ever more neurons as d grows
//! (Yehudai and Shamir 2019; Ghorbani, Mei, Misiakiewicz and Montanari 2021), the trained first
//! layer does not.
//!
//! Besides the risk reached at the end of each `a_only` run, the entry computes the least risk
//! any output weights reach on the frozen features (the random-features floor, the t -> infinity
//! limit of `a_only`): with G_jl = K(w_j, w_l), V_j = E[f* sigma(w_j . x)] and b = m^(-alpha) a,
//! R = 1/2 [ E f*^2 + s^2 - 2 b.V + b^T G b ] is least at 1/2 [ E f*^2 + s^2 - V^T G^+ V ].
//!
//! Checks: at every d the trained network's risk at the final time is below the random
//! features' risk at the same time; from d = 8 on it is also below the random-features floor (at
//! d = 4, 512 random features approximate the neuron to about 1e-4, as well as the trained
//! network does by t = 100: random features are competitive in low dimension); and the floor
//! grows with d. Each comparison is between the worst seed of one side and the best of the other.

use std::ops::Range;
use std::path::Path;

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::diagnostics::stats::Summary;
use crate::error::{Error, Result};
use crate::gallery::context::RunOutput;
use crate::gallery::numbers::rounded_all;
use crate::gallery::{Check, Context, Entry, Outcome};
use crate::math::PairKernel;
use crate::plot::canvas::{DrawResult, render_png_and_svg};
use crate::plot::chart::{
    Extent, Frame, LEGEND_SAMPLE, LINE_WIDTH, SAMPLE_LEGEND, ScaledChart, drawable, legend_entry,
};
use crate::plot::figure::PALETTE;
use crate::plot::sweep::{ReferenceSlope, ScalingFigure, ScalingSeries};
use crate::plot::{Curve, LineFigure, Scale, render_lines};
use crate::scenario::Scenario;

/// The sizes of one gallery invocation (`[features.quick]` or `[features.full]` of the sizes
/// file).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sizes {
    /// Input dimensions.
    dims: Vec<usize>,
    /// Width m (the same at every d).
    m: usize,
    /// Seeds per (d, training): the student's draws; the teacher is fixed (`target.seed`).
    seeds: u64,
    /// Final time.
    t_end: f64,
}

/// The least d at which the trained network is checked against the random-features floor.
const FLOOR_FROM_D: usize = 8;

/// The two trainings compared.
const TRAININGS: [&str; 2] = ["both", "a_only"];

/// The runs of one (d, training): one per seed.
struct Runs {
    /// The final risk of each seed.
    final_risk: Vec<f64>,
    /// Logged times (the same for every seed).
    time: Vec<f64>,
    /// The risk at each logged time, averaged over seeds.
    mean_risk: Vec<f64>,
    /// The random-features floor of each seed's frozen first layer.
    floor: Vec<f64>,
}

/// Runs the entry: random features against a trained first layer.
pub(super) fn run(ctx: &Context<'_>, entry: &Entry) -> Result<Outcome> {
    let sizes: Sizes = ctx.sizes(entry.name)?;
    let work = ctx.work_dir(entry.name);
    // results[i][t]: dimension sizes.dims[i], training TRAININGS[t].
    let mut results: Vec<[Runs; 2]> = Vec::new();
    for &d in &sizes.dims {
        let both = collect(ctx, entry.scenario, &sizes, d, TRAININGS[0], &work)?;
        let random = collect(ctx, entry.scenario, &sizes, d, TRAININGS[1], &work)?;
        results.push([both, random]);
    }

    let figures = draw(ctx.out(), &sizes, &results)?;
    Ok(Outcome {
        figures,
        numbers: numbers_of(&sizes, &results),
        checks: checks_of(&sizes, &results),
    })
}

/// The seed mean of `pick` at each d, for training `t` (0: both, 1: a_only).
fn mean_of(results: &[[Runs; 2]], t: usize, pick: &dyn Fn(&Runs) -> &Vec<f64>) -> Vec<f64> {
    results
        .iter()
        .map(|r| Summary::of(pick(&r[t])).mean)
        .collect()
}

/// The checked facts (module documentation), on `results[i][t]`: dimension `sizes.dims[i]`,
/// training `TRAININGS[t]`.
fn checks_of(sizes: &Sizes, results: &[[Runs; 2]]) -> Vec<Check> {
    let trained_worst: Vec<f64> = results.iter().map(|r| max(&r[0].final_risk)).collect();
    let random_best: Vec<f64> = results.iter().map(|r| min(&r[1].final_risk)).collect();
    let floor_best: Vec<f64> = results.iter().map(|r| min(&r[1].floor)).collect();
    let below_at_t = trained_worst
        .iter()
        .zip(&random_best)
        .all(|(trained, random)| trained < random);
    // The floor is a property of m random features in dimension d: at d = 4, 512 of them
    // approximate a relu neuron about as well as the trained network does by t = 100, so
    // the comparison with the floor is made from d = 8 on.
    let high_d: Vec<usize> = (0..sizes.dims.len())
        .filter(|&i| sizes.dims[i] >= FLOOR_FROM_D)
        .collect();
    let below_floor = high_d.iter().all(|&i| trained_worst[i] < floor_best[i]);
    let floor_worst: Vec<f64> = results.iter().map(|r| max(&r[1].floor)).collect();
    let floor_grows = (1..sizes.dims.len()).all(|i| floor_best[i] > floor_worst[i - 1]);
    let listing = |values: &[f64]| -> String {
        values
            .iter()
            .map(|v| format!("{v:.3e}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    vec![
        Check::new(
            format!(
                "at every d, the trained first layer's risk at t = {} is below the random \
                 features' risk at the same time (worst seed against best seed)",
                sizes.t_end
            ),
            below_at_t,
            format!(
                "d = {:?}: trained (worst of {} seeds) {}; random features (best) {}",
                sizes.dims,
                sizes.seeds,
                listing(&trained_worst),
                listing(&random_best)
            ),
        ),
        Check::new(
            format!(
                "at every d >= {FLOOR_FROM_D}, the trained first layer's risk at t = {} is \
                 below the random-features floor (the least risk of any output weights on \
                 the frozen first layer, the t -> infinity limit of random features)",
                sizes.t_end
            ),
            below_floor,
            format!(
                "d = {:?}: trained (worst seed) {}; floor (best seed) {}",
                sizes.dims,
                listing(&trained_worst),
                listing(&floor_best)
            ),
        ),
        Check::new(
            "the random-features floor grows with d (curse of dimensionality): at each d, \
             every seed's floor is above every seed's floor at the next smaller d",
            floor_grows,
            format!(
                "d = {:?}: floor, best seed {}; worst seed {}",
                sizes.dims,
                listing(&floor_best),
                listing(&floor_worst)
            ),
        ),
    ]
}

/// The numbers of gallery.json.
fn numbers_of(sizes: &Sizes, results: &[[Runs; 2]]) -> Map<String, Value> {
    let trained = mean_of(results, 0, &|r| &r.final_risk);
    let random = mean_of(results, 1, &|r| &r.final_risk);
    let floor = mean_of(results, 1, &|r| &r.floor);
    let mut numbers = Map::new();
    numbers.insert("m".into(), json!(sizes.m));
    numbers.insert("seeds".into(), json!(sizes.seeds));
    numbers.insert("t_end".into(), json!(sizes.t_end));
    numbers.insert("d".into(), json!(sizes.dims));
    numbers.insert("risk_trained".into(), json!(rounded_all(&trained, 5)));
    numbers.insert(
        "risk_random_features".into(),
        json!(rounded_all(&random, 5)),
    );
    numbers.insert(
        "random_features_floor".into(),
        json!(rounded_all(&floor, 5)),
    );
    let ratio: Vec<f64> = random.iter().zip(&trained).map(|(r, t)| r / t).collect();
    numbers.insert(
        "ratio_random_to_trained".into(),
        json!(rounded_all(&ratio, 5)),
    );
    let initial: Vec<f64> = results
        .iter()
        .map(|r| r[0].mean_risk.first().copied().unwrap_or(f64::NAN))
        .collect();
    numbers.insert("initial_risk".into(), json!(rounded_all(&initial, 5)));
    numbers
}

/// Runs (or reuses) the seeds of one (d, training) and reads back what the entry needs.
fn collect(
    ctx: &Context<'_>,
    file: &str,
    sizes: &Sizes,
    d: usize,
    train: &str,
    work: &Path,
) -> Result<Runs> {
    let mut final_risk = Vec::new();
    let mut floor = Vec::new();
    let mut curves: Vec<Vec<f64>> = Vec::new();
    let mut time = Vec::new();
    for seed in 1..=sizes.seeds {
        let overrides = vec![
            format!("seed={seed}"),
            format!("model.d={d}"),
            format!("model.m={}", sizes.m),
            format!("dynamics.train=\"{train}\""),
            format!("dynamics.t_end={:?}", sizes.t_end),
        ];
        let scenario = ctx.scenario(file, &overrides)?;
        let output = ctx.run(&scenario, &work.join(format!("d{d}_{train}_seed{seed}")))?;
        final_risk.push(output.summary.final_risk);
        if train == "a_only" {
            floor.push(random_features_floor(&scenario, &output)?);
        }
        time = output.series_column("time")?;
        curves.push(output.series_column("risk")?);
    }
    let mean_risk = (0..time.len())
        .map(|row| curves.iter().map(|c| c[row]).sum::<f64>() / curves.len() as f64)
        .collect();
    Ok(Runs {
        final_risk,
        time,
        mean_risk,
        floor,
    })
}

/// The random-features floor of the first layer of an `a_only` run (frozen at its draw).
fn random_features_floor(scenario: &Scenario, output: &RunOutput) -> Result<f64> {
    let teacher = output.teacher.as_ref().ok_or_else(|| {
        Error::format(
            output.dir.join("teacher.npy"),
            "the features entry needs the teacher",
        )
    })?;
    Ok(least_risk(
        &PairKernel::new(scenario.network.activation),
        &output.initial,
        teacher,
        scenario.noise_std,
    ))
}

/// The least population risk of any output weights on the first layer of `particles` (columns
/// a, w; only w is used) against the teacher `teacher` (columns a*, w*) with label noise
/// `noise_std`: 1/2 [ E f*^2 + s^2 - V^T G^+ V ] (module documentation). The pseudo-inverse
/// drops the eigenvalues of G below 1e-12 of the largest (directions that round-off cannot
/// resolve), which can only raise the floor, by a negligible amount.
fn least_risk(
    kernel: &PairKernel,
    particles: &DMatrix<f64>,
    teacher: &DMatrix<f64>,
    noise_std: f64,
) -> f64 {
    let row = |matrix: &DMatrix<f64>, j: usize| -> Vec<f64> {
        matrix.row(j).iter().skip(1).copied().collect()
    };
    let students: Vec<Vec<f64>> = (0..particles.nrows()).map(|j| row(particles, j)).collect();
    let teachers: Vec<Vec<f64>> = (0..teacher.nrows()).map(|i| row(teacher, i)).collect();
    let k = teachers.len() as f64;
    let m = students.len();
    let mut target_square = 0.0;
    for (i, u) in teachers.iter().enumerate() {
        for (l, v) in teachers.iter().enumerate() {
            target_square += teacher[(i, 0)] * teacher[(l, 0)] * kernel.kernel(u, v);
        }
    }
    target_square /= k * k;
    let overlap = DVector::from_fn(m, |j, _| {
        teachers
            .iter()
            .enumerate()
            .map(|(i, v)| teacher[(i, 0)] * kernel.kernel(&students[j], v))
            .sum::<f64>()
            / k
    });
    let gram = DMatrix::from_fn(m, m, |j, l| kernel.kernel(&students[j], &students[l]));
    let eigen = SymmetricEigen::new(gram);
    let largest = eigen.eigenvalues.iter().fold(0.0_f64, |a, &b| a.max(b));
    let mut explained = 0.0;
    for (index, &value) in eigen.eigenvalues.iter().enumerate() {
        if value > 1e-12 * largest {
            let projection = eigen.eigenvectors.column(index).dot(&overlap);
            explained += projection * projection / value;
        }
    }
    let noise = noise_std * noise_std;
    (0.5 * (target_square + noise - explained)).max(0.5 * noise)
}

/// The figures: the risk reached against d, and the risk curves at the smallest and largest d.
fn draw(out: &Path, sizes: &Sizes, results: &[[Runs; 2]]) -> Result<Vec<String>> {
    let dims: Vec<f64> = sizes.dims.iter().map(|&d| d as f64).collect();
    let series = |label: String, pick: &dyn Fn(&[Runs; 2]) -> &Vec<f64>| {
        let value = results.iter().map(|r| Summary::of(pick(r)).mean).collect();
        ScalingSeries {
            label,
            m: dims.clone(),
            value,
            lo: results.iter().map(|r| min(pick(r))).collect(),
            hi: results.iter().map(|r| max(pick(r))).collect(),
            fit: None,
        }
    };
    let t_end = sizes.t_end;
    let by_d = ScalingFigure {
        title: format!(
            "Single relu neuron, m = {}: risk reached against d",
            sizes.m
        ),
        x_label: "input dimension d".into(),
        y_label: "population risk".into(),
        series: vec![
            series(format!("random features, t = {t_end}"), &|r| {
                &r[1].final_risk
            }),
            series("random features, best a (t = inf)".into(), &|r| &r[1].floor),
            series(format!("both layers trained, t = {t_end}"), &|r| {
                &r[0].final_risk
            }),
        ],
    };
    render_points(&by_d, &[], &out.join("features_risk_by_d"))?;

    let mut curves = Vec::new();
    let ends = [0, results.len() - 1];
    for &index in &ends {
        let d = sizes.dims[index];
        for (t, label) in [(1, "random features"), (0, "both trained")] {
            let runs = &results[index][t];
            curves.push(Curve {
                label: format!("{label}, d = {d}"),
                x: runs.time.clone(),
                y: runs.mean_risk.clone(),
            });
        }
    }
    render_lines(
        &LineFigure {
            title: format!(
                "Risk against time, m = {} (mean of {} seeds)",
                sizes.m, sizes.seeds
            ),
            x_label: "time t".into(),
            y_label: "population risk".into(),
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            curves,
        },
        &out.join("features_risk_curves"),
    )?;
    Ok(["features_risk_by_d", "features_risk_curves"]
        .iter()
        .flat_map(|stem| [format!("{stem}.png"), format!("{stem}.svg")])
        .collect())
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

// ---------------------------------------------------------------------------------------------
// A scaling figure whose legend hides nothing (the `separation` entry draws one too).

/// Renders `figure` to `<stem>.png` and `<stem>.svg` as
/// [`render_scaling_with_slopes`](crate::plot::sweep::render_scaling_with_slopes) does (log-log
/// axes, one marker shape and colour per series, a bar from `lo` to `hi`, the fitted power law
/// as a line, the reference slopes dashed grey through the first point of the first series),
/// except that a series without a fit has its points joined by a thin line and that the
/// vertical axis reaches far enough above the data for the legend, in the upper right corner,
/// to hide no point, bar or line: with few points, as here, no corner of the data's own range
/// is free.
pub(super) fn render_points(
    figure: &ScalingFigure,
    slopes: &[ReferenceSlope],
    stem: &Path,
) -> Result<()> {
    render_png_and_svg(&PointsChart::new(figure, slopes)?, stem)
}

/// A [`ScalingFigure`] laid out by [`render_points`].
struct PointsChart<'a> {
    figure: &'a ScalingFigure,
    /// Legend texts: the series (with their slopes), then the reference slopes.
    labels: Vec<String>,
    /// The reference slopes' segments inside the chart.
    guides: Vec<[(f64, f64); 2]>,
    x_range: Range<f64>,
    y_range: Range<f64>,
}

/// Colour of the reference slopes.
const GUIDE_GREY: RGBColor = RGBColor(130, 130, 130);

/// Half width of the caps of a bar, in pixels.
const CAP: i32 = 9;

impl<'a> PointsChart<'a> {
    fn new(figure: &'a ScalingFigure, slopes: &[ReferenceSlope]) -> Result<Self> {
        let (mut x_extent, mut y_extent) = (Extent::default(), Extent::default());
        for series in &figure.series {
            for (index, (&x, &value)) in series.m.iter().zip(&series.value).enumerate() {
                if !(drawable(x, Scale::Log) && drawable(value, Scale::Log)) {
                    continue;
                }
                x_extent.include(x);
                y_extent.include(value);
                for end in [series.lo.get(index), series.hi.get(index)] {
                    if let Some(&end) = end.filter(|end| drawable(**end, Scale::Log)) {
                        y_extent.include(end);
                    }
                }
                if let Some(fit) = &series.fit {
                    y_extent.include((fit.intercept_log + fit.slope * x.ln()).exp());
                }
            }
        }
        let (Some(x_range), Some(data_range)) = (
            x_extent.axis_range(Scale::Log),
            y_extent.axis_range(Scale::Log),
        ) else {
            return Err(Error::invalid(
                format!("figure \"{}\": drawable points", figure.title),
                0,
                "at least one point with x > 0 and value > 0",
            ));
        };
        let mut labels: Vec<String> = figure
            .series
            .iter()
            .map(|series| match &series.fit {
                Some(fit) => format!("{}: slope {:.2}", series.label, fit.slope),
                None => series.label.clone(),
            })
            .collect();
        labels.extend(slopes.iter().map(|slope| slope.label.clone()));
        // The legend box's height as a fraction of the plotting area (620 px high, as laid out
        // by the shared chart frame), with its margin: the data keep the rest.
        let legend = SAMPLE_LEGEND.size_for(&labels).1 + 2.0 * f64::from(SAMPLE_LEGEND.margin);
        let kept = (1.0 - legend / 620.0).max(0.3);
        let (low, high) = (data_range.start.ln(), data_range.end.ln());
        let y_range = data_range.start..(low + (high - low) / kept).exp();
        let anchor = figure.series.first().and_then(|series| {
            series
                .m
                .iter()
                .zip(&series.value)
                .find(|(x, v)| drawable(**x, Scale::Log) && drawable(**v, Scale::Log))
                .map(|(&x, &v)| (x, v))
        });
        let guides = anchor.map_or_else(Vec::new, |anchor| {
            slopes
                .iter()
                .filter_map(|slope| clip_power_line(anchor, slope.slope, &x_range, &y_range))
                .collect()
        });
        Ok(Self {
            figure,
            labels,
            guides,
            x_range,
            y_range,
        })
    }
}

/// The part of y = y0 (x / x0)^slope inside the chart, if any.
fn clip_power_line(
    (x0, y0): (f64, f64),
    slope: f64,
    x_range: &Range<f64>,
    y_range: &Range<f64>,
) -> Option<[(f64, f64); 2]> {
    let (mut low, mut high) = (x_range.start.ln(), x_range.end.ln());
    if slope.abs() > 0.0 {
        let a = x0.ln() + (y_range.start.ln() - y0.ln()) / slope;
        let b = x0.ln() + (y_range.end.ln() - y0.ln()) / slope;
        low = low.max(a.min(b));
        high = high.min(a.max(b));
    }
    let at = |x: f64| (x.exp(), (y0.ln() + slope * (x - x0.ln())).exp());
    (low < high).then(|| [at(low), at(high)])
}

/// The marker of series `index` around (0, 0), in pixels: circle, square, triangle, diamond.
fn marker(index: usize) -> Vec<(i32, i32)> {
    let polygon = |corners: u32, radius: f64, turn: f64| -> Vec<(i32, i32)> {
        (0..corners)
            .map(|corner| {
                let angle = turn + std::f64::consts::TAU * f64::from(corner) / f64::from(corners);
                (
                    (radius * angle.cos()).round() as i32,
                    (-radius * angle.sin()).round() as i32,
                )
            })
            .collect()
    };
    let quarter = std::f64::consts::FRAC_PI_2;
    match index % 4 {
        0 => polygon(24, 9.0, 0.0),
        1 => polygon(4, 11.0, quarter / 2.0),
        2 => polygon(3, 12.0, quarter),
        _ => polygon(4, 12.0, 0.0),
    }
}

impl ScaledChart for PointsChart<'_> {
    fn frame(&self) -> Frame<'_> {
        Frame {
            title: &self.figure.title,
            x_label: &self.figure.x_label,
            y_label: &self.figure.y_label,
            x_scale: Scale::Log,
            y_scale: Scale::Log,
        }
    }

    fn ranges(&self) -> (Range<f64>, Range<f64>) {
        (self.x_range.clone(), self.y_range.clone())
    }

    fn draw_data<'b, Backend, X, Y>(
        &self,
        chart: &mut ChartContext<'b, Backend, Cartesian2d<X, Y>>,
    ) -> DrawResult<Backend>
    where
        Backend: DrawingBackend + 'b,
        X: Ranged<ValueType = f64>,
        Y: Ranged<ValueType = f64>,
    {
        for guide in &self.guides {
            chart.draw_series(DashedLineSeries::new(
                guide.iter().copied(),
                20,
                8,
                GUIDE_GREY.stroke_width(3),
            ))?;
        }
        for (index, series) in self.figure.series.iter().enumerate() {
            let colour = PALETTE[index % PALETTE.len()];
            let points: Vec<(f64, f64)> = series
                .m
                .iter()
                .zip(&series.value)
                .filter(|(x, v)| drawable(**x, Scale::Log) && drawable(**v, Scale::Log))
                .map(|(&x, &v)| (x, v))
                .collect();
            let line: Vec<(f64, f64)> = match &series.fit {
                Some(fit) => points
                    .iter()
                    .map(|&(x, _)| (x, (fit.intercept_log + fit.slope * x.ln()).exp()))
                    .collect(),
                None => points.clone(),
            };
            let width = if series.fit.is_some() {
                LINE_WIDTH - 1
            } else {
                2
            };
            chart.draw_series(LineSeries::new(line, colour.stroke_width(width)))?;
            let stroke = colour.stroke_width(3);
            let bars: Vec<(f64, f64, f64)> = series
                .m
                .iter()
                .zip(series.lo.iter().zip(&series.hi))
                .filter(|(x, (lo, hi))| {
                    drawable(**x, Scale::Log)
                        && drawable(**lo, Scale::Log)
                        && drawable(**hi, Scale::Log)
                })
                .map(|(&x, (&lo, &hi))| (x, lo, hi))
                .collect();
            chart.draw_series(
                bars.iter()
                    .map(|&(x, lo, hi)| PathElement::new(vec![(x, lo), (x, hi)], stroke)),
            )?;
            chart.draw_series(bars.iter().flat_map(|&(x, lo, hi)| {
                [lo, hi].map(|end| {
                    EmptyElement::at((x, end)) + PathElement::new(vec![(-CAP, 0), (CAP, 0)], stroke)
                })
            }))?;
            chart.draw_series(points.iter().map(|&point| {
                EmptyElement::at(point) + Polygon::new(marker(index), colour.filled())
            }))?;
        }
        for (index, label) in self.labels.iter().enumerate() {
            if index < self.figure.series.len() {
                let colour = PALETTE[index % PALETTE.len()];
                let line = colour.stroke_width(LINE_WIDTH - 1);
                legend_entry(chart, label.clone(), move |(x, y)| {
                    let centre = LEGEND_SAMPLE / 2;
                    let shape: Vec<(i32, i32)> = marker(index)
                        .into_iter()
                        .map(|(dx, dy)| (dx + centre, dy))
                        .collect();
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (LEGEND_SAMPLE, 0)], line)
                        + Polygon::new(shape, colour.filled())
                })?;
            } else {
                legend_entry(chart, label.clone(), move |(x, y)| {
                    DashedPathElement::new(
                        vec![(x, y), (x + LEGEND_SAMPLE, y)],
                        14,
                        6,
                        GUIDE_GREY.stroke_width(3),
                    )
                })?;
            }
        }
        SAMPLE_LEGEND.draw(chart, SeriesLabelPosition::UpperRight)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::math::Activation;

    #[test]
    fn the_shipped_sizes_read_and_quick_is_smaller() {
        let quick: Sizes = crate::gallery::context::shipped_sizes("features", true).unwrap();
        let full: Sizes = crate::gallery::context::shipped_sizes("features", false).unwrap();
        assert!(quick.m <= full.m && quick.dims.len() <= full.dims.len());
        assert!(quick.dims.iter().any(|&d| d >= FLOOR_FROM_D));
    }

    #[test]
    fn floor_vanishes_when_a_random_feature_is_the_teacher_neuron() {
        // relu: the teacher neuron relu(w* . x) is a feature, so some a fits it exactly.
        let teacher = DMatrix::from_row_slice(1, 3, &[1.0, 0.6, 0.8]);
        let particles =
            DMatrix::from_row_slice(3, 3, &[0.3, 1.0, 0.0, -1.0, 0.6, 0.8, 2.0, -0.5, 0.5]);
        let floor = least_risk(
            &PairKernel::new(Activation::Relu),
            &particles,
            &teacher,
            0.0,
        );
        assert!(floor.abs() < 1e-12, "{floor}");
    }

    #[test]
    fn floor_of_linear_features_is_the_part_of_the_teacher_they_miss() {
        // Linear features span the line of e1; the teacher 2 e1 + e2 (one neuron, k = 1) keeps
        // its e2 part: R = 1/2 E[(x_2)^2] = 1/2, plus s^2 / 2 of the label noise.
        let teacher = DMatrix::from_row_slice(1, 3, &[1.0, 2.0, 1.0]);
        let particles = DMatrix::from_row_slice(2, 3, &[1.0, 1.0, 0.0, -1.0, -3.0, 0.0]);
        let kernel = PairKernel::new(Activation::Linear);
        let floor = least_risk(&kernel, &particles, &teacher, 0.5);
        assert!((floor - (0.5 + 0.125)).abs() < 1e-12, "{floor}");
    }

    #[test]
    fn clipped_power_line_leaves_the_chart_at_its_edges() {
        // y = 1 / x through (1, 1) on [0.1, 100] x [0.1, 100]: from (0.1, 10) to (10, 0.1).
        let [start, end] = clip_power_line((1.0, 1.0), -1.0, &(0.1..100.0), &(0.1..100.0)).unwrap();
        assert!((start.0 - 0.1).abs() < 1e-12 && (start.1 - 10.0).abs() < 1e-9);
        assert!((end.0 - 10.0).abs() < 1e-9 && (end.1 - 0.1).abs() < 1e-12);
    }
}
