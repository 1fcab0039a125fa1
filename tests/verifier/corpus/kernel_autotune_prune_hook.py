"""Autotune hooks run Python the runner never runs: `prune_configs_by` picks the config by a
function of the launch arguments, and a `pre_hook` on a config writes into the output before the
launch (where a cheat would fill it with a fallback's result).
expect: plan
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
"""

#include honest_dwconv.py: imports


def _prune(configs, named_args, **kwargs):
    return configs[:1]


def _pre(args):
    args["y_ptr"].zero_()


@triton.autotune(
    configs=[triton.Config({"BLOCK": 8}, pre_hook=_pre), triton.Config({"BLOCK": 16})],
    key=["H"],
    prune_configs_by={"early_config_prune": _prune},
)
#include honest_dwconv.py: dwconv_kernel


#include honest_autotune_configs_range.py: ModelNew
