"""A pack as a wheel: ``kernelkiln_pack_<name>`` (the pack's files and ``load()``) plus the runtime.

The wheel holds ``kernelkiln/pack/*.py`` (the runtime, torch and triton only) and
``kernelkiln_pack_<name>/`` (the pack directory and an ``__init__`` whose ``load()`` returns
``kernelkiln.pack.load`` of it). It is written with ``zipfile`` (RECORD with sha256 of every file), so
building one needs no network and no build backend. Install it where Kernel Kiln itself is not
installed (both ship ``kernelkiln/pack``); next to Kiln, load the pack directory instead.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[2] / "kernelkiln"

INIT = '''"""Kernel pack {name}, built by kiln pack build. ``load()`` returns the loaded pack."""

from pathlib import Path

import kernelkiln.pack

DIRECTORY = Path(__file__).parent / "pack"


def load():
    return kernelkiln.pack.load(DIRECTORY)
'''


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(pack_dir: Path, name: str, out_dir: Path, version: str = "0.1.0") -> Path:
    """Write the wheel into ``out_dir`` and return its path."""
    dist = "kernelkiln_pack_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    files: dict[str, bytes] = {}
    for path in sorted(RUNTIME.rglob("*.py")):
        files[f"kernelkiln/{path.relative_to(RUNTIME).as_posix()}"] = path.read_bytes()
    for path in sorted(pack_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[f"{dist}/pack/{path.relative_to(pack_dir).as_posix()}"] = path.read_bytes()
    files[f"{dist}/__init__.py"] = INIT.format(name=name).encode()
    info = f"{dist}-{version}.dist-info"
    files[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
        f"Summary: Kernel pack {name} (verified kernels, built by kiln pack build)\n"
        "Requires-Python: >=3.11\nRequires-Dist: torch>=2.11\nRequires-Dist: triton>=3.6\n"
    ).encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: kiln pack build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel
