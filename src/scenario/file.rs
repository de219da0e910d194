//! The scenario file as written by users: a serde mirror of the TOML (`deny_unknown_fields`,
//! every key optional so that defaults can be filled in and written back), `--set key=value`
//! overrides, and the location (line, column) of a key for error messages.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The whole scenario file. Defaults are documented in docs/scenarios.md and filled in by
/// [`crate::scenario::resolve`].
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioConfig {
    /// Name of the run (default: the file stem).
    pub name: Option<String>,
    /// Seed of every random stream (default 0).
    pub seed: Option<u64>,
    /// Where the population interaction runs: "cpu" (default) or "cuda" (a binary built with
    /// `--features cuda` and an NVIDIA GPU).
    pub device: Option<String>,
    /// Precision of the GPU kernel: "f64" (default) or "f32" (only with device = "cuda").
    pub precision: Option<String>,
    /// The network.
    #[serde(default)]
    pub model: ModelConfig,
    /// Initial particles.
    #[serde(default)]
    pub init: InitConfig,
    /// The law of the inputs (default: standard Gaussian; written back only when given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputConfig>,
    /// The target function.
    #[serde(default)]
    pub target: TargetConfig,
    /// The risk mode.
    #[serde(default)]
    pub risk: RiskConfig,
    /// Integrator and flow parameters.
    #[serde(default)]
    pub dynamics: DynamicsConfig,
    /// What is recorded and when.
    #[serde(default)]
    pub record: RecordConfig,
    /// A sweep over widths, seeds and other keys (`meanfield sweep`; `meanfield run` ignores
    /// it, and no run directory's scenario.toml contains it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepConfig>,
}

/// `[sweep]`: what `meanfield sweep` varies and how it compares widths with the limit.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// Widths m of the ladder (default 16, 64, 256, 1024).
    pub widths: Option<Vec<usize>>,
    /// Number of seeds per width: seeds seed, seed + 1, ... (default 8).
    pub seeds: Option<usize>,
    /// Other keys to vary, by their `--set` path: `vary = { "model.alpha" = [0.5, 1.0] }`.
    pub vary: Option<toml::Table>,
    /// The limit to compare with: `wide` (default; a coupled run per seed at
    /// `reference_width`), `richardson` (extrapolation of the seed means in 1/m), `linear` (the
    /// exact reduced equation of a linear network, docs/limit.md), `limit` (the exact
    /// mean-field limit of `meanfield limit`, docs/limit.md section 10) or `none`.
    pub reference: Option<String>,
    /// Width of the `wide` reference runs (default 16 x the largest width).
    pub reference_width: Option<usize>,
    /// Nodes per direction of the initial rule of the `limit` reference (default: the
    /// solver's, about 1000 initial nodes in all).
    pub limit_nodes: Option<usize>,
    /// Times at which exponents are fitted (default: 0, the middle and the last logged time;
    /// each is moved to the nearest logged time).
    pub times: Option<Vec<f64>>,
    /// Bootstrap resamples of the exponent intervals (default 2000).
    pub bootstrap: Option<usize>,
    /// Confidence level of the intervals (default 0.95).
    pub level: Option<f64>,
}

/// `[model]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Input dimension d (required).
    pub d: Option<usize>,
    /// Width m (required unless `init.file` gives it).
    pub m: Option<usize>,
    /// Scaling exponent in [0.5, 1] (default 1).
    pub alpha: Option<f64>,
    /// Activation (default relu).
    pub activation: Option<String>,
    /// Append a constant input coordinate (default false).
    pub bias: Option<bool>,
}

/// A law written as an inline table: `{ law = "normal", mean = 0.0, std = 1.0 }`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LawConfig {
    /// `normal` (default) or, for w, `uniform_sphere`.
    pub law: Option<String>,
    /// Mean (scalar laws only; default 0).
    pub mean: Option<f64>,
    /// Standard deviation.
    pub std: Option<f64>,
    /// Radius of `uniform_sphere` (default 1).
    pub radius: Option<f64>,
}

/// `[init]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InitConfig {
    /// An (m, 1 + d) float64 .npy file of initial particles, relative to the scenario file.
    pub file: Option<String>,
    /// Law of a (default normal, mean 0, std 1).
    pub a: Option<LawConfig>,
    /// Law of w (default normal, std 1/sqrt(d)).
    pub w: Option<LawConfig>,
    /// The symmetrised start (default false): particle 2i + 1 is (-a_2i, w_2i), so f = 0 at
    /// t = 0 (needs the laws and an even m). Written back only when given.
    pub symmetric: Option<bool>,
}

/// Output weights of a generated teacher: a number, or a law.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum TeacherWeightsConfig {
    /// Every a*_i equal to this.
    Value(f64),
    /// a*_i drawn from a law (`{ law = "normal", std = 1.0 }`).
    Law(LawConfig),
}

/// A covariance: `"identity"`, `{ diag = [..] }` or `{ file = "cov.npy" }`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum CovarianceConfig {
    /// `"identity"`.
    Name(String),
    /// `{ diag = [..d variances..] }` or `{ file = "cov.npy" }` (d x d float64).
    Table(CovarianceTable),
}

/// The table form of a covariance.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CovarianceTable {
    /// The d variances of a diagonal covariance.
    pub diag: Option<Vec<f64>>,
    /// A (d, d) float64 .npy file, symmetric positive definite.
    pub file: Option<String>,
}

/// One component of a mixture: `{ weight, scale | covariance, label }`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ComponentConfig {
    /// Mixture weight (> 0; the weights sum to 1).
    pub weight: Option<f64>,
    /// x ~ N(0, scale^2 I) (default 1).
    pub scale: Option<f64>,
    /// x ~ N(0, covariance) instead of a scale.
    pub covariance: Option<CovarianceConfig>,
    /// Class label of the component (the `label` target; default 0).
    pub label: Option<f64>,
}

/// `[input]`: the law of x (docs/problems.md).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// `gaussian` (default), `mixture` or `rademacher`.
    pub law: Option<String>,
    /// Gaussian inputs: the covariance (default identity).
    pub covariance: Option<CovarianceConfig>,
    /// Mixture inputs: the components.
    pub components: Option<Vec<ComponentConfig>>,
}

/// One term of a Hermite target (`direction`, `degree`, `coef`) or of a parity / staircase
/// target (`coordinates`, `coef`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TermConfig {
    /// Hermite: the coordinate e_direction, 1-based.
    pub direction: Option<usize>,
    /// Hermite: the degree (0..=12).
    pub degree: Option<u32>,
    /// Parity: the coordinates, 1-based and distinct.
    pub coordinates: Option<Vec<usize>>,
    /// The coefficient (default 1).
    pub coef: Option<f64>,
}

/// `[target]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// `teacher` (default), `hermite`, `label` or `parity` (written back only when not the
    /// teacher).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The teacher's activation (default: the student's; written back only when given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
    /// Hermite or parity terms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms: Option<Vec<TermConfig>>,
    /// Parity: the coordinates of a single parity, 1-based.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<Vec<usize>>,
    /// A (k, 1 + d) float64 .npy file of teacher neurons.
    pub file: Option<String>,
    /// Number of generated teacher neurons (default 1).
    pub k: Option<usize>,
    /// `orthonormal` (default) or `gaussian`.
    pub directions: Option<String>,
    /// |w*_i| (default 1).
    pub norm: Option<f64>,
    /// Output weights (default 1.0).
    pub a: Option<TeacherWeightsConfig>,
    /// Label noise standard deviation (default 0).
    pub noise_std: Option<f64>,
    /// Seed of the generated teacher (default: the scenario's seed). A sweep over seeds with
    /// this key set keeps one teacher and varies only the student's draws.
    pub seed: Option<u64>,
}

/// `[risk]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RiskConfig {
    /// `population` (default), `online` or `empirical`.
    pub mode: Option<String>,
    /// `square` (default) or `logistic` (data modes; written back only when given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<String>,
    /// Online batch size B (default 256).
    pub batch: Option<usize>,
    /// Empirical training-set size n (when no files are given).
    pub n: Option<usize>,
    /// Empirical inputs, an (n, d) float64 .npy file.
    pub x_file: Option<String>,
    /// Empirical labels, an (n,) float64 .npy file.
    pub y_file: Option<String>,
    /// Size of the held-out test set of the data modes, drawn once from the input law and the
    /// target: the `test_risk` column (default 4096, so that its standard error is about 1.6 %
    /// of the risk's spread; 0 for none).
    pub test_n: Option<usize>,
    /// Whether a data mode logs the exact population risk of the network, the
    /// `population_risk` column (default true where it exists: Gaussian inputs without bias,
    /// labels from the teacher). It costs one pair interaction, O(m^2 d), per logged step.
    pub population_risk: Option<bool>,
}

/// `[dynamics]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DynamicsConfig {
    /// `euler` (default), `heun` or `rk4`.
    pub integrator: Option<String>,
    /// Time step (default 0.05), or a schedule of it.
    pub dt: Option<ScheduledConfig>,
    /// Number of steps (default 1000 unless `t_end` is given).
    pub steps: Option<u64>,
    /// Final time: steps = round(t_end / dt).
    pub t_end: Option<f64>,
    /// Weight decay (default 0), or a schedule of it.
    pub lambda: Option<ScheduledConfig>,
    /// Temperature (default 0), or a schedule of it (annealing).
    pub tau: Option<ScheduledConfig>,
    /// `both` (default), `a_only` or `w_only`.
    pub train: Option<String>,
    /// Multiplier of the a-drift (default 1).
    pub lr_ratio: Option<f64>,
}

/// A flow parameter (dt, lambda, tau): a number, or a schedule written as an inline table.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ScheduledConfig {
    /// The same value at every time.
    Value(f64),
    /// `{ schedule = "piecewise", ... }` or `{ schedule = "exponential", ... }`.
    Schedule(ScheduleConfig),
}

impl ScheduledConfig {
    /// The plain number, if it is one.
    pub fn value(&self) -> Option<f64> {
        match self {
            ScheduledConfig::Value(v) => Some(*v),
            ScheduledConfig::Schedule(_) => None,
        }
    }
}

impl From<f64> for ScheduledConfig {
    fn from(value: f64) -> Self {
        ScheduledConfig::Value(value)
    }
}

impl<'de> Deserialize<'de> for ScheduledConfig {
    /// A number (an integer is read as a float) or a table with the keys of
    /// [`ScheduleConfig`]; anything else is refused with what is allowed (an untagged enum
    /// would only say that no variant matched).
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        match toml::Value::deserialize(deserializer)? {
            toml::Value::Float(v) => Ok(ScheduledConfig::Value(v)),
            toml::Value::Integer(v) => Ok(ScheduledConfig::Value(v as f64)),
            toml::Value::Table(table) => ScheduleConfig::deserialize(toml::Value::Table(table))
                .map(ScheduledConfig::Schedule)
                .map_err(|e| D::Error::custom(e.message().trim())),
            other => Err(D::Error::custom(format!(
                "invalid type: {} {other}, expected a number or a schedule                  {{ schedule = \"piecewise\", times = [..], values = [..] }} or                  {{ schedule = \"exponential\", start = .., rate = .., floor = .. }}",
                other.type_str()
            ))),
        }
    }
}

/// A schedule of a flow parameter (docs/scenarios.md, "Schedules"):
/// `{ schedule = "piecewise", times = [0, 10], values = [0.05, 0.01] }` (the value of the last
/// breakpoint at or before t) or `{ schedule = "exponential", start = 0.1, rate = 0.05,
/// floor = 0.0 }` (max(start exp(-rate t), floor)).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// `piecewise` or `exponential` (required).
    pub schedule: Option<String>,
    /// Piecewise: breakpoints, starting at 0, increasing.
    pub times: Option<Vec<f64>>,
    /// Piecewise: the value from each breakpoint on.
    pub values: Option<Vec<f64>>,
    /// Exponential: the value at t = 0.
    pub start: Option<f64>,
    /// Exponential: decay rate >= 0.
    pub rate: Option<f64>,
    /// Exponential: lower clamp (default 0).
    pub floor: Option<f64>,
}

/// `[record]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RecordConfig {
    /// `every` (default) or `log`.
    pub schedule: Option<String>,
    /// Log every N steps (default 10).
    pub every: Option<u64>,
    /// Number of log-spaced points (default 200).
    pub points: Option<u64>,
    /// Number of log-spaced snapshots of the particles (default 12; 0: none).
    pub snapshots: Option<usize>,
    /// Particles per snapshot; a deterministic subsample beyond it (default 2000).
    pub snapshot_particles: Option<usize>,
    /// Which particles a subsampled snapshot keeps: `spread` (default; chosen by a hash of the
    /// index) or `first` (particles 0..snapshot_particles, paired across widths in a sweep).
    pub snapshot_sample: Option<String>,
    /// Half-angle in degrees of the cone around each teacher direction (default 15).
    pub cone_degrees: Option<f64>,
    /// Probe inputs of the tangent-kernel indicator (default 16; 0: off).
    pub probes: Option<usize>,
    /// Largest snapshot for the exact W2 to the initial measure (default 256).
    pub exact_w2_max: Option<usize>,
    /// Random directions of the sliced W2 (default 16).
    pub sliced_directions: Option<usize>,
    /// Sliced and exact W2 to the initial measure at snapshots (default true).
    pub distances: Option<bool>,
    /// Per-teacher cone share and best cosine in series.csv (default true).
    pub alignment: Option<bool>,
    /// Marginal histograms over time (default true).
    pub marginals: Option<bool>,
    /// Figures and report.html at the end of a run (default true).
    pub figures: Option<bool>,
}

/// 1-based (line, column) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Where the value of a dotted key (e.g. `dynamics.dt`) is written in `text`, if it is.
pub fn locate(text: &str, key: &str) -> Option<(usize, usize)> {
    let document = toml::de::DeTable::parse(text).ok()?;
    let mut parts = key.split('.');
    let (first, first_index) = indexed(parts.next()?);
    let mut value = document.get_ref().get(first)?;
    if let Some(i) = first_index {
        value = element(value, i)?;
    }
    for part in parts {
        let (name, index) = indexed(part);
        match value.get_ref() {
            toml::de::DeValue::Table(table) => value = table.get(name)?,
            _ => return None,
        }
        if let Some(i) = index {
            value = element(value, i)?;
        }
    }
    Some(line_column(text, value.span().start))
}

/// A key part `name[i]` (i counted from 1, as error messages count array elements) as
/// (name, Some(i - 1)); a plain part as (part, None).
fn indexed(part: &str) -> (&str, Option<usize>) {
    match part.strip_suffix(']').and_then(|p| p.split_once('[')) {
        Some((name, i)) => (name, i.parse::<usize>().ok().and_then(|i| i.checked_sub(1))),
        None => (part, None),
    }
}

/// Element `i` (from 0) of an array value.
fn element<'a>(
    value: &'a toml::Spanned<toml::de::DeValue<'a>>,
    i: usize,
) -> Option<&'a toml::Spanned<toml::de::DeValue<'a>>> {
    match value.get_ref() {
        toml::de::DeValue::Array(array) => array.get(i),
        _ => None,
    }
}

/// The dotted key whose line holds byte `offset`: the `[section]` above it and the key on it.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let (line_no, _) = line_column(text, offset);
    let lines: Vec<&str> = text.lines().collect();
    let line = lines.get(line_no - 1)?.trim();
    let section = lines[..line_no - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('[') && !l.starts_with("[["))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    if line.starts_with('[') {
        return Some(
            line.trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string(),
        );
    }
    let key = line.split('=').next()?.trim();
    if key.is_empty() {
        return None;
    }
    Some(match section {
        Some(s) => format!("{s}.{key}"),
        None => key.to_string(),
    })
}

/// Keys where the word `none` is itself a value (`sweep.reference = "none"`): there
/// `--set key=none` sets the string, elsewhere it removes the key.
const NONE_IS_A_VALUE: &[&str] = &["sweep.reference"];

/// Pairs of keys that say the same thing two ways; an override of one removes the other from
/// the file (`--set dynamics.steps=N` on a file with `t_end` runs N steps).
const ALTERNATIVES: &[(&str, &str)] = &[("dynamics.steps", "dynamics.t_end")];

/// The dotted key of an override `key.path=value` (trimmed; the whole text without `=`).
fn override_key(assignment: &str) -> &str {
    assignment.split('=').next().map_or("", str::trim)
}

/// Whether `key` (or a key inside it, or a table holding it) is set by one of `overrides`.
pub fn is_overridden(overrides: &[String], key: &str) -> bool {
    overrides.iter().any(|o| {
        let path = override_key(o);
        path == key
            || key
                .strip_prefix(path)
                .is_some_and(|rest| rest.starts_with('.'))
            || path
                .strip_prefix(key)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// Parses scenario text (named `file` in messages) with `--set key.path=value` overrides.
///
/// A value is read as TOML, after numbers in any spelling Rust reads (`.001`, `5.`, `-.5`,
/// `+1.5`, `1E-3`) are normalised; what is neither stays a string (`rk4`). `key=none` removes
/// the key, so its default applies (except where `none` is a value: `sweep.reference`). An
/// override of `dynamics.steps` removes the file's `dynamics.t_end` and the other way round.
/// Errors name keys from the file by their line and column there, and keys set by an
/// override as `(from --set)`.
pub fn parse(text: &str, file: &str, overrides: &[String]) -> Result<ScenarioConfig> {
    if overrides.is_empty() {
        return toml::from_str::<ScenarioConfig>(text).map_err(|e| parse_error(text, file, &e));
    }
    let mut document: toml::Table =
        toml::from_str(text).map_err(|e| parse_error(text, file, &e))?;
    for (one, other) in ALTERNATIVES {
        for (set, from_file) in [(one, other), (other, one)] {
            if is_overridden(overrides, set) && !is_overridden(overrides, from_file) {
                remove_key(&mut document, from_file);
            }
        }
    }
    for assignment in overrides {
        apply_override(&mut document, assignment)?;
    }
    let merged = toml::to_string(&document).map_err(|e| Error::Config {
        file: "--set".into(),
        key: overrides.join(" "),
        found: e.to_string(),
        allowed: "TOML values".into(),
    })?;
    toml::from_str::<ScenarioConfig>(&merged).map_err(|e| {
        // The merged document's lines are no user's: place the key in the file, or say that
        // an override wrote it.
        let key = e
            .span()
            .and_then(|span| key_at(&merged, span.start))
            .unwrap_or_else(|| "(document)".into());
        let located = if is_overridden(overrides, &key) {
            format!("{key} (from --set)")
        } else {
            match locate(text, &key) {
                Some((line, column)) => format!("{key} (line {line}, column {column})"),
                None => key.clone(),
            }
        };
        Error::Parse {
            file: file.into(),
            key: located,
            message: plain_types(e.message(), &key),
        }
    })
}

/// Removes a dotted key from a document, if it is there.
fn remove_key(document: &mut toml::Table, key: &str) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let Some(last) = parts.pop() else {
        return;
    };
    let mut table = document;
    for part in parts {
        match table.get_mut(part).and_then(toml::Value::as_table_mut) {
            Some(inner) => table = inner,
            None => return,
        }
    }
    table.remove(last);
}

fn parse_error(text: &str, file: &str, error: &toml::de::Error) -> Error {
    let (key, bare) = match error.span() {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            let bare = key_at(text, span.start).unwrap_or_else(|| "(document)".into());
            (format!("{bare} (line {line}, column {column})"), bare)
        }
        None => ("(document)".into(), "(document)".into()),
    };
    Error::Parse {
        file: file.into(),
        key,
        message: plain_types(error.message(), &bare),
    }
}

/// The integers a key allows, as the resolved scenario checks them (docs/scenarios.md).
pub fn integer_range(key: &str) -> String {
    match key {
        "model.d"
        | "model.m"
        | "target.k"
        | "risk.batch"
        | "risk.n"
        | "record.every"
        | "record.points"
        | "record.snapshot_particles"
        | "record.sliced_directions"
        | "sweep.widths"
        | "sweep.seeds" => "an integer >= 1".into(),
        "record.snapshots" => "0 (none) or an integer >= 2".into(),
        "record.exact_w2_max" => format!(
            "an integer in [0, {}]",
            crate::diagnostics::distance::MAX_EXACT
        ),
        // seed, target.seed, risk.test_n, dynamics.steps, record.probes, sweep.bootstrap,
        // sweep.reference_width (checked against the ladder).
        _ => "an integer >= 0".into(),
    }
}

/// Replaces Rust type names in serde messages by words a user knows; an integer key's
/// message states its allowed range ([`integer_range`]).
fn plain_types(message: &str, key: &str) -> String {
    let mut text = message.trim().to_string();
    let integer = format!("expected {}", integer_range(key));
    for (rust, plain) in [
        ("expected usize", integer.as_str()),
        ("expected u64", integer.as_str()),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
    ] {
        text = text.replace(rust, plain);
    }
    text
}

/// A number in a spelling TOML may reject but a user types (`.001`, `5.`, `-.5`, `+1.5`,
/// `1E-3`): an integer when it is only digits, else a finite float.
fn number_spelling(raw: &str) -> Option<toml::Value> {
    let body = raw.strip_prefix(['+', '-']).unwrap_or(raw);
    let numeric = body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if !numeric {
        return None;
    }
    if body.chars().all(|c| c.is_ascii_digit()) {
        return raw.parse::<i64>().ok().map(toml::Value::Integer);
    }
    raw.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .map(toml::Value::Float)
}

/// Applies `key.path=value` to a TOML document: a number in any spelling
/// ([`number_spelling`]), else TOML, else a string; `none` removes the key.
fn apply_override(document: &mut toml::Table, assignment: &str) -> Result<()> {
    let bad = |allowed: &str| Error::Config {
        file: "--set".into(),
        key: assignment.into(),
        found: assignment.into(),
        allowed: allowed.into(),
    };
    let (path, raw) = assignment
        .split_once('=')
        .ok_or_else(|| bad("key.path=value, e.g. dynamics.dt=0.01"))?;
    let path = path.trim();
    let raw = raw.trim();
    if path.split('.').any(str::is_empty) {
        return Err(bad("a dotted key such as dynamics.dt"));
    }
    if raw == "none" && !NONE_IS_A_VALUE.contains(&path) {
        remove_key(document, path);
        return Ok(());
    }
    let value = number_spelling(raw)
        .or_else(|| {
            toml::from_str::<toml::Table>(&format!("v = {raw}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
        })
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts
        .pop()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| bad("a non-empty key"))?;
    let mut table = document;
    for part in parts {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| bad(&format!("{part} to be a table")))?;
    }
    table.insert(last.to_string(), value);
    Ok(())
}

/// Reads and parses a scenario file.
pub fn load(path: &Path, overrides: &[String]) -> Result<(ScenarioConfig, String)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let config = parse(&text, &path.display().to_string(), overrides)?;
    Ok((config, text))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn unknown_keys_are_rejected_with_their_line() {
        let err = parse("[model]\nd = 3\nwidth = 4\n", "x.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x.toml: model.width (line 3, column 1)"),
            "{err}"
        );
        assert!(err.contains("unknown field `width`"), "{err}");
    }

    #[test]
    fn keys_are_located() {
        let text = "seed = 1\n[dynamics]\n  dt = -0.5\n";
        assert_eq!(locate(text, "dynamics.dt"), Some((3, 8)));
        assert_eq!(locate(text, "seed"), Some((1, 8)));
        assert_eq!(locate(text, "dynamics.tau"), None);
    }

    #[test]
    fn overrides_replace_and_add_keys() {
        let c = parse(
            "[model]\nd = 3\n",
            "x.toml",
            &[
                "model.d=5".into(),
                "dynamics.integrator=rk4".into(),
                "model.alpha=0.5".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.model.d, Some(5));
        assert_eq!(c.dynamics.integrator.as_deref(), Some("rk4"));
        assert_eq!(c.model.alpha, Some(0.5));
    }
}
