//! Colour maps (a blue-white-red diverging map for signed values, viridis for densities) and
//! the labelled colour bar that goes beside a chart.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plot::axis::LinearLabels;
use crate::plot::canvas::{DrawResult, font};
use crate::plot::typeset::typeset;

/// A colour map: a piecewise-linear path through its stops, from 0 to 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ColourMap {
    /// Blue (negative) - white (zero) - red (positive), ColorBrewer's RdBu reversed.
    Diverging,
    /// viridis: dark purple - blue - green - yellow, perceptually uniform, sequential.
    Viridis,
}

const DIVERGING_STOPS: [(u8, u8, u8); 7] = [
    (33, 102, 172),
    (103, 169, 207),
    (209, 229, 240),
    (247, 247, 247),
    (253, 219, 199),
    (239, 138, 98),
    (178, 24, 43),
];

const VIRIDIS_STOPS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (72, 40, 120),
    (62, 73, 137),
    (49, 104, 142),
    (38, 130, 142),
    (31, 158, 137),
    (53, 183, 121),
    (110, 206, 88),
    (253, 231, 37),
];

impl ColourMap {
    /// The colour at `fraction` in [0, 1] (clamped; NaN gives the middle colour).
    pub(crate) fn at(self, fraction: f64) -> RGBColor {
        let stops: &[(u8, u8, u8)] = match self {
            Self::Diverging => &DIVERGING_STOPS,
            Self::Viridis => &VIRIDIS_STOPS,
        };
        let fraction = if fraction.is_nan() {
            0.5
        } else {
            fraction.clamp(0.0, 1.0)
        };
        let position = fraction * (stops.len() - 1) as f64;
        let index = (position.floor() as usize).min(stops.len() - 2);
        let weight = position - index as f64;
        let (low, high) = (stops[index], stops[index + 1]);
        let mix = |a: u8, b: u8| {
            let value = f64::from(a) + weight * (f64::from(b) - f64::from(a));
            value.round().clamp(0.0, 255.0) as u8
        };
        RGBColor(mix(low.0, high.0), mix(low.1, high.1), mix(low.2, high.2))
    }
}

/// A colour map stretched over a range of values.
#[derive(Clone, Debug)]
pub(crate) struct ColourScale {
    pub(crate) map: ColourMap,
    /// Values mapped to the two ends of the map; `start < end`, both finite.
    pub(crate) range: Range<f64>,
}

impl ColourScale {
    /// The diverging map over [-limit, limit], limit = largest finite |value| (1 when there is
    /// none or all are zero), so that zero is white.
    pub(crate) fn diverging<'a>(values: impl IntoIterator<Item = &'a f64>) -> Self {
        let limit = values
            .into_iter()
            .filter(|value| value.is_finite())
            .fold(0.0_f64, |limit, value| limit.max(value.abs()));
        let limit = if limit > 0.0 { limit } else { 1.0 };
        Self {
            map: ColourMap::Diverging,
            range: -limit..limit,
        }
    }

    /// viridis over [0, largest finite value] (1 when no value is positive).
    pub(crate) fn sequential<'a>(values: impl IntoIterator<Item = &'a f64>) -> Self {
        let largest = values
            .into_iter()
            .filter(|value| value.is_finite())
            .fold(0.0_f64, |largest, &value| largest.max(value));
        let largest = if largest > 0.0 { largest } else { 1.0 };
        Self {
            map: ColourMap::Viridis,
            range: 0.0..largest,
        }
    }

    pub(crate) fn colour(&self, value: f64) -> RGBColor {
        self.map
            .at((value - self.range.start) / (self.range.end - self.range.start))
    }
}

/// Text and spacing of a colour bar.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ColourBarStyle {
    /// Empty space above and below the bar, to line it up with the plotting area beside it.
    pub(crate) margin_top: u32,
    pub(crate) margin_bottom: u32,
    /// Width of the bar itself.
    pub(crate) bar_width: u32,
    /// Width of the tick labels and the rotated label right of the bar.
    pub(crate) label_area: u32,
    pub(crate) tick_size: u32,
    pub(crate) label_size: u32,
}

/// Number of colour bands of a bar: smooth to the eye, few enough for a small SVG.
const BANDS: usize = 128;

/// Draws a vertical colour bar of `scale` in `area` (left-aligned), with ticks and the rotated
/// `label` on its right.
pub(crate) fn draw_colour_bar<Backend: DrawingBackend>(
    area: &DrawingArea<Backend, Shift>,
    scale: &ColourScale,
    label: &str,
    style: &ColourBarStyle,
) -> DrawResult<Backend> {
    let (width, _) = area.dim_in_pixel();
    let spare = width.saturating_sub(style.bar_width + style.label_area);
    let mut chart = ChartBuilder::on(area)
        .margin_top(style.margin_top)
        .margin_bottom(style.margin_bottom)
        .margin_right(spare)
        .set_label_area_size(LabelAreaPosition::Right, style.label_area)
        .build_cartesian_2d(0.0..1.0, scale.range.clone())?;
    // Longer ticks than plotters' default keep the labels clear of the bar's edge.
    let tick = i32::try_from(style.tick_size / 4).unwrap_or(8);
    const TICKS: usize = 6;
    let labels = LinearLabels::new(&scale.range, TICKS);
    let formatter = |value: &f64| labels.label(value);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_y_mesh()
        .disable_x_axis()
        .x_labels(0)
        .y_labels(TICKS)
        .y_label_formatter(&formatter)
        .label_style(font(style.tick_size))
        .y_desc(typeset(label))
        .axis_desc_style(font(style.label_size))
        .axis_style(BLACK.stroke_width(1))
        .set_tick_mark_size(LabelAreaPosition::Right, tick)
        .draw()?;
    let (start, end) = (scale.range.start, scale.range.end);
    let band = (end - start) / BANDS as f64;
    chart.draw_series((0..BANDS).map(|index| {
        let low = start + band * index as f64;
        let colour = scale.colour(low + 0.5 * band);
        Rectangle::new([(0.0, low), (1.0, low + band)], colour.filled())
    }))?;
    chart.draw_series(std::iter::once(Rectangle::new(
        [(0.0, start), (1.0, end)],
        BLACK.stroke_width(1),
    )))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

    use super::*;

    #[test]
    fn diverging_scale_is_symmetric_and_white_at_zero() {
        let scale = ColourScale::diverging(&[-0.5, 2.0, f64::NAN]);
        assert_eq!(scale.range, -2.0..2.0);
        assert_eq!(scale.colour(0.0), RGBColor(247, 247, 247));
        assert_eq!(scale.colour(-2.0), RGBColor(33, 102, 172));
        assert_eq!(scale.colour(7.0), RGBColor(178, 24, 43));
    }

    #[test]
    fn degenerate_values_give_a_unit_range() {
        assert_eq!(ColourScale::diverging(&[0.0, 0.0]).range, -1.0..1.0);
        assert_eq!(ColourScale::diverging(&[]).range, -1.0..1.0);
        assert_eq!(ColourScale::sequential(&[f64::NAN, -1.0]).range, 0.0..1.0);
    }

    #[test]
    fn viridis_runs_from_purple_to_yellow() {
        assert_eq!(ColourMap::Viridis.at(0.0), RGBColor(68, 1, 84));
        assert_eq!(ColourMap::Viridis.at(1.0), RGBColor(253, 231, 37));
        assert_eq!(ColourMap::Viridis.at(0.5), RGBColor(38, 130, 142));
        assert_eq!(ColourMap::Viridis.at(f64::NAN), RGBColor(38, 130, 142));
    }
}
