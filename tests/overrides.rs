//! `--set key=value` overrides (docs/scenarios.md, "Overrides"): numbers in every spelling
//! users type, `none` to remove a key, `dynamics.steps` and `dynamics.t_end` replacing each
//! other, errors that say where a key came from, and integer messages that state the real
//! range. The bad cases of `tests/scenarios/bad_set/` carry their overrides on `#set` lines
//! and their expected messages on `#^` lines, and run through the binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::float_cmp,
    reason = "tests; values read back exactly are the property tested"
)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use meanfield::scenario::Scenario;
use meanfield::scenario::file::{ScenarioConfig, integer_range, parse};

const BIN: &str = env!("CARGO_BIN_EXE_meanfield");
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const EXIT_BAD_INPUT: i32 = 2;

const BASE: &str = "[model]\nd = 3\nm = 10\n";

fn set(assignments: &[&str]) -> Vec<String> {
    assignments.iter().map(|a| a.to_string()).collect()
}

fn parsed(text: &str, overrides: &[&str]) -> ScenarioConfig {
    parse(text, "x.toml", &set(overrides)).unwrap()
}

/// The validated scenario of `text` with `overrides`, or its error message.
fn resolved(text: &str, overrides: &[&str]) -> Result<Scenario, String> {
    let overrides = set(overrides);
    let config = parse(text, "x.toml", &overrides).map_err(|e| e.to_string())?;
    Scenario::from_config(config, Path::new("x.toml"), text, &overrides).map_err(|e| e.to_string())
}

#[test]
fn every_float_spelling_is_a_number() {
    for (spelling, value) in [
        (".001", 0.001),
        ("1e-3", 1e-3),
        ("1E-3", 1e-3),
        ("+1.5", 1.5),
        ("5.", 5.0),
        ("0.25", 0.25),
        ("2", 2.0),
        ("-.5", -0.5),
    ] {
        let assignment = format!("dynamics.lambda={spelling}");
        let config = parsed(BASE, &[&assignment]);
        assert_eq!(
            config.dynamics.lambda.and_then(|l| l.value()),
            Some(value),
            "{spelling}"
        );
    }
    let scenario = resolved(BASE, &["dynamics.lambda=.001", "dynamics.dt=5e-2"]).unwrap();
    assert_eq!(scenario.dynamics.lambda, 0.001);
    assert_eq!(scenario.dt, 0.05);
}

#[test]
fn integers_are_read_where_a_float_is_expected() {
    let scenario = resolved(BASE, &["dynamics.dt=1", "model.alpha=1"]).unwrap();
    assert_eq!(scenario.dt, 1.0);
    assert_eq!(scenario.network.alpha, 1.0);
    // An integer key keeps its integer: 007 is 7, not a string.
    assert_eq!(resolved(BASE, &["model.m=007"]).unwrap().m, 7);
}

#[test]
fn words_stay_strings() {
    let config = parsed(BASE, &["dynamics.integrator=rk4", "name=e5"]);
    assert_eq!(config.dynamics.integrator.as_deref(), Some("rk4"));
    assert_eq!(config.name.as_deref(), Some("e5"));
}

#[test]
fn none_removes_a_key_so_its_default_applies() {
    let text = format!("{BASE}[dynamics]\ndt = 0.1\nt_end = 5.0\nlambda = 0.5\n");
    assert_eq!(resolved(&text, &[]).unwrap().steps, 50);
    let scenario = resolved(&text, &["dynamics.t_end=none", "dynamics.lambda=none"]).unwrap();
    assert_eq!(scenario.steps, 1000, "default steps");
    assert_eq!(scenario.dynamics.lambda, 0.0, "default lambda");
    // Removing a key the file does not have changes nothing.
    assert_eq!(
        resolved(&text, &["dynamics.tau=none"]).unwrap().steps,
        50,
        "absent key"
    );
}

#[test]
fn none_is_a_value_where_the_key_allows_it() {
    let config = parsed(BASE, &["sweep.reference=none"]);
    let sweep = config.sweep.unwrap();
    assert_eq!(sweep.reference.as_deref(), Some("none"));
}

#[test]
fn a_steps_override_replaces_the_files_t_end() {
    let text = format!("{BASE}[dynamics]\ndt = 0.1\nt_end = 5.0\n");
    assert_eq!(
        resolved(&text, &["dynamics.steps=7"]).unwrap().steps,
        7,
        "steps from --set wins over the file's t_end"
    );
}

#[test]
fn a_t_end_override_replaces_the_files_steps() {
    let text = format!("{BASE}[dynamics]\ndt = 0.1\nsteps = 7\n");
    assert_eq!(
        resolved(&text, &["dynamics.t_end=2.0"]).unwrap().steps,
        20,
        "t_end from --set wins over the file's steps"
    );
}

#[test]
fn steps_and_t_end_in_one_file_are_still_refused() {
    let text = format!("{BASE}[dynamics]\nsteps = 7\nt_end = 2.0\n");
    let message = resolved(&text, &["dynamics.dt=0.1"]).unwrap_err();
    assert!(
        message.contains("dynamics.t_end (line 6, column 9)"),
        "{message}"
    );
    assert!(
        message.contains("either dynamics.steps or dynamics.t_end"),
        "{message}"
    );
}

#[test]
fn a_key_from_set_is_named_as_such_without_a_line() {
    let text = format!("seed = 1\n\n\n{BASE}");
    let message = resolved(&text, &["model.m=fifty"]).unwrap_err();
    assert!(message.contains("model.m (from --set)"), "{message}");
    assert!(!message.contains("line"), "{message}");
}

#[test]
fn a_key_from_the_file_keeps_its_line_and_column_beside_an_override() {
    let text = "seed = 1\n[model]\nd = 3\nm = \"fifty\"\n";
    let message = resolved(text, &["dynamics.dt=0.01"]).unwrap_err();
    assert!(message.contains("model.m (line 4, column 5)"), "{message}");
    assert!(!message.contains("--set"), "{message}");
    // The same error without overrides reads the same.
    assert_eq!(message, resolved(text, &[]).unwrap_err());
}

/// Scenarios in which each integer key is accepted (the key itself is set by the test).
const INTEGER_KEYS: &[(&str, &str, &str)] = &[
    ("model", "d", "[model]\nm = 10\n"),
    ("model", "m", "[model]\nd = 3\n"),
    ("target", "k", BASE),
    (
        "risk",
        "batch",
        "[model]\nd = 3\nm = 10\n[risk]\nmode = \"online\"\n",
    ),
    (
        "risk",
        "n",
        "[model]\nd = 3\nm = 10\n[risk]\nmode = \"empirical\"\n",
    ),
    ("record", "every", BASE),
    (
        "record",
        "points",
        "[model]\nd = 3\nm = 10\n[record]\nschedule = \"log\"\n",
    ),
    ("record", "snapshot_particles", BASE),
    ("record", "sliced_directions", BASE),
    ("record", "snapshots", BASE),
];

#[test]
fn every_integer_message_states_the_range_that_validation_checks() {
    for (section, name, base) in INTEGER_KEYS {
        let key = format!("{section}.{name}");
        let range = integer_range(&key);
        // A word where the integer goes: the parser's message states the range ...
        let word = resolved(base, &[&format!("{key}=\"x\"")]).unwrap_err();
        assert!(word.contains(&format!("expected {range}")), "{key}: {word}");
        // ... and it is the range validation enforces: its smallest excluded value fails with
        // the same words, and its smallest allowed one passes.
        let (excluded, allowed) = match range.as_str() {
            "an integer >= 1" => (0, 1),
            "0 (none) or an integer >= 2" => (1, 2),
            other => panic!("{key}: no check for {other}"),
        };
        let message = resolved(base, &[&format!("{key}={excluded}")]).unwrap_err();
        assert!(message.contains(&key), "{key}: {message}");
        let words = range.trim_start_matches("0 (none) or ");
        assert!(message.contains(words), "{key}: {message}");
        assert!(
            resolved(base, &[&format!("{key}={allowed}")]).is_ok(),
            "{key} = {allowed}"
        );
    }
}

#[test]
fn integer_keys_without_a_lower_bound_say_zero_is_allowed() {
    for key in [
        "seed",
        "target.seed",
        "dynamics.steps",
        "record.probes",
        "risk.test_n",
    ] {
        assert_eq!(integer_range(key), "an integer >= 0", "{key}");
    }
    let message = resolved(BASE, &["seed=-1"]).unwrap_err();
    assert!(message.contains("expected an integer >= 0"), "{message}");
}

// ---------------------------------------------------------------------------------------
// tests/scenarios/bad_set through the binary
// ---------------------------------------------------------------------------------------

fn bad_set_files() -> Vec<PathBuf> {
    let directory = Path::new(MANIFEST_DIR).join("tests/scenarios/bad_set");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension() == Some(OsStr::new("toml")))
        .collect();
    files.sort();
    files
}

/// The texts after `prefix` on the lines of `path` that start with it.
fn marked_lines(path: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix(prefix))
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
        .collect()
}

#[test]
fn every_bad_override_fails_check_with_exit_2_and_its_message() {
    let files = bad_set_files();
    assert!(files.len() >= 6, "only {} bad --set cases", files.len());
    let mut failures = Vec::new();
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let (overrides, expected) = (marked_lines(&file, "#set"), marked_lines(&file, "#^"));
        if overrides.is_empty() || expected.is_empty() {
            failures.push(format!("{name}: needs `#set` and `#^` lines"));
            continue;
        }
        // Without its overrides the file is a good scenario, or the case tests no override.
        let plain = Command::new(BIN)
            .env("CI", "1")
            .arg("check")
            .arg(&file)
            .output()
            .unwrap();
        let file_is_bad = !plain.status.success();
        let mut command = Command::new(BIN);
        command.env("CI", "1").arg("check").arg(&file);
        for assignment in &overrides {
            command.arg("--set").arg(assignment);
        }
        let output = command.output().unwrap();
        let message = String::from_utf8_lossy(&output.stderr).into_owned();
        if output.status.code() != Some(EXIT_BAD_INPUT) {
            failures.push(format!(
                "{name}: exit {:?}, expected 2; stderr: {message}",
                output.status.code()
            ));
        }
        for text in &expected {
            if !message.contains(text.as_str()) {
                failures.push(format!("{name}: stderr lacks {text:?}; stderr: {message}"));
            }
        }
        if file_is_bad && !name.starts_with("file_key") {
            failures.push(format!("{name}: fails without its overrides too"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
