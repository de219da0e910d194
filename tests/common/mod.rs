//! Shared helpers of the integration tests: scenarios from TOML text.
#![allow(dead_code, reason = "each test binary uses a subset")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;

use meanfield::scenario::Scenario;
use meanfield::scenario::Setup;
use meanfield::scenario::file::parse;

/// A validated scenario from TOML text (paths relative to the current directory).
pub fn scenario(text: &str) -> Scenario {
    let config = parse(text, "test.toml", &[]).unwrap();
    Scenario::from_config(config, Path::new("test.toml"), text, &[]).unwrap()
}

/// The simulation, particles and teacher of a scenario given as TOML text.
pub fn setup(text: &str) -> Setup {
    scenario(text).setup().unwrap()
}

/// Runs `steps` Euler/RK steps with `setup.simulation.step` and returns the final particles.
pub fn advance(setup: &mut Setup, steps: u64) -> nalgebra::DMatrix<f64> {
    let mut theta = setup.particles.matrix().clone();
    for k in 0..steps {
        setup.simulation.step(&mut theta, k).unwrap();
    }
    theta
}
