"""Issue 24's poison bundle against a live server: the leaderboard, fast_p and /v1/verify stay unchanged,
and what a store holds that no API would accept answers 4xx, never 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from kernels_store.bundle import import_bundle
from kernels_store.catalog import sha256_text
from kernels_store.models import Job
from service.bundle_policy import import_policy
from service.cli import app
from service.persistence import user_task_id
from tests.service.conftest import LiveServer
from tests.verifier.corpus_files import corpus_entry

CORPUS = Path(__file__).parent.parent / "verifier" / "corpus"
runner = CliRunner()


def _bundle(*records: dict[str, Any]) -> list[str]:
    header = {"format": "kernelkiln-store-bundle", "schema_version": 1}
    end = {"type": "end", "records": len(records)}
    return [json.dumps(r) + "\n" for r in (header, *records, end)]


def _task(task_id: str, source: str, **more: Any) -> dict[str, Any]:
    return {"type": "task", "id": task_id, "source": source, "source_sha256": sha256_text(source), **more}


def _claim(task_id: str, reference: str, candidate: str, environment: dict[str, Any]) -> list[dict[str, Any]]:
    """A candidate and a verification saying it is accepted at 999x in ``environment``."""
    digest = sha256_text(candidate)
    timing = {"speedup_eager": 999.0, "speedup_compiled": 999.0, "candidate_ms": 0.001, "eager_ms": 1.0}
    report = {
        "verdict": "accepted",
        "candidate_sha256": digest,
        "reference_sha256": sha256_text(reference),
        "device": "cuda",
        "environment": environment,
        "timing": timing,
        "checks": [],
        "reasons": [],
    }
    return [
        {"type": "candidate", "task_id": task_id, "source": candidate, "source_sha256": digest}
        | {"language": "triton", "origin": "llm", "origin_detail": "poison"},
        {"type": "verification", "task_id": task_id, "candidate_sha256": digest, "report": report},
    ]


def test_the_poison_bundle_leaves_leaderboard_fast_p_and_verify_unchanged(server: LiveServer) -> None:
    reference = (CORPUS / "reference_dwconv3x3.py").read_text()
    cheat = corpus_entry("cheat_torch_fallback").source()  # its #include lines expanded
    task_id = user_task_id(reference)
    environment = server.app.state.kiln.environment  # the claim copies this server's environment: a cache hit
    with server.client(timeout=300) as c:
        board_before = c.get("/v1/leaderboard").json()
        import_bundle(
            server.store,
            _bundle(_task(task_id, reference), *_claim(task_id, reference, cheat, environment)),
            import_policy("poison.jsonl"),
        )
        assert c.get("/v1/leaderboard").json() == board_before
        assert c.get(f"/v1/tasks/{task_id}/best").json() == []
        page = c.get(f"/tasks/{task_id}").text
        assert "imported, not verified here" in page and "poison.jsonl" in page
        answer = c.post("/v1/verify", json={"reference_source": reference, "candidate_source": cheat}).json()
        assert answer["cached"] is False and answer["verdict"] == "rejected"  # verified here, not taken from the bundle
        assert c.get("/v1/leaderboard").json() == board_before


def test_store_import_refuses_a_builtin_task_with_another_reference(tmp_path: Path) -> None:
    import tasks

    builtin = tasks.get("dwconv2d.convnext_7x7")
    bundle = tmp_path / "poison.jsonl"
    bundle.write_text("".join(_bundle(_task(builtin.id, builtin.source + "# mine now\n"))))
    url = f"sqlite:///{tmp_path / 'kiln.sqlite'}"
    result = runner.invoke(app, ["store", "import", str(bundle), "--url", url])
    assert result.exit_code == 2
    assert "line 2" in result.output and "built-in task" in result.output and "nothing was imported" in result.output


def test_store_import_refuses_loose_and_malformed_tolerances(tmp_path: Path) -> None:
    reference = (CORPUS / "reference_dwconv3x3.py").read_text()
    url = f"sqlite:///{tmp_path / 'kiln.sqlite'}"
    for tolerances, fragment in (
        ({"float32": {"atol": 1e9, "rtol": 1e9, "max_rel_l2": 1e9}}, "looser than the verifier's default"),
        ({"float32": {"bogus": 1}}, "exactly atol, rtol, max_rel_l2"),
        ({"int8": {"atol": 0, "rtol": 0, "max_rel_l2": 0}}, "unknown dtype"),
    ):
        bundle = tmp_path / "poison.jsonl"
        bundle.write_text("".join(_bundle(_task("user.loose", reference, extra={"tolerances": tolerances}))))
        result = runner.invoke(app, ["store", "import", str(bundle), "--url", url])
        assert result.exit_code == 2 and fragment in result.output and "line 2" in result.output, result.output
    tight = {"float32": {"atol": 1e-3, "rtol": 1e-3, "max_rel_l2": 1e-4}}
    bundle.write_text("".join(_bundle(_task("user.tight", reference, extra={"tolerances": tight}))))
    assert runner.invoke(app, ["store", "import", str(bundle), "--url", url]).exit_code == 0


def test_malformed_metadata_stored_by_hand_is_a_4xx_not_a_500(server: LiveServer) -> None:
    """A store written before the import rules (or edited by hand): the answers are refusals, not 500s."""
    reference = (CORPUS / "reference_dwconv3x3.py").read_text()
    honest = (CORPUS / "honest_dwconv.py").read_text()
    server.store.put_task("user.bogus", reference, extra={"tolerances": {"float32": {"bogus": 1}}})
    job = server.store.create_job(task_id="user.bogus", budget=2, owner_token="t")
    with server.store.write() as session:
        row = session.get(Job, job.id)
        row.status, row.result = "succeeded", {"best_sha256": [1, 2]}
    with server.client() as c:
        verify = c.post("/v1/verify", json={"task_id": "user.bogus", "candidate_source": honest})
        assert verify.status_code == 422 and "tolerances" in verify.json()["detail"]
        submitted = c.post("/v1/jobs", json={"task_id": "user.bogus"})
        assert submitted.status_code == 422 and "tolerances" in submitted.json()["detail"]
        shown = c.get(f"/v1/jobs/{job.id}")
        assert shown.status_code == 200 and shown.json()["best"] is None


def test_a_jobs_best_kernel_shows_the_verdict_verified_here(server: LiveServer) -> None:
    """A candidate with an imported claim (first) and a verdict verified here: the job shows the latter."""
    reference = (CORPUS / "reference_dwconv3x3.py").read_text()
    honest = (CORPUS / "honest_dwconv.py").read_text()
    task_id = user_task_id(reference)
    claimed = {"hardware_fingerprint": "claimedgpu000000", "device_name": "Claimed GPU", "torch": "9"}
    import_bundle(server.store, _bundle(_task(task_id, reference), *_claim(task_id, reference, honest, claimed)))
    candidate = server.store.find_candidate(task_id, sha256_text(honest))
    mine = {
        "verdict": "accepted",
        "candidate_sha256": sha256_text(honest),
        "environment": {"hardware_fingerprint": "cpu"},
    }
    server.store.record_verification(candidate.id, mine)
    job = server.store.create_job(task_id=task_id, budget=2, owner_token="t")
    with server.store.write() as session:
        row = session.get(Job, job.id)
        row.status, row.result = "succeeded", {"best_sha256": sha256_text(honest)}
    with server.client() as c:
        best = c.get(f"/v1/jobs/{job.id}").json()["best"]
    assert best["report"]["environment"] == {"hardware_fingerprint": "cpu"}
