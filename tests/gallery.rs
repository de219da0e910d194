//! The gallery at `--quick` sizes (what CI runs): every entry's checked fact holds and its
//! figures are written (PNG and SVG). One test per entry, each into its own folders, so an entry
//! can be run alone: `cargo test --release --test gallery -- convergence`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use meanfield::gallery::{GalleryOptions, run_gallery};

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
