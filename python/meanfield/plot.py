"""Figures of runs and sweeps with matplotlib (an optional dependency:
``pip install matplotlib``, or ``pip install meanfield[plot]``).

>>> import meanfield, meanfield.plot
>>> run = meanfield.run("scenarios/quickstart.toml")
>>> meanfield.plot.series(run)          # risk against time, log-y
>>> meanfield.plot.cloud(run)           # the particles in the (w_1, w_2) plane

Each function draws on ``ax`` (a new figure when None) and returns the Axes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from .runs import Run, Sweep

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Array = npt.NDArray[np.float64]

POSITIVE = "#0072B2"  # Okabe-Ito blue: a >= 0
NEGATIVE = "#D55E00"  # Okabe-Ito vermilion: a < 0
TEACHER = "#000000"


def _axes(ax: Optional["Axes"]) -> "Axes":
    """``ax``, or the Axes of a new figure; a clear ImportError without matplotlib."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(
            "meanfield.plot needs matplotlib: pip install matplotlib "
            "(or pip install meanfield[plot])"
        ) from e
    if ax is not None:
        return ax
    _, new = plt.subplots(layout="constrained")  # room for a legend outside the axes
    return new


def _label(run: Run) -> str:
    """A run's name: its scenario's name from summary.json, else its directory's name."""
    try:
        return str(run.summary.get("name") or run.dir.name)
    except (OSError, ValueError):
        return run.dir.name


def series(
    run_or_runs: Union[Run, Sequence[Run]],
    y: str = "risk",
    x: str = "time",
    ax: Optional["Axes"] = None,
    logy: bool = True,
    label: Union[None, str, Sequence[str]] = None,
) -> "Axes":
    """Column ``y`` of series.csv against column ``x`` (``time``: the axis is labelled t), one
    line per run. ``label``: one per run; by default the run's scenario name, or ``m = ...``
    when the runs have different widths (then a legend is drawn for several runs). ``logy``:
    log scale on y where every plotted value is positive (risk-like columns); a column with
    values <= 0 stays linear."""
    axes = _axes(ax)
    runs = [run_or_runs] if isinstance(run_or_runs, Run) else list(run_or_runs)
    if isinstance(label, str):
        labels = [label] * len(runs)
    elif label is not None:
        labels = list(label)
        if len(labels) != len(runs):
            raise ValueError(f"label: {len(labels)} labels for {len(runs)} runs")
    else:
        widths = [r.summary.get("m") for r in runs]
        different = len(set(widths)) > 1
        labels = [f"m = {w}" if different else _label(r) for r, w in zip(runs, widths)]
    positive = True
    for run, name in zip(runs, labels):
        data = run.series
        for column in (x, y):
            if column not in data:
                raise KeyError(f"{run.dir}: series.csv has no column {column!r}: {list(data)}")
        values = data[y][np.isfinite(data[y])]
        positive = positive and bool(np.all(values > 0))
        axes.plot(data[x], data[y], label=name, linewidth=1.5)
    if logy and positive:
        axes.set_yscale("log")
    axes.set_xlabel("t" if x == "time" else x)
    axes.set_ylabel(y)
    if len(runs) > 1 or label is not None:
        axes.legend(frameon=False)
    return axes


def _size(a: Array, scale: float) -> Array:
    """Marker areas proportional to |a|, the median particle at 20 pt^2 (at least 1)."""
    return np.clip(20.0 * np.abs(a) / scale, 1.0, 400.0)


def _proxy(colour: str, marker: str, alpha: float, label: str) -> Any:
    """A legend entry: one marker of a fixed size."""
    from matplotlib.lines import Line2D

    return Line2D([], [], color=colour, marker=marker, alpha=alpha, linestyle="none",
                  markersize=7, label=label)


def cloud(
    run_or_particles: Union[Run, Array],
    step: Optional[int] = None,
    ax: Optional["Axes"] = None,
    teacher: Union[bool, Array, None] = True,
    columns: Tuple[int, int] = (1, 2),
) -> "Axes":
    """The particle cloud: w_i against w_j (``columns`` of the particle array: 0 is a, 1..d
    are w_1..w_d), marker area proportional to |a| (the median particle readable), blue for
    a >= 0 and vermilion for a < 0. For a Run: the initial particles faint, the final ones (or
    the snapshot at ``step``) solid, and the teacher's directions (rows [a*, w*]) as rays with
    stars, scaled to the cloud. For an array: that cloud; ``teacher`` may be a (k, 1 + d)
    array (e.g. ``Simulation.teacher``)."""
    axes = _axes(ax)
    i, j = columns
    initial: Optional[Array] = None
    teachers: Optional[Array] = teacher if isinstance(teacher, np.ndarray) else None
    title = None
    if isinstance(run_or_particles, Run):
        run = run_or_particles
        initial = run.particles_init
        if step is not None:
            if step not in run.snapshots:
                raise KeyError(f"step {step}: no snapshot; the run has {list(run.snapshots)}")
            final = run.snapshots[step]
            if initial is not None and run.snapshot_indices is not None:
                initial = initial[run.snapshot_indices]
            steps, times = run.series.get("step"), run.series.get("time")
            if steps is not None and times is not None and np.any(steps == step):
                title = f"particles at t = {float(times[steps == step][0]):g}"
        elif run.particles_final is not None:
            final = run.particles_final
            title = f"particles at t = {float(run.summary.get('time', np.nan)):g}"
        elif run.snapshots:
            final = run.snapshots[max(run.snapshots)]
        else:
            raise ValueError(f"{run.dir}: no final particles and no snapshots")
        if teacher is True:
            teachers = run.teacher
    else:
        final = np.asarray(run_or_particles, dtype=np.float64)
    if final.ndim != 2 or max(i, j) >= final.shape[1]:
        raise ValueError(f"columns {columns}: particles of shape {final.shape}")
    scale = float(np.median(np.abs(final[:, 0]))) or 1.0
    for cloud_, alpha in ((initial, 0.2), (final, 0.85)):
        if cloud_ is not None:
            colours = np.where(cloud_[:, 0] >= 0, POSITIVE, NEGATIVE)
            axes.scatter(cloud_[:, i], cloud_[:, j], s=_size(cloud_[:, 0], scale), c=colours,
                         alpha=alpha, linewidths=0)
    handles = [_proxy(POSITIVE, "o", 0.85, "a > 0"), _proxy(NEGATIVE, "o", 0.85, "a < 0")]
    if initial is not None:
        handles.append(_proxy("#777777", "o", 0.3, "initial"))
    if teachers is not None and teachers.size:
        plane = teachers[:, [i, j]]
        radius = float(np.max(np.hypot(final[:, i], final[:, j])))
        longest = float(np.max(np.hypot(plane[:, 0], plane[:, 1]))) or 1.0
        for u, v in plane * (radius / longest):
            axes.plot([0.0, u], [0.0, v], color=TEACHER, linewidth=1.0, linestyle="--")
            axes.plot([u], [v], marker="*", markersize=11, color=TEACHER, linestyle="none")
        handles.append(_proxy(TEACHER, "*", 1.0, "teacher"))
    names = ["a"] + [f"w_{{{c}}}" for c in range(1, final.shape[1])]
    axes.set_xlabel(f"${names[i]}$")
    axes.set_ylabel(f"${names[j]}$")
    axes.set_aspect("equal", adjustable="datalim")
    if title:
        axes.set_title(title)
    axes.legend(handles=handles, fontsize="small", frameon=False, loc="center left",
                bbox_to_anchor=(1.0, 0.5), handletextpad=0.2)  # outside: no data hidden
    return axes


def sweep(
    sweep: Sweep,
    observable: str = "risk",
    step: Optional[int] = None,
    ax: Optional["Axes"] = None,
) -> "Axes":
    """|deviation_mean| (the mean over seeds of the deviation from the reference) with bars of
    ± 2 deviation_se (a bar that would reach 0 stops at a tenth of the value, as the axis is
    logarithmic) against the width m, log-log, at the last logged step (or ``step``), from
    the rows of ``sweep.stats`` with ``observable`` (sweep_stats.csv)."""
    axes = _axes(ax)
    from matplotlib.ticker import NullFormatter

    stats: Dict[str, Any] = sweep.stats
    if "observable" not in stats:
        raise ValueError(f"{sweep.dir}: no sweep_stats.csv rows (has the sweep been analysed?)")
    rows = stats["observable"] == observable
    if not np.any(rows):
        raise ValueError(
            f"observable {observable!r}: not in sweep_stats.csv: {sorted(set(stats['observable']))}"
        )
    if step is None:
        step = int(np.max(stats["step"][rows]))
    rows &= stats["step"] == step
    if not np.any(rows):
        raise ValueError(f"observable {observable!r}: no rows at step {step}")
    order = np.argsort(stats["m"][rows])
    m = stats["m"][rows][order]
    deviation = np.abs(stats["deviation_mean"][rows][order])
    se = stats["deviation_se"][rows][order]
    if not np.any(np.isfinite(deviation)):
        raise ValueError(f"observable {observable!r}: no deviations (no reference?)")
    lower = np.minimum(2 * se, 0.9 * deviation)  # a bar reaching 0 stops at a tenth (log axis)
    axes.errorbar(m, deviation, yerr=[lower, 2 * se], fmt="o-", color=POSITIVE, capsize=3,
                  label=f"|{observable} - reference| ± 2 SE")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(m, labels=[f"{int(w)}" for w in m])
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("m")
    axes.set_ylabel(f"|deviation of {observable}|")
    time = stats["time"][rows][0] if "time" in stats else None
    axes.set_title(f"step {step}" + (f", t = {float(time):g}" if time is not None else ""))
    axes.legend(fontsize="small", frameon=False)
    return axes
