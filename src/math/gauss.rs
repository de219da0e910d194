//! Gauss rules for probability weights, by Golub-Welsch.
//!
//! A weight with monic orthogonal polynomials P_(i+1)(x) = (x - alpha_i) P_i(x) - b_i^2
//! P_(i-1)(x) has the N-node Gauss rule whose nodes are the eigenvalues of the symmetric
//! tridiagonal Jacobi matrix J (diagonal alpha_0..alpha_(N-1), off-diagonal b_1..b_(N-1)) and
//! whose weights are the squared first components of its normalised eigenvectors. The rule is
//! exact for polynomials of degree 2N - 1. The weights are divided by their sum, so each rule
//! is a probability measure (sum exactly 1 up to one rounding per weight):
//!
//! ```text
//! hermite(N):        exp(-x^2/2) / sqrt(2 pi) on R            alpha_i = 0,
//!                                                              b_i^2 = i
//! laguerre(c, N):    x^c e^-x / Gamma(c + 1) on (0, inf)      alpha_i = 2i + c + 1,
//!                                                              b_i^2 = i (i + c)
//! jacobi_symmetric(a, N): (1 - x^2)^a / B on [-1, 1]          alpha_i = 0,
//!                                                              b_1^2 = 1 / (2a + 3),
//!                                                              b_i^2 = i (i + 2a) / ((2i + 2a)^2 - 1)
//! ```
//!
//! (i counts from 0 on the diagonal, from 1 off it). The Jacobi b_1^2 is the general
//! i (i + 2a) / ((2i + 2a)^2 - 1) with the common factor 1 + 2a cancelled: at a = -1/2
//! (Chebyshev, nodes cos((2i - 1) pi / (2N))) the general form is 0/0, near it it loses digits.
//! The two symmetric weights give symmetric rules: nodes and weights are averaged with their
//! mirror images, so x_i = -x_(N-1-i) and w_i = w_(N-1-i) exactly and odd moments vanish to
//! rounding.
//!
//! Accuracy: the nodes are accurate to a few ulps of the largest |node|. The weights come from
//! eigenvector components, whose error is absolute (about N eps), so weights far below eps (the
//! outer nodes of Hermite and Laguerre for N of a few tens; e.g. 1e-80 at N = 64) have no
//! correct relative digits. They carry negligible mass, so moments and smooth expectations keep
//! their accuracy; a use that divides by a single tiny weight would not.

use crate::error::Error;
use nalgebra::{DMatrix, SymmetricEigen};

/// Nodes (increasing) and weights (positive, summing to 1) of a one-dimensional rule.
pub type Rule = (Vec<f64>, Vec<f64>);

/// Probabilists' Gauss-Hermite: the `count`-node Gauss rule of N(0, 1), exactly symmetric.
///
/// ```
/// let (nodes, weights) = meanfield::math::gauss::hermite(2)?;
/// assert!((nodes[1] - 1.0).abs() < 1e-15 && (weights[0] - 0.5).abs() < 1e-15);
/// # Ok::<(), meanfield::Error>(())
/// ```
pub fn hermite(count: usize) -> crate::Result<Rule> {
    check_count(count)?;
    let off_diagonal = (1..count).map(|i| (i as f64).sqrt()).collect();
    let rule = golub_welsch(vec![0.0; count], off_diagonal)?;
    Ok(symmetrised(rule))
}

/// Generalised Gauss-Laguerre: the `count`-node Gauss rule of Gamma(alpha + 1), density
/// x^alpha e^-x / Gamma(alpha + 1) on (0, inf); alpha > -1.
pub fn laguerre(alpha: f64, count: usize) -> crate::Result<Rule> {
    check_count(count)?;
    if !(alpha.is_finite() && alpha > -1.0) {
        return Err(Error::invalid(
            "Gauss-Laguerre alpha",
            alpha,
            "a finite number > -1",
        ));
    }
    let diagonal = (0..count).map(|i| 2.0 * i as f64 + alpha + 1.0).collect();
    let off_diagonal = (1..count)
        .map(|i| {
            let i = i as f64;
            (i * (i + alpha)).sqrt()
        })
        .collect();
    golub_welsch(diagonal, off_diagonal)
}

/// Symmetric Gauss-Jacobi: the `count`-node Gauss rule of the density proportional to
/// (1 - x^2)^a on [-1, 1] (alpha = beta = a > -1), exactly symmetric. a = 0 is Gauss-Legendre,
/// a = -1/2 Gauss-Chebyshev.
pub fn jacobi_symmetric(a: f64, count: usize) -> crate::Result<Rule> {
    check_count(count)?;
    if !(a.is_finite() && a > -1.0) {
        return Err(Error::invalid(
            "Gauss-Jacobi exponent a",
            a,
            "a finite number > -1",
        ));
    }
    let off_diagonal = (1..count)
        .map(|i| {
            if i == 1 {
                // i (i + 2a) / ((2i + 2a)^2 - 1) at i = 1, with 1 + 2a cancelled.
                return (1.0 / (2.0 * a + 3.0)).sqrt();
            }
            let i = i as f64;
            let two = 2.0 * i + 2.0 * a;
            (i * (i + 2.0 * a) / (two * two - 1.0)).sqrt()
        })
        .collect();
    let (nodes, weights) = symmetrised(golub_welsch(vec![0.0; count], off_diagonal)?);
    Ok((
        nodes.into_iter().map(|x| x.clamp(-1.0, 1.0)).collect(),
        weights,
    ))
}

fn check_count(count: usize) -> crate::Result<()> {
    if count == 0 {
        return Err(Error::invalid("quadrature nodes", count, "at least 1"));
    }
    Ok(())
}

/// The Gauss rule of the Jacobi matrix with this diagonal and off-diagonal, weights divided by
/// their sum.
fn golub_welsch(diagonal: Vec<f64>, off_diagonal: Vec<f64>) -> crate::Result<Rule> {
    let count = diagonal.len();
    let mut jacobi = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(diagonal));
    for (i, b) in off_diagonal.into_iter().enumerate() {
        jacobi[(i + 1, i)] = b;
        jacobi[(i, i + 1)] = b;
    }
    let eigen = SymmetricEigen::new(jacobi);
    let mut pairs: Vec<(f64, f64)> = (0..count)
        .map(|i| (eigen.eigenvalues[i], eigen.eigenvectors[(0, i)].powi(2)))
        .collect();
    pairs.sort_by(|x, y| x.0.total_cmp(&y.0));
    let total: f64 = pairs.iter().map(|pair| pair.1).sum();
    if !(total.is_finite() && total > 0.0) {
        return Err(Error::invalid(
            "Golub-Welsch weight sum",
            total,
            "a positive number",
        ));
    }
    // The eigenvectors are normalised, so total = 1 up to rounding; divide it out.
    Ok(pairs
        .into_iter()
        .map(|(x, weight)| (x, weight / total))
        .unzip())
}

/// The rule averaged with its mirror image x -> -x (nodes sorted increasing), weights divided
/// by their sum again; an odd rule's middle node is exactly 0.
fn symmetrised((nodes, weights): Rule) -> Rule {
    let count = nodes.len();
    let mirror = |i: usize| count - 1 - i;
    let nodes: Vec<f64> = (0..count)
        .map(|i| 0.5 * (nodes[i] - nodes[mirror(i)]))
        .collect();
    let weights: Vec<f64> = (0..count)
        .map(|i| 0.5 * (weights[i] + weights[mirror(i)]))
        .collect();
    let total: f64 = weights.iter().sum();
    (nodes, weights.into_iter().map(|w| w / total).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]
    use super::*;
    use std::f64::consts::PI;

    fn moment((nodes, weights): &Rule, power: i32) -> f64 {
        nodes
            .iter()
            .zip(weights)
            .map(|(x, w)| w * x.powi(power))
            .sum()
    }

    /// The scale of the rounding of a moment: sum_i w_i |x_i|^j (= E x^j for even j; for odd
    /// j the terms cancel and the rounding is relative to this sum, not to E x^j = 0).
    fn absolute_moment((nodes, weights): &Rule, power: i32) -> f64 {
        nodes
            .iter()
            .zip(weights)
            .map(|(x, w)| w * x.abs().powi(power))
            .sum()
    }

    /// sum_i 4 sqrt(w_i) N eps |x_i|^j: twice the error of the weights (module documentation).
    fn weight_error_bound((nodes, weights): &Rule, power: i32) -> f64 {
        let count = nodes.len() as f64;
        nodes
            .iter()
            .zip(weights)
            .map(|(x, w)| 4.0 * w.sqrt() * count * f64::EPSILON * x.abs().powi(power))
            .sum()
    }

    /// E x^j of N(0, 1): 0 for odd j, (j - 1)!! for even j.
    fn normal_moment(power: i32) -> f64 {
        if power % 2 == 1 {
            0.0
        } else {
            (1..power).step_by(2).map(f64::from).product()
        }
    }

    #[test]
    fn hermite_is_exact_to_degree_2n_minus_1_and_symmetric() {
        let mut worst: f64 = 0.0;
        for count in [1, 2, 3, 5, 8, 16] {
            let rule = hermite(count).unwrap();
            for i in 0..count {
                assert_eq!(rule.0[i], -rule.0[count - 1 - i]);
                assert_eq!(rule.1[i], rule.1[count - 1 - i]);
            }
            assert!((rule.1.iter().sum::<f64>() - 1.0).abs() < 4.0 * f64::EPSILON);
            for power in 0..(2 * count as i32) {
                // Relative to the scale of the sum (its condition). A weight w = v^2 carries
                // the absolute error 2 |v| N eps of its eigenvector component, so the moment has
                // the error sum_i 2 sqrt(w_i) N eps |x_i|^j: high moments of large N lean on
                // the small outer weights and lose digits (1e-13 at N = 16, j = 22).
                let exact = normal_moment(power);
                let scale = absolute_moment(&rule, power).max(f64::MIN_POSITIVE);
                let error = (moment(&rule, power) - exact).abs() / scale;
                let bound = weight_error_bound(&rule, power) / scale + 4.0 * f64::EPSILON;
                worst = worst.max(error / bound);
                assert!(
                    error < bound,
                    "N = {count}, E x^{power}: {error:e} > {bound:e}"
                );
                if count <= 8 {
                    assert!(error < 1e-13, "N = {count}, E x^{power}: {error:e}");
                }
            }
        }
        eprintln!("Hermite: worst moment error / its bound {worst:.2}");
    }

    #[test]
    fn hermite_low_moments_are_one_three_fifteen() {
        let rule = hermite(4).unwrap();
        for (power, exact) in [(2, 1.0), (4, 3.0), (6, 15.0)] {
            assert!((moment(&rule, power) - exact).abs() < 1e-13 * exact);
        }
    }

    #[test]
    fn laguerre_is_exact_to_degree_2n_minus_1() {
        for alpha in [-0.5, 0.0, 1.0, 2.5] {
            for count in [1, 2, 4, 8] {
                let rule = laguerre(alpha, count).unwrap();
                assert!(rule.0[0] > 0.0);
                // Gamma(alpha + 1 + j) / Gamma(alpha + 1) = (alpha + 1) ... (alpha + j).
                let mut exact = 1.0;
                for power in 0..(2 * count as i32) {
                    let error = (moment(&rule, power) - exact).abs();
                    assert!(
                        error < 1e-13 * exact,
                        "alpha {alpha}, N = {count}, E x^{power}: {error:e} of {exact}"
                    );
                    exact *= alpha + 1.0 + f64::from(power);
                }
            }
        }
    }

    #[test]
    fn jacobi_legendre_three_nodes_are_zero_and_root_three_fifths() {
        let (nodes, weights) = jacobi_symmetric(0.0, 3).unwrap();
        let expected = [-(0.6f64).sqrt(), 0.0, 0.6f64.sqrt()];
        for (x, e) in nodes.iter().zip(expected) {
            assert!((x - e).abs() < 4.0 * f64::EPSILON, "{x} {e}");
        }
        for (w, e) in weights.iter().zip([5.0 / 18.0, 8.0 / 18.0, 5.0 / 18.0]) {
            assert!((w - e).abs() < 4.0 * f64::EPSILON, "{w} {e}");
        }
    }

    #[test]
    fn jacobi_at_minus_half_is_chebyshev() {
        for count in [1, 2, 3, 7, 24] {
            let (nodes, weights) = jacobi_symmetric(-0.5, count).unwrap();
            let n = count as f64;
            for (i, (x, w)) in nodes.iter().zip(&weights).enumerate() {
                let expected = -((2 * i + 1) as f64 * PI / (2.0 * n)).cos();
                assert!((x - expected).abs() < 8.0 * f64::EPSILON, "{x} {expected}");
                // Eigenvector components carry an absolute error of about N eps, so a weight
                // w = v^2 one of about 2 sqrt(w) N eps = 2 sqrt(N) eps here; 4 times that.
                let error = w - 1.0 / n;
                assert!(
                    error.abs() < 8.0 * f64::EPSILON * n.sqrt(),
                    "N {count}: {error:e}"
                );
            }
        }
    }

    #[test]
    fn jacobi_is_exact_to_degree_2n_minus_1() {
        // E x^(2j) under (1 - x^2)^a / B: prod_{l < j} (2l + 1) / (2l + 2a + 3).
        for a in [-0.9, -0.5, 0.0, 0.5, 3.0] {
            for count in [1, 2, 5, 12] {
                let rule = jacobi_symmetric(a, count).unwrap();
                let mut exact = 1.0;
                for j in 0..count as i32 {
                    let error = (moment(&rule, 2 * j) - exact).abs();
                    assert!(error < 1e-14, "a {a}, N {count}, E x^{}: {error:e}", 2 * j);
                    assert!(moment(&rule, 2 * j + 1).abs() < 1e-15);
                    let l = f64::from(j);
                    exact *= (2.0 * l + 1.0) / (2.0 * l + 2.0 * a + 3.0);
                }
            }
        }
    }

    #[test]
    fn refuses_no_nodes_and_bad_parameters() {
        assert!(hermite(0).is_err());
        assert!(laguerre(-1.0, 4).is_err());
        assert!(laguerre(f64::NAN, 4).is_err());
        assert!(jacobi_symmetric(-1.0, 4).is_err());
        assert!(jacobi_symmetric(0.0, 0).is_err());
    }
}
