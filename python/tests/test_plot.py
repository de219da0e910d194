"""meanfield.plot and examples/python/quickstart.py: the example writes a real figure, each
plot function draws, and without matplotlib the error says how to install it."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

import meanfield
import meanfield.plot

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.toml"


@pytest.fixture
def pyplot() -> Iterator[Any]:
    """matplotlib.pyplot on the Agg backend (the test is skipped without matplotlib); every
    figure is closed afterwards."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.fixture(scope="module")
def small_run() -> meanfield.Run:
    return meanfield.run(QUICKSTART, overrides={"dynamics.steps": 40}, progress=False)


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory: pytest.TempPathFactory) -> meanfield.Sweep:
    return meanfield.sweep(
        ROOT / "scenarios" / "finite_m_relu_teacher.toml",
        tmp_path_factory.mktemp("sweep") / "sweep",
        widths=[16, 64, 256],
        seeds=2,
        progress=False,
    )


def drawn(ax: Any) -> int:
    """How many data artists the Axes holds (lines, scatters, bars)."""
    return len(ax.lines) + len(ax.collections) + len(ax.patches)


def legend(ax: Any) -> list[str]:
    """The texts of the Axes' legend."""
    assert ax.get_legend() is not None
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_quickstart_example_writes_a_figure(pyplot: Any, tmp_path: Path) -> None:
    out = tmp_path / "quickstart.png"
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "python" / "quickstart.py"), "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert out.is_file()
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert 600 <= width <= 2000, width
    assert 200 <= height <= 2000, height
    import matplotlib.image

    pixels = matplotlib.image.imread(out)
    assert pixels.shape[:2] == (height, width)
    rgb = pixels[..., :3].astype(np.float64)
    assert rgb.std() > 0.01
    non_white = np.any(rgb < 0.98, axis=-1)
    assert non_white.mean() > 0.01
    assert "bit for bit: True" in done.stdout


def test_series(pyplot: Any, small_run: meanfield.Run) -> None:
    ax = meanfield.plot.series(small_run)
    assert drawn(ax) == 1
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "t"
    assert ax.get_ylabel() == "risk"
    ax = meanfield.plot.series([small_run, small_run], y="a_mean", label=["one", "two"])
    assert drawn(ax) == 2
    assert legend(ax) == ["one", "two"]
    with pytest.raises(KeyError, match="no column"):
        meanfield.plot.series(small_run, y="no such column")


def test_series_labels_runs_by_width(pyplot: Any, small_sweep: meanfield.Sweep) -> None:
    runs = small_sweep.runs()
    widths = sorted({r.summary["m"] for r in runs})
    picked = [next(r for r in runs if r.summary["m"] == m) for m in widths]
    ax = meanfield.plot.series(picked)
    assert legend(ax) == [f"m = {m}" for m in widths]


def test_cloud(pyplot: Any, small_run: meanfield.Run) -> None:
    fig, ax = pyplot.subplots()
    assert meanfield.plot.cloud(small_run, ax=ax) is ax
    assert drawn(ax) >= 3  # initial and final particles, teacher rays
    assert ax.get_xlabel() == "$w_{1}$"
    step = max(small_run.snapshots)
    assert drawn(meanfield.plot.cloud(small_run, step=step, columns=(0, 3))) >= 2
    sim = meanfield.Simulation(QUICKSTART)
    ax = meanfield.plot.cloud(sim.particles, teacher=sim.teacher)
    assert drawn(ax) >= 2
    with pytest.raises(KeyError, match="no snapshot"):
        meanfield.plot.cloud(small_run, step=10**9)


def test_sweep(pyplot: Any, small_sweep: meanfield.Sweep) -> None:
    ax = meanfield.plot.sweep(small_sweep)
    assert drawn(ax) >= 1
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    (line,) = ax.lines[:1]
    assert np.asarray(line.get_xdata()).tolist() == [16, 64, 256]
    with pytest.raises(ValueError, match="not in sweep_stats.csv"):
        meanfield.plot.sweep(small_sweep, observable="no such observable")


def test_without_matplotlib_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, small_run: meanfield.Run
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        meanfield.plot.series(small_run)
