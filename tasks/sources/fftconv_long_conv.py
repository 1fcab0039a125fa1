"""Long convolution by FFT (H3 / Hyena / FlashFFTConv): y = irfft(rfft(u, 2L) * rfft(k, 2L))[..., :L] + D * u."""

import torch
import torch.nn as nn

BATCH = 2
CHANNELS = 4
SEQ_LEN = 128
DTYPE = "float32"


class Model(nn.Module):
    """u (B, H, L) and the long filter k (H, L) are inputs (Hyena's filter is generated every call);
    D (H,) is the skip parameter. The FFT length 2L makes the circular convolution a causal linear
    one: y[b, h, t] = sum_{j <= t} k[h, j] * u[b, h, t - j] + D[h] * u[b, h, t].
    Computed in float32 and rounded to the input dtype.
    """

    def __init__(self, channels: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.d = nn.Parameter(torch.randn(channels, dtype=dtype))

    def forward(self, u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        seq_len = u.shape[-1]
        n = 2 * seq_len
        u32 = u.float()
        u_f = torch.fft.rfft(u32, n=n)
        k_f = torch.fft.rfft(k.float(), n=n)
        y = torch.fft.irfft(u_f * k_f, n=n)[..., :seq_len]
        y = y + u32 * self.d.float().unsqueeze(-1)
        return y.to(u.dtype)


def get_inputs():
    dt = getattr(torch, DTYPE)
    u = torch.randn(BATCH, CHANNELS, SEQ_LEN, dtype=dt)
    k = (torch.randn(CHANNELS, SEQ_LEN) / SEQ_LEN**0.5).to(dt)
    return [u, k]


def get_init_inputs():
    return [CHANNELS, getattr(torch, DTYPE)]
