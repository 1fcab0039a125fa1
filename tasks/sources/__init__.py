"""Reference op templates (KernelBench format), shipped as package data.

The registry reads these files as text and writes each task's constants into them; it never
imports them. Each is also a runnable KernelBench problem on its own (small constants).
"""
