"""Host computation from storage bytes: bytes(untyped_storage()) decoded with struct, computed in Python, written back with frombuffer.
expect: no_fallback
static: struct
before this round: ACCEPTED by the previous verifier (commit 17a26d0, static screen on)
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv


import struct


#include honest_dwconv.py: ModelNew.__init__

    def forward(self, x):
        n, c, h, w = x.shape
        xs = struct.unpack(f"{x.numel()}f", bytes(x.contiguous().untyped_storage()))
        ws = struct.unpack(f"{self.conv.weight.numel()}f", bytes(self.conv.weight.detach().contiguous().untyped_storage()))
        bs = struct.unpack(f"{c}f", bytes(self.conv.bias.detach().contiguous().untyped_storage()))
        res = []
        for b_ in range(n):
            for ch in range(c):
                for i in range(h):
                    for j in range(w):
                        acc = bs[ch]
                        for di in range(3):
                            for dj in range(3):
                                ii, jj = i + di - 1, j + dj - 1
                                if 0 <= ii < h and 0 <= jj < w:
                                    acc += xs[((b_ * c + ch) * h + ii) * w + jj] * ws[ch * 9 + di * 3 + dj]
                        res.append(acc)
        return torch.frombuffer(bytearray(struct.pack(f"{len(res)}f", *res)), dtype=torch.float32).view(n, c, h, w)
