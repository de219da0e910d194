//! The command line, run as a user runs it: the run directory contract, bit-identical
//! reproduction (re-run, init file, thread count, resume), bad scenarios (exit 2 with the
//! message written on their `#^` lines), divergence (exit 3), SIGINT (exit 130), `check`,
//! `plot`, `bench` and `--help`.
//!
//! Scenarios are tiny so that the file runs in seconds in release mode, except where a
//! fact needs more particles to be able to fail (thread counts: see `THREADS_M`).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{meanfield, run, stderr, stdout};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Exit codes of src/cli/mod.rs.
const EXIT_BAD_INPUT: i32 = 2;
const EXIT_DIVERGED: i32 = 3;
const EXIT_INTERRUPTED: i32 = 130;

/// The PNG file signature.
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A fresh directory under the system temporary folder, unique to the test and the process,
/// removed when dropped (kept, and its path printed, if the test fails).
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn new(test: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("meanfield-cli-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self { path }
    }

    fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `text` to `name` and returns its path.
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for inspection: {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

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

/// Asserts that `name` holds the same bytes in both directories.
fn assert_same_file(a: &Path, b: &Path, name: &str) {
    let (pa, pb) = (a.join(name), b.join(name));
    let x = std::fs::read(&pa).unwrap_or_else(|e| panic!("{}: {e}", pa.display()));
    let y = std::fs::read(&pb).unwrap_or_else(|e| panic!("{}: {e}", pb.display()));
    if x != y {
        let first = x
            .iter()
            .zip(&y)
            .position(|(p, q)| p != q)
            .unwrap_or(x.len().min(y.len()));
        panic!(
            "{name} differs between {} ({} bytes) and {} ({} bytes), first at byte {first}",
            pa.display(),
            x.len(),
            pb.display(),
            y.len()
        );
    }
}

/// The facts that make two runs the same run: identical series and final particles.
fn assert_same_run(a: &Path, b: &Path) {
    assert_same_file(a, b, "series.csv");
    assert_same_file(a, b, "particles_final.npy");
}

/// Header text and float64 data of a version-1 `.npy` file, checking its framing.
fn read_npy(path: &Path) -> (String, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x93NUMPY\x01\x00"),
        "{}: not a version 1.0 .npy file",
        path.display()
    );
    let header_len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    assert_eq!(
        (10 + header_len) % 64,
        0,
        "{}: header not padded to 64 bytes",
        path.display()
    );
    let header = std::str::from_utf8(&bytes[10..10 + header_len])
        .unwrap()
        .to_string();
    assert!(
        header.ends_with('\n'),
        "{}: header does not end in a newline",
        path.display()
    );
    assert!(
        header.contains("'descr': '<f8'"),
        "{}: {header}",
        path.display()
    );
    assert!(
        header.contains("'fortran_order': False"),
        "{}: {header}",
        path.display()
    );
    let data = &bytes[10 + header_len..];
    assert_eq!(
        data.len() % 8,
        0,
        "{}: data of {} bytes",
        path.display(),
        data.len()
    );
    let values = data
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (header, values)
}

/// Asserts that a `.npy` file holds float64 data of shape (rows, columns), every value finite.
fn assert_npy_shape(path: &Path, rows: usize, columns: usize) {
    let (header, values) = read_npy(path);
    let shape = format!("'shape': ({rows}, {columns})");
    assert!(
        header.contains(&shape),
        "{}: expected {shape} in {header}",
        path.display()
    );
    assert_eq!(
        values.len(),
        rows * columns,
        "{}: data length",
        path.display()
    );
    assert!(
        values.iter().all(|v| v.is_finite()),
        "{}: non-finite values",
        path.display()
    );
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()))
}

/// The header and the rows of a series.csv, every value parsed as f64.
fn read_series(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(String::from)
        .collect();
    let rows = lines
        .map(|line| {
            let row: Vec<f64> = line
                .split(',')
                .map(|v| {
                    v.parse()
                        .unwrap_or_else(|e| panic!("{}: {v:?} in {line:?}: {e}", path.display()))
                })
                .collect();
            assert_eq!(row.len(), header.len(), "{}: row {line:?}", path.display());
            row
        })
        .collect();
    (header, rows)
}

/// The `step` column of a series.csv.
fn logged_steps(path: &Path) -> Vec<u64> {
    let (header, rows) = read_series(path);
    assert_eq!(
        header.first().map(String::as_str),
        Some("step"),
        "{}",
        path.display()
    );
    rows.iter().map(|r| r[0] as u64).collect()
}

/// A small teacher-student scenario: d = 3, k = 2 generated teacher neurons with label noise,
/// `risk` the body of `[risk]`, `dynamics` the body of `[dynamics]` (after dt = 0.1).
fn scenario_text(m: usize, risk: &str, dynamics: &str) -> String {
    format!(
        "seed = 7\n\
         [model]\nd = 3\nm = {m}\n\
         [target]\nk = 2\nnoise_std = 0.1\n\
         [risk]\n{risk}\n\
         [dynamics]\ndt = 0.1\n{dynamics}\n\
         [record]\nevery = 5\n"
    )
}

const POPULATION: &str = "mode = \"population\"";
const ONLINE: &str = "mode = \"online\"\nbatch = 64\ntest_n = 64";
const EMPIRICAL: &str = "mode = \"empirical\"\nn = 50\ntest_n = 64";

/// The default small run: m = 12, 62 steps (logged at 0, 5, .., 60 and 62).
fn tiny(risk: &str, dynamics_extra: &str) -> String {
    scenario_text(12, risk, &format!("steps = 62\n{dynamics_extra}"))
}

/// Width of the thread-count tests: more than two particle chunks of src/task/risk.rs (256),
/// so that two threads really split the work; with m <= 256 the test could not fail.
const THREADS_M: usize = 600;

fn bad_dir() -> PathBuf {
    Path::new(MANIFEST_DIR).join("tests/scenarios/bad")
}

fn good_dir() -> PathBuf {
    Path::new(MANIFEST_DIR).join("tests/scenarios/good")
}

/// The `.toml` files of a directory, sorted.
fn toml_files(directory: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(directory)
        .unwrap_or_else(|e| panic!("{}: {e}", directory.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension() == Some(OsStr::new("toml")))
        .collect();
    files.sort();
    files
}

/// The texts of a bad scenario's `#^` lines: each must appear in the error message.
fn expected_messages(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("#^"))
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
        .collect()
}

/// Whether a directory is absent or empty.
fn is_absent_or_empty(directory: &Path) -> bool {
    std::fs::read_dir(directory).map_or(true, |mut entries| entries.next().is_none())
}

// ---------------------------------------------------------------------------------------
// The run directory
// ---------------------------------------------------------------------------------------

#[test]
fn a_run_writes_every_file_of_the_run_directory_contract() {
    let scratch = Scratch::new("contract");
    let scenario = scratch.write("tiny.toml", &tiny(POPULATION, ""));
    let out = scratch.join("run");
    let output = run(&scratch.path, &scenario, &out, &[] as &[&str]);
    assert_exit(&output, 0);

    let resolved = std::fs::read_to_string(out.join("scenario.toml")).unwrap();
    let resolved: toml::Table = toml::from_str(&resolved).unwrap();
    assert_eq!(resolved["model"]["m"].as_integer(), Some(12));

    let series = std::fs::read_to_string(out.join("series.csv")).unwrap();
    let header = series.lines().next().unwrap();
    assert!(
        header == "step,time,risk" || header.starts_with("step,time,risk,"),
        "header {header:?}"
    );
    let (_, rows) = read_series(&out.join("series.csv"));
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.iter().all(|v| v.is_finite())));

    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["status"], "finished", "{summary}");
    assert_eq!(summary["step"], 62, "{summary}");
    assert_eq!(summary["seed"], 7, "{summary}");
    assert_eq!(summary["m"], 12, "{summary}");
    assert_eq!(summary["d"], 3, "{summary}");
    assert_eq!(summary["name"], "tiny", "{summary}");
    for key in [
        "final_risk",
        "initial_risk",
        "wall_seconds_total",
        "wall_seconds_invocation",
        "steps_per_second",
        "threads",
        "version",
    ] {
        assert!(
            summary.get(key).is_some_and(|v| !v.is_null()),
            "summary.json lacks {key}: {summary}"
        );
    }

    assert_npy_shape(&out.join("particles_init.npy"), 12, 4);
    assert_npy_shape(&out.join("particles_final.npy"), 12, 4);
    assert_npy_shape(&out.join("teacher.npy"), 2, 4);

    let png = std::fs::read(out.join("plots/risk.png")).unwrap();
    assert!(
        png.starts_with(PNG_SIGNATURE),
        "plots/risk.png is not a PNG"
    );
    let svg = std::fs::read_to_string(out.join("plots/risk.svg")).unwrap();
    assert!(svg.contains("<svg"), "plots/risk.svg is not an SVG");
    assert!(
        !out.join("checkpoint").exists(),
        "a finished run keeps no checkpoint"
    );
}

#[test]
fn series_logs_step_zero_every_multiple_and_the_last_step() {
    let scratch = Scratch::new("schedule");
    let scenario = scratch.write("tiny.toml", &tiny(POPULATION, ""));
    let out = scratch.join("run");
    assert_exit(&run(&scratch.path, &scenario, &out, &[] as &[&str]), 0);
    let expected: Vec<u64> = (0..=60).step_by(5).chain([62]).collect();
    assert_eq!(logged_steps(&out.join("series.csv")), expected);
}

#[test]
fn series_time_column_is_step_times_dt() {
    let scratch = Scratch::new("time-column");
    let scenario = scratch.write("tiny.toml", &tiny(POPULATION, ""));
    let out = scratch.join("run");
    assert_exit(&run(&scratch.path, &scenario, &out, &[] as &[&str]), 0);
    let (header, rows) = read_series(&out.join("series.csv"));
    assert_eq!(header[1], "time");
    for row in rows {
        // time = step * dt with dt = 0.1: relative error of one rounding at most.
        let expected = row[0] * 0.1;
        assert!(
            (row[1] - expected).abs() <= 2.0 * f64::EPSILON * expected,
            "step {} time {}",
            row[0],
            row[1]
        );
    }
}

// ---------------------------------------------------------------------------------------
// Reproduction
// ---------------------------------------------------------------------------------------

#[test]
fn rerunning_the_written_scenario_is_bit_identical() {
    let scratch = Scratch::new("rerun");
    let scenario = scratch.write("tiny.toml", &tiny(ONLINE, "tau = 0.01"));
    let (a, b) = (scratch.join("a"), scratch.join("b"));
    assert_exit(&run(&scratch.path, &scenario, &a, &[] as &[&str]), 0);
    assert_exit(
        &run(&scratch.path, &a.join("scenario.toml"), &b, &[] as &[&str]),
        0,
    );
    assert_same_run(&a, &b);
    assert_same_file(&a, &b, "particles_init.npy");
    assert_same_file(&a, &b, "teacher.npy");
}

#[test]
fn written_scenario_resolves_to_itself() {
    let scratch = Scratch::new("fixed-point");
    let scenario = scratch.write("tiny.toml", &tiny(EMPIRICAL, "integrator = \"heun\""));
    let (a, b) = (scratch.join("a"), scratch.join("b"));
    assert_exit(&run(&scratch.path, &scenario, &a, &[] as &[&str]), 0);
    assert_exit(
        &run(&scratch.path, &a.join("scenario.toml"), &b, &[] as &[&str]),
        0,
    );
    assert_same_file(&a, &b, "scenario.toml");
}

#[test]
fn written_scenario_with_relative_data_files_reruns_from_another_directory() {
    let scratch = Scratch::new("rerun-files");
    let (a, b) = (scratch.join("a"), scratch.join("b"));
    let scenario = good_dir().join("empirical_files.toml");
    assert_exit(&run(&scratch.path, &scenario, &a, &[] as &[&str]), 0);
    // The copy lives away from x.npy and y.npy: only absolute paths in it can work.
    let copy = scratch.write(
        "copy.toml",
        &std::fs::read_to_string(a.join("scenario.toml")).unwrap(),
    );
    assert_exit(&run(&scratch.path, &copy, &b, &[] as &[&str]), 0);
    assert_same_run(&a, &b);
}

/// Runs `text`, then the same scenario started from the first run's particles_init.npy.
fn assert_init_file_reproduces(test: &str, text: &str) {
    let scratch = Scratch::new(test);
    let scenario = scratch.write("tiny.toml", text);
    let (a, b) = (scratch.join("a"), scratch.join("b"));
    assert_exit(&run(&scratch.path, &scenario, &a, &[] as &[&str]), 0);
    let init = format!("init.file={}", a.join("particles_init.npy").display());
    assert_exit(&run(&scratch.path, &scenario, &b, &["--set", &init]), 0);
    assert_same_file(&a, &b, "particles_init.npy");
    assert_same_run(&a, &b);
}

#[test]
fn run_started_from_an_earlier_runs_init_file_reproduces_it() {
    assert_init_file_reproduces("init-file", &tiny(POPULATION, ""));
}

#[test]
fn run_started_from_an_init_file_reproduces_an_online_langevin_run() {
    assert_init_file_reproduces("init-file-online", &tiny(ONLINE, "tau = 0.01"));
}

/// Runs `text` with --threads 1 and --threads 2.
fn assert_threads_identical(test: &str, text: &str) {
    let scratch = Scratch::new(test);
    let scenario = scratch.write("threads.toml", text);
    let (one, two) = (scratch.join("one"), scratch.join("two"));
    assert_exit(&run(&scratch.path, &scenario, &one, &["--threads", "1"]), 0);
    assert_exit(&run(&scratch.path, &scenario, &two, &["--threads", "2"]), 0);
    assert_eq!(read_json(&one.join("summary.json"))["threads"], 1);
    assert_eq!(read_json(&two.join("summary.json"))["threads"], 2);
    assert_same_run(&one, &two);
}

#[test]
fn one_and_two_threads_are_bit_identical_in_population_mode() {
    assert_threads_identical(
        "threads-population",
        &scenario_text(THREADS_M, POPULATION, "steps = 12"),
    );
}

#[test]
fn one_and_two_threads_are_bit_identical_in_empirical_mode() {
    let risk = "mode = \"empirical\"\nn = 700\ntest_n = 300";
    assert_threads_identical(
        "threads-empirical",
        &scenario_text(THREADS_M, risk, "steps = 12"),
    );
}

#[test]
fn one_and_two_threads_are_bit_identical_in_online_mode() {
    let risk = "mode = \"online\"\nbatch = 300\ntest_n = 300";
    assert_threads_identical(
        "threads-online",
        &scenario_text(THREADS_M, risk, "steps = 12"),
    );
}

#[test]
fn one_and_two_threads_are_bit_identical_with_langevin_noise() {
    assert_threads_identical(
        "threads-langevin",
        &scenario_text(
            THREADS_M,
            POPULATION,
            "steps = 12\ntau = 0.01\nlambda = 0.001",
        ),
    );
}

// ---------------------------------------------------------------------------------------
// Interrupt and resume
// ---------------------------------------------------------------------------------------

/// Runs `text` whole, and again stopped after each step of `stops` and resumed each time.
fn assert_resumed_equals_uninterrupted(test: &str, text: &str, stops: &[u64]) {
    let scratch = Scratch::new(test);
    let scenario = scratch.write("tiny.toml", text);
    let (whole, parts) = (scratch.join("whole"), scratch.join("parts"));
    assert_exit(&run(&scratch.path, &scenario, &whole, &[] as &[&str]), 0);

    for (i, stop) in stops.iter().enumerate() {
        let stop_flag = stop.to_string();
        let mut extra = vec!["--stop-at-step", &stop_flag];
        if i > 0 {
            extra.push("--resume");
        }
        let output = run(&scratch.path, &scenario, &parts, &extra);
        assert_exit(&output, EXIT_INTERRUPTED);
        let summary = read_json(&parts.join("summary.json"));
        assert_eq!(summary["status"], "interrupted", "{summary}");
        assert_eq!(summary["step"], *stop, "{summary}");
        assert!(
            parts.join("checkpoint/state.json").exists(),
            "no checkpoint after stopping at {stop}"
        );
        assert!(
            stderr(&output).contains("--resume"),
            "no resume hint: {}",
            stderr(&output)
        );
    }
    let output = run(&scratch.path, &scenario, &parts, &["--resume"]);
    assert_exit(&output, 0);
    assert_eq!(read_json(&parts.join("summary.json"))["status"], "finished");
    assert!(
        !parts.join("checkpoint").exists(),
        "the checkpoint outlives the finished run"
    );
    assert_same_run(&whole, &parts);
}

#[test]
fn interrupted_and_resumed_run_equals_uninterrupted() {
    assert_resumed_equals_uninterrupted("resume", &tiny(POPULATION, ""), &[23]);
}

#[test]
fn interrupted_and_resumed_langevin_run_equals_uninterrupted() {
    assert_resumed_equals_uninterrupted("resume-langevin", &tiny(POPULATION, "tau = 0.01"), &[23]);
}

#[test]
fn interrupted_and_resumed_online_run_equals_uninterrupted() {
    assert_resumed_equals_uninterrupted("resume-online", &tiny(ONLINE, "tau = 0.01"), &[23]);
}

#[test]
fn twice_interrupted_empirical_run_resumed_equals_uninterrupted() {
    assert_resumed_equals_uninterrupted("resume-twice", &tiny(EMPIRICAL, ""), &[10, 37]);
}

#[test]
fn run_interrupted_at_a_logged_step_resumes_without_a_duplicate_row() {
    assert_resumed_equals_uninterrupted("resume-logged", &tiny(ONLINE, ""), &[25]);
}

#[test]
fn periodic_checkpoints_do_not_change_the_result() {
    let scratch = Scratch::new("checkpoints");
    let scenario = scratch.write("tiny.toml", &tiny(ONLINE, "tau = 0.01"));
    let (plain, checkpointed) = (scratch.join("plain"), scratch.join("checkpointed"));
    assert_exit(&run(&scratch.path, &scenario, &plain, &[] as &[&str]), 0);
    // A checkpoint after every step.
    assert_exit(
        &run(
            &scratch.path,
            &scenario,
            &checkpointed,
            &["--checkpoint-every", "1e-9"],
        ),
        0,
    );
    assert_same_run(&plain, &checkpointed);
    assert!(!checkpointed.join("checkpoint").exists());
}

#[test]
fn resume_with_another_scenario_is_refused() {
    let scratch = Scratch::new("resume-other");
    let scenario = scratch.write("tiny.toml", &tiny(POPULATION, ""));
    let out = scratch.join("run");
    assert_exit(
        &run(&scratch.path, &scenario, &out, &["--stop-at-step", "20"]),
        EXIT_INTERRUPTED,
    );
    let output = run(
        &scratch.path,
        &scenario,
        &out,
        &["--resume", "--set", "dynamics.dt=0.05"],
    );
    assert_exit(&output, EXIT_BAD_INPUT);
    assert!(
        stderr(&output).contains("same scenario"),
        "{}",
        stderr(&output)
    );
    // The refusal leaves the interrupted run as it was: still resumable.
    assert_eq!(
        read_json(&out.join("summary.json"))["status"],
        "interrupted"
    );
    assert!(out.join("checkpoint/state.json").exists());
    assert_exit(&run(&scratch.path, &scenario, &out, &["--resume"]), 0);
}

/// Kills the child on drop, so that a failing test leaves no process behind.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn sigint_stops_the_run_with_exit_130_and_a_checkpoint() {
    let scratch = Scratch::new("sigint");
    let text =
        "[model]\nd = 2\nm = 4\n[dynamics]\ndt = 0.01\nsteps = 2000000\n[record]\nevery = 1000\n";
    let scenario = scratch.write("long.toml", text);
    let out = scratch.join("run");
    let child = meanfield(&scratch.path)
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);

    let started = Instant::now();
    while !out.join("scenario.toml").exists() {
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "the run ended before it was interrupted"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no scenario.toml after 30 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let kill = Command::new("kill")
        .arg("-INT")
        .arg(child.0.id().to_string())
        .status()
        .unwrap();
    assert!(kill.success(), "kill -INT failed");

    let signalled = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        if signalled.elapsed() > Duration::from_secs(30) {
            panic!("still running 30 s after SIGINT (killed)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut message = String::new();
    if let Some(mut pipe) = child.0.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut message).unwrap();
    }
    assert_eq!(
        status.code(),
        Some(EXIT_INTERRUPTED),
        "status {status:?}, stderr:\n{message}"
    );
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["status"], "interrupted", "{summary}");
    let step = summary["step"].as_u64().unwrap();
    assert!(step > 0 && step < 2_000_000, "{summary}");
    assert!(out.join("checkpoint/state.json").exists());
    assert!(out.join("checkpoint/particles.npy").exists());
    assert_npy_shape(&out.join("checkpoint/particles.npy"), 4, 3);
    let logged = logged_steps(&out.join("series.csv"));
    assert_eq!(logged.first(), Some(&0));
    assert!(message.contains("--resume"), "no resume hint: {message}");
}

// ---------------------------------------------------------------------------------------
// Bad scenarios, divergence
// ---------------------------------------------------------------------------------------

/// Runs `subcommand` on every bad scenario; returns the failures, one line each.
fn bad_scenario_failures(subcommand: &str) -> Vec<String> {
    let scratch = Scratch::new(&format!("bad-{subcommand}"));
    let files = toml_files(&bad_dir());
    assert!(
        files.len() >= 18,
        "only {} bad scenarios found",
        files.len()
    );
    let mut failures = Vec::new();
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let expected = expected_messages(&file);
        if expected.is_empty() {
            failures.push(format!("{name}: no `#^` line"));
            continue;
        }
        let out = scratch.join(&name);
        let mut command = meanfield(&scratch.path);
        command.arg(subcommand).arg(&file);
        if subcommand == "run" {
            command.arg("--out").arg(&out).arg("--quiet");
        }
        let output = command.output().unwrap();
        let message = stderr(&output);
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
        if !is_absent_or_empty(&out) {
            failures.push(format!(
                "{name}: wrote into its run directory {}",
                out.display()
            ));
        }
        if !output.stdout.is_empty() {
            failures.push(format!("{name}: printed on stdout: {}", stdout(&output)));
        }
    }
    failures
}

#[test]
fn every_bad_scenario_fails_to_run_with_exit_2_and_its_message() {
    let failures = bad_scenario_failures("run");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_bad_scenario_fails_check_with_exit_2_and_its_message() {
    let failures = bad_scenario_failures("check");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bad_set_override_is_named_as_coming_from_set() {
    let scratch = Scratch::new("bad-set");
    let scenario = scratch.write("tiny.toml", &tiny(POPULATION, ""));
    let out = scratch.join("run");
    let output = run(&scratch.path, &scenario, &out, &["--set", "dynamics.dt=-1"]);
    assert_exit(&output, EXIT_BAD_INPUT);
    assert!(
        stderr(&output).contains("dynamics.dt (from --set) = -1"),
        "{}",
        stderr(&output)
    );
    assert!(is_absent_or_empty(&out));
}

#[test]
fn missing_scenario_file_is_bad_input() {
    let scratch = Scratch::new("missing-scenario");
    let output = run(
        &scratch.path,
        &scratch.join("nowhere.toml"),
        &scratch.join("run"),
        &[] as &[&str],
    );
    assert_exit(&output, EXIT_BAD_INPUT);
    assert!(
        stderr(&output).contains("nowhere.toml"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn diverging_run_exits_3_and_keeps_its_rows_and_last_finite_particles() {
    let scratch = Scratch::new("diverge");
    let text = "[model]\nd = 2\nm = 10\nactivation = \"quadratic\"\n\
                [init]\na = { law = \"normal\", std = 3.0 }\nw = { law = \"normal\", std = 3.0 }\n\
                [dynamics]\ndt = 50.0\nsteps = 100\n[record]\nevery = 1\n";
    let scenario = scratch.write("diverge.toml", text);
    let out = scratch.join("run");
    let output = run(&scratch.path, &scenario, &out, &[] as &[&str]);
    assert_exit(&output, EXIT_DIVERGED);
    assert!(stderr(&output).contains("diverged"), "{}", stderr(&output));

    let logged = logged_steps(&out.join("series.csv"));
    assert_eq!(logged.first(), Some(&0), "the step-0 row is lost");
    let consecutive: Vec<u64> = (0..logged.len() as u64).collect();
    assert_eq!(
        logged, consecutive,
        "with record.every = 1 every step up to the divergence is a row"
    );
    assert_npy_shape(&out.join("particles_last_finite.npy"), 10, 3);
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["status"], "diverged", "{summary}");
    assert!(summary["step"].as_u64().unwrap() < 100, "{summary}");
}

// ---------------------------------------------------------------------------------------
// check, good scenarios
// ---------------------------------------------------------------------------------------

/// The good scenarios of tests/ and the committed ones of scenarios/.
fn good_scenarios() -> Vec<PathBuf> {
    let mut files = toml_files(&good_dir());
    assert!(
        files.len() >= 9,
        "only {} good scenarios found",
        files.len()
    );
    files.extend(toml_files(&Path::new(MANIFEST_DIR).join("scenarios")));
    files
}

#[test]
fn every_good_scenario_passes_check() {
    // Run from elsewhere: paths inside a scenario are relative to the scenario file.
    let scratch = Scratch::new("good-check");
    let mut failures = Vec::new();
    for file in good_scenarios() {
        let output = meanfield(&scratch.path)
            .arg("check")
            .arg(&file)
            .output()
            .unwrap();
        if output.status.code() != Some(0) {
            failures.push(format!(
                "{}: exit {:?}: {}",
                file.display(),
                output.status.code(),
                stderr(&output)
            ));
        } else if toml::from_str::<toml::Table>(&stdout(&output)).is_err() {
            failures.push(format!(
                "{}: check printed no TOML: {}",
                file.display(),
                stdout(&output)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_good_test_scenario_runs_to_its_last_step() {
    let scratch = Scratch::new("good-run");
    let mut failures = Vec::new();
    for file in toml_files(&good_dir()) {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let out = scratch.join(&name);
        let output = run(&scratch.path, &file, &out, &[] as &[&str]);
        if output.status.code() != Some(0) {
            failures.push(format!(
                "{name}: exit {:?}: {}",
                output.status.code(),
                stderr(&output)
            ));
            continue;
        }
        let resolved: toml::Table =
            toml::from_str(&std::fs::read_to_string(out.join("scenario.toml")).unwrap()).unwrap();
        let steps = resolved["dynamics"]["steps"].as_integer().unwrap();
        let last = logged_steps(&out.join("series.csv")).last().copied();
        if last != u64::try_from(steps).ok() {
            failures.push(format!(
                "{name}: last logged step {last:?}, expected {steps}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn check_prints_every_default() {
    let scratch = Scratch::new("check-defaults");
    let scenario = scratch.write("minimal.toml", "[model]\nd = 3\nm = 5\n");
    let output = meanfield(&scratch.path)
        .arg("check")
        .arg(&scenario)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let printed: toml::Table = toml::from_str(&stdout(&output)).unwrap();
    let keys: &[(&str, &[&str])] = &[
        ("model", &["d", "m", "alpha", "activation", "bias"]),
        ("init", &["a", "w"]),
        ("target", &["k", "directions", "norm", "a", "noise_std"]),
        ("risk", &["mode"]),
        (
            "dynamics",
            &[
                "integrator",
                "dt",
                "steps",
                "lambda",
                "tau",
                "train",
                "lr_ratio",
            ],
        ),
        ("record", &["schedule", "every"]),
    ];
    assert_eq!(printed["name"].as_str(), Some("minimal"));
    assert!(printed.contains_key("seed"));
    for (section, names) in keys {
        let table = printed[*section]
            .as_table()
            .unwrap_or_else(|| panic!("no [{section}]"));
        for name in *names {
            assert!(
                table.contains_key(*name),
                "check does not print {section}.{name}:\n{}",
                stdout(&output)
            );
        }
    }
    assert_eq!(printed["dynamics"]["integrator"].as_str(), Some("euler"));
    assert_eq!(printed["dynamics"]["steps"].as_integer(), Some(1000));
    assert_eq!(printed["record"]["every"].as_integer(), Some(10));
}

#[test]
fn running_the_toml_printed_by_check_gives_the_same_result() {
    let scratch = Scratch::new("check-rerun");
    let scenario = scratch.write("tiny.toml", &tiny(ONLINE, "tau = 0.01"));
    let output = meanfield(&scratch.path)
        .arg("check")
        .arg(&scenario)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let printed = scratch.write("printed.toml", &stdout(&output));
    let (a, b) = (scratch.join("a"), scratch.join("b"));
    assert_exit(&run(&scratch.path, &scenario, &a, &[] as &[&str]), 0);
    assert_exit(&run(&scratch.path, &printed, &b, &[] as &[&str]), 0);
    assert_same_run(&a, &b);
}

#[test]
fn check_output_of_every_good_scenario_resolves_to_itself() {
    let scratch = Scratch::new("check-idempotent");
    let mut failures = Vec::new();
    for file in good_scenarios() {
        let first = meanfield(&scratch.path)
            .arg("check")
            .arg(&file)
            .output()
            .unwrap();
        assert_exit(&first, 0);
        let printed = scratch.write("printed.toml", &stdout(&first));
        let second = meanfield(&scratch.path)
            .arg("check")
            .arg(&printed)
            .output()
            .unwrap();
        assert_exit(&second, 0);
        if first.stdout != second.stdout {
            failures.push(format!(
                "{}:\n{}\n--- resolves to ---\n{}",
                file.display(),
                stdout(&first),
                stdout(&second)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn check_writes_no_run_directory() {
    let scratch = Scratch::new("check-writes-nothing");
    let scenario = scratch.write("tiny.toml", &tiny(POPULATION, ""));
    assert_exit(
        &meanfield(&scratch.path)
            .arg("check")
            .arg(&scenario)
            .output()
            .unwrap(),
        0,
    );
    let entries: Vec<_> = std::fs::read_dir(&scratch.path)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, vec![OsStr::new("tiny.toml").to_os_string()]);
}

// ---------------------------------------------------------------------------------------
// plot, bench, --help
// ---------------------------------------------------------------------------------------

#[test]
fn plot_re_renders_deleted_figures() {
    let scratch = Scratch::new("plot");
    let scenario = scratch.write("tiny.toml", &tiny(POPULATION, ""));
    let out = scratch.join("run");
    assert_exit(&run(&scratch.path, &scenario, &out, &[] as &[&str]), 0);
    std::fs::remove_dir_all(out.join("plots")).unwrap();
    let output = meanfield(&scratch.path)
        .arg("plot")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let png = std::fs::read(out.join("plots/risk.png")).unwrap();
    assert!(
        png.starts_with(PNG_SIGNATURE),
        "plots/risk.png is not a PNG"
    );
    assert!(
        std::fs::read_to_string(out.join("plots/risk.svg"))
            .unwrap()
            .contains("<svg")
    );
}

#[test]
fn plot_of_a_directory_without_series_fails() {
    let scratch = Scratch::new("plot-empty");
    let output = meanfield(&scratch.path)
        .arg("plot")
        .arg(&scratch.path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("series.csv"),
        "{}",
        stderr(&output)
    );
}

/// Runs `bench --json` with `extra` and returns its one JSON line, checking the keys.
fn bench_json(case: &str, extra: &[&str]) -> serde_json::Value {
    let output = meanfield(Path::new(MANIFEST_DIR))
        .args(["bench", "--json", "--reps", "1", "--quick", "--case", case])
        .args(extra)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one JSON line:\n{text}");
    let record: serde_json::Value =
        serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {}", lines[0]));
    for key in [
        "case",
        "s_per_step_median",
        "s_per_step_min",
        "gflops",
        "threads",
    ] {
        assert!(record.get(key).is_some(), "no {key} in {record}");
    }
    assert_eq!(record["case"], case);
    let median = record["s_per_step_median"].as_f64().unwrap();
    let min = record["s_per_step_min"].as_f64().unwrap();
    assert!(min > 0.0 && min <= median && median.is_finite(), "{record}");
    assert!(record["gflops"].as_f64().unwrap() > 0.0, "{record}");
    // The GEMM bound is measured in the same run and the fraction is the ratio of the two.
    let bound = record["bound_gflops"].as_f64().unwrap();
    let fraction = record["bound_fraction"].as_f64().unwrap();
    let ratio = record["gflops"].as_f64().unwrap() / bound;
    assert!(
        bound > 0.0 && (fraction - ratio).abs() <= 1e-12 * ratio,
        "{record}"
    );
    record
}

#[test]
fn bench_json_prints_one_valid_line_for_pop1() {
    bench_json("pop1", &[]);
}

#[test]
fn bench_json_prints_one_valid_line_for_data1_and_reports_its_threads() {
    let record = bench_json("data1", &["--threads", "1"]);
    assert_eq!(record["threads"], 1, "{record}");
}

#[test]
fn bench_rejects_an_unknown_case() {
    let output = meanfield(Path::new(MANIFEST_DIR))
        .args([
            "bench", "--json", "--reps", "1", "--quick", "--case", "pop9",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(stderr(&output).contains("pop9"), "{}", stderr(&output));
}

#[test]
fn help_works_for_every_subcommand() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--help"], &["run", "check", "plot", "bench"]),
        (
            &["run", "--help"],
            &[
                "--out",
                "--set",
                "--threads",
                "--quiet",
                "--resume",
                "--checkpoint-every",
            ],
        ),
        (&["check", "--help"], &["--set", "SCENARIO"]),
        (&["plot", "--help"], &["RUN_DIR"]),
        (
            &["bench", "--help"],
            &["--case", "--reps", "--json", "--quick", "--threads"],
        ),
    ];
    for (args, mentions) in cases {
        let output = meanfield(Path::new(MANIFEST_DIR))
            .args(*args)
            .output()
            .unwrap();
        assert_exit(&output, 0);
        let text = stdout(&output);
        for mention in *mentions {
            assert!(
                text.contains(mention),
                "`meanfield {}` does not mention {mention}:\n{text}",
                args.join(" ")
            );
        }
    }
}

#[test]
fn gallery_help_names_every_entry() {
    let output = meanfield(Path::new(MANIFEST_DIR))
        .args(["gallery", "--help"])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    // clap wraps the text: compare with the line breaks taken out.
    let text = stdout(&output)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for entry in meanfield::gallery::ENTRIES {
        assert!(
            text.contains(&format!("{} (", entry.name)),
            "`meanfield gallery --help` does not name the entry {}:\n{text}",
            entry.name
        );
    }
}

#[test]
fn run_help_hides_the_testing_flag() {
    let output = meanfield(Path::new(MANIFEST_DIR))
        .args(["run", "--help"])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert!(!stdout(&output).contains("stop-at-step"));
}

/// The built-in default scenario visibly learns: the risk falls by at least two orders of
/// magnitude (issue 4's contract for scenarios/quickstart.toml).
#[test]
fn quickstart_risk_falls_by_two_orders_of_magnitude() {
    let scratch = Scratch::new("quickstart");
    let scenario = Path::new(MANIFEST_DIR).join("scenarios/quickstart.toml");
    let out = scratch.join("run");
    let output = run(&scratch.path, &scenario, &out, &[] as &[&str]);
    assert_exit(&output, 0);
    let summary = read_json(&out.join("summary.json"));
    let initial = summary["initial_risk"].as_f64().unwrap();
    let last = summary["final_risk"].as_f64().unwrap();
    assert!(last < initial / 100.0, "risk {initial} -> {last}");
}

/// Observers never change the trajectory: every observer on (a row per step, snapshots,
/// distances, tangent kernel) and every observer off give the same final particles.
#[test]
fn observers_do_not_change_the_trajectory() {
    let scratch = Scratch::new("observers");
    let text = "seed = 3\n[model]\nd = 3\nm = 40\n[target]\nk = 2\n[dynamics]\ndt = 0.05\nsteps = 60\ntau = 0.001\n";
    let scenario = scratch.write("observers.toml", text);
    let on = run(
        &scratch.path,
        &scenario,
        &scratch.join("on"),
        &[
            "--set",
            "record.every=1",
            "--set",
            "record.snapshots=30",
            "--set",
            "record.probes=8",
        ],
    );
    assert_exit(&on, 0);
    let off = run(
        &scratch.path,
        &scenario,
        &scratch.join("off"),
        &[
            "--set",
            "record.every=1000",
            "--set",
            "record.snapshots=0",
            "--set",
            "record.probes=0",
        ],
    );
    assert_exit(&off, 0);
    assert_same_file(
        &scratch.join("on"),
        &scratch.join("off"),
        "particles_final.npy",
    );
    // The observed run measured what it was asked for.
    let (columns, rows) = read_series(&scratch.join("on").join("measures.csv"));
    assert!(rows.len() >= 20, "{} snapshot rows", rows.len());
    for wanted in [
        "coupled_to_init",
        "sliced_w2_to_init",
        "exact_w2_to_init",
        "kernel_change",
        "entropy",
        "free_energy",
    ] {
        assert!(
            columns.iter().any(|c| c == wanted),
            "measures.csv lacks {wanted}"
        );
    }
}

/// A run renders every figure, the GIF and the self-contained report.
#[test]
fn a_run_renders_every_figure_and_the_report() {
    let scratch = Scratch::new("figures");
    let text =
        "seed = 3\n[model]\nd = 3\nm = 30\n[target]\nk = 2\n[dynamics]\ndt = 0.05\nsteps = 40\n";
    let scenario = scratch.write("figures.toml", text);
    let out = scratch.join("run");
    assert_exit(&run(&scratch.path, &scenario, &out, &[] as &[&str]), 0);
    for stem in [
        "risk",
        "movement",
        "distance",
        "cloud",
        "cloud_panels",
        "marginal_a",
        "marginal_w_norm",
        "marginal_angle_0",
        "marginal_angle_1",
    ] {
        let png = std::fs::read(out.join("plots").join(format!("{stem}.png"))).unwrap();
        assert!(png.starts_with(PNG_SIGNATURE), "{stem}.png");
        let svg = std::fs::read_to_string(out.join("plots").join(format!("{stem}.svg"))).unwrap();
        assert!(svg.contains("<svg"), "{stem}.svg");
    }
    let gif = std::fs::read(out.join("plots").join("cloud.gif")).unwrap();
    assert!(gif.starts_with(b"GIF89a"));
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.matches("data:image/png;base64,").count() >= 9);
    assert!(!report.contains("http://") && !report.contains("https://"));
    for name in [
        "marginals_a.csv",
        "marginals_w_norm.csv",
        "marginals_angle_0.csv",
        "snapshots/step_0.npy",
        "snapshots/step_40.npy",
        "snapshots/indices.npy",
    ] {
        assert!(out.join(name).exists(), "{name} missing");
    }
}

/// `[record]` switches turn observers off: no figures, marginals, distances or alignment are
/// written, every table keeps one value per column, and `meanfield plot` renders the figures
/// afterwards from the stored data.
#[test]
fn record_switches_turn_observers_off_and_plot_renders_later() {
    let scratch = Scratch::new("switches");
    let text = "seed = 3\n[model]\nd = 3\nm = 30\n[target]\nk = 2\n[dynamics]\nsteps = 30\n\
                [record]\nfigures = false\nmarginals = false\ndistances = false\nalignment = false\n";
    let scenario = scratch.write("switches.toml", text);
    let out = scratch.join("run");
    assert_exit(&run(&scratch.path, &scenario, &out, &[] as &[&str]), 0);
    assert!(!out.join("plots").exists() && !out.join("report.html").exists());
    assert!(!out.join("marginals_a.csv").exists());
    let (columns, rows) = read_series(&out.join("measures.csv"));
    assert_eq!(
        columns,
        ["step", "time", "coupled_to_init", "kernel_change"]
    );
    assert!(rows.iter().all(|r| r.len() == columns.len()));
    let (series_columns, series_rows) = read_series(&out.join("series.csv"));
    assert!(!series_columns.iter().any(|c| c.starts_with("cone_share")));
    assert!(series_rows.iter().all(|r| r.len() == series_columns.len()));
    let plot = meanfield(&scratch.path)
        .arg("plot")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit(&plot, 0);
    assert!(out.join("report.html").exists() && out.join("plots").join("cloud.png").exists());
}

#[test]
fn run_with_device_cuda_gets_the_gpu_or_says_what_is_missing() {
    let scratch = Scratch::new("device_cuda");
    let output = meanfield(Path::new(MANIFEST_DIR))
        .args([
            "run",
            "scenarios/quickstart.toml",
            "--quiet",
            "--device",
            "cuda",
        ])
        .args(["--set", "dynamics.steps=2", "--out"])
        .arg(scratch.join("run"))
        .output()
        .unwrap();
    let text = stderr(&output);
    if cfg!(feature = "cuda") {
        // Built with the backend: a GPU machine runs; elsewhere the driver is named.
        assert!(
            output.status.success() || text.contains("device cuda: "),
            "{text}"
        );
    } else {
        assert_exit(&output, EXIT_BAD_INPUT);
        assert!(
            text.contains("device") && text.contains("--features cuda"),
            "{text}"
        );
    }
}
