"""Launch options the plan format does not carry: `enable_fp_fusion=False` and a `debug` flag passed
at launch (options that change code generation between what is checked and what runs).
expect: plan
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
"""

#include honest_dwconv.py: imports, dwconv_kernel, ModelNew.__init__

    def forward(self, x):
#include honest_kernel_run_and_warmup.py: ModelNew.forward[:3]
        dwconv_kernel[(n * c,)](x, self.conv.weight, self.conv.bias, y, c, h, w, K=3, BLOCK=8, enable_fp_fusion=False)
        return y
