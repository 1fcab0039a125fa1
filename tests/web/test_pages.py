"""The pages through a real uvicorn on loopback: what they say, filters, pagination, escaping, 404."""

from __future__ import annotations

import re
from html import unescape

import pytest

import tasks
from tests.service.conftest import LiveServer
from tests.web.seed import CPU, H100, Showcase, seed_showcase


@pytest.fixture
def showcase(server: LiveServer) -> Showcase:
    return seed_showcase(server.store)


def _section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}">')
    return html[start : html.index("</section>", start)]


def test_leaderboard_shows_fast_p_per_generator_and_hardware(server: LiveServer, showcase: Showcase) -> None:
    with server.client() as c:
        page = c.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    fast_p = _section(page.text, "fast-p")
    rows = re.findall(r"<tr>(.*?)</tr>", fast_p, re.S)[1:]
    text = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip() for r in rows]
    # llm:fixture-model-a solved convnext_7x7 and fftconv.long_conv on the H100 (best 2.3x and 1.2x).
    n = len(tasks.all_tasks())  # fast_p is over the built-in suite

    def cell(count: int) -> str:
        return f"{count * 100 / n:.0f}% ({count}/{n})"

    model_a_h100 = next(t for t in text if t.startswith("llm:fixture-model-a NVIDIA H100"))
    assert model_a_h100.endswith(f"2/{n} 2 {cell(2)} {cell(2)} {cell(1)} {cell(1)}"), model_a_h100
    template_cpu = next(t for t in text if t.startswith("template AMD EPYC"))
    assert "not measured on a GPU" in template_cpu and cell(1) in template_cpu
    assert template_cpu.count("—") == 3  # fast_1, fast_1.5, fast_2: nothing GPU-timed to claim
    assert text.index(model_a_h100) < text.index(template_cpu)  # GPU-timed hardware first


def test_task_table_shows_the_best_kernel_and_says_when_it_was_not_gpu_timed(
    server: LiveServer, showcase: Showcase
) -> None:
    with server.client() as c:
        html = c.get("/").text
    table = _section(html, "tasks")
    busy = table[table.index(showcase.busy_task) : table.index("dwconv2d.replknet_31x31")]
    assert f"<strong>{showcase.best_speedup:.2f}×</strong>" in busy and "llm:fixture-model-a" in busy
    roofline = re.search(r'title="floor ([\d.e-]+) ms on shape stage1 \(h100-sxm roofline\)[^"]*">(\d+)%', busy)
    assert roofline, busy
    softmax = table[table.index(showcase.cpu_only_task) :]
    softmax = softmax[: softmax.index("</tbody>")]
    assert "not measured on a GPU" in softmax and "×" not in softmax
    matmul = table[table.index(showcase.a100_task) :]
    matmul = matmul[: matmul.index("</tbody>")]
    assert "1.70×" in matmul and 'title="no roofline profile for NVIDIA A100-SXM4-80GB">—' in matmul
    fft = table[table.index(showcase.unnamed_shape_task) :]
    assert "on shape lra_4k" in fft[: fft.index("</tbody>")]  # the first verified shape in task order
    assert table.count("no accepted kernel yet") == len(tasks.all_tasks()) - 4


def test_filters_by_family_and_hardware(server: LiveServer, showcase: Showcase) -> None:
    with server.client() as c:
        general = c.get("/", params={"family": "general"}).text
        cpu = c.get("/", params={"hardware": CPU["hardware_fingerprint"]}).text
        bogus = c.get("/", params={"family": "no_such_family"})
    tasks_shown = set(re.findall(r'<a href="/tasks/([^"]+)">', _section(general, "tasks")))
    assert tasks_shown == {t.id for t in tasks.all_tasks(family="general")}
    assert "of the 4 built-in tasks" in re.sub(r"\s+", " ", general)
    assert 'aria-current="true">general</a>' in general
    cpu_fast_p = _section(cpu, "fast-p")
    assert "AMD EPYC" in cpu_fast_p and "H100" not in cpu_fast_p
    assert H100["device_name"] not in _section(cpu, "tasks")
    assert bogus.status_code == 400 and "Unknown family" in bogus.text


def test_task_page_ranks_accepted_kernels_with_reports_and_highlighted_source(
    server: LiveServer, showcase: Showcase
) -> None:
    with server.client() as c:
        html = c.get(f"/tasks/{showcase.busy_task}").text
    accepted = _section(html, "accepted")
    speeds = [float(s) for s in re.findall(r"<strong>([\d.]+)×</strong> over eager", accepted)]
    assert len(speeds) == 10 and speeds == sorted(speeds, reverse=True) and speeds[0] == showcase.best_speedup
    assert "1–10 of 13" in accepted
    assert '<span class="k">import</span>' in accepted or '<span class="kn">import</span>' in accepted
    assert "<h4>Checks</h4>" in accepted and "<h4>Sandbox</h4>" in accepted and "<h4>Versions</h4>" in accepted
    assert "cuda_events (fixture)" in accepted and "seeds" in accepted and "11, 22, 33" in accepted
    reference = _section(html, "reference")
    assert '<div class="hl">' in reference and "ConvNeXt" in reference and "stage1" in reference


def test_task_page_lists_rejected_cheats_with_their_reasons_escaped(server: LiveServer, showcase: Showcase) -> None:
    with server.client() as c:
        html = c.get(f"/tasks/{showcase.busy_task}").text
    rejected = _section(html, "rejected")
    assert "1–25 of 30" in rejected and rejected.count('class="kernel rejected"') == 25
    assert "no_fallback: trial 1, call 1: forward ran framework compute op(s) aten.conv2d" in rejected
    assert "sandbox: blocked socket connect to 127.0.0.1:8080" in rejected
    assert "&lt;b&gt;not bold&lt;/b&gt;" in rejected and "<b>not bold</b>" not in rejected
    # Kernel sources hold "<script>alert('x')</script>" in a comment: shown as text, never as markup.
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_pagination_of_both_lists(server: LiveServer, showcase: Showcase) -> None:
    url = f"/tasks/{showcase.busy_task}"
    with server.client() as c:
        second = c.get(url, params={"page": 2}).text
        rejected_2 = c.get(url, params={"rejected_page": 2}).text
        past_end = c.get(url, params={"page": 99, "rejected_page": "junk"}).text
    accepted = _section(second, "accepted")
    assert "11–13 of 13" in accepted and re.findall(r'class="rank">#(\d+)<', accepted) == ["11", "12", "13"]
    assert "not measured on a GPU" in accepted  # the CPU-only kernel ranks last
    assert "26–30 of 30" in _section(rejected_2, "rejected")
    # Each list pages on its own parameter; links to one keep the other's page.
    assert 'href="/tasks/dwconv2d.convnext_7x7?page=2&amp;rejected_page=2#rejected"' in second
    assert "11–13 of 13" in _section(past_end, "accepted") and "1–25 of 30" in _section(past_end, "rejected")


def test_plot_shows_gpu_timings_only_and_says_so_when_there_are_none(server: LiveServer, showcase: Showcase) -> None:
    with server.client() as c:
        busy = c.get(f"/tasks/{showcase.busy_task}").text
        cpu_only = c.get(f"/tasks/{showcase.cpu_only_task}").text
    plot = _section(busy, "plot")
    assert plot.count("<circle") == showcase.busy_accepted_timed and "<svg" in plot
    assert "1 more accepted kernel was not measured on a GPU and is not plotted" in plot
    empty = _section(cpu_only, "plot")
    assert "<svg" not in empty and "<circle" not in empty
    assert "no accepted kernel of this task has been measured on a GPU" in empty
    assert "1 accepted kernel verified on CPU only" in empty
    assert "not measured on a GPU" in _section(cpu_only, "accepted")


def test_hardware_filter_on_a_task_page(server: LiveServer, showcase: Showcase) -> None:
    with server.client() as c:
        cpu = c.get(f"/tasks/{showcase.busy_task}", params={"hardware": CPU["hardware_fingerprint"]}).text
    accepted = _section(cpu, "accepted")
    assert accepted.count('class="kernel accepted"') == 1 and "</strong> over eager" not in accepted
    assert "not measured on a GPU" in accepted
    assert "Nothing to plot" in _section(cpu, "plot")


def test_unknown_task_is_a_404_page_with_near_ids(server: LiveServer) -> None:
    with server.client() as c:
        missing = c.get("/tasks/dwconv2d.convnext7x7")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "There is no task" in missing.text and 'href="/tasks/dwconv2d.convnext_7x7"' in missing.text


def test_a_submitted_reference_has_its_own_page(server: LiveServer) -> None:
    reference = "import torch\nclass Model(torch.nn.Module):\n    def forward(self, x):\n        return x * 2\n"
    server.store.put_task("user.0123456789abcdef", reference, family="user", title="submitted reference")
    with server.client() as c:
        page = c.get("/tasks/user.0123456789abcdef")
    assert page.status_code == 200 and "submitted reference" in page.text and "No accepted kernel" in page.text
    assert "return x * 2" in unescape(re.sub(r"<[^>]+>", "", page.text)) and "Nothing to plot" in page.text


def test_everything_is_served_locally(server: LiveServer, showcase: Showcase) -> None:
    with server.client() as c:
        pages = [c.get("/").text, c.get(f"/tasks/{showcase.busy_task}").text]
        site_css = c.get("/web/static/site.css")
        pygments_css = c.get("/web/static/pygments.css")
        assert c.get("/web/static/../app.py").status_code == 404
    for html in pages:
        links = re.findall(r'(?:href|src)="([^"]+)"', html)
        assert links and all(not re.match(r"[a-z]+:|//", link) for link in links), links
        assert "/web/static/site.css" in links and "/web/static/pygments.css" in links
    assert site_css.headers["content-type"].startswith("text/css") and "table.data" in site_css.text
    assert pygments_css.headers["content-type"].startswith("text/css") and ".hl .k" in pygments_css.text
