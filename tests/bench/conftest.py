"""Fixtures of the bench tests: a store, and the generation loop without its sandboxed steps."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kernels_store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'kiln.sqlite'}")


@pytest.fixture
def no_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """The generation loop without its sandboxed steps: the reference is not run and the template plan is
    one fixed kernel per reference (these tests are about the run's bookkeeping; the slow test below and
    tests/agents cover the real thing)."""
    import agents.session
    import agents.template.propose

    def prepare(reference: Any, options: Any) -> Any:
        env = {"hardware_fingerprint": "f" * 16, "device_name": "test cpu", "torch": "t", "triton": "t"}
        return SimpleNamespace(reference=reference, device="cpu", environment=env)

    class Plan:
        def __init__(self, reference: Any) -> None:
            self.notes: list[str] = []
            self.source = f"# kernel for {reference.sha256}\nclass ModelNew:\n    pass\n"

        def variants(self, device: str, limit: Any = None) -> list[tuple[str, dict[str, Any]]]:
            return [(self.source, {"profile": "cpu"})]

    monkeypatch.setattr(agents.session, "prepare", prepare)

    def plan_template(reference: Any, options: Any, trace_shape: str | None = None) -> Plan:
        assert trace_shape == "small"  # an imported problem is traced at its small shape, not as written
        return Plan(reference)

    monkeypatch.setattr(agents.template.propose, "plan_template", plan_template)
