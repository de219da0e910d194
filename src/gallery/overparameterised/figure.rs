//! The figure of the `overparameterised` entry: two panels side by side, the success fraction
//! against the width with 95% Wilson intervals, and every seed's final risk (disc: success,
//! square: spurious minimum, diamond: saddle), for both settings. The widths k, k + 1, k + 2, 2k
//! and 4k sit at equal steps; seeds whose risk is below [`FLOOR`] are drawn as one triangle on
//! the floor with their count beside it, so that five such seeds do not look like one.

use std::ops::Range;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{End, THRESHOLD, Width, wilson};
use crate::error::Result;
use crate::plot::Scale;
use crate::plot::axis::{log_range, tick_label};
use crate::plot::chart::{LINE_WIDTH, SAMPLE_LEGEND};
use crate::plot::model::{
    Axis, Figure, Frame, Layer, Legend, LegendEntry, Line, Mark, Sample, TickSpec, TitleStyle,
    render_row,
};
use crate::plot::style::PALETTE;

/// The bottom of the risk axis: seeds that recovered the teacher exactly reach 1e-12 and
/// below; they are drawn at the floor, so that the axis keeps its resolution where the widths
/// differ.
const FLOOR: f64 = 1e-9;

/// Horizontal offset of each setting from its width's position.
const OFFSET: [f64; 2] = [-0.2, 0.2];

/// Half-width of the band in which one setting's seeds are spread by rank.
const BAND: f64 = 0.14;

/// Names of the widths on the horizontal axis, at positions 0 to 4.
const WIDTH_NAMES: [&str; 5] = ["k", "k + 1", "k + 2", "2k", "4k"];

/// A point of a chart (x, y).
type Point = (f64, f64);

/// Draws the two panels into `overparameterised.png` and `.svg`; `settings` are (label,
/// widths) pairs.
pub(super) fn draw(
    out: &Path,
    settings: &[(&str, &[Width])],
    k: usize,
    t_end: f64,
) -> Result<Vec<String>> {
    let panels = SuccessFigure { settings, k, t_end };
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
    settings: &'a [(&'a str, &'a [Width])],
    k: usize,
    t_end: f64,
}

/// The mark of a seed by how it ended, filled translucent in `colour`.
fn seed_marker(end: End, colour: RGBColor) -> (Mark, ShapeStyle) {
    let outline = colour.stroke_width(1);
    let mark = match end {
        End::Success => Mark::Disc { radius: 8, outline },
        End::Minimum => Mark::Outlined {
            vertices: vec![(-7, -7), (7, -7), (7, 7), (-7, 7)],
            outline,
        },
        End::Saddle => Mark::Outlined {
            vertices: vec![(0, -10), (10, 0), (0, 10), (-10, 0)],
            outline,
        },
    };
    (mark, colour.mix(0.55).filled())
}

/// The marker of the seeds below the axis, drawn on the floor: a downward triangle.
fn floor_marker(colour: RGBColor) -> (Mark, ShapeStyle) {
    let mark = Mark::Outlined {
        vertices: vec![(-9, -7), (9, -7), (0, 9)],
        outline: colour.stroke_width(1),
    };
    (mark, colour.mix(0.55).filled())
}

/// Label of the horizontal axis at an integer position: the width's name.
fn width_label(value: &f64) -> String {
    let rounded = value.round();
    if (value - rounded).abs() < 1e-9 && (0.0..5.0).contains(&rounded) {
        WIDTH_NAMES[rounded as usize].to_string()
    } else {
        String::new()
    }
}

/// Label of the vertical axis of the success fraction: a percentage (none below 0, where the
/// legend sits).
fn percent(value: &f64) -> String {
    if *value < -1e-9 {
        String::new()
    } else {
        format!("{:.0}%", 100.0 * value)
    }
}

impl SuccessFigure<'_> {
    /// The horizontal range: the five widths at 0 to 4, with a margin.
    fn x_range(&self) -> Range<f64> {
        -0.6..4.6
    }

    /// The frame of a panel: a caption, the widths by name, and `y`.
    fn frame(&self, title: &str, y: Axis) -> Frame {
        let widths: Vec<String> = self
            .settings
            .first()
            .map(|(_, w)| w.iter().map(|w| w.m.to_string()).collect())
            .unwrap_or_default();
        let x_label = format!(
            "width m (teacher: k = {} neurons; m = {})",
            self.k,
            widths.join(", ")
        );
        let x = Axis {
            ticks: Some(TickSpec {
                labels: 6,
                light_lines: 0,
                format: width_label,
            }),
            ..Axis::new(&x_label, Scale::Linear, self.x_range())
        };
        Frame {
            title_style: TitleStyle::Caption,
            ..Frame::new(title, x, y)
        }
    }

    /// The left panel: the fraction of seeds that succeed at each width, with Wilson intervals.
    fn fractions(&self) -> Figure {
        let mut layers = Vec::new();
        for (index, (label, widths)) in self.settings.iter().enumerate() {
            let colour = PALETTE[index];
            let offset = OFFSET[index % 2] * 0.3;
            let points: Vec<Point> = widths
                .iter()
                .enumerate()
                .map(|(i, w)| (i as f64 + offset, w.fraction()))
                .collect();
            layers.push(Layer::Line(Line::new(
                points.clone(),
                colour.stroke_width(LINE_WIDTH),
                None,
            )));
            let bar = colour.stroke_width(3);
            for (width, &(x, _)) in widths.iter().zip(&points) {
                let (lo, hi) = wilson(width.successes(), width.seeds.len());
                layers.push(Layer::Paths {
                    paths: vec![
                        vec![(x, lo), (x, hi)],
                        vec![(x - 0.05, lo), (x + 0.05, lo)],
                        vec![(x - 0.05, hi), (x + 0.05, hi)],
                    ],
                    style: bar,
                    dash: None,
                });
            }
            layers.push(Layer::Marks {
                points,
                mark: Mark::Dot(10),
                style: colour.filled(),
            });
            let seeds = widths.first().map_or(0, |w| w.seeds.len());
            layers.push(Layer::Entry(LegendEntry {
                label: format!("{label} ({seeds} seeds)"),
                sample: Sample::DotOnLine {
                    half_length: 24,
                    line: colour.stroke_width(LINE_WIDTH),
                    radius: 10,
                    fill: colour.filled(),
                },
            }));
        }
        layers.push(Layer::Entry(LegendEntry {
            label: "95% Wilson interval".into(),
            sample: Sample::ErrorBar {
                half_height: 16,
                half_cap: 8,
                style: BLACK.stroke_width(3),
            },
        }));
        let y = Axis {
            ticks: Some(TickSpec {
                labels: 7,
                light_lines: 1,
                format: percent,
            }),
            // Room below 0 for the legend.
            ..Axis::new("fraction of seeds", Scale::Linear, -0.5..1.08)
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
    /// below the axis as one counted triangle on its floor), the median over seeds, and the
    /// success threshold.
    fn risks(&self) -> Figure {
        let x_range = self.x_range();
        let positive = self
            .settings
            .iter()
            .flat_map(|(_, widths)| widths.iter().flat_map(|w| w.seeds.iter().map(|s| s.risk)))
            .filter(|r| r.is_finite() && *r > 0.0)
            .chain([THRESHOLD]);
        let (low, high) = positive.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
            (lo.min(r), hi.max(r))
        });
        // Eight decades of room above the data: the legend (six entries, about 45 % of the
        // height) sits above every seed.
        let y_range = log_range(low.max(FLOOR), high * 1e8);
        let grey = RGBColor(110, 110, 110);
        let mut layers = vec![Layer::Paths {
            paths: vec![vec![(x_range.start, THRESHOLD), (x_range.end, THRESHOLD)]],
            style: grey.stroke_width(3),
            dash: Some((14, 10)),
        }];
        for (index, (label, widths)) in self.settings.iter().enumerate() {
            let colour = PALETTE[index];
            for (i, width) in widths.iter().enumerate() {
                width_layers(&mut layers, width, i as f64 + OFFSET[index % 2], colour);
            }
            let (mark, style) = seed_marker(End::Success, colour);
            layers.push(Layer::Entry(LegendEntry {
                label: (*label).to_string(),
                sample: Sample::Mark { mark, style },
            }));
        }
        for (end, name) in [
            (End::Minimum, "spurious minimum (lambda_min >= -tol)"),
            (End::Saddle, "saddle (lambda_min < -tol)"),
        ] {
            let (mark, style) = seed_marker(end, grey);
            layers.push(Layer::Entry(LegendEntry {
                label: name.into(),
                sample: Sample::Mark { mark, style },
            }));
        }
        let (mark, style) = floor_marker(grey);
        layers.push(Layer::Entry(LegendEntry {
            label: format!("n seeds with R < {} (drawn at it)", tick_label(&FLOOR)),
            sample: Sample::Mark { mark, style },
        }));
        layers.push(Layer::Entry(LegendEntry {
            label: "median over seeds".into(),
            sample: Sample::Line {
                from: -24,
                to: 24,
                style: BLACK.stroke_width(5),
                dash: None,
            },
        }));
        let y = Axis::new("population risk R", Scale::Log, y_range);
        Figure {
            frame: self.frame(&format!("Risk at t = {} (dashed: 1e-4)", self.t_end), y),
            layers,
            legend: Some(Legend {
                style: SAMPLE_LEGEND,
                corner: SeriesLabelPosition::UpperRight,
            }),
        }
    }
}

/// Appends the seeds of `width` around `x` (above the floor by rank, those below as one
/// triangle with their count) and their median.
fn width_layers(layers: &mut Vec<Layer>, width: &Width, x: f64, colour: RGBColor) {
    let mut order: Vec<usize> = (0..width.seeds.len()).collect();
    order.sort_by(|&a, &b| width.seeds[a].risk.total_cmp(&width.seeds[b].risk));
    let above: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&s| width.seeds[s].risk.is_finite() && width.seeds[s].risk >= FLOOR)
        .collect();
    let spread = |rank: usize| {
        if above.len() > 1 {
            x - BAND + 2.0 * BAND * rank as f64 / (above.len() - 1) as f64
        } else {
            x
        }
    };
    for end in [End::Success, End::Minimum, End::Saddle] {
        let points: Vec<Point> = above
            .iter()
            .enumerate()
            .filter(|&(_, &s)| width.seeds[s].end() == end)
            .map(|(rank, &s)| (spread(rank), width.seeds[s].risk))
            .collect();
        let (mark, style) = seed_marker(end, colour);
        layers.push(Layer::Marks {
            points,
            mark,
            style,
        });
    }
    let below = width.seeds.iter().filter(|s| s.risk < FLOOR).count();
    if below > 0 {
        let (mark, style) = floor_marker(colour);
        layers.push(Layer::Marks {
            points: vec![(x, FLOOR)],
            mark,
            style,
        });
        layers.push(Layer::Note {
            text: format!("{below}"),
            at: (x + 0.06, FLOOR),
            size: 26,
            colour,
            anchor: Pos::new(HPos::Left, VPos::Bottom),
        });
    }
    // A median below the floor is drawn on it, with the seeds there.
    let median = super::median(&width.risks()).max(FLOOR);
    if median.is_finite() {
        layers.push(Layer::Paths {
            paths: vec![vec![(x - BAND - 0.04, median), (x + BAND + 0.04, median)]],
            style: BLACK.stroke_width(5),
            dash: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_are_labelled_by_name_at_their_positions_only() {
        assert_eq!(width_label(&0.0), "k");
        assert_eq!(width_label(&4.0), "4k");
        assert_eq!(width_label(&3.5), "");
        assert_eq!(width_label(&5.0), "");
        assert_eq!(percent(&0.5), "50%");
        assert_eq!(percent(&-0.2), "");
    }
}
