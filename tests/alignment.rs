//! Teacher alignment up to the sign symmetry of the activation (`Activation::parity`): for an
//! odd sigma (erf, tanh, linear) the neuron (a, w) is the function (-a, -w), for an even sigma
//! (quadratic) it is (a, -w), so a neuron along -w* is along the teacher neuron w*; for relu,
//! sigmoid and softplus it is not. The series columns `cone_share_<i>` and `best_cosine_<i>`
//! count |cos| exactly for the sign-symmetric activations.
#![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

use meanfield::diagnostics::measure::{angles_to, teacher_alignments};
use meanfield::diagnostics::recorder::{RecordOptions, Recorder, RunFacts};
use meanfield::dynamics::{Dynamics, Observation, Observer};
use meanfield::math::{Activation, Network, Parity};
use nalgebra::DMatrix;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

const EPS: f64 = f64::EPSILON;

/// A random cloud of (a, w) rows, d = `d`.
fn random_cloud(m: usize, d: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    DMatrix::from_fn(m, 1 + d, |_, _| rng.sample::<f64, _>(StandardNormal))
}

/// The series row the recorder writes for `theta` at step 0, with the teacher `teacher`
/// (k x (1 + d)) and the activation `activation`, as (column name, value) pairs.
fn recorded_row(
    activation: Activation,
    theta: &DMatrix<f64>,
    teacher: &DMatrix<f64>,
) -> Vec<(String, f64)> {
    let network = Network::new(activation, 1.0).unwrap();
    let d = theta.ncols() - 1;
    let options = RecordOptions {
        snapshots: 0,
        probes: 0,
        ..RecordOptions::default()
    };
    let mut recorder = Recorder::new(
        &RunFacts {
            initial: theta,
            teacher: Some(teacher),
            has_test: false,
            has_population: false,
            total_steps: 1,
            dt: 0.1,
            seed: 1,
            d,
            bias: false,
            network: &network,
            tau: 0.0,
        },
        options,
    );
    let velocity = DMatrix::zeros(theta.nrows(), theta.ncols());
    recorder
        .observe(&Observation {
            step: 0,
            time: 0.0,
            risk: 1.0,
            test_risk: None,
            population_risk: None,
            classification: None,
            theta,
            velocity: &velocity,
            network: &network,
            dynamics: &Dynamics::default(),
            scheduled: true,
        })
        .unwrap();
    let series = recorder.series();
    series
        .columns
        .iter()
        .cloned()
        .zip(series.rows[0].iter().copied())
        .collect()
}

fn column(row: &[(String, f64)], name: &str) -> f64 {
    row.iter().find(|(c, _)| c == name).unwrap().1
}

#[test]
fn a_cloud_at_minus_the_teacher_neuron_is_aligned_exactly_for_odd_and_even_activations() {
    // Teacher neuron w* = (1, 2, -1, 0.5); the cloud's w_j = -c_j w* + a small orthogonal-ish
    // perturbation, each within 5 degrees of -w*, with both signs of a_j.
    let d = 4;
    let star = [1.0, 2.0, -1.0, 0.5];
    let teacher = DMatrix::from_fn(1, 1 + d, |_, c| if c == 0 { 1.0 } else { star[c - 1] });
    let noise = random_cloud(50, d, 7);
    let theta = DMatrix::from_fn(50, 1 + d, |j, c| {
        let scale = 0.5 + j as f64 / 50.0;
        if c == 0 {
            if j % 2 == 0 { scale } else { -scale }
        } else {
            -scale * star[c - 1] + 0.01 * scale * noise[(j, c)]
        }
    });
    for activation in Activation::ALL {
        let row = recorded_row(activation, &theta, &teacher);
        let (share, best) = (column(&row, "cone_share_0"), column(&row, "best_cosine_0"));
        if activation.parity().sign_symmetric() {
            // Every particle is inside the double cone: the share is the whole mass, exactly.
            assert_eq!(share, 1.0, "{activation}");
            assert!(
                best > 15f64.to_radians().cos() && best <= 1.0,
                "{activation}: {best}"
            );
        } else {
            // relu, sigmoid, softplus: w and -w are different neurons, none is aligned.
            assert_eq!(share, 0.0, "{activation}");
            assert!(best < -0.99, "{activation}: {best}");
        }
    }
}

#[test]
fn alignment_up_to_sign_is_the_signed_alignment_of_the_cloud_turned_towards_the_teacher() {
    // Replacing w_j by -w_j where w_j . v < 0 (and a_j by -a_j: the mass |a_j| |w_j| is
    // unchanged) turns |cos| into cos exactly: the two alignments are bit-identical.
    let d = 5;
    let theta = random_cloud(400, d, 3);
    let directions = vec![
        vec![1.0, 0.0, 0.0, 0.0, 0.0],
        vec![0.3, -0.2, 0.9, 0.1, -0.4],
    ];
    let cone = 50f64.to_radians();
    for (index, direction) in directions.iter().enumerate() {
        let turned = DMatrix::from_fn(theta.nrows(), 1 + d, |j, c| {
            let dot: f64 = (0..d).map(|k| theta[(j, 1 + k)] * direction[k]).sum();
            if dot < 0.0 {
                -theta[(j, c)]
            } else {
                theta[(j, c)]
            }
        });
        for parity in [Parity::Odd, Parity::Even] {
            let symmetric = teacher_alignments(&theta, &directions, cone, parity)[index];
            let signed = teacher_alignments(&turned, &directions, cone, Parity::Neither)[index];
            assert_eq!(symmetric, signed, "direction {index}, {parity:?}");
        }
        // The signed alignment of the original cloud sees less of it.
        let signed = teacher_alignments(&theta, &directions, cone, Parity::Neither)[index];
        let symmetric = teacher_alignments(&theta, &directions, cone, Parity::Odd)[index];
        assert!(signed.cone_share < symmetric.cone_share);
        assert!(signed.best_cosine <= symmetric.best_cosine);
    }
}

#[test]
fn the_double_cone_boundary_is_decided_by_the_accurate_angle_to_minus_the_direction() {
    // Particles at angles pi - cone + offset from v, that is at cone - offset from -v: inside
    // exactly when offset >= 0, which the cosine alone cannot decide within 1e-9 of the boundary.
    let cone = 15f64.to_radians();
    let offsets = [
        -1e-13, 0.0, 1e-13, -1e-9, 1e-9, -3e-16, 3e-16, -1e-15, 1e-15, 2e-15,
    ];
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for offset in offsets {
        let angle = std::f64::consts::PI - cone + offset;
        rows.push(vec![1.0, 2.0 * angle.cos(), 2.0 * angle.sin(), 0.0]);
    }
    let cloud = random_cloud(300, 3, 11);
    for j in 0..cloud.nrows() {
        rows.push(cloud.row(j).iter().copied().collect());
    }
    let theta = DMatrix::from_fn(rows.len(), 4, |r, c| rows[r][c]);
    let direction = vec![1.0, 0.0, 0.0];
    let alignment =
        teacher_alignments(&theta, std::slice::from_ref(&direction), cone, Parity::Odd)[0];
    let angles = angles_to(&theta, &direction);
    let mass =
        |j: usize| theta[(j, 0)].abs() * (1..4).map(|c| theta[(j, c)].powi(2)).sum::<f64>().sqrt();
    let total: f64 = (0..theta.nrows()).map(mass).sum();
    let inside: f64 = (0..theta.nrows())
        .filter(|&j| angles[j].min(std::f64::consts::PI - angles[j]) <= cone)
        .map(mass)
        .sum();
    // Sums in another order: a few ulps of the total (as in tests/measure.rs).
    assert!((alignment.cone_share - inside / total).abs() < 1e3 * EPS);
}
