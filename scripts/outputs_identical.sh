#!/usr/bin/env bash
# Are the outputs of the shipped scenarios bit-identical between two builds of meanfield?
#
#   scripts/outputs_identical.sh BEFORE_BINARY AFTER_BINARY [WORK_DIR]
#   scripts/outputs_identical.sh --manifest BINARY OUT_DIR     # only write OUT_DIR/manifest.txt
#
# Each binary runs, in a folder of its own: the quickstart (`run`), finite_m_relu_teacher as a
# small sweep (widths 16 and 64, 2 seeds, 20 steps), the exact limit of limit_relu_teacher at a
# small resolution and `gallery --quick`. Every file written is hashed (sha256); in text files
# the output folder's path is replaced by OUT and in JSON files the keys that hold wall-clock
# times or rates (`*wall*`, `*seconds*`, `*per_second*`, `elapsed*`) are dropped before
# hashing, since they differ from run to run by design. The two manifests are then compared line by line: exit 0 when identical, 1 with the
# differing files listed. About 2 minutes per binary on 2 cores.
set -euo pipefail

# Writes `sha256  ./path` for every file under $1, sorted; text files are hashed with the folder's
# own path replaced by OUT and, in JSON, without the keys that hold wall-clock times or rates
# (they differ from run to run by design).
hash_tree() {
    python3 - "$1" <<'PY'
import hashlib, json, os, re, sys
root = sys.argv[1]
drop = re.compile(r"(wall|seconds|elapsed|per_second|^version$|^command$|^started|^finished|^host)")
def clean(value):
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if not drop.search(k)}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value
rows = []
for folder, _, files in os.walk(root):
    for name in files:
        path = os.path.join(folder, name)
        rel = "./" + os.path.relpath(path, root)
        if name.startswith(".") or name.endswith((".log", ".lock")) or name.startswith("manifest.txt"):
            continue
        data = open(path, "rb").read()
        text = None
        if name.endswith((".json", ".toml", ".md", ".csv", ".txt", ".html")):
            text = data.decode().replace(root, "OUT")
            if name.endswith(".json"):
                text = json.dumps(clean(json.loads(text)), sort_keys=True)
        if name.endswith(".html"):
            text = data.decode().replace(root, "OUT")
            text = "\n".join(l for l in text.splitlines() if not drop.search(l.split("</th>")[0].split("<th>")[-1]))
        if isinstance(text, str):
            data = text.encode()
        rows.append(f"{hashlib.sha256(data).hexdigest()}  {rel}")
print("\n".join(sorted(rows, key=lambda r: r.split("  ", 1)[1])))
PY
}

manifest() {
    local binary=$1 out=$2
    binary=$(realpath "$binary")
    rm -rf "$out"
    mkdir -p "$out"
    local root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    (
        cd "$root"
        export CI=true
        "$binary" run scenarios/quickstart.toml --out "$out/quickstart" --quiet
        "$binary" sweep scenarios/finite_m_relu_teacher.toml --out "$out/finite_m" --quiet \
            --widths 16,64 --seeds 2 --set dynamics.steps=20 --set sweep.times=[0.0,1.0,2.0]
        "$binary" limit scenarios/limit_relu_teacher.toml --out "$out/limit" --quiet \
            --nodes 6 --set dynamics.steps=20
        "$binary" gallery --quick --out "$out/gallery" --work "$out/gallery_runs" >/dev/null
    ) >"$out.log" 2>&1 || { echo "outputs_identical: $binary failed, see $out.log" >&2; return 1; }
    hash_tree "$out" >"$out/manifest.txt.tmp"
    mv "$out/manifest.txt.tmp" "$out/manifest.txt"
}

if [[ "${1:-}" == "--manifest" ]]; then
    manifest "$2" "$3"
    echo "wrote $3/manifest.txt ($(wc -l <"$3/manifest.txt") files)"
    exit 0
fi

before=${1:?usage: outputs_identical.sh BEFORE_BINARY AFTER_BINARY [WORK_DIR]}
after=${2:?usage: outputs_identical.sh BEFORE_BINARY AFTER_BINARY [WORK_DIR]}
work=${3:-$(mktemp -d)}
manifest "$before" "$work/before"
manifest "$after" "$work/after"
if diff "$work/before/manifest.txt" "$work/after/manifest.txt" >"$work/diff.txt"; then
    echo "identical: $(wc -l <"$work/before/manifest.txt") files ($work)"
else
    echo "DIFFERENT outputs ($work/diff.txt):"
    cat "$work/diff.txt"
    exit 1
fi
