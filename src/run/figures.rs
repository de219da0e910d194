//! What a run's figures say, decided from the run directory, so that no figure states a
//! falsehood (issue 21, item 4):
//!
//! - the risk figure draws the objective E = R + (lambda/2) m^(2 - 2 alpha) mean_j |theta_j|^2
//!   beside R whenever lambda > 0 (R may rise while E, the quantity the flow decreases, falls);
//! - the dissipation D = m^(2 - 2 alpha) mean_j |v_j|^2 is labelled -dE/dt only where the energy
//!   identity of docs/math.md section 2 holds: a deterministic gradient flow of the logged risk
//!   (population or empirical mode, tau = 0; exact as dt -> 0). With SGD batches (online mode)
//!   v_j is a stochastic drift, and with tau > 0 the noise is left out of v_j: there D is only
//!   the mean squared drift;
//! - the particle cloud is drawn on the plane of teacher neurons 1 and 2, said in its title and
//!   axis labels; further teacher neurons are marked at their projection, as hollow stars.

use nalgebra::DMatrix;

use crate::diagnostics::measure::{plane_of, principal_plane};
use crate::output::Table;

/// What the dissipation column D of a run means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dissipation {
    /// A deterministic gradient flow of the logged risk: D = -dE/dt (population or empirical
    /// mode with tau = 0).
    EnergyIdentity,
    /// Online SGD: v_j is the drift of one batch, D its mean square; D != -dE/dt.
    StochasticDrift,
    /// tau > 0: v_j leaves out the noise sqrt(2 tau) dB_j, so D != -dE/dt.
    NoiseLeftOut,
    /// A lambda schedule: E follows lambda(t), so dE/dt = -D + (lambda'(t)/2) m^(2 - 2 alpha)
    /// mean_j |theta_j|^2 (docs/scenarios.md, "Schedules"), not -D.
    DecayScheduled,
}

impl Dissipation {
    /// The legend of the D curve.
    pub fn label(self) -> &'static str {
        match self {
            Self::EnergyIdentity => "dissipation D = -dE/dt",
            Self::StochasticDrift => "D = mean |v|^2 (stochastic drift)",
            Self::NoiseLeftOut => "D = mean |v|^2 (drift, noise left out)",
            Self::DecayScheduled => "D = mean |v|^2 (lambda scheduled)",
        }
    }
}

/// The facts of a run that decide what its figures may claim, read from its `scenario.toml`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunFacts {
    /// What D means in this run.
    pub dissipation: Dissipation,
    /// Online mode: the logged risk is that of the step's batch.
    pub online: bool,
}

impl RunFacts {
    /// The facts of the resolved scenario text `scenario` (a run directory's scenario.toml):
    /// `risk.mode` (default population) and `dynamics.tau` (default 0; a value that is not a
    /// number, such as a schedule, counts as tau > 0); a `dynamics.lambda` schedule breaks
    /// D = -dE/dt too. Unreadable text gives the cautious
    /// reading (D is not claimed to be -dE/dt).
    pub fn of_scenario(scenario: &str) -> Self {
        let Ok(value) = scenario.parse::<toml::Table>() else {
            return Self {
                dissipation: Dissipation::StochasticDrift,
                online: false,
            };
        };
        let lookup = |section: &str, key: &str| value.get(section).and_then(|s| s.get(key));
        let mode = lookup("risk", "mode")
            .and_then(toml::Value::as_str)
            .unwrap_or("population");
        let tau_positive = match lookup("dynamics", "tau") {
            None => false,
            Some(tau) => tau
                .as_float()
                .or_else(|| tau.as_integer().map(|t| t as f64))
                .is_none_or(|tau| tau > 0.0),
        };
        let lambda_scheduled = lookup("dynamics", "lambda").is_some_and(toml::Value::is_table);
        let dissipation = if tau_positive {
            Dissipation::NoiseLeftOut
        } else if mode == "online" {
            Dissipation::StochasticDrift
        } else if lambda_scheduled {
            Dissipation::DecayScheduled
        } else {
            Dissipation::EnergyIdentity
        };
        Self {
            dissipation,
            online: mode == "online",
        }
    }
}

/// The curves of the risk figure: (series.csv column, legend) in drawing order, its title and
/// vertical axis label, and the report's caption.
#[derive(Clone, Debug, PartialEq)]
pub struct RiskFigure {
    /// Title (after the run name).
    pub title: String,
    /// Vertical axis label.
    pub y_label: String,
    /// (column, legend) of each curve.
    pub curves: Vec<(String, String)>,
    /// Caption in report.html.
    pub caption: String,
}

/// Whether weight decay was on: the objective column differs from the risk in some row (the
/// recorder writes E = R exactly when lambda <= 0, and E > R when lambda > 0 and theta != 0).
pub fn has_weight_decay(series: &Table) -> bool {
    match (series.column("risk"), series.column("objective")) {
        (Some(risk), Some(objective)) => risk
            .iter()
            .zip(&objective)
            .any(|(r, e)| r.to_bits() != e.to_bits() && r.is_finite() && e.is_finite()),
        _ => false,
    }
}

/// The risk figure of a run with logged `series` and `facts`: R, the test risk if logged, the
/// objective E when lambda > 0, and D labelled by what it means.
pub fn risk_figure(series: &Table, facts: &RunFacts) -> RiskFigure {
    let decay = has_weight_decay(series);
    let risk = if facts.online {
        "risk R (of the step's batch)"
    } else {
        "risk R"
    };
    let mut curves = vec![("risk".to_owned(), risk.to_owned())];
    for extra in ["population_risk", "test_risk"] {
        if series.columns.iter().any(|c| c == extra) {
            let label = if extra == "test_risk" {
                "test risk"
            } else {
                "population risk (exact)"
            };
            curves.push((extra.to_owned(), label.to_owned()));
        }
    }
    if decay {
        curves.push((
            "objective".to_owned(),
            "objective E = R + (lambda/2) mean |theta|^2".to_owned(),
        ));
    }
    curves.push((
        "dissipation".to_owned(),
        facts.dissipation.label().to_owned(),
    ));
    let (title, y_label) = if decay {
        (
            "risk, objective and dissipation",
            "risk R, objective E, dissipation D",
        )
    } else {
        ("risk and dissipation", "risk R, dissipation D")
    };
    let mut caption = String::from(if facts.online {
        "Risk R of each step's batch"
    } else {
        "Risk R"
    });
    if decay {
        caption.push_str(
            ", the objective E = R + (lambda/2) m^(2 - 2 alpha) mean_j |theta_j|^2 that the \
             flow decreases (R alone may rise)",
        );
    }
    caption.push_str(match facts.dissipation {
        Dissipation::EnergyIdentity => " and the dissipation D = -dE/dt against time.",
        Dissipation::StochasticDrift => {
            " and D = m^(2 - 2 alpha) mean_j |v_j|^2 of the stochastic (SGD batch) drift against \
             time; with batches D is not -dE/dt."
        }
        Dissipation::NoiseLeftOut => {
            " and D = m^(2 - 2 alpha) mean_j |v_j|^2 of the drift without the noise against \
             time; with tau > 0 D is not -dE/dt."
        }
        Dissipation::DecayScheduled => {
            " and D = m^(2 - 2 alpha) mean_j |v_j|^2 against time; under the lambda schedule \
             dE/dt = -D + (lambda'(t)/2) m^(2 - 2 alpha) mean_j |theta_j|^2."
        }
    });
    RiskFigure {
        title: title.to_owned(),
        y_label: y_label.to_owned(),
        curves,
        caption,
    }
}

/// The plane a particle cloud is drawn on.
#[derive(Clone, Debug, PartialEq)]
pub struct CloudPlane {
    /// Orthonormal basis of the plane.
    pub e1: Vec<f64>,
    /// Second basis vector.
    pub e2: Vec<f64>,
    /// What the plane is, for the title ("plane of teacher neurons 1 and 2").
    pub name: String,
    /// Horizontal axis label.
    pub x_label: String,
    /// Vertical axis label.
    pub y_label: String,
    /// Teacher neurons in the plane (marked as stars); the others are marked at their
    /// projection, as hollow stars.
    pub teachers_in_plane: usize,
}

/// The plane of the cloud of a run with teacher directions `teacher_w` and last particles
/// `last`: the plane of teacher neurons 1 and 2 (k >= 2; neurons 3..k are projected onto it);
/// teacher neuron 1 and the principal direction of the w_j (k = 1); the principal plane of the
/// w_j (no teacher).
pub fn cloud_plane(teacher_w: &[Vec<f64>], last: &DMatrix<f64>) -> CloudPlane {
    match teacher_w {
        [first, second, rest @ ..] => {
            let (e1, e2) = plane_of(first, second);
            let name = match rest.len() {
                0 => "plane of teacher neurons 1 and 2".to_owned(),
                1 => "plane of teacher neurons 1 and 2 (neuron 3 projected)".to_owned(),
                more => format!(
                    "plane of teacher neurons 1 and 2 (neurons 3-{} projected)",
                    more + 2
                ),
            };
            CloudPlane {
                e1,
                e2,
                name,
                x_label: "w . e1 (along teacher 1)".into(),
                y_label: "w . e2 (plane of teachers 1, 2)".into(),
                teachers_in_plane: 2,
            }
        }
        [first] => {
            let (principal, _) = principal_plane(last);
            let (e1, e2) = plane_of(first, &principal);
            CloudPlane {
                e1,
                e2,
                name: "plane of the teacher neuron and the principal direction".into(),
                x_label: "w . e1 (along the teacher)".into(),
                y_label: "w . e2 (principal direction)".into(),
                teachers_in_plane: 1,
            }
        }
        [] => {
            let (e1, e2) = principal_plane(last);
            CloudPlane {
                e1,
                e2,
                name: "principal plane of w".into(),
                x_label: "w . e1".into(),
                y_label: "w . e2".into(),
                teachers_in_plane: 0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dissipation_is_minus_de_dt_only_for_a_deterministic_flow() {
        let facts = |text: &str| RunFacts::of_scenario(text).dissipation;
        assert_eq!(
            facts("[risk]\nmode = \"population\"\n[dynamics]\ntau = 0.0\n"),
            Dissipation::EnergyIdentity
        );
        assert_eq!(
            facts("[risk]\nmode = \"empirical\"\n"),
            Dissipation::EnergyIdentity
        );
        assert_eq!(
            facts("[risk]\nmode = \"online\"\n"),
            Dissipation::StochasticDrift
        );
        assert_eq!(facts("[dynamics]\ntau = 0.01\n"), Dissipation::NoiseLeftOut);
        assert_eq!(facts("not toml ["), Dissipation::StochasticDrift);
    }
}
