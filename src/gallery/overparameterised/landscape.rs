//! The risk landscape at the end of a run of the `overparameterised` entry: the velocity
//! m^(2 alpha - 1) dR/dtheta of the trained coordinates, its norm, and the smallest eigenvalue
//! of its Jacobian (m^(2 alpha - 1) times the Hessian of the exact population risk) by central
//! differences of the exact gradient, with the finite-difference error estimated from the
//! asymmetry of the difference matrix. Also the local decay of the risk over the end of a run
//! and Fisher's exact test of two success counts.

use nalgebra::{DMatrix, SymmetricEigen};

use crate::dynamics::Train;
use crate::error::Result;
use crate::math::Network;
use crate::task::PopulationRisk;

/// Step of the central differences (the particles are O(1)).
pub(super) const STEP: f64 = 1e-5;

/// The exact population risk of one network, with the trained columns of the particles.
pub(super) struct Landscape {
    /// Activation and scaling.
    pub(super) network: Network,
    /// The exact risk and gradient.
    pub(super) risk: PopulationRisk,
    /// The trained coordinates.
    pub(super) train: Train,
}

/// The landscape at a point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Stationarity {
    /// Root mean square over particles of the velocity |m^(2 alpha - 1) dR/dtheta_j|.
    pub(super) velocity: f64,
    /// Smallest eigenvalue of the symmetrised difference Jacobian.
    pub(super) lambda_min: f64,
    /// Bound on the finite-difference error of every eigenvalue: the Frobenius norm of the
    /// difference matrix minus its transpose (the exact Jacobian is symmetric; by Weyl's
    /// inequality an eigenvalue moves by at most the spectral norm of the error, which the
    /// Frobenius norm of its antisymmetric part estimates).
    pub(super) tolerance: f64,
}

impl Landscape {
    /// The trained coordinates (j, column) of an m x (1 + d) particle matrix, in order.
    fn coordinates(&self, theta: &DMatrix<f64>) -> Vec<(usize, usize)> {
        let train = self.train;
        (0..theta.nrows())
            .flat_map(|j| {
                (0..theta.ncols())
                    .filter(move |&c| train.trains_column(c))
                    .map(move |c| (j, c))
            })
            .collect()
    }

    /// The velocity m^(2 alpha - 1) dR/dtheta at the trained coordinates.
    fn velocity(
        &mut self,
        theta: &DMatrix<f64>,
        coordinates: &[(usize, usize)],
    ) -> Result<Vec<f64>> {
        let mut grad = DMatrix::zeros(theta.nrows(), theta.ncols());
        self.risk.evaluate(&self.network, theta, Some(&mut grad))?;
        let scale = self.network.time_scale(theta.nrows());
        Ok(coordinates
            .iter()
            .map(|&(j, c)| scale * grad[(j, c)])
            .collect())
    }

    /// The velocity norm and the smallest eigenvalue of the velocity's Jacobian at `theta`.
    pub(super) fn stationarity(&mut self, theta: &DMatrix<f64>) -> Result<Stationarity> {
        let coordinates = self.coordinates(theta);
        let at = self.velocity(theta, &coordinates)?;
        let velocity = (at.iter().map(|v| v * v).sum::<f64>() / theta.nrows() as f64).sqrt();
        let n = coordinates.len();
        let mut jacobian = DMatrix::zeros(n, n);
        let mut moved = theta.clone();
        for (p, &(j, c)) in coordinates.iter().enumerate() {
            moved[(j, c)] = theta[(j, c)] + STEP;
            let plus = self.velocity(&moved, &coordinates)?;
            moved[(j, c)] = theta[(j, c)] - STEP;
            let minus = self.velocity(&moved, &coordinates)?;
            moved[(j, c)] = theta[(j, c)];
            for q in 0..n {
                jacobian[(q, p)] = (plus[q] - minus[q]) / (2.0 * STEP);
            }
        }
        let tolerance = (&jacobian - jacobian.transpose()).norm();
        let symmetric = (&jacobian + jacobian.transpose()) * 0.5;
        let lambda_min = SymmetricEigen::new(symmetric)
            .eigenvalues
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        Ok(Stationarity {
            velocity,
            lambda_min,
            tolerance,
        })
    }
}

/// The risks below this are rounding (the risk is a difference of O(0.1) terms): left out of
/// the decay fits.
pub(super) const RISK_FLOOR: f64 = 1e-13;

/// The local decay of a risk curve over its last part (times >= `from`, risks above
/// [`RISK_FLOOR`]): the exponential rate r of R ~ exp(-r t) (least squares of ln R against t)
/// and the power p of R ~ t^-p (of ln R against ln t). None with fewer than 3 points.
pub(super) fn decay(time: &[f64], risk: &[f64], from: f64) -> Option<(f64, f64)> {
    let points: Vec<(f64, f64)> = time
        .iter()
        .zip(risk)
        .filter(|&(&t, &r)| t >= from && t > 0.0 && r > RISK_FLOOR && r.is_finite())
        .map(|(&t, &r)| (t, r.ln()))
        .collect();
    if points.len() < 3 {
        return None;
    }
    let rate = -slope(points.iter().map(|&(t, y)| (t, y)));
    let power = -slope(points.iter().map(|&(t, y)| (t.ln(), y)));
    Some((rate, power))
}

/// Least-squares slope of y against x.
fn slope(points: impl Iterator<Item = (f64, f64)> + Clone) -> f64 {
    let n = points.clone().count() as f64;
    let (sx, sy) = points
        .clone()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (sxy, sxx) = points.fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    sxy / sxx
}

/// One-sided p-value of Fisher's exact test that `wide` successes out of `trials` exceed
/// `narrow` out of as many: the probability, given the total, that the wide count is at least
/// as large (hypergeometric tail).
pub(super) fn fisher_one_sided(wide: usize, narrow: usize, trials: usize) -> f64 {
    let total = wide + narrow;
    let ln_choose = |n: usize, k: usize| {
        libm::lgamma(n as f64 + 1.0)
            - libm::lgamma(k as f64 + 1.0)
            - libm::lgamma((n - k) as f64 + 1.0)
    };
    let denominator = ln_choose(2 * trials, total);
    (wide..=total.min(trials))
        .filter(|&x| total - x <= trials)
        .map(|x| (ln_choose(trials, x) + ln_choose(trials, total - x) - denominator).exp())
        .sum::<f64>()
        .min(1.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

    use super::*;
    use crate::math::activation::Activation;
    use crate::task::Teacher;

    /// The landscape of a relu teacher of 3 orthonormal neurons in d = 3 (a* = 1).
    fn landscape(train: Train) -> (Landscape, DMatrix<f64>) {
        let teacher = DMatrix::from_fn(3, 4, |i, c| if c == 0 || c == i + 1 { 1.0 } else { 0.0 });
        let risk = PopulationRisk::new(
            Activation::Relu,
            Teacher::new(teacher.clone(), Activation::Relu, 0.0).unwrap(),
        )
        .unwrap();
        let network = Network::new(Activation::Relu, 1.0).unwrap();
        (
            Landscape {
                network,
                risk,
                train,
            },
            teacher,
        )
    }

    #[test]
    fn the_teacher_is_a_strict_minimum_of_the_exact_width() {
        let (mut landscape, teacher) = landscape(Train::WOnly);
        let s = landscape.stationarity(&teacher).unwrap();
        assert!(s.velocity < 1e-12, "{s:?}");
        assert!(
            s.lambda_min > 10.0 * s.tolerance && s.lambda_min > 1e-3,
            "{s:?}"
        );
    }

    #[test]
    fn the_collapsed_start_is_a_saddle() {
        // Every neuron at the mean teacher direction: a stationary point of the symmetric
        // flow (the neurons stay together), not a minimum.
        let (mut landscape, _) = landscape(Train::WOnly);
        let mut theta = DMatrix::from_element(3, 4, 0.0);
        for j in 0..3 {
            theta[(j, 0)] = 1.0;
        }
        // Find the best common neuron along the mean direction: w = s (1, 1, 1).
        let mut s = 0.5;
        for _ in 0..200 {
            for j in 0..3 {
                for c in 1..4 {
                    theta[(j, c)] = s;
                }
            }
            let mut grad = DMatrix::zeros(3, 4);
            landscape
                .risk
                .evaluate(&landscape.network, &theta, Some(&mut grad))
                .unwrap();
            let along: f64 = (0..3)
                .map(|j| (1..4).map(|c| grad[(j, c)]).sum::<f64>())
                .sum();
            s -= 0.5 * along;
        }
        let st = landscape.stationarity(&theta).unwrap();
        assert!(st.velocity < 1e-8, "{st:?}");
        assert!(st.lambda_min < -10.0 * st.tolerance, "{st:?}");
    }

    #[test]
    fn decay_fits_exponentials_and_powers() {
        let time: Vec<f64> = (1..=50).map(|i| f64::from(i) * 10.0).collect();
        let exponential: Vec<f64> = time.iter().map(|t| 2.0 * (-0.03 * t).exp()).collect();
        let (rate, _) = decay(&time, &exponential, 100.0).unwrap();
        assert!((rate - 0.03).abs() < 1e-12);
        let power: Vec<f64> = time.iter().map(|t| 5.0 * t.powf(-1.5)).collect();
        let (_, p) = decay(&time, &power, 100.0).unwrap();
        assert!((p - 1.5).abs() < 1e-12);
        assert!(decay(&time[..2], &power[..2], 0.0).is_none());
    }

    #[test]
    fn fisher_test_matches_hand_values() {
        // 12/12 against 2/12: the tables with 12 successes in the wide row, C(12,12) C(12,2) /
        // C(24,14).
        let p = fisher_one_sided(12, 2, 12);
        let expected = 66.0 / 1_961_256.0;
        assert!((p - expected).abs() < 1e-12, "{p}");
        assert!((fisher_one_sided(5, 5, 10) - 0.671_859_1).abs() < 1e-6);
        assert_eq!(fisher_one_sided(0, 0, 5), 1.0);
    }
}
