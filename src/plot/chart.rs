//! The parts shared by the charts drawn with the figure model (`plot::model`):
//! which points an axis of a given scale can show and the runs they form, axis extents,
//! intervals (bands, error bars) cut at an axis, power-law lines cut at the chart's edges, and
//! the legend: its spacing and the corner where it hides the fewest points.

use std::ops::Range;

use plotters::prelude::*;

use crate::error::Error;
use crate::plot::axis::{linear_range, log_range};
use crate::plot::canvas::{DrawResult, LEGEND_SIZE, font};
use crate::plot::figure::{Curve, Scale};
use crate::plot::typeset::typeset;

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

/// The two ends of a line segment, in data coordinates.
pub(crate) type Segment = [(f64, f64); 2];

/// The part of the line y = y0 (x / x0)^slope with x in `x_range` and y in `y_range` (a
/// segment on log-log axes), `None` if the line misses the chart: the one clipper of the
/// reference slopes of every chart (power-law guides through a data point).
pub(crate) fn power_line_in(
    anchor: (f64, f64),
    slope: f64,
    x_range: &Range<f64>,
    y_range: &Range<f64>,
) -> Option<Segment> {
    let (x0, y0) = (anchor.0.ln(), anchor.1.ln());
    let (mut low, mut high) = (x_range.start.ln(), x_range.end.ln());
    if slope.abs() > 0.0 {
        let a = x0 + (y_range.start.ln() - y0) / slope;
        let b = x0 + (y_range.end.ln() - y0) / slope;
        low = low.max(a.min(b));
        high = high.min(a.max(b));
    } else if !(y_range.start..=y_range.end).contains(&anchor.1) {
        return None;
    }
    let at = |x: f64| (x.exp(), (y0 + slope * (x - x0)).exp());
    (low < high && low.is_finite() && high.is_finite()).then(|| [at(low), at(high)])
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

/// The spacing of a legend box.
#[derive(Clone, Copy, Debug)]
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
            .map(|label| typeset(label).chars().count())
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

    #[test]
    fn power_line_is_cut_where_it_leaves_the_chart() {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
        // y = 1 / x through (1, 1) on [0.1, 100] x [0.1, 100]: leaves the chart at x = 10.
        let [start, end] = power_line_in((1.0, 1.0), -1.0, &(0.1..100.0), &(0.1..100.0)).unwrap();
        assert!(close(start.0, 0.1) && close(start.1, 10.0));
        assert!(close(end.0, 10.0) && close(end.1, 0.1));
        assert!(power_line_in((1.0, 1e6), -1.0, &(0.1..100.0), &(0.1..100.0)).is_none());
        let flat = power_line_in((1.0, 1.0), 0.0, &(0.1..100.0), &(0.1..100.0)).unwrap();
        assert!(close(flat[0].0, 0.1) && close(flat[1].0, 100.0));
        assert!(power_line_in((1.0, 1e6), 0.0, &(0.1..100.0), &(0.1..100.0)).is_none());
    }
}
