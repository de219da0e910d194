//! Runs of the quickstart through `Simulation::run` (on the GPU: the particles held on the
//! device) and their comparison with the CPU run, for the ignored GPU tests of `tests/gpu.rs`
//! and `tests/gpu_data.rs`.

use std::path::Path;

use meanfield::dynamics::{Control, Observation, Observer, Outcome, Schedule};
use meanfield::scenario::Scenario;
use nalgebra::DMatrix;

/// Records the state and the drift at every observed step.
#[derive(Default)]
pub struct Recorded {
    /// (step, theta, drift) per observed step.
    pub states: Vec<(u64, DMatrix<f64>, DMatrix<f64>)>,
}

impl Observer for Recorded {
    fn observe(&mut self, observation: &Observation<'_>) -> meanfield::error::Result<()> {
        self.states.push((
            observation.step,
            observation.theta.clone(),
            observation.velocity.clone(),
        ));
        Ok(())
    }
}

/// `steps` steps of `Simulation::run` of the scenario at `path` with `overrides` on
/// `device`, observed every 10 steps: the final state and what was observed.
pub fn run_scenario(
    path: &Path,
    overrides: &[&str],
    steps: u64,
    device: &str,
) -> (DMatrix<f64>, Recorded) {
    let mut overrides: Vec<String> = overrides.iter().map(|s| (*s).to_string()).collect();
    overrides.push(format!("device={device}"));
    let mut setup = Scenario::load(path, &overrides).unwrap().setup().unwrap();
    let mut theta = setup.particles.into_matrix();
    let mut recorded = Recorded::default();
    let outcome = setup
        .simulation
        .run(
            &mut theta,
            0,
            steps,
            Schedule::Every(10),
            &mut recorded,
            &mut |_, _| Control::Continue,
        )
        .unwrap();
    assert_eq!(outcome, Outcome::Finished);
    (theta, recorded)
}

/// Asserts that the GPU run matches the CPU run: the final state within 1e-10 relative (the
/// deviation printed under `label`), every observed state within 1e-10 and drift within
/// 1e-9 of its largest entry.
pub fn assert_same_run(
    label: &str,
    (cpu, cpu_seen): &(DMatrix<f64>, Recorded),
    (gpu, gpu_seen): &(DMatrix<f64>, Recorded),
) {
    let relative = (gpu - cpu).amax() / cpu.amax();
    eprintln!("{label}, held on the GPU, f64: {relative:.2e}");
    assert!(relative <= 1e-10, "{label}: {relative:e}");
    assert_eq!(cpu_seen.states.len(), gpu_seen.states.len());
    for ((step, theta_c, v_c), (step_g, theta_g, v_g)) in
        cpu_seen.states.iter().zip(&gpu_seen.states)
    {
        assert_eq!(step, step_g);
        let state = (theta_g - theta_c).amax() / theta_c.amax();
        let drift = (v_g - v_c).amax() / v_c.amax().max(f64::MIN_POSITIVE);
        assert!(
            state <= 1e-10 && drift <= 1e-9,
            "{label} step {step}: state {state:e}, drift {drift:e}"
        );
    }
}
