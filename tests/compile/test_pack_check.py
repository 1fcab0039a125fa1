"""The pack's end-to-end check (``model_child`` ``check``) on a forward that draws random numbers.

KernelBench's LSTMs draw their initial state with ``torch.randn`` inside ``forward``: the check must give
the eager and the patched model the same draws, or it reports a mismatch no kernel caused (it did, for
35_LSTM, before the check seeded each call).

A model whose imports import triton (``import torchvision`` does) must still run the pack's CPU-verified
kernels: the check loads the pack before the model (it did not, and torchvision's ResNet-18 ran no kernel).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kernelkiln.pack.groups import capture, split
from service.compile.children import run_child
from service.compile.model_child import build, load_model_module
from tests.compile.packs import EAGER_KERNEL, MODELS, TRITON_RELU, groups_of, write_pack

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


def test_a_model_that_imports_triton_still_runs_the_cpu_verified_kernels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model's own imports import triton, as torchvision's do: the check's child has no
    TRITON_INTERPRET, so only loading the pack first lets its interpreted kernel run."""
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    source = "import triton.language  # as `import torchvision` does\n" + (MODELS / "mlp_relu.py").read_text()
    pack = write_pack(
        tmp_path / "pack", groups_of("mlp_relu"), lambda g: TRITON_RELU if g.summary() == "relu" else None
    )
    answer = run_child({"action": "check", "source": source, "pack": str(pack), "calls": 2}, timeout_s=300)
    assert answer["passed"], answer["calls"]
    assert (answer["stats"]["kernel_calls"], answer["stats"]["fallback_calls"]) == (2, 0), answer["last_fallbacks"]
