"""A bench run in a test store, as ``kiln bench`` starts one (a template run of ``kb.level1`` on a CPU)."""

from __future__ import annotations

from typing import Any

from kernels_store import RunRecord, Store


def new_run(store: Store, task_ids: list[str], **fields: Any) -> RunRecord:
    """``store.create_run`` over ``task_ids``; ``fields`` replace the defaults."""
    defaults: dict[str, Any] = {
        "suite": "kb.level1",
        "tier": "small",
        "proposer": "template",
        "generator": "template",
        "executor": "local",
        "budget": 2,
        "device": "cpu",
        "device_name": "test cpu",
        "hardware_fingerprint": "f" * 16,
    }
    return store.create_run(task_ids, **(defaults | fields))
