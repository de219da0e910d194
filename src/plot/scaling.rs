//! The scaling figure of a finite-m sweep: a quantity (typically the deviation from the limit
//! at a few times) against the width m on log-log axes, with error bars, fitted power laws
//! C m^slope and the guides m^-1 and m^-1/2 (other guides with [`render_scaling_with_slopes`],
//! e.g. for the time of a step against m in `meanfield bench --scaling`). Every statistic is
//! computed by the caller; this module only draws, in the layout of
//! [`render_lines`](crate::plot::render_lines) (1200 x 800 px, PNG and SVG). Its public items
//! are re-exported from [`sweep`](crate::plot::sweep).

use std::ops::Range;
use std::path::Path;

use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::plot::chart::{
    Extent, LEGEND_SAMPLE, LINE_WIDTH, Layout, SAMPLE_LEGEND, Segment, clamp_into, drawable,
    drawable_in_words, legend_label, length_mismatch, power_line_in, spread_in_range,
};
use crate::plot::figure::Scale;
use crate::plot::model::{
    Axis, Figure, Frame, Layer, Legend, LegendEntry, Line, Mark, MarkerSet, Sample, marker, render,
};
use crate::plot::style::{GUIDE_GREY, GUIDE_WIDTH, PALETTE, guide_dash};

/// A power law C m^slope fitted to one series, with an interval for the slope.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PowerFit {
    /// Fitted exponent of m.
    pub slope: f64,
    /// Natural logarithm of the prefactor C: the line is exp(intercept_log) * m^slope.
    pub intercept_log: f64,
    /// Lower end of the interval of the slope.
    pub lo: f64,
    /// Upper end of the interval of the slope.
    pub hi: f64,
}

/// One series of a scaling figure: a quantity measured at several widths m (e.g. the deviation
/// from the limit at time t = 1), with an interval at each m and optionally a fitted power law.
#[derive(Clone, Debug)]
pub struct ScalingSeries {
    /// Legend text (e.g. `t = 1`); the slope of `fit` is appended to it.
    pub label: String,
    /// Widths.
    pub m: Vec<f64>,
    /// The quantity at each width.
    pub value: Vec<f64>,
    /// Lower end of the error bar at each width.
    pub lo: Vec<f64>,
    /// Upper end of the error bar at each width.
    pub hi: Vec<f64>,
    /// The power law fitted to this series, drawn over the series' range of m.
    pub fit: Option<PowerFit>,
}

/// A quantity against the width m on log-log axes, one series per chosen time.
#[derive(Clone, Debug)]
pub struct ScalingFigure {
    /// Title drawn above the chart.
    pub title: String,
    /// Label of the horizontal axis (e.g. `width m`).
    pub x_label: String,
    /// Label of the vertical axis (drawn rotated).
    pub y_label: String,
    /// Series, drawn in order with the colours of [`PALETTE`] and distinct marker shapes.
    pub series: Vec<ScalingSeries>,
}

/// Renders `figure` to `<stem>.png` (1200 x 800 px) and `<stem>.svg`, each written atomically.
///
/// Both axes are logarithmic. Each series is drawn as markers (circle, square, triangle,
/// diamond, ...) with vertical error bars from `lo` to `hi`, in the colours of [`PALETTE`];
/// when several series are drawn, series k of n is shifted sideways by a factor
/// 10^(0.012 (k - (n - 1) / 2)) (under 3% of m for up to 5 series) so that the bars of a width do
/// not hide each other. A series' fit is the solid line exp(intercept_log) m^slope over the
/// series' range of m, and its legend entry reads `t = 1: slope -0.98 [-1.05, -0.91]`. The guides
/// m^-1 and m^-1/2 are dashed grey lines through the first point of the first series that has
/// one, across the whole chart. Points with m <= 0 or value <= 0, or non-finite, are not drawn;
/// an error bar end counts towards the axis range only within a factor 10 of its value, and is
/// cut at the axis beyond (a lower end <= 0 included).
///
/// # Errors
/// [`Error::Invalid`] if there is no series, if a series' `m`, `value`, `lo` and `hi` differ in
/// length, or if no series has a point with m > 0 and value > 0; [`Error::Io`] naming the image
/// that could not be drawn or written.
///
/// ```
/// use meanfield::plot::sweep::{PowerFit, ScalingFigure, ScalingSeries, render_scaling};
///
/// # let directory = std::env::temp_dir().join(format!("meanfield-scaling-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&directory)?;
/// let m = vec![64.0, 256.0, 1024.0, 4096.0];
/// let value: Vec<f64> = m.iter().map(|m| 2.0 / m).collect();
/// let series = ScalingSeries {
///     label: "t = 1".into(),
///     lo: value.iter().map(|v| 0.8 * v).collect(),
///     hi: value.iter().map(|v| 1.2 * v).collect(),
///     value,
///     m,
///     fit: Some(PowerFit { slope: -1.0, intercept_log: 2_f64.ln(), lo: -1.1, hi: -0.9 }),
/// };
/// let figure = ScalingFigure {
///     title: "Deviation from the limit".into(),
///     x_label: "width m".into(),
///     y_label: "|R_m(t) - R(t)|".into(),
///     series: vec![series],
/// };
/// render_scaling(&figure, &directory.join("scaling"))?; // scaling.png and scaling.svg
/// assert!(directory.join("scaling.png").exists());
/// # std::fs::remove_dir_all(&directory)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn render_scaling(figure: &ScalingFigure, stem: &Path) -> Result<()> {
    let slopes = [
        ReferenceSlope {
            slope: -1.0,
            label: "m^-1".into(),
        },
        ReferenceSlope {
            slope: -0.5,
            label: "m^-1/2".into(),
        },
    ];
    render_scaling_with_slopes(figure, &slopes, stem)
}

/// A theory guide of a scaling figure that is not a power law (e.g. log d): a dashed line in
/// the colour of the series it belongs to, without markers, so that it does not read as data.
#[derive(Clone, Debug, PartialEq)]
pub struct GuideCurve {
    /// Legend text (e.g. `guide j = 2: log d`).
    pub label: String,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Ordinates (points that a log axis cannot show are left out).
    pub y: Vec<f64>,
    /// Index of the series whose colour the guide takes.
    pub series: usize,
}

/// [`render_scaling_with_slopes`] with theory guides drawn as dashed lines in the colours of
/// their series ([`GuideCurve`]), listed in the legend after the series and the slopes.
///
/// # Errors
/// As [`render_scaling`], and [`Error::Invalid`] if a guide's `x` and `y` differ in length.
pub fn render_scaling_with_guides(
    figure: &ScalingFigure,
    slopes: &[ReferenceSlope],
    guides: &[GuideCurve],
    stem: &Path,
) -> Result<()> {
    render(
        &ScalingChart::new_with(figure, slopes, guides)?.figure(),
        stem,
    )
}

/// A dashed grey reference line C m^slope of a scaling figure, drawn through the first point of
/// the first series that has one.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceSlope {
    /// The exponent.
    pub slope: f64,
    /// Legend text (e.g. `m^2`).
    pub label: String,
}

/// [`render_scaling`] with other reference lines than m^-1 and m^-1/2 (none when `slopes` is
/// empty), e.g. m^2 and m for the time of a step against the width. Dashes are long for the
/// first reference, short for the second, medium for further ones.
///
/// # Errors
/// As [`render_scaling`].
pub fn render_scaling_with_slopes(
    figure: &ScalingFigure,
    slopes: &[ReferenceSlope],
    stem: &Path,
) -> Result<()> {
    render(&ScalingChart::new(figure, slopes)?.figure(), stem)
}

/// [`render_scaling_with_slopes`] with series i drawn in the colour and marker shape of index
/// `looks[i]` (its own index where `looks` is shorter), so that a series shown again in a second
/// figure keeps the look it has in the first.
pub(crate) fn render_scaling_looking(
    figure: &ScalingFigure,
    slopes: &[ReferenceSlope],
    looks: &[usize],
    stem: &Path,
) -> Result<()> {
    let mut chart = ScalingChart::new(figure, slopes)?;
    chart.looks = looks.to_vec();
    render(&chart.figure(), stem)
}

/// Sideways shift between neighbouring series of a scaling figure, in decades of m.
const DODGE_DECADES: f64 = 0.012;

/// A scaling figure checked and cut into what its axes can show.
struct ScalingChart<'a> {
    figure: &'a ScalingFigure,
    /// For each series, its drawable (m, value).
    points: Vec<Vec<(f64, f64)>>,
    /// For each series, the error bars at its drawable points.
    bars: Vec<Vec<Bar>>,
    /// For each series, its fitted line, when it has one that can be drawn.
    fits: Vec<Option<Segment>>,
    /// The reference slopes that cross the chart, with the part that does.
    guides: Vec<(Guide, Segment)>,
    /// The theory guides: their series index, legend text and drawable points.
    curves: Vec<DrawnGuide>,
    /// Per series, the index of its colour and marker shape (its own index where not given).
    looks: Vec<usize>,
    x_range: Range<f64>,
    y_range: Range<f64>,
}

/// A theory guide ready to draw: the index of its series (its colour), its legend text and its
/// drawable points.
type DrawnGuide = (usize, String, Vec<(f64, f64)>);

/// An error bar clamped to the vertical axis: an end cut at the axis gets no cap, so that it
/// does not read as the end of the interval.
#[derive(Clone, Copy, Debug)]
struct Bar {
    m: f64,
    low: f64,
    high: f64,
    low_capped: bool,
    high_capped: bool,
}

impl Bar {
    fn new(m: f64, low: f64, high: f64, y_range: &Range<f64>) -> Self {
        let inside = |end: f64| (y_range.start..=y_range.end).contains(&end);
        Self {
            m,
            low: clamp_into(y_range, low),
            high: clamp_into(y_range, high),
            low_capped: inside(low),
            high_capped: inside(high),
        }
    }
}

/// A reference slope of a scaling figure.
#[derive(Clone, Debug)]
struct Guide {
    slope: f64,
    label: String,
    /// Length of its dashes in pixels (long for the first, e.g. m^-1, short for the second).
    dash: u32,
}

/// Dash length of the theory guides ([`GuideCurve`]).
const CURVE_DASH: u32 = 10;

/// Legend text of a series: its label, then the fitted slope and its interval.
fn fit_label(label: &str, fit: Option<&PowerFit>) -> String {
    match fit {
        Some(fit) if fit.lo.is_finite() && fit.hi.is_finite() => format!(
            "{label}: slope {:.2} [{:.2}, {:.2}]",
            fit.slope, fit.lo, fit.hi
        ),
        Some(fit) => format!("{label}: slope {:.2}", fit.slope),
        None => label.to_owned(),
    }
}

/// `y_range` with its top raised, where needed, so that an upper corner of the plot holds the
/// legend of `labels` without covering a data point or an error bar end (`data`): a legend
/// over the data would hide what the figure shows. Unchanged where some corner is already free.
fn with_legend_room(
    x_range: &Range<f64>,
    y_range: Range<f64>,
    data: &[(f64, f64)],
    labels: &[String],
) -> Range<f64> {
    // The plotting area in pixels as laid out by `framed_chart` (chart.rs's Layout).
    let (width, height) = SAMPLE_LEGEND.size_for(labels);
    let (legend_x, legend_y) = (width / 1000.0, height / 620.0);
    let fraction = |value: f64, range: &Range<f64>| {
        (value.ln() - range.start.ln()) / (range.end.ln() - range.start.ln())
    };
    let covered = |range: &Range<f64>, right: bool, upper: bool| {
        data.iter().any(|&(x, y)| {
            let (fx, fy) = (fraction(x, x_range), fraction(y, range));
            let inside_x = if right {
                fx > 1.0 - legend_x
            } else {
                fx < legend_x
            };
            let inside_y = if upper {
                fy > 1.0 - legend_y
            } else {
                fy < legend_y
            };
            inside_x && inside_y
        })
    };
    let corners = [(true, true), (false, true), (true, false), (false, false)];
    if legend_y >= 0.9 || corners.iter().any(|&(r, u)| !covered(&y_range, r, u)) {
        return y_range;
    }
    let highest = data.iter().fold(y_range.start, |top, &(_, y)| top.max(y));
    // The data end below the legend (and a 3 % margin) on the raised log axis.
    let span = (highest.ln() - y_range.start.ln()) / (1.0 - legend_y - 0.03);
    let top = (y_range.start.ln() + span).exp();
    y_range.start..top.max(y_range.end)
}

/// An error bar before it is cut at the axis: (m, value, low end, high end).
type RawBar = (f64, f64, f64, f64);

/// The drawable points of `series`, its error bars there as (m, value, low end, high end), and
/// the ends of its fitted line over its range of m (if it has a drawable one), each counted into
/// the axis extents.
///
/// # Errors
/// [`Error::Invalid`] if `m`, `value`, `lo` and `hi` differ in length.
#[expect(
    clippy::type_complexity,
    reason = "the three parts of one series, named above"
)]
fn series_parts(
    title: &str,
    series: &ScalingSeries,
    x_extent: &mut Extent,
    y_extent: &mut Extent,
) -> Result<(Vec<(f64, f64)>, Vec<RawBar>, Option<Segment>)> {
    let positive = |value: f64| drawable(value, Scale::Log);
    let lengths = [
        series.m.len(),
        series.value.len(),
        series.lo.len(),
        series.hi.len(),
    ];
    if lengths.iter().any(|&length| length != lengths[0]) {
        return Err(length_mismatch(
            title,
            &format!("series \"{}\"", series.label),
            "m, value, lo, hi",
            &lengths,
        ));
    }
    let mut points = Vec::new();
    let mut bars = Vec::new();
    let mut m_extent = Extent::default();
    for (((&m, &value), &lo), &hi) in series
        .m
        .iter()
        .zip(&series.value)
        .zip(&series.lo)
        .zip(&series.hi)
        .filter(|(((m, value), _), _)| positive(**m) && positive(**value))
    {
        points.push((m, value));
        x_extent.include(m);
        m_extent.include(m);
        y_extent.include(value);
        if lo.is_finite() && hi.is_finite() {
            bars.push((m, value, lo.min(hi), lo.max(hi)));
            let (low, high) = spread_in_range(Scale::Log, value, lo.min(hi), lo.max(hi));
            y_extent.include(low);
            y_extent.include(high);
        }
    }
    let span = series
        .fit
        .as_ref()
        .zip(m_extent.0)
        .and_then(|(fit, (m_low, m_high))| {
            let line = |m: f64| (m, (fit.intercept_log + fit.slope * m.ln()).exp());
            let ends = [line(m_low), line(m_high)];
            ends.iter().all(|&(_, y)| positive(y)).then_some(ends)
        });
    for &(_, y) in span.iter().flatten() {
        y_extent.include(y);
    }
    Ok((points, bars, span))
}

/// The legend texts of a scaling chart: the series (with their fits), the reference slopes,
/// the theory guides.
fn chart_labels(
    figure: &ScalingFigure,
    points: &[Vec<(f64, f64)>],
    slopes: &[ReferenceSlope],
    curves: &[DrawnGuide],
) -> Vec<String> {
    figure
        .series
        .iter()
        .zip(points)
        .map(|(series, points)| {
            legend_label(
                &fit_label(&series.label, series.fit.as_ref()),
                points.is_empty(),
            )
        })
        .chain(slopes.iter().map(|reference| reference.label.clone()))
        .chain(curves.iter().map(|(_, label, _)| label.clone()))
        .collect()
}

/// The drawable points of each theory guide, counted into the axis extents.
///
/// # Errors
/// [`Error::Invalid`] if a guide's `x` and `y` differ in length.
fn drawn_guides(
    title: &str,
    guide_curves: &[GuideCurve],
    x_extent: &mut Extent,
    y_extent: &mut Extent,
) -> Result<Vec<DrawnGuide>> {
    let positive = |value: f64| drawable(value, Scale::Log);
    let mut curves = Vec::new();
    for curve in guide_curves {
        if curve.x.len() != curve.y.len() {
            return Err(length_mismatch(
                title,
                &format!("guide \"{}\"", curve.label),
                "x, y",
                &[curve.x.len(), curve.y.len()],
            ));
        }
        let drawn: Vec<(f64, f64)> = curve
            .x
            .iter()
            .zip(&curve.y)
            .map(|(&x, &y)| (x, y))
            .filter(|&(x, y)| positive(x) && positive(y))
            .collect();
        for &(x, y) in &drawn {
            x_extent.include(x);
            y_extent.include(y);
        }
        curves.push((curve.series, curve.label.clone(), drawn));
    }
    Ok(curves)
}

impl<'a> ScalingChart<'a> {
    fn new(figure: &'a ScalingFigure, slopes: &[ReferenceSlope]) -> Result<Self> {
        Self::new_with(figure, slopes, &[])
    }

    fn new_with(
        figure: &'a ScalingFigure,
        slopes: &[ReferenceSlope],
        guide_curves: &[GuideCurve],
    ) -> Result<Self> {
        let title = &figure.title;
        if figure.series.is_empty() {
            return Err(Error::invalid(
                format!("figure \"{title}\": series"),
                "none",
                "at least one series",
            ));
        }
        let positive = |value: f64| drawable(value, Scale::Log);
        let (mut x_extent, mut y_extent) = (Extent::default(), Extent::default());
        let mut points = Vec::new();
        let mut raw_bars = Vec::new();
        let mut fit_spans = Vec::new();
        for series in &figure.series {
            let (series_points, series_bars, span) =
                series_parts(title, series, &mut x_extent, &mut y_extent)?;
            points.push(series_points);
            raw_bars.push(series_bars);
            fit_spans.push(span);
        }
        let curves = drawn_guides(title, guide_curves, &mut x_extent, &mut y_extent)?;
        let (Some(x_range), Some(y_range)) = (
            x_extent.axis_range(Scale::Log),
            y_extent.axis_range(Scale::Log),
        ) else {
            let total: usize = figure.series.iter().map(|series| series.m.len()).sum();
            return Err(Error::invalid(
                format!("figure \"{title}\": drawable points of the series"),
                format!("0 of {total}"),
                drawable_in_words(Scale::Log, Scale::Log, "m", "value"),
            ));
        };
        let labels = chart_labels(figure, &points, slopes, &curves);
        let data: Vec<(f64, f64)> = points
            .iter()
            .flatten()
            .copied()
            .chain(
                curves
                    .iter()
                    .flat_map(|(_, _, drawn)| drawn.iter().copied()),
            )
            .chain(
                raw_bars
                    .iter()
                    .flatten()
                    .flat_map(|&(m, _, lo, hi)| [(m, lo), (m, hi)])
                    .filter(|&(_, y)| positive(y)),
            )
            .collect();
        let y_range = with_legend_room(&x_range, y_range, &data, &labels);
        let bars = raw_bars
            .iter()
            .map(|series_bars| {
                series_bars
                    .iter()
                    .map(|&(m, _, lo, hi)| Bar::new(m, lo, hi, &y_range))
                    .collect()
            })
            .collect();
        let anchor = points.iter().find_map(|series| series.first().copied());
        let guides = anchor.map_or_else(Vec::new, |anchor| {
            slopes
                .iter()
                .enumerate()
                .filter_map(|(index, reference)| {
                    let guide = Guide {
                        slope: reference.slope,
                        label: reference.label.clone(),
                        dash: guide_dash(index).0,
                    };
                    power_line_in(anchor, guide.slope, &x_range, &y_range).map(|ends| (guide, ends))
                })
                .collect()
        });
        Ok(Self {
            figure,
            points,
            bars,
            fits: fit_spans,
            guides,
            curves,
            looks: Vec::new(),
            x_range,
            y_range,
        })
    }

    /// The index of the colour and marker shape of series `index`.
    fn look(&self, index: usize) -> usize {
        self.looks.get(index).copied().unwrap_or(index)
    }

    /// The colour of series `index`.
    fn colour(&self, index: usize) -> RGBColor {
        PALETTE[self.look(index) % PALETTE.len()]
    }

    fn legend_labels(&self) -> Vec<String> {
        let series = self
            .figure
            .series
            .iter()
            .zip(&self.points)
            .map(|(series, points)| {
                legend_label(
                    &fit_label(&series.label, series.fit.as_ref()),
                    points.is_empty(),
                )
            });
        series
            .chain(self.guides.iter().map(|(guide, _)| guide.label.clone()))
            .chain(self.curves.iter().map(|(_, label, _)| label.clone()))
            .collect()
    }

    /// The factor by which series `index` is shifted sideways.
    fn dodge(&self, index: usize) -> f64 {
        let count = self.figure.series.len() as f64;
        10_f64.powf(DODGE_DECADES * (index as f64 - 0.5 * (count - 1.0)))
    }

    fn legend_corner(&self) -> SeriesLabelPosition {
        let mut layout = Layout::new(
            Scale::Log,
            Scale::Log,
            self.x_range.clone(),
            self.y_range.clone(),
        );
        for &point in self.points.iter().flatten() {
            layout.add_line(&[point]);
        }
        for bar in self.bars.iter().flatten() {
            layout.add_line(&[(bar.m, bar.low), (bar.m, bar.high)]);
        }
        for ends in self.fits.iter().flatten() {
            layout.add_line(ends);
        }
        for (_, ends) in &self.guides {
            layout.add_line(ends);
        }
        for (_, _, drawn) in &self.curves {
            layout.add_line(drawn);
        }
        layout.legend_corner(SAMPLE_LEGEND.size_for(&self.legend_labels()))
    }
}

/// Half width of the caps of an error bar in pixels.
const CAP: i32 = 9;

/// The markers of the series: all five shapes.
const MARKERS: MarkerSet = MarkerSet { count: 5 };

impl ScalingChart<'_> {
    /// The theory guides, dashed in their series' colours.
    fn guide_lines(&self) -> Vec<Layer> {
        self.curves
            .iter()
            .map(|(index, _, drawn)| {
                Layer::Line(Line::new(
                    drawn.clone(),
                    self.colour(*index).stroke_width(3),
                    Some((CURVE_DASH, 8)),
                ))
            })
            .collect()
    }

    /// The legend entries of the theory guides.
    fn guide_entries(&self) -> Vec<Layer> {
        self.curves
            .iter()
            .map(|(index, label, _)| {
                Layer::Entry(LegendEntry {
                    label: label.clone(),
                    sample: Sample::Line {
                        from: 0,
                        to: LEGEND_SAMPLE,
                        style: self.colour(*index).stroke_width(3),
                        dash: Some((CURVE_DASH, 6)),
                    },
                })
            })
            .collect()
    }

    /// The chart as a [`Figure`]: the guides, the fitted lines, each series' error bars, caps
    /// and markers, then the legend entries (series, then guides) and the legend box.
    fn figure(&self) -> Figure {
        let figure = self.figure;
        let mut layers = Vec::new();
        for (guide, ends) in &self.guides {
            layers.push(Layer::Line(Line::new(
                ends.to_vec(),
                GUIDE_GREY.stroke_width(GUIDE_WIDTH),
                Some((guide.dash, guide_dash(0).1)),
            )));
        }
        layers.extend(self.guide_lines());
        for (index, ends) in self.fits.iter().enumerate() {
            if let Some(ends) = ends {
                let colour = self.colour(index);
                layers.push(Layer::Line(Line::new(
                    ends.to_vec(),
                    colour.stroke_width(LINE_WIDTH - 1),
                    None,
                )));
            }
        }
        for (index, (points, bars)) in self.points.iter().zip(&self.bars).enumerate() {
            let colour = self.colour(index);
            let dodge = self.dodge(index);
            let stroke = colour.stroke_width(3);
            layers.push(Layer::Paths {
                paths: bars
                    .iter()
                    .map(|bar| vec![(bar.m * dodge, bar.low), (bar.m * dodge, bar.high)])
                    .collect(),
                style: stroke,
                dash: None,
            });
            let caps = bars.iter().flat_map(|bar| {
                [(bar.low, bar.low_capped), (bar.high, bar.high_capped)]
                    .into_iter()
                    .filter(|&(_, capped)| capped)
                    .map(move |(end, _)| (bar.m * dodge, end))
            });
            layers.push(Layer::Marks {
                points: caps.collect(),
                mark: Mark::Cap(CAP),
                style: stroke,
            });
            layers.push(Layer::Marks {
                points: points
                    .iter()
                    .map(|&(m, value)| (m * dodge, value))
                    .collect(),
                mark: Mark::Shape(marker(MARKERS, self.look(index))),
                style: colour.filled(),
            });
        }

        let labels = self.legend_labels();
        for (index, (series, label)) in figure.series.iter().zip(&labels).enumerate() {
            let colour = self.colour(index);
            layers.push(Layer::Entry(LegendEntry {
                label: label.clone(),
                sample: Sample::Marker {
                    reach: if series.fit.is_some() {
                        LEGEND_SAMPLE
                    } else {
                        0
                    },
                    line: colour.stroke_width(LINE_WIDTH - 1),
                    centre: LEGEND_SAMPLE / 2,
                    shape: marker(MARKERS, self.look(index)),
                    fill: colour.filled(),
                },
            }));
        }
        for (label, (guide, _)) in labels[figure.series.len()..].iter().zip(&self.guides) {
            layers.push(Layer::Entry(LegendEntry {
                label: label.clone(),
                sample: Sample::Line {
                    from: 0,
                    to: LEGEND_SAMPLE,
                    style: GUIDE_GREY.stroke_width(GUIDE_WIDTH),
                    dash: Some((guide.dash.min(14), 6)),
                },
            }));
        }
        layers.extend(self.guide_entries());
        Figure {
            frame: Frame::new(
                &figure.title,
                Axis::new(&figure.x_label, Scale::Log, self.x_range.clone()),
                Axis::new(&figure.y_label, Scale::Log, self.y_range.clone()),
            ),
            layers,
            legend: Some(Legend {
                style: SAMPLE_LEGEND,
                corner: self.legend_corner(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

    use super::*;

    #[test]
    fn fit_label_carries_slope_and_interval_to_two_decimals() {
        let fit = PowerFit {
            slope: -0.981,
            intercept_log: 0.0,
            lo: -1.049,
            hi: -0.914,
        };
        assert_eq!(
            fit_label("t = 1", Some(&fit)),
            "t = 1: slope -0.98 [-1.05, -0.91]"
        );
        let open = PowerFit {
            lo: f64::NAN,
            ..fit
        };
        assert_eq!(fit_label("t = 1", Some(&open)), "t = 1: slope -0.98");
        assert_eq!(fit_label("t = 1", None), "t = 1");
    }
}
