"""Kernel Kiln's top layer: the FastAPI service and the `kiln` command line, composing the rest."""
