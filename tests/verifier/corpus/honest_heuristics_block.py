"""Honest: `@triton.heuristics` derives the block size from the launch arguments (its lambda runs in
the launch code; the value it gives becomes a launch argument).
expect: accepted
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
"""

#include honest_dwconv.py: imports


@triton.heuristics({"BLOCK": lambda args: triton.next_power_of_2(max(args["H"], args["W"]))})
#include honest_dwconv.py: dwconv_kernel


#include honest_autotune_configs_range.py: ModelNew
