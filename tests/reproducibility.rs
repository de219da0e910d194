//! Bit-identical trajectories on any number of threads (STYLE.md: random streams keyed by
//! particle and step, reductions in fixed chunks, products per tile with a fixed size).
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use nalgebra::DMatrix;

/// Runs `steps` steps of the scenario in a local pool of `threads` threads.
fn trajectory(text: &str, threads: usize, steps: u64) -> (DMatrix<f64>, Vec<u64>) {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| {
            let mut setup = common::setup(text);
            let mut theta = setup.particles.matrix().clone();
            let mut risks = Vec::new();
            for k in 0..steps {
                risks.push(setup.simulation.step(&mut theta, k).unwrap().to_bits());
            }
            (theta, risks)
        })
}

fn assert_thread_independent(text: &str, steps: u64) {
    let (one, risks_one) = trajectory(text, 1, steps);
    for threads in [2, 3] {
        let (many, risks_many) = trajectory(text, threads, steps);
        assert_eq!(risks_one, risks_many, "risks differ on {threads} threads");
        let same = one
            .iter()
            .zip(many.iter())
            .all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same, "particles differ on {threads} threads");
    }
}

/// m = 300 spans five population tiles (an odd count: a round-robin with a bye); tau > 0 adds
/// per-particle noise.
#[test]
fn population_runs_are_bit_identical_on_one_two_and_three_threads() {
    assert_thread_independent(
        "seed = 4\n[model]\nd = 5\nm = 300\n[target]\nk = 3\n\
         [dynamics]\ndt = 0.05\nlambda = 0.01\ntau = 0.001\n",
        5,
    );
}

/// m = 600 spans three particle chunks and n = 300 three sample blocks.
#[test]
fn empirical_runs_are_bit_identical_on_one_two_and_three_threads() {
    assert_thread_independent(
        "seed = 4\n[model]\nd = 5\nm = 600\nactivation = \"tanh\"\nbias = true\n[target]\nk = 3\n\
         [risk]\nmode = \"empirical\"\nn = 300\n[dynamics]\ndt = 0.05\ntau = 0.001\n",
        5,
    );
}

#[test]
fn online_runs_are_bit_identical_on_one_two_and_three_threads() {
    assert_thread_independent(
        "seed = 4\n[model]\nd = 5\nm = 600\n[target]\nk = 3\nnoise_std = 0.1\n\
         [risk]\nmode = \"online\"\nbatch = 300\n[dynamics]\nintegrator = \"rk4\"\ndt = 0.05\n",
        5,
    );
}
