"""Sandbox: code smuggled into the methods a dataclass generates. The class writes its own
`__annotations__` with a key that is not an identifier, so dataclasses' builder would paste the text
into the source it exec's (here a call into gc in __repr__ that no screen reads). Only plain
identifier fields let the stdlib's code generation through.
expect: sandbox
static: __annotations__
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew
from dataclasses import dataclass


class Probe:
    __annotations__ = {"x}{__import__('gc').collect()": int}


Probe = dataclass(init=False, eq=False)(Probe)
