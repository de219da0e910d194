//! The plan of a sweep: every run a sweep makes, as `--set` overrides of one scenario file,
//! with its run-directory id (the varied values, the width, the seed and a hash of its resolved
//! scenario: `lambda=0.01/m100-seed3-<hash>`).
//!
//! Seeds are coupled across widths as propagation of chaos suggests (docs/math.md section 5):
//! particle j is drawn from the stream (seed, init, 0, j) whatever m, so the first 16 particles
//! of the 64-wide run are the 16-wide run's. The teacher is pinned to the base seed
//! (`target.seed`) unless the scenario sets it, so seeds vary the student's draws only.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::scenario::{RiskSpec, Scenario, ScenarioConfig, SweepConfig};

/// The limit a sweep compares its widths with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Reference {
    /// A coupled run per seed (and point) at `width`: its first m particles are the width-m run's.
    Wide {
        /// Width of the reference runs.
        width: usize,
    },
    /// Extrapolation of the seed means in 1/m (a + b/m, weighted least squares).
    Richardson,
    /// The exact reduced equation of a linear network (docs/limit.md).
    Linear,
    /// The exact mean-field limit of `meanfield limit` (the symmetry reduction of
    /// docs/limit.md sections 10 and 11), solved once per point.
    Limit,
    /// No reference: statistics of the widths only.
    None,
}

/// One run of the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedRun {
    /// Run directory under `runs/`: `m<m>-seed<seed>-<hash>`, below the varied values when
    /// there are any (`lambda=0.01/m100-seed3-<hash>`, see [`point_directory`]).
    pub id: String,
    /// Width m.
    pub m: usize,
    /// Seed of the run.
    pub seed: u64,
    /// Values of the varied keys (TOML text), in the order of [`Plan::keys`].
    pub point: Vec<String>,
    /// Whether this is a reference run.
    pub reference: bool,
    /// All `--set` overrides applied to the scenario file.
    pub overrides: Vec<String>,
    /// Relative cost (pairs or sample-particle products times steps), to schedule big runs first.
    pub cost: f64,
}

/// Everything a sweep does and how its result is analysed: written as `sweep_plan.json`, so
/// that `--merge` needs no scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Scenario name.
    pub name: String,
    /// The scenario file.
    pub scenario_file: String,
    /// The user's `--set` overrides.
    pub user_overrides: Vec<String>,
    /// The varied keys besides m and the seed.
    pub keys: Vec<String>,
    /// Ladder widths, increasing.
    pub widths: Vec<usize>,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// The limit compared with.
    pub reference: Reference,
    /// Times of the exponent fits (None: 0, the middle and the last logged time).
    pub times: Option<Vec<f64>>,
    /// Bootstrap resamples.
    pub bootstrap: usize,
    /// Confidence level.
    pub level: f64,
    /// Every run, in a fixed order (points, then seeds, then widths; reference last).
    pub runs: Vec<PlannedRun>,
    /// Nodes per direction of the initial rule of the `limit` reference (`sweep.limit_nodes`;
    /// None: the solver's default resolution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_nodes: Option<usize>,
}

/// What the command line says about a sweep (each overrides the `[sweep]` section).
#[derive(Clone, Debug, Default)]
pub struct SweepOverrides {
    /// `--widths`.
    pub widths: Option<Vec<usize>>,
    /// `--seeds`.
    pub seeds: Option<usize>,
    /// `--reference`.
    pub reference: Option<String>,
}

/// FNV-1a, 64 bits: a stable hash of a run's resolved scenario (std's hashers may change).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Refuses a schedule of dt, lambda or tau: the widths' times (k dt) and the `linear`
/// reference assume constant parameters.
fn check_constant_parameters(path: &Path, config: &ScenarioConfig) -> Result<()> {
    for (key, value) in [
        ("dynamics.dt", &config.dynamics.dt),
        ("dynamics.lambda", &config.dynamics.lambda),
        ("dynamics.tau", &config.dynamics.tau),
    ] {
        if value.as_ref().is_some_and(|v| v.value().is_none()) {
            return Err(config_error(
                path,
                key,
                "a schedule",
                "a number in a sweep (schedules run with `meanfield run`)",
            ));
        }
    }
    Ok(())
}

/// The ladder's widths, sorted and without repeats: the command line's, else `sweep.widths`,
/// else 16, 64, 256, 1024; each at least 1.
fn ladder_widths(path: &Path, cli: &SweepOverrides, section: &SweepConfig) -> Result<Vec<usize>> {
    let widths = cli
        .widths
        .clone()
        .or(section.widths.clone())
        .unwrap_or_else(|| vec![16, 64, 256, 1024]);
    if widths.is_empty() || widths.contains(&0) {
        return Err(config_error(
            path,
            "sweep.widths",
            format!("{widths:?}"),
            "a non-empty list of widths >= 1",
        ));
    }
    let mut sorted = widths;
    sorted.sort_unstable();
    sorted.dedup();
    Ok(sorted)
}

/// The reference of the sweep (the command line's, else `sweep.reference`, else `wide`),
/// checked against the ladder `sorted`: a wide reference wider than its largest width
/// (default 16 times it), Richardson with at least 2 widths.
fn reference_of(
    path: &Path,
    cli: &SweepOverrides,
    section: &SweepConfig,
    sorted: &[usize],
) -> Result<Reference> {
    let largest = sorted[sorted.len() - 1];
    let reference_name = cli
        .reference
        .clone()
        .or(section.reference.clone())
        .unwrap_or_else(|| "wide".into());
    Ok(match reference_name.as_str() {
        "wide" => {
            let width = section.reference_width.unwrap_or(16 * largest);
            if width <= largest {
                return Err(config_error(
                    path,
                    "sweep.reference_width",
                    width,
                    &format!("a width larger than the largest of the ladder ({largest})"),
                ));
            }
            Reference::Wide { width }
        }
        "richardson" => {
            if sorted.len() < 2 {
                return Err(config_error(
                    path,
                    "sweep.reference",
                    "\"richardson\"",
                    "richardson needs at least 2 widths",
                ));
            }
            Reference::Richardson
        }
        "linear" => Reference::Linear,
        "limit" => Reference::Limit,
        "none" => Reference::None,
        other => {
            return Err(config_error(
                path,
                "sweep.reference",
                format!("\"{other}\""),
                "one of wide, richardson, linear, limit, none",
            ));
        }
    })
}

/// The analysis settings of `section`, checked: `limit_nodes` >= 1, `level` in (0, 1), finite
/// `times` >= 0. Returns (bootstrap resamples, default 2000; level, default 0.95).
fn check_statistics(path: &Path, section: &SweepConfig) -> Result<(usize, f64)> {
    if section.limit_nodes == Some(0) {
        return Err(config_error(
            path,
            "sweep.limit_nodes",
            0,
            "an integer >= 1",
        ));
    }
    let bootstrap = section.bootstrap.unwrap_or(2000);
    let level = section.level.unwrap_or(0.95);
    if !(level > 0.0 && level < 1.0) {
        return Err(config_error(
            path,
            "sweep.level",
            level,
            "a number in (0, 1)",
        ));
    }
    if let Some(times) = &section.times
        && times.iter().any(|t| !(t.is_finite() && *t >= 0.0))
    {
        return Err(config_error(
            path,
            "sweep.times",
            format!("{times:?}"),
            "finite times >= 0",
        ));
    }
    Ok((bootstrap, level))
}

/// The varied keys of `sweep.vary` with their values as TOML text, in file order; neither
/// `model.m` nor `seed` (the ladder and the seeds vary those), each with a non-empty array.
fn varied_values(path: &Path, section: &SweepConfig) -> Result<Vec<(String, Vec<String>)>> {
    let mut vary: Vec<(String, Vec<String>)> = Vec::new();
    for (key, values) in section.vary.clone().unwrap_or_default() {
        let key_path = format!("sweep.vary.\"{key}\"");
        if matches!(key.as_str(), "model.m" | "seed") {
            return Err(config_error(
                path,
                &key_path,
                &key,
                "a key other than model.m and seed (use sweep.widths and sweep.seeds)",
            ));
        }
        let list = values
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| config_error(path, &key_path, &values, "a non-empty array of values"))?;
        vary.push((key, list.iter().map(ToString::to_string).collect()));
    }
    Ok(vary)
}

/// Refuses two runs with the same id: two points with the same resolved scenario (a value
/// listed twice) would share their run directories.
fn check_distinct_runs(path: &Path, runs: &[PlannedRun]) -> Result<()> {
    let mut ids: Vec<&str> = runs.iter().map(|r: &PlannedRun| r.id.as_str()).collect();
    ids.sort_unstable();
    if let Some(pair) = ids.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(config_error(
            path,
            "sweep.vary",
            format!("two points giving the same run {}", pair[0]),
            "distinct values for every varied key",
        ));
    }
    Ok(())
}

/// What every run of a plan shares: the scenario file, the user's overrides and the choices
/// that become overrides of each run.
struct RunPlanner<'a> {
    /// The scenario file.
    path: &'a Path,
    /// The user's `--set` overrides, applied first.
    user_overrides: &'a [String],
    /// The first seed (the teacher's seed when pinned).
    base_seed: u64,
    /// Pin `target.seed` to `base_seed` (the scenario sets neither a teacher file nor seed).
    pin_teacher: bool,
    /// The varied keys and values.
    vary: &'a [(String, Vec<String>)],
    /// Keep the first `largest` particles in snapshots (the scenario chose no sample).
    pin_snapshots: bool,
    /// The largest ladder width.
    largest: usize,
    /// Turn figures off (the scenario does not say).
    default_figures: bool,
    /// The sweep's reference, which must describe every run.
    limit: &'a Reference,
    /// Whether the command line chose the reference.
    explicit_reference: bool,
}

impl RunPlanner<'_> {
    /// The run at `point`, width `m` and `seed` (a reference run if `reference`), validated,
    /// with the name of its scenario.
    fn plan(
        &self,
        point: &[String],
        m: usize,
        seed: u64,
        reference: bool,
    ) -> Result<(PlannedRun, String)> {
        let mut overrides = self.user_overrides.to_vec();
        overrides.push(format!("model.m={m}"));
        overrides.push(format!("seed={seed}"));
        if self.pin_teacher {
            overrides.push(format!("target.seed={}", self.base_seed));
        }
        for ((key, _), value) in self.vary.iter().zip(point) {
            overrides.push(format!("{key}={value}"));
        }
        // Snapshots keep the first particles, up to the largest ladder width, so that every
        // width's snapshot and its wide reference's hold paired particles (coupled distance
        // over time).
        if self.pin_snapshots {
            overrides.push("record.snapshot_sample=\"first\"".into());
            overrides.push(format!("record.snapshot_particles={}", self.largest));
        }
        // Runs of a sweep draw no figures unless the scenario asks (`meanfield plot` can).
        if self.default_figures {
            overrides.push("record.figures=false".into());
        }
        let scenario = Scenario::load(self.path, &overrides)?;
        // The reference must describe every run (docs/sweeps.md), before anything runs.
        crate::sweep::validity::check(self.limit, &scenario, self.explicit_reference)?;
        let resolved = scenario.resolved_toml()?;
        let per_step = match scenario.risk {
            RiskSpec::Population => (m as f64) * (m as f64),
            RiskSpec::Online { batch, .. } => (m * batch) as f64,
            RiskSpec::EmpiricalGenerated { n, .. } => (m * n) as f64,
            _ => m as f64,
        };
        let leaf = format!("m{m}-seed{seed}-{:016x}", fnv1a(resolved.as_bytes()));
        let run = PlannedRun {
            id: if point.is_empty() {
                leaf
            } else {
                format!("{}/{leaf}", point_directory(self.vary, point))
            },
            m,
            seed,
            point: point.to_vec(),
            reference,
            overrides,
            cost: per_step * scenario.steps as f64 * (scenario.d as f64 + 8.0),
        };
        Ok((run, scenario.name))
    }
}

fn config_error(file: &Path, key: &str, found: impl ToString, allowed: &str) -> Error {
    Error::Config {
        file: file.display().to_string(),
        key: key.into(),
        found: found.to_string(),
        allowed: allowed.into(),
    }
}

/// The cartesian product of the varied values, first key slowest.
fn points(vary: &[(String, Vec<String>)]) -> Vec<Vec<String>> {
    vary.iter().fold(vec![Vec::new()], |acc, (_, values)| {
        acc.iter()
            .flat_map(|prefix| {
                values.iter().map(move |value| {
                    let mut point = prefix.clone();
                    point.push(value.clone());
                    point
                })
            })
            .collect()
    })
}

/// Longest value text kept in a run directory name (the hash after it keeps names unique).
const VALUE_CHARACTERS: usize = 48;

/// `text` with every character outside `A-Z a-z 0-9 . _ + -` replaced by `_`, so that it is
/// one safe path component on every file system.
fn filesystem_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The name of varied key `index` in directory names and legends: its last `--set` component
/// (`dynamics.lambda` -> `lambda`), or the whole path (unquoted) where two keys share it.
pub fn short_key(keys: &[String], index: usize) -> String {
    let last = |key: &str| {
        key.rsplit('.')
            .next()
            .unwrap_or(key)
            .trim_matches('"')
            .to_owned()
    };
    let Some(key) = keys.get(index) else {
        return String::new();
    };
    let short = last(key);
    if keys.iter().filter(|other| last(other) == short).count() > 1 {
        key.replace('"', "")
    } else {
        short
    }
}

/// A point's values for a legend: `lambda = 0.01, activation = "relu"`.
pub fn point_label(keys: &[String], point: &[String]) -> String {
    point
        .iter()
        .enumerate()
        .map(|(index, value)| format!("{} = {value}", short_key(keys, index)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The directories of a point's runs: `key=value` per varied key, nested in key order
/// (`lambda=0.01/tau=0.1`). The key is its last `--set` component (`dynamics.lambda` ->
/// `lambda`), or the whole path where two keys share their last component; a string value loses
/// its quotes; characters outside `A-Z a-z 0-9 . _ + -` become `_` and long values are cut
/// (the run's hash keeps names unique).
pub fn point_directory(vary: &[(String, Vec<String>)], point: &[String]) -> String {
    let keys: Vec<String> = vary.iter().map(|(key, _)| key.clone()).collect();
    point
        .iter()
        .enumerate()
        .map(|(index, value)| {
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            let value: String = filesystem_safe(value)
                .chars()
                .take(VALUE_CHARACTERS)
                .collect();
            format!("{}={value}", filesystem_safe(&short_key(&keys, index)))
        })
        .collect::<Vec<_>>()
        .join("/")
}

impl Plan {
    /// The plan of sweeping the scenario at `path` (with the user's `--set` overrides and the
    /// command line's choices). Every run's scenario is validated here, so a bad value fails
    /// before anything runs.
    pub fn build(path: &Path, user_overrides: &[String], cli: &SweepOverrides) -> Result<Self> {
        let (config, _) = crate::scenario::file::load(path, user_overrides)?;
        check_constant_parameters(path, &config)?;
        let section = config.sweep.clone().unwrap_or_else(SweepConfig::default);
        let sorted = ladder_widths(path, cli, &section)?;
        let count = cli.seeds.or(section.seeds).unwrap_or(8);
        if count == 0 {
            return Err(config_error(path, "sweep.seeds", 0, "an integer >= 1"));
        }
        let base_seed = config.seed.unwrap_or(0);
        let seeds: Vec<u64> = (0..count as u64).map(|s| base_seed + s).collect();
        let largest = sorted[sorted.len() - 1];
        let reference = reference_of(path, cli, &section, &sorted)?;
        let (bootstrap, level) = check_statistics(path, &section)?;
        let vary = varied_values(path, &section)?;
        let planner = RunPlanner {
            path,
            user_overrides,
            base_seed,
            pin_teacher: config.target.file.is_none() && config.target.seed.is_none(),
            vary: &vary,
            pin_snapshots: config.record.snapshot_sample.is_none()
                && config.record.snapshot_particles.is_none(),
            largest,
            default_figures: config.record.figures.is_none(),
            limit: &reference,
            explicit_reference: cli.reference.is_some(),
        };
        let mut runs = Vec::new();
        let mut name = String::new();
        let mut plan_one = |point: &[String], m: usize, seed: u64, reference: bool| {
            let (run, scenario_name) = planner.plan(point, m, seed, reference)?;
            if name.is_empty() {
                name = scenario_name;
            }
            runs.push(run);
            Ok::<(), Error>(())
        };
        let all_points = points(&vary);
        for point in &all_points {
            for &seed in &seeds {
                for &m in &sorted {
                    plan_one(point, m, seed, false)?;
                }
            }
        }
        if let Reference::Wide { width } = reference {
            for point in &all_points {
                for &seed in &seeds {
                    plan_one(point, width, seed, true)?;
                }
            }
        }
        check_distinct_runs(path, &runs)?;
        Ok(Self {
            name,
            scenario_file: path.display().to_string(),
            user_overrides: user_overrides.to_vec(),
            keys: vary.into_iter().map(|(key, _)| key).collect(),
            widths: sorted,
            seeds,
            reference,
            times: section.times,
            bootstrap,
            level,
            runs,
            limit_nodes: section.limit_nodes,
        })
    }

    /// Indices of the runs of shard `index` of `count` (`index` in 0..count): every count-th run,
    /// so each shard gets a share of every width.
    pub fn shard(&self, index: usize, count: usize) -> Vec<usize> {
        (0..self.runs.len())
            .filter(|r| r % count.max(1) == index)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_the_cartesian_product_first_key_slowest() {
        let vary = vec![
            ("a".to_string(), vec!["1".to_string(), "2".to_string()]),
            ("b".to_string(), vec!["x".to_string(), "y".to_string()]),
        ];
        let expected: Vec<Vec<String>> = [["1", "x"], ["1", "y"], ["2", "x"], ["2", "y"]]
            .iter()
            .map(|p| p.iter().map(ToString::to_string).collect())
            .collect();
        assert_eq!(points(&vary), expected);
        assert_eq!(points(&[]), vec![Vec::<String>::new()]);
    }

    #[test]
    fn point_directories_name_the_values_safely() {
        let vary = |keys: &[&str]| -> Vec<(String, Vec<String>)> {
            keys.iter().map(|k| (k.to_string(), Vec::new())).collect()
        };
        let point =
            |values: &[&str]| -> Vec<String> { values.iter().map(ToString::to_string).collect() };
        assert_eq!(
            point_directory(&vary(&["dynamics.lambda"]), &point(&["0.01"])),
            "lambda=0.01"
        );
        assert_eq!(
            point_directory(
                &vary(&["dynamics.lambda", "model.activation"]),
                &point(&["-1e-5", "\"relu\""])
            ),
            "lambda=-1e-5/activation=relu"
        );
        assert_eq!(
            point_directory(
                &vary(&["init.a.std", "init.w.std"]),
                &point(&["0.5", "1.0"])
            ),
            "init.a.std=0.5/init.w.std=1.0"
        );
        assert_eq!(
            point_directory(&vary(&["target.name"]), &point(&["\"a/b c:..\""])),
            "name=a_b_c_.."
        );
        let long = "x".repeat(200);
        assert_eq!(
            point_directory(&vary(&["k"]), &[long]).len(),
            "k=".len() + VALUE_CHARACTERS
        );
    }

    #[test]
    fn fnv1a_matches_its_published_test_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
