"""torchvision's ResNet-18 (random weights, never downloaded) in KernelBench format, for `kiln compile`.

Needs torchvision beside torch (scripts/torchvision-venv makes such a venv); see docs/torchvision.md.
"""

import torch
import torch.nn as nn
import torchvision

batch_size = 2
in_channels = 3
height = 64
width = 64
num_classes = 1000


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torchvision.models.resnet18(weights=None, num_classes=num_classes)

    def forward(self, x):
        return self.net(x)


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]


def get_init_inputs():
    return []
