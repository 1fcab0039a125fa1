"""The pack's end-to-end check (``model_child`` ``check``) on a forward that draws random numbers.

KernelBench's LSTMs draw their initial state with ``torch.randn`` inside ``forward``: the check must give
the eager and the patched model the same draws, or it reports a mismatch no kernel caused (it did, for
35_LSTM, before the check seeded each call).
"""

from __future__ import annotations

from pathlib import Path

from kernelkiln.pack.groups import capture, split
from service.compile.children import run_child
from service.compile.model_child import build, load_model_module
from tests.compile.packs import EAGER_KERNEL, write_pack

NOISY = """
import torch
import torch.nn as nn

batch_size = 3


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x):
        h0 = torch.randn(x.shape[0], 6)
        return torch.relu(self.fc(x) + h0)


def get_inputs():
    return [torch.randn(batch_size, 6)]


def get_init_inputs():
    return []
"""


def test_a_forward_that_draws_random_numbers_gets_the_same_draws(tmp_path: Path) -> None:
    model, inputs = build(load_model_module(NOISY, {}), 0)
    groups = split(capture(model, inputs)).groups
    pack = write_pack(tmp_path / "pack", groups, lambda g: None if g.skip_reason else EAGER_KERNEL)
    answer = run_child({"action": "check", "source": NOISY, "pack": str(pack), "calls": 2}, timeout_s=300)
    assert answer["passed"], answer["calls"]
    assert answer["stats"]["kernel_calls"] >= 2, answer["stats"]
