//! Validation of a parsed scenario into a typed [`Scenario`] with every default resolved
//! (documented in docs/scenarios.md), and construction of the simulation it describes.
//!
//! Every error names the scenario file, the key (with line and column where the key is
//! written) and what is allowed.

use std::path::{Path, PathBuf};

use crate::device::{CUDA_BUILT, Device, Precision, check_precision};
use crate::diagnostics::recorder::RecordOptions;
use crate::dynamics::{Dynamics, Integrator, ParameterSchedule, Schedule, Schedules, Train};
use crate::error::{Error, Result};
use crate::math::{Activation, InitLaw, Network, ScalarLaw, VectorLaw};
use crate::output::read_npy;
use crate::scenario::build::reason;
use crate::scenario::file::{
    LawConfig, ScenarioConfig, ScheduleConfig, ScheduledConfig, TeacherWeightsConfig,
    is_overridden, locate,
};
use crate::task::{Directions, OutputWeights, TeacherSpec};

/// Default size of the held-out test set of the data modes (`risk.test_n`).
pub const DEFAULT_TEST_N: usize = 4096;

/// Where the initial particles come from.
#[derive(Clone, Debug, PartialEq)]
pub enum InitSource {
    /// An (m, 1 + d) .npy file.
    File(PathBuf),
    /// Drawn from a law, particle j from stream (seed, Init, 0, j).
    Law(InitLaw),
}

/// Where the teacher comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum TargetSource {
    /// A (k, 1 + d) .npy file.
    File(PathBuf),
    /// Generated.
    Generated(TeacherSpec),
}

/// The risk mode and its sizes.
#[derive(Clone, Debug, PartialEq)]
pub enum RiskSpec {
    /// Exact Gaussian-input risk.
    Population,
    /// Fresh batch of `batch` samples per step, and a test set of `test_n` samples.
    Online {
        /// Batch size B.
        batch: usize,
        /// Held-out test-set size (0: none).
        test_n: usize,
    },
    /// A fixed data set of `n` samples drawn from the input law and the target.
    EmpiricalGenerated {
        /// Training-set size n.
        n: usize,
        /// Held-out test-set size (0: none).
        test_n: usize,
    },
    /// A fixed data set given as files.
    EmpiricalFiles {
        /// (n, d) inputs.
        x: PathBuf,
        /// (n,) labels.
        y: PathBuf,
    },
}

/// A validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Run name.
    pub name: String,
    /// Seed of all random streams.
    pub seed: u64,
    /// The scenario file it was read from.
    pub file: PathBuf,
    /// Architecture.
    pub network: Network,
    /// Gaussian input dimension d.
    pub d: usize,
    /// Whether a constant input coordinate is appended.
    pub bias: bool,
    /// Width m.
    pub m: usize,
    /// Initial particles.
    pub init: InitSource,
    /// Teacher.
    pub target: TargetSource,
    /// Seed of a generated teacher (`target.seed`, default the scenario's seed).
    pub teacher_seed: u64,
    /// Label noise standard deviation.
    pub noise_std: f64,
    /// Risk mode.
    pub risk: RiskSpec,
    /// Whether a data mode logs the exact population risk (`risk.population_risk`; false in
    /// population mode, with a bias and with data files).
    pub population_risk: bool,
    /// Where the population interaction runs.
    pub device: Device,
    /// Precision of the GPU kernel.
    pub precision: Precision,
    /// Flow parameters (lambda and tau at t = 0 under their schedules).
    pub dynamics: Dynamics,
    /// Integrator.
    pub integrator: Integrator,
    /// Time step (at t = 0 under a dt schedule).
    pub dt: f64,
    /// dt, lambda and tau as functions of time (none: the constants `dt` and `dynamics`).
    pub schedules: Schedules,
    /// Number of steps.
    pub steps: u64,
    /// Observation schedule.
    pub schedule: Schedule,
    /// What is measured besides the per-step scalars.
    pub record: RecordOptions,
    /// The configuration with every default written out and paths absolute: written to the
    /// run directory as `scenario.toml`, it reproduces the run bit for bit.
    pub resolved: ScenarioConfig,
}

/// Error context: the file and its text, to locate keys.
struct Context<'a> {
    file: String,
    text: &'a str,
    overrides: &'a [String],
}

impl Context<'_> {
    fn fail(&self, key: &str, found: impl ToString, allowed: impl Into<String>) -> Error {
        let key = match locate(self.text, key) {
            _ if is_overridden(self.overrides, key) => format!("{key} (from --set)"),
            Some((line, column)) => format!("{key} (line {line}, column {column})"),
            None => key.to_string(),
        };
        Error::Config {
            file: self.file.clone(),
            key,
            found: found.to_string(),
            allowed: allowed.into(),
        }
    }
}

fn one_of(value: &str, allowed: &[&str]) -> bool {
    allowed.contains(&value)
}

fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

fn resolve_path(base: &Path, raw: &str) -> PathBuf {
    let path = Path::new(raw);
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    std::path::absolute(&joined).unwrap_or(joined)
}

impl Scenario {
    /// Loads, overrides and validates a scenario file.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let (config, text) = crate::scenario::file::load(path, overrides)?;
        Self::from_config(config, path, &text, overrides)
    }

    /// Validates a parsed configuration read from `path` (whose text locates keys).
    pub fn from_config(
        config: ScenarioConfig,
        path: &Path,
        text: &str,
        overrides: &[String],
    ) -> Result<Self> {
        let cx = Context {
            file: path.display().to_string(),
            text,
            overrides,
        };
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut resolved = config.clone();
        // A run is one point of a sweep: its own scenario never holds the sweep.
        resolved.sweep = None;

        let name = config.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "run".into())
        });
        if name.is_empty() || name.contains(['/', '\\']) {
            return Err(cx.fail("name", quoted(&name), "a non-empty name without slashes"));
        }
        resolved.name = Some(name.clone());
        let seed = config.seed.unwrap_or(0);
        resolved.seed = Some(seed);

        // [model]
        let model = &config.model;
        let d = model
            .d
            .ok_or_else(|| cx.fail("model.d", "missing", "an integer >= 1"))?;
        if d == 0 {
            return Err(cx.fail("model.d", 0, "an integer >= 1"));
        }
        let alpha = model.alpha.unwrap_or(1.0);
        if !(0.5..=1.0).contains(&alpha) {
            return Err(cx.fail(
                "model.alpha",
                alpha,
                "a number in [0.5, 1] (1 mean-field, 0.5 lazy)",
            ));
        }
        let activation_name = model.activation.clone().unwrap_or_else(|| "relu".into());
        let activation = Activation::parse(&activation_name).ok_or_else(|| {
            cx.fail(
                "model.activation",
                quoted(&activation_name),
                "one of relu, erf, tanh, sigmoid, softplus, linear, quadratic",
            )
        })?;
        let network = Network::new(activation, alpha)?;
        let bias = model.bias.unwrap_or(false);
        let d_in = d + usize::from(bias);

        // [init]
        let init_config = &config.init;
        let init = match &init_config.file {
            Some(file) => {
                if init_config.a.is_some() || init_config.w.is_some() {
                    return Err(cx.fail(
                        "init.file",
                        quoted(file),
                        "either init.file or the laws init.a / init.w, not both",
                    ));
                }
                let path = resolve_path(&base, file);
                resolved.init.file = Some(path.display().to_string());
                InitSource::File(path)
            }
            None => {
                let a = resolve_a_law(&cx, init_config.a.as_ref())?;
                let w = resolve_w_law(&cx, init_config.w.as_ref(), d_in)?;
                let law = InitLaw { a, w };
                resolved.init.a = Some(scalar_law_config(&a));
                resolved.init.w = Some(vector_law_config(&w));
                InitSource::Law(law)
            }
        };
        let m = match (&init, model.m) {
            (_, Some(0)) => return Err(cx.fail("model.m", 0, "an integer >= 1")),
            (_, Some(m)) => m,
            (InitSource::File(path), None) => {
                let rows = read_npy(path)
                    .map_err(|e| {
                        cx.fail(
                            "init.file",
                            path.display(),
                            format!("a readable (m, 1 + d) float64 .npy file ({})", reason(&e)),
                        )
                    })?
                    .nrows();
                if rows == 0 {
                    return Err(cx.fail("init.file", path.display(), "at least one particle"));
                }
                rows
            }
            (InitSource::Law(_), None) => {
                return Err(cx.fail("model.m", "missing", "an integer >= 1 (or init.file)"));
            }
        };
        resolved.model = crate::scenario::file::ModelConfig {
            d: Some(d),
            m: Some(m),
            alpha: Some(alpha),
            activation: Some(activation_name),
            bias: Some(bias),
        };

        // [target]
        let tc = &config.target;
        let noise_std = tc.noise_std.unwrap_or(0.0);
        if !(noise_std.is_finite() && noise_std >= 0.0) {
            return Err(cx.fail("target.noise_std", noise_std, "a finite number >= 0"));
        }
        let teacher_seed = tc.seed.unwrap_or(seed);
        let target = match &tc.file {
            Some(file) => {
                if tc.k.is_some()
                    || tc.directions.is_some()
                    || tc.norm.is_some()
                    || tc.a.is_some()
                    || tc.seed.is_some()
                {
                    return Err(cx.fail("target.file", quoted(file), "either target.file or the generated teacher keys (k, directions, norm, a, seed), not both"));
                }
                let path = resolve_path(&base, file);
                resolved.target.file = Some(path.display().to_string());
                TargetSource::File(path)
            }
            None => {
                let k = tc.k.unwrap_or(1);
                if k == 0 {
                    return Err(cx.fail("target.k", 0, "an integer >= 1"));
                }
                let directions_name = tc
                    .directions
                    .clone()
                    .unwrap_or_else(|| "orthonormal".into());
                let directions = match directions_name.as_str() {
                    "orthonormal" => Directions::Orthonormal,
                    "gaussian" => Directions::Gaussian,
                    other => {
                        return Err(cx.fail(
                            "target.directions",
                            quoted(other),
                            "one of orthonormal, gaussian",
                        ));
                    }
                };
                if directions == Directions::Orthonormal && k > d {
                    return Err(cx.fail(
                        "target.k",
                        k,
                        format!("at most model.d = {d} with orthonormal directions"),
                    ));
                }
                let norm = tc.norm.unwrap_or(1.0);
                if !(norm.is_finite() && norm >= 0.0) {
                    return Err(cx.fail("target.norm", norm, "a finite number >= 0"));
                }
                let a = match &tc.a {
                    None => OutputWeights::Constant(1.0),
                    Some(TeacherWeightsConfig::Value(v)) if v.is_finite() => {
                        OutputWeights::Constant(*v)
                    }
                    Some(TeacherWeightsConfig::Value(v)) => {
                        return Err(cx.fail(
                            "target.a",
                            v,
                            "a finite number or { law = \"normal\", std = S }",
                        ));
                    }
                    Some(TeacherWeightsConfig::Law(law)) => {
                        let name = law.law.as_deref().unwrap_or("normal");
                        let std = law.std.unwrap_or(1.0);
                        if name != "normal"
                            || law.mean.is_some()
                            || law.radius.is_some()
                            || !(std.is_finite() && std >= 0.0)
                        {
                            return Err(cx.fail(
                                "target.a",
                                format!("{law:?}"),
                                "a number, or { law = \"normal\", std = S } with S >= 0",
                            ));
                        }
                        OutputWeights::Gaussian { std }
                    }
                };
                resolved.target.k = Some(k);
                resolved.target.seed = Some(teacher_seed);
                resolved.target.directions = Some(directions_name);
                resolved.target.norm = Some(norm);
                resolved.target.a = Some(match a {
                    OutputWeights::Constant(v) => TeacherWeightsConfig::Value(v),
                    OutputWeights::Gaussian { std } => TeacherWeightsConfig::Law(LawConfig {
                        law: Some("normal".into()),
                        std: Some(std),
                        ..LawConfig::default()
                    }),
                });
                TargetSource::Generated(TeacherSpec {
                    k,
                    directions,
                    norm,
                    a,
                })
            }
        };
        resolved.target.noise_std = Some(noise_std);

        // [risk]
        let rc = &config.risk;
        let mode = rc.mode.clone().unwrap_or_else(|| "population".into());
        if !one_of(&mode, &["population", "online", "empirical"]) {
            return Err(cx.fail(
                "risk.mode",
                quoted(&mode),
                "one of population, online, empirical",
            ));
        }
        if rc.batch.is_some() && mode != "online" {
            return Err(cx.fail(
                "risk.batch",
                rc.batch.unwrap_or(0),
                "risk.batch only with mode = \"online\"",
            ));
        }
        if (rc.n.is_some() || rc.x_file.is_some() || rc.y_file.is_some()) && mode != "empirical" {
            return Err(cx.fail(
                "risk.mode",
                quoted(&mode),
                "\"empirical\" when risk.n, risk.x_file or risk.y_file is given",
            ));
        }
        if rc.test_n.is_some() && mode == "population" {
            return Err(cx.fail(
                "risk.test_n",
                rc.test_n.unwrap_or(0),
                "risk.test_n only in the data modes (population risk is exact)",
            ));
        }
        // Default held-out set: 4096 samples whatever the batch or training-set size, so that
        // the test risk is an estimate with a small stated error (a set as small as a batch of
        // 64 is biased and noisy); it is evaluated on logged steps only.
        let test_n = rc.test_n.unwrap_or(DEFAULT_TEST_N);
        if rc.population_risk.is_some() && mode == "population" {
            return Err(cx.fail(
                "risk.population_risk",
                rc.population_risk.unwrap_or(false),
                "risk.population_risk only in the data modes (population mode's risk is exact)",
            ));
        }
        // The exact population risk exists for Gaussian inputs without bias and labels from
        // the teacher: not with a bias coordinate nor with data files.
        let population_exists = !bias && rc.x_file.is_none();
        if rc.population_risk == Some(true) && !population_exists {
            return Err(cx.fail(
                "risk.population_risk",
                true,
                "false with model.bias = true or risk.x_file (the exact risk needs Gaussian \
                 inputs without bias and labels from the teacher)",
            ));
        }
        let population_risk =
            mode != "population" && population_exists && rc.population_risk.unwrap_or(true);
        let risk = match mode.as_str() {
            "population" => {
                if bias {
                    return Err(cx.fail("risk.mode", "\"population\"", "\"online\" or \"empirical\" when model.bias = true (population mode is defined without bias, docs/math.md section 3)"));
                }
                RiskSpec::Population
            }
            "online" => {
                let batch = rc.batch.unwrap_or(256);
                if batch == 0 {
                    return Err(cx.fail("risk.batch", 0, "an integer >= 1"));
                }
                RiskSpec::Online { batch, test_n }
            }
            _ => match (&rc.x_file, &rc.y_file, rc.n) {
                (Some(x), Some(y), None) => {
                    if rc.test_n.is_some_and(|t| t > 0) {
                        return Err(cx.fail(
                            "risk.test_n",
                            test_n,
                            "0 with x_file / y_file (no law to draw a test set from)",
                        ));
                    }
                    RiskSpec::EmpiricalFiles {
                        x: resolve_path(&base, x),
                        y: resolve_path(&base, y),
                    }
                }
                (None, None, Some(n)) if n > 0 => RiskSpec::EmpiricalGenerated { n, test_n },
                (None, None, Some(n)) => return Err(cx.fail("risk.n", n, "an integer >= 1")),
                (None, None, None) => {
                    return Err(cx.fail(
                        "risk.n",
                        "missing",
                        "an integer >= 1, or risk.x_file and risk.y_file",
                    ));
                }
                _ => {
                    return Err(cx.fail(
                        "risk.x_file",
                        format!("{:?}", rc.x_file),
                        "both risk.x_file and risk.y_file (and no risk.n), or risk.n alone",
                    ));
                }
            },
        };
        // device, precision
        let device_name = config.device.clone().unwrap_or_else(|| "cpu".into());
        let device = Device::parse(&device_name)
            .map_err(|_| cx.fail("device", quoted(&device_name), "\"cpu\" or \"cuda\""))?;
        let precision_name = config.precision.clone().unwrap_or_else(|| "f64".into());
        let precision = Precision::parse(&precision_name)
            .map_err(|_| cx.fail("precision", quoted(&precision_name), "\"f64\" or \"f32\""))?;
        if device == Device::Cuda {
            if !CUDA_BUILT {
                return Err(cx.fail(
                    "device",
                    "\"cuda\"",
                    "\"cpu\": this meanfield was built without the cuda feature (rebuild with \
                     `cargo build --release --features cuda`; it needs an NVIDIA driver only at \
                     run time)",
                ));
            }
            // The data modes run every activation on the GPU (its elementwise form); population
            // mode needs a closed-form kernel.
            if mode == "population" && !activation.has_closed_form_kernel() {
                return Err(cx.fail(
                    "device",
                    "\"cuda\"",
                    format!(
                        "\"cpu\" with model.activation = \"{activation}\" in population mode (the \
                         GPU kernel has the closed-form kernels of relu and erf; linear and \
                         quadratic take their exact low-rank path on the CPU; risk.mode = \"online\" \
                         or \"empirical\" run every activation on the GPU)"
                    ),
                ));
            }
        }
        check_precision(device, precision).map_err(|_| {
            cx.fail(
                "precision",
                quoted(&precision_name),
                "\"f64\" with device = \"cpu\" (float32 is an option of the GPU kernel)",
            )
        })?;
        resolved.device = Some(device.to_string());
        resolved.precision = Some(precision.to_string());

        resolved.risk = crate::scenario::file::RiskConfig {
            mode: Some(mode),
            ..Default::default()
        };
        match &risk {
            RiskSpec::Population => {}
            RiskSpec::Online { batch, test_n } => {
                resolved.risk.batch = Some(*batch);
                resolved.risk.test_n = Some(*test_n);
                resolved.risk.population_risk = population_exists.then_some(population_risk);
            }
            RiskSpec::EmpiricalGenerated { n, test_n } => {
                resolved.risk.n = Some(*n);
                resolved.risk.test_n = Some(*test_n);
                resolved.risk.population_risk = population_exists.then_some(population_risk);
            }
            RiskSpec::EmpiricalFiles { x, y } => {
                resolved.risk.x_file = Some(x.display().to_string());
                resolved.risk.y_file = Some(y.display().to_string());
                resolved.risk.test_n = Some(0);
            }
        }

        // [dynamics]
        let dc = &config.dynamics;
        let integrator_name = dc.integrator.clone().unwrap_or_else(|| "euler".into());
        let integrator = match integrator_name.as_str() {
            "euler" => Integrator::Euler,
            "heun" => Integrator::Heun,
            "rk4" => Integrator::Rk4,
            other => {
                return Err(cx.fail(
                    "dynamics.integrator",
                    quoted(other),
                    "one of euler, heun, rk4",
                ));
            }
        };
        let (dt, dt_schedule, dt_config) =
            resolve_scheduled(&cx, "dynamics.dt", dc.dt.as_ref(), 0.05, Bound::Positive)?;
        let (lambda, lambda_schedule, lambda_config) = resolve_scheduled(
            &cx,
            "dynamics.lambda",
            dc.lambda.as_ref(),
            0.0,
            Bound::NonNegative,
        )?;
        let (tau, tau_schedule, tau_config) = resolve_scheduled(
            &cx,
            "dynamics.tau",
            dc.tau.as_ref(),
            0.0,
            Bound::NonNegative,
        )?;
        let schedules = Schedules {
            dt: dt_schedule,
            lambda: lambda_schedule,
            tau: tau_schedule,
        };
        let steps = match (dc.steps, dc.t_end) {
            (Some(_), Some(_)) => {
                return Err(cx.fail(
                    "dynamics.t_end",
                    dc.t_end.unwrap_or(0.0),
                    "either dynamics.steps or dynamics.t_end, not both",
                ));
            }
            (Some(steps), None) => steps,
            (None, Some(t_end)) => {
                if !(t_end.is_finite() && t_end > 0.0) {
                    return Err(cx.fail("dynamics.t_end", t_end, "a finite number > 0"));
                }
                schedules.steps_to(dt, t_end, MAX_STEPS).ok_or_else(|| {
                    cx.fail(
                        "dynamics.t_end",
                        t_end,
                        format!("a time that dynamics.dt reaches within {MAX_STEPS} steps"),
                    )
                })?
            }
            (None, None) => 1000,
        };
        let highest_tau = schedules.tau.as_ref().map_or(tau, |s| s.highest());
        if highest_tau > 0.0 && integrator != Integrator::Euler {
            return Err(cx.fail("dynamics.integrator", quoted(&integrator_name), format!("\"euler\" when dynamics.tau > 0 (tau = {highest_tau}): heun and rk4 are for the deterministic flow")));
        }
        let train_name = dc.train.clone().unwrap_or_else(|| "both".into());
        let train = match train_name.as_str() {
            "both" => Train::Both,
            "a_only" => Train::AOnly,
            "w_only" => Train::WOnly,
            other => {
                return Err(cx.fail(
                    "dynamics.train",
                    quoted(other),
                    "one of both, a_only, w_only",
                ));
            }
        };
        let lr_ratio = dc.lr_ratio.unwrap_or(1.0);
        if !(lr_ratio.is_finite() && lr_ratio > 0.0) {
            return Err(cx.fail("dynamics.lr_ratio", lr_ratio, "a finite number > 0"));
        }
        resolved.dynamics = crate::scenario::file::DynamicsConfig {
            integrator: Some(integrator_name),
            dt: Some(dt_config),
            steps: Some(steps),
            t_end: None,
            lambda: Some(lambda_config),
            tau: Some(tau_config),
            train: Some(train_name),
            lr_ratio: Some(lr_ratio),
        };

        // [record]
        let rec = &config.record;
        let schedule_name = rec.schedule.clone().unwrap_or_else(|| {
            if rec.points.is_some() {
                "log".into()
            } else {
                "every".into()
            }
        });
        let schedule = match schedule_name.as_str() {
            "every" => {
                if rec.points.is_some() {
                    return Err(cx.fail(
                        "record.points",
                        rec.points.unwrap_or(0),
                        "record.points only with schedule = \"log\"",
                    ));
                }
                let every = rec.every.unwrap_or(10);
                if every == 0 {
                    return Err(cx.fail("record.every", 0, "an integer >= 1"));
                }
                Schedule::Every(every)
            }
            "log" => {
                if rec.every.is_some() {
                    return Err(cx.fail(
                        "record.every",
                        rec.every.unwrap_or(0),
                        "record.every only with schedule = \"every\"",
                    ));
                }
                let points = rec.points.unwrap_or(200);
                if points == 0 {
                    return Err(cx.fail("record.points", 0, "an integer >= 1"));
                }
                Schedule::Log { points }
            }
            other => return Err(cx.fail("record.schedule", quoted(other), "one of every, log")),
        };
        let defaults = RecordOptions::default();
        let record = RecordOptions {
            snapshots: rec.snapshots.unwrap_or(defaults.snapshots),
            snapshot_particles: rec
                .snapshot_particles
                .unwrap_or(defaults.snapshot_particles),
            snapshot_first: match rec.snapshot_sample.as_deref() {
                None | Some("spread") => false,
                Some("first") => true,
                Some(other) => {
                    return Err(cx.fail(
                        "record.snapshot_sample",
                        quoted(other),
                        "one of spread, first",
                    ));
                }
            },
            cone_degrees: rec.cone_degrees.unwrap_or(defaults.cone_degrees),
            probes: rec.probes.unwrap_or(defaults.probes),
            exact_w2_max: rec.exact_w2_max.unwrap_or(defaults.exact_w2_max),
            sliced_directions: rec.sliced_directions.unwrap_or(defaults.sliced_directions),
            distances: rec.distances.unwrap_or(defaults.distances),
            alignment: rec.alignment.unwrap_or(defaults.alignment),
            marginals: rec.marginals.unwrap_or(defaults.marginals),
            figures: rec.figures.unwrap_or(defaults.figures),
        };
        if record.snapshots == 1 {
            return Err(cx.fail(
                "record.snapshots",
                1,
                "0 (none) or an integer >= 2 (the first and last steps are always included)",
            ));
        }
        if record.snapshot_particles == 0 {
            return Err(cx.fail("record.snapshot_particles", 0, "an integer >= 1"));
        }
        if !(record.cone_degrees.is_finite()
            && record.cone_degrees > 0.0
            && record.cone_degrees <= 180.0)
        {
            return Err(cx.fail(
                "record.cone_degrees",
                record.cone_degrees,
                "a number of degrees in (0, 180]",
            ));
        }
        if record.sliced_directions == 0 {
            return Err(cx.fail("record.sliced_directions", 0, "an integer >= 1"));
        }
        if record.exact_w2_max > crate::diagnostics::distance::MAX_EXACT {
            return Err(cx.fail(
                "record.exact_w2_max",
                record.exact_w2_max,
                format!("at most {}", crate::diagnostics::distance::MAX_EXACT),
            ));
        }
        resolved.record = match schedule {
            Schedule::Every(every) => crate::scenario::file::RecordConfig {
                schedule: Some("every".into()),
                every: Some(every),
                ..Default::default()
            },
            Schedule::Log { points } => crate::scenario::file::RecordConfig {
                schedule: Some("log".into()),
                points: Some(points),
                ..Default::default()
            },
        };
        resolved.record.snapshots = Some(record.snapshots);
        resolved.record.snapshot_particles = Some(record.snapshot_particles);
        resolved.record.snapshot_sample = Some(
            if record.snapshot_first {
                "first"
            } else {
                "spread"
            }
            .into(),
        );
        resolved.record.cone_degrees = Some(record.cone_degrees);
        resolved.record.probes = Some(record.probes);
        resolved.record.exact_w2_max = Some(record.exact_w2_max);
        resolved.record.sliced_directions = Some(record.sliced_directions);
        resolved.record.distances = Some(record.distances);
        resolved.record.alignment = Some(record.alignment);
        resolved.record.marginals = Some(record.marginals);
        resolved.record.figures = Some(record.figures);

        Ok(Self {
            name,
            seed,
            file: path.to_path_buf(),
            network,
            d,
            bias,
            m,
            init,
            target,
            teacher_seed,
            noise_std,
            risk,
            population_risk,
            device,
            precision,
            dynamics: Dynamics {
                lambda,
                tau,
                train,
                lr_ratio,
            },
            integrator,
            dt,
            schedules,
            steps,
            schedule,
            record,
            resolved,
        })
    }

    /// The resolved scenario as TOML text.
    pub fn resolved_toml(&self) -> Result<String> {
        toml::to_string(&self.resolved)
            .map_err(|e| Error::invalid("resolved scenario", e, "serialisable TOML"))
    }

    /// Input dimension of the network: d, plus 1 with a bias.
    pub fn input_dim(&self) -> usize {
        self.d + usize::from(self.bias)
    }

    /// A configuration error on `key`, located in the scenario file.
    pub(crate) fn fail(
        &self,
        key: &str,
        found: impl ToString,
        allowed: impl Into<String>,
    ) -> Error {
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        Context {
            file: self.file.display().to_string(),
            text: &text,
            overrides: &[],
        }
        .fail(key, found, allowed)
    }
}

fn resolve_a_law(cx: &Context<'_>, law: Option<&LawConfig>) -> Result<ScalarLaw> {
    let Some(law) = law else {
        return Ok(ScalarLaw::Normal {
            mean: 0.0,
            std: 1.0,
        });
    };
    let name = law.law.as_deref().unwrap_or("normal");
    if name != "normal" {
        return Err(cx.fail("init.a.law", quoted(name), "\"normal\" (with mean and std)"));
    }
    if law.radius.is_some() {
        return Err(cx.fail(
            "init.a.radius",
            law.radius.unwrap_or(0.0),
            "no radius for a normal law",
        ));
    }
    let mean = law.mean.unwrap_or(0.0);
    let std = law.std.unwrap_or(1.0);
    if !mean.is_finite() {
        return Err(cx.fail("init.a.mean", mean, "a finite number"));
    }
    if !(std.is_finite() && std >= 0.0) {
        return Err(cx.fail("init.a.std", std, "a finite number >= 0"));
    }
    Ok(ScalarLaw::Normal { mean, std })
}

fn resolve_w_law(cx: &Context<'_>, law: Option<&LawConfig>, d_in: usize) -> Result<VectorLaw> {
    let default_std = 1.0 / (d_in as f64).sqrt();
    let Some(law) = law else {
        return Ok(VectorLaw::Normal { std: default_std });
    };
    if law.mean.is_some() {
        return Err(cx.fail(
            "init.w.mean",
            law.mean.unwrap_or(0.0),
            "no mean: w laws are centred",
        ));
    }
    match law.law.as_deref().unwrap_or("normal") {
        "normal" => {
            if law.radius.is_some() {
                return Err(cx.fail(
                    "init.w.radius",
                    law.radius.unwrap_or(0.0),
                    "radius only with law = \"uniform_sphere\"",
                ));
            }
            let std = law.std.unwrap_or(default_std);
            if !(std.is_finite() && std >= 0.0) {
                return Err(cx.fail("init.w.std", std, "a finite number >= 0"));
            }
            Ok(VectorLaw::Normal { std })
        }
        "uniform_sphere" => {
            if law.std.is_some() {
                return Err(cx.fail(
                    "init.w.std",
                    law.std.unwrap_or(0.0),
                    "std only with law = \"normal\"",
                ));
            }
            let radius = law.radius.unwrap_or(1.0);
            if !(radius.is_finite() && radius >= 0.0) {
                return Err(cx.fail("init.w.radius", radius, "a finite number >= 0"));
            }
            Ok(VectorLaw::UniformSphere { radius })
        }
        other => Err(cx.fail("init.w.law", quoted(other), "one of normal, uniform_sphere")),
    }
}

/// The most steps a `t_end` may need under a dt schedule (it is replayed to count them).
const MAX_STEPS: u64 = 1_000_000_000;

/// What values a flow parameter allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bound {
    /// > 0 (dt).
    Positive,
    /// >= 0 (lambda, tau).
    NonNegative,
}

impl Bound {
    fn admits(self, value: f64) -> bool {
        value.is_finite()
            && match self {
                Bound::Positive => value > 0.0,
                Bound::NonNegative => value >= 0.0,
            }
    }

    fn words(self) -> &'static str {
        match self {
            Bound::Positive => "a finite number > 0",
            Bound::NonNegative => "a finite number >= 0",
        }
    }
}

/// A flow parameter `key` written as a number or a schedule (docs/scenarios.md, "Schedules"):
/// its value at t = 0, its schedule (none for a number) and its resolved configuration.
fn resolve_scheduled(
    cx: &Context<'_>,
    key: &str,
    config: Option<&ScheduledConfig>,
    default: f64,
    bound: Bound,
) -> Result<(f64, Option<ParameterSchedule>, ScheduledConfig)> {
    let config = match config {
        None => return Ok((default, None, ScheduledConfig::Value(default))),
        Some(ScheduledConfig::Value(value)) => {
            if !bound.admits(*value) {
                return Err(cx.fail(key, value, bound.words()));
            }
            return Ok((*value, None, ScheduledConfig::Value(*value)));
        }
        Some(ScheduledConfig::Schedule(config)) => config,
    };
    let sub = |name: &str| format!("{key}.{name}");
    let list = |values: &[f64]| format!("{values:?}");
    let schedule = match config.schedule.as_deref() {
        Some("piecewise") => {
            if let Some((name, _)) = [
                ("start", config.start),
                ("rate", config.rate),
                ("floor", config.floor),
            ]
            .into_iter()
            .find(|(_, v)| v.is_some())
            {
                return Err(cx.fail(
                    &sub(name),
                    "given",
                    "only times and values with schedule = \"piecewise\"",
                ));
            }
            let times = config.times.clone().ok_or_else(|| {
                cx.fail(
                    &sub("times"),
                    "missing",
                    "a list of breakpoints [0, t_1, ...]",
                )
            })?;
            let values = config.values.clone().ok_or_else(|| {
                cx.fail(
                    &sub("values"),
                    "missing",
                    "a list of values, one per breakpoint",
                )
            })?;
            let starts_at_zero =
                times.first().and_then(|t| t.partial_cmp(&0.0)) == Some(std::cmp::Ordering::Equal);
            let increasing = times.windows(2).all(|w| w[0] < w[1]);
            if !(starts_at_zero && increasing && times.iter().all(|t| t.is_finite())) {
                return Err(cx.fail(
                    &sub("times"),
                    list(&times),
                    "finite breakpoints starting at 0 and strictly increasing",
                ));
            }
            if values.len() != times.len() {
                return Err(cx.fail(
                    &sub("values"),
                    list(&values),
                    format!("one value per breakpoint ({} times)", times.len()),
                ));
            }
            if !values.iter().all(|v| bound.admits(*v)) {
                return Err(cx.fail(
                    &sub("values"),
                    list(&values),
                    format!("each {}", bound.words()),
                ));
            }
            ParameterSchedule::Piecewise { times, values }
        }
        Some("exponential") => {
            if let Some(name) = [
                ("times", config.times.is_some()),
                ("values", config.values.is_some()),
            ]
            .into_iter()
            .find_map(|(name, given)| given.then_some(name))
            {
                return Err(cx.fail(
                    &sub(name),
                    "given",
                    "only start, rate and floor with schedule = \"exponential\"",
                ));
            }
            let start = config
                .start
                .ok_or_else(|| cx.fail(&sub("start"), "missing", bound.words()))?;
            if !bound.admits(start) {
                return Err(cx.fail(&sub("start"), start, bound.words()));
            }
            let rate = config
                .rate
                .ok_or_else(|| cx.fail(&sub("rate"), "missing", "a finite number >= 0"))?;
            if !(rate.is_finite() && rate >= 0.0) {
                return Err(cx.fail(&sub("rate"), rate, "a finite number >= 0 (a decay)"));
            }
            let floor = config.floor.unwrap_or(0.0);
            let floor_ok = floor.is_finite()
                && floor >= 0.0
                && (bound == Bound::NonNegative || rate <= 0.0 || floor > 0.0);
            if !floor_ok {
                let allowed = match bound {
                    Bound::Positive => {
                        "a finite number > 0 (a step that decays to 0 never reaches the end)"
                    }
                    Bound::NonNegative => "a finite number >= 0",
                };
                return Err(cx.fail(&sub("floor"), floor, allowed));
            }
            ParameterSchedule::Exponential { start, rate, floor }
        }
        Some(other) => {
            return Err(cx.fail(
                &sub("schedule"),
                quoted(other),
                "one of piecewise, exponential",
            ));
        }
        None => {
            return Err(cx.fail(&sub("schedule"), "missing", "one of piecewise, exponential"));
        }
    };
    let resolved = match &schedule {
        ParameterSchedule::Piecewise { times, values } => ScheduleConfig {
            schedule: Some("piecewise".into()),
            times: Some(times.clone()),
            values: Some(values.clone()),
            ..ScheduleConfig::default()
        },
        ParameterSchedule::Exponential { start, rate, floor } => ScheduleConfig {
            schedule: Some("exponential".into()),
            start: Some(*start),
            rate: Some(*rate),
            floor: Some(*floor),
            ..ScheduleConfig::default()
        },
    };
    Ok((
        schedule.value(0.0),
        Some(schedule),
        ScheduledConfig::Schedule(resolved),
    ))
}

fn scalar_law_config(law: &ScalarLaw) -> LawConfig {
    let ScalarLaw::Normal { mean, std } = *law;
    LawConfig {
        law: Some("normal".into()),
        mean: Some(mean),
        std: Some(std),
        radius: None,
    }
}

fn vector_law_config(law: &VectorLaw) -> LawConfig {
    match *law {
        VectorLaw::Normal { std } => LawConfig {
            law: Some("normal".into()),
            std: Some(std),
            ..LawConfig::default()
        },
        VectorLaw::UniformSphere { radius } => LawConfig {
            law: Some("uniform_sphere".into()),
            radius: Some(radius),
            ..LawConfig::default()
        },
    }
}
