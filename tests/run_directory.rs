//! The run directory holds one run (issue 21, items 1, 6, 8 and 12): a run refuses a directory
//! of another scenario unless `--overwrite`, which removes exactly what a run owns; the same
//! scenario reruns from scratch, an interrupted one is continued with the run's own
//! scenario.toml; a resumed summary times the whole run; `plot` reads the run's own name and
//! refuses a missing directory with exit 2; `time` is written as the decimal k dt.
//!
//! Every test runs the binary as a user does, on scenarios of a few dozen steps; the refused
//! cases are also input files, in tests/scenarios/bad_reused/.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::float_cmp,
    reason = "tests; the wall-time identity is exact by construction"
)]

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{file_names, meanfield, run, scratch_directory, stderr};
use meanfield::output::{format_float, is_run_entry};

/// Exit codes of src/cli/mod.rs.
const EXIT_BAD_INPUT: i32 = 2;
const EXIT_INTERRUPTED: i32 = 130;

/// A small teacher-student run: m = 12, d = 3, 62 steps of dt = 0.1, logged every 5 steps,
/// with snapshots, marginals and figures (every file a run can write).
const TINY: &str = "name = \"tiny-study\"\nseed = 7\n\
                    [model]\nd = 3\nm = 12\n\
                    [target]\nk = 2\nnoise_std = 0.1\n\
                    [risk]\nmode = \"population\"\n\
                    [dynamics]\ndt = 0.1\nsteps = 62\n\
                    [record]\nevery = 5\n";

/// Asserts the exit code, showing stderr when it is another.
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit status {:?}, expected {code}\nstderr:\n{}",
        output.status,
        stderr(output)
    );
}

/// Asserts that `text` contains every one of `parts`.
fn assert_contains(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} not in:\n{text}");
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&read(path)).unwrap()
}

/// The facts that make two runs the same run: identical series and final particles.
fn assert_same_run(a: &Path, b: &Path) {
    for name in ["series.csv", "measures.csv", "particles_final.npy"] {
        assert!(
            read(&a.join(name)) == read(&b.join(name)),
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

/// A scratch folder with the scenario `TINY` written in it: (folder, scenario file).
fn setup(test: &str) -> (PathBuf, PathBuf) {
    let scratch = scratch_directory("run_directory", test);
    let scenario = scratch.join("tiny.toml");
    std::fs::write(&scenario, TINY).unwrap();
    (scratch, scenario)
}

// ---------------------------------------------------------------------------------------
// Item 1: a reused run directory
// ---------------------------------------------------------------------------------------

#[test]
fn a_run_into_a_directory_of_another_scenario_is_refused_naming_the_differing_keys() {
    let (scratch, scenario) = setup("another-scenario");
    let out = scratch.join("run");
    assert_exit(&run(&scratch, &scenario, &out, &[] as &[&str]), 0);
    let series = read(&out.join("series.csv"));

    let output = run(
        &scratch,
        &scenario,
        &out,
        &["--set", "model.m=16", "--set", "record.marginals=false"],
    );
    assert_exit(&output, EXIT_BAD_INPUT);
    assert_contains(
        &stderr(&output),
        &[
            &out.display().to_string(),
            "holds a run of a different scenario",
            "model.m: 12 -> 16",
            "record.marginals: true -> false",
            "--overwrite",
            "--out",
        ],
    );
    // Refused before anything was written.
    assert!(read(&out.join("series.csv")) == series);
}

#[test]
fn overwrite_leaves_exactly_what_a_fresh_run_writes_and_the_users_files() {
    let (scratch, scenario) = setup("overwrite");
    let (reused, fresh) = (scratch.join("reused"), scratch.join("fresh"));
    assert_exit(&run(&scratch, &scenario, &reused, &[] as &[&str]), 0);
    assert!(reused.join("marginals_a.csv").exists() && reused.join("report.html").exists());
    std::fs::write(reused.join("notes.txt"), "my notes").unwrap();

    // The second scenario switches marginals, snapshots and figures off: nothing of the first
    // run may survive beside it.
    let second = [
        "--set",
        "model.m=16",
        "--set",
        "record.marginals=false",
        "--set",
        "record.figures=false",
        "--set",
        "record.snapshots=0",
    ];
    let mut overwriting = second.to_vec();
    overwriting.push("--overwrite");
    assert_exit(&run(&scratch, &scenario, &reused, &overwriting), 0);
    assert_exit(&run(&scratch, &scenario, &fresh, &second), 0);

    let mut expected = file_names(&fresh);
    expected.push("notes.txt".into());
    expected.sort();
    assert_eq!(file_names(&reused), expected);
    assert_eq!(
        std::fs::read_to_string(reused.join("notes.txt")).unwrap(),
        "my notes"
    );
    assert_same_run(&fresh, &reused);
}

#[test]
fn every_entry_a_run_writes_is_one_it_owns() {
    let (scratch, scenario) = setup("owned");
    // Finished (every observer on), interrupted (a checkpoint) and diverged runs.
    let finished = scratch.join("finished");
    assert_exit(&run(&scratch, &scenario, &finished, &[] as &[&str]), 0);
    let interrupted = scratch.join("interrupted");
    assert_exit(
        &run(&scratch, &scenario, &interrupted, &["--stop-at-step", "20"]),
        EXIT_INTERRUPTED,
    );
    let diverged = scratch.join("diverged");
    let output = run(
        &scratch,
        &scenario,
        &diverged,
        &["--set", "dynamics.dt=1e3"],
    );
    assert_exit(&output, 3);
    for dir in [&finished, &interrupted, &diverged] {
        for name in file_names(dir) {
            assert!(
                is_run_entry(&name),
                "{}: {name} is written by a run but not in output::RunEntry",
                dir.display()
            );
        }
    }
    assert!(diverged.join("particles_last_finite.npy").exists());
}

#[test]
fn the_same_scenario_runs_again_from_scratch_clearing_the_previous_files() {
    let (scratch, scenario) = setup("same-scenario");
    let (out, once) = (scratch.join("run"), scratch.join("once"));
    assert_exit(&run(&scratch, &scenario, &out, &[] as &[&str]), 0);
    assert_exit(&run(&scratch, &scenario, &once, &[] as &[&str]), 0);
    // A file of an older run of this scenario (e.g. a quantity no longer measured).
    std::fs::write(out.join("marginals_angle_7.csv"), "step,time\n").unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();

    assert_exit(&run(&scratch, &scenario, &out, &[] as &[&str]), 0);
    assert!(!out.join("marginals_angle_7.csv").exists());
    assert!(out.join("notes.txt").exists());
    assert_same_run(&once, &out);
}

#[test]
fn running_again_into_an_interrupted_run_is_refused_with_the_resume_command() {
    let (scratch, scenario) = setup("interrupted");
    let out = scratch.join("run");
    assert_exit(
        &run(&scratch, &scenario, &out, &["--stop-at-step", "20"]),
        EXIT_INTERRUPTED,
    );
    let output = run(&scratch, &scenario, &out, &[] as &[&str]);
    assert_exit(&output, EXIT_BAD_INPUT);
    let resume = format!(
        "meanfield run {} --resume --out {}",
        out.join("scenario.toml").display(),
        out.display()
    );
    assert_contains(
        &stderr(&output),
        &["interrupted run", "step 20", &resume, "--overwrite"],
    );
    assert!(out.join("checkpoint/state.json").exists());
    // --overwrite starts it over.
    assert_exit(&run(&scratch, &scenario, &out, &["--overwrite"]), 0);
    assert!(!out.join("checkpoint").exists());
}

#[test]
fn run_files_without_a_scenario_toml_are_refused_unless_overwrite() {
    let (scratch, scenario) = setup("foreign");
    let out = scratch.join("run");
    std::fs::create_dir_all(out.join("plots")).unwrap();
    std::fs::write(out.join("series.csv"), "step,time,risk\n0,0,1\n").unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let output = run(&scratch, &scenario, &out, &[] as &[&str]);
    assert_exit(&output, EXIT_BAD_INPUT);
    assert_contains(
        &stderr(&output),
        &["no scenario.toml", "plots, series.csv", "--overwrite"],
    );
    assert_exit(&run(&scratch, &scenario, &out, &["--overwrite"]), 0);
    assert!(out.join("notes.txt").exists());
}

#[test]
fn a_sweep_run_directory_of_another_scenario_is_refused_unless_overwrite() {
    let (scratch, scenario) = setup("sweep");
    let sweep_out = scratch.join("sweep");
    let sweep = |extra: &[&str]| {
        meanfield(&scratch)
            .arg("sweep")
            .arg(&scenario)
            .args(["--widths", "4,8", "--seeds", "2", "--reference", "none"])
            .arg("--out")
            .arg(&sweep_out)
            .arg("--quiet")
            .args(extra)
            .output()
            .unwrap()
    };
    assert_exit(&sweep(&[]), 0);
    // One of its run directories now holds a run of another scenario.
    let runs = sweep_out.join("runs");
    let first = runs.join(&file_names(&runs)[0]);
    let planned = std::fs::read_to_string(first.join("scenario.toml")).unwrap();
    assert_exit(
        &run(
            &scratch,
            &scenario,
            &first,
            &["--overwrite", "--set", "model.m=5"],
        ),
        0,
    );

    let output = sweep(&[]);
    assert_exit(&output, EXIT_BAD_INPUT);
    assert_contains(
        &stderr(&output),
        &[
            &first.display().to_string(),
            "different scenario",
            "model.m: 5 -> ",
        ],
    );
    assert_exit(&sweep(&["--overwrite"]), 0);
    assert_eq!(
        std::fs::read_to_string(first.join("scenario.toml")).unwrap(),
        planned
    );
}

/// The texts after `marker` on the lines of `text` that start with it.
fn marked_lines<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|line| line.trim_start().strip_prefix(marker))
        .map(str::trim)
        .filter(|rest| !rest.is_empty())
        .collect()
}

/// Every file of tests/scenarios/bad_reused/ is refused (exit 2) with the messages of its `#^`
/// lines when run into a directory prepared by its `#=` lines (files, or folders ending in
/// `/`, made first) and a first run of the same file with the arguments of its `#>` line; the
/// refused run gets the arguments of its `#<` line.
#[test]
fn every_reused_run_directory_case_is_refused_with_its_message() {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/bad_reused");
    let scratch = scratch_directory("run_directory", "bad_reused");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension() == Some(OsStr::new("toml")))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "only {} cases", files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let out = scratch.join(&name);
        std::fs::create_dir_all(&out).unwrap();
        for made in marked_lines(&text, "#=") {
            match made.strip_suffix('/') {
                Some(folder) => std::fs::create_dir_all(out.join(folder)).unwrap(),
                None => std::fs::write(out.join(made), "made before the run\n").unwrap(),
            }
        }
        for first in marked_lines(&text, "#>") {
            let args: Vec<&str> = first.split_whitespace().collect();
            let output = run(&scratch, &file, &out, &args);
            assert!(
                matches!(output.status.code(), Some(0 | EXIT_INTERRUPTED)),
                "{name}: the first run failed: {}",
                stderr(&output)
            );
        }
        let args: Vec<&str> = marked_lines(&text, "#<")
            .iter()
            .flat_map(|line| line.split_whitespace())
            .collect();
        let output = run(&scratch, &file, &out, &args);
        assert_exit(&output, EXIT_BAD_INPUT);
        let expected = marked_lines(&text, "#^");
        assert!(!expected.is_empty(), "{name}: no #^ line");
        let message = stderr(&output);
        assert_contains(&message, &expected);
        assert_contains(&message, &[&format!("run directory {}: ", out.display())]);
    }
}

// ---------------------------------------------------------------------------------------
// Items 6 and 8: resume
// ---------------------------------------------------------------------------------------

#[test]
fn a_resumed_summary_times_the_whole_run_and_this_invocation_separately() {
    let (scratch, scenario) = setup("wall-time");
    let out = scratch.join("run");
    assert_exit(
        &run(&scratch, &scenario, &out, &["--stop-at-step", "20"]),
        EXIT_INTERRUPTED,
    );
    let first = read_json(&out.join("summary.json"));
    let first_wall = first["wall_seconds_total"].as_f64().unwrap();
    assert_eq!(first["wall_seconds_invocation"].as_f64(), Some(first_wall));
    assert_eq!(
        read_json(&out.join("checkpoint/state.json"))["wall_seconds"].as_f64(),
        Some(first_wall)
    );

    assert_exit(&run(&scratch, &scenario, &out, &["--resume"]), 0);
    let summary = read_json(&out.join("summary.json"));
    let total = summary["wall_seconds_total"].as_f64().unwrap();
    let invocation = summary["wall_seconds_invocation"].as_f64().unwrap();
    assert_eq!(total, first_wall + invocation, "{summary}");
    assert_eq!(summary["step"], 62);
    assert_eq!(
        summary["steps_per_second"].as_f64(),
        Some(62.0 / total),
        "{summary}"
    );
}

#[test]
fn the_interrupt_hint_resumes_with_the_runs_own_scenario_keeping_set_overrides() {
    let (scratch, scenario) = setup("resume-hint");
    let (out, whole) = (scratch.join("run"), scratch.join("whole"));
    let overrides = ["--set", "model.m=16", "--set", "dynamics.tau=0.01"];
    assert_exit(&run(&scratch, &scenario, &whole, &overrides), 0);
    let mut stopping = overrides.to_vec();
    stopping.extend(["--stop-at-step", "20"]);
    let output = run(&scratch, &scenario, &out, &stopping);
    assert_exit(&output, EXIT_INTERRUPTED);

    // Run the hint exactly as printed.
    let message = stderr(&output);
    let hint = message
        .split("resume with: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no resume hint in {message}"))
        .trim();
    let expected = format!(
        "meanfield run {} --resume --out {}",
        out.join("scenario.toml").display(),
        out.display()
    );
    assert_eq!(hint, expected);
    let words: Vec<&str> = hint.split_whitespace().collect();
    let resumed = meanfield(&scratch).args(&words[1..]).output().unwrap();
    assert_exit(&resumed, 0);
    assert_same_run(&whole, &out);
}

#[test]
fn a_resume_with_another_scenario_names_the_differing_keys() {
    let (scratch, scenario) = setup("resume-mismatch");
    let out = scratch.join("run");
    assert_exit(
        &run(
            &scratch,
            &scenario,
            &out,
            &["--set", "model.m=16", "--stop-at-step", "20"],
        ),
        EXIT_INTERRUPTED,
    );
    let output = run(
        &scratch,
        &scenario,
        &out,
        &["--resume", "--set", "dynamics.dt=0.05"],
    );
    assert_exit(&output, EXIT_BAD_INPUT);
    assert_contains(
        &stderr(&output),
        &[
            "cannot resume",
            "dynamics.dt: 0.1 -> 0.05",
            "model.m: 16 -> 12",
            &format!("{} --resume", out.join("scenario.toml").display()),
        ],
    );
}

// ---------------------------------------------------------------------------------------
// Item 12: plot and time
// ---------------------------------------------------------------------------------------

#[test]
fn plot_of_a_missing_directory_exits_2_with_one_message() {
    let (scratch, _) = setup("plot-missing");
    let missing = scratch.join("no-such-run");
    let output = meanfield(&scratch)
        .arg("plot")
        .arg(&missing)
        .output()
        .unwrap();
    assert_exit(&output, EXIT_BAD_INPUT);
    let message = stderr(&output);
    assert_contains(
        &message,
        &[&format!(
            "run directory {}: no such directory",
            missing.display()
        )],
    );
    assert!(!message.contains("os error"), "{message}");
    assert_eq!(message.trim().lines().count(), 1, "{message}");
}

#[test]
fn plot_titles_use_the_scenario_name_not_the_folder_name() {
    let (scratch, scenario) = setup("plot-name");
    let out = scratch.join("some-folder");
    assert_exit(&run(&scratch, &scenario, &out, &[] as &[&str]), 0);
    let at_run_time = read(&out.join("report.html"));
    std::fs::remove_dir_all(out.join("plots")).unwrap();
    std::fs::remove_file(out.join("report.html")).unwrap();
    let output = meanfield(&scratch).arg("plot").arg(&out).output().unwrap();
    assert_exit(&output, 0);
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_contains(&report, &["meanfield run: tiny-study"]);
    assert!(!report.contains("some-folder"), "folder name in the report");
    assert!(read(&out.join("report.html")) == at_run_time);
}

#[test]
fn time_is_written_as_the_decimal_step_times_dt() {
    let (scratch, scenario) = setup("time");
    let out = scratch.join("run");
    // dt = 0.05: 3 * 0.05 is 0.15000000000000002 in f64 arithmetic.
    let extra = ["--set", "dynamics.dt=0.05", "--set", "record.every=1"];
    assert_exit(&run(&scratch, &scenario, &out, &extra), 0);
    let text = std::fs::read_to_string(out.join("series.csv")).unwrap();
    let mut rounded = 0;
    for line in text.lines().skip(1) {
        let mut fields = line.split(',');
        let step: u64 = fields.next().unwrap().parse().unwrap();
        let time = fields.next().unwrap();
        // step / 20 is correctly rounded: the f64 nearest the decimal step x 0.05.
        assert_eq!(time, format_float(step as f64 / 20.0), "step {step}");
        if format_float(step as f64 * 0.05) != time {
            rounded += 1;
        }
    }
    assert!(rounded > 0, "no step where step * dt prints a long decimal");
    assert_eq!(
        read_json(&out.join("summary.json"))["time"].as_f64(),
        Some(3.1)
    );
}
