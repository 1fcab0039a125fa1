"""Odd input as a hostile client sends it: every answer a 4xx with a message, never a 5xx, never an echo of
a large input, and nothing odd reaching the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import event

from service.api.validation import check_candidate, check_reference
from tests.service.conftest import LiveServer

REFERENCE = (
    "import torch\nimport torch.nn as nn\n\nclass Model(nn.Module):\n    def forward(self, x):\n"
    "        return torch.relu(x)\n\ndef get_inputs():\n    return [torch.randn(64)]\n\n"
    "def get_init_inputs():\n    return []\n"
)
JSON = {"content-type": "application/json"}


@contextmanager
def statements(server: LiveServer) -> Iterator[list[str]]:
    """Every SQL statement the server's store sends while the block runs."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    event.listen(server.store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(server.store.engine, "before_cursor_execute", record)


ODD_BODIES = {
    "NaN": ('{"task_id": "general.softmax", "budget": NaN}', "NaN is not a JSON number"),
    "Infinity": ('{"task_id": "general.softmax", "budget": Infinity}', "Infinity is not a JSON number"),
    "-Infinity in an extra field": ('{"task_id": "general.softmax", "x": -Infinity}', "-Infinity is not"),
    "1e400": ('{"task_id": "general.softmax", "budget": 1e400}', "1e400 is out of range"),
    "integer beyond 64 bits": (f'{{"task_id": "general.softmax", "budget": {2**70}}}', "out of range"),
    "5000-digit integer": ('{"task_id": "general.softmax", "budget": ' + "9" * 5000 + "}", "out of range"),
    "lone surrogate in an id": ('{"task_id": "\\ud800"}', "body.task_id contains a lone surrogate (U+D800)"),
    "lone surrogate in a source": (
        json.dumps({"reference_source": REFERENCE}).replace("relu", "relu\\udfff"),
        "body.reference_source contains a lone surrogate (U+DFFF) at line 6",
    ),
    "lone surrogate in a key": ('{"task_id": "general.softmax", "\\ud83d": 1}', "key contains a lone surrogate"),
    "NUL in an id": ('{"task_id": "general\\u0000softmax"}', "body.task_id contains a NUL character"),
    "NUL in a model name": (
        '{"task_id": "general.softmax", "proposer": "llm", "model": "a\\u0000"}',
        "body.model contains a NUL character",
    ),
    "deep nesting": ('{"task_id": ' + "[" * 100_000 + "]" * 100_000 + "}", "nests too deeply"),
    "invalid UTF-8": (b'{"task_id": "\xff\xfe"}', "not valid"),
    "not JSON at all": ("task_id=general.softmax", "not valid JSON"),
}


@pytest.mark.parametrize("name", list(ODD_BODIES))
def test_odd_json_is_a_422_with_a_message(db_server: LiveServer, name: str) -> None:
    body, fragment = ODD_BODIES[name]
    with db_server.client() as c:
        for path in ("/v1/jobs", "/v1/verify"):
            r = c.post(path, content=body, headers=JSON)
            assert r.status_code == 422, (path, r.status_code, r.text[:300])
            assert fragment in r.json()["detail"], r.text[:300]
            assert len(r.content) < 1000
        assert c.get("/healthz").status_code == 200


NUL_AND_RANGE = [
    ("GET", "/v1/jobs/a%00b"),
    ("GET", "/v1/jobs/a%00b/events"),
    ("POST", "/v1/jobs/a%00b/cancel"),
    ("GET", "/tasks/a%00b"),
    ("GET", "/v1/tasks/a%00b"),
    ("GET", "/v1/tasks/a%00b/best"),
    ("GET", "/?hardware=%00"),
    ("GET", "/?family=x%00"),
    ("GET", "/v1/tasks?family=%00"),
    ("GET", "/v1/tasks/general.softmax/best?hardware=%00"),
    ("GET", "/tasks/general.softmax?hardware=a%00"),
    ("GET", f"/tasks/general.softmax?page={2**70}"),
    ("GET", f"/tasks/general.softmax?rejected_page={2**64}"),
    ("GET", f"/v1/candidates/{2**70}/source"),
    ("GET", f"/v1/candidates/{2**31}/source"),
    ("GET", "/v1/candidates/0/source"),
]


@pytest.mark.parametrize("method, path", NUL_AND_RANGE)
def test_nul_bytes_and_out_of_range_numbers_are_4xx_before_the_database(
    db_server: LiveServer, method: str, path: str
) -> None:
    with db_server.client() as c:
        c.get("/healthz")  # the app is warm: what follows sends no SQL at all
        with statements(db_server) as sent:
            r = c.request(method, path)
        assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
        assert sent == [], sent
        assert c.get("/healthz").status_code == 200


def test_in_range_numbers_still_work(db_server: LiveServer) -> None:
    with db_server.client() as c:
        assert c.get("/tasks/general.softmax?page=1000000000&rejected_page=abc").status_code == 200
        assert c.get(f"/v1/candidates/{2**31 - 1}/source").status_code == 404


def test_body_size_is_limited_before_parsing(make_server) -> None:
    server = make_server(max_source_bytes=4096)  # body limit: 4 x 4096 + 64 KiB
    limit = server.settings.body_limit
    huge = b'{"task_id": "general.softmax", "pad": [' + b"1," * 7_500_000 + b"1]}"  # 15 MB of JSON
    with server.client() as c:
        started = time.perf_counter()
        declared = c.post("/v1/jobs", content=huge, headers=JSON)
        declared_s = time.perf_counter() - started

        def chunks() -> Iterator[bytes]:  # streamed, no Content-Length
            for start in range(0, len(huge), 65536):
                yield huge[start : start + 65536]

        started = time.perf_counter()
        streamed = c.post("/v1/verify", content=chunks(), headers=JSON)
        streamed_s = time.perf_counter() - started
    for r in (declared, streamed):
        assert r.status_code == 413, r.text[:200]
        assert "KILN_MAX_BODY_BYTES" in r.json()["detail"] and str(limit) in r.json()["detail"]
        assert len(r.content) < 500
    assert declared_s < 1.0 and streamed_s < 2.0, (declared_s, streamed_s)
    with server.client() as c:
        r = c.post("/v1/jobs", content=b'{"task_id": "general.softmax", "pad": "' + b"x" * limit + b'"}', headers=JSON)
        assert r.status_code == 413
        assert c.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"task_id": "general.softmax", "surprise": "A" * 200_000},
        {"task_id": ["general.softmax"] * 20_000},
        {"task_id": "general.softmax", "budget": "9" * 100_000},
        {"reference_source": REFERENCE, "task_id": "general.softmax", "pad": list(range(20_000))},
        {"candidate_source": {"nested": "B" * 200_000}, "task_id": "general.softmax"},
    ],
)
def test_a_422_never_echoes_a_large_input(server: LiveServer, body: dict) -> None:
    with server.client() as c:
        for path in ("/v1/jobs", "/v1/verify"):
            r = c.post(path, json=body)
            assert r.status_code == 422, r.text[:300]
            assert len(r.content) < 2000, len(r.content)
            assert r.json()["detail"]


def test_a_body_without_content_type_is_a_short_422(server: LiveServer) -> None:
    with server.client() as c:
        r = c.post("/v1/jobs", content=b'{"task_id": "general.softmax"}' + b" " * 300_000)
    assert r.status_code == 422 and len(r.content) < 2000


@pytest.mark.parametrize(
    "source, line",
    [("x = 1\n\x00\n", "line 2, column 1"), ("import torch\nclass ModelNew:\n    y = '\x00'\n", "line 3, column 10")],
)
def test_a_nul_byte_in_a_source_names_its_line(server: LiveServer, source: str, line: str) -> None:
    with server.client() as c:
        r = c.post("/v1/verify", json={"task_id": "general.softmax", "candidate_source": source})
    assert r.status_code == 422 and f"candidate_source contains a NUL character at {line}" in r.text
    for check in (check_candidate, check_reference):
        with pytest.raises(Exception) as raised:
            check(source, 10_000)
        assert raised.value.status_code == 422 and f"NUL character at {line}" in raised.value.detail


PAGES = ["/", "/?family=general", "/tasks/general.softmax", "/healthz", "/web/static/site.css"]


@pytest.mark.parametrize("path", PAGES)
def test_head_answers_like_get_without_a_body(server: LiveServer, path: str) -> None:
    with server.client() as c:
        got = c.get(path)
        head = c.head(path)
    assert got.status_code == head.status_code == 200
    assert head.content == b"" and head.headers["content-type"] == got.headers["content-type"]


def test_job_links_never_copy_the_host_header(make_server) -> None:
    relative = make_server()
    with relative.client() as c:
        job = c.post("/v1/jobs", json={"task_id": "general.softmax"}, headers={"Host": "evil.example"}).json()
        assert job["links"]["self"] == f"/v1/jobs/{job['id']}"
        assert job["links"]["events"] == f"/v1/jobs/{job['id']}/events"
        assert c.get(job["links"]["self"], headers={"Host": "evil.example"}).json()["links"] == job["links"]
    public = make_server(public_url="https://kiln.example.org")
    with public.client() as c:
        job = c.post("/v1/jobs", json={"task_id": "general.softmax"}, headers={"Host": "evil.example"}).json()
        assert job["links"]["cancel"] == f"https://kiln.example.org/v1/jobs/{job['id']}/cancel"


def test_raw_sources_are_plain_text(server: LiveServer) -> None:
    with server.client() as c:
        r = c.get("/v1/tasks/general.softmax/source")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        assert r.headers["x-content-type-options"] == "nosniff" and "class Model" in r.text
        assert c.get("/v1/tasks/no.such_task/source").status_code == 404
        assert c.get("/v1/candidates/1/source").status_code == 404
        assert c.get("/v1/candidates/abc/source").status_code == 422


def test_unknown_ids_are_not_echoed_in_full(server: LiveServer) -> None:
    with server.client() as c:
        for path in ("/v1/jobs/" + "j" * 5000, "/v1/tasks/" + "t" * 5000, "/tasks/" + "t" * 5000):
            r = c.get(path)
            assert r.status_code == 404 and len(r.content) < 3000, (path[:20], len(r.content))


def test_the_service_survives_all_of_it(server: LiveServer) -> None:
    """A burst of everything above, interleaved on one connection: no answer is a 5xx."""
    with server.client() as c:
        for body, _ in ODD_BODIES.values():
            assert c.post("/v1/jobs", content=body, headers=JSON).status_code < 500
        for method, path in NUL_AND_RANGE:
            assert c.request(method, path).status_code < 500
        assert c.get("/healthz").json()["status"] == "ok"
    with httpx.Client(base_url=server.url) as raw:
        assert raw.get("/v1/jobs/%ff").status_code == 404
        assert raw.get("/tasks/%ed%a0%80").status_code == 404
