"""Honest: ModelNew's __init__ computes its own initial parameters with torch (scaled random
weights, as references often do); the reference's parameters replace them, and compute is locked
only from the first forward on.
expect: accepted
static: none
before this round: not run against the previous verifier (its recorders did not watch __init__)
"""

#include honest_dwconv.py: imports, dwconv_kernel


#include honest_dwconv.py: ModelNew.__init__
        with torch.no_grad():
            self.conv.weight.mul_(1.0 / kernel_size).add_(torch.randn_like(self.conv.weight) * 0.01)

    def forward(self, x):
        x = x.contiguous()
        n, c, h, w = x.shape
        y = torch.empty_like(x)
        k = self.conv.kernel_size[0]
        dwconv_kernel[(n * c,)](x, self.conv.weight, self.conv.bias, y, c, h, w, K=k, BLOCK=triton.next_power_of_2(max(h, w)))
        return y
