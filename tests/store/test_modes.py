"""Verification modes in the store: a candidate's forward and backward verdicts are two rows, each mode
is ranked apart, and a forward verdict never answers for a backward one (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from kernels_store import Store, make_engine
from kernels_store.migrate import downgrade, upgrade
from tests.store.factories import CPU, H100, REFERENCE, kernel, report


def _task_and_candidate(store: Store, task_id: str = "t.mode") -> int:
    store.put_task(task_id, REFERENCE, family="t")
    return store.add_candidate(task_id, kernel(1), language="triton", origin="template").candidate.id


def test_forward_and_backward_verdicts_of_one_candidate_are_kept_apart(store: Store) -> None:
    cand = _task_and_candidate(store)
    forward = store.record_verification(cand, report(kernel(1), speedup=2.0))
    backward = store.record_verification(cand, {**report(kernel(1), verdict="rejected"), "mode": "backward"})
    assert forward.created and backward.created  # two rows: the mode is part of the key
    assert forward.verification.mode == "forward" and backward.verification.mode == "backward"
    assert forward.verification.id != backward.verification.id

    found = store.find_verification(cand, H100)  # forward by default
    assert found is not None and found.verdict == "accepted" and found.mode == "forward"
    found_bwd = store.find_verification(cand, H100, mode="backward")
    assert found_bwd is not None and found_bwd.verdict == "rejected"
    assert store.find_verification(cand, H100, mode="both") is None
    assert store.is_verified(cand, H100) and store.is_verified(cand, H100, mode="backward")
    assert not store.is_verified(cand, H100, mode="both")

    # a forward-accepted kernel is never the backward best, nor in the backward fast_p
    assert [b.candidate.id for b in store.best_kernels(task_id="t.mode")] == [cand]
    assert store.best_kernels(task_id="t.mode", mode="backward") == []
    assert store.best_kernel("t.mode", H100["hardware_fingerprint"], mode="backward") is None
    assert [r.best_speedup_eager for r in store.generator_results(["t.mode"])] == [2.0]
    assert store.generator_results(["t.mode"], mode="backward") == []
    assert [v.mode for v in store.list_verifications(candidate_id=cand, mode="backward").items] == ["backward"]


def test_each_mode_is_ranked_apart_and_regress_sees_every_mode(store: Store) -> None:
    store.put_task("t.rank", REFERENCE, family="t")
    slow = store.add_candidate("t.rank", kernel(1), language="triton", origin="template").candidate.id
    fast = store.add_candidate("t.rank", kernel(2), language="triton", origin="llm", origin_detail="m").candidate.id
    store.record_verification(slow, report(kernel(1), speedup=1.2))
    store.record_verification(slow, {**report(kernel(1), speedup=3.0), "mode": "backward"})
    store.record_verification(fast, report(kernel(2), speedup=2.5))
    # forward: the 2.5x kernel; backward: the only backward kernel, whose 3.0x is a training step's
    assert [(b.candidate.id, b.speedup_eager) for b in store.best_kernels(task_id="t.rank")] == [(fast, 2.5)]
    backward = store.best_kernels(task_id="t.rank", mode="backward")
    assert [(b.candidate.id, b.speedup_eager, b.mode) for b in backward] == [(slow, 3.0, "backward")]
    forward_rows = {(r.origin, r.best_speedup_eager) for r in store.generator_results(["t.rank"])}
    assert forward_rows == {("template", 1.2), ("llm", 2.5)}  # the 3.0x backward speedup is not here
    every = store.latest_best_kernels(task_ids=["t.rank"], mode=None)
    assert [(b.candidate.id, b.mode) for b in every] == [(fast, "forward"), (slow, "backward")]
    assert [b.mode for b in store.latest_best_kernels(task_ids=["t.rank"])] == ["forward"]


def test_a_report_with_an_unknown_mode_is_refused(store: Store) -> None:
    cand = _task_and_candidate(store)
    with pytest.raises(ValueError, match="report mode must be one of forward, backward, both"):
        store.record_verification(cand, {**report(kernel(1)), "mode": "sideways"})


def test_migration_0004_gives_old_rows_their_mode_and_downgrades(empty_db_url: str) -> None:
    """Rows stored at 0003 are ``forward`` unless their report says ``backward`` (the verifier had modes
    before the store did); downgrading keeps the forward rows and drops the others."""
    engine = make_engine(empty_db_url)
    try:
        upgrade(engine, "0003")
        forward = report(kernel(1), environment=CPU)
        backward = {**forward, "mode": "backward"}
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO tasks (id, family, title, source, source_sha256, shapes, extra, revision, created_at, "
                    "updated_at) VALUES ('t', '', '', :src, :sha, '[]', '{}', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"src": REFERENCE, "sha": forward["reference_sha256"]},
            )
            c.execute(
                text(
                    "INSERT INTO candidates (id, task_id, source, source_sha256, language, origin, origin_detail, "
                    "name, extra, created_at) "
                    "VALUES (1, 't', :src, :sha, 'triton', 'user', '', '', '{}', CURRENT_TIMESTAMP)"
                ),
                {"src": kernel(1), "sha": forward["candidate_sha256"]},
            )
            for env_key, data in (("env-a", forward), ("env-b", backward)):
                c.execute(
                    text(
                        "INSERT INTO verifications (candidate_id, task_id, reference_sha256, environment_key, verdict, "
                        "device, device_name, hardware_fingerprint, duration_s, report, created_at, provenance, "
                        "verified_host, verifier_version, imported_from) VALUES (1, 't', :ref, :env, 'accepted', "
                        "'cpu', 'cpu', 'fp', 1.0, :report, CURRENT_TIMESTAMP, 'verified', '', '', '')"
                    ),
                    {"ref": data["reference_sha256"], "env": env_key, "report": json.dumps(data)},
                )
        upgrade(engine)
        with engine.connect() as c:
            modes = dict(c.execute(text("SELECT environment_key, mode FROM verifications")).all())
        assert modes == {"env-a": "forward", "env-b": "backward"}
        downgrade(engine, "0003")
        with engine.connect() as c:
            assert c.execute(text("SELECT environment_key FROM verifications")).scalars().all() == ["env-a"]
        upgrade(engine)
    finally:
        engine.dispose()


def test_a_bundle_carries_each_verdict_s_mode_and_a_job_s(store: Store, tmp_path: Path) -> None:
    import io

    from kernels_store import open_store
    from kernels_store.bundle import export_bundle, import_bundle

    cand = _task_and_candidate(store)
    store.record_verification(cand, report(kernel(1), speedup=2.0))
    store.record_verification(cand, {**report(kernel(1), speedup=3.0), "mode": "backward"})
    store.create_job(kind="generate", task_id="t.mode", params={"language": "triton", "mode": "backward"})
    out = io.StringIO()
    export_bundle(store, out, include_jobs=True)
    other = open_store(f"sqlite:///{tmp_path / 'other.sqlite'}")
    try:
        summary = import_bundle(other, io.StringIO(out.getvalue()))
        assert dict(summary.added) == {"task": 1, "candidate": 1, "verification": 2, "job": 1}
        imported = {v.mode: v.speedup_eager for v in other.list_verifications().items}
        assert imported == {"forward": 2.0, "backward": 3.0}
        assert [j.params["mode"] for j in other.list_jobs().items] == ["backward"]
    finally:
        other.close()
    bad = out.getvalue().replace('"mode":"backward"', '"mode":"sideways"', 1)
    refused = open_store(f"sqlite:///{tmp_path / 'refused.sqlite'}")
    try:
        with pytest.raises(Exception, match="mode must be one of forward, backward, both"):
            import_bundle(refused, io.StringIO(bad))
        assert refused.stats().verifications == 0 and refused.stats().jobs == 0
    finally:
        refused.close()
