"""``meanfield.Simulation``: a scenario's particles stepped from Python. Stepping k times
gives, bit for bit, the particles of ``meanfield run`` at step k (the same loop; random
streams keyed by step), however the k steps are split into calls."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Union

import numpy as np

from . import _meanfield
from ._progress import Progress, reporting
from .commands import _scenario
from .scenario import Scenario, ScenarioLike


def _array(data: Any, rows: int, columns: int) -> np.ndarray:
    return np.frombuffer(data, dtype=np.float64).reshape(rows, columns).copy()


def as_particles(array: Any, shape: "tuple[int, int]", name: str = "particles") -> np.ndarray:
    """``array`` as a C-contiguous float64 array of ``shape`` with finite values: lists,
    float32, integer and non-contiguous arrays are converted; anything else is refused with a
    message naming ``name``."""
    try:
        values = np.asarray(array)
    except Exception as e:  # ragged lists and the like
        raise ValueError(f"{name}: cannot be read as an array: {e}") from e
    if values.dtype.kind not in "biuf":
        raise TypeError(
            f"{name}: dtype {values.dtype} is not real numbers: expected float64 "
            "(float32 and integer arrays are converted)"
        )
    values = np.ascontiguousarray(values, dtype=np.float64)
    if values.shape != tuple(shape):
        raise ValueError(
            f"{name}: shape {values.shape}: expected {tuple(shape)} "
            f"(m rows of a, w_1..w_d)"
        )
    finite = np.isfinite(values)
    if not finite.all():
        row, column = np.argwhere(~finite)[0]
        raise ValueError(
            f"{name}: row {row}, column {column} is {values[row, column]}: expected finite values"
        )
    return values


class Simulation:
    """A scenario's simulation, stepped from Python.

    >>> sim = Simulation("scenarios/quickstart.toml")
    >>> sim.step(100)          # 100 steps; returns the risk there
    >>> sim.time, sim.risk     # t_100, R(theta(t_100))
    >>> theta = sim.particles  # a copy, (m, 1 + d)
    >>> sim.run_until(5.0)
    """

    def __init__(
        self,
        scenario: ScenarioLike,
        *,
        threads: Optional[int] = None,
        overrides: Union[None, Mapping[str, Any], Iterable[str]] = None,
    ) -> None:
        self.scenario: Scenario = _scenario(scenario, overrides)
        self._core = _meanfield.SimulationCore(self.scenario._core, threads=threads)

    def step(self, n: int = 1, *, progress: Progress = False) -> float:
        """Takes ``n`` steps and returns the risk at the new state. Ctrl-C stops after the
        current step (the state stays consistent) and raises KeyboardInterrupt."""
        if int(n) != n or n < 0:
            raise ValueError(f"n = {n!r}: expected an integer >= 0")
        with reporting(progress, "steps", self.scenario.name) as callback:
            self._core.step(int(n), progress=callback)
        return self.risk

    def run_until(self, t: float, *, progress: Progress = False) -> float:
        """Steps until the first step whose time is >= ``t``; returns the risk there."""
        target = self._core.step_at_time(float(t))
        with reporting(progress, "steps", self.scenario.name) as callback:
            self._core.step_to(target, progress=callback)
        return self.risk

    @property
    def step_index(self) -> int:
        """The step k the particles are at."""
        return self._core.step_index

    @property
    def time(self) -> float:
        """t_k of the current step (k dt, or the clock of a dt schedule)."""
        return self._core.time_at(self._core.step_index)

    @property
    def risk(self) -> float:
        """The risk the dynamics descends, at the current particles (the online mode's batch
        of this step)."""
        return self._core.risk()[0]

    @property
    def test_risk(self) -> Optional[float]:
        """The held-out risk after a stepping call, in data modes with a test set."""
        return self._core.risk()[1]

    @property
    def particles(self) -> np.ndarray:
        """A copy of the particles, float64 (m, 1 + d): columns a, w_1..w_d."""
        return _array(*self._core.particles())

    def set_particles(self, particles: Any) -> None:
        """Replaces the particles (shape (m, 1 + d), finite; converted to float64)."""
        values = as_particles(particles, (self.scenario.m, self.scenario.columns))
        self._core.set_particles(values.tobytes(), values.shape[0], values.shape[1])

    def drift(self) -> np.ndarray:
        """The drift v(theta) at the current particles (m, 1 + d): the deterministic velocity
        the integrator follows (docs/math.md), without noise."""
        return _array(*self._core.drift())

    @property
    def teacher(self) -> Optional[np.ndarray]:
        """The teacher's neurons (k, 1 + d), or the target's directions; None without."""
        rows = self._core.teacher()
        return None if rows is None else _array(*rows)

    def __repr__(self) -> str:
        return f"Simulation({self.scenario.name!r}: step {self.step_index}, t = {self.time})"
