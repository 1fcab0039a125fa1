"""Parent memory: every call's launch step carries an extra field no check reads, a list of
1,000,000 empty JSON objects (3 bytes each on the wire, about 64 bytes each once parsed). The
parent keeps every call's parsed plan until the plans are checked, with no limit but the 64 MiB
header cap per frame. Measured with five calls: 2,000,000 a call raised the parent's peak RSS by
950 MB (ACCEPTED); 10,000,000 a call (30 MB headers) took the parent to a 4.6 GB peak (the runner
then died on the plans: `process`); at the 64 MiB cap it is about 9.5 GB of Python objects in the
trusted, unlimited parent before any rule looks at them. This entry uses 1,000,000 a call and is
ACCEPTED, extra field and all.
expect: plan
static: the verifier itself
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: forward (the round-three module it reaches does not exist there)
round three: ACCEPTED (or raised) by the first draft of round three; closed: plans must have the plan's exact keys (an unknown field is refused on arrival), planner headers are capped at 16 MiB and all plans at 2 million values (`plan`)
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        y = dwconv(x, self.conv.weight, self.conv.bias)
        from verifier.plan import record

        recorder = record._ACTIVE.recorder
        if recorder is not None and recorder.call is not None:
            recorder.call.steps[-1]["note"] = [{}] * 1_000_000
        return y
