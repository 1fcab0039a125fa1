"""Autotune with one wrong config: BLOCK=4 covers only a quarter of each 8x8 plane. A tuner on a
GPU might never pick it, and a verifier that checks only the first config never runs it; the
runner takes the configs in turn, call by call.
expect: values
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
"""

#include honest_dwconv.py: imports


@triton.autotune(configs=[triton.Config({"BLOCK": 8}), triton.Config({"BLOCK": 4})], key=["H"])
#include honest_dwconv.py: dwconv_kernel


#include kernel_autotune_config_never_run.py: ModelNew
