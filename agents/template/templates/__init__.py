"""Kernel templates, one module per family of anchors; each emits a kernel and its launch lines."""
