"""Parent: the forward reaches the planner's recorder (`verifier.plan.record._ACTIVE`) and adds a field
to its launch step that no check reads, a list nested 800 deep. It parses as JSON in the parent,
passes `check_plan` (which reads only a step's `launch` and `variants`), and then the parent's
`canonical()` walks the whole plan recursively (two frames a level): RecursionError in the
trusted parent, outside any `try`.
expect: plan
static: the verifier itself
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: forward (the round-three module it reaches does not exist there)
round three: ACCEPTED (or raised) by the first draft of round three; closed: plans must have the plan's exact keys and values at most 16 deep (`plan`), checked before anything walks them
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        y = dwconv(x, self.conv.weight, self.conv.bias)
        from verifier.plan import record

        recorder = record._ACTIVE.recorder
        if recorder is not None and recorder.call is not None:
            junk = []
            for _ in range(800):
                junk = [junk]
            recorder.call.steps[-1]["note"] = junk
        return y
