#!/usr/bin/env bash
# A/B: `kiln verify` wall time on the bundled example, an older checkout against this one, interleaved.
#   BASE_DIR   a checkout of the older commit (git worktree add /tmp/kiln-base <commit>)
#   BASE_PY    a Python that imports that checkout and this project's dependencies (for instance a venv
#              whose site-packages holds a .pth listing BASE_DIR and this .venv's site-packages)
#   ROUNDS     pairs to run (default 4)
# Each side runs from its own directory: `python -c` puts the working directory first on sys.path.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
: "${BASE_DIR:?set BASE_DIR}" "${BASE_PY:?set BASE_PY}"
ROUNDS=${ROUNDS:-4}
EX=$HERE/verifier/examples
for i in $(seq 1 "$ROUNDS"); do
  for side in base new; do
    if [ $side = base ]; then PY=$BASE_PY; DIR=$BASE_DIR; else PY=$HERE/.venv/bin/python; DIR=$HERE; fi
    out=$(mktemp)
    start=$(date +%s.%N)
    (cd "$DIR" && "$PY" -c "import verifier; assert verifier.__file__.startswith('$DIR'); from service.cli import main; main()" \
      verify --reference "$EX/dwconv7x7_reference.py" --candidate "$EX/dwconv7x7_triton.py" --json > "$out" 2>/dev/null) || true
    end=$(date +%s.%N)
    python3 - "$side" "$i" "$start" "$end" "$out" <<'PY'
import json, sys
side, i, start, end, path = sys.argv[1:]
d = json.load(open(path))
calls = [c["detail"].rsplit("[", 1)[-1].rstrip("]") for c in d["checks"] if c["name"] == "values"]
print(f"{side} {i} wall {float(end) - float(start):.1f} s, {d['verdict']}, {len(d['seeds'])} instance(s), {calls[0] if calls else '?'}")
PY
    rm -f "$out"
  done
done
uptime
