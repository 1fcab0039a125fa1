"""Shared fixtures of the generator tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_llm_endpoints() -> None:
    """What the LLM client learned about an endpoint (parameters it refuses, streaming) lives for the
    process; a later test's scripted server may get a port an earlier one had."""
    from agents.llm import client

    client._QUIRKS.clear()
