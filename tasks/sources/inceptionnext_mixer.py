"""InceptionNeXt's token mixer: identity / 3x3 / 1x11 band / 11x1 band depthwise branches on channel groups."""

import torch
import torch.nn as nn

BATCH = 2
CHANNELS = 16
HEIGHT = 16
WIDTH = 16
SQUARE_KERNEL = 3
BAND_KERNEL = 11
BRANCH_RATIO = 0.125
DTYPE = "float32"


class Model(nn.Module):
    """Split channels into (C - 3g, g, g, g), g = int(C * ratio); keep the first group, convolve the
    others depthwise with a square kernel, a 1xK band and a Kx1 band ('same' padding, bias); concat."""

    def __init__(
        self, channels: int, square_kernel: int, band_kernel: int, branch_ratio: float, dtype: torch.dtype
    ) -> None:
        super().__init__()
        dt = dtype
        g = int(channels * branch_ratio)
        self.dwconv_hw = nn.Conv2d(g, g, square_kernel, padding=square_kernel // 2, groups=g, dtype=dt)
        self.dwconv_w = nn.Conv2d(g, g, (1, band_kernel), padding=(0, band_kernel // 2), groups=g, dtype=dt)
        self.dwconv_h = nn.Conv2d(g, g, (band_kernel, 1), padding=(band_kernel // 2, 0), groups=g, dtype=dt)
        self.split_indexes = (channels - 3 * g, g, g, g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_id, x_hw, x_w, x_h = torch.split(x, self.split_indexes, dim=1)
        return torch.cat((x_id, self.dwconv_hw(x_hw), self.dwconv_w(x_w), self.dwconv_h(x_h)), dim=1)


def get_inputs():
    return [torch.randn(BATCH, CHANNELS, HEIGHT, WIDTH, dtype=getattr(torch, DTYPE))]


def get_init_inputs():
    return [CHANNELS, SQUARE_KERNEL, BAND_KERNEL, BRANCH_RATIO, getattr(torch, DTYPE)]
