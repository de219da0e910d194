"""Runs: the same run directory as the CLI, bit for bit, read back as NumPy arrays."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest

import meanfield
from conftest import QUICKSTART, run_cli, small_overrides

FILES = ["series.csv", "measures.csv", "particles_init.npy", "particles_final.npy", "teacher.npy", "scenario.toml"]


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, cli) -> Path:
    out = tmp_path_factory.mktemp("cli") / "quickstart"
    args = ["run", str(QUICKSTART), "--out", str(out), "--quiet"]
    for o in small_overrides():
        args += ["--set", o]
    run_cli(cli, *args)
    return out


def test_a_run_writes_the_cli_files_bit_for_bit(cli_run, tmp_path, quickstart):
    run = meanfield.run(quickstart, out=tmp_path / "py", progress=False)
    for name in FILES:
        assert (run.dir / name).read_bytes() == (cli_run / name).read_bytes(), name
    snapshots = sorted(p.name for p in (cli_run / "snapshots").iterdir())
    assert snapshots == sorted(p.name for p in (run.dir / "snapshots").iterdir())
    for name in snapshots:
        assert (run.dir / "snapshots" / name).read_bytes() == (cli_run / "snapshots" / name).read_bytes()


def test_load_run_reads_a_cli_directory(cli_run):
    run = meanfield.load_run(cli_run)
    rows = len(run.series["step"])
    assert rows > 10
    for column, values in run.series.items():
        assert values.dtype == np.float64 and values.shape == (rows,), column
    assert np.all(np.diff(run.series["step"]) > 0)
    np.testing.assert_allclose(run.series["time"], run.series["step"] * 0.05, rtol=1e-12)
    assert run.series["risk"][-1] == run.summary["final_risk"]
    assert run.particles_init.shape == run.particles_final.shape == (50, 5)
    assert run.particles_final.dtype == np.float64 and run.particles_final.flags.c_contiguous
    assert run.teacher.shape == (2, 5)
    assert run.status == "finished" and run.summary["step"] == 300
    assert list(run.snapshots) == sorted(run.snapshots) and 0 in run.snapshots and 300 in run.snapshots
    assert run.snapshots[300].shape[1] == 5
    np.testing.assert_array_equal(run.snapshots[300], run.particles_final[run.snapshot_indices])
    assert set(run.measures) >= {"step", "time"}
    assert "a" in run.marginals and "step" in run.marginals["a"]
    assert run.scenario.m == 50 and run.scenario.steps == 300
    assert "Run(" in repr(run)


def test_series_frame_needs_pandas_only_when_called(cli_run, monkeypatch):
    run = meanfield.load_run(cli_run)
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            run.series_frame()
    else:
        frame = run.series_frame()
        np.testing.assert_array_equal(frame["risk"].to_numpy(), run.series["risk"])
    monkeypatch.setitem(__import__("sys").modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        run.series_frame()


def test_out_none_keeps_a_temporary_directory_while_the_run_lives(quickstart):
    run = meanfield.run(quickstart.set("dynamics.steps", 20), progress=False)
    directory = run.dir
    assert run.temporary and (directory / "series.csv").is_file()
    assert run.series["step"][-1] == 20
    del run
    gc.collect()
    assert not directory.exists()


def test_load_run_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(meanfield.RunDirectoryError, match="no such directory"):
        meanfield.load_run(tmp_path / "missing")
    with pytest.raises(meanfield.RunDirectoryError, match="not a run directory"):
        meanfield.load_run(tmp_path)


def test_progress_reports_reach_a_callable(quickstart):
    reports = []
    meanfield.run(quickstart.set("dynamics.steps", 3000), progress=lambda d, t, text: reports.append((d, t, text)))
    assert reports and all(t == 3000 for _, t, _ in reports)
    assert [d for d, _, _ in reports] == sorted(d for d, _, _ in reports)
    assert reports[-1][2].startswith("risk ")


def test_limit_and_sweep_write_their_directories(tmp_path):
    sweep_scenario = Path(__file__).resolve().parents[2] / "tests" / "scenarios" / "sweep" / "tiny.toml"
    sweep = meanfield.sweep(sweep_scenario, out=tmp_path / "sweep", progress=False)
    assert set(sweep.stats) >= {"observable", "m", "mean", "se"}
    assert sweep.stats["observable"].dtype.kind == "U"
    runs = sweep.runs()
    assert len(runs) == len(sweep.plan["runs"])
    assert sweep.summary["widths"] == sorted(sweep.summary["widths"])


def test_limit_writes_the_cli_limit_directory(tmp_path, cli):
    overrides = ["dynamics.steps=40", "record.figures=false"]
    args = ["limit", str(QUICKSTART), "--nodes", "3", "--quiet", "--out", str(tmp_path / "cli")]
    for o in overrides:
        args += ["--set", o]
    run_cli(cli, *args)
    limit = meanfield.limit(QUICKSTART, out=tmp_path / "py", nodes=3, overrides=overrides, progress=False)
    for name in ["series.csv", "reduced_final.npy", "scenario.toml"]:
        assert (limit.dir / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    assert limit.summary["nodes"] > 0 and limit.series["risk"].shape == (len(limit.series["step"]),)


def test_bench_returns_the_json_records():
    records = meanfield.bench("pop1", reps=1, quick=True)
    assert len(records) == 1 and records[0]["case"] == "pop1"
    assert records[0]["s_per_step_median"] > 0 and records[0]["threads"] >= 1
    assert records[0]["activation"] == "relu"
    (tanh,) = meanfield.bench("pop1", reps=1, quick=True, activation="tanh")
    assert tanh["activation"] == "tanh" and tanh["m"] == 1024
    with pytest.raises(ValueError, match="gelu"):
        meanfield.bench("pop1", activation="gelu")
    with pytest.raises(ValueError, match="nope"):
        meanfield.bench("nope", reps=1, quick=True)
