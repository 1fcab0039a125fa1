"""NOT a kernel (test data): fftconv.long_conv computed with torch.fft, a framework fallback.

The verifier must reject it: the task allows no aten compute ops beyond its allowlist.
"""

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, channels: int, dtype: torch.dtype) -> None:
        #include ../../../tasks/sources/fftconv_long_conv.py: Model.__init__[:]

    def forward(self, u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        length = u.shape[-1]
        n = 2 * length
        y = torch.fft.irfft(torch.fft.rfft(u.float(), n=n) * torch.fft.rfft(k.float(), n=n), n=n)[..., :length]
        return (y + u.float() * self.d.float().unsqueeze(-1)).to(u.dtype)
