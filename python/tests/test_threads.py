"""Behaving like a Python library: the GIL released during Rust work, Ctrl-C as
KeyboardInterrupt within a step with a resumable checkpoint, the same bits on any thread
count."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

import meanfield

# About 2 s of work on one core (2 ms a step at m = 1000): long enough to interrupt and to
# count during.
LONG = {"model.m": 1000, "dynamics.steps": 1000}


def test_a_run_in_a_thread_leaves_the_main_thread_running(quickstart):
    quickstart.update(LONG)
    done = threading.Event()
    result = {}

    def work():
        result["run"] = meanfield.run(quickstart, progress=False, threads=1)
        done.set()

    worker = threading.Thread(target=work)
    started = time.monotonic()
    worker.start()
    counted = 0
    while not done.is_set():
        counted += 1
    elapsed = time.monotonic() - started
    worker.join()
    assert result["run"].status == "finished"
    assert elapsed > 0.5, f"the run took only {elapsed:.2f} s: too short to tell"
    # A held GIL would leave the main thread a switch interval (5 ms) at a time, a handful of
    # counts per Rust step at most; released, it counts freely (millions per second).
    assert counted > 100_000 * elapsed, f"{counted} counts in {elapsed:.2f} s"


def _interrupt_after(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals reach the main thread")
def test_ctrl_c_raises_keyboard_interrupt_and_leaves_a_resumable_checkpoint(tmp_path, quickstart):
    quickstart.update(LONG)
    out = tmp_path / "run"
    timer = _interrupt_after(0.4)
    sent = time.monotonic() + 0.4
    try:
        with pytest.raises(KeyboardInterrupt):
            meanfield.run(quickstart, out=out, progress=False, threads=1)
    finally:
        timer.cancel()
    assert time.monotonic() - sent < 1.0, "KeyboardInterrupt came late"
    assert (out / "checkpoint" / "state.json").is_file()
    resumed = meanfield.run(quickstart, out=out, resume=True, progress=False)
    whole = meanfield.run(quickstart, out=tmp_path / "whole", progress=False)
    assert resumed.status == "finished"
    assert resumed.particles_final.tobytes() == whole.particles_final.tobytes()
    assert (out / "series.csv").read_bytes() == (whole.dir / "series.csv").read_bytes()


def test_ctrl_c_stops_a_simulation_at_a_consistent_step(quickstart):
    sim = meanfield.Simulation(quickstart.update(LONG), threads=1)
    timer = _interrupt_after(0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            sim.step(10**7)
    finally:
        timer.cancel()
    reached = sim.step_index
    assert 0 < reached < 10**7
    sim.step(5)
    whole = meanfield.Simulation(quickstart)
    whole.step(reached + 5)
    assert sim.particles.tobytes() == whole.particles.tobytes()


def test_the_same_bits_on_one_and_two_threads(quickstart):
    one = meanfield.Simulation(quickstart, threads=1)
    two = meanfield.Simulation(quickstart, threads=2)
    one.step(200)
    two.step(200)
    assert one.particles.tobytes() == two.particles.tobytes()


def test_a_busy_simulation_refuses_a_second_thread(quickstart):
    sim = meanfield.Simulation(quickstart.update(LONG))
    worker = threading.Thread(target=sim.step, args=(1000,))
    worker.start()
    time.sleep(0.2)
    with pytest.raises(RuntimeError, match="busy in another thread"):
        sim.step(1)
    worker.join()
    assert sim.step_index == 1000
