#!/usr/bin/env bash
# Prepares gpu-carry/ for the GPU machine of the `device` tool (docs/gpu.md): the release
# binary and the GPU test binaries (tests/gpu.rs, tests/gpu_data.rs) built here with --features cuda, stripped (the device's carry
# limit is 64 MiB), the peer benchmark with the larger population cases, and the check script.
# Then, from the session: run(command="bash gpu-carry/device_check.sh", carry=["gpu-carry"]).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --features cuda
# The test binary of tests/<name>.rs, built with the feature.
test_binary() {
    cargo test --release --features cuda --test "$1" --no-run --message-format=json 2>/dev/null |
        python3 -c '
import json, sys
for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("reason") == "compiler-artifact" and msg.get("executable") and msg["target"]["name"] == sys.argv[1]:
        print(msg["executable"])
' "$1"
}
gpu_tests=$(test_binary gpu)
gpu_data_tests=$(test_binary gpu_data)
rm -rf gpu-carry && mkdir -p gpu-carry
strip -o gpu-carry/meanfield target/release/meanfield
strip -o gpu-carry/gpu-tests "$gpu_tests"
strip -o gpu-carry/gpu-data-tests "$gpu_data_tests"
# The peers, with the population cases of issue 9 added (m = 65,536 and 262,144).
sed 's/^    "pop2": dict(mode="pop", n=None, d=32, m=16384, k=4),/&\n    "pop65k": dict(mode="pop", n=None, d=32, m=65536, k=4),\n    "pop262k": dict(mode="pop", n=None, d=32, m=262144, k=4),/' \
    benches/peers/peer_step.py > gpu-carry/peer_step.py
grep -q pop262k gpu-carry/peer_step.py || { echo "gpu_carry.sh: could not add the large cases to peer_step.py" >&2; exit 1; }
cp scripts/gpu_device_check.sh gpu-carry/device_check.sh
du -sh gpu-carry
