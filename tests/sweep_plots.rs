//! Sweep figures: the observable at each width with bands (with and without a reference) and
//! the deviation against m with fits render from synthetic data to PNG and SVG of the stated
//! size, listing every legend label, and inputs with nothing to draw fail with an error that
//! names the figure, writing no file.

#![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

use std::path::{Path, PathBuf};

use meanfield::Error;
use meanfield::plot::sweep::{
    BandCurve, PowerFit, ScalingFigure, ScalingSeries, WidthCurves, render_scaling,
    render_width_curves,
};
use meanfield::plot::{Curve, Scale};

mod common;

use common::{file_names, png_size};

/// A fresh, empty directory for test `name`.
fn scratch_directory(name: &str) -> PathBuf {
    common::scratch_directory("sweep-plots-tests", name)
}

/// The texts of an SVG written by plotters (each between its tags on a line of its own), after
/// checking that the file is an SVG document.
fn svg_texts(path: &Path) -> Vec<String> {
    let svg = std::fs::read_to_string(path).unwrap();
    let start = svg.trim_start();
    assert!(
        start.starts_with("<svg") || start.starts_with("<?xml"),
        "{}",
        path.display()
    );
    assert!(svg.trim_end().ends_with("</svg>"), "{}", path.display());
    common::svg_texts_of(&svg)
}

/// Checks that every one of `expected` is a text of the SVG at `path`.
fn assert_svg_has_texts(path: &Path, expected: &[&str]) {
    let texts = svg_texts(path);
    for text in expected {
        assert!(
            texts.iter().any(|found| found == text),
            "{} lacks {text:?} among {texts:?}",
            path.display()
        );
    }
}

/// A number in [-1, 1) from an index, without a random generator.
fn hash_signed(index: usize, salt: u64) -> f64 {
    let mut state = (index as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt);
    state ^= state >> 31;
    state = state.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    state ^= state >> 29;
    2.0 * ((state >> 11) as f64 / (1u64 << 53) as f64) - 1.0
}

/// The limit risk R(t) = 0.02 + 0.5 / (1 + t)^1.5.
fn limit_risk(time: f64) -> f64 {
    0.02 + 0.5 / (1.0 + time).powf(1.5)
}

/// 20 times: t = 0 (which a log axis cannot show), then 0.01 to 100 evenly in log-time.
fn times() -> Vec<f64> {
    std::iter::once(0.0)
        .chain((0..19).map(|k| 0.01 * 10_f64.powf(4.0 * f64::from(k) / 18.0)))
        .collect()
}

/// Risk at widths 64, 256, 1024 and 4096 (given largest first): the limit plus 2/m, seed
/// noise of relative size 1/sqrt(m) and bands of 2 standard errors, 0.6/sqrt(m) relative.
fn width_curves(reference: bool) -> WidthCurves {
    let time = times();
    let curves = [4096.0, 1024.0, 256.0, 64.0]
        .iter()
        .enumerate()
        .map(|(width, &m): (usize, &f64)| {
            let mean: Vec<f64> = time
                .iter()
                .enumerate()
                .map(|(k, &t)| {
                    let noise = 0.3 * hash_signed(20 * width + k, 7) / m.sqrt();
                    (limit_risk(t) + 2.0 / m) * (1.0 + noise)
                })
                .collect();
            BandCurve {
                label: format!("m = {m}"),
                half_width: mean.iter().map(|r| 0.6 * r / m.sqrt()).collect(),
                mean,
                x: time.clone(),
                m,
            }
        })
        .collect();
    WidthCurves {
        title: "Risk at each width".into(),
        x_label: "time t".into(),
        y_label: "risk R".into(),
        x_scale: Scale::Log,
        y_scale: Scale::Log,
        curves,
        reference: reference.then(|| Curve {
            label: "reference (m = 65536)".into(),
            x: time.clone(),
            y: time.iter().map(|&t| limit_risk(t)).collect(),
        }),
    }
}

/// Deviations at t = 1, 10 and 100 for m = 64 to 16384, decaying as m^-1, m^-0.9 and m^-0.5
/// with scatter, error bars of +-25% and the fits that such data would give.
fn scaling_figure() -> ScalingFigure {
    let widths: Vec<f64> = (0..5).map(|k| 64.0 * 4_f64.powi(k)).collect();
    let series = [(1.0, -1.0, 0.5), (10.0, -0.9, 0.15), (100.0, -0.5, 0.02)]
        .iter()
        .enumerate()
        .map(
            |(index, &(time, slope, prefactor)): (usize, &(f64, f64, f64))| {
                let value: Vec<f64> = widths
                    .iter()
                    .enumerate()
                    .map(|(k, &m)| {
                        prefactor * m.powf(slope) * (1.0 + 0.1 * hash_signed(5 * index + k, 11))
                    })
                    .collect();
                ScalingSeries {
                    label: format!("t = {time}"),
                    m: widths.clone(),
                    lo: value.iter().map(|v| 0.75 * v).collect(),
                    hi: value.iter().map(|v| 1.25 * v).collect(),
                    value,
                    fit: Some(PowerFit {
                        slope: slope + 0.02,
                        intercept_log: prefactor.ln(),
                        lo: slope - 0.05,
                        hi: slope + 0.09,
                    }),
                }
            },
        )
        .collect();
    ScalingFigure {
        title: "Deviation from the limit".into(),
        x_label: "width m".into(),
        y_label: "|R_m(t) - R(t)|".into(),
        series,
    }
}

#[test]
fn width_curves_with_a_reference_list_every_width_and_the_reference() {
    let directory = scratch_directory("width-reference");
    render_width_curves(&width_curves(true), &directory.join("risk")).unwrap();
    assert_eq!(png_size(&directory.join("risk.png")), (1200, 800));
    assert_svg_has_texts(
        &directory.join("risk.svg"),
        &[
            "Risk at each width",
            "time t",
            "risk R",
            "m = 64",
            "m = 256",
            "m = 1024",
            "m = 4096",
            "reference (m = 65536)",
        ],
    );
    assert_eq!(file_names(&directory), ["risk.png", "risk.svg"]);
}

#[test]
fn width_curves_without_a_reference_list_only_the_widths() {
    let directory = scratch_directory("width-alone");
    let mut figure = width_curves(false);
    figure.title = "Risk without reference".into();
    render_width_curves(&figure, &directory.join("risk-alone")).unwrap();
    assert_eq!(png_size(&directory.join("risk-alone.png")), (1200, 800));
    let svg = directory.join("risk-alone.svg");
    assert_svg_has_texts(&svg, &["Risk without reference", "m = 64", "m = 4096"]);
    assert!(
        !svg_texts(&svg)
            .iter()
            .any(|text| text.contains("reference (")),
        "no reference, no reference entry"
    );
}

#[test]
fn width_curves_on_a_linear_axis_keep_negative_values() {
    let directory = scratch_directory("width-linear");
    let mut figure = width_curves(true);
    figure.title = "Signed observable".into();
    figure.y_scale = Scale::Linear;
    for curve in &mut figure.curves {
        curve.mean.iter_mut().for_each(|value| *value -= 0.1);
    }
    render_width_curves(&figure, &directory.join("signed")).unwrap();
    assert_eq!(png_size(&directory.join("signed.png")), (1200, 800));
    let texts = svg_texts(&directory.join("signed.svg"));
    assert!(
        texts
            .iter()
            .any(|text| common::tick_value(text).is_some_and(|v| v < 0.0)),
        "negative ticks on the linear axis: {texts:?}"
    );
}

#[test]
fn bands_below_zero_on_a_log_axis_are_cut_and_stretch_it_by_one_decade_at_most() {
    let directory = scratch_directory("width-noisy");
    let mut figure = width_curves(true);
    figure.title = "Noisy risk".into();
    let noisy = &mut figure.curves[3];
    assert_eq!(noisy.m, 64.0);
    for (half_width, mean) in noisy.half_width.iter_mut().zip(&noisy.mean).skip(10) {
        *half_width = 1.5 * mean;
    }
    noisy.mean[5] = f64::NAN;
    render_width_curves(&figure, &directory.join("noisy")).unwrap();
    assert_eq!(png_size(&directory.join("noisy.png")), (1200, 800));
    // The smallest mean is above 0.02: the lower ends <= 0 count as a tenth of their mean.
    let smallest_tick = svg_texts(&directory.join("noisy.svg"))
        .iter()
        .filter_map(|text| common::tick_value(text))
        .fold(f64::INFINITY, f64::min);
    assert!(smallest_tick >= 1e-3, "lowest tick {smallest_tick}");
}

#[test]
fn scaling_figure_lists_fitted_slopes_and_reference_slopes() {
    let directory = scratch_directory("scaling");
    render_scaling(&scaling_figure(), &directory.join("scaling")).unwrap();
    assert_eq!(png_size(&directory.join("scaling.png")), (1200, 800));
    // The labels as written, drawn with their symbols (plot::typeset: −0.98, m⁻¹ᐟ²).
    let drawn: Vec<String> = [
        "Deviation from the limit",
        "width m",
        "t = 1: slope -0.98 [-1.05, -0.91]",
        "t = 10: slope -0.88 [-0.95, -0.81]",
        "t = 100: slope -0.48 [-0.55, -0.41]",
        "m^-1",
        "m^-1/2",
    ]
    .map(meanfield::plot::typeset::typeset)
    .to_vec();
    let drawn: Vec<&str> = drawn.iter().map(String::as_str).collect();
    assert_svg_has_texts(&directory.join("scaling.svg"), &drawn);
    assert_eq!(file_names(&directory), ["scaling.png", "scaling.svg"]);
}

#[test]
fn scaling_series_without_fit_is_listed_by_its_label_alone() {
    let directory = scratch_directory("scaling-no-fit");
    let mut figure = scaling_figure();
    figure
        .series
        .iter_mut()
        .for_each(|series| series.fit = None);
    // A lower end <= 0 is cut at the axis rather than failing.
    figure.series[0].lo[0] = -1.0;
    render_scaling(&figure, &directory.join("no-fit")).unwrap();
    assert_eq!(png_size(&directory.join("no-fit.png")), (1200, 800));
    let texts = svg_texts(&directory.join("no-fit.svg"));
    assert!(texts.contains(&"t = 1".to_owned()), "{texts:?}");
    assert!(
        !texts.iter().any(|text| text.contains("slope")),
        "{texts:?}"
    );
}

/// Checks that `result` is an [`Error::Invalid`] whose message contains each of `words`, and
/// that `directory` is still empty.
fn assert_invalid(result: meanfield::Result<()>, words: &[&str], directory: &Path) {
    let error = result.unwrap_err();
    assert!(matches!(error, Error::Invalid { .. }), "{error:?}");
    let message = error.to_string();
    for word in words {
        assert!(message.contains(word), "{message:?} lacks {word:?}");
    }
    assert!(
        file_names(directory).is_empty(),
        "{:?}",
        file_names(directory)
    );
}

#[test]
fn all_non_positive_values_fail_cleanly_and_write_nothing() {
    let directory = scratch_directory("non-positive");
    let mut figure = width_curves(true);
    for curve in &mut figure.curves {
        curve.mean.iter_mut().for_each(|value| *value = -*value);
    }
    assert_invalid(
        render_width_curves(&figure, &directory.join("risk")),
        &["Risk at each width", "0 of 80", "mean > 0"],
        &directory,
    );
    let mut figure = scaling_figure();
    for series in &mut figure.series {
        series.value.iter_mut().for_each(|value| *value = 0.0);
    }
    assert_invalid(
        render_scaling(&figure, &directory.join("scaling")),
        &["Deviation from the limit", "0 of 15", "value > 0"],
        &directory,
    );
}

#[test]
fn empty_and_ragged_inputs_fail_cleanly_and_write_nothing() {
    let directory = scratch_directory("empty");
    let mut figure = width_curves(false);
    figure.curves.clear();
    assert_invalid(
        render_width_curves(&figure, &directory.join("risk")),
        &["curves", "none"],
        &directory,
    );
    let mut figure = width_curves(false);
    figure.curves[2].half_width.pop();
    assert_invalid(
        render_width_curves(&figure, &directory.join("risk")),
        &["m = 256", "20, 20, 19"],
        &directory,
    );
    let mut figure = scaling_figure();
    figure.series.clear();
    assert_invalid(
        render_scaling(&figure, &directory.join("scaling")),
        &["series", "none"],
        &directory,
    );
    let mut figure = scaling_figure();
    figure.series[1].hi.push(1.0);
    assert_invalid(
        render_scaling(&figure, &directory.join("scaling")),
        &["t = 10", "5, 5, 5, 6"],
        &directory,
    );
}

/// A curve with m = infinity (a control's limit, as in the gallery's mmn_mixture) is not one
/// more width: it is drawn in the palette's vermillion, listed after the widths, and the widths
/// keep the viridis colours they have without it (the widest is not pushed off the ramp's end).
#[test]
fn a_control_curve_of_infinite_m_is_not_coloured_as_a_width() {
    let directory = scratch_directory("width-control");
    let plain = width_curves(false);
    render_width_curves(&plain, &directory.join("plain")).unwrap();
    let mut with_control = width_curves(false);
    let first = with_control.curves[0].clone();
    with_control.curves.push(BandCurve {
        label: "limit of Delta = 0.4 (control)".into(),
        half_width: vec![f64::NAN; first.mean.len()],
        m: f64::INFINITY,
        ..first
    });
    render_width_curves(&with_control, &directory.join("control")).unwrap();
    let legend = |stem: &str| {
        let svg = std::fs::read_to_string(directory.join(format!("{stem}.svg"))).unwrap();
        common::svg_legend(&svg)
    };
    let (plain, control) = (legend("plain"), legend("control"));
    assert_eq!(control.len(), plain.len() + 1, "{control:?}");
    assert_eq!(control[..plain.len()], plain[..], "{control:?}");
    let vermillion = meanfield::plot::figure::PALETTE[1];
    let hex = format!(
        "#{:02X}{:02X}{:02X}",
        vermillion.0, vermillion.1, vermillion.2
    );
    let last = control.last().unwrap();
    assert!(last.0.starts_with("limit of Δ = 0.4"), "{last:?}");
    assert_eq!(last.1, [hex], "{last:?}");
}
