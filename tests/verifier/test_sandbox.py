"""Sandbox mechanics: scrubbed environment, isolation tiers, survival of hostile workers."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.verifier.conftest import corpus_entry, unreachable_listener, verify_honest_and_socket_escape
from verifier import VerifyOptions, verify
from verifier.errors import SandboxUnavailableError
from verifier.sandbox import isolation
from verifier.sandbox.environment import worker_environment


def test_environment_is_an_allowlist(tmp_path: Path) -> None:
    caller = {
        "OPENAI_API_KEY": "sk-1",
        "AWS_SECRET_ACCESS_KEY": "x",
        "KILN_API_TOKENS": "t",
        "GITHUB_TOKEN": "g",
        "HOME": "/root",
        "PATH": "/evil/bin:/usr/bin",
        "LD_PRELOAD": "/evil.so",
        "PYTHONPATH": "/evil",
        "CUDA_VISIBLE_DEVICES": "0",
        "LANG": "C.UTF-8",
    }
    env = worker_environment(tmp_path, "/pkg", interpret_triton=True, caller_env=caller)
    assert not {"OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY", "KILN_API_TOKENS", "GITHUB_TOKEN", "LD_PRELOAD"} & set(env)
    assert env["HOME"] == str(tmp_path) and env["PYTHONPATH"] == "/pkg"
    assert "/evil" not in env["PATH"]
    assert env["CUDA_VISIBLE_DEVICES"] == "0" and env["TRITON_INTERPRET"] == "1"


def test_unknown_mechanism_is_refused() -> None:
    with pytest.raises(SandboxUnavailableError):
        isolation.choose("chroot")


def test_auto_picks_the_strongest_available() -> None:
    if isolation.bwrap_problem() is None:
        assert isolation.choose("auto").mechanism == "bwrap"
    elif isolation.unshare_problem() is None:
        assert isolation.choose("auto").mechanism == "unshare"
    else:
        with pytest.raises(SandboxUnavailableError, match="apt-get install bubblewrap"):
            isolation.choose("auto")


def test_auto_never_falls_back_to_no_isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation, "bwrap_problem", lambda: "bwrap is not installed")
    monkeypatch.setattr(isolation, "unshare_problem", lambda: "unshare is not installed")
    with pytest.raises(SandboxUnavailableError, match="apt-get install bubblewrap"):
        isolation.choose("auto")
    with pytest.raises(SandboxUnavailableError, match="trusted"):
        isolation.choose("none")
    assert isolation.choose("none", trusted_code=True).mechanism == "none"


@pytest.mark.parametrize("mechanism", ["unshare", "none"])
def test_weaker_tiers_still_verify_and_block(mechanism: str, prepared_reference) -> None:
    """The GPU host has no bwrap: the fallbacks must accept honest kernels and still block escapes."""
    if mechanism == "unshare" and isolation.unshare_problem() is not None:
        pytest.skip(f"unshare unavailable: {isolation.unshare_problem()}")
    from verifier.reference_run import PreparedReference

    tier = isolation.choose(mechanism, trusted_code=True)
    prepared = PreparedReference(**{**prepared_reference.__dict__, "isolation": tier})
    options = VerifyOptions(device="cpu", static_screen=False, timeout_s=90, trusted_code=True)
    honest, escape = verify_honest_and_socket_escape(prepared, options)
    assert honest.sandbox["mechanism"] == mechanism
    assert any(r.startswith("sandbox: blocked socket") for r in escape.reasons), escape.reasons


def test_the_listener_notices_a_connection() -> None:
    """The check behind every "the escape reached nothing" assertion can fail."""
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"), unreachable_listener() as port:
        socket.create_connection(("127.0.0.1", int(port)), timeout=2).close()


def test_shapes_are_all_tried_and_named(tmp_path: Path) -> None:
    """A task's named shape configurations each get a trial; a kernel right on one shape only fails."""
    from verifier import Candidate, Reference

    ref = Reference.from_file(
        Path(__file__).parent / "corpus" / "reference_dwconv3x3.py",
        shapes={"tiny": {"height": 4, "width": 4}, "wide": {"height": 4, "width": 12, "channels": 2}},
    )
    only_4x4 = corpus_entry("honest_dwconv").source().replace("BLOCK=triton.next_power_of_2(max(h, w))", "BLOCK=4")
    report = verify(ref, Candidate(source=only_4x4), VerifyOptions(device="cpu", trials=2, calls_per_trial=1))
    assert report.shapes == ["tiny", "wide"]
    assert report.verdict == "rejected"
    assert any("shape 'wide'" in r for r in report.reasons), report.reasons
    assert not any("shape 'tiny'" in r for r in report.reasons)


def test_trace_reports_ops_with_data_flow_and_runs_sandboxed() -> None:
    from verifier import Reference, trace_reference
    from verifier.examples import REFERENCE

    trace = trace_reference(Reference.from_file(REFERENCE))
    assert trace.op_names() == ["aten.convolution"]
    conv = trace.ops[0]
    assert [a["tensor"] for a in conv["args"][:3]] == ["input0", "param:conv.weight", "param:conv.bias"]
    assert conv["args"][4] == [3, 3] and conv["args"][8] == 8  # padding, groups
    assert trace.output_labels == ["op0.out0"]
    assert trace.parameters["conv.weight"]["shape"] == [8, 1, 7, 7]
    assert trace.environment  # came from the worker process


def test_bwrap_mounts_tmp_before_binding_python_and_the_package(tmp_path: Path) -> None:
    """A checkout or virtualenv under /tmp must stay visible: the /tmp tmpfs goes first."""
    package_dir = tmp_path / "checkout" / "verifier"
    package_dir.mkdir(parents=True)
    scratch_dir = tmp_path / "scratch"
    scratch_dir.mkdir()
    assert str(package_dir).startswith("/tmp/")
    argv = isolation.bwrap_argv(["python"], scratch_dir, package_dir, cuda=False)
    tmpfs = argv.index("--tmpfs")
    package = argv.index(str(package_dir))
    scratch = argv.index(str(scratch_dir))
    assert tmpfs < package and tmpfs < scratch
    assert argv[argv.index("--") + 1 :] == ["python"]
