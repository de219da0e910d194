//! `[risk]`: the risk mode of docs/math.md section 3 (population: exact Gaussian-input risk;
//! online: a fresh batch per step; empirical: a fixed data set), its sizes and whether a data
//! mode also logs the exact population risk.

use std::path::Path;

use crate::error::Result;
use crate::scenario::file::RiskConfig;

use super::{Context, DEFAULT_TEST_N, RiskSpec, one_of, quoted, resolve_path};

/// `[risk]` validated.
pub(super) struct RiskSection {
    /// The mode's name, as resolved ("population", "online" or "empirical").
    pub mode: String,
    /// Risk mode and sizes.
    pub risk: RiskSpec,
    /// Whether a data mode logs the exact population risk.
    pub population_risk: bool,
    /// The resolved section.
    pub resolved: RiskConfig,
}

/// Validates `[risk]`; `bias` is `model.bias` (population mode and the exact population risk
/// are defined without it) and paths are relative to `base`.
pub(super) fn resolve_risk(
    cx: &Context<'_>,
    rc: &RiskConfig,
    base: &Path,
    bias: bool,
) -> Result<RiskSection> {
    let mode = rc.mode.clone().unwrap_or_else(|| "population".into());
    check_mode_keys(cx, rc, &mode)?;
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
        _ => resolve_empirical(cx, rc, base, test_n)?,
    };
    let resolved = risk_config(&mode, &risk, population_exists.then_some(population_risk));
    Ok(RiskSection {
        mode,
        risk,
        population_risk,
        resolved,
    })
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
