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
rm -rf "$out"
echo "plots/quickstart_risk.{png,svg} and plots/quickstart_cloud_panels.png regenerated"
