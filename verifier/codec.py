"""Safe encoding of nested values and tensors for the verifier's private channels.

No pickle anywhere: the trusted parent decodes what an untrusted candidate process sent, so the
format is a JSON header plus raw tensor bytes, and decoding validates every field against limits.

Encoded value grammar (JSON):
  null | true | false | number | string
  {"t": [...]}              tuple
  {"l": [...]}              list
  {"d": [[key, value]...]}  dict with string keys
  {"f": "nan"|"inf"|"-inf"} non-finite float
  {"T": [dtype, shape, offset, nbytes]}  tensor (bytes at blob offset)
  {"dt": "float32"}         torch.dtype
  {"o": "description"}      an object that cannot cross the channel (e.g. a tensor subclass)
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

DTYPES: dict[str, torch.dtype] = {
    name: getattr(torch, name)
    for name in (
        "float64",
        "float32",
        "float16",
        "bfloat16",
        "complex64",
        "complex128",
        "int64",
        "int32",
        "int16",
        "int8",
        "uint8",
        "bool",
    )
}
_DTYPE_NAMES: dict[torch.dtype, str] = {v: k for k, v in DTYPES.items()}
MAX_DEPTH = 32


class CodecError(ValueError):
    """The encoded data is malformed or exceeds a limit."""


class Opaque:
    """Stands for a value that could not be encoded (its description says what it was)."""

    def __init__(self, description: str) -> None:
        self.description = description

    def __repr__(self) -> str:
        return f"<opaque {self.description}>"


def dtype_name(dtype: torch.dtype) -> str:
    try:
        return _DTYPE_NAMES[dtype]
    except KeyError:
        raise CodecError(f"unsupported dtype {dtype}") from None


def tensor_bytes(t: torch.Tensor) -> bytes:
    """The raw bytes of a plain strided tensor, row-major, on the host."""
    base = torch._C.TensorBase
    flat = base.contiguous(base.reshape(base.to(base.detach(t), "cpu"), (-1,)))
    if base.numel(flat) == 0:
        return b""
    return base.numpy(base.view(flat, torch.uint8)).tobytes()


def describe_object(value: Any) -> str:
    cls = type(value)
    if isinstance(value, torch.Tensor):
        return f"tensor subclass {cls.__module__}.{cls.__qualname__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def encode(value: Any) -> tuple[Any, list[bytes]]:
    """Encode ``value`` into a JSON-able structure plus the list of tensor byte blobs."""
    blobs: list[bytes] = []
    offset = [0]

    def enc(v: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            return {"o": "nesting too deep"}
        cls = type(v)
        if v is None or cls is bool or cls is str:
            return v
        if cls is int:
            return v
        if cls is float:
            if math.isfinite(v):
                return v
            return {"f": "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")}
        if cls is torch.Tensor:
            if v.layout is not torch.strided or v.dtype not in _DTYPE_NAMES or v.is_quantized:
                return {"o": f"tensor with layout {v.layout} dtype {v.dtype}"}
            data = tensor_bytes(v)
            entry = {"T": [_DTYPE_NAMES[v.dtype], list(v.shape), offset[0], len(data)]}
            blobs.append(data)
            offset[0] += len(data)
            return entry
        if cls is torch.dtype:
            return {"dt": dtype_name(v)}
        if cls is Opaque:
            return {"o": v.description}
        if cls is tuple:
            return {"t": [enc(x, depth + 1) for x in v]}
        if cls is list:
            return {"l": [enc(x, depth + 1) for x in v]}
        if cls is dict and all(type(k) is str for k in v):
            return {"d": [[k, enc(x, depth + 1)] for k, x in v.items()]}
        return {"o": describe_object(v)}

    return enc(value, 0), blobs


def decode(obj: Any, blob: bytes | memoryview, *, max_elements: int = 1 << 34) -> Any:
    """Decode an :func:`encode` structure; tensors are rebuilt from ``blob`` (validated)."""
    view = memoryview(blob)

    def dec(o: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise CodecError("nesting too deep")
        if o is None or isinstance(o, (bool, int, float, str)):
            return o
        if not isinstance(o, dict) or len(o) != 1:
            raise CodecError(f"malformed value {str(o)[:80]}")
        ((tag, body),) = o.items()
        if tag == "t":
            return tuple(dec(x, depth + 1) for x in _list(body))
        if tag == "l":
            return [dec(x, depth + 1) for x in _list(body)]
        if tag == "d":
            out = {}
            for pair in _list(body):
                if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                    raise CodecError("malformed dict entry")
                out[pair[0]] = dec(pair[1], depth + 1)
            return out
        if tag == "f":
            if body not in ("nan", "inf", "-inf"):
                raise CodecError(f"bad float tag {body!r}")
            return float(body)
        if tag == "dt":
            if body not in DTYPES:
                raise CodecError(f"unknown dtype {body!r}")
            return DTYPES[body]
        if tag == "o":
            return Opaque(str(body)[:300])
        if tag == "T":
            return _decode_tensor(body, view, max_elements)
        raise CodecError(f"unknown tag {tag!r}")

    return dec(obj, 0)


def _list(body: Any) -> list[Any]:
    if not isinstance(body, list):
        raise CodecError("expected a list")
    return body


def _decode_tensor(body: Any, view: memoryview, max_elements: int) -> torch.Tensor:
    if not (isinstance(body, list) and len(body) == 4):
        raise CodecError("malformed tensor entry")
    name, shape, offset, nbytes = body
    if name not in DTYPES:
        raise CodecError(f"unknown tensor dtype {name!r}")
    if not (isinstance(shape, list) and all(isinstance(s, int) and s >= 0 for s in shape)):
        raise CodecError(f"bad tensor shape {shape!r}")
    if len(shape) > 16:
        raise CodecError("tensor has too many dimensions")
    dtype = DTYPES[name]
    numel = math.prod(shape)
    if numel > max_elements:
        raise CodecError(f"tensor of {numel} elements exceeds the limit of {max_elements}")
    itemsize = torch.empty((), dtype=dtype).element_size()
    if not (isinstance(offset, int) and isinstance(nbytes, int)) or nbytes != numel * itemsize:
        raise CodecError(f"tensor byte count {nbytes!r} does not match shape {shape} {name}")
    if offset < 0 or offset + nbytes > len(view):
        raise CodecError("tensor bytes out of range")
    if numel == 0:
        return torch.empty(shape, dtype=dtype)
    with warnings.catch_warnings():
        # a read-only view of the received frame, not a copy: decoded tensors are only read
        warnings.simplefilter("ignore", UserWarning)
        raw = torch.frombuffer(view[offset : offset + nbytes], dtype=torch.uint8)
    return raw.view(dtype).reshape(shape)
