"""POST /v1/verify: a user's own kernel, verified in the sandbox and stored; answered from the store after."""

from __future__ import annotations

from pathlib import Path

from tests.service.conftest import LiveServer
from tests.verifier.corpus_files import corpus_entry

CORPUS = Path(__file__).parent.parent / "verifier" / "corpus"


def test_verify_stores_the_verdict_and_feeds_the_leaderboard(server: LiveServer) -> None:
    reference = (CORPUS / "reference_dwconv3x3.py").read_text()
    honest = (CORPUS / "honest_dwconv.py").read_text()
    cheat = corpus_entry("cheat_torch_fallback").source()  # its #include lines expanded
    with server.client(timeout=300) as c:
        first = c.post("/v1/verify", json={"reference_source": reference, "candidate_source": honest}).json()
        assert first["verdict"] == "accepted" and first["cached"] is False
        assert first["report"]["timing"] is None  # CPU: never a speedup
        again = c.post("/v1/verify", json={"reference_source": reference, "candidate_source": honest}).json()
        assert again["cached"] is True and again["verification_id"] == first["verification_id"]
        rejected = c.post("/v1/verify", json={"reference_source": reference, "candidate_source": cheat}).json()
        assert rejected["verdict"] == "rejected"
        assert any(r.startswith("no_fallback:") for r in rejected["report"]["reasons"])
        best = c.get(f"/v1/tasks/{first['task_id']}/best").json()
        assert len(best) == 1 and best[0]["candidate_id"] == first["candidate_id"]
        assert best[0]["origin"] == "user" and best[0]["measured"] is False and best[0]["source"] == honest
        bad = c.post("/v1/verify", json={"reference_source": reference, "candidate_source": "x = 1\n"})
        assert bad.status_code == 422 and "ModelNew" in bad.text
