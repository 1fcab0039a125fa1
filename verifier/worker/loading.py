"""Load a KernelBench-format source as a module from a file in the worker's scratch directory."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import torch


def load_module(source: str, module_name: str, directory: Path) -> ModuleType:
    """Write ``source`` to ``directory/module_name.py`` and import it (so inspect/Triton see the file)."""
    path = directory / f"{module_name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot build an import spec for {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def apply_overrides(module: ModuleType, overrides: dict[str, Any]) -> None:
    """Assign a shape configuration's values to the module's top-level constants."""
    for name, value in overrides.items():
        if not hasattr(module, name):
            raise AttributeError(f"shape override {name!r} names no top-level constant of the reference")
        setattr(module, name, value)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % (1 << 32))
    except ImportError:  # pragma: no cover
        pass


def to_device(value: Any, device: str, *, fresh: bool = False) -> Any:
    """``value``'s tensors on ``device``. ``fresh``: every tensor a new allocation even where it is
    already there, as a kernel's inputs are on a GPU (the allocator's alignment, writable memory),
    never a view into the frame it was decoded from (on the CPU that view starts wherever the frame
    put it, which moves the traffic counter's sectors from run to run)."""
    if isinstance(value, torch.Tensor):
        return value.to(device, copy=fresh)
    if isinstance(value, tuple):
        return tuple(to_device(v, device, fresh=fresh) for v in value)
    if isinstance(value, list):
        return [to_device(v, device, fresh=fresh) for v in value]
    if isinstance(value, dict):
        return {k: to_device(v, device, fresh=fresh) for k, v in value.items()}
    return value


def flat_tensors(value: Any) -> list[torch.Tensor]:
    """The tensors in ``value`` (a tensor, or lists, tuples and dicts of them), depth first."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in flat_tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in flat_tensors(v)]
    return []


def as_list(value: Any) -> list[Any]:
    """get_inputs()/get_init_inputs() results as a positional-argument list."""
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]
