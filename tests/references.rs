//! Sweep references refuse the scenarios they do not describe (`sweep::validity`,
//! docs/sweeps.md "What each reference assumes"): `linear` only the population-mode linear
//! network with alpha = 1, `richardson` only alpha = 1, every reference only particles drawn
//! from a law. The refusal comes from the plan, before any run starts: `meanfield sweep` exits
//! 2 naming the file, the reference (key or flag), the scenario key and why, and writes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use meanfield::scenario::Scenario;
use meanfield::sweep::plan::{Plan, Reference, SweepOverrides};
use meanfield::sweep::validity::describes;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// A linear network in population mode with alpha = 1: what `linear` describes.
const LINEAR: &str = r#"
name = "linear"
seed = 1
[model]
d = 4
m = 8
activation = "linear"
[target]
k = 2
[dynamics]
dt = 0.1
steps = 4
"#;

/// The scenario `text` with `overrides` applied (written to a file, as a sweep loads it).
fn scenario_with(test: &str, text: &str, overrides: &[&str]) -> Scenario {
    let dir = common::scratch_directory("references", test);
    let path = dir.join("scenario.toml");
    std::fs::write(&path, text).unwrap();
    let overrides: Vec<String> = overrides.iter().map(ToString::to_string).collect();
    Scenario::load(&path, &overrides).unwrap()
}

/// The key a reference refuses in the scenario, or None if it describes it.
fn refused_key(reference: &Reference, scenario: &Scenario) -> Option<String> {
    describes(reference, scenario).err().map(|m| m.key)
}

#[test]
fn linear_refuses_data_modes_other_activations_lazy_scaling_and_init_files() {
    let cases: [(&[&str], &str); 6] = [
        (&["risk.mode=\"online\"", "risk.batch=12"], "risk.mode"),
        (&["risk.mode=\"empirical\"", "risk.n=40"], "risk.mode"),
        (&["model.activation=\"erf\""], "model.activation"),
        (&["model.activation=\"relu\""], "model.activation"),
        (&["model.alpha=0.5"], "model.alpha"),
        (&["model.alpha=0.99"], "model.alpha"),
    ];
    for (index, (overrides, key)) in cases.iter().enumerate() {
        let scenario = scenario_with(&format!("linear-{index}"), LINEAR, overrides);
        assert_eq!(
            refused_key(&Reference::Linear, &scenario).as_deref(),
            Some(*key),
            "{overrides:?}"
        );
    }
    let init = Path::new(MANIFEST_DIR).join("tests/scenarios/good/init.npy");
    let from_file = LINEAR.replace("m = 8\n", "") + &format!("[init]\nfile = {:?}\n", init);
    let from_file = from_file.replace("d = 4", "d = 2");
    let scenario = scenario_with("linear-init-file", &from_file, &[]);
    assert_eq!(
        refused_key(&Reference::Linear, &scenario).as_deref(),
        Some("init.file")
    );
}

#[test]
fn linear_describes_weight_decay_temperature_label_noise_subsets_and_lr_ratio() {
    let cases: [&[&str]; 5] = [
        &[],
        &["dynamics.lambda=0.1"],
        &["dynamics.tau=0.01"],
        &["target.noise_std=0.3", "dynamics.train=\"a_only\""],
        &["dynamics.train=\"w_only\"", "dynamics.lr_ratio=2.0"],
    ];
    for (index, overrides) in cases.iter().enumerate() {
        let scenario = scenario_with(&format!("linear-ok-{index}"), LINEAR, overrides);
        assert_eq!(
            refused_key(&Reference::Linear, &scenario),
            None,
            "{overrides:?}"
        );
    }
}

#[test]
fn richardson_refuses_alpha_below_one_and_describes_every_mode_at_alpha_one() {
    for (index, alpha) in ["0.5", "0.75", "0.999"].iter().enumerate() {
        let scenario = scenario_with(
            &format!("richardson-{index}"),
            LINEAR,
            &[&format!("model.alpha={alpha}"), "model.activation=\"relu\""],
        );
        assert_eq!(
            refused_key(&Reference::Richardson, &scenario).as_deref(),
            Some("model.alpha")
        );
    }
    let modes: [&[&str]; 3] = [
        &["model.activation=\"relu\""],
        &["risk.mode=\"online\"", "risk.batch=12"],
        &[
            "risk.mode=\"empirical\"",
            "risk.n=40",
            "model.activation=\"tanh\"",
        ],
    ];
    for (index, overrides) in modes.iter().enumerate() {
        let scenario = scenario_with(&format!("richardson-ok-{index}"), LINEAR, overrides);
        assert_eq!(refused_key(&Reference::Richardson, &scenario), None);
    }
}

#[test]
fn wide_and_none_describe_every_mode_and_scaling_but_refuse_init_files() {
    let cases: [&[&str]; 4] = [
        &["model.activation=\"relu\"", "model.alpha=0.5"],
        &["risk.mode=\"online\"", "risk.batch=12"],
        &["risk.mode=\"empirical\"", "risk.n=40", "dynamics.tau=0.01"],
        &["model.bias=true", "risk.mode=\"online\""],
    ];
    for (index, overrides) in cases.iter().enumerate() {
        let scenario = scenario_with(&format!("wide-ok-{index}"), LINEAR, overrides);
        for reference in [Reference::Wide { width: 64 }, Reference::None] {
            assert_eq!(refused_key(&reference, &scenario), None, "{overrides:?}");
        }
    }
    let init = Path::new(MANIFEST_DIR).join("tests/scenarios/good/init.npy");
    let from_file = format!(
        "{}[init]\nfile = {:?}\n",
        LINEAR.replace("m = 8\n", "").replace("d = 4", "d = 2"),
        init
    );
    let scenario = scenario_with("wide-init-file", &from_file, &[]);
    for reference in [
        Reference::Wide { width: 64 },
        Reference::None,
        Reference::Richardson,
    ] {
        assert_eq!(
            refused_key(&reference, &scenario).as_deref(),
            Some("init.file")
        );
    }
}

#[test]
fn the_shipped_sweep_scenarios_are_described_by_their_references() {
    for file in [
        "scenarios/linear_limit.toml",
        "scenarios/lazy_vs_meanfield.toml",
        "scenarios/finite_m_relu_teacher.toml",
        "scenarios/gallery/limit.toml",
        "scenarios/gallery/lazy.toml",
        "tests/scenarios/sweep/tiny.toml",
    ] {
        let path = Path::new(MANIFEST_DIR).join(file);
        let plan = Plan::build(&path, &[], &SweepOverrides::default());
        assert!(plan.is_ok(), "{file}: {:?}", plan.err());
    }
}

/// `meanfield sweep` with `args`: (exit code, stderr).
fn sweep(args: &[&str], out: &Path) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .arg("sweep")
        .args(args)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn bad_sweep_files() -> Vec<PathBuf> {
    let dir = Path::new(MANIFEST_DIR).join("tests/scenarios/sweep/bad");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_bad_sweep_scenario_exits_2_with_its_message_before_anything_runs() {
    let files = bad_sweep_files();
    assert!(files.len() >= 7, "only {} bad sweep scenarios", files.len());
    let scratch = common::scratch_directory("references", "bad");
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let expected: Vec<String> = std::fs::read_to_string(file)
            .unwrap()
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("#^"))
            .map(|l| l.trim().to_string())
            .collect();
        if expected.is_empty() {
            failures.push(format!("{name}: no `#^` line"));
            continue;
        }
        let out = scratch.join(&name);
        let (code, stderr) = sweep(&[file.to_str().unwrap()], &out);
        if code != Some(2) {
            failures.push(format!("{name}: exit {code:?}, expected 2: {stderr}"));
        }
        for text in &expected {
            if !stderr.contains(text.as_str()) {
                failures.push(format!("{name}: message lacks {text:?}: {stderr}"));
            }
        }
        if out.exists() {
            failures.push(format!("{name}: the refused sweep wrote {}", out.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_reference_given_as_a_flag_is_named_as_the_flag() {
    let scratch = common::scratch_directory("references", "flag");
    let tiny = Path::new(MANIFEST_DIR).join("tests/scenarios/sweep/tiny.toml");
    let (code, stderr) = sweep(
        &[tiny.to_str().unwrap(), "--reference", "linear"],
        &scratch.join("linear"),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("tiny.toml: --reference linear describes the exact reduced equation")
            && stderr.contains("this scenario has model.activation = \"relu\""),
        "{stderr}"
    );
    let linear = Path::new(MANIFEST_DIR).join("scenarios/linear_limit.toml");
    let (code, stderr) = sweep(
        &[
            linear.to_str().unwrap(),
            "--set",
            "risk.mode=\"online\"",
            "--set",
            "risk.batch=12",
        ],
        &scratch.join("online"),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("linear_limit.toml: sweep.reference = \"linear\" (line")
            && stderr.contains("this scenario has risk.mode = \"online\""),
        "{stderr}"
    );
    let (code, stderr) = sweep(
        &[
            linear.to_str().unwrap(),
            "--reference",
            "richardson",
            "--set",
            "model.alpha=0.5",
        ],
        &scratch.join("richardson"),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--reference richardson describes seed means")
            && stderr.contains("this scenario has model.alpha = 0.5"),
        "{stderr}"
    );
}
