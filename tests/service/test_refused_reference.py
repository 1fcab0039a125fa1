"""A reference the verifier refuses (degenerate: its output is constant) leaves nothing in the store."""

from __future__ import annotations

from service.persistence import user_task_id
from tests.service.conftest import LiveServer

DEGENERATE = (
    "import torch\nimport torch.nn as nn\n\nclass Model(nn.Module):\n    def forward(self, x):\n"
    "        return torch.zeros_like(x)\n\ndef get_inputs():\n    return [torch.randn(64)]\n\n"
    "def get_init_inputs():\n    return []\n"
)
CANDIDATE = (
    "import torch\n\nclass ModelNew(torch.nn.Module):\n    def forward(self, x):\n        return torch.empty_like(x)\n"
)


def test_a_refused_reference_is_not_stored(db_server: LiveServer) -> None:
    task_id = user_task_id(DEGENERATE)
    with db_server.client(timeout=300) as c:
        r = c.post("/v1/verify", json={"reference_source": DEGENERATE, "candidate_source": CANDIDATE})
        assert r.status_code == 422 and "degenerate" in r.json()["detail"], r.text[:500]
        assert task_id not in {t["id"] for t in c.get("/v1/tasks").json()}
        assert c.get(f"/v1/tasks/{task_id}").status_code == 404
        assert c.get(f"/tasks/{task_id}").status_code == 404
    assert db_server.store.get_task(task_id) is None
    assert db_server.store.stats().candidates == 0


def test_a_reference_that_fails_to_load_is_a_422_without_traceback_or_server_paths(server: LiveServer) -> None:
    """Issue 24: the 422 carried the worker's traceback, with the server's paths in it."""
    failing = DEGENERATE.replace("import torch.nn as nn\n", "import torch.nn as nn\nimport no_such_module_kiln\n")
    with server.client(timeout=300) as c:
        r = c.post("/v1/verify", json={"reference_source": failing, "candidate_source": CANDIDATE})
    detail = r.json()["detail"]
    assert r.status_code == 422 and "No module named 'no_such_module_kiln'" in detail, detail
    assert "Traceback" not in detail and "/work" not in detail and "/tmp" not in detail and ".py" not in detail, detail
    assert "at line 3 of the submitted source" in detail
