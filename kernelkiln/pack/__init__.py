"""The kernel-pack runtime: ``kernelkiln.pack.load(DIR).apply(model)``; needs only torch and triton.

A pack (``kiln pack build``) holds verified kernels for a model's kernel groups and a manifest. Loading
it registers each kernel as a ``torch.library`` custom op (``kernelkiln::k_<key>``) that runs the
verified kernel only at the shapes, dtypes and device type it was verified on, and the group's own
PyTorch ops otherwise. ``Pack.stats()`` counts both.
"""

from kernelkiln.pack.groups import CaptureError, Group, capture, split
from kernelkiln.pack.runtime import MANIFEST, Pack, PackError, load, read_manifest

__all__ = ["MANIFEST", "CaptureError", "Group", "Pack", "PackError", "capture", "load", "read_manifest", "split"]
