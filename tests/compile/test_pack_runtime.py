"""The pack runtime (kernelkiln.pack): groups, keys, patching, guards, fallbacks and counts, on hand-made
packs (tests/compile/packs.py) so that what should run where is known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import kernelkiln.pack
from kernelkiln.pack.group_source import group_source
from tests.compile.packs import (
    EAGER_KERNEL,
    TRITON_RELU,
    apply_in_fresh_process,
    groups_of,
    model_and_inputs,
    write_pack,
)


def test_the_cnn_splits_into_its_fused_groups() -> None:
    groups = groups_of("tiny_cnn")
    assert [g.summary() for g in groups] == [
        "conv2d+batch_norm+relu",
        "conv2d+batch_norm+add+relu",
        "adaptive_avg_pool2d",
        "linear",
    ]
    residual = groups[1]
    # the residual is the block's own input: read once; the batch norm's statistics are buffers
    assert [s.kind for s in residual.input_specs] == ["input", *["parameter"] * 3, "buffer", "buffer"]
    assert residual.input_specs[5].role == "running_var"
    assert all(not g.skip_reason for g in groups)


def test_keys_are_stable_and_name_structure_and_shapes() -> None:
    first = [g.key for g in groups_of("tiny_cnn")]
    assert first == [g.key for g in groups_of("tiny_cnn")]  # a second export, other weights: same keys
    assert len(set(first)) == len(first)
    model, _, _ = model_and_inputs("tiny_cnn")
    wider = kernelkiln.pack.split(kernelkiln.pack.capture(model, [torch.randn(2, 3, 10, 10)])).groups
    assert [g.summary() for g in wider] == [g.summary() for g in groups_of("tiny_cnn")]
    assert [g.key for g in wider][:3] != first[:3]  # other shapes, other keys
    assert wider[3].key == first[3]  # ...but the linear after the pooling sees the same (2, 4) input


def test_a_group_source_depends_on_its_key_alone() -> None:
    """The same group in two models (here two exports with other weights) is one source, so one task."""
    first, second = groups_of("tiny_cnn")[1], groups_of("tiny_cnn")[1]
    assert first.key == second.key and group_source(first) == group_source(second)
    assert first.key[:16] in group_source(first) and "tiny_cnn" not in group_source(first)


def test_a_group_source_computes_what_the_model_computes(tmp_path: Path) -> None:
    model, inputs, _ = model_and_inputs("tiny_cnn")
    groups = groups_of("tiny_cnn")
    source = group_source(groups[1])
    namespace: dict = {}
    exec(compile(source, "<group>", "exec"), namespace)
    assert namespace["get_init_inputs"]() == []
    assert [tuple(x.shape) for x in namespace["get_inputs"]()] == [(2, 4, 8, 8)]
    module = namespace["Model"]()
    assert float(module.x5.min()) > 0  # running variance: positive
    pack = kernelkiln.pack.load(write_pack(tmp_path, groups, lambda g: EAGER_KERNEL))
    with torch.no_grad():
        want = model(*inputs)
        pack.apply(model)
        got = model(*inputs)
    torch.testing.assert_close(got, want)
    stats = pack.stats()
    assert stats["kernel_calls"] == 4 and stats["fallback_calls"] == 0 and stats["model_fallbacks"] == 0
    assert sorted(stats["per_kernel"]) == sorted(k.name for k in pack.kernels.values())


def _relu_pack(tmp_path: Path) -> kernelkiln.pack.Pack:
    """The MLP's ReLU group with a "kernel" that is its own PyTorch op (the guards do not care which)."""
    groups = groups_of("mlp_relu")
    assert [g.summary() for g in groups] == ["linear", "relu", "linear"]
    return kernelkiln.pack.load(write_pack(tmp_path, groups, lambda g: EAGER_KERNEL if g.summary() == "relu" else None))


def test_a_kernel_runs_only_where_it_was_verified(tmp_path: Path) -> None:
    model, inputs, _ = model_and_inputs("mlp_relu")
    pack = _relu_pack(tmp_path)
    with torch.no_grad():
        want = model(*inputs)
        pack.apply(model)
        torch.testing.assert_close(model(*inputs), want)
        assert pack.stats()["kernel_calls"] == 1
        # another batch: the group's key differs, the relu runs in PyTorch (no kernel for it)
        other = torch.randn(5, 6)
        model(other)
        assert pack.stats()["kernel_calls"] == 1
        # float64: the verified dtype is float32; the plan's key misses, nothing runs the kernel
        model.double()
        model(inputs[0].double())
        model.float()
    assert pack.stats()["kernel_calls"] == 1
    # with gradients the whole forward runs unpatched
    model(*inputs)
    assert pack.stats()["model_fallbacks"] == 1
    assert "gradients" in pack.last_model_fallback
    # in training mode too
    model.train()
    with torch.no_grad():
        model(*inputs)
    assert pack.stats()["model_fallbacks"] == 2
    assert "training" in pack.last_model_fallback


def test_the_op_guards_fall_back_outside_what_was_verified(tmp_path: Path) -> None:
    (kernel,) = _relu_pack(tmp_path).kernels.values()
    x = torch.randn(3, 6)
    op = getattr(torch.ops.kernelkiln, kernel.op_name)
    torch.testing.assert_close(op([x]), torch.relu(x))
    assert kernel.stats() == {"kernel_calls": 1, "fallback_calls": 0}
    torch.testing.assert_close(op([torch.randn(4, 6)]).shape, torch.Size([4, 6]))
    assert "shape" in kernel.last_fallback
    op([x.double()])
    assert "dtype" in kernel.last_fallback
    assert kernel.stats() == {"kernel_calls": 1, "fallback_calls": 2}
    # the op's fake implementation gives the output's shape without running the kernel
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        fake = op([torch.empty(3, 6)])
    assert tuple(fake.shape) == (3, 6)


def test_a_changed_kernel_file_is_refused(tmp_path: Path) -> None:
    groups = groups_of("mlp_relu")
    root = write_pack(tmp_path, groups, lambda g: EAGER_KERNEL)
    path = next((root / "kernels").iterdir())
    path.write_text(path.read_text() + "\n# changed\n")
    with pytest.raises(kernelkiln.pack.PackError, match="does not match"):
        kernelkiln.pack.load(root)
    with pytest.raises(kernelkiln.pack.PackError, match="not a kernel pack"):
        kernelkiln.pack.load(tmp_path / "nowhere")
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["kernels"]


def test_the_runtime_imports_only_torch_triton_and_itself() -> None:
    import ast
    import sys

    allowed = set(sys.stdlib_module_names) | {"torch", "triton", "kernelkiln"}
    root = Path(kernelkiln.pack.__file__).parents[1]
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            wrong = {n.split(".")[0] for n in names} - allowed
            assert not wrong, f"{path}: imports {wrong}"


def test_attention_groups_and_a_patched_forward_through_views(tmp_path: Path) -> None:
    model, inputs, _ = model_and_inputs("tiny_attention")
    groups = groups_of("tiny_attention")
    summaries = [g.summary() for g in groups]
    assert "linear+mul+pow+mul+add+mul+tanh+add+mul" in summaries  # GELU written out: the GEMM's epilogue
    assert "linear+add" in summaries  # the residual
    (mask,) = [g for g in groups if g.summary() == "eq"]
    assert "parameters and buffers" in mask.skip_reason  # a constant of the model: left to PyTorch
    pack = kernelkiln.pack.load(write_pack(tmp_path, groups, lambda g: None if g.skip_reason else EAGER_KERNEL))
    with torch.no_grad():
        want = model(*inputs)
        pack.apply(model)
        torch.testing.assert_close(model(*inputs), want)
    assert pack.stats()["kernel_calls"] == len([g for g in groups if not g.skip_reason])


@pytest.mark.parametrize("order", ["pack-first", "triton-first"])
def test_a_triton_kernel_verified_on_a_cpu_runs_in_the_interpreter(tmp_path: Path, order: str) -> None:
    """In a fresh process: loading the pack first turns the interpreter on and the kernel runs; a process
    that imported triton without it cannot interpret, and the kernel falls back, saying why."""
    groups = groups_of("mlp_relu")
    write_pack(tmp_path, groups, lambda g: TRITON_RELU if g.summary() == "relu" else None)
    result = apply_in_fresh_process(tmp_path, "mlp_relu", triton_first=order == "triton-first")
    assert result["close"]
    if order == "pack-first":
        assert (result["kernel_calls"], result["fallback_calls"]) == (1, 0)
    else:
        assert (result["kernel_calls"], result["fallback_calls"]) == (0, 1)
        assert "TRITON_INTERPRET" in result["why"]


def test_torch_compile_treats_a_pack_op_as_opaque(tmp_path: Path) -> None:
    (kernel,) = _relu_pack(tmp_path).kernels.values()
    op = getattr(torch.ops.kernelkiln, kernel.op_name)
    compiled = torch.compile(lambda x: op([x * 2.0]) + 1.0, backend="aot_eager", fullgraph=True)
    x = torch.randn(3, 6)
    torch.testing.assert_close(compiled(x), torch.relu(x * 2.0) + 1.0)
    assert kernel.kernel_calls == 1  # traced through its fake implementation, run once for real


CONTIGUOUS_KERNEL = (
    "\n\nclass ModelNew(Model):\n    def forward(self, *a):\n        return super().forward(*a).contiguous()\n"
)
"""A "kernel" writing a contiguous output where eager keeps its input's memory order."""


def test_a_kernel_output_takes_the_layout_the_graph_was_traced_with(tmp_path: Path) -> None:
    """Export records a plain ``view`` after a transpose of the ReLU's output (contiguous in eager); a
    kernel's contiguous output is given eager's layout before that view runs (before: a RuntimeError,
    "view size is not compatible", on KernelBench's 32_ConvolutionalVisionTransformer's pack)."""
    groups = groups_of("transposed_relu")
    assert [g.summary() for g in groups] == ["relu"]
    pack = kernelkiln.pack.load(write_pack(tmp_path / "pack", groups, lambda g: CONTIGUOUS_KERNEL))
    model, inputs, _ = model_and_inputs("transposed_relu")
    with torch.no_grad():
        want = model(*inputs)
        pack.apply(model)
        torch.testing.assert_close(model(*inputs), want)
    assert pack.stats()["kernel_calls"] == 1 and pack.stats()["fallback_calls"] == 0
