"""The exceptions of meanfield: each library error arrives as one of these, with its facts as
attributes (a Rust panic, which is a bug, arrives as ``RuntimeError``)."""

from __future__ import annotations

from typing import Any, Dict, Optional


class MeanfieldError(Exception):
    """Base class of meanfield's own errors."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        for key, value in fields.items():
            setattr(self, key, value)


class ScenarioError(MeanfieldError, ValueError):
    """A scenario key has a value that is not allowed, is unknown, or has the wrong type.

    Attributes: ``file`` (the scenario file, ``<dict>``, ``<text>`` or ``--set``), ``key``
    (the dotted key path, e.g. ``dynamics.dt``), ``line`` and ``column`` (1-based, where the
    key is written in a file; else None) and ``message`` (the whole message, as the CLI
    prints it).
    """

    file: Optional[str]
    key: Optional[str]
    line: Optional[int]
    column: Optional[int]

    def __init__(
        self,
        message: str,
        file: Optional[str] = None,
        key: Optional[str] = None,
        line: Optional[int] = None,
        column: Optional[int] = None,
    ) -> None:
        super().__init__(message, file=file, key=key, line=line, column=column)


class DivergenceError(MeanfieldError, ArithmeticError):
    """The dynamics produced a non-finite risk or particle.

    Attributes: ``step`` and ``time`` where it was first seen, ``what`` was non-finite, and,
    for a run (``meanfield.run``), ``run``: the :class:`meanfield.Run` of its directory with
    every row logged before the divergence (``run.series``) and the last finite particles
    (``run.particles_last_finite``); ``series`` is ``run.series`` (None for a Simulation).
    """

    step: int
    time: float
    what: str
    run: Optional[Any] = None
    series: Optional[Dict[str, Any]] = None


class DeviceError(MeanfieldError, RuntimeError):
    """The GPU backend (``device = "cuda"``) is not available or failed."""


class RunDirectoryError(MeanfieldError):
    """A run directory cannot take the run as asked (another scenario's run, an interrupted
    run to resume, or run files without a scenario.toml). Attribute: ``dir``."""

    dir: str


class FormatError(MeanfieldError, ValueError):
    """A file was read but its content is malformed (a bad .npy header, a wrong shape).
    Attribute: ``path``."""

    path: str


class SelfCheckError(MeanfieldError):
    """``meanfield.bench``'s self-check failed: the optimised gradient differs from the
    reference."""


__all__ = [
    "MeanfieldError",
    "ScenarioError",
    "DivergenceError",
    "DeviceError",
    "RunDirectoryError",
    "FormatError",
    "SelfCheckError",
]
