"""Parent: the planner describes each plan constant's device as text, and the parent's dry run
makes the constant with `torch.empty_strided(..., device=that text)` before its `try`. The candidate
shadows `str` in the planner module's globals (a module attribute: no audit event, no integrity
check in the planner), so its constant (a plain tensor attribute made in `__init__`, viewed in
the forward) is described as on device "kiln": `verify()` raises RuntimeError.
expect: plan
static: the verifier itself
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: forward (the round-three module it reaches does not exist there)
round three: ACCEPTED (or raised) by the first draft of round three; closed: a plan constant's description is checked exactly (device cpu or cuda[:n], strides) before anything uses it (`plan`)
"""

import builtins

#include honest_dwconv.py: imports, dwconv_kernel, dwconv


def _text(value):
    if isinstance(value, torch.device):
        return "kiln"
    return builtins.str(value)


class ModelNew(nn.Module):
    def __init__(self, channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)
        self.bias_copy = torch.zeros(channels)
        from verifier.worker import planner_role

        planner_role.str = _text

    def forward(self, x):
        self.bias_copy.view(-1)  # reaches the constant: the plan carries it
        return dwconv(x, self.conv.weight, self.conv.bias)
