//! Axis ranges and tick labels: log axes labelled at 1, 2 and 5 times a decade, linear axes
//! labelled at multiples of 1, 2 or 5 times a power of ten, each written with as many decimals
//! as its step needs.

use std::ops::Range;

use crate::plot::typeset::typeset;

/// Number of tick labels plotters is asked for on each log axis.
pub(crate) const LABELS_PER_AXIS: usize = 10;

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
pub(crate) fn log_range(low: f64, high: f64) -> Range<f64> {
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
/// between decades exist only on axes spanning one or two decades), written `0.01`, `0.02`,
/// `0.1`, `1`, `5`, `10`, `100`, `1000` between 0.01 and 1000 and as powers of ten outside
/// (`10⁻³`, `2·10⁻⁵`, `10⁴`); other ticks get no label, so that labels never crowd.
pub(crate) fn tick_label(value: &f64) -> String {
    log_tick_label(*value, false)
}

/// Whether the decades of a log axis over `range` are all written as powers of ten: where one
/// of its labelled decades is outside 0.01 to 1000, so that an axis does not mix `0.01` with
/// `10⁻³`.
pub(crate) fn log_labels_as_powers(range: &Range<f64>) -> bool {
    range.start <= 1e-3 * (1.0 + 1e-9) || range.end >= 1e4 * (1.0 - 1e-9)
}

/// The label of [`tick_label`], with every tick as a power of ten where `powers`.
pub(crate) fn log_tick_label(value: f64, powers: bool) -> String {
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
    if !powers && (-2.0..=3.0).contains(&exponent) {
        let decimals = usize::try_from(-(exponent as i64)).unwrap_or(0);
        format!("{tick:.decimals$}")
    } else {
        let power = typeset(&format!("10^{exponent}"));
        if mantissa < 1.5 {
            power
        } else {
            format!("{mantissa}\u{b7}{power}")
        }
    }
}

/// The light-line limit per label that makes plotters draw minor grid lines at 2..9 times
/// each decade: its log axis draws 9 per decade when the limit times [`LABELS_PER_AXIS`] is
/// between 10 and 99 times the number of decades, and 0 or 99 otherwise.
pub(crate) fn light_lines_per_label(range: &Range<f64>) -> usize {
    let decades = (range.end / range.start).log10().floor().max(1.0);
    let decades = usize::try_from(decades as i64).unwrap_or(1);
    (20 * decades).div_ceil(LABELS_PER_AXIS)
}

/// A linear axis range covering [low, high] (both finite) with a margin of 5% of the span on
/// each side; a single value gets a span of 20% of its magnitude (or [-1, 1] around zero).
pub(crate) fn linear_range(low: f64, high: f64) -> Range<f64> {
    let span = high - low;
    if span > 0.0 && span.is_finite() {
        let margin = 0.05 * span;
        return (low - margin)..(high + margin);
    }
    let centre = 0.5 * (low + high);
    let half = if centre.abs() > f64::MIN_POSITIVE {
        0.1 * centre.abs()
    } else {
        1.0
    };
    (centre - half)..(centre + half)
}

/// The step plotters uses for the ticks of a linear axis on `range` with at most `labels`
/// labels: the smallest of 1, 2 or 5 times a power of ten giving at most that many ticks.
pub(crate) fn linear_step(range: &Range<f64>, labels: usize) -> f64 {
    let span = (range.end - range.start).abs();
    if !(span > 0.0 && span.is_finite()) {
        return 1.0;
    }
    let labels = labels.max(2) as f64;
    let mut decade = 10_f64.powf((span / labels).log10().floor());
    loop {
        for mantissa in [1.0, 2.0, 5.0] {
            let step = mantissa * decade;
            if span / step + 1.0 <= labels {
                return step;
            }
        }
        decade *= 10.0;
    }
}

/// Tick labels of a linear axis whose ticks are `step` apart: fixed decimals, as many as the
/// step needs (`0`, `0.5`, `1.0`, ... for a step of 0.5), scientific notation for steps below
/// 1e-4 or values of 1e6 and more.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LinearLabels {
    step: f64,
    decimals: usize,
    scientific: bool,
}

impl LinearLabels {
    pub(crate) fn new(range: &Range<f64>, labels: usize) -> Self {
        let step = linear_step(range, labels);
        let exponent = step.log10().floor();
        let largest = range.start.abs().max(range.end.abs());
        Self {
            step,
            decimals: usize::try_from(-(exponent as i64)).unwrap_or(0),
            scientific: exponent < -4.0 || largest >= 1e6,
        }
    }

    pub(crate) fn label(&self, value: &f64) -> String {
        let value = *value;
        if !value.is_finite() {
            return String::new();
        }
        let text = if self.scientific {
            format!("{value:.2e}")
        } else {
            // plotters may pick a finer step than `linear_step` near its alignment edge cases;
            // a tick that the step's decimals would misprint gets the decimals it needs.
            let mut decimals = self.decimals;
            let mut text = format!("{value:.decimals$}");
            while decimals < self.decimals + 3
                && text
                    .parse::<f64>()
                    .is_ok_and(|printed| (printed - value).abs() > 1e-9 * self.step)
            {
                decimals += 1;
                text = format!("{value:.decimals$}");
            }
            text
        };
        // `-0.0` would otherwise read as a negative tick; a negative tick gets the minus sign
        // (U+2212, as `plot::typeset` writes it).
        match text.strip_prefix('-') {
            Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_owned(),
            Some(rest) => format!("\u{2212}{rest}"),
            None => text,
        }
    }
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
                "10⁻³",
                "0.01",
                "0.1",
                "1",
                "10",
                "100",
                "1000",
                "10⁴",
                "10⁻¹²"
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
        assert_eq!(
            labels,
            ["0.02", "", "0.05", "20", "", "2·10⁻⁵", "5·10⁶", ""]
        );
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
    fn linear_range_contains_the_data_and_is_never_empty() {
        for (low, high) in [(0.0, 1.0), (-3.0, -3.0), (0.0, 0.0), (1e300, 1e300)] {
            let range = linear_range(low, high);
            assert!(range.start < low && high < range.end, "{low} {high}");
        }
    }

    #[test]
    fn linear_step_is_one_two_or_five_times_a_decade_within_the_label_count() {
        assert_eq!(linear_step(&(0.0..1.0), 6), 0.2);
        assert_eq!(linear_step(&(0.0..1.0), 11), 0.1);
        assert_eq!(linear_step(&(-2.0..2.0), 6), 1.0);
        assert_eq!(linear_step(&(0.0..300.0), 8), 50.0);
    }

    #[test]
    fn linear_labels_use_the_decimals_of_the_step() {
        let labels = LinearLabels::new(&(0.0..1.0), 6);
        let texts: Vec<String> = [0.0, 0.2, 0.600_000_000_000_000_1, -1e-17]
            .iter()
            .map(|value| labels.label(value))
            .collect();
        assert_eq!(texts, ["0.0", "0.2", "0.6", "0.0"]);
        let labels = LinearLabels::new(&(0.0..300.0), 8);
        assert_eq!(labels.label(&150.0), "150");
        let labels = LinearLabels::new(&(0.0..1.0), 6);
        assert_eq!(
            labels.label(&0.05),
            "0.05",
            "a finer tick gets more decimals"
        );
        let labels = LinearLabels::new(&(0.0..1e-6), 6);
        assert_eq!(labels.label(&2e-7), "2.00e-7");
    }
}
