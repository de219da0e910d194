//! The observable-against-time figure of a finite-m sweep: one curve per width m over a shaded
//! band (mean +- half width over seeds) beside the limit. The other sweep figure, the deviation
//! from the limit against m with fitted power laws, lives in [`scaling`](crate::plot::scaling)
//! and is re-exported here. Every statistic is computed by the caller; this module only draws,
//! in the layout of [`render_lines`](crate::plot::render_lines) (1200 x 800 px, PNG and SVG).

use std::ops::Range;
use std::path::Path;

use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::plot::chart::{
    Extent, LEGEND_SAMPLE, LINE_WIDTH, Layout, SAMPLE_LEGEND, clamp_into, drawable,
    drawable_in_words, drawable_segments, legend_label, length_mismatch, runs, spread_in_range,
};
use crate::plot::colormap::ColourMap;
use crate::plot::figure::{Curve, Scale};
use crate::plot::model::{
    Axis, Figure, Frame, Layer, Legend, LegendEntry, Line, Mark, Sample, render,
};
use crate::plot::style::PALETTE;

pub use super::points::render_points;
pub use super::scaling::{
    GuideCurve, PowerFit, ReferenceSlope, ScalingFigure, ScalingSeries, render_scaling,
    render_scaling_with_guides, render_scaling_with_slopes,
};

/// One width's curve: the mean over seeds of an observable at each time, and the half width of
/// the band drawn around it (typically 2 standard errors).
#[derive(Clone, Debug)]
pub struct BandCurve {
    /// Legend text (e.g. `m = 64`).
    pub label: String,
    /// Abscissae (times).
    pub x: Vec<f64>,
    /// Mean over seeds at each abscissa.
    pub mean: Vec<f64>,
    /// Half width of the band at each abscissa: the band spans mean +- half_width. A negative
    /// or non-finite half width leaves a gap in the band (not in the curve).
    pub half_width: Vec<f64>,
    /// The width m, which orders the curves and picks their colours.
    pub m: f64,
}

/// An observable against time, one banded curve per width m, and optionally the limit it
/// should approach.
#[derive(Clone, Debug)]
pub struct WidthCurves {
    /// Title drawn above the chart.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis (drawn rotated).
    pub y_label: String,
    /// Scale of the horizontal axis ([`Scale::Log`] for time in a sweep figure).
    pub x_scale: Scale,
    /// Scale of the vertical axis ([`Scale::Log`] for a risk, [`Scale::Linear`] for a signed
    /// observable).
    pub y_scale: Scale,
    /// One curve per width, in any order: they are coloured on viridis and listed by increasing
    /// m. A curve with m = infinity (a control's limit) is listed after them in the palette's
    /// colours.
    pub curves: Vec<BandCurve>,
    /// The limit (e.g. `reference (m = 65536)` or `limit ODE`), drawn as a dashed black line on
    /// top of the curves and listed last.
    pub reference: Option<Curve>,
}

/// Renders `figure` to `<stem>.png` (1200 x 800 px) and `<stem>.svg`, each written atomically.
///
/// Curves are coloured on viridis (its faint yellow end left out) in order of increasing m,
/// each over a band mean +- half_width in its own colour, semi-transparent; all bands are drawn
/// before all curves, so no band hides a curve. The reference is a dashed black line on top.
/// Points with a non-finite coordinate, or one <= 0 on a log axis (such as t = 0), are dropped
/// and the curve is broken there. On a log vertical axis a band's ends count towards the axis
/// range only within a factor 10 of the mean; beyond it (a lower end <= 0 included) the band is
/// cut at the axis. The legend lists the curves by increasing m, then the reference, in the
/// corner where it hides the fewest points.
///
/// # Errors
/// [`Error::Invalid`] if there is no curve, if a curve's `x`, `mean` and `half_width` differ in
/// length, or if no curve has a point the axes can show; [`Error::Io`] naming the image that
/// could not be drawn or written.
///
/// ```
/// use meanfield::plot::Scale;
/// use meanfield::plot::sweep::{BandCurve, WidthCurves, render_width_curves};
///
/// # let directory = std::env::temp_dir().join(format!("meanfield-sweep-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&directory)?;
/// let time: Vec<f64> = (0..=20).map(|k| 0.5 * f64::from(k)).collect(); // t = 0 is dropped
/// let curves = [64.0, 256.0]
///     .iter()
///     .map(|&m| BandCurve {
///         label: format!("m = {m}"),
///         x: time.clone(),
///         mean: time.iter().map(|t| 1.0 / (1.0 + t) + 1.0 / m).collect(),
///         half_width: vec![0.5 / m; time.len()],
///         m,
///     })
///     .collect();
/// let figure = WidthCurves {
///     title: "Risk at each width".into(),
///     x_label: "time t".into(),
///     y_label: "risk".into(),
///     x_scale: Scale::Log,
///     y_scale: Scale::Log,
///     curves,
///     reference: None,
/// };
/// render_width_curves(&figure, &directory.join("risk"))?; // risk.png and risk.svg
/// assert!(directory.join("risk.png").exists() && directory.join("risk.svg").exists());
/// # std::fs::remove_dir_all(&directory)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn render_width_curves(figure: &WidthCurves, stem: &Path) -> Result<()> {
    render(&WidthChart::new(figure)?.figure(), stem)
}

/// Opacity of a band's fill: overlapping bands of neighbouring widths stay distinguishable.
const BAND_OPACITY: f64 = 0.22;

/// The part of viridis used for widths: its yellow end is faint on white.
const VIRIDIS_END: f64 = 0.85;

/// A width-curves figure checked and cut into what its axes can show.
struct WidthChart<'a> {
    figure: &'a WidthCurves,
    /// Indices of the curves by increasing m (ties in the given order).
    order: Vec<usize>,
    /// Colour of each curve.
    colours: Vec<RGBColor>,
    /// For each curve, its runs of drawable (x, mean).
    lines: Vec<Vec<Vec<(f64, f64)>>>,
    /// For each curve, its runs of (x, mean - half_width, mean + half_width), not yet clamped
    /// to the axis.
    bands: Vec<Vec<Vec<(f64, f64, f64)>>>,
    /// Runs of drawable points of the reference.
    reference: Vec<Vec<(f64, f64)>>,
    x_range: Range<f64>,
    y_range: Range<f64>,
}

impl<'a> WidthChart<'a> {
    fn new(figure: &'a WidthCurves) -> Result<Self> {
        let title = &figure.title;
        if figure.curves.is_empty() {
            return Err(Error::invalid(
                format!("figure \"{title}\": curves"),
                "none",
                "at least one curve",
            ));
        }
        let (x_scale, y_scale) = (figure.x_scale, figure.y_scale);
        let point_drawable = |x: f64, y: f64| drawable(x, x_scale) && drawable(y, y_scale);
        let mut lines = Vec::new();
        let mut bands = Vec::new();
        let (mut x_extent, mut y_extent) = (Extent::default(), Extent::default());
        for curve in &figure.curves {
            let lengths = [curve.x.len(), curve.mean.len(), curve.half_width.len()];
            if lengths.iter().any(|&length| length != lengths[0]) {
                return Err(length_mismatch(
                    title,
                    &format!("curve \"{}\"", curve.label),
                    "x, mean, half_width",
                    &lengths,
                ));
            }
            let triples = || {
                curve
                    .x
                    .iter()
                    .zip(&curve.mean)
                    .zip(&curve.half_width)
                    .map(|((&x, &mean), &half_width)| (x, mean, half_width))
            };
            lines.push(runs(
                triples().map(|(x, mean, _)| point_drawable(x, mean).then_some((x, mean))),
            ));
            bands.push(runs(triples().map(|(x, mean, half_width)| {
                (point_drawable(x, mean) && half_width.is_finite() && half_width >= 0.0)
                    .then_some((x, mean - half_width, mean + half_width))
            })));
            for (x, mean, half_width) in triples().filter(|&(x, mean, _)| point_drawable(x, mean)) {
                x_extent.include(x);
                y_extent.include(mean);
                if half_width.is_finite() && half_width >= 0.0 {
                    let (low, high) =
                        spread_in_range(y_scale, mean, mean - half_width, mean + half_width);
                    y_extent.include(low);
                    y_extent.include(high);
                }
            }
        }
        if x_extent.0.is_none() {
            let points: usize = figure.curves.iter().map(|curve| curve.x.len()).sum();
            return Err(Error::invalid(
                format!("figure \"{title}\": drawable points of the curves"),
                format!("0 of {points}"),
                drawable_in_words(x_scale, y_scale, "x", "mean"),
            ));
        }
        let reference = figure
            .reference
            .as_ref()
            .map_or_else(Vec::new, |curve| drawable_segments(curve, x_scale, y_scale));
        for &(x, y) in reference.iter().flatten() {
            x_extent.include(x);
            y_extent.include(y);
        }
        let (Some(x_range), Some(y_range)) =
            (x_extent.axis_range(x_scale), y_extent.axis_range(y_scale))
        else {
            // Unreachable: the extents hold at least one curve point, checked above.
            return Err(Error::invalid(
                format!("figure \"{title}\": axis ranges"),
                "empty",
                "a drawable point",
            ));
        };

        let mut order: Vec<usize> = (0..figure.curves.len()).collect();
        order.sort_by(|&a, &b| figure.curves[a].m.total_cmp(&figure.curves[b].m));
        // The widths on the ramp; a curve whose m is not finite (a control limit) is not a
        // width and takes the palette's colours from vermillion on, so that it does not read as
        // one more width.
        let widths = order
            .iter()
            .filter(|&&i| figure.curves[i].m.is_finite())
            .count();
        let mut colours = vec![BLACK; figure.curves.len()];
        let last = (widths.max(2) - 1) as f64;
        for (rank, &index) in order.iter().enumerate() {
            colours[index] = if rank < widths {
                ColourMap::Viridis.at(VIRIDIS_END * rank as f64 / last)
            } else {
                PALETTE[(1 + rank - widths) % PALETTE.len()]
            };
        }
        Ok(Self {
            figure,
            order,
            colours,
            lines,
            bands,
            reference,
            x_range,
            y_range,
        })
    }

    fn legend_labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = self
            .order
            .iter()
            .map(|&index| {
                legend_label(
                    &self.figure.curves[index].label,
                    self.lines[index].is_empty(),
                )
            })
            .collect();
        if let Some(reference) = &self.figure.reference {
            labels.push(legend_label(&reference.label, self.reference.is_empty()));
        }
        labels
    }

    /// The band runs clamped to the vertical axis, as polygons (upper edge, then lower edge
    /// backwards).
    fn band_polygons(&self, curve: usize) -> Vec<Vec<(f64, f64)>> {
        self.bands[curve]
            .iter()
            .map(|run| {
                let upper = run
                    .iter()
                    .map(|&(x, _, high)| (x, clamp_into(&self.y_range, high)));
                let lower = run
                    .iter()
                    .rev()
                    .map(|&(x, low, _)| (x, clamp_into(&self.y_range, low)));
                upper.chain(lower).collect()
            })
            .collect()
    }

    fn legend_corner(&self) -> SeriesLabelPosition {
        let figure = self.figure;
        let mut layout = Layout::new(
            figure.x_scale,
            figure.y_scale,
            self.x_range.clone(),
            self.y_range.clone(),
        );
        for run in self.lines.iter().flatten().chain(&self.reference) {
            layout.add_line(run);
        }
        for curve in 0..self.bands.len() {
            for polygon in self.band_polygons(curve) {
                layout.add_line(&polygon);
            }
        }
        layout.legend_corner(SAMPLE_LEGEND.size_for(&self.legend_labels()))
    }
}

impl WidthChart<'_> {
    /// The chart as a [`Figure`]: every band below every curve (a band never hides a curve of
    /// another width), the curves by increasing m, the reference on top, then the legend.
    fn figure(&self) -> Figure {
        let figure = self.figure;
        let mut layers = Vec::new();
        for &index in &self.order {
            let fill = self.colours[index].mix(BAND_OPACITY);
            for polygon in self.band_polygons(index) {
                if polygon.len() == 2 {
                    // A band at a lone point: a short vertical stroke.
                    layers.push(Layer::Paths {
                        paths: vec![polygon],
                        style: fill.stroke_width(LINE_WIDTH + 4),
                        dash: None,
                    });
                } else {
                    layers.push(Layer::Area {
                        vertices: polygon,
                        style: fill.filled(),
                    });
                }
            }
        }
        for &index in &self.order {
            let colour = self.colours[index];
            let line = colour.stroke_width(LINE_WIDTH);
            for run in &self.lines[index] {
                layers.push(Layer::Line(Line::new(run.clone(), line, None)));
                if let [point] = run.as_slice() {
                    layers.push(lone_point(*point, colour.filled()));
                }
            }
        }
        let dashed = BLACK.stroke_width(LINE_WIDTH - 1);
        for run in &self.reference {
            layers.push(Layer::Line(Line::new(run.clone(), dashed, Some((18, 10)))));
            if let [point] = run.as_slice() {
                layers.push(lone_point(*point, BLACK.filled()));
            }
        }

        let labels = self.legend_labels();
        for (&index, label) in self.order.iter().zip(&labels) {
            let colour = self.colours[index];
            layers.push(Layer::Entry(LegendEntry {
                label: label.clone(),
                sample: Sample::Band {
                    length: LEGEND_SAMPLE,
                    half_height: 13,
                    fill: colour.mix(BAND_OPACITY).filled(),
                    line: colour.stroke_width(LINE_WIDTH),
                },
            }));
        }
        if let Some(label) = labels.get(self.order.len()) {
            layers.push(Layer::Entry(LegendEntry {
                label: label.clone(),
                sample: Sample::Line {
                    from: 0,
                    to: LEGEND_SAMPLE,
                    style: dashed,
                    dash: Some((12, 6)),
                },
            }));
        }
        Figure {
            frame: Frame::new(
                &figure.title,
                Axis::new(&figure.x_label, figure.x_scale, self.x_range.clone()),
                Axis::new(&figure.y_label, figure.y_scale, self.y_range.clone()),
            ),
            layers,
            legend: Some(Legend {
                style: SAMPLE_LEGEND,
                corner: self.legend_corner(),
            }),
        }
    }
}

/// The dot drawn at a run of a single point, which a line cannot show.
fn lone_point(point: (f64, f64), style: ShapeStyle) -> Layer {
    Layer::Marks {
        points: vec![point],
        mark: Mark::Dot(5),
        style,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

    use super::*;

    #[test]
    fn widths_are_coloured_in_order_of_m() {
        let curve = |m: f64| BandCurve {
            label: format!("m = {m}"),
            x: vec![1.0, 2.0],
            mean: vec![1.0, 0.5],
            half_width: vec![0.1, 0.1],
            m,
        };
        let figure = WidthCurves {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            curves: vec![curve(1024.0), curve(64.0), curve(256.0)],
            reference: None,
        };
        let chart = WidthChart::new(&figure).unwrap();
        assert_eq!(chart.order, [1, 2, 0]);
        assert_eq!(chart.colours[1], ColourMap::Viridis.at(0.0));
        assert_eq!(chart.colours[0], ColourMap::Viridis.at(VIRIDIS_END));
        assert_eq!(chart.legend_labels(), ["m = 64", "m = 256", "m = 1024"]);
    }
}
