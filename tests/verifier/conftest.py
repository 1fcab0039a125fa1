"""Fixtures for the verifier tests: the adversarial corpus, a reference prepared once per session, and
a listener on the host that sandboxed code must not reach."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.verifier.corpus_files import CORPUS, CorpusEntry, corpus_entry, load_corpus
from verifier import PreparedReference, Reference, Report, VerifyOptions, prepare, verify

REFERENCE_FILE = CORPUS / "reference_dwconv3x3.py"
CORPUS_ENTRIES = load_corpus()
__all__ = ["CORPUS_ENTRIES", "CorpusEntry", "corpus_entry"]


RUNTIME_OPTIONS = VerifyOptions(device="cpu", static_screen=False, timeout_s=90, memory_limit_mb=6144)


@pytest.fixture(scope="session")
def prepared_reference() -> PreparedReference:
    # Five calls per instance: enough for the stateful entries (wrong from the 4th call) at about half
    # the time; the policy's secret 8-10 is tested in test_round_two.py and through the CLI tests.
    return prepare(Reference.from_file(REFERENCE_FILE), VerifyOptions(device="cpu", timeout_s=120, calls_per_trial=5))


@contextmanager
def unreachable_listener() -> Iterator[str]:
    """A TCP listener on the host's loopback: yields its port; on leaving, fails the test if anything
    connected to it (a connection waits in the backlog until accepted)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    try:
        yield str(server.getsockname()[1])
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()


def verify_honest_and_socket_escape(prepared: PreparedReference, options: VerifyOptions) -> tuple[Report, Report]:
    """The honest entry and the socket escape through one sandbox: the honest kernel is accepted, the
    escape rejected without reaching a listener on the host."""
    honest = verify(prepared, corpus_entry("honest_dwconv").candidate(), options)
    assert honest.verdict == "accepted", honest.reasons
    with unreachable_listener() as port:
        escape = verify(prepared, corpus_entry("escape_socket").candidate(PORT=port), options)
    assert escape.verdict == "rejected", escape.reasons
    return honest, escape
