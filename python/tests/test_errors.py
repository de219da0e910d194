"""Every error type, and no panic crossing into Python."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import meanfield
from meanfield import _meanfield


def test_divergence_error_carries_the_rows_kept(tmp_path, quickstart):
    with pytest.raises(meanfield.DivergenceError) as info:
        meanfield.run(quickstart.set("dynamics.dt", 50.0), out=tmp_path / "run", progress=False)
    error = info.value
    assert isinstance(error, ArithmeticError) and isinstance(error, meanfield.MeanfieldError)
    assert error.step > 0 and error.time == error.step * 50.0 and "risk" in error.what
    assert error.run.status == "diverged"
    rows = error.series["step"]
    assert len(rows) > 0 and rows[-1] < error.step
    assert np.isfinite(error.series["risk"]).all()
    assert np.isfinite(error.run.particles_last_finite).all()


def test_device_error_without_a_gpu(quickstart):
    if shutil.which("nvidia-smi"):
        pytest.skip("a GPU driver is present: device = 'cuda' may work here")
    with pytest.raises(meanfield.DeviceError, match="device cuda"):
        meanfield.run(quickstart.set("device", "cuda"), progress=False)


def test_run_directory_error_refuses_another_scenarios_run(tmp_path, quickstart):
    out = tmp_path / "run"
    meanfield.run(quickstart.set("dynamics.steps", 10), out=out, progress=False)
    with pytest.raises(meanfield.RunDirectoryError) as info:
        meanfield.run(quickstart.copy().set("model.m", 20), out=out, progress=False)
    assert "differing keys" in str(info.value) and "model.m" in str(info.value)
    assert info.value.dir == str(out)
    meanfield.run(quickstart.copy().set("model.m", 20), out=out, overwrite=True, progress=False)


def test_resume_needs_a_directory_and_a_checkpoint(tmp_path, quickstart):
    with pytest.raises(ValueError, match="resume=True needs out"):
        meanfield.run(quickstart, resume=True)
    out = tmp_path / "run"
    meanfield.run(quickstart.set("dynamics.steps", 10), out=out, progress=False)
    with pytest.raises(meanfield.FormatError, match="no checkpoint"):
        meanfield.run(quickstart, out=out, resume=True, progress=False)


def test_a_panic_is_a_runtime_error_not_a_crash():
    with pytest.raises(RuntimeError, match="meanfield panicked.*on purpose by _panic_for_test"):
        _meanfield._panic_for_test()
    with pytest.raises(RuntimeError, match="meanfield panicked.*on the worker thread"):
        _meanfield._panic_in_worker_for_test()
    # The module still works after both.
    assert meanfield.Scenario.from_dict({"model": {"d": 2, "m": 4}}).m == 4


def test_bad_arguments_are_value_errors(quickstart):
    with pytest.raises(ValueError, match="threads = 0"):
        meanfield.run(quickstart, threads=0, progress=False)
    with pytest.raises(ValueError, match="checkpoint_every"):
        meanfield.run(quickstart, checkpoint_every=0.0, progress=False)
