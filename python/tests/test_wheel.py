"""The abi3 wheel: built once, installed into a fresh virtual environment with NumPy as its
only dependency, and working there. Builds a wheel and a venv (about a minute), so it runs
where CI is set (.ci/run) or MEANFIELD_TEST_WHEEL=1."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import QUICKSTART, ROOT

pytestmark = pytest.mark.skipif(
    not (os.environ.get("CI") or os.environ.get("MEANFIELD_TEST_WHEEL")),
    reason="builds a wheel and a virtual environment: set MEANFIELD_TEST_WHEEL=1 (CI does)",
)

CHECK = f"""
import meanfield, numpy
run = meanfield.run({str(QUICKSTART)!r}, overrides={{"dynamics.steps": 20, "record.figures": False}}, progress=False)
assert run.particles_final.shape == (50, 5) and run.series["step"][-1] == 20
print("ok", meanfield.__version__)
"""


def test_the_abi3_wheel_installs_into_a_second_environment(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT / "python")],
        check=True,
    )
    (wheel,) = wheels.glob("*.whl")
    assert re.fullmatch(r"meanfield-0\.1\.0-cp39-abi3-.*\.whl", wheel.name), wheel.name
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True)
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True
    ).stdout
    installed = {line.split("==")[0].lower() for line in listed.split()} - {"pip", "setuptools", "wheel"}
    assert installed == {"meanfield", "numpy"}, installed
    out = subprocess.run([str(python), "-c", CHECK], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok 0.1.0")
