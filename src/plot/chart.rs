//! The parts shared by the line charts of [`figure`](crate::plot::figure),
//! [`sweep`](crate::plot::sweep) and [`scaling`](crate::plot::scaling): which points an axis of
//! a given scale can show and the runs they form, axis extents and ticks, the titled and gridded
//! chart of 1200 x 800 px on linear or log axes, intervals (bands, error bars) cut at an axis,
//! and the legend, placed in the corner where it hides the fewest points.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::element::IntoDynElement;
use plotters::prelude::*;

use crate::error::Error;
use crate::plot::axis::{
    LABELS_PER_AXIS, LinearLabels, light_lines_per_label, linear_range, log_range, tick_label,
};
use crate::plot::canvas::{
    AXIS_LABEL_SIZE, BOLD_GRID, DrawResult, LEGEND_SIZE, LIGHT_GRID, Picture, TICK_LABEL_SIZE,
    TITLE_SIZE, draw_title_lines, fit_title, font, title_height,
};
use crate::plot::figure::{Curve, Scale};

/// Size of the images in pixels (SVG user units).
const SIZE: (u32, u32) = (1200, 800);

/// Line width of curves in pixels.
pub(crate) const LINE_WIDTH: u32 = 4;

/// Whether `value` can be shown on an axis of `scale`.
pub(crate) fn drawable(value: f64, scale: Scale) -> bool {
    value.is_finite() && (scale == Scale::Linear || value > 0.0)
}

/// Splits `points` into runs of consecutive `Some` points, dropping the `None`s between them.
pub(crate) fn runs<T: Copy>(points: impl IntoIterator<Item = Option<T>>) -> Vec<Vec<T>> {
    let mut runs = Vec::new();
    let mut current = Vec::new();
    for point in points {
        match point {
            Some(point) => current.push(point),
            None if !current.is_empty() => runs.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// Splits a curve into runs of points the axes can show.
pub(crate) fn drawable_segments(
    curve: &Curve,
    x_scale: Scale,
    y_scale: Scale,
) -> Vec<Vec<(f64, f64)>> {
    runs(
        curve
            .x
            .iter()
            .zip(&curve.y)
            .map(|(&x, &y)| (drawable(x, x_scale) && drawable(y, y_scale)).then_some((x, y))),
    )
}

/// The smallest interval holding every finite value it was given.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Extent(pub(crate) Option<(f64, f64)>);

impl Extent {
    pub(crate) fn include(&mut self, value: f64) {
        if value.is_finite() {
            self.0 = Some(self.0.map_or((value, value), |(low, high)| {
                (low.min(value), high.max(value))
            }));
        }
    }

    /// The axis range of `scale` covering the extent with a margin.
    pub(crate) fn axis_range(self, scale: Scale) -> Option<Range<f64>> {
        self.0.map(|(low, high)| match scale {
            Scale::Linear => linear_range(low, high),
            Scale::Log => log_range(low, high),
        })
    }
}

/// How far from its centre (as a factor) a band or error-bar end may stretch a log axis.
const SPREAD_IN_RANGE: f64 = 10.0;

/// The ends of the interval [low, high] around `centre` that count towards an axis range: on a
/// log axis each end is kept within a factor [`SPREAD_IN_RANGE`] of the centre (a lower end <= 0
/// becomes centre / SPREAD_IN_RANGE), so that one noisy point cannot stretch the axis by decades.
pub(crate) fn spread_in_range(scale: Scale, centre: f64, low: f64, high: f64) -> (f64, f64) {
    match scale {
        Scale::Linear => (low, high),
        Scale::Log => (
            low.clamp(centre / SPREAD_IN_RANGE, centre),
            high.clamp(centre, centre * SPREAD_IN_RANGE),
        ),
    }
}

/// `value` moved into `range` (a value below the range, or <= 0, goes to its start).
pub(crate) fn clamp_into(range: &Range<f64>, value: f64) -> f64 {
    if value.is_nan() {
        range.start
    } else {
        value.clamp(range.start, range.end)
    }
}

/// The error for a figure whose parts have different lengths.
pub(crate) fn length_mismatch(title: &str, part: &str, names: &str, lengths: &[usize]) -> Error {
    let found: Vec<String> = lengths.iter().map(usize::to_string).collect();
    Error::invalid(
        format!("figure \"{title}\": {part}: lengths of {names}"),
        found.join(", "),
        "equal lengths",
    )
}

/// What a point needs to be drawn on axes of the given scales, in words.
pub(crate) fn drawable_in_words(
    x_scale: Scale,
    y_scale: Scale,
    x_name: &str,
    y_name: &str,
) -> String {
    let condition = |scale: Scale, name: &str| match scale {
        Scale::Log => format!("{name} > 0"),
        Scale::Linear => format!("finite {name}"),
    };
    format!(
        "at least one point with {} and {}",
        condition(x_scale, x_name),
        condition(y_scale, y_name)
    )
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

/// Title, axis labels and axis scales of a chart.
pub(crate) struct Frame<'a> {
    pub(crate) title: &'a str,
    pub(crate) x_label: &'a str,
    pub(crate) y_label: &'a str,
    pub(crate) x_scale: Scale,
    pub(crate) y_scale: Scale,
}

/// A chart on the coordinate systems `X` and `Y`.
type Chart<'a, Backend, X, Y> = ChartContext<
    'a,
    Backend,
    Cartesian2d<<X as AsRangedCoord>::CoordDescType, <Y as AsRangedCoord>::CoordDescType>,
>;

/// Builds a chart on `root` (of [`SIZE`]) with its title, grid, tick labels and axis labels,
/// on the coordinate systems `x_spec` and `y_spec` of the scales of `frame`.
fn framed_chart<'a, Backend, X, Y>(
    root: &'a DrawingArea<Backend, Shift>,
    frame: &Frame<'_>,
    x_spec: X,
    y_spec: Y,
) -> std::result::Result<Chart<'a, Backend, X, Y>, DrawingAreaErrorKind<Backend::ErrorType>>
where
    Backend: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(root)
        .margin(20)
        .margin_right(50)
        .x_label_area_size(90)
        .y_label_area_size(130)
        .build_cartesian_2d(x_spec, y_spec)?;
    let x_ticks = Ticks::new(frame.x_scale, &chart.x_range(), LINEAR_X_LABELS);
    let y_ticks = Ticks::new(frame.y_scale, &chart.y_range(), LINEAR_Y_LABELS);
    let x_formatter = |value: &f64| x_ticks.label(value);
    let y_formatter = |value: &f64| y_ticks.label(value);
    chart
        .configure_mesh()
        .x_max_light_lines(x_ticks.light_lines)
        .y_max_light_lines(y_ticks.light_lines)
        .x_desc(frame.x_label)
        .y_desc(frame.y_label)
        .axis_desc_style(font(AXIS_LABEL_SIZE))
        .label_style(font(TICK_LABEL_SIZE))
        .x_labels(x_ticks.labels)
        .y_labels(y_ticks.labels)
        .x_label_formatter(&x_formatter)
        .y_label_formatter(&y_formatter)
        .bold_line_style(BOLD_GRID)
        .light_line_style(LIGHT_GRID)
        .draw()?;
    Ok(chart)
}

/// A chart of [`SIZE`] whose axes each have a [`Scale`]; it is a [`Picture`] that picks the
/// coordinate system of each axis, frames the chart with [`framed_chart`] and hands it to
/// [`ScaledChart::draw_data`].
pub(crate) trait ScaledChart {
    /// Title, axis labels and scales.
    fn frame(&self) -> Frame<'_>;

    /// Ranges of the horizontal and vertical axes.
    fn ranges(&self) -> (Range<f64>, Range<f64>);

    /// Draws the data and the legend on `chart`, whose frame is drawn.
    fn draw_data<'a, Backend, X, Y>(
        &self,
        chart: &mut ChartContext<'a, Backend, Cartesian2d<X, Y>>,
    ) -> DrawResult<Backend>
    where
        Backend: DrawingBackend + 'a,
        X: Ranged<ValueType = f64>,
        Y: Ranged<ValueType = f64>;
}

impl<Scaled: ScaledChart> Picture for Scaled {
    fn size(&self) -> (u32, u32) {
        SIZE
    }

    fn draw<Backend: DrawingBackend>(
        &self,
        root: &DrawingArea<Backend, Shift>,
    ) -> DrawResult<Backend> {
        root.fill(&WHITE)?;
        let frame = self.frame();
        // The title is fitted to the width (shrunk, then wrapped), never cut at the edges.
        let (lines, size) = fit_title(root, frame.title, TITLE_SIZE, 20);
        let (strip, body) = root.split_vertically(title_height(lines.len(), size));
        draw_title_lines(&strip, &lines, size)?;
        let root = &body;
        let (x, y) = self.ranges();
        match (frame.x_scale, frame.y_scale) {
            (Scale::Log, Scale::Log) => self.draw_data(&mut framed_chart(
                root,
                &frame,
                x.log_scale(),
                y.log_scale(),
            )?),
            (Scale::Log, Scale::Linear) => {
                self.draw_data(&mut framed_chart(root, &frame, x.log_scale(), y)?)
            }
            (Scale::Linear, Scale::Log) => {
                self.draw_data(&mut framed_chart(root, &frame, x, y.log_scale())?)
            }
            (Scale::Linear, Scale::Linear) => {
                self.draw_data(&mut framed_chart(root, &frame, x, y)?)
            }
        }
    }
}

/// The spacing of a legend box.
pub(crate) struct LegendStyle {
    /// Width kept left of each entry's text for its sample, in pixels.
    pub(crate) sample_area: u32,
    /// Distance from the box to the edges of the plotting area, in pixels.
    pub(crate) margin: u32,
    /// Width of the box besides its text, in pixels, for estimating where it falls.
    pub(crate) width_besides_text: f64,
}

/// The legend of the sweep figures, whose entries are added by [`legend_entry`] with samples
/// [`LEGEND_SAMPLE`] px wide.
pub(crate) const SAMPLE_LEGEND: LegendStyle = LegendStyle {
    sample_area: 62,
    margin: 16,
    width_besides_text: 62.0 + 50.0,
};

/// Width of the sample drawn left of each legend text by [`legend_entry`].
pub(crate) const LEGEND_SAMPLE: i32 = 48;

impl LegendStyle {
    /// The approximate size in pixels of a legend box with `entries` entries whose longest text
    /// is `longest` characters long: a character is about 18 px wide and an entry about 45 px
    /// high at [`LEGEND_SIZE`].
    pub(crate) fn size(&self, longest: usize, entries: usize) -> (f64, f64) {
        (
            self.width_besides_text + 18.0 * longest as f64,
            40.0 + 45.0 * entries as f64,
        )
    }

    /// The approximate size in pixels of a legend box listing `labels`.
    pub(crate) fn size_for(&self, labels: &[String]) -> (f64, f64) {
        let longest = labels
            .iter()
            .map(|label| label.chars().count())
            .max()
            .unwrap_or(0);
        self.size(longest, labels.len())
    }

    /// Draws the legend of the labelled series of `chart` at `corner`.
    pub(crate) fn draw<'a, Backend: DrawingBackend + 'a, Coordinates: CoordTranslate>(
        &self,
        chart: &mut ChartContext<'a, Backend, Coordinates>,
        corner: SeriesLabelPosition,
    ) -> DrawResult<Backend> {
        chart
            .configure_series_labels()
            .position(corner)
            .label_font(font(LEGEND_SIZE))
            .legend_area_size(self.sample_area)
            .margin(self.margin)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(150, 150, 150))
            .draw()
    }
}

/// The legend text of a curve or series: `label`, noted when none of its points can be drawn.
pub(crate) fn legend_label(label: &str, nothing_drawn: bool) -> String {
    if nothing_drawn {
        format!("{label} (nothing to draw)")
    } else {
        label.to_owned()
    }
}

/// Adds a legend entry with no data: entries are added in the order they should be listed.
pub(crate) fn legend_entry<'a, Backend, X, Y, Element>(
    chart: &mut ChartContext<'a, Backend, Cartesian2d<X, Y>>,
    label: String,
    sample: impl Fn((i32, i32)) -> Element + 'a,
) -> DrawResult<Backend>
where
    Backend: DrawingBackend + 'a,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
    Element: IntoDynElement<'a, Backend, (i32, i32)>,
{
    chart
        .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
        .label(label)
        .legend(sample);
    Ok(())
}

/// Corners a legend may take, in order of preference.
const LEGEND_CORNERS: [SeriesLabelPosition; 4] = [
    SeriesLabelPosition::UpperRight,
    SeriesLabelPosition::UpperLeft,
    SeriesLabelPosition::LowerRight,
    SeriesLabelPosition::LowerLeft,
];

/// Positions of the points and lines of a chart as fractions of the plotting area, for choosing
/// the legend's corner.
pub(crate) struct Layout {
    x_scale: Scale,
    y_scale: Scale,
    x_range: Range<f64>,
    y_range: Range<f64>,
    /// Points (and points along lines) as fractions of the plotting area.
    points: Vec<(f64, f64)>,
}

impl Layout {
    pub(crate) fn new(
        x_scale: Scale,
        y_scale: Scale,
        x_range: Range<f64>,
        y_range: Range<f64>,
    ) -> Self {
        Self {
            x_scale,
            y_scale,
            x_range,
            y_range,
            points: Vec::new(),
        }
    }

    fn fraction(&self, (x, y): (f64, f64)) -> (f64, f64) {
        let along = |scale: Scale, range: &Range<f64>, value: f64| match scale {
            Scale::Linear => (value - range.start) / (range.end - range.start),
            Scale::Log => (value / range.start).ln() / (range.end / range.start).ln(),
        };
        (
            along(self.x_scale, &self.x_range, x),
            along(self.y_scale, &self.y_range, y),
        )
    }

    /// Records the points of a polyline and points between them.
    pub(crate) fn add_line(&mut self, line: &[(f64, f64)]) {
        let projected: Vec<(f64, f64)> = line.iter().map(|&point| self.fraction(point)).collect();
        self.points.extend(projected.first().copied());
        for pair in projected.windows(2) {
            const STEPS: usize = 8;
            self.points.extend((1..=STEPS).map(|step| {
                let weight = step as f64 / STEPS as f64;
                (
                    pair[0].0 + weight * (pair[1].0 - pair[0].0),
                    pair[0].1 + weight * (pair[1].1 - pair[0].1),
                )
            }));
        }
    }

    /// The corner where a legend box of `size` pixels (see [`LegendStyle::size`]) covers the
    /// fewest recorded points, the upper right one on a tie.
    pub(crate) fn legend_corner(&self, size: (f64, f64)) -> SeriesLabelPosition {
        // The plotting area in pixels as laid out by `framed_chart`.
        let plot = (1000.0, 620.0);
        let legend = (size.0 / plot.0, size.1 / plot.1);
        let covered = |corner: &SeriesLabelPosition| {
            let (right, upper) = match corner {
                SeriesLabelPosition::UpperLeft => (false, true),
                SeriesLabelPosition::LowerRight => (true, false),
                SeriesLabelPosition::LowerLeft => (false, false),
                _ => (true, true),
            };
            self.points
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
    fn runs_break_at_missing_points() {
        let split = runs([Some(1), Some(2), None, None, Some(3), None]);
        assert_eq!(split, vec![vec![1, 2], vec![3]]);
    }

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

    #[test]
    fn legend_takes_the_first_corner_its_box_leaves_free() {
        let mut layout = Layout::new(Scale::Linear, Scale::Log, 0.0..1.0, 1.0..100.0);
        // A falling line through the upper left and lower right corners.
        layout.add_line(&[(0.0, 100.0), (1.0, 1.0)]);
        let small = SAMPLE_LEGEND.size(4, 1);
        assert_eq!(layout.legend_corner(small), SeriesLabelPosition::UpperRight);
        // A rising line through the lower left and upper right corners.
        let mut layout = Layout::new(Scale::Linear, Scale::Log, 0.0..1.0, 1.0..100.0);
        layout.add_line(&[(0.0, 1.0), (1.0, 100.0)]);
        assert_eq!(layout.legend_corner(small), SeriesLabelPosition::UpperLeft);
    }

    #[test]
    fn band_ends_stretch_a_log_axis_by_at_most_a_factor_ten() {
        assert_eq!(spread_in_range(Scale::Log, 1.0, -3.0, 50.0), (0.1, 10.0));
        assert_eq!(spread_in_range(Scale::Log, 1.0, 0.5, 2.0), (0.5, 2.0));
        assert_eq!(
            spread_in_range(Scale::Linear, 1.0, -3.0, 50.0),
            (-3.0, 50.0)
        );
        assert_eq!(clamp_into(&(0.1..10.0), -1.0), 0.1);
        assert_eq!(clamp_into(&(0.1..10.0), 20.0), 10.0);
    }
}
