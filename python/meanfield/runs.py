"""Run and sweep directories as Python objects: :class:`Run` reads any run directory (made by
``meanfield.run``, ``meanfield.limit``, the CLI, a sweep or the gallery) into NumPy arrays,
lazily; :class:`Sweep` reads a sweep directory. The directory is the truth: nothing here
writes to it."""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np

from .errors import RunDirectoryError

PathLike = Union[str, "os.PathLike[str]"]


def read_csv(path: Path) -> Dict[str, np.ndarray]:
    """A CSV file as ``{column: array}``: float64 where every value is a number (the files
    write round-trip floats, so the values are bit for bit those the run computed), else
    strings."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    columns: Dict[str, np.ndarray] = {}
    for i, name in enumerate(header):
        values = [row[i] if i < len(row) else "" for row in body]
        try:
            columns[name] = np.array(
                [float(v) if v != "" else np.nan for v in values], dtype=np.float64
            )
        except ValueError:
            columns[name] = np.array(values, dtype=str)
    return columns


def _frame(columns: Dict[str, np.ndarray]) -> Any:
    try:
        import pandas as pd  # type: ignore[import-untyped,unused-ignore]
    except ImportError as e:
        raise ImportError(
            "series_frame() needs pandas (pip install pandas); run.series is the same data as "
            "a dict of NumPy arrays"
        ) from e
    return pd.DataFrame(columns)


class _Directory:
    """What run and sweep directories share: the folder, a temporary folder kept alive, the
    figures, saving a copy."""

    def __init__(self, directory: PathLike, keep: Optional["tempfile.TemporaryDirectory[str]"] = None):
        self.dir = Path(directory)
        self._keep = keep

    @property
    def temporary(self) -> bool:
        """Whether the directory is a temporary one (``out=None``), removed with this object;
        :meth:`save` keeps a copy."""
        return self._keep is not None

    def save(self, destination: PathLike) -> "Path":
        """Copies the directory to ``destination`` (which must not exist) and returns it."""
        destination = Path(destination)
        shutil.copytree(self.dir, destination)
        return destination

    @property
    def figures(self) -> Dict[str, Path]:
        """The figures the run drew (plots/*.png, by name; SVG beside them)."""
        plots = self.dir / "plots"
        if not plots.is_dir():
            return {}
        return {p.stem: p for p in sorted(plots.glob("*.png"))}

    def _json(self, name: str) -> Dict[str, Any]:
        path = self.dir / name
        with open(path) as handle:
            data: Dict[str, Any] = json.load(handle)
        return data


def _npy(path: Path) -> Optional[np.ndarray]:
    return np.load(path) if path.is_file() else None


class Run(_Directory):
    """A run directory as NumPy arrays (README.md, "The run directory"). Every attribute reads
    its file once, on first use.

    - ``series``: ``{column: array}`` of series.csv (step, time, risk, ...);
      :meth:`series_frame` is the same as a pandas DataFrame.
    - ``particles_init``, ``particles_final``: float64 arrays of shape (m, 1 + d), columns
      a, w_1..w_d (``particles_final`` is None unless the run finished).
    - ``teacher``: (k, 1 + d), or None.
    - ``summary``: summary.json as a dict; ``status`` its status.
    - ``snapshots``: ``{step: array}`` (a subsample of the particles when
      ``summary["snapshot_subsampled"]``: rows ``snapshot_indices``).
    - ``measures``: ``{column: array}`` of measures.csv; ``marginals``: ``{quantity:
      {column: array}}``; ``figures``: ``{name: path}``; ``scenario``: its
      :class:`meanfield.Scenario`.
    """

    def __init__(self, directory: PathLike, keep: Optional["tempfile.TemporaryDirectory[str]"] = None):
        super().__init__(directory, keep)
        if not self.dir.is_dir():
            raise RunDirectoryError(f"run directory {self.dir}: no such directory", dir=str(self.dir))
        if not (self.dir / "series.csv").is_file() and not (self.dir / "summary.json").is_file():
            raise RunDirectoryError(
                f"run directory {self.dir}: not a run directory (no series.csv, no summary.json)",
                dir=str(self.dir),
            )

    @cached_property
    def series(self) -> Dict[str, np.ndarray]:
        return read_csv(self.dir / "series.csv")

    def series_frame(self) -> Any:
        """``series`` as a pandas DataFrame (needs pandas)."""
        return _frame(self.series)

    @cached_property
    def measures(self) -> Dict[str, np.ndarray]:
        path = self.dir / "measures.csv"
        return read_csv(path) if path.is_file() else {}

    @cached_property
    def summary(self) -> Dict[str, Any]:
        return self._json("summary.json")

    @property
    def status(self) -> str:
        """``finished``, ``interrupted`` or ``diverged``."""
        return str(self.summary.get("status"))

    @cached_property
    def particles_init(self) -> Optional[np.ndarray]:
        return _npy(self.dir / "particles_init.npy")

    @cached_property
    def particles_final(self) -> Optional[np.ndarray]:
        return _npy(self.dir / "particles_final.npy")

    @cached_property
    def particles_last_finite(self) -> Optional[np.ndarray]:
        """A diverged run's last finite particles (None otherwise)."""
        return _npy(self.dir / "particles_last_finite.npy")

    @cached_property
    def teacher(self) -> Optional[np.ndarray]:
        return _npy(self.dir / "teacher.npy")

    @cached_property
    def snapshots(self) -> Dict[int, np.ndarray]:
        folder = self.dir / "snapshots"
        if not folder.is_dir():
            return {}
        steps = sorted(
            int(p.stem[len("step_"):]) for p in folder.glob("step_*.npy") if p.stem[5:].isdigit()
        )
        return {step: np.load(folder / f"step_{step}.npy") for step in steps}

    @cached_property
    def snapshot_indices(self) -> Optional[np.ndarray]:
        """Which particles the snapshots hold (row indices into the particle arrays)."""
        indices = _npy(self.dir / "snapshots" / "indices.npy")
        return None if indices is None else indices.astype(np.int64).ravel()

    @cached_property
    def marginals(self) -> Dict[str, Dict[str, np.ndarray]]:
        """``{quantity: {column: array}}`` of marginals_<quantity>.csv: step, time, then one
        density column per bin, named by the bin centre."""
        return {
            p.stem[len("marginals_"):]: read_csv(p)
            for p in sorted(self.dir.glob("marginals_*.csv"))
        }

    @cached_property
    def scenario(self) -> Any:
        """The run's resolved scenario (scenario.toml) as a :class:`meanfield.Scenario`."""
        from .scenario import Scenario

        return Scenario.load(self.dir / "scenario.toml")

    @property
    def report(self) -> Optional[Path]:
        """report.html, where the run drew figures."""
        path = self.dir / "report.html"
        return path if path.is_file() else None

    def __repr__(self) -> str:
        try:
            s = self.summary
            facts = f"{s.get('status')}, step {s.get('step')}, risk {s.get('final_risk'):.4e}"
        except (OSError, ValueError, TypeError):
            facts = "no summary"
        return f"Run({str(self.dir)!r}: {facts})"


class Sweep(_Directory):
    """A sweep directory (README.md, "Finite m against the limit: sweeps"):
    ``stats`` (sweep_stats.csv: mean, SE and deviation from the reference per observable,
    width and logged step), ``table`` (sweep.csv: every run's rows), ``summary``
    (sweep_summary.json: fitted exponents with intervals), ``plan`` and ``runs()``."""

    def __init__(self, directory: PathLike, keep: Optional["tempfile.TemporaryDirectory[str]"] = None):
        super().__init__(directory, keep)
        if not (self.dir / "sweep_plan.json").is_file():
            raise RunDirectoryError(
                f"sweep directory {self.dir}: not a sweep directory (no sweep_plan.json)",
                dir=str(self.dir),
            )

    @cached_property
    def stats(self) -> Dict[str, np.ndarray]:
        path = self.dir / "sweep_stats.csv"
        return read_csv(path) if path.is_file() else {}

    def stats_frame(self) -> Any:
        """``stats`` as a pandas DataFrame (needs pandas)."""
        return _frame(self.stats)

    @cached_property
    def table(self) -> Dict[str, np.ndarray]:
        path = self.dir / "sweep.csv"
        return read_csv(path) if path.is_file() else {}

    @cached_property
    def summary(self) -> Dict[str, Any]:
        path = self.dir / "sweep_summary.json"
        return self._json("sweep_summary.json") if path.is_file() else {}

    @cached_property
    def plan(self) -> Dict[str, Any]:
        return self._json("sweep_plan.json")

    def runs(self) -> List[Run]:
        """Every run directory of the sweep, in name order."""
        folder = self.dir / "runs"
        if not folder.is_dir():
            return []
        return [Run(p) for p in sorted(folder.iterdir()) if (p / "summary.json").is_file()]

    def __repr__(self) -> str:
        widths = self.summary.get("widths", [])
        return f"Sweep({str(self.dir)!r}: widths {widths})"


def load_run(directory: PathLike) -> Run:
    """Reads any run directory (``meanfield run``, ``meanfield limit``, a sweep's run)."""
    return Run(directory)


def load_sweep(directory: PathLike) -> Sweep:
    """Reads a sweep directory (``meanfield sweep``)."""
    return Sweep(directory)
