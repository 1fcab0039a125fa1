"""Parent: at import the candidate finds its result pipe (as in takeover_planner_forged_plans.py)
and writes a frame prefix claiming a 60 GiB payload, then streams zeros: the parent must refuse
the claim before buffering anything.
expect: process
static: os.
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: process
"""

#include takeover_planner_forged_plans.py: imports, _pipes


def _claim():
    reads, writes = _pipes()
    if len(writes) != 1:
        return
    header = b'{"kind":"plan"}'
    os.write(writes[0], b"KLN0" + (2).to_bytes(8, "big") + len(header).to_bytes(4, "big") + (60 << 30).to_bytes(8, "big") + header)
    chunk = b"\0" * (1 << 20)
    for _ in range(256):
        os.write(writes[0], chunk)


_claim()

#include takeover_planner_forged_plans.py: ModelNew
