"""The whole API fuzzed against a real server, on SQLite and on PostgreSQL: no request may cause a 5xx.

1. schemathesis on the OpenAPI schema, in both its modes: valid requests (positive) and requests that
   break the schema (negative: wrong types, out-of-range numbers, missing and extra fields), with NUL
   characters allowed in generated strings.
2. hypothesis on what a schema cannot describe: odd JSON (NaN, Infinity, 1e400, integers past 64 bits,
   lone surrogates, NUL, deep nesting, large sizes), odd path segments (percent-encoded NUL, invalid
   UTF-8, very long) and odd query values (huge page numbers), sent as raw bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from kernels_store import open_store
from service.settings import Settings
from tests.service.conftest import start_server

EXAMPLES_PER_OPERATION = 20
"""Per operation and mode, on each database."""
ODD_EXAMPLES = 120
"""Raw odd requests per database."""
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def live_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server on a fresh store of its own for the module (jobs it creates are never run)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'kiln.sqlite'}"
    else:
        url = request.getfixturevalue("create_pg_database")()
    store = open_store(url, auto_upgrade=True)
    poison(store)
    settings_ = Settings(database_url=url, workers=0, max_active_jobs_per_owner=1000)
    server, thread, base, _ = start_server(settings_, store)
    yield base
    server.should_exit = True
    thread.join(timeout=30)
    store.close()


POISONED_TASK = "user.poisoned"
POISONED_JOB = "poisonedjob"


def poison(store: Any) -> None:
    """What a store written before issue 24's import rules (or edited by hand) may hold: a task whose
    tolerances are malformed, and a finished job whose result names no sha256. The fuzz reaches both."""
    from kernels_store.models import Job

    reference = "import torch\nclass Model(torch.nn.Module):\n    def forward(self, x):\n        return x\n"
    reference += "def get_inputs():\n    return [torch.randn(4)]\ndef get_init_inputs():\n    return []\n"
    store.put_task(POISONED_TASK, reference, extra={"tolerances": {"float32": {"bogus": 1}}})
    with store.write() as session:
        now = store.clock()
        session.add(
            Job(
                id=POISONED_JOB,
                task_id=POISONED_TASK,
                status="succeeded",
                result={"best_sha256": [1, 2]},
                progress={"best": {"sha256": {"x": 1}}},
                created_at=now,
                updated_at=now,
            )
        )


def _operations(url: str) -> list:
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    schema.config.generation.update(allow_x00=True)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param(GenerationMode.POSITIVE, id="positive"),
        pytest.param(GenerationMode.NEGATIVE, id="negative", marks=pytest.mark.slow),  # ~25 s per database
    ],
)
def test_every_operation_is_fuzzed_without_server_errors(live_url: str, mode: GenerationMode) -> None:
    operations = _operations(live_url)
    assert len(operations) >= 12
    seen: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @FUZZ_SETTINGS
        def no_5xx(case) -> None:
            response = case.call(base_url=live_url, timeout=60)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
            )

        try:
            no_5xx()
        except Unsatisfiable:  # negative mode: nothing in this operation (no parameters, no body) to break
            assert mode == GenerationMode.NEGATIVE, operation.path
            continue
        seen.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /v1/jobs" in seen and "POST /v1/verify" in seen and "GET /v1/candidates/{candidate_id}/source" in seen


class Raw:
    """A JSON token written as it is (``NaN``, ``1e400``, a 30-digit integer...)."""

    def __init__(self, text: str) -> None:
        self.text = text


def dump(value: Any) -> str:
    """JSON text for ``value``, with ``Raw`` tokens and lone surrogates (as ``\\udXXX`` escapes) kept."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{dump(str(k))}: {dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump(v) for v in value) + "]"
    return json.dumps(value)  # ensure_ascii: surrogates become \\udXXX escapes


FIELDS = ["task_id", "reference_source", "candidate_source", "language", "proposer", "budget", "model"]
TASK_IDS = ["general.softmax", "dwconv2d.convnext_7x7", "user.0123456789abcdef", POISONED_TASK]
odd_text = st.one_of(
    st.text(max_size=40),  # any code point, lone surrogates and NUL included
    st.sampled_from([*TASK_IDS, "triton", "cuda", "llm", "template", "\x00", "\ud800", "a\udfffb", "é" * 3]),
    st.integers(1, 300_000).map(lambda n: "x" * n),
)
odd_numbers = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "-0", "9" * 5000, "1.5"]),
).map(Raw)
odd_scalar = st.one_of(odd_text, odd_numbers, st.booleans(), st.none())
odd_values = st.recursive(
    odd_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
odd_bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), odd_values, max_size=6),
    odd_values,
    st.integers(1, 50_000).map(lambda depth: Raw("[" * depth + "]" * depth)),
)
odd_segments = st.one_of(
    st.text(max_size=30).map(lambda s: httpx.URL("/x/" + s.encode("utf-8", "surrogatepass").hex()).path[3:]),
    st.sampled_from(["%00", "a%00b", "%ff", "%ed%a0%80", "%c0%80", "..%2f..", "%2e%2e", "1" * 40, "-1", "0"]),
    st.sampled_from([POISONED_TASK, POISONED_JOB]),
    st.integers(1, 20_000).map(lambda n: "t" * n),
    st.integers(-(2**80), 2**80).map(str),
)
odd_query_values = st.one_of(odd_segments, st.sampled_from(["", "abc", str(2**70), "1e400", "NaN", "-0"]))
PATHS = [
    "/v1/jobs/{}",
    "/v1/jobs/{}/events",
    "/v1/tasks/{}",
    "/v1/tasks/{}/best",
    "/v1/tasks/{}/source",
    "/v1/candidates/{}/source",
    "/tasks/{}",
    "/web/static/{}",
]
QUERIES = ["/?family=", "/?hardware=", "/tasks/general.softmax?page=", "/tasks/general.softmax?rejected_page=",
           "/v1/tasks?family=", "/v1/tasks/general.softmax/best?hardware="]  # fmt: skip
WRITES = ["/v1/jobs", "/v1/verify", "/v1/jobs/0123/cancel"]


def test_odd_requests_never_cause_a_server_error(live_url: str) -> None:
    with httpx.Client(base_url=live_url, timeout=60) as client:

        @given(
            write=st.sampled_from(WRITES),
            body=odd_bodies,
            path=st.sampled_from(PATHS),
            segment=odd_segments,
            query=st.sampled_from(QUERIES),
            value=odd_query_values,
        )
        @settings(max_examples=ODD_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def no_5xx(write: str, body: Any, path: str, segment: str, query: str, value: str) -> None:
            content = dump(body).encode("utf-8", "surrogatepass")
            two_types = [("content-type", "application/json"), ("content-type", "text/plain")]
            answers = [
                client.post(write, content=content, headers={"content-type": "application/json"}),
                client.post(write, content=content, headers=two_types),  # the guard and Starlette must agree
                client.get(path.format(segment)),
                client.get(query + value),
            ]
            for r in answers:
                request = f"{r.request.method} {str(r.request.url)[:200]}"
                assert r.status_code < 500, f"{request} -> {r.status_code}: {r.text[:300]}"
                assert len(r.content) < 200_000 or r.request.method == "GET", "an error echoed a large input"

        no_5xx()
        assert client.get("/healthz").json()["status"] == "ok"
