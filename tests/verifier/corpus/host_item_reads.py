"""Host computation without numpy or tolist: every element read with float(t[i]) and convolved in Python.
expect: no_fallback
static: none
before this round: rejected by the previous verifier only by its timeout (commit 17a26d0: process)
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        n, c, h, w = x.shape
        wt, bs = self.conv.weight, self.conv.bias
        out = torch.empty_like(x)
        flat = out.view(-1)
        for b_ in range(n):
            for ch in range(c):
                for i in range(h):
                    for j in range(w):
                        acc = float(bs[ch])
                        for di in range(3):
                            for dj in range(3):
                                ii, jj = i + di - 1, j + dj - 1
                                if 0 <= ii < h and 0 <= jj < w:
                                    acc += float(x[b_, ch, ii, jj]) * float(wt[ch, 0, di, dj])
                        flat[((b_ * c + ch) * h + i) * w + j] = acc
        return out
