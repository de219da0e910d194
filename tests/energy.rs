//! The energy identity of docs/math.md section 2: along the deterministic flow dE/dt = -D, with
//! E = R + (lambda/2) m^(2 - 2 alpha) mean_j |theta_j|^2 and D = m^(2 - 2 alpha) mean_j |v_j|^2
//! (with lr_ratio != 1 the a-part of D is v_a^2 / lr_ratio). The logged objective, differenced
//! in time, must match the logged dissipation: a check of drift, scalars and integrator.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use meanfield::diagnostics::scalars::{dissipation, objective};
use meanfield::dynamics::{Control, Observation, Observer, Schedule};

/// (time, E, D) at every step.
#[derive(Default)]
struct Energy(Vec<(f64, f64, f64)>);

impl Observer for Energy {
    fn observe(&mut self, o: &Observation<'_>) -> meanfield::Result<()> {
        self.0.push((
            o.time,
            objective(o.network, o.dynamics, o.risk, o.theta),
            dissipation(o.network, o.dynamics, o.velocity),
        ));
        Ok(())
    }
}

/// Largest relative error of the central difference -(E(t+dt) - E(t-dt)) / 2dt against D(t).
fn identity_error(activation: &str, alpha: f64, lambda: f64, lr_ratio: f64, dt: f64) -> f64 {
    let steps = (0.5 / dt).round() as u64;
    let text = format!(
        "seed = 12\n[model]\nd = 3\nm = 20\nalpha = {alpha}\nactivation = \"{activation}\"\n\
         [target]\nk = 2\n[dynamics]\nintegrator = \"rk4\"\ndt = {dt}\nsteps = {steps}\n\
         lambda = {lambda}\nlr_ratio = {lr_ratio}\n"
    );
    let mut setup = common::setup(&text);
    let mut theta = setup.particles.matrix().clone();
    let mut energy = Energy::default();
    setup
        .simulation
        .run(
            &mut theta,
            0,
            steps,
            Schedule::Every(1),
            &mut energy,
            &mut |_, _| Control::Continue,
        )
        .unwrap();
    let rows = &energy.0;
    rows.windows(3)
        .map(|w| {
            let derivative = -(w[2].1 - w[0].1) / (w[2].0 - w[0].0);
            (derivative - w[1].2).abs() / w[1].2.abs().max(1e-12)
        })
        .fold(0.0, f64::max)
}

/// The central difference has error dt^2 E''' / 6 and RK4 adds O(dt^4): halving dt must
/// divide the discrepancy by about 4 (accepted: 3 to 5), and at dt = 0.01 it is below 1e-3.
#[test]
fn dissipation_is_minus_the_time_derivative_of_the_objective() {
    for (activation, alpha, lambda, lr_ratio) in [
        ("erf", 1.0, 0.0, 1.0),
        ("erf", 0.5, 0.0, 1.0),
        ("erf", 1.0, 0.2, 1.0),
        ("relu", 0.5, 0.2, 1.0),
        ("tanh", 1.0, 0.1, 2.5),
    ] {
        let coarse = identity_error(activation, alpha, lambda, lr_ratio, 0.02);
        let fine = identity_error(activation, alpha, lambda, lr_ratio, 0.01);
        let label = format!("{activation} alpha {alpha} lambda {lambda} lr {lr_ratio}");
        assert!(fine < 1e-3, "{label}: relative error {fine}");
        let ratio = coarse / fine;
        assert!(
            (3.0..5.0).contains(&ratio),
            "{label}: errors {coarse}, {fine}, ratio {ratio}"
        );
    }
}
