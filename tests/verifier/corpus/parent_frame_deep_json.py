"""Parent: at import the candidate writes a well-formed frame whose JSON header nests 200,000 deep
(400 KB, under the 64 MiB header limit): `json.loads` in the parent raises RecursionError, which
the channel must turn into a protocol error (a frame it cannot read), never an exception.
expect: process
static: os.
before this round: the previous verifier (commit f02de3d, static screen off): verify() raised RecursionError (no verdict)
"""

#include takeover_planner_forged_plans.py: imports, _pipes


def _deep():
    reads, writes = _pipes()
    if len(writes) != 1:
        return
    depth = 200_000
    header = b'{"kind":"loaded","x":' + b"[" * depth + b"]" * depth + b"}"
    os.write(writes[0], b"KLN0" + (2).to_bytes(8, "big") + len(header).to_bytes(4, "big") + (0).to_bytes(8, "big") + header)


_deep()

#include takeover_planner_forged_plans.py: ModelNew
