#!/usr/bin/env bash
# The template compiler's coverage of one KernelBench level, as docs/figures.md reports it.
#
#   benchmarks/kernelbench_coverage.sh <KernelBench checkout> <level: 1 | 2 | ...> [out dir, default benchmarks/results]
#
# Runs `kiln bench` over the level at the small tier (template proposer, 2 workers) into a store of its
# own, then writes the run report (kernelbench_run_report.py) and prints the table by op category
# (kernelbench_coverage.py). About 25 min per level on 2 CPU cores. Nothing of KernelBench is copied.
set -euo pipefail
kb=${1:?KernelBench checkout}
level=${2:?level number}
out=${3:-benchmarks/results}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
date=$(date -u +%F)
commit=$(git -C "$root" rev-parse --short HEAD)
start=$(date +%s)
"$root/.venv/bin/kiln" bench --kernelbench-dir "$kb/KernelBench/level$level" --tier small --proposer template \
  --workers 2 --database "sqlite:///$work/run.sqlite" --out "$work"
wall=$(( $(date +%s) - start ))
run=$(basename "$(ls "$work"/run-*.json)" .json)
run=${run#run-}
"$root/.venv/bin/python" "$root/benchmarks/kernelbench_run_report.py" --database "sqlite:///$work/run.sqlite" \
  --run "$run" --wall-seconds "$wall" --commit "$commit" \
  --out "$out/kernelbench_level$level-template-cpu-$date.json" > /dev/null
"$root/.venv/bin/python" "$root/benchmarks/kernelbench_coverage.py" "$out/kernelbench_level$level-template-cpu-$date.json" \
  --out "$out/kernelbench_level$level-template-coverage-cpu-$date.json"
echo "wall ${wall} s; run $run; commit $commit; store $work/run.sqlite"
