//! Gallery entry `overparameterised`: over-parameterisation helps. A relu teacher of k
//! orthonormal neurons is learned from the exact population risk (docs/math.md section 3) by
//! students of width m = k, 2k, 4k and 16k, from many seeds each, in the mean-field scaling.
//! A seed succeeds when its risk at the final time T is below [`THRESHOLD`] (the flow decreases
//! the risk, so this is "reaches the threshold by T"). Students of width m = k often stall at
//! spurious stationary points (Safran and Shamir 2018); wider students succeed, as the
//! mean-field theory of global convergence suggests (Chizat and Bach 2018).
//!
//! The figure has two panels: the success fraction against m with its 95% Wilson score
//! interval, and the final risk of every seed per width with the median.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use plotters::prelude::*;
use serde::Deserialize;
use serde_json::{Map, json};

use crate::error::{Error, Result};
use crate::gallery::{Check, Context, Entry, Outcome};
use crate::output::Table;
use crate::plot::Scale;
use crate::plot::axis::{log_range, tick_label};
use crate::plot::chart::{LINE_WIDTH, SAMPLE_LEGEND};
use crate::plot::figure::PALETTE;
use crate::plot::model::{
    Axis, Figure, Frame, Layer, Legend, LegendEntry, Line, Mark, Sample, TickSpec, TitleStyle,
    render_row,
};
use crate::sweep::SweepOverrides;

/// A seed succeeds when its final risk is below this.
const THRESHOLD: f64 = 1e-4;

/// The bottom of the risk axis: seeds that recovered the teacher exactly reach 1e-12 and
/// below; they are drawn at the floor as downward triangles, so that the axis keeps its
/// resolution where the widths differ.
const FLOOR: f64 = 1e-9;

/// The sizes of one invocation (`[overparameterised.quick]` or `[overparameterised.full]` of
/// the sizes file); the widths are the scenario's `sweep.widths`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sizes {
    /// Seeds per width.
    seeds: usize,
    /// The final time T.
    t_end: f64,
}

/// The outcome at one width.
#[derive(Debug)]
struct Width {
    m: usize,
    /// The risk at T of each seed, in seed order.
    final_risk: Vec<f64>,
}

impl Width {
    fn successes(&self) -> usize {
        self.final_risk.iter().filter(|r| **r < THRESHOLD).count()
    }

    fn fraction(&self) -> f64 {
        self.successes() as f64 / self.final_risk.len() as f64
    }

    fn median(&self) -> f64 {
        median(&self.final_risk)
    }
}

/// The median of `values` (NaN for none; non-finite values sort last).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]),
    }
}

/// The 95% Wilson score interval of a binomial proportion of `successes` out of `trials`.
fn wilson(successes: usize, trials: usize) -> (f64, f64) {
    const Z: f64 = 1.959_963_984_540_054;
    if trials == 0 {
        return (0.0, 1.0);
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let denominator = 1.0 + Z * Z / n;
    let centre = (p + Z * Z / (2.0 * n)) / denominator;
    let half = Z * (p * (1.0 - p) / n + Z * Z / (4.0 * n * n)).sqrt() / denominator;
    // At 0 or all successes an end is exactly 0 or 1; rounding would leave it a few ulps off.
    let lo = if successes == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let hi = if successes >= trials {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    (lo, hi)
}

/// The risk at the last logged step of every (m, seed) of `sweep.csv` (ladder runs only).
fn final_risks(path: &Path) -> Result<Vec<Width>> {
    let table = Table::read_csv(path)?;
    let column = |name: &str| {
        table
            .column(name)
            .ok_or_else(|| Error::format(path, format!("no column {name}")))
    };
    let (m, seed, reference, step, risk) = (
        column("m")?,
        column("seed")?,
        column("reference")?,
        column("step")?,
        column("risk")?,
    );
    // (m, seed) -> (step, risk) of the last row.
    let mut last: BTreeMap<(usize, u64), (f64, f64)> = BTreeMap::new();
    for row in 0..m.len() {
        if reference[row] > 0.5 {
            continue;
        }
        let key = (m[row] as usize, seed[row] as u64);
        let entry = last.entry(key).or_insert((step[row], risk[row]));
        if step[row] >= entry.0 {
            *entry = (step[row], risk[row]);
        }
    }
    let mut widths: Vec<Width> = Vec::new();
    for ((m, _), (_, risk)) in last {
        match widths.last_mut() {
            Some(width) if width.m == m => width.final_risk.push(risk),
            _ => widths.push(Width {
                m,
                final_risk: vec![risk],
            }),
        }
    }
    Ok(widths)
}

/// Runs the entry: over-parameterisation helps.
pub(super) fn run(ctx: &Context<'_>, entry: &Entry) -> Result<Outcome> {
    let Sizes { seeds, t_end } = ctx.sizes(entry.name)?;
    let dir = ctx
        .work_dir(entry.name)
        .join(if ctx.quick() { "quick" } else { "full" });
    let overrides = vec![format!("dynamics.t_end={t_end:?}")];
    let sweep = SweepOverrides {
        seeds: Some(seeds),
        ..SweepOverrides::default()
    };
    let plan = ctx.sweep(entry.scenario, &overrides, &sweep, &dir)?;
    let widths = final_risks(&dir.join("sweep.csv"))?;
    if widths.len() != plan.widths.len() || widths.iter().any(|w| w.final_risk.len() != seeds) {
        return Err(Error::format(
            dir.join("sweep.csv"),
            format!("expected {seeds} seeds at each width of {:?}", plan.widths),
        ));
    }
    let k = ctx
        .scenario(entry.scenario, &overrides)?
        .resolved
        .target
        .k
        .unwrap_or(1);

    let figures = draw(ctx.out(), &widths, k, t_end)?;

    let fractions: Vec<f64> = widths.iter().map(Width::fraction).collect();
    let one_seed = 1.0 / seeds as f64;
    let (narrowest, widest) = (fractions[0], fractions[fractions.len() - 1]);
    let non_decreasing = fractions
        .windows(2)
        .all(|pair| pair[1] >= pair[0] - one_seed - 1e-12);
    let listed = widths
        .iter()
        .map(|w| format!("m = {}: {}/{}", w.m, w.successes(), seeds))
        .collect::<Vec<_>>()
        .join(", ");

    let mut numbers = Map::new();
    numbers.insert("k".into(), json!(k));
    numbers.insert("seeds".into(), json!(seeds));
    numbers.insert("t_end".into(), json!(t_end));
    numbers.insert("threshold".into(), json!(THRESHOLD));
    numbers.insert(
        "widths".into(),
        json!(widths.iter().map(|w| w.m).collect::<Vec<_>>()),
    );
    numbers.insert("success_fraction".into(), json!(fractions));
    numbers.insert(
        "success_interval_95".into(),
        json!(
            widths
                .iter()
                .map(|w| {
                    let (lo, hi) = wilson(w.successes(), seeds);
                    [lo, hi]
                })
                .collect::<Vec<_>>()
        ),
    );
    numbers.insert(
        "median_final_risk".into(),
        json!(widths.iter().map(Width::median).collect::<Vec<_>>()),
    );
    numbers.insert(
        "max_final_risk".into(),
        json!(
            widths
                .iter()
                .map(|w| w
                    .final_risk
                    .iter()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max))
                .collect::<Vec<_>>()
        ),
    );

    let checks = vec![
        Check::new(
            "the widest students succeed more often than m = k",
            widest > narrowest,
            format!("risk < {THRESHOLD:e} at t = {t_end}: {listed}"),
        ),
        Check::new(
            "the success fraction does not decrease with m by more than one seed",
            non_decreasing,
            format!("fractions {fractions:.3?}, one seed = {one_seed:.3}"),
        ),
    ];
    Ok(Outcome {
        figures,
        numbers,
        checks,
    })
}

/// Draws the two panels into `overparameterised.png` and `.svg`.
fn draw(out: &Path, widths: &[Width], k: usize, t_end: f64) -> Result<Vec<String>> {
    let panels = SuccessFigure { widths, k, t_end };
    render_row(
        &[panels.fractions(), panels.risks()],
        &out.join("overparameterised"),
    )?;
    Ok(vec![
        "overparameterised.png".into(),
        "overparameterised.svg".into(),
    ])
}

/// Success fraction and final risks against the width, side by side.
struct SuccessFigure<'a> {
    widths: &'a [Width],
    k: usize,
    t_end: f64,
}

/// The marker of one seed's final risk: a translucent disc.
fn seed_marker(colour: RGBColor) -> (Mark, ShapeStyle) {
    let mark = Mark::Disc {
        radius: 8,
        outline: colour.stroke_width(1),
    };
    (mark, colour.mix(0.55).filled())
}

/// The marker of a seed's final risk below the axis, drawn on the floor: a downward triangle.
fn floor_marker(colour: RGBColor) -> (Mark, ShapeStyle) {
    let mark = Mark::Outlined {
        vertices: vec![(-9, -7), (9, -7), (0, 9)],
        outline: colour.stroke_width(1),
    };
    (mark, colour.mix(0.55).filled())
}

/// A point of a chart (x, y).
type Point = (f64, f64);

/// A width's position on the horizontal axis: log2 m.
fn position(m: usize) -> f64 {
    (m as f64).log2()
}

/// Label of the horizontal axis at `value` = log2 m: m where it is an integer power of two.
fn width_label(value: &f64) -> String {
    let rounded = value.round();
    if (value - rounded).abs() < 1e-9 && (0.0..=40.0).contains(&rounded) {
        format!("{}", 2_u64.pow(rounded as u32))
    } else {
        String::new()
    }
}

/// Label of the vertical axis of the success fraction: a percentage.
fn percent(value: &f64) -> String {
    format!("{:.0}%", 100.0 * value)
}

impl SuccessFigure<'_> {
    /// The horizontal range: half an octave beyond the narrowest and the widest width.
    fn x_range(&self) -> Range<f64> {
        let first = self.widths.first().map_or(1, |w| w.m);
        let last = self.widths.last().map_or(2, |w| w.m);
        (position(first) - 0.5)..(position(last) + 0.5)
    }

    /// The frame of a panel: a caption, the widths labelled at each octave, and `y`.
    fn frame(&self, title: &str, y: Axis) -> Frame {
        let x_range = self.x_range();
        let octaves = (x_range.end - x_range.start).round() as usize + 1;
        let x_label = format!("width m (teacher: k = {} neurons)", self.k);
        let x = Axis {
            ticks: Some(TickSpec {
                labels: octaves,
                light_lines: 1,
                format: width_label,
            }),
            ..Axis::new(&x_label, Scale::Linear, x_range)
        };
        Frame {
            title_style: TitleStyle::Caption,
            ..Frame::new(title, x, y)
        }
    }

    /// The left panel: the fraction of seeds that succeed at each width, with Wilson intervals.
    fn fractions(&self) -> Figure {
        let colour = PALETTE[0];
        let points: Vec<Point> = self
            .widths
            .iter()
            .map(|w| (position(w.m), w.fraction()))
            .collect();
        let mut layers = vec![Layer::Line(Line::new(
            points.clone(),
            colour.stroke_width(LINE_WIDTH),
            None,
        ))];
        let bar = colour.stroke_width(3);
        for (width, &(x, _)) in self.widths.iter().zip(&points) {
            let (lo, hi) = wilson(width.successes(), width.final_risk.len());
            layers.push(Layer::Paths {
                paths: vec![
                    vec![(x, lo), (x, hi)],
                    vec![(x - 0.06, lo), (x + 0.06, lo)],
                    vec![(x - 0.06, hi), (x + 0.06, hi)],
                ],
                style: bar,
                dash: None,
            });
        }
        layers.push(Layer::Marks {
            points,
            mark: Mark::Dot(11),
            style: colour.filled(),
        });
        let seeds = self.widths.first().map_or(0, |w| w.final_risk.len());
        layers.push(Layer::Entry(LegendEntry {
            label: format!("success fraction ({seeds} seeds)"),
            sample: Sample::DotOnLine {
                half_length: 24,
                line: colour.stroke_width(LINE_WIDTH),
                radius: 11,
                fill: colour.filled(),
            },
        }));
        layers.push(Layer::Entry(LegendEntry {
            label: "95% Wilson interval".into(),
            sample: Sample::ErrorBar {
                half_height: 16,
                half_cap: 8,
                style: bar,
            },
        }));
        let y = Axis {
            ticks: Some(TickSpec {
                labels: 7,
                light_lines: 1,
                format: percent,
            }),
            ..Axis::new("fraction of seeds", Scale::Linear, -0.04..1.08)
        };
        Figure {
            frame: self.frame(&format!("Seeds with R(t = {}) < 1e-4", self.t_end), y),
            layers,
            legend: Some(Legend {
                style: SAMPLE_LEGEND,
                corner: SeriesLabelPosition::LowerRight,
            }),
        }
    }

    /// The right panel: each seed's final risk at each width (spread sideways by rank, those
    /// below the axis on its floor), the median over seeds, and the success threshold.
    fn risks(&self) -> Figure {
        let x_range = self.x_range();
        let positive = self
            .widths
            .iter()
            .flat_map(|w| w.final_risk.iter().copied())
            .filter(|r| r.is_finite() && *r > 0.0)
            .chain([THRESHOLD]);
        let (low, high) = positive.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
            (lo.min(r), hi.max(r))
        });
        let y_range = log_range(low.max(FLOOR), high);

        let grey = RGBColor(110, 110, 110);
        let mut layers = vec![Layer::Paths {
            paths: vec![vec![(x_range.start, THRESHOLD), (x_range.end, THRESHOLD)]],
            style: grey.stroke_width(3),
            dash: Some((14, 10)),
        }];
        let seed_colour = PALETTE[0];
        for width in self.widths {
            self.width_layers(&mut layers, width, seed_colour);
        }
        let (seed_mark, seed_fill) = seed_marker(seed_colour);
        layers.push(Layer::Entry(LegendEntry {
            label: "one seed".into(),
            sample: Sample::Mark {
                mark: seed_mark,
                style: seed_fill,
            },
        }));
        let floored = self
            .widths
            .iter()
            .flat_map(|w| w.final_risk.iter())
            .any(|&r| r < FLOOR);
        if floored {
            let (floor_mark, floor_fill) = floor_marker(seed_colour);
            layers.push(Layer::Entry(LegendEntry {
                label: format!("one seed, R < {} (drawn at it)", tick_label(&FLOOR)),
                sample: Sample::Mark {
                    mark: floor_mark,
                    style: floor_fill,
                },
            }));
        }
        layers.push(Layer::Entry(LegendEntry {
            label: "median over seeds".into(),
            sample: Sample::Line {
                from: -24,
                to: 24,
                style: BLACK.stroke_width(6),
                dash: None,
            },
        }));
        layers.push(Layer::Entry(LegendEntry {
            label: "success threshold 1e-4".into(),
            sample: Sample::Line {
                from: -24,
                to: 24,
                style: grey.stroke_width(3),
                dash: Some((10, 6)),
            },
        }));
        let y = Axis::new("population risk R", Scale::Log, y_range);
        Figure {
            frame: self.frame(&format!("Risk at t = {}", self.t_end), y),
            layers,
            legend: Some(Legend {
                style: SAMPLE_LEGEND,
                corner: SeriesLabelPosition::LowerRight,
            }),
        }
    }

    /// Appends the seeds of `width` (above the floor, then on it) and their median.
    fn width_layers(&self, layers: &mut Vec<Layer>, width: &Width, colour: RGBColor) {
        let x = position(width.m);
        let count = width.final_risk.len();
        // Seeds spread sideways by their rank in risk, so that equal risks stay apart.
        let mut order: Vec<usize> = (0..count).collect();
        order.sort_by(|&a, &b| width.final_risk[a].total_cmp(&width.final_risk[b]));
        let spread = 0.28;
        let points = order.iter().enumerate().filter_map(|(rank, &seed)| {
            let risk = width.final_risk[seed];
            let offset = if count > 1 {
                spread * ((rank % 2) as f64 * 2.0 - 1.0) * (rank as f64 / (count - 1) as f64)
            } else {
                0.0
            };
            (risk.is_finite() && risk > 0.0).then_some((x + offset, risk))
        });
        let (above, below): (Vec<Point>, Vec<Point>) = points.partition(|&(_, risk)| risk >= FLOOR);
        let (seed_mark, seed_fill) = seed_marker(colour);
        layers.push(Layer::Marks {
            points: above,
            mark: seed_mark,
            style: seed_fill,
        });
        let (floor_mark, floor_fill) = floor_marker(colour);
        layers.push(Layer::Marks {
            points: below.into_iter().map(|(x, _)| (x, FLOOR)).collect(),
            mark: floor_mark,
            style: floor_fill,
        });
        let median = width.median();
        if median.is_finite() && median > 0.0 {
            layers.push(Layer::Paths {
                paths: vec![vec![(x - 0.36, median), (x + 0.36, median)]],
                style: BLACK.stroke_width(6),
                dash: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

    use super::*;

    #[test]
    fn the_shipped_sizes_read_and_quick_is_smaller() {
        let quick: Sizes =
            crate::gallery::context::shipped_sizes("overparameterised", true).unwrap();
        let full: Sizes =
            crate::gallery::context::shipped_sizes("overparameterised", false).unwrap();
        assert!(quick.seeds <= full.seeds && quick.t_end <= full.t_end);
    }

    #[test]
    fn wilson_interval_contains_the_proportion_and_stays_in_zero_one() {
        let (lo, hi) = wilson(0, 12);
        assert_eq!(lo, 0.0);
        assert!(hi > 0.2 && hi < 0.3, "{hi}");
        let (lo, hi) = wilson(12, 12);
        assert!(lo > 0.7 && lo < 0.8 && hi == 1.0, "{lo}");
        let (lo, hi) = wilson(6, 12);
        assert!((0.5 - lo - (hi - 0.5)).abs() < 1e-12 && lo < 0.5);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn widths_are_labelled_at_powers_of_two_only() {
        assert_eq!(width_label(&3.0), "8");
        assert_eq!(width_label(&7.0), "128");
        assert_eq!(width_label(&3.5), "");
    }
}
