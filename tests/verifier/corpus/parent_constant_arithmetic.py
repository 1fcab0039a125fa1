"""Parent: kernel_source evaluates module-level constants in the trusted parent (`extract()`, called
by `PlanRun.__init__` inside `verify()`, before any sandbox or timeout), and its evaluator bounds
`**` and `<<` but not `*`: each line squares the previous constant, doubling its size. Measured:
21 lines take 27 s and 2 GB; every further line costs about 2.7x the time and 2x the memory
(26 lines: hours and 64 GB). This entry stops at 16 lines (a fraction of a second) and is then an
honest kernel whose `@triton.jit(debug=...)` argument compares
the constant: ACCEPTED.
expect: plan
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
round three: ACCEPTED (or raised) by the first draft of round three; closed: integers past 2**64 are refused by the parent's evaluator: the kernel is not taken and its launch is refused (`plan`)
"""

#include honest_dwconv.py: imports

A0 = 4294967296**64
A1 = A0 * A0
A2 = A1 * A1
A3 = A2 * A2
A4 = A3 * A3
A5 = A4 * A4
A6 = A5 * A5
A7 = A6 * A6
A8 = A7 * A7
A9 = A8 * A8
A10 = A9 * A9
A11 = A10 * A10
A12 = A11 * A11
A13 = A12 * A12
A14 = A13 * A13
A15 = A14 * A14
A16 = A15 * A15


@triton.jit(debug=A16 < 0)
def dwconv_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
#include honest_dwconv.py: dwconv_kernel[:], dwconv, ModelNew
