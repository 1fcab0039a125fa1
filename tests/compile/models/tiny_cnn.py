"""A small CNN for the compile and pack tests: conv + batch norm + ReLU, a residual add, pooling, linear."""

import torch
import torch.nn as nn

batch_size = 2
channels = 4
size = 8
classes = 5


class Model(nn.Module):
    def __init__(self, channels, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        z = torch.relu(self.bn2(self.conv2(y)) + y)
        z = torch.nn.functional.adaptive_avg_pool2d(z, 1).flatten(1)
        return self.fc(z)


def get_inputs():
    return [torch.randn(batch_size, 3, size, size)]


def get_init_inputs():
    return [channels, classes]
