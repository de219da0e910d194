# %% [markdown]
# # meanfield from Python: the quickstart
#
# A relu student of width m = 50 learns a teacher of two relu neurons from the exact
# population risk, in the mean-field scaling (scenarios/quickstart.toml). Run from the
# repository root:
#
#     python examples/python/quickstart.py --out quickstart_python.png
#
# (`MPLBACKEND=Agg` for a machine without a display; `pip install matplotlib` first.)

# %%
import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import meanfield
import meanfield.plot

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--out", default="quickstart_python.png", help="the figure (PNG)")
args, _ = parser.parse_known_args()  # known args only: also runs as a notebook cell

# %% A scenario is data: loaded from TOML, validated, changed like the CLI's --set.
# (The repository root: the working directory, or two folders up for the notebook.)
root = Path.cwd() if (Path.cwd() / "scenarios").is_dir() else Path.cwd().parents[1]
scenario = meanfield.Scenario.load(root / "scenarios" / "quickstart.toml")
print(scenario)

# %% A run: the same run directory as `meanfield run`, read back as NumPy arrays.
run = meanfield.run(scenario, progress=False)
print(run)
print(f"risk {run.series['risk'][0]:.3e} at t = 0 -> {run.series['risk'][-1]:.3e} "
      f"at t = {run.series['time'][-1]:g}")

# %% The figure: the risk against time, and the particles in the plane of the two
# coordinates where the teacher's neurons are largest (the teacher's rows are [a*, w*]).
teacher = run.teacher
assert teacher is not None  # the quickstart learns a teacher
first, second = np.abs(teacher[:, 1:]).argmax(axis=1)[:2] + 1
plane = (int(first), int(second)) if first != second else (1, 2)
fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3), layout="constrained")
meanfield.plot.series(run, ax=left)
left.set_title(f"risk, m = {scenario.m}")
meanfield.plot.cloud(run, ax=right, columns=plane)
fig.savefig(args.out, dpi=150)
print(f"wrote {args.out}")

# %% Stepping: a Simulation takes the run's steps from Python, bit for bit, however the
# steps are split into calls.
sim = meanfield.Simulation(scenario)
sim.run_until(10.0)  # to the first step with t >= 10
print(f"step {sim.step_index}: t = {sim.time:g}, risk = {sim.risk:.4e}")
sim.step(scenario.steps - sim.step_index)
print(f"step {sim.step_index}: t = {sim.time:g}, risk = {sim.risk:.4e}; the run's final "
      f"particles, bit for bit: {np.array_equal(sim.particles, np.asarray(run.particles_final))}")
