"""A real uvicorn server on loopback with a private SQLite store, for end-to-end service tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from kernels_store import Store, open_store
from service.app import create_app
from service.settings import Settings
from tests.store.conftest import clock, create_pg_database, db_url, pg_session_url, sqlite_template

__all__ = ["clock", "create_pg_database", "db_url", "pg_session_url", "sqlite_template"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_status(client: httpx.Client, job_id: str, wanted: set[str], timeout_s: float = 300.0) -> dict[str, Any]:
    """Poll ``GET /v1/jobs/{id}`` until its status is one of ``wanted``; the job then. Fails after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in wanted:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout_s:.0f} s, wanted {wanted}: {job}")


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    store: Store
    settings: Settings
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    def client(self, token: str | None = None, timeout: float = 60.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def stop(self, timeout_s: float = 60.0) -> None:
        """A clean shutdown, as on SIGINT: uvicorn runs the app's lifespan exit (the runner stops)."""
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=timeout_s)
            assert not self.thread.is_alive(), "the server did not stop"


def start_server(settings: Settings, store: Store) -> tuple[uvicorn.Server, threading.Thread, str, FastAPI]:
    app = create_app(settings, store)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}", app


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator:
    """Factory: ``make_server(**settings)`` starts a server; all are stopped at teardown."""
    running: list[tuple[uvicorn.Server, threading.Thread, Store]] = []

    def make(**overrides) -> LiveServer:
        url = overrides.pop("database_url", f"sqlite:///{tmp_path}/kiln-{len(running)}.sqlite")
        settings = Settings(database_url=url, **{"workers": 0, **overrides})
        store = open_store(url)
        server, thread, base, app = start_server(settings, store)
        running.append((server, thread, store))
        return LiveServer(base, app, store, settings, server, thread)

    yield make
    for server, thread, store in running:
        server.should_exit = True
        thread.join(timeout=30)
        store.close()


@pytest.fixture
def server(make_server) -> LiveServer:
    return make_server()


@pytest.fixture
def db_server(make_server, db_url: str) -> LiveServer:
    """A live server on SQLite, and on PostgreSQL (``db_url`` runs each test on both)."""
    return make_server(database_url=db_url)


@pytest.fixture(scope="module")
def _module_server(tmp_path_factory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("schema")
    url = f"sqlite:///{tmp}/kiln.sqlite"
    settings = Settings(database_url=url, workers=0, max_active_jobs_per_owner=1000)
    store = open_store(url)
    server, thread, base, app = start_server(settings, store)
    yield LiveServer(base, app, store, settings)
    server.should_exit = True
    thread.join(timeout=30)
    store.close()
