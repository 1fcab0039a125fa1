"""`kiln tasks import` and `kiln bench` on problems written here in KernelBench format."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from kernels_store import Store
from service.bench.executors import LocalExecutor, make_executor
from service.bench.runner import BenchConfig, BenchRunner
from service.bench.suite import import_kernelbench, resolve_suite
from service.bench.summary import FAST_P, run_json
from service.cli import app
from service.executors.local_cluster import free_port
from tasks.shrink import ShrinkResult
from tests.bench.runs import new_run
from verifier.report import Report, Timing

SCALE = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x) * {factor}


batch_size = 4096
features = 1024 * 3


def get_inputs():
    return [torch.randn(batch_size, features)]


def get_init_inputs():
    return []
"""

NO_GET_INPUTS = """
import torch


class Model(torch.nn.Module):
    def forward(self, x):
        return x


def get_init_inputs():
    return []
"""


def _level(tmp_path: Path, factor: str = "2.0") -> Path:
    level = tmp_path / "KernelBench" / "level1"
    level.mkdir(parents=True)
    (level / "1_Scale_ReLU.py").write_text(SCALE.format(factor=factor))
    (level / "2_Scale_ReLU_again.py").write_text(SCALE.format(factor="3.0"))
    (level / "3_Missing.py").write_text(NO_GET_INPUTS)
    (level / "4_Broken.py").write_text("import torch\nclass Model(:\n")
    return level


def test_import_is_idempotent_reports_bad_files_and_versions_changed_sources(tmp_path: Path, store: Store) -> None:
    level = _level(tmp_path)
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'kiln.sqlite'}"
    first = runner.invoke(app, ["tasks", "import", str(level), "--database", url])
    assert first.exit_code == 1, first.output  # two bad files, the others imported
    lines = first.output.splitlines()
    assert "created   kb.level1.1_scale_relu" in lines and "created   kb.level1.2_scale_relu_again" in lines
    missing = [line for line in lines if "3_Missing.py" in line]
    assert len(missing) == 1 and "no top-level `def get_inputs()`" in missing[0]
    broken = [line for line in lines if "4_Broken.py" in line]
    assert len(broken) == 1 and "syntax error" in broken[0] and "line 2" in broken[0]

    again = import_kernelbench(store, level)
    assert [x.status for x in again.lines if x.task_id] == ["unchanged", "unchanged"]
    task = store.get_task("kb.level1.1_scale_relu")
    assert task is not None and task.family == "kernelbench" and task.extra["level"] == 1
    old_sha = task.source_sha256

    (level / "1_Scale_ReLU.py").write_text(SCALE.format(factor="5.0"))
    changed = import_kernelbench(store, level)
    line = next(x for x in changed.lines if x.task_id == "kb.level1.1_scale_relu")
    assert line.status == "updated" and line.revision == 2
    new = store.get_task("kb.level1.1_scale_relu")
    assert new is not None and new.source_sha256 != old_sha and "* 5.0" in new.source
    old_source = store.task_source("kb.level1.1_scale_relu", old_sha)  # what old verdicts were verified against
    assert old_source is not None and "* 2.0" in old_source
    assert [sha for _, sha in store.task_versions("kb.level1.1_scale_relu")] == [old_sha, new.source_sha256]


def _fake_verify(calls: list[str], speedup: float | None = None):  # type: ignore[no-untyped-def]
    """Accepts every candidate without running it (the run's bookkeeping is under test, not the verifier)."""

    def verify(prepared: Any, candidate: Any) -> Report:
        calls.append(candidate.sha256)
        timing = None
        if speedup is not None:
            timing = Timing("fake GPU", 1.0, speedup, None, speedup, None, 100, 10, "fake")
        return Report(
            verdict="accepted",
            timing=timing,
            environment=dict(prepared.environment),
            reference_sha256=prepared.reference.sha256,
            candidate_sha256=candidate.sha256,
            shapes=sorted(prepared.reference.shapes),
        )

    return verify


def _shrunk(source: str) -> ShrinkResult:
    return ShrinkResult(
        status="ok",
        params={"batch_size": 4, "features": 96},
        changed={"batch_size": [4096, 4], "features": [3072, 96]},
    )


def _bench(store: Store, suite: list[Any], run: Any, calls: list[str], **kw: Any) -> BenchRunner:
    return BenchRunner(
        store,
        run,
        BenchConfig(budget=2),
        LocalExecutor(1),
        shrink_fn=_shrunk,
        verify_fn=_fake_verify(calls),
        **kw,
    )


def _new_run(store: Store, suite: list[Any]) -> Any:
    return new_run(store, [t.id for t in suite])


def test_an_interrupted_run_resumes_without_verifying_a_candidate_again(
    tmp_path: Path, store: Store, no_sandbox: None
) -> None:
    import_kernelbench(store, _level(tmp_path))
    _, suite = resolve_suite(store, suite="kb.level1")
    assert [t.id for t in suite] == ["kb.level1.1_scale_relu", "kb.level1.2_scale_relu_again"]
    run = _new_run(store, suite)
    calls: list[str] = []

    # Ctrl-C after the first task: the second never starts, the run is interrupted
    cancel = threading.Event()

    def stop_after_first(event: dict[str, Any]) -> None:
        if event["type"] == "task_finished":
            cancel.set()

    record = _bench(store, suite, run, calls, listener=stop_after_first, cancel=cancel).execute(suite)
    assert record.status == "interrupted"
    rows = {r.task_id: r for r in store.run_tasks(run.id)}
    first, second = rows["kb.level1.1_scale_relu"], rows["kb.level1.2_scale_relu_again"]
    assert first.status == "done" and first.verdict == "accepted" and second.status == "pending"
    assert first.changed_constants == {"batch_size": [4096, 4], "features": [3072, 96]}
    assert len(calls) == 1 and first.verified == {calls[0]: first.verified[calls[0]]}

    # a crash in the middle of the first task's generation would leave it running with its verdict stored:
    # simulate that, then resume; neither candidate verified before is verified again
    store.update_run_task(run.id, "kb.level1.1_scale_relu", status="running", verdict=None)
    resumed = _bench(store, suite, store.get_run(run.id), calls).execute(suite)
    assert resumed.status == "completed"
    rows = {r.task_id: r for r in store.run_tasks(run.id)}
    assert all(r.status == "done" and r.verdict == "accepted" for r in rows.values())
    assert len(calls) == 2 and len(set(calls)) == 2  # the first task's candidate was not verified again
    assert rows["kb.level1.1_scale_relu"].verified == first.verified
    candidates = store.list_candidates("kb.level1.1_scale_relu")
    assert candidates.total == 1 and candidates.items[0].extra["params"]["bench_run"] == run.id
    # the small tier was stored with the task (regress and the service see the shape verified on)
    task = store.get_task("kb.level1.1_scale_relu")
    assert task is not None and task.shapes[0]["name"] == "small"
    assert task.shapes[0]["params"] == {"batch_size": 4, "features": 96}


def test_run_json_has_the_documented_schema(tmp_path: Path, store: Store, no_sandbox: None) -> None:
    import_kernelbench(store, _level(tmp_path))
    _, suite = resolve_suite(store, suite="kb.level1")
    run = _new_run(store, suite)
    calls: list[str] = []
    config = BenchConfig(budget=1)

    def refuse_second(source: str) -> ShrinkResult:
        if "* 3.0" in source:
            return ShrinkResult(status="no_small_shape", reason="no valid small shape (1 tried): fake")
        return _shrunk(source)

    runner = BenchRunner(
        store, run, config, LocalExecutor(1), shrink_fn=refuse_second, verify_fn=_fake_verify(calls, speedup=2.5)
    )
    final = runner.execute(suite)
    data = json.loads(json.dumps(run_json(final, store.run_tasks(run.id))))
    assert set(data) == {
        "run_id",
        "suite",
        "tier",
        "mode",
        "proposer",
        "hardware",
        "tasks",
        "fast_p",
        "geomean_speedup",
    }
    assert (data["run_id"], data["suite"], data["tier"], data["proposer"]) == (run.id, "kb.level1", "small", "template")
    assert data["mode"] == "forward"
    assert data["hardware"] == "test cpu"
    assert set(data["fast_p"]) == {"0", "0.5", "0.8", "1", "1.5", "2"} == {f"{p:g}" for p in FAST_P}
    task_keys = {
        "task_id",
        "reference_ok",
        "changed_constants",
        "verdict",
        "reason",
        "speedup_eager",
        "speedup_compiled",
        "seconds",
    }
    assert all(set(t) == task_keys for t in data["tasks"])
    by_id = {t["task_id"]: t for t in data["tasks"]}
    ok, refused = by_id["kb.level1.1_scale_relu"], by_id["kb.level1.2_scale_relu_again"]
    assert ok["verdict"] == "accepted" and ok["reference_ok"] is True and ok["speedup_eager"] == 2.5
    assert ok["changed_constants"] == {"batch_size": [4096, 4], "features": [3072, 96]}
    assert refused["verdict"] == "no_small_shape" and refused["reason"].startswith("no valid small shape")
    assert all(isinstance(t["seconds"], float) for t in data["tasks"])
    # one task of two is correct and 2.5x faster (a fake GPU timing): fast_p over the suite
    assert data["fast_p"] == {"0": 0.5, "0.5": 0.5, "0.8": 0.5, "1": 0.5, "1.5": 0.5, "2": 0.5}
    assert data["geomean_speedup"] == pytest.approx(2.5)


def test_bad_input_exits_2(tmp_path: Path) -> None:
    runner = CliRunner()
    url = ["--database", f"sqlite:///{tmp_path / 'kiln.sqlite'}", "--device", "cpu"]
    unknown = runner.invoke(app, ["bench", "--task", "no.such_task", *url])
    assert unknown.exit_code == 2 and "unknown task id" in unknown.output
    nowhere = f"127.0.0.1:{free_port()}"  # no Ray head there
    ray = runner.invoke(
        app, ["bench", "--task", "general.softmax", "--executor", "ray", "--ray-address", nowhere, *url]
    )
    assert ray.exit_code == 2 and f"nothing answers at the Ray head address {nowhere}" in ray.output
    both = runner.invoke(app, ["bench", "--suite", "general", "--task", "general.softmax", *url])
    assert both.exit_code == 2 and "exactly one" in both.output
    missing = runner.invoke(app, ["bench", "--kernelbench-dir", str(tmp_path / "nowhere"), *url])
    assert missing.exit_code == 2 and "not a directory" in missing.output
    with pytest.raises(ValueError, match="available: local"):
        make_executor("dask")


@pytest.mark.slow  # the template compiler's kernel verified for real in the Triton interpreter
def test_kiln_bench_on_a_kernelbench_dir_end_to_end(tmp_path: Path) -> None:
    level = _level(tmp_path)
    (level / "2_Scale_ReLU_again.py").unlink()
    url = f"sqlite:///{tmp_path / 'kiln.sqlite'}"
    result = CliRunner().invoke(
        app, ["bench", "--kernelbench-dir", str(level), "--json", "--database", url, "--device", "cpu"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout[result.stdout.index("{") :])
    (task,) = data["tasks"]
    assert task["task_id"] == "kb.level1.1_scale_relu" and task["verdict"] == "accepted", task
    assert task["changed_constants"]["batch_size"][0] == 4096 and task["speedup_eager"] is None
    assert data["fast_p"]["0"] == 1.0 and data["fast_p"]["1"] == 0.0 and data["geomean_speedup"] is None


def test_the_service_verifies_an_imported_task_on_its_small_tier_on_a_cpu() -> None:
    from service.persistence import stored_shapes

    declared = [
        {"name": "small", "tier": "small", "params": {"batch_size": 4}},
        {"name": "as_written", "tier": "realistic", "params": {}},
    ]
    assert stored_shapes(declared, "cpu") == {"small": {"batch_size": 4}}
    assert list(stored_shapes(declared, "cuda")) == ["as_written", "small"]  # as written first: it is timed
    assert stored_shapes([], "cpu") == {} and stored_shapes(declared[1:], "cpu") == {}


def _submit_training(session: Any, plan: Any) -> list[Any]:
    source = agents_propose().training_source(plan)
    return [session.submit(source, "template", params={"profile": "training"}, name="template-training")]


def agents_propose() -> Any:
    import agents.template.propose

    return agents.template.propose


def test_a_backward_run_skips_what_has_nothing_differentiable_and_verifies_the_rest_in_backward_mode(
    tmp_path: Path, store: Store, no_sandbox: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agents.template.propose
    from service.bench import runner as bench_runner
    from verifier.errors import VerifierInputError

    import_kernelbench(store, _level(tmp_path))
    _, suite = resolve_suite(store, suite="kb.level1")
    run = new_run(store, [t.id for t in suite], options={"mode": "backward"})
    prepared_modes: list[str] = []

    def prepare(reference: Any, options: Any) -> Any:  # the verifier's refusal for an argmax-like reference
        prepared_modes.append(options.mode)
        if "* 3.0" in reference.source:
            raise VerifierInputError(
                "the reference failed to run on trial 1: ValueError: backward mode: "
                + bench_runner.NOTHING_DIFFERENTIABLE
            )
        env = {"hardware_fingerprint": "f" * 16, "device_name": "test cpu", "torch": "t", "triton": "t"}
        return SimpleNamespace(reference=reference, device="cpu", environment=env)

    monkeypatch.setattr("verifier.prepare", prepare)
    trained: list[str] = []
    monkeypatch.setattr(agents.template.propose, "training_source", lambda plan: trained.append("x") or plan.source)
    monkeypatch.setattr(agents.template.propose, "submit_training", _submit_training)
    verified_modes: list[str] = []

    def verify(prepared: Any, candidate: Any) -> Report:
        verified_modes.append("backward")
        return Report(verdict="accepted", mode="backward", environment=dict(prepared.environment))

    config = BenchConfig(budget=1, mode="backward")
    final = BenchRunner(store, run, config, LocalExecutor(1), shrink_fn=_shrunk, verify_fn=verify).execute(suite)
    rows = {r.task_id: r for r in store.run_tasks(run.id)}
    kept, skipped = rows["kb.level1.1_scale_relu"], rows["kb.level1.2_scale_relu_again"]
    assert kept.verdict == "accepted" and trained and verified_modes == ["backward"]  # the training candidate only
    assert skipped.verdict == "skipped" and skipped.reference_ok is True
    assert skipped.reason.startswith("nothing differentiable") and skipped.candidates == 0
    assert prepared_modes == ["backward", "backward"]  # prepared once per task (not again by the generator)
    summary = final.summary
    assert summary["counts"]["skipped"] == 1 and summary["ranked"] == 1
    assert summary["fast_p"]["0"] == 1.0  # a skipped task is not in fast_p's denominator
    assert run_json(final, store.run_tasks(run.id))["mode"] == "backward"
    with pytest.raises(ValueError, match="--mode"):
        BenchConfig(mode="sideways")


@pytest.mark.slow  # the template compiler's kernel verified for real, then the backward run's reference
def test_kiln_bench_mode_both_makes_a_forward_run_then_a_backward_run(tmp_path: Path) -> None:
    level = _level(tmp_path)
    (level / "2_Scale_ReLU_again.py").unlink()
    url = f"sqlite:///{tmp_path / 'kiln.sqlite'}"
    args = ["bench", "--kernelbench-dir", str(level), "--mode", "both", "--json", "--database", url, "--device", "cpu"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout[result.stdout.index("{") :])
    forward, backward = data["runs"]
    assert (forward["mode"], backward["mode"]) == ("forward", "backward") and forward["run_id"] != backward["run_id"]
    assert [t["verdict"] for t in forward["tasks"]] == ["accepted"]
    (task,) = backward["tasks"]  # relu * 2: differentiable; its backward lowered from autograd's joint graph
    assert task["verdict"] == "accepted" and task["reference_ok"], task
    assert forward["fast_p"]["0"] == 1.0 and backward["fast_p"]["0"] == 1.0
