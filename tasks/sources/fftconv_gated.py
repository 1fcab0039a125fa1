"""Gated long convolution by FFT (Hyena operator, FlashFFTConv's gated form)."""

import torch
import torch.nn as nn

BATCH = 2
CHANNELS = 4
SEQ_LEN = 128
DTYPE = "float32"


class Model(nn.Module):
    """x = pregate * u; y = postgate * (irfft(rfft(x, 2L) * rfft(k, 2L))[..., :L] + D * x).

    u, pregate, postgate (B, H, L) and the filter k (H, L) are inputs; D (H,) is a parameter.
    Computed in float32 and rounded to the input dtype.
    """

    def __init__(self, channels: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.d = nn.Parameter(torch.randn(channels, dtype=dtype))

    def forward(self, u: torch.Tensor, k: torch.Tensor, pregate: torch.Tensor, postgate: torch.Tensor) -> torch.Tensor:
        seq_len = u.shape[-1]
        n = 2 * seq_len
        x = u.float() * pregate.float()
        y = torch.fft.irfft(torch.fft.rfft(x, n=n) * torch.fft.rfft(k.float(), n=n), n=n)[..., :seq_len]
        y = (y + x * self.d.float().unsqueeze(-1)) * postgate.float()
        return y.to(u.dtype)


def get_inputs():
    dt = getattr(torch, DTYPE)
    u = torch.randn(BATCH, CHANNELS, SEQ_LEN, dtype=dt)
    k = (torch.randn(CHANNELS, SEQ_LEN) / SEQ_LEN**0.5).to(dt)
    pregate = torch.randn(BATCH, CHANNELS, SEQ_LEN, dtype=dt)
    postgate = torch.randn(BATCH, CHANNELS, SEQ_LEN, dtype=dt)
    return [u, k, pregate, postgate]


def get_init_inputs():
    return [CHANNELS, getattr(torch, DTYPE)]
