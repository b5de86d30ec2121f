#!/usr/bin/env bash
# The template miner beside the drain3 package (PyPI), on the same lines, in one run.
#
#   benches/miner_vs_drain3.sh [LOGHUB_DIR] [PASSES]
#
# LOGHUB_DIR (default ../shared/data/loghub) holds loghub systems, each a folder with a
# `*_structured.csv`; the `Content` column of all of them, in file order, is one stream of
# lines. Each miner starts empty and mines the stream PASSES times over (default 20), timed
# around the mining loop only (reading the file is not counted). The two run in turn, three rounds,
# and the best round of each counts (the machine may be shared). Printed: lines/s of both and the
# ratio; then, for context, drain3 with the masking of its example configuration, and the
# grouping accuracy of drain3 on each system (loghub's definition, default settings).
#
# drain3 comes from PyPI into a virtualenv (DRAIN3_VENV, default $TMPDIR/faultline-drain3-venv),
# pinned to the version measured. Needs python3 with venv, and cargo.
set -euo pipefail
cd "$(dirname "$0")/.."

data=${1:-../shared/data/loghub}
passes=${2:-20}
venv=${DRAIN3_VENV:-${TMPDIR:-/tmp}/faultline-drain3-venv}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -c 'import drain3' 2>/dev/null || "$venv/bin/pip" install --quiet 'drain3==0.9.11'

# The lines: Content of every system, one per line (loghub's Content holds no line breaks).
"$venv/bin/python" - "$data" "$work/lines.txt" <<'EOF'
import csv, pathlib, sys
root, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
files = sorted(root.glob("*/*_structured.csv")) or sorted(root.glob("*_structured.csv"))
if not files:
    sys.exit(f"no *_structured.csv under {root}")
with out.open("w") as f:
    for path in files:
        with path.open(newline="") as csv_file:
            for row in csv.DictReader(csv_file):
                f.write(row["Content"].replace("\n", " ") + "\n")
print(f"lines: {sum(1 for _ in out.open())} from {len(files)} systems ({', '.join(p.parent.name for p in files)})")
EOF

cat > "$work/drain3_run.py" <<'EOF'
import sys, time
from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig
from drain3.masking import MaskingInstruction

def miner(masking):
    config = TemplateMinerConfig()  # drain3's defaults: depth 4, sim_th 0.4, max_children 100, no masking
    if masking:
        # The masking of drain3's examples/drain3.ini: ids, IPs, hex sequences, 0x numbers, numbers.
        boundary_l, boundary_r = r"((?<=[^A-Za-z0-9])|^)", r"((?=[^A-Za-z0-9])|$)"
        for pattern, name in [
            (r"(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))", "ID"),
            (r"(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})", "IP"),
            (r"(([0-9a-f]{6,} ?){3,})", "SEQ"),
            (r"(([0-9A-F]{4} ?){4,})", "SEQ"),
            (r"(0x[a-f0-9A-F]+)", "HEX"),
            (r"([\-\+]?\d+)", "NUM"),
        ]:
            config.masking_instructions.append(MaskingInstruction(boundary_l + pattern + boundary_r, name))
    return TemplateMiner(config=config)

lines = open(sys.argv[1]).read().split("\n")[:-1]
passes, masking = int(sys.argv[2]), sys.argv[3] == "masking"
m = miner(masking)
start = time.perf_counter()
for _ in range(passes):
    for line in lines:
        m.add_log_message(line)
seconds = time.perf_counter() - start
total = len(lines) * passes
name = "drain3+masking" if masking else "drain3"
print(f"miner={name} lines={total} templates={len(m.drain.clusters)} seconds={seconds:.4f} lines_per_second={total / seconds:.0f}")
EOF

cargo build --release --quiet --example mine_lines
ours=$(cargo metadata --format-version 1 --no-deps | "$venv/bin/python" -c \
    'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/examples/mine_lines

rate() { sed -n 's/.*lines_per_second=\([0-9]*\).*/\1/p'; }
best_ours=0
best_drain3=0
for round in 1 2 3; do
    d=$("$venv/bin/python" "$work/drain3_run.py" "$work/lines.txt" "$passes" default)
    o=$("$ours" "$work/lines.txt" "$passes")
    echo "round $round: $d"
    echo "round $round: $o"
    r=$(echo "$d" | rate); [ "$r" -gt "$best_drain3" ] && best_drain3=$r
    r=$(echo "$o" | rate); [ "$r" -gt "$best_ours" ] && best_ours=$r
done
masked=$("$venv/bin/python" "$work/drain3_run.py" "$work/lines.txt" "$passes" masking)
echo "context: $masked"
masked_rate=$(echo "$masked" | rate)

"$venv/bin/python" - "$best_ours" "$best_drain3" "$masked_rate" <<'EOF'
import sys
ours, drain3, masked = map(int, sys.argv[1:])
print(f"faultline miner: {ours:,} lines/s (best of 3)")
print(f"drain3 default:  {drain3:,} lines/s (best of 3)")
print(f"ratio:           {ours / drain3:.1f}x (goal: 20x); against drain3 with its example masking: {ours / masked:.1f}x")
EOF

# drain3's grouping accuracy per system, default settings, as loghub's evaluator computes it.
"$venv/bin/python" - "$data" <<'EOF'
import csv, pathlib, sys
from collections import Counter, defaultdict
from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig
root = pathlib.Path(sys.argv[1])
scores = []
for path in sorted(root.glob("*/*_structured.csv")):
    rows = [r for r in csv.DictReader(path.open(newline="")) if r["EventId"]]
    m = TemplateMiner(config=TemplateMinerConfig())
    predicted = [m.add_log_message(r["Content"])["cluster_id"] for r in rows]
    truth = [r["EventId"] for r in rows]
    size = Counter(truth)
    groups = defaultdict(list)
    for p, t in zip(predicted, truth):
        groups[p].append(t)
    correct = sum(len(ts) for ts in groups.values() if len(set(ts)) == 1 and size[ts[0]] == len(ts))
    scores.append(correct / len(rows))
    print(f"drain3 default GA {path.parent.name:<10} {scores[-1]:.3f}")
print(f"drain3 default GA average    {sum(scores) / len(scores):.3f}")
EOF
