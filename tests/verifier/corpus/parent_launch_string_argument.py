"""Parent: a launch passes a string for a plain (not constexpr) kernel parameter. The recorder encodes
it, `check_plan` accepts any literal, the dry run only collects the launch, and `compile_jobs` (in
the trusted parent, outside any `try`) raises `PlanError: ... gets a str` out of `verify()`.
expect: plan
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: forward
round three: ACCEPTED (or raised) by the first draft of round three; closed: a parameter that is not a tl.constexpr must get a tensor or a number (`plan`); anything the plans make the parent do is caught as a verdict
"""

#include honest_dwconv.py: imports, dwconv_kernel


def dwconv(x, weight, bias):
    x = x.contiguous()
    n, c, h, w = x.shape
    y = torch.empty_like(x)
    dwconv_kernel[(n * c,)](x, weight, bias, y, str(c), h, w, K=weight.shape[-1], BLOCK=triton.next_power_of_2(max(h, w)))
    return y


#include honest_dwconv.py: ModelNew
