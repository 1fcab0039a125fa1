"""Fixtures for the verifier tests: the adversarial corpus and a reference prepared once per session."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from verifier import Candidate, PreparedReference, Reference, VerifyOptions, prepare

CORPUS = Path(__file__).parent / "corpus"
REFERENCE_FILE = CORPUS / "reference_dwconv3x3.py"


@dataclass(frozen=True)
class CorpusEntry:
    name: str
    path: Path
    expect: str
    """``accepted`` or the check that must fail at run time."""
    static: str
    """``none`` or a substring of the static screen's finding."""

    def source(self, **substitutions: str) -> str:
        text = self.path.read_text()
        for key, value in substitutions.items():
            text = text.replace(f"@{key}@", value)
        return text

    def candidate(self, **substitutions: str) -> Candidate:
        return Candidate(source=self.source(**substitutions), name=self.name)


def load_corpus() -> list[CorpusEntry]:
    entries = []
    for path in sorted(CORPUS.glob("*.py")):
        if path.name.startswith("reference"):
            continue
        text = path.read_text()
        expect = re.search(r"^expect: (\S+)$", text, re.M)
        static = re.search(r"^static: (.+)$", text, re.M)
        assert expect and static, f"{path.name} lacks its expect:/static: header"
        entries.append(CorpusEntry(path.stem, path, expect.group(1), static.group(1).strip()))
    return entries


CORPUS_ENTRIES = load_corpus()


def corpus_entry(name: str) -> CorpusEntry:
    return next(e for e in CORPUS_ENTRIES if e.name == name)


RUNTIME_OPTIONS = VerifyOptions(device="cpu", static_screen=False, timeout_s=90, memory_limit_mb=6144)


@pytest.fixture(scope="session")
def prepared_reference() -> PreparedReference:
    # Five calls per instance: enough for the stateful entries (wrong from the 4th call) at about half
    # the time; the policy's secret 8-10 is tested in test_round_two.py and through the CLI tests.
    return prepare(Reference.from_file(REFERENCE_FILE), VerifyOptions(device="cpu", timeout_s=120, calls_per_trial=5))
