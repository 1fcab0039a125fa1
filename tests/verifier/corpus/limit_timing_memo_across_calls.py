"""Memoisation across calls through a buffer the plan keeps: at the first call the forward allocates
a cache (keys, validity, outputs; 256 slots per plane) and every call's kernel looks its input up by
a fingerprint (the plane's first four values). A hit copies the cached plane and skips the
convolution; a miss computes it and fills the slot. Values are always right and the plan is the
same from the second call on, so it is ACCEPTED. Correctness calls never repeat an input, but the
GPU's timed phase cycles three timing input sets: from the fourth timed run on every call is a hit,
and the time measured is a copy's (for a heavy op, a large fake speedup). Nothing compares a kept
value's contents between calls. Simulated here with the runner's own PlanExecutor (interpreter)
on three inputs cycled: from the fourth run on every run was a hit (4-5x faster), and the outputs
stayed right after the weights in the value table were zeroed (no convolution ran).
expect: accepted
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
limit: on a CPU every correctness call gets fresh inputs, so the memo never hits and the kernel is right: accepted. The harm is on a GPU's timed phase, whose inputs repeat: there the runner puts every kept buffer back as saved before each timed run, so the memo never hits there either.
"""

#include honest_dwconv.py: imports


@triton.jit
def memo_dwconv_kernel(
    x_ptr, w_ptr, b_ptr, y_ptr, keys_ptr, valid_ptr, vals_ptr, P, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr, SLOTS: tl.constexpr
):
    plane = tl.program_id(0)
    c = plane % C
    four = tl.arange(0, 4)
    key = tl.load(x_ptr + plane * H * W + four)
    bits = key.to(tl.int32, bitcast=True)
    slot = tl.sum(tl.where(four == 0, bits, 0)) & (SLOTS - 1)
    entry = slot * P + plane
    stored = tl.load(keys_ptr + entry * 4 + four)
    hit = (tl.sum((stored == key).to(tl.int32)) == 4) & (tl.load(valid_ptr + entry) == 1)
    offs_h = tl.arange(0, BLOCK)
    offs_w = tl.arange(0, BLOCK)
    m = (offs_h[:, None] < H) & (offs_w[None, :] < W)
    where = offs_h[:, None] * W + offs_w[None, :]
    if hit:
        out = tl.load(vals_ptr + entry * H * W + where, mask=m, other=0.0)
    else:
        acc = tl.zeros((BLOCK, BLOCK), dtype=tl.float32)
        for kh in tl.static_range(K):
            ih = offs_h + kh - K // 2
            for kw in tl.static_range(K):
                #include honest_dwconv.py: dwconv_kernel[5][1][:1]
                mm = ((ih >= 0) & (ih < H))[:, None] & ((iw >= 0) & (iw < W))[None, :]
                x = tl.load(x_ptr + plane * H * W + ih[:, None] * W + iw[None, :], mask=mm, other=0.0)
                acc += x * tl.load(w_ptr + c * K * K + kh * K + kw)
        out = acc + tl.load(b_ptr + c)
        tl.store(vals_ptr + entry * H * W + where, out, mask=m)
        tl.store(keys_ptr + entry * 4 + four, key)
        tl.store(valid_ptr + entry, 1)
    tl.store(y_ptr + plane * H * W + where, out, mask=m)


#include honest_dwconv.py: ModelNew.__init__
        self.cache = None

    def forward(self, x):
        x = x.contiguous()
        n, c, h, w = x.shape
        p = n * c
        if self.cache is None:
            self.cache = (
                torch.zeros(256 * p * 4, dtype=x.dtype, device=x.device),
                torch.zeros(256 * p, dtype=torch.int32, device=x.device),
                torch.empty(256 * p * h * w, dtype=x.dtype, device=x.device),
            )
        keys, valid, vals = self.cache
        y = torch.empty_like(x)
        memo_dwconv_kernel[(p,)](x, self.conv.weight, self.conv.bias, y, keys, valid, vals, p, c, h, w, K=3, BLOCK=8, SLOTS=256)
        return y
