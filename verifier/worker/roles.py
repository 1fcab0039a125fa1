"""One worker role served in this process: a fresh ``python -m verifier.worker`` process, or a child
forked by the warm server (:mod:`verifier.worker.zygote`); both call :func:`run_role`."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def close_other_descriptors(keep: tuple[int, ...]) -> None:
    """Close every inherited descriptor but those in ``keep`` (a candidate finds nothing else to open
    through /proc/self/fd: not the warm server's control socket or log, nor anything the parent left)."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return
    for name in names:
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def run_role(role: str, request_fd: int, result_fd: int) -> None:
    """Serve one role in this process (a fresh one, or a zygote's fresh fork), then ``os._exit``."""
    close_other_descriptors((0, 1, 2, request_fd, result_fd))
    from verifier.channel import make_sender
    from verifier.worker.protocol import read_request

    request, blob = read_request(request_fd)
    key_hex = request.pop("key", None)  # the candidate role gets none: its frames are claims
    send = make_sender(result_fd, bytes.fromhex(key_hex) if key_hex else None)
    del key_hex
    scratch = Path.cwd()
    from verifier.sandbox.environment import prepare_scratch

    prepare_scratch(scratch)  # a quota'd scratch is a fresh tmpfs: recreate tmp/ and the caches

    from verifier.worker.protocol import Reporter

    reporter = Reporter(send)
    try:
        if role == "reference":
            from verifier.worker import reference_role

            reference_role.run(request, reporter, scratch)
        elif role == "trace":
            from verifier.worker import trace_role

            trace_role.run(request, reporter, scratch)
        elif role == "planner":
            from verifier.worker import planner_role

            planner_role.run(request, send, scratch, request_fd)
        elif role == "runner":
            from verifier.worker import runner_role

            runner_role.run(request, reporter, scratch, request_fd, blob)
        elif role == "compile":
            from verifier.worker import compile_role

            compile_role.run(request, reporter, scratch)
        elif role == "candidate":
            from verifier.worker import candidate_role

            candidate_role.run(request, send, scratch, request_fd)
        else:
            reporter.send("error", {"stage": "worker", "error": f"unknown role {role!r}", "traceback": ""})
    except BaseException as e:
        try:
            reporter.error("worker", e)
        except BaseException:
            pass
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip atexit handlers and finalizers candidate code may have registered
