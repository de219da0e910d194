//! `[init]`: the initial particles, an .npy file or the product law of a and w
//! (docs/math.md section 1, rho_0).

use std::path::Path;

use crate::error::Result;
use crate::math::{InitLaw, ScalarLaw, VectorLaw};
use crate::scenario::file::{InitConfig, LawConfig};

use super::{Context, InitSource, quoted, resolve_path};

/// Validates `[init]` for inputs of dimension `d_in` (w's default std is 1/sqrt(d_in)); paths
/// are relative to `base`. Returns the source and the resolved section.
pub(super) fn resolve_init(
    cx: &Context<'_>,
    init: &InitConfig,
    base: &Path,
    d_in: usize,
) -> Result<(InitSource, InitConfig)> {
    let mut resolved = init.clone();
    let source = match &init.file {
        Some(file) => {
            if init.symmetric == Some(true) {
                return Err(cx.fail(
                    "init.symmetric",
                    "true with init.file",
                    "false or absent: the symmetrised start pairs particles drawn from the laws \
                     init.a / init.w",
                ));
            }
            if init.a.is_some() || init.w.is_some() {
                return Err(cx.fail(
                    "init.file",
                    quoted(file),
                    "either init.file or the laws init.a / init.w, not both",
                ));
            }
            let path = resolve_path(base, file);
            resolved.file = Some(path.display().to_string());
            InitSource::File(path)
        }
        None => {
            let a = resolve_a_law(cx, init.a.as_ref())?;
            let w = resolve_w_law(cx, init.w.as_ref(), d_in)?;
            resolved.a = Some(scalar_law_config(&a));
            resolved.w = Some(vector_law_config(&w));
            InitSource::Law(InitLaw { a, w })
        }
    };
    Ok((source, resolved))
}

/// `init.symmetric` (default false) against the width m: the pairs need an even m.
pub(super) fn resolve_symmetric(cx: &Context<'_>, init: &InitConfig, m: usize) -> Result<bool> {
    let symmetric = init.symmetric.unwrap_or(false);
    if symmetric && !m.is_multiple_of(2) {
        return Err(cx.fail(
            "init.symmetric",
            format!("true with model.m = {m}"),
            "an even model.m (particle 2i + 1 is (-a_2i, w_2i): the particles come in pairs)",
        ));
    }
    Ok(symmetric)
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
