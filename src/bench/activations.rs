//! `meanfield bench --scaling activations`: the time of one population step per pair of
//! particles, (seconds per step) / m^2, for each of the seven activations at one size (d = 32,
//! k = 4, the setting of the standard cases). What differs between them is how the pair kernel
//! K(u, v) = E[sigma(u.x) sigma(v.x)] and grad_1 K of docs/math.md section 3 are evaluated
//! ([`KernelPath`]): closed forms (relu, erf), the exact low-rank sums of linear and quadratic
//! (no pair loop: O(m d^2) per step, so their time per pair falls as 1/m), or the Mehler
//! expansion of `math::expansion` (tanh, sigmoid, softplus; the quadrature for the pairs it
//! cannot certify).
//!
//! Each point is one [`bench_size`](super::bench_size) run (self-check against the plain
//! reference, warm-up, timed steps) in a child process of its own, as in
//! [`scaling`](super::scaling). Time per pair is the quantity compared; every activation is
//! timed at the same width ([`activation_width`]; until the expansion, the quadrature
//! activations ran at a sixteenth of it).
//! The files:
//!
//! - `scaling_activations.csv`: one row per activation (name, kernel path, m, d, k, seconds per
//!   step, nanoseconds per pair (median, minimum, maximum), reps, threads, the self-check's
//!   largest relative deviation, peak resident bytes);
//! - `scaling_activations.png` / `.svg`: nanoseconds per pair per activation on a log axis,
//!   bars from the fastest to the slowest step, coloured by kernel path, each point labelled
//!   with its time and width.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::prelude::{Color, RGBColor, SeriesLabelPosition};
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::bench::scaling::SCALING_D;
use crate::bench::{BenchCase, BenchRecord};
use crate::error::{Error, Result};
use crate::math::{Activation, PairKernel};
use crate::output::{format_float, quote_csv_field, write_atomic};
use crate::plot::chart::{Extent, SAMPLE_LEGEND};
use crate::plot::figure::Scale;
use crate::plot::model::{
    Axis, Figure, Frame, Layer, Legend, LegendEntry, Mark, Sample, TickSpec, render,
};
use crate::plot::style::PALETTE;

/// Width of the points of the closed-form and low-rank activations (`--quick`:
/// [`QUICK_ACTIVATION_M`]).
pub const ACTIVATION_M: usize = 1024;

/// Width of the closed-form and low-rank points with `--quick`.
pub const QUICK_ACTIVATION_M: usize = 256;

/// How the population risk evaluates the pair terms of an activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KernelPath {
    /// Closed-form K and grad_1 K, pair by pair in tiles (relu, erf).
    ClosedForm,
    /// Linear and quadratic: K is a polynomial in u.v, so the sums over pairs reduce to O(m d^2)
    /// moments; there is no pair loop.
    LowRank,
    /// The Mehler expansion of K and grad_1 K, pair by pair, with the quadrature for the pairs
    /// it cannot certify (tanh, sigmoid, softplus).
    Expansion,
}

impl KernelPath {
    /// The path the population risk takes for `activation`.
    pub fn of(activation: Activation) -> Self {
        match activation {
            Activation::Linear | Activation::Quadratic => Self::LowRank,
            _ if PairKernel::new(activation).is_closed_form() => Self::ClosedForm,
            _ => Self::Expansion,
        }
    }

    /// `closed form`, `low rank` or `expansion`, as in the CSV and the legend.
    pub fn name(self) -> &'static str {
        match self {
            Self::ClosedForm => "closed form",
            Self::LowRank => "low rank",
            Self::Expansion => "expansion",
        }
    }

    /// The colour of the path's points.
    fn colour(self) -> RGBColor {
        match self {
            Self::ClosedForm => PALETTE[0],
            Self::LowRank => PALETTE[2],
            Self::Expansion => PALETTE[1],
        }
    }
}

/// The width at which `activation` is timed: [`ACTIVATION_M`] ([`QUICK_ACTIVATION_M`] with
/// `quick`), then at most `max_m`; the same for every activation since the smooth ones run the
/// Mehler expansion (`math::expansion`).
///
/// ```
/// # use meanfield::bench::activations::activation_width;
/// # use meanfield::math::Activation;
/// assert_eq!(activation_width(Activation::Relu, false, None), 1024);
/// assert_eq!(activation_width(Activation::Tanh, false, None), 1024);
/// assert_eq!(activation_width(Activation::Linear, false, Some(100)), 100);
/// ```
pub fn activation_width(_activation: Activation, quick: bool, max_m: Option<usize>) -> usize {
    let base = if quick {
        QUICK_ACTIVATION_M
    } else {
        ACTIVATION_M
    };
    base.min(max_m.unwrap_or(usize::MAX))
}

/// The seven points of `bench --scaling activations`, in the order of [`Activation::ALL`]:
/// population mode, d = [`SCALING_D`], m = [`activation_width`].
///
/// # Errors
/// [`Error::Invalid`] if `max_m` is 0.
pub fn activation_points(quick: bool, max_m: Option<usize>) -> Result<Vec<BenchCase>> {
    if max_m == Some(0) {
        return Err(Error::invalid("--max-m", 0, "a positive width"));
    }
    Ok(Activation::ALL
        .into_iter()
        .map(|activation| {
            BenchCase::custom(None, SCALING_D, activation_width(activation, quick, max_m))
                .with_activation(activation)
        })
        .collect())
}

/// Seconds per pair of a population record: `seconds` / m^2 (m^2 ordered pairs, the self pair
/// included, as the double sum of docs/math.md section 3 counts them).
pub fn per_pair(record: &BenchRecord, seconds: f64) -> f64 {
    let m = record.m as f64;
    seconds / (m * m)
}

/// Refuses no records, a record of data mode, or an activation timed twice.
fn check_records(records: &[BenchRecord]) -> Result<()> {
    if records.is_empty() {
        return Err(Error::invalid(
            "activation points",
            0,
            "at least one timed point",
        ));
    }
    if let Some(record) = records.iter().find(|r| r.n.is_some()) {
        return Err(Error::invalid(
            "activation point mode",
            &record.mode,
            "population",
        ));
    }
    for (i, record) in records.iter().enumerate() {
        if records[..i]
            .iter()
            .any(|r| r.activation == record.activation)
        {
            return Err(Error::invalid(
                "activation points",
                format!("{} twice", record.activation),
                "one point per activation",
            ));
        }
    }
    Ok(())
}

/// Columns of `scaling_activations.csv`.
pub const ACTIVATION_COLUMNS: [&str; 16] = [
    "activation",
    "kernel",
    "m",
    "d",
    "k",
    "s_per_step_median",
    "s_per_step_min",
    "s_per_step_max",
    "ns_per_pair_median",
    "ns_per_pair_min",
    "ns_per_pair_max",
    "reps",
    "threads",
    "check_max_rel_error",
    "peak_rss_bytes",
    "quick",
];

/// The CSV text of the activation points, one row per record in order.
fn activation_csv(records: &[BenchRecord]) -> String {
    let mut text = ACTIVATION_COLUMNS.join(",");
    text.push('\n');
    for record in records {
        let nanoseconds = |seconds: f64| format_float(1e9 * per_pair(record, seconds));
        let fields = [
            record.activation.name().to_string(),
            quote_csv_field(KernelPath::of(record.activation).name()),
            record.m.to_string(),
            record.d.to_string(),
            record.k.to_string(),
            format_float(record.s_per_step_median),
            format_float(record.s_per_step_min),
            format_float(record.s_per_step_max),
            nanoseconds(record.s_per_step_median),
            nanoseconds(record.s_per_step_min),
            nanoseconds(record.s_per_step_max),
            record.reps.to_string(),
            record.threads.to_string(),
            format_float(record.check_max_rel_error),
            record
                .peak_rss_bytes
                .map_or_else(String::new, |b| b.to_string()),
            u8::from(record.quick).to_string(),
        ];
        let _ = writeln!(text, "{}", fields.join(","));
    }
    text
}

/// Writes `scaling_activations.csv`, `.png` and `.svg` into `out` (created if missing), each
/// atomically (see the module documentation), and returns the files written.
///
/// # Errors
/// [`Error::Invalid`] if `records` is empty, holds a data-mode record or an activation twice;
/// [`Error::Io`] for a file or directory that could not be written.
pub fn write_activation_scaling(records: &[BenchRecord], out: &Path) -> Result<Vec<PathBuf>> {
    check_records(records)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let csv = out.join("scaling_activations.csv");
    write_atomic(&csv, activation_csv(records).as_bytes())?;
    let stem = out.join("scaling_activations");
    render(&activation_figure(records), &stem)?;
    Ok(vec![
        csv,
        out.join("scaling_activations.png"),
        out.join("scaling_activations.svg"),
    ])
}

/// The horizontal position of an activation: its index in [`Activation::ALL`].
fn position(activation: Activation) -> f64 {
    Activation::ALL
        .iter()
        .position(|a| *a == activation)
        .unwrap_or(0) as f64
}

/// The tick label at a horizontal position: the activation there (nothing between two).
fn activation_tick(value: &f64) -> String {
    let rounded = value.round();
    if (value - rounded).abs() < 1e-9 && (0.0..Activation::ALL.len() as f64).contains(&rounded) {
        Activation::ALL[rounded as usize].name().to_string()
    } else {
        String::new()
    }
}

/// Size of the labels above the points.
const NOTE_SIZE: u32 = 24;

/// The figure: one point per activation at its median nanoseconds per pair (log axis), a bar
/// from the fastest to the slowest step, the time and the width written above, coloured by
/// kernel path with one legend entry per path present.
fn activation_figure(records: &[BenchRecord]) -> Figure {
    let nanoseconds = |record: &BenchRecord, seconds: f64| 1e9 * per_pair(record, seconds);
    let mut extent = Extent::default();
    for record in records {
        for seconds in [record.s_per_step_min, record.s_per_step_max] {
            let value = nanoseconds(record, seconds);
            if value.is_finite() && value > 0.0 {
                extent.include(value);
            }
        }
    }
    let y_range = vertical_range(extent.0.unwrap_or((1.0, 10.0)));
    // The factor of the vertical axis per pixel: notes sit 6 px beyond the dot (radius 10) or
    // the bar's cap, whichever reaches further.
    let pixel = (y_range.end / y_range.start).ln() / PLOT_HEIGHT;
    let beyond = |pixels: f64| (pixels * pixel).exp();
    let mut layers = Vec::new();
    let mut paths: Vec<KernelPath> = Vec::new();
    for record in records {
        let path = KernelPath::of(record.activation);
        if !paths.contains(&path) {
            paths.push(path);
        }
        let colour = path.colour();
        let x = position(record.activation);
        let (median, lo, hi) = (
            nanoseconds(record, record.s_per_step_median),
            nanoseconds(record, record.s_per_step_min),
            nanoseconds(record, record.s_per_step_max),
        );
        layers.push(Layer::Paths {
            paths: vec![
                vec![(x, lo), (x, hi)],
                vec![(x - 0.08, lo), (x + 0.08, lo)],
                vec![(x - 0.08, hi), (x + 0.08, hi)],
            ],
            style: colour.stroke_width(3),
            dash: None,
        });
        layers.push(Layer::Marks {
            points: vec![(x, median)],
            mark: Mark::Dot(10),
            style: colour.filled(),
        });
        let grey = RGBColor(40, 40, 40);
        layers.push(Layer::Note {
            text: duration_words(median),
            at: (x, (hi * beyond(6.0)).max(median * beyond(16.0))),
            size: NOTE_SIZE,
            colour: grey,
            anchor: Pos::new(HPos::Center, VPos::Bottom),
        });
        layers.push(Layer::Note {
            text: format!("m = {}", record.m),
            at: (x, (lo / beyond(6.0)).min(median / beyond(16.0))),
            size: NOTE_SIZE,
            colour: grey,
            anchor: Pos::new(HPos::Center, VPos::Top),
        });
    }
    paths.sort();
    for path in paths {
        layers.push(Layer::Entry(LegendEntry {
            label: format!("{} kernel", path.name()),
            sample: Sample::Mark {
                mark: Mark::Dot(10),
                style: path.colour().filled(),
            },
        }));
    }
    let x = Axis {
        ticks: Some(TickSpec {
            labels: Activation::ALL.len(),
            light_lines: 0,
            format: activation_tick,
        }),
        ..Axis::new(
            "activation (points: median step; bars: fastest to slowest)",
            Scale::Linear,
            -0.7..(Activation::ALL.len() as f64 - 0.3),
        )
    };
    let y = Axis::new("ns per pair (s per step / m^2)", Scale::Log, y_range);
    let threads = records.first().map_or(0, |r| r.threads);
    let title = format!(
        "Population mode: time per pair by activation (d = {}, k = {}, {threads} threads)",
        records.first().map_or(SCALING_D, |r| r.d),
        records.first().map_or(0, |r| r.k),
    );
    Figure {
        frame: Frame::new(&title, x, y),
        layers,
        legend: Some(Legend {
            style: SAMPLE_LEGEND,
            corner: SeriesLabelPosition::UpperRight,
        }),
    }
}

/// Plotting-area height of a [`Frame`] of 1200 x 800 px with a one-line title, in pixels.
const PLOT_HEIGHT: f64 = 620.0;

/// Pixels kept for a line of notes above or below the points.
const NOTE_ROOM: f64 = 38.0;

/// The vertical (log) range: the data `(low, high)` (at least a decade) in the middle, a line
/// of notes below and above them, and above those the legend box (three entries).
fn vertical_range((low, high): (f64, f64)) -> std::ops::Range<f64> {
    let (mut bottom, mut top) = (low.ln(), high.ln());
    let decade = 10_f64.ln();
    if top - bottom < decade {
        let middle = 0.5 * (top + bottom);
        (bottom, top) = (middle - 0.5 * decade, middle + 0.5 * decade);
    }
    let legend = SAMPLE_LEGEND.size(20, 3).1 + 2.0 * f64::from(SAMPLE_LEGEND.margin);
    let per_pixel = (top - bottom) / (PLOT_HEIGHT - legend - 2.0 * NOTE_ROOM);
    (bottom - NOTE_ROOM * per_pixel).exp()..(top + (NOTE_ROOM + legend) * per_pixel).exp()
}

/// A time per pair in nanoseconds as words: `7.34 ns`, or `768 µs` from 10 µs up.
fn duration_words(nanoseconds: f64) -> String {
    if nanoseconds >= 1e4 {
        format!("{} µs", significant(nanoseconds / 1e3))
    } else {
        format!("{} ns", significant(nanoseconds))
    }
}

/// `value` with three significant digits, without an exponent for 0.01 to 1e6.
fn significant(value: f64) -> String {
    if !(0.01..1e6).contains(&value) {
        return format!("{value:.2e}");
    }
    let decimals = (2 - value.log10().floor() as i32).max(0) as usize;
    format!("{value:.decimals$}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn every_activation_has_one_point_at_the_same_width() {
        let points = activation_points(false, None).unwrap();
        assert_eq!(points.len(), 7);
        for (case, activation) in points.iter().zip(Activation::ALL) {
            assert_eq!(case.activation, activation);
            assert_eq!((case.n, case.d), (None, 32));
            assert_eq!(case.m, 1024, "{activation}");
        }
        let quick = activation_points(true, Some(100)).unwrap();
        assert!(quick.iter().all(|case| case.m <= 100 && case.m >= 16));
        assert!(activation_points(true, Some(0)).is_err());
    }

    #[test]
    fn linear_and_quadratic_take_the_low_rank_path_relu_and_erf_the_closed_forms() {
        for activation in [Activation::Linear, Activation::Quadratic] {
            assert_eq!(KernelPath::of(activation), KernelPath::LowRank);
        }
        for activation in [Activation::Relu, Activation::Erf] {
            assert_eq!(KernelPath::of(activation), KernelPath::ClosedForm);
        }
    }

    #[test]
    fn tick_labels_name_the_activation_at_integers_only() {
        assert_eq!(activation_tick(&0.0), "relu");
        assert_eq!(activation_tick(&6.0), "quadratic");
        assert_eq!(activation_tick(&0.5), "");
        assert_eq!(activation_tick(&7.0), "");
    }

    #[test]
    fn the_vertical_range_holds_the_data_with_room_above_and_below() {
        let range = vertical_range((2.0, 8e5));
        // NOTE_ROOM pixels below, NOTE_ROOM and the legend above.
        let pixel = (range.end / range.start).ln() / PLOT_HEIGHT;
        let below = (2.0 / range.start).ln() / pixel;
        let above = (range.end / 8e5).ln() / pixel;
        assert!((below - NOTE_ROOM).abs() < 1e-9, "{below}");
        assert!(above > NOTE_ROOM + 150.0, "{above}");
        let narrow = vertical_range((5.0, 5.0));
        assert!(narrow.end / narrow.start > 10.0, "{narrow:?}");
    }

    #[test]
    fn significant_keeps_three_digits() {
        assert_eq!(significant(4.56789), "4.57");
        assert_eq!(significant(123_456.0), "123456");
        assert_eq!(significant(0.0123), "0.0123");
        assert_eq!(significant(2e-4), "2.00e-4");
    }
}
