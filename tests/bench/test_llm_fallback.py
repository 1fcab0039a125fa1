"""`--fallback llm`: a task the template proposer leaves without an accepted kernel goes to the LLM
proposer (a scripted OpenAI-compatible server over real HTTP); a task the templates solve never asks it.
The verifier is replaced by a fake that accepts only the sources marked below (the run's bookkeeping is
under test; tests/agents covers the real loop)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kernels_store import Store
from service.bench.executors import LocalExecutor
from service.bench.runner import BenchConfig, BenchRunner
from service.bench.suite import import_kernelbench, resolve_suite
from service.compile.compiler import CompileConfig
from tests.agents.fake_llm import FakeLLM, fenced
from tests.bench.runs import new_run
from tests.bench.test_bench import _level, _shrunk
from verifier.report import Report

LLM_KERNEL = "# LLM-KERNEL\nclass ModelNew:\n    pass\n"


def _verify_marked(calls: list[str], accepted: tuple[str, ...]):  # type: ignore[no-untyped-def]
    def verify(prepared: Any, candidate: Any) -> Report:
        calls.append(candidate.source)
        ok = any(mark in candidate.source for mark in accepted)
        return Report(
            verdict="accepted" if ok else "rejected",
            reasons=[] if ok else ["values: max |diff| 1.0 (bounds atol=0.01) [fake]"],
            environment=dict(prepared.environment),
            reference_sha256=prepared.reference.sha256,
            candidate_sha256=candidate.sha256,
            shapes=sorted(prepared.reference.shapes),
        )

    return verify


def _run(store: Store, tmp_path: Path, config: BenchConfig, accepted: tuple[str, ...]) -> tuple[Any, list[str]]:
    import_kernelbench(store, _level(tmp_path))
    _, suite = resolve_suite(store, task_ids=["kb.level1.1_scale_relu"])
    run = new_run(store, [t.id for t in suite])
    calls: list[str] = []
    runner = BenchRunner(
        store, run, config, LocalExecutor(1), shrink_fn=_shrunk, verify_fn=_verify_marked(calls, accepted)
    )
    runner.execute(suite)
    return store.run_tasks(run.id)[0], calls


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with FakeLLM(lambda body, index: (200, fenced(LLM_KERNEL))) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        yield server


def test_a_task_the_templates_leave_without_a_kernel_goes_to_the_llm(
    tmp_path: Path, store: Store, no_sandbox: None, llm: FakeLLM
) -> None:
    config = BenchConfig(budget=2, fallback="llm", model="scripted-model")
    assert config.generator == "template+llm:scripted-model"
    row, calls = _run(store, tmp_path, config, accepted=("LLM-KERNEL",))
    assert row.verdict == "accepted", row.reason
    assert len(llm.requests) >= 1 and llm.requests[0]["model"] == "scripted-model"
    assert "# kernel for" in calls[0] and "LLM-KERNEL" in calls[-1]  # the template's first, then the LLM's
    candidates = store.list_candidates("kb.level1.1_scale_relu").items
    assert sorted(c.origin for c in candidates) == ["llm", "template"]


def test_a_task_the_templates_solve_never_asks_the_llm(
    tmp_path: Path, store: Store, no_sandbox: None, llm: FakeLLM
) -> None:
    row, calls = _run(store, tmp_path, BenchConfig(budget=2, fallback="llm", model="m"), accepted=("# kernel for",))
    assert row.verdict == "accepted" and len(calls) == 1 and llm.requests == []


def test_both_failing_is_rejected_with_the_reasons_of_both(
    tmp_path: Path, store: Store, no_sandbox: None, llm: FakeLLM
) -> None:
    row, calls = _run(store, tmp_path, BenchConfig(budget=2, fallback="llm", model="m"), accepted=())
    assert row.verdict == "rejected" and "[fake]" in row.reason
    assert any("LLM-KERNEL" in c for c in calls) and any("# kernel for" in c for c in calls)


def test_the_fallback_is_checked_up_front() -> None:
    with pytest.raises(ValueError, match="needs a model"):
        BenchConfig(fallback="llm", model=None)
    with pytest.raises(ValueError, match="--fallback must be llm"):
        BenchConfig(fallback="gpt", model="m")
    with pytest.raises(ValueError, match="follows the template proposer"):
        BenchConfig(proposer="llm", fallback="llm", model="m")
    # kiln compile hands its proposer, fallback and model to the run's configuration
    from kernels_store.records import built_from

    bench = built_from(BenchConfig, CompileConfig(fallback="llm", model="m"), tier="as_written")
    assert (bench.proposer, bench.fallback, bench.model) == ("template", "llm", "m")


def test_kiln_compile_refuses_an_llm_without_a_model_before_running(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from service.cli import app
    from tests.compile.packs import MODELS

    monkeypatch.delenv("KILN_LLM_MODEL", raising=False)
    model = str(MODELS / "mlp_relu.py")
    for args, words in (
        (["--fallback", "llm"], "needs a model: set KILN_LLM_MODEL or pass --model"),
        (["--proposer", "llm"], "needs a model"),
        (["--fallback", "llm", "--proposer", "llm", "--model", "m"], "follows the template proposer"),
        (["--fallback", "gpt", "--model", "m"], "--fallback must be llm"),
    ):
        result = CliRunner().invoke(app, ["compile", model, *args])
        assert result.exit_code == 2 and words in result.output, (args, result.output)
