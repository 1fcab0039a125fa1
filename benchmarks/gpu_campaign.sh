#!/usr/bin/env bash
# Kernel Kiln's GPU campaign: one command that measures what a GPU can tell about this project.
#
#   benchmarks/gpu_campaign.sh [--dry-run] [--quick] [--limit PART=SECONDS ...] --out DIR
#
# Runs, each part under its own time limit (GNU timeout; a part that runs out keeps what it wrote):
#   env        GPU name, driver, versions, date, commit
#   gpu-tests  tests/verifier/test_gpu.py through pytest (skipped, with a note, when pytest is missing)
#   corpus     the adversarial corpus on the device (honest accepted, every cheat rejected, side stream)
#   template   the template compiler's best profile on every built-in task at its first realistic
#              shape: speedup over eager and torch.compile, roofline share
#   stability  one kernel verified and timed 5 times: the spread of its time
# and then writes DIR/campaign.json and DIR/campaign.md (a table a person reads). The default limits
# add up to 7m45s, within 8 minutes on one H200. Needs only python3 with torch and triton (no
# service dependencies); PYTHON overrides the interpreter.
#
# --dry-run: the same path on the CPU (Triton's interpreter, small shapes, nothing timed), so the
# script is known to work before a GPU run. --quick: a few corpus entries, one task, two stability
# runs (what the test runs). Exit 0 when every part finished and every result was as expected.
set -u

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
OUT=""
MODE=()
DRY=0
declare -A USER_LIMIT=()

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) MODE+=(--dry-run); DRY=1; shift ;;
    --quick) MODE+=(--quick); shift ;;
    --out) OUT="${2:-}"; shift 2 ;;
    --out=*) OUT="${1#--out=}"; shift ;;
    --limit) USER_LIMIT[${2%%=*}]="${2#*=}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "gpu_campaign: unknown argument '$1'" >&2; usage ;;
  esac
done
[ -n "$OUT" ] || { echo "gpu_campaign: --out DIR is required" >&2; usage; }
command -v "$PY" >/dev/null || { echo "gpu_campaign: no '$PY' interpreter (set PYTHON)" >&2; exit 2; }
command -v timeout >/dev/null || { echo "gpu_campaign: GNU timeout is required" >&2; exit 2; }
if [ "$DRY" = 1 ]; then
  # The CPU interpreter is far slower than a GPU: same parts, wider limits.
  declare -A LIMIT=([env]=60 [gpu-tests]=120 [corpus]=600 [template]=600 [stability]=400)
else
  declare -A LIMIT=([env]=20 [gpu-tests]=75 [corpus]=110 [template]=220 [stability]=40)
fi
for part in "${!USER_LIMIT[@]}"; do
  [ -n "${LIMIT[$part]+set}" ] || { echo "gpu_campaign: unknown part '$part' in --limit" >&2; exit 2; }
  LIMIT[$part]="${USER_LIMIT[$part]}"
done

mkdir -p "$OUT/parts" || exit 2
OUT="$(cd "$OUT" && pwd)"
cd "$ROOT" || exit 2
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

for part in env gpu-tests corpus template stability; do
  limit="${LIMIT[$part]}"
  echo "== $part (limit ${limit} s)"
  start=$(date +%s)
  # the part's own deadline leaves a margin before the hard limit, so it can write what it has
  timeout -k 10 "$limit" "$PY" benchmarks/gpu_campaign.py "$part" --out "$OUT" --deadline "$((limit - 15))" "${MODE[@]}"
  rc=$?
  seconds=$(( $(date +%s) - start ))
  case $rc in
    0) status=done ;;
    124|137) status="timed out (partial results)" ;;
    *) status="failed (exit $rc)" ;;
  esac
  printf '{"status": "%s", "exit_code": %d, "seconds": %d, "limit_s": %d}\n' \
    "$status" "$rc" "$seconds" "$limit" > "$OUT/parts/$part.status.json"
  echo "   $status in ${seconds} s"
done

"$PY" benchmarks/gpu_campaign.py report --out "$OUT"
