"""Parent CPU and memory through plan constants: the planner's frames are claims (see
takeover_planner_forged_plans.py), and a frame's tensors are views of its blob, so one blob region
can be named by any number of constants. The parent then hashes every constant separately
(`digest(codec.tensor_bytes(t))` in `_check_plans`) and copies every one into the runner's request
(`codec.encode(constants)` in `_start_runner`), with no limit on count or total size (the planner's
own 64 MiB cap runs in the candidate's process). Here each call's plan (an honest launch) names one
4 MiB region 64 times: 256 MiB hashed and 256 MiB copied per call from 4 MiB sent (measured: the
parent's peak RSS rose by 1.46 GB over five calls); ACCEPTED. At the caps (a 64 MiB header naming
about 1.4 million constants, one 1 GiB region) it is about 1.5 PB of SHA-256 per call (weeks of the
parent's CPU at the 1.1 GB/s measured here) before any rule looks at the count.
expect: plan
static: os.
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: process (its protocol has no plan frames)
round three: ACCEPTED (or raised) by the first draft of round three; closed: constants are counted in the parent (at most 4096 and 64 MiB in all, aliases counted in full) as they arrive (`plan`)
"""

#include takeover_planner_forged_plans.py: imports, _pipes, _read_exact, _read_message

REFS = 64
REGION = 1 << 20  # float32 elements: 4 MiB


def _frame(fd, seq, header, blob=b""):
    body = json.dumps(header).encode()
    os.write(fd, b"KLN0" + seq.to_bytes(8, "big") + len(body).to_bytes(4, "big") + len(blob).to_bytes(8, "big") + body)
    view = memoryview(blob)
    while len(view):
        view = view[os.write(fd, view) :]


def _take_over():
    reads, writes = _pipes()
    if len(reads) != 1 or len(writes) != 1:
        return
    fd, seq = writes[0], 2
    _frame(fd, seq, {"kind": "loaded"})
    seq += 1
    state = [
        {"name": "conv.weight", "v": 0, "kind": "parameter", "dtype": "float32", "shape": [4, 1, 3, 3], "stride": [9, 9, 3, 1]},
        {"name": "conv.bias", "v": 1, "kind": "parameter", "dtype": "float32", "shape": [4], "stride": [1]},
    ]
    blob = bytes(4 * REGION)
    value = 100
    while True:
        command = _read_message(reads[0])
        op = command.get("op")
        if op == "instance":
            _frame(fd, seq, {"kind": "instance", "index": command["index"], "state": state})
        elif op == "plan":
            x, y = value, value + 1
            consts = list(range(value + 2, value + 2 + REFS))
            value += 2 + REFS
            launch = {
                "launch": "dwconv_kernel",
                "variants": [
                    {
                        "args": {"x_ptr": {"v": x}, "w_ptr": {"v": 0}, "b_ptr": {"v": 1}, "y_ptr": {"v": y},
                                 "C": 4, "H": 8, "W": 8, "K": 3, "BLOCK": 8},
                        "grid": [4],
                        "options": {},
                    }
                ],
            }
            alloc = {"op": "aten.empty_like.default", "args": [{"v": x}], "kwargs": {}, "out": {"v": y}}
            plan = {"inputs": {"l": [{"v": x}]}, "steps": [alloc, launch], "returns": {"v": y}}
            header = {
                "kind": "plan",
                "index": command["index"],
                "call": command["call"],
                "plan": plan,
                "constants": [{"v": c, "device": "cpu", "stride": [1]} for c in consts],
                "values": {"l": [{"T": ["float32", [REGION], 0, 4 * REGION]} for _ in consts]},
            }
            _frame(fd, seq, header, blob)
        elif op == "end":
            _frame(fd, seq, {"kind": "done"})
            os._exit(0)
        else:
            os._exit(0)
        seq += 1


_take_over()

#include honest_dwconv.py: imports, dwconv_kernel
#include takeover_planner_forged_plans.py: ModelNew
