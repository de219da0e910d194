//! Validation of a parsed scenario into a typed [`Scenario`] with every default resolved
//! (documented in docs/scenarios.md), and construction of the simulation it describes.
//!
//! Every error names the scenario file, the key (with line and column where the key is
//! written) and what is allowed.

mod device;
mod dynamics;
mod init;
mod input;
mod model;
mod record;
mod risk;
mod schedule;
mod target;

use std::path::{Path, PathBuf};

use crate::device::{Device, Precision};
use crate::diagnostics::recorder::RecordOptions;
use crate::dynamics::{Dynamics, Integrator, Schedule, Schedules};
use crate::error::{Error, Result};
use crate::math::{Activation, InitLaw, Network};
use crate::scenario::file::{ScenarioConfig, is_overridden, locate};
use crate::task::{HermiteTerm, InputShape, Loss, ParityTerm, TeacherSpec};

use device::resolve_device;
use dynamics::resolve_dynamics;
use init::{resolve_init, resolve_symmetric};
use input::resolve_input;
use model::{resolve_model, resolve_width};
use record::resolve_record;
use risk::resolve_risk;
use target::resolve_any_target;

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

/// The target: a teacher (from a file or generated) or another kind (docs/problems.md).
#[derive(Clone, Debug, PartialEq)]
pub enum TargetSource {
    /// A teacher from a (k, 1 + d) .npy file.
    File(PathBuf),
    /// A generated teacher.
    Generated(TeacherSpec),
    /// f* = sum_t coef_t He_t(x_dir) / sqrt(deg!).
    Hermite(Vec<HermiteTerm>),
    /// f* = sum_t coef_t prod_{i in S_t} x_i.
    Parity(Vec<ParityTerm>),
    /// y = the label of the mixture component of x.
    Label,
}

impl TargetSource {
    /// The scenario's `target.kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            TargetSource::File(_) | TargetSource::Generated(_) => "teacher",
            TargetSource::Hermite(_) => "hermite",
            TargetSource::Parity(_) => "parity",
            TargetSource::Label => "label",
        }
    }
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
    /// The symmetrised start (`init.symmetric`): particle 2i + 1 is (-a_2i, w_2i), f = 0 at
    /// t = 0.
    pub symmetric_init: bool,
    /// The law of the d feature coordinates of x.
    pub input: InputShape,
    /// The target.
    pub target: TargetSource,
    /// The teacher's activation, when `target.activation` differs from the student's.
    pub teacher_activation: Option<Activation>,
    /// The loss of the data modes.
    pub loss: Loss,
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

    /// Validates a parsed configuration read from `path` (whose text locates keys): one
    /// resolver per section, in the order that decides which error is reported first (each
    /// section may depend on those before it: init on d, the width on init, the target on d,
    /// the risk on the bias, the device on the risk mode and the activation).
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
        let name = resolve_name(&cx, config.name.as_deref(), path)?;
        let seed = config.seed.unwrap_or(0);
        let model = resolve_model(&cx, &config.model)?;
        let (init, init_config) = resolve_init(&cx, &config.init, &base, model.input_dim())?;
        let m = resolve_width(&cx, &init, config.model.m)?;
        let symmetric_init = resolve_symmetric(&cx, &config.init, m)?;
        let input = resolve_input(&cx, config.input.as_ref(), &base, model.d)?;
        let target = resolve_any_target(&cx, &config.target, &base, model.d, seed, &input.shape)?;
        let teacher_activation = target.teacher_activation.filter(|a| *a != model.activation);
        let problem = risk::Problem {
            input: &input.shape,
            target: &target.target,
            teacher_activation,
            student: model.activation,
            bias: model.bias,
            noise_std: target.noise_std,
        };
        let risk = resolve_risk(&cx, &config.risk, &base, &problem)?;
        if risk.loss != Loss::Square || !problem.is_standard() {
            check_standard_device(&cx, config.device.as_deref())?;
        }
        let (device, precision) = resolve_device(
            &cx,
            config.device.as_deref(),
            config.precision.as_deref(),
            &risk.mode,
            model.activation,
        )?;
        let dynamics = resolve_dynamics(&cx, &config.dynamics)?;
        let (schedule, record, record_config) = resolve_record(&cx, &config.record)?;

        let resolved = ScenarioConfig {
            name: Some(name.clone()),
            seed: Some(seed),
            device: Some(device.to_string()),
            precision: Some(precision.to_string()),
            model: model.config(m),
            init: init_config,
            input: input.resolved,
            target: target.resolved,
            risk: risk.resolved,
            dynamics: dynamics.resolved,
            record: record_config,
            // A run is one point of a sweep: its own scenario never holds the sweep.
            sweep: None,
        };
        Ok(Self {
            name,
            seed,
            file: path.to_path_buf(),
            network: model.network,
            d: model.d,
            bias: model.bias,
            m,
            init,
            symmetric_init,
            input: input.shape,
            target: target.target,
            teacher_activation,
            loss: risk.loss,
            teacher_seed: target.teacher_seed,
            noise_std: target.noise_std,
            risk: risk.risk,
            population_risk: risk.population_risk,
            device,
            precision,
            dynamics: dynamics.dynamics,
            integrator: dynamics.integrator,
            dt: dynamics.dt,
            schedules: dynamics.schedules,
            steps: dynamics.steps,
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

/// Whether every generated label is -1 or +1: a label target with labels +-1, or one parity
/// of coefficient +-1 on Rademacher inputs, without label noise.
#[expect(clippy::float_cmp, reason = "a sign label is exactly -1 or +1")]
pub(crate) fn sign_labels(target: &TargetSource, input: &InputShape, noise_std: f64) -> bool {
    let sign_valued = match (target, input) {
        (TargetSource::Label, InputShape::Mixture(components)) => {
            components.iter().all(|c| c.label.abs() == 1.0)
        }
        (TargetSource::Parity(terms), InputShape::Rademacher) => {
            terms.len() == 1 && terms[0].coef.abs() == 1.0
        }
        _ => false,
    };
    sign_valued && noise_std == 0.0
}

/// The GPU runs the standard problem only (Gaussian inputs N(0, I), a teacher with the
/// student's activation, the square loss): anything else must name `device = "cpu"`.
fn check_standard_device(cx: &Context<'_>, device: Option<&str>) -> Result<()> {
    if device.is_some_and(|d| d != "cpu") {
        return Err(cx.fail(
            "device",
            quoted(device.unwrap_or_default()),
            "\"cpu\" with an [input] law, a target kind or activation, or a loss other than the \
             defaults (the GPU kernels run the standard Gaussian teacher with the square loss)",
        ));
    }
    Ok(())
}

/// `name` (default the file stem): a non-empty name without slashes, as it names the run
/// directory.
fn resolve_name(cx: &Context<'_>, name: Option<&str>, path: &Path) -> Result<String> {
    let name = name.map(str::to_owned).unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into())
    });
    if name.is_empty() || name.contains(['/', '\\']) {
        return Err(cx.fail("name", quoted(&name), "a non-empty name without slashes"));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str) -> Result<Scenario> {
        let config: ScenarioConfig =
            toml::from_str(text).map_err(|e| Error::invalid("test", e, "TOML"))?;
        Scenario::from_config(config, Path::new("/nowhere/test.toml"), text, &[])
    }

    #[test]
    fn resolving_a_resolved_scenario_changes_nothing() -> Result<()> {
        let text = "[model]\nd = 3\nm = 10\n[risk]\nmode = \"online\"\n\
                    [dynamics]\nt_end = 1.0\n\
                    dt = { schedule = \"exponential\", start = 0.1, rate = 0.5, floor = 0.01 }\n\
                    [record]\npoints = 20\n";
        let first = resolve(text)?;
        let resolved_text = first.resolved_toml()?;
        let second = resolve(&resolved_text)?;
        assert_eq!(first.resolved, second.resolved);
        assert_eq!(first.steps, second.steps);
        assert_eq!(first.name, "test");
        Ok(())
    }

    #[test]
    fn the_first_section_with_an_error_is_reported() {
        // model.d is wrong and so is record.every: sections resolve in file order, so the
        // model's error wins.
        let text = "[model]\nd = 0\nm = 10\n[record]\nevery = 0\n";
        let error = resolve(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("model.d"), "{error}");
        let text = "[model]\nd = 2\nm = 10\n[target]\nk = 3\n[record]\nevery = 0\n";
        let error = resolve(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("target.k"), "{error}");
    }
}
