"""Every reference runs, is informative (not degenerate), and computes what its task says."""

from __future__ import annotations

import ast
import time

import pytest
import torch
import torch.nn.functional as F

import tasks
from tasks.source import module_constants

BUILTIN = [t for t in tasks.all_tasks() if t.origin == "builtin"]
SMALL = [(t, s) for t in BUILTIN for s in t.shapes_in("small")]
GRAPH_TASKS = ("spmm.csr", "gcn.layer")


@pytest.mark.parametrize(("task", "shape"), SMALL, ids=[f"{t.id}:{s.name}" for t, s in SMALL])
def test_small_shape_runs_and_is_not_degenerate(task: tasks.Task, shape: tasks.Shape) -> None:
    start = time.perf_counter()
    run = tasks.run_reference(task, shape, seed=0)
    out = run.output
    assert isinstance(out, torch.Tensor)
    assert out.dtype == getattr(torch, task.dtype(shape))
    assert bool(torch.isfinite(out).all())
    assert 100 <= out.numel() <= 100_000, "small shapes must stay small for the CPU interpreter"
    assert tasks.degeneracy_of(task, shape, seed=1) is None
    # Inputs are fresh per seed (the verifier draws several).
    other = tasks.run_reference(task, shape, seed=5).output
    assert not torch.equal(out, other)
    assert time.perf_counter() - start < 10


def test_degenerate_reference_is_caught() -> None:
    base = tasks.get("general.softmax")
    source = base.source.replace("return torch.softmax(x, dim=-1)", "return torch.zeros_like(x) + 0.25")
    fake = tasks.Task(
        id="general.fake_constant",
        family="general",
        title="t",
        description="d",
        source=source,
        shapes=base.shapes,
        constants=base.constants,
    )
    assert "constant" in (tasks.degeneracy_of(fake, "tiny") or "")
    with pytest.raises(tasks.DegenerateReferenceError, match="tiny"):
        tasks.check_nondegenerate(fake)
    tasks.check_nondegenerate(base)  # the real one passes


def _meta_run(task: tasks.Task, shape: tasks.Shape) -> torch.Tensor:
    module = tasks.load_module(task.source, task.params(shape))
    with torch.device("meta"):
        model = module.Model(*module.get_init_inputs())
        inputs = module.get_inputs()
        return model(*inputs)


META = [(t, s) for t in BUILTIN if t.id not in GRAPH_TASKS for s in t.shapes_in("realistic")]


@pytest.mark.parametrize(("task", "shape"), META, ids=[f"{t.id}:{s.name}" for t, s in META])
def test_realistic_shapes_are_consistent(task: tasks.Task, shape: tasks.Shape) -> None:
    """Realistic shapes build and propagate (on the meta device: no memory, no compute)."""
    out = _meta_run(task, shape)
    assert out.dtype == getattr(torch, task.dtype(shape))
    first_input = tasks.load_module(task.source, task.params(shape))
    with torch.device("meta"):
        x = first_input.get_inputs()[0]
    if task.family != "general":
        assert out.shape == x.shape  # convolutions keep the activation's shape


@pytest.mark.parametrize("task_id", GRAPH_TASKS)
def test_graph_models_build_for_realistic_shapes(task_id: str) -> None:
    """The realistic graphs are too large to draw here; their models build with the shape's sizes."""
    task = tasks.get(task_id)
    for s in task.shapes_in("realistic"):
        params = task.params(s)
        module = tasks.load_module(task.source, params)
        assert (params["NUM_NODES"], params["NUM_EDGES"]) == (module.NUM_NODES, module.NUM_EDGES)
        model = module.Model(*module.get_init_inputs())
        weights = {name: tuple(p.shape) for name, p in model.named_parameters()}
        if task_id == "gcn.layer":
            out_f, in_f = params["OUT_FEATURES"], params["IN_FEATURES"]
            assert weights == {"linear.weight": (out_f, in_f), "linear.bias": (out_f,)}, s.name
        else:
            assert weights == {}, s.name  # SpMM has no parameters
        assert all(p.dtype == getattr(torch, task.dtype(s)) for p in model.parameters()), s.name


# -- the references compute what their tasks say ------------------------------------------------


def test_dwconv2d_keeps_size_with_same_padding_and_dilation() -> None:
    task = tasks.get("dwconv2d.convnext_7x7")
    module = tasks.load_module(task.source, {"KERNEL_H": 3, "KERNEL_W": 5, "DILATION": 2, "HEIGHT": 9, "WIDTH": 7})
    torch.manual_seed(0)
    model = module.Model(*module.get_init_inputs())
    x = module.get_inputs()[0].double()
    w = model.conv.weight.detach().double()
    b = model.conv.bias.detach().double()
    y = model.double()(x)
    # Explicit sum over taps with zero padding, dilation 2.
    expected = torch.zeros_like(x) + b.view(1, -1, 1, 1)
    xp = F.pad(x, (4, 4, 2, 2))
    for i in range(3):
        for j in range(5):
            expected += w[:, 0, i, j].view(1, -1, 1, 1) * xp[:, :, 2 * i : 2 * i + 9, 2 * j : 2 * j + 7]
    torch.testing.assert_close(y, expected)


def test_unireplknet_branches_equal_one_merged_kernel() -> None:
    """The dilated branches are 'same'-padded and centred: they merge into one 13x13 kernel."""
    task = tasks.get("dwconv2d.unireplknet_13x13_dilated")
    run = tasks.run_reference(task, "tiny", seed=0)
    model = run.model
    c = model.origin.weight.shape[0]
    merged = model.origin.weight.detach().clone()
    bias = model.origin.bias.detach().clone()
    for conv in model.branches:
        k, d = conv.kernel_size[0], conv.dilation[0]
        span = d * (k - 1) + 1
        off = (13 - span) // 2
        merged[:, :, off : off + span : d, off : off + span : d] += conv.weight.detach()
        bias += conv.bias.detach()
    expected = F.conv2d(run.inputs[0], merged, bias, padding=6, groups=c)
    torch.testing.assert_close(run.output, expected, rtol=1e-5, atol=1e-5)


def test_inceptionnext_mixer_passes_identity_group_through() -> None:
    task = tasks.get("dwconv2d.inceptionnext_mixer")
    run = tasks.run_reference(task, "odd", seed=0)  # C = 20, g = int(20 * 0.125) = 2
    x = run.inputs[0]
    assert torch.equal(run.output[:, :14], x[:, :14])
    assert not torch.equal(run.output[:, 14:], x[:, 14:])


def _causal_direct(u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    length = u.shape[-1]
    y = torch.zeros_like(u)
    for j in range(k.shape[-1]):
        y[..., j:] += k[..., j : j + 1] * u[..., : length - j]
    return y


def test_conv1d_long_causal_is_a_causal_sum() -> None:
    task = tasks.get("conv1d.long_causal")
    for shape in ("odd", "short_kernel"):
        run = tasks.run_reference(task, shape, seed=0)
        x = run.inputs[0].double()
        w = run.model.weight.detach().double()
        expected = _causal_direct(x, w) + run.model.bias.detach().double().view(1, -1, 1)
        torch.testing.assert_close(run.output.double(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("task_id", ["fftconv.long_conv", "fftconv.gated_long_conv"])
def test_fftconv_equals_direct_causal_convolution(task_id: str) -> None:
    task = tasks.get(task_id)
    run = tasks.run_reference(task, "odd", seed=0)
    u, k = run.inputs[0].double(), run.inputs[1].double()
    d = run.model.d.detach().double().view(1, -1, 1)
    if task_id.endswith("gated_long_conv"):
        x = u * run.inputs[2].double()
        expected = (_causal_direct(x, k) + d * x) * run.inputs[3].double()
    else:
        expected = _causal_direct(u, k) + d * u
    torch.testing.assert_close(run.output.double(), expected, rtol=1e-4, atol=1e-4)


def _dense(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, n: int) -> torch.Tensor:
    rows = torch.repeat_interleave(torch.arange(n), crow[1:] - crow[:-1])
    a = torch.zeros(n, n, dtype=torch.float64)
    a.index_put_((rows, col.long()), values.double(), accumulate=True)
    return a


def test_spmm_equals_dense_product() -> None:
    task = tasks.get("spmm.csr")
    for shape in ("small", "int32_bf16"):
        run = tasks.run_reference(task, shape, seed=0)
        crow, col, values, x = run.inputs
        assert crow.dtype == col.dtype == getattr(torch, task.params(shape)["INDEX_DTYPE"])
        a = _dense(crow.long(), col, values, x.shape[0])
        expected = (a @ x.double()).to(x.dtype)
        torch.testing.assert_close(run.output, expected, rtol=1e-2, atol=1e-2)


def test_gcn_layer_normalises_with_self_loops() -> None:
    task = tasks.get("gcn.layer")
    run = tasks.run_reference(task, "odd", seed=0)
    crow, col, values, x = run.inputs
    n = x.shape[0]
    a = _dense(crow, col, torch.ones_like(values), n)
    assert torch.equal(a.diagonal(), torch.ones(n, dtype=torch.float64))  # A + I, no duplicates
    deg = a.sum(1)
    a_hat = a / deg.sqrt().view(-1, 1) / deg.sqrt().view(1, -1)
    torch.testing.assert_close(_dense(crow, col, values, n), a_hat.float().double(), rtol=1e-6, atol=1e-7)
    w = run.model.linear.weight.detach().double()
    b = run.model.linear.bias.detach().double()
    expected = a_hat @ (x.double() @ w.t()) + b
    torch.testing.assert_close(run.output.double(), expected, rtol=1e-5, atol=1e-5)


def test_layernorm_applies_random_affine() -> None:
    run = tasks.run_reference(tasks.get("general.layernorm"), "odd", seed=0)
    norm = run.model.norm
    assert not torch.allclose(norm.weight, torch.ones_like(norm.weight))
    assert not torch.allclose(norm.bias, torch.zeros_like(norm.bias))


def test_power_law_generator_at_ogbn_arxiv_size() -> None:
    """Exact edge count, canonical CSR (sorted unique columns), heavy-tailed degrees; fast on CPU."""
    task = tasks.get("spmm.csr")
    p = task.params("arxiv_f128")
    module = tasks.load_module(task.source, p)
    torch.manual_seed(0)
    start = time.perf_counter()
    crow, col = module.power_law_csr(p["NUM_NODES"], p["NUM_EDGES"], p["POWER_LAW_EXPONENT"])
    assert time.perf_counter() - start < 20
    n, e = p["NUM_NODES"], p["NUM_EDGES"]
    assert crow.shape == (n + 1,) and col.shape == (e,) and int(crow[-1]) == e
    deg = crow[1:] - crow[:-1]
    assert bool((deg >= 0).all()) and bool((col >= 0).all()) and bool((col < n).all())
    rows = torch.repeat_interleave(torch.arange(n), deg)
    keys = rows * n + col
    assert bool((keys[1:] > keys[:-1]).all()), "columns sorted and unique within each row"
    mean = e / n
    assert deg.max() > 500 * mean and torch.bincount(col, minlength=n).max() > 500 * mean  # hubs
    torch.manual_seed(0)
    crow2, col2 = module.power_law_csr(n, e, p["POWER_LAW_EXPONENT"])
    assert torch.equal(crow, crow2) and torch.equal(col, col2), "seeded: same seed, same graph"


def test_graph_sources_share_one_generator() -> None:
    def generator(source: str) -> str:
        tree = ast.parse(source)
        fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "power_law_csr")
        return ast.unparse(fn)

    assert generator(tasks.get("spmm.csr").source) == generator(tasks.get("gcn.layer").source)


def test_source_constants_match_the_as_written_shape() -> None:
    for task in BUILTIN:
        assert module_constants(task.source) == dict(task.constants)
        ast.parse(task.source)


def test_each_reference_is_one_standalone_module_after_its_includes() -> None:
    """``# include: graphs.py: NAME`` lines are replaced by the shared code (tasks.source)."""
    for task in tasks.all_tasks():
        assert "# include:" not in task.source, task.id
    for task_id in GRAPH_TASKS:
        source = tasks.get(task_id).source
        assert source.count("def power_law_csr(") == 1, task_id
        tasks.load_module(source, {})  # runs as written, on its own
