//! The population risk of docs/math.md section 3 against Monte Carlo, and the exact finite-m
//! identity of docs/math.md section 7.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use meanfield::math::Activation;
use meanfield::random::Purpose;
use meanfield::task::{DataSet, InputLaw, Target};
use nalgebra::DMatrix;

/// R = 1/2 E[(y - f(x))^2] estimated on N = 200,000 fresh samples (labels with noise), against
/// the exact population risk; the tolerance is 4.5 standard errors of the Monte Carlo mean plus
/// the quadrature bound.
#[test]
fn population_risk_matches_monte_carlo_for_every_activation() {
    let n = 200_000;
    for activation in Activation::ALL {
        let text = format!(
            "seed = 3\n[model]\nd = 3\nm = 5\nactivation = \"{activation}\"\n\
             [target]\nk = 2\nnoise_std = 0.2\n[dynamics]\n"
        );
        let mut setup = common::setup(&text);
        let theta = setup.particles.matrix().clone();
        let mut v = DMatrix::zeros(theta.nrows(), theta.ncols());
        let exact = setup.simulation.velocity(&theta, &mut v, 0).unwrap();
        let law = InputLaw::standard(3, false);
        let data =
            DataSet::generate(n, law, &setup.target as &dyn Target, 11, Purpose::Test, 0).unwrap();
        let losses: Vec<f64> = (0..n)
            .map(|i| {
                let x: Vec<f64> = data.inputs().column(i).iter().copied().collect();
                let f = setup.simulation.network.output(&setup.particles, &x);
                0.5 * (data.labels()[i] - f).powi(2)
            })
            .collect();
        let mean = losses.iter().sum::<f64>() / n as f64;
        let var = losses.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let se = (var / n as f64).sqrt();
        assert!(
            (mean - exact).abs() < 4.5 * se + 1e-10,
            "{activation}: exact {exact}, Monte Carlo {mean} +- {se}"
        );
    }
}

/// docs/math.md section 7: with a ~ N(0, 1), w ~ N(0, I/d), relu and alpha = 1, the seed average of
/// R_m(0) - R_inf(0) is exactly 1/(4m). Checked over 1600 seeds within 4 standard errors.
#[test]
fn initial_risk_excess_averages_to_one_over_four_m() {
    let (m, seeds) = (10usize, 1600u64);
    let excess: Vec<f64> = (0..seeds)
        .map(|seed| {
            let text = format!(
                "seed = {seed}\n[model]\nd = 4\nm = {m}\n[target]\nk = 2\nnoise_std = 0.3\n"
            );
            let mut setup = common::setup(&text);
            let theta = setup.particles.matrix().clone();
            let mut v = DMatrix::zeros(theta.nrows(), theta.ncols());
            let risk = setup.simulation.velocity(&theta, &mut v, 0).unwrap();
            // R_inf(0) = E f*^2 / 2 + s^2 / 2: the risk of the zero network.
            let zero = DMatrix::zeros(theta.nrows(), theta.ncols());
            let r_inf = setup.simulation.velocity(&zero, &mut v, 0).unwrap();
            risk - r_inf
        })
        .collect();
    let mean = excess.iter().sum::<f64>() / seeds as f64;
    let var = excess.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (seeds - 1) as f64;
    let se = (var / seeds as f64).sqrt();
    let expected = 1.0 / (4.0 * m as f64);
    assert!(
        (mean - expected).abs() < 4.0 * se,
        "mean excess {mean} +- {se}, expected {expected}"
    );
    // The test must be able to tell 1/(4m) from 1/(2m) or 0.
    assert!(4.0 * se < expected / 2.0, "too few seeds: se {se}");
}
