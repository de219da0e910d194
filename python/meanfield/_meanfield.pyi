"""Type stubs of the extension module ``meanfield._meanfield`` (python/rust/*.rs): the Rust
functions underneath :mod:`meanfield`. Paths are ``str`` or ``os.PathLike``; sequences of
strings are lists or tuples (not a bare ``str``); ``progress`` is None or a callable
``progress(done, total, text)``; particle matrices cross as (row-major float64 bytes, rows,
columns)."""

import os
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Tuple, Union, final

_Path = Union[str, "os.PathLike[str]"]
_Progress = Optional[Callable[[int, int, str], Any]]
_Matrix = Tuple[bytes, int, int]

__all__ = [
    "bench",
    "gallery",
    "limit",
    "sweep",
    "run",
    "ScenarioCore",
    "SimulationCore",
    "_panic_for_test",
    "_panic_in_worker_for_test",
    "version",
]

def run(
    scenario: ScenarioCore,
    out: _Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_every: float = 300.0,
    threads: Optional[int] = None,
    progress: _Progress = None,
) -> str:
    """Runs ``scenario`` into ``out``; returns summary.json's text."""

def sweep(
    path: _Path,
    out: _Path,
    *,
    overrides: Sequence[str] = ...,
    widths: Optional[Sequence[int]] = None,
    seeds: Optional[int] = None,
    reference: Optional[str] = None,
    jobs: Optional[int] = None,
    overwrite: bool = False,
    threads: Optional[int] = None,
    progress: _Progress = None,
) -> str:
    """Runs and analyses a sweep (``meanfield sweep``); returns the execution counts as JSON."""

def limit(
    scenario: ScenarioCore,
    out: _Path,
    *,
    nodes: Optional[int] = None,
    angle_nodes: Optional[int] = None,
    overwrite: bool = False,
    threads: Optional[int] = None,
    progress: _Progress = None,
) -> str:
    """Solves the mean-field limit into ``out`` (``meanfield limit``); returns summary.json's
    text."""

def gallery(
    out: _Path,
    work: _Path,
    scenarios: _Path,
    *,
    only: Optional[str] = None,
    quick: bool = False,
    threads: Optional[int] = None,
    progress: _Progress = None,
) -> str:
    """Runs the gallery (``meanfield gallery``); returns gallery.json's entries as JSON."""

def bench(
    cases: Sequence[str],
    *,
    reps: int = 5,
    quick: bool = False,
    activation: str = "relu",
    device: str = "cpu",
    precision: str = "f64",
    threads: Optional[int] = None,
) -> str:
    """Times benchmark cases (``meanfield bench --json``); returns their records as a JSON
    array."""

def version() -> str:
    """The meanfield crate's version."""

def _panic_for_test() -> None: ...
def _panic_in_worker_for_test() -> None: ...
@final
class ScenarioCore:
    """A validated scenario (immutable; ``with_overrides`` returns a new one)."""

    @staticmethod
    def load(path: _Path, overrides: Sequence[str] = ...) -> ScenarioCore: ...
    @staticmethod
    def from_toml(text: str, overrides: Sequence[str] = ...) -> ScenarioCore: ...
    @staticmethod
    def from_json(json: str, overrides: Sequence[str] = ...) -> ScenarioCore: ...
    def with_overrides(self, more: Sequence[str]) -> ScenarioCore: ...
    def resolved_toml(self) -> str: ...
    def resolved_json(self) -> str: ...
    @property
    def source_toml(self) -> str: ...
    @property
    def file(self) -> Optional[Path]: ...
    @property
    def origin(self) -> str: ...
    @property
    def overrides(self) -> list[str]: ...
    @property
    def name(self) -> str: ...
    @property
    def m(self) -> int: ...
    @property
    def d(self) -> int: ...
    @property
    def columns(self) -> int: ...
    @property
    def steps(self) -> int: ...
    @property
    def dt(self) -> float: ...
    @property
    def seed(self) -> int: ...

@final
class SimulationCore:
    """A scenario's simulation at step 0, stepped forward from Python."""

    def __new__(cls, scenario: ScenarioCore, threads: Optional[int] = None) -> SimulationCore: ...
    def step(self, n: int, progress: _Progress = None) -> None: ...
    def step_to(self, to: int, progress: _Progress = None) -> None: ...
    def step_at_time(self, t: float) -> int: ...
    @property
    def step_index(self) -> int: ...
    def time_at(self, step: int) -> float: ...
    def risk(self) -> Tuple[float, Optional[float]]: ...
    def particles(self) -> _Matrix: ...
    def set_particles(self, bytes: bytes, rows: int, columns: int) -> None: ...
    def drift(self) -> _Matrix: ...
    def teacher(self) -> Optional[_Matrix]: ...
