//! Line charts (the risk R(rho_t) against time t of a run, the movement of the particles, the
//! change of the tangent kernel, the distance to the initial measure), each axis linear or
//! logarithmic, rendered to PNG and SVG with the same layout.

use std::ops::Range;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::Result;
use crate::plot::canvas::{AXIS_LABEL_SIZE, NOTE_GREY};
use crate::plot::chart::{
    Extent, LINE_WIDTH, Layout, LegendStyle, drawable_segments, legend_label,
};
use crate::plot::model::{
    Axis, Figure, Frame, Layer, Legend, LegendEntry, Line, Mark, Sample, render,
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
    /// Curves, drawn in order with the colours of [`PALETTE`] and the dashes of [`dash_of`].
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
    /// Curves, drawn in order with the colours of [`PALETTE`] and the dashes of [`dash_of`].
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

pub use crate::plot::style::{PALETTE, REFERENCE, dash_of};

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
    render(&LineChart::new(&figure, 1).figure(), stem)
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
    render(&LineChart::new(figure, 2).figure(), stem)
}

/// The colour and dash (`None`: solid) of a curve.
pub(crate) type CurveStyle = (RGBColor, Option<(u32, u32)>);

/// [`render_lines`] with curve i drawn in `styles[i]` where given (else the palette's colour
/// and the dash of its index).
pub(crate) fn render_styled(
    figure: &LineFigure,
    styles: &[Option<CurveStyle>],
    stem: &Path,
) -> Result<()> {
    let mut chart = LineChart::new(figure, 2);
    chart.styles = styles.to_vec();
    render(&chart.figure(), stem)
}

/// `figure` as a [`Figure`] of `size` pixels for a panel of a composed figure
/// (`plot::spec`): curve i drawn in `styles[i]` where given (else the palette's colour and the
/// dash of its index); a legend from `legend_from` curves on.
pub(crate) fn panel_figure(
    figure: &LineFigure,
    styles: &[Option<CurveStyle>],
    legend_from: usize,
    size: (u32, u32),
) -> Figure {
    let mut chart = LineChart::new(figure, legend_from);
    chart.styles = styles.to_vec();
    let mut drawn = chart.figure();
    drawn.frame.size = size;
    drawn
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
    /// Styles given to curves by index (the palette's colour and [`dash_of`] otherwise).
    styles: Vec<Option<CurveStyle>>,
}

impl<'a> LineChart<'a> {
    fn new(figure: &'a LineFigure, legend_from: usize) -> Self {
        let segments: Vec<_> = figure
            .curves
            .iter()
            .map(|curve| drawable_segments(curve, figure.x_scale, figure.y_scale))
            .collect();
        let (mut x_extent, mut y_extent) = (Extent::default(), Extent::default());
        for &(x, y) in segments.iter().flatten().flatten() {
            x_extent.include(x);
            y_extent.include(y);
        }
        let ranges = x_extent
            .axis_range(figure.x_scale)
            .zip(y_extent.axis_range(figure.y_scale));
        Self {
            figure,
            segments,
            ranges,
            legend_from,
            styles: Vec::new(),
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

impl LineChart<'_> {
    /// The ranges of the data, or fixed ones for an empty frame.
    fn ranges(&self) -> (Range<f64>, Range<f64>) {
        let empty = |scale| match scale {
            Scale::Linear => 0.0..1.0,
            Scale::Log => 0.8..120.0,
        };
        self.ranges
            .clone()
            .unwrap_or_else(|| (empty(self.figure.x_scale), empty(self.figure.y_scale)))
    }

    /// The chart as a [`Figure`]: each curve's runs (the first carrying the legend entry), its
    /// isolated points as dots, the note of an empty chart, the legend.
    fn figure(&self) -> Figure {
        let figure = self.figure;
        let (x_range, y_range) = self.ranges();
        let mut layers = Vec::new();
        for (index, (curve, segments)) in figure.curves.iter().zip(&self.segments).enumerate() {
            let (colour, dash) = self
                .styles
                .get(index)
                .copied()
                .flatten()
                .unwrap_or((PALETTE[index % PALETTE.len()], dash_of(index)));
            let line = colour.stroke_width(LINE_WIDTH);
            let label = legend_label(&curve.label, segments.is_empty());
            // A curve on top of an earlier one (the exact W2 under the coupled distance while
            // the assignment is the identity) also gets hollow circles, so both stay visible.
            let coincides = figure.curves[..index]
                .iter()
                .any(|earlier| coincident(earlier, curve));
            let sample = match (coincides, dash) {
                (true, Some(dash)) => Sample::DashedWithCircle {
                    to: 40,
                    style: line,
                    dash,
                    radius: COINCIDENT_RADIUS,
                },
                _ => Sample::Line {
                    from: 0,
                    to: 40,
                    style: line,
                    dash,
                },
            };
            // The first (possibly empty) run carries the legend entry.
            let first = segments.first().cloned().unwrap_or_default();
            layers.push(Layer::Line(Line {
                legend: Some(LegendEntry { label, sample }),
                ..Line::new(first, line, dash)
            }));
            for segment in segments.iter().skip(1) {
                layers.push(Layer::Line(Line::new(segment.clone(), line, dash)));
            }
            if coincides {
                layers.push(Layer::Marks {
                    points: thinned(segments.iter().flatten().copied().collect()),
                    mark: Mark::Dot(COINCIDENT_RADIUS),
                    style: line,
                });
            }
            let isolated = segments
                .iter()
                .filter(|segment| segment.len() == 1)
                .flatten()
                .copied()
                .collect();
            layers.push(Layer::Marks {
                points: isolated,
                mark: Mark::Dot(5),
                style: colour.filled(),
            });
        }

        if self.ranges.is_none() {
            let any_log = figure.x_scale == Scale::Log || figure.y_scale == Scale::Log;
            let message = if any_log {
                "no positive, finite data to plot"
            } else {
                "no finite data to plot"
            };
            layers.push(Layer::Note {
                text: message.into(),
                at: (
                    centre(figure.x_scale, &x_range),
                    centre(figure.y_scale, &y_range),
                ),
                size: AXIS_LABEL_SIZE,
                colour: NOTE_GREY,
                anchor: Pos::new(HPos::Center, VPos::Center),
            });
        }

        let legend =
            (!figure.curves.is_empty() && figure.curves.len() >= self.legend_from).then(|| {
                Legend {
                    style: LEGEND,
                    corner: self.legend_corner(&x_range, &y_range),
                }
            });
        Figure {
            frame: Frame::new(
                &figure.title,
                Axis::new(&figure.x_label, figure.x_scale, x_range),
                Axis::new(&figure.y_label, figure.y_scale, y_range),
            ),
            layers,
            legend,
        }
    }
}

/// The legend of a line chart, with the samples plotters draws for each curve.
const LEGEND: LegendStyle = LegendStyle {
    sample_area: 55,
    margin: 20,
    width_besides_text: 110.0,
};

/// Radius in pixels of the hollow circles on a curve that coincides with an earlier one.
const COINCIDENT_RADIUS: i32 = 9;

/// Whether `later` is drawn on top of `earlier`: the same abscissae, and ordinates within
/// 0.2 % of each other at more than half of the points where both are finite (such a curve
/// would hide the earlier one wherever its dashes are).
fn coincident(earlier: &Curve, later: &Curve) -> bool {
    let n = later.x.len().min(later.y.len());
    if n == 0 || earlier.x.len().min(earlier.y.len()) != n {
        return false;
    }
    let (mut both, mut close) = (0usize, 0usize);
    for i in 0..n {
        let (a, b) = (earlier.y[i], later.y[i]);
        if earlier.x[i].to_bits() != later.x[i].to_bits() {
            return false;
        }
        if a.is_finite() && b.is_finite() {
            both += 1;
            close += usize::from((a - b).abs() <= 2e-3 * a.abs().max(b.abs()));
        }
    }
    both > 0 && 2 * close > both
}

/// At most 24 of `points`, evenly spread by index, first and last kept: markers, not a
/// second line.
fn thinned(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    const MOST: usize = 24;
    if points.len() <= MOST {
        return points;
    }
    let last = points.len() - 1;
    (0..MOST).map(|k| points[k * last / (MOST - 1)]).collect()
}

impl LineChart<'_> {
    /// The corner whose legend box would cover the fewest points of the curves (and of the
    /// lines between them), the upper right one on a tie.
    fn legend_corner(&self, x_range: &Range<f64>, y_range: &Range<f64>) -> SeriesLabelPosition {
        let figure = self.figure;
        let mut layout = Layout::new(
            figure.x_scale,
            figure.y_scale,
            x_range.clone(),
            y_range.clone(),
        );
        for segment in self.segments.iter().flatten() {
            layout.add_line(segment);
        }
        // The text width is estimated from the longest label, with the note of an empty curve.
        let longest = figure
            .curves
            .iter()
            .map(|curve| curve.label.chars().count() + 20 * usize::from(curve.x.is_empty()))
            .max()
            .unwrap_or(0);
        layout.legend_corner(LEGEND.size(longest, figure.curves.len()))
    }
}
