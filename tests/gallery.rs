//! The gallery at `--quick` sizes (what CI runs): every entry's checked fact holds and its
//! figures are written (PNG and SVG). One test per entry, each into its own folders, so an entry
//! can be run alone: `cargo test --release --test gallery -- convergence`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use meanfield::gallery::{GalleryOptions, run_gallery};
use meanfield::plot::{Curve, LineFigure, Scale, render_lines};

fn quick_entry(name: &str) {
    let root = common::scratch_directory("gallery", name);
    let interrupt = AtomicBool::new(false);
    let options = GalleryOptions {
        quick: true,
        out: root.join("plots"),
        work: root.join("work"),
        scenarios: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/gallery"),
        interrupt: &interrupt,
    };
    let results = run_gallery(&options, Some(name), &|_| {}).unwrap();
    assert_eq!(results.len(), 1);
    let result = &results[0];
    assert!(!result.checks.is_empty(), "{name}: no checked fact");
    for check in &result.checks {
        assert!(check.passed, "{name}: {} ({})", check.fact, check.detail);
    }
    assert!(!result.figures.is_empty(), "{name}: no figure");
    for figure in &result.figures {
        let path = options.out.join(figure);
        let size = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .len();
        assert!(size > 1000, "{}: {size} bytes", path.display());
    }
    for extension in ["png", "svg"] {
        assert!(
            result.figures.iter().any(|f| f.ends_with(extension)),
            "{name}: no {extension} figure"
        );
    }
    assert!(options.out.join("gallery.json").exists());
    assert!(options.out.join("summary.md").exists());
    // One colour per series across the entry's figures (issue 28, item 2): `α = 1` is the same
    // blue in lazy, lazy_kernel and lazy_risk, `m = 64` the same colour in separation_gap and
    // separation_risk.
    let svgs: Vec<(String, String)> = result
        .figures
        .iter()
        .filter(|f| f.ends_with(".svg"))
        .map(|f| {
            let text = std::fs::read_to_string(options.out.join(f)).unwrap();
            (f.clone(), text)
        })
        .collect();
    let clashes = common::colour_clashes(&svgs);
    assert!(clashes.is_empty(), "{name}: {clashes:#?}");
}

#[test]
fn convergence() {
    quick_entry("convergence");
}

#[test]
fn overparameterised() {
    quick_entry("overparameterised");
}

#[test]
fn lazy() {
    quick_entry("lazy");
}

#[test]
fn features() {
    quick_entry("features");
}

#[test]
fn limit() {
    quick_entry("limit");
}

#[test]
fn exact_limit() {
    quick_entry("exact_limit");
}

#[test]
fn langevin() {
    quick_entry("langevin");
}

#[test]
fn separation() {
    quick_entry("separation");
}

#[test]
fn information_exponent() {
    quick_entry("information_exponent");
}

#[test]
fn mmn_mixture() {
    quick_entry("mmn_mixture");
}

#[test]
fn logistic_margin() {
    quick_entry("logistic_margin");
}

#[test]
fn an_unknown_entry_is_refused_with_the_list() {
    let root = common::scratch_directory("gallery", "unknown");
    let interrupt = AtomicBool::new(false);
    let options = GalleryOptions {
        quick: true,
        out: root.join("plots"),
        work: root.join("work"),
        scenarios: root.join("scenarios"),
        interrupt: &interrupt,
    };
    let error = run_gallery(&options, Some("nonsense"), &|_| {}).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("--only") && message.contains("langevin"),
        "{message}"
    );
}

#[test]
fn a_misspelt_size_in_the_sizes_file_is_refused_with_its_table_and_key() {
    let root = common::scratch_directory("gallery", "misspelt_size");
    let scenarios = root.join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/gallery/sizes.toml");
    let text = std::fs::read_to_string(shipped)
        .unwrap()
        .replace("risk_n = 1024", "risk_size = 1024");
    std::fs::write(scenarios.join("sizes.toml"), text).unwrap();
    let interrupt = AtomicBool::new(false);
    let options = GalleryOptions {
        quick: true,
        out: root.join("plots"),
        work: root.join("work"),
        scenarios,
        interrupt: &interrupt,
    };
    // The scenario file itself comes from the copy compiled into the binary.
    let error = run_gallery(&options, Some("convergence"), &|_| {}).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("sizes.toml")
            && message.contains("[convergence.quick]")
            && message.contains("risk_size"),
        "{message}"
    );
}

#[test]
fn barron() {
    quick_entry("barron");
}

#[test]
fn generalisation() {
    quick_entry("generalisation");
}

/// The negative control of the colour check of `quick_entry`: two figures of the same two
/// series, drawn in the same order, agree; drawn in swapped order (so `α = 1` takes the second
/// colour in one of them), the check names the clash. A check that passed both would pass any
/// gallery.
#[test]
fn the_colour_check_finds_a_series_drawn_in_another_colour() {
    let dir = common::scratch_directory("gallery", "colour_check");
    let x: Vec<f64> = (1..=20).map(f64::from).collect();
    let curve = |label: &str, power: f64| Curve {
        label: label.into(),
        x: x.clone(),
        y: x.iter().map(|t| t.powf(-power)).collect(),
    };
    let draw = |stem: &str, curves: Vec<Curve>| -> (String, String) {
        let figure = LineFigure {
            title: stem.into(),
            x_label: "width m".into(),
            y_label: "movement".into(),
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            curves,
        };
        render_lines(&figure, &dir.join(stem)).unwrap();
        let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
        (format!("{stem}.svg"), svg)
    };
    let mean_field = || curve("alpha = 1: slope -0.05", 0.05);
    let lazy = || curve("alpha = 1/2 (lazy), m = 1024", 0.5);
    let first = draw("first", vec![mean_field(), lazy()]);
    let legend = common::svg_legend(&first.1);
    assert_eq!(legend.len(), 2, "{legend:?}");
    assert!(legend.iter().all(|(_, c)| c.len() == 1), "{legend:?}");
    assert_ne!(legend[0].1, legend[1].1, "{legend:?}");
    let same = draw("same", vec![mean_field(), lazy()]);
    assert!(common::colour_clashes(&[first.clone(), same]).is_empty());
    let swapped = draw("swapped", vec![lazy(), mean_field()]);
    let clashes = common::colour_clashes(&[first, swapped]);
    assert_eq!(clashes.len(), 2, "{clashes:#?}");
    assert!(clashes[0].contains("\u{3b1} = 1"), "{clashes:#?}");
}
