"""The forward knows when it is being recorded: the planner calls it on FakeTensors (no data), a
real caller on real tensors. Recorded, it launches the honest kernel; otherwise it calls
`F.conv2d`. The verdict is about the recorded plan (run by the runner), so the candidate is
ACCEPTED, while the file as written is a PyTorch fallback on every real call.
expect: accepted
static: telling a forward recorded
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: no_fallback
limit: the forward can tell it is being recorded (its tensors have no data) and record an honest plan: what is verified is that plan, with the file's kernels. Running the file as written outside the verifier is not what was verified. The static screen refuses the names such a check uses (`FakeTensor`, `type()`...), so with the screen on (the default) it is rejected; the runtime check alone accepts it.
"""

import torch.nn.functional as F

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        if type(x).__name__ == "FakeTensor":
            return dwconv(x, self.conv.weight, self.conv.bias)
        return F.conv2d(x, self.conv.weight, self.conv.bias, padding=1, groups=x.shape[1])
