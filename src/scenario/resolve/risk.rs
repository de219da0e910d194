//! `[risk]`: the risk mode of docs/math.md section 3 (population: exact Gaussian-input risk;
//! online: a fresh batch per step; empirical: a fixed data set), its sizes and whether a data
//! mode also logs the exact population risk.

use std::path::Path;

use crate::error::Result;
use crate::math::Activation;
use crate::math::gaussian_field::{hermite_projection, smoothing};
use crate::scenario::file::RiskConfig;
use crate::task::{InputShape, Loss};

use super::{Context, DEFAULT_TEST_N, RiskSpec, TargetSource, one_of, quoted, resolve_path};

/// What the risk section needs to know of the problem.
pub(super) struct Problem<'a> {
    /// The input law.
    pub input: &'a InputShape,
    /// The target.
    pub target: &'a TargetSource,
    /// The teacher's activation where it differs from the student's.
    pub teacher_activation: Option<Activation>,
    /// The student's activation.
    pub student: Activation,
    /// `model.bias`.
    pub bias: bool,
    /// `target.noise_std`.
    pub noise_std: f64,
}

impl Problem<'_> {
    /// The default problem: N(0, I) inputs and a teacher with the student's activation.
    pub fn is_standard(&self) -> bool {
        self.input.is_standard()
            && matches!(
                self.target,
                TargetSource::File(_) | TargetSource::Generated(_)
            )
            && self.teacher_activation.is_none()
    }

    /// Why the problem has no exact population risk, as (key, found, allowed), or None.
    fn population_obstacle(&self) -> Option<(&'static str, String, String)> {
        let use_data = "use risk.mode = \"online\" or \"empirical\"";
        if matches!(self.input, InputShape::Rademacher) {
            return Some((
                "input.law",
                quoted("rademacher"),
                format!(
                    "a Gaussian law or mixture in population mode (Rademacher inputs have no exact population form here): {use_data}"
                ),
            ));
        }
        match self.target {
            TargetSource::Parity(_) => Some((
                "target.kind",
                quoted("parity"),
                format!(
                    "teacher, hermite or label in population mode (a parity has no exact population form here): {use_data}"
                ),
            )),
            TargetSource::Hermite(_) if !self.input.is_standard() => Some((
                "target.kind",
                "\"hermite\" with non-identity inputs".into(),
                format!(
                    "hermite in population mode only with input.law = \"gaussian\" and the identity covariance: {use_data}"
                ),
            )),
            // The Hermite projections q_j are closed forms for these students only.
            TargetSource::Hermite(_) if hermite_projection(self.student, 0, 1.0, 1.0).is_none() => {
                Some((
                    "model.activation",
                    quoted(self.student.name()),
                    format!(
                        "relu, erf, linear or quadratic for a Hermite target in population mode (docs/problems.md): {use_data}"
                    ),
                ))
            }
            // The cross kernel needs a closed Gaussian smoothing of one of the two.
            _ => match self.teacher_activation {
                Some(teacher)
                    if smoothing(teacher, 0.0, 1.0).is_none()
                        && smoothing(self.student, 0.0, 1.0).is_none() =>
                {
                    Some((
                        "target.activation",
                        quoted(teacher.name()),
                        format!(
                            "the student's activation or one of relu, erf, linear, quadratic in population mode (docs/problems.md): {use_data}"
                        ),
                    ))
                }
                _ => None,
            },
        }
    }
}

/// `[risk]` validated.
pub(super) struct RiskSection {
    /// The mode's name, as resolved ("population", "online" or "empirical").
    pub mode: String,
    /// Risk mode and sizes.
    pub risk: RiskSpec,
    /// The loss.
    pub loss: Loss,
    /// Whether a data mode logs the exact population risk.
    pub population_risk: bool,
    /// The resolved section.
    pub resolved: RiskConfig,
}

/// Validates `[risk]` for `problem` (population mode and the exact population risk are defined
/// without bias, for the problems with an exact form); paths are relative to `base`.
pub(super) fn resolve_risk(
    cx: &Context<'_>,
    rc: &RiskConfig,
    base: &Path,
    problem: &Problem<'_>,
) -> Result<RiskSection> {
    let bias = problem.bias;
    let mode = rc.mode.clone().unwrap_or_else(|| "population".into());
    check_mode_keys(cx, rc, &mode)?;
    let loss = resolve_loss(cx, rc, &mode, problem)?;
    let obstacle = problem.population_obstacle();
    if mode == "population"
        && let Some((key, found, allowed)) = &obstacle
    {
        return Err(cx.fail(key, found, allowed.clone()));
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
    let population_exists =
        !bias && rc.x_file.is_none() && obstacle.is_none() && loss == Loss::Square;
    if rc.population_risk == Some(true) && !population_exists {
        return Err(cx.fail(
            "risk.population_risk",
            true,
            "false with model.bias = true, risk.x_file, the logistic loss, Rademacher inputs or \
             a parity target (the exact risk needs Gaussian inputs without bias, labels from \
             the target and the square loss)",
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
        _ => resolve_empirical(cx, rc, base, test_n)?,
    };
    let mut resolved = risk_config(&mode, &risk, population_exists.then_some(population_risk));
    resolved.loss = rc.loss.is_some().then(|| loss.name().to_owned());
    Ok(RiskSection {
        mode,
        risk,
        loss,
        population_risk,
        resolved,
    })
}

/// `risk.loss`: square (default) or logistic; logistic needs a data mode and labels in
/// {-1, +1} (a label target with labels +-1, or a single parity of coefficient +-1 on
/// Rademacher inputs, without noise; data files are checked when read).
fn resolve_loss(
    cx: &Context<'_>,
    rc: &RiskConfig,
    mode: &str,
    problem: &Problem<'_>,
) -> Result<Loss> {
    let loss = match rc.loss.as_deref().unwrap_or("square") {
        "square" => return Ok(Loss::Square),
        "logistic" => Loss::Logistic,
        other => return Err(cx.fail("risk.loss", quoted(other), "one of square, logistic")),
    };
    if mode == "population" {
        return Err(cx.fail(
            "risk.loss",
            quoted("logistic"),
            "\"square\" in population mode (E log(1 + exp(-y f)) has no exact form): use \
             risk.mode = \"online\" or \"empirical\"",
        ));
    }
    if rc.x_file.is_some() {
        return Ok(loss);
    }
    let signs = "labels in {-1, +1} for the logistic loss: kind = \"label\" with component \
                 labels +-1, or one parity of coef +-1 on input.law = \"rademacher\", and \
                 target.noise_std = 0";
    if !super::sign_labels(problem.target, problem.input, problem.noise_std) {
        return Err(cx.fail("risk.loss", quoted("logistic"), signs));
    }
    Ok(loss)
}

/// The mode is known and the keys given belong to it.
fn check_mode_keys(cx: &Context<'_>, rc: &RiskConfig, mode: &str) -> Result<()> {
    if !one_of(mode, &["population", "online", "empirical"]) {
        return Err(cx.fail(
            "risk.mode",
            quoted(mode),
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
            quoted(mode),
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
    Ok(())
}

/// Empirical mode: data files, or n samples drawn from the input law and the target.
fn resolve_empirical(
    cx: &Context<'_>,
    rc: &RiskConfig,
    base: &Path,
    test_n: usize,
) -> Result<RiskSpec> {
    match (&rc.x_file, &rc.y_file, rc.n) {
        (Some(x), Some(y), None) => {
            if rc.test_n.is_some_and(|t| t > 0) {
                return Err(cx.fail(
                    "risk.test_n",
                    test_n,
                    "0 with x_file / y_file (no law to draw a test set from)",
                ));
            }
            Ok(RiskSpec::EmpiricalFiles {
                x: resolve_path(base, x),
                y: resolve_path(base, y),
            })
        }
        (None, None, Some(n)) if n > 0 => Ok(RiskSpec::EmpiricalGenerated { n, test_n }),
        (None, None, Some(n)) => Err(cx.fail("risk.n", n, "an integer >= 1")),
        (None, None, None) => Err(cx.fail(
            "risk.n",
            "missing",
            "an integer >= 1, or risk.x_file and risk.y_file",
        )),
        _ => Err(cx.fail(
            "risk.x_file",
            format!("{:?}", rc.x_file),
            "both risk.x_file and risk.y_file (and no risk.n), or risk.n alone",
        )),
    }
}

/// The resolved `[risk]`: the mode's own keys only; `population_risk` is written where the
/// exact risk exists.
fn risk_config(mode: &str, risk: &RiskSpec, population_risk: Option<bool>) -> RiskConfig {
    let mut resolved = RiskConfig {
        mode: Some(mode.to_owned()),
        ..Default::default()
    };
    match risk {
        RiskSpec::Population => {}
        RiskSpec::Online { batch, test_n } => {
            resolved.batch = Some(*batch);
            resolved.test_n = Some(*test_n);
            resolved.population_risk = population_risk;
        }
        RiskSpec::EmpiricalGenerated { n, test_n } => {
            resolved.n = Some(*n);
            resolved.test_n = Some(*test_n);
            resolved.population_risk = population_risk;
        }
        RiskSpec::EmpiricalFiles { x, y } => {
            resolved.x_file = Some(x.display().to_string());
            resolved.y_file = Some(y.display().to_string());
            resolved.test_n = Some(0);
        }
    }
    resolved
}
