"""Autotune with eleven configs where only the last is wrong: BLOCK=4 covers a quarter of each plane
(and is the cheapest, so a GPU tuner would pick it). The runner takes the configs in turn, one per
correctness call; an instance gets 8 to 10 calls on a CPU (5 in the tests), so config 11 is never
run or checked there: ACCEPTED, with a note saying which configs ran.
expect: values
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
round three: ACCEPTED (or raised) by the first draft of round three; closed: the runner now runs every config: calls take them in turn and the last call runs any left (`values`)
"""

#include honest_dwconv.py: imports


@triton.autotune(
    configs=[
        triton.Config({"BLOCK": 8}, num_warps=1),
        triton.Config({"BLOCK": 8}, num_warps=2),
        triton.Config({"BLOCK": 8}, num_warps=4),
        triton.Config({"BLOCK": 8}, num_warps=8),
        triton.Config({"BLOCK": 8}, num_warps=16),
        triton.Config({"BLOCK": 8}, num_warps=1, num_stages=2),
        triton.Config({"BLOCK": 8}, num_warps=2, num_stages=2),
        triton.Config({"BLOCK": 8}, num_warps=4, num_stages=2),
        triton.Config({"BLOCK": 8}, num_warps=8, num_stages=2),
        triton.Config({"BLOCK": 8}, num_warps=16, num_stages=2),
        triton.Config({"BLOCK": 4}, num_warps=1),
    ],
    key=["H"],
)
#include honest_dwconv.py: dwconv_kernel, ModelNew.__init__

    def forward(self, x):
        #include honest_autotune_configs_range.py: ModelNew.forward[:2]
        y = torch.zeros_like(x)
        #include honest_autotune_configs_range.py: ModelNew.forward[3:]
