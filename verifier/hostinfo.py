"""What a verification ran on: versions, device name and a stable hardware fingerprint."""

from __future__ import annotations

import hashlib
import os
import platform
from importlib import metadata
from typing import Any

import torch


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def triton_version() -> str | None:
    """Triton's version whichever distribution installed it (``triton``, or ``pytorch-triton`` from
    PyTorch's nightly index), else the module's own ``__version__``."""
    for dist in ("triton", "pytorch-triton", "pytorch-triton-rocm", "triton-nightly"):
        found = _version(dist)
        if found:
            return found
    try:
        import triton

        return str(getattr(triton, "__version__", "")) or None
    except ImportError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _nvidia_driver() -> str | None:
    try:
        with open("/proc/driver/nvidia/version", encoding="utf-8") as f:
            first = f.readline()
    except OSError:
        return None
    for token in first.split():
        if token.count(".") >= 1 and token.replace(".", "").isdigit():
            return token
    return None


def describe_host(device: str) -> dict[str, Any]:
    """Versions and device identity; ``hardware_fingerprint`` groups results that are comparable."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "triton": triton_version(),
        "cuda": torch.version.cuda,
        "device_kind": device,
    }
    if device == "cuda":
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        info.update(
            device_name=props.name,
            compute_capability=f"{props.major}.{props.minor}",
            multiprocessors=props.multi_processor_count,
            memory_gib=round(props.total_memory / (1 << 30), 1),
            driver=_nvidia_driver(),
        )
        identity = [props.name, info["compute_capability"], props.multi_processor_count, props.total_memory]
    else:
        info.update(device_name=_cpu_model(), cpus=os.cpu_count())
        identity = ["cpu", info["device_name"], platform.machine()]
    info["hardware_fingerprint"] = hashlib.sha256(repr(identity).encode()).hexdigest()[:16]
    return info
