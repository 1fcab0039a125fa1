"""``python -m verifier.worker ROLE REQUEST_FD RESULT_FD``: the sandboxed side of a verification.

Reads the request (and the channel key) from REQUEST_FD before anything else happens, builds the
authenticated sender for RESULT_FD, and runs the role. Every failure is reported as a frame; the
process's exit code and output are never what the parent bases a verdict on.

``python -m verifier.worker zygote CONTROL_FD``: the warm fork server (:mod:`verifier.worker.zygote`),
whose forked children run :func:`verifier.worker.roles.run_role` exactly as a fresh process does.
"""

from __future__ import annotations

import sys

from verifier.worker.roles import run_role


def main(argv: list[str]) -> int:
    if argv[0] == "zygote":
        from verifier.worker import zygote

        zygote.serve(int(argv[1]))
        return 0
    run_role(argv[0], int(argv[1]), int(argv[2]))
    return 0


if __name__ == "__main__":
    main(sys.argv[1:])
