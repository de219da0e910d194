//! Scalars of a particle system at one time: the objective E and the dissipation D of the energy
//! identity dE/dt = -D (docs/math.md section 2), movement |theta_j(t) - theta_j(0)|, and moments of
//! a and |w|.
//! Reductions have a fixed order (`math::reduce`), so values do not depend on threads.

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::dynamics::Dynamics;
use crate::math::Network;
use crate::math::reduce::{CHUNK, ordered_max, ordered_sum};

/// For every row j, sum over columns c >= `from_col` of weight(c) (x_jc - y_jc)^2 (y = 0 when
/// absent), added in column order. Computed column by column over chunks of rows, so the
/// column-major storage is read contiguously.
pub(crate) fn row_squares(
    x: &DMatrix<f64>,
    y: Option<&DMatrix<f64>>,
    from_col: usize,
    weight: impl Fn(usize) -> f64 + Sync,
) -> Vec<f64> {
    let m = x.nrows();
    let mut out = vec![0.0; m];
    out.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(chunk, sums)| {
            let start = chunk * CHUNK;
            for c in from_col..x.ncols() {
                let w = weight(c);
                let xs = &x.as_slice()[c * m + start..c * m + start + sums.len()];
                match y {
                    Some(y) => {
                        let ys = &y.as_slice()[c * m + start..c * m + start + sums.len()];
                        for ((s, a), b) in sums.iter_mut().zip(xs).zip(ys) {
                            *s += w * (a - b) * (a - b);
                        }
                    }
                    None => {
                        for (s, a) in sums.iter_mut().zip(xs) {
                            *s += w * a * a;
                        }
                    }
                }
            }
        });
    out
}

/// |row j of x|^2 from column `from_col` on, for every row.
fn row_norms_squared(x: &DMatrix<f64>, from_col: usize) -> Vec<f64> {
    row_squares(x, None, from_col, |_| 1.0)
}

/// mean_j |v_j|^2.
pub fn mean_squared_drift(velocity: &DMatrix<f64>) -> f64 {
    let m = velocity.nrows();
    let squares = row_norms_squared(velocity, 0);
    ordered_sum(m, |j| squares[j]) / m as f64
}

/// The dissipation D = m^(2 - 2 alpha) mean_j (v_a,j^2 / lr_ratio + |v_w,j|^2) = -dE/dt of the
/// deterministic flow: docs/math.md's m^(2 - 2 alpha) mean_j |v_j|^2 at lr_ratio = 1. (The a-drift
/// is lr_ratio times the gradient, so its share of -dE/dt is v_a^2 / lr_ratio.)
pub fn dissipation(network: &Network, dynamics: &Dynamics, velocity: &DMatrix<f64>) -> f64 {
    let m = velocity.nrows();
    let lr = dynamics.lr_ratio;
    let squares = row_squares(velocity, None, 0, |c| if c == 0 { 1.0 / lr } else { 1.0 });
    let mean = ordered_sum(m, |j| squares[j]) / m as f64;
    (m as f64).powf(2.0 - 2.0 * network.alpha) * mean
}

/// The objective E = R + (lambda / 2) m^(2 - 2 alpha) mean_j |theta_j|^2 over the trained
/// coordinates (docs/math.md section 2), whose gradient flow the drift is.
pub fn objective(network: &Network, dynamics: &Dynamics, risk: f64, theta: &DMatrix<f64>) -> f64 {
    if dynamics.lambda <= 0.0 {
        return risk;
    }
    let m = theta.nrows();
    let train = dynamics.train;
    let squares = row_squares(theta, None, 0, |c| {
        if train.trains_column(c) { 1.0 } else { 0.0 }
    });
    let mean = ordered_sum(m, |j| squares[j]) / m as f64;
    risk + 0.5 * dynamics.lambda * (m as f64).powf(2.0 - 2.0 * network.alpha) * mean
}

/// |Theta(t) - Theta(0)|_F / |Theta(0)|_F: the relative movement of the whole system, the lazy
/// regime indicator (O(m^(-1/2)) in lazy scaling, O(1) in mean-field scaling).
pub fn relative_movement(theta: &DMatrix<f64>, initial: &DMatrix<f64>) -> f64 {
    movement_summary(theta, initial, size_squared(initial)).relative
}

/// (mean_j, max_j) of |theta_j - theta_j(0)|.
pub fn movement(theta: &DMatrix<f64>, initial: &DMatrix<f64>) -> (f64, f64) {
    let summary = movement_summary(theta, initial, 0.0);
    (summary.mean, summary.max)
}

/// Movement of the particles since theta(0), from one pass over the particles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Movement {
    /// mean_j |theta_j - theta_j(0)|.
    pub mean: f64,
    /// max_j |theta_j - theta_j(0)|.
    pub max: f64,
    /// |Theta - Theta(0)|_F / |Theta(0)|_F (0 when Theta(0) = 0).
    pub relative: f64,
}

/// [`movement`] and [`relative_movement`] at once; `initial_size_squared` is
/// |Theta(0)|_F^2 summed as in [`relative_movement`] (a recorder computes it once per run).
pub fn movement_summary(
    theta: &DMatrix<f64>,
    initial: &DMatrix<f64>,
    initial_size_squared: f64,
) -> Movement {
    let m = theta.nrows();
    let squares = row_squares(theta, Some(initial), 0, |_| 1.0);
    let distance = |j: usize| squares[j].sqrt();
    let change = ordered_sum(m, |j| squares[j]);
    Movement {
        mean: ordered_sum(m, distance) / m as f64,
        max: ordered_max(m, distance),
        relative: if initial_size_squared > 0.0 {
            (change / initial_size_squared).sqrt()
        } else {
            0.0
        },
    }
}

/// |Theta|_F^2 summed row by row in a fixed order (the denominator of [`relative_movement`]).
pub fn size_squared(theta: &DMatrix<f64>) -> f64 {
    let sizes = row_norms_squared(theta, 0);
    ordered_sum(theta.nrows(), |j| sizes[j])
}

/// (mean a, standard deviation of a, mean |w|).
pub fn moments(theta: &DMatrix<f64>) -> (f64, f64, f64) {
    let m = theta.nrows();
    let mean_a = ordered_sum(m, |j| theta[(j, 0)]) / m as f64;
    let var_a = ordered_sum(m, |j| (theta[(j, 0)] - mean_a).powi(2)) / m as f64;
    let squares = row_norms_squared(theta, 1);
    let mean_norm = ordered_sum(m, |j| squares[j].sqrt()) / m as f64;
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
