//! `[model]`: the architecture f(x) = m^(-alpha) sum_j a_j sigma(w_j . x) of docs/math.md
//! section 1 (input dimension d, scaling alpha, activation sigma, bias), and the width m, which
//! an init file may give instead of `model.m`.

use crate::error::Result;
use crate::math::{Activation, Network};
use crate::output::read_npy;
use crate::scenario::build::reason;
use crate::scenario::file::ModelConfig;

use super::{Context, InitSource, quoted};

/// `[model]` without its width: the keys every later section depends on.
pub(super) struct ModelSection {
    /// Gaussian input dimension d.
    pub d: usize,
    /// Mean-field (1) to lazy (0.5) scaling exponent.
    pub alpha: f64,
    /// The activation's name as resolved (written back).
    pub activation_name: String,
    /// The activation sigma.
    pub activation: Activation,
    /// Activation and scaling together.
    pub network: Network,
    /// Whether a constant input coordinate is appended.
    pub bias: bool,
}

impl ModelSection {
    /// Input dimension of the network: d, plus 1 with a bias.
    pub fn input_dim(&self) -> usize {
        self.d + usize::from(self.bias)
    }

    /// The resolved `[model]` with width `m`.
    pub fn config(&self, m: usize) -> ModelConfig {
        ModelConfig {
            d: Some(self.d),
            m: Some(m),
            alpha: Some(self.alpha),
            activation: Some(self.activation_name.clone()),
            bias: Some(self.bias),
        }
    }
}

/// Validates `[model]` except `model.m` (see [`resolve_width`]).
pub(super) fn resolve_model(cx: &Context<'_>, model: &ModelConfig) -> Result<ModelSection> {
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
    Ok(ModelSection {
        d,
        alpha,
        activation_name,
        activation,
        network,
        bias,
    })
}

/// The width m: `model.m`, else the number of rows of the init file (checked after `[init]`,
/// whose file may give it).
pub(super) fn resolve_width(
    cx: &Context<'_>,
    init: &InitSource,
    m: Option<usize>,
) -> Result<usize> {
    match (init, m) {
        (_, Some(0)) => Err(cx.fail("model.m", 0, "an integer >= 1")),
        (_, Some(m)) => Ok(m),
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
            Ok(rows)
        }
        (InitSource::Law(_), None) => {
            Err(cx.fail("model.m", "missing", "an integer >= 1 (or init.file)"))
        }
    }
}
