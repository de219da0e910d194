"""The CLI's commands as functions: :func:`run`, :func:`sweep`, :func:`limit`,
:func:`gallery` and :func:`bench` call the same Rust library functions as ``meanfield run``,
``sweep``, ``limit``, ``gallery`` and ``bench`` and write the same files; they return the
directory read back (:class:`meanfield.Run`, :class:`meanfield.Sweep`) or the records.

The GIL is released while Rust works, so a call in a thread leaves the notebook responsive;
Ctrl-C stops the work after its current step and raises KeyboardInterrupt (a run in a run
directory leaves its checkpoint: ``run(..., out=DIR, resume=True)`` continues it bit for bit).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import _meanfield
from ._progress import Progress, reporting
from .errors import DivergenceError
from .runs import PathLike, Run, Sweep
from .scenario import Scenario, ScenarioLike, _overrides


def _scenario(scenario: ScenarioLike, overrides: Any) -> Scenario:
    sc = Scenario.coerce(scenario)
    if overrides:
        sc = sc.copy().update(overrides) if isinstance(overrides, Mapping) else Scenario(
            sc._core.with_overrides(_overrides(overrides))
        )
    return sc


def _directory(
    out: Optional[PathLike], name: str
) -> Tuple[Path, Optional["tempfile.TemporaryDirectory[str]"]]:
    if out is not None:
        return Path(out), None
    keep = tempfile.TemporaryDirectory(prefix=f"meanfield-{name}-")
    return Path(keep.name) / name, keep


def run(
    scenario: ScenarioLike,
    out: Optional[PathLike] = None,
    *,
    threads: Optional[int] = None,
    progress: Progress = True,
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_every: float = 300.0,
    overrides: Union[None, Mapping[str, Any], Iterable[str]] = None,
) -> Run:
    """Runs a scenario (a :class:`Scenario`, a TOML path or a dict) as ``meanfield run`` does
    and returns its :class:`Run`.

    ``out``: the run directory (None: a temporary one, kept while the Run lives; ``run.save``
    copies it). ``threads``: rayon threads (None: all cores; results are bit-identical on any
    count). ``progress``: a bar (True), none (False) or ``callable(done, total, text)``.
    ``resume`` continues an interrupted run in ``out``; ``overwrite`` replaces another
    scenario's run there. ``overrides``: ``{key: value}`` applied first, as ``--set``.

    Raises :class:`ScenarioError`, :class:`DivergenceError` (its ``run`` holds the rows kept),
    :class:`RunDirectoryError`, :class:`DeviceError`, KeyboardInterrupt.
    """
    sc = _scenario(scenario, overrides)
    if resume and out is None:
        raise ValueError("resume=True needs out=DIR: the run directory to continue")
    directory, keep = _directory(out, sc.name)
    with reporting(progress, "steps", sc.name) as callback:
        try:
            _meanfield.run(
                sc._core,
                os.fspath(directory),
                resume=resume,
                overwrite=overwrite,
                checkpoint_every=checkpoint_every,
                threads=threads,
                progress=callback,
            )
        except DivergenceError as error:
            if (directory / "series.csv").is_file():
                error.run = Run(directory, keep)
                error.series = error.run.series
            raise
    return Run(directory, keep)


def sweep(
    scenario: Union[PathLike, Scenario],
    out: Optional[PathLike] = None,
    *,
    widths: Optional[Sequence[int]] = None,
    seeds: Optional[int] = None,
    reference: Optional[str] = None,
    jobs: Optional[int] = None,
    overwrite: bool = False,
    threads: Optional[int] = None,
    progress: Progress = True,
    overrides: Union[None, Mapping[str, Any], Iterable[str]] = None,
) -> Sweep:
    """Runs a sweep over widths and seeds and analyses it against its reference, as
    ``meanfield sweep`` does (finished runs in ``out`` are reused); returns the
    :class:`Sweep`. ``scenario`` is a TOML file with a ``[sweep]`` section, or a Scenario
    loaded from one (its overrides apply); ``widths``, ``seeds`` and ``reference`` are the
    CLI's ``--widths``, ``--seeds`` and ``--reference``. ``out`` None: a temporary
    directory."""
    extra = _overrides(overrides)
    if isinstance(scenario, Scenario):
        if scenario.file is None:
            raise ValueError(
                "sweep needs a scenario file (its [sweep] section and relative paths are the "
                "file's): Scenario.load(path), or a path"
            )
        path, extra = scenario.file, scenario.overrides + extra
        name = scenario.name
    else:
        path = os.fspath(scenario)
        name = Path(path).stem
    directory, keep = _directory(out, name)
    with reporting(progress, "runs", name) as callback:
        _meanfield.sweep(
            path,
            os.fspath(directory),
            overrides=extra,
            widths=None if widths is None else [int(w) for w in widths],
            seeds=seeds,
            reference=reference,
            jobs=jobs,
            overwrite=overwrite,
            threads=threads,
            progress=callback,
        )
    return Sweep(directory, keep)


def limit(
    scenario: ScenarioLike,
    out: Optional[PathLike] = None,
    *,
    nodes: Optional[int] = None,
    angle_nodes: Optional[int] = None,
    overwrite: bool = False,
    threads: Optional[int] = None,
    progress: Progress = True,
    overrides: Union[None, Mapping[str, Any], Iterable[str]] = None,
) -> Run:
    """Solves the exact mean-field limit (m -> infinity) of a scenario with rotation symmetry,
    as ``meanfield limit`` does (docs/limit.md); returns its run directory as a :class:`Run`
    (series.csv holds the limit risk; ``summary`` the error estimates)."""
    sc = _scenario(scenario, overrides)
    directory, keep = _directory(out, f"{sc.name}-limit")
    with reporting(progress, "steps", f"{sc.name} (limit)") as callback:
        _meanfield.limit(
            sc._core,
            os.fspath(directory),
            nodes=nodes,
            angle_nodes=angle_nodes,
            overwrite=overwrite,
            threads=threads,
            progress=callback,
        )
    return Run(directory, keep)


def gallery(
    only: Optional[str] = None,
    *,
    quick: bool = False,
    out: PathLike = "plots/gallery",
    work: Optional[PathLike] = None,
    scenarios: PathLike = "scenarios/gallery",
    threads: Optional[int] = None,
    progress: Progress = True,
) -> List[Dict[str, Any]]:
    """Runs the gallery (every entry, or ``only``) as ``meanfield gallery`` does: figures,
    gallery.json and summary.md in ``out``, runs in ``work`` (default gallery_runs, or
    gallery_runs/quick), entry scenarios from ``scenarios`` (else the built-in copies).
    Returns each entry's name, title, figures (paths under ``out``), numbers and checks."""
    if work is None:
        work = "gallery_runs/quick" if quick else "gallery_runs"
    with reporting(progress, "entries", "gallery") as callback:
        text = _meanfield.gallery(
            os.fspath(out),
            os.fspath(work),
            os.fspath(scenarios),
            only=only,
            quick=quick,
            threads=threads,
            progress=callback,
        )
    entries: List[Dict[str, Any]] = json.loads(text)
    for entry in entries:
        entry["figures"] = [Path(out) / f for f in entry.get("figures", [])]
    return entries


def bench(
    cases: Union[str, Sequence[str]] = "all",
    *,
    reps: int = 5,
    quick: bool = False,
    activation: str = "relu",
    device: str = "cpu",
    precision: str = "f64",
    threads: Optional[int] = None,
) -> List[Dict[str, Any]]:
    """Times the benchmark cases (``meanfield bench --json``: data1, data2, pop1, pop2, or
    ``"all"``) after their gradient self-check; returns one record per case (seconds per
    step, GFLOP/s, the fraction of the GEMM rate, threads, activation). ``activation`` is
    ``--activation``: the student's and teacher's (tanh, sigmoid and softplus use a numerical
    kernel in population mode: use ``quick=True``)."""
    names = [cases] if isinstance(cases, str) else list(cases)
    records: List[Dict[str, Any]] = json.loads(
        _meanfield.bench(
            names,
            reps=reps,
            quick=quick,
            activation=activation,
            device=device,
            precision=precision,
            threads=threads,
        )
    )
    return records
