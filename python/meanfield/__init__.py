"""meanfield: mean-field dynamics of wide two-layer neural networks, from Python.

The Rust engine of the ``meanfield`` command line, with scenarios as data and results as
NumPy arrays. A run writes the same run directory as ``meanfield run``, bit for bit.

>>> import meanfield
>>> sc = meanfield.Scenario.load("scenarios/quickstart.toml").set("model.m", 256)
>>> run = meanfield.run(sc)                 # a temporary run directory, kept by `run`
>>> run.series["risk"], run.particles_final.shape
>>> sim = meanfield.Simulation(sc); sim.step(10); sim.particles

Scenario, run, load_run, Simulation, sweep, load_sweep, limit, gallery, bench; the
exceptions in :mod:`meanfield.errors`; figures with matplotlib in :mod:`meanfield.plot`.
"""

from . import errors
from ._meanfield import version as _version
from .commands import bench, gallery, limit, run, sweep
from .errors import (
    DeviceError,
    DivergenceError,
    FormatError,
    MeanfieldError,
    RunDirectoryError,
    ScenarioError,
    SelfCheckError,
)
from .runs import Run, Sweep, load_run, load_sweep
from .scenario import Scenario
from .simulation import Simulation

__version__ = _version()

__all__ = [
    "Scenario",
    "run",
    "Run",
    "load_run",
    "Simulation",
    "sweep",
    "Sweep",
    "load_sweep",
    "limit",
    "gallery",
    "bench",
    "errors",
    "MeanfieldError",
    "ScenarioError",
    "DivergenceError",
    "DeviceError",
    "RunDirectoryError",
    "FormatError",
    "SelfCheckError",
]
