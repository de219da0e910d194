//! Line charts (the risk R(rho_t) against time t of a run, the movement of the particles, the
//! change of the tangent kernel, the distance to the initial measure), each axis linear or
//! logarithmic, rendered to PNG and SVG with the same layout.

use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::Result;
use crate::plot::axis::{
    LABELS_PER_AXIS, LinearLabels, light_lines_per_label, linear_range, log_range, tick_label,
};
use crate::plot::canvas::{
    AXIS_LABEL_SIZE, BOLD_GRID, DrawResult, LEGEND_SIZE, LIGHT_GRID, NOTE_GREY, Picture,
    TICK_LABEL_SIZE, TITLE_SIZE, font, render_png_and_svg,
};

/// One curve of a figure.
#[derive(Clone, Debug)]
pub struct Curve {
    /// Legend text.
    pub label: String,
    /// Abscissae; pairs beyond the shorter of `x` and `y` are ignored.
    pub x: Vec<f64>,
    /// Ordinates.
    pub y: Vec<f64>,
}

/// A line chart with log-log axes (the risk against time of a run).
#[derive(Clone, Debug)]
pub struct LogLogFigure {
    /// Title drawn above the chart.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis (drawn rotated).
    pub y_label: String,
    /// Curves, drawn in order with the colours of [`PALETTE`].
    pub curves: Vec<Curve>,
}

/// The scale of one axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Evenly spaced values, ticks at 1, 2 or 5 times a power of ten.
    Linear,
    /// Evenly spaced decades, ticks labelled at 1, 2 and 5 times a decade; values <= 0 cannot
    /// be shown.
    Log,
}

/// A line chart with a choice of scale on each axis (movement or tangent-kernel change against
/// time, distance to the initial measure against time).
#[derive(Clone, Debug)]
pub struct LineFigure {
    /// Title drawn above the chart.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis (drawn rotated).
    pub y_label: String,
    /// Scale of the horizontal axis.
    pub x_scale: Scale,
    /// Scale of the vertical axis.
    pub y_scale: Scale,
    /// Curves, drawn in order with the colours of [`PALETTE`].
    pub curves: Vec<Curve>,
}

impl From<LogLogFigure> for LineFigure {
    fn from(figure: LogLogFigure) -> Self {
        Self {
            title: figure.title,
            x_label: figure.x_label,
            y_label: figure.y_label,
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            curves: figure.curves,
        }
    }
}

/// Size of both images in pixels (SVG user units).
const SIZE: (u32, u32) = (1200, 800);

/// Line width of curves in pixels.
const LINE_WIDTH: u32 = 4;

/// The Okabe-Ito colour-blind-safe palette, yellow last (it is faint on white).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
    RGBColor(240, 228, 66),  // yellow
];

/// Renders `figure` to `<stem>.png` (1200 x 800 px) and `<stem>.svg`, each written atomically.
///
/// Points with x <= 0, y <= 0 or a non-finite coordinate cannot be drawn on log axes: they are
/// dropped and the curve is broken there (an isolated point is drawn as a dot). If no point is
/// left at all, an empty labelled frame with a note is drawn. Both axes cover the data with a
/// margin on the log scale; ticks are labelled at decades (`1e-3`, `0.01`, ..., `1000`, `1e4`).
/// Every curve has a legend entry, in the upper right corner unless another corner hides fewer
/// points of the curves. This is [`render_lines`] with both scales [`Scale::Log`].
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) naming the image that could not be drawn or written (e.g. a
/// missing directory).
///
/// ```
/// use meanfield::plot::{Curve, LogLogFigure, render_loglog};
///
/// # let directory = std::env::temp_dir().join(format!("meanfield-plot-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&directory)?;
/// let time: Vec<f64> = (1..=100).map(|k| 0.01 * f64::from(k)).collect();
/// let risk = time.iter().map(|t| 1e-3 / t).collect();
/// let figure = LogLogFigure {
///     title: "Risk".into(),
///     x_label: "time t".into(),
///     y_label: "risk".into(),
///     curves: vec![Curve { label: "population risk".into(), x: time, y: risk }],
/// };
/// render_loglog(&figure, &directory.join("risk"))?; // risk.png and risk.svg
/// assert!(directory.join("risk.png").exists() && directory.join("risk.svg").exists());
/// # std::fs::remove_dir_all(&directory)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn render_loglog(figure: &LogLogFigure, stem: &Path) -> Result<()> {
    let figure = LineFigure::from(figure.clone());
    render_png_and_svg(&LineChart::new(&figure, 1), stem)
}

/// Renders `figure` to `<stem>.png` (1200 x 800 px) and `<stem>.svg`, each written atomically.
///
/// Points with a non-finite coordinate, or a coordinate <= 0 on a log axis, are dropped and the
/// curve is broken there (an isolated point is drawn as a dot). If no point is left at all, an
/// empty labelled frame with a note is drawn. Log axes are laid out as in [`render_loglog`];
/// linear axes cover the data with a margin of 5% of the span. A legend is drawn when there is
/// more than one curve, in the corner where it hides the fewest points of the curves.
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) naming the image that could not be drawn or written.
///
/// ```
/// use meanfield::plot::{Curve, LineFigure, Scale, render_lines};
///
/// # let directory = std::env::temp_dir().join(format!("meanfield-lines-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&directory)?;
/// let time: Vec<f64> = (1..=100).map(|k| 0.1 * f64::from(k)).collect();
/// let movement = time.iter().map(|t| 1.0 - (-t).exp()).collect();
/// let figure = LineFigure {
///     title: "Movement".into(),
///     x_label: "time t".into(),
///     y_label: "mean |theta_j(t) - theta_j(0)|".into(),
///     x_scale: Scale::Log,
///     y_scale: Scale::Linear,
///     curves: vec![Curve { label: "m = 100".into(), x: time, y: movement }],
/// };
/// render_lines(&figure, &directory.join("movement"))?; // movement.png and movement.svg
/// assert!(directory.join("movement.png").exists());
/// # std::fs::remove_dir_all(&directory)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn render_lines(figure: &LineFigure, stem: &Path) -> Result<()> {
    render_png_and_svg(&LineChart::new(figure, 2), stem)
}

/// What is drawn: the pieces of each curve that the axes can show, and the axis ranges.
struct LineChart<'a> {
    figure: &'a LineFigure,
    /// For each curve, its runs of consecutive drawable points.
    segments: Vec<Vec<Vec<(f64, f64)>>>,
    /// Axis ranges, `None` when there is no drawable point.
    ranges: Option<(Range<f64>, Range<f64>)>,
    /// The least number of curves that gets a legend.
    legend_from: usize,
}

impl<'a> LineChart<'a> {
    fn new(figure: &'a LineFigure, legend_from: usize) -> Self {
        let segments: Vec<_> = figure
            .curves
            .iter()
            .map(|curve| drawable_segments(curve, figure.x_scale, figure.y_scale))
            .collect();
        let points = || segments.iter().flatten().flatten();
        let extent = |coordinate: fn(&(f64, f64)) -> f64| {
            points()
                .map(coordinate)
                .fold(None, |extent: Option<(f64, f64)>, value| {
                    Some(extent.map_or((value, value), |(low, high)| {
                        (low.min(value), high.max(value))
                    }))
                })
        };
        let ranges = extent(|point| point.0).zip(extent(|point| point.1)).map(
            |((x_low, x_high), (y_low, y_high))| {
                (
                    axis_range(figure.x_scale, x_low, x_high),
                    axis_range(figure.y_scale, y_low, y_high),
                )
            },
        );
        Self {
            figure,
            segments,
            ranges,
            legend_from,
        }
    }
}

fn axis_range(scale: Scale, low: f64, high: f64) -> Range<f64> {
    match scale {
        Scale::Linear => linear_range(low, high),
        Scale::Log => log_range(low, high),
    }
}

/// Whether `value` can be shown on an axis of `scale`.
fn drawable(value: f64, scale: Scale) -> bool {
    value.is_finite() && (scale == Scale::Linear || value > 0.0)
}

/// Splits a curve at the points the axes cannot show.
fn drawable_segments(curve: &Curve, x_scale: Scale, y_scale: Scale) -> Vec<Vec<(f64, f64)>> {
    let mut segments = Vec::new();
    let mut current = Vec::new();
    for (&x, &y) in curve.x.iter().zip(&curve.y) {
        if drawable(x, x_scale) && drawable(y, y_scale) {
            current.push((x, y));
        } else if !current.is_empty() {
            segments.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments
}

/// Number of tick labels plotters is asked for on a linear horizontal axis (fewer than on a
/// vertical one: labels like `0.25` are wide).
const LINEAR_X_LABELS: usize = 7;
const LINEAR_Y_LABELS: usize = 8;

/// How one axis is ticked and labelled.
struct Ticks {
    labels: usize,
    light_lines: usize,
    linear: Option<LinearLabels>,
}

impl Ticks {
    fn new(scale: Scale, range: &Range<f64>, linear_labels: usize) -> Self {
        match scale {
            Scale::Log => Self {
                labels: LABELS_PER_AXIS,
                light_lines: light_lines_per_label(range),
                linear: None,
            },
            Scale::Linear => Self {
                labels: linear_labels,
                light_lines: 1,
                linear: Some(LinearLabels::new(range, linear_labels)),
            },
        }
    }

    fn label(&self, value: &f64) -> String {
        match &self.linear {
            Some(labels) => labels.label(value),
            None => tick_label(value),
        }
    }
}

/// The middle of an axis, as the eye sees it.
fn centre(scale: Scale, range: &Range<f64>) -> f64 {
    match scale {
        Scale::Linear => 0.5 * (range.start + range.end),
        Scale::Log => (range.start * range.end).sqrt(),
    }
}

impl Picture for LineChart<'_> {
    fn size(&self) -> (u32, u32) {
        SIZE
    }

    fn draw<Backend: DrawingBackend>(
        &self,
        root: &DrawingArea<Backend, Shift>,
    ) -> DrawResult<Backend> {
        root.fill(&WHITE)?;
        let empty = |scale| match scale {
            Scale::Linear => 0.0..1.0,
            Scale::Log => 0.8..120.0,
        };
        let (x_range, y_range) = self
            .ranges
            .clone()
            .unwrap_or_else(|| (empty(self.figure.x_scale), empty(self.figure.y_scale)));
        let (x, y) = (x_range.clone(), y_range.clone());
        match (self.figure.x_scale, self.figure.y_scale) {
            (Scale::Log, Scale::Log) => self.draw_on(root, x.log_scale(), y.log_scale()),
            (Scale::Log, Scale::Linear) => self.draw_on(root, x.log_scale(), y),
            (Scale::Linear, Scale::Log) => self.draw_on(root, x, y.log_scale()),
            (Scale::Linear, Scale::Linear) => self.draw_on(root, x, y),
        }
    }
}

impl LineChart<'_> {
    /// Draws the chart on `root` with the coordinate systems `x_spec` and `y_spec`, which
    /// cover the ranges of the layout.
    fn draw_on<Backend, X, Y>(
        &self,
        root: &DrawingArea<Backend, Shift>,
        x_spec: X,
        y_spec: Y,
    ) -> DrawResult<Backend>
    where
        Backend: DrawingBackend,
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let figure = self.figure;
        let mut chart = ChartBuilder::on(root)
            .caption(&figure.title, font(TITLE_SIZE))
            .margin(20)
            .margin_right(50)
            .x_label_area_size(90)
            .y_label_area_size(130)
            .build_cartesian_2d(x_spec, y_spec)?;
        let (x_range, y_range) = (chart.x_range(), chart.y_range());
        let x_ticks = Ticks::new(figure.x_scale, &x_range, LINEAR_X_LABELS);
        let y_ticks = Ticks::new(figure.y_scale, &y_range, LINEAR_Y_LABELS);
        let x_formatter = |value: &f64| x_ticks.label(value);
        let y_formatter = |value: &f64| y_ticks.label(value);

        chart
            .configure_mesh()
            .x_max_light_lines(x_ticks.light_lines)
            .y_max_light_lines(y_ticks.light_lines)
            .x_desc(&figure.x_label)
            .y_desc(&figure.y_label)
            .axis_desc_style(font(AXIS_LABEL_SIZE))
            .label_style(font(TICK_LABEL_SIZE))
            .x_labels(x_ticks.labels)
            .y_labels(y_ticks.labels)
            .x_label_formatter(&x_formatter)
            .y_label_formatter(&y_formatter)
            .bold_line_style(BOLD_GRID)
            .light_line_style(LIGHT_GRID)
            .draw()?;

        for (index, (curve, segments)) in figure.curves.iter().zip(&self.segments).enumerate() {
            let colour = PALETTE[index % PALETTE.len()];
            let line = colour.stroke_width(LINE_WIDTH);
            let label = if segments.is_empty() {
                format!("{} (nothing to draw)", curve.label)
            } else {
                curve.label.clone()
            };
            // The first (possibly empty) series carries the legend entry.
            let first = segments.first().cloned().unwrap_or_default();
            chart
                .draw_series(LineSeries::new(first, line))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 40, y)], line));
            for segment in segments.iter().skip(1) {
                chart.draw_series(LineSeries::new(segment.iter().copied(), line))?;
            }
            let isolated = segments
                .iter()
                .filter(|segment| segment.len() == 1)
                .flatten();
            chart.draw_series(isolated.map(|&point| Circle::new(point, 5, colour.filled())))?;
        }

        if self.ranges.is_none() {
            let centre = (
                centre(figure.x_scale, &x_range),
                centre(figure.y_scale, &y_range),
            );
            let any_log = figure.x_scale == Scale::Log || figure.y_scale == Scale::Log;
            let message = if any_log {
                "no positive, finite data to plot"
            } else {
                "no finite data to plot"
            };
            let note = font(AXIS_LABEL_SIZE)
                .color(&NOTE_GREY)
                .pos(Pos::new(HPos::Center, VPos::Center));
            chart
                .plotting_area()
                .draw(&Text::new(message, centre, note))?;
        }

        if !figure.curves.is_empty() && figure.curves.len() >= self.legend_from {
            chart
                .configure_series_labels()
                .position(self.legend_corner(&x_range, &y_range))
                .label_font(font(LEGEND_SIZE))
                .legend_area_size(55)
                .margin(20)
                .background_style(WHITE.mix(0.9))
                .border_style(RGBColor(150, 150, 150))
                .draw()?;
        }
        Ok(())
    }
}

/// Corners a legend may take, in order of preference.
const LEGEND_CORNERS: [SeriesLabelPosition; 4] = [
    SeriesLabelPosition::UpperRight,
    SeriesLabelPosition::UpperLeft,
    SeriesLabelPosition::LowerRight,
    SeriesLabelPosition::LowerLeft,
];

impl LineChart<'_> {
    /// The corner whose legend box would cover the fewest points of the curves (and of the
    /// lines between them), the upper right one on a tie.
    fn legend_corner(&self, x_range: &Range<f64>, y_range: &Range<f64>) -> SeriesLabelPosition {
        // The plotting area and the legend box in pixels, as laid out by `draw_on` (the legend
        // box only approximately: its text width is estimated from the longest label).
        let plot = (1000.0, 620.0);
        let longest = self
            .figure
            .curves
            .iter()
            .map(|curve| curve.label.chars().count() + 20 * usize::from(curve.x.is_empty()))
            .max()
            .unwrap_or(0);
        let legend = (
            (110.0 + 18.0 * longest as f64) / plot.0,
            (40.0 + 45.0 * self.figure.curves.len() as f64) / plot.1,
        );
        let fraction = |scale: Scale, range: &Range<f64>, value: f64| match scale {
            Scale::Linear => (value - range.start) / (range.end - range.start),
            Scale::Log => (value / range.start).ln() / (range.end / range.start).ln(),
        };
        let mut points = Vec::new();
        for segment in self.segments.iter().flatten() {
            let projected: Vec<(f64, f64)> = segment
                .iter()
                .map(|&(x, y)| {
                    (
                        fraction(self.figure.x_scale, x_range, x),
                        fraction(self.figure.y_scale, y_range, y),
                    )
                })
                .collect();
            points.extend(projected.first().copied());
            for pair in projected.windows(2) {
                const STEPS: usize = 8;
                points.extend((1..=STEPS).map(|step| {
                    let weight = step as f64 / STEPS as f64;
                    (
                        pair[0].0 + weight * (pair[1].0 - pair[0].0),
                        pair[0].1 + weight * (pair[1].1 - pair[0].1),
                    )
                }));
            }
        }
        let covered = |corner: &SeriesLabelPosition| {
            let (right, upper) = match corner {
                SeriesLabelPosition::UpperLeft => (false, true),
                SeriesLabelPosition::LowerRight => (true, false),
                SeriesLabelPosition::LowerLeft => (false, false),
                _ => (true, true),
            };
            points
                .iter()
                .filter(|(x, y)| {
                    let inside_x = if right {
                        *x > 1.0 - legend.0
                    } else {
                        *x < legend.0
                    };
                    let inside_y = if upper {
                        *y > 1.0 - legend.1
                    } else {
                        *y < legend.1
                    };
                    inside_x && inside_y
                })
                .count()
        };
        LEGEND_CORNERS
            .iter()
            .min_by_key(|corner| covered(corner))
            .cloned()
            .unwrap_or(SeriesLabelPosition::UpperRight)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

    use super::*;

    #[test]
    fn segments_break_at_points_log_axes_cannot_show() {
        let curve = Curve {
            label: "r".into(),
            x: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            y: vec![1.0, 0.5, 0.0, 0.25, f64::NAN, 0.1],
        };
        assert_eq!(
            drawable_segments(&curve, Scale::Log, Scale::Log),
            vec![
                vec![(1.0, 1.0), (2.0, 0.5)],
                vec![(4.0, 0.25)],
                vec![(6.0, 0.1)]
            ]
        );
    }

    #[test]
    fn linear_axes_keep_zero_and_negative_values() {
        let curve = Curve {
            label: "r".into(),
            x: vec![0.0, 1.0, 2.0, 3.0],
            y: vec![-1.0, 0.0, f64::INFINITY, 2.0],
        };
        assert_eq!(
            drawable_segments(&curve, Scale::Linear, Scale::Linear),
            vec![vec![(0.0, -1.0), (1.0, 0.0)], vec![(3.0, 2.0)]]
        );
        assert_eq!(
            drawable_segments(&curve, Scale::Log, Scale::Linear),
            vec![vec![(1.0, 0.0)], vec![(3.0, 2.0)]]
        );
    }
}
