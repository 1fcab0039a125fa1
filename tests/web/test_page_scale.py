"""The pages stay fast with thousands of candidates: a bounded number of SQL queries (the same for a
store of 40 candidates as for one of 4,000) and a time budget per page, through the live server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from kernels_store import open_store
from service.settings import Settings
from tests.service.conftest import LiveServer, start_server
from tests.web.seed import bulk_seed

pytestmark = pytest.mark.serial  # wall-clock bounds: runs alone (Makefile)

BUSY = "dwconv2d.convnext_7x7"
PAGE_BUDGET_S = 2.0
"""Per page, measured at the client after one warm-up request (2 CPU cores; typically well under 0.5 s)."""
MAX_QUERIES = {"leaderboard": 4, "task": 10}
"""SELECTs per page, not counting the ``BEGIN`` that opens each read transaction (one per store call);
the task page's last two list the verdicts imported from bundles (a count and one bounded page)."""
PAGES = {
    "leaderboard": ("leaderboard", "/"),
    "leaderboard filtered": ("leaderboard", "/?family=dwconv2d&hardware=fixtureh100sxm01"),
    "task": ("task", f"/tasks/{BUSY}"),
    "task, one hardware": ("task", f"/tasks/{BUSY}?hardware=fixturecpu000001"),
}
DEEP_PAGES = f"/tasks/{BUSY}?page=200&rejected_page=50"


@contextmanager
def counted_queries(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement the engine sends while the block runs."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _seeded_server(path: Path, scale: int) -> Iterator[LiveServer]:
    url = f"sqlite:///{path}"
    store = open_store(url)
    bulk_seed(store, BUSY, accepted_timed=15 * scale, accepted_cpu=5 * scale, rejected=20 * scale)
    bulk_seed(store, "general.softmax", accepted_timed=2, accepted_cpu=1, rejected=3)
    settings = Settings(database_url=url, workers=0)
    server, thread, base, app = start_server(settings, store)
    yield LiveServer(base, app, store, settings)
    server.should_exit = True
    thread.join(timeout=30)
    store.close()


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """4,000 candidates on one task: 1,500 GPU-timed, 500 CPU-only accepted, 2,000 rejected."""
    yield from _seeded_server(tmp_path_factory.mktemp("big") / "kiln.sqlite", scale=100)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The same mix at 40 candidates."""
    yield from _seeded_server(tmp_path_factory.mktemp("small") / "kiln.sqlite", scale=1)


def measure(server: LiveServer, path: str) -> tuple[float, list[str], int]:
    """(seconds, SQL statements but BEGIN, bytes) of one request, after a warm-up request."""
    with server.client() as client:
        assert client.get(path).status_code == 200
        with counted_queries(server.store.engine) as statements:
            started = time.perf_counter()
            response = client.get(path)
            seconds = time.perf_counter() - started
    assert response.status_code == 200
    queries = [s for s in statements if s.strip().upper() not in ("BEGIN", "BEGIN IMMEDIATE")]
    print(
        f"\n{path}: {seconds * 1000:.0f} ms, {len(queries)} queries + {len(statements) - len(queries)} BEGIN, ", end=""
    )
    print(f"{len(response.content) / 1024:.0f} KiB")
    return seconds, queries, len(response.content)


@pytest.mark.parametrize("name", list(PAGES))
def test_pages_stay_fast_and_use_a_bounded_number_of_queries(name: str, big: LiveServer, small: LiveServer) -> None:
    kind, path = PAGES[name]
    seconds, queries, size = measure(big, path)
    _, small_queries, _ = measure(small, path)
    assert len(queries) == len(small_queries), "the number of queries must not grow with the number of candidates"
    assert len(queries) <= MAX_QUERIES[kind], queries
    assert seconds < PAGE_BUDGET_S
    assert size < 1_000_000


def test_deep_pages_are_as_cheap_and_show_the_right_rows(big: LiveServer) -> None:
    seconds, queries, _ = measure(big, DEEP_PAGES)
    assert len(queries) <= MAX_QUERIES["task"] and seconds < PAGE_BUDGET_S
    with big.client() as client:
        html = client.get(DEEP_PAGES).text
        past_the_end = client.get(f"/tasks/{BUSY}?page=100000").text
    assert "1991–2000 of 2000" in html  # the last page of accepted kernels: the CPU-only ones rank last
    assert html.count("not measured on a GPU</span>") >= 10
    assert "1226–1250 of 2000" in html  # rejected page 50
    assert "Showing the latest 500 of 1500 GPU-timed kernels" in html
    assert "1991–2000 of 2000" in past_the_end  # a page past the end shows the last one
