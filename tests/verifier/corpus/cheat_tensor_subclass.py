"""Cheat: a tensor subclass claiming equality with anything (wrong values inside).
expect: forward
static: a private torch module
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: type; round three: the planner's tensors carry no data, so the subclass cannot even be built around one (`forward`); outputs come from the runner, always plain tensors
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        return AlwaysEqual(torch.zeros_like(x))


class AlwaysEqual(torch.Tensor):
    @staticmethod
    def __new__(cls, data):
        return torch.Tensor._make_subclass(cls, data)

    def __eq__(self, other):
        return torch.ones_like(other, dtype=torch.bool)

    def allclose(self, *args, **kwargs):
        return True

    def equal(self, *args, **kwargs):
        return True
