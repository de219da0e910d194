//! Activation functions sigma of docs/math.md section 1, with first and second derivatives.
//!
//! erf is scaled as sigma(z) = erf(z / sqrt 2), so that sigma'(0) = sqrt(2 / pi) and the
//! Gaussian pair kernel has the arcsine closed form of docs/math.md section 3.

use serde::{Deserialize, Serialize};
use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// An activation sigma of the network f(x) = m^(-alpha) sum_j a_j sigma(w_j . x).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// max(z, 0); sigma'(z) = 1 for z > 0 and 0 otherwise (sigma'(0) := 0).
    Relu,
    /// erf(z / sqrt 2).
    Erf,
    /// tanh(z).
    Tanh,
    /// 1 / (1 + exp(-z)).
    Sigmoid,
    /// log(1 + exp(z)).
    Softplus,
    /// z.
    Linear,
    /// z^2.
    Quadratic,
}

impl Activation {
    /// Every activation, in the order of the scenario documentation.
    pub const ALL: [Activation; 7] = [
        Activation::Relu,
        Activation::Erf,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Softplus,
        Activation::Linear,
        Activation::Quadratic,
    ];

    /// The scenario name (`relu`, `erf`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Erf => "erf",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Softplus => "softplus",
            Activation::Linear => "linear",
            Activation::Quadratic => "quadratic",
        }
    }

    /// Parses a scenario name; `None` if it is not one of [`Activation::ALL`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The parity of sigma: [`Parity::Odd`] when sigma(-z) = -sigma(z) (erf, tanh, linear), so
    /// that the neuron (a, w) is the same function as (-a, -w); [`Parity::Even`] when
    /// sigma(-z) = sigma(z) (quadratic), so that (a, w) is the same function as (a, -w);
    /// [`Parity::Neither`] otherwise (relu, sigmoid, softplus). In the first two cases the
    /// direction of w is defined only up to its sign.
    pub fn parity(self) -> Parity {
        match self {
            Activation::Erf | Activation::Tanh | Activation::Linear => Parity::Odd,
            Activation::Quadratic => Parity::Even,
            Activation::Relu | Activation::Sigmoid | Activation::Softplus => Parity::Neither,
        }
    }

    /// Whether the Gaussian pair kernel K has a closed form (else it is computed by quadrature).
    pub fn has_closed_form_kernel(self) -> bool {
        matches!(
            self,
            Activation::Relu | Activation::Erf | Activation::Linear | Activation::Quadratic
        )
    }

    /// sigma(z).
    #[inline]
    pub fn value(self, z: f64) -> f64 {
        match self {
            Activation::Relu => z.max(0.0),
            Activation::Erf => libm::erf(z * FRAC_1_SQRT_2),
            Activation::Tanh => z.tanh(),
            Activation::Sigmoid => sigmoid(z),
            Activation::Softplus => softplus(z),
            Activation::Linear => z,
            Activation::Quadratic => z * z,
        }
    }

    /// sigma'(z).
    #[inline]
    pub fn derivative(self, z: f64) -> f64 {
        match self {
            Activation::Relu => {
                if z > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Erf => (2.0 / PI).sqrt() * (-0.5 * z * z).exp(),
            Activation::Tanh => {
                let t = z.tanh();
                1.0 - t * t
            }
            Activation::Sigmoid => {
                let s = sigmoid(z);
                s * (1.0 - s)
            }
            Activation::Softplus => sigmoid(z),
            Activation::Linear => 1.0,
            Activation::Quadratic => 2.0 * z,
        }
    }

    /// sigma''(z) (0 for relu away from the kink, where it is a Dirac mass).
    #[inline]
    pub fn second_derivative(self, z: f64) -> f64 {
        match self {
            Activation::Relu | Activation::Linear => 0.0,
            Activation::Erf => -z * (2.0 / PI).sqrt() * (-0.5 * z * z).exp(),
            Activation::Tanh => {
                let t = z.tanh();
                -2.0 * t * (1.0 - t * t)
            }
            Activation::Sigmoid => {
                let s = sigmoid(z);
                s * (1.0 - s) * (1.0 - 2.0 * s)
            }
            Activation::Softplus => {
                let s = sigmoid(z);
                s * (1.0 - s)
            }
            Activation::Quadratic => 2.0,
        }
    }

    /// (sigma(z), sigma'(z)) in one pass, sharing the expensive part.
    #[inline]
    pub fn value_and_derivative(self, z: f64) -> (f64, f64) {
        match self {
            Activation::Relu => {
                if z > 0.0 {
                    (z, 1.0)
                } else {
                    (0.0, 0.0)
                }
            }
            Activation::Tanh => {
                let t = z.tanh();
                (t, 1.0 - t * t)
            }
            Activation::Sigmoid => {
                let s = sigmoid(z);
                (s, s * (1.0 - s))
            }
            Activation::Softplus => (softplus(z), sigmoid(z)),
            _ => (self.value(z), self.derivative(z)),
        }
    }
}

/// The symmetry of an activation under z -> -z ([`Activation::parity`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Parity {
    /// sigma(-z) = -sigma(z): the neuron (a, w) equals (-a, -w).
    Odd,
    /// sigma(-z) = sigma(z): the neuron (a, w) equals (a, -w).
    Even,
    /// Neither: w and -w are different neurons.
    Neither,
}

impl Parity {
    /// Whether a neuron's w is defined only up to its sign (odd or even sigma): then the
    /// alignment of w with a direction v is measured by |cos(w, v)|.
    pub fn sign_symmetric(self) -> bool {
        !matches!(self, Parity::Neither)
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Logistic function, written to avoid overflow of exp for large |z|.
#[inline]
fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// log(1 + e^z) without overflow: max(z, 0) + log1p(e^(-|z|)).
#[inline]
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central differences have error O(h^2 f''') + O(eps / h); h = 1e-5 gives about 1e-10.
    #[test]
    fn derivatives_match_central_differences() {
        let h = 1e-5;
        for act in Activation::ALL {
            for &z in &[-2.3, -0.7, 0.31, 1.9] {
                let fd1 = (act.value(z + h) - act.value(z - h)) / (2.0 * h);
                let fd2 = (act.derivative(z + h) - act.derivative(z - h)) / (2.0 * h);
                assert!(
                    (fd1 - act.derivative(z)).abs() < 1e-8,
                    "{act} sigma' at {z}"
                );
                assert!(
                    (fd2 - act.second_derivative(z)).abs() < 1e-8,
                    "{act} sigma'' at {z}"
                );
                let (v, dv) = act.value_and_derivative(z);
                assert!((v - act.value(z)).abs() <= 1e-15 * (1.0 + v.abs()));
                assert!((dv - act.derivative(z)).abs() <= 1e-15 * (1.0 + dv.abs()));
            }
        }
    }

    /// sigma(-z) = -sigma(z) (odd) or sigma(z) (even) holds to rounding (erf and tanh are
    /// computed symmetrically; 4 eps |sigma(z)| covers a last-bit difference), and fails by
    /// far more than that for the activations of parity Neither.
    #[test]
    fn parity_is_the_symmetry_of_sigma_under_z_to_minus_z() {
        let points = [0.013, 0.37, 1.0, 2.9, 7.5];
        for act in Activation::ALL {
            let worst = |sign: f64| {
                points
                    .iter()
                    .map(|&z| {
                        let (plus, minus) = (act.value(z), act.value(-z));
                        (minus - sign * plus).abs() / (4.0 * f64::EPSILON * plus.abs().max(1e-300))
                    })
                    .fold(0.0, f64::max)
            };
            let (odd, even) = (worst(-1.0), worst(1.0));
            match act.parity() {
                Parity::Odd => assert!(odd <= 1.0 && even > 1e6, "{act}: {odd}, {even}"),
                Parity::Even => assert!(even <= 1.0 && odd > 1e6, "{act}: {odd}, {even}"),
                Parity::Neither => assert!(odd > 1e6 && even > 1e6, "{act}: {odd}, {even}"),
            }
            assert_eq!(
                act.parity().sign_symmetric(),
                act.parity() != Parity::Neither
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for act in Activation::ALL {
            assert_eq!(Activation::parse(act.name()), Some(act));
        }
        assert_eq!(Activation::parse("gelu"), None);
    }

    #[test]
    fn softplus_and_sigmoid_do_not_overflow() {
        assert!((softplus(800.0) - 800.0).abs() < 1e-12);
        assert!(softplus(-800.0) >= 0.0);
        assert!((sigmoid(-800.0)).abs() < 1e-300);
    }
}
