//! Sweeps (`meanfield::sweep`): coupled seeds across widths, resume, shards and merge, and the
//! exact finite-m identity of docs/math.md section 7 through the sweep's own statistics.
#![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use meanfield::output::read_npy;
use meanfield::sweep::{Plan, SweepOverrides, execute, finish, gather, sweep_csv};

const TINY: &str = r#"
name = "tiny"
seed = 3
[model]
d = 4
[target]
k = 2
[dynamics]
dt = 0.1
steps = 6
[record]
every = 3
snapshots = 2
marginals = false
[sweep]
widths = [4, 8, 16]
seeds = 2
reference = "wide"
reference_width = 32
bootstrap = 50
"#;

/// A fresh directory for one test, holding `scenario.toml` with `text`.
fn workspace(test: &str, text: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("meanfield-sweep-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("scenario.toml");
    std::fs::write(&scenario, text).unwrap();
    (dir, scenario)
}

fn plan(scenario: &Path) -> Plan {
    Plan::build(scenario, &[], &SweepOverrides::default()).unwrap()
}

fn run_all(plan: &Plan, out: &Path, selection: &[usize]) -> meanfield::sweep::ExecutionReport {
    execute(plan, selection, out, 2, &AtomicBool::new(false), &|_| {}).unwrap()
}

#[test]
fn narrow_runs_start_from_the_first_particles_of_wider_runs_of_the_same_seed() {
    let (dir, scenario) = workspace("prefix", TINY);
    let plan = plan(&scenario);
    let out = dir.join("out");
    run_all(&plan, &out, &(0..plan.runs.len()).collect::<Vec<_>>());
    for seed in &plan.seeds {
        let init = |m: usize| {
            let run = plan
                .runs
                .iter()
                .find(|r| r.m == m && r.seed == *seed)
                .unwrap();
            read_npy(&out.join("runs").join(&run.id).join("particles_init.npy")).unwrap()
        };
        let widest = init(32);
        for m in [4, 8, 16] {
            assert_eq!(
                init(m),
                widest.rows(0, m).into_owned(),
                "m = {m}, seed {seed}"
            );
        }
        // The teacher is pinned: every seed learns the same one.
        let teacher = |s: u64| {
            let run = plan.runs.iter().find(|r| r.m == 4 && r.seed == s).unwrap();
            read_npy(&out.join("runs").join(&run.id).join("teacher.npy")).unwrap()
        };
        assert_eq!(teacher(*seed), teacher(plan.seeds[0]));
    }
    // Different seeds draw different particles.
    let first = |s: u64| {
        let run = plan.runs.iter().find(|r| r.m == 4 && r.seed == s).unwrap();
        read_npy(&out.join("runs").join(&run.id).join("particles_init.npy")).unwrap()
    };
    assert_ne!(first(plan.seeds[0]), first(plan.seeds[1]));
}

#[test]
fn a_second_sweep_skips_finished_runs_and_redoes_only_a_missing_one() {
    let (dir, scenario) = workspace("resume", TINY);
    let plan = plan(&scenario);
    let out = dir.join("out");
    let all: Vec<usize> = (0..plan.runs.len()).collect();
    let first = run_all(&plan, &out, &all);
    assert_eq!((first.finished, first.skipped), (plan.runs.len(), 0));
    let before = std::fs::read(out.join("runs").join(&plan.runs[0].id).join("series.csv")).unwrap();
    let second = run_all(&plan, &out, &all);
    assert_eq!((second.finished, second.skipped), (0, plan.runs.len()));
    std::fs::remove_dir_all(out.join("runs").join(&plan.runs[2].id)).unwrap();
    let third = run_all(&plan, &out, &all);
    assert_eq!((third.finished, third.skipped), (1, plan.runs.len() - 1));
    let after = std::fs::read(out.join("runs").join(&plan.runs[0].id).join("series.csv")).unwrap();
    assert_eq!(before, after);
}

#[test]
fn shards_partition_the_runs_and_merge_to_the_unsharded_sweep_csv() {
    let (dir, scenario) = workspace("shards", TINY);
    let plan = plan(&scenario);
    let all: Vec<usize> = (0..plan.runs.len()).collect();
    // Partition: every run in exactly one of 3 shards.
    let mut seen: Vec<usize> = (0..3).flat_map(|i| plan.shard(i, 3)).collect();
    seen.sort_unstable();
    assert_eq!(seen, all);

    let whole = dir.join("whole");
    run_all(&plan, &whole, &all);
    finish(std::slice::from_ref(&whole), &whole).unwrap();
    // Shards into separate directories (no shared file system), merged into a third.
    let shards: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("shard{i}"))).collect();
    for (i, shard) in shards.iter().enumerate() {
        run_all(&plan, shard, &plan.shard(i, 3));
    }
    // A merge with a shard missing fails and names a missing run.
    let error = gather(&shards[..2]).unwrap_err().to_string();
    assert!(error.contains("not found"), "{error}");
    let merged = dir.join("merged");
    finish(&shards, &merged).unwrap();
    let read = |d: &Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    assert_eq!(read(&whole, "sweep.csv"), read(&merged, "sweep.csv"));
    assert_eq!(
        read(&whole, "sweep_stats.csv"),
        read(&merged, "sweep_stats.csv")
    );
    // The coupled distance to the wide run's first m particles, at every snapshot step (0 and
    // 6): 0 at step 0 (the same draws), positive after.
    let summary: serde_json::Value =
        serde_json::from_str(&read(&whole, "sweep_summary.json")).unwrap();
    let coupled = summary["points"][0]["coupled_distance"].as_array().unwrap();
    assert_eq!(coupled.len(), 2 * plan.widths.len());
    for record in coupled {
        let mean = record["mean"].as_f64().unwrap();
        match record["step"].as_u64().unwrap() {
            0 => assert_eq!(mean, 0.0),
            6 => assert!(mean > 0.0),
            other => panic!("unexpected step {other}"),
        }
    }
    // sweep.csv has one row per run and logged step (steps 0, 3, 6).
    let (plan_read, runs) = gather(std::slice::from_ref(&whole)).unwrap();
    assert_eq!(plan_read, plan);
    let text = sweep_csv(&plan, &runs);
    assert_eq!(text.lines().count(), 1 + 3 * plan.runs.len());
    assert!(text.starts_with("m,seed,reference,step,time,risk,"));
}

#[test]
fn seed_averaged_initial_risk_deviation_is_a_quarter_over_m() {
    // docs/math.md section 7: relu, alpha = 1, a ~ N(0, 1) independent of w ~ N(0, I/d): averaged
    // over seeds, R_m(0) - R_M(0) = 1/(4m) - 1/(4M) for the coupled wide run of width M. The
    // sweep's seed mean of the deviation must match within 4 of its own standard errors.
    let text = r#"
name = "quarter"
seed = 100
[model]
d = 3
[target]
k = 2
[dynamics]
steps = 1
[record]
every = 1
snapshots = 0
marginals = false
distances = false
probes = 0
[sweep]
widths = [2, 4, 8]
seeds = 150
reference = "wide"
reference_width = 64
bootstrap = 20
"#;
    let (dir, scenario) = workspace("quarter", text);
    let plan = plan(&scenario);
    let out = dir.join("out");
    run_all(&plan, &out, &(0..plan.runs.len()).collect::<Vec<_>>());
    finish(std::slice::from_ref(&out), &out).unwrap();
    let stats = std::fs::read_to_string(out.join("sweep_stats.csv")).unwrap();
    let header: Vec<&str> = stats.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let mut checked = 0;
    for line in stats.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        if fields[col("observable")] != "risk" || fields[col("step")] != "0" {
            continue;
        }
        let m: f64 = fields[col("m")].parse().unwrap();
        let mean: f64 = fields[col("deviation_mean")].parse().unwrap();
        let se: f64 = fields[col("deviation_se")].parse().unwrap();
        let expected = 0.25 / m - 0.25 / 64.0;
        assert!(
            (mean - expected).abs() < 4.0 * se,
            "m = {m}: mean deviation {mean} against {expected} (se {se})"
        );
        // The check has power: the deviation is resolved from 0.
        assert!(expected > 4.0 * se, "m = {m}: se {se} too large to test");
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn a_bad_sweep_key_is_refused_with_the_file_and_the_key() {
    let (_, scenario) = workspace(
        "bad",
        &TINY.replace("reference = \"wide\"", "reference = \"widest\""),
    );
    let error = Plan::build(&scenario, &[], &SweepOverrides::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("sweep.reference") && error.contains("one of wide, richardson"),
        "{error}"
    );
    let (_, scenario) = workspace(
        "bad-vary",
        &format!("{TINY}vary = {{ \"model.alpha\" = [0.5, 2.0] }}\n"),
    );
    let error = Plan::build(&scenario, &[], &SweepOverrides::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("model.alpha"), "{error}");
}

/// The coupled distance's fit pairs seeds across widths: a run whose snapshot is missing at
/// one width drops its seed at every width (the fit is then that of the other seeds), instead
/// of shifting the other seeds' places in that width's sample. A negative control for the
/// seed alignment of `sweep::partners::coupled_distances`.
#[test]
fn a_missing_snapshot_drops_its_seed_from_the_coupled_fit_at_every_width() {
    let (dir, scenario) = workspace("coupled_missing", &TINY.replace("seeds = 2", "seeds = 3"));
    let plan = plan(&scenario);
    let whole = dir.join("whole");
    run_all(&plan, &whole, &(0..plan.runs.len()).collect::<Vec<_>>());
    // Not the first seed: the point's first ladder run (smallest width, first seed) tells the
    // analysis which snapshot steps there are.
    let dropped = plan.seeds[1];
    let snapshot = |out: &Path, m: usize| {
        let run = plan
            .runs
            .iter()
            .find(|r| r.m == m && r.seed == dropped && !r.reference)
            .unwrap();
        out.join("runs")
            .join(&run.id)
            .join("snapshots")
            .join("step_6.npy")
    };
    let coupled_fit = |out: &Path| -> [Option<f64>; 3] {
        finish(&[out.to_path_buf()], out).unwrap();
        let text = std::fs::read_to_string(out.join("sweep_summary.json")).unwrap();
        let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
        let fit = summary["points"][0]["fits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["observable"] == "coupled_distance")
            .unwrap()
            .clone();
        ["slope", "lo", "hi"].map(|key| fit[key].as_f64())
    };
    // The seed's snapshot missing at the smallest width only...
    let one = dir.join("one");
    copy_tree(&whole, &one);
    std::fs::remove_file(snapshot(&one, plan.widths[0])).unwrap();
    // ...and at every width: the fit of the other seeds.
    let every = dir.join("every");
    copy_tree(&whole, &every);
    for &m in &plan.widths {
        std::fs::remove_file(snapshot(&every, m)).unwrap();
    }
    let (with_all, with_one_missing, without_seed) =
        (coupled_fit(&whole), coupled_fit(&one), coupled_fit(&every));
    assert!(without_seed[0].is_some(), "{without_seed:?}");
    assert_eq!(with_one_missing, without_seed);
    assert_ne!(with_all[0], without_seed[0], "the dropped seed mattered");
}

/// Copies the folder `from` to `to` (files and folders, recursively).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
