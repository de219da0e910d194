//! Scalars of a particle system at one time: the objective E and the dissipation D of the energy
//! identity dE/dt = -D (MATH.md section 2), movement |theta_j(t) - theta_j(0)|, and moments of
//! a and |w|.
//! Reductions have a fixed order (`math::reduce`), so values do not depend on threads.

use nalgebra::DMatrix;

use crate::dynamics::Dynamics;
use crate::math::Network;
use crate::math::reduce::{ordered_max, ordered_sum};

/// |row j of x|^2 for a column-major matrix.
fn row_norm_squared(x: &DMatrix<f64>, j: usize, from_col: usize) -> f64 {
    (from_col..x.ncols()).map(|c| x[(j, c)] * x[(j, c)]).sum()
}

/// mean_j |v_j|^2.
pub fn mean_squared_drift(velocity: &DMatrix<f64>) -> f64 {
    let m = velocity.nrows();
    ordered_sum(m, |j| row_norm_squared(velocity, j, 0)) / m as f64
}

/// The dissipation D = m^(2 - 2 alpha) mean_j (v_a,j^2 / lr_ratio + |v_w,j|^2) = -dE/dt of the
/// deterministic flow: MATH.md's m^(2 - 2 alpha) mean_j |v_j|^2 at lr_ratio = 1. (The a-drift
/// is lr_ratio times the gradient, so its share of -dE/dt is v_a^2 / lr_ratio.)
pub fn dissipation(network: &Network, dynamics: &Dynamics, velocity: &DMatrix<f64>) -> f64 {
    let m = velocity.nrows();
    let lr = dynamics.lr_ratio;
    let mean = ordered_sum(m, |j| {
        velocity[(j, 0)] * velocity[(j, 0)] / lr + row_norm_squared(velocity, j, 1)
    }) / m as f64;
    (m as f64).powf(2.0 - 2.0 * network.alpha) * mean
}

/// The objective E = R + (lambda / 2) m^(2 - 2 alpha) mean_j |theta_j|^2 over the trained
/// coordinates (MATH.md section 2), whose gradient flow the drift is.
pub fn objective(network: &Network, dynamics: &Dynamics, risk: f64, theta: &DMatrix<f64>) -> f64 {
    if dynamics.lambda <= 0.0 {
        return risk;
    }
    let m = theta.nrows();
    let train = dynamics.train;
    let mean = ordered_sum(m, |j| {
        (0..theta.ncols())
            .filter(|c| train.trains_column(*c))
            .map(|c| theta[(j, c)] * theta[(j, c)])
            .sum::<f64>()
    }) / m as f64;
    risk + 0.5 * dynamics.lambda * (m as f64).powf(2.0 - 2.0 * network.alpha) * mean
}

/// |Theta(t) - Theta(0)|_F / |Theta(0)|_F: the relative movement of the whole system, the lazy
/// regime indicator (O(m^(-1/2)) in lazy scaling, O(1) in mean-field scaling).
pub fn relative_movement(theta: &DMatrix<f64>, initial: &DMatrix<f64>) -> f64 {
    let m = theta.nrows();
    let change = ordered_sum(m, |j| {
        (0..theta.ncols())
            .map(|c| (theta[(j, c)] - initial[(j, c)]).powi(2))
            .sum::<f64>()
    });
    let size = ordered_sum(m, |j| row_norm_squared(initial, j, 0));
    if size > 0.0 {
        (change / size).sqrt()
    } else {
        0.0
    }
}

/// (mean_j, max_j) of |theta_j - theta_j(0)|.
pub fn movement(theta: &DMatrix<f64>, initial: &DMatrix<f64>) -> (f64, f64) {
    let m = theta.nrows();
    let distance = |j: usize| {
        (0..theta.ncols())
            .map(|c| (theta[(j, c)] - initial[(j, c)]).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    (
        ordered_sum(m, distance) / m as f64,
        ordered_max(m, distance),
    )
}

/// (mean a, standard deviation of a, mean |w|).
pub fn moments(theta: &DMatrix<f64>) -> (f64, f64, f64) {
    let m = theta.nrows();
    let mean_a = ordered_sum(m, |j| theta[(j, 0)]) / m as f64;
    let var_a = ordered_sum(m, |j| (theta[(j, 0)] - mean_a).powi(2)) / m as f64;
    let mean_norm = ordered_sum(m, |j| row_norm_squared(theta, j, 1).sqrt()) / m as f64;
    (mean_a, var_a.sqrt(), mean_norm)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::math::Activation;

    #[test]
    fn movement_of_a_translate_is_the_shift() {
        let x = DMatrix::from_row_slice(2, 3, &[1.0, 2.0, 3.0, -1.0, 0.0, 5.0]);
        let shifted = x.map(|v| v + 2.0);
        let (mean, max) = movement(&shifted, &x);
        let expected = (3.0 * 4.0f64).sqrt();
        assert!((mean - expected).abs() < 1e-15 && (max - expected).abs() < 1e-15);
    }

    #[test]
    fn dissipation_scales_with_m_to_two_minus_two_alpha() {
        let v = DMatrix::from_element(4, 2, 1.0);
        let lazy = Network::new(Activation::Relu, 0.5).unwrap();
        let mean_field = Network::new(Activation::Relu, 1.0).unwrap();
        let dynamics = Dynamics::default();
        assert!((dissipation(&mean_field, &dynamics, &v) - 2.0).abs() < 1e-15);
        assert!((dissipation(&lazy, &dynamics, &v) - 8.0).abs() < 1e-15);
        let slow_a = Dynamics {
            lr_ratio: 2.0,
            ..Dynamics::default()
        };
        assert!((dissipation(&mean_field, &slow_a, &v) - 1.5).abs() < 1e-15);
    }

    #[test]
    fn objective_adds_decay_of_trained_coordinates_only() {
        let x = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
        let network = Network::new(Activation::Relu, 1.0).unwrap();
        let both = Dynamics {
            lambda: 0.5,
            ..Dynamics::default()
        };
        let a_only = Dynamics {
            train: crate::dynamics::Train::AOnly,
            ..both
        };
        // mean_j |theta_j|^2 = (5 + 25) / 2 = 15; a only: (1 + 9) / 2 = 5.
        assert!((objective(&network, &both, 1.0, &x) - (1.0 + 0.25 * 15.0)).abs() < 1e-15);
        assert!((objective(&network, &a_only, 1.0, &x) - (1.0 + 0.25 * 5.0)).abs() < 1e-15);
        assert!((relative_movement(&(x.clone() * 2.0), &x) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn moments_of_a_known_cloud() {
        let x = DMatrix::from_row_slice(2, 3, &[1.0, 3.0, 4.0, 3.0, 0.0, 0.0]);
        let (mean_a, std_a, mean_norm) = moments(&x);
        assert!((mean_a - 2.0).abs() < 1e-15);
        assert!((std_a - 1.0).abs() < 1e-15);
        assert!((mean_norm - 2.5).abs() < 1e-15);
    }
}
