//! Which scenarios each sweep reference describes (docs/sweeps.md, "What each reference
//! assumes"): one rule per [`Reference`], applied to every planned run before anything runs,
//! so that a sweep never compares its widths with a limit of another problem (the population
//! limit of a linear network with online SGD at batch 12, say: its "finite-m" exponents would
//! measure the finite batch).
//!
//! A rule returns the first scenario key whose value the reference does not describe
//! ([`Mismatch`]); [`check`] turns it into [`Error::Reference`], which names the scenario file,
//! the reference as the user set it (flag or key), the key and why. A new reference adds its
//! variant, its rule function and one arm of [`describes`].

use crate::error::{Error, ReferenceMismatch, Result};
use crate::math::Activation;
use crate::scenario::{InitSource, RiskSpec, Scenario};
use crate::sweep::plan::Reference;

/// A scenario key whose value a reference does not describe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// What the reference describes, in words (a full clause: "describes ...").
    pub describes: String,
    /// The scenario key, dotted (`risk.mode`).
    pub key: String,
    /// Its value in this scenario, as TOML.
    pub found: String,
    /// What to use instead.
    pub instead: String,
}

/// The name of a reference as written in a scenario or on the command line.
pub fn reference_name(reference: &Reference) -> &'static str {
    match reference {
        Reference::Wide { .. } => "wide",
        Reference::Richardson => "richardson",
        Reference::Linear => "linear",
        Reference::Limit => "limit",
        Reference::None => "none",
    }
}

/// Whether `reference` describes `scenario` (one run of a sweep, with its overrides applied):
/// Ok, or the first key it does not describe.
pub fn describes(reference: &Reference, scenario: &Scenario) -> Result<(), Mismatch> {
    match reference {
        Reference::Wide { width } => wide(*width, scenario),
        Reference::Richardson => richardson(scenario),
        Reference::Linear => linear(scenario),
        Reference::Limit => limit(scenario),
        Reference::None => none(scenario),
    }
}

/// [`describes`] as an [`Error::Reference`]: `from_flag` says whether the reference was given
/// as `--reference` (else it is `sweep.reference`, or its default).
pub fn check(reference: &Reference, scenario: &Scenario, from_flag: bool) -> Result<()> {
    let Err(mismatch) = describes(reference, scenario) else {
        return Ok(());
    };
    let name = reference_name(reference);
    let setting = if from_flag {
        format!("--reference {name}")
    } else {
        let text = std::fs::read_to_string(&scenario.file).unwrap_or_default();
        match crate::scenario::file::locate(&text, "sweep.reference") {
            Some((line, column)) => {
                format!("sweep.reference = \"{name}\" (line {line}, column {column})")
            }
            None => format!("the default sweep.reference = \"{name}\""),
        }
    };
    Err(Error::Reference(Box::new(ReferenceMismatch {
        file: scenario.file.display().to_string(),
        setting,
        describes: mismatch.describes,
        key: mismatch.key,
        found: mismatch.found,
        instead: mismatch.instead,
    })))
}

/// Every reference compares a ladder of widths: the sweep sets `model.m` per run and draws
/// particle j from the stream (seed, init, 0, j), so the particles must come from a law.
fn ladder(scenario: &Scenario, describes: &str) -> Result<(), Mismatch> {
    match &scenario.init {
        InitSource::Law(_) => Ok(()),
        InitSource::File(path) => Err(Mismatch {
            describes: format!(
                "{describes}; every sweep sets model.m per run and draws particle j of every \
                 width from the initialisation law"
            ),
            key: "init.file".into(),
            found: format!("\"{}\"", path.display()),
            instead: "init.a and init.w laws instead of init.file".into(),
        }),
    }
}

/// `wide`: the same scenario at a larger width with the same seed, whose first m particles are
/// the width-m run's. Every mode, activation, alpha, noise and training subset is the same
/// problem at another width (data modes share their data and batches across widths, since
/// those streams do not depend on m); only particles read from a file cannot be coupled.
fn wide(width: usize, scenario: &Scenario) -> Result<(), Mismatch> {
    ladder(
        scenario,
        &format!(
            "the same scenario at width {width} with the same seeds, its first m particles \
             being the width-m run's draws"
        ),
    )
}

/// `richardson`: seed means extrapolated as a + b/m. The expansion in 1/m is that of the
/// mean-field scaling alpha = 1 (docs/math.md sections 5 and 7); for alpha < 1 the bias of the risk
/// is of order m^(1 - 2 alpha) (at t = 0, E f_m^2 = m^(1 - 2 alpha) E[a^2 K(w, w)]), so the
/// fit would extrapolate with the wrong power. Any mode: in data modes the seeds also draw
/// the data, and the limit is that of the data mode.
fn richardson(scenario: &Scenario) -> Result<(), Mismatch> {
    let describes = "seed means that approach their limit as a + b/m, as in the mean-field \
                     scaling model.alpha = 1 (docs/math.md section 5; for alpha < 1 the bias of the \
                     risk is of order m^(1 - 2 alpha))";
    ladder(scenario, describes)?;
    // model.alpha is validated in [1/2, 1]: below 1 is not the mean-field scaling.
    if scenario.network.alpha < 1.0 {
        return Err(Mismatch {
            describes: describes.into(),
            key: "model.alpha".into(),
            found: scenario.network.alpha.to_string(),
            instead: "reference = \"wide\" (a coupled wider run) or \"none\"".into(),
        });
    }
    Ok(())
}

/// `linear`: the exact reduced equation of docs/limit.md: the linear activation (network and
/// teacher, which share it), population mode (Gaussian inputs x ~ N(0, I), no bias, the exact
/// risk: not a batch or a data set of finite size), the mean-field scaling alpha = 1 (for
/// alpha < 1 the equation from E[theta theta^T] is not the limit of the runs, docs/limit.md
/// section 5), started from the second moment of an initialisation law. It does describe
/// weight decay, temperature, label noise, training subsets and lr_ratio.
fn linear(scenario: &Scenario) -> Result<(), Mismatch> {
    let describes = "the exact reduced equation of the linear network in population mode \
                     (model.activation = \"linear\", risk.mode = \"population\": Gaussian \
                     inputs and the exact risk), in the mean-field scaling model.alpha = 1, \
                     from an initialisation law (docs/limit.md)";
    let mismatch = |key: &str, found: String, instead: &str| Mismatch {
        describes: describes.into(),
        key: key.into(),
        found,
        instead: instead.into(),
    };
    let mode = match scenario.risk {
        RiskSpec::Population => None,
        RiskSpec::Online { .. } => Some("online"),
        RiskSpec::EmpiricalGenerated { .. } | RiskSpec::EmpiricalFiles { .. } => Some("empirical"),
    };
    if let Some(mode) = mode {
        return Err(mismatch(
            "risk.mode",
            format!("\"{mode}\""),
            "reference = \"wide\" or \"richardson\", which compare with the limit of this data \
             mode (the population limit would make the exponents measure the finite batch or \
             data set)",
        ));
    }
    if scenario.network.activation != Activation::Linear {
        return Err(mismatch(
            "model.activation",
            format!("\"{}\"", scenario.network.activation),
            "reference = \"wide\" or \"richardson\" (the non-linear reduced equation is not \
             implemented, docs/limit.md section 10)",
        ));
    }
    if scenario.network.alpha < 1.0 {
        return Err(mismatch(
            "model.alpha",
            scenario.network.alpha.to_string(),
            "reference = \"wide\" or \"none\"",
        ));
    }
    ladder(scenario, describes)
}

/// `limit`: the exact mean-field limit that `meanfield limit` solves, refusing exactly what
/// it refuses (`limit::problem::obstacle`, shared with `LimitProblem::from_scenario`):
/// population mode, no bias, alpha = 1, an initialisation law, tau = 0, a teacher span of at
/// most `limit::problem::MAX_K` dimensions. Every activation, weight decay, label noise,
/// training subset and lr_ratio is described.
fn limit(scenario: &Scenario) -> Result<(), Mismatch> {
    let describes = "the exact mean-field limit of `meanfield limit` (population mode: \
                     Gaussian inputs and the exact risk; the scaling model.alpha = 1; no bias; \
                     tau = 0; an initialisation law with the rotation symmetry of docs/limit.md \
                     section 10)";
    let mismatch = |key: &str, found: String, instead: String| Mismatch {
        describes: describes.into(),
        key: key.into(),
        found,
        instead,
    };
    match crate::limit::problem::obstacle(scenario) {
        Ok(None) => ladder(scenario, describes),
        Ok(Some(obstacle)) => Err(mismatch(obstacle.key, obstacle.found, obstacle.instead)),
        Err(error) => Err(mismatch(
            "target",
            "a teacher that cannot be built".into(),
            error.to_string(),
        )),
    }
}

/// `none`: statistics of the widths alone, no limit: every scenario a ladder can run.
fn none(scenario: &Scenario) -> Result<(), Mismatch> {
    ladder(scenario, "statistics of the widths alone")
}
