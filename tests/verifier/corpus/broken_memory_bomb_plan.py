"""Broken: the launch plan allocates a buffer of 256 GiB; recording it costs nothing (no data), running it
fails in the kernel runner, which names the failed step.
expect: forward
static: none
before this round: new in round three
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        workspace = torch.empty(1 << 36, device=x.device)
        y = dwconv(x, self.conv.weight, self.conv.bias)
        return y if workspace.numel() > 0 else x
