#!/usr/bin/env bash
# Time one step of the meanfield simulator and of the NumPy / JAX / PyTorch peers
# (peer_step.py, beside this script) on the same cases, in one invocation on the
# same machine, and print the ratios peer / meanfield (> 1: meanfield is faster).
#
# Usage, from the repository root (or from anywhere: the default binary is found
# relative to this script, which lives in benches/peers/ of the repository):
#   bash benches/peers/compare.sh [--binary target/release/meanfield] [--cases pop1,data1]
#        [--backends numpy-opt,jax64] [--python PY] [--reps N] [--keep-env] [--json OUT]
#
#   --binary PATH    the meanfield binary (default: target/release/meanfield of the
#                    repository that holds this script; build it with cargo build --release)
#   --cases LIST     data1,data2,pop1,pop2 (default: all four)
#   --backends LIST  peer backends (default: peer_step.py's, the unavailable ones skipped)
#   --python PY      interpreter with numpy (and optionally jax, torch, threadpoolctl)
#                    for the peers and the JSON handling (default: $PYTHON, else python3)
#   --reps N         peer timed steps, at least (peer_step.py --reps)
#   --keep-env       keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE; by default both sides
#                    run under 'env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE' so that
#                    OpenBLAS picks its kernels for this CPU (the fair peer setting)
#   --json OUT       also write the meanfield records, the peer results and the ratios
#
# Meanfield side (contract): `meanfield bench --case CASE --json` prints one JSON
# line per case on stdout with at least the keys "case" and "s_per_step_median"
# (seconds per step: drift evaluation + Euler update, median), for the same case
# names and definitions as peer_step.py (README.md).  Other output lines are ignored.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
binary="$root/target/release/meanfield"
cases=data1,data2,pop1,pop2
backends=""
python="${PYTHON:-python3}"
reps=""
keep_env=0
json_out=""

die() { echo "compare.sh: error: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
        --cases) cases="${2:?--cases needs a list}"; shift 2 ;;
        --backends) backends="${2:?--backends needs a list}"; shift 2 ;;
        --python) python="${2:?--python needs an interpreter}"; shift 2 ;;
        --reps) reps="${2:?--reps needs a number}"; shift 2 ;;
        --keep-env) keep_env=1; shift ;;
        --json) json_out="${2:?--json needs a file}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

IFS=, read -r -a case_list <<<"$cases"
[[ ${#case_list[@]} -gt 0 ]] || die "--cases is empty"
for c in "${case_list[@]}"; do
    case "$c" in
        data1|data2|pop1|pop2) ;;
        *) die "unknown case '$c' (the cases are data1, data2, pop1, pop2)" ;;
    esac
done

# The meanfield binary must exist (it is built by the project, not by this script).
if [[ "$binary" != */* ]] && command -v "$binary" >/dev/null 2>&1; then
    binary="$(command -v "$binary")"
fi
if [[ ! -e "$binary" ]]; then
    die "meanfield binary not found: '$binary' (from $(pwd)).
  Build it first (cargo build --release in $root), or pass --binary PATH."
fi
[[ -x "$binary" ]] || die "meanfield binary is not executable: '$binary'"

command -v "$python" >/dev/null 2>&1 || die "python interpreter not found: '$python' (pass --python PY)"
"$python" -c 'import numpy' 2>/dev/null || die "numpy is not importable by '$python'.
  Make an environment for the peers, e.g.
    python3 -m venv .venv && .venv/bin/pip install numpy jax torch threadpoolctl
  and pass --python .venv/bin/python3 (or set PYTHON)."

if [[ $keep_env -eq 1 ]]; then
    run_env=(env)
    env_note="environment kept (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-unset}, OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE-unset})"
else
    run_env=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
    env_note="both sides run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "compare.sh: $env_note" >&2
for c in "${case_list[@]}"; do
    echo "compare.sh: $binary bench --case $c --json" >&2
    rc=0
    "${run_env[@]}" "$binary" bench --case "$c" --json >"$tmp/mf_$c.out" || rc=$?
    cat "$tmp/mf_$c.out" >&2
    [[ $rc -eq 0 ]] || die "'$binary bench --case $c --json' failed with exit status $rc (output above)"
    # keep the line {"case": CASE, "s_per_step_median": ...}; fail now if there is none
    "$python" - "$c" "$tmp/mf_$c.out" "$binary" >>"$tmp/mf.jsonl" <<'PY' || exit 2
import json, sys

c, path, binary = sys.argv[1:4]
found, lines = None, open(path).read().splitlines()
for line in lines:
    line = line.strip()
    if not line.startswith("{"):
        continue
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        continue
    if isinstance(obj, dict) and obj.get("case") == c and isinstance(obj.get("s_per_step_median"), (int, float)):
        found = obj
if found is None:
    sys.exit(f"compare.sh: error: '{binary} bench --case {c} --json' printed no JSON line with "
             f"\"case\": \"{c}\" and a numeric \"s_per_step_median\" ({len(lines)} lines on stdout)")
print(json.dumps(found))
PY
done

peer_args=(--cases "$cases" --json "$tmp/peer.json")
[[ -n "$backends" ]] && peer_args+=(--backends "$backends")
[[ -n "$reps" ]] && peer_args+=(--reps "$reps")
echo "compare.sh: $python peer_step.py ${peer_args[*]}" >&2
rc=0
"${run_env[@]}" "$python" "$here/peer_step.py" "${peer_args[@]}" >&2 || rc=$?
if [[ ! -s "$tmp/peer.json" ]]; then
    die "peer_step.py failed with exit status $rc and wrote no results"
elif [[ $rc -ne 0 ]]; then
    echo "compare.sh: warning: peer_step.py exited with status $rc (some backends failed; see above)" >&2
fi

"$python" - "$tmp" "$cases" "$binary" "$env_note" "$json_out" <<'PY'
import json, sys

tmp, cases, binary, env_note, json_out = sys.argv[1:6]
cases = [c for c in cases.split(",") if c]

mf = {}
for line in open(f"{tmp}/mf.jsonl"):
    rec = json.loads(line)
    mf[rec["case"]] = rec

peer = json.load(open(f"{tmp}/peer.json"))
backends = []
for r in peer["results"]:
    if r["backend"] not in backends:
        backends.append(r["backend"])
p = {(r["case"], r["backend"]): r["s_per_step_median"] for r in peer["results"]}

rows = []
for c in cases:
    t_mf = float(mf[c]["s_per_step_median"])
    row = {"case": c, "meanfield_s_per_step": t_mf, "peers": {}}
    for b in backends:
        t = p.get((c, b))
        row["peers"][b] = None if t is None else {"s_per_step": t, "ratio": t / t_mf if t_mf > 0 else None}
    rows.append(row)

env = peer.get("env", {})
blas = env.get("blas") or [{}]
b0 = blas[0]
kernel = b0.get("architecture") or "unknown (threadpoolctl not importable)"
print(f"\nmachine: {env.get('processor')}, {env.get('cpus')} CPUs; numpy {env.get('numpy')}, "
      f"BLAS {b0.get('internal_api', b0.get('name', '?'))} {b0.get('version', '')} kernel {kernel}")
print(f"{env_note}")
busy = env.get("cpu_busy_before")
if busy is not None and busy > 0.2:
    print(f"warning: the CPUs were {100 * busy:.0f}% busy just before the peer run: other processes "
          f"were running, timings are unreliable")
print("ratio = peer s/step / meanfield s/step  (> 1: meanfield is faster)\n")

def fmt_t(t):
    return "-" if t is None else f"{t:.4g}"

def fmt_r(r):
    return "-" if r is None else f"{r:.2f}"

head = ["case", "meanfield s/step"]
for b in backends:
    head += [f"{b} s/step", f"{b}/mf"]
head += ["fastest peer", "fastest/mf"]
table = [head]
for row in rows:
    line = [row["case"], fmt_t(row["meanfield_s_per_step"])]
    best = None
    for b in backends:
        e = row["peers"][b]
        line += [fmt_t(e and e["s_per_step"]), fmt_r(e and e["ratio"])]
        if e and (best is None or e["s_per_step"] < row["peers"][best]["s_per_step"]):
            best = b
    line += [best or "-", fmt_r(best and row["peers"][best]["ratio"])]
    table.append(line)
widths = [max(len(r[i]) for r in table) for i in range(len(head))]
for r in table:
    print("  ".join(s.ljust(w) if i == 0 else s.rjust(w) for i, (s, w) in enumerate(zip(r, widths))))

if json_out:
    with open(json_out, "w") as fh:
        json.dump({"env_note": env_note, "meanfield": mf, "peer": peer, "comparison": rows}, fh, indent=1)
PY
