//! Heat maps of a density over (time, value), such as the histogram of the output weights a_j
//! at each recorded time: time on a log axis, value bins on a linear axis, colour = density
//! on the viridis map with a labelled colour bar.

use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::Result;
use crate::plot::axis::{
    LABELS_PER_AXIS, LinearLabels, light_lines_per_label, log_labels_as_powers, log_tick_label,
};
use crate::plot::canvas::{
    AXIS_LABEL_SIZE, BOLD_GRID, DrawResult, LIGHT_GRID, NOTE_GREY, Picture, TICK_LABEL_SIZE,
    TITLE_SIZE, draw_title_lines, fit_title, font, render_png_and_svg, title_height,
};
use crate::plot::colormap::{ColourBarStyle, ColourScale, draw_colour_bar};
use crate::plot::typeset::typeset;

/// A density over (time, value): one histogram of the value per recorded time.
#[derive(Clone, Debug)]
pub struct HeatMap {
    /// Title drawn above the chart.
    pub title: String,
    /// Label of the vertical (value) axis.
    pub value_label: String,
    /// Times of the rows, increasing; times <= 0 or non-finite cannot be shown on the log axis
    /// and their rows are dropped.
    pub times: Vec<f64>,
    /// Bin edges of the value, increasing: one more than the bins.
    pub edges: Vec<f64>,
    /// One row per time, one density per bin; NaN densities are left blank.
    pub density: Vec<Vec<f64>>,
}

/// Size of both images in pixels (SVG user units).
const SIZE: (u32, u32) = (1200, 800);

/// Renders `map` to `<stem>.png` (1200 x 800 px) and `<stem>.svg`, each written atomically.
///
/// Each (time, bin) cell is a rectangle spanning the bin and, on the log time axis, half-way
/// (geometrically) to the neighbouring times, coloured on viridis from 0 to the largest density
/// (a colour bar labelled "density" shows the scale). Rows with a time <= 0, bins whose edges
/// are not finite and increasing, and non-finite densities are not drawn; with nothing left, an
/// empty labelled frame with a note is drawn.
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) naming the image that could not be drawn or written.
///
/// ```
/// use meanfield::plot::{HeatMap, render_heatmap};
///
/// # let directory = std::env::temp_dir().join(format!("meanfield-heat-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&directory)?;
/// let map = HeatMap {
///     title: "Output weights".into(),
///     value_label: "a".into(),
///     times: vec![0.1, 1.0, 10.0],
///     edges: vec![-1.0, 0.0, 1.0],
///     density: vec![vec![0.5, 0.5], vec![0.3, 0.7], vec![0.1, 0.9]],
/// };
/// render_heatmap(&map, &directory.join("weights"))?; // weights.png and weights.svg
/// assert!(directory.join("weights.png").exists());
/// # std::fs::remove_dir_all(&directory)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn render_heatmap(map: &HeatMap, stem: &Path) -> Result<()> {
    render_png_and_svg(&HeatChart::new(map), stem)
}

/// One coloured rectangle: time span, value span, density.
#[derive(Clone, Debug, PartialEq)]
struct Cell {
    time: Range<f64>,
    value: Range<f64>,
    density: f64,
}

/// The cells that can be drawn, and the ranges and colour scale they need.
struct HeatChart<'a> {
    map: &'a HeatMap,
    cells: Vec<Cell>,
    /// Axis ranges, `None` when there is no cell.
    ranges: Option<(Range<f64>, Range<f64>)>,
    colour: ColourScale,
}

impl<'a> HeatChart<'a> {
    fn new(map: &'a HeatMap) -> Self {
        let cells = cells(map);
        let colour = ColourScale::sequential(cells.iter().map(|cell| &cell.density));
        let ranges = cells
            .iter()
            .fold(None, |ranges: Option<(Range<f64>, Range<f64>)>, cell| {
                Some(match ranges {
                    None => (cell.time.clone(), cell.value.clone()),
                    Some((time, value)) => (
                        time.start.min(cell.time.start)..time.end.max(cell.time.end),
                        value.start.min(cell.value.start)..value.end.max(cell.value.end),
                    ),
                })
            });
        Self {
            map,
            cells,
            ranges,
            colour,
        }
    }
}

/// Time spans of the rows at `times` (positive, finite, increasing): half-way in log-time to
/// the neighbours, the ends as wide as their inner half; a lone time spans half a decade each
/// side.
fn time_spans(times: &[f64]) -> Vec<Range<f64>> {
    let logs: Vec<f64> = times.iter().map(|time| time.log10()).collect();
    let count = logs.len();
    let middle = |index: usize| 0.5 * (logs[index] + logs[index + 1]);
    (0..count)
        .map(|index| {
            let low = if index > 0 {
                middle(index - 1)
            } else if count > 1 {
                logs[0] - (middle(0) - logs[0])
            } else {
                logs[0] - 0.5
            };
            let high = if index + 1 < count {
                middle(index)
            } else if count > 1 {
                logs[index] + (logs[index] - middle(index - 1))
            } else {
                logs[0] + 0.5
            };
            10_f64.powf(low)..10_f64.powf(high)
        })
        .collect()
}

/// The drawable cells of `map`.
fn cells(map: &HeatMap) -> Vec<Cell> {
    let mut rows: Vec<(f64, &Vec<f64>)> = map
        .times
        .iter()
        .zip(&map.density)
        .filter(|(time, _)| time.is_finite() && **time > 0.0)
        .map(|(&time, row)| (time, row))
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Equal times would give empty spans: keep the first row of each time.
    rows.dedup_by(|later, earlier| later.0 <= earlier.0);
    let times: Vec<f64> = rows.iter().map(|row| row.0).collect();
    let spans = time_spans(&times);
    let mut cells = Vec::new();
    for ((_, row), span) in rows.iter().zip(spans) {
        for (bin, &density) in row.iter().enumerate() {
            let (Some(&low), Some(&high)) = (map.edges.get(bin), map.edges.get(bin + 1)) else {
                break;
            };
            if low.is_finite() && high.is_finite() && high > low && density.is_finite() {
                cells.push(Cell {
                    time: span.clone(),
                    value: low..high,
                    density,
                });
            }
        }
    }
    cells
}

// Pixel layout: a title strip, the chart, and the colour bar column on the right.
const TITLE_HEIGHT: u32 = 70;
const MARGIN: u32 = 20;
const X_LABEL_AREA: u32 = 90;
const Y_LABEL_AREA: u32 = 130;
const COLUMN_WIDTH: u32 = 230;

impl Picture for HeatChart<'_> {
    fn size(&self) -> (u32, u32) {
        SIZE
    }

    fn draw<Backend: DrawingBackend>(
        &self,
        root: &DrawingArea<Backend, Shift>,
    ) -> DrawResult<Backend> {
        root.fill(&WHITE)?;
        // The title is fitted to the width (shrunk, then wrapped), never cut at the edges.
        let (lines, size) = fit_title(root, &self.map.title, TITLE_SIZE, 20);
        let (title_strip, body) =
            root.split_vertically(TITLE_HEIGHT.max(title_height(lines.len(), size)));
        draw_title_lines(&title_strip, &lines, size)?;
        let (width, _) = body.dim_in_pixel();
        let (chart_area, column) = body.split_horizontally(width.saturating_sub(COLUMN_WIDTH));

        let (time_range, value_range) = self.ranges.clone().unwrap_or((0.8..120.0, 0.0..1.0));
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(MARGIN)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(time_range.clone().log_scale(), value_range.clone())?;
        const VALUE_LABELS: usize = 8;
        let value_labels = LinearLabels::new(&value_range, VALUE_LABELS);
        let value_formatter = |value: &f64| value_labels.label(value);
        let powers = log_labels_as_powers(&time_range);
        let time_formatter = |value: &f64| log_tick_label(*value, powers);
        chart
            .configure_mesh()
            .x_max_light_lines(light_lines_per_label(&time_range))
            .y_max_light_lines(1)
            .x_labels(LABELS_PER_AXIS)
            .y_labels(VALUE_LABELS)
            .x_label_formatter(&time_formatter)
            .y_label_formatter(&value_formatter)
            .x_desc("time t")
            .y_desc(typeset(&self.map.value_label))
            .axis_desc_style(font(AXIS_LABEL_SIZE))
            .label_style(font(TICK_LABEL_SIZE))
            .bold_line_style(BOLD_GRID)
            .light_line_style(LIGHT_GRID)
            .draw()?;
        chart.draw_series(self.cells.iter().map(|cell| {
            Rectangle::new(
                [
                    (cell.time.start, cell.value.start),
                    (cell.time.end, cell.value.end),
                ],
                self.colour.colour(cell.density).filled(),
            )
        }))?;
        if self.ranges.is_none() {
            let note = font(AXIS_LABEL_SIZE)
                .color(&NOTE_GREY)
                .pos(Pos::new(HPos::Center, VPos::Center));
            let centre = (
                (time_range.start * time_range.end).sqrt(),
                0.5 * (value_range.start + value_range.end),
            );
            chart.plotting_area().draw(&Text::new(
                "no positive time or bin to plot",
                centre,
                note,
            ))?;
        }

        let style = ColourBarStyle {
            margin_top: MARGIN,
            margin_bottom: MARGIN + X_LABEL_AREA,
            bar_width: 40,
            label_area: 160,
            tick_size: TICK_LABEL_SIZE,
            label_size: AXIS_LABEL_SIZE,
        };
        draw_colour_bar(&column, &self.colour, "density", &style)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
    }

    #[test]
    fn time_spans_meet_half_way_in_log_time() {
        let spans = time_spans(&[1.0, 100.0, 1e4]);
        assert!(close(spans[0].start, 0.1) && close(spans[0].end, 10.0));
        assert!(close(spans[1].start, 10.0) && close(spans[1].end, 1000.0));
        assert!(close(spans[2].start, 1000.0) && close(spans[2].end, 1e5));
        let lone = time_spans(&[1.0]);
        assert!(close(lone[0].start, 10_f64.powf(-0.5)) && close(lone[0].end, 10_f64.sqrt()));
    }

    #[test]
    fn cells_skip_non_positive_times_bad_bins_and_nan_densities() {
        let map = HeatMap {
            title: String::new(),
            value_label: String::new(),
            times: vec![0.0, 1.0, 10.0],
            edges: vec![0.0, 1.0, 1.0, f64::NAN],
            density: vec![vec![1.0, 1.0, 1.0], vec![2.0, 3.0, 4.0], vec![f64::NAN]],
        };
        let cells = cells(&map);
        assert_eq!(cells.len(), 1);
        assert_eq!(cells[0].value, 0.0..1.0);
        assert_eq!(cells[0].density, 2.0);
    }
}
