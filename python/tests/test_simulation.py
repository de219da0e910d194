"""Stepping from Python: the CLI's trajectory bit for bit, validated particle arrays."""

from __future__ import annotations

import numpy as np
import pytest

import meanfield
from conftest import QUICKSTART, run_cli, small_overrides


def test_stepping_in_pieces_is_the_cli_run_bit_for_bit(tmp_path, cli, quickstart):
    out = tmp_path / "cli"
    args = ["run", str(QUICKSTART), "--out", str(out), "--quiet"]
    for o in small_overrides():
        args += ["--set", o]
    run_cli(cli, *args)
    cli_run = meanfield.load_run(out)
    sim = meanfield.Simulation(quickstart)
    np.testing.assert_array_equal(sim.particles, cli_run.particles_init)
    assert sim.step(37) == sim.risk
    sim.step(0)
    sim.step(263)
    assert sim.step_index == 300 and sim.time == cli_run.series["time"][-1]
    assert sim.particles.tobytes() == cli_run.particles_final.tobytes()
    assert sim.risk == cli_run.series["risk"][-1]
    np.testing.assert_array_equal(sim.teacher, cli_run.teacher)


def test_run_until_stops_at_the_first_step_at_or_after_t(quickstart):
    sim = meanfield.Simulation(quickstart)
    sim.run_until(1.0)
    assert (sim.step_index, sim.time) == (20, 1.0)
    sim.run_until(1.01)
    assert sim.step_index == 21
    sim.run_until(0.5)  # already past: no step
    assert sim.step_index == 21
    whole = meanfield.Simulation(quickstart)
    whole.step(21)
    assert whole.particles.tobytes() == sim.particles.tobytes()


def test_drift_is_the_velocity_the_euler_step_takes(quickstart):
    sim = meanfield.Simulation(quickstart)
    theta, v = sim.particles, sim.drift()
    sim.step(1)
    # Euler without noise: theta_1 = theta_0 + dt v(theta_0), in floating point.
    np.testing.assert_allclose(sim.particles, theta + 0.05 * v, rtol=0, atol=1e-15)
    assert np.abs(v).max() > 0


def test_set_particles_converts_and_refuses_with_the_name(quickstart):
    sim = meanfield.Simulation(quickstart)
    theta = sim.particles
    sim.set_particles(theta.tolist())
    assert sim.particles.tobytes() == theta.tobytes()
    sim.set_particles(theta.astype(np.float32))
    np.testing.assert_array_equal(sim.particles, theta.astype(np.float32).astype(np.float64))
    fortran = np.asfortranarray(theta)
    sim.set_particles(fortran)
    wide = np.zeros((theta.shape[0], 2 * theta.shape[1]))
    wide[:, ::2] = theta
    sim.set_particles(wide[:, ::2])  # non-contiguous
    assert sim.particles.tobytes() == theta.tobytes()
    with pytest.raises(ValueError, match=r"particles: shape \(50, 4\): expected \(50, 5\)"):
        sim.set_particles(theta[:, :4])
    bad = theta.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match="particles: row 7, column 2 is nan"):
        sim.set_particles(bad)
    with pytest.raises(TypeError, match="particles: dtype complex128"):
        sim.set_particles(theta.astype(complex))
    with pytest.raises(TypeError, match="particles: dtype object"):
        sim.set_particles([[None] * 5] * 50)
    assert sim.particles.tobytes() == theta.tobytes()


def test_the_core_refuses_bad_particles_too(quickstart):
    # The Rust side checks shape and finiteness itself: the Python layer is not the only guard.
    core = meanfield.Simulation(quickstart)._core
    with pytest.raises(ValueError, match="expected \\(50, 5\\)"):
        core.set_particles(b"\0" * 8 * 40, 10, 4)
    values = np.full((50, 5), np.inf)
    with pytest.raises(ValueError, match="row 0, column 0 is inf"):
        core.set_particles(values.tobytes(), 50, 5)


def test_a_simulation_only_goes_forward_and_counts_steps(quickstart):
    sim = meanfield.Simulation(quickstart)
    with pytest.raises(ValueError, match="n = -1"):
        sim.step(-1)
    sim.step(3)
    with pytest.raises(ValueError, match="only goes forward"):
        sim._core.step_to(1)
    assert "step 3" in repr(sim)


def test_a_diverging_simulation_raises_divergence_error(quickstart):
    sim = meanfield.Simulation(quickstart.set("dynamics.dt", 50.0))
    with pytest.raises(meanfield.DivergenceError) as info:
        sim.step(100)
    assert info.value.step == sim.step_index < 100
    assert "risk" in info.value.what
