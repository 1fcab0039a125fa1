"""Kernel Kiln packages that need only torch (and triton): the kernel-pack runtime."""
