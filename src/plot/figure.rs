//! Line charts with log-log axes (the risk R(rho_t) against time t of a run), rendered to PNG
//! and SVG with the same layout.

use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};
use crate::output::write_atomic;
use crate::plot::font::{FONT_FAMILY, register_embedded_font};

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

// Font sizes as plotters counts them (it draws 1 / 1.24 of this many pixels): large, so that
// text stays legible when the figure is shrunk to a paper column.
const TITLE_SIZE: u32 = 46;
const AXIS_LABEL_SIZE: u32 = 40;
const TICK_LABEL_SIZE: u32 = 36;
const LEGEND_SIZE: u32 = 36;

/// Renders `figure` to `<stem>.png` (1200 x 800 px) and `<stem>.svg`, each written atomically.
///
/// Points with x <= 0, y <= 0 or a non-finite coordinate cannot be drawn on log axes: they are
/// dropped and the curve is broken there (an isolated point is drawn as a dot). If no point is
/// left at all, an empty labelled frame with a note is drawn. Both axes cover the data with a
/// margin on the log scale; ticks are labelled at decades (`1e-3`, `0.01`, ..., `1000`, `1e4`).
///
/// # Errors
/// [`Error::Io`] naming the image that could not be drawn or written (e.g. a missing
/// directory).
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
    register_embedded_font()?;
    let layout = Layout::new(figure);

    let svg_path = with_suffix(stem, "svg");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw(&root, figure, &layout)
            .and_then(|()| root.present())
            .map_err(|e| drawing_error(&svg_path, &e))?;
    }
    write_atomic(&svg_path, svg.as_bytes())?;

    // The PNG encoder of plotters (the `image` crate) is reachable only through a file path, so
    // the PNG is drawn to a scratch file, then copied into place atomically.
    let png_path = with_suffix(stem, "png");
    let scratch = with_suffix(&hidden(&png_path), "render.png");
    let drawn = {
        let root = BitMapBackend::new(&scratch, SIZE).into_drawing_area();
        draw(&root, figure, &layout)
            .and_then(|()| root.present())
            .map_err(|e| drawing_error(&png_path, &e))
    };
    let copied = drawn.and_then(|()| {
        let bytes = std::fs::read(&scratch).map_err(|e| Error::io(&scratch, e))?;
        write_atomic(&png_path, &bytes)
    });
    // Best effort: the scratch file may not exist if drawing failed early.
    let _ = std::fs::remove_file(&scratch);
    copied
}

/// `stem.suffix`, keeping any dot already in the stem (`risk.v2` -> `risk.v2.png`).
fn with_suffix(stem: &Path, suffix: &str) -> PathBuf {
    let mut path = stem.as_os_str().to_owned();
    path.push(".");
    path.push(suffix);
    PathBuf::from(path)
}

/// `dir/.name` for `dir/name`.
fn hidden(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    path.with_file_name(name)
}

fn drawing_error(path: &Path, error: &impl std::fmt::Display) -> Error {
    Error::io(
        path,
        std::io::Error::other(format!("cannot draw the figure: {error}")),
    )
}

/// What is drawn: the pieces of each curve that log axes can show, and the axis ranges.
struct Layout {
    /// For each curve, its runs of consecutive drawable points.
    segments: Vec<Vec<Vec<(f64, f64)>>>,
    /// Axis ranges, `None` when there is no drawable point.
    ranges: Option<(Range<f64>, Range<f64>)>,
}

impl Layout {
    fn new(figure: &LogLogFigure) -> Self {
        let segments: Vec<_> = figure.curves.iter().map(drawable_segments).collect();
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
                (log_range(x_low, x_high), log_range(y_low, y_high))
            },
        );
        Self { segments, ranges }
    }
}

/// Splits a curve at the points log axes cannot show.
fn drawable_segments(curve: &Curve) -> Vec<Vec<(f64, f64)>> {
    let drawable = |x: f64, y: f64| x.is_finite() && y.is_finite() && x > 0.0 && y > 0.0;
    let mut segments = Vec::new();
    let mut current = Vec::new();
    for (&x, &y) in curve.x.iter().zip(&curve.y) {
        if drawable(x, y) {
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

/// How far (in decades) an axis end is moved out to reach the next decade, so that it is
/// labelled.
const DECADE_SNAP: f64 = 0.35;

/// A log axis range covering [low, high] (both positive and finite) with a margin.
///
/// plotters places ticks from the first decade inside the axis upwards, so a span under one
/// decade is widened to the decades enclosing it (e.g. [2, 7] to [1, 10], labelled at 1, 2, 5,
/// 10). An end within [`DECADE_SNAP`] of the next decade out is moved to it. The margin (0.03
/// decade plus 2% of the span) then keeps a decade tick that sits on an end inside the axis,
/// where plotters labels it.
fn log_range(low: f64, high: f64) -> Range<f64> {
    let (mut low_exponent, mut high_exponent) = (low.log10(), high.log10());
    if high_exponent - low_exponent < 1.0 {
        low_exponent = low_exponent.floor();
        high_exponent = high_exponent.ceil().max(low_exponent + 1.0);
    }
    if low_exponent - low_exponent.floor() < DECADE_SNAP {
        low_exponent = low_exponent.floor();
    }
    if high_exponent.ceil() - high_exponent < DECADE_SNAP {
        high_exponent = high_exponent.ceil();
    }
    let margin = 0.03 + 0.02 * (high_exponent - low_exponent);
    // Near the ends of the f64 range the margin may underflow to 0 or overflow to inf.
    let start = 10_f64.powf(low_exponent - margin);
    let start = if start > 0.0 { start.min(low) } else { low };
    let end = 10_f64.powf(high_exponent + margin);
    let end = if end.is_finite() {
        end.max(high)
    } else {
        f64::MAX
    };
    start..end
}

/// Tick label for a value of a log axis: `m` times a decade for m in {1, 2, 5} (the ticks
/// between decades exist only on axes spanning one or two decades), written `1e-3`, `0.01`,
/// `0.02`, `0.1`, `1`, `5`, `10`, `100`, `1000`, `1e4`, `2e-5`; other ticks get no label, so
/// that labels never crowd.
fn tick_label(value: &f64) -> String {
    let value = *value;
    if !(value.is_finite() && value > 0.0) {
        return String::new();
    }
    // Tick values come from repeated products, so 1000 may arrive as 999.9999999999999.
    let mut exponent = value.log10().floor();
    let mut mantissa = (value / 10_f64.powf(exponent)).round();
    if mantissa >= 10.0 {
        mantissa = 1.0;
        exponent += 1.0;
    }
    let tick = mantissa * 10_f64.powf(exponent);
    let on_tick = ((value - tick) / tick).abs() < 1e-9;
    if !(on_tick && [1.0, 2.0, 5.0].contains(&mantissa)) {
        return String::new();
    }
    if (-2.0..=3.0).contains(&exponent) {
        let decimals = usize::try_from(-(exponent as i64)).unwrap_or(0);
        format!("{tick:.decimals$}")
    } else {
        format!("{mantissa}e{exponent}")
    }
}

/// Number of tick labels plotters is asked for on each axis.
const LABELS_PER_AXIS: usize = 10;

/// The light-line limit per label that makes plotters draw minor grid lines at 2..9 times
/// each decade: its log axis draws 9 per decade when the limit times [`LABELS_PER_AXIS`] is
/// between 10 and 99 times the number of decades, and 0 or 99 otherwise.
fn light_lines_per_label(range: &Range<f64>) -> usize {
    let decades = (range.end / range.start).log10().floor().max(1.0);
    let decades = usize::try_from(decades as i64).unwrap_or(1);
    (20 * decades).div_ceil(LABELS_PER_AXIS)
}

fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT_FAMILY, size).into_font())
}

/// Draws the figure on `root`, for any backend.
fn draw<Backend: DrawingBackend>(
    root: &DrawingArea<Backend, Shift>,
    figure: &LogLogFigure,
    layout: &Layout,
) -> Result<(), DrawingAreaErrorKind<Backend::ErrorType>> {
    root.fill(&WHITE)?;
    let (x_range, y_range) = layout.ranges.clone().unwrap_or((0.8..120.0, 0.8..120.0));
    let mut chart = ChartBuilder::on(root)
        .caption(&figure.title, font(TITLE_SIZE))
        .margin(20)
        .margin_right(50)
        .x_label_area_size(90)
        .y_label_area_size(130)
        .build_cartesian_2d(x_range.clone().log_scale(), y_range.clone().log_scale())?;

    chart
        .configure_mesh()
        .x_max_light_lines(light_lines_per_label(&x_range))
        .y_max_light_lines(light_lines_per_label(&y_range))
        .x_desc(&figure.x_label)
        .y_desc(&figure.y_label)
        .axis_desc_style(font(AXIS_LABEL_SIZE))
        .label_style(font(TICK_LABEL_SIZE))
        .x_labels(LABELS_PER_AXIS)
        .y_labels(LABELS_PER_AXIS)
        .x_label_formatter(&tick_label)
        .y_label_formatter(&tick_label)
        .bold_line_style(RGBColor(200, 200, 200))
        .light_line_style(RGBColor(238, 238, 238))
        .draw()?;

    for (index, (curve, segments)) in figure.curves.iter().zip(&layout.segments).enumerate() {
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

    if layout.ranges.is_none() {
        let centre = (
            (x_range.start * x_range.end).sqrt(),
            (y_range.start * y_range.end).sqrt(),
        );
        let note = font(AXIS_LABEL_SIZE)
            .color(&RGBColor(90, 90, 90))
            .pos(Pos::new(HPos::Center, VPos::Center));
        chart
            .plotting_area()
            .draw(&Text::new("no positive, finite data to plot", centre, note))?;
    }

    if !figure.curves.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(font(LEGEND_SIZE))
            .legend_area_size(55)
            .margin(20)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(150, 150, 150))
            .draw()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

    use super::*;

    #[test]
    fn decade_ticks_are_labelled_without_decimals_or_rounding_noise() {
        let labels: Vec<String> = [
            1e-3,
            0.01,
            0.1,
            1.0,
            10.0,
            100.0,
            999.999_999_999_999_9,
            1e4,
            1e-12,
        ]
        .iter()
        .map(tick_label)
        .collect();
        assert_eq!(
            labels,
            [
                "1e-3", "0.01", "0.1", "1", "10", "100", "1000", "1e4", "1e-12"
            ]
        );
    }

    #[test]
    fn only_one_two_and_five_times_a_decade_are_labelled() {
        let labels: Vec<String> = [
            0.02,
            0.030_000_000_000_000_002,
            0.05,
            20.0,
            70.0,
            2e-5,
            5e6,
            2.5,
        ]
        .iter()
        .map(tick_label)
        .collect();
        assert_eq!(labels, ["0.02", "", "0.05", "20", "", "2e-5", "5e6", ""]);
    }

    #[test]
    fn log_range_contains_the_data_and_a_decade() {
        for (low, high) in [
            (1e-2, 1e2),
            (2.0, 8.0),
            (3.0, 3.0),
            (5e-324, 1.0),
            (1.0, f64::MAX),
        ] {
            let range = log_range(low, high);
            assert!(
                range.start > 0.0 && range.start <= low && high <= range.end,
                "{low} {high}"
            );
            let first_decade = 10_f64.powf(range.start.log10().ceil());
            assert!(first_decade <= range.end, "{low} {high}");
        }
        let range = log_range(1e-2, 1e2);
        assert!(range.start < 1e-2 && range.end > 1e2);
        let range = log_range(2.0, 7.0);
        assert!(range.start < 1.0 && range.end > 10.0 && range.end < 20.0);
        let range = log_range(1.6e-6, 0.5);
        assert!(range.start < 1e-6 && range.end > 1.0);
    }

    #[test]
    fn segments_break_at_points_log_axes_cannot_show() {
        let curve = Curve {
            label: "r".into(),
            x: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            y: vec![1.0, 0.5, 0.0, 0.25, f64::NAN, 0.1],
        };
        assert_eq!(
            drawable_segments(&curve),
            vec![
                vec![(1.0, 1.0), (2.0, 0.5)],
                vec![(4.0, 0.25)],
                vec![(6.0, 0.1)]
            ]
        );
    }
}
