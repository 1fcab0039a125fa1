"""A grid that depends on the data: the number of programs comes from `(x > 10).sum()` (zero
programs for normal inputs, so nothing is computed and the output stays as allocated).
expect: no_fallback
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: no_fallback
"""

#include honest_dwconv.py: imports, dwconv_kernel, ModelNew.__init__

    def forward(self, x):
        x = x.contiguous()
        n, c, h, w = x.shape
        y = torch.zeros_like(x)
        grid = lambda meta: (int((x > 10).sum()),)
        dwconv_kernel[grid](x, self.conv.weight, self.conv.bias, y, c, h, w, K=3, BLOCK=8)
        return y
