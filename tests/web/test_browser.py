"""The pages in a real headless Chromium: what a person sees, a filter and a pagination link clicked,
screenshots saved (tests/web/screenshots/) for a person to look at.

The store holds the fixture kernels of ``tests.web.seed`` (reports labelled as test fixtures, with
invented GPU timings) plus three real CPU verifications made through ``POST /v1/verify``: an honest
kernel, a framework fallback and a socket import, so the page shows what the verifier really caught.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kernels_store import open_store
from service.settings import Settings
from tests.service.conftest import LiveServer, start_server
from tests.verifier.corpus_files import expand
from tests.web.browser import CHROMIUM_ARGS, require_chromium, screenshot_dir
from tests.web.seed import Showcase, seed_showcase

CORPUS = Path(__file__).parent.parent / "verifier" / "corpus"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 420, "height": 860}


@pytest.fixture(scope="module")
def chromium_binary() -> str:
    return require_chromium()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, chromium_binary: str) -> Iterator[tuple[LiveServer, Showcase, str]]:
    """A live server on a seeded store, and the id of the task the real verifications went to."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser')}/kiln.sqlite"
    store = open_store(url)
    showcase = seed_showcase(store)
    settings = Settings(database_url=url, workers=0)
    server, thread, base, app = start_server(settings, store)
    live = LiveServer(base, app, store, settings)
    reference = (CORPUS / "reference_dwconv3x3.py").read_text()
    verdicts = {}
    with live.client(timeout=300) as client:
        for name in ("honest_dwconv.py", "cheat_torch_fallback.py", "escape_socket.py"):
            body = {"reference_source": reference, "candidate_source": expand((CORPUS / name).read_text(), CORPUS)}
            answer = client.post("/v1/verify", json=body).json()
            verdicts[name] = answer["verdict"]
    assert verdicts == {
        "honest_dwconv.py": "accepted",
        "cheat_torch_fallback.py": "rejected",
        "escape_socket.py": "rejected",
    }
    yield live, showcase, answer["task_id"]
    server.should_exit = True
    thread.join(timeout=30)
    store.close()


@pytest.fixture(scope="module")
def browser(chromium_binary: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_binary, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def no_horizontal_overflow(page: Any) -> bool:
    """True when the page is no wider than the window (wide tables scroll inside their own box)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_leaderboard_shows_fast_p_and_filters_by_family(site: tuple, page: Any) -> None:
    live, showcase, _ = site
    page.goto(live.url + "/")
    fast_p = page.locator("table.fast-p")
    assert fast_p.is_visible()
    assert fast_p.locator("thead").inner_text().split()[-4:] == ["fast0", "fast1", "fast1.5", "fast2"]
    assert fast_p.locator("tbody tr").count() >= 6
    assert page.get_by_text("not measured on a GPU (verified on CPU").first.is_visible()
    assert page.locator("table.tasks").get_by_text(f"{showcase.best_speedup:.2f}×").is_visible()
    assert no_horizontal_overflow(page)
    page.screenshot(path=screenshot_dir() / "leaderboard.png", full_page=True)

    page.locator(".filters a.chip", has_text="dwconv2d").click()
    page.wait_for_url("**/?family=dwconv2d")
    assert page.locator(".chip.current", has_text="dwconv2d").is_visible()
    assert page.locator("table.tasks a", has_text="dwconv2d.convnext_7x7").is_visible()
    assert page.locator("table.tasks a", has_text="general.matmul").count() == 0
    assert "of the 8 built-in tasks" in page.locator("#fast-p .explain").inner_text()
    page.screenshot(path=screenshot_dir() / "leaderboard-dwconv2d.png", full_page=True)


def test_leaderboard_fits_a_phone_screen(site: tuple, browser: Any) -> None:
    live, _, _ = site
    context = browser.new_context(viewport=PHONE)
    phone = context.new_page()
    phone.goto(live.url + "/")
    assert no_horizontal_overflow(phone)
    phone.screenshot(path=screenshot_dir() / "leaderboard-phone.png", full_page=False)
    context.close()


def test_task_page_ranks_kernels_highlights_source_and_pages_through_cheats(site: tuple, page: Any) -> None:
    live, showcase, _ = site
    page.goto(live.url + "/")
    page.locator("table.tasks a", has_text=showcase.busy_task).click()
    page.wait_for_url(f"**/tasks/{showcase.busy_task}")
    assert page.locator("h1").inner_text() == showcase.busy_task
    page.screenshot(path=screenshot_dir() / "task-top.png")  # the first screenful, as a visitor sees it

    keyword = page.locator("#accepted article").first.locator(".hl .kn").first  # `import`, highlighted
    assert keyword.is_visible()
    colors = page.evaluate(
        "([k, body]) => [getComputedStyle(k).color, getComputedStyle(body).color]",
        [keyword.element_handle(), page.locator("body").element_handle()],
    )
    assert colors[0] != colors[1], "the locally served pygments stylesheet colours keywords"

    ranks = page.locator("#accepted .rank").all_inner_texts()
    assert ranks[:3] == ["#1", "#2", "#3"] and page.locator("#accepted .speed strong").first.inner_text() == "2.30×"
    plot = page.locator("#plot svg")
    assert plot.is_visible() and plot.locator("circle").count() == showcase.busy_accepted_timed

    first = page.locator("#accepted article").first
    first.locator("summary", has_text="Verification report").click()
    checks = first.locator("table.checks")
    assert checks.is_visible() and checks.locator("tr.pass").count() == 8
    assert first.get_by_text("test fixture: hand-written report").first.is_visible()

    rejected = page.locator("#rejected")
    assert rejected.get_by_text("no_fallback: trial 1, call 1").first.is_visible()
    assert rejected.get_by_text("sandbox: blocked socket connect").first.is_visible()
    assert no_horizontal_overflow(page)
    page.screenshot(path=screenshot_dir() / "task.png", full_page=True)
    first.screenshot(path=screenshot_dir() / "task-best-kernel.png")

    rejected.locator("nav.pager").first.get_by_role("link", name="next →").click()
    page.wait_for_url("**rejected_page=2*")
    assert page.locator("#rejected nav.pager .count").first.inner_text() == "26–30 of 30"
    assert page.locator("#rejected article").count() == 5
    page.locator("#rejected").screenshot(path=screenshot_dir() / "task-rejected-page-2.png")


def test_real_cpu_verifications_say_not_measured_and_show_the_cheats_caught(site: tuple, page: Any) -> None:
    live, _, task_id = site
    page.goto(f"{live.url}/tasks/{task_id}")
    assert page.get_by_text("Nothing to plot: no accepted kernel of this task has been measured on a GPU").is_visible()
    accepted = page.locator("#accepted article")
    assert accepted.count() == 1 and accepted.get_by_text("not measured on a GPU").first.is_visible()
    reasons = page.locator("#rejected ul.reasons").all_inner_texts()
    assert any(r.startswith("no_fallback:") and "aten." in r for r in reasons), reasons
    assert any(r.startswith("static_screen:") and "socket" in r for r in reasons), reasons
    accepted.locator("summary", has_text="Verification report").click()
    assert accepted.get_by_text("Not measured on a GPU: verified on cpu").is_visible()
    page.screenshot(path=screenshot_dir() / "task-real-cpu-verifications.png", full_page=True)


def test_unknown_task_is_a_404_page(site: tuple, page: Any) -> None:
    live, _, _ = site
    response = page.goto(live.url + "/tasks/dwconv2d.convnext7x7")
    assert response is not None and response.status == 404
    assert page.get_by_text("There is no task").is_visible()
    page.get_by_role("link", name="dwconv2d.convnext_7x7").click()
    page.wait_for_url("**/tasks/dwconv2d.convnext_7x7")


def test_every_page_sends_security_headers_and_passes_its_csp(site: tuple, page: Any) -> None:
    """Issue 24: no response had nosniff, a CSP, X-Frame-Options or Referrer-Policy. Every page has them
    now, and the browser reports no CSP violation on any of them (the plot's inline colours still apply)."""
    live, showcase, _ = site
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    for path in ("/", f"/tasks/{showcase.busy_task}", "/runs", "/tasks/no.such.task"):
        response = page.goto(live.url + path)
        assert response is not None
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY", path
        assert (
            headers["referrer-policy"] == "no-referrer" and "default-src 'none'" in headers["content-security-policy"]
        )
    page.goto(live.url + f"/tasks/{showcase.busy_task}")
    swatch = page.locator(".swatch").first
    if swatch.count():
        assert (
            page.evaluate("(s) => getComputedStyle(s).backgroundColor", swatch.element_handle()) != "rgba(0, 0, 0, 0)"
        )
    assert violations == []
