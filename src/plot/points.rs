//! A [`ScalingFigure`] drawn as joined points (the gallery's `features` and `separation`
//! entries): as [`render_scaling_with_slopes`](crate::plot::sweep::render_scaling_with_slopes)
//! draws it, except that a series without a fit has its points joined by a thin line, the error
//! bars are not dodged, and the vertical axis reaches far enough above the data for the legend,
//! always in the upper right corner, to hide no point, bar or line: with few points no corner of
//! the data's own range is free. Every statistic is computed by the caller.

use std::ops::Range;
use std::path::Path;

use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::plot::chart::{
    Extent, LEGEND_SAMPLE, LINE_WIDTH, SAMPLE_LEGEND, Segment, drawable, power_line_in,
};
use crate::plot::figure::Scale;
use crate::plot::model::{
    Axis, Figure, Frame, Layer, Legend, LegendEntry, Line, Mark, MarkerSet, Sample, marker, render,
};
use crate::plot::style::{GUIDE_GREY, GUIDE_WIDTH, PALETTE, guide_dash};
use crate::plot::sweep::{ReferenceSlope, ScalingFigure};

/// Renders `figure` to `<stem>.png` and `<stem>.svg` (1200 x 800 px, log-log axes): one marker
/// shape (circle, square, triangle, diamond) and colour per series, a bar from `lo` to `hi`
/// with caps, the fitted power law as a line through the series' widths (its legend entry
/// reads `label: slope -0.98`), or without a fit the points joined by a thin line, and the
/// reference slopes dashed grey through the first drawable point of the first series. The
/// legend sits in the upper right corner, above the data.
///
/// # Errors
/// [`Error::Invalid`] if no series has a point with x > 0 and value > 0; [`Error::Io`] naming
/// the image that could not be drawn or written.
pub fn render_points(figure: &ScalingFigure, slopes: &[ReferenceSlope], stem: &Path) -> Result<()> {
    render(&PointsChart::new(figure, slopes)?.figure(), stem)
}

/// A [`ScalingFigure`] laid out by [`render_points`].
struct PointsChart<'a> {
    figure: &'a ScalingFigure,
    /// Legend texts: the series (with their slopes), then the reference slopes.
    labels: Vec<String>,
    /// The reference slopes' segments inside the chart.
    guides: Vec<Segment>,
    x_range: Range<f64>,
    y_range: Range<f64>,
}

/// Half width of the caps of a bar, in pixels.
const CAP: i32 = 9;

/// The markers of the series: circle, square, triangle, diamond, then again.
const MARKERS: MarkerSet = MarkerSet { count: 4 };

/// Whether (x, y) can be drawn on log-log axes.
fn positive(x: f64, y: f64) -> bool {
    drawable(x, Scale::Log) && drawable(y, Scale::Log)
}

impl<'a> PointsChart<'a> {
    fn new(figure: &'a ScalingFigure, slopes: &[ReferenceSlope]) -> Result<Self> {
        let (mut x_extent, mut y_extent) = (Extent::default(), Extent::default());
        for series in &figure.series {
            for (index, (&x, &value)) in series.m.iter().zip(&series.value).enumerate() {
                if !positive(x, value) {
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
        // by the model's frame), with its margin: the data keep the rest.
        let legend = SAMPLE_LEGEND.size_for(&labels).1 + 2.0 * f64::from(SAMPLE_LEGEND.margin);
        let kept = (1.0 - legend / 620.0).max(0.3);
        let (low, high) = (data_range.start.ln(), data_range.end.ln());
        let y_range = data_range.start..(low + (high - low) / kept).exp();
        let anchor = figure.series.first().and_then(|series| {
            series
                .m
                .iter()
                .zip(&series.value)
                .find(|(x, v)| positive(**x, **v))
                .map(|(&x, &v)| (x, v))
        });
        let guides = anchor.map_or_else(Vec::new, |anchor| {
            slopes
                .iter()
                .filter_map(|slope| power_line_in(anchor, slope.slope, &x_range, &y_range))
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

    /// The chart as a [`Figure`]: the guides, then each series' line, bars, caps and markers,
    /// then the legend entries and the legend box.
    fn figure(&self) -> Figure {
        let grey = GUIDE_GREY.stroke_width(GUIDE_WIDTH);
        let mut layers: Vec<Layer> = self
            .guides
            .iter()
            .map(|guide| Layer::Line(Line::new(guide.to_vec(), grey, Some(guide_dash(0)))))
            .collect();
        for (index, series) in self.figure.series.iter().enumerate() {
            series_layers(&mut layers, series, index);
        }
        for (index, label) in self.labels.iter().enumerate() {
            let sample = if index < self.figure.series.len() {
                let colour = PALETTE[index % PALETTE.len()];
                Sample::Marker {
                    reach: LEGEND_SAMPLE,
                    line: colour.stroke_width(LINE_WIDTH - 1),
                    centre: LEGEND_SAMPLE / 2,
                    shape: marker(MARKERS, index),
                    fill: colour.filled(),
                }
            } else {
                Sample::Line {
                    from: 0,
                    to: LEGEND_SAMPLE,
                    style: grey,
                    dash: Some((14, 6)),
                }
            };
            layers.push(Layer::Entry(LegendEntry {
                label: label.clone(),
                sample,
            }));
        }
        let figure = self.figure;
        Figure {
            frame: Frame::new(
                &figure.title,
                Axis::new(&figure.x_label, Scale::Log, self.x_range.clone()),
                Axis::new(&figure.y_label, Scale::Log, self.y_range.clone()),
            ),
            layers,
            legend: Some(Legend {
                style: SAMPLE_LEGEND,
                corner: SeriesLabelPosition::UpperRight,
            }),
        }
    }
}

/// Appends the layers of series `index`: its fitted line (or the line joining its points), its
/// bars, their caps and its markers.
fn series_layers(
    layers: &mut Vec<Layer>,
    series: &crate::plot::sweep::ScalingSeries,
    index: usize,
) {
    let colour = PALETTE[index % PALETTE.len()];
    let points: Vec<(f64, f64)> = series
        .m
        .iter()
        .zip(&series.value)
        .filter(|(x, v)| positive(**x, **v))
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
    layers.push(Layer::Line(Line::new(
        line,
        colour.stroke_width(width),
        None,
    )));
    let stroke = colour.stroke_width(3);
    let bars: Vec<(f64, f64, f64)> = series
        .m
        .iter()
        .zip(series.lo.iter().zip(&series.hi))
        .filter(|(x, (lo, hi))| positive(**x, **lo) && drawable(**hi, Scale::Log))
        .map(|(&x, (&lo, &hi))| (x, lo, hi))
        .collect();
    layers.push(Layer::Paths {
        paths: bars
            .iter()
            .map(|&(x, lo, hi)| vec![(x, lo), (x, hi)])
            .collect(),
        style: stroke,
        dash: None,
    });
    layers.push(Layer::Marks {
        points: bars
            .iter()
            .flat_map(|&(x, lo, hi)| [(x, lo), (x, hi)])
            .collect(),
        mark: Mark::Cap(CAP),
        style: stroke,
    });
    layers.push(Layer::Marks {
        points,
        mark: Mark::Shape(marker(MARKERS, index)),
        style: colour.filled(),
    });
}
