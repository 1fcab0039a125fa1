"""The API's ``template_seed`` field: stored with the job, read back by the runner, given to the generator."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kernels_store import Store
from service.api.schemas import JobCreate
from service.jobs import JobParams
from service.persistence import resolve_task
from tests.service.test_runner import (  # noqa: F401  (clock and store are fixtures)
    TASK,
    StubExecutor,
    _run_until_done,
    _runner,
    clock,
    store,
    stub_generator,
)
from tests.store.factories import kernel


def test_template_seed_round_trips_through_the_job_params() -> None:
    assert JobCreate(task_id=TASK).template_seed is True
    body = JobCreate(task_id=TASK, proposer="llm", model="m", template_seed=False)
    params = JobParams(body.language, body.proposer, body.model, body.template_seed)
    stored = params.to_dict()
    assert stored["template_seed"] is False
    assert JobParams.of(SimpleNamespace(params=stored)).template_seed is False  # type: ignore[arg-type]
    assert "template_seed" not in JobParams().to_dict()  # the default is not written into every job
    assert JobParams.of(SimpleNamespace(params={})).template_seed is True  # type: ignore[arg-type]


def test_the_runner_gives_the_job_s_template_seed_to_the_generator(store: Store) -> None:  # noqa: F811
    resolve_task(store, task_id=TASK, reference_source=None, device="cpu")
    params = JobParams(proposer="template", template_seed=False).to_dict()
    job = store.create_job(kind="generate", task_id=TASK, params=params, budget=2)
    seen: list[bool] = []
    inner = stub_generator([kernel(1)])

    def generate(request: Any, **kwargs: Any) -> Any:
        seen.append(request.seed_with_template)
        return inner(request, **kwargs)

    executor = StubExecutor({kernel(1): "accepted"}, store.get_task(TASK).source)
    _run_until_done(_runner(store, executor, generate), store, job.id)
    assert seen == [False]


def test_kiln_submit_sends_template_seed_only_when_off(monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    import service.client
    from service.cli import app

    sent: list[dict[str, Any]] = []

    class Client:
        def __init__(self, *args: Any) -> None:
            pass

        def __enter__(self) -> Client:
            return self

        def __exit__(self, *exc: Any) -> None:
            pass

        def submit(self, **body: Any) -> dict[str, Any]:
            sent.append({k: v for k, v in body.items() if v is not None})  # as KilnClient.submit drops None
            return {"id": "j1", "task_id": TASK}

    monkeypatch.setattr(service.client, "KilnClient", Client)
    for flag in ([], ["--no-template-seed"]):
        result = CliRunner().invoke(app, ["submit", "--task", TASK, "--proposer", "llm", "--model", "m", *flag])
        assert result.exit_code == 0, result.output
    assert "template_seed" not in sent[0] and sent[1]["template_seed"] is False
    result = CliRunner().invoke(app, ["submit", "--task", TASK, "--mode", "backward"])
    assert result.exit_code == 0, result.output
    assert "mode" not in sent[0] and sent[2]["mode"] == "backward"  # forward: the server's default
