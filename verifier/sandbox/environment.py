"""The environment a sandbox worker gets: an allowlist, never the caller's secrets."""

from __future__ import annotations

import os
import re
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path

PASSED_THROUGH = (
    "LANG",
    "LC_ALL",
    "TZ",
    "CUDA_VISIBLE_DEVICES",
    "CUDA_HOME",
    "CUDA_PATH",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TORCH_CUDA_ARCH_LIST",
    "TRITON_PTXAS_PATH",
    "TRITON_LIBCUDA_PATH",
    "LD_LIBRARY_PATH",
)
"""Variables copied from the caller when set. Nothing else is (no API keys, tokens, KILN_* settings)."""

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION", re.IGNORECASE)
"""Names that never pass, even if someone adds them to the allowlist above."""

SYSTEM_PATH = ("/usr/local/cuda/bin", "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin")


def ninja_dir() -> str | None:
    """The directory of this interpreter's ``ninja`` (the ``ninja`` dependency installs it next to
    ``python`` in a venv), or None. torch's ``load_inline`` runs ``ninja`` from PATH; taken from the
    interpreter, never from the caller's PATH."""
    for d in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        if d and os.access(Path(d) / "ninja", os.X_OK):
            return d
    return None


def worker_environment(
    scratch: Path,
    pythonpath: str,
    *,
    interpret_triton: bool,
    caller_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Build the scrubbed environment for a worker whose private scratch directory is ``scratch``."""
    src = os.environ if caller_env is None else caller_env
    env = {k: src[k] for k in PASSED_THROUGH if k in src and not SECRET_NAME.search(k)}
    path_dirs = [d for d in SYSTEM_PATH if Path(d).is_dir()]
    cuda_home = src.get("CUDA_HOME") or src.get("CUDA_PATH")
    if cuda_home:
        path_dirs.insert(0, str(Path(cuda_home) / "bin"))
    ninja = ninja_dir()
    if ninja and ninja not in path_dirs:
        path_dirs.append(ninja)  # after the system's directories: their tools come first
    env.update(
        PATH=":".join(path_dirs),
        HOME=str(scratch),
        TMPDIR=str(scratch / "tmp"),
        XDG_CACHE_HOME=str(scratch / "cache"),
        TRITON_CACHE_DIR=str(scratch / "cache" / "triton"),
        TORCH_EXTENSIONS_DIR=str(scratch / "cache" / "torch_extensions"),
        PYTHONPATH=pythonpath,
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONNOUSERSITE="1",
        PYTHONUNBUFFERED="1",
    )
    if interpret_triton:
        env["TRITON_INTERPRET"] = "1"
    return env


def prepare_scratch(scratch: Path) -> None:
    for sub in ("tmp", "cache/triton", "cache/torch_extensions"):
        (scratch / sub).mkdir(parents=True, exist_ok=True)
