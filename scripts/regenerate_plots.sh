#!/usr/bin/env bash
# Regenerates the committed figures in plots/ from the scenarios (never edit them by hand).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release
out=$(mktemp -d)
target/release/meanfield run scenarios/quickstart.toml --out "$out/quickstart" --quiet
mkdir -p plots
cp "$out/quickstart/plots/risk.png" plots/quickstart_risk.png
cp "$out/quickstart/plots/risk.svg" plots/quickstart_risk.svg
cp "$out/quickstart/plots/cloud_panels.png" plots/quickstart_cloud_panels.png
# Finite m against the exact limit (relu teacher, 5 widths x 1024 seeds: about 6 minutes on 2
# idle cores, 10 when they are shared) and lazy against mean-field (5 s).
target/release/meanfield sweep scenarios/limit_relu_teacher.toml --out "$out/finite_m" --quiet
cp "$out/finite_m/plots/risk_bias.png" plots/finite_m_risk_bias.png
cp "$out/finite_m/plots/risk_by_width.png" plots/finite_m_risk_by_width.png
target/release/meanfield sweep scenarios/lazy_vs_meanfield.toml --out "$out/lazy" --quiet
cp "$out/lazy/plots/movement_scaling_0.png" plots/lazy_movement_scaling.png
# The two-panel paper figure of examples/figures (6 runs, a few seconds): PNG and PDF.
target/release/meanfield figure examples/figures/lazy_vs_meanfield.toml --out "$out/figures"
cp "$out/figures/lazy_vs_meanfield.png" plots/figure_lazy_vs_meanfield.png
cp "$out/figures/lazy_vs_meanfield.pdf" plots/figure_lazy_vs_meanfield.pdf
rm -rf "$out"
echo "plots/quickstart_*, plots/finite_m_*, plots/lazy_movement_scaling.png and plots/figure_* regenerated"
