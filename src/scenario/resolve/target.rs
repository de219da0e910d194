//! `[target]`: the teacher f*(x) = sum_i a*_i sigma(w*_i . x) of docs/math.md section 2, an
//! .npy file or generated (k directions, their norm, the output weights), and the label noise.

use std::path::Path;

use crate::error::Result;
use crate::scenario::file::{LawConfig, TargetConfig, TeacherWeightsConfig};
use crate::task::{Directions, OutputWeights, TeacherSpec};

use super::{Context, TargetSource, quoted, resolve_path};

/// `[target]` validated.
pub(super) struct TargetSection {
    /// The teacher.
    pub target: TargetSource,
    /// Seed of a generated teacher (`target.seed`, default the scenario's seed).
    pub teacher_seed: u64,
    /// Label noise standard deviation.
    pub noise_std: f64,
    /// The resolved section.
    pub resolved: TargetConfig,
}

/// Validates `[target]` for input dimension `d` (orthonormal directions need k <= d) and the
/// scenario's `seed` (the teacher's default); paths are relative to `base`.
pub(super) fn resolve_target(
    cx: &Context<'_>,
    tc: &TargetConfig,
    base: &Path,
    d: usize,
    seed: u64,
) -> Result<TargetSection> {
    let mut resolved = tc.clone();
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
            let path = resolve_path(base, file);
            resolved.file = Some(path.display().to_string());
            TargetSource::File(path)
        }
        None => {
            let spec = resolve_teacher(cx, tc, d)?;
            resolved.k = Some(spec.k);
            resolved.seed = Some(teacher_seed);
            resolved.directions = Some(
                match spec.directions {
                    Directions::Orthonormal => "orthonormal",
                    Directions::Gaussian => "gaussian",
                }
                .into(),
            );
            resolved.norm = Some(spec.norm);
            resolved.a = Some(teacher_weights_config(&spec.a));
            TargetSource::Generated(spec)
        }
    };
    resolved.noise_std = Some(noise_std);
    Ok(TargetSection {
        target,
        teacher_seed,
        noise_std,
        resolved,
    })
}

/// The generated teacher's k, directions, norm and output weights.
fn resolve_teacher(cx: &Context<'_>, tc: &TargetConfig, d: usize) -> Result<TeacherSpec> {
    let k = tc.k.unwrap_or(1);
    if k == 0 {
        return Err(cx.fail("target.k", 0, "an integer >= 1"));
    }
    let directions = match tc.directions.as_deref().unwrap_or("orthonormal") {
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
    let a = resolve_teacher_weights(cx, tc.a.as_ref())?;
    Ok(TeacherSpec {
        k,
        directions,
        norm,
        a,
    })
}

/// `target.a`: a constant, or a centred normal law (default the constant 1).
fn resolve_teacher_weights(
    cx: &Context<'_>,
    a: Option<&TeacherWeightsConfig>,
) -> Result<OutputWeights> {
    match a {
        None => Ok(OutputWeights::Constant(1.0)),
        Some(TeacherWeightsConfig::Value(v)) if v.is_finite() => Ok(OutputWeights::Constant(*v)),
        Some(TeacherWeightsConfig::Value(v)) => Err(cx.fail(
            "target.a",
            v,
            "a finite number or { law = \"normal\", std = S }",
        )),
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
            Ok(OutputWeights::Gaussian { std })
        }
    }
}

fn teacher_weights_config(a: &OutputWeights) -> TeacherWeightsConfig {
    match *a {
        OutputWeights::Constant(v) => TeacherWeightsConfig::Value(v),
        OutputWeights::Gaussian { std } => TeacherWeightsConfig::Law(LawConfig {
            law: Some("normal".into()),
            std: Some(std),
            ..LawConfig::default()
        }),
    }
}
