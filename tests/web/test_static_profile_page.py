"""The task page shows a kernel's static GPU profile as an estimate, never as a timing."""

from __future__ import annotations

import re

from tests.service.conftest import LiveServer
from tests.web.seed import CPU, fixture_report, kernel_source
from verifier.plan.profile import assemble, call_entry

TASK = "general.softmax"


def _profile() -> dict:
    build = {
        "ok": True,
        "kernel": "softmax_rows",
        "constexprs": {"BLOCK_N": 1024},
        "options": {"num_warps": 4},
        "registers": 40,
        "spill_store_bytes": 0,
        "spill_load_bytes": 0,
        "shared_bytes": 16,
        "tensor_core_ops": {},
    }
    traffic = {
        "kernels": [
            {
                "kernel": "softmax_rows",
                "launches": 1,
                "load_bytes": 4096,
                "load_sectors": 128,
                "store_bytes": 4096,
                "store_sectors": 128,
                "bytes": 8192,
            }
        ]
    }
    return assemble([build], [call_entry("tiny", traffic, 8192, 2048)], 90)


def test_an_accepted_kernel_shows_its_static_profile_as_an_estimate(server: LiveServer) -> None:
    import tasks

    task = tasks.get(TASK)
    server.store.put_task(task.id, task.source, family=task.family, title=task.title)
    plain = server.store.add_candidate(TASK, kernel_source("plain"), language="triton", origin="user").candidate
    server.store.record_verification(plain.id, fixture_report(task.source, kernel_source("plain"), env=CPU))
    source = kernel_source("profiled")
    cand = server.store.add_candidate(TASK, source, language="triton", origin="template").candidate
    report = fixture_report(task.source, source, env=CPU)
    report["static_profile"] = _profile()
    server.store.record_verification(cand.id, report)
    with server.client() as c:
        page = c.get(f"/tasks/{TASK}")
    assert page.status_code == 200
    html = page.text
    profiled = html[html.index(f'id="kernel-{cand.id}"') :]
    profiled = re.sub(r"\s+", " ", profiled[: profiled.index("</article>")])
    assert "Static GPU profile" in profiled and "never a timing" in profiled
    assert "1.00× the compulsory bytes" in profiled and "sector efficiency 100%" in profiled
    assert "<code>softmax_rows</code>" in profiled and "Cannot see: caches" in profiled
    other = html[html.index(f'id="kernel-{plain.id}"') :]
    assert "Static GPU profile" not in other[: other.index("</article>")]  # a report without one says nothing
