//! `[input]`: the law of x (docs/problems.md section 1): Gaussian with a covariance, a centred
//! Gaussian mixture whose components carry class labels, or Rademacher.

use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::output::read_npy;
use crate::scenario::build::reason;
use crate::scenario::file::{ComponentConfig, CovarianceConfig, CovarianceTable, InputConfig};
use crate::task::{Component, Covariance, InputShape};

use super::{Context, one_of, quoted, resolve_path};

/// How far the mixture weights may sum from 1.
const WEIGHT_SUM_TOLERANCE: f64 = 1e-12;

/// `[input]` validated.
pub(super) struct InputSection {
    /// The law of the d feature coordinates.
    pub shape: InputShape,
    /// The resolved section (None when the scenario has none: the standard Gaussian).
    pub resolved: Option<InputConfig>,
}

/// Validates `[input]` for input dimension `d`; paths are relative to `base`.
pub(super) fn resolve_input(
    cx: &Context<'_>,
    ic: Option<&InputConfig>,
    base: &Path,
    d: usize,
) -> Result<InputSection> {
    let Some(ic) = ic else {
        return Ok(InputSection {
            shape: InputShape::StandardGaussian,
            resolved: None,
        });
    };
    let law = ic.law.clone().unwrap_or_else(|| "gaussian".into());
    if !one_of(&law, &["gaussian", "mixture", "rademacher"]) {
        return Err(cx.fail(
            "input.law",
            quoted(&law),
            "one of gaussian, mixture, rademacher",
        ));
    }
    if ic.covariance.is_some() && law != "gaussian" {
        return Err(cx.fail(
            "input.covariance",
            format!("a covariance with law = {}", quoted(&law)),
            "input.covariance only with law = \"gaussian\" (mixture components take their own \
             scale or covariance)",
        ));
    }
    if ic.components.is_some() && law != "mixture" {
        return Err(cx.fail(
            "input.components",
            format!("components with law = {}", quoted(&law)),
            "input.components only with law = \"mixture\"",
        ));
    }
    let mut resolved = ic.clone();
    resolved.law = Some(law.clone());
    let shape = match law.as_str() {
        "gaussian" => {
            let covariance = match &ic.covariance {
                None => Covariance::Identity,
                Some(c) => resolve_covariance(cx, "input.covariance", c, base, d)?,
            };
            resolved.covariance = Some(covariance_config(&covariance, ic.covariance.as_ref()));
            if covariance.is_identity() {
                InputShape::StandardGaussian
            } else {
                InputShape::Gaussian(covariance)
            }
        }
        "mixture" => {
            let components = resolve_components(cx, ic.components.as_deref(), base, d)?;
            resolved.components = Some(
                components
                    .iter()
                    .zip(ic.components.iter().flatten())
                    .map(|(c, raw)| ComponentConfig {
                        weight: Some(c.weight),
                        scale: match c.covariance {
                            Covariance::Identity => Some(1.0),
                            Covariance::Scaled(s) => Some(s),
                            Covariance::Full { .. } => None,
                        },
                        covariance: match c.covariance {
                            Covariance::Full { .. } => {
                                Some(covariance_config(&c.covariance, raw.covariance.as_ref()))
                            }
                            _ => None,
                        },
                        label: Some(c.label),
                    })
                    .collect(),
            );
            InputShape::Mixture(Arc::new(components))
        }
        _ => InputShape::Rademacher,
    };
    Ok(InputSection {
        shape,
        resolved: Some(resolved),
    })
}

/// The resolved form of a covariance: "identity", or the table as given (a file path made
/// absolute).
fn covariance_config(covariance: &Covariance, raw: Option<&CovarianceConfig>) -> CovarianceConfig {
    match (covariance, raw) {
        (Covariance::Identity, _) | (_, None) => CovarianceConfig::Name("identity".into()),
        (_, Some(raw)) => raw.clone(),
    }
}

/// A covariance key: "identity", `{ diag = [..] }` or `{ file = "cov.npy" }`.
fn resolve_covariance(
    cx: &Context<'_>,
    key: &str,
    config: &CovarianceConfig,
    base: &Path,
    d: usize,
) -> Result<Covariance> {
    let allowed = "\"identity\", { diag = [d variances > 0] } or { file = \"cov.npy\" } (d x d, \
                   symmetric positive definite)";
    match config {
        CovarianceConfig::Name(name) if name == "identity" => Ok(Covariance::Identity),
        CovarianceConfig::Name(name) => Err(cx.fail(key, quoted(name), allowed)),
        CovarianceConfig::Table(CovarianceTable {
            diag: Some(diag),
            file: None,
        }) => {
            if diag.len() != d {
                return Err(cx.fail(
                    key,
                    format!("{} variances", diag.len()),
                    format!("model.d = {d} variances"),
                ));
            }
            Covariance::diag(diag).map_err(|e| invalid(cx, key, &format!("{diag:?}"), &e))
        }
        CovarianceConfig::Table(CovarianceTable {
            diag: None,
            file: Some(file),
        }) => {
            let path = resolve_path(base, file);
            let matrix = read_npy(&path).map_err(|e| {
                cx.fail(
                    key,
                    path.display(),
                    format!("a readable float64 .npy file ({})", reason(&e)),
                )
            })?;
            if matrix.shape() != (d, d) {
                return Err(cx.fail(
                    key,
                    format!(
                        "{} of shape ({}, {})",
                        path.display(),
                        matrix.nrows(),
                        matrix.ncols()
                    ),
                    format!("shape (d, d) = ({d}, {d})"),
                ));
            }
            Covariance::full(matrix).map_err(|e| invalid(cx, key, &path.display().to_string(), &e))
        }
        CovarianceConfig::Table(_) => Err(cx.fail(key, "a table", allowed)),
    }
}

/// A covariance error on `key`: what was found in `source` (a file or the values) and what
/// is allowed.
fn invalid(cx: &Context<'_>, key: &str, source: &str, error: &Error) -> Error {
    match error {
        Error::Invalid { found, allowed, .. } => {
            cx.fail(key, format!("{source} with {found}"), allowed.clone())
        }
        other => cx.fail(key, source, reason(other)),
    }
}

/// The mixture components: positive weights summing to 1, a positive scale or a covariance
/// each, finite labels.
#[expect(clippy::float_cmp, reason = "a scale of exactly 1 is the identity")]
fn resolve_components(
    cx: &Context<'_>,
    components: Option<&[ComponentConfig]>,
    base: &Path,
    d: usize,
) -> Result<Vec<Component>> {
    let components = match components {
        Some(c) if !c.is_empty() => c,
        _ => {
            return Err(cx.fail(
                "input.components",
                "none",
                "at least one { weight, scale | covariance, label } with law = \"mixture\"",
            ));
        }
    };
    let mut out = Vec::with_capacity(components.len());
    for (i, c) in components.iter().enumerate() {
        let key = |field: &str| format!("input.components[{}].{field}", i + 1);
        let weight = c.weight.unwrap_or(1.0 / components.len() as f64);
        if !(weight.is_finite() && weight > 0.0) {
            return Err(cx.fail(&key("weight"), weight, "a finite weight > 0"));
        }
        let label = c.label.unwrap_or(0.0);
        if !label.is_finite() {
            return Err(cx.fail(&key("label"), label, "a finite number"));
        }
        let covariance = match (&c.covariance, c.scale) {
            (Some(_), Some(_)) => {
                return Err(cx.fail(
                    &key("scale"),
                    "both scale and covariance",
                    "one of scale or covariance",
                ));
            }
            (Some(cov), None) => resolve_covariance(cx, &key("covariance"), cov, base, d)?,
            (None, scale) => {
                let scale = scale.unwrap_or(1.0);
                if !(scale.is_finite() && scale > 0.0) {
                    return Err(cx.fail(&key("scale"), scale, "a finite scale > 0"));
                }
                if scale == 1.0 {
                    Covariance::Identity
                } else {
                    Covariance::Scaled(scale)
                }
            }
        };
        out.push(Component {
            weight,
            label,
            covariance,
        });
    }
    let total: f64 = out.iter().map(|c| c.weight).sum();
    if (total - 1.0).abs() > WEIGHT_SUM_TOLERANCE {
        return Err(cx.fail(
            "input.components",
            format!("weights summing to {total}"),
            format!("weights summing to 1 within {WEIGHT_SUM_TOLERANCE:e}"),
        ));
    }
    Ok(out)
}
