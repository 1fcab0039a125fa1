"""A two-layer MLP with a standalone ReLU: the pack tests' model with a pointwise group of its own."""

import torch
import torch.nn as nn

batch_size = 3
features = 6


class Model(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.fc1 = nn.Linear(features, features)
        self.fc2 = nn.Linear(features, 2)

    def forward(self, x):
        h = self.fc1(x.flatten(1))
        return self.fc2(torch.relu(h.view(x.shape[0], -1)))


def get_inputs():
    return [torch.randn(batch_size, features)]


def get_init_inputs():
    return [features]
