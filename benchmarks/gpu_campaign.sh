#!/usr/bin/env bash
# Kernel Kiln's GPU campaign: one command that measures what a GPU can tell about this project.
#
#   benchmarks/gpu_campaign.sh [--dry-run] [--quick] [--limit PART=SECONDS ...] [--copy-to DIR] --out DIR
#   benchmarks/gpu_campaign.sh [--dry-run] --sandbox-only --out DIR     # only set up and probe the sandbox
#
# First the sandbox: bwrap from the PATH or, if absent, from the Debian packages that
# scripts/prepare-gpu-carry put in .gpu-carry/debs (unpacked with dpkg -x into .gpu-carry/root, never
# into /), probed by preparing a reference in it; where none works, the project's own kernels run with
# --sandbox none --trusted-code and the adversarial corpus is skipped, both said in the results. Then
# the plan with its time estimate, printed before anything runs, and the parts in order, each under
# its limit (GNU timeout) and its own deadline (it starts nothing after it and keeps what it wrote):
#   env        GPU name, driver, clocks, versions, date, commit
#   template   one task per family, matmul and softmax first, at the first realistic shape: speedup
#              (with its interval) over eager, torch.compile for two tasks, roofline share, flags
#   corpus     the honest kernel and a few cheats on the device, timed entries first
#   stability  one kernel verified and timed repeatedly on one prepared reference: the spread
#   gpu-tests  tests/verifier/test_gpu.py through pytest (off unless --limit gpu-tests=S)
# and then DIR/campaign.json and DIR/campaign.md, copied (with a tarball of DIR/parts) to --copy-to or,
# on the lent GPU machine, to $OUT, each named with the commit id. Needs only python3 with torch and
# triton (no service dependencies); PYTHON overrides the interpreter.
#
# --dry-run: the same path on the CPU (Triton's interpreter, small shapes, nothing timed), so the
# script is known to work before a GPU run. --quick: a few corpus entries, one task, two stability
# runs (what the tests run). Exit 0 when every part finished and every result was as expected.
set -u

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
COPY_TO="${OUT:-}"  # the lent GPU machine's folder for files that come back
RESULTS=""
MODE=()
LIMITS=()
SANDBOX_ONLY=0

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) MODE+=(--dry-run); shift ;;
    --quick) MODE+=(--quick); shift ;;
    --out) RESULTS="${2:-}"; shift 2 ;;
    --out=*) RESULTS="${1#--out=}"; shift ;;
    --copy-to) COPY_TO="${2:-}"; shift 2 ;;
    --sandbox-only) SANDBOX_ONLY=1; shift ;;
    --limit) LIMITS+=(--limit "${2:-}"); shift 2 ;;
    -h|--help) usage ;;
    *) echo "gpu_campaign: unknown argument '$1'" >&2; usage ;;
  esac
done
[ -n "$RESULTS" ] || { echo "gpu_campaign: --out DIR is required" >&2; usage; }
command -v "$PY" >/dev/null || { echo "gpu_campaign: no '$PY' interpreter (set PYTHON)" >&2; exit 2; }
command -v timeout >/dev/null || { echo "gpu_campaign: GNU timeout is required" >&2; exit 2; }

mkdir -p "$RESULTS/parts" || exit 2
RESULTS="$(cd "$RESULTS" && pwd)"
cd "$ROOT" || exit 2
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
campaign() { "$PY" benchmarks/gpu_campaign.py "$@" --out "$RESULTS" "${MODE[@]}"; }

# ---- the sandbox: system bwrap, else the carried one, else none (trusted code only)
BWRAP_FROM=system
CARRY="${KILN_GPU_CARRY:-$ROOT/.gpu-carry}"
if ! command -v bwrap >/dev/null && ls "$CARRY"/debs/bubblewrap_*.deb >/dev/null 2>&1; then
  if command -v dpkg >/dev/null; then
    mkdir -p "$CARRY/root"
    for deb in "$CARRY"/debs/*.deb; do dpkg -x "$deb" "$CARRY/root" || echo "gpu_campaign: dpkg -x $deb failed" >&2; done
    if [ -x "$CARRY/root/usr/bin/bwrap" ]; then
      export PATH="$CARRY/root/usr/bin:$PATH"
      BWRAP_FROM="carried (.gpu-carry/debs)"
      if ldd "$CARRY/root/usr/bin/bwrap" 2>/dev/null | grep -q "not found"; then
        libs="$CARRY/root/lib/x86_64-linux-gnu:$CARRY/root/usr/lib/x86_64-linux-gnu"
        export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        BWRAP_FROM="$BWRAP_FROM with its libraries"
      fi
    fi
  else
    BWRAP_FROM="absent (dpkg missing to unpack .gpu-carry/debs)"
  fi
elif ! command -v bwrap >/dev/null; then
  BWRAP_FROM="absent (no .gpu-carry/debs: run scripts/prepare-gpu-carry and carry .gpu-carry)"
fi
echo "== sandbox (bwrap: $BWRAP_FROM)"
PROBE_LIMIT=25; [ "${MODE[*]}" != "${MODE[*]/--dry-run/}" ] && PROBE_LIMIT=180  # the CPU is slower
SANDBOX_LINE="$(timeout -k 5 "$PROBE_LIMIT" "$PY" benchmarks/gpu_campaign.py sandbox --out "$RESULTS" "${MODE[@]}" --bwrap-from "$BWRAP_FROM" | tail -n 1)"
if [ "$SANDBOX_LINE" = "SANDBOX=auto" ]; then
  SANDBOX=(--sandbox auto)
else
  SANDBOX=(--sandbox none --trusted-code)
  echo "   no sandbox works here: the project's own kernels run with --sandbox none --trusted-code; corpus skipped"
fi
[ "$SANDBOX_ONLY" = 1 ] && { echo "$SANDBOX_LINE"; exit 0; }

# ---- the plan: each part's limit, and the estimate, printed before anything runs
declare -A LIMIT=()
PLAN="$(campaign plan "${SANDBOX[@]}" "${LIMITS[@]}")" || { echo "gpu_campaign: no plan" >&2; exit 2; }
while IFS='=' read -r part seconds; do LIMIT[$part]="$seconds"; done <<< "$PLAN"

for part in env template corpus stability gpu-tests; do
  limit="${LIMIT[$part]:-0}"
  if [ "$limit" -le 0 ]; then
    printf '{"status": "skipped", "exit_code": 0, "seconds": 0, "limit_s": 0}\n' > "$RESULTS/parts/$part.status.json"
    echo "== $part: skipped"
    continue
  fi
  echo "== $part (limit ${limit} s)"
  start=$(date +%s)
  # the part's own deadline leaves a margin before the hard limit, so it can write what it has
  margin=$(( limit / 4 < 15 ? limit / 4 : 15 ))
  timeout -k 10 "$limit" "$PY" benchmarks/gpu_campaign.py "$part" --out "$RESULTS" --deadline "$((limit - margin))" \
    "${MODE[@]}" "${SANDBOX[@]}"
  rc=$?
  seconds=$(( $(date +%s) - start ))
  case $rc in
    0) status=done ;;
    124|137) status="timed out (partial results)" ;;
    *) status="failed (exit $rc)" ;;
  esac
  printf '{"status": "%s", "exit_code": %d, "seconds": %d, "limit_s": %d}\n' \
    "$status" "$rc" "$seconds" "$limit" > "$RESULTS/parts/$part.status.json"
  echo "   $status in ${seconds} s"
done

"$PY" benchmarks/gpu_campaign.py report --out "$RESULTS"
rc=$?

# ---- results where they come back from (the lent machine's $OUT), named with the commit id
if [ -n "$COPY_TO" ] && [ "$COPY_TO" != "$RESULTS" ]; then
  commit="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || cut -c1-12 "$CARRY/COMMIT" 2>/dev/null || echo unknown)"
  mkdir -p "$COPY_TO"
  cp "$RESULTS/campaign.json" "$COPY_TO/campaign-$commit.json"
  cp "$RESULTS/campaign.md" "$COPY_TO/campaign-$commit.md"
  tar -czf "$COPY_TO/campaign-parts-$commit.tar.gz" -C "$RESULTS" parts
  echo "copied campaign-$commit.{json,md} and campaign-parts-$commit.tar.gz to $COPY_TO"
fi
exit $rc
