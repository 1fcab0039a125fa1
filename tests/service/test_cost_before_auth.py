"""What a hostile client could make the server pay before it knew who was asking (issue 24).

Two Content-Type headers slipped past the strict-JSON guard (500s); bodies were buffered before the
token was checked, with no read timeout; one client could hold any number of event streams; a 1 MB
JSON body cost 98 ms of GIL-held CPU in the strict parser (13 ms for ``json.loads``).
"""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from service.api.strict_json import strict_json
from tests.service.conftest import LiveServer

SURROGATE_BODY = b'{"task_id": "\\ud800"}'
NUL_BODY = b'{"task_id": "a\\u0000b"}'


def _raw(server: LiveServer, request: bytes, timeout: float = 10.0) -> tuple[bytes, float]:
    """Send ``request`` on a fresh connection; the whole answer (head and body) and the seconds it took."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        started = time.monotonic()
        sock.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < _length(answer):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        return answer, time.monotonic() - started


def _length(answer: bytes) -> int:
    for line in answer.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@pytest.mark.parametrize("body", [SURROGATE_BODY, NUL_BODY], ids=["lone surrogate", "NUL"])
def test_two_content_types_are_refused(db_server: LiveServer, body: bytes) -> None:
    headers = [("content-type", "application/json"), ("content-type", "text/plain")]
    with db_server.client() as c:
        for path in ("/v1/jobs", "/v1/verify"):
            r = c.post(path, content=body, headers=headers)
            assert r.status_code == 400 and "more than one Content-Type" in r.json()["detail"], r.text


def test_an_unauthenticated_body_is_refused_before_it_is_read(make_server) -> None:
    server: LiveServer = make_server(api_tokens=frozenset({"secret"}))
    head = b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1100000\r\n\r\n"
    answer, _ = _raw(server, head)  # no body sent at all: the answer cannot have waited for one
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    wrong = head.replace(b"Host: x\r\n", b"Host: x\r\nAuthorization: Bearer wrong\r\n")
    answer, _ = _raw(server, wrong)
    assert answer.startswith(b"HTTP/1.1 401") and b"unknown bearer token" in answer, answer[:300]


def test_a_non_loopback_write_is_refused_before_its_body_is_read(server: LiveServer) -> None:
    from fastapi.testclient import TestClient

    with TestClient(server.app) as c:  # TestClient's peer is "testclient", not loopback
        r = c.post("/v1/verify", content=b"{" * 10, headers={"content-type": "application/json"})
    assert r.status_code == 403 and "loopback" in r.text  # not a 422 about the malformed body: never parsed


@pytest.mark.serial
def test_a_stalled_body_is_cut_off(make_server) -> None:
    server: LiveServer = make_server(api_tokens=frozenset({"secret"}), body_timeout_s=1)
    head = (
        b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n"
        b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"task_id": '
    )
    answer, seconds = _raw(server, head, timeout=30)
    assert answer.startswith(b"HTTP/1.1 408") and b"KILN_BODY_TIMEOUT_S" in answer, answer[:300]
    assert seconds < 10


def _open_stream(server: LiveServer, job_id: str) -> tuple[httpx.Client, httpx.Response]:
    client = server.client(timeout=30)
    response = client.send(client.build_request("GET", f"/v1/jobs/{job_id}/events"), stream=True)
    return client, response


def test_event_streams_are_capped_per_client_and_in_all(make_server) -> None:
    server: LiveServer = make_server(sse_per_client=2, sse_streams=3)
    with server.client() as c:
        job = c.post("/v1/jobs", json={"task_id": "spmm.csr"}).json()  # no runner: it stays queued
    opened = [_open_stream(server, job["id"]) for _ in range(2)]
    try:
        assert [r.status_code for _, r in opened] == [200, 200]
        client, third = _open_stream(server, job["id"])
        assert third.status_code == 429 and third.headers["retry-after"]
        assert "KILN_SSE_PER_CLIENT" in third.read().decode()
        client.close()
        for client, response in opened:  # closing one gives its slot back
            response.close()
            client.close()
        opened = []
        deadline = time.monotonic() + 10
        while server.app.state.kiln.streams.open and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not server.app.state.kiln.streams.open
        opened = [_open_stream(server, job["id"]) for _ in range(2)]
        assert [r.status_code for _, r in opened] == [200, 200]
    finally:
        for client, response in opened:
            response.close()
            client.close()


def test_the_global_stream_cap(make_server) -> None:
    server: LiveServer = make_server(sse_per_client=10, sse_streams=2)
    with server.client() as c:
        job = c.post("/v1/jobs", json={"task_id": "spmm.csr"}).json()
    opened = [_open_stream(server, job["id"]) for _ in range(3)]
    try:
        assert [r.status_code for _, r in opened] == [200, 200, 503]
        assert "KILN_SSE_STREAMS" in opened[2][1].read().decode()
    finally:
        for client, response in opened:
            response.close()
            client.close()


def _cpu_ms(parse, body: bytes) -> float:
    best = float("inf")
    for _ in range(7):
        started = time.process_time()
        parse(body)
        best = min(best, time.process_time() - started)
    return best * 1000


@pytest.mark.serial
@pytest.mark.parametrize(
    "shape",
    [
        {"a": list(range(150_000))},
        [{"k": i, "v": "x"} for i in range(50_000)],
        {"a": ["abcdefgh"] * 90_000},
        {"a": [0.5 + i for i in range(70_000)], "big": 12345678901234567890 // 10},
    ],
    ids=["integers", "objects", "strings", "floats and a 19-digit integer"],
)
def test_strict_parsing_costs_about_what_json_loads_does(shape: object) -> None:
    body = json.dumps(shape).encode()
    assert len(body) > 500_000
    strict, plain = _cpu_ms(strict_json, body), _cpu_ms(json.loads, body)
    assert strict < 3 * plain + 5, (strict, plain)
