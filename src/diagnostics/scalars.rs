//! Scalars of a particle system at one time: dissipation D = m^(2 - 2 alpha) mean_j |v_j|^2
//! (MATH.md section 2), movement |theta_j(t) - theta_j(0)|, and moments of a and |w|.
//! Reductions have a fixed order (`math::reduce`), so values do not depend on threads.

use nalgebra::DMatrix;

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

/// The dissipation D = m^(2 - 2 alpha) mean_j |v_j|^2 = -dE/dt of the deterministic flow.
pub fn dissipation(network: &Network, velocity: &DMatrix<f64>) -> f64 {
    let m = velocity.nrows();
    (m as f64).powf(2.0 - 2.0 * network.alpha) * mean_squared_drift(velocity)
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
        assert!((dissipation(&mean_field, &v) - 2.0).abs() < 1e-15);
        assert!((dissipation(&lazy, &v) - 8.0).abs() < 1e-15);
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
