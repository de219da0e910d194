//! `[target]`: the teacher f*(x) = sum_i a*_i sigma(w*_i . x) of docs/math.md section 2, an
//! .npy file or generated (k directions, their norm, the output weights), possibly with another
//! activation than the student's; or a Hermite, parity or mixture-label target
//! (docs/problems.md section 2); and the label noise.

use std::path::Path;

use crate::error::Result;
use crate::math::Activation;
use crate::scenario::file::{LawConfig, TargetConfig, TeacherWeightsConfig, TermConfig};
use crate::task::problem::MAX_HERMITE_DEGREE;
use crate::task::{Directions, HermiteTerm, InputShape, OutputWeights, ParityTerm, TeacherSpec};

use super::{Context, TargetSource, one_of, quoted, resolve_path};

/// `[target]` validated.
pub(super) struct TargetSection {
    /// The teacher.
    pub target: TargetSource,
    /// Seed of a generated teacher (`target.seed`, default the scenario's seed).
    pub teacher_seed: u64,
    /// Label noise standard deviation.
    pub noise_std: f64,
    /// The teacher's activation when it is not the student's.
    pub teacher_activation: Option<Activation>,
    /// The resolved section.
    pub resolved: TargetConfig,
}

/// Validates `[target]` of any kind; `input` is the resolved input law (a label target needs a
/// mixture) and `student` the student's activation.
pub(super) fn resolve_any_target(
    cx: &Context<'_>,
    tc: &TargetConfig,
    base: &Path,
    d: usize,
    seed: u64,
    input: &InputShape,
) -> Result<TargetSection> {
    let kind = tc.kind.clone().unwrap_or_else(|| "teacher".into());
    if !one_of(&kind, &["teacher", "hermite", "label", "parity"]) {
        return Err(cx.fail(
            "target.kind",
            quoted(&kind),
            "one of teacher, hermite, label, parity",
        ));
    }
    if kind == "teacher" {
        return resolve_teacher_target(cx, tc, base, d, seed);
    }
    refuse_teacher_keys(cx, tc, &kind)?;
    let noise_std = resolve_noise(cx, tc)?;
    let mut resolved = TargetConfig {
        kind: Some(kind.clone()),
        noise_std: Some(noise_std),
        ..TargetConfig::default()
    };
    let target = match kind.as_str() {
        "hermite" => {
            if tc.coordinates.is_some() {
                return Err(cx.fail(
                    "target.coordinates",
                    "coordinates with kind = \"hermite\"",
                    "target.terms = [{ direction, degree, coef }] for a Hermite target",
                ));
            }
            let terms = hermite_terms(cx, tc.terms.as_deref(), d)?;
            resolved.terms = Some(
                terms
                    .iter()
                    .map(|t| TermConfig {
                        direction: Some(t.direction + 1),
                        degree: Some(t.degree),
                        coef: Some(t.coef),
                        coordinates: None,
                    })
                    .collect(),
            );
            TargetSource::Hermite(terms)
        }
        "parity" => {
            let terms = parity_terms(cx, tc, d)?;
            resolved.terms = Some(
                terms
                    .iter()
                    .map(|t| TermConfig {
                        coordinates: Some(t.coordinates.iter().map(|c| c + 1).collect()),
                        coef: Some(t.coef),
                        ..TermConfig::default()
                    })
                    .collect(),
            );
            TargetSource::Parity(terms)
        }
        _ => {
            if tc.terms.is_some() || tc.coordinates.is_some() {
                return Err(cx.fail(
                    "target.terms",
                    "terms with kind = \"label\"",
                    "no terms: the label of a mixture component is set by input.components",
                ));
            }
            if !matches!(input, InputShape::Mixture(_)) {
                return Err(cx.fail(
                    "target.kind",
                    "\"label\" without a mixture",
                    "kind = \"label\" only with input.law = \"mixture\" (the label is the \
                     class of the component x is drawn from)",
                ));
            }
            TargetSource::Label
        }
    };
    Ok(TargetSection {
        target,
        teacher_seed: seed,
        noise_std,
        teacher_activation: None,
        resolved,
    })
}

/// A target of another kind than the teacher takes none of the teacher's keys.
fn refuse_teacher_keys(cx: &Context<'_>, tc: &TargetConfig, kind: &str) -> Result<()> {
    let teacher_keys = [
        ("target.file", tc.file.is_some()),
        ("target.k", tc.k.is_some()),
        ("target.directions", tc.directions.is_some()),
        ("target.norm", tc.norm.is_some()),
        ("target.a", tc.a.is_some()),
        ("target.seed", tc.seed.is_some()),
        ("target.activation", tc.activation.is_some()),
    ];
    match teacher_keys.iter().find(|(_, given)| *given) {
        Some((key, _)) => Err(cx.fail(
            key,
            format!("{key} with kind = {}", quoted(kind)),
            format!("{key} only with kind = \"teacher\""),
        )),
        None => Ok(()),
    }
}

/// `target.noise_std`, a finite number >= 0 (default 0).
fn resolve_noise(cx: &Context<'_>, tc: &TargetConfig) -> Result<f64> {
    let noise_std = tc.noise_std.unwrap_or(0.0);
    if !(noise_std.is_finite() && noise_std >= 0.0) {
        return Err(cx.fail("target.noise_std", noise_std, "a finite number >= 0"));
    }
    Ok(noise_std)
}

/// The terms of a Hermite target: 1-based directions in 1..=d, degrees up to
/// [`MAX_HERMITE_DEGREE`], finite coefficients (default 1).
fn hermite_terms(
    cx: &Context<'_>,
    terms: Option<&[TermConfig]>,
    d: usize,
) -> Result<Vec<HermiteTerm>> {
    let terms = match terms {
        Some(t) if !t.is_empty() => t,
        _ => {
            return Err(cx.fail(
                "target.terms",
                "none",
                "at least one { direction, degree, coef } with kind = \"hermite\"",
            ));
        }
    };
    let mut out = Vec::with_capacity(terms.len());
    for (i, t) in terms.iter().enumerate() {
        let key = |field: &str| format!("target.terms[{}].{field}", i + 1);
        if t.coordinates.is_some() {
            return Err(cx.fail(
                &key("coordinates"),
                "coordinates in a Hermite term",
                "direction, degree and coef",
            ));
        }
        let direction = t.direction.unwrap_or(1);
        if !(1..=d).contains(&direction) {
            return Err(cx.fail(
                &key("direction"),
                direction,
                format!("a coordinate in 1..={d} (model.d)"),
            ));
        }
        let Some(degree) = t.degree else {
            return Err(cx.fail(&key("degree"), "missing", "an integer in 0..=12"));
        };
        if degree > MAX_HERMITE_DEGREE {
            return Err(cx.fail(
                &key("degree"),
                degree,
                format!("an integer in 0..={MAX_HERMITE_DEGREE}"),
            ));
        }
        let coef = t.coef.unwrap_or(1.0);
        if !coef.is_finite() {
            return Err(cx.fail(&key("coef"), coef, "a finite number"));
        }
        out.push(HermiteTerm {
            direction: direction - 1,
            degree,
            coef,
        });
    }
    Ok(out)
}

/// The terms of a parity target: `coordinates = [..]` (one parity of coefficient 1) or
/// `terms = [{ coordinates, coef }]` (a staircase); coordinates in 1..=d, distinct in a term.
fn parity_terms(cx: &Context<'_>, tc: &TargetConfig, d: usize) -> Result<Vec<ParityTerm>> {
    let raw: Vec<(String, Vec<usize>, f64)> = match (&tc.coordinates, &tc.terms) {
        (Some(c), None) => vec![("target.coordinates".into(), c.clone(), 1.0)],
        (None, Some(terms)) if !terms.is_empty() => terms
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let key = format!("target.terms[{}].coordinates", i + 1);
                if t.direction.is_some() || t.degree.is_some() {
                    return Err(cx.fail(
                        &key,
                        "direction or degree in a parity term",
                        "coordinates and coef",
                    ));
                }
                let coef = t.coef.unwrap_or(1.0);
                if !coef.is_finite() {
                    return Err(cx.fail(&key, coef, "a finite coef"));
                }
                Ok((key, t.coordinates.clone().unwrap_or_default(), coef))
            })
            .collect::<Result<_>>()?,
        _ => {
            return Err(cx.fail(
                "target.coordinates",
                "none",
                "target.coordinates = [i, j, ..] (one parity) or target.terms = [{ coordinates, \
                 coef }] (a staircase), not both",
            ));
        }
    };
    let mut out = Vec::with_capacity(raw.len());
    for (key, coordinates, coef) in raw {
        if coordinates.is_empty() {
            return Err(cx.fail(&key, "[]", "at least one coordinate"));
        }
        for (n, &c) in coordinates.iter().enumerate() {
            if !(1..=d).contains(&c) {
                return Err(cx.fail(&key, c, format!("coordinates in 1..={d} (model.d)")));
            }
            if coordinates[..n].contains(&c) {
                return Err(cx.fail(
                    &key,
                    format!("{c} repeated"),
                    "distinct coordinates (x_i^2 = 1 on Rademacher inputs)",
                ));
            }
        }
        out.push(ParityTerm {
            coordinates: coordinates.iter().map(|c| c - 1).collect(),
            coef,
        });
    }
    Ok(out)
}

/// Validates a teacher `[target]` for input dimension `d` (orthonormal directions need k <= d)
/// and the scenario's `seed` (the teacher's default); paths are relative to `base`.
fn resolve_teacher_target(
    cx: &Context<'_>,
    tc: &TargetConfig,
    base: &Path,
    d: usize,
    seed: u64,
) -> Result<TargetSection> {
    let mut resolved = tc.clone();
    let noise_std = resolve_noise(cx, tc)?;
    for (key, given) in [
        ("target.terms", tc.terms.is_some()),
        ("target.coordinates", tc.coordinates.is_some()),
    ] {
        if given {
            return Err(cx.fail(
                key,
                format!("{key} with a teacher"),
                format!("{key} only with kind = \"hermite\" or \"parity\""),
            ));
        }
    }
    let teacher_activation = match tc.activation.as_deref() {
        None => None,
        Some(name) => Some(Activation::parse(name).ok_or_else(|| {
            cx.fail(
                "target.activation",
                quoted(name),
                format!(
                    "one of {}",
                    Activation::ALL.map(Activation::name).join(", ")
                ),
            )
        })?),
    };
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
        teacher_activation,
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
