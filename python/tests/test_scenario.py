"""Scenarios as data: the same schema, validation and messages as the CLI."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import meanfield
from conftest import QUICKSTART, run_cli

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None


def test_load_reads_the_file(quickstart):
    assert (quickstart.name, quickstart.m, quickstart.d, quickstart.steps) == ("quickstart", 50, 4, 300)
    assert quickstart.dt == 0.05 and quickstart.seed == 1
    assert quickstart.columns == 5
    assert quickstart.file == str(QUICKSTART)
    assert quickstart["model.activation"] == "relu"


def test_resolved_toml_is_what_meanfield_check_prints(cli):
    sc = meanfield.Scenario.load(QUICKSTART, ["model.m=64", "dynamics.dt=.02"])
    printed = run_cli(cli, "check", str(QUICKSTART), "--set", "model.m=64", "--set", "dynamics.dt=.02").stdout
    assert sc.to_toml() == printed


def test_set_is_the_cli_set_and_chains(quickstart):
    assert quickstart.set("model.m", 64).set("dynamics.dt", 0.02) is quickstart
    assert (quickstart.m, quickstart.dt) == (64, 0.02)
    by_cli = meanfield.Scenario.load(QUICKSTART, ["dynamics.steps=300", "record.figures=false", "model.m=64", "dynamics.dt=0.02"])
    assert quickstart.to_toml() == by_cli.to_toml()
    quickstart.update({"init.a": {"law": "normal", "mean": 0.0, "std": 2.0}, "target.k": 3})
    assert quickstart["init.a.std"] == 2.0 and quickstart["target.k"] == 3


def test_set_none_removes_the_key_as_set_none_does(quickstart):
    quickstart.set("dynamics.integrator", None)
    by_cli = meanfield.Scenario.load(QUICKSTART, ["dynamics.steps=300", "record.figures=false", "dynamics.integrator=none"])
    assert quickstart.to_toml() == by_cli.to_toml()


def test_a_bad_set_raises_and_leaves_the_scenario_unchanged(quickstart):
    before = quickstart.to_toml()
    with pytest.raises(meanfield.ScenarioError) as info:
        quickstart.set("dynamics.dt", -1.0)
    error = info.value
    assert error.key == "dynamics.dt" and error.line is None
    assert "(from --set)" in str(error) and "expected a finite number > 0" in str(error)
    assert quickstart.to_toml() == before
    with pytest.raises(meanfield.ScenarioError) as info:
        quickstart.set("model.widht", 3)
    assert "unknown field `widht`" in str(info.value)


def test_file_errors_carry_file_key_line_and_column_like_the_cli(tmp_path, cli):
    path = tmp_path / "bad.toml"
    path.write_text("seed = 1\n[model]\nd = 3\nwidth = 4\n")
    with pytest.raises(meanfield.ScenarioError) as info:
        meanfield.Scenario.load(path)
    error = info.value
    assert (error.file, error.key, error.line, error.column) == (str(path), "model.width", 4, 1)
    printed = run_cli(cli, "check", str(path), check=False)
    assert printed.returncode == 2
    assert printed.stderr.strip() == f"error: {error}"


def test_value_errors_are_located_too(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[dynamics]\ndt = 0.1\nsteps = 10\n\n[model]\nd = 3\nalpha = -2.0\n")
    with pytest.raises(meanfield.ScenarioError) as info:
        meanfield.Scenario.load(path)
    assert (info.value.key, info.value.line, info.value.column) == ("model.alpha", 7, 9)


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python >= 3.11")
def test_from_dict_is_the_file():
    with open(QUICKSTART, "rb") as handle:
        data = tomllib.load(handle)
    assert meanfield.Scenario.from_dict(data).to_toml() == meanfield.Scenario.load(QUICKSTART).to_toml()
    text = QUICKSTART.read_text()
    assert meanfield.Scenario.from_toml(text).to_toml() == meanfield.Scenario.load(QUICKSTART).to_toml()


def test_from_dict_converts_numpy_values_and_defaults_the_name():
    sc = meanfield.Scenario.from_dict(
        {"model": {"d": np.int64(3), "m": np.int32(16)}, "dynamics": {"dt": np.float32(0.5), "steps": 10}, "record": {"every": None}}
    )
    assert (sc.name, sc.d, sc.m, sc.dt) == ("scenario", 3, 16, 0.5)


def test_dict_errors_name_the_key_without_lines():
    with pytest.raises(meanfield.ScenarioError) as info:
        meanfield.Scenario.from_dict({"model": {"m": "many"}})
    error = info.value
    assert (error.file, error.key, error.line, error.column) == ("<dict>", "model.m", None, None)
    assert "expected an integer >= 1" in str(error)
    with pytest.raises(meanfield.ScenarioError, match="unknown field `sedd`"):
        meanfield.Scenario.from_dict({"sedd": 1})
    with pytest.raises(meanfield.ScenarioError, match="model.m"):
        meanfield.Scenario.from_dict({"model": {"m": object()}})
    with pytest.raises(meanfield.ScenarioError, match="not a string"):
        meanfield.Scenario.from_dict({"model": {3: 1}})
    with pytest.raises(meanfield.ScenarioError):
        meanfield.Scenario.from_dict([("model", {})])


def test_a_missing_file_is_file_not_found():
    with pytest.raises(FileNotFoundError, match="nonexistent.toml"):
        meanfield.Scenario.load("nonexistent.toml")
    with pytest.raises(TypeError, match="scenario: expected"):
        meanfield.run(42)
