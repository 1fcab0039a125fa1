"""Parent: `@triton.autotune` configs as a comprehension over literal lists whose filter never
holds: the parent's evaluator (`_Literal.listcomp`, in `extract()` inside `verify()`, no sandbox,
no timeout) caps the configs it appends, not the iterations it makes. Three nested loops over a
100-element literal list cost about 4 s of the parent's CPU; each further loop multiplies that by
100 (six loops: about 50 days), for a source of a few hundred bytes. This entry stops at three; the
kernel is then refused for an empty config list (`plan`).
expect: plan
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: forward
round three: ACCEPTED (or raised) by the first draft of round three; closed: the parent's evaluator has a step budget (20,000 for the whole file): the kernel is not taken and its launch is refused (`plan`) in milliseconds
"""

#include honest_dwconv.py: imports

L = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]


@triton.autotune(configs=[triton.Config({"BLOCK": 8}) for a in L for b in L for c in L if a > 0], key=["H"])
#include honest_dwconv.py: dwconv_kernel


#include honest_autotune_configs_range.py: ModelNew
