"""Shared fixtures: the repository root, the quickstart scenario at test size, and the CLI
binary (target/release/meanfield, built by `cargo build --release`; MEANFIELD_BIN overrides)
for the tests that compare the package with the command line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import List

import pytest

import meanfield

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.toml"
# Test size: a few hundred steps of the quickstart, no figures.
SMALL = {"dynamics.steps": 300, "record.figures": False}


def small_overrides() -> List[str]:
    return [meanfield.scenario.assignment(k, v) for k, v in SMALL.items()]


@pytest.fixture
def quickstart() -> meanfield.Scenario:
    return meanfield.Scenario.load(QUICKSTART, SMALL)


@pytest.fixture(scope="session")
def cli() -> Path:
    binary = Path(os.environ.get("MEANFIELD_BIN", ROOT / "target" / "release" / "meanfield"))
    if not binary.is_file():
        pytest.skip(f"the CLI binary {binary} is not built (cargo build --release)")
    return binary


def run_cli(binary: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, check=check, cwd=ROOT
    )
