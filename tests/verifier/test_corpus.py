"""The adversarial corpus: every cheat class is rejected for the right reason, honest kernels pass.

Each candidate runs twice over: through the runtime checks with the static screen switched off
(so each runtime layer is shown to stand on its own), and through the static screen alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.verifier.conftest import CORPUS_ENTRIES, RUNTIME_OPTIONS, CorpusEntry, corpus_entry, unreachable_listener
from tests.verifier.corpus_files import CORPUS, expand
from verifier import VerifyOptions, verify
from verifier.static_screen import screen

SPECIAL = {"escape_file", "escape_socket", "secret_read", "escape_subprocess", "broken_hang"}


def _failed_checks(report) -> set[str]:
    return {c.name for c in report.checks if not c.passed}


def assert_verdict(entry: CorpusEntry, report) -> None:
    if entry.expect == "accepted":
        assert report.verdict == "accepted", report.reasons
        return
    assert report.verdict == "rejected", f"{entry.name} was accepted: {report.checks}"
    assert entry.expect in _failed_checks(report), (
        f"{entry.name}: expected check '{entry.expect}' to fail; failed: {_failed_checks(report)}; "
        f"reasons: {report.reasons}"
    )
    assert any(r.startswith(f"{entry.expect}:") for r in report.reasons), report.reasons


def test_corpus_covers_every_cheat_class() -> None:
    rejected = [e for e in CORPUS_ENTRIES if e.expect != "accepted"]
    assert len(rejected) >= 25
    assert {e.expect for e in rejected} >= {
        "values",
        "no_fallback",
        "inputs_unmodified",
        "type",
        "plan",
        "process",
        "dtype",
        "shape",
        "sandbox",
        "load",
        "forward",
    }


def test_an_include_line_stands_for_parts_of_the_honest_file() -> None:
    honest = corpus_entry("honest_dwconv").path.read_text()
    header, code = honest.split('"""\n\n', 1)
    forward = code[code.index("    def forward") :]
    entry = f'{header}"""\n\n#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__\n\n{forward}'
    assert expand(entry, CORPUS) == honest
    init = expand("x = 1\n#include honest_dwconv.py: ModelNew.__init__\ny = 2\n", CORPUS).splitlines()
    assert init[:2] == ["x = 1", "class ModelNew(nn.Module):"] and init[-1] == "y = 2"
    assert init[-2].startswith("        self.conv = nn.Conv2d(")  # the last part ends at its own last line
    with pytest.raises(ValueError, match="no part 'forward'"):
        expand("#include honest_dwconv.py: imports, forward\n", CORPUS)
    with pytest.raises(ValueError, match="includes itself"):
        expand("#include broken_nan.py: imports\n", CORPUS, ((CORPUS / "broken_nan.py").resolve(),))


def test_an_include_line_takes_a_slice_of_a_kernel_body() -> None:
    honest = corpus_entry("honest_dwconv").path.read_text()
    kernel = honest[honest.index("@triton.jit") : honest.index("\n\n\ndef dwconv(")]
    head, body = kernel.split(":\n", 1)
    statements = body.splitlines(keepends=True)  # one line a statement but the loop (lines 5 to 11)
    take = "#include honest_dwconv.py: dwconv_kernel"
    assert expand(f"{head}:\n{take}[:4]\n{''.join(statements[4:])}", CORPUS) == kernel
    assert expand(f"{head}:\n{take}[:]\n", CORPUS) == kernel + "\n"
    assert expand(f"{take}[5:6]\n", CORPUS) == "".join(statements[5:12])
    assert expand(f"{take}[-1:], dwconv\n", CORPUS).startswith(statements[-1] + "\n\n\ndef dwconv(")
    forward = "        return dwconv(x, self.conv.weight, self.conv.bias)"
    assert expand("#include honest_dwconv.py: ModelNew.forward[:]\n", CORPUS) == forward + "\n"
    nested = "".join("    " + line for line in statements[5:12])  # an indented directive moves the part
    assert expand(f"    if True:\n        {take.lstrip()}[5:6]\n", CORPUS) == "    if True:\n" + nested
    inner = "".join(statements[8:11])  # [i] steps into statement i's body: the inner loop's first three
    assert expand(f"{' ' * 12}{take.lstrip()}[5][1][:3]\n", CORPUS) == inner
    with pytest.raises(ValueError, match="statement 0 has no body"):
        expand(f"{take}[0][:1]\n", CORPUS)
    with pytest.raises(ValueError, match="indented less"):
        expand(f"  {take}[5:6]\n", CORPUS)
    with pytest.raises(ValueError, match="takes no statement"):
        expand(f"{take}[9:]\n", CORPUS)
    with pytest.raises(ValueError, match="has no function 'ModelNew'"):
        expand("#include honest_dwconv.py: ModelNew[:1]\n", CORPUS)


@pytest.mark.parametrize("entry", CORPUS_ENTRIES, ids=lambda e: e.name)
def test_each_entry_is_one_standalone_source(entry: CorpusEntry) -> None:
    source = entry.source()
    assert "#include" not in source
    if entry.expect != "load":
        compile(source, entry.path.name, "exec")


RUNTIME_ENTRIES = [e for e in CORPUS_ENTRIES if e.name not in SPECIAL and e.expect != "static_screen"]
"""Entries whose expect is ``static_screen`` are refused by the screen alone (no runtime check can see
them on a CPU); ``test_static_screen_rejects_before_running`` covers them."""


@pytest.mark.parametrize("entry", RUNTIME_ENTRIES, ids=lambda e: e.name)
def test_runtime_verdict(entry: CorpusEntry, prepared_reference) -> None:
    report = verify(prepared_reference, entry.candidate(), RUNTIME_OPTIONS)
    assert_verdict(entry, report)


@pytest.mark.parametrize("entry", [e for e in CORPUS_ENTRIES if e.limit], ids=lambda e: e.name)
def test_limits_are_documented_where_users_read(entry: CorpusEntry) -> None:
    """A cheat accepted at run time by a known limit is a documented one: docs/verifier.md names it, and
    the entry is an ``accepted`` one only because of that limit (the runtime test asserts the verdict)."""
    assert entry.expect == "accepted" and entry.name.startswith("limit_")
    page = (Path(__file__).resolve().parents[2] / "docs" / "verifier.md").read_text()
    assert entry.name in page, f"docs/verifier.md does not name the limit {entry.name}"


@pytest.mark.parametrize("entry", CORPUS_ENTRIES, ids=lambda e: e.name)
def test_static_screen(entry: CorpusEntry) -> None:
    findings = [str(f) for f in screen(entry.source(SECRET_PATH="/tmp/x", PORT="1"))]
    if entry.static == "none":
        assert findings == []
    else:
        assert any(entry.static in f for f in findings), findings


@pytest.mark.parametrize("entry", [e for e in CORPUS_ENTRIES if e.static != "none"], ids=lambda e: e.name)
def test_static_screen_rejects_before_running(entry: CorpusEntry, prepared_reference) -> None:
    report = verify(prepared_reference, entry.candidate(SECRET_PATH="/tmp/x", PORT="1"), VerifyOptions(device="cpu"))
    assert report.verdict == "rejected"
    assert [c.name for c in report.checks] == ["static_screen"]
    assert report.reasons[0].startswith("static_screen: line ")


@pytest.mark.serial
def test_hang_is_killed_at_the_timeout(prepared_reference) -> None:
    options = VerifyOptions(device="cpu", static_screen=False, timeout_s=25)
    report = verify(prepared_reference, corpus_entry("broken_hang").candidate(), options)
    assert report.verdict == "rejected"
    assert any("timed out" in r and "25 s" in r for r in report.reasons), report.reasons
    assert report.duration_s < 60


def test_file_escape_cannot_read_the_secret(prepared_reference, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7f3a")
    report = verify(prepared_reference, corpus_entry("escape_file").candidate(SECRET_PATH=str(secret)), RUNTIME_OPTIONS)
    assert_verdict(corpus_entry("escape_file"), report)
    assert any("open" in r and str(secret) in r for r in report.reasons), report.reasons
    assert "TOP-SECRET-7f3a" not in json.dumps(report.to_dict())


def test_socket_escape_reaches_nothing(prepared_reference) -> None:
    with unreachable_listener() as port:
        report = verify(prepared_reference, corpus_entry("escape_socket").candidate(PORT=port), RUNTIME_OPTIONS)
    assert_verdict(corpus_entry("escape_socket"), report)
    assert any("socket" in r for r in report.reasons), report.reasons


def test_subprocess_escape_is_blocked(prepared_reference) -> None:
    marker = Path("/tmp/kiln_pwned")
    marker.unlink(missing_ok=True)
    report = verify(prepared_reference, corpus_entry("escape_subprocess").candidate(), RUNTIME_OPTIONS)
    assert_verdict(corpus_entry("escape_subprocess"), report)
    assert any("subprocess.Popen" in r for r in report.reasons), report.reasons
    assert not marker.exists()


def test_secrets_never_reach_candidate_code(prepared_reference, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SECRET-1234")
    monkeypatch.setenv("KILN_API_TOKENS", "tok-SECRET-5678")
    report = verify(prepared_reference, corpus_entry("secret_read").candidate(), RUNTIME_OPTIONS)
    assert_verdict(corpus_entry("secret_read"), report)
    dumped = json.dumps(report.to_dict())
    assert "SECRET" not in dumped
    assert "ENV:" in report.logs["stdout"]  # the candidate did print its environment...
    assert "OPENAI_API_KEY" not in report.logs["stdout"]  # ...and the key was not in it
    assert os.environ["OPENAI_API_KEY"] == "sk-test-SECRET-1234"
